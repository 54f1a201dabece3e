"""Server-side apply and `metadata.managedFields` bookkeeping (structured-merge-diff semantics).

Role: a pure port of what the upstream apiserver's field manager does
(sigs.k8s.io/structured-merge-diff `merge.Updater` plus the
k8s.io/apimachinery `managedfields` wrappers). Objects are plain JSON dicts; the
schema is a `podplane.api.schema.SchemaNode` (built-in kinds or a CRD's
openAPIV3Schema), or None for schemaless objects (maps granular, lists atomic).

Flow: `server_side_apply` merges an applied configuration into the live object
with list-map keys, prunes fields the manager applied last time but dropped,
detects conflicts with other managers (409 Conflict, upstream wording) and returns
the new object with managedFields. `update_managed_fields` runs after every other
write (create/update/patch) and gives the writer the fields it changed.
`fields_of` renders the FieldsV1 set of an object.

Neighbours: `podplane.api.patch` produces the objects of non-apply patches; the
apiserver's patch/update handlers call this module, then validate and store. Field
sets are Python sets of paths (tuples of path elements `("f", name)`,
`("k", ((key, json), ...))`, `("v", json)`, `("i", n)`), serialized as FieldsV1.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from podplane.api.errors import ApiError, Cause, bad_request
from podplane.api.jsonvalue import copy_json, json_equal
from podplane.api.schema import SchemaNode

__all__ = [
    "BEFORE_FIRST_APPLY_MANAGER",
    "LAST_APPLIED_ANNOTATION",
    "fields_of",
    "server_side_apply",
    "update_managed_fields",
]

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY_MANAGER = "before-first-apply"
_KUBECTL = "kubectl"  # only this applier upgrades from client-side apply, as upstream

Path = tuple[tuple, ...]
_ABSENT: Any = object()

# stripmeta.go: never tracked, for any manager
_STRIPPED: frozenset[Path] = frozenset(
    [(("f", "apiVersion"),), (("f", "kind"),), (("f", "metadata"),)]
    + [(("f", "metadata"), ("f", name)) for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation",
        "managedFields", "resourceVersion")])


# --------------------------------------------------------------------------- JSON helpers


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _go_json(value: Any) -> str:
    """Compact JSON as Go's encoding/json writes it (sorted keys, HTML-safe escapes)."""
    text = json.dumps(_integral(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


# --------------------------------------------------------------------------- schema view


def _declared(node: SchemaNode | None, key: str) -> bool:
    return node is not None and key in node.properties


def _child(node: SchemaNode | None, key: str) -> SchemaNode | None:
    if node is None:
        return None
    if key in node.properties or isinstance(node.schema.get("additionalProperties"), dict):
        return node.field(key)
    return None  # undeclared field: deduced, like upstream's preserve-unknown-fields element type


def _items(node: SchemaNode | None) -> SchemaNode | None:
    return node.items() if node is not None else None


def _atomic_map(node: SchemaNode | None) -> bool:
    return node is not None and node.map_type == "atomic"


def _list_info(node: SchemaNode | None) -> tuple[str, tuple[str, ...]]:
    """('atomic'|'set'|'map', list-map keys), as kube-openapi's schemaconv derives it."""
    if node is None:
        return "atomic", ()
    list_type = node.list_type
    if list_type == "set":
        return "set", ()
    if list_type == "map":
        return "map", tuple(node.list_map_keys)
    if list_type == "atomic":
        return "atomic", ()
    strategy = node.patch_strategy
    if strategy == "merge" or strategy.startswith("merge,"):
        return ("map", (node.patch_merge_key,)) if node.patch_merge_key else ("set", ())
    return "atomic", ()


def _is_container_schema(node: SchemaNode | None) -> bool:
    return node is not None and node.type in ("object", "array")


def _key_default(items: SchemaNode | None, key: str) -> Any:
    node = _child(items, key)
    if node is not None and "default" in node.schema:
        return node.schema["default"]
    if key == "protocol":  # upstream OpenAPI v3 defaults every list-map "protocol" key to TCP
        return "TCP"
    return _ABSENT


def _item_pe(kind: str, keys: tuple[str, ...], index: int, item: Any, items: SchemaNode | None) -> tuple:
    if kind == "set" or (kind == "map" and not isinstance(item, dict)):
        return ("v", _go_json(item))
    if kind == "map":
        fields = []
        for key in keys:
            value = item[key] if key in item else _key_default(items, key)
            if value is not _ABSENT:
                fields.append((key, _go_json(value)))
        return ("k", tuple(sorted(fields)))
    return ("i", index)


def _indexed(items: list, node: SchemaNode | None) -> dict[tuple, Any]:
    """Items of an associative list by path element; repeated keys keep the first item."""
    kind, keys = _list_info(node)
    item_node = _items(node)
    out: dict[tuple, Any] = {}
    for i, item in enumerate(items):
        out.setdefault(_item_pe(kind, keys, i, item, item_node), item)
    return out


# --------------------------------------------------------------------------- path elements


def _pe_str(pe: tuple) -> str:
    """Serialized FieldsV1 key of a path element."""
    kind, value = pe
    if kind == "f":
        return "f:" + value
    if kind == "k":
        return "k:{" + ",".join(f"{_go_json(name)}:{raw}" for name, raw in value) + "}"
    if kind == "v":
        return "v:" + value
    return f"i:{value}"


def _parse_pe(text: str) -> tuple:
    kind, sep, rest = text.partition(":")
    if not sep:
        raise ValueError(f"missing colon: {text}")
    if kind == "f":
        return ("f", rest)
    if kind == "k":
        fields = json.loads(rest)
        if not isinstance(fields, dict):
            raise ValueError(f"invalid key: {text}")
        return ("k", tuple(sorted((name, _go_json(v)) for name, v in fields.items())))
    if kind == "v":
        return ("v", _go_json(json.loads(rest)))
    if kind == "i":
        return ("i", int(rest))
    raise ValueError(f"unknown path element type: {text}")


def _value_order(value: Any) -> tuple:
    # value.Compare: numbers < strings < booleans < lists < maps < null
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, tuple(_value_order(v) for v in value))
    if isinstance(value, dict):
        return (4, tuple((k, _value_order(value[k])) for k in sorted(value)))
    return (5,)


def _pe_order(pe: tuple) -> tuple:
    kind, value = pe
    if kind == "f":
        return (0, value)
    if kind == "k":
        return (1, tuple((name, _value_order(json.loads(raw))) for name, raw in value))
    if kind == "v":
        return (2, _value_order(json.loads(value)))
    return (3, value)


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ", ".join(_to_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_to_string(value[k])}" for k in sorted(value)) + "}"
    return str(value)


def _path_str(path: Path) -> str:
    """fieldpath.Path.String(): `.spec.containers[name="nginx"].image`."""
    parts = []
    for kind, value in path:
        if kind == "f":
            parts.append("." + value)
        elif kind == "k":
            parts.append("[" + ",".join(f"{n}={_to_string(json.loads(raw))}" for n, raw in value) + "]")
        elif kind == "v":
            parts.append(f"[={_to_string(json.loads(value))}]")
        else:
            parts.append(f"[{value}]")
    return "".join(parts)


def _iteration_order(path: Path) -> tuple:
    # fieldpath.Set.Iterate: at each level members first, then children, each sorted
    return tuple((0 if i == len(path) - 1 else 1, _pe_order(pe)) for i, pe in enumerate(path))


# --------------------------------------------------------------------------- FieldsV1


def _to_fields_v1(paths: Iterable[Path]) -> dict:
    root: dict = {}  # pe -> [is_member, children]
    for path in paths:
        level = root
        for i, pe in enumerate(path):
            entry = level.setdefault(pe, [False, {}])
            if i == len(path) - 1:
                entry[0] = True
            level = entry[1]

    def emit(level: dict, include_self: bool) -> dict:
        out: dict = {}
        if include_self and level:
            out["."] = {}
        for pe in sorted(level, key=_pe_order):
            member, children = level[pe]
            out[_pe_str(pe)] = emit(children, member) if children else {}
        return out

    return emit(root, False)


def _from_fields_v1(fields: Any, prefix: Path = ()) -> set[Path]:
    if not isinstance(fields, dict):
        raise ValueError("FieldsV1 must be an object")
    out: set[Path] = set()
    for key, value in fields.items():
        if key == ".":
            if prefix:
                out.add(prefix)
            continue
        path = prefix + (_parse_pe(key),)
        if not isinstance(value, dict):
            raise ValueError(f"FieldsV1 entry {key!r} must be an object")
        if value:
            out |= _from_fields_v1(value, path)
        else:
            out.add(path)
    return out


# --------------------------------------------------------------------------- typed walks


def _field_set(value: Any, node: SchemaNode | None, path: Path = (), out: set | None = None) -> set[Path]:
    """typed.ToFieldSet: leaves, list items, and keys of granular maps."""
    out = set() if out is None else out
    if isinstance(value, dict):
        if _atomic_map(node):
            out.add(path)
            return out
        for key, child_value in value.items():
            child_path = path + (("f", key),)
            _field_set(child_value, _child(node, key), child_path, out)
            if not _declared(node, key):
                out.add(child_path)
    elif isinstance(value, list):
        kind, keys = _list_info(node)
        if kind == "atomic":
            out.add(path)
            return out
        item_node = _items(node)
        for i, item in enumerate(value):
            item_path = path + (_item_pe(kind, keys, i, item, item_node),)
            _field_set(item, item_node, item_path, out)
            out.add(item_path)
    elif path and not (value is None and _is_container_schema(node)):
        out.add(path)
    return out


@dataclass
class _Comparison:
    added: set
    modified: set
    removed: set


def _compare(lhs: Any, rhs: Any, node: SchemaNode | None, path: Path, res: _Comparison) -> None:
    """typed.Compare: which paths rhs added, modified and removed relative to lhs.

    Runs for every write (managedFields), so it avoids per-node closures and generators."""
    lhs_absent = lhs is _ABSENT
    rhs_absent = rhs is _ABSENT
    if (lhs_absent or isinstance(lhs, dict)) and (rhs_absent or isinstance(rhs, dict)):
        if (node is not None and node.map_type == "atomic") or (
                (lhs_absent or not lhs) and (rhs_absent or not rhs)):
            _compare_leaf(lhs, rhs, path, res)
            return
        left = {} if lhs_absent else lhs
        right = {} if rhs_absent else rhs
        for key, value in left.items():
            _compare(value, right.get(key, _ABSENT), _child(node, key), path + (("f", key),), res)
        for key, value in right.items():
            if key not in left:
                _compare(_ABSENT, value, _child(node, key), path + (("f", key),), res)
    elif (lhs_absent or isinstance(lhs, list)) and (rhs_absent or isinstance(rhs, list)):
        kind, _ = _list_info(node)
        if kind == "atomic" or ((lhs_absent or not lhs) and (rhs_absent or not rhs)):
            _compare_leaf(lhs, rhs, path, res)
            return
        left = _indexed([] if lhs_absent else lhs, node)
        right = _indexed([] if rhs_absent else rhs, node)
        item_node = _items(node)
        for pe, value in left.items():
            _compare(value, right.get(pe, _ABSENT), item_node, path + (pe,), res)
        for pe, value in right.items():
            if pe not in left:
                _compare(_ABSENT, value, item_node, path + (pe,), res)
    else:
        _compare_leaf(lhs, rhs, path, res)
        return
    # a container that appeared or went away is itself added or removed (the item hook)
    if path:
        if lhs_absent:
            res.added.add(path)
        elif rhs_absent:
            res.removed.add(path)


def _compare_leaf(lhs: Any, rhs: Any, path: Path, res: _Comparison) -> None:
    if lhs is _ABSENT:
        res.added.add(path)
    elif rhs is _ABSENT:
        res.removed.add(path)
    elif not json_equal(lhs, rhs):
        res.modified.add(path)


def _compare_objects(lhs: dict, rhs: dict, node: SchemaNode | None) -> _Comparison:
    res = _Comparison(set(), set(), set())
    _compare(lhs, rhs, node, (), res)
    return res


def _merge_lists(lhs: list, rhs: list, node: SchemaNode | None) -> list:
    """Merge associative lists the way typed.Merge orders them (applied order wins for shared items)."""
    left, right = _indexed(lhs, node), _indexed(rhs, node)
    item_node = _items(node)
    lorder, rorder = list(left), list(right)
    shared = [pe for pe in rorder if pe in left]
    next_shared = shared.pop(0) if shared else None
    out: list = []

    def merged(pe: tuple) -> Any:
        if pe in left and pe in right:
            return _merge(left[pe], right[pe], item_node)
        return copy.deepcopy(left[pe]) if pe in left else _without_nulls(right[pe])

    li = ri = 0
    while li < len(lorder) or ri < len(rorder):
        if li < len(lorder) and ri < len(rorder):
            pe = lorder[li]
            if pe == rorder[ri]:
                out.append(merged(pe))
                li += 1
                ri += 1
                next_shared = shared.pop(0) if shared else None
                continue
            if pe in right and next_shared is not None and next_shared != pe:
                li += 1  # shared item, emitted when the applied list reaches it
                continue
        if li < len(lorder) and lorder[li] not in right:
            out.append(merged(lorder[li]))
            li += 1
            continue
        if ri < len(rorder):
            pe = rorder[ri]
            out.append(merged(pe))
            ri += 1
            if next_shared == pe:
                next_shared = shared.pop(0) if shared else None
        else:
            li += 1  # a shared item already emitted
    return out


def _merge(lhs: Any, rhs: Any, node: SchemaNode | None) -> Any:
    """typed.Merge with the apply rule: the applied value (rhs) wins at every leaf."""
    if isinstance(lhs, dict) and isinstance(rhs, dict):
        if _atomic_map(node) or (not lhs and not rhs):
            return _without_nulls(rhs)
        out = {}
        for key, value in lhs.items():
            if key not in rhs:
                out[key] = copy.deepcopy(value)
            elif rhs[key] is not None:  # an applied null removes the field
                out[key] = _merge(value, rhs[key], _child(node, key))
        for key, value in rhs.items():
            if key not in lhs and value is not None:
                out[key] = _without_nulls(value)
        return out
    if isinstance(lhs, list) and isinstance(rhs, list):
        kind, _ = _list_info(node)
        if kind == "atomic" or (not lhs and not rhs):
            return _without_nulls(rhs)
        return _merge_lists(lhs, rhs, node)
    return _without_nulls(rhs)


def _split(paths: Iterable[Path]) -> tuple[set, dict]:
    members: set = set()
    children: dict = {}
    for path in paths:
        if len(path) == 1:
            members.add(path[0])
        elif path:
            children.setdefault(path[0], set()).add(path[1:])
    return members, children


def _remove(value: Any, paths: set[Path], node: SchemaNode | None) -> Any:
    """typed.RemoveItems: drop member paths; containers emptied by the removal disappear (_ABSENT)."""
    members, children = _split(paths)
    if isinstance(value, dict) and value and not _atomic_map(node):
        out = {}
        for key, child_value in value.items():
            pe = ("f", key)
            if pe in members:
                continue
            if pe in children:
                child_value = _remove(child_value, children[pe], _child(node, key))
                if child_value is _ABSENT:
                    continue
            out[key] = child_value
        return out if out else _ABSENT
    if isinstance(value, list) and value:
        kind, keys = _list_info(node)
        if kind == "atomic":
            return value
        item_node = _items(node)
        out_items = []
        for i, item in enumerate(value):
            pe = _item_pe(kind, keys, i, item, item_node)
            if pe in members:
                continue
            if pe in children:
                item = _remove(item, children[pe], item_node)
                if item is _ABSENT:
                    item = {}
            out_items.append(item)
        return out_items if out_items else _ABSENT
    return value


def _remove_paths(obj: dict, paths: set[Path], node: SchemaNode | None) -> dict:
    if not paths:
        return obj
    result = _remove(obj, paths, node)
    return {} if result is _ABSENT else result


def _with_named_fields(paths: set[Path], root: SchemaNode | None) -> set[Path]:
    """Set.EnsureNamedFieldsAreMembers: struct fields on the way to a member become members."""
    out = set(paths)
    nodes: dict[Path, SchemaNode | None] = {(): root}

    def node_at(prefix: Path) -> SchemaNode | None:
        if prefix not in nodes:
            parent = node_at(prefix[:-1])
            kind, value = prefix[-1]
            nodes[prefix] = _child(parent, value) if kind == "f" else _items(parent) if kind == "k" else None
        return nodes[prefix]

    for path in paths:
        for i in range(1, len(path)):
            prefix = path[:i]
            if prefix not in out and prefix[-1][0] == "f" and _declared(node_at(prefix[:-1]), prefix[-1][1]):
                out.add(prefix)
    return out


def _without_prefixes(paths: set[Path], prefixes: Collection[Path]) -> set[Path]:
    """Set.RecursiveDifference against the ignored (reset) field paths."""
    if not prefixes:
        return paths
    return {p for p in paths if not any(p[: len(pre)] == pre for pre in prefixes)}


# --------------------------------------------------------------------------- managers


@dataclass
class _Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: set

    @property
    def key(self) -> tuple:
        # BuildManagerIdentifier: appliers are identified without their apiVersion
        version = "" if self.operation == "Apply" else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    @property
    def identifier(self) -> str:
        ident: dict = {"manager": self.manager, "operation": self.operation}
        if self.operation != "Apply" and self.api_version:
            ident["apiVersion"] = self.api_version
        if self.subresource:
            ident["subresource"] = self.subresource
        return json.dumps(ident, separators=(",", ":"), ensure_ascii=False)

    def printed(self) -> str:
        text = json.dumps(self.manager, ensure_ascii=False)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text


Managers = dict[tuple, _Entry]


def _decode(obj: dict | None) -> Managers | None:
    """The managers of an object's managedFields; None when they cannot be decoded."""
    entries = ((obj or {}).get("metadata") or {}).get("managedFields") or []
    if not isinstance(entries, list):
        return None
    managers: Managers = {}
    try:
        for raw in entries:
            if not isinstance(raw, dict):
                return None
            if raw.get("fieldsType", "FieldsV1") != "FieldsV1":
                return None
            entry = _Entry(str(raw.get("manager", "")), str(raw.get("operation", "")),
                           str(raw.get("apiVersion", "")), str(raw.get("subresource", "")),
                           raw.get("time"), _from_fields_v1(raw.get("fieldsV1") or {}))
            if entry.key in managers:
                managers[entry.key].fields |= entry.fields
            else:
                managers[entry.key] = entry
    except (ValueError, TypeError):
        return None
    return managers


def _encode(managers: Managers) -> list[dict]:
    def order(e: _Entry) -> tuple:
        return (e.operation != "Apply", e.time or "", e.manager, e.api_version, e.subresource)

    out = []
    for entry in sorted(managers.values(), key=order):
        raw: dict = {"manager": entry.manager, "operation": entry.operation, "apiVersion": entry.api_version}
        if entry.time:
            raw["time"] = entry.time
        raw["fieldsType"] = "FieldsV1"
        raw["fieldsV1"] = _to_fields_v1(entry.fields)
        if entry.subresource:
            raw["subresource"] = entry.subresource
        out.append(raw)
    return out


def _with_managed_fields(obj: dict, managers: Managers) -> dict:
    metadata = dict(obj.get("metadata") or {})
    encoded = _encode(managers)
    if encoded:
        metadata["managedFields"] = encoded
    else:
        metadata.pop("managedFields", None)
    return {**obj, "metadata": metadata}


def _stripped(obj: dict | None) -> dict:
    """A deep copy without metadata.managedFields (never part of any field set)."""
    if not obj:
        return {}
    out = copy_json(obj)
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
    return out


def _unmanaged_view(obj: dict | None) -> dict:
    """`obj` without metadata.managedFields, sharing everything else (for read-only walks)."""
    if not obj:
        return {}
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or "managedFields" not in metadata:
        return obj
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}


class _Conflicts(Exception):
    def __init__(self, conflicts: list[tuple[_Entry, Path]]) -> None:
        super().__init__(f"{len(conflicts)} conflicts")
        self.conflicts = conflicts


def _conflict_error(conflicts: list[tuple[_Entry, Path]]) -> ApiError:
    """internal.NewConflictError: 409 Conflict with one FieldManagerConflict cause per field."""
    conflicts = sorted(conflicts, key=lambda c: (c[0].identifier, _iteration_order(c[1])))
    causes = [Cause("FieldManagerConflict", f"conflict with {entry.printed()}", _path_str(path))
              for entry, path in conflicts]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {entry.printed()}: {_path_str(path)}"
    else:
        lines: list[str] = []
        current = None
        for entry, path in conflicts:
            if entry.identifier != current:
                current = entry.identifier
                lines.append(f"conflicts with {entry.printed()}:")
            lines.append(f"- {_path_str(path)}")
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, causes=causes)


def _update(old: dict, new: dict, managers: Managers, writer: tuple, force: bool,
            node: SchemaNode | None, ignored: Collection[Path]) -> _Comparison:
    """Updater.update: take changed fields away from other managers, or report them as conflicts."""
    res = _compare_objects(old, new, node)
    res = _Comparison(*(_without_prefixes(s, ignored) for s in (res.added, res.modified, res.removed)))
    changed = res.modified | res.added
    conflicts: dict[tuple, set] = {}
    for key, entry in managers.items():
        if key != writer and (overlap := entry.fields & changed):
            conflicts[key] = overlap
    if conflicts and not force:
        raise _Conflicts([(managers[key], path) for key, paths in conflicts.items() for path in paths])
    for key, entry in managers.items():
        if key != writer:
            entry.fields = entry.fields - conflicts.get(key, set()) - res.removed
    for key in [k for k, e in managers.items() if not e.fields]:
        del managers[key]
    return res


def _prune(merged: dict, managers: Managers, last: set[Path], node: SchemaNode | None) -> dict:
    """Updater.prune: drop what the applier applied last time and nobody manages now."""
    if not last:
        return merged
    last_named = _with_named_fields(last, node)
    pruned = _remove_paths(merged, last_named, node)
    # addBackOwnedItems: everything still managed by anyone (appliers or updaters) returns
    managed = set().union(*(e.fields for e in managers.values()))
    merged_set = _with_named_fields(_field_set(merged, node), node)
    pruned_set = _with_named_fields(_field_set(pruned, node), node)
    pruned = _remove_paths(merged, merged_set - (pruned_set | _with_named_fields(managed, node)), node)
    # addBackDanglingItems: only fields the applier used to own may go
    pruned_set = _with_named_fields(_field_set(pruned, node), node)
    return _remove_paths(merged, (merged_set - pruned_set) & last_named, node)


def _apply_once(live: dict, applied: dict, managers: Managers, entry: _Entry, force: bool,
                node: SchemaNode | None, ignored: Collection[Path]) -> dict:
    """Updater.Apply on private copies; updates `managers` in place, returns the new object."""
    merged = _merge(live, applied, node)
    last = managers.get(entry.key)
    entry.fields = _without_prefixes(_field_set(applied, node), ignored)
    entry.time = last.time if last else None
    managers[entry.key] = entry
    new = _prune(merged, managers, last.fields if last else set(), node)
    _update(live, new, managers, entry.key, force, node, ignored)
    if entry.key in managers:
        entry.fields = entry.fields - _STRIPPED
        if not entry.fields:
            del managers[entry.key]
    return new


def _allowed_by_last_applied(live: dict, node: SchemaNode | None, api_version: str) -> set[Path] | None:
    """lastAppliedManager: fields of the client-side-apply annotation that still match the live object."""
    annotation = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED_ANNOTATION)
    if not annotation:
        return None
    try:
        last_applied = json.loads(annotation)
    except ValueError:
        return None
    if not isinstance(last_applied, dict) or last_applied.get("apiVersion") != api_version:
        return None
    res = _compare_objects(last_applied, live, node)
    return _field_set(last_applied, node) - res.modified - res.added - res.removed


def _last_applied_value(applied: dict) -> str:
    """buildLastApplied: the applied object without the annotation, as Go's json.Encoder writes it."""
    obj = copy.deepcopy(applied)
    annotations = (obj.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED_ANNOTATION, None)
    return _go_json(obj) + "\n"


def _ignored_paths(ignored: Iterable[Sequence[str]]) -> list[Path]:
    return [tuple(("f", name) for name in field) for field in ignored]


def _gvk_nn(obj: dict) -> str:
    metadata = obj.get("metadata") or {}
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    return (f"{metadata.get('namespace', '')}/{metadata.get('name', '')}; "
            f"{group}/{version}, Kind={obj.get('kind', '')}")


def _check_typed(value: Any, node: SchemaNode | None, path: Path, obj: dict) -> None:
    """Reject applied configurations that structured-merge-diff cannot type (duplicate keys)."""
    if isinstance(value, dict):
        if not _atomic_map(node):
            for key, child_value in value.items():
                _check_typed(child_value, _child(node, key), path + (("f", key),), obj)
    elif isinstance(value, list):
        kind, keys = _list_info(node)
        if kind == "atomic":
            return
        item_node = _items(node)
        seen: set = set()
        for i, item in enumerate(value):
            pe = _item_pe(kind, keys, i, item, item_node)
            if pe in seen:
                raise bad_request(f"failed to create typed patch object ({_gvk_nn(obj)}): {_path_str(path)}: "
                                  f"duplicate entries for key {_path_str((pe,))}")
            seen.add(pe)
            _check_typed(item, item_node, path + (pe,), obj)


def _record_update(old: dict, new: dict, managers: Managers, manager: str, operation: str, api_version: str,
                   subresource: str, now: str, schema: SchemaNode | None, ignored: Collection[Path]) -> None:
    """managedFieldsUpdater.Update: the writer gains what it changed; others lose it."""
    writer = ("\x00current-operation",)
    res = _update(old, new, managers, writer, True, schema, ignored)
    changed = _without_prefixes((res.modified | res.added) - res.removed, ignored) - _STRIPPED
    if not changed:
        return
    entry = _Entry(manager, operation, api_version, subresource, now, changed)
    previous = managers.get(entry.key)
    if previous is not None:
        entry.fields |= previous.fields
    managers[entry.key] = entry


# --------------------------------------------------------------------------- public API


def fields_of(obj: dict, schema: SchemaNode | None) -> dict:
    """The FieldsV1 set of the fields present in `obj` (what an applier of `obj` would own).

    Object-identity metadata (name, namespace, uid, resourceVersion, generation,
    creationTimestamp, managedFields) and apiVersion/kind are never tracked.
    """
    return _to_fields_v1(_field_set(_stripped(obj), schema) - _STRIPPED)


def server_side_apply(live: dict | None, applied: dict, *, manager: str, schema: SchemaNode | None,
                      force: bool, now: str, api_version: str, subresource: str = "",
                      ignored: Iterable[Sequence[str]] = ()) -> dict:
    """Apply `applied` (an apply-patch body) as `manager` and return the new object.

    `live` is the stored object or None when the apply creates it. Fields of the
    configuration are merged into `live` (list-map keys, atomic lists replaced);
    fields the manager applied before but dropped are removed unless another
    manager owns them. Changing a field another manager owns is a 409 Conflict
    unless `force`, which takes it over. `ignored` lists field paths reset by the
    resource's strategy (e.g. `[("status",)]` for the main resource): they are never
    owned and never conflict. The caller stores the result (and for `kubectl`,
    the last-applied annotation is kept in sync, as upstream does).
    """
    if not isinstance(applied, dict):
        raise bad_request("apply patch must be an object")
    if applied.get("apiVersion") != api_version:
        raise bad_request("Incorrect version specified in apply patch. Specified patch version: "
                          f"{applied.get('apiVersion', '')}, expected: {api_version}")
    if (applied.get("metadata") or {}).get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")
    _check_typed(applied, schema, (), applied)
    ignored_paths = _ignored_paths(ignored)
    live_obj = _stripped(live)
    config = copy.deepcopy(applied)
    managers = _decode(live) or {}
    if live and not managers:
        # skipNonAppliedManager: fields that predate field tracking get an owner
        _record_update({}, live_obj, managers, BEFORE_FIRST_APPLY_MANAGER, "Update", api_version, "",
                       now, schema, ignored_paths)

    def attempt(force_: bool) -> tuple[dict, Managers]:
        trial = {k: _Entry(e.manager, e.operation, e.api_version, e.subresource, e.time, set(e.fields))
                 for k, e in managers.items()}
        entry = _Entry(manager, "Apply", api_version, subresource, None, set())
        new = _apply_once(live_obj, config, trial, entry, force_, schema, ignored_paths)
        if entry.key in trial and not json_equal(new, live_obj):
            trial[entry.key].time = now
        return new, trial

    try:
        new_obj, result_managers = attempt(force)
    except _Conflicts as e:
        allowed = _allowed_by_last_applied(live_obj, schema, api_version) if manager == _KUBECTL else None
        if allowed is None:
            raise _conflict_error(e.conflicts) from None
        remaining = [(entry, path) for entry, path in e.conflicts if path not in allowed]
        if remaining:
            raise _conflict_error(remaining) from None
        new_obj, result_managers = attempt(True)

    annotations = (new_obj.get("metadata") or {}).get("annotations") or {}
    if manager == _KUBECTL and annotations.get(LAST_APPLIED_ANNOTATION):
        annotations[LAST_APPLIED_ANNOTATION] = _last_applied_value(applied)
    return _with_managed_fields(new_obj, result_managers)


def update_managed_fields(old: dict | None, new: dict, *, manager: str, schema: SchemaNode | None, now: str,
                          api_version: str, operation: str = "Update", subresource: str = "",
                          ignored: Iterable[Sequence[str]] = ()) -> dict:
    """Record a non-apply write (create, update, patch) of `new` over `old` by `manager`.

    Returns `new` with metadata.managedFields updated: `manager` owns the fields it
    added or changed, other managers lose them, and managers left with nothing are
    dropped. A client that sends managedFields (e.g. `[{}]` to reset them) on a
    main-resource write has them taken as the starting point, as upstream does.
    """
    managers: Managers | None = None
    sent = (new.get("metadata") or {}).get("managedFields")
    if not subresource and isinstance(sent, list) and sent:
        managers = _decode(new)
    if not managers:
        managers = _decode(old) or {}
    ignored_paths = _ignored_paths(ignored)
    # Whole top-level fields the strategy resets (spec on a status write, status on a main
    # write) cannot change ownership: leave them out of the diff instead of walking them.
    skipped = {path[0] for path in ignored_paths if len(path) == 1}

    def view(obj: dict | None) -> dict | None:
        return {k: v for k, v in obj.items() if k not in skipped} if obj and skipped else obj

    # The diff only reads the objects: views without managedFields are enough, no deep copies.
    _record_update(_unmanaged_view(view(old)), _unmanaged_view(view(new)), managers, manager, operation,
                   api_version, subresource, now, schema, ignored_paths)
    return _with_managed_fields(copy_json(new), managers)
