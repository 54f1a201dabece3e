"""Transports: how a `Client` reaches the API server.

`HttpTransport` speaks HTTPS to a real apiserver with the cluster CA and a bearer
token (what the agent on another machine, the benchmarks and `podplane.server`'s own
components use). A transport does requests (`request`) and streams watch events
(`stream`); the `Client` above it knows nothing about HTTP. `FakeTransport`-style
doubles for unit tests live in `client.fake` (a fake `Client`, not a transport).

Errors: a response that is a `metav1.Status` becomes `ApiError` with its code and
reason; connection failures become `TransportError` (temporary: retry).
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
import yaml

from podplane.api.errors import ApiError, Cause

__all__ = ["REQUEST_CONNECTIONS", "HttpTransport", "Response", "TransportError", "error_from_response", "transport_from_kubeconfig"]


REQUEST_CONNECTIONS = 64
"""Connections for requests per transport (watch streams have their own, unlimited)."""


class TransportError(Exception):
    """The API server could not be reached or the connection broke; retry later."""


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"

    def json(self):
        return orjson.loads(self.body) if self.body else None


def error_from_response(status: int, body: bytes) -> ApiError:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        details = doc.get("details") or {}
        return ApiError(int(doc.get("code") or status), doc.get("reason") or "Unknown", doc.get("message") or "",
                        name=details.get("name", ""), group=details.get("group", ""), kind=details.get("kind", ""),
                        causes=[Cause(c.get("reason", ""), c.get("message", ""), c.get("field", ""))
                                for c in details.get("causes") or []],
                        retry_after=int(details.get("retryAfterSeconds") or 0))
    text = body[:500].decode(errors="replace")
    return ApiError(status, "Unknown", f"the server responded with status {status}: {text}")


class HttpTransport:
    def __init__(self, base_url: str, *, token: str = "", ca_data: bytes | None = None,
                 insecure: bool = False, timeout: float = 30.0, user_agent: str = "podplane",
                 unix_socket: str | None = None) -> None:
        """unix_socket: reach the server over this Unix socket instead (plain HTTP: the socket's
        file permissions protect it; `base_url` then only supplies the Host header)."""
        self.base_url = base_url.rstrip("/")
        self.unix_socket = unix_socket
        self.token = token
        self.timeout = timeout
        self.user_agent = user_agent
        if base_url.startswith("https"):
            if insecure:
                self._ssl: ssl.SSLContext | bool = False
            else:
                ctx = ssl.create_default_context()
                if ca_data:
                    ctx.load_verify_locations(cadata=ca_data.decode())
                self._ssl = ctx
        else:
            self._ssl = False
        self._session: aiohttp.ClientSession | None = None
        self._stream_session: aiohttp.ClientSession | None = None

    def _headers(self, extra: dict | None = None) -> dict:
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if extra:
            headers.update(extra)
        return headers

    @property
    def session(self) -> aiohttp.ClientSession:
        """Requests: at most REQUEST_CONNECTIONS connections, so a burst (say, events fired by
        the hundred) queues here instead of opening a TLS connection per request."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=self._connector(REQUEST_CONNECTIONS),
                                                  json_serialize=lambda o: orjson.dumps(o).decode())
        return self._session

    def _connector(self, limit: int) -> aiohttp.BaseConnector:
        if self.unix_socket:
            return aiohttp.UnixConnector(path=self.unix_socket, limit=limit)
        return aiohttp.TCPConnector(ssl=self._ssl, limit=limit)

    @property
    def stream_session(self) -> aiohttp.ClientSession:
        """Watches: one long-lived connection each, from a pool of their own. In the request pool
        they would hold its connections for good (the garbage collector alone watches every
        resource) and leave requests such as the scheduler's bindings waiting for one."""
        if self._stream_session is None or self._stream_session.closed:
            self._stream_session = aiohttp.ClientSession(connector=self._connector(0))
        return self._stream_session

    async def close(self) -> None:
        for session in (self._session, self._stream_session):
            if session is not None:
                await session.close()

    async def request(self, method: str, path: str, *, query: dict | None = None, body: object = None,
                      content_type: str = "application/json") -> Response:
        data = None
        headers = self._headers()
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            headers["Content-Type"] = content_type
        try:
            async with self.session.request(method, self.base_url + path, params=_params(query), data=data,
                                            headers=headers,
                                            timeout=aiohttp.ClientTimeout(total=self.timeout)) as r:
                payload = await r.read()
                response = Response(r.status, payload, r.headers.get("Content-Type", ""))
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            raise TransportError(f"{method} {path}: {type(e).__name__}: {e}") from e
        if response.status >= 400:
            raise error_from_response(response.status, response.body)
        return response

    async def stream(self, path: str, *, query: dict | None = None) -> AsyncIterator[dict]:
        """Yield watch events (decoded JSON lines) until the server ends the stream."""
        try:
            async with self.stream_session.get(self.base_url + path, params=_params(query), headers=self._headers(),
                                        timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout)) as r:
                if r.status >= 400:
                    raise error_from_response(r.status, await r.read())
                while True:
                    line = await r.content.readline()
                    if not line:
                        return
                    line = line.strip()
                    if line:
                        yield orjson.loads(line)
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            raise TransportError(f"watch {path}: {type(e).__name__}: {e}") from e


def _params(query: dict | None) -> list[tuple[str, str]] | None:
    if not query:
        return None
    out = []
    for key, value in query.items():
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        out.append((key, str(value)))
    return out


def transport_from_kubeconfig(path: str | Path, *, user_agent: str = "podplane") -> HttpTransport:
    config = yaml.safe_load(Path(path).read_text())
    current = config.get("current-context")
    context = next((c["context"] for c in config.get("contexts", []) if c["name"] == current),
                   config["contexts"][0]["context"])
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next((u["user"] for u in config.get("users", []) if u["name"] == context.get("user")), {})
    ca = cluster.get("certificate-authority-data")
    ca_data = base64.b64decode(ca) if ca else None
    if ca_data is None and cluster.get("certificate-authority"):
        ca_data = Path(cluster["certificate-authority"]).read_bytes()
    return HttpTransport(cluster["server"], token=user.get("token", ""), ca_data=ca_data,
                         insecure=bool(cluster.get("insecure-skip-tls-verify")), user_agent=user_agent)

