"""Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) decoded to JSON dicts.

kubectl's typed commands (create configmap/deployment/..., create token, auth can-i,
auth whoami, drain's evictions) POST protobuf and never fall back to JSON, so the
apiserver decodes those bodies here and then handles them exactly like JSON bodies.

Flow of `decode(body)`: check the `k8s\\x00` magic, read the runtime.Unknown envelope
(1 TypeMeta{1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType), look the
kind up in `protobuf_messages.KINDS`, then walk `raw` with the message table and build
the dict Go's encoding/json would print for the same typed object: JSON field names,
omitempty/omitzero honoured, inline structs merged, Time as RFC3339, Quantity and
IntOrString as their JSON scalars, []byte as base64. Every malformed input raises
`errors.ApiError` 400 (BadRequest), never another exception.

Neighbours: `protobuf_messages` (generated field table), `errors` (ApiError); the
apiserver's body reader picks this module by Content-Type. Responses stay JSON.
"""

from __future__ import annotations

import base64
import json
import struct
from datetime import UTC, datetime, timedelta

from podplane.api.errors import ApiError, bad_request
from podplane.api.protobuf_messages import ANY_VERSION_KINDS, KINDS, MESSAGES

__all__ = [
    "CONTENT_TYPE",
    "MAGIC",
    "decode",
    "decode_message",
    "message_for",
    "supported_kinds",
]

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

_U64 = (1 << 64) - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GO_ZERO_TIME = -62135596800  # time.Time{}.Unix(): 0001-01-01T00:00:00Z
_MAX_NESTING = 16  # RawExtensions holding protobuf objects holding RawExtensions ...
_VERSIONS = frozenset(v for v, _ in KINDS) | {"meta.k8s.io/v1"}

_VARINT_TYPES = frozenset({"bool", "int32", "int64", "uint32", "uint64"})
_SCALAR_ZERO = {"string": "", "bool": False, "int32": 0, "int64": 0, "uint32": 0, "uint64": 0, "float64": 0.0}


class _Malformed(ValueError):
    """Internal: the body is not valid protobuf for its schema; becomes a 400."""


def supported_kinds() -> frozenset[tuple[str, str]]:
    """(apiVersion, kind) pairs with a protobuf schema (DeleteOptions: any served version)."""
    return frozenset(KINDS) | {(v, k) for v in _VERSIONS for k in ANY_VERSION_KINDS}


def message_for(api_version: str, kind: str) -> str | None:
    """The message-table name for a kind, or None when it is not registered."""
    name = KINDS.get((api_version, kind))
    if name is None and api_version in _VERSIONS:
        name = ANY_VERSION_KINDS.get(kind)
    return name


def decode(body: bytes) -> dict:
    """Decode a full protobuf request body (magic + runtime.Unknown) into a JSON-shaped dict."""
    try:
        return _decode(bytes(body), 0)
    except ApiError:
        raise
    except (ValueError, OverflowError, RecursionError) as exc:
        raise bad_request(f"unable to decode protobuf body: {exc}") from None


def decode_message(message: str, raw: bytes) -> dict:
    """Decode one message of the table (e.g. "core/v1.ConfigMap") without the envelope."""
    if message not in MESSAGES:
        raise bad_request(f"unknown protobuf message {message!r}")
    try:
        return _message(message, bytes(raw), 0)
    except (ValueError, OverflowError, RecursionError) as exc:
        raise bad_request(f"unable to decode protobuf body: {exc}") from None


def _decode(body: bytes, nesting: int) -> dict:
    if not body.startswith(MAGIC):
        raise bad_request(
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")
    envelope = _scan(body[len(MAGIC):], "runtime.Unknown")
    type_meta = _scan(_bytes_field(envelope, 1, "typeMeta"), "runtime.TypeMeta")
    api_version = _string_field(type_meta, 1, "apiVersion")
    kind = _string_field(type_meta, 2, "kind")
    raw = _bytes_field(envelope, 2, "raw")
    encoding = _string_field(envelope, 3, "contentEncoding")
    content_type = _string_field(envelope, 4, "contentType")
    if encoding:
        raise bad_request(f"unsupported protobuf content encoding {encoding!r}")
    if content_type not in ("", CONTENT_TYPE):
        raise bad_request(f"unsupported content type {content_type!r} inside the protobuf envelope")
    if not kind:
        raise bad_request("Object 'Kind' is missing in protobuf body")
    name = message_for(api_version, kind)
    if name is None:
        raise bad_request(f'no kind "{kind}" is registered for version "{api_version}"')
    out = {"kind": kind, "apiVersion": api_version}
    out.update(_message(name, raw, nesting))
    return out


# -- wire format ---------------------------------------------------------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise _Malformed("proto: unexpected EOF in varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if shift >= 70:
            raise _Malformed("proto: integer overflow")
    if result > _U64:
        raise _Malformed("proto: integer overflow")
    return result, pos


def _scan(data: bytes, where: str) -> dict[int, list[tuple[int, int | bytes]]]:
    """Split a message into field number -> [(wire type, int or bytes)], in wire order."""
    fields: dict[int, list[tuple[int, int | bytes]]] = {}
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos)
        num, wire = key >> 3, key & 7
        if num <= 0 or num >= 1 << 29:
            raise _Malformed(f"proto: illegal field number {num} in {where}")
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            if size > end - pos:
                raise _Malformed(f"proto: unexpected EOF in field {num} of {where}")
            value, pos = data[pos:pos + size], pos + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if size > end - pos:
                raise _Malformed(f"proto: unexpected EOF in field {num} of {where}")
            value, pos = data[pos:pos + size], pos + size
        else:
            raise _Malformed(f"proto: illegal wireType {wire} for field {num} of {where}")
        fields.setdefault(num, []).append((wire, value))
    return fields


def _bytes_field(fields: dict, num: int, name: str) -> bytes:
    values = fields.get(num)
    if not values:
        return b""
    wire, value = values[-1]
    if wire != 2:
        raise _Malformed(f"proto: wrong wireType = {wire} for field {name}")
    return value


def _string_field(fields: dict, num: int, name: str) -> str:
    return _bytes_field(fields, num, name).decode("utf-8", "replace")


# -- schema walk ---------------------------------------------------------------------------------


def _message(name: str, data: bytes, nesting: int) -> dict:
    fields = _scan(data, name)
    out: dict = {}
    for num, (json_name, typ, flags) in MESSAGES[name].items():
        values = fields.get(num)
        where = f"{json_name} in {name}"
        if "i" in flags:  # embedded struct inlined into this JSON object
            out.update(_message(typ, _payload(values, where), nesting))
        elif "m" in flags:
            if values:
                out[json_name] = _map(typ, values, where, nesting)
            elif "o" not in flags:
                out[json_name] = None
        elif "r" in flags:
            if values:
                out[json_name] = _repeated(typ, values, where, nesting)
            elif "o" not in flags:
                out[json_name] = None
        elif values is None and ("p" in flags or typ == "bytes"):
            if "o" not in flags:  # nil pointer or nil []byte without omitempty: JSON null
                out[json_name] = None
        else:
            value = _single(typ, values, where, nesting)
            if "p" not in flags and _omitted(typ, flags, value):
                continue
            out[json_name] = value
    return out


def _omitted(typ: str, flags: str, value: object) -> bool:
    if "z" in flags and value == _zero(typ):
        return True
    if "o" not in flags:
        return False
    # encoding/json omitempty: false, 0, "" and empty slices; never structs.
    return typ in _SCALAR_ZERO and value == _SCALAR_ZERO[typ] or typ == "bytes" and not value


def _zero(typ: str) -> object:
    if typ in _SCALAR_ZERO:
        return _SCALAR_ZERO[typ]
    return _special(typ, b"", "", 0) if typ in _SPECIALS else _message(typ, b"", 0)


def _payload(values: list | None, where: str) -> bytes:
    """Concatenate the occurrences of an embedded message (protobuf merge semantics)."""
    if not values:
        return b""
    for wire, _ in values:
        if wire != 2:
            raise _Malformed(f"proto: wrong wireType = {wire} for field {where}")
    return b"".join(v for _, v in values)


def _single(typ: str, values: list | None, where: str, nesting: int) -> object:
    if typ in _SCALAR_ZERO or typ == "bytes":
        if values is None:
            return _SCALAR_ZERO.get(typ)
        wire, value = values[-1]  # last one wins
        return _scalar(typ, wire, value, where)
    payload = _payload(values, where)
    if typ in _SPECIALS:
        return _special(typ, payload, where, nesting)
    return _message(typ, payload, nesting)


def _repeated(typ: str, values: list, where: str, nesting: int) -> list:
    out: list = []
    for wire, value in values:
        if wire == 2 and (typ in _VARINT_TYPES or typ == "float64"):  # packed
            pos = 0
            while pos < len(value):
                if typ == "float64":
                    if len(value) - pos < 8:
                        raise _Malformed(f"proto: unexpected EOF in field {where}")
                    out.append(_scalar(typ, 1, value[pos:pos + 8], where))
                    pos += 8
                else:
                    item, pos = _varint(value, pos)
                    out.append(_scalar(typ, 0, item, where))
        elif typ in _SCALAR_ZERO or typ == "bytes":
            out.append(_scalar(typ, wire, value, where))
        elif wire != 2:
            raise _Malformed(f"proto: wrong wireType = {wire} for field {where}")
        elif typ in _SPECIALS:
            out.append(_special(typ, value, where, nesting))
        else:
            out.append(_message(typ, value, nesting))
    return out


def _map(typ: str, values: list, where: str, nesting: int) -> dict:
    out: dict = {}
    for wire, entry in values:
        if wire != 2:
            raise _Malformed(f"proto: wrong wireType = {wire} for field {where}")
        fields = _scan(entry, where)
        key = _string_field(fields, 1, where)
        if typ in _SCALAR_ZERO or typ == "bytes":
            value = _single(typ, fields.get(2), where, nesting)
            if typ == "bytes" and value is None:
                value = ""  # gogo decodes a missing map value as []byte{}
        else:
            value = _single(typ, fields.get(2) or [(2, b"")], where, nesting)
        out[key] = value
    return dict(sorted(out.items()))  # encoding/json sorts map keys


def _scalar(typ: str, wire: int, value: int | bytes, where: str) -> object:
    if typ in _VARINT_TYPES:
        if wire != 0:
            raise _Malformed(f"proto: wrong wireType = {wire} for field {where}")
        if typ == "bool":
            return value != 0
        if typ == "int32":
            value &= 0xFFFFFFFF
            return value - (1 << 32) if value >= 1 << 31 else value
        if typ == "uint32":
            return value & 0xFFFFFFFF
        if typ == "int64":
            return value - (1 << 64) if value >= 1 << 63 else value
        return value
    if typ == "float64":
        if wire != 1:
            raise _Malformed(f"proto: wrong wireType = {wire} for field {where}")
        number = struct.unpack("<d", value)[0]
        if number != number or number in (float("inf"), float("-inf")):
            raise _Malformed(f"json: unsupported value {number} for field {where}")
        return number
    if wire != 2:
        raise _Malformed(f"proto: wrong wireType = {wire} for field {where}")
    if typ == "bytes":
        return base64.b64encode(value).decode("ascii")
    return value.decode("utf-8", "replace")  # encoding/json writes U+FFFD for invalid UTF-8


# -- types with their own JSON form ---------------------------------------------------------------


def _int_field(fields: dict, num: int, typ: str, where: str) -> int:
    values = fields.get(num)
    if not values:
        return 0
    wire, value = values[-1]
    return _scalar(typ, wire, value, where)


def _time(data: bytes, where: str, micro: bool) -> str | None:
    if not data:
        return None  # time.Time{}: JSON null
    fields = _scan(data, where)
    seconds = _int_field(fields, 1, "int64", where)
    nanos = _int_field(fields, 2, "int32", where) if micro else 0  # metav1.Time keeps seconds only
    seconds, nanos = divmod(seconds * 1_000_000_000 + nanos, 1_000_000_000)
    if seconds == _GO_ZERO_TIME and not nanos:
        return None
    try:
        moment = _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError:
        raise _Malformed(f"Time.MarshalJSON: year outside of range [0,9999] in {where}") from None
    text = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment:%H:%M:%S}"
    return f"{text}.{moment.microsecond:06d}Z" if micro else text + "Z"


def _duration(nanoseconds: int) -> str:
    """Go's time.Duration.String()."""
    if nanoseconds == 0:
        return "0s"
    sign, u = ("-", -nanoseconds) if nanoseconds < 0 else ("", nanoseconds)

    def fraction(value: int, digits: int) -> str:
        whole, frac = divmod(value, 10**digits)
        tail = str(frac).rjust(digits, "0").rstrip("0")
        return f"{whole}.{tail}" if tail else str(whole)

    if u < 1000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{fraction(u, 3)}µs"
    if u < 1_000_000_000:
        return f"{sign}{fraction(u, 6)}ms"
    seconds, frac = divmod(u, 1_000_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = fraction(secs * 1_000_000_000 + frac, 9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _raw_json(raw: bytes, where: str, nesting: int) -> object:
    if raw.startswith(MAGIC):  # an embedded object serialized as protobuf
        if nesting >= _MAX_NESTING:
            raise _Malformed(f"embedded objects nested too deeply in {where}")
        return _decode(raw, nesting + 1)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise _Malformed(f"invalid JSON in {where}") from None


def _special(typ: str, data: bytes, where: str, nesting: int) -> object:
    if typ == "Time":
        return _time(data, where, micro=False)
    if typ == "MicroTime":
        return _time(data, where, micro=True)
    fields = _scan(data, where)
    if typ == "Quantity":
        if 1 not in fields:
            return "0"
        text = _string_field(fields, 1, where)
        if not text:
            raise _Malformed(f"quantities must match the regular expression (in {where})")
        return text
    if typ == "IntOrString":
        kind = _int_field(fields, 1, "int64", where)
        if kind == 0:
            return _int_field(fields, 2, "int32", where)
        if kind == 1:
            return _string_field(fields, 3, where)
        raise _Malformed(f"impossible IntOrString.Type {kind} in {where}")
    if typ == "StringList":
        return [_scalar("string", w, v, where) for w, v in fields.get(1, [])]
    if typ == "Duration":
        return _duration(_int_field(fields, 1, "int64", where))
    # RawExtension and FieldsV1: raw JSON bytes in field 1, null when absent.
    raw = _bytes_field(fields, 1, where)
    return _raw_json(raw, where, nesting) if raw else None


_SPECIALS = frozenset({"Time", "MicroTime", "Duration", "Quantity", "IntOrString", "StringList",
                       "RawExtension", "FieldsV1"})
