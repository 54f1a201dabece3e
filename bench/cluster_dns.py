"""Cluster DNS benchmark: queries per second and latency with 1,000 Services.

Starts `podplane.proxy.dns.ClusterDNS` in a child process on 127.0.0.1 (a free port,
no upstreams: nothing is forwarded) with 1,000 ClusterIP Services and their
EndpointSlices (3 endpoints each) seeded into its informer caches, then runs N
concurrent asyncio UDP clients in this process, each with its own socket and one query
in flight, asking A records of random Service names for a fixed time. The clients send
pre-rendered queries (only the id changes) and check replies from their header (id,
rcode, answer count), parsing every 100th fully to compare the address, so they cost
little next to the server.

Measures, for each client count: answered queries per second, p50/p99 latency, and
timeouts, with the server's reply cache on (its default) and, for one client count,
off; plus "core": the server's own CPU per query measured in-process without sockets,
uncached (dnspython parse, lookup, render) and cached (the repeated-query path). Prints
the figures and writes bench/results/dns.json (or --output FILE). All traffic goes to
127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import dns.message
import dns.rdatatype
import dns.version

RESULTS = Path(__file__).parent / "results"
NAMESPACE = "bench"
ZONE = "cluster.local"


def service_ip(i: int) -> str:
    return f"10.43.{1 + i // 250}.{1 + i % 250}"


def seed_objects(count: int) -> tuple[list[dict], list[dict], list[dict]]:
    services, slices = [], []
    for i in range(count):
        name = f"svc-{i}"
        services.append({"apiVersion": "v1", "kind": "Service",
                         "metadata": {"name": name, "namespace": NAMESPACE, "resourceVersion": "1"},
                         "spec": {"clusterIP": service_ip(i), "clusterIPs": [service_ip(i)],
                                  "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}})
        slices.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                       "metadata": {"name": f"{name}-x", "namespace": NAMESPACE, "resourceVersion": "1",
                                    "labels": {"kubernetes.io/service-name": name}},
                       "endpoints": [{"addresses": [f"10.42.{i % 250}.{j + 1}"], "conditions": {"ready": True}}
                                     for j in range(3)],
                       "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]})
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "resourceVersion": "1"}}]
    return services, slices, namespaces


def make_server(count: int, reply_cache: int = 10_000):
    from podplane.client.fake import FakeClient
    from podplane.client.informer import InformerFactory
    from podplane.proxy.dns import ClusterDNS

    factory = InformerFactory(FakeClient())
    server = ClusterDNS(factory, listen=("127.0.0.1", 0), upstreams=[], reply_cache=reply_cache)
    services, slices, namespaces = seed_objects(count)
    factory.resource("", "services").replace(services, "1")
    factory.resource("discovery.k8s.io", "endpointslices").replace(slices, "1")
    factory.resource("", "namespaces").replace(namespaces, "1")
    return server


async def serve(count: int, reply_cache: int) -> None:
    """The child process: run the server until SIGTERM, after printing its port."""
    server = make_server(count, reply_cache)
    await server.start()
    print(server.address[1], flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop()


def query_wires(count: int) -> list[bytes]:
    return [dns.message.make_query(f"svc-{i}.{NAMESPACE}.svc.{ZONE}.", dns.rdatatype.A).to_wire()
            for i in range(count)]


class Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiting: asyncio.Future | None = None
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_result(data)


async def client_loop(port: int, wires: list[bytes], until: float, latencies: list[float], stats: dict) -> None:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", port))
    rng = random.Random()
    n = 0
    try:
        while time.perf_counter() < until:
            i = rng.randrange(len(wires))
            qid = rng.randrange(0x10000)
            wire = qid.to_bytes(2, "big") + wires[i][2:]
            proto.waiting = loop.create_future()
            start = time.perf_counter()
            transport.sendto(wire)
            try:
                reply = await asyncio.wait_for(proto.waiting, 1.0)
            except TimeoutError:
                stats["timeouts"] += 1
                continue
            latencies.append(time.perf_counter() - start)
            if reply[:2] != wire[:2] or reply[3] & 0x0F != 0 or int.from_bytes(reply[6:8], "big") < 1:
                stats["bad"] += 1
            n += 1
            if n % 100 == 0:  # a full check now and then
                msg = dns.message.from_wire(reply)
                if msg.answer[0][0].address != service_ip(i):
                    stats["bad"] += 1
    finally:
        transport.close()


async def run_clients(port: int, clients: int, wires: list[bytes], seconds: float, warmup: float) -> dict:
    # warm-up: same load, not counted
    await asyncio.gather(*(client_loop(port, wires, time.perf_counter() + warmup, [], {"timeouts": 0, "bad": 0})
                           for _ in range(clients)))
    latencies: list[float] = []
    stats = {"timeouts": 0, "bad": 0}
    start = time.perf_counter()
    await asyncio.gather(*(client_loop(port, wires, start + seconds, latencies, stats) for _ in range(clients)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "answered": len(latencies),
        "queries_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 3) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 3) if latencies else None,
        "timeouts": stats["timeouts"],
        "bad_answers": stats["bad"],
    }


def core(count: int, reply_cache: int, queries: int = 20_000) -> dict:
    """The server's CPU per query without sockets."""
    server = make_server(count, reply_cache)
    wires = query_wires(count)
    rng = random.Random(1)
    picks = [wires[rng.randrange(count)] for _ in range(queries)]
    for w in picks[:1000]:
        server.respond(w, udp=True)
    start = time.perf_counter()
    for w in picks:
        server.respond(w, udp=True)
    elapsed = time.perf_counter() - start
    return {"queries": queries, "us_per_query": round(elapsed / queries * 1e6, 1),
            "queries_per_second": round(queries / elapsed, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--services", type=int, default=1000, help="Services and EndpointSlices seeded (1000)")
    parser.add_argument("--clients", default="1,16,64", help="comma-separated client counts to run (1,16,64)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per client count (5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run (1)")
    parser.add_argument("--output", type=Path, default=RESULTS / "dns.json")
    parser.add_argument("--uncached-clients", type=int, default=16,
                        help="client count of the run without the reply cache (16; 0 skips it)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--reply-cache", type=int, default=10_000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.services, args.reply_cache))
        return 0

    results: dict = {"services": args.services,
                     "core_uncached": core(args.services, 0), "core_cached": core(args.services, 10_000)}
    for kind in ("uncached", "cached"):
        r = results[f"core_{kind}"]
        print(f"core, {kind}: {r['us_per_query']} us/query ({r['queries_per_second']:.0f} queries/s, no sockets)")
    wires = query_wires(args.services)
    runs = [("udp", 10_000, [int(c) for c in args.clients.split(",")])]
    if args.uncached_clients:
        runs.append(("udp_uncached", 0, [args.uncached_clients]))
    for label, cache, client_counts in runs:
        results[label] = []
        proc = subprocess.Popen([sys.executable, __file__, "--serve", "--services", str(args.services),
                                 "--reply-cache", str(cache)], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.strip():
                raise RuntimeError("the DNS server process did not start")
            port = int(line)
            for clients in client_counts:
                r = asyncio.run(run_clients(port, clients, wires, args.seconds, args.warmup))
                results[label].append(r)
                print(f"{label:12s} {clients:3d} clients: {r['queries_per_second']:8.0f} queries/s  "
                      f"p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  timeouts {r['timeouts']}  bad {r['bad_answers']}")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    results["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                          "dnspython": dns.version.version}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
