"""ServiceProxy over seeded informer caches and `fake.FakeHost`: when the table is
replaced, what the transaction holds, routes, conntrack, restarts, failures, cleanup."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.proxy import CommandFailed, ServiceProxy, nft, rules
from podplane.proxy.conntrack import Flow
from podplane.proxy.fake import FakeHost
from podplane.proxy.routes import ROUTE_PROTO

from .builders import (
    DNS_IP,
    NODE,
    NODE_IP,
    SERVICE_CIDR,
    endpoint,
    endpoint_slice,
    node_object,
    port,
    service,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Env:
    def __init__(self, host: FakeHost | None = None, **kw) -> None:
        self.client = FakeClient()
        self.informers = InformerFactory(self.client)
        self.host = host or FakeHost()
        self.clock = Clock()
        self.rv = itertools.count(2)
        self.proxy = ServiceProxy(self.client, self.informers, node_name=NODE, node_ips=[NODE_IP],
                                  service_cidr=SERVICE_CIDR, cluster_dns_ip=DNS_IP, runner=self.host,
                                  clock=self.clock, **kw)
        self.state: dict[str, list[dict]] = {"services": [], "endpointslices": [], "nodes": [node_object()]}
        self.publish()

    def publish(self) -> None:
        for plural, informer in (("services", self.proxy.services), ("endpointslices", self.proxy.slices),
                                 ("nodes", self.proxy.nodes)):
            items = []
            for obj in self.state[plural]:
                obj = dict(obj, metadata=dict(obj["metadata"], resourceVersion=str(next(self.rv))))
                items.append(obj)
            informer.replace(items, str(next(self.rv)))

    def set(self, services=None, slices=None) -> None:
        if services is not None:
            self.state["services"] = services
        if slices is not None:
            self.state["endpointslices"] = slices
        self.publish()


def web(*ips: str, **spec):
    return [service("web", "10.43.0.20", **spec)], [endpoint_slice("web", *(endpoint(ip) for ip in ips))]


async def test_first_sync_replaces_the_table_in_one_transaction():
    env = Env()
    env.set(*web("10.244.1.11", "10.244.1.12"))
    result = await env.proxy.sync()
    assert result.changed and result.service_ports == 1 and result.endpoints == 2
    assert env.host.programs() == ["nft list", "nft -f", "ip -4", "ip -batch", "conntrack -L"]
    (text,) = env.host.transactions
    assert text.startswith("table ip podplane {}\ndelete table ip podplane\ntable ip podplane {\n")
    digest = env.proxy.compute().digest
    assert env.host.tables == {"podplane": digest}
    assert env.host.routes == {"10.43.0.20": "podplane0"}


async def test_unchanged_state_is_not_reapplied_and_changes_are():
    env = Env()
    env.set(*web("10.244.1.11"))
    await env.proxy.sync()
    env.host.calls.clear()
    env.set(*web("10.244.1.11"))  # new resourceVersions, same content
    result = await env.proxy.sync()
    assert not result.changed and env.host.calls == []
    env.set(*web("10.244.1.11", "10.244.1.12"))
    result = await env.proxy.sync()
    assert result.changed and len(env.host.transactions) == 2
    assert "nft -f" in env.host.programs() and "ip -batch" not in env.host.programs()  # same ClusterIPs


async def test_latency_from_first_change_to_live():
    env = Env()
    env.set(*web("10.244.1.11"))
    await env.proxy.sync()
    env.clock.now += 5.0
    env.set(*web("10.244.1.12"))  # the handlers note the first change at t0
    env.clock.now += 0.2
    env.set(*web("10.244.1.13"))  # later changes do not move t0
    env.clock.now += 0.1
    result = await env.proxy.sync()
    assert result.latency_seconds == pytest.approx(0.3)
    again = await env.proxy.sync()
    assert again.latency_seconds is None


async def test_resync_update_does_not_mark_dirty():
    env = Env()
    env.set(*web("10.244.1.11"))
    await env.proxy.sync()
    obj = env.proxy.services.list()[0]
    env.proxy._dirty.clear()
    env.proxy._updated(obj, obj)
    env.proxy._updated(obj, dict(obj))
    assert not env.proxy._dirty.is_set()
    env.proxy._updated(obj, dict(obj, metadata=dict(obj["metadata"], resourceVersion="999")))
    assert env.proxy._dirty.is_set()


async def test_restart_with_same_state_leaves_the_kernel_alone():
    env = Env()
    env.set(*web("10.244.1.11"))
    await env.proxy.sync()
    restarted = Env(host=env.host)
    restarted.set(*web("10.244.1.11"))
    env.host.calls.clear()
    result = await restarted.proxy.sync()
    assert not result.changed
    assert "nft -f" not in env.host.programs()
    assert env.host.programs()[0] == "nft list"


async def test_verify_reapplies_a_table_removed_behind_our_back():
    env = Env()
    env.set(*web("10.244.1.11"))
    await env.proxy.sync()
    env.host.tables.clear()
    assert not (await env.proxy.sync()).changed  # our record says it is current
    assert (await env.proxy.sync(verify=True)).changed
    assert env.host.tables == {"podplane": env.proxy.compute().digest}


async def test_affinity_entries_survive_a_reload():
    env = Env()
    spec = {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}
    env.set(*web("10.244.1.11", "10.244.1.12", **spec))
    await env.proxy.sync()
    names = sorted(env.proxy.compute().affinity_sets)
    env.host.affinity["podplane"] = {names[0]: [("10.244.1.50", 42)], "affinity-gone": [("10.244.1.51", 10)]}
    env.set(*web("10.244.1.11", "10.244.1.12", "10.244.1.13", **spec))
    await env.proxy.sync()
    last = env.host.transactions[-1]
    assert f"add element ip podplane {names[0]} {{ 10.244.1.50 timeout 60s expires 42s }}" in last
    assert "affinity-gone" not in last
    assert "nft -j" in env.host.programs()


def test_transaction_caps_expiry_at_the_new_timeout_and_drops_bad_addresses():
    rs = rules.Ruleset(table="podplane", text="table ip podplane {\n}\n", digest="0" * 64,
                       affinity_sets={"affinity-a": 30})
    text = nft.transaction(rs, {"affinity-a": [("10.0.0.1", 100), ("10.0.0.2 } flush", 5), ("10.0.0.3", 0)]})
    assert "add element ip podplane affinity-a { 10.0.0.1 timeout 30s expires 30s }" in text
    assert "flush" not in text and "10.0.0.3" not in text


async def test_routes_follow_cluster_ips_and_wait_for_the_bridge():
    env = Env(host=FakeHost(devices=()))
    env.set(*web("10.244.1.11"))
    result = await env.proxy.sync()
    assert result.changed and env.host.routes == {} and env.proxy._routed is None
    env.host.devices.add("podplane0")
    await env.proxy.sync(verify=True)  # the periodic check retries the routes
    assert env.host.routes == {"10.43.0.20": "podplane0"}
    services = [service("web", "10.43.0.20"), service("api", "10.43.0.21"),
                service("dns", DNS_IP), service("gone", "10.43.0.22")]
    env.set(services, [])
    result = await env.proxy.sync()
    assert env.host.routes == {ip: "podplane0" for ip in ("10.43.0.20", "10.43.0.21", "10.43.0.22")}
    env.set(services[:1], [])
    result = await env.proxy.sync()
    assert (result.routes_added, result.routes_removed) == (0, 2)
    assert env.host.routes == {"10.43.0.20": "podplane0"}
    batch = [text for argv, text in env.host.calls if argv[:2] == ("ip", "-batch")][-1]
    assert batch == (f"route del 10.43.0.21/32 proto {ROUTE_PROTO} table main\n"
                     f"route del 10.43.0.22/32 proto {ROUTE_PROTO} table main\n")


async def test_no_routes_without_a_route_device():
    env = Env(route_device=None)
    env.set(*web("10.244.1.11"))
    await env.proxy.sync()
    assert env.host.routes == {} and not any(argv[0] == "ip" for argv, _ in env.host.calls)


def flow(dst: str, dport: int, reply: str, src: str = "10.244.1.90", sport: int = 40000) -> Flow:
    return Flow(src, dst, sport, dport, reply, 5353)


async def test_stale_udp_flows_are_deleted_after_a_change():
    env = Env()
    dns = [service("dns2", "10.43.0.53", port(53, "dns", "UDP"))]
    slice_ports = [{"name": "dns", "port": 5353, "protocol": "UDP"}]
    env.set(dns, [endpoint_slice("dns2", endpoint("10.244.1.5"), endpoint("10.244.1.6"), ports=slice_ports)])
    await env.proxy.sync()
    keep = [flow("10.43.0.53", 53, "10.244.1.5"),
            flow(DNS_IP, 53, DNS_IP),  # the node-local DNS server: never DNATed, never touched
            flow("10.244.1.7", 53, "10.244.1.7")]  # pod to pod
    stale = [flow("10.43.0.53", 53, "10.244.1.6"), flow("10.43.0.53", 53, "10.244.1.6", sport=40001),
             flow("10.43.0.99", 53, "10.244.1.8")]  # a service IP nobody programs any more
    env.host.flows = keep + stale
    env.set(dns, [endpoint_slice("dns2", endpoint("10.244.1.5"), ports=slice_ports)])
    result = await env.proxy.sync()
    assert result.conntrack_deleted == 2  # two filters: (53, .6) and (.99, .8)
    assert env.host.flows == keep
    deletes = [argv for argv, _ in env.host.calls if argv[:2] == ("conntrack", "-D")]
    assert deletes[0] == ("conntrack", "-D", "-p", "udp", "--orig-dst", "10.43.0.53", "--orig-port-dst", "53",
                          "--reply-src", "10.244.1.6")


async def test_udp_nodeport_flows_to_removed_endpoints_are_deleted():
    env = Env()
    svc = [service("dns2", "10.43.0.53", port(53, "dns", "UDP", nodePort=30053), type="NodePort")]
    slice_ports = [{"name": "dns", "port": 5353, "protocol": "UDP"}]
    env.set(svc, [endpoint_slice("dns2", endpoint("10.244.1.5"), ports=slice_ports)])
    await env.proxy.sync()
    env.host.flows = [flow(NODE_IP, 30053, "10.244.1.5", src="198.18.0.2"),
                      flow("198.18.0.77", 30053, "10.244.1.5", src="198.18.0.2")]  # not a node address
    env.set(svc, [endpoint_slice("dns2", endpoint("10.244.1.6"), ports=slice_ports)])
    await env.proxy.sync()
    assert env.host.flows == [flow("198.18.0.77", 30053, "10.244.1.5", src="198.18.0.2")]


async def test_nft_failure_raises_with_stderr_and_keeps_pending_latency():
    env = Env()
    env.set(*web("10.244.1.11"))
    await env.proxy.sync()
    env.clock.now += 1
    env.set(*web("10.244.1.12"))
    env.host.fail_next("nft", "Error: Could not process rule: No space left on device")
    with pytest.raises(CommandFailed, match="No space left on device"):
        await env.proxy.sync(force=True)
    env.clock.now += 2
    result = await env.proxy.sync()
    assert result.changed and result.latency_seconds == pytest.approx(2.0)


async def test_conntrack_failure_is_retried_on_the_next_sync():
    env = Env()
    env.set(*web("10.244.1.11"))
    env.host.fail_next("conntrack", "conntrack: operation failed")
    with pytest.raises(CommandFailed):
        await env.proxy.sync()
    env.host.calls.clear()
    result = await env.proxy.sync()
    assert not result.changed and env.host.programs() == ["conntrack -L"]


async def test_cleanup_removes_table_and_routes_only():
    env = Env()
    env.set(*web("10.244.1.11"))
    await env.proxy.sync()
    await env.proxy.cleanup()
    assert env.host.tables == {} and env.host.routes == {}
    assert env.host.service_route == "unreachable"
    assert env.host.transactions[-1] == "table ip podplane {}\ndelete table ip podplane\n"
    await env.proxy.cleanup()  # idempotent


async def test_node_addresses_and_pod_cidr_come_from_the_node():
    env = Env()
    env.state["nodes"] = [node_object(ips=(NODE_IP, "192.168.60.10"), pod_cidr="10.244.9.0/24")]
    env.set(*web("10.244.9.11", type="NodePort", ports=[port(80, nodePort=30080)]))
    await env.proxy.sync()
    text = env.host.transactions[-1]
    assert "elements = { 192.168.50.10,\n\t\t\t     192.168.60.10 }" in text
    assert "ip saddr != { 10.244.9.0/24 } jump mark-for-masquerade" in text


async def test_run_programs_changes_and_warns_without_the_service_route(caplog):
    env = Env(host=FakeHost(service_route=""), min_sync_interval=0.0)
    env.set(*web("10.244.1.11"))
    task = asyncio.create_task(env.proxy.run())
    try:
        await _until(lambda: env.proxy.syncs == 1)
        assert "no local-only route for the service CIDR" in caplog.text
        env.set(*web("10.244.1.12"))
        await _until(lambda: env.proxy.syncs == 2)
        assert env.proxy.last_sync.changed and len(env.host.transactions) == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _until(condition, rounds: int = 2000) -> None:
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


def test_bad_configuration_fails_at_construction():
    with pytest.raises(ValueError):
        Env(table="bad name")


async def test_node_heartbeats_do_not_trigger_syncs():
    env = Env()
    await env.proxy.sync()
    node = env.proxy.nodes.get(None, NODE)
    beat = dict(node, metadata=dict(node["metadata"], resourceVersion="900"),
                status=dict(node["status"], conditions=[{"type": "Ready", "status": "True"}]))
    env.proxy._dirty.clear()
    env.proxy._node_updated(node, beat)
    assert not env.proxy._dirty.is_set()
    moved = dict(beat, status=dict(beat["status"], addresses=[{"type": "InternalIP", "address": "192.168.50.99"}]))
    env.proxy._node_updated(beat, moved)
    assert env.proxy._dirty.is_set()
