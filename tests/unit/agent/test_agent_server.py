"""The agent's kubelet API (`agent.server`) with a fake container lookup: authentication, logs,
exec and attach over WebSocket and SPDY, port-forward (channel protocol, SPDY tunnel, raw SPDY)
to loopback listeners, stats, the serving certificate and the published port.

Containers are stand-ins: log files written with `LogWriter`, exec'd commands are local `sh`
processes (the plain-process runtime's way); every connection stays on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer

from podplane.agent.nodestatus import SimulatedNode, build_node, desired_status
from podplane.agent.runtime import EXITED, RUNNING
from podplane.agent.runtime.logs import LogWriter
from podplane.agent.server import (
    AgentServer,
    Caller,
    ContainerRef,
    PodRef,
    TokenReviewAuthenticator,
    ensure_serving_cert,
)
from podplane.agent.streaming import connect_in_netns, start_failure
from podplane.client import spdy
from podplane.client.streamproto import (
    APISERVER_KUBELET_CLIENT,
    V4_BASE64_CHANNEL_PROTOCOL,
    V4_CHANNEL_PROTOCOL,
    V5_CHANNEL_PROTOCOL,
    exit_code_from_status,
)
from podplane.client.transport import TransportError

ADMIN = "admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z in ns


# ---------------------------------------------------------------------------------------------
# fakes


class FakeClient:
    """Answers TokenReviews from a token table; counts them."""

    def __init__(self, users: dict[str, tuple[str, tuple[str, ...]]]) -> None:
        self.users = users
        self.reviews = 0
        self.fail = False

    def resource(self, group: str, plural: str):
        assert (group, plural) == ("authentication.k8s.io", "tokenreviews")
        return "tokenreviews"

    async def create(self, info, body):
        self.reviews += 1
        if self.fail:
            raise TransportError("apiserver down")
        user = self.users.get(body["spec"]["token"])
        if user is None:
            return {"status": {"authenticated": False}}
        return {"status": {"authenticated": True, "user": {"username": user[0], "groups": list(user[1])}}}


class LocalExec:
    """ExecHandle over a local process (a pty for tty sessions)."""

    def __init__(self, argv: list[str], *, tty: bool, stdin: bool) -> None:
        self.master = None
        self.sizes: list[tuple[int, int]] = []
        if tty:
            self.master, slave = os.openpty()
            self.popen = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
            os.close(slave)
        else:
            self.popen = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stdin, self.stdout, self.stderr = self.popen.stdin, self.popen.stdout, self.popen.stderr

    def resize(self, cols: int, rows: int) -> None:
        self.sizes.append((cols, rows))

    def kill(self, wait: float = 2.0) -> None:
        if self.popen.poll() is None:
            self.popen.kill()

    def wait(self, timeout: float | None = None) -> int:
        code = self.popen.wait(timeout)
        if self.master is not None:
            os.close(self.master)
            self.master = None
        return code


class FakeLookup:
    def __init__(self) -> None:
        self.pods: dict[tuple[str, str], PodRef] = {}
        self.instances_: dict[tuple[str, str], list[ContainerRef]] = {}
        self.running: set[str] = set()
        self.execs: list[LocalExec] = []
        self.attach: dict[str, dict[str, str]] = {}
        self.netns: str | None = None

    def add(self, name: str, containers: dict[str, list[ContainerRef]], **kw) -> PodRef:
        pod = PodRef("ns", name, f"uid-{name}", tuple(containers), **kw)
        self.pods[("ns", name)] = pod
        for cname, refs in containers.items():
            self.instances_[(pod.uid, cname)] = refs
            self.running |= {r.id for r in refs if r.state == RUNNING}
        return pod

    def pod(self, namespace: str, name: str, uid: str = "") -> PodRef | None:
        pod = self.pods.get((namespace, name))
        return None if pod is None or (uid and pod.uid != uid) else pod

    def instances(self, pod: PodRef, container: str) -> list[ContainerRef]:
        return list(self.instances_.get((pod.uid, container), []))

    def is_running(self, container_id: str) -> bool:
        return container_id in self.running

    def exec(self, container_id: str, argv: list[str], *, tty: bool, stdin: bool) -> LocalExec:
        proc = LocalExec(argv, tty=tty, stdin=stdin)
        self.execs.append(proc)
        return proc

    def attach_paths(self, container_id: str) -> dict[str, str]:
        return self.attach.get(container_id, {})

    def netns_path(self, pod: PodRef) -> str | None:
        return self.netns


def write_log(path: str, lines: list[tuple[str, str]], start_ns: int = T0) -> None:
    clock = iter(range(start_ns, start_ns + 10**12, 10**9))
    w = LogWriter(path, clock_ns=lambda: next(clock))
    for stream, text in lines:
        w.write(stream, text.encode())
    w.close()


def append(path: str, record: bytes) -> None:
    with open(path, "ab") as f:
        f.write(record)


def ref(cid: str, tmp_path, name: str = "c", attempt: int = 0, state: str = RUNNING) -> ContainerRef:
    return ContainerRef(cid, name, attempt, state, str(tmp_path / "ns_p_uid" / name / f"{attempt}.log"))


@pytest.fixture
def lookup():
    return FakeLookup()


@pytest.fixture
async def agent(lookup):
    client = FakeClient({ADMIN: ("admin", ("system:masters", "system:authenticated")),
                         "apiserver": (APISERVER_KUBELET_CLIENT, ("system:authenticated",)),
                         "dev": ("dev", ("system:authenticated",))})
    stats_doc = {"node": {"nodeName": "n1"}, "pods": []}

    async def stats():
        return stats_doc

    server = AgentServer(lookup, authenticator=TokenReviewAuthenticator(client), stats=stats)
    tc = TestClient(TestServer(server.app()))
    await tc.start_server()
    tc.fake_client = client
    try:
        yield tc
    finally:
        await tc.close()
        for proc in lookup.execs:
            proc.kill()


# ---------------------------------------------------------------------------------------------
# authentication


@pytest.mark.parametrize(("headers", "status"), [
    pytest.param({}, 401, id="no-token"),
    pytest.param({"Authorization": "Bearer nope"}, 401, id="unknown-token"),
    pytest.param({"Authorization": "Basic YTpi"}, 401, id="not-bearer"),
    pytest.param({"Authorization": "Bearer dev"}, 403, id="not-allowed"),
    pytest.param({"Authorization": "Bearer apiserver"}, 200, id="apiserver-identity"),
    pytest.param(AUTH, 200, id="system-masters"),
])
async def test_authentication(agent, headers, status):
    r = await agent.get("/healthz", headers=headers)
    assert r.status == status
    if status == 403:
        assert await r.text() == "Forbidden (user=dev, verb=get, resource=nodes, subresource=proxy)"


async def test_token_reviews_are_cached():
    now = [0.0]
    client = FakeClient({ADMIN: ("admin", ("system:masters",))})
    auth = TokenReviewAuthenticator(client, clock=lambda: now[0])
    assert await auth.authenticate(f"Bearer {ADMIN}") == Caller("admin", ("system:masters",))
    assert await auth.authenticate(f"Bearer {ADMIN}") is not None
    assert client.reviews == 1
    now[0] = 61.0
    await auth.authenticate(f"Bearer {ADMIN}")
    assert client.reviews == 2
    assert await auth.authenticate("Bearer bad") is None
    await auth.authenticate("Bearer bad")
    assert client.reviews == 3  # rejections are cached too, for less time
    now[0] = 72.0
    await auth.authenticate("Bearer bad")
    assert client.reviews == 4
    client.fail = True  # an unreachable API server is not an answer: nothing cached
    assert await auth.authenticate("Bearer other") is None
    assert await auth.authenticate("Bearer other") is None
    assert client.reviews == 6
    assert await auth.authenticate(None) is None and client.reviews == 6


async def test_stats(agent):
    r = await agent.get("/stats/summary", headers=AUTH)
    assert (r.status, await r.json()) == (200, {"node": {"nodeName": "n1"}, "pods": []})


async def test_stats_without_a_source(lookup):
    async with TestClient(TestServer(AgentServer(lookup, authenticator=None).app())) as tc:
        r = await tc.get("/stats/summary")
        assert r.status == 404


# ---------------------------------------------------------------------------------------------
# logs


@pytest.fixture
def logged(lookup, tmp_path):
    """Pod p: container c with a terminated attempt 0 and a running attempt 1; w waiting."""
    old, cur = ref("c0", tmp_path, attempt=0, state=EXITED), ref("c1", tmp_path, attempt=1)
    write_log(old.log_path, [("stdout", "first run\n")])
    write_log(cur.log_path, [("stdout", "one\n"), ("stderr", "two\n"), ("stdout", "three\n")])
    lookup.add("p", {"c": [old, cur], "w": [], "solo": [ref("s0", tmp_path, "solo", state=EXITED)]},
               waiting={"w": "ErrImagePull"})
    write_log(ref("s0", tmp_path, "solo").log_path, [("stdout", "solo\n")])
    return lookup


@pytest.mark.parametrize(("query", "body"), [
    pytest.param("", "one\ntwo\nthree\n", id="all"),
    pytest.param("?tailLines=1", "three\n", id="tail"),
    pytest.param("?tail=all", "one\ntwo\nthree\n", id="legacy-tail-all"),
    pytest.param("?limitBytes=5", "one\nt", id="limit"),
    pytest.param("?stream=Stderr", "two\n", id="stderr-only"),
    pytest.param("?sinceTime=2026-01-01T00:00:01Z", "two\nthree\n", id="since-time"),
    pytest.param("?timestamps=true&tailLines=1", "2026-01-01T00:00:02.000000000Z three\n", id="timestamps"),
    pytest.param("?previous=true", "first run\n", id="previous"),
])
async def test_logs(agent, logged, query, body):
    r = await agent.get(f"/containerLogs/ns/p/c{query}", headers=AUTH)
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    assert await r.text() == body


@pytest.mark.parametrize(("path", "status", "text"), [
    pytest.param("/containerLogs/ns/nope/c", 404, 'pod "nope" does not exist', id="no-pod"),
    pytest.param("/containerLogs/ns/p/x", 404, 'container "x" not found in pod "p"', id="no-container"),
    pytest.param("/containerLogs/ns/p/w", 400, 'container "w" in pod "p" is waiting to start: image can\'t '
                                               'be pulled', id="waiting"),
    pytest.param("/containerLogs/ns/p/solo?previous=1", 400,
                 'previous terminated container "solo" in pod "p" not found', id="no-previous"),
    pytest.param("/containerLogs/ns/p/c?tailLines=-1", 422, '{"message": "Invalid request."}', id="negative-tail"),
    pytest.param("/containerLogs/ns/p/c?sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z", 422,
                 '{"message": "Invalid request."}', id="both-since"),
    pytest.param("/containerLogs/ns/p/c?tailLines=x", 400, '{"message": "Unable to decode query."}', id="nan"),
    pytest.param("/containerLogs/ns/p/c?stream=Both", 400, 'invalid stream type "Both"', id="bad-stream"),
])
async def test_log_errors(agent, logged, path, status, text):
    r = await agent.get(path, headers=AUTH)
    assert (r.status, await r.text()) == (status, text)


async def test_logs_of_a_terminated_container_and_follow_until_exit(agent, lookup, tmp_path):
    c = ref("f0", tmp_path, "f")
    write_log(c.log_path, [("stdout", "start\n")])
    lookup.add("q", {"f": [c]})
    r = await agent.get("/containerLogs/ns/q/f?follow=true", headers=AUTH)
    assert await r.content.readline() == b"start\n"
    append(c.log_path, b"2026-01-01T00:00:09.000000000Z stdout F later\n")  # as the shim does
    assert await asyncio.wait_for(r.content.readline(), 5) == b"later\n"
    lookup.running.discard("f0")  # the container exits: the stream ends
    assert await asyncio.wait_for(r.content.read(), 5) == b""


# ---------------------------------------------------------------------------------------------
# exec over WebSocket


async def _collect(ws, base64_frames: bool = False) -> tuple[dict[int, bytes], list[bytes]]:
    """Read a session to its end: bytes per channel, and the raw messages."""
    out: dict[int, bytes] = {}
    raw = []
    async for msg in ws:
        data = msg.data.encode() if msg.type == WSMsgType.TEXT else msg.data
        raw.append(data)
        if base64_frames:
            channel, payload = data[0] - ord("0"), base64.b64decode(data[1:])
        else:
            channel, payload = data[0], data[1:]
        out[channel] = out.get(channel, b"") + payload
    return out, raw


@pytest.fixture
def shell(lookup, tmp_path):
    lookup.add("sh", {"c": [ref("x0", tmp_path)], "gone": [ref("g0", tmp_path, "gone", state=EXITED)]})
    return lookup


async def test_exec_v5_output_status_and_exit_code(agent, shell):
    ws = await agent.ws_connect("/exec/ns/sh/c?command=sh&command=-c&command=echo%20out;echo%20err%20>%262;exit%203"
                                "&output=1&error=1", protocols=(V5_CHANNEL_PROTOCOL,), headers=AUTH)
    assert ws.protocol == V5_CHANNEL_PROTOCOL
    out, raw = await _collect(ws)
    assert raw[0] == b"\x01"  # upstream's "streams are up" message
    assert (out[1], out[2]) == (b"out\n", b"err\n")
    status = json.loads(out[3])
    assert status["reason"] == "NonZeroExitCode" and exit_code_from_status(status) == 3
    assert status["message"] == ("command terminated with non-zero exit code: error executing command "
                                 "[sh -c echo out;echo err >&2;exit 3], exit code 3")


async def test_exec_stdin_with_v5_close(agent, shell):
    ws = await agent.ws_connect("/exec/ns/sh/c?command=cat&input=1&output=1&error=1",
                                protocols=(V5_CHANNEL_PROTOCOL,), headers=AUTH)
    await ws.send_str("\x00hello ")  # the Python client sends stdin as text
    await ws.send_bytes(b"\x00world\n")
    await ws.send_bytes(b"\xff\x00")  # stdin EOF: cat exits
    out, _ = await asyncio.wait_for(_collect(ws), 10)
    assert out[1] == b"hello world\n"
    assert json.loads(out[3]) == {"metadata": {}, "status": "Success"}


async def test_exec_tty_resize_and_no_stderr(agent, shell, lookup):
    ws = await agent.ws_connect("/exec/ns/sh/c?command=sh&command=-c&command=tty%3E/dev/null%26%26echo%20yes%3E%262"
                                "&output=1&error=1&tty=1", protocols=(V5_CHANNEL_PROTOCOL,), headers=AUTH)
    await ws.send_bytes(b'\x04{"Width":100,"Height":40}')
    out, _ = await asyncio.wait_for(_collect(ws), 10)
    assert b"yes" in out[1] and 2 not in out  # a terminal has one output stream
    assert json.loads(out[3])["status"] == "Success"
    assert lookup.execs[-1].sizes in ([(100, 40)], [])  # the resize may arrive after the exit


async def test_exec_v4_base64(agent, shell):
    ws = await agent.ws_connect("/exec/ns/sh/c?command=printf&command=%5Cx00%5Cxff&output=1",
                                protocols=(V4_BASE64_CHANNEL_PROTOCOL,), headers=AUTH)
    out, raw = await _collect(ws, base64_frames=True)
    assert out[1] == b"\x00\xff" and all(isinstance(m, bytes) and m[:1].isdigit() for m in raw)
    assert json.loads(out[3])["status"] == "Success"


async def test_exec_without_subprotocol_reports_failure_as_text(agent, shell):
    ws = await agent.ws_connect("/exec/ns/sh/c?command=false&output=1", headers=AUTH)
    assert ws.protocol is None
    out, _ = await _collect(ws)
    assert out[3] == b"command terminated with non-zero exit code: error executing command [false], exit code 1"


async def test_exec_client_leaving_kills_the_command(agent, shell, lookup):
    ws = await agent.ws_connect("/exec/ns/sh/c?command=sleep&command=60&output=1",
                                protocols=(V5_CHANNEL_PROTOCOL,), headers=AUTH)
    await ws.receive()
    await ws.close()
    for _ in range(100):
        if lookup.execs and lookup.execs[-1].popen.poll() is not None:
            break
        await asyncio.sleep(0.05)
    assert lookup.execs[-1].popen.poll() is not None


@pytest.mark.parametrize(("path", "headers", "status", "text"), [
    pytest.param("/exec/ns/sh/c?command=true", {"Upgrade": "websocket"}, 400,
                 "you must specify at least 1 of stdin, stdout, stderr", id="no-streams"),
    pytest.param("/exec/ns/sh/c?output=1", {}, 400, "you must specify at least one command for the container",
                 id="no-command"),
    pytest.param("/exec/ns/nope/c?command=true&output=1", {}, 404, "pod does not exist", id="no-pod"),
    pytest.param("/exec/ns/sh/uid-other/c?command=true&output=1", {}, 404, "pod does not exist", id="wrong-uid"),
    pytest.param("/exec/ns/sh/gone?command=true&output=1", {}, 500, 'container not found ("gone")',
                 id="not-running"),
    pytest.param("/exec/ns/sh/c?command=true&output=1", {}, 400, "Upgrade request required", id="no-upgrade"),
    pytest.param("/attach/ns/sh/gone?output=1", {}, 500, 'container not found ("gone")', id="attach-not-running"),
])
async def test_exec_errors_before_the_upgrade(agent, shell, path, headers, status, text):
    r = await agent.get(path, headers={**AUTH, **headers})
    assert (r.status, await r.text()) == (status, text)


@pytest.mark.parametrize(("output", "expected"), [
    pytest.param(b'time="2026-11-27T23:21:32Z" level=error msg="exec failed: unable to start container process: '
                 b'exec: \\"nope\\": executable file not found in $PATH"\n',
                 (127, 'exec failed: unable to start container process: exec: "nope": executable file not found '
                       'in $PATH'), id="not-found"),
    pytest.param(b'\x1b[31mERRO\x1b[0m[0000] exec failed: unable to start container process: exec: "/etc/x": '
                 b'permission denied \r\n',
                 (126, 'exec failed: unable to start container process: exec: "/etc/x": permission denied'),
                 id="tty-permission-denied"),
    pytest.param(b"hello\n", None, id="ordinary-output"),
])
def test_start_failure(output, expected):
    assert start_failure(output) == expected


# ---------------------------------------------------------------------------------------------
# exec over the SPDY/3.1 upgrade (raw connection)


async def _raw_upgrade(port: int, path: str, headers: dict[str, str]):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: Upgrade", "Upgrade: SPDY/3.1",
            *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    response = await reader.readuntil(b"\r\n\r\n")
    return reader, writer, response.decode()


async def test_exec_over_spdy(agent, shell):
    reader, writer, head = await _raw_upgrade(agent.port, "/exec/ns/sh/c?command=sh&command=-c&command=cat;exit%202"
                                              "&input=1&output=1&error=1",
                                              {**AUTH, "X-Stream-Protocol-Version": "v4.channel.k8s.io"})
    assert head.startswith("HTTP/1.1 101") and "X-Stream-Protocol-Version: v4.channel.k8s.io" in head
    session = spdy.SpdySession(server=False)
    ids = {kind: session.open_stream({"streamtype": kind}) for kind in ("error", "stdin", "stdout", "stderr")}
    session.send_data(ids["stdin"], b"over spdy\n", fin=True)
    writer.write(session.data_to_send())
    got: dict[int, bytes] = {}
    closed: set[int] = set()
    while not {ids["stdout"], ids["error"]} <= closed:
        data = await asyncio.wait_for(reader.read(65536), 10)
        if not data:
            break
        for event in session.receive(data):
            if isinstance(event, spdy.DataReceived):
                got[event.stream_id] = got.get(event.stream_id, b"") + event.data
                if event.fin:
                    closed.add(event.stream_id)
        writer.write(session.data_to_send())
    writer.close()
    assert got[ids["stdout"]] == b"over spdy\n"
    assert exit_code_from_status(got[ids["error"]]) == 2


# ---------------------------------------------------------------------------------------------
# attach


async def test_attach_streams_new_output_and_forwards_input(agent, lookup, tmp_path):
    c = ref("a0", tmp_path, "c")
    write_log(c.log_path, [("stdout", "old\n")])
    fifo = str(tmp_path / "stdin")
    os.mkfifo(fifo)
    reader_fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # the shim's end
    lookup.add("att", {"c": [c]})
    lookup.attach["a0"] = {"stdin": fifo}
    try:
        ws = await agent.ws_connect("/attach/ns/att/c?input=1&output=1&error=1", protocols=(V5_CHANNEL_PROTOCOL,),
                                    headers=AUTH)
        assert (await ws.receive()).data == b"\x01"
        await ws.send_bytes(b"\x00typed\n")
        for _ in range(100):
            try:
                data = os.read(reader_fd, 100)
            except BlockingIOError:
                data = b""
            if data:
                break
            await asyncio.sleep(0.02)
        assert data == b"typed\n"
        append(c.log_path, b"2026-01-01T00:00:09.000000000Z stderr F new\n")
        msg = await asyncio.wait_for(ws.receive(), 5)
        assert msg.data == b"\x02new\n"  # only what came after attaching
        lookup.running.discard("a0")
        out, _ = await asyncio.wait_for(_collect(ws), 5)
        assert json.loads(out[3])["status"] == "Success"
    finally:
        os.close(reader_fd)


# ---------------------------------------------------------------------------------------------
# port-forward (to loopback listeners: the fake pod shares the host's network)


@pytest.fixture
async def echo_port():
    async def echo(reader, writer):
        while data := await reader.read(65536):
            writer.write(data.upper())
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.fixture
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_port_forward_channel_protocol(agent, shell, echo_port, closed_port):
    ws = await agent.ws_connect(f"/portForward/ns/sh?ports={echo_port},{closed_port}",
                                protocols=(V5_CHANNEL_PROTOCOL, V4_CHANNEL_PROTOCOL), headers=AUTH)
    assert ws.protocol == V4_CHANNEL_PROTOCOL  # as the kubelet: port-forward has no v5
    first = [(await ws.receive()).data for _ in range(4)]
    assert first == [bytes([0, echo_port & 0xFF, echo_port >> 8]), bytes([1, echo_port & 0xFF, echo_port >> 8]),
                     bytes([2, closed_port & 0xFF, closed_port >> 8]),
                     bytes([3, closed_port & 0xFF, closed_port >> 8])]
    await ws.send_bytes(b"\x00ping")
    seen: dict[int, bytes] = {}
    while b"PING" not in seen.get(0, b"") or 3 not in seen:
        msg = await asyncio.wait_for(ws.receive(), 5)
        seen[msg.data[0]] = seen.get(msg.data[0], b"") + msg.data[1:]
    assert seen[0] == b"PING"
    assert seen[3].decode() == (
        f"error forwarding port {closed_port} to pod uid-sh, uid : failed to connect to localhost:{closed_port} "
        f"inside namespace 'host', IPv4: dial tcp4 127.0.0.1:{closed_port}: connect: connection refused "
        f"IPv6 dial tcp6 [::1]:{closed_port}: connect: " + seen[3].decode().rsplit("connect: ", 1)[1])
    await ws.close()


async def _spdy_forward(session: spdy.SpdySession, send, receive, port: int, payload: bytes, request: str
                        ) -> tuple[bytes, bytes]:
    """kubectl's side of one forwarded connection: error + data streams, `payload`, half-close."""
    err = session.open_stream({"streamType": "error", "port": str(port), "requestID": request})
    session.close_stream(err)
    data = session.open_stream({"streamType": "data", "port": str(port), "requestID": request})
    session.send_data(data, payload, fin=True)
    await send(session.data_to_send())
    got = {err: b"", data: b""}
    done: set[int] = set()
    while done != {err, data}:
        chunk = await asyncio.wait_for(receive(), 5)
        if not chunk:
            break
        for event in session.receive(chunk):
            if isinstance(event, spdy.DataReceived):
                got[event.stream_id] += event.data
            if isinstance(event, spdy.StreamClosed):
                done.add(event.stream_id)
        await send(session.data_to_send())
    return got[data], got[err]


async def test_port_forward_spdy_tunnelled_in_websocket(agent, shell, echo_port, closed_port):
    ws = await agent.ws_connect("/portForward/ns/sh", protocols=("SPDY/3.1+portforward.k8s.io",), headers=AUTH)
    assert ws.protocol == "SPDY/3.1+portforward.k8s.io"

    async def receive() -> bytes:
        msg = await ws.receive()
        return msg.data if msg.type == WSMsgType.BINARY else b""

    async def send(data: bytes) -> None:
        if data:
            await ws.send_bytes(data)

    session = spdy.SpdySession(server=False)
    assert await _spdy_forward(session, send, receive, echo_port, b"hello", "0") == (b"HELLO", b"")
    data, error = await _spdy_forward(session, send, receive, closed_port, b"x", "1")
    assert data == b"" and b"connect: connection refused" in error
    await ws.close()


async def test_port_forward_raw_spdy(agent, shell, echo_port):
    reader, writer, head = await _raw_upgrade(agent.port, "/portForward/ns/sh",
                                              {**AUTH, "X-Stream-Protocol-Version": "portforward.k8s.io"})
    assert head.startswith("HTTP/1.1 101")

    async def send(data: bytes) -> None:
        writer.write(data)

    async def receive() -> bytes:
        return await reader.read(65536)

    session = spdy.SpdySession(server=False)
    assert await _spdy_forward(session, send, receive, echo_port, b"raw", "0") == (b"RAW", b"")
    writer.close()


def test_connect_in_the_current_namespace(echo_port, closed_port):
    sock = connect_in_netns(None, echo_port)
    assert sock.getpeername()[1] == echo_port
    sock.close()
    with pytest.raises(ConnectionError, match=f"failed to connect to localhost:{closed_port} inside namespace "
                                              f"'host', IPv4: dial tcp4 127.0.0.1:{closed_port}: connect: "
                                              "connection refused"):
        connect_in_netns(None, closed_port)


# ---------------------------------------------------------------------------------------------
# certificate, published port


def test_serving_certificate_is_reused_and_reissued(tmp_path):
    from cryptography import x509

    crt, key = ensure_serving_cert(str(tmp_path), ["node-1", "10.0.0.5"])
    first = open(crt, "rb").read()
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"
    assert ensure_serving_cert(str(tmp_path), ["node-1"]) == (crt, key) and open(crt, "rb").read() == first
    ensure_serving_cert(str(tmp_path), ["node-2"])
    cert = x509.load_pem_x509_certificate(open(crt, "rb").read())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "node-2" in san.get_values_for_type(x509.DNSName)


def test_node_status_publishes_the_kubelet_port():
    node = SimulatedNode(name="n1", block=0, internal_ip="10.0.0.1", pod_cidr="10.244.0.0/24")
    assert desired_status(node, {}, {}, 0.0)["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    built = build_node(node, labels={}, capacity={}, info={}, now=0.0, kubelet_port=11250)
    assert built["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 11250}}
