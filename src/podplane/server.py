"""Composition root of `podplane server`: storage → PKI → API server → HTTPS listener → components.

`run_server(settings)` opens the datastore named by the settings, creates or reuses
the cluster CA, serving certificate and admin token, bootstraps the API server,
listens on HTTPS, writes `<data-dir>/kubeconfig.yaml`, and runs the periodic
compactor until SIGINT/SIGTERM. Each start-up phase reports what failed and what to
do about it (k3s style). This is the only place where components meet.

The controller manager and the scheduler run as child processes of the server
(`component_main`), one each, like kube-controller-manager and kube-scheduler: under
the GIL an in-process scheduler shares one core with the API serving it depends on,
while a child uses another core (see docs/performance.md). They are still one
command: the server starts them once it serves, restarts one that exits with
back-off, and stops them when it stops; a child also stops when the server dies
(its stdin pipe closes). They talk to the API server like any client, with the admin
token, on a listener of their own (`<data-dir>/components.sock`, see
_component_listener), whose requests the fair-share middleware never holds back.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import pickle
import signal
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from podplane.apiserver.app import ApiServer
from podplane.apiserver.tls import ensure_pki, write_kubeconfig
from podplane.client import Client, HttpTransport
from podplane.client.informer import InformerFactory
from podplane.controllers.manager import ControllerContext, run_controllers
from podplane.settings import ControllerSettings, SchedulerSettings, ServerSettings
from podplane.storage import open_backend, run_compactor
from podplane.utils.aio import run_until_signalled

__all__ = ["PUBLIC_MUTATING_IN_FLIGHT", "ComponentSpec", "StartupError", "component_main", "run_server", "serve"]

log = logging.getLogger("podplane.server")


class StartupError(Exception):
    """A start-up phase failed; the message names the phase and the next step."""


def _datastore_url(settings: ServerSettings) -> str:
    return settings.storage.datastore or f"sqlite://{os.path.join(settings.data_dir, 'state.db')}"


def _kubeconfig_host(settings: ServerSettings) -> str:
    api = settings.apiserver
    host = api.advertise_address or api.bind_address
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"[{host}]" if ":" in host else host


async def serve(settings: ServerSettings, stop: asyncio.Event, started: asyncio.Event | None = None) -> None:
    data_dir = Path(settings.data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, before serving)
    except OSError as e:
        raise StartupError(f"data dir: cannot create {data_dir}: {e}; choose another with --data-dir") from e

    url = _datastore_url(settings)
    try:
        backend = open_backend(url, data_dir=str(data_dir))
        await backend.start()
    except Exception as e:
        raise StartupError(f"storage: cannot open datastore {url!r}: {e}; check the --datastore URL and that "
                           f"the path is writable") from e
    log.info("storage: %s at revision %d", url.split("?")[0], await backend.current_revision())

    try:
        pki = ensure_pki(str(data_dir), settings.apiserver.extra_sans + (
            (settings.apiserver.advertise_address,) if settings.apiserver.advertise_address else ()))
    except Exception as e:
        await backend.close()
        raise StartupError(f"certificates: cannot create the cluster CA under {data_dir}/tls: {e}") from e

    api = ApiServer(backend, settings.apiserver, admin_token=pki.admin_token)
    runner: web.AppRunner | None = None
    compactor: asyncio.Task | None = None
    components: list[asyncio.Task] = []
    component_socket: str | None = None
    try:
        try:
            await api.bootstrap()
        except Exception as e:
            raise StartupError(f"apiserver: bootstrap failed: {e}") from e

        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_ctx.load_cert_chain(pki.serving_cert, pki.serving_key)
        app = api.app()
        component_addresses: set = set()  # where the components' requests come in
        # after error rendering and authentication: a request must be authenticated and its body
        # read in full before it may take one of the public write slots
        app.middlewares.append(_fair_share_middleware(component_addresses, PUBLIC_MUTATING_IN_FLIGHT))
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)  # watches never finish by themselves
        await runner.setup()
        site = web.TCPSite(runner, settings.apiserver.bind_address, settings.apiserver.port, ssl_context=ssl_ctx,
                           reuse_address=True, backlog=1024)
        try:
            await site.start()
        except OSError as e:
            raise StartupError(f"listen: cannot listen on {settings.apiserver.bind_address}:"
                               f"{settings.apiserver.port}: {e.strerror or e}; is another server running? "
                               f"Use --port to pick another port") from e

        component_url, component_socket = await _component_listener(runner, data_dir, ssl_ctx,
                                                                    component_addresses)

        server_url = f"https://{_kubeconfig_host(settings)}:{settings.apiserver.port}"
        kubeconfig = data_dir / "kubeconfig.yaml"
        write_kubeconfig(kubeconfig, server_url=server_url, pki=pki)
        log.info("apiserver: serving on %s; kubeconfig written to %s", server_url, kubeconfig)
        print(f"podplane: API server ready at {server_url}\n"
              f"podplane: try `podplane kubectl --data-dir {data_dir} get namespaces` "
              f"or `export KUBECONFIG={kubeconfig}`", flush=True)
        compactor = asyncio.create_task(run_compactor(
            backend, interval=settings.storage.compact_interval, retain=settings.storage.compact_retain,
            stop=stop))
        _tune_gc()
        components = _start_components(settings, pki, component_url, component_socket)
        if started is not None:
            started.set()
        await stop.wait()
        log.info("shutting down")
    finally:
        for task in [compactor, *components]:
            if task is None:
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if runner is not None:
            await runner.cleanup()
        if component_socket is not None:
            with contextlib.suppress(OSError):
                os.unlink(component_socket)
        await backend.close()


def _component_client(spec: ComponentSpec) -> Client:
    transport = HttpTransport(spec.server_url, token=spec.token, ca_data=spec.ca_data,
                              user_agent=f"podplane-{spec.user}", unix_socket=spec.unix_socket)
    return Client(transport, field_manager=spec.user)


@dataclass(frozen=True)
class ComponentSpec:
    """What a component child process needs: handed over its stdin, never on a command line."""

    kind: str  # "controllers" | "scheduler"
    user: str  # field manager and user agent: kube-controller-manager | default-scheduler
    server_url: str
    token: str
    ca_data: bytes
    settings: ControllerSettings | SchedulerSettings
    log_level: str = "INFO"
    unix_socket: str | None = None


PUBLIC_MUTATING_IN_FLIGHT = 16
"""Mutating requests of clients other than the server's own components that execute at once.

The API server is one event loop that serves requests in arrival order, so a client
with many writes in flight (a loop creating 10,000 pods with 64 in flight) would leave
the scheduler's bindings a small share of it and pods unbound until the flood ends.
Like upstream's API Priority and Fairness, which gives the control plane's components
their own priority levels, the components' requests (on their own listener) are
never held back, while other clients' writes beyond this many wait, in order, for
a slot: they are delayed, never rejected. Reads and long-running requests (watches,
exec, attach, port-forward, proxy) are not counted. 16 writes at once keep the loop and
the store's group commit busy."""

_LONG_RUNNING = ("/exec", "/attach", "/portforward", "/proxy")


_COMPONENT_SOCKET = "components.sock"
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes


async def _component_listener(runner: web.AppRunner, data_dir: Path, ssl_ctx: ssl.SSLContext,
                              component_addresses: set) -> tuple[str, str | None]:
    """The listener for the server's own components: `<data-dir>/components.sock`, plain HTTP
    (mode 0600 like the admin kubeconfig beside it, and requests still need the token), which
    spares both sides TLS and TCP; a loopback TCP port with TLS when the path is too long for a
    Unix socket. Returns the components' base URL and the socket path (None for TCP)."""
    path = str(data_dir / _COMPONENT_SOCKET)
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # left by a server that was killed
        try:
            # Until the chmod, the umask decides (connecting needs write permission, which the
            # usual 022 denies to others; requests need the token anyway). The umask itself is
            # left alone: it is process-wide, and `podplane up` runs an agent in this process.
            await web.UnixSite(runner, path).start()
            os.chmod(path, 0o600)
            component_addresses.add(path)
            return "http://localhost", path
        except OSError as e:  # a file system without sockets, say
            log.warning("components: cannot listen on %s (%s); using a loopback port", path, e)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_ctx, backlog=128)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    component_addresses.add(port)
    return f"https://127.0.0.1:{port}", None


def _fair_share_middleware(component_addresses: set, limit: int):
    slots = asyncio.Semaphore(limit)

    @web.middleware
    async def fair_share(request: web.Request, handler) -> web.StreamResponse:
        if (request.method in ("GET", "HEAD", "OPTIONS") or request.headers.get("Upgrade")
                or "/proxy/" in request.path or request.path.endswith(_LONG_RUNNING)
                or _local_address(request) in component_addresses):
            return await handler(request)
        if request.can_read_body:
            await request.read()  # a stalled upload waits here, not in a slot (aiohttp keeps the body)
        async with slots:
            return await handler(request)

    return fair_share


def _local_address(request: web.Request) -> int | str | None:
    """The port (TCP) or socket path (Unix) the request came in on."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return sockname[1]
    return sockname if isinstance(sockname, str) and sockname else None


def _start_components(settings: ServerSettings, pki, server_url: str, unix_socket: str | None
                      ) -> list[asyncio.Task]:
    """Controllers and scheduler, each in a supervised child process that talks to this apiserver
    on its components' listener."""
    tasks: list[asyncio.Task] = []
    common = {"server_url": server_url, "unix_socket": unix_socket, "token": pki.admin_token,
              "ca_data": pki.ca_cert.read_bytes(),
              "log_level": os.environ.get("PODPLANE_LOG_LEVEL", "INFO")}
    if settings.controllers.enabled:
        tasks.append(asyncio.create_task(_supervise_process(ComponentSpec(
            "controllers", "kube-controller-manager", settings=settings.controllers, **common)),
            name="controllers"))
    if settings.scheduler.enabled:
        tasks.append(asyncio.create_task(_supervise_process(ComponentSpec(
            "scheduler", "default-scheduler", settings=settings.scheduler, **common)), name="scheduler"))
    return tasks


_CHILD_COMMAND = "from podplane.server import component_main; component_main()"
_STOP_TIMEOUT = 10.0
"""Seconds a child gets to stop after SIGTERM before it is killed."""


async def _supervise_process(spec: ComponentSpec) -> None:
    """Keep a component's child process running: restart it with back-off when it exits; on
    cancellation stop it (SIGTERM, then SIGKILL after _STOP_TIMEOUT)."""
    loop = asyncio.get_running_loop()
    delay = 1.0
    payload = pickle.dumps(spec)
    while True:
        try:
            # the kind as an argument only names the process in `ps`; the spec comes over stdin
            proc = await asyncio.create_subprocess_exec(sys.executable, "-c", _CHILD_COMMAND, spec.kind,
                                                        stdin=asyncio.subprocess.PIPE)
        except OSError as e:
            log.error("%s: cannot start a process (%s); retrying in %.0f s", spec.kind, e, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
            continue
        began = loop.time()
        try:
            assert proc.stdin is not None
            proc.stdin.write(len(payload).to_bytes(4, "big") + payload)
            with contextlib.suppress(ConnectionError):
                await proc.stdin.drain()
            log.info("%s: running as process %d", spec.kind, proc.pid)
            code = await proc.wait()
        except asyncio.CancelledError:
            await _stop_process(proc)
            raise
        if loop.time() - began > 60:
            delay = 1.0  # it ran for a while: a fresh failure, not a crash loop
        log.error("%s: process %d exited with status %s; restarting in %.0f s", spec.kind, proc.pid, code, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


async def _stop_process(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), _STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if proc.stdin is not None:
        proc.stdin.close()


def _read_spec(fd: int) -> ComponentSpec:
    def read_exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = os.read(fd, count - len(data))
            if not chunk:
                raise EOFError("the server closed the pipe before sending the component's settings")
            data += chunk
        return data

    return pickle.loads(read_exactly(int.from_bytes(read_exactly(4), "big")))


def component_main() -> None:
    """Entry point of a component child process (see _supervise_process): read the spec from
    stdin, run the component until SIGTERM/SIGINT or until stdin closes (the server is gone)."""
    spec = _read_spec(0)
    logging.basicConfig(level=spec.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _tune_gc()
    try:
        asyncio.run(_run_component(spec))
    except _ComponentFailed:
        sys.exit(1)


class _ComponentFailed(Exception):
    pass


async def _run_component(spec: ComponentSpec) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def on_stdin() -> None:
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        if not data:  # the server exited (perhaps killed): do not outlive it
            loop.remove_reader(0)
            stop.set()

    loop.add_reader(0, on_stdin)
    client = _component_client(spec)
    if spec.kind == "controllers":
        settings = spec.settings
        assert isinstance(settings, ControllerSettings)
        component = run_controllers(ControllerContext(client=client, informers=InformerFactory(client),
                                                      settings=settings))
    else:
        from podplane.scheduler import run_scheduler

        assert isinstance(spec.settings, SchedulerSettings)
        component = run_scheduler(client, InformerFactory(client), spec.settings)
    task = asyncio.create_task(component, name=spec.kind)
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("%s failed", spec.kind, exc_info=task.exception())
            raise _ComponentFailed(spec.kind)
    finally:
        for pending in (task, stopper):
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
        with contextlib.suppress(Exception):
            await client.close()


def _tune_gc() -> None:
    """Fewer, later cyclic-GC passes for a long-running process with a large heap.

    Informer caches and the watch machinery keep hundreds of MB of small objects alive;
    with the default thresholds (700, 10, 10) objects that live for one request are
    promoted and then trigger full collections, which took 0.1-0.4 s each, about once a
    second, under a flood of writes. Objects alive at start-up are frozen (never scanned)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)


_GC_THRESHOLDS = (50_000, 20, 100)


def run_server(settings: ServerSettings) -> int:
    return run_until_signalled(lambda stop: serve(settings, stop), {StartupError: "podplane: start-up failed"})
