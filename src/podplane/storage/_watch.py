"""Watch fan-out for drivers that own their change log (memory, sqlite).

Flow: a driver commits a write, then calls `WatchHub.publish(event)` from the same
code path, before yielding to the event loop. The hub offers the event to every
registered `LogWatcher`, which appends it to its own bounded queue and wakes its
consumer. Offering never blocks: a watcher whose queue is full is dropped and its
iterator raises WatcherOverflowError, so one slow consumer cannot stall writers.

A watcher is registered at creation, when it also records the store's revision
(`replay_until`). Events up to that revision come from the driver's log through
`read_history`, page by page as the consumer iterates; later ones arrive through
the queue. Registration and that snapshot happen without an await in between, so
replay and live events meet with no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Callable

from podplane.storage.errors import WatcherOverflowError
from podplane.storage.interface import Event, Watcher

__all__ = ["BATCH_SIZE", "DEFAULT_WATCH_QUEUE_SIZE", "HistoryReader", "LogWatcher", "WatchHub"]

# Per-watcher backlog before it is dropped: about a minute of a busy cluster's
# writes, far more than a healthy consumer ever lags, small enough (events share
# the stored values) that a stuck one cannot exhaust memory.
DEFAULT_WATCH_QUEUE_SIZE = 100_000

# Largest batch handed out at once, so a long replay or backlog is delivered in
# pieces the consumer can interleave with other work.
BATCH_SIZE = 1_000

# (prefix, after_revision, until_revision, limit) -> up to `limit` events with
# after < revision <= until, ascending. Raises CompactedError if `after` is below
# the compacted revision, because those events may be gone.
HistoryReader = Callable[[str, int, int, int], list[Event]]


def _bucket(prefix_or_key: str) -> str | None:
    """The first three path segments (`/registry/<group>/<plural>/`), when complete.

    Watchers whose prefix covers a whole bucket are indexed by it, so a write is offered
    only to the watchers of its resource instead of to every watcher of the store (the
    garbage collector alone watches every resource)."""
    parts = prefix_or_key.split("/", 4)
    if len(parts) == 5 and parts[0] == "" and all(parts[1:4]):
        return "/".join(parts[:4]) + "/"
    return None


class WatchHub:
    """The set of live watchers of one store."""

    def __init__(self) -> None:
        # Weak: a watcher its consumer dropped without close() stops receiving events
        # once collected, instead of filling its queue until it overflows.
        self._watchers: weakref.WeakSet[LogWatcher] = weakref.WeakSet()
        self._by_bucket: dict[str, weakref.WeakSet[LogWatcher]] = {}
        self._unbucketed: weakref.WeakSet[LogWatcher] = weakref.WeakSet()

    def __len__(self) -> int:
        return len(self._watchers)

    def add(self, watcher: LogWatcher) -> None:
        self._watchers.add(watcher)
        bucket = _bucket(watcher.prefix)
        if bucket is None:
            self._unbucketed.add(watcher)
        else:
            self._by_bucket.setdefault(bucket, weakref.WeakSet()).add(watcher)

    def discard(self, watcher: LogWatcher) -> None:
        self._watchers.discard(watcher)
        self._unbucketed.discard(watcher)
        bucket = _bucket(watcher.prefix)
        if bucket is not None and bucket in self._by_bucket:
            self._by_bucket[bucket].discard(watcher)

    def publish(self, event: Event) -> None:
        # Copy: a watcher that overflows removes itself while we iterate.
        bucket = _bucket(event.kv.key)
        targets = list(self._unbucketed)
        if bucket is not None and bucket in self._by_bucket:
            targets += list(self._by_bucket[bucket])
        elif bucket is None:
            targets = list(self._watchers)
        for watcher in targets:
            watcher.offer(event)

    def close_all(self) -> None:
        for watcher in list(self._watchers):
            watcher.close()


class LogWatcher(Watcher):
    def __init__(
        self,
        hub: WatchHub,
        *,
        prefix: str,
        after_revision: int,
        replay_until: int,
        read_history: HistoryReader,
        max_queue: int = DEFAULT_WATCH_QUEUE_SIZE,
    ) -> None:
        self._hub = hub
        self._prefix = prefix
        self.prefix = prefix
        self._after_revision = after_revision
        self._replayed_to = after_revision  # history is delivered up to here
        self._replay_until = replay_until
        self._read_history = read_history
        self._max_queue = max_queue
        self._last_revision = after_revision  # last revision handed to the consumer
        self._queue: deque[Event] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False
        self._overflowed = False
        hub.add(self)

    def offer(self, event: Event) -> None:
        """Queue a committed event if it matches; called by the hub, never blocks."""
        if self._closed or self._overflowed:
            return
        if event.revision <= self._after_revision or not event.kv.key.startswith(self._prefix):
            return
        if len(self._queue) >= self._max_queue:
            # Drop the backlog now rather than hold it: the consumer must re-watch
            # from its last revision anyway, and the memory is better freed.
            self._overflowed = True
            self._queue.clear()
            self._hub.discard(self)
            self._wakeup.set()
            return
        self._queue.append(event)
        self._wakeup.set()

    def close(self) -> None:
        self._closed = True
        self._queue.clear()
        self._hub.discard(self)
        self._wakeup.set()

    async def __anext__(self) -> list[Event]:
        self._raise_if_done()
        if self._replayed_to < self._replay_until:
            batch = self._read_history(self._prefix, self._replayed_to, self._replay_until, BATCH_SIZE)
            # A short page means the log holds nothing more up to replay_until.
            self._replayed_to = batch[-1].revision if len(batch) == BATCH_SIZE else self._replay_until
            if batch:
                return self._deliver(batch)
        while not self._queue:
            self._raise_if_done()
            self._wakeup.clear()
            await self._wakeup.wait()
        count = min(len(self._queue), BATCH_SIZE)
        return self._deliver([self._queue.popleft() for _ in range(count)])

    def _raise_if_done(self) -> None:
        if self._overflowed:
            self._overflowed = False
            self._closed = True  # raise once, then end like a closed watcher
            raise WatcherOverflowError(self._last_revision)
        if self._closed:
            raise StopAsyncIteration

    def _deliver(self, batch: list[Event]) -> list[Event]:
        self._last_revision = batch[-1].revision
        return batch

