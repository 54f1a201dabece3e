"""NodeResourcesFit (requests, filter reasons, LeastAllocated) and BalancedAllocation."""

from __future__ import annotations

import pytest

from podplane.scheduler.nodeinfo import Resource, pod_requests
from podplane.scheduler.plugins import node_resources_fit

from .builders import Harness, make_node, make_pod

GI = 1024**3
MI = 1024**2


def container(cpu: str = "", memory: str = "", restart: str = "") -> dict:
    c = {"name": "c", "image": "x", "resources": {"requests": {k: v for k, v in (("cpu", cpu), ("memory", memory))
                                                               if v}}}
    if restart:
        c["restartPolicy"] = restart
    return c


@pytest.mark.parametrize("spec,want", [
    pytest.param({"containers": [container("2", "1G"), container("1", "1G")]},
                 Resource(3000, 2 * 10**9), id="containers-sum"),
    pytest.param({"containers": [container("2", "1G"), container("1", "1G")],
                  "initContainers": [container("2", "1G"), container("2", "3G")]},
                 Resource(3000, 3 * 10**9), id="upstream-example-init-max"),
    pytest.param({"containers": [container("1", "1Gi")], "initContainers": [container("500m", "2Gi")]},
                 Resource(1000, 2 * GI), id="init-larger-memory-only"),
    pytest.param({"containers": [container("1", "1Gi")], "initContainers": [container("100m", "100Mi", "Always")]},
                 Resource(1100, GI + 100 * MI), id="sidecar-adds"),
    pytest.param({"containers": [container("1")], "initContainers": [container("200m", restart="Always"),
                                                                     container("2")]},
                 Resource(2200, 0), id="init-after-sidecar-runs-beside-it"),
    pytest.param({"containers": [container("1", "1Gi")], "overhead": {"cpu": "250m", "memory": "120Mi"}},
                 Resource(1250, GI + 120 * MI), id="overhead"),
    pytest.param({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"example.com/gpu": "2"}}}]},
                 Resource(scalars={"example.com/gpu": 2}), id="extended"),
])
def test_pod_requests(spec, want):
    assert pod_requests(spec) == want


def test_non_zero_requests_fill_in_defaults():
    spec = {"containers": [container(), container("1")]}
    got = pod_requests(spec, non_zero=True)
    assert (got.milli_cpu, got.memory) == (1100, 2 * 200 * MI)


@pytest.mark.parametrize("node,placed,pod,result", [
    pytest.param(make_node("n", cpu="2", memory="4Gi"), [], make_pod("p", cpu="1", memory="1Gi"), None, id="fits"),
    pytest.param(make_node("n", cpu="2", memory="4Gi"), [make_pod("e", cpu="1500m", node="n")],
                 make_pod("p", cpu="1"), "UNSCHEDULABLE: Insufficient cpu", id="cpu"),
    pytest.param(make_node("n", cpu="2", memory="4Gi"), [make_pod("e", memory="3Gi", node="n")],
                 make_pod("p", cpu="1", memory="2Gi"), "UNSCHEDULABLE: Insufficient memory", id="memory"),
    pytest.param(make_node("n", cpu="1", memory="1Gi", pods="1"), [make_pod("e", node="n")],
                 make_pod("p", cpu="2", memory="2Gi"),
                 "UNSCHEDULABLE: Too many pods, Insufficient cpu, Insufficient memory", id="all-reasons-in-order"),
    pytest.param(make_node("n", pods="1"), [make_pod("e", node="n")], make_pod("p"),
                 "UNSCHEDULABLE: Too many pods", id="best-effort-still-needs-a-slot"),
    pytest.param(make_node("n"), [], make_pod("p", containers=[
        {"name": "c", "image": "x", "resources": {"requests": {"example.com/gpu": "1"}}}]),
        "UNSCHEDULABLE: Insufficient example.com/gpu", id="extended-resource-missing"),
    pytest.param(make_node("n", **{"example.com/gpu": "2"}), [], make_pod("p", containers=[
        {"name": "c", "image": "x", "resources": {"requests": {"example.com/gpu": "2"}}}]), None,
        id="extended-resource-fits"),
])
def test_filter(node, placed, pod, result):
    h = Harness()
    h.nodes(node)
    h.place(*placed)
    assert h.filter(node_resources_fit.Fit(), pod) == {"n": result}


def test_terminal_pods_are_not_counted_once_removed():
    h = Harness()
    h.nodes(make_node("n", cpu="1"))
    h.place(make_pod("e", cpu="1", node="n"))
    assert h.filter(node_resources_fit.Fit(), make_pod("p", cpu="1")) == {"n": "UNSCHEDULABLE: Insufficient cpu"}
    h.cache.remove_pod("default/e")
    assert h.filter(node_resources_fit.Fit(), make_pod("p", cpu="1")) == {"n": None}


def test_least_allocated_score():
    h = Harness()
    h.nodes(make_node("empty", cpu="4", memory="4Gi"), make_node("half", cpu="4", memory="4Gi"))
    h.place(make_pod("e", cpu="2", memory="2Gi", node="half"))
    # empty: cpu (4000-1000)/4000 = 75, memory (4Gi-1Gi)/4Gi = 75 → 75
    # half: cpu (4000-3000)/4000 = 25, memory 25 → 25
    assert h.score(node_resources_fit.Fit(), make_pod("p", cpu="1", memory="1Gi")) == {"empty": 75, "half": 25}


def test_least_allocated_counts_best_effort_pods_with_default_requests():
    h = Harness()
    h.nodes(make_node("a", cpu="1", memory="1000Mi"), make_node("b", cpu="1", memory="1000Mi"))
    h.place(make_pod("e", node="a"))  # counts as 100m / 200Mi
    scores = h.score(node_resources_fit.Fit(), make_pod("p"))
    assert scores == {"a": (80 + 60) // 2, "b": (90 + 80) // 2}


def test_balanced_allocation():
    h = Harness()
    h.nodes(make_node("cpu-heavy", cpu="4", memory="4Gi"), make_node("balanced", cpu="4", memory="4Gi"))
    h.place(make_pod("e", cpu="2", node="cpu-heavy"), make_pod("f", cpu="1", memory="1Gi", node="balanced"))
    # cpu-heavy: cpu 3/4, memory 1/4 → std 0.25 → 75; balanced: 2/4 and 2/4 → 100
    plugin = node_resources_fit.BalancedAllocation()
    assert h.score(plugin, make_pod("p", cpu="1", memory="1Gi")) == {"cpu-heavy": 75, "balanced": 100}


def test_balanced_allocation_skips_best_effort_pods():
    h = Harness()
    h.nodes(make_node("n"))
    assert h.score(node_resources_fit.BalancedAllocation(), make_pod("p")) is None


@pytest.mark.parametrize("plugin", [node_resources_fit.Fit, node_resources_fit.BalancedAllocation])
def test_cached_scores_follow_node_changes_and_pod_requests(plugin):
    # Scores are reused per node until the node changes; a changed node or a pod asking
    # for something else must be scored afresh.
    h = Harness()
    h.nodes(make_node("a", cpu="4", memory="4Gi"), make_node("b", cpu="4", memory="4Gi"))
    p = plugin()
    first = h.score(p, make_pod("p", cpu="1", memory="1Gi"))
    assert h.score(p, make_pod("q", cpu="1", memory="1Gi")) == first
    h.place(make_pod("e", cpu="2", memory="512Mi", node="a"))
    fresh = plugin()
    assert h.score(p, make_pod("r", cpu="1", memory="1Gi")) == h.score(fresh, make_pod("r", cpu="1", memory="1Gi"))
    assert h.score(p, make_pod("s", cpu="2", memory="1Gi")) == h.score(fresh, make_pod("s", cpu="2", memory="1Gi"))
    assert h.score(p, make_pod("r", cpu="1", memory="1Gi"))["a"] != first["a"]
