"""Object metadata helpers: small, dependency-free accessors over plain-dict objects.

Every component handles Kubernetes objects as JSON-shaped dicts (DESIGN §3), so the
usual metav1 accessors live here as functions: namespace/name/labels/annotations,
owner references and the controller reference, deletion state, timestamps in the
two wire formats (`metav1.Time`, second precision, and `metav1.MicroTime`), UIDs,
and `generateName` suffixes the way upstream's SimpleNameGenerator makes them.

Flow: the apiserver stamps uid/creationTimestamp/generated names with these on
create; controllers, the scheduler and the agent read metadata through them.
`deepcopy_json` is the fast copy for objects taken from shared caches, which must
be treated as immutable.

Neighbours: `api.selectors` (label matching), `api.defaults` (uses the copy),
`api.errors`. Pure functions, no I/O.
"""

from __future__ import annotations

import copy
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

__all__ = [
    "annotations_of",
    "controller_ref",
    "deepcopy_json",
    "format_time",
    "format_time_micro",
    "generate_name",
    "is_being_deleted",
    "labels_of",
    "name_of",
    "namespace_of",
    "new_uid",
    "normalize_time",
    "now_rfc3339",
    "now_rfc3339_micro",
    "object_key",
    "owner_refs",
    "parse_time",
]

# k8s.io/apimachinery/pkg/util/rand: consonants and digits that cannot be confused
# with each other or spell words ("bcdfghjklmnpqrstvwxz2456789").
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
# k8s.io/apiserver/pkg/storage/names: maxNameLength 63, randomLength 5.
_MAX_NAME_LENGTH = 63
_RANDOM_LENGTH = 5
_MAX_GENERATED_NAME_LENGTH = _MAX_NAME_LENGTH - _RANDOM_LENGTH

_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))\Z"
)


# --------------------------------------------------------------------- timestamps


def format_time(dt: datetime) -> str:
    """RFC 3339 at second precision in UTC, as metav1.Time marshals: `2026-01-01T00:00:00Z`."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_time_micro(dt: datetime) -> str:
    """RFC 3339 with microseconds in UTC, as metav1.MicroTime marshals: `...T00:00:00.000000Z`."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_rfc3339() -> str:
    """The current time as a metav1.Time string (second precision, UTC)."""
    return format_time(datetime.now(UTC))


def now_rfc3339_micro() -> str:
    """The current time as a metav1.MicroTime string (microseconds, UTC)."""
    return format_time_micro(datetime.now(UTC))


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware datetime.

    Accepts `Z` or `±hh:mm` offsets and any number of fractional digits (Go emits up
    to nine; digits past microseconds are truncated). Raises ValueError otherwise.
    """
    m = _TIME_RE.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"invalid RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second, frac, zulu, sign, oh, om = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    if zulu:
        tz: timezone = UTC
    else:
        offset = timedelta(hours=int(oh), minutes=int(om))
        tz = timezone(-offset if sign == "-" else offset)
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro,
                    tzinfo=tz)


def normalize_time(text: str, micro: bool = False) -> str:
    """Re-render a timestamp in the canonical wire form (UTC, `Z`; seconds or micro)."""
    dt = parse_time(text)
    return format_time_micro(dt) if micro else format_time(dt)


# ------------------------------------------------------------------- identifiers


def new_uid() -> str:
    """A fresh object UID (random UUID, lowercase, dashed), as the apiserver assigns."""
    return str(uuid.uuid4())


def generate_name(prefix: str) -> str:
    """`metadata.generateName` expansion: prefix (cut to 58 chars) + 5 random characters.

    Mirrors names.SimpleNameGenerator with utilrand.String: the random suffix draws
    from consonants and the digits 2456789 only.
    """
    if len(prefix) > _MAX_GENERATED_NAME_LENGTH:
        prefix = prefix[:_MAX_GENERATED_NAME_LENGTH]
    return prefix + "".join(secrets.choice(_ALPHANUMS) for _ in range(_RANDOM_LENGTH))


# ----------------------------------------------------------------------- accessors


def _meta(obj: dict) -> dict:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return meta if isinstance(meta, dict) else {}


def namespace_of(obj: dict) -> str:
    """`metadata.namespace`, or "" for cluster-scoped objects."""
    return _meta(obj).get("namespace") or ""


def name_of(obj: dict) -> str:
    """`metadata.name`, or ""."""
    return _meta(obj).get("name") or ""


def object_key(obj: dict) -> tuple[str, str]:
    """(namespace, name): the cache/store key of an object ("" namespace when cluster-scoped)."""
    meta = _meta(obj)
    return meta.get("namespace") or "", meta.get("name") or ""


def labels_of(obj: dict) -> dict[str, str]:
    """`metadata.labels` (the object's own dict: do not mutate), or an empty dict."""
    labels = _meta(obj).get("labels")
    return labels if isinstance(labels, dict) else {}


def annotations_of(obj: dict) -> dict[str, str]:
    """`metadata.annotations` (the object's own dict: do not mutate), or an empty dict."""
    annotations = _meta(obj).get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def owner_refs(obj: dict) -> list[dict]:
    """`metadata.ownerReferences`, or an empty list."""
    refs = _meta(obj).get("ownerReferences")
    return refs if isinstance(refs, list) else []


def controller_ref(obj: dict) -> dict | None:
    """The owner reference with `controller: true` (metav1.GetControllerOf), or None."""
    for ref in owner_refs(obj):
        if isinstance(ref, dict) and ref.get("controller") is True:
            return ref
    return None


def is_being_deleted(obj: dict) -> bool:
    """True once `metadata.deletionTimestamp` is set (graceful deletion or finalizers pending)."""
    return bool(_meta(obj).get("deletionTimestamp"))


# --------------------------------------------------------------------------- copy


def deepcopy_json(obj: Any) -> Any:
    """Deep copy of a JSON-shaped value via an orjson round trip (several times faster
    than copy.deepcopy); falls back to copy.deepcopy for values orjson cannot encode
    (non-string keys, integers beyond 64 bits, ...)."""
    try:
        return orjson.loads(orjson.dumps(obj))
    except (TypeError, orjson.JSONEncodeError):
        return copy.deepcopy(obj)
