"""Datastore URL -> storage driver.

`open_backend(url)` reads the scheme and hands the URL to that driver's `open_url`
(storage/sqlite.py, storage/memory.py). It returns an unstarted `Backend`: the
composition root (server.py) awaits `start()` (or uses `async with`) and passes it
to the apiserver, the only component that talks to storage.

To add a driver, write storage/<name>.py with an
`open_url(url, *, data_dir, **options) -> Backend` and register it in DRIVERS.
"""

from __future__ import annotations

from typing import Any, Protocol

from podplane.storage import memory, sqlite
from podplane.storage.errors import StorageConfigError
from podplane.storage.interface import Backend

__all__ = ["DRIVERS", "DriverOpener", "open_backend"]


class DriverOpener(Protocol):
    def __call__(self, url: str, *, data_dir: str | None = None, **options: Any) -> Backend: ...


DRIVERS: dict[str, DriverOpener] = {
    "sqlite": sqlite.open_url,
    "memory": memory.open_url,
    # "etcd": etcd.open_url -- etcd v3 through its JSON gateway (DESIGN.md §4),
    # `etcd://host:port,host:port`; to be added as storage/etcd.py.
}


def open_backend(url: str, *, data_dir: str | None = None, **options: Any) -> Backend:
    """The driver for `url`, not yet started.

    data_dir: where drivers that keep files put them when the URL names no path
        (`sqlite://` -> <data_dir>/state.db).
    options: driver constructor options, e.g. sqlite's `durable` or any driver's
        `watch_queue_size`.
    Raises StorageConfigError for an unknown scheme or a malformed URL.
    """
    scheme, separator, _ = url.partition("://")
    if not separator:
        raise StorageConfigError(
            f"datastore URL {url!r} has no scheme, e.g. sqlite:///var/lib/podplane/state.db;"
            f" use one of {sorted(DRIVERS)}"
        )
    opener = DRIVERS.get(scheme.lower())
    if opener is None:
        # Only the scheme is echoed: the rest of a URL may hold credentials.
        raise StorageConfigError(f"unknown datastore {scheme!r}; use one of {sorted(DRIVERS)}")
    return opener(url, data_dir=data_dir, **options)
