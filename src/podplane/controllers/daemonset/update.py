"""RollingUpdate planning for DaemonSets: which old pods to delete, which nodes get a surge pod.

Pure functions (upstream `rollingUpdate`, `findUpdatedPodsOnNode`, `util.SurgeCount` /
`UnavailableCount` / `IsPodUpdated`). Two modes, as upstream:

- maxSurge == 0: delete old pods while the number of unavailable nodes stays within
  maxUnavailable; old pods that are already unavailable are always replaced. The manage
  loop then creates the new pod once the old one is gone.
- maxSurge > 0: start a new pod next to an old one on up to maxSurge nodes (immediately
  where the old pod is unavailable); delete the old pod once the new one is available.

`controller.DaemonSetController` calls `plan_rolling_update` after the manage loop when
expectations are satisfied, and executes the plan.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

from podplane.controllers.common import is_pod_available

__all__ = [
    "GENERATION_LABEL",
    "allows_surge",
    "find_updated_pods_on_node",
    "is_pod_updated",
    "plan_rolling_update",
    "scaled_value",
    "surge_count",
    "unavailable_count",
]

HASH_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, "N%" of total (ceil or floor)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        fraction = int(text[:-1]) * total / 100
        return math.ceil(fraction) if round_up else math.floor(fraction)
    return int(text)


def _rolling(ds: dict) -> dict:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return {}
    return strategy.get("rollingUpdate") or {}


def surge_count(ds: dict, desired: int) -> int:
    return scaled_value(_rolling(ds).get("maxSurge"), desired, True)


def unavailable_count(ds: dict, desired: int) -> int:
    return scaled_value(_rolling(ds).get("maxUnavailable"), desired, True)


def allows_surge(ds: dict) -> bool:
    return surge_count(ds, 1) != 0


def is_pod_updated(pod: dict, hash_: str, generation: int | None) -> bool:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    template_matches = generation is not None and labels.get(GENERATION_LABEL) == str(generation)
    hash_matches = bool(hash_) and labels.get(HASH_LABEL) == hash_
    return hash_matches or template_matches


def find_updated_pods_on_node(pods: list[dict], hash_: str,
                              generation: int | None) -> tuple[dict | None, dict | None, bool]:
    """(new pod, old pod, ok): ok is False when a node has two new or two old live pods."""
    new = old = None
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        if is_pod_updated(pod, hash_, generation):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def plan_rolling_update(ds: dict, node_to_pods: dict[str, list[dict]], should_run: Callable[[str], bool],
                        hash_: str, generation: int | None, now: dt.datetime) -> tuple[list[str], list[str]]:
    """Return (names of old pods to delete, nodes that get a new pod now).

    `node_to_pods` maps every node with daemon pods, plus every node that should run one,
    to its live daemon pods; `should_run(node)` tells whether the node is still eligible.
    """
    desired = sum(1 for node in node_to_pods if should_run(node))
    max_surge = surge_count(ds, desired)
    max_unavailable = unavailable_count(ds, desired)
    if desired > 0 and max_surge == 0 and max_unavailable == 0:
        max_unavailable = 1  # upstream: an impossible configuration falls back to one unavailable
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)

    def available(pod: dict) -> bool:
        return is_pod_available(pod, min_ready, now)

    nodes = sorted(node_to_pods)
    if max_surge == 0:
        unavailable = 0
        replacements: list[str] = []
        candidates: list[str] = []
        for node in nodes:
            new, old, ok = find_updated_pods_on_node(node_to_pods[node], hash_, generation)
            if not ok:
                unavailable += 1  # the manage loop prunes the excess first
                continue
            if (old is None) == (new is None):
                unavailable += 1  # nothing yet, or both: the manage loop acts here
            elif new is not None:
                if not available(new):
                    unavailable += 1
            elif not available(old):
                replacements.append(old["metadata"]["name"])
                unavailable += 1
            elif unavailable < max_unavailable:
                candidates.append(old["metadata"]["name"])
        room = max(0, min(max_unavailable - unavailable, len(candidates)))
        return replacements + candidates[:room], []

    to_delete: list[str] = []
    misplaced_old: list[str] = []  # available old pods on nodes that should no longer run one
    surge_candidates: list[str] = []
    surge_now: list[str] = []
    surging = 0
    available_count = 0
    for node in nodes:
        new, old, ok = find_updated_pods_on_node(node_to_pods[node], hash_, generation)
        if not ok:
            surging += 1
            continue
        counted = old if old is not None else new
        if counted is not None and available(counted):
            available_count += 1
        if old is None:
            continue
        if new is None:
            if not available(old):
                if not should_run(node):
                    to_delete.append(old["metadata"]["name"])
                else:
                    surge_now.append(node)
            elif not should_run(node):
                misplaced_old.append(old["metadata"]["name"])
            elif surging < max_surge:
                surge_candidates.append(node)
        elif not available(new):
            surging += 1  # waiting for the new pod here
        else:
            to_delete.append(old["metadata"]["name"])  # new pod available: retire the old one
    # with surge the owner wants full availability: drop pods on ineligible nodes only as
    # replacements elsewhere become available
    deletable = min(available_count - desired, len(misplaced_old))
    if deletable > 0:
        to_delete.extend(misplaced_old[:deletable])
    room = max(0, min(max_surge - surging, len(surge_candidates)))
    return to_delete, surge_now + surge_candidates[:room]
