"""Deployment sync steps shared by every strategy (upstream `deployment/sync.go`).

- `get_all_replica_sets_and_sync_revision`: split the owned ReplicaSets into the new one
  (template equal to the deployment's, created on demand as `<name>-<pod-template-hash>`)
  and the old ones, keeping the revision annotations and the deployment's revision current;
  an existing RS with the same name but another template is a hash collision and bumps
  `status.collisionCount`.
- `sync`: the path for paused deployments and scaling events; `scale` spreads a change
  of `spec.replicas` across the active ReplicaSets in proportion to their size.
- `cleanup_deployment`: delete old, empty ReplicaSets beyond revisionHistoryLimit.
- `calculate_status` / `sync_deployment_status`: the counters and the Available condition.
Functions take the controller (`dc`) for its writes, clock and events, like upstream's
methods on DeploymentController.
"""

from __future__ import annotations

import copy
import logging

from podplane.api.errors import ApiError

from ..common import compute_hash, controller_of, controller_ref_to
from . import util
from .history import (
    REVISION,
    by_revision,
    max_revision,
    set_deployment_revision,
    set_new_replica_set_annotations,
)

__all__ = [
    "calculate_status",
    "check_paused_conditions",
    "cleanup_deployment",
    "get_all_replica_sets_and_sync_revision",
    "get_new_replica_set",
    "is_scaling_event",
    "scale",
    "scale_replica_set",
    "scale_replica_set_and_record_event",
    "status_equal",
    "sync",
    "sync_deployment_status",
    "sync_status_only",
]

log = logging.getLogger(__name__)

# DeploymentStatus integer fields marshal with omitempty: zero means absent
_OMIT_ZERO = ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
              "unavailableReplicas", "terminatingReplicas")


def _replace(rss: list[dict], updated: dict) -> None:
    uid = updated["metadata"].get("uid")
    for i, rs in enumerate(rss):
        if rs is not None and rs["metadata"].get("uid") == uid:
            rss[i] = updated


async def sync_status_only(dc, d: dict, rss: list[dict]) -> None:
    new_rs, old_rss = await get_all_replica_sets_and_sync_revision(dc, d, rss, False)
    await sync_deployment_status(dc, old_rss + [new_rs], new_rs, d)


async def sync(dc, d: dict, rss: list[dict]) -> None:
    """Reconcile a scaling event or a paused deployment: no rollout, sizes and status only."""
    new_rs, old_rss = await get_all_replica_sets_and_sync_revision(dc, d, rss, False)
    await scale(dc, d, new_rs, old_rss)
    if (d.get("spec") or {}).get("paused"):
        await cleanup_deployment(dc, old_rss, d)
    await sync_deployment_status(dc, old_rss + [new_rs], new_rs, d)


async def check_paused_conditions(dc, d: dict) -> None:
    """Mark pauses and resumes in the Progressing condition, so the time spent paused never
    counts against progressDeadlineSeconds."""
    if not util.has_progress_deadline(d):
        return
    status = d.setdefault("status", {})
    cond = util.get_condition(status, util.PROGRESSING)
    if cond is not None and cond.get("reason") == util.TIMED_OUT:
        return  # a reported deadline stays reported
    paused_reported = cond is not None and cond.get("reason") == util.PAUSED
    paused = bool((d.get("spec") or {}).get("paused"))
    if paused and not paused_reported:
        util.set_condition(status, util.new_condition(util.PROGRESSING, "Unknown", util.PAUSED,
                                                      "Deployment is paused", dc.now()))
    elif not paused and paused_reported:
        util.set_condition(status, util.new_condition(util.PROGRESSING, "Unknown", util.RESUMED,
                                                      "Deployment is resumed", dc.now()))
    else:
        return
    await dc.update_deployment_status(d)


async def get_all_replica_sets_and_sync_revision(dc, d: dict, rss: list[dict],
                                                 create: bool) -> tuple[dict | None, list[dict]]:
    _, all_old = util.find_old_replica_sets(d, rss)
    new_rs = await get_new_replica_set(dc, d, rss, all_old, create)
    return new_rs, all_old


async def get_new_replica_set(dc, d: dict, rss: list[dict], old_rss: list[dict], create: bool) -> dict | None:
    """The ReplicaSet running d's template, with its revision bumped past every old one;
    created when `create` and missing. Also records the revision on the deployment."""
    existing = util.find_new_replica_set(d, rss)
    new_revision = str(max_revision(old_rss) + 1)
    spec = d.get("spec") or {}
    min_ready = spec.get("minReadySeconds") or 0
    status = d.setdefault("status", {})

    if existing is not None:
        rs = copy.deepcopy(existing)
        annotations_updated = set_new_replica_set_annotations(d, rs, new_revision, True)
        if annotations_updated or ((rs.get("spec") or {}).get("minReadySeconds") or 0) != min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
            updated = await dc.update_rs(rs)
            _replace(rss, updated)
            return updated  # the RS update event brings us back to record the revision
        needs_update = set_deployment_revision(d, rs["metadata"].get("annotations", {}).get(REVISION))
        if util.has_progress_deadline(d) and util.get_condition(status, util.PROGRESSING) is None:
            # progress tracking starts now: count from the first time we saw this RS
            util.set_condition(status, util.new_condition(util.PROGRESSING, "True", util.FOUND_NEW_RS,
                                                          f'Found new replica set "{rs["metadata"]["name"]}"',
                                                          dc.now()))
            needs_update = True
        if needs_update:
            await dc.update_deployment_status(d)
        return rs

    if not create:
        return None

    meta = d["metadata"]
    template = copy.deepcopy(spec.get("template") or {})
    pod_template_hash = compute_hash(spec.get("template") or {}, status.get("collisionCount"))
    template_meta = template.setdefault("metadata", {})
    template_meta["labels"] = {**(template_meta.get("labels") or {}), util.POD_TEMPLATE_HASH: pod_template_hash}
    selector = copy.deepcopy(spec.get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), util.POD_TEMPLATE_HASH: pod_template_hash}
    name = f"{meta['name']}-{pod_template_hash}"
    new_rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": meta.get("namespace"), "labels": dict(template_meta["labels"]),
                     "ownerReferences": [controller_ref_to(d)]},
        "spec": {"replicas": 0, "minReadySeconds": min_ready, "selector": selector, "template": template},
    }
    new_replicas = util.new_rs_new_replicas(d, old_rss + [new_rs], new_rs)
    new_rs["spec"]["replicas"] = new_replicas
    set_new_replica_set_annotations(d, new_rs, new_revision, False)

    already_exists = False
    try:
        created = await dc.create_rs(new_rs)
    except ApiError as e:
        if e.code == 409 and e.reason == "AlreadyExists":
            # a slow cache or a hash collision: ours only if we own it and it runs our template
            already_exists = True
            found = dc.replicasets.get(meta.get("namespace"), name)
            if found is None:
                raise
            ref = controller_of(found)
            if ref is not None and ref.get("uid") == meta.get("uid") and util.equal_ignore_hash(spec.get("template"),
                                                                 (found.get("spec") or {}).get("template")):
                created = copy.deepcopy(found)
            else:
                status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                try:
                    await dc.update_deployment_status(d)
                    log.info("deployment %s/%s: hash collision, collisionCount now %d", meta.get("namespace"),
                             meta["name"], status["collisionCount"])
                except ApiError:
                    pass
                raise
        elif any(c.reason == "NamespaceTerminating" for c in e.causes):
            raise
        else:
            message = f'Failed to create new replica set "{name}": {e}'
            if util.has_progress_deadline(d):
                util.set_condition(status, util.new_condition(util.PROGRESSING, "False", util.FAILED_RS_CREATE,
                                                              message, dc.now()))
                try:
                    await dc.update_deployment_status(d)
                except ApiError:
                    pass  # the create failure is the error worth returning
            dc.event(d, "Warning", util.FAILED_RS_CREATE, message)
            raise
    if not already_exists and new_replicas > 0:
        dc.event(d, "Normal", "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {new_replicas}")

    needs_update = set_deployment_revision(d, new_revision)
    if not already_exists and util.has_progress_deadline(d):
        util.set_condition(status, util.new_condition(util.PROGRESSING, "True", util.NEW_RS_CREATED,
                                                      f'Created new replica set "{name}"', dc.now()))
        needs_update = True
    if needs_update:
        await dc.update_deployment_status(d)
    return created


async def scale(dc, d: dict, new_rs: dict | None, old_rss: list[dict]) -> None:
    """Apply a change of spec.replicas without advancing the rollout.

    One active ReplicaSet (or none) simply takes the new size. A saturated new ReplicaSet
    means old ones go to zero. Otherwise, for RollingUpdate, the extra (or missing) pods
    are spread over the active ReplicaSets in proportion to their size, larger ones first,
    the rounding leftover going to the first; scaling up prefers newer ReplicaSets, down
    older ones. Scaling never hastens or reverses a rollout in progress.
    """
    want = util.replicas(d)
    active_or_latest = util.find_active_or_latest(new_rs, old_rss)
    if active_or_latest is not None:
        if util.replicas(active_or_latest) == want:
            return
        await scale_replica_set_and_record_event(dc, active_or_latest, want, d)
        return

    if util.is_saturated(d, new_rs):
        for old in util.filter_active(old_rss):
            await scale_replica_set_and_record_event(dc, old, 0, d)
        return

    if not util.is_rolling_update(d):
        return
    all_rss = util.filter_active(old_rss + [new_rs])
    allowed = want + util.max_surge(d) if want > 0 else 0
    to_add = allowed - util.replica_count(all_rss)
    operation = ""
    if to_add > 0:
        all_rss = util.by_size_newer(all_rss)
        operation = "up"
    elif to_add < 0:
        all_rss = util.by_size_older(all_rss)
        operation = "down"

    added = 0
    sizes: dict[str, int] = {}
    for rs in all_rss:
        if to_add != 0:
            proportion = util.get_proportion(rs, d, to_add, added)
            sizes[rs["metadata"]["name"]] = util.replicas(rs) + proportion
            added += proportion
        else:
            sizes[rs["metadata"]["name"]] = util.replicas(rs)

    for i, rs in enumerate(all_rss):
        name = rs["metadata"]["name"]
        if i == 0 and to_add != 0:
            sizes[name] = max(0, sizes[name] + to_add - added)  # leftovers go to the largest
        await scale_replica_set(dc, rs, sizes[name], d, operation)


async def scale_replica_set_and_record_event(dc, rs: dict, new_scale: int, d: dict) -> tuple[bool, dict]:
    if util.replicas(rs) == new_scale:
        return False, rs
    operation = "up" if util.replicas(rs) < new_scale else "down"
    return await scale_replica_set(dc, rs, new_scale, d, operation)


async def scale_replica_set(dc, rs: dict, new_scale: int, d: dict, operation: str) -> tuple[bool, dict]:
    """Set the size and the desired/max-replicas annotations; an event when the size changes."""
    want = util.replicas(d)
    max_total = want + util.max_surge(d)
    size_changes = util.replicas(rs) != new_scale
    if not size_changes and not util.replicas_annotations_need_update(rs, want, max_total):
        return False, rs
    old_scale = util.replicas(rs)
    rs_copy = copy.deepcopy(rs)
    rs_copy["spec"]["replicas"] = new_scale
    util.set_replicas_annotations(rs_copy, want, max_total)
    updated = await dc.update_rs(rs_copy)
    if size_changes:
        dc.event(d, "Normal", "ScalingReplicaSet",
                 f"Scaled {operation} replica set {updated['metadata']['name']} from {old_scale} to {new_scale}")
    return size_changes, updated


async def cleanup_deployment(dc, old_rss: list[dict], d: dict) -> None:
    """Delete the oldest empty ReplicaSets beyond spec.revisionHistoryLimit."""
    if not util.has_revision_history_limit(d):
        return
    cleanable = [rs for rs in old_rss if rs is not None and not rs["metadata"].get("deletionTimestamp")]
    diff = len(cleanable) - int(d["spec"]["revisionHistoryLimit"])
    if diff <= 0:
        return
    for rs in by_revision(cleanable)[:diff]:
        # only ReplicaSets that are empty and whose emptiness the RS controller confirmed
        if (util.status_int(rs, "replicas") != 0 or util.replicas(rs) != 0
                or int(rs["metadata"].get("generation") or 0) > util.status_int(rs, "observedGeneration")):
            continue
        await dc.delete_rs(rs)


def calculate_status(all_rss: list[dict | None], new_rs: dict | None, d: dict, now) -> dict:
    """Counters summed over the ReplicaSets, plus the Available condition."""
    available = util.available_replicas(all_rss)
    total = util.replica_count(all_rss)
    old_status = d.get("status") or {}
    values = {
        "observedGeneration": int(d["metadata"].get("generation") or 0),
        "replicas": util.status_replicas(all_rss),
        "updatedReplicas": util.status_replicas([new_rs]),
        "readyReplicas": util.ready_replicas(all_rss),
        "availableReplicas": available,
        # more available than desired happens while scaling down: never negative
        "unavailableReplicas": max(0, total - available),
    }
    status: dict = {k: v for k, v in values.items() if v}
    if old_status.get("conditions"):
        status["conditions"] = copy.deepcopy(old_status["conditions"])
    if old_status.get("collisionCount") is not None:
        status["collisionCount"] = old_status["collisionCount"]
    if available >= util.replicas(d) - util.max_unavailable(d):
        condition = util.new_condition(util.AVAILABLE, "True", util.MIN_AVAILABLE,
                                       "Deployment has minimum availability.", now)
    else:
        condition = util.new_condition(util.AVAILABLE, "False", util.MIN_UNAVAILABLE,
                                       "Deployment does not have minimum availability.", now)
    util.set_condition(status, condition)
    return status


def _normalized(status: dict | None) -> dict:
    status = dict(status or {})
    for field in _OMIT_ZERO:
        if not status.get(field):
            status.pop(field, None)
    if not status.get("conditions"):
        status.pop("conditions", None)
    return status


def status_equal(a: dict | None, b: dict | None) -> bool:
    return _normalized(a) == _normalized(b)


async def sync_deployment_status(dc, all_rss: list[dict | None], new_rs: dict | None, d: dict) -> None:
    new_status = calculate_status(all_rss, new_rs, d, dc.now())
    if status_equal(d.get("status"), new_status):
        return
    d["status"] = new_status
    await dc.update_deployment_status(d)


async def is_scaling_event(dc, d: dict, rss: list[dict]) -> bool:
    """Did spec.replicas change since the active ReplicaSets were last sized? Their
    desired-replicas annotation records the size the deployment had then."""
    new_rs, old_rss = await get_all_replica_sets_and_sync_revision(dc, d, rss, False)
    for rs in util.filter_active(old_rss + [new_rs]):
        desired = util.desired_replicas_annotation(rs)
        if desired is not None and desired != util.replicas(d):
            return True
    return False
