"""Raw byte streams over an upgraded HTTP/1.1 connection, on the aiohttp server side.

After a `101 Switching Protocols` the connection no longer carries HTTP: `accept_upgrade`
writes the 101 with the given headers and hands back a `RawConnection` (`read()` until b""
at EOF, `write()` with back-pressure, `close()`), the equivalent of Go's http.Hijacker.
Used for the SPDY/3.1 upgrade (`kubectl` falls back to it when WebSocket is refused) by the
agent's kubelet API (`agent.server`) and by the API server's transparent upgrade proxy
(`apiserver.nodeproxy`), which copies bytes between the client and an agent.

aiohttp switches its request parser to "upgraded" only for `Upgrade: websocket`; for any
other protocol this module switches it before the 101 is sent (the client speaks the new
protocol only after reading the 101, so no byte of it can have been parsed as HTTP).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiohttp import web

__all__ = ["RawConnection", "accept_upgrade"]

READ_BUFFER_LIMIT = 1024 * 1024
"""Bytes buffered from the client before the socket stops being read (back-pressure)."""


class _RawParser:
    """Takes the place of aiohttp's payload parser once the connection is upgraded."""

    def __init__(self, conn: RawConnection) -> None:
        self._conn = conn

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._conn._feed(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self._conn._feed_eof()


class RawConnection:
    """The byte stream of a hijacked connection. One reader and any number of writers."""

    def __init__(self, request: web.Request, response: web.StreamResponse, writer) -> None:
        self._protocol = request.protocol
        self._transport = request.transport
        self._response = response
        self._writer = writer
        self._buffer = bytearray()
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self.closed = False

    # -- fed by aiohttp's protocol ------------------------------------------------------------
    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _feed(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > READ_BUFFER_LIMIT and not self._paused:
            self._paused = True
            self._protocol.pause_reading()
        self._wake()

    def _feed_eof(self) -> None:
        self._eof = True
        self._wake()

    # -- the stream ---------------------------------------------------------------------------
    async def read(self, limit: int = 256 * 1024) -> bytes:
        """The next bytes from the client; b"" once it closed its side (or the connection broke)."""
        while not self._buffer and not self._eof and not self.closed:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = bytes(self._buffer[:limit])
        del self._buffer[:limit]
        if self._paused and len(self._buffer) < READ_BUFFER_LIMIT // 2:
            self._paused = False
            self._protocol.resume_reading()
        return data

    async def write(self, data: bytes) -> None:
        if self.closed or self._transport is None or self._transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        await self._writer.write(data)

    def close(self) -> None:
        """Close the connection (both directions)."""
        if self.closed:
            return
        self.closed = True
        self._wake()
        if self._transport is not None:
            self._transport.close()

    @property
    def response(self) -> web.StreamResponse:
        """What the request handler returns once done with the connection."""
        return self._response


async def accept_upgrade(request: web.Request, headers: Iterable[tuple[str, str]],
                         *, reason: str = "Switching Protocols") -> RawConnection:
    """Answer `101` with `headers` and take over the connection as a byte stream."""
    protocol = request.protocol
    parser = getattr(protocol, "_parser", None)
    if parser is not None and not getattr(protocol, "_upgraded", True):
        # Not a WebSocket upgrade: aiohttp would parse the next bytes as a new HTTP request.
        parser.set_upgraded(True)
        protocol._upgraded = True
    response = web.StreamResponse(status=101, reason=reason)
    for name, value in headers:
        response.headers.add(name, value)
    response.force_close()
    writer = await response.prepare(request)
    conn = RawConnection(request, response, writer)
    protocol.set_parser(_RawParser(conn))
    protocol.keep_alive(False)
    await writer.drain()
    return conn
