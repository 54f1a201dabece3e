"""CustomResourceDefinition lifecycle inside the apiserver.

When a CRD is created or updated, its served versions are added to the `Registry`
(discovery, REST routes, OpenAPI follow automatically) and its status is set to
NamesAccepted + Established. When a CRD is deleted, the cleanup finalizer
(`customresourcecleanup.apiextensions.k8s.io`, as upstream) keeps it while every
custom object of that resource is removed; then the finalizer goes and so does the
CRD. At start `load_all` registers the CRDs already stored.

Driven by `ResourceHandler.on_change`; writes through `ObjectStore`.
"""

from __future__ import annotations

import copy
import logging

from podplane.api import crd as crd_api
from podplane.api.errors import ApiError
from podplane.api.meta import now_rfc3339
from podplane.api.registry import Registry, ResourceInfo
from podplane.apiserver.objects import ObjectStore

__all__ = ["CLEANUP_FINALIZER", "CrdManager"]

log = logging.getLogger(__name__)
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


class CrdManager:
    def __init__(self, registry: Registry, store: ObjectStore, on_registry_change=None) -> None:
        self.registry = registry
        self.store = store
        self.info = registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        self._on_registry_change = on_registry_change or (lambda: None)

    def is_crd(self, info: ResourceInfo) -> bool:
        return info is self.info or (info.group, info.plural) == ("apiextensions.k8s.io",
                                                                  "customresourcedefinitions")

    async def load_all(self) -> None:
        page = await self.store.list(self.info, None)
        for crd in page.items:
            if not crd["metadata"].get("deletionTimestamp"):
                self._register(crd)
            else:
                await self.changed(None, crd)

    def _register(self, crd: dict) -> None:
        spec = crd.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        self.registry.remove(group, plural)
        for info in crd_api.resource_infos(crd):
            self.registry.add(info)
        self._on_registry_change()

    def _unregister(self, crd: dict) -> None:
        spec = crd.get("spec") or {}
        self.registry.remove(spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        self._on_registry_change()

    async def changed(self, old: dict | None, new: dict | None) -> None:
        if new is None:
            if old is not None:
                self._unregister(old)
            return
        meta = new["metadata"]
        if meta.get("deletionTimestamp"):
            await self._cleanup(new)
            return
        self._register(new)
        await self._ensure_established(new)

    async def _ensure_established(self, crd: dict) -> None:
        name = crd["metadata"]["name"]

        async def mutate(current: dict) -> dict | None:
            new = copy.deepcopy(current)
            finalizers = new["metadata"].setdefault("finalizers", [])
            if CLEANUP_FINALIZER not in finalizers:
                finalizers.append(CLEANUP_FINALIZER)
            status = crd_api.established_status(new, now_rfc3339())
            old_status = current.get("status") or {}
            # keep transition times stable when nothing changed
            if _conditions_equal(old_status, status):
                status["conditions"] = old_status.get("conditions", status.get("conditions"))
            new["status"] = status
            if new == current:
                return None
            return new

        try:
            await self.store.guaranteed_update(self.info, None, name, mutate)
        except ApiError as e:
            if e.code != 404:
                raise

    async def _cleanup(self, crd: dict) -> None:
        spec = crd.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        infos = self.registry.by_group_resource(group, plural)
        self._unregister(crd)
        for info in infos[:1]:
            page = await self.store.list(info, None)
            for obj in page.items:
                try:
                    await self.store.remove(info, obj)
                except ApiError as e:
                    if e.code not in (404, 409):
                        raise
        name = crd["metadata"]["name"]

        async def mutate(current: dict) -> dict | None:
            finalizers = [f for f in current["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER]
            if finalizers == (current["metadata"].get("finalizers") or []):
                return None
            new = copy.deepcopy(current)
            new["metadata"]["finalizers"] = finalizers
            return new

        try:
            _, new = await self.store.guaranteed_update(self.info, None, name, mutate)
        except ApiError as e:
            if e.code == 404:
                return
            raise
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            try:
                await self.store.remove(self.info, new)
            except ApiError as e:
                if e.code not in (404, 409):
                    raise
            log.info("CustomResourceDefinition %s deleted", name)


def _conditions_equal(a: dict, b: dict) -> bool:
    def key(status: dict) -> list:
        return sorted((c.get("type"), c.get("status"), c.get("reason")) for c in status.get("conditions") or [])

    return key(a) == key(b)
