"""Pure scheduling predicates shared by the scheduler and the controllers (upstream
k8s.io/component-helpers/scheduling/corev1 and its nodeaffinity package).

Taints and tolerations:

- `toleration_tolerates_taint(toleration, taint)`: v1.Toleration.ToleratesTaint. An empty
  effect or key in the toleration matches any; operator Equal (the default) compares
  values, Exists matches any value, other operators match nothing.
- `find_untolerated_taint(taints, tolerations, effects=None)`: the first taint (with an
  effect in `effects`, or any when None) that no toleration tolerates
  (v1helper.FindMatchingUntoleratedTaint).
- `tolerates_all(tolerations, taints, effects=None)`: no such taint exists.

Node selectors (nodeaffinity.NodeSelector / RequiredNodeAffinity):

- `compile_term(term)` → a `NodeSelectorTerm` with `matches(labels, name)`, or None when
  the term is empty or invalid (such a term matches no node). matchExpressions support
  In, NotIn, Exists, DoesNotExist, Gt and Lt on node labels; matchFields only
  `metadata.name` In/NotIn with exactly one value.
- `NodeSelectorMatcher(node_selector, required)`: spec.nodeSelector AND the required
  node-affinity terms (ORed); `NodeSelectorMatcher.for_pod_spec(spec)` builds it from a
  pod spec.
- `node_selector_matches(node, term)` / `node_matches_required_affinity(pod, node)`: the
  same on plain node / pod dicts.

The compiled forms exist so the scheduler can evaluate one pod against many nodes
without re-parsing its terms.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "HARD_TAINT_EFFECTS",
    "NODE_NAME_FIELD",
    "NodeSelectorMatcher",
    "NodeSelectorTerm",
    "compile_term",
    "find_untolerated_taint",
    "node_matches_required_affinity",
    "node_selector_matches",
    "required_node_affinity",
    "toleration_tolerates_taint",
    "tolerates_all",
]

HARD_TAINT_EFFECTS: tuple[str, ...] = ("NoSchedule", "NoExecute")
NODE_NAME_FIELD = "metadata.name"


# -- taints and tolerations -------------------------------------------------------------------------
def toleration_tolerates_taint(toleration: dict, taint: dict) -> bool:
    """v1.Toleration.ToleratesTaint."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return op == "Exists"


def find_untolerated_taint(taints: Iterable[dict] | None, tolerations: Iterable[dict] | None,
                           effects: Iterable[str] | None = None) -> dict | None:
    """The first taint (whose effect is in `effects`, when given) that no toleration tolerates
    (v1helper.FindMatchingUntoleratedTaint); None when every such taint is tolerated."""
    tolerations = tolerations or ()
    for taint in taints or ():
        if effects is not None and taint.get("effect") not in effects:
            continue
        if not any(toleration_tolerates_taint(t, taint) for t in tolerations):
            return taint
    return None


def tolerates_all(tolerations: Iterable[dict] | None, taints: Iterable[dict] | None,
                  effects: Iterable[str] | None = None) -> bool:
    """Whether every taint (whose effect is in `effects`, when given) is tolerated."""
    return find_untolerated_taint(taints, tolerations, effects) is None


# -- node selectors ---------------------------------------------------------------------------------
def _parse_int(text: str) -> int | None:
    try:
        return int(text, 10)
    except (TypeError, ValueError):
        return None


def _compile_requirement(req: dict, fields: bool) -> tuple | None:
    """(key, operator, values) ready to evaluate, or None if the requirement is invalid."""
    key = req.get("key") or ""
    op = req.get("operator") or ""
    values = [str(v) for v in req.get("values") or ()]
    if not key:
        return None
    if fields:
        # Only metadata.name with In/NotIn and exactly one value is valid for matchFields.
        if key != NODE_NAME_FIELD or op not in ("In", "NotIn") or len(values) != 1:
            return None
        return (key, op, frozenset(values))
    if op in ("In", "NotIn"):
        return (key, op, frozenset(values)) if values else None
    if op in ("Exists", "DoesNotExist"):
        return (key, op, None) if not values else None
    if op in ("Gt", "Lt"):
        if len(values) != 1 or _parse_int(values[0]) is None:
            return None
        return (key, op, _parse_int(values[0]))
    return None


def _requirement_matches(req: tuple, labels: dict) -> bool:
    key, op, want = req
    if op == "In":
        return key in labels and labels[key] in want
    if op == "NotIn":
        return key not in labels or labels[key] not in want
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if key not in labels:
        return False
    have = _parse_int(labels[key])
    if have is None:
        return False
    return have > want if op == "Gt" else have < want


class NodeSelectorTerm:
    """A compiled, valid, non-empty NodeSelectorTerm: every requirement must hold."""

    __slots__ = ("expressions", "fields")

    def __init__(self, expressions: tuple, fields: tuple) -> None:
        self.expressions = expressions
        self.fields = fields

    def matches(self, labels: dict, name: str) -> bool:
        for req in self.expressions:
            if not _requirement_matches(req, labels):
                return False
        return all(_requirement_matches(req, {NODE_NAME_FIELD: name}) for req in self.fields)


def compile_term(term: dict | None) -> NodeSelectorTerm | None:
    """A NodeSelectorTerm; None when empty or invalid (such a term matches no node)."""
    term = term or {}
    exprs = [_compile_requirement(r, False) for r in term.get("matchExpressions") or ()]
    fields = [_compile_requirement(r, True) for r in term.get("matchFields") or ()]
    if (not exprs and not fields) or None in exprs or None in fields:
        return None
    return NodeSelectorTerm(tuple(exprs), tuple(fields))


def _node_labels_and_name(node: dict) -> tuple[dict, str]:
    meta = node.get("metadata") or {}
    return meta.get("labels") or {}, meta.get("name") or ""


def node_selector_matches(node: dict, term: dict | None) -> bool:
    """Whether a node (plain dict) satisfies one NodeSelectorTerm."""
    compiled = compile_term(term)
    return compiled is not None and compiled.matches(*_node_labels_and_name(node))


class NodeSelectorMatcher:
    """A pod's hard node constraints: spec.nodeSelector AND required node affinity
    (nodeaffinity.RequiredNodeAffinity). The terms of the affinity are ORed."""

    __slots__ = ("node_selector", "terms")

    def __init__(self, node_selector: dict | None, required: dict | None) -> None:
        self.node_selector = tuple((k, str(v)) for k, v in (node_selector or {}).items())
        if required is None:
            self.terms: tuple[NodeSelectorTerm, ...] | None = None
        else:
            self.terms = tuple(t for t in (compile_term(x) for x in required.get("nodeSelectorTerms") or ())
                               if t is not None)

    @classmethod
    def for_pod_spec(cls, spec: dict) -> NodeSelectorMatcher:
        return cls(spec.get("nodeSelector"), required_node_affinity(spec))

    @property
    def empty(self) -> bool:
        return not self.node_selector and self.terms is None

    def matches(self, labels: dict, name: str) -> bool:
        for k, v in self.node_selector:
            if labels.get(k) != v:
                return False
        if self.terms is None:
            return True
        return any(t.matches(labels, name) for t in self.terms)

    def matches_node(self, node: dict) -> bool:
        return self.matches(*_node_labels_and_name(node))


def required_node_affinity(spec: dict) -> dict | None:
    """spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution, or None."""
    return ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")


def node_matches_required_affinity(pod: dict, node: dict) -> bool:
    """nodeSelector AND required node affinity of a pod (plain dict) against a node
    (nodeaffinity.GetRequiredNodeAffinity(pod).Match(node))."""
    return NodeSelectorMatcher.for_pod_spec(pod.get("spec") or {}).matches_node(node)
