"""Revision bookkeeping of a Deployment's ReplicaSets: what `kubectl rollout history` reads.

Every ReplicaSet carries `deployment.kubernetes.io/revision`; the new one always gets
max(old revisions) + 1, so rolling back to an old template (kubectl patches the
template back, the controller finds the old ReplicaSet whose template matches) moves
that ReplicaSet to the top, remembering its earlier numbers in
`deployment.kubernetes.io/revision-history`. The deployment's own annotations (e.g.
`kubernetes.io/change-cause`) are copied to its new ReplicaSet, except the controller's
bookkeeping ones. Pure functions over dicts; the sync modules do the writes.
"""

from __future__ import annotations

from .util import by_creation, max_surge, replicas, set_replicas_annotations

__all__ = [
    "REVISION",
    "REVISION_HISTORY",
    "by_revision",
    "copy_deployment_annotations",
    "max_revision",
    "revision_of",
    "set_deployment_revision",
    "set_new_replica_set_annotations",
]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
MAX_HISTORY_CHARS = 2000
"""Longest revision-history annotation kept (upstream maxRevHistoryLengthInChars)."""

# never copied from a deployment to its ReplicaSets: they describe one object only
ANNOTATIONS_TO_SKIP = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
})


def _annotations(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("annotations") or {}


def revision_of(obj: dict) -> int:
    """The revision annotation as a number; 0 when missing or malformed."""
    try:
        return int(_annotations(obj).get(REVISION, ""))
    except ValueError:
        return 0


def max_revision(rss) -> int:
    return max((revision_of(rs) for rs in rss if rs is not None), default=0)


def by_revision(rss) -> list[dict]:
    """Lowest revision first, ties by creation (ReplicaSetsByRevision)."""
    return sorted(by_creation(rss), key=revision_of)


def copy_deployment_annotations(d: dict, rs: dict) -> bool:
    changed = False
    annotations = rs.setdefault("metadata", {}).setdefault("annotations", {})
    for key, value in _annotations(d).items():
        if key in ANNOTATIONS_TO_SKIP or annotations.get(key) == value:
            continue
        annotations[key] = value
        changed = True
    return changed


def set_new_replica_set_annotations(d: dict, rs: dict, new_revision: str, exists: bool,
                                    history_limit: int = MAX_HISTORY_CHARS) -> bool:
    """Bring the new ReplicaSet's annotations up to date (SetNewReplicaSetAnnotations).

    Copies the deployment's annotations, raises the revision to `new_revision` when it is
    lower (keeping the old number in the revision history), and for a ReplicaSet about to
    be created sets the desired/max replicas annotations. Returns whether anything changed.
    """
    changed = copy_deployment_annotations(d, rs)
    annotations = rs["metadata"]["annotations"]
    old_text = annotations.get(REVISION)
    had_revision = old_text is not None
    try:
        old = int(old_text) if old_text is not None else 0
    except ValueError:
        return False  # someone wrote garbage; leave it alone rather than guess
    try:
        new = int(new_revision)
    except ValueError:
        return False
    if old < new:
        annotations[REVISION] = new_revision
        changed = True
        if had_revision:
            # rolling back to this ReplicaSet: remember the revisions it had before
            history = annotations.get(REVISION_HISTORY, "")
            if not history:
                annotations[REVISION_HISTORY] = old_text
            else:
                revisions = history.split(",")
                total = len(history) + len(old_text) + 1
                start = 0
                while total > history_limit and start < len(revisions):
                    total -= len(revisions[start]) + 1
                    start += 1
                if total <= history_limit:
                    annotations[REVISION_HISTORY] = ",".join(revisions[start:] + [old_text])
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def set_deployment_revision(d: dict, revision: str | None) -> bool:
    if revision is None:
        return False
    annotations = d.setdefault("metadata", {}).setdefault("annotations", {})
    if annotations.get(REVISION) == revision:
        return False
    annotations[REVISION] = revision
    return True
