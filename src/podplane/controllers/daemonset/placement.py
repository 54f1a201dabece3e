"""Where a DaemonSet's pods belong: node eligibility and the pod shape that pins them.

Pure functions over plain-dict objects (upstream `NodeShouldRunDaemonPod`, `predicates`
and `pkg/controller/daemon/util`):

- `node_should_run(node, ds)` → `(should_run, should_continue_running)`: the node name,
  the nodeSelector plus required node affinity, and the node's NoSchedule/NoExecute
  taints against the pod's tolerations (with the daemon tolerations added). An
  untolerated NoSchedule taint stops new pods but lets a running one stay; an
  untolerated NoExecute taint evicts it.
- `add_daemon_tolerations(spec)`: the tolerations upstream gives every daemon pod, so a
  node being NotReady, unreachable, under pressure or cordoned never evicts it.
- `pin_to_node(affinity, node)`: replaces the required node affinity with
  `matchFields metadata.name In [node]`, which the default scheduler honours.
- `target_node(pod)`: the node a daemon pod is for, bound or not yet.

Neighbours: `daemonset.controller` calls these; the scheduler has its own copies of the
affinity/taint predicates because components never import each other.
"""

from __future__ import annotations

import copy

__all__ = [
    "DAEMON_TOLERATIONS",
    "add_daemon_tolerations",
    "find_untolerated_taint",
    "node_matches_affinity",
    "node_should_run",
    "pin_to_node",
    "target_node",
    "tolerates",
]

NODE_NAME_FIELD = "metadata.name"

# upstream util.AddOrUpdateDaemonPodTolerations; NoExecute ones carry no tolerationSeconds so the
# node lifecycle controller never evicts a daemon pod from a NotReady/unreachable node.
DAEMON_TOLERATIONS: tuple[dict, ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
HOST_NETWORK_TOLERATION = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                           "effect": "NoSchedule"}


def _same_toleration(a: dict, b: dict) -> bool:
    """upstream Toleration.MatchToleration: key, operator (Equal by default), value, effect."""
    return (a.get("key", ""), a.get("operator") or "Equal", a.get("value", ""), a.get("effect", "")) == \
        (b.get("key", ""), b.get("operator") or "Equal", b.get("value", ""), b.get("effect", ""))


def add_daemon_tolerations(spec: dict) -> dict:
    """Add (or replace equal) daemon tolerations in a pod spec, in place; returns the spec."""
    wanted = list(DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(HOST_NETWORK_TOLERATION)
    tolerations = list(spec.get("tolerations") or [])
    for toleration in wanted:
        for i, existing in enumerate(tolerations):
            if _same_toleration(existing, toleration):
                tolerations[i] = dict(toleration)
                break
        else:
            tolerations.append(dict(toleration))
    spec["tolerations"] = tolerations
    return spec


def tolerates(toleration: dict, taint: dict) -> bool:
    """upstream Toleration.ToleratesTaint."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def find_untolerated_taint(taints: list[dict], tolerations: list[dict], effects: tuple[str, ...]) -> dict | None:
    for taint in taints or ():
        if taint.get("effect") not in effects:
            continue
        if not any(tolerates(t, taint) for t in tolerations or ()):
            return taint
    return None


def _requirement_matches(req: dict, value: str | None) -> bool:
    op = req.get("operator")
    values = req.get("values") or []
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt"):
        try:
            have, bound = int(value or ""), int(values[0])
        except (ValueError, IndexError):
            return False
        return have > bound if op == "Gt" else have < bound
    return False


def _term_matches(term: dict, node: dict) -> bool:
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term selects no node (upstream nodeaffinity)
    labels = (node.get("metadata") or {}).get("labels") or {}
    for req in expressions:
        if not _requirement_matches(req, labels.get(req.get("key", ""))):
            return False
    for req in fields:
        if req.get("key") != NODE_NAME_FIELD:
            return False
        if not _requirement_matches(req, node["metadata"]["name"]):
            return False
    return True


def node_matches_affinity(spec: dict, node: dict) -> bool:
    """nodeSelector AND required node affinity (terms ORed), as GetRequiredNodeAffinity.Match."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return True
    return any(_term_matches(term, node) for term in required.get("nodeSelectorTerms") or ())


def node_should_run(node: dict, ds: dict) -> tuple[bool, bool]:
    """(should_run, should_continue_running) for `ds` on `node` (upstream NodeShouldRunDaemonPod)."""
    spec = copy.copy((ds.get("spec") or {}).get("template", {}).get("spec") or {})
    node_name = node["metadata"]["name"]
    if spec.get("nodeName") and spec["nodeName"] != node_name:
        return False, False
    if not node_matches_affinity(spec, node):
        return False, False
    spec["tolerations"] = copy.deepcopy(spec.get("tolerations") or [])
    add_daemon_tolerations(spec)
    taints = (node.get("spec") or {}).get("taints") or []
    if find_untolerated_taint(taints, spec["tolerations"], ("NoSchedule", "NoExecute")) is None:
        return True, True
    evicting = find_untolerated_taint(taints, spec["tolerations"], ("NoExecute",))
    return False, evicting is None


def pin_to_node(affinity: dict | None, node_name: str) -> dict:
    """upstream ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity becomes one
    term `metadata.name In [node]`; preferred terms and pod (anti-)affinity are kept. Safe because
    the controller already checked that the node satisfies the original required terms."""
    affinity = copy.deepcopy(affinity) if affinity else {}
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": NODE_NAME_FIELD, "operator": "In", "values": [node_name]}]}]}
    return affinity


def target_node(pod: dict) -> str | None:
    """The node a daemon pod runs on or is pinned to (upstream util.GetTargetNodeName)."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution")) or {}
    for term in required.get("nodeSelectorTerms") or ():
        for req in term.get("matchFields") or ():
            values = req.get("values") or []
            if req.get("key") == NODE_NAME_FIELD and req.get("operator") == "In" and len(values) == 1:
                return values[0]
    return None
