"""Built-in service load balancer: status addresses for `type: LoadBalancer` Services.

Like k3s's ServiceLB (pkg/cloudprovider/servicelb.go), until a VIP pool exists: every
Ready node's proxy serves a LoadBalancer Service's ports, so the Service's
`status.loadBalancer.ingress` lists those nodes' addresses (`ipMode: VIP`): their
ExternalIPs when any node has one, else their InternalIPs, filtered and ordered by
the Service's `ipFamilies`, each family sorted. With `externalTrafficPolicy: Local`
only nodes that host a ready endpoint of the Service count (read from its
EndpointSlices), as k3s does. Services that name a `spec.loadBalancerClass` belong to
another implementation and are left alone; a Service that stops being a LoadBalancer
has its ingress cleared (upstream's service controller). Nodes marked
`node.kubernetes.io/exclude-from-external-load-balancers` are skipped.

Service events enqueue the Service; node changes that matter (readiness, addresses,
the exclusion label) enqueue every LoadBalancer Service; EndpointSlice events enqueue
their Service when it uses the Local policy. `sync(key)` writes only on a change,
through a merge patch of the `services/status` subresource, with an event like k3s's.
"""

from __future__ import annotations

import ipaddress
import logging

from podplane.api.errors import ApiError
from podplane.client.informer import key_of, split_key

from .common import QueueController, condition
from .endpointslice.util import LABEL_SERVICE_NAME, address_family

__all__ = ["EXCLUDE_LB_LABEL", "ServiceLBController", "load_balancer_ips", "new", "wants_load_balancer"]

log = logging.getLogger(__name__)

EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


def wants_load_balancer(service: dict) -> bool:
    """A LoadBalancer Service this controller implements (no other class requested)."""
    spec = service.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def _node_ready(node: dict) -> bool:
    c = condition(node, "Ready")
    return bool(c and c.get("status") == "True")


def load_balancer_ips(service: dict, nodes: list[dict], ready_endpoint_nodes: set[str] | None = None) -> list[str]:
    """The ingress IPs for `service`; `ready_endpoint_nodes` restricts them (Local policy)."""
    external: set[str] = set()
    internal: set[str] = set()
    for node in nodes:
        meta = node.get("metadata") or {}
        if EXCLUDE_LB_LABEL in (meta.get("labels") or {}) or not _node_ready(node):
            continue
        if ready_endpoint_nodes is not None and meta.get("name") not in ready_endpoint_nodes:
            continue
        for address in (node.get("status") or {}).get("addresses") or ():
            if address.get("type") == "ExternalIP" and address.get("address"):
                external.add(address["address"])
            elif address.get("type") == "InternalIP" and address.get("address"):
                internal.add(address["address"])
    candidates = external or internal
    families = (service.get("spec") or {}).get("ipFamilies") or ["IPv4"]
    ips: list[str] = []
    for family in dict.fromkeys(families):
        ips += sorted((ip for ip in candidates if address_family(ip) == family),
                      key=lambda ip: ipaddress.ip_address(ip))
    return ips


def _ingress_ips(status: dict | None) -> list[tuple[str, str | None]]:
    ingress = ((status or {}).get("loadBalancer") or {}).get("ingress") or []
    return [(i.get("ip") or i.get("hostname") or "", i.get("ipMode")) for i in ingress]


class ServiceLBController(QueueController):
    name = "servicelb"

    def __init__(self, ctx) -> None:
        super().__init__(ctx, "service-lb-controller", workers=1)
        self.services_info = ctx.client.resource("", "services")
        self.services = ctx.informers.resource("", "services")
        self.nodes = ctx.informers.resource("", "nodes")
        self.slices = ctx.informers.resource("discovery.k8s.io", "endpointslices")
        self.services.add_handler(self._service_changed, lambda old, new: self._service_changed(new), None)
        self.nodes.add_handler(self._node_added, self._node_updated, self._node_added)
        self.slices.add_handler(self._slice_changed, lambda old, new: self._slice_changed(new), self._slice_changed)

    # -- handlers: map events to keys ------------------------------------------------------
    def _service_changed(self, service: dict) -> None:
        self.queue.add(key_of(service))

    def _enqueue_load_balancers(self) -> None:
        for service in self.services.list():
            if wants_load_balancer(service):
                self.queue.add(key_of(service))

    def _node_added(self, node: dict) -> None:
        self._enqueue_load_balancers()

    def _node_updated(self, old: dict, new: dict) -> None:
        def relevant(node: dict) -> tuple:
            return (_node_ready(node), EXCLUDE_LB_LABEL in ((node.get("metadata") or {}).get("labels") or {}),
                    [(a.get("type"), a.get("address")) for a in (node.get("status") or {}).get("addresses") or ()])
        if relevant(old) != relevant(new):
            self._enqueue_load_balancers()

    def _slice_changed(self, slice_: dict) -> None:
        meta = slice_.get("metadata") or {}
        name = (meta.get("labels") or {}).get(LABEL_SERVICE_NAME)
        if not name:
            return
        service = self.services.get(meta.get("namespace"), name)
        if service is not None and wants_load_balancer(service) and _local_policy(service):
            self.queue.add(key_of(service))

    # -- sync --------------------------------------------------------------------------------
    def _ready_endpoint_nodes(self, service: dict) -> set[str]:
        namespace = service["metadata"].get("namespace")
        nodes = set()
        for slice_ in self.slices.list(namespace):
            if ((slice_.get("metadata") or {}).get("labels") or {}).get(LABEL_SERVICE_NAME) != service["metadata"]["name"]:
                continue
            for endpoint in slice_.get("endpoints") or ():
                ref = endpoint.get("targetRef") or {}
                if (ref.get("kind") == "Pod" and (endpoint.get("conditions") or {}).get("ready")
                        and endpoint.get("nodeName")):
                    nodes.add(endpoint["nodeName"])
        return nodes

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.get_by_key(key)
        if service is None:
            return
        spec = service.get("spec") or {}
        current = _ingress_ips(service.get("status"))
        if wants_load_balancer(service):
            ready_nodes = self._ready_endpoint_nodes(service) if _local_policy(service) else None
            ips = load_balancer_ips(service, self.nodes.list(), ready_nodes)
            ingress = [{"ip": ip, "ipMode": "VIP"} for ip in ips]
        elif spec.get("type") != "LoadBalancer" and current:
            ingress = []  # no longer a LoadBalancer: withdraw the addresses
        else:
            return
        if current == [(i["ip"], i["ipMode"]) for i in ingress]:
            return
        patch = {"status": {"loadBalancer": {"ingress": ingress or None}}}
        try:
            await self.client.patch(self.services_info, name, patch, namespace, patch_type="merge",
                                    subresource="status")
        except ApiError as e:
            if e.code == 404:
                return
            raise
        if not wants_load_balancer(service):
            self.recorder.event(service, "Normal", "DeletedLoadBalancer", "Deleted load balancer")
        elif not ingress:
            self.recorder.event(service, "Warning", "UnAvailableLoadBalancer",
                                "There are no available nodes for LoadBalancer")
        else:
            before = [ip for ip, _ in current]
            self.recorder.event(service, "Normal", "UpdatedLoadBalancer",
                                f"Updated LoadBalancer with new IPs: {before} -> {ips}")


def _local_policy(service: dict) -> bool:
    return (service.get("spec") or {}).get("externalTrafficPolicy") == "Local"


def new(ctx) -> ServiceLBController:
    return ServiceLBController(ctx)
