"""DaemonSet controller: one daemon pod on every eligible node (upstream pkg/controller/daemon).

Informers on DaemonSets, Nodes, Pods and ControllerRevisions. Handlers only map events
to DaemonSet keys: a pod to its controller (or, for orphans, every DaemonSet whose
selector matches it), a node to the DaemonSets whose eligibility it changes, a revision
to its owner. `sync(key)`:

1. builds the revision history (`history.construct_history`) to learn the current
   `controller-revision-hash`;
2. groups the claimed pods by target node; if earlier creates/deletes are not yet
   observed (expectations), it only refreshes status;
3. manage: creates a pod (pinned with `matchFields metadata.name In [node]` and the
   daemon tolerations, scheduled by the default scheduler) on every eligible node that
   lacks one, deletes pods on nodes that must not keep them, replaces failed pods with an
   exponential back-off per node, and prunes duplicates;
4. RollingUpdate (`update.plan_rolling_update`) when nothing is in flight; OnDelete
   leaves old pods alone;
5. trims history and writes status (desired/current/ready/available/updated/misscheduled
   counts and observedGeneration, which `kubectl rollout status ds` reads).
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging

from podplane.api.errors import ApiError
from podplane.api.selectors import selector_from_dict
from podplane.client.expectations import Expectations
from podplane.client.informer import key_of
from podplane.client.workqueue import WorkQueue
from podplane.controllers.common import (
    claim,
    controller_of,
    is_pod_available,
    is_pod_ready,
    pod_from_template,
)
from podplane.controllers.daemonset import history
from podplane.controllers.daemonset.placement import (
    add_daemon_tolerations,
    node_should_run,
    pin_to_node,
    target_node,
)
from podplane.controllers.daemonset.update import (
    GENERATION_LABEL,
    allows_surge,
    is_pod_updated,
    plan_rolling_update,
)

__all__ = ["DaemonSetController", "FailedPodBackoff", "template_generation"]

log = logging.getLogger(__name__)

KIND = "DaemonSet"
GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
BURST_REPLICAS = 250  # upstream burstReplicas: creates/deletes per sync
SLOW_START_INITIAL_BATCH = 1


def template_generation(ds: dict) -> int | None:
    """The template generation for the pod-template-generation label.

    Upstream reads the `deprecated.daemonset.template.generation` annotation the apiserver
    maintains; without it we fall back to metadata.generation, which changes whenever the
    template does, so "same generation" still implies "same template".
    """
    meta = ds.get("metadata") or {}
    value = (meta.get("annotations") or {}).get(GENERATION_ANNOTATION)
    if value is None:
        value = meta.get("generation")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class FailedPodBackoff:
    """Per (DaemonSet, generation, node) back-off for replacing failed pods (client-go flowcontrol.Backoff)."""

    def __init__(self, initial: float = 1.0, maximum: float = 900.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[str, tuple[float, float]] = {}  # id → (delay, last update)

    def in_backoff(self, key: str, now: float) -> bool:
        entry = self._entries.get(key)
        return entry is not None and now - entry[1] < entry[0]

    def delay(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry[0] if entry else 0.0

    def next(self, key: str, now: float) -> None:
        entry = self._entries.get(key)
        if entry is None or now - entry[1] > 2 * self.maximum:
            self._entries[key] = (self.initial, now)
        else:
            self._entries[key] = (min(entry[0] * 2, self.maximum), now)


def _created(pod: dict) -> str:
    return (pod.get("metadata") or {}).get("creationTimestamp") or ""


def _oldest_first(pods: list[dict]) -> list[dict]:
    """upstream podByCreationTimestampAndPhase: scheduled first, then oldest, then by name."""
    return sorted(pods, key=lambda p: (not (p.get("spec") or {}).get("nodeName"), _created(p),
                                       p["metadata"]["name"]))


def _is_terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class DaemonSetController:
    name = "daemonset"

    def __init__(self, ctx, *, workers: int | None = None) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.recorder = ctx.recorder("daemonset-controller")
        self.workers = workers or ctx.settings.workers
        self.queue = WorkQueue("daemonset")
        self.creations = Expectations()
        self.deletions = Expectations()
        self.failed_backoff = FailedPodBackoff()
        self._deletion_seen: set[str] = set()  # uids whose deletion the expectations already counted
        self.pods_info = ctx.client.resource("", "pods")
        self.ds_info = ctx.client.resource("apps", "daemonsets")
        self.daemonsets = ctx.informers.resource("apps", "daemonsets")
        self.nodes = ctx.informers.resource("", "nodes")
        self.pods = ctx.informers.resource("", "pods")
        self.revisions = ctx.informers.resource("apps", "controllerrevisions")
        self.daemonsets.add_handler(self._enqueue, lambda old, new: self._enqueue(new), self._enqueue)
        self.nodes.add_handler(self._node_added, self._node_updated, self._node_deleted)
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.revisions.add_handler(self._enqueue_owner, lambda old, new: self._enqueue_owner(new),
                                   self._enqueue_owner)

    # -- event handlers: map to keys only --------------------------------------------------
    def _enqueue(self, ds: dict) -> None:
        self.queue.add(key_of(ds))

    def _owner(self, obj: dict) -> str | None:
        """The key of obj's controlling DaemonSet if it is in the cache with the same uid."""
        ref = controller_of(obj)
        if ref is None or ref.get("kind") != KIND:
            return None
        ds = self.daemonsets.get(obj["metadata"].get("namespace"), ref.get("name", ""))
        if ds is None or ds["metadata"].get("uid") != ref.get("uid"):
            return None
        return key_of(ds)

    def _enqueue_owner(self, obj: dict) -> None:
        key = self._owner(obj)
        if key:
            self.queue.add(key)

    def _enqueue_selecting(self, pod: dict) -> None:
        labels = pod["metadata"].get("labels") or {}
        for ds in self.daemonsets.list(pod["metadata"].get("namespace")):
            selector = (ds.get("spec") or {}).get("selector")
            if selector and selector_from_dict(selector).matches(labels):
                self.queue.add(key_of(ds))

    def _observe_deletion(self, key: str, pod: dict) -> None:
        """Count a pod's deletion once: at whichever comes first of graceful-deletion start
        and removal (immediate deletes never show a deletionTimestamp first)."""
        uid = pod["metadata"].get("uid")
        if uid not in self._deletion_seen:
            self._deletion_seen.add(uid)
            self.deletions.deletion_observed(key)

    def _pod_added(self, pod: dict) -> None:
        key = self._owner(pod)
        if pod["metadata"].get("deletionTimestamp"):
            if key:
                self._observe_deletion(key, pod)
                self.queue.add(key)
            return

        if key:
            self.creations.creation_observed(key)
            self.queue.add(key)
        elif controller_of(pod) is None:
            self._enqueue_selecting(pod)

    def _pod_updated(self, old: dict, new: dict) -> None:
        key = self._owner(new)
        old_key = self._owner(old)
        if old_key and old_key != key:
            self.queue.add(old_key)
        if key:
            if new["metadata"].get("deletionTimestamp"):
                # graceful deletion started: count it now so the replacement is not delayed
                self._observe_deletion(key, new)
            self.queue.add(key)
        elif controller_of(new) is None:
            self._enqueue_selecting(new)

    def _pod_deleted(self, pod: dict) -> None:
        key = self._owner(pod)
        if key:
            self._observe_deletion(key, pod)
            self.queue.add(key)
        self._deletion_seen.discard(pod["metadata"].get("uid"))

    def _node_added(self, node: dict) -> None:
        for ds in self.daemonsets.list():
            if node_should_run(node, ds)[0]:
                self.queue.add(key_of(ds))

    def _node_updated(self, old: dict, new: dict) -> None:
        if ((old["metadata"].get("labels") == new["metadata"].get("labels"))
                and (old.get("spec") or {}).get("taints") == (new.get("spec") or {}).get("taints")):
            return
        for ds in self.daemonsets.list():
            if node_should_run(old, ds) != node_should_run(new, ds):
                self.queue.add(key_of(ds))

    def _node_deleted(self, node: dict) -> None:
        for ds in self.daemonsets.list():
            self.queue.add(key_of(ds))  # desiredNumberScheduled changes

    # -- sync ------------------------------------------------------------------------------
    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def _satisfied(self, key: str) -> bool:
        return self.creations.satisfied(key) and self.deletions.satisfied(key)

    async def sync(self, key: str) -> None:
        ds = self.daemonsets.get_by_key(key)
        if ds is None:
            self.creations.forget(key)
            self.deletions.forget(key)
            return
        spec = ds.get("spec") or {}
        selector = spec.get("selector") or {}
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            self.recorder.event(ds, "Warning", "SelectingAll",
                                "This daemon set is selecting all pods. A non-empty selector is required.")
            return
        if ds["metadata"].get("deletionTimestamp"):
            return  # its history may already be gone; status would be unreliable
        nodes = self.nodes.list()
        pods = await self._claim_pods(ds)
        current, old = await history.construct_history(
            self.client, ds, self.revisions.list(ds["metadata"].get("namespace")), pods)
        hash_ = current["metadata"]["labels"][history.HASH_LABEL]

        if not self._satisfied(key):
            await self._update_status(key, ds, nodes, pods, hash_, observe_generation=False)
            return
        error: Exception | None = None
        try:
            await self._manage(key, ds, nodes, pods, hash_)
            if self._satisfied(key) and (spec.get("updateStrategy") or {}).get("type",
                                                                                "RollingUpdate") == "RollingUpdate":
                await self._rolling_update(key, ds, nodes, pods, hash_)
            await history.cleanup_history(self.client, ds, old, pods)
        except Exception as e:  # status is still written; the error requeues with back-off
            error = e
        try:
            await self._update_status(key, ds, nodes, pods, hash_, observe_generation=True)
        except Exception:
            if error is None:
                raise
            log.warning("daemonset %s: status update failed after sync error", key, exc_info=True)
        if error is not None:
            raise error

    async def _claim_pods(self, ds: dict) -> list[dict]:
        selector = selector_from_dict(ds["spec"].get("selector"))
        candidates = self.pods.list(ds["metadata"].get("namespace"))
        return await claim(self.client, self.pods_info, ds, selector, candidates)

    @staticmethod
    def _node_to_pods(pods: list[dict]) -> dict[str, list[dict]]:
        grouped: dict[str, list[dict]] = {}
        for pod in pods:
            if _is_terminal(pod) and pod["metadata"].get("deletionTimestamp"):
                continue  # on its way out: nothing left for the controller to do with it
            node = target_node(pod)
            if node is not None:
                grouped.setdefault(node, []).append(pod)
        return grouped

    async def _manage(self, key: str, ds: dict, nodes: list[dict], pods: list[dict], hash_: str) -> None:
        node_to_pods = self._node_to_pods(pods)
        create_on: list[str] = []
        delete: list[str] = []
        for node in nodes:
            c, d = self._pods_should_be_on_node(key, node, node_to_pods, ds, hash_)
            create_on += c
            delete += d
        # pods pinned to nodes that no longer exist are never scheduled, so pod GC never sees them
        existing = {n["metadata"]["name"] for n in nodes}
        for node_name, node_pods in node_to_pods.items():
            if node_name not in existing:
                delete += [p["metadata"]["name"] for p in node_pods if not (p.get("spec") or {}).get("nodeName")]
        await self._sync_nodes(key, ds, delete, create_on, hash_)

    def _pods_should_be_on_node(self, key: str, node: dict, node_to_pods: dict[str, list[dict]], ds: dict,
                                hash_: str) -> tuple[list[str], list[str]]:
        name = node["metadata"]["name"]
        should_run, should_continue = node_should_run(node, ds)
        daemon_pods = node_to_pods.get(name)
        create: list[str] = []
        delete: list[str] = []
        if should_run and daemon_pods is None:
            return [name], []
        if should_continue:
            running = []
            for pod in daemon_pods or ():
                if pod["metadata"].get("deletionTimestamp"):
                    continue
                phase = (pod.get("status") or {}).get("phase")
                if phase == "Failed":
                    # kubelets that reject pods would make us hot-loop: back off per node
                    backoff_key = (f"{ds['metadata']['uid']}/{(ds.get('status') or {}).get('observedGeneration', 0)}"
                                   f"/{name}")
                    now = self.clock()
                    if self.failed_backoff.in_backoff(backoff_key, now):
                        self.queue.add_after(key, self.failed_backoff.delay(backoff_key))
                        continue
                    self.failed_backoff.next(backoff_key, now)
                    self.recorder.event(ds, "Warning", "FailedDaemonPod",
                                        f"Found failed daemon pod {pod['metadata'].get('namespace')}/"
                                        f"{pod['metadata']['name']} on node {name}, will try to kill it")
                    delete.append(pod["metadata"]["name"])
                elif phase == "Succeeded":
                    self.recorder.event(ds, "Normal", "SucceededDaemonPod",
                                        f"Found succeeded daemon pod {pod['metadata'].get('namespace')}/"
                                        f"{pod['metadata']['name']} on node {name}, will try to delete it")
                    delete.append(pod["metadata"]["name"])
                else:
                    running.append(pod)
            if not allows_surge(ds):
                delete += [p["metadata"]["name"] for p in _oldest_first(running)[1:]]
                return create, delete
            if not running:
                if should_run:
                    create.append(name)  # surging keeps at least one live pod per node
                return create, delete
            # with surge: keep the oldest new pod and, while it is not yet available, the oldest
            # old pod if that one is still ready; everything else goes
            oldest_new = oldest_old = None
            for pod in _oldest_first(running):
                if (pod["metadata"].get("labels") or {}).get(history.HASH_LABEL) == hash_:
                    if oldest_new is None:
                        oldest_new = pod
                        continue
                elif oldest_old is None:
                    oldest_old = pod
                    continue
                delete.append(pod["metadata"]["name"])
            if oldest_new is not None and oldest_old is not None:
                min_ready = int(ds["spec"].get("minReadySeconds") or 0)
                if not is_pod_ready(oldest_old) or is_pod_available(oldest_new, min_ready, self._now()):
                    delete.append(oldest_old["metadata"]["name"])
            return create, delete
        if daemon_pods:
            delete += [p["metadata"]["name"] for p in daemon_pods if not p["metadata"].get("deletionTimestamp")]
        return create, delete

    async def _rolling_update(self, key: str, ds: dict, nodes: list[dict], pods: list[dict], hash_: str) -> None:
        node_to_pods = self._node_to_pods(pods)
        eligible = {}
        by_name = {n["metadata"]["name"]: n for n in nodes}
        for node in nodes:
            eligible[node["metadata"]["name"]] = node_should_run(node, ds)[0]
            if eligible[node["metadata"]["name"]]:
                node_to_pods.setdefault(node["metadata"]["name"], [])
        delete, create_on = plan_rolling_update(
            ds, node_to_pods, lambda n: n in by_name and eligible[n], hash_, template_generation(ds), self._now())
        await self._sync_nodes(key, ds, delete, create_on, hash_)

    def _pod_template(self, ds: dict, hash_: str) -> dict:
        template = copy.deepcopy(ds["spec"].get("template") or {})
        add_daemon_tolerations(template.setdefault("spec", {}))
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        generation = template_generation(ds)
        if generation is not None:
            labels[GENERATION_LABEL] = str(generation)
        if hash_:
            labels[history.HASH_LABEL] = hash_
        return template

    async def _sync_nodes(self, key: str, ds: dict, delete: list[str], create_on: list[str], hash_: str) -> None:
        create_on = create_on[:BURST_REPLICAS]
        delete = delete[:BURST_REPLICAS]
        if not create_on and not delete:
            return
        self.creations.expect_creations(key, len(create_on))
        self.deletions.expect_deletions(key, len(delete))
        namespace = ds["metadata"].get("namespace")
        errors: list[Exception] = []
        template = self._pod_template(ds, hash_) if create_on else {}

        async def create(node_name: str) -> None:
            pod = pod_from_template(template, ds, generate_name=f"{ds['metadata']['name']}-")
            pod["spec"]["affinity"] = pin_to_node(pod["spec"].get("affinity"), node_name)
            try:
                created = await self.client.create(self.pods_info, pod, namespace)
            except ApiError as e:
                self.creations.creation_observed(key)  # the informer will never see it
                if "being terminated" not in str(e):  # namespace teardown: every create fails, fine
                    errors.append(e)
                    self.recorder.event(ds, "Warning", "FailedCreate", f"Error creating: {e}")
                return
            self.recorder.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

        # slow start: batches of 1, 2, 4, ... stop at the first batch with a failure
        position, batch = 0, min(len(create_on), SLOW_START_INITIAL_BATCH)
        while position < len(create_on):
            before = len(errors)
            await asyncio.gather(*(create(n) for n in create_on[position:position + batch]))
            position += batch
            if len(errors) > before:
                for _ in create_on[position:]:
                    self.creations.creation_observed(key)  # skipped: not expected any more
                break
            batch = min(2 * batch, len(create_on) - position)

        async def remove(name: str) -> None:
            try:
                await self.client.delete(self.pods_info, name, namespace)
            except ApiError as e:
                self.deletions.deletion_observed(key)
                if e.code != 404:
                    errors.append(e)
                    self.recorder.event(ds, "Warning", "FailedDelete", f"Error deleting: {e}")
                return
            self.recorder.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

        await asyncio.gather(*(remove(n) for n in delete))
        if errors:
            raise errors[0]

    async def _update_status(self, key: str, ds: dict, nodes: list[dict], pods: list[dict], hash_: str, *,
                             observe_generation: bool) -> None:
        node_to_pods = self._node_to_pods(pods)
        now = self._now()
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        generation = template_generation(ds)
        desired = current = misscheduled = ready = updated = available = 0
        for node in nodes:
            should_run, _ = node_should_run(node, ds)
            scheduled = node_to_pods.get(node["metadata"]["name"]) or []
            if not should_run:
                misscheduled += 1 if scheduled else 0
                continue
            desired += 1
            if not scheduled:
                continue
            current += 1
            pod = _oldest_first(scheduled)[0]
            if is_pod_ready(pod):
                ready += 1
                if is_pod_available(pod, min_ready, now):
                    available += 1
            if is_pod_updated(pod, hash_, generation):
                updated += 1
        counts = {"desiredNumberScheduled": desired, "currentNumberScheduled": current,
                  "numberMisscheduled": misscheduled, "numberReady": ready, "updatedNumberScheduled": updated,
                  "numberAvailable": available, "numberUnavailable": desired - available}
        status = ds.get("status") or {}
        generation_seen = int(status.get("observedGeneration") or 0) >= int(ds["metadata"].get("generation") or 0)
        if not generation_seen or any(int(status.get(k) or 0) != v for k, v in counts.items()):
            await self._store_status(ds, counts, observe_generation)
        if min_ready > 0 and ready != available:
            self.queue.add_after(key, min_ready)  # availability flips by time alone

    async def _store_status(self, ds: dict, counts: dict, observe_generation: bool) -> None:
        obj = copy.deepcopy(ds)
        for attempt in range(2):
            status = obj.setdefault("status", {})
            if observe_generation:
                status["observedGeneration"] = ds["metadata"].get("generation")
            status.update(counts)
            try:
                await self.client.update_status(self.ds_info, obj)
                return
            except ApiError as e:
                if e.code != 409 or attempt:
                    raise
            obj = await self.client.get(self.ds_info, ds["metadata"]["name"], ds["metadata"].get("namespace"))
