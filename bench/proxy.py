"""Service proxy benchmark: programming latency at 1,000 Services / 10,000 endpoints, and
requests/s through a ClusterIP versus straight to the backend.

Everything runs in network namespaces this benchmark creates (`ppb-<id>-*`, deleted in
`finally`): a node (pod bridge podplane0 10.244.0.1/16, the `unreachable` service-CIDR
route the agent installs, forwarding on), a backend pod b1 (10.244.255.11, the TCP/HTTP
servers of tests/integration/serviceproxy/netprobe.py) and a client pod c1 (10.244.255.20).
The proxy itself runs in a child process inside the node namespace (`--inner`, which
refuses to run in the namespace it was started from), fed from informer caches:
1. programming: the first full sync (1,000 Services with 10 endpoints each, endpoint
   IPs that exist nowhere), then `--rounds` single-endpoint changes: `rules.build`
   time, `nft -f` time, and end to end: a Service without endpoints (its connects are
   refused) gets the real backend while c1 tries to connect every millisecond; the
   figure is the EndpointSlice change (informer cache update) → first connection that
   succeeds, through the real `ServiceProxy.run()` loop (min sync interval included).
2. throughput: HTTP/1.0 requests, a new connection each (no keep-alive), from c1 for
   `--seconds` with `--concurrency` clients, through the ClusterIP and then straight to
   the backend's IP, alternating, best of `--repeat`; the ratio is the figure.
Needs root, nft, ip, conntrack. Prints the figures and writes bench/results/proxy.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tests" / "integration" / "serviceproxy" / "netprobe.py"
RESULTS = ROOT / "bench" / "results" / "proxy.json"
SERVICE_CIDR = "10.43.0.0/16"
DNS_IP = "10.43.0.10"
POD_CIDR = "10.244.0.0/16"
GATEWAY = "10.244.0.1"
BACKEND_IP = "10.244.255.11"
CLIENT_IP = "10.244.255.20"
NODE_IP = "198.18.0.1"


def sh(*argv: str, check: bool = True, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, input=input, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done


# ------------------------------------------------------------------------------ outer


class Lab:
    def __init__(self) -> None:
        self.prefix = f"ppb-{secrets.token_hex(3)}-"
        self.node, self.b1, self.c1 = (self.prefix + n for n in ("node", "b1", "c1"))
        self.created: list[str] = []
        self.procs: list[subprocess.Popen] = []

    def create(self) -> None:
        for ns in (self.node, self.b1, self.c1):
            sh("ip", "netns", "add", ns)
            self.created.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        n = self.node
        sh("ip", "netns", "exec", n, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        sh("ip", "netns", "exec", n, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1")
        sh("ip", "-n", n, "route", "add", "unreachable", SERVICE_CIDR)
        sh("ip", "-n", n, "link", "add", "podplane0", "type", "bridge")
        sh("ip", "-n", n, "addr", "add", f"{GATEWAY}/16", "dev", "podplane0")
        sh("ip", "-n", n, "link", "set", "podplane0", "up")
        for ns, ip, port in ((self.b1, BACKEND_IP, "vb1"), (self.c1, CLIENT_IP, "vc1")):
            sh("ip", "-n", n, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", n, "link", "set", port, "master", "podplane0")
            sh("ip", "-n", n, "link", "set", port, "type", "bridge_slave", "hairpin", "on")
            sh("ip", "-n", n, "link", "set", port, "up")
            sh("ip", "-n", ns, "addr", "add", f"{ip}/16", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "route", "add", "default", "via", GATEWAY)
        server = subprocess.Popen(["ip", "netns", "exec", self.b1, sys.executable, str(PROBE), "serve", "b1"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.procs.append(server)
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError("the backend server did not start")

    def destroy(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)
        for ns in reversed(self.created):
            done = sh("ip", "netns", "delete", ns, check=False)
            if done.returncode != 0:
                print(f"warning: ip netns delete {ns}: {done.stderr.strip()}", file=sys.stderr)


def outer(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("bench/proxy.py needs root (network namespaces, nftables)", file=sys.stderr)
        return 2
    for tool in ("ip", "nft", "conntrack"):
        if shutil.which(tool) is None:
            print(f"{tool} not found", file=sys.stderr)
            return 2
    lab = Lab()
    try:
        lab.create()
        request = {"c1": lab.c1, "outer_netns": os.readlink("/proc/self/ns/net"), **vars(args)}
        done = subprocess.run(["ip", "netns", "exec", lab.node, sys.executable, __file__, "--inner",
                               json.dumps(request)], stdout=subprocess.PIPE, text=True, timeout=900)
        if done.returncode != 0:
            print(f"the inner benchmark exited {done.returncode}", file=sys.stderr)
            return 1
        results = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        lab.destroy()
    results["machine"] = {"cpus": os.cpu_count(), "kernel": os.uname().release,
                          "nft": sh("nft", "--version").stdout.strip()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


# ------------------------------------------------------------------------------ inner


def svc_ip(i: int) -> str:
    return f"10.43.{1 + i // 250}.{1 + i % 250}"


def service(name: str, ip: str, target: int = 8080) -> dict:
    return {"metadata": {"namespace": "bench", "name": name, "resourceVersion": "1"},
            "spec": {"clusterIP": ip, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}


def endpoint_slice(name: str, ips: list[str], port: int = 8080) -> dict:
    return {"metadata": {"namespace": "bench", "name": f"{name}-x", "resourceVersion": "1",
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}, "nodeName": "bench-node"}
                          for ip in ips]}


POLLER = r"""
import socket, sys, time
ip, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
print("polling", flush=True)
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    s = socket.socket()
    s.settimeout(0.05)
    try:
        s.connect((ip, port))
        print(repr(time.monotonic()), flush=True)
        break
    except OSError:
        time.sleep(0.001)
    finally:
        s.close()
else:
    print("timeout", flush=True)
"""


async def inner(req: dict) -> dict:
    from podplane.client.fake import FakeClient
    from podplane.client.informer import InformerFactory
    from podplane.proxy import ServiceProxy, rules

    n_services, per_service = req["services"], req["endpoints_per_service"]
    services, slices = {}, {}
    k = 0
    for i in range(n_services):
        name = f"svc-{i:04d}"
        services[name] = service(name, svc_ip(i))
        ips = []
        for _ in range(per_service):
            ips.append(f"10.244.{1 + k // 250}.{1 + k % 250}")
            k += 1
        slices[name] = endpoint_slice(name, ips)
    services["probe"] = service("probe", "10.43.200.1")
    slices["probe"] = endpoint_slice("probe", [])
    services["http"] = service("http", "10.43.200.2")
    slices["http"] = endpoint_slice("http", [BACKEND_IP], port=8090)

    proxy = ServiceProxy(FakeClient(), InformerFactory(FakeClient()), node_name="bench-node", node_ips=[NODE_IP],
                         service_cidr=SERVICE_CIDR, cluster_dns_ip=DNS_IP, pod_cidrs=[POD_CIDR])
    rv = iter(range(2, 10**9))

    def publish() -> None:
        proxy.services.replace(list(services.values()), str(next(rv)))
        proxy.slices.replace([dict(s, metadata=dict(s["metadata"], resourceVersion=str(next(rv))))
                              for s in slices.values()], str(next(rv)))

    proxy.nodes.replace([], "1")
    publish()
    out: dict = {"services": len(services), "endpoints": k + 1}

    # the pure part alone
    facts = rules.node_facts("bench-node", [NODE_IP], service_cidr=SERVICE_CIDR, cluster_dns_ip=DNS_IP,
                             pod_cidrs=[POD_CIDR])
    times = []
    for _ in range(3):
        start = time.monotonic()
        ruleset = rules.build(list(services.values()), list(slices.values()), facts)
        times.append(time.monotonic() - start)
    out["ruleset"] = {"bytes": len(ruleset.text), "lines": ruleset.text.count("\n"),
                      "build_ms": round(min(times) * 1e3, 1)}

    first = await proxy.sync()
    out["initial_sync"] = {"generate_ms": round(first.generate_seconds * 1e3, 1),
                           "nft_apply_ms": round(first.apply_seconds * 1e3, 1),
                           "routes_added": first.routes_added}

    task = asyncio.create_task(proxy.run())
    await asyncio.sleep(0.5)
    rounds = []
    for r in range(req["rounds"]):
        # 1. one endpoint of a big Service changes: rules + nft at full scale
        name = f"svc-{(r * 37) % n_services:04d}"
        eps = slices[name]["endpoints"]
        eps[0] = dict(eps[0], addresses=[f"10.244.250.{r + 1}"])
        previous = proxy.last_sync
        publish()
        while proxy.last_sync is previous:
            await asyncio.sleep(0.005)
        change = proxy.last_sync
        await asyncio.sleep(0.3)
        # 2. end to end: the probe Service gets the real backend while c1 polls it
        poller = subprocess.Popen(["ip", "netns", "exec", req["c1"], sys.executable, "-c", POLLER, "10.43.200.1",
                                   "80", "30"], stdout=subprocess.PIPE, text=True)
        assert poller.stdout.readline().strip() == "polling"
        await asyncio.sleep(0.2)  # it is refused meanwhile
        slices["probe"] = endpoint_slice("probe", [BACKEND_IP])
        previous = proxy.last_sync
        t0 = time.monotonic()
        publish()
        line = await asyncio.to_thread(poller.stdout.readline)
        poller.wait(timeout=30)
        e2e = (float(line) - t0) if line.strip() not in ("", "timeout") else None
        while proxy.last_sync is previous:
            await asyncio.sleep(0.005)
        probe_sync = proxy.last_sync
        rounds.append({"change_generate_ms": round(change.generate_seconds * 1e3, 1),
                       "change_nft_apply_ms": round(change.apply_seconds * 1e3, 1),
                       "change_to_live_ms": round((change.latency_seconds or 0) * 1e3, 1),
                       "e2e_change_to_connect_ms": round(e2e * 1e3, 1) if e2e is not None else None,
                       "e2e_sync_generate_ms": round(probe_sync.generate_seconds * 1e3, 1),
                       "e2e_sync_nft_apply_ms": round(probe_sync.apply_seconds * 1e3, 1)})
        slices["probe"] = endpoint_slice("probe", [])
        publish()
        await asyncio.sleep(0.5)
    out["rounds"] = rounds

    def med(key: str) -> float:
        vals = [x[key] for x in rounds if x[key] is not None]
        return round(statistics.median(vals), 1) if vals else None

    out["endpoint_change"] = {k: med(k) for k in rounds[0]}

    # throughput: ClusterIP versus the pod IP, alternating
    def http(ip: str, port: int) -> dict:
        done = sh("ip", "netns", "exec", req["c1"], sys.executable, str(PROBE), "http", ip, str(port),
                  str(req["seconds"]), str(req["concurrency"]))
        return json.loads(done.stdout)

    via, direct = [], []
    for _ in range(req["repeat"]):
        via.append(http("10.43.200.2", 80))
        direct.append(http(BACKEND_IP, 8090))
    best_via = max(via, key=lambda x: x["rps"])
    best_direct = max(direct, key=lambda x: x["rps"])
    out["throughput"] = {"concurrency": req["concurrency"], "seconds": req["seconds"],
                         "clusterip_rps": best_via["rps"], "direct_rps": best_direct["rps"],
                         "ratio": round(best_via["rps"] / best_direct["rps"], 3) if best_direct["rps"] else None,
                         "clusterip_runs": [x["rps"] for x in via], "direct_runs": [x["rps"] for x in direct],
                         "errors": sum(x["errors"] + x["bad"] for x in via + direct)}
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await proxy.cleanup()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--endpoints-per-service", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        req = json.loads(args.inner)
        if os.readlink("/proc/self/ns/net") == req["outer_netns"]:
            print("refusing to program nftables in the namespace the benchmark started in", file=sys.stderr)
            return 3
        sys.path.insert(0, str(ROOT / "src"))
        print(json.dumps(asyncio.run(inner(req))))
        return 0
    return outer(args)


if __name__ == "__main__":
    sys.exit(main())
