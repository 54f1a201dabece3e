"""RuncPodRuntime: real pods for the pod workers, over runc, CNI, volumes, images, probes and hooks.

It implements `agent.runtime.Runtime` for `agent.pods.PodWorkers`, which calls it on the event
loop: every method returns at once, the work runs in background tasks (blocking calls in a
private thread pool) and `status()` shows the progress, as a CRI runtime does for the kubelet.
- `run_sandbox`: volumes (`agent.volumes`; FailedMount), the pod network (`agent.network`: netns
  + CNI, whose host-local IPAM gives the pod IP: `assigns_pod_ips`; FailedCreatePodSandBox), the
  resolv.conf/hosts/hostname files (`network.podfiles`); hostNetwork pods use the host's. Retried
  with back-off; PodReadyToStartContainers turns True when done.
- `start_container`: a CREATED instance at once (ContainerCreating), then image (`agent.images`,
  imagePullPolicy: ErrImagePull → ImagePullBackOff, ErrImageNeverPull), env (`agent.envvars`),
  mounts, `RuncRuntime.create` and `start`; a failure is the waiting reason (CreateContainerConfigError,
  CreateContainerError, RunContainerError) and is retried with back-off. Then an exit watcher (the
  shim's pidfd on the loop, plus a slow safety poll), postStart (`agent.hooks`), probes (`agent.probes`).
- `stop_container`: preStop within the grace period, SIGTERM, SIGKILL when the rest of the grace period
  (at least 2 s, upstream's minimum window) has passed; one not running yet is dropped.
- `remove_sandbox`: containers still running are stopped with a grace period of 1 s (a pod that left
  the API, as upstream), then containers, network, volumes and pod files go, in the background,
  retried until done; a second call (the pod left the API) also removes the logs.
- `restore`: re-adopt a pod's containers and network after an agent restart, restarting nothing;
  `load()` reads them all once first, `gc(keep)` removes what belongs to no pod.
Events go to the injected `event(pod, type, reason, message, field_path)`; `set_listener(cb)`
wakes the pod workers. For other agent parts: `runc`, `netns_path`, `pod_ip`, `container_info`,
`container_id`, `exec`, `exec_sync`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
import os
import shutil
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from podplane.agent.envvars import EnvConfigError, resolve_env
from podplane.agent.hooks import (
    FAILED_POST_START_HOOK,
    FAILED_PRE_STOP_HOOK,
    POST_START_HOOK_FAILED,
    PRE_STOP_HOOK_FAILED,
    HookError,
    HookTimeoutError,
    run_hook,
)
from podplane.agent.images import ImageError, Images, ImageSpec, InvalidImageName, parse_reference
from podplane.agent.network.errors import NetworkError
from podplane.agent.network.podfiles import pod_files, pod_hostname, write_pod_files
from podplane.agent.network.sandbox import PodNetworkAPI, SandboxNetwork, port_mappings_from_pod
from podplane.agent.probes import ProbeManager, ProbeTarget
from podplane.agent.runtime import CREATED, EXITED, RUNNING, ContainerStatus, SandboxStatus
from podplane.agent.runtime.logs import pod_log_dir, prune_logs
from podplane.agent.runtime.oci import ContainerRuntimeError, Mount, SandboxConfig, SpecError
from podplane.agent.runtime.runc import (
    UNKNOWN,
    ContainerInfo,
    ContainerNotFound,
    ContainerRequest,
    ExecProcess,
    ExecResult,
    RuncError,
    RuncRuntime,
)
from podplane.agent.volumes import VolumeError, VolumeManager

__all__ = ["EventFn", "RuncPodRuntime", "default_pull_policy"]

log = logging.getLogger(__name__)

EventFn = Callable[[dict, str, str, str, str], None]
"""`event(pod, type, reason, message, field_path)`, e.g. an EventRecorder's `event`."""

_REFRESHED_VOLUMES = {"configMap", "secret", "downwardAPI", "projected"}
"""Volume kinds whose content follows API objects and is refreshed while the pod runs."""
RETRY_BACKOFF = 10.0
"""First retry delay after a failed sandbox or container creation (upstream's image back-off)."""
MAX_RETRY_BACKOFF = 300.0
POLL_INTERVAL = 10.0
"""Safety poll of running containers, for exits the shim's pidfd did not report."""
MIN_STOP_GRACE = 2.0
"""Upstream's minimumGracePeriodInSeconds: the least time between SIGTERM and SIGKILL, whatever the
grace period (and a preStop hook) left."""
REMOVAL_GRACE = 1.0
"""The grace period of containers still running when their pod is removed without a graceful stop
(it left the API: a forced deletion): upstream's pod workers never use less than 1 s."""
REMOVAL_WAIT = 10.0
"""How long a removal waits for those containers to stop before it kills what is left."""
DEFAULT_GRACE = 30.0
KEEP_INSTANCES = 2
"""Instances kept per container name (the latest and the one before), like the kubelet's GC."""


def default_pull_policy(image: str) -> str:
    """Upstream defaulting: Always for `:latest` or no tag, else IfNotPresent."""
    try:
        ref = parse_reference(image)
    except ImageError:
        return "IfNotPresent"
    if ref.digest:
        return "IfNotPresent"
    return "Always" if ref.tag in ("", "latest") else "IfNotPresent"


def _field_path(name: str, init: bool) -> str:
    return f"spec.{'initContainers' if init else 'containers'}{{{name}}}"


def _grace(pod: dict) -> float:
    value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    try:
        return max(0.0, float(DEFAULT_GRACE if value is None else value))
    except (TypeError, ValueError):
        return DEFAULT_GRACE


class _Failure(Exception):
    """A container could not be created yet: its waiting reason, message and events."""

    def __init__(self, reason: str, message: str, *, events: tuple[tuple[str, str, str], ...] = (),
                 error: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.events = events
        self.error = error if error is not None else message
        """What the `Failed` event says after "Error: " (the reason for image errors, as upstream)."""


class _SandboxFailure(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(eq=False)
class _Instance:
    """One container instance of a pod, from `start_container` to its removal."""

    name: str
    container: dict
    init: bool
    attempt: int
    created_at: float
    image: str
    image_id: str = ""
    cid: str = ""
    info: ContainerInfo | None = None
    reason: str = ""
    message: str = ""
    poststart_done: bool = True
    busy: bool = False
    """A create/start call is in flight in a thread (an abort is handled when it returns)."""
    stopping: bool = False
    stop_grace: float = 0.0
    aborted: bool = False
    """Stopped before it ever ran: dropped from the pod when its task notices."""
    exit_fd: int | None = None
    probed: bool = False
    hook_error: str = ""
    """The postStart failure that got this instance killed (its termination message)."""
    task: asyncio.Task | None = None
    hook_task: asyncio.Task | None = None
    stop_task: asyncio.Task | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def running(self) -> bool:
        return self.info is not None and self.info.state in (RUNNING, UNKNOWN)

    @property
    def exited(self) -> bool:
        return self.info is not None and self.info.state == EXITED


@dataclass(eq=False)
class _Pod:
    uid: str
    pod: dict
    created_at: float
    ip: str = ""
    host_network: bool = False
    netns_path: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    volume_paths: dict[str, str] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    instances: list[_Instance] = field(default_factory=list)
    tasks: set[asyncio.Task] = field(default_factory=set)
    retry: dict[str, float] = field(default_factory=dict)
    """container name → its current retry back-off (upstream keys the image back-off per pod+image)."""
    removing: bool = False
    adopted: bool = False
    """Restored after an agent restart: reported ready while its set-up is re-checked."""

    @property
    def meta(self) -> dict:
        return self.pod.get("metadata") or {}

    def latest(self, name: str) -> _Instance | None:
        for inst in reversed(self.instances):
            if inst.name == name:
                return inst
        return None

    def spec_container(self, name: str) -> tuple[dict, bool] | None:
        spec = self.pod.get("spec") or {}
        for c in spec.get("initContainers") or []:
            if c.get("name") == name:
                return c, True
        for c in spec.get("containers") or []:
            if c.get("name") == name:
                return c, False
        return None


class RuncPodRuntime:
    """Real pods; see the module docstring. Constructed by the composition root:

    `runc` the node's RuncRuntime, `network` its PodNetwork (prepare_host done), `images` its
    Images, `sandbox_dir` where the pods' resolv.conf/hosts/hostname live, `client` for env and
    volume sources, `event` the node's EventRecorder.event, `host_ip` the node address,
    `cluster_dns`/`cluster_domain` the DNS settings, `node_allocatable` for resourceFieldRef
    defaults, `volumes` a VolumeManager (built from `client` and `volumes_dir` when omitted).
    `probe_manager` / `hook_runner` replace `agent.probes.ProbeManager` / `agent.hooks.run_hook`
    (tests); `retry_backoff`..`max_retry_backoff` bound the creation retries, `poll_interval` the
    safety poll (0: none).
    """

    name = "runc"
    assigns_pod_ips = True
    emits_container_events = True

    def __init__(self, runc: RuncRuntime, network: PodNetworkAPI, images: Images, *, sandbox_dir: str,
                 client: Any = None, event: EventFn | None = None, host_ip: str = "127.0.0.1",
                 cluster_dns: Iterable[str] = (), cluster_domain: str = "cluster.local",
                 resolv_conf: str = "/etc/resolv.conf", host_hosts: str = "/etc/hosts",
                 node_allocatable: dict[str, Decimal] | None = None, volumes: Any = None,
                 volumes_dir: str | None = None, services: Callable[[], Iterable[dict]] | None = None,
                 probe_manager: Callable[..., Any] = ProbeManager,
                 hook_runner: Callable[..., Awaitable[Any]] = run_hook,
                 clock: Callable[[], float] = time.time, retry_backoff: float = RETRY_BACKOFF,
                 max_retry_backoff: float = MAX_RETRY_BACKOFF, poll_interval: float = POLL_INTERVAL,
                 threads: int = 32, host_network_only: bool = False,
                 start_concurrency: int = 2 * (os.cpu_count() or 1)) -> None:
        self.runc = runc
        self.host_network_only = host_network_only
        self._sandbox_starts = asyncio.Semaphore(max(1, start_concurrency))
        self._container_starts = asyncio.Semaphore(max(1, start_concurrency))
        """Sandbox set-ups and container creations in flight (each): they are CPU-bound (CNI
        plugins, runc, the supervisor), and run all at once a burst of pods would finish together,
        at the end; a few at a time, and the two stages pipelined, the first pods run early and
        the total stays the same."""
        """Every pod uses the host's network (the process runtime: `network.hostonly`)."""
        self.network = network
        self.images = images
        self.sandbox_dir = os.path.abspath(sandbox_dir)
        self.client = client
        self.event = event
        self.host_ip = host_ip
        self.cluster_dns = tuple(cluster_dns)
        self.cluster_domain = cluster_domain
        self.resolv_conf = resolv_conf
        self.host_hosts = host_hosts
        self.node_allocatable = node_allocatable
        self.clock = clock
        self.retry_backoff = max(0.001, retry_backoff)
        self.max_retry_backoff = max(self.retry_backoff, max_retry_backoff)
        self.poll_interval = poll_interval
        if volumes is None and volumes_dir:
            volumes = VolumeManager(client, volumes_dir, clock=clock, node_allocatable=node_allocatable)
        self.volumes = volumes
        self.services = services
        self._run_hook = hook_runner
        self.probes = probe_manager(exec_fn=self._exec_fn, on_change=self._probe_changed,
                                    on_unhealthy=self._probe_unhealthy, on_event=self._emit, clock=clock)
        self._executor = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="runc-pods")
        self._pods: dict[str, _Pod] = {}
        self._by_cid: dict[str, tuple[_Pod, _Instance]] = {}
        self._removals: dict[str, asyncio.Task] = {}
        self._removed: set[str] = set()
        """Pods whose sandbox is gone; a second remove_sandbox (the pod left the API) removes their logs."""
        self._logs_pending: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._listener: Callable[[str], None] | None = None
        self._poller: asyncio.Task | None = None
        self._found: dict[str, list[ContainerInfo]] = {}
        self._found_networks: dict[str, SandboxNetwork] = {}
        self._loaded = False
        self._version: str | None = None
        self._closed = False

    # -- contract: identity and listener -------------------------------------------------------------
    @property
    def version(self) -> str:
        if self._version is None:
            self._version = self.runc.version()
        return self._version

    def set_listener(self, callback: Callable[[str], None] | None) -> None:
        """`callback(pod_uid)` whenever a pod changed by itself (see `agent.runtime`)."""
        self._listener = callback

    def _notify(self, uid: str) -> None:
        if self._listener is None or uid not in self._pods:
            return
        try:
            self._listener(uid)
        except Exception:
            log.exception("runtime listener failed for pod %s", uid)

    # -- helpers ---------------------------------------------------------------------------------------
    async def _thread(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Run a blocking call in the runtime's own pool (long runc stops must not starve the default one)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kw))

    def _spawn(self, coro: Awaitable[Any], rec: _Pod | None = None, what: str = "") -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        if rec is not None:
            rec.tasks.add(task)

        def done(t: asyncio.Task) -> None:
            self._tasks.discard(t)
            if rec is not None:
                rec.tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("pod %s: %s failed", rec.uid if rec else "-", what or "background task",
                          exc_info=t.exception())

        task.add_done_callback(done)
        self._ensure_poller()
        return task

    def _ensure_poller(self) -> None:
        if self._poller is None and self.poll_interval > 0 and not self._closed:
            self._poller = asyncio.ensure_future(self._poll_loop())

    def _emit(self, pod: dict, event_type: str, reason: str, message: str, field_path: str = "") -> None:
        if self.event is None:
            return
        try:
            self.event(pod, event_type, reason, message, field_path)
        except Exception:
            log.exception("recording event %s failed", reason)

    def _emit_for(self, rec: _Pod, inst: _Instance, event_type: str, reason: str, message: str) -> None:
        self._emit(rec.pod, event_type, reason, message, _field_path(inst.name, inst.init))

    def _next_delay(self, rec: _Pod, key: str) -> float:
        current = rec.retry.get(key)
        delay = self.retry_backoff if current is None else min(current * 2, self.max_retry_backoff)
        rec.retry[key] = delay
        return delay

    @staticmethod
    async def _sleep(event: asyncio.Event, seconds: float) -> None:
        """Sleep, but return early when `event` is set (an abort or a removal)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(0.0, seconds))

    # -- contract: sandboxes ---------------------------------------------------------------------------
    def has_sandbox(self, uid: str) -> bool:
        return uid in self._pods

    def run_sandbox(self, pod: dict, ip: str, now: float) -> None:
        """Start setting up the pod's sandbox; `ip` is only used for hostNetwork pods (the host's)."""
        uid = pod["metadata"]["uid"]
        if uid in self._pods:
            self._pods[uid].pod = pod
            return
        host = self.host_network_only or bool((pod.get("spec") or {}).get("hostNetwork"))
        rec = _Pod(uid, pod, now, ip=(ip or self.host_ip) if host else "", host_network=host)
        self._pods[uid] = rec
        self._removed.discard(uid)
        self._spawn(self._setup_sandbox(rec), rec, "sandbox setup")

    async def _setup_sandbox(self, rec: _Pod) -> None:
        """Volumes, network, pod files; retried with back-off until done or the pod is removed."""
        pending = self._removals.get(rec.uid)
        if pending is not None:  # an earlier incarnation is still being torn down
            with contextlib.suppress(Exception):
                await asyncio.shield(pending)
        while not rec.removing:
            try:
                async with self._sandbox_starts:
                    if rec.removing:  # removed while it queued: set nothing up
                        break
                    await self._setup_once(rec)
            except _SandboxFailure as f:
                rec.adopted = False
                delay = self._next_delay(rec, "")
                log.warning("pod %s: %s (retrying in %.1fs)", rec.uid, f.message, delay)
                self._emit(rec.pod, "Warning", f.reason, f.message)
                self._notify(rec.uid)
                await self._sleep(rec.wake, delay)  # the wake event is only ever set for the removal
                continue
            rec.retry.pop("", None)
            rec.ready.set()
            self._notify(rec.uid)
            return

    async def _setup_once(self, rec: _Pod) -> None:
        meta = rec.meta
        if self.volumes is not None:
            try:
                rec.volume_paths = dict(await self.volumes.setup(rec.pod) or {})
            except VolumeError as e:
                raise _SandboxFailure(e.reason or "FailedMount", str(e)) from e
        if rec.removing:
            return
        if not rec.host_network:
            try:
                net = await self.network.setup(rec.uid, meta.get("name") or "", meta.get("namespace") or "",
                                               port_mappings_from_pod(rec.pod))
            except NetworkError as e:
                raise _SandboxFailure("FailedCreatePodSandBox", f"Failed to create pod sandbox: {e}") from e
            rec.ip, rec.netns_path = net.ip, net.netns_path
        try:
            rec.files = await self._thread(self._write_files, rec)
        except OSError as e:
            raise _SandboxFailure("FailedCreatePodSandBox", "Failed to create pod sandbox: "
                                  f"cannot write the pod's DNS files: {e}") from e

    def _files_dir(self, uid: str) -> str:
        return os.path.join(self.sandbox_dir, uid)

    def _write_files(self, rec: _Pod) -> dict[str, str]:
        directory = self._files_dir(rec.uid)
        names = ("resolv.conf", "hosts", "hostname")
        if all(os.path.exists(os.path.join(directory, n)) for n in names):
            # set up before (an adopted pod): keep the files its containers have bind-mounted
            return {n: os.path.join(directory, n) for n in names}
        try:
            with open(self.resolv_conf) as f:
                host_resolv = f.read()
        except OSError:
            host_resolv = ""
        files = pod_files(rec.pod, [rec.ip] if rec.ip else [], cluster_dns=self.cluster_dns,
                          cluster_domain=self.cluster_domain, host_resolv_conf=host_resolv)
        if rec.host_network:
            files = dataclasses.replace(files, hosts=self._host_network_hosts(rec.pod),
                                        hostname=socket.gethostname() + "\n")
        return write_pod_files(directory, files)

    def _host_network_hosts(self, pod: dict) -> str:
        """The kubelet's hosts file for hostNetwork pods: the node's own, plus hostAliases."""
        try:
            with open(self.host_hosts) as f:
                text = f.read()
        except OSError:
            text = "127.0.0.1\tlocalhost\n"
        lines = ["# Kubernetes-managed hosts file (host network).", text.rstrip("\n")]
        aliases = [a for a in (pod.get("spec") or {}).get("hostAliases") or []
                   if a.get("ip") and a.get("hostnames")]
        if aliases:
            lines += ["", "# Entries added by HostAliases."]
            lines += [f"{a['ip']}\t" + "\t".join(a["hostnames"]) for a in aliases]
        return "\n".join(lines) + "\n"

    def _sandbox_config(self, rec: _Pod) -> SandboxConfig:
        if rec.host_network:
            hostname = socket.gethostname()
        else:
            hostname, _ = pod_hostname(rec.pod, self.cluster_domain)
        files = rec.files
        return SandboxConfig(hostname=hostname, netns_path=rec.netns_path, hosts_path=files.get("hosts", ""),
                             resolv_conf_path=files.get("resolv.conf", ""),
                             hostname_path=files.get("hostname", ""))

    def remove_sandbox(self, uid: str) -> None:
        """Tear the pod down in the background (idempotent). Called again once the pod has left the
        API, it also removes the pod's log files."""
        rec = self._pods.pop(uid, None)
        if rec is None:
            if uid in self._removals:
                self._logs_pending.add(uid)
            elif uid in self._removed:
                self._removed.discard(uid)
                self._spawn(self._thread(self._remove_logs, uid), None, "log removal")
            return
        rec.removing = True
        rec.wake.set()
        for inst in rec.instances:
            inst.wake.set()
        self._removed.add(uid)
        self._removals[uid] = self._spawn(self._remove(rec), None, "sandbox removal")

    async def wait_removed(self, uid: str) -> None:
        """Wait until a removal started by `remove_sandbox` has finished (tests, shutdown)."""
        task = self._removals.get(uid)
        if task is not None:
            await asyncio.shield(task)

    async def _remove(self, rec: _Pod) -> None:
        try:
            for inst in rec.instances:
                if inst.hook_task is not None and not inst.hook_task.done():
                    inst.hook_task.cancel()
            waiting = [t for t in rec.tasks if not t.done() and t is not asyncio.current_task()
                       and t not in {i.stop_task for i in rec.instances}]
            if waiting:  # setup and launches end at their next step (a create in flight finishes first)
                await asyncio.wait(waiting, timeout=60)
            await self._stop_for_removal(rec)
            for inst in rec.instances:
                self._forget_instance(inst)
            delay = self.retry_backoff
            while True:
                try:
                    await self._teardown(rec)
                    return
                except Exception as e:  # keep trying: leftovers would hold addresses and mounts
                    log.warning("pod %s: removing the sandbox failed (retrying in %.0fs): %s",
                                rec.uid, delay, e)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.max_retry_backoff)
        finally:
            self._removals.pop(rec.uid, None)
            if rec.uid in self._logs_pending:
                self._logs_pending.discard(rec.uid)
                self._removed.discard(rec.uid)
                await self._thread(self._remove_logs, rec.uid)

    async def _stop_for_removal(self, rec: _Pod) -> None:
        """Stop what still runs as the kubelet stops the containers of a pod that left the API
        (upstream gives them a grace period of 1 s: preStop, SIGTERM, SIGKILL after the minimum
        window). Stops under way are waited for up to REMOVAL_WAIT, like the new ones; the teardown
        kills whatever is left after that."""
        stops: list[asyncio.Task] = []
        for inst in rec.instances:
            if inst.stop_task is not None and not inst.stop_task.done():
                stops.append(inst.stop_task)
            elif inst.cid and inst.running and not inst.stopping:
                inst.stopping = True
                self._emit_for(rec, inst, "Normal", "Killing", f"Stopping container {inst.name}")
                inst.stop_task = self._spawn(self._stop(rec, inst, REMOVAL_GRACE), rec, f"stopping {inst.name}")
                stops.append(inst.stop_task)
        if stops:
            await asyncio.wait(stops, timeout=REMOVAL_WAIT)

    async def _teardown(self, rec: _Pod) -> None:
        await self._thread(self.runc.remove_pod, rec.pod)
        if not rec.host_network:
            await self.network.teardown(rec.uid)
        if self.volumes is not None:
            await self.volumes.teardown(rec.uid)
        await self._thread(shutil.rmtree, self._files_dir(rec.uid), True)

    def _remove_logs(self, uid: str) -> None:
        root = self.runc.config.log_dir
        with contextlib.suppress(FileNotFoundError):
            for entry in os.listdir(root):
                if entry.endswith(f"_{uid}"):
                    shutil.rmtree(os.path.join(root, entry), ignore_errors=True)

    # -- contract: containers --------------------------------------------------------------------------
    def start_container(self, pod: dict, container: dict, *, attempt: int, init: bool, now: float
                        ) -> ContainerStatus:
        rec = self._pods[pod["metadata"]["uid"]]
        rec.pod = pod
        inst = _Instance(container["name"], container, init, attempt, now, container.get("image") or "")
        rec.instances.append(inst)
        same = [i for i in rec.instances if i.name == inst.name]
        for old in same[:-KEEP_INSTANCES]:
            rec.instances.remove(old)
            self._discard_instance(rec, old)
        inst.task = self._spawn(self._launch(rec, inst), rec, f"container {inst.name}")
        return self._view(inst)

    def _discard_instance(self, rec: _Pod, inst: _Instance) -> None:
        """An instance that fell out of the kept window: remove its container (and old logs)."""
        inst.aborted = True
        inst.wake.set()
        self._forget_instance(inst)
        if inst.cid:
            meta = rec.meta
            log_dir = pod_log_dir(self.runc.config.log_dir, meta.get("namespace") or "",
                                  meta.get("name") or "", rec.uid)

            def remove(cid: str = inst.cid) -> None:
                with contextlib.suppress(ContainerNotFound):
                    self.runc.remove(cid)
                prune_logs(log_dir, inst.name, KEEP_INSTANCES)

            self._spawn(self._thread(remove), None, "container removal")

    def _drop(self, rec: _Pod, inst: _Instance) -> None:
        if inst in rec.instances:
            rec.instances.remove(inst)
        self._forget_instance(inst)
        self._notify(rec.uid)

    async def _launch(self, rec: _Pod, inst: _Instance) -> None:
        """Prepare and start one container, retrying failures with back-off, until it runs."""
        while True:
            if inst.aborted or rec.removing:
                self._drop(rec, inst)
                return
            if not rec.ready.is_set():
                waits = [asyncio.ensure_future(rec.ready.wait()), asyncio.ensure_future(inst.wake.wait())]
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waits:
                        w.cancel()
                continue
            try:
                async with self._container_starts:
                    if inst.aborted or rec.removing:
                        self._drop(rec, inst)
                        return
                    await self._create_and_start(rec, inst)
            except _Failure as f:
                await self._failed(rec, inst, f)
                continue
            except _Aborted:
                self._drop(rec, inst)
                return
            rec.retry.pop(inst.name, None)
            return

    async def _failed(self, rec: _Pod, inst: _Instance, f: _Failure) -> None:
        """Show a creation failure as the waiting reason, record its events, wait out the back-off."""
        delay = self._next_delay(rec, inst.name)
        inst.reason, inst.message = f.reason, f.message
        for event_type, reason, message in f.events:
            self._emit_for(rec, inst, event_type, reason, message)
        self._emit_for(rec, inst, "Warning", "Failed", f"Error: {f.error}")
        log.info("pod %s container %s: %s: %s (retrying in %.1fs)",
                 rec.uid, inst.name, f.reason, f.message, delay)
        self._notify(rec.uid)
        if f.reason == "ErrImagePull":  # upstream shows ErrImagePull, then ImagePullBackOff until the retry
            await self._sleep(inst.wake, delay / 2)
            if inst.aborted or rec.removing:
                return
            image = inst.container.get("image") or ""
            inst.reason = "ImagePullBackOff"
            inst.message = f'Back-off pulling image "{image}": ErrImagePull: {f.message}'
            self._emit_for(rec, inst, "Normal", "BackOff", f'Back-off pulling image "{image}"')
            self._emit_for(rec, inst, "Warning", "Failed", "Error: ImagePullBackOff")
            self._notify(rec.uid)
            await self._sleep(inst.wake, delay - delay / 2)
        else:
            await self._sleep(inst.wake, delay)

    async def _create_and_start(self, rec: _Pod, inst: _Instance) -> None:
        image = await self._ensure_image(rec, inst)
        env = await self._resolve_env(rec, inst)
        mounts = self._mounts(rec, inst, env)
        if inst.aborted or rec.removing:
            raise _Aborted
        req = ContainerRequest(pod=rec.pod, container=inst.container, image=image,
                               sandbox=self._sandbox_config(rec), attempt=inst.attempt, mounts=mounts,
                               env=env, init=inst.init)
        inst.busy = True
        try:
            try:
                info = await self._thread(self.runc.create, req)
            except SpecError as e:
                raise _Failure("CreateContainerConfigError", str(e)) from e
            except ContainerRuntimeError as e:
                raise _Failure("CreateContainerError", str(e)) from e
            inst.cid, inst.info = info.id, info
            inst.reason = inst.message = ""
            self._by_cid[info.id] = (rec, inst)
            if inst.aborted or rec.removing:
                await self._remove_container(inst)
                raise _Aborted
            self._emit_for(rec, inst, "Normal", "Created", f"Created container: {inst.name}")
            self._notify(rec.uid)
            try:
                info = await self._thread(self.runc.start, info.id)
            except ContainerRuntimeError as e:
                await self._remove_container(inst)
                raise _Failure("RunContainerError", str(e)) from e
        finally:
            inst.busy = False
        inst.info = info
        self._emit_for(rec, inst, "Normal", "Started", f"Started container {inst.name}")
        handler = (inst.container.get("lifecycle") or {}).get("postStart")
        self._watch_exit(rec, inst)
        if handler:  # probes start once postStart returned (upstream's prober only sees it then)
            inst.poststart_done = False
        else:
            self._add_probes(rec, inst)
        self._notify(rec.uid)
        if inst.aborted or rec.removing:  # stopped while starting: it ran, so stop it properly
            inst.stop_task = self._spawn(self._stop(rec, inst, inst.stop_grace), rec, f"stopping {inst.name}")
            return
        if handler:
            inst.hook_task = self._spawn(self._post_start(rec, inst, handler), rec,
                                         f"postStart of {inst.name}")

    async def _remove_container(self, inst: _Instance) -> None:
        cid = inst.cid
        self._forget_instance(inst)
        inst.cid, inst.info = "", None
        with contextlib.suppress(ContainerNotFound, RuncError):
            await self._thread(self.runc.remove, cid)

    async def _ensure_image(self, rec: _Pod, inst: _Instance) -> ImageSpec:
        ref = inst.container.get("image") or ""
        policy = inst.container.get("imagePullPolicy") or default_pull_policy(ref)
        try:
            spec: ImageSpec = await self._thread(self.images.resolve, ref)
        except InvalidImageName as e:
            msg = f'Failed to apply default image tag "{ref}": {e}'
            raise _Failure("InvalidImageName", msg, events=(("Warning", "InspectFailed", msg),),
                           error="InvalidImageName") from e
        except ImageError as e:
            if policy == "Never":
                msg = f'Container image "{ref}" is not present with pull policy of Never'
                raise _Failure("ErrImageNeverPull", msg, events=(("Warning", "ErrImageNeverPull", msg),),
                               error="ErrImageNeverPull") from e
            raise _Failure("ErrImagePull", str(e), error="ErrImagePull", events=(
                ("Normal", "Pulling", f'Pulling image "{ref}"'),
                ("Warning", "Failed", f'Failed to pull image "{ref}": {e}'))) from e
        # No registry pulls here: Always with a local image behaves like IfNotPresent.
        self._emit_for(rec, inst, "Normal", "Pulled", f'Container image "{ref}" already present on machine')
        inst.image, inst.image_id = spec.ref, spec.image_id
        return spec

    async def _resolve_env(self, rec: _Pod, inst: _Instance) -> tuple[tuple[str, str], ...]:
        def warn(reason: str, message: str) -> None:
            self._emit_for(rec, inst, "Warning", reason, message)

        try:
            return tuple(await resolve_env(self.client, rec.pod, inst.container,
                                           node_allocatable=self.node_allocatable,
                                           services=self.services() if self.services is not None else None,
                                           pod_ips=[rec.ip] if rec.ip else None, host_ips=[self.host_ip],
                                           warn=warn))
        except EnvConfigError as e:
            raise _Failure("CreateContainerConfigError", str(e)) from e

    def _mounts(self, rec: _Pod, inst: _Instance, env: tuple[tuple[str, str], ...]) -> tuple[Mount, ...]:
        if self.volumes is None:
            return ()
        try:
            return tuple(self.volumes.mounts(rec.pod, inst.container, rec.volume_paths, env=env))
        except VolumeError as e:
            raise _Failure(e.reason or "CreateContainerConfigError", str(e)) from e

    # -- running containers: exits, probes, hooks ----------------------------------------------------------
    def _watch_exit(self, rec: _Pod, inst: _Instance) -> None:
        """Wake up when the shim records the exit (its pidfd turns readable), without polling."""
        try:
            fd = self.runc.exit_fd(inst.cid)
        except (ContainerNotFound, OSError):
            fd = None
        if fd is None:  # exited already, or no shim to watch: look now (the safety poll covers the rest)
            self._spawn(self._refresh(rec, inst), rec, f"inspecting {inst.name}")
            return
        inst.exit_fd = fd
        asyncio.get_running_loop().add_reader(fd, self._exit_ready, rec, inst)

    def _exit_ready(self, rec: _Pod, inst: _Instance) -> None:
        self._close_watch(inst)
        self._spawn(self._refresh(rec, inst), rec, f"inspecting {inst.name}")

    def _close_watch(self, inst: _Instance) -> None:
        fd, inst.exit_fd = inst.exit_fd, None
        if fd is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(fd)
            with contextlib.suppress(OSError):
                os.close(fd)

    async def _refresh(self, rec: _Pod, inst: _Instance) -> None:
        if not inst.cid:
            return
        try:
            info = await self._thread(self.runc.inspect, inst.cid)
        except ContainerNotFound:
            return
        self._update(rec, inst, info)

    def _update(self, rec: _Pod, inst: _Instance, info: ContainerInfo) -> None:
        before = inst.info
        inst.info = info
        if info.state == EXITED:
            self._close_watch(inst)
            self._remove_probes(inst)
            if inst.hook_task is not None and not inst.hook_task.done():
                inst.hook_task.cancel()
        if before is None or (before.state, before.started_at) != (info.state, info.started_at):
            self._notify(rec.uid)

    def _add_probes(self, rec: _Pod, inst: _Instance) -> None:
        if inst.probed or not inst.cid:
            return
        started = inst.info.started_at if inst.info is not None and inst.info.started_at else self.clock()
        self.probes.add(ProbeTarget(pod=rec.pod, container=inst.container, instance_id=inst.cid,
                                    pod_ip=rec.ip, started_at=started))
        inst.probed = True

    def _quiet_probes(self, rec: _Pod, inst: _Instance) -> None:
        """A container being stopped is no longer liveness- or startup-probed (upstream does so for a
        terminating pod): the probe manager sees a deletionTimestamp on its copy of the pod."""
        if not inst.probed or (rec.meta.get("deletionTimestamp")):
            return
        pod = {**rec.pod, "metadata": {**rec.meta, "deletionTimestamp": "stopping"}}
        self.probes.add(ProbeTarget(pod=pod, container=inst.container, instance_id=inst.cid, pod_ip=rec.ip,
                                    started_at=inst.info.started_at if inst.info else self.clock()))

    def _remove_probes(self, inst: _Instance) -> None:
        if inst.probed:
            inst.probed = False
            self.probes.remove(inst.cid)

    def _forget_instance(self, inst: _Instance) -> None:
        self._close_watch(inst)
        self._remove_probes(inst)
        if inst.cid:
            self._by_cid.pop(inst.cid, None)

    async def _exec_fn(self, instance_id: str, argv: list[str], timeout: float | None  # noqa: ASYNC109
                       ) -> tuple[int, bytes]:
        """Exec probes and hooks: (exit code, output); TimeoutError when it ran too long."""
        result: ExecResult = await self._thread(self.runc.exec_sync, instance_id, list(argv), timeout=timeout)
        if result.timed_out:
            raise TimeoutError(f"command {list(argv)} timed out after {timeout}s")
        return result.exit_code, result.stdout + result.stderr

    def _lookup(self, arg: Any) -> tuple[_Pod, _Instance] | None:
        cid = arg if isinstance(arg, str) else getattr(arg, "instance_id", None)
        found = self._by_cid.get(cid) if cid else None
        if found is None or found[0].uid not in self._pods:
            return None
        return found

    def _probe_changed(self, pod_uid: str) -> None:
        self._notify(pod_uid)

    def _probe_unhealthy(self, target: ProbeTarget, message: str) -> None:
        """A liveness or startup probe failed for good: kill the container; the workers restart it."""
        found = self._lookup(target)
        if found is None:
            return
        rec, inst = found
        if not inst.running or inst.stopping:
            return
        grace = self.probes.probe_termination_grace(inst.cid)
        self._emit_for(rec, inst, "Normal", "Killing", message or f"Stopping container {inst.name}")
        inst.stopping = True
        grace_seconds = _grace(rec.pod) if grace is None else float(grace)
        inst.stop_task = self._spawn(self._stop(rec, inst, grace_seconds), rec, f"stopping {inst.name}")

    async def _post_start(self, rec: _Pod, inst: _Instance, handler: dict) -> None:
        """Run postStart; the container counts as started only after it returns, and is killed on failure."""
        try:
            await self._run_hook(handler, pod=rec.pod, container=inst.container, instance_id=inst.cid,
                                 pod_ip=rec.ip, exec_fn=self._exec_fn, on_event=self._emit)
        except HookError as e:
            if inst.stopping or not inst.running or rec.removing:
                return
            log.info("pod %s: postStart of %s failed: %s", rec.uid, inst.name, e)
            inst.hook_error = str(e)
            self._emit_for(rec, inst, "Warning", FAILED_POST_START_HOOK, POST_START_HOOK_FAILED)
            self._emit_for(rec, inst, "Normal", "Killing", FAILED_POST_START_HOOK)
            inst.stopping = True
            inst.stop_task = self._spawn(self._stop(rec, inst, _grace(rec.pod)), rec, f"stopping {inst.name}")
            return
        inst.poststart_done = True
        if inst.running and not inst.stopping:
            self._add_probes(rec, inst)
        self._notify(rec.uid)

    def stop_container(self, uid: str, name: str, grace: float, now: float) -> None:
        """Stop the newest instance of `name` in the background (preStop, SIGTERM, SIGKILL after `grace`);
        one that has not started yet is abandoned (and removed if its creation is in flight)."""
        rec = self._pods.get(uid)
        inst = rec.latest(name) if rec else None
        if rec is None or inst is None or inst.exited or inst.stopping:
            return
        inst.stopping = True
        if not inst.running and not (inst.busy and inst.info is not None):
            inst.aborted = True
            inst.wake.set()
            if not inst.busy:
                self._drop(rec, inst)
            return
        if inst.busy:  # `runc start` in flight: the launch stops it once it returns
            inst.aborted, inst.stop_grace = True, max(0.0, grace)
            return
        inst.stop_task = self._spawn(self._stop(rec, inst, max(0.0, grace)), rec, f"stopping {name}")

    async def _stop(self, rec: _Pod, inst: _Instance, grace: float) -> None:
        if inst.hook_task is not None and not inst.hook_task.done():
            inst.hook_task.cancel()
        self._quiet_probes(rec, inst)
        started = time.monotonic()
        handler = (inst.container.get("lifecycle") or {}).get("preStop")
        if handler and inst.running and grace > 0:
            try:
                await self._run_hook(handler, pod=rec.pod, container=inst.container, instance_id=inst.cid,
                                     pod_ip=rec.ip, exec_fn=self._exec_fn, timeout=grace, on_event=self._emit)
            except HookTimeoutError as e:  # upstream only logs this
                log.info("pod %s: the preStop hook of %s: %s", rec.uid, inst.name, e)
            except HookError as e:
                log.info("pod %s: the preStop hook of %s failed: %s", rec.uid, inst.name, e)
                self._emit_for(rec, inst, "Warning", FAILED_PRE_STOP_HOOK, PRE_STOP_HOOK_FAILED)
            grace -= int(time.monotonic() - started)  # upstream deducts the hook's whole seconds
        # Upstream's killContainer: never less than the minimum window between SIGTERM and SIGKILL.
        remaining = max(grace, MIN_STOP_GRACE)
        try:
            info = await self._thread(self.runc.stop, inst.cid, remaining)
        except ContainerNotFound:
            return
        except RuncError as e:  # the safety poll tries again
            log.warning("pod %s: stopping %s failed: %s", rec.uid, inst.name, e)
            inst.stop_task = None
            return
        self._update(rec, inst, info)

    async def _refresh_volumes(self) -> None:
        """Bring configMap, secret, downwardAPI and projected volumes of set-up pods up to date
        (the kubelet's periodic remount: changes reach running containers within a poll)."""
        if self.volumes is None:
            return
        for rec in list(self._pods.values()):
            if rec.removing or not rec.ready.is_set() or not any(
                    _REFRESHED_VOLUMES & set(v) for v in (rec.pod.get("spec") or {}).get("volumes") or []):
                continue
            try:
                rec.volume_paths = dict(await self.volumes.setup(rec.pod) or {})
            except VolumeError as e:
                log.info("pod %s: refreshing volumes: %s", rec.uid, e)
            except Exception:
                log.exception("pod %s: refreshing volumes failed", rec.uid)

    async def _poll_loop(self) -> None:
        """The slow safety net: exits the pidfd did not report (a dead shim), stops that failed;
        and the periodic refresh of API-backed volumes."""
        while not self._closed:
            await asyncio.sleep(self.poll_interval)
            await self._refresh_volumes()
            live = [(rec, inst) for rec in list(self._pods.values()) for inst in rec.instances
                    if inst.cid and not inst.busy and inst.info is not None and inst.info.state != EXITED]
            if not live:
                continue

            def inspect_all(items: list[tuple[_Pod, _Instance]] = live) -> list[ContainerInfo | None]:
                out = []
                for _, inst in items:
                    try:
                        out.append(self.runc.inspect(inst.cid))
                    except ContainerNotFound:
                        out.append(None)
                return out

            try:
                infos = await self._thread(inspect_all)
            except Exception:
                log.exception("polling containers failed")
                continue
            for (rec, inst), info in zip(live, infos, strict=True):
                if info is None or inst.cid != info.id or rec.uid not in self._pods:
                    continue
                self._update(rec, inst, info)
                if inst.stopping and inst.running and inst.stop_task is None and not inst.aborted:
                    inst.stop_task = self._spawn(self._stop(rec, inst, 0.0), rec, f"stopping {inst.name}")

    # -- contract: state -----------------------------------------------------------------------------------
    def _view(self, inst: _Instance) -> ContainerStatus:
        info = inst.info
        cid = f"{self.runc.name}://{inst.cid}" if inst.cid else ""
        if info is None or info.state == CREATED:
            return ContainerStatus(name=inst.name, id=cid, image=inst.image, image_id=inst.image_id,
                                   attempt=inst.attempt, state=CREATED, created_at=inst.created_at,
                                   started_at=0.0, reason=inst.reason, message=inst.message, started=False)
        if info.state == EXITED:
            status = info.to_status()
            if inst.hook_error and not status.message:
                status = dataclasses.replace(status, message=inst.hook_error)
            return status
        started = inst.poststart_done and inst.probed and self.probes.started(inst.cid)
        ready = started and self.probes.ready(inst.cid)
        return dataclasses.replace(info.to_status(ready=ready), started=started)

    def status(self, uid: str, now: float) -> SandboxStatus | None:
        rec = self._pods.get(uid)
        if rec is None:
            return None
        return SandboxStatus(uid, rec.ip, rec.created_at, tuple(self._view(i) for i in rec.instances),
                             ready=rec.ready.is_set() or rec.adopted)

    def next_change(self, uid: str, now: float) -> float | None:
        """None: every change is announced through the listener."""
        return None

    # -- contract: adoption ----------------------------------------------------------------------------------
    async def load(self) -> None:
        """Read every container and pod network left by an earlier agent process once, so that
        `restore` answers from memory (call before `PodWorkers.adopt_existing`)."""
        infos = await self._thread(self.runc.list)
        found: dict[str, list[ContainerInfo]] = {}
        for info in infos:
            found.setdefault(info.pod_uid, []).append(info)
        self._found = found
        self._found_networks = dict(await self.network.adopt())
        self._loaded = True

    def restore(self, pod: dict, now: float) -> bool:
        """Adopt the containers and network an earlier agent process left for `pod`, restarting
        nothing. False when there is nothing. Without `load()` this lists the containers on disk
        synchronously (and the network comes back through the sandbox set-up, which re-uses it)."""
        uid = pod["metadata"]["uid"]
        if uid in self._pods:
            return True
        if self._loaded:
            infos, net = self._found.pop(uid, []), self._found_networks.pop(uid, None)
        else:
            infos, net = self.runc.list(uid), None
        if not infos and net is None:
            return False
        host = self.host_network_only or bool((pod.get("spec") or {}).get("hostNetwork"))
        rec = _Pod(uid, pod, now, ip=self.host_ip if host else "", host_network=host, adopted=True)
        if net is not None and not host:
            rec.ip, rec.netns_path = net.ip, net.netns_path
        self._pods[uid] = rec
        self._removed.discard(uid)
        by_name: dict[str, list[ContainerInfo]] = {}
        for info in sorted(infos, key=lambda i: (i.created_at, i.id)):
            by_name.setdefault(info.name, []).append(info)
        for name, items in by_name.items():
            spec = rec.spec_container(name)
            for info in items[:-KEEP_INSTANCES]:
                self._spawn(self._thread(self.runc.remove, info.id), None, "container removal")
            for info in items[-KEEP_INSTANCES:]:
                if spec is None or info.state == CREATED:  # not in the pod, or never started: remove
                    self._spawn(self._thread(self.runc.remove, info.id), None, "container removal")
                    continue
                container, init = spec
                inst = _Instance(name, container, init, info.attempt, info.created_at, info.image,
                                 info.image_id, cid=info.id, info=info)
                rec.instances.append(inst)
                self._by_cid[info.id] = (rec, inst)
                if inst.running:
                    self._watch_exit(rec, inst)
                    self._add_probes(rec, inst)
        self._spawn(self._setup_sandbox(rec), rec, "sandbox adoption")  # re-entrant: keeps the network
        log.info("adopted pod %s: %d container(s)", uid, len(rec.instances))
        return True

    async def gc(self, keep: Iterable[str]) -> list[str]:
        """Remove containers, networks, volumes, pod files and logs of pods not in `keep` (nor
        running here); the uids cleaned up. Call after `PodWorkers.adopt_existing`, and now and then."""
        keep = set(keep) | set(self._pods) | set(self._removals)
        gone: set[str] = set()
        for info in await self._thread(self.runc.list):
            if info.pod_uid not in keep:
                gone.add(info.pod_uid)
                with contextlib.suppress(ContainerNotFound):
                    await self._thread(self.runc.remove, info.id)
        for uid in list(gone):
            with contextlib.suppress(RuncError):
                await self._thread(self.runc.remove_pod, {"metadata": {"uid": uid}})
        try:
            gone.update(await self.network.gc(keep))
        except NetworkError as e:
            log.warning("garbage-collecting pod networks: %s", e)
        if self.volumes is not None:
            for entry in self.volumes.pod_dirs():
                uid = os.path.basename(str(entry).rstrip("/"))
                if uid not in keep:
                    gone.add(uid)
                    await self.volumes.teardown(uid)
        with contextlib.suppress(FileNotFoundError):
            for uid in os.listdir(self.sandbox_dir):
                if uid not in keep:
                    gone.add(uid)
                    await self._thread(shutil.rmtree, self._files_dir(uid), True)
        with contextlib.suppress(FileNotFoundError):
            for entry in os.listdir(self.runc.config.log_dir):
                uid = entry.rsplit("_", 1)[-1]
                if "_" in entry and uid not in keep:
                    gone.add(uid)
                    await self._thread(shutil.rmtree, os.path.join(self.runc.config.log_dir, entry), True)
        self._found.clear()
        self._found_networks.clear()
        return sorted(gone)

    async def close(self) -> None:
        """Stop watching (containers keep running: the next agent adopts them)."""
        self._closed = True
        if self._poller is not None:
            self._poller.cancel()
        for rec in self._pods.values():
            for inst in rec.instances:
                self._close_watch(inst)
        tasks = [t for t in self._tasks if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        await self.probes.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- for other agent parts ------------------------------------------------------------------------------
    def netns_path(self, pod_uid: str) -> str | None:
        rec = self._pods.get(pod_uid)
        return rec.netns_path if rec else None

    def pod_ip(self, pod_uid: str) -> str:
        rec = self._pods.get(pod_uid)
        return rec.ip if rec else ""

    def container_info(self, pod_uid: str, name: str, *, previous: bool = False) -> ContainerInfo | None:
        """The newest (or the one before) instance of a container that was created: log path, id, state."""
        rec = self._pods.get(pod_uid)
        if rec is None:
            return None
        created = [i for i in rec.instances if i.name == name and i.info is not None]
        index = -2 if previous else -1
        return created[index].info if len(created) >= -index else None

    def container_id(self, pod_uid: str, name: str) -> str | None:
        """The runc id of the container's running instance, for exec/attach/port-forward."""
        rec = self._pods.get(pod_uid)
        inst = rec.latest(name) if rec else None
        return inst.cid if inst is not None and inst.running else None

    def exec(self, pod_uid: str, name: str, argv: list[str], **kw: Any) -> ExecProcess:
        """`RuncRuntime.exec` in the running container `name` of the pod (raises RuncError)."""
        cid = self.container_id(pod_uid, name)
        if cid is None:
            raise RuncError(f"container {name} is not running")
        return self.runc.exec(cid, argv, **kw)

    async def exec_sync(self, pod_uid: str, name: str, argv: list[str], *,
                        timeout: float | None = None,  # noqa: ASYNC109 (runc kills the command itself)
                        input: bytes | None = None) -> ExecResult:
        cid = self.container_id(pod_uid, name)
        if cid is None:
            raise RuncError(f"container {name} is not running")
        return await self._thread(self.runc.exec_sync, cid, list(argv), timeout=timeout, input=input)


class _Aborted(Exception):
    """The instance was stopped (or its pod removed) while being prepared."""

