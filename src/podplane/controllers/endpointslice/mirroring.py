"""EndpointSlice mirroring controller: slices for manually managed Endpoints.

Upstream `pkg/controller/endpointslicemirroring`. A Service without a selector gets its
endpoints from an Endpoints object its user writes; this controller copies each such
Endpoints object (keyed `namespace/name`, like its Service) into EndpointSlices labelled
`kubernetes.io/service-name` and managed-by `endpointslicemirroring-controller.k8s.io`,
owned by the Endpoints object, so readers that only know slices (the proxy, DNS) see
them too. One slice per (address type, port set) with at most 1000 addresses per
subset: ready addresses get `ready: true`, not-ready ones `ready: false`; labels and
annotations are copied (except the trigger time and kubectl's last-applied
configuration); invalid IPs are skipped with an event. Nothing is mirrored, and
mirrored slices are deleted, when the Endpoints object or its Service is gone, the
Service has a selector (the EndpointSlice controller owns those), or the Endpoints is
labelled `endpointslice.kubernetes.io/skip-mirror: "true"` or is a leader-election
record.
"""

from __future__ import annotations

import copy
import ipaddress
import logging

from podplane.client.informer import key_of, split_key

from .reconciler import endpoint_key, endpoints_equal_beyond_hash, port_map_key
from .util import (
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    LABEL_SKIP_MIRROR,
    LEADER_ELECTION_ANNOTATION,
    SliceWriter,
    SyncError,
    address_family,
    service_key_of_slice,
    service_selector,
    slice_name,
)

__all__ = ["MAX_ENDPOINTS_PER_SUBSET", "MIRRORING_CONTROLLER_NAME", "EndpointSliceMirroringController",
           "desired_slices"]

log = logging.getLogger(__name__)

MIRRORING_CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
MAX_ENDPOINTS_PER_SUBSET = 1000
"""Upstream's --mirroring-max-endpoints-per-subset default."""
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
STALE_RETRY_DELAY = 0.1


def should_mirror(endpoints: dict | None) -> bool:
    if endpoints is None:
        return False
    meta = endpoints.get("metadata") or {}
    return ((meta.get("labels") or {}).get(LABEL_SKIP_MIRROR) != "true"
            and LEADER_ELECTION_ANNOTATION not in (meta.get("annotations") or {}))


def _address_to_endpoint(address: dict, ready: bool) -> tuple[dict, str] | None:
    family = address_family(address.get("ip") or "")
    if family is None:
        return None
    endpoint: dict = {"addresses": [str(ipaddress.ip_address(address["ip"]))], "conditions": {"ready": ready}}
    if address.get("hostname"):
        endpoint["hostname"] = address["hostname"]
    if address.get("targetRef"):
        endpoint["targetRef"] = copy.deepcopy(address["targetRef"])
    if address.get("nodeName"):
        endpoint["nodeName"] = address["nodeName"]
    return endpoint, family


def _slice_ports(ports: list[dict] | None) -> list[dict]:
    out = []
    for port in ports or ():
        entry = {"name": port.get("name") or "", "port": port.get("port"), "protocol": port.get("protocol") or "TCP"}
        if port.get("appProtocol") is not None:
            entry["appProtocol"] = port["appProtocol"]
        out.append(entry)
    return out


def desired_slices(endpoints: dict, max_per_subset: int = MAX_ENDPOINTS_PER_SUBSET
                   ) -> tuple[dict[tuple, tuple[str, list[dict], dict[tuple, dict]]], int, int]:
    """(slice key → (address type, ports, endpoints by identity), invalid addresses,
    addresses skipped over the per-subset limit) for an Endpoints object."""
    desired: dict[tuple, tuple[str, list[dict], dict[tuple, dict]]] = {}
    invalid = skipped = 0
    for subset in endpoints.get("subsets") or ():
        ports = _slice_ports(subset.get("ports"))
        added = 0
        total = len(subset.get("addresses") or ()) + len(subset.get("notReadyAddresses") or ())
        for field, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(field) or ():
                if added >= max_per_subset:
                    break
                converted = _address_to_endpoint(address, ready)
                if converted is None:
                    invalid += 1
                    continue
                endpoint, family = converted
                key = (family, port_map_key(ports))
                entry = desired.setdefault(key, (family, ports, {}))
                entry[2][endpoint_key(endpoint)] = endpoint
                added += 1
        skipped += total - added
    return desired, invalid, skipped - invalid


def _mirrored_meta(endpoints: dict) -> tuple[dict, dict]:
    meta = endpoints["metadata"]
    labels = dict(meta.get("labels") or {})
    labels[LABEL_SERVICE_NAME] = meta["name"]
    labels[LABEL_MANAGED_BY] = MIRRORING_CONTROLLER_NAME
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k not in (ANNOTATION_LAST_CHANGE_TRIGGER_TIME, LAST_APPLIED_ANNOTATION)}
    return labels, annotations


def new_mirrored_slice(endpoints: dict, ports: list[dict], address_type: str, name: str = "") -> dict:
    meta = endpoints["metadata"]
    labels, annotations = _mirrored_meta(endpoints)
    slice_meta: dict = {"namespace": meta.get("namespace"), "labels": labels, "annotations": annotations,
                        "ownerReferences": [{"apiVersion": "v1", "kind": "Endpoints", "name": meta["name"],
                                             "uid": meta.get("uid", ""), "controller": True,
                                             "blockOwnerDeletion": True}]}
    if name:
        slice_meta["name"] = name
    else:
        slice_meta["generateName"] = f"{meta['name']}-"
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": slice_meta,
            "addressType": address_type, "endpoints": [], "ports": copy.deepcopy(ports)}


def _matches(slice_: dict, wanted: dict[tuple, dict], labels: dict, annotations: dict) -> bool:
    current = {endpoint_key(e): e for e in slice_.get("endpoints") or ()}
    if current.keys() != wanted.keys() or len(current) != len(slice_.get("endpoints") or ()):
        return False
    if not all(endpoints_equal_beyond_hash(wanted[k], current[k]) for k in wanted):
        return False
    meta = slice_.get("metadata") or {}
    return (meta.get("labels") or {}) == labels and (meta.get("annotations") or {}) == annotations


class EndpointSliceMirroringController(SliceWriter):
    name = "endpointslicemirroring"
    controller_name = MIRRORING_CONTROLLER_NAME
    owner_kind = "Endpoints"

    def __init__(self, ctx, *, max_endpoints_per_subset: int = MAX_ENDPOINTS_PER_SUBSET) -> None:
        super().__init__(ctx, "endpoint-slice-mirroring-controller")
        self.max_per_subset = max_endpoints_per_subset
        self.services = ctx.informers.resource("", "services")
        self.endpoints = ctx.informers.resource("", "endpoints")
        self.services.add_handler(self._service_added, self._service_updated, self._service_added)
        self.endpoints.add_handler(self._endpoints_added, self._endpoints_updated, self._endpoints_added)
        self.watch_slices(ctx)

    # -- handlers: map events to keys (slices: SliceWriter) ------------------------------
    def _service_added(self, service: dict) -> None:
        if service_selector(service) is None:
            self.queue.add(key_of(service))

    def _service_updated(self, old: dict, new: dict) -> None:
        if (service_selector(old) is None) != (service_selector(new) is None):
            self.queue.add(key_of(new))

    def _endpoints_added(self, endpoints: dict) -> None:
        if should_mirror(endpoints):
            self.queue.add(key_of(endpoints))

    def _endpoints_updated(self, old: dict, new: dict) -> None:
        if should_mirror(old) or should_mirror(new):
            self.queue.add(key_of(new))

    # -- sync --------------------------------------------------------------------------------
    def _mirrored(self, key: str) -> list[dict]:
        namespace, _ = split_key(key)
        return sorted((s for s in self.slices.list(namespace)
                       if service_key_of_slice(s) == key and self._managed(s)),
                      key=lambda s: s["metadata"].get("name", ""))

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        endpoints = self.endpoints.get_by_key(key)
        service = self.services.get_by_key(key)
        if (endpoints is None or not should_mirror(endpoints) or service is None
                or service_selector(service) is not None):
            await self._delete_mirrored(key)
            return
        existing = [s for s in self._mirrored(key) if not s["metadata"].get("deletionTimestamp")]
        if self.tracker.stale(key, existing):
            self.queue.add_after(key, STALE_RETRY_DELAY)
            return
        desired, invalid, skipped = desired_slices(endpoints, self.max_per_subset)
        if invalid:
            self.recorder.event(endpoints, "Warning", "InvalidIPAddress",
                                f"Skipped {invalid} invalid IP addresses when mirroring to EndpointSlices")
        if skipped > 0:
            self.recorder.event(endpoints, "Warning", "TooManyAddressesToMirror",
                                f"A max of {self.max_per_subset} addresses can be mirrored to EndpointSlices "
                                f"per Endpoints subset. {skipped} addresses were skipped")
        labels, annotations = _mirrored_meta(endpoints)
        by_key: dict[tuple, list[dict]] = {}
        for slice_ in existing:
            by_key.setdefault((slice_.get("addressType"), port_map_key(slice_.get("ports"))), []).append(slice_)
        creates: list[dict] = []
        updates: list[dict] = []
        deletes: list[dict] = []
        for skey, (address_type, ports, wanted) in desired.items():
            slices = by_key.get(skey, [])
            deletes += slices[1:]
            if slices and _matches(slices[0], wanted, labels, annotations):
                continue
            fresh = new_mirrored_slice(endpoints, ports, address_type, slice_name(slices[0]) if slices else "")
            fresh["endpoints"] = list(wanted.values())[:self.max_per_subset]
            (updates if slices else creates).append(fresh)
        for skey, slices in by_key.items():
            if skey not in desired:
                deletes += slices
        # recycle slices that would be deleted instead of creating new ones
        while creates and deletes:
            recycled = creates.pop()
            victim = deletes.pop()
            recycled["metadata"]["name"] = slice_name(victim)
            recycled["metadata"].pop("generateName", None)
            updates.append(recycled)
        await self.write_slices(key, namespace, endpoints, creates, updates, deletes)

    async def _delete_mirrored(self, key: str) -> None:
        self.tracker.delete_owner(key)
        errors = []
        for slice_ in self._mirrored(key):
            try:
                await self.delete_slice(key, slice_)
            except SyncError as e:
                errors.append(str(e))
        if errors:
            raise SyncError("; ".join(errors))
