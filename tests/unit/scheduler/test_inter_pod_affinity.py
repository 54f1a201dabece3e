"""InterPodAffinity: required affinity/anti-affinity, existing pods' anti-affinity, namespaces, scoring."""

from __future__ import annotations

import pytest

from podplane.scheduler.plugins import inter_pod_affinity

from .builders import Harness, affinity_term, make_node, make_pod

AFFINITY = "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) didn't match pod affinity rules"
ANTI = "UNSCHEDULABLE: node(s) didn't match pod anti-affinity rules"
EXISTING = "UNSCHEDULABLE: node(s) didn't satisfy existing pods anti-affinity rules"
ZONE = "topology.kubernetes.io/zone"


def pod_affinity(*terms: dict) -> dict:
    return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}


def pod_anti_affinity(*terms: dict) -> dict:
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}


def cluster() -> Harness:
    h = Harness()
    h.nodes(make_node("a1", labels={ZONE: "a"}), make_node("a2", labels={ZONE: "a"}),
            make_node("b1", labels={ZONE: "b"}), make_node("nozone"))
    return h


@pytest.mark.parametrize("existing,pod,want", [
    pytest.param([], make_pod("p"), {"a1": None, "a2": None, "b1": None, "nozone": None}, id="no-terms-skip"),
    pytest.param([make_pod("db", labels={"app": "db"}, node="a1")],
                 make_pod("p", affinity=pod_affinity(affinity_term({"app": "db"}))),
                 {"a1": None, "a2": AFFINITY, "b1": AFFINITY, "nozone": AFFINITY}, id="affinity-by-hostname"),
    pytest.param([make_pod("db", labels={"app": "db"}, node="a1")],
                 make_pod("p", affinity=pod_affinity(affinity_term({"app": "db"}, ZONE))),
                 {"a1": None, "a2": None, "b1": AFFINITY, "nozone": AFFINITY},
                 id="affinity-by-zone-needs-the-label"),
    pytest.param([], make_pod("p", labels={"app": "web"}, affinity=pod_affinity(affinity_term({"app": "web"}, ZONE))),
                 {"a1": None, "a2": None, "b1": None, "nozone": AFFINITY}, id="first-pod-of-self-affine-group"),
    pytest.param([], make_pod("p", affinity=pod_affinity(affinity_term({"app": "db"}))),
                 {"a1": AFFINITY, "a2": AFFINITY, "b1": AFFINITY, "nozone": AFFINITY}, id="affinity-target-missing"),
    pytest.param([make_pod("db", ns="other", labels={"app": "db"}, node="a1")],
                 make_pod("p", affinity=pod_affinity(affinity_term({"app": "db"}))),
                 {"a1": AFFINITY, "a2": AFFINITY, "b1": AFFINITY, "nozone": AFFINITY},
                 id="affinity-only-own-namespace-by-default"),
    pytest.param([make_pod("db", ns="other", labels={"app": "db"}, node="a1")],
                 make_pod("p", affinity=pod_affinity(affinity_term({"app": "db"}, namespaces=["other"]))),
                 {"a1": None, "a2": AFFINITY, "b1": AFFINITY, "nozone": AFFINITY}, id="affinity-named-namespace"),
    pytest.param([make_pod("db", ns="other", labels={"app": "db"}, node="a1")],
                 make_pod("p", affinity=pod_affinity(affinity_term({"app": "db"}, namespaceSelector={}))),
                 {"a1": None, "a2": AFFINITY, "b1": AFFINITY, "nozone": AFFINITY}, id="empty-namespace-selector-all"),
    pytest.param([make_pod("web-1", labels={"app": "web"}, node="a1")],
                 make_pod("p", labels={"app": "web"}, affinity=pod_anti_affinity(affinity_term({"app": "web"}))),
                 {"a1": ANTI, "a2": None, "b1": None, "nozone": None}, id="anti-affinity-hostname"),
    pytest.param([make_pod("web-1", labels={"app": "web"}, node="a1")],
                 make_pod("p", labels={"app": "web"}, affinity=pod_anti_affinity(affinity_term({"app": "web"}, ZONE))),
                 {"a1": ANTI, "a2": ANTI, "b1": None, "nozone": None}, id="anti-affinity-zone"),
    pytest.param([make_pod("loner", labels={"app": "loner"}, node="b1",
                           affinity=pod_anti_affinity(affinity_term({"app": "web"}, ZONE)))],
                 make_pod("p", labels={"app": "web"}),
                 {"a1": None, "a2": None, "b1": EXISTING, "nozone": None}, id="existing-anti-affinity-symmetry"),
    pytest.param([make_pod("loner", ns="other", labels={"app": "loner"}, node="b1",
                           affinity=pod_anti_affinity(affinity_term({"app": "web"})))],
                 make_pod("p", labels={"app": "web"}),
                 {"a1": None, "a2": None, "b1": None, "nozone": None},
                 id="existing-anti-affinity-other-namespace-ignored"),
])
def test_filter(existing, pod, want):
    h = cluster()
    h.place(*existing)
    assert h.filter(inter_pod_affinity.new(h.handle), pod) == want


def test_namespace_selector_resolves_labelled_namespaces():
    h = cluster()
    h.seed("", "namespaces", {"metadata": {"name": "team-a", "labels": {"team": "a"}, "resourceVersion": "1"}},
           {"metadata": {"name": "team-b", "labels": {"team": "b"}, "resourceVersion": "1"}})
    h.place(make_pod("db", ns="team-a", labels={"app": "db"}, node="a2"),
            make_pod("db", ns="team-b", labels={"app": "db"}, node="b1"))
    pod = make_pod("p", affinity=pod_affinity(affinity_term({"app": "db"},
                                                            namespaceSelector={"matchLabels": {"team": "a"}})))
    result = h.filter(inter_pod_affinity.new(h.handle), pod)
    assert [n for n, r in result.items() if r is None] == ["a2"]


def test_existing_anti_affinity_with_namespace_selector_uses_incoming_namespace_labels():
    h = cluster()
    h.seed("", "namespaces", {"metadata": {"name": "prod", "labels": {"env": "prod"}, "resourceVersion": "1"}})
    h.place(make_pod("guard", ns="ops", node="a1", affinity=pod_anti_affinity(
        affinity_term({"app": "web"}, namespaceSelector={"matchLabels": {"env": "prod"}}))))
    plugin = inter_pod_affinity.new(h.handle)
    assert h.filter(plugin, make_pod("p", ns="prod", labels={"app": "web"}))["a1"] == EXISTING
    assert h.filter(plugin, make_pod("p", ns="dev", labels={"app": "web"}))["a1"] is None


def preferred(kind: str, *weighted: tuple[int, dict]) -> dict:
    return {kind: {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": w, "podAffinityTerm": t} for w, t in weighted]}}


def test_score_preferred_affinity_and_anti_affinity():
    h = cluster()
    h.place(make_pod("cache", labels={"app": "cache"}, node="a1"), make_pod("noisy", labels={"app": "noisy"}, node="b1"))
    affinity = {**preferred("podAffinity", (10, affinity_term({"app": "cache"}, ZONE))),
                **preferred("podAntiAffinity", (10, affinity_term({"app": "noisy"}, ZONE)))}
    scores = h.score(inter_pod_affinity.new(h.handle), make_pod("p", affinity=affinity))
    # zone a: +10, zone b: -10, no zone: 0 → normalized between -10 and +10
    assert scores == {"a1": 100, "a2": 100, "b1": 0, "nozone": 50}


def test_score_symmetry_with_existing_pods_terms():
    h = cluster()
    h.place(make_pod("friendly", node="a1", affinity=preferred("podAffinity", (5, affinity_term({"app": "web"})))),
            make_pod("needy", node="b1", affinity=pod_affinity(affinity_term({"app": "web"}))))
    scores = h.score(inter_pod_affinity.new(h.handle), make_pod("p", labels={"app": "web"}))
    # a1 gets the existing pod's preferred weight 5, b1 the hard affinity weight 1
    assert scores == {"a1": 100, "a2": 0, "b1": 20, "nozone": 0}


def test_score_skips_without_any_affinity():
    h = cluster()
    h.place(make_pod("plain", node="a1"))
    assert h.score(inter_pod_affinity.new(h.handle), make_pod("p")) is None
