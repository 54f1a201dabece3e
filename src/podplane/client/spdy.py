"""SPDY/3.1 framing, sans-I/O, as used by `kubectl port-forward` (and the SPDY exec fallback).

- Frames are dataclasses (`SynStreamFrame`, `DataFrame`, ...); `FrameParser.feed(bytes)` yields
  complete frames, `encode_frame(frame, compressor)` serialises one.
- Header blocks are zlib streams primed with the SPDY/3 dictionary (`HEADER_DICTIONARY`, 1423
  bytes, checked against the one embedded in kubectl). One `HeaderCompressor` and one
  `HeaderDecompressor` live for the whole session, one per direction; every header block must
  pass through them, in order, even for frames that are then ignored.
- `SpdySession` is the connection state machine: `receive(data) -> list[Event]` parses peer
  bytes, and every method that sends (`open_stream`, `reply`, `send_data`, `reset`, `ping`,
  `goaway`, ...) queues bytes that `data_to_send()` drains. PINGs from the peer are echoed
  automatically; flow control (WINDOW_UPDATE, initial window) is parsed but not enforced.
- Port-forward: per forwarded connection kubectl opens an error stream (`streamtype: error`)
  and a data stream (`streamtype: data`) sharing `port` and `requestid` headers;
  `PortForwardPairer` matches them, the server replies SYN_REPLY to both and pipes bytes.
- Exec/attach over SPDY: the client opens one stream per channel, named by its `streamtype`
  header (`EXEC_STREAM_CHANNELS`: error, stdin, stdout, stderr, resize); stdin ends with FIN,
  resize carries newline-separated JSON sizes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "DATA_FRAME_MAX",
    "EXEC_STREAM_CHANNELS",
    "FLAG_FIN",
    "FLAG_UNIDIRECTIONAL",
    "GOAWAY_INTERNAL_ERROR",
    "GOAWAY_OK",
    "GOAWAY_PROTOCOL_ERROR",
    "HEADER_DICTIONARY",
    "PORTFORWARD_HEADER_PORT",
    "PORTFORWARD_HEADER_REQUEST_ID",
    "PORTFORWARD_HEADER_STREAM_TYPE",
    "RST_CANCEL",
    "RST_FLOW_CONTROL_ERROR",
    "RST_INTERNAL_ERROR",
    "RST_INVALID_STREAM",
    "RST_PROTOCOL_ERROR",
    "RST_REFUSED_STREAM",
    "RST_STREAM_ALREADY_CLOSED",
    "RST_STREAM_IN_USE",
    "RST_UNSUPPORTED_VERSION",
    "SPDY_VERSION",
    "STREAM_TYPE_DATA",
    "STREAM_TYPE_ERROR",
    "DataFrame",
    "DataReceived",
    "Event",
    "Frame",
    "FrameParser",
    "GoAwayFrame",
    "GoAwayReceived",
    "HeaderCompressor",
    "HeaderDecompressor",
    "Headers",
    "HeadersFrame",
    "HeadersReceived",
    "PingAcknowledged",
    "PingFrame",
    "PingReceived",
    "PortForwardPair",
    "PortForwardPairer",
    "PortForwardRequest",
    "RstStreamFrame",
    "SettingsFrame",
    "SettingsReceived",
    "SpdyProtocolError",
    "SpdySession",
    "StreamClosed",
    "StreamOpened",
    "StreamReplied",
    "StreamReset",
    "SynReplyFrame",
    "SynStreamFrame",
    "WindowUpdateFrame",
    "WindowUpdated",
    "decode_header_block",
    "encode_frame",
    "encode_header_block",
    "parse_portforward_headers",
]

SPDY_VERSION = 3

# Control frame types.
_SYN_STREAM = 1
_SYN_REPLY = 2
_RST_STREAM = 3
_SETTINGS = 4
_PING = 6
_GOAWAY = 7
_HEADERS = 8
_WINDOW_UPDATE = 9

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
_FLAG_SETTINGS_CLEAR = 0x01

# RST_STREAM status codes.
RST_PROTOCOL_ERROR = 1
RST_INVALID_STREAM = 2
RST_REFUSED_STREAM = 3
RST_UNSUPPORTED_VERSION = 4
RST_CANCEL = 5
RST_INTERNAL_ERROR = 6
RST_FLOW_CONTROL_ERROR = 7
RST_STREAM_IN_USE = 8
RST_STREAM_ALREADY_CLOSED = 9

# GOAWAY status codes.
GOAWAY_OK = 0
GOAWAY_PROTOCOL_ERROR = 1
GOAWAY_INTERNAL_ERROR = 2

DATA_FRAME_MAX = 0xFFFFFF  # 24-bit length field
_MAX_FRAME = 16 * 1024 * 1024
_STREAM_ID_MASK = 0x7FFFFFFF

# Port-forward header names (lower-case on the wire) and stream types.
PORTFORWARD_HEADER_STREAM_TYPE = "streamtype"
PORTFORWARD_HEADER_PORT = "port"
PORTFORWARD_HEADER_REQUEST_ID = "requestid"
STREAM_TYPE_ERROR = "error"
STREAM_TYPE_DATA = "data"
EXEC_STREAM_CHANNELS = {"stdin": 0, "stdout": 1, "stderr": 2, "error": 3, "resize": 4}
"""Exec/attach stream types (`streamtype` header) and the WebSocket channel each matches."""


def _build_dictionary() -> bytes:
    # The SPDY/3 zlib dictionary: length-prefixed header names and common values, then a
    # raw run of status codes, reason phrases, dates and media types.
    words = [
        "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
        "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
        "cache-control", "connection", "content-base", "content-encoding", "content-language",
        "content-length", "content-location", "content-md5", "content-range", "content-type",
        "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
        "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
        "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
        "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
        "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK",
        "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
    ]  # fmt: skip
    tail = (
        "100101201202205206300302303304305306307"
        "402405406407408409410411412413414415416417502504505"
        "203 Non-Authoritative Information"
        "204 No Content"
        "301 Moved Permanently"
        "400 Bad Request"
        "401 Unauthorized"
        "403 Forbidden"
        "404 Not Found"
        "500 Internal Server Error"
        "501 Not Implemented"
        "503 Service Unavailable"
        "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
        "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
        "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,"
        "text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch"
        "charset=utf-8charset=iso-8859-1,utf-,*,enq=0."
    )
    out = bytearray()
    for word in words:
        out += struct.pack(">I", len(word)) + word.encode("ascii")
    out += tail.encode("ascii")
    return bytes(out)


HEADER_DICTIONARY: bytes = _build_dictionary()


class SpdyProtocolError(Exception):
    """The peer sent bytes that are not valid SPDY/3.1; the session should send GOAWAY and close."""


Headers = dict[str, str]
"""Decoded header block: lower-case name -> value (several values are joined by NUL, as on the wire)."""


# ---------------------------------------------------------------------------------------------
# Frames


@dataclass(frozen=True, slots=True)
class DataFrame:
    stream_id: int
    data: bytes = b""
    fin: bool = False


@dataclass(frozen=True, slots=True)
class SynStreamFrame:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    associated_stream_id: int = 0
    priority: int = 0
    slot: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True, slots=True)
class SynReplyFrame:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True, slots=True)
class HeadersFrame:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True, slots=True)
class RstStreamFrame:
    stream_id: int
    status: int = RST_CANCEL


@dataclass(frozen=True, slots=True)
class SettingsFrame:
    # (flags, id, value) triples, as on the wire.
    settings: tuple[tuple[int, int, int], ...] = ()
    clear: bool = False


@dataclass(frozen=True, slots=True)
class PingFrame:
    ping_id: int


@dataclass(frozen=True, slots=True)
class GoAwayFrame:
    last_good_stream_id: int
    status: int = GOAWAY_OK


@dataclass(frozen=True, slots=True)
class WindowUpdateFrame:
    stream_id: int
    delta: int


Frame = (
    DataFrame
    | SynStreamFrame
    | SynReplyFrame
    | HeadersFrame
    | RstStreamFrame
    | SettingsFrame
    | PingFrame
    | GoAwayFrame
    | WindowUpdateFrame
)


# ---------------------------------------------------------------------------------------------
# Header blocks


def encode_header_block(headers: Mapping[str, str | Sequence[str]]) -> bytes:
    """Uncompressed SPDY/3 name/value block; names lower-cased, list values NUL-joined."""
    out = bytearray(struct.pack(">I", len(headers)))
    for name, value in headers.items():
        raw_name = name.lower().encode("utf-8")
        raw_value = (value if isinstance(value, str) else "\x00".join(value)).encode("utf-8")
        out += struct.pack(">I", len(raw_name)) + raw_name
        out += struct.pack(">I", len(raw_value)) + raw_value
    return bytes(out)


def decode_header_block(block: bytes) -> Headers:
    """Parse an uncompressed name/value block; repeated names are NUL-joined."""
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        pos = 4
        headers: Headers = {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", block, pos)
            pos += 4
            name = block[pos : pos + n]
            if len(name) != n or n == 0:
                raise SpdyProtocolError("bad header name")
            pos += n
            (v,) = struct.unpack_from(">I", block, pos)
            pos += 4
            value = block[pos : pos + v]
            if len(value) != v:
                raise SpdyProtocolError("truncated header value")
            pos += v
            key = name.decode("utf-8")
            text = value.decode("utf-8")
            headers[key] = f"{headers[key]}\x00{text}" if key in headers else text
    except (struct.error, UnicodeDecodeError) as exc:
        raise SpdyProtocolError(f"malformed header block: {exc}") from exc
    return headers


class HeaderCompressor:
    """Outgoing header compression context; one per session, shared by all streams."""

    def __init__(self, level: int = zlib.Z_DEFAULT_COMPRESSION) -> None:
        self._z = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, HEADER_DICTIONARY)

    def compress(self, headers: Mapping[str, str | Sequence[str]]) -> bytes:
        block = encode_header_block(headers)
        return self._z.compress(block) + self._z.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    """Incoming header decompression context; one per session, fed every header block in order."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(15, HEADER_DICTIONARY)

    def decompress(self, data: bytes) -> Headers:
        if not data:
            return {}
        try:
            block = self._z.decompress(data)
        except zlib.error as exc:
            raise SpdyProtocolError(f"header decompression failed: {exc}") from exc
        return decode_header_block(block)


# ---------------------------------------------------------------------------------------------
# Encoding / parsing


def _control(frame_type: int, flags: int, payload: bytes) -> bytes:
    if len(payload) > DATA_FRAME_MAX:
        raise ValueError("control frame too large")
    return struct.pack(">HHI", 0x8000 | SPDY_VERSION, frame_type, (flags << 24) | len(payload)) + payload


def _sid(stream_id: int) -> int:
    if not 0 <= stream_id <= _STREAM_ID_MASK:
        raise ValueError(f"invalid stream id {stream_id}")
    return stream_id


def encode_frame(frame: Frame, compressor: HeaderCompressor | None = None) -> bytes:
    """Serialise one frame. Frames with headers need the session's `compressor`."""
    if isinstance(frame, DataFrame):
        if len(frame.data) > DATA_FRAME_MAX:
            raise ValueError("data frame too large; split it")
        flags = FLAG_FIN if frame.fin else 0
        return struct.pack(">II", _sid(frame.stream_id), (flags << 24) | len(frame.data)) + frame.data
    if isinstance(frame, SynStreamFrame | SynReplyFrame | HeadersFrame):
        if compressor is None:
            raise ValueError("a HeaderCompressor is required for frames with headers")
        block = compressor.compress(frame.headers)
        flags = FLAG_FIN if frame.fin else 0
        if isinstance(frame, SynStreamFrame):
            if frame.unidirectional:
                flags |= FLAG_UNIDIRECTIONAL
            head = struct.pack(
                ">IIBB",
                _sid(frame.stream_id),
                _sid(frame.associated_stream_id),
                (frame.priority & 0x7) << 5,
                frame.slot & 0xFF,
            )
            return _control(_SYN_STREAM, flags, head + block)
        kind = _SYN_REPLY if isinstance(frame, SynReplyFrame) else _HEADERS
        return _control(kind, flags, struct.pack(">I", _sid(frame.stream_id)) + block)
    if isinstance(frame, RstStreamFrame):
        return _control(_RST_STREAM, 0, struct.pack(">II", _sid(frame.stream_id), frame.status))
    if isinstance(frame, SettingsFrame):
        body = bytearray(struct.pack(">I", len(frame.settings)))
        for flags, ident, value in frame.settings:
            body += struct.pack(">II", ((flags & 0xFF) << 24) | (ident & 0xFFFFFF), value)
        return _control(_SETTINGS, _FLAG_SETTINGS_CLEAR if frame.clear else 0, bytes(body))
    if isinstance(frame, PingFrame):
        return _control(_PING, 0, struct.pack(">I", frame.ping_id))
    if isinstance(frame, GoAwayFrame):
        return _control(_GOAWAY, 0, struct.pack(">II", _sid(frame.last_good_stream_id), frame.status))
    if isinstance(frame, WindowUpdateFrame):
        return _control(
            _WINDOW_UPDATE, 0, struct.pack(">II", _sid(frame.stream_id), frame.delta & 0x7FFFFFFF)
        )
    raise TypeError(f"not a SPDY frame: {frame!r}")


class FrameParser:
    """Incremental parser: `feed(bytes) -> list[Frame]`; partial frames are buffered.

    Unknown control frame types (e.g. CREDENTIAL) are skipped, as the spec requires.
    """

    def __init__(self, decompressor: HeaderDecompressor | None = None) -> None:
        self._buf = bytearray()
        self.decompressor = decompressor or HeaderDecompressor()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            word0, word1 = struct.unpack_from(">II", self._buf, 0)
            length = word1 & 0xFFFFFF
            flags = word1 >> 24
            if length > _MAX_FRAME:
                raise SpdyProtocolError(f"frame too large: {length}")
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8 : 8 + length])
            del self._buf[: 8 + length]
            if word0 & 0x80000000:
                version = (word0 >> 16) & 0x7FFF
                if version != SPDY_VERSION:
                    raise SpdyProtocolError(f"unsupported SPDY version {version}")
                frame = self._control(word0 & 0xFFFF, flags, payload)
                if frame is not None:
                    frames.append(frame)
            else:
                frames.append(DataFrame(word0 & _STREAM_ID_MASK, payload, bool(flags & FLAG_FIN)))
        return frames

    def _control(self, kind: int, flags: int, p: bytes) -> Frame | None:
        fin = bool(flags & FLAG_FIN)
        try:
            if kind == _SYN_STREAM:
                sid, assoc, pri, slot = struct.unpack_from(">IIBB", p, 0)
                headers = self.decompressor.decompress(p[10:])
                sid &= _STREAM_ID_MASK
                if sid == 0:
                    raise SpdyProtocolError("SYN_STREAM with stream id 0")
                return SynStreamFrame(
                    sid,
                    headers,
                    assoc & _STREAM_ID_MASK,
                    pri >> 5,
                    slot,
                    fin,
                    bool(flags & FLAG_UNIDIRECTIONAL),
                )
            if kind in (_SYN_REPLY, _HEADERS):
                (sid,) = struct.unpack_from(">I", p, 0)
                headers = self.decompressor.decompress(p[4:])
                cls = SynReplyFrame if kind == _SYN_REPLY else HeadersFrame
                return cls(sid & _STREAM_ID_MASK, headers, fin)
            if kind == _RST_STREAM:
                sid, status = struct.unpack_from(">II", p, 0)
                return RstStreamFrame(sid & _STREAM_ID_MASK, status)
            if kind == _SETTINGS:
                (count,) = struct.unpack_from(">I", p, 0)
                if len(p) < 4 + 8 * count:
                    raise SpdyProtocolError("truncated SETTINGS")
                entries = []
                for i in range(count):
                    head, value = struct.unpack_from(">II", p, 4 + 8 * i)
                    entries.append((head >> 24, head & 0xFFFFFF, value))
                return SettingsFrame(tuple(entries), bool(flags & _FLAG_SETTINGS_CLEAR))
            if kind == _PING:
                return PingFrame(struct.unpack_from(">I", p, 0)[0])
            if kind == _GOAWAY:
                sid, status = (
                    struct.unpack_from(">II", p, 0) if len(p) >= 8 else (*struct.unpack_from(">I", p), 0)
                )
                return GoAwayFrame(sid & _STREAM_ID_MASK, status)
            if kind == _WINDOW_UPDATE:
                sid, delta = struct.unpack_from(">II", p, 0)
                return WindowUpdateFrame(sid & _STREAM_ID_MASK, delta & 0x7FFFFFFF)
        except struct.error as exc:
            raise SpdyProtocolError(f"truncated control frame type {kind}") from exc
        return None


# ---------------------------------------------------------------------------------------------
# Session


@dataclass(frozen=True, slots=True)
class StreamOpened:
    """The peer opened a stream (SYN_STREAM). Answer with `SpdySession.reply` or `reset`."""

    stream_id: int
    headers: Headers
    fin: bool = False
    associated_stream_id: int = 0
    priority: int = 0


@dataclass(frozen=True, slots=True)
class StreamReplied:
    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(frozen=True, slots=True)
class HeadersReceived:
    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(frozen=True, slots=True)
class DataReceived:
    """Bytes on a stream; `fin` means the peer half-closed it (no more data from them)."""

    stream_id: int
    data: bytes
    fin: bool = False


@dataclass(frozen=True, slots=True)
class StreamReset:
    stream_id: int
    status: int


@dataclass(frozen=True, slots=True)
class StreamClosed:
    """Both directions of the stream are finished (or it was reset)."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class PingReceived:
    """The peer pinged; the echo is already queued."""

    ping_id: int


@dataclass(frozen=True, slots=True)
class PingAcknowledged:
    """The peer echoed one of our pings."""

    ping_id: int


@dataclass(frozen=True, slots=True)
class SettingsReceived:
    settings: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True, slots=True)
class GoAwayReceived:
    last_good_stream_id: int
    status: int


@dataclass(frozen=True, slots=True)
class WindowUpdated:
    stream_id: int
    delta: int


Event = (
    StreamOpened
    | StreamReplied
    | HeadersReceived
    | DataReceived
    | StreamReset
    | StreamClosed
    | PingReceived
    | PingAcknowledged
    | SettingsReceived
    | GoAwayReceived
    | WindowUpdated
)


@dataclass(slots=True)
class _Stream:
    local_closed: bool = False
    remote_closed: bool = False


class SpdySession:
    """Connection state for one SPDY/3.1 session (server or client side), without I/O.

    Feed received bytes to `receive`; send whatever `data_to_send()` returns. Stream ids the
    local side opens are even on a server and odd on a client, as are its ping ids.
    """

    def __init__(self, *, server: bool = True) -> None:
        self.server = server
        self._compressor = HeaderCompressor()
        self._parser = FrameParser(HeaderDecompressor())
        self._out = bytearray()
        self._streams: dict[int, _Stream] = {}
        self._next_stream_id = 2 if server else 1
        self._next_ping_id = 2 if server else 1
        self.last_peer_stream_id = 0
        self.goaway_received = False
        self.goaway_sent = False

    # -- output -------------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Drain and return the bytes queued for the peer."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def _send(self, frame: Frame) -> None:
        self._out += encode_frame(frame, self._compressor)

    @property
    def open_streams(self) -> list[int]:
        return sorted(self._streams)

    def open_stream(
        self, headers: Mapping[str, str | Sequence[str]], *, fin: bool = False, priority: int = 0
    ) -> int:
        """Send SYN_STREAM for a new locally initiated stream; returns its id."""
        sid = self._next_stream_id
        self._next_stream_id += 2
        self._streams[sid] = _Stream(local_closed=fin)
        self._send(SynStreamFrame(sid, dict(headers), priority=priority, fin=fin))
        return sid

    def reply(
        self, stream_id: int, headers: Mapping[str, str | Sequence[str]] | None = None, *, fin: bool = False
    ) -> None:
        """Send SYN_REPLY accepting a peer-initiated stream."""
        self._send(SynReplyFrame(stream_id, dict(headers or {}), fin))
        if fin:
            self._close_local(stream_id)

    def send_headers(
        self, stream_id: int, headers: Mapping[str, str | Sequence[str]], *, fin: bool = False
    ) -> None:
        self._send(HeadersFrame(stream_id, dict(headers), fin))
        if fin:
            self._close_local(stream_id)

    def send_data(
        self, stream_id: int, data: bytes, *, fin: bool = False, max_frame: int = 32 * 1024
    ) -> None:
        """Send bytes on a stream, split into DATA frames; `fin` half-closes after them."""
        state = self._streams.get(stream_id)
        if state is None or state.local_closed:
            raise ValueError(f"stream {stream_id} is not open for sending")
        view = memoryview(data)
        chunks = [bytes(view[i : i + max_frame]) for i in range(0, len(view), max_frame)] or [b""]
        for i, chunk in enumerate(chunks):
            self._send(DataFrame(stream_id, chunk, fin and i == len(chunks) - 1))
        if fin:
            self._close_local(stream_id)

    def close_stream(self, stream_id: int) -> None:
        """Half-close: an empty DATA frame with FIN."""
        self.send_data(stream_id, b"", fin=True)

    def reset(self, stream_id: int, status: int = RST_CANCEL) -> None:
        self._send(RstStreamFrame(stream_id, status))
        self._streams.pop(stream_id, None)

    def ping(self) -> int:
        pid = self._next_ping_id
        self._next_ping_id += 2
        self._send(PingFrame(pid))
        return pid

    def settings(self, settings: Iterable[tuple[int, int, int]]) -> None:
        self._send(SettingsFrame(tuple(settings)))

    def window_update(self, stream_id: int, delta: int) -> None:
        self._send(WindowUpdateFrame(stream_id, delta))

    def goaway(self, status: int = GOAWAY_OK) -> None:
        self.goaway_sent = True
        self._send(GoAwayFrame(self.last_peer_stream_id, status))

    # -- input --------------------------------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        """Parse peer bytes into events; raises `SpdyProtocolError` on garbage."""
        events: list[Event] = []
        for frame in self._parser.feed(data):
            self._handle(frame, events)
        return events

    def _is_peer_id(self, stream_id: int) -> bool:
        return (stream_id % 2 == 1) == self.server

    def _handle(self, frame: Frame, events: list[Event]) -> None:
        if isinstance(frame, DataFrame):
            state = self._streams.get(frame.stream_id)
            if state is None or state.remote_closed:
                self._send(RstStreamFrame(frame.stream_id, RST_INVALID_STREAM))
                return
            events.append(DataReceived(frame.stream_id, frame.data, frame.fin))
            if frame.fin:
                self._close_remote(frame.stream_id, events)
        elif isinstance(frame, SynStreamFrame):
            sid = frame.stream_id
            if not self._is_peer_id(sid) or sid <= self.last_peer_stream_id:
                self._send(RstStreamFrame(sid, RST_PROTOCOL_ERROR))
                return
            self.last_peer_stream_id = sid
            if self.goaway_sent:
                self._send(RstStreamFrame(sid, RST_REFUSED_STREAM))
                return
            self._streams[sid] = _Stream(local_closed=frame.unidirectional, remote_closed=frame.fin)
            events.append(
                StreamOpened(sid, frame.headers, frame.fin, frame.associated_stream_id, frame.priority)
            )
        elif isinstance(frame, SynReplyFrame | HeadersFrame):
            if frame.stream_id not in self._streams:
                self._send(RstStreamFrame(frame.stream_id, RST_INVALID_STREAM))
                return
            cls = StreamReplied if isinstance(frame, SynReplyFrame) else HeadersReceived
            events.append(cls(frame.stream_id, frame.headers, frame.fin))
            if frame.fin:
                self._close_remote(frame.stream_id, events)
        elif isinstance(frame, RstStreamFrame):
            if self._streams.pop(frame.stream_id, None) is not None:
                events.append(StreamReset(frame.stream_id, frame.status))
                events.append(StreamClosed(frame.stream_id))
        elif isinstance(frame, PingFrame):
            if (frame.ping_id % 2 == 0) == self.server:
                events.append(PingAcknowledged(frame.ping_id))
            else:
                self._send(frame)
                events.append(PingReceived(frame.ping_id))
        elif isinstance(frame, SettingsFrame):
            events.append(SettingsReceived(frame.settings))
        elif isinstance(frame, GoAwayFrame):
            self.goaway_received = True
            events.append(GoAwayReceived(frame.last_good_stream_id, frame.status))
        elif isinstance(frame, WindowUpdateFrame):
            events.append(WindowUpdated(frame.stream_id, frame.delta))

    def _close_local(self, stream_id: int) -> None:
        state = self._streams.get(stream_id)
        if state is None:
            return
        state.local_closed = True
        if state.remote_closed:
            del self._streams[stream_id]

    def _close_remote(self, stream_id: int, events: list[Event]) -> None:
        state = self._streams.get(stream_id)
        if state is None:
            return
        state.remote_closed = True
        if state.local_closed:
            del self._streams[stream_id]
            events.append(StreamClosed(stream_id))


# ---------------------------------------------------------------------------------------------
# kubectl port-forward


@dataclass(frozen=True, slots=True)
class PortForwardRequest:
    """Parsed headers of one port-forward SYN_STREAM."""

    stream_type: str
    port: int
    request_id: str


def parse_portforward_headers(headers: Mapping[str, str]) -> PortForwardRequest:
    """Read `streamtype`, `port` and `requestid` (names case-insensitive); ValueError if invalid."""
    lower = {k.lower(): v for k, v in headers.items()}
    stream_type = lower.get(PORTFORWARD_HEADER_STREAM_TYPE, "")
    if stream_type not in (STREAM_TYPE_ERROR, STREAM_TYPE_DATA):
        raise ValueError(f"invalid stream type {stream_type!r}")
    raw_port = lower.get(PORTFORWARD_HEADER_PORT, "")
    try:
        port = int(raw_port)
    except ValueError:
        raise ValueError(f"invalid port {raw_port!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    return PortForwardRequest(stream_type, port, lower.get(PORTFORWARD_HEADER_REQUEST_ID, ""))


@dataclass(frozen=True, slots=True)
class PortForwardPair:
    """The error and data streams of one forwarded connection."""

    request_id: str
    port: int
    error_stream_id: int
    data_stream_id: int


class PortForwardPairer:
    """Matches error and data streams by `requestid`; returns the pair once both arrived."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[PortForwardRequest, int]] = {}

    def add(self, stream_id: int, headers: Mapping[str, str]) -> PortForwardPair | None:
        req = parse_portforward_headers(headers)
        other = self._pending.pop(req.request_id, None)
        if other is None:
            self._pending[req.request_id] = (req, stream_id)
            return None
        other_req, other_id = other
        if other_req.stream_type == req.stream_type or other_req.port != req.port:
            self._pending[req.request_id] = other
            raise ValueError(f"conflicting streams for request {req.request_id!r}")
        if req.stream_type == STREAM_TYPE_ERROR:
            return PortForwardPair(req.request_id, req.port, stream_id, other_id)
        return PortForwardPair(req.request_id, req.port, other_id, stream_id)

    def discard(self, stream_id: int) -> None:
        """Forget a half-arrived pair whose stream was reset."""
        for rid, (_, sid) in list(self._pending.items()):
            if sid == stream_id:
                del self._pending[rid]

    @property
    def pending(self) -> int:
        return len(self._pending)
