"""Cluster DNS server on 127.0.0.1 (random port): real UDP and TCP queries with dnspython,
forwarding to a fake upstream resolver this test starts on 127.0.0.1, SERVFAIL when it is
down, truncation, EDNS, malformed input, and the local-route helpers with a fake runner.
No query ever leaves the loopback interface."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

import dns.asyncquery
import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype as T
import dns.rrset
import pytest

from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.proxy.dns import (
    EDNS_PAYLOAD,
    ClusterDNS,
    RouteError,
    ensure_local_route,
    parse_upstream,
    remove_local_route,
    resolv_conf_upstreams,
)

from .test_dnsrecords import SERVICES, SLICES, endpoint, eps, headless, namespace

LOOPBACK = "127.0.0.1"
Z = "cluster.local."
BIG = 60  # endpoints of the "wide" headless Service: more than 512 bytes, less than 1232


# ---------------------------------------------------------------------------------- fake upstream

class FakeUpstream(asyncio.DatagramProtocol):
    """A resolver on 127.0.0.1: example.org/example.com → 192.0.2.x, big.example → 100 A
    (truncated over UDP), anything else NXDOMAIN; `silent` never answers."""

    def __init__(self, silent: bool = False) -> None:
        self.silent = silent
        self.seen: list[tuple[str, str]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> FakeUpstream:
        loop = asyncio.get_running_loop()
        for attempt in range(20):  # a free UDP port whose TCP twin is free too
            self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(LOOPBACK, 0))
            self.port = self.transport.get_extra_info("sockname")[1]
            try:
                self.server = await asyncio.start_server(self._tcp, LOOPBACK, self.port)
                return self
            except OSError:
                self.transport.close()
                if attempt == 19:
                    raise
        return self

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    async def stop(self) -> None:
        assert self.transport is not None and self.server is not None
        self.transport.close()
        self.server.close()
        await self.server.wait_closed()

    def answer(self, wire: bytes, proto: str) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        self.seen.append((proto, question.name.to_text()))
        if self.silent:
            return None
        reply = dns.message.make_response(query, recursion_available=True)
        name = question.name.to_text().lower()
        if question.rdtype == T.A and name in ("example.org.", "example.com."):
            last = "1" if name == "example.org." else "10"
            reply.answer.append(dns.rrset.from_text(question.name, 300, "IN", "A", f"192.0.2.{last}"))
        elif question.rdtype == T.A and name == "big.example.":
            reply.answer.append(dns.rrset.from_text_list(question.name, 300, "IN", "A",
                                                         [f"198.51.100.{i}" for i in range(1, 101)]))
        else:
            reply.set_rcode(dns.rcode.NXDOMAIN)
        size = (query.payload if query.edns >= 0 else 512) if proto == "udp" else 65535
        return reply.to_wire(max_size=size, prefer_truncation=True)

    def datagram_received(self, data: bytes, addr) -> None:
        reply = self.answer(data, "udp")
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            size = int.from_bytes(await reader.readexactly(2), "big")
            reply = self.answer(await reader.readexactly(size), "tcp")
            if reply is not None:
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------- fixtures

def seeded_factory() -> InformerFactory:
    factory = InformerFactory(FakeClient())
    return factory


def seed(factory: InformerFactory) -> None:
    wide = eps("wide-x", "wide", *(endpoint(f"10.42.7.{i}") for i in range(1, BIG + 1)))
    factory.resource("", "services").replace([*SERVICES, headless("wide")], "1")
    factory.resource("discovery.k8s.io", "endpointslices").replace([*SLICES, wide], "1")
    factory.resource("", "namespaces").replace([namespace("ns")], "1")


@pytest.fixture
async def upstream():
    fake = await FakeUpstream().start()
    yield fake
    await fake.stop()


async def start_server(upstreams: list[str], **kw) -> ClusterDNS:
    factory = InformerFactory(FakeClient())
    server = ClusterDNS(factory, listen=(LOOPBACK, 0), upstreams=upstreams, forward_timeout=0.3,
                        clock=lambda: 1_800_000_000.0, **kw)
    seed(factory)
    await server.start()
    return server


@pytest.fixture
async def server(upstream):
    srv = await start_server([upstream.address])
    yield srv
    await srv.stop()


@dataclass
class Asker:
    port: int

    async def __call__(self, name: str, rdtype: str = "A", *, tcp: bool = False, **make) -> dns.message.Message:
        q = dns.message.make_query(name, rdtype, **make)
        if tcp:
            return await dns.asyncquery.tcp(q, LOOPBACK, timeout=3, port=self.port)
        return await dns.asyncquery.udp(q, LOOPBACK, timeout=3, port=self.port)


@pytest.fixture
def ask(server) -> Asker:
    return Asker(server.address[1])


def records(reply: dns.message.Message, section: str = "answer") -> list[str]:
    return sorted(f"{r.name.to_text()} {T.to_text(r.rdtype)} {rd.to_text()}" for r in getattr(reply, section) for rd in r)


# ---------------------------------------------------------------------------------- cluster names

@pytest.mark.parametrize("tcp", [pytest.param(False, id="udp"), pytest.param(True, id="tcp")])
async def test_service_a(ask, tcp):
    reply = await ask(f"web.ns.svc.{Z}", tcp=tcp)
    assert reply.rcode() == dns.rcode.NOERROR
    assert records(reply) == [f"web.ns.svc.{Z} A 10.43.0.5"]
    assert reply.flags & dns.flags.AA and reply.flags & dns.flags.RA and reply.flags & dns.flags.RD


async def test_nxdomain_carries_the_soa(ask):
    reply = await ask(f"nope.ns.svc.{Z}")
    assert reply.rcode() == dns.rcode.NXDOMAIN and reply.answer == []
    assert records(reply, "authority") == [f"{Z} SOA ns.dns.{Z} hostmaster.{Z} 1800000000 7200 1800 86400 5"]


async def test_aaaa_of_an_ipv4_service_is_nodata(ask):
    reply = await ask(f"web.ns.svc.{Z}", "AAAA")
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer == []
    assert [r.rdtype for r in reply.authority] == [T.SOA]


async def test_srv_with_additional_addresses(ask):
    reply = await ask(f"_web._tcp.nginx.ns.svc.{Z}", "SRV", use_edns=0)
    assert records(reply) == [f"_web._tcp.nginx.ns.svc.{Z} SRV 0 33 8080 web-0.nginx.ns.svc.{Z}",
                              f"_web._tcp.nginx.ns.svc.{Z} SRV 0 33 8080 web-1.nginx.ns.svc.{Z}"]
    assert records(reply, "additional") == [f"web-0.nginx.ns.svc.{Z} A 10.42.0.7", f"web-1.nginx.ns.svc.{Z} A 10.42.1.8"]


async def test_ptr(ask):
    reply = await ask("7.0.42.10.in-addr.arpa.", "PTR")
    assert records(reply) == [f"7.0.42.10.in-addr.arpa. PTR web-0.nginx.ns.svc.{Z}"]


async def test_name_case_is_kept(ask):
    reply = await ask("Web.NS.Svc.Cluster.Local.")
    assert [r.name.to_text() for r in reply.answer] == ["Web.NS.Svc.Cluster.Local."]
    assert reply.question[0].name.to_text() == "Web.NS.Svc.Cluster.Local."


async def test_kept_replies_follow_cache_events(server, ask):
    name = f"web.ns.svc.{Z}"
    assert records(await ask(name)) == [f"{name} A 10.43.0.5"]
    assert records(await ask(name)) == [f"{name} A 10.43.0.5"]  # from the reply cache
    assert len(server._replies) == 1
    moved = next(s for s in SERVICES if s["metadata"]["name"] == "web")
    moved = {**moved, "spec": {**moved["spec"], "clusterIP": "10.43.0.55", "clusterIPs": ["10.43.0.55"]}}
    server.records.services._apply("MODIFIED", moved)
    assert records(await ask(name)) == [f"{name} A 10.43.0.55"]


async def test_kept_replies_are_per_query_bytes(ask):
    # same name, different id / EDNS / transport: every reply matches its own query
    for kw in ({}, {"use_edns": 0}, {"use_edns": 0, "payload": 4096}, {"tcp": True}, {}):
        reply = await ask(f"web.ns.svc.{Z}", **kw)
        assert records(reply) == [f"web.ns.svc.{Z} A 10.43.0.5"]
        assert reply.edns == (0 if "use_edns" in kw else -1)


async def test_addresses_of_headless_services_are_shuffled(server, ask):
    orders = {tuple(rd.address for rd in (await ask(f"wide.ns.svc.{Z}", tcp=True)).answer[0]) for _ in range(4)}
    assert len(orders) > 1 and all(len(o) == BIG for o in orders)
    assert not server._replies  # shuffled answers are never kept


# ---------------------------------------------------------------------------------- sizes and EDNS

async def test_large_udp_answer_is_truncated_without_edns_and_complete_over_tcp(ask):
    short = await ask(f"wide.ns.svc.{Z}")
    assert short.flags & dns.flags.TC
    full = await ask(f"wide.ns.svc.{Z}", tcp=True)
    assert not full.flags & dns.flags.TC and len(full.answer[0]) == BIG


async def test_edns_payload_allows_a_larger_udp_answer(ask):
    reply = await ask(f"wide.ns.svc.{Z}", use_edns=0, payload=4096)
    assert not reply.flags & dns.flags.TC and len(reply.answer[0]) == BIG
    assert reply.edns == 0 and reply.payload == EDNS_PAYLOAD


async def test_edns_version_above_zero_is_badvers(ask):
    reply = await ask(f"web.ns.svc.{Z}", use_edns=1)
    assert reply.rcode() == dns.rcode.BADVERS


async def test_no_edns_in_no_edns_out(ask):
    reply = await ask(f"web.ns.svc.{Z}")
    assert reply.edns == -1


# ---------------------------------------------------------------------------------- forwarding

@pytest.mark.parametrize("tcp", [pytest.param(False, id="udp"), pytest.param(True, id="tcp")])
async def test_other_names_are_forwarded(ask, upstream, tcp):
    reply = await ask("example.org.", tcp=tcp)
    assert records(reply) == ["example.org. A 192.0.2.1"]
    assert not reply.flags & dns.flags.AA  # the upstream's answer, not ours
    assert upstream.seen == [("tcp" if tcp else "udp", "example.org.")]


async def test_upstream_nxdomain_is_passed_on(ask):
    assert (await ask("nothing.example.")).rcode() == dns.rcode.NXDOMAIN


async def test_truncated_upstream_answer_is_retried_over_tcp(ask, upstream):
    udp = await ask("big.example.")
    # the upstream truncated its 512-byte UDP answer, the server got all 100 records over TCP,
    # then had to cut them to the client's 512 bytes
    assert ("udp", "big.example.") in upstream.seen and ("tcp", "big.example.") in upstream.seen
    assert udp.flags & dns.flags.TC
    full = await ask("big.example.", tcp=True)
    assert len(full.answer[0]) == 100


async def test_reverse_names_outside_our_ranges_are_forwarded(ask, upstream):
    reply = await ask("1.2.0.192.in-addr.arpa.", "PTR")
    assert reply.rcode() == dns.rcode.NXDOMAIN and not reply.flags & dns.flags.AA
    assert upstream.seen == [("udp", "1.2.0.192.in-addr.arpa.")]


async def test_reverse_names_in_our_ranges_are_not_forwarded(ask, upstream):
    reply = await ask("99.0.43.10.in-addr.arpa.", "PTR")
    assert reply.rcode() == dns.rcode.NXDOMAIN and reply.flags & dns.flags.AA
    assert upstream.seen == []


async def test_externalname_target_is_resolved_upstream(ask, upstream):
    reply = await ask(f"ext.ns.svc.{Z}")
    assert [T.to_text(r.rdtype) for r in reply.answer] == ["CNAME", "A"]
    assert records(reply) == ["example.com. A 192.0.2.10", f"ext.ns.svc.{Z} CNAME example.com."]
    assert reply.flags & dns.flags.AA
    assert upstream.seen == [("udp", "example.com.")]


async def test_servfail_when_the_upstream_is_down():
    server = await start_server([f"{LOOPBACK}:{free_port()}"])
    try:
        reply = await Asker(server.address[1])("example.org.")
        assert reply.rcode() == dns.rcode.SERVFAIL
        # the CNAME of an ExternalName still comes back when its target cannot be resolved
        reply = await Asker(server.address[1])(f"ext.ns.svc.{Z}")
        assert records(reply) == [f"ext.ns.svc.{Z} CNAME example.com."]
    finally:
        await server.stop()


async def test_servfail_without_upstreams():
    server = await start_server([])
    try:
        assert (await Asker(server.address[1])("example.org.")).rcode() == dns.rcode.SERVFAIL
    finally:
        await server.stop()


async def test_a_silent_upstream_is_skipped_and_remembered(upstream):
    silent = await FakeUpstream(silent=True).start()
    server = await start_server([silent.address, upstream.address])
    try:
        ask = Asker(server.address[1])
        assert records(await ask("example.org.")) == ["example.org. A 192.0.2.1"]
        assert records(await ask("example.com.")) == ["example.com. A 192.0.2.10"]
        assert len(silent.seen) == 1  # the second query went to the resolver that answered
    finally:
        await server.stop()
        await silent.stop()


async def test_too_many_forwarded_queries_are_refused(upstream):
    server = await start_server([upstream.address], max_concurrent_forwards=0)
    try:
        ask = Asker(server.address[1])
        assert (await ask("example.org.")).rcode() == dns.rcode.REFUSED
        assert (await ask(f"web.ns.svc.{Z}")).rcode() == dns.rcode.NOERROR  # local answers never wait
    finally:
        await server.stop()


# ---------------------------------------------------------------------------------- odd input

async def raw_udp(port: int, payload: bytes, wait: float = 2.0) -> bytes:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect((LOOPBACK, port))
        await loop.sock_sendall(sock, payload)
        return await asyncio.wait_for(loop.sock_recv(sock, 65535), wait)


async def test_malformed_query_gets_formerr(server):
    q = dns.message.make_query(f"web.ns.svc.{Z}", "A")
    q.id = 0x1234
    wire = q.to_wire()[:-3]  # cut inside the question
    reply = dns.message.from_wire(await raw_udp(server.address[1], wire))
    assert reply.id == 0x1234 and reply.rcode() == dns.rcode.FORMERR


async def test_responses_are_never_answered(server):
    reply = dns.message.make_response(dns.message.make_query(f"web.ns.svc.{Z}", "A"))
    with pytest.raises(TimeoutError):
        await raw_udp(server.address[1], reply.to_wire(), wait=0.3)
    # the server is still fine
    assert (await Asker(server.address[1])(f"web.ns.svc.{Z}")).rcode() == dns.rcode.NOERROR


async def test_other_opcodes_are_not_implemented(server):
    q = dns.message.make_query(Z, "SOA")
    q.set_opcode(dns.opcode.NOTIFY)
    reply = dns.message.from_wire(await raw_udp(server.address[1], q.to_wire()))
    assert reply.rcode() == dns.rcode.NOTIMP


async def test_zone_transfers_are_refused(ask):
    assert (await ask(Z, "AXFR", tcp=True)).rcode() == dns.rcode.REFUSED


async def test_tcp_connection_carries_several_queries(server, upstream):
    reader, writer = await asyncio.open_connection(LOOPBACK, server.address[1])
    try:
        queries = {}
        for name in ("example.org.", f"web.ns.svc.{Z}"):
            q = dns.message.make_query(name, "A")
            queries[q.id] = name
            writer.write(q.to_wire(prepend_length=True))
        await writer.drain()
        got = {}
        for _ in queries:
            size = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), 3), "big")
            reply = dns.message.from_wire(await reader.readexactly(size))
            got[reply.id] = records(reply)
        assert got == {i: [f"{queries[i]} A {'192.0.2.1' if queries[i] == 'example.org.' else '10.43.0.5'}"]
                       for i in queries}
    finally:
        writer.close()
        await writer.wait_closed()


async def test_servfail_before_the_caches_synced():
    factory = InformerFactory(FakeClient())
    server = ClusterDNS(factory, listen=(LOOPBACK, 0), upstreams=[])
    await server.start()
    try:
        assert (await Asker(server.address[1])(f"web.ns.svc.{Z}")).rcode() == dns.rcode.SERVFAIL
    finally:
        await server.stop()


# ---------------------------------------------------------------------------------- lifecycle

async def test_binds_an_address_no_interface_has():
    # IP_FREEBIND: the server can listen on the cluster DNS IP before any route exists.
    # 192.0.2.53 (TEST-NET-1) is on no interface; nothing is sent to it.
    server = ClusterDNS(InformerFactory(FakeClient()), listen=("192.0.2.53", 0), upstreams=[])
    await server.start()
    try:
        assert server.address is not None and server.address[0] == "192.0.2.53" and server.address[1] > 0
    finally:
        await server.stop()


async def test_binds_an_ipv6_address_no_interface_has():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    server = ClusterDNS(InformerFactory(FakeClient()), listen=("2001:db8::53", 0), upstreams=[])
    await server.start()
    try:
        assert server.address is not None and server.address[0] == "2001:db8::53"
    finally:
        await server.stop()


async def test_stop_releases_the_port(upstream):
    server = await start_server([upstream.address])
    port = server.address[1]
    await server.stop()
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((LOOPBACK, port))


async def test_default_upstreams_come_from_resolv_conf(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example\nnameserver 192.0.2.1\nnameserver 127.0.0.1\n")
    server = ClusterDNS(InformerFactory(FakeClient()), listen=(LOOPBACK, 0), resolv_conf=str(conf))
    await server.start()
    try:
        assert server.forwarder.upstreams == [("192.0.2.1", 53)]  # our own address is dropped
    finally:
        await server.stop()


@pytest.mark.parametrize(("text", "exclude", "expected"), [
    pytest.param("nameserver 10.0.0.2\nnameserver 10.0.0.3\n", (), ["10.0.0.2", "10.0.0.3"], id="plain"),
    pytest.param("nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n", (), ["127.0.0.53"],
                 id="systemd-resolved-stub-is-kept"),
    pytest.param("nameserver 10.43.0.10\nnameserver 10.0.0.2\n", ("10.43.0.10",), ["10.0.0.2"], id="not-ourselves"),
    pytest.param("# nameserver 10.0.0.9\nnameserver 10.0.0.2 # office\n;x\n", (), ["10.0.0.2"], id="comments"),
    pytest.param("nameserver fe80::1%eth0\nnameserver 10.0.0.2\nnameserver 10.0.0.2\n", (),
                 ["fe80::1", "10.0.0.2"], id="zone-index-and-duplicates"),
    pytest.param("nameserver bogus\nnameserver 0.0.0.0\n", (), [], id="garbage"),
])
def test_resolv_conf_upstreams(text, exclude, expected):
    assert resolv_conf_upstreams(text, exclude=exclude) == expected


@pytest.mark.parametrize(("spec", "expected"), [
    pytest.param("10.0.0.2", ("10.0.0.2", 53), id="address"),
    pytest.param("127.0.0.1:5353", ("127.0.0.1", 5353), id="with-port"),
    pytest.param("fd00::2", ("fd00::2", 53), id="ipv6"),
    pytest.param("[fd00::2]:5353", ("fd00::2", 5353), id="ipv6-with-port"),
])
def test_parse_upstream(spec, expected):
    assert parse_upstream(spec) == expected


@pytest.mark.parametrize("spec", ["dns.example", "10.0.0.2:0", "10.0.0.2:x"])
def test_parse_upstream_rejects(spec):
    with pytest.raises(ValueError):
        parse_upstream(spec)


# ---------------------------------------------------------------------------------- the local route

@dataclass
class Done:
    returncode: int = 0
    stderr: bytes = b""


class FakeRunner:
    def __init__(self, *results: Done) -> None:
        self.results = list(results)
        self.argv: list[tuple[str, ...]] = []

    async def __call__(self, argv):
        self.argv.append(tuple(argv))
        return self.results.pop(0) if self.results else Done()


async def test_ensure_local_route():
    runner = FakeRunner()
    await ensure_local_route("10.43.0.10", runner)
    assert runner.argv == [("ip", "-4", "route", "replace", "local", "10.43.0.10/32", "dev", "lo", "table", "local")]


async def test_ensure_local_route_ipv6():
    runner = FakeRunner()
    await ensure_local_route("fd00:43::a", runner)
    assert runner.argv == [("ip", "-6", "route", "replace", "local", "fd00:43::a/128", "dev", "lo", "table", "local")]


async def test_ensure_local_route_checks_the_exit_status():
    with pytest.raises(RouteError, match="Operation not permitted"):
        await ensure_local_route("10.43.0.10", FakeRunner(Done(2, b"RTNETLINK answers: Operation not permitted\n")))


async def test_remove_local_route():
    runner = FakeRunner()
    await remove_local_route("10.43.0.10", runner)
    assert runner.argv == [("ip", "-4", "route", "del", "local", "10.43.0.10/32", "dev", "lo", "table", "local")]
    await remove_local_route("10.43.0.10", FakeRunner(Done(2, b"RTNETLINK answers: No such process\n")))
    with pytest.raises(RouteError):
        await remove_local_route("10.43.0.10", FakeRunner(Done(255, b"Error: something else\n")))
