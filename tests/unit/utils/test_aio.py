"""utils.aio: cancelling tasks and waiting for them; a process main that maps start-up failures."""

from __future__ import annotations

import asyncio
import os
import signal

from podplane.utils.aio import cancel_and_wait, run_until_signalled


class Boom(Exception):
    pass


async def test_cancel_and_wait_finishes_every_task_whatever_it_raised():
    async def sleeper():
        await asyncio.sleep(60)

    async def failing():
        raise Boom("x")

    tasks = [asyncio.create_task(sleeper()), asyncio.create_task(failing()), None]
    await asyncio.sleep(0)
    await cancel_and_wait(tasks)
    assert all(t.done() for t in tasks if t is not None)


def test_a_listed_start_up_failure_is_reported_with_exit_status_1(capsys):
    async def serve(stop):
        raise Boom("cannot listen")

    assert run_until_signalled(serve, {Boom: "podplane: start-up failed"}) == 1
    assert capsys.readouterr().err == "podplane: start-up failed: cannot listen\n"


def test_sigterm_stops_serve_cleanly():
    async def serve(stop):
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 5)

    assert run_until_signalled(serve, {Boom: "x"}) == 0
