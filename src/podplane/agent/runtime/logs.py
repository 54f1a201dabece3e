"""Container log files in the CRI format: the writer the shim uses, the reader behind `kubectl logs`.

One record per line, as containerd writes them and the kubelet reads them:
`2026-01-01T00:00:00.000000000Z stdout F hello` (`F` a full line, `P` a partial one: a
line longer than `MAX_LINE` bytes, or a last line without its newline, is cut into `P`
records closed by an `F`). Files live where the kubelet keeps them:
`<log-root>/<namespace>_<pod>_<uid>/<container>/<attempt>.log`, one file per container
attempt, so `--previous` reads `<attempt-1>.log`; `prune_logs` keeps the current and the
previous attempt, like upstream's dead-container garbage collection.
Flow: `runtime.shim` (one per container) feeds the container's stdout/stderr pipes to a
`LogWriter`; the streaming server calls `read_log` (tail, since, timestamps, limitBytes)
and `follow_log` (an async generator that stops when the container stops).
This module imports only the standard library: the shim loads it by path, without the
podplane package, to start fast.
"""

from __future__ import annotations

import os
import time
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Iterator

__all__ = [
    "MAX_LINE",
    "LogRecord",
    "LogWriter",
    "container_log_dir",
    "container_log_path",
    "follow_log",
    "format_timestamp",
    "parse_record",
    "parse_timestamp",
    "pod_log_dir",
    "previous_log_path",
    "prune_logs",
    "read_log",
]

MAX_LINE = 16 * 1024
"""Longest record content; containerd splits longer lines into partial (`P`) records too."""
STREAMS = ("stdout", "stderr")


def format_timestamp(ns: int) -> str:
    """RFC 3339 UTC with nanoseconds, fixed width (`2026-01-01T00:00:00.000000000Z`)."""
    seconds, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{frac:09d}Z"


_TS_PATTERN = r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$"


def parse_timestamp(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp (any fraction width, Z or offset)."""
    import re  # here, not at the top: the shim never parses, and stays smaller without `re`

    m = re.match(_TS_PATTERN, text)
    if not m:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    import calendar

    base = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    frac = int((m.group(2) or "0").ljust(9, "0"))
    zone = m.group(3)
    offset = 0
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return (base - offset) * 1_000_000_000 + frac


class LogRecord(namedtuple("LogRecord", "timestamp_ns stream partial content")):
    """One line of a CRI log file: `content` without the trailing newline of a full line.
    (A namedtuple, not a dataclass: importing dataclasses would cost the shim ~2 MB.)"""

    __slots__ = ()

    @property
    def timestamp(self) -> str:
        return format_timestamp(self.timestamp_ns)


def parse_record(line: bytes) -> LogRecord | None:
    """A record from one file line (with or without its `\\n`); None for a malformed line."""
    if line.endswith(b"\n"):
        line = line[:-1]
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    ts, stream, tag = parts[0], parts[1], parts[2]
    content = parts[3] if len(parts) == 4 else b""
    try:
        ns = parse_timestamp(ts.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    tag_s = tag.split(b":", 1)[0]  # tags may carry more fields after ':' (CRI allows it)
    if tag_s not in (b"F", b"P"):
        return None
    return LogRecord(ns, stream.decode("ascii", "replace"), tag_s == b"P", content)


class LogWriter:
    """Appends a container's output to a CRI log file, line by line, per stream.

    `write(stream, data)` accepts arbitrary chunks; complete lines become `F` records,
    overlong ones are cut into `P` records. `close()` flushes what is left of an
    unterminated last line as an `F` record (as containerd does at EOF). Each record is
    one `os.write` on an O_APPEND descriptor, so readers never see half a record.
    """

    def __init__(self, path: str, *, clock_ns: Callable[[], int] = time.time_ns, max_line: int = MAX_LINE
                 ) -> None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._clock = clock_ns
        self._max = max_line
        self._pending: dict[str, bytearray] = {}

    def _record(self, stream: str, tag: str, content: bytes) -> None:
        head = f"{format_timestamp(self._clock())} {stream} {tag} ".encode("ascii")
        os.write(self._fd, head + content + b"\n")

    def write(self, stream: str, data: bytes) -> None:
        buf = self._pending.setdefault(stream, bytearray())
        buf += data
        while True:
            nl = buf.find(b"\n")
            if nl < 0 or nl > self._max:
                if len(buf) >= self._max:
                    self._record(stream, "P", bytes(buf[: self._max]))
                    del buf[: self._max]
                    continue
                break
            self._record(stream, "F", bytes(buf[:nl]))
            del buf[: nl + 1]

    def flush_stream(self, stream: str) -> None:
        """End of a stream: an unterminated last line becomes a full record."""
        buf = self._pending.pop(stream, None)
        if buf:
            self._record(stream, "F", bytes(buf))

    def close(self) -> None:
        if self._fd < 0:
            return
        for stream in list(self._pending):
            self.flush_stream(stream)
        os.close(self._fd)
        self._fd = -1


# --- paths ------------------------------------------------------------------------------------

def pod_log_dir(root: str, namespace: str, name: str, uid: str) -> str:
    """The kubelet's `/var/log/pods/<namespace>_<name>_<uid>` under `root`."""
    return os.path.join(root, f"{namespace}_{name}_{uid}")


def container_log_dir(pod_dir: str, container: str) -> str:
    return os.path.join(pod_dir, container)


def container_log_path(pod_dir: str, container: str, attempt: int) -> str:
    return os.path.join(pod_dir, container, f"{attempt}.log")


def logged_attempts(pod_dir: str, container: str) -> list[int]:
    """Attempts of a container whose log files are on disk, oldest first."""
    return _attempts(container_log_dir(pod_dir, container))


def _attempts(container_dir: str) -> list[int]:
    try:
        names = os.listdir(container_dir)
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        stem, dot, ext = n.partition(".")
        if dot and ext == "log" and stem.isdigit():
            out.append(int(stem))
    return sorted(out)


def previous_log_path(pod_dir: str, container: str, attempt: int) -> str | None:
    """The log of the newest attempt before `attempt` still on disk, or None."""
    older = [a for a in _attempts(container_log_dir(pod_dir, container)) if a < attempt]
    return container_log_path(pod_dir, container, older[-1]) if older else None


def prune_logs(pod_dir: str, container: str, keep: int = 2) -> list[str]:
    """Delete all but the `keep` newest attempt logs of a container; returns the deleted paths."""
    attempts = _attempts(container_log_dir(pod_dir, container))
    doomed = attempts[:-keep] if keep > 0 else attempts
    out = []
    for a in doomed:
        path = container_log_path(pod_dir, container, a)
        try:
            os.unlink(path)
            out.append(path)
        except FileNotFoundError:
            pass
    return out


# --- reading ----------------------------------------------------------------------------------

def _reverse_lines(fd: int, size: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line) for each newline-terminated line, last first."""
    block = 64 * 1024
    end = size
    tail = b""  # bytes after the last newline seen so far (the start of a line in an earlier block)
    while end > 0:
        start = max(0, end - block)
        buf = os.pread(fd, end - start, start) + tail
        stop = len(buf)
        while True:
            nl = buf.rfind(b"\n", 0, stop - 1) if stop > 0 else -1
            if nl < 0:
                break
            yield start + nl + 1, buf[nl + 1: stop]
            stop = nl + 1
        tail = buf[:stop]
        end = start
    if tail:
        yield 0, tail


def _tail_offset(fd: int, size: int, lines: int) -> int:
    """Offset where the last `lines` messages start (a message: partial records + a full one)."""
    if lines <= 0:
        return size
    found = 0
    for offset, line in _reverse_lines(fd, size):
        if not line.endswith(b"\n"):
            continue  # a record still being written
        rec = parse_record(line)
        if rec is not None and not rec.partial:
            found += 1
            if found > lines:
                return offset + len(line)
    return 0


class _Formatter:
    """Turns records into `kubectl logs` output (filters, timestamps, byte limit)."""

    def __init__(self, timestamps: bool, since_ns: int | None, streams: tuple[str, ...], remaining: int | None
                 ) -> None:
        self.timestamps = timestamps
        self.since_ns = since_ns
        self.streams = streams
        self.remaining = remaining

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    def feed(self, rec: LogRecord) -> bytes:
        if rec.stream not in self.streams:
            return b""
        if self.since_ns is not None and rec.timestamp_ns < self.since_ns:
            return b""
        # Upstream prints partial records as they come, with the timestamp of each piece.
        out = bytearray()
        if self.timestamps:
            out += rec.timestamp.encode("ascii") + b" "
        out += rec.content
        if not rec.partial:
            out += b"\n"
        data = bytes(out)
        if self.remaining is not None:
            data = data[: self.remaining]
            self.remaining -= len(data)
        return data


def _records(fd: int, offset: int, stop: int | None = None) -> Iterator[tuple[int, LogRecord | None]]:
    """(offset after the record, record) for each complete line from `offset` up to `stop`."""
    buf = b""
    pos = offset
    while True:
        want = 64 * 1024 if stop is None else min(64 * 1024, stop - pos)
        if want <= 0:
            break
        chunk = os.pread(fd, want, pos)
        if not chunk:
            break
        pos += len(chunk)
        buf += chunk
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            yield pos - len(buf) + nl + 1, parse_record(buf[start: nl + 1])
            start = nl + 1
        buf = buf[start:]


def read_log(path: str, *, tail: int | None = None, since_ns: int | None = None, timestamps: bool = False,
             limit_bytes: int | None = None, streams: tuple[str, ...] = STREAMS) -> Iterator[bytes]:
    """Chunks of `kubectl logs` output from one CRI log file (no follow).

    tail: only the last N lines (None: all); since_ns: records at or after this time;
    timestamps: prefix each line with its RFC 3339 timestamp; limit_bytes: stop after this
    many bytes of output. A missing file yields nothing.
    """
    for chunk, _ in _read(path, 0, tail, _Formatter(timestamps, since_ns, streams, limit_bytes)):
        if chunk:
            yield chunk


def _read(path: str, offset: int, tail: int | None, fmt: _Formatter
          ) -> Iterator[tuple[bytes, int]]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        if tail is not None:
            offset = max(offset, _tail_offset(fd, size, tail))
        for end, rec in _records(fd, offset):
            # skipped records still move the position, so a follower resumes after them
            yield (fmt.feed(rec) if rec is not None else b""), end
            if fmt.exhausted:
                return
    finally:
        os.close(fd)


async def follow_log(path: str, *, running: Callable[[], bool], tail: int | None = None,
                     since_ns: int | None = None, timestamps: bool = False, limit_bytes: int | None = None,
                     streams: tuple[str, ...] = STREAMS, poll: float = 0.1) -> AsyncIterator[bytes]:
    """`kubectl logs -f`: what `read_log` yields, then new output as it is written, until
    `running()` turns false and the file has been read to its end (or limit_bytes is reached).
    Polls the file size every `poll` seconds (a few stat calls per second per follower)."""
    import asyncio

    fmt = _Formatter(timestamps, since_ns, streams, limit_bytes)
    offset = 0
    first = True
    while True:
        alive = running()  # sampled before reading, so output written before the exit is not lost
        for chunk, end in _read(path, offset, tail if first else None, fmt):
            offset = end
            if chunk:
                yield chunk
            if fmt.exhausted:
                return
        first = False
        if not alive:
            return
        await asyncio.sleep(poll)
