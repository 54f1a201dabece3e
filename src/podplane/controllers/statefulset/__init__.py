"""StatefulSet controller package (upstream `pkg/controller/statefulset`).

- `controller`: informers, handlers and `sync(key)`; `new(ctx)` is what the manager calls;
- `identity`: pod names, ordinals, labels, hostname/subdomain, PVC names and status counting;
- `claims`: the PVC retention policy expressed as ownerReferences.
Revision history helpers shared with the DaemonSet controller live in `controllers.revisions`.
"""

from podplane.controllers.statefulset.controller import StatefulSetController, SyncError, new

__all__ = ["StatefulSetController", "SyncError", "new"]
