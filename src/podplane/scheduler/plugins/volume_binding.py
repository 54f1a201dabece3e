"""VolumeBinding (simplified): a pod's PersistentVolumeClaims decide where it may run.

PreFilter: every claim the pod uses (persistentVolumeClaim volumes, and the
`<pod>-<volume>` claims of generic ephemeral volumes) must exist and not be
terminating; an unbound claim whose StorageClass binds Immediately makes the pod
wait ("pod has unbound immediate PersistentVolumeClaims"). Claims without a class
use the default StorageClass, as the DefaultStorageClass admission would have set.

Filter: a bound claim's PersistentVolume nodeAffinity must match the node ("node(s)
had volume node affinity conflict"). An unbound WaitForFirstConsumer claim needs an
Available PV that matches it (class, size, access modes, selector, node affinity) or
a class that provisions dynamically with allowedTopologies matching the node ("node(s)
didn't find available persistent volumes to bind").

Reserve remembers the choice for the node; PreBind writes it: a static PV gets
`spec.claimRef` (the PV controller completes the binding), a claim to provision gets
the `volume.kubernetes.io/selected-node` annotation (the provisioner creates the
volume there). PreBind then waits, up to `bind_timeout` seconds, until every claim is
Bound, as upstream does before binding the pod.
"""

from __future__ import annotations

import asyncio
import time

from podplane.api.errors import ApiError
from podplane.api.scheduling import compile_term
from podplane.api.selectors import selector_from_dict
from podplane.api.storageclass import ANN_DEFAULT_CLASS, default_class
from podplane.scheduler.framework import (
    NODE_ADD,
    NODE_LABEL,
    PV_CHANGE,
    PVC_CHANGE,
    SKIP,
    STORAGE_CLASS_CHANGE,
    CycleState,
    FilterPlugin,
    Handle,
    NodeInfo,
    PodInfo,
    PreBindPlugin,
    PreFilterPlugin,
    ReservePlugin,
    Status,
)
from podplane.scheduler.nodeinfo import value

__all__ = ["BIND_CONFLICT_REASON", "NAME", "NODE_CONFLICT_REASON", "SELECTED_NODE_ANNOTATION", "VolumeBinding",
           "new"]

NAME = "VolumeBinding"
SELECTED_NODE_ANNOTATION = "volume.kubernetes.io/selected-node"
DEFAULT_CLASS_ANNOTATION = ANN_DEFAULT_CLASS
NO_PROVISIONER = "kubernetes.io/no-provisioner"
UNBOUND_IMMEDIATE_REASON = "pod has unbound immediate PersistentVolumeClaims"
NODE_CONFLICT_REASON = "node(s) had volume node affinity conflict"
BIND_CONFLICT_REASON = "node(s) didn't find available persistent volumes to bind"
BIND_TIMEOUT = 600.0

_NODE_CONFLICT = Status.unresolvable(NODE_CONFLICT_REASON, plugin=NAME)
_BIND_CONFLICT = Status.unresolvable(BIND_CONFLICT_REASON, plugin=NAME)
_STATE_KEY = "PreFilter" + NAME
_RESERVED_KEY = "Reserve" + NAME


def _node_selector_matches(selector: dict | None, node: NodeInfo) -> bool:
    """A required NodeSelector (terms ORed); None matches every node."""
    if not selector:
        return True
    terms = [compile_term(t) for t in selector.get("nodeSelectorTerms") or ()]
    return any(t is not None and t.matches(node.labels, node.name) for t in terms)


def _topology_matches(allowed: list[dict] | None, node: NodeInfo) -> bool:
    """StorageClass.allowedTopologies: any term whose label requirements all hold."""
    if not allowed:
        return True
    for term in allowed:
        if all(node.labels.get(e.get("key")) in (e.get("values") or ())
               for e in term.get("matchLabelExpressions") or ()):
            return True
    return False


def _is_bound(pvc: dict) -> bool:
    return bool((pvc.get("spec") or {}).get("volumeName")) and (pvc.get("status") or {}).get("phase") == "Bound"


class _Claims:
    __slots__ = ("bound_pvs", "decisions", "delayed")

    def __init__(self) -> None:
        self.bound_pvs: list[dict] = []
        self.delayed: list[tuple[dict, dict]] = []  # (claim, its StorageClass)
        self.decisions: dict[str, list[tuple[dict, dict | None]]] = {}  # node → [(claim, static PV or None)]


class VolumeBinding(PreFilterPlugin, FilterPlugin, ReservePlugin, PreBindPlugin):
    name = NAME
    events = frozenset({NODE_ADD, NODE_LABEL, PVC_CHANGE, PV_CHANGE, STORAGE_CLASS_CHANGE})

    def __init__(self, handle: Handle, *, bind_timeout: float = BIND_TIMEOUT) -> None:
        self.handle = handle
        self.bind_timeout = bind_timeout
        self._pvcs = handle.informer("", "persistentvolumeclaims")
        self._pvs = handle.informer("", "persistentvolumes")
        self._classes = handle.informer("storage.k8s.io", "storageclasses")
        self._assumed_pvs: dict[str, str] = {}  # PV name → claim key chosen for it, until bound
        self._claim_changed = asyncio.Event()
        self._pvcs.add_handler(on_update=lambda old, new: self._claim_changed.set())

    # -- reading claims ------------------------------------------------------------------------------
    @staticmethod
    def claim_names(pod: PodInfo) -> list[tuple[str, bool]]:
        out = []
        for volume in pod.spec.get("volumes") or ():
            if volume.get("persistentVolumeClaim"):
                out.append((volume["persistentVolumeClaim"].get("claimName", ""), False))
            elif volume.get("ephemeral"):
                out.append((f"{pod.name}-{volume.get('name', '')}", True))
        return out

    def storage_class(self, pvc: dict) -> dict | None:
        name = (pvc.get("spec") or {}).get("storageClassName")
        if name:
            return self._classes.get(None, name)
        if name is None:
            return default_class(self._classes.list())
        return None

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        names = self.claim_names(pod)
        if not names:
            return SKIP
        claims = _Claims()
        for name, ephemeral in names:
            pvc = self._pvcs.get(pod.namespace, name)
            if pvc is None:
                if ephemeral:
                    return Status.unresolvable(f'waiting for ephemeral volume controller to create the '
                                               f'persistentvolumeclaim "{name}"', plugin=NAME)
                return Status.unresolvable(f'persistentvolumeclaim "{name}" not found', plugin=NAME)
            if pvc["metadata"].get("deletionTimestamp"):
                return Status.unresolvable(f'persistentvolumeclaim "{name}" is being deleted', plugin=NAME)
            volume_name = (pvc.get("spec") or {}).get("volumeName")
            if volume_name:
                pv = self._pvs.get(None, volume_name)
                if pv is None:
                    return Status.unresolvable("node(s) unavailable due to one or more pvc(s) bound to "
                                               "non-existent pv(s)", plugin=NAME)
                claims.bound_pvs.append(pv)
                continue
            cls = self.storage_class(pvc)
            if cls is None or cls.get("volumeBindingMode") != "WaitForFirstConsumer":
                return Status.unresolvable(UNBOUND_IMMEDIATE_REASON, plugin=NAME)
            claims.delayed.append((pvc, cls))
        state.write(_STATE_KEY, claims)
        return None

    # -- filtering -------------------------------------------------------------------------------------
    def _matching_pv(self, pvc: dict, cls: dict, node: NodeInfo, taken: set[str]) -> dict | None:
        """The smallest Available PV of the claim's class that satisfies it on `node`."""
        spec = pvc.get("spec") or {}
        key = f"{pvc['metadata'].get('namespace')}/{pvc['metadata']['name']}"
        wanted = value(((spec.get("resources") or {}).get("requests") or {}).get("storage", 0))
        modes = set(spec.get("accessModes") or ())
        mode = spec.get("volumeMode") or "Filesystem"
        selector = selector_from_dict(spec["selector"]) if spec.get("selector") else None
        best, best_size = None, None
        for pv in self._pvs.list():
            pv_spec = pv.get("spec") or {}
            name = pv["metadata"]["name"]
            if pv_spec.get("storageClassName", "") != cls["metadata"]["name"] or name in taken:
                continue
            if pv["metadata"].get("deletionTimestamp"):
                continue
            ref = pv_spec.get("claimRef")
            if ref and (ref.get("namespace"), ref.get("name")) != (pvc["metadata"].get("namespace"),
                                                                    pvc["metadata"]["name"]):
                continue
            if not ref and (pv.get("status") or {}).get("phase", "Available") != "Available":
                continue
            if self._assumed_pvs.get(name, key) != key:
                continue
            size = value((pv_spec.get("capacity") or {}).get("storage", 0))
            if size < wanted or not modes <= set(pv_spec.get("accessModes") or ()):
                continue
            if (pv_spec.get("volumeMode") or "Filesystem") != mode:
                continue
            if selector is not None and not selector.matches(pv["metadata"].get("labels") or {}):
                continue
            if not _node_selector_matches((pv_spec.get("nodeAffinity") or {}).get("required"), node):
                continue
            if best is None or size < best_size:
                best, best_size = pv, size
        return best

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        claims: _Claims | None = state.read(_STATE_KEY)
        if claims is None:
            return None
        for pv in claims.bound_pvs:
            if not _node_selector_matches(((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required"), node):
                return _NODE_CONFLICT
        decisions: list[tuple[dict, dict | None]] = []
        taken: set[str] = set()
        for pvc, cls in claims.delayed:
            pv = self._matching_pv(pvc, cls, node, taken)
            if pv is not None:
                taken.add(pv["metadata"]["name"])
                decisions.append((pvc, pv))
            elif cls.get("provisioner", NO_PROVISIONER) != NO_PROVISIONER and _topology_matches(
                    cls.get("allowedTopologies"), node):
                decisions.append((pvc, None))
            else:
                return _BIND_CONFLICT
        if decisions:
            claims.decisions[node.name] = decisions
        return None

    # -- reserve and bind ----------------------------------------------------------------------------------
    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        claims: _Claims | None = state.read(_STATE_KEY)
        decisions = claims.decisions.get(node_name, []) if claims else []
        for pvc, pv in decisions:
            if pv is not None:
                self._assumed_pvs[pv["metadata"]["name"]] = f"{pvc['metadata'].get('namespace')}/{pvc['metadata']['name']}"
        state.write(_RESERVED_KEY, decisions)
        return None

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        for _, pv in state.read(_RESERVED_KEY) or ():
            if pv is not None:
                self._assumed_pvs.pop(pv["metadata"]["name"], None)

    def pre_bind_pre_flight(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        return None if state.read(_RESERVED_KEY) else SKIP

    async def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        decisions = state.read(_RESERVED_KEY) or []
        if not decisions:
            return None
        client = self.handle.client
        pvs = client.resource("", "persistentvolumes")
        pvcs = client.resource("", "persistentvolumeclaims")
        try:
            for pvc, pv in decisions:
                meta = pvc["metadata"]
                if pv is not None:
                    ref = {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": meta.get("namespace"),
                           "name": meta["name"], "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}
                    await client.patch(pvs, pv["metadata"]["name"], {
                        "metadata": {"annotations": {"pv.kubernetes.io/bound-by-controller": "yes"}},
                        "spec": {"claimRef": ref}})
                else:
                    await client.patch(pvcs, meta["name"], {"metadata": {"annotations": {
                        SELECTED_NODE_ANNOTATION: node_name}}}, meta.get("namespace"))
        except ApiError as e:
            return Status.error(f"binding volumes: {e}")
        keys = [(pvc["metadata"].get("namespace"), pvc["metadata"]["name"]) for pvc, _ in decisions]
        deadline = time.monotonic() + self.bind_timeout
        while True:
            current = [self._pvcs.get(ns, name) for ns, name in keys]
            if any(c is None for c in current):
                return Status.error("binding volumes: a PersistentVolumeClaim was deleted")
            if all(_is_bound(c) for c in current):
                for _, pv in decisions:
                    if pv is not None:
                        self._assumed_pvs.pop(pv["metadata"]["name"], None)
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Status.error("binding volumes: timed out waiting for the condition")
            self._claim_changed.clear()
            try:
                await asyncio.wait_for(self._claim_changed.wait(), min(remaining, 1.0))
            except TimeoutError:
                pass


def new(handle: Handle) -> VolumeBinding:
    return VolumeBinding(handle)
