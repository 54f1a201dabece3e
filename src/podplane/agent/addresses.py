"""Addresses of simulated nodes and their pods: plausible, unique, and never routed.

The fake agent never sends traffic, but its addresses show up in `kubectl get -o wide`,
Endpoints and EndpointSlices, so they must be unique and must never lead anywhere if
some other component does try them (DESIGN §8):
- node i gets one /24 pod block: 10.244.0.0/24, 10.244.1.0/24, ... up to 10.255.255.0/24
  (3,072 nodes), then 100.64.0.0/10 (shared address space, 16,384 more). Blocks already
  written into existing Nodes' `spec.podCIDR` are reused on restart and skipped for new
  nodes, so several agents on one cluster do not collide (barring simultaneous starts);
- the node's InternalIP is a loopback address, 127.1.<b / 250>.<b % 250 + 1>, so any
  connection to a simulated node (logs, exec, probes) stays on the local host;
- pods get addresses from their node's block, from .2 (like host-local, .1 is the
  gateway), round-robin so a freed address is not reused at once.
"""

from __future__ import annotations

import ipaddress

__all__ = ["PodIPAllocator", "assign_blocks", "block_of", "node_internal_ip", "node_names", "pod_cidr"]

_TEN_BLOCKS = 12 * 256  # 10.244.0.0/24 .. 10.255.255.0/24
_SHARED_BLOCKS = 64 * 256  # 100.64.0.0/24 .. 100.127.255.0/24


def node_names(name: str, count: int) -> list[str]:
    """`name` itself for one node; `name-0` .. `name-<count-1>` for several."""
    if count == 1:
        return [name]
    return [f"{name}-{i}" for i in range(count)]


def pod_cidr(block: int) -> str:
    if 0 <= block < _TEN_BLOCKS:
        return f"10.{244 + block // 256}.{block % 256}.0/24"
    shared = block - _TEN_BLOCKS
    if 0 <= shared < _SHARED_BLOCKS:
        return f"100.{64 + shared // 256}.{shared % 256}.0/24"
    raise ValueError(f"no pod address block #{block}: at most {_TEN_BLOCKS + _SHARED_BLOCKS} simulated nodes")


def block_of(cidr: str) -> int | None:
    """The block number of a pod CIDR that `pod_cidr` made, else None."""
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None
    if net.version != 4 or net.prefixlen != 24:
        return None
    a, b, c, _ = net.network_address.packed
    if a == 10 and b >= 244:
        return (b - 244) * 256 + c
    if a == 100 and 64 <= b < 128:
        return _TEN_BLOCKS + (b - 64) * 256 + c
    return None


def node_internal_ip(block: int) -> str:
    return f"127.1.{block // 250}.{block % 250 + 1}"


def assign_blocks(names: list[str], existing: dict[str, str]) -> dict[str, int]:
    """Pod block per node name: the block of an existing Node's podCIDR, else the lowest free one.

    `existing` maps every Node already in the cluster to its `spec.podCIDR` ("" if none).
    """
    used = {b for b in (block_of(c) for c in existing.values() if c) if b is not None}
    out: dict[str, int] = {}
    for name in names:
        block = block_of(existing.get(name) or "")
        if block is not None:
            out[name] = block
    candidate = 0
    for name in names:
        if name in out:
            continue
        while candidate in used:
            candidate += 1
        pod_cidr(candidate)  # raises when the address space is exhausted
        out[name] = candidate
        used.add(candidate)
    return out


class PodIPAllocator:
    """Pod IPs of one node's /24: .2 to .254, round-robin like CNI host-local."""

    def __init__(self, cidr: str) -> None:
        net = ipaddress.ip_network(cidr, strict=False)
        self.cidr = str(net)
        self._first = int(net.network_address) + 2
        self._size = max(0, net.num_addresses - 3)  # network, gateway (.1), broadcast
        self._used: set[int] = set()
        self._cursor = 0

    def __len__(self) -> int:
        return len(self._used)

    def allocate(self) -> str | None:
        """A free address, or None when the block is full."""
        for step in range(self._size):
            offset = (self._cursor + step) % self._size
            address = self._first + offset
            if address not in self._used:
                self._used.add(address)
                self._cursor = offset + 1
                return str(ipaddress.IPv4Address(address))
        return None

    def reserve(self, ip: str) -> None:
        """Mark an address in use (a pod adopted after an agent restart)."""
        try:
            self._used.add(int(ipaddress.IPv4Address(ip)))
        except ValueError:
            pass

    def release(self, ip: str) -> None:
        try:
            self._used.discard(int(ipaddress.IPv4Address(ip)))
        except ValueError:
            pass
