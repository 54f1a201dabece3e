"""Watch streams: newline-delimited JSON events over a chunked HTTP response.

`WatchServer.serve` implements the upstream watch contract for one collection:
- resourceVersion unset or "0": synthetic ADDED events for the current objects, then
  changes; "N": only changes after revision N, replayed from the store's history;
  a revision older than the last compaction gives an ERROR event with a 410
  Expired Status (clients then relist);
- sendInitialEvents=true (WatchList, used by `kubectl rollout status|wait|delete`):
  ADDED events for the current objects, then a BOOKMARK annotated
  `k8s.io/initial-events-end`, then changes;
- label and field selectors, with objects moving in or out of a selector turned into
  ADDED / DELETED as the upstream watch cache does;
- periodic BOOKMARKs when allowWatchBookmarks=true; timeoutSeconds ends the stream;
- Table events (one row per event) when the client asked for Tables (`get -w`).

Reads come from `ObjectStore` and the storage backend's watch; nothing is written.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections import OrderedDict

import orjson
from aiohttp import web

from podplane.api import errors, printers
from podplane.api.jsonvalue import dumps
from podplane.api.registry import ResourceInfo
from podplane.api.selectors import (
    FieldSelector,
    LabelSelector,
    parse_field_selector,
    parse_label_selector,
    validate_field_selector,
)
from podplane.apiserver.objects import ObjectStore
from podplane.apiserver.request import Target, flag, list_options_error, wants_table
from podplane.settings import ApiServerSettings
from podplane.storage import CompactedError, StorageError

__all__ = ["WatchServer"]

_EVENT_CACHE_SIZE = 4096
"""Recent events kept decoded/encoded for the watchers still catching up with them."""

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"

_WRITE_BATCH = 200
"""Watch events joined into one write at most (bounds the size of one chunk)."""


class WatchServer:
    def __init__(self, store: ObjectStore, settings: ApiServerSettings) -> None:
        self.store = store
        self.settings = settings
        self.active = 0
        # shared by all watches: an event is decoded and JSON-encoded once, not per watcher
        self._decoded: OrderedDict[tuple, dict] = OrderedDict()
        self._encoded: OrderedDict[tuple, bytes] = OrderedDict()

    async def serve(self, request: web.Request, target: Target) -> web.StreamResponse:
        info, q = target.info, request.query
        labels = parse_label_selector(q.get("labelSelector", ""))
        field_text = q.get("fieldSelector", "")
        if target.name:
            name_sel = f"metadata.name={target.name}"
            field_text = f"{field_text},{name_sel}" if field_text else name_sel
        fields = parse_field_selector(field_text)
        fields = validate_field_selector(info, fields)
        send_initial = q.get("sendInitialEvents")
        bookmarks = flag(q.get("allowWatchBookmarks"))
        rv = q.get("resourceVersion", "")
        error = list_options_error(q, watch=True)  # usually already answered by the REST handler
        if error is not None:
            raise error
        timeout = self.settings.default_watch_timeout * (1 + random.random())
        if q.get("timeoutSeconds"):
            try:
                timeout = min(timeout, float(q["timeoutSeconds"]))
            except ValueError:
                raise errors.bad_request(f"invalid timeoutSeconds {q['timeoutSeconds']!r}") from None
        as_table = wants_table(request.headers.get("Accept"))

        initial: list[dict] = []
        initial_end = False
        if flag(send_initial) or (send_initial is None and rv in ("", "0")):
            page = await self.store.list(info, target.namespace, labels=labels, fields=fields)
            initial = page.items
            start = page.revision
            initial_end = flag(send_initial)
        elif send_initial is not None and not flag(send_initial):
            start = int(rv) if rv and rv != "0" else await self.store.current_revision()
        else:
            try:
                start = int(rv)
            except ValueError:
                raise errors.bad_request(f"invalid resource version: {rv!r}") from None

        response = web.StreamResponse(status=200, headers={
            "Content-Type": TABLE_CONTENT_TYPE if as_table else "application/json",
            "Cache-Control": "no-cache, private",
        })
        response.enable_chunked_encoding()
        await response.prepare(request)
        stream = _EventWriter(response, info, as_table, q.get("includeObject", "Metadata"), self._encoded)
        self.active += 1
        try:
            await self._stream(stream, info, target.namespace, labels, fields, start, initial, initial_end,
                               bookmarks, deadline_in=timeout)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.active -= 1
        return response

    async def _stream(self, out: _EventWriter, info: ResourceInfo, namespace: str | None,
                      labels: LabelSelector, fields: FieldSelector, start: int, initial: list[dict],
                      initial_end: bool, bookmarks: bool, deadline_in: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_in
        try:
            watcher = self.store.backend.watch(info.storage_prefix(namespace), start)
        except CompactedError as e:
            await out.error(410, "Expired", f"too old resource version: {start} ({e.compact_revision})")
            return
        last_rv = start
        try:
            for begin in range(0, len(initial), _WRITE_BATCH):
                await out.write(b"".join(out.line("ADDED", obj) for obj in initial[begin:begin + _WRITE_BATCH]))
            if initial_end:
                await out.bookmark(last_rv, initial_end=True)
            iterator = watcher.__aiter__()
            next_bookmark = loop.time() + self.settings.watch_bookmark_interval
            pending = None
            while True:
                now = loop.time()
                if now >= deadline:
                    return
                wait = deadline - now
                if bookmarks:
                    wait = min(wait, max(0.0, next_bookmark - now))
                if pending is None:
                    pending = asyncio.ensure_future(iterator.__anext__())
                done, _ = await asyncio.wait({pending}, timeout=wait)
                if not done:
                    if bookmarks and loop.time() >= next_bookmark:
                        await out.bookmark(last_rv)
                        next_bookmark = loop.time() + self.settings.watch_bookmark_interval
                    continue
                task, pending = pending, None
                try:
                    batch = task.result()
                except StopAsyncIteration:
                    return
                except CompactedError as e:
                    await out.error(410, "Expired", f"too old resource version: {start} ({e.compact_revision})")
                    return
                except StorageError as e:
                    await out.error(410, "Expired", f"watch closed by the store, please relist: {e}")
                    return
                # One write per batch of store events, not per event: each write is a chunk, a
                # TLS record and a send() per watcher, and a burst of writes arrives in batches.
                lines = []
                for event in batch:
                    last_rv = event.kv.mod_revision
                    line = self._line(out, info, event, labels, fields)
                    if line is not None:
                        lines.append(line)
                for begin in range(0, len(lines), _WRITE_BATCH):
                    await out.write(b"".join(lines[begin:begin + _WRITE_BATCH]))
        finally:
            if "pending" in locals() and pending is not None:
                pending.cancel()
            watcher.close()

    def _decode(self, kv, revision: int | None = None) -> dict:
        """Decode once per event for all watchers of it (objects are shared, read-only)."""
        key = (kv.key, kv.mod_revision, revision)
        obj = self._decoded.get(key)
        if obj is None:
            obj = self.store.decode(kv, revision)
            self._decoded[key] = obj
            if len(self._decoded) > _EVENT_CACHE_SIZE:
                self._decoded.popitem(last=False)
        return obj

    def _line(self, out: _EventWriter, info: ResourceInfo, event, labels, fields) -> bytes | None:
        """The watch event line for a store event, or None when the selectors filter it out."""
        store = self.store
        revision = event.kv.mod_revision
        if event.type == "DELETE":
            prev = event.prev_kv or event.kv
            obj = self._decode(prev, revision)
            if store.matches(info, obj, labels, fields):
                return out.line("DELETED", obj, (prev.key, revision, "prev"))
            return None
        obj = self._decode(event.kv)
        now_match = store.matches(info, obj, labels, fields)
        cache_key = (event.kv.key, revision, "cur")
        if event.created or event.prev_kv is None:
            return out.line("ADDED", obj, cache_key) if now_match else None
        prev_obj = self._decode(event.prev_kv, revision)
        was_match = store.matches(info, prev_obj, labels, fields)
        if now_match and was_match:
            return out.line("MODIFIED", obj, cache_key)
        if now_match:
            return out.line("ADDED", obj, cache_key)
        if was_match:
            return out.line("DELETED", obj, cache_key)
        return None


class _EventWriter:
    def __init__(self, response: web.StreamResponse, info: ResourceInfo, as_table: bool,
                 include_object: str, encoded: OrderedDict | None = None) -> None:
        self.response = response
        self.encoded = encoded if encoded is not None else OrderedDict()
        self.info = info
        self.as_table = as_table
        self.include_object = include_object

    def line(self, event_type: str, obj: dict, cache_key: tuple | None = None) -> bytes:
        """One newline-terminated watch event; JSON lines are encoded once for all watchers."""
        obj.setdefault("apiVersion", self.info.api_version)
        obj.setdefault("kind", self.info.kind)
        if self.as_table:
            obj = printers.build_table(self.info, [obj], now=dt.datetime.now(dt.UTC),
                                       include_object=self.include_object,
                                       resource_version=obj["metadata"].get("resourceVersion", ""))
            return dumps({"type": event_type, "object": obj}) + b"\n"
        line = None
        if cache_key is not None:
            # every JSON watcher of an event sends the same bytes: encode them once
            cache_key = (event_type, *cache_key)
            line = self.encoded.get(cache_key)
        if line is None:
            line = dumps({"type": event_type, "object": obj}) + b"\n"
            if cache_key is not None:
                self.encoded[cache_key] = line
                if len(self.encoded) > _EVENT_CACHE_SIZE:
                    self.encoded.popitem(last=False)
        return line

    async def send(self, event_type: str, obj: dict, cache_key: tuple | None = None) -> None:
        await self.response.write(self.line(event_type, obj, cache_key))

    async def write(self, data: bytes) -> None:
        if data:
            await self.response.write(data)

    async def bookmark(self, revision: int, initial_end: bool = False) -> None:
        meta: dict = {"resourceVersion": str(revision)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.info.kind, "apiVersion": self.info.api_version, "metadata": meta}
        await self.response.write(orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n")

    async def error(self, code: int, reason: str, message: str) -> None:
        status = errors.ApiError(code, reason, message).to_status()
        await self.response.write(orjson.dumps({"type": "ERROR", "object": status}) + b"\n")
