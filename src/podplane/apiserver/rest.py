"""Generic REST handler: one implementation of every verb for every resource.

`ResourceHandler.handle(request, target)` dispatches on method and target
(collection, item, subresource) to get / list / create / update / patch / delete /
deletecollection and the status, scale, binding, eviction and finalize
subresources. Every request first has its options validated as upstream does (422
`CreateOptions.meta.k8s.io` / Update / Patch / Delete / ListOptions). The flow of a
write is then: decode → field validation (Strict / Warn / Ignore: unknown and
duplicate fields) → admission (namespace lifecycle) → strategy (defaults, system
metadata, generation) → validation (422 with causes) → managedFields → dry-run or
CAS write through `ObjectStore`. A DELETE that removes the object at once answers
with a Status unless the resource's upstream store returns the deleted object
(`ResourceInfo.return_deleted_object`). Values nested too deeply for any walker are
a 400, never a 500. Watches are delegated to `apiserver.watch`, tables to
`api.printers`.

Neighbours: `apiserver.app` (routing, auth, errors → Status), `apiserver.objects`
(storage), `apiserver.strategy` (per-kind rules), `apiserver.crds` (CRD lifecycle).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson
from aiohttp import web
from multidict import CIMultiDict

from podplane.api import apply as ssa
from podplane.api import errors, patch, printers, validation
from podplane.api.errors import ApiError, Cause
from podplane.api.jsonvalue import MAX_DEPTH, copy_json, dumps
from podplane.api.meta import generate_name, now_rfc3339
from podplane.api.registry import Registry, ResourceInfo
from podplane.api.selectors import (
    parse_field_selector,
    parse_label_selector,
    selector_to_string,
    validate_field_selector,
)
from podplane.api.storageclass import default_class
from podplane.apiserver.objects import ObjectStore
from podplane.apiserver.request import (
    Target,
    decode_body,
    duplicate_fields,
    flag,
    list_options_error,
    media_type,
    wants_table,
)
from podplane.apiserver.strategy import Strategy

__all__ = ["CONTEXT_KEY", "HANDLER_KEY", "RequestContext", "ResourceHandler", "json_response"]

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
TERMINAL_POD_PHASES = ("Succeeded", "Failed")
OPTIONS_GROUP = "meta.k8s.io"
# Request bodies may nest MAX_DEPTH levels; the walkers over them (copies, pruning, patches,
# managed fields, the stdlib JSON encoder) recurse up to a few frames per level.
RECURSION_HEADROOM = 8 * MAX_DEPTH
# Duplicate-key scans re-parse the body: always under Strict, under Warn for bodies up to this size.
DUPLICATE_SCAN_MAX_BYTES = 1024 * 1024


def json_response(body: object, status: int = 200, content_type: str = "application/json",
                  headers: dict | None = None, warnings: list[str] | None = None) -> web.Response:
    out = CIMultiDict(headers or {})
    out["Content-Type"] = content_type
    for warning in warnings or ():
        # one header per warning, as upstream sends them; kubectl prints "Warning: ..."
        out.add("Warning", '299 - "' + warning.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return web.Response(body=dumps(body), status=status, headers=out)


@dataclass
class RequestContext:
    """Who asks and how: filled by the app's middleware from the HTTP request."""

    user: str = "admin"
    groups: tuple[str, ...] = ("system:masters", "system:authenticated")
    user_agent: str = ""
    warnings: list[str] = field(default_factory=list)

    def default_manager(self) -> str:
        # upstream: the user agent up to the first '/'
        return (self.user_agent.split("/", 1)[0] or "unknown")[:128]


class ResourceHandler:
    def __init__(self, *, registry: Registry, store: ObjectStore, strategy: Strategy,
                 watches,
                 on_change: Callable[[ResourceInfo, dict | None, dict | None], Awaitable[None]] | None = None,
                 special_create: dict | None = None, allocator=None) -> None:
        self.registry = registry
        self.store = store
        self.strategy = strategy
        self.watches = watches
        self.on_change = on_change or _ignore_change
        # (group, plural) → async fn(request, target, body, ctx) for create-only review APIs
        self.special_create = special_create or {}
        self.allocator = allocator  # ServiceAllocator: ClusterIPs and NodePorts
        _ensure_recursion_headroom()

    # -- dispatch ------------------------------------------------------------------------
    async def handle(self, request: web.Request, target: Target, ctx: RequestContext) -> web.StreamResponse:
        try:
            return await self._dispatch(request, target, ctx)
        except RecursionError:
            # a value nested beyond what some walker can follow is the client's problem, never a 500
            raise errors.bad_request(f"the request is nested too deeply to be processed (the limit is "
                                     f"{MAX_DEPTH} levels of objects and arrays)") from None

    async def _dispatch(self, request: web.Request, target: Target, ctx: RequestContext) -> web.StreamResponse:
        method = request.method
        q = request.query
        info = target.info
        _validate_request_options(request, target)
        if target.subresource:
            return await self._subresource(request, target, ctx)
        if target.name is None:
            if method == "GET":
                if target.watch_path or flag(q.get("watch")):
                    self._require_verb(info, "watch")
                    return await self.watches.serve(request, target)
                self._require_verb(info, "list")
                return await self.list(request, target)
            if method == "POST":
                self._require_verb(info, "create")
                return await self.create(request, target, ctx)
            if method == "DELETE":
                self._require_verb(info, "deletecollection")
                return await self.delete_collection(request, target, ctx)
            raise errors.method_not_supported(info.plural, method.lower(), info.group)
        if method == "GET":
            if target.watch_path or flag(q.get("watch")):
                return await self.watches.serve(request, target)
            self._require_verb(info, "get")
            return await self.get(request, target)
        if method == "PUT":
            self._require_verb(info, "update")
            return await self.update(request, target, ctx)
        if method == "PATCH":
            self._require_verb(info, "patch")
            return await self.patch(request, target, ctx)
        if method == "DELETE":
            self._require_verb(info, "delete")
            return await self.delete(request, target, ctx)
        raise errors.method_not_supported(info.plural, method.lower(), info.group)

    @staticmethod
    def _require_verb(info: ResourceInfo, verb: str) -> None:
        if verb not in info.verbs:
            raise errors.method_not_supported(info.plural, verb, info.group)

    # -- reads ---------------------------------------------------------------------------
    def _respond_object(self, request: web.Request, info: ResourceInfo, obj: dict,
                        status: int = 200, ctx: RequestContext | None = None) -> web.Response:
        warnings = ctx.warnings if ctx else None
        if wants_table(request.headers.get("Accept")):
            table = printers.build_table(info, [obj], now=_now(), include_object=request.query.get(
                "includeObject", "Metadata"), resource_version=obj["metadata"].get("resourceVersion", ""))
            return json_response(table, status, TABLE_CONTENT_TYPE, warnings=warnings)
        return json_response(obj, status, warnings=warnings)

    async def get(self, request: web.Request, target: Target) -> web.Response:
        obj = await self.store.get(target.info, target.namespace, target.name)
        return self._respond_object(request, target.info, obj)

    def selectors(self, request: web.Request, info: ResourceInfo):
        q = request.query
        labels = parse_label_selector(q.get("labelSelector", ""))
        fields = parse_field_selector(q.get("fieldSelector", ""))
        fields = validate_field_selector(info, fields)
        return labels, fields

    async def list(self, request: web.Request, target: Target) -> web.Response:
        info, q = target.info, request.query
        labels, fields = self.selectors(request, info)
        limit = _int_param(q, "limit", 0)
        revision = 0
        rv, rv_match = q.get("resourceVersion", ""), q.get("resourceVersionMatch", "")
        if rv and rv != "0":
            try:
                wanted = int(rv)
            except ValueError:
                raise errors.bad_request(f"invalid resource version: {rv!r}") from None
            if rv_match == "Exact" or (not rv_match and limit and not q.get("continue")):
                revision = wanted
            else:
                current = await self.store.current_revision()
                if wanted > current:
                    raise ApiError(504, "Timeout", f"Too large resource version: {wanted}, current: {current}",
                                   retry_after=1)
        table = wants_table(request.headers.get("Accept"))
        page = await self.store.list(info, target.namespace, labels=labels, fields=fields, limit=limit,
                                     continue_token=q.get("continue", ""), revision=revision, raw=not table)
        list_meta: dict = {"resourceVersion": str(page.revision)}
        if page.continue_token:
            list_meta["continue"] = page.continue_token
        if page.remaining is not None:
            list_meta["remainingItemCount"] = page.remaining
        if table:
            doc = printers.build_table(info, page.items, now=_now(),
                                       include_object=q.get("includeObject", "Metadata"),
                                       resource_version=str(page.revision),
                                       continue_token=page.continue_token, remaining=page.remaining)
            return json_response(doc, 200, TABLE_CONTENT_TYPE)
        # stored objects carry apiVersion and kind; their bytes are spliced, not re-encoded
        head = orjson.dumps({"kind": info.list_kind, "apiVersion": info.api_version, "metadata": list_meta})
        body = head[:-1] + b',"items":[' + b",".join(page.raw or ()) + b"]}"
        return web.Response(body=body, status=200, headers={"Content-Type": "application/json"})

    # -- body handling -------------------------------------------------------------------
    async def _read_object(self, request: web.Request, target: Target, ctx: RequestContext,
                           body: object | None = None) -> dict:
        info = target.info
        duplicates: list[str] = []
        if body is None:
            raw = await request.read()
            content_type = request.headers.get("Content-Type")
            body = decode_body(raw, content_type,
                               what=f"{info.kind} in version \"{info.version}\" cannot be handled as a {info.kind}")
            duplicates = self._duplicates(request, raw, content_type)
        if not isinstance(body, dict):
            raise errors.bad_request(f"{info.kind} in version \"{info.version}\" cannot be handled as a "
                                     f"{info.kind}: the body must be a JSON object")
        self._check_type_meta(info, body)
        body.setdefault("apiVersion", info.api_version)
        body.setdefault("kind", info.kind)
        meta = body.get("metadata")
        if meta is None:
            body["metadata"] = meta = {}
        elif not isinstance(meta, dict):
            raise errors.bad_request(f"{info.kind} in version \"{info.version}\" cannot be handled as a "
                                     f"{info.kind}: metadata must be an object")
        body = self._field_validation(request, info, body, ctx, duplicates)
        return body

    @staticmethod
    def _check_type_meta(info: ResourceInfo, body: dict) -> None:
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version != info.api_version:
            raise errors.bad_request(f"the API version in the data ({api_version}) does not match the "
                                     f"expected API version ({info.api_version})")
        if kind and kind != info.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind "
                                     f"({info.kind})")

    @staticmethod
    def _duplicates(request: web.Request, raw: bytes, content_type: str | None) -> list[str]:
        """Duplicate keys of a JSON body, when the field validation mode reports them."""
        mode = _field_validation_mode(request)
        if mode == "Ignore" or (mode == "Warn" and len(raw) > DUPLICATE_SCAN_MAX_BYTES):
            return []
        mt = media_type(content_type)
        if mt not in ("", "application/json") and not mt.endswith("+json"):
            return []
        return duplicate_fields(raw)

    def _field_validation(self, request: web.Request, info: ResourceInfo, body: dict,
                          ctx: RequestContext, duplicates: list[str] | None = None) -> dict:
        mode = _field_validation_mode(request)
        node = self.strategy.schema_for(info)
        if not info.custom and node is not None:
            message = validation.decode_errors(info, body)
            if message:
                raise errors.bad_request(message)
        problems = list(duplicates or ())
        if node is not None:
            problems.extend(validation.unknown_fields(body, node))
        if problems and mode == "Strict":
            raise errors.bad_request(validation.strict_decoding_message(info, problems))
        if problems and mode == "Warn":
            ctx.warnings.extend(p for p in problems if p not in ctx.warnings)
        return body if node is None else validation.prune(body, node)

    async def _namespace_lifecycle(self, info: ResourceInfo, namespace: str) -> None:
        ns_info = self.registry.get("", "v1", "namespaces")
        ns = await self.store.get_or_none(ns_info, None, namespace)
        if ns is None:
            raise errors.not_found("namespaces", namespace)
        if (ns.get("metadata") or {}).get("deletionTimestamp") or (ns.get("status") or {}).get(
                "phase") == "Terminating":
            raise ApiError(403, "Forbidden",
                           f'{info.group_resource} "" is forbidden: unable to create new content in namespace '
                           f"{namespace} because it is being terminated",
                           group=info.group, kind=info.plural,
                           causes=[Cause("NamespaceTerminating",
                                         f"namespace {namespace} is being terminated",
                                         "metadata.namespace")])

    async def _default_storage_class(self, claim: dict) -> None:
        """DefaultStorageClass admission: a claim without a class gets the default one."""
        spec = claim.setdefault("spec", {})
        if "storageClassName" in spec:  # "" explicitly asks for no class
            return
        info = self.registry.get("storage.k8s.io", "v1", "storageclasses")
        default = default_class((await self.store.list(info, None)).items)
        if default is not None:
            spec["storageClassName"] = default["metadata"]["name"]

    def _manager(self, request: web.Request, ctx: RequestContext) -> str:
        # validated with the request's options (_validate_request_options)
        return request.query.get("fieldManager", "") or ctx.default_manager()

    def _track(self, info: ResourceInfo, old: dict | None, new: dict, manager: str,
               subresource: str = "") -> dict:
        if subresource == "status":
            ignored = [(k,) for k in new if k not in ("apiVersion", "kind", "metadata", "status")]
        elif old is not None and self.strategy.has_status(info):
            ignored = [("status",)]
        else:
            ignored = []
        return ssa.update_managed_fields(old, new, manager=manager, schema=self.strategy.schema_for(info),
                                         now=now_rfc3339(), api_version=info.api_version,
                                         operation="Update", subresource=subresource, ignored=ignored)

    def _validate(self, info: ResourceInfo, obj: dict, old: dict | None = None) -> None:
        # request bodies of built-in kinds were type-checked by _field_validation already
        causes = self.strategy.validate(info, obj, old, decoded=not info.custom)
        if causes:
            raise errors.invalid(info.kind, (obj.get("metadata") or {}).get("name", ""), causes,
                                 group=info.group)

    # -- create --------------------------------------------------------------------------
    async def create(self, request: web.Request, target: Target, ctx: RequestContext,
                     body: dict | None = None) -> web.Response:
        info = target.info
        special = self.special_create.get((info.group, info.plural))
        if special is not None:
            return await special(request, target, ctx)
        obj = await self._read_object(request, target, ctx, body)
        created = await self.create_object(request, target, ctx, obj)
        return self._respond_object(request, info, created, 201, ctx)

    async def create_object(self, request: web.Request, target: Target, ctx: RequestContext, obj: dict,
                            manager_operation: str = "Update") -> dict:
        info = target.info
        meta = obj["metadata"]
        if info.namespaced:
            body_ns = meta.get("namespace")
            path_ns = target.namespace
            if path_ns is None:
                raise errors.bad_request("the namespace of the object must be set in the URL for a "
                                         f"namespaced resource ({info.plural})")
            if body_ns and body_ns != path_ns:
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            meta["namespace"] = path_ns
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = generate_name(meta["generateName"])
            else:
                raise errors.invalid(info.kind, "", [Cause("FieldValueRequired",
                                                           "name or generateName is required",
                                                           "metadata.name")], group=info.group)
        if info.namespaced:
            await self._namespace_lifecycle(info, meta["namespace"])
        if (info.group, info.kind) == ("", "PersistentVolumeClaim"):
            await self._default_storage_class(obj)
        obj = self.strategy.prepare_for_create(info, obj)
        self._validate(info, obj)
        if manager_operation == "Update":
            obj = self._track(info, None, obj, self._manager(request, ctx))
        if _dry_run(request):
            obj["metadata"].pop("resourceVersion", None)
            return obj
        reserved: list[str] = []
        if self.allocator is not None and self.allocator.is_service(info):
            reserved = await self.allocator.before_create(obj)
        try:
            created = await self.store.create(info, obj)
        except BaseException:
            if reserved:
                await self.allocator.release_keys(reserved)
            raise
        await self.on_change(info, None, created)
        return created

    # -- update --------------------------------------------------------------------------
    async def update(self, request: web.Request, target: Target, ctx: RequestContext,
                     subresource: str = "") -> web.Response:
        info = target.info
        obj = await self._read_object(request, target, ctx)
        meta = obj["metadata"]
        if meta.get("name") and meta["name"] != target.name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on "
                                     f"the URL ({target.name})")
        if info.namespaced and meta.get("namespace") and meta["namespace"] != target.namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent "
                                     "on the request")
        meta["name"] = target.name
        if info.namespaced:
            meta["namespace"] = target.namespace
        wanted_rv = meta.get("resourceVersion") or ""
        manager = self._manager(request, ctx)

        async def mutate(current: dict) -> dict | None:
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(info.plural, target.name, info.group)
            return copy_json(obj)

        new = await self._update_with(request, target, mutate, manager, subresource)
        return self._respond_object(request, info, new, 200, ctx)

    async def _update_with(self, request: web.Request, target: Target, mutate, manager: str,
                           subresource: str = "", operation: str = "Update") -> dict:
        """Shared by PUT and PATCH: mutate → strategy → validate → track → CAS write."""
        info = target.info
        dry_run = _dry_run(request)
        result: dict = {}
        allocating = self.allocator is not None and self.allocator.is_service(info) and not dry_run

        async def full_mutate(current: dict) -> dict | None:
            if result.get("reserved"):  # an earlier attempt lost a conflict: undo its reservations
                await self.allocator.release_keys(result.pop("reserved"))
            wanted = await mutate(current)
            if wanted is None:
                return None
            wanted_uid = (wanted.get("metadata") or {}).get("uid")
            if wanted_uid and wanted_uid != current["metadata"].get("uid"):
                # a uid in the request is a precondition (how controllers adopt safely)
                raise errors.conflict(info.plural, target.name, info.group,
                                      f"Precondition failed: UID in precondition: {wanted_uid}, "
                                      f"UID in object meta: {current['metadata'].get('uid')}")
            if info.namespaced:
                wanted.setdefault("metadata", {})["namespace"] = target.namespace
            wanted.setdefault("metadata", {})["name"] = target.name
            new = self.strategy.prepare_for_update(info, wanted, current, subresource)
            if allocating and subresource == "":
                result["reserved"], result["release"] = await self.allocator.before_update(current, new)
            self._validate(info, new, current)
            if operation == "Update":
                new = self._track(info, current, new, manager, subresource)
            new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            if _same(new, current):
                result["unchanged"] = True
                return None
            if dry_run:
                result["dry"] = new
                return None
            return new

        try:
            old, new = await self.store.guaranteed_update(info, target.namespace, target.name, full_mutate)
        except BaseException:
            if result.get("reserved"):
                await self.allocator.release_keys(result["reserved"])
            raise
        if result.get("unchanged") and result.get("reserved"):
            await self.allocator.release_keys(result["reserved"])
        elif result.get("release"):
            await self.allocator.release_keys(result["release"])
        if "dry" in result:
            return result["dry"]
        if new is not old:
            new = await self._finish_if_deleted(info, new)
            await self.on_change(info, old, new)
        return new

    async def _finish_if_deleted(self, info: ResourceInfo, obj: dict) -> dict:
        """An object being deleted goes away once its last finalizer is removed."""
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp") or meta.get("finalizers"):
            return obj
        if (info.group, info.kind) == ("", "Pod") and meta.get("deletionGracePeriodSeconds", 0) > 0:
            return obj  # the node agent finishes graceful pod deletion
        if (info.group, info.kind) == ("", "Namespace") and (obj.get("spec") or {}).get("finalizers"):
            return obj
        try:
            removed = await self.store.remove(info, obj)
        except ApiError as e:
            if e.code in (404, 409):
                return obj
            raise
        await self.on_change(info, obj, None)
        return removed

    # -- patch ---------------------------------------------------------------------------
    async def patch(self, request: web.Request, target: Target, ctx: RequestContext,
                    subresource: str = "") -> web.Response:
        info = target.info
        mt = media_type(request.headers.get("Content-Type"))
        kind = PATCH_TYPES.get(mt)
        if kind is None:
            raise errors.ApiError(415, "UnsupportedMediaType",
                                  f"the body of the request was in an unknown format - accepted media types "
                                  f"include: {', '.join(PATCH_TYPES)}")
        raw = await request.read()
        patch_body = decode_body(raw, mt, what="error decoding patch")
        # upstream scans merge patches for duplicate keys (kjson.UnmarshalStrict of the patch bytes)
        duplicates = self._duplicates(request, raw, mt) if kind in ("merge", "strategic") else []
        manager = self._manager(request, ctx)
        if kind == "apply":
            return await self._apply(request, target, ctx, patch_body, subresource)
        if kind == "strategic" and info.custom:
            raise errors.ApiError(415, "UnsupportedMediaType",
                                  "the body of the request was in an unknown format - accepted media types "
                                  "include: application/json-patch+json, application/merge-patch+json, "
                                  "application/apply-patch+yaml")
        if kind == "json" and not isinstance(patch_body, list):
            raise errors.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        if kind in ("merge", "strategic") and not isinstance(patch_body, dict):
            raise errors.bad_request("patch body must be a JSON object")
        wanted_rv = ""
        if isinstance(patch_body, dict):
            wanted_rv = str(((patch_body.get("metadata") or {}).get("resourceVersion")) or "")
        schema = self.strategy.schema_for(info)

        async def mutate(current: dict) -> dict | None:
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(info.plural, target.name, info.group)
            if kind == "json":
                patched = patch.apply_json_patch(current, patch_body)
            elif kind == "merge":
                patched = patch.apply_merge_patch(current, patch_body)
            else:
                patched = patch.apply_strategic_merge_patch(current, patch_body, schema)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch produced a value that is not an object")
            self._check_type_meta(info, patched)
            return self._field_validation(request, info, patched, ctx, duplicates)

        new = await self._update_with(request, target, mutate, manager, subresource)
        return self._respond_object(request, info, new, 200, ctx)

    async def _apply(self, request: web.Request, target: Target, ctx: RequestContext, applied: object,
                     subresource: str) -> web.Response:
        info = target.info
        if not isinstance(applied, dict):
            raise errors.bad_request("apply patch must be a single object")
        manager = request.query.get("fieldManager", "")  # required: checked with the PatchOptions
        force = flag(request.query.get("force"))
        self._check_type_meta(info, applied)
        if not applied.get("apiVersion") or not applied.get("kind"):
            raise errors.bad_request("apiVersion and kind must be set in an apply patch")
        meta = applied.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != target.name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on "
                                     f"the URL ({target.name})")
        applied = self._field_validation(request, info, applied, ctx)
        schema = self.strategy.schema_for(info)
        existing = await self.store.get_or_none(info, target.namespace, target.name)
        if existing is None:
            if subresource:
                raise errors.not_found(info.plural, target.name, info.group)
            new = ssa.server_side_apply(None, applied, manager=manager, schema=schema, force=force,
                                        now=now_rfc3339(), api_version=info.api_version)
            new.setdefault("metadata", {})["name"] = target.name
            created = await self.create_object(request, target, ctx, new, manager_operation="Apply")
            return self._respond_object(request, info, created, 201, ctx)

        async def mutate(current: dict) -> dict | None:
            return ssa.server_side_apply(current, applied, manager=manager, schema=schema, force=force,
                                         now=now_rfc3339(), api_version=info.api_version)

        new = await self._update_with(request, target, mutate, manager, subresource, operation="Apply")
        return self._respond_object(request, info, new, 200, ctx)

    # -- delete --------------------------------------------------------------------------
    async def _delete_options(self, request: web.Request) -> dict:
        options: dict = {}
        raw = await request.read()
        if raw:
            body = decode_body(raw, request.headers.get("Content-Type") or "application/json",
                               what="error decoding DeleteOptions")
            if not isinstance(body, dict):
                raise errors.bad_request("DeleteOptions must be a JSON object")
            options.update(body)
        q = request.query
        if "gracePeriodSeconds" in q:
            options["gracePeriodSeconds"] = _int_param(q, "gracePeriodSeconds", 0)
        if "propagationPolicy" in q:
            options["propagationPolicy"] = q["propagationPolicy"]
        if "orphanDependents" in q:
            options["orphanDependents"] = flag(q["orphanDependents"])
        if "dryRun" in q:
            options["dryRun"] = q.getall("dryRun")
        causes = _delete_options_causes(options)
        if causes:
            raise errors.invalid("DeleteOptions", "", causes, group=OPTIONS_GROUP)
        return options

    async def delete(self, request: web.Request, target: Target, ctx: RequestContext) -> web.Response:
        info = target.info
        options = await self._delete_options(request)
        obj, removed = await self.delete_object(info, target.namespace, target.name, options,
                                                bool(options.get("dryRun")))
        if removed and not info.return_deleted_object:
            # upstream finalizeDelete: stores without ReturnDeletedObject answer with a Status
            details = {"name": obj["metadata"].get("name", target.name)}
            if info.group:
                details["group"] = info.group
            details["kind"] = info.plural
            if obj["metadata"].get("uid"):
                details["uid"] = obj["metadata"]["uid"]
            return json_response(errors.status_success(details), 200, warnings=ctx.warnings)
        # deletion pending (finalizers, grace period): 202 when the client asked for cascading deletion
        status = 202 if not removed and options.get("orphanDependents") is False else 200
        return self._respond_object(request, info, obj, status, ctx)

    async def delete_object(self, info: ResourceInfo, namespace: str | None, name: str, options: dict,
                            dry_run: bool = False) -> tuple[dict, bool]:
        """Delete now or start a graceful/finalized deletion; returns (object, removed now)."""
        preconditions = options.get("preconditions") or {}
        state: dict = {}

        async def mutate(current: dict) -> dict | None:
            meta = current["metadata"]
            if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
                raise errors.conflict(info.plural, name, info.group,
                                      f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                                      f"UID in object meta: {meta.get('uid')}")
            if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != meta.get(
                    "resourceVersion"):
                raise errors.conflict(info.plural, name, info.group,
                                      f"Precondition failed: ResourceVersion in precondition: "
                                      f"{preconditions['resourceVersion']}, ResourceVersion in object meta: "
                                      f"{meta.get('resourceVersion')}")
            new = copy_json(current)
            new_meta = new["metadata"]
            finalizers = list(new_meta.get("finalizers") or [])
            policy = _propagation(info, options)
            if policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            if policy != "Orphan" and "orphan" in finalizers and options.get("propagationPolicy"):
                finalizers.remove("orphan")
            grace = self._grace_period(info, current, options)
            if (info.group, info.kind) == ("", "Namespace"):
                new.setdefault("status", {})["phase"] = "Terminating"
            needs_wait = bool(finalizers) or grace > 0 or (
                (info.group, info.kind) == ("", "Namespace") and (new.get("spec") or {}).get("finalizers"))
            if not needs_wait:
                state["immediate"] = current
                return None
            if finalizers:
                new_meta["finalizers"] = finalizers
            if meta.get("deletionTimestamp"):
                # already deleting: a shorter grace period may still be applied
                old_grace = meta.get("deletionGracePeriodSeconds")
                if old_grace is not None and grace < old_grace:
                    new_meta["deletionGracePeriodSeconds"] = grace
                    new_meta["deletionTimestamp"] = _rfc3339_after(grace)
            else:
                new_meta["deletionTimestamp"] = _rfc3339_after(grace)
                new_meta["deletionGracePeriodSeconds"] = grace
            if grace == 0 and not finalizers and not (new.get("spec") or {}).get("finalizers"):
                state["immediate"] = current
                return None
            if _same(new, current):
                return None
            if dry_run:
                state["dry"] = new
                return None
            return new

        old, new = await self.store.guaranteed_update(info, namespace, name, mutate)
        if "dry" in state:
            return state["dry"], False
        if "immediate" in state:
            current = state["immediate"]
            if dry_run:
                return current, True
            try:
                removed = await self.store.remove(info, current)
            except ApiError as e:
                if e.code == 409:  # changed meanwhile: retry the whole decision
                    return await self.delete_object(info, namespace, name, options, dry_run)
                raise
            await self.on_change(info, current, None)
            return removed, True
        if new is not old:
            await self.on_change(info, old, new)
        return new, False

    @staticmethod
    def _grace_period(info: ResourceInfo, obj: dict, options: dict) -> int:
        if (info.group, info.kind) != ("", "Pod"):
            return 0
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        grace = options.get("gracePeriodSeconds")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        grace = max(0, int(grace))
        # Unscheduled or finished pods have nobody to stop them: delete at once (upstream).
        if not spec.get("nodeName") or status.get("phase") in TERMINAL_POD_PHASES:
            return 0
        return grace

    async def delete_collection(self, request: web.Request, target: Target, ctx: RequestContext
                                ) -> web.Response:
        info = target.info
        labels, fields = self.selectors(request, info)
        options = await self._delete_options(request)
        page = await self.store.list(info, target.namespace, labels=labels, fields=fields)
        deleted = []
        for item in page.items:
            meta = item["metadata"]
            try:
                obj, _ = await self.delete_object(info, meta.get("namespace"), meta["name"], options,
                                                  bool(options.get("dryRun")))
                deleted.append(obj)
            except ApiError as e:
                if e.code != 404:
                    raise
        body = {"kind": info.list_kind, "apiVersion": info.api_version,
                "metadata": {"resourceVersion": str(await self.store.current_revision())}, "items": deleted}
        return json_response(body)

    # -- subresources --------------------------------------------------------------------
    async def _subresource(self, request: web.Request, target: Target, ctx: RequestContext
                           ) -> web.StreamResponse:
        sub, method = target.subresource, request.method
        info = target.info
        if sub in ("status", "finalize", "approval", "ephemeralcontainers"):
            if method == "GET":
                return await self.get(request, target)
            if method == "PUT":
                return await self.update(request, target, ctx, subresource=sub if sub == "status" else "")
            if method == "PATCH" and sub != "finalize":
                return await self.patch(request, target, ctx, subresource=sub if sub == "status" else "")
        elif sub == "scale":
            return await self._scale(request, target, ctx)
        elif sub == "binding" and method == "POST":
            return await self._binding(request, target, ctx)
        elif sub == "eviction" and method == "POST":
            return await self._eviction(request, target, ctx)
        handler = self.special_create.get((info.group, f"{info.plural}/{sub}"))
        if handler is not None:
            return await handler(request, target, ctx)
        raise errors.method_not_supported(f"{info.plural}/{sub}", method.lower(), info.group)

    # scale -------------------------------------------------------------------------------
    def _scale_paths(self, info: ResourceInfo) -> tuple[list[str], list[str], list[str] | None]:
        if info.custom and info.scale_paths:
            p = info.scale_paths
            return (_path(p.get("specReplicasPath", ".spec.replicas")),
                    _path(p.get("statusReplicasPath", ".status.replicas")),
                    _path(p["labelSelectorPath"]) if p.get("labelSelectorPath") else None)
        return ["spec", "replicas"], ["status", "replicas"], None

    def to_scale(self, info: ResourceInfo, obj: dict) -> dict:
        spec_path, status_path, selector_path = self._scale_paths(info)
        meta = obj["metadata"]
        if selector_path is not None:
            selector = _get_path(obj, selector_path) or ""
        else:
            selector = selector_to_string(((obj.get("spec") or {}).get("selector")) or {}) \
                if info.kind != "ReplicationController" else ",".join(
                f"{k}={v}" for k, v in sorted(((obj.get("spec") or {}).get("selector") or {}).items()))
        status = {"replicas": int(_get_path(obj, status_path) or 0)}
        if selector:
            status["selector"] = selector
        return {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                              "creationTimestamp") if k in meta},
            "spec": {"replicas": int(_get_path(obj, spec_path) or 0)},
            "status": status,
        }

    async def _scale(self, request: web.Request, target: Target, ctx: RequestContext) -> web.Response:
        info, method = target.info, request.method
        if method == "GET":
            obj = await self.store.get(info, target.namespace, target.name)
            return json_response(self.to_scale(info, obj))
        if method not in ("PUT", "PATCH"):
            raise errors.method_not_supported(f"{info.plural}/scale", method.lower(), info.group)
        spec_path, _, _ = self._scale_paths(info)
        raw = await request.read()
        mt = media_type(request.headers.get("Content-Type"))
        body = decode_body(raw, request.headers.get("Content-Type"), what="error decoding Scale")
        manager = self._manager(request, ctx)

        async def mutate(current: dict) -> dict | None:
            scale = self.to_scale(info, current)
            if method == "PUT":
                new_scale = body
            elif PATCH_TYPES.get(mt) == "json":
                new_scale = patch.apply_json_patch(scale, body)
            elif PATCH_TYPES.get(mt) in ("merge", "strategic", "apply"):
                new_scale = patch.apply_merge_patch(scale, body)
            else:
                raise errors.unsupported_media_type(mt)
            if not isinstance(new_scale, dict):
                raise errors.bad_request("Scale must be an object")
            rv = (new_scale.get("metadata") or {}).get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(info.plural, target.name, info.group)
            replicas = (new_scale.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool):
                raise errors.invalid("Scale", target.name, [Cause("FieldValueRequired", "Required value",
                                                                  "spec.replicas")], group="autoscaling")
            if replicas < 0:
                raise errors.invalid("Scale", target.name, [Cause(
                    "FieldValueInvalid", f"Invalid value: {replicas}: must be greater than or equal to 0",
                    "spec.replicas")], group="autoscaling")
            new = copy_json(current)
            _set_path(new, spec_path, replicas)
            return new

        new = await self._update_with(request, target, mutate, manager)
        return json_response(self.to_scale(info, new))

    # binding / eviction --------------------------------------------------------------------
    async def _binding(self, request: web.Request, target: Target, ctx: RequestContext) -> web.Response:
        body = decode_body(await request.read(), request.headers.get("Content-Type"),
                           what="error decoding Binding")
        if not isinstance(body, dict):
            raise errors.bad_request("Binding must be an object")
        node = ((body.get("target") or {}).get("name")) or ""
        if not node:
            raise errors.invalid("Binding", target.name, [Cause("FieldValueRequired", "Required value",
                                                                "target.name")])
        info = target.info

        async def mutate(current: dict) -> dict | None:
            if current["metadata"].get("deletionTimestamp"):
                raise errors.conflict(info.plural, target.name, info.group, "pod is being deleted")
            assigned = (current.get("spec") or {}).get("nodeName")
            if assigned:
                raise errors.conflict(info.plural, target.name, info.group,
                                      f"pod {target.name} is already assigned to node \"{assigned}\"")
            new = copy_json(current)
            new.setdefault("spec", {})["nodeName"] = node
            status = new.setdefault("status", {})
            conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                               "lastTransitionTime": now_rfc3339()})
            status["conditions"] = conditions
            return new

        async def write(current: dict) -> dict | None:
            new = await mutate(current)
            new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return new

        old, new = await self.store.guaranteed_update(info, target.namespace, target.name, write)
        await self.on_change(info, old, new)
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "code": 201}, 201)

    async def _eviction(self, request: web.Request, target: Target, ctx: RequestContext) -> web.Response:
        body = decode_body(await request.read(), request.headers.get("Content-Type"),
                           what="error decoding Eviction")
        options = (body.get("deleteOptions") if isinstance(body, dict) else None) or {}
        if not isinstance(options, dict):
            raise errors.bad_request("deleteOptions must be an object")
        causes = _delete_options_causes(options)
        if causes:
            raise errors.invalid("DeleteOptions", "", causes, group=OPTIONS_GROUP)
        await self.delete_object(target.info, target.namespace, target.name, options,
                                 _dry_run(request) or bool(options.get("dryRun")))
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "code": 201}, 201)


HANDLER_KEY = web.AppKey("podplane.handler", ResourceHandler)
CONTEXT_KEY = web.RequestKey("podplane.ctx", RequestContext)


# -- helpers --------------------------------------------------------------------------------
async def _ignore_change(info: ResourceInfo, old: dict | None, new: dict | None) -> None:
    return None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _rfc3339_after(seconds: int) -> str:
    return (_now() + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dry_run(request: web.Request) -> bool:
    # the values were validated with the request's options (_validate_request_options)
    return bool(request.query.getall("dryRun", []))


def _field_validation_mode(request: web.Request) -> str:
    """Strict, Warn (the default) or Ignore; the value was validated with the request's options."""
    return request.query.get("fieldValidation", "") or "Warn"


_OPTIONS_KIND = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions"}


def _validate_request_options(request: web.Request, target: Target) -> None:
    """Upstream validates a request's options before anything else: 422 `<Kind>Options.meta.k8s.io`.

    Create/Update/PatchOptions (fieldManager, dryRun, fieldValidation; fieldManager required
    and force forbidden by patch type) and ListOptions for lists and watches. DeleteOptions
    also come from the body: `_delete_options` checks them.
    """
    method, q = request.method, request.query
    if method == "GET":
        watch = target.watch_path or flag(q.get("watch"))
        if watch or (target.name is None and not target.subresource):
            error = list_options_error(q, watch)
            if error is not None:
                raise error
        return
    kind = _OPTIONS_KIND.get(method)
    if kind is None:
        return
    causes: list[Cause] = []
    if kind == "PatchOptions":
        if PATCH_TYPES.get(media_type(request.headers.get("Content-Type"))) == "apply":
            if not q.get("fieldManager"):
                causes.append(validation.field_required("fieldManager", "is required for apply patch"))
        elif "force" in q:
            causes.append(validation.field_forbidden("force", "may not be specified for non-apply patch"))
    causes.extend(validation.validate_field_manager(q.get("fieldManager", "")))
    causes.extend(validation.validate_dry_run(q.getall("dryRun", [])))
    causes.extend(validation.validate_field_validation(q.get("fieldValidation", "")))
    if causes:
        raise errors.invalid(kind, "", causes, group=OPTIONS_GROUP)


def _delete_options_causes(options: dict) -> list[Cause]:
    """Upstream ValidateDeleteOptions."""
    causes: list[Cause] = []
    policy = options.get("propagationPolicy")
    if options.get("orphanDependents") is not None and policy is not None:
        causes.append(validation.field_invalid("propagationPolicy", policy,
                                               "orphanDependents and deletionPropagation cannot be both set"))
    if policy is not None and policy not in ("Foreground", "Background", "Orphan"):
        causes.append(validation.field_not_supported("propagationPolicy", policy,
                                                     ("Foreground", "Background", "Orphan", "nil")))
    dry_run = options.get("dryRun")
    if dry_run is not None:
        values = dry_run if isinstance(dry_run, list) else [dry_run]
        causes.extend(validation.validate_dry_run([str(v) for v in values]))
    return causes


def _ensure_recursion_headroom() -> None:
    """Let recursive walkers follow values as deep as a request may carry (never lowers the limit)."""
    if sys.getrecursionlimit() < RECURSION_HEADROOM:
        sys.setrecursionlimit(RECURSION_HEADROOM)


def _int_param(q, name: str, default: int) -> int:
    raw = q.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(f"invalid {name} {raw!r}: must be an integer") from None


def _propagation(info: ResourceInfo, options: dict) -> str:
    policy = options.get("propagationPolicy")
    if policy:
        return policy
    if options.get("orphanDependents") is True:
        return "Orphan"
    if options.get("orphanDependents") is False:
        return "Background"
    # upstream defaults: core/v1 ReplicationControllers and batch/v1 Jobs orphan by default
    if (info.group, info.kind) in (("", "ReplicationController"), ("batch", "Job")):
        return "Orphan"
    return "Background"


def _same(a: dict, b: dict) -> bool:
    def strip(o: dict) -> dict:
        meta = {k: v for k, v in (o.get("metadata") or {}).items() if k not in ("managedFields",)}
        return {**o, "metadata": meta}

    return strip(a) == strip(b)


def _path(jsonpath: str) -> list[str]:
    return [p for p in jsonpath.strip().lstrip(".").split(".") if p]


def _get_path(obj: dict, path: list[str]):
    cur: object = obj
    for p in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def _set_path(obj: dict, path: list[str], value) -> None:
    cur = obj
    for p in path[:-1]:
        cur = cur.setdefault(p, {})
    cur[path[-1]] = value

