"""Controller manager: builds the enabled controllers and runs them on shared informers.

Every controller module exposes `new(ctx: ControllerContext) -> Controller`; the
controller registers its informer handlers in its constructor, then the manager
starts the shared `InformerFactory`, waits for the caches to sync and runs each
controller's work queue with `run_workers` (plus its optional `run()` coroutine for
periodic work such as node monitoring). Modules are imported lazily by name, so one
broken or missing controller is reported and skipped instead of stopping the rest.

Composed by `podplane.server` with a `Client` that talks to this cluster's apiserver.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from podplane.client.events import EventRecorder
from podplane.client.informer import InformerFactory
from podplane.client.workqueue import WorkQueue, run_workers
from podplane.settings import ControllerSettings

__all__ = ["CONTROLLER_MODULES", "Controller", "ControllerContext", "enabled_controllers", "run_controllers"]

log = logging.getLogger(__name__)

# name → module (or "module:factory"); each module has `new(ctx) -> Controller`
CONTROLLER_MODULES: dict[str, str] = {
    "namespace": "podplane.controllers.namespace",
    "garbagecollector": "podplane.controllers.garbagecollector",
    "replicaset": "podplane.controllers.replicaset",
    "replicationcontroller": "podplane.controllers.replicaset:new_replication_controller",
    "deployment": "podplane.controllers.deployment",
    "statefulset": "podplane.controllers.statefulset",
    "daemonset": "podplane.controllers.daemonset",
    "job": "podplane.controllers.job",
    "cronjob": "podplane.controllers.cronjob",
    "nodelifecycle": "podplane.controllers.nodelifecycle",
    "persistentvolume": "podplane.controllers.persistentvolume",
    "nodeipam": "podplane.controllers.nodeipam",
    "endpoints": "podplane.controllers.endpoints",
    "endpointslice": "podplane.controllers.endpointslice",
    "endpointslicemirroring": "podplane.controllers.endpointslice:new_mirroring",
    "servicelb": "podplane.controllers.servicelb",
}


class Controller(Protocol):
    name: str
    queue: WorkQueue
    workers: int

    async def sync(self, key: str) -> None: ...


@dataclass
class ControllerContext:
    client: object
    """A `Client` (or `FakeClient` in tests)."""
    informers: InformerFactory
    settings: ControllerSettings = field(default_factory=ControllerSettings)
    clock: Callable[[], float] = time.time
    """Wall-clock seconds; injected so tests control time."""

    def recorder(self, component: str) -> EventRecorder:
        return EventRecorder(self.client, component)


def enabled_controllers(settings: ControllerSettings) -> list[str]:
    names = list(CONTROLLER_MODULES) if "*" in settings.enabled else []
    for entry in settings.enabled:
        if entry.startswith("-"):
            if entry[1:] in names:
                names.remove(entry[1:])
        elif entry != "*" and entry in CONTROLLER_MODULES and entry not in names:
            names.append(entry)
    return names


def build_controllers(ctx: ControllerContext, names: list[str]) -> list[Controller]:
    controllers = []
    for name in names:
        module_name, _, factory = CONTROLLER_MODULES[name].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            log.warning("controller %s is not available: %s", name, e)
            continue
        controllers.append(getattr(module, factory or "new")(ctx))
    return controllers


async def run_controllers(ctx: ControllerContext, names: list[str] | None = None,
                          started: asyncio.Event | None = None) -> None:
    controllers = build_controllers(ctx, names if names is not None else enabled_controllers(ctx.settings))
    ctx.informers.start()
    await ctx.informers.wait_synced()
    log.info("controllers running: %s", ", ".join(c.name for c in controllers))
    if started is not None:
        started.set()
    tasks = []
    for c in controllers:
        tasks.append(asyncio.create_task(run_workers(c.queue, c.sync, c.workers), name=f"ctrl-{c.name}"))
        extra = getattr(c, "run", None)
        if extra is not None:
            tasks.append(asyncio.create_task(extra(), name=f"ctrl-{c.name}-run"))
    try:
        await asyncio.gather(*tasks)
    finally:
        for c in controllers:
            c.queue.shutdown()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await ctx.informers.stop()
