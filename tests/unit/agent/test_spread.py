"""Spread schedule: N items evenly phase-shifted over an interval, no catch-up bursts."""

from __future__ import annotations

import asyncio

from podplane.agent.spread import SpreadSchedule, run_spread


def test_items_are_spread_evenly_over_the_interval():
    schedule = SpreadSchedule(["a", "b", "c", "d"], interval=10.0, start=100.0)
    assert schedule.pop_due(104.9) == [(100.0, "a"), (102.5, "b")]
    assert schedule.next_due() == 105.0
    assert schedule.pop_due(110) == [(105.0, "c"), (107.5, "d")]
    assert schedule.pop_due(200) == []


def test_next_time_keeps_the_phase_but_never_bursts_after_a_stall():
    schedule = SpreadSchedule(["a"], interval=10.0, start=0.0)
    assert schedule.next_time(due=0.0, now=0.3) == 10.0
    assert schedule.next_time(due=0.0, now=25.0) == 35.0


async def test_run_spread_repeats_work_and_retries_failures_sooner():
    calls: list[str] = []
    failed_once: set[str] = set()

    async def action(key: str) -> bool:
        calls.append(key)
        if key == "b" and key not in failed_once:
            failed_once.add(key)
            return False
        return True

    schedule = SpreadSchedule(["a", "b"], interval=0.2, start=asyncio.get_running_loop().time())
    task = asyncio.create_task(run_spread(schedule, action, retry_after=0.02, batch=0.005,
                                          clock=asyncio.get_running_loop().time))
    await asyncio.sleep(0.35)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert calls[:3] == ["a", "b", "b"], "b failed and was retried before its next period"
    assert calls.count("a") == 2


async def test_one_slow_item_does_not_hold_back_the_others():
    calls: list[str] = []

    async def action(key: str) -> bool:
        calls.append(key)
        if key == "slow":
            await asyncio.sleep(10)
        return True

    loop = asyncio.get_running_loop()
    schedule = SpreadSchedule(["slow", "fast"], interval=0.1, start=loop.time())
    task = asyncio.create_task(run_spread(schedule, action, batch=0.005, clock=loop.time))
    await asyncio.sleep(0.28)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert calls.count("fast") >= 2 and calls.count("slow") == 1
