"""EndpointSlice reconciler: the slices a Service should have, as a plan of writes.

Upstream `k8s.io/endpointslice` (reconciler.go, utils.go). `plan(service, pods, node_of,
existing)` is pure: it turns each selected pod into an endpoint (addresses of the
slice's address type, conditions ready/serving/terminating, nodeName, zone from the
node's `topology.kubernetes.io/zone` label, hostname, targetRef), groups endpoints by
their resolved port set, and compares them with the Service's existing slices to
produce `creates`, `updates` and `deletes` with little churn:

1. each existing slice keeps the endpoints still desired (updated in place when their
   conditions, node or zone changed) and is deleted when none remain;
2. slices already being updated are filled up with new endpoints, fullest first;
3. leftovers go into the unchanged slice that they fill best, else into new slices
   of at most `max_endpoints` (100) endpoints.

Creates then take over the names of slices that would be deleted (one update instead of
a delete and a create), and a Service without endpoints keeps one empty placeholder
slice. The controller (`controller.py`) performs the plan.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from ..common import is_pod_ready
from .util import (
    LABEL_HEADLESS,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    LABEL_ZONE,
    address_family,
    find_port,
    is_service_ip_set,
    pod_ips,
    should_pod_be_in_endpoints,
    should_set_hostname,
)

__all__ = [
    "CONTROLLER_NAME",
    "MAX_ENDPOINTS_PER_SLICE",
    "SlicePlan",
    "address_types",
    "endpoint_key",
    "endpoints_equal_beyond_hash",
    "new_slice",
    "plan",
    "pod_to_endpoint",
    "port_map_key",
    "slice_labels",
]

CONTROLLER_NAME = "endpointslice-controller.k8s.io"
"""The `endpointslice.kubernetes.io/managed-by` value of the slices this controller owns."""
MAX_ENDPOINTS_PER_SLICE = 100
"""Upstream's --max-endpoints-per-slice default."""
_RESERVED_LABELS = (LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS)


@dataclass
class SlicePlan:
    creates: list[dict] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    deletes: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Pods skipped for a reason that may pass (their node is not in the cache yet)."""


# ------------------------------------------------------------------------- endpoints


def address_types(service: dict) -> list[str]:
    """The slice address types a Service needs, from spec.ipFamilies (else its cluster
    IP's family; a headless Service without families gets both)."""
    spec = service.get("spec") or {}
    types = [f for f in spec.get("ipFamilies") or () if f in ("IPv4", "IPv6")]
    if types:
        return list(dict.fromkeys(types))
    if is_service_ip_set(service):
        return [address_family(spec["clusterIP"]) or "IPv4"]
    return ["IPv4", "IPv6"]


def pod_to_endpoint(pod: dict, node: dict | None, service: dict, address_type: str) -> dict:
    meta = pod["metadata"]
    serving = is_pod_ready(pod)
    terminating = bool(meta.get("deletionTimestamp"))
    # "ready" is never true for a terminating pod unless not-ready addresses are published
    ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    endpoint: dict = {
        "addresses": [ip for ip in pod_ips(pod) if address_family(ip) == address_type],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
    }
    if should_set_hostname(pod, service):
        endpoint["hostname"] = pod["spec"]["hostname"]
    endpoint["targetRef"] = {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta["name"],
                             "uid": meta.get("uid", "")}
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        endpoint["nodeName"] = node_name
    zone = (((node or {}).get("metadata") or {}).get("labels") or {}).get(LABEL_ZONE)
    if zone:
        endpoint["zone"] = zone
    return endpoint


def endpoint_ports(service: dict, pod: dict) -> list[dict]:
    """The slice ports of the Service ports that resolve on `pod`."""
    spec = service.get("spec") or {}
    ports = []
    for service_port in spec.get("ports") or ():
        number = find_port(pod, service_port)
        if number is None:
            continue
        port = {"name": service_port.get("name") or "", "port": number,
                "protocol": service_port.get("protocol") or "TCP"}
        if service_port.get("appProtocol") is not None:
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def port_map_key(ports: list[dict] | None) -> tuple:
    """Identifies a set of slice ports, whatever their order."""
    return tuple(sorted((p.get("name") or "", p.get("port") or 0, p.get("protocol") or "TCP",
                         p.get("appProtocol") or "") for p in ports or ()))


def endpoint_key(endpoint: dict) -> tuple:
    """Identity of an endpoint: addresses, hostname and target; conditions, node and zone
    may change in place."""
    ref = endpoint.get("targetRef") or {}
    return (tuple(sorted(endpoint.get("addresses") or ())), endpoint.get("hostname") or "",
            ref.get("namespace") or "", ref.get("name") or "")


def endpoints_equal_beyond_hash(a: dict, b: dict) -> bool:
    if a.get("nodeName") != b.get("nodeName") or a.get("zone") != b.get("zone"):
        return False
    ca, cb = a.get("conditions") or {}, b.get("conditions") or {}
    if any(ca.get(k) != cb.get(k) for k in ("ready", "serving", "terminating")):
        return False
    ra = {k: v for k, v in (a.get("targetRef") or {}).items() if k != "resourceVersion"}
    rb = {k: v for k, v in (b.get("targetRef") or {}).items() if k != "resourceVersion"}
    return ra == rb


# ---------------------------------------------------------------------------- slices


def slice_labels(existing: dict | None, service: dict, controller_name: str = CONTROLLER_NAME
                 ) -> tuple[dict, bool]:
    """(labels the slice should have, whether the Service's own labels changed): the
    Service's labels except the reserved ones, plus service-name, managed-by and the
    headless marker."""
    current = {k: v for k, v in (((existing or {}).get("metadata") or {}).get("labels") or {}).items()
               if k not in _RESERVED_LABELS}
    wanted = {k: v for k, v in (service["metadata"].get("labels") or {}).items() if k not in _RESERVED_LABELS}
    changed = current != wanted
    if not is_service_ip_set(service):
        wanted[LABEL_HEADLESS] = ""
    wanted[LABEL_SERVICE_NAME] = service["metadata"]["name"]
    wanted[LABEL_MANAGED_BY] = controller_name
    return wanted, changed


def _owner_ref(service: dict) -> dict:
    meta = service["metadata"]
    return {"apiVersion": "v1", "kind": "Service", "name": meta["name"], "uid": meta.get("uid", ""),
            "controller": True, "blockOwnerDeletion": True}


def new_slice(service: dict, ports: list[dict], address_type: str,
              controller_name: str = CONTROLLER_NAME) -> dict:
    meta = service["metadata"]
    labels, _ = slice_labels(None, service, controller_name)
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{meta['name']}-", "namespace": meta.get("namespace"),
                         "labels": labels, "ownerReferences": [_owner_ref(service)]},
            "addressType": address_type, "endpoints": [], "ports": copy.deepcopy(ports)}


def owned_by(slice_: dict, service: dict) -> bool:
    uid = service["metadata"].get("uid")
    return any(r.get("uid") == uid and r.get("kind") == "Service" and r.get("apiVersion") == "v1"
               for r in (slice_.get("metadata") or {}).get("ownerReferences") or ())


def _is_placeholder_of(slice_: dict, placeholder: dict) -> bool:
    meta, pmeta = slice_.get("metadata") or {}, placeholder["metadata"]
    return (meta.get("namespace") == pmeta.get("namespace")
            and (meta.get("labels") or {}) == pmeta["labels"]
            and _canonical(meta.get("ownerReferences") or []) == _canonical(pmeta["ownerReferences"])
            and slice_.get("addressType") == placeholder["addressType"]
            and not slice_.get("endpoints") and not slice_.get("ports"))


def _canonical(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _name(slice_: dict) -> str:
    return (slice_.get("metadata") or {}).get("name") or ""


# ------------------------------------------------------------------------------ plan


def plan(service: dict, pods: list[dict], node_of: Callable[[str], dict | None], existing: list[dict], *,
         max_endpoints: int = MAX_ENDPOINTS_PER_SLICE, controller_name: str = CONTROLLER_NAME) -> SlicePlan:
    """The writes that make `existing` (this controller's slices for the Service) match
    the selected `pods`; `node_of(name)` returns a cached Node (or None)."""
    result = SlicePlan()
    types = address_types(service)
    by_type: dict[str, list[dict]] = {}
    for slice_ in existing:
        if slice_.get("addressType") in types:
            by_type.setdefault(slice_["addressType"], []).append(slice_)
        else:
            result.deletes.append(slice_)  # the Service no longer has this IP family
    for address_type in types:
        _plan_address_type(result, service, pods, node_of, by_type.get(address_type, []), address_type,
                           max_endpoints, controller_name)
    return result


def _plan_address_type(result: SlicePlan, service: dict, pods: list[dict], node_of: Callable[[str], dict | None],
                       existing: list[dict], address_type: str, max_endpoints: int, controller_name: str) -> None:
    creates: list[dict] = []
    updates: list[dict] = []
    deletes: list[dict] = []
    existing_by_ports: dict[tuple, list[dict]] = {}
    for slice_ in existing:
        if owned_by(slice_, service):
            existing_by_ports.setdefault(port_map_key(slice_.get("ports")), []).append(slice_)
        else:
            deletes.append(slice_)  # left by an earlier Service of the same name

    publish_not_ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    desired: dict[tuple, dict[tuple, dict]] = {}
    desired_ports: dict[tuple, list[dict]] = {}
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, True):
            continue
        ports = endpoint_ports(service, pod)
        pkey = port_map_key(ports)
        endpoints = desired.setdefault(pkey, {})
        desired_ports.setdefault(pkey, ports)
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        node = node_of(node_name) if node_name else None
        if node is None and not publish_not_ready:
            # retried later; the slice is still written without this pod so one pod bound
            # to a vanished node cannot hold the Service's endpoints back
            result.errors.append(f"skipping pod {pod['metadata']['name']} for service "
                                 f"{service['metadata'].get('namespace')}/{service['metadata']['name']}: "
                                 f"node {node_name!r} not found")
            continue
        endpoint = pod_to_endpoint(pod, node, service, address_type)
        if endpoint["addresses"]:
            endpoints[endpoint_key(endpoint)] = endpoint

    for pkey, wanted in desired.items():
        c, u, d = _plan_port_mapping(service, existing_by_ports.get(pkey, []), wanted,
                                     desired_ports[pkey], address_type, max_endpoints, controller_name)
        creates += c
        updates += u
        deletes += d
    for pkey, slices in existing_by_ports.items():
        if pkey not in desired:
            deletes += slices

    if len(existing) == len(deletes) and not creates:
        # a Service without endpoints keeps one empty slice, so readers can tell "no
        # endpoints" from "not yet synced"
        placeholder = new_slice(service, [], address_type, controller_name)
        if len(deletes) == 1 and _is_placeholder_of(deletes[0], placeholder):
            deletes = []
        else:
            creates.append(placeholder)

    # turn creates into updates of slices that would be deleted
    remaining = []
    for slice_ in deletes:
        if creates and slice_.get("addressType") == address_type and owned_by(slice_, service):
            recycled = creates.pop()
            recycled["metadata"]["name"] = _name(slice_)
            recycled["metadata"].pop("generateName", None)
            updates.append(recycled)
        else:
            remaining.append(slice_)
    result.creates += creates
    result.updates += updates
    result.deletes += remaining


def _plan_port_mapping(service: dict, existing: list[dict], wanted: dict[tuple, dict], ports: list[dict],
                       address_type: str, max_endpoints: int, controller_name: str
                       ) -> tuple[list[dict], list[dict], list[dict]]:
    by_name: dict[str, dict] = {}
    unchanged: list[str] = []
    to_update: list[str] = []
    to_delete: list[str] = []
    wanted = dict(wanted)

    # 1. keep the endpoints still wanted, in place; update the ones that changed
    for slice_ in existing:
        name = _name(slice_)
        by_name[name] = slice_
        kept = []
        changed = False
        for endpoint in slice_.get("endpoints") or ():
            key = endpoint_key(endpoint)
            got = wanted.pop(key, None)
            if got is not None:
                kept.append(got)
                if not endpoints_equal_beyond_hash(got, endpoint):
                    changed = True
        labels, labels_changed = slice_labels(slice_, service, controller_name)
        if changed or len(kept) != len(slice_.get("endpoints") or ()):
            if not kept:
                to_delete.append(name)
            else:
                copy_ = copy.deepcopy(slice_)
                copy_["endpoints"] = kept
                copy_["metadata"]["labels"] = labels
                by_name[name] = copy_
                to_update.append(name)
        elif labels_changed or (slice_.get("metadata") or {}).get("labels") != labels:
            copy_ = copy.deepcopy(slice_)
            copy_["endpoints"] = list(copy_.get("endpoints") or [])
            copy_["metadata"]["labels"] = labels
            by_name[name] = copy_
            to_update.append(name)
        else:
            unchanged.append(name)

    pending = list(wanted.values())

    # 2. fill the slices being updated anyway, fullest first
    if pending and to_update:
        for name in sorted(to_update, key=lambda n: -len(by_name[n]["endpoints"])):
            slice_ = by_name[name]
            while pending and len(slice_["endpoints"]) < max_endpoints:
                slice_["endpoints"].append(pending.pop(0))

    # 3. put the rest into the unchanged slice they fill best, else into new slices
    creates: list[dict] = []
    while pending:
        target = None
        if len(pending) < max_endpoints and unchanged:
            target = _slice_to_fill([by_name[n] for n in unchanged], len(pending), max_endpoints)
        if target is None:
            target = new_slice(service, ports, address_type, controller_name)
        else:
            target = copy.deepcopy(target)
            target["endpoints"] = list(target.get("endpoints") or [])
            by_name[_name(target)] = target
        while pending and len(target["endpoints"]) < max_endpoints:
            target["endpoints"].append(pending.pop(0))
        if _name(target):
            to_update.append(_name(target))
            unchanged.remove(_name(target))
        else:
            creates.append(target)
    return creates, [by_name[n] for n in to_update], [by_name[n] for n in to_delete]


def _slice_to_fill(slices: list[dict], count: int, max_endpoints: int) -> dict | None:
    """The slice that is closest to full once `count` endpoints are added, if any fits."""
    closest_diff = max_endpoints
    closest = None
    for slice_ in slices:
        diff = max_endpoints - (count + len(slice_.get("endpoints") or ()))
        if 0 <= diff < closest_diff:
            closest_diff, closest = diff, slice_
            if diff == 0:
                break
    return closest
