"""The API server's HTTP semantics, in process, over the memory store.

Each test builds an `ApiServer` on `memory://` and talks to it through aiohttp's test
client: no sockets beyond loopback, no TLS, no sleeping.
"""

from __future__ import annotations

import asyncio
import json

import pytest

AUTH = {"Authorization": "Bearer test-token"}


def configmap(name: str, **labels) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels},
            "data": {"k": name}}


def pod(name: str, node: str = "") -> dict:
    spec = {"containers": [{"name": "c", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


async def test_anonymous_requests_are_unauthorized(api):
    r = await api.get("/api/v1/namespaces")
    assert r.status == 401
    body = await r.json()
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "Unauthorized", 401)
    assert (await api.get("/healthz")).status == 200


async def test_create_sets_system_metadata_and_revisions_increase(api):
    s1, a = await api.call("POST", "/api/v1/namespaces/default/configmaps", configmap("a"))
    s2, b = await api.call("POST", "/api/v1/namespaces/default/configmaps", configmap("b"))
    assert (s1, s2) == (201, 201)
    assert a["metadata"]["uid"] and a["metadata"]["creationTimestamp"].endswith("Z")
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    status, body = await api.call("POST", "/api/v1/namespaces/default/configmaps", configmap("a"))
    assert status == 409 and body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "a" already exists'


@pytest.mark.parametrize("namespace,code,reason", [
    pytest.param("missing", 404, "NotFound", id="missing-namespace"),
    pytest.param("default", 201, None, id="existing-namespace"),
])
async def test_namespace_lifecycle_on_create(api, namespace, code, reason):
    status, body = await api.call("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("x"))
    assert status == code
    if reason:
        assert body["reason"] == reason and body["message"] == f'namespaces "{namespace}" not found'


async def test_terminating_namespace_refuses_new_content(api):
    await api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "doomed"}})
    status, ns = await api.call("DELETE", "/api/v1/namespaces/doomed")
    assert status == 200 and ns["status"]["phase"] == "Terminating" and ns["metadata"]["deletionTimestamp"]
    status, body = await api.call("POST", "/api/v1/namespaces/doomed/configmaps", configmap("x"))
    assert status == 403 and "being terminated" in body["message"]


async def test_update_with_stale_resource_version_conflicts(api):
    _, cm = await api.call("POST", "/api/v1/namespaces/default/configmaps", configmap("c"))
    cm["data"] = {"k": "v2"}
    status, updated = await api.call("PUT", "/api/v1/namespaces/default/configmaps/c", cm)
    assert status == 200 and updated["data"] == {"k": "v2"}
    status, body = await api.call("PUT", "/api/v1/namespaces/default/configmaps/c", cm)
    assert status == 409 and body["reason"] == "Conflict"


async def test_generation_counts_spec_changes_only(api):
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
              "spec": {"selector": {"matchLabels": {"a": "b"}},
                       "template": {"metadata": {"labels": {"a": "b"}},
                                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    _, d = await api.call("POST", "/apis/apps/v1/namespaces/default/deployments", deploy)
    assert d["metadata"]["generation"] == 1 and d["spec"]["replicas"] == 1
    _, d = await api.call("PATCH", "/apis/apps/v1/namespaces/default/deployments/d",
                      {"metadata": {"labels": {"x": "y"}}}, content_type="application/merge-patch+json")
    assert d["metadata"]["generation"] == 1
    _, d = await api.call("PATCH", "/apis/apps/v1/namespaces/default/deployments/d/status",
                      {"status": {"replicas": 1}}, content_type="application/merge-patch+json")
    assert d["metadata"]["generation"] == 1 and d["status"]["replicas"] == 1
    _, scale = await api.call("PATCH", "/apis/apps/v1/namespaces/default/deployments/d/scale",
                          {"spec": {"replicas": 4}}, content_type="application/merge-patch+json")
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 4 and scale["status"]["selector"] == "a=b"
    _, d = await api.call("GET", "/apis/apps/v1/namespaces/default/deployments/d")
    assert d["metadata"]["generation"] == 2 and d["status"] == {"replicas": 1}
    # a main-resource write cannot change status
    d["status"] = {"replicas": 99}
    _, d = await api.call("PUT", "/apis/apps/v1/namespaces/default/deployments/d", d)
    assert d["status"] == {"replicas": 1}


async def test_finalizers_hold_deletion_until_removed(api):
    cm = configmap("held")
    cm["metadata"]["finalizers"] = ["example.com/hold"]
    await api.call("POST", "/api/v1/namespaces/default/configmaps", cm)
    status, deleting = await api.call("DELETE", "/api/v1/namespaces/default/configmaps/held")
    assert status == 200 and deleting["metadata"]["deletionTimestamp"]
    status, _ = await api.call("GET", "/api/v1/namespaces/default/configmaps/held")
    assert status == 200
    await api.call("PATCH", "/api/v1/namespaces/default/configmaps/held", {"metadata": {"finalizers": None}},
               content_type="application/merge-patch+json")
    status, _ = await api.call("GET", "/api/v1/namespaces/default/configmaps/held")
    assert status == 404


@pytest.mark.parametrize("node,body,expect_present", [
    pytest.param("", None, False, id="unscheduled-pod-goes-at-once"),
    pytest.param("node-1", None, True, id="scheduled-pod-waits-for-its-agent"),
    pytest.param("node-1", {"gracePeriodSeconds": 0}, False, id="grace-zero-forces"),
])
async def test_pod_graceful_deletion(api, node, body, expect_present):
    await api.call("POST", "/api/v1/namespaces/default/pods", pod("p", node))
    status, deleted = await api.call("DELETE", "/api/v1/namespaces/default/pods/p", body)
    assert status == 200
    status, _ = await api.call("GET", "/api/v1/namespaces/default/pods/p")
    assert (status == 200) == expect_present
    if expect_present:
        assert deleted["metadata"]["deletionGracePeriodSeconds"] == 30


async def test_list_paging_is_consistent(api):
    for i in range(7):
        await api.call("POST", "/api/v1/namespaces/default/configmaps", configmap(f"p{i}"))
    _, first = await api.call("GET", "/api/v1/namespaces/default/configmaps?limit=3")
    assert [i["metadata"]["name"] for i in first["items"]] == ["p0", "p1", "p2"]
    token = first["metadata"]["continue"]
    await api.call("DELETE", "/api/v1/namespaces/default/configmaps/p4")  # after the snapshot
    names = []
    while token:
        _, page = await api.call("GET", f"/api/v1/namespaces/default/configmaps?limit=3&continue={token}")
        names += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue")
    assert names == ["p3", "p4", "p5", "p6"]  # the snapshot still holds p4


async def read_events(response, count: int, wait: float = 5.0) -> list[dict]:
    events = []
    while len(events) < count:
        line = await asyncio.wait_for(response.content.readline(), wait)
        if not line:
            break
        events.append(json.loads(line))
    return events


async def test_watch_turns_selector_transitions_into_added_and_deleted(api):
    _, cm = await api.call("POST", "/api/v1/namespaces/default/configmaps", configmap("w", tier="a"))
    rv = cm["metadata"]["resourceVersion"]
    r = await api.get(f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}"
                      f"&labelSelector=tier%3Db", headers=AUTH)
    await api.call("PATCH", "/api/v1/namespaces/default/configmaps/w", {"metadata": {"labels": {"tier": "b"}}},
               content_type="application/merge-patch+json")
    await api.call("PATCH", "/api/v1/namespaces/default/configmaps/w", {"data": {"k": "2"}},
               content_type="application/merge-patch+json")
    await api.call("PATCH", "/api/v1/namespaces/default/configmaps/w", {"metadata": {"labels": {"tier": "c"}}},
               content_type="application/merge-patch+json")
    events = await read_events(r, 3)
    r.close()
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    revisions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert revisions == sorted(revisions) and revisions[0] > int(rv)


async def test_watch_list_ends_initial_events_with_a_bookmark(api):
    await api.call("POST", "/api/v1/namespaces/default/configmaps", configmap("i1"))
    await api.call("POST", "/api/v1/namespaces/default/configmaps", configmap("i2"))
    r = await api.get("/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true"
                      "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true", headers=AUTH)
    events = await read_events(r, 3)
    await api.call("POST", "/api/v1/namespaces/default/configmaps", configmap("i3"))
    events += await read_events(r, 1)
    r.close()
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "BOOKMARK", "ADDED"]
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert events[3]["object"]["metadata"]["name"] == "i3"


async def test_watch_from_compacted_revision_is_gone(api):
    for i in range(3):
        _, cm = await api.call("POST", "/api/v1/namespaces/default/configmaps", configmap(f"g{i}"))
    await api.apiserver.backend.compact(int(cm["metadata"]["resourceVersion"]))
    r = await api.get("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=2", headers=AUTH)
    events = await read_events(r, 1)
    r.close()
    assert events[0]["type"] == "ERROR"
    assert (events[0]["object"]["code"], events[0]["object"]["reason"]) == (410, "Expired")


async def test_table_output_for_kubectl_get(api):
    await api.call("POST", "/api/v1/namespaces/default/configmaps", configmap("t1"))
    r = await api.get("/api/v1/namespaces/default/configmaps",
                      headers={**AUTH, "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    assert r.headers["Content-Type"].startswith("application/json;as=Table")
    table = await r.json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert table["rows"][0]["cells"][:2] == ["t1", 1]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


async def test_dry_run_does_not_persist(api):
    status, body = await api.call("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", configmap("dry"))
    assert status == 201 and body["metadata"]["name"] == "dry"
    status, _ = await api.call("GET", "/api/v1/namespaces/default/configmaps/dry")
    assert status == 404


async def test_internal_errors_do_not_take_the_server_down(api, monkeypatch):
    from podplane.api import printers

    def boom(*args, **kwargs):
        raise RuntimeError("printer exploded")

    monkeypatch.setattr(printers, "build_table", boom)
    r = await api.get("/api/v1/namespaces", headers={**AUTH, "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    body = await r.json()
    assert r.status == 500 and body["reason"] == "InternalError" and "printer exploded" in body["message"]
    status, _ = await api.call("GET", "/api/v1/namespaces")
    assert status == 200
