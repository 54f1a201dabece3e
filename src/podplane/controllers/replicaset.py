"""ReplicaSet controller: keeps `spec.replicas` active pods that match the selector.

Upstream `pkg/controller/replicaset`. Informer handlers map pod and ReplicaSet events to
the owning ReplicaSet's `namespace/name` and enqueue it; `sync(key)` reads both caches,
adopts matching orphans and releases owned pods that stopped matching (`common.claim`),
then creates missing pods in slow-start batches (1, 2, 4, ...) or deletes the least
valuable surplus pods (`rank_pods_for_deletion`, upstream's ActivePodsWithRanks), and
finally writes `status` (replicas, fullyLabeledReplicas, readyReplicas,
availableReplicas, observedGeneration, a ReplicaFailure condition when creates or
deletes fail). Creates and deletes go through expectations, so a sync that runs before
the pod informer saw the effect of the previous one never acts twice.

The same controller drives v1 ReplicationControllers (`new_replication_controller`):
only the selector shape (a plain label map) and the owner kind differ, as upstream's
replication controller is the ReplicaSet controller behind a conversion.
Neighbours: the Deployment controller scales ReplicaSets; the garbage collector deletes
pods whose owner is gone.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import functools
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from podplane.api.errors import ApiError
from podplane.api.meta import format_time, parse_time
from podplane.api.selectors import LabelSelector, selector_from_dict, selector_from_set
from podplane.client.expectations import Expectations
from podplane.client.informer import key_of, split_key
from podplane.client.transport import TransportError
from podplane.client.workqueue import WorkQueue

from .common import (
    claim,
    controller_of,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    pod_from_template,
    pod_ready_since,
)

__all__ = [
    "BURST_REPLICAS",
    "ReplicaSetController",
    "calculate_status",
    "new",
    "new_replication_controller",
    "rank_pods_for_deletion",
    "slow_start_batch",
]

log = logging.getLogger(__name__)

BURST_REPLICAS = 500
"""Most pods created or deleted in one sync (upstream's --replicaset-controller burst)."""
SLOW_START_INITIAL_BATCH_SIZE = 1
DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
REPLICA_FAILURE = "ReplicaFailure"
STATUS_UPDATE_RETRIES = 1
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


@dataclass(frozen=True)
class Workload:
    """What differs between ReplicaSets and ReplicationControllers."""

    group: str
    plural: str
    kind: str
    name: str
    component: str
    selector_of: Callable[[dict], LabelSelector]


def _rs_selector(rs: dict) -> LabelSelector:
    return selector_from_dict((rs.get("spec") or {}).get("selector"))


def _rc_selector(rc: dict) -> LabelSelector:
    spec = rc.get("spec") or {}
    # an RC without a selector selects its template's labels (the apiserver defaults it too)
    labels = spec.get("selector") or ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    return selector_from_set(labels) if labels else selector_from_dict(None)


REPLICA_SETS = Workload("apps", "replicasets", "ReplicaSet", "replicaset", "replicaset-controller", _rs_selector)
REPLICATION_CONTROLLERS = Workload("", "replicationcontrollers", "ReplicationController",
                                   "replicationcontroller", "replication-controller", _rc_selector)


# ------------------------------------------------------------------------ pure helpers


async def slow_start_batch(count: int, initial_batch_size: int,
                           fn: Callable[[], Awaitable[None]]) -> tuple[int, Exception | None]:
    """Call `fn` `count` times in doubling concurrent batches; stop after a batch with errors.

    Returns (successes, first error). A failing batch means the cause (quota, admission,
    a terminating namespace) would most likely fail the rest too, so they are not tried.
    """
    remaining = count
    successes = 0
    batch = min(remaining, initial_batch_size)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for e in errors:
            if not isinstance(e, Exception):
                raise e  # cancellation
        successes += batch - len(errors)
        if errors:
            return successes, errors[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


def _ready_time(pod: dict) -> dt.datetime | None:
    return pod_ready_since(pod) if is_pod_ready(pod) else None


def _created(pod: dict) -> dt.datetime | None:
    text = (pod.get("metadata") or {}).get("creationTimestamp")
    try:
        return parse_time(text) if text else None
    except ValueError:
        return None


def _deletion_cost(pod: dict) -> int:
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(DELETION_COST_ANNOTATION)
    try:
        return int(text) if text is not None else 0
    except ValueError:
        return 0


def _max_restarts(pod: dict) -> tuple[int, int]:
    """(max restarts of regular containers, max restarts of restartable init containers)."""
    status = pod.get("status") or {}
    regular = max((c.get("restartCount") or 0 for c in status.get("containerStatuses") or ()), default=0)
    sidecars = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or ()
                if c.get("restartPolicy") == "Always"}
    sidecar = max((c.get("restartCount") or 0 for c in status.get("initContainerStatuses") or ()
                   if c.get("name") in sidecars), default=0)
    return regular, sidecar


def _log_rank_diff(t1: dt.datetime, t2: dt.datetime, now: dt.datetime) -> int:
    """Compare ages on a log2 scale of nanoseconds (upstream LogarithmicScaleDown), so pods
    of similar age count as equally old and the random tie-break spreads deletions."""
    def rank(t: dt.datetime) -> int:
        age = (now - t) / dt.timedelta(microseconds=1) * 1000
        return int(math.log2(age)) if age > 0 else -1
    return rank(t1) - rank(t2)


def _after_or_zero(t1: dt.datetime | None, t2: dt.datetime | None) -> bool:
    if t1 is None or t2 is None:
        return t1 is None
    return t1 > t2


def _compare_time(a: dict, b: dict, t1: dt.datetime | None, t2: dt.datetime | None,
                  now: dt.datetime) -> int | None:
    """-1 when a goes first, 1 when b does, None when the times do not decide."""
    if t1 == t2:
        return None
    if t1 is None or t2 is None:
        return -1 if _after_or_zero(t1, t2) else 1
    diff = _log_rank_diff(t1, t2, now)
    if diff == 0:
        uid_a, uid_b = a["metadata"].get("uid", ""), b["metadata"].get("uid", "")
        return -1 if uid_a < uid_b else (1 if uid_b < uid_a else 0)
    return -1 if diff < 0 else 1


def rank_pods_for_deletion(pods: list[dict], related: list[dict], now: dt.datetime) -> list[dict]:
    """Pods ordered from the first to delete to the last (upstream ActivePodsWithRanks.Less).

    1. unassigned < assigned; 2. Pending < Unknown < Running; 3. not ready < ready;
    4. lower pod-deletion-cost first; 5. pods doubled up on a node with more related pods
    first; 6. ready for a shorter time first; 7. more container restarts first;
    8. newer first. Times compare on a log2 scale with a uid tie-break, as upstream.
    `related` are the active pods of this ReplicaSet and its siblings (same owner).
    """
    on_node: dict[str, int] = {}
    for pod in related:
        if is_pod_active(pod):
            node = (pod.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranks = {id(p): on_node.get((p.get("spec") or {}).get("nodeName") or "", 0) for p in pods}

    def compare(a: dict, b: dict) -> int:
        node_a = (a.get("spec") or {}).get("nodeName") or ""
        node_b = (b.get("spec") or {}).get("nodeName") or ""
        if node_a != node_b and (not node_a or not node_b):
            return -1 if not node_a else 1
        phase_a = _PHASE_ORDINAL.get((a.get("status") or {}).get("phase"), 0)
        phase_b = _PHASE_ORDINAL.get((b.get("status") or {}).get("phase"), 0)
        if phase_a != phase_b:
            return -1 if phase_a < phase_b else 1
        ready_a, ready_b = is_pod_ready(a), is_pod_ready(b)
        if ready_a != ready_b:
            return -1 if not ready_a else 1
        cost_a, cost_b = _deletion_cost(a), _deletion_cost(b)
        if cost_a != cost_b:
            return -1 if cost_a < cost_b else 1
        if ranks[id(a)] != ranks[id(b)]:
            return -1 if ranks[id(a)] > ranks[id(b)] else 1
        if ready_a and ready_b:
            decided = _compare_time(a, b, _ready_time(a), _ready_time(b), now)
            if decided:
                return decided
        restarts_a, restarts_b = _max_restarts(a), _max_restarts(b)
        for ra, rb in zip(restarts_a, restarts_b, strict=True):
            if ra != rb:
                return -1 if ra > rb else 1
        return _compare_time(a, b, _created(a), _created(b), now) or 0

    return sorted(pods, key=functools.cmp_to_key(compare))


def _condition(status: dict, cond_type: str) -> dict | None:
    for c in status.get("conditions") or ():
        if c.get("type") == cond_type:
            return c
    return None


def calculate_status(rs: dict, pods: list[dict], manage_error: Exception | None, now: dt.datetime) -> dict:
    """The status `rs` should have given its claimed active pods (upstream calculateStatus).
    `observedGeneration` is added by the status write."""
    spec = rs.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = spec.get("minReadySeconds") or 0
    fully_labeled = ready = available = 0
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if all(labels.get(k) == v for k, v in template_labels.items()):
            fully_labeled += 1
        if is_pod_ready(pod):
            ready += 1
            if is_pod_available(pod, min_ready, now):
                available += 1
    status = copy.deepcopy(rs.get("status") or {})
    failure = _condition(status, REPLICA_FAILURE)
    if manage_error is not None and failure is None:
        diff = len(pods) - _replicas(rs)
        reason = "FailedCreate" if diff < 0 else ("FailedDelete" if diff > 0 else "")
        status["conditions"] = [c for c in status.get("conditions") or () if c.get("type") != REPLICA_FAILURE] + [
            {"type": REPLICA_FAILURE, "status": "True", "lastTransitionTime": format_time(now),
             "reason": reason, "message": str(manage_error)}]
    elif manage_error is None and failure is not None:
        status["conditions"] = [c for c in status["conditions"] if c.get("type") != REPLICA_FAILURE]
        if not status["conditions"]:
            del status["conditions"]
    status["replicas"] = len(pods)
    # omitempty fields, as the Go types marshal them
    for field, value in (("fullyLabeledReplicas", fully_labeled), ("readyReplicas", ready),
                         ("availableReplicas", available)):
        if value:
            status[field] = value
        else:
            status.pop(field, None)
    return status


def _replicas(obj: dict) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _status_int(obj: dict, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


# -------------------------------------------------------------------------- controller


class ReplicaSetController:
    def __init__(self, ctx, workload: Workload = REPLICA_SETS) -> None:
        self.workload = workload
        self.name = workload.name
        self.client = ctx.client
        self.clock = ctx.clock
        self.workers = ctx.settings.workers
        self.recorder = ctx.recorder(workload.component)
        self.queue = WorkQueue(workload.name)
        self.expectations = Expectations(clock=ctx.clock)
        # pod keys whose deletion we asked for: a graceful delete is seen twice (the
        # deletionTimestamp update, then the DELETED event) but must be counted once
        self._pending_deletes: dict[str, set[str]] = {}
        self.info = ctx.client.resource(workload.group, workload.plural)
        self.pods_info = ctx.client.resource("", "pods")
        self.owners = ctx.informers.resource(workload.group, workload.plural)
        self.pods = ctx.informers.resource("", "pods")
        self.owners.add_handler(self._owner_added, self._owner_updated, self._owner_deleted)
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    # -- handlers: map events to keys ------------------------------------------------------
    def _owner_added(self, obj: dict) -> None:
        self.queue.add(key_of(obj))

    def _owner_updated(self, old: dict, new: dict) -> None:
        self.queue.add(key_of(new))

    def _owner_deleted(self, obj: dict) -> None:
        key = key_of(obj)
        self.expectations.forget(key)
        self._pending_deletes.pop(key, None)
        self.queue.add(key)

    def _resolve(self, namespace: str | None, ref: dict | None) -> dict | None:
        """The cached owner a controller reference points at, if it is one of ours."""
        if ref is None or ref.get("kind") != self.workload.kind:
            return None
        owner = self.owners.get(namespace, ref.get("name", ""))
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            return None
        return owner

    def _owners_selecting(self, pod: dict) -> list[dict]:
        meta = pod.get("metadata") or {}
        found = []
        for owner in self.owners.list(meta.get("namespace")):
            try:
                selector = self.workload.selector_of(owner)
            except ApiError:
                continue
            if not selector.empty and selector.matches(meta.get("labels") or {}):
                found.append(owner)
        return found

    def _pod_added(self, pod: dict) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            # restarted controller, or a pod created already terminating
            self._pod_deleted(pod)
            return
        owner = self._resolve(pod["metadata"].get("namespace"), controller_of(pod))
        if owner is not None:
            key = key_of(owner)
            self.expectations.creation_observed(key)
            self.queue.add(key)
            return
        if controller_of(pod) is None:
            for owner in self._owners_selecting(pod):
                self.queue.add(key_of(owner))

    def _pod_updated(self, old: dict, new: dict) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return  # periodic resync: nothing changed
        labels_changed = old["metadata"].get("labels") != new["metadata"].get("labels")
        if new["metadata"].get("deletionTimestamp"):
            self._pod_deleted(new)
            if labels_changed:
                self._pod_deleted(old)
            return
        ns = new["metadata"].get("namespace")
        old_ref, new_ref = controller_of(old), controller_of(new)
        if old_ref != new_ref and old_ref is not None:
            previous = self._resolve(ns, old_ref)
            if previous is not None:
                self.queue.add(key_of(previous))
        if new_ref is not None:
            owner = self._resolve(ns, new_ref)
            if owner is None:
                return
            key = key_of(owner)
            self.queue.add(key)
            min_ready = (owner.get("spec") or {}).get("minReadySeconds") or 0
            if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(new):
                # the pod becomes available minReadySeconds from now: look again then
                self.queue.add_after(key, min_ready + 1)
            return
        if labels_changed or old_ref != new_ref:
            for owner in self._owners_selecting(new):
                self.queue.add(key_of(owner))

    def _pod_deleted(self, pod: dict) -> None:
        owner = self._resolve(pod["metadata"].get("namespace"), controller_of(pod))
        if owner is None:
            return
        key = key_of(owner)
        self._deletion_observed(key, key_of(pod))
        self.queue.add(key)

    def _deletion_observed(self, key: str, pod_key: str) -> None:
        pending = self._pending_deletes.get(key)
        if pending is not None and pod_key in pending:
            pending.discard(pod_key)
            self.expectations.deletion_observed(key)

    # -- sync --------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        namespace, _ = split_key(key)
        cached = self.owners.get_by_key(key)
        if cached is None:
            self.expectations.forget(key)
            self._pending_deletes.pop(key, None)
            return
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = self.workload.selector_of(cached)
        except ApiError as e:
            log.warning("%s %s has an invalid selector: %s", self.workload.kind, key, e)
            return
        active = [p for p in self.pods.list(namespace) if is_pod_active(p)]
        pods = await claim(self.client, self.pods_info, cached, selector, active)
        manage_error: Exception | None = None
        if needs_sync and not cached["metadata"].get("deletionTimestamp"):
            try:
                await self._manage_replicas(key, cached, pods)
            except (ApiError, TransportError) as e:
                manage_error = e
        status = calculate_status(cached, pods, manage_error, self.now())
        updated = await self._update_status(cached, status)
        spec = updated.get("spec") or {}
        min_ready = spec.get("minReadySeconds") or 0
        if (manage_error is None and min_ready > 0 and _status_int(updated, "readyReplicas") == _replicas(updated)
                and _status_int(updated, "availableReplicas") != _replicas(updated)):
            # last line of defence against clock skew: availability is time-based
            self.queue.add_after(key, min_ready)
        if manage_error is not None:
            raise manage_error

    async def _manage_replicas(self, key: str, owner: dict, pods: list[dict]) -> None:
        diff = len(pods) - _replicas(owner)
        if diff < 0:
            count = min(-diff, BURST_REPLICAS)
            self.expectations.expect_creations(key, count)
            created, error = await slow_start_batch(count, SLOW_START_INITIAL_BATCH_SIZE,
                                                    lambda: self._create_pod(owner))
            for _ in range(count - created):
                # creations never attempted (or failed) will never be observed
                self.expectations.creation_observed(key)
            if error is not None:
                raise error
        elif diff > 0:
            count = min(diff, BURST_REPLICAS)
            victims = pods if count >= len(pods) else rank_pods_for_deletion(
                pods, self._related_pods(owner), self.now())
            victims = victims[:count]
            self._pending_deletes[key] = {key_of(p) for p in victims}
            self.expectations.expect_deletions(key, len(victims))
            results = await asyncio.gather(*(self._delete_pod(owner, p) for p in victims),
                                           return_exceptions=True)
            first_error: Exception | None = None
            for pod, result in zip(victims, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, Exception):
                        raise result
                    self._deletion_observed(key, key_of(pod))
                    if not (isinstance(result, ApiError) and result.code == 404) and first_error is None:
                        first_error = result
            if first_error is not None:
                raise first_error

    def _related_pods(self, owner: dict) -> list[dict]:
        """Active pods of this owner and of its siblings (same controller), which is what
        upstream ranks "doubled up" pods by: a deployment's old and new pods together."""
        meta = owner["metadata"]
        parent = controller_of(owner)
        siblings = {meta["uid"]}
        if parent is not None:
            for other in self.owners.list(meta.get("namespace")):
                ref = controller_of(other)
                if ref is not None and ref.get("uid") == parent.get("uid"):
                    siblings.add(other["metadata"]["uid"])
        related = []
        for pod in self.pods.list(meta.get("namespace")):
            ref = controller_of(pod)
            if ref is not None and ref.get("uid") in siblings:
                related.append(pod)
        return related

    async def _create_pod(self, owner: dict) -> None:
        template = (owner.get("spec") or {}).get("template") or {}
        if not ((template.get("metadata") or {}).get("labels")):
            raise ApiError(422, "Invalid", "unable to create pods, no labels")
        pod = pod_from_template(template, owner, generate_name=f"{owner['metadata']['name']}-")
        try:
            created = await self.client.create(self.pods_info, pod, owner["metadata"].get("namespace"))
        except ApiError as e:
            if any(c.reason == "NamespaceTerminating" for c in e.causes):
                return  # every create will fail until the namespace is gone; nothing to report
            self.recorder.event(owner, "Warning", "FailedCreate", f"Error creating: {e}")
            raise
        self.recorder.event(owner, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    async def _delete_pod(self, owner: dict, pod: dict) -> None:
        name = pod["metadata"]["name"]
        try:
            await self.client.delete(self.pods_info, name, pod["metadata"].get("namespace"))
        except ApiError as e:
            if e.code != 404:
                self.recorder.event(owner, "Warning", "FailedDelete", f"Error deleting: {e}")
            raise
        self.recorder.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

    async def _update_status(self, owner: dict, status: dict) -> dict:
        current = owner.get("status") or {}
        generation = owner["metadata"].get("generation")
        unchanged = all(current.get(f) == status.get(f) for f in ("replicas", "fullyLabeledReplicas",
                                                                  "readyReplicas", "availableReplicas"))
        if (unchanged and current.get("observedGeneration") == generation
                and (current.get("conditions") or []) == (status.get("conditions") or [])):
            return owner
        if generation is not None:
            status["observedGeneration"] = generation
        obj = copy.deepcopy(owner)
        attempt = 0
        while True:
            obj["status"] = status
            try:
                return await self.client.update_status(self.info, obj)
            except ApiError:
                if attempt >= STATUS_UPDATE_RETRIES:
                    raise
            attempt += 1
            obj = await self.client.get(self.info, owner["metadata"]["name"], owner["metadata"].get("namespace"))


def new(ctx) -> ReplicaSetController:
    return ReplicaSetController(ctx, REPLICA_SETS)


def new_replication_controller(ctx) -> ReplicaSetController:
    return ReplicaSetController(ctx, REPLICATION_CONTROLLERS)
