"""Job controller: pod management, finalizer-based counting, failure policy, Indexed mode, TTL.

Caches are seeded (not started), `sync` runs once, and the FakeClient's recorded actions
are asserted. The clock is injected; back-off and deadlines are driven by moving it.
"""

from __future__ import annotations

import copy

import pytest

from podplane.api.meta import format_time
from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.controllers.job import JOB_TRACKING_FINALIZER, new
from podplane.controllers.job.backoff import BackoffRecord, BackoffStore
from podplane.controllers.job.indexes import first_pending_indexes, format_indexes, parse_indexes
from podplane.controllers.manager import ControllerContext

NOW = 1_800_000_000.0
INDEX_KEY = "batch.kubernetes.io/job-completion-index"


def ts(seconds_before_now: float) -> str:
    import datetime as dt

    return format_time(dt.datetime.fromtimestamp(NOW - seconds_before_now, dt.UTC))


# -- builders ---------------------------------------------------------------------------------
def make_job(name: str = "pi", *, completions: int | None = 1, parallelism: int = 1, backoff_limit: int = 6,
             indexed: bool = False, suspend: bool = False, restart_policy: str = "Never",
             deadline: int | None = None, status: dict | None = None, ttl: int | None = None) -> dict:
    uid = f"uid-{name}"
    labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
              "controller-uid": uid, "job-name": name}
    spec = {"parallelism": parallelism, "backoffLimit": backoff_limit, "suspend": suspend,
            "completionMode": "Indexed" if indexed else "NonIndexed",
            "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "template": {"metadata": {"labels": labels},
                         "spec": {"restartPolicy": restart_policy,
                                  "containers": [{"name": "c", "image": "busybox"}]}}}
    if completions is not None:
        spec["completions"] = completions
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "ns", "uid": uid, "labels": labels},
            "spec": spec, "status": status if status is not None else {}}


def make_pod(name: str, job: dict, *, phase: str = "Running", ready: bool = True, finalizer: bool = True,
             index: int | None = None, created: float = 100, node: str = "n1", restarts: int = 0,
             deleting: bool = False, finished: float | None = None) -> dict:
    meta = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "creationTimestamp": ts(created),
            "labels": dict(job["spec"]["template"]["metadata"]["labels"]),
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"],
                                 "uid": job["metadata"]["uid"], "controller": True}]}
    if finalizer:
        meta["finalizers"] = [JOB_TRACKING_FINALIZER]
    if index is not None:
        meta["annotations"] = {INDEX_KEY: str(index)}
    if deleting:
        meta["deletionTimestamp"] = ts(1)
    status = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready and phase == "Running"
                                              else "False", "lastTransitionTime": ts(50)}],
              "containerStatuses": [{"name": "c", "restartCount": restarts}]}
    if finished is not None:
        status["containerStatuses"][0]["state"] = {"terminated": {"finishedAt": ts(finished),
                                                                  "exitCode": 0 if phase == "Succeeded" else 1}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"nodeName": node}, "status": status}


class Fixture:
    def __init__(self, **kw) -> None:
        self.client = FakeClient()
        self.factory = InformerFactory(self.client)
        self.now = NOW
        self.ctx = ControllerContext(client=self.client, informers=self.factory, clock=lambda: self.now)
        self.controller = new(self.ctx)
        self._cached: dict[tuple[str, str], list[dict]] = {}

    def add(self, group: str, plural: str, obj: dict) -> dict:
        stored = copy.deepcopy(self.client.seed(self.client.resource(group, plural), obj))
        items = [o for o in self._cached.setdefault((group, plural), [])
                 if o["metadata"]["name"] != stored["metadata"]["name"]]
        items.append(stored)
        self._cached[(group, plural)] = items
        self.factory.resource(group, plural).replace(items, "1")
        return stored

    def remove(self, group: str, plural: str, name: str) -> None:
        items = [o for o in self._cached.get((group, plural), []) if o["metadata"]["name"] != name]
        self._cached[(group, plural)] = items
        self.factory.resource(group, plural).replace(items, "2")

    def job(self, job: dict) -> dict:
        return self.add("batch", "jobs", job)

    def pods(self, *pods: dict) -> None:
        for pod in pods:
            self.add("", "pods", pod)

    async def sync(self, name: str = "pi") -> None:
        await self.controller.sync(f"ns/{name}")

    def verbs(self) -> list[str]:
        return [v for v in self.client.verbs() if not v.endswith(" events")]

    def created(self) -> list[dict]:
        return [a.obj for a in self.client.actions_for("create", "pods")]

    def statuses(self) -> list[dict]:
        return [a.obj["status"] for a in self.client.actions_for("update", "jobs/status")]

    def last_status(self) -> dict:
        return self.statuses()[-1]


def conditions(status: dict) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c.get("reason", "")) for c in status.get("conditions") or ()}


# -- pure helpers -------------------------------------------------------------------------------
@pytest.mark.parametrize("indexes,text", [
    pytest.param({0, 1, 2, 5}, "0-2,5", id="run-and-single"),
    pytest.param({3, 4}, "3,4", id="pair-is-not-a-range"),
    pytest.param(set(), "", id="empty"),
])
def test_format_and_parse_indexes(indexes, text):
    assert format_indexes(indexes) == text
    assert parse_indexes(text, 10) == indexes


def test_parse_indexes_drops_out_of_range():
    assert parse_indexes("0-3,9", 3) == {0, 1, 2}


def test_first_pending_indexes_skip_succeeded_and_active():
    job = make_job(indexed=True, completions=5)
    active = [make_pod("a", job, index=1)]
    assert first_pending_indexes(5, {0, 2}, active, 2) == [3, 4]


@pytest.mark.parametrize("failures,elapsed,remaining", [
    pytest.param(1, 0, 10, id="first-failure-waits-base"),
    pytest.param(2, 5, 15, id="doubles"),
    pytest.param(10, 0, 360, id="capped-at-six-minutes"),
    pytest.param(1, 11, 0, id="expired"),
])
def test_backoff_remaining(failures, elapsed, remaining):
    record = BackoffRecord("k", failures, NOW - elapsed)
    assert record.remaining(NOW, 10, 360) == remaining


def test_backoff_success_after_failures_resets():
    job = make_job()
    store = BackoffStore()
    store.update(store.new_record("k", [], [make_pod("f1", job, phase="Failed", finished=30)]))
    record = store.new_record("k", [make_pod("s", job, phase="Succeeded", finished=20)],
                              [make_pod("f2", job, phase="Failed", finished=10)])
    assert record.failures_after_last_success == 1, "only the failure after the success counts"


# -- creation -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("completions,parallelism,expected", [
    pytest.param(4, 2, 2, id="parallelism-bounds"),
    pytest.param(1, 3, 1, id="remaining-completions-bound"),
    pytest.param(None, 3, 3, id="work-queue-uses-parallelism"),
])
async def test_new_job_creates_pods(completions, parallelism, expected):
    f = Fixture()
    f.job(make_job(completions=completions, parallelism=parallelism))
    await f.sync()
    created = f.created()
    assert len(created) == expected
    pod = created[0]
    assert pod["metadata"]["generateName"] == "pi-"
    assert pod["metadata"]["finalizers"] == [JOB_TRACKING_FINALIZER]
    assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "pi"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    status = f.last_status()
    assert status["active"] == expected and status["startTime"] == ts(0)


async def test_second_sync_before_the_cache_catches_up_does_not_create_twice():
    f = Fixture()
    f.job(make_job(completions=4, parallelism=2))
    await f.sync()
    f.job(f.client.stored(f.client.resource("batch", "jobs"), "pi", "ns"))  # status seen, pods not yet
    f.client.clear_actions()
    await f.sync()
    assert f.created() == []


async def test_suspended_job_creates_nothing_and_has_no_start_time():
    f = Fixture()
    f.job(make_job(suspend=True))
    await f.sync()
    assert f.created() == []
    status = f.last_status()
    assert "startTime" not in status
    assert conditions(status)["Suspended"] == ("True", "JobSuspended")


async def test_suspending_deletes_active_pods_without_counting_them_failed():
    f = Fixture()
    job = f.job(make_job(completions=2, parallelism=2, suspend=True, status={"startTime": ts(10), "active": 2}))
    f.pods(make_pod("a", job), make_pod("b", job))
    await f.sync()
    assert sorted(a.name for a in f.client.actions_for("patch", "pods")) == ["a", "b"], "finalizers go first"
    assert sorted(a.name for a in f.client.actions_for("delete", "pods")) == ["a", "b"]
    status = f.last_status()
    assert status["active"] == 0 and not status.get("failed")


# -- counting ---------------------------------------------------------------------------------------
async def test_succeeded_pods_are_counted_once_through_uncounted_list():
    f = Fixture()
    job = f.job(make_job(completions=4, parallelism=2, status={"startTime": ts(10), "active": 2}))
    f.pods(make_pod("a", job, phase="Succeeded", finished=1), make_pod("b", job, phase="Succeeded", finished=1))
    await f.sync()
    assert f.verbs() == ["create pods", "create pods", "update jobs/status", "patch pods", "patch pods",
                         "update jobs/status"]
    first, second = f.statuses()
    assert sorted(first["uncountedTerminatedPods"]["succeeded"]) == ["uid-a", "uid-b"]
    assert second["succeeded"] == 2 and not second["uncountedTerminatedPods"]
    patch = f.client.actions_for("patch", "pods")[0]
    assert patch.obj == {"metadata": {"$deleteFromPrimitiveList/finalizers": [JOB_TRACKING_FINALIZER]}}


async def test_stale_cache_does_not_count_a_pod_twice():
    f = Fixture()
    job = f.job(make_job(completions=4, parallelism=1, status={"startTime": ts(10), "active": 1}))
    f.pods(make_pod("a", job, phase="Succeeded"))
    await f.sync()
    assert f.last_status()["succeeded"] == 1
    # the Job's status write is seen, but the pod update removing the finalizer is not yet
    f.job(f.client.stored(f.client.resource("batch", "jobs"), "pi", "ns"))
    f.client.clear_actions()
    await f.sync()
    assert all(s.get("succeeded") == 1 for s in f.statuses())


async def test_already_counted_pods_are_left_alone():
    f = Fixture()
    job = f.job(make_job(completions=4, parallelism=2, status={"startTime": ts(10), "succeeded": 2, "active": 2,
                                                                "ready": 2, "terminating": 0}))
    f.pods(make_pod("a", job, phase="Succeeded", finalizer=False), make_pod("b", job, phase="Succeeded",
                                                                            finalizer=False),
           make_pod("c", job), make_pod("d", job))
    await f.sync()
    assert f.verbs() == []


async def test_completion_sets_success_criteria_then_complete():
    f = Fixture()
    job = f.job(make_job(completions=2, parallelism=2, status={"startTime": ts(10), "succeeded": 1}))
    f.pods(make_pod("a", job, phase="Succeeded", finalizer=False), make_pod("b", job, phase="Succeeded"))
    await f.sync()
    status = f.last_status()
    assert status["succeeded"] == 2 and status["completionTime"] == ts(0)
    assert conditions(status) == {"SuccessCriteriaMet": ("True", "CompletionsReached"),
                                  "Complete": ("True", "CompletionsReached")}
    assert f.created() == []


async def test_work_queue_job_completes_on_first_success_once_nothing_is_active():
    f = Fixture()
    job = f.job(make_job(completions=None, parallelism=2, status={"startTime": ts(10)}))
    f.pods(make_pod("a", job, phase="Succeeded"), make_pod("b", job, phase="Succeeded"))
    await f.sync()
    assert f.created() == []
    assert conditions(f.last_status())["Complete"][0] == "True"


async def test_finished_job_is_not_touched():
    f = Fixture()
    job = f.job(make_job(status={"conditions": [{"type": "Complete", "status": "True"}]}))
    f.pods(make_pod("a", job))
    await f.sync()
    assert f.verbs() == []


# -- failures ---------------------------------------------------------------------------------------
async def test_backoff_limit_exceeded_fails_the_job():
    f = Fixture()
    job = f.job(make_job(backoff_limit=1, status={"startTime": ts(30), "failed": 1}))
    f.pods(make_pod("a", job, phase="Failed", finalizer=False), make_pod("b", job, phase="Failed", finished=1))
    await f.sync()
    assert f.created() == []
    status = f.last_status()
    assert status["failed"] == 2
    assert conditions(status) == {"FailureTarget": ("True", "BackoffLimitExceeded"),
                                  "Failed": ("True", "BackoffLimitExceeded")}
    assert "completionTime" not in status


async def test_failure_deletes_active_pods_and_waits_for_them_before_failed():
    f = Fixture()
    job = f.job(make_job(completions=3, parallelism=2, backoff_limit=0, status={"startTime": ts(30)}))
    f.pods(make_pod("bad", job, phase="Failed", finished=1), make_pod("running", job))
    await f.sync()
    assert [a.name for a in f.client.actions_for("delete", "pods")] == ["running"]
    status = f.last_status()
    assert conditions(status) == {"FailureTarget": ("True", "BackoffLimitExceeded")}
    assert status["terminating"] == 1 and status["active"] == 0


async def test_restart_policy_on_failure_counts_container_restarts():
    f = Fixture()
    job = f.job(make_job(backoff_limit=2, restart_policy="OnFailure", status={"startTime": ts(30)}))
    f.pods(make_pod("a", job, restarts=2))
    await f.sync()
    assert conditions(f.last_status())["FailureTarget"] == ("True", "BackoffLimitExceeded")


async def test_failed_pod_replacement_waits_for_backoff():
    f = Fixture()
    job = f.job(make_job(status={"startTime": ts(30), "active": 1}))
    f.pods(make_pod("a", job, phase="Failed", finished=2))
    await f.sync()
    assert f.created() == [], "10 s back-off after the first failure"
    assert f.last_status()["failed"] == 1
    # the pod is now counted (finalizer gone); time passes beyond the back-off
    f.job(f.client.stored(f.client.resource("batch", "jobs"), "pi", "ns"))
    f.pods(f.client.stored(f.client.resource("", "pods"), "a", "ns"))
    f.client.clear_actions()
    f.now += 7  # 9 s after the failure
    await f.sync()
    assert f.created() == []
    f.now += 2  # 11 s
    await f.sync()
    assert len(f.created()) == 1


async def test_backoff_base_is_configurable():
    f = Fixture()
    f.controller.backoff_base = 0.5
    job = f.job(make_job(status={"startTime": ts(30), "active": 1}))
    f.pods(make_pod("a", job, phase="Failed", finished=1))
    await f.sync()
    assert len(f.created()) == 1


async def test_active_deadline_exceeded():
    f = Fixture()
    job = f.job(make_job(deadline=20, status={"startTime": ts(30), "active": 1}))
    f.pods(make_pod("a", job))
    await f.sync()
    assert [a.name for a in f.client.actions_for("delete", "pods")] == ["a"]
    assert conditions(f.last_status())["FailureTarget"] == ("True", "DeadlineExceeded")


async def test_deleted_running_pod_counts_as_failed():
    f = Fixture()
    job = f.job(make_job(completions=1, backoff_limit=6, status={"startTime": ts(30), "active": 1}))
    f.pods(make_pod("a", job, deleting=True))
    await f.sync()
    assert f.last_status()["failed"] == 1
    assert f.last_status()["terminating"] == 1


# -- scaling ----------------------------------------------------------------------------------------
async def test_lower_parallelism_deletes_least_valuable_pods():
    f = Fixture()
    job = f.job(make_job(completions=5, parallelism=1, status={"startTime": ts(30), "active": 3}))
    f.pods(make_pod("ready-old", job, created=90), make_pod("not-ready", job, ready=False),
           make_pod("pending", job, phase="Pending", ready=False))
    await f.sync()
    assert sorted(a.name for a in f.client.actions_for("delete", "pods")) == ["not-ready", "pending"]


# -- Indexed ---------------------------------------------------------------------------------------
async def test_indexed_job_creates_lowest_free_indexes():
    f = Fixture()
    job = f.job(make_job(completions=4, parallelism=2, indexed=True,
                         status={"startTime": ts(30), "completedIndexes": "0"}))
    f.pods(make_pod("pi-1", job, index=1))
    await f.sync()
    [pod] = f.created()
    assert pod["metadata"]["annotations"][INDEX_KEY] == "2"
    assert pod["metadata"]["labels"][INDEX_KEY] == "2"
    assert pod["metadata"]["generateName"] == "pi-2-"
    assert pod["spec"]["hostname"] == "pi-2"
    env = pod["spec"]["containers"][0]["env"]
    assert env == [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
        "fieldPath": f"metadata.annotations['{INDEX_KEY}']"}}}]


async def test_indexed_job_records_completed_indexes():
    f = Fixture()
    job = f.job(make_job(completions=3, parallelism=3, indexed=True, status={"startTime": ts(30)}))
    f.pods(make_pod("p0", job, index=0, phase="Succeeded"), make_pod("p2", job, index=2, phase="Succeeded"),
           make_pod("p1", job, index=1))
    await f.sync()
    status = f.last_status()
    assert status["completedIndexes"] == "0,2" and status["succeeded"] == 2


async def test_indexed_job_removes_duplicate_index():
    f = Fixture()
    job = f.job(make_job(completions=3, parallelism=3, indexed=True, status={"startTime": ts(30)}))
    f.pods(make_pod("p0", job, index=0), make_pod("p0-dup", job, index=0, ready=False),
           make_pod("p1", job, index=1), make_pod("p2", job, index=2))
    await f.sync()
    assert [a.name for a in f.client.actions_for("delete", "pods")] == ["p0-dup"]
    assert f.created() == []


# -- orphans and TTL -------------------------------------------------------------------------------
async def test_orphan_pod_finalizer_is_removed():
    f = Fixture()
    gone = make_job("gone")
    f.pods(make_pod("orphan", gone))
    await f.controller.sync_orphan_pod("ns/orphan")
    assert [str(a) for a in f.client.actions] == ["patch pods"]


async def test_pod_of_live_job_keeps_its_finalizer():
    f = Fixture()
    job = f.job(make_job())
    f.pods(make_pod("a", job))
    await f.controller.sync_orphan_pod("ns/a")
    assert f.client.actions == []


async def test_pod_of_deleted_job_is_queued_for_finalizer_removal():
    f = Fixture()
    job = f.job(make_job())
    f.pods(make_pod("a", job))
    f.remove("batch", "jobs", "pi")
    assert len(f.controller.orphan_queue) == 1


@pytest.mark.parametrize("finished_ago,deleted", [
    pytest.param(5, False, id="not-yet"),
    pytest.param(20, True, id="expired"),
])
async def test_ttl_after_finished(finished_ago, deleted):
    f = Fixture()
    f.job(make_job(ttl=10, status={"conditions": [{"type": "Complete", "status": "True",
                                                   "lastTransitionTime": ts(finished_ago)}]}))
    await f.controller.ttl.sync("ns/pi")
    deletes = f.client.actions_for("delete", "jobs")
    if deleted:
        [delete] = deletes
        assert delete.options == {"propagation_policy": "Background", "preconditions": {"uid": "uid-pi"}}
    else:
        assert deletes == [] and f.client.actions == []


async def test_ttl_is_rechecked_on_the_live_object():
    f = Fixture()
    f.job(make_job(ttl=10, status={"conditions": [{"type": "Complete", "status": "True",
                                                   "lastTransitionTime": ts(20)}]}))
    stored = f.client.stored(f.client.resource("batch", "jobs"), "pi", "ns")
    stored["spec"]["ttlSecondsAfterFinished"] = 3600  # raised after the cache saw it
    await f.controller.ttl.sync("ns/pi")
    assert f.client.verbs() == ["get jobs"]
