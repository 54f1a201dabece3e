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
from podplane.api.selectors import selector_from_set
from podplane.client.informer import key_of, split_key
from podplane.client.workqueue import WorkQueue

from .reconciler import CONTROLLER_NAME, MAX_ENDPOINTS_PER_SLICE, plan
from .util import (
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    SliceTracker,
    TriggerTimeTracker,
    format_trigger_time,
    service_selector,
    services_for_pod,
    services_to_update_on_pod_change,
)

__all__ = ["EndpointSliceController", "SyncError"]

log = logging.getLogger(__name__)

STALE_RETRY_DELAY = 0.1
"""Seconds before retrying a sync that found the slice cache behind this controller's writes."""
NODE_RETRY_DELAY = 1.0
"""Seconds before retrying a Service whose pods name a node the cache does not have."""


class SyncError(Exception):
    """Some writes for a Service failed; the sync is retried with back-off."""


def _service_key_of_slice(slice_: dict) -> str | None:
    meta = slice_.get("metadata") or {}
    name = (meta.get("labels") or {}).get(LABEL_SERVICE_NAME)
    return f"{meta.get('namespace')}/{name}" if name else None


def _managed(slice_: dict, controller_name: str) -> bool:
    return ((slice_.get("metadata") or {}).get("labels") or {}).get(LABEL_MANAGED_BY) == controller_name


class EndpointSliceController:
    name = "endpointslice"

    def __init__(self, ctx, *, max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> None:
        self.client = ctx.client
        self.workers = ctx.settings.workers
        self.max_endpoints = max_endpoints_per_slice
        self.controller_name = CONTROLLER_NAME
        self.recorder = ctx.recorder("endpoint-slice-controller")
        self.queue = WorkQueue(self.name)
        self.slices_info = ctx.client.resource("discovery.k8s.io", "endpointslices")
        self.services = ctx.informers.resource("", "services")
        self.pods = ctx.informers.resource("", "pods")
        self.nodes = ctx.informers.resource("", "nodes")
        self.slices = ctx.informers.resource("discovery.k8s.io", "endpointslices")
        self.tracker = SliceTracker()
        self.trigger_times = TriggerTimeTracker()
        self.services.add_handler(self._service_changed, lambda old, new: self._service_changed(new),
                                  self._service_changed)
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_added)
        self.slices.add_handler(self._slice_added, self._slice_updated, self._slice_deleted)

    # -- handlers: map events to keys ------------------------------------------------------
    def _service_changed(self, service: dict) -> None:
        self.queue.add(key_of(service))

    def _pod_added(self, pod: dict) -> None:
        for key in services_for_pod(self.services, pod):
            self.queue.add(key)

    def _pod_updated(self, old: dict, new: dict) -> None:
        for key in services_to_update_on_pod_change(self.services, old, new):
            self.queue.add(key)

    def _slice_added(self, slice_: dict) -> None:
        key = _service_key_of_slice(slice_)
        if key and _managed(slice_, self.controller_name) and self.tracker.should_sync(key, slice_):
            self.queue.add(key)

    def _slice_updated(self, old: dict, new: dict) -> None:
        key, old_key = _service_key_of_slice(new), _service_key_of_slice(old)
        if key != old_key:  # someone relabelled it: both Services are affected
            for k in (key, old_key):
                if k:
                    self.queue.add(k)
            return
        if key is None:
            return
        managed, was_managed = _managed(new, self.controller_name), _managed(old, self.controller_name)
        if managed != was_managed or (managed and self.tracker.should_sync(key, new)):
            self.queue.add(key)

    def _slice_deleted(self, slice_: dict) -> None:
        key = _service_key_of_slice(slice_)
        if key and _managed(slice_, self.controller_name) and self.tracker.has(key, slice_):
            if not self.tracker.handle_deletion(key, slice_):
                self.queue.add(key)

    # -- sync --------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.get_by_key(key)
        if service is None:
            # the garbage collector deletes the slices through their owner reference
            self.trigger_times.delete(key)
            self.tracker.delete_owner(key)
            return
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return
        selector = service_selector(service)
        if selector is None:
            return  # mirrored from manually managed Endpoints instead
        pods = sorted(self.pods.list(namespace, selector_from_set(selector)), key=lambda p: p["metadata"]["name"])
        existing = [s for s in self.slices.list(namespace)
                    if _service_key_of_slice(s) == key and _managed(s, self.controller_name)
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
            await self._finalize(key, service, result.creates, result.updates, result.deletes, trigger)
        except (ApiError, SyncError) as e:
            self.recorder.event(service, "Warning", "FailedToUpdateEndpointSlices",
                                f"Error updating Endpoint Slices for Service {key}: {e}")
            raise
        if result.errors:
            log.info("endpointslices %s: %s", key, "; ".join(result.errors))
            self.queue.add_after(key, NODE_RETRY_DELAY)

    async def _finalize(self, key: str, service: dict, creates: list[dict], updates: list[dict],
                        deletes: list[dict], trigger) -> None:
        namespace = service["metadata"].get("namespace")
        if not service["metadata"].get("deletionTimestamp"):
            # no new slices for a Service being deleted: the garbage collector would race us
            for slice_ in creates:
                _set_trigger_time(slice_, trigger)
                try:
                    created = await self.client.create(self.slices_info, slice_, namespace)
                except ApiError as e:
                    if any(c.reason == "NamespaceTerminating" for c in e.causes):
                        return
                    raise SyncError(f"failed to create EndpointSlice for Service {key}: {e}") from e
                self.tracker.update(key, created)
        for slice_ in updates:
            _set_trigger_time(slice_, trigger)
            try:
                updated = await self.client.update(self.slices_info, slice_)
            except ApiError as e:
                raise SyncError(f"failed to update {slice_['metadata']['name']} EndpointSlice for "
                                f"Service {key}: {e}") from e
            self.tracker.update(key, updated)
        for slice_ in deletes:
            try:
                await self.client.delete(self.slices_info, slice_["metadata"]["name"], namespace)
            except ApiError as e:
                if e.code != 404:
                    raise SyncError(f"failed to delete {slice_['metadata']['name']} EndpointSlice for "
                                    f"Service {key}: {e}") from e
                continue
            self.tracker.expect_deletion(key, slice_)


def _set_trigger_time(slice_: dict, trigger) -> None:
    annotations = slice_["metadata"].setdefault("annotations", {})
    if annotations is None:
        annotations = slice_["metadata"]["annotations"] = {}
    if trigger is not None:
        annotations[ANNOTATION_LAST_CHANGE_TRIGGER_TIME] = format_trigger_time(trigger)
    else:
        annotations.pop(ANNOTATION_LAST_CHANGE_TRIGGER_TIME, None)
