"""InterPodAffinity: place pods relative to other pods by topology domain.

Filter (upstream interpodaffinity/filtering.go):
- the pod's required affinity: every term's topologyKey must exist on the node, and
  the node's domain must hold a pod matching all terms ("node(s) didn't match pod
  affinity rules"); the first pod of a group whose terms select itself may go
  anywhere while no pod matches yet;
- the pod's required anti-affinity: no matching pod in the node's domain ("node(s)
  didn't match pod anti-affinity rules");
- symmetry: no existing pod's required anti-affinity term selects this pod within
  the node's domain ("node(s) didn't satisfy existing pods anti-affinity rules").
PreFilter counts matches per (topologyKey, value) once per cycle, reading only the
pods of the namespaces the terms name (namespaceSelectors are resolved to names) and
the nodes that carry pods with anti-affinity; pods without required terms skip it
when no such pods exist.

Score: preferred (anti-)affinity terms of the pod, plus existing pods' preferred
terms and required affinity terms (weight 1) that select this pod, summed per
topology domain; normalized to 0..100 between the lowest and highest node.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from podplane.api.selectors import NOTHING
from podplane.scheduler.framework import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    ASSIGNED_POD_UPDATE,
    MAX_NODE_SCORE,
    NODE_ADD,
    NODE_LABEL,
    SKIP,
    AffinityTerm,
    CycleState,
    FilterPlugin,
    Handle,
    NodeInfo,
    PodInfo,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
    Status,
    WeightedAffinityTerm,
)

__all__ = [
    "AFFINITY_REASON",
    "ANTI_AFFINITY_REASON",
    "EXISTING_ANTI_AFFINITY_REASON",
    "NAME",
    "InterPodAffinity",
    "new",
]

NAME = "InterPodAffinity"
AFFINITY_REASON = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY_REASON = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY_REASON = "node(s) didn't satisfy existing pods anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1

_AFFINITY = Status.unresolvable(AFFINITY_REASON, plugin=NAME)
_ANTI_AFFINITY = Status.unschedulable(ANTI_AFFINITY_REASON, plugin=NAME)
_EXISTING_ANTI_AFFINITY = Status.unschedulable(EXISTING_ANTI_AFFINITY_REASON, plugin=NAME)
_FILTER_KEY = "PreFilter" + NAME
_SCORE_KEY = "PreScore" + NAME


class _FilterState:
    __slots__ = ("affinity_counts", "affinity_terms", "anti_affinity_counts", "anti_affinity_terms",
                 "existing_anti_affinity_counts", "self_match")

    def __init__(self) -> None:
        self.affinity_terms: list[AffinityTerm] = []
        self.anti_affinity_terms: list[AffinityTerm] = []
        self.affinity_counts: dict[tuple[str, str], int] = {}
        self.anti_affinity_counts: dict[tuple[str, str], int] = {}
        self.existing_anti_affinity_counts: dict[tuple[str, str], int] = {}
        self.self_match = False


def _add(counts: dict[tuple[str, str], int], node: NodeInfo, key: str, n: int = 1) -> None:
    value = node.labels.get(key)
    if value is not None:
        counts[(key, value)] = counts.get((key, value), 0) + n


class InterPodAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    name = NAME
    events = frozenset({NODE_ADD, NODE_LABEL, ASSIGNED_POD_ADD, ASSIGNED_POD_UPDATE, ASSIGNED_POD_DELETE})

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    # -- helpers ------------------------------------------------------------------------------------
    def _merge_namespaces(self, term: AffinityTerm) -> AffinityTerm:
        """Resolve a non-empty namespaceSelector of the incoming pod's term to namespace names."""
        selector = term.namespace_selector
        if selector.nothing or selector.empty:
            return term
        names = set(term.namespaces) | set(self.handle.namespaces_matching(selector))
        return AffinityTerm(frozenset(names), term.selector, term.topology_key, NOTHING)

    def _pods_in(self, terms: Iterable[AffinityTerm]) -> Iterator[tuple[PodInfo, NodeInfo]]:
        """Assigned pods that any of `terms` could select, with their (real) nodes."""
        cache = self.handle.cache
        terms = list(terms)
        if any(not t.namespace_selector.nothing and t.namespace_selector.empty for t in terms):
            pods: Iterable[PodInfo] = list(cache.pods.values())
        else:
            namespaces = set().union(*(t.namespaces for t in terms)) if terms else set()
            pods = [p for ns in sorted(namespaces) for p in cache.pods_by_namespace.get(ns, {}).values()]
        for pod in pods:
            node = cache.nodes.get(pod.node_name)
            if node is not None and node.node is not None:
                yield pod, node

    # -- filtering -------------------------------------------------------------------------------------
    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        if pod.parse_error:
            return Status.error(f"parsing pod: {pod.parse_error}")
        cache = self.handle.cache
        if (not pod.required_affinity_terms and not pod.required_anti_affinity_terms
                and not cache.nodes_with_required_anti_affinity_pods):
            return SKIP
        s = _FilterState()
        s.affinity_terms = [self._merge_namespaces(t) for t in pod.required_affinity_terms]
        s.anti_affinity_terms = [self._merge_namespaces(t) for t in pod.required_anti_affinity_terms]
        namespace_labels = self.handle.namespace_labels(pod.namespace)
        for node in cache.nodes_with_required_anti_affinity_pods.values():
            if node.node is None:
                continue
            for existing in node.pods_with_required_anti_affinity.values():
                for term in existing.required_anti_affinity_terms:
                    if term.matches(pod, namespace_labels):
                        _add(s.existing_anti_affinity_counts, node, term.topology_key)
        if s.affinity_terms or s.anti_affinity_terms:
            for existing, node in self._pods_in(s.affinity_terms + s.anti_affinity_terms):
                if s.affinity_terms and all(t.matches(existing, None) for t in s.affinity_terms):
                    for t in s.affinity_terms:
                        _add(s.affinity_counts, node, t.topology_key)
                for t in s.anti_affinity_terms:
                    if t.matches(existing, None):
                        _add(s.anti_affinity_counts, node, t.topology_key)
            s.self_match = bool(s.affinity_terms) and all(t.matches(pod, None) for t in s.affinity_terms)
        state.write(_FILTER_KEY, s)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState | None = state.read(_FILTER_KEY)
        if s is None:
            return None
        labels = node.labels
        if s.affinity_terms:
            pods_exist = True
            for t in s.affinity_terms:
                value = labels.get(t.topology_key)
                if value is None:
                    return _AFFINITY  # every topology key must exist on the node
                if s.affinity_counts.get((t.topology_key, value), 0) <= 0:
                    pods_exist = False
            # The first pod of a self-affine group may go anywhere while none exists yet.
            if not pods_exist and not (not s.affinity_counts and s.self_match):
                return _AFFINITY
        for t in s.anti_affinity_terms:
            value = labels.get(t.topology_key)
            if value is not None and s.anti_affinity_counts.get((t.topology_key, value), 0) > 0:
                return _ANTI_AFFINITY
        if s.existing_anti_affinity_counts:
            for key, value in labels.items():
                if s.existing_anti_affinity_counts.get((key, value), 0) > 0:
                    return _EXISTING_ANTI_AFFINITY
        return None

    # -- scoring ----------------------------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        cache = self.handle.cache
        preferred = [WeightedAffinityTerm(w.weight, self._merge_namespaces(w.term))
                     for w in pod.preferred_affinity_terms]
        preferred_anti = [WeightedAffinityTerm(w.weight, self._merge_namespaces(w.term))
                          for w in pod.preferred_anti_affinity_terms]
        if not preferred and not preferred_anti and not cache.nodes_with_affinity_pods:
            return SKIP
        scores: dict[str, dict[str, int]] = {}

        def add(node: NodeInfo, key: str, amount: int) -> None:
            value = node.labels.get(key)
            if value is not None:
                by_value = scores.setdefault(key, {})
                by_value[value] = by_value.get(value, 0) + amount

        # The incoming pod's preferences about existing pods.
        if preferred or preferred_anti:
            for existing, node in self._pods_in([w.term for w in preferred + preferred_anti]):
                for w in preferred:
                    if w.term.matches(existing, None):
                        add(node, w.term.topology_key, w.weight)
                for w in preferred_anti:
                    if w.term.matches(existing, None):
                        add(node, w.term.topology_key, -w.weight)
        # Existing pods' terms about the incoming pod (symmetry).
        namespace_labels = self.handle.namespace_labels(pod.namespace)
        for node in cache.nodes_with_affinity_pods.values():
            if node.node is None or not node.labels:
                continue
            for existing in node.pods_with_affinity.values():
                for t in existing.required_affinity_terms:
                    if t.matches(pod, namespace_labels):
                        add(node, t.topology_key, HARD_POD_AFFINITY_WEIGHT)
                for w in existing.preferred_affinity_terms:
                    if w.term.matches(pod, namespace_labels):
                        add(node, w.term.topology_key, w.weight)
                for w in existing.preferred_anti_affinity_terms:
                    if w.term.matches(pod, namespace_labels):
                        add(node, w.term.topology_key, -w.weight)
        if not scores:
            return SKIP
        state.write(_SCORE_KEY, scores)
        return None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        scores: dict[str, dict[str, int]] = state.read(_SCORE_KEY) or {}
        out = []
        for node in nodes:
            total = 0
            for key, by_value in scores.items():
                value = node.labels.get(key)
                if value is not None:
                    total += by_value.get(value, 0)
            out.append(total)
        return out

    def normalize_scores(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        if not scores:
            return
        low, high = min(scores), max(scores)
        spread = high - low
        scores[:] = [int(MAX_NODE_SCORE * ((s - low) / spread)) if spread > 0 else 0 for s in scores]


def new(handle: Handle) -> InterPodAffinity:
    return InterPodAffinity(handle)

