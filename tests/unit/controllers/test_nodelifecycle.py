"""Node lifecycle: health from leases and heartbeats, condition taints, taint-based eviction.

Time is a mutable fake clock; monitor passes are called directly (`monitor_node_health`)
and work-queue keys are synced with `sync(key)`. Each test seeds nodes, leases and pods
both in the FakeClient (live reads) and the informer caches, then asserts the writes.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from podplane.api.meta import format_time, format_time_micro
from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.controllers.manager import ControllerContext
from podplane.controllers.nodelifecycle import (
    FULL_DISRUPTION,
    NORMAL,
    PARTIAL_DISRUPTION,
    compute_zone_state,
    matching_tolerations,
    min_toleration_seconds,
    new,
    tolerates,
)
from podplane.settings import ControllerSettings

T0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
GRACE = 8.0
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}


def stamp(t: float, micro: bool = False) -> str:
    dt = datetime.fromtimestamp(t, UTC)
    return format_time_micro(dt) if micro else format_time(dt)


def node(name: str, *, ready: str = "True", heartbeat: float = T0, taints: list[dict] | None = None,
         unschedulable: bool = False, zone: str = "", **conditions: str) -> dict:
    conds = [{"type": "Ready", "status": ready, "reason": "KubeletReady", "message": "",
              "lastHeartbeatTime": stamp(heartbeat), "lastTransitionTime": stamp(T0 - 100)}]
    for cond_type, status in conditions.items():
        conds.append({"type": cond_type, "status": status, "lastHeartbeatTime": stamp(heartbeat),
                      "lastTransitionTime": stamp(T0 - 100)})
    labels = {"kubernetes.io/hostname": name}
    if zone:
        labels["topology.kubernetes.io/zone"] = zone
    spec: dict = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "uid": f"uid-{name}", "labels": labels,
                         "creationTimestamp": stamp(T0 - 1000)},
            "spec": spec, "status": {"conditions": conds}}


def lease(name: str, renewed: float) -> dict:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": stamp(renewed, micro=True)}}


def pod(name: str, node_name: str, *, ready: bool = True, tolerations: list[dict] | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "nginx"}],
                     "tolerations": tolerations or []},
            "status": {"phase": "Running",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": stamp(T0 - 50)}]}}


def default_tolerations(seconds: int) -> list[dict]:
    return [{**t, "operator": "Exists", "tolerationSeconds": seconds} for t in (NOT_READY, UNREACHABLE)]


class Fixture:
    def __init__(self, *, nodes=(), leases=(), pods=()) -> None:
        self.now = T0
        self.client = FakeClient()
        self.informers = InformerFactory(self.client)
        self.ctrl = new(ControllerContext(client=self.client, informers=self.informers,
                                          settings=ControllerSettings(node_monitor_grace_period=GRACE),
                                          clock=lambda: self.now))
        self.requeued: list[tuple[str, float]] = []
        self.ctrl.queue.add_after = lambda key, delay: self.requeued.append((key, delay))
        self.kinds = {"nodes": self.client.resource("", "nodes"), "pods": self.client.resource("", "pods"),
                      "leases": self.client.resource("coordination.k8s.io", "leases")}
        self.set("nodes", list(nodes))
        self.set("leases", list(leases))
        self.set("pods", list(pods))

    def informer(self, kind: str):
        return {"nodes": self.ctrl.nodes, "pods": self.ctrl.pods, "leases": self.ctrl.leases}[kind]

    def set(self, kind: str, objs: list[dict]) -> None:
        """Replace what exists of `kind`, live and in the cache."""
        info = self.kinds[kind]
        for key in [k for k in self.client.objects if k[:2] == (info.group, info.plural)]:
            del self.client.objects[key]
        seeded = [self.client.seed(info, copy.deepcopy(o)) for o in objs]
        self.informer(kind).replace(seeded, "1")

    def refresh_cache(self, kind: str) -> None:
        """Let the informer catch up with what the controller wrote."""
        info = self.kinds[kind]
        self.informer(kind).replace([o for k, o in self.client.objects.items() if k[:2] == (info.group, info.plural)],
                                    "1")

    def stored(self, kind: str, name: str) -> dict:
        ns = "default" if kind == "pods" else None
        return self.client.stored(self.kinds[kind], name, ns)

    def verbs(self) -> list[str]:
        return [v for v in self.client.verbs() if not v.endswith(" events")]

    def writes(self) -> list[str]:
        return [v for v in self.verbs() if not v.startswith(("get ", "list "))]

    async def monitor(self, at: float) -> None:
        self.now = at
        await self.ctrl.monitor_node_health()
        self.refresh_cache("nodes")
        self.refresh_cache("pods")

    async def drain(self) -> None:
        while len(self.ctrl.queue):
            key = await self.ctrl.queue.get()
            try:
                await self.ctrl.sync(key)
            finally:
                self.ctrl.queue.done(key)


def ready_status(n: dict) -> str:
    return next(c for c in n["status"]["conditions"] if c["type"] == "Ready")["status"]


def taint_keys(n: dict, effect: str = "NoExecute") -> list[str]:
    return sorted(t["key"] for t in n["spec"].get("taints") or () if t["effect"] == effect)


# -- health ---------------------------------------------------------------------------------------
async def test_renewed_lease_keeps_a_node_ready_even_without_status_heartbeats():
    f = Fixture(nodes=[node("a"), node("b")], leases=[lease("a", T0), lease("b", T0)])
    await f.monitor(T0)
    for i in range(1, 5):
        f.set("leases", [lease("a", T0 + 5 * i), lease("b", T0 + 5 * i)])
        await f.monitor(T0 + 5 * i)
    assert f.writes() == []


async def test_silent_node_becomes_unknown_after_the_grace_period():
    f = Fixture(nodes=[node("a"), node("b")], leases=[lease("a", T0), lease("b", T0)])
    await f.monitor(T0)
    f.set("leases", [lease("a", T0), lease("b", T0 + GRACE)])
    await f.monitor(T0 + GRACE)  # exactly at the limit: still fine
    assert f.writes() == []
    await f.monitor(T0 + GRACE + 1)
    assert f.writes() == ["update nodes/status"]
    conditions = {c["type"]: c for c in f.stored("nodes", "a")["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "Unknown"
    assert conditions["Ready"]["reason"] == "NodeStatusUnknown"
    assert conditions["Ready"]["message"] == "Kubelet stopped posting node status."
    assert conditions["Ready"]["lastTransitionTime"] == stamp(T0 + GRACE + 1)
    for cond_type in ("MemoryPressure", "DiskPressure", "PIDPressure"):
        assert conditions[cond_type]["status"] == "Unknown"
        assert conditions[cond_type]["reason"] == "NodeStatusNeverUpdated"
    assert ready_status(f.stored("nodes", "b")) == "True"


async def test_controller_restart_gives_every_node_a_fresh_grace_period():
    # heartbeats long ago, but this controller has only just started watching
    f = Fixture(nodes=[node("a", heartbeat=T0 - 600), node("b", heartbeat=T0 - 600)])
    await f.monitor(T0)
    assert f.writes() == []


async def test_unknown_node_gets_the_unreachable_taint_on_the_next_pass_and_pods_not_ready():
    f = Fixture(nodes=[node("a"), node("b")], leases=[lease("a", T0), lease("b", T0)],
                pods=[pod("on-a", "a"), pod("on-b", "b")])
    await f.monitor(T0)
    f.set("leases", [lease("a", T0), lease("b", T0 + GRACE + 1)])
    await f.monitor(T0 + GRACE + 1)
    assert f.writes() == ["update nodes/status", "update pods/status"]
    assert ready_status(f.stored("pods", "on-a")) == "False"
    assert ready_status(f.stored("pods", "on-b")) == "True"
    f.client.clear_actions()
    f.set("leases", [lease("a", T0), lease("b", T0 + GRACE + 6)])
    await f.monitor(T0 + GRACE + 6)
    assert f.writes() == ["patch nodes"]
    a = f.stored("nodes", "a")
    assert taint_keys(a) == ["node.kubernetes.io/unreachable"]
    assert a["spec"]["taints"][0]["timeAdded"] == stamp(T0 + GRACE + 6)


async def test_not_ready_node_is_tainted_not_ready_and_cleared_when_ready_again():
    f = Fixture(nodes=[node("a", ready="False"), node("b")], leases=[lease("a", T0), lease("b", T0)])
    await f.monitor(T0)
    assert taint_keys(f.stored("nodes", "a")) == ["node.kubernetes.io/not-ready"]
    f.set("nodes", [node("a", taints=f.stored("nodes", "a")["spec"]["taints"], heartbeat=T0 + 5), node("b")])
    f.client.clear_actions()
    await f.monitor(T0 + 5)
    assert f.writes() == ["patch nodes"]
    assert taint_keys(f.stored("nodes", "a")) == []


async def test_unreachable_taint_swaps_to_not_ready_at_once():
    f = Fixture(nodes=[node("a", ready="False", taints=[{**UNREACHABLE, "timeAdded": stamp(T0)}]), node("b")])
    await f.monitor(T0)
    assert taint_keys(f.stored("nodes", "a")) == ["node.kubernetes.io/not-ready"]


async def test_whole_cluster_down_means_no_taints():
    f = Fixture(nodes=[node("a", ready="False"), node("b", ready="False")])
    await f.monitor(T0)
    assert f.writes() == []
    assert set(f.ctrl.zone_states.values()) == {FULL_DISRUPTION}


async def test_tainting_is_rate_limited_per_zone():
    names = "abcdefg"
    f = Fixture(nodes=[node(n, ready="False" if n in "ab" else "True") for n in names])

    async def monitor(at: float) -> None:
        f.set("leases", [lease(n, at) for n in names])  # every node keeps heartbeating
        await f.monitor(at)

    await monitor(T0)
    assert [n for n in "ab" if taint_keys(f.stored("nodes", n))] == ["a"]
    await monitor(T0 + 5)  # 0.1 nodes per second: no token yet
    assert taint_keys(f.stored("nodes", "b")) == []
    await monitor(T0 + 10)
    assert taint_keys(f.stored("nodes", "b")) == ["node.kubernetes.io/not-ready"]


# -- NoSchedule taints from conditions --------------------------------------------------------------
@pytest.mark.parametrize("n,want", [
    pytest.param(node("a", ready="False"), ["node.kubernetes.io/not-ready"], id="not-ready"),
    pytest.param(node("a", ready="Unknown"), ["node.kubernetes.io/unreachable"], id="unknown"),
    pytest.param(node("a", MemoryPressure="True", DiskPressure="False"), ["node.kubernetes.io/memory-pressure"],
                 id="memory-pressure"),
    pytest.param(node("a", unschedulable=True), ["node.kubernetes.io/unschedulable"], id="cordoned"),
    pytest.param(node("a", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"},
                                   {"key": "example.com/mine", "effect": "NoSchedule"}]),
                 ["example.com/mine"], id="stale-condition-taint-removed-foreign-kept"),
])
async def test_no_schedule_taints_follow_conditions(n, want):
    f = Fixture(nodes=[n])
    await f.ctrl.sync("a")
    assert taint_keys(f.stored("nodes", "a"), "NoSchedule") == want


async def test_no_schedule_pass_writes_nothing_when_taints_match():
    f = Fixture(nodes=[node("a", ready="False", taints=[{"key": "node.kubernetes.io/not-ready",
                                                          "effect": "NoSchedule"}])])
    await f.ctrl.sync("a")
    assert f.writes() == []


# -- taint manager --------------------------------------------------------------------------------
async def test_pod_without_toleration_is_evicted_at_once():
    f = Fixture(nodes=[node("a", ready="Unknown", taints=[UNREACHABLE])], pods=[pod("p", "a")])
    await f.ctrl.sync("default/p")
    assert f.writes() == ["patch pods/status", "delete pods"]
    status_patch = f.client.actions_for("patch", "pods/status")[0].obj
    assert status_patch["status"]["conditions"][0]["type"] == "DisruptionTarget"
    assert status_patch["status"]["conditions"][0]["reason"] == "DeletionByTaintManager"
    assert f.client.actions_for("delete", "pods")[0].options == {"preconditions": {"uid": "uid-p"}}


async def test_tolerated_pod_is_evicted_after_toleration_seconds():
    f = Fixture(nodes=[node("a", ready="Unknown", taints=[UNREACHABLE])],
                pods=[pod("p", "a", tolerations=default_tolerations(5))])
    await f.ctrl.sync("default/p")
    assert f.writes() == []
    assert f.requeued == [("default/p", 5)]
    f.now = T0 + 3
    await f.ctrl.sync("default/p")
    assert f.writes() == [] and f.requeued[-1] == ("default/p", 2)
    f.now = T0 + 5
    await f.ctrl.sync("default/p")
    assert f.writes() == ["patch pods/status", "delete pods"]


@pytest.mark.parametrize("tolerations", [
    pytest.param([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}],
                 id="forever"),
    pytest.param([{"operator": "Exists"}], id="tolerate-everything"),
])
async def test_pod_tolerating_forever_stays(tolerations):
    f = Fixture(nodes=[node("a", ready="Unknown", taints=[UNREACHABLE])],
                pods=[pod("p", "a", tolerations=tolerations)])
    await f.ctrl.sync("default/p")
    f.now = T0 + 10_000
    await f.ctrl.sync("default/p")
    assert f.writes() == []


async def test_removed_taint_cancels_a_scheduled_eviction():
    f = Fixture(nodes=[node("a", ready="Unknown", taints=[UNREACHABLE])],
                pods=[pod("p", "a", tolerations=default_tolerations(5))])
    await f.ctrl.sync("default/p")
    assert "default/p" in f.ctrl.evictions
    f.set("nodes", [node("a")])
    await f.ctrl.sync("a")  # the node's NoExecute taints changed: its pods are re-checked
    await f.drain()
    assert "default/p" not in f.ctrl.evictions
    f.now = T0 + 60
    await f.ctrl.sync("default/p")
    assert f.writes() == []


async def test_node_taint_change_enqueues_its_pods():
    f = Fixture(nodes=[node("a"), node("b")], pods=[pod("p", "a"), pod("q", "b")])
    await f.drain()
    f.set("nodes", [node("a", ready="Unknown", taints=[UNREACHABLE]), node("b")])
    await f.ctrl.sync("a")
    await f.drain()
    assert [a.name for a in f.client.actions_for("delete", "pods")] == ["p"]


async def test_terminating_pods_are_not_evicted_again():
    p = pod("p", "a")
    p["metadata"]["deletionTimestamp"] = stamp(T0)
    f = Fixture(nodes=[node("a", ready="Unknown", taints=[UNREACHABLE])], pods=[p])
    await f.ctrl.sync("default/p")
    assert f.writes() == []


# -- pure helpers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("toleration,taint,want", [
    pytest.param({"key": "k", "operator": "Exists"}, {"key": "k", "effect": "NoExecute"}, True, id="exists"),
    pytest.param({"key": "k", "value": "v"}, {"key": "k", "value": "v", "effect": "NoSchedule"}, True,
                 id="equal-by-default"),
    pytest.param({"key": "k", "value": "v"}, {"key": "k", "value": "w", "effect": "NoSchedule"}, False,
                 id="value-differs"),
    pytest.param({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, {"key": "k", "effect": "NoExecute"},
                 False, id="effect-differs"),
    pytest.param({"operator": "Exists"}, {"key": "any", "effect": "NoExecute"}, True, id="empty-key-exists"),
    pytest.param({"key": "other", "operator": "Exists"}, {"key": "k", "effect": "NoExecute"}, False,
                 id="key-differs"),
])
def test_tolerates(toleration, taint, want):
    assert tolerates(toleration, taint) is want


def test_matching_tolerations_needs_every_taint_tolerated():
    taints = [UNREACHABLE, {"key": "example.com/x", "effect": "NoExecute"}]
    assert matching_tolerations(taints, default_tolerations(5)) == (False, [])
    ok, used = matching_tolerations([UNREACHABLE], default_tolerations(5))
    assert ok and used[0]["key"] == UNREACHABLE["key"]


@pytest.mark.parametrize("tolerations,want", [
    pytest.param([], 0, id="none-used"),
    pytest.param([{"tolerationSeconds": 30}, {"tolerationSeconds": 5}], 5, id="minimum"),
    pytest.param([{}, {"tolerationSeconds": 7}], 7, id="forever-and-limited"),
    pytest.param([{}], -1, id="forever"),
    pytest.param([{"tolerationSeconds": -3}], 0, id="negative-means-now"),
])
def test_min_toleration_seconds(tolerations, want):
    assert min_toleration_seconds(tolerations) == want


@pytest.mark.parametrize("statuses,want", [
    pytest.param(["True", "True"], NORMAL, id="healthy"),
    pytest.param(["False", "Unknown"], FULL_DISRUPTION, id="all-down"),
    pytest.param(["True", "False", "False"], NORMAL, id="two-down-is-never-partial"),
    pytest.param(["True", "False", "False", "Unknown", None], PARTIAL_DISRUPTION, id="most-down"),
])
def test_compute_zone_state(statuses, want):
    assert compute_zone_state(statuses)[1] == want


# -- orphaned pods (PodGC) --------------------------------------------------------------------------
async def test_pods_of_a_deleted_node_are_force_deleted_after_the_quarantine():
    f = Fixture(nodes=[node("a")], leases=[lease("a", T0)], pods=[pod("lost", "gone"), pod("fine", "a")])
    await f.monitor(T0)
    f.set("leases", [lease("a", T0 + 39)])
    await f.monitor(T0 + 39)
    assert f.writes() == []
    f.set("leases", [lease("a", T0 + 40)])
    await f.monitor(T0 + 40)
    assert f.writes() == ["patch pods/status", "delete pods"]
    status = f.client.actions_for("patch", "pods/status")[0].obj["status"]
    assert status["phase"] == "Failed" and status["conditions"][0]["reason"] == "DeletionByPodGC"
    delete = f.client.actions_for("delete", "pods")[0]
    assert delete.name == "lost" and delete.options["grace_period_seconds"] == 0


async def test_node_that_reappears_within_the_quarantine_keeps_its_pods():
    f = Fixture(nodes=[node("a")], leases=[lease("a", T0)], pods=[pod("p", "b")])
    await f.monitor(T0)
    f.set("nodes", [node("a"), node("b")])  # b (re-)registers
    f.set("leases", [lease("a", T0 + 5), lease("b", T0 + 5)])
    await f.monitor(T0 + 5)
    f.set("nodes", [node("a")])
    f.set("leases", [lease("a", T0 + 41)])
    await f.monitor(T0 + 41)  # missing again, but only since T0 + 41
    assert not f.client.actions_for("delete", "pods")
