"""FakeClient: the recording double of `Client` for controller and scheduler unit tests.

It keeps objects in memory (with uids, resourceVersions, generateName and the
patch types of `api.patch`) and records every call as an `Action`, so a test can
seed objects, run `sync(key)` and assert `client.verbs() == ["create pods", ...]`.
`fail(verb, resource, error)` makes the next matching call raise. It does not
validate or default: controllers are tested for the requests they make, the
apiserver for how it handles them.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from podplane.api import errors, patch
from podplane.api.meta import generate_name, new_uid, now_rfc3339
from podplane.api.registry import Registry, ResourceInfo, default_registry
from podplane.api.selectors import parse_field_selector, parse_label_selector

__all__ = ["Action", "FakeClient"]


@dataclass
class Action:
    verb: str
    resource: str
    namespace: str | None
    name: str
    obj: object = None
    options: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.verb} {self.resource}"


class FakeClient:
    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry or default_registry()
        self.objects: dict[tuple[str, str, str | None, str], dict] = {}
        self.actions: list[Action] = []
        self._rv = itertools.count(1)
        self._failures: list[tuple[str, str, Exception]] = []
        self.field_manager = "fake"

    # -- test helpers ----------------------------------------------------------------------
    def resource(self, group: str, plural: str, version: str | None = None) -> ResourceInfo:
        for info in self.registry.by_group_resource(group, plural):
            if version is None or info.version == version:
                return info
        raise KeyError(f"unknown resource {plural}.{group or 'core'}")

    def seed(self, info: ResourceInfo, obj: dict) -> dict:
        """Store an object without recording an action; fills uid and resourceVersion."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", new_uid())
        meta.setdefault("creationTimestamp", now_rfc3339())
        meta["resourceVersion"] = str(next(self._rv))
        obj.setdefault("apiVersion", info.api_version)
        obj.setdefault("kind", info.kind)
        self.objects[self._key(info, meta.get("namespace"), meta["name"])] = obj
        return obj

    def verbs(self) -> list[str]:
        return [str(a) for a in self.actions]

    def actions_for(self, verb: str, resource: str) -> list[Action]:
        return [a for a in self.actions if a.verb == verb and a.resource == resource]

    def clear_actions(self) -> None:
        self.actions.clear()

    def fail(self, verb: str, resource: str, error: Exception) -> None:
        self._failures.append((verb, resource, error))

    def stored(self, info: ResourceInfo, name: str, namespace: str | None = None) -> dict | None:
        return self.objects.get(self._key(info, namespace, name))

    async def close(self) -> None:
        return None

    # -- internals -------------------------------------------------------------------------
    @staticmethod
    def _key(info: ResourceInfo, namespace: str | None, name: str) -> tuple:
        return (info.group, info.plural, namespace if info.namespaced else None, name)

    def _record(self, verb: str, info: ResourceInfo, namespace: str | None, name: str, obj=None,
                subresource: str | None = None, **options) -> None:
        resource = info.plural + (f"/{subresource}" if subresource else "")
        self.actions.append(Action(verb, resource, namespace, name, copy.deepcopy(obj), options))
        for i, (v, r, error) in enumerate(self._failures):
            if v == verb and r == resource:
                del self._failures[i]
                raise error

    def _get(self, info: ResourceInfo, namespace: str | None, name: str) -> dict:
        obj = self.objects.get(self._key(info, namespace, name))
        if obj is None:
            raise errors.not_found(info.plural, name, info.group)
        return obj

    # -- the Client interface --------------------------------------------------------------
    async def get(self, info: ResourceInfo, name: str, namespace: str | None = None,
                  subresource: str | None = None) -> dict:
        self._record("get", info, namespace, name, subresource=subresource)
        return copy.deepcopy(self._get(info, namespace, name))

    async def list(self, info: ResourceInfo, namespace: str | None = None, *, label_selector: str = "",
                   field_selector: str = "", **_) -> dict:
        self._record("list", info, namespace, "")
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector)
        from podplane.api.selectors import field_set

        items = [copy.deepcopy(o) for (g, p, ns, _), o in sorted(self.objects.items(), key=lambda kv: (kv[0][2] or "", kv[0][3]))
                 if (g, p) == (info.group, info.plural) and (namespace is None or ns == namespace)
                 and labels.matches((o.get("metadata") or {}).get("labels") or {})
                 and fields.matches(field_set(info, o))]
        return {"kind": info.list_kind, "apiVersion": info.api_version,
                "metadata": {"resourceVersion": str(next(self._rv))}, "items": items}

    async def list_all(self, info: ResourceInfo, namespace: str | None = None, **kw) -> tuple[list[dict], str]:
        page = await self.list(info, namespace, **kw)
        return page["items"], page["metadata"]["resourceVersion"]

    def watch(self, info: ResourceInfo, namespace: str | None = None, **_) -> AsyncIterator[dict]:
        async def empty() -> AsyncIterator[dict]:
            if False:
                yield {}

        return empty()

    async def create(self, info: ResourceInfo, obj: dict, namespace: str | None = None, **_) -> dict:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        namespace = namespace or meta.get("namespace")
        if info.namespaced:
            meta["namespace"] = namespace
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = generate_name(meta["generateName"])
        self._record("create", info, namespace, meta.get("name", ""), obj)
        if self._key(info, namespace, meta["name"]) in self.objects:
            raise errors.already_exists(info.plural, meta["name"], info.group)
        meta.pop("resourceVersion", None)
        return copy.deepcopy(self.seed(info, obj))

    async def update(self, info: ResourceInfo, obj: dict, *, subresource: str | None = None, **_) -> dict:
        meta = obj["metadata"]
        self._record("update", info, meta.get("namespace"), meta["name"], obj, subresource=subresource)
        current = self._get(info, meta.get("namespace"), meta["name"])
        if meta.get("resourceVersion") and meta["resourceVersion"] != current["metadata"]["resourceVersion"]:
            raise errors.conflict(info.plural, meta["name"], info.group)
        new = copy.deepcopy(obj)
        new["metadata"]["resourceVersion"] = str(next(self._rv))
        self.objects[self._key(info, meta.get("namespace"), meta["name"])] = new
        return copy.deepcopy(new)

    async def update_status(self, info: ResourceInfo, obj: dict, **kw) -> dict:
        return await self.update(info, obj, subresource="status", **kw)

    async def patch(self, info: ResourceInfo, name: str, body: object, namespace: str | None = None, *,
                    patch_type: str = "merge", subresource: str | None = None, **_) -> dict:
        self._record("patch", info, namespace, name, body, subresource=subresource, patch_type=patch_type)
        current = self._get(info, namespace, name)
        if patch_type == "json":
            new = patch.apply_json_patch(current, body)
        elif patch_type == "strategic":
            from podplane.api.schema import node_for_kind

            new = patch.apply_strategic_merge_patch(current, body, node_for_kind(info.group, info.version,
                                                                                  info.kind))
        else:
            new = patch.apply_merge_patch(current, body)
        new["metadata"]["resourceVersion"] = str(next(self._rv))
        self.objects[self._key(info, namespace, name)] = new
        return copy.deepcopy(new)

    async def delete(self, info: ResourceInfo, name: str, namespace: str | None = None, **options) -> dict:
        self._record("delete", info, namespace, name, **{k: v for k, v in options.items() if v is not None})
        obj = self._get(info, namespace, name)
        del self.objects[self._key(info, namespace, name)]
        return copy.deepcopy(obj)

    async def create_subresource(self, info: ResourceInfo, name: str, subresource: str, body: dict,
                                 namespace: str | None = None) -> dict:
        self._record("create", info, namespace, name, body, subresource=subresource)
        current = self._get(info, namespace, name)
        if subresource == "binding":
            current.setdefault("spec", {})["nodeName"] = body["target"]["name"]
        elif subresource == "eviction":
            del self.objects[self._key(info, namespace, name)]
        return {"kind": "Status", "apiVersion": "v1", "status": "Success"}
