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
import os
import signal
import sys

from podplane.node import StartupError as AgentStartupError
from podplane.node import serve_agent
from podplane.server import StartupError as ServerStartupError
from podplane.server import serve
from podplane.settings import AgentSettings, ServerSettings

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
    logging.basicConfig(level=os.environ.get("PODPLANE_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_up(server, agent, stop)

    try:
        asyncio.run(main())
    except ServerStartupError as e:
        print(f"podplane: start-up failed: {e}", file=sys.stderr)
        return 1
    except AgentStartupError as e:
        print(f"podplane: agent start-up failed: {e}", file=sys.stderr)
        return 1
    return 0
