"""Cluster DNS server: UDP and TCP on the cluster DNS address, answers from the caches,
the rest forwarded to the node's resolvers.

Flow for one query: parse it (dnspython) → `ClusterRecords.lookup` (the pure part,
`podplane.proxy.dnsrecords`) answers cluster names and the reverse zones of the
Service/Pod ranges at once, without awaiting → anything else goes to `Forwarder`, which
asks the upstreams one after another over UDP (TCP when the answer is truncated, or
when the client came over TCP) with a timeout each, and SERVFAILs when none answers.
An ExternalName's CNAME target outside the cluster is resolved the same way and
appended, as CoreDNS does. UDP answers are cut to the client's EDNS size (512 without
EDNS, never above 1232) with TC set, so the client retries over TCP. Addresses of a
multi-address answer (a headless Service) are shuffled per reply, like CoreDNS's
`loadbalance` plugin, so clients that take the first one spread over the endpoints.

Replies from the caches are a function of the query's bytes after its ID and of the
cache contents, so they are kept by those bytes (`reply_cache` entries) until the next
informer event: a repeated query costs a dict lookup instead of dnspython's parse,
lookup and render (~0.4 ms). Shuffled and forwarded answers are not kept.

The cluster DNS IP (10.43.0.10) belongs to no interface: the sockets bind with
IP_FREEBIND, so the server starts before or without the address, and the composition
root makes the kernel deliver packets for it locally with `ensure_local_route` (an
`ip route replace local <ip>/32 dev lo table local`) and removes it with
`remove_local_route` on shutdown. Neighbours: `podplane.client.informer` (the caller's
InformerFactory, on which ClusterDNS registers its informers) and the node composition
root, which starts the factory, the server and the route.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from podplane.client.informer import InformerFactory
from podplane.proxy.dnsrecords import Answer, ClusterRecords

__all__ = [
    "EDNS_PAYLOAD",
    "BindError",
    "ClusterDNS",
    "ClusterDNSError",
    "ForwardError",
    "Forwarder",
    "Overloaded",
    "RouteError",
    "ensure_local_route",
    "parse_upstream",
    "remove_local_route",
    "resolv_conf_upstreams",
]

log = logging.getLogger(__name__)

EDNS_PAYLOAD = 1232
"""Largest UDP answer, and the EDNS size we advertise: the DNS Flag Day 2020 value,
which fits any path MTU without IP fragmentation."""
IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)
IPV6_FREEBIND = getattr(socket, "IPV6_FREEBIND", 78)
_TCP_BIND_ATTEMPTS = 8


class ClusterDNSError(Exception):
    """Base of the cluster DNS errors."""


class BindError(ClusterDNSError):
    """The server could not listen on its address (permanent until reconfigured)."""


class RouteError(ClusterDNSError):
    """`ip route` failed to add or remove the local route for the cluster DNS IP."""


class ForwardError(ClusterDNSError):
    """No upstream answered in time (temporary: the client gets SERVFAIL)."""


class Overloaded(ForwardError):
    """Too many forwarded queries in flight (the client gets REFUSED, as with CoreDNS's
    max_concurrent)."""


# -- the local route --------------------------------------------------------------------------

class CommandResult(Protocol):
    returncode: int
    stderr: bytes


Runner = Callable[[Sequence[str]], Awaitable[CommandResult]]
"""Runs a host program and returns its exit status; the agent's `_command.run` fits."""


def _route_argv(verb: str, ip: str) -> tuple[str, ...]:
    addr = ipaddress.ip_address(ip)
    bits = 32 if addr.version == 4 else 128
    return ("ip", f"-{addr.version}", "route", verb, "local", f"{addr}/{bits}", "dev", "lo", "table", "local")


async def ensure_local_route(ip: str, runner: Runner) -> None:
    """Deliver packets for `ip` to local sockets, without putting the address on an
    interface (the composition root calls this once the server listens)."""
    argv = _route_argv("replace", ip)
    done = await runner(argv)
    if done.returncode != 0:
        raise RouteError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode(errors='replace').strip()}")


async def remove_local_route(ip: str, runner: Runner) -> None:
    """The inverse of `ensure_local_route`; a route that is already gone is fine."""
    argv = _route_argv("del", ip)
    done = await runner(argv)
    err = done.stderr.decode(errors="replace").strip()
    if done.returncode != 0 and "No such process" not in err:
        raise RouteError(f"{' '.join(argv)} failed ({done.returncode}): {err}")


# -- upstreams ----------------------------------------------------------------------------------

def parse_upstream(spec: str) -> tuple[str, int]:
    """"10.0.0.2", "10.0.0.2:5353", "fd00::2" or "[fd00::2]:5353" → (address, port)."""
    spec = spec.strip()
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 53
    elif spec.count(":") == 1:
        host, port_text = spec.split(":")
        port = int(port_text)
    else:
        host, port = spec, 53
    ipaddress.ip_address(host)  # upstreams are addresses: resolving a name here could recurse
    if not 0 < port < 65536:
        raise ValueError(f"bad port in upstream {spec!r}")
    return host, port


def resolv_conf_upstreams(text: str, *, exclude: Sequence[str] = ()) -> list[str]:
    """The `nameserver` addresses of a resolv.conf, minus `exclude` (our own address:
    forwarding to ourselves would loop).

    Loopback resolvers (systemd-resolved's 127.0.0.53, a local dnsmasq) are kept on
    purpose. They would not work from a pod, but pods never see this list: the
    forwarder runs in the node's own network namespace, where they are the node's real
    resolver (with its split DNS and cache). In a network namespace without them (test
    clusters) they time out and the client gets SERVFAIL, and traffic stays local.
    """
    skip = {str(ipaddress.ip_address(e)) for e in exclude}
    found: list[str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver":
            addr = words[1].split("%", 1)[0]  # drop an IPv6 zone index
            try:
                ip = str(ipaddress.ip_address(addr))
            except ValueError:
                continue
            if ip not in skip and ip not in found and ip not in ("0.0.0.0", "::"):
                found.append(ip)
    return found


class Forwarder:
    """Asks upstream resolvers, one after another, starting with the last one that
    answered (so a dead first resolver costs its timeout once, not on every query)."""

    def __init__(self, upstreams: Sequence[str], *, timeout: float = 2.0, max_concurrent: int = 1000) -> None:
        self.upstreams = [parse_upstream(u) for u in upstreams]
        self.timeout = timeout
        self.max_concurrent = max_concurrent
        self._preferred = 0
        self._inflight = 0
        self._warned = -1e9

    async def resolve(self, query: dns.message.Message, *, tcp: bool = False) -> dns.message.Message:
        """The first upstream answer to `query` (its id is changed while asking and put
        back); UDP first unless `tcp`, then TCP when the UDP answer is truncated."""
        if not self.upstreams:
            raise ForwardError("no upstream resolvers configured")
        if self._inflight >= self.max_concurrent:
            raise Overloaded(f"{self._inflight} forwarded queries in flight")
        self._inflight += 1
        client_id = query.id
        try:
            n = len(self.upstreams)
            for i in range(n):
                index = (self._preferred + i) % n
                host, port = self.upstreams[index]
                query.id = random.randrange(0x10000)  # a fresh id per attempt, unguessable off-path
                try:
                    if tcp:
                        answer = await dns.asyncquery.tcp(query, host, self.timeout, port)
                    else:
                        answer = await dns.asyncquery.udp(query, host, self.timeout, port, ignore_unexpected=True)
                        if answer.flags & dns.flags.TC:
                            answer = await dns.asyncquery.tcp(query, host, self.timeout, port)
                except (OSError, EOFError, dns.exception.DNSException) as e:
                    log.debug("upstream %s:%d failed for %s: %r", host, port, query.question, e)
                    continue
                self._preferred = index
                answer.id = client_id
                return answer
            error = ForwardError(f"no answer from {', '.join(f'{h}:{p}' for h, p in self.upstreams)}")
            if time.monotonic() - self._warned > 60:  # say it, but not for every query
                self._warned = time.monotonic()
                log.warning("cluster DNS: %s within %.1f s each; answering SERVFAIL", error, self.timeout)
            raise error
        finally:
            query.id = client_id
            self._inflight -= 1


# -- the server -----------------------------------------------------------------------------

def _formerr(wire: bytes) -> bytes | None:
    """FORMERR for a message we could not parse, built from its header; None for
    something too short or itself a response (never answer those: reflection loops)."""
    if len(wire) < 12:
        return None
    flags = int.from_bytes(wire[2:4], "big")
    if flags & dns.flags.QR:
        return None
    reply = dns.message.Message(id=int.from_bytes(wire[:2], "big"))
    reply.flags = dns.flags.QR | (flags & (0x7800 | dns.flags.RD))  # keep the opcode and RD
    reply.set_rcode(dns.rcode.FORMERR)
    return reply.to_wire()


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, server: ClusterDNS) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.server._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("cluster DNS: UDP error %r", exc)


class ClusterDNS:
    """The cluster DNS server of a node.

    `informers` is the caller's factory: the constructor registers the Services,
    EndpointSlices and Namespaces informers (and Pods with `pod_mode="verified"`) and the
    caller starts it. `listen` may use port 0 (tests); `address` is the bound one after
    `start()`. `upstreams` default to the nameservers of `resolv_conf` (read at start),
    see `resolv_conf_upstreams`. `ttl` is CoreDNS's default 5 s; `reverse_cidrs` are the
    Service and Pod ranges whose reverse names the server owns (an unknown address there
    is NXDOMAIN, elsewhere the PTR query is forwarded); `clock` (wall time) stamps the SOA
    serial. `forward_timeout` is per upstream try; `tcp_idle_timeout` closes idle TCP
    connections (CoreDNS: 10 s); `reply_cache` bounds the replies kept between cache
    events (10,000 of ~100 bytes: about 2 MB; 0 disables it).
    """

    def __init__(self, informers: InformerFactory, *, cluster_domain: str = "cluster.local",
                 listen: tuple[str, int] = ("10.43.0.10", 53), upstreams: Sequence[str] | None = None,
                 ttl: int = 5, clock: Callable[[], float] = time.time,
                 reverse_cidrs: Sequence[str] = ("10.43.0.0/16", "10.42.0.0/16"), pod_mode: str = "insecure",
                 forward_timeout: float = 2.0, max_concurrent_forwards: int = 1000,
                 resolv_conf: str = "/etc/resolv.conf", tcp_idle_timeout: float = 10.0,
                 reply_cache: int = 10_000) -> None:
        host = str(ipaddress.ip_address(listen[0]))
        self.listen = (host, int(listen[1]))
        own = [] if ipaddress.ip_address(host).is_unspecified else [host]
        self.records = ClusterRecords.from_informers(
            informers, cluster_domain=cluster_domain, ttl=ttl, reverse_cidrs=reverse_cidrs, pod_mode=pod_mode,
            nameservers=own, clock=clock)
        self._upstreams = list(upstreams) if upstreams is not None else None
        self._resolv_conf = resolv_conf
        self.forward_timeout = forward_timeout
        self.max_concurrent_forwards = max_concurrent_forwards
        self.tcp_idle_timeout = tcp_idle_timeout
        self.forwarder = Forwarder([], timeout=forward_timeout, max_concurrent=max_concurrent_forwards)
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_protocol: _UDP | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self.address: tuple[str, int] | None = None
        self.reply_cache = reply_cache
        self._replies: dict[bytes, bytes] = {}
        self._replies_generation = -1

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        upstreams = self._upstreams
        if upstreams is None:
            try:
                text = await asyncio.to_thread(Path(self._resolv_conf).read_text)
            except OSError as e:
                log.warning("cluster DNS: cannot read %s (%s); names outside the cluster will fail",
                            self._resolv_conf, e)
                text = ""
            upstreams = resolv_conf_upstreams(text, exclude=[self.listen[0]])
        self.forwarder = Forwarder(upstreams, timeout=self.forward_timeout, max_concurrent=self.max_concurrent_forwards)
        udp_sock, tcp_sock = self._bind()
        loop = asyncio.get_running_loop()
        try:
            self._udp, self._udp_protocol = await loop.create_datagram_endpoint(lambda: _UDP(self), sock=udp_sock)
            self._tcp = await asyncio.start_server(self._tcp_client, sock=tcp_sock)
        except BaseException:
            udp_sock.close()
            tcp_sock.close()
            if self._udp is not None:
                self._udp.close()
            raise
        self.address = udp_sock.getsockname()[:2]
        log.info("cluster DNS listening on %s:%d (udp, tcp) for %s, forwarding to %s", *self.address,
                 self.records.zone.to_text(), ", ".join(upstreams) or "nobody")

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        host, port = self.listen
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        for attempt in range(_TCP_BIND_ATTEMPTS if port == 0 else 1):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            tcp = socket.socket(family, socket.SOCK_STREAM)
            try:
                for sock in (udp, tcp):
                    _freebind(sock, family)
                    sock.setblocking(False)
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                udp.bind((host, port))
                tcp.bind((host, udp.getsockname()[1]))  # the same port for both, as clients expect
                tcp.listen(256)
                return udp, tcp
            except OSError as e:
                udp.close()
                tcp.close()
                if port == 0 and attempt + 1 < _TCP_BIND_ATTEMPTS:
                    continue  # the random UDP port was taken for TCP: pick another
                raise BindError(f"cluster DNS cannot listen on {host}:{port}: {e}") from e
        raise AssertionError("unreachable")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._udp_protocol is not None:
            await self._udp_protocol.closed  # the socket is closed one loop iteration later
            self._udp_protocol = None
        if self._tcp is not None:
            await self._tcp.wait_closed()
            self._tcp = None

    def _spawn(self, coro: Awaitable) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- transports ------------------------------------------------------------------------
    def _on_datagram(self, wire: bytes, addr: tuple) -> None:
        reply = self._respond_safely(wire, udp=True)
        if isinstance(reply, bytes):
            if self._udp is not None:
                self._udp.sendto(reply, addr)
        elif reply is not None:
            self._spawn(self._send_later(reply, addr))

    async def _send_later(self, reply: Awaitable[bytes], addr: tuple) -> None:
        try:
            wire = await reply
        except Exception:
            log.exception("cluster DNS: forwarding failed unexpectedly")
            return
        if self._udp is not None:
            self._udp.sendto(wire, addr)

    def _respond_safely(self, wire: bytes, *, udp: bool) -> bytes | Awaitable[bytes] | None:
        try:
            return self.respond(wire, udp=udp)
        except Exception:  # a bug must cost one answer, not the listener
            log.exception("cluster DNS: cannot answer a query")
            return None

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        me = asyncio.current_task()
        if me is not None:
            self._tasks.add(me)
        pending: set[asyncio.Task] = set()
        try:
            while True:
                try:
                    size = await asyncio.wait_for(reader.readexactly(2), self.tcp_idle_timeout)
                    wire = await asyncio.wait_for(reader.readexactly(int.from_bytes(size, "big")),
                                                  self.tcp_idle_timeout)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    break
                reply = self._respond_safely(wire, udp=False)
                if isinstance(reply, bytes):
                    writer.write(len(reply).to_bytes(2, "big") + reply)
                    await writer.drain()
                elif reply is not None:  # answers may go out of order (RFC 7766)
                    task = asyncio.ensure_future(self._write_later(reply, writer))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        except ConnectionError:
            pass
        finally:
            for task in pending:
                task.cancel()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if me is not None:
                self._tasks.discard(me)

    @staticmethod
    async def _write_later(reply: Awaitable[bytes], writer: asyncio.StreamWriter) -> None:
        try:
            wire = await reply
        except Exception:
            log.exception("cluster DNS: forwarding failed unexpectedly")
            return
        writer.write(len(wire).to_bytes(2, "big") + wire)
        await writer.drain()

    # -- one query -----------------------------------------------------------------------
    def respond(self, wire: bytes, *, udp: bool) -> bytes | Awaitable[bytes] | None:
        """The reply to one message: bytes when the caches answer it at once, an
        awaitable when it goes upstream, None when it is to be dropped."""
        if self._replies_generation != self.records.generation:
            self._replies.clear()
            self._replies_generation = self.records.generation
        key = wire[2:] + (b"u" if udp else b"t")
        kept = self._replies.get(key)
        if kept is not None:
            return wire[:2] + kept
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # any malformed input: dnspython raises many kinds
            return _formerr(wire)
        if query.flags & dns.flags.QR:
            return None
        if query.opcode() != dns.opcode.QUERY:
            return self._error(query, dns.rcode.NOTIMP, udp)
        if len(query.question) != 1:
            return self._error(query, dns.rcode.FORMERR, udp)
        if query.edns > 0:
            return self._error(query, dns.rcode.BADVERS, udp)
        question = query.question[0]
        ours = self.records.is_cluster_name(question.name)
        if question.rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR) or (
                ours and question.rdclass != dns.rdataclass.IN):
            return self._error(query, dns.rcode.REFUSED, udp)
        answer = self.records.lookup(question.name, question.rdtype) \
            if question.rdclass == dns.rdataclass.IN else None
        if answer is None:
            return self._forward(query, udp)
        if answer.chase is not None:
            return self._chase(query, answer, udp)
        shuffled = _shuffle(answer)
        reply = self._render(self._reply(query, answer), query, udp)
        if self.reply_cache and answer.authoritative and not shuffled:
            if len(self._replies) >= self.reply_cache:
                del self._replies[next(iter(self._replies))]  # the oldest
            self._replies[key] = reply[2:]
        return reply

    @staticmethod
    def _reply(query: dns.message.Message, answer: Answer) -> dns.message.Message:
        reply = dns.message.make_response(query, recursion_available=True, our_payload=EDNS_PAYLOAD)
        reply.set_rcode(answer.rcode)
        if answer.authoritative:
            reply.flags |= dns.flags.AA
        reply.answer = answer.answer
        reply.authority = answer.authority
        reply.additional = answer.additional
        return reply

    @staticmethod
    def _render(reply: dns.message.Message, query: dns.message.Message, udp: bool) -> bytes:
        size = 65535
        if udp:
            size = 512 if query.edns < 0 else max(512, min(query.payload, EDNS_PAYLOAD))
        return reply.to_wire(max_size=size, prefer_truncation=True)

    def _error(self, query: dns.message.Message, rcode: int, udp: bool) -> bytes:
        reply = dns.message.make_response(query, recursion_available=True, our_payload=EDNS_PAYLOAD)
        reply.set_rcode(rcode)
        return self._render(reply, query, udp)

    async def _forward(self, query: dns.message.Message, udp: bool) -> bytes:
        try:
            reply = await self.forwarder.resolve(query, tcp=not udp)
        except Overloaded as e:
            log.debug("cluster DNS: refusing %s: %s", query.question[0], e)
            return self._error(query, dns.rcode.REFUSED, udp)
        except ForwardError as e:
            log.debug("cluster DNS: SERVFAIL for %s: %s", query.question[0], e)
            return self._error(query, dns.rcode.SERVFAIL, udp)
        return self._render(reply, query, udp)

    async def _chase(self, query: dns.message.Message, answer: Answer, udp: bool) -> bytes:
        """Resolve an ExternalName target upstream and append its records after the
        CNAME; if nobody answers, the CNAME alone goes out and the client may chase it."""
        assert answer.chase is not None
        sub = dns.message.make_query(answer.chase, answer.chase_type, use_edns=0, payload=EDNS_PAYLOAD)
        try:
            upstream = await self.forwarder.resolve(sub, tcp=not udp)
            answer.answer.extend(upstream.answer)
        except ForwardError as e:
            log.debug("cluster DNS: cannot chase %s: %s", answer.chase, e)
        return self._render(self._reply(query, answer), query, udp)


def _shuffle(answer: Answer) -> bool:
    """Shuffle the addresses of multi-address RRsets in the answer section; True if any."""
    shuffled = False
    for i, rrset in enumerate(answer.answer):
        if len(rrset) > 1 and rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            rdatas = list(rrset)
            random.shuffle(rdatas)
            answer.answer[i] = dns.rrset.from_rdata_list(rrset.name, rrset.ttl, rdatas)
            shuffled = True
    return shuffled


def _freebind(sock: socket.socket, family: int) -> None:
    """Allow binding an address that no interface has (yet): the cluster DNS IP."""
    sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
    if family == socket.AF_INET6:
        with contextlib.suppress(OSError):  # kernels before 4.15 honour IP_FREEBIND alone
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)
