"""`sqlite://`: the default durable driver, an append-only change log in one SQLite file.

Tables (see _SCHEMA): `log` has one row per change with id = revision, and is what
snapshot reads and watch replay query; `current` maps each live key to its latest
log row, so a latest-revision list is one ordered range scan; `meta` persists the
compacted revision. WAL mode with synchronous=FULL means an acknowledged write
survives kill -9 and power loss; `durable=False` trades that for speed.

Flow: two connections. The writer connection is the single writer (an exclusive
lock on `<file>-lock` keeps a second process off the file, which would otherwise
fork the revision counter). Writes are group-committed: each call queues its change
and waits; a flush task applies every queued change (checks, append to `log`, update
`current`) in one transaction on the event loop thread, then runs the COMMIT, whose
fsync is the slow part, in a worker thread, so the loop keeps serving while the disk
syncs and the writes that arrive meanwhile share the next fsync. Only once the
commit is durable does the flush advance the revision, publish the events to the
`WatchHub` (storage/_watch.py) in revision order and acknowledge the writes; a failed
commit fails every write of its batch and consumes no revision. Reads use the reader
connection on the loop thread and see committed data only (WAL snapshots).
On restart the counter continues from the log (and the compacted revision, which
may be higher if compaction removed the newest row). memory.py is the reference
this driver must match; registry.py opens it from a URL.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from podplane.storage._common import check_watch_start, prefix_end, require_open, resolve_read_revision
from podplane.storage._watch import DEFAULT_WATCH_QUEUE_SIZE, LogWatcher, WatchHub
from podplane.storage.errors import (
    CompactedError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
    StorageConfigError,
    StorageError,
    StorageUnavailableError,
)
from podplane.storage.interface import DELETE, PUT, Backend, Event, KeyValue, ListResult, Watcher

__all__ = ["DEFAULT_FILENAME", "SqliteBackend", "open_url"]

DEFAULT_FILENAME = "state.db"

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    id              INTEGER PRIMARY KEY,  -- the revision of this change
    key             TEXT    NOT NULL,
    value           BLOB    NOT NULL,     -- for a delete: the value it removed, so DELETE events carry it
    created         INTEGER NOT NULL,     -- 1 if this change created the key
    deleted         INTEGER NOT NULL,     -- 1 if this change deleted the key
    create_revision INTEGER NOT NULL,
    prev_revision   INTEGER NOT NULL      -- the log row this change replaced (0: none), for prev_kv
);
-- Snapshot reads ("latest row per key at or below R") and compaction walk this.
CREATE INDEX IF NOT EXISTS log_key_id ON log (key, id);
CREATE TABLE IF NOT EXISTS current (
    key      TEXT    PRIMARY KEY,
    revision INTEGER NOT NULL             -- id of the key's latest log row
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""

# Events are rebuilt from a log row plus the row it replaced.
_EVENT_SELECT = """
SELECT l.id, l.key, l.value, l.deleted, l.create_revision, l.prev_revision, p.value, p.create_revision
FROM log l LEFT JOIN log p ON p.id = l.prev_revision
"""


@contextmanager
def _translate_errors(action: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as e:
        # Locked database, I/O error, disk full: conditions that can clear up.
        raise StorageUnavailableError(f"sqlite store: {action} failed: {e}") from e
    except sqlite3.Error as e:
        raise StorageError(f"sqlite store: {action} failed: {e}") from e


def _key_range(column: str, prefix: str, start_after: str = "") -> tuple[str, list[str]]:
    """SQL condition and parameters selecting keys with `prefix`, after `start_after`."""
    conditions, params = [f"{column} >= ?"], [prefix]
    end = prefix_end(prefix)
    if end is not None:
        conditions.append(f"{column} < ?")
        params.append(end)
    if start_after:
        conditions.append(f"{column} > ?")
        params.append(start_after)
    return " AND ".join(conditions), params


def _event_from_row(row: tuple) -> Event:
    revision, key, value, deleted, create_revision, prev_revision, prev_value, prev_create = row
    kv = KeyValue(key, value, create_revision, revision)
    prev_kv = KeyValue(key, prev_value, prev_create, prev_revision) if prev_value is not None else None
    return Event(DELETE if deleted else PUT, kv, prev_kv)


class _Write:
    """One queued change and the future its caller awaits."""

    __slots__ = ("expected", "future", "key", "op", "value")

    def __init__(self, op: str, key: str, value: bytes | None, expected: int, future: asyncio.Future) -> None:
        self.op = op  # "create" | "update" | "delete"
        self.key = key
        self.value = value
        self.expected = expected
        self.future = future


class SqliteBackend(Backend):
    def __init__(
        self,
        path: str,
        *,
        durable: bool = True,
        busy_timeout: float = 2.0,
        watch_queue_size: int = DEFAULT_WATCH_QUEUE_SIZE,
    ) -> None:
        """
        path: the database file; its directory is created if missing.
        durable: True (default) commits with synchronous=FULL, fsyncing the WAL on
            every commit so acknowledged writes survive kill -9 and power loss. False
            uses NORMAL: faster, still never corrupt, but a power loss can drop the
            last writes.
        busy_timeout: seconds to wait at start for a file another process holds,
            before failing with StorageUnavailableError; 2 s rides out a previous
            server that is still exiting.
        watch_queue_size: per-watcher backlog before the watcher is dropped.
        """
        self.path = path
        self._durable = durable
        self._busy_timeout = busy_timeout
        self._watch_queue_size = watch_queue_size
        self._conn: sqlite3.Connection | None = None  # the writer
        self._reader: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._revision = 0  # committed and published
        self._next_revision = 0  # assigned to changes of the batch being applied
        self._compacted = 0
        self._hub = WatchHub()
        self._pending: list[_Write] = []
        self._flusher: asyncio.Task | None = None
        self._write_lock: asyncio.Lock | None = None  # one transaction at a time on the writer
        self._write_lock_loop: asyncio.AbstractEventLoop | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.commits = 0
        """Transactions committed (with `writes`, the mean batch size; for benchmarks)."""
        self.writes = 0

    # -- lifecycle

    async def start(self) -> None:
        if self._conn is not None:
            return
        directory = os.path.dirname(self.path)
        if directory:
            try:
                os.makedirs(directory, exist_ok=True)
            except OSError as e:
                raise StorageError(f"sqlite store: cannot create directory {directory}: {e.strerror}") from e
        lock_fd = await self._lock_file()
        try:
            with _translate_errors(f"opening {self.path}"):
                conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None,
                                       check_same_thread=False)
                try:
                    self._open_connection(conn)
                    reader = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
                    reader.execute("PRAGMA query_only = 1")
                except BaseException:
                    conn.close()
                    raise
        except BaseException:
            os.close(lock_fd)
            raise
        self._conn, self._reader, self._lock_fd = conn, reader, lock_fd
        self._next_revision = self._revision
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-commit")

    async def _lock_file(self) -> int:
        """Lock `<path>-lock` exclusively, waiting up to busy_timeout for another process to let go.

        SQLite's own EXCLUSIVE locking mode would also keep this process's reader
        connection out, so the single-writer rule is enforced with a lock of our own."""
        lock_path = f"{self.path}-lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise StorageError(f"sqlite store: cannot open {lock_path}: {e.strerror}") from e
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise StorageUnavailableError(
                        f"sqlite store: opening {self.path} failed: database is locked by another process"
                    ) from None
                await asyncio.sleep(0.02)

    def _open_connection(self, conn: sqlite3.Connection) -> None:
        (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode.lower() != "wal":
            raise StorageError(f"sqlite store: cannot enable WAL mode on {self.path} (got {mode!r})")
        conn.execute(f"PRAGMA synchronous = {'FULL' if self._durable else 'NORMAL'}")
        conn.executescript(_SCHEMA)
        # An empty write transaction fails now rather than at the first write if
        # something else (not a podplane server: the lock file keeps those out) holds it.
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("COMMIT")
        meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
        version = meta.get("schema_version", _SCHEMA_VERSION)
        if version != _SCHEMA_VERSION:
            raise StorageError(f"sqlite store: {self.path} has schema version {version}, expected {_SCHEMA_VERSION}")
        conn.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', ?)", (_SCHEMA_VERSION,)
        )
        (max_id,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM log").fetchone()
        self._compacted = meta.get("compact_revision", 0)
        # Compaction may delete the newest rows (tombstones), and the compacted
        # revision is always >= them, so the max of both is the last revision used.
        self._revision = max(max_id, self._compacted)

    async def close(self) -> None:
        # Queued writes are committed (or fail) before the connections go.
        flusher = self._flusher
        if flusher is not None and not flusher.done() and flusher.get_loop() is asyncio.get_running_loop():
            await asyncio.gather(flusher, return_exceptions=True)
        self._hub.close_all()
        conn, self._conn = self._conn, None
        reader, self._reader = self._reader, None
        executor, self._executor = self._executor, None
        lock_fd, self._lock_fd = self._lock_fd, None
        for pending in self._pending:
            if not pending.future.done():
                pending.future.set_exception(StorageUnavailableError(f"sqlite store {self.path} is closed"))
        self._pending = []
        if executor is not None:
            executor.shutdown(wait=True)
        try:
            for connection in (reader, conn):
                if connection is not None:
                    with _translate_errors("closing"):
                        connection.close()
        finally:
            if lock_fd is not None:
                os.close(lock_fd)

    # -- reads (reader connection: committed data only)

    async def current_revision(self) -> int:
        return self._revision

    @property
    def compacted_revision(self) -> int:
        return self._compacted

    async def get(self, key: str) -> KeyValue | None:
        # May already return a change whose commit is durable but not yet published:
        # it is committed, like an etcd read that overtakes the writer's response.
        return self._latest(self._read_connection(), key)

    async def list(self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        conn = self._read_connection()
        at = resolve_read_revision(revision, compacted=self._compacted, current=self._revision)
        # One row past the limit tells whether more remain; -1 is SQLite for "no limit".
        fetch = limit + 1 if limit else -1
        with _translate_errors("list"):
            conn.execute("BEGIN")  # one snapshot for the check and the query
            try:
                latest = False
                if at == self._revision:
                    # `current` answers for the newest committed revision, which can be past
                    # `at` while a commit's flush has not run yet; then read as of `at`.
                    (newest,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM log").fetchone()
                    latest = newest <= at
                if latest:
                    where, params = _key_range("c.key", prefix, start_after)
                    sql = f"""
                        SELECT l.key, l.value, l.create_revision, l.id
                        FROM current c JOIN log l ON l.id = c.revision
                        WHERE {where} ORDER BY c.key LIMIT ?"""
                    args: list[object] = [*params, fetch]
                else:
                    # Walk log_key_id in key order, keeping each key's newest row at or below
                    # `at`: rows come out sorted (no temp sort of the values) and a page stops
                    # early instead of grouping the whole range first.
                    where, params = _key_range("l.key", prefix, start_after)
                    sql = f"""
                        SELECT l.key, l.value, l.create_revision, l.id FROM log l
                        WHERE {where} AND l.deleted = 0 AND l.id = (
                            SELECT MAX(newer.id) FROM log newer WHERE newer.key = l.key AND newer.id <= ?
                        )
                        ORDER BY l.key LIMIT ?"""
                    args = [*params, at, fetch]
                rows = conn.execute(sql, args).fetchall()
            finally:
                conn.execute("COMMIT")
        more = bool(limit) and len(rows) > limit
        kvs = [KeyValue(*row) for row in (rows[:limit] if more else rows)]
        return ListResult(kvs, at, more)

    async def count(self, prefix: str) -> int:
        conn = self._read_connection()
        where, params = _key_range("key", prefix)
        with _translate_errors("count"):
            (total,) = conn.execute(f"SELECT COUNT(*) FROM current WHERE {where}", params).fetchone()
        return total

    # -- writes (queued, group-committed)

    async def create(self, key: str, value: bytes) -> int:
        return await self._write("create", key, bytes(value), 0)

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        return await self._write("update", key, bytes(value), expected_revision)

    async def delete(self, key: str, expected_revision: int = 0) -> tuple[int, KeyValue]:
        return await self._write("delete", key, None, expected_revision)

    async def _write(self, op: str, key: str, value: bytes | None, expected: int) -> Any:
        self._connection()
        loop = asyncio.get_running_loop()
        write = _Write(op, key, value, expected, loop.create_future())
        self._pending.append(write)
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush(), name="sqlite-group-commit")
        # A cancelled caller does not cancel the write: it may still commit, as a
        # request to etcd may after its client gave up.
        return await write.future

    async def _flush(self) -> None:
        """Commit queued writes batch by batch until the queue is empty."""
        lock = self._lock()
        while self._pending and self._conn is not None:
            async with lock:
                batch, self._pending = self._pending, []
                await self._commit_batch(batch)

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._write_lock is None or self._write_lock_loop is not loop:
            self._write_lock, self._write_lock_loop = asyncio.Lock(), loop
        return self._write_lock

    async def _commit_batch(self, batch: list[_Write]) -> None:
        conn = self._connection()
        outcomes: list[Event | StorageError] = []
        cancelled = False
        try:
            with _translate_errors("write"):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for write in batch:
                        try:
                            outcomes.append(self._apply(conn, write))
                        except (KeyExistsError, KeyNotFoundError, RevisionConflictError) as e:
                            outcomes.append(e)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            try:
                await self._in_thread(self._commit, conn)
            except asyncio.CancelledError:
                cancelled = True  # _in_thread waited for the commit, and it succeeded
        except Exception as e:
            # Nothing of the batch is stored: no revision is consumed, every write fails.
            self._next_revision = self._revision
            error = e if isinstance(e, StorageError) else StorageUnavailableError(f"sqlite store: write failed: {e}")
            for write in batch:
                if not write.future.done():
                    write.future.set_exception(error)
            return
        self._revision = self._next_revision
        self.commits += 1
        self.writes += len(batch)
        # Publish every event before any writer resumes, in revision order.
        for outcome in outcomes:
            if isinstance(outcome, Event):
                self._hub.publish(outcome)
        for write, outcome in zip(batch, outcomes, strict=True):
            if write.future.done():
                continue
            if isinstance(outcome, Exception):
                write.future.set_exception(outcome)
            elif write.op == "delete":
                write.future.set_result((outcome.revision, outcome.prev_kv))
            else:
                write.future.set_result(outcome.revision)
        if cancelled:
            raise asyncio.CancelledError

    def _commit(self, conn: sqlite3.Connection) -> None:
        """COMMIT (and its fsync), in the worker thread; rolls back if it fails."""
        try:
            with _translate_errors("commit"):
                conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    async def _in_thread(self, func, *args) -> Any:
        """Run `func` in the worker thread. If the caller is cancelled meanwhile, wait for the
        thread anyway (nothing may touch the writer connection while it runs), then raise
        CancelledError if `func` succeeded, or its error."""
        assert self._executor is not None
        future = self._executor.submit(func, *args)
        try:
            return await asyncio.shield(asyncio.wrap_future(future))
        except asyncio.CancelledError:
            future.result()
            raise

    def _apply(self, conn: sqlite3.Connection, write: _Write) -> Event:
        """Check and append one change inside the batch's transaction; returns its event."""
        key = write.key
        if write.op == "create":
            if self._latest(conn, key) is not None:
                raise KeyExistsError(key)
            revision = self._append(conn, key, write.value, create_revision=0, prev_revision=0, deleted=False)
            return Event(PUT, KeyValue(key, write.value, revision, revision), None)
        current = self._checked_current(conn, key, write.expected)
        if write.op == "update":
            revision = self._append(conn, key, write.value, create_revision=current.create_revision,
                                    prev_revision=current.mod_revision, deleted=False)
            return Event(PUT, KeyValue(key, write.value, current.create_revision, revision), current)
        revision = self._append(conn, key, current.value, create_revision=current.create_revision,
                                prev_revision=current.mod_revision, deleted=True)
        return Event(DELETE, KeyValue(key, current.value, current.create_revision, revision), current)

    async def compact(self, revision: int) -> None:
        conn = self._connection()
        if revision <= self._compacted:
            return
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        async with self._lock():
            if revision <= self._compacted:
                return
            # Raise the guard before rows go: from now on reads and replays below
            # `revision` fail with CompactedError instead of finding rows missing.
            previous, self._compacted = self._compacted, revision
            try:
                await self._in_thread(self._compact, conn, revision)
            except asyncio.CancelledError:
                raise  # after the thread finished, and it succeeded
            except BaseException:
                self._compacted = previous
                raise

    def _compact(self, conn: sqlite3.Connection, revision: int) -> None:
        with _translate_errors("compact"), self._transaction(conn):
            # At or below the compact revision a key needs only its latest row, and
            # only if that row is a live value; rows above it stay for watch replay.
            # Rows kept here are exactly those later rows' prev_revision targets.
            conn.execute(
                """
                DELETE FROM log WHERE id <= :rev AND (
                    deleted = 1 OR id < (
                        SELECT MAX(newer.id) FROM log newer WHERE newer.key = log.key AND newer.id <= :rev
                    )
                )""",
                {"rev": revision},
            )
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('compact_revision', ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (revision,),
            )

    # -- watch

    def watch(self, prefix: str, after_revision: int) -> Watcher:
        self._connection()
        start = check_watch_start(after_revision, compacted=self._compacted, current=self._revision)
        return LogWatcher(
            self._hub,
            prefix=prefix,
            after_revision=start,
            replay_until=self._revision,
            read_history=self._read_history,
            max_queue=self._watch_queue_size,
        )

    def _read_history(self, prefix: str, after: int, until: int, limit: int) -> list[Event]:
        conn = self._read_connection()
        if after < self._compacted:
            raise CompactedError(self._compacted, self._revision)
        where, params = _key_range("l.key", prefix)
        with _translate_errors("watch replay"):
            rows = conn.execute(
                f"{_EVENT_SELECT} WHERE l.id > ? AND l.id <= ? AND {where} ORDER BY l.id LIMIT ?",
                [after, until, *params, limit],
            ).fetchall()
        return [_event_from_row(row) for row in rows]

    # -- internals

    def _connection(self) -> sqlite3.Connection:
        require_open(self._conn is not None, f"sqlite store {self.path}")
        assert self._conn is not None
        return self._conn

    def _read_connection(self) -> sqlite3.Connection:
        require_open(self._reader is not None, f"sqlite store {self.path}")
        assert self._reader is not None
        return self._reader

    def _latest(self, conn: sqlite3.Connection, key: str) -> KeyValue | None:
        with _translate_errors("get"):
            row = conn.execute(
                "SELECT l.key, l.value, l.create_revision, l.id FROM current c JOIN log l ON l.id = c.revision"
                " WHERE c.key = ?",
                (key,),
            ).fetchone()
        return KeyValue(*row) if row is not None else None

    def _checked_current(self, conn: sqlite3.Connection, key: str, expected_revision: int) -> KeyValue:
        current = self._latest(conn, key)
        if current is None:
            raise KeyNotFoundError(key)
        if expected_revision and current.mod_revision != expected_revision:
            raise RevisionConflictError(key, current)
        return current

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _append(
        self,
        conn: sqlite3.Connection,
        key: str,
        value: bytes,
        *,
        create_revision: int,
        prev_revision: int,
        deleted: bool,
    ) -> int:
        """Append one change as the next revision of the open batch; create_revision 0 means "this one"."""
        revision = self._next_revision + 1
        conn.execute(
            "INSERT INTO log (id, key, value, created, deleted, create_revision, prev_revision)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (revision, key, value, create_revision == 0, deleted, create_revision or revision, prev_revision),
        )
        if deleted:
            conn.execute("DELETE FROM current WHERE key = ?", (key,))
        else:
            conn.execute(
                "INSERT INTO current (key, revision) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET revision = excluded.revision",
                (key, revision),
            )
        # Becomes the store's revision only once the batch is committed.
        self._next_revision = revision
        return revision


def open_url(url: str, *, data_dir: str | None = None, **options: Any) -> SqliteBackend:
    """`sqlite:///abs/path/state.db`, or `sqlite://` for `<data_dir>/state.db`."""
    parts = urlsplit(url)
    if parts.netloc:
        raise StorageConfigError(
            "sqlite URL must be sqlite:///absolute/path/state.db (three slashes) or sqlite:// with a data dir"
        )
    if parts.path:
        path = parts.path
    elif data_dir:
        path = os.path.join(data_dir, DEFAULT_FILENAME)
    else:
        raise StorageConfigError("sqlite:// without a path needs a data dir (or use sqlite:///path/state.db)")
    return SqliteBackend(path, **options)
