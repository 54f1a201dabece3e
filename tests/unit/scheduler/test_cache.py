"""Scheduler cache: assume/confirm/forget, ghost nodes, zone interleaving, counters."""

from __future__ import annotations

from podplane.scheduler.cache import Cache
from podplane.scheduler.nodeinfo import PodInfo

from .builders import make_node, make_pod, taint


def test_assume_confirm_and_forget():
    cache = Cache()
    cache.set_node(make_node("n", cpu="2"))
    pending = PodInfo(make_pod("p", cpu="1"))
    assumed = cache.assume_pod(pending, "n")
    assert assumed.node_name == "n" and pending.node_name == ""
    assert cache.nodes["n"].requested.milli_cpu == 1000 and cache.is_assumed("default/p")
    cache.forget_pod("default/p")
    assert cache.nodes["n"].requested.milli_cpu == 0 and not cache.nodes["n"].pods
    cache.assume_pod(pending, "n")
    cache.add_pod(PodInfo(make_pod("p", cpu="1", node="n")))  # the informer confirms
    assert not cache.is_assumed("default/p") and cache.nodes["n"].requested.milli_cpu == 1000
    cache.forget_pod("default/p")  # too late: confirmed pods stay
    assert cache.nodes["n"].requested.milli_cpu == 1000


def test_confirmation_on_another_node_moves_the_pod():
    cache = Cache()
    cache.set_node(make_node("a"))
    cache.set_node(make_node("b"))
    cache.assume_pod(PodInfo(make_pod("p", cpu="1")), "a")
    cache.add_pod(PodInfo(make_pod("p", cpu="1", node="b")))
    assert not cache.nodes["a"].pods and "default/p" in cache.nodes["b"].pods


def test_pods_before_their_node_live_on_a_ghost():
    cache = Cache()
    cache.add_pod(PodInfo(make_pod("p", cpu="1", node="late")))
    assert cache.node_list == [] and cache.node("late") is None
    cache.set_node(make_node("late"))
    assert [n.name for n in cache.node_list] == ["late"] and cache.nodes["late"].requested.milli_cpu == 1000
    cache.remove_node("late")
    assert cache.node_list == [] and "late" in cache.nodes  # still holds the pod
    cache.remove_pod("default/p")
    assert "late" not in cache.nodes


def test_zones_are_interleaved():
    cache = Cache()
    for name, zone in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"), ("c1", "c"), ("b2", "b")]:
        cache.set_node(make_node(name, labels={"topology.kubernetes.io/zone": zone}))
    assert [n.name for n in cache.node_list] == ["a1", "b1", "c1", "a2", "b2", "a3"]


def test_counters_follow_node_updates():
    cache = Cache()
    cache.set_node(make_node("n", taints=[taint("x", effect="PreferNoSchedule")]))
    assert (cache.prefer_no_schedule_nodes, cache.hard_tainted_nodes, cache.unschedulable_nodes) == (1, 0, 0)
    cache.set_node(make_node("n", taints=[taint("y")], unschedulable=True))
    assert (cache.prefer_no_schedule_nodes, cache.hard_tainted_nodes, cache.unschedulable_nodes) == (0, 1, 1)
    cache.remove_node("n")
    assert (cache.prefer_no_schedule_nodes, cache.hard_tainted_nodes, cache.unschedulable_nodes) == (0, 0, 0)


def test_affinity_indexes():
    cache = Cache()
    cache.set_node(make_node("n"))
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    cache.add_pod(PodInfo(make_pod("p", node="n", affinity=anti)))
    assert list(cache.nodes_with_required_anti_affinity_pods) == ["n"] and list(cache.nodes_with_affinity_pods) == ["n"]
    cache.remove_pod("default/p")
    assert not cache.nodes_with_required_anti_affinity_pods and not cache.nodes_with_affinity_pods
    assert cache.pods_by_namespace == {}
