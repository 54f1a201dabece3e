"""Crash safety: kill -9 the server while a client creates objects, then restart it.

Every create the server acknowledged (201) must be there after the restart, and
resourceVersions must keep increasing across the restart.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e


def test_kill_9_loses_no_acknowledged_create(new_cluster):
    c = new_cluster()
    c.start()
    v1 = client.CoreV1Api(c.api_client())
    acknowledged: list[str] = []
    last_rv = 0
    stop = threading.Event()

    def writer() -> None:
        nonlocal last_rv
        i = 0
        while not stop.is_set():
            name = f"cm-{i:05d}"
            try:
                created = v1.create_namespaced_config_map(
                    "default", {"metadata": {"name": name}, "data": {"i": str(i)}}, _request_timeout=2)
            except Exception:
                return  # the server died mid-request: this create was not acknowledged
            acknowledged.append(name)
            last_rv = max(last_rv, int(created.metadata.resource_version))
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        time.sleep(0.01)
    c.stop(signal.SIGKILL)
    stop.set()
    thread.join(10)
    assert len(acknowledged) >= 150, "the writer made too little progress before the kill"

    c.start()
    v1 = client.CoreV1Api(c.api_client())
    stored = {cm.metadata.name for cm in v1.list_namespaced_config_map("default").items}
    missing = [name for name in acknowledged if name not in stored]
    assert missing == []
    after = v1.create_namespaced_config_map("default", {"metadata": {"name": "after-restart"}})
    assert int(after.metadata.resource_version) > last_rv
    # the object written just before the kill is intact, not half-written
    cm = v1.read_namespaced_config_map(acknowledged[-1], "default")
    assert cm.data == {"i": str(len(acknowledged) - 1)}
    with pytest.raises(ApiException) as err:
        v1.read_namespaced_config_map("never-created", "default")
    assert err.value.status == 404
