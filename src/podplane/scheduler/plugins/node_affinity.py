"""NodeAffinity: spec.nodeSelector and required node affinity filter nodes; preferred
node affinity terms add their weights to a node's score.

Required terms are ORed; inside a term every matchExpression (In, NotIn, Exists,
DoesNotExist, Gt, Lt on node labels) and matchField (metadata.name In/NotIn) must
hold; an empty term matches nothing. nodeSelector must match as well. Scores are the
sum of the weights of matching preferred terms, scaled so the best node gets 100.
Pods without any of these skip both extension points.
"""

from __future__ import annotations

from podplane.api.scheduling import compile_term
from podplane.scheduler.framework import (
    MAX_NODE_SCORE,
    NODE_ADD,
    NODE_LABEL,
    SKIP,
    CycleState,
    FilterPlugin,
    Handle,
    NodeInfo,
    PodInfo,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
    Status,
    default_normalize_score,
)

__all__ = ["NAME", "REASON", "NodeAffinity", "new", "preferred_terms"]

NAME = "NodeAffinity"
REASON = "node(s) didn't match Pod's node affinity/selector"
_REJECTED = Status.unresolvable(REASON, plugin=NAME)
_STATE_KEY = "PreScore" + NAME


def preferred_terms(pod: PodInfo) -> list[tuple[int, object]]:
    """(weight, compiled term) for each usable preferred term (weight 0 and empty terms skipped)."""
    node_affinity = (pod.spec.get("affinity") or {}).get("nodeAffinity") or {}
    out = []
    for item in node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or ():
        weight = int(item.get("weight") or 0)
        term = compile_term(item.get("preference"))
        if weight and term is not None:
            out.append((weight, term))
    return out


class NodeAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    name = NAME
    events = frozenset({NODE_ADD, NODE_LABEL})

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return SKIP if pod.node_matcher.empty else None

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                     rejected: dict[str, Status]) -> list[NodeInfo]:
        matcher = pod.node_matcher
        if matcher.empty:
            return nodes
        passed = []
        for node in nodes:
            if matcher.matches(node.labels, node.name):
                passed.append(node)
            else:
                rejected[node.name] = _REJECTED
        return passed

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        terms = preferred_terms(pod)
        if not terms:
            return SKIP
        state.write(_STATE_KEY, terms)
        return None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        terms = state.read(_STATE_KEY)
        if terms is None:
            terms = preferred_terms(pod)
        return [sum(w for w, t in terms if t.matches(n.labels, n.name)) for n in nodes]

    def normalize_scores(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        default_normalize_score(MAX_NODE_SCORE, False, scores)


def new(handle: Handle) -> NodeAffinity:
    return NodeAffinity()
