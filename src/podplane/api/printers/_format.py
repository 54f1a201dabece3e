"""Formatting helpers shared by the print handlers, transcribed from upstream Go.

Durations (`duration.HumanDuration`, `ShortHumanDuration`), RFC 3339 timestamps and
ages (`translateTimestampSince`), label sets and label selectors as their Go
`String()` methods render them, and small field accessors that tolerate absent or
mistyped fields in stored JSON. Pure functions; used by `_builtin` and `_custom`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

__all__ = [
    "ZERO_TIME",
    "age",
    "as_dict",
    "as_int",
    "as_list",
    "as_str",
    "aware",
    "format_labels",
    "format_label_selector",
    "format_rfc3339",
    "get",
    "human_duration",
    "layout_containers",
    "parse_time",
    "selector_string",
    "short_human_duration",
    "since",
]

ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
_MAX_NS = 2**63 - 1
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})$"
)


# ------------------------------------------------------------------ field access


def get(obj: Any, *path: str) -> Any:
    """`obj[path[0]][path[1]]...`, or None as soon as a step is missing or not a dict."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return int(value)


# --------------------------------------------------------------------- durations


def _nanoseconds(d: timedelta) -> int:
    ns = ((d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds) * 1000
    return max(-_MAX_NS - 1, min(_MAX_NS, ns))


def _trunc_div(a: int, b: int) -> int:
    return a // b if a >= 0 else -((-a) // b)


def short_human_duration(d: timedelta) -> str:
    """apimachinery `duration.ShortHumanDuration`: one unit, e.g. 5s, 3m, 2h, 4d, 1y."""
    ns = _nanoseconds(d)
    seconds = _trunc_div(ns, 10**9)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60:
        return f"{seconds}s"
    minutes = ns // (60 * 10**9)
    if minutes < 60:
        return f"{minutes}m"
    hours = ns // (3600 * 10**9)
    if hours < 24:
        return f"{hours}h"
    if hours < 24 * 365:
        return f"{hours // 24}d"
    return f"{hours // 24 // 365}y"


def human_duration(d: timedelta) -> str:
    """apimachinery `duration.HumanDuration`: 2-3 significant figures, e.g. 90s, 3m20s, 5h2m."""
    ns = _nanoseconds(d)
    seconds = _trunc_div(ns, 10**9)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = ns // (60 * 10**9)
    if minutes < 10:
        s = (ns // 10**9) % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = ns // (3600 * 10**9)
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


# -------------------------------------------------------------------- timestamps


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (Go's `time.Parse(time.RFC3339, ...)`), None if absent or invalid.

    The zero time (0001-01-01T00:00:00Z) comes back as `ZERO_TIME`; callers treat it as unset.
    """
    if not isinstance(value, str):
        return None
    m = _RFC3339.match(value)
    if not m:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    if zone == "Z":
        tz = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = _offset(sign * (int(zone[1:3]) * 60 + int(zone[4:6])))
        if tz is None:
            return None
    try:
        t = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz)
        return t.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _offset(minutes: int) -> timezone | None:
    try:
        return timezone(timedelta(minutes=minutes))
    except ValueError:
        return None


def aware(now: datetime) -> datetime:
    """`now` with UTC assumed when it carries no time zone."""
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def since(t: datetime | None, now: datetime) -> str:
    """`translateTimestampSince`: HumanDuration of `now - t`, `<unknown>` for an unset time."""
    if t is None or t == ZERO_TIME:
        return "<unknown>"
    return human_duration(aware(now) - t)


def age(value: Any, now: datetime) -> str:
    """The age of an RFC 3339 timestamp field, e.g. `metadata.creationTimestamp`."""
    return since(parse_time(value), now)


def format_rfc3339(value: Any) -> str:
    """`t.UTC().Format(time.RFC3339)` of a timestamp field; the zero time when absent."""
    t = parse_time(value) or ZERO_TIME
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T"
            f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z")


# ------------------------------------------------------------- labels, selectors


def format_labels(labels: Any) -> str:
    """`labels.FormatLabels`: sorted `k=v` pairs joined by commas, `<none>` when empty."""
    pairs = sorted(f"{k}={v}" for k, v in as_dict(labels).items())
    return ",".join(pairs) or "<none>"


def _requirement(key: str, op: str, values: list[str]) -> str:
    if op == "Exists":
        return key
    if op == "DoesNotExist":
        return "!" + key
    joined = ",".join(sorted(values)) if len(values) > 1 else values[0]
    if op == "=":
        return f"{key}={joined}"
    word = " in " if op == "In" else " notin "
    return f"{key}{word}({joined})"


def selector_string(selector: Any) -> str | None:
    """`metav1.LabelSelectorAsSelector(s).String()`; None when the selector is invalid.

    A missing selector selects nothing and an empty one everything; both print as "".
    """
    if not isinstance(selector, dict):
        return ""
    match_labels = as_dict(selector.get("matchLabels"))
    expressions = as_list(selector.get("matchExpressions"))
    reqs: list[tuple[str, str, list[str]]] = []
    for k, v in match_labels.items():
        reqs.append((str(k), "=", [str(v)]))
    for expr in expressions:
        if not isinstance(expr, dict):
            return None
        op = expr.get("operator")
        values = [str(v) for v in as_list(expr.get("values"))]
        if op in ("In", "NotIn"):
            if not values:
                return None
        elif op in ("Exists", "DoesNotExist"):
            if values:
                return None
        else:
            return None
        reqs.append((as_str(expr.get("key")), op, values))
    reqs.sort(key=lambda r: r[0])
    return ",".join(_requirement(*r) for r in reqs)


def format_label_selector(selector: Any) -> str:
    """`metav1.FormatLabelSelector`: the selector string, `<none>` if empty, `<error>` if invalid."""
    text = selector_string(selector)
    if text is None:
        return "<error>"
    return text or "<none>"


# --------------------------------------------------------------------- workloads


def layout_containers(containers: Any) -> tuple[str, str]:
    """`layoutContainerCells`: container names and images, each comma-joined."""
    items = [c for c in as_list(containers) if isinstance(c, dict)]
    return (",".join(as_str(c.get("name")) for c in items),
            ",".join(as_str(c.get("image")) for c in items))
