"""Kubernetes streaming channel protocol (exec / attach / port-forward over WebSocket), pure.

- Every WebSocket message is `[channel byte][payload]`: 0 stdin, 1 stdout, 2 stderr,
  3 error/status (server -> client, sent once before closing), 4 resize (`{"Width":..,"Height":..}`).
  The `base64.channel.k8s.io` variants use ASCII '0'..'4' followed by base64.
- v5.channel.k8s.io adds the CLOSE signal `[0xFF, channel]`: the client half-closes a stream
  (`\\xff\\x00` is stdin EOF). `decode_message` returns `CloseSignal` for it only under v5.
- Status payloads (`status_success`, `status_nonzero_exit`, `status_failure`) are the exact
  compact JSON kubectl and the Python client parse; `exit_code_from_status` reads them back.
- Python-client port-forward (`?ports=a,b` over v4/v5): port i uses data channel 2i and error
  channel 2i+1, and the server's first frame on each channel is `[ch, port & 0xFF, port >> 8]`.
- `negotiate_subprotocol` picks the best protocol the client offered (WebSocket
  `Sec-WebSocket-Protocol` or SPDY `X-Stream-Protocol-Version`), by server preference.
- Between the API server and the agents (the kubelet API), exec/attach take upstream's query
  flags `input`, `output`, `error`, `tty` ("1") and port-forward takes `port`; the API server
  authenticates as `APISERVER_KUBELET_CLIENT`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALL_EXEC_PROTOCOLS",
    "APISERVER_KUBELET_CLIENT",
    "BASE64_CHANNEL_PROTOCOL",
    "CHANNEL_PROTOCOL",
    "CLOSE_SIGNAL",
    "ERROR_CHANNEL",
    "EXEC_PROTOCOLS",
    "PORTFORWARD_PROTOCOLS",
    "PORTFORWARD_SPDY_PROTOCOL",
    "PORTFORWARD_WEBSOCKET_PROTOCOL",
    "RESIZE_CHANNEL",
    "STDERR_CHANNEL",
    "STDIN_CHANNEL",
    "STDOUT_CHANNEL",
    "V2_CHANNEL_PROTOCOL",
    "V3_CHANNEL_PROTOCOL",
    "V4_BASE64_CHANNEL_PROTOCOL",
    "V4_CHANNEL_PROTOCOL",
    "V5_CHANNEL_PROTOCOL",
    "ChannelFrame",
    "CloseSignal",
    "TerminalSize",
    "decode_message",
    "decode_port_prefix",
    "encode_close",
    "encode_frame",
    "encode_port_prefix",
    "encode_resize",
    "encode_status",
    "exit_code_from_status",
    "is_base64_protocol",
    "negotiate_subprotocol",
    "parse_offered_protocols",
    "parse_ports",
    "parse_resize",
    "port_channels",
    "port_for_channel",
    "status_failure",
    "status_nonzero_exit",
    "status_payload",
    "status_success",
    "supports_close",
    "uses_json_status",
]

STDIN_CHANNEL = 0
STDOUT_CHANNEL = 1
STDERR_CHANNEL = 2
ERROR_CHANNEL = 3
RESIZE_CHANNEL = 4
CLOSE_SIGNAL = 0xFF

V5_CHANNEL_PROTOCOL = "v5.channel.k8s.io"
V4_CHANNEL_PROTOCOL = "v4.channel.k8s.io"
V3_CHANNEL_PROTOCOL = "v3.channel.k8s.io"
V2_CHANNEL_PROTOCOL = "v2.channel.k8s.io"
CHANNEL_PROTOCOL = "channel.k8s.io"
V4_BASE64_CHANNEL_PROTOCOL = "v4.base64.channel.k8s.io"
BASE64_CHANNEL_PROTOCOL = "base64.channel.k8s.io"
PORTFORWARD_SPDY_PROTOCOL = "SPDY/3.1+portforward.k8s.io"  # kubectl: SPDY tunnelled in WebSocket
PORTFORWARD_WEBSOCKET_PROTOCOL = "portforward.k8s.io"  # raw SPDY upgrade (X-Stream-Protocol-Version)

# Server preference, best first.
EXEC_PROTOCOLS: tuple[str, ...] = (
    V5_CHANNEL_PROTOCOL,
    V4_CHANNEL_PROTOCOL,
    V3_CHANNEL_PROTOCOL,
    V2_CHANNEL_PROTOCOL,
    CHANNEL_PROTOCOL,
)
ALL_EXEC_PROTOCOLS: tuple[str, ...] = (*EXEC_PROTOCOLS, V4_BASE64_CHANNEL_PROTOCOL, BASE64_CHANNEL_PROTOCOL)
PORTFORWARD_PROTOCOLS: tuple[str, ...] = (
    PORTFORWARD_SPDY_PROTOCOL,
    V5_CHANNEL_PROTOCOL,
    V4_CHANNEL_PROTOCOL,
    PORTFORWARD_WEBSOCKET_PROTOCOL,
)

APISERVER_KUBELET_CLIENT = "kube-apiserver-kubelet-client"
"""User name of the API server towards the agents (upstream's kubelet client certificate CN)."""

_JSON_SEPARATORS = (",", ":")


# ---------------------------------------------------------------------------------------------
# Subprotocol negotiation


def parse_offered_protocols(offered: str | Iterable[str] | None) -> list[str]:
    """Split comma-separated header values (one or several headers) into a clean list."""
    if offered is None:
        return []
    items = [offered] if isinstance(offered, str) else list(offered)
    out: list[str] = []
    for item in items:
        out.extend(p.strip() for p in item.split(",") if p.strip())
    return out


def negotiate_subprotocol(
    offered: str | Iterable[str] | None, supported: Sequence[str] = EXEC_PROTOCOLS
) -> str | None:
    """Best protocol in `supported` (ordered best first) that the client offered, else None."""
    wanted = set(parse_offered_protocols(offered))
    for proto in supported:
        if proto in wanted:
            return proto
    return None


def supports_close(protocol: str | None) -> bool:
    """Only v5.channel.k8s.io has the `[0xFF, channel]` close signal."""
    return protocol == V5_CHANNEL_PROTOCOL


def uses_json_status(protocol: str | None) -> bool:
    """v4+ carry a JSON Status on channel 3; older versions carry a plain error message."""
    return protocol in (V5_CHANNEL_PROTOCOL, V4_CHANNEL_PROTOCOL, V4_BASE64_CHANNEL_PROTOCOL)


def is_base64_protocol(protocol: str | None) -> bool:
    return protocol in (V4_BASE64_CHANNEL_PROTOCOL, BASE64_CHANNEL_PROTOCOL)


# ---------------------------------------------------------------------------------------------
# Frames


@dataclass(frozen=True, slots=True)
class ChannelFrame:
    channel: int
    data: bytes


@dataclass(frozen=True, slots=True)
class CloseSignal:
    """v5: the sender will write no more on `channel` (half-close)."""

    channel: int


def encode_frame(channel: int, data: bytes | str = b"", protocol: str | None = None) -> bytes:
    """One WebSocket message payload for `channel`; str data is UTF-8 encoded."""
    if not 0 <= channel <= 0xFF:
        raise ValueError(f"invalid channel {channel}")
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if is_base64_protocol(protocol):
        if channel > 9:
            raise ValueError("base64 protocols only carry channels 0-9")
        return str(channel).encode("ascii") + base64.b64encode(raw)
    return bytes([channel]) + raw


def encode_close(channel: int) -> bytes:
    """The v5 close signal `[0xFF, channel]`."""
    if not 0 <= channel <= 0xFF:
        raise ValueError(f"invalid channel {channel}")
    return bytes([CLOSE_SIGNAL, channel])


def decode_message(
    message: bytes | bytearray | str, protocol: str | None = V5_CHANNEL_PROTOCOL
) -> ChannelFrame | CloseSignal | None:
    """Decode one received message (binary, or text as the Python client sends stdin).

    Returns None for an empty message (ignored by real servers).
    """
    raw = message.encode("utf-8") if isinstance(message, str) else bytes(message)
    if not raw:
        return None
    if is_base64_protocol(protocol):
        digit = raw[0] - ord("0")
        if not 0 <= digit <= 9:
            raise ValueError(f"invalid base64 channel byte {raw[0]:#x}")
        try:
            return ChannelFrame(digit, base64.b64decode(raw[1:], validate=True))
        except binascii.Error as exc:
            raise ValueError(f"invalid base64 payload: {exc}") from exc
    if raw[0] == CLOSE_SIGNAL and supports_close(protocol):
        if len(raw) != 2:
            raise ValueError("close signal must be exactly [0xFF, channel]")
        return CloseSignal(raw[1])
    return ChannelFrame(raw[0], raw[1:])


# ---------------------------------------------------------------------------------------------
# Status (channel 3)


def status_success() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def status_nonzero_exit(exit_code: int, command: Sequence[str]) -> dict[str, Any]:
    """The Status kubectl turns into `command terminated with exit code N` (and exit N)."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            "command terminated with non-zero exit code: error executing command "
            f"[{' '.join(command)}], exit code {exit_code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
    }


def status_failure(message: str, reason: str = "InternalError", code: int | None = None) -> dict[str, Any]:
    """A generic Failure Status (e.g. the container could not be started)."""
    status: dict[str, Any] = {"metadata": {}, "status": "Failure", "message": message, "reason": reason}
    if code is not None:
        status["code"] = code
    return status


def status_payload(status: dict[str, Any], protocol: str | None = V5_CHANNEL_PROTOCOL) -> bytes:
    """What the error stream carries: compact JSON Status for v4+, the bare message before.

    Older protocols signal success by sending nothing (b"" here).
    """
    if uses_json_status(protocol):
        return json.dumps(status, separators=_JSON_SEPARATORS).encode("utf-8")
    if status.get("status") == "Success":
        return b""
    return str(status.get("message", "")).encode("utf-8")


def encode_status(status: dict[str, Any], protocol: str | None = V5_CHANNEL_PROTOCOL) -> bytes:
    """Channel-3 message carrying `status_payload`; b"" when there is nothing to send
    (Success under the older protocols): callers skip the frame then."""
    payload = status_payload(status, protocol)
    if not payload:
        return b""
    return encode_frame(ERROR_CHANNEL, payload, protocol)


def exit_code_from_status(payload: bytes | str | dict[str, Any]) -> int:
    """0 for Success, the ExitCode cause for NonZeroExitCode, else 1 (as kubectl/python do)."""
    status = payload if isinstance(payload, dict) else json.loads(payload)
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message", ""))
                except ValueError:
                    break
    return 1


# ---------------------------------------------------------------------------------------------
# Resize (channel 4)


@dataclass(frozen=True, slots=True)
class TerminalSize:
    width: int
    height: int


def parse_resize(payload: bytes | str) -> TerminalSize:
    """Parse `{"Width":80,"Height":24}` (a trailing newline is allowed); ValueError if invalid."""
    try:
        obj = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid resize message: {exc}") from exc
    if not isinstance(obj, dict):
        raise ValueError("resize message is not an object")
    width, height = obj.get("Width", 0), obj.get("Height", 0)
    if not isinstance(width, int) or not isinstance(height, int) or width < 0 or height < 0:
        raise ValueError(f"invalid terminal size {width!r}x{height!r}")
    if width > 0xFFFF or height > 0xFFFF:
        raise ValueError("terminal size out of range")
    return TerminalSize(width, height)


def encode_resize(size: TerminalSize) -> bytes:
    return encode_frame(
        RESIZE_CHANNEL, json.dumps({"Width": size.width, "Height": size.height}, separators=_JSON_SEPARATORS)
    )


# ---------------------------------------------------------------------------------------------
# Python-client port-forward over v4/v5 channels


def parse_ports(value: str | Iterable[str]) -> list[int]:
    """`ports=1234,1235` (or repeated `ports=` values) -> [1234, 1235]; ValueError if invalid."""
    ports: list[int] = []
    for item in parse_offered_protocols(value):
        try:
            port = int(item)
        except ValueError:
            raise ValueError(f"invalid port {item!r}") from None
        if not 0 < port < 65536:
            raise ValueError(f"port out of range: {port}")
        ports.append(port)
    if not ports:
        raise ValueError("no ports given")
    return ports


def port_channels(index: int) -> tuple[int, int]:
    """(data channel, error channel) for the port at `index`: (2i, 2i+1)."""
    if not 0 <= index < 128:
        raise ValueError(f"port index out of range: {index}")
    return 2 * index, 2 * index + 1


def port_for_channel(ports: Sequence[int], channel: int) -> tuple[int, bool]:
    """(port, is_error_channel) for a channel; ValueError if it maps to no requested port."""
    index, is_error = divmod(channel, 2)
    if not 0 <= index < len(ports):
        raise ValueError(f"channel {channel} does not belong to any requested port")
    return ports[index], bool(is_error)


def encode_port_prefix(channel: int, port: int) -> bytes:
    """The mandatory first server frame on a port-forward channel: `[ch, port & 0xFF, port >> 8]`."""
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    return bytes([channel, port & 0xFF, port >> 8])


def decode_port_prefix(message: bytes) -> tuple[int, int]:
    """Inverse of `encode_port_prefix`: (channel, port)."""
    if len(message) != 3:
        raise ValueError("port prefix frame must be 3 bytes")
    return message[0], message[1] | (message[2] << 8)
