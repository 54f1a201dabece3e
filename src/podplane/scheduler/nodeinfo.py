"""Scheduler data model: parsed pods (`PodInfo`) and per-node aggregates (`NodeInfo`).

Pods and nodes arrive as JSON dicts from informers. Everything the plugins need on
the hot path is parsed once here and kept on slotted objects: resource requests as
integers (milli-CPU, bytes), host ports, tolerations, node-affinity matchers and
inter-pod affinity terms for pods; allocatable, requested and non-zero requested
resources, taints, used host ports, and the pods (indexed by namespace, and those
with affinity) for nodes. Request arithmetic follows upstream's
`resourcehelper.PodRequests`: containers are summed, init containers taken as the
maximum (restartable "sidecar" init containers add to both), then pod overhead.

Neighbours: `scheduler.cache` owns the NodeInfos and keeps them current;
`scheduler.framework` re-exports these types for plugins. Pure data, no I/O.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from podplane.api.errors import ApiError
from podplane.api.scheduling import (
    NodeSelectorMatcher,
    compile_term,
    find_untolerated_taint,
    required_node_affinity,
    toleration_tolerates_taint,
)
from podplane.api.selectors import NOTHING, LabelSelector, selector_from_dict
from podplane.api.validation import parse_quantity

__all__ = [
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "AffinityTerm",
    "NodeInfo",
    "NodeSelectorMatcher",
    "PodInfo",
    "Resource",
    "WeightedAffinityTerm",
    "compile_term",
    "milli_value",
    "pod_key",
    "pod_requests",
    "tolerates_taint",
    "untolerated_taint",
    "value",
    "zone_key",
]

# Upstream schedutil: requests assumed for containers without one when spreading load.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

_NATIVE = frozenset(("cpu", "memory", "ephemeral-storage", "pods", "storage"))
_ALL_IP = "0.0.0.0"


# -- quantities --------------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def value(quantity: Any) -> int:
    """resource.Quantity.Value(): the integer value, rounded up; 0 if malformed."""
    q = parse_quantity(quantity)
    return 0 if q is None else math.ceil(q)


@lru_cache(maxsize=4096)
def milli_value(quantity: Any) -> int:
    """resource.Quantity.MilliValue(): thousandths, rounded up; 0 if malformed."""
    q = parse_quantity(quantity)
    return 0 if q is None else math.ceil(q * 1000)


def pod_key(pod: dict) -> str:
    meta = pod["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


class Resource:
    """A resource vector: CPU in milli-cores, memory and ephemeral storage in bytes, pod
    slots, and scalar (extended, hugepages) resources by name."""

    __slots__ = ("allowed_pods", "ephemeral_storage", "memory", "milli_cpu", "scalars")

    def __init__(self, milli_cpu: int = 0, memory: int = 0, ephemeral_storage: int = 0, allowed_pods: int = 0,
                 scalars: dict[str, int] | None = None) -> None:
        self.milli_cpu = milli_cpu
        self.memory = memory
        self.ephemeral_storage = ephemeral_storage
        self.allowed_pods = allowed_pods
        self.scalars: dict[str, int] = scalars or {}

    @classmethod
    def from_list(cls, resources: dict | None) -> Resource:
        r = cls()
        r.add_list(resources)
        return r

    def add_list(self, resources: dict | None) -> None:
        for name, quantity in (resources or {}).items():
            if name == "cpu":
                self.milli_cpu += milli_value(quantity)
            elif name == "memory":
                self.memory += value(quantity)
            elif name == "ephemeral-storage":
                self.ephemeral_storage += value(quantity)
            elif name == "pods":
                self.allowed_pods += value(quantity)
            elif name not in _NATIVE:
                self.scalars[name] = self.scalars.get(name, 0) + value(quantity)

    def add(self, other: Resource, sign: int = 1) -> None:
        self.milli_cpu += sign * other.milli_cpu
        self.memory += sign * other.memory
        self.ephemeral_storage += sign * other.ephemeral_storage
        self.allowed_pods += sign * other.allowed_pods
        for name, q in other.scalars.items():
            self.scalars[name] = self.scalars.get(name, 0) + sign * q

    def set_max(self, other: Resource) -> None:
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)
        self.ephemeral_storage = max(self.ephemeral_storage, other.ephemeral_storage)
        for name, q in other.scalars.items():
            self.scalars[name] = max(self.scalars.get(name, 0), q)

    def copy(self) -> Resource:
        return Resource(self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pods, dict(self.scalars))

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalars.values()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resource) and (
            self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pods,
            {k: v for k, v in self.scalars.items() if v}) == (
            other.milli_cpu, other.memory, other.ephemeral_storage, other.allowed_pods,
            {k: v for k, v in other.scalars.items() if v})

    def __repr__(self) -> str:
        return (f"Resource(milli_cpu={self.milli_cpu}, memory={self.memory}, "
                f"ephemeral_storage={self.ephemeral_storage}, allowed_pods={self.allowed_pods}, "
                f"scalars={self.scalars})")


def _container_requests(container: dict, non_zero: bool) -> Resource:
    requests = (container.get("resources") or {}).get("requests") or {}
    r = Resource.from_list(requests)
    if non_zero:
        if "cpu" not in requests:
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST
        if "memory" not in requests:
            r.memory = DEFAULT_MEMORY_REQUEST
    return r


def pod_requests(spec: dict, *, non_zero: bool = False) -> Resource:
    """Upstream resourcehelper.PodRequests: what a pod reserves on its node.

    With `non_zero`, containers without a CPU or memory request count as 100m / 200Mi,
    the figures upstream's scoring uses so that best-effort pods still spread out.
    """
    total = Resource()
    for c in spec.get("containers") or ():
        total.add(_container_requests(c, non_zero))
    init_max = Resource()
    sidecars = Resource()
    for c in spec.get("initContainers") or ():
        r = _container_requests(c, non_zero)
        if c.get("restartPolicy") == "Always":
            # A sidecar keeps running next to the app containers: it adds to the sum, and
            # every later init container runs beside the sidecars started before it.
            total.add(r)
            sidecars.add(r)
            peak = sidecars.copy()
        else:
            peak = r
            peak.add(sidecars)
        init_max.set_max(peak)
    total.set_max(init_max)
    overhead = spec.get("overhead")
    if overhead:
        total.add(Resource.from_list(overhead))
    return total


# -- tolerations and node selectors (shared with the controllers; see podplane.api.scheduling) ----
tolerates_taint = toleration_tolerates_taint
untolerated_taint = find_untolerated_taint


# -- inter-pod affinity terms -------------------------------------------------------------------------
class AffinityTerm:
    """A parsed PodAffinityTerm (framework.AffinityTerm): which pods it selects, and where."""

    __slots__ = ("namespace_selector", "namespaces", "selector", "topology_key")

    def __init__(self, namespaces: frozenset[str], selector: LabelSelector, topology_key: str,
                 namespace_selector: LabelSelector) -> None:
        self.namespaces = namespaces
        self.selector = selector
        self.topology_key = topology_key
        self.namespace_selector = namespace_selector

    @classmethod
    def parse(cls, owner_namespace: str, term: dict) -> AffinityTerm:
        namespaces = term.get("namespaces") or []
        ns_selector_raw = term.get("namespaceSelector")
        if not namespaces and ns_selector_raw is None:
            namespaces = [owner_namespace]  # getNamespacesFromPodAffinityTerm
        return cls(frozenset(namespaces), selector_from_dict(term.get("labelSelector")),
                   term.get("topologyKey") or "",
                   NOTHING if ns_selector_raw is None else selector_from_dict(ns_selector_raw))

    def matches(self, pod: PodInfo, namespace_labels: dict | None) -> bool:
        if pod.namespace in self.namespaces or self.namespace_selector.matches(namespace_labels or {}):
            return self.selector.matches(pod.labels)
        return False

    def __repr__(self) -> str:
        return (f"AffinityTerm(namespaces={sorted(self.namespaces)}, selector={self.selector}, "
                f"topology_key={self.topology_key!r})")


class WeightedAffinityTerm:
    __slots__ = ("term", "weight")

    def __init__(self, weight: int, term: AffinityTerm) -> None:
        self.weight = weight
        self.term = term


# -- pods ------------------------------------------------------------------------------------------------
class PodInfo:
    """A pod parsed once for scheduling (framework.PodInfo)."""

    __slots__ = (
        "creation", "host_ports", "key", "labels", "name", "namespace", "node_name", "non_zero_cpu",
        "non_zero_memory", "parse_error", "pod", "preferred_affinity_terms", "preferred_anti_affinity_terms",
        "priority", "required_affinity_terms", "required_anti_affinity_terms", "requests", "spec",
        "terminating", "tolerations", "uid", "_node_matcher",
    )

    def __init__(self, pod: dict) -> None:
        meta = pod["metadata"]
        spec = pod.get("spec") or {}
        self.pod = pod
        self.spec = spec
        self.namespace: str = meta.get("namespace") or ""
        self.name: str = meta["name"]
        self.key = f"{self.namespace}/{self.name}"
        self.uid: str = meta.get("uid") or ""
        self.labels: dict = meta.get("labels") or {}
        self.creation: str = meta.get("creationTimestamp") or ""
        self.terminating = bool(meta.get("deletionTimestamp"))
        self.node_name: str = spec.get("nodeName") or ""
        self.priority: int = int(spec.get("priority") or 0)
        self.tolerations: list[dict] = spec.get("tolerations") or []
        self.requests = pod_requests(spec)
        non_zero = pod_requests(spec, non_zero=True)
        self.non_zero_cpu = non_zero.milli_cpu
        self.non_zero_memory = non_zero.memory
        self.host_ports = _host_ports(spec)
        self.parse_error: str = ""
        self._node_matcher: NodeSelectorMatcher | None = None
        self.required_affinity_terms: tuple[AffinityTerm, ...] = ()
        self.required_anti_affinity_terms: tuple[AffinityTerm, ...] = ()
        self.preferred_affinity_terms: tuple[WeightedAffinityTerm, ...] = ()
        self.preferred_anti_affinity_terms: tuple[WeightedAffinityTerm, ...] = ()
        affinity = spec.get("affinity") or {}
        if affinity.get("podAffinity") or affinity.get("podAntiAffinity"):
            try:
                self._parse_pod_affinity(affinity)
            except ApiError as e:
                self.parse_error = str(e)

    def _parse_pod_affinity(self, affinity: dict) -> None:
        ns = self.namespace
        aff = affinity.get("podAffinity") or {}
        anti = affinity.get("podAntiAffinity") or {}
        self.required_affinity_terms = tuple(
            AffinityTerm.parse(ns, t) for t in aff.get("requiredDuringSchedulingIgnoredDuringExecution") or ())
        self.required_anti_affinity_terms = tuple(
            AffinityTerm.parse(ns, t) for t in anti.get("requiredDuringSchedulingIgnoredDuringExecution") or ())
        self.preferred_affinity_terms = tuple(
            WeightedAffinityTerm(int(w.get("weight") or 0), AffinityTerm.parse(ns, w.get("podAffinityTerm") or {}))
            for w in aff.get("preferredDuringSchedulingIgnoredDuringExecution") or ())
        self.preferred_anti_affinity_terms = tuple(
            WeightedAffinityTerm(int(w.get("weight") or 0), AffinityTerm.parse(ns, w.get("podAffinityTerm") or {}))
            for w in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or ())

    @property
    def has_pod_affinity(self) -> bool:
        """Any pod affinity or anti-affinity, hard or soft (NodeInfo.PodsWithAffinity)."""
        return bool(self.required_affinity_terms or self.required_anti_affinity_terms
                    or self.preferred_affinity_terms or self.preferred_anti_affinity_terms)

    @property
    def node_matcher(self) -> NodeSelectorMatcher:
        if self._node_matcher is None:
            self._node_matcher = NodeSelectorMatcher(self.spec.get("nodeSelector"),
                                                     required_node_affinity(self.spec))
        return self._node_matcher

    def __repr__(self) -> str:
        return f"PodInfo({self.key})"


def _host_ports(spec: dict) -> tuple[tuple[str, str, int], ...]:
    ports = []
    containers = list(spec.get("containers") or ())
    containers += [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    for c in containers:
        for p in c.get("ports") or ():
            host_port = int(p.get("hostPort") or 0)
            if host_port > 0:
                ports.append((p.get("hostIP") or _ALL_IP, p.get("protocol") or "TCP", host_port))
    return tuple(ports)


# -- nodes -------------------------------------------------------------------------------------------------
class NodeInfo:
    """A node and what is placed on it (framework.NodeInfo). `node` is None for a
    "ghost" entry holding pods whose Node object has not been seen yet."""

    __slots__ = (
        "allocatable", "free_cpu", "free_memory", "free_pods", "generation", "hard_taints", "labels", "name", "node",
        "non_zero_cpu", "non_zero_memory", "pods", "pods_by_namespace", "pods_with_affinity", "pods_with_required_anti_affinity",
        "prefer_no_schedule_taints", "requested", "taints", "unschedulable", "used_ports", "zone",
    )

    def __init__(self, name: str, node: dict | None = None) -> None:
        self.name = name
        self.node: dict | None = None
        self.labels: dict = {}
        self.taints: tuple[dict, ...] = ()
        self.hard_taints: tuple[dict, ...] = ()
        self.prefer_no_schedule_taints: tuple[dict, ...] = ()
        self.unschedulable = False
        self.zone = ""
        self.allocatable = Resource()
        self.requested = Resource()
        self.non_zero_cpu = 0
        self.non_zero_memory = 0
        self.pods: dict[str, PodInfo] = {}
        self.pods_by_namespace: dict[str, dict[str, PodInfo]] = {}
        self.pods_with_affinity: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        self.used_ports: dict[str, dict[tuple[str, int], int]] = {}
        self.generation = 0
        self.free_cpu = self.free_memory = self.free_pods = 0
        """Allocatable minus requested, kept current for the resource filter's fast path."""
        if node is not None:
            self.set_node(node)

    def set_node(self, node: dict) -> None:
        self.node = node
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        self.labels = meta.get("labels") or {}
        self.taints = tuple(spec.get("taints") or ())
        self.hard_taints = tuple(t for t in self.taints if t.get("effect") in ("NoSchedule", "NoExecute"))
        self.prefer_no_schedule_taints = tuple(t for t in self.taints if t.get("effect") == "PreferNoSchedule")
        self.unschedulable = bool(spec.get("unschedulable"))
        self.allocatable = Resource.from_list((node.get("status") or {}).get("allocatable"))
        self.zone = zone_key(self.labels)
        self._refresh()

    def _refresh(self) -> None:
        self.free_cpu = self.allocatable.milli_cpu - self.requested.milli_cpu
        self.free_memory = self.allocatable.memory - self.requested.memory
        self.free_pods = self.allocatable.allowed_pods - len(self.pods)
        self.generation += 1

    def add_pod(self, pod: PodInfo) -> None:
        self.pods[pod.key] = pod
        self.pods_by_namespace.setdefault(pod.namespace, {})[pod.key] = pod
        if pod.has_pod_affinity:
            self.pods_with_affinity[pod.key] = pod
        if pod.required_anti_affinity_terms:
            self.pods_with_required_anti_affinity[pod.key] = pod
        self.requested.add(pod.requests)
        self.non_zero_cpu += pod.non_zero_cpu
        self.non_zero_memory += pod.non_zero_memory
        for ip, protocol, port in pod.host_ports:
            used = self.used_ports.setdefault(ip, {})
            used[(protocol, port)] = used.get((protocol, port), 0) + 1
        self._refresh()

    def remove_pod(self, key: str) -> PodInfo | None:
        pod = self.pods.pop(key, None)
        if pod is None:
            return None
        in_ns = self.pods_by_namespace.get(pod.namespace)
        if in_ns is not None:
            in_ns.pop(key, None)
            if not in_ns:
                del self.pods_by_namespace[pod.namespace]
        self.pods_with_affinity.pop(key, None)
        self.pods_with_required_anti_affinity.pop(key, None)
        self.requested.add(pod.requests, -1)
        self.non_zero_cpu -= pod.non_zero_cpu
        self.non_zero_memory -= pod.non_zero_memory
        for ip, protocol, port in pod.host_ports:
            used = self.used_ports.get(ip)
            if used and (protocol, port) in used:
                used[(protocol, port)] -= 1
                if used[(protocol, port)] <= 0:
                    del used[(protocol, port)]
                if not used:
                    del self.used_ports[ip]
        self._refresh()
        return pod

    def port_conflict(self, ip: str, protocol: str, port: int) -> bool:
        """HostPortInfo.CheckConflict: 0.0.0.0 conflicts with every address."""
        pp = (protocol, port)
        if ip == _ALL_IP:
            return any(pp in used for used in self.used_ports.values())
        return pp in self.used_ports.get(_ALL_IP, ()) or pp in self.used_ports.get(ip, ())

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)})"


def zone_key(labels: dict) -> str:
    """utilnode.GetZoneKey: region and zone, or "" for nodes without either label."""
    region = labels.get("topology.kubernetes.io/region") or labels.get("failure-domain.beta.kubernetes.io/region", "")
    zone = labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone", "")
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"
