"""HostOnlyNetwork: the pod network of the `process` runtime, which has none of its own.

Process containers share the host's network namespace (see `runtime.process.LIMITATIONS`),
so every pod is treated as a hostNetwork pod: no namespace, no CNI, the node's address as
the pod IP, and hostPorts are simply the ports the processes open. This class satisfies
`sandbox.PodNetworkAPI` so `RuncPodRuntime` can drive it like the real `PodNetwork`;
`setup` is never needed (the runtime only sets up networks of non-hostNetwork pods) and
refuses clearly if called.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from podplane.agent.network.errors import NetworkError
from podplane.agent.network.sandbox import HostPreparation, SandboxNetwork

__all__ = ["HostOnlyNetwork"]


class HostOnlyNetwork:
    async def prepare_host(self, service_cidr: str, pod_cidr: str | None = None) -> HostPreparation:
        return HostPreparation(service_cidr=service_cidr, pod_cidr=pod_cidr or "", service_route_installed=False)

    async def setup(self, pod_uid: str, pod_name: str, namespace: str, ports: Sequence = ()) -> SandboxNetwork:
        raise NetworkError(f"pod {namespace}/{pod_name}: the process runtime has no pod networks; "
                           f"its pods use the host's network")

    async def teardown(self, pod_uid: str) -> None:
        return None

    async def status(self, pod_uid: str) -> SandboxNetwork | None:
        return None

    async def adopt(self) -> dict[str, SandboxNetwork]:
        return {}

    async def gc(self, keep: Iterable[str]) -> list[str]:
        return []
