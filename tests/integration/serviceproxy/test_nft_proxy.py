"""The Service proxy on real nftables, with real traffic, inside the lab's namespaces
(conftest.py): ClusterIP over TCP and UDP, endpoint removal and stale UDP flows, no
endpoints, NodePort from a remote client, hairpin, session affinity, external traffic
policy Local, node-originated traffic, restarts that keep flows, and cleanup."""

from __future__ import annotations

import asyncio
import collections
import subprocess

import pytest

from podplane.proxy.routes import ROUTE_PROTO

from .conftest import (
    BACKENDS,
    CLIENT_IP,
    GATEWAY,
    NODE_IP,
    PODS,
    SERVICE_CIDR,
    Lab,
    endpoint_slice,
    names,
    service,
)

pytestmark = pytest.mark.integration


async def test_clusterip_tcp_reaches_all_backends_and_stops_at_removed_ones(lab: Lab):
    h = lab.proxy()
    h.publish([service("web", "10.43.0.20")], [endpoint_slice("web", BACKENDS)])
    result = await h.proxy.sync()
    assert result.changed and result.endpoints == 3
    counts = collections.Counter(names(lab.probe(lab.ns("c1"), "tcp", "10.43.0.20", 80, 60)))
    assert set(counts) == {"b1", "b2", "b3"}, counts
    assert all(n >= 5 for n in counts.values()), counts  # random mod 3: ~20 each

    # node-originated traffic: through the proxy's /32 route and nat-output
    from_node = names(lab.probe(lab.node, "tcp", "10.43.0.20", 80, 6))
    assert set(from_node) <= {"b1", "b2", "b3"} and len(from_node) == 6, from_node
    assert f"10.43.0.20 dev podplane0 proto {ROUTE_PROTO}" in lab.node_routes()

    h.publish([service("web", "10.43.0.20")], [endpoint_slice("web", ["b1", "b2"])])
    assert (await h.proxy.sync()).changed
    after = collections.Counter(names(lab.probe(lab.ns("c1"), "tcp", "10.43.0.20", 80, 30)))
    assert set(after) == {"b1", "b2"}, after


async def test_unprogrammed_addresses_fail_fast_and_stay_local(lab: Lab):
    h = lab.proxy()
    h.publish([service("web", "10.43.0.21")], [endpoint_slice("web", ["b1"])])
    await h.proxy.sync()
    # a programmed ClusterIP on a port without a Service port: rejected (not sent to the bridge)
    (wrong_port,) = lab.probe(lab.ns("c1"), "tcp", "10.43.0.21", 81, 1)
    assert wrong_port["errno"] == "ECONNREFUSED" and wrong_port["ms"] < 500, wrong_port
    (node_wrong_port,) = lab.probe(lab.node, "tcp", "10.43.0.21", 81, 1)
    assert node_wrong_port["errno"] == "ECONNREFUSED", node_wrong_port
    # an address no Service has: the agent's unreachable route answers
    (unknown,) = lab.probe(lab.ns("c1"), "tcp", "10.43.0.99", 80, 1)
    assert unknown["errno"] == "EHOSTUNREACH" and unknown["ms"] < 500, unknown
    (node_unknown,) = lab.probe(lab.node, "tcp", "10.43.0.99", 80, 1)
    assert node_unknown["errno"] == "EHOSTUNREACH", node_unknown


async def test_service_without_endpoints_is_refused_fast(lab: Lab):
    h = lab.proxy()
    h.publish([service("empty", "10.43.0.22")], [endpoint_slice("empty", [])])
    await h.proxy.sync()
    for ns in (lab.ns("c1"), lab.node):
        results = lab.probe(ns, "tcp", "10.43.0.22", 80, 3)
        assert all(r.get("errno") == "ECONNREFUSED" and r["ms"] < 500 for r in results), (ns, results)


async def test_udp_service_and_stale_flows_are_flushed(lab: Lab):
    h = lab.proxy()
    svc = service("dns2", "10.43.0.53", 53, "UDP")
    h.publish([svc], [endpoint_slice("dns2", BACKENDS, port=5353, protocol="UDP")])
    await h.proxy.sync()
    seen = collections.Counter()
    for sport in range(41000, 41030):  # a new flow per source port
        (r,) = lab.probe(lab.ns("c1"), "udp", "10.43.0.53", 53, 1, sport)
        seen[r.get("name", r.get("errno"))] += 1
    assert set(seen) == {"b1", "b2", "b3"}, seen

    # one flow (one source port) sticks to its endpoint through conntrack ...
    first = names(lab.probe(lab.ns("c1"), "udp", "10.43.0.53", 53, 5, 42000))
    assert len(set(first)) == 1, first
    pinned = first[0]
    # ... until that endpoint leaves the slice: its flow is deleted and the next
    # datagram of the same flow is balanced over the remaining ones
    rest = [b for b in BACKENDS if b != pinned]
    h.publish([svc], [endpoint_slice("dns2", rest, port=5353, protocol="UDP")])
    result = await h.proxy.sync()
    assert result.conntrack_deleted >= 1
    again = names(lab.probe(lab.ns("c1"), "udp", "10.43.0.53", 53, 5, 42000))
    assert pinned not in again and len(set(again)) == 1, again
    listed = lab.in_ns(lab.node, "conntrack", "-L", "-p", "udp", "--orig-dst", "10.43.0.53").stdout
    assert f"src={PODS[pinned]}" not in listed, listed


async def test_nodeport_from_a_remote_client(lab: Lab):
    h = lab.proxy()
    svc = service("np", "10.43.0.30", type="NodePort", ports=[{"name": "p", "port": 80, "nodePort": 30080}])
    h.publish([svc], [endpoint_slice("np", BACKENDS)])
    await h.proxy.sync()
    results = lab.probe(lab.cli, "tcp", NODE_IP, 30080, 30)
    assert set(names(results)) == {"b1", "b2", "b3"}, results
    # policy Cluster: masqueraded to the node's bridge address so replies come back here
    assert {r["peer"] for r in results} == {GATEWAY}


async def test_external_traffic_policy_local_keeps_the_client_address(lab: Lab):
    h = lab.proxy()
    svc = service("local", "10.43.0.31", type="NodePort", externalTrafficPolicy="Local",
                  ports=[{"name": "p", "port": 80, "nodePort": 30081}])
    # b2 and b3 claim to run on another node: only b1 is local
    h.publish([svc], [endpoint_slice("local", BACKENDS, remote=("b2", "b3"))])
    await h.proxy.sync()
    results = lab.probe(lab.cli, "tcp", NODE_IP, 30081, 15)
    assert {(r["name"], r["peer"]) for r in results} == {("b1", CLIENT_IP)}, results
    # pod traffic to the NodePort short-circuits to all endpoints
    from_pod = lab.probe(lab.ns("c1"), "tcp", NODE_IP, 30081, 30)
    assert set(names(from_pod)) == {"b1", "b2", "b3"}, from_pod
    # no local endpoint: external traffic is dropped (times out), as upstream
    h.publish([svc], [endpoint_slice("local", BACKENDS, remote=BACKENDS)])
    await h.proxy.sync()
    (dropped,) = lab.probe(lab.cli, "tcp", NODE_IP, 30081, 1, 0.5)
    assert dropped["errno"] == "ETIMEDOUT", dropped


async def test_hairpin_a_backend_reaches_itself(lab: Lab):
    h = lab.proxy()
    h.publish([service("self", "10.43.0.32")], [endpoint_slice("self", ["b1"])])
    await h.proxy.sync()
    results = lab.probe(lab.ns("b1"), "tcp", "10.43.0.32", 80, 5)
    # masqueraded (mark + masquerade): b1 sees the bridge address, not its own
    assert {(r.get("name"), r.get("peer")) for r in results} == {("b1", GATEWAY)}, results


async def test_session_affinity_client_ip_sticks(lab: Lab):
    h = lab.proxy()
    svc = service("sticky", "10.43.0.33", sessionAffinity="ClientIP",
                  sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})
    h.publish([svc], [endpoint_slice("sticky", BACKENDS)])
    await h.proxy.sync()
    first = names(lab.probe(lab.ns("c1"), "tcp", "10.43.0.33", 80, 20))
    assert len(set(first)) == 1 and first[0] in BACKENDS, first
    # an unrelated change replaces the table; the affinity entry is carried over
    h.publish([svc, service("other", "10.43.0.34")], [endpoint_slice("sticky", BACKENDS)])
    assert (await h.proxy.sync()).changed
    again = names(lab.probe(lab.ns("c1"), "tcp", "10.43.0.33", 80, 10))
    assert set(again) == {first[0]}, (first[0], again)


async def test_restart_keeps_established_flows_and_cleanup_removes_everything(lab: Lab):
    h = lab.proxy()
    svc = service("echo", "10.43.0.40", ports=[{"name": "p", "port": 80}])
    h.publish([svc], [endpoint_slice("echo", ["b2"], port=8081)])
    await h.proxy.sync()
    holder = lab.holder(lab.ns("c1"), "10.43.0.40", 80)
    try:
        def say(text: str) -> str:
            holder.stdin.write(text + "\n")
            holder.stdin.flush()
            return holder.stdout.readline().strip()

        assert say("one") == f"b2 {PODS['c1']} one"
        # a restarted proxy with the same state leaves the kernel alone ...
        restarted = lab.proxy()
        restarted.publish([svc], [endpoint_slice("echo", ["b2"], port=8081)])
        lab.commands.clear()
        result = await restarted.proxy.sync()
        assert not result.changed and ("nft", "-f", "-") not in lab.commands
        assert say("two") == f"b2 {PODS['c1']} two"
        # ... and even a forced replacement of the whole table keeps the flow
        assert (await restarted.proxy.sync(force=True)).changed
        assert say("three") == f"b2 {PODS['c1']} three"
    finally:
        holder.stdin.close()
        try:
            holder.wait(timeout=10)
        except subprocess.TimeoutExpired:
            holder.kill()

    assert "table ip podplane" in lab.nft_tables()
    await restarted.proxy.cleanup()
    assert "podplane" not in lab.nft_tables()
    routes = lab.node_routes()
    assert f"proto {ROUTE_PROTO}" not in routes
    assert f"unreachable {SERVICE_CIDR}" in routes  # the agent's route is never touched
    (gone,) = lab.probe(lab.ns("c1"), "tcp", "10.43.0.40", 80, 1)
    assert gone["errno"] == "EHOSTUNREACH", gone


async def test_run_loop_programs_a_slice_change(lab: Lab):
    h = lab.proxy(min_sync_interval=0.05)
    h.publish([service("live", "10.43.0.50")], [endpoint_slice("live", [])])
    task = asyncio.create_task(h.proxy.run())
    try:
        for _ in range(200):
            if h.proxy.syncs:
                break
            await asyncio.sleep(0.02)
        h.publish([service("live", "10.43.0.50")], [endpoint_slice("live", ["b3"])])
        for _ in range(200):
            if h.proxy.last_sync and h.proxy.last_sync.endpoints == 1:
                break
            await asyncio.sleep(0.02)
        assert h.proxy.last_sync.latency_seconds is not None and h.proxy.last_sync.latency_seconds < 2
        assert names(lab.probe(lab.ns("c1"), "tcp", "10.43.0.50", 80, 3)) == ["b3"] * 3
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await h.proxy.cleanup()
