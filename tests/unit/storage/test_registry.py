"""Datastore URLs -> drivers (storage/registry.py)."""

from __future__ import annotations

import os

import pytest

from podplane.storage import DRIVERS, StorageConfigError, open_backend
from podplane.storage.memory import MemoryBackend
from podplane.storage.sqlite import SqliteBackend


def test_known_drivers() -> None:
    assert sorted(DRIVERS) == ["memory", "sqlite"]


@pytest.mark.parametrize(
    ("url", "data_dir", "expected_path"),
    [
        pytest.param("sqlite:///abs/path/state.db", None, "/abs/path/state.db", id="absolute-path"),
        pytest.param("sqlite:///abs/path/state.db", "/data", "/abs/path/state.db", id="path-beats-data-dir"),
        pytest.param("sqlite://", "/data", os.path.join("/data", "state.db"), id="data-dir"),
        pytest.param("SQLITE://", "/data", os.path.join("/data", "state.db"), id="scheme-case-insensitive"),
    ],
)
def test_sqlite_urls(url: str, data_dir: str | None, expected_path: str) -> None:
    backend = open_backend(url, data_dir=data_dir)
    assert isinstance(backend, SqliteBackend)
    assert backend.path == expected_path


def test_memory_url() -> None:
    assert isinstance(open_backend("memory://"), MemoryBackend)


def test_options_reach_the_driver() -> None:
    with pytest.raises(TypeError):
        open_backend("memory://", no_such_option=1)


@pytest.mark.parametrize(
    ("url", "data_dir", "message"),
    [
        pytest.param("postgres://user:secret@db/x", None, "unknown datastore 'postgres'; use one of ['memory', 'sqlite']",
                     id="unknown-scheme"),
        pytest.param("state.db", None, "has no scheme", id="no-scheme"),
        pytest.param("sqlite://", None, "needs a data dir", id="sqlite-without-path-or-data-dir"),
        pytest.param("sqlite://relative/state.db", "/data", "three slashes", id="sqlite-host-part"),
    ],
)
def test_bad_urls(url: str, data_dir: str | None, message: str) -> None:
    with pytest.raises(StorageConfigError) as info:
        open_backend(url, data_dir=data_dir)
    assert message in str(info.value)
    assert "secret" not in str(info.value)
    assert isinstance(info.value, ValueError)  # config errors are also plain ValueErrors
