"""Composition root of `podplane up` (what `make up` runs): a single-node cluster in one process.

Starts the control plane (`podplane.server.serve`: storage, API server, controllers,
scheduler), waits until it serves and has written `<data-dir>/kubeconfig.yaml`, then
runs a node agent (`podplane.node.serve_agent`) for this machine with that kubeconfig
and its state under `<data-dir>/agent`. Both stop together on SIGINT/SIGTERM; if either
fails, the other is stopped and the failure is reported with its next step. Containers
keep running when the process stops (as with a kubelet); `podplane killall` stops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from podplane.node import StartupError as AgentStartupError
from podplane.node import serve_agent
from podplane.server import StartupError as ServerStartupError
from podplane.server import serve
from podplane.settings import AgentSettings, ServerSettings
from podplane.utils.aio import run_until_signalled

__all__ = ["run_up", "serve_up"]

log = logging.getLogger("podplane.up")


async def serve_up(server: ServerSettings, agent: AgentSettings, stop: asyncio.Event,
                   started: asyncio.Event | None = None) -> None:
    """Run server and agent until `stop` is set or one of them fails (its exception propagates)."""
    server_started = asyncio.Event()
    agent_started = asyncio.Event()
    server_task = asyncio.create_task(serve(server, stop, server_started), name="server")
    agent_task: asyncio.Task | None = None
    try:
        waiter = asyncio.create_task(server_started.wait())
        done, _ = await asyncio.wait([server_task, waiter], return_when=asyncio.FIRST_COMPLETED)
        if server_task in done:
            waiter.cancel()
            server_task.result()  # raises the start-up error
            return
        agent_task = asyncio.create_task(serve_agent(agent, stop, started=agent_started), name="agent")
        if started is not None:
            async def _signal_started() -> None:
                await agent_started.wait()
                started.set()
            notifier = asyncio.create_task(_signal_started())
        else:
            notifier = None
        done, _ = await asyncio.wait([server_task, agent_task], return_when=asyncio.FIRST_COMPLETED)
        if notifier is not None:
            notifier.cancel()
        for task in done:
            if task.exception() is not None:
                raise task.exception()
    finally:
        stop.set()
        for task in (agent_task, server_task):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 30)


def run_up(server: ServerSettings, agent: AgentSettings) -> int:
    return run_until_signalled(lambda stop: serve_up(server, agent, stop), {
        ServerStartupError: "podplane: start-up failed", AgentStartupError: "podplane: agent start-up failed"})
