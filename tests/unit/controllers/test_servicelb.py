"""Built-in service load balancer: LoadBalancer status from the Ready nodes' addresses."""

from __future__ import annotations

import pytest

from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.controllers.manager import ControllerContext
from podplane.controllers.servicelb import load_balancer_ips, new

from .test_endpoints import make_service


def make_node(name: str, internal: str | None, *, ready: bool = True, external: str | None = None,
              excluded: bool = False) -> dict:
    labels = {"kubernetes.io/hostname": name}
    if excluded:
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    addresses = [{"type": "Hostname", "address": name}]
    if internal:
        addresses.append({"type": "InternalIP", "address": internal})
    if external:
        addresses.append({"type": "ExternalIP", "address": external})
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "status": {"addresses": addresses,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "Unknown"}]}}


def lb_service(name: str = "web", *, ingress: list[str] | None = None, lb_class: str | None = None,
               svc_type: str = "LoadBalancer", local: bool = False) -> dict:
    svc = make_service(name, svc_type=svc_type)
    if lb_class:
        svc["spec"]["loadBalancerClass"] = lb_class
    if local:
        svc["spec"]["externalTrafficPolicy"] = "Local"
    if ingress is not None:
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"} for ip in ingress]}}
    return svc


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: dict, event_type: str, reason: str, message: str) -> None:
        self.events.append((event_type, reason, message))


class Fixture:
    def __init__(self) -> None:
        self.client = FakeClient()
        self.factory = InformerFactory(self.client)
        self.ctx = ControllerContext(client=self.client, informers=self.factory)
        self.controller = new(self.ctx)
        self.recorder = Recorder()
        self.controller.recorder = self.recorder
        self._cached: dict[tuple[str, str], list[dict]] = {}

    def add(self, group: str, plural: str, obj: dict) -> dict:
        stored = self.client.seed(self.client.resource(group, plural), obj)
        items = [o for o in self._cached.setdefault((group, plural), [])
                 if o["metadata"]["name"] != stored["metadata"]["name"]]
        items.append(stored)
        self._cached[(group, plural)] = items
        self.factory.resource(group, plural).replace(items, "1")
        return stored

    def nodes(self, *nodes: dict) -> None:
        for node in nodes:
            self.add("", "nodes", node)

    async def sync(self, name: str = "web") -> None:
        await self.controller.sync(f"ns/{name}")

    def patches(self) -> list[dict]:
        return [a.obj for a in self.client.actions_for("patch", "services/status")]

    def ingress(self, name: str = "web") -> list[dict] | None:
        svc = self.client.stored(self.client.resource("", "services"), name, "ns")
        return ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")


THREE_NODES = (make_node("n1", "127.1.0.2"), make_node("n2", "127.1.0.10"), make_node("n3", "127.1.0.3"))


async def test_ingress_lists_the_ready_nodes_internal_ips():
    f = Fixture()
    f.nodes(*THREE_NODES, make_node("down", "127.1.0.4", ready=False),
            make_node("excluded", "127.1.0.5", excluded=True))
    f.add("", "services", lb_service())
    await f.sync()
    assert f.client.verbs() == ["patch services/status"]
    assert f.ingress() == [{"ip": "127.1.0.2", "ipMode": "VIP"}, {"ip": "127.1.0.3", "ipMode": "VIP"},
                           {"ip": "127.1.0.10", "ipMode": "VIP"}]
    assert [r for _, r, _ in f.recorder.events] == ["UpdatedLoadBalancer"]


async def test_unchanged_status_is_not_written():
    f = Fixture()
    f.nodes(*THREE_NODES)
    f.add("", "services", lb_service(ingress=["127.1.0.2", "127.1.0.3", "127.1.0.10"]))
    await f.sync()
    assert f.client.verbs() == []


async def test_external_ips_win_when_any_node_has_one():
    f = Fixture()
    f.nodes(make_node("n1", "127.1.0.2", external="198.51.100.1"), make_node("n2", "127.1.0.3"))
    f.add("", "services", lb_service())
    await f.sync()
    assert f.ingress() == [{"ip": "198.51.100.1", "ipMode": "VIP"}]


@pytest.mark.parametrize("svc", [
    pytest.param(lb_service(lb_class="example.com/lb"), id="other-class"),
    pytest.param(lb_service(svc_type="ClusterIP"), id="cluster-ip"),
    pytest.param(lb_service(svc_type="NodePort"), id="node-port"),
])
async def test_services_left_alone(svc):
    f = Fixture()
    f.nodes(*THREE_NODES)
    f.add("", "services", svc)
    await f.sync()
    assert f.client.verbs() == []


async def test_a_service_that_stops_being_a_load_balancer_loses_its_ingress():
    f = Fixture()
    f.nodes(*THREE_NODES)
    f.add("", "services", lb_service(svc_type="ClusterIP", ingress=["127.1.0.2"]))
    await f.sync()
    assert f.patches() == [{"status": {"loadBalancer": {"ingress": None}}}]
    assert not f.ingress()


async def test_no_ready_nodes_clears_the_ingress_with_a_warning():
    f = Fixture()
    f.nodes(make_node("n1", "127.1.0.2", ready=False))
    f.add("", "services", lb_service(ingress=["127.1.0.2"]))
    await f.sync()
    assert not f.ingress()
    assert [r for _, r, _ in f.recorder.events] == ["UnAvailableLoadBalancer"]


async def test_local_traffic_policy_uses_nodes_with_ready_endpoints():
    f = Fixture()
    f.nodes(*THREE_NODES)
    f.add("", "services", lb_service(local=True))
    f.add("discovery.k8s.io", "endpointslices", {
        "metadata": {"name": "web-x", "namespace": "ns", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4", "ports": [],
        "endpoints": [
            {"addresses": ["10.42.0.1"], "conditions": {"ready": True}, "nodeName": "n2",
             "targetRef": {"kind": "Pod", "name": "a"}},
            {"addresses": ["10.42.0.2"], "conditions": {"ready": False}, "nodeName": "n3",
             "targetRef": {"kind": "Pod", "name": "b"}}]})
    await f.sync()
    assert f.ingress() == [{"ip": "127.1.0.10", "ipMode": "VIP"}]


async def test_node_changes_enqueue_load_balancer_services():
    f = Fixture()
    f.add("", "services", lb_service())
    f.add("", "services", lb_service("plain", svc_type="ClusterIP"))
    while len(f.controller.queue):
        f.controller.queue.done(await f.controller.queue.get())
    old = make_node("n1", "127.1.0.2")
    f.controller._node_updated(old, make_node("n1", "127.1.0.2"))  # heartbeat-like: nothing relevant
    assert len(f.controller.queue) == 0
    f.controller._node_updated(old, make_node("n1", "127.1.0.2", ready=False))
    assert len(f.controller.queue) == 1
    assert await f.controller.queue.get() == "ns/web"


def test_ip_families_filter_and_order():
    svc = make_service()
    svc["spec"]["ipFamilies"] = ["IPv6", "IPv4"]
    nodes = [make_node("a", "10.0.0.2"), make_node("b", "fd00::2"), make_node("c", "10.0.0.1")]
    assert load_balancer_ips(svc, nodes) == ["fd00::2", "10.0.0.1", "10.0.0.2"]
    svc["spec"]["ipFamilies"] = ["IPv4"]
    assert load_balancer_ips(svc, nodes) == ["10.0.0.1", "10.0.0.2"]
