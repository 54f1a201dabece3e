"""OpenAPI v3 documents: shape, upstream operation ids, schema closure, custom resources, caching."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import orjson
import pytest

from podplane.api.crd import resource_infos
from podplane.api.openapi import OpenAPIDocs, crd_definition_name, gv_path, operation_gv_name
from podplane.api.registry import default_registry
from podplane.api.schema import REF_PREFIX, definitions

UPSTREAM = Path("/work/shared/reference/kubernetes-openapi-v2.json")
ACTIONS = {"get", "list", "watch", "watchlist", "post", "put", "patch", "delete", "deletecollection", "connect"}


def load(docs: OpenAPIDocs, path: str) -> dict:
    built = docs.document(path)
    assert built is not None, path
    return orjson.loads(built[0])


@pytest.fixture(scope="module")
def docs() -> OpenAPIDocs:
    return OpenAPIDocs(default_registry())


@pytest.fixture(scope="module")
def upstream() -> dict:
    if not UPSTREAM.exists():
        pytest.skip("upstream reference document not available")
    return json.loads(UPSTREAM.read_bytes())


def all_refs(node, found: set[str] | None = None) -> set[str]:
    found = set() if found is None else found
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value)
            else:
                all_refs(value, found)
    elif isinstance(node, list):
        for value in node:
            all_refs(value, found)
    return found


def operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield path, method, op


def test_index_lists_every_group_version_with_a_hash(docs):
    registry = default_registry()
    expected = {gv_path(g, v) for g, vs in registry.groups().items() for v in vs}
    index = docs.index()
    assert set(index["paths"]) == expected
    for path, entry in index["paths"].items():
        body, digest = docs.document(path)
        assert entry == {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
        assert digest == hashlib.sha512(body).hexdigest().upper()


def test_every_document_builds_and_is_self_contained(docs):
    for path in docs.index()["paths"]:
        doc = load(docs, path)
        assert doc["openapi"] == "3.0.0" and doc["info"] == {"title": "Kubernetes", "version": "v1.37.0"}
        schemas = doc["components"]["schemas"]
        refs = all_refs(doc)
        missing = {r for r in refs if r.removeprefix(REF_PREFIX) not in schemas}
        assert not missing, (path, sorted(missing)[:5])
        for _, _, op in operations(doc):
            assert op["operationId"]
            if "x-kubernetes-action" in op:
                assert op["x-kubernetes-action"] in ACTIONS


def test_hashes_are_stable_across_builds():
    first = OpenAPIDocs(default_registry()).index()
    second = OpenAPIDocs(default_registry()).index()
    assert first == second


def test_apps_v1_documents_deployment_for_kubectl(docs):
    doc = load(docs, "apis/apps/v1")
    schema = doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert schema["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert "enum" not in schema["properties"]["kind"]
    assert schema["properties"]["spec"] == {
        "allOf": [{"$ref": REF_PREFIX + "io.k8s.api.apps.v1.DeploymentSpec"}],
        "description": "Specification of the desired behavior of the Deployment."}
    for name in ("io.k8s.api.apps.v1.DeploymentList", "io.k8s.api.core.v1.PodTemplateSpec",
                 "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
                 "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "io.k8s.api.autoscaling.v1.Scale"):
        assert name in doc["components"]["schemas"], name
    item = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment", "version": "v1"}
    assert {"fieldValidation", "dryRun", "fieldManager", "force"} <= {p["name"] for p in patch["parameters"]}
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]
    assert {p["name"] for p in item["parameters"]} == {"name", "namespace", "pretty"}
    post = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["post"]
    assert post["operationId"] == "createAppsV1NamespacedDeployment"
    assert post["requestBody"]["content"]["*/*"]["schema"] == {"$ref": REF_PREFIX + "io.k8s.api.apps.v1.Deployment"}
    assert {"fieldValidation", "dryRun", "fieldManager"} <= {p["name"] for p in post["parameters"]}


def test_core_v1_has_list_schemas_and_cluster_wide_lists(docs):
    doc = load(docs, "api/v1")
    assert "io.k8s.api.core.v1.PodList" in doc["components"]["schemas"]
    assert doc["paths"]["/api/v1/pods"]["get"]["operationId"] == "listCoreV1PodForAllNamespaces"
    assert "/api/v1/namespaces/{namespace}/pods/{name}/log" in doc["paths"]
    # documents only hold their own group's kinds
    assert "io.k8s.api.apps.v1.Deployment" not in doc["components"]["schemas"]


RESOURCES = [
    pytest.param("/api/v1", "namespaces/{namespace}/pods", id="pods"),
    pytest.param("/api/v1", "namespaces/{namespace}/configmaps", id="configmaps"),
    pytest.param("/api/v1", "nodes", id="nodes"),
    pytest.param("/api/v1", "namespaces/{namespace}/serviceaccounts", id="serviceaccounts"),
    pytest.param("/apis/apps/v1", "namespaces/{namespace}/deployments", id="deployments"),
    pytest.param("/apis/batch/v1", "namespaces/{namespace}/cronjobs", id="cronjobs"),
    pytest.param("/apis/rbac.authorization.k8s.io/v1", "clusterroles", id="clusterroles"),
    pytest.param("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", id="crds"),
    pytest.param("/apis/authorization.k8s.io/v1", "selfsubjectaccessreviews", id="create-only"),
]


@pytest.mark.parametrize(("prefix", "collection"), RESOURCES)
def test_operations_match_upstream(docs, upstream, prefix, collection):
    """Paths, operation ids, actions and GVKs equal upstream's for the resource and its subresources."""
    ours = load(docs, prefix.strip("/"))["paths"]
    plural = collection.rsplit("/", 1)[-1]

    def related(paths):
        out = {}
        for path, item in paths.items():
            if path.startswith(prefix + "/") and f"/{plural}" in path and "/proxy" not in path \
                    and not path.endswith(("/resize",)):
                for method, op in item.items():
                    if method != "parameters":
                        out[(path, method)] = (op["operationId"], op.get("x-kubernetes-action"),
                                               op.get("x-kubernetes-group-version-kind"))
        return out

    expected = related(upstream["paths"])
    assert expected, "the reference has no such resource"
    assert related(ours) == expected


def test_every_operation_we_share_with_upstream_agrees(docs, upstream):
    checked = 0
    for path in docs.index()["paths"]:
        for route, method, op in operations(load(docs, path)):
            theirs = upstream["paths"].get(route, {}).get(method)
            if theirs is None or method == "parameters":
                continue
            checked += 1
            assert (op["operationId"], op.get("x-kubernetes-action")) == \
                (theirs["operationId"], theirs.get("x-kubernetes-action")), (route, method)
    assert checked > 400


@pytest.mark.parametrize(("group", "version", "expected"), [
    pytest.param("", "v1", "CoreV1", id="core"),
    pytest.param("apps", "v1", "AppsV1", id="apps"),
    pytest.param("rbac.authorization.k8s.io", "v1", "RbacAuthorizationV1", id="k8s-io-suffix"),
    pytest.param("flowcontrol.apiserver.k8s.io", "v1beta3", "FlowcontrolApiserverV1beta3", id="nested"),
    pytest.param("stable.example.com", "v1", "StableExampleComV1", id="custom"),
    pytest.param("my-group.example.com", "v2alpha1", "MyGroupExampleComV2alpha1", id="dash"),
])
def test_operation_gv_name(group, version, expected):
    assert operation_gv_name(group, version) == expected


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "crontabs.stable.example.com"},
    "spec": {"group": "stable.example.com", "scope": "Namespaced",
             "names": {"plural": "crontabs", "kind": "CronTab"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                                    "statusReplicasPath": ".status.replicas"}},
                           "schema": {"openAPIV3Schema": {
                               "type": "object", "description": "A cron tab.",
                               "properties": {"spec": {"type": "object", "properties": {
                                   "cronSpec": {"type": "string"}, "replicas": {"type": "integer"},
                                   "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                                                "x-kubernetes-preserve-unknown-fields": True}}}}}}}]},
}


def test_custom_resources_get_documents_and_invalidate():
    registry = default_registry()
    docs = OpenAPIDocs(registry)
    before = docs.index()
    assert docs.document("apis/stable.example.com/v1") is None
    for info in resource_infos(CRD):
        registry.add(info)
    docs.invalidate()
    after = docs.index()
    assert set(after["paths"]) - set(before["paths"]) == {"apis/stable.example.com/v1"}
    assert after["paths"]["api/v1"] == before["paths"]["api/v1"]
    doc = load(docs, "apis/stable.example.com/v1")
    name = crd_definition_name("stable.example.com", "v1", "CronTab")
    assert name == "com.example.stable.v1.CronTab"
    schema = doc["components"]["schemas"][name]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "stable.example.com", "kind": "CronTab", "version": "v1"}]
    assert schema["properties"]["metadata"]["allOf"] == [
        {"$ref": REF_PREFIX + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]
    assert schema["properties"]["spec"]["properties"]["cronSpec"] == {"type": "string"}
    assert {"apiVersion", "kind", "metadata"} <= set(schema["properties"]["spec"]["properties"]["template"]["properties"])
    assert doc["components"]["schemas"]["com.example.stable.v1.CronTabList"]["properties"]["items"]["items"] == \
        {"$ref": REF_PREFIX + name}
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in doc["components"]["schemas"]
    assert "io.k8s.api.autoscaling.v1.Scale" in doc["components"]["schemas"]
    paths = doc["paths"]
    patch = paths["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]["patch"]
    assert patch["operationId"] == "patchStableExampleComV1NamespacedCronTab"
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    assert paths["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/scale"]["get"][
        "x-kubernetes-group-version-kind"] == {"group": "autoscaling", "kind": "Scale", "version": "v1"}
    assert paths["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/status"]["put"][
        "operationId"] == "replaceStableExampleComV1NamespacedCronTabStatus"
    # the CRD's schema is not changed by documenting it
    assert "apiVersion" not in CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]


def test_documents_follow_registry_changes_without_invalidate():
    registry = default_registry()
    docs = OpenAPIDocs(registry)
    for info in resource_infos(CRD):
        registry.add(info)
    first = docs.document("apis/stable.example.com/v1")
    changed = json.loads(json.dumps(CRD))
    changed["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["extra"] = {
        "type": "boolean"}
    for info in resource_infos(changed):
        registry.add(info)
    second = docs.document("apis/stable.example.com/v1")
    assert first[1] != second[1]
    registry.remove("stable.example.com", "crontabs")
    assert docs.document("apis/stable.example.com/v1") is None


def test_documents_are_cached(docs):
    assert docs.document("apis/apps/v1")[0] is docs.document("/apis/apps/v1")[0]
    assert docs.document("apis/nope/v1") is None


def test_building_every_document_is_fast():
    definitions()  # loading the upstream definitions is a one-off cost shared with validation
    docs = OpenAPIDocs(default_registry())
    start = time.perf_counter()
    docs.index()
    assert time.perf_counter() - start < 1.0
