"""TaintToleration: NoSchedule/NoExecute taints keep out pods that do not tolerate them;
untolerated PreferNoSchedule taints lower a node's score.

Filter reports the first untolerated taint as upstream does:
"node(s) had untolerated taint {key: value}". Score counts untolerated
PreferNoSchedule taints and normalizes in reverse (fewer is better). When no node in
the cluster has a PreferNoSchedule taint every node would score the same, so
PreScore skips the plugin (same outcome, no per-node work).
"""

from __future__ import annotations

from podplane.api.scheduling import find_untolerated_taint, toleration_tolerates_taint
from podplane.scheduler.framework import (
    MAX_NODE_SCORE,
    NODE_ADD,
    NODE_TAINT,
    SKIP,
    CycleState,
    FilterPlugin,
    Handle,
    NodeInfo,
    PodInfo,
    PreScorePlugin,
    ScorePlugin,
    Status,
    default_normalize_score,
)

__all__ = ["NAME", "TaintToleration", "new", "untolerated_reason"]

NAME = "TaintToleration"
_STATE_KEY = "PreScore" + NAME


def untolerated_reason(taint: dict) -> str:
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"


class TaintToleration(FilterPlugin, PreScorePlugin, ScorePlugin):
    name = NAME
    events = frozenset({NODE_ADD, NODE_TAINT})

    def __init__(self, handle: Handle) -> None:
        self.handle = handle
        self._statuses: dict[tuple, Status] = {}

    def _rejection(self, taint: dict) -> Status:
        key = (taint.get("key", ""), taint.get("value", ""))
        status = self._statuses.get(key)
        if status is None:
            if len(self._statuses) > 1024:
                self._statuses.clear()
            status = self._statuses[key] = Status.unresolvable(untolerated_reason(taint), plugin=NAME)
        return status

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                     rejected: dict[str, Status]) -> list[NodeInfo]:
        if self.handle.cache.hard_tainted_nodes <= 0:
            return nodes  # no node has a NoSchedule/NoExecute taint
        passed = []
        tolerations = pod.tolerations
        for node in nodes:
            if not node.hard_taints:
                passed.append(node)
                continue
            taint = find_untolerated_taint(node.hard_taints, tolerations)
            if taint is None:
                passed.append(node)
            else:
                rejected[node.name] = self._rejection(taint)
        return passed

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if self.handle.cache.prefer_no_schedule_nodes <= 0:
            return SKIP
        # Tolerations without an effect tolerate every effect, PreferNoSchedule included.
        state.write(_STATE_KEY, [t for t in pod.tolerations if (t.get("effect") or "PreferNoSchedule")
                                 == "PreferNoSchedule"])
        return None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        tolerations = state.read(_STATE_KEY)
        if tolerations is None:
            tolerations = [t for t in pod.tolerations if (t.get("effect") or "PreferNoSchedule") == "PreferNoSchedule"]
        return [sum(1 for taint in n.prefer_no_schedule_taints if not any(toleration_tolerates_taint(t, taint) for t in tolerations))
                if n.prefer_no_schedule_taints else 0 for n in nodes]

    def normalize_scores(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        default_normalize_score(MAX_NODE_SCORE, True, scores)


def new(handle: Handle) -> TaintToleration:
    return TaintToleration(handle)
