"""Node registration and status: the Node objects of the agent's (simulated) nodes.

`build_node` shapes a Node the way the kubelet registers one: labels
(`kubernetes.io/hostname`, `kubernetes.io/os`, `kubernetes.io/arch`, their `beta.`
twins, `node.kubernetes.io/instance-type=podplane-fake` and the `--node-label`s),
the kubelet's annotations, `spec.podCIDR(s)` (the node's fake pod block, see
`agent.addresses`), capacity = allocatable (cpu, memory, pods, ephemeral-storage,
hugepages), the four conditions with upstream reasons and messages (MemoryPressure,
DiskPressure, PIDPressure False; Ready True, KubeletReady), InternalIP and Hostname
addresses, nodeInfo and the kubelet's daemon endpoint.

`NodeStatusManager` registers nodes (create, or adopt an existing Node after a
restart: labels and status reconciled, its pod block kept), sends a heartbeat (the
conditions' `lastHeartbeatTime`) every `status_update_interval`, and re-sends the
status at once when the API shows something else than the agent reports (another
writer set Ready=Unknown, someone edited capacity), like the kubelet's periodic
comparison. Lease renewal, the frequent liveness signal, is `agent.lease`.
"""

from __future__ import annotations

import logging
import os
import platform
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from podplane.api.errors import ApiError
from podplane.api.meta import format_time
from podplane.api.validation import is_qualified_name, is_valid_label_value
from podplane.client.transport import TransportError

__all__ = [
    "KUBELET_VERSION",
    "NodeStatusManager",
    "SimulatedNode",
    "build_node",
    "desired_status",
    "node_info",
    "parse_node_labels",
    "status_patch",
]

log = logging.getLogger(__name__)

KUBELET_VERSION = "v1.37.0-podplane"
KUBELET_PORT = 10250
EPHEMERAL_STORAGE = "100Gi"
"""Simulated ephemeral storage per node (no setting: nothing is ever written there)."""
INSTANCE_TYPE = "podplane-fake"

_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)
_COMPARED = ("capacity", "allocatable", "addresses", "nodeInfo", "daemonEndpoints")


@dataclass(frozen=True)
class SimulatedNode:
    name: str
    block: int
    internal_ip: str
    pod_cidr: str
    """"" while the server has not handed the node a pod CIDR yet (real nodes)."""
    simulated: bool = True
    """False for the host the agent runs on (runc runtime): real OS image and machine id."""


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
            "s390x": "s390x"}.get(machine, machine or "amd64")


def parse_node_labels(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`key=value` strings (`--node-label`) → labels; ValueError names the bad one."""
    labels: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"node label {item!r} is not key=value")
        if is_qualified_name(key) or is_valid_label_value(value):
            raise ValueError(f"node label {item!r} is invalid: "
                             f"{'; '.join(is_qualified_name(key) + is_valid_label_value(value))}")
        labels[key] = value
    return labels


def _os_image() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _machine_id(name: str) -> uuid.UUID:
    try:
        with open("/etc/machine-id") as f:
            return uuid.UUID(f.read().strip())
    except (OSError, ValueError):
        return uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.nodes.podplane")


def node_info(name: str, runtime_version: str, boot_id: str, simulated: bool = True) -> dict:
    machine = uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.nodes.podplane") if simulated else _machine_id(name)
    return {
        "architecture": _arch(), "bootID": boot_id, "containerRuntimeVersion": runtime_version,
        "kernelVersion": os.uname().release, "kubeProxyVersion": "", "kubeletVersion": KUBELET_VERSION,
        "machineID": machine.hex, "operatingSystem": "linux", "osImage": "podplane simulated node" if simulated else _os_image(),
        "systemUUID": str(machine),
    }


def _time(seconds: float) -> str:
    return format_time(datetime.fromtimestamp(seconds, UTC))


def desired_status(node: SimulatedNode, capacity: dict[str, str], info: dict, now: float,
                   current: dict | None = None, *, kubelet_port: int = KUBELET_PORT) -> dict:
    """The status the agent reports for `node` at `now`; transition times kept from `current`.
    `kubelet_port`: where the agent's kubelet API (`agent.server`) listens, for the API server."""
    old = {c.get("type"): c for c in (current or {}).get("conditions") or []}
    stamp = _time(now)
    conditions = []
    for kind, status, reason, message in _CONDITIONS:
        before = old.get(kind)
        same = before is not None and before.get("status") == status and before.get("lastTransitionTime")
        conditions.append({"type": kind, "status": status, "lastHeartbeatTime": stamp,
                           "lastTransitionTime": before["lastTransitionTime"] if same else stamp,
                           "reason": reason, "message": message})
    return {
        "capacity": dict(capacity), "allocatable": dict(capacity),
        "conditions": conditions,
        "addresses": [{"type": "InternalIP", "address": node.internal_ip},
                      {"type": "Hostname", "address": node.name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        "nodeInfo": dict(info),
    }


def default_labels(name: str, simulated: bool = True) -> dict[str, str]:
    arch = _arch()
    return {"beta.kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
            "node.kubernetes.io/instance-type": INSTANCE_TYPE if simulated else "podplane"}


ANNOTATIONS = {"node.alpha.kubernetes.io/ttl": "0",
               "volumes.kubernetes.io/controller-managed-attach-detach": "true"}


def build_node(node: SimulatedNode, *, labels: dict[str, str], capacity: dict[str, str], info: dict,
               now: float, kubelet_port: int = KUBELET_PORT) -> dict:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": node.name, "labels": {**default_labels(node.name, node.simulated), **labels},
                     "annotations": dict(ANNOTATIONS)},
        "spec": {"podCIDR": node.pod_cidr, "podCIDRs": [node.pod_cidr]} if node.pod_cidr else {},
        "status": desired_status(node, capacity, info, now, kubelet_port=kubelet_port),
    }


def _condition_key(c: dict) -> tuple:
    return c.get("status"), c.get("reason"), c.get("message")


def status_patch(current: dict, desired: dict, *, heartbeat: bool) -> dict | None:
    """The status patch that makes `current` what the agent reports, or None when it already is.

    Heartbeat times alone are not a difference unless `heartbeat` (then the conditions are
    always sent, to refresh lastHeartbeatTime).
    """
    patch = {k: desired[k] for k in _COMPARED if current.get(k) != desired.get(k)}
    old = {c.get("type"): c for c in current.get("conditions") or []}
    changed = any(_condition_key(old.get(c["type"]) or {}) != _condition_key(c) for c in desired["conditions"])
    if changed or heartbeat:
        patch["conditions"] = desired["conditions"]
    return patch or None


class NodeStatusManager:
    """Registers the agent's nodes and keeps their status reported; see the module docstring."""

    def __init__(self, client, nodes: list[SimulatedNode], *, labels: dict[str, str], capacity: dict[str, str],
                 runtime_version: str, clock: Callable[[], float] = time.time,
                 recorders: dict[str, object] | None = None, kubelet_port: int = KUBELET_PORT) -> None:
        self.client = client
        self.kubelet_port = kubelet_port
        self.nodes = {n.name: n for n in nodes}
        self.labels = labels
        self.capacity = capacity
        self.clock = clock
        self.recorders = recorders or {}
        self.info = client.resource("", "nodes")
        boot_id = str(uuid.uuid4())  # one boot per agent process
        self._node_info = {n.name: node_info(n.name, runtime_version, boot_id, n.simulated) for n in nodes}
        self._current: dict[str, dict] = {}

    def uid(self, name: str) -> str:
        return ((self._current.get(name) or {}).get("metadata") or {}).get("uid", "")

    def observe(self, node: dict) -> None:
        """Remember the API's view of one of our nodes (from an informer or a response)."""
        name = node["metadata"]["name"]
        if name in self.nodes:
            self._current[name] = node

    def forget(self, node: dict) -> None:
        self._current.pop(node["metadata"]["name"], None)

    def needs_report(self, name: str) -> bool:
        """True when the API's status of `name` differs from what the agent reports."""
        current = self._current.get(name)
        if current is None:
            return False
        desired = desired_status(self.nodes[name], self.capacity, self._node_info[name], self.clock(),
                                 current.get("status"), kubelet_port=self.kubelet_port)
        return status_patch(current.get("status") or {}, desired, heartbeat=False) is not None

    # -- registration ------------------------------------------------------------------------
    async def register(self, name: str, existing: dict | None) -> dict:
        """Create the Node, or reconcile an existing one (labels, annotations, pod CIDR, status)."""
        node = self.nodes[name]
        now = self.clock()
        if existing is None:
            try:
                created = await self.client.create(self.info, build_node(
                    node, labels=self.labels, capacity=self.capacity, info=self._node_info[name], now=now,
                    kubelet_port=self.kubelet_port))
            except ApiError as e:
                if e.code != 409:
                    raise
                existing = await self.client.get(self.info, name)
            else:
                self._current[name] = created
                self._registered_events(name, was_ready=False)
                return created
        meta_patch: dict = {"metadata": {"labels": {**default_labels(name, node.simulated), **self.labels},
                                         "annotations": dict(ANNOTATIONS)}}
        if node.pod_cidr and not (existing.get("spec") or {}).get("podCIDR"):
            meta_patch["spec"] = {"podCIDR": node.pod_cidr, "podCIDRs": [node.pod_cidr]}
        updated = await self.client.patch(self.info, name, meta_patch, patch_type="strategic")
        was_ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in (existing.get("status") or {}).get("conditions") or [])
        desired = desired_status(node, self.capacity, self._node_info[name], now, existing.get("status"),
                                 kubelet_port=self.kubelet_port)
        patch = status_patch(existing.get("status") or {}, desired, heartbeat=True)
        if patch:
            updated = await self.client.patch(self.info, name, {"status": patch}, patch_type="strategic",
                                              subresource="status")
        self._current[name] = updated
        self._registered_events(name, was_ready=was_ready)
        return updated

    def _registered_events(self, name: str, *, was_ready: bool) -> None:
        recorder = self.recorders.get(name)
        if recorder is None:
            return
        ref = {"kind": "Node", "metadata": {"name": name, "uid": name}}  # upstream's nodeRef: uid = name
        recorder.event(ref, "Normal", "Starting", "Starting kubelet.")
        if was_ready:
            return
        for reason in ("NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"):
            recorder.event(ref, "Normal", reason, f"Node {name} status is now: {reason}")
        recorder.event(ref, "Normal", "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")
        recorder.event(ref, "Normal", "NodeReady", f"Node {name} status is now: NodeReady")

    # -- reports -----------------------------------------------------------------------------
    async def report(self, name: str, *, heartbeat: bool = True) -> bool:
        """Send the node's status if it differs (or, with `heartbeat`, anyway). False on failure."""
        current = self._current.get(name)
        status = (current or {}).get("status") or {}
        desired = desired_status(self.nodes[name], self.capacity, self._node_info[name], self.clock(), status,
                                 kubelet_port=self.kubelet_port)
        patch = status_patch(status, desired, heartbeat=heartbeat)
        if patch is None:
            return True
        try:
            updated = await self.client.patch(self.info, name, {"status": patch}, patch_type="strategic",
                                              subresource="status")
        except ApiError as e:
            if e.code == 404:  # deleted: as upstream, the agent does not register it again
                log.warning("node %s: the Node object was deleted; restart the agent to register it again",
                            name)
                self._current.pop(name, None)
                return True
            log.warning("node %s: status update failed: %s", name, e)
            return False
        except TransportError as e:
            log.warning("node %s: status update failed: %s", name, e)
            return False
        self._current[name] = updated
        return True
