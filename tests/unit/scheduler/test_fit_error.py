"""FitError messages and DefaultPreemption's diagnosis, as upstream prints them."""

from __future__ import annotations

from podplane.scheduler.framework import CycleState, Diagnosis, FitError, PodInfo, Status
from podplane.scheduler.plugins import default_preemption
from podplane.scheduler.registry import new_framework

from .builders import Harness, make_node, make_pod


def test_histogram_is_counted_and_sorted():
    taint = Status.unresolvable("node(s) had untolerated taint {key: value}", plugin="TaintToleration")
    affinity = Status.unresolvable("node(s) didn't match Pod's node affinity/selector", plugin="NodeAffinity")
    fit = FitError(PodInfo(make_pod("p")), 3, Diagnosis(node_to_status={"a": taint, "b": affinity, "c": affinity}))
    assert str(fit) == ("0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, "
                        "2 node(s) didn't match Pod's node affinity/selector.")


def test_multiple_reasons_per_node_are_each_counted():
    both = Status.unschedulable("Insufficient cpu", "Insufficient memory")
    cpu = Status.unschedulable("Insufficient cpu")
    fit = FitError(PodInfo(make_pod("p")), 2, Diagnosis(node_to_status={"a": both, "b": cpu}))
    assert str(fit) == "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu."


def test_prefilter_message_replaces_the_histogram_and_postfilter_is_appended():
    status = Status.unresolvable('persistentvolumeclaim "data" not found')
    fit = FitError(PodInfo(make_pod("p")), 3, Diagnosis(absent_status=status, pre_filter_msg=status.message,
                                                        post_filter_msg="preemption: something."))
    assert str(fit) == '0/3 nodes are available: persistentvolumeclaim "data" not found. preemption: something.'


def run_preemption(h: Harness, pod: dict, statuses: dict[str, Status]) -> str:
    framework = new_framework(h.handle)
    plugin = framework.by_name[default_preemption.NAME]
    info = PodInfo(pod)
    state = CycleState()
    framework.run_pre_filter(state, info)
    status = plugin.post_filter(state, info, Diagnosis(node_to_status=statuses), framework)
    return status.message if status is not None else ""


def test_preemption_not_helpful_and_no_victims():
    h = Harness()
    h.nodes(make_node("a"), make_node("b"), make_node("c", cpu="1"))
    h.place(make_pod("busy", cpu="1", node="c"))
    statuses = {"a": Status.unresolvable("node(s) didn't match Pod's node affinity/selector"),
                "b": Status.unresolvable("node(s) didn't match Pod's node affinity/selector"),
                "c": Status.unschedulable("Insufficient cpu")}
    assert run_preemption(h, make_pod("p", cpu="1"), statuses) == (
        "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling.")


def test_preemption_reports_remaining_reasons_when_victims_would_not_suffice():
    h = Harness()
    h.nodes(make_node("a", cpu="1"))
    h.place(make_pod("low", cpu="500m", node="a"))
    statuses = {"a": Status.unschedulable("Insufficient cpu")}
    message = run_preemption(h, make_pod("p", cpu="2", priority=100), statuses)
    assert message == "preemption: 0/1 nodes are available: 1 Insufficient cpu."


def test_preemption_stays_silent_when_it_would_help():
    h = Harness()
    h.nodes(make_node("a", cpu="1"))
    h.place(make_pod("low", cpu="1", node="a"))
    assert run_preemption(h, make_pod("p", cpu="1", priority=100), {"a": Status.unschedulable("Insufficient cpu")}) == ""


def test_preemption_policy_never():
    h = Harness()
    h.nodes(make_node("a"))
    message = run_preemption(h, make_pod("p", preemptionPolicy="Never"), {"a": Status.unschedulable("Too many pods")})
    assert message == "preemption: not eligible due to preemptionPolicy=Never."
