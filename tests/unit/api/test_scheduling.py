"""podplane.api.scheduling: taint/toleration and node-selector predicates."""

from __future__ import annotations

import pytest

from podplane.api.scheduling import (
    HARD_TAINT_EFFECTS,
    NodeSelectorMatcher,
    compile_term,
    find_untolerated_taint,
    node_matches_required_affinity,
    node_selector_matches,
    tolerates_all,
    toleration_tolerates_taint,
)

NO_SCHEDULE = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
NO_EXECUTE = {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}
PREFER = {"key": "spot", "value": "true", "effect": "PreferNoSchedule"}


@pytest.mark.parametrize(("toleration", "taint", "want"), [
    ({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}, NO_SCHEDULE, True),
    ({"key": "dedicated", "operator": "Equal", "value": "gpu"}, NO_SCHEDULE, True),
    ({"key": "dedicated", "value": "cpu"}, NO_SCHEDULE, False),
    ({"key": "dedicated", "operator": "Exists"}, NO_SCHEDULE, True),
    ({"operator": "Exists"}, NO_SCHEDULE, True),
    ({"operator": "Exists", "effect": "NoExecute"}, NO_SCHEDULE, False),
    ({"key": "other", "operator": "Exists"}, NO_SCHEDULE, False),
    ({"key": "dedicated", "operator": "Bogus", "value": "gpu"}, NO_SCHEDULE, False),
    ({"key": "node.kubernetes.io/not-ready", "operator": "Exists"}, NO_EXECUTE, True),
    ({"key": "node.kubernetes.io/not-ready"}, NO_EXECUTE, True),  # Equal, both values empty
    ({}, NO_EXECUTE, True),  # empty key matches any key; Equal with "" == "" tolerates a value-less taint
    ({}, NO_SCHEDULE, False),
], ids=lambda v: str(v))
def test_toleration_tolerates_taint(toleration, taint, want):
    assert toleration_tolerates_taint(toleration, taint) is want


def test_find_untolerated_taint_and_effects():
    taints = [PREFER, NO_SCHEDULE, NO_EXECUTE]
    assert find_untolerated_taint(taints, []) is PREFER
    assert find_untolerated_taint(taints, [], HARD_TAINT_EFFECTS) is NO_SCHEDULE
    assert find_untolerated_taint(taints, [], ("NoExecute",)) is NO_EXECUTE
    tolerations = [{"key": "dedicated", "operator": "Exists"}]
    assert find_untolerated_taint(taints, tolerations, HARD_TAINT_EFFECTS) is NO_EXECUTE
    assert find_untolerated_taint(None, None) is None
    assert find_untolerated_taint([], tolerations) is None


def test_tolerates_all():
    taints = [NO_SCHEDULE, NO_EXECUTE, PREFER]
    assert not tolerates_all([], taints)
    assert tolerates_all([], taints, ("Other",))
    assert tolerates_all([{"operator": "Exists"}], taints)
    assert tolerates_all([{"key": "dedicated", "operator": "Exists"}], taints, ("NoSchedule",))
    assert not tolerates_all([{"key": "dedicated", "operator": "Exists"}], taints, HARD_TAINT_EFFECTS)


def _node(name="n1", **labels):
    return {"metadata": {"name": name, "labels": labels}}


@pytest.mark.parametrize(("term", "want"), [
    ({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}, True),
    ({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["c"]}]}, False),
    ({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["c"]}]}, True),
    ({"matchExpressions": [{"key": "missing", "operator": "NotIn", "values": ["c"]}]}, True),
    ({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, True),
    ({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, False),
    ({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]}, True),
    ({"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["4"]}]}, False),
    ({"matchExpressions": [{"key": "zone", "operator": "Gt", "values": ["4"]}]}, False),  # label not an int
    ({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}, True),
    ({"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n1"]}]}, False),
    # empty or invalid terms match nothing
    ({}, False),
    (None, False),
    ({"matchExpressions": [{"key": "zone", "operator": "In", "values": []}]}, False),
    ({"matchExpressions": [{"key": "zone", "operator": "Exists", "values": ["a"]}]}, False),
    ({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["x"]}]}, False),
    ({"matchExpressions": [{"key": "zone", "operator": "Bogus", "values": ["a"]}]}, False),
    ({"matchFields": [{"key": "metadata.name", "operator": "Exists"}]}, False),
    ({"matchFields": [{"key": "metadata.labels", "operator": "In", "values": ["n1"]}]}, False),
], ids=lambda v: str(v))
def test_node_selector_matches(term, want):
    node = _node(zone="a", cores="8")
    assert node_selector_matches(node, term) is want
    compiled = compile_term(term)
    assert (compiled is not None and compiled.matches(node["metadata"]["labels"], "n1")) is want


def _pod(node_selector=None, required=None):
    spec: dict = {}
    if node_selector is not None:
        spec["nodeSelector"] = node_selector
    if required is not None:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}
    return {"spec": spec}


def test_node_matches_required_affinity():
    node = _node(zone="a", disk="ssd")
    assert node_matches_required_affinity(_pod(), node)
    assert node_matches_required_affinity(_pod({"zone": "a"}), node)
    assert not node_matches_required_affinity(_pod({"zone": "b"}), node)
    in_b = {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}
    ssd = {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}
    assert node_matches_required_affinity(_pod(required={"nodeSelectorTerms": [in_b, ssd]}), node)  # ORed
    assert not node_matches_required_affinity(_pod(required={"nodeSelectorTerms": [in_b]}), node)
    assert not node_matches_required_affinity(_pod({"zone": "b"}, {"nodeSelectorTerms": [ssd]}), node)  # ANDed
    assert not node_matches_required_affinity(_pod(required={"nodeSelectorTerms": []}), node)
    assert not node_matches_required_affinity(_pod(required={}), node)
    assert node_matches_required_affinity({}, node)


def test_node_selector_matcher_empty():
    assert NodeSelectorMatcher(None, None).empty
    assert not NodeSelectorMatcher({"a": "b"}, None).empty
    assert not NodeSelectorMatcher(None, {"nodeSelectorTerms": []}).empty
    matcher = NodeSelectorMatcher.for_pod_spec(_pod({"zone": "a"})["spec"])
    assert matcher.matches_node(_node(zone="a"))
    assert not matcher.matches_node(_node(zone="b"))
