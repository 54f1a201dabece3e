"""Completion indexes of Indexed Jobs (upstream indexed_job_utils.go).

A pod's index lives in the `batch.kubernetes.io/job-completion-index` annotation (and
label); `status.completedIndexes` is a compressed interval list such as "0-2,5".
Pure functions.
"""

from __future__ import annotations

__all__ = [
    "COMPLETION_INDEX_KEY",
    "completion_index",
    "first_pending_indexes",
    "format_indexes",
    "parse_indexes",
]

COMPLETION_INDEX_KEY = "batch.kubernetes.io/job-completion-index"


def completion_index(pod: dict) -> int | None:
    """The pod's completion index, or None when missing or not a non-negative integer."""
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(COMPLETION_INDEX_KEY)
    if value is None or not value.isdigit():
        return None
    return int(value)


def parse_indexes(text: str | None, completions: int) -> set[int]:
    """"0-2,5" → {0, 1, 2, 5}, dropping anything at or above `completions` or malformed."""
    result: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            continue
        result.update(i for i in range(first, min(last, completions - 1) + 1) if i >= 0)
    return result


def format_indexes(indexes: set[int] | list[int]) -> str:
    """{0, 1, 2, 5} → "0-2,5" (single runs of two are written "3,4", as upstream)."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        if j == i:
            parts.append(str(ordered[i]))
        elif j == i + 1:
            parts.extend((str(ordered[i]), str(ordered[j])))
        else:
            parts.append(f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def first_pending_indexes(completions: int, succeeded: set[int], active_pods: list[dict], count: int) -> list[int]:
    """The lowest `count` indexes that neither succeeded nor have an active pod."""
    taken = set(succeeded)
    for pod in active_pods:
        index = completion_index(pod)
        if index is not None:
            taken.add(index)
    pending: list[int] = []
    for index in range(completions):
        if len(pending) >= count:
            break
        if index not in taken:
            pending.append(index)
    return pending
