"""Container probes: startup, readiness and liveness, run the way the kubelet's prober does.

`ProbeManager` (upstream `pkg/kubelet/prober`) runs one asyncio worker per probe of each
container instance the runtime adapter `add`s. A worker probes at `started_at +
initialDelaySeconds`, then every `periodSeconds`; readiness and liveness wait until the
startup probe has succeeded; a result only counts after `successThreshold` /
`failureThreshold` equal results in a row; probe errors (a port name that resolves
nowhere, a failing exec call) are retried twice, reported and thrown away. A changed
readiness or started state calls `on_change(pod_uid)`; liveness or startup failure calls
`on_unhealthy(target, "Container web failed liveness probe, will be restarted")` once and
pauses the worker until the instance is removed. Events ("Unhealthy", "ProbeWarning") carry
upstream's messages and go to `on_event`.

`run_probe` runs one probe once (upstream `prober.runProbe`): exec through the runtime's
`exec_fn`, httpGet with aiohttp (no certificate checks, same-host redirects followed,
"kube-probe/<major>.<minor>"), tcpSocket with a plain connect, grpc with the standard
`grpc.health.v1` client. `hooks` (lifecycle handlers) reuses its HTTP and port helpers.
Neighbours: the runtime adapter feeds it and asks `ready`/`started` when it builds the
status (`agent.podstatus`); nothing here talks to the API server.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import yarl
from multidict import CIMultiDict

from podplane.agent.nodestatus import KUBELET_VERSION
from podplane.agent.podstatus import go_duration, is_sidecar, pod_ref

__all__ = [
    "FAILURE",
    "HTTP_RESPONSE_TO_HTTPS",
    "MAX_BODY",
    "SUCCESS",
    "UNKNOWN",
    "WARNING",
    "BodyReadError",
    "ExecFn",
    "NetError",
    "ProbeManager",
    "ProbeResult",
    "ProbeTarget",
    "build_http_request",
    "container_field_path",
    "dial_tcp",
    "do_http_get",
    "expand_command",
    "go_quote",
    "http_session",
    "join_host_port",
    "resolve_container_port",
    "run_probe",
    "user_agent",
]

log = logging.getLogger(__name__)

ExecFn = Callable[[str, list[str], float], Awaitable[tuple[int, bytes]]]
"""(instance_id, argv, timeout) -> (exit code, combined output); raises TimeoutError on timeout."""

# probe.Result values, as upstream prints them ("... resulted in unknown state").
SUCCESS = "success"
WARNING = "warning"
FAILURE = "failure"
UNKNOWN = "unknown"

MAX_BODY = 10 * 1024
"""Upstream reads at most 10 KiB of exec output and of HTTP response bodies."""
MAX_PROBE_RETRIES = 3
"""Upstream `maxProbeRetries`: a probe that *errors* is run up to three times in a row."""
MAX_REDIRECTS = 10
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
HTTP_RESPONSE_TO_HTTPS = "http: server gave HTTP response to HTTPS client"
_PLAINTEXT_REPLY = frozenset({"WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE"})
_EXEC_GRACE = 1.0
"""Seconds past the probe timeout before a hanging exec_fn is given up on (it should raise first)."""


def user_agent(purpose: str) -> str:
    """`kube-<purpose>/<major>.<minor>`: "kube-probe/1.37", "kube-lifecycle/1.37" (upstream userAgent)."""
    major, minor = KUBELET_VERSION.lstrip("v").split(".")[:2]
    return f"kube-{purpose}/{major}.{minor}"


@dataclass(frozen=True)
class ProbeTarget:
    """One container instance to probe."""

    pod: dict
    container: dict
    """The container spec (livenessProbe, readinessProbe, startupProbe, ports, env)."""
    instance_id: str
    """Runtime container id, unique per container instance (attempt)."""
    pod_ip: str
    """Where httpGet/tcpSocket/grpc connect (the host IP for hostNetwork pods); httpGet.host overrides."""
    started_at: float
    """Wall-clock time the container started; initialDelaySeconds counts from here."""


@dataclass(frozen=True)
class ProbeResult:
    """One probe run: upstream's (probe.Result, output, error)."""

    outcome: str
    output: str = ""
    error: str | None = None
    """Set when the probe *errored* (Go err != nil): the result is reported, then thrown away."""


class NetError(Exception):
    """A dial or an HTTP GET failed before a response; the text is Go's error text."""


class BodyReadError(NetError):
    """The response came but reading its body failed (upstream: a probe error, not a failure)."""


# ----------------------------------------------------------------------------- helpers


def go_quote(text: str) -> str:
    """Go's %q of a string (strconv.Quote); undecodable bytes (surrogate escapes) become \\xNN."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def _printable(text: str) -> str:
    """Output as it goes into an event: undecodable bytes replaced, like a Go string printed with %s."""
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


def join_host_port(host: str, port: int) -> str:
    """Go's net.JoinHostPort: IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def container_field_path(pod: dict, container: dict) -> str:
    """The event's fieldPath: spec.containers{name} or spec.initContainers{name}."""
    name = container.get("name", "")
    spec = pod.get("spec") or {}
    for key in ("initContainers", "ephemeralContainers"):
        if any(c.get("name") == name for c in spec.get(key) or []):
            return f"spec.{key}{{{name}}}"
    return f"spec.containers{{{name}}}"


def resolve_container_port(port: int | str | None, container: dict) -> int:
    """Upstream probe.ResolveContainerPort: a number, a container port name, or a number in a string.

    Raises ValueError with Go's error text ("strconv.Atoi: parsing \"http\": invalid syntax",
    "invalid port number: 0").
    """
    if isinstance(port, bool) or port is None:
        raise ValueError(f"intOrString had no kind: {port!r}")
    if isinstance(port, int):
        number = port
    else:
        for spec in container.get("ports") or []:
            if spec.get("name", "") == port:
                number = int(spec.get("containerPort", 0))
                break
        else:
            # Last ditch effort, as upstream: maybe it was an int stored as a string.
            if not (port.isascii() and port.lstrip("+-").isdigit()):
                raise ValueError(f"strconv.Atoi: parsing {go_quote(port)}: invalid syntax")
            number = int(port)
    if 0 < number < 65536:
        return number
    raise ValueError(f"invalid port number: {number}")


def expand_command(command: list[str], env: list[dict]) -> list[str]:
    """Upstream ExpandContainerCommandOnlyStatic: $(VAR) from the container's literal env values.

    valueFrom variables expand to "", unknown references stay as written, $$ escapes a $.
    """
    mapping = {e.get("name", ""): e.get("value", "") for e in env or []}
    return [_expand(arg, mapping) for arg in command]


def _expand(text: str, mapping: dict[str, str]) -> str:
    out: list[str] = []
    checkpoint = cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            rest = text[cursor + 1:]
            if rest[0] == "$":
                out.append("$")
                advance = 1
            elif rest[0] == "(":
                close = rest.find(")", 1)
                if close >= 0:
                    name = rest[1:close]
                    out.append(mapping[name] if name in mapping else f"$({name})")
                    advance = close + 1
                else:
                    out.append("$(")
                    advance = 1
            else:
                out.append("$" + rest[0])
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def _os_error_text(err: OSError) -> str:
    """A socket error as Go's syscall.Errno prints it: "connection refused"."""
    if err.errno:
        text = os.strerror(err.errno)
        return text[:1].lower() + text[1:]
    return str(err) or type(err).__name__


# ----------------------------------------------------------------------------- HTTP


def http_session() -> aiohttp.ClientSession:
    """A client like upstream's prober transport: no keep-alive, no certificate checks, no cookies.

    Proxies from the environment are never used (trust_env stays off).
    """
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True, ssl=False),
                                 cookie_jar=aiohttp.DummyCookieJar())


def build_http_request(http_get: dict, container: dict, pod_ip: str, purpose: str
                       ) -> tuple[yarl.URL, CIMultiDict[str], frozenset[str]]:
    """Upstream NewRequestForHTTPGetAction: (url, headers, auto headers to leave out).

    Raises ValueError (Go's text) when the port does not resolve.
    """
    scheme = (http_get.get("scheme") or "HTTP").lower()
    host = http_get.get("host") or pod_ip
    port = resolve_container_port(http_get.get("port"), container)
    path = http_get.get("path") or ""
    if not path.startswith("/"):
        path = "/" + path
    url = yarl.URL(f"{scheme}://{join_host_port(host, port)}{path}", encoded=True)
    headers: CIMultiDict[str] = CIMultiDict()
    for header in http_get.get("httpHeaders") or []:
        headers.add(_canonical_header(header.get("name", "")), header.get("value", ""))
    skip: set[str] = set()
    if "User-Agent" not in headers:
        headers["User-Agent"] = user_agent(purpose)
    elif not headers["User-Agent"]:
        # Go sends no User-Agent at all when it is set to "".
        del headers["User-Agent"]
        skip.add("User-Agent")
    if "Accept" not in headers:
        headers["Accept"] = "*/*"
    elif not headers["Accept"]:
        # Accept overridden but empty: removed, as upstream.
        del headers["Accept"]
        skip.add("Accept")
    return url, headers, frozenset(skip)


_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _canonical_header(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: "x-custom" goes on the wire as "X-Custom"."""
    if not name or any(ch not in _TOKEN for ch in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


async def do_http_get(session: aiohttp.ClientSession, url: yarl.URL, headers: CIMultiDict[str],
                      skip_auto_headers: frozenset[str] = frozenset(), *, time_limit: float | None,
                      follow_non_local_redirects: bool = False) -> tuple[int, bytes]:
    """GET `url` like the prober's Go client: (status, first 10 KiB of the body).

    Redirects to the same host name are followed (at most 10), a redirect elsewhere ends the
    chain with the 3xx response (upstream RedirectChecker(false)). Raises NetError with
    Go's error text on connection errors and timeouts (the whole exchange shares `time_limit`).
    """
    phase = "headers"
    current = url
    hops = 0
    try:
        async with asyncio.timeout(time_limit):
            while True:
                phase = "headers"
                async with session.get(current, headers=headers, allow_redirects=False,
                                       skip_auto_headers=skip_auto_headers or None) as resp:
                    location = resp.headers.get("Location")
                    if resp.status in _REDIRECT_CODES and location is not None:
                        target = current.join(yarl.URL(location))
                        if not follow_non_local_redirects and target.host != url.host:
                            phase = "body"
                            return resp.status, await _read_at_most(resp, MAX_BODY)
                        hops += 1
                        if hops >= MAX_REDIRECTS:
                            raise NetError(f"Get {go_quote(str(current))}: stopped after {MAX_REDIRECTS} redirects")
                        headers = _redirect_headers(headers, location)
                        current = target
                        continue
                    phase = "body"
                    return resp.status, await _read_at_most(resp, MAX_BODY)
    except NetError:
        raise
    except TimeoutError as e:
        if phase == "headers":
            reason = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        else:
            reason = "context deadline exceeded (Client.Timeout or context cancellation while reading body)"
        error: BaseException = e
    except aiohttp.ClientConnectorError as e:
        error = e
        if isinstance(e, aiohttp.ClientSSLError):
            # OpenSSL reading "HTTP/1.1 ..." where a TLS record belongs is Go's plain-HTTP answer.
            plain = getattr(e.os_error, "reason", None) in _PLAINTEXT_REPLY
            reason = HTTP_RESPONSE_TO_HTTPS if plain else str(e.os_error)
        elif isinstance(e.os_error, socket.gaierror):
            reason = f"dial tcp: lookup {e.host}: no such host"
        else:
            reason = f"dial tcp {join_host_port(e.host, e.port)}: connect: {_os_error_text(e.os_error)}"
    except aiohttp.ServerDisconnectedError as e:
        reason, error = ("EOF" if phase == "headers" else "unexpected EOF"), e
    except (aiohttp.ClientError, OSError) as e:
        reason, error = str(e), e
    kind = NetError if phase == "headers" else BodyReadError
    raise kind(f"Get {go_quote(str(current))}: {reason}") from error


def _redirect_headers(headers: CIMultiDict[str], location: str) -> CIMultiDict[str]:
    """Go keeps a custom Host header through a redirect only when the Location is relative."""
    if "Host" in headers and yarl.URL(location).is_absolute():
        headers = headers.copy()
        del headers["Host"]
    return headers


async def _read_at_most(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await resp.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


# ----------------------------------------------------------------------------- one probe


async def run_probe(probe: dict, target: ProbeTarget, exec_fn: ExecFn, *, time_limit: float | None = None,
                    session: aiohttp.ClientSession | None = None) -> ProbeResult:
    """Run `probe` (a v1.Probe) once against `target`: upstream prober.runProbe plus the probers.

    `time_limit` overrides the seconds actually waited (default: timeoutSeconds); messages keep
    quoting timeoutSeconds. `session` is reused for httpGet when given.
    """
    timeout_seconds = int(probe.get("timeoutSeconds") or 1)
    limit = float(timeout_seconds) if time_limit is None else time_limit
    container = target.container
    if isinstance(probe.get("exec"), dict):
        return await _exec_probe(probe["exec"], target, exec_fn, limit)
    if isinstance(probe.get("httpGet"), dict):
        try:
            url, headers, skip = build_http_request(probe["httpGet"], container, target.pod_ip, "probe")
        except ValueError as e:
            return ProbeResult(UNKNOWN, "", str(e))
        own = session is None
        client = http_session() if own else session
        try:
            return await _http_probe(client, url, headers, skip, limit)
        finally:
            if own:
                await client.close()
    if isinstance(probe.get("tcpSocket"), dict):
        tcp = probe["tcpSocket"]
        try:
            port = resolve_container_port(tcp.get("port"), container)
        except ValueError as e:
            return ProbeResult(UNKNOWN, "", str(e))
        try:
            await dial_tcp(tcp.get("host") or target.pod_ip, port, limit)
        except NetError as e:
            return ProbeResult(FAILURE, str(e))
        return ProbeResult(SUCCESS)
    if isinstance(probe.get("grpc"), dict):
        grpc_spec = probe["grpc"]
        return await _grpc_probe(target.pod_ip, int(grpc_spec.get("port") or 0), grpc_spec.get("service") or "",
                                 limit, go_duration(timeout_seconds))
    return ProbeResult(UNKNOWN, "", f"missing probe handler for {pod_ref(target.pod)}:{container.get('name', '')}")


async def _exec_probe(action: dict, target: ProbeTarget, exec_fn: ExecFn, limit: float) -> ProbeResult:
    command = expand_command(list(action.get("command") or []), target.container.get("env") or [])
    try:
        # exec_fn should raise TimeoutError itself; the outer bound only guards against a hang.
        code, output = await asyncio.wait_for(exec_fn(target.instance_id, command, limit),
                                              limit + _EXEC_GRACE)
    except TimeoutError:
        return ProbeResult(FAILURE, f"command {go_quote(' '.join(command))} timed out")
    except Exception as e:  # the runtime could not exec at all: an error, retried and thrown away
        return ProbeResult(UNKNOWN, "", str(e) or type(e).__name__)
    text = _printable(_decode(output[:MAX_BODY]))
    return ProbeResult(SUCCESS if code == 0 else FAILURE, text)


async def _http_probe(session: aiohttp.ClientSession, url: yarl.URL, headers: CIMultiDict[str],
                      skip: frozenset[str], limit: float) -> ProbeResult:
    """Upstream DoHTTPProbe: 2xx success, 3xx (a redirect not followed) a warning, else failure."""
    try:
        status, body = await do_http_get(session, url, headers, skip, time_limit=limit)
    except BodyReadError as e:
        return ProbeResult(FAILURE, "", str(e))
    except NetError as e:
        return ProbeResult(FAILURE, str(e))
    text = _printable(_decode(body))
    if 200 <= status < 400:
        if status >= 300:
            return ProbeResult(WARNING, f"Probe terminated redirects, Response body: {text}")
        return ProbeResult(SUCCESS, text)
    # Upstream keeps the body out of the message (https://issue.k8s.io/99425).
    return ProbeResult(FAILURE, f"HTTP probe failed with statuscode: {status}")


async def dial_tcp(host: str, port: int, limit: float) -> None:
    """Connect and close at once (upstream DoTCPProbe, SO_LINGER 1 s); raises NetError with Go's text."""
    loop = asyncio.get_running_loop()
    addr = join_host_port(host, port)
    try:
        async with asyncio.timeout(limit):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            error: OSError = OSError(f"no address for {host}")
            for family, kind, proto, _, sockaddr in infos:
                sock = socket.socket(family, kind, proto)
                try:
                    sock.setblocking(False)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 1))
                    await loop.sock_connect(sock, sockaddr)
                    return
                except TimeoutError:
                    raise
                except OSError as e:
                    error = e
                finally:
                    sock.close()
            raise error
    except TimeoutError as e:
        raise NetError(f"dial tcp {addr}: i/o timeout") from e
    except socket.gaierror as e:
        raise NetError(f"dial tcp: lookup {host}: no such host") from e
    except OSError as e:
        raise NetError(f"dial tcp {addr}: connect: {_os_error_text(e)}") from e


_GO_CODES = {"CANCELLED": "Canceled"}


def _go_code(code) -> str:
    """A grpc.StatusCode as Go's codes.Code prints it (NOT_FOUND -> NotFound)."""
    name = code.name
    return _GO_CODES.get(name) or ("OK" if name == "OK" else "".join(p.capitalize() for p in name.split("_")))


async def _grpc_probe(host: str, port: int, service: str, limit: float, timeout_text: str) -> ProbeResult:
    """Upstream grpcprobe: block until connected, then grpc.health.v1.Health/Check, one deadline for both."""
    import grpc  # imported on first use: most agents never run a grpc probe
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    addr = join_host_port(host, port)
    options = [("grpc.primary_user_agent", user_agent("probe")), ("grpc.enable_http_proxy", 0),
               ("grpc.enable_retries", 0)]
    channel = grpc.aio.insecure_channel(addr, options=options)
    try:
        try:
            await asyncio.wait_for(channel.channel_ready(), limit)
        except TimeoutError:
            return ProbeResult(FAILURE, f"timeout: failed to connect service {go_quote(addr)} within "
                                        f"{timeout_text}: context deadline exceeded")
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            resp = await stub.Check(health_pb2.HealthCheckRequest(service=service),
                                    timeout=max(deadline - loop.time(), 0.001))
        except grpc.aio.AioRpcError as e:
            code = e.code()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return ProbeResult(FAILURE, "error: this server does not implement the grpc health protocol "
                                            f"(grpc.health.v1.Health): {e.details() or ''}")
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return ProbeResult(FAILURE, f"timeout: health rpc did not complete within {timeout_text}")
            return ProbeResult(FAILURE, "error: health rpc probe failed: "
                                        f"rpc error: code = {_go_code(code)} desc = {e.details() or ''}")
        if resp.status != health_pb2.HealthCheckResponse.SERVING:
            name = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
            return ProbeResult(FAILURE, f"service unhealthy (responded with {go_quote(name)})")
        return ProbeResult(SUCCESS, "service healthy")
    finally:
        await channel.close()


# ----------------------------------------------------------------------------- workers

_PROBES = (("startup", "startupProbe", "Startup"), ("readiness", "readinessProbe", "Readiness"),
           ("liveness", "livenessProbe", "Liveness"))
# Results-manager values before the first counted result (upstream worker.initialValue).
_INITIAL = {"startup": UNKNOWN, "readiness": FAILURE, "liveness": SUCCESS}
_REMOVED_GRACE_KEPT = 1024


@dataclass
class _Worker:
    kind: str
    label: str
    spec: dict
    result: str
    last: str | None = None
    run: int = 0
    trigger: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None


@dataclass
class _Instance:
    target: ProbeTarget
    workers: dict[str, _Worker]
    removed: bool = False


class ProbeManager:
    """Probe workers for the container instances of one agent (upstream prober.Manager)."""

    def __init__(self, *, exec_fn: ExecFn, on_change: Callable[[str], None],
                 on_unhealthy: Callable[[ProbeTarget, str], None],
                 on_event: Callable[[dict, str, str, str, str], None],
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 time_scale: float = 1.0) -> None:
        """`clock` and `sleep` are injected for tests; `time_scale` multiplies every probe duration
        (initial delay, period, timeout) so tests can run a 1 s period in 10 ms. Messages keep
        quoting the spec's seconds."""
        self._exec_fn = exec_fn
        self._on_change = on_change
        self._on_unhealthy = on_unhealthy
        self._on_event = on_event
        self._clock = clock
        self._sleep = sleep
        self._scale = time_scale
        self._instances: dict[str, _Instance] = {}
        # Probe grace periods of failed instances already removed, for a kill that comes after
        # remove(); bounded, oldest first out.
        self._removed_grace: dict[str, float] = {}
        self._session: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------------ public API

    def add(self, target: ProbeTarget) -> None:
        """Start the probe workers of a container instance (idempotent).

        Adding a known instance again only refreshes its pod object: a deletionTimestamp stops
        liveness and startup probing, as upstream.
        """
        inst = self._instances.get(target.instance_id)
        if inst is not None:
            inst.target = target
            return
        workers = {kind: _Worker(kind, label, target.container[key], _INITIAL[kind])
                   for kind, key, label in _PROBES if isinstance(target.container.get(key), dict)}
        inst = _Instance(target, workers)
        self._instances[target.instance_id] = inst
        for worker in workers.values():
            worker.task = asyncio.get_running_loop().create_task(
                self._run(inst, worker), name=f"probe {worker.kind} {target.instance_id}")

    def remove(self, instance_id: str) -> None:
        """Stop the workers of an instance (exited or being stopped); it is no longer ready."""
        inst = self._instances.pop(instance_id, None)
        if inst is None:
            return
        inst.removed = True
        grace = self._grace(inst)
        if grace is not None:
            self._removed_grace[instance_id] = grace
            if len(self._removed_grace) > _REMOVED_GRACE_KEPT:
                del self._removed_grace[next(iter(self._removed_grace))]
        for worker in inst.workers.values():
            if worker.task is not None and worker.task is not asyncio.current_task():
                worker.task.cancel()

    def ready(self, instance_id: str) -> bool:
        """Started and its readiness probe succeeded (or it has none); False for unknown instances."""
        inst = self._instances.get(instance_id)
        if inst is None or not self._started(inst):
            return False
        worker = inst.workers.get("readiness")
        return worker is None or worker.result == SUCCESS

    def started(self, instance_id: str) -> bool:
        """The startup probe passed (True at once without one); False for unknown instances."""
        inst = self._instances.get(instance_id)
        return inst is not None and self._started(inst)

    def probe_termination_grace(self, instance_id: str) -> float | None:
        """terminationGracePeriodSeconds of the failed liveness (else startup) probe, if it sets one.

        Still answered for a while after remove(), so the kill may come after it.
        """
        inst = self._instances.get(instance_id)
        if inst is None:
            return self._removed_grace.get(instance_id)
        return self._grace(inst)

    @staticmethod
    def _grace(inst: _Instance) -> float | None:
        for kind in ("liveness", "startup"):
            worker = inst.workers.get(kind)
            if worker is not None and worker.result == FAILURE:
                value = worker.spec.get("terminationGracePeriodSeconds")
                return None if value is None else float(value)
        return None

    async def close(self) -> None:
        """Stop every worker and close the HTTP client."""
        tasks = [w.task for inst in self._instances.values() for w in inst.workers.values() if w.task]
        for instance_id in list(self._instances):
            self.remove(instance_id)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ the worker loop

    @staticmethod
    def _started(inst: _Instance) -> bool:
        worker = inst.workers.get("startup")
        return worker is None or worker.result == SUCCESS

    async def _run(self, inst: _Instance, worker: _Worker) -> None:
        """Probe at started_at + initialDelaySeconds, then on a fixed period (upstream's ticker).

        A manual trigger (readiness right after startup succeeded) probes early without moving
        the period's phase.
        """
        period = max(int(worker.spec.get("periodSeconds") or 10), 1) * self._scale
        delay = int(worker.spec.get("initialDelaySeconds") or 0)
        due = max(self._clock(), inst.target.started_at + delay * self._scale)
        try:
            while True:
                wait = due - self._clock()
                if wait > 0:
                    await self._wait(worker, wait)
                worker.trigger.clear()
                if not await self._do_probe(inst, worker):
                    return
                now = self._clock()
                if due <= now:
                    due += period * (math.floor((now - due) / period) + 1)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must not end probing silently for good
            log.exception("probe worker %s for %s crashed", worker.kind, inst.target.instance_id)

    async def _wait(self, worker: _Worker, seconds: float) -> None:
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        triggered = asyncio.ensure_future(worker.trigger.wait())
        try:
            await asyncio.wait({sleeper, triggered}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            triggered.cancel()

    async def _do_probe(self, inst: _Instance, worker: _Worker) -> bool:
        """Upstream worker.doProbe: probe once, count the result; False ends the worker."""
        if inst.removed:
            return False
        target = inst.target
        if worker.kind != "readiness" and (target.pod.get("metadata") or {}).get("deletionTimestamp"):
            # Graceful shutdown: a last success for a quiet stop.
            self._set_result(inst, worker, SUCCESS)
            return False
        delay = int(worker.spec.get("initialDelaySeconds") or 0)
        elapsed = (self._clock() - target.started_at) / self._scale
        if int(elapsed + 1e-6) < delay:
            return True
        started = self._started(inst)
        if worker.kind == "startup" and started:
            return False  # one worker per instance: nothing left to do once started
        if worker.kind != "startup" and not started:
            return True
        result = await self._probe(inst, worker)
        if inst.removed:
            return False
        if result is None:
            return True  # probe error: the result is thrown away
        if worker.last == result:
            worker.run += 1
        else:
            worker.last, worker.run = result, 1
        threshold = worker.spec.get("failureThreshold" if result == FAILURE else "successThreshold") or \
            (3 if result == FAILURE else 1)
        if worker.run < int(threshold):
            return True
        self._set_result(inst, worker, result)
        if worker.kind != "readiness" and result == FAILURE:
            # The container will be killed: stop probing it (upstream puts the worker on hold
            # until a new container id appears; here a new instance gets new workers).
            worker.run = 0
            self._call(self._on_unhealthy, target, self._kill_message(target, worker.kind))
            return False
        return True

    async def _probe(self, inst: _Instance, worker: _Worker) -> str | None:
        """Upstream prober.probe: run with retries on errors, record events, map to a result."""
        if self._session is None:
            self._session = http_session()
        target = inst.target
        limit = int(worker.spec.get("timeoutSeconds") or 1) * self._scale
        res = ProbeResult(UNKNOWN)
        for _ in range(MAX_PROBE_RETRIES):
            res = await run_probe(worker.spec, target, self._exec_fn, time_limit=limit, session=self._session)
            if res.error is None:
                break
        if inst.removed:
            return None
        path = container_field_path(target.pod, target.container)
        if res.error is not None:
            self._event(target, "Unhealthy",
                        f"{worker.label} probe errored and resulted in {res.outcome} state: {res.error}", path)
            return None
        if res.outcome == SUCCESS:
            return SUCCESS
        if res.outcome == WARNING:
            self._event(target, "ProbeWarning", f"{worker.label} probe warning: {res.output}", path)
            return SUCCESS
        if res.outcome == FAILURE:
            self._event(target, "Unhealthy", f"{worker.label} probe failed: {res.output}", path)
        return FAILURE

    def _set_result(self, inst: _Instance, worker: _Worker, result: str) -> None:
        """Upstream results.Manager.Set: only a change is reported."""
        if worker.result == result:
            return
        worker.result = result
        uid = (inst.target.pod.get("metadata") or {}).get("uid", "")
        if worker.kind == "readiness":
            self._call(self._on_change, uid)
        elif worker.kind == "startup" and result == SUCCESS:
            self._call(self._on_change, uid)
            readiness = inst.workers.get("readiness")
            if readiness is not None:
                # Upstream's status update triggers an immediate readiness run once started.
                readiness.trigger.set()

    @staticmethod
    def _kill_message(target: ProbeTarget, kind: str) -> str:
        """The Killing event text of upstream computePodActions for a failed liveness/startup probe."""
        name = target.container.get("name", "")
        pod = target.pod
        if is_sidecar(target.container) and any(
                c.get("name") == name for c in (pod.get("spec") or {}).get("initContainers") or []):
            return f"Init container {name} failed {kind} probe"
        policy = target.container.get("restartPolicy") or (pod.get("spec") or {}).get("restartPolicy") or "Always"
        message = f"Container {name} failed {kind} probe"
        return f"{message}, will be restarted" if policy != "Never" else message

    def _event(self, target: ProbeTarget, reason: str, message: str, field_path: str) -> None:
        self._call(self._on_event, target.pod, "Warning", reason, message, field_path)

    @staticmethod
    def _call(fn: Callable[..., None], *args) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("probe callback %r failed", fn)
