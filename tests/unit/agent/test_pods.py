"""Pod workers: lifecycle of pods on simulated nodes, driven by an injected clock.

Each test seeds pods into a FakeClient, mirrors the store into the pod informer (what
the watch would do), runs `sync(key)` and asserts the API actions and the status the
agent wrote. Time only moves through `Clock.advance`; the work queue records the
requeue delays the workers ask for, and `drive` follows them like the real queue.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from podplane.agent.pods import PodWorkers, pod_requests
from podplane.agent.runtime.fake import FakeRuntime, behaviour_of
from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory

from .builders import T0, Clock, EventLog, RecordingQueue, make_pod, node_handle


class Fixture:
    def __init__(self, *, nodes: tuple[str, ...] = ("n1",), start_delay: float = 0.05, **capacity) -> None:
        self.clock = Clock()
        self.client = FakeClient()
        self.info = self.client.resource("", "pods")
        self.informer = InformerFactory(self.client).resource("", "pods")
        self.events = EventLog()
        self.nodes = {n: node_handle(n, block=i, recorder=self.events, **capacity) for i, n in enumerate(nodes)}
        self.runtime = FakeRuntime(start_delay=start_delay)
        self.queue = RecordingQueue()
        self.workers = PodWorkers(self.client, self.informer, self.nodes, self.runtime, clock=self.clock,
                                  queue=self.queue,
                                  backoff_base=lambda pod: behaviour_of(pod).backoff_seconds or 10.0)

    def add(self, pod: dict) -> dict:
        stored = self.client.seed(self.info, pod)
        self.refresh()
        return stored

    def refresh(self) -> None:
        """Let the informer catch up with the store (the watch delivering the writes)."""
        items = [o for (g, p, _, _), o in self.client.objects.items() if (g, p) == ("", "pods")]
        self.informer.replace(items, "1")

    def stored(self, name: str) -> dict | None:
        return self.client.stored(self.info, name, "default")

    def status(self, name: str) -> dict:
        return self.stored(name)["status"]

    def container(self, name: str, index: int = 0, init: bool = False) -> dict:
        return self.status(name)["initContainerStatuses" if init else "containerStatuses"][index]

    def condition(self, name: str, kind: str) -> dict:
        return next(c for c in self.status(name)["conditions"] if c["type"] == kind)

    async def sync(self, name: str) -> None:
        await self.workers.sync(f"default/{name}")
        self.refresh()

    async def drive(self, name: str, seconds: float) -> None:
        """Sync, then jump to each requeue time the worker asks for, up to `seconds` from now."""
        until = self.clock.now + seconds
        while True:
            self.queue.delayed.clear()
            await self.sync(name)
            wakes = [d for k, d in self.queue.delayed if k == f"default/{name}"]
            if not wakes or self.clock.now + min(wakes) > until + 1e-9:
                self.clock.now = max(self.clock.now, until)
                return
            self.clock.advance(min(wakes))


async def test_a_new_pod_goes_pending_then_running_and_ready():
    f = Fixture()
    f.add(make_pod("web").obj())
    await f.sync("web")
    assert f.client.verbs() == ["patch pods/status"]
    status = f.status("web")
    assert status["phase"] == "Pending"
    assert (status["hostIP"], status["hostIPs"]) == ("127.1.0.1", [{"ip": "127.1.0.1"}])
    assert (status["podIP"], status["podIPs"]) == ("10.244.0.2", [{"ip": "10.244.0.2"}])
    assert f.container("web")["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert f.condition("web", "Ready")["message"] == "containers with unready status: [app]"
    assert f.condition("web", "PodReadyToStartContainers")["status"] == "True"
    assert f.queue.rounded() == [("default/web", 0.05)]
    assert f.events.events == [
        ("Normal", "Pulled", 'Container image "nginx" already present on machine', "spec.containers{app}"),
        ("Normal", "Created", "Created container: app", "spec.containers{app}"),
        ("Normal", "Started", "Started container app", "spec.containers{app}"),
    ]

    f.clock.advance(0.05)
    await f.sync("web")
    status = f.status("web")
    assert status["phase"] == "Running"
    cs = f.container("web")
    assert cs["state"] == {"running": {"startedAt": "2027-01-15T08:00:00Z"}}
    assert (cs["ready"], cs["started"], cs["restartCount"]) == (True, True, 0)
    assert cs["containerID"].startswith("fake://") and cs["image"] == "docker.io/library/nginx:latest"
    assert cs["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodScheduled": "True", "PodReadyToStartContainers": "True", "Initialized": "True",
        "Ready": "True", "ContainersReady": "True"}
    assert all(c.get("observedGeneration") == 1 for c in status["conditions"] if c["type"] != "PodScheduled")
    assert status["startTime"] == "2027-01-15T08:00:00Z" and status["observedGeneration"] == 1

    f.client.clear_actions()
    await f.sync("web")
    assert f.client.verbs() == [], "an unchanged pod costs no API write"


async def test_a_sync_before_the_cache_catches_up_does_not_write_again():
    f = Fixture()
    f.add(make_pod("web").obj())
    await f.workers.sync("default/web")  # no refresh: the informer still has the pod without status
    await f.workers.sync("default/web")
    assert f.client.verbs() == ["patch pods/status"]


async def test_status_patch_carries_a_uid_precondition_and_is_strategic():
    f = Fixture()
    f.add(make_pod("web").obj())
    await f.sync("web")
    action = f.client.actions_for("patch", "pods/status")[0]
    assert action.obj["metadata"] == {"uid": "uid-web"}
    assert action.options["patch_type"] == "strategic"
    assert "PodScheduled" not in [c["type"] for c in action.obj["status"]["conditions"]], \
        "the scheduler's condition is left alone"


@pytest.mark.parametrize("policy,annotations,phase,state", [
    pytest.param("Never", {"exit_code": "0"}, "Succeeded", {"exitCode": 0, "reason": "Completed"},
                 id="never-exit-0"),
    pytest.param("Never", {"exit_code": "2", "run_seconds": "3"}, "Failed", {"exitCode": 2, "reason": "Error"},
                 id="never-exit-2"),
    pytest.param("OnFailure", {}, "Succeeded", {"exitCode": 0, "reason": "Completed"},
                 id="job-pod-without-annotations-completes"),
])
async def test_pods_that_finish(policy, annotations, phase, state):
    f = Fixture()
    f.add(make_pod("p").policy(policy).annotate(**annotations).obj())
    await f.drive("p", 5)
    status = f.status("p")
    assert status["phase"] == phase
    terminated = f.container("p")["state"]["terminated"]
    assert {k: terminated[k] for k in state} == state
    assert (f.condition("p", "Ready")["reason"], f.condition("p", "ContainersReady")["reason"]) == (
        ("PodCompleted",) * 2 if phase == "Succeeded" else ("PodFailed",) * 2)
    assert f.condition("p", "PodReadyToStartContainers")["status"] == "False"
    assert len(f.nodes["n1"].ips) == 0, "a finished pod gives its address back"
    assert f.status("p")["podIP"] == "10.244.0.2", "but keeps reporting it"


async def test_run_seconds_sets_when_the_container_exits():
    f = Fixture()
    f.add(make_pod("p").policy("Never").annotate(exit_code="0", run_seconds="3").obj())
    await f.drive("p", 3.0)
    assert f.status("p")["phase"] == "Running"
    await f.drive("p", 0.1)
    terminated = f.container("p")["state"]["terminated"]
    assert (terminated["startedAt"], terminated["finishedAt"]) == ("2027-01-15T08:00:00Z", "2027-01-15T08:00:03Z")


async def test_ready_false_annotation_keeps_the_pod_running_but_not_ready():
    f = Fixture()
    f.add(make_pod("p").annotate(ready="false").obj())
    await f.drive("p", 5)
    assert f.status("p")["phase"] == "Running"
    assert f.container("p")["ready"] is False and f.container("p")["started"] is True
    ready = f.condition("p", "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "ContainersNotReady", "containers with unready status: [app]")


async def test_a_readiness_probe_delay_delays_ready():
    f = Fixture()
    pod = make_pod("p").obj()
    pod["spec"]["containers"][0]["readinessProbe"] = {"initialDelaySeconds": 2, "httpGet": {"port": 80}}
    f.add(pod)
    await f.drive("p", 1)
    assert f.status("p")["phase"] == "Running" and f.container("p")["ready"] is False
    await f.drive("p", 1.1)
    assert f.container("p")["ready"] is True


async def test_crash_loop_restarts_at_once_then_backs_off():
    f = Fixture()
    f.add(make_pod("p").annotate(exit_code="1", run_seconds="0.5", backoff_seconds="1").obj())
    await f.drive("p", 0.7)  # exited at 0.55, restarted at once (upstream: no back-off before the first restart)
    cs = f.container("p")
    assert (cs["restartCount"], list(cs["state"])) == (1, ["running"])
    assert cs["lastState"]["terminated"]["exitCode"] == 1 and cs["lastState"]["terminated"]["reason"] == "Error"
    await f.drive("p", 0.5)  # second exit at 1.10: back-off 1 s
    cs = f.container("p")
    assert cs["restartCount"] == 1
    assert cs["state"] == {"waiting": {
        "reason": "CrashLoopBackOff", "message": "back-off 1s restarting failed container=app pod=p_default(uid-p)"}}
    assert (cs["ready"], cs["started"]) == (False, False)
    assert f.status("p")["phase"] == "Running"
    assert ("Warning", "BackOff", "Back-off restarting failed container app in pod p_default(uid-p)",
            "spec.containers{app}") in f.events.events
    await f.drive("p", 1.1)  # back-off over at 2.10: restarted, next back-off doubles
    assert f.container("p")["restartCount"] == 2 and "running" in f.container("p")["state"]
    await f.drive("p", 1.0)
    assert "back-off 2s" in f.container("p")["state"]["waiting"]["message"]


async def test_on_failure_restarts_only_failed_containers():
    f = Fixture()
    f.add(make_pod("p").policy("OnFailure").annotate(exit_code="3", backoff_seconds="10").obj())
    await f.drive("p", 1.2)
    assert f.container("p")["restartCount"] == 1
    assert f.status("p")["phase"] == "Running"


async def test_graceful_deletion_stops_containers_writes_final_status_then_deletes():
    f = Fixture()
    f.add(make_pod("web").obj())
    await f.drive("web", 1)
    f.client.clear_actions()
    f.events.events.clear()
    f.add(make_pod("web").deleting(grace=30).status(**f.status("web")).obj())
    f.queue.delayed.clear()
    await f.sync("web")
    assert f.events.events == [("Normal", "Killing", "Stopping container app", "spec.containers{app}")]
    assert f.client.verbs() == [], "still stopping"
    assert f.queue.rounded() == [("default/web", 0.1)]
    f.clock.advance(0.1)
    await f.sync("web")
    assert f.client.verbs() == ["patch pods/status", "delete pods"]
    final = f.client.actions_for("patch", "pods/status")[0].obj["status"]
    assert final["phase"] == "Succeeded"
    assert final["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    delete = f.client.actions_for("delete", "pods")[0]
    assert delete.options == {"grace_period_seconds": 0, "preconditions": {"uid": "uid-web"}}
    assert len(f.nodes["n1"].ips) == 0
    await f.sync("web")  # the pod is gone: everything about it is forgotten
    assert f.workers._states == {} and len(f.runtime) == 0


async def test_a_short_grace_period_stops_sooner():
    f = Fixture()
    f.add(make_pod("web").obj())
    await f.drive("web", 1)
    f.add(make_pod("web").deleting(grace=0.02).status(**f.status("web")).obj())
    f.queue.delayed.clear()
    await f.sync("web")
    assert f.queue.rounded() == [("default/web", 0.02)]


async def test_a_pod_deleted_before_it_ran_here_is_deleted_at_once():
    f = Fixture()
    f.add(make_pod("p").deleting().obj())
    await f.sync("p")
    assert f.client.verbs() == ["delete pods"]
    assert len(f.runtime) == 0


async def test_a_finished_pod_held_by_a_finalizer_is_not_deleted_twice():
    f = Fixture()
    pod = make_pod("p").deleting(grace=0).status(phase="Succeeded").obj()
    pod["metadata"]["finalizers"] = ["batch.kubernetes.io/job-tracking"]
    f.add(pod)
    await f.sync("p")
    assert f.client.verbs() == []


def running_status(*, ip: str = "10.244.0.2", restarts: int = 2, ready: bool = True, started_at: str) -> dict:
    return {
        "phase": "Running", "hostIP": "127.1.0.1", "hostIPs": [{"ip": "127.1.0.1"}], "podIP": ip,
        "podIPs": [{"ip": ip}], "startTime": "2027-01-15T07:00:00Z", "observedGeneration": 1,
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": "2027-01-15T07:00:00Z",
             "observedGeneration": 1},
            {"type": "Initialized", "status": "True", "lastTransitionTime": "2027-01-15T07:00:00Z",
             "observedGeneration": 1},
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": "2027-01-15T07:00:00Z",
             "observedGeneration": 1,
             **({} if ready else {"reason": "ContainersNotReady",
                                  "message": "containers with unready status: [app]"})},
            {"type": "ContainersReady", "status": "True" if ready else "False",
             "lastTransitionTime": "2027-01-15T07:00:00Z", "observedGeneration": 1,
             **({} if ready else {"reason": "ContainersNotReady",
                                  "message": "containers with unready status: [app]"})},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2027-01-15T07:00:00Z"}],
        "containerStatuses": [{
            "containerID": "fake://" + "a" * 64, "image": "docker.io/library/nginx:latest",
            "imageID": "docker.io/library/nginx@sha256:" + "b" * 64, "name": "app", "ready": ready,
            "restartCount": restarts, "started": True, "state": {"running": {"startedAt": started_at}},
            "lastState": {"terminated": {"containerID": "fake://" + "c" * 64, "exitCode": 1, "reason": "Error",
                                         "startedAt": "2027-01-15T07:00:00Z",
                                         "finishedAt": "2027-01-15T07:10:00Z"}}}],
    }


async def test_an_agent_restart_adopts_running_pods_without_touching_them():
    f = Fixture()
    f.add(make_pod("web").status(**running_status(started_at="2027-01-15T07:10:01Z")).obj())
    assert f.workers.adopt_existing() == 1
    await f.drive("web", 60)
    assert f.client.verbs() == [], "no restart, no status write"
    assert f.events.events == []
    f.add(make_pod("new").obj())
    await f.sync("new")
    assert f.status("new")["podIP"] == "10.244.0.3", "the adopted pod keeps its address"


async def test_adopted_planned_exit_keeps_its_schedule():
    f = Fixture()
    started = "2027-01-15T07:59:58Z"  # two seconds ago; run-seconds 5 → exits 3 s from now
    pod = make_pod("job").policy("Never").annotate(run_seconds="5", exit_code="0").status(
        **running_status(restarts=0, started_at=started)).obj()
    pod["status"]["containerStatuses"][0]["lastState"] = {}
    f.add(pod)
    f.workers.adopt_existing()
    f.queue.delayed.clear()
    await f.sync("job")
    assert f.client.verbs() == []
    assert f.queue.rounded() == [("default/job", 3.0)]
    await f.drive("job", 3.1)
    assert f.status("job")["phase"] == "Succeeded"
    assert f.container("job")["state"]["terminated"]["startedAt"] == started


async def test_an_adopted_crash_loop_keeps_its_back_off():
    f = Fixture()
    status = running_status(restarts=4, ready=False, started_at="x")
    cs = status["containerStatuses"][0]
    cs["started"] = False
    cs["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                               "message": "back-off 20s restarting failed container=app pod=p_default(uid-p)"}}
    cs["lastState"]["terminated"]["finishedAt"] = "2027-01-15T07:59:55Z"  # 5 s ago
    cs["containerID"] = cs["lastState"]["terminated"]["containerID"]  # the exited instance's, as upstream
    f.add(make_pod("p").annotate(exit_code="1").status(**status).obj())
    f.workers.adopt_existing()
    f.queue.delayed.clear()
    await f.sync("p")
    assert f.client.verbs() == [] and f.events.events == []
    assert f.queue.rounded() == [("default/p", 15.0)]
    await f.drive("p", 15.1)
    assert f.container("p")["restartCount"] == 5


@pytest.mark.parametrize("capacity,requests,reason,message", [
    pytest.param({"pods": 1}, {}, "OutOfpods",
                 "Node didn't have enough resource: pods, requested: 1, used: 1, capacity: 1", id="pods"),
    pytest.param({"cpu": "4"}, {"cpu": "3"}, "OutOfcpu",
                 "Node didn't have enough resource: cpu, requested: 3000, used: 3000, capacity: 4000", id="cpu"),
    pytest.param({"memory": "1Gi"}, {"memory": "600Mi"}, "OutOfmemory",
                 "Node didn't have enough resource: memory, requested: 629145600, used: 629145600, "
                 "capacity: 1073741824", id="memory"),
])
async def test_admission_rejects_pods_that_do_not_fit(capacity, requests, reason, message):
    f = Fixture(**capacity)
    f.add(make_pod("a").requests(**requests).obj())
    f.add(make_pod("b").requests(**requests).obj())
    await f.sync("a")
    f.client.clear_actions()
    await f.sync("b")
    assert f.client.verbs() == ["patch pods/status"]
    status = f.status("b")
    assert (status["phase"], status["reason"], status["message"]) == ("Failed", reason, f"Pod was rejected: {message}")
    assert ("Warning", reason, message, "") in f.events.events
    assert len(f.nodes["n1"].ips) == 1


async def test_init_containers_run_in_order_before_the_app():
    f = Fixture()
    f.add(make_pod("p").init("first", "second").obj())
    await f.sync("p")
    assert [e[3] for e in f.events.events if e[1] == "Started"] == ["spec.initContainers{first}"]
    assert f.container("p")["state"] == {"waiting": {"reason": "PodInitializing"}}
    initialized = f.condition("p", "Initialized")
    assert (initialized["status"], initialized["reason"], initialized["message"]) == (
        "False", "ContainersNotInitialized", "containers with incomplete status: [first second]")
    await f.drive("p", 1)
    assert [e[3] for e in f.events.events if e[1] == "Started"] == [
        "spec.initContainers{first}", "spec.initContainers{second}", "spec.containers{app}"]
    assert f.status("p")["phase"] == "Running" and f.condition("p", "Initialized")["status"] == "True"
    first = f.container("p", 0, init=True)
    assert first["ready"] is True and first["state"]["terminated"]["reason"] == "Completed"


async def test_sidecars_start_first_and_stop_when_the_job_is_done():
    f = Fixture()
    f.add(make_pod("p").policy("Never").init("proxy", sidecar=True).obj())
    await f.drive("p", 0.2)
    assert f.container("p", 0, init=True)["started"] is True
    assert f.status("p")["phase"] == "Running"
    await f.drive("p", 2)
    assert f.status("p")["phase"] == "Succeeded"
    assert "terminated" in f.container("p", 0, init=True)["state"]


async def test_a_replaced_pod_starts_over_and_frees_the_old_address():
    f = Fixture()
    f.add(make_pod("p").obj())
    await f.drive("p", 1)
    replacement = make_pod("p").obj()
    replacement["metadata"]["uid"] = "uid-p2"
    f.add(replacement)
    await f.sync("p")
    assert len(f.nodes["n1"].ips) == 1
    assert f.status("p")["podIP"] == "10.244.0.3"
    assert f.container("p")["restartCount"] == 0


async def test_pods_of_other_nodes_are_ignored():
    f = Fixture(nodes=("n1", "n2"))
    f.add(make_pod("elsewhere", node="n9").obj())
    f.add(make_pod("here", node="n2").obj())
    assert "default/elsewhere" not in f.workers.queue._dirty
    await f.sync("elsewhere")
    await f.sync("here")
    assert f.client.verbs() == ["patch pods/status"]
    assert f.status("here")["hostIP"] == "127.1.0.2" and f.status("here")["podIP"] == "10.244.1.2"


async def test_host_network_pods_use_the_node_address():
    f = Fixture()
    pod = make_pod("p").obj()
    pod["spec"]["hostNetwork"] = True
    f.add(pod)
    await f.sync("p")
    assert f.status("p")["podIP"] == "127.1.0.1" and len(f.nodes["n1"].ips) == 0


def test_pod_requests_follow_upstream_rules():
    pod = make_pod("p").containers("a", "b").obj()
    for c in pod["spec"]["containers"]:
        c["resources"] = {"requests": {"cpu": "250m", "memory": "64Mi"}}
    pod["spec"]["initContainers"] = [
        {"name": "sidecar", "image": "x", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
        {"name": "setup", "image": "x", "resources": {"requests": {"cpu": "2", "memory": "1Mi"}}},
    ]
    requests = pod_requests(pod)
    assert requests["cpu"] == Decimal("2.1")  # the init container plus the sidecar running beside it
    assert requests["memory"] == 128 * 2**20


def test_clock_fixture_starts_at_t0():
    assert Clock()() == T0


async def test_large_simulations_write_a_fast_start_once():
    f = Fixture()
    f.workers.coalesce = 0.5
    f.add(make_pod("web").obj())
    await f.sync("web")
    assert f.client.verbs() == [], "ContainerCreating is followed within 50 ms: held back"
    assert f.queue.rounded() == [("default/web", 0.05)]
    f.clock.advance(0.05)
    await f.sync("web")
    assert f.client.verbs() == ["patch pods/status"]
    assert f.status("web")["phase"] == "Running" and f.container("web")["ready"] is True


@pytest.mark.parametrize("coalesce,writes", [pytest.param(0.0, 5, id="every-change"),
                                              pytest.param(0.5, 3, id="coalesced")])
async def test_coalescing_never_holds_a_status_back_twice_in_a_row(coalesce, writes):
    f = Fixture()
    f.workers.coalesce = coalesce
    f.add(make_pod("p").annotate(exit_code="1", run_seconds="0.1", backoff_seconds="10").obj())
    # created 0 → running 0.05 → exited and restarted 0.15 → running 0.20 → exited, back-off 0.30
    await f.drive("p", 0.3)
    assert f.client.verbs() == ["patch pods/status"] * writes
    assert f.container("p")["state"]["waiting"]["reason"] == "CrashLoopBackOff"


async def test_managed_fields_are_not_kept_in_the_agents_cache():
    f = Fixture()
    pod = make_pod("p").obj()
    pod["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    f.add(pod)
    assert "managedFields" not in f.informer.get("default", "p")["metadata"]
