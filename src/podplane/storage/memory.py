"""`memory://`: the reference driver, with the whole history in process memory.

It is the plainest statement of the contract in storage/interface.py: the change
log is a list of `Event`s in revision order (watch replay reads it), each key also
keeps its own list of events (snapshot reads bisect it), and a sorted key list
serves prefix scans. Writes append an event, then publish it through the
`WatchHub` (storage/_watch.py) before returning. Nothing survives the process, so
it backs unit tests and throwaway clusters; storage/sqlite.py is the durable
sibling and must behave identically (tests/unit/storage/test_contract.py).
"""

from __future__ import annotations

import bisect
from typing import Any

from podplane.storage._common import check_watch_start, require_open, resolve_read_revision
from podplane.storage._watch import DEFAULT_WATCH_QUEUE_SIZE, LogWatcher, WatchHub
from podplane.storage.errors import (
    CompactedError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
)
from podplane.storage.interface import DELETE, PUT, Backend, Event, KeyValue, ListResult, Watcher

__all__ = ["MemoryBackend", "open_url"]


def _revision_of(event: Event) -> int:
    return event.revision


class MemoryBackend(Backend):
    def __init__(self, *, watch_queue_size: int = DEFAULT_WATCH_QUEUE_SIZE) -> None:
        self._watch_queue_size = watch_queue_size
        self._open = False
        self._revision = 0
        self._compacted = 0
        self._log: list[Event] = []  # every retained change, ascending revision
        self._history: dict[str, list[Event]] = {}  # the same events per key, ascending
        self._keys: list[str] = []  # sorted keys of _history, for prefix scans
        self._hub = WatchHub()

    async def start(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False
        self._hub.close_all()

    async def current_revision(self) -> int:
        return self._revision

    @property
    def compacted_revision(self) -> int:
        return self._compacted

    async def get(self, key: str) -> KeyValue | None:
        require_open(self._open, "memory store")
        return self._value_at(key, self._revision)

    async def list(self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        require_open(self._open, "memory store")
        at = resolve_read_revision(revision, compacted=self._compacted, current=self._revision)
        index = bisect.bisect_left(self._keys, prefix)
        if start_after:
            index = max(index, bisect.bisect_right(self._keys, start_after))
        kvs: list[KeyValue] = []
        for key in self._keys[index:]:
            if not key.startswith(prefix):
                break
            kv = self._value_at(key, at)
            if kv is None:
                continue
            if limit and len(kvs) == limit:
                return ListResult(kvs, at, more=True)
            kvs.append(kv)
        return ListResult(kvs, at, more=False)

    async def count(self, prefix: str) -> int:
        require_open(self._open, "memory store")
        index = bisect.bisect_left(self._keys, prefix)
        total = 0
        for key in self._keys[index:]:
            if not key.startswith(prefix):
                break
            total += self._history[key][-1].type == PUT
        return total

    async def create(self, key: str, value: bytes) -> int:
        require_open(self._open, "memory store")
        if self._value_at(key, self._revision) is not None:
            raise KeyExistsError(key)
        revision = self._revision + 1
        self._commit(Event(PUT, KeyValue(key, bytes(value), revision, revision), None))
        return revision

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        require_open(self._open, "memory store")
        current = self._checked_current(key, expected_revision)
        revision = self._revision + 1
        self._commit(Event(PUT, KeyValue(key, bytes(value), current.create_revision, revision), current))
        return revision

    async def delete(self, key: str, expected_revision: int = 0) -> tuple[int, KeyValue]:
        require_open(self._open, "memory store")
        current = self._checked_current(key, expected_revision)
        revision = self._revision + 1
        self._commit(Event(DELETE, KeyValue(key, current.value, current.create_revision, revision), current))
        return revision, current

    def watch(self, prefix: str, after_revision: int) -> Watcher:
        require_open(self._open, "memory store")
        start = check_watch_start(after_revision, compacted=self._compacted, current=self._revision)
        return LogWatcher(
            self._hub,
            prefix=prefix,
            after_revision=start,
            replay_until=self._revision,
            read_history=self._read_history,
            max_queue=self._watch_queue_size,
        )

    async def compact(self, revision: int) -> None:
        require_open(self._open, "memory store")
        if revision <= self._compacted:
            return
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        dropped: set[int] = set()
        for key in list(self._history):
            events = self._history[key]
            at_or_below = bisect.bisect_right(events, revision, key=_revision_of)
            # Of the events at or below the compact revision only the last can still
            # matter (the key's value as of it), and only if it is a live value.
            keep_from = at_or_below - 1 if at_or_below and events[at_or_below - 1].type == PUT else at_or_below
            dropped.update(e.revision for e in events[:keep_from])
            if keep_from == len(events):
                del self._history[key]
                del self._keys[bisect.bisect_left(self._keys, key)]
            else:
                del events[:keep_from]
        self._log = [e for e in self._log if e.revision not in dropped]
        self._compacted = revision

    # -- internals

    def _value_at(self, key: str, revision: int) -> KeyValue | None:
        events = self._history.get(key)
        if not events:
            return None
        index = bisect.bisect_right(events, revision, key=_revision_of)
        if index == 0 or events[index - 1].type == DELETE:
            return None
        return events[index - 1].kv

    def _checked_current(self, key: str, expected_revision: int) -> KeyValue:
        current = self._value_at(key, self._revision)
        if current is None:
            raise KeyNotFoundError(key)
        if expected_revision and current.mod_revision != expected_revision:
            raise RevisionConflictError(key, current)
        return current

    def _commit(self, event: Event) -> None:
        key = event.kv.key
        if key not in self._history:
            self._history[key] = []
            bisect.insort(self._keys, key)
        self._history[key].append(event)
        self._log.append(event)
        self._revision = event.revision
        self._hub.publish(event)

    def _read_history(self, prefix: str, after: int, until: int, limit: int) -> list[Event]:
        if after < self._compacted:
            raise CompactedError(self._compacted, self._revision)
        batch: list[Event] = []
        for index in range(bisect.bisect_right(self._log, after, key=_revision_of), len(self._log)):
            event = self._log[index]
            if event.revision > until or len(batch) == limit:
                break
            if event.kv.key.startswith(prefix):
                batch.append(event)
        return batch


def open_url(url: str, *, data_dir: str | None = None, **options: Any) -> MemoryBackend:
    """`memory://` (anything after the scheme is ignored); options go to MemoryBackend."""
    return MemoryBackend(**options)
