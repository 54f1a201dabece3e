"""ControllerRevision helpers: the history of a workload's pod template (upstream `pkg/controller/history`).

StatefulSets and DaemonSets record each distinct pod template they have run as an
`apps/v1 ControllerRevision` owned by the workload. A revision's `data` is the strategic
merge patch `{"spec": {"template": {..., "$patch": "replace"}}}` that `kubectl rollout
history --revision=N` applies to show a template and `kubectl rollout undo` sends back to
restore it; `revision` is an int64 that orders them.

Flow for a controller: `revisions_for(informer, owner)` (owned or adoptable, sorted) →
`revision_data(owner)` → `new_revision(...)` → `find_equal_revisions` / `equal_revision` to
reuse or roll back to an existing one (`set_revision_number`) or `create_revision` (which
resolves name collisions like upstream's CreateControllerRevision) → `truncate_history`.
Naming: `<owner>-<hash>`; StatefulSets label revisions with `controller.kubernetes.io/hash`
(the hash of `data`), DaemonSets with `controller-revision-hash` (the template hash), so
`new_revision` takes the hash and its label as options. Used by the statefulset and
daemonset controllers; pure helpers except the four that take a client.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable
from typing import Any

from podplane.api.errors import ApiError
from podplane.api.patch import apply_strategic_merge_patch
from podplane.api.schema import node_for_kind
from podplane.api.selectors import selector_from_dict
from podplane.controllers.common import compute_hash, controller_of, controller_ref_to

__all__ = [
    "HISTORY_HASH_LABEL",
    "POD_REVISION_LABEL",
    "adopt_revision",
    "apply_revision",
    "create_revision",
    "equal_revision",
    "find_equal_revisions",
    "hash_revision",
    "new_revision",
    "next_revision_number",
    "revision_data",
    "revision_matches",
    "revision_name",
    "revisions_for",
    "set_revision_number",
    "sort_revisions",
    "truncate_history",
]

HISTORY_HASH_LABEL = "controller.kubernetes.io/hash"
"""history.ControllerRevisionHashLabel: the hash of a revision's data (StatefulSet revisions)."""
POD_REVISION_LABEL = "controller-revision-hash"
"""apps.ControllerRevisionHashLabelKey: on pods (StatefulSet: the revision *name*; DaemonSet: the
template hash) and on DaemonSet revisions."""

_MAX_PREFIX = 223  # upstream truncates so that `<prefix>-<hash>` stays within 253 characters


def _sorted(value: Any) -> Any:
    """A deep copy with map keys in sorted order, as Go's json.Marshal writes maps: kubectl
    compares revision data byte for byte with its own encoding of the live object."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def revision_data(obj: dict) -> dict:
    """The patch that restores obj's pod template: `{"spec":{"template":{...,"$patch":"replace"}}}`."""
    template = copy.deepcopy((obj.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": _sorted(template)}}


def hash_revision(data: Any, collision_count: int | None = None) -> str:
    """Hash of a revision's data; the collision count perturbs it after a name collision."""
    return compute_hash(data, collision_count)


def revision_name(prefix: str, hash_value: str) -> str:
    return f"{prefix[:_MAX_PREFIX]}-{hash_value}"


def new_revision(owner: dict, data: dict, revision_number: int, collision_count: int | None = None, *,
                 labels: dict | None = None, hash_value: str | None = None,
                 hash_label: str = HISTORY_HASH_LABEL) -> dict:
    """A ControllerRevision (not yet created) owned by `owner`.

    Labels default to the owner's pod template labels (which its selector matches), plus
    `hash_label: hash_value`; the hash defaults to `hash_revision(data, collision_count)`.
    Annotations are copied from the owner, so `kubernetes.io/change-cause` shows up in
    `kubectl rollout history`.
    """
    meta = owner["metadata"]
    if hash_value is None:
        hash_value = hash_revision(data, collision_count)
    if labels is None:
        labels = ((owner.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
    rev_meta: dict = {
        "name": revision_name(meta["name"], hash_value),
        "namespace": meta.get("namespace"),
        "labels": {**labels, hash_label: hash_value},
        "ownerReferences": [controller_ref_to(owner)],
    }
    if meta.get("annotations"):
        rev_meta["annotations"] = dict(meta["annotations"])
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": rev_meta,
            "data": copy.deepcopy(data), "revision": int(revision_number)}


def _revision_number(rev: dict) -> int:
    try:
        return int(rev.get("revision") or 0)
    except (TypeError, ValueError):
        return 0


def sort_revisions(revisions: Iterable[dict]) -> list[dict]:
    """Oldest first: by revision number, then creationTimestamp, then name (upstream byRevision)."""
    return sorted(revisions, key=lambda r: (_revision_number(r), r["metadata"].get("creationTimestamp") or "",
                                            r["metadata"]["name"]))


def revisions_for(source, owner: dict) -> list[dict]:
    """The revisions in owner's namespace that it controls, or that match its selector and have
    no controller (adoptable orphans), sorted oldest first (history.ListControllerRevisions).

    `source` is an Informer over controllerrevisions or a plain list of revisions.
    """
    meta = owner["metadata"]
    namespace = meta.get("namespace")
    selector = selector_from_dict((owner.get("spec") or {}).get("selector"))
    if hasattr(source, "list"):
        candidates = source.list(namespace)
    else:
        candidates = [r for r in source if r["metadata"].get("namespace") == namespace]
    out = []
    for rev in candidates:
        ref = controller_of(rev)
        if ref is not None:
            if ref.get("uid") == meta.get("uid"):
                out.append(rev)
        elif selector.matches(rev["metadata"].get("labels")):
            out.append(rev)
    return sort_revisions(out)


def next_revision_number(revisions: Iterable[dict]) -> int:
    """One more than the highest revision number, or 1 for an empty history."""
    return max((_revision_number(r) for r in revisions), default=0) + 1


def _hash_labels(rev: dict) -> dict:
    labels = rev["metadata"].get("labels") or {}
    return {k: labels[k] for k in (HISTORY_HASH_LABEL, POD_REVISION_LABEL) if k in labels}


def equal_revision(a: dict | None, b: dict | None) -> bool:
    """Both None, or both carry semantically equal data (history.EqualRevision). Differing hash
    labels short-cut to False."""
    if a is None or b is None:
        return a is b
    ha, hb = _hash_labels(a), _hash_labels(b)
    for key in ha.keys() & hb.keys():
        if ha[key] != hb[key]:
            return False
    return a.get("data") == b.get("data")


def find_equal_revisions(revisions: Iterable[dict], needle: dict) -> list[dict]:
    """Every revision equal to needle, in the given order."""
    return [r for r in revisions if equal_revision(r, needle)]


def revision_matches(obj: dict, revision: dict) -> bool:
    """True when obj's current template is the one recorded in revision (DaemonSet Match)."""
    return revision_data(obj) == revision.get("data")


def apply_revision(obj: dict, revision: dict) -> dict:
    """A copy of obj with the revision's data applied (upstream ApplyRevision): the workload as it
    was at that revision, used to build pods of the current (not yet updated) revision."""
    group, _, version = (obj.get("apiVersion") or "apps/v1").rpartition("/")
    schema = node_for_kind(group, version, obj.get("kind") or "")
    return apply_strategic_merge_patch(copy.deepcopy(obj), copy.deepcopy(revision.get("data") or {}), schema)


async def create_revision(client, owner: dict, revision: dict, collision_count: int = 0,
                          *, max_attempts: int = 20) -> tuple[dict, int]:
    """Create a StatefulSet-style revision (named by the hash of its data), renaming it on a
    name collision (upstream CreateControllerRevision).

    If a revision with the same name exists and holds the same data it is returned as is;
    otherwise the collision count is incremented and the name re-hashed. Returns the stored
    revision and the (possibly incremented) collision count, which the caller records in the
    owner's `status.collisionCount`.
    """
    info = client.resource("apps", "controllerrevisions")
    namespace = owner["metadata"].get("namespace")
    candidate = copy.deepcopy(revision)
    for _ in range(max_attempts):
        hash_value = hash_revision(revision["data"], collision_count)
        candidate["metadata"]["name"] = revision_name(owner["metadata"]["name"], hash_value)
        candidate["metadata"].setdefault("labels", {})[HISTORY_HASH_LABEL] = hash_value
        try:
            return await client.create(info, candidate, namespace), collision_count
        except ApiError as e:
            if e.code != 409 or e.reason != "AlreadyExists":
                raise
        existing = await client.get(info, candidate["metadata"]["name"], namespace)
        if existing.get("data") == candidate["data"]:
            return existing, collision_count
        collision_count += 1
    raise RuntimeError(f"could not find a free ControllerRevision name for {owner['metadata']['name']} "
                       f"after {max_attempts} collisions")


async def set_revision_number(client, revision: dict, number: int) -> dict:
    """Move an existing revision to the head of the history (a rollback to an older template)."""
    if _revision_number(revision) == number:
        return revision
    info = client.resource("apps", "controllerrevisions")
    meta = revision["metadata"]
    return await client.patch(info, meta["name"], {"revision": int(number)}, meta.get("namespace"),
                              patch_type="merge")


async def adopt_revision(client, owner: dict, revision: dict) -> dict | None:
    """Add owner's controller reference to an orphaned revision (uid-preconditioned, as upstream).
    Returns the adopted revision, or None when it vanished or changed meanwhile."""
    info = client.resource("apps", "controllerrevisions")
    meta = revision["metadata"]
    refs = list(meta.get("ownerReferences") or ()) + [controller_ref_to(owner)]
    try:
        return await client.patch(info, meta["name"], {"metadata": {"ownerReferences": refs, "uid": meta["uid"]}},
                                  meta.get("namespace"), patch_type="merge")
    except ApiError as e:
        if e.code in (404, 409, 422):
            return None
        raise


def _is_live(rev: dict, live: Collection[str]) -> bool:
    if rev["metadata"]["name"] in live:
        return True
    return any(value in live for value in _hash_labels(rev).values())


async def truncate_history(client, revisions: Iterable[dict], live: Collection[str], limit: int | None,
                           *, count_live: bool = False) -> list[str]:
    """Delete the oldest non-live revisions beyond `limit`; return the deleted names.

    A revision is live when its name or hash label is in `live` (StatefulSets pass the current
    and update revision names plus every pod's `controller-revision-hash`; DaemonSets pass the
    hashes of their pods). By default `limit` bounds the non-live history (StatefulSet); with
    `count_live=True` it bounds all given revisions, skipping live ones while deleting
    (DaemonSet cleanupHistory). A revision already gone is not an error.
    """
    ordered = sort_revisions(revisions)
    keep = 10 if limit is None else max(0, int(limit))
    history = [r for r in ordered if not _is_live(r, live)]
    excess = (len(ordered) if count_live else len(history)) - keep
    if excess <= 0:
        return []
    info = client.resource("apps", "controllerrevisions")
    deleted = []
    for rev in history[:excess]:
        meta = rev["metadata"]
        try:
            await client.delete(info, meta["name"], meta.get("namespace"))
        except ApiError as e:
            if e.code != 404:
                raise
        deleted.append(meta["name"])
    return deleted
