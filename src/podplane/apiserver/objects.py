"""Object store: Kubernetes objects on top of the revisioned key-value backend.

This is the apiserver's generic registry store (upstream `genericregistry.Store`):
it encodes objects as JSON under `ResourceInfo.storage_key`, turns the backend's
revisions into `metadata.resourceVersion`, and offers get / list (selectors,
limit+continue, snapshot reads) / create / guaranteed_update (read-modify-CAS with
retries) / delete (preconditions, graceful deletion, finalizers). Storage errors are
translated into `ApiError`s with upstream wording here, and only here.

Callers: `apiserver.rest` (HTTP verbs) and `apiserver.watch`. Strategy decisions
(what a kind resets, defaults or validates) live in `apiserver.strategy`.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson

from podplane.api import errors
from podplane.api.jsonvalue import MAX_DEPTH, TooDeepError, dumps
from podplane.api.registry import ResourceInfo
from podplane.api.selectors import FieldSelector, LabelSelector, field_set
from podplane.storage import (
    Backend,
    CompactedError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionConflictError,
)

__all__ = ["ListPage", "ObjectStore", "decode_continue", "encode_continue"]

MAX_UPDATE_RETRIES = 32


def encode_continue(revision: int, last_key: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": last_key})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        return int(data["rv"]), str(data["start"])
    except Exception as e:
        raise errors.bad_request(f"continue key is not valid: {e}") from None


@dataclass
class ListPage:
    items: list[dict]
    revision: int
    continue_token: str = ""
    remaining: int | None = None
    raw: list[bytes] | None = None
    """With `list(raw=True)`: the items as JSON bytes (resourceVersion set), not decoded."""


_METADATA_KEY = b'"metadata":{'


class ObjectStore:
    """Typed-by-ResourceInfo access to objects held in a storage backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    # -- encoding ------------------------------------------------------------------------
    @staticmethod
    def encode(obj: dict) -> bytes:
        meta = obj.get("metadata") or {}
        if "resourceVersion" in meta:
            meta = {k: v for k, v in meta.items() if k != "resourceVersion"}
        # apiVersion, kind, metadata first: `with_revision` relies on metadata being the
        # first object-valued key when it splices the resourceVersion into stored bytes
        ordered = {k: obj[k] for k in ("apiVersion", "kind") if k in obj}
        ordered["metadata"] = meta
        ordered.update((k, v) for k, v in obj.items() if k not in ordered)
        obj = ordered
        try:
            # deeper than orjson's encoder allows is fine; deeper than its decoder reads back is not
            return dumps(obj, max_depth=MAX_DEPTH)
        except TooDeepError as e:
            raise errors.bad_request(f"the object cannot be stored: {e}") from None

    @classmethod
    def with_revision(cls, kv: KeyValue) -> bytes:
        """The stored JSON with metadata.resourceVersion spliced in, without decoding it
        (LIST of 10,000 objects spends most of its time decoding and re-encoding)."""
        value = kv.value
        at = value.find(_METADATA_KEY)
        if at < 0 or value.count(b"{", 0, at) != 1:
            return dumps(cls.decode(kv), max_depth=MAX_DEPTH)  # stored in another key order
        at += len(_METADATA_KEY)
        field = b'"resourceVersion":"%d"' % kv.mod_revision
        return value[:at] + field + (b"" if value[at:at + 1] == b"}" else b",") + value[at:]

    @staticmethod
    def decode(kv: KeyValue, revision: int | None = None) -> dict:
        obj = orjson.loads(kv.value)
        obj.setdefault("metadata", {})["resourceVersion"] = str(revision or kv.mod_revision)
        return obj

    # -- reads ---------------------------------------------------------------------------
    async def get(self, info: ResourceInfo, namespace: str | None, name: str) -> dict:
        kv = await self.backend.get(info.storage_key(namespace, name))
        if kv is None:
            raise errors.not_found(info.plural, name, info.group)
        return self.decode(kv)

    async def get_or_none(self, info: ResourceInfo, namespace: str | None, name: str) -> dict | None:
        kv = await self.backend.get(info.storage_key(namespace, name))
        return None if kv is None else self.decode(kv)

    async def current_revision(self) -> int:
        return await self.backend.current_revision()

    async def list(
        self,
        info: ResourceInfo,
        namespace: str | None,
        *,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
        limit: int = 0,
        continue_token: str = "",
        revision: int = 0,
        raw: bool = False,
    ) -> ListPage:
        prefix = info.storage_prefix(namespace)
        start_after = ""
        if continue_token:
            revision, start_after = decode_continue(continue_token)
            if not start_after.startswith(prefix):
                raise errors.bad_request("continue key is not valid: it does not belong to this list")
        filtered = bool((labels and not labels.empty) or (fields and not fields.empty))
        items: list = []
        more = False
        last_key = start_after
        try:
            while True:
                # Over-fetch when filtering so one page usually needs a single backend call.
                chunk = 0 if not limit else (limit - len(items) if not filtered else max(limit * 2, 500))
                result = await self.backend.list(prefix, revision=revision, limit=chunk,
                                                 start_after=last_key)
                revision = result.revision
                for index, kv in enumerate(result.kvs):
                    if filtered and not self._matches(info, self.decode(kv), labels, fields):
                        continue
                    items.append(self.with_revision(kv) if raw else self.decode(kv))
                    if limit and len(items) >= limit:
                        last_key = kv.key
                        more = index < len(result.kvs) - 1 or result.more
                        break
                else:
                    if result.kvs:
                        last_key = result.kvs[-1].key
                    if result.more and (not limit or len(items) < limit):
                        continue
                    more = False
                break
        except CompactedError:
            if continue_token:
                raise errors.ApiError(
                    410, "Expired",
                    "The provided continue parameter is too old to display a consistent list result. "
                    "You can start a new list without the continue parameter, or use the continue token "
                    "in this response to retrieve the remainder of the results.") from None
            raise errors.gone(f"too old resource version: {revision}") from None
        except FutureRevisionError:
            raise errors.ApiError(504, "Timeout",
                                  f"Too large resource version: {revision}, current: "
                                  f"{await self.backend.current_revision()}", retry_after=1) from None
        page = ListPage(items=[], raw=items, revision=revision) if raw else ListPage(items=items,
                                                                                    revision=revision)
        if more and limit:
            # remainingItemCount is optional upstream; it is left out rather than estimated
            page.continue_token = encode_continue(revision, last_key)
        return page

    @staticmethod
    def _matches(info: ResourceInfo, obj: dict, labels: LabelSelector | None,
                 fields: FieldSelector | None) -> bool:
        if labels is not None and not labels.empty:
            if not labels.matches((obj.get("metadata") or {}).get("labels") or {}):
                return False
        if fields is not None and not fields.empty:
            if not fields.matches(field_set(info, obj)):
                return False
        return True

    def matches(self, info: ResourceInfo, obj: dict, labels: LabelSelector | None,
                fields: FieldSelector | None) -> bool:
        return self._matches(info, obj, labels, fields)

    # -- writes --------------------------------------------------------------------------
    async def create(self, info: ResourceInfo, obj: dict) -> dict:
        meta = obj["metadata"]
        key = info.storage_key(meta.get("namespace"), meta["name"])
        try:
            revision = await self.backend.create(key, self.encode(obj))
        except KeyExistsError:
            raise errors.already_exists(info.plural, meta["name"], info.group) from None
        out = dict(obj)
        out["metadata"] = {**meta, "resourceVersion": str(revision)}
        return out

    async def write(self, info: ResourceInfo, old: dict, new: dict) -> dict:
        """CAS-write `new` over `old` (whose resourceVersion is the expected revision)."""
        meta = new["metadata"]
        key = info.storage_key(meta.get("namespace"), meta["name"])
        expected = int(old["metadata"]["resourceVersion"])
        try:
            revision = await self.backend.update(key, self.encode(new), expected)
        except KeyNotFoundError:
            raise errors.not_found(info.plural, meta["name"], info.group) from None
        except RevisionConflictError:
            raise errors.conflict(info.plural, meta["name"], info.group) from None
        out = dict(new)
        out["metadata"] = {**meta, "resourceVersion": str(revision)}
        return out

    async def remove(self, info: ResourceInfo, obj: dict) -> dict:
        """Delete the stored object if it is still at obj's resourceVersion."""
        meta = obj["metadata"]
        key = info.storage_key(meta.get("namespace"), meta["name"])
        try:
            revision, _ = await self.backend.delete(key, int(meta["resourceVersion"]))
        except KeyNotFoundError:
            raise errors.not_found(info.plural, meta["name"], info.group) from None
        except RevisionConflictError:
            raise errors.conflict(info.plural, meta["name"], info.group) from None
        out = dict(obj)
        out["metadata"] = {**meta, "resourceVersion": str(revision)}
        return out

    async def guaranteed_update(
        self,
        info: ResourceInfo,
        namespace: str | None,
        name: str,
        mutate: Callable[[dict], Awaitable[dict | None]],
    ) -> tuple[dict, dict]:
        """Read, mutate, CAS-write; retry on conflicts the caller did not ask for.

        `mutate(current)` returns the new object, or None for "no change". It raises
        ApiError to abort (for example a Conflict when the caller's own resourceVersion
        precondition fails). Returns (old, new).
        """
        for _ in range(MAX_UPDATE_RETRIES):
            current = await self.get(info, namespace, name)
            new = await mutate(current)
            if new is None:
                return current, current
            try:
                return current, await self.write(info, current, new)
            except errors.ApiError as e:
                if e.code == 409 and e.reason == "Conflict":
                    continue
                raise
        raise errors.conflict(info.plural, name, info.group,
                              "too many concurrent updates; please retry")
