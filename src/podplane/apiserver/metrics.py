"""The resource metrics API (metrics.k8s.io/v1beta1), served like metrics-server serves it.

`MetricsApi.handle` answers GET and LIST of PodMetrics (`pods`, namespaced or across all
namespaces, label selector, field selector on metadata.name/namespace) and NodeMetrics
(`nodes`, label selector), which is what `kubectl top` and `kubernetes.utils.get_*_metrics`
read. Flow: list the pods (or Ready nodes) in storage, fetch the kubelet-style Summary
(`agent.stats`) of every node involved through the injected coroutine
`fetch_summary(node_name)` (the node proxy), and turn `usageNanoCores` and `workingSetBytes`
into `usage` quantities formatted as metrics-server does (cpu "1234567n"/"250m", memory
"10241Ki"/"20Mi"). Summaries are cached for `cache_ttl` seconds (metrics-server scrapes every 15 s)
and concurrent requests share one fetch; a node that fails or exceeds `timeout` is skipped
(its pods are missing from lists), and a pod or container without a rate yet is omitted, as
metrics-server omits what it has no two points for. `window` is the longest interval an agent's
rate covers (its `max_window`). Without a `fetch_summary` every request is 503.
The registry entries (`ResourceInfo.handler == "metrics"`) put the group into discovery;
`apiserver.app` routes their requests here instead of to the storage-backed `rest` handler.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from podplane.api import errors
from podplane.api.registry import Registry, ResourceInfo
from podplane.api.selectors import (
    field_set,
    parse_field_selector,
    parse_label_selector,
    validate_field_selector,
)
from podplane.apiserver.objects import ObjectStore
from podplane.apiserver.request import Target, flag, wants_table
from podplane.apiserver.rest import json_response

__all__ = ["GROUP", "HANDLER", "VERSION", "FetchSummary", "MetricsApi", "format_bytes", "format_cpu",
           "go_duration"]

log = logging.getLogger(__name__)

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
HANDLER = "metrics"
"""`ResourceInfo.handler` of the resources this module serves."""
API_VERSION = f"{GROUP}/{VERSION}"
TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"

FetchSummary = Callable[[str], Awaitable[dict]]

_DECIMAL_SUFFIXES = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


def format_cpu(nanocores: int) -> str:
    """resource.NewScaledQuantity(n, -9).String(): the largest SI suffix that keeps an integer
    (1234567n, 1230u, 250m, 2, 1k)."""
    n = int(nanocores)
    if n == 0:
        return "0"
    exponent = -9
    while n % 10 == 0:
        n //= 10
        exponent += 1
    while exponent % 3:
        n *= 10
        exponent -= 1
    while exponent > 18:
        n *= 1000
        exponent -= 3
    return f"{n}{_DECIMAL_SUFFIXES[exponent]}"


def format_bytes(count: int) -> str:
    """A BinarySI quantity's String(): Ki/Mi/... while divisible by 1024 (10240Ki, 20Mi, 12345),
    decimal below 1024 bytes."""
    n = int(count)
    if -1024 < n < 1024:
        return format_cpu(n * 1_000_000_000)
    power = 0
    while n % 1024 == 0 and power < len(_BINARY_SUFFIXES) - 1:
        n //= 1024
        power += 1
    return f"{n}{_BINARY_SUFFIXES[power]}"


def go_duration(seconds: float) -> str:
    """time.Duration.String() for whole milliseconds and up: 15s, 1m0s, 1.5s, 500ms."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, frac = divmod(rest, 1000)
    sec = f"{secs}.{frac:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{sec}"
    if minutes:
        return f"{minutes}m{sec}"
    return sec


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _usage(stats: dict) -> tuple[int, int, str] | None:
    """(nanocores, working-set bytes, timestamp) of a summary entry; None when either is missing."""
    cpu, memory = stats.get("cpu") or {}, stats.get("memory") or {}
    nanocores, working_set = cpu.get("usageNanoCores"), memory.get("workingSetBytes")
    if not isinstance(nanocores, int) or not isinstance(working_set, int):
        return None
    stamp = min((t for t in (cpu.get("time"), memory.get("time")) if isinstance(t, str)), default="")
    return nanocores, working_set, stamp


def _node_ready(node: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or ())


class MetricsApi:
    """See the module docstring. `fetch_summary` may be set after construction."""

    def __init__(self, store: ObjectStore, registry: Registry, *, fetch_summary: FetchSummary | None = None,
                 cache_ttl: float = 5.0, timeout: float = 5.0, window: float = 15.0,
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.registry = registry
        self.fetch_summary = fetch_summary
        self.cache_ttl = cache_ttl
        self.timeout = timeout
        self.window = window
        self.clock = clock
        self.monotonic = monotonic
        self._cache: dict[str, tuple[float, dict | None]] = {}
        self._inflight: dict[str, asyncio.Future] = {}

    # --- summaries --------------------------------------------------------------------------

    async def summary(self, node: str) -> dict | None:
        """The node's Summary, from the cache or one shared fetch; None if the node failed."""
        hit = self._cache.get(node)
        if hit is not None and hit[0] > self.monotonic():
            return hit[1]
        task = self._inflight.get(node)
        if task is None:
            task = asyncio.ensure_future(self._fetch(node))
            self._inflight[node] = task
            task.add_done_callback(lambda _t, n=node: self._inflight.pop(n, None))
        return await asyncio.shield(task)

    async def _fetch(self, node: str) -> dict | None:
        fetch = self.fetch_summary
        doc: dict | None = None
        if fetch is not None:
            try:
                doc = await asyncio.wait_for(fetch(node), self.timeout)
                if not isinstance(doc, dict):
                    raise TypeError(f"the summary is a {type(doc).__name__}, not an object")
            except asyncio.CancelledError:
                raise
            except TimeoutError:
                log.warning("metrics: node %s did not send its summary within %.0fs; skipping it", node,
                            self.timeout)
                doc = None
            except Exception as e:  # one dead node must not fail the list (metrics-server skips it)
                log.warning("metrics: cannot fetch the summary of node %s: %s", node, e)
                doc = None
        now = self.monotonic()
        for name in [n for n, (expires, _) in self._cache.items() if expires <= now]:
            del self._cache[name]
        self._cache[node] = (now + self.cache_ttl, doc)
        return doc

    async def _summaries(self, nodes: list[str]) -> dict[str, dict]:
        docs = await asyncio.gather(*(self.summary(n) for n in nodes))
        return {n: d for n, d in zip(nodes, docs, strict=True) if d is not None}

    # --- HTTP -------------------------------------------------------------------------------

    async def handle(self, request: web.Request, target: Target) -> web.StreamResponse:
        info = target.info
        if request.method != "GET":
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
                request.method, request.method.lower())
            if verb == "delete" and target.name is None:
                verb = "deletecollection"
            raise errors.method_not_supported(info.plural, verb, info.group)
        if target.watch_path or flag(request.query.get("watch")):
            raise errors.method_not_supported(info.plural, "watch", info.group)
        if target.subresource or (info.namespaced and target.name is not None and target.namespace is None):
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        if self.fetch_summary is None:
            # no Retry-After: kubectl would retry ten times before printing the message
            raise errors.ApiError(503, "ServiceUnavailable",
                                  "the metrics API has no node agents to ask: this API server runs without a "
                                  "node proxy, so node and pod usage cannot be read")
        if info.plural == "pods":
            found = await self._pod_metrics(request, info, target.namespace, target.name)
        else:
            found = await self._node_metrics(request, info, target.name)
        table = wants_table(request.headers.get("Accept"))
        items = [item for item, _ in found]
        if table:
            body = self._table(found, request)
        elif target.name is not None:
            body = items[0]
        else:
            # list items carry no kind/apiVersion, as a Go list encodes them
            body = {"kind": info.list_kind, "apiVersion": API_VERSION, "metadata": {},
                    "items": [{k: v for k, v in i.items() if k not in ("kind", "apiVersion")} for i in items]}
        return json_response(body, 200, TABLE_CONTENT_TYPE if table else "application/json")

    def _selectors(self, request: web.Request, info: ResourceInfo):
        q = request.query
        labels = parse_label_selector(q.get("labelSelector", ""))
        fields = validate_field_selector(info, parse_field_selector(q.get("fieldSelector", "")))
        return labels, fields

    # --- pods -------------------------------------------------------------------------------

    async def _pod_metrics(self, request: web.Request, info: ResourceInfo, namespace: str | None,
                           name: str | None) -> list[tuple[dict, tuple[int, int]]]:
        """(PodMetrics, (total nanocores, total bytes)) of every selected pod with metrics."""
        pods_info = self.registry.get("", "v1", "pods")
        assert pods_info is not None
        if name is not None:
            pod = await self.store.get_or_none(pods_info, namespace, name)
            if pod is None:
                raise errors.not_found("pods", name)
            pods = [pod]
        else:
            labels, fields = self._selectors(request, info)
            page = await self.store.list(pods_info, namespace, labels=labels)
            pods = [p for p in page.items if fields.empty or fields.matches(field_set(info, p))]
        pods = [p for p in pods if (p.get("spec") or {}).get("nodeName")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        summaries = await self._summaries(sorted({p["spec"]["nodeName"] for p in pods}))
        by_ref: dict[tuple[str, str], dict] = {}
        for doc in summaries.values():
            for entry in doc.get("pods") or ():
                ref = entry.get("podRef") or {}
                by_ref[(ref.get("namespace") or "", ref.get("name") or "")] = entry
        now = _rfc3339(self.clock())
        items = []
        for pod in pods:
            meta = pod.get("metadata") or {}
            entry = by_ref.get((meta.get("namespace") or "", meta.get("name") or ""))
            if entry is None:
                continue  # not running there (yet)
            uid = (entry.get("podRef") or {}).get("uid")
            if uid and uid != meta.get("uid"):
                continue  # an older pod of the same name
            item = self._pod_item(meta, entry, now)
            if item is not None:
                items.append(item)
        items.sort(key=lambda m: (m[0]["metadata"]["namespace"], m[0]["metadata"]["name"]))
        if name is not None and not items:
            raise errors.not_found("podmetrics", f"{namespace}/{name}", GROUP)
        return items

    def _pod_item(self, meta: dict, entry: dict, now: str) -> tuple[dict, tuple[int, int]] | None:
        containers = []
        stamps = []
        total_cpu = total_memory = 0
        for c in entry.get("containers") or ():
            usage = _usage(c)
            if usage is None or not c.get("name"):
                return None  # partial results are dropped, like metrics-server (HPA treats missing specially)
            nanocores, working_set, stamp = usage
            stamps.append(stamp)
            total_cpu += nanocores
            total_memory += working_set
            containers.append({"name": c["name"],
                               "usage": {"cpu": format_cpu(nanocores), "memory": format_bytes(working_set)}})
        if not containers:
            return None
        out_meta: dict = {"name": meta.get("name"), "namespace": meta.get("namespace"), "creationTimestamp": now}
        if meta.get("labels"):
            out_meta["labels"] = dict(meta["labels"])
        item = {"kind": "PodMetrics", "apiVersion": API_VERSION, "metadata": out_meta,
                "timestamp": min(s for s in stamps if s) if any(stamps) else now,
                "window": go_duration(self.window), "containers": containers}
        return item, (total_cpu, total_memory)

    # --- nodes ------------------------------------------------------------------------------

    async def _node_metrics(self, request: web.Request, info: ResourceInfo, name: str | None
                            ) -> list[tuple[dict, tuple[int, int]]]:
        """(NodeMetrics, (nanocores, bytes)) of every selected Ready node with metrics."""
        nodes_info = self.registry.get("", "v1", "nodes")
        assert nodes_info is not None
        if name is not None:
            node = await self.store.get_or_none(nodes_info, None, name)
            if node is None:
                raise errors.not_found("node", name)  # what the upstream node lister answers
            nodes = [node]
        else:
            labels, fields = self._selectors(request, info)
            page = await self.store.list(nodes_info, None, labels=labels)
            nodes = [n for n in page.items if fields.empty or fields.matches(field_set(info, n))]
        nodes = [n for n in nodes if _node_ready(n)]
        summaries = await self._summaries([n["metadata"]["name"] for n in nodes])
        now = _rfc3339(self.clock())
        items = []
        for node in nodes:
            meta = node["metadata"]
            doc = summaries.get(meta["name"])
            usage = _usage(doc.get("node") or {}) if doc else None
            if usage is None:
                continue
            nanocores, working_set, stamp = usage
            out_meta: dict = {"name": meta["name"], "creationTimestamp": now}
            if meta.get("labels"):
                out_meta["labels"] = dict(meta["labels"])
            items.append(({"kind": "NodeMetrics", "apiVersion": API_VERSION, "metadata": out_meta,
                           "timestamp": stamp or now, "window": go_duration(self.window),
                           "usage": {"cpu": format_cpu(nanocores), "memory": format_bytes(working_set)}},
                          (nanocores, working_set)))
        items.sort(key=lambda m: m[0]["metadata"]["name"])
        if name is not None and not items:
            raise errors.not_found("nodemetrics", name, GROUP)
        return items

    # --- Table (kubectl get podmetrics / nodemetrics) ---------------------------------------

    @staticmethod
    def _table(found: list[tuple[dict, tuple[int, int]]], request: web.Request) -> dict:
        """metrics-server's ConvertToTable: Name, cpu, memory (summed over containers), Window."""
        include = request.query.get("includeObject", "Metadata")
        if include not in ("", "Metadata", "Object", "None"):
            raise errors.bad_request(f'unrecognized includeObject value: "{include}"')
        columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name of the resource",
                    "priority": 0}]
        columns += [{"name": r, "type": "string", "format": "quantity", "description": "", "priority": 0}
                    for r in ("cpu", "memory")]
        columns.append({"name": "Window", "type": "string", "format": "duration", "description": "",
                        "priority": 0})
        rows = []
        for item, (cpu, memory) in found:
            row: dict = {"cells": [item["metadata"]["name"], format_cpu(cpu), format_bytes(memory),
                                   item["window"]]}
            if include == "Object":
                row["object"] = item
            elif include == "None":
                row["object"] = None
            else:
                row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                 "metadata": item["metadata"]}
            rows.append(row)
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": columns,
                "rows": rows}

