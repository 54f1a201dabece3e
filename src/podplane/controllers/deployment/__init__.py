"""Deployment controller: rolls pod templates out through ReplicaSets (upstream
`pkg/controller/deployment`).

A Deployment owns one ReplicaSet per pod template it has run, named
`<deployment>-<pod-template-hash>`, and moves pods from the old ones to the new one
according to its strategy, while keeping the bookkeeping that `kubectl rollout`
(status, history, undo, pause, resume, restart) reads. Modules:
- `controller`: handlers, the sync dispatcher and the only writes;
- `sync`: new/old ReplicaSets, revisions, proportional scaling, history cleanup, status;
- `rolling`, `recreate`: the two strategies; `progress`: Progressing/deadline;
- `history`: revision annotations; `util`: pure arithmetic, orderings and conditions.
The ReplicaSet controller turns ReplicaSet sizes into pods.
"""

from __future__ import annotations

from .controller import DeploymentController

__all__ = ["DeploymentController", "new"]


def new(ctx) -> DeploymentController:
    return DeploymentController(ctx)
