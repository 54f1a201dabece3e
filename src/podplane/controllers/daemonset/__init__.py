"""DaemonSet controller package (upstream pkg/controller/daemon).

- `controller`: the `DaemonSetController` (handlers, `sync`, manage loop, status);
- `placement`: which nodes should run a daemon pod, daemon tolerations, node pinning;
- `update`: RollingUpdate planning with maxUnavailable / maxSurge;
- `history`: ControllerRevisions (`controller-revision-hash`, rollback data, trimming).

The manager imports this package by name and calls `new(ctx)`.
"""

from __future__ import annotations

from podplane.controllers.daemonset.controller import DaemonSetController

__all__ = ["DaemonSetController", "new"]


def new(ctx) -> DaemonSetController:
    return DaemonSetController(ctx)
