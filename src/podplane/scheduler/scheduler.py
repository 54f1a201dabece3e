"""The scheduler: informers → cache and queue → one scheduling cycle per pod → async binding.

Flow (upstream schedule_one.go):
1. Informer handlers keep the `Cache` (nodes, assigned pods) and the `SchedulingQueue`
   (pending pods with spec.schedulerName == settings.name, not terminating) current.
2. The loop pops the highest-priority pod and runs the scheduling cycle without
   awaiting: PreFilter; Filter from where the previous cycle stopped until
   `percentage_of_nodes_to_score` worth of nodes fit; PreScore/Score; the best node
   (ties at random); assume the pod there; Reserve. Never awaiting means a consistent
   cache and no event slipping in between filtering and assuming.
3. Binding runs as a task: PreBind (waiting for volumes, without holding a slot), then
   Bind with at most `settings.parallelism` in flight, then a Normal "Scheduled" event.
   On failure the assumption is forgotten and the pod requeued.
4. A pod no node fits gets a Warning "FailedScheduling" event with upstream's message
   and PodScheduled=False (reason Unschedulable), and waits for a helpful cluster event.

The loop yields between pods so informers and an in-process apiserver keep running.
Neighbours: `framework`/`registry` (plugins), `cache`, `queue`; `podplane.server` runs
`run_scheduler`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from podplane.api.errors import ApiError
from podplane.api.meta import now_rfc3339
from podplane.client.events import EventRecorder
from podplane.client.informer import InformerFactory
from podplane.client.transport import TransportError
from podplane.scheduler.cache import Cache
from podplane.scheduler.framework import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    ASSIGNED_POD_UPDATE,
    NODE_ADD,
    NODE_ALLOCATABLE,
    NODE_DELETE,
    NODE_LABEL,
    NODE_TAINT,
    PV_CHANGE,
    PVC_CHANGE,
    STORAGE_CLASS_CHANGE,
    Code,
    CycleState,
    Diagnosis,
    FitError,
    Handle,
    NodeInfo,
    PluginFactory,
    PluginSpec,
    PodInfo,
    Status,
)
from podplane.scheduler.nodeinfo import pod_key
from podplane.scheduler.queue import QueuedPodInfo, SchedulingQueue
from podplane.scheduler.registry import DEFAULT_PROFILE, REGISTRY, new_framework
from podplane.settings import SchedulerSettings

__all__ = ["NO_NODES_MESSAGE", "Scheduler", "num_feasible_nodes_to_find", "run_scheduler"]

log = logging.getLogger(__name__)

NO_NODES_MESSAGE = "no nodes available to schedule pods"
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
MAX_EVENT_MESSAGE = 1024
_FILTER_WINDOW = 64
"""Nodes filtered per batch when more feasible nodes are still wanted."""


class EventSink:
    """Writes events in the background with a few workers, like upstream's event broadcaster.

    The scheduler emits an event per pod; fired all at once they would queue in front
    of the bindings for the client's connections. Here they wait in a bounded backlog
    (the oldest are dropped beyond `max_backlog`, as upstream drops when its buffer is
    full) and at most `workers` are written concurrently.
    """

    def __init__(self, recorder: Any, *, workers: int = 2, max_backlog: int = 20_000) -> None:
        self.recorder = recorder
        self.workers = workers
        self.backlog: deque[tuple] = deque(maxlen=max_backlog)
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    def emit(self, obj: dict, event_type: str, reason: str, message: str) -> None:
        if not hasattr(self.recorder, "record"):
            self.recorder.event(obj, event_type, reason, message)  # a test double: synchronous
            return
        self.backlog.append((obj, event_type, reason, message))
        self._ready.set()
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._work(), name="scheduler-events") for _ in range(self.workers)]

    async def _work(self) -> None:
        while True:
            while self.backlog:
                obj, event_type, reason, message = self.backlog.popleft()
                try:
                    await self.recorder.record(obj, event_type, reason, message)
                except Exception:
                    log.exception("recording event %s failed", reason)
            self._ready.clear()
            await self._ready.wait()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []


class SchedulingError(Exception):
    """The attempt failed for a reason other than "no node fits" (upstream SchedulerError)."""


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """Upstream numFeasibleNodesToFind: how many feasible nodes to score."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND or percentage >= 100:
        return num_all_nodes
    if percentage <= 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


def _truncate(message: str) -> str:
    if len(message) <= MAX_EVENT_MESSAGE:
        return message
    return message[: MAX_EVENT_MESSAGE - 4] + " ..."


def _assigned(pod: dict) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def _terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _terminating(pod: dict) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


_IGNORED_META = ("resourceVersion", "generation", "managedFields")


def _pod_changed(old: dict, new: dict) -> bool:
    """isPodUpdated: anything but status, resourceVersion, generation and managedFields."""
    if old.get("spec") != new.get("spec"):
        return True
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    keys = (set(old_meta) | set(new_meta)).difference(_IGNORED_META)
    return any(old_meta.get(k) != new_meta.get(k) for k in keys)


class Scheduler:
    def __init__(self, client: Any, informers: InformerFactory, settings: SchedulerSettings | None = None, *,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None,
                 recorder: Any = None, profile: Sequence[PluginSpec] = DEFAULT_PROFILE,
                 registry: dict[str, PluginFactory] | None = None) -> None:
        self.client = client
        self.informers = informers
        self.settings = settings or SchedulerSettings()
        self.cache = Cache()
        self.handle = Handle(client, self.cache, informers)
        self.framework = new_framework(self.handle, profile, registry or REGISTRY, scheduler_name=self.settings.name)
        self.queue = SchedulingQueue(clock=clock, max_unschedulable=self.settings.unschedulable_retry,
                                     events_to_plugins=self.framework.events_to_plugins())
        self.recorder = recorder if recorder is not None else EventRecorder(client, self.settings.name)
        self.events = EventSink(self.recorder)
        self.rng = rng or random.Random()
        self._pods_resource = client.resource("", "pods")
        self._next_start = 0
        self._slots = asyncio.Semaphore(max(1, self.settings.parallelism))
        self._tasks: set[asyncio.Task] = set()
        self.scheduled = 0
        """Pods bound so far (for benchmarks and logs)."""
        self._interval = {"bound": 0, "failed": 0, "bind_seconds": 0.0, "bind_max": 0.0, "cycle_seconds": 0.0}

        self.pods = informers.resource("", "pods")
        self.pods.add_handler(self._on_pod_add, self._on_pod_update, self._on_pod_delete)
        self.nodes = informers.resource("", "nodes")
        self.nodes.add_handler(self._on_node_add, self._on_node_update, self._on_node_delete)
        for group, plural, event in (("", "persistentvolumeclaims", PVC_CHANGE), ("", "persistentvolumes", PV_CHANGE),
                                     ("storage.k8s.io", "storageclasses", STORAGE_CLASS_CHANGE)):
            if any(event in p.events for p in self.framework.plugins):
                informers.resource(group, plural).add_handler(
                    lambda _obj, e=event: self.queue.move_all(e), lambda _o, _n, e=event: self.queue.move_all(e))

    # -- informer handlers: keep cache and queue current ------------------------------------------------
    def responsible_for(self, pod: dict) -> bool:
        return ((pod.get("spec") or {}).get("schedulerName") or "default-scheduler") == self.settings.name

    def _on_pod_add(self, pod: dict) -> None:
        if _assigned(pod):
            if not _terminal(pod):
                self.cache.add_pod(PodInfo(pod))
                self.queue.move_all(ASSIGNED_POD_ADD)
        elif self.responsible_for(pod) and not _terminal(pod) and not _terminating(pod):
            self.queue.add(PodInfo(pod))

    def _on_pod_update(self, old: dict, new: dict) -> None:
        key = pod_key(new)
        if _assigned(new):
            if not _assigned(old):
                self.queue.delete(key)  # bound, by us or by someone else
            if _terminal(new):
                self.cache.remove_pod(key)
                self.queue.move_all(ASSIGNED_POD_DELETE)
                return
            cached = self.cache.pods.get(key)
            if (cached is not None and key not in self.cache.assumed and cached.node_name == new["spec"]["nodeName"]
                    and old.get("spec") == new.get("spec") and old["metadata"].get("labels") == new["metadata"].get(
                        "labels") and _terminating(old) == _terminating(new)):
                cached.pod = new  # status-only change: nothing the cache accounts for moved
                return
            self.cache.add_pod(PodInfo(new))
            if not _assigned(old):
                self.queue.move_all(ASSIGNED_POD_ADD)
            elif old["metadata"].get("labels") != new["metadata"].get("labels"):
                self.queue.move_all(ASSIGNED_POD_UPDATE)
            return
        if not self.responsible_for(new) or _terminal(new) or _terminating(new):
            self.queue.delete(key)
            return
        self.queue.update(PodInfo(new), changed=_pod_changed(old, new))

    def _on_pod_delete(self, pod: dict) -> None:
        key = pod_key(pod)
        self.queue.delete(key)
        if key in self.cache.pods:
            self.cache.remove_pod(key)
            self.queue.move_all(ASSIGNED_POD_DELETE)

    def _on_node_add(self, node: dict) -> None:
        self.cache.set_node(node)
        self.queue.move_all(NODE_ADD)

    def _on_node_update(self, old: dict, new: dict) -> None:
        self.cache.set_node(new)
        events = []
        if (old["metadata"].get("labels") or {}) != (new["metadata"].get("labels") or {}):
            events.append(NODE_LABEL)
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        if (old_spec.get("taints") != new_spec.get("taints")
                or bool(old_spec.get("unschedulable")) != bool(new_spec.get("unschedulable"))):
            events.append(NODE_TAINT)
        if (old.get("status") or {}).get("allocatable") != (new.get("status") or {}).get("allocatable"):
            events.append(NODE_ALLOCATABLE)
        for event in events:
            self.queue.move_all(event)

    def _on_node_delete(self, node: dict) -> None:
        self.cache.remove_node(node["metadata"]["name"])
        self.queue.move_all(NODE_DELETE)

    # -- the scheduling cycle -------------------------------------------------------------------------------
    def find_feasible_nodes(self, state: CycleState, pod: PodInfo,
                            nodes: list[NodeInfo]) -> tuple[list[NodeInfo], dict[str, Status]]:
        """Filter nodes round-robin from where the last cycle stopped until enough fit."""
        total = len(nodes)
        wanted = num_feasible_nodes_to_find(self.settings.percentage_of_nodes_to_score, total)
        filters = self.framework.active_filters(state)
        rejected: dict[str, Status] = {}
        feasible: list[NodeInfo] = []
        start = self._next_start % total
        processed = 0
        while processed < total and len(feasible) < wanted:
            size = min(total - processed, max(wanted - len(feasible), _FILTER_WINDOW))
            begin = (start + processed) % total
            window = nodes[begin: begin + size]
            if len(window) < size:
                window += nodes[: size - len(window)]
            passed = self.framework.run_filter_nodes(state, pod, window, rejected, filters)
            if len(feasible) + len(passed) >= wanted:
                last = passed[wanted - len(feasible) - 1]
                feasible.extend(passed[: wanted - len(feasible)])
                processed += window.index(last) + 1
                break
            feasible.extend(passed)
            processed += size
        self._next_start = (start + processed) % total
        return feasible, rejected

    def schedule_pod(self, state: CycleState, pod: PodInfo) -> str:
        """The node for `pod`, or FitError / SchedulingError. Never awaits."""
        nodes = self.cache.node_list
        if not nodes:
            raise SchedulingError(NO_NODES_MESSAGE)
        status = self.framework.run_pre_filter(state, pod)
        if status is not None:
            if status.code == Code.ERROR:
                raise SchedulingError(status.message)
            raise FitError(pod, len(nodes), Diagnosis(absent_status=status, pre_filter_msg=status.message,
                                                      unschedulable_plugins={status.plugin} - {""}))
        feasible, rejected = self.find_feasible_nodes(state, pod, nodes)
        errors = [s for s in rejected.values() if s.code == Code.ERROR]
        if errors:
            raise SchedulingError(errors[0].message)
        if not feasible:
            raise FitError(pod, len(nodes), Diagnosis(
                node_to_status=rejected, unschedulable_plugins={s.plugin for s in rejected.values()} - {""}))
        if len(feasible) == 1:
            return feasible[0].name
        status = self.framework.run_pre_score(state, pod, feasible)
        if status is not None:
            raise SchedulingError(status.message)
        scores = self.framework.run_score(state, pod, feasible)
        best = max(scores)
        ties = [i for i, s in enumerate(scores) if s == best]
        return feasible[ties[0] if len(ties) == 1 else self.rng.choice(ties)].name

    def scheduling_cycle(self, entry: QueuedPodInfo) -> bool:
        """Try to place one popped pod; True when a binding task was started."""
        pod = entry.pod_info
        current = self.pods.get(pod.namespace, pod.name)
        if current is None or _assigned(current) or _terminating(current):
            self.queue.done(pod.key)  # deleted or bound since it was queued
            return False
        state = CycleState()
        try:
            node_name = self.schedule_pod(state, pod)
        except FitError as fit:
            fit.diagnosis.post_filter_msg = (self.framework.run_post_filter(state, pod, fit.diagnosis)
                                             or Status()).message
            self.handle_failure(entry, str(fit), "Unschedulable", fit.diagnosis.unschedulable_plugins)
            return False
        except SchedulingError as e:
            self.handle_failure(entry, str(e), "SchedulerError", set())
            return False
        assumed = self.cache.assume_pod(pod, node_name)
        status = self.framework.run_reserve(state, assumed, node_name)
        if status is not None:
            self.cache.forget_pod(pod.key)
            self.handle_failure(entry, status.message, "SchedulerError", set())
            return False
        self._spawn(self.binding_cycle(entry, state, assumed, node_name))
        return True

    # -- the binding cycle -------------------------------------------------------------------------------------
    async def binding_cycle(self, entry: QueuedPodInfo, state: CycleState, assumed: PodInfo, node_name: str) -> None:
        key = assumed.key
        started = time.perf_counter()
        holding_slot = True
        try:
            try:
                status = None
                if self.framework.pre_bind_has_work(state, assumed, node_name):
                    # Waiting for volumes can take minutes: do not hold a binding slot meanwhile.
                    self._slots.release()
                    holding_slot = False
                    status = await self.framework.run_pre_bind(state, assumed, node_name)
                    await self._slots.acquire()
                    holding_slot = True
                if status is None:
                    status = await self.framework.run_bind(state, assumed, node_name)
            except ApiError as e:
                if e.code == 404 or (e.code == 409 and ("already assigned" in e.message
                                                        or "being deleted" in e.message)):
                    # Deleted, or bound elsewhere meanwhile: the informer will tell the cache.
                    log.debug("binding %s to %s: %s", key, node_name, e)
                    self.framework.run_unreserve(state, assumed, node_name)
                    self.cache.forget_pod(key)
                    self.queue.done(key)
                    return
                status = Status.error(f"binding rejected: {e}")
            except TransportError as e:
                status = Status.error(f"binding rejected: {e}")
            if status is not None:
                self.framework.run_unreserve(state, assumed, node_name)
                self.cache.forget_pod(key)
                self.queue.move_all(ASSIGNED_POD_DELETE)  # the forgotten pod's room is free again
                self.handle_failure(entry, status.message, "SchedulerError", set())
                return
            self.queue.done(key)
            self.scheduled += 1
            took = time.perf_counter() - started
            stats = self._interval
            stats["bound"] += 1
            stats["bind_seconds"] += took
            stats["bind_max"] = max(stats["bind_max"], took)
            self.events.emit(assumed.pod, "Normal", "Scheduled",
                                f"Successfully assigned {assumed.namespace}/{assumed.name} to {node_name}")
        except Exception:
            log.exception("binding %s to %s failed unexpectedly", key, node_name)
            self.cache.forget_pod(key)
            self.queue.requeue_failed(entry, set())
        finally:
            if holding_slot:
                self._slots.release()

    # -- failures -------------------------------------------------------------------------------------------------
    def handle_failure(self, entry: QueuedPodInfo, message: str, reason: str, plugins: set[str]) -> None:
        """Requeue the pod, record a FailedScheduling event and set PodScheduled=False."""
        pod = entry.pod_info
        current = self.pods.get(pod.namespace, pod.name)
        if current is None or _assigned(current):
            self.queue.done(pod.key)  # gone or bound elsewhere: nothing to retry or report
            return
        if current is not pod.pod:
            entry.pod_info = PodInfo(current)
        log.debug("cannot schedule %s: %s", pod.key, message)
        self._interval["failed"] += 1
        self.queue.requeue_failed(entry, plugins)
        self.events.emit(current, "Warning", "FailedScheduling", _truncate(message))
        condition = self._pod_scheduled_condition(current, reason, message)
        if condition is not None:
            self._spawn(self._patch_condition(pod.namespace, pod.name, condition))

    @staticmethod
    def _pod_scheduled_condition(pod: dict, reason: str, message: str) -> dict | None:
        """The new PodScheduled condition, or None when it would not change (UpdatePodCondition)."""
        existing = next((c for c in (pod.get("status") or {}).get("conditions") or ()
                         if c.get("type") == "PodScheduled"), None)
        if existing is not None and (existing.get("status"), existing.get("reason"), existing.get("message")) == (
                "False", reason, message):
            return None
        transition = (existing.get("lastTransitionTime") if existing is not None and existing.get("status") == "False"
                      else None) or now_rfc3339()
        return {"type": "PodScheduled", "status": "False", "lastProbeTime": None, "lastTransitionTime": transition,
                "reason": reason, "message": message}

    async def _patch_condition(self, namespace: str, name: str, condition: dict) -> None:
        try:
            await self.client.patch(self._pods_resource, name, {"status": {"conditions": [condition]}}, namespace,
                                    patch_type="strategic", subresource="status")
        except (ApiError, TransportError) as e:
            log.debug("updating PodScheduled of %s/%s: %s", namespace, name, e)

    # -- running ---------------------------------------------------------------------------------------------------
    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def schedule_one(self) -> None:
        """Wait for a binding slot and a pod, then run one scheduling cycle."""
        await self._slots.acquire()
        try:
            entry = await self.queue.pop()
        except BaseException:
            self._slots.release()
            raise
        self._run_cycle(entry)

    def _run_cycle(self, entry: QueuedPodInfo) -> None:
        """One scheduling cycle for a popped pod; the caller holds a binding slot."""
        started = False
        t0 = time.perf_counter()
        try:
            started = self.scheduling_cycle(entry)
            self._interval["cycle_seconds"] += time.perf_counter() - t0
        except Exception:
            log.exception("scheduling %s failed unexpectedly", entry.key)
            self.queue.requeue_failed(entry, set())
        finally:
            if not started:
                self._slots.release()

    async def schedule_pending(self) -> None:
        """Schedule every pod now in activeQ and wait for the bindings (tests, tools)."""
        while True:
            await self._slots.acquire()
            self.queue.flush()
            entry = self.queue.pop_nowait()
            if entry is None:
                self._slots.release()
                break
            self._run_cycle(entry)
            await asyncio.sleep(0)
        await self.wait_idle()

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def report(self, period: float = 10.0) -> None:
        """Log throughput, latency and queue sizes every `period` seconds while busy."""
        while True:
            await asyncio.sleep(period)
            stats = self._interval
            if not stats["bound"] and not stats["failed"]:
                continue
            self._interval = {"bound": 0, "failed": 0, "bind_seconds": 0.0, "bind_max": 0.0, "cycle_seconds": 0.0}
            pending = self.queue.pending()
            attempts = stats["bound"] + stats["failed"]
            log.info("scheduler: %d bound (%.0f/s), %d failed in %.0f s; cycle %.2f ms/pod; binding %.0f ms mean, "
                     "%.0f ms max; queue %d active, %d backoff, %d unschedulable; %d events waiting",
                     stats["bound"], stats["bound"] / period, stats["failed"], period,
                     stats["cycle_seconds"] / max(attempts, 1) * 1e3,
                     stats["bind_seconds"] / max(stats["bound"], 1) * 1e3, stats["bind_max"] * 1e3,
                     len(pending["active"]), len(pending["backoff"]), len(pending["unschedulable"]),
                     len(self.events.backlog))

    async def run(self, started: asyncio.Event | None = None) -> None:
        self.informers.start()
        flusher: asyncio.Task | None = None
        reporter: asyncio.Task | None = None
        try:
            await self.informers.wait_synced()
            log.info("scheduler %s: caches synced (%d nodes, %d pending pods)", self.settings.name,
                     len(self.cache.node_list), len(self.queue))
            flusher = asyncio.create_task(self.queue.run(), name="scheduler-queue-flusher")
            reporter = asyncio.create_task(self.report(), name="scheduler-report")
            if started is not None:
                started.set()
            while True:
                await self.schedule_one()
                await asyncio.sleep(0)  # let informers (and an in-process apiserver) run between pods
        finally:
            background = [t for t in (flusher, reporter) if t is not None]
            for task in background + list(self._tasks):
                task.cancel()
            await asyncio.gather(*background, *self._tasks, return_exceptions=True)
            await self.events.close()
            await self.informers.stop()


async def run_scheduler(client: Any, informers: InformerFactory, settings: SchedulerSettings,
                        started: asyncio.Event | None = None) -> None:
    """Run the scheduler until cancelled (the entry point `podplane server` uses)."""
    await Scheduler(client, informers, settings).run(started)
