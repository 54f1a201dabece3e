"""The streaming sessions behind the agent's kubelet API (`agent.server`): exec, attach, port-forward.

Transports: `WsChannels` (WebSocket channel protocols, `client.streamproto`) and `SpdyChannels`
(one SPDY/3.1 stream per channel, `client.spdy`) both offer send / receive / send_status;
`SpdyConn` runs a SPDY session over a byte stream: a hijacked connection (`HijackedIO`,
`client.hijack`) or WebSocket binary messages (`WsIO`, kubectl's port-forward tunnel).
Sessions: `run_exec` pumps a process's pipes or pty against the channels (stdin with the v5
close, resize, exit code; runc's "exec failed" becomes 126/127 as a shell reports it),
`attach_input` / `attach_output` connect a container's stdin FIFO and its new log records,
`SpdyPortForward` (kubectl's stream pairs) and `channel_port_forward` (the Python client's
channel pairs) become TCP connections that `connect_in_netns` dials from inside the pod's
network namespace (a fresh thread setns()es there: namespaces are per thread).
Routes, options and errors live in `agent.server`; this module only moves bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import json
import logging
import os
import re
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import IO, Protocol

from aiohttp import WSMsgType, web

from podplane.agent.runtime.logs import parse_record
from podplane.client import spdy
from podplane.client.hijack import RawConnection
from podplane.client.streamproto import (
    RESIZE_CHANNEL,
    STDERR_CHANNEL,
    STDIN_CHANNEL,
    STDOUT_CHANNEL,
    ChannelFrame,
    CloseSignal,
    decode_message,
    encode_frame,
    encode_port_prefix,
    encode_status,
    is_base64_protocol,
    parse_resize,
    port_channels,
    status_payload,
)
from podplane.utils.aio import cancel_and_wait

__all__ = [
    "ByteIO",
    "Channels",
    "Dial",
    "ExecHandle",
    "HijackedIO",
    "SpdyChannels",
    "SpdyConn",
    "SpdyPortForward",
    "StreamOptions",
    "WsChannels",
    "WsIO",
    "attach_input",
    "attach_output",
    "channel_port_forward",
    "connect_in_netns",
    "run_exec",
    "run_in_fresh_thread",
    "start_failure",
]

log = logging.getLogger(__name__)

DIAL_TIMEOUT = 10.0
PORTFORWARD_LINGER = 1.0
"""After one direction of a forwarded connection ends, how long the other may go on (containerd)."""
ATTACH_POLL = 0.05
"""How often attach looks for new output in the container's log file."""
CLONE_NEWNET = 0x40000000
# runc reports an exec that could not start as its first output (stderr, or the pty), then exits 255.
_START_FAILURE = re.compile(rb"exec failed: unable to start container process: [^\r\n]*")


class ExecHandle(Protocol):
    """A process started in a container (`runtime.runc.ExecProcess` is one): pipes, or a pty
    `master` for tty sessions; `wait()` closes the pty, so call it after the output ended."""

    master: int | None
    stdin: IO[bytes] | None
    stdout: IO[bytes] | None
    stderr: IO[bytes] | None

    def resize(self, cols: int, rows: int) -> None: ...

    def kill(self, wait: float = 2.0) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...


@dataclass(frozen=True)
class StreamOptions:
    """Which streams a session has (upstream's remotecommand Options)."""

    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


# ---------------------------------------------------------------------------------------------
# Dialing inside a network namespace

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _go_error(e: OSError) -> str:
    """An errno as Go's net package words it (`connection refused`)."""
    return os.strerror(e.errno).lower() if e.errno else str(e)


def _dial_localhost(port: int, timeout: float, where: str) -> socket.socket:
    errors = []
    for family, addr, label in ((socket.AF_INET, "127.0.0.1", f"IPv4: dial tcp4 127.0.0.1:{port}"),
                                (socket.AF_INET6, "::1", f"IPv6 dial tcp6 [::1]:{port}")):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((addr, port))
        except TimeoutError:
            sock.close()
            errors.append(f"{label}: i/o timeout")
            continue
        except OSError as e:
            sock.close()
            errors.append(f"{label}: connect: {_go_error(e)}")
            continue
        sock.setblocking(False)
        return sock
    raise ConnectionError(f"failed to connect to localhost:{port} inside namespace {where!r}, "
                          f"{' '.join(errors)} ")


def connect_in_netns(netns_path: str | None, port: int, timeout: float = DIAL_TIMEOUT) -> socket.socket:
    """A non-blocking TCP connection to localhost:`port` inside a network namespace (None: the
    current one), IPv4 first, then IPv6, as containerd dials. Blocking: call it from a thread
    that may change namespaces (the socket stays in the one it was created in)."""
    if netns_path is None:
        return _dial_localhost(port, timeout, "host")
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        os.close(own)
        raise ConnectionError(f"failed to open network namespace {netns_path}: {e.strerror}") from e
    try:
        _setns(target)
        try:
            return _dial_localhost(port, timeout, netns_path)
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


async def run_in_fresh_thread(fn: Callable, *args):
    """Run `fn` in a new thread (namespaces are per thread: never lend a pool thread to setns)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future = loop.create_future()

    def deliver(result, exc) -> None:
        if fut.cancelled():
            if isinstance(result, socket.socket):
                result.close()
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)

    def run() -> None:
        try:
            result = fn(*args)
        except BaseException as e:  # delivered to the awaiting task
            loop.call_soon_threadsafe(deliver, None, e)
        else:
            loop.call_soon_threadsafe(deliver, result, None)

    threading.Thread(target=run, name="podplane-netns-dial", daemon=True).start()
    return await fut


# ---------------------------------------------------------------------------------------------
# File descriptors in the event loop


async def _wait_fd(fd: int, write: bool = False) -> None:
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def ready() -> None:
        if not fut.done():
            fut.set_result(None)

    (loop.add_writer if write else loop.add_reader)(fd, ready)
    try:
        await fut
    finally:
        (loop.remove_writer if write else loop.remove_reader)(fd)


async def _read_fd(fd: int) -> bytes:
    """Next bytes from a non-blocking fd; b"" at EOF (EIO from a pty whose other side closed)."""
    while True:
        try:
            return os.read(fd, 65536)
        except BlockingIOError:
            await _wait_fd(fd)
        except OSError as e:
            if e.errno == errno.EIO:
                return b""
            raise


async def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            await _wait_fd(fd, write=True)


# ---------------------------------------------------------------------------------------------
# Channel streams: one exec/attach session over WebSocket or SPDY


class Channels(Protocol):
    protocol: str
    response: web.StreamResponse

    async def send(self, channel: int, data: bytes) -> None: ...

    async def receive(self) -> ChannelFrame | CloseSignal | None: ...

    async def send_status(self, status: dict) -> None: ...

    async def close(self) -> None: ...


class WsChannels:
    def __init__(self, ws: web.WebSocketResponse, protocol: str) -> None:
        self.ws = ws
        self.response = ws
        self.protocol = protocol
        self._lock = asyncio.Lock()

    async def _send_raw(self, frame: bytes) -> None:
        if self.ws.closed:
            return
        try:
            async with self._lock:
                if is_base64_protocol(self.protocol):
                    await self.ws.send_str(frame.decode("ascii"))
                else:
                    await self.ws.send_bytes(frame)
        except (ConnectionError, RuntimeError):
            pass  # the client went away; the reader notices

    async def send(self, channel: int, data: bytes) -> None:
        await self._send_raw(encode_frame(channel, data, self.protocol))

    async def send_status(self, status: dict) -> None:
        frame = encode_status(status, self.protocol)
        if frame:
            await self._send_raw(frame)

    async def receive(self) -> ChannelFrame | CloseSignal | None:
        while True:
            msg = await self.ws.receive()
            if msg.type in (WSMsgType.BINARY, WSMsgType.TEXT):
                try:
                    decoded = decode_message(msg.data, self.protocol)
                except ValueError:
                    continue
                if decoded is not None:
                    return decoded
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return None

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close()


class ByteIO(Protocol):
    async def read(self) -> bytes: ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class HijackedIO:
    def __init__(self, conn: RawConnection) -> None:
        self.conn = conn
        self.response = conn.response

    async def read(self) -> bytes:
        return await self.conn.read()

    async def write(self, data: bytes) -> None:
        await self.conn.write(data)

    async def close(self) -> None:
        self.conn.close()


class WsIO:
    """A byte stream tunnelled in WebSocket binary messages (`SPDY/3.1+portforward.k8s.io`)."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.response = ws

    async def read(self) -> bytes:
        while True:
            msg = await self.ws.receive()
            if msg.type == WSMsgType.BINARY:
                if msg.data:
                    return msg.data
            elif msg.type == WSMsgType.TEXT:
                if msg.data:
                    return msg.data.encode()
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return b""

    async def write(self, data: bytes) -> None:
        if self.ws.closed:
            raise ConnectionResetError("the WebSocket is closed")
        await self.ws.send_bytes(data)

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close()


class SpdyConn:
    """A SPDY/3.1 server session over a byte stream: a reader task feeds `on_event`; every
    send goes through `flush()` (one lock, so frames leave in the order they were queued)."""

    def __init__(self, io: ByteIO) -> None:
        self.io = io
        self.response = io.response  # type: ignore[attr-defined]
        self.session = spdy.SpdySession(server=True)
        self._lock = asyncio.Lock()
        self.broken = False

    async def flush(self) -> None:
        async with self._lock:
            data = self.session.data_to_send()
            if data and not self.broken:
                try:
                    await self.io.write(data)
                except (ConnectionError, RuntimeError):
                    self.broken = True

    async def run(self, on_event: Callable[[spdy.Event], None]) -> None:
        """Read until the peer closes (or sends garbage / GOAWAY)."""
        try:
            while True:
                data = await self.io.read()
                if not data:
                    return
                try:
                    events = self.session.receive(data)
                except spdy.SpdyProtocolError as e:
                    log.info("SPDY protocol error: %s", e)
                    self.session.goaway(spdy.GOAWAY_PROTOCOL_ERROR)
                    return
                for event in events:
                    on_event(event)
                await self.flush()
                if self.session.goaway_received:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            await self.flush()

    def send_data(self, stream_id: int, data: bytes, *, fin: bool = False) -> None:
        with contextlib.suppress(ValueError):  # already closed or reset
            self.session.send_data(stream_id, data, fin=fin)

    def close_stream(self, stream_id: int) -> None:
        self.send_data(stream_id, b"", fin=True)

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.session.goaway()
        await self.flush()
        await self.io.close()


class SpdyChannels:
    """Exec/attach channels over SPDY: the client opens one stream per channel."""

    def __init__(self, conn: SpdyConn, protocol: str, wanted: set[str]) -> None:
        self.conn = conn
        self.response = conn.response
        self.protocol = protocol
        self.wanted = wanted
        self.streams: dict[str, int] = {}
        self._types: dict[int, str] = {}
        self._inbox: asyncio.Queue[ChannelFrame | CloseSignal | None] = asyncio.Queue()
        self._ready = asyncio.Event()
        self._resize = bytearray()
        self._task: asyncio.Task | None = None

    async def start(self, patience: float) -> bool:
        """Read the session until the wanted streams are open (False after `patience` seconds)."""
        self._task = asyncio.create_task(self._run())
        try:
            async with asyncio.timeout(patience):
                await self._ready.wait()
        except TimeoutError:
            return False
        return bool(self.wanted <= set(self.streams))

    async def _run(self) -> None:
        try:
            await self.conn.run(self._on_event)
        finally:
            self._inbox.put_nowait(None)
            self._ready.set()

    def _on_event(self, event: spdy.Event) -> None:
        if isinstance(event, spdy.StreamOpened):
            kind = {k.lower(): v for k, v in event.headers.items()}.get("streamtype", "")
            self.conn.session.reply(event.stream_id, {})
            if kind not in spdy.EXEC_STREAM_CHANNELS:
                self.conn.session.reset(event.stream_id, spdy.RST_PROTOCOL_ERROR)
                return
            self.streams[kind] = event.stream_id
            self._types[event.stream_id] = kind
            if self.wanted <= set(self.streams):
                self._ready.set()
        elif isinstance(event, spdy.DataReceived):
            kind = self._types.get(event.stream_id)
            if kind == "stdin":
                if event.data:
                    self._inbox.put_nowait(ChannelFrame(STDIN_CHANNEL, event.data))
                if event.fin:
                    self._inbox.put_nowait(CloseSignal(STDIN_CHANNEL))
            elif kind == "resize":
                self._resize += event.data
                while b"\n" in self._resize:
                    line, _, rest = bytes(self._resize).partition(b"\n")
                    self._resize = bytearray(rest)
                    if line.strip():
                        self._inbox.put_nowait(ChannelFrame(RESIZE_CHANNEL, line))
        elif isinstance(event, spdy.StreamReset) and self._types.get(event.stream_id) == "stdin":
            self._inbox.put_nowait(CloseSignal(STDIN_CHANNEL))

    async def send(self, channel: int, data: bytes) -> None:
        kind = {STDOUT_CHANNEL: "stdout", STDERR_CHANNEL: "stderr"}.get(channel)
        sid = self.streams.get(kind or "")
        if sid is not None and data:
            self.conn.send_data(sid, data)
            await self.conn.flush()

    async def send_status(self, status: dict) -> None:
        sid = self.streams.get("error")
        payload = status_payload(status, self.protocol)
        if sid is not None and payload:
            self.conn.send_data(sid, payload)
        await self.conn.flush()

    async def receive(self) -> ChannelFrame | CloseSignal | None:
        return await self._inbox.get()

    async def close(self) -> None:
        for kind in ("stdout", "stderr", "error"):
            if kind in self.streams:
                self.conn.close_stream(self.streams[kind])
        await self.conn.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


# ---------------------------------------------------------------------------------------------
# Exec and attach sessions


def start_failure(output: bytes) -> tuple[int, str] | None:
    """(exit code, message) when runc's first output says the command could not start."""
    m = _START_FAILURE.search(output)
    if not m:
        return None
    message = m.group(0).decode(errors="replace").rstrip()
    message = message.removesuffix('"').rstrip().replace('\\"', '"')  # runc's logfmt quoting
    missing = "executable file not found" in message or "no such file or directory" in message
    return (127 if missing else 126), message


async def run_exec(channels: Channels, proc: ExecHandle, opts: StreamOptions) -> tuple[int, str | None]:
    """Pump the session until the process exited; (exit code, start failure message)."""
    outputs: list[tuple[int, int]] = []
    if proc.master is not None:
        os.set_blocking(proc.master, False)
        outputs.append((proc.master, STDOUT_CHANNEL))
    else:
        for stream, channel in ((proc.stdout, STDOUT_CHANNEL), (proc.stderr, STDERR_CHANNEL)):
            if stream is not None:
                os.set_blocking(stream.fileno(), False)
                outputs.append((stream.fileno(), channel))
    stdin_fd = proc.master if proc.master is not None else (proc.stdin.fileno() if proc.stdin else None)
    if stdin_fd is not None:
        os.set_blocking(stdin_fd, False)
    failure: list[tuple[int, str]] = []
    first = [True]

    async def pump_out(fd: int, channel: int) -> None:
        while data := await _read_fd(fd):
            if first[0]:
                first[0] = False
                found = start_failure(data)
                if found is not None:
                    failure.append(found)
                    continue
            if (channel == STDOUT_CHANNEL and opts.stdout) or (channel == STDERR_CHANNEL and opts.stderr):
                await channels.send(channel, data)

    async def pump_in() -> None:
        nonlocal stdin_fd
        while True:
            msg = await channels.receive()
            if msg is None:  # the client is gone: so is the command (containerd does the same)
                await asyncio.to_thread(proc.kill)
                return
            if isinstance(msg, CloseSignal):
                if msg.channel == STDIN_CHANNEL and stdin_fd is not None:
                    if proc.master is not None:
                        with contextlib.suppress(OSError):
                            await _write_fd(proc.master, b"\x04")  # end of input on a terminal
                    elif proc.stdin is not None:
                        with contextlib.suppress(OSError):
                            proc.stdin.close()
                    stdin_fd = None
                continue
            if msg.channel == STDIN_CHANNEL and stdin_fd is not None and opts.stdin:
                try:
                    await _write_fd(stdin_fd, msg.data)
                except OSError:  # the command closed its input
                    stdin_fd = None
            elif msg.channel == RESIZE_CHANNEL and opts.tty:
                try:
                    size = parse_resize(msg.data)
                except ValueError:
                    continue
                if size.width and size.height:
                    with contextlib.suppress(OSError):
                        proc.resize(size.width, size.height)

    reader = asyncio.create_task(pump_in())
    try:
        pumps = asyncio.gather(*(pump_out(fd, ch) for fd, ch in outputs))
        await pumps
        try:
            code = await asyncio.to_thread(proc.wait, None)
        except Exception:
            code = 255
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        await asyncio.to_thread(_finish_exec, proc)
    if failure and code == 255:
        return failure[0]
    return code, None


async def attach_input(channels: Channels, paths: dict[str, str], stdin_fd: int | None, opts: StreamOptions
                       ) -> None:
    """Client input to the container's stdin FIFO (closed at the v5 close), resizes to its
    control FIFO, until the client leaves."""
    try:
        while True:
            msg = await channels.receive()
            if msg is None:
                return
            if isinstance(msg, CloseSignal):
                if msg.channel == STDIN_CHANNEL and stdin_fd is not None:
                    os.close(stdin_fd)
                    stdin_fd = None
                continue
            if msg.channel == STDIN_CHANNEL and stdin_fd is not None:
                try:
                    await _write_fd(stdin_fd, msg.data)
                except OSError:
                    os.close(stdin_fd)
                    stdin_fd = None
            elif msg.channel == RESIZE_CHANNEL and opts.tty and "control" in paths:
                try:
                    size = parse_resize(msg.data)
                    fd = os.open(paths["control"], os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                except (ValueError, OSError):
                    continue
                try:
                    os.write(fd, json.dumps({"resize": [size.width, size.height]}).encode() + b"\n")
                except OSError:
                    pass
                finally:
                    os.close(fd)
    finally:
        if stdin_fd is not None:
            os.close(stdin_fd)


async def attach_output(channels: Channels, log_path: str, offset: int, running: Callable[[], bool],
                        opts: StreamOptions) -> None:
    """New output of the container (its CRI log file from `offset`) until `running()` is false."""
    try:
        fd = os.open(log_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        fd = -1
    pending = b""
    try:
        while True:
            alive = await asyncio.to_thread(running)
            while fd >= 0:
                chunk = os.pread(fd, 65536, offset)
                if not chunk:
                    break
                offset += len(chunk)
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    rec = parse_record(line)
                    if rec is None:
                        continue
                    channel = STDERR_CHANNEL if rec.stream == "stderr" and not opts.tty else STDOUT_CHANNEL
                    if (channel == STDOUT_CHANNEL and opts.stdout) or (channel == STDERR_CHANNEL
                                                                       and opts.stderr):
                        await channels.send(channel, rec.content + (b"" if rec.partial else b"\n"))
            if not alive:
                return
            await asyncio.sleep(ATTACH_POLL)
    finally:
        if fd >= 0:
            os.close(fd)


def _finish_exec(proc: ExecHandle) -> None:
    """Make sure an exec'd process is gone and its descriptors are closed."""
    with contextlib.suppress(Exception):
        proc.kill(0.5)
    with contextlib.suppress(Exception):
        proc.wait(2.0)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


# ---------------------------------------------------------------------------------------------
# Port-forward sessions


Dial = Callable[[int], Awaitable[socket.socket]]


async def _pipe_socket(sock: socket.socket, inbound: asyncio.Queue, send: Callable[[bytes], Awaitable[None]],
                       finish: Callable[[], Awaitable[None]]) -> None:
    """Copy `inbound` (bytes, None at the client's end) into the socket and the socket out
    through `send`; `finish()` when the socket's output ended. When one direction is done
    the other gets `PORTFORWARD_LINGER` seconds, then both stop."""
    loop = asyncio.get_running_loop()

    async def outbound() -> None:
        while True:
            try:
                data = await loop.sock_recv(sock, 65536)
            except OSError:
                data = b""
            if not data:
                await finish()
                return
            await send(data)

    async def inbound_copy() -> None:
        while True:
            data = await inbound.get()
            if data is None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
                return
            try:
                await loop.sock_sendall(sock, data)
            except OSError:
                return

    tasks = [asyncio.create_task(outbound()), asyncio.create_task(inbound_copy())]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if pending:
            await asyncio.wait(pending, timeout=PORTFORWARD_LINGER)
    finally:
        await cancel_and_wait(tasks)
        sock.close()


class SpdyPortForward:
    """kubectl's port-forward: a SPDY session whose stream pairs (error + data, one pair per
    accepted local connection) each become one TCP connection inside the pod."""

    def __init__(self, conn: SpdyConn, dial: Dial) -> None:
        self.conn = conn
        self.dial = dial
        self.pairer = spdy.PortForwardPairer()
        self.inbound: dict[int, asyncio.Queue] = {}
        self.tasks: set[asyncio.Task] = set()

    async def run(self) -> None:
        try:
            await self.conn.run(self._on_event)
        finally:
            await cancel_and_wait(list(self.tasks))
            await self.conn.close()

    def _on_event(self, event: spdy.Event) -> None:
        session = self.conn.session
        if isinstance(event, spdy.StreamOpened):
            session.reply(event.stream_id, {})
            self.inbound[event.stream_id] = asyncio.Queue()
            if event.fin:
                self.inbound[event.stream_id].put_nowait(None)
            try:
                pair = self.pairer.add(event.stream_id, event.headers)
            except ValueError as e:
                log.info("port-forward: bad stream %d: %s", event.stream_id, e)
                session.reset(event.stream_id, spdy.RST_PROTOCOL_ERROR)
                return
            if pair is not None:
                task = asyncio.create_task(self._forward(pair))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        elif isinstance(event, spdy.DataReceived):
            queue = self.inbound.get(event.stream_id)
            if queue is not None:
                if event.data:
                    queue.put_nowait(event.data)
                if event.fin:
                    queue.put_nowait(None)
        elif isinstance(event, spdy.StreamReset):
            self.pairer.discard(event.stream_id)
            queue = self.inbound.get(event.stream_id)
            if queue is not None:
                queue.put_nowait(None)

    async def _forward(self, pair: spdy.PortForwardPair) -> None:
        conn = self.conn
        try:
            try:
                sock = await self.dial(pair.port)
            except ConnectionError as e:
                log.info("port-forward: %s", e)
                conn.send_data(pair.error_stream_id, str(e).encode())
                return

            async def send(data: bytes) -> None:
                conn.send_data(pair.data_stream_id, data)
                await conn.flush()

            async def finish() -> None:
                conn.close_stream(pair.data_stream_id)
                await conn.flush()

            await _pipe_socket(sock, self.inbound[pair.data_stream_id], send, finish)
        finally:
            conn.close_stream(pair.data_stream_id)
            conn.close_stream(pair.error_stream_id)
            self.inbound.pop(pair.data_stream_id, None)
            self.inbound.pop(pair.error_stream_id, None)
            await conn.flush()


async def channel_port_forward(channels: WsChannels, ports: list[int], dial: Dial) -> None:
    """The Python client's port-forward: channels 2i (data) and 2i+1 (error) for ports[i],
    each announced with the port; one connection per port; the session ends with the last."""
    inbound = [asyncio.Queue() for _ in ports]
    for i, port in enumerate(ports):
        for channel in port_channels(i):  # `[channel, port & 0xFF, port >> 8]` (encode_port_prefix)
            await channels.send(channel, encode_port_prefix(channel, port)[1:])

    async def forward(i: int, port: int) -> None:
        data_channel, error_channel = port_channels(i)
        try:
            sock = await dial(port)
        except ConnectionError as e:
            log.info("port-forward: %s", e)
            await channels.send(error_channel, str(e).encode())
            return

        async def send(data: bytes) -> None:
            await channels.send(data_channel, data)

        async def finish() -> None:
            return None

        await _pipe_socket(sock, inbound[i], send, finish)

    async def read() -> None:
        while True:
            msg = await channels.receive()
            if msg is None:
                return
            if isinstance(msg, ChannelFrame) and msg.channel % 2 == 0 and msg.channel // 2 < len(ports):
                inbound[msg.channel // 2].put_nowait(msg.data)

    forwards = [asyncio.create_task(forward(i, p)) for i, p in enumerate(ports)]
    reader = asyncio.create_task(read())
    try:
        await asyncio.wait([reader, asyncio.gather(*forwards)], return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait([*forwards, reader])
        await channels.close()
