"""Service address allocation: ClusterIPs from the service CIDR and NodePorts.

Each allocated address is a key in the store (`/registry/ranges/serviceips/<ip>`,
`/registry/ranges/servicenodeports/<port>`) created with the backend's
create-if-absent, so two servers sharing one etcd can never hand out the same
address, and allocations survive restarts. The key's value names the owning
Service (namespace/name/uid) so a leaked key can be told from a live one.

Hooks called by `rest.ResourceHandler` around Service writes: `before_create`
(allocate, or reserve what the user asked for: 422 if taken or out of range),
`before_update` (allocate node ports when the type gains them, release when it
loses them; clusterIP itself is immutable), `after_delete` and `release_failed`.
"""

from __future__ import annotations

import ipaddress
import random

import orjson

from podplane.api import errors
from podplane.api.errors import Cause
from podplane.api.registry import ResourceInfo
from podplane.storage import Backend, KeyExistsError, KeyNotFoundError

__all__ = ["ServiceAllocator"]

IP_PREFIX = "/registry/ranges/serviceips/"
PORT_PREFIX = "/registry/ranges/servicenodeports/"
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


def _needs_node_ports(svc: dict) -> bool:
    spec = svc.get("spec") or {}
    if spec.get("type") == "NodePort":
        return True
    return spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False


class ServiceAllocator:
    def __init__(self, backend: Backend, *, service_cidr: str = "10.43.0.0/16",
                 node_port_range: tuple[int, int] = (30000, 32767)) -> None:
        self.backend = backend
        self.network = ipaddress.ip_network(service_cidr)
        self.node_ports = node_port_range

    def is_service(self, info: ResourceInfo) -> bool:
        return (info.group, info.kind) == ("", "Service")

    # -- primitives ----------------------------------------------------------------------
    async def _reserve(self, key: str, owner: dict) -> bool:
        meta = owner.get("metadata") or {}
        value = orjson.dumps({"namespace": meta.get("namespace"), "name": meta.get("name"), "uid": meta.get("uid")})
        try:
            await self.backend.create(key, value)
            return True
        except KeyExistsError:
            return False

    async def _release(self, key: str) -> None:
        try:
            await self.backend.delete(key)
        except KeyNotFoundError:
            pass

    async def _allocate_ip(self, owner: dict) -> str:
        # the first address is the `kubernetes` Service's; random probing like upstream's bitmap
        first, size = int(self.network.network_address) + 1, self.network.num_addresses - 2
        start = random.randrange(size)
        for offset in range(min(size, 4096)):
            ip = str(ipaddress.ip_address(first + (start + offset) % size))
            if await self._reserve(IP_PREFIX + ip, owner):
                return ip
        raise errors.ApiError(500, "InternalError",
                              f"Internal error occurred: failed to allocate a serviceIP: range is full ({self.network})")

    async def reserve_ip(self, ip: str, owner: dict, field: str = "spec.clusterIPs[0]") -> None:
        name = (owner.get("metadata") or {}).get("name", "")
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            raise errors.invalid("Service", name, [Cause("FieldValueInvalid", f'Invalid value: "{ip}": must be '
                                                         f"a valid IP address", field)]) from None
        if addr not in self.network or addr in (self.network.network_address, self.network.broadcast_address):
            raise errors.invalid("Service", name, [Cause(
                "FieldValueInvalid", f'Invalid value: "{ip}": failed to allocate IP {ip}: the provided IP ({ip}) '
                f"is not in the valid range. The range of valid IPs is {self.network}", field)])
        if not await self._reserve(IP_PREFIX + ip, owner):
            raise errors.invalid("Service", name, [Cause(
                "FieldValueInvalid", f'Invalid value: "{ip}": failed to allocate IP {ip}: provided IP is already '
                f"allocated", field)])

    async def _allocate_port(self, owner: dict) -> int:
        low, high = self.node_ports
        size = high - low + 1
        start = random.randrange(size)
        for offset in range(size):
            port = low + (start + offset) % size
            if await self._reserve(f"{PORT_PREFIX}{port}", owner):
                return port
        raise errors.ApiError(500, "InternalError", "Internal error occurred: failed to allocate a nodePort: "
                                                    "range is full")

    async def _reserve_port(self, port: int, owner: dict, field: str) -> None:
        name = (owner.get("metadata") or {}).get("name", "")
        low, high = self.node_ports
        if not low <= port <= high:
            raise errors.invalid("Service", name, [Cause(
                "FieldValueInvalid", f"Invalid value: {port}: provided port is not in the valid range. The range of "
                f"valid ports is {low}-{high}", field)])
        if not await self._reserve(f"{PORT_PREFIX}{port}", owner):
            raise errors.invalid("Service", name, [Cause(
                "FieldValueInvalid", f"Invalid value: {port}: provided port is already allocated", field)])

    # -- hooks ---------------------------------------------------------------------------
    async def before_create(self, svc: dict) -> list[str]:
        """Fill clusterIP(s) and nodePorts; returns the keys reserved (to undo on failure)."""
        spec = svc.setdefault("spec", {})
        reserved: list[str] = []
        try:
            if spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None":
                wanted = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
                if wanted:
                    await self.reserve_ip(wanted, svc)
                    ip = wanted
                else:
                    ip = await self._allocate_ip(svc)
                reserved.append(IP_PREFIX + ip)
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
            if _needs_node_ports(svc):
                reserved += await self._assign_node_ports(svc)
        except Exception:
            await self.release_keys(reserved)
            raise
        return reserved

    async def _assign_node_ports(self, svc: dict, keep: set[int] = frozenset()) -> list[str]:
        reserved: list[str] = []
        used: set[int] = set()
        for i, port in enumerate((svc.get("spec") or {}).get("ports") or []):
            node_port = port.get("nodePort")
            if node_port in used:  # two protocols on one port number share a node port
                continue
            if node_port and node_port not in keep:
                await self._reserve_port(int(node_port), svc, f"spec.ports[{i}].nodePort")
                reserved.append(f"{PORT_PREFIX}{node_port}")
            elif not node_port:
                node_port = await self._allocate_port(svc)
                port["nodePort"] = node_port
                reserved.append(f"{PORT_PREFIX}{node_port}")
            used.add(int(node_port))
        return reserved

    async def before_update(self, old: dict, new: dict) -> tuple[list[str], list[str]]:
        """Returns (reserved keys to undo on failure, keys to release once the write lands)."""
        old_ports = {p.get("nodePort") for p in (old.get("spec") or {}).get("ports") or [] if p.get("nodePort")}
        release: list[str] = []
        reserved: list[str] = []
        old_spec, new_spec = old.get("spec") or {}, new.setdefault("spec", {})
        if not new_spec.get("clusterIP") and old_spec.get("clusterIP"):
            # a PUT without clusterIP keeps the allocated one (upstream patchAllocatedValues)
            new_spec["clusterIP"] = old_spec["clusterIP"]
            new_spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
        if _needs_node_ports(new):
            # keep node ports the user did not touch (kubectl apply drops them from manifests)
            old_by_port = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                           for p in (old.get("spec") or {}).get("ports") or []}
            for p in (new.get("spec") or {}).get("ports") or []:
                if not p.get("nodePort"):
                    previous = old_by_port.get((p.get("port"), p.get("protocol", "TCP")))
                    if previous:
                        p["nodePort"] = previous
            reserved = await self._assign_node_ports(new, keep=old_ports)
            new_ports = {p.get("nodePort") for p in new["spec"].get("ports") or []}
            release = [f"{PORT_PREFIX}{p}" for p in old_ports - new_ports]
        else:
            for p in (new.get("spec") or {}).get("ports") or []:
                p.pop("nodePort", None)
            release = [f"{PORT_PREFIX}{p}" for p in old_ports]
        return reserved, release

    async def release_keys(self, keys: list[str]) -> None:
        for key in keys:
            await self._release(key)

    async def after_delete(self, svc: dict) -> None:
        spec = svc.get("spec") or {}
        keys = [IP_PREFIX + ip for ip in spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP")
                                                                     else []) if ip and ip != "None"]
        keys += [f"{PORT_PREFIX}{p['nodePort']}" for p in spec.get("ports") or [] if p.get("nodePort")]
        await self.release_keys(keys)
