"""Helpers shared by the workload controllers (upstream `pkg/controller` utilities).

- owner references: `controller_ref_to(owner)`, `controller_of(obj)`, `owner_key(obj, kind)`;
- pods from templates: `pod_from_template(template, owner, ...)`;
- pod state: `is_pod_active`, `is_pod_ready`, `is_pod_available`, `pod_ready_since`;
- adoption and release (ControllerRefManager): `claim(...)` patches ownerReferences so a
  controller owns exactly the objects its selector matches;
- `compute_hash(template, collision_count)`: the FNV-32a hash used for
  pod-template-hash and controller-revision-hash, encoded like upstream's
  `rand.SafeEncodeString`;
- `QueueController`: the base that gives a controller its client, worker count, event
  recorder and a work queue named after it.
Pure functions except `claim`, which writes through the client.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import ClassVar

import orjson

from podplane.api.errors import ApiError
from podplane.api.meta import parse_time
from podplane.api.registry import ResourceInfo
from podplane.api.selectors import LabelSelector
from podplane.client.workqueue import WorkQueue

__all__ = [
    "QueueController",
    "claim",
    "compute_hash",
    "condition",
    "controller_of",
    "controller_ref_to",
    "is_pod_active",
    "is_pod_available",
    "is_pod_ready",
    "owner_key",
    "pod_from_template",
    "pod_ready_since",
    "safe_encode",
    "set_condition",
]

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def safe_encode(text: str) -> str:
    """upstream rand.SafeEncodeString: map each byte onto a vowel-free alphabet."""
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in text)


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def compute_hash(template: dict, collision_count: int | None = None) -> str:
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count:
        data += str(collision_count).encode()
    return safe_encode(str(_fnv32a(data)))


def controller_ref_to(owner: dict) -> dict:
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def controller_of(obj: dict) -> dict | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def owner_key(obj: dict, kind: str) -> str | None:
    """`namespace/name` of obj's controller when it is of `kind`, else None."""
    ref = controller_of(obj)
    if ref is None or ref.get("kind") != kind:
        return None
    ns = (obj.get("metadata") or {}).get("namespace")
    return f"{ns}/{ref['name']}" if ns else ref["name"]


def pod_from_template(template: dict, owner: dict, *, name: str = "", generate_name: str = "",
                      extra_labels: dict | None = None) -> dict:
    tmeta = template.get("metadata") or {}
    meta: dict = {"namespace": owner["metadata"].get("namespace"),
                  "labels": {**(tmeta.get("labels") or {}), **(extra_labels or {})},
                  "ownerReferences": [controller_ref_to(owner)]}
    if tmeta.get("annotations"):
        meta["annotations"] = copy.deepcopy(tmeta["annotations"])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = generate_name or f"{owner['metadata']['name']}-"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(template.get("spec") or {})}


def is_pod_active(pod: dict) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not (pod.get("metadata") or {}).get("deletionTimestamp")


def condition(obj: dict, cond_type: str) -> dict | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == cond_type:
            return c
    return None


def is_pod_ready(pod: dict) -> bool:
    c = condition(pod, "Ready")
    return bool(c and c.get("status") == "True")


def pod_ready_since(pod: dict) -> dt.datetime | None:
    c = condition(pod, "Ready")
    if not c or c.get("status") != "True" or not c.get("lastTransitionTime"):
        return None
    return parse_time(c["lastTransitionTime"])


def is_pod_available(pod: dict, min_ready_seconds: int, now: dt.datetime) -> bool:
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = pod_ready_since(pod)
    return since is not None and since + dt.timedelta(seconds=min_ready_seconds) <= now


def set_condition(status: dict, cond_type: str, cond_status: str, reason: str, message: str, now: str) -> bool:
    """Set (or update) a condition; lastTransitionTime changes only when status does.
    Returns True when anything changed."""
    conditions = status.setdefault("conditions", [])
    for c in conditions:
        if c.get("type") == cond_type:
            changed = (c.get("status"), c.get("reason"), c.get("message")) != (cond_status, reason, message)
            if c.get("status") != cond_status:
                c["lastTransitionTime"] = now
            if changed:
                c.update({"status": cond_status, "reason": reason, "message": message, "lastUpdateTime": now})
            return changed
    conditions.append({"type": cond_type, "status": cond_status, "reason": reason, "message": message,
                       "lastUpdateTime": now, "lastTransitionTime": now})
    return True


async def claim(client, info: ResourceInfo, owner: dict, selector: LabelSelector, objects: list[dict]) -> list[dict]:
    """Adopt matching orphans and release owned non-matching objects; return the owned set.

    Mirrors upstream's ControllerRefManager: adoption is skipped while the owner is being
    deleted; each ownerReferences patch carries the object's uid as a precondition so a
    recreated object with the same name is never adopted by mistake.
    """
    owner_meta = owner["metadata"]
    owner_deleting = bool(owner_meta.get("deletionTimestamp"))
    claimed: list[dict] = []
    for obj in objects:
        meta = obj["metadata"]
        ref = controller_of(obj)
        labels = meta.get("labels") or {}
        if ref is not None:
            if ref.get("uid") != owner_meta["uid"]:
                continue  # owned by another controller
            if selector.matches(labels):
                claimed.append(obj)
                continue
            if owner_deleting:
                continue
            refs = [r for r in meta.get("ownerReferences") or () if r.get("uid") != owner_meta["uid"]]
            try:
                await client.patch(info, meta["name"], {"metadata": {"ownerReferences": refs or None,
                                                                     "uid": meta["uid"]}},
                                   meta.get("namespace"), patch_type="merge")
            except ApiError as e:
                if e.code not in (404, 409, 422):
                    raise
            continue
        if owner_deleting or meta.get("deletionTimestamp") or not selector.matches(labels):
            continue
        refs = list(meta.get("ownerReferences") or ()) + [controller_ref_to(owner)]
        try:
            adopted = await client.patch(info, meta["name"], {"metadata": {"ownerReferences": refs,
                                                                           "uid": meta["uid"]}},
                                         meta.get("namespace"), patch_type="merge")
        except ApiError as e:
            if e.code in (404, 409, 422):
                continue
            raise
        claimed.append(adopted)
    return claimed


class QueueController:
    """What a queue-driven controller sets up first: `client`, `workers` (the settings'
    count unless given), `recorder` (events as `component`) and `queue`, a `WorkQueue`
    named after the controller's `name`."""

    name: ClassVar[str]

    def __init__(self, ctx, component: str, *, workers: int | None = None) -> None:
        self.client = ctx.client
        self.workers = ctx.settings.workers if workers is None else workers
        self.recorder = ctx.recorder(component)
        self.queue = WorkQueue(self.name)
