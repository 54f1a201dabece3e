"""Validation of API objects, worded the way the upstream apiserver words it.

Three stages, in the order the apiserver runs them on a write:
1. decoding — `decode_errors(info, obj)` finds the first JSON value of the wrong
   type in a built-in object and phrases it as Go's decoder would (upstream answers
   400 BadRequest); `unknown_fields(obj, node)` lists fields the schema does not
   declare, for `fieldValidation=Strict` (400) and `Warn` (warning headers);
2. custom resources — `prune(obj, node)` drops undeclared fields and
   `validate_custom(obj, node)` checks the structural schema (type, enum, bounds,
   lengths, pattern, items, required, ...); `type_errors` is its typing subset;
3. semantics — `validate(info, obj, old)` returns `Cause`s for the built-in kinds
   (names, labels, selectors, pod specs, services, immutable fields on update) and,
   for custom resources, ObjectMeta plus the CRD schema.

Every check returns `Cause`s (`errors.py`); the apiserver wraps them with
`errors.invalid(kind, name, causes)`. Schemas come from `schema.py` (`SchemaNode`);
`crd.py` reuses the field-error builders and name validators exported here.
Pure functions, no I/O; inputs are never mutated.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from podplane.api.errors import Cause
from podplane.api.jsonvalue import copy_json
from podplane.api.registry import ResourceInfo
from podplane.api.schema import SchemaNode, definition_name_for, definitions

__all__ = [
    "FIELD_MANAGER_MAX_LENGTH",
    "apply_structural_defaults",
    "decode_errors",
    "field_duplicate",
    "field_forbidden",
    "field_invalid",
    "field_not_found",
    "field_not_supported",
    "field_required",
    "field_too_long",
    "field_too_many",
    "field_type_invalid",
    "go_value",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_qualified_name",
    "is_valid_label_value",
    "label_key_errors",
    "label_value_errors",
    "parse_quantity",
    "prune",
    "strict_decoding_message",
    "type_errors",
    "unknown_fields",
    "validate",
    "validate_custom",
    "validate_dry_run",
    "validate_field_manager",
    "validate_field_validation",
    "validate_label_selector",
    "validate_labels",
    "validate_object_meta",
]

Obj = dict[str, Any]


# ====================================================================== field errors

def go_value(value: Any) -> str:
    """A bad value as Go's `field.Error` prints it: strings quoted, numbers bare, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return _go_quote(value)
    if isinstance(value, _GoRepr):
        return value.text
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


class _GoRepr:
    """A value pre-rendered in Go's `%#v` syntax (maps, slices, selectors)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _go_float(value: float) -> str:
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _go_string_map(value: dict | None) -> _GoRepr:
    if value is None:
        return _GoRepr("map[string]string(nil)")
    items = ", ".join(f"{_go_quote(str(k))}:{_go_quote(str(v))}" for k, v in sorted(value.items()))
    return _GoRepr(f"map[string]string{{{items}}}")


def _go_string_slice(value: list | None) -> _GoRepr:
    if value is None:
        return _GoRepr("[]string(nil)")
    return _GoRepr("[]string{" + ", ".join(_go_quote(str(v)) for v in value) + "}")


def _go_label_selector(sel: dict | None) -> _GoRepr:
    if not isinstance(sel, dict):
        return _GoRepr("null")
    exprs = sel.get("matchExpressions")
    if exprs:
        parts = []
        for e in exprs:
            e = e if isinstance(e, dict) else {}
            parts.append(f"v1.LabelSelectorRequirement{{Key:{_go_quote(str(e.get('key', '')))}, "
                         f"Operator:{_go_quote(str(e.get('operator', '')))}, "
                         f"Values:{_go_string_slice(e.get('values')).text}}}")
        expr_text = "[]v1.LabelSelectorRequirement{" + ", ".join(parts) + "}"
    else:
        expr_text = "[]v1.LabelSelectorRequirement(nil)"
    return _GoRepr(f"v1.LabelSelector{{MatchLabels:{_go_string_map(sel.get('matchLabels')).text}, "
                   f"MatchExpressions:{expr_text}}}")


def _go_int_or_string(value: Any) -> _GoRepr:
    if isinstance(value, str):
        return _GoRepr(f'intstr.IntOrString{{Type:1, IntVal:0, StrVal:{_go_quote(value)}}}')
    return _GoRepr(f'intstr.IntOrString{{Type:0, IntVal:{go_value(value)}, StrVal:""}}')


def _cause(reason: str, path: str, body: str, detail: str = "") -> Cause:
    return Cause(reason, f"{body}: {detail}" if detail else body, path)


def field_invalid(path: str, value: Any, detail: str = "") -> Cause:
    return _cause("FieldValueInvalid", path, f"Invalid value: {go_value(value)}", detail)


def field_type_invalid(path: str, value: Any, detail: str = "") -> Cause:
    return _cause("FieldValueTypeInvalid", path, f"Invalid value: {go_value(value)}", detail)


def field_required(path: str, detail: str = "") -> Cause:
    return _cause("FieldValueRequired", path, "Required value", detail)


def field_forbidden(path: str, detail: str) -> Cause:
    return _cause("FieldValueForbidden", path, "Forbidden", detail)


def field_duplicate(path: str, value: Any) -> Cause:
    return _cause("FieldValueDuplicate", path, f"Duplicate value: {go_value(value)}")


def field_not_found(path: str, value: Any) -> Cause:
    return _cause("FieldValueNotFound", path, f"Not found: {go_value(value)}")


def field_not_supported(path: str, value: Any, valid: Iterable[str]) -> Cause:
    quoted = ", ".join(_go_quote(v) for v in valid)
    return _cause("FieldValueNotSupported", path, f"Unsupported value: {go_value(value)}",
                  f"supported values: {quoted}" if quoted else "")


def field_too_long(path: str, max_bytes: int) -> Cause:
    return _cause("FieldValueTooLong", path, "Too long", f"must have at most {max_bytes} bytes")


def _too_long_max_length(path: str, max_len: int) -> Cause:
    return _cause("FieldValueTooLong", path, "Too long", f"may not be longer than {max_len}")


def field_too_many(path: str, actual: int, max_items: int) -> Cause:
    return _cause("FieldValueTooMany", path, f"Too many: {actual}", f"must have at most {max_items} items")


def _child(path: str, *names: str) -> str:
    for name in names:
        path = f"{path}.{name}" if path else name
    return path


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


# ====================================================================== name validators

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                      "and must start and end with an alphanumeric character")
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                          "'-' or '.', and must start and end with an alphanumeric character")
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
                      "an alphabetic character, and end with an alphanumeric character")
_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
              "alphanumeric character")
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                    "or '.', and must start and end with an alphanumeric character")
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_PERCENT_FMT = "[0-9]+%"
_PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"
_ENV_NAME_MSG = "a valid environment variable name must consist only of printable ASCII characters other than '='"

_RE_DNS1123_LABEL = re.compile(f"^{_DNS1123_LABEL_FMT}$")
_RE_DNS1123_SUBDOMAIN = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}$")
_RE_DNS1035_LABEL = re.compile(f"^{_DNS1035_LABEL_FMT}$")
_RE_QNAME = re.compile(f"^{_QNAME_FMT}$")
_RE_LABEL_VALUE = re.compile(f"^{_LABEL_VALUE_FMT}$")
_RE_CONFIG_KEY = re.compile(f"^{_CONFIG_KEY_FMT}$")
_RE_PERCENT = re.compile(f"^{_PERCENT_FMT}$")
_RE_PORT_NAME_CHARS = re.compile("^[-a-z0-9]+$")


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _RE_DNS1123_LABEL.match(value):
        errs.append(_regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    return _dns1123_subdomain_errors(value, content=False)


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _RE_DNS1035_LABEL.match(value):
        errs.append(_regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


# Label keys and values. Two flavours share one implementation: object validation follows
# apimachinery's IsQualifiedName/IsValidLabelValue (lengths in characters, "characters" in
# the message, regexes anchored with ^...$), label selector parsing follows the newer
# content.IsLabelKey/IsLabelValue (lengths in UTF-8 bytes, "bytes", whole-string match, "a
# valid label key"). `content` picks the latter.
def _length_errors(value: str, limit: int, content: bool) -> list[str]:
    if content:
        return [f"must be no more than {limit} bytes"] if len(value.encode()) > limit else []
    return [_max_len_error(limit)] if len(value) > limit else []


def _matches(regex: re.Pattern, value: str, content: bool) -> bool:
    return (regex.fullmatch(value) if content else regex.match(value)) is not None


def _dns1123_subdomain_errors(value: str, *, content: bool) -> list[str]:
    errs = _length_errors(value, 253, content)
    if not _matches(_RE_DNS1123_SUBDOMAIN, value, content):
        errs.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def _qualified_name_errors(value: str, *, content: bool) -> list[str]:
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in _dns1123_subdomain_errors(prefix, content=content))
    else:
        what = "a valid label key " if content else "a qualified name "
        return [what + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    else:
        errs.extend("name part " + m for m in _length_errors(name, 63, content))
    if not _matches(_RE_QNAME, name, content):
        errs.append("name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def _label_value_errors(value: str, *, content: bool) -> list[str]:
    errs = _length_errors(value, 63, content)
    if not _matches(_RE_LABEL_VALUE, value, content):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    return _qualified_name_errors(value, content=False)


def is_valid_label_value(value: str) -> list[str]:
    return _label_value_errors(value, content=False)


def label_key_errors(key: str) -> list[str]:
    """content.IsLabelKey: problems with a label key (qualified name), empty when valid."""
    return _qualified_name_errors(key, content=True)


def label_value_errors(value: str) -> list[str]:
    """content.IsLabelValue: problems with a label value, empty when valid."""
    return _label_value_errors(value, content=True)


def _is_config_key(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(_max_len_error(253))
    if not _RE_CONFIG_KEY.match(value):
        errs.append(_regex_error(_CONFIG_KEY_MSG, _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _is_path_segment_name(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def _is_valid_port_num(port: Any) -> list[str]:
    if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
        return []
    return ["must be between 1 and 65535, inclusive"]


def _is_valid_port_name(port: str) -> list[str]:
    errs = []
    if len(port) > 15:
        errs.append(_max_len_error(15))
    if not _RE_PORT_NAME_CHARS.match(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _is_valid_ip(value: str) -> list[str]:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    return []


def _mask_trailing_dash(name: str) -> str:
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


NameFn = Callable[[str, bool], list[str]]


def _name_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def _name_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def _name_dns1035(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def _name_path_segment(name: str, prefix: bool) -> list[str]:
    return _is_path_segment_name(name)


# ====================================================================== quantities

_RE_QUANTITY = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_QUANTITY_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
_SUFFIX = {
    "": Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": Decimal("1e3"),
    "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"), "P": Decimal("1e15"), "E": Decimal("1e18"),
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
    "Pi": Decimal(2**50), "Ei": Decimal(2**60),
}


def parse_quantity(value: Any) -> Decimal | None:
    """The numeric value of a resource quantity (`"500m"`, `"1Gi"`, `2`), or None if malformed."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    m = _RE_QUANTITY.match(value.strip())
    if not m:
        return None
    try:
        number = Decimal(m.group(1))
    except InvalidOperation:
        return None
    suffix = m.group(2) or ""
    if suffix[:1] in ("e", "E"):
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * _SUFFIX[suffix]


# ====================================================================== decoding (built-ins)

_TIME_DEFS = {"io.k8s.apimachinery.pkg.apis.meta.v1.Time", "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"}
_OPAQUE_DEFS = ("io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1", "io.k8s.apimachinery.pkg.runtime.RawExtension",
                "io.k8s.apimachinery.pkg.apis.meta.v1.Patch")
_QUANTITY_DEF = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_OBJECT_META_DEF = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_INTSTR_DEF = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _ref_name(schema: dict) -> str | None:
    ref = schema.get("$ref")
    if ref is None:
        all_of = schema.get("allOf")
        if all_of and len(all_of) == 1 and "$ref" in all_of[0]:
            ref = all_of[0]["$ref"]
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _go_type(schema: dict) -> str:
    name = _ref_name(schema)
    if name is not None:
        parts = name.split(".")
        return f"{parts[-2]}.{parts[-1]}" if len(parts) >= 2 else name
    kind = schema.get("type")
    fmt = schema.get("format")
    if kind == "string":
        return "[]uint8" if fmt == "byte" else "string"
    if kind == "integer":
        return fmt if fmt in ("int32", "int64") else "int"
    if kind == "number":
        return "float32" if fmt == "float" else "float64"
    if kind == "boolean":
        return "bool"
    if kind == "array":
        return "[]" + _go_type(schema.get("items") or {})
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "map[string]" + _go_type(schema["additionalProperties"])
    return "map[string]interface {}"


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _base64_error(text: str) -> str | None:
    try:
        base64.b64decode(text, validate=True)
        return None
    except (binascii.Error, ValueError):
        pass
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    stripped = text.rstrip("=")
    for i, ch in enumerate(stripped):
        if ch not in allowed:
            return f"illegal base64 data at input byte {i}"
    return f"illegal base64 data at input byte {len(text) - len(text) % 4}"


class _Decoder:
    """Mimics encoding/json decoding into the upstream Go structs: the first type error wins."""

    def __init__(self) -> None:
        self.defs = definitions()

    def struct(self, value: Any, name: str, path: str) -> str | None:
        schema = self.defs.get(name)
        if schema is None or name in _OPAQUE_DEFS:
            return None
        if name in _TIME_DEFS:
            if value is not None and not isinstance(value, str):
                return f"json: cannot unmarshal {_json_kind(value)} into Go value of type string"
            if isinstance(value, str) and value and not _parse_rfc3339(value):
                return f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse "{value}" as "2006"'
            return None
        if name == _QUANTITY_DEF:
            if value is not None and parse_quantity(value) is None:
                return _QUANTITY_ERROR
            return None
        if name == _INTSTR_DEF:
            if value is None or isinstance(value, str) or _is_int(value):
                return None
            shown = _json_kind(value)
            if isinstance(value, float):
                shown = f"number {_go_float(value)}"
            return f"json: cannot unmarshal {shown} into Go value of type int32"
        props = schema.get("properties")
        if props is None:
            return None
        struct_name = name.rsplit(".", 1)[-1]
        if value is None:
            return None
        if not isinstance(value, dict):
            return None  # reported by the caller, which knows the field
        for key, item in value.items():
            prop = props.get(key)
            if prop is None:
                continue
            err = self.field(item, prop, _child(path, key), struct_name)
            if err:
                return err
        return None

    def field(self, value: Any, schema: dict, path: str, struct_name: str) -> str | None:
        if value is None:
            return None
        name = _ref_name(schema)
        if name is not None:
            target = self.defs.get(name, {})
            if "properties" in target and name not in _OPAQUE_DEFS and not isinstance(value, dict):
                return self._mismatch(value, struct_name, path, _go_type(schema))
            return self.struct(value, name, path)
        kind = schema.get("type")
        go = _go_type(schema)
        if kind == "string":
            if not isinstance(value, str):
                return self._mismatch(value, struct_name, path, go)
            if schema.get("format") == "byte":
                return _base64_error(value)
        elif kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return self._mismatch(value, struct_name, path, go)
            low, high = _INT_RANGES.get(schema.get("format", "int64"), _INT_RANGES["int64"])
            if isinstance(value, float) and value != int(value) or not low <= value <= high:
                shown = _go_float(value) if isinstance(value, float) else str(value)
                return f"json: cannot unmarshal number {shown} into Go struct field {struct_name}.{path} of type {go}"
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return self._mismatch(value, struct_name, path, go)
        elif kind == "boolean":
            if not isinstance(value, bool):
                return self._mismatch(value, struct_name, path, go)
        elif kind == "array":
            if not isinstance(value, list):
                return self._mismatch(value, struct_name, path, go)
            items = schema.get("items") or {}
            for item in value:
                err = self.field(item, items, path, struct_name)
                if err:
                    return err
        elif kind == "object" or "additionalProperties" in schema:
            if not isinstance(value, dict):
                return self._mismatch(value, struct_name, path, go)
            additional = schema.get("additionalProperties")
            if isinstance(additional, dict):
                for item in value.values():
                    err = self.field(item, additional, path, struct_name)
                    if err:
                        return err
        return None

    @staticmethod
    def _mismatch(value: Any, struct_name: str, path: str, go: str) -> str:
        return f"json: cannot unmarshal {_json_kind(value)} into Go struct field {struct_name}.{path} of type {go}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_rfc3339(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value


def decode_errors(info: ResourceInfo, obj: Obj) -> str | None:
    """The 400 message upstream gives when a built-in object has a value of the wrong JSON type.

    E.g. `Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal
    string into Go struct field DeploymentSpec.spec.replicas of type int32`. None when the object
    decodes (custom resources are type-checked by `validate_custom` instead, as 422).
    """
    if info.custom:
        return None
    name = definition_name_for(info.group, info.version, info.kind)
    if name is None:
        return None
    err = _Decoder().struct(obj, name, "")
    if err is None:
        return None
    return f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: {err}'


def strict_decoding_message(info: ResourceInfo, problems: list[str]) -> str:
    """The 400 message for `fieldValidation=Strict` given `unknown_fields(...)` output."""
    return (f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
            f"strict decoding error: {', '.join(problems)}")


# ====================================================================== unknown fields and pruning

@functools.cache
def _builtin_ids() -> frozenset[int]:
    return frozenset(id(s) for s in definitions().values())


@functools.cache
def _opaque_ids() -> frozenset[int]:
    defs = definitions()
    return frozenset(id(defs[n]) for n in _OPAQUE_DEFS if n in defs)


@functools.cache
def _object_meta() -> SchemaNode:
    return SchemaNode(definitions()["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"])


def _is_opaque(node: SchemaNode, builtin: bool) -> bool:
    schema = node.schema
    if schema.get("x-kubernetes-int-or-string") or schema.get("x-podplane-quantity"):
        return True
    if builtin:
        if id(schema) in _opaque_ids():
            return True
        return "type" not in schema and "properties" not in schema and "additionalProperties" not in schema \
            and "items" not in schema
    return False


def _walk_unknown(value: Any, node: SchemaNode | None, path: str, builtin: bool, root: bool,
                  out: list[str] | None) -> Any:
    """Return `value` without undeclared fields; append their paths to `out` when given."""
    if node is None or _is_opaque(node, builtin):
        return value
    schema = node.schema
    if isinstance(value, dict):
        if node.type not in (None, "object") and "properties" not in schema:
            return value
        embedded = root or bool(schema.get("x-kubernetes-embedded-resource"))
        props = node.properties
        additional = schema.get("additionalProperties")
        preserve = node.preserves_unknown_fields or additional is True
        result: dict = {}
        for key, item in value.items():
            child_path = _child(path, key)
            if embedded and key in ("apiVersion", "kind") and key not in props:
                result[key] = item
            elif embedded and key == "metadata" and (not builtin or key not in props):
                result[key] = _walk_unknown(item, _object_meta(), child_path, True, False, out)
            elif key in props:
                result[key] = _walk_unknown(item, node.field(key), child_path, builtin, False, out)
            elif isinstance(additional, dict):
                result[key] = _walk_unknown(item, node.field(key), child_path, builtin, False, out)
            elif preserve:
                result[key] = item
            else:
                if out is not None:
                    out.append(child_path)
        return result
    if isinstance(value, list):
        items = node.items()
        if items is None:
            return value
        return [_walk_unknown(item, items, _index(path, i), builtin, False, out) for i, item in enumerate(value)]
    return value


def _builtin(node: SchemaNode) -> bool:
    return id(node.schema) in _builtin_ids()


def unknown_fields(obj: Obj, node: SchemaNode | None) -> list[str]:
    """Fields not declared by `node`, worded like upstream's strict decoder.

    Returns e.g. `['unknown field "spec.foo"', 'unknown field "spec.containers[0].bogus"']`;
    `strict_decoding_message` joins them into the 400 message, and each one is the text of a
    `Warning:` header under `fieldValidation=Warn`. Maps (additionalProperties),
    x-kubernetes-preserve-unknown-fields and embedded resources are honoured; `metadata` is
    checked against ObjectMeta.
    """
    if node is None:
        return []
    found: list[str] = []
    _walk_unknown(obj, node, "", _builtin(node), True, found)
    return [f'unknown field "{p}"' for p in found]


def prune(obj: Obj, node: SchemaNode) -> Obj:
    """A copy of a custom resource without the fields its structural schema does not declare."""
    return _walk_unknown(copy_json(obj), node, "", _builtin(node), True, None)


# ====================================================================== structural defaulting

def _default_schema(schema: Any) -> dict | None:
    return schema if isinstance(schema, dict) else None


def _non_nullable_null(value: Any, schema: dict | None) -> bool:
    return value is None and schema is not None and not schema.get("nullable")


def apply_structural_defaults(obj: Obj, schema: dict | None, *, copy: bool = True) -> Obj:
    """Upstream's CR decoding after pruning: PruneNonNullableNullsWithoutDefaults, then Default.

    A copy of `obj` where nulls of non-nullable fields without a default are dropped, and
    every missing field (or non-nullable null) whose schema has a `default` gets a copy of
    it; defaults are then defaulted themselves (`default: {}` on an object fills its
    properties' defaults). Walks properties, additionalProperties and items, iteratively.
    `copy=False` defaults `obj` in place.
    """
    out = copy_json(obj) if copy else obj
    root = _default_schema(schema)
    if root is None:
        return out
    stack: list[tuple[Any, dict]] = [(out, root)]
    while stack:
        value, node = stack.pop()
        if isinstance(value, dict):
            props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
            additional = _default_schema(node.get("additionalProperties"))
            for key, prop in props.items():
                prop = _default_schema(prop)
                if prop is None or "default" not in prop or prop["default"] is None:
                    continue
                if key not in value or _non_nullable_null(value[key], prop):
                    value[key] = copy_json(prop["default"])
            for key in list(value):
                child_schema = _default_schema(props.get(key)) if key in props else additional
                if child_schema is None:
                    continue
                child = value[key]
                if child is None and _non_nullable_null(child, child_schema):
                    if child_schema.get("default") is not None:
                        value[key] = child = copy_json(child_schema["default"])
                    else:
                        del value[key]
                        continue
                if isinstance(child, dict | list):
                    stack.append((child, child_schema))
        elif isinstance(value, list):
            items = _default_schema(node.get("items"))
            if items is None:
                continue
            for i, child in enumerate(value):
                if _non_nullable_null(child, items) and items.get("default") is not None:
                    value[i] = child = copy_json(items["default"])
                if isinstance(child, dict | list):
                    stack.append((child, items))
    return out


# ====================================================================== request options

_DRY_RUN_VALUES = ("All",)
_FIELD_VALIDATION_VALUES = ("", "Ignore", "Strict", "Warn")
FIELD_MANAGER_MAX_LENGTH = 128


def validate_dry_run(values: list[str], path: str = "dryRun") -> list[Cause]:
    """Upstream ValidateDryRun: every value must be `All`."""
    if all(v in _DRY_RUN_VALUES for v in values):
        return []
    return [field_not_supported(path, _go_string_slice(values), _DRY_RUN_VALUES)]


def validate_field_manager(manager: str, path: str = "fieldManager") -> list[Cause]:
    """Upstream ValidateFieldManager: at most 128 bytes of printable characters."""
    errs = []
    if len(manager.encode("utf-8", "surrogatepass")) > FIELD_MANAGER_MAX_LENGTH:
        errs.append(field_too_long(path, FIELD_MANAGER_MAX_LENGTH))
    for i, char in enumerate(manager):
        if not char.isprintable():
            errs.append(field_invalid(path, manager, f"invalid character U+{ord(char):04X} (at position {i})"))
    return errs


def validate_field_validation(value: str, path: str = "fieldValidation") -> list[Cause]:
    """Upstream ValidateFieldValidation: "", Ignore, Warn or Strict."""
    if value in _FIELD_VALIDATION_VALUES:
        return []
    return [field_not_supported(path, value, _FIELD_VALIDATION_VALUES)]


# ====================================================================== structural schema validation

def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value == int(value) else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _matches_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return (_is_int(value)) or (isinstance(value, float) and value == int(value))
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return True


def _format_ok(fmt: str, value: str) -> bool:
    try:
        if fmt == "date-time":
            return _parse_rfc3339(value)
        if fmt == "date":
            return bool(re.match(r"^\d{4}-\d{2}-\d{2}$", value)) and bool(datetime.strptime(value, "%Y-%m-%d"))
        if fmt == "uuid":
            uuid.UUID(value)
            return bool(re.match(r"^[0-9a-fA-F-]{36}$", value))
        if fmt == "byte":
            base64.b64decode(value, validate=True)
            return True
        if fmt == "ipv4":
            return isinstance(ipaddress.ip_address(value), ipaddress.IPv4Address)
        if fmt == "ipv6":
            return isinstance(ipaddress.ip_address(value), ipaddress.IPv6Address)
        if fmt == "cidr":
            ipaddress.ip_network(value, strict=False)
            return "/" in value
        if fmt == "mac":
            return bool(re.match(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$", value))
        if fmt == "hostname":
            return not is_dns1123_subdomain(value.lower())
    except (ValueError, binascii.Error):
        return False
    return True


def _num(value: Any) -> str:
    return _go_float(float(value)) if isinstance(value, float) else str(value)


class _SchemaValidator:
    """kube-openapi style validation of a value against a (CRD) structural schema."""

    def __init__(self, types_only: bool) -> None:
        self.types_only = types_only
        self.errors: list[Cause] = []

    def check(self, value: Any, node: SchemaNode, path: str, root: bool = False) -> None:
        schema = node.schema
        name = path or "body"
        if value is None:
            if schema.get("nullable") or not schema.get("type"):
                return
            self.errors.append(field_type_invalid(path, "null",
                                                  f'{name} in body must be of type {schema["type"]}: "null"'))
            return
        if schema.get("x-kubernetes-int-or-string"):
            if not (_is_int(value) or isinstance(value, str)):
                actual = _type_name(value)
                self.errors.append(field_type_invalid(
                    path, actual, f'{name} in body must be of type integer,string: "{actual}"'))
                return
        else:
            kind = schema.get("type")
            if isinstance(kind, str) and not _matches_type(value, kind):
                actual = _type_name(value)
                self.errors.append(field_type_invalid(path, actual,
                                                      f'{name} in body must be of type {kind}: "{actual}"'))
                return
        if not self.types_only:
            self._values(value, schema, path, name)
        if isinstance(value, dict):
            self._object(value, node, path, root)
        elif isinstance(value, list):
            items = node.items()
            if items is not None:
                for i, item in enumerate(value):
                    self.check(item, items, _index(path, i))

    def _object(self, value: dict, node: SchemaNode, path: str, root: bool) -> None:
        schema = node.schema
        embedded = root or bool(schema.get("x-kubernetes-embedded-resource"))
        if not self.types_only:
            for req in schema.get("required") or ():
                if req not in value:
                    self.errors.append(field_required(_child(path, req)))
        props = node.properties
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            if embedded and key in ("apiVersion", "kind", "metadata") and key not in props:
                continue
            if root and key == "metadata":
                continue
            if key in props:
                self.check(item, node.field(key), _child(path, key))
            elif isinstance(additional, dict):
                self.check(item, node.field(key), _child(path, key))

    def _values(self, value: Any, schema: dict, path: str, name: str) -> None:
        errors = self.errors
        enum = schema.get("enum")
        if enum is not None and value not in enum:
            shown = [v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in enum]
            errors.append(field_not_supported(path, value, shown))
        if isinstance(value, int | float) and not isinstance(value, bool):
            maximum, minimum = schema.get("maximum"), schema.get("minimum")
            if maximum is not None:
                if schema.get("exclusiveMaximum") and value >= maximum:
                    errors.append(field_invalid(path, value, f"{name} in body should be less than {_num(maximum)}"))
                elif value > maximum:
                    errors.append(field_invalid(
                        path, value, f"{name} in body should be less than or equal to {_num(maximum)}"))
            if minimum is not None:
                if schema.get("exclusiveMinimum") and value <= minimum:
                    errors.append(field_invalid(
                        path, value, f"{name} in body should be greater than {_num(minimum)}"))
                elif value < minimum:
                    errors.append(field_invalid(
                        path, value, f"{name} in body should be greater than or equal to {_num(minimum)}"))
            multiple = schema.get("multipleOf")
            if multiple and Decimal(str(value)) % Decimal(str(multiple)) != 0:
                errors.append(field_invalid(path, value, f"{name} in body should be a multiple of {_num(multiple)}"))
        if isinstance(value, str):
            fmt = schema.get("format")
            if fmt and not _format_ok(fmt, value):
                errors.append(field_type_invalid(path, value, f"{name} in body must be of type {fmt}: {_go_quote(value)}"))
            min_len, max_len = schema.get("minLength"), schema.get("maxLength")
            if min_len is not None and len(value) < min_len:
                errors.append(field_invalid(path, value, f"{name} in body should be at least {min_len} chars long"))
            if max_len is not None and len(value) > max_len:
                errors.append(_too_long_max_length(path, max_len))
            pattern = schema.get("pattern")
            if pattern:
                try:
                    if not re.search(pattern, value):
                        errors.append(field_invalid(path, value, f"{name} in body should match '{pattern}'"))
                except re.error:
                    pass
        if isinstance(value, list):
            min_items, max_items = schema.get("minItems"), schema.get("maxItems")
            if min_items is not None and len(value) < min_items:
                errors.append(field_invalid(path, _GoRepr(str(len(value))),
                                            f"{name} in body should have at least {min_items} items"))
            if max_items is not None and len(value) > max_items:
                errors.append(field_too_many(path, len(value), max_items))
            if schema.get("uniqueItems") or schema.get("x-kubernetes-list-type") == "set":
                seen: list[Any] = []
                for i, item in enumerate(value):
                    if item in seen:
                        errors.append(field_duplicate(_index(path, i), item))
                    seen.append(item)
        if isinstance(value, dict):
            min_props, max_props = schema.get("minProperties"), schema.get("maxProperties")
            if min_props is not None and len(value) < min_props:
                errors.append(field_invalid(path, _GoRepr(str(len(value))),
                                            f"{name} in body should have at least {min_props} properties"))
            if max_props is not None and len(value) > max_props:
                errors.append(field_too_many(path, len(value), max_props))
        self._combinators(value, schema, path, name)

    def _combinators(self, value: Any, schema: dict, path: str, name: str) -> None:
        def passes(sub: dict) -> bool:
            inner = _SchemaValidator(False)
            inner.check(value, SchemaNode.from_crd_schema(sub), path)
            return not inner.errors

        for sub in schema.get("allOf") or ():
            if isinstance(sub, dict) and "$ref" not in sub:
                inner = _SchemaValidator(False)
                inner.check(value, SchemaNode.from_crd_schema(sub), path)
                self.errors.extend(inner.errors)
        any_of = [s for s in schema.get("anyOf") or () if isinstance(s, dict)]
        if any_of and not any(passes(s) for s in any_of):
            self.errors.append(field_invalid(path, value, f"{name} in body must validate at least one schema (anyOf)"))
        one_of = [s for s in schema.get("oneOf") or () if isinstance(s, dict)]
        if one_of and sum(passes(s) for s in one_of) != 1:
            self.errors.append(field_invalid(path, value, f"{name} in body must validate one and only one schema (oneOf)"))
        not_schema = schema.get("not")
        if isinstance(not_schema, dict) and passes(not_schema):
            self.errors.append(field_invalid(path, value, f"{name} in body must not validate the schema (not)"))


def type_errors(obj: Obj, node: SchemaNode) -> list[Cause]:
    """Values whose JSON type the schema does not allow, as upstream's CR validation reports them.

    E.g. field `spec.replicas`, reason FieldValueTypeInvalid, message
    `Invalid value: "string": spec.replicas in body must be of type integer: "string"`.
    """
    checker = _SchemaValidator(types_only=True)
    checker.check(obj, node, "", root=True)
    return checker.errors


def validate_custom(obj: Obj, node: SchemaNode) -> list[Cause]:
    """Validate a custom resource against its CRD version's structural schema (metadata excluded)."""
    checker = _SchemaValidator(types_only=False)
    checker.check(obj, node, "", root=True)
    return checker.errors


# ====================================================================== object meta

_ANNOTATION_LIMIT = 256 * 1024


def validate_labels(labels: Any, path: str) -> list[Cause]:
    errs = []
    if not isinstance(labels, dict):
        return errs
    for key, value in labels.items():
        errs.extend(field_invalid(path, key, m) for m in is_qualified_name(str(key)))
        errs.extend(field_invalid(path, value, m) for m in is_valid_label_value(str(value or "")))
    return errs


def _validate_annotations(annotations: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not isinstance(annotations, dict):
        return errs
    size = 0
    for key, value in annotations.items():
        errs.extend(field_invalid(path, key, m) for m in is_qualified_name(str(key).lower()))
        size += len(str(key).encode()) + len(str(value or "").encode())
    if size > _ANNOTATION_LIMIT:
        errs.append(field_too_long(path, _ANNOTATION_LIMIT))
    return errs


def _validate_owner_references(refs: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not isinstance(refs, list):
        return errs
    controller = ""
    for ref in refs:
        if not isinstance(ref, dict):
            continue
        api_version = ref.get("apiVersion") or ""
        version = api_version.rsplit("/", 1)[-1]
        if not version:
            errs.append(field_invalid(_child(path, "apiVersion"), api_version, "version must not be empty"))
        if not ref.get("kind"):
            errs.append(field_invalid(_child(path, "kind"), ref.get("kind") or "", "kind must not be empty"))
        if not ref.get("name"):
            errs.append(field_invalid(_child(path, "name"), ref.get("name") or "", "name must not be empty"))
        if not ref.get("uid"):
            errs.append(field_invalid(_child(path, "uid"), ref.get("uid") or "", "uid must not be empty"))
        if ref.get("controller"):
            current = f"{ref.get('kind')}/{ref.get('name')}"
            if controller:
                errs.append(field_invalid(path, refs, "Only one reference can have Controller set to true. "
                                                      f'Found "true" in references for {controller} and {current}'))
            else:
                controller = current
    return errs


def validate_object_meta(meta: Any, namespaced: bool, name_fn: NameFn = _name_dns_subdomain,
                         path: str = "metadata") -> list[Cause]:
    """Upstream `ValidateObjectMeta`: name/generateName, namespace, labels, annotations, owners, finalizers."""
    if not isinstance(meta, dict):
        meta = {}
    errs: list[Cause] = []
    generate_name = meta.get("generateName") or ""
    name = meta.get("name") or ""
    if generate_name:
        errs.extend(field_invalid(_child(path, "generateName"), generate_name, m)
                    for m in name_fn(generate_name, True))
    if not name:
        if not generate_name:
            errs.append(field_required(_child(path, "name"), "name or generateName is required"))
    else:
        errs.extend(field_invalid(_child(path, "name"), name, m) for m in name_fn(name, False))
    namespace = meta.get("namespace") or ""
    if namespaced:
        if not namespace:
            errs.append(field_required(_child(path, "namespace")))
        else:
            errs.extend(field_invalid(_child(path, "namespace"), namespace, m) for m in is_dns1123_label(namespace))
    elif namespace:
        errs.append(field_forbidden(_child(path, "namespace"), "not allowed on this type"))
    generation = meta.get("generation")
    if _is_int(generation) and generation < 0:
        errs.append(field_invalid(_child(path, "generation"), generation, "must be greater than or equal to 0"))
    errs.extend(validate_labels(meta.get("labels"), _child(path, "labels")))
    errs.extend(_validate_annotations(meta.get("annotations"), _child(path, "annotations")))
    errs.extend(_validate_owner_references(meta.get("ownerReferences"), _child(path, "ownerReferences")))
    finalizers = meta.get("finalizers")
    if isinstance(finalizers, list):
        for fin in finalizers:
            errs.extend(field_invalid(_child(path, "finalizers"), fin, m) for m in is_qualified_name(str(fin)))
        if "orphan" in finalizers and "foregroundDeletion" in finalizers:
            errs.append(field_invalid(_child(path, "finalizers"), _go_string_slice(finalizers),
                                      "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def _validate_object_meta_update(new: Any, old: Any, path: str = "metadata") -> list[Cause]:
    new = new if isinstance(new, dict) else {}
    old = old if isinstance(old, dict) else {}
    errs: list[Cause] = []
    for key in ("name", "namespace"):
        if (new.get(key) or "") != (old.get(key) or ""):
            errs.append(field_invalid(_child(path, key), new.get(key) or "", "field is immutable"))
    if new.get("uid") and old.get("uid") and new["uid"] != old["uid"]:
        errs.append(field_invalid(_child(path, "uid"), new["uid"], "field is immutable"))
    if old.get("deletionTimestamp"):
        added = [f for f in new.get("finalizers") or () if f not in (old.get("finalizers") or ())]
        if added:
            errs.append(field_forbidden(_child(path, "finalizers"),
                                        "no new finalizers can be added if the object is being deleted, found new "
                                        f"finalizers {_go_string_slice(added).text}"))
    return errs


# ====================================================================== selectors

_SELECTOR_OPS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_label_selector(selector: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not isinstance(selector, dict):
        return errs
    for i, expr in enumerate(selector.get("matchExpressions") or ()):
        if not isinstance(expr, dict):
            continue
        epath = _index(_child(path, "matchExpressions"), i)
        op = expr.get("operator")
        values = expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                errs.append(field_required(_child(epath, "values"),
                                           "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(field_forbidden(_child(epath, "values"),
                                            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(field_invalid(_child(epath, "operator"), op or "", "not a valid selector operator"))
        key = expr.get("key") or ""
        errs.extend(field_invalid(_child(epath, "key"), key, m) for m in is_qualified_name(key))
        for j, v in enumerate(values):
            errs.extend(field_invalid(_index(_child(epath, "values"), j), v, m)
                        for m in is_valid_label_value(str(v)))
    errs.extend(validate_labels(selector.get("matchLabels"), _child(path, "matchLabels")))
    return errs


def _selector_matches(selector: dict | None, labels: dict | None) -> bool:
    """metav1.LabelSelectorAsSelector(...).Matches: a nil selector matches nothing."""
    if selector is None:
        return False
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or ():
        if not isinstance(expr, dict):
            continue
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _selector_empty(selector: dict | None) -> bool:
    return selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions")


# ====================================================================== helpers for specs

def _nonneg(value: Any, path: str) -> list[Cause]:
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return [field_invalid(path, value, "must be greater than or equal to 0")]
    return []


def _dns_label(value: str, path: str) -> list[Cause]:
    return [field_invalid(path, value, m) for m in is_dns1123_label(value)]


def _dns_subdomain(value: str, path: str) -> list[Cause]:
    return [field_invalid(path, value, m) for m in is_dns1123_subdomain(value)]


def _port_num_or_name(value: Any, path: str) -> list[Cause]:
    if isinstance(value, str):
        return [field_invalid(path, value, m) for m in _is_valid_port_name(value)]
    if _is_int(value):
        return [field_invalid(path, value, m) for m in _is_valid_port_num(value)]
    return []


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == 0 or value is False or value == {} or value == []


def _semantic_equal(a: Any, b: Any) -> bool:
    """Go's semantic DeepEqual over JSON: an absent field equals its zero value."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a.keys() | b.keys():
            if not _semantic_equal(a.get(key), b.get(key)):
                return False
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_semantic_equal(x, y) for x, y in zip(a, b, strict=True))
    if _empty(a) and _empty(b):
        return True
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return a == b


def _get(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _immutable(new: Any, old: Any, path: str, shown: Any = None) -> list[Cause]:
    if _semantic_equal(new, old):
        return []
    return [field_invalid(path, shown if shown is not None else new, "field is immutable")]


# ====================================================================== pod specs

_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_LIFECYCLE_HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")


def _validate_volumes(volumes: list, path: str) -> tuple[list[Cause], set[str]]:
    errs: list[Cause] = []
    names: set[str] = set()
    for i, vol in enumerate(volumes):
        if not isinstance(vol, dict):
            continue
        ipath = _index(path, i)
        name = vol.get("name") or ""
        sources = [k for k in vol if k != "name" and vol[k] is not None]
        if not sources:
            errs.append(field_required(ipath, "must specify a volume type"))
        for extra in sources[1:]:
            errs.append(field_forbidden(_child(ipath, extra), "may not specify more than 1 volume type"))
        src = _dict(vol.get(sources[0])) if sources else {}
        kind = sources[0] if sources else ""
        if kind == "hostPath" and not src.get("path"):
            errs.append(field_required(_child(ipath, "hostPath", "path")))
        elif kind == "secret" and not src.get("secretName"):
            errs.append(field_required(_child(ipath, "secret", "secretName")))
        elif kind == "configMap" and not src.get("name"):
            errs.append(field_required(_child(ipath, "configMap", "name")))
        elif kind == "persistentVolumeClaim" and not src.get("claimName"):
            errs.append(field_required(_child(ipath, "persistentVolumeClaim", "claimName")))
        elif kind == "emptyDir" and src.get("sizeLimit") is not None:
            size = parse_quantity(src["sizeLimit"])
            if size is not None and size < 0:
                errs.append(field_invalid(_child(ipath, "emptyDir", "sizeLimit"), str(src["sizeLimit"]),
                                          "must be greater than or equal to 0"))
        npath = _child(ipath, "name")
        if not name:
            errs.append(field_required(npath))
        else:
            errs.extend(_dns_label(name, npath))
        if name in names:
            errs.append(field_duplicate(npath, name))
        names.add(name)
    return errs, names


def _validate_probe(probe: Any, path: str, handlers: tuple[str, ...] = _PROBE_HANDLERS) -> list[Cause]:
    errs: list[Cause] = []
    if not isinstance(probe, dict):
        return errs
    present = [h for h in handlers if probe.get(h) is not None]
    if not present:
        errs.append(field_required(path, "must specify a handler type"))
    for extra in present[1:]:
        errs.append(field_forbidden(_child(path, extra), "may not specify more than 1 handler type"))
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold",
                "terminationGracePeriodSeconds"):
        errs.extend(_nonneg(probe.get(key), _child(path, key)))
    http = probe.get("httpGet")
    if isinstance(http, dict):
        if http.get("port") is None:
            errs.append(field_required(_child(path, "httpGet", "port")))
        errs.extend(_port_num_or_name(http.get("port"), _child(path, "httpGet", "port")))
        scheme = http.get("scheme")
        if scheme is not None and scheme not in ("HTTP", "HTTPS"):
            errs.append(field_not_supported(_child(path, "httpGet", "scheme"), scheme, ("HTTP", "HTTPS")))
    tcp = probe.get("tcpSocket")
    if isinstance(tcp, dict):
        errs.extend(_port_num_or_name(tcp.get("port"), _child(path, "tcpSocket", "port")))
    exec_ = probe.get("exec")
    if isinstance(exec_, dict) and not exec_.get("command"):
        errs.append(field_required(_child(path, "exec", "command")))
    return errs


def _validate_resources(res: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not isinstance(res, dict):
        return errs
    limits = _dict(res.get("limits"))
    requests = _dict(res.get("requests"))
    parsed: dict[str, Decimal] = {}
    for section, values in (("limits", limits), ("requests", requests)):
        for rname, quantity in values.items():
            rpath = _key(_child(path, section), rname)
            if "/" not in rname and rname not in _STANDARD_CONTAINER_RESOURCES \
                    and not rname.startswith("hugepages-"):
                errs.append(field_invalid(rpath, rname, "must be a standard resource for containers"))
            elif "/" in rname:
                errs.extend(field_invalid(rpath, rname, m) for m in is_qualified_name(rname))
            value = parse_quantity(quantity)
            if value is None:
                continue
            if value < 0:
                errs.append(field_invalid(rpath, str(quantity), "must be greater than or equal to 0"))
            if section == "limits":
                parsed[rname] = value
            elif rname in parsed and value > parsed[rname]:
                errs.append(field_invalid(rpath, str(quantity),
                                          f"must be less than or equal to {rname} limit of {limits[rname]}"))
    return errs


def _validate_container(ctr: dict, path: str, volume_names: set[str], init: bool) -> list[Cause]:
    errs: list[Cause] = []
    name = ctr.get("name") or ""
    if not name:
        errs.append(field_required(_child(path, "name")))
    else:
        errs.extend(_dns_label(name, _child(path, "name")))
    if not ctr.get("image"):
        errs.append(field_required(_child(path, "image")))
    port_names: set[str] = set()
    for i, port in enumerate(_list(ctr.get("ports"))):
        if not isinstance(port, dict):
            continue
        ppath = _index(_child(path, "ports"), i)
        pname = port.get("name")
        if pname:
            msgs = _is_valid_port_name(pname)
            if msgs:
                errs.extend(field_invalid(_child(ppath, "name"), pname, m) for m in msgs)
            elif pname in port_names:
                errs.append(field_duplicate(_child(ppath, "name"), pname))
            port_names.add(pname)
        container_port = port.get("containerPort")
        if not container_port:
            errs.append(field_required(_child(ppath, "containerPort")))
        else:
            errs.extend(field_invalid(_child(ppath, "containerPort"), container_port, m)
                        for m in _is_valid_port_num(container_port))
        if port.get("hostPort"):
            errs.extend(field_invalid(_child(ppath, "hostPort"), port["hostPort"], m)
                        for m in _is_valid_port_num(port["hostPort"]))
        protocol = port.get("protocol")
        if protocol is not None and protocol not in _PROTOCOLS:
            if protocol == "":
                errs.append(field_required(_child(ppath, "protocol")))
            else:
                errs.append(field_not_supported(_child(ppath, "protocol"), protocol, _PROTOCOLS))
    for i, env in enumerate(_list(ctr.get("env"))):
        if not isinstance(env, dict):
            continue
        epath = _index(_child(path, "env"), i)
        ename = env.get("name") or ""
        if not ename:
            errs.append(field_required(_child(epath, "name")))
        elif any(not (32 <= ord(ch) < 127) or ch == "=" for ch in ename):
            errs.append(field_invalid(_child(epath, "name"), ename, _ENV_NAME_MSG))
        value_from = env.get("valueFrom")
        if isinstance(value_from, dict):
            sources = [k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef")
                       if value_from.get(k) is not None]
            vpath = _child(epath, "valueFrom")
            if env.get("value"):
                errs.append(field_invalid(vpath, "", "may not be specified when `value` is not empty"))
            if not sources:
                errs.append(field_invalid(vpath, "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
                                                     "`configMapKeyRef` or `secretKeyRef`"))
            elif len(sources) > 1:
                errs.append(field_invalid(vpath, "", "may not have more than one field specified at a time"))
    mount_paths: set[str] = set()
    for i, mount in enumerate(_list(ctr.get("volumeMounts"))):
        if not isinstance(mount, dict):
            continue
        mpath = _index(_child(path, "volumeMounts"), i)
        mname = mount.get("name") or ""
        if not mname:
            errs.append(field_required(_child(mpath, "name")))
        if mname not in volume_names:
            errs.append(field_not_found(_child(mpath, "name"), mname))
        mount_path = mount.get("mountPath") or ""
        if not mount_path:
            errs.append(field_required(_child(mpath, "mountPath")))
        elif mount_path in mount_paths:
            errs.append(field_invalid(_child(mpath, "mountPath"), mount_path, "must be unique"))
        mount_paths.add(mount_path)
        sub_path = mount.get("subPath")
        if sub_path:
            if sub_path.startswith("/"):
                errs.append(field_invalid(_child(mpath, "subPath"), sub_path, "must be a relative path"))
            elif ".." in sub_path.split("/"):
                errs.append(field_invalid(_child(mpath, "subPath"), sub_path, "must not contain '..'"))
    policy = ctr.get("imagePullPolicy")
    if policy is not None and policy not in _PULL_POLICIES:
        errs.append(field_not_supported(_child(path, "imagePullPolicy"), policy, _PULL_POLICIES))
    tmp = ctr.get("terminationMessagePolicy")
    if tmp is not None and tmp not in _TERMINATION_MESSAGE_POLICIES:
        errs.append(field_not_supported(_child(path, "terminationMessagePolicy"), tmp, _TERMINATION_MESSAGE_POLICIES))
    errs.extend(_validate_resources(ctr.get("resources"), _child(path, "resources")))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if ctr.get(probe) is not None:
            errs.extend(_validate_probe(ctr[probe], _child(path, probe)))
            threshold = _get(ctr, probe, "successThreshold")
            if probe != "readinessProbe" and _is_int(threshold) and threshold != 1:
                errs.append(field_invalid(_child(path, probe, "successThreshold"), threshold, "must be 1"))
    lifecycle = ctr.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            if lifecycle.get(hook) is not None:
                errs.extend(_validate_probe(lifecycle[hook], _child(path, "lifecycle", hook), _LIFECYCLE_HANDLERS))
    restart = ctr.get("restartPolicy")
    if restart is not None:
        if init:
            if restart != "Always":
                errs.append(field_not_supported(_child(path, "restartPolicy"), restart, ("Always",)))
        elif restart not in _RESTART_POLICIES:
            errs.append(field_not_supported(_child(path, "restartPolicy"), restart, _RESTART_POLICIES))
    return errs


def _validate_tolerations(tolerations: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, tol in enumerate(_list(tolerations)):
        if not isinstance(tol, dict):
            continue
        tpath = _index(path, i)
        key = tol.get("key") or ""
        op = tol.get("operator") or ""
        value = tol.get("value") or ""
        effect = tol.get("effect") or ""
        if key:
            errs.extend(field_invalid(_child(tpath, "key"), key, m) for m in is_qualified_name(key))
        if not key and op != "Exists":
            errs.append(field_invalid(_child(tpath, "operator"), op,
                                      'operator must be Exists when `key` is empty, which means "match all values '
                                      'and all keys"'))
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(field_invalid(_child(tpath, "effect"), effect,
                                      "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op in ("Equal", ""):
            msgs = is_valid_label_value(value)
            if msgs:
                errs.append(field_invalid(_child(tpath, "operator"), value, ";".join(msgs)))
        elif op == "Exists":
            if value:
                errs.append(field_invalid(_child(tpath, "operator"), tol,
                                          "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(field_not_supported(_child(tpath, "operator"), op, ("Equal", "Exists")))
        if effect and effect not in _TAINT_EFFECTS:
            errs.append(field_not_supported(_child(tpath, "effect"), effect, _TAINT_EFFECTS))
    return errs


def _validate_pod_spec(spec: Any, path: str, extra_volumes: Iterable[str] = ()) -> list[Cause]:
    spec = _dict(spec)
    errs, volume_names = _validate_volumes(_list(spec.get("volumes")), _child(path, "volumes"))
    volume_names |= set(extra_volumes)
    containers = _list(spec.get("containers"))
    if not containers:
        errs.append(field_required(_child(path, "containers")))
    names: set[str] = set()
    for i, ctr in enumerate(containers):
        if not isinstance(ctr, dict):
            continue
        cpath = _index(_child(path, "containers"), i)
        errs.extend(_validate_container(ctr, cpath, volume_names, init=False))
        cname = ctr.get("name") or ""
        if cname and cname in names:
            errs.append(field_duplicate(_child(cpath, "name"), cname))
        names.add(cname)
    for i, ctr in enumerate(_list(spec.get("initContainers"))):
        if not isinstance(ctr, dict):
            continue
        cpath = _index(_child(path, "initContainers"), i)
        errs.extend(_validate_container(ctr, cpath, volume_names, init=True))
        cname = ctr.get("name") or ""
        if cname and cname in names:
            errs.append(field_duplicate(_child(cpath, "name"), cname))
        names.add(cname)
    restart = spec.get("restartPolicy")
    if restart is not None:
        if restart == "":
            errs.append(field_required(_child(path, "restartPolicy")))
        elif restart not in _RESTART_POLICIES:
            errs.append(field_not_supported(_child(path, "restartPolicy"), restart, _RESTART_POLICIES))
    dns = spec.get("dnsPolicy")
    if dns is not None and dns not in _DNS_POLICIES:
        errs.append(field_not_supported(_child(path, "dnsPolicy"), dns, _DNS_POLICIES))
    if dns == "None" and not _dict(spec.get("dnsConfig")).get("nameservers"):
        errs.append(field_required(_child(path, "dnsConfig", "nameservers"),
                                   "must provide at least one DNS nameserver when `dnsPolicy` is None"))
    deadline = spec.get("activeDeadlineSeconds")
    if _is_int(deadline) and not 1 <= deadline <= 2**31 - 1:
        errs.append(field_invalid(_child(path, "activeDeadlineSeconds"), deadline,
                                  "must be between 1 and 2147483647, inclusive"))
    errs.extend(_nonneg(spec.get("terminationGracePeriodSeconds"), _child(path, "terminationGracePeriodSeconds")))
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            errs.extend(_dns_label(spec[key], _child(path, key)))
    sa = spec.get("serviceAccountName")
    if sa:
        errs.extend(_dns_subdomain(sa, _child(path, "serviceAccountName")))
    if spec.get("nodeName"):
        errs.extend(_dns_subdomain(spec["nodeName"], _child(path, "nodeName")))
    errs.extend(validate_labels(spec.get("nodeSelector"), _child(path, "nodeSelector")))
    errs.extend(_validate_tolerations(spec.get("tolerations"), _child(path, "tolerations")))
    if spec.get("hostNetwork"):
        for i, ctr in enumerate(containers):
            for j, port in enumerate(_list(_dict(ctr).get("ports"))):
                port = _dict(port)
                host_port = port.get("hostPort")
                if host_port and host_port != port.get("containerPort"):
                    errs.append(field_invalid(
                        _child(_index(_child(_index(_child(path, "containers"), i), "ports"), j), "hostPort"),
                        host_port, "must match `containerPort` when `hostNetwork` is true"))
    return errs


def _validate_pod_template(template: Any, path: str, extra_volumes: Iterable[str] = ()) -> list[Cause]:
    if not isinstance(template, dict):
        return [field_required(path)]
    meta = _dict(template.get("metadata"))
    errs = validate_labels(meta.get("labels"), _child(path, "labels"))
    errs.extend(_validate_annotations(meta.get("annotations"), _child(path, "annotations")))
    errs.extend(_validate_pod_spec(template.get("spec"), _child(path, "spec"), extra_volumes))
    if _get(template, "spec", "ephemeralContainers"):
        errs.append(field_forbidden(_child(path, "spec", "ephemeralContainers"),
                                    "ephemeral containers not allowed in pod template"))
    return errs


def _template_labels(template: Any) -> dict | None:
    return _get(template, "metadata", "labels")


def _restart_policy(template: Any) -> str:
    return _get(template, "spec", "restartPolicy") or "Always"


# ====================================================================== kinds: core/v1

def _validate_pod(obj: Obj) -> list[Cause]:
    return _validate_pod_spec(obj.get("spec"), "spec")


_POD_UPDATABLE = ("`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                  "`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                  "(allow it to be set to 1 if it was previously negative)")


def _validate_pod_update(obj: Obj, old: Obj) -> list[Cause]:
    new_spec = copy_json(_dict(obj.get("spec")))
    old_spec = _dict(old.get("spec"))
    errs: list[Cause] = []
    # munge the updatable fields to the old values, as upstream does before comparing
    for key in ("containers", "initContainers"):
        new_ctrs, old_ctrs = _list(new_spec.get(key)), _list(old_spec.get(key))
        if len(new_ctrs) == len(old_ctrs):
            for new_ctr, old_ctr in zip(new_ctrs, old_ctrs, strict=True):
                if isinstance(new_ctr, dict) and isinstance(old_ctr, dict):
                    new_ctr["image"] = old_ctr.get("image")
    old_deadline = old_spec.get("activeDeadlineSeconds")
    new_deadline = new_spec.get("activeDeadlineSeconds")
    if new_deadline is not None:
        if old_deadline is None or (_is_int(new_deadline) and _is_int(old_deadline) and new_deadline <= old_deadline):
            new_spec["activeDeadlineSeconds"] = old_deadline
        elif _is_int(new_deadline) and _is_int(old_deadline) and new_deadline > old_deadline:
            errs.append(field_invalid("spec.activeDeadlineSeconds", new_deadline,
                                      "must be less than or equal to previous value"))
            new_spec["activeDeadlineSeconds"] = old_deadline
    elif old_deadline is not None:
        errs.append(field_invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"))
        new_spec["activeDeadlineSeconds"] = old_deadline
    old_tols = _list(old_spec.get("tolerations"))
    new_tols = _list(new_spec.get("tolerations"))
    if all(any(_semantic_equal(t, n) for n in new_tols) for t in old_tols):
        new_spec["tolerations"] = old_tols
    else:
        errs.append(field_forbidden("spec.tolerations", "existing toleration can not be modified except its "
                                                        "tolerationSeconds"))
        new_spec["tolerations"] = old_tols
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if _is_int(old_grace) and old_grace < 0 and new_spec.get("terminationGracePeriodSeconds") == 1:
        new_spec["terminationGracePeriodSeconds"] = old_grace
    if not _semantic_equal(new_spec, old_spec):
        errs.append(field_forbidden("spec", f"pod updates may not change fields other than {_POD_UPDATABLE}\n"
                                            + _spec_diff(old_spec, new_spec)))
    return errs


def _spec_diff(old: Any, new: Any, path: str = "") -> str:
    """A short `-`/`+` listing of the changed leaves, standing in for upstream's cmp.Diff output."""
    lines: list[str] = []

    def walk(a: Any, b: Any, p: str) -> None:
        if len(lines) >= 20:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(a.keys() | b.keys()):
                walk(a.get(k), b.get(k), _child(p, k))
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, _index(p, i))
        elif not _semantic_equal(a, b):
            lines.append(f"- {p}: {go_value(a)}\n+ {p}: {go_value(b)}")

    walk(old, new, path)
    return "\n".join(lines)


def _validate_service(obj: Obj) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    errs: list[Cause] = []
    svc_type = spec.get("type", "ClusterIP")
    cluster_ips = _service_ips(spec)
    headless = cluster_ips == ["None"]
    ports = _list(spec.get("ports"))
    if not ports and not headless and svc_type != "ExternalName":
        errs.append(field_required("spec.ports"))
    if svc_type == "ExternalName":
        if spec.get("clusterIPs"):
            errs.append(field_forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        cname = (spec.get("externalName") or "").removesuffix(".")
        if cname:
            errs.extend(_dns_subdomain(cname, "spec.externalName"))
        else:
            errs.append(field_required("spec.externalName"))
    elif cluster_ips and not headless:
        for i, ip in enumerate(cluster_ips):
            if ip == "None":
                errs.append(field_invalid(_index("spec.clusterIPs", i), ip,
                                          "'None' must be the first and only value"))
            else:
                errs.extend(field_invalid(_index("spec.clusterIPs", i), ip, m) for m in _is_valid_ip(ip))
    if spec.get("clusterIP") and spec.get("clusterIPs") and spec["clusterIPs"][0] != spec["clusterIP"]:
        errs.append(field_invalid("spec.clusterIPs", _go_string_slice(spec["clusterIPs"]),
                                  "first value must match `clusterIP`"))
    names: set[str] = set()
    seen: set[tuple[str, Any]] = set()
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        ppath = _index("spec.ports", i)
        pname = port.get("name") or ""
        if len(ports) > 1 and not pname:
            errs.append(field_required(_child(ppath, "name")))
        elif pname:
            errs.extend(_dns_label(pname, _child(ppath, "name")))
            if pname in names:
                errs.append(field_duplicate(_child(ppath, "name"), pname))
            names.add(pname)
        errs.extend(field_invalid(_child(ppath, "port"), port.get("port", 0), m)
                    for m in _is_valid_port_num(port.get("port", 0)))
        protocol = port.get("protocol", "TCP")
        if protocol not in _PROTOCOLS:
            errs.append(field_not_supported(_child(ppath, "protocol"), protocol, _PROTOCOLS))
        target = port.get("targetPort")
        if target is not None and target != 0:
            errs.extend(_port_num_or_name(target, _child(ppath, "targetPort")))
        node_port = port.get("nodePort")
        if node_port:
            if svc_type == "ClusterIP":
                errs.append(field_forbidden(_child(ppath, "nodePort"), "may not be used when `type` is 'ClusterIP'"))
            else:
                errs.extend(field_invalid(_child(ppath, "nodePort"), node_port, m)
                            for m in _is_valid_port_num(node_port))
        key = (protocol, port.get("port"))
        if key in seen:
            errs.append(field_duplicate(ppath, _GoRepr(
                f'core.ServicePort{{Name:"", Protocol:{_go_quote(protocol)}, AppProtocol:(*string)(nil), '
                f'Port:{go_value(port.get("port"))}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, '
                "NodePort:0}")))
        seen.add(key)
    if spec.get("selector") is not None:
        errs.extend(validate_labels(spec["selector"], "spec.selector"))
    affinity = spec.get("sessionAffinity")
    if affinity is not None and affinity not in ("ClientIP", "None"):
        errs.append(field_not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None")))
    if svc_type not in ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"):
        if svc_type == "":
            errs.append(field_required("spec.type"))
        else:
            errs.append(field_not_supported("spec.type", svc_type, ("ClusterIP", "ExternalName", "LoadBalancer",
                                                                    "NodePort")))
    for key in ("externalTrafficPolicy", "internalTrafficPolicy"):
        policy = spec.get(key)
        valid = ("Cluster", "Local")
        if policy is not None and policy not in valid:
            errs.append(field_not_supported(_child("spec", key), policy, valid))
    return errs


def _service_ips(spec: dict) -> list[str]:
    ips = spec.get("clusterIPs")
    if isinstance(ips, list) and ips:
        return [str(ip) for ip in ips]
    if spec.get("clusterIP"):
        return [str(spec["clusterIP"])]
    return []


def _validate_service_update(obj: Obj, old: Obj) -> list[Cause]:
    spec, old_spec = _dict(obj.get("spec")), _dict(old.get("spec"))
    if "ExternalName" in (spec.get("type"), old_spec.get("type")):
        return []
    new_ips, old_ips = _service_ips(spec), _service_ips(old_spec)
    if not new_ips or old_ips == ["None"] and new_ips == ["None"]:
        return []  # unset on update: the strategy carries the allocated addresses over
    if old_ips and new_ips[0] != old_ips[0]:
        return [field_invalid("spec.clusterIPs[0]", _go_string_slice(new_ips), "may not change once set")]
    if len(old_ips) == len(new_ips):
        return [field_invalid(_index("spec.clusterIPs", i), _go_string_slice(new_ips), "may not change once set")
                for i, ip in enumerate(old_ips) if ip != new_ips[i]]
    return []


def _validate_config_data(obj: Obj, sections: tuple[str, ...], limit: int = 1024 * 1024) -> list[Cause]:
    errs: list[Cause] = []
    total = 0
    for section in sections:
        data = obj.get(section)
        if not isinstance(data, dict):
            continue
        for key, value in data.items():
            errs.extend(field_invalid(_key(section, key), key, m) for m in _is_config_key(key))
            if section == "data" and key in _dict(obj.get("binaryData")):
                errs.append(field_invalid(_key("data", key), key, "duplicate of key present in binaryData"))
            if isinstance(value, str):
                total += len(value) if section == "data" and len(sections) > 1 else len(value) * 3 // 4
    if total > limit:
        # ConfigMaps report the whole object (empty path), Secrets their data
        errs.append(field_too_long("" if len(sections) > 1 else sections[0], limit))
    return errs


def _validate_configmap(obj: Obj) -> list[Cause]:
    return _validate_config_data(obj, ("data", "binaryData"))


def _validate_immutable_data(obj: Obj, old: Obj, sections: tuple[str, ...]) -> list[Cause]:
    errs: list[Cause] = []
    if old.get("immutable"):
        if not obj.get("immutable"):
            errs.append(field_forbidden("immutable", "field is immutable when `immutable` is set"))
        for section in sections:
            if (obj.get(section) or {}) != (old.get(section) or {}):
                errs.append(field_forbidden(section, "field is immutable when `immutable` is set"))
    return errs


def _validate_configmap_update(obj: Obj, old: Obj) -> list[Cause]:
    return _validate_immutable_data(obj, old, ("data", "binaryData"))


def _validate_secret(obj: Obj) -> list[Cause]:
    errs = _validate_config_data({"data": obj.get("data")}, ("data",))
    data = _dict(obj.get("data")) | _dict(obj.get("stringData"))
    kind = obj.get("type") or "Opaque"
    if kind == "kubernetes.io/service-account-token":
        if not _get(obj, "metadata", "annotations", "kubernetes.io/service-account.name"):
            errs.append(field_required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif kind in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if kind == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in data:
            errs.append(field_required(_key("data", key)))
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.append(field_required("data[username]"))
            errs.append(field_required("data[password]"))
    elif kind == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errs.append(field_required("data[ssh-privatekey]"))
    elif kind == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                errs.append(field_required(_key("data", key)))
    return errs


def _validate_secret_update(obj: Obj, old: Obj) -> list[Cause]:
    errs = _immutable(obj.get("type") or "Opaque", old.get("type") or "Opaque", "type")
    return errs + _validate_immutable_data(obj, old, ("data",))


def _validate_namespace(obj: Obj) -> list[Cause]:
    errs: list[Cause] = []
    for fin in _list(_get(obj, "spec", "finalizers")):
        if "/" not in str(fin) and fin != "kubernetes":
            errs.append(field_invalid("spec.finalizers", fin,
                                      "name is neither a standard finalizer name nor is it fully qualified"))
        else:
            errs.extend(field_invalid("spec.finalizers", fin, m) for m in is_qualified_name(str(fin)))
    return errs


def _validate_node(obj: Obj) -> list[Cause]:
    errs: list[Cause] = []
    for i, taint in enumerate(_list(_get(obj, "spec", "taints"))):
        taint = _dict(taint)
        tpath = _index("spec.taints", i)
        errs.extend(field_invalid(_child(tpath, "key"), taint.get("key") or "", m)
                    for m in is_qualified_name(taint.get("key") or ""))
        errs.extend(field_invalid(_child(tpath, "value"), taint.get("value"), m)
                    for m in is_valid_label_value(taint.get("value") or ""))
        effect = taint.get("effect") or ""
        if not effect:
            errs.append(field_required(_child(tpath, "effect")))
        elif effect not in _TAINT_EFFECTS:
            errs.append(field_not_supported(_child(tpath, "effect"), effect, _TAINT_EFFECTS))
    return errs


def _validate_endpoints(obj: Obj) -> list[Cause]:
    errs: list[Cause] = []
    for i, subset in enumerate(_list(obj.get("subsets"))):
        spath = _index("subsets", i)
        for key in ("addresses", "notReadyAddresses"):
            for j, addr in enumerate(_list(_dict(subset).get(key))):
                ip = _dict(addr).get("ip") or ""
                errs.extend(field_invalid(_child(_index(_child(spath, key), j), "ip"), ip, m)
                            for m in _is_valid_ip(ip))
        for j, port in enumerate(_list(_dict(subset).get("ports"))):
            port = _dict(port)
            ppath = _index(_child(spath, "ports"), j)
            errs.extend(field_invalid(_child(ppath, "port"), port.get("port", 0), m)
                        for m in _is_valid_port_num(port.get("port", 0)))
            protocol = port.get("protocol", "TCP")
            if protocol not in _PROTOCOLS:
                errs.append(field_not_supported(_child(ppath, "protocol"), protocol, _PROTOCOLS))
    return errs


_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")


def _validate_pvc_spec(spec: Any, path: str) -> list[Cause]:
    spec = _dict(spec)
    errs: list[Cause] = []
    modes = _list(spec.get("accessModes"))
    if not modes:
        errs.append(field_required(_child(path, "accessModes"), "at least 1 access mode is required"))
    for mode in modes:
        if mode not in _ACCESS_MODES:
            errs.append(field_not_supported(_child(path, "accessModes"), mode, _ACCESS_MODES))
    if spec.get("selector") is not None:
        errs.extend(validate_label_selector(spec["selector"], _child(path, "selector")))
    storage = _get(spec, "resources", "requests", "storage")
    spath = _key(_child(path, "resources"), "storage")
    if storage is None and not spec.get("dataSource") and not spec.get("dataSourceRef"):
        errs.append(field_required(spath))
    elif storage is not None:
        value = parse_quantity(storage)
        if value is not None and value <= 0:
            errs.append(field_invalid(spath, str(storage), "must be greater than zero"))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in ("Block", "Filesystem"):
        errs.append(field_not_supported(_child(path, "volumeMode"), mode, ("Block", "Filesystem")))
    return errs


def _validate_pvc(obj: Obj) -> list[Cause]:
    return _validate_pvc_spec(obj.get("spec"), "spec")


def _validate_pvc_update(obj: Obj, old: Obj) -> list[Cause]:
    new_spec = copy_json(_dict(obj.get("spec")))
    old_spec = copy_json(_dict(old.get("spec")))
    errs: list[Cause] = []
    if not old_spec.get("volumeName"):
        old_spec["volumeName"] = new_spec.get("volumeName")
    new_size = parse_quantity(_get(new_spec, "resources", "requests", "storage"))
    old_size = parse_quantity(_get(old_spec, "resources", "requests", "storage"))
    for spec in (new_spec, old_spec):
        _dict(_dict(spec.get("resources")).get("requests")).pop("storage", None)
        spec.pop("volumeAttributesClassName", None)
    if not _semantic_equal(new_spec, old_spec):
        errs.append(field_forbidden("spec", "spec is immutable after creation except resources.requests and "
                                            "volumeAttributesClassName for bound claims"))
    if new_size is not None and old_size is not None and new_size < old_size:
        errs.append(field_forbidden("spec.resources.requests.storage", "field can not be less than previous value"))
    return errs


def _validate_replication_controller(obj: Obj) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    errs = _nonneg(spec.get("replicas"), "spec.replicas")
    errs.extend(_nonneg(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    selector = spec.get("selector")
    template = spec.get("template")
    if not selector:
        errs.append(field_required("spec.selector"))
    else:
        errs.extend(validate_labels(selector, "spec.selector"))
    if template is None:
        errs.append(field_required("spec.template"))
        return errs
    if selector and not _selector_matches({"matchLabels": selector}, _template_labels(template)):
        errs.append(field_invalid("spec.template.metadata.labels", _go_string_map(_template_labels(template)),
                                  "`selector` does not match template `labels`"))
    errs.extend(_validate_pod_template(template, "spec.template"))
    errs.extend(_always_restart(template, "spec.template"))
    if _get(template, "spec", "activeDeadlineSeconds") is not None:
        errs.append(field_forbidden("spec.template.spec.activeDeadlineSeconds",
                                    "activeDeadlineSeconds in ReplicationController is not Supported"))
    return errs


def _always_restart(template: Any, path: str) -> list[Cause]:
    policy = _restart_policy(template)
    if policy != "Always":
        return [field_not_supported(_child(path, "spec", "restartPolicy"), policy, ("Always",))]
    return []


def _validate_pod_template_kind(obj: Obj) -> list[Cause]:
    return _validate_pod_template(obj.get("template"), "template")


def _validate_service_account(obj: Obj) -> list[Cause]:
    errs: list[Cause] = []
    for i, ref in enumerate(_list(obj.get("secrets"))):
        name = _dict(ref).get("name")
        if name:
            errs.extend(_dns_subdomain(name, _child(_index("secrets", i), "name")))
    return errs


# ====================================================================== kinds: apps/v1

def _validate_selector_and_template(spec: dict, kind_word: str, extra_volumes: Iterable[str] = (),
                                    *, required: bool = True) -> list[Cause]:
    errs: list[Cause] = []
    selector = spec.get("selector")
    template = spec.get("template")
    if selector is None:
        if required:
            errs.append(field_required("spec.selector"))
    else:
        errs.extend(validate_label_selector(selector, "spec.selector"))
        if _selector_empty(selector):
            errs.append(field_invalid("spec.selector", _go_label_selector(selector),
                                      f"empty selector is invalid for {kind_word}"))
    if template is None:
        errs.append(field_required("spec.template"))
        return errs
    if (selector is None or not _selector_empty(selector)) and \
            not _selector_matches(selector, _template_labels(template)):
        errs.append(field_invalid("spec.template.metadata.labels", _go_string_map(_template_labels(template)),
                                  "`selector` does not match template `labels`"))
    errs.extend(_validate_pod_template(template, "spec.template", extra_volumes))
    return errs


def _validate_int_or_percent(value: Any, path: str) -> list[Cause]:
    if isinstance(value, str):
        if not _RE_PERCENT.match(value):
            return [field_invalid(path, _go_int_or_string(value),
                                  _regex_error(_PERCENT_MSG, _PERCENT_FMT, "1%", "93%"))]
    elif _is_int(value) and value < 0:
        return [field_invalid(path, value, "must be greater than or equal to 0")]
    return []


def _int_or_percent_value(value: Any) -> int | None:
    if _is_int(value):
        return value
    if isinstance(value, str) and _RE_PERCENT.match(value):
        return int(value[:-1])
    return None


def _not_more_than_100_percent(value: Any, path: str) -> list[Cause]:
    if isinstance(value, str) and _RE_PERCENT.match(value) and int(value[:-1]) > 100:
        return [field_invalid(path, _go_int_or_string(value), "must not be greater than 100%")]
    return []


def _validate_deployment(obj: Obj) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    errs = _nonneg(spec.get("replicas"), "spec.replicas")
    errs.extend(_validate_selector_and_template(spec, "deployment"))
    template = spec.get("template")
    if template is not None:
        errs.extend(_always_restart(template, "spec.template"))
        if _get(template, "spec", "activeDeadlineSeconds") is not None:
            errs.append(field_forbidden("spec.template.spec.activeDeadlineSeconds",
                                        "activeDeadlineSeconds in ReplicaSet is not Supported"))
    strategy = _dict(spec.get("strategy"))
    stype = strategy.get("type", "RollingUpdate")
    rolling = strategy.get("rollingUpdate")
    if stype == "Recreate":
        if rolling is not None:
            errs.append(field_forbidden("spec.strategy.rollingUpdate",
                                        "may not be specified when strategy `type` is 'Recreate'"))
    elif stype == "RollingUpdate":
        rolling = _dict(rolling)
        unavailable = rolling.get("maxUnavailable", "25%")
        surge = rolling.get("maxSurge", "25%")
        errs.extend(_validate_int_or_percent(unavailable, "spec.strategy.rollingUpdate.maxUnavailable"))
        errs.extend(_validate_int_or_percent(surge, "spec.strategy.rollingUpdate.maxSurge"))
        if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
            shown = _go_int_or_string(unavailable) if isinstance(unavailable, str) else unavailable
            errs.append(field_invalid("spec.strategy.rollingUpdate.maxUnavailable", shown,
                                      "may not be 0 when `maxSurge` is 0"))
        errs.extend(_not_more_than_100_percent(unavailable, "spec.strategy.rollingUpdate.maxUnavailable"))
    else:
        errs.append(field_not_supported("spec.strategy", _GoRepr(
            f"apps.DeploymentStrategy{{Type:{_go_quote(str(stype))}, "
            "RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}"), ("Recreate", "RollingUpdate")))
    errs.extend(_nonneg(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    errs.extend(_nonneg(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit"))
    deadline = spec.get("progressDeadlineSeconds")
    if _is_int(deadline):
        errs.extend(_nonneg(deadline, "spec.progressDeadlineSeconds"))
        if deadline <= (spec.get("minReadySeconds") or 0):
            errs.append(field_invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    return errs


def _selector_update(obj: Obj, old: Obj) -> list[Cause]:
    new_sel, old_sel = _get(obj, "spec", "selector"), _get(old, "spec", "selector")
    return _immutable(new_sel, old_sel, "spec.selector", _go_label_selector(new_sel))


def _validate_replica_set(obj: Obj) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    errs = _nonneg(spec.get("replicas"), "spec.replicas")
    errs.extend(_nonneg(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    errs.extend(_validate_selector_and_template(spec, "deployment"))
    template = spec.get("template")
    if template is not None:
        errs.extend(_always_restart(template, "spec.template"))
        if _get(template, "spec", "activeDeadlineSeconds") is not None:
            errs.append(field_forbidden("spec.template.spec.activeDeadlineSeconds",
                                        "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return errs


def _validate_stateful_set(obj: Obj) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    errs: list[Cause] = []
    policy = spec.get("podManagementPolicy", "OrderedReady")
    if policy not in ("OrderedReady", "Parallel"):
        errs.append(field_invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    strategy = _dict(spec.get("updateStrategy"))
    stype = strategy.get("type", "RollingUpdate")
    if stype == "OnDelete":
        if strategy.get("rollingUpdate") is not None:
            errs.append(field_invalid("spec.updateStrategy.rollingUpdate", strategy["rollingUpdate"],
                                      "only allowed for updateStrategy 'RollingUpdate'"))
    elif stype == "RollingUpdate":
        rolling = _dict(strategy.get("rollingUpdate"))
        errs.extend(_nonneg(rolling.get("partition"), "spec.updateStrategy.rollingUpdate.partition"))
        if rolling.get("maxUnavailable") is not None:
            errs.extend(_validate_int_or_percent(rolling["maxUnavailable"],
                                                 "spec.updateStrategy.rollingUpdate.maxUnavailable"))
    else:
        errs.append(field_invalid("spec.updateStrategy", strategy, "must be 'RollingUpdate' or 'OnDelete'"))
    errs.extend(_nonneg(spec.get("replicas"), "spec.replicas"))
    errs.extend(_nonneg(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    errs.extend(_nonneg(_get(spec, "ordinals", "start"), "spec.ordinals.start"))
    claims = [_get(c, "metadata", "name") for c in _list(spec.get("volumeClaimTemplates"))]
    for i, claim in enumerate(_list(spec.get("volumeClaimTemplates"))):
        cpath = _index("spec.volumeClaimTemplates", i)
        name = _get(claim, "metadata", "name")
        if not name:
            errs.append(field_required(_child(cpath, "metadata", "name")))
        errs.extend(_validate_pvc_spec(_dict(claim).get("spec"), _child(cpath, "spec")))
    errs.extend(_validate_selector_and_template(spec, "statefulset", [c for c in claims if c]))
    template = spec.get("template")
    if template is not None:
        errs.extend(_always_restart(template, "spec.template"))
        if _get(template, "spec", "activeDeadlineSeconds") is not None:
            errs.append(field_forbidden("spec.template.spec.activeDeadlineSeconds",
                                        "activeDeadlineSeconds in StatefulSet is not Supported"))
    return errs


_STS_MUTABLE = ("replicas", "template", "updateStrategy", "minReadySeconds", "ordinals", "revisionHistoryLimit",
                "persistentVolumeClaimRetentionPolicy")


def _validate_stateful_set_update(obj: Obj, old: Obj) -> list[Cause]:
    new_spec = {k: v for k, v in _dict(obj.get("spec")).items() if k not in _STS_MUTABLE}
    old_spec = {k: v for k, v in _dict(old.get("spec")).items() if k not in _STS_MUTABLE}
    # claim templates come back from storage with status and defaults; compare what users write
    for spec in (new_spec, old_spec):
        if "volumeClaimTemplates" in spec:
            spec["volumeClaimTemplates"] = [
                {"metadata": {k: v for k, v in _dict(_dict(c).get("metadata")).items()
                              if k in ("name", "labels", "annotations")},
                 "spec": {k: v for k, v in _dict(_dict(c).get("spec")).items() if k != "volumeMode"}}
                for c in _list(spec["volumeClaimTemplates"])]
    if not _semantic_equal(new_spec, old_spec):
        return [field_forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                        "'template', 'updateStrategy', 'revisionHistoryLimit', "
                                        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")]
    return []


def _validate_daemon_set(obj: Obj) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    errs = _validate_selector_and_template(spec, "daemonset")
    template = spec.get("template")
    if template is not None:
        errs.extend(_always_restart(template, "spec.template"))
        deadline = _get(template, "spec", "activeDeadlineSeconds")
        if deadline is not None:
            errs.append(field_invalid("spec.template.spec.activeDeadlineSeconds", deadline,
                                      "activeDeadlineSeconds in DaemonSet is not Supported"))
    errs.extend(_nonneg(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    errs.extend(_nonneg(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit"))
    strategy = _dict(spec.get("updateStrategy"))
    stype = strategy.get("type", "RollingUpdate")
    if stype == "RollingUpdate":
        rolling = _dict(strategy.get("rollingUpdate"))
        unavailable = rolling.get("maxUnavailable", 1)
        surge = rolling.get("maxSurge", 0)
        errs.extend(_validate_int_or_percent(unavailable, "spec.updateStrategy.rollingUpdate.maxUnavailable"))
        errs.extend(_validate_int_or_percent(surge, "spec.updateStrategy.rollingUpdate.maxSurge"))
        if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
            errs.append(field_invalid("spec.updateStrategy.rollingUpdate.maxUnavailable",
                                      _go_int_or_string(unavailable) if isinstance(unavailable, str) else unavailable,
                                      "may not be 0 when `maxSurge` is 0"))
        errs.extend(_not_more_than_100_percent(unavailable, "spec.updateStrategy.rollingUpdate.maxUnavailable"))
    elif stype != "OnDelete":
        errs.append(field_not_supported("spec.updateStrategy", strategy, ("RollingUpdate", "OnDelete")))
    return errs


def _validate_controller_revision(obj: Obj) -> list[Cause]:
    errs: list[Cause] = []
    if obj.get("data") is None:
        errs.append(field_required("data"))
    errs.extend(_nonneg(obj.get("revision"), "revision"))
    return errs


def _validate_controller_revision_update(obj: Obj, old: Obj) -> list[Cause]:
    return _immutable(obj.get("data"), old.get("data"), "data")


# ====================================================================== kinds: batch/v1

def _validate_job_spec(spec: dict, path: str, *, template_selector: bool) -> list[Cause]:
    errs: list[Cause] = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished",
                "backoffLimitPerIndex", "maxFailedIndexes"):
        errs.extend(_nonneg(spec.get(key), _child(path, key)))
    mode = spec.get("completionMode")
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            errs.append(field_not_supported(_child(path, "completionMode"), mode, ("NonIndexed", "Indexed")))
        elif mode == "Indexed" and spec.get("completions") is None:
            errs.append(field_required(_child(path, "completions"), "when completion mode is Indexed"))
    template = spec.get("template")
    tpath = _child(path, "template")
    if template is None:
        errs.append(field_required(tpath))
        return errs
    errs.extend(_validate_pod_template(template, tpath))
    policy = _get(template, "spec", "restartPolicy") or ""
    rpath = _child(tpath, "spec", "restartPolicy")
    if policy in ("", "Always"):
        errs.append(field_required(rpath, 'valid values: "OnFailure", "Never"'))
    elif policy not in ("OnFailure", "Never"):
        errs.append(field_not_supported(rpath, policy, ("OnFailure", "Never")))
    elif spec.get("podFailurePolicy") is not None and policy != "Never":
        errs.append(field_invalid(rpath, policy, 'only "Never" is supported when podFailurePolicy is specified'))
    if template_selector:
        selector = spec.get("selector")
        if selector is not None:
            errs.extend(validate_label_selector(selector, _child(path, "selector")))
            if not _selector_matches(selector, _template_labels(template)):
                errs.append(field_invalid(_child(tpath, "metadata", "labels"),
                                          _go_string_map(_template_labels(template)),
                                          "`selector` does not match template `labels`"))
        else:
            # defaults.job_prepare_for_create generates it unless manualSelector is set
            errs.append(field_required(_child(path, "selector")))
    return errs


def _validate_job(obj: Obj) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    errs = _validate_job_spec(spec, "spec", template_selector=True)
    name = _get(obj, "metadata", "name") or ""
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed" and _is_int(completions) and completions > 0 and name:
        hostname = f"{name}-{completions - 1}"
        if is_dns1123_label(hostname):
            errs.append(field_invalid("metadata.name", name,
                                      f"will not able to create pod with invalid DNS label: {hostname}"))
    return errs


_JOB_SUSPENDED_MUTABLE = ("nodeSelector", "tolerations", "affinity", "schedulingGates")


def _validate_job_update(obj: Obj, old: Obj) -> list[Cause]:
    spec, old_spec = _dict(obj.get("spec")), _dict(old.get("spec"))
    errs: list[Cause] = []
    errs.extend(_immutable(spec.get("completions"), old_spec.get("completions"), "spec.completions"))
    errs.extend(_immutable(spec.get("selector"), old_spec.get("selector"), "spec.selector",
                           _go_label_selector(spec.get("selector"))))
    errs.extend(_immutable(spec.get("completionMode"), old_spec.get("completionMode"), "spec.completionMode"))
    errs.extend(_immutable(spec.get("podFailurePolicy"), old_spec.get("podFailurePolicy"), "spec.podFailurePolicy"))
    template = copy_json(_dict(spec.get("template")))
    old_template = _dict(old_spec.get("template"))
    if old_spec.get("suspend") and not _get(old, "status", "startTime"):
        # a suspended job that never started may change its scheduling directives
        tspec, old_tspec = _dict(template.get("spec")), _dict(old_template.get("spec"))
        for key in _JOB_SUSPENDED_MUTABLE:
            if key in old_tspec:
                tspec[key] = old_tspec[key]
            else:
                tspec.pop(key, None)
        meta, old_meta = _dict(template.get("metadata")), _dict(old_template.get("metadata"))
        for key in ("labels", "annotations"):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
    errs.extend(_immutable(template, old_template, "spec.template", _GoRepr("core.PodTemplateSpec{...}")))
    return errs


_CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELDS = ((0, 59, None), (0, 23, None), (1, 31, None),
                (1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
                (0, 6, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")))


def _cron_error(schedule: str) -> str | None:
    """robfig/cron ParseStandard, in outline: the messages for the common mistakes."""
    text = schedule.strip()
    if text.startswith("@"):
        if text in _CRON_DESCRIPTORS or text.startswith("@every "):
            return None
        return f"unrecognized descriptor: {text}"
    fields = text.split()
    if text.startswith(("TZ=", "CRON_TZ=")):
        fields = fields[1:]
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for value, (low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in value.split(","):
            rng, _, step = part.partition("/")
            if step and not step.isdigit():
                return f"failed to parse int from {step}: strconv.Atoi: parsing {_go_quote(step)}: invalid syntax"
            if rng in ("*", "?"):
                continue
            ends = rng.split("-", 1)
            nums = []
            for end in ends:
                if names and end.lower() in names:
                    nums.append(names.index(end.lower()) + low)
                elif end.isdigit():
                    nums.append(int(end))
                else:
                    return f"failed to parse int from {end}: strconv.Atoi: parsing {_go_quote(end)}: invalid syntax"
            if nums[0] < low:
                return f"beginning of range ({nums[0]}) below minimum ({low}): {part}"
            if nums[-1] > high:
                return f"end of range ({nums[-1]}) above maximum ({high}): {part}"
            if nums[0] > nums[-1]:
                return f"beginning of range ({nums[0]}) beyond end of range ({nums[-1]}): {part}"
    return None


def _validate_cron_job(obj: Obj, old: Obj | None = None) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    errs: list[Cause] = []
    schedule = spec.get("schedule") or ""
    if not schedule:
        errs.append(field_required("spec.schedule"))
    else:
        err = _cron_error(schedule)
        if err:
            errs.append(field_invalid("spec.schedule", schedule, err))
        allow_tz = old is not None and "TZ" in (_get(old, "spec", "schedule") or "")
        if "TZ" in schedule and not allow_tz:
            errs.append(field_invalid("spec.schedule", schedule,
                                      "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    errs.extend(_nonneg(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds"))
    policy = spec.get("concurrencyPolicy", "Allow")
    if policy == "":
        errs.append(field_required("spec.concurrencyPolicy"))
    elif policy not in ("Allow", "Forbid", "Replace"):
        errs.append(field_not_supported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace")))
    job_template = _dict(spec.get("jobTemplate"))
    job_spec = _dict(job_template.get("spec"))
    errs.extend(_validate_job_spec(job_spec, "spec.jobTemplate.spec", template_selector=False))
    if job_spec.get("selector") is not None:
        errs.append(field_invalid("spec.jobTemplate.spec.selector", _go_label_selector(job_spec["selector"]),
                                  "`selector` will be auto-generated"))
    if job_spec.get("manualSelector"):
        errs.append(field_not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false")))
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errs.extend(_nonneg(spec.get(key), _child("spec", key)))
    name = _get(obj, "metadata", "name") or ""
    if old is None and len(name) > 52:
        errs.append(field_invalid("metadata.name", name, "must be no more than 52 characters"))
    return errs


# ====================================================================== kinds: other groups

def _validate_hpa(obj: Obj) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    errs: list[Cause] = []
    minimum = spec.get("minReplicas")
    maximum = spec.get("maxReplicas", 0)
    if _is_int(minimum) and minimum < 1:
        errs.append(field_invalid("spec.minReplicas", minimum, "must be greater than or equal to 1"))
    if _is_int(maximum) and maximum < 1:
        errs.append(field_invalid("spec.maxReplicas", maximum, "must be greater than 0"))
    if _is_int(minimum) and _is_int(maximum) and maximum < minimum:
        errs.append(field_invalid("spec.maxReplicas", maximum, "must be greater than or equal to `minReplicas`"))
    ref = _dict(spec.get("scaleTargetRef"))
    for key in ("kind", "name"):
        value = ref.get(key) or ""
        if not value:
            errs.append(field_required(_child("spec.scaleTargetRef", key)))
        else:
            errs.extend(field_invalid(_child("spec.scaleTargetRef", key), value, m) for m in _is_path_segment_name(value))
    return errs


def _validate_pdb(obj: Obj) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    errs: list[Cause] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errs.append(field_invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
    for key in ("minAvailable", "maxUnavailable"):
        if spec.get(key) is not None:
            errs.extend(_validate_int_or_percent(spec[key], _child("spec", key)))
            errs.extend(_not_more_than_100_percent(spec[key], _child("spec", key)))
    if spec.get("selector") is not None:
        errs.extend(validate_label_selector(spec["selector"], "spec.selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("AlwaysAllow", "IfHealthyBudget"):
        errs.append(field_not_supported("spec.unhealthyPodEvictionPolicy", policy, ("AlwaysAllow", "IfHealthyBudget")))
    return errs


def _validate_policy_rules(obj: Obj, namespaced: bool) -> list[Cause]:
    errs: list[Cause] = []
    for i, rule in enumerate(_list(obj.get("rules"))):
        rule = _dict(rule)
        rpath = _index("rules", i)
        if not rule.get("verbs"):
            errs.append(field_required(_child(rpath, "verbs"), "verbs must contain at least one value"))
        if rule.get("nonResourceURLs"):
            if namespaced:
                errs.append(field_invalid(_child(rpath, "nonResourceURLs"), _go_string_slice(rule["nonResourceURLs"]),
                                          "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                errs.append(field_invalid(_child(rpath, "nonResourceURLs"), _go_string_slice(rule["nonResourceURLs"]),
                                          "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            errs.append(field_required(_child(rpath, "apiGroups"), "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            errs.append(field_required(_child(rpath, "resources"), "resource rules must supply at least one resource"))
    return errs


def _validate_role(obj: Obj) -> list[Cause]:
    return _validate_policy_rules(obj, True)


def _validate_cluster_role(obj: Obj) -> list[Cause]:
    if obj.get("aggregationRule") is not None and not _get(obj, "aggregationRule", "clusterRoleSelectors"):
        return [field_required("aggregationRule.clusterRoleSelectors",
                               "at least one clusterRoleSelector required if aggregationRule is non-nil")]
    return _validate_policy_rules(obj, False)


def _validate_binding(obj: Obj, namespaced: bool) -> list[Cause]:
    errs: list[Cause] = []
    ref = _dict(obj.get("roleRef"))
    if ref.get("apiGroup") != "rbac.authorization.k8s.io":
        errs.append(field_not_supported("roleRef.apiGroup", ref.get("apiGroup") or "", ("rbac.authorization.k8s.io",)))
    valid_kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if ref.get("kind") not in valid_kinds:
        errs.append(field_not_supported("roleRef.kind", ref.get("kind") or "", valid_kinds))
    if not ref.get("name"):
        errs.append(field_required("roleRef.name"))
    else:
        errs.extend(field_invalid("roleRef.name", ref["name"], m) for m in _is_path_segment_name(ref["name"]))
    for i, subject in enumerate(_list(obj.get("subjects"))):
        subject = _dict(subject)
        spath = _index("subjects", i)
        name = subject.get("name") or ""
        if not name:
            errs.append(field_required(_child(spath, "name")))
        kind = subject.get("kind")
        api_group = subject.get("apiGroup") or ""
        if kind == "ServiceAccount":
            if name:
                errs.extend(_dns_subdomain(name, _child(spath, "name")))
            if api_group:
                errs.append(field_not_supported(_child(spath, "apiGroup"), api_group, ("",)))
            if not namespaced and not subject.get("namespace"):
                errs.append(field_required(_child(spath, "namespace")))
        elif kind in ("User", "Group"):
            if api_group != "rbac.authorization.k8s.io":
                errs.append(field_not_supported(_child(spath, "apiGroup"), api_group, ("rbac.authorization.k8s.io",)))
        else:
            errs.append(field_not_supported(_child(spath, "kind"), kind or "", ("ServiceAccount", "User", "Group")))
    return errs


def _validate_binding_update(obj: Obj, old: Obj) -> list[Cause]:
    if not _semantic_equal(obj.get("roleRef"), old.get("roleRef")):
        return [field_invalid("roleRef", obj.get("roleRef"), "cannot change roleRef")]
    return []


def _validate_ingress(obj: Obj) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    errs: list[Cause] = []
    if spec.get("defaultBackend") is not None:
        errs.extend(_validate_ingress_backend(spec["defaultBackend"], "spec.defaultBackend"))
    for i, rule in enumerate(_list(spec.get("rules"))):
        rule = _dict(rule)
        rpath = _index("spec.rules", i)
        host = rule.get("host") or ""
        if host:
            if _is_valid_ip(host) == []:
                errs.append(field_invalid(_child(rpath, "host"), host, "must be a DNS name, not an IP address"))
            check = "x" + host[1:] if host.startswith("*.") else host
            errs.extend(field_invalid(_child(rpath, "host"), host, m) for m in is_dns1123_subdomain(check))
        for j, http_path in enumerate(_list(_get(rule, "http", "paths"))):
            http_path = _dict(http_path)
            ppath = _index(_child(rpath, "http", "paths"), j)
            path_type = http_path.get("pathType")
            if not path_type:
                errs.append(field_required(_child(ppath, "pathType"), "pathType must be specified"))
            elif path_type not in ("Exact", "ImplementationSpecific", "Prefix"):
                errs.append(field_not_supported(_child(ppath, "pathType"), path_type,
                                                ("Exact", "ImplementationSpecific", "Prefix")))
            value = http_path.get("path")
            if value is not None and path_type in ("Exact", "Prefix") and not str(value).startswith("/"):
                errs.append(field_invalid(_child(ppath, "path"), value, "must be an absolute path"))
            errs.extend(_validate_ingress_backend(http_path.get("backend"), _child(ppath, "backend")))
    return errs


def _validate_ingress_backend(backend: Any, path: str) -> list[Cause]:
    backend = _dict(backend)
    errs: list[Cause] = []
    has_resource, has_service = backend.get("resource") is not None, backend.get("service") is not None
    if has_resource and has_service:
        return [field_invalid(path, "", "cannot set both resource and service backends")]
    if has_resource:
        return errs
    if not has_service:
        return [field_invalid(path, "", "resource or service backend is required")]
    service = _dict(backend["service"])
    name = service.get("name") or ""
    if not name:
        errs.append(field_required(_child(path, "service", "name")))
    else:
        errs.extend(field_invalid(_child(path, "service", "name"), name, m) for m in is_dns1035_label(name))
    port = _dict(service.get("port"))
    if port.get("name") and port.get("number"):
        errs.append(field_invalid(path, "", "cannot set both port name & port number"))
    elif port.get("name"):
        errs.extend(field_invalid(_child(path, "service", "port", "name"), port["name"], m)
                    for m in _is_valid_port_name(port["name"]))
    elif port.get("number"):
        errs.extend(field_invalid(_child(path, "service", "port", "number"), port["number"], m)
                    for m in _is_valid_port_num(port["number"]))
    else:
        errs.append(field_required(path, "port name or number is required"))
    return errs


def _validate_storage_class(obj: Obj) -> list[Cause]:
    errs: list[Cause] = []
    if not obj.get("provisioner"):
        errs.append(field_required("provisioner"))
    else:
        errs.extend(field_invalid("provisioner", obj["provisioner"], m) for m in is_qualified_name(obj["provisioner"].lower()))
    policy = obj.get("reclaimPolicy")
    if policy is not None and policy not in ("Delete", "Retain"):
        errs.append(field_not_supported("reclaimPolicy", policy, ("Delete", "Retain")))
    mode = obj.get("volumeBindingMode")
    if mode is not None and mode not in ("Immediate", "WaitForFirstConsumer"):
        errs.append(field_not_supported("volumeBindingMode", mode, ("Immediate", "WaitForFirstConsumer")))
    return errs


def _validate_storage_class_update(obj: Obj, old: Obj) -> list[Cause]:
    errs: list[Cause] = []
    if not _semantic_equal(obj.get("parameters"), old.get("parameters")):
        errs.append(field_forbidden("parameters", "updates to parameters are forbidden."))
    if obj.get("provisioner") != old.get("provisioner"):
        errs.append(field_forbidden("provisioner", "updates to provisioner are forbidden."))
    return errs


def _validate_priority_class(obj: Obj) -> list[Cause]:
    name = _get(obj, "metadata", "name") or ""
    value = obj.get("value")
    errs: list[Cause] = []
    if not name.startswith("system-") and _is_int(value) and value > 1_000_000_000:
        errs.append(field_forbidden("value", "maximum allowed value of a user defined priority is 1000000000"))
    policy = obj.get("preemptionPolicy")
    if policy is not None and policy not in ("Never", "PreemptLowerPriority"):
        errs.append(field_not_supported("preemptionPolicy", policy, ("Never", "PreemptLowerPriority")))
    return errs


def _validate_priority_class_update(obj: Obj, old: Obj) -> list[Cause]:
    if obj.get("value") != old.get("value"):
        return [field_forbidden("value", "may not be changed in an update.")]
    return []


def _validate_lease(obj: Obj) -> list[Cause]:
    spec = _dict(obj.get("spec"))
    errs: list[Cause] = []
    duration = spec.get("leaseDurationSeconds")
    if _is_int(duration) and duration <= 0:
        errs.append(field_invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    errs.extend(_nonneg(spec.get("leaseTransitions"), "spec.leaseTransitions"))
    return errs


def _validate_endpoint_slice(obj: Obj) -> list[Cause]:
    errs: list[Cause] = []
    address_type = obj.get("addressType")
    if not address_type:
        errs.append(field_required("addressType"))
    elif address_type not in ("FQDN", "IPv4", "IPv6"):
        errs.append(field_not_supported("addressType", address_type, ("FQDN", "IPv4", "IPv6")))
    for i, endpoint in enumerate(_list(obj.get("endpoints"))):
        addresses = _list(_dict(endpoint).get("addresses"))
        apath = _child(_index("endpoints", i), "addresses")
        if not addresses:
            errs.append(field_required(apath, "must contain at least 1 address"))
        for j, address in enumerate(addresses):
            if address_type in ("IPv4", "IPv6"):
                errs.extend(field_invalid(_index(apath, j), address, m) for m in _is_valid_ip(str(address)))
    for i, port in enumerate(_list(obj.get("ports"))):
        port = _dict(port)
        ppath = _index("ports", i)
        if port.get("port") is not None:
            errs.extend(field_invalid(_child(ppath, "port"), port["port"], m) for m in _is_valid_port_num(port["port"]))
        protocol = port.get("protocol", "TCP")
        if protocol not in _PROTOCOLS:
            errs.append(field_not_supported(_child(ppath, "protocol"), protocol, _PROTOCOLS))
    return errs


# ====================================================================== dispatch

Validator = Callable[[Obj], list[Cause]]
UpdateValidator = Callable[[Obj, Obj], list[Cause]]

_NAME_FNS: dict[tuple[str, str], NameFn] = {
    ("", "Namespace"): _name_dns_label,
    ("", "Service"): _name_dns1035,
    ("rbac.authorization.k8s.io", "Role"): _name_path_segment,
    ("rbac.authorization.k8s.io", "ClusterRole"): _name_path_segment,
    ("rbac.authorization.k8s.io", "RoleBinding"): _name_path_segment,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _name_path_segment,
    ("certificates.k8s.io", "CertificateSigningRequest"): _name_path_segment,
    ("", "Event"): _name_path_segment,
}

_CREATE: dict[tuple[str, str], Validator] = {
    ("", "Pod"): _validate_pod,
    ("", "Service"): _validate_service,
    ("", "ConfigMap"): _validate_configmap,
    ("", "Secret"): _validate_secret,
    ("", "Namespace"): _validate_namespace,
    ("", "Node"): _validate_node,
    ("", "Endpoints"): _validate_endpoints,
    ("", "PersistentVolumeClaim"): _validate_pvc,
    ("", "ReplicationController"): _validate_replication_controller,
    ("", "PodTemplate"): _validate_pod_template_kind,
    ("", "ServiceAccount"): _validate_service_account,
    ("apps", "Deployment"): _validate_deployment,
    ("apps", "ReplicaSet"): _validate_replica_set,
    ("apps", "StatefulSet"): _validate_stateful_set,
    ("apps", "DaemonSet"): _validate_daemon_set,
    ("apps", "ControllerRevision"): _validate_controller_revision,
    ("batch", "Job"): _validate_job,
    ("batch", "CronJob"): _validate_cron_job,
    ("autoscaling", "HorizontalPodAutoscaler"): _validate_hpa,
    ("policy", "PodDisruptionBudget"): _validate_pdb,
    ("rbac.authorization.k8s.io", "Role"): _validate_role,
    ("rbac.authorization.k8s.io", "ClusterRole"): _validate_cluster_role,
    ("rbac.authorization.k8s.io", "RoleBinding"): lambda o: _validate_binding(o, True),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): lambda o: _validate_binding(o, False),
    ("networking.k8s.io", "Ingress"): _validate_ingress,
    ("storage.k8s.io", "StorageClass"): _validate_storage_class,
    ("scheduling.k8s.io", "PriorityClass"): _validate_priority_class,
    ("coordination.k8s.io", "Lease"): _validate_lease,
    ("discovery.k8s.io", "EndpointSlice"): _validate_endpoint_slice,
}

_UPDATE: dict[tuple[str, str], UpdateValidator] = {
    ("", "Pod"): _validate_pod_update,
    ("", "Service"): _validate_service_update,
    ("", "ConfigMap"): _validate_configmap_update,
    ("", "Secret"): _validate_secret_update,
    ("", "PersistentVolumeClaim"): _validate_pvc_update,
    ("apps", "Deployment"): _selector_update,
    ("apps", "ReplicaSet"): _selector_update,
    ("apps", "DaemonSet"): _selector_update,
    ("apps", "StatefulSet"): _validate_stateful_set_update,
    ("apps", "ControllerRevision"): _validate_controller_revision_update,
    ("batch", "Job"): _validate_job_update,
    ("rbac.authorization.k8s.io", "RoleBinding"): _validate_binding_update,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _validate_binding_update,
    ("storage.k8s.io", "StorageClass"): _validate_storage_class_update,
    ("scheduling.k8s.io", "PriorityClass"): _validate_priority_class_update,
}


def validate(info: ResourceInfo, obj: Obj, old: Obj | None = None, *, decoded: bool = False) -> list[Cause]:
    """Semantic validation of a create (`old` None) or an update, as upstream's `Validate*` functions.

    Expects the object after defaulting, but treats a missing defaultable field (restartPolicy,
    protocol, strategy type, ...) as its default. Custom resources (pruned with `prune` first, as
    upstream does) get ObjectMeta checks plus `validate_custom` against their version's schema;
    CustomResourceDefinitions go to `crd.validate_crd`. Values of the wrong JSON type come back
    as a single FieldValueTypeInvalid cause carrying the `decode_errors` message.
    `decoded=True` says the caller already ran `decode_errors` on `obj` and `old` is stored
    (so well-typed) data: the type walk is skipped (the apiserver's hot path).
    """
    if not isinstance(obj, dict):
        return [field_invalid("", _type_name(obj), "must be an object")]
    # the checks below trust JSON types; the apiserver answers decode errors with 400 before this
    # point, so this only guards direct callers
    decode = None if decoded else (_Decoder().struct(obj.get("metadata"), _OBJECT_META_DEF, "metadata")
                                   if info.custom else decode_errors(info, obj))
    if decode:
        return [Cause("FieldValueTypeInvalid", decode, "")]
    if old is not None and not decoded and (
            not isinstance(old, dict) or not info.custom and decode_errors(info, old)):
        old = None  # a stored object that does not decode cannot anchor update rules
    key = (info.group, info.kind)
    meta = obj.get("metadata")
    if old is not None and _get(old, "metadata", "name"):
        errs = _validate_object_meta_update(meta, old.get("metadata"))
        # the name was validated on create; re-checking it would lock out objects named under older rules
        errs.extend(c for c in validate_object_meta(meta, info.namespaced, _NAME_FNS.get(key, _name_dns_subdomain))
                    if not c.field.startswith(("metadata.name", "metadata.generateName")))
    else:
        errs = validate_object_meta(meta, info.namespaced, _NAME_FNS.get(key, _name_dns_subdomain))
    if info.custom:
        if info.schema:
            errs.extend(validate_custom(obj, SchemaNode.from_crd_schema(info.schema)))
        errs.extend(_validate_scale_paths(info, obj))
        return errs
    if key == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        from podplane.api import crd  # crd builds on the helpers above

        errs.extend(crd.validate_crd(obj, old))
        return _dedupe(errs)
    if key == ("batch", "CronJob"):
        errs.extend(_validate_cron_job(obj, old))
    elif (create := _CREATE.get(key)) is not None:
        errs.extend(create(obj))
    if old is not None:
        update = _UPDATE.get(key)
        if update is not None:
            errs.extend(update(obj, old))
    return _dedupe(errs)


def _validate_scale_paths(info: ResourceInfo, obj: Obj) -> list[Cause]:
    """A custom resource with a scale subresource must keep its replica count a non-negative int32."""
    paths = info.scale_paths or {}
    spec_path = paths.get("specReplicasPath") or ""
    if not spec_path.startswith(".spec."):
        return []
    value: Any = obj
    for part in spec_path[1:].split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return []
    field_path = spec_path[1:]
    if not _is_int(value):
        return [field_invalid(field_path, value, "should be an integer")]
    if value < 0:
        return [field_invalid(field_path, value, "should be a non-negative integer")]
    if value > 2**31 - 1:
        return [field_invalid(field_path, value, "should be less than or equal to 2147483647")]
    return []


def _dedupe(errs: list[Cause]) -> list[Cause]:
    """Upstream's ToAggregate drops repeated messages for the same field."""
    seen: set[tuple[str, str]] = set()
    out = []
    for err in errs:
        key = (err.field, err.message)
        if key not in seen:
            seen.add(key)
            out.append(err)
    return out
