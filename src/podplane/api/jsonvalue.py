"""JSON values of any nesting depth: copy, encode, measure.

The apiserver accepts objects nested up to `MAX_DEPTH` levels (orjson's decoder
limit; upstream's Go decoder allows 10000). Python's own tools break well before
that: `copy.deepcopy` and recursive walkers hit the interpreter's recursion limit
around 500 levels, and `orjson.dumps` refuses anything deeper than 254. These
helpers take the fast orjson path for ordinary objects and fall back to
depth-safe code only when it fails:

- `copy_json(value)`: a deep copy (orjson round-trip, else an iterative copy);
- `dumps(value)`: compact UTF-8 JSON bytes (orjson, else orjson over chunks of
  at most 128 levels joined as `orjson.Fragment`s, and big integers as text);
  `max_depth=` turns a too-deep value into `TooDeepError` (what is stored must
  stay decodable by orjson);
- `depth(value)`: nesting depth, iteratively.

Pure functions, no I/O; used by the apiserver (requests, responses, storage
encoding) and by `validation` (pruning).
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["MAX_DEPTH", "TooDeepError", "copy_json", "depth", "dumps", "json_equal"]

MAX_DEPTH = 1024
"""Deepest nesting of objects and arrays a request body (and a stored object) may have."""


class TooDeepError(ValueError):
    def __init__(self, found: int, limit: int) -> None:
        super().__init__(f"exceeded max depth of {limit} nested objects and arrays (found {found})")
        self.found = found
        self.limit = limit


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers compare numerically, booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(json_equal, a, b))
    return type(a) is type(b) and a == b


def depth(value: Any) -> int:
    """Nesting depth: 0 for a scalar, 1 for a flat object or array."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > deepest:
            deepest = level
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, level + 1))
    return deepest


def _copy_iterative(value: Any) -> Any:
    if not isinstance(value, dict | list):
        return value
    root: Any = {} if isinstance(value, dict) else []
    stack: list[tuple[Any, Any]] = [(value, root)]
    while stack:
        source, target = stack.pop()
        if isinstance(source, dict):
            for key, child in source.items():
                if isinstance(child, dict | list):
                    copied: Any = {} if isinstance(child, dict) else []
                    stack.append((child, copied))
                    target[key] = copied
                else:
                    target[key] = child
        else:
            for child in source:
                if isinstance(child, dict | list):
                    copied = {} if isinstance(child, dict) else []
                    stack.append((child, copied))
                    target.append(copied)
                else:
                    target.append(child)
    return root


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars) of any depth."""
    if not isinstance(value, dict | list):
        return value
    try:
        return orjson.loads(orjson.dumps(value))
    except (TypeError, orjson.JSONDecodeError):
        # deeper than orjson's encoder allows, integers beyond 64 bits, ...
        return _copy_iterative(value)


_CHUNK = 128
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


def _encodable_scalar(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64_MIN <= value <= _UINT64_MAX:
        return orjson.Fragment(str(value).encode())  # orjson stops at 64 bits; JSON does not
    return value


def _encode(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError as e:
        text = str(e)
        if "Recursion limit" not in text and "64-bit" not in text:
            raise
    return _encode_in_chunks(value)


def _encode_in_chunks(value: Any) -> bytes:
    """orjson over a copy of the top `_CHUNK` levels whose deeper containers are pre-encoded
    fragments: iterative within a chunk, one level of recursion per chunk."""
    if not isinstance(value, dict | list):
        return orjson.dumps(_encodable_scalar(value))
    root: Any = {} if isinstance(value, dict) else []
    stack: list[tuple[Any, Any, int]] = [(value, root, 1)]
    while stack:
        source, target, level = stack.pop()
        for key, child in (source.items() if isinstance(source, dict) else enumerate(source)):
            if isinstance(child, dict | list):
                if level >= _CHUNK:
                    copied: Any = orjson.Fragment(_encode(child))
                else:
                    copied = {} if isinstance(child, dict) else []
                    stack.append((child, copied, level + 1))
            else:
                copied = _encodable_scalar(child)
            if isinstance(target, dict):
                target[key] = copied
            else:
                target.append(copied)
    return orjson.dumps(root)


def dumps(value: Any, *, max_depth: int | None = None) -> bytes:
    """Compact JSON bytes of `value`; `max_depth` caps the nesting of what may be written."""
    try:
        return orjson.dumps(value)
    except TypeError as e:
        text = str(e)
        if "Recursion limit" not in text and "64-bit" not in text:
            raise
    if max_depth is not None:
        found = depth(value)
        if found > max_depth:
            raise TooDeepError(found, max_depth)
    return _encode_in_chunks(value)
