"""StatefulSet pod identity, storage and state: pure helpers (upstream `stateful_set_utils.go`).

A StatefulSet's pods are named `<set>-<ordinal>` (ordinals from `spec.ordinals.start`) and
carry the labels `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` and
`controller-revision-hash` (the name of the ControllerRevision they were built from);
`spec.hostname`/`spec.subdomain` give them stable DNS names under the governing Service.
Each `volumeClaimTemplates` entry becomes a PVC `<template>-<set>-<ordinal>` that the pod
mounts by that name and that outlives the pod.

`new_versioned_pod` picks the current or update revision for an ordinal (the partition);
`compute_status` counts replicas the way `kubectl rollout status sts` reads them. No I/O:
the controller in `statefulset.controller` does the writes.
"""

from __future__ import annotations

import copy
import datetime as dt
import re

from podplane.controllers.common import is_pod_available, is_pod_ready, pod_from_template

__all__ = [
    "POD_INDEX_LABEL",
    "POD_NAME_LABEL",
    "REVISION_LABEL",
    "claim_name",
    "claims_for_pod",
    "compute_status",
    "end_ordinal",
    "identity_matches",
    "in_ordinal_range",
    "is_created",
    "is_failed",
    "is_healthy",
    "is_member",
    "is_pending",
    "is_running_and_available",
    "is_running_and_ready",
    "is_succeeded",
    "is_terminating",
    "new_pod",
    "new_versioned_pod",
    "ordinal_of",
    "parent_and_ordinal",
    "pod_name",
    "pod_revision",
    "replicas_of",
    "retention_policy",
    "start_ordinal",
    "storage_matches",
    "update_identity",
]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"

_POD_NAME_RE = re.compile(r"^(.*)-([0-9]+)$")
_MAX_INT32 = 2**31 - 1


# ------------------------------------------------------------------------- names and ordinals

def parent_and_ordinal(pod: dict) -> tuple[str, int]:
    """(parent set name, ordinal) parsed from `<set>-<ordinal>`; ("", -1) when it does not parse."""
    m = _POD_NAME_RE.match(pod["metadata"].get("name") or "")
    if not m:
        return "", -1
    ordinal = int(m.group(2))
    if ordinal > _MAX_INT32:
        return m.group(1), -1
    return m.group(1), ordinal


def ordinal_of(pod: dict) -> int:
    return parent_and_ordinal(pod)[1]


def pod_name(sts: dict, ordinal: int) -> str:
    return f"{sts['metadata']['name']}-{ordinal}"


def claim_name(sts: dict, template: dict, ordinal: int) -> str:
    return f"{template['metadata']['name']}-{sts['metadata']['name']}-{ordinal}"


def replicas_of(sts: dict) -> int:
    replicas = (sts.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def start_ordinal(sts: dict) -> int:
    ordinals = (sts.get("spec") or {}).get("ordinals") or {}
    return int(ordinals.get("start") or 0)


def end_ordinal(sts: dict) -> int:
    """The last ordinal the set runs (inclusive); below start when scaled to zero."""
    return start_ordinal(sts) + replicas_of(sts) - 1


def in_ordinal_range(pod: dict, sts: dict) -> bool:
    ordinal = ordinal_of(pod)
    return start_ordinal(sts) <= ordinal <= end_ordinal(sts)


def is_member(sts: dict, pod: dict) -> bool:
    return parent_and_ordinal(pod)[0] == sts["metadata"]["name"]


def retention_policy(sts: dict) -> tuple[str, str]:
    """(whenDeleted, whenScaled), each Retain or Delete; Retain when unset."""
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenDeleted") or "Retain", policy.get("whenScaled") or "Retain"


# ------------------------------------------------------------------------- pod state

def _phase(pod: dict) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def is_created(pod: dict) -> bool:
    """The apiserver stored it (a pod built from the template has no phase yet)."""
    return _phase(pod) != ""


def is_pending(pod: dict) -> bool:
    return _phase(pod) == "Pending"


def is_failed(pod: dict) -> bool:
    return _phase(pod) == "Failed"


def is_succeeded(pod: dict) -> bool:
    return _phase(pod) == "Succeeded"


def is_terminating(pod: dict) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_running_and_ready(pod: dict) -> bool:
    return _phase(pod) == "Running" and is_pod_ready(pod)


def is_running_and_available(pod: dict, min_ready_seconds: int, now: dt.datetime) -> bool:
    return is_running_and_ready(pod) and is_pod_available(pod, min_ready_seconds, now)


def is_healthy(pod: dict) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


def pod_revision(pod: dict) -> str:
    return (pod["metadata"].get("labels") or {}).get(REVISION_LABEL, "")


# ------------------------------------------------------------------------- identity and storage

def identity_matches(sts: dict, pod: dict) -> bool:
    parent, ordinal = parent_and_ordinal(pod)
    meta = pod["metadata"]
    return (ordinal >= 0 and parent == sts["metadata"]["name"] and meta.get("name") == pod_name(sts, ordinal)
            and meta.get("namespace") == sts["metadata"].get("namespace")
            and (meta.get("labels") or {}).get(POD_NAME_LABEL) == meta.get("name"))


def update_identity(sts: dict, pod: dict) -> None:
    """Fix name, namespace and the identity labels of pod in place."""
    ordinal = ordinal_of(pod)
    meta = pod["metadata"]
    meta["name"] = pod_name(sts, ordinal)
    meta["namespace"] = sts["metadata"].get("namespace")
    labels = meta.setdefault("labels", {})
    labels[POD_NAME_LABEL] = meta["name"]
    labels[POD_INDEX_LABEL] = str(ordinal)


def claims_for_pod(sts: dict, ordinal: int) -> dict[str, dict]:
    """Template volume name → the PVC (not yet created) that pod `ordinal` mounts for it.

    Labels are the template's merged with the set's `selector.matchLabels`, as upstream.
    """
    spec = sts.get("spec") or {}
    match_labels = (spec.get("selector") or {}).get("matchLabels") or {}
    claims: dict[str, dict] = {}
    for template in spec.get("volumeClaimTemplates") or ():
        tmeta = template.get("metadata") or {}
        meta: dict = {"name": claim_name(sts, template, ordinal), "namespace": sts["metadata"].get("namespace"),
                      "labels": {**(tmeta.get("labels") or {}), **match_labels}}
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        claims[tmeta["name"]] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
                                 "spec": copy.deepcopy(template.get("spec") or {})}
    return claims


def storage_matches(sts: dict, pod: dict) -> bool:
    """Every claim template is mounted from the pod's own PVC."""
    ordinal = ordinal_of(pod)
    if ordinal < 0:
        return False
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or ()}
    for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or ():
        volume = volumes.get(template["metadata"]["name"])
        source = (volume or {}).get("persistentVolumeClaim")
        if not source or source.get("claimName") != claim_name(sts, template, ordinal):
            return False
    return True


def _update_storage(sts: dict, pod: dict) -> None:
    """Mount each claim template's PVC, replacing template volumes of the same name."""
    claims = claims_for_pod(sts, ordinal_of(pod))
    spec = pod.setdefault("spec", {})
    volumes = [{"name": name, "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
               for name, claim in claims.items()]
    volumes += [v for v in spec.get("volumes") or () if v.get("name") not in claims]
    if volumes:
        spec["volumes"] = volumes


def new_pod(sts: dict, ordinal: int) -> dict:
    """A pod for `ordinal` from sts's template: identity, hostname/subdomain and PVC volumes."""
    spec = sts.get("spec") or {}
    pod = pod_from_template(spec.get("template") or {}, sts, name=pod_name(sts, ordinal))
    update_identity(sts, pod)
    # hostname and subdomain are immutable on pods, so they are only set at creation
    pod["spec"]["hostname"] = pod["metadata"]["name"]
    if spec.get("serviceName"):
        pod["spec"]["subdomain"] = spec["serviceName"]
    _update_storage(sts, pod)
    return pod


def new_versioned_pod(current_set: dict, update_set: dict, current_revision: str, update_revision: str,
                      ordinal: int) -> dict:
    """A pod at the current revision when the update strategy holds `ordinal` back (below the
    partition), otherwise at the update revision."""
    strategy = (current_set.get("spec") or {}).get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate")
    start = start_ordinal(current_set)
    if strategy.get("type", "RollingUpdate") == "RollingUpdate" and rolling is None:
        held_back = ordinal < start + int((current_set.get("status") or {}).get("currentReplicas") or 0)
    else:
        held_back = rolling is not None and ordinal < start + int(rolling.get("partition") or 0)
    pod = new_pod(current_set if held_back else update_set, ordinal)
    pod["metadata"]["labels"][REVISION_LABEL] = current_revision if held_back else update_revision
    return pod


# ------------------------------------------------------------------------- status

def compute_status(status: dict, pods: list[dict], min_ready_seconds: int, now: dt.datetime,
                   current_revision: str, update_revision: str) -> dict:
    """Set replicas/readyReplicas/availableReplicas/currentReplicas/updatedReplicas in status
    from pods (only pods the apiserver holds count; terminating ones are not current/updated)."""
    counts = dict.fromkeys(("replicas", "readyReplicas", "availableReplicas", "currentReplicas",
                            "updatedReplicas"), 0)
    for pod in pods:
        if not is_created(pod):
            continue
        counts["replicas"] += 1
        if is_running_and_ready(pod):
            counts["readyReplicas"] += 1
            if is_pod_available(pod, min_ready_seconds, now):
                counts["availableReplicas"] += 1
        if not is_terminating(pod):
            revision = pod_revision(pod)
            if revision == current_revision:
                counts["currentReplicas"] += 1
            if revision == update_revision:
                counts["updatedReplicas"] += 1
    status.update(counts)
    return status
