"""podplane.server: the fair share of writes for the components' listener, and the component process spec."""

from __future__ import annotations

import asyncio
import os
import pickle

import aiohttp
from aiohttp import web

from podplane.server import ComponentSpec, _fair_share_middleware, _read_spec
from podplane.settings import SchedulerSettings


async def _serve(limit: int, gate: asyncio.Event, running: list[str]):
    component_addresses: set = set()
    app = web.Application(middlewares=[_fair_share_middleware(component_addresses, limit)])

    async def handler(request: web.Request) -> web.Response:
        await request.read()  # as the API's handlers do
        running.append(request.method)
        await gate.wait()
        return web.Response(text="ok")

    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    public, internal = web.TCPSite(runner, "127.0.0.1", 0), web.TCPSite(runner, "127.0.0.1", 0)
    await public.start()
    await internal.start()
    ports = [site._server.sockets[0].getsockname()[1] for site in (public, internal)]
    component_addresses.add(ports[1])
    return runner, ports


async def test_public_writes_beyond_the_limit_wait_and_components_and_reads_do_not():
    gate, running = asyncio.Event(), []
    runner, (public, internal) = await _serve(2, gate, running)
    try:
        async with aiohttp.ClientSession() as session:
            async def call(method: str, port: int, path: str = "/api/v1/namespaces/x/pods") -> int:
                async with session.request(method, f"http://127.0.0.1:{port}{path}") as r:
                    return r.status

            writes = [asyncio.ensure_future(call("POST", public)) for _ in range(5)]
            others = [asyncio.ensure_future(call("POST", internal)) for _ in range(3)]
            others += [asyncio.ensure_future(call("GET", public)),
                       asyncio.ensure_future(call("POST", public, "/api/v1/namespaces/x/pods/p/exec"))]
            for _ in range(100):
                await asyncio.sleep(0.01)
                if len(running) >= 2 + len(others):
                    break
            await asyncio.sleep(0.05)
            # two public writes run, three wait; every component request, the read and exec run
            assert running.count("POST") == 2 + 3 + 1 and running.count("GET") == 1
            gate.set()
            assert await asyncio.gather(*writes, *others) == [200] * 10
    finally:
        await runner.cleanup()


def test_component_spec_travels_over_a_pipe():
    spec = ComponentSpec("scheduler", "default-scheduler", "https://127.0.0.1:1", "token", b"ca",
                         SchedulerSettings(parallelism=3))
    payload = pickle.dumps(spec)
    read_fd, write_fd = os.pipe()
    os.write(write_fd, len(payload).to_bytes(4, "big") + payload)
    os.close(write_fd)
    try:
        assert _read_spec(read_fd) == spec
    finally:
        os.close(read_fd)


async def test_components_listen_on_a_private_unix_socket(tmp_path):
    from pathlib import Path

    from podplane.server import _component_listener

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    addresses: set = set()
    try:
        url, path = await _component_listener(runner, Path(tmp_path), None, addresses)  # type: ignore[arg-type]
        assert url == "http://localhost" and addresses == {path}
        assert os.stat(path).st_mode & 0o777 == 0o600
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=path)) as session:
            async with session.get(f"{url}/") as r:
                assert await r.text() == "ok"
    finally:
        await runner.cleanup()


async def test_a_stalled_upload_does_not_hold_a_write_slot():
    gate, running = asyncio.Event(), []
    gate.set()
    runner, (public, _) = await _serve(1, gate, running)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", public)
        writer.write(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        await asyncio.sleep(0.1)  # the stalled upload is in the server now
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(5):
                r = await session.post(f"http://127.0.0.1:{public}/y", data=b"whole body")
            assert r.status == 200
        assert running == ["POST"]  # only the complete request reached the handler
        writer.close()
    finally:
        await runner.cleanup()
