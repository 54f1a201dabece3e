"""NodePorts: a pod asking for host ports fits only nodes where those ports are free.

A port is identified by (hostIP, protocol, hostPort); 0.0.0.0 (the default hostIP)
conflicts with every address. Ports of app containers and sidecar init containers
count. Pods without host ports skip the filter; a pod deleted from a node frees its
ports, so rejected pods are retried on pod deletions and new nodes.
"""

from __future__ import annotations

from podplane.scheduler.framework import (
    ASSIGNED_POD_DELETE,
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

__all__ = ["NAME", "REASON", "NodePorts", "new"]

NAME = "NodePorts"
REASON = "node(s) didn't have free ports for the requested pod ports"
_REJECTED = Status.unschedulable(REASON, plugin=NAME)


class NodePorts(PreFilterPlugin, FilterPlugin):
    name = NAME
    events = frozenset({NODE_ADD, ASSIGNED_POD_DELETE})

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if pod.host_ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.used_ports:
            return None
        for ip, protocol, port in pod.host_ports:
            if node.port_conflict(ip, protocol, port):
                return _REJECTED
        return None


def new(handle: Handle) -> NodePorts:
    return NodePorts()
