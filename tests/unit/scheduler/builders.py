"""Small builders shared by the scheduler unit tests: nodes, pods, a plugin harness."""

from __future__ import annotations

from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.scheduler.cache import Cache
from podplane.scheduler.framework import SKIP, Code, CycleState, Handle, PodInfo

WATCHED = [("", "pods"), ("", "nodes"), ("", "namespaces"), ("", "persistentvolumeclaims"),
           ("", "persistentvolumes"), ("storage.k8s.io", "storageclasses"), ("", "services"),
           ("", "replicationcontrollers"), ("apps", "replicasets"), ("apps", "statefulsets")]


def make_node(name: str, *, labels: dict | None = None, taints: list | None = None, cpu: str = "4",
              memory: str = "16Gi", pods: str = "110", unschedulable: bool = False, **allocatable) -> dict:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "resourceVersion": "1", "uid": f"uid-{name}",
                     "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": list(taints or []), **({"unschedulable": True} if unschedulable else {})},
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods, **allocatable}},
    }


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> dict:
    return {"key": key, "value": value, "effect": effect}


def make_pod(name: str, ns: str = "default", *, labels: dict | None = None, cpu: str | None = None,
             memory: str | None = None, node: str = "", host_ports: tuple[int, ...] = (), priority: int = 0,
             rv: str = "1", **spec) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container = {"name": "c", "image": "busybox"}
    if requests:
        container["resources"] = {"requests": requests}
    if host_ports:
        container["ports"] = [{"containerPort": p, "hostPort": p} for p in host_ports]
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{ns}-{name}", "resourceVersion": rv,
                     "creationTimestamp": "2026-01-01T00:00:00Z", "labels": dict(labels or {})},
        "spec": {"schedulerName": "default-scheduler", "containers": [container], **spec},
        "status": {"phase": "Pending"},
    }
    if node:
        pod["spec"]["nodeName"] = node
        pod["status"]["phase"] = "Running"
    if priority:
        pod["spec"]["priority"] = priority
    return pod


def affinity_term(labels: dict, topology_key: str = "kubernetes.io/hostname", **extra) -> dict:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": topology_key, **extra}


class Harness:
    """A cache, a handle with (unstarted) informers, and helpers to run one plugin."""

    def __init__(self) -> None:
        self.client = FakeClient()
        self.informers = InformerFactory(self.client)
        for group, plural in WATCHED:
            self.informers.resource(group, plural).replace([], "1")
        self.cache = Cache()
        self.handle = Handle(self.client, self.cache, self.informers)

    def nodes(self, *nodes: dict) -> list:
        return [self.cache.set_node(n) for n in nodes]

    def place(self, *pods: dict) -> None:
        for p in pods:
            self.cache.add_pod(PodInfo(p))

    def seed(self, group: str, plural: str, *objs: dict) -> None:
        informer = self.informers.resource(group, plural)
        informer.replace(informer.list() + list(objs), "2")

    def filter(self, plugin, pod: dict) -> dict[str, str | None]:
        """node name → "<code>: <reasons>" for rejections, None when the pod fits."""
        info = PodInfo(pod)
        state = CycleState()
        status = plugin.pre_filter(state, info) if hasattr(plugin, "pre_filter") else None
        nodes = self.cache.node_list
        if status is SKIP or (status is not None and status.code == Code.SKIP):
            return {n.name: None for n in nodes}
        if status is not None and status.code != Code.SUCCESS:
            return {n.name: f"prefilter {status.code.name}: {status.message}" for n in nodes}
        out = {}
        for n in nodes:
            s = plugin.filter(state, info, n)
            out[n.name] = None if s is None or s.code == Code.SUCCESS else f"{s.code.name}: {s.message}"
        return out

    def score(self, plugin, pod: dict, nodes: list[str] | None = None) -> dict[str, int] | None:
        """Normalized scores per node (before weights), or None when PreScore skipped."""
        info = PodInfo(pod)
        state = CycleState()
        feasible = [n for n in self.cache.node_list if nodes is None or n.name in nodes]
        if hasattr(plugin, "pre_filter"):
            plugin.pre_filter(state, info)
        if hasattr(plugin, "pre_score"):
            status = plugin.pre_score(state, info, feasible)
            if status is not None and status.code == Code.SKIP:
                return None
        scores = plugin.score_nodes(state, info, feasible)
        plugin.normalize_scores(state, info, feasible, scores)
        return {n.name: s for n, s in zip(feasible, scores, strict=True)}
