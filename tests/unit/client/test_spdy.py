"""SPDY/3.1 framer and session: frame round trips, header compression, a kubectl port-forward script."""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest

from podplane.client import spdy
from podplane.client.spdy import (
    DataFrame,
    DataReceived,
    FrameParser,
    GoAwayFrame,
    HeaderCompressor,
    HeaderDecompressor,
    HeadersFrame,
    PingAcknowledged,
    PingFrame,
    PingReceived,
    PortForwardPair,
    PortForwardPairer,
    RstStreamFrame,
    SettingsFrame,
    SpdyProtocolError,
    SpdySession,
    StreamClosed,
    StreamOpened,
    StreamReplied,
    StreamReset,
    SynReplyFrame,
    SynStreamFrame,
    WindowUpdateFrame,
    encode_frame,
)


def test_dictionary_matches_spdy3():
    # Size, Adler-32 (the zlib dictionary id peers check) and digest of the dictionary
    # embedded in a real kubectl binary.
    d = spdy.HEADER_DICTIONARY
    assert len(d) == 1423
    assert zlib.adler32(d) == 3821447106
    assert hashlib.sha256(d).hexdigest() == "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"
    assert d.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert d.endswith(b",utf-,*,enq=0.")


FRAMES = [
    DataFrame(1, b"hello"),
    DataFrame(3, b"", fin=True),
    DataFrame(0x7FFFFFFF, bytes(range(256)) * 10),
    SynStreamFrame(1, {"streamtype": "error", "port": "8080", "requestid": "0"}),
    SynStreamFrame(3, {"a": "b"}, associated_stream_id=1, priority=7, slot=2, fin=True, unidirectional=True),
    SynStreamFrame(5, {}),
    SynReplyFrame(1, {}),
    SynReplyFrame(3, {"status": "200", "multi": "x\x00y"}, fin=True),
    HeadersFrame(1, {"x": "y"}, fin=True),
    RstStreamFrame(1, spdy.RST_CANCEL),
    RstStreamFrame(7, spdy.RST_INVALID_STREAM),
    SettingsFrame(((0, 4, 100), (1, 7, 65536))),
    SettingsFrame((), clear=True),
    PingFrame(1),
    PingFrame(0xFFFFFFFF),
    GoAwayFrame(5, spdy.GOAWAY_PROTOCOL_ERROR),
    WindowUpdateFrame(1, 65536),
    WindowUpdateFrame(0, 1),
]


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: type(f).__name__)
def test_frame_round_trip(frame):
    wire = encode_frame(frame, HeaderCompressor())
    assert FrameParser(HeaderDecompressor()).feed(wire) == [frame]


def test_all_frames_through_one_context_byte_by_byte():
    comp = HeaderCompressor()
    wire = b"".join(encode_frame(f, comp) for f in FRAMES)
    parser = FrameParser()
    got = []
    for i in range(len(wire)):
        got.extend(parser.feed(wire[i : i + 1]))
    assert got == FRAMES


@pytest.mark.parametrize(
    ("frame", "prefix"),
    [
        (PingFrame(1), b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"),
        (RstStreamFrame(3, 5), b"\x80\x03\x00\x03\x00\x00\x00\x08\x00\x00\x00\x03\x00\x00\x00\x05"),
        (DataFrame(1, b"ab", fin=True), b"\x00\x00\x00\x01\x01\x00\x00\x02ab"),
        (GoAwayFrame(2, 0), b"\x80\x03\x00\x07\x00\x00\x00\x08\x00\x00\x00\x02\x00\x00\x00\x00"),
        (WindowUpdateFrame(1, 9), b"\x80\x03\x00\x09\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x00\x09"),
        (SynStreamFrame(1, {}), b"\x80\x03\x00\x01"),  # as captured from kubectl's first bytes
        (SynReplyFrame(1, {}, fin=True), b"\x80\x03\x00\x02\x01"),
    ],
)
def test_wire_layout(frame, prefix):
    assert encode_frame(frame, HeaderCompressor()).startswith(prefix)


def test_header_compression_context_persists_across_blocks():
    comp, decomp = HeaderCompressor(), HeaderDecompressor()
    first = {"streamtype": "error", "port": "8080", "requestid": "0"}
    second = {"streamtype": "data", "port": "8080", "requestid": "0"}
    b1, b2 = comp.compress(first), comp.compress(second)
    # The first block names the SPDY/3 dictionary (FDICT + its Adler-32), as Go's reader expects.
    cmf, flg = b1[0], b1[1]
    assert cmf & 0x0F == 8 and flg & 0x20
    assert struct.unpack(">I", b1[2:6])[0] == zlib.adler32(spdy.HEADER_DICTIONARY)
    assert decomp.decompress(b1) == first
    assert decomp.decompress(b2) == second
    # The second block only decodes with the context the first one built.
    with pytest.raises(SpdyProtocolError):
        HeaderDecompressor().decompress(b2)


def test_header_names_lowercased_and_values_nul_joined():
    comp, decomp = HeaderCompressor(), HeaderDecompressor()
    assert decomp.decompress(comp.compress({"StreamType": "data", "X-Multi": ["a", "b"]})) == {
        "streamtype": "data",
        "x-multi": "a\x00b",
    }


def test_decompress_foreign_zlib_stream():
    # A block compressed by an independent zlib writer with the dictionary (as Go's is).
    block = spdy.encode_header_block({"port": "80"})
    z = zlib.compressobj(zdict=spdy.HEADER_DICTIONARY)
    assert HeaderDecompressor().decompress(z.compress(block) + z.flush(zlib.Z_SYNC_FLUSH)) == {"port": "80"}


@pytest.mark.parametrize(
    "wire",
    [
        b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01",  # SPDY/2
        b"\x80\x03\x00\x01\x00\x00\x00\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",  # stream id 0
        b"\x80\x03\x00\x02\x00\x00\x00\x06\x00\x00\x00\x01zz",  # not zlib
        b"\x80\x03\x00\x06\x00\x00\x00\x02\x00\x00",  # short PING
    ],
)
def test_parser_rejects_garbage(wire):
    with pytest.raises(SpdyProtocolError):
        FrameParser().feed(wire)


def test_unknown_control_frame_is_skipped():
    wire = b"\x80\x03\x00\x0a\x00\x00\x00\x02ab" + encode_frame(PingFrame(3))
    assert FrameParser().feed(wire) == [PingFrame(3)]


# -- session ------------------------------------------------------------------------------------


def pump(src: SpdySession, dst: SpdySession) -> list:
    return dst.receive(src.data_to_send())


def test_kubectl_port_forward_session():
    kubectl, server = SpdySession(server=False), SpdySession(server=True)
    pairer = PortForwardPairer()

    # kubectl: error stream (then half-closes it), then data stream, per connection.
    err_id = kubectl.open_stream({"streamType": "error", "port": "8080", "requestID": "0"})
    kubectl.close_stream(err_id)
    data_id = kubectl.open_stream({"streamType": "data", "port": "8080", "requestID": "0"})
    assert (err_id, data_id) == (1, 3)

    events = pump(kubectl, server)
    assert events == [
        StreamOpened(1, {"streamtype": "error", "port": "8080", "requestid": "0"}),
        DataReceived(1, b"", fin=True),
        StreamOpened(3, {"streamtype": "data", "port": "8080", "requestid": "0"}),
    ]
    pairs = [pairer.add(e.stream_id, e.headers) for e in events if isinstance(e, StreamOpened)]
    assert pairs == [None, PortForwardPair("0", 8080, error_stream_id=1, data_stream_id=3)]
    assert pairer.pending == 0

    server.reply(err_id)
    server.reply(data_id)
    assert pump(server, kubectl) == [StreamReplied(1, {}), StreamReplied(3, {})]

    # Data both ways.
    kubectl.send_data(data_id, b"GET / HTTP/1.0\r\n\r\n")
    assert pump(kubectl, server) == [DataReceived(3, b"GET / HTTP/1.0\r\n\r\n")]
    big = b"x" * 70000
    server.send_data(data_id, big)
    got = pump(server, kubectl)
    assert b"".join(e.data for e in got) == big and len(got) == 3

    # Server closes the error stream with nothing to report; both halves done.
    server.close_stream(err_id)
    assert pump(server, kubectl) == [DataReceived(1, b"", fin=True), StreamClosed(1)]
    assert server.open_streams == [3]

    # FIN both ways on the data stream.
    kubectl.close_stream(data_id)
    assert pump(kubectl, server) == [DataReceived(3, b"", fin=True)]
    server.send_data(data_id, b"bye", fin=True)
    assert pump(server, kubectl) == [DataReceived(3, b"bye", fin=True), StreamClosed(3)]
    assert server.open_streams == [] and kubectl.open_streams == []

    # Second connection: the server fails it on the error stream and resets the data stream.
    kubectl.open_stream({"streamType": "error", "port": "9", "requestID": "1"})
    kubectl.open_stream({"streamType": "data", "port": "9", "requestID": "1"})
    events = pump(kubectl, server)
    pair = [pairer.add(e.stream_id, e.headers) for e in events][-1]
    assert pair == PortForwardPair("1", 9, 5, 7)
    server.reply(5)
    server.reply(7)
    server.send_data(5, b"connection refused", fin=True)
    server.reset(7, spdy.RST_CANCEL)
    assert pump(server, kubectl) == [
        StreamReplied(5, {}),
        StreamReplied(7, {}),
        DataReceived(5, b"connection refused", fin=True),
        StreamReset(7, spdy.RST_CANCEL),
        StreamClosed(7),
    ]

    # PING from kubectl is echoed by the server and acknowledged.
    pid = kubectl.ping()
    assert pump(kubectl, server) == [PingReceived(pid)]
    assert pump(server, kubectl) == [PingAcknowledged(pid)]
    # and the other way round
    spid = server.ping()
    assert spid % 2 == 0
    assert pump(server, kubectl) == [PingReceived(spid)]
    assert pump(kubectl, server) == [PingAcknowledged(spid)]


def test_session_control_events():
    client, server = SpdySession(server=False), SpdySession(server=True)
    client.settings([(0, 7, 65536)])
    client.window_update(0, 1000)
    client.goaway(spdy.GOAWAY_OK)
    assert pump(client, server) == [
        spdy.SettingsReceived(((0, 7, 65536),)),
        spdy.WindowUpdated(0, 1000),
        spdy.GoAwayReceived(0, spdy.GOAWAY_OK),
    ]
    assert server.goaway_received


def test_session_rejects_bad_streams():
    client, server = SpdySession(server=False), SpdySession(server=True)
    # DATA on an unknown stream -> RST_STREAM INVALID_STREAM.
    server.receive(encode_frame(DataFrame(9, b"x")))
    assert FrameParser().feed(server.data_to_send()) == [RstStreamFrame(9, spdy.RST_INVALID_STREAM)]
    # A server-parity (even) stream id from the client is a protocol error.
    server = SpdySession(server=True)
    server.receive(encode_frame(SynStreamFrame(2, {}), HeaderCompressor()))
    assert FrameParser().feed(server.data_to_send()) == [RstStreamFrame(2, spdy.RST_PROTOCOL_ERROR)]
    # After GOAWAY, new streams are refused.
    server = SpdySession(server=True)
    server.goaway()
    client.open_stream({"a": "b"})
    server.receive(client.data_to_send())
    frames = FrameParser().feed(server.data_to_send())
    assert frames[-1] == RstStreamFrame(1, spdy.RST_REFUSED_STREAM)
    with pytest.raises(ValueError):
        server.send_data(1, b"x")


def test_pairer_conflicts_and_discard():
    pairer = PortForwardPairer()
    assert pairer.add(1, {"streamtype": "data", "port": "80", "requestid": "r"}) is None
    with pytest.raises(ValueError):
        pairer.add(3, {"streamtype": "data", "port": "80", "requestid": "r"})
    pairer.discard(1)
    assert pairer.pending == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"streamtype": "bogus", "port": "80"},
        {"streamtype": "data", "port": "x"},
        {"streamtype": "data", "port": "0"},
        {"streamtype": "error"},
    ],
)
def test_parse_portforward_headers_rejects(headers):
    with pytest.raises(ValueError):
        spdy.parse_portforward_headers(headers)
