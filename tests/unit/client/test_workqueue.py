"""Work queue semantics: dedup, no concurrent processing of a key, delays, back-off."""

from __future__ import annotations

import asyncio

import pytest

from podplane.client.workqueue import ShutDown, WorkQueue, run_workers


async def test_duplicate_adds_are_processed_once():
    q = WorkQueue()
    for _ in range(3):
        q.add("a")
    q.add("b")
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"


async def test_key_readded_while_processing_waits_for_done():
    q = WorkQueue()
    q.add("a")
    key = await q.get()
    q.add("a")  # arrives while a worker holds it
    assert len(q) == 0, "the same key must not be handed to a second worker"
    q.done(key)
    assert len(q) == 1 and await q.get() == "a"


async def test_add_after_delays_and_keeps_the_earliest():
    q = WorkQueue()
    q.add_after("a", 0.05)
    q.add_after("a", 10)  # later add does not postpone the earlier one
    assert len(q) == 0
    assert await asyncio.wait_for(q.get(), 1) == "a"


@pytest.mark.parametrize("failures,expected", [
    pytest.param(0, 0.005, id="first-retry"),
    pytest.param(3, 0.04, id="doubling"),
    pytest.param(40, 1000.0, id="capped"),
])
async def test_rate_limited_backoff(failures, expected, monkeypatch):
    q = WorkQueue()
    delays = []
    monkeypatch.setattr(q, "add_after", lambda key, delay: delays.append(delay))
    q._failures["k"] = failures
    q.add_rate_limited("k")
    assert delays == [expected]
    q.forget("k")
    assert q.num_requeues("k") == 0


async def test_workers_retry_failures_and_forget_successes():
    q = WorkQueue(base_delay=0.001)
    calls = []

    async def sync(key):
        calls.append(key)
        if len(calls) < 3:
            raise RuntimeError("transient")

    q.add("x")
    task = asyncio.create_task(run_workers(q, sync, workers=2))
    for _ in range(200):
        if len(calls) >= 3:
            break
        await asyncio.sleep(0.005)
    q.shutdown()
    await asyncio.wait_for(task, 1)
    assert calls == ["x", "x", "x"]
    assert q.num_requeues("x") == 0


async def test_shutdown_releases_waiting_workers():
    q = WorkQueue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shutdown()
    with pytest.raises(ShutDown):
        await asyncio.wait_for(getter, 1)
