"""Pure Deployment helpers (upstream `pkg/controller/deployment/util/deployment_util.go`).

No I/O and no clock: the sync modules pass `now` in. Covers replica arithmetic
(maxSurge/maxUnavailable fenceposts, proportions for scaling events), finding the new
and old ReplicaSets of a deployment, the replicas annotations, the ordering rules
upstream sorts ReplicaSets by, the Deployment conditions with upstream's update rules,
and the status predicates (complete, progressing, timed out). Revision bookkeeping
lives in `history.py`.
"""

from __future__ import annotations

import copy
import datetime as dt
import math

from podplane.api.meta import format_time, parse_time

__all__ = [
    "AVAILABLE", "DESIRED_REPLICAS", "FAILED_RS_CREATE", "FOUND_NEW_RS", "MAX_REPLICAS", "MIN_AVAILABLE",
    "MIN_UNAVAILABLE", "NEW_RS_AVAILABLE", "NEW_RS_CREATED", "PAUSED", "POD_TEMPLATE_HASH", "PROGRESSING",
    "REPLICA_FAILURE", "RESUMED", "RS_UPDATED", "TIMED_OUT",
    "available_replicas", "by_creation", "by_size_newer", "by_size_older", "deployment_complete",
    "deployment_progressing", "deployment_timed_out", "desired_replicas_annotation", "equal_ignore_hash", "filter_active",
    "find_active_or_latest", "find_new_replica_set", "find_old_replica_sets", "get_condition",
    "get_proportion", "has_progress_deadline", "has_revision_history_limit", "is_rolling_update",
    "is_saturated", "max_surge", "max_unavailable", "new_condition", "new_rs_new_replicas",
    "ready_replicas", "remove_condition", "replica_count", "replicas", "replicas_annotations_need_update",
    "resolve_fenceposts", "rs_condition_to_deployment", "scaled_value", "set_condition",
    "set_replicas_annotations", "status_int", "status_replicas",
]

POD_TEMPLATE_HASH = "pod-template-hash"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"

PROGRESSING = "Progressing"
AVAILABLE = "Available"
REPLICA_FAILURE = "ReplicaFailure"

NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
RS_UPDATED = "ReplicaSetUpdated"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
FAILED_RS_CREATE = "ReplicaSetCreateError"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

_MAX_INT32 = 2**31 - 1
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# ---------------------------------------------------------------------- field access


def replicas(obj: dict | None) -> int:
    """spec.replicas (the apiserver defaults it to 1)."""
    if obj is None:
        return 0
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_int(obj: dict | None, field: str) -> int:
    if obj is None:
        return 0
    return int((obj.get("status") or {}).get(field) or 0)


def _annotations(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _created(obj: dict) -> dt.datetime:
    text = (obj.get("metadata") or {}).get("creationTimestamp")
    try:
        return parse_time(text) if text else _EPOCH
    except ValueError:
        return _EPOCH


def replica_count(rss) -> int:
    """Sum of spec.replicas (GetReplicaCountForReplicaSets)."""
    return sum(replicas(rs) for rs in rss if rs is not None)


def status_replicas(rss) -> int:
    """Sum of status.replicas: pods that actually exist (GetActualReplicaCountForReplicaSets)."""
    return sum(status_int(rs, "replicas") for rs in rss if rs is not None)


def ready_replicas(rss) -> int:
    return sum(status_int(rs, "readyReplicas") for rs in rss if rs is not None)


def available_replicas(rss) -> int:
    return sum(status_int(rs, "availableReplicas") for rs in rss if rs is not None)


def filter_active(rss) -> list[dict]:
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


# -------------------------------------------------------------------------- orderings


def by_creation(rss) -> list[dict]:
    """Oldest first, ties by name (ReplicaSetsByCreationTimestamp)."""
    return sorted(rss, key=lambda rs: (_created(rs), rs["metadata"]["name"]))


def by_size_older(rss) -> list[dict]:
    """Largest first; equal sizes oldest first (ReplicaSetsBySizeOlder)."""
    return sorted(by_creation(rss), key=lambda rs: -replicas(rs))


def by_size_newer(rss) -> list[dict]:
    """Largest first; equal sizes newest first (ReplicaSetsBySizeNewer)."""
    newest_first = sorted(rss, key=_created, reverse=True)
    return sorted(newest_first, key=lambda rs: -replicas(rs))


# ------------------------------------------------------------------ fenceposts & sizes


def scaled_value(value, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, "N%" of total rounded up or down."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"invalid value for IntOrString: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if not value.endswith("%"):
            raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
        try:
            percent = int(value[:-1])
        except ValueError:
            raise ValueError(f'invalid value for IntOrString: invalid value "{value}"') from None
        scaled = percent * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    raise ValueError("invalid value for IntOrString: invalid type: neither int nor percentage")


def is_rolling_update(d: dict) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def resolve_fenceposts(max_surge, max_unavailable, desired: int) -> tuple[int, int]:
    """(surge, unavailable): surge rounds up, unavailable rounds down, and when both end
    up zero one pod may be unavailable, or the rollout could never make progress."""
    surge = scaled_value(max_surge if max_surge is not None else 0, desired, True)
    unavailable = scaled_value(max_unavailable if max_unavailable is not None else 0, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling_params(d: dict) -> dict:
    return ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}


def max_unavailable(d: dict) -> int:
    desired = replicas(d)
    if not is_rolling_update(d) or desired == 0:
        return 0
    params = _rolling_params(d)
    try:
        _, unavailable = resolve_fenceposts(params.get("maxSurge"), params.get("maxUnavailable"), desired)
    except ValueError:
        return 0
    return min(unavailable, desired)


def max_surge(d: dict) -> int:
    if not is_rolling_update(d):
        return 0
    params = _rolling_params(d)
    try:
        surge, _ = resolve_fenceposts(params.get("maxSurge"), params.get("maxUnavailable"), replicas(d))
    except ValueError:
        return 0
    return surge


def new_rs_new_replicas(d: dict, all_rss, new_rs: dict) -> int:
    """How big the new ReplicaSet may be now (NewRSNewReplicas)."""
    strategy = ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate")
    if strategy == "RollingUpdate":
        surge = scaled_value(_rolling_params(d).get("maxSurge"), replicas(d), True)
        current = replica_count(all_rss)
        max_total = replicas(d) + surge
        if current >= max_total:
            return replicas(new_rs)  # cannot scale up
        scale_up = min(max_total - current, replicas(d) - replicas(new_rs))
        return replicas(new_rs) + scale_up
    if strategy == "Recreate":
        return replicas(d)
    raise ValueError(f"deployment type {strategy} isn't supported")


def is_saturated(d: dict, rs: dict | None) -> bool:
    """The new ReplicaSet owns every desired replica, and all of them are available."""
    if rs is None:
        return False
    try:
        desired = int(_annotations(rs).get(DESIRED_REPLICAS, ""))
    except ValueError:
        return False
    want = replicas(d)
    return replicas(rs) == want and desired == want and status_int(rs, "availableReplicas") == want


def _int_annotation(rs: dict, key: str) -> int | None:
    try:
        return int(_annotations(rs)[key])
    except (KeyError, ValueError):
        return None


def desired_replicas_annotation(rs: dict) -> int | None:
    return _int_annotation(rs, DESIRED_REPLICAS)


def replicas_annotations_need_update(rs: dict, desired: int, max_replicas: int) -> bool:
    annotations = _annotations(rs)
    return annotations.get(DESIRED_REPLICAS) != str(desired) or annotations.get(MAX_REPLICAS) != str(max_replicas)


def set_replicas_annotations(rs: dict, desired: int, max_replicas: int) -> bool:
    annotations = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(max_replicas))):
        if annotations.get(key) != value:
            annotations[key] = value
            changed = True
    return changed


def _fraction(rs: dict, d: dict) -> int:
    """This ReplicaSet's share of a scaling event (getReplicaSetFraction)."""
    if replicas(d) == 0:
        return -replicas(rs)
    deployment_max = replicas(d) + max_surge(d)
    before_scale = _int_annotation(rs, MAX_REPLICAS)
    if not before_scale:
        # no (or a zero) annotation: the RS was scaled by hand or the deployment was at zero;
        # the current size keeps us within limits thanks to the min/max in get_proportion
        before_scale = status_int(d, "replicas")
    if not before_scale:
        return 0
    new_size = replicas(rs) * deployment_max / before_scale
    return math.floor(new_size + 0.5) - replicas(rs)


def get_proportion(rs: dict | None, d: dict, to_add: int, added: int) -> int:
    """Replicas to add to (or remove from) `rs` in a proportional scaling event."""
    if rs is None or replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


# -------------------------------------------------------------- new and old ReplicaSets


def _prune_empty(value):
    """Drop None, {} and [] recursively: Go's semantic equality treats nil and empty alike."""
    if isinstance(value, dict):
        pruned = {k: _prune_empty(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_prune_empty(v) for v in value]
    return value


def equal_ignore_hash(template1: dict | None, template2: dict | None) -> bool:
    """Pod templates equal apart from the pod-template-hash label (EqualIgnoreHash)."""
    t1 = copy.deepcopy(template1 or {})
    t2 = copy.deepcopy(template2 or {})
    for t in (t1, t2):
        labels = (t.get("metadata") or {}).get("labels")
        if labels:
            labels.pop(POD_TEMPLATE_HASH, None)
    return _prune_empty(t1) == _prune_empty(t2)


def find_new_replica_set(d: dict, rss) -> dict | None:
    """The oldest ReplicaSet whose template equals the deployment's (a rollback reuses it)."""
    template = (d.get("spec") or {}).get("template")
    for rs in by_creation([rs for rs in rss if rs is not None]):
        if equal_ignore_hash((rs.get("spec") or {}).get("template"), template):
            return rs
    return None


def find_old_replica_sets(d: dict, rss) -> tuple[list[dict], list[dict]]:
    """(old ReplicaSets with pods, all old ReplicaSets)."""
    new_rs = find_new_replica_set(d, rss)
    new_uid = new_rs["metadata"].get("uid") if new_rs is not None else None
    all_old = [rs for rs in rss if rs is not None and (new_rs is None or rs["metadata"].get("uid") != new_uid)]
    return [rs for rs in all_old if replicas(rs) != 0], all_old


def find_active_or_latest(new_rs: dict | None, old_rss: list[dict]) -> dict | None:
    """The only ReplicaSet with pods, or the newest one when none has pods; None when
    several have pods (then a scaling event must be proportional)."""
    if new_rs is None and not old_rss:
        return None
    newest_first = sorted(old_rss, key=lambda rs: (_created(rs), rs["metadata"]["name"]), reverse=True)
    active = filter_active(newest_first + [new_rs])
    if not active:
        return new_rs if new_rs is not None else newest_first[0]
    if len(active) == 1:
        return active[0]
    return None


# ------------------------------------------------------------------------- conditions


def new_condition(cond_type: str, status: str, reason: str, message: str, now: dt.datetime) -> dict:
    stamp = format_time(now)
    return {"type": cond_type, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def get_condition(status: dict | None, cond_type: str) -> dict | None:
    for c in (status or {}).get("conditions") or ():
        if c.get("type") == cond_type:
            return c
    return None


def set_condition(status: dict, condition: dict) -> None:
    """Upstream SetDeploymentCondition: same status and reason → leave it untouched (message
    and times included); same status → keep lastTransitionTime; the updated condition
    moves to the end of the list."""
    current = get_condition(status, condition["type"])
    if current is not None and current.get("status") == condition["status"] and \
            current.get("reason") == condition["reason"]:
        return
    condition = dict(condition)
    if current is not None and current.get("status") == condition["status"]:
        condition["lastTransitionTime"] = current.get("lastTransitionTime")
    others = [c for c in status.get("conditions") or () if c.get("type") != condition["type"]]
    status["conditions"] = others + [condition]


def remove_condition(status: dict, cond_type: str) -> None:
    conditions = [c for c in status.get("conditions") or () if c.get("type") != cond_type]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


def rs_condition_to_deployment(c: dict) -> dict:
    return {"type": c.get("type"), "status": c.get("status"), "lastUpdateTime": c.get("lastTransitionTime"),
            "lastTransitionTime": c.get("lastTransitionTime"), "reason": c.get("reason", ""),
            "message": c.get("message", "")}


# ----------------------------------------------------------------- status predicates


def has_progress_deadline(d: dict) -> bool:
    value = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return value is not None and value != _MAX_INT32


def has_revision_history_limit(d: dict) -> bool:
    value = (d.get("spec") or {}).get("revisionHistoryLimit")
    return value is not None and value != _MAX_INT32


def deployment_complete(d: dict, status: dict) -> bool:
    """Every desired replica is updated and available, and no old pod is left."""
    want = replicas(d)
    return (int(status.get("updatedReplicas") or 0) == want and int(status.get("replicas") or 0) == want
            and int(status.get("availableReplicas") or 0) == want
            and int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 0))


def deployment_progressing(d: dict, new_status: dict) -> bool:
    """Did this sync see progress: more updated, ready or available pods, or fewer old ones?"""
    old = d.get("status") or {}

    def get(s: dict, f: str) -> int:
        return int(s.get(f) or 0)

    old_old = get(old, "replicas") - get(old, "updatedReplicas")
    new_old = get(new_status, "replicas") - get(new_status, "updatedReplicas")
    return (get(new_status, "updatedReplicas") > get(old, "updatedReplicas") or new_old < old_old
            or get(new_status, "readyReplicas") > get(old, "readyReplicas")
            or get(new_status, "availableReplicas") > get(old, "availableReplicas"))


def deployment_timed_out(d: dict, new_status: dict, now: dt.datetime) -> bool:
    """No progress for progressDeadlineSeconds since the Progressing condition last moved."""
    if not has_progress_deadline(d):
        return False
    condition = get_condition(new_status, PROGRESSING)
    if condition is None or condition.get("reason") == NEW_RS_AVAILABLE:
        return False
    if condition.get("reason") == TIMED_OUT:
        return True
    try:
        since = parse_time(condition.get("lastUpdateTime") or "")
    except ValueError:
        return False
    return since + dt.timedelta(seconds=int(d["spec"]["progressDeadlineSeconds"])) < now
