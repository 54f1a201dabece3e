"""Kubernetes JSONPath: the client-go `util/jsonpath` dialect, over plain JSON values.

Role: evaluate the JSONPath expressions CustomResourceDefinitions put in
`additionalPrinterColumns[].jsonPath`, with the same answers the upstream apiserver
gives (its CRD table convertor parses `{<jsonPath>}` with client-go's parser and
evaluates it with missing keys allowed). Also usable for any `{...}` template.

Flow: `JSONPath(template)` parses once (text outside braces, `.field`, `['key']`,
`[0]`, `[-1]`, `[1:3]`, `[::2]`, `[*]`, `.*`, `..name`, unions `[0,2]`, filters
`[?(@.type=="Ready")]` with == != < > <= >= or a bare existence test); `find_results`
returns one result list per top-level node, like Go's `FindResults`; `print_results`
renders values as Go does (maps and lists as compact JSON, scalars with `fmt.Print`).

Upstream quirks kept on purpose: a dotted key inside brackets is still a path
(`['a.b']` is `.a.b`; escape the dot, `['a\\.b']`, for a key containing one); filter
literals that are integers compare as floats, so they never equal the integer values
of the decoded object; `range`/`end` are not supported. Neighbours: `api.printers`
uses this for custom-resource cells; it has no other dependencies.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["JSONPath", "JSONPathError", "format_go_float", "format_value", "go_json"]


class JSONPathError(ValueError):
    """A template that does not parse, or an evaluation error (bad index, bad filter)."""


# --------------------------------------------------------------------------- nodes


@dataclass
class _List:
    nodes: list = field(default_factory=list)


@dataclass
class _Text:
    text: str


@dataclass
class _Field:
    name: str


@dataclass
class _Param:
    value: int = 0
    known: bool = False
    derived: bool = False


@dataclass
class _Array:
    params: tuple[_Param, _Param, _Param]


@dataclass
class _Filter:
    left: _List
    right: _List
    op: str


@dataclass
class _Int:
    value: int


@dataclass
class _Float:
    value: float


@dataclass
class _Bool:
    value: bool


class _Wildcard:
    pass


class _Recursive:
    pass


@dataclass
class _Union:
    nodes: list[_List]


@dataclass
class _Identifier:
    name: str


# -------------------------------------------------------------------------- parser

_DICT_KEY = re.compile(r"^'([^']*)'$")
_SLICE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_FILTER = re.compile(r"^([^!<>=]+)([!<>=]+)(.+?)$")
_TERMINATORS = frozenset(" \t\r\n.,[]$@{}")


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdigit()


class _Parser:
    """A transcription of client-go's jsonpath parser (recursion turned into loops)."""

    def __init__(self, text: str) -> None:
        self.input = text
        self.pos = 0
        self.start = 0
        self.root = _List()

    def parse(self) -> _List:
        text = self.input
        while True:
            idx = text.find("{", self.pos)
            if idx < 0:
                self.pos = len(text)
                if self.pos > self.start:
                    self.root.nodes.append(_Text(self._consume()))
                return self.root
            self.pos = idx
            if self.pos > self.start:
                self.root.nodes.append(_Text(self._consume()))
            self.pos += 1
            self._consume()
            node = _List()
            self.root.nodes.append(node)
            self._inside(node)

    def _consume(self) -> str:
        value = self.input[self.start : self.pos]
        self.start = self.pos
        return value

    def _next(self) -> str:
        if self.pos >= len(self.input):
            return ""
        ch = self.input[self.pos]
        self.pos += 1
        return ch

    def _peek(self) -> str:
        return self.input[self.pos] if self.pos < len(self.input) else ""

    def _inside(self, cur: _List) -> None:
        while True:
            rest = self.input[self.pos :]
            if rest.startswith("}"):
                self.pos += 1
                self._consume()
                return
            if rest.startswith("[?("):
                self._filter(cur)
                continue
            if rest.startswith(".."):
                if cur.nodes and isinstance(cur.nodes[-1], _Recursive):
                    raise JSONPathError("invalid multiple recursive descent")
                self.pos += 2
                self._consume()
                cur.nodes.append(_Recursive())
                if _is_alnum(self._peek() or " "):
                    self._field(cur)
                continue
            ch = self._next()
            if ch == "" or ch in "\r\n":
                raise JSONPathError("unclosed action")
            if ch == " " or ch in "@$":
                self._consume()
            elif ch == "[":
                self._array(cur)
            elif ch in "\"'":
                self._quote(cur, ch)
            elif ch == ".":
                self._field(cur)
            elif ch in "+-" or ch.isdigit():
                self.pos -= 1
                self._number(cur)
            elif _is_alnum(ch):
                self.pos -= 1
                self._identifier(cur)
            else:
                raise JSONPathError(f"unrecognized character in action: {ch!r}")

    def _identifier(self, cur: _List) -> None:
        while True:
            ch = self._next()
            if ch == "" or ch in _TERMINATORS:
                if ch:
                    self.pos -= 1
                break
        value = self._consume()
        if value in ("true", "false"):
            cur.nodes.append(_Bool(value == "true"))
        else:
            cur.nodes.append(_Identifier(value))

    def _number(self, cur: _List) -> None:
        if self._peek() in ("+", "-"):
            self._next()
        while True:
            ch = self._next()
            if ch == "":
                break
            if ch != "." and not ch.isdigit():
                self.pos -= 1
                break
        value = self._consume()
        if re.fullmatch(r"[+-]?\d+", value):
            cur.nodes.append(_Int(int(value)))
            return
        try:
            cur.nodes.append(_Float(float(value)))
        except ValueError:
            raise JSONPathError(f"cannot parse number {value}") from None

    def _array(self, cur: _List) -> None:
        while True:
            ch = self._next()
            if ch == "" or ch == "\n":
                raise JSONPathError("unterminated array")
            if ch == "]":
                break
        text = self._consume()[1:-1]
        if text == "*":
            text = ":"
        parts = text.split(",")
        if len(parts) > 1:
            cur.nodes.append(_Union([_parse_action(f"[{p.strip(' ')}]") for p in parts]))
            return
        key = _DICT_KEY.match(text)
        if key:
            cur.nodes.extend(_parse_action(f".{key.group(1)}").nodes)
            return
        m = _SLICE.match(text)
        if not m:
            raise JSONPathError(f"invalid array index {text}")
        params = (_Param(), _Param(), _Param())
        for i, raw in enumerate(m.groups()):
            raw = raw or ""
            if raw:
                if i > 0:
                    raw = raw[1:]
                if i > 0 and raw == "":
                    params[i].known = False
                else:
                    params[i].known = True
                    params[i].value = int(raw)
            elif i == 1:
                params[1].known = True
                params[1].value = params[0].value + 1
                params[1].derived = True
        cur.nodes.append(_Array(params))

    def _filter(self, cur: _List) -> None:
        self.pos += 3
        self._consume()
        begin = end = False
        pair = ""
        while True:
            ch = self._next()
            if ch == "" or ch == "\n":
                raise JSONPathError("unterminated filter")
            if ch in "\"'":
                if not begin:
                    begin, pair = True, ch
                    continue
                if self.input[self.pos - 2] != "\\" and ch == pair:
                    end = True
            elif ch == ")" and begin == end:
                break
        if self._next() != "]":
            raise JSONPathError("unclosed array expect ]")
        text = self._consume()[:-2]
        m = _FILTER.match(text)
        if m is None:
            cur.nodes.append(_Filter(_parse_action(text), _List(), "exists"))
        else:
            cur.nodes.append(_Filter(_parse_action(m.group(1)), _parse_action(m.group(3)), m.group(2)))

    def _quote(self, cur: _List, quote: str) -> None:
        while True:
            ch = self._next()
            if ch == "" or ch == "\n":
                raise JSONPathError("unterminated quoted string")
            if ch == quote and self.input[self.pos - 2] != "\\":
                break
        value = self._consume()
        cur.nodes.append(_Text(_unquote(value)))

    def _field(self, cur: _List) -> None:
        self._consume()
        while True:
            ch = self._next()
            if ch == "\\":
                self._next()
            elif ch == "" or ch in _TERMINATORS:
                if ch:
                    self.pos -= 1
                break
        value = self._consume()
        if value == "*":
            cur.nodes.append(_Wildcard())
        else:
            cur.nodes.append(_Field(value.replace("\\", "")))


def _parse_action(text: str) -> _List:
    root = _Parser("{" + text + "}").parse()
    return root.nodes[0]


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "\\": "\\", "'": "'", '"': '"'}


def _unquote(s: str) -> str:
    """Go's strconv.Unquote, extended (as upstream) to single-quoted strings."""
    if len(s) < 2 or s[0] != s[-1] or s[0] not in "\"'":
        raise JSONPathError(f"unquote string {s} error invalid syntax")
    body, quote = s[1:-1], s[0]
    if "\\" not in body and quote not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == quote:
            raise JSONPathError(f"unquote string {s} error invalid syntax")
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        esc = body[i + 1 : i + 2]
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
            i += 2
        elif esc in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise JSONPathError(f"unquote string {s} error invalid syntax")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif esc and esc in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits):
                raise JSONPathError(f"unquote string {s} error invalid syntax")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise JSONPathError(f"unquote string {s} error invalid syntax")
    return "".join(out)


# ----------------------------------------------------------------------- evaluator


def _iterable(value: Any) -> list | None:
    """client-go's iterHelper: lists in order, maps by sorted key; anything else is not iterable."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    return None


def _basic_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    raise _IncomparableError("invalid type for comparison")


class _IncomparableError(Exception):
    pass


def _equal(left: Any, right: Any) -> bool:
    if _basic_kind(left) != _basic_kind(right):
        raise _IncomparableError("incompatible types for comparison")
    return left == right


def _less(left: Any, right: Any) -> bool:
    kind = _basic_kind(left)
    if kind != _basic_kind(right):
        raise _IncomparableError("incompatible types for comparison")
    if kind == "bool":
        raise _IncomparableError("invalid type for comparison")
    return left < right


class _Literal(float):
    """An integer filter literal: upstream turns Go `int` operands into float64."""


def _compare(op: str, left: Any, right: Any) -> bool:
    try:
        if op == "==":
            return _equal(left, right)
        if op == "!=":
            return not _equal(left, right)
        if op == "<":
            return _less(left, right)
        if op == ">":
            return not (_less(left, right) or _equal(left, right))
        if op == "<=":
            return _less(left, right) or _equal(left, right)
        if op == ">=":
            return not _less(left, right)
    except _IncomparableError:
        return False
    raise JSONPathError(f"unrecognized filter operator {op}")


class JSONPath:
    """A parsed template; `find_results` and `print_results` behave like client-go's."""

    def __init__(self, template: str, *, allow_missing_keys: bool = False) -> None:
        self.template = template
        self.allow_missing_keys = allow_missing_keys
        self._root = _Parser(template).parse()

    def find_results(self, data: Any) -> list[list[Any]]:
        """One list of matched values per top-level node (text nodes yield their text)."""
        return [self._walk([data], node) for node in self._root.nodes]

    def print_results(self, values: list[Any]) -> str:
        """Space-separated Go renderings of `values`, as `PrintResults` writes them."""
        return " ".join(format_value(v) for v in values)

    def execute(self, data: Any) -> str:
        return "".join(self.print_results(r) for r in self.find_results(data))

    # -- node evaluation

    def _walk(self, values: list, node: Any) -> list:
        if isinstance(node, _List):
            for child in node.nodes:
                values = self._walk(values, child)
            return values
        if isinstance(node, _Text):
            return [node.text]
        if isinstance(node, _Field):
            return self._field(values, node.name)
        if isinstance(node, _Array):
            return self._array(values, node.params)
        if isinstance(node, _Filter):
            return self._filter(values, node)
        if isinstance(node, _Int):
            return [_Literal(node.value) for _ in values]
        if isinstance(node, (_Float, _Bool)):
            return [node.value for _ in values]
        if isinstance(node, _Wildcard):
            out: list = []
            for value in values:
                out.extend(_iterable(value) or [])
            return out
        if isinstance(node, _Recursive):
            return self._recursive(values)
        if isinstance(node, _Union):
            out = []
            for child in node.nodes:
                out.extend(self._walk(values, child))
            return out
        if isinstance(node, _Identifier):
            if node.name in ("range", "end"):
                raise JSONPathError(f"{node.name} is not supported")
            raise JSONPathError(f"unrecognized identifier {node.name}")
        raise JSONPathError(f"unexpected node {node!r}")

    def _field(self, values: list, name: str) -> list:
        if not values:
            return []
        if name == "":
            return [v for v in values if v is not None]
        out = [v[name] for v in values if isinstance(v, dict) and name in v]
        if not out and not self.allow_missing_keys:
            raise JSONPathError(f"{name} is not found")
        return out

    def _array(self, values: list, params: tuple[_Param, _Param, _Param]) -> list:
        out: list = []
        for value in values:
            if value is None:
                continue
            if not isinstance(value, list):
                raise JSONPathError(f"{_go_type(value)} is not array or slice")
            length = len(value)
            start = params[0].value if params[0].known else 0
            if start < 0:
                start += length
            stop = params[1].value if params[1].known else length
            if stop < 0 or (stop == 0 and params[1].derived):
                stop += length
            if stop == start:
                return out
            if start >= length or start < 0:
                raise JSONPathError(f"array index out of bounds: index {start}, length {length}")
            if stop > length or stop < 0:
                raise JSONPathError(f"array index out of bounds: index {stop - 1}, length {length}")
            if start > stop:
                raise JSONPathError(f"starting index {start} is greater than ending index {stop}")
            step = 1
            if params[2].known:
                if params[2].value <= 0:
                    raise JSONPathError("step must be > 0")
                step = params[2].value
            out.extend(value[start:stop:step])
        return out

    def _filter(self, values: list, node: _Filter) -> list:
        out: list = []
        for value in values:
            items = _iterable(value)
            if items is None:
                items = [value]
            for item in items:
                try:
                    lefts = self._walk([item], node.left)
                except JSONPathError:
                    if not self.allow_missing_keys:
                        raise
                    lefts = []
                rights = self._walk([item], node.right)
                if not lefts:
                    continue
                if len(lefts) > 1:
                    raise JSONPathError("can only compare one element at a time")
                if node.op == "exists":
                    out.append(item)
                    continue
                if not rights:
                    continue
                if len(rights) > 1:
                    raise JSONPathError("can only compare one element at a time")
                if _compare(node.op, lefts[0], rights[0]):
                    out.append(item)
        return out

    def _recursive(self, values: list) -> list:
        out: list = []
        for value in values:
            children = _iterable(value)
            if children:
                out.append(value)
                out.extend(self._recursive(children))
        return out


def _go_type(value: Any) -> str:
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "interface {}"


# ----------------------------------------------------------------------- rendering


def _digits(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of `value` (> 0) and its decimal-point position."""
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    return text, len(text) + int(exponent)


def format_go_float(value: float) -> str:
    """Go's `fmt.Print` of a float64: shortest `%g`, exponent form below 1e-4 and from 1e6
    up (1.5, 123456, 1e+06, 1e-05)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    neg = "-" if value < 0 else ""
    digits, point = _digits(abs(value))
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{neg}{digits}{'0' * (point - len(digits))}"
    return f"{neg}{digits[:point]}.{digits[point:]}"


def _go_json_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise JSONPathError(f"json: unsupported value: {format_go_float(value)}")
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    neg = "-" if value < 0 else ""
    digits, point = _digits(abs(value))
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        exp = point - 1
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        sign = "-" if exp < 0 else "+"
        width = 1 if exp < 0 and abs(exp) < 10 else 2
        return f"{neg}{mantissa}e{sign}{abs(exp):0{width}d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{neg}{digits}{'0' * (point - len(digits))}"
    return f"{neg}{digits[:point]}.{digits[point:]}"


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                 "<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                 "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _go_json_string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in _JSON_ESCAPES:
            out.append(_JSON_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_json(value: Any) -> str:
    """Go's `json.Marshal` of a decoded JSON value: sorted keys, no spaces, HTML-safe."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_json_float(value)
    if isinstance(value, str):
        return _go_json_string(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_go_json_string(str(k))}:{go_json(value[k])}"
                              for k in sorted(value, key=str)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    return _go_json_string(str(value))


def format_value(value: Any) -> str:
    """One value as upstream prints a match: JSON for maps and lists, Go text otherwise."""
    if isinstance(value, (dict, list)):
        return go_json(value)
    if value is None:
        return "<no value>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return format_go_float(value)
    return str(value)
