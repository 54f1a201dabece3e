"""A fake pod network: the `PodNetworkAPI` of `sandbox.PodNetwork` with no host I/O.

Unit tests of the pod workers (and nodes of the `fake`/`process` runtimes) use it where
the real one would create namespaces and run CNI plugins. It hands out addresses from
the pod CIDR like host-local (gateway .1, pods from .2, round-robin so a freed address
is not reused at once), keeps the networks in memory, records every call in `calls`,
and raises an injected error once per `fail_next(operation, error)`. `adopt()` returns
what is still "set up", as the real one does after a restart.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from podplane.agent.network.cni import PortMapping
from podplane.agent.network.errors import CNIError, NetworkConfigError, NetworkError
from podplane.agent.network.host import SERVICE_ROUTE_TYPE
from podplane.agent.network.netns import NETNS_DIR
from podplane.agent.network.sandbox import NETNS_PREFIX, POD_IFNAME, HostPreparation, SandboxNetwork

__all__ = ["FakePodNetwork"]


class FakePodNetwork:
    def __init__(
        self, pod_cidr: str = "10.244.0.0/24", *, netns_prefix: str = NETNS_PREFIX, netns_dir: str = NETNS_DIR
    ) -> None:
        self.netns_prefix = netns_prefix
        self.netns_dir = netns_dir
        self.calls: list[tuple[str, ...]] = []
        self.networks: dict[str, SandboxNetwork] = {}
        self.service_cidr = ""
        self._failures: dict[str, list[NetworkError]] = {}
        self._next = 0
        self.pod_cidr = ""
        self._net: ipaddress.IPv4Network | None = None
        if pod_cidr:
            self._set_cidr(pod_cidr)

    def _set_cidr(self, pod_cidr: str) -> None:
        try:
            net = ipaddress.ip_network(pod_cidr, strict=True)
        except ValueError as e:
            raise NetworkConfigError(f"invalid pod CIDR {pod_cidr!r}: {e}") from e
        if not isinstance(net, ipaddress.IPv4Network) or net.prefixlen > 30:
            raise NetworkConfigError(f"pod CIDR {pod_cidr} must be an IPv4 network of at least 4 addresses")
        self._net, self.pod_cidr = net, pod_cidr

    def fail_next(self, operation: str, error: NetworkError) -> None:
        """Make the next call of `operation` ("setup", "teardown", ...) raise `error`."""
        self._failures.setdefault(operation, []).append(error)

    def _enter(self, *call: str) -> None:
        self.calls.append(call)
        pending = self._failures.get(call[0])
        if pending:
            raise pending.pop(0)

    async def prepare_host(
        self, service_cidr: str, pod_cidr: str | None = None, *, service_route_type: str = SERVICE_ROUTE_TYPE
    ) -> HostPreparation:
        self._enter("prepare_host", service_cidr, pod_cidr or "")
        if pod_cidr:
            self._set_cidr(pod_cidr)
        installed = not self.service_cidr
        self.service_cidr = service_cidr
        return HostPreparation(service_cidr, self.pod_cidr, installed, (), True, {})

    async def setup(
        self, pod_uid: str, pod_name: str, namespace: str, ports: Sequence[PortMapping] = ()
    ) -> SandboxNetwork:
        self._enter("setup", pod_uid, pod_name, namespace)
        if pod_uid in self.networks:
            return self.networks[pod_uid]
        if self._net is None:
            raise NetworkConfigError(
                "the node has no pod CIDR yet: call prepare_host(service_cidr, pod_cidr)"
            )
        ip = self._allocate()
        gateway = self._net.network_address + 1
        name = self.netns_prefix + pod_uid
        sandbox = SandboxNetwork(
            netns_path=f"{self.netns_dir}/{name}",
            ip=str(ip),
            gateway=str(gateway),
            pod_uid=pod_uid,
            netns=name,
            prefix_length=self._net.prefixlen,
            interface=POD_IFNAME,
            mac="02:00:" + ":".join(f"{b:02x}" for b in ip.packed),
            pod_name=pod_name,
            namespace=namespace,
            host_ports=tuple(ports),
        )
        self.networks[pod_uid] = sandbox
        return sandbox

    def _allocate(self) -> ipaddress.IPv4Address:
        assert self._net is not None
        first = int(self._net.network_address) + 2
        size = self._net.num_addresses - 3  # network, gateway, broadcast
        used = {n.ip for n in self.networks.values()}
        for i in range(size):
            ip = ipaddress.IPv4Address(first + (self._next + i) % size)
            if str(ip) not in used:
                self._next = (self._next + i + 1) % size
                return ip
        raise CNIError("host-local", "ADD", 999, f"no IP addresses available in range set: {self._net}")

    async def teardown(self, pod_uid: str) -> None:
        self._enter("teardown", pod_uid)
        self.networks.pop(pod_uid, None)

    async def status(self, pod_uid: str) -> SandboxNetwork | None:
        return self.networks.get(pod_uid)

    async def check(self, pod_uid: str) -> None:
        self._enter("check", pod_uid)
        if pod_uid not in self.networks:
            raise CNIError("podplane", "CHECK", 3, f"pod {pod_uid} has no network set up")

    async def adopt(self) -> dict[str, SandboxNetwork]:
        self._enter("adopt")
        return dict(self.networks)

    async def gc(self, keep: Iterable[str]) -> list[str]:
        keep = set(keep)
        self._enter("gc", *sorted(keep))
        removed = sorted(uid for uid in self.networks if uid not in keep)
        for uid in removed:
            del self.networks[uid]
        return removed
