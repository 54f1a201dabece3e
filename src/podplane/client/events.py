"""Event recorder: core/v1 Events about objects, aggregated like upstream's recorder.

`EventRecorder(client, component, host)` writes `Event` objects in the involved
object's namespace. Repeats of the same (object, type, reason, message) within the
aggregation window update the existing event (count, lastTimestamp) instead of
creating new ones, so a crash-looping pod does not flood the store. Recording never
raises: events are best effort, a failure is logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time

from podplane.api.errors import ApiError
from podplane.api.meta import new_uid, now_rfc3339
from podplane.client.transport import TransportError

__all__ = ["EventRecorder"]

log = logging.getLogger(__name__)


def object_reference(obj: dict, field_path: str = "") -> dict:
    meta = obj.get("metadata") or {}
    ref = {"kind": obj.get("kind", ""), "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
           "uid": meta.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
           "resourceVersion": meta.get("resourceVersion", "")}
    if field_path:
        ref["fieldPath"] = field_path
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    def __init__(self, client, component: str, host: str = "", *, window: float = 600.0) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.window = window
        self._seen: dict[tuple, tuple[str, str, int, float]] = {}  # key → (ns, name, count, first time)
        self._events = client.resource("", "events")
        self._tasks: set[asyncio.Task] = set()

    def event(self, obj: dict, event_type: str, reason: str, message: str, field_path: str = "") -> None:
        """Record asynchronously (fire and forget)."""
        task = asyncio.get_running_loop().create_task(self.record(obj, event_type, reason, message, field_path))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def record(self, obj: dict, event_type: str, reason: str, message: str, field_path: str = "") -> None:
        ref = object_reference(obj, field_path)
        namespace = ref.get("namespace") or "default"
        key = (ref.get("uid"), ref.get("name"), field_path, event_type, reason, message)
        now = now_rfc3339()
        seen = self._seen.get(key)
        try:
            if seen is not None and time.monotonic() - seen[3] < self.window:
                ns, name, count, first = seen
                await self.client.patch(self._events, name, {"count": count + 1, "lastTimestamp": now},
                                                namespace=ns)
                self._seen[key] = (ns, name, count + 1, first)
                return
            name = f"{ref.get('name', 'unknown')}.{new_uid().replace('-', '')[:16]}"
            event = {
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": ref, "reason": reason, "message": message[:1024], "type": event_type,
                "source": {"component": self.component, **({"host": self.host} if self.host else {})},
                "firstTimestamp": now, "lastTimestamp": now, "count": 1,
                "eventTime": None, "reportingComponent": self.component, "reportingInstance": self.host,
            }
            await self.client.create(self._events, event, namespace)
            self._seen[key] = (namespace, name, 1, time.monotonic())
            if len(self._seen) > 4096:
                self._seen.pop(next(iter(self._seen)))
        except (ApiError, TransportError) as e:
            log.debug("dropping event %s/%s: %s", reason, ref.get("name"), e)
            self._seen.pop(key, None)

