"""Claim ↔ volume matching: pure helpers of the PV controller (upstream `pv_controller.go`,
`index.go` and `storage/volume/util`).

`find_best_match(claim, volumes, ...)` is the binder's choice: a volume pre-bound to the
claim (its `claimRef` names it) wins; otherwise the smallest Available volume that has the
claim's class, covers its size and access modes, matches its selector and volumeMode, and
(when a node is known, the scheduler's view of WaitForFirstConsumer) whose node affinity
admits that node. `volume_mismatch` explains why a volume a claim names in `volumeName`
cannot be used. Annotation names and the phases written are upstream's. No I/O.
"""

from __future__ import annotations

from decimal import Decimal

from podplane.api.errors import ApiError
from podplane.api.selectors import selector_from_dict
from podplane.api.storageclass import (
    ANN_BETA_DEFAULT_CLASS,
    ANN_DEFAULT_CLASS,
    default_class,
    is_default_class,
)
from podplane.api.validation import parse_quantity

__all__ = [
    "ANN_BETA_DEFAULT_CLASS",
    "ANN_BETA_STORAGE_CLASS",
    "ANN_BETA_STORAGE_PROVISIONER",
    "ANN_BIND_COMPLETED",
    "ANN_BOUND_BY_CONTROLLER",
    "ANN_DEFAULT_CLASS",
    "ANN_PROVISIONED_BY",
    "ANN_SELECTED_NODE",
    "ANN_STORAGE_PROVISIONER",
    "access_modes_fit",
    "capacity_of",
    "claim_class",
    "claim_ref_to",
    "default_class",
    "find_best_match",
    "is_bound_to",
    "is_default_class",
    "node_affinity_admits",
    "requested_size",
    "volume_class",
    "volume_mismatch",
]

ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
"""On a claim: the controller finished binding it (its absence means "unbound" to the binder)."""
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
"""On a claim or volume: the controller (not the user) set volumeName / claimRef."""
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
"""On a volume: the provisioner that created it, and so the one that deletes it."""
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
"""On a claim: the provisioner asked to create its volume."""
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
"""On a claim: the node the scheduler chose for its first consumer (WaitForFirstConsumer)."""
ANN_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
"""Legacy class annotation on claims and volumes; it wins over spec.storageClassName."""

_ZERO = Decimal(0)


def _annotations(obj: dict) -> dict:
    return obj["metadata"].get("annotations") or {}


def claim_class(claim: dict) -> str:
    """GetPersistentVolumeClaimClass: the beta annotation, else spec.storageClassName, else ""."""
    annotations = _annotations(claim)
    if ANN_BETA_STORAGE_CLASS in annotations:
        return annotations[ANN_BETA_STORAGE_CLASS]
    return (claim.get("spec") or {}).get("storageClassName") or ""


def volume_class(volume: dict) -> str:
    annotations = _annotations(volume)
    if ANN_BETA_STORAGE_CLASS in annotations:
        return annotations[ANN_BETA_STORAGE_CLASS]
    return (volume.get("spec") or {}).get("storageClassName") or ""


def _quantity(value) -> Decimal:
    parsed = parse_quantity(value) if value is not None else None
    return parsed if parsed is not None else _ZERO


def requested_size(claim: dict) -> Decimal:
    return _quantity(((claim.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage"))


def capacity_of(volume: dict) -> Decimal:
    return _quantity(((volume.get("spec") or {}).get("capacity") or {}).get("storage"))


def _volume_mode(spec: dict | None) -> str:
    return (spec or {}).get("volumeMode") or "Filesystem"


def access_modes_fit(claim: dict, volume: dict) -> bool:
    """Every access mode the claim asks for is offered by the volume."""
    wanted = set((claim.get("spec") or {}).get("accessModes") or ())
    return wanted <= set((volume.get("spec") or {}).get("accessModes") or ())


def is_bound_to(volume: dict, claim: dict) -> bool:
    """IsVolumeBoundToClaim: the volume's claimRef names the claim (and its uid, once set)."""
    ref = (volume.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    meta = claim["metadata"]
    if ref.get("name") != meta.get("name") or ref.get("namespace") != meta.get("namespace"):
        return False
    return not ref.get("uid") or ref.get("uid") == meta.get("uid")


def claim_ref_to(claim: dict) -> dict:
    """The ObjectReference a volume keeps in spec.claimRef."""
    meta = claim["metadata"]
    return {"kind": "PersistentVolumeClaim", "namespace": meta["namespace"], "name": meta["name"],
            "uid": meta.get("uid"), "apiVersion": "v1", "resourceVersion": meta.get("resourceVersion")}


def _requirement_matches(expr: dict, values_of) -> bool:
    present, value = values_of(expr.get("key", ""))
    op, values = expr.get("operator"), expr.get("values") or []
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(values) == 1:
        try:
            have, bound = int(value), int(values[0])
        except ValueError:
            return False
        return have > bound if op == "Gt" else have < bound
    return False


def node_affinity_admits(volume: dict, node_name: str, node_labels: dict) -> bool:
    """CheckNodeAffinity: the volume's required node selector terms (ORed, each an AND of
    matchExpressions on labels and matchFields on metadata.name) admit the node."""
    required = (((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {})
    terms = required.get("nodeSelectorTerms")
    if not terms:
        return True

    def label(key: str):
        return key in node_labels, node_labels.get(key)

    def field(key: str):
        return key == "metadata.name", node_name

    for term in terms:
        exprs = term.get("matchExpressions") or []
        fields = term.get("matchFields") or []
        if not exprs and not fields:
            continue  # an empty term matches nothing
        if all(_requirement_matches(e, label) for e in exprs) and all(_requirement_matches(f, field) for f in fields):
            return True
    return False


def _selector_admits(claim: dict, volume: dict) -> bool:
    selector = (claim.get("spec") or {}).get("selector")
    if selector is None:
        return True
    try:
        return selector_from_dict(selector).matches(volume["metadata"].get("labels"))
    except ApiError:
        return False


def find_best_match(claim: dict, volumes: list[dict], *, delay_binding: bool = False,
                    node: tuple[str, dict] | None = None) -> dict | None:
    """The volume the binder gives claim, or None (findBestMatchForClaim + FindMatchingVolume).

    `delay_binding`: WaitForFirstConsumer with no node known yet, so only a volume pre-bound
    to the claim may be used. `node`: (name, labels) of the consumer's node; volumes whose
    node affinity rejects it are skipped.
    """
    wanted = requested_size(claim)
    wanted_class = claim_class(claim)
    claim_mode = _volume_mode(claim.get("spec"))
    best = None
    best_key = None
    for volume in volumes:
        spec = volume.get("spec") or {}
        if spec.get("claimRef") and not is_bound_to(volume, claim):
            continue
        if capacity_of(volume) < wanted or _volume_mode(spec) != claim_mode:
            continue
        if volume["metadata"].get("deletionTimestamp") or not access_modes_fit(claim, volume):
            continue
        admits_node = node is None or node_affinity_admits(volume, node[0], node[1])
        if is_bound_to(volume, claim):
            return volume if admits_node else None  # pre-bound: this one or nothing
        if delay_binding:
            continue
        if ((volume.get("status") or {}).get("phase") != "Available" or not _selector_admits(claim, volume)
                or volume_class(volume) != wanted_class or not admits_node):
            continue
        # the index tries the narrowest access-mode set first, then the smallest volume
        key = (len(spec.get("accessModes") or ()), capacity_of(volume), volume["metadata"]["name"])
        if best_key is None or key < best_key:
            best, best_key = volume, key
    return best


def volume_mismatch(volume: dict, claim: dict) -> str | None:
    """Why a volume named by claim.spec.volumeName cannot serve it (checkVolumeSatisfyClaim)."""
    if volume["metadata"].get("deletionTimestamp"):
        return f'the volume is marked for deletion "{volume["metadata"]["name"]}"'
    if capacity_of(volume) < requested_size(claim):
        return "requested PV is too small"
    if volume_class(volume) != claim_class(claim):
        return "storageClassName does not match"
    if _volume_mode(volume.get("spec")) != _volume_mode(claim.get("spec")):
        return "incompatible volumeMode"
    if not access_modes_fit(claim, volume):
        return "incompatible accessMode"
    return None
