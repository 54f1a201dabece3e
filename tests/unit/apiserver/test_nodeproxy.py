"""The API server's node proxy (`apiserver.nodeproxy`): pods/log, exec, attach and portforward go
to a fake agent (an HTTPS server on 127.0.0.1 that records what it receives); locations, query
translation, container defaulting, upstream error Statuses, the WebSocket and SPDY upgrade
splice, and `node_get_json`."""

from __future__ import annotations

import asyncio
import ssl

import pytest
from aiohttp import WSMsgType, web

from podplane.api.errors import ApiError
from podplane.apiserver.nodeproxy import kubelet_client_token
from podplane.apiserver.tls import ensure_pki
from podplane.client.hijack import accept_upgrade

from .conftest import AUTH, TOKEN

PODS = "/api/v1/namespaces/default/pods"


class FakeAgent:
    """Answers like an agent would; `requests` holds (method, path, query pairs, headers) of each call."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, list, dict]] = []
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path, list(request.query.items()), dict(request.headers)))
        path = request.path
        if path == "/stats/summary":
            return web.json_response({"node": {"nodeName": "node-1"}})
        if path.startswith("/containerLogs/default/bad/"):
            return web.Response(status=400, text='container "c" in pod "bad" is waiting to start: ContainerCreating')
        if path.startswith("/containerLogs/default/missing/"):
            return web.Response(status=404, text='pod "missing" does not exist')
        if path.startswith("/containerLogs/"):
            response = web.StreamResponse()
            response.content_type = "text/plain"
            response.enable_chunked_encoding()
            await response.prepare(request)
            for line in (b"line1\n", b"line2\n"):
                await response.write(line)
            return response
        if "/broken/" in path:
            return web.Response(status=500, text='container not found ("c")')
        if request.headers.get("Upgrade", "").lower().startswith("spdy"):
            conn = await accept_upgrade(request, [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"),
                                                  ("X-Stream-Protocol-Version", "v4.channel.k8s.io")])
            while data := await conn.read():
                await conn.write(data.upper())
            conn.close()
            return conn.response
        ws = web.WebSocketResponse(protocols=("v5.channel.k8s.io",))
        await ws.prepare(request)
        await ws.send_bytes(b"\x01ready")
        async for msg in ws:
            if msg.type == WSMsgType.BINARY and msg.data[:1] == b"\x00":
                await ws.send_bytes(b"\x01" + msg.data[1:].upper())
            elif msg.type == WSMsgType.BINARY and msg.data == b"\xff\x00":
                await ws.send_bytes(b'\x03{"metadata":{},"status":"Success"}')
                await ws.close()
        return ws


@pytest.fixture
async def agent(tmp_path):
    fake = FakeAgent()
    pki = ensure_pki(str(tmp_path))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki.serving_cert, pki.serving_key)
    runner = web.AppRunner(fake.app(), handle_signals=False, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    fake.port = runner.addresses[0][1]
    yield fake
    await runner.cleanup()


async def make_node(api, port: int, name: str = "node-1", addresses=None) -> None:
    addresses = addresses if addresses is not None else [{"type": "Hostname", "address": "ignored.invalid"},
                                                          {"type": "InternalIP", "address": "127.0.0.1"}]
    status, body = await api.call("POST", "/api/v1/nodes", {
        "metadata": {"name": name}, "status": {"addresses": addresses,
                                               "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}})
    assert status == 201, body


async def make_pod(api, name: str, containers=("c",), node: str = "node-1", init=()) -> None:
    spec = {"containers": [{"name": c, "image": "busybox"} for c in containers]}
    if init:
        spec["initContainers"] = [{"name": c, "image": "busybox"} for c in init]
    if node:
        spec["nodeName"] = node
    status, body = await api.call("POST", PODS, {"metadata": {"name": name}, "spec": spec})
    assert status == 201, body


@pytest.fixture
async def cluster(api, agent):
    await make_node(api, agent.port)
    for name in ("p", "bad", "missing", "broken"):
        await make_pod(api, name)
    await make_pod(api, "two", containers=("a", "b"), init=("setup",))
    await make_pod(api, "floating", node="")
    return api


# ---------------------------------------------------------------------------------------------
# logs


async def test_logs_are_streamed_from_the_agent(cluster, agent):
    r = await cluster.get(f"{PODS}/p/log?follow=true&tailLines=5&timestamps=true&sinceTime=2026-01-01T00:00:00.5Z"
                          "&limitBytes=100&insecureSkipTLSVerifyBackend=true", headers=AUTH)
    assert (r.status, r.headers["Content-Type"], await r.text()) == (200, "text/plain", "line1\nline2\n")
    method, path, query, headers = agent.requests[-1]
    assert (method, path) == ("GET", "/containerLogs/default/p/c")
    assert dict(query) == {"follow": "true", "tailLines": "5", "timestamps": "true",
                           "sinceTime": "2026-01-01T00:00:00Z", "limitBytes": "100"}
    assert headers["Authorization"] == f"Bearer {kubelet_client_token(TOKEN)}"


@pytest.mark.parametrize(("query", "status", "message"), [
    pytest.param("?tailLines=-1", 422, 'PodLogOptions "p" is invalid: tailLines: Invalid value: -1: must be '
                                       "greater than or equal to 0", id="negative-tail"),
    pytest.param("?sinceSeconds=1&sinceTime=2026-01-01T00:00:00Z", 422,
                 'PodLogOptions "p" is invalid: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be '
                 "specified", id="both-since"),
    pytest.param("?limitBytes=0", 422, 'PodLogOptions "p" is invalid: limitBytes: Invalid value: 0: must be '
                                       "greater than 0", id="limit"),
    pytest.param("?tailLines=x", 400, 'strconv.ParseInt: parsing "x": invalid syntax', id="not-a-number"),
    pytest.param("?container=nope", 400, "container nope is not valid for pod p", id="unknown-container"),
])
async def test_log_option_errors(cluster, query, status, message):
    got_status, body = await cluster.call("GET", f"{PODS}/p/log{query}")
    assert (got_status, body["message"]) == (status, message)


async def test_log_container_rules(cluster, agent):
    status, body = await cluster.call("GET", f"{PODS}/two/log")
    assert (status, body["message"]) == (400, "a container name must be specified for pod two, choose one of: "
                                              "[setup a b]")
    r = await cluster.get(f"{PODS}/two/log?container=setup", headers=AUTH)
    assert r.status == 200 and agent.requests[-1][1] == "/containerLogs/default/two/setup"
    r = await cluster.get(f"{PODS}/floating/log", headers=AUTH)  # not scheduled: empty, like upstream
    assert (r.status, await r.text()) == (200, "")
    status, body = await cluster.call("GET", f"{PODS}/nope/log")
    assert (status, body["reason"]) == (404, "NotFound")


async def test_agent_errors_become_statuses(cluster):
    status, body = await cluster.call("GET", f"{PODS}/bad/log")
    assert (status, body["reason"], body["message"]) == (
        400, "BadRequest", 'container "c" in pod "bad" is waiting to start: ContainerCreating')
    status, body = await cluster.call("GET", f"{PODS}/missing/log")
    assert (status, body["reason"]) == (404, "NotFound")
    assert body["message"] == "the server could not find the requested resource ( pods/log missing)"
    assert body["details"]["causes"] == [{"reason": "UnexpectedServerResponse",
                                          "message": 'pod "missing" does not exist'}]


# ---------------------------------------------------------------------------------------------
# where the agent is


@pytest.mark.parametrize(("addresses", "port", "expected"), [
    pytest.param([{"type": "Hostname", "address": "h1"}, {"type": "InternalIP", "address": "10.0.0.7"}], 11250,
                 ("10.0.0.7", 11250), id="internal-ip-first"),
    pytest.param([{"type": "ExternalIP", "address": "1.2.3.4"}, {"type": "Hostname", "address": "h1"}], 0,
                 ("h1", 10250), id="hostname-and-default-port"),
])
async def test_location(api, addresses, port, expected):
    await make_node(api, port, name="n", addresses=addresses)
    assert await api.apiserver.nodeproxy.location("n") == expected


async def test_location_errors(api):
    await make_node(api, 1, name="bare", addresses=[])
    with pytest.raises(ApiError, match="no preferred addresses found"):
        await api.apiserver.nodeproxy.location("bare")
    with pytest.raises(ApiError, match='nodes "ghost" not found'):
        await api.apiserver.nodeproxy.location("ghost")


async def test_unreachable_agent(api):
    await make_node(api, 1, name="down")  # nothing listens on port 1
    await make_pod(api, "lost", node="down")
    status, body = await api.call("GET", f"{PODS}/lost/exec?command=true&stdout=true",
                                  headers={"Connection": "Upgrade", "Upgrade": "websocket"})
    assert status == 500 and body["message"].startswith("error dialing backend: dial tcp 127.0.0.1:1: ")
    status, body = await api.call("GET", f"{PODS}/lost/log")
    assert status == 500 and "containerLogs/default/lost/c" in body["message"]


# ---------------------------------------------------------------------------------------------
# exec, attach, port-forward: the upgrade splice


async def test_exec_websocket_is_spliced_through(cluster, agent):
    ws = await cluster.ws_connect(f"{PODS}/p/exec?command=sh&command=-c&command=echo%20x&stdin=true&stdout=true"
                                  "&stderr=true&tty=false", protocols=("v5.channel.k8s.io",), headers=AUTH)
    assert ws.protocol == "v5.channel.k8s.io"
    assert (await ws.receive()).data == b"\x01ready"
    method, path, query, headers = agent.requests[-1]
    assert (method, path) == ("GET", "/exec/default/p/c")
    assert query == [("input", "1"), ("output", "1"), ("error", "1"), ("command", "sh"), ("command", "-c"),
                     ("command", "echo x")]
    assert headers["Authorization"] == f"Bearer {kubelet_client_token(TOKEN)}"
    assert headers["Sec-WebSocket-Protocol"] == "v5.channel.k8s.io"
    await ws.send_bytes(b"\x00hello")
    assert (await ws.receive()).data == b"\x01HELLO"
    await ws.send_bytes(b"\xff\x00")
    assert (await ws.receive()).data == b'\x03{"metadata":{},"status":"Success"}'
    assert (await ws.receive()).type in (WSMsgType.CLOSE, WSMsgType.CLOSED)


async def test_exec_query_translation(cluster, agent):
    ws = await cluster.ws_connect(f"{PODS}/two/exec?container=b&command=ls&command=/&stdout=1&tty=true",
                                  protocols=("v5.channel.k8s.io",), headers=AUTH)
    await ws.receive()
    await ws.close()
    _, path, query, _ = agent.requests[-1]
    assert path == "/exec/default/two/b"
    assert query == [("output", "1"), ("tty", "1"), ("command", "ls"), ("command", "/")]
    ws = await cluster.ws_connect(f"{PODS}/p/attach?stdin=true&stdout=true", protocols=("v5.channel.k8s.io",),
                                  headers=AUTH)
    await ws.receive()
    await ws.close()
    assert agent.requests[-1][1:3] == ("/attach/default/p/c", [("input", "1"), ("output", "1")])
    ws = await cluster.ws_connect(f"{PODS}/p/portforward?ports=80&ports=443,8080",
                                  protocols=("v4.channel.k8s.io", "v5.channel.k8s.io"), headers=AUTH)
    await ws.close()
    assert agent.requests[-1][1:3] == ("/portForward/default/p", [("port", "80,443,8080")])


@pytest.mark.parametrize(("path", "headers", "status", "message"), [
    pytest.param(f"{PODS}/p/exec?command=true", {}, 400, "Upgrade request required", id="no-upgrade"),
    pytest.param(f"{PODS}/floating/exec?command=true", {}, 400, "pod floating does not have a host assigned",
                 id="unscheduled"),
    pytest.param(f"{PODS}/two/exec?command=true", {}, 400,
                 "a container name must be specified for pod two, choose one of: [setup a b]", id="which-container"),
    pytest.param(f"{PODS}/p/attach?container=zz", {}, 400, "container zz is not valid for pod p", id="bad-container"),
    pytest.param(f"{PODS}/p/portforward?ports=http", {}, 400, 'strconv.ParseInt: parsing "http": invalid syntax',
                 id="bad-port"),
])
async def test_connect_errors(cluster, path, headers, status, message):
    got, body = await cluster.call("GET", path, headers=headers)
    assert (got, body["message"]) == (status, message)


async def test_agent_refusal_is_passed_through(cluster):
    r = await cluster.get(f"{PODS}/broken/exec?command=true&stdout=true",
                          headers={**AUTH, "Connection": "Upgrade", "Upgrade": "websocket",
                                   "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert (r.status, await r.text()) == (500, 'container not found ("c")')


async def test_spdy_upgrade_is_spliced_through(cluster):
    reader, writer = await asyncio.open_connection("127.0.0.1", cluster.server.port)
    writer.write((f"POST {PODS}/p/exec?command=cat&stdin=true&stdout=true HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {TOKEN}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                  "X-Stream-Protocol-Version: v4.channel.k8s.io\r\nX-Stream-Protocol-Version: channel.k8s.io\r\n"
                  "Content-Length: 0\r\n\r\n").encode())
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode()
    assert head.startswith("HTTP/1.1 101 ") and "X-Stream-Protocol-Version: v4.channel.k8s.io" in head
    writer.write(b"raw bytes")
    assert await asyncio.wait_for(reader.readexactly(9), 5) == b"RAW BYTES"
    writer.close()


async def test_the_proxy_token_is_known_to_token_review(cluster):
    status, body = await cluster.call("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": kubelet_client_token(TOKEN)}})
    assert status == 201 and body["status"]["user"]["username"] == "kube-apiserver-kubelet-client"


async def test_method_not_allowed(cluster):
    status, body = await cluster.call("POST", f"{PODS}/p/log")
    assert status == 405


# ---------------------------------------------------------------------------------------------
# node_get_json


async def test_node_get_json(cluster, agent):
    proxy = cluster.apiserver.nodeproxy
    assert await proxy.node_get_json("node-1", "/stats/summary") == {"node": {"nodeName": "node-1"}}
    assert agent.requests[-1][3]["Authorization"] == f"Bearer {kubelet_client_token(TOKEN)}"
    with pytest.raises(ApiError) as e:
        await proxy.node_get_json("node-1", "/containerLogs/default/missing/c")
    assert e.value.code == 404
