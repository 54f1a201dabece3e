"""`sqlite://`: the default durable driver, an append-only change log in one SQLite file.

Tables (see _SCHEMA): `log` has one row per change with id = revision, and is what
snapshot reads and watch replay query; `current` maps each live key to its latest
log row, so a latest-revision list is one ordered range scan; `meta` persists the
compacted revision. WAL mode with synchronous=FULL means an acknowledged write
survives kill -9 and power loss; `durable=False` trades that for speed.

Flow: one connection, used only from the event loop thread, is the single writer
(exclusive locking keeps a second process off the file, which would otherwise fork
the revision counter). Each write checks, appends to `log`, updates `current`,
commits, and only then publishes the event to the `WatchHub` (storage/_watch.py),
before yielding to the loop. Calls are made directly in the async methods: they
take well under a millisecond, except the fsync of a durable commit.
On restart the counter continues from the log (and the compacted revision, which
may be higher if compaction removed the newest row). memory.py is the reference
this driver must match; registry.py opens it from a URL.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
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
            every write so acknowledged writes survive kill -9 and power loss. False
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
        self._conn: sqlite3.Connection | None = None
        self._revision = 0
        self._compacted = 0
        self._hub = WatchHub()

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
        with _translate_errors(f"opening {self.path}"):
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
            try:
                self._open_connection(conn)
            except BaseException:
                conn.close()
                raise
        self._conn = conn

    def _open_connection(self, conn: sqlite3.Connection) -> None:
        # EXCLUSIVE before the first WAL access: the connection keeps the file locked
        # (a second server fails at start instead of forking the revision counter),
        # and WAL needs no shared-memory index.
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode.lower() != "wal":
            raise StorageError(f"sqlite store: cannot enable WAL mode on {self.path} (got {mode!r})")
        conn.execute(f"PRAGMA synchronous = {'FULL' if self._durable else 'NORMAL'}")
        conn.executescript(_SCHEMA)
        # An empty write transaction takes the exclusive lock now, so a busy file
        # fails at start rather than at the first write.
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
        self._hub.close_all()
        conn, self._conn = self._conn, None
        if conn is not None:
            with _translate_errors("closing"):
                conn.close()

    # -- reads

    async def current_revision(self) -> int:
        return self._revision

    @property
    def compacted_revision(self) -> int:
        return self._compacted

    async def get(self, key: str) -> KeyValue | None:
        return self._latest(self._connection(), key)

    async def list(self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        conn = self._connection()
        at = resolve_read_revision(revision, compacted=self._compacted, current=self._revision)
        # One row past the limit tells whether more remain; -1 is SQLite for "no limit".
        fetch = limit + 1 if limit else -1
        if at == self._revision:
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
        with _translate_errors("list"):
            rows = conn.execute(sql, args).fetchall()
        more = bool(limit) and len(rows) > limit
        kvs = [KeyValue(*row) for row in (rows[:limit] if more else rows)]
        return ListResult(kvs, at, more)

    async def count(self, prefix: str) -> int:
        conn = self._connection()
        where, params = _key_range("key", prefix)
        with _translate_errors("count"):
            (total,) = conn.execute(f"SELECT COUNT(*) FROM current WHERE {where}", params).fetchone()
        return total

    # -- writes

    async def create(self, key: str, value: bytes) -> int:
        conn = self._connection()
        if self._latest(conn, key) is not None:
            raise KeyExistsError(key)
        revision = self._append(conn, key, value, create_revision=0, prev_revision=0, deleted=False)
        self._hub.publish(Event(PUT, KeyValue(key, bytes(value), revision, revision), None))
        return revision

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        conn = self._connection()
        current = self._checked_current(conn, key, expected_revision)
        revision = self._append(
            conn,
            key,
            value,
            create_revision=current.create_revision,
            prev_revision=current.mod_revision,
            deleted=False,
        )
        self._hub.publish(Event(PUT, KeyValue(key, bytes(value), current.create_revision, revision), current))
        return revision

    async def delete(self, key: str, expected_revision: int = 0) -> tuple[int, KeyValue]:
        conn = self._connection()
        current = self._checked_current(conn, key, expected_revision)
        revision = self._append(
            conn,
            key,
            current.value,
            create_revision=current.create_revision,
            prev_revision=current.mod_revision,
            deleted=True,
        )
        self._hub.publish(Event(DELETE, KeyValue(key, current.value, current.create_revision, revision), current))
        return revision, current

    async def compact(self, revision: int) -> None:
        conn = self._connection()
        if revision <= self._compacted:
            return
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
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
        self._compacted = revision

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
        conn = self._connection()
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
        """Commit one change as the next revision; create_revision 0 means "this one"."""
        revision = self._revision + 1
        with _translate_errors("write"), self._transaction(conn):
            conn.execute(
                "INSERT INTO log (id, key, value, created, deleted, create_revision, prev_revision)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    revision,
                    key,
                    bytes(value),
                    create_revision == 0,
                    deleted,
                    create_revision or revision,
                    prev_revision,
                ),
            )
            if deleted:
                conn.execute("DELETE FROM current WHERE key = ?", (key,))
            else:
                conn.execute(
                    "INSERT INTO current (key, revision) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET revision = excluded.revision",
                    (key, revision),
                )
        # Only after the commit succeeded: a failed write must not consume a revision.
        self._revision = revision
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
