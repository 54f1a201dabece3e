"""Composition root of `podplane server`: storage → PKI → API server → HTTPS listener.

`run_server(settings)` opens the datastore named by the settings, creates or reuses
the cluster CA, serving certificate and admin token, bootstraps the API server,
listens on HTTPS, writes `<data-dir>/kubeconfig.yaml`, and runs the periodic
compactor until SIGINT/SIGTERM. Each start-up phase reports what failed and what to
do about it (k3s style). Later components (controllers, scheduler, vip, operators)
join the same TaskGroup here; this is the only place where components meet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys
from pathlib import Path

from aiohttp import web

from podplane.apiserver.app import ApiServer
from podplane.apiserver.tls import ensure_pki, write_kubeconfig
from podplane.client import Client, HttpTransport
from podplane.client.informer import InformerFactory
from podplane.controllers.manager import ControllerContext, run_controllers
from podplane.settings import ServerSettings
from podplane.storage import open_backend, run_compactor

__all__ = ["StartupError", "run_server", "serve"]

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
    clients: list[Client] = []
    try:
        try:
            await api.bootstrap()
        except Exception as e:
            raise StartupError(f"apiserver: bootstrap failed: {e}") from e

        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_ctx.load_cert_chain(pki.serving_cert, pki.serving_key)
        runner = web.AppRunner(api.app(), access_log=None, handle_signals=False, shutdown_timeout=0.5)  # watches never finish by themselves
        await runner.setup()
        site = web.TCPSite(runner, settings.apiserver.bind_address, settings.apiserver.port, ssl_context=ssl_ctx,
                           reuse_address=True, backlog=1024)
        try:
            await site.start()
        except OSError as e:
            raise StartupError(f"listen: cannot listen on {settings.apiserver.bind_address}:"
                               f"{settings.apiserver.port}: {e.strerror or e}; is another server running? "
                               f"Use --port to pick another port") from e

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
        components, clients = _start_components(settings, server_url, pki)
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
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
        if runner is not None:
            await runner.cleanup()
        await backend.close()


def _component_client(server_url: str, pki, component: str) -> Client:
    transport = HttpTransport(server_url, token=pki.admin_token, ca_data=pki.ca_cert.read_bytes(),
                              user_agent=f"podplane-{component}")
    return Client(transport, field_manager=component)


def _start_components(settings: ServerSettings, server_url: str, pki) -> tuple[list[asyncio.Task], list[Client]]:
    """Controllers and scheduler talk to this apiserver through the API, like upstream."""
    tasks: list[asyncio.Task] = []
    clients: list[Client] = []
    local_url = f"https://127.0.0.1:{settings.apiserver.port}" if settings.apiserver.bind_address in (
        "0.0.0.0", "127.0.0.1", "::") else server_url
    if settings.controllers.enabled:
        client = _component_client(local_url, pki, "kube-controller-manager")
        clients.append(client)
        tasks.append(asyncio.create_task(_supervise("controllers", lambda: run_controllers(ControllerContext(
            client=client, informers=InformerFactory(client), settings=settings.controllers))),
            name="controllers"))
    if settings.scheduler.enabled:
        try:
            from podplane.scheduler import run_scheduler
        except ImportError as e:
            log.warning("scheduler is not available: %s", e)
        else:
            client = _component_client(local_url, pki, "default-scheduler")
            clients.append(client)
            tasks.append(asyncio.create_task(_supervise(
                "scheduler", lambda: run_scheduler(client, InformerFactory(client), settings.scheduler)),
                name="scheduler"))
    return tasks, clients


async def _supervise(name: str, run) -> None:
    """Keep a component running: log a crash and restart it with back-off."""
    delay = 1.0
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s crashed; restarting in %.0f s", name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def run_server(settings: ServerSettings) -> int:
    logging.basicConfig(level=os.environ.get("PODPLANE_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    try:
        asyncio.run(main())
    except StartupError as e:
        print(f"podplane: start-up failed: {e}", file=sys.stderr)
        return 1
    return 0
