"""StatefulSet controller: ordered creation and scale-down, Parallel, storage, retention policy,
rolling updates with partitions, OnDelete, revisions and rollback, status."""

from __future__ import annotations

import datetime as dt

import pytest

from podplane.api.meta import format_time
from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.controllers.revisions import new_revision, revision_data
from podplane.controllers.statefulset import StatefulSetController, SyncError
from podplane.controllers.statefulset.claims import claim_is_stale, claim_owner_up_to_date, owner_refs_for
from podplane.controllers.statefulset.identity import (
    POD_INDEX_LABEL,
    POD_NAME_LABEL,
    REVISION_LABEL,
    new_versioned_pod,
    parent_and_ordinal,
)

NOW = 1_800_000_000.0
KEY = "ns/web"


# ---------------------------------------------------------------------------------- builders

def make_sts(replicas: int = 3, image: str = "nginx:1", *, policy: str = "OrderedReady", partition: int | None = 0,
             strategy: str = "RollingUpdate", claims: bool = True, generation: int = 1, status: dict | None = None,
             retention: tuple[str, str] = ("Retain", "Retain"), **spec) -> dict:
    update: dict = {"type": strategy}
    if strategy == "RollingUpdate" and partition is not None:
        update["rollingUpdate"] = {"partition": partition}
    obj = {"apiVersion": "apps/v1", "kind": "StatefulSet",
           "metadata": {"name": "web", "namespace": "ns", "uid": "uid-web", "generation": generation,
                        "resourceVersion": "1"},
           "spec": {"replicas": replicas, "serviceName": "nginx", "podManagementPolicy": policy,
                    "selector": {"matchLabels": {"app": "web"}}, "updateStrategy": update,
                    "revisionHistoryLimit": 10,
                    "persistentVolumeClaimRetentionPolicy": {"whenDeleted": retention[0], "whenScaled": retention[1]},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "nginx", "image": image}]}},
                    **spec},
           "status": status or {}}
    if claims:
        obj["spec"]["volumeClaimTemplates"] = [{
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    return obj


def revision_for(sts: dict, number: int = 1) -> dict:
    r = new_revision(sts, revision_data(sts), number, 0)
    r["metadata"]["uid"] = f"uid-{r['metadata']['name']}"
    r["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    return r


def rev_name(sts: dict) -> str:
    return revision_for(sts)["metadata"]["name"]


def make_pod(sts: dict, ordinal: int, *, revision: str | None = None, phase: str = "Running", ready: bool = True,
             ready_for: float = 3600, deleting: bool = False) -> dict:
    name = f"web-{ordinal}"
    cond = {"type": "Ready", "status": "True" if ready else "False",
            "lastTransitionTime": format_time(dt.datetime.fromtimestamp(NOW - ready_for, dt.UTC))}
    meta = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": "5",
            "labels": {"app": "web", POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal),
                       REVISION_LABEL: revision or rev_name(sts)},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "uid-web",
                                 "controller": True, "blockOwnerDeletion": True}]}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"hostname": name, "subdomain": "nginx", "containers": [{"name": "nginx"}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": f"data-web-{ordinal}"}}]},
            "status": {"phase": phase, "conditions": [cond]}}


def make_claim(ordinal: int, owners: list[dict] | None = None, deleting: bool = False) -> dict:
    meta: dict = {"name": f"data-web-{ordinal}", "namespace": "ns", "uid": f"uid-data-{ordinal}",
                  "resourceVersion": "3", "labels": {"app": "web"}}
    if owners:
        meta["ownerReferences"] = owners
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def ref(kind: str, name: str, uid: str) -> dict:
    return {"apiVersion": "apps/v1" if kind == "StatefulSet" else "v1", "kind": kind, "name": name, "uid": uid,
            "controller": True, "blockOwnerDeletion": True}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: dict, event_type: str, reason: str, message: str) -> None:
        self.events.append((event_type, reason, message))

    def reasons(self) -> list[str]:
        return [r for _, r, _ in self.events]


class Fixture:
    def __init__(self) -> None:
        self.client = FakeClient()
        self.informers = InformerFactory(self.client)
        self.recorder = Recorder()
        self.now = NOW
        self.ctrl = StatefulSetController(client=self.client, informers=self.informers, recorder=self.recorder,
                                          clock=lambda: self.now)
        self._cache: dict[str, list[dict]] = {}

    def add(self, *objs: dict) -> Fixture:
        """Put objects in the informer cache and in the fake apiserver."""
        for obj in objs:
            group = obj["apiVersion"].rpartition("/")[0]
            plural = {"StatefulSet": "statefulsets", "Pod": "pods", "ControllerRevision": "controllerrevisions",
                      "PersistentVolumeClaim": "persistentvolumeclaims"}[obj["kind"]]
            stored = self.client.seed(self.client.resource(group, plural), obj)
            self._cache.setdefault(plural, []).append(stored)
            self.informers.resource(group, plural).replace(self._cache[plural], "1")
        self.client.clear_actions()
        return self

    async def sync(self) -> list[str]:
        await self.ctrl.sync(KEY)
        return self.client.verbs()

    def created(self, resource: str) -> list[dict]:
        return [a.obj for a in self.client.actions_for("create", resource)]

    def deleted(self, resource: str = "pods") -> list[str]:
        return [a.name for a in self.client.actions_for("delete", resource)]

    def status(self) -> dict:
        return self.client.actions_for("patch", "statefulsets/status")[-1].obj["status"]


def with_revision(sts: dict) -> tuple[dict, dict]:
    """The set plus the revision it already recorded (steady state)."""
    return sts, revision_for(sts)


# ---------------------------------------------------------------------------------- creation

async def test_first_sync_records_a_revision_then_claim_then_pod_zero():
    f = Fixture().add(make_sts())
    verbs = await f.sync()
    assert verbs == ["create controllerrevisions", "create persistentvolumeclaims", "create pods",
                     "patch statefulsets/status"]
    revision = f.created("controllerrevisions")[0]
    assert revision["revision"] == 1 and revision["metadata"]["name"].startswith("web-")
    claim = f.created("persistentvolumeclaims")[0]
    assert claim["metadata"]["name"] == "data-web-0" and claim["metadata"]["labels"] == {"app": "web"}
    assert claim["spec"]["resources"] == {"requests": {"storage": "1Gi"}}
    pod = f.created("pods")[0]
    assert pod["metadata"]["name"] == "web-0"
    assert pod["metadata"]["labels"] == {"app": "web", POD_NAME_LABEL: "web-0", POD_INDEX_LABEL: "0",
                                         REVISION_LABEL: revision["metadata"]["name"]}
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("web-0", "nginx")
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}}]
    assert pod["metadata"]["ownerReferences"][0]["uid"] == "uid-web"
    assert f.status() == {"observedGeneration": 1, "currentRevision": revision["metadata"]["name"],
                          "updateRevision": revision["metadata"]["name"], "collisionCount": 0, "replicas": 0,
                          "readyReplicas": 0, "availableReplicas": 0, "currentReplicas": 0, "updatedReplicas": 0}
    assert f.recorder.reasons() == ["SuccessfulCreate", "SuccessfulCreate"]


@pytest.mark.parametrize("phase,ready,creates", [
    pytest.param("Pending", False, [], id="web-0-pending-blocks"),
    pytest.param("Running", False, [], id="web-0-not-ready-blocks"),
    pytest.param("Running", True, ["web-1"], id="web-0-ready-next"),
])
async def test_ordered_ready_creates_the_next_pod_only_after_the_previous_is_ready(phase, ready, creates):
    sts, rev = with_revision(make_sts())
    f = Fixture().add(sts, rev, make_claim(0), make_pod(sts, 0, phase=phase, ready=ready))
    await f.sync()
    assert [p["metadata"]["name"] for p in f.created("pods")] == creates


async def test_min_ready_seconds_waits_for_availability_and_requeues():
    sts, rev = with_revision(make_sts(minReadySeconds=10))
    f = Fixture().add(sts, rev, make_claim(0), make_pod(sts, 0, ready_for=4))
    await f.sync()
    assert f.created("pods") == []
    assert f.status()["readyReplicas"] == 1 and f.status()["availableReplicas"] == 0
    f.now += 6.5
    f.client.clear_actions()
    await f.sync()
    assert [p["metadata"]["name"] for p in f.created("pods")] == ["web-1"]


async def test_parallel_creates_every_missing_pod_at_once():
    sts, rev = with_revision(make_sts(policy="Parallel"))
    f = Fixture().add(sts, rev)
    await f.sync()
    assert sorted(p["metadata"]["name"] for p in f.created("pods")) == ["web-0", "web-1", "web-2"]
    assert sorted(c["metadata"]["name"] for c in f.created("persistentvolumeclaims")) == [
        "data-web-0", "data-web-1", "data-web-2"]


async def test_a_sync_before_the_informer_saw_the_create_does_not_retry_it():
    f = Fixture().add(*with_revision(make_sts()))
    await f.sync()
    f.client.clear_actions()
    verbs = await f.sync()
    assert "create pods" not in verbs
    # the watch delivers the pod: the next ordinal still waits for it to become ready
    f.add(make_pod(make_sts(), 0, phase="Pending", ready=False))
    await f.sync()
    assert f.created("pods") == []


async def test_existing_claims_are_reused_and_a_claim_being_deleted_blocks_the_pod():
    sts, rev = with_revision(make_sts(replicas=1))
    f = Fixture().add(sts, rev, make_claim(0))
    await f.sync()
    assert f.created("persistentvolumeclaims") == [] and len(f.created("pods")) == 1

    f = Fixture().add(sts, rev, make_claim(0, deleting=True))
    with pytest.raises(SyncError, match="being deleted"):
        await f.sync()
    assert f.created("pods") == []


async def test_failed_pod_is_deleted_to_be_recreated_with_the_same_name():
    sts, rev = with_revision(make_sts(replicas=2))
    f = Fixture().add(sts, rev, make_claim(0), make_claim(1), make_pod(sts, 0, phase="Failed", ready=False),
                      make_pod(sts, 1))
    await f.sync()
    assert f.deleted() == ["web-0"]
    assert f.client.actions_for("delete", "pods")[0].options == {"preconditions": {"uid": "uid-web-0"}}
    # once it is gone, the same ordinal comes back
    f = Fixture().add(sts, rev, make_claim(0), make_claim(1), make_pod(sts, 1))
    await f.sync()
    assert [p["metadata"]["name"] for p in f.created("pods")] == ["web-0"]


# ---------------------------------------------------------------------------------- scale down

@pytest.mark.parametrize("policy,pods,deleted", [
    pytest.param("OrderedReady", {}, ["web-2"], id="highest-first"),
    pytest.param("OrderedReady", {2: {"deleting": True}}, [], id="waits-for-terminating"),
    pytest.param("OrderedReady", {0: {"ready": False}}, [], id="blocked-by-unhealthy-survivor"),
    pytest.param("OrderedReady", {1: {"ready": False}}, ["web-2"], id="unhealthy-lower-condemned-does-not-block"),
    pytest.param("OrderedReady", {2: {"ready": False}}, ["web-2"], id="first-unhealthy-condemned-goes"),
    pytest.param("Parallel", {}, ["web-2", "web-1"], id="parallel-all-at-once"),
])
async def test_scale_down(policy, pods, deleted):
    sts, rev = with_revision(make_sts(replicas=1, policy=policy))
    f = Fixture().add(sts, rev, *(make_claim(i) for i in range(3)),
                      *(make_pod(sts, i, **pods.get(i, {})) for i in range(3)))
    await f.sync()
    assert f.deleted() == deleted
    assert f.deleted("persistentvolumeclaims") == []  # claims outlive their pods


async def test_scale_down_waits_when_informer_has_not_seen_the_delete():
    sts, rev = with_revision(make_sts(replicas=1))
    f = Fixture().add(sts, rev, *(make_pod(sts, i) for i in range(3)))
    await f.sync()
    assert f.deleted() == ["web-2"]
    f.client.clear_actions()
    await f.sync()  # web-2 still looks healthy in the cache: do not touch web-1 yet
    assert f.deleted() == []


# ---------------------------------------------------------------------------------- retention policy

async def test_when_deleted_delete_makes_the_set_own_new_claims():
    sts, rev = with_revision(make_sts(replicas=1, retention=("Delete", "Retain")))
    f = Fixture().add(sts, rev, make_claim(0))
    await f.sync()
    patches = f.client.actions_for("patch", "persistentvolumeclaims")
    assert [p.name for p in patches] == ["data-web-0"]
    assert patches[0].obj["metadata"]["ownerReferences"] == [ref("StatefulSet", "web", "uid-web")]


async def test_when_scaled_delete_hands_condemned_claims_to_their_pods_before_deleting():
    sts, rev = with_revision(make_sts(replicas=1, retention=("Retain", "Delete")))
    f = Fixture().add(sts, rev, *(make_claim(i) for i in range(3)), *(make_pod(sts, i) for i in range(3)))
    verbs = await f.sync()
    patches = f.client.actions_for("patch", "persistentvolumeclaims")
    assert sorted(p.name for p in patches) == ["data-web-1", "data-web-2"]
    assert {p.name: p.obj["metadata"]["ownerReferences"] for p in patches}["data-web-2"] == [
        ref("Pod", "web-2", "uid-web-2")]
    assert verbs.index("patch persistentvolumeclaims") < verbs.index("delete pods")
    assert f.deleted() == ["web-2"]


async def test_scale_up_waits_for_a_stale_claim_to_be_collected():
    sts, rev = with_revision(make_sts(replicas=2, retention=("Retain", "Delete")))
    f = Fixture().add(sts, rev, make_claim(0), make_pod(sts, 0),
                      make_claim(1, owners=[ref("Pod", "web-1", "uid-old-web-1")]))
    await f.sync()
    assert f.created("pods") == []


@pytest.mark.parametrize("when_deleted,when_scaled,ordinal,want", [
    pytest.param("Retain", "Retain", 0, [], id="retain-retain"),
    pytest.param("Delete", "Retain", 0, ["StatefulSet"], id="delete-with-set"),
    pytest.param("Retain", "Delete", 0, [], id="scaled-policy-not-condemned"),
    pytest.param("Retain", "Delete", 5, ["Pod"], id="scaled-policy-condemned"),
    pytest.param("Delete", "Delete", 0, ["StatefulSet"], id="both-not-condemned"),
    pytest.param("Delete", "Delete", 5, ["Pod"], id="both-condemned"),
])
def test_claim_owner_policy(when_deleted, when_scaled, ordinal, want):
    sts = make_sts(replicas=2, retention=(when_deleted, when_scaled))
    pod = make_pod(sts, ordinal)
    foreign = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "uid-x"}
    claim = make_claim(ordinal, owners=[foreign])
    refs = owner_refs_for(claim, sts, pod)
    assert refs[0] == foreign and [r["kind"] for r in refs[1:]] == want
    assert claim_owner_up_to_date(claim, sts, pod) is (want == [])
    claim["metadata"]["ownerReferences"] = refs
    assert claim_owner_up_to_date(claim, sts, pod)


def test_claims_with_a_foreign_controller_or_stale_owner_are_left_alone():
    sts = make_sts(replicas=2, retention=("Delete", "Delete"))
    pod = make_pod(sts, 0)
    foreign = make_claim(0, owners=[{**ref("StatefulSet", "other", "uid-other"), "apiVersion": "apps/v1"}])
    assert claim_owner_up_to_date(foreign, sts, pod)
    assert owner_refs_for(foreign, sts, pod) == foreign["metadata"]["ownerReferences"]
    stale = make_claim(0, owners=[ref("StatefulSet", "web", "uid-previous-web")])
    assert claim_owner_up_to_date(stale, sts, pod)
    assert claim_is_stale(make_claim(1, owners=[ref("Pod", "web-1", "uid-old")]),
                          {"metadata": {"name": "web-1"}})


# ---------------------------------------------------------------------------------- rolling update

def _rolling_fixture(replicas: int = 3, partition: int | None = 0, at_new: tuple[int, ...] = (),
                     strategy: str = "RollingUpdate") -> Fixture:
    """A set whose template moved from nginx:1 to nginx:2; pods in `at_new` already run nginx:2."""
    old = make_sts(replicas=replicas, image="nginx:1", partition=partition, strategy=strategy)
    new = make_sts(replicas=replicas, image="nginx:2", partition=partition, strategy=strategy, generation=2,
                   status={"currentRevision": rev_name(old), "observedGeneration": 1})
    pods = [make_pod(new, i, revision=rev_name(new if i in at_new else old)) for i in range(replicas)]
    return Fixture().add(new, revision_for(old, 1), revision_for(new, 2), *(make_claim(i) for i in range(replicas)),
                         *pods)


@pytest.mark.parametrize("partition,at_new,deleted", [
    pytest.param(0, (), ["web-2"], id="starts-at-highest"),
    pytest.param(0, (2,), ["web-1"], id="then-next-lower"),
    pytest.param(0, (1, 2), ["web-0"], id="down-to-zero"),
    pytest.param(2, (), ["web-2"], id="partition-allows-top"),
    pytest.param(2, (2,), [], id="partition-holds-the-rest"),
    pytest.param(5, (), [], id="partition-above-replicas"),
])
async def test_rolling_update_replaces_from_the_highest_ordinal_down_to_the_partition(partition, at_new, deleted):
    f = _rolling_fixture(partition=partition, at_new=at_new)
    await f.sync()
    assert f.deleted() == deleted
    assert f.created("controllerrevisions") == []


async def test_rolling_update_waits_for_the_replaced_pod_to_be_ready():
    old = make_sts(image="nginx:1")
    new = make_sts(image="nginx:2", generation=2, status={"currentRevision": rev_name(old)})
    f = Fixture().add(new, revision_for(old, 1), revision_for(new, 2),
                      make_pod(new, 0, revision=rev_name(old)), make_pod(new, 1, revision=rev_name(old)),
                      make_pod(new, 2, revision=rev_name(new), ready=False))
    await f.sync()
    assert f.deleted() == []


async def test_recreated_pods_follow_the_partition():
    old = make_sts(image="nginx:1", partition=2)
    new = make_sts(image="nginx:2", partition=2)
    assert new_versioned_pod(old, new, "web-old", "web-new", 1)["metadata"]["labels"][REVISION_LABEL] == "web-old"
    top = new_versioned_pod(old, new, "web-old", "web-new", 2)
    assert top["metadata"]["labels"][REVISION_LABEL] == "web-new"
    assert top["spec"]["containers"][0]["image"] == "nginx:2"


async def test_on_delete_never_deletes_for_an_update():
    f = _rolling_fixture(partition=None, strategy="OnDelete")
    await f.sync()
    assert f.deleted() == []


async def test_max_unavailable_replaces_several_at_once():
    f = _rolling_fixture(partition=None)
    f.ctrl.sets.get("ns", "web")["spec"]["updateStrategy"]["rollingUpdate"] = {"partition": 0, "maxUnavailable": 2}
    await f.sync()
    assert f.deleted() == ["web-2", "web-1"]


async def test_status_counts_current_and_updated_replicas_mid_rollout():
    f = _rolling_fixture(at_new=(2,))
    await f.sync()
    status = f.status()
    assert status["observedGeneration"] == 2
    assert (status["replicas"], status["readyReplicas"], status["updatedReplicas"]) == (3, 3, 1)
    assert status["currentReplicas"] == 1  # web-0 (web-1 is being replaced)
    assert status["currentRevision"] != status["updateRevision"]


async def test_completed_rollout_promotes_the_update_revision():
    f = _rolling_fixture(at_new=(0, 1, 2))
    await f.sync()
    status = f.status()
    assert status["currentRevision"] == status["updateRevision"]
    assert (status["currentReplicas"], status["updatedReplicas"], status["availableReplicas"]) == (3, 3, 3)


async def test_steady_state_writes_nothing():
    sts = make_sts(replicas=1)
    sts["status"] = {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                     "currentReplicas": 1, "updatedReplicas": 1, "currentRevision": rev_name(sts),
                     "updateRevision": rev_name(sts), "collisionCount": 0}
    f = Fixture().add(sts, revision_for(sts), make_claim(0), make_pod(sts, 0))
    assert await f.sync() == []


# ---------------------------------------------------------------------------------- history

async def test_rollback_to_an_older_template_bumps_its_revision_number():
    v1, v2 = make_sts(image="nginx:1"), make_sts(image="nginx:2")
    undone = make_sts(image="nginx:1", generation=3, status={"currentRevision": rev_name(v2)})
    f = Fixture().add(undone, revision_for(v1, 1), revision_for(v2, 2))
    await f.sync()
    patches = f.client.actions_for("patch", "controllerrevisions")
    assert [(p.name, p.obj) for p in patches] == [(rev_name(v1), {"revision": 3})]
    assert f.created("controllerrevisions") == []
    assert f.status()["updateRevision"] == rev_name(v1)


async def test_history_is_trimmed_to_the_limit_keeping_live_revisions():
    current = make_sts(image="nginx:9", revisionHistoryLimit=1)
    old = [revision_for(make_sts(image=f"nginx:{i}"), i) for i in range(1, 5)]
    pods_rev = old[1]["metadata"]["name"]  # a pod still runs revision 2: it is live
    f = Fixture().add(current, *old, revision_for(current, 5), make_claim(0),
                      make_pod(current, 0, revision=pods_rev))
    await f.sync()
    assert f.deleted("controllerrevisions") == [old[0]["metadata"]["name"], old[2]["metadata"]["name"]]


async def test_orphan_revisions_and_pods_are_adopted():
    sts = make_sts(replicas=1)
    rev = revision_for(sts)
    del rev["metadata"]["ownerReferences"]
    pod = make_pod(sts, 0)
    del pod["metadata"]["ownerReferences"]
    f = Fixture().add(sts, rev, make_claim(0), pod)
    await f.sync()
    assert {a.resource for a in f.client.actions_for("patch", "controllerrevisions")
            + f.client.actions_for("patch", "pods")} == {"controllerrevisions", "pods"}
    assert f.created("pods") == [] and f.created("controllerrevisions") == []


def test_pod_names_parse_into_parent_and_ordinal():
    assert parent_and_ordinal({"metadata": {"name": "my-web-12"}}) == ("my-web", 12)
    assert parent_and_ordinal({"metadata": {"name": "web"}}) == ("", -1)


async def test_handlers_map_pod_events_to_the_owner_key():
    sts, rev = with_revision(make_sts())
    f = Fixture().add(sts)
    while len(f.ctrl.queue):
        key = await f.ctrl.queue.get()
        f.ctrl.queue.done(key)
    f.add(make_pod(sts, 0))
    assert len(f.ctrl.queue) == 1 and await f.ctrl.queue.get() == KEY
