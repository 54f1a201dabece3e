"""The API server: HTTP routes, authentication, error rendering, bootstrap objects.

`ApiServer` composes the pieces of this package around one storage backend:
`ObjectStore` (objects on the backend), `ResourceHandler` (verbs), `WatchServer`,
`CrdManager`, `MetricsApi` (metrics.k8s.io, fed by an optional `fetch_summary`), `NodeProxy`
(pods/log, exec, attach, portforward to the pod's agent), discovery and OpenAPI documents,
and the authenticator. `app()` returns the aiohttp application;
every error leaves as a `metav1.Status` with the right code, and unexpected exceptions
become 500 InternalError without taking the server down. `bootstrap()` creates the
namespaces every cluster has (default, kube-system, kube-public, kube-node-lease) and
registers stored CRDs.

Composed by `podplane.server`, which owns the backend and the listening socket.
"""

from __future__ import annotations

import ipaddress
import logging
import platform
import time

import orjson
from aiohttp import web

from podplane.api import errors
from podplane.api.openapi import OpenAPIDocs
from podplane.api.registry import Registry, ResourceInfo, default_registry
from podplane.apiserver import discovery
from podplane.apiserver.auth import PUBLIC_PATHS, Authenticator, review_handlers
from podplane.apiserver.crds import CrdManager
from podplane.apiserver.metrics import HANDLER as METRICS_HANDLER
from podplane.apiserver.metrics import FetchSummary, MetricsApi
from podplane.apiserver.nodeproxy import NodeProxy
from podplane.apiserver.objects import ObjectStore
from podplane.apiserver.request import parse_resource_path
from podplane.apiserver.rest import CONTEXT_KEY, HANDLER_KEY, RequestContext, ResourceHandler, json_response
from podplane.apiserver.services import ServiceAllocator
from podplane.apiserver.strategy import Strategy
from podplane.apiserver.watch import WatchServer
from podplane.settings import ApiServerSettings
from podplane.storage import Backend, StorageError

__all__ = ["ApiServer", "SYSTEM_NAMESPACES", "VERSION_INFO"]

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
VERSION_INFO = {
    "major": "1",
    "minor": "37",
    "emulationMajor": "1",
    "emulationMinor": "37",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "36",
    "gitVersion": "v1.37.0+podplane",
    "gitCommit": "podplane",
    "gitTreeState": "clean",
    "buildDate": "2026-11-27T00:00:00Z",
    "goVersion": f"python{platform.python_version()}",
    "compiler": "cpython",
    "platform": f"linux/{'amd64' if platform.machine() == 'x86_64' else platform.machine()}",
}


class ApiServer:
    def __init__(self, backend: Backend, settings: ApiServerSettings, *, admin_token: str,
                 registry: Registry | None = None, fetch_summary: FetchSummary | None = None) -> None:
        self.settings = settings
        self.backend = backend
        self.registry = registry or default_registry()
        self.store = ObjectStore(backend)
        self.strategy = Strategy(default_toleration_seconds=settings.default_toleration_seconds)
        self.openapi = OpenAPIDocs(self.registry)
        self.crds = CrdManager(self.registry, self.store, on_registry_change=self.openapi.invalidate)
        self.watches = WatchServer(self.store, settings)
        self.authenticator = Authenticator(admin_token)
        # pods/log, exec, attach and portforward: proxied to the pod's agent (its kubelet API)
        self.nodeproxy = NodeProxy(self.store, self.registry, admin_token=admin_token,
                                   authenticator=self.authenticator)
        low, _, high = settings.service_node_port_range.partition("-")
        self.allocator = ServiceAllocator(backend, service_cidr=settings.service_cidr,
                                          node_port_range=(int(low), int(high)))
        self.handler = ResourceHandler(registry=self.registry, store=self.store, strategy=self.strategy,
                                       watches=self.watches, on_change=self._on_change,
                                       special_create={**review_handlers(self.authenticator),
                                                       **self.nodeproxy.handlers()},
                                       allocator=self.allocator)
        # metrics.k8s.io: usage from the agents' /stats/summary, through `fetch_summary(node_name)`
        if fetch_summary is None:  # ask the agents themselves, as metrics-server does
            fetch_summary = self._agent_summary
        self.metrics = MetricsApi(self.store, self.registry, fetch_summary=fetch_summary)
        self.started = time.monotonic()
        self.ready = False

    async def _agent_summary(self, node_name: str) -> dict:
        return await self.nodeproxy.node_get_json(node_name, "/stats/summary")

    @property
    def fetch_summary(self) -> FetchSummary | None:
        """`async (node_name) -> Summary dict` for the metrics API; may be set after construction."""
        return self.metrics.fetch_summary

    @fetch_summary.setter
    def fetch_summary(self, fetch: FetchSummary | None) -> None:
        self.metrics.fetch_summary = fetch

    async def _on_change(self, info: ResourceInfo, old: dict | None, new: dict | None) -> None:
        if self.crds.is_crd(info):
            await self.crds.changed(old, new)
        elif new is None and old is not None and self.allocator.is_service(info):
            await self.allocator.after_delete(old)

    # -- bootstrap -------------------------------------------------------------------------
    async def bootstrap(self) -> None:
        ns_info = self.registry.get("", "v1", "namespaces")
        for name in SYSTEM_NAMESPACES:
            if await self.store.get_or_none(ns_info, None, name) is None:
                obj = self.strategy.prepare_for_create(ns_info, {
                    "apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}})
                try:
                    await self.store.create(ns_info, obj)
                except errors.ApiError as e:
                    if e.code != 409:
                        raise
        await self._ensure_kubernetes_service()
        await self.crds.load_all()
        self.ready = True

    async def _ensure_kubernetes_service(self) -> None:
        """default/kubernetes: the in-cluster name of the API, on the range's first address, with
        Endpoints and an EndpointSlice naming this server (upstream's endpoint reconciler), so
        pods reach the API through the Service; and kube-system/kube-dns on the cluster DNS
        address, answered by every node's DNS server (no selector, no endpoints: node-local)."""
        first_ip = str(self.allocator.network.network_address + 1)
        await self._ensure_service("default", "kubernetes", {"component": "apiserver", "provider": "kubernetes"}, {
            "type": "ClusterIP", "clusterIP": first_ip, "sessionAffinity": "None",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": self.settings.port}]})
        address = self.settings.advertise_address or self.settings.bind_address
        if address not in ("", "0.0.0.0", "::"):
            await self._ensure_kubernetes_endpoints(address)
        dns = self.settings.cluster_dns
        if dns and ipaddress.ip_address(dns) in self.allocator.network:
            await self._ensure_service("kube-system", "kube-dns", {
                "k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"}, {
                "type": "ClusterIP", "clusterIP": dns, "sessionAffinity": "None",
                "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                          {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]})

    async def _ensure_service(self, namespace: str, name: str, labels: dict, spec: dict) -> None:
        info = self.registry.get("", "v1", "services")
        if await self.store.get_or_none(info, namespace, name) is not None:
            return
        svc = self.strategy.prepare_for_create(info, {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": labels}, "spec": spec})
        try:
            await self.allocator.reserve_ip(spec["clusterIP"], svc)
        except errors.ApiError:
            pass  # already reserved by an earlier start that crashed before creating the Service
        try:
            await self.store.create(info, svc)
        except errors.ApiError as e:
            if e.code != 409:
                raise

    async def _ensure_kubernetes_endpoints(self, address: str) -> None:
        """Endpoints and EndpointSlice of default/kubernetes: this server's address and port."""
        port = self.settings.port
        objects = [
            (self.registry.get("", "v1", "endpoints"), {
                "apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": "kubernetes", "namespace": "default",
                             "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                "subsets": [{"addresses": [{"ip": address}],
                             "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]}),
            (self.registry.get("discovery.k8s.io", "v1", "endpointslices"), {
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "kubernetes", "namespace": "default",
                             "labels": {"kubernetes.io/service-name": "kubernetes"}},
                "addressType": "IPv6" if ":" in address else "IPv4",
                "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}),
        ]
        for info, obj in objects:
            current = await self.store.get_or_none(info, "default", "kubernetes")
            if current is not None:  # another address or port since the last start: update it
                fields = {k: obj[k] for k in ("subsets", "endpoints", "ports") if k in obj}
                if all(current.get(k) == v for k, v in fields.items()):
                    continue
                try:
                    await self.store.write(info, current, {**current, **fields})
                except errors.ApiError as e:
                    if e.code != 409:
                        raise
                continue
            try:
                await self.store.create(info, self.strategy.prepare_for_create(info, obj))
            except errors.ApiError as e:
                if e.code != 409:
                    raise

    # -- HTTP ------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors_middleware, self._auth_middleware],
                              client_max_size=self.settings.max_body_bytes)
        app[HANDLER_KEY] = self.handler
        r = app.router
        for path in ("/healthz", "/livez", "/readyz"):
            r.add_get(path, self._health)
        r.add_get("/version", self._version)
        r.add_get("/version/", self._version)
        r.add_get("/api", self._api)
        r.add_get("/api/", self._api)
        r.add_get("/apis", self._apis)
        r.add_get("/apis/", self._apis)
        r.add_get("/openapi/v2", self._openapi_v2)
        r.add_get("/openapi/v3", self._openapi_index)
        r.add_get("/openapi/v3/", self._openapi_index)
        r.add_get("/openapi/v3/{path:.+}", self._openapi_doc)
        r.add_route("*", "/api/{tail:.+}", self._resource)
        r.add_route("*", "/apis/{tail:.+}", self._resource)
        return app

    @web.middleware
    async def _errors_middleware(self, request: web.Request, handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.ApiError as e:
            return self._status_response(e)
        except web.HTTPRequestEntityTooLarge:
            return self._status_response(errors.request_entity_too_large(self.settings.max_body_bytes))
        except web.HTTPException as e:
            if e.status == 404:
                return self._status_response(errors.ApiError(404, "NotFound",
                                                              "the server could not find the requested resource"))
            if e.status == 405:
                return self._status_response(errors.ApiError(405, "MethodNotAllowed",
                                                              "the server does not allow this method on the "
                                                              "requested resource"))
            raise
        except StorageError as e:
            log.warning("storage error on %s %s: %s", request.method, request.path, e)
            return self._status_response(errors.ApiError(503, "ServiceUnavailable",
                                                          f"storage is unavailable: {e}", retry_after=1))
        except (ConnectionResetError, TimeoutError):
            raise
        except Exception as e:  # never take the server down for one request
            log.exception("internal error on %s %s", request.method, request.path)
            return self._status_response(errors.internal_error(f"{type(e).__name__}: {e}"))

    @staticmethod
    def _status_response(error: errors.ApiError) -> web.Response:
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
        return web.Response(body=orjson.dumps(error.to_status()) + b"\n", status=error.code,
                            content_type="application/json", headers=headers)

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        user = self.authenticator.authenticate(request.headers.get("Authorization"))
        if user is None:
            raise errors.unauthorized()
        request[CONTEXT_KEY] = RequestContext(user=user.name, groups=user.groups,
                                        user_agent=request.headers.get("User-Agent", ""))
        return await handler(request)

    async def _health(self, request: web.Request) -> web.Response:
        if request.path == "/readyz" and not self.ready:
            return web.Response(status=503, text="not ready: bootstrapping")
        return web.Response(text="ok")

    async def _version(self, request: web.Request) -> web.Response:
        return json_response(VERSION_INFO)

    def _server_address(self, request: web.Request) -> str:
        return request.host or f"{self.settings.bind_address}:{self.settings.port}"

    async def _api(self, request: web.Request) -> web.Response:
        if discovery.wants_aggregated(request.headers.get("Accept")):
            return json_response(discovery.aggregated(self.registry, core=True), 200,
                                 discovery.AGGREGATED_CONTENT_TYPE)
        return json_response(discovery.api_versions(self._server_address(request)))

    async def _apis(self, request: web.Request) -> web.Response:
        if discovery.wants_aggregated(request.headers.get("Accept")):
            return json_response(discovery.aggregated(self.registry, core=False), 200,
                                 discovery.AGGREGATED_CONTENT_TYPE)
        return json_response(discovery.api_group_list(self.registry))

    async def _openapi_v2(self, request: web.Request) -> web.Response:
        # kubectl needs v2 as protobuf; a 404 makes it use v3 and its built-in patch metadata
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")

    async def _openapi_index(self, request: web.Request) -> web.Response:
        return json_response(self.openapi.index())

    async def _openapi_doc(self, request: web.Request) -> web.Response:
        found = self.openapi.document(request.match_info["path"])
        if found is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        body, digest = found
        headers = {"ETag": f'"{digest}"', "Vary": "Accept"}
        if request.query.get("hash") == digest:
            headers["Cache-Control"] = "public, immutable, max-age=31536000"
        else:
            headers["Cache-Control"] = "no-cache, private"
        if request.headers.get("If-None-Match") == f'"{digest}"':
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="application/json", headers=headers)

    async def _resource(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        segs = [s for s in path.split("/") if s]
        ctx: RequestContext = request[CONTEXT_KEY]
        # discovery of one group or group-version
        if segs[0] == "api" and len(segs) == 2:
            doc = discovery.api_resource_list(self.registry, "", segs[1])
            if doc is None or request.method != "GET":
                raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
            return json_response(doc)
        if segs[0] == "apis" and len(segs) == 2 and request.method == "GET":
            doc = discovery.api_group(self.registry, segs[1])
            if doc is None:
                raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
            return json_response(doc)
        if segs[0] == "apis" and len(segs) == 3 and request.method == "GET":
            doc = discovery.api_resource_list(self.registry, segs[1], segs[2])
            if doc is None:
                raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
            return json_response(doc)
        target = parse_resource_path(self.registry, path)
        if target is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        if target.info.handler == METRICS_HANDLER:
            return await self.metrics.handle(request, target)
        return await self.handler.handle(request, target, ctx)
