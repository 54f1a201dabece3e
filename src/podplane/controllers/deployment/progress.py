"""Rollout progress: the Progressing condition and progressDeadlineSeconds (upstream progress.go).

After each rollout step `sync_rollout_status` recomputes the status and moves the
Progressing condition: NewReplicaSetAvailable once the rollout is complete,
ReplicaSetUpdated (refreshing lastUpdateTime) whenever this sync saw progress, and
ProgressDeadlineExceeded once lastUpdateTime is older than the deadline. `kubectl
rollout status` fails on the last one. A ReplicaSet's ReplicaFailure condition (pods
could not be created) is mirrored on the deployment. When nothing changed, the
deployment is re-enqueued for the moment its deadline would pass, so a stuck rollout
is reported without waiting for some unrelated event.
"""

from __future__ import annotations

import logging

from podplane.api.meta import parse_time

from . import util
from .sync import calculate_status, status_equal

__all__ = ["replica_failures", "requeue_stuck_deployment", "sync_rollout_status"]

log = logging.getLogger(__name__)


async def sync_rollout_status(dc, all_rss: list[dict | None], new_rs: dict | None, d: dict) -> None:
    now = dc.now()
    new_status = calculate_status(all_rss, new_rs, d, now)
    if not util.has_progress_deadline(d):
        util.remove_condition(new_status, util.PROGRESSING)

    current = util.get_condition(d.get("status"), util.PROGRESSING)
    complete_before = (int(new_status.get("replicas") or 0) == int(new_status.get("updatedReplicas") or 0)
                       and current is not None and current.get("reason") == util.NEW_RS_AVAILABLE)
    name = d["metadata"]["name"]
    if util.has_progress_deadline(d) and not complete_before:
        if util.deployment_complete(d, new_status):
            message = (f'ReplicaSet "{new_rs["metadata"]["name"]}" has successfully progressed.' if new_rs
                       else f'Deployment "{name}" has successfully progressed.')
            util.set_condition(new_status, util.new_condition(util.PROGRESSING, "True", util.NEW_RS_AVAILABLE,
                                                              message, now))
        elif util.deployment_progressing(d, new_status):
            message = (f'ReplicaSet "{new_rs["metadata"]["name"]}" is progressing.' if new_rs
                       else f'Deployment "{name}" is progressing.')
            condition = util.new_condition(util.PROGRESSING, "True", util.RS_UPDATED, message, now)
            # progress refreshes lastUpdateTime even with an unchanged reason, which the
            # generic set_condition would not do
            if current is not None:
                if current.get("status") == "True":
                    condition["lastTransitionTime"] = current.get("lastTransitionTime")
                util.remove_condition(new_status, util.PROGRESSING)
            util.set_condition(new_status, condition)
        elif util.deployment_timed_out(d, new_status, now):
            message = (f'ReplicaSet "{new_rs["metadata"]["name"]}" has timed out progressing.' if new_rs
                       else f'Deployment "{name}" has timed out progressing.')
            util.set_condition(new_status, util.new_condition(util.PROGRESSING, "False", util.TIMED_OUT,
                                                              message, now))

    failures = replica_failures(all_rss, new_rs)
    if failures:
        util.set_condition(new_status, failures[0])
    else:
        util.remove_condition(new_status, util.REPLICA_FAILURE)

    if status_equal(d.get("status"), new_status):
        requeue_stuck_deployment(dc, d, new_status, now)
        return
    d["status"] = new_status
    await dc.update_deployment_status(d)


def replica_failures(all_rss: list[dict | None], new_rs: dict | None) -> list[dict]:
    """ReplicaFailure conditions of the new ReplicaSet, else of any ReplicaSet."""
    def failures_of(rs: dict) -> list[dict]:
        return [util.rs_condition_to_deployment(c) for c in (rs.get("status") or {}).get("conditions") or ()
                if c.get("type") == util.REPLICA_FAILURE]

    if new_rs is not None:
        found = failures_of(new_rs)
        if found:
            return found
    return [c for rs in all_rss if rs is not None for c in failures_of(rs)]


def requeue_stuck_deployment(dc, d: dict, new_status: dict, now) -> float:
    """Schedule the progress check for when the deadline passes; returns the delay, -1
    when no check is needed."""
    current = util.get_condition(d.get("status"), util.PROGRESSING)
    if not util.has_progress_deadline(d) or current is None:
        return -1
    if util.deployment_complete(d, new_status) or current.get("reason") == util.TIMED_OUT:
        return -1
    try:
        since = parse_time(current.get("lastUpdateTime") or "")
    except ValueError:
        return -1
    after = (since - now).total_seconds() + int(d["spec"]["progressDeadlineSeconds"])
    if after < 1:
        dc.enqueue_rate_limited(d)
        return 0
    # one extra second so the check lands after the deadline, not a hair before it
    dc.enqueue_after(d, after + 1)
    return after
