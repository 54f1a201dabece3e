"""Write semantics against upstream: Secret stringData, DELETE responses, CR defaults and
selectable fields, duplicate keys, request options, deeply nested bodies."""

from __future__ import annotations

import base64
import json

import pytest

AUTH = {"Authorization": "Bearer test-token"}

CMS = "/api/v1/namespaces/default/configmaps"
SECRETS = "/api/v1/namespaces/default/secrets"
GROUP = "example.com"
WIDGETS = f"/apis/{GROUP}/v1/namespaces/default/widgets"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def configmap(name: str, **extra) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}, **extra}


WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {"group": GROUP, "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
             "versions": [{
                 "name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                 "selectableFields": [{"jsonPath": ".spec.color"}],
                 "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                     "spec": {"type": "object", "properties": {
                         "color": {"type": "string", "default": "blue"},
                         "size": {"type": "integer"},
                         "policy": {"type": "object", "properties": {
                             "retries": {"type": "integer", "default": 3},
                             "backoff": {"type": "object", "default": {},
                                         "properties": {"seconds": {"type": "integer", "default": 10}}}}},
                         "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}},
                     "status": {"type": "object", "properties": {"phase": {"type": "string", "default": "New"}}},
                 }}}}]}}


@pytest.fixture
async def widgets(api):
    status, body = await api.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD)
    assert status == 201, body
    return api


def widget(name: str, spec: dict) -> dict:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


# -- Secret stringData -------------------------------------------------------------------------
async def test_secret_string_data_is_merged_into_data_and_never_returned(api):
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"pw": b64("old"), "user": b64("overridden")}, "stringData": {"user": "admin"}}
    status, created = await api.call("POST", SECRETS, body)
    assert status == 201, created
    assert "stringData" not in created
    assert created["data"] == {"pw": b64("old"), "user": b64("admin")}
    _, got = await api.call("GET", f"{SECRETS}/s")
    assert "stringData" not in got and got["data"] == created["data"]

    got["stringData"] = {"extra": "x"}
    status, replaced = await api.call("PUT", f"{SECRETS}/s", got)
    assert status == 200 and "stringData" not in replaced and replaced["data"]["extra"] == b64("x")
    status, patched = await api.call("PATCH", f"{SECRETS}/s", {"stringData": {"pw": "new"}},
                                     content_type="application/merge-patch+json")
    assert status == 200 and "stringData" not in patched
    assert patched["data"] == {"pw": b64("new"), "user": b64("admin"), "extra": b64("x")}


async def test_secret_with_only_string_data(api):
    status, created = await api.call("POST", SECRETS, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "o"},
                                                      "stringData": {"k": "v"}})
    assert status == 201 and created["data"] == {"k": b64("v")} and created["type"] == "Opaque"


# -- DELETE responses --------------------------------------------------------------------------
async def test_delete_answers_a_status_unless_the_store_returns_the_object(api):
    _, cm = await api.call("POST", CMS, configmap("gone"))
    status, body = await api.call("DELETE", f"{CMS}/gone")
    assert status == 200
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": "gone", "kind": "configmaps", "uid": cm["metadata"]["uid"]}}
    # pods return the deleted object (ReturnDeletedObject)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    await api.call("POST", "/api/v1/namespaces/default/pods", pod)
    status, body = await api.call("DELETE", "/api/v1/namespaces/default/pods/p")
    assert status == 200 and body["kind"] == "Pod" and body["metadata"]["name"] == "p"


async def test_delete_of_an_object_held_by_a_finalizer_returns_the_object(api):
    await api.call("POST", CMS, configmap("held", metadata={"name": "held", "finalizers": ["example.com/x"]}))
    status, body = await api.call("DELETE", f"{CMS}/held", {"orphanDependents": False})
    assert status == 202  # not deleted yet and cascading deletion was asked for, as upstream
    assert body["kind"] == "ConfigMap" and body["metadata"]["deletionTimestamp"]


async def test_dry_run_delete_answers_a_status_too(api):
    await api.call("POST", CMS, configmap("dry"))
    status, body = await api.call("DELETE", f"{CMS}/dry?dryRun=All")
    assert status == 200 and body["kind"] == "Status" and body["details"]["name"] == "dry"
    assert (await api.call("GET", f"{CMS}/dry"))[0] == 200


async def test_custom_resource_delete_status_names_the_group(widgets):
    _, created = await widgets.call("POST", WIDGETS, widget("w", {"size": 1}))
    status, body = await widgets.call("DELETE", f"{WIDGETS}/w")
    assert status == 200
    assert body["details"] == {"name": "w", "group": GROUP, "kind": "widgets", "uid": created["metadata"]["uid"]}


# -- custom resources: defaults, selectable fields, deep preserved fields -------------------------
async def test_structural_defaults_on_create_and_update(widgets):
    status, created = await widgets.call("POST", WIDGETS, widget("d", {"policy": {}}))
    assert status == 201, created
    assert created["spec"] == {"color": "blue", "policy": {"retries": 3, "backoff": {"seconds": 10}}}
    assert "status" not in created  # a status subresource resets status on create
    _, created = await widgets.call("POST", WIDGETS, widget("e", {"color": "red"}))
    assert created["spec"] == {"color": "red"}
    status, patched = await widgets.call("PATCH", f"{WIDGETS}/e", {"spec": {"policy": {"retries": 5}}},
                                         content_type="application/merge-patch+json")
    assert status == 200 and patched["spec"]["policy"] == {"retries": 5, "backoff": {"seconds": 10}}
    status, patched = await widgets.call("PATCH", f"{WIDGETS}/e/status", {"status": {}},
                                         content_type="application/merge-patch+json")
    assert status == 200 and patched["status"] == {"phase": "New"}


async def test_non_nullable_nulls_are_pruned_or_defaulted(widgets):
    status, created = await widgets.call("POST", WIDGETS, widget("n", {"color": None, "size": None}))
    assert status == 201, created
    assert created["spec"] == {"color": "blue"}


async def test_selectable_fields_of_a_custom_resource(widgets):
    await widgets.call("POST", WIDGETS, widget("r", {"color": "red"}))
    await widgets.call("POST", WIDGETS, widget("b", {}))
    status, listed = await widgets.call("GET", f"{WIDGETS}?fieldSelector=spec.color%3Dred")
    assert status == 200 and [i["metadata"]["name"] for i in listed["items"]] == ["r"]
    status, listed = await widgets.call("GET", f"{WIDGETS}?fieldSelector=spec.color!%3Dred")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["b"]
    status, body = await widgets.call("GET", f"{WIDGETS}?fieldSelector=spec.size%3D1")
    assert status == 400 and "field label not supported: spec.size" in body["message"]


def deep_json(levels: int, leaf: str = '{"leaf":true}') -> str:
    return '{"x":' * levels + leaf + "}" * levels


async def test_deeply_nested_preserved_fields_are_stored_and_served(widgets):
    body = json.dumps(widget("deep", {"config": {}})).replace('"config": {}', '"config": ' + deep_json(1000))
    status, created = await widgets.call("POST", WIDGETS, body)
    assert status == 201, created
    status, got = await widgets.call("GET", f"{WIDGETS}/deep")
    node = got["spec"]["config"]
    for _ in range(1000):
        node = node["x"]
    assert status == 200 and node == {"leaf": True}
    status, listed = await widgets.call("GET", WIDGETS)
    assert status == 200 and [i["metadata"]["name"] for i in listed["items"]] == ["deep"]


async def test_deeply_nested_unknown_field_is_dropped(api):
    body = json.dumps(configmap("deep"))[:-1] + ', "bogus": ' + deep_json(900) + "}"
    r = await api.post(CMS, data=body, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status == 201, await r.text()
    assert r.headers.getall("Warning") == ['299 - "unknown field \\"bogus\\""']
    status, body = await api.call("POST", CMS + "?fieldValidation=Strict", body.replace('"deep"', '"deep2"'))
    assert status == 400 and 'unknown field "bogus"' in body["message"]


async def test_a_patch_cannot_nest_beyond_what_can_be_stored(widgets):
    await widgets.call("POST", WIDGETS, widget("p", {"config": {}}))
    # each operation is shallow enough to decode; together they nest 1100 levels
    ops = [{"op": "add", "path": "/spec/config/v", "value": json.loads("[" * 1000 + "]" * 1000)},
           {"op": "add", "path": "/spec/config/v" + "/0" * 999 + "/-", "value": json.loads("[" * 100 + "]" * 100)}]
    status, body = await widgets.call("PATCH", f"{WIDGETS}/p", ops, content_type="application/json-patch+json")
    assert status == 400 and "exceeded max depth of 1024" in body["message"], body
    _, got = await widgets.call("GET", f"{WIDGETS}/p")
    assert got["spec"]["config"] == {}


# -- duplicate keys ----------------------------------------------------------------------------
DUPLICATE = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{"a":"1"},"data":{"b":"2"}}'


async def test_duplicate_fields_follow_the_field_validation_mode(api):
    status, body = await api.call("POST", CMS + "?fieldValidation=Strict", DUPLICATE)
    assert status == 400
    assert body["message"] == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
                               'duplicate field "data"')
    r = await api.post(CMS, data=DUPLICATE, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status == 201 and r.headers.getall("Warning") == ['299 - "duplicate field \\"data\\""']
    assert (await r.json())["data"] == {"b": "2"}  # the last one wins, as upstream
    r = await api.post(CMS + "?fieldValidation=Ignore", data=DUPLICATE.replace('"dup"', '"dup2"'),
                       headers={**AUTH, "Content-Type": "application/json"})
    assert r.status == 201 and "Warning" not in r.headers


async def test_duplicate_fields_in_a_merge_patch(api):
    await api.call("POST", CMS, configmap("m"))
    status, body = await api.call("PATCH", f"{CMS}/m?fieldValidation=Strict", '{"data":{"b":"1","b":"2"}}',
                                  content_type="application/merge-patch+json")
    assert status == 400 and 'duplicate field "data.b"' in body["message"]


# -- request options ---------------------------------------------------------------------------
@pytest.mark.parametrize("method,path,query,body,content_type,kind,fields", [
    ("POST", CMS, "dryRun=Yes", configmap("o"), "application/json", "CreateOptions", ["dryRun"]),
    ("POST", CMS, "fieldValidation=Sometimes&fieldManager=" + "m" * 129, configmap("o"), "application/json",
     "CreateOptions", ["fieldManager", "fieldValidation"]),
    ("PUT", f"{CMS}/o", "fieldValidation=x", configmap("o"), "application/json", "UpdateOptions",
     ["fieldValidation"]),
    ("PATCH", f"{CMS}/o", "", {"data": {}}, "application/apply-patch+yaml", "PatchOptions", ["fieldManager"]),
    ("PATCH", f"{CMS}/o", "force=true", {"data": {}}, "application/merge-patch+json", "PatchOptions", ["force"]),
    ("DELETE", f"{CMS}/o", "propagationPolicy=Sometimes", None, "application/json", "DeleteOptions",
     ["propagationPolicy"]),
    ("DELETE", f"{CMS}/o", "dryRun=Yes", None, "application/json", "DeleteOptions", ["dryRun"]),
    ("DELETE", f"{CMS}/o", "", {"orphanDependents": True, "propagationPolicy": "Orphan"}, "application/json",
     "DeleteOptions", ["propagationPolicy"]),
    ("GET", CMS, "sendInitialEvents=true", None, "application/json", "ListOptions", ["sendInitialEvents"]),
    ("GET", CMS, "watch=true&resourceVersionMatch=Exact", None, "application/json", "ListOptions",
     ["resourceVersionMatch", "resourceVersionMatch"]),
])
async def test_invalid_options_are_422(api, method, path, query, body, content_type, kind, fields):
    await api.call("POST", CMS, configmap("o"))
    status, result = await api.call(method, f"{path}?{query}", body, content_type=content_type)
    assert status == 422, result
    assert result["message"].startswith(f'{kind}.meta.k8s.io "" is invalid: ')
    assert result["details"]["kind"] == kind and result["details"]["group"] == "meta.k8s.io"
    assert [c["field"] for c in result["details"]["causes"]] == fields
    _, got = await api.call("GET", f"{CMS}/o")
    assert got["data"] == {"a": "1"} and "deletionTimestamp" not in got["metadata"]
