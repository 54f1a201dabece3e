"""In-process API server fixture: `api` is an aiohttp test client with `api.call(...)`."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from podplane.apiserver.app import ApiServer
from podplane.settings import ApiServerSettings
from podplane.storage import open_backend

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def api():
    backend = open_backend("memory://")
    await backend.start()
    server = ApiServer(backend, ApiServerSettings(), admin_token=TOKEN)
    await server.bootstrap()
    client = TestClient(TestServer(server.app()))
    await client.start_server()
    client.apiserver = server  # tests that need the store reach it here

    async def call(method: str, path: str, body=None, *, content_type="application/json", headers=None):
        data = json.dumps(body) if body is not None and not isinstance(body, (bytes, str)) else body
        r = await client.request(method, path, data=data,
                                 headers={**AUTH, "Content-Type": content_type, **(headers or {})})
        return r.status, await r.json()

    client.call = call
    yield client
    await client.close()
    await backend.close()
