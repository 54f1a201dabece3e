"""Server-side defaulting: the fields upstream fills in, per kind, and idempotence."""

from __future__ import annotations

import copy

import pytest

from podplane.api.defaults import (
    apply_defaults,
    default_pod_template,
    default_tolerations,
    image_pull_policy,
    job_prepare_for_create,
    namespace_prepare_for_create,
    pod_prepare_for_create,
    pod_qos_class,
)
from podplane.api.registry import ResourceInfo, default_registry

REG = default_registry()


def info(group: str, kind: str) -> ResourceInfo:
    found = REG.by_group_kind(group, kind)
    assert found is not None, kind
    return found


def get(obj, path: str):
    cur = obj
    for part in path.split("."):
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur


def container(**extra):
    return {"name": "c", "image": "nginx", **extra}


def template(**spec):
    return {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [container()], **spec}}


MINIMAL = {
    "Pod": ("", {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [container()]}}),
    "Deployment": ("apps", {"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "x"}},
                                                                "template": template()}}),
    "StatefulSet": ("apps", {"metadata": {"name": "s"}, "spec": {
        "selector": {"matchLabels": {"app": "x"}}, "serviceName": "s", "template": template(),
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}),
    "DaemonSet": ("apps", {"metadata": {"name": "ds"}, "spec": {"selector": {"matchLabels": {"app": "x"}},
                                                                "template": template()}}),
    "ReplicaSet": ("apps", {"metadata": {"name": "rs"}, "spec": {"selector": {"matchLabels": {"app": "x"}},
                                                                 "template": template()}}),
    "Job": ("batch", {"metadata": {"name": "j"}, "spec": {"template": {"spec": {
        "containers": [container()], "restartPolicy": "Never"}}}}),
    "CronJob": ("batch", {"metadata": {"name": "cj"}, "spec": {"schedule": "* * * * *", "jobTemplate": {
        "spec": {"template": {"spec": {"containers": [container()], "restartPolicy": "OnFailure"}}}}}}),
    "Service": ("", {"metadata": {"name": "svc"}, "spec": {"selector": {"app": "x"},
                                                           "ports": [{"port": 80}]}}),
    "ReplicationController": ("", {"metadata": {"name": "rc"}, "spec": {"template": template()}}),
}


@pytest.mark.parametrize("kind, expected", [
    pytest.param("Deployment", {
        "spec.replicas": 1,
        "spec.strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%",
                                                                     "maxSurge": "25%"}},
        "spec.revisionHistoryLimit": 10,
        "spec.progressDeadlineSeconds": 600,
        "spec.template.spec.restartPolicy": "Always",
        "spec.template.spec.dnsPolicy": "ClusterFirst",
        "spec.template.spec.schedulerName": "default-scheduler",
        "spec.template.spec.securityContext": {},
        "spec.template.spec.terminationGracePeriodSeconds": 30,
        "spec.template.spec.containers.0.imagePullPolicy": "Always",
        "spec.template.spec.containers.0.terminationMessagePath": "/dev/termination-log",
        "spec.template.spec.containers.0.terminationMessagePolicy": "File",
        "spec.template.spec.containers.0.resources": {},
    }, id="deployment"),
    pytest.param("StatefulSet", {
        "spec.replicas": 1,
        "spec.podManagementPolicy": "OrderedReady",
        "spec.updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "spec.revisionHistoryLimit": 10,
        "spec.persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "spec.volumeClaimTemplates.0.apiVersion": "v1",
        "spec.volumeClaimTemplates.0.kind": "PersistentVolumeClaim",
        "spec.volumeClaimTemplates.0.spec.volumeMode": "Filesystem",
        "spec.volumeClaimTemplates.0.status": {"phase": "Pending"},
        "spec.template.spec.restartPolicy": "Always",
    }, id="statefulset"),
    pytest.param("DaemonSet", {
        "spec.updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        "spec.revisionHistoryLimit": 10,
        "spec.template.spec.dnsPolicy": "ClusterFirst",
    }, id="daemonset"),
    pytest.param("ReplicaSet", {"spec.replicas": 1, "spec.template.spec.restartPolicy": "Always"},
                 id="replicaset"),
    pytest.param("Job", {
        "spec.completions": 1,
        "spec.parallelism": 1,
        "spec.backoffLimit": 6,
        "spec.completionMode": "NonIndexed",
        "spec.suspend": False,
        "spec.podReplacementPolicy": "TerminatingOrFailed",
        "spec.template.spec.restartPolicy": "Never",
        "spec.template.spec.dnsPolicy": "ClusterFirst",
    }, id="job"),
    pytest.param("CronJob", {
        "spec.concurrencyPolicy": "Allow",
        "spec.suspend": False,
        "spec.successfulJobsHistoryLimit": 3,
        "spec.failedJobsHistoryLimit": 1,
        "spec.jobTemplate.spec.template.spec.restartPolicy": "OnFailure",
        "spec.jobTemplate.spec.template.spec.schedulerName": "default-scheduler",
    }, id="cronjob"),
    pytest.param("Service", {
        "spec.type": "ClusterIP",
        "spec.sessionAffinity": "None",
        "spec.ports.0.protocol": "TCP",
        "spec.ports.0.targetPort": 80,
        "spec.internalTrafficPolicy": "Cluster",
        "spec.ipFamilyPolicy": "SingleStack",
        "spec.ipFamilies": ["IPv4"],
        "status": {"loadBalancer": {}},
    }, id="service"),
    pytest.param("ReplicationController", {
        "spec.replicas": 1,
        "spec.selector": {"app": "x"},
        "metadata.labels": {"app": "x"},
        "spec.template.spec.restartPolicy": "Always",
    }, id="replicationcontroller"),
    pytest.param("Pod", {
        "spec.restartPolicy": "Always",
        "spec.dnsPolicy": "ClusterFirst",
        "spec.schedulerName": "default-scheduler",
        "spec.securityContext": {},
        "spec.terminationGracePeriodSeconds": 30,
        "spec.enableServiceLinks": True,
        "spec.priority": 0,
        "spec.preemptionPolicy": "PreemptLowerPriority",
        "spec.containers.0.imagePullPolicy": "Always",
        "spec.containers.0.terminationMessagePath": "/dev/termination-log",
        "spec.containers.0.terminationMessagePolicy": "File",
        "spec.containers.0.resources": {},
    }, id="pod"),
])
def test_minimal_objects(kind, expected):
    group, obj = MINIMAL[kind]
    original = copy.deepcopy(obj)
    out = apply_defaults(info(group, kind), obj)
    assert obj == original, "input must not be mutated"
    for path, value in expected.items():
        assert get(out, path) == value, path


@pytest.mark.parametrize("kind", [pytest.param(k, id=k) for k in MINIMAL])
def test_idempotent(kind):
    group, obj = MINIMAL[kind]
    once = apply_defaults(info(group, kind), obj)
    assert apply_defaults(info(group, kind), once) == once


def test_pod_create_adds_default_tolerations():
    from podplane.api.defaults import pod_prepare_for_create

    group, obj = MINIMAL["Pod"]
    pod = pod_prepare_for_create(apply_defaults(info(group, "Pod"), obj), toleration_seconds=7)
    assert pod["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 7},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 7}]
    assert pod["status"]["phase"] == "Pending"


def test_templates_do_not_get_pod_only_defaults():
    group, obj = MINIMAL["Deployment"]
    spec = apply_defaults(info(group, "Deployment"), obj)["spec"]["template"]["spec"]
    for key in ("enableServiceLinks", "priority", "preemptionPolicy", "tolerations"):
        assert key not in spec


@pytest.mark.parametrize("obj_spec, path, expected", [
    pytest.param({"replicas": 0}, "spec.replicas", 0, id="zero-replicas-kept"),
    pytest.param({"strategy": {"type": "Recreate"}}, "spec.strategy", {"type": "Recreate"}, id="recreate"),
    pytest.param({"strategy": {"rollingUpdate": {"maxSurge": 0}}}, "spec.strategy.rollingUpdate",
                 {"maxSurge": 0, "maxUnavailable": "25%"}, id="partial-rolling-update"),
    pytest.param({"revisionHistoryLimit": 0}, "spec.revisionHistoryLimit", 0, id="zero-history-kept"),
])
def test_deployment_explicit_values_kept(obj_spec, path, expected):
    obj = {"metadata": {"name": "d"}, "spec": {"template": template(), **obj_spec}}
    assert get(apply_defaults(info("apps", "Deployment"), obj), path) == expected


@pytest.mark.parametrize("strategy, expected", [
    pytest.param({"type": "OnDelete"}, {"type": "OnDelete"}, id="on-delete"),
    pytest.param({"type": "RollingUpdate"}, {"type": "RollingUpdate"}, id="explicit-type-no-partition"),
    pytest.param({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}},
                 {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2, "partition": 0}},
                 id="rolling-update-partition"),
])
def test_statefulset_update_strategy(strategy, expected):
    obj = {"metadata": {"name": "s"}, "spec": {"updateStrategy": strategy, "template": template()}}
    assert apply_defaults(info("apps", "StatefulSet"), obj)["spec"]["updateStrategy"] == expected


@pytest.mark.parametrize("image, policy", [
    pytest.param("nginx", "Always", id="no-tag"),
    pytest.param("nginx:latest", "Always", id="latest"),
    pytest.param("nginx:1.27", "IfNotPresent", id="tag"),
    pytest.param("nginx@sha256:" + "a" * 64, "IfNotPresent", id="digest"),
    pytest.param("nginx:1.27@sha256:" + "a" * 64, "IfNotPresent", id="tag-and-digest"),
    pytest.param("registry.local:5000/team/app", "Always", id="registry-port-no-tag"),
    pytest.param("registry.local:5000/team/app:v2", "IfNotPresent", id="registry-port-tag"),
    pytest.param("localhost/app:latest", "Always", id="localhost-latest"),
    pytest.param("Nginx", "IfNotPresent", id="unparseable-uppercase"),
    pytest.param("", "IfNotPresent", id="empty"),
])
def test_image_pull_policy(image, policy):
    assert image_pull_policy(image) == policy


def test_explicit_pull_policy_kept():
    obj = {"metadata": {"name": "p"}, "spec": {"containers": [container(imagePullPolicy="Never")]}}
    assert apply_defaults(info("", "Pod"), obj)["spec"]["containers"][0]["imagePullPolicy"] == "Never"


def test_container_details():
    c = container(
        ports=[{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
        env=[{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        livenessProbe={"httpGet": {"port": 80}},
        readinessProbe={"tcpSocket": {"port": 80}, "periodSeconds": 5},
        startupProbe={"grpc": {"port": 9000}},
        lifecycle={"preStop": {"httpGet": {"port": 8080, "path": "/stop"}}},
    )
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [c], "initContainers": [container(name="i")]}}
    out = apply_defaults(info("", "Pod"), pod)["spec"]
    got = out["containers"][0]
    assert [p["protocol"] for p in got["ports"]] == ["TCP", "UDP"]
    assert got["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "spec.nodeName", "apiVersion": "v1"}
    assert got["livenessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                    "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert got["readinessProbe"]["periodSeconds"] == 5
    assert got["startupProbe"]["grpc"] == {"port": 9000, "service": ""}
    assert got["lifecycle"]["preStop"]["httpGet"] == {"port": 8080, "path": "/stop", "scheme": "HTTP"}
    assert out["initContainers"][0]["terminationMessagePolicy"] == "File"


@pytest.mark.parametrize("volume, expected", [
    pytest.param({"name": "v"}, {"name": "v", "emptyDir": {}}, id="no-source-is-emptydir"),
    pytest.param({"name": "v", "configMap": {"name": "c"}}, {"name": "v", "configMap": {"name": "c",
                                                                                        "defaultMode": 420}},
                 id="configmap"),
    pytest.param({"name": "v", "secret": {"secretName": "s", "defaultMode": 256}},
                 {"name": "v", "secret": {"secretName": "s", "defaultMode": 256}}, id="secret-explicit-mode"),
    pytest.param({"name": "v", "hostPath": {"path": "/x"}}, {"name": "v", "hostPath": {"path": "/x", "type": ""}},
                 id="hostpath"),
    pytest.param({"name": "v", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                 {"name": "v", "downwardAPI": {"defaultMode": 420, "items": [
                     {"path": "n", "fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}]}},
                 id="downward-api"),
    pytest.param({"name": "v", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
                 {"name": "v", "projected": {"defaultMode": 420, "sources": [
                     {"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}}]}}, id="projected"),
    pytest.param({"name": "v", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
                 {"name": "v", "ephemeral": {"volumeClaimTemplate": {"spec": {
                     "accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"}}}}, id="ephemeral"),
])
def test_volumes(volume, expected):
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [container()], "volumes": [volume]}}
    assert apply_defaults(info("", "Pod"), pod)["spec"]["volumes"][0] == expected


def test_pod_requests_default_to_limits_and_host_ports():
    pod = {"metadata": {"name": "p"}, "spec": {"hostNetwork": True, "containers": [container(
        resources={"limits": {"cpu": "500m"}, "requests": {"memory": "1Gi"}},
        ports=[{"containerPort": 8080}])]}}
    got = apply_defaults(info("", "Pod"), pod)["spec"]["containers"][0]
    assert got["resources"]["requests"] == {"memory": "1Gi", "cpu": "500m"}
    assert got["ports"][0]["hostPort"] == 8080


@pytest.mark.parametrize("spec, priority", [
    pytest.param({}, 0, id="no-class"),
    pytest.param({"priorityClassName": "system-node-critical"}, 2000001000, id="system-node-critical"),
    pytest.param({"priorityClassName": "system-cluster-critical"}, 2000000000, id="system-cluster-critical"),
    pytest.param({"priorityClassName": "custom"}, None, id="custom-left-to-apiserver"),
    pytest.param({"priority": 7}, 7, id="explicit"),
])
def test_pod_priority(spec, priority):
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [container()], **spec}}
    assert apply_defaults(info("", "Pod"), pod)["spec"].get("priority") == priority


@pytest.mark.parametrize("tolerations, added_keys", [
    pytest.param(None, ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"], id="none"),
    pytest.param([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}],
                 ["node.kubernetes.io/unreachable"], id="already-not-ready"),
    pytest.param([{"operator": "Exists"}], [], id="tolerates-everything"),
    pytest.param([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoSchedule"}],
                 ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"], id="other-effect"),
])
def test_default_tolerations(tolerations, added_keys):
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [container()]}}
    if tolerations is not None:
        pod["spec"]["tolerations"] = tolerations
    out = default_tolerations(pod)
    before = len(tolerations or [])
    added = out["spec"]["tolerations"][before:]
    assert [t["key"] for t in added] == added_keys
    assert all(t["tolerationSeconds"] == 300 and t["effect"] == "NoExecute" for t in added)
    assert default_tolerations(out) == out


@pytest.mark.parametrize("service_spec, expected", [
    pytest.param({"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}]},
                 {"externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
                  "ports": [{"port": 80, "targetPort": "http", "protocol": "TCP"}]}, id="nodeport"),
    pytest.param({"type": "LoadBalancer"}, {"externalTrafficPolicy": "Cluster",
                                            "allocateLoadBalancerNodePorts": True}, id="loadbalancer"),
    pytest.param({"clusterIP": "None", "selector": {"a": "b"}},
                 {"clusterIPs": ["None"], "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]},
                 id="headless"),
    pytest.param({"clusterIP": "None"}, {"ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4"]},
                 id="headless-no-selector"),
    pytest.param({"clusterIP": "10.96.0.10"}, {"clusterIPs": ["10.96.0.10"], "ipFamilies": ["IPv4"]},
                 id="cluster-ip"),
    pytest.param({"sessionAffinity": "ClientIP"},
                 {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}}, id="client-ip-affinity"),
    pytest.param({"type": "ExternalName", "externalName": "example.com"},
                 {"type": "ExternalName", "sessionAffinity": "None"}, id="external-name"),
])
def test_service_variants(service_spec, expected):
    out = apply_defaults(info("", "Service"), {"metadata": {"name": "s"}, "spec": service_spec})
    for key, value in expected.items():
        assert out["spec"][key] == value, key
    if service_spec.get("type") == "ExternalName":
        assert "ipFamilies" not in out["spec"] and "internalTrafficPolicy" not in out["spec"]


@pytest.mark.parametrize("kind, group, obj, path, expected", [
    pytest.param("Secret", "", {"metadata": {"name": "s"}}, "type", "Opaque", id="secret"),
    pytest.param("Secret", "", {"metadata": {"name": "s"}, "type": "kubernetes.io/tls"}, "type",
                 "kubernetes.io/tls", id="secret-explicit"),
    pytest.param("Namespace", "", {"metadata": {"name": "team"}}, "metadata.labels",
                 {"kubernetes.io/metadata.name": "team"}, id="namespace-label"),
    pytest.param("Namespace", "", {"metadata": {"name": "team"}}, "status.phase", "Active",
                 id="namespace-phase"),
    pytest.param("PersistentVolumeClaim", "", {"metadata": {"name": "c"}, "spec": {}}, "spec.volumeMode",
                 "Filesystem", id="pvc"),
    pytest.param("PersistentVolume", "", {"metadata": {"name": "v"}, "spec": {"hostPath": {"path": "/d"}}},
                 "spec", {"hostPath": {"path": "/d", "type": ""}, "persistentVolumeReclaimPolicy": "Retain",
                          "volumeMode": "Filesystem"}, id="pv"),
    pytest.param("StorageClass", "storage.k8s.io", {"metadata": {"name": "sc"}, "provisioner": "x"},
                 "reclaimPolicy", "Delete", id="storageclass-reclaim"),
    pytest.param("StorageClass", "storage.k8s.io", {"metadata": {"name": "sc"}, "provisioner": "x"},
                 "volumeBindingMode", "Immediate", id="storageclass-binding"),
    pytest.param("Node", "", {"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "4"}}},
                 "status.allocatable", {"cpu": "4"}, id="node-allocatable"),
    pytest.param("EndpointSlice", "discovery.k8s.io", {"metadata": {"name": "e"}, "ports": [{"port": 80}]},
                 "ports", [{"port": 80, "name": "", "protocol": "TCP"}], id="endpointslice"),
    pytest.param("Endpoints", "", {"metadata": {"name": "e"}, "subsets": [{"ports": [{"port": 80}]}]},
                 "subsets.0.ports.0.protocol", "TCP", id="endpoints"),
    pytest.param("RoleBinding", "rbac.authorization.k8s.io",
                 {"metadata": {"name": "rb"}, "roleRef": {"kind": "Role", "name": "r"},
                  "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "sa"}]},
                 "subjects", [{"kind": "User", "name": "u", "apiGroup": "rbac.authorization.k8s.io"},
                              {"kind": "ServiceAccount", "name": "sa"}], id="rolebinding-subjects"),
    pytest.param("ClusterRoleBinding", "rbac.authorization.k8s.io",
                 {"metadata": {"name": "crb"}, "roleRef": {"kind": "ClusterRole", "name": "r"}},
                 "roleRef.apiGroup", "rbac.authorization.k8s.io", id="clusterrolebinding-roleref"),
    pytest.param("HorizontalPodAutoscaler", "autoscaling", {"metadata": {"name": "h"}, "spec": {"maxReplicas": 3}},
                 "spec.metrics", [{"type": "Resource", "resource": {"name": "cpu", "target": {
                     "type": "Utilization", "averageUtilization": 80}}}], id="hpa-metrics"),
    pytest.param("HorizontalPodAutoscaler", "autoscaling", {"metadata": {"name": "h"}, "spec": {"maxReplicas": 3}},
                 "spec.minReplicas", 1, id="hpa-min-replicas"),
    pytest.param("HorizontalPodAutoscaler", "autoscaling",
                 {"metadata": {"name": "h"}, "spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}},
                 "spec.behavior", {
                     "scaleDown": {"selectPolicy": "Max", "stabilizationWindowSeconds": 60,
                                   "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
                     "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                         {"type": "Pods", "value": 4, "periodSeconds": 15},
                         {"type": "Percent", "value": 100, "periodSeconds": 15}]}}, id="hpa-behavior"),
    pytest.param("PriorityClass", "scheduling.k8s.io", {"metadata": {"name": "pc"}, "value": 5},
                 "preemptionPolicy", "PreemptLowerPriority", id="priorityclass"),
    pytest.param("NetworkPolicy", "networking.k8s.io",
                 {"metadata": {"name": "np"}, "spec": {"egress": [{"ports": [{"port": 53}]}]}},
                 "spec", {"egress": [{"ports": [{"port": 53, "protocol": "TCP"}]}],
                          "policyTypes": ["Ingress", "Egress"]}, id="networkpolicy"),
    pytest.param("CustomResourceDefinition", "apiextensions.k8s.io",
                 {"metadata": {"name": "widgets.example.com"}, "spec": {"names": {"kind": "Widget",
                                                                                  "plural": "widgets"}}},
                 "spec", {"names": {"kind": "Widget", "plural": "widgets", "singular": "widget",
                                    "listKind": "WidgetList"}, "conversion": {"strategy": "None"}}, id="crd"),
    pytest.param("ValidatingWebhookConfiguration", "admissionregistration.k8s.io",
                 {"metadata": {"name": "w"}, "webhooks": [{"name": "a.b.c", "clientConfig": {
                     "service": {"name": "s", "namespace": "n"}}, "rules": [{"operations": ["CREATE"]}]}]},
                 "webhooks.0", {"name": "a.b.c", "clientConfig": {"service": {"name": "s", "namespace": "n",
                                                                              "port": 443}},
                                "rules": [{"operations": ["CREATE"], "scope": "*"}], "failurePolicy": "Fail",
                                "matchPolicy": "Equivalent", "namespaceSelector": {}, "objectSelector": {},
                                "timeoutSeconds": 10}, id="validating-webhook"),
])
def test_other_kinds(kind, group, obj, path, expected):
    out = apply_defaults(info(group, kind), obj)
    assert get(out, path) == expected
    assert apply_defaults(info(group, kind), out) == out


@pytest.mark.parametrize("kind, group", [
    pytest.param("ConfigMap", "", id="configmap"),
    pytest.param("ServiceAccount", "", id="serviceaccount"),
    pytest.param("Lease", "coordination.k8s.io", id="lease"),
    pytest.param("ControllerRevision", "apps", id="controllerrevision"),
    pytest.param("PodDisruptionBudget", "policy", id="pdb"),
    pytest.param("Ingress", "networking.k8s.io", id="ingress"),
])
def test_kinds_without_wire_defaults(kind, group):
    obj = {"metadata": {"name": "x"}, "spec": {"foo": "bar"}}
    assert apply_defaults(info(group, kind), obj) == obj


def test_custom_resources_are_copied_untouched():
    widgets = ResourceInfo("example.com", "v1", "Widget", "widgets", custom=True)
    obj = {"metadata": {"name": "w"}, "spec": {"template": {"spec": {"containers": []}}}}
    out = apply_defaults(widgets, obj)
    assert out == obj and out is not obj


@pytest.mark.parametrize("job_spec, expected", [
    pytest.param({"parallelism": 3}, {"parallelism": 3}, id="parallelism-only-leaves-completions"),
    pytest.param({"completions": 5}, {"completions": 5, "parallelism": 1}, id="completions-only"),
    pytest.param({"backoffLimitPerIndex": 1, "completionMode": "Indexed", "completions": 2},
                 {"backoffLimit": 2147483647}, id="backoff-per-index"),
    pytest.param({"podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [
        {"type": "DisruptionTarget"}]}]}},
        {"podReplacementPolicy": "Failed", "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [
            {"type": "DisruptionTarget", "status": "True"}]}]}}, id="pod-failure-policy"),
])
def test_job_variants(job_spec, expected):
    job = {"metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [container()]}}, **job_spec}}
    out = apply_defaults(info("batch", "Job"), job)["spec"]
    for key, value in expected.items():
        assert out[key] == value, key
    if "completions" not in job_spec and "parallelism" in job_spec:
        assert "completions" not in out


def test_job_prepare_for_create():
    group, job = MINIMAL["Job"]
    defaulted = apply_defaults(info(group, "Job"), job)
    out = job_prepare_for_create(defaulted, "uid-1")
    assert out["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "uid-1"}}
    assert out["spec"]["template"]["metadata"]["labels"] == {
        "job-name": "j", "batch.kubernetes.io/job-name": "j",
        "controller-uid": "uid-1", "batch.kubernetes.io/controller-uid": "uid-1"}
    assert out["metadata"]["labels"] == out["spec"]["template"]["metadata"]["labels"]
    assert out["status"] == {}
    assert "selector" not in defaulted["spec"], "input must not be mutated"


def test_job_prepare_for_create_manual_selector():
    job = {"metadata": {"name": "j", "uid": "u"}, "spec": {"manualSelector": True, "selector": {
        "matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {}}}}
    out = job_prepare_for_create(job)
    assert out["spec"]["selector"] == {"matchLabels": {"a": "b"}}
    assert out["spec"]["template"]["metadata"]["labels"] == {"a": "b"}


def test_job_prepare_keeps_user_template_labels_on_job():
    job = {"metadata": {"name": "j", "uid": "u"}, "spec": {"template": {"metadata": {"labels": {"app": "x"}},
                                                                        "spec": {}}}}
    out = job_prepare_for_create(apply_defaults(info("batch", "Job"), job))
    assert out["metadata"]["labels"] == {"app": "x"}
    assert out["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] == "u"


def test_namespace_prepare_for_create():
    out = namespace_prepare_for_create({"metadata": {"name": "n"}})
    assert out["spec"]["finalizers"] == ["kubernetes"]
    assert out["status"] == {"phase": "Active"}
    again = namespace_prepare_for_create({"metadata": {"name": "n"}, "spec": {"finalizers": ["x", "kubernetes"]}})
    assert again["spec"]["finalizers"] == ["x", "kubernetes"]
    # Ordinary defaulting never re-adds the finalizer the namespace controller removed.
    finalized = apply_defaults(info("", "Namespace"), {"metadata": {"name": "n"}, "spec": {"finalizers": []}})
    assert finalized["spec"]["finalizers"] == []


@pytest.mark.parametrize("resources, qos", [
    pytest.param([{}], "BestEffort", id="best-effort"),
    pytest.param([{"requests": {"cpu": "100m"}}], "Burstable", id="burstable"),
    pytest.param([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}}],
                 "Guaranteed", id="guaranteed-equal-quantities"),
    pytest.param([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}],
                 "Burstable", id="requests-below-limits"),
    pytest.param([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}, {}],
                 "Burstable", id="second-container-unbounded"),
    pytest.param([{"requests": {"nvidia.com/gpu": "1"}}], "BestEffort", id="extended-resources-ignored"),
])
def test_pod_qos_class(resources, qos):
    pod = {"spec": {"containers": [container(name=f"c{i}", resources=r) for i, r in enumerate(resources)]}}
    assert pod_qos_class(pod) == qos


def test_pod_prepare_for_create_uses_defaulted_requests():
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [container(
        resources={"limits": {"cpu": "1", "memory": "128Mi"}})]}, "status": {"phase": "Running"}}
    out = pod_prepare_for_create(apply_defaults(info("", "Pod"), pod))
    assert out["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}


def test_default_pod_template():
    out = default_pod_template({"metadata": {}, "spec": {"containers": [container(image="busybox:1.36")]}})
    assert out["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert out["spec"]["restartPolicy"] == "Always"
