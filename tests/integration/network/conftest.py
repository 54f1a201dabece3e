"""The lab for pod network integration tests: a test-owned "host" namespace and a client.

Topology (all namespaces named with one random id, removed in `finally`):

    ppt-cli-<id>  198.18.0.2/30 ──veth── 198.18.0.1/30  ppt-host-<id>  (no default route)
                                                          │ podplane0 10.244.77.1/24
                                              ppt-<id>-p-<uid> (one per pod, eth0 10.244.77.x)

`Lab.driver(op, ...)` runs a PodNetwork operation inside the host namespace (driver.py,
through `nsenter --net`), so the real host's interfaces, routes, sysctls and rules are
never touched; `Lab.fetch(ns, url)` makes an HTTP request from inside a namespace and
`Lab.http_server(ns, port)` serves one. 198.18.0.0/15 is the benchmarking range
(RFC 2544), unused on real networks, and only routed between these namespaces.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

CNI_DIR = "/usr/lib/cni"
PLUGINS = ("bridge", "host-local", "loopback", "portmap")
TOOLS = {"ip": "iproute2", "nsenter": "util-linux", "iptables": "iptables", "sysctl": "procps"}
DRIVER = os.path.join(os.path.dirname(__file__), "driver.py")
SERVICE_CIDR = "10.43.0.0/16"
POD_CIDR = "10.244.77.0/24"
HOST_IP = "198.18.0.1"
CLIENT_IP = "198.18.0.2"

_FETCH = r"""
import json, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])) as r:
        print(json.dumps({"status": r.status, "body": r.read().decode()}))
except Exception as e:
    reason = getattr(e, "reason", e)
    print(json.dumps({"error": repr(e), "errno": getattr(reason, "errno", None)}))
"""


def _missing() -> str:
    if os.geteuid() != 0:
        return "needs root: creates network namespaces, veths and bridges"
    for tool, package in TOOLS.items():
        if shutil.which(tool) is None:
            return f"{tool} not found: install the Debian package {package}"
    missing = [p for p in PLUGINS if not os.access(os.path.join(CNI_DIR, p), os.X_OK)]
    if missing:
        return (
            f"CNI plugins {missing} not in {CNI_DIR}: install the Debian package containernetworking-plugins"
        )
    return ""


def sh(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done


def root_snapshot() -> dict:
    """The bits of the real host's network state this lab could conceivably change."""
    return {
        "ip_forward": open("/proc/sys/net/ipv4/ip_forward").read().strip(),
        "service_route": sh("ip", "route", "show", "exact", SERVICE_CIDR).stdout,
        "pod_route": sh("ip", "route", "show", "exact", POD_CIDR).stdout,
        "bridge": sh("ip", "-o", "link", "show", "podplane0", check=False).returncode,
        "uplink": sh("ip", "-o", "link", "show", "ppt-up", check=False).returncode,
    }


class Lab:
    def __init__(self, data_dir: str) -> None:
        self.id = secrets.token_hex(3)
        self.host = f"ppt-host-{self.id}"
        self.client = f"ppt-cli-{self.id}"
        self.prefix = f"ppt-{self.id}-p-"
        self.data_dir = data_dir
        self.forbidden_netns = os.readlink("/proc/self/ns/net")
        self._procs: list[subprocess.Popen] = []
        self._created: list[str] = []

    # -- topology

    def create(self) -> None:
        for ns in (self.host, self.client):
            done = sh("ip", "netns", "add", ns, check=False)
            if done.returncode != 0:
                pytest.skip(f"cannot create network namespaces here: {done.stderr.strip()}")
            self._created.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh(
            "ip",
            "-n",
            self.host,
            "link",
            "add",
            "ppt-up",
            "type",
            "veth",
            "peer",
            "name",
            "ppt-down",
            "netns",
            self.client,
        )
        sh("ip", "-n", self.host, "addr", "add", f"{HOST_IP}/30", "dev", "ppt-up")
        sh("ip", "-n", self.client, "addr", "add", f"{CLIENT_IP}/30", "dev", "ppt-down")
        sh("ip", "-n", self.host, "link", "set", "ppt-up", "up")
        sh("ip", "-n", self.client, "link", "set", "ppt-down", "up")

    def destroy(self) -> list[str]:
        """Stop our processes and delete every namespace of this lab; return failures."""
        problems = []
        for p in self._procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        listed = sh("ip", "netns", "list", check=False).stdout.split("\n")
        names = {line.split()[0] for line in listed if line.strip()}
        ours = sorted(n for n in names if n.startswith(self.prefix)) + [n for n in reversed(self._created)]
        for ns in ours:
            done = sh("ip", "netns", "delete", ns, check=False)
            if done.returncode != 0 and os.path.exists(f"/var/run/netns/{ns}"):
                problems.append(f"ip netns delete {ns}: {done.stderr.strip()}")
        return problems

    # -- operations

    def driver(self, op: str, **args) -> object:
        """Run a PodNetwork operation inside the host namespace; raise on failure."""
        ok, out = self.try_driver(op, **args)
        if not ok:
            raise AssertionError(f"driver {op} failed: {out}")
        return out

    def try_driver(self, op: str, **args) -> tuple[bool, object]:
        req = {
            "op": op,
            "data_dir": self.data_dir,
            "prefix": self.prefix,
            "pod_cidr": POD_CIDR,
            "forbidden_netns": self.forbidden_netns,
            **args,
        }
        done = subprocess.run(
            ["nsenter", f"--net=/var/run/netns/{self.host}", "--", sys.executable, DRIVER, json.dumps(req)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        try:
            out = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AssertionError(
                f"driver {op} exited {done.returncode}: {done.stderr.strip()[-3000:]}"
            ) from None
        if "ok" in out:
            return True, out["ok"]
        return False, out

    def pod_ns(self, uid: str) -> str:
        return self.prefix + uid

    def in_ns(
        self, ns: str, *argv: str, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", ns, *argv, check=check, timeout=timeout)

    def fetch(self, ns: str, url: str, timeout: float = 3.0) -> dict:
        done = self.in_ns(ns, sys.executable, "-c", _FETCH, url, str(timeout), timeout=timeout + 30)
        return json.loads(done.stdout)

    @contextlib.contextmanager
    def http_server(self, ns: str, port: int, body: str) -> Iterator[None]:
        root = os.path.join(self.data_dir, f"www-{ns}-{port}")
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write(body)
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "http.server", str(port), "--bind", "0.0.0.0"],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._procs.append(proc)
        try:
            deadline = time.monotonic() + 10
            while self.fetch(ns, f"http://127.0.0.1:{port}/", 1.0).get("status") != 200:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(f"http.server in {ns} did not start")
                time.sleep(0.1)
            yield
        finally:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def lab(tmp_path) -> Iterator[Lab]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    before = root_snapshot()
    lab = Lab(str(tmp_path / "data"))
    try:
        lab.create()
        yield lab
    finally:
        problems = lab.destroy()
        after = root_snapshot()
        assert not problems, problems
        assert after == before, "the real host's network state changed"
