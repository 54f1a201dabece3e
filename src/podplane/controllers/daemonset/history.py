"""DaemonSet ControllerRevisions: one snapshot per distinct pod template (upstream update.go).

`construct_history` finds the revisions the DaemonSet controls (adopting or releasing
them by selector), splits them into the one matching the current template and the old
ones, creates the current snapshot when missing (named `<ds>-<template hash>`, labelled
with the template labels plus `controller-revision-hash`, `data` the strategic patch
`{"spec":{"template":{..., "$patch":"replace"}}}` that `kubectl rollout undo` applies),
renumbers it above every old revision when the template returns to an earlier one,
and removes duplicates. A hash collision with a different template bumps
`status.collisionCount` and fails the sync so the next one hashes differently.
`cleanup_history` keeps `revisionHistoryLimit` old revisions, never one a pod still uses.

The shared revision vocabulary (data, naming, numbering, truncation) comes from
`controllers.revisions`, which the StatefulSet controller uses too. Writes go through
the client; reads come from the caller's cached lists.
"""

from __future__ import annotations

import copy

from podplane.api.errors import ApiError
from podplane.api.selectors import selector_from_dict
from podplane.controllers.common import claim, compute_hash
from podplane.controllers.revisions import (
    POD_REVISION_LABEL,
    new_revision,
    next_revision_number,
    revision_data,
    revision_matches,
    set_revision_number,
    truncate_history,
)

__all__ = ["HASH_LABEL", "HashCollision", "cleanup_history", "construct_history", "revision_data"]

HASH_LABEL = POD_REVISION_LABEL  # "controller-revision-hash", on revisions and pods alike


class HashCollision(Exception):
    """A revision named like the current template holds another template; collisionCount was bumped."""


def _revision_number(revision: dict) -> int:
    return int(revision.get("revision") or 0)


async def construct_history(client, ds: dict, revisions: list[dict], pods: list[dict]) -> tuple[dict, list[dict]]:
    """Return (current revision, old revisions) for ds, creating or fixing up as needed.

    `revisions` are the cached ControllerRevisions of ds's namespace; `pods` the DaemonSet's
    pods (relabelled when duplicate current revisions are merged).
    """
    info = client.resource("apps", "controllerrevisions")
    selector = selector_from_dict((ds.get("spec") or {}).get("selector"))
    owned = await claim(client, info, ds, selector, revisions)
    current: list[dict] = []
    old: list[dict] = []
    for revision in owned:
        if HASH_LABEL not in (revision["metadata"].get("labels") or {}):
            # upstream labels legacy revisions with their own name, which sidesteps hash collisions
            revision = copy.deepcopy(revision)
            revision["metadata"].setdefault("labels", {})[HASH_LABEL] = revision["metadata"]["name"]
            revision = await client.update(info, revision)
        (current if revision_matches(ds, revision) else old).append(revision)

    number = next_revision_number(old)
    if not current:
        return await _snapshot(client, info, ds, number), old
    keep = await _dedup(client, info, current, pods)
    if _revision_number(keep) < number:
        keep = await set_revision_number(client, keep, number)  # rollback: the old template is newest again
    return keep, old


async def _snapshot(client, info, ds: dict, number: int) -> dict:
    meta = ds["metadata"]
    collision_count = (ds.get("status") or {}).get("collisionCount")
    template = (ds.get("spec") or {}).get("template") or {}
    revision = new_revision(ds, revision_data(ds), number, hash_value=compute_hash(template, collision_count),
                            hash_label=HASH_LABEL)
    try:
        return await client.create(info, revision, meta.get("namespace"))
    except ApiError as e:
        if e.code != 409:
            raise
    existing = await client.get(info, revision["metadata"]["name"], meta.get("namespace"))
    if revision_matches(ds, existing):
        return existing
    # a different template hashed to the same name: bump collisionCount on the live object
    ds_info = client.resource("apps", "daemonsets")
    fresh = await client.get(ds_info, meta["name"], meta.get("namespace"))
    if (fresh.get("status") or {}).get("collisionCount") != collision_count:
        raise HashCollision(f"stale collisionCount for DaemonSet {meta['name']}; retrying")
    fresh.setdefault("status", {})["collisionCount"] = int(collision_count or 0) + 1
    await client.update_status(ds_info, fresh)
    raise HashCollision(f"hash collision for DaemonSet {meta['name']}: bumped collisionCount")


async def _dedup(client, info, current: list[dict], pods: list[dict]) -> dict:
    """Keep the highest-numbered equal revision; relabel pods to it and delete the others."""
    keep = current[0]
    for revision in current:
        if _revision_number(revision) >= _revision_number(keep):
            keep = revision
    if len(current) == 1:
        return keep
    keep_hash = keep["metadata"]["labels"][HASH_LABEL]
    pods_info = client.resource("", "pods")
    for pod in pods:
        if (pod["metadata"].get("labels") or {}).get(HASH_LABEL) != keep_hash:
            await client.patch(pods_info, pod["metadata"]["name"], {"metadata": {"labels": {HASH_LABEL: keep_hash}}},
                               pod["metadata"].get("namespace"), patch_type="merge")
    for revision in current:
        if revision is keep:
            continue
        try:
            await client.delete(info, revision["metadata"]["name"], revision["metadata"].get("namespace"))
        except ApiError as e:
            if e.code != 404:
                raise
    return keep


async def cleanup_history(client, ds: dict, old: list[dict], pods: list[dict]) -> None:
    """Delete the oldest old revisions beyond revisionHistoryLimit that no live pod uses."""
    live = {h for p in pods if (h := (p["metadata"].get("labels") or {}).get(HASH_LABEL))}
    await truncate_history(client, old, live, (ds.get("spec") or {}).get("revisionHistoryLimit"), count_live=True)
