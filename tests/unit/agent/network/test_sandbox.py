"""PodNetwork: host preparation order, setup/teardown/adopt/gc against a fake host.

The fake host keeps namespaces as plain files, so `netns.is_live` (which checks for
an nsfs mount) is patched to "the file exists" here; the integration tests cover the
real thing.
"""

from __future__ import annotations

import os

import pytest

from podplane.agent.network import netns
from podplane.agent.network.cni import PortMapping
from podplane.agent.network.errors import CNIError, NetworkConfigError
from podplane.agent.network.sandbox import PodNetwork, SandboxNetwork, port_mappings_from_pod

from .fakehost import FakeHost, touch


@pytest.fixture
def host(tmp_path, monkeypatch):
    fake = FakeHost(str(tmp_path / "host"))
    monkeypatch.setattr(
        netns, "is_live", lambda name, netns_dir=fake.netns_dir: netns.exists(name, netns_dir)
    )
    return fake


def network(host: FakeHost, tmp_path, **kw) -> PodNetwork:
    kw.setdefault("pod_cidr", "10.244.1.0/24")
    return PodNetwork(
        str(tmp_path / "data"), cni_path=(host.cni_bin,), runner=host, netns_dir=host.netns_dir, **kw
    )


async def test_prepare_host_installs_the_service_route_first(host, tmp_path):
    net = network(host, tmp_path, pod_cidr="")
    prep = await net.prepare_host("10.43.0.0/16", "10.244.1.0/24")
    first_change = next(
        c for c in host.calls if c.argv[:2] == ("ip", "-4") and "replace" in c.argv or c.argv[1:2] == ("-w",)
    )
    assert first_change.argv == (
        "ip",
        "-4",
        "route",
        "replace",
        "unreachable",
        "10.43.0.0/16",
        "table",
        "main",
    )
    assert host.routes == {"10.43.0.0/16": "unreachable"}
    assert host.sysctls == {"net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": "1"}
    assert prep.service_route_installed and prep.bridge_netfilter
    assert prep.changed_sysctls == ("net.ipv4.ip_forward=1", "net.bridge.bridge-nf-call-iptables=1")
    assert set(prep.plugins) == {"loopback", "bridge", "portmap"}
    assert sorted(os.listdir(net.conf_dir)) == ["10-podplane.conflist", "99-loopback.conflist"]
    assert net.pod_cidr == "10.244.1.0/24"
    # Idempotent: nothing changes the second time.
    again = await net.prepare_host("10.43.0.0/16", "10.244.1.0/24")
    assert not again.service_route_installed and again.changed_sysctls == ()


async def test_prepare_host_without_br_netfilter(host, tmp_path):
    del host.sysctls["net.bridge.bridge-nf-call-iptables"]
    prep = await network(host, tmp_path).prepare_host("10.43.0.0/16")
    assert not prep.bridge_netfilter and prep.changed_sysctls == ("net.ipv4.ip_forward=1",)


@pytest.mark.parametrize(
    "service,pods",
    [
        pytest.param("10.43.0.0/16", "10.43.5.0/24", id="overlap"),
        pytest.param("10.43.0.0/33", "10.244.0.0/24", id="bad-service"),
        pytest.param("fd00::/108", "10.244.0.0/24", id="ipv6-service"),
    ],
)
async def test_prepare_host_rejects(host, tmp_path, service, pods):
    with pytest.raises(NetworkConfigError):
        await network(host, tmp_path).prepare_host(service, pods)
    assert host.routes == {}


async def test_setup_creates_namespace_and_attaches(host, tmp_path):
    net = network(host, tmp_path)
    sandbox = await net.setup("uid-1", "web", "default", [PortMapping(8080, 80)])
    assert sandbox == SandboxNetwork(
        netns_path=os.path.join(host.netns_dir, "pp-uid-1"),
        ip="10.244.1.2",
        gateway="10.244.1.1",
        pod_uid="uid-1",
        netns="pp-uid-1",
        prefix_length=24,
        interface="eth0",
        mac="cc:cc:cc:cc:cc:cc",
        pod_name="web",
        namespace="default",
        host_ports=(PortMapping(8080, 80),),
    )
    assert host.commands() == ["ip netns add pp-uid-1"]
    assert host.plugin_calls() == [
        ("loopback", "ADD", "lo"),
        ("bridge", "ADD", "eth0"),
        ("portmap", "ADD", "eth0"),
    ]
    add = host.calls[2]
    assert add.env["CNI_NETNS"] == sandbox.netns_path
    assert add.env["CNI_ARGS"] == (
        "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=uid-1;K8S_POD_UID=uid-1"
    )
    assert host.port_maps["uid-1/eth0"] == [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]
    assert await net.status("uid-1") == sandbox


async def test_setup_is_reentrant(host, tmp_path):
    net = network(host, tmp_path)
    first = await net.setup("uid-1", "web", "default")
    calls = len(host.calls)
    assert await net.setup("uid-1", "web", "default") == first
    assert len(host.calls) == calls


async def test_two_pods_get_distinct_addresses(host, tmp_path):
    net = network(host, tmp_path)
    a = await net.setup("uid-a", "a", "default")
    b = await net.setup("uid-b", "b", "default")
    assert a.ip != b.ip and {a.ip, b.ip} == {"10.244.1.2", "10.244.1.3"}


async def test_teardown_deletes_in_reverse_then_the_namespace(host, tmp_path):
    net = network(host, tmp_path)
    await net.setup("uid-1", "web", "default")
    host.calls.clear()
    await net.teardown("uid-1")
    assert host.plugin_calls() == [
        ("portmap", "DEL", "eth0"),
        ("bridge", "DEL", "eth0"),
        ("loopback", "DEL", "lo"),
    ]
    assert host.calls[0].env["CNI_NETNS"] == os.path.join(host.netns_dir, "pp-uid-1")
    assert host.commands() == ["ip netns delete pp-uid-1"]
    assert host.leases == {}
    assert await net.status("uid-1") is None
    assert os.listdir(net.cache_dir) == []
    host.calls.clear()
    await net.teardown("uid-1")  # idempotent and cheap: nothing left to do
    assert host.calls == []


async def test_teardown_after_the_namespace_vanished_still_frees_the_address(host, tmp_path):
    net = network(host, tmp_path)
    await net.setup("uid-1", "web", "default")
    os.unlink(os.path.join(host.netns_dir, "pp-uid-1"))
    assert await net.status("uid-1") is None
    await net.teardown("uid-1")
    assert [c.env["CNI_NETNS"] for c in host.calls if c.command == "DEL"] == ["", "", ""]
    assert host.leases == {}


async def test_failed_teardown_keeps_the_namespace_for_the_retry(host, tmp_path):
    net = network(host, tmp_path)
    await net.setup("uid-1", "web", "default")
    host.fail[("bridge", "DEL")] = (1, {"code": 999, "msg": "device busy"})
    with pytest.raises(CNIError, match="device busy"):
        await net.teardown("uid-1")
    assert netns.exists("pp-uid-1", host.netns_dir)
    del host.fail[("bridge", "DEL")]
    await net.teardown("uid-1")
    assert os.listdir(host.netns_dir) == []


async def test_failed_setup_cleans_up(host, tmp_path):
    host.fail[("bridge", "ADD")] = (1, {"code": 999, "msg": "no IP addresses available in range set"})
    net = network(host, tmp_path)
    with pytest.raises(CNIError, match="no IP addresses"):
        await net.setup("uid-1", "web", "default")
    assert os.listdir(host.netns_dir) == []
    assert os.listdir(net.cache_dir) == []
    assert host.leases == {}


async def test_setup_clears_the_remains_of_an_interrupted_attempt(host, tmp_path):
    net = network(host, tmp_path)
    await net.setup("uid-1", "web", "default")
    os.unlink(os.path.join(host.netns_dir, "pp-uid-1"))  # e.g. a reboot or someone's `ip netns delete`
    host.calls.clear()
    sandbox = await net.setup("uid-1", "web", "default")
    assert host.plugin_calls()[:3] == [
        ("portmap", "DEL", "eth0"),
        ("bridge", "DEL", "eth0"),
        ("loopback", "DEL", "lo"),
    ]
    assert host.plugin_calls()[3:] == [
        ("loopback", "ADD", "lo"),
        ("bridge", "ADD", "eth0"),
        ("portmap", "ADD", "eth0"),
    ]
    assert await net.status("uid-1") == sandbox


async def test_adopt_after_restart_then_teardown(host, tmp_path):
    before = network(host, tmp_path)
    a = await before.setup("uid-a", "a", "ns1", [PortMapping(8080, 80)])
    b = await before.setup("uid-b", "b", "ns2")
    os.unlink(os.path.join(host.netns_dir, "pp-uid-b"))  # b's namespace did not survive
    after = network(host, tmp_path, pod_cidr="")  # a restarted agent, pod CIDR not known yet
    adopted = await after.adopt()
    assert adopted == {"uid-a": a}
    assert b.ip not in {n.ip for n in adopted.values()}
    await after.teardown("uid-a")  # works before prepare_host: the cache has the configuration
    assert "uid-a/eth0" not in host.leases and "uid-a/eth0" not in host.port_maps
    assert await after.gc([]) == ["uid-b"]  # b: cached but no namespace
    assert host.leases == {}


async def test_gc_tears_down_everything_not_kept(host, tmp_path):
    net = network(host, tmp_path)
    await net.setup("uid-a", "a", "default")
    await net.setup("uid-b", "b", "default")
    touch(os.path.join(host.netns_dir, "pp-uid-c"))  # namespace without CNI state
    touch(os.path.join(host.netns_dir, "someone-else"))
    assert await net.gc(["uid-a"]) == ["uid-b", "uid-c"]
    assert sorted(os.listdir(host.netns_dir)) == ["pp-uid-a", "someone-else"]
    assert list(host.leases) == ["uid-a/eth0"]


async def test_setup_without_pod_cidr(host, tmp_path):
    with pytest.raises(NetworkConfigError, match="no pod CIDR"):
        await network(host, tmp_path, pod_cidr="").setup("uid-1", "web", "default")


@pytest.mark.parametrize("uid", ["../x", "", "a/b"])
async def test_invalid_uid(host, tmp_path, uid):
    with pytest.raises(NetworkConfigError):
        await network(host, tmp_path).setup(uid, "web", "default")


def container(*ports, **extra):
    return {"name": "c", "ports": list(ports), **extra}


@pytest.mark.parametrize(
    "spec,want",
    [
        pytest.param({"containers": [container({"containerPort": 80})]}, [], id="no-host-port"),
        pytest.param(
            {"containers": [container({"containerPort": 80, "hostPort": 8080})]},
            [PortMapping(8080, 80, "tcp")],
            id="tcp-default",
        ),
        pytest.param(
            {
                "containers": [
                    container({"containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "10.0.0.1"})
                ]
            },
            [PortMapping(53, 53, "udp", "10.0.0.1")],
            id="udp-host-ip",
        ),
        pytest.param(
            {
                "containers": [
                    container({"containerPort": 80, "hostPort": 80}),
                    container({"containerPort": 81, "hostPort": 80}),
                ],
                "initContainers": [
                    container({"containerPort": 90, "hostPort": 9090}, restartPolicy="Always"),
                    container({"containerPort": 91, "hostPort": 9191}),
                ],
            },
            [PortMapping(80, 80), PortMapping(9090, 90)],
            id="dedupe-and-sidecars",
        ),
        pytest.param(
            {"hostNetwork": True, "containers": [container({"containerPort": 80, "hostPort": 80})]},
            [],
            id="host-network",
        ),
    ],
)
def test_port_mappings_from_pod(spec, want):
    assert port_mappings_from_pod({"spec": spec}) == want


async def test_teardown_of_a_namespace_without_cache_before_the_pod_cidr_is_known(host, tmp_path):
    prepared = network(host, tmp_path)
    await prepared.prepare_host("10.43.0.0/16")  # writes the node's conflist
    touch(os.path.join(host.netns_dir, "pp-uid-x"))  # a namespace whose cache entry was lost
    restarted = network(host, tmp_path, pod_cidr="")
    host.calls.clear()
    assert await restarted.gc([]) == ["uid-x"]
    assert host.plugin_calls() == [("portmap", "DEL", "eth0"), ("bridge", "DEL", "eth0")]
    assert os.listdir(host.netns_dir) == []
