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

Neighbours: `daemonset.controller` calls these; the affinity/taint predicates themselves
live in `podplane.api.scheduling`, shared with the scheduler.
"""

from __future__ import annotations

import copy

from podplane.api.scheduling import (
    HARD_TAINT_EFFECTS,
    NODE_NAME_FIELD,
    NodeSelectorMatcher,
    find_untolerated_taint,
    toleration_tolerates_taint,
)

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


# Shared predicates (podplane.api.scheduling); the old names stay for callers.
tolerates = toleration_tolerates_taint


def node_matches_affinity(spec: dict, node: dict) -> bool:
    """nodeSelector AND required node affinity (terms ORed), as GetRequiredNodeAffinity.Match."""
    return NodeSelectorMatcher.for_pod_spec(spec).matches_node(node)


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
    if find_untolerated_taint(taints, spec["tolerations"], HARD_TAINT_EFFECTS) is None:
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
