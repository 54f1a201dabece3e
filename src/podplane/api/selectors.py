"""Label and field selectors with upstream's grammar, matching and error wording.

Label selectors port k8s.io/apimachinery/pkg/labels/selector.go: the same lexer
and recursive-descent parser (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`,
`>`, `<`), the same label key/value validation, requirements sorted by key and
rendered canonically, and parse errors worded byte-for-byte like the Go ones
(`unable to parse requirement: ...`, `found '...', expected: ...`).
`selector_from_dict` is metav1.LabelSelectorAsSelector (nil matches nothing,
`{}` matches everything); `selector_to_string` gives Scale's `status.selector`.

Field selectors port fields/selector.go (`=`, `==`, `!=`, backslash escapes).
Which fields a kind exposes comes from two upstream layers kept apart here: the
conversion funcs that accept or reject a label (`validate_field_selector`, 400
with the per-kind message) and the strategies' ToSelectableFields that project an
object for matching (`field_set`). The apiserver's list/watch/deletecollection
handlers use both; controllers and clients use the label side.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podplane.api.errors import bad_request
from podplane.api.registry import ResourceInfo
from podplane.api.validation import label_key_errors, label_value_errors

__all__ = [
    "EVERYTHING",
    "NOTHING",
    "FieldRequirement",
    "FieldSelector",
    "LabelSelector",
    "Requirement",
    "escape_field_value",
    "field_set",
    "label_key_errors",
    "label_value_errors",
    "parse_field_selector",
    "parse_label_selector",
    "selector_from_dict",
    "selector_from_set",
    "selector_to_string",
    "validate_field_selector",
]

# selection.Operator values, as upstream spells them.
IN = "in"
NOT_IN = "notin"
EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
EXISTS = "exists"
DOES_NOT_EXIST = "!"
GREATER_THAN = "gt"
LESS_THAN = "lt"

_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_UNARY_OPERATORS = (EXISTS, DOES_NOT_EXIST)
_VALID_OPERATORS = _BINARY_OPERATORS + _UNARY_OPERATORS


# ------------------------------------------------------------------ Go formatting


def _go_quote(s: str) -> str:
    """strconv.Quote / fmt %q for a string."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\v":
            out.append("\\v")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _go_value(value: Any) -> str:
    """field.Error's rendering of a bad value (strings %q, string slices %#v)."""
    if isinstance(value, str):
        return _go_quote(value)
    if isinstance(value, list | tuple):
        # Callers pass nil slices when empty (append([]string(nil), values...)).
        if not value:
            return "[]string(nil)"
        return "[]string{" + ", ".join(_go_quote(v) for v in value) + "}"
    return str(value)


def _field_invalid(path: str, value: Any, detail: str) -> str:
    """field.Invalid(path, value, detail).Error()."""
    msg = f"{path}: Invalid value: {_go_value(value)}"
    return f"{msg}: {detail}" if detail else msg


def _aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message bare, several bracketed, deduplicated."""
    seen: list[str] = []
    for m in messages:
        if m not in seen:
            seen.append(m)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


# ------------------------------------------------------------- label validation
# label_key_errors / label_value_errors (content.IsLabelKey / IsLabelValue) live in
# podplane.api.validation and are re-exported here.


_INT64_RE = re.compile(r"[+-]?[0-9]+")


def _parse_int64(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64), None on failure."""
    if not _INT64_RE.fullmatch(text):
        return None
    value = int(text)
    if not -(2**63) <= value < 2**63:
        return None
    return value


class _SelectorError(Exception):
    """A parse/validation failure carrying upstream's error text."""


def _key_path(path: str | None, child: str) -> str:
    return child if path is None else f"{path}.{child}"


def _new_requirement(key: str, op: str, values: Sequence[str], path: str | None = None) -> Requirement:
    """labels.NewRequirement: validate and build, raising _SelectorError with the aggregate text."""
    errs: list[str] = []
    key_errs = label_key_errors(key)
    if key_errs:
        errs.append(_field_invalid(_key_path(path, "key"), key, "; ".join(key_errs)))
    values_path = _key_path(path, "values")
    vals = list(values)
    if op in (IN, NOT_IN):
        if not vals:
            errs.append(_field_invalid(values_path, vals, "for 'in', 'notin' operators, values set can't be empty"))
    elif op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(vals) != 1:
            errs.append(_field_invalid(values_path, vals, "exact-match compatibility requires one single value"))
    elif op in (EXISTS, DOES_NOT_EXIST):
        if vals:
            errs.append(_field_invalid(values_path, vals,
                                       "values set must be empty for exists and does not exist"))
    elif op in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            errs.append(_field_invalid(values_path, vals,
                                       "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, v in enumerate(vals):
            if _parse_int64(v) is None:
                errs.append(_field_invalid(f"{values_path}[{i}]", v,
                                           "for 'Gt', 'Lt' operators, the value must be an integer"))
    else:
        supported = ", ".join(_go_quote(o) for o in _VALID_OPERATORS)
        errs.append(f"{_key_path(path, 'operator')}: Unsupported value: {_go_quote(op)}: "
                    f"supported values: {supported}")
    for i, v in enumerate(vals):
        value_errs = label_value_errors(v)
        if value_errs:
            errs.append(_field_invalid(f"{values_path}[{i}][{key}]", v, "; ".join(value_errs)))
    if errs:
        raise _SelectorError(_aggregate(errs))
    return Requirement(key, op, tuple(vals))


# ------------------------------------------------------------------ requirements


@dataclass(frozen=True)
class Requirement:
    """One label requirement: `key`, an operator (selection.Operator spelling) and values."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GREATER_THAN, LESS_THAN):
            if self.key not in labels or len(self.values) != 1:
                return False
            have = _parse_int64(labels[self.key])
            want = _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        prefix = "!" if op == DOES_NOT_EXIST else ""
        if op in (EXISTS, DOES_NOT_EXIST):
            return prefix + self.key
        symbol = {EQUALS: "=", DOUBLE_EQUALS: "==", NOT_EQUALS: "!=", IN: " in ", NOT_IN: " notin ",
                  GREATER_THAN: ">", LESS_THAN: "<"}.get(op, "")
        values = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            return f"{self.key}{symbol}({values})"
        return f"{self.key}{symbol}{values}"


@dataclass(frozen=True)
class LabelSelector:
    """An AND of requirements, sorted by key. `nothing=True` is labels.Nothing()."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (labels.Everything())."""
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The single value `key` must have (`=`, `==`, or a one-value `in`), else None."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def add(self, *requirements: Requirement) -> LabelSelector:
        """A copy with more requirements, re-sorted by key (Selector.Add)."""
        if self.nothing:
            return self
        return LabelSelector(tuple(sorted(self.requirements + requirements, key=lambda r: r.key)))

    def __str__(self) -> str:
        if self.nothing:
            return ""
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)


# ------------------------------------------------------------------ label parser

# Token kinds.
_ERROR, _EOS, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _ID, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(14)
_STRING_TO_TOKEN = {
    ")": _CLOSE, ",": _COMMA, "!": _NOT, "==": _DEQ, "=": _EQ, ">": _GT, "in": _IN, "<": _LT,
    "!=": _NEQ, "notin": _NOTIN, "(": _OPEN,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")


def _lex(text: str) -> list[tuple[int, str]]:
    """labels.Lexer run to end of string."""
    items: list[tuple[int, str]] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            items.append((_EOS, ""))
            return items
        ch = text[pos]
        if ch in _SPECIAL:
            buffer = ""
            last: tuple[int, str] | None = None
            while pos < n and text[pos] in _SPECIAL:
                buffer += text[pos]
                tok = _STRING_TO_TOKEN.get(buffer)
                if tok is not None:
                    last = (tok, buffer)
                    pos += 1
                elif last is not None:
                    break
                else:
                    pos += 1
            items.append(last if last is not None else (_ERROR, f"error expected: keyword found '{buffer}'"))
        else:
            start = pos
            while pos < n and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
                pos += 1
            word = text[start:pos]
            items.append((_STRING_TO_TOKEN.get(word, _ID), word))


class _LabelParser:
    """labels.Parser: recursive descent over the scanned tokens."""

    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def lookahead(self, values: bool) -> tuple[int, str]:
        tok, lit = self.items[self.pos]
        if values and tok in (_IN, _NOTIN):
            tok = _ID
        return tok, lit

    def consume(self, values: bool) -> tuple[int, str]:
        tok, lit = self.lookahead(values)
        self.pos += 1
        return tok, lit

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self.lookahead(True)
            if tok in (_ID, _NOT):
                try:
                    requirements.append(self.parse_requirement())
                except _SelectorError as e:
                    raise _SelectorError(f"unable to parse requirement: {e}") from None
                t, lit2 = self.consume(True)
                if t == _EOS:
                    return requirements
                if t == _COMMA:
                    t2, lit3 = self.lookahead(True)
                    if t2 not in (_ID, _NOT):
                        raise _SelectorError(f"found '{lit3}', expected: identifier after ','")
                else:
                    raise _SelectorError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok == _EOS:
                return requirements
            else:
                raise _SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def parse_requirement(self) -> Requirement:
        key, operator = self.parse_key_and_infer_operator()
        if operator in (EXISTS, DOES_NOT_EXIST):
            return _new_requirement(key, operator, [])
        operator = self.parse_operator()
        if operator in (IN, NOT_IN):
            values = self.parse_values()
        else:
            values = self.parse_exact_value()
        return _new_requirement(key, operator, sorted(values))

    def parse_key_and_infer_operator(self) -> tuple[str, str]:
        operator = ""
        tok, lit = self.consume(True)
        if tok == _NOT:
            operator = DOES_NOT_EXIST
            tok, lit = self.consume(True)
        if tok != _ID:
            raise _SelectorError(f"found '{lit}', expected: identifier")
        key_errs = label_key_errors(lit)
        if key_errs:
            raise _SelectorError(_field_invalid("<nil>", lit, "; ".join(key_errs)))
        t, _ = self.lookahead(True)
        if t in (_EOS, _COMMA) and operator != DOES_NOT_EXIST:
            operator = EXISTS
        return lit, operator

    def parse_operator(self) -> str:
        tok, lit = self.consume(False)
        op = {_IN: IN, _EQ: EQUALS, _DEQ: DOUBLE_EQUALS, _GT: GREATER_THAN, _LT: LESS_THAN,
              _NOTIN: NOT_IN, _NEQ: NOT_EQUALS}.get(tok)
        if op is None:
            raise _SelectorError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return op

    def parse_values(self) -> set[str]:
        tok, lit = self.consume(True)
        if tok != _OPEN:
            raise _SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead(True)
        if tok in (_ID, _COMMA):
            values = self.parse_identifiers_list()
            tok2, _ = self.consume(True)
            if tok2 != _CLOSE:
                raise _SelectorError(f"found '{lit}', expected: ')'")
            return values
        if tok == _CLOSE:
            self.consume(True)
            return {""}
        raise _SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def parse_identifiers_list(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self.consume(True)
            if tok == _ID:
                values.add(lit)
                tok2, lit2 = self.lookahead(True)
                if tok2 == _COMMA:
                    continue
                if tok2 == _CLOSE:
                    return values
                raise _SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _COMMA:
                if not values:
                    values.add("")
                tok2, _ = self.lookahead(True)
                if tok2 == _CLOSE:
                    values.add("")
                    return values
                if tok2 == _COMMA:
                    values.add("")
            else:
                raise _SelectorError(f"found '{lit}', expected: ',', or identifier")

    def parse_exact_value(self) -> set[str]:
        tok, _ = self.lookahead(True)
        if tok in (_EOS, _COMMA):
            return {""}
        tok, lit = self.consume(True)
        if tok == _ID:
            return {lit}
        raise _SelectorError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """labels.Parse. An empty string selects everything. Invalid → ApiError 400 BadRequest."""
    try:
        requirements = _LabelParser(text or "").parse()
    except _SelectorError as e:
        raise bad_request(str(e)) from None
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


def selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """labels.SelectorFromSet: `k=v` for every entry (no validation); empty → everything."""
    if not labels:
        return EVERYTHING
    return LabelSelector(tuple(Requirement(k, EQUALS, (v,)) for k, v in sorted(labels.items())))


_EXPRESSION_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def selector_from_dict(sel: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: None → nothing, `{}` → everything.

    Invalid keys, values or operators raise ApiError 400 with upstream's message.
    """
    if sel is None:
        return NOTHING
    if not isinstance(sel, Mapping):
        raise bad_request(f"invalid label selector: expected an object, got {type(sel).__name__}")
    match_labels = sel.get("matchLabels") or {}
    expressions = sel.get("matchExpressions") or []
    if not match_labels and not expressions:
        return EVERYTHING
    requirements: list[Requirement] = []
    try:
        for key, value in match_labels.items():
            requirements.append(_new_requirement(str(key), EQUALS, [_s(value)]))
        for expr in expressions:
            op_name = expr.get("operator", "")
            op = _EXPRESSION_OPERATORS.get(op_name)
            if op is None:
                raise _SelectorError(f"{_go_quote(str(op_name))} is not a valid label selector operator")
            values = [_s(v) for v in expr.get("values") or []]
            requirements.append(_new_requirement(str(expr.get("key", "")), op, values))
    except _SelectorError as e:
        raise bad_request(str(e)) from None
    return EVERYTHING.add(*requirements)


def selector_to_string(sel: Mapping[str, Any] | None) -> str:
    """The canonical string of a metav1.LabelSelector, as Scale `status.selector` carries it."""
    return str(selector_from_dict(sel))


# ---------------------------------------------------------------- field selectors


@dataclass(frozen=True)
class FieldRequirement:
    """One field term: `field`, operator `=` (also for `==`) or `!=`, and the unescaped value."""

    field: str
    operator: str
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        have = fields.get(self.field, "")
        return have == self.value if self.operator == EQUALS else have != self.value

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_field_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """An AND of field terms, in upstream's (sorted source text) order."""

    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def requires_exact_match(self, field: str) -> str | None:
        """The value `field` must equal, or None (Selector.RequiresExactMatch)."""
        for r in self.requirements:
            if r.field == field and r.operator == EQUALS:
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def escape_field_value(value: str) -> str:
    """fields.EscapeValue: backslash-escape `\\`, `,` and `=`."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_field_value(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out = []
    in_slash = False
    for c in value:
        if in_slash:
            if c in "\\,=":
                out.append(c)
            else:
                raise _SelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
            in_slash = False
            continue
        if c == "\\":
            in_slash = True
        elif c in ",=":
            raise _SelectorError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise _SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    if not text:
        return []
    terms = []
    start = 0
    in_slash = False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in (NOT_EQUALS, DOUBLE_EQUALS, EQUALS):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def parse_field_selector(text: str) -> FieldSelector:
    """fields.ParseSelector. An empty string selects everything. Invalid → ApiError 400."""
    terms = sorted(_split_terms(text or ""))
    items: list[FieldRequirement] = []
    try:
        for part in terms:
            if part == "":
                continue
            split = _split_term(part)
            if split is None:
                raise _SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
            lhs, op, rhs = split
            value = _unescape_field_value(rhs)
            items.append(FieldRequirement(lhs, NOT_EQUALS if op == NOT_EQUALS else EQUALS, value))
    except _SelectorError as e:
        raise bad_request(str(e)) from None
    return FieldSelector(tuple(items))


# ------------------------------------------------------- per-kind field contracts

_NOT_SUPPORTED = "field label not supported: {label}"


@dataclass(frozen=True)
class _FieldRules:
    accepted: frozenset[str]
    aliases: Mapping[str, str]
    message: str
    """Format string for an unaccepted label; `{label}` is the raw label, `{qlabel}` Go-quoted."""


_DEFAULT_RULES = _FieldRules(
    frozenset({"metadata.name", "metadata.namespace"}), {},
    '{qlabel} is not a known field selector: only "metadata.name", "metadata.namespace"')

# Conversion funcs registered with AddFieldLabelConversionFunc upstream, by (group, kind).
# Kinds not listed (everything in apps, for one) fall back to _DEFAULT_RULES.
_FIELD_RULES: dict[tuple[str, str], _FieldRules] = {
    ("", "Pod"): _FieldRules(frozenset({
        "metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
        "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
        "status.podIP", "status.podIPs", "status.nominatedNodeName"}),
        {"spec.host": "spec.nodeName"}, _NOT_SUPPORTED),
    ("", "Node"): _FieldRules(frozenset({"metadata.name", "spec.unschedulable"}), {}, _NOT_SUPPORTED),
    ("", "ReplicationController"): _FieldRules(
        frozenset({"metadata.name", "metadata.namespace", "status.replicas"}), {}, _NOT_SUPPORTED),
    ("", "Event"): _FieldRules(frozenset({
        "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
        "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
        "reason", "reportingComponent", "source", "type", "metadata.namespace", "metadata.name"}),
        {}, _NOT_SUPPORTED),
    ("", "Namespace"): _FieldRules(frozenset({"status.phase", "metadata.name"}), {}, _NOT_SUPPORTED),
    ("", "Secret"): _FieldRules(frozenset({"type", "metadata.namespace", "metadata.name"}), {},
                                _NOT_SUPPORTED),
    ("", "Service"): _FieldRules(
        frozenset({"metadata.namespace", "metadata.name", "spec.clusterIP", "spec.type"}), {},
        _NOT_SUPPORTED),
    ("batch", "Job"): _FieldRules(frozenset({"metadata.name", "metadata.namespace", "status.successful"}),
                                  {}, "field label {qlabel} not supported for Job"),
    ("certificates.k8s.io", "CertificateSigningRequest"): _FieldRules(
        frozenset({"metadata.name", "spec.signerName"}), {}, _NOT_SUPPORTED),
}


def _crd_selectable(info: ResourceInfo, selectable_fields: Iterable[str] | None) -> list[str]:
    """CRD `selectableFields[].jsonPath` values ('.spec.color'), stripped of the leading dot."""
    if selectable_fields is None:
        selectable_fields = getattr(info, "selectable_fields", None) or ()
    out = []
    for path in selectable_fields:
        if isinstance(path, dict):
            path = path.get("jsonPath", "")
        path = str(path)
        out.append(path[1:] if path.startswith(".") else path)
    return out


def _rules_for(info: ResourceInfo, selectable_fields: Iterable[str] | None) -> _FieldRules:
    if info.custom:
        accepted = {"metadata.name"}
        if info.namespaced:
            accepted.add("metadata.namespace")
        accepted.update(_crd_selectable(info, selectable_fields))
        return _FieldRules(frozenset(accepted), {}, _NOT_SUPPORTED)
    return _FIELD_RULES.get((info.group, info.kind), _DEFAULT_RULES)


def validate_field_selector(info: ResourceInfo, selector: FieldSelector,
                            selectable_fields: Iterable[str] | None = None) -> FieldSelector:
    """Run every term through the kind's field-label conversion (Selector.Transform).

    Returns the selector with legacy aliases rewritten (pods' `spec.host` →
    `spec.nodeName`); an unsupported label raises ApiError 400 BadRequest with the
    kind's upstream message. For custom resources, `selectable_fields` are the CRD
    version's `selectableFields` (jsonPaths); it defaults to `info.selectable_fields`
    when the registry provides that attribute.
    """
    rules = _rules_for(info, selectable_fields)
    out = []
    for r in selector.requirements:
        field = rules.aliases.get(r.field, r.field)
        if r.field not in rules.accepted and r.field not in rules.aliases:
            raise bad_request(rules.message.format(label=r.field, qlabel=_go_quote(r.field)))
        out.append(FieldRequirement(field, r.operator, r.value) if field != r.field else r)
    return FieldSelector(tuple(out))


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    cur: Any = obj
    for p in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(p)
    return cur


def _s(value: Any) -> str:
    """A scalar as ToSelectableFields renders it; missing → ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _b(value: Any) -> str:
    return "true" if value is True else "false"


def _i(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "0"


def _pod_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    pod_ips = status.get("podIPs") or []
    pod_ip = _s(pod_ips[0].get("ip")) if pod_ips and isinstance(pod_ips[0], Mapping) else ""
    if not pod_ips:
        pod_ip = _s(status.get("podIP"))
    return {
        "spec.nodeName": _s(spec.get("nodeName")),
        "spec.restartPolicy": _s(spec.get("restartPolicy")),
        "spec.schedulerName": _s(spec.get("schedulerName")),
        "spec.serviceAccountName": _s(spec.get("serviceAccountName")),
        "spec.hostNetwork": _b(spec.get("hostNetwork")),
        "status.phase": _s(status.get("phase")),
        "status.podIP": pod_ip,
        "status.nominatedNodeName": _s(status.get("nominatedNodeName")),
    }


def _event_fields(obj: Mapping[str, Any]) -> dict[str, str]:
    involved = obj.get("involvedObject") or {}
    source = _s(_get(obj, "source", "component")) or _s(obj.get("reportingComponent"))
    return {
        "involvedObject.kind": _s(involved.get("kind")),
        "involvedObject.namespace": _s(involved.get("namespace")),
        "involvedObject.name": _s(involved.get("name")),
        "involvedObject.uid": _s(involved.get("uid")),
        "involvedObject.apiVersion": _s(involved.get("apiVersion")),
        "involvedObject.resourceVersion": _s(involved.get("resourceVersion")),
        "involvedObject.fieldPath": _s(involved.get("fieldPath")),
        "reason": _s(obj.get("reason")),
        "reportingComponent": _s(obj.get("reportingComponent")),
        "source": source,
        "type": _s(obj.get("type")),
    }


# Kind-specific parts of each strategy's ToSelectableFields, by (group, plural).
_SPECIFIC_FIELDS: dict[tuple[str, str], Any] = {
    ("", "pods"): _pod_fields,
    ("", "events"): _event_fields,
    ("", "nodes"): lambda o: {"spec.unschedulable": _b(_get(o, "spec", "unschedulable"))},
    ("", "namespaces"): lambda o: {"status.phase": _s(_get(o, "status", "phase")),
                                   "name": _s(_get(o, "metadata", "name"))},
    ("", "secrets"): lambda o: {"type": _s(o.get("type"))},
    ("", "services"): lambda o: {"spec.clusterIP": _s(_get(o, "spec", "clusterIP")),
                                 "spec.type": _s(_get(o, "spec", "type"))},
    ("", "replicationcontrollers"): lambda o: {"status.replicas": _i(_get(o, "status", "replicas"))},
    ("", "persistentvolumes"): lambda o: {"name": _s(_get(o, "metadata", "name"))},
    ("", "persistentvolumeclaims"): lambda o: {"name": _s(_get(o, "metadata", "name"))},
    ("apps", "replicasets"): lambda o: {"status.replicas": _i(_get(o, "status", "replicas"))},
    ("batch", "jobs"): lambda o: {"status.successful": _i(_get(o, "status", "succeeded"))},
    ("certificates.k8s.io", "certificatesigningrequests"):
        lambda o: {"spec.signerName": _s(_get(o, "spec", "signerName"))},
}


def field_set(info: ResourceInfo, obj: Mapping[str, Any],
              selectable_fields: Iterable[str] | None = None) -> dict[str, str]:
    """The fields.Set upstream's strategy exposes for matching `obj` (ToSelectableFields).

    Always `metadata.name`, plus `metadata.namespace` for namespaced kinds, plus the
    kind's own fields. Values are strings; booleans render `true`/`false`, counts as
    integers. For custom resources, each selectable field present with a string,
    integer or boolean value is added under its jsonPath without the leading dot.
    """
    meta = obj.get("metadata") or {}
    out: dict[str, str] = {"metadata.name": _s(meta.get("name"))}
    if info.namespaced:
        out["metadata.namespace"] = _s(meta.get("namespace"))
    if info.custom:
        for label in _crd_selectable(info, selectable_fields):
            value = _get(obj, *label.split("."))
            if isinstance(value, str | bool | int):
                out[label] = _s(value)
        return out
    specific = _SPECIFIC_FIELDS.get((info.group, info.plural))
    if specific is not None:
        specific_fields = specific(obj)
        specific_fields.update(out)
        return specific_fields
    return out

