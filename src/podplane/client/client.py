"""The API client every component uses: typed by `ResourceInfo`, objects as dicts.

`Client` builds the REST paths from `ResourceInfo` (group, version, plural, scope)
and offers get / list (all pages) / watch / create / update (+status) / patch
(merge, strategic, json, apply) / delete / create_subresource (binding, eviction).
It raises `ApiError` for API errors and `TransportError` when the server is
unreachable. `resource(group, plural)` resolves built-in resources from the
registry; custom resources can be passed as any `ResourceInfo`.

Neighbours: `client.transport` (HTTP), `client.informer` (list+watch caches built on
`list` and `watch`), `client.fake` (the recording double for controller tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

from podplane.api.registry import Registry, ResourceInfo, default_registry

__all__ = ["Client", "PATCH_CONTENT_TYPES", "resource_path"]

PATCH_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}


def resource_path(info: ResourceInfo, namespace: str | None = None, name: str | None = None,
                  subresource: str | None = None) -> str:
    base = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    if info.namespaced and namespace:
        base += f"/namespaces/{quote(namespace, safe='')}"
    base += f"/{info.plural}"
    if name:
        base += f"/{quote(name, safe='')}"
        if subresource:
            base += f"/{subresource}"
    return base


class Client:
    def __init__(self, transport, *, registry: Registry | None = None, field_manager: str = "podplane") -> None:
        self.transport = transport
        self.registry = registry or default_registry()
        self.field_manager = field_manager

    def resource(self, group: str, plural: str, version: str | None = None) -> ResourceInfo:
        for info in self.registry.by_group_resource(group, plural):
            if version is None or info.version == version:
                return info
        raise KeyError(f"unknown resource {plural}.{group or 'core'}")

    async def close(self) -> None:
        await self.transport.close()

    # -- reads ---------------------------------------------------------------------------
    async def get(self, info: ResourceInfo, name: str, namespace: str | None = None,
                  subresource: str | None = None) -> dict:
        r = await self.transport.request("GET", resource_path(info, namespace, name, subresource))
        return r.json()

    async def list(self, info: ResourceInfo, namespace: str | None = None, *, label_selector: str = "",
                   field_selector: str = "", limit: int = 0, continue_token: str = "",
                   resource_version: str = "") -> dict:
        query = {"labelSelector": label_selector, "fieldSelector": field_selector,
                 "limit": limit or None, "continue": continue_token, "resourceVersion": resource_version}
        r = await self.transport.request("GET", resource_path(info, namespace), query=query)
        return r.json()

    async def list_all(self, info: ResourceInfo, namespace: str | None = None, *, label_selector: str = "",
                       field_selector: str = "", page_size: int = 500) -> tuple[list[dict], str]:
        """All items (following continue tokens) and the list's resourceVersion."""
        items: list[dict] = []
        token = ""
        while True:
            page = await self.list(info, namespace, label_selector=label_selector, field_selector=field_selector,
                                   limit=page_size, continue_token=token)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue", "")
            if not token:
                return items, page["metadata"]["resourceVersion"]

    def watch(self, info: ResourceInfo, namespace: str | None = None, *, resource_version: str = "",
              label_selector: str = "", field_selector: str = "", timeout_seconds: int | None = None,
              bookmarks: bool = True) -> AsyncIterator[dict]:
        query = {"watch": "true", "resourceVersion": resource_version, "labelSelector": label_selector,
                 "fieldSelector": field_selector, "timeoutSeconds": timeout_seconds,
                 "allowWatchBookmarks": "true" if bookmarks else None}
        return self.transport.stream(resource_path(info, namespace), query=query)

    # -- writes --------------------------------------------------------------------------
    def _query(self, field_manager: str | None, dry_run: bool = False, **extra) -> dict:
        query = {"fieldManager": field_manager or self.field_manager}
        if dry_run:
            query["dryRun"] = "All"
        query.update({k: v for k, v in extra.items() if v is not None})
        return query

    async def create(self, info: ResourceInfo, obj: dict, namespace: str | None = None, *,
                     field_manager: str | None = None, dry_run: bool = False) -> dict:
        namespace = namespace or (obj.get("metadata") or {}).get("namespace")
        body = {"apiVersion": info.api_version, "kind": info.kind, **obj}
        r = await self.transport.request("POST", resource_path(info, namespace),
                                         query=self._query(field_manager, dry_run), body=body)
        return r.json()

    async def update(self, info: ResourceInfo, obj: dict, *, subresource: str | None = None,
                     field_manager: str | None = None) -> dict:
        meta = obj["metadata"]
        body = {"apiVersion": info.api_version, "kind": info.kind, **obj}
        r = await self.transport.request("PUT", resource_path(info, meta.get("namespace"), meta["name"], subresource),
                                         query=self._query(field_manager), body=body)
        return r.json()

    async def update_status(self, info: ResourceInfo, obj: dict, *, field_manager: str | None = None) -> dict:
        return await self.update(info, obj, subresource="status", field_manager=field_manager)

    async def patch(self, info: ResourceInfo, name: str, patch: object, namespace: str | None = None, *,
                    patch_type: str = "merge", subresource: str | None = None, field_manager: str | None = None,
                    force: bool = False) -> dict:
        extra = {"force": "true"} if force else {}
        r = await self.transport.request("PATCH", resource_path(info, namespace, name, subresource),
                                         query=self._query(field_manager, **extra), body=patch,
                                         content_type=PATCH_CONTENT_TYPES[patch_type])
        return r.json()

    async def delete(self, info: ResourceInfo, name: str, namespace: str | None = None, *,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     preconditions: dict | None = None) -> dict | None:
        options: dict = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            options["preconditions"] = preconditions
        r = await self.transport.request("DELETE", resource_path(info, namespace, name), body=options)
        return r.json()

    async def create_subresource(self, info: ResourceInfo, name: str, subresource: str, body: dict,
                                 namespace: str | None = None) -> dict:
        r = await self.transport.request("POST", resource_path(info, namespace, name, subresource), body=body)
        return r.json()
