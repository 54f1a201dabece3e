"""Request parsing: URL → resource target, bodies → objects, query → options.

`parse_resource_path` maps `/api/v1/namespaces/ns/pods/p/log` style paths onto a
`Target` (ResourceInfo, namespace, name, subresource). `decode_body` turns JSON,
YAML and Kubernetes protobuf bodies into dicts and answers malformed input with a
400 Status: nesting beyond `jsonvalue.MAX_DEPTH`, YAML alias cycles and alias bombs
(go-yaml's "excessive aliasing" rule plus a node budget per body byte) included, all
refused in milliseconds. `duplicate_fields` finds repeated JSON keys for
fieldValidation Strict/Warn; `list_options_error` is upstream's ValidateListOptions.
`wants_table` reads the Accept header the way kubectl negotiates server-side
printing. Used by `apiserver.rest` and `apiserver.watch`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import orjson
import yaml

from podplane.api import errors, protobuf
from podplane.api.errors import Cause
from podplane.api.jsonvalue import MAX_DEPTH
from podplane.api.registry import Registry, ResourceInfo
from podplane.api.validation import field_forbidden, field_not_supported

__all__ = [
    "Target",
    "decode_body",
    "duplicate_fields",
    "flag",
    "list_options_error",
    "parse_resource_path",
    "wants_table",
]

JSON = "application/json"
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "application/apply-patch+yaml")
PROTOBUF = "application/vnd.kubernetes.protobuf"


@dataclass
class Target:
    info: ResourceInfo
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_path: bool = False


def _not_found() -> errors.ApiError:
    return errors.ApiError(404, "NotFound", "the server could not find the requested resource")


def parse_resource_path(registry: Registry, path: str) -> Target | None:
    """Return the target of a resource URL, None if the path is not a resource path."""
    segs = [s for s in path.split("/") if s]
    if len(segs) >= 2 and segs[0] == "api":
        group, version, rest = "", segs[1], segs[2:]
    elif len(segs) >= 3 and segs[0] == "apis":
        group, version, rest = segs[1], segs[2], segs[3:]
    else:
        return None
    if not rest:
        return None
    watch_path = False
    if rest[0] == "watch":
        watch_path, rest = True, rest[1:]
        if not rest:
            raise _not_found()
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    info = registry.get(group, version, plural)
    if info is None:
        raise _not_found()
    if namespace is not None and not info.namespaced:
        raise _not_found()
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if len(rest) > 3:
        raise _not_found()
    if sub is not None and info.subresource(sub) is None:
        raise _not_found()
    return Target(info=info, namespace=namespace, name=name, subresource=sub, watch_path=watch_path)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode_body(body: bytes, content_type: str | None, *, what: str = "") -> object:
    """Decode a request body; malformed input is a 400 with the decoder's message.

    Nesting deeper than `jsonvalue.MAX_DEPTH` is refused (400) for every format, so
    everything after decoding can rely on that bound.
    """
    mt = media_type(content_type)
    if not body:
        raise errors.bad_request("the request body is empty; send the object as JSON, YAML or protobuf")
    prefix = f"{what}: " if what else ""
    if mt == PROTOBUF:
        return protobuf.decode(body)
    if mt in YAML_TYPES:
        return _decode_yaml(body, prefix)
    if mt in ("", JSON) or mt.endswith("+json"):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            if "depth limit exceeded" in str(e) or "recursion limit" in str(e).lower():
                raise errors.bad_request(f"{prefix}error decoding JSON: exceeded max depth of {MAX_DEPTH} "
                                         f"nested objects and arrays") from None
            raise errors.bad_request(f"{prefix}error decoding JSON: {e}") from None
    raise errors.unsupported_media_type(mt)


class _TooDeepYaml(Exception):
    pass


class _DepthLimitedLoader(yaml.SafeLoader):
    """SafeLoader whose composer stops at MAX_DEPTH nested nodes.

    PyYAML's composer recurses per level and its scanner slows down quadratically with
    the flow nesting depth, so the limit must stop parsing itself, not just check the result.
    """

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._depth = 0

    # PyYAML scans every pending simple key (one per open flow collection) for every token,
    # which is quadratic in the nesting depth. The pending keys are kept in a dict whose order
    # is also flow-level, token and index order (deeper levels are opened later and closed
    # first), so the nearest key is the first one and stale keys form a prefix of the dict.
    def next_possible_simple_key(self):  # noqa: ANN201 - PyYAML's signature
        for key in self.possible_simple_keys.values():
            return key.token_number
        return None

    def stale_possible_simple_keys(self) -> None:
        keys = self.possible_simple_keys
        while keys:
            level = next(iter(keys))
            key = keys[level]
            if key.line == self.line and self.index - key.index <= 1024:
                return
            if key.required:
                raise yaml.scanner.ScannerError("while scanning a simple key", key.mark,
                                                "could not find expected ':'", self.get_mark())
            del keys[level]

    def fetch_flow_collection_start(self, token_class):  # noqa: ANN001, ANN201 - PyYAML's signature
        # the scanner runs ahead of the composer: stop it at the same depth
        if self.flow_level >= MAX_DEPTH:
            raise _TooDeepYaml()
        return super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent, index):  # noqa: ANN001, ANN201 - PyYAML's signature
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeepYaml()
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _decode_yaml(body: bytes, prefix: str) -> object:
    too_deep = f"{prefix}error converting YAML to JSON: yaml: exceeded max depth of {MAX_DEPTH}"
    try:
        docs = [d for d in yaml.load_all(body.decode("utf-8"), Loader=_DepthLimitedLoader) if d is not None]
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise errors.bad_request(f"{prefix}error converting YAML to JSON: {e}") from None
    except (_TooDeepYaml, RecursionError):
        raise errors.bad_request(too_deep) from None
    if len(docs) != 1:
        raise errors.bad_request(f"{prefix}expected exactly one YAML document, got {len(docs)}")
    try:
        return _normalise_yaml(docs[0], node_budget=_YAML_BUDGET_PER_BYTE * len(body) + _YAML_BUDGET_BASE)
    except ValueError as e:
        raise errors.bad_request(f"{prefix}error converting YAML to JSON: yaml: {e}") from None


# go-yaml's defence against "billion laughs": once more than 100 of over 1000 decoded nodes come
# from alias expansion, their share may not exceed 99% (falling to 10% for documents of 4M nodes)
_ALIAS_RATIO_LOW, _ALIAS_RATIO_HIGH = 400_000, 4_000_000
# and a hard cap, so that no document costs more than a few node visits per byte of body
_YAML_BUDGET_PER_BYTE, _YAML_BUDGET_BASE = 4, 10_000
_END = object()


def _allowed_alias_ratio(decoded: int) -> float:
    if decoded <= _ALIAS_RATIO_LOW:
        return 0.99
    if decoded >= _ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - _ALIAS_RATIO_LOW) / (_ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW)


def _yaml_scalar(value: object) -> object:
    """YAML may produce dates; the API only carries JSON values."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _yaml_key(key: object) -> str:
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(_yaml_scalar(key))


def _yaml_children(value: object):
    if isinstance(value, dict):
        return iter(value.items())
    return ((None, v) for v in value)  # type: ignore[union-attr]


def _normalise_yaml(value: object, node_budget: int = 10**9) -> object:
    """A JSON-shaped copy of a composed YAML document, iteratively.

    Keys become strings and dates RFC 3339 strings. PyYAML shares one Python object
    between an anchor and its aliases, so an alias shows up as an object seen before:
    one on the current path is a cycle (`a: &a [*a]`), and nodes reached through
    aliases are counted against go-yaml's alias ratio and a node budget, so that an
    alias bomb is refused after a few thousand nodes instead of expanding to millions.
    Raises ValueError with go-yaml's wording.
    """
    if not isinstance(value, dict | list):
        return _yaml_scalar(value)
    root: dict | list = {} if isinstance(value, dict) else []
    on_path = {id(value)}
    seen = {id(value)}
    stack = [(_yaml_children(value), root, id(value), False)]
    decoded = aliased = 0
    while stack:
        children, target, vid, in_alias = stack[-1]
        item = next(children, _END)
        if item is _END:
            stack.pop()
            on_path.discard(vid)
            continue
        key, child = item  # type: ignore[misc]
        is_container = isinstance(child, dict | list)
        child_alias = in_alias or (is_container and id(child) in seen)
        decoded += 1
        if child_alias:
            aliased += 1
            if aliased > 100 and decoded > 1000 and aliased / decoded > _allowed_alias_ratio(decoded):
                raise ValueError("document contains excessive aliasing")
        if decoded > node_budget:
            raise ValueError("document contains excessive aliasing" if aliased else "document is too large")
        if is_container:
            cid = id(child)
            if cid in on_path:
                raise ValueError("anchor value contains itself")
            if len(stack) >= MAX_DEPTH:
                raise ValueError(f"exceeded max depth of {MAX_DEPTH}")
            seen.add(cid)
            copied: dict | list = {} if isinstance(child, dict) else []
            stack.append((_yaml_children(child), copied, cid, child_alias))
            on_path.add(cid)
        else:
            copied = _yaml_scalar(child)  # type: ignore[assignment]
        if isinstance(target, dict):
            target[key if isinstance(key, str) else _yaml_key(key)] = copied
        else:
            target.append(copied)
    return root


class _Scanned(dict):
    """A decoded JSON object remembering the duplicate keys found in it and below it."""

    __slots__ = ("duplicates",)


def _join(prefix: str, path: str) -> str:
    return prefix + path if path.startswith("[") else f"{prefix}.{path}"


def _nested_duplicates(value: object) -> list[str]:
    if isinstance(value, _Scanned):
        return value.duplicates
    if isinstance(value, list):
        found: list[str] = []
        for i, item in enumerate(value):
            found.extend(_join(f"[{i}]", p) for p in _nested_duplicates(item))
        return found
    return []


def _scan_object(pairs: list[tuple[str, object]]) -> _Scanned:
    out = _Scanned()
    found: list[str] = []
    for key, value in pairs:
        if key in out:
            found.append(key)
        out[key] = value
        if isinstance(value, dict | list):
            found.extend(_join(key, p) for p in _nested_duplicates(value))
    out.duplicates = found
    return out


def duplicate_fields(body: bytes) -> list[str]:
    """`duplicate field "spec.x"` for every key repeated within one JSON object, in document order.

    Only JSON bodies are scanned (a second, slower parse of bytes that already decoded),
    so callers do it for fieldValidation Strict and Warn only. Paths are worded like
    upstream's strict decoder: `metadata.name`, `spec.containers[0].image`.
    """
    try:
        decoded = json.loads(body, object_pairs_hook=_scan_object)
    except (ValueError, RecursionError):
        return []  # the real decoder accepted it; give up on the scan rather than fail the request
    return [f'duplicate field "{p}"' for p in _nested_duplicates(decoded)]


_RV_MATCH_VALUES = ("Exact", "NotOlderThan")


def list_options_error(query, watch: bool) -> errors.ApiError | None:
    """Upstream ValidateListOptions (and validateWatchOptions) as a 422 for `ListOptions.meta.k8s.io`."""
    match = query.get("resourceVersionMatch", "")
    rv = query.get("resourceVersion", "")
    send_initial = query.get("sendInitialEvents")
    has_continue = bool(query.get("continue"))
    path = "resourceVersionMatch"
    causes: list[Cause] = []
    if watch:
        if send_initial is not None:
            if match != "NotOlderThan":
                causes.append(field_forbidden(path, "sendInitialEvents requires setting resourceVersionMatch to "
                                                    "NotOlderThan"))
            if flag(send_initial) and not flag(query.get("allowWatchBookmarks")):
                causes.append(field_forbidden("allowWatchBookmarks",
                                              "sendInitialEvents requires setting allowWatchBookmarks to true"))
        if match:
            if send_initial is None:
                causes.append(field_forbidden(path, "resourceVersionMatch is forbidden for watch unless "
                                                    "sendInitialEvents is provided"))
            if match != "NotOlderThan":
                causes.append(field_not_supported(path, match, ["NotOlderThan"]))
            if has_continue:
                causes.append(field_forbidden(path, "resourceVersionMatch is forbidden when continue is provided"))
    else:
        if match:
            if not rv:
                causes.append(field_forbidden(path, "resourceVersionMatch is forbidden unless resourceVersion is "
                                                    "provided"))
            if has_continue:
                causes.append(field_forbidden(path, "resourceVersionMatch is forbidden when continue is provided"))
            if match not in _RV_MATCH_VALUES:
                causes.append(field_not_supported(path, match, [*_RV_MATCH_VALUES, ""]))
            if match == "Exact" and rv == "0":
                causes.append(field_forbidden(path, 'resourceVersionMatch "exact" is forbidden for '
                                                    'resourceVersion "0"'))
        if send_initial is not None:
            causes.append(field_forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    if not causes:
        return None
    return errors.invalid("ListOptions", "", causes, group="meta.k8s.io")


def flag(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


def wants_table(accept: str | None) -> bool:
    """True when the client prefers a meta.k8s.io Table (kubectl get's Accept header)."""
    if not accept:
        return False
    first = accept.split(",")[0]
    params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip() for p in first.split(";")[1:] if "=" in p}
    return params.get("as") == "Table" and params.get("g") == "meta.k8s.io"
