"""NodeResourcesFit and NodeResourcesBalancedAllocation: resource requests against allocatable.

Fit (filter): the pod's requests (containers summed, init containers as a maximum,
sidecars added, plus pod overhead) must fit in the node's allocatable minus what its
pods already request, for cpu, memory, ephemeral-storage and any extended resource;
and the node must have a pod slot left. Reasons are upstream's: "Too many pods",
"Insufficient cpu", "Insufficient memory", "Insufficient <resource>".

Fit (score, LeastAllocated): for cpu and memory, weight 1 each,
(allocatable - requested) * 100 / allocatable, where requested counts containers
without requests as 100m / 200Mi so best-effort pods spread too.

BalancedAllocation (score): 100 * (1 - |cpu fraction - memory fraction| / 2) on the
actual requests, favouring nodes whose cpu and memory fill evenly. Best-effort pods
skip it (upstream #129138).

Both scores depend only on the pod's requests and the node's resources, so each plugin
keeps the last score per node with the node's generation and reuses it until the node
changes: a run of similar pods recomputes only the nodes that took a pod.
"""

from __future__ import annotations

from podplane.scheduler.framework import (
    ASSIGNED_POD_DELETE,
    MAX_NODE_SCORE,
    NODE_ADD,
    NODE_ALLOCATABLE,
    SKIP,
    CycleState,
    FilterPlugin,
    Handle,
    NodeInfo,
    PodInfo,
    PreScorePlugin,
    ScorePlugin,
    Status,
)

__all__ = ["BALANCED_NAME", "NAME", "BalancedAllocation", "Fit", "insufficient_resources", "new", "new_balanced"]

NAME = "NodeResourcesFit"
BALANCED_NAME = "NodeResourcesBalancedAllocation"

_TOO_MANY_PODS = "Too many pods"


def insufficient_resources(pod: PodInfo, node: NodeInfo) -> list[str]:
    """Upstream fitsRequest: the reasons the pod does not fit, in upstream's order."""
    reasons = []
    alloc, used, want = node.allocatable, node.requested, pod.requests
    if len(node.pods) + 1 > alloc.allowed_pods:
        reasons.append(_TOO_MANY_PODS)
    if want.is_zero():
        return reasons
    if alloc.milli_cpu < want.milli_cpu + used.milli_cpu:
        reasons.append("Insufficient cpu")
    if alloc.memory < want.memory + used.memory:
        reasons.append("Insufficient memory")
    if alloc.ephemeral_storage < want.ephemeral_storage + used.ephemeral_storage:
        reasons.append("Insufficient ephemeral-storage")
    for name, quantity in want.scalars.items():
        if quantity and alloc.scalars.get(name, 0) < quantity + used.scalars.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


class Fit(FilterPlugin, ScorePlugin):
    name = NAME
    events = frozenset({NODE_ADD, NODE_ALLOCATABLE, ASSIGNED_POD_DELETE})

    def __init__(self) -> None:
        self._statuses: dict[tuple[str, ...], Status] = {}
        self._scores: dict[NodeInfo, tuple] = {}  # node → (generation, pod requests, score)

    def _rejection(self, reasons: list[str]) -> Status:
        key = tuple(reasons)
        status = self._statuses.get(key)
        if status is None:
            status = self._statuses[key] = Status.unschedulable(*reasons, plugin=NAME)
        return status

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                     rejected: dict[str, Status]) -> list[NodeInfo]:
        want = pod.requests
        cpu, memory = want.milli_cpu, want.memory
        if want.ephemeral_storage or any(want.scalars.values()):
            fits = [not insufficient_resources(pod, n) for n in nodes]
        else:
            # The common case in one comprehension: pod slots, cpu and memory only.
            fits = [n.free_pods > 0 and n.free_cpu >= cpu and n.free_memory >= memory for n in nodes]
        if all(fits):
            return nodes
        passed = []
        for node, ok in zip(nodes, fits, strict=True):
            if ok:
                passed.append(node)
            else:
                rejected[node.name] = self._rejection(insufficient_resources(pod, node))
        return passed

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """LeastAllocated over cpu and memory (weights 1), on non-zero requests."""
        pod_cpu, pod_memory = pod.non_zero_cpu, pod.non_zero_memory
        want = (pod_cpu, pod_memory)
        cache = self._scores
        scores: list[int] = []
        append = scores.append
        for node in nodes:
            cached = cache.get(node)
            if cached is not None and cached[0] == node.generation and cached[1] == want:
                append(cached[2])
                continue
            alloc = node.allocatable
            cpu_cap, mem_cap = alloc.milli_cpu, alloc.memory
            total = weights = 0
            if cpu_cap:
                requested = node.non_zero_cpu + pod_cpu
                total += (cpu_cap - requested) * MAX_NODE_SCORE // cpu_cap if requested <= cpu_cap else 0
                weights += 1
            if mem_cap:
                requested = node.non_zero_memory + pod_memory
                total += (mem_cap - requested) * MAX_NODE_SCORE // mem_cap if requested <= mem_cap else 0
                weights += 1
            score = total // weights if weights else 0
            _remember(cache, node, (node.generation, want, score), len(nodes))
            append(score)
        return scores


def _remember(cache: dict, node: NodeInfo, entry: tuple, nodes: int) -> None:
    """Cache a node's score for pods of the same requests until the node changes (its generation).

    Pods scheduled one after another mostly ask the same and only the node that took the
    last pod changed, so almost every score is a lookup. Entries of nodes that went away
    are dropped by clearing the cache when it outgrows the cluster."""
    if len(cache) > 2 * nodes + 1024:
        cache.clear()
    cache[node] = entry


class BalancedAllocation(PreScorePlugin, ScorePlugin):
    name = BALANCED_NAME

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if not pod.requests.milli_cpu and not pod.requests.memory:
            return SKIP
        return None

    def __init__(self) -> None:
        self._scores: dict[NodeInfo, tuple] = {}  # node → (generation, pod requests, score)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        pod_cpu, pod_memory = pod.requests.milli_cpu, pod.requests.memory
        want = (pod_cpu, pod_memory)
        cache = self._scores
        scores: list[int] = []
        for node in nodes:
            cached = cache.get(node)
            if cached is not None and cached[0] == node.generation and cached[1] == want:
                scores.append(cached[2])
                continue
            alloc = node.allocatable
            cpu_cap, mem_cap = alloc.milli_cpu, alloc.memory
            if cpu_cap and mem_cap:
                cpu_fraction = (node.requested.milli_cpu + pod_cpu) / cpu_cap
                mem_fraction = (node.requested.memory + pod_memory) / mem_cap
                if cpu_fraction > 1.0:
                    cpu_fraction = 1.0
                if mem_fraction > 1.0:
                    mem_fraction = 1.0
                std = abs(cpu_fraction - mem_fraction) / 2
            else:
                std = 0.0  # a single resource is always balanced
            score = int((1 - std) * MAX_NODE_SCORE)
            _remember(cache, node, (node.generation, want, score), len(nodes))
            scores.append(score)
        return scores


def new(handle: Handle) -> Fit:
    return Fit()


def new_balanced(handle: Handle) -> BalancedAllocation:
    return BalancedAllocation()
