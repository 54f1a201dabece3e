"""Server-side defaulting of built-in kinds, ported from upstream's SetDefaults_* funcs.

`apply_defaults(info, obj)` returns a defaulted copy of a plain-dict object: the
fields the real apiserver fills in when it decodes a request or reads from etcd
(pkg/apis/<group>/<version>/defaults.go plus the declarative `+default` markers of
k8s.io/api), including every embedded pod template. kubectl's describe, rollout
and debug read several of these (see the kubectl requirements, §10). Defaulting
is idempotent and safe to run on every create and update.

A few values upstream sets elsewhere are exposed here too, because they land in
the same objects: admission's pod priority and not-ready/unreachable tolerations
(`apply_defaults` on Pods, or `default_tolerations`), the service registry's IP
family fields, and the create-only strategy steps `pod_prepare_for_create`,
`namespace_prepare_for_create` and `job_prepare_for_create` (generated selector
and controller-uid/job-name labels). Create-only steps must not run on update.

Neighbours: called by the apiserver's create/update/patch path before validation;
`api.meta` provides the copy; custom resources are defaulted from their schema
elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from podplane.api.meta import deepcopy_json
from podplane.api.registry import ResourceInfo

__all__ = [
    "apply_defaults",
    "default_pod_template",
    "default_tolerations",
    "image_pull_policy",
    "job_prepare_for_create",
    "namespace_prepare_for_create",
    "pod_prepare_for_create",
    "pod_qos_class",
]

Obj = dict[str, Any]

TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_TERMINATION_GRACE_PERIOD = 30
VOLUME_DEFAULT_MODE = 0o644  # 420
DEFAULT_TOLERATION_SECONDS = 300
SYSTEM_PRIORITY_CLASSES = {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}
MAX_INT32 = 2**31 - 1


# ------------------------------------------------------------------------ helpers


def _obj(parent: Obj, key: str) -> Obj:
    """parent[key] as a dict, created (or replaced when null) if missing."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = {}
        parent[key] = value
    return value


def _dicts(value: Any) -> list[Obj]:
    """The dict elements of a list-valued field (tolerates null/missing)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _ptr(d: Obj, key: str, value: Any) -> None:
    """Default a pointer field: set when missing or null (0 / "" / false are kept)."""
    if d.get(key) is None:
        d[key] = value


def _str(d: Obj, key: str, value: str) -> None:
    """Default a plain string field: set when missing, null or ""."""
    if not d.get(key):
        d[key] = value


def _int(d: Obj, key: str, value: int) -> None:
    """Default a plain integer field: set when missing, null or 0."""
    if not d.get(key):
        d[key] = value


# ---------------------------------------------------------------- image references

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEPARATOR + _ALNUM + r")*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = (r"(?:" + _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*|\[[a-fA-F0-9:]+\])"
           r"(?::[0-9]+)?")
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE_RE = re.compile(
    r"(?P<name>(?:" + _DOMAIN + r"/)?" + _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*)"
    r"(?::(?P<tag>" + _TAG + r"))?(?:@(?P<digest>" + _DIGEST + r"))?")
_HEX64_RE = re.compile(r"[a-f0-9]{64}")


def _image_tag(image: str) -> str:
    """parsers.ParseImageName's tag: "latest" when neither tag nor digest is given, ""
    when only a digest is, and "" when the reference does not parse."""
    if not isinstance(image, str) or not image or _HEX64_RE.fullmatch(image):
        return ""
    m = _REFERENCE_RE.fullmatch(image)
    if m is None or len(m.group("name")) > 255:
        return ""
    # The normalized name (docker.io/library/...) must be lowercase past the domain.
    name = m.group("name")
    first, _, rest = name.partition("/")
    is_domain = bool(rest) and (any(c in first for c in ".:") or first == "localhost" or first != first.lower())
    remote = rest if is_domain else name
    if remote != remote.lower():
        return ""
    tag, digest = m.group("tag"), m.group("digest")
    if not tag and not digest:
        return "latest"
    return tag or ""


def image_pull_policy(image: str) -> str:
    """Default imagePullPolicy for an image: Always for `:latest` or no tag, else IfNotPresent."""
    return "Always" if _image_tag(image) == "latest" else "IfNotPresent"


# ---------------------------------------------------------------------- pod specs


def _default_http_get(h: Obj) -> None:
    _str(h, "path", "/")
    _str(h, "scheme", "HTTP")


def _default_probe(p: Obj) -> None:
    _int(p, "timeoutSeconds", 1)
    _int(p, "periodSeconds", 10)
    _int(p, "successThreshold", 1)
    _int(p, "failureThreshold", 3)
    if isinstance(p.get("httpGet"), dict):
        _default_http_get(p["httpGet"])
    if isinstance(p.get("grpc"), dict):
        _ptr(p["grpc"], "service", "")


def _default_field_ref(holder: Obj) -> None:
    if isinstance(holder.get("fieldRef"), dict):
        _str(holder["fieldRef"], "apiVersion", "v1")


def _default_container(c: Obj) -> None:
    """SetDefaults_Container plus the generated per-field defaults of a container."""
    _str(c, "imagePullPolicy", image_pull_policy(c.get("image", "")))
    _str(c, "terminationMessagePath", TERMINATION_MESSAGE_PATH)
    _str(c, "terminationMessagePolicy", "File")
    for port in _dicts(c.get("ports")):
        _str(port, "protocol", "TCP")
    for env in _dicts(c.get("env")):
        if isinstance(env.get("valueFrom"), dict):
            _default_field_ref(env["valueFrom"])
    # ResourceRequirements is a struct, so it always serializes (`resources: {}`).
    _obj(c, "resources")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(c.get(probe), dict):
            _default_probe(c[probe])
    lifecycle = c.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            handler = lifecycle.get(hook)
            if isinstance(handler, dict) and isinstance(handler.get("httpGet"), dict):
                _default_http_get(handler["httpGet"])


def _default_pvc_spec(spec: Obj) -> None:
    _ptr(spec, "volumeMode", "Filesystem")


def _default_volume(v: Obj) -> None:
    """SetDefaults_Volume and the per-source defaulters."""
    if not any(val is not None for key, val in v.items() if key != "name"):
        v["emptyDir"] = {}
    if isinstance(v.get("image"), dict):
        image = v["image"]
        _str(image, "pullPolicy", image_pull_policy(image.get("reference", "")))
    if isinstance(v.get("hostPath"), dict):
        _ptr(v["hostPath"], "type", "")
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        if isinstance(v.get(source), dict):
            _ptr(v[source], "defaultMode", VOLUME_DEFAULT_MODE)
    if isinstance(v.get("downwardAPI"), dict):
        for item in _dicts(v["downwardAPI"].get("items")):
            _default_field_ref(item)
    if isinstance(v.get("projected"), dict):
        for src in _dicts(v["projected"].get("sources")):
            if isinstance(src.get("downwardAPI"), dict):
                for item in _dicts(src["downwardAPI"].get("items")):
                    _default_field_ref(item)
            if isinstance(src.get("serviceAccountToken"), dict):
                _ptr(src["serviceAccountToken"], "expirationSeconds", 3600)
    _default_legacy_volume_sources(v)
    ephemeral = v.get("ephemeral")
    if isinstance(ephemeral, dict) and isinstance(ephemeral.get("volumeClaimTemplate"), dict):
        _default_pvc_spec(_obj(ephemeral["volumeClaimTemplate"], "spec"))


def _default_legacy_volume_sources(source: Obj) -> None:
    """In-tree plugin sources shared by volumes and PersistentVolumes."""
    if isinstance(source.get("iscsi"), dict):
        _str(source["iscsi"], "iscsiInterface", "default")
    if isinstance(source.get("rbd"), dict):
        rbd = source["rbd"]
        _str(rbd, "pool", "rbd")
        _str(rbd, "user", "admin")
        _str(rbd, "keyring", "/etc/ceph/keyring")
    if isinstance(source.get("azureDisk"), dict):
        disk = source["azureDisk"]
        _ptr(disk, "cachingMode", "ReadWrite")
        _ptr(disk, "fsType", "ext4")
        _ptr(disk, "readOnly", False)
        _ptr(disk, "kind", "Shared")
    if isinstance(source.get("scaleIO"), dict):
        _str(source["scaleIO"], "storageMode", "ThinProvisioned")
        _str(source["scaleIO"], "fsType", "xfs")


def _default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec plus volumes and containers: what every pod template gets."""
    _str(spec, "dnsPolicy", "ClusterFirst")
    _str(spec, "restartPolicy", "Always")
    _ptr(spec, "securityContext", {})
    _ptr(spec, "terminationGracePeriodSeconds", DEFAULT_TERMINATION_GRACE_PERIOD)
    _str(spec, "schedulerName", DEFAULT_SCHEDULER)
    for volume in _dicts(spec.get("volumes")):
        _default_volume(volume)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in _dicts(spec.get(key)):
            _default_container(container)


def _default_template(template: Any) -> None:
    if isinstance(template, dict):
        _default_pod_spec(_obj(template, "spec"))


def default_pod_template(template: Obj) -> Obj:
    """A defaulted copy of a PodTemplateSpec (`{metadata, spec}`), as workloads embed it."""
    out = deepcopy_json(template)
    _default_template(out)
    return out


def _add_default_tolerations(spec: Obj, seconds: int = DEFAULT_TOLERATION_SECONDS) -> None:
    """DefaultTolerationSeconds admission: tolerate not-ready/unreachable NoExecute for 300s."""
    tolerations = spec.get("tolerations")
    if not isinstance(tolerations, list):
        tolerations = []
    not_ready = unreachable = False
    for t in _dicts(tolerations):
        key, effect = t.get("key") or "", t.get("effect") or ""
        if effect in ("NoExecute", ""):
            if key in ("node.kubernetes.io/not-ready", ""):
                not_ready = True
            if key in ("node.kubernetes.io/unreachable", ""):
                unreachable = True
    added = []
    if not not_ready:
        added.append({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                      "tolerationSeconds": seconds})
    if not unreachable:
        added.append({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                      "tolerationSeconds": seconds})
    if added:
        spec["tolerations"] = tolerations + added


def default_tolerations(pod: Obj, seconds: int = DEFAULT_TOLERATION_SECONDS) -> Obj:
    """A copy of `pod` with the DefaultTolerationSeconds admission tolerations added."""
    out = deepcopy_json(pod)
    _add_default_tolerations(_obj(out, "spec"), seconds)
    return out


def _default_pod(pod: Obj) -> None:
    spec = _obj(pod, "spec")
    # SetDefaults_Pod: requests default to limits, per container.
    for key in ("containers", "initContainers"):
        for c in _dicts(spec.get(key)):
            resources = c.get("resources")
            if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
                requests = _obj(resources, "requests")
                for name, value in resources["limits"].items():
                    requests.setdefault(name, value)
    _ptr(spec, "enableServiceLinks", True)
    if spec.get("hostNetwork") is True:
        for key in ("containers", "initContainers"):
            for c in _dicts(spec.get(key)):
                for port in _dicts(c.get("ports")):
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort", 0)
    _default_pod_spec(spec)
    # Priority admission: no PriorityClass (or a built-in system one) → its value.
    class_name = spec.get("priorityClassName") or ""
    if spec.get("priority") is None and (not class_name or class_name in SYSTEM_PRIORITY_CLASSES):
        spec["priority"] = SYSTEM_PRIORITY_CLASSES.get(class_name, 0)
        _ptr(spec, "preemptionPolicy", "PreemptLowerPriority")


# ------------------------------------------------------------------ quantities / QoS

_QUANTITY_RE = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?")
_SUFFIX = {
    "": Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
    "Pi": Decimal(2**50), "Ei": Decimal(2**60),
}


def _quantity(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    m = _QUANTITY_RE.fullmatch(value.strip())
    if m is None:
        return None
    try:
        number = Decimal(m.group(1))
    except InvalidOperation:
        return None
    suffix = m.group(2) or ""
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * _SUFFIX[suffix]


def pod_qos_class(pod: Obj) -> str:
    """qos.ComputePodQOS over containers and init containers: Guaranteed, Burstable or BestEffort."""
    spec = pod.get("spec") or {}
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for c in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers")):
        resources = c.get("resources") if isinstance(c.get("resources"), dict) else {}
        for name, raw in (resources.get("requests") or {}).items():
            q = _quantity(raw)
            if name in ("cpu", "memory") and q is not None and q > 0:
                requests[name] = requests.get(name, Decimal(0)) + q
        found = set()
        for name, raw in (resources.get("limits") or {}).items():
            q = _quantity(raw)
            if name in ("cpu", "memory") and q is not None and q > 0:
                found.add(name)
                limits[name] = limits.get(name, Decimal(0)) + q
        if not {"cpu", "memory"} <= found:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed:
        for name, req in requests.items():
            if limits.get(name) != req:
                guaranteed = False
                break
    if guaranteed and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


# ------------------------------------------------------------------ kind defaulters


def _spec(obj: Obj) -> Obj:
    return _obj(obj, "spec")


def _d_deployment(obj: Obj) -> None:
    spec = _spec(obj)
    _ptr(spec, "replicas", 1)
    strategy = _obj(spec, "strategy")
    _str(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _obj(strategy, "rollingUpdate")
        _ptr(rolling, "maxUnavailable", "25%")
        _ptr(rolling, "maxSurge", "25%")
    _ptr(spec, "revisionHistoryLimit", 10)
    _ptr(spec, "progressDeadlineSeconds", 600)
    _default_template(spec.get("template"))


def _d_replicaset(obj: Obj) -> None:
    spec = _spec(obj)
    _ptr(spec, "replicas", 1)
    _default_template(spec.get("template"))


def _d_statefulset(obj: Obj) -> None:
    spec = _spec(obj)
    _str(spec, "podManagementPolicy", "OrderedReady")
    strategy = _obj(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        _ptr(strategy, "rollingUpdate", {})
    if strategy["type"] == "RollingUpdate" and isinstance(strategy.get("rollingUpdate"), dict):
        _ptr(strategy["rollingUpdate"], "partition", 0)
    retention = _obj(spec, "persistentVolumeClaimRetentionPolicy")
    _str(retention, "whenDeleted", "Retain")
    _str(retention, "whenScaled", "Retain")
    _ptr(spec, "replicas", 1)
    _ptr(spec, "revisionHistoryLimit", 10)
    _default_template(spec.get("template"))
    for claim in _dicts(spec.get("volumeClaimTemplates")):
        _str(claim, "apiVersion", "v1")
        _str(claim, "kind", "PersistentVolumeClaim")
        _default_pvc(claim)


def _d_daemonset(obj: Obj) -> None:
    spec = _spec(obj)
    strategy = _obj(spec, "updateStrategy")
    _str(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _obj(strategy, "rollingUpdate")
        _ptr(rolling, "maxUnavailable", 1)
        _ptr(rolling, "maxSurge", 0)
    _ptr(spec, "revisionHistoryLimit", 10)
    _default_template(spec.get("template"))


def _d_controller_revision(obj: Obj) -> None:
    pass


def _d_job(obj: Obj) -> None:
    spec = _spec(obj)
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    _ptr(spec, "parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    template = spec.get("template")
    template_labels = (template.get("metadata") or {}).get("labels") if isinstance(template, dict) else None
    meta = _obj(obj, "metadata")
    if template_labels is not None and not meta.get("labels"):
        meta["labels"] = dict(template_labels)
    _ptr(spec, "completionMode", "NonIndexed")
    _ptr(spec, "suspend", False)
    failure_policy = spec.get("podFailurePolicy")
    if isinstance(failure_policy, dict):
        for rule in _dicts(failure_policy.get("rules")):
            for pattern in _dicts(rule.get("onPodConditions")):
                _str(pattern, "status", "True")
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if failure_policy is not None else "TerminatingOrFailed"
    _default_template(template)


def _d_cronjob(obj: Obj) -> None:
    spec = _spec(obj)
    _str(spec, "concurrencyPolicy", "Allow")
    _ptr(spec, "suspend", False)
    _ptr(spec, "successfulJobsHistoryLimit", 3)
    _ptr(spec, "failedJobsHistoryLimit", 1)
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict) and isinstance(job_template.get("spec"), dict):
        _default_template(job_template["spec"].get("template"))


def _d_pod(obj: Obj) -> None:
    _default_pod(obj)


def _d_pod_template(obj: Obj) -> None:
    _default_template(obj.get("template"))


def _d_replication_controller(obj: Obj) -> None:
    spec = _spec(obj)
    template = spec.get("template")
    labels = (template.get("metadata") or {}).get("labels") if isinstance(template, dict) else None
    if labels is not None:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = _obj(obj, "metadata")
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    _ptr(spec, "replicas", 1)
    _default_template(template)


def _externally_accessible(spec: Obj) -> bool:
    kind = spec.get("type")
    return kind in ("LoadBalancer", "NodePort") or (kind == "ClusterIP" and bool(spec.get("externalIPs")))


def _d_service(obj: Obj) -> None:
    spec = _spec(obj)
    _str(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = _obj(_obj(spec, "sessionAffinityConfig"), "clientIP")
        _ptr(client_ip, "timeoutSeconds", 10800)
    _str(spec, "type", "ClusterIP")
    for port in _dicts(spec.get("ports")):
        _str(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port", 0)
    if _externally_accessible(spec):
        _str(spec, "externalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer", "ClusterIP"):
        _ptr(spec, "internalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        _ptr(spec, "allocateLoadBalancerNodePorts", True)
    status = _obj(obj, "status")
    load_balancer = _obj(status, "loadBalancer")
    if spec["type"] == "LoadBalancer":
        for ingress in _dicts(load_balancer.get("ingress")):
            if ingress.get("ip") and ingress.get("ipMode") is None:
                ingress["ipMode"] = "VIP"
    if spec["type"] != "ExternalName":
        _default_service_ip_families(spec)


def _default_service_ip_families(spec: Obj) -> None:
    """The service registry's create-time IP family fields, for a single-stack IPv4 cluster."""
    cluster_ip = spec.get("clusterIP")
    cluster_ips = spec.get("clusterIPs")
    if cluster_ip and not cluster_ips:
        spec["clusterIPs"] = cluster_ips = [cluster_ip]
    elif cluster_ips and not cluster_ip:
        spec["clusterIP"] = cluster_ip = cluster_ips[0]
    headless = cluster_ip == "None"
    if spec.get("ipFamilyPolicy") is None:
        spec["ipFamilyPolicy"] = "RequireDualStack" if headless and not spec.get("selector") else "SingleStack"
    if not spec.get("ipFamilies"):
        ips = [ip for ip in cluster_ips or [] if isinstance(ip, str) and ip and ip != "None"]
        spec["ipFamilies"] = ["IPv6" if ":" in ip else "IPv4" for ip in ips] or ["IPv4"]


def _d_endpoints(obj: Obj) -> None:
    for subset in _dicts(obj.get("subsets")):
        for port in _dicts(subset.get("ports")):
            _str(port, "protocol", "TCP")


def _d_secret(obj: Obj) -> None:
    _str(obj, "type", "Opaque")


def _d_namespace(obj: Obj) -> None:
    name = (obj.get("metadata") or {}).get("name")
    if name:
        meta = _obj(obj, "metadata")
        _obj(meta, "labels")["kubernetes.io/metadata.name"] = name
    _str(_obj(obj, "status"), "phase", "Active")


def _d_node(obj: Obj) -> None:
    status = obj.get("status")
    if isinstance(status, dict) and status.get("allocatable") is None and status.get("capacity") is not None:
        status["allocatable"] = dict(status["capacity"])


def _d_persistent_volume(obj: Obj) -> None:
    _str(_obj(obj, "status"), "phase", "Pending")
    spec = _spec(obj)
    _str(spec, "persistentVolumeReclaimPolicy", "Retain")
    _ptr(spec, "volumeMode", "Filesystem")
    if isinstance(spec.get("hostPath"), dict):
        _ptr(spec["hostPath"], "type", "")
    _default_legacy_volume_sources(spec)


def _default_pvc(obj: Obj) -> None:
    _str(_obj(obj, "status"), "phase", "Pending")
    _default_pvc_spec(_spec(obj))


def _d_persistent_volume_claim(obj: Obj) -> None:
    _default_pvc(obj)


def _d_limit_range(obj: Obj) -> None:
    for item in _dicts(_spec(obj).get("limits")):
        if item.get("type") != "Container":
            continue
        default = _obj(item, "default")
        default_request = _obj(item, "defaultRequest")
        for name, value in (item.get("max") or {}).items():
            default.setdefault(name, value)
        for name, value in default.items():
            default_request.setdefault(name, value)
        for name, value in (item.get("min") or {}).items():
            default_request.setdefault(name, value)


_SCALE_UP_RULES = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
    {"type": "Pods", "value": 4, "periodSeconds": 15},
    {"type": "Percent", "value": 100, "periodSeconds": 15}]}
_SCALE_DOWN_RULES = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def _hpa_rules(given: Any, defaults: Obj) -> Obj:
    out = deepcopy_json(defaults)
    if isinstance(given, dict):
        for key in ("selectPolicy", "stabilizationWindowSeconds", "policies", "tolerance"):
            if given.get(key) is not None:
                out[key] = given[key]
    return out


def _d_hpa(obj: Obj) -> None:
    spec = _spec(obj)
    _ptr(spec, "minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _hpa_rules(behavior.get("scaleUp"), _SCALE_UP_RULES)
        behavior["scaleDown"] = _hpa_rules(behavior.get("scaleDown"), _SCALE_DOWN_RULES)


def _d_storage_class(obj: Obj) -> None:
    _ptr(obj, "reclaimPolicy", "Delete")
    _ptr(obj, "volumeBindingMode", "Immediate")


def _d_csi_driver(obj: Obj) -> None:
    spec = _spec(obj)
    _ptr(spec, "attachRequired", True)
    _ptr(spec, "podInfoOnMount", False)
    _ptr(spec, "storageCapacity", False)
    _ptr(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType")
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]
    _ptr(spec, "requiresRepublish", False)


def _d_endpoint_slice(obj: Obj) -> None:
    for port in _dicts(obj.get("ports")):
        _ptr(port, "name", "")
        _ptr(port, "protocol", "TCP")


def _d_role_binding(obj: Obj) -> None:
    _str(_obj(obj, "roleRef"), "apiGroup", "rbac.authorization.k8s.io")
    for subject in _dicts(obj.get("subjects")):
        if not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = "rbac.authorization.k8s.io"


def _d_network_policy(obj: Obj) -> None:
    spec = _spec(obj)
    for rule in _dicts(spec.get("ingress")) + _dicts(spec.get("egress")):
        for port in _dicts(rule.get("ports")):
            _ptr(port, "protocol", "TCP")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])


def _d_ingress_class(obj: Obj) -> None:
    parameters = _spec(obj).get("parameters")
    if isinstance(parameters, dict):
        _ptr(parameters, "scope", "Cluster")


def _d_priority_class(obj: Obj) -> None:
    _ptr(obj, "preemptionPolicy", "PreemptLowerPriority")


def _default_service_reference(client_config: Any) -> None:
    if isinstance(client_config, dict) and isinstance(client_config.get("service"), dict):
        _ptr(client_config["service"], "port", 443)


def _default_webhooks(obj: Obj, mutating: bool) -> None:
    for hook in _dicts(obj.get("webhooks")):
        _ptr(hook, "failurePolicy", "Fail")
        _ptr(hook, "matchPolicy", "Equivalent")
        _ptr(hook, "namespaceSelector", {})
        _ptr(hook, "objectSelector", {})
        _ptr(hook, "timeoutSeconds", 10)
        if mutating:
            _ptr(hook, "reinvocationPolicy", "Never")
        for rule in _dicts(hook.get("rules")):
            _ptr(rule, "scope", "*")
        _default_service_reference(hook.get("clientConfig"))


def _d_mutating_webhooks(obj: Obj) -> None:
    _default_webhooks(obj, mutating=True)


def _d_validating_webhooks(obj: Obj) -> None:
    _default_webhooks(obj, mutating=False)


def _default_match_resources(match: Any) -> None:
    if not isinstance(match, dict):
        return
    _ptr(match, "matchPolicy", "Equivalent")
    _ptr(match, "namespaceSelector", {})
    _ptr(match, "objectSelector", {})
    for key in ("resourceRules", "excludeResourceRules"):
        for rule in _dicts(match.get(key)):
            _ptr(rule, "scope", "*")


def _d_validating_admission_policy(obj: Obj) -> None:
    spec = _spec(obj)
    _ptr(spec, "failurePolicy", "Fail")
    _default_match_resources(spec.get("matchConstraints"))


def _d_validating_admission_policy_binding(obj: Obj) -> None:
    _default_match_resources(_spec(obj).get("matchResources"))


def _d_crd(obj: Obj) -> None:
    spec = _spec(obj)
    names = _obj(spec, "names")
    kind = names.get("kind") or ""
    _str(names, "singular", kind.lower())
    if kind:
        _str(names, "listKind", kind + "List")
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}
    conversion = spec["conversion"]
    if isinstance(conversion, dict) and isinstance(conversion.get("webhook"), dict):
        _default_service_reference(conversion["webhook"].get("clientConfig"))


def _d_api_service(obj: Obj) -> None:
    service = _spec(obj).get("service")
    if isinstance(service, dict):
        _ptr(service, "port", 443)


_DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("", "Pod"): _d_pod,
    ("", "PodTemplate"): _d_pod_template,
    ("", "ReplicationController"): _d_replication_controller,
    ("", "Service"): _d_service,
    ("", "Endpoints"): _d_endpoints,
    ("", "Secret"): _d_secret,
    ("", "Namespace"): _d_namespace,
    ("", "Node"): _d_node,
    ("", "PersistentVolume"): _d_persistent_volume,
    ("", "PersistentVolumeClaim"): _d_persistent_volume_claim,
    ("", "LimitRange"): _d_limit_range,
    ("apps", "Deployment"): _d_deployment,
    ("apps", "ReplicaSet"): _d_replicaset,
    ("apps", "StatefulSet"): _d_statefulset,
    ("apps", "DaemonSet"): _d_daemonset,
    ("apps", "ControllerRevision"): _d_controller_revision,
    ("batch", "Job"): _d_job,
    ("batch", "CronJob"): _d_cronjob,
    ("autoscaling", "HorizontalPodAutoscaler"): _d_hpa,
    ("storage.k8s.io", "StorageClass"): _d_storage_class,
    ("storage.k8s.io", "CSIDriver"): _d_csi_driver,
    ("discovery.k8s.io", "EndpointSlice"): _d_endpoint_slice,
    ("rbac.authorization.k8s.io", "RoleBinding"): _d_role_binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _d_role_binding,
    ("networking.k8s.io", "NetworkPolicy"): _d_network_policy,
    ("networking.k8s.io", "IngressClass"): _d_ingress_class,
    ("scheduling.k8s.io", "PriorityClass"): _d_priority_class,
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): _d_mutating_webhooks,
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): _d_validating_webhooks,
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): _d_validating_admission_policy,
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"):
        _d_validating_admission_policy_binding,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _d_crd,
    ("apiregistration.k8s.io", "APIService"): _d_api_service,
}
"""Kinds with upstream defaults. ConfigMap, ServiceAccount, Event, ResourceQuota,
PodDisruptionBudget, Ingress, Lease, Role/ClusterRole, VolumeAttachment, RuntimeClass,
CSR and the review APIs have none that show on the wire."""


# --------------------------------------------------------------------- public API


def apply_defaults(info: ResourceInfo, obj: Obj) -> Obj:
    """A defaulted copy of `obj` (never mutates it). Unknown and custom kinds come back
    as plain copies. Idempotent: defaulting a defaulted object changes nothing."""
    out = deepcopy_json(obj)
    if info.custom or not isinstance(out, dict):
        return out
    defaulter = _DEFAULTERS.get((info.group, info.kind))
    if defaulter is not None:
        defaulter(out)
    return out


def pod_prepare_for_create(pod: Obj, toleration_seconds: int = DEFAULT_TOLERATION_SECONDS) -> Obj:
    """Pod strategy PrepareForCreate: status reset to `{phase: Pending, qosClass}`, and the
    DefaultTolerationSeconds admission tolerations (create-only, as upstream admission).
    Call on the defaulted pod (QoS reads the requests defaulted from limits)."""
    out = deepcopy_json(pod)
    _add_default_tolerations(_obj(out, "spec"), toleration_seconds)
    out["status"] = {"phase": "Pending", "qosClass": pod_qos_class(out)}
    return out


def namespace_prepare_for_create(namespace: Obj) -> Obj:
    """Namespace strategy PrepareForCreate: status Active and the `kubernetes` finalizer.
    Create-only: the namespace controller removes the finalizer during deletion."""
    out = deepcopy_json(namespace)
    out["status"] = {"phase": "Active"}
    spec = _spec(out)
    finalizers = spec.get("finalizers") if isinstance(spec.get("finalizers"), list) else []
    if "kubernetes" not in finalizers:
        spec["finalizers"] = finalizers + ["kubernetes"]
    return out


def job_prepare_for_create(job: Obj, uid: str | None = None) -> Obj:
    """Job strategy PrepareForCreate: unless `spec.manualSelector` is true, label the pod
    template with job-name / controller-uid (legacy and batch.kubernetes.io/ forms) and
    select on `batch.kubernetes.io/controller-uid`; status is reset to `{}`.

    `uid` defaults to `metadata.uid`. The job's own labels are then defaulted from the
    template again, as upstream does when it reads the stored job back.
    """
    out = deepcopy_json(job)
    meta = _obj(out, "metadata")
    uid = uid if uid is not None else meta.get("uid", "")
    name = meta.get("name", "")
    spec = _spec(out)
    if spec.get("manualSelector") is not True:
        template = _obj(spec, "template")
        labels = _obj(_obj(template, "metadata"), "labels")
        for key in ("job-name", "batch.kubernetes.io/job-name"):
            labels.setdefault(key, name)
        for key in ("controller-uid", "batch.kubernetes.io/controller-uid"):
            labels.setdefault(key, uid)
        selector = _obj(spec, "selector")
        _obj(selector, "matchLabels").setdefault("batch.kubernetes.io/controller-uid", uid)
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    out["status"] = {}
    return out
