"""The lab for the Service proxy integration tests: a test-owned node with pods and a client.

Topology (namespaces `ppp-<id>-*`, all removed in `finally`):

    ppp-<id>-cli  198.18.0.2/30 ──veth── 198.18.0.1/30  ppp-<id>-node   "remote" client → NodePort
                                                          │ podplane0 10.244.77.1/24, unreachable 10.43.0.0/16
                      ┌───────────────┬───────────────┬───┴───────────┐
               ppp-<id>-b1 .11   ppp-<id>-b2 .12   ppp-<id>-b3 .13   ppp-<id>-c1 .20   (veth eth0 each)

b1..b3 run `netprobe.py serve` (TCP 8080 name+peer, TCP 8081 echo, UDP 5353); c1 is a
pod-side client. The `ServiceProxy` runs in the test process; its runner prefixes every
nft/ip/conntrack call with `nsenter --net=<node namespace>` and refuses any other
program, so nothing reaches the real host's tables, routes or conntrack. The Services and
EndpointSlices come from informer caches the test fills (`Lab.proxy().publish(...)`).
The real host's state (nftables tables read over netlink, IPv4 routes, links, forwarding)
is compared before and after. 198.18.0.0/15 is the benchmarking range (RFC 2544).
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence

import pytest

from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.proxy import ServiceProxy
from podplane.proxy._command import DEFAULT_TIMEOUT, Completed, run

PROBE = os.path.join(os.path.dirname(__file__), "netprobe.py")
NODE = "node-1"
NODE_IP = "198.18.0.1"
CLIENT_IP = "198.18.0.2"
SERVICE_CIDR = "10.43.0.0/16"
DNS_IP = "10.43.0.10"
POD_CIDR = "10.244.77.0/24"
GATEWAY = "10.244.77.1"
PODS = {"b1": "10.244.77.11", "b2": "10.244.77.12", "b3": "10.244.77.13", "c1": "10.244.77.20"}
BACKENDS = ("b1", "b2", "b3")
TOOLS = {"ip": "iproute2", "nft": "nftables", "conntrack": "conntrack", "nsenter": "util-linux"}


def missing() -> str:
    if os.geteuid() != 0:
        return "needs root: creates network namespaces, veths, bridges and nftables tables"
    for tool, package in TOOLS.items():
        if shutil.which(tool) is None:
            return f"{tool} not found: install the Debian package {package}"
    return ""


def sh(*argv: str, check: bool = True, timeout: float = 30, input: str | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done


# -- the real host's state, read without running nft/ip/conntrack in its namespace ------


def _nft_tables() -> list[tuple[int, str]]:
    """(family, name) of every nftables table in this namespace, over netlink (read-only)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
    try:
        sock.bind((0, 0))
        payload = struct.pack("=BBH", socket.AF_UNSPEC, 0, 0)  # nfgenmsg
        msg_type = (10 << 8) | 1  # NFNL_SUBSYS_NFTABLES, NFT_MSG_GETTABLE
        sock.send(struct.pack("=LHHLL", 16 + len(payload), msg_type, 0x301, 1, 0) + payload)  # REQUEST|DUMP
        tables = []
        while True:
            data = sock.recv(1 << 16)
            offset = 0
            while offset < len(data):
                length, kind, _, _, _ = struct.unpack_from("=LHHLL", data, offset)
                if kind == 3:  # NLMSG_DONE
                    return sorted(tables)
                if kind == 2:  # NLMSG_ERROR
                    code = struct.unpack_from("=i", data, offset + 16)[0]
                    if code:
                        raise OSError(-code, "netlink: listing nftables tables failed")
                else:
                    family = data[offset + 16]
                    attr = offset + 20
                    while attr + 4 <= offset + length:
                        alen, atype = struct.unpack_from("=HH", data, attr)
                        if alen < 4:
                            break
                        if atype & 0x3FFF == 1:  # NFTA_TABLE_NAME
                            tables.append((family, data[attr + 4: attr + alen].rstrip(b"\0").decode()))
                        attr += (alen + 3) & ~3
                offset += (length + 3) & ~3
    finally:
        sock.close()


def root_snapshot() -> dict:
    with open("/proc/net/route") as f:
        routes = f.read()
    with open("/proc/net/dev") as f:
        links = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        forward = f.read().strip()
    return {"nft_tables": _nft_tables(), "routes": routes, "links": links, "ip_forward": forward}


# -- the lab -----------------------------------------------------------------------------


class Lab:
    def __init__(self) -> None:
        self.id = secrets.token_hex(3)
        self.prefix = f"ppp-{self.id}-"
        self.node = self.ns("node")
        self.cli = self.ns("cli")
        self.host_netns = os.readlink("/proc/self/ns/net")
        self._created: list[str] = []
        self._procs: list[subprocess.Popen] = []
        self.commands: list[tuple[str, ...]] = []
        """Every argv the proxy ran (inside the node namespace)."""
        self._rv = itertools.count(1)

    def ns(self, short: str) -> str:
        return self.prefix + short

    # -- topology
    def create(self) -> None:
        for short in ("node", "cli", *PODS):
            name = self.ns(short)
            done = sh("ip", "netns", "add", name, check=False)
            if done.returncode != 0:
                pytest.skip(f"cannot create network namespaces here: {done.stderr.strip()}")
            self._created.append(name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
        n = self.node
        sh("ip", "netns", "exec", n, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        sh("ip", "netns", "exec", n, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1")
        sh("ip", "-n", n, "route", "add", "unreachable", SERVICE_CIDR)  # what the agent installs first
        sh("ip", "-n", n, "link", "add", "podplane0", "type", "bridge")
        sh("ip", "-n", n, "addr", "add", f"{GATEWAY}/24", "dev", "podplane0")
        sh("ip", "-n", n, "link", "set", "podplane0", "up")
        sh("ip", "-n", n, "link", "add", "up0", "type", "veth", "peer", "name", "down0", "netns", self.cli)
        sh("ip", "-n", n, "addr", "add", f"{NODE_IP}/30", "dev", "up0")
        sh("ip", "-n", n, "link", "set", "up0", "up")
        sh("ip", "-n", self.cli, "addr", "add", f"{CLIENT_IP}/30", "dev", "down0")
        sh("ip", "-n", self.cli, "link", "set", "down0", "up")
        for short, ip in PODS.items():
            pod = self.ns(short)
            sh("ip", "-n", n, "link", "add", f"v{short}", "type", "veth", "peer", "name", "eth0", "netns", pod)
            sh("ip", "-n", n, "link", "set", f"v{short}", "master", "podplane0")
            # as the CNI bridge plugin's hairpinMode: a frame DNATed back to its sender's
            # port may leave through that port (hairpin traffic is bridged, not routed)
            sh("ip", "-n", n, "link", "set", f"v{short}", "type", "bridge_slave", "hairpin", "on")
            sh("ip", "-n", n, "link", "set", f"v{short}", "up")
            sh("ip", "-n", pod, "addr", "add", f"{ip}/24", "dev", "eth0")
            sh("ip", "-n", pod, "link", "set", "eth0", "up")
            sh("ip", "-n", pod, "route", "add", "default", "via", GATEWAY)
        for short in BACKENDS:
            proc = subprocess.Popen(["ip", "netns", "exec", self.ns(short), sys.executable, PROBE, "serve", short],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self._procs.append(proc)
        for proc in self._procs:
            if proc.stdout.readline().strip() != "ready":
                raise AssertionError("a backend server did not start")

    def destroy(self) -> list[str]:
        problems = []
        for p in self._procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)
        for name in reversed(self._created):
            done = sh("ip", "netns", "delete", name, check=False)
            if done.returncode != 0 and os.path.exists(f"/var/run/netns/{name}"):
                problems.append(f"ip netns delete {name}: {done.stderr.strip()}")
        return problems

    # -- running things
    def in_ns(self, ns: str, *argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", ns, *argv, check=check, timeout=timeout)

    def probe(self, ns: str, *args: object, timeout: float = 60) -> list[dict]:
        done = self.in_ns(ns, sys.executable, PROBE, *map(str, args), timeout=timeout)
        return json.loads(done.stdout)

    def holder(self, ns: str, ip: str, port: int) -> subprocess.Popen:
        proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, PROBE, "hold", ip, str(port)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._procs.append(proc)
        line = proc.stdout.readline().strip()
        assert line == "connected", proc.stderr.read() if proc.poll() is not None else line
        return proc

    async def runner(self, argv: Sequence[str], *, input: bytes | None = None,
                     time_limit: float = DEFAULT_TIMEOUT) -> Completed:
        """The proxy's runner: only nft/ip/conntrack, only inside the node namespace."""
        argv = tuple(argv)
        if argv[0] not in ("nft", "ip", "conntrack"):
            raise AssertionError(f"the proxy tried to run {argv[0]}")
        self.commands.append(argv)
        done = await run(("nsenter", f"--net=/var/run/netns/{self.node}", "--", *argv), input=input,
                         time_limit=time_limit)
        return Completed(argv, done.returncode, done.stdout, done.stderr)

    def proxy(self, **kw) -> ProxyHandle:
        return ProxyHandle(self, **kw)

    def nft_tables(self) -> str:
        return self.in_ns(self.node, "nft", "list", "tables").stdout

    def node_routes(self) -> str:
        return sh("ip", "-n", self.node, "-4", "route", "show", "table", "main").stdout


class ProxyHandle:
    """A ServiceProxy for the lab's node over informer caches the test fills."""

    def __init__(self, lab: Lab, **kw) -> None:
        self.lab = lab
        client = FakeClient()
        self.informers = InformerFactory(client)
        self.proxy = ServiceProxy(client, self.informers, node_name=NODE, node_ips=[NODE_IP],
                                  service_cidr=SERVICE_CIDR, cluster_dns_ip=DNS_IP, runner=lab.runner,
                                  **{"pod_cidrs": [POD_CIDR], **kw})
        self.proxy.nodes.replace([], "1")
        self.publish([], [])

    def publish(self, services: list[dict], slices: list[dict]) -> None:
        for informer, items in ((self.proxy.services, services), (self.proxy.slices, slices)):
            fresh = [dict(o, metadata=dict(o["metadata"], resourceVersion=str(next(self.lab._rv)))) for o in items]
            informer.replace(fresh, str(next(self.lab._rv)))


def service(name: str, ip: str, port: int = 80, target_protocol: str = "TCP", **spec) -> dict:
    ports = spec.pop("ports", None) or [{"name": "p", "port": port, "protocol": target_protocol}]
    return {"metadata": {"namespace": "default", "name": name}, "spec": {"clusterIP": ip, "ports": ports, **spec}}


def endpoint_slice(service_name: str, pods: Sequence[str], *, port: int = 8080, protocol: str = "TCP",
                   remote: Sequence[str] = ()) -> dict:
    """Endpoints for lab pods; those in `remote` claim to run on another node."""
    return {"metadata": {"namespace": "default", "name": f"{service_name}-x",
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": "IPv4",
            "ports": [{"name": "p", "port": port, "protocol": protocol}],
            "endpoints": [{"addresses": [PODS[p]], "conditions": {"ready": True},
                           "nodeName": "node-2" if p in remote else NODE} for p in pods]}


def names(results: list[dict]) -> list[str]:
    return [r.get("name", r.get("errno", "?")) for r in results]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    before = root_snapshot()
    lab = Lab()
    try:
        lab.create()
        yield lab
    finally:
        problems = lab.destroy()
        deadline = time.monotonic() + 5
        while (after := root_snapshot()) != before and time.monotonic() < deadline:
            time.sleep(0.1)  # a deleted namespace's links go away asynchronously
        assert not problems, problems
        changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        assert not changed, f"the real host's network state changed: {changed}"
