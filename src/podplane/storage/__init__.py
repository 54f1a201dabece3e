"""Storage: a revisioned key-value store with watch, shaped like etcd's KV API.

Only the apiserver (and the composition roots that build it) import this package.
The apiserver keeps objects under keys like `/registry/<group>/<resource>/<ns>/<name>`
and uses revisions as resourceVersions: `list`/`get` read, `create`/`update`/`delete`
write with compare-and-swap on mod_revision, `watch` feeds its watch streams, and
`run_compactor` bounds the history.

Modules: interface.py (the contract: KeyValue, Event, ListResult, Backend, Watcher),
errors.py (the error hierarchy), registry.py (`open_backend(url)` and DRIVERS),
memory.py (`memory://`, the reference), sqlite.py (`sqlite://`, the durable default),
compactor.py (periodic compaction). Private: _watch.py (watch fan-out for drivers
that own their log), _common.py (shared checks). One contract suite,
tests/unit/storage/test_contract.py, runs against every driver.
"""

from podplane.storage.compactor import compact_once, run_compactor
from podplane.storage.errors import (
    CompactedError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
    StorageConfigError,
    StorageError,
    StorageUnavailableError,
    WatcherOverflowError,
)
from podplane.storage.interface import DELETE, PUT, Backend, Event, KeyValue, ListResult, Watcher
from podplane.storage.registry import DRIVERS, open_backend

__all__ = [
    "DELETE",
    "DRIVERS",
    "PUT",
    "Backend",
    "CompactedError",
    "Event",
    "FutureRevisionError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "ListResult",
    "RevisionConflictError",
    "StorageConfigError",
    "StorageError",
    "StorageUnavailableError",
    "Watcher",
    "WatcherOverflowError",
    "compact_once",
    "open_backend",
    "run_compactor",
]
