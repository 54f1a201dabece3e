"""PodTopologySpread: maxSkew filtering, minDomains, inclusion policies, scoring, system defaults."""

from __future__ import annotations

import pytest

from podplane.scheduler.plugins import pod_topology_spread

from .builders import Harness, make_node, make_pod, taint

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
SKEW = "UNSCHEDULABLE: node(s) didn't match pod topology spread constraints"
MISSING = "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) didn't match pod topology spread constraints (missing required label)"


def constraint(key: str = HOST, max_skew: int = 1, when: str = "DoNotSchedule", **extra) -> dict:
    return {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web"}}, **extra}


def web(name: str, node: str = "", **spec) -> dict:
    return make_pod(name, labels={"app": "web"}, node=node, **spec)


def cluster(*extra_nodes: dict) -> Harness:
    h = Harness()
    h.nodes(make_node("a1", labels={ZONE: "a"}), make_node("a2", labels={ZONE: "a"}),
            make_node("b1", labels={ZONE: "b"}), *extra_nodes)
    return h


@pytest.mark.parametrize("placed,constraints,want", [
    pytest.param([], [constraint()], {"a1": None, "a2": None, "b1": None}, id="empty-cluster"),
    pytest.param([web("w1", "a1")], [constraint()], {"a1": SKEW, "a2": None, "b1": None}, id="hostname-skew-1"),
    pytest.param([web("w1", "a1")], [constraint(max_skew=2)], {"a1": None, "a2": None, "b1": None},
                 id="hostname-skew-2"),
    pytest.param([web("w1", "a1"), web("w2", "b1")], [constraint(ZONE)], {"a1": None, "a2": None, "b1": None},
                 id="zones-even"),
    pytest.param([web("w1", "a1"), web("w2", "a2"), web("w3", "b1")], [constraint(ZONE)],
                 {"a1": SKEW, "a2": SKEW, "b1": None}, id="zone-a-ahead"),
    pytest.param([web("w1", "a1"), make_pod("other", node="b1", labels={"app": "db"})], [constraint()],
                 {"a1": SKEW, "a2": None, "b1": None}, id="only-selected-pods-count"),
    pytest.param([web("w1", "a1", ), web("w2", "a2"), web("w3", "b1")],
                 [constraint(ZONE, minDomains=3)], {"a1": SKEW, "a2": SKEW, "b1": SKEW},
                 id="min-domains-makes-minimum-zero"),
])
def test_filter(placed, constraints, want):
    h = cluster()
    h.place(*placed)
    result = h.filter(pod_topology_spread.new(h.handle), web("p", topologySpreadConstraints=constraints))
    assert result == want


def test_filter_rejects_nodes_without_the_topology_key():
    h = cluster(make_node("nozone"))
    result = h.filter(pod_topology_spread.new(h.handle), web("p", topologySpreadConstraints=[constraint(ZONE)]))
    assert result["nozone"] == MISSING and result["a1"] is None


def test_terminating_and_other_namespace_pods_do_not_count():
    h = cluster()
    gone = web("w1", "a1")
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    h.place(gone, make_pod("w2", ns="other", labels={"app": "web"}, node="a1"))
    result = h.filter(pod_topology_spread.new(h.handle), web("p", topologySpreadConstraints=[constraint()]))
    assert result == {"a1": None, "a2": None, "b1": None}


def test_node_affinity_policy_honor_ignores_excluded_nodes():
    h = cluster()
    h.place(web("w1", "a1"), web("w2", "a2"))
    pod = web("p", topologySpreadConstraints=[constraint(ZONE)],
              nodeSelector={ZONE: "a"})
    # b1 (zone b, 0 pods) is excluded by the selector, so zone a is alone: minimum 2, skew 1.
    assert h.filter(pod_topology_spread.new(h.handle), pod)["a1"] is None
    ignore = web("p", topologySpreadConstraints=[constraint(ZONE, nodeAffinityPolicy="Ignore")],
                 nodeSelector={ZONE: "a"})
    assert h.filter(pod_topology_spread.new(h.handle), ignore)["a1"] == SKEW


def test_node_taints_policy_honor_ignores_tainted_nodes():
    h = cluster()
    h.cache.set_node(make_node("b1", labels={ZONE: "b"}, taints=[taint("maintenance")]))
    h.place(web("w1", "a1"))
    honor = web("p", topologySpreadConstraints=[constraint(ZONE, nodeTaintsPolicy="Honor")])
    # zone b only has a tainted node: it is not a domain, zone a is alone with 1 pod.
    assert h.filter(pod_topology_spread.new(h.handle), honor)["a2"] is None
    default = web("p", topologySpreadConstraints=[constraint(ZONE)])
    assert h.filter(pod_topology_spread.new(h.handle), default)["a2"] == SKEW


def test_score_prefers_emptier_domains():
    h = cluster()
    h.place(web("w1", "a1"), web("w2", "a1"), web("w3", "a2"))
    scores = h.score(pod_topology_spread.new(h.handle),
                     web("p", topologySpreadConstraints=[constraint(when="ScheduleAnyway")]))
    assert scores["b1"] == 100 and scores["a2"] > scores["a1"]


def test_score_ignores_nodes_missing_keys_for_explicit_constraints():
    h = cluster(make_node("nozone"))
    scores = h.score(pod_topology_spread.new(h.handle),
                     web("p", topologySpreadConstraints=[constraint(ZONE, when="ScheduleAnyway")]))
    assert scores["nozone"] == 0 and scores["a1"] == 100


def test_system_default_constraints_spread_replicaset_pods():
    h = cluster()
    h.seed("apps", "replicasets", {"metadata": {"name": "web-abc", "namespace": "default", "resourceVersion": "1"},
                                   "spec": {"selector": {"matchLabels": {"app": "web"}}}})
    owner = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "u", "controller": True}]

    def replica(name: str, node: str = "") -> dict:
        pod = web(name, node)
        pod["metadata"]["ownerReferences"] = owner
        return pod

    h.place(replica("w1", "a1"), replica("w2", "a1"), replica("w3", "a2"))
    plugin = pod_topology_spread.new(h.handle)
    scores = h.score(plugin, replica("p"))
    assert scores["b1"] == 100 and scores["a1"] < scores["a2"] < 100
    assert h.score(plugin, web("p")) is None  # not owned by anything: no default spreading
    assert h.filter(plugin, replica("p")) == {"a1": None, "a2": None, "b1": None}  # defaults are soft
