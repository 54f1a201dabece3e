"""NodeAffinity: nodeSelector, required terms (operators, matchFields, OR/AND), preferred weights."""

from __future__ import annotations

import pytest

from podplane.scheduler.plugins import node_affinity

from .builders import Harness, make_node, make_pod

REJECT = "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) didn't match Pod's node affinity/selector"


def required(*terms: dict) -> dict:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def expr(key: str, op: str, *values: str) -> dict:
    out = {"key": key, "operator": op}
    if values:
        out["values"] = list(values)
    return out


NODES = [make_node("a", labels={"disk": "ssd", "cores": "8"}), make_node("b", labels={"disk": "hdd", "cores": "2"}),
         make_node("c", labels={})]


@pytest.mark.parametrize("spec,fits", [
    pytest.param({}, {"a", "b", "c"}, id="no-constraints"),
    pytest.param({"nodeSelector": {"disk": "ssd"}}, {"a"}, id="node-selector"),
    pytest.param({"nodeSelector": {"disk": "nvme"}}, set(), id="node-selector-no-match"),
    pytest.param({"affinity": required({"matchExpressions": [expr("disk", "In", "ssd", "hdd")]})}, {"a", "b"},
                 id="in"),
    pytest.param({"affinity": required({"matchExpressions": [expr("disk", "NotIn", "ssd")]})}, {"b", "c"},
                 id="not-in-matches-missing-label"),
    pytest.param({"affinity": required({"matchExpressions": [expr("disk", "Exists")]})}, {"a", "b"}, id="exists"),
    pytest.param({"affinity": required({"matchExpressions": [expr("disk", "DoesNotExist")]})}, {"c"},
                 id="does-not-exist"),
    pytest.param({"affinity": required({"matchExpressions": [expr("cores", "Gt", "4")]})}, {"a"}, id="gt"),
    pytest.param({"affinity": required({"matchExpressions": [expr("cores", "Lt", "4")]})}, {"b"}, id="lt"),
    pytest.param({"affinity": required({"matchFields": [expr("metadata.name", "In", "c")]})}, {"c"},
                 id="match-fields-name"),
    pytest.param({"affinity": required({"matchExpressions": [expr("disk", "In", "ssd")]},
                                       {"matchExpressions": [expr("disk", "DoesNotExist")]})}, {"a", "c"},
                 id="terms-are-ored"),
    pytest.param({"affinity": required({"matchExpressions": [expr("disk", "Exists"), expr("cores", "Lt", "4")]})},
                 {"b"}, id="expressions-are-anded"),
    pytest.param({"affinity": required({})}, set(), id="empty-term-matches-nothing"),
    pytest.param({"nodeSelector": {"disk": "ssd"},
                  "affinity": required({"matchExpressions": [expr("disk", "In", "hdd")]})}, set(),
                 id="selector-and-affinity-both-apply"),
])
def test_filter(spec, fits):
    h = Harness()
    h.nodes(*NODES)
    result = h.filter(node_affinity.NodeAffinity(), make_pod("p", **spec))
    assert {n for n, r in result.items() if r is None} == fits
    assert all(r == REJECT for r in result.values() if r is not None)


def preferred(*pairs: tuple[int, dict]) -> dict:
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": w, "preference": term} for w, term in pairs]}}


@pytest.mark.parametrize("affinity,scores", [
    pytest.param(None, None, id="no-preferences-skips"),
    pytest.param(preferred((10, {"matchExpressions": [expr("disk", "In", "ssd")]})), {"a": 100, "b": 0, "c": 0},
                 id="single-term"),
    pytest.param(preferred((30, {"matchExpressions": [expr("disk", "In", "ssd")]}),
                           (10, {"matchExpressions": [expr("disk", "Exists")]})), {"a": 100, "b": 25, "c": 0},
                 id="weights-add-then-scale-to-best"),
    pytest.param(preferred((5, {"matchExpressions": [expr("zone", "Exists")]})), {"a": 0, "b": 0, "c": 0},
                 id="nothing-matches"),
])
def test_score(affinity, scores):
    h = Harness()
    h.nodes(*NODES)
    spec = {"affinity": affinity} if affinity else {}
    assert h.score(node_affinity.NodeAffinity(), make_pod("p", **spec)) == scores
