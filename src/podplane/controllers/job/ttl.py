"""TTL-after-finished: delete finished Jobs `ttlSecondsAfterFinished` seconds after they end.

Upstream runs this as its own controller (pkg/controller/ttlafterfinished); here it rides
along with the Job controller (`JobController.run` drives its queue) because the manager
knows one module per controller name. Handlers enqueue Jobs that are finished and carry
a TTL; `sync` re-enqueues with `add_after` until the TTL expires, then re-reads the Job
through the client (the TTL may have just been changed), and deletes it with a uid
precondition. Dependent pods are left to the garbage collector.
"""

from __future__ import annotations

import datetime as dt
import logging

from podplane.api.errors import ApiError
from podplane.api.meta import parse_time
from podplane.client.informer import key_of, split_key
from podplane.client.workqueue import WorkQueue

__all__ = ["PROPAGATION", "TTLAfterFinishedController", "finish_time", "is_job_finished"]

log = logging.getLogger(__name__)

# Upstream uses Foreground so the Job disappears only after its pods; Background was asked
# for here: the Job goes at once and the garbage collector removes the pods after it.
PROPAGATION = "Background"


def is_job_finished(job: dict) -> bool:
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or ())


def finish_time(job: dict) -> dt.datetime | None:
    """lastTransitionTime of the Complete/Failed condition (upstream jobFinishTime)."""
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            try:
                return parse_time(c.get("lastTransitionTime") or "")
            except ValueError:
                return None
    return None


def _needs_cleanup(job: dict) -> bool:
    return (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and is_job_finished(job)


class TTLAfterFinishedController:
    name = "ttl-after-finished"

    def __init__(self, client, jobs_informer, clock, queue: WorkQueue | None = None) -> None:
        self.client = client
        self.jobs = jobs_informer
        self.clock = clock
        self.queue = queue or WorkQueue("ttl-after-finished")
        self.info = client.resource("batch", "jobs")
        jobs_informer.add_handler(self._maybe_enqueue, lambda old, new: self._maybe_enqueue(new))

    def _maybe_enqueue(self, job: dict) -> None:
        if not job["metadata"].get("deletionTimestamp") and _needs_cleanup(job):
            self.queue.add(key_of(job))

    def _seconds_left(self, job: dict) -> float | None:
        """Seconds until expiry (<= 0: expired); None when the Job needs no cleanup."""
        if job["metadata"].get("deletionTimestamp") or not _needs_cleanup(job):
            return None
        finished = finish_time(job)
        if finished is None:
            return None
        expire_at = finished.timestamp() + int(job["spec"]["ttlSecondsAfterFinished"])
        return expire_at - self.clock()

    async def sync(self, key: str) -> None:
        job = self.jobs.get_by_key(key)
        if job is None:
            return
        left = self._seconds_left(job)
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        namespace, name = split_key(key)
        try:
            fresh = await self.client.get(self.info, name, namespace)
        except ApiError as e:
            if e.code == 404:
                return
            raise
        left = self._seconds_left(fresh)
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        log.info("job %s: ttlSecondsAfterFinished expired, deleting", key)
        try:
            await self.client.delete(self.info, name, namespace, propagation_policy=PROPAGATION,
                                     preconditions={"uid": fresh["metadata"]["uid"]})
        except ApiError as e:
            if e.code not in (404, 409):
                raise
