"""The scheduler end to end over FakeClient: cycles, bindings, failures, events, conditions."""

from __future__ import annotations

import copy
import itertools
import random

import pytest

from podplane.api import errors
from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.scheduler.scheduler import Scheduler, num_feasible_nodes_to_find
from podplane.settings import SchedulerSettings

from .builders import WATCHED, affinity_term, make_node, make_pod, taint

NOT_HELPFUL = "preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling."


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj: dict, event_type: str, reason: str, message: str) -> None:
        self.events.append((obj["metadata"]["name"], event_type, reason, message))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Env:
    def __init__(self, **settings) -> None:
        self.client = FakeClient()
        self.informers = InformerFactory(self.client)
        for group, plural in WATCHED:
            self.informers.resource(group, plural).replace([], "1")
        self.recorder = Recorder()
        self.clock = Clock()
        self.rv = itertools.count(10)
        self.scheduler = Scheduler(self.client, self.informers, SchedulerSettings(**settings), clock=self.clock,
                                   rng=random.Random(1), recorder=self.recorder)
        self.pods_info = self.client.resource("", "pods")

    def _push(self, plural: str, obj: dict) -> dict:
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(next(self.rv))
        informer = self.informers.resource("", plural)
        others = [o for o in informer.list() if o["metadata"]["name"] != obj["metadata"]["name"]
                  or o["metadata"].get("namespace") != obj["metadata"].get("namespace")]
        informer.replace(others + [obj], str(next(self.rv)))
        return obj

    def node(self, node: dict) -> None:
        self._push("nodes", node)

    def pod(self, pod: dict) -> dict:
        self.client.seed(self.pods_info, pod)
        return self._push("pods", pod)

    def delete_pod(self, name: str, ns: str = "default") -> None:
        informer = self.informers.resource("", "pods")
        informer.replace([o for o in informer.list() if (o["metadata"]["namespace"], o["metadata"]["name"])
                          != (ns, name)], str(next(self.rv)))

    def bindings(self) -> dict[str, str]:
        return {a.name: a.obj["target"]["name"] for a in self.client.actions_for("create", "pods/binding")}

    def confirm_bindings(self) -> None:
        """What the pod watch would deliver after each successful binding."""
        for name, node in self.bindings().items():
            current = self.informers.resource("", "pods").get("default", name)
            if current is not None and not current["spec"].get("nodeName"):
                bound = copy.deepcopy(current)
                bound["spec"]["nodeName"] = node
                self._push("pods", bound)

    def status_patches(self) -> list[dict]:
        return [a.obj["status"]["conditions"][0] for a in self.client.actions_for("patch", "pods/status")]

    async def run(self) -> None:
        await self.scheduler.schedule_pending()


async def test_binds_a_pod_and_records_scheduled():
    env = Env()
    env.node(make_node("n1"))
    env.pod(make_pod("web"))
    await env.run()
    assert env.client.verbs() == ["create pods/binding"]
    binding = env.client.actions[0].obj
    assert binding == {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web"},
                       "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}
    assert env.recorder.events == [("web", "Normal", "Scheduled", "Successfully assigned default/web to n1")]
    assert env.scheduler.cache.is_assumed("default/web")
    env.confirm_bindings()
    assert not env.scheduler.cache.is_assumed("default/web")
    assert "default/web" in env.scheduler.cache.nodes["n1"].pods


async def test_unschedulable_then_node_label_makes_it_schedulable():
    env = Env()
    for name in ("sim-0", "sim-1", "sim-2"):
        env.node(make_node(name))
    env.pod(make_pod("picky", nodeSelector={"disk": "ssd"}))
    await env.run()
    message = ("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
               + NOT_HELPFUL.format(n=3))
    assert env.recorder.events == [("picky", "Warning", "FailedScheduling", message)]
    assert env.client.verbs() == ["patch pods/status"]
    condition = env.status_patches()[0]
    assert {k: condition[k] for k in ("type", "status", "reason", "message")} == {
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
    assert env.client.actions[0].options["patch_type"] == "strategic"
    assert env.scheduler.queue.where("default/picky") == "unschedulable"

    env.clock.now += 5
    env.node(make_node("sim-1", labels={"disk": "ssd"}))
    await env.run()
    assert env.bindings() == {"picky": "sim-1"}


async def test_same_failure_does_not_patch_the_condition_again():
    env = Env()
    env.node(make_node("n1", taints=[taint("dedicated", "db")]))
    env.pod(make_pod("p"))
    await env.run()
    # the apiserver stored our condition; the informer sees it
    stored = env.client.stored(env.pods_info, "p", "default")
    env._push("pods", stored)
    env.clock.now += 400  # past the unschedulable cap
    await env.run()
    assert len(env.status_patches()) == 1
    assert [e[2] for e in env.recorder.events] == ["FailedScheduling", "FailedScheduling"]
    assert env.recorder.events[0][3].startswith("0/1 nodes are available: 1 node(s) had untolerated taint "
                                                "{dedicated: db}.")


@pytest.mark.parametrize("pod", [
    pytest.param(make_pod("mine", schedulerName="other-scheduler"), id="other-scheduler"),
    pytest.param(make_pod("pinned", nodeName="n1"), id="already-has-node"),
    pytest.param({**make_pod("done"), "status": {"phase": "Succeeded"}}, id="terminal"),
    pytest.param({**make_pod("going"), "metadata": {**make_pod("going")["metadata"],
                                                    "deletionTimestamp": "2026-01-01T00:00:00Z"}}, id="terminating"),
])
async def test_pods_it_does_not_schedule(pod):
    env = Env()
    env.node(make_node("n1"))
    env.pod(pod)
    await env.run()
    assert env.client.verbs() == [] and env.recorder.events == []


async def test_assumed_pods_count_before_the_binding_is_confirmed():
    env = Env()
    env.node(make_node("n1", cpu="1"))
    env.pod(make_pod("first", cpu="1"))
    env.clock.now += 1
    env.pod(make_pod("second", cpu="1"))
    await env.run()
    assert env.bindings() == {"first": "n1"}
    failed = [e[3] for e in env.recorder.events if e[2] == "FailedScheduling"]
    assert failed == ["0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
                      "1 No preemption victims found for incoming pod."]
    # deleting the first pod frees the node and retries the second at once (after its back-off)
    env.confirm_bindings()
    env.clock.now += 5
    env.delete_pod("first")
    await env.run()
    assert env.bindings() == {"first": "n1", "second": "n1"}


async def test_least_allocated_spreads_pods():
    env = Env()
    for name in ("a", "b", "c"):
        env.node(make_node(name))
    for i in range(6):
        env.pod(make_pod(f"p{i}", cpu="500m", memory="512Mi"))
    await env.run()
    placed = list(env.bindings().values())
    assert sorted(placed.count(n) for n in ("a", "b", "c")) == [2, 2, 2]


async def test_anti_affinity_spreads_three_replicas_and_the_fourth_waits():
    env = Env()
    for name in ("sim-0", "sim-1", "sim-2"):
        env.node(make_node(name))
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [affinity_term({"app": "web"})]}}
    for i in range(4):
        env.pod(make_pod(f"web-{i}", labels={"app": "web"}, affinity=anti))
    await env.run()
    assert sorted(env.bindings().values()) == ["sim-0", "sim-1", "sim-2"]
    failed = [e for e in env.recorder.events if e[2] == "FailedScheduling"]
    assert failed[0][3] == ("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: "
                            "0/3 nodes are available: 3 No preemption victims found for incoming pod.")


async def test_binding_error_forgets_and_retries_with_backoff():
    env = Env()
    env.node(make_node("n1", cpu="1"))
    env.pod(make_pod("p", cpu="1"))
    env.client.fail("create", "pods/binding", errors.ApiError(500, "InternalError", "etcd is sad"))
    await env.run()
    assert not env.scheduler.cache.nodes["n1"].pods
    assert env.recorder.events == [("p", "Warning", "FailedScheduling", "binding rejected: etcd is sad")]
    assert env.status_patches()[0]["reason"] == "SchedulerError"
    assert env.scheduler.queue.where("default/p") == "backoff"
    env.clock.now += 1.5
    await env.run()
    assert env.bindings() == {"p": "n1"}


async def test_binding_a_deleted_pod_is_dropped_quietly():
    env = Env()
    env.node(make_node("n1"))
    env.pod(make_pod("p"))
    env.client.fail("create", "pods/binding", errors.not_found("pods", "p"))
    await env.run()
    assert env.recorder.events == [] and env.scheduler.queue.where("default/p") == ""
    assert not env.scheduler.cache.nodes["n1"].pods


async def test_no_nodes():
    env = Env()
    env.pod(make_pod("p"))
    await env.run()
    assert env.recorder.events == [("p", "Warning", "FailedScheduling", "no nodes available to schedule pods")]
    assert env.status_patches()[0]["reason"] == "SchedulerError"
    assert env.scheduler.queue.where("default/p") == "backoff"


async def test_node_add_retries_pods_that_found_no_node():
    env = Env()
    env.node(make_node("small", cpu="1"))
    env.pod(make_pod("big", cpu="2"))
    await env.run()
    assert env.bindings() == {}
    env.clock.now += 5
    env.node(make_node("large", cpu="4"))
    await env.run()
    assert env.bindings() == {"big": "large"}


async def test_irrelevant_node_update_does_not_retry():
    env = Env()
    env.node(make_node("n1", taints=[taint("x")]))
    env.pod(make_pod("p"))
    await env.run()
    env.clock.now += 5
    heartbeat = make_node("n1", taints=[taint("x")])
    heartbeat["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    env.node(heartbeat)
    assert env.scheduler.queue.where("default/p") == "unschedulable"
    env.node(make_node("n1"))  # taint removed
    await env.run()
    assert env.bindings() == {"p": "n1"}


@pytest.mark.parametrize("percentage,nodes,want", [
    pytest.param(0, 50, 50, id="small-cluster-all"),
    pytest.param(0, 100, 100, id="adaptive-100-is-the-floor"),
    pytest.param(0, 400, 188, id="adaptive-400"),
    pytest.param(0, 1000, 420, id="adaptive-1000"),
    pytest.param(0, 5000, 500, id="adaptive-floor-5-percent"),
    pytest.param(0, 150, 100, id="at-least-100"),
    pytest.param(100, 1000, 1000, id="all"),
    pytest.param(30, 1000, 300, id="configured"),
])
def test_num_feasible_nodes_to_find(percentage, nodes, want):
    assert num_feasible_nodes_to_find(percentage, nodes) == want


async def test_partial_scan_resumes_where_the_last_cycle_stopped():
    env = Env(percentage_of_nodes_to_score=50)
    for i in range(200):
        env.node(make_node(f"n{i:03d}"))
    env.pod(make_pod("a"))
    env.pod(make_pod("b"))
    await env.run()
    # each cycle evaluates 100 feasible nodes: a picks from n000-n099, b from n100-n199
    placed = env.bindings()
    assert placed["a"] < "n100" <= placed["b"]


async def test_relabelled_pod_satisfies_pending_affinity():
    env = Env()
    env.node(make_node("n1"))
    env.node(make_node("n2"))
    env.pod(make_pod("other", node="n2", labels={"app": "web"}))
    near_db = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [affinity_term({"app": "db"})]}}
    env.pod(make_pod("p", affinity=near_db))
    await env.run()
    assert env.bindings() == {}
    env.clock.now += 5
    env._push("pods", make_pod("other", node="n2", labels={"app": "db"}))
    await env.run()
    assert env.bindings() == {"p": "n2"}


async def test_events_are_written_by_a_bounded_number_of_workers():
    import asyncio

    from podplane.scheduler.scheduler import EventSink

    class SlowRecorder:
        def __init__(self) -> None:
            self.active = self.peak = 0
            self.recorded: list[str] = []

        async def record(self, obj, event_type, reason, message) -> None:
            self.active += 1
            self.peak = max(self.peak, self.active)
            await asyncio.sleep(0.001)
            self.recorded.append(obj["metadata"]["name"])
            self.active -= 1

    recorder = SlowRecorder()
    sink = EventSink(recorder, workers=2)
    for i in range(10):
        sink.emit(make_pod(f"p{i}"), "Normal", "Scheduled", "x")
    for _ in range(100):
        if len(recorder.recorded) == 10:
            break
        await asyncio.sleep(0.005)
    await sink.close()
    assert sorted(recorder.recorded) == sorted(f"p{i}" for i in range(10)) and recorder.peak == 2


async def test_waiting_for_volumes_does_not_hold_a_binding_slot():
    env = Env(parallelism=1)
    env.informers.resource("storage.k8s.io", "storageclasses").replace([{
        "metadata": {"name": "local", "resourceVersion": "1"}, "provisioner": "podplane.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer"}], "2")
    claim = {"metadata": {"name": "data", "namespace": "default", "resourceVersion": "1"},
             "spec": {"storageClassName": "local", "accessModes": ["ReadWriteOnce"],
                      "resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Pending"}}
    env.informers.resource("", "persistentvolumeclaims").replace([claim], "2")
    env.client.seed(env.client.resource("", "persistentvolumeclaims"), claim)
    env.scheduler.framework.by_name["VolumeBinding"].bind_timeout = 0.3
    env.node(make_node("n1"))
    env.pod(make_pod("with-volume", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]))
    env.clock.now += 1
    env.pod(make_pod("plain"))
    import asyncio

    await env.scheduler.schedule_one()  # with-volume: PreBind waits for its claim
    await asyncio.sleep(0.01)
    await asyncio.wait_for(env.scheduler.schedule_one(), 0.1)  # the only slot is free for "plain"
    await asyncio.sleep(0.01)
    assert env.bindings() == {"plain": "n1"}  # bound while the other waited for its claim
    await env.scheduler.wait_idle()
    assert env.client.verbs()[0] == "patch persistentvolumeclaims"
    assert ("with-volume", "Warning", "FailedScheduling",
            "binding volumes: timed out waiting for the condition") in env.recorder.events
