"""The official `kubernetes` Python client (37.x, unmodified) against a real `podplane server`.

Typed CoreV1Api / AppsV1Api CRUD, the three patch flavours, watches replayed from a
resourceVersion (the client's own e2e `test_watch_configmaps`), the informer,
`utils.create_from_yaml` (create and server-side apply), the DynamicClient and
CustomObjectsApi on a CRD with a status subresource.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid

import pytest
from kubernetes import client, utils, watch
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.informer import SharedInformer

pytestmark = pytest.mark.e2e


@pytest.fixture
def api(cluster):
    api_client = cluster.api_client()
    yield api_client
    api_client.close()


@pytest.fixture
def v1(api):
    return client.CoreV1Api(api)


@pytest.fixture
def ns(v1, request):
    name = "py-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:50].strip("-")
    v1.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def configmap(name: str, value: str, labels: dict | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels if labels is not None else {"e2e-tests": "true"}},
        "data": {"key": value, "config": "dummy"},
    }


def status_body(exc: ApiException) -> dict:
    return json.loads(exc.body)


def assert_not_found(exc: ApiException, resource: str, name: str, group: str = "") -> None:
    assert exc.status == 404
    assert exc.reason == "Not Found"  # the HTTP reason phrase
    body = status_body(exc)
    qualified = f"{resource}.{group}" if group else resource
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["status"] == "Failure" and body["reason"] == "NotFound" and body["code"] == 404
    assert body["message"] == f'{qualified} "{name}" not found'
    assert body["details"]["name"] == name and body["details"]["kind"] == resource


# -- CoreV1Api CRUD ---------------------------------------------------------------------------------
def test_configmap_crud(v1, ns):
    created = v1.create_namespaced_config_map(ns, configmap("a", "1", {"app": "x", "tier": "fe"}))
    assert created.metadata.name == "a" and created.metadata.namespace == ns
    assert created.metadata.uid and created.metadata.creation_timestamp is not None
    v1.create_namespaced_config_map(ns, configmap("b", "2", {"app": "y"}))
    v1.create_namespaced_config_map(ns, configmap("c", "3", {}))

    got = v1.read_namespaced_config_map("a", ns)
    assert got.data == {"key": "1", "config": "dummy"}
    assert got.metadata.resource_version == created.metadata.resource_version

    def names(**kw) -> set[str]:
        return {i.metadata.name for i in v1.list_namespaced_config_map(ns, **kw).items} - {"kube-root-ca.crt"}

    assert names() == {"a", "b", "c"}
    assert names(label_selector="app") == {"a", "b"}
    assert names(label_selector="app=x,tier=fe") == {"a"}
    assert names(label_selector="app in (x,y),tier!=fe") == {"b"}
    assert names(label_selector="!app") == {"c"}
    assert names(field_selector="metadata.name=b") == {"b"}
    assert names(field_selector="metadata.name!=b") == {"a", "c"}
    assert names(field_selector=f"metadata.namespace={ns}", label_selector="app=y") == {"b"}
    listed = v1.list_namespaced_config_map(ns)
    assert listed.kind == "ConfigMapList" and listed.api_version == "v1"
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)

    # replace (PUT) with the object read back
    got.data = {"key": "replaced"}
    replaced = v1.replace_namespaced_config_map("a", ns, got)
    assert replaced.data == {"key": "replaced"}
    assert int(replaced.metadata.resource_version) > int(got.metadata.resource_version)
    # a stale replace is a 409 Conflict
    with pytest.raises(ApiException) as e:
        v1.replace_namespaced_config_map("a", ns, got)
    assert e.value.status == 409 and status_body(e.value)["reason"] == "Conflict"

    # a dict is sent as a strategic merge patch
    patched = v1.patch_namespaced_config_map("a", ns, {"data": {"smp": "yes"}})
    assert patched.data == {"key": "replaced", "smp": "yes"}
    # a list is sent as a JSON patch
    patched = v1.patch_namespaced_config_map("a", ns, [
        {"op": "add", "path": "/data/jp", "value": "1"},
        {"op": "remove", "path": "/data/key"},
        {"op": "test", "path": "/data/smp", "value": "yes"},
    ])
    assert patched.data == {"smp": "yes", "jp": "1"}
    # merge patch with an explicit content type: null deletes a key
    patched = v1.patch_namespaced_config_map("a", ns, {"data": {"smp": None, "mp": "2"}},
                                             _content_type="application/merge-patch+json")
    assert patched.data == {"jp": "1", "mp": "2"}
    assert v1.read_namespaced_config_map("a", ns).data == {"jp": "1", "mp": "2"}

    v1.delete_namespaced_config_map("a", ns)
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_config_map("a", ns)
    assert_not_found(e.value, "configmaps", "a")
    with pytest.raises(ApiException) as e:
        v1.delete_namespaced_config_map("a", ns)
    assert_not_found(e.value, "configmaps", "a")
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_config_map(ns, configmap("b", "again"))
    assert e.value.status == 409
    assert status_body(e.value)["reason"] == "AlreadyExists"
    assert status_body(e.value)["message"] == 'configmaps "b" already exists'


def test_secret_crud(v1, ns):
    body = client.V1Secret(metadata=client.V1ObjectMeta(name="s", labels={"kind": "token"}),
                           string_data={"user": "admin"}, data={"pw": base64.b64encode(b"hunter2").decode()})
    created = v1.create_namespaced_secret(ns, body)
    assert created.type == "Opaque"  # defaulted
    # stringData is write-only: merged into data and never returned
    assert created.string_data is None
    assert created.data == {"user": base64.b64encode(b"admin").decode(),
                            "pw": base64.b64encode(b"hunter2").decode()}
    items = v1.list_namespaced_secret(ns, label_selector="kind=token").items
    assert [s.metadata.name for s in items] == ["s"]
    assert [s.metadata.name for s in v1.list_namespaced_secret(ns, field_selector="type=Opaque").items] == ["s"]
    assert v1.list_namespaced_secret(ns, field_selector="type=kubernetes.io/tls").items == []

    got = v1.read_namespaced_secret("s", ns)
    got.data["extra"] = base64.b64encode(b"x").decode()
    assert "extra" in v1.replace_namespaced_secret("s", ns, got).data
    patched = v1.patch_namespaced_secret("s", ns, {"stringData": {"user": "root"}})
    assert base64.b64decode(patched.data["user"]) == b"root"
    # the type of a secret is immutable
    with pytest.raises(ApiException) as e:
        v1.patch_namespaced_secret("s", ns, {"type": "kubernetes.io/basic-auth"})
    assert e.value.status == 422
    assert status_body(e.value)["reason"] == "Invalid"
    assert any(c.get("field") == "type" for c in status_body(e.value)["details"]["causes"])

    v1.delete_namespaced_secret("s", ns)
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_secret("s", ns)
    assert_not_found(e.value, "secrets", "s")


def test_service_crud_and_strategic_merge_of_ports(v1, ns):
    svc = client.V1Service(
        metadata=client.V1ObjectMeta(name="web", labels={"app": "web"}),
        spec=client.V1ServiceSpec(selector={"app": "web"},
                                  ports=[client.V1ServicePort(name="http", port=80, target_port=8000)]))
    created = v1.create_namespaced_service(ns, svc)
    assert created.spec.type == "ClusterIP"
    assert created.spec.ports[0].protocol == "TCP"
    assert created.spec.session_affinity == "None"

    assert [s.metadata.name for s in v1.list_namespaced_service(ns, label_selector="app=web").items] == ["web"]
    assert [s.metadata.name for s in v1.list_namespaced_service(
        ns, field_selector="metadata.name=web").items] == ["web"]

    # strategic merge: ServiceSpec.ports merges by `port`, so a new port is added, not replacing the list
    patched = v1.patch_namespaced_service("web", ns, {"spec": {"ports": [
        {"name": "alt", "port": 8080, "targetPort": 8080}]}})
    assert len(patched.spec.ports) == 2
    assert {(p.name, p.port) for p in patched.spec.ports} == {("http", 80), ("alt", 8080)}
    assert all(p.protocol == "TCP" for p in patched.spec.ports)
    # the same port again changes that entry only
    patched = v1.patch_namespaced_service("web", ns, {"spec": {"ports": [
        {"port": 8080, "targetPort": 9090}]}})
    ports = {p.port: p for p in patched.spec.ports}
    assert set(ports) == {80, 8080} and ports[8080].target_port == 9090 and ports[80].target_port == 8000
    # $patch: delete removes one entry by its merge key
    patched = v1.patch_namespaced_service("web", ns, {"spec": {"ports": [{"port": 8080, "$patch": "delete"}]}})
    assert [p.port for p in patched.spec.ports] == [80]

    # a merge patch replaces lists wholesale
    patched = v1.patch_namespaced_service("web", ns, {"spec": {"ports": [{"name": "https", "port": 443}]}},
                                          _content_type="application/merge-patch+json")
    assert [(p.name, p.port) for p in patched.spec.ports] == [("https", 443)]
    # a JSON patch addresses list items by index
    patched = v1.patch_namespaced_service("web", ns, [
        {"op": "replace", "path": "/spec/ports/0/port", "value": 8443}])
    assert [p.port for p in patched.spec.ports] == [8443]

    v1.delete_namespaced_service("web", ns)
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_service("web", ns)
    assert_not_found(e.value, "services", "web")


def test_service_cluster_ip_is_allocated_and_immutable(v1, ns):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ip"},
           "spec": {"selector": {"app": "ip"}, "ports": [{"port": 80}]}}
    created = v1.create_namespaced_service(ns, svc)
    # upstream's apiserver allocates a ClusterIP from the service CIDR on create
    assert created.spec.cluster_ip, "no spec.clusterIP was allocated"
    assert created.spec.cluster_ips == [created.spec.cluster_ip]
    assert created.spec.ip_families == ["IPv4"] and created.spec.ip_family_policy == "SingleStack"
    other = v1.create_namespaced_service(ns, {**svc, "metadata": {"name": "ip2"}})
    assert other.spec.cluster_ip != created.spec.cluster_ip
    headless = v1.create_namespaced_service(ns, {**svc, "metadata": {"name": "headless"},
                                                 "spec": {**svc["spec"], "clusterIP": "None"}})
    assert headless.spec.cluster_ip == "None" and headless.spec.cluster_ips == ["None"]
    # clusterIP is immutable
    got = v1.read_namespaced_service("ip", ns)
    got.spec.cluster_ip = "10.0.0.123" if got.spec.cluster_ip != "10.0.0.123" else "10.0.0.124"
    got.spec.cluster_ips = None
    with pytest.raises(ApiException) as e:
        v1.replace_namespaced_service("ip", ns, got)
    assert e.value.status == 422
    assert any(c.get("field", "").startswith("spec.clusterIP")
               for c in status_body(e.value)["details"]["causes"])


def test_delete_returns_a_success_status(v1, ns):
    """Stores without ReturnDeletedObject (configmaps, secrets, ...) answer a DELETE with a Status."""
    created = v1.create_namespaced_config_map(ns, configmap("gone", "1"))
    result = v1.delete_namespaced_config_map("gone", ns)
    # the 37.x client types every DELETE response as `object` (a Status or the deleted object): a dict
    assert isinstance(result, dict), result
    assert (result["kind"], result["apiVersion"], result["status"]) == ("Status", "v1", "Success")
    assert result["details"]["name"] == "gone" and result["details"]["kind"] == "configmaps"
    assert result["details"]["uid"] == created.metadata.uid


def test_not_found_errors(api, v1, ns):
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_config_map("missing", ns)
    assert_not_found(e.value, "configmaps", "missing")
    with pytest.raises(ApiException) as e:
        client.AppsV1Api(api).read_namespaced_deployment("missing", ns)
    assert_not_found(e.value, "deployments", "missing", group="apps")
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_config_map("no-such-namespace", configmap("x", "1"))
    assert_not_found(e.value, "namespaces", "no-such-namespace")


# -- watch --------------------------------------------------------------------------------------------
def test_watch_configmaps(v1, ns):
    """Upstream's kubernetes/e2e_test/test_client.py::test_watch_configmaps, in a private namespace."""
    name_a = "configmap-a-" + uuid.uuid4().hex[:12]
    v1.create_namespaced_config_map(ns, configmap(name_a, "a"))
    rv = v1.list_namespaced_config_map(ns, label_selector="e2e-tests=true").metadata.resource_version

    name_b = "configmap-b-" + uuid.uuid4().hex[:12]
    configmap_b = configmap(name_b, "b")
    v1.create_namespaced_config_map(ns, configmap_b)
    configmap_b["data"]["config"] = "{}"
    v1.patch_namespaced_config_map(name_b, ns, configmap_b)
    v1.delete_collection_namespaced_config_map(ns, label_selector="e2e-tests=true")

    w = watch.Watch()
    events = []
    start = time.monotonic()
    for event in w.stream(v1.list_namespaced_config_map, namespace=ns, resource_version=rv,
                          timeout_seconds=5, label_selector="e2e-tests=true"):
        events.append((event["type"], event["object"].metadata.name, event["object"].data))
    elapsed = time.monotonic() - start
    assert [t for t, _, _ in events] == ["ADDED", "MODIFIED", "DELETED", "DELETED"]
    assert events[0][1] == events[1][1] == name_b
    assert events[1][2] == {"key": "b", "config": "{}"}
    assert {n for _, n, _ in events[2:]} == {name_a, name_b}
    assert elapsed < 8, f"the watch did not end after timeoutSeconds=5 ({elapsed:.1f}s)"
    assert v1.list_namespaced_config_map(ns, label_selector="e2e-tests=true").items == []


def test_watch_resumes_from_a_resource_version_in_the_middle(v1, ns):
    rvs = [v1.create_namespaced_config_map(ns, configmap(f"m{i}", str(i))).metadata.resource_version
           for i in range(4)]
    v1.patch_namespaced_config_map("m1", ns, {"data": {"key": "changed"}})
    events = [(e["type"], e["object"].metadata.name)
              for e in watch.Watch().stream(v1.list_namespaced_config_map, ns, resource_version=rvs[1],
                                            timeout_seconds=1, label_selector="e2e-tests=true")]
    assert events == [("ADDED", "m2"), ("ADDED", "m3"), ("MODIFIED", "m1")]


def test_resource_versions_are_increasing_integers(v1, ns):
    seen = []
    obj = v1.create_namespaced_config_map(ns, configmap("rv", "0"))
    seen.append(obj.metadata.resource_version)
    for i in range(1, 4):
        obj = v1.patch_namespaced_config_map("rv", ns, {"data": {"key": str(i)}})
        seen.append(obj.metadata.resource_version)
    other = v1.create_namespaced_config_map(ns, configmap("rv2", "0"))
    seen.append(other.metadata.resource_version)
    as_ints = [int(rv) for rv in seen]  # the python e2e does int(resourceVersion)
    assert as_ints == sorted(as_ints) and len(set(as_ints)) == len(as_ints)
    list_rv = int(v1.list_namespaced_config_map(ns).metadata.resource_version)
    assert list_rv >= as_ints[-1]
    # a no-op patch writes nothing: the resourceVersion stays
    same = v1.patch_namespaced_config_map("rv2", ns, {"data": {"key": "0"}})
    assert same.metadata.resource_version == other.metadata.resource_version
    # watch events carry those same resourceVersions, in order
    w = watch.Watch()
    event_rvs = [int(e["object"].metadata.resource_version)
                 for e in w.stream(v1.list_namespaced_config_map, ns, resource_version=str(as_ints[0] - 1),
                                   timeout_seconds=1)]
    assert event_rvs == as_ints
    assert int(w.resource_version) == as_ints[-1]


def test_watch_from_an_old_resource_version_replays_or_expires(v1, ns):
    """An informer-style client: LIST, WATCH from an old RV; on 410 Expired it relists.

    Compaction runs every 5 minutes, so RV "1" is normally still in the history and the
    whole history of the namespace is replayed; after a compaction the server must answer
    410 Expired instead (as an ERROR event), and the client relists.
    """
    v1.create_namespaced_config_map(ns, configmap("old", "1"))
    v1.patch_namespaced_config_map("old", ns, {"data": {"key": "2"}})
    v1.delete_namespaced_config_map("old", ns)
    v1.create_namespaced_config_map(ns, configmap("new", "1"))
    try:
        events = [(e["type"], e["object"].metadata.name, e["object"].data["key"])
                  for e in watch.Watch().stream(v1.list_namespaced_config_map, ns, resource_version="1",
                                                timeout_seconds=1, label_selector="e2e-tests=true")]
    except ApiException as e:
        assert e.status == 410 and e.reason.startswith("Expired: too old resource version")
        listed = v1.list_namespaced_config_map(ns, label_selector="e2e-tests=true")
        assert [i.metadata.name for i in listed.items] == ["new"]
        return
    assert events == [("ADDED", "old", "1"), ("MODIFIED", "old", "2"), ("DELETED", "old", "2"),
                      ("ADDED", "new", "1")]


def test_watch_without_resource_version_lists_first(v1, ns):
    v1.create_namespaced_config_map(ns, configmap("x1", "1"))
    v1.create_namespaced_config_map(ns, configmap("x2", "2"))
    events = [(e["type"], e["object"].metadata.name)
              for e in watch.Watch().stream(v1.list_namespaced_config_map, ns, timeout_seconds=1,
                                            label_selector="e2e-tests=true")]
    assert sorted(events) == [("ADDED", "x1"), ("ADDED", "x2")]
    # a field selector on the watch
    events = [(e["type"], e["object"].metadata.name)
              for e in watch.Watch().stream(v1.list_namespaced_config_map, ns, timeout_seconds=1,
                                            field_selector="metadata.name=x2")]
    assert events == [("ADDED", "x2")]


def test_watch_sees_live_changes_and_label_transitions(v1, ns):
    v1.create_namespaced_config_map(ns, configmap("live", "1", {"sel": "no"}))
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version

    def writer():
        time.sleep(0.5)
        v1.patch_namespaced_config_map("live", ns, {"metadata": {"labels": {"sel": "yes"}}})
        v1.patch_namespaced_config_map("live", ns, {"data": {"key": "2"}})
        v1.patch_namespaced_config_map("live", ns, {"metadata": {"labels": {"sel": "no"}}})

    t = threading.Thread(target=writer)
    t.start()
    events = [e["type"] for e in watch.Watch().stream(v1.list_namespaced_config_map, ns, resource_version=rv,
                                                      timeout_seconds=2, label_selector="sel=yes")]
    t.join()
    # entering the selector is ADDED, leaving it is DELETED (as the upstream watch cache reports it)
    assert events == ["ADDED", "MODIFIED", "DELETED"]


def test_shared_informer(v1, ns):
    v1.create_namespaced_config_map(ns, configmap("pre", "1"))
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def handler(kind):
        def record(obj):
            with lock:
                seen.append((kind, obj.metadata.name))
        return record

    informer = SharedInformer(v1.list_namespaced_config_map, namespace=ns, resync_period=2,
                              label_selector="e2e-tests=true")
    for kind in ("ADDED", "MODIFIED", "DELETED"):
        informer.add_event_handler(kind, handler(kind))
    informer.start()
    try:
        def wait_for(item):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with lock:
                    if item in seen:
                        return
                time.sleep(0.05)
            raise AssertionError(f"informer never reported {item}; saw {seen}")

        wait_for(("ADDED", "pre"))
        v1.create_namespaced_config_map(ns, configmap("post", "1"))
        wait_for(("ADDED", "post"))
        v1.patch_namespaced_config_map("post", ns, {"data": {"key": "2"}})
        wait_for(("MODIFIED", "post"))
        v1.delete_namespaced_config_map("pre", ns)
        wait_for(("DELETED", "pre"))
        assert int(informer._resource_version) >= 1
        assert {o.metadata.name for o in informer.cache.list()} == {"post"}
    finally:
        informer.stop()


# -- apps/v1 -----------------------------------------------------------------------------------------
def deployment(name: str, replicas: int = 2) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
            },
        },
    }


def test_deployment_and_scale_subresource(api, ns):
    apps = client.AppsV1Api(api)
    created = apps.create_namespaced_deployment(ns, deployment("web"))
    assert created.spec.replicas == 2 and created.metadata.generation == 1
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.template.spec.containers[0].image_pull_policy == "IfNotPresent"

    scale = apps.read_namespaced_deployment_scale("web", ns)
    assert scale.kind == "Scale" and scale.api_version == "autoscaling/v1"
    assert scale.metadata.name == "web" and scale.metadata.namespace == ns
    assert scale.metadata.uid == created.metadata.uid
    assert scale.spec.replicas == 2
    assert scale.status.selector == "app=web"

    stale = scale
    scale = apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 4}})
    assert scale.spec.replicas == 4
    got = apps.read_namespaced_deployment("web", ns)
    assert got.spec.replicas == 4 and got.metadata.generation == 2

    # PUT with the current resourceVersion works (retried the way clients do: the deployment
    # controller may write the status in between); a stale resourceVersion is a conflict
    for _ in range(10):
        scale = apps.read_namespaced_deployment_scale("web", ns)
        scale.spec.replicas = 1
        try:
            assert apps.replace_namespaced_deployment_scale("web", ns, scale).spec.replicas == 1
            break
        except ApiException as conflict:
            assert conflict.status == 409
    else:
        pytest.fail("PUT of the scale subresource conflicted 10 times in a row")
    stale.spec.replicas = 7
    with pytest.raises(ApiException) as e:
        apps.replace_namespaced_deployment_scale("web", ns, stale)
    assert e.value.status == 409 and status_body(e.value)["reason"] == "Conflict"
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 1

    with pytest.raises(ApiException) as e:
        apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": -1}})
    assert e.value.status == 422
    assert [c["field"] for c in status_body(e.value)["details"]["causes"]] == ["spec.replicas"]

    listed = apps.list_namespaced_deployment(ns, label_selector="app=web")
    assert [d.metadata.name for d in listed.items] == ["web"]
    apps.delete_namespaced_deployment("web", ns)
    with pytest.raises(ApiException) as e:
        apps.read_namespaced_deployment_scale("web", ns)
    assert_not_found(e.value, "deployments", "web", group="apps")


# -- utils.create_from_yaml --------------------------------------------------------------------------
def yaml_objects(ns: str, image: str = "nginx:1.27", replicas: int = 2) -> list[dict]:
    dep = deployment("app", replicas)
    dep["metadata"]["namespace"] = ns
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = image
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "app", "namespace": ns},
           "spec": {"selector": {"app": "app"}, "ports": [{"port": 80, "targetPort": 80}]}}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config", "namespace": ns},
          "data": {"mode": "create"}}
    return [dep, svc, cm]


def test_create_from_yaml_and_server_side_apply(api, ns):
    created = utils.create_from_yaml(api, yaml_objects=yaml_objects(ns), namespace=ns)
    kinds = [type(objs[0]).__name__ for objs in created]
    assert kinds == ["V1Deployment", "V1Service", "V1ConfigMap"]
    apps, v1 = client.AppsV1Api(api), client.CoreV1Api(api)
    assert apps.read_namespaced_deployment("app", ns).spec.replicas == 2
    assert v1.read_namespaced_service("app", ns).spec.ports[0].port == 80
    # creating again is AlreadyExists for every object
    with pytest.raises(utils.FailToCreateError) as e:
        utils.create_from_yaml(api, yaml_objects=yaml_objects(ns), namespace=ns)
    assert [x.status for x in e.value.api_exceptions] == [409, 409, 409]

    # apply=True: server-side apply through the DynamicClient, fieldManager=python-client. The typed
    # create recorded the user agent's manager, so changing its fields conflicts...
    objects = yaml_objects(ns, image="nginx:1.28", replicas=3)
    objects[2]["data"] = {"mode": "apply"}
    with pytest.raises(utils.FailToCreateError) as e:
        utils.create_from_yaml(api, yaml_objects=objects, namespace=ns, apply=True)
    conflicts = [json.loads(x.body) for x in e.value.api_exceptions]
    assert [c["code"] for c in conflicts] == [409, 409]  # the unchanged Service applies cleanly
    assert [sorted(cause["field"] for cause in c["details"]["causes"]) for c in conflicts] == [
        [".spec.replicas", '.spec.template.spec.containers[name="nginx"].image'], [".data.mode"]]
    assert all(cause["reason"] == "FieldManagerConflict" and '"OpenAPI-Generator"' in cause["message"]
               for c in conflicts for cause in c["details"]["causes"])
    # ... unless forced
    applied = utils.create_from_yaml(api, yaml_objects=objects, namespace=ns, apply=True, force_conflicts=True)
    assert len(applied) == 3
    dep = apps.read_namespaced_deployment("app", ns)
    assert dep.spec.replicas == 3
    assert dep.spec.template.spec.containers[0].image == "nginx:1.28"
    assert dep.metadata.generation == 2
    assert v1.read_namespaced_config_map("app-config", ns).data == {"mode": "apply"}
    managers = {(m.manager, m.operation) for m in dep.metadata.managed_fields}
    assert ("python-client", "Apply") in managers

    # apply=True also creates objects that do not exist yet (201)
    fresh = yaml_objects(ns)[2]
    fresh["metadata"]["name"] = "applied-config"
    utils.create_from_yaml(api, yaml_objects=[fresh], namespace=ns, apply=True)
    cm = v1.read_namespaced_config_map("applied-config", ns)
    assert cm.data == {"mode": "create"}
    assert [(m.manager, m.operation) for m in cm.metadata.managed_fields] == [("python-client", "Apply")]


# -- DynamicClient -----------------------------------------------------------------------------------
def test_dynamic_client(api, ns):
    dyn = DynamicClient(api)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    assert cms.namespaced and cms.name == "configmaps"
    cms.create(body=configmap("dyn", "1", {"via": "dynamic"}), namespace=ns)
    got = cms.get(name="dyn", namespace=ns)
    assert got.data.key == "1" and got.metadata.labels.via == "dynamic"
    listed = cms.get(namespace=ns, label_selector="via=dynamic")
    assert listed.kind == "ConfigMapList"
    assert [i.metadata.name for i in listed.items] == ["dyn"]
    patched = cms.patch(name="dyn", namespace=ns, body={"data": {"key": "2"}},
                        content_type="application/merge-patch+json")
    assert patched.data.key == "2"

    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.group == "apps" and deployments.short_names == ["deploy"]
    deployments.server_side_apply(body={**deployment("dd"), "metadata": {"name": "dd", "namespace": ns}},
                                  field_manager="dyn-test")
    dd = deployments.get(name="dd", namespace=ns)
    assert dd.spec.replicas == 2
    names = [i.metadata.name for i in deployments.get(namespace=ns).items]
    assert names == ["dd"]
    namespaces = dyn.resources.get(api_version="v1", kind="Namespace")
    assert not namespaces.namespaced
    assert ns in [i.metadata.name for i in namespaces.get().items]
    cms.delete(name="dyn", namespace=ns)
    with pytest.raises(ApiException) as e:
        cms.get(name="dyn", namespace=ns)
    assert e.value.status == 404


# -- CustomObjectsApi --------------------------------------------------------------------------------
GROUP = "pyclient.example.com"


def widget_crd(plural: str) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1], "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {
                            "size": {"type": "integer"}, "color": {"type": "string"}}},
                        "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                    },
                }},
            }],
        },
    }


def wait_established(ext: client.ApiextensionsV1Api, name: str) -> client.V1CustomResourceDefinition:
    deadline = time.monotonic() + 10
    while True:
        crd = ext.read_custom_resource_definition(name)
        conditions = {c.type: c.status for c in (crd.status.conditions or [])} if crd.status else {}
        if conditions.get("Established") == "True":
            assert conditions.get("NamesAccepted") == "True"
            return crd
        assert time.monotonic() < deadline, f"CRD {name} never became Established: {conditions}"
        time.sleep(0.1)


@pytest.fixture
def widgets(api):
    ext = client.ApiextensionsV1Api(api)
    plural = "widgets"
    body = widget_crd(plural)
    ext.create_custom_resource_definition(body)
    wait_established(ext, body["metadata"]["name"])
    yield plural
    try:
        ext.delete_custom_resource_definition(body["metadata"]["name"])
    except ApiException as e:
        if e.status != 404:
            raise


def test_custom_objects(api, ns, widgets):
    custom = client.CustomObjectsApi(api)
    body = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w1", "labels": {"c": "red"}},
            "spec": {"size": 3, "color": "red"}}
    created = custom.create_namespaced_custom_object(GROUP, "v1", ns, widgets, body)
    assert created["metadata"]["name"] == "w1" and created["metadata"]["uid"]
    assert created["metadata"]["generation"] == 1
    custom.create_namespaced_custom_object(GROUP, "v1", ns, widgets, {
        "apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w2"}, "spec": {"size": 1}})

    got = custom.get_namespaced_custom_object(GROUP, "v1", ns, widgets, "w1")
    assert got["spec"] == {"size": 3, "color": "red"}
    listed = custom.list_namespaced_custom_object(GROUP, "v1", ns, widgets)
    assert listed["kind"] == "WidgetList" and listed["apiVersion"] == f"{GROUP}/v1"
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == ["w1", "w2"]
    listed = custom.list_namespaced_custom_object(GROUP, "v1", ns, widgets, label_selector="c=red")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w1"]
    everywhere = custom.list_cluster_custom_object(GROUP, "v1", widgets)
    assert {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere["items"]} >= {
        (ns, "w1"), (ns, "w2")}

    # CustomObjectsApi sends a dict patch as a merge patch
    patched = custom.patch_namespaced_custom_object(GROUP, "v1", ns, widgets, "w1",
                                                    {"spec": {"color": None, "size": 5}})
    assert patched["spec"] == {"size": 5}
    assert patched["metadata"]["generation"] == 2
    # a strategic merge patch is not supported on custom resources
    with pytest.raises(ApiException) as e:
        custom.patch_namespaced_custom_object(GROUP, "v1", ns, widgets, "w1", {"spec": {"size": 6}},
                                              _content_type="application/strategic-merge-patch+json")
    assert e.value.status == 415 and status_body(e.value)["reason"] == "UnsupportedMediaType"

    # the main resource ignores status; the status subresource ignores everything else
    patched = custom.patch_namespaced_custom_object(GROUP, "v1", ns, widgets, "w1",
                                                    {"status": {"phase": "Ignored"}})
    assert "status" not in patched
    patched = custom.patch_namespaced_custom_object_status(
        GROUP, "v1", ns, widgets, "w1", {"status": {"phase": "Ready"}, "spec": {"size": 100}})
    assert patched["status"] == {"phase": "Ready"}
    assert patched["spec"] == {"size": 5} and patched["metadata"]["generation"] == 2
    status = custom.get_namespaced_custom_object_status(GROUP, "v1", ns, widgets, "w1")
    assert status["status"] == {"phase": "Ready"}
    # replace keeps the status
    got = custom.get_namespaced_custom_object(GROUP, "v1", ns, widgets, "w1")
    got["spec"]["size"] = 9
    got["status"] = {"phase": "Overwritten?"}
    replaced = custom.replace_namespaced_custom_object(GROUP, "v1", ns, widgets, "w1", got)
    assert replaced["spec"] == {"size": 9} and replaced["status"] == {"phase": "Ready"}

    # a wrong type is rejected by the CRD's schema
    with pytest.raises(ApiException) as e:
        custom.create_namespaced_custom_object(GROUP, "v1", ns, widgets, {
            "apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "bad"},
            "spec": {"size": "big"}})
    assert e.value.status == 422
    assert [c["field"] for c in status_body(e.value)["details"]["causes"]] == ["spec.size"]

    custom.delete_namespaced_custom_object(GROUP, "v1", ns, widgets, "w1")
    with pytest.raises(ApiException) as e:
        custom.get_namespaced_custom_object(GROUP, "v1", ns, widgets, "w1")
    assert_not_found(e.value, widgets, "w1", group=GROUP)
    events = [(ev["type"], ev["object"]["metadata"]["name"])
              for ev in watch.Watch().stream(custom.list_namespaced_custom_object, GROUP, "v1", ns, widgets,
                                             timeout_seconds=1)]
    assert events == [("ADDED", "w2")]
