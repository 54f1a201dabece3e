"""Garbage collector: deletes objects whose owners are gone (upstream pkg/controller/garbagecollector).

Informers on every deletable resource (built-ins from the client's registry, custom
resources from CustomResourceDefinitions, events excluded) feed a dependency graph keyed
by uid: each node knows its ownerReferences and its dependents. Like upstream's graph
builder, the handlers update this graph in memory and enqueue the uids that need a look;
an owner referenced before it was observed becomes a "virtual" node that is verified by
a live GET. `sync(uid)` is level-triggered and does one of:
- orphan: the object is being deleted with the `orphan` finalizer → remove its
  ownerReference from every dependent, then remove the finalizer;
- foreground: it is being deleted with `foregroundDeletion` → its dependents get deleted
  (each sync on a dependent sees the owner "waiting"); once no dependent with
  blockOwnerDeletion remains, the finalizer goes and the apiserver deletes the owner;
- background: every owner is absent (a live GET by name answers 404 or another uid) →
  delete the object (uid precondition); owners that still exist keep it, only dangling
  references are removed.
`run()` resyncs the whole graph every `gc_interval` seconds and starts or stops the
informers of custom resources as CRDs come and go. Neighbours: the apiserver adds the
`orphan`/`foregroundDeletion` finalizers from DeleteOptions; the namespace controller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from podplane.api.crd import resource_infos
from podplane.api.errors import ApiError
from podplane.api.registry import ResourceInfo
from podplane.client.informer import Informer
from podplane.client.workqueue import WorkQueue

__all__ = [
    "FOREGROUND_FINALIZER",
    "GarbageCollector",
    "IGNORED_RESOURCES",
    "ORPHAN_FINALIZER",
    "custom_resources",
    "deletable_resources",
    "new",
]

log = logging.getLogger(__name__)

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"
IGNORED_RESOURCES = frozenset({("", "events"), ("events.k8s.io", "events")})
"""Upstream's GC ignores events: they are many, short-lived and never own anything."""
_WATCH_VERBS = frozenset({"list", "watch", "delete"})
_ABSENT_CACHE_SIZE = 500
_CONFLICT_RETRIES = 5


def deletable_resources(infos: Iterable[ResourceInfo]) -> list[ResourceInfo]:
    """One ResourceInfo per group/resource that can be listed, watched and deleted."""
    seen: set[tuple[str, str]] = set()
    out = []
    for info in infos:
        key = (info.group, info.plural)
        if key in seen or key in IGNORED_RESOURCES or not _WATCH_VERBS <= set(info.verbs):
            continue
        seen.add(key)
        out.append(info)
    return out


def _established(crd: dict) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or ())


def custom_resources(crds: Iterable[dict]) -> list[ResourceInfo]:
    """The preferred version of every established CRD's resource (what discovery would list)."""
    out = []
    for crd in crds:
        if not _established(crd) or (crd.get("metadata") or {}).get("deletionTimestamp"):
            continue
        infos = resource_infos(crd)
        if infos:
            out.append(infos[0])
    return out


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


@dataclass
class _Node:
    """One object in the dependency graph (upstream `node`)."""

    uid: str
    api_version: str
    kind: str
    namespace: str | None
    name: str
    info: ResourceInfo | None
    owners: list[dict] = field(default_factory=list)
    dependents: set[str] = field(default_factory=set)
    observed: bool = False
    """Seen through an informer; False for a "virtual" owner known only from a reference."""
    being_deleted: bool = False
    deleting_dependents: bool = False
    """Being deleted with the foregroundDeletion finalizer: waits for blocking dependents."""
    orphaning: bool = False
    """Being deleted with the orphan finalizer: its dependents lose their references."""

    def describe(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} ({self.uid})"


class GarbageCollector:
    name = "garbagecollector"

    def __init__(self, ctx) -> None:
        self.client = ctx.client
        self.informers = ctx.informers
        self.interval = ctx.settings.gc_interval
        self.workers = ctx.settings.workers
        self.queue = WorkQueue("garbagecollector")
        self.nodes: dict[str, _Node] = {}
        self._absent: OrderedDict[tuple, None] = OrderedDict()
        self._virtual_retries: dict[str, int] = {}
        self._custom: dict[tuple[str, str], tuple[ResourceInfo, Informer, asyncio.Task | None]] = {}
        self._crds_changed = asyncio.Event()
        self._builtin_keys: set[tuple[str, str]] = set()
        for info in deletable_resources(self.client.registry.all()):
            self._builtin_keys.add((info.group, info.plural))
            self._watch(info, self.informers.informer(info))
        self.crds = self.informers.resource("apiextensions.k8s.io", "customresourcedefinitions")
        self.crds.add_handler(lambda _: self._crds_changed.set(), lambda _o, _n: self._crds_changed.set(),
                              lambda _: self._crds_changed.set())

    # -- graph builder (informer handlers: in-memory graph updates + enqueue) -----------------
    def _watch(self, info: ResourceInfo, informer: Informer) -> None:
        informer.add_handler(lambda obj: self._observe(info, obj),
                             lambda _old, new: self._observe(info, new),
                             lambda obj: self._observe_deleted(info, obj))

    def _observe(self, info: ResourceInfo, obj: dict) -> None:
        meta = obj.get("metadata") or {}
        uid = meta.get("uid")
        if not uid:
            return
        owners = list(meta.get("ownerReferences") or ())
        node = self.nodes.get(uid)
        if node is None:
            node = _Node(uid=uid, api_version=info.api_version, kind=info.kind,
                         namespace=meta.get("namespace") if info.namespaced else None, name=meta["name"],
                         info=info, owners=owners, observed=True)
            self.nodes[uid] = node
            self._add_to_owners(node, owners)
        else:
            if not node.observed:  # a virtual owner turned out to exist: take its real identity
                node.api_version, node.kind, node.info, node.name = info.api_version, info.kind, info, meta["name"]
                node.namespace = meta.get("namespace") if info.namespaced else None
                node.observed = True
                self._virtual_retries.pop(uid, None)
            old_by_uid = {r.get("uid"): r for r in node.owners}
            new_by_uid = {r.get("uid"): r for r in owners}
            if old_by_uid != new_by_uid:
                added = [r for u, r in new_by_uid.items() if u not in old_by_uid]
                removed = [r for u, r in old_by_uid.items() if u not in new_by_uid]
                unblocked = [r for u, r in old_by_uid.items() if u in new_by_uid and r.get("blockOwnerDeletion")
                             and not new_by_uid[u].get("blockOwnerDeletion")]
                # an owner waiting in foreground deletion may now be free to go
                for ref in removed + unblocked:
                    owner = self.nodes.get(ref.get("uid"))
                    if ref.get("blockOwnerDeletion") and owner is not None and owner.deleting_dependents:
                        self.queue.add(owner.uid)
                node.owners = owners
                self._add_to_owners(node, added)
                for ref in removed:
                    owner = self.nodes.get(ref.get("uid"))
                    if owner is not None:
                        owner.dependents.discard(uid)
        finalizers = meta.get("finalizers") or ()
        node.being_deleted = bool(meta.get("deletionTimestamp"))
        node.deleting_dependents = node.being_deleted and FOREGROUND_FINALIZER in finalizers
        node.orphaning = node.being_deleted and ORPHAN_FINALIZER in finalizers
        if node.orphaning:
            self.queue.add(uid)
        if node.deleting_dependents:
            self.queue.add(uid)
            for dep in node.dependents:
                self.queue.add(dep)

    def _add_to_owners(self, node: _Node, refs: list[dict]) -> None:
        for ref in refs:
            owner_uid = ref.get("uid")
            if not owner_uid:
                continue
            owner = self.nodes.get(owner_uid)
            if owner is None:
                # referenced before observed: a virtual node, verified by a live GET in sync
                info = self._resolve(ref.get("apiVersion", ""), ref.get("kind", ""))
                namespace = node.namespace if info is None or info.namespaced else None
                owner = _Node(uid=owner_uid, api_version=ref.get("apiVersion", ""), kind=ref.get("kind", ""),
                              namespace=namespace, name=ref.get("name", ""), info=info)
                self.nodes[owner_uid] = owner
                self.queue.add(owner_uid)
            owner.dependents.add(node.uid)

    def _observe_deleted(self, info: ResourceInfo, obj: dict) -> None:
        node = self.nodes.get((obj.get("metadata") or {}).get("uid"))
        if node is not None:
            self._remove_node(node)

    def _remove_node(self, node: _Node) -> None:
        """Drop a node that no longer exists; its dependents may now be garbage, and owners
        waiting for it in foreground deletion may finish."""
        self.nodes.pop(node.uid, None)
        self._virtual_retries.pop(node.uid, None)
        if node.dependents:
            self._remember_absent(node.api_version, node.kind, node.namespace, node.name, node.uid)
        for dep in node.dependents:
            self.queue.add(dep)
        for ref in node.owners:
            owner = self.nodes.get(ref.get("uid"))
            if owner is None:
                continue
            owner.dependents.discard(node.uid)
            if owner.deleting_dependents:
                self.queue.add(owner.uid)

    # -- helpers ------------------------------------------------------------------------------
    def _resolve(self, api_version: str, kind: str) -> ResourceInfo | None:
        group, version = _split_api_version(api_version)
        registry = self.client.registry
        info = registry.by_kind(group, version, kind) or registry.by_group_kind(group, kind)
        if info is not None:
            return info
        for custom, _, _ in self._custom.values():
            if custom.group == group and custom.kind == kind:
                return custom
        return None

    def _alive(self, ref: dict) -> bool:
        owner = self.nodes.get(ref.get("uid"))
        return owner is not None and owner.observed and not owner.being_deleted

    def _absent_key(self, api_version: str, kind: str, namespace: str | None, name: str, uid: str) -> tuple:
        return (_split_api_version(api_version)[0], kind, namespace or "", name, uid)

    def _remember_absent(self, api_version: str, kind: str, namespace: str | None, name: str, uid: str) -> None:
        self._absent[self._absent_key(api_version, kind, namespace, name, uid)] = None
        while len(self._absent) > _ABSENT_CACHE_SIZE:
            self._absent.popitem(last=False)

    async def _get(self, info: ResourceInfo, name: str, namespace: str | None, uid: str) -> dict | None:
        """The live object, or None when it is gone or replaced by one with another uid."""
        try:
            obj = await self.client.get(info, name, namespace if info.namespaced else None)
        except ApiError as e:
            if e.code == 404:
                return None
            raise
        if (obj.get("metadata") or {}).get("uid") != uid:
            return None
        return obj

    # -- sync ---------------------------------------------------------------------------------
    async def sync(self, uid: str) -> None:
        node = self.nodes.get(uid)
        if node is None:
            return
        if node.orphaning:
            await self._orphan_dependents(node)
            return
        # "being deleted" is a one-way trip: wait for the final delete, then look at dependents
        if node.being_deleted and not node.deleting_dependents:
            return
        if node.observed and not node.deleting_dependents and all(self._alive(r) for r in node.owners):
            return  # no owners, or only owners the graph has seen alive: nothing can be garbage
        if node.info is None:
            log.debug("garbage collector: cannot resolve %s, leaving it alone", node.describe())
            return
        latest = await self._get(node.info, node.name, node.namespace, uid)
        if latest is None:
            # upstream's "virtual delete event": the object is gone, so are its references
            self._remove_node(node)
            return
        if node.deleting_dependents:
            await self._process_deleting_dependents(node)
        else:
            await self._attempt_to_delete(node, latest)
        if not node.observed and uid in self.nodes:
            # exists but no informer has shown it yet: look again later (upstream requeues)
            retries = self._virtual_retries.get(uid, 0)
            self._virtual_retries[uid] = retries + 1
            self.queue.add_after(uid, min(0.5 * 2 ** retries, 300.0))

    async def _attempt_to_delete(self, node: _Node, latest: dict) -> None:
        meta = latest["metadata"]
        refs = list(meta.get("ownerReferences") or ())
        if not refs:
            return
        classified = await self._classify(node, refs)
        if classified is None:
            return
        solid, dangling, waiting = classified
        if solid:
            if dangling or waiting:
                # live owners keep the object; references to absent or foreground-deleting owners go
                await self._remove_owner_refs(node, {r["uid"] for r in dangling + waiting})
            return
        if waiting and node.dependents:
            if any(self.nodes[d].deleting_dependents for d in node.dependents if d in self.nodes):
                # a dependent of ours waits for us while our owner waits for us: break the cycle
                await self._unblock_owner_refs(node)
            await self._delete(node, "Foreground")
            return
        finalizers = meta.get("finalizers") or ()
        if ORPHAN_FINALIZER in finalizers:
            policy = "Orphan"
        elif FOREGROUND_FINALIZER in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        await self._delete(node, policy)

    async def _classify(self, node: _Node, refs: list[dict]) -> tuple[list, list, list] | None:
        """Split owner references into solid, dangling and waiting-for-dependents-deletion.
        None when the references cannot be judged (a cluster-scoped object naming a
        namespaced owner, or an owner kind this cluster does not serve)."""
        solid, dangling, waiting = [], [], []
        for ref in refs:
            owner_uid = ref.get("uid", "")
            if self._alive(ref):
                solid.append(ref)  # the graph may lag, but only towards "still exists": safe
                continue
            info = self._resolve(ref.get("apiVersion", ""), ref.get("kind", ""))
            if info is None:
                log.debug("garbage collector: %s names an owner of unknown kind %s %s; not collecting it",
                         node.describe(), ref.get("apiVersion"), ref.get("kind"))
                return None
            if info.namespaced and not node.namespace:
                log.debug("garbage collector: cluster-scoped %s names namespaced owner %s %s; ignoring it",
                         node.describe(), ref.get("kind"), ref.get("name"))
                return None
            namespace = node.namespace if info.namespaced else None
            key = self._absent_key(ref.get("apiVersion", ""), ref.get("kind", ""), namespace, ref.get("name", ""),
                                   owner_uid)
            if key in self._absent:
                dangling.append(ref)
                continue
            owner = await self._get(info, ref.get("name", ""), namespace, owner_uid)
            if owner is None:
                self._remember_absent(ref.get("apiVersion", ""), ref.get("kind", ""), namespace,
                                      ref.get("name", ""), owner_uid)
                dangling.append(ref)
            elif owner["metadata"].get("deletionTimestamp") and FOREGROUND_FINALIZER in (
                    owner["metadata"].get("finalizers") or ()):
                waiting.append(ref)
            else:
                solid.append(ref)
        return solid, dangling, waiting

    async def _process_deleting_dependents(self, node: _Node) -> None:
        blocking = [dep for dep in (self.nodes.get(d) for d in node.dependents) if dep is not None and any(
            r.get("uid") == node.uid and r.get("blockOwnerDeletion") for r in dep.owners)]
        if not blocking:
            await self._remove_finalizer(node, FOREGROUND_FINALIZER)
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self.queue.add(dep.uid)

    async def _orphan_dependents(self, node: _Node) -> None:
        for dep_uid in sorted(node.dependents):
            dep = self.nodes.get(dep_uid)
            if dep is not None and dep.info is not None:
                await self._remove_owner_refs(dep, {node.uid})
        await self._remove_finalizer(node, ORPHAN_FINALIZER)

    # -- writes -------------------------------------------------------------------------------
    async def _delete(self, node: _Node, policy: str) -> None:
        log.info("garbage collector: deleting %s (propagation %s)", node.describe(), policy)
        try:
            await self.client.delete(node.info, node.name, node.namespace, propagation_policy=policy,
                                     preconditions={"uid": node.uid})
        except ApiError as e:
            if e.code != 404:
                raise

    async def _patch_meta(self, node: _Node, change) -> None:
        """Read-modify-write of metadata with resourceVersion and uid preconditions, retried
        on conflict. `change(meta)` returns the metadata patch, or None when nothing is left
        to do."""
        for _ in range(_CONFLICT_RETRIES):
            latest = await self._get(node.info, node.name, node.namespace, node.uid)
            if latest is None:
                return
            patch = change(latest["metadata"])
            if patch is None:
                return
            body = {"metadata": {**patch, "uid": node.uid, "resourceVersion": latest["metadata"]["resourceVersion"]}}
            try:
                await self.client.patch(node.info, node.name, body, node.namespace, patch_type="merge")
                return
            except ApiError as e:
                if e.code == 404:
                    return
                if e.code != 409:
                    raise
        raise RuntimeError(f"garbage collector: {node.describe()} kept changing; will retry")

    async def _remove_owner_refs(self, node: _Node, owner_uids: set[str]) -> None:
        def change(meta: dict) -> dict | None:
            refs = list(meta.get("ownerReferences") or ())
            kept = [r for r in refs if r.get("uid") not in owner_uids]
            if len(kept) == len(refs):
                return None
            return {"ownerReferences": kept or None}

        await self._patch_meta(node, change)

    async def _unblock_owner_refs(self, node: _Node) -> None:
        def change(meta: dict) -> dict | None:
            refs = [dict(r) for r in meta.get("ownerReferences") or ()]
            if not any(r.get("blockOwnerDeletion") for r in refs):
                return None
            for r in refs:
                if r.get("blockOwnerDeletion"):
                    r["blockOwnerDeletion"] = False
            return {"ownerReferences": refs}

        await self._patch_meta(node, change)

    async def _remove_finalizer(self, node: _Node, finalizer: str) -> None:
        def change(meta: dict) -> dict | None:
            finalizers = list(meta.get("finalizers") or ())
            if finalizer not in finalizers:
                return None
            kept = [f for f in finalizers if f != finalizer]
            return {"finalizers": kept or None}

        await self._patch_meta(node, change)

    # -- periodic work --------------------------------------------------------------------------
    def resync(self) -> None:
        """Enqueue every node that may need work: a safety net for missed events."""
        for node in list(self.nodes.values()):
            if node.owners or node.being_deleted or not node.observed:
                self.queue.add(node.uid)

    def sync_monitors(self) -> None:
        """Start informers for new custom resources, stop those whose CRD is gone."""
        wanted = {(i.group, i.plural): i for i in custom_resources(self.crds.list())
                  if (i.group, i.plural) not in self._builtin_keys and _WATCH_VERBS <= set(i.verbs)}
        for key in [k for k in self._custom if k not in wanted or wanted[k].version != self._custom[k][0].version]:
            info, _, task = self._custom.pop(key)
            if task is not None:
                task.cancel()
            for node in [n for n in self.nodes.values() if n.observed and n.info == info]:
                self._remove_node(node)
        for key, info in wanted.items():
            if key in self._custom:
                continue
            informer = Informer(self.client, info)
            self._watch(info, informer)
            task = asyncio.create_task(informer.run(), name=f"gc-informer-{info.plural}.{info.group}")
            self._custom[key] = (info, informer, task)
        # owners referenced before their CRD was served can be looked up now
        for node in self.nodes.values():
            if not node.observed and node.info is None:
                node.info = self._resolve(node.api_version, node.kind)
                if node.info is not None:
                    if not node.info.namespaced:
                        node.namespace = None
                    self.queue.add(node.uid)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_resync = loop.time() + self.interval
        try:
            while True:
                self.sync_monitors()
                timeout = max(0.0, next_resync - loop.time())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._crds_changed.wait(), timeout)
                self._crds_changed.clear()
                if loop.time() >= next_resync:
                    self.resync()
                    next_resync = loop.time() + self.interval
        finally:
            for _, _, task in self._custom.values():
                if task is not None:
                    task.cancel()


def new(ctx) -> GarbageCollector:
    return GarbageCollector(ctx)
