"""OpenAPI v3 documents: the `/openapi/v3` index and one document per group-version.

kubectl needs these for three things: choosing `fieldValidation=Strict` (it looks
for the parameter on the PATCH operation of the object's GVK), `kubectl explain`
(paths map a resource to its GVK through `x-kubernetes-group-version-kind`;
`components.schemas` hold the field docs) and `create -f`/`apply`, which refuse to
run without a document. Shapes follow the upstream apiserver: operation ids like
`createCoreV1NamespacedPod`, `x-kubernetes-action`, inline query parameters, and
every schema a GV's kinds reference, walked transitively.

Flow: `OpenAPIDocs(registry)` builds a document lazily per group-version from the
registry's `ResourceInfo`s plus the upstream definitions in `api.schema` (custom
resources contribute their CRD version's openAPIV3Schema), serialises it with
orjson and hashes it (SHA-512, upper-case hex, as upstream's ETag). Documents are
cached until the resources of their GV change or `invalidate()` is called.
The apiserver serves `index()` at `/openapi/v3` and `document(path)` below it.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import threading
from collections.abc import Iterable

import orjson

from podplane.api.registry import Registry, ResourceInfo, Subresource
from podplane.api.schema import REF_PREFIX, definition_name_for, definitions

__all__ = ["OpenAPIDocs", "crd_definition_name", "custom_resource_schema", "gv_path", "operation_gv_name"]

KUBE_VERSION = "v1.37.0"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
OBJECT_META = META + "ObjectMeta"
LIST_META = META + "ListMeta"
STATUS = META + "Status"
DELETE_OPTIONS = META + "DeleteOptions"
PATCH = META + "Patch"
WATCH_EVENT = META + "WatchEvent"
API_RESOURCE_LIST = META + "APIResourceList"
_ALWAYS = (STATUS, DELETE_OPTIONS, PATCH, WATCH_EVENT, API_RESOURCE_LIST, LIST_META, OBJECT_META)

_MEDIA = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf", "application/cbor")
_STREAM_MEDIA = ("application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch",
                 "application/cbor-seq")
_CR_MEDIA = ("application/json", "application/yaml", "application/cbor")
_CR_STREAM_MEDIA = ("application/json;stream=watch", "application/cbor-seq")
_PATCH_TYPES = ("application/apply-patch+yaml", "application/apply-patch+cbor", "application/json-patch+json",
                "application/merge-patch+json", "application/strategic-merge-patch+json")
_CONNECT = frozenset({"exec", "attach", "portforward", "proxy"})

_API_VERSION_DOC = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should "
    "convert recognized schemas to the latest internal value, and may reject unrecognized values. "
    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources")
_KIND_DOC = (
    "Kind is a string value representing the REST resource this object represents. Servers may infer "
    "this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds")
_METADATA_DOC = (
    "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")
_QUANTITY_DOC = (
    "Quantity is a fixed-point representation of a number, serialized as a string such as `100m`, "
    "`1.5Gi` or `2` (suffixes: decimal SI m,k,M,G,T,P,E; binary SI Ki,Mi,Gi,Ti,Pi,Ei; or an exponent).")


# ---------------------------------------------------------------- parameters

def _param(name: str, desc: str, kind: str = "string", where: str = "query", required: bool = False) -> dict:
    out: dict = {"description": desc, "in": where, "name": name}
    if required:
        out["required"] = True
    out["schema"] = {"type": kind, "uniqueItems": True}
    return out


P_PRETTY = _param("pretty", "If 'true', then the output is pretty printed.")
P_NAMESPACE = _param("namespace", "object name and auth scope, such as for teams and projects",
                     where="path", required=True)
P_DRY_RUN = _param("dryRun", "When present, indicates that modifications should not be persisted. "
                   "Valid values are: - All: all dry run stages will be processed")
P_FIELD_MANAGER = _param("fieldManager", "fieldManager is a name associated with the actor or entity "
                         "that is making these changes. At most 128 printable characters.")
P_FIELD_MANAGER_PATCH = _param("fieldManager", "fieldManager is a name associated with the actor or entity "
                               "that is making these changes. Required for apply requests "
                               "(application/apply-patch), optional for other patch types.")
P_FIELD_VALIDATION = _param(
    "fieldValidation", "fieldValidation instructs the server on how to handle objects in the request "
    "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: drop unknown "
    "fields silently. - Warn: drop unknown fields and send a warning header for each (the default). "
    "- Strict: fail the request with a BadRequest error listing every unknown or duplicate field.")
P_FORCE = _param("force", "Force is going to \"force\" Apply requests: the user re-acquires fields owned "
                 "by other managers. Must be unset for non-apply patch requests.", "boolean")
P_GRACE = _param("gracePeriodSeconds", "The duration in seconds before the object should be deleted. "
                 "Zero means delete immediately; unset uses the type's default.", "integer")
P_IGNORE_CORRUPT = _param("ignoreStoreReadErrorWithClusterBreakingPotential",
                          "if set to true, an object that cannot be read from storage is deleted "
                          "unsafely, skipping finalizers and preconditions.", "boolean")
P_ORPHAN = _param("orphanDependents", "Deprecated: please use the PropagationPolicy. Should the dependent "
                  "objects be orphaned.", "boolean")
P_PROPAGATION = _param("propagationPolicy", "Whether and how garbage collection will be performed: "
                       "'Orphan', 'Background' or 'Foreground'.")
_LIST_PARAMS = (
    _param("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
           "boolean"),
    _param("continue", "The continue token from a previous paginated list response."),
    _param("fieldSelector", "A selector to restrict the list of returned objects by their fields. "
           "Defaults to everything."),
    _param("labelSelector", "A selector to restrict the list of returned objects by their labels. "
           "Defaults to everything."),
    _param("limit", "limit is a maximum number of responses to return for a list call; more results "
           "are available through `continue`.", "integer"),
    _param("resourceVersion", "resourceVersion sets a constraint on what resource versions a request "
           "may be served from. Defaults to unset"),
    _param("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is applied to "
           "list calls. Defaults to unset"),
    _param("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true`: the "
           "stream starts with synthetic events for the current state, then a bookmark annotated "
           "`k8s.io/initial-events-end`.", "boolean"),
    _param("timeoutSeconds", "Timeout for the list/watch call.", "integer"),
    _param("watch", "Watch for changes to the described resources and return them as a stream of add, "
           "update, and remove notifications. Specify resourceVersion.", "boolean"),
)
_LIST_PARAM_BY_NAME = {p["name"]: p for p in _LIST_PARAMS}
_DELETECOLLECTION_PARAMS = sorted(
    [*(_LIST_PARAM_BY_NAME[n] for n in ("continue", "fieldSelector", "labelSelector", "limit",
                                         "resourceVersion", "resourceVersionMatch", "sendInitialEvents",
                                         "timeoutSeconds")),
     P_DRY_RUN, P_GRACE, P_IGNORE_CORRUPT, P_ORPHAN, P_PROPAGATION], key=lambda p: p["name"])
_WRITE_PARAMS = [P_DRY_RUN, P_FIELD_MANAGER, P_FIELD_VALIDATION]
_PATCH_PARAMS = [P_DRY_RUN, P_FIELD_MANAGER_PATCH, P_FIELD_VALIDATION, P_FORCE]
_DELETE_PARAMS = [P_DRY_RUN, P_GRACE, P_IGNORE_CORRUPT, P_ORPHAN, P_PROPAGATION]
_LOG_PARAMS = [
    _param("container", "The container for which to stream logs. Defaults to the only container."),
    _param("follow", "Follow the log stream of the pod. Defaults to false.", "boolean"),
    _param("insecureSkipTLSVerifyBackend", "Do not verify the serving certificate of the backend.",
           "boolean"),
    _param("limitBytes", "If set, the number of bytes to read before terminating the log output.",
           "integer"),
    _param("previous", "Return previous terminated container logs. Defaults to false.", "boolean"),
    _param("sinceSeconds", "A relative time in seconds before the current time from which to show logs.",
           "integer"),
    _param("stream", "Which container log stream to return: \"All\", \"Stdout\" or \"Stderr\"."),
    _param("tailLines", "If set, the number of lines from the end of the logs to show.", "integer"),
    _param("timestamps", "If true, add an RFC3339 timestamp at the beginning of every line.", "boolean"),
]
_CONNECT_PARAMS = {
    "exec": [_param("command", "Command is the remote command to execute. argv array."),
             _param("container", "Container in which to execute the command."),
             _param("stderr", "Redirect the standard error stream of the pod for this call.", "boolean"),
             _param("stdin", "Redirect the standard input stream of the pod for this call.", "boolean"),
             _param("stdout", "Redirect the standard output stream of the pod for this call.", "boolean"),
             _param("tty", "TTY if true indicates that a tty will be allocated for the exec call.",
                    "boolean")],
    "attach": [_param("container", "The container in which to attach."),
               _param("stderr", "Redirect stderr for the attach call. Defaults to true.", "boolean"),
               _param("stdin", "Redirect stdin for the attach call. Defaults to false.", "boolean"),
               _param("stdout", "Redirect stdout for the attach call. Defaults to true.", "boolean"),
               _param("tty", "Allocate a tty for the attach call. Defaults to false.", "boolean")],
    "portforward": [_param("ports", "List of ports to forward. Required when using WebSockets", "integer")],
    "proxy": [_param("path", "Path is the URL path to use for the current proxy request.")],
}


# ---------------------------------------------------------------- names

def _valid_operation_id(text: str, capitalize_first: bool) -> str:
    """Upstream `ToValidOperationID`: drop non-identifier runes, capitalising the next letter."""
    out = []
    capitalize = capitalize_first
    for i, ch in enumerate(text):
        if ch.isalpha() or ch == "_" or (i and ch.isdigit()):
            out.append(ch.upper() if capitalize else ch)
            capitalize = False
        else:
            capitalize = True
    return "".join(out)


def _group_label(group: str) -> str:
    if not group:
        return "core"
    return group.removesuffix(".k8s.io")


def operation_gv_name(group: str, version: str) -> str:
    """`CoreV1`, `AppsV1`, `RbacAuthorizationV1`, `StableExampleComV1beta1`, as in operation ids."""
    return _valid_operation_id(_group_label(group), True) + _valid_operation_id(version, True)


def _tag(group: str, version: str) -> str:
    return _valid_operation_id(_group_label(group), False) + "_" + version


def gv_path(group: str, version: str) -> str:
    """Index key of a group-version: `api/v1`, `apis/apps/v1`."""
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def crd_definition_name(group: str, version: str, kind: str) -> str:
    """Upstream's component name for a custom kind: reversed group, e.g. `com.example.stable.v1.CronTab`."""
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


def _ref(name: str) -> dict:
    return {"$ref": REF_PREFIX + name}


# ---------------------------------------------------------------- schemas

def _doc_node(node):
    """Upstream v3 shape: a `$ref` with siblings becomes `allOf: [$ref]` beside them."""
    if isinstance(node, dict):
        out = {k: _doc_node(v) for k, v in node.items()
               if k not in ("x-podplane-quantity", "x-kubernetes-int-or-string")}
        if isinstance(out.get("$ref"), str) and len(out) > 1:
            out["allOf"] = [{"$ref": out.pop("$ref")}]
        if node.get("x-podplane-quantity"):
            out.setdefault("description", _QUANTITY_DOC)
            out["oneOf"] = [{"type": "string"}, {"type": "number"}]
        return out
    if isinstance(node, list):
        return [_doc_node(v) for v in node]
    return node


@functools.cache
def _doc_definitions() -> dict[str, dict]:
    out = {}
    for name, schema in definitions().items():
        doc = _doc_node(schema)
        if "x-kubernetes-group-version-kind" in doc:
            # the validator package pins apiVersion/kind with enums; upstream documents do not
            props = doc.get("properties") or {}
            for key in ("apiVersion", "kind"):
                if isinstance(props.get(key), dict):
                    props[key] = {k: v for k, v in props[key].items() if k != "enum"}
        out[name] = doc
    return out


def _refs_in(node, out: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                out.add(value[len(REF_PREFIX):])
            else:
                _refs_in(value, out)
    elif isinstance(node, list):
        for value in node:
            _refs_in(value, out)


@functools.cache
def _direct_refs(name: str) -> frozenset[str]:
    found: set[str] = set()
    _refs_in(_doc_definitions().get(name, {}), found)
    return frozenset(found)


@functools.cache
def _closure(name: str) -> frozenset[str]:
    """`name` and every definition it references, transitively."""
    defs = _doc_definitions()
    seen: set[str] = set()
    stack = [name]
    while stack:
        current = stack.pop()
        if current in seen or current not in defs:
            continue
        seen.add(current)
        stack.extend(_direct_refs(current) - seen)
    return frozenset(seen)


def _add_embedded_fields(node) -> None:
    if isinstance(node, dict):
        if node.get("x-kubernetes-embedded-resource"):
            props = node.setdefault("properties", {})
            props.setdefault("apiVersion", {"description": _API_VERSION_DOC, "type": "string"})
            props.setdefault("kind", {"description": _KIND_DOC, "type": "string"})
            props.setdefault("metadata", {"type": "object"})
        for value in node.values():
            _add_embedded_fields(value)
    elif isinstance(node, list):
        for value in node:
            _add_embedded_fields(value)


def custom_resource_schema(info: ResourceInfo) -> dict:
    """The component schema of a custom kind: its openAPIV3Schema plus apiVersion/kind/metadata."""
    schema = copy.deepcopy(info.schema) if info.schema else {
        "type": "object", "x-kubernetes-preserve-unknown-fields": True}
    _add_embedded_fields(schema)
    schema.setdefault("type", "object")
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"description": _API_VERSION_DOC, "type": "string"}
    props["kind"] = {"description": _KIND_DOC, "type": "string"}
    props["metadata"] = {"allOf": [_ref(OBJECT_META)], "description": _METADATA_DOC}
    schema["x-kubernetes-group-version-kind"] = [
        {"group": info.group, "kind": info.kind, "version": info.version}]
    return schema


def _list_schema(info: ResourceInfo, item_name: str) -> dict:
    return {
        "description": f"{info.list_kind} is a list of {info.kind}",
        "properties": {
            "apiVersion": {"description": _API_VERSION_DOC, "type": "string"},
            "items": {"description": f"List of {info.plural}. More info: "
                      "https://git.k8s.io/community/contributors/devel/api-conventions.md",
                      "items": _ref(item_name), "type": "array"},
            "kind": {"description": _KIND_DOC, "type": "string"},
            "metadata": {"allOf": [_ref(LIST_META)],
                         "description": "ListMeta describes metadata that synthetic resources must have, "
                                        "including lists and various status objects."},
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [
            {"group": info.group, "kind": info.list_kind, "version": info.version}],
    }


# ---------------------------------------------------------------- operations

def _content(schema: dict, media: Iterable[str]) -> dict:
    return {mt: {"schema": schema} for mt in media}


def _responses(schema: dict | None, media: Iterable[str], codes: Iterable[str]) -> dict:
    text = {"200": "OK", "201": "Created", "202": "Accepted"}
    media = tuple(media)
    out: dict = {}
    for code in codes:
        out[code] = {"description": text[code]}
        if schema is not None:
            out[code] = {"content": _content(schema, media), "description": text[code]}
    out["401"] = {"description": "Unauthorized"}
    return out


class _GVBuilder:
    """Paths and schema roots of one group-version's document."""

    def __init__(self, group: str, version: str) -> None:
        self.group = group
        self.version = version
        self.gv = operation_gv_name(group, version)
        self.tag = _tag(group, version)
        self.prefix = "/" + gv_path(group, version)
        self.paths: dict[str, dict] = {}
        self.roots: set[str] = set(_ALWAYS)
        self.custom: dict[str, dict] = {}

    # -- helpers
    def _op(self, op_id: str, action: str, gvk: dict, desc: str, *, params=None, body=None,
            responses=None) -> dict:
        out: dict = {"description": desc, "operationId": op_id}
        if params:
            out["parameters"] = list(params)
        if body is not None:
            out["requestBody"] = body
        out["responses"] = responses or {"401": {"description": "Unauthorized"}}
        out["tags"] = [self.tag]
        out["x-kubernetes-action"] = action
        out["x-kubernetes-group-version-kind"] = gvk
        return out

    def _path(self, path: str, params: list[dict]) -> dict:
        entry = self.paths.setdefault(path, {})
        entry["parameters"] = sorted(params, key=lambda p: (p["name"], p["in"]))
        return entry

    def _schema_name(self, group: str, version: str, kind: str, info: ResourceInfo | None = None) -> str | None:
        if info is not None and info.custom:
            name = crd_definition_name(group, version, kind)
            if name not in self.custom:
                self.custom[name] = custom_resource_schema(info)
            return name
        name = definition_name_for(group, version, kind)
        if name is not None:
            self.roots.add(name)
        return name

    # -- resources
    def add(self, info: ResourceInfo) -> None:
        kind_name = self._schema_name(info.group, info.version, info.kind, info)
        if info.custom:
            list_name = crd_definition_name(info.group, info.version, info.list_kind)
            self.custom[list_name] = _list_schema(info, kind_name)
            media, stream = _CR_MEDIA, _CR_MEDIA + _CR_STREAM_MEDIA
            patch_types = tuple(t for t in _PATCH_TYPES if "strategic" not in t)
        else:
            list_name = self._schema_name(info.group, info.version, info.list_kind)
            media, stream = _MEDIA, _MEDIA + _STREAM_MEDIA
            patch_types = _PATCH_TYPES
        obj = _ref(kind_name) if kind_name else {"type": "object"}
        lst = _ref(list_name) if list_name else {"type": "object"}
        gvk = {"group": info.group, "kind": info.kind, "version": info.version}
        kind = info.kind
        verbs = set(info.verbs)
        ns = "Namespaced" if info.namespaced else ""
        base = f"{self.prefix}/namespaces/{{namespace}}/{info.plural}" if info.namespaced \
            else f"{self.prefix}/{info.plural}"
        scope_params = [P_NAMESPACE] if info.namespaced else []
        name_param = _param("name", f"name of the {kind}", where="path", required=True)
        status_ref = _ref(STATUS)
        gv = self.gv

        # collection
        collection: dict = {}
        if "deletecollection" in verbs:
            collection["delete"] = self._op(
                f"delete{gv}Collection{ns}{kind}", "deletecollection", gvk, f"delete collection of {kind}",
                params=_DELETECOLLECTION_PARAMS,
                body={"content": {"*/*": {"schema": _ref(DELETE_OPTIONS)}}},
                responses=_responses(status_ref, media, ("200",)))
        if "list" in verbs:
            collection["get"] = self._op(
                f"list{gv}{ns}{kind}", "list", gvk, f"list or watch objects of kind {kind}",
                params=_LIST_PARAMS, responses=_responses(lst, stream, ("200",)))
        if "create" in verbs:
            collection["post"] = self._op(
                f"create{gv}{ns}{kind}", "post", gvk, f"create {_article(kind)} {kind}",
                params=_WRITE_PARAMS, body={"content": {"*/*": {"schema": obj}}, "required": True},
                responses=_responses(obj, media, ("200", "201", "202")))
        if collection:
            self._path(base, [*scope_params, P_PRETTY]).update(collection)

        # item
        item: dict = {}
        if "delete" in verbs:
            item["delete"] = self._op(
                f"delete{gv}{ns}{kind}", "delete", gvk, f"delete {_article(kind)} {kind}",
                params=_DELETE_PARAMS, body={"content": {"*/*": {"schema": _ref(DELETE_OPTIONS)}}},
                responses=_responses(status_ref, media, ("200", "202")))
        if "get" in verbs:
            item["get"] = self._op(f"read{gv}{ns}{kind}", "get", gvk, f"read the specified {kind}",
                                   responses=_responses(obj, media, ("200",)))
        if "patch" in verbs:
            item["patch"] = self._op(
                f"patch{gv}{ns}{kind}", "patch", gvk, f"partially update the specified {kind}",
                params=_PATCH_PARAMS, body={"content": _content(_ref(PATCH), patch_types), "required": True},
                responses=_responses(obj, media, ("200", "201")))
        if "update" in verbs:
            item["put"] = self._op(
                f"replace{gv}{ns}{kind}", "put", gvk, f"replace the specified {kind}",
                params=_WRITE_PARAMS, body={"content": {"*/*": {"schema": obj}}, "required": True},
                responses=_responses(obj, media, ("200", "201")))
        if item:
            self._path(f"{base}/{{name}}", [name_param, *scope_params, P_PRETTY]).update(item)

        # all namespaces and the deprecated watch paths
        watch_media = _responses(_ref(WATCH_EVENT), stream, ("200",))
        if info.namespaced and "list" in verbs:
            self._path(f"{self.prefix}/{info.plural}", list(_LIST_PARAMS) + [P_PRETTY])["get"] = self._op(
                f"list{gv}{kind}ForAllNamespaces", "list", gvk, f"list or watch objects of kind {kind}",
                responses=_responses(lst, stream, ("200",)))
        if "watch" in verbs:
            watch_base = f"{self.prefix}/watch/namespaces/{{namespace}}/{info.plural}" if info.namespaced \
                else f"{self.prefix}/watch/{info.plural}"
            self._path(watch_base, [*_LIST_PARAMS, *scope_params, P_PRETTY])["get"] = \
                self._op(f"watch{gv}{ns}{kind}List", "watchlist", gvk,
                         f"watch individual changes to a list of {kind}. deprecated: use the 'watch' "
                         "parameter with a list operation instead.", responses=watch_media)
            self._path(f"{watch_base}/{{name}}",
                       [*_LIST_PARAMS, name_param, *scope_params, P_PRETTY])["get"] = \
                self._op(f"watch{gv}{ns}{kind}", "watch", gvk,
                         f"watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter "
                         "with a list operation instead, filtered to a single item with the 'fieldSelector' "
                         "parameter.", responses=watch_media)
            if info.namespaced:
                self._path(f"{self.prefix}/watch/{info.plural}", list(_LIST_PARAMS) + [P_PRETTY])["get"] = \
                    self._op(f"watch{gv}{kind}ListForAllNamespaces", "watchlist", gvk,
                             f"watch individual changes to a list of {kind}. deprecated: use the 'watch' "
                             "parameter with a list operation instead.", responses=watch_media)

        for sub in info.subresources:
            self._add_subresource(info, sub, base, [name_param, *scope_params], media, patch_types)

    def _add_subresource(self, info: ResourceInfo, sub: Subresource, base: str, params: list[dict],
                         media: tuple[str, ...], patch_types: tuple[str, ...]) -> None:
        kind, gv = info.kind, self.gv
        ns = "Namespaced" if info.namespaced else ""
        suffix = _valid_operation_id(sub.name, True)
        if sub.kind:
            sub_gvk = {"group": sub.group or "", "kind": sub.kind, "version": sub.version or "v1"}
            name = self._schema_name(sub.group or "", sub.version or "v1", sub.kind)
        else:
            sub_gvk = {"group": info.group, "kind": kind, "version": info.version}
            name = self._schema_name(info.group, info.version, kind, info)
        obj = _ref(name) if name else {"type": "object"}
        path = f"{base}/{{name}}/{sub.name}"
        entry: dict = {}
        if sub.name in _CONNECT:
            conn = _CONNECT_PARAMS.get(sub.name, [])
            text = {"200": {"content": {"*/*": {"schema": {"type": "string"}}}, "description": "OK"},
                    "401": {"description": "Unauthorized"}}
            for verb, method in (("get", "Get"), ("create", "Post")):
                if verb in sub.verbs:
                    entry["get" if verb == "get" else "post"] = self._op(
                        f"connect{gv}{method}{ns}{kind}{suffix}", "connect", sub_gvk,
                        f"connect {method.upper()} requests to {sub.name} of {kind}", responses=text)
            self._path(path, [*conn, *params]).update(entry)
            return
        if sub.name == "log":
            text = {"200": {"content": {mt: {"schema": {"type": "string"}} for mt in
                                        ("application/json", "application/yaml",
                                         "application/vnd.kubernetes.protobuf", "text/plain")},
                            "description": "OK"}, "401": {"description": "Unauthorized"}}
            entry["get"] = self._op(f"read{gv}{ns}{kind}Log", "get", sub_gvk,
                                    f"read log of the specified {kind}", responses=text)
            self._path(path, [*_LOG_PARAMS, *params, P_PRETTY]).update(entry)
            return
        if "get" in sub.verbs:
            entry["get"] = self._op(f"read{gv}{ns}{kind}{suffix}", "get", sub_gvk,
                                    f"read {sub.name} of the specified {kind}",
                                    responses=_responses(obj, media, ("200",)))
        if "patch" in sub.verbs:
            entry["patch"] = self._op(
                f"patch{gv}{ns}{kind}{suffix}", "patch", sub_gvk,
                f"partially update {sub.name} of the specified {kind}", params=_PATCH_PARAMS,
                body={"content": _content(_ref(PATCH), patch_types), "required": True},
                responses=_responses(obj, media, ("200", "201")))
        if "update" in sub.verbs:
            entry["put"] = self._op(
                f"replace{gv}{ns}{kind}{suffix}", "put", sub_gvk, f"replace {sub.name} of the specified {kind}",
                params=_WRITE_PARAMS, body={"content": {"*/*": {"schema": obj}}, "required": True},
                responses=_responses(obj, media, ("200", "201")))
        if "create" in sub.verbs:
            entry["post"] = self._op(
                f"create{gv}{ns}{kind}{suffix}", "post", sub_gvk, f"create {sub.name} of {_article(kind)} {kind}",
                params=_WRITE_PARAMS, body={"content": {"*/*": {"schema": obj}}, "required": True},
                responses=_responses(obj, media, ("200", "201", "202")))
        if entry:
            self._path(path, [*params, P_PRETTY]).update(entry)

    def document(self) -> dict:
        self.paths[self.prefix + "/"] = {"get": {
            "description": "get available resources",
            "operationId": f"get{self.gv}APIResources",
            "responses": _responses(_ref(API_RESOURCE_LIST), ("application/json", "application/yaml",
                                                                "application/vnd.kubernetes.protobuf",
                                                                "application/cbor"), ("200",)),
            "tags": [self.tag]}}
        defs = _doc_definitions()
        names: set[str] = set()
        for root in self.roots:
            names |= _closure(root)
        for schema in self.custom.values():
            found: set[str] = set()
            _refs_in(schema, found)
            for ref in found:
                names |= _closure(ref)
        schemas = {name: defs[name] for name in names}
        schemas.update(self.custom)
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": KUBE_VERSION},
            "paths": dict(sorted(self.paths.items())),
            "components": {"schemas": dict(sorted(schemas.items()))},
        }


def _article(kind: str) -> str:
    return "an" if kind[:1] in "AEIOU" else "a"


# ---------------------------------------------------------------- the cache

class OpenAPIDocs:
    """Lazily built, cached OpenAPI v3 documents of the group-versions a Registry serves."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        # path -> (resource infos it was built from, body, hash)
        self._docs: dict[str, tuple[tuple[ResourceInfo, ...], bytes, str]] = {}

    def _group_versions(self) -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        for group, versions in self._registry.groups().items():
            for version in versions:
                out[gv_path(group, version)] = (group, version)
        return out

    def index(self) -> dict:
        """`{"paths": {"apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=..."}}}`."""
        paths = {}
        for path in sorted(self._group_versions()):
            built = self.document(path)
            if built is not None:
                paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={built[1]}"}
        return {"paths": paths}

    def document(self, path: str) -> tuple[bytes, str] | None:
        """The serialized document of `api/v1` or `apis/<group>/<version>` and its hash; None if unserved."""
        path = path.strip("/")
        if path.startswith("openapi/v3/"):
            path = path[len("openapi/v3/"):]
        gv = self._group_versions().get(path)
        if gv is None:
            return None
        infos = tuple(self._registry.resources_in(*gv))
        with self._lock:
            cached = self._docs.get(path)
        if cached is not None and len(cached[0]) == len(infos) and all(
                a is b for a, b in zip(cached[0], infos, strict=True)):
            return cached[1], cached[2]
        builder = _GVBuilder(*gv)
        for info in infos:
            builder.add(info)
        body = orjson.dumps(builder.document())
        digest = hashlib.sha512(body).hexdigest().upper()
        with self._lock:
            self._docs[path] = (infos, body, digest)
        return body, digest

    def invalidate(self, path: str | None = None) -> None:
        """Drop cached documents (one group-version path, or all); call when CRDs change."""
        with self._lock:
            if path is None:
                self._docs.clear()
            else:
                self._docs.pop(path.strip("/"), None)
