"""Job controller: run pods to completion (upstream pkg/controller/job).

Informers on Jobs and Pods; handlers map pods to their Job's key (batched by 1 s, as
upstream) and count expected creates/deletes and finalizer removals. `sync(key)`:

1. counts pods that finished since the last status write: each pod carries the
   `batch.kubernetes.io/job-tracking` finalizer and is recorded in
   `status.uncountedTerminatedPods`, stripped of the finalizer, then folded into
   `succeeded`/`failed`, so it is counted exactly once even across restarts;
2. decides whether the Job is done: BackoffLimitExceeded (failures > backoffLimit, or
   restarts >= backoffLimit under restartPolicy OnFailure), DeadlineExceeded, or success.
   FailureTarget / SuccessCriteriaMet come first; Failed / Complete only once no pod is
   terminating or uncounted;
3. otherwise manages pods: none while suspended, else up to parallelism (bounded by the
   remaining completions; Indexed Jobs take the lowest free indexes), with exponential
   back-off after failures;
4. writes status (active, ready, terminating, counters, times, conditions, completedIndexes).

`run()` also drives the TTL-after-finished controller (`job.ttl`) and the queue that
strips tracking finalizers from pods whose Job is gone or finished.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging

from podplane.api.errors import ApiError
from podplane.api.meta import format_time, parse_time
from podplane.api.selectors import selector_from_dict
from podplane.client.expectations import Expectations
from podplane.client.informer import key_of, split_key
from podplane.client.workqueue import WorkQueue, run_workers
from podplane.controllers.common import (
    claim,
    condition,
    controller_of,
    is_pod_active,
    is_pod_ready,
    pod_from_template,
    pod_ready_since,
)
from podplane.controllers.job.backoff import BackoffRecord, BackoffStore
from podplane.controllers.job.indexes import (
    COMPLETION_INDEX_KEY,
    completion_index,
    first_pending_indexes,
    format_indexes,
    parse_indexes,
)
from podplane.controllers.job.ttl import TTLAfterFinishedController, is_job_finished

__all__ = ["JOB_TRACKING_FINALIZER", "JobController", "MAX_POD_FAILURE_BACKOFF"]

log = logging.getLogger(__name__)

KIND = "Job"
JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
CONTROLLER_NAME = "kubernetes.io/job-controller"
DEFAULT_POD_FAILURE_BACKOFF = 10.0  # upstream DefaultJobPodFailureBackOff
MAX_POD_FAILURE_BACKOFF = 360.0  # upstream MaxJobPodFailureBackOff (6 min)
MAX_UNCOUNTED_PODS = 500  # keeps status.uncountedTerminatedPods small (upstream)
MAX_POD_CREATE_DELETE_PER_SYNC = 500
POD_EVENT_BATCH = 1.0  # upstream syncJobBatchPeriod: pod events for one Job are folded into one sync
SLOW_START_INITIAL_BATCH = 1


def _has_finalizer(pod: dict) -> bool:
    return JOB_TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or ())


def _phase(pod: dict) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def _is_indexed(job: dict) -> bool:
    return job["spec"].get("completionMode") == "Indexed"


def _suspended(job: dict) -> bool:
    return bool(job["spec"].get("suspend"))


def _only_replace_failed(job: dict) -> bool:
    """podReplacementPolicy Failed (or a podFailurePolicy): terminating pods are not failures yet."""
    spec = job["spec"]
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def _is_pod_failed(pod: dict, job: dict) -> bool:
    if _phase(pod) == "Failed":
        return True
    if _only_replace_failed(job):
        return False
    # a pod deleted before it finished never reaches Failed: count it as failed now
    return bool(pod["metadata"].get("deletionTimestamp")) and _phase(pod) != "Succeeded"


def _is_terminating(pod: dict) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp")) and _phase(pod) not in ("Succeeded", "Failed")


def _restart_count(pod: dict) -> int:
    status = pod.get("status") or {}
    return sum(int(c.get("restartCount") or 0)
               for c in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []))


def _past_backoff_limit_on_failure(job: dict, pods: list[dict]) -> bool:
    """restartPolicy OnFailure: the kubelet restarts containers, so restarts are the failures."""
    if (job["spec"].get("template", {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = sum(_restart_count(p) for p in pods if _phase(p) in ("Running", "Pending"))
    limit = int(job["spec"].get("backoffLimit") or 0)
    return restarts > 0 if limit == 0 else restarts >= limit


def _timestamp(text: str | None) -> float:
    try:
        return parse_time(text).timestamp() if text else 0.0
    except ValueError:
        return 0.0


def _removal_rank(pod: dict) -> tuple:
    """upstream controller.ActivePods order: the cheapest pods to lose come first."""
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(_phase(pod), 3)
    ready_since = pod_ready_since(pod)
    return (bool((pod.get("spec") or {}).get("nodeName")), phase_rank, is_pod_ready(pod),
            -(ready_since.timestamp() if ready_since else 0.0), -_restart_count(pod),
            -_timestamp(pod["metadata"].get("creationTimestamp")))


def _new_condition(cond_type: str, reason: str, message: str, now: str, status: str = "True") -> dict:
    return {"type": cond_type, "status": status, "reason": reason, "message": message,
            "lastProbeTime": now, "lastTransitionTime": now}


def _ensure_condition(status: dict, cond_type: str, cond_status: str, reason: str, message: str, now: str) -> bool:
    """upstream ensureJobConditionStatus: update in place, append only non-False conditions."""
    conditions = status.setdefault("conditions", [])
    for i, c in enumerate(conditions):
        if c.get("type") == cond_type:
            if (c.get("status"), c.get("reason"), c.get("message")) != (cond_status, reason, message):
                conditions[i] = _new_condition(cond_type, reason, message, now, cond_status)
                return True
            return False
    if cond_status != "False":
        conditions.append(_new_condition(cond_type, reason, message, now, cond_status))
        return True
    return False


class _Sync:
    """The state one `sync` pass accumulates (upstream syncJobCtx)."""

    def __init__(self, job: dict, pods: list[dict], expected_removals: set[str]) -> None:
        self.job = job
        self.pods = pods
        self.active_pods = [p for p in pods if is_pod_active(p)]
        self.ready = sum(1 for p in self.active_pods if is_pod_ready(p))
        self.terminating = sum(1 for p in pods if _is_terminating(p))
        uncounted = job["status"].get("uncountedTerminatedPods") or {}
        self.uncounted_succeeded = set(uncounted.get("succeeded") or ())
        self.uncounted_failed = set(uncounted.get("failed") or ())
        self.expected_removals = expected_removals
        self.finished: dict | None = None
        self.succeeded = 0
        self.failed = 0
        self.backoff: BackoffRecord | None = None
        self.prev_succeeded_indexes: set[int] = set()
        self.succeeded_indexes: set[int] = set()


class JobController:
    name = "job"

    def __init__(self, ctx, *, workers: int | None = None, pod_failure_backoff: float | None = None) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.recorder = ctx.recorder("job-controller")
        self.workers = workers or ctx.settings.workers
        self.backoff_base = (pod_failure_backoff if pod_failure_backoff is not None
                             else getattr(ctx.settings, "job_pod_failure_backoff", DEFAULT_POD_FAILURE_BACKOFF))
        self.backoff_max = max(MAX_POD_FAILURE_BACKOFF, self.backoff_base)
        self.pod_event_batch = POD_EVENT_BATCH
        self.queue = WorkQueue("job")
        self.orphan_queue = WorkQueue("job-orphan-pods")
        self.expectations = Expectations()
        self.finalizer_expectations: dict[str, set[str]] = {}  # job key → pod uids being un-finalized
        self.backoff = BackoffStore()
        self._deletion_seen: set[str] = set()
        self.jobs_info = ctx.client.resource("batch", "jobs")
        self.pods_info = ctx.client.resource("", "pods")
        self.jobs = ctx.informers.resource("batch", "jobs")
        self.pods = ctx.informers.resource("", "pods")
        self.jobs.add_handler(self._job_added, self._job_updated, self._job_deleted)
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.ttl = TTLAfterFinishedController(ctx.client, self.jobs, ctx.clock)

    async def run(self) -> None:
        """Secondary loops: TTL-after-finished and orphan-pod finalizer removal."""
        try:
            await asyncio.gather(run_workers(self.ttl.queue, self.ttl.sync, 1),
                                 run_workers(self.orphan_queue, self.sync_orphan_pod, 1))
        finally:
            self.ttl.queue.shutdown()
            self.orphan_queue.shutdown()

    # -- event handlers: map to keys only --------------------------------------------------
    def _job_added(self, job: dict) -> None:
        self.queue.add(key_of(job))

    def _job_updated(self, old: dict, new: dict) -> None:
        key = key_of(new)
        self.queue.add(key)
        deadline = (new.get("spec") or {}).get("activeDeadlineSeconds")
        start = (new.get("status") or {}).get("startTime")
        if deadline is not None and start and deadline != (old.get("spec") or {}).get("activeDeadlineSeconds"):
            self.queue.add_after(key, max(0.0, _timestamp(start) + int(deadline) - self.clock()))

    def _job_deleted(self, job: dict) -> None:
        self.queue.add(key_of(job))
        # its pods may still carry tracking finalizers that nobody else would remove
        uid = job["metadata"].get("uid")
        for pod in self.pods.list(job["metadata"].get("namespace")):
            ref = controller_of(pod)
            if ref is not None and ref.get("uid") == uid and _has_finalizer(pod):
                self.orphan_queue.add(key_of(pod))

    def _owner(self, pod: dict) -> dict | None:
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != KIND:
            return None
        job = self.jobs.get(pod["metadata"].get("namespace"), ref.get("name", ""))
        if job is None or job["metadata"].get("uid") != ref.get("uid"):
            return None
        return job

    def _handle_unowned(self, pod: dict) -> None:
        if _has_finalizer(pod):
            self.orphan_queue.add(key_of(pod))
        if controller_of(pod) is not None:
            return
        labels = pod["metadata"].get("labels") or {}
        for job in self.jobs.list(pod["metadata"].get("namespace")):
            selector = (job.get("spec") or {}).get("selector")
            if selector and selector_from_dict(selector).matches(labels):
                self.queue.add(key_of(job))

    def _observe_deletion(self, key: str, pod: dict) -> None:
        uid = pod["metadata"].get("uid")
        if uid not in self._deletion_seen:
            self._deletion_seen.add(uid)
            self.expectations.deletion_observed(key)

    def _finalizer_removal_observed(self, key: str, pod: dict) -> None:
        expected = self.finalizer_expectations.get(key)
        if expected is not None:
            expected.discard(pod["metadata"].get("uid"))

    def _pod_added(self, pod: dict) -> None:
        job = self._owner(pod)
        if job is None:
            self._handle_unowned(pod)
            return
        key = key_of(job)
        if pod["metadata"].get("deletionTimestamp"):
            self._observe_deletion(key, pod)
        else:
            self.expectations.creation_observed(key)
        if is_job_finished(job) and _has_finalizer(pod):
            self.orphan_queue.add(key_of(pod))
        self.queue.add_after(key, self.pod_event_batch)

    def _pod_updated(self, old: dict, new: dict) -> None:
        old_job = self._owner(old)
        job = self._owner(new)
        if old_job is not None and (job is None or key_of(old_job) != key_of(job)):
            self.queue.add(key_of(old_job))
        if job is None:
            self._handle_unowned(new)
            return
        key = key_of(job)
        if new["metadata"].get("deletionTimestamp"):
            self._observe_deletion(key, new)
        if not _has_finalizer(new):
            self._finalizer_removal_observed(key, new)
        if is_job_finished(job) and _has_finalizer(new):
            self.orphan_queue.add(key_of(new))
        self.queue.add_after(key, self.pod_event_batch)

    def _pod_deleted(self, pod: dict) -> None:
        job = self._owner(pod)
        if job is not None:
            key = key_of(job)
            self._observe_deletion(key, pod)
            self._finalizer_removal_observed(key, pod)
            self.queue.add_after(key, self.pod_event_batch)
        self._deletion_seen.discard(pod["metadata"].get("uid"))

    # -- orphan pods ---------------------------------------------------------------------
    async def sync_orphan_pod(self, key: str) -> None:
        """Remove the tracking finalizer from a pod whose Job is gone, finished or foreign."""
        namespace, name = split_key(key)
        pod = self.pods.get(namespace, name)
        if pod is None or not _has_finalizer(pod):
            return
        ref = controller_of(pod)
        if ref is not None:
            if ref.get("kind") != KIND or ref.get("apiVersion") != "batch/v1":
                return  # someone else's pod: not ours to touch
            job = self._owner(pod)
            if job is not None and not is_job_finished(job):
                return  # still tracked by a live Job
        await self._remove_finalizer(pod)

    async def _remove_finalizer(self, pod: dict) -> None:
        patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": [JOB_TRACKING_FINALIZER]}}
        try:
            await self.client.patch(self.pods_info, pod["metadata"]["name"], patch, pod["metadata"].get("namespace"),
                                    patch_type="strategic")
        except ApiError as e:
            if e.code != 404:
                raise

    # -- sync ------------------------------------------------------------------------------
    def _now(self) -> str:
        return format_time(dt.datetime.fromtimestamp(self.clock(), dt.UTC))

    async def sync(self, key: str) -> None:
        cached = self.jobs.get_by_key(key)
        if cached is None:
            self.expectations.forget(key)
            self.finalizer_expectations.pop(key, None)
            self.backoff.forget(key)
            return
        managed_by = (cached.get("spec") or {}).get("managedBy")
        if managed_by and managed_by != CONTROLLER_NAME:
            return
        if is_job_finished(cached):
            self.backoff.forget(key)
            return
        mode = cached["spec"].get("completionMode") or "NonIndexed"
        if mode not in ("NonIndexed", "Indexed"):
            self.recorder.event(cached, "Warning", "UnknownCompletionMode",
                                "Skipped Job sync because completion mode is unknown")
            return
        job = copy.deepcopy(cached)
        status = job.setdefault("status", {})
        status.setdefault("uncountedTerminatedPods", {})
        old_active, old_ready = status.get("active", 0), status.get("ready")
        old_terminating, old_start = status.get("terminating"), status.get("startTime")

        satisfied = self.expectations.satisfied(key)
        pods = await self._pods_for_job(job)
        s = _Sync(job, pods, set(self.finalizer_expectations.get(key, ())))
        active = len(s.active_pods)
        new_succeeded = self._new_finished(s, lambda p: _phase(p) == "Succeeded", s.uncounted_succeeded)
        new_failed = self._new_finished(s, lambda p: _is_pod_failed(p, job), s.uncounted_failed)
        s.succeeded = int(status.get("succeeded") or 0) + len(new_succeeded) + len(s.uncounted_succeeded)
        s.failed = int(status.get("failed") or 0) + len(new_failed) + len(s.uncounted_failed)

        if not status.get("startTime") and not _suspended(job):
            status["startTime"] = self._now()
        s.backoff = self.backoff.new_record(key, new_succeeded, new_failed)

        spec = job["spec"]
        success_met = condition(job, "SuccessCriteriaMet")
        failure_target = condition(job, "FailureTarget")
        if success_met and success_met.get("status") == "True":
            s.finished = success_met
        elif failure_target and failure_target.get("status") == "True":
            s.finished = _new_condition("Failed", failure_target.get("reason", ""),
                                        failure_target.get("message", ""), self._now())
        elif s.failed > int(spec.get("backoffLimit") if spec.get("backoffLimit") is not None else 6) \
                or _past_backoff_limit_on_failure(job, pods):
            s.finished = _new_condition("FailureTarget", "BackoffLimitExceeded",
                                        "Job has reached the specified backoff limit", self._now())
        elif self._past_deadline(job):
            s.finished = _new_condition("FailureTarget", "DeadlineExceeded",
                                        "Job was active longer than specified deadline", self._now())
        elif spec.get("activeDeadlineSeconds") is not None and not _suspended(job):
            self.queue.add_after(key, max(0.0, _timestamp(status["startTime"]) + int(spec["activeDeadlineSeconds"])
                                          - self.clock()))

        if _is_indexed(job):
            completions = int(spec.get("completions") or 0)
            s.prev_succeeded_indexes = parse_indexes(status.get("completedIndexes"), completions)
            s.succeeded_indexes = s.prev_succeeded_indexes | {
                i for p in pods if _phase(p) == "Succeeded" and _has_finalizer(p)
                and (i := completion_index(p)) is not None and i < completions}
            s.succeeded = len(s.succeeded_indexes)

        suspend_changed = False
        manage_error: Exception | None = None
        if s.finished is not None:
            deleted, deleted_ready, manage_error = await self._delete_active(job, s.active_pods)
            if deleted != active or not satisfied:
                s.finished = None  # finalizers or unseen pods may remain: decide next time
            active -= deleted
            s.terminating += deleted
            s.ready -= deleted_ready
        else:
            manage_called = False
            if satisfied and not job["metadata"].get("deletionTimestamp"):
                active, manage_error = await self._manage(key, job, s)
                manage_called = True
            completions = spec.get("completions")
            if completions is None:
                complete = s.succeeded > 0 and active == 0
            else:
                complete = s.succeeded >= int(completions) and active == 0
            if complete:
                s.finished = _new_condition("SuccessCriteriaMet", "CompletionsReached",
                                            "Reached expected number of succeeded pods", self._now())
            elif manage_called:
                if _suspended(job):
                    if _ensure_condition(status, "Suspended", "True", "JobSuspended", "Job suspended", self._now()):
                        suspend_changed = True
                        self.recorder.event(job, "Normal", "Suspended", "Job suspended")
                elif _ensure_condition(status, "Suspended", "False", "JobResumed", "Job resumed", self._now()):
                    suspend_changed = True
                    self.recorder.event(job, "Normal", "Resumed", "Job resumed")
                    # activeDeadlineSeconds counts continuous activity: restart the clock
                    status["startTime"] = self._now()

        status["active"] = active
        status["ready"] = s.ready
        status["terminating"] = s.terminating
        needs_update = (suspend_changed or active != old_active or s.ready != old_ready
                        or s.terminating != old_terminating or status.get("startTime") != old_start)
        try:
            await self._track_status_and_remove_finalizers(key, s, needs_update)
        except ApiError as e:
            if e.code != 409:
                raise
            # our cached Job is older than the stored one; its update event is on the way
            log.debug("job %s: status conflict, retrying", key)
            self.queue.add_rate_limited(key)
        if manage_error is not None:
            raise manage_error

    def _past_deadline(self, job: dict) -> bool:
        deadline = job["spec"].get("activeDeadlineSeconds")
        start = (job.get("status") or {}).get("startTime")
        if deadline is None or not start or _suspended(job):
            return False
        return self.clock() - _timestamp(start) >= int(deadline)

    @staticmethod
    def _new_finished(s: _Sync, matches, uncounted: set[str]) -> list[dict]:
        """Finished pods not yet in status: they still carry the finalizer and are not recorded."""
        result = []
        indexed = _is_indexed(s.job)
        completions = int(s.job["spec"].get("completions") or 0)
        for pod in s.pods:
            uid = pod["metadata"].get("uid")
            if not _has_finalizer(pod) or uid in uncounted or uid in s.expected_removals:
                continue
            if indexed:
                index = completion_index(pod)
                if index is None or index >= completions:
                    continue
            if matches(pod):
                result.append(pod)
        return result

    async def _pods_for_job(self, job: dict) -> list[dict]:
        """Claim the Job's pods; adopted pods get the tracking finalizer, as upstream's claim adds it."""
        selector = selector_from_dict(job["spec"].get("selector"))
        namespace = job["metadata"].get("namespace")
        candidates = self.pods.list(namespace)
        before = {p["metadata"].get("uid"): controller_of(p) for p in candidates}
        pods = await claim(self.client, self.pods_info, job, selector, candidates)
        result = []
        for pod in pods:
            if before.get(pod["metadata"].get("uid")) is None and not _has_finalizer(pod):
                try:
                    pod = await self.client.patch(self.pods_info, pod["metadata"]["name"],
                                                  {"metadata": {"finalizers": [JOB_TRACKING_FINALIZER]}},
                                                  namespace, patch_type="strategic")
                except ApiError as e:
                    if e.code == 404:
                        continue
                    raise
            result.append(pod)
        return result

    async def _delete_active(self, job: dict, pods: list[dict]) -> tuple[int, int, Exception | None]:
        """Delete active pods keeping their finalizers (tracking removes them). → (deleted, ready, error)."""
        deleted = deleted_ready = 0
        error: Exception | None = None

        async def remove(pod: dict) -> None:
            nonlocal deleted, deleted_ready, error
            try:
                await self.client.delete(self.pods_info, pod["metadata"]["name"], pod["metadata"].get("namespace"))
            except ApiError as e:
                if e.code != 404:
                    error = error or e
                    return
            deleted += 1
            deleted_ready += 1 if is_pod_ready(pod) else 0

        await asyncio.gather(*(remove(p) for p in pods))
        return deleted, deleted_ready, error

    async def _delete_job_pods(self, key: str, job: dict, pods: list[dict]) -> tuple[int, int, Exception | None]:
        """Delete surplus pods, dropping their finalizer first so they are not counted as failures."""
        deleted = deleted_ready = 0
        error: Exception | None = None

        async def remove(pod: dict) -> None:
            nonlocal deleted, deleted_ready, error
            try:
                if _has_finalizer(pod):
                    await self._remove_finalizer(pod)
                await self.client.delete(self.pods_info, pod["metadata"]["name"], pod["metadata"].get("namespace"))
            except ApiError as e:
                self.expectations.deletion_observed(key)  # the informer will not report it
                if e.code != 404:
                    error = error or e
                    return
            deleted += 1
            deleted_ready += 1 if is_pod_ready(pod) else 0
            self.recorder.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")

        await asyncio.gather(*(remove(p) for p in pods))
        return deleted, deleted_ready, error

    def _pods_for_removal(self, job: dict, pods: list[dict], at_least: int) -> list[dict]:
        """Duplicate or out-of-range indexes first (Indexed), then the cheapest active pods."""
        remove: list[dict] = []
        left = pods
        if _is_indexed(job):
            completions = int(job["spec"].get("completions") or 0)
            by_index: dict[int, list[dict]] = {}
            for pod in pods:
                index = completion_index(pod)
                if index is None or index >= completions:
                    remove.append(pod)
                else:
                    by_index.setdefault(index, []).append(pod)
            left = []
            for index in sorted(by_index):
                ranked = sorted(by_index[index], key=_removal_rank)
                remove += ranked[:-1]  # keep the most valuable pod of a repeated index
                left.append(ranked[-1])
        if len(remove) < at_least:
            remove += sorted(left, key=_removal_rank)[:at_least - len(remove)]
        return remove

    async def _manage(self, key: str, job: dict, s: _Sync) -> tuple[int, Exception | None]:
        """Create or delete pods towards the wanted number of active pods; returns (active, error)."""
        active = len(s.active_pods)
        spec = job["spec"]
        parallelism = int(spec.get("parallelism") if spec.get("parallelism") is not None else 1)
        if _suspended(job):
            doomed = self._pods_for_removal(job, s.active_pods, active)
            self.expectations.expect_deletions(key, len(doomed))
            removed, removed_ready, error = await self._delete_job_pods(key, job, doomed)
            s.terminating += removed
            s.ready -= removed_ready
            return active - removed, error

        completions = spec.get("completions")
        if completions is None:
            # work-queue Job: after the first success, let the remaining pods finish
            want = active if s.succeeded > 0 else parallelism
        else:
            want = max(0, min(int(completions) - s.succeeded, parallelism))

        doomed = self._pods_for_removal(job, s.active_pods, max(0, active - want))[:MAX_POD_CREATE_DELETE_PER_SYNC]
        if doomed:
            self.expectations.expect_deletions(key, len(doomed))
            removed, removed_ready, error = await self._delete_job_pods(key, job, doomed)
            s.terminating += removed
            s.ready -= removed_ready
            return active - removed, error  # never create and delete in the same pass

        terminating = s.terminating if _only_replace_failed(job) else 0
        diff = want - terminating - active
        if diff <= 0:
            return active, None
        assert s.backoff is not None
        wait = s.backoff.remaining(self.clock(), self.backoff_base, self.backoff_max)
        if wait > 0:
            self.queue.add_after(key, wait)
            return active, None
        diff = min(diff, MAX_POD_CREATE_DELETE_PER_SYNC)
        indexes: list[int] = []
        if _is_indexed(job):
            indexes = first_pending_indexes(int(completions or 0), s.succeeded_indexes, s.active_pods, diff)
            diff = len(indexes)
            if diff == 0:
                return active, None

        template = copy.deepcopy(spec.get("template") or {})
        if _is_indexed(job):
            _add_completion_index_env(template)
        finalizers = template.setdefault("metadata", {}).setdefault("finalizers", [])
        if JOB_TRACKING_FINALIZER not in finalizers:
            finalizers.append(JOB_TRACKING_FINALIZER)
        self.expectations.expect_creations(key, diff)
        errors: list[Exception] = []
        created = 0
        name = job["metadata"]["name"]

        async def create(index: int | None) -> None:
            nonlocal created
            if index is None:
                pod = pod_from_template(template, job, generate_name=f"{name}-")
            else:
                pod = pod_from_template(template, job, generate_name=f"{name}-{index}-")
                pod["metadata"].setdefault("annotations", {})[COMPLETION_INDEX_KEY] = str(index)
                pod["metadata"]["labels"][COMPLETION_INDEX_KEY] = str(index)
                pod["spec"]["hostname"] = f"{name}-{index}"
            try:
                result = await self.client.create(self.pods_info, pod, job["metadata"].get("namespace"))
            except ApiError as e:
                self.expectations.creation_observed(key)  # the informer will never see it
                if "being terminated" not in str(e):
                    errors.append(e)
                    self.recorder.event(job, "Warning", "FailedCreate", f"Error creating: {e}")
                return
            created += 1
            self.recorder.event(job, "Normal", "SuccessfulCreate", f"Created pod: {result['metadata']['name']}")

        # slow start: batches of 1, 2, 4, ... stop at the first batch with a failure
        plan: list[int | None] = list(indexes) if indexes else [None] * diff
        position, batch = 0, min(len(plan), SLOW_START_INITIAL_BATCH)
        while position < len(plan):
            before = len(errors)
            await asyncio.gather(*(create(i) for i in plan[position:position + batch]))
            position += batch
            if len(errors) > before:
                for _ in plan[position:]:
                    self.expectations.creation_observed(key)
                break
            batch = min(2 * batch, len(plan) - position)
        return active + created, (errors[0] if errors else None)

    # -- status tracking -----------------------------------------------------------------
    async def _track_status_and_remove_finalizers(self, key: str, s: _Sync, needs_flush: bool) -> None:
        """Record finished pods as uncounted, strip their finalizers, fold them into the counters,
        and add the terminal condition once nothing is left uncounted or terminating."""
        job = s.job
        status = job["status"]
        indexed = _is_indexed(job)
        completions = int(job["spec"].get("completions") or 0)
        pods = sorted(s.pods, key=lambda p: completion_index(p) or 0) if indexed else s.pods
        with_finalizer = {p["metadata"]["uid"] for p in pods
                          if _has_finalizer(p) and p["metadata"]["uid"] not in s.expected_removals}
        if _fold_uncounted(status, with_finalizer):
            needs_flush = True
        uncounted = status["uncountedTerminatedPods"]
        uncounted_succeeded = list(uncounted.get("succeeded") or [])
        uncounted_failed = list(uncounted.get("failed") or [])
        to_strip: list[dict] = []
        new_indexes: set[int] = set()
        reached_max = False
        for pod in pods:
            uid = pod["metadata"]["uid"]
            if not _has_finalizer(pod) or uid in s.expected_removals:
                continue  # counted by an earlier pass
            failed = _is_pod_failed(pod, job)
            if not (job["metadata"].get("deletionTimestamp") or s.finished is not None
                    or _phase(pod) == "Succeeded" or failed):
                continue
            to_strip.append(pod)
            if _phase(pod) == "Succeeded" and uid not in s.uncounted_failed:
                if indexed:
                    index = completion_index(pod)
                    if index is not None and index < completions and index not in s.prev_succeeded_indexes:
                        new_indexes.add(index)
                        needs_flush = True
                elif uid not in s.uncounted_succeeded and uid not in uncounted_succeeded:
                    uncounted_succeeded.append(uid)
                    needs_flush = True
            elif failed or (s.finished is not None and s.finished["type"] != "SuccessCriteriaMet"):
                # once the Job failed, every pod that did not succeed counts as failed
                index = completion_index(pod)
                if uid not in s.uncounted_failed and uid not in uncounted_failed and (
                        not indexed or (index is not None and index < completions)):
                    uncounted_failed.append(uid)
                    needs_flush = True
            if len(new_indexes) + len(uncounted_succeeded) + len(uncounted_failed) >= MAX_UNCOUNTED_PODS:
                reached_max = True
                break
        status["uncountedTerminatedPods"] = {k: v for k, v in (("succeeded", uncounted_succeeded),
                                                                ("failed", uncounted_failed)) if v}
        if indexed:
            s.succeeded_indexes = s.succeeded_indexes | new_indexes
            text = format_indexes(s.succeeded_indexes)
            if text != (status.get("completedIndexes") or ""):
                needs_flush = True
            status["succeeded"] = len(s.succeeded_indexes)
            status["completedIndexes"] = text
        if s.finished is not None and s.finished["type"] == "FailureTarget":
            status.setdefault("conditions", []).append(s.finished)
            needs_flush = True
            s.finished = _new_condition("Failed", s.finished["reason"], s.finished["message"], self._now())
        if s.finished is not None and s.finished["type"] == "SuccessCriteriaMet":
            if condition(job, "SuccessCriteriaMet") is None:
                status.setdefault("conditions", []).append(s.finished)
                needs_flush = True
            s.finished = _new_condition("Complete", s.finished["reason"], s.finished["message"], self._now())

        if needs_flush:
            job = s.job = await self._write_status(job)
            if s.backoff is not None:
                self.backoff.update(s.backoff)
            needs_flush = False
        strip_error: Exception | None = None
        if to_strip:
            stripped, strip_error = await self._strip_finalizers(key, to_strip)
            with_finalizer -= stripped
        if _fold_uncounted(job["status"], with_finalizer):
            needs_flush = True
        if strip_error is not None:
            if needs_flush:
                await self._write_status(job)
            raise strip_error
        finished = not reached_max and self._enact_finished(s)
        if finished or needs_flush:
            s.job = await self._write_status(s.job)
        if finished:
            self._record_finished(s.job, s.finished)

    async def _strip_finalizers(self, key: str, pods: list[dict]) -> tuple[set[str], Exception | None]:
        expected = self.finalizer_expectations.setdefault(key, set())
        expected.update(p["metadata"]["uid"] for p in pods)
        stripped: set[str] = set()
        error: Exception | None = None

        async def strip(pod: dict) -> None:
            nonlocal error
            try:
                await self._remove_finalizer(pod)
            except ApiError as e:
                expected.discard(pod["metadata"]["uid"])  # no update event will follow
                error = error or e
                return
            stripped.add(pod["metadata"]["uid"])

        await asyncio.gather(*(strip(p) for p in pods))
        return stripped, error

    def _enact_finished(self, s: _Sync) -> bool:
        if s.finished is None:
            return False
        status = s.job["status"]
        uncounted = status.get("uncountedTerminatedPods") or {}
        if uncounted.get("succeeded") or uncounted.get("failed"):
            return False
        if s.terminating > 0:
            return False  # terminal conditions wait for terminating pods (JobPodReplacementPolicy)
        now = self._now()
        _ensure_condition(status, s.finished["type"], "True", s.finished.get("reason", ""),
                          s.finished.get("message", ""), now)
        if s.finished["type"] == "Complete":
            status["completionTime"] = now
        return True

    def _record_finished(self, job: dict, finished: dict) -> None:
        if finished["type"] == "Complete":
            completions = job["spec"].get("completions")
            if completions is not None and int(job["status"].get("succeeded") or 0) > int(completions):
                self.recorder.event(job, "Warning", "TooManySucceededPods",
                                    "Too many succeeded pods running after completion count reached")
            self.recorder.event(job, "Normal", "Completed", "Job completed")
        else:
            self.recorder.event(job, "Warning", finished.get("reason", ""), finished.get("message", ""))

    async def _write_status(self, job: dict) -> dict:
        return await self.client.update_status(self.jobs_info, job)


def _fold_uncounted(status: dict, with_finalizer: set[str]) -> bool:
    """Move uncounted pods whose finalizer is gone into the counters (cleanUncountedPodsWithoutFinalizers)."""
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    changed = False
    for field, counter in (("succeeded", "succeeded"), ("failed", "failed")):
        uids = uncounted.get(field) or []
        keep = [u for u in uids if u in with_finalizer]
        if len(keep) != len(uids):
            changed = True
            status[counter] = int(status.get(counter) or 0) + len(uids) - len(keep)
            if keep:
                uncounted[field] = keep
            else:
                uncounted.pop(field, None)
    return changed


def _add_completion_index_env(template: dict) -> None:
    """Expose the index to containers as JOB_COMPLETION_INDEX (downward API on the annotation)."""
    env_var = {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
        "fieldPath": f"metadata.annotations['{COMPLETION_INDEX_KEY}']"}}}
    spec = template.setdefault("spec", {})
    for group in ("initContainers", "containers"):
        for container in spec.get(group) or ():
            env = container.setdefault("env", [])
            if not any(e.get("name") == "JOB_COMPLETION_INDEX" for e in env):
                env.append(copy.deepcopy(env_var))
