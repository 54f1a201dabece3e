"""PodNetwork for real: namespaces, CNI bridge/host-local/portmap/loopback, host prep.

Everything runs inside the lab's namespaces (see conftest.py); the fixture checks
afterwards that the real host's forwarding setting, routes and links are unchanged.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import time

import pytest

from .conftest import HOST_IP, POD_CIDR, SERVICE_CIDR, Lab, sh

pytestmark = pytest.mark.integration


def prepared(lab: Lab) -> dict:
    return lab.driver("prepare", service_cidr=SERVICE_CIDR)


def bridge_ports(lab: Lab) -> list[str]:
    out = lab.in_ns(lab.host, "ip", "-o", "link", "show", "master", "podplane0").stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if line.strip()]


def test_prepare_host_blocks_the_service_cidr_locally(lab):
    prep = prepared(lab)
    assert prep["service_route_installed"] is True
    assert "net.ipv4.ip_forward=1" in prep["changed_sysctls"]
    assert set(prep["plugins"]) == {"bridge", "portmap", "loopback"}
    route = lab.in_ns(lab.host, "ip", "route", "show", "exact", SERVICE_CIDR).stdout
    assert route.split()[:2] == ["unreachable", SERVICE_CIDR]
    assert lab.in_ns(lab.host, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "1"
    assert "default" not in lab.in_ns(lab.host, "ip", "route").stdout  # the lab has no way out
    # Idempotent.
    assert prepared(lab)["service_route_installed"] is False

    # From the node itself: refused at once, nothing is sent.
    start = time.monotonic()
    got = lab.fetch(lab.host, "http://10.43.0.10/", timeout=5)
    assert got.get("errno") == errno.EHOSTUNREACH, got
    assert time.monotonic() - start < 5

    # From a pod: the node answers with an ICMP error instead of forwarding it anywhere.
    lab.driver("setup", uid="svc-probe", name="probe", namespace="default")
    got = lab.fetch(lab.pod_ns("svc-probe"), "http://10.43.0.10/", timeout=5)
    assert got.get("errno") == errno.EHOSTUNREACH, got
    lab.driver("teardown", uid="svc-probe")


def test_two_pods_get_distinct_addresses_and_talk_over_tcp(lab):
    prepared(lab)
    a = lab.driver("setup", uid="pod-a", name="a", namespace="default")
    b = lab.driver("setup", uid="pod-b", name="b", namespace="default")
    net = ipaddress.ip_network(POD_CIDR)
    assert a["ip"] != b["ip"]
    assert {ipaddress.ip_address(a["ip"]), ipaddress.ip_address(b["ip"])} <= set(net.hosts())
    assert a["gateway"] == b["gateway"] == "10.244.77.1"
    assert a["netns_path"] == f"/var/run/netns/{lab.pod_ns('pod-a')}"
    assert os.path.exists(a["netns_path"])
    eth0 = lab.in_ns(lab.pod_ns("pod-a"), "ip", "-o", "-4", "addr", "show", "eth0").stdout
    assert f"{a['ip']}/24" in eth0
    lo = lab.in_ns(lab.pod_ns("pod-a"), "ip", "-o", "link", "show", "lo").stdout
    assert ",UP," in lo  # the loopback plugin brought it up
    assert len(bridge_ports(lab)) == 2

    with lab.http_server(lab.pod_ns("pod-a"), 8080, "hello from a"):
        got = lab.fetch(lab.pod_ns("pod-b"), f"http://{a['ip']}:8080/")
        assert got == {"status": 200, "body": "hello from a"}
        got = lab.fetch(lab.host, f"http://{a['ip']}:8080/")  # node → pod
        assert got == {"status": 200, "body": "hello from a"}
    lab.driver("check", uid="pod-a")  # CNI CHECK agrees
    lab.driver("teardown", uid="pod-a")
    lab.driver("teardown", uid="pod-b")


def test_host_port_through_portmap(lab):
    prepared(lab)
    pod = lab.driver(
        "setup", uid="web", name="web", namespace="shop", ports=[{"host_port": 18080, "container_port": 8080}]
    )
    assert pod["host_ports"] == [
        {"host_port": 18080, "container_port": 8080, "protocol": "tcp", "host_ip": ""}
    ]
    with lab.http_server(lab.pod_ns("web"), 8080, "via hostPort"):
        # From another machine (the client namespace) to the node's address.
        got = lab.fetch(lab.client, f"http://{HOST_IP}:18080/")
        assert got == {"status": 200, "body": "via hostPort"}
        # From the node itself.
        got = lab.fetch(lab.host, f"http://{HOST_IP}:18080/")
        assert got == {"status": 200, "body": "via hostPort"}
        # From the pod itself (hairpin through the bridge, masqueraded by portmap's snat).
        got = lab.fetch(lab.pod_ns("web"), f"http://{HOST_IP}:18080/")
        assert got == {"status": 200, "body": "via hostPort"}
    lab.driver("teardown", uid="web")
    rules = lab.in_ns(lab.host, "iptables-save", "-t", "nat").stdout
    assert "18080" not in rules and 'id: "web"' not in rules
    got = lab.fetch(lab.client, f"http://{HOST_IP}:18080/", timeout=2)
    assert got.get("errno") == errno.ECONNREFUSED, got  # the node itself answers: no mapping left


def test_teardown_removes_the_namespace_veth_and_address(lab):
    prepared(lab)
    a = lab.driver("setup", uid="pod-a", name="a", namespace="default")
    lab.driver("setup", uid="pod-b", name="b", namespace="default")
    lease = os.path.join(lab.data_dir, "network", "ipam", "podplane", a["ip"])
    cache = os.path.join(lab.data_dir, "network", "results", "podplane-pod-a-eth0.json")
    assert os.path.exists(lease) and os.path.exists(cache)
    assert len(bridge_ports(lab)) == 2

    lab.driver("teardown", uid="pod-a")
    assert not os.path.exists(a["netns_path"])
    assert len(bridge_ports(lab)) == 1
    assert not os.path.exists(lease) and not os.path.exists(cache)
    assert (
        'id: "pod-a"' not in lab.in_ns(lab.host, "iptables-save", "-t", "nat").stdout
    )  # masquerade rule gone
    assert lab.driver("status", uid="pod-a") is None
    lab.driver("teardown", uid="pod-a")  # idempotent
    lab.driver("teardown", uid="pod-b")
    assert bridge_ports(lab) == []
    assert [n for n in os.listdir("/var/run/netns") if n.startswith(lab.prefix)] == []


def test_adopt_and_delete_after_an_agent_restart(lab):
    prepared(lab)
    a = lab.driver("setup", uid="pod-a", name="a", namespace="ns1")
    with lab.http_server(lab.pod_ns("pod-a"), 8080, "still here"):
        # Every driver call is a new process: this one knows only the data dir, not even
        # the pod CIDR, like an agent that has just restarted.
        adopted = lab.driver("adopt", pod_cidr="")
        assert list(adopted) == ["pod-a"]
        assert adopted["pod-a"] == a
        assert lab.driver("status", uid="pod-a", pod_cidr="") == a
        assert lab.fetch(lab.host, f"http://{a['ip']}:8080/") == {"status": 200, "body": "still here"}
    lab.driver("teardown", uid="pod-a", pod_cidr="")
    assert not os.path.exists(a["netns_path"])
    assert bridge_ports(lab) == []
    assert not os.listdir(os.path.join(lab.data_dir, "network", "results"))


def test_delete_after_the_namespace_vanished_frees_the_address(lab):
    prepared(lab)
    a = lab.driver("setup", uid="pod-a", name="a", namespace="default")
    sh("ip", "netns", "delete", lab.pod_ns("pod-a"))  # someone else deleted it
    assert lab.driver("status", uid="pod-a") is None
    assert lab.driver("adopt") == {}
    lab.driver("teardown", uid="pod-a")
    assert not os.path.exists(os.path.join(lab.data_dir, "network", "ipam", "podplane", a["ip"]))
    b = lab.driver("setup", uid="pod-b", name="b", namespace="default")
    assert ipaddress.ip_address(b["ip"]) in ipaddress.ip_network(POD_CIDR)
    lab.driver("teardown", uid="pod-b")


def test_gc_tears_down_pods_that_no_longer_exist(lab):
    prepared(lab)
    a = lab.driver("setup", uid="pod-a", name="a", namespace="default")
    lab.driver("setup", uid="pod-b", name="b", namespace="default")
    assert lab.driver("gc", keep=["pod-a"]) == ["pod-b"]
    assert not os.path.exists(f"/var/run/netns/{lab.pod_ns('pod-b')}")
    assert len(bridge_ports(lab)) == 1
    with lab.http_server(lab.pod_ns("pod-a"), 8080, "kept"):
        assert lab.fetch(lab.host, f"http://{a['ip']}:8080/") == {"status": 200, "body": "kept"}
    assert lab.driver("gc", keep=[]) == ["pod-a"]
    assert bridge_ports(lab) == []


def test_concurrent_setup_and_teardown(lab):
    prepared(lab)
    uids = [f"pod-{i}" for i in range(8)]
    pods = lab.driver("setup_many", uids=uids)
    ips = [pods[u]["ip"] for u in uids]
    assert len(set(ips)) == len(uids)
    assert len(bridge_ports(lab)) == len(uids)
    slowest = max(p["seconds"] for p in pods.values())
    print(f"8 concurrent setups: slowest {slowest:.3f} s")
    with lab.http_server(lab.pod_ns("pod-0"), 8080, "zero"):
        assert lab.fetch(lab.pod_ns("pod-7"), f"http://{ips[0]}:8080/") == {"status": 200, "body": "zero"}
    lab.driver("teardown_many", uids=uids)
    assert bridge_ports(lab) == []
    leases = os.listdir(os.path.join(lab.data_dir, "network", "ipam", "podplane"))
    assert not [f for f in leases if f.startswith("10.")], leases  # every address given back
