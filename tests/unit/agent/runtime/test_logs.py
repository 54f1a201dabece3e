"""runtime.logs: CRI log writing (full/partial records) and `kubectl logs` reading."""

from __future__ import annotations

import asyncio
import os

import pytest

from podplane.agent.runtime import logs
from podplane.agent.runtime.logs import LogWriter, parse_record, read_log

T0 = 1_800_000_000 * 10**9  # 2027-01-15T08:00:00Z in ns


class Ticker:
    """Injected clock: each reading is 1 s after the previous one."""

    def __init__(self, start: int = T0) -> None:
        self.now = start - 10**9

    def __call__(self) -> int:
        self.now += 10**9
        return self.now


def write(path: str, chunks: list[tuple[str, bytes]], max_line: int = logs.MAX_LINE) -> None:
    w = LogWriter(path, clock_ns=Ticker(), max_line=max_line)
    for stream, data in chunks:
        w.write(stream, data)
    w.close()


def lines(path: str) -> list[str]:
    with open(path) as f:
        return f.read().splitlines()


def test_timestamps():
    assert logs.format_timestamp(T0) == "2027-01-15T08:00:00.000000000Z"
    assert logs.format_timestamp(T0 + 5) == "2027-01-15T08:00:00.000000005Z"
    assert logs.parse_timestamp("2027-01-15T08:00:00.000000005Z") == T0 + 5
    assert logs.parse_timestamp("2027-01-15T08:00:00.5Z") == T0 + 500_000_000
    assert logs.parse_timestamp("2027-01-15T10:00:00+02:00") == T0
    with pytest.raises(ValueError):
        logs.parse_timestamp("yesterday")


@pytest.mark.parametrize(("chunks", "want"), [
    pytest.param([("stdout", b"hi\n")], ["2027-01-15T08:00:00.000000000Z stdout F hi"], id="one-line"),
    pytest.param([("stdout", b"a\nb"), ("stdout", b"c\n")],
                 ["2027-01-15T08:00:00.000000000Z stdout F a", "2027-01-15T08:00:01.000000000Z stdout F bc"],
                 id="line-across-chunks"),
    pytest.param([("stdout", b"out"), ("stderr", b"err\n")],
                 ["2027-01-15T08:00:00.000000000Z stderr F err", "2027-01-15T08:00:01.000000000Z stdout F out"],
                 id="streams-buffered-apart-unterminated-flushed-at-close"),
    pytest.param([("stdout", b"0123456789ab\n")],
                 ["2027-01-15T08:00:00.000000000Z stdout P 01234", "2027-01-15T08:00:01.000000000Z stdout P 56789",
                  "2027-01-15T08:00:02.000000000Z stdout F ab"], id="long-line-split"),
    pytest.param([("stdout", b"\n")], ["2027-01-15T08:00:00.000000000Z stdout F "], id="empty-line"),
])
def test_writer(tmp_path, chunks, want):
    path = str(tmp_path / "c" / "0.log")
    write(path, chunks, max_line=5)
    assert lines(path) == want


def test_parse_record():
    rec = parse_record(b"2027-01-15T08:00:00.000000000Z stderr P a b c\n")
    assert rec == logs.LogRecord(T0, "stderr", True, b"a b c")
    assert parse_record(b"2027-01-15T08:00:00Z stdout F") == logs.LogRecord(T0, "stdout", False, b"")
    assert parse_record(b"garbage") is None
    assert parse_record(b"2027-01-15T08:00:00Z stdout X hi") is None


@pytest.fixture
def sample(tmp_path) -> str:
    path = str(tmp_path / "0.log")
    write(path, [("stdout", b"one\n"), ("stderr", b"two\n"), ("stdout", b"three-is-long\n"), ("stdout", b"four\n")],
          max_line=5)
    return path


@pytest.mark.parametrize(("kw", "want"), [
    pytest.param({}, b"one\ntwo\nthree-is-long\nfour\n", id="all"),
    pytest.param({"tail": 2}, b"three-is-long\nfour\n", id="tail-counts-messages-not-records"),
    pytest.param({"tail": 1}, b"four\n", id="tail-1"),
    pytest.param({"tail": 0}, b"", id="tail-0"),
    pytest.param({"tail": 99}, b"one\ntwo\nthree-is-long\nfour\n", id="tail-more-than-all"),
    pytest.param({"since_ns": T0 + 2 * 10**9}, b"three-is-long\nfour\n", id="since"),
    pytest.param({"limit_bytes": 6}, b"one\ntw", id="limit-bytes"),
    pytest.param({"streams": ("stderr",)}, b"two\n", id="stream-filter"),
    pytest.param({"tail": 1, "timestamps": True}, b"2027-01-15T08:00:05.000000000Z four\n", id="timestamps"),
])
def test_read(sample, kw, want):
    assert b"".join(read_log(sample, **kw)) == want


def test_read_partial_timestamps_and_missing(sample, tmp_path):
    out = b"".join(read_log(sample, timestamps=True, tail=2))
    assert out == (b"2027-01-15T08:00:02.000000000Z three2027-01-15T08:00:03.000000000Z -is-l"
                   b"2027-01-15T08:00:04.000000000Z ong\n2027-01-15T08:00:05.000000000Z four\n")
    assert list(read_log(str(tmp_path / "nope.log"))) == []


def test_tail_across_blocks(tmp_path):
    path = str(tmp_path / "big.log")
    write(path, [("stdout", b"".join(b"line %05d\n" % i for i in range(20000)))])
    assert os.path.getsize(path) > 3 * 64 * 1024
    assert b"".join(read_log(path, tail=3)) == b"line 19997\nline 19998\nline 19999\n"
    assert b"".join(read_log(path, tail=19999)).startswith(b"line 00001\n")


def test_tail_ignores_record_being_written(tmp_path):
    path = str(tmp_path / "0.log")
    write(path, [("stdout", b"a\nb\n")])
    with open(path, "ab") as f:
        f.write(b"2027-01-15T08:00:09.000000000Z stdout F half")  # no newline yet
    assert b"".join(read_log(path, tail=1)) == b"b\n"


async def test_follow(tmp_path):
    path = str(tmp_path / "0.log")
    w = LogWriter(path, clock_ns=Ticker())
    w.write("stdout", b"before\n")
    state = {"running": True}
    got: list[bytes] = []

    async def consume():
        async for chunk in logs.follow_log(path, running=lambda: state["running"], poll=0.01):
            got.append(chunk)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    w.write("stdout", b"after\n")
    await asyncio.sleep(0.05)
    w.write("stderr", b"last words\n")
    w.close()
    state["running"] = False
    await asyncio.wait_for(task, 2)
    assert b"".join(got) == b"before\nafter\nlast words\n"


async def test_follow_tail_and_limit(tmp_path):
    path = str(tmp_path / "0.log")
    write(path, [("stdout", b"1\n2\n3\n")])
    chunks = [c async for c in logs.follow_log(path, running=lambda: False, tail=1)]
    assert b"".join(chunks) == b"3\n"
    chunks = [c async for c in logs.follow_log(path, running=lambda: True, limit_bytes=3, poll=0.01)]
    assert b"".join(chunks) == b"1\n2"


def test_paths_previous_and_prune(tmp_path):
    pod_dir = logs.pod_log_dir(str(tmp_path), "default", "web", "uid-1")
    assert pod_dir == str(tmp_path / "default_web_uid-1")
    for attempt in (0, 1, 2, 3):
        p = logs.container_log_path(pod_dir, "app", attempt)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        open(p, "w").close()
    assert logs.previous_log_path(pod_dir, "app", 3) == logs.container_log_path(pod_dir, "app", 2)
    assert logs.previous_log_path(pod_dir, "app", 0) is None
    assert logs.previous_log_path(pod_dir, "other", 1) is None
    removed = logs.prune_logs(pod_dir, "app", keep=2)
    assert sorted(os.path.basename(p) for p in removed) == ["0.log", "1.log"]
    assert sorted(os.listdir(os.path.join(pod_dir, "app"))) == ["2.log", "3.log"]
