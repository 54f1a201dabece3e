"""Controller expectations: never create or delete twice before the cache catches up.

Before a controller issues N creates (or deletes) for a key it records
`expect_creations(key, N)`; informer handlers call `creation_observed(key)` as the
objects appear. `satisfied(key)` is true when every expected event was seen, or
when the record is older than `ttl` (5 minutes, as upstream: a lost watch event
must not wedge a controller forever). Time is injected for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

__all__ = ["Expectations"]


@dataclass
class _Record:
    adds: int
    dels: int
    timestamp: float


class Expectations:
    def __init__(self, *, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._records: dict[Hashable, _Record] = {}

    def expect_creations(self, key: Hashable, count: int) -> None:
        self._records[key] = _Record(count, 0, self.clock())

    def expect_deletions(self, key: Hashable, count: int) -> None:
        self._records[key] = _Record(0, count, self.clock())

    def creation_observed(self, key: Hashable) -> None:
        record = self._records.get(key)
        if record is not None:
            record.adds -= 1

    def deletion_observed(self, key: Hashable) -> None:
        record = self._records.get(key)
        if record is not None:
            record.dels -= 1

    def satisfied(self, key: Hashable) -> bool:
        record = self._records.get(key)
        if record is None:
            return True
        if record.adds <= 0 and record.dels <= 0:
            return True
        return self.clock() - record.timestamp > self.ttl

    def forget(self, key: Hashable) -> None:
        self._records.pop(key, None)
