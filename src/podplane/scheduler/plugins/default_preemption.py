"""DefaultPreemption (diagnosis only): explains why preemption would not help.

Upstream's PostFilter tries to make room by evicting lower-priority pods. podplane
does not evict; this plugin reproduces upstream's verdict for the FailedScheduling
message: nodes rejected as UnschedulableAndUnresolvable are "Preemption is not
helpful for scheduling", nodes without lower-priority pods have "No preemption
victims found for incoming pod", and other nodes are re-filtered without their
lower-priority pods. When some node would become feasible that way upstream would
preempt; here the pod simply waits, and no preemption sentence is added.
"""

from __future__ import annotations

import logging

from podplane.scheduler.framework import (
    Code,
    CycleState,
    Diagnosis,
    FitError,
    Framework,
    Handle,
    NodeInfo,
    PodInfo,
    PostFilterPlugin,
    Status,
)

__all__ = ["NAME", "NOT_HELPFUL_REASON", "NO_VICTIMS_REASON", "DefaultPreemption", "new"]

log = logging.getLogger(__name__)

NAME = "DefaultPreemption"
NOT_HELPFUL_REASON = "Preemption is not helpful for scheduling"
NO_VICTIMS_REASON = "No preemption victims found for incoming pod"
_NOT_HELPFUL = Status.unresolvable(NOT_HELPFUL_REASON, plugin=NAME)
_NO_VICTIMS = Status.unresolvable(NO_VICTIMS_REASON, plugin=NAME)


class DefaultPreemption(PostFilterPlugin):
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def post_filter(self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis,
                    framework: Framework) -> Status | None:
        if pod.spec.get("preemptionPolicy") == "Never":
            return Status.unschedulable("preemption: not eligible due to preemptionPolicy=Never.", plugin=NAME)
        nodes = self.handle.cache.node_list
        statuses: dict[str, Status] = {}
        candidates = 0
        for node in nodes:
            status = diagnosis.status_of(node.name)
            if status is None:
                continue
            if status.code != Code.UNSCHEDULABLE:
                statuses[node.name] = _NOT_HELPFUL
                continue
            victims = [p for p in node.pods.values() if p.priority < pod.priority]
            if not victims:
                statuses[node.name] = _NO_VICTIMS
                continue
            without = NodeInfo(node.name, node.node)
            for p in node.pods.values():
                if p.priority >= pod.priority:
                    without.add_pod(p)
            verdict = framework.run_filter(state, pod, without)
            if verdict is not None and verdict.code != Code.SUCCESS:
                statuses[node.name] = verdict
            else:
                candidates += 1
        if candidates:
            log.info("pod %s could fit on %d node(s) by preempting lower-priority pods; preemption is not "
                     "implemented", pod.key, candidates)
            return None
        fit = FitError(pod, len(nodes), Diagnosis(node_to_status=statuses, absent_status=_NOT_HELPFUL))
        return Status.unschedulable(f"preemption: {fit}", plugin=NAME)


def new(handle: Handle) -> DefaultPreemption:
    return DefaultPreemption(handle)
