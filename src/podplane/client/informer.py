"""Informers: list+watch caches with indexes and event handlers (client-go shape).

An `Informer` lists a resource, then watches from the list's resourceVersion and
keeps a local cache (`namespace/name` → object) with a namespace index plus any
custom indexes. Handlers (`on_add`, `on_update(old, new)`, `on_delete`) run
synchronously after the cache changes; controllers' handlers only compute keys and
enqueue them. A watch that ends is resumed from the last resourceVersion (bookmarks
keep it fresh); a 410 Gone or any error leads to a relist with back-off, and the
relist replays the difference as add/update/delete events. `resync` re-delivers
every cached object as an update periodically.

`InformerFactory` shares one informer per resource (and selector) among components.
Cached objects are shared: treat them as immutable and copy before changing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable

from podplane.api.errors import ApiError
from podplane.api.registry import ResourceInfo
from podplane.api.selectors import LabelSelector
from podplane.client.client import Client
from podplane.client.transport import TransportError

__all__ = ["Informer", "InformerFactory", "key_of", "split_key"]

log = logging.getLogger(__name__)

Handler = Callable[..., None]
IndexFunc = Callable[[dict], Iterable[str]]


def key_of(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else meta["name"]


def split_key(key: str) -> tuple[str | None, str]:
    if "/" in key:
        ns, name = key.split("/", 1)
        return ns, name
    return None, key


class Informer:
    def __init__(self, client: Client, info: ResourceInfo, *, namespace: str | None = None,
                 label_selector: str = "", field_selector: str = "", resync: float = 0.0,
                 watch_timeout: int = 300) -> None:
        self.client = client
        self.info = info
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync = resync
        self.watch_timeout = watch_timeout
        self._items: dict[str, dict] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indexes: dict[str, dict[str, set[str]]] = {}
        self._handlers: list[tuple[Handler | None, Handler | None, Handler | None]] = []
        self._synced = asyncio.Event()
        self.resource_version = ""
        self.add_indexer("namespace", lambda o: [(o.get("metadata") or {}).get("namespace") or ""])

    # -- configuration -------------------------------------------------------------------
    def add_handler(self, on_add: Handler | None = None, on_update: Handler | None = None,
                    on_delete: Handler | None = None) -> None:
        self._handlers.append((on_add, on_update, on_delete))
        for obj in list(self._items.values()):  # late handlers see the current state
            if on_add:
                self._call(on_add, obj)

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        self._indexers[name] = func
        index: dict[str, set[str]] = {}
        for key, obj in self._items.items():
            for value in func(obj):
                index.setdefault(value, set()).add(key)
        self._indexes[name] = index

    # -- reads ---------------------------------------------------------------------------
    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    def get(self, namespace: str | None, name: str) -> dict | None:
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def get_by_key(self, key: str) -> dict | None:
        return self._items.get(key)

    def list(self, namespace: str | None = None, selector: LabelSelector | None = None) -> list[dict]:
        if namespace is None:
            objs: Iterable[dict] = self._items.values()
        else:
            objs = (self._items[k] for k in self._indexes["namespace"].get(namespace, ()))
        if selector is None:
            return list(objs)
        return [o for o in objs if selector.matches((o.get("metadata") or {}).get("labels") or {})]

    def by_index(self, name: str, value: str) -> list[dict]:
        return [self._items[k] for k in self._indexes[name].get(value, ()) if k in self._items]

    def keys(self) -> list[str]:
        return list(self._items)

    # -- cache maintenance -----------------------------------------------------------------
    def _index_add(self, key: str, obj: dict) -> None:
        for name, func in self._indexers.items():
            for value in func(obj):
                self._indexes[name].setdefault(value, set()).add(key)

    def _index_remove(self, key: str, obj: dict) -> None:
        for name, func in self._indexers.items():
            for value in func(obj):
                keys = self._indexes[name].get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._indexes[name][value]

    def _call(self, handler: Handler, *args) -> None:
        try:
            handler(*args)
        except Exception:
            log.exception("%s informer: handler failed", self.info.plural)

    def _apply(self, event_type: str, obj: dict) -> None:
        key = key_of(obj)
        old = self._items.get(key)
        if event_type == "DELETED":
            if old is None:
                return
            del self._items[key]
            self._index_remove(key, old)
            for _, _, on_delete in self._handlers:
                if on_delete:
                    self._call(on_delete, obj)
            return
        if old is not None:
            self._index_remove(key, old)
        self._items[key] = obj
        self._index_add(key, obj)
        for on_add, on_update, _ in self._handlers:
            if old is None and on_add:
                self._call(on_add, obj)
            elif old is not None and on_update:
                self._call(on_update, old, obj)

    def replace(self, items: list[dict], resource_version: str) -> None:
        """Make the cache equal to a fresh list, delivering the differences as events."""
        fresh = {key_of(o): o for o in items}
        for key in [k for k in self._items if k not in fresh]:
            self._apply("DELETED", self._items[key])
        for key, obj in fresh.items():
            old = self._items.get(key)
            if old is None or old.get("metadata", {}).get("resourceVersion") != obj["metadata"].get(
                    "resourceVersion"):
                self._apply("MODIFIED" if old is not None else "ADDED", obj)
        self.resource_version = resource_version
        self._synced.set()

    # -- the loop --------------------------------------------------------------------------
    async def run(self) -> None:
        backoff = 0.2
        resync_task = asyncio.create_task(self._resync_loop()) if self.resync else None
        try:
            while True:
                try:
                    items, rv = await self.client.list_all(self.info, self.namespace,
                                                           label_selector=self.label_selector,
                                                           field_selector=self.field_selector)
                    for item in items:
                        item.setdefault("apiVersion", self.info.api_version)
                        item.setdefault("kind", self.info.kind)
                    self.replace(items, rv)
                    backoff = 0.2
                    await self._watch_until_gone()
                except (ApiError, TransportError) as e:
                    log.info("%s informer: relisting after %s", self.info.plural, e)
                    await asyncio.sleep(backoff * (1 + random.random()))
                    backoff = min(backoff * 2, 10.0)
        finally:
            if resync_task:
                resync_task.cancel()

    async def _watch_until_gone(self) -> None:
        """Watch from the cached resourceVersion, resuming after clean stream ends."""
        while True:
            stream = self.client.watch(self.info, self.namespace, resource_version=self.resource_version,
                                       label_selector=self.label_selector, field_selector=self.field_selector,
                                       timeout_seconds=int(self.watch_timeout * (1 + random.random())))
            async for event in stream:
                kind = event.get("type")
                obj = event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        return  # too old: relist
                    raise ApiError(int(obj.get("code") or 500), obj.get("reason", "Unknown"), obj.get("message", ""))
                rv = (obj.get("metadata") or {}).get("resourceVersion")
                if kind == "BOOKMARK":
                    if rv:
                        self.resource_version = rv
                    continue
                obj.setdefault("apiVersion", self.info.api_version)
                obj.setdefault("kind", self.info.kind)
                self._apply(kind, obj)
                if rv:
                    self.resource_version = rv

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync)
            for obj in list(self._items.values()):
                for _, on_update, _ in self._handlers:
                    if on_update:
                        self._call(on_update, obj, obj)


class InformerFactory:
    """One shared informer per (resource, namespace, selectors); started together."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._informers: dict[tuple, Informer] = {}
        self._tasks: list[asyncio.Task] = []

    def informer(self, info: ResourceInfo, *, namespace: str | None = None, label_selector: str = "",
                 field_selector: str = "", resync: float = 0.0) -> Informer:
        key = (info.group, info.plural, namespace, label_selector, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(self.client, info, namespace=namespace, label_selector=label_selector,
                                field_selector=field_selector, resync=resync)
            self._informers[key] = informer
            if self._tasks:  # factory already running: start late informers at once
                self._tasks.append(asyncio.create_task(informer.run()))
        return informer

    def resource(self, group: str, plural: str, **kw) -> Informer:
        return self.informer(self.client.resource(group, plural), **kw)

    def start(self) -> None:
        for informer in self._informers.values():
            self._tasks.append(asyncio.create_task(informer.run(), name=f"informer-{informer.info.plural}"))

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in self._informers.values()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
