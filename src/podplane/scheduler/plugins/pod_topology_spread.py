"""PodTopologySpread: spread matching pods evenly over topology domains.

For each constraint, the domains are the values of `topologyKey` on the eligible
nodes (nodeAffinityPolicy Honor, the default, keeps only nodes matching the pod's
nodeSelector/required affinity; nodeTaintsPolicy Honor drops nodes with untolerated
taints; Ignore is the default for taints). A domain's count is the number of
non-terminating pods in the pod's namespace that the labelSelector (plus
`matchLabelKeys` values) selects.

Filter (whenUnsatisfiable DoNotSchedule): count(domain of node) + (1 if the pod
matches the selector itself) - global minimum must not exceed maxSkew; the minimum
is 0 while fewer than minDomains domains exist. Nodes lacking a topology key are
rejected as "(missing required label)".

Score (ScheduleAnyway, or the system defaults for pods without constraints: hostname
maxSkew 3 and zone maxSkew 5 over the selectors of the Services, ReplicationController,
ReplicaSet or StatefulSet the pod belongs to): fewer matching pods is better, each
constraint weighted by log(domains + 2), normalized so the emptiest node gets 100.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from podplane.api.errors import ApiError
from podplane.api.meta import controller_ref
from podplane.api.scheduling import find_untolerated_taint
from podplane.api.selectors import LabelSelector, selector_from_dict, selector_from_set
from podplane.scheduler.framework import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    ASSIGNED_POD_UPDATE,
    MAX_NODE_SCORE,
    NODE_ADD,
    NODE_DELETE,
    NODE_LABEL,
    NODE_TAINT,
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
)

__all__ = ["LABEL_NOT_MATCH_REASON", "NAME", "NOT_MATCH_REASON", "Constraint", "PodTopologySpread", "new"]

NAME = "PodTopologySpread"
NOT_MATCH_REASON = "node(s) didn't match pod topology spread constraints"
LABEL_NOT_MATCH_REASON = NOT_MATCH_REASON + " (missing required label)"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"

_NOT_MATCH = Status.unschedulable(NOT_MATCH_REASON, plugin=NAME)
_LABEL_NOT_MATCH = Status.unresolvable(LABEL_NOT_MATCH_REASON, plugin=NAME)
_FILTER_KEY = "PreFilter" + NAME
_SCORE_KEY = "PreScore" + NAME
_MAX_INT32 = 2**31 - 1

SYSTEM_DEFAULT_CONSTRAINTS = (
    {"topologyKey": HOSTNAME, "maxSkew": 3, "whenUnsatisfiable": "ScheduleAnyway"},
    {"topologyKey": ZONE, "maxSkew": 5, "whenUnsatisfiable": "ScheduleAnyway"},
)


@dataclass(frozen=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: LabelSelector
    min_domains: int = 1
    node_affinity_policy: str = "Honor"
    node_taints_policy: str = "Ignore"

    def includes(self, pod: PodInfo, node: NodeInfo) -> bool:
        """matchNodeInclusionPolicies: does `node` count as a domain member for this pod?"""
        if self.node_affinity_policy == "Honor" and not pod.node_matcher.matches(node.labels, node.name):
            return False
        return not (self.node_taints_policy == "Honor" and node.hard_taints
                    and find_untolerated_taint(node.hard_taints, pod.tolerations) is not None)


def parse_constraints(raw: list[dict], pod_labels: dict, action: str) -> list[Constraint]:
    out = []
    for c in raw:
        if c.get("whenUnsatisfiable") != action:
            continue
        selector = selector_from_dict(c.get("labelSelector"))
        match_labels = {k: pod_labels[k] for k in c.get("matchLabelKeys") or () if k in pod_labels}
        if match_labels and not selector.nothing:
            selector = selector_from_set(match_labels).add(*selector.requirements)
        out.append(Constraint(
            max_skew=int(c.get("maxSkew") or 1), topology_key=c.get("topologyKey") or "", selector=selector,
            min_domains=int(c.get("minDomains") or 1),
            node_affinity_policy=c.get("nodeAffinityPolicy") or "Honor",
            node_taints_policy=c.get("nodeTaintsPolicy") or "Ignore"))
    return out


def count_matching(node: NodeInfo, selector: LabelSelector, namespace: str) -> int:
    """countPodsMatchSelector: non-terminating pods of `namespace` on `node` that match."""
    if selector.empty:
        return 0
    return sum(1 for p in node.pods_by_namespace.get(namespace, {}).values()
               if not p.terminating and selector.matches(p.labels))


class _FilterState:
    __slots__ = ("constraints", "counts", "domains", "minimum")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.counts: list[dict[str, int]] = [{} for _ in constraints]
        self.domains = [0] * len(constraints)
        self.minimum = [_MAX_INT32] * len(constraints)


class _ScoreState:
    __slots__ = ("constraints", "ignored", "pair_counts", "weights")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.ignored: set[str] = set()
        self.pair_counts: list[dict[str, int]] = [{} for _ in constraints]
        self.weights = [0.0] * len(constraints)


class PodTopologySpread(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    name = NAME
    events = frozenset({NODE_ADD, NODE_LABEL, NODE_TAINT, NODE_DELETE, ASSIGNED_POD_ADD, ASSIGNED_POD_UPDATE,
                        ASSIGNED_POD_DELETE})

    def __init__(self, handle: Handle, default_constraints: tuple[dict, ...] = SYSTEM_DEFAULT_CONSTRAINTS) -> None:
        self.handle = handle
        self.default_constraints = default_constraints
        self.system_defaulted = default_constraints is SYSTEM_DEFAULT_CONSTRAINTS
        if handle.informers is not None:
            self._services = handle.informer("", "services")
            self._rcs = handle.informer("", "replicationcontrollers")
            self._replicasets = handle.informer("apps", "replicasets")
            self._statefulsets = handle.informer("apps", "statefulsets")
        else:
            self._services = self._rcs = self._replicasets = self._statefulsets = None

    # -- constraints ---------------------------------------------------------------------------------
    def default_selector(self, pod: PodInfo) -> LabelSelector:
        """helper.DefaultSelector: the selectors of the Services and the controller owning the pod."""
        label_set: dict[str, str] = {}
        if self._services is not None:
            for svc in self._services.list(pod.namespace):
                wanted = (svc.get("spec") or {}).get("selector")
                if wanted and all(pod.labels.get(k) == v for k, v in wanted.items()):
                    label_set.update(wanted)
        selector = selector_from_set(label_set)
        owner = controller_ref(pod.pod)
        if owner is None or self._services is None:
            return selector
        group = (owner.get("apiVersion") or "").rpartition("/")[0]
        kind = owner.get("kind")
        try:
            if kind == "ReplicationController" and group == "":
                rc = self._rcs.get(pod.namespace, owner.get("name", ""))
                if rc is not None:
                    label_set.update((rc.get("spec") or {}).get("selector") or {})
                    selector = selector_from_set(label_set)
            elif (kind, group) in (("ReplicaSet", "apps"), ("StatefulSet", "apps")):
                lister = self._replicasets if kind == "ReplicaSet" else self._statefulsets
                owner_obj = lister.get(pod.namespace, owner.get("name", ""))
                if owner_obj is not None:
                    other = selector_from_dict((owner_obj.get("spec") or {}).get("selector"))
                    if not other.nothing:
                        selector = selector.add(*other.requirements)
        except ApiError:
            pass
        return selector

    def constraints_for(self, pod: PodInfo, action: str) -> list[Constraint]:
        raw = pod.spec.get("topologySpreadConstraints")
        if raw:
            return parse_constraints(raw, pod.labels, action)
        defaults = parse_constraints(list(self.default_constraints), pod.labels, action)
        if not defaults:
            return []
        selector = self.default_selector(pod)
        if selector.empty:
            return []
        return [Constraint(c.max_skew, c.topology_key, selector, c.min_domains, c.node_affinity_policy,
                           c.node_taints_policy) for c in defaults]

    # -- filtering -------------------------------------------------------------------------------------
    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        try:
            constraints = self.constraints_for(pod, "DoNotSchedule")
        except ApiError as e:
            return Status.error(f"obtaining pod's hard topology spread constraints: {e}")
        if not constraints:
            return SKIP
        s = _FilterState(constraints)
        keys = [c.topology_key for c in constraints]
        for node in self.handle.cache.node_list:
            labels = node.labels
            if not all(k in labels for k in keys):
                continue
            for i, c in enumerate(constraints):
                if not c.includes(pod, node):
                    continue
                value = labels[c.topology_key]
                s.counts[i][value] = s.counts[i].get(value, 0) + count_matching(node, c.selector, pod.namespace)
        for i in range(len(constraints)):
            s.domains[i] = len(s.counts[i])
            if s.counts[i]:
                s.minimum[i] = min(s.counts[i].values())
        state.write(_FILTER_KEY, s)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState | None = state.read(_FILTER_KEY)
        if s is None:
            return None
        for i, c in enumerate(s.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                return _LABEL_NOT_MATCH
            minimum = 0 if s.domains[i] < c.min_domains else s.minimum[i]
            self_match = 1 if c.selector.matches(pod.labels) else 0
            if s.counts[i].get(value, 0) + self_match - minimum > c.max_skew:
                return _NOT_MATCH
        return None

    # -- scoring ------------------------------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if not nodes:
            return SKIP
        try:
            constraints = self.constraints_for(pod, "ScheduleAnyway")
        except ApiError as e:
            return Status.error(f"obtaining pod's soft topology spread constraints: {e}")
        if not constraints:
            return SKIP
        # Nodes without every topology key are ignored, except for the system defaults,
        # so that zone-less nodes still get hostname spreading.
        require_all = bool(pod.spec.get("topologySpreadConstraints")) or not self.system_defaulted
        s = _ScoreState(constraints)
        domains: list[set[str]] = [set() for _ in constraints]
        for node in nodes:
            labels = node.labels
            if require_all and not all(c.topology_key in labels for c in constraints):
                s.ignored.add(node.name)
                continue
            for i, c in enumerate(constraints):
                if c.topology_key != HOSTNAME:
                    value = labels.get(c.topology_key, "")
                    domains[i].add(value)
                    if value:
                        s.pair_counts[i].setdefault(value, 0)
        for i, c in enumerate(constraints):
            size = len(nodes) - len(s.ignored) if c.topology_key == HOSTNAME else len(domains[i])
            s.weights[i] = math.log(size + 2)
        # Domain-wide counts (hostname counts are per node, taken in Score).
        if any(s.pair_counts):
            for node in self.handle.cache.node_list:
                labels = node.labels
                if require_all and not all(c.topology_key in labels for c in constraints):
                    continue
                for i, c in enumerate(constraints):
                    counts = s.pair_counts[i]
                    value = labels.get(c.topology_key)
                    if value is None or value not in counts or not c.includes(pod, node):
                        continue
                    counts[value] += count_matching(node, c.selector, pod.namespace)
        state.write(_SCORE_KEY, s)
        return None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        s: _ScoreState | None = state.read(_SCORE_KEY)
        if s is None:
            return [0] * len(nodes)
        out = []
        for node in nodes:
            if node.name in s.ignored:
                out.append(0)
                continue
            score = 0.0
            for i, c in enumerate(s.constraints):
                value = node.labels.get(c.topology_key)
                if value is None:
                    continue
                if c.topology_key == HOSTNAME:
                    count = count_matching(node, c.selector, pod.namespace)
                else:
                    count = s.pair_counts[i].get(value, 0)
                score += count * s.weights[i] + (c.max_skew - 1)
            out.append(int(math.floor(score + 0.5)))  # Go's math.Round for non-negative values
        return out

    def normalize_scores(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        s: _ScoreState | None = state.read(_SCORE_KEY)
        if s is None:
            return
        counted = [sc for n, sc in zip(nodes, scores, strict=True) if n.name not in s.ignored]
        low = min(counted, default=0)
        high = max(counted, default=0)
        for i, node in enumerate(nodes):
            if node.name in s.ignored:
                scores[i] = 0
            elif high == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (high + low - scores[i]) // high


def new(handle: Handle) -> PodTopologySpread:
    return PodTopologySpread(handle)
