"""NodeUnschedulable (cordoned nodes) and NodePorts (host port conflicts)."""

from __future__ import annotations

import pytest

from podplane.scheduler.plugins import node_name, node_ports, node_unschedulable

from .builders import Harness, make_node, make_pod


@pytest.mark.parametrize("tolerations,fits", [
    pytest.param([], {"open"}, id="cordoned-node-rejected"),
    pytest.param([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}],
                 {"open", "cordoned"}, id="toleration-allows-cordoned"),
])
def test_unschedulable(tolerations, fits):
    h = Harness()
    h.nodes(make_node("open"), make_node("cordoned", unschedulable=True))
    result = h.filter(node_unschedulable.new(h.handle), make_pod("p", tolerations=tolerations))
    assert {n for n, r in result.items() if r is None} == fits
    assert set(result.values()) - {None} <= {"UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) were unschedulable"}


def port_pod(name: str, port: int, protocol: str = "TCP", host_ip: str = "", node: str = "") -> dict:
    pod = make_pod(name, node=node)
    spec = {"containerPort": port, "hostPort": port, "protocol": protocol}
    if host_ip:
        spec["hostIP"] = host_ip
    pod["spec"]["containers"][0]["ports"] = [spec]
    return pod


CONFLICT = "UNSCHEDULABLE: node(s) didn't have free ports for the requested pod ports"


@pytest.mark.parametrize("existing,incoming,result", [
    pytest.param(None, port_pod("p", 80), None, id="free"),
    pytest.param(port_pod("e", 80), port_pod("p", 80), CONFLICT, id="same-port"),
    pytest.param(port_pod("e", 80), port_pod("p", 81), None, id="other-port"),
    pytest.param(port_pod("e", 53, "UDP"), port_pod("p", 53, "TCP"), None, id="other-protocol"),
    pytest.param(port_pod("e", 80, host_ip="10.0.0.1"), port_pod("p", 80, host_ip="10.0.0.2"), None,
                 id="different-addresses"),
    pytest.param(port_pod("e", 80, host_ip="10.0.0.1"), port_pod("p", 80), CONFLICT,
                 id="all-addresses-conflicts-with-one"),
    pytest.param(port_pod("e", 80), port_pod("p", 80, host_ip="10.0.0.1"), CONFLICT,
                 id="one-address-conflicts-with-all"),
])
def test_node_ports(existing, incoming, result):
    h = Harness()
    h.nodes(make_node("n"))
    if existing is not None:
        existing["spec"]["nodeName"] = "n"
        h.place(existing)
    assert h.filter(node_ports.new(h.handle), incoming) == {"n": result}


def test_node_ports_skips_pods_without_host_ports():
    h = Harness()
    h.nodes(make_node("n"))
    h.place(port_pod("e", 80, node="n"))
    assert h.filter(node_ports.new(h.handle), make_pod("p")) == {"n": None}


def test_node_name():
    h = Harness()
    h.nodes(make_node("a"), make_node("b"))
    plugin = node_name.new(h.handle)
    assert h.filter(plugin, make_pod("p", nodeName="b")) == {
        "a": "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) didn't match the requested node name", "b": None}
    assert h.filter(plugin, make_pod("p")) == {"a": None, "b": None}
