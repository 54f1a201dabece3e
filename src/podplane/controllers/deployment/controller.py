"""The Deployment controller object: informer handlers, writes, and the sync dispatcher.

Handlers map Deployment, ReplicaSet and (for Recreate) pod events to the deployment's
`namespace/name` key. `sync(key)` (upstream syncDeployment) claims the ReplicaSets the
selector matches, then picks one path in upstream's priority order: a deployment being
deleted only gets its status updated; a paused one, or one whose replicas changed (a
scaling event), is scaled proportionally (`sync.py`); otherwise the strategy rolls out
the template (`rolling.py`, `recreate.py`), and `progress.py` maintains the Progressing
and Available conditions that `kubectl rollout status` watches.

The helpers here are the only places that write: `update_rs`, `create_rs`, `delete_rs`,
`update_deployment_status`; all of them keep the in-memory copies current so one sync
never trips over its own resourceVersion.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging

from podplane.api.errors import ApiError
from podplane.api.selectors import selector_from_dict
from podplane.client.informer import key_of
from podplane.client.workqueue import WorkQueue

from ..common import claim, controller_of
from . import recreate, rolling
from . import sync as syncing
from .history import REVISION

__all__ = ["DeploymentController"]

log = logging.getLogger(__name__)

KIND = "Deployment"
CONFLICT_BACKSTOP = 1.0
"""Seconds before a deployment whose write hit a 409 Conflict is synced again even if no
newer event arrived (normally the event does, within milliseconds)."""


class DeploymentController:
    name = "deployment"

    def __init__(self, ctx) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.workers = ctx.settings.workers
        self.recorder = ctx.recorder("deployment-controller")
        self.queue = WorkQueue("deployment")
        self.deploy_info = ctx.client.resource("apps", "deployments")
        self.rs_info = ctx.client.resource("apps", "replicasets")
        self.deployments = ctx.informers.resource("apps", "deployments")
        self.replicasets = ctx.informers.resource("apps", "replicasets")
        self.pods = ctx.informers.resource("", "pods")
        self.deployments.add_handler(self._enqueue, lambda old, new: self._enqueue(new), self._enqueue)
        self.replicasets.add_handler(self._rs_added, self._rs_updated, self._rs_deleted)
        self.pods.add_handler(on_delete=self._pod_deleted)

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def event(self, obj: dict, event_type: str, reason: str, message: str) -> None:
        self.recorder.event(obj, event_type, reason, message)

    # -- handlers ------------------------------------------------------------------------
    def _enqueue(self, d: dict) -> None:
        self.queue.add(key_of(d))

    def _resolve(self, namespace: str | None, ref: dict | None) -> dict | None:
        if ref is None or ref.get("kind") != KIND:
            return None
        d = self.deployments.get(namespace, ref.get("name", ""))
        if d is None or d["metadata"].get("uid") != ref.get("uid"):
            return None
        return d

    def _deployments_selecting(self, rs: dict) -> list[dict]:
        meta = rs["metadata"]
        found = []
        for d in self.deployments.list(meta.get("namespace")):
            try:
                selector = selector_from_dict((d.get("spec") or {}).get("selector"))
            except ApiError:
                continue
            if not selector.empty and selector.matches(meta.get("labels") or {}):
                found.append(d)
        return found

    def _rs_added(self, rs: dict) -> None:
        if rs["metadata"].get("deletionTimestamp"):
            self._rs_deleted(rs)
            return
        ref = controller_of(rs)
        if ref is not None:
            d = self._resolve(rs["metadata"].get("namespace"), ref)
            if d is not None:
                self._enqueue(d)
            return
        for d in self._deployments_selecting(rs):  # an orphan: whoever selects it may adopt it
            self._enqueue(d)

    def _rs_updated(self, old: dict, new: dict) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        ns = new["metadata"].get("namespace")
        old_ref, new_ref = controller_of(old), controller_of(new)
        if old_ref != new_ref and old_ref is not None:
            previous = self._resolve(ns, old_ref)
            if previous is not None:
                self._enqueue(previous)
        if new_ref is not None:
            d = self._resolve(ns, new_ref)
            if d is not None:
                self._enqueue(d)
            return
        if old["metadata"].get("labels") != new["metadata"].get("labels") or old_ref != new_ref:
            for d in self._deployments_selecting(new):
                self._enqueue(d)

    def _rs_deleted(self, rs: dict) -> None:
        d = self._resolve(rs["metadata"].get("namespace"), controller_of(rs))
        if d is not None:
            self._enqueue(d)

    def _pod_deleted(self, pod: dict) -> None:
        # Recreate waits for every old pod to be gone before it creates new ones
        rs_ref = controller_of(pod)
        if rs_ref is None or rs_ref.get("kind") != "ReplicaSet":
            return
        rs = self.replicasets.get(pod["metadata"].get("namespace"), rs_ref.get("name", ""))
        if rs is None or rs["metadata"].get("uid") != rs_ref.get("uid"):
            return
        d = self._resolve(rs["metadata"].get("namespace"), controller_of(rs))
        if d is not None and ((d.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate":
            self._enqueue(d)

    # -- writes --------------------------------------------------------------------------
    async def update_rs(self, rs: dict) -> dict:
        return await self.client.update(self.rs_info, rs)

    async def create_rs(self, rs: dict) -> dict:
        return await self.client.create(self.rs_info, rs, rs["metadata"].get("namespace"))

    async def delete_rs(self, rs: dict) -> None:
        try:
            await self.client.delete(self.rs_info, rs["metadata"]["name"], rs["metadata"].get("namespace"))
        except ApiError as e:
            if e.code != 404:
                raise

    async def update_deployment_status(self, d: dict) -> None:
        """Write d's status (and its revision annotation); keep d's resourceVersion current.

        Upstream writes the revision annotation through the status subresource, whose
        strategy keeps metadata.annotations for Deployments. When the server drops it
        (a stricter status strategy), it is written with a metadata-only merge patch.
        """
        meta = d["metadata"]
        updated = await self.client.update_status(self.deploy_info, d)
        wanted = (meta.get("annotations") or {}).get(REVISION)
        stored = ((updated.get("metadata") or {}).get("annotations") or {}).get(REVISION)
        if wanted is not None and stored != wanted:
            updated = await self.client.patch(self.deploy_info, meta["name"],
                                              {"metadata": {"annotations": {REVISION: wanted}}},
                                              meta.get("namespace"), patch_type="merge")
        meta["resourceVersion"] = updated["metadata"].get("resourceVersion")

    # -- reads ---------------------------------------------------------------------------
    async def replica_sets_for(self, d: dict) -> list[dict]:
        """ReplicaSets this deployment owns after adopting matching orphans and releasing
        owned ones that no longer match (getReplicaSetsForDeployment)."""
        selector = selector_from_dict((d.get("spec") or {}).get("selector"))
        candidates = self.replicasets.list(d["metadata"].get("namespace"))
        return [copy.deepcopy(rs) for rs in await claim(self.client, self.rs_info, d, selector, candidates)]

    def pod_map(self, d: dict, rss: list[dict]) -> dict[str, list[dict]]:
        """Pods of each owned ReplicaSet by ReplicaSet uid, terminating pods included: the
        Recreate strategy must not start new pods while any old one still runs."""
        selector = selector_from_dict((d.get("spec") or {}).get("selector"))
        by_uid: dict[str, list[dict]] = {rs["metadata"]["uid"]: [] for rs in rss}
        for pod in self.pods.list(d["metadata"].get("namespace"), selector):
            ref = controller_of(pod)
            if ref is not None and ref.get("kind") == "ReplicaSet" and ref.get("uid") in by_uid:
                by_uid[ref["uid"]].append(pod)
        return by_uid

    # -- sync ----------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        try:
            await self._sync(key)
        except ApiError as e:
            if e.code != 409 or e.reason != "Conflict":
                raise
            # a write based on a cached object one event behind: the newer object is on
            # its way to the informer and its event enqueues us again; the delayed add is
            # only a backstop should that event be lost
            log.debug("deployment %s: cache behind the server (%s); waiting for the next event", key, e)
            self.queue.add_after(key, CONFLICT_BACKSTOP)

    async def _sync(self, key: str) -> None:
        cached = self.deployments.get_by_key(key)
        if cached is None:
            return  # deleted: the garbage collector removes its ReplicaSets
        d = copy.deepcopy(cached)
        selector = (d.get("spec") or {}).get("selector")
        if selector is not None and selector_from_dict(selector).empty:
            self.event(d, "Warning", "SelectingAll",
                       "This deployment is selecting all pods. A non-empty selector is required.")
            status = d.setdefault("status", {})
            if int(status.get("observedGeneration") or 0) < int(d["metadata"].get("generation") or 0):
                status["observedGeneration"] = d["metadata"]["generation"]
                await self.update_deployment_status(d)
            return

        rss = await self.replica_sets_for(d)
        if d["metadata"].get("deletionTimestamp"):
            await syncing.sync_status_only(self, d, rss)
            return
        await syncing.check_paused_conditions(self, d)
        if (d.get("spec") or {}).get("paused"):
            await syncing.sync(self, d, rss)
            return
        if await syncing.is_scaling_event(self, d, rss):
            await syncing.sync(self, d, rss)
            return
        strategy = ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate")
        if strategy == "Recreate":
            await recreate.rollout_recreate(self, d, rss, self.pod_map(d, rss))
        elif strategy == "RollingUpdate":
            await rolling.rollout_rolling(self, d, rss)
        else:
            raise ValueError(f"unexpected deployment strategy type: {strategy}")

    # progress checks re-enqueue through the queue; exposed for the progress module
    def enqueue_after(self, d: dict, delay: float) -> None:
        self.queue.add_after(key_of(d), delay)

    def enqueue_rate_limited(self, d: dict) -> None:
        self.queue.add_rate_limited(key_of(d))
