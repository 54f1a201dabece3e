"""Upstream schema definitions of the built-in kinds, and navigation over any schema.

The definitions are Kubernetes 1.37's OpenAPI definitions as shipped by the
`kubernetes-validate` package (`_definitions.json`, JSON-Schema `$defs` form). They
are loaded once, lazily, and normalised to OpenAPI v3 shape: `"type": ["string",
"null"]` becomes `"type": "string"` and `$ref`s point at `#/components/schemas/`.

Consumers:
- strategic merge patch and server-side apply read the per-field patch metadata
  (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`,
  `x-kubernetes-list-type`, `x-kubernetes-list-map-keys`) through `SchemaNode`;
- validation walks the same nodes to reject unknown fields and wrong types;
- the apiserver's OpenAPI v3 documents embed `definitions()`.

`SchemaNode` wraps a schema dict and resolves `$ref`s on the fly, so the same
navigation works over built-in definitions and over a CRD's self-contained
openAPIV3Schema (`SchemaNode.from_crd_schema`).
"""

from __future__ import annotations

import functools
import importlib.resources
from typing import Any

import orjson

__all__ = ["SchemaNode", "definition_name_for", "definitions", "node_for_kind", "REF_PREFIX"]

REF_PREFIX = "#/components/schemas/"
_SOURCE_VERSION = "v1.37.0-local"


def _normalise(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "type" and isinstance(value, list):
                types = [t for t in value if t != "null"]
                out["type"] = types[0] if len(types) == 1 else value
            elif key == "$ref" and isinstance(value, str):
                out["$ref"] = REF_PREFIX + value.rsplit("/", 1)[-1]
            else:
                out[key] = _normalise(value)
        # IntOrString and Quantity arrive as oneOf[string, integer|number]
        one_of = out.get("oneOf")
        if one_of and not out.get("type"):
            kinds = {o.get("type") for o in one_of if isinstance(o, dict)}
            if kinds == {"string", "integer"}:
                out.pop("oneOf")
                out["x-kubernetes-int-or-string"] = True
            elif kinds == {"string", "number"}:
                out.pop("oneOf")
                out["x-podplane-quantity"] = True
        return out
    if isinstance(node, list):
        return [_normalise(v) for v in node]
    return node


@functools.cache
def definitions() -> dict[str, dict]:
    """All upstream definitions by their OpenAPI name (io.k8s.api.core.v1.Pod, ...)."""
    root = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema" / _SOURCE_VERSION
    raw = orjson.loads((root / "_definitions.json").read_bytes())
    defs = _normalise(raw["$defs"])
    # Quantity and IntOrString are described upstream with `format` only
    defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {
        "type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True,
        "description": defs.get("io.k8s.apimachinery.pkg.util.intstr.IntOrString", {}).get(
            "description", "IntOrString is a type that can hold an int32 or a string."),
    }
    return defs


@functools.cache
def _gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
            # prefer the definition in the kind's own package over re-exports
            if key not in index or name.startswith("io.k8s.api."):
                index[key] = name
    return index


def definition_name_for(group: str, version: str, kind: str) -> str | None:
    return _gvk_index().get((group, version, kind))


@functools.lru_cache(maxsize=512)
def node_for_kind(group: str, version: str, kind: str) -> SchemaNode | None:
    """The root node of a built-in kind; shared, so its resolved children are reused."""
    name = definition_name_for(group, version, kind)
    if name is None:
        return None
    return SchemaNode(definitions()[name])


_ITEMS = object()  # key of the list-items child in SchemaNode._children


class SchemaNode:
    """A position in a schema; resolves `$ref` and allOf-wrapped refs transparently."""

    __slots__ = ("schema", "_defs", "_children")

    def __init__(self, schema: dict, defs: dict[str, dict] | None = None) -> None:
        self._defs = defs if defs is not None else definitions()
        self.schema = self._resolve(schema)
        # resolved children, so walking the same schema again (every request) costs lookups only
        self._children: dict[object, SchemaNode | None] = {}

    @classmethod
    def from_crd_schema(cls, schema: dict) -> SchemaNode:
        return cls(schema, defs={})

    def _resolve(self, schema: dict) -> dict:
        seen = 0
        while True:
            ref = schema.get("$ref")
            if ref is None:
                all_of = schema.get("allOf")
                if all_of and len(all_of) == 1 and "$ref" in all_of[0]:
                    ref = all_of[0]["$ref"]
                else:
                    return schema
            target = self._defs.get(ref.rsplit("/", 1)[-1])
            if target is None:
                return {}
            # field-level annotations (patch strategy) sit beside the $ref
            extra = {k: v for k, v in schema.items() if k.startswith("x-kubernetes-patch")}
            schema = {**target, **extra} if extra else target
            seen += 1
            if seen > 16:
                return schema

    def _wrap(self, schema: dict | None) -> SchemaNode | None:
        if schema is None:
            return None
        return SchemaNode(schema, self._defs)

    @property
    def type(self) -> str | None:
        t = self.schema.get("type")
        if isinstance(t, list):
            return None
        if t is None and "properties" in self.schema:
            return "object"
        return t

    @property
    def properties(self) -> dict[str, dict]:
        return self.schema.get("properties") or {}

    def field(self, name: str) -> SchemaNode | None:
        """The schema of property `name`, or of map values when this is a map."""
        try:
            return self._children[name]
        except KeyError:
            pass
        child = self._field(name)
        if len(self._children) < 4096:
            self._children[name] = child
        return child

    def _field(self, name: str) -> SchemaNode | None:
        props = self.properties
        if name in props:
            return self._wrap(props[name])
        additional = self.schema.get("additionalProperties")
        if isinstance(additional, dict):
            return self._wrap(additional)
        return None

    def items(self) -> SchemaNode | None:
        try:
            return self._children[_ITEMS]
        except KeyError:
            pass
        items = self.schema.get("items")
        child = self._wrap(items) if isinstance(items, dict) else None
        self._children[_ITEMS] = child
        return child

    @property
    def is_map(self) -> bool:
        return "additionalProperties" in self.schema and not self.properties

    @property
    def preserves_unknown_fields(self) -> bool:
        return bool(self.schema.get("x-kubernetes-preserve-unknown-fields"))

    @property
    def patch_strategy(self) -> str:
        return self.schema.get("x-kubernetes-patch-strategy", "")

    @property
    def patch_merge_key(self) -> str:
        return self.schema.get("x-kubernetes-patch-merge-key", "")

    @property
    def list_type(self) -> str:
        return self.schema.get("x-kubernetes-list-type", "")

    @property
    def list_map_keys(self) -> list[str]:
        return list(self.schema.get("x-kubernetes-list-map-keys") or ())

    @property
    def map_type(self) -> str:
        return self.schema.get("x-kubernetes-map-type", "")

    def __repr__(self) -> str:
        return f"SchemaNode({self.schema.get('description', '')[:40]!r}, type={self.type!r})"
