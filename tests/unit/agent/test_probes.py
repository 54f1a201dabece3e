"""Probes: each probe kind against real loopback servers, and the workers' timing on virtual time.

`run_probe` tests use real 127.0.0.1 servers the test starts (aiohttp HTTP and HTTPS, a TCP
listener, a grpc.aio health server). `ProbeManager` tests run exec probes through a scripted
fake exec_fn on a virtual clock (no sleeping): every probe time is asserted exactly. One test
runs the manager on real time, scaled down, against a real HTTP server.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import ipaddress
import itertools
import socket
import ssl
import time

import pytest
from aiohttp import web

from podplane.agent.probes import (
    FAILURE,
    SUCCESS,
    UNKNOWN,
    WARNING,
    ProbeManager,
    ProbeResult,
    ProbeTarget,
    expand_command,
    go_quote,
    resolve_container_port,
    run_probe,
)

from .builders import T0

# ----------------------------------------------------------------------------- builders


def make_pod(container: dict, *, policy: str = "Always", sidecar: bool = False, **meta) -> dict:
    spec: dict = {"restartPolicy": policy, "containers": [] if sidecar else [container]}
    if sidecar:
        spec["containers"] = [{"name": "main", "image": "busybox"}]
        spec["initContainers"] = [{**container, "restartPolicy": "Always"}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "uid-p", **meta}, "spec": spec}


def make_container(name: str = "web", ports: list[dict] | None = None, **probes) -> dict:
    return {"name": name, "image": "busybox", "ports": ports or [], **probes}


def exec_probe(command: str, **fields) -> dict:
    return {"exec": {"command": ["sh", "-c", command]}, **fields}


def target(container: dict, *, pod: dict | None = None, started_at: float = T0, instance_id: str = "c1",
           pod_ip: str = "127.0.0.1") -> ProbeTarget:
    pod = pod or make_pod(container)
    spec_container = next(c for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]
                          if c["name"] == container["name"])
    return ProbeTarget(pod, spec_container, instance_id, pod_ip, started_at)


async def no_exec(instance_id: str, argv: list[str], limit: float) -> tuple[int, bytes]:
    raise AssertionError("exec_fn must not be called")


# ----------------------------------------------------------------------------- servers


@contextlib.asynccontextmanager
async def serve(app: web.Application, ssl_context: ssl.SSLContext | None = None):
    """Run `app` on 127.0.0.1 at a random port; yields the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def free_port() -> int:
    """A loopback port nothing listens on (bound then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """The requests a test server saw: (path, headers)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict]] = []

    def app(self, routes: dict) -> web.Application:
        app = web.Application()

        async def handle(request: web.Request) -> web.StreamResponse:
            self.requests.append((request.path_qs, dict(request.headers)))
            return await routes[request.path](request)

        for path in routes:
            app.router.add_get(path, handle)
        return app


def self_signed_context(tmp_path) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tls.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    return context


def text(body: str, status: int = 200):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=body, status=status)
    return handler


def redirect(location: str, status: int = 302, body: str = ""):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location}, text=body)
    return handler


# ----------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(("port", "expected"), [
    pytest.param(8080, 8080, id="number"),
    pytest.param("http", 8080, id="name"),
    pytest.param("9090", 9090, id="number-in-a-string"),
])
def test_ports_resolve_by_number_or_container_port_name(port, expected):
    container = make_container(ports=[{"name": "http", "containerPort": 8080}])
    assert resolve_container_port(port, container) == expected


@pytest.mark.parametrize(("port", "message"), [
    pytest.param("nope", 'strconv.Atoi: parsing "nope": invalid syntax', id="unknown-name"),
    pytest.param(0, "invalid port number: 0", id="zero"),
    pytest.param(70000, "invalid port number: 70000", id="too-large"),
])
def test_bad_ports_fail_with_upstream_errors(port, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        resolve_container_port(port, make_container())


def test_exec_commands_expand_literal_env_values_like_upstream():
    env = [{"name": "A", "value": "x"}, {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
    assert expand_command(["echo $(A)", "$(S)", "$(MISSING)", "$$(A)", "$x", "$(open"], env) == \
        ["echo x", "", "$(MISSING)", "$(A)", "$x", "$(open"]


def test_go_quote_matches_strconv_quote():
    assert go_quote('say "hi"\n\tend\\') == r'"say \"hi\"\n\tend\\"'
    assert go_quote("bad \udcff byte") == r'"bad \xff byte"'


# ----------------------------------------------------------------------------- exec


async def test_exec_probe_success_failure_and_output():
    calls = []

    async def exec_fn(instance_id, argv, limit):
        calls.append((instance_id, argv, limit))
        return (0, b"fine") if argv[-1] == "ok" else (2, b"x" * 20_000)

    c = make_container(env=[{"name": "WHAT", "value": "ok"}])
    assert await run_probe(exec_probe("$(WHAT)", timeoutSeconds=3), target(c), exec_fn) == \
        ProbeResult(SUCCESS, "fine")
    failed = await run_probe(exec_probe("no"), target(c), exec_fn)
    assert (failed.outcome, failed.output, failed.error) == (FAILURE, "x" * 10 * 1024, None)
    assert calls == [("c1", ["sh", "-c", "ok"], 3.0), ("c1", ["sh", "-c", "no"], 1.0)]


async def test_exec_timeout_is_a_failure_and_runtime_errors_are_errors():
    async def timing_out(instance_id, argv, limit):
        raise TimeoutError

    async def broken(instance_id, argv, limit):
        raise RuntimeError("container not running")

    c = make_container()
    assert await run_probe(exec_probe("sleep 9"), target(c), timing_out) == \
        ProbeResult(FAILURE, 'command "sh -c sleep 9" timed out')
    assert await run_probe(exec_probe("true"), target(c), broken) == \
        ProbeResult(UNKNOWN, "", "container not running")


# ----------------------------------------------------------------------------- httpGet


async def test_http_probe_success_sends_upstream_headers_to_the_named_port():
    seen = Recorder()
    async with serve(seen.app({"/healthz": text("ok")})) as port:
        c = make_container(ports=[{"name": "http", "containerPort": port}])
        probe = {"httpGet": {"path": "/healthz?full=1", "port": "http",
                             "httpHeaders": [{"name": "x-custom", "value": "1"}, {"name": "Host", "value": "web"}]}}
        assert await run_probe(probe, target(c), no_exec) == ProbeResult(SUCCESS, "ok")
    path, headers = seen.requests[0]
    assert path == "/healthz?full=1"
    assert (headers["User-Agent"], headers["Accept"], headers["X-Custom"], headers["Host"]) == \
        ("kube-probe/1.37", "*/*", "1", "web")


async def test_http_probe_host_overrides_the_pod_ip():
    seen = Recorder()
    async with serve(seen.app({"/": text("ok")})) as port:
        probe = {"httpGet": {"host": "localhost", "port": port}}
        assert (await run_probe(probe, target(make_container(), pod_ip="no-such-pod-ip.invalid"),
                                no_exec)).outcome == SUCCESS
    assert seen.requests[0][1]["Host"] == f"localhost:{port}"


async def test_http_probe_failure_status_hides_the_body():
    async with serve(Recorder().app({"/": text("secret details", status=500)})) as port:
        result = await run_probe({"httpGet": {"path": "/", "port": port}}, target(make_container()), no_exec)
    assert result == ProbeResult(FAILURE, "HTTP probe failed with statuscode: 500")


async def test_http_probe_follows_same_host_redirects_only():
    seen = Recorder()
    routes = {"/hop": redirect("/ok"), "/ok": text("landed"), "/away": redirect("", body="x" * 20_000)}
    async with serve(seen.app(routes)) as port:
        routes["/away"] = redirect(f"http://localhost:{port}/ok", body="y" * 20_000)
        c = make_container()
        assert await run_probe({"httpGet": {"path": "/hop", "port": port}}, target(c), no_exec) == \
            ProbeResult(SUCCESS, "landed")
        away = await run_probe({"httpGet": {"path": "/away", "port": port}}, target(c), no_exec)
    assert away.outcome == WARNING
    assert away.output == "Probe terminated redirects, Response body: " + "y" * 10 * 1024
    assert [p for p, _ in seen.requests] == ["/hop", "/ok", "/away"]


async def test_http_probe_stops_after_ten_redirects():
    seen = Recorder()
    async with serve(seen.app({"/loop": redirect("/loop")})) as port:
        result = await run_probe({"httpGet": {"path": "/loop", "port": port}}, target(make_container()), no_exec)
    assert result == ProbeResult(FAILURE, f'Get "http://127.0.0.1:{port}/loop": stopped after 10 redirects')
    assert len(seen.requests) == 10


async def test_http_probe_connection_refused_and_timeout_are_failures():
    port = free_port()
    refused = await run_probe({"httpGet": {"path": "/healthz", "port": port}}, target(make_container()), no_exec)
    assert refused == ProbeResult(
        FAILURE, f'Get "http://127.0.0.1:{port}/healthz": dial tcp 127.0.0.1:{port}: connect: connection refused')

    release = asyncio.Event()

    async def stuck(request):
        await release.wait()
        return web.Response(text="late")

    async with serve(Recorder().app({"/slow": stuck})) as port:
        slow = await run_probe({"httpGet": {"path": "/slow", "port": port}}, target(make_container()), no_exec,
                               time_limit=0.1)
        release.set()
    assert slow == ProbeResult(FAILURE, f'Get "http://127.0.0.1:{port}/slow": context deadline exceeded '
                                        "(Client.Timeout exceeded while awaiting headers)")


async def test_https_probe_does_not_verify_certificates(tmp_path):
    async with serve(Recorder().app({"/": text("tls ok")}), self_signed_context(tmp_path)) as port:
        probe = {"httpGet": {"path": "/", "port": port, "scheme": "HTTPS"}}
        assert await run_probe(probe, target(make_container()), no_exec) == ProbeResult(SUCCESS, "tls ok")


async def test_http_probe_with_an_unresolvable_port_name_errors():
    result = await run_probe({"httpGet": {"port": "metrics"}}, target(make_container()), no_exec)
    assert result == ProbeResult(UNKNOWN, "", 'strconv.Atoi: parsing "metrics": invalid syntax')


# ----------------------------------------------------------------------------- tcpSocket


async def test_tcp_probe_connects_to_the_named_port_and_reports_refusals():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        c = make_container(ports=[{"name": "db", "containerPort": port}])
        assert await run_probe({"tcpSocket": {"port": "db"}}, target(c), no_exec) == ProbeResult(SUCCESS)
        conn, _ = listener.accept()  # the probe's connection is queued (raises if it never came)
        conn.close()
    closed = await run_probe({"tcpSocket": {"port": port, "host": "127.0.0.1"}},
                             target(make_container(), pod_ip="no-such-pod-ip.invalid"), no_exec)
    assert closed == ProbeResult(FAILURE, f"dial tcp 127.0.0.1:{port}: connect: connection refused")


# ----------------------------------------------------------------------------- grpc


@contextlib.asynccontextmanager
async def grpc_server(with_health: bool = True):
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    if with_health:
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await servicer.set("db", health_pb2.HealthCheckResponse.NOT_SERVING)
    try:
        yield port
    finally:
        await server.stop(None)


async def test_grpc_probe_uses_the_standard_health_service():
    async with grpc_server() as port:
        c = make_container()
        assert await run_probe({"grpc": {"port": port}}, target(c), no_exec) == \
            ProbeResult(SUCCESS, "service healthy")
        assert await run_probe({"grpc": {"port": port, "service": "db"}}, target(c), no_exec) == \
            ProbeResult(FAILURE, 'service unhealthy (responded with "NOT_SERVING")')
        unknown = await run_probe({"grpc": {"port": port, "service": "cache"}}, target(c), no_exec)
    assert unknown.outcome == FAILURE
    assert unknown.output.startswith("error: health rpc probe failed: rpc error: code = NotFound desc = ")


async def test_grpc_probe_failures_without_a_health_service_or_a_server():
    async with grpc_server(with_health=False) as port:
        unimplemented = await run_probe({"grpc": {"port": port}}, target(make_container()), no_exec)
    assert unimplemented.outcome == FAILURE
    assert unimplemented.output.startswith("error: this server does not implement the grpc health protocol "
                                           "(grpc.health.v1.Health)")
    port = free_port()
    nobody = await run_probe({"grpc": {"port": port}, "timeoutSeconds": 2}, target(make_container()), no_exec,
                             time_limit=0.2)
    assert nobody == ProbeResult(FAILURE, f'timeout: failed to connect service "127.0.0.1:{port}" within 2s: '
                                          "context deadline exceeded")


# ----------------------------------------------------------------------------- workers on virtual time


class VirtualTime:
    """A clock and a sleep that only move when the test advances time; no real waiting."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self._sleepers: list[tuple[float, int, asyncio.Future]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(delay, 0.0), next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move to now + seconds, waking each sleeper at its due time and letting the loop settle."""
        end = self.now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= end:
            due, _, future = heapq.heappop(self._sleepers)
            if future.done():
                continue
            self.now = max(self.now, due)
            future.set_result(None)
            await settle()
        self.now = end
        await settle()


async def settle() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


class ScriptedExec:
    """exec_fn whose exit codes come from per-command scripts (the last one repeats); records call times."""

    def __init__(self, clock: VirtualTime, **scripts: list) -> None:
        self.clock = clock
        self.scripts = scripts
        self.calls: list[tuple[str, float]] = []

    async def __call__(self, instance_id: str, argv: list[str], limit: float) -> tuple[int, bytes]:
        name = argv[-1]
        self.calls.append((name, self.clock.now - T0))
        script = self.scripts[name]
        step = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(step, BaseException):
            raise step
        return step, b"" if step == 0 else f"{name} said no".encode()

    def times(self, name: str) -> list[float]:
        return [t for n, t in self.calls if n == name]


class Harness:
    def __init__(self, **scripts: list) -> None:
        self.time = VirtualTime()
        self.exec = ScriptedExec(self.time, **scripts)
        self.changes: list[str] = []
        self.unhealthy: list[tuple[str, str]] = []
        self.events: list[tuple[str, str, str, str]] = []
        self.manager = ProbeManager(
            exec_fn=self.exec, on_change=self.changes.append,
            on_unhealthy=lambda t, message: self.unhealthy.append((t.instance_id, message)),
            on_event=lambda pod, kind, reason, message, path: self.events.append((kind, reason, message, path)),
            clock=self.time, sleep=self.time.sleep)


@pytest.fixture
async def harness_factory():
    made: list[Harness] = []

    def make(**scripts: list) -> Harness:
        made.append(Harness(**scripts))
        return made[-1]

    yield make
    for h in made:
        await h.manager.close()


async def test_first_probe_runs_exactly_after_the_initial_delay_then_every_period(harness_factory):
    h = harness_factory(live=[0])
    c = make_container(livenessProbe=exec_probe("live", initialDelaySeconds=5, periodSeconds=10))
    h.manager.add(target(c))
    await h.time.advance(4.5)
    assert h.exec.calls == []
    await h.time.advance(20.5)
    assert h.exec.times("live") == [5.0, 15.0, 25.0]


async def test_a_container_started_long_ago_is_probed_at_once(harness_factory):
    h = harness_factory(ready=[0])
    c = make_container(readinessProbe=exec_probe("ready", initialDelaySeconds=30))
    h.manager.add(target(c, started_at=T0 - 100))
    await h.time.advance(0)
    assert h.exec.times("ready") == [0.0]
    assert h.manager.ready("c1")


async def test_readiness_follows_thresholds_and_reports_only_changes(harness_factory):
    h = harness_factory(ready=[1, 0, 0, 1, 1, 0])
    c = make_container(readinessProbe=exec_probe("ready", periodSeconds=1, failureThreshold=2))
    h.manager.add(target(c))
    observed = []
    for _ in range(6):
        await h.time.advance(0 if not observed else 1)
        observed.append(h.manager.ready("c1"))
    assert observed == [False, True, True, True, False, True]
    assert h.changes == ["uid-p", "uid-p", "uid-p"]
    assert [e for e in h.events if e[1] == "Unhealthy"] == \
        [("Warning", "Unhealthy", "Readiness probe failed: ready said no", "spec.containers{web}")] * 3
    assert h.unhealthy == []


async def test_readiness_success_threshold_needs_consecutive_successes(harness_factory):
    h = harness_factory(ready=[0, 1, 0, 0])
    c = make_container(readinessProbe=exec_probe("ready", periodSeconds=1, successThreshold=2))
    h.manager.add(target(c))
    observed = []
    for step in range(4):
        await h.time.advance(0 if step == 0 else 1)
        observed.append(h.manager.ready("c1"))
    assert observed == [False, False, False, True]
    assert h.changes == ["uid-p"]


async def test_liveness_failure_threshold_reports_unhealthy_once_and_pauses(harness_factory):
    h = harness_factory(live=[0, 1, 0, 1, 1, 1])
    c = make_container(livenessProbe=exec_probe("live", periodSeconds=2, terminationGracePeriodSeconds=7))
    h.manager.add(target(c))
    await h.time.advance(8)
    assert h.unhealthy == []
    assert h.manager.probe_termination_grace("c1") is None
    assert h.manager.ready("c1")  # no readiness probe: ready while it runs
    await h.time.advance(2)
    assert h.unhealthy == [("c1", "Container web failed liveness probe, will be restarted")]
    assert h.manager.probe_termination_grace("c1") == 7.0
    await h.time.advance(60)
    h.manager.remove("c1")
    assert h.manager.probe_termination_grace("c1") == 7.0  # the kill may come after remove()
    assert h.exec.times("live") == [0, 2, 4, 6, 8, 10]
    assert len(h.unhealthy) == 1
    assert [m for _, r, m, _ in h.events if r == "Unhealthy"] == ["Liveness probe failed: live said no"] * 4
    assert h.changes == []  # liveness never changes readiness or started


async def test_startup_probe_gates_readiness_and_liveness(harness_factory):
    h = harness_factory(start=[1, 1, 0], ready=[0], live=[0])
    c = make_container(startupProbe=exec_probe("start", periodSeconds=3, failureThreshold=5),
                       readinessProbe=exec_probe("ready", periodSeconds=10),
                       livenessProbe=exec_probe("live", periodSeconds=10))
    h.manager.add(target(c))
    await h.time.advance(5)
    assert (h.manager.started("c1"), h.manager.ready("c1")) == (False, False)
    assert h.exec.times("ready") == h.exec.times("live") == []
    await h.time.advance(1)
    assert h.exec.times("start") == [0, 3, 6]
    assert (h.manager.started("c1"), h.manager.ready("c1")) == (True, True)
    # Readiness is triggered at once on start, liveness waits for its own tick.
    assert h.exec.times("ready") == [6.0]
    assert h.changes == ["uid-p", "uid-p"]  # started, then ready
    await h.time.advance(20)
    assert h.exec.times("start") == [0, 3, 6]
    assert h.exec.times("ready") == [6.0, 10.0, 20.0]
    assert h.exec.times("live") == [10.0, 20.0]


async def test_an_early_start_still_waits_for_the_readiness_initial_delay(harness_factory):
    h = harness_factory(start=[0], ready=[0])
    c = make_container(startupProbe=exec_probe("start", periodSeconds=1),
                       readinessProbe=exec_probe("ready", initialDelaySeconds=5, periodSeconds=10))
    h.manager.add(target(c))
    await h.time.advance(4.5)
    assert (h.manager.started("c1"), h.manager.ready("c1")) == (True, False)
    await h.time.advance(11)
    assert h.exec.times("start") == [0]
    assert h.exec.times("ready") == [5.0, 15.0]


async def test_startup_failures_make_the_container_unhealthy(harness_factory):
    h = harness_factory(start=[1], ready=[0], live=[0])
    c = make_container(startupProbe=exec_probe("start", periodSeconds=1, failureThreshold=3,
                                               terminationGracePeriodSeconds=2),
                       readinessProbe=exec_probe("ready"), livenessProbe=exec_probe("live"))
    h.manager.add(target(c, pod=make_pod(c, policy="Never")))
    await h.time.advance(30)
    assert h.exec.times("start") == [0, 1, 2]
    assert h.unhealthy == [("c1", "Container web failed startup probe")]  # restartPolicy Never
    assert h.manager.probe_termination_grace("c1") == 2.0
    assert h.exec.times("ready") == h.exec.times("live") == []
    assert [m for _, _, m, _ in h.events] == ["Startup probe failed: start said no"] * 3


async def test_sidecar_liveness_failure_uses_the_init_container_message(harness_factory):
    h = harness_factory(live=[1])
    c = make_container("proxy", livenessProbe=exec_probe("live", periodSeconds=1, failureThreshold=1))
    h.manager.add(target(c, pod=make_pod(c, sidecar=True)))
    await h.time.advance(0)
    assert h.unhealthy == [("c1", "Init container proxy failed liveness probe")]
    assert h.events[0][3] == "spec.initContainers{proxy}"


async def test_containers_without_probes_are_started_and_ready_at_once(harness_factory):
    h = harness_factory(start=[1])
    h.manager.add(target(make_container(), instance_id="plain"))
    h.manager.add(target(make_container(startupProbe=exec_probe("start")), instance_id="slow"))
    assert (h.manager.started("plain"), h.manager.ready("plain")) == (True, True)
    assert (h.manager.started("slow"), h.manager.ready("slow")) == (False, False)
    assert (h.manager.started("unknown"), h.manager.ready("unknown")) == (False, False)


async def test_probe_errors_are_retried_reported_and_thrown_away(harness_factory):
    h = harness_factory(live=[RuntimeError("exec failed: container is stopping")])
    c = make_container(livenessProbe=exec_probe("live", periodSeconds=1, failureThreshold=1))
    h.manager.add(target(c))
    await h.time.advance(1)
    assert h.exec.times("live") == [0, 0, 0, 1, 1, 1]  # three attempts per period
    assert h.unhealthy == []
    assert h.events == [("Warning", "Unhealthy", "Liveness probe errored and resulted in unknown state: "
                                                 "exec failed: container is stopping", "spec.containers{web}")] * 2


async def test_exec_timeouts_are_failures(harness_factory):
    h = harness_factory(ready=[TimeoutError()])
    h.manager.add(target(make_container(readinessProbe=exec_probe("ready"))))
    await h.time.advance(0)
    assert h.events == [("Warning", "Unhealthy", 'Readiness probe failed: command "sh -c ready" timed out',
                         "spec.containers{web}")]


async def test_remove_stops_probing_and_the_instance_is_no_longer_ready(harness_factory):
    h = harness_factory(ready=[0])
    h.manager.add(target(make_container(readinessProbe=exec_probe("ready", periodSeconds=1))))
    h.manager.add(target(make_container(readinessProbe=exec_probe("ready", periodSeconds=1))))  # idempotent
    await h.time.advance(2)
    assert h.manager.ready("c1")
    assert h.exec.times("ready") == [0, 1, 2]
    h.manager.remove("c1")
    assert not h.manager.ready("c1")
    await h.time.advance(5)
    assert h.exec.times("ready") == [0, 1, 2]
    assert h.changes == ["uid-p"]


async def test_a_deleted_pod_stops_liveness_probing_quietly(harness_factory):
    h = harness_factory(live=[1], ready=[0])
    c = make_container(livenessProbe=exec_probe("live", periodSeconds=1, failureThreshold=3),
                       readinessProbe=exec_probe("ready", periodSeconds=1))
    h.manager.add(target(c))
    await h.time.advance(1)
    deleting = make_pod(c, deletionTimestamp="2027-01-15T08:00:30Z")
    h.manager.add(target(c, pod=deleting))
    await h.time.advance(5)
    assert h.exec.times("live") == [0, 1]
    assert h.unhealthy == []
    assert h.exec.times("ready") == [0, 1, 2, 3, 4, 5, 6]  # readiness keeps running while terminating


# ----------------------------------------------------------------------------- workers on real time


async def test_manager_probes_http_readiness_on_a_scaled_clock():
    status = {"code": 200}

    async def health(request):
        return web.Response(status=status["code"], text="body")

    changed = asyncio.Event()
    events: list[str] = []
    manager = ProbeManager(exec_fn=no_exec, on_change=lambda uid: changed.set(),
                           on_unhealthy=lambda t, m: None, on_event=lambda pod, k, r, m, p: events.append(m),
                           time_scale=0.01)
    try:
        async with serve(Recorder().app({"/ready": health})) as port:
            c = make_container(ports=[{"name": "http", "containerPort": port}],
                               readinessProbe={"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 1,
                                               "timeoutSeconds": 100, "failureThreshold": 1})
            manager.add(ProbeTarget(make_pod(c), c, "c1", "127.0.0.1", started_at=time.time()))
            await asyncio.wait_for(changed.wait(), 5)
            assert manager.ready("c1")
            changed.clear()
            status["code"] = 503
            await asyncio.wait_for(changed.wait(), 5)
            assert not manager.ready("c1")
    finally:
        await manager.close()
    assert "Readiness probe failed: HTTP probe failed with statuscode: 503" in events


async def test_a_redirect_elsewhere_is_a_probe_warning_and_counts_as_success():
    changed = asyncio.Event()
    events: list[tuple[str, str, str]] = []
    manager = ProbeManager(exec_fn=no_exec, on_change=lambda uid: changed.set(), on_unhealthy=lambda t, m: None,
                           on_event=lambda pod, kind, reason, message, path: events.append((reason, message, path)),
                           time_scale=0.01)
    routes = {"/moved": redirect("/")}
    try:
        async with serve(Recorder().app(routes)) as port:
            routes["/moved"] = redirect(f"http://localhost:{port}/", body="moved")
            c = make_container(readinessProbe={"httpGet": {"path": "/moved", "port": port}, "timeoutSeconds": 100})
            manager.add(ProbeTarget(make_pod(c), c, "c1", "127.0.0.1", started_at=time.time()))
            await asyncio.wait_for(changed.wait(), 5)
            assert manager.ready("c1")
    finally:
        await manager.close()
    assert events[0] == ("ProbeWarning", "Readiness probe warning: Probe terminated redirects, Response body: moved",
                         "spec.containers{web}")
