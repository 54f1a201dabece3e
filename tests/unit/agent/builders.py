"""Small builders shared by the agent unit tests: pods, nodes, an injected clock, recorders."""

from __future__ import annotations

import copy
from decimal import Decimal

from podplane.agent.addresses import PodIPAllocator
from podplane.agent.pods import NodeHandle
from podplane.client.workqueue import WorkQueue

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


class Clock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingQueue(WorkQueue):
    """A work queue that remembers every delayed add instead of arming a timer."""

    def __init__(self) -> None:
        super().__init__("test")
        self.delayed: list[tuple[str, float]] = []

    def add_after(self, key, delay: float) -> None:
        self.delayed.append((key, delay))

    def rounded(self) -> list[tuple[str, float]]:
        return [(key, round(delay, 6)) for key, delay in self.delayed]


class EventLog:
    """Stands in for an EventRecorder: keeps (reason, message, fieldPath) tuples."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj: dict, event_type: str, reason: str, message: str, field_path: str = "") -> None:
        self.events.append((event_type, reason, message, field_path))

    def reasons(self) -> list[str]:
        return [e[1] for e in self.events]


def node_handle(name: str = "n1", *, block: int = 0, pods: int = 110, cpu: str = "4", memory: str = "16Gi",
                recorder: EventLog | None = None) -> NodeHandle:
    from podplane.api.validation import parse_quantity

    return NodeHandle(name, f"127.1.0.{block + 1}", PodIPAllocator(f"10.244.{block}.0/24"),
                      {"pods": Decimal(pods), "cpu": parse_quantity(cpu), "memory": parse_quantity(memory)},
                      recorder)


class PodBuilder:
    def __init__(self, name: str, node: str = "n1", namespace: str = "default") -> None:
        self.pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "resourceVersion": "1",
                         "generation": 1, "annotations": {}},
            "spec": {"nodeName": node, "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                     "containers": [{"name": "app", "image": "nginx"}]},
            "status": {"phase": "Pending", "qosClass": "BestEffort",
                       "conditions": [{"type": "PodScheduled", "status": "True",
                                       "lastTransitionTime": "2027-01-15T07:59:59Z"}]},
        }

    def annotate(self, **annotations: str) -> PodBuilder:
        for key, value in annotations.items():
            self.pod["metadata"]["annotations"][f"sim.podplane.io/{key.replace('_', '-')}"] = value
        return self

    def policy(self, policy: str) -> PodBuilder:
        self.pod["spec"]["restartPolicy"] = policy
        return self

    def containers(self, *names: str) -> PodBuilder:
        self.pod["spec"]["containers"] = [{"name": n, "image": "busybox"} for n in names]
        return self

    def init(self, *names: str, sidecar: bool = False) -> PodBuilder:
        inits = self.pod["spec"].setdefault("initContainers", [])
        for n in names:
            inits.append({"name": n, "image": "busybox", **({"restartPolicy": "Always"} if sidecar else {})})
        return self

    def requests(self, **resources: str) -> PodBuilder:
        for c in self.pod["spec"]["containers"]:
            c["resources"] = {"requests": dict(resources)}
        return self

    def deleting(self, grace: int = 30) -> PodBuilder:
        self.pod["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:30Z"
        self.pod["metadata"]["deletionGracePeriodSeconds"] = grace
        return self

    def status(self, **fields) -> PodBuilder:
        self.pod["status"].update(copy.deepcopy(fields))
        return self

    def obj(self) -> dict:
        return copy.deepcopy(self.pod)


def make_pod(name: str, node: str = "n1") -> PodBuilder:
    return PodBuilder(name, node)
