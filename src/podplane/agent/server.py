"""The agent's kubelet API: HTTPS for logs, exec, attach, port-forward and stats.

The API server's node proxy (`apiserver.nodeproxy`) reaches a pod's node here, as
kube-apiserver reaches the kubelet on :10250, with the kubelet's paths:
`/containerLogs/{ns}/{pod}/{container}` (CRI log files, `runtime.logs`: follow, previous,
tailLines, sinceSeconds, sinceTime, timestamps, limitBytes, stream), `/exec/...` and
`/attach/{ns}/{pod}[/{uid}]/{container}` (`command=`, `input|output|error|tty=1`),
`/portForward/{ns}/{pod}[/{uid}]` (`port=`), `/stats/summary` (the injected `stats()`) and
`/healthz`. This module parses, checks and negotiates (WebSocket channel protocols, the
SPDY/3.1 upgrade, kubectl's `SPDY/3.1+portforward.k8s.io` tunnel, the Python client's v4
port-forward); the sessions themselves run in `agent.streaming`. Errors are the kubelet's:
plain text with its status codes before an upgrade, a Status on the error channel after it.
Every request must carry a bearer token that a TokenReview (`TokenReviewAuthenticator`,
cached) maps to system:masters or the API server's identity (`APISERVER_KUBELET_CLIENT`).
Containers are reached through the `ContainerLookup` protocol; `RuncContainers` implements it
over `runtime.runc.RuncRuntime`. `start_agent_server` is what the composition root calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import ipaddress
import json
import logging
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web

from podplane.agent.runtime import CREATED, EXITED, RUNNING
from podplane.agent.runtime.logs import (
    container_log_path,
    follow_log,
    logged_attempts,
    parse_timestamp,
    pod_log_dir,
    previous_log_path,
    read_log,
)
from podplane.agent.streaming import (
    Channels,
    ExecHandle,
    HijackedIO,
    SpdyChannels,
    SpdyConn,
    SpdyPortForward,
    StreamOptions,
    WsChannels,
    WsIO,
    attach_input,
    attach_output,
    channel_port_forward,
    connect_in_netns,
    run_exec,
    run_in_fresh_thread,
)
from podplane.api.errors import ApiError
from podplane.client.hijack import accept_upgrade
from podplane.client.streamproto import (
    ALL_EXEC_PROTOCOLS,
    APISERVER_KUBELET_CLIENT,
    CHANNEL_PROTOCOL,
    ERROR_CHANNEL,
    PORTFORWARD_SPDY_PROTOCOL,
    PORTFORWARD_WEBSOCKET_PROTOCOL,
    STDERR_CHANNEL,
    STDOUT_CHANNEL,
    V2_CHANNEL_PROTOCOL,
    V3_CHANNEL_PROTOCOL,
    V4_BASE64_CHANNEL_PROTOCOL,
    V4_CHANNEL_PROTOCOL,
    V5_CHANNEL_PROTOCOL,
    negotiate_subprotocol,
    parse_offered_protocols,
    parse_ports,
    status_failure,
    status_nonzero_exit,
    status_success,
)
from podplane.client.transport import TransportError

__all__ = [
    "DEFAULT_PORT",
    "AgentServer",
    "Authenticator",
    "Caller",
    "ContainerLookup",
    "ContainerRef",
    "ExecHandle",
    "PodRef",
    "RuncContainers",
    "StreamError",
    "TokenReviewAuthenticator",
    "ensure_serving_cert",
    "serving_ssl_context",
    "start_agent_server",
]

log = logging.getLogger(__name__)

DEFAULT_PORT = 10250
STREAM_CREATION_TIMEOUT = 30.0
"""How long a SPDY client has to open the streams it asked for (upstream's default)."""
MAX_WS_MESSAGE = 16 * 1024 * 1024
WAITING_MESSAGES = {"ErrImagePull": "image can't be pulled",
                    "ImagePullBackOff": "trying and failing to pull image"}


class StreamError(Exception):
    """A request the kubelet API refuses before any upgrade: plain-text body, this HTTP status."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------------------------------------
# What the server needs from the runtime


@dataclass(frozen=True)
class PodRef:
    namespace: str
    name: str
    uid: str
    containers: tuple[str, ...] = ()
    """Every container name of the spec (init, app, ephemeral); () when unknown."""
    host_network: bool = False
    waiting: Mapping[str, str] = field(default_factory=dict)
    """Container name -> waiting reason reported in the pod's status (ContainerCreating, ...)."""


@dataclass(frozen=True)
class ContainerRef:
    """One instance (attempt) of a container."""

    id: str
    name: str
    attempt: int
    state: str
    """runtime.CREATED, RUNNING, EXITED (or anything else: running without supervision)."""
    log_path: str

    @property
    def running(self) -> bool:
        return self.state not in (CREATED, EXITED)


class ContainerLookup(Protocol):
    """The node's containers as the kubelet API sees them. Methods block briefly (files,
    runc); the server calls them from worker threads."""

    def pod(self, namespace: str, name: str, uid: str = "") -> PodRef | None: ...

    def instances(self, pod: PodRef, container: str) -> list[ContainerRef]:
        """Instances of a container of the pod, oldest attempt first."""
        ...

    def is_running(self, container_id: str) -> bool: ...

    def exec(self, container_id: str, argv: list[str], *, tty: bool, stdin: bool) -> ExecHandle: ...

    def attach_paths(self, container_id: str) -> dict[str, str]:
        """FIFOs of an attachable container: `stdin` (input) and `control` (tty resize lines)."""
        ...

    def netns_path(self, pod: PodRef) -> str | None:
        """The pod's network namespace (a path to open), None for the host's."""
        ...


class RuncContainers:
    """`ContainerLookup` over `RuncRuntime`. `pods(namespace, name)` returns the pod object
    the agent knows (spec and status, e.g. from its informer); without it the runtime's
    containers alone say which pods exist."""

    def __init__(self, runtime, *, pods: Callable[[str, str], dict | None] | None = None) -> None:
        self.runtime = runtime
        self._pods = pods

    def pod(self, namespace: str, name: str, uid: str = "") -> PodRef | None:
        obj = self._pods(namespace, name) if self._pods is not None else None
        if obj is not None:
            meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
            if uid and meta.get("uid") != uid:
                return None
            names = [c.get("name", "") for key in ("initContainers", "containers", "ephemeralContainers")
                     for c in spec.get(key) or []]
            waiting = {}
            for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
                for cs in status.get(key) or []:
                    reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
                    if reason:
                        waiting[cs.get("name", "")] = reason
            return PodRef(namespace, name, str(meta.get("uid") or ""), tuple(names), bool(spec.get("hostNetwork")),
                          waiting)
        infos = [i for i in self.runtime.list() if i.namespace == namespace and i.pod_name == name
                 and (not uid or i.pod_uid == uid)]
        if not infos:
            return None
        newest = infos[-1].pod_uid
        return PodRef(namespace, name, newest)

    def instances(self, pod: PodRef, container: str) -> list[ContainerRef]:
        infos = [i for i in self.runtime.list(pod.uid) if i.name == container]
        infos.sort(key=lambda i: (i.attempt, i.created_at))
        if infos:
            return [ContainerRef(i.id, i.name, i.attempt, i.state, i.log_path) for i in infos]
        # a finished pod's containers are gone but, as with the kubelet, its logs stay until the
        # pod is deleted: serve them as exited instances
        pod_dir = pod_log_dir(self.runtime.config.log_dir, pod.namespace, pod.name, pod.uid)
        return [ContainerRef("", container, attempt, EXITED, container_log_path(pod_dir, container, attempt))
                for attempt in logged_attempts(pod_dir, container)]

    def is_running(self, container_id: str) -> bool:
        try:
            state = self.runtime.inspect(container_id).state
        except Exception:  # removed meanwhile: not running
            return False
        return state not in (CREATED, EXITED)

    def exec(self, container_id: str, argv: list[str], *, tty: bool, stdin: bool) -> ExecHandle:
        return self.runtime.exec(container_id, argv, tty=tty, stdin=stdin)

    def attach_paths(self, container_id: str) -> dict[str, str]:
        return self.runtime.attach_paths(container_id)

    def netns_path(self, pod: PodRef) -> str | None:
        if pod.host_network:
            return None
        for info in reversed(self.runtime.list(pod.uid)):
            try:
                with open(os.path.join(self.runtime.containers_dir, info.id, "bundle", "config.json")) as f:
                    namespaces = (json.load(f).get("linux") or {}).get("namespaces") or []
            except (OSError, ValueError):
                continue
            net = [n for n in namespaces if n.get("type") == "network"]
            if not net:
                return None  # the container shares the host's network
            if net[0].get("path"):
                return net[0]["path"]
            if info.state == RUNNING and info.pid:
                return f"/proc/{info.pid}/ns/net"
        raise StreamError(500, f"failed to find the network namespace of pod {pod.name} ({pod.uid})")


# ---------------------------------------------------------------------------------------------
# Authentication


@dataclass(frozen=True)
class Caller:
    name: str
    groups: tuple[str, ...] = ()


class TokenReviewAuthenticator:
    """Bearer tokens checked with TokenReview through the agent's API client, like the
    kubelet's webhook authenticator; answers are cached (`ttl`, `negative_ttl` seconds)."""

    def __init__(self, client, *, allowed_users: Sequence[str] = (APISERVER_KUBELET_CLIENT,),
                 allowed_groups: Sequence[str] = ("system:masters",), ttl: float = 60.0,
                 negative_ttl: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.allowed_users = frozenset(allowed_users)
        self.allowed_groups = frozenset(allowed_groups)
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, Caller | None]] = {}

    async def authenticate(self, authorization: str | None) -> Caller | None:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            review = await self.client.create(self.client.resource("authentication.k8s.io", "tokenreviews"),
                                              {"metadata": {}, "spec": {"token": token}})
        except (ApiError, TransportError) as e:
            log.warning("TokenReview failed: %s", e)
            return None  # not cached: the API server may be back soon
        status = review.get("status") or {}
        caller = None
        if status.get("authenticated"):
            user = status.get("user") or {}
            caller = Caller(str(user.get("username") or ""), tuple(user.get("groups") or ()))
        if len(self._cache) > 1024:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        self._cache[key] = (now + (self.ttl if caller else self.negative_ttl), caller)
        return caller

    def allowed(self, caller: Caller) -> bool:
        return caller.name in self.allowed_users or bool(self.allowed_groups.intersection(caller.groups))


class Authenticator(Protocol):
    async def authenticate(self, authorization: str | None) -> Caller | None: ...

    def allowed(self, caller: Caller) -> bool: ...


# ---------------------------------------------------------------------------------------------
# Serving certificate


def ensure_serving_cert(directory: str, names: Sequence[str]) -> tuple[str, str]:
    """`<directory>/agent.crt` and `agent.key`: a self-signed certificate like the kubelet's
    own `kubelet.crt` (the API server does not verify it, as upstream without
    --kubelet-certificate-authority). Re-issued when it nears expiry or misses a name."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    os.makedirs(directory, mode=0o700, exist_ok=True)
    crt, key_path = os.path.join(directory, "agent.crt"), os.path.join(directory, "agent.key")
    wanted = list(dict.fromkeys(n for n in ("localhost", "127.0.0.1", socket.gethostname(), *names) if n))
    now = dt.datetime.now(dt.UTC)
    if os.path.exists(crt) and os.path.exists(key_path):
        with open(crt, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            have = {str(v) for v in san.get_values_for_type(x509.DNSName)} | {
                str(v) for v in san.get_values_for_type(x509.IPAddress)}
        except x509.ExtensionNotFound:
            have = set()
        if cert.not_valid_after_utc - now > dt.timedelta(days=30) and set(wanted) <= have:
            return crt, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for n in wanted:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    # as the kubelet names its self-signed certificate: <hostname>@<unix time>
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{socket.gethostname()}@{int(now.timestamp())}")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    for path, data, mode in ((key_path, key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()), 0o600),
                             (crt, cert.public_bytes(serialization.Encoding.PEM), 0o644)):
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return crt, key_path


def serving_ssl_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


# ---------------------------------------------------------------------------------------------
# Options


def _flag(q: Mapping[str, str], *names: str) -> bool:
    return any(q.get(n, "").lower() in ("1", "true") for n in names)


def _stream_options(q: Mapping[str, str]) -> StreamOptions:
    """Upstream's remotecommand.NewOptions (plus the API's own stdin/stdout/... names)."""
    tty = _flag(q, "tty")
    stdin, stdout = _flag(q, "input", "stdin"), _flag(q, "output", "stdout")
    stderr = _flag(q, "error", "stderr") and not tty  # a terminal has one output stream
    if not (stdin or stdout or stderr):
        raise StreamError(400, "you must specify at least 1 of stdin, stdout, stderr")
    return StreamOptions(stdin, stdout, stderr, tty)


@dataclass(frozen=True)
class _LogOptions:
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail: int | None = None
    since_ns: int | None = None
    limit_bytes: int | None = None
    streams: tuple[str, ...] = ("stdout", "stderr")


def _log_options(q: Mapping[str, str], now_ns: int) -> _LogOptions:
    """Decode and validate as the kubelet does (its odd JSON-in-text bodies included)."""
    def integer(name: str) -> int | None:
        raw = q.get(name)
        if raw is None or raw == "":
            return None
        try:
            return int(raw)
        except ValueError:
            raise StreamError(400, '{"message": "Unable to decode query."}') from None

    tail_raw = q.get("tail")
    tail = integer("tailLines")
    if tail_raw:
        tail = None if tail_raw == "all" else integer("tail")
    since_seconds, limit = integer("sinceSeconds"), integer("limitBytes")
    since_time = q.get("sinceTime") or None
    invalid = StreamError(422, '{"message": "Invalid request."}')
    if (tail is not None and tail < 0) or (limit is not None and limit < 1):
        raise invalid
    if since_seconds is not None and since_time is not None:
        raise invalid
    if since_seconds is not None and since_seconds < 1:
        raise invalid
    since_ns = None
    if since_seconds is not None:
        since_ns = now_ns - since_seconds * 1_000_000_000
    elif since_time is not None:
        try:
            since_ns = parse_timestamp(since_time)
        except ValueError:
            raise StreamError(400, '{"message": "Unable to decode query."}') from None
    stream = q.get("stream") or "All"
    streams = {"All": ("stdout", "stderr"), "Stdout": ("stdout",), "Stderr": ("stderr",)}.get(stream)
    if streams is None:
        raise StreamError(400, f'invalid stream type "{stream}"')
    return _LogOptions(_flag(q, "follow"), _flag(q, "previous"), _flag(q, "timestamps"), tail, since_ns, limit,
                       streams)


def _read_batches(path: str, opts: _LogOptions, size: int = 64 * 1024) -> Iterator[bytes]:
    buf = bytearray()
    for chunk in read_log(path, tail=opts.tail, since_ns=opts.since_ns, timestamps=opts.timestamps,
                          limit_bytes=opts.limit_bytes, streams=opts.streams):
        buf += chunk
        if len(buf) >= size:
            yield bytes(buf)
            buf.clear()
    if buf:
        yield bytes(buf)


# ---------------------------------------------------------------------------------------------
# The server


class AgentServer:
    """The kubelet API of one agent. `app()` for tests; `start()` to listen."""

    def __init__(self, lookup: ContainerLookup, *, authenticator: Authenticator | None,
                 stats: Callable[[], Awaitable[dict]] | None = None,
                 stream_creation_timeout: float = STREAM_CREATION_TIMEOUT) -> None:
        self.lookup = lookup
        self.authenticator = authenticator
        self.stats = stats
        self.stream_creation_timeout = stream_creation_timeout
        self.port = 0
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/healthz", self._healthz)
        r.add_get("/stats/summary", self._stats)
        r.add_get("/containerLogs/{ns}/{pod}/{container}", self._container_logs)
        for verb, handler in (("exec", self._exec), ("attach", self._attach)):
            for path in (f"/{verb}/{{ns}}/{{pod}}/{{container}}", f"/{verb}/{{ns}}/{{pod}}/{{uid}}/{{container}}"):
                r.add_route("GET", path, handler)
                r.add_route("POST", path, handler)
        for path in ("/portForward/{ns}/{pod}", "/portForward/{ns}/{pod}/{uid}"):
            r.add_route("GET", path, self._port_forward)
            r.add_route("POST", path, self._port_forward)
        return app

    async def start(self, host: str = "0.0.0.0", port: int = DEFAULT_PORT,
                    ssl_context: ssl.SSLContext | None = None) -> int:
        """Listen; returns the port (pass 0 for a free one)."""
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=ssl_context, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1] if self._runner.addresses else port
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- plumbing -----------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        if self.authenticator is not None:
            caller = await self.authenticator.authenticate(request.headers.get("Authorization"))
            if caller is None:
                return web.Response(status=401, text="Unauthorized")
            if not self.authenticator.allowed(caller):
                sub = "stats" if request.path.startswith("/stats") else "proxy"
                verb = "get" if request.method == "GET" else "create"
                return web.Response(status=403, text=f"Forbidden (user={caller.name}, verb={verb}, "
                                                     f"resource=nodes, subresource={sub})")
        try:
            return await handler(request)
        except StreamError as e:
            return web.Response(status=e.code, text=e.message)

    async def _pod(self, request: web.Request) -> PodRef:
        info = request.match_info
        pod = await asyncio.to_thread(self.lookup.pod, info["ns"], info["pod"], info.get("uid", ""))
        if pod is None:
            raise StreamError(404, "pod does not exist")
        return pod

    async def _running(self, pod: PodRef, name: str) -> ContainerRef:
        instances = await asyncio.to_thread(self.lookup.instances, pod, name)
        if not instances or not instances[-1].running:
            raise StreamError(500, f'container not found ("{name}")')
        return instances[-1]

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _stats(self, request: web.Request) -> web.Response:
        if self.stats is None:
            raise StreamError(404, "stats are not available on this node")
        return web.json_response(await self.stats())

    # -- logs ---------------------------------------------------------------------------------
    def _log_target(self, pod: PodRef, name: str, previous: bool) -> ContainerRef | str:
        """The instance to read (or, for --previous, maybe just a log path), or StreamError 400
        with the kubelet's words (validateContainerLogStatus)."""
        instances = self.lookup.instances(pod, name)
        if previous:
            if len(instances) >= 2:
                return instances[-2]
            if instances:
                pod_dir = os.path.dirname(os.path.dirname(instances[-1].log_path))
                path = previous_log_path(pod_dir, name, instances[-1].attempt)
                if path:
                    return path
            raise StreamError(400, f'previous terminated container "{name}" in pod "{pod.name}" not found')
        if instances and instances[-1].state != CREATED:
            return instances[-1]
        if len(instances) >= 2:
            return instances[-2]  # restarting: the last terminated instance, as upstream
        reason = pod.waiting.get(name) or "ContainerCreating"
        raise StreamError(400, f'container "{name}" in pod "{pod.name}" is waiting to start: '
                               f'{WAITING_MESSAGES.get(reason, reason)}')

    async def _container_logs(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["container"]
        opts = _log_options(request.query, time.time_ns())
        pod = await asyncio.to_thread(self.lookup.pod, request.match_info["ns"], request.match_info["pod"])
        if pod is None:
            raise StreamError(404, f'pod "{request.match_info["pod"]}" does not exist')
        if pod.containers and name not in pod.containers:
            raise StreamError(404, f'container "{name}" not found in pod "{pod.name}"')
        target = await asyncio.to_thread(self._log_target, pod, name, opts.previous)
        path = target if isinstance(target, str) else target.log_path
        response = web.StreamResponse(status=200)
        response.content_type = "text/plain"
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            if opts.follow and isinstance(target, ContainerRef) and target.running:
                cid = target.id
                async with contextlib.aclosing(follow_log(
                        path, running=lambda: self.lookup.is_running(cid), tail=opts.tail, since_ns=opts.since_ns,
                        timestamps=opts.timestamps, limit_bytes=opts.limit_bytes, streams=opts.streams)) as chunks:
                    async for chunk in chunks:
                        await response.write(chunk)
            else:
                batches = _read_batches(path, opts)
                while (chunk := await asyncio.to_thread(next, batches, None)) is not None:
                    await response.write(chunk)
            await response.write_eof()
        except ConnectionError:
            pass  # the client left (kubectl logs -f interrupted)
        return response

    # -- stream negotiation -------------------------------------------------------------------
    async def _accept_channels(self, request: web.Request, opts: StreamOptions) -> Channels:
        upgrade = request.headers.get("Upgrade", "").strip().lower()
        if upgrade == "websocket":
            offered = parse_offered_protocols(request.headers.getall("Sec-WebSocket-Protocol", []))
            protocol = negotiate_subprotocol(offered, ALL_EXEC_PROTOCOLS)
            if protocol is None and offered:
                raise StreamError(400, f"requested protocol(s) are not supported: {offered}; "
                                       f"supports {list(ALL_EXEC_PROTOCOLS)}")
            ws = web.WebSocketResponse(protocols=(protocol,) if protocol else (), max_msg_size=MAX_WS_MESSAGE)
            await ws.prepare(request)
            channels = WsChannels(ws, protocol or CHANNEL_PROTOCOL)
            # upstream tells the client the streams are up with an empty message on the first output
            await channels.send(STDOUT_CHANNEL if opts.stdout else STDERR_CHANNEL if opts.stderr
                                else ERROR_CHANNEL, b"")
            return channels
        if upgrade.startswith("spdy/"):
            offered = parse_offered_protocols(request.headers.getall("X-Stream-Protocol-Version", []))
            supported = (V4_CHANNEL_PROTOCOL, V3_CHANNEL_PROTOCOL, V2_CHANNEL_PROTOCOL, CHANNEL_PROTOCOL)
            protocol = negotiate_subprotocol(offered, supported) if offered else CHANNEL_PROTOCOL
            if protocol is None:
                raise StreamError(403, f"unable to upgrade: unable to negotiate protocol: client supports "
                                       f"{offered}, server accepts {list(supported)}")
            conn = await accept_upgrade(request, [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"),
                                                  ("X-Stream-Protocol-Version", protocol)])
            wanted = {"error"} | {k for k, on in (("stdin", opts.stdin), ("stdout", opts.stdout),
                                                   ("stderr", opts.stderr)) if on}
            channels = SpdyChannels(SpdyConn(HijackedIO(conn)), protocol, wanted)
            if not await channels.start(self.stream_creation_timeout):
                await channels.close()
                raise _Abandoned(channels.response)
            return channels
        raise StreamError(400, "Upgrade request required")

    # -- exec ---------------------------------------------------------------------------------
    async def _exec(self, request: web.Request) -> web.StreamResponse:
        opts = _stream_options(request.query)
        argv = request.query.getall("command", [])
        if not argv:
            raise StreamError(400, "you must specify at least one command for the container")
        pod = await self._pod(request)
        ref = await self._running(pod, request.match_info["container"])
        try:
            channels = await self._accept_channels(request, opts)
        except _Abandoned as e:
            return e.response
        try:
            try:
                proc = await asyncio.to_thread(self.lookup.exec, ref.id, argv, tty=opts.tty, stdin=opts.stdin)
            except Exception as e:
                message = f"Internal error occurred: error executing command in container: {e}"
                status = status_failure(message, "InternalError", 500)
                status["details"] = {"causes": [{"message": f"error executing command in container: {e}"}]}
                await channels.send_status(status)
                return channels.response
            code, failure = await run_exec(channels, proc, opts)
            if failure is not None and (opts.stderr or opts.tty):
                line = f"OCI runtime exec failed: {failure}: unknown"
                await channels.send(STDOUT_CHANNEL if opts.tty else STDERR_CHANNEL,
                                    (line + ("\r\n" if opts.tty else "\n")).encode())
            await channels.send_status(status_success() if code == 0 else status_nonzero_exit(code, argv))
            return channels.response
        finally:
            await channels.close()

    # -- attach -------------------------------------------------------------------------------
    async def _attach(self, request: web.Request) -> web.StreamResponse:
        opts = _stream_options(request.query)
        pod = await self._pod(request)
        ref = await self._running(pod, request.match_info["container"])
        paths = await asyncio.to_thread(self.lookup.attach_paths, ref.id)
        try:
            channels = await self._accept_channels(request, opts)
        except _Abandoned as e:
            return e.response
        stdin_fd: int | None = None
        if opts.stdin and "stdin" in paths:
            with contextlib.suppress(OSError):  # ENXIO: nobody reads it (the container is leaving)
                stdin_fd = os.open(paths["stdin"], os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            size = (await asyncio.to_thread(os.stat, ref.log_path)).st_size
        except OSError:
            size = 0
        reader = asyncio.create_task(attach_input(channels, paths, stdin_fd, opts))
        try:
            await attach_output(channels, ref.log_path, size, lambda: self.lookup.is_running(ref.id), opts)
            await channels.send_status(status_success())
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            await channels.close()
        return channels.response

    # -- port-forward -------------------------------------------------------------------------
    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        pod = await self._pod(request)
        upgrade = request.headers.get("Upgrade", "").strip().lower()
        offered = parse_offered_protocols(request.headers.getall("Sec-WebSocket-Protocol", []))
        tunnel = upgrade == "websocket" and PORTFORWARD_SPDY_PROTOCOL in offered
        ports: list[int] = []
        if not tunnel:
            raw = request.query.getall("port", []) + request.query.getall("ports", [])
            if upgrade == "websocket":
                if not raw:
                    raise StreamError(400, 'query parameter "port" is required')
                try:
                    ports = parse_ports(raw)
                except ValueError as e:
                    raise StreamError(400, str(e)) from None
        netns: list[str | None] = []

        async def dial(port: int) -> socket.socket:
            """A connection to the pod's localhost:port; ConnectionError with upstream's words."""
            try:
                if not netns:
                    netns.append(await asyncio.to_thread(self.lookup.netns_path, pod))
                return await run_in_fresh_thread(connect_in_netns, netns[0], port)
            except (OSError, StreamError) as e:
                raise ConnectionError(f"error forwarding port {port} to pod {pod.uid}, uid : {e}") from e

        if upgrade == "websocket":
            if tunnel:
                ws = web.WebSocketResponse(protocols=(PORTFORWARD_SPDY_PROTOCOL,), max_msg_size=MAX_WS_MESSAGE)
                await ws.prepare(request)
                await SpdyPortForward(SpdyConn(WsIO(ws)), dial).run()
                return ws
            protocol = negotiate_subprotocol(offered, (V4_CHANNEL_PROTOCOL, V4_BASE64_CHANNEL_PROTOCOL,
                                                       V5_CHANNEL_PROTOCOL))
            if protocol is None and offered:
                raise StreamError(400, f"requested protocol(s) are not supported: {offered}")
            ws = web.WebSocketResponse(protocols=(protocol,) if protocol else (), max_msg_size=MAX_WS_MESSAGE)
            await ws.prepare(request)
            await channel_port_forward(WsChannels(ws, protocol or V4_CHANNEL_PROTOCOL), ports, dial)
            return ws
        if upgrade.startswith("spdy/"):
            versions = parse_offered_protocols(request.headers.getall("X-Stream-Protocol-Version", []))
            if versions and PORTFORWARD_WEBSOCKET_PROTOCOL not in versions:
                raise StreamError(403, f"unable to upgrade: unable to negotiate protocol: client supports "
                                       f"{versions}, server accepts {[PORTFORWARD_WEBSOCKET_PROTOCOL]}")
            conn = await accept_upgrade(request, [
                ("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"),
                ("X-Stream-Protocol-Version", PORTFORWARD_WEBSOCKET_PROTOCOL)])
            await SpdyPortForward(SpdyConn(HijackedIO(conn)), dial).run()
            return conn.response
        raise StreamError(400, "Upgrade request required")


class _Abandoned(Exception):
    """The upgrade happened but the session never became usable; return `response`."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__("stream setup abandoned")
        self.response = response


# ---------------------------------------------------------------------------------------------
# Composition helper


async def start_agent_server(lookup: ContainerLookup, client, *, data_dir: str, host: str = "0.0.0.0",
                             port: int = DEFAULT_PORT, names: Sequence[str] = (),
                             stats: Callable[[], Awaitable[dict]] | None = None) -> AgentServer:
    """What `podplane agent` runs: the kubelet API on `host:port` with a self-signed certificate
    under `<data_dir>/pki` (valid for `names` too), callers checked with TokenReview through
    `client` (the agent's API client). `server.port` is the port to publish in the Node."""
    cert, key = await asyncio.to_thread(ensure_serving_cert, os.path.join(data_dir, "pki"),
                                        [*names, *([host] if host not in ("0.0.0.0", "::", "") else [])])
    server = AgentServer(lookup, authenticator=TokenReviewAuthenticator(client), stats=stats)
    await server.start(host, port, serving_ssl_context(cert, key))
    return server
