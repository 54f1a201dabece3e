"""Node registration and status: shape, adoption after restart, heartbeats, corrections."""

from __future__ import annotations

import pytest

from podplane.agent.nodestatus import (
    KUBELET_VERSION,
    NodeStatusManager,
    SimulatedNode,
    build_node,
    node_info,
    parse_node_labels,
    status_patch,
)
from podplane.client.fake import FakeClient

from .builders import T0, Clock, EventLog

NODE = SimulatedNode("sim-0", 0, "127.1.0.1", "10.244.0.0/24")
CAPACITY = {"cpu": "4", "ephemeral-storage": "100Gi", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
            "memory": "16Gi", "pods": "110"}


def manager(clock: Clock | None = None, events: EventLog | None = None) -> tuple[FakeClient, NodeStatusManager]:
    client = FakeClient()
    return client, NodeStatusManager(client, [NODE], labels={"tier": "sim"}, capacity=CAPACITY,
                                     runtime_version="fake://0.1.0", clock=clock or Clock(),
                                     recorders={"sim-0": events} if events else None)


def test_a_node_is_shaped_like_a_kubelet_registration():
    node = build_node(NODE, labels={"tier": "sim"}, capacity=CAPACITY, now=T0,
                      info=node_info("sim-0", "fake://0.1.0", "boot"))
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "sim-0" and labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/arch"] == labels["beta.kubernetes.io/arch"] and labels["tier"] == "sim"
    assert node["spec"] == {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]}
    status = node["status"]
    assert status["capacity"] == status["allocatable"] == CAPACITY
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID"),
        ("Ready", "True", "KubeletReady")]
    assert status["conditions"][3]["message"] == "kubelet is posting ready status"
    assert status["addresses"] == [{"type": "InternalIP", "address": "127.1.0.1"},
                                   {"type": "Hostname", "address": "sim-0"}]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    info = status["nodeInfo"]
    assert (info["kubeletVersion"], info["containerRuntimeVersion"], info["operatingSystem"]) == (
        KUBELET_VERSION, "fake://0.1.0", "linux")
    assert info["machineID"] == node_info("sim-0", "x", "y")["machineID"], "stable across restarts"


@pytest.mark.parametrize("items,error", [
    pytest.param(["tier"], "not key=value", id="no-equals"),
    pytest.param(["bad key=x"], "invalid", id="bad-key"),
    pytest.param(["k=bad value"], "invalid", id="bad-value"),
])
def test_bad_node_labels_are_refused(items, error):
    with pytest.raises(ValueError, match=error):
        parse_node_labels(items)


def test_node_labels_parse():
    assert parse_node_labels(["a=1", "example.com/zone=z1", "empty="]) == {
        "a": "1", "example.com/zone": "z1", "empty": ""}


async def test_register_creates_the_node_and_records_kubelet_events():
    events = EventLog()
    client, m = manager(events=events)
    node = await m.register("sim-0", None)
    assert client.verbs() == ["create nodes"]
    assert node["status"]["conditions"][3]["type"] == "Ready" and m.uid("sim-0")
    assert events.reasons() == ["Starting", "NodeHasSufficientMemory", "NodeHasNoDiskPressure",
                                "NodeHasSufficientPID", "NodeAllocatableEnforced", "NodeReady"]


async def test_register_adopts_an_existing_node_and_keeps_its_transition_times():
    clock = Clock()
    client, first = manager(clock)
    existing = await first.register("sim-0", None)
    client.clear_actions()
    clock.advance(300)
    _, again = manager(clock)
    again.client = client
    node = await again.register("sim-0", existing)
    assert client.verbs() == ["patch nodes", "patch nodes/status"]
    ready = node["status"]["conditions"][3]
    assert ready["lastTransitionTime"] == "2027-01-15T08:00:00Z"
    assert ready["lastHeartbeatTime"] == "2027-01-15T08:05:00Z"


async def test_heartbeat_refreshes_conditions_and_no_change_reports_nothing():
    clock = Clock()
    client, m = manager(clock)
    await m.register("sim-0", None)
    client.clear_actions()
    assert await m.report("sim-0", heartbeat=False)
    assert client.verbs() == []
    clock.advance(60)
    assert await m.report("sim-0")
    assert client.verbs() == ["patch nodes/status"]
    patch = client.actions[0].obj["status"]
    assert list(patch) == ["conditions"]
    assert {c["lastHeartbeatTime"] for c in patch["conditions"]} == {"2027-01-15T08:01:00Z"}


async def test_a_foreign_ready_unknown_is_corrected():
    clock = Clock()
    client, m = manager(clock)
    node = await m.register("sim-0", None)
    node["status"]["conditions"][3].update(status="Unknown", reason="NodeStatusUnknown",
                                           message="Kubelet stopped posting node status.")
    m.observe(node)
    assert m.needs_report("sim-0")
    clock.advance(5)
    await m.report("sim-0", heartbeat=False)
    ready = client.actions[-1].obj["status"]["conditions"][3]
    assert (ready["status"], ready["reason"], ready["lastTransitionTime"]) == (
        "True", "KubeletReady", "2027-01-15T08:00:05Z")


def test_status_patch_only_sends_what_differs():
    node = build_node(NODE, labels={}, capacity=CAPACITY, info={"kubeletVersion": "x"}, now=T0)
    desired = dict(node["status"], capacity={**CAPACITY, "cpu": "8"})
    patch = status_patch(node["status"], desired, heartbeat=False)
    assert patch == {"capacity": desired["capacity"]}
