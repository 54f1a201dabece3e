"""The agent: one process running one or many nodes on one runtime.

Runtimes: `fake` simulates any number of nodes (below); `runc` runs the pods of this
machine for real (one node): after registration it waits for the pod CIDR the server's
node IPAM controller hands out (`agent.hostnode`), prepares the host network (service
CIDR route first, CNI configuration: `agent.network`), builds `RuncPodRuntime` over runc,
images, volumes, probes and hooks, and serves the kubelet API (`agent.server`: logs, exec,
attach, port-forward, /stats/summary from `agent.stats`) on `--kubelet-port`.

`Agent(client, settings)`, built by the composition root `podplane.node`, runs in two steps:
1. `register()`: gives each node a pod block (`agent.addresses`, reused when its Node
   exists), creates or reconciles the Nodes (`agent.nodestatus`) and their Leases
   (`agent.lease`) with bounded concurrency, so 1,000 nodes register in seconds;
2. `run(stop)`: ONE pod informer for all nodes (`spec.nodeName=<node>` for one node,
   else every scheduled pod, `spec.nodeName!=`, filtered by node: one watch on the API
   server instead of one per node), a node informer that triggers status corrections,
   the pod workers (`agent.pods`, which first adopt pods an earlier agent ran), and
   Lease renewals and heartbeats spread over their intervals (`agent.spread`).

Large simulations (more than `LARGE_SIMULATION` nodes) save API writes, the API
server's main load: no kubelet events (three writes per pod start on top of its status
writes), and a status change followed by the next within `STATUS_COALESCE` seconds is
written with it (ContainerCreating → Running in 50 ms: one write, not two). Small
clusters (tests, demos) get every event and every intermediate status, like a kubelet.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import time
from collections.abc import Callable
from decimal import Decimal

from podplane.agent.addresses import PodIPAllocator, assign_blocks, node_internal_ip, node_names, pod_cidr
from podplane.agent.hostnode import PodCidrTimeout, machine_capacity, node_ip, wait_for_pod_cidr
from podplane.agent.lease import LeaseRenewer
from podplane.agent.nodestatus import NodeStatusManager, SimulatedNode, parse_node_labels
from podplane.agent.pods import NodeHandle, PodWorkers, drop_managed_fields
from podplane.agent.runtime.fake import FakeRuntime, behaviour_of
from podplane.agent.spread import SpreadSchedule, run_spread
from podplane.api.validation import is_dns1123_subdomain, parse_quantity
from podplane.client.events import EventRecorder
from podplane.client.informer import InformerFactory
from podplane.client.workqueue import WorkQueue, run_workers
from podplane.settings import AgentSettings

__all__ = ["LARGE_SIMULATION", "RUNTIMES", "STATUS_COALESCE", "Agent", "ConfigError"]

log = logging.getLogger(__name__)

LARGE_SIMULATION = 50
"""Above this many nodes the agent records no events and coalesces status writes."""
STATUS_COALESCE = 0.5
"""Seconds a status change may wait for the next one in large simulations."""
RUNTIMES = ("fake", "runc", "process")
REGISTER_CONCURRENCY = 32
"""Node and Lease creations in flight at start-up."""


class ConfigError(ValueError):
    """The agent's settings cannot work; the message says which one and why."""


def _capacity(settings: AgentSettings) -> tuple[dict[str, str], dict[str, Decimal]]:
    cpu, memory = parse_quantity(settings.capacity_cpu), parse_quantity(settings.capacity_memory)
    if cpu is None or cpu <= 0:
        raise ConfigError(f"--cpu {settings.capacity_cpu!r} is not a positive quantity (e.g. 4 or 3500m)")
    if memory is None or memory <= 0:
        raise ConfigError(f"--memory {settings.capacity_memory!r} is not a positive quantity (e.g. 16Gi)")
    if settings.capacity_pods < 1:
        raise ConfigError(f"--max-pods {settings.capacity_pods} must be at least 1")
    capacity = {"cpu": str(settings.capacity_cpu), "ephemeral-storage": "100Gi", "hugepages-1Gi": "0",
                "hugepages-2Mi": "0", "memory": str(settings.capacity_memory), "pods": str(settings.capacity_pods)}
    return capacity, {"cpu": cpu, "memory": memory, "pods": Decimal(settings.capacity_pods)}


def _base_name(settings: AgentSettings) -> str:
    return (settings.node_name or socket.gethostname()).strip().lower()


class Agent:
    """See the module docstring."""

    def __init__(self, client, settings: AgentSettings, *, clock: Callable[[], float] = time.time) -> None:
        if settings.runtime not in RUNTIMES:
            raise ConfigError(f"--runtime {settings.runtime!r} is not available; use one of {list(RUNTIMES)}")
        if settings.nodes < 1:
            raise ConfigError(f"--nodes {settings.nodes} must be at least 1")
        self.real = settings.runtime != "fake"
        self.data_dir = os.path.abspath(settings.data_dir)
        if settings.runtime == "runc" and os.geteuid() != 0:
            raise ConfigError("the runc runtime needs root (namespaces, cgroups, mounts, the pod network); "
                              "run as root, or use --runtime process (no isolation) or --runtime fake")
        if self.real and settings.nodes != 1:
            raise ConfigError(f"--nodes {settings.nodes}: only the fake runtime simulates several nodes; "
                              f"a {settings.runtime} node is this machine")
        self.names = node_names(_base_name(settings), settings.nodes)
        bad = [n for n in (self.names[0], self.names[-1]) if is_dns1123_subdomain(n)]
        if bad:
            raise ConfigError(f"node name {bad[0]!r} is not a valid DNS subdomain; pass --node-name")
        try:
            self.labels = parse_node_labels(settings.node_labels)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if self.real:
            self.capacity, self.allocatable = machine_capacity(settings.data_dir, settings.capacity_pods)
        else:
            self.capacity, self.allocatable = _capacity(settings)
        if settings.lease_renew_interval <= 0 or settings.status_update_interval <= 0:
            raise ConfigError("lease renew and status update intervals must be positive")
        self.client = client
        self.settings = settings
        self.clock = clock
        self.runtime = None if self.real else FakeRuntime(start_delay=settings.fake_start_delay)
        self.runc = None
        self.server = None
        self._service_informer = None
        """Services, for the env service links of a real node's pods (set in `run`)."""
        self.large = settings.nodes > LARGE_SIMULATION
        self.events = not self.large
        self.leases = LeaseRenewer(client, duration=settings.lease_duration, clock=clock)
        self.nodes: list[SimulatedNode] = []
        self.node_status: NodeStatusManager | None = None
        self.pod_workers: PodWorkers | None = None
        self._recorders: dict[str, EventRecorder] = {}

    # -- phase 1 -----------------------------------------------------------------------------
    async def register(self) -> None:
        """Create or adopt the Node objects and their Leases (raises ApiError/TransportError)."""
        info = self.client.resource("", "nodes")
        existing_items, _ = await self.client.list_all(info)
        existing = {n["metadata"]["name"]: n for n in existing_items}
        if self.real:
            name = self.names[0]
            cidr = ((existing.get(name) or {}).get("spec") or {}).get("podCIDR") or ""
            ip = await asyncio.to_thread(node_ip, self.settings.node_ip)
            self.nodes = [SimulatedNode(name, -1, ip, cidr, simulated=False)]
            self.runc = self._runc()
            runtime_version = f"{self.runc.name}://{await asyncio.to_thread(self.runc.version)}"
        else:
            try:
                blocks = assign_blocks(self.names, {name: (n.get("spec") or {}).get("podCIDR") or ""
                                                    for name, n in existing.items()})
            except ValueError as e:
                raise ConfigError(str(e)) from None
            self.nodes = [SimulatedNode(name, blocks[name], node_internal_ip(blocks[name]),
                                        pod_cidr(blocks[name])) for name in self.names]
            runtime_version = f"{self.runtime.name}://{self.runtime.version}"
        if self.events:
            self._recorders = {n: EventRecorder(self.client, "kubelet", n) for n in self.names}
        self.node_status = NodeStatusManager(
            self.client, self.nodes, labels=self.labels, capacity=self.capacity,
            runtime_version=runtime_version, clock=self.clock, recorders=self._recorders,
            kubelet_port=self.settings.kubelet_port)
        limit = asyncio.Semaphore(REGISTER_CONCURRENCY)

        async def one(name: str) -> None:
            async with limit:
                node = await self.node_status.register(name, existing.get(name))
                self.leases.set_node_uid(name, node["metadata"].get("uid", ""))
                if not await self.leases.renew(name):
                    raise ConnectionError(f"cannot create the Lease of node {name}")

        await asyncio.gather(*(one(name) for name in self.names))
        if self.real:
            await self._prepare_real_node()
        log.info("registered %d node(s): %s", len(self.names),
                 ", ".join(self.names) if len(self.names) <= 5 else f"{self.names[0]} .. {self.names[-1]}")

    # -- a real node ---------------------------------------------------------------------------
    def _runc(self):
        """The container backend: runc, or plain processes (`runtime.process`, no isolation)."""
        from podplane.agent.runtime.oci import SpecOptions
        from podplane.agent.runtime.runc import RuncConfig, RuncRuntime

        data = self.data_dir
        if self.settings.runtime == "process":
            from podplane.agent.runtime.process import ProcessConfig, ProcessRuntime

            return ProcessRuntime(ProcessConfig(
                root=os.path.join(data, "process"), log_dir=os.path.join(data, "pods"),
                cgroup_parent=self.settings.cgroup_parent, node_memory_bytes=int(self.allocatable["memory"])))
        return RuncRuntime(RuncConfig(
            root=os.path.join(data, "runc"), log_dir=os.path.join(data, "pods"),
            cgroup_parent=self.settings.cgroup_parent, hidden_paths=(data,),
            spec_options=SpecOptions(node_memory_bytes=int(self.allocatable["memory"]))))

    async def _prepare_real_node(self) -> None:
        """Pod CIDR from the server, host network, then the runtime over runc."""
        from podplane.agent.images import Images
        from podplane.agent.network.errors import NetworkError
        from podplane.agent.network.sandbox import PodNetwork
        from podplane.agent.runtime.runc_pods import RuncPodRuntime

        node = self.nodes[0]
        cidr = node.pod_cidr
        if not cidr:
            try:
                cidr = await wait_for_pod_cidr(self.client, node.name)
            except PodCidrTimeout as e:
                raise ConfigError(str(e)) from None
            node = dataclasses.replace(node, pod_cidr=cidr)
            self.nodes[0] = node
            assert self.node_status is not None
            self.node_status.nodes[node.name] = node
        data = self.data_dir
        host_only = self.settings.runtime == "process"
        if host_only:  # process containers share the host's network: no CNI
            from podplane.agent.network.hostonly import HostOnlyNetwork

            network = HostOnlyNetwork()
        else:
            network = PodNetwork(data, pod_cidr=cidr, netns_prefix=self.settings.netns_prefix)
            try:
                await network.prepare_host(self.settings.service_cidr, cidr)
            except NetworkError as e:
                raise ConfigError(f"pod network: {e}") from None
        recorder = self._recorders.get(node.name)
        self.runtime = RuncPodRuntime(
            self.runc, network, Images(data, catalog_file=self.settings.image_catalog or None),
            sandbox_dir=os.path.join(data, "sandboxes"), client=self.client,
            event=recorder.event if recorder is not None else None, host_ip=node.internal_ip,
            cluster_dns=(self.settings.cluster_dns,) if self.settings.cluster_dns else (),
            cluster_domain=self.settings.cluster_domain, node_allocatable=self.allocatable,
            volumes_dir=os.path.join(data, "volumes"), services=self._services,
            host_network_only=host_only)
        await self.runtime.load()
        log.info("node %s: pod CIDR %s, node IP %s, runtime %s", node.name, cidr, node.internal_ip,
                 self.runtime.version)

    def _services(self) -> list[dict]:
        return self._service_informer.list() if self._service_informer is not None else []

    async def _start_kubelet_api(self, pods) -> list[asyncio.Task]:
        from podplane.agent.server import RuncContainers, start_agent_server
        from podplane.agent.stats import StatsCollector

        node = self.nodes[0]
        collector = StatsCollector(self.runc.list, self.runc.cgroups, node.name)
        self.server = await start_agent_server(
            RuncContainers(self.runc, pods=lambda namespace, name: pods.get(namespace, name)), self.client,
            data_dir=self.data_dir, host="0.0.0.0", port=self.settings.kubelet_port,
            names=[node.name, node.internal_ip], stats=collector.summary)
        return [asyncio.create_task(collector.run(interval=10.0), name="stats")]

    # -- phase 2 -----------------------------------------------------------------------------
    def _pod_workers(self, informers: InformerFactory) -> PodWorkers:
        if len(self.names) == 1:
            pods = informers.resource("", "pods", field_selector=f"spec.nodeName={self.names[0]}")
        else:
            pods = informers.resource("", "pods", field_selector="spec.nodeName!=")
        handles = {n.name: NodeHandle(n.name, n.internal_ip, PodIPAllocator(n.pod_cidr), dict(self.allocatable),
                                      self._recorders.get(n.name)) for n in self.nodes}
        if self.real:
            return PodWorkers(self.client, pods, handles, self.runtime, clock=self.clock)
        return PodWorkers(self.client, pods, handles, self.runtime, clock=self.clock,
                          backoff_base=lambda pod: behaviour_of(pod).backoff_seconds or 10.0,
                          coalesce=STATUS_COALESCE if self.large else 0.0)

    async def run(self, stop: asyncio.Event) -> None:
        """Run the nodes until `stop` is set. Call `register()` first."""
        assert self.node_status is not None, "register() first"
        status = self.node_status
        informers = InformerFactory(self.client)
        if self.real:
            self._service_informer = informers.resource("", "services")
        self.pod_workers = workers = self._pod_workers(informers)
        node_informer = informers.resource(
            "", "nodes", field_selector=f"metadata.name={self.names[0]}" if len(self.names) == 1 else "")
        corrections = WorkQueue("node-status")

        def on_node(node: dict) -> None:
            drop_managed_fields(node)
            status.observe(node)
            name = node["metadata"]["name"]
            if name in status.nodes and status.needs_report(name):
                corrections.add(name)

        node_informer.add_handler(on_node, lambda old, new: on_node(new), status.forget)

        async def correct(name: str) -> None:
            await status.report(name, heartbeat=False)

        informers.start()
        tasks: list[asyncio.Task] = []
        try:
            await informers.wait_synced()
            adopted = workers.adopt_existing()
            if adopted:
                log.info("adopted %d running pod(s) from an earlier agent", adopted)
            if self.real:
                gone = await self.runtime.gc(p["metadata"]["uid"] for p in workers.pods.list())
                if gone:
                    log.info("removed what %d pod(s) no longer in the API left behind", len(gone))
                tasks += await self._start_kubelet_api(workers.pods)
            loop = asyncio.get_running_loop()
            leases = SpreadSchedule(self.names, self.settings.lease_renew_interval, loop.time())
            heartbeats = SpreadSchedule(self.names, self.settings.status_update_interval,
                                        loop.time() + self.settings.status_update_interval / 2)
            tasks += [
                asyncio.create_task(workers.run(), name="pod-workers"),
                asyncio.create_task(run_workers(corrections, correct, 2), name="node-corrections"),
                asyncio.create_task(run_spread(leases, self.leases.renew, clock=loop.time,
                                               retry_after=min(1.0, self.settings.lease_renew_interval)),
                                    name="lease-renewals"),
                asyncio.create_task(run_spread(heartbeats, status.report, clock=loop.time), name="heartbeats"),
            ]
            log.info("agent running %d node(s) on the %s runtime", len(self.names), self.runtime.name)
            stopped = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopped and task.exception() is not None:
                    raise task.exception()
            stopped.cancel()
        finally:
            corrections.shutdown()
            workers.queue.shutdown()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.server is not None:
                await self.server.stop()
            if self.real and self.runtime is not None:
                await self.runtime.close()  # containers keep running: the next agent adopts them
            await informers.stop()
