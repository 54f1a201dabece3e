"""Malformed and hostile requests over raw HTTPS: every one gets the right metav1.Status.

Requests go to 127.0.0.1 with the admin token and CA of the cluster's kubeconfig. Each
error must be a `metav1.Status` (kind Status, apiVersion v1, status Failure, a reason,
and `code` equal to the HTTP status) served as application/json, and the server must
keep answering afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import socket
import ssl
from dataclasses import dataclass
from email.message import Message

import pytest
import yaml

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024


@dataclass
class Response:
    status: int
    headers: Message
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class Http:
    """A tiny HTTPS client for one cluster: the kubeconfig's CA and bearer token."""

    def __init__(self, cluster) -> None:
        config = yaml.safe_load(cluster.kubeconfig.read_text())
        ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
        self.token = config["users"][0]["user"]["token"]
        self.port = cluster.port
        self.context = ssl.create_default_context(cadata=ca)

    def request(self, method: str, path: str, body: bytes | str | None = None, *,
                content_type: str | None = "application/json", token: str | None = "",
                headers: dict | None = None, chunked: bool = False) -> Response:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=30)
        hdrs = {"Accept": "application/json", **(headers or {})}
        token = self.token if token == "" else token
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        if body is not None and content_type is not None:
            hdrs["Content-Type"] = content_type
        if isinstance(body, str):
            body = body.encode()
        try:
            if chunked:
                step = 64 * 1024
                conn.request(method, path, body=(body[i:i + step] for i in range(0, len(body), step)),
                             headers=hdrs, encode_chunked=True)
            else:
                conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return Response(resp.status, resp.headers, resp.read())
        finally:
            conn.close()


@pytest.fixture(scope="module")
def api(cluster) -> Http:
    return Http(cluster)


@pytest.fixture
def ns(api, request) -> str:
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]
    name = "bad-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-") + "-" + digest
    resp = api.request("POST", "/api/v1/namespaces", json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    assert resp.status == 201, resp.body
    return name


def assert_status(resp: Response, code: int, reason: str) -> dict:
    """The response is a metav1.Status for this failure, served as JSON."""
    assert resp.status == code, (resp.status, resp.body[:2000])
    assert resp.headers.get_content_type() == "application/json", resp.headers
    status = resp.json()
    assert status["kind"] == "Status" and status["apiVersion"] == "v1", status
    assert status["metadata"] == {}, status
    assert status["status"] == "Failure", status
    assert status["reason"] == reason, status
    assert status["code"] == code, status
    assert isinstance(status["message"], str) and status["message"], status
    return status


def cm(name: str = "cm", **extra) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}, **extra}


def deployment(replicas: object = 1) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "d"}},
                     "template": {"metadata": {"labels": {"app": "d"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


CMS = "/api/v1/namespaces/{ns}/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/{ns}/deployments"
SVCS = "/api/v1/namespaces/{ns}/services"


# -- undecodable bodies: 400 BadRequest -----------------------------------------------------------
@pytest.mark.parametrize("path,body,content_type,fragment", [
    pytest.param(CMS, '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {', "application/json", "",
                 id="truncated-json"),
    pytest.param(CMS, "{not json at all}", "application/json", "", id="garbage-json"),
    pytest.param(CMS, b"\xff\xfe{\x00}", "application/json", "", id="non-utf8-json"),
    pytest.param(CMS, "[1, 2, 3]", "application/json", "", id="json-array"),
    pytest.param(CMS, '"just a string"', "application/json", "", id="json-string"),
    pytest.param(CMS, "null", "application/json", "", id="json-null"),
    pytest.param(CMS, "[" * 100_000 + "]" * 100_000, "application/json", "", id="deeply-nested-json"),
    pytest.param(CMS, "kind: ConfigMap\n  - : : [unclosed\n\t{", "application/yaml", "", id="yaml-garbage"),
    pytest.param(CMS, "- just\n- a\n- list\n", "application/yaml", "", id="yaml-list"),
    pytest.param(CMS, b"k8s\x00\xff\xff\xff\xff\x0fgarbage", "application/vnd.kubernetes.protobuf", "",
                 id="protobuf-garbage-with-magic"),
    pytest.param(CMS, b"\x0a\x05hello\x12\x99", "application/vnd.kubernetes.protobuf", "",
                 id="protobuf-without-magic"),
    pytest.param(DEPLOYS, json.dumps(deployment("three")), "application/json", "spec.replicas",
                 id="string-for-int32"),
    pytest.param(DEPLOYS, json.dumps(deployment(1.5)), "application/json", "spec.replicas",
                 id="float-for-int32"),
    pytest.param(DEPLOYS, json.dumps(deployment(2**40)), "application/json", "spec.replicas",
                 id="int32-overflow"),
    pytest.param(CMS, json.dumps(cm(data={"a": 1})), "application/json", "data", id="number-for-string"),
    pytest.param(CMS, json.dumps({**cm(), "metadata": "cm"}), "application/json", "metadata",
                 id="metadata-not-object"),
    pytest.param(CMS, json.dumps({**cm(), "metadata": {"name": "cm", "labels": ["a"]}}), "application/json",
                 "labels", id="labels-not-map"),
    pytest.param(CMS, json.dumps({**cm(), "kind": "Secret"}), "application/json", "", id="kind-mismatch"),
    pytest.param(CMS, json.dumps({**cm(), "apiVersion": "apps/v1"}), "application/json", "",
                 id="apiversion-mismatch"),
    pytest.param(CMS, json.dumps({**cm(), "metadata": {"name": "cm", "namespace": "elsewhere"}}),
                 "application/json", "does not match the namespace", id="namespace-mismatch"),
])
def test_undecodable_body_is_bad_request(api, ns, path, body, content_type, fragment):
    resp = api.request("POST", path.format(ns=ns), body, content_type=content_type)
    status = assert_status(resp, 400, "BadRequest")
    assert fragment in status["message"]


def test_wrong_type_message_names_the_go_field(api, ns):
    resp = api.request("POST", DEPLOYS.format(ns=ns), json.dumps(deployment("three")))
    status = assert_status(resp, 400, "BadRequest")
    assert status["message"].startswith('Deployment in version "v1" cannot be handled as a Deployment:')
    assert "spec.replicas" in status["message"] and "int32" in status["message"]


# -- field validation --------------------------------------------------------------------------------
def test_unknown_fields_with_strict_validation(api, ns):
    body = {**cm(), "bogus": 1, "metadata": {"name": "cm", "alsoBogus": "x"}}
    resp = api.request("POST", CMS.format(ns=ns) + "?fieldValidation=Strict", json.dumps(body))
    status = assert_status(resp, 400, "BadRequest")
    assert status["message"].startswith("ConfigMap in version \"v1\" cannot be handled as a ConfigMap: "
                                        "strict decoding error: ")
    assert 'unknown field "bogus"' in status["message"]
    assert 'unknown field "metadata.alsoBogus"' in status["message"]
    # nothing was created
    assert_status(api.request("GET", CMS.format(ns=ns) + "/cm"), 404, "NotFound")


def test_unknown_fields_with_warn_validation(api, ns):
    body = {**cm(), "bogus": 1}
    resp = api.request("POST", CMS.format(ns=ns) + "?fieldValidation=Warn", json.dumps(body))
    assert resp.status == 201, resp.body
    assert resp.headers.get_all("Warning") == ['299 - "unknown field \\"bogus\\""']
    created = resp.json()
    assert "bogus" not in created and created["data"] == {"a": "1"}
    # Ignore: created, no warning
    body["metadata"]["name"] = "cm2"
    resp = api.request("POST", CMS.format(ns=ns) + "?fieldValidation=Ignore", json.dumps(body))
    assert resp.status == 201 and resp.headers.get_all("Warning") is None


def test_duplicate_fields_with_strict_validation(api, ns):
    body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{"a":"1"},"data":{"b":"2"}}'
    resp = api.request("POST", CMS.format(ns=ns) + "?fieldValidation=Strict", body)
    status = assert_status(resp, 400, "BadRequest")
    assert 'duplicate field "data"' in status["message"]
    resp = api.request("POST", CMS.format(ns=ns) + "?fieldValidation=Warn", body)
    assert resp.status == 201, resp.body
    assert resp.headers.get_all("Warning") == ['299 - "duplicate field \\"data\\""']


def test_deeply_nested_unknown_field_is_dropped_with_a_warning(api, ns):
    """Valid JSON 600 levels deep (Go's decoder allows 10000): the unknown field is dropped, not a 500."""
    deep = '{"x":' * 600 + "{}" + "}" * 600
    body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"data":{"a":"1"},"bogus":' + deep + "}"
    resp = api.request("POST", CMS.format(ns=ns), body)
    assert resp.status == 201, resp.body[:500]
    assert resp.headers.get_all("Warning") == ['299 - "unknown field \\"bogus\\""']
    assert "bogus" not in resp.json()
    resp = api.request("POST", CMS.format(ns=ns) + "?fieldValidation=Strict", body.replace('"deep"', '"deep2"'))
    assert 'unknown field "bogus"' in assert_status(resp, 400, "BadRequest")["message"]


def test_strict_validation_of_a_patch(api, ns):
    assert api.request("POST", CMS.format(ns=ns), json.dumps(cm())).status == 201
    resp = api.request("PATCH", CMS.format(ns=ns) + "/cm?fieldValidation=Strict",
                       '{"data":{"b":"2"},"bogus":true}', content_type="application/merge-patch+json")
    status = assert_status(resp, 400, "BadRequest")
    assert 'unknown field "bogus"' in status["message"]
    assert api.request("GET", CMS.format(ns=ns) + "/cm").json()["data"] == {"a": "1"}


# -- size limits -------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunked", [pytest.param(False, id="content-length"), pytest.param(True, id="chunked")])
def test_body_over_3_mib_is_413(api, ns, chunked):
    body = json.dumps(cm(data={"big": "x" * (3 * MIB + 100)}))
    resp = api.request("POST", CMS.format(ns=ns), body, chunked=chunked)
    assert_status(resp, 413, "RequestEntityTooLarge")


def test_configmap_over_1_mib_is_invalid(api, ns):
    resp = api.request("POST", CMS.format(ns=ns), json.dumps(cm(data={"big": "x" * (MIB + 10)})))
    status = assert_status(resp, 422, "Invalid")
    assert status["details"]["kind"] == "ConfigMap" and status["details"]["name"] == "cm"
    assert status["details"]["causes"][0]["reason"] == "FieldValueTooLong"


# -- semantic validation: 422 Invalid with causes ----------------------------------------------------
@pytest.mark.parametrize("path,body,kind,name,field", [
    pytest.param(CMS, cm("Bad_Name"), "ConfigMap", "Bad_Name", "metadata.name", id="upper-case-name"),
    pytest.param(CMS, cm("a" * 254), "ConfigMap", "a" * 254, "metadata.name", id="name-too-long"),
    pytest.param(CMS, cm("-leading-dash"), "ConfigMap", "-leading-dash", "metadata.name", id="leading-dash"),
    pytest.param(CMS, cm("has space"), "ConfigMap", "has space", "metadata.name", id="space-in-name"),
    pytest.param(SVCS, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s" * 64},
                        "spec": {"ports": [{"port": 80}]}}, "Service", "s" * 64, "metadata.name",
                 id="service-name-over-63"),
    pytest.param(SVCS, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dotted.name"},
                        "spec": {"ports": [{"port": 80}]}}, "Service", "dotted.name", "metadata.name",
                 id="service-name-with-dot"),
    pytest.param(CMS, {**cm(), "metadata": {"name": "cm", "labels": {"k": "bad value!"}}}, "ConfigMap", "cm",
                 "metadata.labels", id="bad-label-value"),
    pytest.param(CMS, cm(data={"bad key!": "x"}), "ConfigMap", "cm", "data[bad key!]", id="bad-data-key"),
    pytest.param(DEPLOYS, deployment(-1), "Deployment", "d", "spec.replicas", id="negative-replicas"),
])
def test_invalid_objects_are_422_with_causes(api, ns, path, body, kind, name, field):
    resp = api.request("POST", path.format(ns=ns), json.dumps(body))
    status = assert_status(resp, 422, "Invalid")
    group = "apps" if kind == "Deployment" else ""
    qualified = f"{kind}.{group}" if group else kind
    assert status["message"].startswith(f'{qualified} "{name}" is invalid: ')
    assert status["details"]["name"] == name and status["details"]["kind"] == kind
    assert status["details"].get("group", "") == group
    causes = status["details"]["causes"]
    assert causes and all(c["reason"].startswith("Field") and c["message"] for c in causes)
    assert field in [c.get("field") for c in causes], causes


def test_missing_name_is_422(api, ns):
    resp = api.request("POST", CMS.format(ns=ns), json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                                             "metadata": {}}))
    status = assert_status(resp, 422, "Invalid")
    assert [c["field"] for c in status["details"]["causes"]] == ["metadata.name"]
    assert status["details"]["causes"][0]["reason"] == "FieldValueRequired"


def test_invalid_namespace_name(api):
    resp = api.request("POST", "/api/v1/namespaces", json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n" * 64}}))
    status = assert_status(resp, 422, "Invalid")
    # the defaulted kubernetes.io/metadata.name label is too long as well, as upstream reports it
    assert "metadata.name" in [c["field"] for c in status["details"]["causes"]]


# -- query parameters --------------------------------------------------------------------------------
@pytest.mark.parametrize("query,fragment", [
    pytest.param("labelSelector=a%20in%20(", "", id="label-selector-unclosed-in"),
    pytest.param("labelSelector=a%3D%3D%3Db", "", id="label-selector-triple-equals"),
    pytest.param("labelSelector=bad%20key%3Dv", "", id="label-selector-bad-key"),
    pytest.param("labelSelector=k%3D" + "v" * 64, "", id="label-selector-value-too-long"),
    pytest.param("fieldSelector=spec.foo%3Dbar", "spec.foo", id="unknown-field-selector-label"),
    pytest.param("fieldSelector=metadata.name", "", id="field-selector-without-operator"),
    pytest.param("fieldSelector=metadata.name%20in%20(a)", "", id="field-selector-set-operator"),
    pytest.param("limit=abc", "", id="limit-not-a-number"),
    pytest.param("watch=true&timeoutSeconds=soon", "", id="watch-timeout-not-a-number"),
])
def test_bad_list_parameters_are_400(api, ns, query, fragment):
    resp = api.request("GET", CMS.format(ns=ns) + "?" + query)
    status = assert_status(resp, 400, "BadRequest")
    assert fragment in status["message"]


def test_unknown_field_selector_on_pods_names_the_label(api, ns):
    resp = api.request("GET", f"/api/v1/namespaces/{ns}/pods?fieldSelector=spec.bogus%3Dx")
    status = assert_status(resp, 400, "BadRequest")
    assert "field label not supported: spec.bogus" in status["message"]
    # a supported one works
    assert api.request("GET", f"/api/v1/namespaces/{ns}/pods?fieldSelector=spec.nodeName%3Dn1").status == 200


@pytest.mark.parametrize("method,query,options_kind,field", [
    pytest.param("POST", "dryRun=Yes", "CreateOptions", "dryRun", id="create-bad-dry-run"),
    pytest.param("POST", "fieldValidation=Sometimes", "CreateOptions", "fieldValidation",
                 id="create-bad-field-validation"),
    pytest.param("POST", "fieldManager=" + "m" * 129, "CreateOptions", "fieldManager",
                 id="create-field-manager-too-long"),
    pytest.param("PATCH", "fieldValidation=Sometimes", "PatchOptions", "fieldValidation",
                 id="patch-bad-field-validation"),
    pytest.param("PATCH", "dryRun=Yes", "PatchOptions", "dryRun", id="patch-bad-dry-run"),
    pytest.param("GET", "resourceVersionMatch=Exact", "ListOptions", "resourceVersionMatch",
                 id="list-rv-match-without-rv"),
    pytest.param("GET", "resourceVersion=0&resourceVersionMatch=Exact", "ListOptions", "resourceVersionMatch",
                 id="list-exact-rv-0"),
    pytest.param("GET", "resourceVersion=1&resourceVersionMatch=Sometime", "ListOptions",
                 "resourceVersionMatch", id="list-unknown-rv-match"),
    pytest.param("GET", "watch=true&resourceVersionMatch=NotOlderThan&resourceVersion=1", "ListOptions",
                 "resourceVersionMatch", id="watch-rv-match-without-send-initial-events"),
])
def test_invalid_request_options_are_422(api, ns, method, query, options_kind, field):
    """Upstream validates the options of a request and answers NewInvalid(meta.k8s.io/<Kind>Options)."""
    path = CMS.format(ns=ns)
    if method == "PATCH":
        assert api.request("POST", path, json.dumps(cm())).status == 201
        resp = api.request("PATCH", f"{path}/cm?{query}", '{"data":{"b":"2"}}',
                           content_type="application/merge-patch+json")
    elif method == "POST":
        resp = api.request("POST", f"{path}?{query}", json.dumps(cm()))
    else:
        resp = api.request("GET", f"{path}?{query}")
    status = assert_status(resp, 422, "Invalid")
    assert status["message"].startswith(f'{options_kind}.meta.k8s.io "" is invalid: {field}: '), status
    assert status["details"]["kind"] == options_kind and status["details"]["group"] == "meta.k8s.io"
    assert [c["field"] for c in status["details"]["causes"]] == [field]
    assert api.request("GET", path + "/cm").status == (200 if method == "PATCH" else 404)


# -- patches -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", [
    pytest.param("text/plain", id="text-plain"),
    pytest.param("application/json", id="plain-json"),
    pytest.param("application/xml", id="xml"),
    pytest.param(None, id="no-content-type"),
])
def test_bad_patch_content_type_is_415(api, ns, content_type):
    assert api.request("POST", CMS.format(ns=ns), json.dumps(cm())).status == 201
    resp = api.request("PATCH", CMS.format(ns=ns) + "/cm", '{"data":{"b":"2"}}', content_type=content_type)
    assert_status(resp, 415, "UnsupportedMediaType")


def test_bad_create_content_type_is_415(api, ns):
    resp = api.request("POST", CMS.format(ns=ns), json.dumps(cm()), content_type="text/plain")
    assert_status(resp, 415, "UnsupportedMediaType")


@pytest.mark.parametrize("patch", [
    pytest.param([{"op": "replace", "path": "/data/missing", "value": "x"}], id="replace-missing-key"),
    pytest.param([{"op": "remove", "path": "/spec/nothing"}], id="remove-missing-path"),
    pytest.param([{"op": "add", "path": "/no/such/parent", "value": 1}], id="add-under-missing-parent"),
    pytest.param([{"op": "test", "path": "/data/a", "value": "2"}], id="failed-test"),
    pytest.param([{"op": "frobnicate", "path": "/data/a"}], id="unknown-op"),
])
def test_json_patch_that_does_not_apply_is_422(api, ns, patch):
    assert api.request("POST", CMS.format(ns=ns), json.dumps(cm())).status == 201
    resp = api.request("PATCH", CMS.format(ns=ns) + "/cm", json.dumps(patch),
                       content_type="application/json-patch+json")
    status = assert_status(resp, 422, "Invalid")
    # upstream's NewGenericServerResponse(422, ...): a fixed message, the jsonpatch error is not echoed
    assert status["message"] == "the server rejected our request due to an error in our request"
    assert api.request("GET", CMS.format(ns=ns) + "/cm").json()["data"] == {"a": "1"}


@pytest.mark.parametrize("body,content_type", [
    pytest.param('{"op":"add"}', "application/json-patch+json", id="json-patch-not-a-list"),
    pytest.param("[{", "application/json-patch+json", id="json-patch-truncated"),
    pytest.param("{", "application/merge-patch+json", id="merge-patch-truncated"),
    pytest.param("{", "application/strategic-merge-patch+json", id="strategic-patch-truncated"),
    pytest.param("kind: [", "application/apply-patch+yaml", id="apply-patch-bad-yaml"),
])
def test_malformed_patch_is_400(api, ns, body, content_type):
    assert api.request("POST", CMS.format(ns=ns), json.dumps(cm())).status == 201
    path = CMS.format(ns=ns) + "/cm" + ("?fieldManager=test" if "apply" in content_type else "")
    resp = api.request("PATCH", path, body, content_type=content_type)
    assert_status(resp, 400, "BadRequest")
    assert api.request("GET", CMS.format(ns=ns) + "/cm").json()["data"] == {"a": "1"}


def test_patch_of_missing_object_is_404(api, ns):
    resp = api.request("PATCH", CMS.format(ns=ns) + "/nope", '{"data":{}}',
                       content_type="application/merge-patch+json")
    status = assert_status(resp, 404, "NotFound")
    assert status["message"] == 'configmaps "nope" not found'
    assert status["details"] == {"name": "nope", "kind": "configmaps"}


# -- authentication, routing -------------------------------------------------------------------------
@pytest.mark.parametrize("token,headers", [
    pytest.param(None, {}, id="no-token"),
    pytest.param("not-the-token", {}, id="wrong-token"),
    pytest.param(None, {"Authorization": "Basic YWRtaW46YWRtaW4="}, id="basic-auth"),
    pytest.param(None, {"Authorization": "Bearer"}, id="empty-bearer"),
])
def test_unauthenticated_requests_are_401(api, token, headers):
    resp = api.request("GET", "/api/v1/namespaces/default/configmaps", token=token, headers=headers)
    status = assert_status(resp, 401, "Unauthorized")
    assert status["message"] == "Unauthorized"
    resp = api.request("POST", "/api/v1/namespaces/default/configmaps", json.dumps(cm("sneaky")), token=token,
                       headers=headers)
    assert_status(resp, 401, "Unauthorized")
    assert_status(api.request("GET", "/api/v1/namespaces/default/configmaps/sneaky"), 404, "NotFound")


@pytest.mark.parametrize("method,path,code,reason", [
    pytest.param("GET", "/api/v1/namespaces/{ns}/frobnicators", 404, "NotFound", id="unknown-resource"),
    pytest.param("GET", "/apis/no.such.group/v1/things", 404, "NotFound", id="unknown-group"),
    pytest.param("GET", "/api/v9/namespaces", 404, "NotFound", id="unknown-version"),
    pytest.param("GET", "/api/v1/namespaces/{ns}/configmaps/x/bogus", 404, "NotFound", id="unknown-subresource"),
    pytest.param("GET", "/api/v1/namespaces/{ns}/configmaps/missing", 404, "NotFound", id="missing-object"),
    pytest.param("GET", "/api/v1/namespaces/{ns}/namespaces", 404, "NotFound", id="cluster-scoped-in-namespace"),
    pytest.param("PUT", "/api/v1/namespaces/{ns}/configmaps", 405, "MethodNotAllowed", id="put-on-collection"),
    pytest.param("POST", "/api/v1/namespaces/{ns}/configmaps/x", 405, "MethodNotAllowed", id="post-on-item"),
])
def test_routing_errors(api, ns, method, path, code, reason):
    body = json.dumps(cm("x")) if method in ("PUT", "POST") else None
    resp = api.request(method, path.format(ns=ns), body)
    assert_status(resp, code, reason)


def test_create_in_missing_namespace_is_404(api):
    resp = api.request("POST", CMS.format(ns="no-such-ns"), json.dumps(cm()))
    status = assert_status(resp, 404, "NotFound")
    assert status["message"] == 'namespaces "no-such-ns" not found'


# -- hostile bodies: always a 4xx Status, never a 500 or a hang -------------------------------------
def alias_bomb(levels: int) -> str:
    """A YAML "billion laughs": 9**levels strings from a few hundred bytes of aliases."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\n" + "\n".join(lines) + "\n"


HOSTILE = [
    pytest.param("POST", CMS, b"\x00" * 1000, "application/json", id="nul-bytes"),
    pytest.param("POST", CMS, b"k8s\x00" + b"\xff" * 5000, "application/vnd.kubernetes.protobuf",
                 id="protobuf-all-ones"),
    pytest.param("POST", CMS, "[" * 200_000, "application/json", id="json-unclosed-deep"),
    pytest.param("POST", CMS, "a: &a [*a, *a, *a]\n", "application/yaml", id="yaml-self-referencing-alias"),
    pytest.param("POST", CMS, "x: " + "[" * 10_000, "application/yaml", id="yaml-unclosed-deep"),
    pytest.param("POST", CMS, "x: " + "[" * 5_000 + "]" * 5_000, "application/yaml", id="yaml-deep"),
    pytest.param("POST", CMS, "x: " + "{a: " * 5_000 + "1" + "}" * 5_000, "application/yaml",
                 id="yaml-deep-mappings"),
    pytest.param("PATCH", CMS + "/cm", "[" * 200_000, "application/json-patch+json", id="json-patch-deep"),
    pytest.param("PATCH", CMS + "/cm", '{"data":' * 5_000 + "{}" + "}" * 5_000,
                 "application/merge-patch+json", id="merge-patch-deep"),
    pytest.param("PATCH", CMS + "/cm?fieldManager=t", "a: &a [*a]\n", "application/apply-patch+yaml",
                 id="apply-patch-self-referencing-alias"),
    pytest.param("POST", DEPLOYS, json.dumps(deployment({"nested": [1, {"x": None}]})), "application/json",
                 id="object-for-int32"),
]


@pytest.mark.parametrize("method,path,body,content_type", HOSTILE)
def test_hostile_body_is_a_4xx_status(api, ns, method, path, body, content_type):
    assert api.request("POST", CMS.format(ns=ns), json.dumps(cm())).status == 201
    resp = api.request(method, path.format(ns=ns), body, content_type=content_type)
    assert 400 <= resp.status < 500, (resp.status, resp.body[:500])
    assert_status(resp, resp.status, resp.json()["reason"])


def test_yaml_alias_bomb_is_rejected_quickly(new_cluster):
    """~400 bytes that expand to 43 million strings must not occupy the server (go-yaml refuses them)."""
    private = new_cluster()
    private.start()
    api = Http(private)
    conn = http.client.HTTPSConnection("127.0.0.1", private.port, context=api.context, timeout=5)
    try:
        conn.request("POST", "/api/v1/namespaces/default/configmaps", body=alias_bomb(8).encode(),
                     headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/yaml"})
        try:
            resp = conn.getresponse()
        except TimeoutError:
            pytest.fail("a 400-byte YAML alias bomb kept the API server busy for more than 5 s")
        body = resp.read()
    finally:
        conn.close()
    assert_status(Response(resp.status, resp.headers, body), 400, "BadRequest")
    assert api.request("GET", "/readyz", token=None).status == 200


# -- the server survives all of this -----------------------------------------------------------------
def test_server_still_answers_after_bad_input(api, cluster, ns):
    for case in HOSTILE:
        method, path, body, content_type = case.values
        resp = api.request(method, path.format(ns=ns), body, content_type=content_type)
        assert resp.status < 600 and resp.headers.get_content_type() == "application/json", case.id
    # plain HTTP to the HTTPS port, and a TLS connection that sends garbage
    with socket.create_connection(("127.0.0.1", cluster.port), timeout=5) as s:
        s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            s.recv(100)
        except OSError:
            pass
    with socket.create_connection(("127.0.0.1", cluster.port), timeout=5) as raw, \
            api.context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(b"\x00\x01\x02 NOT HTTP \r\n\r\n")
        try:
            s.recv(100)
        except OSError:
            pass

    ready = api.request("GET", "/readyz", token=None)
    assert ready.status == 200 and ready.body == b"ok"
    listed = api.request("GET", CMS.format(ns=ns))
    assert listed.status == 200 and listed.json()["kind"] == "ConfigMapList"
    created = api.request("POST", CMS.format(ns=ns), json.dumps(cm("after")))
    assert created.status == 201, created.body
    assert cluster.kubectl("-n", ns, "get", "cm", "after", "-o", "name").stdout.strip() == "configmap/after"
