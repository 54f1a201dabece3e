"""Periodic compaction: keeps a store's history bounded.

`run_compactor` runs beside the apiserver under the server's TaskGroup (server.py)
and, every `interval` seconds, compacts the backend to `retain` revisions behind
the current one. Watchers and paged lists that are further behind get
CompactedError (HTTP 410 Gone) and restart from a fresh list, as Kubernetes
clients expect. It works with any `Backend` (storage/interface.py); `compact_once`
is the single step, for callers and tests that drive it themselves.
"""

from __future__ import annotations

import asyncio
import logging

from podplane.storage.errors import StorageUnavailableError
from podplane.storage.interface import Backend

__all__ = ["compact_once", "run_compactor"]

log = logging.getLogger(__name__)


async def compact_once(backend: Backend, *, retain: int = 10_000) -> int | None:
    """Compact to current_revision - retain if that is newer; returns the revision compacted to."""
    target = await backend.current_revision() - retain
    if target <= backend.compacted_revision:
        return None
    await backend.compact(target)
    return target


async def run_compactor(
    backend: Backend, *, interval: float = 300.0, retain: int = 10_000, stop: asyncio.Event
) -> None:
    """Compact every `interval` seconds until `stop` is set.

    interval: 5 minutes, like kine and the Kubernetes apiserver's etcd compaction,
        keeps the work per run small without letting history pile up.
    retain: 10,000 revisions is minutes to hours of cluster writes: enough for
        watchers and paged lists to catch up after a short disconnect.
    A temporarily unavailable store is logged and retried at the next interval.
    """
    while not stop.is_set():  # checked here too: a zero interval times out before stop.wait() runs
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
            continue
        except TimeoutError:
            pass
        try:
            compacted = await compact_once(backend, retain=retain)
        except StorageUnavailableError as e:
            log.warning("storage compaction skipped: %s", e)
            continue
        if compacted is not None:
            log.info("storage compacted to revision %d", compacted)
