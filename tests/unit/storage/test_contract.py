"""The storage contract, run against every driver (storage/interface.py states it).

Each test gets a fresh, started store from `store` (or opens its own with
`open_store` when it needs options or a restart). Watch tests await events with
short timeouts only so a broken driver fails instead of hanging; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import gc
import random
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from podplane.storage import (
    DELETE,
    PUT,
    Backend,
    CompactedError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionConflictError,
    StorageError,
    StorageUnavailableError,
    Watcher,
    WatcherOverflowError,
    compact_once,
    open_backend,
    run_compactor,
)

TIMEOUT = 5.0  # only bounds waits for events that should already be on their way


@dataclass(frozen=True)
class Driver:
    scheme: str
    persistent: bool  # data survives close() + start() of a new backend on the same URL


DRIVERS = [
    pytest.param(Driver("memory", persistent=False), id="memory"),
    pytest.param(Driver("sqlite", persistent=True), id="sqlite"),
]

OpenStore = Callable[..., Awaitable[Backend]]


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> Driver:
    return request.param


@pytest.fixture
async def open_store(driver: Driver, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """Opens and starts stores of the driver under test (same data dir each time); closes them all."""
    opened: list[Backend] = []

    async def open_(**options: object) -> Backend:
        backend = open_backend(f"{driver.scheme}://", data_dir=str(tmp_path), **options)
        await backend.start()
        opened.append(backend)
        return backend

    yield open_
    for backend in opened:
        await backend.close()


@pytest.fixture
async def store(open_store: OpenStore) -> Backend:
    return await open_store()


# -- helpers


async def next_batch(watcher: Watcher) -> list[Event]:
    batch = await asyncio.wait_for(anext(watcher), TIMEOUT)
    assert batch, "watchers never yield empty batches"
    return batch


async def collect(watcher: Watcher, count: int) -> list[Event]:
    events: list[Event] = []
    while len(events) < count:
        events += await next_batch(watcher)
    assert len(events) == count, f"got more events than expected: {summarize(events)}"
    return events


def summarize(events: list[Event]) -> list[tuple[str, str, bytes, int]]:
    return [(e.type, e.kv.key, e.kv.value, e.revision) for e in events]


def keys_of(kvs: list[KeyValue]) -> list[str]:
    return [kv.key for kv in kvs]


async def fill(store: Backend, prefix: str, count: int) -> list[int]:
    return [await store.create(f"{prefix}{i:04d}", f"v{i}".encode()) for i in range(count)]


# -- basic reads and writes


async def test_empty_store(store: Backend) -> None:
    assert await store.current_revision() == 0
    assert store.compacted_revision == 0
    assert await store.get("/a") is None
    result = await store.list("")
    assert (result.kvs, result.revision, result.more) == ([], 0, False)
    assert await store.count("") == 0


async def test_create_get_update_delete(store: Backend) -> None:
    assert await store.create("/a", b"v1") == 1
    assert await store.get("/a") == KeyValue("/a", b"v1", create_revision=1, mod_revision=1)

    assert await store.update("/a", b"v2", expected_revision=1) == 2
    assert await store.get("/a") == KeyValue("/a", b"v2", create_revision=1, mod_revision=2)

    assert await store.create("/b", b"b") == 3
    revision, deleted = await store.delete("/a", expected_revision=2)
    assert (revision, deleted) == (4, KeyValue("/a", b"v2", 1, 2))
    assert await store.get("/a") is None
    assert await store.current_revision() == 4

    # A re-created key starts a new life: new create_revision.
    assert await store.create("/a", b"again") == 5
    assert await store.get("/a") == KeyValue("/a", b"again", 5, 5)


async def test_unconditional_update_and_delete(store: Backend) -> None:
    await store.create("/a", b"v1")
    await store.update("/a", b"v2", expected_revision=1)
    assert await store.update("/a", b"v3", expected_revision=0) == 3
    assert await store.delete("/a") == (4, KeyValue("/a", b"v3", 1, 3))


@pytest.mark.parametrize(
    ("write", "error"),
    [
        pytest.param(lambda s: s.create("/k", b"x"), KeyExistsError, id="create-existing"),
        pytest.param(lambda s: s.update("/missing", b"x", 1), KeyNotFoundError, id="update-missing"),
        pytest.param(lambda s: s.update("/missing", b"x", 0), KeyNotFoundError, id="update-missing-unconditional"),
        pytest.param(lambda s: s.update("/k", b"x", 1), RevisionConflictError, id="update-stale"),
        pytest.param(lambda s: s.update("/k", b"x", 3), RevisionConflictError, id="update-future"),
        pytest.param(lambda s: s.delete("/missing"), KeyNotFoundError, id="delete-missing"),
        pytest.param(lambda s: s.delete("/gone"), KeyNotFoundError, id="delete-deleted"),
        pytest.param(lambda s: s.delete("/k", 1), RevisionConflictError, id="delete-stale"),
    ],
)
async def test_failed_writes_change_nothing(
    store: Backend, write: Callable[[Backend], Awaitable[object]], error: type[StorageError]
) -> None:
    await store.create("/k", b"v1")  # 1
    await store.update("/k", b"v2", 1)  # 2
    await store.create("/gone", b"g")  # 3
    await store.delete("/gone")  # 4
    watcher = store.watch("", 0)

    with pytest.raises(error) as info:
        await write(store)

    if isinstance(info.value, RevisionConflictError):
        assert info.value.key == "/k"
        assert info.value.current == KeyValue("/k", b"v2", 1, 2)
    assert await store.current_revision() == 4
    assert keys_of((await store.list("")).kvs) == ["/k"]
    # The next write gets the next revision, and no event was emitted for the failure.
    assert await store.create("/next", b"n") == 5
    assert summarize(await next_batch(watcher)) == [(PUT, "/next", b"n", 5)]


# -- lists


async def test_list_is_sorted_by_code_point(store: Backend) -> None:
    keys = ["/x/b", "/x/a", "/x/\u00e9", "/x/Z", "/x/a0", "/x/a/b", "/x/\U0001f600", "/x/-"]
    random.Random(7).shuffle(keys)
    for key in keys:
        await store.create(key, key.encode())

    result = await store.list("/x/")
    assert keys_of(result.kvs) == sorted(keys)
    assert [kv.value for kv in result.kvs] == [k.encode() for k in sorted(keys)]
    assert (result.revision, result.more) == (len(keys), False)


PREFIX_KEYS = ["/a/b", "/a/b/1", "/a/b/2", "/a/bc/1", "/a/c/1", "/b/1"]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        pytest.param("/a/b/", ["/a/b/1", "/a/b/2"], id="dir-excludes-sibling-with-longer-name"),
        pytest.param("/a/bc/", ["/a/bc/1"], id="longer-sibling"),
        pytest.param("/a/b", ["/a/b", "/a/b/1", "/a/b/2", "/a/bc/1"], id="no-slash-is-a-plain-prefix"),
        pytest.param("/a/b/1", ["/a/b/1"], id="exact-key"),
        pytest.param("", PREFIX_KEYS, id="everything"),
        pytest.param("/z/", [], id="nothing"),
    ],
)
async def test_prefix_isolation(store: Backend, prefix: str, expected: list[str]) -> None:
    for key in PREFIX_KEYS:
        await store.create(key, b"v")
    await store.delete("/a/c/1")  # deleted keys are in no list or count
    expected = [k for k in expected if k != "/a/c/1"]

    assert keys_of((await store.list(prefix)).kvs) == expected
    assert keys_of((await store.list(prefix, revision=await store.current_revision() - 1)).kvs) == [
        k for k in PREFIX_KEYS if k.startswith(prefix)
    ]
    assert await store.count(prefix) == len(expected)


async def test_paging_at_fixed_revision_while_writing(store: Backend) -> None:
    await fill(store, "/p/", 10)  # /p/0000 .. /p/0009, revisions 1..10
    expected = (await store.list("/p/")).kvs

    first = await store.list("/p/", limit=4)
    assert keys_of(first.kvs) == [f"/p/{i:04d}" for i in range(4)]
    assert (first.revision, first.more) == (10, True)

    # Writes between pages must not show up in a paged list pinned to a revision.
    await store.delete("/p/0005")
    await store.update("/p/0006", b"changed", 0)
    await store.create("/p/0004a", b"new")
    await store.create("/p/9999", b"new")

    pages = [first]
    while pages[-1].more:
        pages.append(await store.list("/p/", revision=first.revision, limit=4, start_after=pages[-1].kvs[-1].key))
    assert [len(p.kvs) for p in pages] == [4, 4, 2]
    assert {p.revision for p in pages} == {10}
    assert [kv for p in pages for kv in p.kvs] == expected

    latest = await store.list("/p/", start_after="/p/0003", limit=3)
    assert keys_of(latest.kvs) == ["/p/0004", "/p/0004a", "/p/0006"]
    assert (latest.revision, latest.more) == (14, True)


@pytest.mark.parametrize(
    ("limit", "more"),
    [
        pytest.param(0, False, id="unlimited"),
        pytest.param(2, True, id="fewer"),
        pytest.param(3, False, id="exactly-all"),
        pytest.param(5, False, id="more-than-all"),
    ],
)
async def test_list_limit(store: Backend, limit: int, more: bool) -> None:
    await fill(store, "/l/", 3)
    await store.create("/m/after", b"x")  # a key past the prefix must not count as "more"
    result = await store.list("/l/", limit=limit)
    assert len(result.kvs) == min(limit or 3, 3)
    assert result.more is more


@pytest.mark.parametrize(
    ("revision", "expected"),
    [
        pytest.param(1, [("/a", b"a1", 1, 1)], id="after-create"),
        pytest.param(2, [("/a", b"a2", 1, 2)], id="after-update"),
        pytest.param(3, [("/a", b"a2", 1, 2), ("/b", b"b1", 3, 3)], id="two-keys"),
        pytest.param(4, [("/b", b"b1", 3, 3)], id="after-delete"),
        pytest.param(5, [("/a", b"a3", 5, 5), ("/b", b"b1", 3, 3)], id="recreated"),
        pytest.param(0, [("/a", b"a3", 5, 5), ("/b", b"b1", 3, 3)], id="zero-is-latest"),
    ],
)
async def test_list_at_older_revision(store: Backend, revision: int, expected: list[tuple]) -> None:
    await store.create("/a", b"a1")  # 1
    await store.update("/a", b"a2", 1)  # 2
    await store.create("/b", b"b1")  # 3
    await store.delete("/a")  # 4
    await store.create("/a", b"a3")  # 5

    result = await store.list("/", revision=revision)
    assert [(kv.key, kv.value, kv.create_revision, kv.mod_revision) for kv in result.kvs] == expected
    assert result.revision == (revision or 5)


async def test_list_future_revision(store: Backend) -> None:
    await store.create("/a", b"a")
    with pytest.raises(FutureRevisionError) as info:
        await store.list("/", revision=2)
    assert (info.value.revision, info.value.current_revision) == (2, 1)


# -- compaction


async def _history_for_compaction(store: Backend) -> None:
    await store.create("/a", b"a1")  # 1
    await store.update("/a", b"a2", 1)  # 2
    await store.create("/b", b"b1")  # 3
    await store.delete("/b")  # 4
    await store.create("/c", b"c1")  # 5
    await store.update("/a", b"a3", 2)  # 6
    await store.compact(5)


async def test_compaction_keeps_live_values(store: Backend) -> None:
    await _history_for_compaction(store)

    assert store.compacted_revision == 5
    assert await store.current_revision() == 6
    at_compaction = await store.list("/", revision=5)
    assert at_compaction.kvs == [KeyValue("/a", b"a2", 1, 2), KeyValue("/c", b"c1", 5, 5)]
    assert (await store.list("/")).kvs == [KeyValue("/a", b"a3", 1, 6), KeyValue("/c", b"c1", 5, 5)]
    assert await store.get("/a") == KeyValue("/a", b"a3", 1, 6)
    assert await store.count("/") == 2
    # The compacted-away key can be created again, and revisions keep counting.
    assert await store.create("/b", b"b2") == 7


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda s: s.list("/", revision=4), id="list"),
        pytest.param(lambda s: s.list("/", revision=1, limit=1, start_after="/a"), id="list-page"),
        pytest.param(lambda s: s.watch("/", 4), id="watch"),
        pytest.param(lambda s: s.watch("/", 1), id="watch-oldest"),
    ],
)
async def test_reads_below_compaction_fail(store: Backend, read: Callable[[Backend], object]) -> None:
    await _history_for_compaction(store)
    with pytest.raises(CompactedError) as info:
        result = read(store)
        if asyncio.iscoroutine(result):
            await result
        else:
            await next_batch(result)
    assert (info.value.compact_revision, info.value.current_revision) == (5, 6)


async def test_watch_from_compacted_revision_replays_after_it(store: Backend) -> None:
    await _history_for_compaction(store)
    await store.delete("/c")  # 7: its prev value (revision 5) survived compaction

    watcher = store.watch("/", 5)
    events = await collect(watcher, 2)
    assert events == [
        Event(PUT, KeyValue("/a", b"a3", 1, 6), prev_kv=KeyValue("/a", b"a2", 1, 2)),
        Event(DELETE, KeyValue("/c", b"c1", 5, 7), prev_kv=KeyValue("/c", b"c1", 5, 5)),
    ]


@pytest.mark.parametrize(
    ("revision", "error"),
    [
        pytest.param(5, None, id="again-is-a-no-op"),
        pytest.param(3, None, id="older-is-a-no-op"),
        pytest.param(7, FutureRevisionError, id="future"),
    ],
)
async def test_compact_bounds(store: Backend, revision: int, error: type[Exception] | None) -> None:
    await _history_for_compaction(store)
    if error is None:
        await store.compact(revision)
    else:
        with pytest.raises(error):
            await store.compact(revision)
    assert store.compacted_revision == 5


async def test_compaction_overtaking_a_pending_replay(store: Backend) -> None:
    await fill(store, "/r/", 5)
    watcher = store.watch("/r/", 1)  # replay is read lazily, on iteration
    await store.compact(4)
    with pytest.raises(CompactedError):
        await next_batch(watcher)


@pytest.mark.parametrize(
    ("retain", "compacted"),
    [
        pytest.param(5, 15, id="behind-current"),
        pytest.param(0, 20, id="everything"),
        pytest.param(20, 0, id="nothing-old-enough"),
        pytest.param(100, 0, id="retain-more-than-history"),
    ],
)
async def test_compact_once(store: Backend, retain: int, compacted: int) -> None:
    await fill(store, "/k/", 20)
    assert await compact_once(store, retain=retain) == (compacted or None)
    assert store.compacted_revision == compacted
    assert await compact_once(store, retain=retain) is None  # nothing new to do
    assert await store.count("/k/") == 20


async def test_run_compactor_until_stopped(store: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    compactions: asyncio.Queue[int] = asyncio.Queue()
    compact = store.compact

    async def recording_compact(revision: int) -> None:
        await compact(revision)
        compactions.put_nowait(revision)

    monkeypatch.setattr(store, "compact", recording_compact)
    await fill(store, "/k/", 20)
    stop = asyncio.Event()
    task = asyncio.create_task(run_compactor(store, interval=0, retain=5, stop=stop))

    assert await asyncio.wait_for(compactions.get(), TIMEOUT) == 15
    await fill(store, "/more/", 10)
    seen = [await asyncio.wait_for(compactions.get(), TIMEOUT)]
    while seen[-1] < 25:  # a driver that yields during writes may let it compact in between
        seen.append(await asyncio.wait_for(compactions.get(), TIMEOUT))
    assert seen == sorted(set(seen)) and seen[-1] == 25
    stop.set()
    await asyncio.wait_for(task, TIMEOUT)
    assert store.compacted_revision == 25


# -- watch


async def test_watch_replays_history_then_follows_live(store: Backend) -> None:
    await store.create("/w/a", b"a1")  # 1
    await store.update("/w/a", b"a2", 1)  # 2
    await store.create("/other", b"x")  # 3
    await store.delete("/w/a")  # 4
    await store.create("/w/b", b"b1")  # 5

    watcher = store.watch("/w/", 1)
    replayed = await collect(watcher, 3)
    assert replayed == [
        Event(PUT, KeyValue("/w/a", b"a2", 1, 2), prev_kv=KeyValue("/w/a", b"a1", 1, 1)),
        Event(DELETE, KeyValue("/w/a", b"a2", 1, 4), prev_kv=KeyValue("/w/a", b"a2", 1, 2)),
        Event(PUT, KeyValue("/w/b", b"b1", 5, 5), prev_kv=None),
    ]
    assert [e.created for e in replayed] == [False, False, True]

    await store.update("/w/b", b"b2", 5)
    assert await next_batch(watcher) == [
        Event(PUT, KeyValue("/w/b", b"b2", 5, 6), prev_kv=KeyValue("/w/b", b"b1", 5, 5))
    ]


async def test_long_replay_meets_live_writes_without_gap_or_duplicate(store: Backend) -> None:
    # More history than one batch, with live writes landing while it is replayed.
    for i in range(2500):
        await store.create(f"/{'m' if i % 2 else 'n'}/{i:05d}", b"v")
    watcher = store.watch("/m/", 1)
    expected = [e for e in range(2, 2501) if e % 2 == 0]

    seen: list[int] = []
    live, total = 0, len(expected) + 20
    while len(seen) < total:
        seen += [e.revision for e in await next_batch(watcher)]
        if live < 20:  # a write after every batch until 20 were made
            expected.append(await store.create(f"/m/live{live:02d}", b"v"))
            live += 1
    assert seen == expected


async def test_watch_from_now_skips_history(store: Backend) -> None:
    await fill(store, "/k/", 3)
    watcher = store.watch("/k/", 0)
    await store.create("/k/new", b"n")
    assert summarize(await next_batch(watcher)) == [(PUT, "/k/new", b"n", 4)]


async def test_watch_from_a_future_revision(store: Backend) -> None:
    await store.create("/k/0", b"v")
    watcher = store.watch("/k/", 3)
    await fill(store, "/k/x", 3)  # revisions 2, 3, 4
    assert [e.revision for e in await next_batch(watcher)] == [4]


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param("/a/b/", id="dir"),
        pytest.param("/a/b/x", id="exact-key"),
    ],
)
async def test_watch_prefix_filter(store: Backend, prefix: str) -> None:
    watcher = store.watch(prefix, 0)
    for key in ["/a/bc/x", "/a/b", "/a/c/x", "/b/x", "/a/", "/a/b/x"]:
        await store.create(key, b"v")
    # Everything before the matching key was filtered out, so it comes first.
    assert summarize(await next_batch(watcher)) == [(PUT, "/a/b/x", b"v", 6)]


@pytest.mark.parametrize("replayed", [pytest.param(False, id="live"), pytest.param(True, id="replayed")])
async def test_delete_event_carries_last_value(store: Backend, replayed: bool) -> None:
    watcher = None if replayed else store.watch("/d/", 0)
    await store.create("/d/k", b"first")  # 1
    await store.update("/d/k", b"last", 1)  # 2
    await store.delete("/d/k", 2)  # 3
    if watcher is None:
        watcher = store.watch("/d/", 1)
        events = await collect(watcher, 2)
    else:
        events = await collect(watcher, 3)

    delete = events[-1]
    assert delete.type == DELETE
    assert delete.kv == KeyValue("/d/k", b"last", create_revision=1, mod_revision=3)
    assert delete.prev_kv == KeyValue("/d/k", b"last", create_revision=1, mod_revision=2)
    assert not delete.created


async def test_watcher_overflow_does_not_block_writers(open_store: OpenStore) -> None:
    store = await open_store(watch_queue_size=10)
    await store.create("/o/start", b"s")  # 1
    stuck = store.watch("/o/", 0)  # never read while writing
    reader = store.watch("/o/", 0)

    async def write_all() -> list[int]:
        revisions = []
        for i in range(50):
            revisions.append(await store.create(f"/o/{i:03d}", b"v"))
            await asyncio.sleep(0)  # like request handlers do, give the reader a turn
        return revisions

    async def read_all() -> list[int]:
        return [e.revision for e in await collect(reader, 50)]

    # Writers finish although `stuck` holds a full queue; a reader keeping up sees everything.
    written, read = await asyncio.wait_for(asyncio.gather(write_all(), read_all()), TIMEOUT)
    assert read == written == list(range(2, 52))

    with pytest.raises(WatcherOverflowError) as info:
        await next_batch(stuck)
    assert info.value.last_revision == 1
    with pytest.raises(StopAsyncIteration):
        await anext(stuck)

    # Re-watching from the reported revision catches up from history.
    again = store.watch("/o/", info.value.last_revision)
    assert [e.revision for e in await collect(again, 50)] == written


async def test_many_concurrent_watchers(store: Backend) -> None:
    prefixes = [f"/c/{i}/" for i in range(10)]
    watchers = [(prefix, store.watch(prefix, 0)) for prefix in prefixes for _ in range(10)]
    writes = [(prefixes[i % 7], i) for i in range(300)]  # 7 prefixes get writes, 3 none
    per_prefix = {p: sum(1 for q, _ in writes if q == p) for p in prefixes}
    active = [(p, w) for p, w in watchers if per_prefix[p]]

    async def consume(watcher: Watcher, count: int) -> list[int]:
        return [e.revision for e in await collect(watcher, count)]

    async def produce() -> dict[str, list[int]]:
        revisions: dict[str, list[int]] = {p: [] for p in prefixes}
        for prefix, i in writes:
            revisions[prefix].append(await store.create(f"{prefix}{i:04d}", b"v"))
            if i % 10 == 0:
                await asyncio.sleep(0)  # let consumers interleave with the writes
        return revisions

    results = await asyncio.wait_for(
        asyncio.gather(produce(), *(consume(w, per_prefix[p]) for p, w in active)), TIMEOUT
    )
    revisions, seen = results[0], results[1:]
    for (prefix, _), got in zip(active, seen, strict=True):
        assert got == revisions[prefix]


async def test_closing_a_watcher_ends_iteration(store: Backend) -> None:
    watcher = store.watch("/", 0)
    waiting = asyncio.create_task(anext(watcher))
    await asyncio.sleep(0)  # let it start waiting
    watcher.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, TIMEOUT)
    await store.create("/after", b"v")  # a closed watcher is no longer offered events
    with pytest.raises(StopAsyncIteration):
        await anext(watcher)


async def test_closing_the_store_ends_watchers_and_refuses_calls(store: Backend) -> None:
    async with store.watch("/", 0) as watcher:
        await store.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(watcher), TIMEOUT)
    with pytest.raises(StorageUnavailableError):
        await store.create("/k", b"v")
    with pytest.raises(StorageUnavailableError):
        await store.list("/")
    with pytest.raises(StorageUnavailableError):
        store.watch("/", 0)
    await store.close()  # idempotent


async def test_dropped_watchers_stop_receiving(store: Backend) -> None:
    watcher = store.watch("/", 0)
    ref = weakref.ref(watcher)
    del watcher
    gc.collect()
    assert ref() is None  # the store holds no strong reference to a watcher nobody reads
    assert await store.create("/k", b"v") == 1


# -- restart


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param("writes", id="after-writes"),
        pytest.param("deleted-and-compacted", id="after-deleting-everything-and-compacting"),
    ],
)
async def test_revisions_keep_increasing_across_restart(driver: Driver, open_store: OpenStore, scenario: str) -> None:
    if not driver.persistent:
        pytest.skip(f"{driver.scheme}:// keeps nothing across a restart")
    store = await open_store()
    revisions = await fill(store, "/k/", 5)
    if scenario == "deleted-and-compacted":
        for i in range(5):
            revisions.append((await store.delete(f"/k/{i:04d}"))[0])
        await store.compact(revisions[-1])
    await store.close()

    reopened = await open_store()
    assert await reopened.current_revision() == revisions[-1]
    assert reopened.compacted_revision == (revisions[-1] if scenario != "writes" else 0)
    assert await reopened.create("/k/next", b"n") == revisions[-1] + 1
    assert await reopened.current_revision() > max(revisions)

