"""Pod workers: bring the pods bound to the agent's nodes to life (the kubelet's pod loop).

Informer handlers only map pods bound to our nodes to `namespace/name` keys; `sync(key)`
is level-triggered and idempotent, one worker per key at a time:
1. first sight: a pod an earlier agent process ran is adopted from its status
   (`runtime.restore`; IP reserved, back-off kept, nothing restarted); a new pod passes
   the kubelet's admission (pods/cpu/memory against allocatable; rejected pods become
   Failed, reason OutOfpods/OutOfcpu/OutOfmemory), gets a pod IP and a sandbox;
2. converge (upstream `computePodActions`): init containers in order (sidecars need only
   start), then the containers; exited ones restart per restartPolicy with the kubelet's
   back-off (first restart at once, then 10 s doubling to 5 min, CrashLoopBackOff);
3. deletion: containers stop, the final status is written, then the pod is deleted with
   gracePeriodSeconds=0 and a uid precondition (upstream's status manager);
4. the status (`agent.podstatus`) is patched only when it differs from the API's (or our
   own last write while the cache lags), optionally held back `coalesce` seconds for an
   imminent next change; the pod is requeued for the runtime's next state change.
Events (Pulled, Created, Started, Killing, BackOff) go to per-node recorders, if given.
Real runtimes (see `agent.runtime`) may assign pod IPs themselves (`assigns_pod_ips`),
record the container events when they happen (`emits_container_events`) and wake the
workers when a pod changes by itself (`set_listener`: the pod's uid → its key, queued).
Neighbours: `agent.runtime`, `agent.podstatus`, `agent.addresses`; wired by `agent.agent`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from podplane.agent.addresses import PodIPAllocator
from podplane.agent.podstatus import (
    TERMINAL_PHASES,
    generate_pod_status,
    go_duration,
    is_sidecar,
    parse_go_duration,
    pod_ref,
    status_patch,
)
from podplane.agent.runtime import CREATED, EXITED, RUNNING, Runtime, SandboxStatus
from podplane.api.errors import ApiError
from podplane.api.meta import parse_time
from podplane.api.validation import parse_quantity
from podplane.client.informer import Informer, key_of
from podplane.client.workqueue import WorkQueue, run_workers

__all__ = ["NodeHandle", "PodWorkers", "drop_managed_fields", "pod_requests"]

log = logging.getLogger(__name__)

DEFAULT_BACKOFF = 10.0
"""Upstream's initial container restart back-off."""
MAX_BACKOFF = 300.0
"""Upstream's cap on the restart back-off (5 min)."""
IP_RETRY = 5.0
"""Seconds before a pod that found its node's address block full tries again."""


@dataclass
class NodeHandle:
    """What the pod workers need to know about one of the agent's nodes."""

    name: str
    host_ip: str
    ips: PodIPAllocator
    allocatable: dict[str, Decimal]
    """`pods`, `cpu` (cores) and `memory` (bytes) the node admits pods against."""
    recorder: object | None = None
    """An `EventRecorder` for kubelet events from this node, or None to record none."""


@dataclass
class _PodState:
    uid: str
    node: str
    ip: str = ""
    requests: dict[str, Decimal] = field(default_factory=dict)
    terminal: bool = False
    """Containers are done for good; the sandbox is gone and the IP released."""
    deleted: bool = False
    stopping: set[str] = field(default_factory=set)
    """Containers asked to stop (deletion, or sidecars of a finished pod)."""
    backoff: dict[str, tuple[float, float]] = field(default_factory=dict)
    """container → (current restart back-off, finish time it was computed for)."""
    backoff_reported: dict[str, float] = field(default_factory=dict)
    sent_rv: int = 0
    sent_status: dict | None = None
    deferred: bool = False
    """The last status change was held back to be written with the next one."""


def _quantity(value: object) -> Decimal:
    q = parse_quantity(value)
    return q if q is not None else Decimal(0)


def pod_requests(pod: dict) -> dict[str, Decimal]:
    """Effective cpu/memory requests (upstream resourcehelper.PodRequests, without resize):
    regular containers plus sidecars, or the largest init container on top of the
    sidecars started before it, whichever is larger; plus the pod overhead."""
    spec = pod.get("spec") or {}

    def req(c: dict) -> dict[str, Decimal]:
        requests = (c.get("resources") or {}).get("requests") or {}
        return {r: _quantity(requests[r]) for r in ("cpu", "memory") if r in requests}

    total: dict[str, Decimal] = {}
    for c in spec.get("containers") or []:
        for r, q in req(c).items():
            total[r] = total.get(r, Decimal(0)) + q
    sidecars: dict[str, Decimal] = {}
    init_peak: dict[str, Decimal] = {}
    for c in spec.get("initContainers") or []:
        r_c = req(c)
        if is_sidecar(c):
            for r, q in r_c.items():
                sidecars[r] = sidecars.get(r, Decimal(0)) + q
                total[r] = total.get(r, Decimal(0)) + q
        else:
            for r, q in r_c.items():
                init_peak[r] = max(init_peak.get(r, Decimal(0)), q + sidecars.get(r, Decimal(0)))
    for r, q in init_peak.items():
        total[r] = max(total.get(r, Decimal(0)), q)
    for r, q in (spec.get("overhead") or {}).items():
        if r in ("cpu", "memory"):
            total[r] = total.get(r, Decimal(0)) + _quantity(q)
    return total


def drop_managed_fields(obj: dict) -> None:
    """Forget `metadata.managedFields` of an object in the agent's own informer cache.

    They are more than half of a pod's size and the agent never reads them: 10,000 cached
    pods take ~150 MB less without them. The cache belongs to the agent's private
    InformerFactory and this runs before any reader sees the object. (Client-go does this
    with an informer transform; `client.informer` has no such hook yet.)
    """
    meta = obj.get("metadata")
    if meta is not None:
        meta.pop("managedFields", None)


def _rv(obj: dict) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class PodWorkers:
    """Runs the pods bound to a set of nodes on one runtime; see the module docstring."""

    def __init__(self, client, pods: Informer, nodes: dict[str, NodeHandle], runtime: Runtime, *,
                 clock: Callable[[], float] = time.time, workers: int = 32,
                 backoff_base: Callable[[dict], float] | None = None, max_backoff: float = MAX_BACKOFF,
                 coalesce: float = 0.0, queue: WorkQueue | None = None) -> None:
        self.client = client
        self.pods = pods
        self.nodes = nodes
        self.runtime = runtime
        self.clock = clock
        self.workers = workers
        self.backoff_base = backoff_base or (lambda pod: DEFAULT_BACKOFF)
        self.max_backoff = max_backoff
        self.coalesce = coalesce
        """Hold a status change back up to this long when the runtime's next change is due
        within it, so a pod that starts in 50 ms costs one status write, not two (0: never)."""
        self.queue = queue if queue is not None else WorkQueue("pods")
        self.info = client.resource("", "pods")
        self._states: dict[str, _PodState] = {}
        self._active: dict[str, dict[str, _PodState]] = {name: {} for name in nodes}
        """node → key → state of its admitted, unfinished pods (admission looks at one node only)."""
        self._keys: dict[str, str] = {}
        """pod uid → key, for the runtime's change notifications."""
        self._runtime_ips = bool(getattr(runtime, "assigns_pod_ips", False))
        self._runtime_events = bool(getattr(runtime, "emits_container_events", False))
        pods.add_handler(self._on_add, self._on_update, self._on_delete)
        set_listener = getattr(runtime, "set_listener", None)
        if callable(set_listener):
            set_listener(self._runtime_changed)

    # -- handlers: map events to keys ------------------------------------------------------
    def _ours(self, pod: dict) -> bool:
        return (pod.get("spec") or {}).get("nodeName") in self.nodes

    def _on_add(self, pod: dict) -> None:
        drop_managed_fields(pod)
        if self._ours(pod):
            self.queue.add(key_of(pod))

    def _on_update(self, old: dict, new: dict) -> None:
        drop_managed_fields(new)
        if self._ours(new):
            self.queue.add(key_of(new))

    def _on_delete(self, pod: dict) -> None:
        if self._ours(pod) or key_of(pod) in self._states:
            self.queue.add(key_of(pod))

    def _runtime_changed(self, uid: str) -> None:
        """The runtime saw a pod change by itself (a container started or exited, a probe flipped)."""
        key = self._keys.get(uid)
        if key is not None:
            self.queue.add(key)

    # -- running ---------------------------------------------------------------------------
    def adopt_existing(self) -> int:
        """Adopt every running pod of our nodes before any new pod gets an address. Call once
        the informer has synced, before `run`."""
        now = self.clock()
        adopted = 0
        for pod in self.pods.list():
            key = key_of(pod)
            if self._ours(pod) and key not in self._states and self._adopt(key, pod, now):
                adopted += 1
        return adopted

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, self.workers)

    # -- sync ------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        pod = self.pods.get_by_key(key)
        state = self._states.get(key)
        if state is not None and (pod is None or pod["metadata"].get("uid") != state.uid):
            self._forget(key, state)  # gone, or replaced by a pod of the same name
            state = None
        if pod is None or not self._ours(pod):
            return
        now = self.clock()
        node = self.nodes[pod["spec"]["nodeName"]]
        pod = self._latest_view(pod, state)
        if state is None:
            state = await self._first_sight(key, pod, node, now)
            if state is None:
                return
        deleting = bool(pod["metadata"].get("deletionTimestamp"))
        if state.terminal:
            if deleting and not state.deleted:
                await self._delete(pod, state)
            return
        await self._sync_live(key, pod, state, node, deleting, now)

    async def _first_sight(self, key: str, pod: dict, node: NodeHandle, now: float) -> _PodState | None:
        """Adopt, admit or dismiss a pod this process has not handled yet; its state if it runs here."""
        deleting = bool(pod["metadata"].get("deletionTimestamp"))
        if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:  # finished before: nothing to run
            if deleting:
                await self._delete(pod)
            return None
        if self._adopt(key, pod, now):
            return self._states[key]
        if deleting:  # deleted before it ever ran here
            await self._delete(pod)
            return None
        return await self._admit_and_create(key, pod, node, now)

    async def _sync_live(self, key: str, pod: dict, state: _PodState, node: NodeHandle, deleting: bool,
                         now: float) -> None:
        """Converge (or stop) the containers, report the status, and finish or requeue the pod."""
        waiting: dict[str, tuple[str, str]] = {}
        wake: list[float] = []
        if deleting:
            self._stop_all(pod, state, node, now)
        else:
            waiting, wake = self._converge(pod, state, node, now)
        sandbox = self.runtime.status(state.uid, now)
        stopped = deleting and sandbox is not None and all(c.state == EXITED for c in sandbox.latest().values())
        status = generate_pod_status(pod, sandbox, host_ip=node.host_ip, now=now, terminal=stopped,
                                     waiting=waiting)
        final = stopped or status["phase"] in TERMINAL_PHASES
        patch = status_patch(pod.get("status") or {}, status)
        following = self.runtime.next_change(state.uid, now)
        if patch is not None and self._defer(state, final or deleting, following, now):
            self.queue.add_after(key, following - now)
            return
        if patch is not None and not await self._patch_status(key, pod, state, patch):
            return
        if final:
            self._finish(key, state, node)
            if deleting:
                await self._delete(pod, state)
            return
        if following is not None:
            wake.append(following)
        if wake:
            self.queue.add_after(key, max(0.0, min(wake) - now))

    def _defer(self, state: _PodState, final: bool, following: float | None, now: float) -> bool:
        """Whether to hold this status change back for the next one (never twice in a row)."""
        if not self.coalesce or final or state.deferred or following is None or following - now > self.coalesce:
            state.deferred = False
            return False
        state.deferred = True
        return True

    def _latest_view(self, pod: dict, state: _PodState | None) -> dict:
        """The pod with the newest status we know: our own last write when the cache lags."""
        if state is None or state.sent_status is None or _rv(pod) >= state.sent_rv:
            return pod
        return {**pod, "status": state.sent_status}

    # -- first sight -------------------------------------------------------------------------
    def _adopt(self, key: str, pod: dict, now: float) -> bool:
        if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES or not self.runtime.restore(pod, now):
            return False
        node = self.nodes[pod["spec"]["nodeName"]]
        uid = pod["metadata"]["uid"]
        ip = (pod.get("status") or {}).get("podIP") or ""
        if ip and not (pod.get("spec") or {}).get("hostNetwork") and not self._runtime_ips:
            node.ips.reserve(ip)
        else:
            ip = ""
        state = _PodState(uid=uid, node=node.name, ip=ip, requests=pod_requests(pod))
        self._track(key, state)
        status = pod.get("status") or {}
        for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
            waiting = (cs.get("state") or {}).get("waiting") or {}
            last = (cs.get("lastState") or {}).get("terminated") or {}
            if waiting.get("reason") != "CrashLoopBackOff" or not last.get("finishedAt"):
                continue
            delay = parse_go_duration((waiting.get("message") or "").removeprefix("back-off ").split(" ", 1)[0])
            if delay:
                finished = parse_time(last["finishedAt"]).timestamp()
                state.backoff[cs["name"]] = (delay, finished)
                state.backoff_reported[cs["name"]] = finished
        log.debug("adopted pod %s on %s", key, node.name)
        return True

    async def _admit_and_create(self, key: str, pod: dict, node: NodeHandle, now: float) -> _PodState | None:
        requests = pod_requests(pod)
        rejection = self._admission(node, requests)
        if rejection is not None:
            reason, message = rejection
            await self._reject(pod, node, reason, message)
            return None
        spec = pod.get("spec") or {}
        if spec.get("hostNetwork"):
            ip, own_ip = node.host_ip, ""
        elif self._runtime_ips:
            ip = own_ip = ""  # the runtime's network plugin assigns it and reports it in the sandbox
        else:
            ip = own_ip = node.ips.allocate() or ""
            if not ip:
                self._event(node, pod, "Warning", "FailedCreatePodSandBox",
                            f"Failed to create pod sandbox: no IP addresses available in range set: {node.ips.cidr}")
                self.queue.add_after(key, IP_RETRY)
                return None
        state = _PodState(uid=pod["metadata"]["uid"], node=node.name, ip=own_ip, requests=requests)
        self._track(key, state)
        self.runtime.run_sandbox(pod, ip, now)
        return state

    def _admission(self, node: NodeHandle, requests: dict[str, Decimal]) -> tuple[str, str] | None:
        """The kubelet's resource admission: (reason, message) when the pod does not fit."""
        active = list(self._active[node.name].values())
        capacity = node.allocatable.get("pods")
        if capacity is not None and len(active) + 1 > capacity:
            return "OutOfpods", (f"Node didn't have enough resource: pods, requested: 1, used: {len(active)}, "
                                 f"capacity: {int(capacity)}")
        for resource, scale in (("cpu", 1000), ("memory", 1)):
            wanted = requests.get(resource, Decimal(0))
            capacity = node.allocatable.get(resource)
            if not wanted or capacity is None:
                continue
            used = sum((s.requests.get(resource, Decimal(0)) for s in active), Decimal(0))
            if used + wanted > capacity:
                return f"OutOf{resource}", (
                    f"Node didn't have enough resource: {resource}, requested: {int(wanted * scale)}, "
                    f"used: {int(used * scale)}, capacity: {int(capacity * scale)}")
        return None

    async def _reject(self, pod: dict, node: NodeHandle, reason: str, message: str) -> None:
        self._event(node, pod, "Warning", reason, message)
        body = {"metadata": {"uid": pod["metadata"]["uid"]},
                "status": {"phase": "Failed", "reason": reason, "message": f"Pod was rejected: {message}"}}
        try:
            await self.client.patch(self.info, pod["metadata"]["name"], body, pod["metadata"].get("namespace"),
                                    patch_type="strategic", subresource="status")
        except ApiError as e:
            if e.code not in (404, 409):
                raise

    # -- converge ----------------------------------------------------------------------------
    def _start(self, pod: dict, node: NodeHandle, container: dict, attempt: int, init: bool, now: float) -> None:
        self.runtime.start_container(pod, container, attempt=attempt, init=init, now=now)
        if self._runtime_events:
            return
        field_path = f"spec.{'initContainers' if init else 'containers'}{{{container['name']}}}"
        self._event(node, pod, "Normal", "Pulled",
                    f'Container image "{container.get("image", "")}" already present on machine', field_path)
        self._event(node, pod, "Normal", "Created", f"Created container: {container['name']}", field_path)
        self._event(node, pod, "Normal", "Started", f"Started container {container['name']}", field_path)

    def _restart_or_wait(self, pod: dict, state: _PodState, node: NodeHandle, container: dict, finished: float,
                         attempt: int, init: bool, now: float, waiting: dict, wake: list) -> None:
        """Restart an exited container now, or wait out its back-off as CrashLoopBackOff."""
        name = container["name"]
        delay, last = state.backoff.get(name, (0.0, 0.0))
        if delay and finished - last > 2 * self.max_backoff:
            delay = 0.0  # expired, as upstream: start over from the base delay
        if delay and now - finished < delay:
            waiting[name] = ("CrashLoopBackOff",
                             f"back-off {go_duration(delay)} restarting failed container={name} pod={pod_ref(pod)}")
            wake.append(finished + delay)
            if state.backoff_reported.get(name) != finished:
                state.backoff_reported[name] = finished
                field_path = f"spec.{'initContainers' if init else 'containers'}{{{name}}}"
                self._event(node, pod, "Warning", "BackOff",
                            f"Back-off restarting failed container {name} in pod {pod_ref(pod)}", field_path)
            return
        base = self.backoff_base(pod)
        state.backoff[name] = (min(delay * 2, self.max_backoff) if delay else min(base, self.max_backoff), finished)
        self._start(pod, node, container, attempt, init, now)

    def _converge(self, pod: dict, state: _PodState, node: NodeHandle, now: float
                  ) -> tuple[dict[str, tuple[str, str]], list[float]]:
        spec = pod.get("spec") or {}
        policy = spec.get("restartPolicy") or "Always"
        sandbox = self.runtime.status(state.uid, now)
        latest = sandbox.latest() if sandbox else {}
        waiting: dict[str, tuple[str, str]] = {}
        wake: list[float] = []

        for c in spec.get("initContainers") or []:
            cs = latest.get(c["name"])
            sidecar = is_sidecar(c)
            if cs is None:
                self._start(pod, node, c, 0, True, now)
                return waiting, wake
            if cs.state == CREATED or (cs.state == RUNNING and (not sidecar or cs.started is False)):
                return waiting, wake  # the next init container waits for this one (a sidecar: till started)
            if cs.state == RUNNING or (cs.exit_code == 0 and not sidecar) or c["name"] in state.stopping:
                continue  # a started sidecar, a completed init container, or a sidecar we stopped
            if policy == "Never" and not sidecar:
                return waiting, wake  # failed for good: the pod is Failed
            self._restart_or_wait(pod, state, node, c, cs.finished_at, cs.attempt + 1, True, now, waiting, wake)
            return waiting, wake

        regular_done = True
        for c in spec.get("containers") or []:
            cs = latest.get(c["name"])
            if cs is None:
                self._start(pod, node, c, 0, False, now)
                regular_done = False
                continue
            if cs.state != EXITED:
                regular_done = False
                continue
            if policy == "Always" or (policy == "OnFailure" and cs.exit_code != 0):
                regular_done = False
                self._restart_or_wait(pod, state, node, c, cs.finished_at, cs.attempt + 1, False, now, waiting,
                                      wake)
        if regular_done:  # a finished Job pod: its sidecars are stopped, as upstream
            grace = float((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
            for c in spec.get("initContainers") or []:
                cs = latest.get(c["name"])
                if is_sidecar(c) and cs is not None and cs.state != EXITED and c["name"] not in state.stopping:
                    state.stopping.add(c["name"])
                    self.runtime.stop_container(state.uid, c["name"], grace, now)
        return waiting, wake

    def _stop_all(self, pod: dict, state: _PodState, node: NodeHandle, now: float) -> None:
        # upstream's pod workers never stop a pod with less than 1 s (so a forced deletion held by a
        # finalizer still runs preStop); the API's value is whole seconds
        grace = float(pod["metadata"].get("deletionGracePeriodSeconds") or 0) or 1.0
        sandbox: SandboxStatus | None = self.runtime.status(state.uid, now)
        init_names = {c["name"] for c in (pod.get("spec") or {}).get("initContainers") or []}
        for name, cs in (sandbox.latest() if sandbox else {}).items():
            if cs.state == EXITED or name in state.stopping:
                continue
            state.stopping.add(name)
            self.runtime.stop_container(state.uid, name, grace, now)
            field_path = f"spec.{'initContainers' if name in init_names else 'containers'}{{{name}}}"
            self._event(node, pod, "Normal", "Killing", f"Stopping container {name}", field_path)

    # -- writes ------------------------------------------------------------------------------
    async def _patch_status(self, key: str, pod: dict, state: _PodState, patch: dict) -> bool:
        meta = pod["metadata"]
        try:
            updated = await self.client.patch(self.info, meta["name"], {"metadata": {"uid": state.uid},
                                                                         "status": patch},
                                              meta.get("namespace"), patch_type="strategic", subresource="status")
        except ApiError as e:
            if e.code in (404, 409):  # deleted, or replaced by another pod of the same name
                log.debug("pod %s: status not written: %s", key, e)
                return False
            raise
        state.sent_rv = _rv(updated)
        state.sent_status = updated.get("status") or {}
        return True

    async def _delete(self, pod: dict, state: _PodState | None = None) -> None:
        meta = pod["metadata"]
        if meta.get("deletionGracePeriodSeconds") == 0 and meta.get("finalizers"):
            return  # already deleted with grace 0: only the finalizers hold it
        try:
            await self.client.delete(self.info, meta["name"], meta.get("namespace"), grace_period_seconds=0,
                                     preconditions={"uid": meta["uid"]})
        except ApiError as e:
            if e.code not in (404, 409):
                raise
        if state is not None:
            state.deleted = True

    def _track(self, key: str, state: _PodState) -> None:
        self._states[key] = state
        self._active[state.node][key] = state
        self._keys[state.uid] = key

    def _finish(self, key: str, state: _PodState, node: NodeHandle) -> None:
        """The pod is done for good: tear down its sandbox and free its address."""
        state.terminal = True
        self._active[state.node].pop(key, None)
        if state.ip:
            node.ips.release(state.ip)
        self.runtime.remove_sandbox(state.uid)

    def _forget(self, key: str, state: _PodState) -> None:
        node = self.nodes.get(state.node)
        if node is not None and state.ip and not state.terminal:
            node.ips.release(state.ip)
        self.runtime.remove_sandbox(state.uid)
        self._states.pop(key, None)
        if self._keys.get(state.uid) == key:
            del self._keys[state.uid]
        self._active.get(state.node, {}).pop(key, None)

    def _event(self, node: NodeHandle, pod: dict, event_type: str, reason: str, message: str,
               field_path: str = "") -> None:
        if node.recorder is not None:
            node.recorder.event(pod, event_type, reason, message, field_path)
