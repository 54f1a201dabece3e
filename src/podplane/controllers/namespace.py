"""Namespace controller: empties a deleted namespace, then finalizes it (upstream
pkg/controller/namespace/deletion).

`kubectl delete namespace x` makes the apiserver set deletionTimestamp and phase
Terminating; the namespace stays while `spec.finalizers` holds "kubernetes". `sync(name)`
then, like upstream's NamespacedResourcesDeleter:
1. re-reads the namespace (several controllers may edit it) and makes sure the phase is
   Terminating;
2. deletes every object of every namespaced resource in it (built-ins from the client's
   registry plus established custom resources) with Background propagation, lists what
   remains and records the upstream status conditions (NamespaceDeletionContentFailure,
   NamespaceContentRemaining, NamespaceFinalizersRemaining, ...);
3. while content remains it comes back after `estimate/2 + 1` seconds, where the estimate
   is the pods' terminationGracePeriodSeconds not yet elapsed (or 15 s for objects held by
   finalizers), or with rate-limited back-off on errors;
4. when nothing remains it removes "kubernetes" from spec.finalizers through the
   `finalize` subresource; the apiserver deletes the namespace once no finalizer is left.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from podplane.api.crd import resource_infos
from podplane.api.errors import ApiError
from podplane.api.meta import format_time, parse_time
from podplane.api.registry import ResourceInfo
from podplane.client.workqueue import WorkQueue

__all__ = [
    "FINALIZER_TOKEN",
    "NamespaceController",
    "ResourcesRemaining",
    "new",
    "update_conditions",
]

log = logging.getLogger(__name__)

FINALIZER_TOKEN = "kubernetes"
FINALIZER_ESTIMATE_SECONDS = 15
"""Upstream's guess for how long objects held by finalizers take to go."""
_CONFLICT_RETRIES = 5

# condition type → (reason, message) when all is well, as upstream's status_condition_utils
OK_CONDITIONS = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": ("ParsedGroupVersions",
                                                    "All legacy kube types successfully parsed"),
    "NamespaceDeletionContentFailure": ("ContentDeleted",
                                        "All content successfully deleted, may be waiting on finalization"),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentRemoved", "All content successfully removed"),
}


class ResourcesRemaining(Exception):
    """Content is still being deleted; try again after `estimate` seconds."""

    def __init__(self, estimate: int) -> None:
        super().__init__(f"some content remains in the namespace, estimate {estimate} seconds before it is removed")
        self.estimate = estimate


def update_conditions(status: dict, failures: dict[str, tuple[str, str]], now: str) -> bool:
    """Set every deletion condition: True with the failure's reason and message where one is
    given, otherwise False with the "ok" wording. Returns True when anything changed."""
    conditions = status.setdefault("conditions", [])
    changed = False
    for cond_type, ok in OK_CONDITIONS.items():
        wanted_status, (reason, message) = ("True", failures[cond_type]) if cond_type in failures else ("False", ok)
        current = next((c for c in conditions if c.get("type") == cond_type), None)
        if current is None:
            conditions.append({"type": cond_type, "status": wanted_status, "lastTransitionTime": now,
                               "reason": reason, "message": message})
            changed = True
        elif (current.get("status"), current.get("reason"), current.get("message")) != (wanted_status, reason,
                                                                                       message):
            if current.get("status") != wanted_status:
                current["lastTransitionTime"] = now
            current.update({"status": wanted_status, "reason": reason, "message": message})
            changed = True
    return changed


def _established(crd: dict) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or ())


class NamespaceController:
    name = "namespace"

    def __init__(self, ctx) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.workers = ctx.settings.workers
        # upstream retries namespace deletion at least every minute (5 ms doubling to 60 s)
        self.queue = WorkQueue("namespace", max_delay=60.0)
        self.namespaces_info = self.client.resource("", "namespaces")
        self.pods_info = self.client.resource("", "pods")
        self.namespaces = ctx.informers.resource("", "namespaces")
        self.crds = ctx.informers.resource("apiextensions.k8s.io", "customresourcedefinitions")
        self.namespaces.add_handler(self._enqueue, lambda _old, new: self._enqueue(new))

    def _enqueue(self, ns: dict) -> None:
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            self.queue.add(ns["metadata"]["name"])

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def namespaced_resources(self) -> list[ResourceInfo]:
        """Every namespaced resource that can be listed and deleted: what upstream finds
        through discovery (one version per group/resource, custom resources included)."""
        infos = list(self.client.registry.all())
        for crd in self.crds.list():
            if _established(crd):
                infos.extend(resource_infos(crd)[:1])
        seen: set[tuple[str, str]] = set()
        out = []
        for info in infos:
            key = (info.group, info.plural)
            if not info.namespaced or key in seen or not {"list", "delete"} <= set(info.verbs):
                continue
            seen.add(key)
            out.append(info)
        return out

    # -- sync ---------------------------------------------------------------------------------
    async def sync(self, name: str) -> None:
        try:
            await self._delete(name)
        except ResourcesRemaining as e:
            self.queue.add_after(name, e.estimate // 2 + 1)

    async def _delete(self, name: str) -> None:
        try:
            ns = await self.client.get(self.namespaces_info, name)
        except ApiError as e:
            if e.code == 404:
                return
            raise
        if not ns["metadata"].get("deletionTimestamp"):
            return
        ns = await self._ensure_terminating(ns)
        if ns is None or FINALIZER_TOKEN not in ((ns.get("spec") or {}).get("finalizers") or ()):
            return
        estimate, ns = await self._delete_all_content(ns)
        if estimate > 0:
            raise ResourcesRemaining(estimate)
        await self._finalize(ns)

    async def _retry_on_conflict(self, ns: dict, write) -> dict | None:
        uid = ns["metadata"]["uid"]
        for _ in range(_CONFLICT_RETRIES):
            try:
                return await write(ns)
            except ApiError as e:
                if e.code == 404:
                    return None
                if e.code != 409:
                    raise
            try:
                ns = await self.client.get(self.namespaces_info, ns["metadata"]["name"])
            except ApiError as e:
                if e.code == 404:
                    return None
                raise
            if ns["metadata"]["uid"] != uid:
                raise RuntimeError("namespace uid has changed across retries")
        raise RuntimeError(f"namespace {ns['metadata']['name']}: too many conflicts; will retry")

    async def _ensure_terminating(self, ns: dict) -> dict | None:
        async def write(current: dict) -> dict:
            if (current.get("status") or {}).get("phase") == "Terminating":
                return current
            new = {**current, "status": {**(current.get("status") or {}), "phase": "Terminating"}}
            return await self.client.update_status(self.namespaces_info, new)

        return await self._retry_on_conflict(ns, write)

    async def _finalize(self, ns: dict) -> None:
        async def write(current: dict) -> dict:
            spec = dict(current.get("spec") or {})
            spec["finalizers"] = sorted({f for f in spec.get("finalizers") or () if f != FINALIZER_TOKEN})
            return await self.client.update(self.namespaces_info, {**current, "spec": spec}, subresource="finalize")

        await self._retry_on_conflict(ns, write)
        log.info("namespace %s: all content removed, finalized", ns["metadata"]["name"])

    async def _delete_all_content(self, ns: dict) -> tuple[int, dict]:
        """Delete everything in the namespace; return the estimated seconds until it is gone
        (0: nothing left) and the namespace as last written. Errors of single resources are collected, reported in the status
        conditions and raised together after all resources had their turn."""
        namespace = ns["metadata"]["name"]
        deleted_at = parse_time(ns["metadata"]["deletionTimestamp"])
        estimate = 0
        errors: list[str] = []
        remaining: dict[str, int] = {}
        finalizers_remaining: dict[str, int] = {}
        for info in self.namespaced_resources():
            try:
                gvr_estimate, count, finalizers = await self._delete_content(info, namespace, deleted_at)
            except ApiError as e:
                errors.append(f"{info.group_resource}: {e}")
                continue
            except _UnexpectedRemaining as e:
                errors.append(str(e))
                gvr_estimate, count, finalizers = 0, e.count, {}
            estimate = max(estimate, gvr_estimate)
            if count:
                remaining[f"{info.plural}.{info.group}"] = count
                for finalizer, n in finalizers.items():
                    finalizers_remaining[finalizer] = finalizers_remaining.get(finalizer, 0) + n
        failures: dict[str, tuple[str, str]] = {}
        if remaining:
            failures["NamespaceContentRemaining"] = ("SomeResourcesRemain", "Some resources are remaining: " + ", ".join(
                sorted(f"{r} has {n} resource instances" for r, n in remaining.items())))
        if finalizers_remaining:
            failures["NamespaceFinalizersRemaining"] = ("SomeFinalizerRemain",
                                                        "Some finalizers are remaining: "
                                                        + ", ".join(sorted(f"{f} in {n} resource instances" for f, n
                                                                           in finalizers_remaining.items())))
        if errors:
            failures["NamespaceDeletionContentFailure"] = (
                "ContentDeletionFailed",
                f"Failed to delete all resource types, {len(errors)} remaining: {', '.join(sorted(errors))}")
        ns = await self._write_conditions(ns, failures)
        if errors:
            raise RuntimeError(f"namespace {namespace}: " + "; ".join(errors))
        return estimate, ns

    async def _write_conditions(self, ns: dict, failures: dict[str, tuple[str, str]]) -> dict:
        status = {**(ns.get("status") or {})}
        status["conditions"] = [dict(c) for c in status.get("conditions") or ()]
        if not update_conditions(status, failures, format_time(self._now())):
            return ns
        try:
            return await self.client.update_status(self.namespaces_info, {**ns, "status": status})
        except ApiError as e:  # best effort, as upstream: the next pass writes them again
            log.info("namespace %s: cannot update status conditions: %s", ns["metadata"]["name"], e)
            return ns

    async def _delete_content(self, info: ResourceInfo, namespace: str, deleted_at: datetime
                              ) -> tuple[int, int, dict[str, int]]:
        """(estimate seconds, objects remaining, finalizer → objects) for one resource."""
        estimate = await self._estimate_graceful_termination(info, namespace, deleted_at)
        items, _ = await self.client.list_all(info, namespace)
        for item in items:
            if item["metadata"].get("deletionTimestamp"):
                continue  # already on its way out; a second delete changes nothing
            try:
                await self.client.delete(info, item["metadata"]["name"], namespace, propagation_policy="Background")
            except ApiError as e:
                if e.code not in (404, 405):
                    raise
        items, _ = await self.client.list_all(info, namespace)
        if not items:
            return 0, 0, {}
        finalizers: dict[str, int] = {}
        for item in items:
            for f in item["metadata"].get("finalizers") or ():
                finalizers[f] = finalizers.get(f, 0) + 1
        if estimate:
            return estimate, len(items), finalizers
        if finalizers:
            return FINALIZER_ESTIMATE_SECONDS, len(items), finalizers
        raise _UnexpectedRemaining(namespace, info, len(items))

    async def _estimate_graceful_termination(self, info: ResourceInfo, namespace: str, deleted_at: datetime) -> int:
        """Pods get up to their terminationGracePeriodSeconds, counted from the namespace's
        deletion; other resources are expected to go at once."""
        if (info.group, info.plural) != ("", "pods"):
            return 0
        pods, _ = await self.client.list_all(self.pods_info, namespace)
        estimate = 0
        for pod in pods:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
            if grace is not None and grace > estimate:
                estimate = int(grace)
        if (self._now() - deleted_at).total_seconds() >= estimate:
            return 0
        return estimate


class _UnexpectedRemaining(Exception):
    def __init__(self, namespace: str, info: ResourceInfo, count: int) -> None:
        super().__init__(f"unexpected items still remain in namespace: {namespace} for gvr: "
                         f"{info.group}/{info.version}, Resource={info.plural}")
        self.count = count


def new(ctx) -> NamespaceController:
    return NamespaceController(ctx)
