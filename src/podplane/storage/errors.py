"""Storage errors: the small hierarchy every driver raises.

The apiserver maps them onto Kubernetes statuses: `KeyExistsError` -> 409
AlreadyExists, `KeyNotFoundError` -> 404 NotFound, `RevisionConflictError` -> 409
Conflict, `CompactedError` -> 410 Gone (Expired), `FutureRevisionError` -> 504 "Too
large resource version", `StorageUnavailableError` -> 503 / retry.

Permanent and temporary failures are distinct types: `StorageUnavailableError` is
the only one worth retrying as-is. `WatcherOverflowError` ends one watch; the caller
re-watches from the last revision it saw. Drivers wrap third-party exceptions
(sqlite3, HTTP) in these with `raise ... from e`, and never put a credential or a
stored value into a message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from podplane.storage.interface import KeyValue

__all__ = [
    "CompactedError",
    "FutureRevisionError",
    "KeyExistsError",
    "KeyNotFoundError",
    "RevisionConflictError",
    "StorageConfigError",
    "StorageError",
    "StorageUnavailableError",
    "WatcherOverflowError",
]


class StorageError(Exception):
    """Base class of every error the storage layer raises."""


class StorageConfigError(StorageError, ValueError):
    """The datastore URL or a driver option is wrong; fix the configuration."""


class KeyExistsError(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} already exists")
        self.key = key


class KeyNotFoundError(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} not found")
        self.key = key


class RevisionConflictError(StorageError):
    """A compare-and-swap lost: `current` is what the key holds now (None if it is gone)."""

    def __init__(self, key: str, current: KeyValue | None) -> None:
        found = current.mod_revision if current is not None else "none"
        super().__init__(f"key {key!r} changed: current revision is {found}")
        self.key = key
        self.current = current


class CompactedError(StorageError):
    """The requested revision's history was compacted away (Kubernetes: 410 Gone)."""

    def __init__(self, compact_revision: int, current_revision: int) -> None:
        super().__init__(
            f"revision has been compacted: oldest available is {compact_revision}, current is {current_revision}"
        )
        self.compact_revision = compact_revision
        self.current_revision = current_revision


class FutureRevisionError(StorageError):
    """A read asked for a revision the store has not reached yet."""

    def __init__(self, revision: int, current_revision: int) -> None:
        super().__init__(f"revision {revision} is in the future: current is {current_revision}")
        self.revision = revision
        self.current_revision = current_revision


class WatcherOverflowError(StorageError):
    """The watcher fell too far behind and was dropped so writers never wait for it.

    `last_revision` is the revision of the last event it delivered (or the revision
    it started after): watch again from there to continue without a gap.
    """

    def __init__(self, last_revision: int) -> None:
        super().__init__(f"watcher fell behind and was dropped after revision {last_revision}")
        self.last_revision = last_revision


class StorageUnavailableError(StorageError):
    """A temporary failure (store closed, database locked, I/O error, endpoint down); retry later."""
