"""The Recreate strategy (upstream `deployment/recreate.go`).

Old and new pods never run together: scale every old ReplicaSet to zero, wait until no
old pod is left (terminating ones included; pod deletions re-enqueue the deployment),
only then create the new ReplicaSet (if it does not exist yet) at full size. History
cleanup runs once the rollout is complete; `progress.sync_rollout_status` records the
outcome.
"""

from __future__ import annotations

from . import util
from .progress import sync_rollout_status
from .sync import (
    cleanup_deployment,
    get_all_replica_sets_and_sync_revision,
    scale_replica_set_and_record_event,
)

__all__ = ["old_pods_running", "rollout_recreate"]


async def rollout_recreate(dc, d: dict, rss: list[dict], pod_map: dict[str, list[dict]]) -> None:
    # do not create the new ReplicaSet yet: that would scale up before scaling down
    new_rs, old_rss = await get_all_replica_sets_and_sync_revision(dc, d, rss, False)
    all_rss = old_rss + [new_rs]

    scaled_down = False
    for rs in util.filter_active(old_rss):
        scaled, _ = await scale_replica_set_and_record_event(dc, rs, 0, d)
        scaled_down = scaled_down or scaled
    if scaled_down:
        await sync_rollout_status(dc, all_rss, new_rs, d)
        return

    if old_pods_running(new_rs, old_rss, pod_map):
        await sync_rollout_status(dc, all_rss, new_rs, d)
        return

    if new_rs is None:
        new_rs, old_rss = await get_all_replica_sets_and_sync_revision(dc, d, rss, True)
        all_rss = old_rss + [new_rs]

    await scale_replica_set_and_record_event(dc, new_rs, util.replicas(d), d)
    if util.deployment_complete(d, d.get("status") or {}):
        await cleanup_deployment(dc, old_rss, d)
    await sync_rollout_status(dc, all_rss, new_rs, d)


def old_pods_running(new_rs: dict | None, old_rss: list[dict], pod_map: dict[str, list[dict]]) -> bool:
    """Does any pod of an old ReplicaSet still exist and not yet finished?"""
    if util.status_replicas(old_rss) > 0:
        return True
    new_uid = new_rs["metadata"].get("uid") if new_rs is not None else None
    for uid, pods in pod_map.items():
        if uid == new_uid:
            continue
        for pod in pods:
            if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                return True
    return False
