"""Pod-failure back-off for Jobs (upstream backoff_utils.go).

Per Job, the store remembers how many pod failures happened since the last success and
when the latest one finished. A replacement pod may be created only after
`base * 2^(failures-1)` (capped at `maximum`) has passed since that failure; upstream
uses 10 s and 6 min. Records live in memory, as upstream's: a restarted controller
starts without back-off. Pure apart from the injected clock value passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from podplane.api.meta import parse_time

__all__ = ["BackoffRecord", "BackoffStore", "finish_time"]


def _timestamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return parse_time(text).timestamp()
    except ValueError:
        return None


def finish_time(pod: dict) -> float:
    """When a pod finished: latest container termination, else Ready=False transition, else
    deletionTimestamp, else creationTimestamp (upstream getFinishedTime)."""
    status = pod.get("status") or {}
    finished = [t for c in status.get("containerStatuses") or ()
                if (t := _timestamp(((c.get("state") or {}).get("terminated") or {}).get("finishedAt")))]
    if finished:
        return max(finished)
    for condition in status.get("conditions") or ():
        if condition.get("type") == "Ready" and condition.get("status") == "False":
            if (t := _timestamp(condition.get("lastTransitionTime"))) is not None:
                return t
    meta = pod.get("metadata") or {}
    for field in ("deletionTimestamp", "creationTimestamp"):
        if (t := _timestamp(meta.get(field))) is not None:
            return t
    return 0.0


@dataclass(frozen=True)
class BackoffRecord:
    key: str
    failures_after_last_success: int = 0
    last_failure_time: float | None = None

    def remaining(self, now: float, base: float, maximum: float) -> float:
        if self.failures_after_last_success == 0 or self.last_failure_time is None:
            return 0.0
        delay = base
        for _ in range(1, self.failures_after_last_success):
            delay *= 2
            if delay >= maximum:
                delay = maximum
                break
        elapsed = now - self.last_failure_time
        return 0.0 if delay < elapsed else delay - elapsed


class BackoffStore:
    def __init__(self) -> None:
        self._records: dict[str, BackoffRecord] = {}

    def new_record(self, key: str, new_succeeded: list[dict], new_failed: list[dict]) -> BackoffRecord:
        """The record after counting these newly finished pods (not stored until `update`)."""
        record = self._records.get(key) or BackoffRecord(key)
        failed_times = sorted(finish_time(p) for p in new_failed)
        if not new_succeeded:
            if not failed_times:
                return record
            return BackoffRecord(key, record.failures_after_last_success + len(failed_times), failed_times[-1])
        last_success = max(finish_time(p) for p in new_succeeded)
        after = [t for t in failed_times if t > last_success]
        return BackoffRecord(key, len(after), after[-1] if after else None)

    def update(self, record: BackoffRecord) -> None:
        self._records[record.key] = record

    def forget(self, key: str) -> None:
        self._records.pop(key, None)
