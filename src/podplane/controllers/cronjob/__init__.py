"""CronJob controller package (upstream pkg/controller/cronjob).

- `controller`: the `CronJobController` (active list, history limits, concurrency
  policies, starting deadline, deterministic Job names, requeue at the next activation);
- `schedule`: the cron expression parser and `next()` computation (5 fields,
  descriptors, `@every`, time zones), written here instead of adding a dependency.

The manager imports this package by name and calls `new(ctx)`.
"""

from __future__ import annotations

from podplane.controllers.cronjob.controller import CronJobController

__all__ = ["CronJobController", "new"]


def new(ctx) -> CronJobController:
    return CronJobController(ctx)
