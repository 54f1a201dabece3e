"""A real single-node cluster (`podplane up`, runc + CNI) inside a network namespace the test owns.

Topology (one random id per cluster; everything removed in `stop`, even after failures):

    root namespace  198.19.<k>.1/30 ──veth── 198.19.<k>.2/30  ppe-<id>  (no default route)
                                                              │ podplane0 10.42.0.1/24 (CNI bridge)
                                                     pods: ppe<id>-<uid> namespaces, 10.42.0.x

`podplane up` runs under `nsenter --net` in ppe-<id> (the mount namespace stays the
host's, so its overlay mounts and pod namespaces are visible for cleanup), listening on
198.19.<k>.2 with that address advertised in the kubeconfig, so kubectl and the Python
client in the test process reach it over the veth. The namespace has no route out, so
pods (and anything else in it) can reach only each other, the node and the test's end of
the veth. Its cgroup parent and pod namespace prefix are unique, and `stop` runs
`podplane killall` for them before deleting the namespace.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .conftest import Cluster

TINI = "/usr/bin/tini-static"


def missing_requirement() -> str:
    """Why this machine cannot run a real node, or ""."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, runc, cgroups, mounts)"
    for tool, package in (("runc", "runc"), ("ip", "iproute2"), ("nsenter", "util-linux")):
        if shutil.which(tool) is None:
            return f"{tool} not found: install the Debian package {package}"
    if not os.path.exists(TINI):
        return "tini-static not found: install the Debian package tini"
    for plugin in ("bridge", "host-local", "loopback", "portmap"):
        if not os.access(f"/usr/lib/cni/{plugin}", os.X_OK):
            return "CNI plugins missing: install the Debian package containernetworking-plugins"
    return ""


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done


class NodeCluster(Cluster):
    """`podplane up` in its own network namespace; see the module docstring."""

    def __init__(self, data_dir: Path, *, up_args: tuple[str, ...] = ()) -> None:
        super().__init__(data_dir)
        self.id = secrets.token_hex(3)
        self.netns = f"ppe-{self.id}"
        self.host_veth = f"ppe{self.id}h"
        self.ns_veth = f"ppe{self.id}n"
        k = int(self.id[:2], 16) % 250 + 1
        self.host_ip = f"198.19.{k}.1"
        self.node_ip = f"198.19.{k}.2"
        self.cgroup_parent = f"/podplane-e2e-{self.id}"
        self.netns_prefix = f"ppe{self.id}-"
        self.up_args = up_args
        self.node_name = f"node-{self.id}"

    @property
    def url(self) -> str:
        return f"https://{self.node_ip}:{self.port}"

    def _network(self) -> None:
        sh("ip", "netns", "add", self.netns)
        sh("ip", "link", "add", self.host_veth, "type", "veth", "peer", "name", self.ns_veth)
        sh("ip", "link", "set", self.ns_veth, "netns", self.netns)
        sh("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_veth)
        sh("ip", "link", "set", self.host_veth, "up")
        sh("ip", "-n", self.netns, "addr", "add", f"{self.node_ip}/30", "dev", self.ns_veth)
        sh("ip", "-n", self.netns, "link", "set", self.ns_veth, "up")
        sh("ip", "-n", self.netns, "link", "set", "lo", "up")
        routes = sh("ip", "-n", self.netns, "route", "show", "default").stdout.strip()
        if routes:
            raise RuntimeError(f"namespace {self.netns} unexpectedly has a default route: {routes}")

    def start(self, timeout: float = 60.0) -> None:
        self._network()
        self.port = 6443
        args = ["nsenter", f"--net=/var/run/netns/{self.netns}", sys.executable, "-m", "podplane", "up",
                "--data-dir", str(self.data_dir), "--port", str(self.port), "--bind-address", "0.0.0.0",
                "--advertise-address", self.node_ip, "--node-name", self.node_name,
                "--node-ip", self.node_ip, "--cgroup-parent", self.cgroup_parent,
                "--netns-prefix", self.netns_prefix, *self.up_args]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                     env=dict(os.environ, PODPLANE_LOG_LEVEL=os.environ.get(
                                         "PODPLANE_E2E_LOG_LEVEL", "INFO")))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"podplane up exited with {self.proc.returncode}:\n{self.logs()}")
            if self.kubeconfig.exists():
                out = self.kubectl("get", "nodes", "--no-headers", check=False).stdout
                if any(line.split()[:2] == [self.node_name, "Ready"] for line in out.splitlines()):
                    return
            time.sleep(0.3)
        raise RuntimeError(f"podplane up did not get a Ready node:\n{self.logs()}")

    def restart(self, timeout: float = 60.0) -> None:
        """Stop `podplane up` (containers keep running) and start it again on the same state."""
        self._stop_process(signal.SIGTERM)
        args = self.proc.args if self.proc is not None else None
        assert args is not None
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                     env=dict(os.environ, PODPLANE_LOG_LEVEL=os.environ.get(
                                         "PODPLANE_E2E_LOG_LEVEL", "INFO")))
        self.wait_for(lambda: self.kubectl("get", "--raw", "/readyz", check=False).returncode == 0,
                      timeout=timeout, what="the API server after restart")

    def _stop_process(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        try:
            self._stop_process(sig)
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        """Containers, cgroups, pod namespaces, mounts, then the namespace and the veth."""
        subprocess.run(["nsenter", f"--net=/var/run/netns/{self.netns}", sys.executable, "-m", "podplane",
                        "killall", "--data-dir", str(self.data_dir), "--cgroup-parent", self.cgroup_parent,
                        "--netns-prefix", self.netns_prefix], capture_output=True, text=True, timeout=120)
        sh("ip", "link", "delete", self.host_veth, check=False)
        sh("ip", "netns", "delete", self.netns, check=False)

    def exec_in_node(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a command in the node's network namespace (e.g. curl a pod IP)."""
        return subprocess.run(["nsenter", f"--net=/var/run/netns/{self.netns}", *argv], capture_output=True,
                              text=True, timeout=timeout)


# -- helpers for the tests on a real node ----------------------------------------------------------

def apply(c: Cluster, manifest: str) -> None:
    c.kubectl("apply", "-f", "-", input=manifest)


def pod(c: Cluster, name: str, namespace: str = "default") -> dict:
    import json

    out = c.kubectl("get", "pod", name, "-n", namespace, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def container_status(p: dict, name: str, *, init: bool = False) -> dict:
    key = "initContainerStatuses" if init else "containerStatuses"
    return next((s for s in (p.get("status") or {}).get(key) or [] if s["name"] == name), {})


def wait_pod(c: Cluster, name: str, predicate, *, timeout: float = 60.0, what: str = "") -> dict:
    """Poll the pod until `predicate(pod)` holds; returns the pod."""
    return c.wait_for(lambda: (lambda p: p if p and predicate(p) else None)(pod(c, name)), timeout=timeout,
                      what=what or f"pod {name}")


def running(p: dict) -> bool:
    return (p.get("status") or {}).get("phase") == "Running"


def ready(p: dict) -> bool:
    return any(cond.get("type") == "Ready" and cond.get("status") == "True"
               for cond in (p.get("status") or {}).get("conditions") or [])


def delete_pods(c: Cluster, *names: str) -> None:
    c.kubectl("delete", "pod", *names, "--grace-period=0", "--force", "--wait=false", "--ignore-not-found",
              check=False)
