"""Validation: upstream wording of semantic errors, decode errors, unknown fields, CR schemas."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from podplane.api.registry import ResourceInfo, default_registry
from podplane.api.schema import SchemaNode, node_for_kind
from podplane.api.validation import (
    decode_errors,
    go_value,
    parse_quantity,
    prune,
    strict_decoding_message,
    type_errors,
    unknown_fields,
    validate,
    validate_custom,
)

REG = default_registry()


def info(group: str, kind: str) -> ResourceInfo:
    found = REG.by_group_kind(group, kind)
    assert found is not None, kind
    return found


def container(name: str = "c", image: str = "nginx", **extra) -> dict:
    return {"name": name, "image": image, **extra}


def pod(spec: dict | None = None, name: str = "p", **meta) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", **meta},
            "spec": spec if spec is not None else {"containers": [container()]}}


def template(labels: dict | None = None, **spec) -> dict:
    return {"metadata": {"labels": {"app": "web"} if labels is None else labels},
            "spec": {"containers": [container()], **spec}}


def deployment(name: str = "web", **spec) -> dict:
    body = {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": template()}
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": body}


def job(**spec) -> dict:
    body = {"selector": {"matchLabels": {"app": "web"}}, "template": template(restartPolicy="Never")}
    body.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "default"},
            "spec": body}


def service(name: str = "svc", **spec) -> dict:
    body = {"ports": [{"port": 80}], "selector": {"app": "web"}}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": body}


def found(causes) -> set[tuple[str, str, str]]:
    return {(c.field, c.reason, c.message) for c in causes}


def fields(causes) -> list[tuple[str, str]]:
    return [(c.field, c.reason) for c in causes]


SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation "
    "is '[a-z]([-a-z0-9]*[a-z0-9])?')")


# ---------------------------------------------------------------- object meta

def test_invalid_name_uses_the_upstream_message_verbatim():
    causes = validate(info("apps", "Deployment"), deployment(name="Foo_bar"))
    assert found(causes) == {("metadata.name", "FieldValueInvalid", f'Invalid value: "Foo_bar": {SUBDOMAIN_MSG}')}


@pytest.mark.parametrize(("group", "kind", "obj", "expected"), [
    pytest.param("", "Namespace", {"metadata": {"name": "a.b"}},
                 {("metadata.name", "FieldValueInvalid", f'Invalid value: "a.b": {LABEL_MSG}')},
                 id="namespace-is-a-dns-label"),
    pytest.param("", "Service", service(name="1abc"),
                 {("metadata.name", "FieldValueInvalid", f'Invalid value: "1abc": {DNS1035_MSG}')},
                 id="service-is-a-dns1035-label"),
    pytest.param("", "ConfigMap", {"metadata": {"name": "a.b", "namespace": "default"}}, set(),
                 id="configmap-subdomain-with-dot-ok"),
    pytest.param("", "ConfigMap", {"metadata": {"namespace": "default"}},
                 {("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")},
                 id="name-required"),
    pytest.param("", "ConfigMap", {"metadata": {"generateName": "cm-", "namespace": "default"}}, set(),
                 id="generate-name-trailing-dash-ok"),
    pytest.param("", "ConfigMap", {"metadata": {"generateName": "CM-", "namespace": "default"}},
                 {("metadata.generateName", "FieldValueInvalid", f'Invalid value: "CM-": {SUBDOMAIN_MSG}')},
                 id="generate-name-validated"),
    pytest.param("", "ConfigMap", {"metadata": {"name": "x"}},
                 {("metadata.namespace", "FieldValueRequired", "Required value")},
                 id="namespace-required-for-namespaced"),
    pytest.param("", "Node", {"metadata": {"name": "n", "namespace": "default"}},
                 {("metadata.namespace", "FieldValueForbidden", "Forbidden: not allowed on this type")},
                 id="namespace-forbidden-for-cluster-scoped"),
    pytest.param("", "ConfigMap", {"metadata": {"name": "x", "namespace": "Bad_NS"}},
                 {("metadata.namespace", "FieldValueInvalid", f'Invalid value: "Bad_NS": {LABEL_MSG}')},
                 id="namespace-value-is-a-dns-label"),
    pytest.param("rbac.authorization.k8s.io", "ClusterRole", {"metadata": {"name": "system:controller:x"}},
                 set(), id="rbac-names-are-path-segments"),
    pytest.param("rbac.authorization.k8s.io", "ClusterRole", {"metadata": {"name": "a/b"}},
                 {("metadata.name", "FieldValueInvalid", "Invalid value: \"a/b\": may not contain '/'")},
                 id="rbac-name-no-slash"),
])
def test_object_meta_names(group, kind, obj, expected):
    assert found(validate(info(group, kind), obj)) == expected


@pytest.mark.parametrize(("meta", "expected"), [
    pytest.param({"labels": {"app": "web", "example.com/tier": "a.b_c-1"}}, [], id="valid"),
    pytest.param({"labels": {"bad key": "v"}}, [("metadata.labels", "FieldValueInvalid")], id="bad-key"),
    pytest.param({"labels": {"k": "-bad"}}, [("metadata.labels", "FieldValueInvalid")], id="bad-value"),
    pytest.param({"labels": {"k": "x" * 64}}, [("metadata.labels", "FieldValueInvalid")], id="value-too-long"),
    pytest.param({"annotations": {"k": "x" * (256 * 1024)}}, [("metadata.annotations", "FieldValueTooLong")],
                 id="annotations-too-large"),
    pytest.param({"annotations": {"Example.com/Key": "anything goes"}}, [], id="annotation-key-case-free"),
    pytest.param({"finalizers": ["example.com/cleanup", "bad finalizer"]},
                 [("metadata.finalizers", "FieldValueInvalid")], id="finalizer-qualified-name"),
    pytest.param({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs"}]},
                 [("metadata.ownerReferences.uid", "FieldValueInvalid")], id="owner-uid-required"),
    pytest.param({"ownerReferences": [
        {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "1", "controller": True},
        {"apiVersion": "v1", "kind": "B", "name": "b", "uid": "2", "controller": True}]},
        [("metadata.ownerReferences", "FieldValueInvalid")], id="one-controller-only"),
])
def test_labels_annotations_owners(meta, expected):
    obj = {"metadata": {"name": "cm", "namespace": "default", **meta}}
    assert fields(validate(info("", "ConfigMap"), obj)) == expected


def test_label_value_message():
    causes = validate(info("", "ConfigMap"), {"metadata": {"name": "c", "namespace": "d", "labels": {"k": "a b"}}})
    assert causes[0].message == (
        "Invalid value: \"a b\": a valid label must be an empty string or consist of alphanumeric characters, "
        "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  "
        "or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


# ---------------------------------------------------------------- workloads

def dep_with(**spec):
    return deployment(**spec)


@pytest.mark.parametrize(("obj", "expected"), [
    pytest.param(deployment(), set(), id="valid"),
    pytest.param(dep_with(replicas=-1), {("spec.replicas", "FieldValueInvalid",
                                         "Invalid value: -1: must be greater than or equal to 0")}, id="replicas"),
    pytest.param(dep_with(template=template(labels={"app": "other"})),
                 {("spec.template.metadata.labels", "FieldValueInvalid",
                   'Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`')},
                 id="selector-mismatch"),
    pytest.param(dep_with(selector={}),
                 {("spec.selector", "FieldValueInvalid",
                   "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
                   "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment")},
                 id="empty-selector"),
    pytest.param(dep_with(template=template(restartPolicy="Never")),
                 {("spec.template.spec.restartPolicy", "FieldValueNotSupported",
                   'Unsupported value: "Never": supported values: "Always"')}, id="restart-policy-always"),
    pytest.param(dep_with(strategy={"type": "Recreate", "rollingUpdate": {}}),
                 {("spec.strategy.rollingUpdate", "FieldValueForbidden",
                   "Forbidden: may not be specified when strategy `type` is 'Recreate'")}, id="recreate-no-rolling"),
    pytest.param(dep_with(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
                 {("spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
                   "Invalid value: 0: may not be 0 when `maxSurge` is 0")}, id="surge-and-unavailable-zero"),
    pytest.param(dep_with(selector={"matchExpressions": [{"key": "app", "operator": "In"}]}),
                 {("spec.selector.matchExpressions[0].values", "FieldValueRequired",
                   "Required value: must be specified when `operator` is 'In' or 'NotIn'"),
                  ("spec.template.metadata.labels", "FieldValueInvalid",
                   'Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`')},
                 id="in-needs-values"),
    pytest.param(dep_with(progressDeadlineSeconds=5, minReadySeconds=10),
                 {("spec.progressDeadlineSeconds", "FieldValueInvalid",
                   "Invalid value: 5: must be greater than minReadySeconds")}, id="progress-deadline"),
])
def test_deployment(obj, expected):
    assert found(validate(info("apps", "Deployment"), obj)) == expected


def test_deployment_without_selector_reports_required_and_mismatch_like_upstream():
    obj = deployment()
    del obj["spec"]["selector"]
    assert fields(validate(info("apps", "Deployment"), obj)) == [
        ("spec.selector", "FieldValueRequired"), ("spec.template.metadata.labels", "FieldValueInvalid")]


@pytest.mark.parametrize(("group", "kind", "obj", "expected"), [
    pytest.param("apps", "ReplicaSet", {**deployment(), "kind": "ReplicaSet"}, [], id="replicaset-valid"),
    pytest.param("apps", "DaemonSet", {**deployment(), "kind": "DaemonSet"}, [], id="daemonset-valid"),
    pytest.param("apps", "DaemonSet", {"metadata": {"name": "d", "namespace": "n"},
                                       "spec": {"template": template()}},
                 [("spec.selector", "FieldValueRequired"), ("spec.template.metadata.labels", "FieldValueInvalid")],
                 id="daemonset-selector-required"),
    pytest.param("apps", "StatefulSet", {"metadata": {"name": "db", "namespace": "n"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}}, "serviceName": "db",
        "template": template(containers=[container(volumeMounts=[{"name": "data", "mountPath": "/d"}])]),
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}, [],
        id="statefulset-claim-templates-count-as-volumes"),
    pytest.param("apps", "StatefulSet", {"metadata": {"name": "db", "namespace": "n"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}}, "podManagementPolicy": "Random", "template": template()}},
        [("spec.podManagementPolicy", "FieldValueInvalid")], id="statefulset-pod-management"),
    pytest.param("batch", "Job", job(), [], id="job-valid"),
    pytest.param("batch", "Job", job(template=template()),
                 [("spec.template.spec.restartPolicy", "FieldValueRequired")], id="job-default-restart-policy"),
    pytest.param("batch", "Job", job(template=template(restartPolicy="Always")),
                 [("spec.template.spec.restartPolicy", "FieldValueRequired")], id="job-always-restart"),
    pytest.param("batch", "Job", job(template=template(labels={"app": "x"}, restartPolicy="OnFailure")),
                 [("spec.template.metadata.labels", "FieldValueInvalid")], id="job-selector-mismatch"),
    pytest.param("batch", "Job", job(backoffLimit=-1), [("spec.backoffLimit", "FieldValueInvalid")],
                 id="job-backoff-limit"),
    pytest.param("batch", "CronJob", {"metadata": {"name": "c", "namespace": "n"}, "spec": {
        "schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template(restartPolicy="OnFailure")}}}},
        [], id="cronjob-valid"),
    pytest.param("batch", "CronJob", {"metadata": {"name": "c", "namespace": "n"}, "spec": {
        "schedule": "every minute", "jobTemplate": {"spec": {"template": template(restartPolicy="OnFailure")}}}},
        [("spec.schedule", "FieldValueInvalid")], id="cronjob-schedule"),
    pytest.param("batch", "CronJob", {"metadata": {"name": "c", "namespace": "n"}, "spec": {
        "schedule": "0 25 * * *", "concurrencyPolicy": "Sometimes",
        "jobTemplate": {"spec": {"template": template(restartPolicy="OnFailure")}}}},
        [("spec.schedule", "FieldValueInvalid"), ("spec.concurrencyPolicy", "FieldValueNotSupported")],
        id="cronjob-hour-range-and-policy"),
    pytest.param("", "ReplicationController", {"metadata": {"name": "rc", "namespace": "n"}, "spec": {
        "selector": {"app": "web"}, "template": template(labels={"app": "x"})}},
        [("spec.template.metadata.labels", "FieldValueInvalid")], id="rc-selector-mismatch"),
])
def test_workloads(group, kind, obj, expected):
    assert fields(validate(info(group, kind), obj)) == expected


def test_job_restart_policy_message():
    causes = validate(info("batch", "Job"), job(template=template()))
    assert causes[0].message == 'Required value: valid values: "OnFailure", "Never"'


def test_cron_schedule_message_names_the_field_count():
    obj = {"metadata": {"name": "c", "namespace": "n"}, "spec": {
        "schedule": "* * *", "jobTemplate": {"spec": {"template": template(restartPolicy="OnFailure")}}}}
    assert validate(info("batch", "CronJob"), obj)[0].message == \
        'Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]'


# ---------------------------------------------------------------- pods

@pytest.mark.parametrize(("spec", "expected"), [
    pytest.param({"containers": [container()]}, set(), id="valid"),
    pytest.param({"containers": []}, {("spec.containers", "FieldValueRequired", "Required value")},
                 id="containers-required"),
    pytest.param({"containers": [container(name="Web_1")]},
                 {("spec.containers[0].name", "FieldValueInvalid", f'Invalid value: "Web_1": {LABEL_MSG}')},
                 id="container-name-label"),
    pytest.param({"containers": [container(), container()]},
                 {("spec.containers[1].name", "FieldValueDuplicate", 'Duplicate value: "c"')}, id="unique-names"),
    pytest.param({"containers": [container()], "initContainers": [container()]},
                 {("spec.initContainers[0].name", "FieldValueDuplicate", 'Duplicate value: "c"')},
                 id="init-names-unique-too"),
    pytest.param({"containers": [container(image="")]},
                 {("spec.containers[0].image", "FieldValueRequired", "Required value")}, id="image-required"),
    pytest.param({"containers": [container(ports=[{"containerPort": 0}])]},
                 {("spec.containers[0].ports[0].containerPort", "FieldValueRequired", "Required value")},
                 id="port-required"),
    pytest.param({"containers": [container(ports=[{"containerPort": 65536}])]},
                 {("spec.containers[0].ports[0].containerPort", "FieldValueInvalid",
                   "Invalid value: 65536: must be between 1 and 65535, inclusive")}, id="port-range"),
    pytest.param({"containers": [container(ports=[{"containerPort": 80, "protocol": "HTTP"}])]},
                 {("spec.containers[0].ports[0].protocol", "FieldValueNotSupported",
                   'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"')}, id="protocol"),
    pytest.param({"containers": [container()], "restartPolicy": "Sometimes"},
                 {("spec.restartPolicy", "FieldValueNotSupported",
                   'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"')},
                 id="restart-policy"),
    pytest.param({"containers": [container(env=[{"name": "A=B", "value": "x"}, {"name": "MY.ok-name"}])]},
                 {("spec.containers[0].env[0].name", "FieldValueInvalid",
                   "Invalid value: \"A=B\": a valid environment variable name must consist only of printable "
                   "ASCII characters other than '='")}, id="env-name"),
    pytest.param({"containers": [container()], "volumes": [{"name": "v", "emptyDir": {}},
                                                           {"name": "v", "emptyDir": {}}]},
                 {("spec.volumes[1].name", "FieldValueDuplicate", 'Duplicate value: "v"')}, id="volume-names"),
    pytest.param({"containers": [container()], "volumes": [{"name": "v"}]},
                 {("spec.volumes[0]", "FieldValueRequired", "Required value: must specify a volume type")},
                 id="volume-type"),
    pytest.param({"containers": [container(volumeMounts=[{"name": "data", "mountPath": "/d"}])]},
                 {("spec.containers[0].volumeMounts[0].name", "FieldValueNotFound", 'Not found: "data"')},
                 id="mount-needs-volume"),
    pytest.param({"containers": [container(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}})]},
                 {("spec.containers[0].resources.requests[cpu]", "FieldValueInvalid",
                   'Invalid value: "2": must be less than or equal to cpu limit of 1')}, id="requests-le-limits"),
    pytest.param({"containers": [container(livenessProbe={"periodSeconds": 5})]},
                 {("spec.containers[0].livenessProbe", "FieldValueRequired",
                   "Required value: must specify a handler type")}, id="probe-handler"),
    pytest.param({"containers": [container()], "tolerations": [{"key": "k", "operator": "Maybe"}]},
                 {("spec.tolerations[0].operator", "FieldValueNotSupported",
                   'Unsupported value: "Maybe": supported values: "Equal", "Exists"')}, id="toleration-operator"),
    pytest.param({"containers": [container()], "activeDeadlineSeconds": 0},
                 {("spec.activeDeadlineSeconds", "FieldValueInvalid",
                   "Invalid value: 0: must be between 1 and 2147483647, inclusive")}, id="active-deadline"),
])
def test_pod_spec(spec, expected):
    assert found(validate(info("", "Pod"), pod(spec))) == expected


# ---------------------------------------------------------------- services, config

@pytest.mark.parametrize(("obj", "expected"), [
    pytest.param(service(), [], id="valid"),
    pytest.param(service(ports=[]), [("spec.ports", "FieldValueRequired")], id="ports-required"),
    pytest.param(service(ports=[], clusterIP="None"), [], id="headless-without-ports"),
    pytest.param(service(ports=[], type="ExternalName", externalName="db.example.com"), [],
                 id="external-name-without-ports"),
    pytest.param(service(type="ExternalName"), [("spec.externalName", "FieldValueRequired")],
                 id="external-name-required"),
    pytest.param(service(ports=[{"port": 0}]), [("spec.ports[0].port", "FieldValueInvalid")], id="port-zero"),
    pytest.param(service(ports=[{"port": 80}, {"port": 81}]),
                 [("spec.ports[0].name", "FieldValueRequired"), ("spec.ports[1].name", "FieldValueRequired")],
                 id="names-required-with-many-ports"),
    pytest.param(service(ports=[{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]),
                 [("spec.ports[1]", "FieldValueDuplicate")], id="duplicate-port"),
    pytest.param(service(ports=[{"port": 80, "targetPort": "http-web"}]), [], id="named-target-port"),
    pytest.param(service(ports=[{"port": 80, "targetPort": "Bad--Name"}]),
                 [("spec.ports[0].targetPort", "FieldValueInvalid")] * 2, id="bad-named-target-port"),
    pytest.param(service(type="Magic"), [("spec.type", "FieldValueNotSupported")], id="type"),
    pytest.param(service(ports=[{"port": 80, "nodePort": 30000}]), [("spec.ports[0].nodePort", "FieldValueForbidden")],
                 id="node-port-on-cluster-ip"),
    pytest.param(service(clusterIP="10.0.0.300"), [("spec.clusterIPs[0]", "FieldValueInvalid")], id="cluster-ip"),
])
def test_service(obj, expected):
    assert fields(validate(info("", "Service"), obj)) == expected


def test_service_type_message_lists_sorted_values():
    causes = validate(info("", "Service"), service(type="Magic"))
    assert causes[0].message == \
        'Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'


@pytest.mark.parametrize(("group", "kind", "obj", "expected"), [
    pytest.param("", "ConfigMap", {"metadata": {"name": "c", "namespace": "n"}, "data": {"ok.key_1-x": "v"}}, [],
                 id="configmap-valid"),
    pytest.param("", "ConfigMap", {"metadata": {"name": "c", "namespace": "n"}, "data": {"a/b": "v"}},
                 [("data[a/b]", "FieldValueInvalid")], id="configmap-key"),
    pytest.param("", "ConfigMap", {"metadata": {"name": "c", "namespace": "n"}, "data": {"k": "v"},
                                   "binaryData": {"k": "dg=="}},
                 [("data[k]", "FieldValueInvalid")], id="configmap-duplicate-binary"),
    pytest.param("", "Secret", {"metadata": {"name": "s", "namespace": "n"}, "data": {"..": "eA=="}},
                 [("data[..]", "FieldValueInvalid")], id="secret-key"),
    pytest.param("", "Secret", {"metadata": {"name": "s", "namespace": "n"}, "type": "kubernetes.io/tls",
                                "data": {"tls.crt": "eA=="}},
                 [("data[tls.key]", "FieldValueRequired")], id="tls-secret-keys"),
    pytest.param("", "PersistentVolumeClaim", {"metadata": {"name": "c", "namespace": "n"}, "spec": {}},
                 [("spec.accessModes", "FieldValueRequired"), ("spec.resources[storage]", "FieldValueRequired")],
                 id="pvc-required"),
    pytest.param("autoscaling", "HorizontalPodAutoscaler", {"metadata": {"name": "h", "namespace": "n"}, "spec": {
        "minReplicas": 3, "maxReplicas": 2, "scaleTargetRef": {"kind": "Deployment", "name": "web"}}},
        [("spec.maxReplicas", "FieldValueInvalid")], id="hpa-max-below-min"),
    pytest.param("policy", "PodDisruptionBudget", {"metadata": {"name": "p", "namespace": "n"}, "spec": {
        "minAvailable": 1, "maxUnavailable": 1}}, [("spec", "FieldValueInvalid")], id="pdb-both-set"),
    pytest.param("rbac.authorization.k8s.io", "Role", {"metadata": {"name": "r", "namespace": "n"},
                                                       "rules": [{"apiGroups": [""], "resources": ["pods"]}]},
                 [("rules[0].verbs", "FieldValueRequired")], id="role-verbs"),
    pytest.param("rbac.authorization.k8s.io", "RoleBinding", {"metadata": {"name": "b", "namespace": "n"},
                                                              "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                                                          "kind": "Role", "name": "r"},
                                                              "subjects": [{"kind": "Robot", "name": "x"}]},
                 [("subjects[0].kind", "FieldValueNotSupported")], id="binding-subject-kind"),
    pytest.param("networking.k8s.io", "Ingress", {"metadata": {"name": "i", "namespace": "n"}, "spec": {"rules": [
        {"host": "example.com", "http": {"paths": [{"path": "/", "backend": {"service": {"name": "web",
                                                                                          "port": {"number": 80}}}}]}}]}},
        [("spec.rules[0].http.paths[0].pathType", "FieldValueRequired")], id="ingress-path-type"),
])
def test_other_kinds(group, kind, obj, expected):
    assert fields(validate(info(group, kind), obj)) == expected


# ---------------------------------------------------------------- updates

def updated(obj: dict, change) -> dict:
    new = copy.deepcopy(obj)
    change(new)
    return new


def _set(path: str, value):
    def change(obj):
        *parents, last = path.split(".")
        for key in parents:
            obj = obj[int(key)] if isinstance(obj, list) else obj[key]
        if isinstance(obj, list):
            obj[int(last)] = value
        else:
            obj[last] = value
    return change


BASE_POD = pod({"containers": [container()], "activeDeadlineSeconds": 100,
                "tolerations": [{"key": "a", "operator": "Exists"}]}, uid="u1")
BASE_SVC = service(clusterIP="10.0.0.1", clusterIPs=["10.0.0.1"])


@pytest.mark.parametrize(("group", "kind", "old", "change", "expected"), [
    pytest.param("", "Pod", BASE_POD, _set("spec.containers.0.image", "nginx:2"), [], id="pod-image-mutable"),
    pytest.param("", "Pod", BASE_POD, _set("spec.activeDeadlineSeconds", 50), [], id="pod-deadline-shorter"),
    pytest.param("", "Pod", BASE_POD, _set("spec.activeDeadlineSeconds", 500),
                 [("spec.activeDeadlineSeconds", "FieldValueInvalid")], id="pod-deadline-longer"),
    pytest.param("", "Pod", BASE_POD, _set("spec.tolerations", [{"key": "a", "operator": "Exists"},
                                                                {"key": "b", "operator": "Exists"}]),
                 [], id="pod-toleration-added"),
    pytest.param("", "Pod", BASE_POD, _set("spec.containers.0.command", ["sh"]), [("spec", "FieldValueForbidden")],
                 id="pod-command-immutable"),
    pytest.param("", "Pod", BASE_POD, _set("metadata.name", "other"), [("metadata.name", "FieldValueInvalid")],
                 id="name-immutable"),
    pytest.param("", "Pod", BASE_POD, _set("metadata.uid", "u2"), [("metadata.uid", "FieldValueInvalid")],
                 id="uid-immutable"),
    pytest.param("", "Pod", BASE_POD, _set("metadata.labels", {"any": "thing"}), [], id="pod-labels-mutable"),
    pytest.param("", "Service", BASE_SVC, lambda o: (_set("spec.clusterIPs", ["10.0.0.2"])(o),
                                                     _set("spec.clusterIP", "10.0.0.2")(o)),
                 [("spec.clusterIPs[0]", "FieldValueInvalid")], id="cluster-ip-immutable"),
    pytest.param("", "Service", BASE_SVC, lambda o: (o["spec"].pop("clusterIP"), o["spec"].pop("clusterIPs")), [],
                 id="cluster-ip-omitted-on-update"),
    pytest.param("apps", "Deployment", deployment(),
                 lambda o: (_set("spec.selector", {"matchLabels": {"app": "v2"}})(o),
                            _set("spec.template.metadata.labels", {"app": "v2"})(o)),
                 [("spec.selector", "FieldValueInvalid")], id="selector-immutable"),
    pytest.param("apps", "Deployment", deployment(), _set("spec.replicas", 5), [], id="deployment-scale"),
    pytest.param("batch", "Job", job(), _set("spec.template.spec.containers.0.image", "other"),
                 [("spec.template", "FieldValueInvalid")], id="job-template-immutable"),
    pytest.param("batch", "Job", job(suspend=True), _set("spec.template.spec.nodeSelector", {"zone": "a"}), [],
                 id="suspended-job-scheduling-mutable"),
    pytest.param("apps", "StatefulSet", {"metadata": {"name": "s", "namespace": "n"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}}, "serviceName": "s", "template": template()}},
        _set("spec.serviceName", "other"), [("spec", "FieldValueForbidden")], id="statefulset-forbidden-field"),
    pytest.param("", "Secret", {"metadata": {"name": "s", "namespace": "n"}, "immutable": True, "data": {"a": "eA=="}},
                 _set("data", {"a": "eQ=="}), [("data", "FieldValueForbidden")], id="immutable-secret"),
    pytest.param("rbac.authorization.k8s.io", "RoleBinding", {
        "metadata": {"name": "b", "namespace": "n"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}},
        _set("roleRef", {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "other"}),
        [("roleRef", "FieldValueInvalid")], id="role-ref-immutable"),
])
def test_updates(group, kind, old, change, expected):
    assert fields(validate(info(group, kind), updated(old, change), old)) == expected


def test_pod_update_message_lists_updatable_fields():
    causes = validate(info("", "Pod"), updated(BASE_POD, _set("spec.containers.0.command", ["sh"])), BASE_POD)
    assert causes[0].message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
        "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")
    assert "command" in causes[0].message


def test_selector_immutable_message_renders_go_selector():
    new = updated(deployment(), lambda o: (_set("spec.selector", {"matchLabels": {"app": "v2"}})(o),
                                           _set("spec.template.metadata.labels", {"app": "v2"})(o)))
    causes = validate(info("apps", "Deployment"), new, deployment())
    assert causes[0].message == ('Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"v2"}, '
                                 "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable")


# ---------------------------------------------------------------- decoding

@pytest.mark.parametrize(("group", "kind", "obj", "expected"), [
    pytest.param("apps", "Deployment", deployment(), None, id="valid"),
    pytest.param("apps", "Deployment", {"spec": {"replicas": "3"}},
                 'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into '
                 "Go struct field DeploymentSpec.spec.replicas of type int32", id="replicas-string"),
    pytest.param("apps", "Deployment", {"spec": {"replicas": 1.5}},
                 'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal number 1.5 '
                 "into Go struct field DeploymentSpec.spec.replicas of type int32", id="replicas-float"),
    pytest.param("apps", "Deployment", {"spec": "x"},
                 'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into '
                 "Go struct field Deployment.spec of type v1.DeploymentSpec", id="spec-string"),
    pytest.param("apps", "Deployment", {"spec": {"template": {"spec": {"containers": [{"image": 5}]}}}},
                 'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal number into '
                 "Go struct field Container.spec.template.spec.containers.image of type string", id="nested-array"),
    pytest.param("", "Pod", {"spec": {"containers": {}}},
                 'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal object into Go struct field '
                 "PodSpec.spec.containers of type []v1.Container", id="object-for-array"),
    pytest.param("", "ConfigMap", {"metadata": {"labels": {"a": True}}},
                 'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal bool into Go '
                 "struct field ObjectMeta.metadata.labels of type string", id="map-value"),
    pytest.param("", "Pod", {"spec": {"containers": [{"resources": {"limits": {"cpu": "lots"}}}]}},
                 "Pod in version \"v1\" cannot be handled as a Pod: quantities must match the regular expression "
                 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'", id="quantity"),
    pytest.param("", "Service", {"spec": {"ports": [{"port": 80, "targetPort": "http"}]}}, None,
                 id="int-or-string-string"),
    pytest.param("", "Secret", {"data": {"k": "not base64!"}},
                 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3',
                 id="secret-base64"),
    pytest.param("", "ConfigMap", {"metadata": {"name": None}, "data": None}, None, id="nulls-decode"),
])
def test_decode_errors(group, kind, obj, expected):
    assert decode_errors(info(group, kind), obj) == expected


def test_decode_errors_skip_custom_resources():
    custom = ResourceInfo("example.com", "v1", "Widget", "widgets", custom=True, schema={"type": "object"})
    assert decode_errors(custom, {"spec": "anything"}) is None


# ---------------------------------------------------------------- unknown fields and pruning

CR_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "mode": {"type": "string", "enum": ["fast", "safe"]},
                "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
                "port": {"x-kubernetes-int-or-string": True},
                "note": {"type": "string", "nullable": True},
                "when": {"type": "string", "format": "date-time"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "items": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}
CR_NODE = SchemaNode.from_crd_schema(CR_SCHEMA)
POD_NODE = node_for_kind("", "v1", "Pod")


@pytest.mark.parametrize(("obj", "node", "expected"), [
    pytest.param(pod(), POD_NODE, [], id="pod-clean"),
    pytest.param({**pod(), "bogus": 1}, POD_NODE, ['unknown field "bogus"'], id="top-level"),
    pytest.param(pod({"containers": [container(bogus=1)], "foo": {}}), POD_NODE,
                 ['unknown field "spec.containers[0].bogus"', 'unknown field "spec.foo"'], id="nested-with-index"),
    pytest.param(pod(name="p", foo="x"), POD_NODE, ['unknown field "metadata.foo"'], id="metadata"),
    pytest.param({**pod(), "metadata": {"name": "p", "labels": {"any/key": "v"},
                                        "managedFields": [{"fieldsV1": {"f:spec": {"f:x": {}}}}]}},
                 POD_NODE, [], id="maps-and-fieldsv1-are-open"),
    pytest.param({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "nope": 1},
                  "spec": {"size": 1, "extra": 2, "labels": {"a": "b"}, "raw": {"anything": {"deep": 1}},
                           "items": [{"id": "a", "junk": True}],
                           "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
                                        "spec": {"x": "y", "z": 1}}},
                  "status": {"ready": True}},
                 CR_NODE, ['unknown field "metadata.nope"', 'unknown field "spec.extra"',
                           'unknown field "spec.items[0].junk"', 'unknown field "spec.template.spec.z"'],
                 id="custom-resource"),
])
def test_unknown_fields(obj, node, expected):
    assert unknown_fields(obj, node) == expected


def test_strict_decoding_message():
    problems = unknown_fields({"apiVersion": "v1", "kind": "ConfigMap", "bogus": 1}, node_for_kind("", "v1", "ConfigMap"))
    assert strict_decoding_message(info("", "ConfigMap"), problems) == \
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus"'


def test_prune_drops_undeclared_fields_only():
    obj = {"apiVersion": "example.com/v1", "kind": "Widget",
           "metadata": {"name": "w", "labels": {"a": "b"}, "nope": 1},
           "spec": {"size": 1, "extra": 2, "raw": {"keep": {"me": 1}}, "items": [{"id": "a", "junk": 1}],
                    "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"z": 1}}},
           "status": {"ready": True, "other": 1}}
    before = copy.deepcopy(obj)
    assert prune(obj, CR_NODE) == {
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "labels": {"a": "b"}},
        "spec": {"size": 1, "raw": {"keep": {"me": 1}}, "items": [{"id": "a"}],
                 "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {}}},
        "status": {"ready": True}}
    assert obj == before


def test_prune_object_without_properties_drops_everything():
    node = SchemaNode.from_crd_schema({"type": "object", "properties": {"spec": {"type": "object"}}})
    assert prune({"spec": {"a": 1}, "x": 1}, node) == {"spec": {}}


# ---------------------------------------------------------------- custom resource schemas

def widget(**spec) -> dict:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1, **spec}}


@pytest.mark.parametrize(("obj", "expected"), [
    pytest.param(widget(), set(), id="valid"),
    pytest.param(widget(size="3"), {("spec.size", "FieldValueTypeInvalid",
                                     'Invalid value: "string": spec.size in body must be of type integer: "string"')},
                 id="type"),
    pytest.param({**widget(), "spec": {}}, {("spec.size", "FieldValueRequired", "Required value")}, id="required"),
    pytest.param(widget(size=0), {("spec.size", "FieldValueInvalid",
                                   "Invalid value: 0: spec.size in body should be greater than or equal to 1")},
                 id="minimum"),
    pytest.param(widget(size=11), {("spec.size", "FieldValueInvalid",
                                    "Invalid value: 11: spec.size in body should be less than or equal to 10")},
                 id="maximum"),
    pytest.param(widget(mode="slow"), {("spec.mode", "FieldValueNotSupported",
                                        'Unsupported value: "slow": supported values: "fast", "safe"')}, id="enum"),
    pytest.param(widget(name="a"), {("spec.name", "FieldValueInvalid",
                                     'Invalid value: "a": spec.name in body should be at least 2 chars long')},
                 id="min-length"),
    pytest.param(widget(name="abcdef"), {("spec.name", "FieldValueTooLong", "Too long: may not be longer than 5")},
                 id="max-length"),
    pytest.param(widget(name="AB"), {("spec.name", "FieldValueInvalid",
                                      "Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'")},
                 id="pattern"),
    pytest.param(widget(tags=[]), {("spec.tags", "FieldValueInvalid",
                                    "Invalid value: 0: spec.tags in body should have at least 1 items")},
                 id="min-items"),
    pytest.param(widget(tags=["a", "b", "c"]), {("spec.tags", "FieldValueTooMany",
                                                 "Too many: 3: must have at most 2 items")}, id="max-items"),
    pytest.param(widget(tags=[1]), {("spec.tags[0]", "FieldValueTypeInvalid",
                                     'Invalid value: "integer": spec.tags[0] in body must be of type string: '
                                     '"integer"')}, id="item-type"),
    pytest.param(widget(port="http"), set(), id="int-or-string-string"),
    pytest.param(widget(port=8080), set(), id="int-or-string-int"),
    pytest.param(widget(port=True), {("spec.port", "FieldValueTypeInvalid",
                                      'Invalid value: "boolean": spec.port in body must be of type integer,string: '
                                      '"boolean"')}, id="int-or-string-bool"),
    pytest.param(widget(note=None), set(), id="nullable"),
    pytest.param(widget(mode=None), {("spec.mode", "FieldValueTypeInvalid",
                                      'Invalid value: "null": spec.mode in body must be of type string: "null"')},
                 id="not-nullable"),
    pytest.param(widget(when="yesterday"), {("spec.when", "FieldValueTypeInvalid",
                                             'Invalid value: "yesterday": spec.when in body must be of type '
                                             'date-time: "yesterday"')}, id="format"),
    pytest.param(widget(labels={"a": 1}), {("spec.labels.a", "FieldValueTypeInvalid",
                                            'Invalid value: "integer": spec.labels.a in body must be of type string: '
                                            '"integer"')}, id="additional-properties"),
    pytest.param({**widget(), "metadata": {"name": 5}}, set(), id="metadata-not-schema-checked"),
])
def test_validate_custom(obj, expected):
    assert found(validate_custom(obj, CR_NODE)) == expected


def test_type_errors_report_only_types():
    obj = widget(size="x", mode="slow", name="a")
    assert fields(type_errors(obj, CR_NODE)) == [("spec.size", "FieldValueTypeInvalid")]


def test_validate_custom_resource_info_checks_meta_schema_and_scale():
    custom = ResourceInfo("example.com", "v1", "Widget", "widgets", custom=True, schema=CR_SCHEMA,
                          scale_paths={"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"})
    obj = widget(size=-1)
    obj["metadata"]["name"] = "Bad"
    obj["metadata"]["namespace"] = "default"
    assert fields(validate(custom, obj)) == [("metadata.name", "FieldValueInvalid"),
                                             ("spec.size", "FieldValueInvalid"), ("spec.size", "FieldValueInvalid")]


# ---------------------------------------------------------------- helpers

@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("100m", "0.100", id="milli"),
    pytest.param("1Gi", str(2**30), id="binary"),
    pytest.param("1e3", "1000", id="exponent"),
    pytest.param(2, "2", id="number"),
    pytest.param("1.5k", "1500", id="decimal-suffix"),
    pytest.param("abc", None, id="bad"),
    pytest.param("1Zi", None, id="bad-suffix"),
])
def test_parse_quantity(value, expected):
    result = parse_quantity(value)
    assert result == (None if expected is None else Decimal(expected))


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("x", '"x"', id="string-quoted"),
    pytest.param(3, "3", id="int"),
    pytest.param(1.0, "1", id="integral-float"),
    pytest.param(None, "null", id="null"),
    pytest.param(True, "true", id="bool"),
])
def test_go_value(value, expected):
    assert go_value(value) == expected


def test_validate_reports_wrong_types_instead_of_crashing():
    causes = validate(info("apps", "Deployment"), {"metadata": {"name": 5, "namespace": "default"}, "spec": {}})
    assert [(c.field, c.reason) for c in causes] == [("", "FieldValueTypeInvalid")]
    assert "cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string" in causes[0].message


def test_label_validation_flavours_share_one_implementation():
    from podplane.api.validation import (
        is_qualified_name,
        is_valid_label_value,
        label_key_errors,
        label_value_errors,
    )
    # object validation (IsQualifiedName / IsValidLabelValue): characters, ^...$ anchors
    assert is_qualified_name("k" * 64) == ["name part must be no more than 63 characters"]
    assert is_valid_label_value("v" * 64) == ["must be no more than 63 characters"]
    assert is_valid_label_value("abc\n") == []
    assert is_qualified_name("a/b/c")[0].startswith("a qualified name ")
    # selector parsing (content.IsLabelKey / IsLabelValue): bytes, whole-string match
    assert label_key_errors("k" * 64) == ["name part must be no more than 63 bytes"]
    assert label_value_errors("v" * 64) == ["must be no more than 63 bytes"]
    assert label_value_errors("abc\n") != []
    assert label_key_errors("a/b/c")[0].startswith("a valid label key ")
    for check in (is_qualified_name, label_key_errors):
        assert check("example.com/my-key") == []
        assert check("/a") == ["prefix part must be non-empty"]
    for check in (is_valid_label_value, label_value_errors):
        assert check("") == []
        assert check("my_value.1") == []
