"""sqlite:// specifics beyond the shared contract: durability on disk, the file lock, key ranges."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from podplane.storage import DELETE, PUT, KeyValue, StorageUnavailableError
from podplane.storage._common import prefix_end
from podplane.storage.sqlite import SqliteBackend


async def test_data_survives_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "nested" / "state.db")  # the directory is created
    async with SqliteBackend(path) as store:
        await store.create("/a", b"a1")  # 1
        await store.update("/a", b"a2", 1)  # 2
        await store.create("/b", b"\x00binary\xff")  # 3
        await store.delete("/b")  # 4
        await store.create("/c", b"c1")  # 5

    async with SqliteBackend(path) as store:
        assert await store.current_revision() == 5
        assert (await store.list("/")).kvs == [KeyValue("/a", b"a2", 1, 2), KeyValue("/c", b"c1", 5, 5)]
        assert (await store.list("/", revision=3)).kvs == [
            KeyValue("/a", b"a2", 1, 2),
            KeyValue("/b", b"\x00binary\xff", 3, 3),
        ]
        watcher = store.watch("/", 2)
        events = await anext(watcher)
        assert [(e.type, e.kv.key, e.revision) for e in events] == [(PUT, "/b", 3), (DELETE, "/b", 4), (PUT, "/c", 5)]
        assert events[1].prev_kv == KeyValue("/b", b"\x00binary\xff", 3, 3)
        watcher.close()


# Writes keys forever, printing each revision once create() has returned.
_WRITER = """
import asyncio, sys
from podplane.storage.sqlite import SqliteBackend

async def main():
    async with SqliteBackend(sys.argv[1]) as store:
        for i in range(1_000_000):
            print(await store.create(f"/k/{i:07d}", b"v" * 100), flush=True)

asyncio.run(main())
"""


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    with subprocess.Popen([sys.executable, "-c", _WRITER, path], stdout=subprocess.PIPE, text=True) as writer:
        try:
            acknowledged = [int(writer.stdout.readline()) for _ in range(200)]  # type: ignore[union-attr]
        finally:
            writer.send_signal(signal.SIGKILL)
    assert acknowledged == list(range(1, 201))

    async def check() -> None:
        async with SqliteBackend(path) as store:
            assert await store.current_revision() >= 200
            kvs = (await store.list("/k/", limit=200)).kvs
            assert [kv.mod_revision for kv in kvs] == acknowledged

    asyncio.run(check())


async def test_compaction_survives_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    async with SqliteBackend(path) as store:
        for i in range(5):
            await store.create(f"/k/{i}", b"v")
        await store.update("/k/0", b"v2", 1)  # 6
        await store.delete("/k/1")  # 7
        await store.update("/k/2", b"v2", 3)  # 8
        await store.compact(7)
    with closing(sqlite3.connect(path)) as conn:
        # Gone: superseded row 1, the deleted key's rows 2 and 7. Row 3 is superseded
        # only after the compact revision, so it stays (it is row 8's prev_kv).
        assert [row[0] for row in conn.execute("SELECT id FROM log ORDER BY id")] == [3, 4, 5, 6, 8]
    async with SqliteBackend(path) as store:
        assert store.compacted_revision == 7
        assert await store.count("/k/") == 4


async def test_second_process_is_locked_out(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    async with SqliteBackend(path) as store:
        await store.create("/a", b"v")
        with pytest.raises(StorageUnavailableError, match="locked"):
            await SqliteBackend(path, busy_timeout=0.01).start()
    async with SqliteBackend(path) as store:  # free again once closed
        assert await store.current_revision() == 1


@pytest.mark.parametrize("durable", [pytest.param(True, id="full"), pytest.param(False, id="normal")])
async def test_synchronous_mode_follows_durable(tmp_path: Path, durable: bool) -> None:
    async with SqliteBackend(str(tmp_path / "state.db"), durable=durable) as store:
        (mode,) = store._connection().execute("PRAGMA synchronous").fetchone()
        (journal,) = store._connection().execute("PRAGMA journal_mode").fetchone()
    assert (mode, journal) == (2 if durable else 1, "wal")


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        pytest.param("", None, id="empty-means-unbounded"),
        pytest.param("/a/b/", "/a/b0", id="slash"),
        pytest.param("/a/b", "/a/c", id="letter"),
        pytest.param("/a\U0010ffff", "/b", id="max-code-point-carries"),
        pytest.param("\U0010ffff", None, id="all-max"),
        pytest.param("/\ud7ff", "/\ue000", id="skips-surrogates"),
    ],
)
def test_prefix_end(prefix: str, end: str | None) -> None:
    assert prefix_end(prefix) == end
