"""Node IPAM controller: pod CIDR blocks handed to Nodes, never twice, exhaustion reported."""

from __future__ import annotations

import asyncio

import pytest

from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.controllers.manager import ControllerContext
from podplane.controllers.nodeipam import new
from podplane.settings import ControllerSettings


def node(name: str, cidr: str = "") -> dict:
    spec = {"podCIDR": cidr, "podCIDRs": [cidr]} if cidr else {}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "uid": f"uid-{name}"}, "spec": spec}


def controller(*nodes: dict, cidr: str = "10.42.0.0/16", mask: int = 24):
    client = FakeClient()
    info = client.resource("", "nodes")
    informers = InformerFactory(client)
    ctrl = new(ControllerContext(client, informers, ControllerSettings(cluster_cidr=cidr, node_cidr_mask_size=mask)))
    for n in nodes:
        client.seed(info, n)
        ctrl.nodes._apply("ADDED", n)
    return client, info, ctrl


async def test_assigns_lowest_free_block_and_skips_used_ones():
    client, info, ctrl = controller(node("a", "10.42.0.0/24"), node("b"), node("fake", "10.244.0.0/24"))
    await ctrl.sync("b")
    stored = client.stored(info, "b")
    assert stored["spec"]["podCIDR"] == "10.42.1.0/24"
    assert stored["spec"]["podCIDRs"] == ["10.42.1.0/24"]
    assert client.verbs() == ["patch nodes"]


async def test_never_hands_out_one_block_twice_before_the_cache_catches_up():
    client, info, ctrl = controller(node("x"), node("y"))
    await ctrl.sync("x")
    await ctrl.sync("y")  # the informer has not seen x's block yet
    assert client.stored(info, "x")["spec"]["podCIDR"] == "10.42.0.0/24"
    assert client.stored(info, "y")["spec"]["podCIDR"] == "10.42.1.0/24"


async def test_node_with_a_cidr_is_left_alone():
    client, _, ctrl = controller(node("a", "10.42.7.0/24"))
    await ctrl.sync("a")
    await ctrl.sync("gone")
    assert client.verbs() == []


async def test_exhausted_range_records_cidr_not_available_once():
    client, info, ctrl = controller(node("a", "10.42.0.0/25"), node("b", "10.42.0.128/25"), node("c"),
                                    cidr="10.42.0.0/24", mask=25)
    await ctrl.sync("c")
    await ctrl.sync("c")
    await asyncio.sleep(0.05)  # events are recorded in the background
    assert "podCIDR" not in client.stored(info, "c")["spec"]
    events = [a for a in client.actions if a.verb == "create" and a.resource == "events"]
    assert len(events) == 1
    assert events[0].obj["reason"] == "CIDRNotAvailable"


def test_mask_must_fit_the_cluster_cidr():
    with pytest.raises(ValueError, match="does not fit"):
        controller(cidr="10.42.0.0/24", mask=16)


async def test_blocks_wider_or_narrower_than_the_mask_count_as_used():
    # a /23 covers blocks 0 and 1; a /26 inside block 2 makes all of block 2 unusable
    client, info, ctrl = controller(node("a", "10.42.0.0/23"), node("b", "10.42.2.64/26"), node("c"))
    await ctrl.sync("c")
    assert client.stored(info, "c")["spec"]["podCIDR"] == "10.42.3.0/24"


async def test_ipv6_cluster_cidr():
    client, info, ctrl = controller(node("a", "fd00:42::/64"), node("b"), cidr="fd00:42::/56", mask=64)
    await ctrl.sync("b")
    assert client.stored(info, "b")["spec"]["podCIDR"] == "fd00:42:0:1::/64"


async def test_many_nodes_on_an_exhausted_range_stay_cheap():
    # 1,000 Nodes on a range of 256 blocks: each sync of a waiting node looks at every
    # Node's CIDR; it must not test every block against every CIDR (seconds per sync).
    nodes = [node(f"n{i}", f"10.42.{i}.0/24") for i in range(256)] + [node(f"w{i}") for i in range(744)]
    client, info, ctrl = controller(*nodes)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(100):
        await ctrl.sync(f"w{i}")
    assert loop.time() - start < 2.0
    assert "podCIDR" not in client.stored(info, "w0")["spec"]
