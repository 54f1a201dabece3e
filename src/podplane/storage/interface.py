"""The storage contract: revisioned key-value records, watch events and the `Backend` ABC.

The store is shaped like etcd's KV API. Every write gets the next value of one
global revision counter (1 for the first write, never reused, also not after a
restart or compaction); each key remembers the revision that created it
(`create_revision`) and the one that last changed it (`mod_revision`, the
Kubernetes `resourceVersion`). Reads can target an older revision until it is
compacted, and `watch` replays the change log after a revision, then follows live.

Drivers (storage/memory.py, storage/sqlite.py, later storage/etcd.py) implement
`Backend` and `Watcher`; storage/registry.py picks one by URL; the apiserver is the
only consumer. tests/unit/storage/test_contract.py runs one suite against every
driver, so behaviour described here is what that suite checks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import Self

__all__ = ["DELETE", "PUT", "Backend", "Event", "KeyValue", "ListResult", "Watcher"]

PUT = "PUT"
DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class Event:
    """One change. For a DELETE, `kv` holds the key's last value with `mod_revision` =
    the delete's revision, and `prev_kv` is that value as it was stored."""

    type: str  # PUT | DELETE
    kv: KeyValue
    prev_kv: KeyValue | None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision

    @property
    def created(self) -> bool:
        return self.type == PUT and self.kv.create_revision == self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class ListResult:
    kvs: list[KeyValue]
    revision: int  # the store revision this list reflects; pass it back to page consistently
    more: bool  # more keys remain after the last one returned


class Watcher(ABC):
    """An async iterator of event batches (`list[Event]`, never empty, in revision order).

    Iteration ends (StopAsyncIteration) after `close()` or when the backend closes. It
    raises WatcherOverflowError if the consumer fell too far behind, and
    CompactedError if compaction overtook a history replay; in both cases watch again.
    Always close a watcher you stop reading (or use `async with`), so it stops
    receiving events.
    """

    def __aiter__(self) -> Self:
        return self

    @abstractmethod
    async def __anext__(self) -> list[Event]: ...

    @abstractmethod
    def close(self) -> None:
        """Stop the watch; idempotent."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Backend(ABC):
    """A revisioned key-value store. Keys are strings compared by code point (so "/a/b/"
    sorts like its UTF-8 bytes); prefixes are plain string prefixes, callers add the
    trailing "/" that keeps `/a/b/` apart from `/a/bc/`."""

    @abstractmethod
    async def start(self) -> None:
        """Open the store (files, connections); call once before anything else."""

    @abstractmethod
    async def close(self) -> None:
        """Release resources and end every watcher; idempotent."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @abstractmethod
    async def current_revision(self) -> int:
        """The revision of the latest write (0 for a store that was never written)."""

    @property
    @abstractmethod
    def compacted_revision(self) -> int:
        """History at or below this revision is gone (0: nothing compacted yet)."""

    @abstractmethod
    async def get(self, key: str) -> KeyValue | None: ...

    @abstractmethod
    async def list(self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        """Keys starting with `prefix`, ascending, as of `revision` (0: latest).

        Raises CompactedError if `revision` < compacted_revision and
        FutureRevisionError if it is beyond the current revision. `start_after`
        excludes keys up to and including itself (continue tokens); `limit` 0 means
        no limit, and `more` tells whether keys remain after the page.
        """

    @abstractmethod
    async def count(self, prefix: str) -> int:
        """Number of keys starting with `prefix` at the latest revision."""

    @abstractmethod
    async def create(self, key: str, value: bytes) -> int:
        """Store a new key; returns its revision. KeyExistsError if it is present."""

    @abstractmethod
    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        """Compare-and-swap on mod_revision; returns the new revision.

        KeyNotFoundError if the key is absent; RevisionConflictError (carrying the
        current value) if its mod_revision differs. `expected_revision` 0 skips the
        comparison (an unconditional update of an existing key).
        """

    @abstractmethod
    async def delete(self, key: str, expected_revision: int = 0) -> tuple[int, KeyValue]:
        """Delete a key; returns (the delete's revision, the value as it was stored).

        `expected_revision` 0 deletes unconditionally; otherwise it must equal the
        key's mod_revision (RevisionConflictError). KeyNotFoundError if absent.
        """

    @abstractmethod
    def watch(self, prefix: str, after_revision: int) -> Watcher:
        """Events with revision > `after_revision` for keys starting with `prefix`.

        History from the log comes first, then live events, with no gap and no
        duplicate. `after_revision` 0 means "from now" (future events only). Raises
        CompactedError if `after_revision` < compacted_revision. A revision beyond the
        current one is allowed: events start once the store gets there.
        """

    @abstractmethod
    async def compact(self, revision: int) -> None:
        """Drop history at or below `revision`, keeping each live key's value as of it.

        Reads and watches at or above `revision` still work; below it they raise
        CompactedError. Compacting at or below the current compacted revision does
        nothing; beyond the current revision raises FutureRevisionError.
        """
