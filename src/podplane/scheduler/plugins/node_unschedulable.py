"""NodeUnschedulable: cordoned nodes take only pods that tolerate being cordoned.

`kubectl cordon` sets spec.unschedulable; such a node rejects pods unless they
tolerate the `node.kubernetes.io/unschedulable:NoSchedule` taint (DaemonSet pods
do), with upstream's reason "node(s) were unschedulable". The cache counts cordoned
nodes, so the common case (none) costs nothing per node.
"""

from __future__ import annotations

from podplane.api.scheduling import toleration_tolerates_taint
from podplane.scheduler.framework import (
    NODE_ADD,
    NODE_TAINT,
    CycleState,
    FilterPlugin,
    Handle,
    NodeInfo,
    PodInfo,
    Status,
)

__all__ = ["NAME", "REASON", "NodeUnschedulable", "new"]

NAME = "NodeUnschedulable"
REASON = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
_REJECTED = Status.unresolvable(REASON, plugin=NAME)


class NodeUnschedulable(FilterPlugin):
    name = NAME
    events = frozenset({NODE_ADD, NODE_TAINT})

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                     rejected: dict[str, Status]) -> list[NodeInfo]:
        if self.handle.cache.unschedulable_nodes <= 0:
            return nodes  # no node is cordoned
        if any(toleration_tolerates_taint(t, UNSCHEDULABLE_TAINT) for t in pod.tolerations):
            return nodes
        passed = []
        for node in nodes:
            if node.unschedulable:
                rejected[node.name] = _REJECTED
            else:
                passed.append(node)
        return passed


def new(handle: Handle) -> NodeUnschedulable:
    return NodeUnschedulable(handle)
