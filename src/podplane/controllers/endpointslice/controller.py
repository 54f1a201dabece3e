"""EndpointSlice controller: discovery.k8s.io/v1 EndpointSlices for Services with a selector.

Upstream `pkg/controller/endpointslice`. Service events enqueue the Service; pod events
enqueue the Services selecting the pod (before or after the change, only when the change
matters to endpoints); events on this controller's slices enqueue their Service unless
they are the echo of its own write (`SliceTracker.should_sync`), or a slice it did not
delete disappeared. `sync(key)` reads the Service, its selected pods, the nodes and its
slices (labelled `kubernetes.io/service-name` and managed-by
`endpointslice-controller.k8s.io`) from the caches, waits while the slice cache lags
behind its own writes, and performs `reconciler.plan`: creates (generateName `<svc>-`,
owned by the Service, so the garbage collector removes them with it), in-place updates
and deletes, each stamped with `endpoints.kubernetes.io/last-change-trigger-time`.
Services without a selector are left to the mirroring controller (`mirroring.py`);
ExternalName Services get no slices.
"""

from __future__ import annotations

import logging

from podplane.api.errors import ApiError
from podplane.client.informer import split_key

from .reconciler import CONTROLLER_NAME, MAX_ENDPOINTS_PER_SLICE, plan
from .util import (
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME,
    ServicePodWatcher,
    SliceWriter,
    SyncError,
    TriggerTimeTracker,
    format_trigger_time,
    service_key_of_slice,
)

__all__ = ["EndpointSliceController", "SyncError"]

log = logging.getLogger(__name__)

STALE_RETRY_DELAY = 0.1
"""Seconds before retrying a sync that found the slice cache behind this controller's writes."""
NODE_RETRY_DELAY = 1.0
"""Seconds before retrying a Service whose pods name a node the cache does not have."""


class EndpointSliceController(ServicePodWatcher, SliceWriter):
    name = "endpointslice"
    owner_kind = "Service"

    def __init__(self, ctx, *, max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> None:
        super().__init__(ctx, "endpoint-slice-controller")
        self.max_endpoints = max_endpoints_per_slice
        self.controller_name = CONTROLLER_NAME
        self.trigger_times = TriggerTimeTracker()
        self.watch_services_and_pods(ctx)
        self.nodes = ctx.informers.resource("", "nodes")
        self.watch_slices(ctx)

    # -- sync --------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.get_by_key(key)
        if service is None:
            # the garbage collector deletes the slices through their owner reference
            self.trigger_times.delete(key)
            self.tracker.delete_owner(key)
            return
        pods = self.selected_pods(namespace, service)
        if pods is None:
            return  # ExternalName, or mirrored from manually managed Endpoints instead
        existing = [s for s in self.slices.list(namespace)
                    if service_key_of_slice(s) == key and self._managed(s)
                    and not s["metadata"].get("deletionTimestamp")]
        if self.tracker.stale(key, existing):
            # upstream returns an error for a rate-limited retry; a cache behind our own
            # writes is expected, so retry quietly
            self.queue.add_after(key, STALE_RETRY_DELAY)
            return
        trigger = self.trigger_times.compute(key, service, pods)
        existing.sort(key=lambda s: s["metadata"].get("name", ""))
        result = plan(service, pods, lambda node: self.nodes.get(None, node), existing,
                      max_endpoints=self.max_endpoints, controller_name=self.controller_name)
        try:
            await self.write_slices(key, namespace, service, result.creates, result.updates, result.deletes,
                                    stamp=lambda slice_: _set_trigger_time(slice_, trigger))
        except (ApiError, SyncError) as e:
            self.recorder.event(service, "Warning", "FailedToUpdateEndpointSlices",
                                f"Error updating Endpoint Slices for Service {key}: {e}")
            raise
        if result.errors:
            log.info("endpointslices %s: %s", key, "; ".join(result.errors))
            self.queue.add_after(key, NODE_RETRY_DELAY)


def _set_trigger_time(slice_: dict, trigger) -> None:
    annotations = slice_["metadata"].setdefault("annotations", {})
    if annotations is None:
        annotations = slice_["metadata"]["annotations"] = {}
    if trigger is not None:
        annotations[ANNOTATION_LAST_CHANGE_TRIGGER_TIME] = format_trigger_time(trigger)
    else:
        annotations.pop(ANNOTATION_LAST_CHANGE_TRIGGER_TIME, None)
