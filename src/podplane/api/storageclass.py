"""Default StorageClass rules, shared by the apiserver's DefaultStorageClass admission, the
PersistentVolume controller, the scheduler's VolumeBinding plugin and the table printer.

A class is the default when either the GA or the beta annotation says "true"; with several
defaults the newest wins, then the name (upstream `storageutil.GetDefaultClass`). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from podplane.api.meta import parse_time

__all__ = ["ANN_BETA_DEFAULT_CLASS", "ANN_DEFAULT_CLASS", "default_class", "is_default_class"]

ANN_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
ANN_BETA_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"


def is_default_class(sclass: dict) -> bool:
    annotations = (sclass.get("metadata") or {}).get("annotations") or {}
    return "true" in (annotations.get(ANN_DEFAULT_CLASS), annotations.get(ANN_BETA_DEFAULT_CLASS))


def default_class(classes: Iterable[dict]) -> dict | None:
    """The default StorageClass; with several, the newest (upstream GetDefaultClass), then by name."""
    defaults = [c for c in classes if is_default_class(c)]
    if not defaults:
        return None

    def newest_first(c: dict):
        created = c["metadata"].get("creationTimestamp")
        stamp = parse_time(created).timestamp() if created else 0.0
        return (-stamp, c["metadata"]["name"])

    return min(defaults, key=newest_first)
