"""Addresses of simulated nodes and pods: blocks, reuse on restart, allocation."""

from __future__ import annotations

import pytest

from podplane.agent.addresses import (
    PodIPAllocator,
    assign_blocks,
    block_of,
    node_internal_ip,
    node_names,
    pod_cidr,
)


@pytest.mark.parametrize("block,cidr,ip", [
    (0, "10.244.0.0/24", "127.1.0.1"),
    (257, "10.245.1.0/24", "127.1.1.8"),
    (3071, "10.255.255.0/24", "127.1.12.72"),
    (3072, "100.64.0.0/24", "127.1.12.73"),
])
def test_blocks_map_to_unrouted_ranges(block, cidr, ip):
    assert pod_cidr(block) == cidr and block_of(cidr) == block
    assert node_internal_ip(block) == ip


def test_block_of_ignores_foreign_cidrs():
    assert block_of("192.168.0.0/24") is None and block_of("10.244.0.0/16") is None and block_of("") is None


def test_node_names():
    assert node_names("worker", 1) == ["worker"]
    assert node_names("sim", 3) == ["sim-0", "sim-1", "sim-2"]


def test_assign_blocks_reuses_existing_nodes_and_skips_taken_blocks():
    existing = {"sim-1": "10.244.5.0/24", "other": "10.244.0.0/24", "foreign": "192.168.1.0/24"}
    assert assign_blocks(["sim-0", "sim-1", "sim-2"], existing) == {"sim-0": 1, "sim-1": 5, "sim-2": 2}


def test_allocator_round_robin_skips_gateway_and_reuses_late():
    ips = PodIPAllocator("10.244.3.0/24")
    first, second = ips.allocate(), ips.allocate()
    assert (first, second) == ("10.244.3.2", "10.244.3.3")
    ips.release(first)
    assert ips.allocate() == "10.244.3.4", "a freed address is not handed out again at once"
    ips.reserve("10.244.3.5")
    assert ips.allocate() == "10.244.3.6"
    assert len(ips) == 4


def test_allocator_reports_a_full_block():
    ips = PodIPAllocator("10.244.0.0/30")  # network, .1 gateway, .2 pod, .3 broadcast
    assert ips.allocate() == "10.244.0.2"
    assert ips.allocate() is None
