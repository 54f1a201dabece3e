"""NodeName: a pod that names a node (spec.nodeName) fits only that node.

The scheduler never picks up pods that already have spec.nodeName, so this plugin
matters for dry runs (preemption diagnosis) and completeness; its PreFilter skips
the Filter for every other pod.
"""

from __future__ import annotations

from podplane.scheduler.framework import (
    NODE_ADD,
    SKIP,
    CycleState,
    FilterPlugin,
    Handle,
    NodeInfo,
    PodInfo,
    PreFilterPlugin,
    Status,
)

__all__ = ["NAME", "REASON", "NodeName", "new"]

NAME = "NodeName"
REASON = "node(s) didn't match the requested node name"
_REJECTED = Status.unresolvable(REASON, plugin=NAME)


class NodeName(PreFilterPlugin, FilterPlugin):
    name = NAME
    events = frozenset({NODE_ADD})

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if pod.node_name else SKIP

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                     rejected: dict[str, Status]) -> list[NodeInfo]:
        wanted = pod.node_name
        if not wanted:
            return nodes
        passed = []
        for node in nodes:
            if node.name == wanted:
                passed.append(node)
            else:
                rejected[node.name] = _REJECTED
        return passed


def new(handle: Handle) -> NodeName:
    return NodeName()
