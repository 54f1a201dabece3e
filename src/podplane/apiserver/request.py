"""Request parsing: URL → resource target, bodies → objects, query → options.

`parse_resource_path` maps `/api/v1/namespaces/ns/pods/p/log` style paths onto a
`Target` (ResourceInfo, namespace, name, subresource). `decode_body` turns JSON,
YAML and Kubernetes protobuf bodies into dicts and answers malformed input with a
400 Status. `wants_table` reads the Accept header the way kubectl negotiates
server-side printing. Used by `apiserver.rest` and `apiserver.watch`.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import yaml

from podplane.api import errors, protobuf
from podplane.api.registry import Registry, ResourceInfo

__all__ = [
    "Target",
    "decode_body",
    "flag",
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
    """Decode a request body; malformed input is a 400 with the decoder's message."""
    mt = media_type(content_type)
    if not body:
        raise errors.bad_request("the request body is empty; send the object as JSON, YAML or protobuf")
    if mt == PROTOBUF:
        return protobuf.decode(body)
    if mt in YAML_TYPES:
        try:
            docs = [d for d in yaml.safe_load_all(body.decode("utf-8")) if d is not None]
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise errors.bad_request(f"error decoding YAML: {e}") from None
        if len(docs) != 1:
            raise errors.bad_request(f"expected exactly one YAML document, got {len(docs)}")
        return _normalise_yaml(docs[0])
    if mt in ("", JSON) or mt.endswith("+json"):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            prefix = f"{what}: " if what else ""
            raise errors.bad_request(f"{prefix}error decoding JSON: {e}") from None
    raise errors.unsupported_media_type(mt)


def _normalise_yaml(value: object) -> object:
    """YAML may produce dates and non-string keys; the API only carries JSON values."""
    import datetime as dt

    if isinstance(value, dict):
        return {str(k): _normalise_yaml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_yaml(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def flag(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


def wants_table(accept: str | None) -> bool:
    """True when the client prefers a meta.k8s.io Table (kubectl get's Accept header)."""
    if not accept:
        return False
    first = accept.split(",")[0]
    params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip() for p in first.split(";")[1:] if "=" in p}
    return params.get("as") == "Table" and params.get("g") == "meta.k8s.io"
