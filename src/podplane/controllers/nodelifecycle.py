"""Node lifecycle controller: node health, condition taints and taint-based eviction
(upstream pkg/controller/nodelifecycle, tainteviction, and PodGC's orphan sweep).

- `monitor_node_health()` (every `node_monitor_period`, from `run()`): a node whose Lease
  (kube-node-lease) and Ready heartbeat have not moved for `node_monitor_grace_period`
  seconds, measured on this controller's clock as upstream, gets Ready/MemoryPressure/
  DiskPressure/PIDPressure Unknown ("Kubelet stopped posting node status.") and its pods
  Ready=False; Ready=False/Unknown nodes get the not-ready/unreachable NoExecute taint
  through per-zone token buckets that stop when a zone (or the cluster) looks down, and
  lose it when Ready again; pods of a node missing for `POD_GC_QUARANTINE` s are
  force-deleted;
- `sync("<node>")` (node events): NoSchedule taints mirroring conditions and
  spec.unschedulable, then a re-check of the node's pods;
- `sync("<ns>/<pod>")` (the NoExecute taint manager): a pod not tolerating every NoExecute
  taint of its node is deleted at once; tolerated for tolerationSeconds, that long after
  the taint manager first saw it there; tolerated without a limit, never.
Time comes from `ctx.clock`. Neighbours: agents renew the Leases; the scheduler honours
the taints; workload controllers replace evicted pods.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from podplane.api.errors import ApiError
from podplane.api.meta import format_time, parse_time
from podplane.api.scheduling import toleration_tolerates_taint
from podplane.client.informer import key_of, split_key
from podplane.client.workqueue import WorkQueue

__all__ = [
    "NOT_READY_TAINT",
    "NodeLifecycleController",
    "UNREACHABLE_TAINT",
    "compute_zone_state",
    "matching_tolerations",
    "min_toleration_seconds",
    "new",
    "tolerates",
    "zone_key",
]

log = logging.getLogger(__name__)

NODE_LEASE_NAMESPACE = "kube-node-lease"
NOT_READY_KEY = "node.kubernetes.io/not-ready"
UNREACHABLE_KEY = "node.kubernetes.io/unreachable"
UNSCHEDULABLE_KEY = "node.kubernetes.io/unschedulable"
NOT_READY_TAINT = {"key": NOT_READY_KEY, "effect": "NoExecute"}
UNREACHABLE_TAINT = {"key": UNREACHABLE_KEY, "effect": "NoExecute"}

# condition type → {status → taint key}: the NoSchedule taints that mirror node conditions
CONDITION_TAINTS = {
    "Ready": {"False": NOT_READY_KEY, "Unknown": UNREACHABLE_KEY},
    "MemoryPressure": {"True": "node.kubernetes.io/memory-pressure"},
    "DiskPressure": {"True": "node.kubernetes.io/disk-pressure"},
    "NetworkUnavailable": {"True": "node.kubernetes.io/network-unavailable"},
    "PIDPressure": {"True": "node.kubernetes.io/pid-pressure"},
}
_CONDITION_TAINT_KEYS = {key for by_status in CONDITION_TAINTS.values() for key in by_status.values()}
# conditions the controller sets to Unknown for a silent node (NetworkUnavailable is not the kubelet's)
_UNKNOWN_ON_SILENCE = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")

# kube-controller-manager defaults
NODE_STARTUP_GRACE_PERIOD = 60.0
"""Seconds a node that never reported a Ready condition gets (--node-startup-grace-period)."""
NODE_EVICTION_RATE = 0.1
"""Nodes per second per zone that may get a NoExecute taint (--node-eviction-rate)."""
SECONDARY_NODE_EVICTION_RATE = 0.01
"""The same when a large zone is partially disrupted (--secondary-node-eviction-rate)."""
LARGE_CLUSTER_THRESHOLD = 50
"""Zones up to this size stop tainting altogether when partially disrupted."""
UNHEALTHY_ZONE_THRESHOLD = 0.55
"""Fraction of not-Ready nodes (at least 3) at which a zone counts as partially disrupted."""
DISRUPTION_EXCLUSION_LABEL = "node.kubernetes.io/exclude-disruption"
POD_GC_QUARANTINE = 40.0
"""Seconds a pod's node must be missing before its pods are force-deleted (upstream PodGC's
quarantine, which covers informer lag around node re-registration)."""

INITIAL, NORMAL, PARTIAL_DISRUPTION, FULL_DISRUPTION = "Initial", "Normal", "PartialDisruption", "FullDisruption"


# -- pure helpers ---------------------------------------------------------------------------------
tolerates = toleration_tolerates_taint  # shared predicate, see podplane.api.scheduling


def matching_tolerations(taints: list[dict], tolerations: list[dict]) -> tuple[bool, list[dict]]:
    """Whether every taint is tolerated, and the first toleration matching each one."""
    used = []
    for taint in taints:
        match = next((t for t in tolerations if toleration_tolerates_taint(t, taint)), None)
        if match is None:
            return False, []
        used.append(match)
    return True, used


def min_toleration_seconds(tolerations: list[dict]) -> float:
    """The shortest tolerationSeconds among the used tolerations; -1 means forever."""
    if not tolerations:
        return 0
    limits = [t["tolerationSeconds"] for t in tolerations if t.get("tolerationSeconds") is not None]
    if not limits:
        return -1
    return max(0, min(limits))


def zone_key(node: dict) -> str:
    """upstream topology.GetZoneKey: region and zone labels, "" when the node has neither."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    region = labels.get("topology.kubernetes.io/region") or labels.get("failure-domain.beta.kubernetes.io/region", "")
    zone = labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone", "")
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def compute_zone_state(ready_statuses: list[str | None]) -> tuple[int, str]:
    """(not-Ready nodes, zone state) from the zone's Ready condition statuses."""
    ready = sum(1 for s in ready_statuses if s == "True")
    not_ready = len(ready_statuses) - ready
    if ready == 0 and not_ready > 0:
        return not_ready, FULL_DISRUPTION
    if not_ready > 2 and not_ready / (ready + not_ready) >= UNHEALTHY_ZONE_THRESHOLD:
        return not_ready, PARTIAL_DISRUPTION
    return not_ready, NORMAL


def _condition(obj: dict, cond_type: str) -> dict | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == cond_type:
            return c
    return None


def _taints(node: dict, effect: str) -> list[dict]:
    return [t for t in (node.get("spec") or {}).get("taints") or () if t.get("effect") == effect]


def _has_taint(node: dict, taint: dict) -> bool:
    return any(t.get("key") == taint["key"] and t.get("effect") == taint["effect"]
               for t in (node.get("spec") or {}).get("taints") or ())


def _time(text: str | None) -> datetime | None:
    try:
        return parse_time(text) if text else None
    except ValueError:
        return None


@dataclass
class _NodeHealth:
    """What the controller last saw of a node, stamped with its own clock (upstream nodeHealthData)."""

    probe_time: float
    ready_transition_time: float
    ready: dict | None
    lease_renew: datetime | None = None


class _TokenBucket:
    """A token bucket of burst 1 on the injected clock; qps 0 rejects everything."""

    def __init__(self, qps: float, now: float) -> None:
        self.qps = qps
        self.tokens = 1.0
        self.last = now

    def try_accept(self, now: float) -> bool:
        if self.qps <= 0:
            return False
        self.tokens = min(1.0, self.tokens + (now - self.last) * self.qps)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class NodeLifecycleController:
    name = "nodelifecycle"

    def __init__(self, ctx) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.settings = ctx.settings
        self.workers = ctx.settings.workers
        self.grace_period = ctx.settings.node_monitor_grace_period
        self.monitor_period = ctx.settings.node_monitor_period
        self.queue = WorkQueue("nodelifecycle")
        self.nodes_info = self.client.resource("", "nodes")
        self.pods_info = self.client.resource("", "pods")
        self.nodes = ctx.informers.resource("", "nodes")
        self.leases = ctx.informers.resource("coordination.k8s.io", "leases", namespace=NODE_LEASE_NAMESPACE)
        self.pods = ctx.informers.resource("", "pods")
        self.pods.add_indexer("nodeName", lambda p: [n] if (n := (p.get("spec") or {}).get("nodeName")) else [])
        self.recorder = ctx.recorder("node-controller")
        self.eviction_recorder = ctx.recorder("taint-eviction-controller")
        self.health: dict[str, _NodeHealth] = {}
        self.known: dict[str, dict] = {}
        self.zone_states: dict[str, str] = {}
        self.zone_limiters: dict[str, _TokenBucket] = {}
        self.zone_pending: dict[str, dict[str, None]] = {}
        """Per zone, nodes waiting for a NoExecute taint (ordered, like upstream's timed queue)."""
        self.nodes_to_retry: set[str] = set()
        self.evictions: dict[str, float] = {}
        """Pod key → when the taint manager started counting its tolerationSeconds."""
        self._no_execute_seen: dict[str, list[dict]] = {}
        self._missing_nodes: dict[str, float] = {}
        """Node name → when pods bound to it were first seen without the node (PodGC)."""
        self.nodes.add_handler(lambda n: self.queue.add(n["metadata"]["name"]),
                               lambda _o, n: self.queue.add(n["metadata"]["name"]),
                               lambda n: self.queue.add(n["metadata"]["name"]))
        self.pods.add_handler(lambda p: self._pod_changed(None, p), self._pod_changed, self._pod_deleted)

    # -- handlers -------------------------------------------------------------------------------
    def _pod_changed(self, old: dict | None, pod: dict) -> None:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            return
        key = key_of(pod)
        newly_bound = old is None or (old.get("spec") or {}).get("nodeName") != node_name
        if newly_bound or key in self.evictions or self._node_needs_pod_checks(node_name):
            self.queue.add(key)

    def _pod_deleted(self, pod: dict) -> None:
        if key_of(pod) in self.evictions:
            self.queue.add(key_of(pod))

    def _node_needs_pod_checks(self, node_name: str) -> bool:
        node = self.nodes.get(None, node_name)
        if node is not None and _taints(node, "NoExecute"):
            return True
        health = self.health.get(node_name)
        return health is not None and health.ready is not None and health.ready.get("status") != "True"

    def _now_str(self, now: float) -> str:
        return format_time(datetime.fromtimestamp(now, UTC))

    # -- sync: node (NoSchedule taints) or pod (taint manager) ------------------------------------
    async def sync(self, key: str) -> None:
        if "/" in key:
            await self._sync_pod(key)
        else:
            await self._sync_node(key)

    async def _sync_node(self, name: str) -> None:
        node = self.nodes.get(None, name)
        if node is None:
            self._no_execute_seen.pop(name, None)
            for pod in self.pods.by_index("nodeName", name):
                if key_of(pod) in self.evictions:
                    self.queue.add(key_of(pod))
            return
        await self._no_schedule_tainting_pass(node)
        # the taint manager looks at the node's pods whenever its NoExecute taints change
        no_execute = [{k: t.get(k) for k in ("key", "value", "effect")} for t in _taints(node, "NoExecute")]
        if no_execute != self._no_execute_seen.get(name, []):
            for pod in self.pods.by_index("nodeName", name):
                self.queue.add(key_of(pod))
        if no_execute:
            self._no_execute_seen[name] = no_execute
        else:
            self._no_execute_seen.pop(name, None)

    async def _no_schedule_tainting_pass(self, node: dict) -> None:
        wanted = set()
        for c in (node.get("status") or {}).get("conditions") or ():
            key = CONDITION_TAINTS.get(c.get("type"), {}).get(c.get("status"))
            if key:
                wanted.add(key)
        if (node.get("spec") or {}).get("unschedulable"):
            wanted.add(UNSCHEDULABLE_KEY)
        current = {t.get("key") for t in _taints(node, "NoSchedule")
                   if t.get("key") == UNSCHEDULABLE_KEY or t.get("key") in _CONDITION_TAINT_KEYS}
        if wanted == current:
            return
        await self._swap_taints(node["metadata"]["name"],
                                add=[{"key": k, "effect": "NoSchedule"} for k in sorted(wanted - current)],
                                remove=[{"key": k, "effect": "NoSchedule"} for k in sorted(current - wanted)])

    async def _sync_pod(self, key: str) -> None:
        namespace, name = split_key(key)
        pod = self.pods.get(namespace, name)
        if pod is None or not (pod.get("spec") or {}).get("nodeName") or pod["metadata"].get("deletionTimestamp"):
            self.evictions.pop(key, None)
            return
        node_name = pod["spec"]["nodeName"]
        node = self.nodes.get(None, node_name)
        taints = _taints(node, "NoExecute") if node is not None else []
        if taints and await self._handle_no_execute(key, pod, taints):
            return
        if not taints:
            self._cancel_eviction(key, pod)
        health = self.health.get(node_name)
        if health is not None and health.ready is not None and health.ready.get("status") != "True":
            await self.mark_pods_not_ready([pod], node_name)

    async def _handle_no_execute(self, key: str, pod: dict, taints: list[dict]) -> bool:
        """The taint manager's decision for one pod; True when the pod was deleted."""
        tolerated, used = matching_tolerations(taints, (pod.get("spec") or {}).get("tolerations") or [])
        if not tolerated:
            await self._evict(key, pod)
            return True
        seconds = min_toleration_seconds(used)
        if seconds < 0:
            self._cancel_eviction(key, pod)
            return False
        now = self.clock()
        started = self.evictions.setdefault(key, now)
        due = started + seconds
        if now >= due:
            await self._evict(key, pod)
            return True
        self.queue.add_after(key, due - now)
        return False

    def _cancel_eviction(self, key: str, pod: dict) -> None:
        if self.evictions.pop(key, None) is not None:
            self.eviction_recorder.event(pod, "Normal", "TaintManagerEviction", f"Cancelling deletion of Pod {key}")

    async def _evict(self, key: str, pod: dict) -> None:
        self.evictions.pop(key, None)
        meta = pod["metadata"]
        self.eviction_recorder.event(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {key}")
        condition = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                     "message": "Taint manager: deleting due to NoExecute taint",
                     "lastTransitionTime": self._now_str(self.clock())}
        current = _condition(pod, "DisruptionTarget")
        try:
            if current is None or current.get("status") != "True" or current.get("reason") != condition["reason"]:
                await self.client.patch(self.pods_info, meta["name"],
                                        {"metadata": {"uid": meta["uid"]}, "status": {"conditions": [condition]}},
                                        meta["namespace"], patch_type="strategic", subresource="status")
            await self.client.delete(self.pods_info, meta["name"], meta["namespace"],
                                     preconditions={"uid": meta["uid"]})
        except ApiError as e:
            if e.code not in (404, 409):
                raise
        log.info("taint manager: evicted pod %s", key)

    async def mark_pods_not_ready(self, pods: list[dict], node_name: str) -> None:
        """upstream MarkPodsNotReady: Ready=False on every pod of the node that is not yet so."""
        errors = []
        now = self._now_str(self.clock())
        for pod in pods:
            if (pod.get("spec") or {}).get("nodeName") != node_name:
                continue
            ready = _condition(pod, "Ready")
            if ready is None or ready.get("status") == "False":
                continue
            new = copy.deepcopy(pod)
            for c in new["status"]["conditions"]:
                if c.get("type") == "Ready":
                    c["status"] = "False"
                    c["lastTransitionTime"] = now
            try:
                await self.client.update_status(self.pods_info, new)
            except ApiError as e:
                if e.code != 404:
                    errors.append(e)
                continue
            self.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready")
        if errors:
            raise RuntimeError(f"cannot mark all pods on {node_name} NotReady: {errors[0]}")

    # -- taints ---------------------------------------------------------------------------------
    async def _swap_taints(self, node_name: str, *, add: list[dict], remove: list[dict]) -> bool:
        """Add taints (NoExecute ones stamped with timeAdded) and remove others in one
        resourceVersion-guarded write, retried on conflict (upstream SwapNodeControllerTaint)."""
        for _ in range(5):
            try:
                node = await self.client.get(self.nodes_info, node_name)
            except ApiError as e:
                if e.code == 404:
                    return False
                raise
            taints = [dict(t) for t in (node.get("spec") or {}).get("taints") or ()]
            kept = [t for t in taints if not any(t.get("key") == r["key"] and t.get("effect") == r["effect"]
                                                 for r in remove)]
            for taint in add:
                if any(t.get("key") == taint["key"] and t.get("effect") == taint["effect"] for t in kept):
                    continue
                new_taint = dict(taint)
                if taint["effect"] == "NoExecute":
                    new_taint["timeAdded"] = self._now_str(self.clock())
                kept.append(new_taint)
            if kept == taints:
                return True
            body = {"metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
                    "spec": {"taints": kept or None}}
            try:
                await self.client.patch(self.nodes_info, node_name, body, patch_type="merge")
                return True
            except ApiError as e:
                if e.code == 404:
                    return False
                if e.code != 409:
                    raise
        return False

    async def mark_node_as_reachable(self, node: dict) -> bool:
        """Remove the NoExecute not-ready/unreachable taints; True when any was there."""
        name = node["metadata"]["name"]
        self.zone_pending.get(zone_key(node), {}).pop(name, None)
        present = [t for t in (UNREACHABLE_TAINT, NOT_READY_TAINT) if _has_taint(node, t)]
        if not present:
            return False
        await self._swap_taints(name, add=[], remove=present)
        return True

    async def _process_taint_based_eviction(self, node: dict, observed_ready: dict) -> None:
        status = observed_ready.get("status")
        name = node["metadata"]["name"]
        if status in ("False", "Unknown"):
            wanted, opposite = (NOT_READY_TAINT, UNREACHABLE_TAINT) if status == "False" else (
                UNREACHABLE_TAINT, NOT_READY_TAINT)
            if _has_taint(node, opposite):
                # not-ready and unreachable mirror Ready, so they swap at once, without a token
                await self._swap_taints(name, add=[wanted], remove=[opposite])
            elif not _has_taint(node, wanted):
                self.zone_pending.setdefault(zone_key(node), {})[name] = None
        elif status == "True":
            await self.mark_node_as_reachable(node)

    async def _no_execute_tainting_pass(self, now: float) -> None:
        for zone, pending in self.zone_pending.items():
            limiter = self.zone_limiters.get(zone)
            for name in list(pending):
                if limiter is None or not limiter.try_accept(now):
                    break
                node = self.nodes.get(None, name)
                if node is None:
                    pending.pop(name, None)
                    continue
                ready = _condition(node, "Ready")
                status = ready.get("status") if ready else None
                if status == "False":
                    done = await self._swap_taints(name, add=[NOT_READY_TAINT], remove=[UNREACHABLE_TAINT])
                elif status == "Unknown":
                    done = await self._swap_taints(name, add=[UNREACHABLE_TAINT], remove=[NOT_READY_TAINT])
                elif status == "True":
                    done = True
                else:
                    continue
                if done:
                    pending.pop(name, None)

    # -- node health ----------------------------------------------------------------------------
    async def _update_node_health(self, node: dict, now: float) -> tuple[dict, dict, dict | None]:
        """upstream tryUpdateNodeHealth: (node as written, Ready condition as observed before
        this pass, Ready condition now). Raises ApiError when the status write fails."""
        name = node["metadata"]["name"]
        created = _time(node["metadata"].get("creationTimestamp"))
        created_at = created.timestamp() if created else now
        health = self.health.get(name)
        current = _condition(node, "Ready")
        if current is None:
            # never reported: pretend Unknown since creation, with the longer start-up grace
            observed = {"type": "Ready", "status": "Unknown",
                        "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                        "lastTransitionTime": node["metadata"].get("creationTimestamp")}
            grace = max(NODE_STARTUP_GRACE_PERIOD, self.grace_period)
            if health is None:
                health = _NodeHealth(probe_time=created_at, ready_transition_time=created_at, ready=None)
        else:
            observed = copy.deepcopy(current)
            grace = self.grace_period
        saved = health.ready if health is not None else None
        saved_lease = health.lease_renew if health is not None else None
        if health is None:
            health = _NodeHealth(probe_time=now, ready_transition_time=now, ready=copy.deepcopy(current))
        elif saved is None and current is not None:
            health = _NodeHealth(probe_time=now, ready_transition_time=now, ready=copy.deepcopy(current),
                                 lease_renew=saved_lease)
        elif saved is not None and current is None:
            log.error("node %s: the Ready condition was removed from its status", name)
            health = _NodeHealth(probe_time=now, ready_transition_time=now, ready=None, lease_renew=saved_lease)
        elif saved is not None and current is not None and saved.get("lastHeartbeatTime") != current.get(
                "lastHeartbeatTime"):
            transition = now if saved.get("lastTransitionTime") != current.get("lastTransitionTime") else \
                health.ready_transition_time
            health = _NodeHealth(probe_time=now, ready_transition_time=transition, ready=copy.deepcopy(current),
                                 lease_renew=saved_lease)
        # a renewed lease counts as a heartbeat even when the status is not re-posted
        lease = self.leases.get(NODE_LEASE_NAMESPACE, name)
        renew = _time(((lease or {}).get("spec") or {}).get("renewTime"))
        if renew is not None and (saved_lease is None or saved_lease < renew):
            health.lease_renew = renew
            health.probe_time = now
        self.health[name] = health
        if now <= health.probe_time + grace:
            return node, observed, current
        new = copy.deepcopy(node)
        conditions = new.setdefault("status", {}).setdefault("conditions", [])
        stamp = self._now_str(now)
        for cond_type in _UNKNOWN_ON_SILENCE:
            c = next((c for c in conditions if c.get("type") == cond_type), None)
            if c is None:
                conditions.append({"type": cond_type, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                                   "message": "Kubelet never posted node status.",
                                   "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                                   "lastTransitionTime": stamp})
            elif c.get("status") != "Unknown":
                c.update({"status": "Unknown", "reason": "NodeStatusUnknown",
                          "message": "Kubelet stopped posting node status.", "lastTransitionTime": stamp})
        new_ready = _condition(new, "Ready")
        if new_ready == observed:
            return node, observed, current
        log.info("node %s: no heartbeat for %.0fs, marking it Unknown", name, now - health.probe_time)
        written = await self.client.update_status(self.nodes_info, new)
        self.health[name] = _NodeHealth(probe_time=health.probe_time, ready_transition_time=now,
                                        ready=copy.deepcopy(new_ready), lease_renew=health.lease_renew)
        return written, observed, new_ready

    async def _update_node_health_with_retry(self, node: dict, now: float) -> tuple[dict, dict, dict | None]:
        for attempt in range(5):
            try:
                return await self._update_node_health(node, now)
            except ApiError as e:
                if e.code == 404 or attempt == 4:
                    raise
            node = await self.client.get(self.nodes_info, node["metadata"]["name"])
        raise AssertionError("unreachable")

    def _ensure_zone(self, zone: str, now: float) -> None:
        if zone not in self.zone_states:
            self.zone_states[zone] = INITIAL
            self.zone_limiters[zone] = _TokenBucket(NODE_EVICTION_RATE, now)

    async def monitor_node_health(self) -> None:
        """One pass over all nodes (upstream monitorNodeHealth)."""
        now = self.clock()
        nodes = sorted(self.nodes.list(), key=lambda n: n["metadata"]["name"])
        names = {n["metadata"]["name"] for n in nodes}
        for node in nodes:
            self._ensure_zone(zone_key(node), now)
            name = node["metadata"]["name"]
            if name not in self.known:
                self.known[name] = node
                self.recorder.event(node, "Normal", "RegisteredNode", f"Registered Node {name} in Controller")
                await self.mark_node_as_reachable(node)
        for name in [n for n in self.known if n not in names]:
            gone = self.known.pop(name)
            self.health.pop(name, None)
            self.nodes_to_retry.discard(name)
            self.recorder.event(gone, "Normal", "RemovingNode", f"Removing Node {name} from Controller")
        zone_conditions: dict[str, list[str | None]] = {}
        for node in nodes:
            name = node["metadata"]["name"]
            try:
                node, observed, current = await self._update_node_health_with_retry(node, now)
            except ApiError as e:
                log.warning("node %s: cannot update health, no pods will be evicted: %s", name, e)
                continue
            if DISRUPTION_EXCLUSION_LABEL not in ((node["metadata"].get("labels")) or {}):
                zone_conditions.setdefault(zone_key(node), []).append(current.get("status") if current else None)
            if current is None:
                self.nodes_to_retry.discard(name)
                continue
            await self._process_taint_based_eviction(node, observed)
            became_not_ready = current.get("status") != "True" and observed.get("status") == "True"
            if became_not_ready:
                self.recorder.event(node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady")
            if became_not_ready or (name in self.nodes_to_retry and observed.get("status") != "True"):
                try:
                    await self.mark_pods_not_ready(self.pods.by_index("nodeName", name), name)
                except (ApiError, RuntimeError) as e:
                    log.warning("%s; will retry", e)
                    self.nodes_to_retry.add(name)
                    continue
            self.nodes_to_retry.discard(name)
        await self._handle_disruption(zone_conditions, nodes, now)
        await self._no_execute_tainting_pass(now)
        await self.gc_orphaned_pods(names, now)

    async def gc_orphaned_pods(self, existing: set[str], now: float) -> None:
        """upstream PodGC gcOrphaned: force-delete the pods of nodes gone for the quarantine."""
        for pod in self.pods.list():
            node_name = (pod.get("spec") or {}).get("nodeName")
            if node_name and node_name not in existing:
                self._missing_nodes.setdefault(node_name, now)
        deleted = set()
        for name, since in list(self._missing_nodes.items()):
            if name in existing:
                del self._missing_nodes[name]
                continue
            if now - since < POD_GC_QUARANTINE:
                continue
            del self._missing_nodes[name]
            try:
                await self.client.get(self.nodes_info, name)
            except ApiError as e:
                if e.code != 404:
                    raise
                deleted.add(name)
        for name in sorted(deleted):
            for pod in self.pods.by_index("nodeName", name):
                await self._force_delete_orphan(pod)

    async def _force_delete_orphan(self, pod: dict) -> None:
        meta = pod["metadata"]
        status: dict = {"conditions": [{"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                                        "message": "PodGC: node no longer exists",
                                        "lastTransitionTime": self._now_str(self.clock())}]}
        if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            status["phase"] = "Failed"
        log.info("pod gc: force-deleting %s/%s, its node %s no longer exists", meta.get("namespace"), meta["name"],
                 pod["spec"]["nodeName"])
        try:
            await self.client.patch(self.pods_info, meta["name"], {"metadata": {"uid": meta["uid"]}, "status": status},
                                    meta["namespace"], patch_type="strategic", subresource="status")
            await self.client.delete(self.pods_info, meta["name"], meta["namespace"], grace_period_seconds=0,
                                     preconditions={"uid": meta["uid"]})
        except ApiError as e:
            if e.code not in (404, 409):
                raise

    def _set_zone_rate(self, zone: str, zone_size: int, state: str, now: float) -> None:
        if state == PARTIAL_DISRUPTION:
            qps = SECONDARY_NODE_EVICTION_RATE if zone_size > LARGE_CLUSTER_THRESHOLD else 0.0
        else:
            qps = NODE_EVICTION_RATE
        self.zone_limiters[zone] = _TokenBucket(qps, now)

    async def _handle_disruption(self, zone_conditions: dict[str, list[str | None]], nodes: list[dict],
                                 now: float) -> None:
        """upstream handleDisruption: when every zone is fully down the fault is probably on
        our side (or the network's), so tainting stops and existing taints are lifted."""
        new_states = {zone: compute_zone_state(statuses)[1] for zone, statuses in zone_conditions.items()}
        all_are_fully_disrupted = all(s == FULL_DISRUPTION for s in new_states.values())
        all_were_fully_disrupted = True
        for zone in list(self.zone_states):
            if zone not in zone_conditions:
                del self.zone_states[zone]
                continue
            if self.zone_states[zone] != FULL_DISRUPTION:
                all_were_fully_disrupted = False
        if all_are_fully_disrupted and all_were_fully_disrupted:
            return
        if all_are_fully_disrupted:
            log.warning("all nodes are not Ready: entering disruption mode, no NoExecute taints")
            for node in nodes:
                await self.mark_node_as_reachable(node)
            for zone in self.zone_states:
                self.zone_limiters[zone] = _TokenBucket(0.0, now)
                self.zone_states[zone] = FULL_DISRUPTION
            return
        if all_were_fully_disrupted:
            log.info("some nodes are Ready again: leaving disruption mode")
            for node in nodes:
                health = self.health.get(node["metadata"]["name"])
                if health is not None:
                    health.probe_time = health.ready_transition_time = now
            for zone in self.zone_states:
                self._set_zone_rate(zone, len(zone_conditions[zone]), new_states[zone], now)
                self.zone_states[zone] = new_states[zone]
            return
        for zone, state in list(self.zone_states.items()):
            wanted = new_states.get(zone)
            if wanted is None or wanted == state:
                continue
            log.info("zone %r is now %s", zone, wanted)
            self._set_zone_rate(zone, len(zone_conditions[zone]), wanted, now)
            self.zone_states[zone] = wanted

    async def run(self) -> None:
        while True:
            try:
                await self.monitor_node_health()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("node lifecycle: monitoring pass failed")
            await asyncio.sleep(self.monitor_period)


def new(ctx) -> NodeLifecycleController:
    return NodeLifecycleController(ctx)
