"""ReplicaSet controller: manage loop, expectations, adoption, deletion ranking and status.

Caches are seeded (not started), `sync` runs once, and the actions the FakeClient recorded
are asserted. Time is injected through the context clock; events go to a list recorder.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from podplane.api.errors import ApiError, Cause
from podplane.api.meta import format_time
from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.controllers.manager import ControllerContext
from podplane.controllers.replicaset import (
    calculate_status,
    new,
    new_replication_controller,
    rank_pods_for_deletion,
    slow_start_batch,
)

NOW = 1_800_000_000.0
NOW_DT = dt.datetime.fromtimestamp(NOW, dt.UTC)


def ago(seconds: float) -> str:
    return format_time(NOW_DT - dt.timedelta(seconds=seconds))


# -- builders ---------------------------------------------------------------------------------
def make_rs(name: str = "web", *, replicas: int = 3, min_ready: int = 0, generation: int = 1,
            status: dict | None = None, deleting: bool = False, owner_uid: str | None = None) -> dict:
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "generation": generation,
                       "labels": {"app": name}},
          "spec": {"replicas": replicas, "minReadySeconds": min_ready,
                   "selector": {"matchLabels": {"app": name}},
                   "template": {"metadata": {"labels": {"app": name, "tier": "web"}},
                                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
          "status": status if status is not None else {"replicas": 0}}
    if deleting:
        rs["metadata"]["deletionTimestamp"] = ago(1)
    if owner_uid:
        rs["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "d",
                                              "uid": owner_uid, "controller": True}]
    return rs


def make_pod(name: str, owner: dict | None = None, *, node: str = "n1", phase: str = "Running",
             ready: bool = True, ready_since: float = 3600, created: float = 7200, restarts: int = 0,
             labels: dict | None = None, deleting: bool = False, cost: int | None = None,
             owner_kind: str = "ReplicaSet") -> dict:
    meta = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "creationTimestamp": ago(created),
            "labels": labels if labels is not None else {"app": "web", "tier": "web"}}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner_kind,
                                    "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                    "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = ago(0)
    if cost is not None:
        meta["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": str(cost)}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]},
            "status": {"phase": phase,
                       "containerStatuses": [{"name": "c", "restartCount": restarts}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": ago(ready_since)}]}}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: dict, event_type: str, reason: str, message: str) -> None:
        self.events.append((event_type, reason, message))

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.events]


class Fixture:
    def __init__(self, client: FakeClient | None = None, *, rc: bool = False) -> None:
        self.client = client or FakeClient()
        self.factory = InformerFactory(self.client)
        self.now = NOW
        self.ctx = ControllerContext(client=self.client, informers=self.factory, clock=lambda: self.now)
        self.controller = new_replication_controller(self.ctx) if rc else new(self.ctx)
        self.recorder = Recorder()
        self.controller.recorder = self.recorder
        self.delayed: list[tuple[str, float]] = []
        self.controller.queue.add_after = lambda key, delay: self.delayed.append((key, delay))
        self._cached: dict[tuple[str, str], list[dict]] = {}

    def add(self, group: str, plural: str, obj: dict) -> dict:
        """Store obj in the fake API and the informer cache (same resourceVersion)."""
        stored = self.client.seed(self.client.resource(group, plural), obj)
        self.cache(group, plural, stored)
        return stored

    def cache(self, group: str, plural: str, obj: dict) -> None:
        items = [o for o in self._cached.setdefault((group, plural), [])
                 if o["metadata"]["name"] != obj["metadata"]["name"]]
        items.append(obj)
        self._cached[(group, plural)] = items
        self.factory.resource(group, plural).replace(items, "1")

    def rs(self, rs: dict) -> dict:
        return self.add("apps", "replicasets", rs)

    def pods(self, *pods: dict) -> list[dict]:
        return [self.add("", "pods", p) for p in pods]

    async def sync(self, name: str = "web") -> None:
        await self.controller.sync(f"ns/{name}")

    def created_pods(self) -> list[dict]:
        return [a.obj for a in self.client.actions_for("create", "pods")]

    def deleted(self) -> list[str]:
        return sorted(a.name for a in self.client.actions_for("delete", "pods"))

    def statuses(self, plural: str = "replicasets") -> list[dict]:
        return [a.obj["status"] for a in self.client.actions_for("update", f"{plural}/status")]


# -- manage loop ----------------------------------------------------------------------------------
@pytest.mark.parametrize("have,want,creates,deletes", [
    pytest.param(0, 3, 3, 0, id="scale-up-from-zero"),
    pytest.param(2, 3, 1, 0, id="one-missing"),
    pytest.param(5, 3, 0, 2, id="scale-down"),
    pytest.param(3, 0, 0, 3, id="scale-to-zero"),
    pytest.param(3, 3, 0, 0, id="steady"),
])
async def test_sync_replicas(have, want, creates, deletes):
    f = Fixture()
    rs = f.rs(make_rs(replicas=want))
    f.pods(*(make_pod(f"web-{i}", rs) for i in range(have)))
    await f.sync()
    verbs = f.client.verbs()
    assert verbs.count("create pods") == creates
    assert verbs.count("delete pods") == deletes
    # status reports what the cache shows now; the next sync sees the effect
    assert f.statuses()[-1]["replicas"] == have
    assert f.recorder.reasons().count("SuccessfulCreate") == creates
    assert f.recorder.reasons().count("SuccessfulDelete") == deletes


async def test_created_pods_come_from_the_template_and_are_owned():
    f = Fixture()
    rs = f.rs(make_rs(replicas=1))
    await f.sync()
    pod = f.created_pods()[0]
    assert pod["metadata"]["generateName"] == "web-"
    assert pod["metadata"]["name"].startswith("web-")
    assert pod["metadata"]["labels"] == {"app": "web", "tier": "web"}
    ref = pod["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == ("ReplicaSet", "web", rs["metadata"]["uid"], True)
    assert pod["spec"]["containers"][0]["image"] == "nginx"


async def test_expectations_prevent_double_creation_until_the_cache_catches_up():
    f = Fixture()
    f.rs(make_rs(replicas=3))
    await f.sync()
    assert f.client.verbs().count("create pods") == 3
    f.client.clear_actions()
    await f.sync()  # the pod informer has not seen the new pods yet
    assert "create pods" not in f.client.verbs()
    # the informer delivers the pods: creations observed, nothing more to create
    created = [o for (g, p, _, _), o in f.client.objects.items() if p == "pods"]
    for pod in created:
        f.cache("", "pods", pod)
    assert f.controller.expectations.satisfied("ns/web")
    f.client.clear_actions()
    await f.sync()
    assert "create pods" not in f.client.verbs()


async def test_expectations_expire_after_ttl():
    f = Fixture()
    f.rs(make_rs(replicas=2))
    await f.sync()
    f.client.clear_actions()
    f.now += 301  # a lost watch event must not wedge the ReplicaSet forever
    await f.sync()
    assert f.client.verbs().count("create pods") == 2


async def test_graceful_deletion_is_observed_once_per_pod():
    f = Fixture()
    rs = f.rs(make_rs(replicas=1))
    a, b, c = f.pods(make_pod("a", rs, ready=False), make_pod("b", rs), make_pod("c", rs, created=60))
    await f.sync()
    assert f.deleted() == ["a", "c"]
    first = a
    terminating = {**first, "metadata": {**first["metadata"], "deletionTimestamp": ago(0), "resourceVersion": "999"}}
    # graceful delete: the deletionTimestamp update, then the DELETED event, of the same pod
    f.controller._pod_updated(first, terminating)
    f.controller._pod_deleted(terminating)
    assert not f.controller.expectations.satisfied("ns/web")
    f.controller._pod_deleted(c)
    assert f.controller.expectations.satisfied("ns/web")


async def test_slow_start_stops_after_a_failing_batch():
    class FailFourth(FakeClient):
        calls = 0

        async def create(self, info, obj, namespace=None, **kw):
            if info.plural == "pods":
                FailFourth.calls += 1
                if FailFourth.calls == 4:
                    self._record("create", info, namespace, "", obj)
                    raise ApiError(403, "Forbidden", 'pods "x" is forbidden: exceeded quota')
            return await super().create(info, obj, namespace, **kw)

    f = Fixture(FailFourth())
    f.rs(make_rs(replicas=10))
    with pytest.raises(ApiError):
        await f.sync()
    # batches of 1, 2, 4: the third batch had a failure, so the last 3 were never tried
    assert f.client.verbs().count("create pods") == 7
    status = f.statuses()[-1]
    failure = status["conditions"][0]
    assert (failure["type"], failure["status"], failure["reason"]) == ("ReplicaFailure", "True", "FailedCreate")
    assert "exceeded quota" in failure["message"]
    # 6 pods were created and will be observed; the 4 others are not expected any more
    record = f.controller.expectations._records["ns/web"]
    assert record.adds == 6
    assert ("Warning", "FailedCreate", 'Error creating: pods "x" is forbidden: exceeded quota') in f.recorder.events


async def test_replica_failure_condition_is_removed_after_success():
    f = Fixture()
    status = {"replicas": 3, "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                                             "message": "quota", "lastTransitionTime": ago(60)}]}
    rs = f.rs(make_rs(replicas=3, status=status))
    f.pods(*(make_pod(f"web-{i}", rs) for i in range(3)))
    await f.sync()
    assert "conditions" not in f.statuses()[-1]


async def test_namespace_terminating_creates_are_not_errors():
    f = Fixture()
    f.client.fail("create", "pods", ApiError(403, "Forbidden", "namespace ns is being terminated",
                                             causes=[Cause("NamespaceTerminating", "ns is terminating")]))
    f.rs(make_rs(replicas=1))
    await f.sync()
    assert "conditions" not in f.statuses()[-1]


@pytest.mark.parametrize("phase,deleting", [
    pytest.param("Failed", False, id="failed"),
    pytest.param("Succeeded", False, id="succeeded"),
    pytest.param("Running", True, id="terminating"),
])
async def test_inactive_pods_are_replaced(phase, deleting):
    f = Fixture()
    rs = f.rs(make_rs(replicas=2))
    f.pods(make_pod("a", rs), make_pod("b", rs, phase=phase, deleting=deleting))
    await f.sync()
    assert f.client.verbs().count("create pods") == 1
    assert "delete pods" not in f.client.verbs()


async def test_deleting_replicaset_only_updates_status():
    f = Fixture()
    rs = f.rs(make_rs(replicas=3, deleting=True, status={"replicas": 2}, generation=2))
    f.pods(make_pod("a", rs))
    await f.sync()
    assert f.client.verbs() == ["update replicasets/status"]
    assert f.statuses()[-1]["replicas"] == 1


# -- adoption and release ---------------------------------------------------------------------
async def test_adopts_matching_orphans_and_counts_them():
    f = Fixture()
    rs = f.rs(make_rs(replicas=2))
    f.pods(make_pod("orphan-1"), make_pod("orphan-2"), make_pod("other", labels={"app": "db"}))
    await f.sync()
    patched = f.client.actions_for("patch", "pods")
    assert sorted(a.name for a in patched) == ["orphan-1", "orphan-2"]
    refs = patched[0].obj["metadata"]["ownerReferences"]
    assert refs[0]["uid"] == rs["metadata"]["uid"] and refs[0]["controller"] is True
    assert "create pods" not in f.client.verbs()
    assert f.statuses()[-1]["replicas"] == 2


async def test_releases_owned_pods_that_stop_matching():
    f = Fixture()
    rs = f.rs(make_rs(replicas=1))
    f.pods(make_pod("relabelled", rs, labels={"app": "debug"}))
    await f.sync()
    released = f.client.actions_for("patch", "pods")
    assert [a.name for a in released] == ["relabelled"]
    assert released[0].obj["metadata"]["ownerReferences"] is None
    assert f.client.verbs().count("create pods") == 1


async def test_pods_owned_by_another_controller_are_left_alone():
    f = Fixture()
    f.rs(make_rs(replicas=1))
    other = make_rs("other")
    f.pods(make_pod("taken", other))
    await f.sync()
    assert "patch pods" not in f.client.verbs()
    assert f.client.verbs().count("create pods") == 1


# -- status ---------------------------------------------------------------------------------------
async def test_status_counts_and_min_ready_seconds():
    f = Fixture()
    rs = f.rs(make_rs(replicas=4, min_ready=10, generation=3))
    f.pods(make_pod("long-ready", rs, ready_since=60),
           make_pod("just-ready", rs, ready_since=5),
           make_pod("not-ready", rs, ready=False),
           make_pod("partly-labelled", rs, labels={"app": "web"}, ready_since=60))
    await f.sync()
    status = f.statuses()[-1]
    assert status == {"replicas": 4, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 2,
                      "observedGeneration": 3}


async def test_requeues_after_min_ready_seconds_when_ready_but_not_available():
    f = Fixture()
    rs = f.rs(make_rs(replicas=2, min_ready=10))
    f.pods(make_pod("a", rs, ready_since=2), make_pod("b", rs, ready_since=3))
    await f.sync()
    assert f.delayed == [("ns/web", 10)]


async def test_unchanged_status_is_not_written():
    f = Fixture()
    status = {"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
              "observedGeneration": 1}
    rs = f.rs(make_rs(replicas=2, status=status))
    f.pods(make_pod("a", rs), make_pod("b", rs))
    await f.sync()
    assert f.client.verbs() == []


async def test_status_write_retries_once_after_a_conflict():
    f = Fixture()
    f.rs(make_rs(replicas=0, generation=2))
    f.client.fail("update", "replicasets/status", ApiError(409, "Conflict", "modified"))
    await f.sync()
    assert f.client.verbs() == ["update replicasets/status", "get replicasets", "update replicasets/status"]


def test_calculate_status_sets_failed_delete_reason():
    rs = make_rs(replicas=1)
    pods = [make_pod("a", rs), make_pod("b", rs)]
    status = calculate_status(rs, pods, ApiError(500, "InternalError", "boom"), NOW_DT)
    assert status["conditions"][0]["reason"] == "FailedDelete"
    assert status["conditions"][0]["message"] == "boom"


# -- deletion ranking -------------------------------------------------------------------------
RS = make_rs()


@pytest.mark.parametrize("first,second", [
    pytest.param(make_pod("x", RS, node=""), make_pod("y", RS), id="unassigned-before-assigned"),
    pytest.param(make_pod("x", RS, phase="Pending"), make_pod("y", RS, phase="Unknown"), id="pending-before-unknown"),
    pytest.param(make_pod("x", RS, phase="Unknown"), make_pod("y", RS), id="unknown-before-running"),
    pytest.param(make_pod("x", RS, ready=False), make_pod("y", RS), id="not-ready-before-ready"),
    pytest.param(make_pod("x", RS, cost=-5), make_pod("y", RS), id="lower-deletion-cost-first"),
    pytest.param(make_pod("x", RS, ready_since=10), make_pod("y", RS, ready_since=100_000),
                 id="ready-shorter-first"),
    pytest.param(make_pod("x", RS, restarts=3), make_pod("y", RS, restarts=1), id="more-restarts-first"),
    pytest.param(make_pod("x", RS, created=10), make_pod("y", RS, created=100_000), id="newer-first"),
])
def test_rank_pods_for_deletion(first, second):
    assert [p["metadata"]["name"] for p in rank_pods_for_deletion([second, first], [], NOW_DT)] == ["x", "y"]
    assert [p["metadata"]["name"] for p in rank_pods_for_deletion([first, second], [], NOW_DT)] == ["x", "y"]


def test_rank_prefers_pods_doubled_up_on_a_node():
    crowded = make_pod("crowded", RS, node="n1")
    alone = make_pod("alone", RS, node="n2")
    related = [crowded, alone, make_pod("sibling", RS, node="n1")]
    assert [p["metadata"]["name"] for p in rank_pods_for_deletion([alone, crowded], related, NOW_DT)] == [
        "crowded", "alone"]


def test_rank_treats_similar_ages_alike_and_breaks_ties_by_uid():
    # 1000 s and 1010 s fall in the same log2 bucket of nanoseconds
    b = make_pod("b", RS, created=1000)
    a = make_pod("a", RS, created=1010, restarts=0)
    ordered = rank_pods_for_deletion([b, a], [], NOW_DT)
    assert [p["metadata"]["name"] for p in ordered] == ["a", "b"]


async def test_scale_down_deletes_the_least_valuable_pods():
    f = Fixture()
    rs = f.rs(make_rs(replicas=2))
    f.pods(make_pod("old-ready", rs, created=9000), make_pod("pending", rs, phase="Pending", ready=False),
           make_pod("unscheduled", rs, node="", phase="Pending", ready=False), make_pod("new-ready", rs, created=60))
    await f.sync()
    assert f.deleted() == ["pending", "unscheduled"]


@pytest.mark.parametrize("count,batches", [
    pytest.param(10, [1, 2, 4, 3], id="ten"),
    pytest.param(1, [1], id="one"),
    pytest.param(0, [], id="none"),
])
async def test_slow_start_batch_sizes(count, batches):
    seen: list[int] = []
    in_flight = 0

    async def fn() -> None:
        nonlocal in_flight
        if in_flight == 0:
            seen.append(0)
        in_flight += 1
        seen[-1] += 1
        await asyncio.sleep(0)  # every call of a batch starts before any finishes
        in_flight -= 1

    assert await slow_start_batch(count, 1, fn) == (count, None)
    assert seen == batches


# -- handlers --------------------------------------------------------------------------------------
async def test_pod_events_enqueue_the_owner():
    f = Fixture()
    rs = f.rs(make_rs())
    f.rs(make_rs("db"))
    while len(f.controller.queue):  # what seeding the caches enqueued
        f.controller.queue.done(await f.controller.queue.get())
    f.controller._pod_added(make_pod("p", rs))
    f.controller._pod_added(make_pod("orphan", labels={"app": "db"}))
    assert len(f.controller.queue) == 2
    assert {await f.controller.queue.get(), await f.controller.queue.get()} == {"ns/web", "ns/db"}


async def test_pod_becoming_ready_requeues_after_min_ready_seconds():
    f = Fixture()
    rs = f.rs(make_rs(min_ready=7))
    old = make_pod("p", rs, ready=False)
    old["metadata"]["resourceVersion"] = "1"
    new_pod = make_pod("p", rs)
    new_pod["metadata"]["resourceVersion"] = "2"
    f.controller._pod_updated(old, new_pod)
    assert f.delayed == [("ns/web", 8)]


# -- replication controllers -----------------------------------------------------------------
async def test_replication_controller_uses_a_map_selector():
    f = Fixture(rc=True)
    rc = f.add("", "replicationcontrollers", {
        "apiVersion": "v1", "kind": "ReplicationController",
        "metadata": {"name": "web", "namespace": "ns", "uid": "uid-rc", "generation": 1},
        "spec": {"replicas": 2, "selector": {"app": "web"},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    f.pods(make_pod("a", rc, owner_kind="ReplicationController"))
    await f.sync()
    assert f.client.verbs() == ["create pods", "update replicationcontrollers/status"]
    ref = f.created_pods()[0]["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["uid"]) == ("ReplicationController", "uid-rc")
    assert f.statuses("replicationcontrollers")[-1]["replicas"] == 1
