"""Node IPAM controller: hands each Node a pod CIDR (upstream pkg/controller/nodeipam, RangeAllocator).

The cluster CIDR (`ControllerSettings.cluster_cidr`, default 10.42.0.0/16 as k3s) is cut
into blocks of `node_cidr_mask_size` bits (default /24: 254 pods per node). A Node without
`spec.podCIDR` gets the lowest free block, written with a patch of `spec.podCIDR` and
`spec.podCIDRs`; the node agent waits for it before it sets up the pod network. Blocks
of existing Nodes (whatever wrote them: this controller, or a simulated node agent that
picks its own) count as used, so restarts and several writers never hand out one block
twice. When the range is exhausted the Node gets a `CIDRNotAvailable` event, as upstream,
and is retried when a Node goes away. The allocation is derived from the Nodes on every
sync (the informer cache plus the blocks this process assigned but not yet saw back),
so there is no separate state to lose.

Talks to the API server through `ctx.client` (patch nodes, events) and its node informer.
"""

from __future__ import annotations

import ipaddress
import logging

from podplane.api.errors import ApiError
from podplane.client.workqueue import WorkQueue

__all__ = ["NodeIpamController", "new"]

log = logging.getLogger(__name__)


class NodeIpamController:
    name = "nodeipam"
    workers = 1
    """One worker: allocation is a read-modify-write of the set of used blocks."""

    def __init__(self, ctx) -> None:
        self.client = ctx.client
        settings = ctx.settings
        self.cluster = ipaddress.ip_network(settings.cluster_cidr, strict=False)
        self.mask = settings.node_cidr_mask_size
        if self.mask < self.cluster.prefixlen or self.mask > self.cluster.max_prefixlen - 2:
            raise ValueError(f"node CIDR mask /{self.mask} does not fit the cluster CIDR {self.cluster}")
        self.queue = WorkQueue("nodeipam", max_delay=60.0)
        self.nodes_info = self.client.resource("", "nodes")
        self.nodes = ctx.informers.resource("", "nodes")
        self.recorder = ctx.recorder("cidrAllocator")
        self._assigned: dict[str, str] = {}
        """node name → block this process wrote, until the informer shows it."""
        self._exhausted: set[str] = set()
        self._parsed: dict[str, range] = {}
        self.nodes.add_handler(self._on_node, lambda _old, new: self._on_node(new), self._on_delete)

    def _on_node(self, node: dict) -> None:
        if not (node.get("spec") or {}).get("podCIDR"):
            self.queue.add(node["metadata"]["name"])

    def _on_delete(self, node: dict) -> None:
        self._assigned.pop(node["metadata"]["name"], None)
        for name in list(self._exhausted):  # a freed block may now fit a waiting node
            self.queue.add(name)

    def _blocks_of(self, cidr: str) -> range:
        """Indices of the cluster's blocks that `cidr` overlaps (empty if none or unparsable).

        Parsed once per distinct string: a sync looks at every Node's CIDR, and
        ipaddress parsing and overlap tests per Node per sync are quadratic work that
        stalled a 1,000-node server for seconds."""
        blocks = self._parsed.get(cidr)
        if blocks is None:
            blocks = range(0)
            try:
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                net = None
            if net is not None and net.version == self.cluster.version and net.overlaps(self.cluster):
                shift = self.cluster.max_prefixlen - self.mask
                base = int(self.cluster.network_address)
                first = max(int(net.network_address), base) - base
                last = min(int(net.broadcast_address), int(self.cluster.broadcast_address)) - base
                blocks = range(first >> shift, (last >> shift) + 1)
            if len(self._parsed) > 100_000:
                self._parsed.clear()
            self._parsed[cidr] = blocks
        return blocks

    def _used(self) -> set[int]:
        """Indices of the blocks held by Nodes or assigned by this process."""
        used: set[int] = set()
        for n in self.nodes.list():
            spec = n.get("spec") or {}
            for cidr in spec.get("podCIDRs") or [spec.get("podCIDR") or ""]:
                used.update(self._blocks_of(cidr))
        for cidr in self._assigned.values():
            used.update(self._blocks_of(cidr))
        return used

    def _free_block(self) -> str | None:
        used = self._used()
        total = 1 << (self.mask - self.cluster.prefixlen)
        if len(used) >= total:
            return None
        index = next(i for i in range(total) if i not in used)
        size = 1 << (self.cluster.max_prefixlen - self.mask)
        address = self.cluster.network_address + index * size
        return str(ipaddress.ip_network((address, self.mask)))

    async def sync(self, name: str) -> None:
        node = self.nodes.get_by_key(name)
        if node is None:
            self._exhausted.discard(name)
            return
        if (node.get("spec") or {}).get("podCIDR"):
            self._assigned.pop(name, None)
            self._exhausted.discard(name)
            return
        if name in self._assigned:
            return  # written; waiting for the informer to catch up
        block = self._free_block()
        if block is None:
            if name not in self._exhausted:
                self._exhausted.add(name)
                self.recorder.event(node, "Normal", "CIDRNotAvailable",
                                    f"Node {name} status is now: CIDRNotAvailable")
            log.warning("node %s: no free /%d left in the cluster CIDR %s", name, self.mask, self.cluster)
            return
        patch = {"metadata": {"uid": node["metadata"].get("uid")},
                 "spec": {"podCIDR": block, "podCIDRs": [block]}}
        try:
            await self.client.patch(self.nodes_info, name, patch, patch_type="strategic")
        except ApiError as e:
            if e.code in (404, 409):
                return
            raise
        self._assigned[name] = block
        self._exhausted.discard(name)
        log.info("node %s: pod CIDR %s", name, block)


def new(ctx) -> NodeIpamController:
    return NodeIpamController(ctx)
