"""StatefulSet controller: ordered, stable pods with their own storage (upstream `pkg/controller/statefulset`).

Informers: statefulsets, pods, controllerrevisions, persistentvolumeclaims. Pod events map to
the owning set's key (orphans to every set whose selector matches); claim deletions wake the
sets that may be waiting for a stale claim to go. `sync(key)`:

1. adopt orphaned ControllerRevisions and pods (`common.claim`, members named `<set>-<n>` only);
2. find the current and update revisions (`revisions` helpers): the set's template is looked
   up in the history, reused, rolled back to (its revision number bumped) or created;
3. converge pods (`_SetSync`): recreate failed pods; create missing ordinals, PVCs first;
   OrderedReady waits for each pod to be Running+Ready (and available after minReadySeconds)
   before the next and deletes condemned pods one at a time from the highest ordinal; Parallel
   does both in slow-start batches; fix claim owners for the retention policy; then
   RollingUpdate replaces pods from the highest ordinal down to the partition, one at a time
   (or `maxUnavailable` at a time), OnDelete leaves that to the user;
4. write status (what `kubectl rollout status sts` reads) and trim the history.

Pod names are fixed, so creates cannot double up; expectations are kept per pod name so a
sync that runs before the informer saw a create or delete waits instead of retrying.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

from podplane.api.errors import ApiError
from podplane.api.meta import deepcopy_json
from podplane.api.selectors import selector_from_dict
from podplane.client.expectations import Expectations
from podplane.client.informer import key_of, split_key
from podplane.client.workqueue import WorkQueue
from podplane.controllers.common import claim, controller_of, owner_key, pod_ready_since
from podplane.controllers.revisions import (
    adopt_revision,
    apply_revision,
    create_revision,
    equal_revision,
    find_equal_revisions,
    new_revision,
    next_revision_number,
    revision_data,
    revisions_for,
    set_revision_number,
    truncate_history,
)
from podplane.controllers.statefulset import claims as retention
from podplane.controllers.statefulset.identity import (
    claims_for_pod,
    compute_status,
    identity_matches,
    in_ordinal_range,
    is_created,
    is_failed,
    is_member,
    is_pending,
    is_running_and_available,
    is_running_and_ready,
    is_succeeded,
    new_versioned_pod,
    ordinal_of,
    pod_revision,
    replicas_of,
    retention_policy,
    start_ordinal,
    storage_matches,
    update_identity,
)

__all__ = ["StatefulSetController", "SyncError", "new"]

log = logging.getLogger(__name__)

KIND = "StatefulSet"
MAX_BATCH = 500  # upstream MaxBatchSize: in-flight requests per slow-start batch in Parallel mode
_STATUS_DEFAULTS = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0, "currentReplicas": 0,
                    "updatedReplicas": 0, "currentRevision": "", "updateRevision": "", "collisionCount": 0}


class SyncError(Exception):
    """A temporary condition (a claim being deleted, a failed write); the key is retried."""


def _max_unavailable(value, replicas: int) -> int:
    """intstr maxUnavailable scaled against replicas, rounded down, at least 1."""
    if isinstance(value, str) and value.endswith("%"):
        number = int(value[:-1] or 0) * replicas // 100
    else:
        number = int(value or 1)
    return max(1, number)


class StatefulSetController:
    name = "statefulset"

    def __init__(self, *, client, informers, recorder, workers: int = 4, clock=time.time) -> None:
        self.client = client
        self.clock = clock
        self.workers = workers
        self.queue = WorkQueue(self.name)
        self.recorder = recorder
        self.expectations = Expectations(clock=self.clock)
        self.sets = informers.resource("apps", "statefulsets")
        self.pods = informers.resource("", "pods")
        self.revisions = informers.resource("apps", "controllerrevisions")
        self.claims = informers.resource("", "persistentvolumeclaims")
        self.sts_info = client.resource("apps", "statefulsets")
        self.pod_info = client.resource("", "pods")
        self.pvc_info = client.resource("", "persistentvolumeclaims")
        self.sets.add_handler(self._enqueue, lambda old, new: self._enqueue(new), self._enqueue)
        self.pods.add_handler(self._on_pod_add, self._on_pod_update, self._on_pod_delete)
        self.claims.add_handler(on_delete=self._on_claim_delete)

    # -- event handlers: map to keys, nothing else ----------------------------------------------
    def _enqueue(self, sts: dict) -> None:
        self.queue.add(key_of(sts))

    def _sets_selecting(self, obj: dict) -> list[str]:
        meta = obj["metadata"]
        keys = []
        for sts in self.sets.list(meta.get("namespace")):
            try:
                selector = selector_from_dict((sts.get("spec") or {}).get("selector"))
            except ApiError:
                continue
            if not selector.empty and selector.matches(meta.get("labels")):
                keys.append(key_of(sts))
        return keys

    def _observed(self, what: str, key: str, name: str) -> None:
        record = (what, key, name)
        if what == "create":
            self.expectations.creation_observed(record)
        else:
            self.expectations.deletion_observed(record)
        if self.expectations.satisfied(record):
            self.expectations.forget(record)

    def _on_pod_add(self, pod: dict) -> None:
        key = owner_key(pod, KIND)
        if key is None:
            for k in self._sets_selecting(pod):
                self.queue.add(k)
            return
        self._observed("create", key, pod["metadata"]["name"])
        if pod["metadata"].get("deletionTimestamp"):
            self._observed("delete", key, pod["metadata"]["name"])
        self.queue.add(key)

    def _on_pod_update(self, old: dict, new: dict) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        old_key, new_key = owner_key(old, KIND), owner_key(new, KIND)
        if old_key and old_key != new_key:
            self.queue.add(old_key)
        if new_key:
            if new["metadata"].get("deletionTimestamp") and not old["metadata"].get("deletionTimestamp"):
                self._observed("delete", new_key, new["metadata"]["name"])
            self.queue.add(new_key)
        elif old_key != new_key or old["metadata"].get("labels") != new["metadata"].get("labels"):
            for k in self._sets_selecting(new):
                self.queue.add(k)

    def _on_pod_delete(self, pod: dict) -> None:
        key = owner_key(pod, KIND)
        if key:
            self._observed("delete", key, pod["metadata"]["name"])
            self.queue.add(key)

    def _on_claim_delete(self, pvc: dict) -> None:
        # a set may be waiting for a stale claim (retention policy) to disappear
        for k in self._sets_selecting(pvc):
            self.queue.add(k)

    # -- sync --------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        sts = self.sets.get(namespace, name)
        if sts is None:
            return
        try:
            selector = selector_from_dict((sts.get("spec") or {}).get("selector"))
        except ApiError as e:
            log.warning("statefulset %s has an invalid selector: %s", key, e)
            return  # upstream does not retry: only a spec change can fix it
        revisions = await self._adopt_orphan_revisions(sts, revisions_for(self.revisions, sts))
        pods = await self._claim_pods(sts, selector)
        status = await _SetSync(self, sts, key, pods, revisions).run()
        self._requeue_for_availability(sts, key, pods, status)

    async def _adopt_orphan_revisions(self, sts: dict, revisions: list[dict]) -> list[dict]:
        if all(controller_of(r) is not None for r in revisions) or sts["metadata"].get("deletionTimestamp"):
            return [r for r in revisions if controller_of(r) is not None]
        adopted = []
        for rev in revisions:
            if controller_of(rev) is None:
                rev = await adopt_revision(self.client, sts, rev)
            if rev is not None:
                adopted.append(rev)
        return adopted

    async def _claim_pods(self, sts: dict, selector) -> list[dict]:
        uid = sts["metadata"].get("uid")
        candidates = [p for p in self.pods.list(sts["metadata"].get("namespace"))
                      if is_member(sts, p) or (controller_of(p) or {}).get("uid") == uid]
        claimed = await claim(self.client, self.pod_info, sts, selector, candidates)
        return [p for p in claimed if is_member(sts, p)]

    def _requeue_for_availability(self, sts: dict, key: str, pods: list[dict], status: dict | None) -> None:
        """With minReadySeconds, come back when the next ready pod becomes available."""
        min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready <= 0 or status is None or status.get("availableReplicas") == replicas_of(sts):
            return
        now = self.clock()
        waits = []
        for pod in pods:
            since = pod_ready_since(pod) if is_running_and_ready(pod) else None
            if since is not None and since.timestamp() + min_ready > now:
                waits.append(since.timestamp() + min_ready - now)
        self.queue.add_after(key, min(waits) + 0.05 if waits else float(min_ready))

    # -- writes used by _SetSync ---------------------------------------------------------------
    def event(self, sts: dict, event_type: str, reason: str, message: str) -> None:
        self.recorder.event(sts, event_type, reason, message)

    def creating(self, key: str, name: str) -> bool:
        return not self.expectations.satisfied(("create", key, name))

    def deleting(self, key: str, name: str) -> bool:
        return not self.expectations.satisfied(("delete", key, name))

    async def create_claims(self, sts: dict, pod: dict) -> None:
        """Create the pod's missing PVCs (before the pod, so it never starts without them)."""
        problems = []
        set_name = sts["metadata"]["name"]
        for claim_obj in claims_for_pod(sts, ordinal_of(pod)).values():
            meta = claim_obj["metadata"]
            existing = self.claims.get(meta["namespace"], meta["name"])
            if existing is not None:
                if existing["metadata"].get("deletionTimestamp"):
                    problems.append(f"pvc {meta['name']} is being deleted")
                continue
            try:
                await self.client.create(self.pvc_info, claim_obj, meta["namespace"])
            except ApiError as e:
                if e.reason == "AlreadyExists":
                    continue  # the informer has not seen it yet
                problems.append(f"failed to create PVC {meta['name']}: {e}")
                self.event(sts, "Warning", "FailedCreate", f"create Claim {meta['name']} for Pod "
                           f"{pod['metadata']['name']} in StatefulSet {set_name} failed error: {e}")
                continue
            self.event(sts, "Normal", "SuccessfulCreate", f"create Claim {meta['name']} Pod "
                       f"{pod['metadata']['name']} in StatefulSet {set_name} success")
        if problems:
            raise SyncError("; ".join(problems))

    async def create_pod(self, sts: dict, key: str, pod: dict) -> None:
        name = pod["metadata"]["name"]
        set_name = sts["metadata"]["name"]
        await self.create_claims(sts, pod)
        record = ("create", key, name)
        self.expectations.expect_creations(record, 1)  # before the request: the watch may beat the reply
        try:
            created = await self.client.create(self.pod_info, pod, pod["metadata"]["namespace"])
        except ApiError as e:
            self.expectations.forget(record)
            if e.reason != "AlreadyExists":
                self.event(sts, "Warning", "FailedCreate",
                           f"create Pod {name} in StatefulSet {set_name} failed error: {e}")
            raise
        self.event(sts, "Normal", "SuccessfulCreate", f"create Pod {name} in StatefulSet {set_name} successful")
        await self.update_claims_for_retention(sts, created)

    async def delete_pod(self, sts: dict, key: str, pod: dict) -> None:
        meta = pod["metadata"]
        record = ("delete", key, meta["name"])
        self.expectations.expect_deletions(record, 1)
        try:
            # the uid precondition keeps a stale cache from deleting a recreated pod of that name
            await self.client.delete(self.pod_info, meta["name"], meta.get("namespace"),
                                     preconditions={"uid": meta["uid"]} if meta.get("uid") else None)
        except ApiError as e:
            self.expectations.forget(record)
            if e.code in (404, 409):
                return  # already gone, or replaced by a newer pod
            self.event(sts, "Warning", "FailedDelete",
                       f"delete Pod {meta['name']} in StatefulSet {sts['metadata']['name']} failed error: {e}")
            raise
        self.event(sts, "Normal", "SuccessfulDelete",
                   f"delete Pod {meta['name']} in StatefulSet {sts['metadata']['name']} successful")

    def claims_match_retention(self, sts: dict, pod: dict) -> bool:
        for claim_obj in claims_for_pod(sts, ordinal_of(pod)).values():
            existing = self.claims.get(claim_obj["metadata"]["namespace"], claim_obj["metadata"]["name"])
            if existing is not None and not retention.claim_owner_up_to_date(existing, sts, pod):
                return False
        return True

    async def update_claims_for_retention(self, sts: dict, pod: dict) -> None:
        """Point the pod's claims' ownerReferences at the set or pod as the retention policy says."""
        for claim_obj in claims_for_pod(sts, ordinal_of(pod)).values():
            meta = claim_obj["metadata"]
            existing = self.claims.get(meta["namespace"], meta["name"])
            if existing is None or retention.claim_owner_up_to_date(existing, sts, pod):
                continue
            if retention.has_unexpected_controller(existing, sts, pod):
                self.event(sts, "Warning", "FailedUpdate",
                           f"PersistentVolumeClaim {meta['name']} has a conflicting OwnerReference that acts as "
                           f"a managing controller, the retention policy is ignored for this claim")
            refs = retention.owner_refs_for(existing, sts, pod)
            try:
                await self.client.patch(self.pvc_info, meta["name"], {"metadata": {
                    "ownerReferences": refs or None,
                    "resourceVersion": existing["metadata"].get("resourceVersion")}},
                    meta["namespace"], patch_type="merge")
            except ApiError as e:
                if e.code == 404:
                    continue
                raise SyncError(f"could not update claim {meta['name']} for delete policy ownerRefs: {e}") from e

    async def update_pod(self, sts: dict, pod: dict) -> None:
        """Restore a pod's identity labels, missing claims and claim owners (UpdateStatefulPod)."""
        meta = pod["metadata"]
        if not storage_matches(sts, pod):
            # volumes of a running pod are immutable: create what it mounts, it is recreated to fix the rest
            await self.create_claims(sts, pod)
        if not self.claims_match_retention(sts, pod):
            await self.update_claims_for_retention(sts, pod)
        if identity_matches(sts, pod):
            return
        fixed = deepcopy_json(pod)
        update_identity(sts, fixed)
        try:
            await self.client.patch(self.pod_info, meta["name"], {"metadata": {
                "labels": fixed["metadata"]["labels"], "resourceVersion": meta.get("resourceVersion")}},
                meta.get("namespace"), patch_type="merge")
        except ApiError as e:
            self.event(sts, "Warning", "FailedUpdate",
                       f"update Pod {meta['name']} in StatefulSet {sts['metadata']['name']} failed error: {e}")
            raise
        self.event(sts, "Normal", "SuccessfulUpdate",
                   f"update Pod {meta['name']} in StatefulSet {sts['metadata']['name']} successful")

    async def write_status(self, sts: dict, status: dict) -> None:
        spec = sts.get("spec") or {}
        replicas = replicas_of(sts)
        # completeRollingUpdate: once every pod runs the update revision it becomes current
        if ((spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
                and status["updatedReplicas"] == replicas and status["readyReplicas"] == replicas
                and status["replicas"] == replicas):
            status["currentReplicas"] = status["updatedReplicas"]
            status["currentRevision"] = status["updateRevision"]
        old = sts.get("status") or {}
        if (status["observedGeneration"] <= int(old.get("observedGeneration") or 0)
                and all((old.get(f) or _STATUS_DEFAULTS[f]) == status[f] for f in _STATUS_DEFAULTS)):
            return  # inconsistentStatus: nothing new to report
        meta = sts["metadata"]
        try:
            await self.client.patch(self.sts_info, meta["name"], {"status": status}, meta.get("namespace"),
                                    patch_type="merge", subresource="status")
        except ApiError as e:
            if e.code != 404:
                raise


async def _run_for_all(count: int, fn, monotonic: bool) -> bool:
    """OrderedReady: one at a time, stop at the first that blocks. Parallel: slow-start batches
    (1, 2, 4, ... up to MAX_BATCH) that stop after a batch with an error. True = stop here."""
    if monotonic:
        for i in range(count):
            if await fn(i):
                return True
        return False
    done, batch = 0, min(1, count)
    while batch > 0:
        results = await asyncio.gather(*(fn(i) for i in range(done, done + batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        done += batch
        batch = min(2 * batch, count - done, MAX_BATCH)
    return False


class _SetSync:
    """One pass of UpdateStatefulSet over one set: revisions → pods → status → history."""

    def __init__(self, ctrl: StatefulSetController, sts: dict, key: str, pods: list[dict],
                 revisions: list[dict]) -> None:
        self.ctrl = ctrl
        self.sts = sts
        self.key = key
        self.pods = pods
        self.revisions = revisions
        self.now = dt.datetime.fromtimestamp(ctrl.clock(), dt.UTC)
        spec = sts.get("spec") or {}
        self.min_ready = int(spec.get("minReadySeconds") or 0)
        self.monotonic = spec.get("podManagementPolicy") != "Parallel"
        self.status: dict | None = None

    async def run(self) -> dict:
        current, update, collision_count = await self._revisions()
        self.status = {"observedGeneration": int(self.sts["metadata"].get("generation") or 0),
                       "currentRevision": current["metadata"]["name"],
                       "updateRevision": update["metadata"]["name"],
                       "collisionCount": collision_count}
        error: Exception | None = None
        try:
            await self._converge(current, update)
        except (ApiError, SyncError) as e:
            error = e  # still report what was done, as upstream does
        await self.ctrl.write_status(self.sts, self.status)
        live = {current["metadata"]["name"], update["metadata"]["name"]}
        live.update(pod_revision(p) for p in self.pods)
        await truncate_history(self.ctrl.client, self.revisions, live,
                               (self.sts.get("spec") or {}).get("revisionHistoryLimit"))
        if error is not None:
            raise error
        return self.status

    # -- revisions -----------------------------------------------------------------------------
    async def _revisions(self) -> tuple[dict, dict, int]:
        """(current, update, collisionCount): getStatefulSetRevisions."""
        sts, revisions, client = self.sts, self.revisions, self.ctrl.client
        collision_count = int((sts.get("status") or {}).get("collisionCount") or 0)
        candidate = new_revision(sts, revision_data(sts), next_revision_number(revisions), collision_count)
        equal = find_equal_revisions(revisions, candidate)
        if equal and equal_revision(revisions[-1], equal[-1]):
            update = revisions[-1]  # the template has not changed
        elif equal:
            # back to an older template: move that revision to the head instead of copying it
            update = await set_revision_number(client, equal[-1], candidate["revision"])
        else:
            update, collision_count = await create_revision(client, sts, candidate, collision_count)
        current_name = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if r["metadata"]["name"] == current_name), update)
        return current, update, collision_count

    # -- pods ----------------------------------------------------------------------------------
    def _terminating(self, pod: dict) -> bool:
        return bool(pod["metadata"].get("deletionTimestamp")) or self.ctrl.deleting(self.key, pod["metadata"]["name"])

    def _healthy(self, pod: dict) -> bool:
        return is_running_and_ready(pod) and not self._terminating(pod)

    def _recount(self, current: dict, update: dict, *pod_lists: list[dict]) -> None:
        pods = [p for pods in pod_lists for p in pods]
        compute_status(self.status, pods, self.min_ready, self.now, current["metadata"]["name"],
                       update["metadata"]["name"])

    async def _converge(self, current: dict, update: dict) -> None:
        sts, ctrl = self.sts, self.ctrl
        current_set, update_set = apply_revision(sts, current), apply_revision(sts, update)
        current_name, update_name = current["metadata"]["name"], update["metadata"]["name"]
        self._recount(current, update, self.pods)

        start, count = start_ordinal(sts), replicas_of(sts)
        replicas: list[dict | None] = [None] * max(count, 0)
        condemned: list[dict] = []
        for pod in self.pods:
            ordinal = ordinal_of(pod)
            if in_ordinal_range(pod, sts):
                replicas[ordinal - start] = pod
            elif ordinal >= 0:
                condemned.append(pod)
        for i, pod in enumerate(replicas):
            if pod is None:
                replicas[i] = new_versioned_pod(current_set, update_set, current_name, update_name, start + i)
        condemned.sort(key=ordinal_of, reverse=True)
        unhealthy = [p for p in replicas if not self._healthy(p)] + \
                    [p for p in reversed(condemned) if not self._healthy(p)]
        first_unhealthy = unhealthy[0] if unhealthy else None

        if sts["metadata"].get("deletionTimestamp"):
            return  # a set being deleted only reports status

        async def process_replica(i: int) -> bool:
            return await self._process_replica(update_set, replicas, i)

        async def fix_condemned_claims(i: int) -> bool:
            if not ctrl.claims_match_retention(update_set, condemned[i]):
                await ctrl.update_claims_for_retention(update_set, condemned[i])
            return False

        async def process_condemned(i: int) -> bool:
            return await self._process_condemned(first_unhealthy, condemned, i)

        try:
            for fn, pods in ((process_replica, replicas), (fix_condemned_claims, condemned),
                             (process_condemned, condemned)):
                if await _run_for_all(len(pods), fn, self.monotonic):
                    return
        finally:
            self._recount(current, update, replicas, condemned)

        strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") == "OnDelete":
            return  # pods are updated when the user deletes them
        rolling = strategy.get("rollingUpdate") or {}
        if rolling.get("maxUnavailable") is not None:
            await self._roll_max_unavailable(replicas, update_name, rolling)
        else:
            await self._roll_one(replicas, update_name, int(rolling.get("partition") or 0))

    async def _process_replica(self, update_set: dict, replicas: list, i: int) -> bool:
        """Converge one ordinal; True means OrderedReady must wait here."""
        ctrl, pod = self.ctrl, replicas[i]
        name = pod["metadata"]["name"]
        if is_failed(pod) or is_succeeded(pod):
            # a stateful pod never stays finished: delete it, the next sync recreates it
            if not self._terminating(pod):
                await ctrl.delete_pod(self.sts, self.key, pod)
            return True
        if not is_created(pod):
            if ctrl.creating(self.key, name):
                return self.monotonic  # created, but the informer has not caught up yet
            if retention_policy(self.sts)[1] == "Delete" and self._claims_stale(pod):
                return True  # wait until the garbage collector removed the old pod's claims
            await ctrl.create_pod(self.sts, self.key, pod)
            return self.monotonic
        if is_pending(pod):
            await ctrl.create_claims(self.sts, pod)  # a claim deleted while the pod waited
        if self.monotonic and (self._terminating(pod) or not is_running_and_ready(pod)
                               or not is_running_and_available(pod, self.min_ready, self.now)):
            return True
        if (identity_matches(self.sts, pod) and storage_matches(self.sts, pod)
                and ctrl.claims_match_retention(update_set, pod)):
            return False
        await ctrl.update_pod(update_set, pod)
        return False

    def _claims_stale(self, pod: dict) -> bool:
        for claim_obj in claims_for_pod(self.sts, ordinal_of(pod)).values():
            existing = self.ctrl.claims.get(claim_obj["metadata"]["namespace"], claim_obj["metadata"]["name"])
            if existing is not None and retention.claim_is_stale(existing, pod):
                return True
        return False

    async def _process_condemned(self, first_unhealthy: dict | None, condemned: list[dict], i: int) -> bool:
        pod = condemned[i]
        if self._terminating(pod):
            return self.monotonic  # wait for it to go before touching the next one
        if self.monotonic and pod is not first_unhealthy and (
                not is_running_and_ready(pod) or not is_running_and_available(pod, self.min_ready, self.now)):
            return True  # scale down only from a healthy set (or remove the first unhealthy pod)
        await self.ctrl.delete_pod(self.sts, self.key, pod)
        return True

    async def _roll_one(self, replicas: list[dict], update_name: str, partition: int) -> None:
        """Replace the highest-ordinal pod not at the update revision, at or above the partition,
        and wait for each to be healthy before the next."""
        for target in range(len(replicas) - 1, partition - 1, -1):
            pod = replicas[target]
            if pod_revision(pod) != update_name and not self._terminating(pod):
                await self.ctrl.delete_pod(self.sts, self.key, pod)
                self.status["currentReplicas"] -= 1
                return
            if not self._healthy(pod):
                return

    async def _roll_max_unavailable(self, replicas: list[dict], update_name: str, rolling: dict) -> None:
        """MaxUnavailableStatefulSet: replace up to maxUnavailable pods at once, highest first."""
        budget = _max_unavailable(rolling.get("maxUnavailable"), len(replicas))
        budget -= sum(1 for p in replicas if not self._healthy(p))
        partition = int(rolling.get("partition") or 0)
        for target in range(len(replicas) - 1, partition - 1, -1):
            if budget <= 0:
                return
            pod = replicas[target]
            if pod_revision(pod) != update_name and not self._terminating(pod):
                await self.ctrl.delete_pod(self.sts, self.key, pod)
                self.status["currentReplicas"] -= 1
                budget -= 1


def new(ctx) -> StatefulSetController:
    return StatefulSetController(client=ctx.client, informers=ctx.informers,
                                 recorder=ctx.recorder("statefulset-controller"),
                                 workers=ctx.settings.workers, clock=ctx.clock)
