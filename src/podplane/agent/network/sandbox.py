"""Pod sandbox networking: the API a pod worker uses to give a pod its network.

`PodNetwork(data_dir, pod_cidr=)` ties the pieces together for one node:
- `prepare_host(service_cidr, pod_cidr)` once at start: the service-CIDR route FIRST
  (`host`), forwarding and bridge netfilter settings, the CNI plugins checked and the
  node's configuration lists written under `<data_dir>/network/net.d`;
- `setup(uid, name, namespace, ports)`: a named namespace `<prefix><uid>` (`netns`),
  then CNI ADD of `loopback` (lo) and of the node network (eth0: bridge + host-local,
  then portmap with the pod's hostPorts) (`cni`); returns a `SandboxNetwork` (netns
  path for runc, pod IP, gateway). Re-entrant: a pod already set up returns at once,
  and leftovers of an interrupted attempt are torn down first;
- `teardown(uid)`: CNI DEL (reverse order, from the cached result), then the namespace;
  idempotent;
- `status(uid)`, `check(uid)` (CNI CHECK), `adopt()` (after an agent restart: every
  pod whose namespace and cached result survived) and `gc(keep)` (tear down what belongs
  to no current pod).
CNI results and host-local leases live under the data dir, so all of this survives an
agent restart. One lock per pod uid keeps setup and teardown of one pod serial.
`fake.FakePodNetwork` has the same API without touching the host; `podfiles` renders
the pod's resolv.conf and hosts from the IP returned here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from podplane.agent.network import host, netns
from podplane.agent.network._command import Runner, run
from podplane.agent.network.cni import (
    BRIDGE_NAME,
    CONFLIST_FILE,
    DEFAULT_CNI_PATH,
    LOOPBACK_CONFLIST_FILE,
    NETWORK_NAME,
    Attachment,
    CNIClient,
    CNIError,
    PortMapping,
    list_cached,
    load_conflist,
    loopback_conflist,
    node_conflist,
    read_cached,
    write_conflist,
)
from podplane.agent.network.errors import NetworkConfigError, NetworkError

__all__ = [
    "NETNS_PREFIX",
    "HostPreparation",
    "PodNetwork",
    "PodNetworkAPI",
    "SandboxNetwork",
    "port_mappings_from_pod",
]

log = logging.getLogger(__name__)

NETNS_PREFIX = "pp-"
"""Pod namespaces are `/var/run/netns/pp-<pod uid>`; `gc` only ever touches this prefix."""
POD_IFNAME = "eth0"
_UID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


@dataclass(frozen=True)
class SandboxNetwork:
    """A pod's network as set up: what runc joins and what goes into the pod's status."""

    netns_path: str
    ip: str
    gateway: str
    pod_uid: str = ""
    netns: str = ""
    """The namespace's name (the file name under /var/run/netns)."""
    prefix_length: int = 0
    interface: str = POD_IFNAME
    mac: str = ""
    pod_name: str = ""
    namespace: str = ""
    host_ports: tuple[PortMapping, ...] = ()


@dataclass(frozen=True)
class HostPreparation:
    """What `prepare_host` found and changed (for the agent's start-up log)."""

    service_cidr: str
    pod_cidr: str
    service_route_installed: bool
    """False when a local-only route for the service CIDR was already there."""
    changed_sysctls: tuple[str, ...] = ()
    bridge_netfilter: bool = False
    """The kernel has br_netfilter and bridged pod traffic passes the netfilter hooks."""
    plugins: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Each CNI plugin's supported versions."""


class PodNetworkAPI(Protocol):
    """What a pod worker needs; `PodNetwork` and `fake.FakePodNetwork` implement it."""

    async def prepare_host(self, service_cidr: str, pod_cidr: str | None = None) -> HostPreparation: ...

    async def setup(
        self, pod_uid: str, pod_name: str, namespace: str, ports: Sequence[PortMapping] = ()
    ) -> SandboxNetwork: ...

    async def teardown(self, pod_uid: str) -> None: ...

    async def status(self, pod_uid: str) -> SandboxNetwork | None: ...

    async def adopt(self) -> dict[str, SandboxNetwork]: ...

    async def gc(self, keep: Iterable[str]) -> list[str]: ...


def port_mappings_from_pod(pod: Mapping[str, Any]) -> list[PortMapping]:
    """The pod's hostPorts (containers and restartable init containers), as the kubelet
    hands them to CNI; duplicates (same host port, protocol and host IP) are dropped."""
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork"):
        return []
    containers = list(spec.get("containers") or ())
    containers += [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    seen: dict[tuple[int, str, str], PortMapping] = {}
    for c in containers:
        for p in c.get("ports") or ():
            host_port = int(p.get("hostPort") or 0)
            if host_port <= 0:
                continue
            m = PortMapping(
                host_port=host_port,
                container_port=int(p["containerPort"]),
                protocol=str(p.get("protocol") or "TCP").lower(),
                host_ip=str(p.get("hostIP") or ""),
            )
            seen.setdefault((m.host_port, m.protocol, m.host_ip), m)
    return list(seen.values())


class PodNetwork:
    """Real pod networking for one node: named namespaces + CNI plugins (see module doc)."""

    def __init__(
        self,
        data_dir: str,
        *,
        pod_cidr: str = "",
        cni_path: Sequence[str] = DEFAULT_CNI_PATH,
        netns_prefix: str = NETNS_PREFIX,
        network_name: str = NETWORK_NAME,
        bridge: str = BRIDGE_NAME,
        mtu: int = 0,
        runner: Runner = run,
        netns_dir: str = netns.NETNS_DIR,
    ) -> None:
        if not netns_prefix:
            raise NetworkConfigError("the pod namespace prefix must not be empty")
        netns.validate_name(netns_prefix + "x")
        self.root = os.path.join(data_dir, "network")
        self.conf_dir = os.path.join(self.root, "net.d")
        self.cache_dir = os.path.join(self.root, "results")
        self.ipam_dir = os.path.join(self.root, "ipam")
        self.cni_path = tuple(cni_path)
        self.netns_prefix = netns_prefix
        self.network_name = network_name
        self.bridge = bridge
        self.mtu = mtu
        self.netns_dir = netns_dir
        self._run = runner
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}
        self.loopback = CNIClient(
            loopback_conflist(), cache_dir=self.cache_dir, cni_path=self.cni_path, runner=runner
        )
        self.pod_cidr = ""
        self._cni: CNIClient | None = None
        if pod_cidr:
            self.set_pod_cidr(pod_cidr)

    # -- configuration

    def set_pod_cidr(self, pod_cidr: str) -> None:
        """Use `pod_cidr` for new pods (pods already set up keep their cached configuration)."""
        conflist = node_conflist(
            pod_cidr, name=self.network_name, bridge=self.bridge, ipam_data_dir=self.ipam_dir, mtu=self.mtu
        )
        self._cni = CNIClient(conflist, cache_dir=self.cache_dir, cni_path=self.cni_path, runner=self._run)
        self.pod_cidr = pod_cidr

    @property
    def cni(self) -> CNIClient:
        if self._cni is None:
            raise NetworkConfigError(
                "the node has no pod CIDR yet: call prepare_host(service_cidr, pod_cidr)"
            )
        return self._cni

    def netns_name(self, pod_uid: str) -> str:
        if not _UID.match(pod_uid):
            raise NetworkConfigError(f"invalid pod uid {pod_uid!r}")
        return self.netns_prefix + pod_uid

    @contextlib.asynccontextmanager
    async def _locked(self, pod_uid: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(pod_uid, asyncio.Lock())
        self._users[pod_uid] = self._users.get(pod_uid, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[pod_uid] -= 1
            if not self._users[pod_uid]:
                del self._users[pod_uid], self._locks[pod_uid]

    # -- the host

    async def prepare_host(
        self,
        service_cidr: str,
        pod_cidr: str | None = None,
        *,
        service_route_type: str = host.SERVICE_ROUTE_TYPE,
    ) -> HostPreparation:
        """Prepare this network namespace (normally the host's) for pods; idempotent.

        The service-CIDR route is installed before anything else is touched.
        """
        svc = _ipv4_network(service_cidr, "service CIDR")
        pods = _ipv4_network(pod_cidr or self.pod_cidr, "pod CIDR") if (pod_cidr or self.pod_cidr) else None
        if pods is not None and svc.overlaps(pods):
            raise NetworkConfigError(f"the pod CIDR {pods} overlaps the service CIDR {svc}")
        # 1. Safety first (DESIGN §8): Service IPs must never follow the default route.
        installed = await host.ensure_service_route(str(svc), route_type=service_route_type, runner=self._run)
        changed = []
        if await host.set_sysctl("net.ipv4.ip_forward", "1", runner=self._run):
            changed.append("net.ipv4.ip_forward=1")
        bridge_nf = await host.get_sysctl("net.bridge.bridge-nf-call-iptables", runner=self._run) is not None
        if bridge_nf and await host.set_sysctl("net.bridge.bridge-nf-call-iptables", "1", runner=self._run):
            changed.append("net.bridge.bridge-nf-call-iptables=1")
        if not bridge_nf:
            log.warning(
                "br_netfilter is not available: a pod reaching a Service backed by a pod on the same "
                "bridge may see replies from the backend's own address"
            )
        if pods is not None and str(pods) != self.pod_cidr:
            self.set_pod_cidr(str(pods))
        plugins: dict[str, list[str]] = dict(await self.loopback.version())
        if self._cni is not None:
            plugins.update(await self._cni.version())
            write_conflist(self.conf_dir, self._cni.conflist, CONFLIST_FILE)
        write_conflist(self.conf_dir, self.loopback.conflist, LOOPBACK_CONFLIST_FILE)
        for d in (self.cache_dir, self.ipam_dir):
            os.makedirs(d, exist_ok=True)
        return HostPreparation(str(svc), self.pod_cidr, installed, tuple(changed), bridge_nf, plugins)

    # -- pods

    async def setup(
        self, pod_uid: str, pod_name: str, namespace: str, ports: Sequence[PortMapping] = ()
    ) -> SandboxNetwork:
        """Give the pod its namespace, lo and eth0 with an address from the pod CIDR.

        Returns at once if the pod is already set up. On failure everything created so
        far is torn down again before the error is raised.
        """
        name = self.netns_name(pod_uid)
        cni = self.cni
        async with self._locked(pod_uid):
            att = self._any_cached(pod_uid)
            if att is not None and att.result is not None and netns.is_live(name, self.netns_dir):
                return self._sandbox(att)
            if (
                att is not None
                or netns.exists(name, self.netns_dir)
                or self.loopback.cached(pod_uid, "lo") is not None
            ):
                log.info("pod %s/%s: removing the remains of an earlier network setup", namespace, pod_name)
                await self._teardown(pod_uid)
            path = await netns.create(name, runner=self._run, netns_dir=self.netns_dir)
            args = {
                "K8S_POD_NAMESPACE": namespace,
                "K8S_POD_NAME": pod_name,
                "K8S_POD_INFRA_CONTAINER_ID": pod_uid,
                "K8S_POD_UID": pod_uid,
            }
            caps = {"portMappings": [p.to_cni() for p in ports]} if ports else {}
            try:
                await self.loopback.add(pod_uid, path, ifname="lo", cni_args=args)
                result = await cni.add(pod_uid, path, ifname=POD_IFNAME, cni_args=args, capability_args=caps)
                if result.ip_of(POD_IFNAME) is None:
                    raise CNIError(cni.name, "ADD", 0, f"the result has no IPv4 address on {POD_IFNAME}")
            except (NetworkError, OSError) as failure:
                try:
                    await self._teardown(pod_uid)
                except NetworkError as e:
                    log.warning("pod %s/%s: cleanup after failed network setup: %s", namespace, pod_name, e)
                if isinstance(failure, OSError):
                    raise NetworkError(f"network setup of pod {namespace}/{pod_name}: {failure}") from failure
                raise
            att = cni.cached(pod_uid, POD_IFNAME)
            assert att is not None
            return self._sandbox(att)

    async def teardown(self, pod_uid: str) -> None:
        """CNI DEL (eth0, then lo) and delete the namespace; nothing to do is not an error."""
        self.netns_name(pod_uid)
        async with self._locked(pod_uid):
            await self._teardown(pod_uid)

    async def _teardown(self, pod_uid: str) -> None:
        name = self.netns_name(pod_uid)
        live = netns.is_live(name, self.netns_dir)
        path = netns.netns_path(name, self.netns_dir) if live else ""
        first: NetworkError | None = None
        att = self._any_cached(pod_uid)
        # With the cached configuration if there is one (the pod CIDR may have changed).
        client = self._client_for(att) if (att is not None or live) else None
        if client is not None:
            try:
                await client.delete(pod_uid, path, ifname=POD_IFNAME)
            except NetworkError as e:
                first = e
        if self.loopback.cached(pod_uid, "lo") is not None:
            try:
                await self.loopback.delete(pod_uid, path, ifname="lo")
            except NetworkError as e:
                first = first or e
        if first is not None:
            raise first  # keep the namespace: bridge's DEL needs it to clean up masquerading
        await netns.delete(name, runner=self._run, netns_dir=self.netns_dir)

    def _any_cached(self, pod_uid: str) -> Attachment | None:
        """The pod's eth0 attachment, also before the pod CIDR is known (just restarted)."""
        return read_cached(self.cache_dir, self.network_name, pod_uid, POD_IFNAME)

    def _client_for(self, att: Attachment | None) -> CNIClient | None:
        """A client for DEL/CHECK: the configuration ADD used, else the node's current one
        (in memory, or as last written by `prepare_host`); None if there is none at all."""
        if att is not None:
            return CNIClient(att.config, cache_dir=self.cache_dir, cni_path=self.cni_path, runner=self._run)
        if self._cni is not None:
            return self._cni
        path = os.path.join(self.conf_dir, CONFLIST_FILE)
        if os.path.exists(path):
            return CNIClient(
                load_conflist(path), cache_dir=self.cache_dir, cni_path=self.cni_path, runner=self._run
            )
        return None

    async def status(self, pod_uid: str) -> SandboxNetwork | None:
        """The pod's network if it is set up (cached result and a live namespace), else None."""
        name = self.netns_name(pod_uid)
        att = self._any_cached(pod_uid)
        if att is None or att.result is None or not netns.is_live(name, self.netns_dir):
            return None
        return self._sandbox(att)

    async def check(self, pod_uid: str) -> None:
        """CNI CHECK: raises `CNIError` if the pod's interfaces are not as ADD left them."""
        name = self.netns_name(pod_uid)
        att = self._any_cached(pod_uid)
        if att is None or att.result is None or not netns.is_live(name, self.netns_dir):
            raise CNIError(self.network_name, "CHECK", 3, f"pod {pod_uid} has no network set up")
        path = netns.netns_path(name, self.netns_dir)
        client = self._client_for(att)
        assert client is not None  # att is not None
        await client.check(pod_uid, path, ifname=POD_IFNAME)

    async def adopt(self) -> dict[str, SandboxNetwork]:
        """After a restart: the networks of pods set up earlier, by pod uid.

        Entries whose namespace is gone or whose ADD never finished are not adopted;
        `gc` (or `teardown`) cleans them up.
        """
        found = {}
        for att in self._list_cached():
            if att.ifname != POD_IFNAME or att.result is None:
                continue
            name = self.netns_prefix + att.container_id
            if netns.is_live(name, self.netns_dir):
                try:
                    found[att.container_id] = self._sandbox(att)
                except NetworkError as e:
                    log.warning("not adopting the network of pod %s: %s", att.container_id, e)
        return found

    def _list_cached(self) -> list[Attachment]:
        return list_cached(self.cache_dir, self.network_name)

    async def gc(self, keep: Iterable[str]) -> list[str]:
        """Tear down every pod network (cached attachments and `<prefix>*` namespaces)
        whose uid is not in `keep`; return the uids torn down. Failures are logged and
        retried on the next call. `keep` must hold every pod bound to the node that is
        not finished, including pods whose setup is still running."""
        keep = set(keep)
        uids = {a.container_id for a in self._list_cached()}
        uids |= {a.container_id for a in self.loopback.list_cached()}
        prefix = self.netns_prefix
        uids |= {n[len(prefix) :] for n in netns.list_names(prefix, self.netns_dir)}
        removed = []
        for uid in sorted(uids - keep):
            if not _UID.match(uid):
                continue
            try:
                await self.teardown(uid)
            except NetworkError as e:
                log.warning("garbage-collecting the network of pod %s: %s", uid, e)
                continue
            removed.append(uid)
        return removed

    def _sandbox(self, att: Attachment) -> SandboxNetwork:
        result = att.parsed()
        assert result is not None
        ip = result.ip_of(POD_IFNAME)
        if ip is None:
            raise CNIError(
                att.network_name, "ADD", 0, f"the cached result has no IPv4 address on {POD_IFNAME}"
            )
        itf = result.interface(POD_IFNAME)
        gateway = str(ip.gateway) if ip.gateway else ""
        ports = tuple(
            PortMapping(
                int(p["hostPort"]),
                int(p["containerPort"]),
                str(p.get("protocol", "tcp")),
                str(p.get("hostIP", "")),
            )
            for p in att.capability_args.get("portMappings") or ()
        )
        name = self.netns_prefix + att.container_id
        return SandboxNetwork(
            netns_path=netns.netns_path(name, self.netns_dir),
            ip=str(ip.address.ip),
            gateway=gateway,
            pod_uid=att.container_id,
            netns=name,
            prefix_length=ip.address.network.prefixlen,
            interface=POD_IFNAME,
            mac=itf.mac if itf else "",
            pod_name=att.cni_args.get("K8S_POD_NAME", ""),
            namespace=att.cni_args.get("K8S_POD_NAMESPACE", ""),
            host_ports=ports,
        )


def _ipv4_network(cidr: str, what: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError as e:
        raise NetworkConfigError(f"invalid {what} {cidr!r}: {e}") from e
    if not isinstance(net, ipaddress.IPv4Network):
        raise NetworkConfigError(f"{what} {cidr} must be IPv4 (IPv6 pods are not supported yet)")
    return net
