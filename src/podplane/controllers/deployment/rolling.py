"""The RollingUpdate strategy (upstream `deployment/rolling.go`).

Each sync takes one step and returns; the ReplicaSet status events it causes bring the
deployment back for the next one:
1. scale the new ReplicaSet up, never past spec.replicas + maxSurge pods in total;
2. otherwise scale old ReplicaSets down, never below spec.replicas - maxUnavailable
   available pods, removing old pods that are not available first (they cost no
   availability, and would otherwise block the rollout);
3. once the rollout is complete, delete surplus history (revisionHistoryLimit).
`progress.sync_rollout_status` records the outcome.
"""

from __future__ import annotations

from . import util
from .progress import sync_rollout_status
from .sync import (
    cleanup_deployment,
    get_all_replica_sets_and_sync_revision,
    scale_replica_set_and_record_event,
)

__all__ = ["reconcile_new_replica_set", "reconcile_old_replica_sets", "rollout_rolling"]


async def rollout_rolling(dc, d: dict, rss: list[dict]) -> None:
    new_rs, old_rss = await get_all_replica_sets_and_sync_revision(dc, d, rss, True)
    all_rss = old_rss + [new_rs]

    if await reconcile_new_replica_set(dc, all_rss, new_rs, d):
        await sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if await reconcile_old_replica_sets(dc, all_rss, util.filter_active(old_rss), new_rs, d):
        await sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if util.deployment_complete(d, d.get("status") or {}):
        await cleanup_deployment(dc, old_rss, d)
    await sync_rollout_status(dc, all_rss, new_rs, d)


async def reconcile_new_replica_set(dc, all_rss: list[dict], new_rs: dict, d: dict) -> bool:
    want = util.replicas(d)
    if util.replicas(new_rs) == want:
        return False
    if util.replicas(new_rs) > want:
        scaled, _ = await scale_replica_set_and_record_event(dc, new_rs, want, d)
        return scaled
    scaled, _ = await scale_replica_set_and_record_event(dc, new_rs, util.new_rs_new_replicas(d, all_rss, new_rs), d)
    return scaled


async def reconcile_old_replica_sets(dc, all_rss: list[dict], old_rss: list[dict], new_rs: dict, d: dict) -> bool:
    """Scale old ReplicaSets down as far as availability allows.

    maxScaledDown = all pods - minAvailable - unavailable pods of the new ReplicaSet: the
    new ReplicaSet's unavailable pods are counted so that a broken new template never
    lets the old, working pods drain away.
    """
    if util.replica_count(old_rss) == 0:
        return False
    min_available = util.replicas(d) - util.max_unavailable(d)
    new_unavailable = util.replicas(new_rs) - util.status_int(new_rs, "availableReplicas")
    max_scaled_down = util.replica_count(all_rss) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    old_rss, cleaned = await cleanup_unhealthy_replicas(dc, old_rss, d, max_scaled_down)
    scaled_down = await scale_down_old_replica_sets(dc, old_rss + [new_rs], old_rss, d)
    return cleaned + scaled_down > 0


async def cleanup_unhealthy_replicas(dc, old_rss: list[dict], d: dict, max_cleanup: int) -> tuple[list[dict], int]:
    """Scale old ReplicaSets down by their unavailable pods, oldest ReplicaSet first; the
    ReplicaSet controller then deletes exactly those (not-ready pods rank first)."""
    old_rss = util.by_creation(old_rss)
    total = 0
    for i, rs in enumerate(old_rss):
        if total >= max_cleanup:
            break
        size = util.replicas(rs)
        available = util.status_int(rs, "availableReplicas")
        if size == 0 or size == available:
            continue
        count = min(max_cleanup - total, size - available)
        _, updated = await scale_replica_set_and_record_event(dc, rs, size - count, d)
        total += count
        old_rss[i] = updated
    return old_rss, total


async def scale_down_old_replica_sets(dc, all_rss: list[dict], old_rss: list[dict], d: dict) -> int:
    """Scale old ReplicaSets down by the available pods above minAvailable, oldest first."""
    min_available = util.replicas(d) - util.max_unavailable(d)
    available = util.available_replicas(all_rss)
    if available <= min_available:
        return 0
    total_to_scale_down = available - min_available
    total = 0
    for rs in util.by_creation(old_rss):
        if total >= total_to_scale_down:
            break
        size = util.replicas(rs)
        if size == 0:
            continue
        count = min(size, total_to_scale_down - total)
        await scale_replica_set_and_record_event(dc, rs, size - count, d)
        total += count
    return total
