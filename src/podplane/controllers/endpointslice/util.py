"""Helpers shared by the Endpoints, EndpointSlice and mirroring controllers.

Upstream `k8s.io/endpointslice/util` and `pkg/api/v1/endpoints`: which pods belong in
a Service's endpoints (`should_pod_be_in_endpoints`), how a Service port resolves to a
container port (`find_port`), which Services a pod event concerns
(`services_for_pod`, `services_to_update_on_pod_change`), the
`endpoints.kubernetes.io/last-change-trigger-time` bookkeeping (`TriggerTimeTracker`)
and `SliceTracker`, the record of the resource versions a controller itself wrote, so
a sync that runs before the informer has caught up with its own writes waits instead of
acting twice. Pure functions and in-memory state, except the controller bases below.

Two controller bases share the event handling: `ServicePodWatcher` (the Endpoints and
EndpointSlice controllers: a Service's events and those of the pods it selects queue
the Service; `selected_pods`) and `SliceWriter` (the EndpointSlice and mirroring
controllers: events on the slices labelled managed-by `controller_name` queue their
Service unless they echo the controller's own write; `write_slices` performs a sync's
creates, updates and deletes through the client and records them in the tracker).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from podplane.api.errors import ApiError
from podplane.api.meta import format_time, parse_time
from podplane.api.selectors import selector_from_set
from podplane.client.informer import Informer, key_of

from ..common import QueueController, condition, is_pod_ready

__all__ = [
    "ANNOTATION_LAST_CHANGE_TRIGGER_TIME",
    "LABEL_HEADLESS",
    "LABEL_MANAGED_BY",
    "LABEL_SERVICE_NAME",
    "LABEL_SKIP_MIRROR",
    "LABEL_ZONE",
    "LEADER_ELECTION_ANNOTATION",
    "ServicePodWatcher",
    "SliceTracker",
    "SliceWriter",
    "SyncError",
    "TriggerTimeTracker",
    "address_family",
    "find_port",
    "format_trigger_time",
    "is_service_ip_set",
    "managed_by",
    "pod_endpoints_changed",
    "pod_ips",
    "service_selector",
    "service_key_of_slice",
    "services_for_pod",
    "services_to_update_on_pod_change",
    "should_pod_be_in_endpoints",
    "should_set_hostname",
    "slice_name",
]

ANNOTATION_LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
LABEL_HEADLESS = "service.kubernetes.io/headless"
LABEL_ZONE = "topology.kubernetes.io/zone"
LEADER_ELECTION_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"


# -------------------------------------------------------------------------- services


def service_selector(service: dict) -> dict | None:
    """The Service's label selector, or None: a nil (or empty, which the Go types
    cannot tell from nil after a round trip) selector selects nothing."""
    selector = (service.get("spec") or {}).get("selector")
    return selector if isinstance(selector, dict) and selector else None


def is_service_ip_set(service: dict) -> bool:
    """A headful Service: a cluster IP that is neither empty nor "None"."""
    cluster_ip = (service.get("spec") or {}).get("clusterIP")
    return bool(cluster_ip) and cluster_ip != "None"


def address_family(ip: str) -> str | None:
    """"IPv4", "IPv6" or None when `ip` is not an address."""
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return None


# ------------------------------------------------------------------------------ pods


def pod_ips(pod: dict) -> list[str]:
    status = pod.get("status") or {}
    ips = [entry.get("ip") for entry in status.get("podIPs") or () if isinstance(entry, dict) and entry.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


def _is_terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def should_pod_be_in_endpoints(pod: dict, include_terminating: bool) -> bool:
    """Terminal pods and pods without an IP never are; terminating pods (deletionTimestamp
    set) only when `include_terminating`."""
    if _is_terminal(pod):
        return False
    if not pod_ips(pod):
        return False
    return include_terminating or not (pod.get("metadata") or {}).get("deletionTimestamp")


def should_set_hostname(pod: dict, service: dict) -> bool:
    """An address gets the pod's hostname when the pod names this Service as its subdomain."""
    spec = pod.get("spec") or {}
    return (bool(spec.get("hostname")) and spec.get("subdomain") == service["metadata"]["name"]
            and (pod.get("metadata") or {}).get("namespace") == service["metadata"].get("namespace"))


def find_port(pod: dict, service_port: dict) -> int | None:
    """The container port a Service port targets on this pod, or None.

    A numeric targetPort is used as is; a named one is looked up among the named ports
    (same protocol) of the pod's containers, then of its sidecars (restartable init
    containers). An unset targetPort means the Service port (the apiserver defaults it).
    """
    target = service_port.get("targetPort")
    if target in (None, "", 0):
        target = service_port.get("port")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    candidates = list(spec.get("containers") or ()) + [
        c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    for container in candidates:
        for port in container.get("ports") or ():
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return port.get("containerPort")
    return None


def pod_endpoints_changed(old: dict, new: dict) -> tuple[bool, bool]:
    """(the pod changed in a way that changes its endpoints, its Service membership may
    have changed), as upstream podEndpointsChanged."""
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    labels_changed = ((old_meta.get("labels") or {}) != (new_meta.get("labels") or {})
                      or old_spec.get("hostname") != new_spec.get("hostname")
                      or old_spec.get("subdomain") != new_spec.get("subdomain"))
    if old_meta.get("deletionTimestamp") != new_meta.get("deletionTimestamp"):
        return True, labels_changed
    if is_pod_ready(old) != is_pod_ready(new):
        return True, labels_changed
    if pod_ips(old) != pod_ips(new):
        return True, labels_changed
    # a pod that finished drops out even if its Ready condition lags behind
    if _is_terminal(old) != _is_terminal(new):
        return True, labels_changed
    return False, labels_changed


def services_for_pod(services: Informer, pod: dict) -> set[str]:
    """Keys of the Services in the pod's namespace whose selector matches its labels."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    keys = set()
    for service in services.list(meta.get("namespace") or ""):
        selector = service_selector(service)
        if selector is not None and selector_from_set(selector).matches(labels):
            keys.add(key_of(service))
    return keys


def services_to_update_on_pod_change(services: Informer, old: dict, new: dict) -> set[str]:
    """Services to resync after a pod update: none for a resync or an irrelevant change;
    after a label change the ones the pod joined or left (all of both when the pod
    itself changed too)."""
    if (old.get("metadata") or {}).get("resourceVersion") == (new.get("metadata") or {}).get("resourceVersion"):
        return set()
    pod_changed, labels_changed = pod_endpoints_changed(old, new)
    if not pod_changed and not labels_changed:
        return set()
    keys = services_for_pod(services, new)
    if labels_changed:
        old_keys = services_for_pod(services, old)
        keys = keys | old_keys if pod_changed else keys ^ old_keys
    return keys


# ------------------------------------------------------------------- trigger times


def format_trigger_time(when: dt.datetime) -> str:
    """RFC 3339 with as many fractional digits as needed (Go's RFC3339Nano)."""
    if not when.microsecond:
        return format_time(when)
    text = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0")
    return f"{text}Z"


def _parse(text: object) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        return None


class TriggerTimeTracker:
    """Computes the `endpoints.kubernetes.io/last-change-trigger-time` annotation: the
    earliest pod Ready transition (or Service creation) that changed since the previous
    sync of the Service; the Service's creation time on its first sync. As upstream, it
    may be off when one object changes several times between two syncs."""

    def __init__(self) -> None:
        self._states: dict[str, tuple[dt.datetime | None, dict[str, dt.datetime]]] = {}

    def compute(self, key: str, service: dict, pods: Iterable[dict]) -> dt.datetime | None:
        state = self._states.get(key)
        last_service, last_pods = state if state is not None else (None, {})
        earliest: dt.datetime | None = None
        pod_times: dict[str, dt.datetime] = {}
        for pod in pods:
            ready = condition(pod, "Ready")
            when = _parse(ready.get("lastTransitionTime")) if ready else None
            if when is None:
                continue
            name = pod["metadata"]["name"]
            pod_times[name] = when
            previous = last_pods.get(name)
            if previous is None or when > previous:
                earliest = when if earliest is None or when < earliest else earliest
        created = _parse(service["metadata"].get("creationTimestamp"))
        if created is not None and (last_service is None or created > last_service):
            earliest = created if earliest is None or created < earliest else earliest
        self._states[key] = (created, pod_times)
        if state is None:
            return created
        return earliest

    def delete(self, key: str) -> None:
        self._states.pop(key, None)


# -------------------------------------------------------------------- slice tracker


def _rv(obj: dict) -> int | None:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or "")
    except ValueError:
        return None


_DELETION = -1


class SliceTracker:
    """The EndpointSlices a controller created, updated or deleted, per owner key
    (upstream EndpointSliceTracker; resourceVersions stand in for generations, which
    this apiserver does not keep for EndpointSlices).

    `stale(owner, cached)` is True while the cache lacks a slice this controller wrote
    or still holds an older version of it or one it deleted: syncing then would act on
    a past state (and create a second slice for the same endpoints). Entries expire
    after `ttl` seconds so a write whose watch event was lost cannot block forever.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl: float = 300.0) -> None:
        self.clock = clock
        self.ttl = ttl
        self._by_owner: dict[str, dict[str, tuple[int, float]]] = {}

    def _uid(self, obj: dict) -> str:
        return (obj.get("metadata") or {}).get("uid") or ""

    def update(self, owner: str, obj: dict) -> None:
        rv = _rv(obj)
        if rv is not None:
            self._by_owner.setdefault(owner, {})[self._uid(obj)] = (rv, self.clock())

    def expect_deletion(self, owner: str, obj: dict) -> None:
        self._by_owner.setdefault(owner, {})[self._uid(obj)] = (_DELETION, self.clock())

    def has(self, owner: str, obj: dict) -> bool:
        return self._uid(obj) in self._by_owner.get(owner, {})

    def should_sync(self, owner: str, obj: dict) -> bool:
        """False for the informer's echo of this controller's own write."""
        entry = self._by_owner.get(owner, {}).get(self._uid(obj))
        return entry is None or entry[0] != _rv(obj)

    def handle_deletion(self, owner: str, obj: dict) -> bool:
        """Forget a deleted slice; True when this controller deleted it."""
        entries = self._by_owner.get(owner, {})
        entry = entries.pop(self._uid(obj), None)
        if not entries:
            self._by_owner.pop(owner, None)
        return entry is not None and entry[0] == _DELETION

    def stale(self, owner: str, cached: Iterable[dict]) -> bool:
        entries = self._by_owner.get(owner)
        if not entries:
            return False
        now = self.clock()
        for uid in [u for u, (_, at) in entries.items() if now - at > self.ttl]:
            del entries[uid]
        seen = set()
        for obj in cached:
            uid = self._uid(obj)
            seen.add(uid)
            entry = entries.get(uid)
            if entry is None:
                continue
            rv = _rv(obj)
            if entry[0] == _DELETION or (rv is not None and entry[0] > rv):
                return True
        return any(rv != _DELETION and uid not in seen for uid, (rv, _) in entries.items())

    def delete_owner(self, owner: str) -> None:
        self._by_owner.pop(owner, None)


def service_key_of_slice(slice_: dict) -> str | None:
    """`namespace/name` of the Service a slice is labelled for, or None."""
    meta = slice_.get("metadata") or {}
    name = (meta.get("labels") or {}).get(LABEL_SERVICE_NAME)
    return f"{meta.get('namespace')}/{name}" if name else None


def managed_by(slice_: dict, controller_name: str) -> bool:
    """True when the slice's managed-by label names `controller_name`."""
    return ((slice_.get("metadata") or {}).get("labels") or {}).get(LABEL_MANAGED_BY) == controller_name


# ------------------------------------------------------------------ controller bases


class ServicePodWatcher(QueueController):
    """Base of the controllers that derive a Service's endpoints from the pods it selects
    (Endpoints, EndpointSlice): `watch_services_and_pods` makes the `services` and `pods`
    informers and queues a Service on its own events and on those of the pods it selects
    (before or after the change, only when the change matters to endpoints)."""

    services: Informer
    pods: Informer

    def watch_services_and_pods(self, ctx) -> None:
        self.services = ctx.informers.resource("", "services")
        self.pods = ctx.informers.resource("", "pods")
        self.services.add_handler(self._service_changed, lambda old, new: self._service_changed(new),
                                  self._service_changed)
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_added)

    def _service_changed(self, service: dict) -> None:
        self.queue.add(key_of(service))

    def _pod_added(self, pod: dict) -> None:
        for key in services_for_pod(self.services, pod):
            self.queue.add(key)

    def _pod_updated(self, old: dict, new: dict) -> None:
        for key in services_to_update_on_pod_change(self.services, old, new):
            self.queue.add(key)

    def selected_pods(self, namespace: str, service: dict) -> list[dict] | None:
        """The pods the Service selects, by name; None for an ExternalName Service or
        one without a selector (its endpoints are managed by hand)."""
        if (service.get("spec") or {}).get("type") == "ExternalName":
            return None
        selector = service_selector(service)
        if selector is None:
            return None
        return sorted(self.pods.list(namespace, selector_from_set(selector)), key=lambda p: p["metadata"]["name"])


class SyncError(Exception):
    """Some writes for a Service failed; the sync is retried with back-off."""


class SliceWriter(QueueController):
    """Base of the controllers that write EndpointSlices (EndpointSlice, mirroring), told
    apart by `controller_name` in the managed-by label. `watch_slices` makes
    `slices_info`, the `slices` informer and the `tracker` of this controller's own
    writes; a managed slice's event queues its Service (both Services when relabelled)
    unless it echoes the controller's own write, or the controller deleted it."""

    controller_name: str
    owner_kind: ClassVar[str]
    """What the slices are written for ("Service", "Endpoints"), as errors name it."""
    slices: Informer
    tracker: SliceTracker

    def watch_slices(self, ctx) -> None:
        self.slices_info = ctx.client.resource("discovery.k8s.io", "endpointslices")
        self.slices = ctx.informers.resource("discovery.k8s.io", "endpointslices")
        self.tracker = SliceTracker()
        self.slices.add_handler(self._slice_added, self._slice_updated, self._slice_deleted)

    def _managed(self, slice_: dict) -> bool:
        return managed_by(slice_, self.controller_name)

    def _slice_added(self, slice_: dict) -> None:
        key = service_key_of_slice(slice_)
        if key and self._managed(slice_) and self.tracker.should_sync(key, slice_):
            self.queue.add(key)

    def _slice_updated(self, old: dict, new: dict) -> None:
        key, old_key = service_key_of_slice(new), service_key_of_slice(old)
        if key != old_key:  # someone relabelled it: both Services are affected
            for k in (key, old_key):
                if k:
                    self.queue.add(k)
            return
        if key is None:
            return
        managed, was_managed = self._managed(new), self._managed(old)
        if managed != was_managed or (managed and self.tracker.should_sync(key, new)):
            self.queue.add(key)

    def _slice_deleted(self, slice_: dict) -> None:
        key = service_key_of_slice(slice_)
        if key and self._managed(slice_) and self.tracker.has(key, slice_):
            if not self.tracker.handle_deletion(key, slice_):
                self.queue.add(key)

    async def write_slices(self, key: str, namespace: str | None, owner: dict, creates: list[dict],
                           updates: list[dict], deletes: list[dict],
                           stamp: Callable[[dict], None] | None = None) -> None:
        """Create, update and delete slices for `owner` (its key `key`), recording each
        write in `tracker`; `stamp` edits a slice just before it is created or updated.
        No creates while `owner` is being deleted (the garbage collector would race us);
        a create refused because the namespace is terminating ends the writes quietly.
        A failed write raises `SyncError`."""
        if not owner["metadata"].get("deletionTimestamp"):
            for slice_ in creates:
                if stamp is not None:
                    stamp(slice_)
                try:
                    created = await self.client.create(self.slices_info, slice_, namespace)
                except ApiError as e:
                    if any(c.reason == "NamespaceTerminating" for c in e.causes):
                        return
                    raise SyncError(f"failed to create EndpointSlice for {self.owner_kind} {key}: {e}") from e
                self.tracker.update(key, created)
        for slice_ in updates:
            if stamp is not None:
                stamp(slice_)
            try:
                updated = await self.client.update(self.slices_info, slice_)
            except ApiError as e:
                raise SyncError(f"failed to update {slice_name(slice_)} EndpointSlice for "
                                f"{self.owner_kind} {key}: {e}") from e
            self.tracker.update(key, updated)
        for slice_ in deletes:
            await self.delete_slice(key, slice_)

    async def delete_slice(self, key: str, slice_: dict) -> None:
        """Delete one slice (already gone is fine) and expect its deletion event."""
        try:
            await self.client.delete(self.slices_info, slice_name(slice_), slice_["metadata"].get("namespace"))
        except ApiError as e:
            if e.code != 404:
                raise SyncError(f"failed to delete {slice_name(slice_)} EndpointSlice for "
                                f"{self.owner_kind} {key}: {e}") from e
            return
        self.tracker.expect_deletion(key, slice_)


def slice_name(slice_: dict) -> str:
    """The slice's name, or "" when it has none yet (generateName)."""
    return (slice_.get("metadata") or {}).get("name") or ""
