"""Small builders for the proxy unit tests: Services, EndpointSlices, Nodes, node facts."""

from __future__ import annotations

from podplane.proxy import rules

NODE = "n1"
SERVICE_CIDR = "10.43.0.0/16"
DNS_IP = "10.43.0.10"
POD_CIDR = "10.244.1.0/24"
NODE_IP = "192.168.50.10"


def service(name: str, cluster_ip: str, *ports: dict, namespace: str = "default", type: str = "ClusterIP",
            labels: dict | None = None, status: dict | None = None, **spec) -> dict:
    """`ports` default to one TCP port 80 named http."""
    ports = ports or ({"name": "http", "port": 80, "protocol": "TCP"},)
    obj = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"namespace": namespace, "name": name, "labels": labels or {}, "resourceVersion": "1"},
           "spec": {"type": type, "clusterIP": cluster_ip, "ports": [dict(p) for p in ports], **spec}}
    if status is not None:
        obj["status"] = status
    return obj


def port(port: int = 80, name: str = "http", protocol: str = "TCP", **extra) -> dict:
    return {"name": name, "port": port, "protocol": protocol, **extra}


def endpoint(ip: str, *, node: str | None = NODE, ready: bool | None = True, serving: bool | None = None,
             terminating: bool | None = None) -> dict:
    conditions = {}
    if ready is not None:
        conditions["ready"] = ready
    if serving is not None:
        conditions["serving"] = serving
    if terminating is not None:
        conditions["terminating"] = terminating
    ep = {"addresses": [ip], "conditions": conditions}
    if node:
        ep["nodeName"] = node
    return ep


def endpoint_slice(service_name: str, *endpoints: dict, ports: list[dict] | None = None,
                   namespace: str = "default", name: str = "", address_type: str = "IPv4",
                   labels: dict | None = None) -> dict:
    """`ports` default to [{"name": "http", "port": 8080, "protocol": "TCP"}]."""
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"namespace": namespace, "name": name or f"{service_name}-abcde", "resourceVersion": "1",
                         "labels": {"kubernetes.io/service-name": service_name, **(labels or {})}},
            "addressType": address_type,
            "ports": ports if ports is not None else [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": list(endpoints)}


def node_object(name: str = NODE, *, ips: tuple[str, ...] = (NODE_IP,), pod_cidr: str = POD_CIDR,
                resource_version: str = "1") -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "resourceVersion": resource_version},
            "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]} if pod_cidr else {},
            "status": {"addresses": [{"type": "InternalIP", "address": ip} for ip in ips]
                       + [{"type": "Hostname", "address": name}]}}


def facts(*, ips: tuple[str, ...] = (NODE_IP,), pod_cidrs: tuple[str, ...] = (POD_CIDR,)) -> rules.NodeFacts:
    return rules.node_facts(NODE, ips, service_cidr=SERVICE_CIDR, cluster_dns_ip=DNS_IP, pod_cidrs=pod_cidrs)
