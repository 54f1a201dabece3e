"""apiserver.metrics: metrics.k8s.io/v1beta1 on the in-process API server with a fake `fetch_summary`
(shapes, selectors, dead and slow nodes, caching, discovery, errors, Table) and quantity formatting."""

from __future__ import annotations

import asyncio

import pytest

from podplane.apiserver.discovery import AGGREGATED_CONTENT_TYPE
from podplane.apiserver.metrics import format_bytes, format_cpu, go_duration

STAMP = "2026-11-27T20:00:00Z"
BASE = "/apis/metrics.k8s.io/v1beta1"
MERGE = "application/merge-patch+json"


def container_stats(name: str, nanocores: int | None, working_set: int) -> dict:
    cpu = {"time": STAMP, "usageCoreNanoSeconds": 123_000_000_000}
    if nanocores is not None:
        cpu["usageNanoCores"] = nanocores
    return {"name": name, "startTime": "2026-11-27T19:00:00Z", "cpu": cpu,
            "memory": {"time": STAMP, "workingSetBytes": working_set, "usageBytes": working_set + 4096}}


def pod_stats(name: str, uid: str, *containers: dict, namespace: str = "default") -> dict:
    return {"podRef": {"name": name, "namespace": namespace, "uid": uid}, "startTime": "2026-11-27T19:00:00Z",
            "cpu": {"time": STAMP, "usageNanoCores": 1}, "memory": {"time": STAMP, "workingSetBytes": 1},
            "containers": list(containers)}


def summary(node: str, nanocores: int, working_set: int, *pods: dict) -> dict:
    return {"node": {"nodeName": node, "startTime": "2026-11-01T00:00:00Z",
                     "cpu": {"time": STAMP, "usageNanoCores": nanocores, "usageCoreNanoSeconds": 10**15},
                     "memory": {"time": STAMP, "workingSetBytes": working_set, "usageBytes": working_set}},
            "pods": list(pods)}


class FakeAgents:
    """fetch_summary over a dict of node → Summary; a node mapped to an exception raises it,
    one in `slow` never answers."""

    def __init__(self) -> None:
        self.docs: dict[str, dict | Exception] = {}
        self.slow: set[str] = set()
        self.calls: list[str] = []

    async def __call__(self, node: str) -> dict:
        self.calls.append(node)
        if node in self.slow:
            await asyncio.sleep(3600)
        doc = self.docs[node]
        if isinstance(doc, Exception):
            raise doc
        return doc


async def make_node(api, name: str, *, ready: bool = True, labels: dict | None = None) -> None:
    status, _ = await api.call("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                                         "metadata": {"name": name, "labels": labels or {}}})
    assert status == 201
    status, _ = await api.call("PATCH", f"/api/v1/nodes/{name}/status", {"status": {
        "conditions": [{"type": "Ready", "status": "True" if ready else "Unknown"}],
        "allocatable": {"cpu": "4", "memory": "8Gi"}, "capacity": {"cpu": "4", "memory": "8Gi"}}},
        content_type=MERGE)
    assert status == 200


async def make_pod(api, name: str, node: str, *, namespace: str = "default", labels: dict | None = None,
                   phase: str = "Running", containers: tuple[str, ...] = ("app",)) -> str:
    status, pod = await api.call("POST", f"/api/v1/namespaces/{namespace}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
        "spec": {"nodeName": node, "containers": [{"name": c, "image": "nginx"} for c in containers]}})
    assert status == 201, pod
    status, _ = await api.call("PATCH", f"/api/v1/namespaces/{namespace}/pods/{name}/status",
                               {"status": {"phase": phase}}, content_type=MERGE)
    assert status == 200
    return pod["metadata"]["uid"]


@pytest.fixture
async def cluster(api):
    """node-a (Ready, two pods), node-b (Ready, one pod in kube-system), node-c (NotReady)."""
    agents = FakeAgents()
    api.apiserver.fetch_summary = agents
    await make_node(api, "node-a", labels={"zone": "a"})
    await make_node(api, "node-b", labels={"zone": "b"})
    await make_node(api, "node-c", ready=False)
    web1 = await make_pod(api, "web-1", "node-a", labels={"app": "web"}, containers=("app", "sidecar"))
    db = await make_pod(api, "db", "node-a", labels={"app": "db"})
    dns = await make_pod(api, "dns", "node-b", namespace="kube-system", labels={"app": "dns"})
    agents.docs["node-a"] = summary(
        "node-a", 250_000_000, 1024 * 1024 * 1024,
        pod_stats("web-1", web1, container_stats("app", 1_234_567, 10241 * 1024),
                  container_stats("sidecar", 2_000_000, 10 * 1024 * 1024)),
        pod_stats("db", db, container_stats("app", 500_000_000, 100 * 1024 * 1024)))
    agents.docs["node-b"] = summary(
        "node-b", 1_500_000_000, 2 * 1024 * 1024 * 1024,
        pod_stats("dns", dns, container_stats("app", 3_000_000, 20 * 1024 * 1024), namespace="kube-system"))
    agents.docs["node-c"] = summary("node-c", 1, 1)
    return agents


async def test_pod_metrics_list_shape(api, cluster):
    status, body = await api.call("GET", f"{BASE}/namespaces/default/pods")
    assert status == 200
    assert (body["kind"], body["apiVersion"], body["metadata"]) == ("PodMetricsList", "metrics.k8s.io/v1beta1", {})
    assert [i["metadata"]["name"] for i in body["items"]] == ["db", "web-1"]
    web = body["items"][1]
    assert set(web) == {"metadata", "timestamp", "window", "containers"}  # list items carry no kind
    assert web["metadata"]["namespace"] == "default"
    assert web["metadata"]["labels"] == {"app": "web"}
    assert web["metadata"]["creationTimestamp"].endswith("Z")
    assert (web["timestamp"], web["window"]) == (STAMP, "15s")
    assert web["containers"] == [
        {"name": "app", "usage": {"cpu": "1234567n", "memory": "10241Ki"}},
        {"name": "sidecar", "usage": {"cpu": "2m", "memory": "10Mi"}},
    ]
    assert body["items"][0]["containers"] == [{"name": "app", "usage": {"cpu": "500m", "memory": "100Mi"}}]
    assert sorted(set(cluster.calls)) == ["node-a"]  # only the nodes of the listed pods are asked


@pytest.mark.parametrize(("query", "path", "want"), [
    pytest.param("labelSelector=app%3Dweb", "namespaces/default/pods", ["default/web-1"], id="label"),
    pytest.param("labelSelector=app+in+(db,dns)", "pods", ["default/db", "kube-system/dns"], id="label-set-all-ns"),
    pytest.param("fieldSelector=metadata.name%3Ddb", "namespaces/default/pods", ["default/db"], id="field-name"),
    pytest.param("fieldSelector=metadata.namespace%3Dkube-system", "pods", ["kube-system/dns"], id="field-ns"),
    pytest.param("", "pods", ["default/db", "default/web-1", "kube-system/dns"], id="all-namespaces"),
    pytest.param("", "namespaces/empty/pods", [], id="empty-namespace"),
])
async def test_pod_metrics_selectors(api, cluster, query, path, want):
    status, body = await api.call("GET", f"{BASE}/{path}?{query}")
    assert status == 200, body
    assert [f'{i["metadata"]["namespace"]}/{i["metadata"]["name"]}' for i in body["items"]] == want


async def test_unsupported_field_selector_is_400(api, cluster):
    status, body = await api.call("GET", f"{BASE}/pods?fieldSelector=spec.nodeName%3Dnode-a")
    assert status == 400
    assert "not a known field selector" in body["message"]


async def test_get_one_pod(api, cluster):
    status, body = await api.call("GET", f"{BASE}/namespaces/default/pods/web-1")
    assert status == 200
    assert (body["kind"], body["apiVersion"]) == ("PodMetrics", "metrics.k8s.io/v1beta1")
    assert body["metadata"]["name"] == "web-1" and len(body["containers"]) == 2


async def test_get_errors(api, cluster):
    status, body = await api.call("GET", f"{BASE}/namespaces/default/pods/nope")
    assert (status, body["reason"], body["message"]) == (404, "NotFound", 'pods "nope" not found')
    await make_pod(api, "fresh", "node-a")  # running, but the agent has no figures for it yet
    status, body = await api.call("GET", f"{BASE}/namespaces/default/pods/fresh")
    assert (status, body["message"]) == (404, 'podmetrics.metrics.k8s.io "default/fresh" not found')
    status, body = await api.call("GET", f"{BASE}/nodes/node-c")
    assert (status, body["message"]) == (404, 'nodemetrics.metrics.k8s.io "node-c" not found')
    status, body = await api.call("GET", f"{BASE}/nodes/nope")
    assert (status, body["message"]) == (404, 'node "nope" not found')


async def test_pods_without_rates_or_not_running_are_omitted(api, cluster):
    partial = await make_pod(api, "partial", "node-b", containers=("a", "b"))
    done = await make_pod(api, "done", "node-b", phase="Succeeded")
    await make_pod(api, "stale", "node-b")
    cluster.docs["node-b"]["pods"] += [
        pod_stats("partial", partial, container_stats("a", 1000, 4096), container_stats("b", None, 4096)),
        pod_stats("done", done, container_stats("a", 1000, 4096)),
        pod_stats("stale", "uid-of-an-older-pod-with-this-name", container_stats("a", 1000, 4096)),
    ]
    _, body = await api.call("GET", f"{BASE}/namespaces/default/pods")
    assert [i["metadata"]["name"] for i in body["items"]] == ["db", "web-1"]


async def test_dead_and_slow_nodes_are_skipped(api, cluster):
    api.apiserver.metrics.timeout = 0.05
    await make_pod(api, "lost", "node-b")
    cluster.docs["node-a"] = ConnectionRefusedError("connection refused")
    _, body = await api.call("GET", f"{BASE}/pods")
    assert [i["metadata"]["name"] for i in body["items"]] == ["dns"]
    api.apiserver.metrics._cache.clear()
    cluster.slow.add("node-b")
    status, body = await api.call("GET", f"{BASE}/pods")
    assert (status, body["items"]) == (200, [])
    status, body = await api.call("GET", f"{BASE}/nodes")
    assert status == 200 and body["items"] == []


async def test_node_metrics(api, cluster):
    status, body = await api.call("GET", f"{BASE}/nodes")
    assert status == 200
    assert (body["kind"], body["apiVersion"], body["metadata"]) == ("NodeMetricsList", "metrics.k8s.io/v1beta1",
                                                                     {})
    assert body["items"] == [  # node-c is not Ready
        {"metadata": {"name": "node-a", "creationTimestamp": body["items"][0]["metadata"]["creationTimestamp"],
                      "labels": {"zone": "a"}},
         "timestamp": STAMP, "window": "15s", "usage": {"cpu": "250m", "memory": "1Gi"}},
        {"metadata": {"name": "node-b", "creationTimestamp": body["items"][1]["metadata"]["creationTimestamp"],
                      "labels": {"zone": "b"}},
         "timestamp": STAMP, "window": "15s", "usage": {"cpu": "1500m", "memory": "2Gi"}},
    ]
    _, body = await api.call("GET", f"{BASE}/nodes?labelSelector=zone%3Db")
    assert [i["metadata"]["name"] for i in body["items"]] == ["node-b"]
    _, body = await api.call("GET", f"{BASE}/nodes?fieldSelector=metadata.name%3Dnode-a")
    assert [i["metadata"]["name"] for i in body["items"]] == ["node-a"]
    status, one = await api.call("GET", f"{BASE}/nodes/node-b")
    assert (status, one["kind"], one["usage"]) == (200, "NodeMetrics", {"cpu": "1500m", "memory": "2Gi"})
    assert "node-c" not in cluster.calls


async def test_summaries_are_cached_and_fetches_shared(api, cluster):
    results = await asyncio.gather(*(api.call("GET", f"{BASE}/pods") for _ in range(5)))
    assert all(status == 200 for status, _ in results)
    await api.call("GET", f"{BASE}/nodes")
    assert sorted(cluster.calls) == ["node-a", "node-b"]
    metrics = api.apiserver.metrics
    real = metrics.monotonic
    metrics.monotonic = lambda: real() + metrics.cache_ttl + 1
    await api.call("GET", f"{BASE}/nodes")
    assert sorted(cluster.calls) == ["node-a", "node-a", "node-b", "node-b"]


async def test_protobuf_accept_gets_json(api, cluster):
    r = await api.get(f"{BASE}/namespaces/default/pods", headers={
        "Authorization": "Bearer test-token", "Accept": "application/vnd.kubernetes.protobuf, */*"})
    assert r.status == 200
    assert r.content_type == "application/json"
    assert (await r.json())["kind"] == "PodMetricsList"


async def test_table(api, cluster):
    r = await api.get(f"{BASE}/namespaces/default/pods", headers={
        "Authorization": "Bearer test-token", "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    table = await r.json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "cpu", "memory", "Window"]
    assert [row["cells"] for row in table["rows"]] == [["db", "500m", "100Mi", "15s"],
                                                       ["web-1", "3234567n", "20481Ki", "15s"]]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


@pytest.mark.parametrize(("method", "path", "status"), [
    pytest.param("POST", "namespaces/default/pods", 405, id="create"),
    pytest.param("DELETE", "nodes/node-a", 405, id="delete"),
    pytest.param("GET", "nodes?watch=true", 405, id="watch"),
    pytest.param("GET", "watch/namespaces/default/pods", 405, id="watch-path"),
    pytest.param("GET", "namespaces/default/pods/web-1/status", 404, id="no-subresources"),
    pytest.param("GET", "pods/web-1", 404, id="namespaced-name-without-namespace"),
])
async def test_unsupported_requests(api, cluster, method, path, status):
    got, body = await api.call(method, f"{BASE}/{path}", {} if method == "POST" else None)
    assert (got, body["kind"]) == (status, "Status")


async def test_by_default_the_agents_are_asked_and_no_nodes_means_no_metrics(api):
    status, body = await api.call("GET", f"{BASE}/nodes")
    assert (status, body["items"]) == (200, [])


async def test_without_agents_the_api_is_unavailable(api):
    api.apiserver.fetch_summary = None
    status, body = await api.call("GET", f"{BASE}/nodes")
    assert (status, body["reason"]) == (503, "ServiceUnavailable")
    assert "no node agents" in body["message"]


async def test_discovery(api):
    _, groups = await api.call("GET", "/apis")
    entry = next(g for g in groups["groups"] if g["name"] == "metrics.k8s.io")
    assert entry["preferredVersion"] == {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}
    status, group = await api.call("GET", "/apis/metrics.k8s.io")
    assert (status, group["kind"]) == (200, "APIGroup")
    _, resources = await api.call("GET", BASE)
    assert resources["groupVersion"] == "metrics.k8s.io/v1beta1"
    assert resources["resources"] == [
        {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics", "verbs": ["get", "list"]},
        {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics", "verbs": ["get", "list"]},
    ]
    r = await api.get("/apis", headers={"Authorization": "Bearer test-token", "Accept": AGGREGATED_CONTENT_TYPE})
    doc = await r.json()
    item = next(i for i in doc["items"] if i["metadata"].get("name") == "metrics.k8s.io")
    (version,) = item["versions"]
    assert version["version"] == "v1beta1"
    by_name = {r["resource"]: r for r in version["resources"]}
    assert by_name["pods"]["scope"] == "Namespaced" and by_name["nodes"]["scope"] == "Cluster"
    assert by_name["pods"]["responseKind"] == {"group": "metrics.k8s.io", "version": "v1beta1", "kind": "PodMetrics"}
    assert all(r["verbs"] == ["get", "list"] and "categories" not in r for r in by_name.values())


async def test_openapi_still_builds(api):
    _, index = await api.call("GET", "/openapi/v3")
    url = index["paths"]["apis/metrics.k8s.io/v1beta1"]["serverRelativeURL"]
    status, _ = await api.call("GET", url)
    assert status == 200


@pytest.mark.parametrize(("nanocores", "want"), [
    pytest.param(0, "0", id="zero"),
    pytest.param(1_234_567, "1234567n", id="nano"),
    pytest.param(1_230_000, "1230u", id="micro"),
    pytest.param(250_000_000, "250m", id="milli"),
    pytest.param(1_500_000_000, "1500m", id="cores-and-a-half"),
    pytest.param(2_000_000_000, "2", id="cores"),
    pytest.param(1_000_000_000_000, "1k", id="kilo"),
])
def test_format_cpu(nanocores, want):
    assert format_cpu(nanocores) == want


@pytest.mark.parametrize(("count", "want"), [
    pytest.param(0, "0", id="zero"),
    pytest.param(512, "512", id="small"),
    pytest.param(1000, "1k", id="small-decimal"),
    pytest.param(12345, "12345", id="not-a-multiple"),
    pytest.param(10241 * 1024, "10241Ki", id="kibi"),
    pytest.param(10240 * 1024, "10Mi", id="canonical"),
    pytest.param(20 * 1024 * 1024, "20Mi", id="mebi"),
    pytest.param(3 * 1024**3, "3Gi", id="gibi"),
])
def test_format_bytes(count, want):
    assert format_bytes(count) == want


@pytest.mark.parametrize(("seconds", "want"), [
    pytest.param(15, "15s", id="seconds"),
    pytest.param(1.5, "1.5s", id="fraction"),
    pytest.param(0.5, "500ms", id="millis"),
    pytest.param(60, "1m0s", id="minute"),
    pytest.param(3725, "1h2m5s", id="hours"),
])
def test_go_duration(seconds, want):
    assert go_duration(seconds) == want
