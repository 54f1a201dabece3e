"""Work queue with client-go semantics, for level-triggered controllers.

- A key queued several times before a worker takes it is processed once (dirty set).
- A key is never handed to two workers at once: if it is re-added while processing,
  it is queued again when the worker calls `done` (processing set).
- `add_after(key, delay)` defers an add; `add_rate_limited(key)` defers it by the
  per-item exponential back-off (5 ms doubling to 1000 s, as client-go's default
  controller rate limiter), `forget(key)` resets that back-off after a success.
- `run_workers(queue, sync, workers)` is the standard worker loop: get → sync → forget
  or requeue with back-off → done; exceptions never kill a worker.

Time comes from the running loop, so tests drive it with short delays only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

__all__ = ["ShutDown", "WorkQueue", "run_workers"]

log = logging.getLogger(__name__)


class ShutDown(Exception):
    """The queue was shut down; workers stop."""


class WorkQueue:
    def __init__(self, name: str = "", *, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.name = name
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._queue: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._failures: dict[Hashable, int] = {}
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._wakeup = asyncio.Event()
        self._shutdown = False

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: Hashable) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._notify()

    def _notify(self) -> None:
        self._wakeup.set()

    def add_after(self, key: Hashable, delay: float) -> None:
        if self._shutdown:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        when = loop.time() + delay
        if existing is not None:
            if existing.when() <= when:
                return  # an earlier add is already scheduled
            existing.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self.add(key)

        self._timers[key] = loop.call_at(when, fire)

    def add_rate_limited(self, key: Hashable) -> None:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        self.add_after(key, min(self.max_delay, self.base_delay * (2 ** failures)))

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> Hashable:
        while not self._queue:
            if self._shutdown:
                raise ShutDown()
            self._wakeup.clear()
            await self._wakeup.wait()
        key = self._queue.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: Hashable) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._notify()

    def shutdown(self) -> None:
        self._shutdown = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._wakeup.set()


async def run_workers(queue: WorkQueue, sync: Callable[[Hashable], Awaitable[None]], workers: int = 1) -> None:
    """Run `workers` loops over the queue until it shuts down or the task is cancelled."""

    async def worker() -> None:
        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            try:
                await sync(key)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a failing key is retried with back-off, never fatal
                log.warning("%s: sync %s failed (retry %d): %s", queue.name, key, queue.num_requeues(key) + 1, e,
                            exc_info=log.isEnabledFor(logging.DEBUG))
                queue.add_rate_limited(key)
            else:
                queue.forget(key)
            finally:
                queue.done(key)

    await asyncio.gather(*(worker() for _ in range(workers)))
