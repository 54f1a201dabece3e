"""JSON patch, merge patch and strategic merge patch, with the bodies kubectl and the Python client send."""

from __future__ import annotations

import copy

import pytest

from podplane.api.errors import ApiError
from podplane.api.patch import apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from podplane.api.schema import node_for_kind

DEPLOYMENT = node_for_kind("apps", "v1", "Deployment")
STATEFULSET = node_for_kind("apps", "v1", "StatefulSet")
SERVICE = node_for_kind("", "v1", "Service")
POD = node_for_kind("", "v1", "Pod")


# --------------------------------------------------------------------------- builders


def container(name: str, image: str = "nginx:1.26", **fields) -> dict:
    return {"name": name, "image": image, **fields}


def deployment(*containers: dict, **spec_fields) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "resourceVersion": "102",
                     "labels": {"app": "nginx", "tier": "fe"}, "finalizers": ["a.io/x"]},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "nginx"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": list(containers) or [container("nginx")], **spec_fields},
            },
        },
    }


def pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def containers_of(obj: dict) -> list[dict]:
    return pod_spec(obj)["containers"]


def directive_keys(value, path="") -> list[str]:
    """Every `$`-key left anywhere in `value` (must be none after a strategic merge patch)."""
    found = []
    if isinstance(value, dict):
        for key, child in value.items():
            if key.startswith("$"):
                found.append(f"{path}/{key}")
            found += directive_keys(child, f"{path}/{key}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += directive_keys(child, f"{path}/{i}")
    return found


# --------------------------------------------------------------------------- JSON patch


@pytest.mark.parametrize(
    ("doc", "ops", "expected"),
    [
        pytest.param({"a": 1}, [{"op": "add", "path": "/b", "value": {"c": [1]}}], {"a": 1, "b": {"c": [1]}},
                     id="add-member"),
        pytest.param({"l": [1, 2]}, [{"op": "add", "path": "/l/-", "value": 3}], {"l": [1, 2, 3]},
                     id="add-dash-appends"),
        pytest.param({"l": [1, 2]}, [{"op": "add", "path": "/l/1", "value": 9}], {"l": [1, 9, 2]},
                     id="add-index-inserts"),
        pytest.param({"l": [1, 2]}, [{"op": "add", "path": "/l/2", "value": 9}], {"l": [1, 2, 9]},
                     id="add-at-length-appends"),
        pytest.param({"l": [1, 2]}, [{"op": "add", "path": "/l/-1", "value": 9}], {"l": [1, 9, 2]},
                     id="add-negative-index-like-evanphx"),
        pytest.param({"a": 1, "b": 2}, [{"op": "remove", "path": "/a"}], {"b": 2}, id="remove-member"),
        pytest.param({"l": [1, 2, 3]}, [{"op": "remove", "path": "/l/0"}], {"l": [2, 3]}, id="remove-item"),
        pytest.param({"a": {"b": 1}}, [{"op": "replace", "path": "/a/b", "value": None}], {"a": {"b": None}},
                     id="replace-with-null"),
        pytest.param({"a": {"x": 1}, "b": {}}, [{"op": "move", "from": "/a/x", "path": "/b/y"}],
                     {"a": {}, "b": {"y": 1}}, id="move"),
        pytest.param({"a": [1]}, [{"op": "copy", "from": "/a", "path": "/b"}], {"a": [1], "b": [1]}, id="copy"),
        pytest.param({"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}, {"op": "replace", "path": "/a",
                                                                             "value": 2}],
                     {"a": 2}, id="test-then-replace"),
        pytest.param({"metadata": {"annotations": {"a.io/b~c": "1"}}},
                     [{"op": "replace", "path": "/metadata/annotations/a.io~1b~0c", "value": "2"}],
                     {"metadata": {"annotations": {"a.io/b~c": "2"}}}, id="pointer-escapes"),
        pytest.param({"a": 1}, [{"op": "replace", "path": "", "value": {"z": 0}}], {"z": 0}, id="replace-root"),
        pytest.param({"a": 1}, None, {"a": 1}, id="null-patch-is-empty"),
    ],
)
def test_json_patch_applies_rfc6902_operations(doc, ops, expected):
    before = copy.deepcopy(doc)
    assert apply_json_patch(doc, ops) == expected
    assert doc == before


@pytest.mark.parametrize(
    "ops",
    [
        pytest.param([{"op": "remove", "path": "/missing"}], id="remove-missing-member"),
        pytest.param([{"op": "replace", "path": "/missing", "value": 1}], id="replace-missing-member"),
        pytest.param([{"op": "add", "path": "/x/y", "value": 1}], id="add-below-missing-parent"),
        pytest.param([{"op": "add", "path": "/l/5", "value": 1}], id="add-index-out-of-range"),
        pytest.param([{"op": "remove", "path": "/l/x"}], id="non-numeric-index"),
        pytest.param([{"op": "test", "path": "/a", "value": 2}], id="test-fails"),
        pytest.param([{"op": "frobnicate", "path": "/a"}], id="unknown-op"),
        pytest.param([{"op": "add", "value": 1}], id="missing-path"),
        pytest.param([{"op": "move", "from": "/l", "path": "/l/0"}], id="move-into-own-child"),
    ],
)
def test_json_patch_operation_failure_is_upstream_generic_422(ops):
    doc = {"a": 1, "l": [1]}
    with pytest.raises(ApiError) as err:
        apply_json_patch(doc, [{"op": "add", "path": "/new", "value": 1}, *ops])
    assert (err.value.code, err.value.reason) == (422, "Invalid")
    assert err.value.message == "the server rejected our request due to an error in our request"
    assert doc == {"a": 1, "l": [1]}  # all-or-nothing, input untouched


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        pytest.param({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
                     id="object-not-list"),
        pytest.param(["add"], "json: cannot unmarshal string into Go value of type jsonpatch.Operation",
                     id="operation-not-object"),
    ],
)
def test_json_patch_malformed_document_is_400(ops, message):
    with pytest.raises(ApiError) as err:
        apply_json_patch({}, ops)
    assert (err.value.code, err.value.reason, err.value.message) == (400, "BadRequest", message)


def test_json_patch_rejects_more_than_10000_operations():
    with pytest.raises(ApiError) as err:
        apply_json_patch({}, [{"op": "test", "path": "", "value": {}}] * 10001)
    assert err.value.code == 413
    assert err.value.message.endswith("maximum operations in a JSON patch is 10000, got 10001")


# --------------------------------------------------------------------------- merge patch


@pytest.mark.parametrize(
    ("doc", "patch", "expected"),
    [
        pytest.param({"metadata": {"labels": {"tier": "fe", "app": "x"}}}, {"metadata": {"labels": {"tier": None}}},
                     {"metadata": {"labels": {"app": "x"}}}, id="kubectl-label-removal"),
        pytest.param({"metadata": {"labels": {"app": "x"}}}, {"metadata": {"labels": {"tier": "fe"}}},
                     {"metadata": {"labels": {"app": "x", "tier": "fe"}}}, id="kubectl-label-add"),
        pytest.param({"spec": {"ports": [{"port": 80}]}}, {"spec": {"ports": [{"port": 8080}]}},
                     {"spec": {"ports": [{"port": 8080}]}}, id="lists-are-replaced"),
        pytest.param({"a": "x"}, {"a": {"b": {"c": None, "d": 1}}}, {"a": {"b": {"d": 1}}},
                     id="nulls-in-new-objects-vanish"),
        pytest.param({"a": 1}, ["x"], ["x"], id="non-object-patch-replaces"),
    ],
)
def test_merge_patch_follows_rfc7386(doc, patch, expected):
    before = copy.deepcopy(doc)
    assert apply_merge_patch(doc, patch) == expected
    assert doc == before


# --------------------------------------------------------------------------- strategic merge patch: kubectl


def test_smp_kubectl_apply_update_with_set_element_order():
    live = deployment(container("nginx", env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]))
    patch = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}\n"}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "nginx"}],
            "containers": [{"$setElementOrder/env": [{"name": "A"}, {"name": "B"}],
                            "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}],
                            "image": "nginx:1.27", "name": "nginx"}]}}},
    }
    out = apply_strategic_merge_patch(live, patch, DEPLOYMENT)
    assert containers_of(out) == [container("nginx", "nginx:1.27",
                                            env=[{"name": "A", "value": "2"}, {"name": "B", "value": "3"}])]
    assert out["metadata"]["annotations"] == {"kubectl.kubernetes.io/last-applied-configuration": "{...}\n"}
    assert out["spec"]["strategy"] == live["spec"]["strategy"]
    assert directive_keys(out) == []


def test_smp_kubectl_diff_deletes_env_item():
    live = deployment(container("nginx", env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]))
    patch = {"metadata": {"resourceVersion": "102"}, "spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{"$setElementOrder/env": [{"name": "A"}],
                        "env": [{"name": "A", "value": "1"}, {"$patch": "delete", "name": "B"}],
                        "name": "nginx"}]}}}}
    out = apply_strategic_merge_patch(live, patch, DEPLOYMENT)
    assert containers_of(out)[0]["env"] == [{"name": "A", "value": "1"}]
    assert directive_keys(out) == []


def test_smp_rollout_undo_replaces_template():
    live = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
            "spec": {"replicas": 3, "template": {
                "metadata": {"labels": {"app": "db"}, "annotations": {"restartedAt": "now"}},
                "spec": {"containers": [container("db", "mysql:8.4"), container("exporter", "exp:1")]}}}}
    old_template = {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [container("db", "mysql:8.0")]}}
    out = apply_strategic_merge_patch(
        live, {"spec": {"template": {**old_template, "$patch": "replace"}}}, STATEFULSET)
    assert out["spec"] == {"replicas": 3, "template": old_template}


def test_smp_set_image_touches_only_that_container():
    live = deployment(container("nginx"), container("sidecar", "busybox", args=["sleep"]))
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                                            "containers": [{"image": "nginx:1.28", "name": "nginx"}]}}}}
    out = apply_strategic_merge_patch(live, patch, DEPLOYMENT)
    assert containers_of(out) == [container("nginx", "nginx:1.28"), container("sidecar", "busybox", args=["sleep"])]


@pytest.mark.parametrize(
    ("live", "patch", "expected"),
    [
        pytest.param(
            pod_spec(deployment(container("nginx", ports=[{"containerPort": 80, "name": "http"}]))),
            {"containers": [{"name": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"},
                                                        {"containerPort": 443}]}]},
            {"containers": [container("nginx", ports=[{"containerPort": 80, "name": "http", "protocol": "TCP"},
                                                      {"containerPort": 443}])]},
            id="container-ports-merge-by-containerPort"),
        pytest.param(
            {"containers": [container("c")], "volumes": [{"name": "data", "emptyDir": {}},
                                                         {"name": "cfg", "configMap": {"name": "a"}}]},
            {"volumes": [{"name": "cfg", "configMap": {"name": "b"}}, {"name": "new", "emptyDir": {}}]},
            {"containers": [container("c")], "volumes": [{"name": "data", "emptyDir": {}},
                                                         {"name": "cfg", "configMap": {"name": "b"}},
                                                         {"name": "new", "emptyDir": {}}]},
            id="volumes-merge-by-name"),
        pytest.param(
            {"containers": [container("c")], "volumes": [{"name": "data", "emptyDir": {}}]},
            {"$setElementOrder/volumes": [{"name": "data"}],
             "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "x"}, "name": "data"}]},
            {"containers": [container("c")], "volumes": [{"name": "data", "configMap": {"name": "x"}}]},
            id="volume-source-switch-with-retain-keys"),
        pytest.param(
            {"containers": [container("c")], "tolerations": [{"key": "a", "operator": "Exists"}]},
            {"tolerations": [{"key": "b", "operator": "Exists"}]},
            {"containers": [container("c")], "tolerations": [{"key": "b", "operator": "Exists"}]},
            id="tolerations-are-atomic"),
        pytest.param(
            {"containers": [container("c", command=["a", "b"], args=["x"])]},
            {"containers": [{"name": "c", "command": ["z"]}]},
            {"containers": [container("c", command=["z"], args=["x"])]},
            id="command-replaced-args-kept"),
        pytest.param(
            {"containers": [container("a"), container("b")]},
            {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]},
            {"containers": [container("b"), container("a")]},
            id="set-element-order-reorders-live-list"),
        pytest.param(
            {"containers": [container("a"), container("b")]},
            {"containers": [{"$patch": "replace"}, container("z")]},
            {"containers": [container("z")]},
            id="patch-replace-element-replaces-list"),
        pytest.param(
            {"containers": [container("a", env=[{"name": "X", "value": "1"}])]},
            {"containers": [{"name": "a", "env": [{"name": "X", "$patch": "delete"}]}]},
            {"containers": [container("a", env=[])]},
            id="delete-last-env-item"),
        pytest.param(
            {"containers": [container("a")]},
            {"containers": [{"name": "b", "image": "x", "env": [{"name": "E", "value": None},
                                                                {"name": "D", "$patch": "delete"}]}]},
            {"containers": [{"name": "b", "image": "x", "env": [{"name": "E"}]}, container("a")]},
            id="new-item-directives-resolved-and-prepended-like-upstream"),
    ],
)
def test_smp_pod_spec_lists_follow_patch_merge_keys(live, patch, expected):
    spec_schema = POD.field("spec")
    before = copy.deepcopy(live)
    out = apply_strategic_merge_patch(live, patch, spec_schema)
    assert out == expected
    assert live == before
    assert directive_keys(out) == []


def test_smp_service_ports_merge_by_port_python_e2e():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "frontend"},
           "spec": {"selector": {"app": "fe"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 9376}]}}
    out = apply_strategic_merge_patch(
        svc, {"spec": {"ports": [{"port": 8080, "protocol": "TCP", "targetPort": 8080}]}}, SERVICE)
    assert sorted(p["port"] for p in out["spec"]["ports"]) == [80, 8080]
    assert out["spec"]["selector"] == {"app": "fe"}


@pytest.mark.parametrize(
    ("patch", "labels", "finalizers"),
    [
        pytest.param({"metadata": {"labels": {"tier": None}}}, {"app": "nginx"}, ["a.io/x"], id="label-null-deletes"),
        pytest.param({"metadata": {"labels": {"new": "1"}}}, {"app": "nginx", "tier": "fe", "new": "1"}, ["a.io/x"],
                     id="labels-merge"),
        pytest.param({"metadata": {"finalizers": ["b.io/y", "a.io/x"]}}, {"app": "nginx", "tier": "fe"},
                     ["b.io/y", "a.io/x"], id="finalizers-union"),
        pytest.param({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.io/x"]}}, {"app": "nginx", "tier": "fe"},
                     [], id="delete-from-primitive-list"),
        pytest.param({"metadata": {"labels": {"$patch": "replace", "only": "me"}}}, {"only": "me"}, ["a.io/x"],
                     id="map-patch-replace"),
        pytest.param({"metadata": {"labels": {"$patch": "delete"}}}, {}, ["a.io/x"], id="map-patch-delete"),
        pytest.param({"metadata": {"labels": {"$patch": "merge", "x": "1"}}}, {"app": "nginx", "tier": "fe", "x": "1"},
                     ["a.io/x"], id="map-patch-merge-is-plain-merge"),
    ],
)
def test_smp_metadata_maps_and_primitive_sets(patch, labels, finalizers):
    out = apply_strategic_merge_patch(deployment(), patch, DEPLOYMENT)
    assert out["metadata"]["labels"] == labels
    assert out["metadata"].get("finalizers", []) == finalizers
    assert directive_keys(out) == []


def test_smp_retain_keys_clears_fields_missing_from_the_list():
    # kubectl apply switching a Deployment to Recreate sends $retainKeys for spec.strategy
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}}
    out = apply_strategic_merge_patch(deployment(), patch, DEPLOYMENT)
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_smp_without_schema_is_a_merge_patch_that_resolves_directives():
    doc = {"spec": {"items": [{"name": "a"}], "m": {"x": 1, "y": 2}}}
    patch = {"spec": {"$setElementOrder/items": [{"name": "b"}], "items": [{"name": "b", "$patch": "delete"},
                                                                             {"name": "c"}],
                      "m": {"x": None, "$retainKeys": ["m2", "x"], "m2": 3}}}
    out = apply_strategic_merge_patch(doc, patch, None)
    assert out == {"spec": {"items": [{"name": "c"}], "m": {"m2": 3}}}


def test_smp_null_patch_is_empty():
    live = deployment()
    assert apply_strategic_merge_patch(live, None, DEPLOYMENT) == live


@pytest.mark.parametrize(
    ("patch", "code", "message"),
    [
        pytest.param([{"op": "add"}], 400,
                     "json: cannot unmarshal array into Go value of type map[string]interface {}", id="not-an-object"),
        pytest.param({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}, 400,
                     "map: map[image:x] does not contain declared merge key: name", id="missing-merge-key"),
        pytest.param({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "$patch": "frob"}]}}}}, 400,
                     "unknown patch type: frob in map: map[$patch:frob name:nginx]", id="unknown-list-directive"),
        pytest.param({"spec": {"$patch": "frob"}}, 400, "unknown patch type: frob in map: map[$patch:frob]",
                     id="unknown-map-directive"),
        pytest.param({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}, 400,
                     "invalid patch format of retainKeys", id="retain-keys-mismatch"),
        pytest.param({"spec": {"$setElementOrder": []}}, 400, "invalid patch format of setElementOrder list",
                     id="set-element-order-without-field"),
        pytest.param({"metadata": {"$deleteFromPrimitiveList/finalizers": "a.io/x"}}, 400,
                     "invalid patch format of primitive list", id="delete-list-not-a-list"),
        pytest.param({"metadata": {"finalizers": [["nested"]]}}, 422,
                     "the server rejected our request due to an error in our request", id="list-of-lists"),
        pytest.param({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "$patch": "merge"}]}}}}, 400,
                     "merging lists cannot yet be specified in the patch", id="list-merge-directive"),
        pytest.param({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}],
                                                     "containers": [{"name": "other"}]}}}}, 400,
                     "The order in patch list:\n[map[name:other]]\n doesn't match $setElementOrder list:\n"
                     "[map[name:nginx]]\n", id="set-element-order-mismatch"),
    ],
)
def test_smp_errors_carry_upstream_messages(patch, code, message):
    live = deployment()
    with pytest.raises(ApiError) as err:
        apply_strategic_merge_patch(live, patch, DEPLOYMENT)
    assert (err.value.code, err.value.message) == (code, message)
    assert live == deployment()
