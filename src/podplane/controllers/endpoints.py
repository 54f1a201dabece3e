"""Endpoints controller: one v1 Endpoints object per Service with a selector.

Upstream `pkg/controller/endpoint`. Service events enqueue the Service's key; pod events
enqueue the Services whose selector matches the pod before or after the change (a scan
of the Services in the pod's namespace), and only when the change matters to endpoints
(readiness, IPs, deletion, labels, hostname). `sync(key)` lists the selected pods from
the cache and builds the subsets: each pod that should be in endpoints
(`should_pod_be_in_endpoints`: not terminal, has an IP, not terminating) becomes an
address (ip, nodeName, targetRef, hostname when its subdomain is the Service) under
`addresses` when Ready or the Service publishes not-ready addresses, else under
`notReadyAddresses`, once per Service port whose targetPort resolves on the pod
(`find_port`). `repack_subsets` then groups addresses by the set of ports they offer.
The object is created or updated only when subsets or labels differ; it carries the
Service's labels (plus `service.kubernetes.io/headless` for headless Services), the
`endpoints.kubernetes.io/last-change-trigger-time` annotation and, above 1000
addresses, is truncated and annotated `endpoints.kubernetes.io/over-capacity:
truncated`. Services without a selector (manually managed Endpoints) and ExternalName
Services are left alone; a deleted Service's Endpoints are deleted.
Neighbours: the EndpointSlice controller does the same for discovery.k8s.io slices; the
proxy and DNS read both.
"""

from __future__ import annotations

import copy
import json
import logging
import math

from podplane.api.errors import ApiError
from podplane.client.informer import key_of, split_key

from .common import is_pod_ready
from .endpointslice.util import (
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME,
    LABEL_HEADLESS,
    LEADER_ELECTION_ANNOTATION,
    ServicePodWatcher,
    TriggerTimeTracker,
    address_family,
    find_port,
    format_trigger_time,
    is_service_ip_set,
    pod_ips,
    should_pod_be_in_endpoints,
    should_set_hostname,
)

__all__ = [
    "ANNOTATION_OVER_CAPACITY",
    "MAX_CAPACITY",
    "EndpointsController",
    "build_subsets",
    "new",
    "repack_subsets",
    "truncate_subsets",
]

log = logging.getLogger(__name__)

MAX_CAPACITY = 1000
"""Most addresses (ready and not ready) one Endpoints object carries."""
ANNOTATION_OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
STALE_RETRY_DELAY = 0.1
"""Seconds before retrying a sync that found its own last write missing from the cache."""
_NO_PORTS = (-1,)  # sentinel port key: addresses of a headless Service without ports


# ------------------------------------------------------------------------ pure helpers


def _address_for(service: dict, pod: dict) -> dict | None:
    """The EndpointAddress of `pod` in the Service's primary IP family, or None."""
    spec = service.get("spec") or {}
    families = spec.get("ipFamilies") or []
    if families:
        family = families[0]
    elif is_service_ip_set(service):
        family = address_family(spec["clusterIP"]) or "IPv4"
    else:
        family = address_family((pod.get("status") or {}).get("podIP") or "") or "IPv4"
    ip = next((ip for ip in pod_ips(pod) if address_family(ip) == family), None)
    if ip is None:
        return None
    meta = pod["metadata"]
    address: dict = {"ip": ip}
    if (pod.get("spec") or {}).get("nodeName"):
        address["nodeName"] = pod["spec"]["nodeName"]
    address["targetRef"] = {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta["name"],
                            "uid": meta.get("uid", "")}
    if should_set_hostname(pod, service):
        address["hostname"] = pod["spec"]["hostname"]
    return address


def _endpoint_port(service_port: dict, number: int) -> dict:
    port: dict = {}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    port["port"] = number
    port["protocol"] = service_port.get("protocol") or "TCP"
    if service_port.get("appProtocol") is not None:
        port["appProtocol"] = service_port["appProtocol"]
    return port


def build_subsets(service: dict, pods: list[dict]) -> tuple[list[dict], int, int]:
    """(repacked subsets, ready count, not-ready count) for the Service's selected pods."""
    tolerate = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    ports = (service.get("spec") or {}).get("ports") or []
    headless = not is_service_ip_set(service)
    subsets: list[dict] = []
    ready_total = not_ready_total = 0
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, tolerate):
            continue
        address = _address_for(service, pod)
        if address is None:
            continue
        field = "addresses" if tolerate or is_pod_ready(pod) else "notReadyAddresses"
        if not ports:
            if headless:  # a headless Service may have no ports at all
                subsets.append({field: [address]})
                ready_total += field == "addresses"
                not_ready_total += field != "addresses"
            continue
        for service_port in ports:
            number = find_port(pod, service_port)
            if number is None:
                continue
            subsets.append({field: [address], "ports": [_endpoint_port(service_port, number)]})
            if field == "addresses":
                ready_total += 1
            else:
                not_ready_total += 1
    return repack_subsets(subsets), ready_total, not_ready_total


def _address_key(address: dict) -> tuple[str, str]:
    return address.get("ip", ""), (address.get("targetRef") or {}).get("uid", "")


def _port_key(port: dict) -> tuple:
    return (port.get("name") or "", port.get("port"), port.get("protocol") or "TCP", port.get("appProtocol"))


def _canonical(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def repack_subsets(subsets: list[dict]) -> list[dict]:
    """The canonical layout of `subsets` (upstream RepackSubsets): every distinct port maps
    to the addresses offering it (not ready wins over ready for the same address and
    port), addresses offering the same ports share one subset, and everything is sorted
    so equal endpoints compare equal."""
    addresses: dict[tuple[str, str], dict] = {}
    port_objs: dict[tuple, dict | None] = {}
    by_port: dict[tuple, dict[tuple[str, str], bool]] = {}
    for subset in subsets:
        ports = subset.get("ports") or []
        keys = [_port_key(p) for p in ports] or [_NO_PORTS]
        for port, key in zip(ports or [None], keys, strict=True):
            port_objs.setdefault(key, port)
            ready_map = by_port.setdefault(key, {})
            for field, ready in (("addresses", True), ("notReadyAddresses", False)):
                for address in subset.get(field) or ():
                    akey = _address_key(address)
                    addresses.setdefault(akey, address)
                    if ready_map.get(akey, True):
                        ready_map[akey] = ready
    grouped: dict[tuple, list[tuple]] = {}
    for pkey, ready_map in by_port.items():
        group = tuple(sorted(ready_map.items()))
        grouped.setdefault(group, []).append(pkey)
    final = []
    for group, pkeys in grouped.items():
        subset: dict = {}
        ready = [addresses[a] for a, r in group if r]
        not_ready = [addresses[a] for a, r in group if not r]
        if ready:
            subset["addresses"] = sorted(ready, key=_address_key)
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=_address_key)
        if pkeys != [_NO_PORTS]:
            subset["ports"] = sorted((port_objs[k] for k in pkeys if k != _NO_PORTS), key=_canonical)
        final.append(subset)
    return sorted(final, key=_canonical)


def truncate_subsets(subsets: list[dict], capacity: int = MAX_CAPACITY) -> bool:
    """Cut `subsets` (in place) to `capacity` addresses, spreading the cut over the subsets
    in proportion and dropping not-ready addresses before ready ones. True when cut."""
    total_ready = sum(len(s.get("addresses") or ()) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
    if total_ready + total_not_ready <= capacity:
        return False
    truncate_ready = total_ready > capacity
    limit, total = (capacity, total_ready) if truncate_ready else (capacity - total_ready, total_not_ready)
    can_add = limit
    for subset in subsets:
        field = "addresses" if truncate_ready else "notReadyAddresses"
        in_subset = len(subset.get(field) or ())
        to_add = min(math.ceil(in_subset / total * limit) if total else 0, can_add)
        if subset.get(field):
            subset[field] = subset[field][:to_add]
            if not subset[field]:
                del subset[field]
        if truncate_ready:
            subset.pop("notReadyAddresses", None)
        can_add -= len(subset.get(field) or ())
    return True


def _capacity_annotation_correct(annotations: dict, subsets: list[dict]) -> bool:
    count = sum(len(s.get("addresses") or ()) + len(s.get("notReadyAddresses") or ()) for s in subsets)
    if count > MAX_CAPACITY:
        return False
    return ANNOTATION_OVER_CAPACITY not in annotations


def _without_rv(subsets: list[dict]) -> list[dict]:
    """Subsets with targetRef resourceVersions dropped: pod updates that endpoints do not
    care about must not count as changes."""
    out = copy.deepcopy(subsets or [])
    for subset in out:
        for field in ("addresses", "notReadyAddresses"):
            for address in subset.get(field) or ():
                (address.get("targetRef") or {}).pop("resourceVersion", None)
    return out


# -------------------------------------------------------------------------- controller


class EndpointsController(ServicePodWatcher):
    name = "endpoints"

    def __init__(self, ctx) -> None:
        super().__init__(ctx, "endpoint-controller")
        self.endpoints_info = ctx.client.resource("", "endpoints")
        self.trigger_times = TriggerTimeTracker()
        self._stale: dict[str, str] = {}  # key → resourceVersion our last update replaced
        self.watch_services_and_pods(ctx)
        self.endpoints = ctx.informers.resource("", "endpoints")
        self.endpoints.add_handler(None, None, self._endpoints_deleted)

    # -- handlers: map events to keys (Services and pods: ServicePodWatcher) -------------
    def _endpoints_deleted(self, endpoints: dict) -> None:
        self.queue.add(key_of(endpoints))

    async def run(self) -> None:
        """Once at start: queue every Endpoints object, so ones whose Service was deleted
        while no controller ran are cleaned up (upstream checkLeftoverEndpoints)."""
        for endpoints in self.endpoints.list():
            annotations = (endpoints.get("metadata") or {}).get("annotations") or {}
            if LEADER_ELECTION_ANNOTATION not in annotations:
                self.queue.add(key_of(endpoints))

    # -- sync --------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.get_by_key(key)
        if service is None:
            try:
                await self.client.delete(self.endpoints_info, name, namespace)
            except ApiError as e:
                if e.code != 404:
                    raise
            self.trigger_times.delete(key)
            self._stale.pop(key, None)
            return
        pods = self.selected_pods(namespace, service)
        if pods is None:
            return  # ExternalName, or manually managed Endpoints
        trigger = self.trigger_times.compute(key, service, pods)
        subsets, ready, not_ready = build_subsets(service, pods)

        current = self.endpoints.get_by_key(key)
        if current is not None and self._stale.get(key) == current["metadata"].get("resourceVersion"):
            # upstream returns an error for a rate-limited retry; the cache lagging behind
            # our own update is expected, so retry quietly
            self.queue.add_after(key, STALE_RETRY_DELAY)
            return
        create = current is None
        if create:
            current = {"apiVersion": "v1", "kind": "Endpoints",
                       "metadata": {"name": name, "namespace": namespace,
                                    "labels": dict(service["metadata"].get("labels") or {})}}
        meta = current["metadata"]
        labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != LABEL_HEADLESS}
        annotations = meta.get("annotations") or {}
        if (not create and _without_rv(current.get("subsets") or []) == subsets
                and labels == (service["metadata"].get("labels") or {})
                and _capacity_annotation_correct(annotations, current.get("subsets") or [])):
            return
        new = copy.deepcopy(current)
        new["subsets"] = subsets
        new_meta = new["metadata"]
        new_labels = dict(service["metadata"].get("labels") or {})
        new_annotations = dict(new_meta.get("annotations") or {})
        if trigger is not None:
            new_annotations[ANNOTATION_LAST_CHANGE_TRIGGER_TIME] = format_trigger_time(trigger)
        else:
            new_annotations.pop(ANNOTATION_LAST_CHANGE_TRIGGER_TIME, None)
        if truncate_subsets(new["subsets"]):
            new_annotations[ANNOTATION_OVER_CAPACITY] = "truncated"
        else:
            new_annotations.pop(ANNOTATION_OVER_CAPACITY, None)
        if not is_service_ip_set(service):
            new_labels[LABEL_HEADLESS] = ""
        else:
            new_labels.pop(LABEL_HEADLESS, None)
        new_meta["labels"] = new_labels
        new_meta["annotations"] = new_annotations
        if not new["subsets"]:
            new["subsets"] = []
        log.debug("updating endpoints %s: %d ready, %d not ready", key, ready, not_ready)
        try:
            if create:
                await self.client.create(self.endpoints_info, new, namespace)
            else:
                updated = await self.client.update(self.endpoints_info, new)
                if updated["metadata"].get("resourceVersion") != meta.get("resourceVersion"):
                    self._stale[key] = meta.get("resourceVersion") or ""
        except ApiError as e:
            if create and any(c.reason == "NamespaceTerminating" for c in e.causes):
                return  # creates fail until the namespace is gone
            if create and e.code == 409:
                # created by our previous sync, not yet in the cache: retry once it is
                self.queue.add_after(key, STALE_RETRY_DELAY)
                return
            if create:
                self.recorder.event(new, "Warning", "FailedToCreateEndpoint",
                                    f"Failed to create endpoint for service {key}: {e}")
            else:
                self.recorder.event(new, "Warning", "FailedToUpdateEndpoint",
                                    f"Failed to update endpoint {key}: {e}")
            raise


def new(ctx) -> EndpointsController:
    return EndpointsController(ctx)
