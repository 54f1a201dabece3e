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


# -- group commit -----------------------------------------------------------------------------------


async def test_concurrent_writes_share_commits_and_keep_their_order(tmp_path: Path) -> None:
    async with SqliteBackend(str(tmp_path / "state.db")) as store:
        watcher = store.watch("/", 0)
        revisions = await asyncio.gather(*(store.create(f"/k/{i:03d}", b"v") for i in range(100)))
        assert sorted(revisions) == list(range(1, 101))
        # one write per call, far fewer fsyncs than writes
        assert store.writes == 100 and store.commits < 50
        events = []
        while len(events) < 100:
            events += await asyncio.wait_for(anext(watcher), 5)
        assert [e.revision for e in events] == list(range(1, 101))
        assert {e.kv.key: e.revision for e in events} == {f"/k/{i:03d}": r for i, r in enumerate(revisions)}
        watcher.close()


async def test_checks_inside_one_batch_see_the_earlier_writes_of_the_batch(tmp_path: Path) -> None:
    from podplane.storage import KeyExistsError, RevisionConflictError

    async with SqliteBackend(str(tmp_path / "state.db")) as store:
        await store.create("/a", b"1")  # 1
        results = await asyncio.gather(
            store.create("/b", b"1"),  # 2
            store.create("/b", b"again"),  # the first create of /b is in this batch
            store.update("/a", b"2", 1),  # 3
            store.update("/a", b"3", 1),  # stale: /a is at 3 by now
            store.delete("/b", 2),  # 4
            return_exceptions=True,
        )
        assert results[0] == 2 and results[2] == 3
        assert isinstance(results[1], KeyExistsError)
        assert isinstance(results[3], RevisionConflictError) and results[3].current.mod_revision == 3
        assert results[4] == (4, KeyValue("/b", b"1", 2, 2))
        assert await store.current_revision() == 4
        assert (await store.list("/")).kvs == [KeyValue("/a", b"2", 1, 3)]


async def test_a_failed_commit_fails_its_whole_batch_and_consumes_no_revision(tmp_path: Path) -> None:
    async with SqliteBackend(str(tmp_path / "state.db")) as store:
        await store.create("/a", b"1")
        real_commit = store._commit

        def failing_commit(conn: sqlite3.Connection) -> None:
            conn.execute("ROLLBACK")
            raise StorageUnavailableError("disk on fire")

        store._commit = failing_commit  # type: ignore[method-assign]
        results = await asyncio.gather(store.create("/b", b"1"), store.update("/a", b"2", 1),
                                       return_exceptions=True)
        assert all(isinstance(r, StorageUnavailableError) for r in results)
        assert await store.current_revision() == 1
        store._commit = real_commit  # type: ignore[method-assign]
        assert await store.create("/b", b"1") == 2  # the failed batch used no revision
        assert (await store.list("/")).kvs == [KeyValue("/a", b"1", 1, 1), KeyValue("/b", b"1", 2, 2)]


async def test_reads_reflect_the_published_revision_while_a_commit_is_being_flushed(tmp_path: Path) -> None:
    # A commit becomes durable (and visible to the reader connection) in the worker
    # thread a moment before the event loop publishes it: a list at the current
    # revision must still answer as of that revision, not include the newer change.
    import threading

    async with SqliteBackend(str(tmp_path / "state.db")) as store:
        await store.create("/a", b"1")
        committed, release = threading.Event(), threading.Event()
        real_commit = store._commit

        def slow_commit(conn: sqlite3.Connection) -> None:
            real_commit(conn)
            committed.set()
            release.wait(5)

        store._commit = slow_commit  # type: ignore[method-assign]
        pending = asyncio.ensure_future(store.update("/a", b"2", 1))
        await asyncio.get_running_loop().run_in_executor(None, committed.wait, 5)
        listed = await store.list("/")
        assert listed.revision == 1 and listed.kvs == [KeyValue("/a", b"1", 1, 1)]
        release.set()
        assert await pending == 2
        assert (await store.list("/")).kvs == [KeyValue("/a", b"2", 1, 2)]


async def test_a_cancelled_writer_does_not_disturb_the_batch(tmp_path: Path) -> None:
    async with SqliteBackend(str(tmp_path / "state.db")) as store:
        gone = asyncio.ensure_future(store.create("/gone", b"1"))
        kept = asyncio.ensure_future(store.create("/kept", b"1"))
        await asyncio.sleep(0)  # both queued
        gone.cancel()
        assert await kept in (1, 2)
        # the cancelled write may still have committed (as with etcd); the store goes on
        assert await store.create("/after", b"1") == await store.current_revision()
