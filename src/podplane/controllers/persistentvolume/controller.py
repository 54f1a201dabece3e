"""PersistentVolume controller: binds claims to volumes, provisions local-path volumes and reclaims
released ones (upstream `pkg/controller/volume/persistentvolume` + rancher local-path-provisioner).

Informers: persistentvolumes, persistentvolumeclaims, storageclasses, pods (indexed by the
claims they mount) and nodes (labels for node affinity). One queue carries two kinds of
keys, `claim:<ns>/<name>` and `volume:<name>`, like upstream's two queues; a volume event
also wakes its claim, a claim deletion its volume, a scheduled pod its pending claims.

- claim sync: an unbound claim gets the best matching volume (`binding.find_best_match`) or,
  failing that, the default class (assigned retroactively) and a provisioned volume. With
  WaitForFirstConsumer that waits for a consumer pod on a node: the scheduler's
  `volume.kubernetes.io/selected-node`, or else the node a pod using the claim was bound to.
  Binding writes volume.claimRef → volume phase Bound → claim.volumeName and the
  `pv.kubernetes.io/bind-completed` annotations → claim phase Bound with capacity.
  A bound claim whose volume vanished or went elsewhere becomes Lost.
- volume sync: no claimRef → Available; its claim gone → Released, then the reclaim policy:
  Retain keeps it, Delete removes volumes this provisioner made (the node agent removes
  the directory), anything else Failed.
- `run()`: ensures a default StorageClass (`local-path`) at start, then resyncs every
  `RESYNC_PERIOD` seconds as upstream's binder does.
"""

from __future__ import annotations

import asyncio
import logging

from podplane.api.errors import ApiError
from podplane.api.meta import deepcopy_json
from podplane.client.informer import key_of
from podplane.client.workqueue import WorkQueue
from podplane.controllers.persistentvolume.binding import (
    ANN_BETA_STORAGE_CLASS,
    ANN_BETA_STORAGE_PROVISIONER,
    ANN_BIND_COMPLETED,
    ANN_BOUND_BY_CONTROLLER,
    ANN_PROVISIONED_BY,
    ANN_SELECTED_NODE,
    ANN_STORAGE_PROVISIONER,
    claim_class,
    claim_ref_to,
    default_class,
    find_best_match,
    is_bound_to,
    is_default_class,
    volume_mismatch,
)
from podplane.controllers.persistentvolume.localpath import (
    PROVISIONER,
    default_storage_class,
    local_path_volume,
)

__all__ = ["PersistentVolumeController", "RESYNC_PERIOD", "new"]

log = logging.getLogger(__name__)

RESYNC_PERIOD = 15.0
"""Seconds between full re-syncs (upstream --pvclaimbinder-sync-period default)."""
CLAIMS_INDEX = "persistentvolume/claims"


def _claims_of_pod(pod: dict) -> list[str]:
    """`namespace/claim` for each PVC the pod mounts (ephemeral volumes included)."""
    meta = pod["metadata"]
    keys = []
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        if (volume.get("persistentVolumeClaim") or {}).get("claimName"):
            keys.append(f"{meta.get('namespace')}/{volume['persistentVolumeClaim']['claimName']}")
        elif volume.get("ephemeral"):
            keys.append(f"{meta.get('namespace')}/{meta['name']}-{volume['name']}")
    return keys


def _rv(obj: dict) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


class _Latest:
    """An informer's cache overlaid with this controller's own writes (upstream storeObjectUpdate).

    A binding is several writes in a row and each one triggers another sync; reading the
    informer alone, that sync would often see the object from before our last write and fail
    with a conflict. Whichever copy has the higher resourceVersion wins.
    """

    def __init__(self, informer) -> None:
        self.informer = informer
        self._written: dict[str, dict] = {}

    def get(self, key: str) -> dict | None:
        cached = self.informer.get_by_key(key)
        written = self._written.get(key)
        if written is None:
            return cached
        if cached is not None and _rv(cached) >= _rv(written):
            del self._written[key]
            return cached
        return written

    def list(self) -> list[dict]:
        objs = {key_of(o): o for o in self.informer.list()}
        for key in list(self._written):
            latest = self.get(key)
            if latest is not None:
                objs[key] = latest
        return list(objs.values())

    def remember(self, obj: dict) -> dict:
        self._written[key_of(obj)] = obj
        return obj

    def forget(self, obj: dict) -> None:
        self._written.pop(key_of(obj), None)


class PersistentVolumeController:
    name = "persistentvolume"

    def __init__(self, *, client, informers, recorder, local_path_root: str, workers: int = 4,
                 resync_period: float = RESYNC_PERIOD) -> None:
        self.client = client
        self.recorder = recorder
        self.local_path_root = local_path_root
        self.workers = workers
        self.resync_period = resync_period
        self.queue = WorkQueue(self.name)
        self.volume_informer = informers.resource("", "persistentvolumes")
        self.claim_informer = informers.resource("", "persistentvolumeclaims")
        self.volumes = _Latest(self.volume_informer)
        self.claims = _Latest(self.claim_informer)
        self.classes = informers.resource("storage.k8s.io", "storageclasses")
        self.pods = informers.resource("", "pods")
        self.nodes = informers.resource("", "nodes")
        self.pods.add_indexer(CLAIMS_INDEX, _claims_of_pod)
        self.pv_info = client.resource("", "persistentvolumes")
        self.pvc_info = client.resource("", "persistentvolumeclaims")
        self.sc_info = client.resource("storage.k8s.io", "storageclasses")
        # the apiserver may refuse setting storageClassName on an existing claim (no retroactive
        # default class support): then claims without a class are provisioned in the default one
        self._retroactive_refused = False
        self.volume_informer.add_handler(self._on_volume, lambda old, new: self._on_volume(new),
                                         self._on_volume_delete)
        self.claim_informer.add_handler(self._on_claim, lambda old, new: self._on_claim(new), self._on_claim_delete)
        self.classes.add_handler(self._on_class, lambda old, new: self._on_class(new))
        self.pods.add_handler(self._on_pod, lambda old, new: self._on_pod(new))

    # -- event handlers ------------------------------------------------------------------------
    def _on_volume(self, volume: dict) -> None:
        self.queue.add(f"volume:{volume['metadata']['name']}")
        ref = (volume.get("spec") or {}).get("claimRef")
        if ref and ref.get("name"):
            self.queue.add(f"claim:{ref.get('namespace')}/{ref['name']}")

    def _on_volume_delete(self, volume: dict) -> None:
        self.volumes.forget(volume)
        self._on_volume(volume)

    def _on_claim(self, claim: dict) -> None:
        meta = claim["metadata"]
        self.queue.add(f"claim:{meta.get('namespace')}/{meta['name']}")

    def _on_claim_delete(self, claim: dict) -> None:
        self.claims.forget(claim)
        name = (claim.get("spec") or {}).get("volumeName")
        if name:
            self.queue.add(f"volume:{name}")

    def _on_class(self, _sclass: dict) -> None:
        for claim in self.claims.list():
            if (claim.get("status") or {}).get("phase") != "Bound":
                self._on_claim(claim)

    def _on_pod(self, pod: dict) -> None:
        if not (pod.get("spec") or {}).get("nodeName"):
            return
        for key in _claims_of_pod(pod):
            claim = self.claims.get(key)
            if claim is not None and not (claim.get("spec") or {}).get("volumeName"):
                self.queue.add(f"claim:{key}")

    # -- periodic work -------------------------------------------------------------------------
    async def run(self) -> None:
        await self.ensure_default_class()
        while True:
            await asyncio.sleep(self.resync_period)
            for volume in self.volumes.list():
                self.queue.add(f"volume:{volume['metadata']['name']}")
            for claim in self.claims.list():
                self._on_claim(claim)

    async def ensure_default_class(self) -> None:
        """Install the local-path class as the default unless some class already is the default."""
        if any(is_default_class(c) for c in self.classes.list()):
            return
        try:
            await self.client.create(self.sc_info, default_storage_class())
            log.info("created the default StorageClass %s", default_storage_class()["metadata"]["name"])
        except ApiError as e:
            if e.reason != "AlreadyExists":
                raise

    # -- sync ----------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        kind, _, rest = key.partition(":")
        if kind == "claim":
            claim = self.claims.get(rest)
            if claim is not None:
                await self._sync_claim(claim)
        elif kind == "volume":
            volume = self.volumes.get(rest)
            if volume is not None:
                await self._sync_volume(volume)

    def event(self, obj: dict, event_type: str, reason: str, message: str) -> None:
        self.recorder.event(obj, event_type, reason, message)

    # -- claims --------------------------------------------------------------------------------
    async def _sync_claim(self, claim: dict) -> None:
        if ANN_BIND_COMPLETED in (claim["metadata"].get("annotations") or {}):
            await self._sync_bound_claim(claim)
        elif (claim.get("spec") or {}).get("volumeName"):
            await self._sync_prebound_claim(claim)
        else:
            await self._sync_unbound_claim(claim)

    def _effective_class(self, claim: dict) -> str:
        spec = claim.get("spec") or {}
        if (spec.get("storageClassName") is None and self._retroactive_refused
                and ANN_BETA_STORAGE_CLASS not in (claim["metadata"].get("annotations") or {})):
            default = default_class(self.classes.list())
            return default["metadata"]["name"] if default else ""
        return claim_class(claim)

    def _node(self, name: str) -> tuple[str, dict]:
        node = self.nodes.get(None, name)
        labels = (node or {}).get("metadata", {}).get("labels") or {"kubernetes.io/hostname": name}
        return name, labels

    def _consumers(self, claim: dict) -> list[dict]:
        meta = claim["metadata"]
        pods = self.pods.by_index(CLAIMS_INDEX, f"{meta.get('namespace')}/{meta['name']}")
        return sorted((p for p in pods if not p["metadata"].get("deletionTimestamp")),
                      key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))

    def _selected_node(self, claim: dict) -> str | None:
        """The scheduler's choice for the claim's first consumer, or the node such a pod runs on."""
        selected = (claim["metadata"].get("annotations") or {}).get(ANN_SELECTED_NODE)
        if selected:
            return selected
        for pod in self._consumers(claim):
            if (pod.get("spec") or {}).get("nodeName"):
                return pod["spec"]["nodeName"]
        return None

    async def _sync_unbound_claim(self, claim: dict) -> None:
        class_name = self._effective_class(claim)
        sclass = self.classes.get(None, class_name) if class_name else None
        wait_for_consumer = (sclass or {}).get("volumeBindingMode") == "WaitForFirstConsumer"
        node_name = self._selected_node(claim) if wait_for_consumer else None
        node = self._node(node_name) if node_name else None
        volume = find_best_match(claim, self.volumes.list(), delay_binding=wait_for_consumer and node is None,
                                 node=node)
        if volume is not None:
            await self._bind(volume, claim)
            return
        refused_before = self._retroactive_refused
        if await self._assign_default_class(claim):
            return  # the update re-queues the claim with its class
        if self._retroactive_refused and not refused_before:
            await self._sync_unbound_claim(claim)  # again, now with the default class in mind
            return
        if wait_for_consumer and node is None:
            self._wait_for_consumer_event(claim)
        elif class_name:
            if sclass is None:
                self.event(claim, "Warning", "ProvisioningFailed", f'storageclass.storage.k8s.io "{class_name}" '
                           "not found")
            else:
                await self._provision(claim, sclass, node)
                return
        else:
            self.event(claim, "Normal", "FailedBinding",
                       "no persistent volumes available for this claim and no storage class is set")
        await self._update_claim_status(claim, "Pending", None)

    def _wait_for_consumer_event(self, claim: dict) -> None:
        waiting = [p["metadata"]["name"] for p in self._consumers(claim) if not (p.get("spec") or {}).get("nodeName")]
        if not waiting:
            self.event(claim, "Normal", "WaitForFirstConsumer", "waiting for first consumer to be created before binding")
        elif len(waiting) == 1:
            self.event(claim, "Normal", "WaitForPodScheduled", f"waiting for pod {waiting[0]} to be scheduled")
        else:
            self.event(claim, "Normal", "WaitForPodScheduled", f"waiting for pods {','.join(waiting)} to be scheduled")

    async def _assign_default_class(self, claim: dict) -> bool:
        """RetroactiveDefaultStorageClass: a claim created without a class gets the default one."""
        if self._retroactive_refused or (claim.get("spec") or {}).get("storageClassName") is not None:
            return False
        if ANN_BETA_STORAGE_CLASS in (claim["metadata"].get("annotations") or {}):
            return False
        default = default_class(self.classes.list())
        if default is None:
            return False
        updated = deepcopy_json(claim)
        updated["spec"]["storageClassName"] = default["metadata"]["name"]
        try:
            self.claims.remember(await self.client.update(self.pvc_info, updated))
        except ApiError as e:
            if e.code != 422:
                raise
            log.warning("apiserver refused to set the default storage class on claim %s/%s (%s); provisioning "
                        "claims without a class in %s", claim["metadata"].get("namespace"),
                        claim["metadata"]["name"], e, default["metadata"]["name"])
            self._retroactive_refused = True
            return False
        return True

    async def _sync_prebound_claim(self, claim: dict) -> None:
        """The user named a volume in spec.volumeName."""
        name = claim["spec"]["volumeName"]
        volume = self.volumes.get(name)
        if volume is None:
            await self._update_claim_status(claim, "Pending", None)  # it may still be created
            return
        ref = (volume.get("spec") or {}).get("claimRef")
        if not ref:
            problem = volume_mismatch(volume, claim)
            if problem:
                self.event(claim, "Warning", "VolumeMismatch", f'Cannot bind to requested volume "{name}": {problem}')
                await self._update_claim_status(claim, "Pending", None)
                return
            await self._bind(volume, claim)
        elif is_bound_to(volume, claim):
            await self._bind(volume, claim)
        else:
            self.event(claim, "Warning", "FailedBinding", f'volume "{name}" already bound to a different claim.')
            if ANN_BOUND_BY_CONTROLLER in (claim["metadata"].get("annotations") or {}):
                raise ApiError(409, "Conflict", f"invalid binding of claim {claim['metadata']['name']} to volume "
                                                f"{name}: volume already claimed by {ref.get('namespace')}/"
                                                f"{ref.get('name')}")
            await self._update_claim_status(claim, "Pending", None)

    async def _sync_bound_claim(self, claim: dict) -> None:
        name = (claim.get("spec") or {}).get("volumeName")
        volume = self.volumes.get(name) if name else None
        if not name:
            await self._claim_lost(claim, "Bound claim has lost reference to PersistentVolume. Data on the volume "
                                          "is lost!", "ClaimLost")
        elif volume is None:
            await self._claim_lost(claim, "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
                                   "ClaimLost")
        elif not (volume.get("spec") or {}).get("claimRef") or is_bound_to(volume, claim):
            await self._bind(volume, claim)  # finish or confirm the binding; no-op when complete
        else:
            await self._claim_lost(claim, "Two claims are bound to the same volume, this one is bound incorrectly",
                                   "ClaimMisbound")

    async def _claim_lost(self, claim: dict, message: str, reason: str) -> None:
        if (claim.get("status") or {}).get("phase") != "Lost":
            self.event(claim, "Warning", reason, message)
        await self._update_claim_status(claim, "Lost", None)

    # -- binding -------------------------------------------------------------------------------
    async def _bind(self, volume: dict, claim: dict) -> None:
        volume = await self._bind_volume_to_claim(volume, claim)
        volume = await self._update_volume_phase(volume, "Bound")
        claim = await self._bind_claim_to_volume(claim, volume)
        await self._update_claim_status(claim, "Bound", volume)

    async def _bind_volume_to_claim(self, volume: dict, claim: dict) -> dict:
        ref = (volume.get("spec") or {}).get("claimRef") or {}
        meta = claim["metadata"]
        set_by_us = not is_bound_to(volume, claim)
        annotations = volume["metadata"].get("annotations") or {}
        if ((ref.get("name"), ref.get("namespace"), ref.get("uid")) == (meta["name"], meta.get("namespace"),
                                                                        meta.get("uid"))
                and not (set_by_us and ANN_BOUND_BY_CONTROLLER not in annotations)):
            return volume
        updated = deepcopy_json(volume)
        updated["spec"]["claimRef"] = claim_ref_to(claim)
        if set_by_us:
            updated["metadata"].setdefault("annotations", {})[ANN_BOUND_BY_CONTROLLER] = "yes"
        return self.volumes.remember(await self.client.update(self.pv_info, updated))

    async def _update_volume_phase(self, volume: dict, phase: str, message: str = "") -> dict:
        status = volume.get("status") or {}
        if status.get("phase") == phase and (status.get("message") or "") == message:
            return volume
        updated = deepcopy_json(volume)
        updated["status"] = {**status, "phase": phase}
        if message:
            updated["status"]["message"] = message
        else:
            updated["status"].pop("message", None)
        return self.volumes.remember(await self.client.update_status(self.pv_info, updated))

    async def _bind_claim_to_volume(self, claim: dict, volume: dict) -> dict:
        annotations = claim["metadata"].get("annotations") or {}
        rebind = (claim.get("spec") or {}).get("volumeName") != volume["metadata"]["name"]
        if not rebind and ANN_BIND_COMPLETED in annotations:
            return claim
        updated = deepcopy_json(claim)
        new_annotations = updated["metadata"].setdefault("annotations", {})
        if rebind:
            updated["spec"]["volumeName"] = volume["metadata"]["name"]
            new_annotations.setdefault(ANN_BOUND_BY_CONTROLLER, "yes")
        new_annotations.setdefault(ANN_BIND_COMPLETED, "yes")
        return self.claims.remember(await self.client.update(self.pvc_info, updated))

    async def _update_claim_status(self, claim: dict, phase: str, volume: dict | None) -> dict:
        status = claim.get("status") or {}
        new = dict(status, phase=phase)
        if volume is None:
            new.pop("accessModes", None)
            new.pop("capacity", None)
        else:
            new["accessModes"] = list((volume.get("spec") or {}).get("accessModes") or ())
            if status.get("phase") != phase:  # capacity is reported when the claim becomes bound
                new["capacity"] = dict((volume.get("spec") or {}).get("capacity") or {})
        if new == status:
            return claim
        updated = deepcopy_json(claim)
        updated["status"] = new
        return self.claims.remember(await self.client.update_status(self.pvc_info, updated))

    # -- provisioning --------------------------------------------------------------------------
    async def _provision(self, claim: dict, sclass: dict, node: tuple[str, dict] | None) -> None:
        provisioner = sclass.get("provisioner") or ""
        claim = await self._set_claim_provisioner(claim, provisioner)
        key = f"{claim['metadata'].get('namespace')}/{claim['metadata']['name']}"
        if provisioner != PROVISIONER:
            self.event(claim, "Normal", "ExternalProvisioning",
                       f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or "
                       "manually by the system administrator. If volume creation is delayed, please verify that "
                       "the provisioner is running and correctly registered.")
            await self._update_claim_status(claim, "Pending", None)
            return
        volume = local_path_volume(claim, sclass, node, self.local_path_root)
        self.event(claim, "Normal", "Provisioning", f'External provisioner is provisioning volume for claim "{key}"')
        try:
            volume = self.volumes.remember(await self.client.create(self.pv_info, volume))
        except ApiError as e:
            if e.reason != "AlreadyExists":
                self.event(claim, "Warning", "ProvisioningFailed", f"failed to provision volume with StorageClass "
                                                                    f'"{sclass["metadata"]["name"]}": {e}')
                raise
            volume = self.volumes.get(volume["metadata"]["name"]) or await self.client.get(
                self.pv_info, volume["metadata"]["name"])
        else:
            self.event(claim, "Normal", "ProvisioningSucceeded",
                       f"Successfully provisioned volume {volume['metadata']['name']}")
        if is_bound_to(volume, claim):
            await self._bind(volume, claim)

    async def _set_claim_provisioner(self, claim: dict, provisioner: str) -> dict:
        annotations = claim["metadata"].get("annotations") or {}
        if (annotations.get(ANN_STORAGE_PROVISIONER), annotations.get(ANN_BETA_STORAGE_PROVISIONER)) == (
                provisioner, provisioner):
            return claim
        updated = deepcopy_json(claim)
        updated["metadata"].setdefault("annotations", {}).update(
            {ANN_STORAGE_PROVISIONER: provisioner, ANN_BETA_STORAGE_PROVISIONER: provisioner})
        return self.claims.remember(await self.client.update(self.pvc_info, updated))

    # -- volumes -------------------------------------------------------------------------------
    async def _sync_volume(self, volume: dict) -> None:
        ref = (volume.get("spec") or {}).get("claimRef")
        if not ref or not ref.get("uid"):
            # unused, or reserved by the user for a claim that will bind to it
            await self._update_volume_phase(volume, "Available")
            return
        claim = await self._claim_of(volume)
        if claim is None:
            await self._release(volume)
            return
        claim_volume = (claim.get("spec") or {}).get("volumeName")
        if not claim_volume:
            # binding in progress (or undone by a user): the claim's sync finishes it
            self.queue.add(f"claim:{claim['metadata'].get('namespace')}/{claim['metadata']['name']}")
        elif claim_volume == volume["metadata"]["name"]:
            await self._update_volume_phase(volume, "Bound")
        elif (volume["metadata"].get("annotations") or {}).get(ANN_PROVISIONED_BY) and \
                volume["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
            await self._release(volume)  # provisioned for a claim that bound elsewhere: not needed
        else:
            await self._unbind(volume)

    async def _claim_of(self, volume: dict) -> dict | None:
        """The claim volume.claimRef points at, or None if it is gone (double-checked with the
        apiserver so a lagging cache never releases a volume by mistake)."""
        ref = volume["spec"]["claimRef"]
        claim = self.claims.get(f"{ref.get('namespace')}/{ref.get('name')}")
        phase = (volume.get("status") or {}).get("phase")
        if (claim is None and phase not in ("Released", "Failed")) or (
                claim is not None and claim["metadata"].get("uid") != ref.get("uid")):
            try:
                claim = await self.client.get(self.pvc_info, ref.get("name"), ref.get("namespace"))
            except ApiError as e:
                if e.code != 404:
                    raise
                claim = None
        if claim is not None and claim["metadata"].get("uid") != ref.get("uid"):
            return None  # deleted and recreated under the same name
        return claim

    async def _unbind(self, volume: dict) -> None:
        updated = deepcopy_json(volume)
        annotations = updated["metadata"].get("annotations") or {}
        if ANN_BOUND_BY_CONTROLLER in annotations:
            updated["spec"]["claimRef"] = None
            del annotations[ANN_BOUND_BY_CONTROLLER]
        else:
            updated["spec"]["claimRef"]["uid"] = ""  # pre-bound by the user: keep the reservation
        volume = self.volumes.remember(await self.client.update(self.pv_info, updated))
        await self._update_volume_phase(volume, "Available")

    async def _release(self, volume: dict) -> None:
        phase = (volume.get("status") or {}).get("phase")
        if phase not in ("Released", "Failed"):
            volume = await self._update_volume_phase(volume, "Released")
        policy = volume["spec"].get("persistentVolumeReclaimPolicy") or "Retain"
        if policy == "Retain":
            return
        if policy == "Delete":
            await self._delete_volume(volume)
            return
        if phase != "Failed":
            message = ("No recycler plugin found for the volume!" if policy == "Recycle"
                       else "Volume has unrecognized PersistentVolumeReclaimPolicy")
            reason = "VolumeFailedRecycle" if policy == "Recycle" else "VolumeUnknownReclaimPolicy"
            self.event(volume, "Warning", reason, message)
            await self._update_volume_phase(volume, "Failed", message)

    async def _delete_volume(self, volume: dict) -> None:
        provisioned_by = (volume["metadata"].get("annotations") or {}).get(ANN_PROVISIONED_BY)
        meta = volume["metadata"]
        if provisioned_by == PROVISIONER:
            try:
                await self.client.delete(self.pv_info, meta["name"], preconditions={"uid": meta["uid"]})
            except ApiError as e:
                if e.code not in (404, 409):
                    self.event(volume, "Warning", "VolumeFailedDelete", str(e))
                    raise
            return
        if provisioned_by:
            return  # its external provisioner deletes it
        if (volume.get("status") or {}).get("phase") != "Failed":
            message = (f'error getting deleter volume plugin for volume "{meta["name"]}": no deletable volume '
                       "plugin matched")
            self.event(volume, "Warning", "VolumeFailedDelete", message)
            await self._update_volume_phase(volume, "Failed", message)


def new(ctx) -> PersistentVolumeController:
    return PersistentVolumeController(client=ctx.client, informers=ctx.informers,
                                      recorder=ctx.recorder("persistentvolume-controller"),
                                      local_path_root=ctx.settings.local_path_root, workers=ctx.settings.workers)

