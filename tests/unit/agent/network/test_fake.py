"""FakePodNetwork: the PodNetwork API without host I/O, for pod worker tests."""

from __future__ import annotations

import pytest

from podplane.agent.network import CNIError, FakePodNetwork, NetworkConfigError, PodNetworkAPI, PortMapping


def test_implements_the_protocol():
    api: PodNetworkAPI = FakePodNetwork()
    assert api is not None


async def test_setup_allocates_like_host_local():
    net = FakePodNetwork("10.244.2.0/29")  # .2 - .6 usable
    a = await net.setup("a", "pa", "default", [PortMapping(80, 8080)])
    b = await net.setup("b", "pb", "default")
    assert (a.ip, a.gateway, a.prefix_length, a.netns_path) == (
        "10.244.2.2",
        "10.244.2.1",
        29,
        "/var/run/netns/pp-a",
    )
    assert b.ip == "10.244.2.3"
    assert a.host_ports == (PortMapping(80, 8080),)
    assert await net.setup("a", "pa", "default") is a  # re-entrant
    await net.teardown("a")
    c = await net.setup("c", "pc", "default")
    assert c.ip == "10.244.2.4"  # round-robin: a's address is not reused at once
    assert await net.status("a") is None and await net.status("c") == c


async def test_exhaustion_and_injected_failures():
    net = FakePodNetwork("10.244.2.0/30")  # one pod address
    await net.setup("a", "pa", "default")
    with pytest.raises(CNIError, match="no IP addresses available"):
        await net.setup("b", "pb", "default")
    net.fail_next("teardown", CNIError("bridge", "DEL", 999, "busy"))
    with pytest.raises(CNIError, match="busy"):
        await net.teardown("a")
    await net.teardown("a")
    assert ("teardown", "a") in net.calls


async def test_prepare_adopt_gc():
    net = FakePodNetwork("")
    with pytest.raises(NetworkConfigError):
        await net.setup("a", "pa", "default")
    prep = await net.prepare_host("10.43.0.0/16", "10.244.9.0/24")
    assert prep.service_route_installed and net.pod_cidr == "10.244.9.0/24"
    await net.setup("a", "pa", "default")
    await net.setup("b", "pb", "default")
    assert set(await net.adopt()) == {"a", "b"}
    assert await net.gc(["a"]) == ["b"]
    assert set(net.networks) == {"a"}
