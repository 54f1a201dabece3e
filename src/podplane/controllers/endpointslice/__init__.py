"""EndpointSlice controllers (upstream pkg/controller/endpointslice, endpointslicemirroring
and the k8s.io/endpointslice library).

- `controller`: `EndpointSliceController`, slices for Services with a selector;
- `reconciler`: the pure plan of slice creates, updates and deletes for one Service;
- `mirroring`: `EndpointSliceMirroringController`, slices mirrored from manually managed
  Endpoints of Services without a selector;
- `util`: helpers shared with the Endpoints controller (`controllers/endpoints.py`):
  pod membership, port resolution, trigger times, the slice write tracker, and the
  controller bases `ServicePodWatcher` and `SliceWriter`.

The manager imports this package by name and calls `new(ctx)` or `new_mirroring(ctx)`.
"""

from __future__ import annotations

from podplane.controllers.endpointslice.controller import EndpointSliceController
from podplane.controllers.endpointslice.mirroring import EndpointSliceMirroringController

__all__ = ["EndpointSliceController", "EndpointSliceMirroringController", "new", "new_mirroring"]


def new(ctx) -> EndpointSliceController:
    return EndpointSliceController(ctx)


def new_mirroring(ctx) -> EndpointSliceMirroringController:
    return EndpointSliceMirroringController(ctx)
