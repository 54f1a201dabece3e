"""Channel protocol for exec/attach/port-forward: frames, v5 close, Status payloads, resize, negotiation."""

from __future__ import annotations

import json

import pytest

from podplane.client import streamproto as sp


@pytest.mark.parametrize(
    ("channel", "data", "wire"),
    [
        (0, b"hello\n", b"\x00hello\n"),
        (1, b"", b"\x01"),
        (2, "err", b"\x02err"),
        (4, b'{"Width":80,"Height":24}', b'\x04{"Width":80,"Height":24}'),
        (3, b"\x00\xff", b"\x03\x00\xff"),
    ],
)
def test_frame_round_trip(channel, data, wire):
    assert sp.encode_frame(channel, data) == wire
    raw = data.encode() if isinstance(data, str) else data
    assert sp.decode_message(wire) == sp.ChannelFrame(channel, raw)


def test_text_message_from_python_client_is_utf8():
    assert sp.decode_message("\x00héllo") == sp.ChannelFrame(0, "héllo".encode())


def test_empty_message_is_ignored():
    assert sp.decode_message(b"") is None


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [
        (sp.V5_CHANNEL_PROTOCOL, sp.CloseSignal(0)),
        (sp.V4_CHANNEL_PROTOCOL, sp.ChannelFrame(0xFF, b"\x00")),
    ],
)
def test_close_signal_only_under_v5(protocol, expected):
    assert sp.encode_close(0) == b"\xff\x00"
    assert sp.decode_message(b"\xff\x00", protocol) == expected


def test_malformed_close_signal():
    with pytest.raises(ValueError):
        sp.decode_message(b"\xff\x00\x01")


def test_base64_variant_round_trip():
    proto = sp.V4_BASE64_CHANNEL_PROTOCOL
    wire = sp.encode_frame(1, b"\x00\x01binary", proto)
    assert wire == b"1AAFiaW5hcnk="
    assert sp.decode_message(wire, proto) == sp.ChannelFrame(1, b"\x00\x01binary")
    with pytest.raises(ValueError):
        sp.decode_message(b"1!!!", proto)


def test_status_success_exact_bytes():
    assert sp.encode_status(sp.status_success()) == b'\x03{"metadata":{},"status":"Success"}'


def test_status_nonzero_exit_exact_bytes():
    wire = sp.encode_status(sp.status_nonzero_exit(3, ["sh", "-c", "exit 3"]))
    assert wire == (
        b'\x03{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: '
        b'error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode",'
        b'"details":{"causes":[{"reason":"ExitCode","message":"3"}]}}'
    )


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (sp.status_success(), 0),
        (sp.status_nonzero_exit(1, ["false"]), 1),
        (sp.status_nonzero_exit(137, ["sleep", "100"]), 137),
        (sp.status_failure("boom"), 1),
    ],
)
def test_exit_code_from_status(status, code):
    assert sp.exit_code_from_status(status) == code
    assert sp.exit_code_from_status(json.dumps(status)) == code


def test_status_for_old_protocols_is_plain_text():
    assert sp.encode_status(sp.status_success(), sp.V3_CHANNEL_PROTOCOL) == b""
    assert (
        sp.encode_status(sp.status_failure("no such container"), sp.CHANNEL_PROTOCOL)
        == b"\x03no such container"
    )


@pytest.mark.parametrize(
    ("payload", "size"),
    [
        (b'{"Width":80,"Height":24}', sp.TerminalSize(80, 24)),
        (b'{"Width":0,"Height":0}\n', sp.TerminalSize(0, 0)),
        ('{"Height":50,"Width":200}', sp.TerminalSize(200, 50)),
    ],
)
def test_parse_resize(payload, size):
    assert sp.parse_resize(payload) == size


@pytest.mark.parametrize("payload", [b"", b"[]", b'{"Width":-1,"Height":2}', b'{"Width":"a"}', b"\xff"])
def test_parse_resize_rejects(payload):
    with pytest.raises(ValueError):
        sp.parse_resize(payload)


def test_encode_resize_round_trip():
    wire = sp.encode_resize(sp.TerminalSize(120, 40))
    frame = sp.decode_message(wire)
    assert frame == sp.ChannelFrame(sp.RESIZE_CHANNEL, b'{"Width":120,"Height":40}')
    assert sp.parse_resize(frame.data) == sp.TerminalSize(120, 40)


@pytest.mark.parametrize(
    ("offered", "supported", "chosen"),
    [
        ("v5.channel.k8s.io", sp.EXEC_PROTOCOLS, "v5.channel.k8s.io"),
        ("v4.channel.k8s.io,v5.channel.k8s.io", sp.EXEC_PROTOCOLS, "v5.channel.k8s.io"),
        (["v4.channel.k8s.io", " v3.channel.k8s.io"], sp.EXEC_PROTOCOLS, "v4.channel.k8s.io"),
        (["channel.k8s.io", "v2.channel.k8s.io"], sp.EXEC_PROTOCOLS, "v2.channel.k8s.io"),
        ("channel.k8s.io", sp.EXEC_PROTOCOLS, "channel.k8s.io"),
        ("base64.channel.k8s.io", sp.EXEC_PROTOCOLS, None),
        ("base64.channel.k8s.io", sp.ALL_EXEC_PROTOCOLS, "base64.channel.k8s.io"),
        ("SPDY/3.1+portforward.k8s.io", sp.PORTFORWARD_PROTOCOLS, "SPDY/3.1+portforward.k8s.io"),
        ("v5.channel.k8s.io,v4.channel.k8s.io", sp.PORTFORWARD_PROTOCOLS, "v5.channel.k8s.io"),
        ("portforward.k8s.io", sp.PORTFORWARD_PROTOCOLS, "portforward.k8s.io"),
        ("SPDY/3.1+portforward.k8s.io", sp.EXEC_PROTOCOLS, None),
        (None, sp.EXEC_PROTOCOLS, None),
        ("", sp.EXEC_PROTOCOLS, None),
    ],
)
def test_negotiate_subprotocol(offered, supported, chosen):
    assert sp.negotiate_subprotocol(offered, supported) == chosen


def test_protocol_capabilities():
    assert sp.supports_close(sp.V5_CHANNEL_PROTOCOL)
    assert not sp.supports_close(sp.V4_CHANNEL_PROTOCOL)
    assert sp.uses_json_status(sp.V4_CHANNEL_PROTOCOL)
    assert not sp.uses_json_status(sp.V2_CHANNEL_PROTOCOL)


@pytest.mark.parametrize(
    ("channel", "port", "wire"),
    [
        (0, 1234, b"\x00\xd2\x04"),
        (1, 1234, b"\x01\xd2\x04"),
        (4, 80, b"\x04\x50\x00"),
        (5, 65535, b"\x05\xff\xff"),
    ],
)
def test_port_prefix(channel, port, wire):
    assert sp.encode_port_prefix(channel, port) == wire
    assert sp.decode_port_prefix(wire) == (channel, port)


def test_port_forward_channel_mapping():
    ports = sp.parse_ports("1234,1235,1236")
    assert ports == [1234, 1235, 1236]
    assert sp.parse_ports(["80", "443"]) == [80, 443]
    assert [sp.port_channels(i) for i in range(3)] == [(0, 1), (2, 3), (4, 5)]
    assert sp.port_for_channel(ports, 4) == (1236, False)
    assert sp.port_for_channel(ports, 5) == (1236, True)
    with pytest.raises(ValueError):
        sp.port_for_channel(ports, 6)
    # client data frame on port index 1
    assert sp.decode_message(b"\x02GET / HTTP/1.0\r\n") == sp.ChannelFrame(2, b"GET / HTTP/1.0\r\n")


@pytest.mark.parametrize("value", ["", "abc", "0", "70000", "80,x"])
def test_parse_ports_rejects(value):
    with pytest.raises(ValueError):
        sp.parse_ports(value)
