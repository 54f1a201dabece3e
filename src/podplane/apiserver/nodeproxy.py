"""Node proxy: the API server's way to a pod's agent for logs, exec, attach and port-forward.

As kube-apiserver's pod storage does (LogLocation, ExecLocation, AttachLocation,
PortForwardLocation): read the pod, check or default the container (400 `container x is not
valid for pod y`), find its node's kubelet API (the Node's InternalIP, else Hostname, and
`status.daemonEndpoints.kubeletEndpoint.Port`, 10250 if unset), then
- pods/log: GET `/containerLogs/{ns}/{pod}/{container}` and stream the text back (chunked,
  as it comes with follow); agent errors become Statuses as upstream's response checker
  makes them (400 stays BadRequest, so kubectl shows the kubelet's message);
- pods/exec, pods/attach, pods/portforward: a transparent upgrade proxy like upstream's
  UpgradeAwareHandler: the client's Upgrade request (WebSocket or SPDY/3.1, headers kept,
  its credentials replaced by ours) goes to the agent; a 101 is relayed and the two
  connections are spliced (`client.hijack`); any other answer is passed through.
The agent's self-signed certificate is not verified (upstream's default without
--kubelet-certificate-authority); the proxy authenticates with a token derived from the admin
secret, registered for the user `streamproto.APISERVER_KUBELET_CLIENT`, whom agents admit.
`node_get_json(node, path)` GETs a JSON document from an agent (metrics: /stats/summary).
Used by `apiserver.app` (routes through the handler's subresource table); talks to
`agent.server` over HTTPS only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import ssl
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from aiohttp import web

from podplane.api import errors
from podplane.api.errors import ApiError, Cause
from podplane.api.registry import Registry
from podplane.apiserver.auth import Authenticator, User
from podplane.apiserver.objects import ObjectStore
from podplane.apiserver.request import Target, flag
from podplane.apiserver.rest import RequestContext
from podplane.client.hijack import accept_upgrade
from podplane.client.streamproto import APISERVER_KUBELET_CLIENT
from podplane.utils.aio import cancel_and_wait

__all__ = ["DEFAULT_KUBELET_PORT", "KUBELET_CLIENT", "NodeProxy", "kubelet_client_token"]

log = logging.getLogger(__name__)

DEFAULT_KUBELET_PORT = 10250
DIAL_TIMEOUT = 10.0
"""Seconds to reach an agent and get its answer to an upgrade request."""
KUBELET_CLIENT = User(APISERVER_KUBELET_CLIENT, ("system:authenticated",))
MAX_ERROR_BODY = 1024 * 1024
# Headers that belong to one hop, or to the client's credentials, never forwarded to the agent.
_DROPPED_REQUEST_HEADERS = frozenset({"host", "authorization", "proxy-authorization", "content-length",
                                      "transfer-encoding", "te", "trailer", "keep-alive"})


def kubelet_client_token(admin_token: str) -> str:
    """The proxy's bearer token: derived from the admin secret, so every API server of a
    cluster (they share that secret) has the same one, and it changes with the secret."""
    return hmac.new(admin_token.encode(), b"podplane-kubelet-client", hashlib.sha256).hexdigest()


def _validate_container(pod: dict, container: str) -> str:
    """Upstream validateContainer: default the only container, else the name must exist."""
    spec = pod.get("spec") or {}
    name = (pod.get("metadata") or {}).get("name", "")
    every = [c.get("name", "") for key in ("initContainers", "containers", "ephemeralContainers")
             for c in spec.get(key) or []]
    if not container:
        regular = spec.get("containers") or []
        if len(regular) == 1:
            return regular[0].get("name", "")
        if not regular:
            raise errors.bad_request(f"a container name must be specified for pod {name}")
        raise errors.bad_request(f"a container name must be specified for pod {name}, "
                                 f"choose one of: [{' '.join(every)}]")
    if container not in every:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    return container


def _int_option(query, name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax') from None


def _log_params(query, name: str) -> dict[str, str]:
    """PodLogOptions from the query, validated as upstream (422 PodLogOptions), as agent params."""
    tail, limit, since = _int_option(query, "tailLines"), _int_option(query, "limitBytes"), \
        _int_option(query, "sinceSeconds")
    since_time = query.get("sinceTime") or None
    stream = query.get("stream") or None
    causes: list[Cause] = []
    if tail is not None and tail < 0:
        causes.append(Cause("FieldValueInvalid", f"Invalid value: {tail}: must be greater than or equal to 0",
                            "tailLines"))
    if limit is not None and limit < 1:
        causes.append(Cause("FieldValueInvalid", f"Invalid value: {limit}: must be greater than 0", "limitBytes"))
    if since is not None and since_time is not None:
        causes.append(Cause("FieldValueForbidden",
                            "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified", ""))
    elif since is not None and since < 1:
        causes.append(Cause("FieldValueInvalid", f"Invalid value: {since}: must be greater than 0", "sinceSeconds"))
    if stream is not None and stream not in ("All", "Stdout", "Stderr"):
        causes.append(Cause("FieldValueNotSupported", f'Unsupported value: "{stream}": supported values: '
                                                       '"All", "Stderr", "Stdout"', "stream"))
    if causes:
        raise errors.invalid("PodLogOptions", name, causes)
    params: dict[str, str] = {}
    for key in ("follow", "previous", "timestamps"):
        if flag(query.get(key)):
            params[key] = "true"
    if since is not None:
        params["sinceSeconds"] = str(since)
    if since_time is not None:
        try:
            parsed = dt.datetime.fromisoformat(since_time.replace("Z", "+00:00"))
        except ValueError:
            raise errors.bad_request(f'parsing time "{since_time}" as "2006-01-02T15:04:05Z07:00": '
                                     f'cannot parse') from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        params["sinceTime"] = parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if tail is not None:
        params["tailLines"] = str(tail)
    if limit is not None:
        params["limitBytes"] = str(limit)
    if stream is not None:
        params["stream"] = stream
    return params


def _response_error(status: int, body: bytes, resource: str, name: str) -> ApiError:
    """Upstream's GenericHttpResponseChecker: the agent's answer as the client's Status."""
    text = body[:MAX_ERROR_BODY].decode(errors="replace").strip()
    if status == 500:
        return errors.internal_error(text)
    if status == 400:
        return errors.bad_request(text)
    reason, message = {
        401: ("Unauthorized", "the server has asked for the client to provide credentials"),
        403: ("Forbidden", "the server does not allow access to the requested resource"),
        404: ("NotFound", "the server could not find the requested resource"),
    }.get(status, ("", f"the server responded with the status code {status} but did not return more "
                       "information"))
    return ApiError(status, reason, f"{message} ( {resource} {name})", name=name, kind=resource,
                    causes=[Cause("UnexpectedServerResponse", text)] if text else [])


def _is_upgrade(request: web.Request) -> bool:
    connection = {t.strip().lower() for t in request.headers.get("Connection", "").split(",")}
    return "upgrade" in connection and bool(request.headers.get("Upgrade"))


def _host_port(host: str, port: int) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]:{port}"
    except ValueError:
        pass
    return f"{host}:{port}"


class NodeProxy:
    """See the module docstring. `handlers()` plugs into `ResourceHandler`'s subresource table."""

    def __init__(self, store: ObjectStore, registry: Registry, *, admin_token: str,
                 authenticator: Authenticator | None = None, dial_timeout: float = DIAL_TIMEOUT) -> None:
        self.store = store
        self.pods = registry.get("", "v1", "pods")
        self.nodes = registry.get("", "v1", "nodes")
        self.token = kubelet_client_token(admin_token)
        if authenticator is not None:
            authenticator.add_token(self.token, KUBELET_CLIENT)
        self.dial_timeout = dial_timeout
        self._ssl = ssl.create_default_context()
        self._ssl.check_hostname = False
        self._ssl.verify_mode = ssl.CERT_NONE

    def handlers(self) -> dict:
        return {("", "pods/log"): self.pod_log, ("", "pods/exec"): self.pod_exec,
                ("", "pods/attach"): self.pod_attach, ("", "pods/portforward"): self.pod_portforward}

    # -- where ------------------------------------------------------------------------------
    async def location(self, node_name: str) -> tuple[str, int]:
        """(address, port) of a node's kubelet API."""
        node = await self.store.get(self.nodes, None, node_name)
        status = node.get("status") or {}
        addresses = status.get("addresses") or []
        host = ""
        for kind in ("InternalIP", "Hostname"):
            host = next((a.get("address", "") for a in addresses if a.get("type") == kind and a.get("address")), "")
            if host:
                break
        if not host:
            raise ApiError(500, "", f"no preferred addresses found; known addresses: {addresses}")
        port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 0
        return host, int(port) if int(port) > 0 else DEFAULT_KUBELET_PORT

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self._ssl),
                                     headers={"Authorization": f"Bearer {self.token}"})

    # -- logs --------------------------------------------------------------------------------
    async def pod_log(self, request: web.Request, target: Target, ctx: RequestContext) -> web.StreamResponse:
        if request.method != "GET":
            raise errors.method_not_supported("pods/log", request.method.lower())
        pod = await self.store.get(self.pods, target.namespace, target.name)
        params = _log_params(request.query, target.name)
        container = _validate_container(pod, request.query.get("container", ""))
        node = (pod.get("spec") or {}).get("nodeName")
        response = web.StreamResponse(status=200)
        response.content_type = "text/plain"
        if not node:  # not scheduled: no logs yet, and no error (upstream's empty location)
            await response.prepare(request)
            await response.write_eof()
            return response
        host, port = await self.location(node)
        url = (f"https://{_host_port(host, port)}/containerLogs/{quote(target.namespace, safe='')}/"
               f"{quote(target.name, safe='')}/{quote(container, safe='')}")
        async with self._session() as session:
            try:
                upstream = await session.get(url, params=params, timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self.dial_timeout, sock_read=None))
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                raise ApiError(500, "", f'Get "{url}": {e}') from e
            async with upstream:
                if not 200 <= upstream.status <= 206:
                    raise _response_error(upstream.status, await upstream.content.read(MAX_ERROR_BODY),
                                          "pods/log", target.name)
                response.enable_chunked_encoding()
                await response.prepare(request)
                try:
                    async for chunk in upstream.content.iter_any():
                        await response.write(chunk)
                except (aiohttp.ClientError, ConnectionError) as e:
                    log.info("log stream of %s/%s ended: %s", target.namespace, target.name, e)
                    return response
        await response.write_eof()
        return response

    # -- exec, attach, port-forward -------------------------------------------------------------
    async def pod_exec(self, request: web.Request, target: Target, ctx: RequestContext) -> web.StreamResponse:
        return await self._connect(request, target, "exec")

    async def pod_attach(self, request: web.Request, target: Target, ctx: RequestContext) -> web.StreamResponse:
        return await self._connect(request, target, "attach")

    async def pod_portforward(self, request: web.Request, target: Target, ctx: RequestContext
                              ) -> web.StreamResponse:
        return await self._connect(request, target, "portforward")

    async def _connect(self, request: web.Request, target: Target, kind: str) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            raise errors.method_not_supported(f"pods/{kind}", request.method.lower())
        pod = await self.store.get(self.pods, target.namespace, target.name)
        q = request.query
        params: list[tuple[str, str]] = []
        ns, name = quote(target.namespace, safe=""), quote(target.name, safe="")
        if kind == "portforward":
            ports = []
            for value in q.getall("ports", []):
                for item in value.split(","):
                    try:
                        port = int(item)
                    except ValueError:
                        raise errors.bad_request(f'strconv.ParseInt: parsing "{item}": invalid syntax') from None
                    if not 0 < port < 65536:
                        raise errors.bad_request(f"port {port} is out of range")
                    ports.append(str(port))
            if ports:
                params.append(("port", ",".join(ports)))
            path = f"/portForward/{ns}/{name}"
        else:
            container = _validate_container(pod, q.get("container", ""))
            for key, param in (("stdin", "input"), ("stdout", "output"), ("stderr", "error"), ("tty", "tty")):
                if flag(q.get(key)):
                    params.append((param, "1"))
            params.extend(("command", c) for c in q.getall("command", []) if kind == "exec")
            path = f"/{kind}/{ns}/{name}/{quote(container, safe='')}"
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            raise errors.bad_request(f"pod {target.name} does not have a host assigned")
        host, port = await self.location(node)
        if not _is_upgrade(request):
            raise errors.bad_request("Upgrade request required")
        return await self._proxy_upgrade(request, host, port, f"{path}?{urlencode(params)}" if params else path)

    async def _proxy_upgrade(self, request: web.Request, host: str, port: int, path: str) -> web.StreamResponse:
        try:
            async with asyncio.timeout(self.dial_timeout):
                reader, writer = await asyncio.open_connection(host, port, ssl=self._ssl)
        except (OSError, TimeoutError) as e:
            raise ApiError(500, "", f"error dialing backend: dial tcp {_host_port(host, port)}: "
                                    f"{getattr(e, 'strerror', None) or e or 'i/o timeout'}") from e
        try:
            lines = [f"{request.method} {path} HTTP/1.1", f"Host: {_host_port(host, port)}"]
            lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() not in _DROPPED_REQUEST_HEADERS
                      and not k.lower().startswith("impersonate-")]
            lines.append(f"Authorization: Bearer {self.token}")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace"))
            async with asyncio.timeout(self.dial_timeout):
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
            status, reason, headers = _parse_head(head)
            if status != 101:
                body = await _read_body(reader, headers)
                out = web.Response(status=status, reason=reason or None, body=body)
                for k, v in headers:
                    if k.lower() in ("content-type", "www-authenticate", "retry-after", "warning"):
                        out.headers.add(k, v)
                return out
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as e:
            writer.close()
            raise ApiError(500, "", f"error proxying to {_host_port(host, port)}: {e or type(e).__name__}") from e
        except BaseException:
            writer.close()
            raise
        conn = await accept_upgrade(request, [(k, v) for k, v in headers if k.lower() != "content-length"],
                                    reason=reason or "Switching Protocols")

        async def to_agent() -> None:
            while data := await conn.read():
                writer.write(data)
                await writer.drain()

        async def to_client() -> None:
            while data := await reader.read(256 * 1024):
                await conn.write(data)

        tasks = [asyncio.create_task(to_agent()), asyncio.create_task(to_client())]
        try:
            # as upstream: when one direction ends, the whole splice ends
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait(tasks)
            writer.close()
            conn.close()
        return conn.response

    # -- helpers for other API groups ----------------------------------------------------------
    async def node_get_json(self, node_name: str, path: str) -> dict:
        """GET `path` (e.g. /stats/summary) from a node's agent as JSON; ApiError on failure."""
        host, port = await self.location(node_name)
        url = f"https://{_host_port(host, port)}{path}"
        async with self._session() as session:
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=30,
                                                                          sock_connect=self.dial_timeout)) as r:
                    body = await r.read()
                    if not 200 <= r.status <= 206:
                        raise _response_error(r.status, body, "nodes/proxy", node_name)
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                raise ApiError(503, "ServiceUnavailable", f'Get "{url}": {e or type(e).__name__}') from e
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise ApiError(500, "InternalError", f"node {node_name} answered {path} with invalid JSON: {e}") from e


def _parse_head(head: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"malformed status line {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


async def _read_body(reader: asyncio.StreamReader, headers: list[tuple[str, str]]) -> bytes:
    """The body of a non-101 answer: Content-Length, chunked, or up to EOF (bounded)."""
    values = {k.lower(): v for k, v in headers}
    if "content-length" in values:
        return await reader.readexactly(min(int(values["content-length"]), MAX_ERROR_BODY))
    if "chunked" in values.get("transfer-encoding", "").lower():
        body = bytearray()
        while len(body) < MAX_ERROR_BODY:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        return bytes(body)
    return await reader.read(MAX_ERROR_BODY)
