"""Scheduling framework: statuses, cycle state, plugin interfaces and the plugin runner.

Shaped like upstream's pkg/scheduler/framework. A plugin implements one or more
extension points: PreFilter (per pod; may return Skip so its Filter is not run),
Filter (per node), PostFilter (after no node fits), PreScore, Score (+ normalize,
with a weight), Reserve/Unreserve, PreBind and Bind. "Unschedulable" is a `Status`
with a code and reasons, never an exception.

Filter and Score take batches: `filter_nodes(state, pod, nodes, rejected)` returns
the nodes that pass and records a Status for each one that does not, and
`score_nodes` returns one integer per node. Running plugin after plugin over the
shrinking list gives each node the status of the first plugin that rejects it,
exactly as upstream's per-node loop, while letting hot plugins use tight loops.
Plugins may implement just the per-node `filter`/`score`; the base classes batch them.

`FitError` formats the "0/N nodes are available: ..." message exactly as upstream's
FitError.Error(). Neighbours: `nodeinfo` (data model, re-exported here),
`registry` (builds a `Framework` from plugin names), `scheduler` (drives a cycle).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from podplane.scheduler.nodeinfo import AffinityTerm, NodeInfo, PodInfo, Resource, WeightedAffinityTerm

if TYPE_CHECKING:
    from podplane.client.informer import Informer, InformerFactory
    from podplane.scheduler.cache import Cache

__all__ = [
    "ASSIGNED_POD_ADD",
    "ASSIGNED_POD_DELETE",
    "ASSIGNED_POD_UPDATE",
    "MAX_NODE_SCORE",
    "NODE_ADD",
    "NODE_ALLOCATABLE",
    "NODE_DELETE",
    "NODE_LABEL",
    "NODE_TAINT",
    "PV_CHANGE",
    "PVC_CHANGE",
    "STORAGE_CLASS_CHANGE",
    "AffinityTerm",
    "BindPlugin",
    "Code",
    "CycleState",
    "Diagnosis",
    "FilterPlugin",
    "FitError",
    "Framework",
    "Handle",
    "NodeInfo",
    "Plugin",
    "PodInfo",
    "PostFilterPlugin",
    "PreBindPlugin",
    "PreFilterPlugin",
    "PreScorePlugin",
    "ReservePlugin",
    "Resource",
    "ScorePlugin",
    "Status",
    "WeightedAffinityTerm",
    "default_normalize_score",
]

MAX_NODE_SCORE = 100

# Cluster events that can make a rejected pod schedulable (upstream framework.ClusterEvent).
# Each plugin lists the ones that matter to it; the queue moves a pod only when an event
# concerns one of the plugins that rejected it.
NODE_ADD = "NodeAdd"
NODE_DELETE = "NodeDelete"
NODE_LABEL = "NodeUpdate/Label"
NODE_TAINT = "NodeUpdate/Taint"  # taints and spec.unschedulable
NODE_ALLOCATABLE = "NodeUpdate/Allocatable"
ASSIGNED_POD_ADD = "AssignedPodAdd"
ASSIGNED_POD_UPDATE = "AssignedPodUpdate/Label"
ASSIGNED_POD_DELETE = "AssignedPodDelete"
PVC_CHANGE = "PersistentVolumeClaimChange"
PV_CHANGE = "PersistentVolumeChange"
STORAGE_CLASS_CHANGE = "StorageClassChange"


class Code(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    """The pod does not fit now; preempting other pods might help."""
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    """The pod does not fit and preemption cannot change that."""
    WAIT = 4
    SKIP = 5
    """From PreFilter/PreScore: this plugin has nothing to check for this pod."""


@dataclass(frozen=True, slots=True)
class Status:
    """A plugin's verdict. Immutable, so plugins share constants across nodes."""

    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    @property
    def is_success(self) -> bool:
        return self.code == Code.SUCCESS

    @property
    def is_rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def with_plugin(self, plugin: str) -> Status:
        return self if self.plugin == plugin else Status(self.code, self.reasons, plugin)

    @classmethod
    def unschedulable(cls, *reasons: str, plugin: str = "") -> Status:
        return cls(Code.UNSCHEDULABLE, reasons, plugin)

    @classmethod
    def unresolvable(cls, *reasons: str, plugin: str = "") -> Status:
        return cls(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, plugin)

    @classmethod
    def error(cls, message: str, plugin: str = "") -> Status:
        return cls(Code.ERROR, (message,), plugin)


SKIP = Status(Code.SKIP)


class CycleState:
    """Per-cycle scratch space shared by the plugins (framework.CycleState)."""

    __slots__ = ("_data", "skip_filter", "skip_score")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def read(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)


# -- plugin interfaces ---------------------------------------------------------------------------
class Plugin:
    name: ClassVar[str] = ""
    events: ClassVar[frozenset[str]] = frozenset()
    """Cluster events after which a pod this plugin rejected is worth retrying."""


class PreFilterPlugin(Plugin):
    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        raise NotImplementedError


class FilterPlugin(Plugin):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """None (or a Success status) when the pod fits the node."""
        rejected: dict[str, Status] = {}
        self.filter_nodes(state, pod, [node], rejected)
        return rejected.get(node.name)

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                     rejected: dict[str, Status]) -> list[NodeInfo]:
        passed = []
        for node in nodes:
            status = self.filter(state, pod, node)
            if status is None or status.code == Code.SUCCESS:
                passed.append(node)
            else:
                rejected[node.name] = status.with_plugin(self.name)
        return passed


class PostFilterPlugin(Plugin):
    def post_filter(self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis,
                    framework: Framework) -> Status | None:
        raise NotImplementedError


class PreScorePlugin(Plugin):
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        raise NotImplementedError


class ScorePlugin(Plugin):
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.score_nodes(state, pod, [node])[0]

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        return [self.score(state, pod, n) for n in nodes]

    def normalize_scores(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        """Rescale `scores` in place to 0..MAX_NODE_SCORE (default: they already are)."""


class ReservePlugin(Plugin):
    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        raise NotImplementedError

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        raise NotImplementedError


class PreBindPlugin(Plugin):
    def pre_bind_pre_flight(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """Skip when PreBind has nothing to do for this pod (upstream PreBindPreFlight)."""
        return None

    async def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        raise NotImplementedError


class BindPlugin(Plugin):
    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """None on success; a Skip status lets the next bind plugin handle the pod."""
        raise NotImplementedError


def default_normalize_score(max_priority: int, reverse: bool, scores: list[int]) -> None:
    """helper.DefaultNormalizeScore: scale to the highest score (or its complement)."""
    highest = max(scores, default=0)
    if highest == 0:
        if reverse:
            scores[:] = [max_priority] * len(scores)
        return
    if reverse:
        scores[:] = [max_priority - max_priority * s // highest for s in scores]
    else:
        scores[:] = [max_priority * s // highest for s in scores]


# -- the handle plugins get ------------------------------------------------------------------------
class Handle:
    """What plugins may reach: the scheduler cache (node infos), shared informers for
    the objects they read, the API client (for PreBind/Bind) and the namespace labels
    used by namespaceSelectors."""

    def __init__(self, client: Any, cache: Cache, informers: InformerFactory | None = None) -> None:
        self.client = client
        self.cache = cache
        self.informers = informers

    def informer(self, group: str, plural: str) -> Informer:
        if self.informers is None:
            raise RuntimeError(f"this handle has no informers; {plural} cannot be read")
        return self.informers.resource(group, plural)

    def namespace_labels(self, namespace: str) -> dict:
        if self.informers is None:
            return {}
        ns = self.informer("", "namespaces").get(None, namespace)
        return ((ns or {}).get("metadata") or {}).get("labels") or {}

    def namespaces_matching(self, selector) -> list[str]:
        if self.informers is None:
            return []
        return [o["metadata"]["name"] for o in self.informer("", "namespaces").list(None, selector)]


# -- diagnosis and the fit error ----------------------------------------------------------------------
@dataclass
class Diagnosis:
    """Why a pod fits nowhere: per-node statuses, plus the status of nodes absent from
    the map (all of them when a PreFilter rejected the pod)."""

    node_to_status: dict[str, Status] = field(default_factory=dict)
    absent_status: Status | None = None
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def status_of(self, node_name: str) -> Status | None:
        return self.node_to_status.get(node_name, self.absent_status)


NO_NODE_AVAILABLE_MSG = "0/{} nodes are available"


def reason_histogram(diagnosis: Diagnosis, num_all_nodes: int) -> list[str]:
    """'<count> <reason>' strings sorted lexically, as upstream's sortReasonsHistogram."""
    counts: dict[str, int] = {}
    for status in diagnosis.node_to_status.values():
        for reason in status.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    absent = num_all_nodes - len(diagnosis.node_to_status)
    if absent > 0 and diagnosis.absent_status is not None:
        for reason in diagnosis.absent_status.reasons:
            counts[reason] = counts.get(reason, 0) + absent
    return sorted(f"{n} {reason}" for reason, n in counts.items())


class FitError(Exception):
    """No node fits the pod. str() is upstream's FitError.Error() message."""

    def __init__(self, pod: PodInfo, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.pod = pod
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        msg = NO_NODE_AVAILABLE_MSG.format(self.num_all_nodes) + ":"
        if self.diagnosis.pre_filter_msg:
            # A PreFilter rejected the pod for every node: its message says it all.
            msg += f" {self.diagnosis.pre_filter_msg}."
        else:
            histogram = reason_histogram(self.diagnosis, self.num_all_nodes)
            if histogram:
                msg += f" {', '.join(histogram)}."
        if self.diagnosis.post_filter_msg:
            msg += f" {self.diagnosis.post_filter_msg}"
        return msg


# -- the runner ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PluginSpec:
    name: str
    weight: int = 0
    """Score weight (0 for plugins that do not score)."""


class Framework:
    """Runs a profile's plugins at each extension point, in profile order."""

    def __init__(self, plugins: Sequence[tuple[Plugin, int]], *, scheduler_name: str = "default-scheduler") -> None:
        self.scheduler_name = scheduler_name
        self.plugins = [p for p, _ in plugins]
        self.by_name = {p.name: p for p in self.plugins}
        self.pre_filter_plugins = [p for p in self.plugins if isinstance(p, PreFilterPlugin)]
        self.filter_plugins = [p for p in self.plugins if isinstance(p, FilterPlugin)]
        self.post_filter_plugins = [p for p in self.plugins if isinstance(p, PostFilterPlugin)]
        self.pre_score_plugins = [p for p in self.plugins if isinstance(p, PreScorePlugin)]
        self.score_plugins = [(p, w) for p, w in plugins if isinstance(p, ScorePlugin) and w > 0]
        self.reserve_plugins = [p for p in self.plugins if isinstance(p, ReservePlugin)]
        self.pre_bind_plugins = [p for p in self.plugins if isinstance(p, PreBindPlugin)]
        self.bind_plugins = [p for p in self.plugins if isinstance(p, BindPlugin)]

    def events_to_plugins(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for p in self.plugins:
            for event in p.events:
                out.setdefault(event, set()).add(p.name)
        return out

    # -- scheduling cycle -----------------------------------------------------------------------------
    def run_pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        """None when every PreFilter passed (some may have asked to be skipped)."""
        for p in self.pre_filter_plugins:
            status = p.pre_filter(state, pod)
            if status is None or status.code == Code.SUCCESS:
                continue
            if status.code == Code.SKIP:
                state.skip_filter.add(p.name)
                continue
            return status.with_plugin(p.name)
        return None

    def active_filters(self, state: CycleState) -> list[FilterPlugin]:
        return [p for p in self.filter_plugins if p.name not in state.skip_filter]

    def run_filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                         rejected: dict[str, Status], filters: Iterable[FilterPlugin] | None = None) -> list[NodeInfo]:
        for p in self.active_filters(state) if filters is None else filters:
            if not nodes:
                break
            nodes = p.filter_nodes(state, pod, nodes, rejected)
        return nodes

    def run_filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        rejected: dict[str, Status] = {}
        self.run_filter_nodes(state, pod, [node], rejected)
        return rejected.get(node.name)

    def run_post_filter(self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis) -> Status | None:
        last = None
        for p in self.post_filter_plugins:
            status = p.post_filter(state, pod, diagnosis, self)
            if status is not None and status.code == Code.SUCCESS:
                return status
            last = status or last
        return last

    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        for p in self.pre_score_plugins:
            status = p.pre_score(state, pod, nodes)
            if status is None or status.code == Code.SUCCESS:
                continue
            if status.code == Code.SKIP:
                state.skip_score.add(p.name)
                continue
            return status.with_plugin(p.name)
        return None

    def run_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """Weighted sum of the normalized scores of every plugin, one total per node."""
        totals = [0] * len(nodes)
        for p, weight in self.score_plugins:
            if p.name in state.skip_score:
                continue
            scores = p.score_nodes(state, pod, nodes)
            p.normalize_scores(state, pod, nodes, scores)
            totals = [t + s * weight for t, s in zip(totals, scores, strict=True)]
        return totals

    def run_reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for i, p in enumerate(self.reserve_plugins):
            status = p.reserve(state, pod, node_name)
            if status is not None and status.code != Code.SUCCESS:
                for q in reversed(self.reserve_plugins[: i + 1]):
                    q.unreserve(state, pod, node_name)
                return status.with_plugin(p.name)
        return None

    def run_unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        for p in reversed(self.reserve_plugins):
            p.unreserve(state, pod, node_name)

    # -- binding cycle ---------------------------------------------------------------------------------
    def pre_bind_has_work(self, state: CycleState, pod: PodInfo, node_name: str) -> bool:
        for p in self.pre_bind_plugins:
            status = p.pre_bind_pre_flight(state, pod, node_name)
            if status is None or status.code != Code.SKIP:
                return True
        return False

    async def run_pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for p in self.pre_bind_plugins:
            status = await p.pre_bind(state, pod, node_name)
            if status is not None and status.code not in (Code.SUCCESS, Code.SKIP):
                return status.with_plugin(p.name)
        return None

    async def run_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for p in self.bind_plugins:
            status = await p.bind(state, pod, node_name)
            if status is not None and status.code == Code.SKIP:
                continue
            return None if status is None or status.code == Code.SUCCESS else status.with_plugin(p.name)
        return Status.error("no bind plugin bound the pod")


PluginFactory = Callable[[Handle], Plugin]
