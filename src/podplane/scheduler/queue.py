"""Scheduling queue: activeQ, backoffQ and the unschedulable pods (upstream PriorityQueue).

- activeQ: pods ready to be tried, highest `spec.priority` first, then in the order
  they entered the queue (upstream PrioritySort; for new pods that is creation order).
- backoffQ: pods that failed recently. Each failure doubles the wait, from 1 s up to
  10 s (podInitialBackoffDuration / podMaxBackoffDuration); expired pods move back
  to activeQ.
- unschedulable: pods no node fits. They wait for a cluster event that concerns a
  plugin that rejected them (node added or changed, an assigned pod added, relabelled
  or deleted, volumes changed) and then go to backoffQ or activeQ; a pod left there
  longer than `max_unschedulable` seconds is retried anyway
  (podMaxInUnschedulablePodsDuration). Pods with `spec.schedulingGates` wait there
  until an update removes the gates.

A popped pod is "in flight" until `done`; an update seen meanwhile is kept and used
when the pod is requeued. Time comes from an injected clock; `flush()` does the
periodic moves and `run()` calls it in the background.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable

from podplane.scheduler.nodeinfo import PodInfo

__all__ = ["QueuedPodInfo", "SchedulingQueue"]

ACTIVE, BACKOFF, UNSCHEDULABLE = "active", "backoff", "unschedulable"


class QueuedPodInfo:
    """A pod in the queue with its scheduling history."""

    __slots__ = ("attempts", "deleted", "initial_attempt", "pod_info", "seq", "timestamp", "unschedulable_plugins",
                 "updated", "where")

    def __init__(self, pod_info: PodInfo, now: float) -> None:
        self.pod_info = pod_info
        self.timestamp = now
        self.initial_attempt: float | None = None
        self.attempts = 0
        self.unschedulable_plugins: set[str] = set()
        self.where = ""
        self.seq = 0
        self.updated = False
        """A meaningful update arrived while the pod was in flight."""
        self.deleted = False

    @property
    def key(self) -> str:
        return self.pod_info.key

    @property
    def gated(self) -> bool:
        return bool(self.pod_info.spec.get("schedulingGates"))

    def __repr__(self) -> str:
        return f"QueuedPodInfo({self.key}, where={self.where}, attempts={self.attempts})"


class SchedulingQueue:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, initial_backoff: float = 1.0,
                 max_backoff: float = 10.0, max_unschedulable: float = 300.0,
                 events_to_plugins: dict[str, set[str]] | None = None) -> None:
        self.clock = clock
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable = max_unschedulable
        self.events_to_plugins = events_to_plugins or {}
        self._entries: dict[str, QueuedPodInfo] = {}
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        """The unschedulable subset of `_entries`, so cluster events cost O(unschedulable pods)."""
        self._in_flight: dict[str, QueuedPodInfo] = {}
        self._active: list[tuple[int, float, int, str]] = []
        self._backoff: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._nonempty = asyncio.Event()
        self._wakeup = asyncio.Event()

    # -- inspection (tests, metrics) ------------------------------------------------------------
    def where(self, key: str) -> str:
        if key in self._in_flight:
            return "in-flight"
        entry = self._entries.get(key)
        return entry.where if entry else ""

    def pending(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {ACTIVE: [], BACKOFF: [], UNSCHEDULABLE: []}
        for key, entry in self._entries.items():
            out[entry.where].append(key)
        return {k: sorted(v) for k, v in out.items()}

    def __len__(self) -> int:
        return len(self._entries)

    # -- placing entries ---------------------------------------------------------------------------
    def _to_active(self, entry: QueuedPodInfo) -> None:
        self._unschedulable.pop(entry.key, None)
        entry.where = ACTIVE
        entry.seq = next(self._seq)
        heapq.heappush(self._active, (-entry.pod_info.priority, entry.timestamp, entry.seq, entry.key))
        self._entries[entry.key] = entry
        self._nonempty.set()

    def _to_backoff(self, entry: QueuedPodInfo) -> None:
        self._unschedulable.pop(entry.key, None)
        entry.where = BACKOFF
        entry.seq = next(self._seq)
        heapq.heappush(self._backoff, (self.backoff_expiry(entry), entry.seq, entry.key))
        self._entries[entry.key] = entry
        self._wakeup.set()

    def _to_unschedulable(self, entry: QueuedPodInfo) -> None:
        entry.where = UNSCHEDULABLE
        self._entries[entry.key] = entry
        self._unschedulable[entry.key] = entry

    def backoff_duration(self, entry: QueuedPodInfo) -> float:
        duration = self.initial_backoff
        for _ in range(1, entry.attempts):
            duration *= 2
            if duration >= self.max_backoff:
                return self.max_backoff
        return duration

    def backoff_expiry(self, entry: QueuedPodInfo) -> float:
        return entry.timestamp + self.backoff_duration(entry)

    def _is_backing_off(self, entry: QueuedPodInfo) -> bool:
        return entry.attempts > 0 and self.backoff_expiry(entry) > self.clock()

    def _requeue(self, entry: QueuedPodInfo) -> None:
        """Leave the unschedulable set: back off first if the last failure was recent."""
        if entry.gated:
            self._to_unschedulable(entry)
        elif self._is_backing_off(entry):
            self._to_backoff(entry)
        else:
            self._to_active(entry)

    # -- informer-driven changes --------------------------------------------------------------------
    def add(self, pod: PodInfo) -> None:
        """A new pending pod (or one seen again after a relist)."""
        if pod.key in self._entries or pod.key in self._in_flight:
            self.update(pod, changed=True)
            return
        entry = QueuedPodInfo(pod, self.clock())
        if entry.gated:
            self._to_unschedulable(entry)
        else:
            self._to_active(entry)

    def update(self, pod: PodInfo, *, changed: bool) -> None:
        """A pending pod changed; `changed` is False when only its status moved (e.g. our
        own PodScheduled condition), which must not trigger a retry."""
        flying = self._in_flight.get(pod.key)
        if flying is not None:
            flying.pod_info = pod
            flying.updated = flying.updated or changed
            return
        entry = self._entries.get(pod.key)
        if entry is None:
            self.add(pod)
            return
        old_priority = entry.pod_info.priority
        entry.pod_info = pod
        if entry.where == ACTIVE and pod.priority != old_priority:
            self._to_active(entry)  # re-sort; the stale heap item is skipped on pop
        elif entry.where == UNSCHEDULABLE and changed:
            self._requeue(entry)

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)
        self._unschedulable.pop(key, None)
        flying = self._in_flight.get(key)
        if flying is not None:
            flying.deleted = True

    def move_all(self, event: str) -> int:
        """A cluster event happened: retry the unschedulable pods it may help."""
        interested = self.events_to_plugins.get(event, set())
        moved = 0
        if not self._unschedulable:
            return 0
        for entry in [e for e in self._unschedulable.values() if not e.gated]:
            if not entry.unschedulable_plugins or entry.unschedulable_plugins & interested:
                self._requeue(entry)
                moved += 1
        return moved

    # -- the scheduling loop's side --------------------------------------------------------------------
    def pop_nowait(self) -> QueuedPodInfo | None:
        while self._active:
            _, _, seq, key = heapq.heappop(self._active)
            entry = self._entries.get(key)
            if entry is None or entry.where != ACTIVE or entry.seq != seq:
                continue  # deleted or moved since it was pushed
            del self._entries[key]
            entry.where = ""
            entry.attempts += 1
            entry.updated = False
            if entry.initial_attempt is None:
                entry.initial_attempt = self.clock()
            self._in_flight[key] = entry
            return entry
        self._nonempty.clear()
        return None

    async def pop(self) -> QueuedPodInfo:
        while True:
            entry = self.pop_nowait()
            if entry is not None:
                return entry
            await self._nonempty.wait()

    def done(self, key: str) -> None:
        self._in_flight.pop(key, None)

    def requeue_failed(self, entry: QueuedPodInfo, unschedulable_plugins: set[str]) -> None:
        """Put back a pod whose attempt failed: to backoffQ after an error (or when it
        changed meanwhile), else among the unschedulable pods."""
        self._in_flight.pop(entry.key, None)
        if entry.deleted or entry.key in self._entries:
            return
        entry.timestamp = self.clock()
        entry.unschedulable_plugins = set(unschedulable_plugins)
        if entry.gated:
            self._to_unschedulable(entry)
        elif not unschedulable_plugins or entry.updated:
            self._to_backoff(entry)
        else:
            self._to_unschedulable(entry)

    def flush(self) -> None:
        """Move expired backoffs to activeQ and long-waiting unschedulable pods out."""
        now = self.clock()
        while self._backoff and self._backoff[0][0] <= now:
            _, seq, key = heapq.heappop(self._backoff)
            entry = self._entries.get(key)
            if entry is not None and entry.where == BACKOFF and entry.seq == seq:
                self._to_active(entry)
        for entry in [e for e in self._unschedulable.values() if not e.gated]:
            if now - entry.timestamp > self.max_unschedulable:
                self._requeue(entry)

    def next_backoff_expiry(self) -> float | None:
        while self._backoff:
            expiry, seq, key = self._backoff[0]
            entry = self._entries.get(key)
            if entry is not None and entry.where == BACKOFF and entry.seq == seq:
                return expiry
            heapq.heappop(self._backoff)
        return None

    async def run(self, *, period: float = 1.0) -> None:
        """Background flusher: wakes at the next backoff expiry or every `period` seconds."""
        while True:
            self._wakeup.clear()
            self.flush()
            expiry = self.next_backoff_expiry()
            delay = period if expiry is None else min(period, max(expiry - self.clock(), 0.01))
            try:
                await asyncio.wait_for(self._wakeup.wait(), delay)
            except TimeoutError:
                pass
