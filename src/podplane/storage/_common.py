"""Checks and key-range helpers shared by the drivers that own their log (memory, sqlite).

They keep the contract's edge cases (revision 0 meaning "latest", compacted and
future revisions, prefix ranges) worded and decided in one place, so the drivers
cannot drift apart. storage/interface.py states the rules; these enforce them.
"""

from __future__ import annotations

from podplane.storage.errors import CompactedError, FutureRevisionError, StorageUnavailableError

__all__ = ["check_watch_start", "prefix_end", "require_open", "resolve_read_revision"]


def require_open(is_open: bool, what: str) -> None:
    if not is_open:
        raise StorageUnavailableError(f"{what} is not open")


def resolve_read_revision(revision: int, *, compacted: int, current: int) -> int:
    """The revision a read should reflect: `revision`, or the current one for 0."""
    if revision < 0:
        raise ValueError(f"revision must be >= 0, got {revision}")
    if revision == 0:
        return current
    if revision < compacted:
        raise CompactedError(compacted, current)
    if revision > current:
        raise FutureRevisionError(revision, current)
    return revision


def check_watch_start(after_revision: int, *, compacted: int, current: int) -> int:
    """The revision a new watcher starts after: `after_revision`, or now for 0."""
    if after_revision < 0:
        raise ValueError(f"after_revision must be >= 0, got {after_revision}")
    if after_revision == 0:
        return current
    if after_revision < compacted:
        raise CompactedError(compacted, current)
    return after_revision


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix` (None: no bound).

    Lets an ordered index answer a prefix query as the range [prefix, end), like
    etcd's range_end. Increments the last code point, dropping trailing maximal
    ones and stepping over the surrogate block (not encodable as UTF-8).
    """
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code <= 0x10FFFF:
            if 0xD800 <= code <= 0xDFFF:
                code = 0xE000
            return "".join(chars) + chr(code)
    return None
