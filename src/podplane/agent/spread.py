"""Periodic work for many nodes, spread evenly over the period instead of in bursts.

One agent process may simulate 1,000 nodes, each renewing its Lease every 10 s and
reporting its status every minute. Doing every node at the same instant would hit
the API server with 1,000 requests at once; a timer per node would cost 1,000 tasks.
`SpreadSchedule` gives item i of N the phase i/N of the interval and keeps the due
times in a heap; `run_spread` is the single loop that wakes up for whatever is due
(batched a few milliseconds at a time), runs it with bounded concurrency, and
reschedules each item one interval later (or sooner, to retry a failure).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

__all__ = ["SpreadSchedule", "run_spread"]

log = logging.getLogger(__name__)


class SpreadSchedule:
    """Due times of `keys` every `interval` seconds, item i first due at start + interval·i/N."""

    def __init__(self, keys: list[Hashable], interval: float, start: float) -> None:
        self.interval = interval
        self._seq = itertools.count()
        n = max(1, len(keys))
        self._heap: list[tuple[float, int, Hashable]] = [
            (start + interval * i / n, next(self._seq), key) for i, key in enumerate(keys)]
        heapq.heapify(self._heap)

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, key: Hashable, when: float) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), key))

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[tuple[float, Hashable]]:
        """Every (due time, key) with due time <= now, earliest first."""
        out = []
        while self._heap and self._heap[0][0] <= now:
            when, _, key = heapq.heappop(self._heap)
            out.append((when, key))
        return out

    def next_time(self, due: float, now: float) -> float:
        """One interval after `due`, or after `now` when the loop fell behind (no catch-up burst)."""
        following = due + self.interval
        return following if following > now else now + self.interval


async def run_spread(schedule: SpreadSchedule, action: Callable[[Hashable], Awaitable[bool]], *,
                     concurrency: int = 16, retry_after: float = 1.0, batch: float = 0.02,
                     clock: Callable[[], float] = time.monotonic) -> None:
    """Run `action(key)` for every key when due, forever.

    `action` returns False (or raises, which is logged) to be retried after `retry_after`
    seconds. Items run as separate tasks, so one slow request never delays the others.
    """
    limit = asyncio.Semaphore(concurrency)
    wake = asyncio.Event()
    running: set[asyncio.Task] = set()

    async def one(key: Hashable, due: float) -> None:
        ok = False
        try:
            async with limit:
                ok = await action(key)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("periodic work for %s failed", key)
        now = clock()
        schedule.add(key, schedule.next_time(due, now) if ok else now + min(retry_after, schedule.interval))
        wake.set()

    try:
        while True:
            for due, key in schedule.pop_due(clock()):
                task = asyncio.create_task(one(key, due))
                running.add(task)
                task.add_done_callback(running.discard)
            wake.clear()
            next_due = schedule.next_due()
            timeout = None if next_due is None else max(batch, next_due - clock())
            try:
                await asyncio.wait_for(wake.wait(), timeout)
            except TimeoutError:
                pass
    finally:
        for task in running:
            task.cancel()
