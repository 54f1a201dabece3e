"""Scheduler cache: one `NodeInfo` per node with the pods placed on it, assumed pods included.

Fed by the node and pod informers (assigned, non-terminal pods) and by the scheduler
itself: after choosing a node the scheduler *assumes* the pod there at once, so the
next cycle already sees its resources, ports and labels while the binding request
is still in flight. The informer's update carrying `spec.nodeName` confirms the
assumption; a failed binding *forgets* it. Pods whose Node object has not arrived
yet live on a "ghost" NodeInfo until it does (upstream's cache does the same).

Besides the node map it keeps what the plugins would otherwise recompute per cycle:
the node list in zone-interleaved order (upstream's nodeTree, so a partial scan
still spreads over zones), assigned pods by namespace, and the nodes that carry
pods with (anti-)affinity or PreferNoSchedule taints.

The scheduling cycle runs without awaiting, so it always sees a consistent cache; no
snapshot copy is needed. Neighbours: `nodeinfo` (the data), `scheduler` (handlers).
"""

from __future__ import annotations

import copy

from podplane.scheduler.nodeinfo import NodeInfo, PodInfo

__all__ = ["Cache"]


class Cache:
    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self.pods: dict[str, PodInfo] = {}
        """Assigned and assumed pods by `namespace/name`."""
        self.assumed: set[str] = set()
        self.pods_by_namespace: dict[str, dict[str, PodInfo]] = {}
        self.nodes_with_affinity_pods: dict[str, NodeInfo] = {}
        self.nodes_with_required_anti_affinity_pods: dict[str, NodeInfo] = {}
        self.prefer_no_schedule_nodes = 0
        """Nodes with at least one PreferNoSchedule taint: when 0, TaintToleration's score is
        the same for every node and need not be computed."""
        self.hard_tainted_nodes = 0
        """Nodes with NoSchedule/NoExecute taints: when 0, TaintToleration's filter passes all."""
        self.unschedulable_nodes = 0
        """Cordoned nodes: when 0, NodeUnschedulable's filter passes all."""
        self._node_list: list[NodeInfo] = []
        self._list_dirty = False

    # -- nodes -------------------------------------------------------------------------------
    @property
    def node_list(self) -> list[NodeInfo]:
        """Nodes that have a Node object, zones interleaved (upstream nodeTree.list)."""
        if self._list_dirty:
            self._node_list = self._interleave_zones()
            self._list_dirty = False
        return self._node_list

    def _interleave_zones(self) -> list[NodeInfo]:
        zones: dict[str, list[NodeInfo]] = {}
        for info in self.nodes.values():
            if info.node is not None:
                zones.setdefault(info.zone, []).append(info)
        if len(zones) <= 1:
            return next(iter(zones.values()), [])
        out: list[NodeInfo] = []
        columns = list(zones.values())
        for i in range(max(len(c) for c in columns)):
            out.extend(c[i] for c in columns if i < len(c))
        return out

    def set_node(self, node: dict) -> NodeInfo:
        """Add or update a node."""
        name = node["metadata"]["name"]
        info = self.nodes.get(name)
        if info is None:
            info = self.nodes[name] = NodeInfo(name)
            self._list_dirty = True
        had_node, old_zone = info.node is not None, info.zone
        self._count(info, -1)
        info.set_node(node)
        self._count(info, 1)
        if not had_node or info.zone != old_zone:
            self._list_dirty = True
        return info

    def remove_node(self, name: str) -> None:
        info = self.nodes.get(name)
        if info is None:
            return
        self._count(info, -1)
        if info.pods:
            # Keep the pods accounted for until their deletion arrives (ghost node).
            info.node = None
            info.labels = {}
            info.taints = info.hard_taints = info.prefer_no_schedule_taints = ()
            info.unschedulable = False
        else:
            del self.nodes[name]
        self._list_dirty = True

    def _count(self, info: NodeInfo, sign: int) -> None:
        if info.node is None:
            return
        self.prefer_no_schedule_nodes += sign * bool(info.prefer_no_schedule_taints)
        self.hard_tainted_nodes += sign * bool(info.hard_taints)
        self.unschedulable_nodes += sign * info.unschedulable

    def node(self, name: str) -> NodeInfo | None:
        info = self.nodes.get(name)
        return info if info is not None and info.node is not None else None

    # -- pods ----------------------------------------------------------------------------------
    def _place(self, pod: PodInfo) -> None:
        info = self.nodes.get(pod.node_name)
        if info is None:
            info = self.nodes[pod.node_name] = NodeInfo(pod.node_name)
        info.add_pod(pod)
        self.pods[pod.key] = pod
        self.pods_by_namespace.setdefault(pod.namespace, {})[pod.key] = pod
        self._track(info)

    def _unplace(self, key: str) -> PodInfo | None:
        pod = self.pods.pop(key, None)
        if pod is None:
            return None
        in_ns = self.pods_by_namespace.get(pod.namespace)
        if in_ns is not None:
            in_ns.pop(key, None)
            if not in_ns:
                del self.pods_by_namespace[pod.namespace]
        info = self.nodes.get(pod.node_name)
        if info is not None:
            info.remove_pod(key)
            self._track(info)
            if info.node is None and not info.pods:
                del self.nodes[info.name]
        return pod

    def _track(self, info: NodeInfo) -> None:
        for index, has in ((self.nodes_with_affinity_pods, info.pods_with_affinity),
                           (self.nodes_with_required_anti_affinity_pods, info.pods_with_required_anti_affinity)):
            if has:
                index[info.name] = info
            else:
                index.pop(info.name, None)

    def add_pod(self, pod: PodInfo) -> None:
        """An assigned pod from the informer: confirms an assumed one, or adds/updates it."""
        self._unplace(pod.key)
        self.assumed.discard(pod.key)
        self._place(pod)

    def remove_pod(self, key: str) -> None:
        self.assumed.discard(key)
        self._unplace(key)

    def assume_pod(self, pod: PodInfo, node_name: str) -> PodInfo:
        """Account the pod on `node_name` before the binding lands; returns the assumed copy."""
        assumed = copy.copy(pod)
        assumed.node_name = node_name
        self._unplace(pod.key)
        self._place(assumed)
        self.assumed.add(pod.key)
        return assumed

    def forget_pod(self, key: str) -> None:
        """Undo `assume_pod` after a failed binding (no-op once the informer confirmed it)."""
        if key in self.assumed:
            self.assumed.discard(key)
            self._unplace(key)

    def is_assumed(self, key: str) -> bool:
        return key in self.assumed
