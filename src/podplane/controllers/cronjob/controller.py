"""CronJob controller: create Jobs on a cron schedule (upstream pkg/controller/cronjob, v2).

Informers on CronJobs and Jobs; handlers map a Job to its controlling CronJob's key.
`sync(key)`:

1. reconciles `status.active` with the Jobs the CronJob controls (finished ones leave
   the list, a succeeded one moves `lastSuccessfulTime`, vanished ones are dropped);
2. trims finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit,
   oldest start first (deleted with Background propagation);
3. unless suspended or being deleted, finds the most recent unmet schedule time since
   `lastScheduleTime` (or creation); skips it when older than startingDeadlineSeconds,
   already handled, or (Forbid) a Job is still active; deletes the active Jobs first
   (Replace); then creates `<cronjob>-<scheduled time in minutes since the epoch>` from
   `jobTemplate`, so a retry can never start the same run twice;
4. writes status once and requeues itself for the next activation (+100 ms).

Schedules are parsed by `cronjob.schedule`; the zone is `spec.timeZone` or the
controller's local zone, as upstream. Time comes from the context's injected clock.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging

from podplane.api.errors import ApiError
from podplane.api.meta import format_time, parse_time
from podplane.client.informer import key_of
from podplane.client.workqueue import WorkQueue
from podplane.controllers.common import controller_of, controller_ref_to
from podplane.controllers.cronjob.schedule import CronSchedule, EverySchedule, ScheduleError, load_zone, parse

__all__ = ["CronJobController", "SCHEDULED_TIMESTAMP_ANNOTATION", "job_name", "most_recent_schedule_time"]

log = logging.getLogger(__name__)

KIND = "CronJob"
SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1  # seconds added to requeues so the sync lands after the activation
MANY_MISSED = 100  # upstream warns "too many missed start times" beyond this

Schedule = CronSchedule | EverySchedule


def job_name(cronjob: dict, scheduled: dt.datetime) -> str:
    """Deterministic per run: `<name>-<minutes since the epoch>` (upstream getJobName)."""
    return f"{cronjob['metadata']['name']}-{int(scheduled.timestamp()) // 60}"


def _finished_condition(job: dict) -> str | None:
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return c["type"]
    return None


def _parse(text: str | None) -> dt.datetime | None:
    try:
        return parse_time(text) if text else None
    except ValueError:
        return None


def _rfc3339(t: dt.datetime) -> str:
    """Go's time.RFC3339 in t's own offset: `Z` for UTC, `+01:00` otherwise."""
    text = t.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def most_recent_schedule_time(cronjob: dict, now: dt.datetime, schedule: Schedule,
                              include_deadline: bool) -> tuple[dt.datetime, dt.datetime | None, int]:
    """(earliest time considered, most recent unmet activation or None, missed count estimate).

    Mirrors upstream mostRecentScheduleTime: it estimates how many activations were missed
    from the gap between two consecutive ones instead of walking every missed minute.
    """
    status = cronjob.get("status") or {}
    earliest = (_parse(status.get("lastScheduleTime")) or _parse(cronjob["metadata"].get("creationTimestamp"))
                or now)
    deadline = (cronjob.get("spec") or {}).get("startingDeadlineSeconds")
    if include_deadline and deadline is not None:
        earliest = max(earliest, now - dt.timedelta(seconds=int(deadline)))
    t1 = schedule.next(earliest)
    if t1 is None or now < t1:
        return earliest, None, 0
    t2 = schedule.next(t1)
    if t2 is None or now < t2:
        return earliest, t1, 0
    between = round((t2 - t1).total_seconds())
    if between < 1:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    missed = int((now - t1).total_seconds()) // between + 1
    most_recent = None
    t: dt.datetime | None = schedule.next(t1 + dt.timedelta(seconds=(missed - 2) * between))
    while t is not None and t <= now:
        most_recent = t
        t = schedule.next(t)
    return earliest, most_recent, missed


def _next_requeue(cronjob: dict, now: dt.datetime, schedule: Schedule) -> float | None:
    """Seconds until the sync after the next activation (upstream nextScheduleTimeDuration)."""
    try:
        earliest, most_recent, _ = most_recent_schedule_time(cronjob, now, schedule, False)
    except ScheduleError:
        return None
    base = most_recent if most_recent is not None else earliest
    upcoming = schedule.next(base)
    if upcoming is None:
        return None
    return max(0.0, (upcoming - now).total_seconds()) + NEXT_SCHEDULE_DELTA


class CronJobController:
    name = "cronjob"

    def __init__(self, ctx, *, workers: int | None = None, default_zone: dt.tzinfo | None = None) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.recorder = ctx.recorder("cronjob-controller")
        self.workers = workers or ctx.settings.workers
        self.default_zone = default_zone or load_zone("Local")
        self.queue = WorkQueue("cronjob")
        self.cronjobs_info = ctx.client.resource("batch", "cronjobs")
        self.jobs_info = ctx.client.resource("batch", "jobs")
        self.cronjobs = ctx.informers.resource("batch", "cronjobs")
        self.jobs = ctx.informers.resource("batch", "jobs")
        self.cronjobs.add_handler(self._enqueue, lambda old, new: self._enqueue(new))
        self.jobs.add_handler(self._enqueue_owner, self._job_updated, self._enqueue_owner)

    # -- event handlers: map to keys only --------------------------------------------------
    def _enqueue(self, cronjob: dict) -> None:
        self.queue.add(key_of(cronjob))

    def _owner_key(self, job: dict) -> str | None:
        ref = controller_of(job)
        if ref is None or ref.get("kind") != KIND:
            return None
        cronjob = self.cronjobs.get(job["metadata"].get("namespace"), ref.get("name", ""))
        if cronjob is None or cronjob["metadata"].get("uid") != ref.get("uid"):
            return None
        return key_of(cronjob)

    def _enqueue_owner(self, job: dict) -> None:
        if key := self._owner_key(job):
            self.queue.add(key)

    def _job_updated(self, old: dict, new: dict) -> None:
        old_key, key = self._owner_key(old), self._owner_key(new)
        if old_key and old_key != key:
            self.queue.add(old_key)
        if key:
            self.queue.add(key)

    # -- sync ------------------------------------------------------------------------------
    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    async def sync(self, key: str) -> None:
        cached = self.cronjobs.get_by_key(key)
        if cached is None:
            return
        cronjob = copy.deepcopy(cached)
        cronjob.setdefault("status", {})
        name = cronjob["metadata"]["name"]
        jobs = [j for j in self.jobs.list(cronjob["metadata"].get("namespace"))
                if (ref := controller_of(j)) is not None and ref.get("kind") == KIND and ref.get("name") == name]
        changed = await self._cleanup_finished_jobs(cronjob, jobs)
        requeue, sync_changed, error = await self._sync_cronjob(cronjob, jobs)
        if changed or sync_changed:
            try:
                await self.client.update_status(self.cronjobs_info, cronjob)
            except ApiError as e:
                if e.code != 409:
                    raise
                # stale cache: the retry sees the newer object (a created Job is found by name)
                log.debug("cronjob %s: status conflict, retrying", key)
                self.queue.add_rate_limited(key)
                return
        if requeue is not None:
            self.queue.add_after(key, requeue)
        if error is not None:
            raise error

    async def _sync_cronjob(self, cronjob: dict, jobs: list[dict]) -> tuple[float | None, bool, Exception | None]:
        """Returns (requeue after seconds, status changed, error)."""
        status = cronjob["status"]
        spec = cronjob.get("spec") or {}
        changed = False
        children = set()
        for job in jobs:
            uid = job["metadata"].get("uid")
            children.add(uid)
            in_active = any(ref.get("uid") == uid for ref in status.get("active") or ())
            finished = _finished_condition(job)
            if not in_active and finished is None:
                self.recorder.event(cronjob, "Warning", "UnexpectedJob",
                                    f"Saw a job that the controller did not create or forgot: {job['metadata']['name']}")
            elif in_active and finished is not None:
                self._remove_active(cronjob, uid)
                self.recorder.event(cronjob, "Normal", "SawCompletedJob",
                                    f"Saw completed job: {job['metadata']['name']}, condition: {finished}")
                changed = True
            if finished == "Complete":
                completed = _parse((job.get("status") or {}).get("completionTime"))
                last = _parse(status.get("lastSuccessfulTime"))
                if completed is not None and (last is None or completed > last):
                    status["lastSuccessfulTime"] = format_time(completed)
                    changed = True

        for ref in list(status.get("active") or ()):
            if ref.get("uid") in children:
                continue
            # not in the cache: ask the server before declaring it gone (the watch may lag)
            try:
                await self.client.get(self.jobs_info, ref.get("name", ""), ref.get("namespace"))
            except ApiError as e:
                if e.code != 404:
                    return None, changed, e
                self.recorder.event(cronjob, "Normal", "MissingJob", f"Active job went missing: {ref.get('name')}")
                self._remove_active(cronjob, ref.get("uid"))
                changed = True

        if cronjob["metadata"].get("deletionTimestamp"):
            return None, changed, None
        zone = self.default_zone
        if spec.get("timeZone") is not None:
            try:
                zone = load_zone(spec["timeZone"])
            except ScheduleError as e:
                self.recorder.event(cronjob, "Warning", "UnknownTimeZone", f"invalid timeZone: {spec['timeZone']!r}: {e}")
                return None, changed, None
        if spec.get("suspend"):
            return None, changed, None
        text = spec.get("schedule") or ""
        if "TZ" in text:
            self.recorder.event(cronjob, "Warning", "UnsupportedSchedule",
                                f"CRON_TZ or TZ used in schedule {text!r} is not officially supported, see "
                                "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details")
        try:
            schedule = parse(text, zone)
        except ScheduleError as e:
            self.recorder.event(cronjob, "Warning", "UnparseableSchedule", f"unparseable schedule: {text!r} : {e}")
            return None, changed, None

        now = self._now()
        try:
            _, scheduled, missed = most_recent_schedule_time(cronjob, now, schedule, True)
        except ScheduleError as e:
            self.recorder.event(cronjob, "Warning", "InvalidSchedule", f"invalid schedule: {text} : {e}")
            return None, changed, None
        if missed > MANY_MISSED:
            self.recorder.event(cronjob, "Warning", "TooManyMissedTimes",
                                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                                "or check clock skew")
        if scheduled is None:
            return _next_requeue(cronjob, now, schedule), changed, None

        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + dt.timedelta(seconds=int(deadline)) < now:
            self.recorder.event(cronjob, "Warning", "MissSchedule",
                                f"Missed scheduled time to start a job: {format_time(scheduled)}")
            return _next_requeue(cronjob, now, schedule), changed, None
        name = job_name(cronjob, scheduled)
        if any(ref.get("name") == name for ref in status.get("active") or ()) or \
                _parse(status.get("lastScheduleTime")) == scheduled:
            return _next_requeue(cronjob, now, schedule), changed, None
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status.get("active"):
            self.recorder.event(cronjob, "Normal", "JobAlreadyActive",
                                "Not starting job because prior execution is running and concurrency policy is Forbid")
            return _next_requeue(cronjob, now, schedule), changed, None
        if policy == "Replace":
            for ref in list(status.get("active") or ()):
                try:
                    job = await self.client.get(self.jobs_info, ref.get("name", ""), ref.get("namespace"))
                except ApiError as e:
                    if e.code == 404:
                        self._remove_active(cronjob, ref.get("uid"))
                        changed = True
                        continue
                    self.recorder.event(cronjob, "Warning", "FailedGet", f"Get job: {e}")
                    return None, changed, e
                if not await self._delete_job(cronjob, job):
                    return None, changed, RuntimeError(f"could not replace job {ref.get('namespace')}/{ref.get('name')}")
                changed = True

        request = self._job_from_template(cronjob, scheduled, zone)
        try:
            job = await self.client.create(self.jobs_info, request, cronjob["metadata"].get("namespace"))
            self.recorder.event(cronjob, "Normal", "SuccessfulCreate", f"Created job {job['metadata']['name']}")
        except ApiError as e:
            if e.code != 409 or e.reason != "AlreadyExists":
                if "being terminated" not in str(e):
                    self.recorder.event(cronjob, "Warning", "FailedCreate", f"Error creating job: {e}")
                return None, changed, e
            # created before but the status write was lost: re-record it if it is ours
            try:
                job = await self.client.get(self.jobs_info, name, cronjob["metadata"].get("namespace"))
            except ApiError as get_error:
                return None, changed, get_error
            ref = controller_of(job)
            if ref is None or ref.get("uid") != cronjob["metadata"].get("uid"):
                return None, changed, None
            if any(r.get("uid") == job["metadata"].get("uid") for r in status.get("active") or ()):
                return None, changed, None
        status.setdefault("active", []).append(
            {"kind": "Job", "namespace": job["metadata"].get("namespace"), "name": job["metadata"]["name"],
             "uid": job["metadata"].get("uid"), "apiVersion": "batch/v1",
             "resourceVersion": job["metadata"].get("resourceVersion")})
        status["lastScheduleTime"] = format_time(scheduled)
        return _next_requeue(cronjob, now, schedule), True, None

    @staticmethod
    def _remove_active(cronjob: dict, uid: str | None) -> None:
        status = cronjob["status"]
        active = [ref for ref in status.get("active") or () if ref.get("uid") != uid]
        if active:
            status["active"] = active
        else:
            status.pop("active", None)

    def _job_from_template(self, cronjob: dict, scheduled: dt.datetime, zone: dt.tzinfo) -> dict:
        template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
        tmeta = template.get("metadata") or {}
        annotations = dict(tmeta.get("annotations") or {})
        if (cronjob.get("spec") or {}).get("timeZone") is None:
            zone = dt.UTC  # upstream formats with time.LoadLocation("") when no zone is given
        annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = _rfc3339(scheduled.astimezone(zone))
        return {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": job_name(cronjob, scheduled), "namespace": cronjob["metadata"].get("namespace"),
                             "labels": dict(tmeta.get("labels") or {}), "annotations": annotations,
                             "ownerReferences": [controller_ref_to(cronjob)]},
                "spec": copy.deepcopy(template.get("spec") or {})}

    async def _delete_job(self, cronjob: dict, job: dict) -> bool:
        try:
            await self.client.delete(self.jobs_info, job["metadata"]["name"], job["metadata"].get("namespace"),
                                     propagation_policy="Background")
        except ApiError as e:
            if e.code != 404:
                self.recorder.event(cronjob, "Warning", "FailedDelete", f"Deleted job: {e}")
                return False
        self._remove_active(cronjob, job["metadata"].get("uid"))
        self.recorder.event(cronjob, "Normal", "SuccessfulDelete", f"Deleted job {job['metadata']['name']}")
        return True

    async def _cleanup_finished_jobs(self, cronjob: dict, jobs: list[dict]) -> bool:
        spec = cronjob.get("spec") or {}
        succeeded_limit = spec.get("successfulJobsHistoryLimit")
        failed_limit = spec.get("failedJobsHistoryLimit")
        if succeeded_limit is None and failed_limit is None:
            return False
        succeeded = [j for j in jobs if _finished_condition(j) == "Complete"]
        failed = [j for j in jobs if _finished_condition(j) == "Failed"]
        changed = False
        for group, limit in ((succeeded, succeeded_limit), (failed, failed_limit)):
            if limit is None or len(group) <= int(limit):
                continue
            # oldest start first; jobs that never started sort last; names break ties
            ordered = sorted(group, key=lambda j: (_parse((j.get("status") or {}).get("startTime")) is None,
                                                   (j.get("status") or {}).get("startTime") or "",
                                                   j["metadata"]["name"]))
            for job in ordered[:len(group) - int(limit)]:
                if await self._delete_job(cronjob, job):
                    changed = True
        return changed
