"""Deployment controller: rollouts, scaling events, pause, rollback, progress, history.

Caches are seeded (not started), `sync` runs once, and the actions the FakeClient recorded
are asserted. Time is injected through the context clock; events go to a list recorder.
Pure arithmetic (fenceposts, proportions, revisions) is in test_deployment_util.py.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from podplane.api.errors import ApiError
from podplane.api.meta import format_time
from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.controllers.common import compute_hash
from podplane.controllers.deployment import new
from podplane.controllers.deployment.sync import calculate_status
from podplane.controllers.manager import ControllerContext

NOW = 1_800_000_000.0
NOW_DT = dt.datetime.fromtimestamp(NOW, dt.UTC)
REVISION = "deployment.kubernetes.io/revision"


def ago(seconds: float) -> str:
    return format_time(NOW_DT - dt.timedelta(seconds=seconds))


# -- builders ---------------------------------------------------------------------------------
def make_deployment(*, replicas: int = 3, image: str = "nginx:1", strategy: dict | None = None,
                    paused: bool = False, generation: int = 1, status: dict | None = None,
                    annotations: dict | None = None, progress_deadline: int | None = 600,
                    history_limit: int = 10, selector: dict | None = None) -> dict:
    spec = {"replicas": replicas, "selector": selector if selector is not None else {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "c", "image": image}]}},
            "strategy": strategy or {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "revisionHistoryLimit": history_limit}
    if progress_deadline is not None:
        spec["progressDeadlineSeconds"] = progress_deadline
    if paused:
        spec["paused"] = True
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "uid": "uid-web", "generation": generation,
                         "annotations": annotations or {}, "creationTimestamp": ago(10_000)},
            "spec": spec, "status": status or {}}


def template_for(d: dict, image: str) -> dict:
    template = copy.deepcopy(d["spec"]["template"])
    template["spec"]["containers"][0]["image"] = image
    return template


def make_rs(d: dict, image: str, *, replicas: int, available: int | None = None, ready: int | None = None,
            status_replicas: int | None = None, revision: int = 1, created: float = 5000, desired: int | None = None,
            max_replicas: int | None = None, generation: int = 1, observed: int = 1, owned: bool = True,
            name: str | None = None, annotations: dict | None = None) -> dict:
    template = template_for(d, image)
    hash_ = compute_hash(template)
    template["metadata"]["labels"]["pod-template-hash"] = hash_
    desired = d["spec"]["replicas"] if desired is None else desired
    available = replicas if available is None else available
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "metadata": {"name": name or f"web-{hash_}", "namespace": "ns", "uid": f"uid-rs-{image}",
                       "generation": generation, "creationTimestamp": ago(created),
                       "labels": dict(template["metadata"]["labels"]),
                       "annotations": {REVISION: str(revision),
                                       "deployment.kubernetes.io/desired-replicas": str(desired),
                                       "deployment.kubernetes.io/max-replicas": str(
                                           max_replicas if max_replicas is not None else desired + 1),
                                       **(annotations or {})}},
          "spec": {"replicas": replicas, "minReadySeconds": 0,
                   "selector": {"matchLabels": {"app": "web", "pod-template-hash": hash_}},
                   "template": template},
          "status": {"replicas": replicas if status_replicas is None else status_replicas,
                     "readyReplicas": available if ready is None else ready, "availableReplicas": available,
                     "observedGeneration": observed}}
    if owned:
        rs["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                              "uid": d["metadata"]["uid"], "controller": True,
                                              "blockOwnerDeletion": True}]
    return rs


def cond(cond_type: str, status: str, reason: str, updated: float = 100, message: str = "m") -> dict:
    return {"type": cond_type, "status": status, "lastUpdateTime": ago(updated), "lastTransitionTime": ago(updated),
            "reason": reason, "message": message}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: dict, event_type: str, reason: str, message: str) -> None:
        self.events.append((event_type, reason, message))

    def messages(self, reason: str = "ScalingReplicaSet") -> list[str]:
        return [m for _, r, m in self.events if r == reason]


class Fixture:
    def __init__(self, client: FakeClient | None = None) -> None:
        self.client = client or FakeClient()
        self.factory = InformerFactory(self.client)
        self.now = NOW
        self.ctx = ControllerContext(client=self.client, informers=self.factory, clock=lambda: self.now)
        self.controller = new(self.ctx)
        self.recorder = Recorder()
        self.controller.recorder = self.recorder
        self.delayed: list[tuple[str, float]] = []
        self.rate_limited: list[str] = []
        self.controller.queue.add_after = lambda key, delay: self.delayed.append((key, delay))
        self.controller.queue.add_rate_limited = self.rate_limited.append
        self._cached: dict[tuple[str, str], list[dict]] = {}

    def add(self, group: str, plural: str, obj: dict) -> dict:
        stored = self.client.seed(self.client.resource(group, plural), obj)
        items = [o for o in self._cached.setdefault((group, plural), [])
                 if o["metadata"]["name"] != stored["metadata"]["name"]]
        items.append(stored)
        self._cached[(group, plural)] = items
        self.factory.resource(group, plural).replace(items, "1")
        return stored

    def deployment(self, d: dict) -> dict:
        return self.add("apps", "deployments", d)

    def rs(self, *rss: dict) -> list[dict]:
        return [self.add("apps", "replicasets", rs) for rs in rss]

    async def sync(self) -> None:
        await self.controller.sync("ns/web")

    async def drain(self) -> None:
        """Empty the queue of what seeding the caches enqueued."""
        while len(self.controller.queue):
            self.controller.queue.done(await self.controller.queue.get())

    def verbs(self) -> list[str]:
        return self.client.verbs()

    def rs_updates(self) -> list[dict]:
        return [a.obj for a in self.client.actions_for("update", "replicasets")]

    def created(self) -> list[dict]:
        return [a.obj for a in self.client.actions_for("create", "replicasets")]

    def last_status(self) -> dict:
        return self.client.actions_for("update", "deployments/status")[-1].obj["status"]

    def condition(self, cond_type: str) -> dict | None:
        for c in self.last_status().get("conditions") or ():
            if c["type"] == cond_type:
                return c
        return None


# -- first rollout ------------------------------------------------------------------------------
async def test_new_deployment_creates_its_first_replica_set():
    f = Fixture()
    d = f.deployment(make_deployment())
    await f.sync()
    assert f.verbs() == ["create replicasets", "update deployments/status", "update deployments/status"]
    rs = f.created()[0]
    hash_ = compute_hash(d["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{hash_}"
    assert rs["metadata"]["labels"] == {"app": "web", "pod-template-hash": hash_}
    assert rs["spec"]["selector"] == {"matchLabels": {"app": "web", "pod-template-hash": hash_}}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": hash_}
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["annotations"] == {REVISION: "1", "deployment.kubernetes.io/desired-replicas": "3",
                                             "deployment.kubernetes.io/max-replicas": "4"}
    ref = rs["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["uid"], ref["controller"]) == ("Deployment", "uid-web", True)
    stored = f.client.stored(f.client.resource("apps", "deployments"), "web", "ns")
    assert stored["metadata"]["annotations"][REVISION] == "1"
    progressing = f.condition("Progressing")
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "True", "NewReplicaSetCreated", f'Created new replica set "web-{hash_}"')
    available = f.condition("Available")
    assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
    assert f.last_status()["observedGeneration"] == 1
    assert f.recorder.messages() == [f"Scaled up replica set web-{hash_} from 0 to 3"]


async def test_change_cause_is_copied_but_last_applied_is_not():
    f = Fixture()
    f.deployment(make_deployment(annotations={"kubernetes.io/change-cause": "kubectl set image",
                                              "kubectl.kubernetes.io/last-applied-configuration": "{}"}))
    await f.sync()
    annotations = f.created()[0]["metadata"]["annotations"]
    assert annotations["kubernetes.io/change-cause"] == "kubectl set image"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in annotations


async def test_template_change_starts_a_rollout_with_the_next_revision():
    f = Fixture()
    d = f.deployment(make_deployment(image="nginx:2", generation=2, annotations={REVISION: "1"},
                                     status={"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3}))
    old = f.rs(make_rs(d, "nginx:1", replicas=3))[0]
    await f.sync()
    new_rs = f.created()[0]
    # 3 desired + 25% surge (rounded up: 1) = 4 pods at most: the new RS gets 1
    assert new_rs["spec"]["replicas"] == 1
    assert new_rs["metadata"]["annotations"][REVISION] == "2"
    assert f.rs_updates() == []  # maxUnavailable rounds down to 0: no old pod goes yet
    assert f.recorder.messages() == [f"Scaled up replica set {new_rs['metadata']['name']} from 0 to 1"]
    assert old["metadata"]["name"] != new_rs["metadata"]["name"]


async def test_rolling_step_scales_old_down_when_new_pods_are_available():
    f = Fixture()
    d = f.deployment(make_deployment(image="nginx:2", generation=2, annotations={REVISION: "2"},
                                     status={"conditions": [cond("Progressing", "True", "ReplicaSetUpdated")]}))
    old, new_rs = f.rs(make_rs(d, "nginx:1", replicas=3, created=5000),
                       make_rs(d, "nginx:2", replicas=1, revision=2, created=10))
    await f.sync()
    assert f.verbs()[0] == "update replicasets"
    update = f.rs_updates()[0]
    assert (update["metadata"]["name"], update["spec"]["replicas"]) == (old["metadata"]["name"], 2)
    assert f.recorder.messages() == [f"Scaled down replica set {old['metadata']['name']} from 3 to 2"]


async def test_rolling_step_scales_new_up_after_old_went_down():
    f = Fixture()
    d = f.deployment(make_deployment(image="nginx:2", generation=2, annotations={REVISION: "2"},
                                     status={"conditions": [cond("Progressing", "True", "ReplicaSetUpdated")]}))
    _, new_rs = f.rs(make_rs(d, "nginx:1", replicas=2, created=5000),
                     make_rs(d, "nginx:2", replicas=1, revision=2, created=10))
    await f.sync()
    update = f.rs_updates()[0]
    assert (update["metadata"]["name"], update["spec"]["replicas"]) == (new_rs["metadata"]["name"], 2)
    assert f.recorder.messages() == [f"Scaled up replica set {new_rs['metadata']['name']} from 1 to 2"]


async def test_unhealthy_old_pods_are_scaled_down_first():
    f = Fixture()
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
    d = f.deployment(make_deployment(image="nginx:2", generation=2, strategy=strategy, annotations={REVISION: "2"},
                                     status={"conditions": [cond("Progressing", "True", "ReplicaSetUpdated")]}))
    old, _ = f.rs(make_rs(d, "nginx:1", replicas=3, available=1, max_replicas=4),
                  make_rs(d, "nginx:2", replicas=1, revision=2, created=10, max_replicas=4))
    await f.sync()
    # 4 pods, minAvailable 2, new RS fully available: 2 may go, both unavailable old ones
    assert [(u["metadata"]["name"], u["spec"]["replicas"]) for u in f.rs_updates()] == [(old["metadata"]["name"], 1)]


async def test_broken_new_replica_set_does_not_drain_old_pods():
    f = Fixture()
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
    d = f.deployment(make_deployment(image="nginx:2", generation=2, strategy=strategy, annotations={REVISION: "2"},
                                     status={"conditions": [cond("Progressing", "True", "ReplicaSetUpdated")]}))
    f.rs(make_rs(d, "nginx:1", replicas=2, max_replicas=4),
         make_rs(d, "nginx:2", replicas=2, available=0, revision=2, created=10, max_replicas=4))
    await f.sync()
    assert f.rs_updates() == []


# -- scaling events ----------------------------------------------------------------------------
async def test_scaling_a_settled_deployment_scales_its_only_replica_set():
    f = Fixture()
    d = f.deployment(make_deployment(replicas=5, generation=2, annotations={REVISION: "1"}))
    rs = f.rs(make_rs(d, "nginx:1", replicas=3, desired=3))[0]
    await f.sync()
    update = f.rs_updates()[0]
    assert update["spec"]["replicas"] == 5
    assert update["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "5"
    assert update["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "7"
    assert f.recorder.messages() == [f"Scaled up replica set {rs['metadata']['name']} from 3 to 5"]
    assert f.last_status()["observedGeneration"] == 2
    assert "create replicasets" not in f.verbs()


async def test_scaling_mid_rollout_is_proportional():
    f = Fixture()
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 0}}
    d = f.deployment(make_deployment(replicas=20, image="nginx:2", generation=3, strategy=strategy,
                                     annotations={REVISION: "2"}, status={"replicas": 13}))
    old, new_rs = f.rs(make_rs(d, "nginx:1", replicas=8, desired=10, max_replicas=13),
                       make_rs(d, "nginx:2", replicas=5, desired=10, max_replicas=13, revision=2, created=10))
    await f.sync()
    # 23 allowed, 10 to add: 8*23/13 = 14.2 → 14, 5*23/13 = 8.8 → 9
    assert [(u["metadata"]["name"], u["spec"]["replicas"]) for u in f.rs_updates()] == [
        (old["metadata"]["name"], 14), (new_rs["metadata"]["name"], 9)]
    assert f.recorder.messages() == [f"Scaled up replica set {old['metadata']['name']} from 8 to 14",
                                     f"Scaled up replica set {new_rs['metadata']['name']} from 5 to 9"]


async def test_scaling_down_mid_rollout_takes_from_the_older_first():
    f = Fixture()
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    d = f.deployment(make_deployment(replicas=2, image="nginx:2", generation=3, strategy=strategy,
                                     annotations={REVISION: "2"}, status={"replicas": 5}))
    old, new_rs = f.rs(make_rs(d, "nginx:1", replicas=2, desired=4, max_replicas=5),
                       make_rs(d, "nginx:2", replicas=2, desired=4, max_replicas=5, revision=2, created=10))
    await f.sync()
    # 3 allowed, 4 running: equal sizes, so the older RS loses the pod (2*3/5 = 1.2 → 1);
    # the newer one keeps its size and only gets the new desired/max annotations
    updates = [(u["metadata"]["name"], u["spec"]["replicas"],
                u["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"]) for u in f.rs_updates()]
    assert updates == [(old["metadata"]["name"], 1, "2"), (new_rs["metadata"]["name"], 2, "2")]
    assert f.recorder.messages() == [f"Scaled down replica set {old['metadata']['name']} from 2 to 1"]


# -- pause and resume -------------------------------------------------------------------------
async def test_paused_deployment_does_not_roll_out_but_reports_status():
    f = Fixture()
    d = f.deployment(make_deployment(image="nginx:2", paused=True, generation=2, annotations={REVISION: "1"},
                                     status={"observedGeneration": 1}))
    f.rs(make_rs(d, "nginx:1", replicas=3))
    await f.sync()
    assert "create replicasets" not in f.verbs()
    assert f.rs_updates() == []
    progressing = f.condition("Progressing")
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "Unknown", "DeploymentPaused", "Deployment is paused")
    status = f.last_status()
    assert status["observedGeneration"] == 2
    assert status.get("updatedReplicas", 0) == 0 and status["replicas"] == 3


async def test_resumed_deployment_rolls_out():
    f = Fixture()
    d = f.deployment(make_deployment(image="nginx:2", generation=3, annotations={REVISION: "1"},
                                     status={"conditions": [cond("Progressing", "Unknown", "DeploymentPaused")]}))
    f.rs(make_rs(d, "nginx:1", replicas=3))
    await f.sync()
    first = f.client.actions_for("update", "deployments/status")[0].obj["status"]["conditions"][-1]
    assert (first["type"], first["reason"], first["message"]) == ("Progressing", "DeploymentResumed",
                                                                  "Deployment is resumed")
    assert len(f.created()) == 1


# -- progress -----------------------------------------------------------------------------------
def stuck(updated: float, deadline: int = 5) -> tuple[Fixture, dict]:
    f = Fixture()
    d0 = make_deployment(progress_deadline=deadline, annotations={REVISION: "1"})
    f.deployment(make_deployment(progress_deadline=deadline, annotations={REVISION: "1"}, status={
        "observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "unavailableReplicas": 3,
        "conditions": [cond("Available", "False", "MinimumReplicasUnavailable", 100,
                            "Deployment does not have minimum availability."),
                       cond("Progressing", "True", "ReplicaSetUpdated", updated, "ReplicaSet is progressing.")]}))
    rs = f.rs(make_rs(d0, "nginx:1", replicas=3, available=0))[0]
    return f, rs


async def test_progress_deadline_exceeded():
    f, rs = stuck(updated=10)
    await f.sync()
    progressing = f.condition("Progressing")
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "False", "ProgressDeadlineExceeded", f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.')


async def test_stuck_deployment_is_requeued_for_its_deadline():
    f, _ = stuck(updated=2)
    await f.sync()
    assert f.verbs() == []
    assert f.delayed == [("ns/web", 4.0)]  # 3 s left, plus a second against clock skew


async def test_progress_refreshes_last_update_time_but_keeps_transition_time():
    f = Fixture()
    d0 = make_deployment(annotations={REVISION: "1"})
    f.deployment(make_deployment(annotations={REVISION: "1"}, status={
        "observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 1,
        "conditions": [cond("Progressing", "True", "ReplicaSetUpdated", 50)]}))
    f.rs(make_rs(d0, "nginx:1", replicas=3, available=2))
    await f.sync()
    progressing = f.condition("Progressing")
    assert progressing["lastUpdateTime"] == format_time(NOW_DT)
    assert progressing["lastTransitionTime"] == ago(50)
    assert progressing["reason"] == "ReplicaSetUpdated"


async def test_complete_rollout_reports_new_replica_set_available():
    f = Fixture()
    d0 = make_deployment(annotations={REVISION: "1"})
    f.deployment(make_deployment(annotations={REVISION: "1"}, status={
        "observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2,
        "conditions": [cond("Progressing", "True", "ReplicaSetUpdated", 50)]}))
    rs = f.rs(make_rs(d0, "nginx:1", replicas=3))[0]
    await f.sync()
    status = f.last_status()
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"], status["availableReplicas"]) == (
        3, 3, 3, 3)
    assert "unavailableReplicas" not in status
    progressing = f.condition("Progressing")
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "True", "NewReplicaSetAvailable", f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.')
    available = f.condition("Available")
    assert (available["status"], available["reason"]) == ("True", "MinimumReplicasAvailable")


async def test_no_progress_deadline_removes_the_progressing_condition():
    f = Fixture()
    d0 = make_deployment(progress_deadline=None, annotations={REVISION: "1"})
    f.deployment(make_deployment(progress_deadline=None, annotations={REVISION: "1"}, status={
        "conditions": [cond("Progressing", "True", "ReplicaSetUpdated")]}))
    f.rs(make_rs(d0, "nginx:1", replicas=3))
    await f.sync()
    assert f.condition("Progressing") is None


async def test_replica_failure_is_mirrored_from_the_new_replica_set():
    f = Fixture()
    d0 = make_deployment(annotations={REVISION: "1"})
    f.deployment(make_deployment(annotations={REVISION: "1"}))
    rs = make_rs(d0, "nginx:1", replicas=3, available=0, status_replicas=0)
    rs["status"]["conditions"] = [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                                   "message": "quota exceeded", "lastTransitionTime": ago(5)}]
    f.rs(rs)
    await f.sync()
    failure = f.condition("ReplicaFailure")
    assert (failure["status"], failure["reason"], failure["message"]) == ("True", "FailedCreate", "quota exceeded")


# -- rollback and history ---------------------------------------------------------------------
async def test_rollback_reuses_the_old_replica_set_with_a_new_revision():
    f = Fixture()
    d = f.deployment(make_deployment(image="nginx:1", generation=3, annotations={
        REVISION: "2", "kubernetes.io/change-cause": "rollback"},
        status={"conditions": [cond("Progressing", "True", "NewReplicaSetAvailable")]}))
    rs1, rs2 = f.rs(make_rs(d, "nginx:1", replicas=0, revision=1, created=9000),
                    make_rs(d, "nginx:2", replicas=3, revision=2, created=5000))
    await f.sync()
    assert "create replicasets" not in f.verbs()
    bumped = f.rs_updates()[0]
    assert bumped["metadata"]["name"] == rs1["metadata"]["name"]
    assert bumped["metadata"]["annotations"][REVISION] == "3"
    assert bumped["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert bumped["metadata"]["annotations"]["kubernetes.io/change-cause"] == "rollback"
    stored = f.client.stored(f.client.resource("apps", "deployments"), "web", "ns")
    assert stored["metadata"]["annotations"][REVISION] == "3"
    assert f.recorder.messages() == [f"Scaled up replica set {rs1['metadata']['name']} from 0 to 1"]
    assert rs2["metadata"]["name"] not in [u["metadata"]["name"] for u in f.rs_updates()]


async def test_old_replica_sets_beyond_the_history_limit_are_deleted():
    f = Fixture()
    d = f.deployment(make_deployment(image="nginx:4", history_limit=1, annotations={REVISION: "4"}, status={
        "observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
        "conditions": [cond("Progressing", "True", "NewReplicaSetAvailable")]}))
    r1, r2, r3, _ = f.rs(make_rs(d, "nginx:1", replicas=0, revision=1, created=4000),
                         make_rs(d, "nginx:2", replicas=0, revision=2, created=3000),
                         make_rs(d, "nginx:3", replicas=0, revision=3, created=2000),
                         make_rs(d, "nginx:4", replicas=3, revision=4, created=1000))
    await f.sync()
    deleted = sorted(a.name for a in f.client.actions_for("delete", "replicasets"))
    assert deleted == sorted([r1["metadata"]["name"], r2["metadata"]["name"]])


async def test_history_cleanup_skips_replica_sets_with_pods_left():
    f = Fixture()
    d = f.deployment(make_deployment(image="nginx:3", history_limit=0, annotations={REVISION: "3"}, status={
        "observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3}))
    r1, _, _ = f.rs(make_rs(d, "nginx:1", replicas=0, revision=1, status_replicas=0, available=0),
                    make_rs(d, "nginx:2", replicas=0, revision=2, status_replicas=1, available=0),
                    make_rs(d, "nginx:3", replicas=3, revision=3))
    await f.sync()
    assert [a.name for a in f.client.actions_for("delete", "replicasets")] == [r1["metadata"]["name"]]


# -- recreate ------------------------------------------------------------------------------------
RECREATE = {"type": "Recreate"}


async def test_recreate_scales_old_to_zero_before_creating():
    f = Fixture()
    d = f.deployment(make_deployment(image="nginx:2", strategy=RECREATE, generation=2, annotations={REVISION: "1"}))
    old = f.rs(make_rs(d, "nginx:1", replicas=3, max_replicas=3))[0]
    await f.sync()
    assert "create replicasets" not in f.verbs()
    assert [(u["metadata"]["name"], u["spec"]["replicas"]) for u in f.rs_updates()] == [(old["metadata"]["name"], 0)]


async def test_recreate_waits_for_old_pods_to_terminate():
    f = Fixture()
    d = f.deployment(make_deployment(image="nginx:2", strategy=RECREATE, generation=2, annotations={REVISION: "1"}))
    old = f.rs(make_rs(d, "nginx:1", replicas=0, status_replicas=0, available=0, max_replicas=3))[0]
    f.add("", "pods", {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": "old-pod", "namespace": "ns", "labels": {"app": "web"},
                                    "deletionTimestamp": ago(1),
                                    "ownerReferences": [{"kind": "ReplicaSet", "name": old["metadata"]["name"],
                                                         "uid": old["metadata"]["uid"], "controller": True}]},
                       "spec": {}, "status": {"phase": "Running"}})
    await f.sync()
    assert "create replicasets" not in f.verbs()


async def test_recreate_creates_the_new_replica_set_at_full_size_once_old_pods_are_gone():
    f = Fixture()
    d = f.deployment(make_deployment(image="nginx:2", strategy=RECREATE, generation=2, annotations={REVISION: "1"}))
    f.rs(make_rs(d, "nginx:1", replicas=0, status_replicas=0, available=0, max_replicas=3))
    await f.sync()
    created = f.created()[0]
    assert created["spec"]["replicas"] == 3
    assert created["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "3"


# -- collisions, adoption, odd deployments -------------------------------------------------------
async def test_hash_collision_bumps_collision_count():
    f = Fixture()
    d = f.deployment(make_deployment(image="nginx:2"))
    squatter = make_rs(d, "other:1", replicas=0, owned=False, name=f"web-{compute_hash(template_for(d, 'nginx:2'))}")
    squatter["metadata"]["labels"] = {"unrelated": "yes"}
    f.rs(squatter)
    with pytest.raises(ApiError) as e:
        await f.sync()
    assert e.value.reason == "AlreadyExists"
    assert f.last_status()["collisionCount"] == 1


async def test_collision_count_changes_the_replica_set_name():
    f = Fixture()
    d = f.deployment(make_deployment(status={"collisionCount": 1}))
    await f.sync()
    assert f.created()[0]["metadata"]["name"] == f"web-{compute_hash(d['spec']['template'], 1)}"
    assert f.last_status()["collisionCount"] == 1


async def test_orphan_replica_sets_matching_the_selector_are_adopted():
    f = Fixture()
    d = f.deployment(make_deployment(annotations={REVISION: "1"}))
    orphan = f.rs(make_rs(d, "nginx:1", replicas=3, owned=False))[0]
    await f.sync()
    adopted = f.client.actions_for("patch", "replicasets")
    assert [a.name for a in adopted] == [orphan["metadata"]["name"]]
    assert adopted[0].obj["metadata"]["ownerReferences"][0]["uid"] == "uid-web"
    assert "create replicasets" not in f.verbs()


async def test_selecting_everything_is_refused():
    f = Fixture()
    f.deployment(make_deployment(selector={}, generation=2, status={"observedGeneration": 1}))
    await f.sync()
    assert f.verbs() == ["update deployments/status"]
    assert f.last_status()["observedGeneration"] == 2
    assert f.recorder.events == [("Warning", "SelectingAll",
                                  "This deployment is selecting all pods. A non-empty selector is required.")]


async def test_deleting_deployment_only_syncs_status():
    f = Fixture()
    d = make_deployment(image="nginx:2", generation=2)
    d["metadata"]["deletionTimestamp"] = ago(1)
    d = f.deployment(d)
    f.rs(make_rs(d, "nginx:1", replicas=3))
    await f.sync()
    assert f.verbs() == ["update deployments/status"]


async def test_failed_replica_set_create_is_reported():
    f = Fixture()
    f.client.fail("create", "replicasets", ApiError(403, "Forbidden", "quota exceeded"))
    f.deployment(make_deployment())
    with pytest.raises(ApiError):
        await f.sync()
    progressing = f.condition("Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ReplicaSetCreateError")
    assert "quota exceeded" in progressing["message"]
    assert f.recorder.messages("ReplicaSetCreateError")


async def test_revision_annotation_falls_back_to_a_patch_when_status_writes_drop_it():
    class StrictStatus(FakeClient):
        async def update_status(self, info, obj, **kw):
            current = self.stored(info, obj["metadata"]["name"], obj["metadata"].get("namespace"))
            obj = copy.deepcopy(obj)
            obj["metadata"]["annotations"] = copy.deepcopy(current["metadata"].get("annotations"))
            return await super().update_status(info, obj, **kw)

    f = Fixture(StrictStatus())
    f.deployment(make_deployment())
    await f.sync()
    assert "patch deployments" in f.verbs()
    stored = f.client.stored(f.client.resource("apps", "deployments"), "web", "ns")
    assert stored["metadata"]["annotations"][REVISION] == "1"


def test_calculate_status_counts():
    d = make_deployment(replicas=3)
    old = make_rs(d, "nginx:1", replicas=2, available=2)
    new_rs = make_rs(d, "nginx:2", replicas=2, available=1, ready=1)
    status = calculate_status([old, new_rs], new_rs, d, NOW_DT)
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 1, "replicas": 4, "updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 3,
        "unavailableReplicas": 1}
    assert status["conditions"][0]["reason"] == "MinimumReplicasAvailable"


# -- handlers --------------------------------------------------------------------------------------
async def test_replica_set_events_enqueue_the_deployment():
    f = Fixture()
    d = f.deployment(make_deployment())
    await f.drain()
    f.controller._rs_added(make_rs(d, "nginx:1", replicas=1))
    assert await f.controller.queue.get() == "ns/web"
    f.controller.queue.done("ns/web")
    f.controller._rs_added(make_rs(d, "nginx:1", replicas=1, owned=False))  # orphan: the selector decides
    assert await f.controller.queue.get() == "ns/web"
    f.controller.queue.done("ns/web")
    stranger = make_rs(d, "nginx:1", replicas=1, owned=False)
    stranger["metadata"]["labels"] = {"app": "db"}
    f.controller._rs_added(stranger)
    assert len(f.controller.queue) == 0


@pytest.mark.parametrize("strategy,enqueued", [
    pytest.param(RECREATE, 1, id="recreate"),
    pytest.param(None, 0, id="rolling"),
])
async def test_pod_deletions_matter_only_to_recreate(strategy, enqueued):
    f = Fixture()
    d = f.deployment(make_deployment(strategy=strategy))
    rs = f.rs(make_rs(d, "nginx:1", replicas=1))[0]
    await f.drain()
    f.controller._pod_deleted({"metadata": {"name": "p", "namespace": "ns", "ownerReferences": [
        {"kind": "ReplicaSet", "name": rs["metadata"]["name"], "uid": rs["metadata"]["uid"], "controller": True}]}})
    assert len(f.controller.queue) == enqueued


async def test_conflicts_wait_for_the_cache_instead_of_failing():
    f = Fixture()
    f.deployment(make_deployment())
    f.client.fail("update", "deployments/status", ApiError(409, "Conflict", "the object has been modified"))
    await f.sync()  # no exception: the newer object's event will bring the deployment back
    assert f.delayed == [("ns/web", 1.0)]
    assert f.verbs()[:2] == ["create replicasets", "update deployments/status"]
