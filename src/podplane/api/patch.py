"""PATCH bodies: JSON patch (RFC 6902), JSON merge patch (RFC 7386), strategic merge patch.

Role: the pure document transformations behind `PATCH` with
`application/json-patch+json`, `application/merge-patch+json` and
`application/strategic-merge-patch+json`. Every function deep-copies its inputs
and returns a new document; errors are `ApiError`s worded and coded like the
upstream apiserver (`endpoints/handlers/patch.go`).

Flow: the apiserver's patch handler decodes the body, picks the function by
content type, then validates and stores the result and records field ownership
with `podplane.api.apply.update_managed_fields`. Server-side apply
(`application/apply-patch+yaml`) lives in `podplane.api.apply`.

Strategic merge patch is a port of k8s.io/apimachinery/pkg/util/strategicpatch
(the server half: `StrategicMergeMapPatch`): per-field patch metadata
(`x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key`) comes from a
`podplane.api.schema.SchemaNode`; directives `$patch`, `$setElementOrder/`,
`$retainKeys` and `$deleteFromPrimitiveList/` are honoured and never leak into
the result. Without a schema it degrades to a merge patch that still handles them.
"""

from __future__ import annotations

import copy
from typing import Any

from podplane.api.errors import ApiError, bad_request
from podplane.api.jsonvalue import copy_json, json_equal
from podplane.api.schema import SchemaNode

__all__ = [
    "MAX_JSON_PATCH_OPERATIONS",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
]

MAX_JSON_PATCH_OPERATIONS = 10000  # upstream maxJSONPatchOperations

# NewGenericServerResponse(422, ...) drops the server message and says this instead
_GENERIC_422 = "the server rejected our request due to an error in our request"


def _unprocessable() -> ApiError:
    return ApiError(422, "Invalid", _GENERIC_422)


# --------------------------------------------------------------------------- shared helpers


def _json_kind(value: Any) -> str:
    """The JSON type name Go's encoding/json uses in UnmarshalTypeError messages."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"


def _go_float(f: float) -> str:
    if f.is_integer() and abs(f) < 1e21:
        return str(int(f))
    return repr(f)


def _go_repr(value: Any) -> str:
    """Go's `%v` of a decoded JSON value, as it appears in upstream error messages."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_repr(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_repr(v) for v in value) + "]"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _go_type(value: Any) -> str:
    """Go's reflect.TypeOf(...) of a decoded JSON value."""
    if value is None:
        return "<nil>"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    return "string"


# --------------------------------------------------------------------------- JSON patch


class _OpError(Exception):
    """One JSON patch operation could not be applied (upstream: 422)."""


def _atoi(token: str) -> int:
    # strconv.Atoi: optional sign, decimal digits only
    body = token[1:] if token[:1] in "+-" else token
    if not body or not body.isascii() or not body.isdigit():
        raise _OpError(f"Unable to access invalid index: {token}")
    return int(token)


def _pointer(op: dict, field: str) -> list[str]:
    path = op.get(field)
    if not isinstance(path, str):
        raise _OpError(f"operation missing {field} field")
    if path == "":
        return []
    if not path.startswith("/"):
        raise _OpError(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _list_index(token: str, length: int, *, allow_end: bool) -> int:
    # evanphx/json-patch accepts negative indices (SupportNegativeIndices = true)
    idx = _atoi(token)
    if idx > length or (idx == length and not allow_end):
        raise _OpError(f"Unable to access invalid index: {idx}")
    if idx < 0:
        if idx < -length:
            raise _OpError(f"Unable to access invalid index: {idx}")
        idx += length
    return idx


def _resolve(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for token in tokens:
        if isinstance(node, dict):
            if token not in node:
                raise _OpError(f"doc is missing key: {token}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_list_index(token, len(node), allow_end=False)]
        else:
            raise _OpError(f"cannot traverse into a scalar at {token!r}")
    return node


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _resolve(doc, tokens[:-1])
    key = tokens[-1]
    if isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list):
        if key == "-":
            parent.append(value)
        else:
            parent.insert(_list_index(key, len(parent), allow_end=True), value)
    else:
        raise _OpError("add operation does not apply: doc is missing path")
    return doc


def _remove(doc: Any, tokens: list[str]) -> tuple[Any, Any]:
    if not tokens:
        raise _OpError("remove operation does not apply: cannot remove the whole document")
    parent = _resolve(doc, tokens[:-1])
    key = tokens[-1]
    if isinstance(parent, dict):
        if key not in parent:
            raise _OpError(f"remove operation does not apply: doc is missing key: {key}")
        return doc, parent.pop(key)
    if isinstance(parent, list):
        return doc, parent.pop(_list_index(key, len(parent), allow_end=False))
    raise _OpError("remove operation does not apply: doc is missing path")


def _replace(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _resolve(doc, tokens[:-1])
    key = tokens[-1]
    if isinstance(parent, dict):
        if key not in parent:
            raise _OpError(f"replace operation does not apply: doc is missing key: {key}")
        parent[key] = value
    elif isinstance(parent, list):
        parent[_list_index(key, len(parent), allow_end=False)] = value
    else:
        raise _OpError("replace operation does not apply: doc is missing path")
    return doc


def _apply_op(doc: Any, op: dict) -> Any:
    kind = op.get("op")
    value = copy.deepcopy(op.get("value"))
    if kind == "add":
        return _add(doc, _pointer(op, "path"), value)
    if kind == "remove":
        return _remove(doc, _pointer(op, "path"))[0]
    if kind == "replace":
        return _replace(doc, _pointer(op, "path"), value)
    if kind in ("move", "copy"):
        source, target = _pointer(op, "from"), _pointer(op, "path")
        if kind == "move":
            if target[: len(source)] == source and len(target) > len(source):
                raise _OpError("move operation cannot move a value into one of its children")
            doc, moved = _remove(doc, source)
        else:
            moved = copy.deepcopy(_resolve(doc, source))
        return _add(doc, target, moved)
    if kind == "test":
        tokens = _pointer(op, "path")
        try:
            current = _resolve(doc, tokens)
        except _OpError:
            # evanphx/json-patch: a missing member tests equal to null
            if value is None and tokens and isinstance(_resolve(doc, tokens[:-1]), dict):
                return doc
            raise
        if not json_equal(current, value):
            raise _OpError(f"testing value {op.get('path')} failed: test failed")
        return doc
    raise _OpError(f"Unexpected kind: {kind}")


def apply_json_patch(doc: Any, ops: Any) -> Any:
    """Apply an RFC 6902 patch document and return the patched copy of `doc`.

    A body that is not a list of operation objects is 400 BadRequest (upstream's
    `jsonpatch.DecodePatch` error); more than 10000 operations is 413; an operation
    that cannot be applied (missing path, failed test, unknown op) fails the whole
    patch with upstream's generic 422 Invalid.
    """
    if ops is None:  # `null` decodes to an empty patch
        return copy.deepcopy(doc)
    if not isinstance(ops, list):
        raise bad_request(f"json: cannot unmarshal {_json_kind(ops)} into Go value of type jsonpatch.Patch")
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise bad_request(
                f"json: cannot unmarshal {_json_kind(op)} into Go value of type jsonpatch.Operation")
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise ApiError(413, "RequestEntityTooLarge",
                       "Request entity too large: The allowed maximum operations in a JSON patch is "
                       f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}")
    result = copy.deepcopy(doc)
    try:
        for op in ops:
            result = _apply_op(result, op or {})
    except _OpError as e:
        raise _unprocessable() from e
    return result


# --------------------------------------------------------------------------- merge patch


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch: maps merge, `null` deletes, anything else replaces.

    A non-object patch replaces the whole document (RFC 7386); the caller rejects
    a result that is not an object.
    """
    return _merge_patch(copy.deepcopy(doc), patch)


# --------------------------------------------------------------------------- strategic merge patch

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ORDER = "$setElementOrder"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList"

# k8s.io/apimachinery/pkg/util/mergepatch error texts
_ERR_PRIMITIVE_LIST = "invalid patch format of primitive list"
_ERR_RETAIN_KEYS = "invalid patch format of retainKeys"
_ERR_SET_ORDER = "invalid patch format of setElementOrder list"


class _SmpError(Exception):
    """A strategic merge patch the server cannot apply.

    Upstream answers the mergepatch sentinel errors with 400 (and lists of lists with
    422); its remaining errors (missing merge key, unknown `$patch` value, ...) surface
    as 500s. They are client errors, so podplane answers them 400 with the same text.
    """

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code

    def to_api_error(self) -> ApiError:
        return _unprocessable() if self.code == 422 else bad_request(str(self))


def _no_merge_key(item: Any, key: str) -> _SmpError:
    return _SmpError(f"map: {_go_repr(item)} does not contain declared merge key: {key}")


def _bad_arg(expected: str, actual: Any) -> _SmpError:
    return _SmpError(f"expected a {expected}, but received a {_go_type(actual)}")


def _child(node: SchemaNode | None, key: str) -> SchemaNode | None:
    return node.field(key) if node is not None else None


def _items(node: SchemaNode | None) -> SchemaNode | None:
    return node.items() if node is not None else None


def _strategy(node: SchemaNode | None) -> tuple[str, str]:
    """(patch strategy without retainKeys, merge key) of a field."""
    if node is None:
        return "", ""
    strategies = [s for s in node.patch_strategy.split(",") if s and s != "retainKeys"]
    return (strategies[0] if strategies else ""), node.patch_merge_key


def _key_eq(a: Any, b: Any) -> bool:
    # Go's == on interface{} values; maps and slices never compare equal here
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return json_equal(a, b)


def _extract_key(key: str, prefix: str, error: str) -> str:
    parts = key.split("/", 1)
    if len(parts) <= 1 or parts[0] != prefix:
        raise _SmpError(error)
    return parts[1]


def _element_kind(*lists: list) -> str:
    """sliceElementType: 'map' or a scalar kind; all elements must agree."""
    kind = ""
    for items in lists:
        for item in items:
            if isinstance(item, list):
                raise _SmpError("lists of lists are not supported", 422)
            current = ("map" if isinstance(item, dict) else "nil" if item is None
                       else "bool" if isinstance(item, bool) else "number" if isinstance(item, int | float)
                       else "string")
            if kind and kind != current:
                raise _SmpError(f"list element types are not identical: {_go_repr(list(lists))}")
            kind = current
    return kind or "nil"


def _fresh(value: Any, node: SchemaNode | None) -> Any:
    """A patch value with nothing to merge into: resolve its directives and nulls.

    Upstream copies such values verbatim and lets decoding into Go structs drop
    `$`-keys and nulls; podplane stores plain JSON, so it resolves them here.
    """
    if isinstance(value, dict):
        return _merge_map({}, value, node)
    if isinstance(value, list):
        strategy, merge_key = _strategy(node)
        if strategy == "merge":
            return _merge_slice([], value, node, merge_key)
        items = _items(node)
        # list directives mean nothing in a replaced list: drop deletions and bare markers
        return [_fresh(v, items) for v in value
                if not (isinstance(v, dict) and _DIRECTIVE in v and (v[_DIRECTIVE] == "delete" or len(v) == 1))]
    return value


def _apply_retain_keys(original: dict, patch: dict) -> None:
    if _RETAIN_KEYS not in patch:
        return
    retained = patch.pop(_RETAIN_KEYS)
    if not isinstance(retained, list):
        raise _SmpError(_ERR_RETAIN_KEYS)
    for key, value in patch.items():
        if value is None or key.startswith((_DELETE_PRIMITIVE, _SET_ORDER)):
            continue
        if key not in retained:
            raise _SmpError(_ERR_RETAIN_KEYS)
    for key in [k for k in original if k not in retained]:
        del original[key]


def _index(order: list, item: Any, merge_key: str, kind: str) -> int:
    def value_of(v: Any) -> Any:
        if kind == "map":
            return v.get(merge_key) if isinstance(v, dict) else None
        return v

    wanted = value_of(item)
    for i, candidate in enumerate(order):
        got = value_of(candidate)
        if (wanted is None and got is None) or _key_eq(wanted, got):
            return i
    return -1


def _validate_merge_keys(merge_key: str, *lists: list) -> None:
    for items in lists:
        for item in items:
            if not isinstance(item, dict):
                raise _bad_arg("map[string]interface {}", item)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)


def _normalize_slice_order(to_sort: list, order: list, merge_key: str, kind: str) -> list:
    to_delete: list = []
    if kind == "map":
        _validate_merge_keys(merge_key, to_sort, order)
        to_delete = [v for v in to_sort if v.get(_DIRECTIVE) == "delete"]
        to_sort = [v for v in to_sort if v.get(_DIRECTIVE) != "delete"]
    # Go's comparator puts items missing from `order` first; sorted() is stable like SliceStable
    ordered = sorted(to_sort, key=lambda v: _index(order, v, merge_key, kind))
    return ordered + to_delete


def _merge_sorted(left: list, right: list, server_order: list, merge_key: str, kind: str) -> list:
    """mergeSortedSlice: interleave server-only items (left) into patch items (right)."""
    out: list = []
    i = j = 0
    while i < len(left) and j < len(right):
        li = _index(server_order, left[i], merge_key, kind)
        ri = _index(server_order, right[j], merge_key, kind)
        if li >= 0 and ri >= 0 and li < ri:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    return out + left[i:] + right[j:]


def _normalize_element_order(patch_items: list, server_only: list, patch_order: list, server_order: list,
                             merge_key: str, kind: str) -> list:
    patch_items = _normalize_slice_order(patch_items, patch_order, merge_key, kind)
    server_only = _normalize_slice_order(server_only, server_order, merge_key, kind)
    return _merge_sorted(server_only, patch_items, server_order, merge_key, kind)


def _partition(merged: list, by: list, merge_key: str, kind: str) -> tuple[list, list]:
    """Split merged items into (present in `by`, server-only)."""
    present: list = []
    server_only: list = []
    for item in merged:
        if kind == "map":
            if not isinstance(item, dict):
                raise _bad_arg("map[string]interface {}", item)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            found = any(isinstance(b, dict) and merge_key in b and _key_eq(b[merge_key], item[merge_key])
                        for b in by)
        else:
            found = any(_key_eq(b, item) or (b is None and item is None) for b in by)
        (present if found else server_only).append(item)
    return present, server_only


def _dedupe(items: list) -> list:
    out: list = []
    for item in items:
        if not any(_key_eq(item, seen) or (item is None and seen is None) for seen in out):
            out.append(item)
    return out


def _delete_from_slice(current: list, to_delete: list) -> list:
    return [v for v in current if not any(_key_eq(v, d) for d in to_delete)]


def _find_by_key(items: list, merge_key: str, value: Any) -> int:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _SmpError(f"value for key {i} is not a map.")
        if merge_key in item and _key_eq(item[merge_key], value):
            return i
    return -1


def _merge_special_elements(original: list, patch: list, merge_key: str,
                            items_node: SchemaNode | None) -> tuple[list, list]:
    """Apply `$patch` list elements: delete by merge key, or replace the whole list."""
    plain: list = []
    replace = False
    for item in patch:
        if _DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[_DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            while (idx := _find_by_key(original, merge_key, item[merge_key])) >= 0:
                original = original[:idx] + original[idx + 1:]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _SmpError("merging lists cannot yet be specified in the patch")
        else:
            raise _SmpError(f"unknown patch type: {directive} in map: {_go_repr(item)}")
    if replace:
        return [_fresh(v, items_node) for v in plain], []
    return original, plain


def _merge_slice(original: list, patch: list, node: SchemaNode | None, merge_key: str) -> list:
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    items_node = _items(node)
    if kind != "map":
        merged = _dedupe(original + patch)
    else:
        if not merge_key:
            raise _SmpError("cannot merge lists without merge key for type map")
        original, patch = _merge_special_elements(original, patch, merge_key, items_node)
        merged = list(original)
        for item in patch:
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            idx = _find_by_key(merged, merge_key, item[merge_key])
            if idx >= 0:
                merged[idx] = _merge_map(merged[idx], item, items_node)
            else:
                merged.append(_fresh(item, items_node))
    patch_items, server_only = _partition(merged, patch, merge_key, kind)
    return _normalize_element_order(patch_items, server_only, patch, original, merge_key, kind)


def _validate_set_order(patch_list: list, set_order: list, merge_key: str) -> None:
    """The patch list must be a subsequence of the `$setElementOrder` list."""
    if not set_order or not patch_list:
        return
    if not merge_key and any(isinstance(v, dict) for v in patch_list):
        return  # maps without a merge key cannot be matched (upstream would panic comparing them)
    if merge_key:
        for item in patch_list:
            if not isinstance(item, dict):
                raise _bad_arg("map[string]interface {}", item)
        non_delete = [v for v in patch_list if v.get(_DIRECTIVE) != "delete"]
    else:
        non_delete = patch_list
    pi = si = 0
    while pi < len(non_delete) and si < len(set_order):
        item = non_delete[pi]
        if isinstance(item, dict) and _DIRECTIVE in item:
            pi += 1
            continue
        wanted = set_order[si]
        if merge_key:
            for side in (item, wanted):
                if not isinstance(side, dict):
                    raise _bad_arg("map[string]interface {}", side)
                if merge_key not in side:
                    raise _no_merge_key(side, merge_key)
            equal = _key_eq(item[merge_key], wanted[merge_key])
        else:
            equal = _key_eq(item, wanted)
        if equal:
            pi += 1
        si += 1
    if pi < len(non_delete) and si >= len(set_order):
        raise _SmpError(f"The order in patch list:\n{_go_repr(patch_list)}\n doesn't match "
                        f"{_SET_ORDER} list:\n{_go_repr(set_order)}\n")


def _merge_set_element_order(original: dict, patch: dict, node: SchemaNode | None) -> None:
    """Merge each `$setElementOrder/<field>` list with its field, then enforce the order.

    Precedence: `$setElementOrder` > order in the patch list > order in the live list.
    """
    for key in [k for k in patch if k.startswith(_SET_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _bad_arg("[]interface {}", order)
        field = _extract_key(key, _SET_ORDER, _ERR_SET_ORDER)
        found_original, found_patch = field in original, field in patch
        original_list, patch_list = original.get(field), patch.get(field)
        if found_patch and patch_list is None:
            continue  # the field is being deleted; the main merge loop does it
        if found_original and not isinstance(original_list, list):
            raise _bad_arg("[]interface {}", original_list)
        if found_patch and not isinstance(patch_list, list):
            raise _bad_arg("[]interface {}", patch_list)
        child = _child(node, field)
        strategy, merge_key = _strategy(child)
        _validate_set_order(patch_list or [], order, merge_key)
        if found_original and found_patch:
            merged = (_merge_slice(original_list, patch_list, child, merge_key) if strategy == "merge"
                      else _fresh(patch_list, child))
        elif found_original:
            merged = original_list
        elif found_patch:
            merged = _fresh(patch_list, child)
        else:
            continue
        patch.pop(field, None)
        kind = _element_kind(original_list or [], patch_list or [], merged)
        if merged and (kind != "map" or merge_key):
            patch_items, server_only = _partition(merged, order, merge_key, kind)
            merged = _normalize_element_order(patch_items, server_only, order, original_list or [],
                                              merge_key, kind)
        original[field] = merged


def _merge_map(original: dict | None, patch: dict, node: SchemaNode | None) -> dict:
    """mergeMap: merge `patch` into `original` (both private copies, mutated in place)."""
    if _DIRECTIVE in patch:
        directive = patch.pop(_DIRECTIVE)
        if directive == "replace":
            return _merge_map({}, patch, node)
        if directive == "delete":
            return {}
        if directive != "merge":
            patch[_DIRECTIVE] = directive
            raise _SmpError(f"unknown patch type: {directive} in map: {_go_repr(patch)}")
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_set_element_order(original, patch, node)
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVE):
            field = _extract_key(key, _DELETE_PRIMITIVE, _ERR_PRIMITIVE_LIST)
            current = original.get(field)
            if value is not None and not isinstance(value, list):
                raise _SmpError(_ERR_PRIMITIVE_LIST)
            if isinstance(current, list) and value:
                original[field] = _delete_from_slice(current, value)
            continue
        if value is None:
            original.pop(key, None)
            continue
        child = _child(node, key)
        current = original.get(key)
        if key not in original:
            original[key] = _fresh(value, child)
        elif isinstance(current, dict) and isinstance(value, dict):
            strategy, _ = _strategy(child)
            original[key] = _fresh(value, child) if strategy == "replace" else _merge_map(current, value, child)
        elif isinstance(current, list) and isinstance(value, list):
            strategy, merge_key = _strategy(child)
            original[key] = (_merge_slice(current, value, child, merge_key) if strategy == "merge"
                             else _fresh(value, child))
        else:
            original[key] = _fresh(value, child)
    return original


def apply_strategic_merge_patch(doc: Any, patch: Any, schema: SchemaNode | None) -> dict:
    """Apply a strategic merge patch to `doc` using the patch metadata of `schema`.

    `schema` is the SchemaNode of the object's kind (`node_for_kind`); None means no
    patch metadata (maps merge, lists are replaced, directives are still resolved).
    A body that is not a JSON object is 400; malformed directives are 400 with the
    upstream mergepatch messages; lists of lists are upstream's generic 422.
    """
    if patch is None:  # `null` decodes to an empty patch
        return copy.deepcopy(doc) if isinstance(doc, dict) else {}
    if not isinstance(patch, dict):
        raise bad_request(
            f"json: cannot unmarshal {_json_kind(patch)} into Go value of type map[string]interface {{}}")
    original = copy_json(doc) if isinstance(doc, dict) else {}
    try:
        return _merge_map(original, copy_json(patch), schema)
    except _SmpError as e:
        raise e.to_api_error() from e
