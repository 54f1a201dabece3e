"""The built-in local-path provisioner: one host directory per volume (rancher local-path-provisioner).

`default_storage_class()` is the `local-path` StorageClass the PV controller installs when
the cluster has no default class: provisioner `podplane.io/local-path`, WaitForFirstConsumer
(the directory must be on the node where the first pod runs), reclaim Delete.
`local_path_volume(claim, class, node, root)` builds the PersistentVolume for a claim:
named `pvc-<claim uid>`, pre-bound to the claim through `claimRef`, a `hostPath` of type
DirectoryOrCreate at `<root>/<pv name>` and, when a node is known, a required node affinity
on its `kubernetes.io/hostname` label.

Only API objects are made here. The node agent creates the directory when it mounts the
volume (hostPath DirectoryOrCreate) and is expected to remove it once the PersistentVolume
is deleted; the controller cannot reach node filesystems. Pure functions.
"""

from __future__ import annotations

import copy
import posixpath

from podplane.controllers.persistentvolume.binding import (
    ANN_DEFAULT_CLASS,
    ANN_PROVISIONED_BY,
    claim_ref_to,
)

__all__ = ["DEFAULT_CLASS_NAME", "HOSTNAME_LABEL", "PROVISIONER", "default_storage_class", "local_path_volume",
           "volume_name_for"]

PROVISIONER = "podplane.io/local-path"
DEFAULT_CLASS_NAME = "local-path"
HOSTNAME_LABEL = "kubernetes.io/hostname"


def default_storage_class() -> dict:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": DEFAULT_CLASS_NAME, "annotations": {ANN_DEFAULT_CLASS: "true"}},
            "provisioner": PROVISIONER, "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"}


def volume_name_for(claim: dict) -> str:
    """`pvc-<uid>`, as external provisioners name the volumes they create."""
    return f"pvc-{claim['metadata']['uid']}"


def local_path_volume(claim: dict, sclass: dict, node: tuple[str, dict] | None, root: str) -> dict:
    """The PersistentVolume provisioned for claim in class sclass, on node (name, labels) if known."""
    name = volume_name_for(claim)
    spec = claim.get("spec") or {}
    pv_spec: dict = {
        "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")},
        "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
        "persistentVolumeReclaimPolicy": sclass.get("reclaimPolicy") or "Delete",
        "storageClassName": sclass["metadata"]["name"],
        "volumeMode": spec.get("volumeMode") or "Filesystem",
        "claimRef": claim_ref_to(claim),
        "hostPath": {"path": posixpath.join(root, name), "type": "DirectoryOrCreate"},
    }
    if sclass.get("mountOptions"):
        pv_spec["mountOptions"] = copy.deepcopy(sclass["mountOptions"])
    if node is not None:
        node_name, labels = node
        hostname = (labels or {}).get(HOSTNAME_LABEL) or node_name
        pv_spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": HOSTNAME_LABEL, "operator": "In", "values": [hostname]}]}]}}
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {ANN_PROVISIONED_BY: PROVISIONER}},
            "spec": pv_spec}
