"""PVC retention policy: which owners a StatefulSet's claims carry (upstream `stateful_set_utils.go`).

`spec.persistentVolumeClaimRetentionPolicy` is enforced through ownerReferences, so the
garbage collector does the deleting:

  whenScaled=Retain, whenDeleted=Retain   no reference from the set or the pod
  whenScaled=Retain, whenDeleted=Delete   the set controls the claim
  whenScaled=Delete, whenDeleted=Retain   the pod controls the claim once it is scaled away
  whenScaled=Delete, whenDeleted=Delete   the pod if scaled away, otherwise the set

`claim_owner_up_to_date` is the cheap check; `owner_refs_for` computes the new list. A claim
held by a stale owner (same name, other uid) or by a foreign controller is left alone, as
upstream does. `claim_is_stale` keeps a scaled-up pod from reusing a claim that the
garbage collector is about to delete. Pure functions over plain dicts.
"""

from __future__ import annotations

from podplane.controllers.statefulset.identity import in_ordinal_range, retention_policy

__all__ = ["claim_is_stale", "claim_owner_up_to_date", "has_unexpected_controller", "owner_refs_for"]


def _refs(claim: dict) -> list[dict]:
    return list(claim["metadata"].get("ownerReferences") or ())


def _matches_ref(ref: dict, obj: dict, api_version: str, kind: str) -> bool:
    return (ref.get("apiVersion") == api_version and ref.get("kind") == kind
            and ref.get("name") == obj["metadata"].get("name"))


def _matches_set(ref: dict, sts: dict) -> bool:
    return _matches_ref(ref, sts, "apps/v1", "StatefulSet")


def _matches_pod(ref: dict, pod: dict) -> bool:
    return _matches_ref(ref, pod, "v1", "Pod")


def _has_owner(claim: dict, owner: dict) -> bool:
    uid = owner["metadata"].get("uid")
    return bool(uid) and any(r.get("uid") == uid for r in _refs(claim))


def _has_stale_owner(claim: dict, owner: dict, matches) -> bool:
    """A reference to owner's name and kind but another uid: left by a deleted predecessor."""
    for ref in _refs(claim):
        if matches(ref, owner):
            return ref.get("uid") != owner["metadata"].get("uid")
    return False


def has_unexpected_controller(claim: dict, sts: dict, pod: dict) -> bool:
    """Under a Delete policy, true when something other than this set or pod controls the claim."""
    if retention_policy(sts) == ("Retain", "Retain"):
        return False
    for ref in _refs(claim):
        if _matches_set(ref, sts):
            if ref.get("uid") != sts["metadata"].get("uid"):
                return True
            continue
        if _matches_pod(ref, pod):
            if ref.get("uid") != pod["metadata"].get("uid"):
                return True
            continue
        if ref.get("controller"):
            return True
    return False


def _has_non_controller_owner(claim: dict, sts: dict, pod: dict) -> bool:
    uids = {sts["metadata"].get("uid"), pod["metadata"].get("uid")} - {None, ""}
    return any(r.get("uid") in uids and not r.get("controller") for r in _refs(claim))


def claim_owner_up_to_date(claim: dict, sts: dict, pod: dict) -> bool:
    """Whether claim's owners already express sts's retention policy for pod (isClaimOwnerUpToDate)."""
    if _has_stale_owner(claim, sts, _matches_set) or _has_stale_owner(claim, pod, _matches_pod):
        return True  # managed by a previous incarnation: do not touch
    if has_unexpected_controller(claim, sts, pod):
        return not (_has_owner(claim, sts) or _has_owner(claim, pod))
    if _has_non_controller_owner(claim, sts, pod):
        return False
    when_deleted, when_scaled = retention_policy(sts)
    scaled_down = not in_ordinal_range(pod, sts)
    want_set = when_deleted == "Delete" and not (when_scaled == "Delete" and scaled_down)
    want_pod = when_scaled == "Delete" and scaled_down
    return _has_owner(claim, sts) == want_set and _has_owner(claim, pod) == want_pod


def _controller_ref(obj: dict, api_version: str, kind: str) -> dict:
    meta = obj["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def owner_refs_for(claim: dict, sts: dict, pod: dict) -> list[dict]:
    """claim's ownerReferences rewritten for the retention policy (updateClaimOwnerRefForSetAndPod)."""
    unexpected = has_unexpected_controller(claim, sts, pod)
    refs = [r for r in _refs(claim) if not (_matches_set(r, sts) or _matches_pod(r, pod))]
    if unexpected:
        return refs
    when_deleted, when_scaled = retention_policy(sts)
    scaled_down = not in_ordinal_range(pod, sts)
    if when_scaled == "Delete" and scaled_down and pod["metadata"].get("uid"):
        refs.append(_controller_ref(pod, "v1", "Pod"))
    elif when_deleted == "Delete" and not (when_scaled == "Delete" and scaled_down):
        refs.append(_controller_ref(sts, "apps/v1", "StatefulSet"))
    return refs


def claim_is_stale(claim: dict, pod: dict) -> bool:
    """The claim still points at an earlier pod of this name (PodClaimIsStale): a pod about to
    be created has no uid yet, so any Pod reference with its name is stale."""
    return _has_stale_owner(claim, pod, _matches_pod)
