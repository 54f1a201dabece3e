"""Job controller package (upstream pkg/controller/job and pkg/controller/ttlafterfinished).

- `controller`: the `JobController` (pod tracking with finalizers, completions,
  parallelism, back-off, deadlines, suspend, Indexed mode, status and conditions);
- `ttl`: deletes finished Jobs after `ttlSecondsAfterFinished` (driven by `JobController.run`);
- `backoff`: the per-Job pod-failure back-off record;
- `indexes`: completion-index helpers for Indexed Jobs.

The manager imports this package by name and calls `new(ctx)`.
"""

from __future__ import annotations

from podplane.controllers.job.controller import JOB_TRACKING_FINALIZER, JobController

__all__ = ["JOB_TRACKING_FINALIZER", "JobController", "new"]


def new(ctx) -> JobController:
    return JobController(ctx)
