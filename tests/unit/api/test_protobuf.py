"""podplane.api.protobuf: real kubectl 1.37 bodies, hand-built edge cases, errors, fuzzing.

Fixtures in fixtures/protobuf/ were captured from the real kubectl by capture.py:
<name>.pb is the POST body, <name>.json kubectl's own `--dry-run=client -o json`
rendering of the same object (the decoded dict must equal it exactly).
"""

from __future__ import annotations

import base64
import json
import random
import re
from pathlib import Path

import pytest

from podplane.api.errors import ApiError
from podplane.api.protobuf import MAGIC, decode, decode_message, message_for, supported_kinds
from podplane.api.protobuf_messages import ANY_VERSION_KINDS, KINDS, MESSAGES

FIXTURES = Path(__file__).parent / "fixtures" / "protobuf"
SCALARS = {"string", "bool", "int32", "int64", "uint32", "uint64", "float64", "bytes"}
SPECIALS = {"Time", "MicroTime", "Duration", "Quantity", "IntOrString", "RawExtension", "FieldsV1",
            "StringList"}


def body(name: str) -> bytes:
    return (FIXTURES / f"{name}.pb").read_bytes()


# -- a tiny protobuf writer for hand-built bodies --------------------------------------------------


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def vf(num: int, n: int) -> bytes:
    return varint(num << 3) + varint(n)


def lf(num: int, *parts: bytes | str) -> bytes:
    payload = b"".join(p.encode() if isinstance(p, str) else p for p in parts)
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def entry(num: int, key: str, value: bytes | str) -> bytes:
    return lf(num, lf(1, key), lf(2, value))


def envelope(api_version: str, kind: str, raw: bytes, encoding: str = "", content_type: str = "") -> bytes:
    return MAGIC + lf(1, lf(1, api_version), lf(2, kind)) + lf(2, raw) + lf(3, encoding) + lf(4, content_type)


def bad(data: bytes) -> ApiError:
    with pytest.raises(ApiError) as info:
        decode(data)
    assert info.value.code == 400 and info.value.reason == "BadRequest"
    return info.value


# -- captured kubectl bodies -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.json")))
def test_decoded_body_equals_kubectl_json(name: str) -> None:
    assert decode(body(name)) == json.loads((FIXTURES / f"{name}.json").read_text())


def test_configmap() -> None:
    # kubectl leaves metadata.namespace empty; the URL carries the namespace.
    assert decode(body("configmap")) == {
        "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "cm1"}, "data": {"a": "b"}}


def test_configmap_binary_data_is_base64() -> None:
    obj = decode(body("configmap_binary"))
    assert obj["data"] == {"text": "hello"}
    assert obj["binaryData"]["blob"] == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy" \
        "MzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+A" \
        "gYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3O" \
        "z9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w=="


def test_secret_generic() -> None:
    # data bytes become base64 as in JSON; the empty type is omitted (the server defaults Opaque).
    assert decode(body("secret")) == {
        "kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s1"}, "data": {"k": "dg=="}}


def test_secret_tls() -> None:
    obj = decode(body("secret_tls"))
    assert obj["type"] == "kubernetes.io/tls"
    assert sorted(obj["data"]) == ["tls.crt", "tls.key"]
    assert base64.b64decode(obj["data"]["tls.crt"]).startswith(b"-----BEGIN CERTIFICATE-----")


def test_namespace() -> None:
    assert decode(body("namespace")) == {
        "kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "ns1"}, "spec": {}, "status": {}}


def test_deployment() -> None:
    obj = decode(body("deployment"))
    assert obj["kind"] == "Deployment" and obj["apiVersion"] == "apps/v1"
    assert obj["metadata"] == {"name": "web", "labels": {"app": "web"}}
    assert "creationTimestamp" not in obj["metadata"]  # zero Time + omitzero
    spec = obj["spec"]
    assert spec["replicas"] == 2
    assert spec["selector"] == {"matchLabels": {"app": "web"}}
    assert spec["strategy"] == {}
    assert spec["template"]["metadata"] == {"labels": {"app": "web"}}
    assert spec["template"]["spec"] == {"containers": [
        {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}], "resources": {}}]}
    assert obj["status"] == {}


def test_job() -> None:
    obj = decode(body("job"))
    assert obj["apiVersion"] == "batch/v1" and obj["metadata"] == {"name": "j"}
    pod = obj["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"] == [{"name": "j", "image": "busybox", "command": ["echo", "hi"], "resources": {}}]


def test_cronjob() -> None:
    spec = decode(body("cronjob"))["spec"]
    assert spec["schedule"] == "*/5 * * * *"
    assert spec["jobTemplate"]["metadata"] == {"name": "cj"}
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"


def test_service_clusterip_int_target_port() -> None:
    obj = decode(body("service_clusterip"))
    assert obj["metadata"] == {"name": "s", "labels": {"app": "s"}}
    assert obj["spec"] == {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                           "selector": {"app": "s"}, "type": "ClusterIP"}
    assert obj["status"] == {"loadBalancer": {}}


def test_service_nodeport_string_target_port() -> None:
    port = decode(body("service_nodeport"))["spec"]["ports"][0]
    assert port == {"name": "5678-http", "protocol": "TCP", "port": 5678, "targetPort": "http", "nodePort": 30080}


def test_serviceaccount() -> None:
    assert decode(body("serviceaccount")) == {
        "kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "sa1"}}


def test_role() -> None:
    obj = decode(body("role"))
    assert obj["apiVersion"] == "rbac.authorization.k8s.io/v1"
    assert obj["rules"] == [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["p1"]},
        {"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["p1"]},
    ]


def test_rolebinding() -> None:
    obj = decode(body("rolebinding"))
    assert obj["subjects"] == [
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"},
        {"kind": "ServiceAccount", "name": "sa1", "namespace": "default"},
    ]
    assert obj["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}


def test_clusterrole_and_aggregation_rule() -> None:
    assert decode(body("clusterrole"))["rules"] == [
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["get"], "nonResourceURLs": ["/logs/*"]},
    ]
    agg = decode(body("clusterrole_aggregation"))
    assert agg["rules"] is None  # `json:"rules"` without omitempty: nil slice is null
    assert agg["aggregationRule"] == {
        "clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate-to-monitoring": "true"}}]}


def test_clusterrolebinding() -> None:
    assert decode(body("clusterrolebinding"))["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cr"}


def test_quota_quantities() -> None:
    obj = decode(body("quota"))
    assert obj["spec"] == {"hard": {"cpu": "1500m", "memory": "1Gi", "pods": "10"}, "scopes": ["NotBestEffort"]}
    assert obj["status"] == {}


def test_pdb_int_or_string_percent() -> None:
    obj = decode(body("pdb"))
    assert obj["spec"] == {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}
    assert obj["status"] == {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}


def test_ingress() -> None:
    obj = decode(body("ingress"))
    assert obj["metadata"] == {"name": "ing", "annotations": {"a": "b"}}
    assert obj["spec"] == {
        "ingressClassName": "nginx",
        "tls": [{"hosts": ["foo.com"], "secretName": "tls1"}],
        "rules": [{"host": "foo.com", "http": {"paths": [{
            "path": "/bar", "pathType": "Prefix",
            "backend": {"service": {"name": "svc1", "port": {"number": 8080}}}}]}}],
    }


def test_priorityclass() -> None:
    assert decode(body("priorityclass")) == {
        "kind": "PriorityClass", "apiVersion": "scheduling.k8s.io/v1", "metadata": {"name": "pc"},
        "value": 1000, "description": "high", "preemptionPolicy": "Never"}


def test_token_request() -> None:
    assert decode(body("token")) == {
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": {},
        "spec": {"audiences": ["api"], "expirationSeconds": 3600, "boundObjectRef": None},
        "status": {"token": "", "expirationTimestamp": None}}


def test_auth_can_i() -> None:
    assert decode(body("can_i")) == {
        "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "metadata": {},
        "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "resource": "pods"}},
        "status": {"allowed": False}}
    assert decode(body("can_i_subresource"))["spec"]["resourceAttributes"] == {
        "namespace": "team", "verb": "get", "resource": "pods", "subresource": "log"}
    assert decode(body("can_i_nonresource"))["spec"] == {"nonResourceAttributes": {"path": "/logs", "verb": "get"}}


def test_auth_whoami() -> None:
    assert decode(body("whoami")) == {
        "kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {},
        "status": {"userInfo": {}}}


# -- hand-built bodies: encodings kubectl's create commands do not exercise ------------------------


def test_object_meta_full() -> None:
    meta = (lf(1, "p1") + lf(2, "gen-") + lf(3, "ns") + lf(5, "uid-1") + lf(6, "42") + vf(7, 3)
            + lf(8, vf(1, 1767225600), vf(2, 123)) + lf(9, vf(1, 1767225660)) + vf(10, 30)
            + entry(11, "b", "2") + entry(11, "a", "1") + entry(12, "note", "")
            + lf(13, lf(1, "ReplicaSet"), lf(3, "rs"), lf(4, "u2"), lf(5, "apps/v1"), vf(6, 1))
            + lf(14, "f1") + lf(14, "f2")
            + lf(17, lf(1, "kubectl"), lf(2, "Update"), lf(3, "v1"), lf(4, vf(1, 1767225600)),
                 lf(6, "FieldsV1"), lf(7, lf(1, '{"f:data":{}}'))))
    obj = decode(envelope("v1", "Pod", lf(1, meta)))
    assert obj["metadata"] == {
        "name": "p1", "generateName": "gen-", "namespace": "ns", "uid": "uid-1", "resourceVersion": "42",
        "generation": 3, "creationTimestamp": "2026-01-01T00:00:00Z",  # nanos dropped, as metav1.Time does
        "deletionTimestamp": "2026-01-01T00:01:00Z", "deletionGracePeriodSeconds": 30,
        "labels": {"a": "1", "b": "2"}, "annotations": {"note": ""},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u2",
                             "controller": True}],
        "finalizers": ["f1", "f2"],
        "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                           "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:data": {}}}],
    }
    assert obj["spec"] == {"containers": None}  # `json:"containers"`: nil slice is null
    assert obj["status"] == {}


def test_pod_spec_containers_probes_volumes() -> None:
    probe = (lf(1, lf(2, lf(1, "/healthz"), lf(2, vf(1, 0), vf(2, 8080)), lf(4, "HTTP")))
             + vf(2, 5) + vf(4, 10))
    container = (lf(1, "app") + lf(2, "img:1") + lf(3, "sh") + lf(4, "-c") + lf(4, "run")
                 + lf(6, lf(1, "http"), vf(3, 8080), lf(4, "TCP"))
                 + lf(7, lf(1, "MODE"), lf(2, "prod")) + lf(7, lf(1, "POD"), lf(3, lf(1, lf(2, "metadata.name"))))
                 + lf(19, lf(1, "P_"), lf(2, lf(1, lf(1, "cm")), vf(2, 1)))
                 + lf(8, entry(1, "cpu", lf(1, "500m")), entry(2, "memory", lf(1, "64Mi")))
                 + lf(9, lf(1, "data"), vf(2, 1), lf(3, "/data"))
                 + lf(10, probe) + lf(12, lf(2, lf(1, lf(1, "sleep"), lf(1, "5"))))
                 + lf(15, vf(4, 1000), vf(5, 0), lf(1, lf(1, "NET_ADMIN"))) + vf(16, 1) + vf(18, 0))
    volume = lf(1, "data") + lf(2, lf(19, lf(1, lf(1, "cm")), vf(3, 0o644)))
    term = lf(1, lf(1, "zone"), lf(2, "In"), lf(3, "a"))  # NodeSelectorTerm.matchExpressions
    spec = (lf(1, volume) + lf(2, container) + lf(3, "Always") + vf(4, 30) + entry(7, "disk", "ssd")
            + vf(11, 1) + lf(18, lf(1, lf(1, lf(1, term))))
            + lf(22, lf(1, "gpu"), lf(2, "Exists"), lf(4, "NoSchedule"), vf(5, -1)))
    obj = decode(envelope("v1", "Pod", lf(1, lf(1, "p")) + lf(2, spec)))
    pod = obj["spec"]
    assert pod["volumes"] == [{"name": "data", "configMap": {"name": "cm", "defaultMode": 0o644}}]
    assert pod["restartPolicy"] == "Always" and pod["terminationGracePeriodSeconds"] == 30
    assert pod["nodeSelector"] == {"disk": "ssd"}
    assert pod["hostNetwork"] is True
    assert pod["affinity"] == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}
    assert pod["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule",
                                   "tolerationSeconds": -1}]
    c = pod["containers"][0]
    assert c["name"] == "app" and c["image"] == "img:1"
    assert c["command"] == ["sh"] and c["args"] == ["-c", "run"]
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert c["env"] == [{"name": "MODE", "value": "prod"},
                        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    assert c["envFrom"] == [{"prefix": "P_", "configMapRef": {"name": "cm", "optional": True}}]
    assert c["resources"] == {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}}
    assert c["volumeMounts"] == [{"name": "data", "readOnly": True, "mountPath": "/data"}]
    # ProbeHandler is an inline embedded struct: its fields sit directly in the probe.
    assert c["livenessProbe"] == {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                                  "initialDelaySeconds": 5, "periodSeconds": 10}
    assert c["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    # Pointer fields are kept even when zero; omitempty scalars (tty false) are dropped.
    assert c["securityContext"] == {"capabilities": {"add": ["NET_ADMIN"]}, "runAsUser": 1000,
                                    "runAsNonRoot": False}
    assert c["stdin"] is True and "tty" not in c


def test_int_or_string_and_pointer_zero() -> None:
    strategy = lf(1, "RollingUpdate") + lf(2, lf(1, vf(1, 1), lf(3, "25%")), lf(2, vf(1, 0), vf(2, 0)))
    spec = vf(1, 0) + lf(4, strategy) + vf(7, 0) + vf(5, 0)
    obj = decode(envelope("apps/v1", "Deployment", lf(2, spec)))
    assert obj["spec"]["replicas"] == 0  # *int32 set to 0 is kept
    assert obj["spec"]["strategy"] == {"type": "RollingUpdate",
                                       "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 0}}
    assert "paused" not in obj["spec"] and "minReadySeconds" not in obj["spec"]


def test_negative_and_packed_integers() -> None:
    # ContainerRestartRuleOnExitCodes.values is `repeated int32`: accept unpacked and packed forms.
    rule = lf(1, "Restart") + lf(2, lf(1, "In"), vf(2, 1), vf(2, -2),
                                 lf(2, varint(3) + varint(42)))
    container = lf(1, "c") + lf(24, "Always") + lf(25, rule)
    pod = decode(envelope("v1", "Pod", lf(2, lf(2, container))))
    assert pod["spec"]["containers"][0]["restartPolicyRules"] == [
        {"action": "Restart", "exitCodes": {"operator": "In", "values": [1, -2, 3, 42]}}]


def test_delete_options_in_any_group_version() -> None:
    raw = vf(1, 0) + lf(2, lf(1, "u1")) + lf(4, "Foreground") + lf(5, "All")
    for version in ("v1", "apps/v1", "meta.k8s.io/v1"):
        assert decode(envelope(version, "DeleteOptions", raw)) == {
            "kind": "DeleteOptions", "apiVersion": version, "gracePeriodSeconds": 0,
            "preconditions": {"uid": "u1"}, "propagationPolicy": "Foreground", "dryRun": ["All"]}
    assert message_for("example.com/v1", "DeleteOptions") is None


def test_eviction_and_subject_access_review_extra() -> None:
    ev = decode(envelope("policy/v1", "Eviction", lf(1, lf(1, "p1"), lf(3, "ns")) + lf(2, vf(1, 10))))
    assert ev == {"kind": "Eviction", "apiVersion": "policy/v1", "metadata": {"name": "p1", "namespace": "ns"},
                  "deleteOptions": {"gracePeriodSeconds": 10}}
    spec = lf(3, "alice") + lf(4, "g1") + lf(5, lf(1, "scopes"), lf(2, lf(1, "a"), lf(1, "b"))) + lf(6, "u")
    sar = decode(envelope("authorization.k8s.io/v1", "SubjectAccessReview", lf(2, spec)))
    assert sar["spec"] == {"user": "alice", "groups": ["g1"], "extra": {"scopes": ["a", "b"]}, "uid": "u"}


def test_time_formats() -> None:
    from podplane.api.protobuf import _duration

    meta = lf(9, vf(1, 0))  # 1970 is a real time, not the zero time
    assert decode(envelope("v1", "ConfigMap", lf(1, meta)))["metadata"]["deletionTimestamp"] == \
        "1970-01-01T00:00:00Z"
    meta = lf(9, b"")  # an explicitly empty Time is time.Time{}: null
    assert decode(envelope("v1", "ConfigMap", lf(1, meta)))["metadata"]["deletionTimestamp"] is None
    assert [_duration(n) for n in (0, 999, 1500, 1_500_000, 1_500_000_000, 90 * 10**9, 3600 * 10**9,
                                   -(3723 * 10**9 + 5))] == [
        "0s", "999ns", "1.5µs", "1.5ms", "1.5s", "1m30s", "1h0m0s", "-1h2m3.000000005s"]


def test_unknown_fields_are_skipped_and_messages_merge() -> None:
    raw = lf(1, lf(1, "cm")) + lf(99, "future") + vf(98, 7) + lf(1, entry(11, "x", "y")) + entry(2, "k", "v")
    assert decode(envelope("v1", "ConfigMap", raw)) == {
        "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "cm", "labels": {"x": "y"}},
        "data": {"k": "v"}}


def test_invalid_utf8_is_replaced_like_encoding_json() -> None:
    obj = decode(envelope("v1", "ConfigMap", lf(1, lf(1, b"a\xffb"))))
    assert obj["metadata"]["name"] == "a\ufffdb"


def test_decode_message_without_envelope() -> None:
    assert decode_message("rbac/v1.RoleRef", lf(1, "rbac.authorization.k8s.io") + lf(2, "Role") + lf(3, "r")) \
        == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}
    with pytest.raises(ApiError):
        decode_message("nope/v1.Thing", b"")


# -- errors ----------------------------------------------------------------------------------------


def test_bad_magic() -> None:
    assert "expected prefix [107 56 115 0]" in bad(b'{"kind":"ConfigMap"}').message
    bad(b"")
    bad(b"k8s")


def test_unknown_kind() -> None:
    err = bad(envelope("v1", "Frobnicator", b""))
    assert err.message == 'no kind "Frobnicator" is registered for version "v1"'
    assert bad(envelope("apps/v2", "Deployment", b"")).message == \
        'no kind "Deployment" is registered for version "apps/v2"'
    assert "Kind" in bad(envelope("v1", "", b"")).message


def test_malformed_wire_data() -> None:
    bad(MAGIC + b"\x0a")  # truncated length
    bad(MAGIC + b"\x0a\x05\x0a\x02v1")  # length beyond the end
    bad(MAGIC + b"\x08" + b"\xff" * 11)  # varint longer than 10 bytes
    bad(MAGIC + b"\x08" + b"\xff" * 9 + b"\x7f")  # varint above 64 bits
    bad(MAGIC + b"\x0b")  # wire type 3 (groups)
    bad(MAGIC + b"\x00\x00")  # field number 0
    bad(envelope("v1", "ConfigMap", vf(1, 5)))  # metadata must be length-delimited
    bad(envelope("v1", "ConfigMap", lf(1, vf(1, 5))))  # name must be a string
    bad(envelope("v1", "Service", lf(2, lf(1, lf(4, vf(1, 7))))))  # impossible IntOrString type
    bad(envelope("v1", "ResourceQuota", lf(2, entry(1, "cpu", lf(1, "")))))  # empty quantity
    bad(envelope("v1", "ConfigMap", b"", encoding="gzip"))
    bad(envelope("v1", "ConfigMap", b"", content_type="application/json"))


def test_fuzz_never_raises_anything_but_api_error() -> None:
    rng = random.Random(1337)
    seeds = [body(p.stem) for p in sorted(FIXTURES.glob("*.pb"))]
    kinds = sorted(KINDS)
    for i in range(6000):
        mode = i % 5
        if mode == 0:
            data = MAGIC + rng.randbytes(rng.randrange(64))
        elif mode == 1:
            data = rng.randbytes(rng.randrange(32))
        elif mode == 2:  # a valid envelope around random bytes or another kind's message
            raw = rng.randbytes(rng.randrange(96)) if rng.random() < 0.5 else rng.choice(seeds)[4:]
            data = envelope(*rng.choice(kinds), raw)
        else:  # real kubectl bodies with bytes flipped, dropped or inserted
            mutated = bytearray(rng.choice(seeds))
            for _ in range(rng.randrange(1, 6)):
                op, pos = rng.randrange(3), rng.randrange(len(MAGIC), len(mutated))
                if op == 0:
                    mutated[pos] = rng.randrange(256)
                elif op == 1:
                    del mutated[pos:pos + rng.randrange(1, 8)]
                else:
                    mutated[pos:pos] = rng.randbytes(rng.randrange(1, 8))
            data = bytes(mutated)
        try:
            result = decode(data)
        except ApiError as exc:
            assert exc.code == 400
        else:
            assert isinstance(result, dict) and result["kind"]
            json.dumps(result)


# -- the message table -----------------------------------------------------------------------------


def test_table_is_closed_and_acyclic() -> None:
    for name, fields in MESSAGES.items():
        for num, (json_name, typ, flags) in fields.items():
            assert 0 < num < 1 << 29
            assert set(flags) <= set("rmpozi"), (name, json_name)
            assert typ in SCALARS or typ in SPECIALS or typ in MESSAGES, (name, typ)
            assert json_name or "i" in flags
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        assert state.get(name) != 1, f"cycle through {name}"
        if state.get(name) == 2:
            return
        state[name] = 1
        for _, typ, _ in MESSAGES[name].values():
            if typ in MESSAGES:
                visit(typ)
        state[name] = 2

    for name in [*KINDS.values(), *ANY_VERSION_KINDS.values()]:
        visit(name)


def test_required_kinds_are_registered() -> None:
    required = {
        ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Namespace"), ("v1", "Service"), ("v1", "ServiceAccount"),
        ("v1", "ResourceQuota"), ("apps/v1", "Deployment"), ("batch/v1", "Job"),
        ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"), ("policy/v1", "PodDisruptionBudget"),
        ("networking.k8s.io/v1", "Ingress"), ("scheduling.k8s.io/v1", "PriorityClass"),
        ("authentication.k8s.io/v1", "TokenRequest"), ("authentication.k8s.io/v1", "SelfSubjectReview"),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
    }
    assert required <= supported_kinds()


def parse_proto_excerpts() -> dict[str, dict[int, tuple[str, str, str]]]:
    messages: dict[str, dict[int, tuple[str, str, str]]] = {}
    current = None
    for line in (FIXTURES / "generated_proto_excerpts.proto").read_text().splitlines():
        line = line.strip()
        if m := re.match(r"message (\w+) \{", line):
            current = messages.setdefault(m.group(1), {})
        elif m := re.match(r"(optional|repeated) ([\w.]+) (\w+) = (\d+);", line):
            current[int(m.group(4))] = (m.group(3), m.group(2).rsplit(".", 1)[-1], m.group(1))
        elif m := re.match(r"map<string, ([\w.]+)> (\w+) = (\d+);", line):
            current[int(m.group(3))] = (m.group(2), m.group(1).rsplit(".", 1)[-1], "map")
    return messages


def test_table_matches_generated_proto() -> None:
    """Field numbers, names, cardinality and types agree with upstream generated.proto."""
    envelope_types = {"RawExtension", "TypeMeta", "Unknown", "IntOrString", "Time", "MicroTime"}
    checked = 0
    for message, fields in parse_proto_excerpts().items():
        if message in envelope_types:
            continue
        candidates = [n for n in MESSAGES if n.endswith("." + message)]
        assert len(candidates) == 1, message
        table = MESSAGES[candidates[0]]
        for num, (proto_name, proto_type, label) in fields.items():
            assert num in table, (message, proto_name)
            json_name, typ, flags = table[num]
            # go-to-protobuf lower-cases only the first letter of Go names (aPIVersion, uID).
            assert json_name.lower() == proto_name.lower(), (message, num)
            if label == "map":
                assert "m" in flags, (message, proto_name)
            elif typ != "bytes":
                assert ("r" in flags) == (label == "repeated"), (message, proto_name)
            if proto_type in SCALARS:
                assert typ == proto_type, (message, proto_name)
            elif proto_type == "ExtraValue":
                assert typ == "StringList"
            else:
                assert typ == proto_type or typ.endswith("." + proto_type), (message, proto_name, typ)
            checked += 1
    assert checked > 150
