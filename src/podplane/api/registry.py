"""Resource registry: what the cluster serves, by group, version, kind and plural.

One `ResourceInfo` per served resource carries the facts that discovery, the REST
handler, storage keys, table printing and OpenAPI all derive from: group, version,
kind, plural and singular names, scope, short names, categories, verbs and
subresources. Built-in kinds are declared in `BUILTINS`; CustomResourceDefinitions
add entries at run time through `Registry.add` / `Registry.remove` (the apiserver
calls these when a CRD becomes Established or is deleted).

Pure data, no I/O: the apiserver, the clients and the controllers all import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "ALL_VERBS",
    "BUILTINS",
    "ResourceInfo",
    "Registry",
    "Subresource",
    "default_registry",
]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)


@dataclass(frozen=True)
class Subresource:
    name: str
    """Subresource path segment: status, scale, binding, log, exec, ..."""
    verbs: tuple[str, ...] = ("get", "patch", "update")
    group: str | None = None
    """Group/version/kind of the subresource's body when it differs from the parent
    (autoscaling/v1 Scale, v1 Binding, policy/v1 Eviction)."""
    version: str | None = None
    kind: str | None = None


STATUS = Subresource("status")
SCALE = Subresource("scale", group="autoscaling", version="v1", kind="Scale")


@dataclass(frozen=True)
class ResourceInfo:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    singular: str = ""
    list_kind: str = ""
    custom: bool = False
    """True for resources served from a CustomResourceDefinition."""
    storage_version: str = ""
    """Version objects are stored in; equals `version` for everything served here."""
    schema: dict | None = field(default=None, compare=False, hash=False)
    """For custom resources: the openAPIV3Schema of this version."""
    printer_columns: tuple[dict, ...] = field(default=(), compare=False, hash=False)
    """For custom resources: additionalPrinterColumns of this version."""
    scale_paths: dict | None = field(default=None, compare=False, hash=False)
    """For custom resources with a scale subresource: specReplicasPath, statusReplicasPath,
    labelSelectorPath."""
    selectable_fields: tuple[str, ...] = field(default=(), compare=False, hash=False)
    """For custom resources: the jsonPaths of the version's selectableFields ('.spec.color'),
    usable in field selectors besides metadata.name and metadata.namespace."""
    return_deleted_object: bool = field(default=False, compare=False, hash=False)
    """Upstream store's ReturnDeletedObject: an immediate DELETE answers with the deleted
    object rather than a Status (pods, services, namespaces, ...)."""
    handler: str = ""
    """Not stored: the apiserver component that answers this resource instead of the generic
    REST handler ("metrics": metrics.k8s.io, computed from the nodes' usage). Empty for stored
    resources."""

    def __post_init__(self) -> None:
        if not self.singular:
            object.__setattr__(self, "singular", self.kind.lower())
        if not self.list_kind:
            object.__setattr__(self, "list_kind", self.kind + "List")
        if not self.storage_version:
            object.__setattr__(self, "storage_version", self.version)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """`deployments.apps`, or `pods` for the core group, as upstream messages name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def subresource(self, name: str) -> Subresource | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None

    def storage_prefix(self, namespace: str | None = None) -> str:
        """Key prefix of this resource's objects: `/registry/<group>/<plural>/[<ns>/]`."""
        base = f"/registry/{self.group or 'core'}/{self.plural}/"
        if self.namespaced and namespace:
            return f"{base}{namespace}/"
        return base

    def storage_key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"/registry/{self.group or 'core'}/{self.plural}/{namespace}/{name}"
        return f"/registry/{self.group or 'core'}/{self.plural}/{name}"


def _r(group: str, version: str, kind: str, plural: str, **kw) -> ResourceInfo:
    return ResourceInfo(group=group, version=version, kind=kind, plural=plural, **kw)


_POD_SUBS = (
    STATUS,
    Subresource("binding", ("create",), "", "v1", "Binding"),
    Subresource("eviction", ("create",), "policy", "v1", "Eviction"),
    Subresource("ephemeralcontainers", ("get", "patch", "update")),
    Subresource("log", ("get",), "", "v1", "Pod"),
    Subresource("exec", ("create", "get"), "", "v1", "PodExecOptions"),
    Subresource("attach", ("create", "get"), "", "v1", "PodAttachOptions"),
    Subresource("portforward", ("create", "get"), "", "v1", "PodPortForwardOptions"),
)
_ALL = ("all",)

BUILTINS: tuple[ResourceInfo, ...] = (
    # core/v1
    _r("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",),
       subresources=(STATUS, Subresource("finalize", ("update",))), return_deleted_object=True),
    _r("", "v1", "Pod", "pods", short_names=("po",), categories=_ALL, subresources=_POD_SUBS,
       return_deleted_object=True),
    _r("", "v1", "Service", "services", short_names=("svc",), categories=_ALL,
       subresources=(STATUS,), return_deleted_object=True),
    _r("", "v1", "Endpoints", "endpoints", short_names=("ep",), singular="endpoints"),
    _r("", "v1", "Node", "nodes", namespaced=False, short_names=("no",), subresources=(STATUS,)),
    _r("", "v1", "Event", "events", short_names=("ev",)),
    _r("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    _r("", "v1", "Secret", "secrets"),
    _r("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",),
       subresources=(Subresource("token", ("create",), "authentication.k8s.io", "v1", "TokenRequest"),),
       return_deleted_object=True),
    _r("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False, short_names=("pv",),
       subresources=(STATUS,), return_deleted_object=True),
    _r("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",),
       subresources=(STATUS,), return_deleted_object=True),
    _r("", "v1", "ReplicationController", "replicationcontrollers", short_names=("rc",),
       categories=_ALL, subresources=(STATUS, SCALE)),
    _r("", "v1", "ResourceQuota", "resourcequotas", short_names=("quota",), subresources=(STATUS,)),
    _r("", "v1", "LimitRange", "limitranges", short_names=("limits",)),
    _r("", "v1", "PodTemplate", "podtemplates"),
    # apps/v1
    _r("apps", "v1", "Deployment", "deployments", short_names=("deploy",), categories=_ALL,
       subresources=(STATUS, SCALE)),
    _r("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), categories=_ALL,
       subresources=(STATUS, SCALE)),
    _r("apps", "v1", "StatefulSet", "statefulsets", short_names=("sts",), categories=_ALL,
       subresources=(STATUS, SCALE)),
    _r("apps", "v1", "DaemonSet", "daemonsets", short_names=("ds",), categories=_ALL,
       subresources=(STATUS,)),
    _r("apps", "v1", "ControllerRevision", "controllerrevisions"),
    # batch/v1
    _r("batch", "v1", "Job", "jobs", categories=_ALL, subresources=(STATUS,)),
    _r("batch", "v1", "CronJob", "cronjobs", short_names=("cj",), categories=_ALL,
       subresources=(STATUS,)),
    # autoscaling/v2
    _r("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
       short_names=("hpa",), categories=_ALL, subresources=(STATUS,)),
    # coordination, discovery, storage
    _r("coordination.k8s.io", "v1", "Lease", "leases"),
    _r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    _r("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False, short_names=("sc",),
       return_deleted_object=True),
    _r("storage.k8s.io", "v1", "CSIDriver", "csidrivers", namespaced=False, return_deleted_object=True),
    _r("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", namespaced=False,
       subresources=(STATUS,), return_deleted_object=True),
    # apiextensions
    _r("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
       namespaced=False, short_names=("crd", "crds"), subresources=(STATUS,)),
    # rbac
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    # policy
    _r("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=("pdb",),
       subresources=(STATUS,)),
    # networking
    _r("networking.k8s.io", "v1", "Ingress", "ingresses", short_names=("ing",), subresources=(STATUS,)),
    _r("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False),
    _r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short_names=("netpol",)),
    # scheduling, node
    _r("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", namespaced=False,
       short_names=("pc",)),
    _r("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", namespaced=False),
    # certificates
    _r("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests",
       namespaced=False, short_names=("csr",),
       subresources=(STATUS, Subresource("approval", ("get", "patch", "update")))),
    # apiregistration
    _r("apiregistration.k8s.io", "v1", "APIService", "apiservices", namespaced=False,
       subresources=(STATUS,)),
    # admissionregistration
    _r("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
       "mutatingwebhookconfigurations", namespaced=False),
    _r("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
       "validatingwebhookconfigurations", namespaced=False),
    _r("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy",
       "validatingadmissionpolicies", namespaced=False, subresources=(STATUS,)),
    _r("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding",
       "validatingadmissionpolicybindings", namespaced=False),
    # resource metrics (metrics-server's API): computed by apiserver.metrics, never stored; no "all"
    # category and no short names, as upstream
    _r("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", verbs=("get", "list"), handler="metrics"),
    _r("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", namespaced=False, verbs=("get", "list"),
       handler="metrics"),
    # review APIs: create-only, answered by the apiserver, never stored
    _r("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", namespaced=False,
       verbs=CREATE_ONLY),
    _r("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", namespaced=False, verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
       namespaced=False, verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews",
       namespaced=False, verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", namespaced=False,
       verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews",
       verbs=CREATE_ONLY),
)

REVIEW_GROUPS = frozenset({"authentication.k8s.io", "authorization.k8s.io"})


class Registry:
    """Lookup tables over the served resources; mutable only through add/remove."""

    def __init__(self, resources: Iterable[ResourceInfo] = BUILTINS) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceInfo] = {}
        self._order: list[ResourceInfo] = []
        for info in resources:
            self.add(info)

    def add(self, info: ResourceInfo) -> None:
        key = (info.group, info.version, info.plural)
        if key in self._by_gvr:
            self._order = [i for i in self._order if (i.group, i.version, i.plural) != key]
        self._by_gvr[key] = info
        self._order.append(info)

    def remove(self, group: str, plural: str) -> None:
        for key in [k for k in self._by_gvr if k[0] == group and k[2] == plural]:
            del self._by_gvr[key]
        self._order = [i for i in self._order if not (i.group == group and i.plural == plural)]

    def get(self, group: str, version: str, plural: str) -> ResourceInfo | None:
        return self._by_gvr.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> ResourceInfo | None:
        for info in self._order:
            if info.group == group and info.version == version and info.kind == kind:
                return info
        return None

    def by_group_kind(self, group: str, kind: str) -> ResourceInfo | None:
        for info in self._order:
            if info.group == group and info.kind == kind:
                return info
        return None

    def by_group_resource(self, group: str, plural: str) -> list[ResourceInfo]:
        return [i for i in self._order if i.group == group and i.plural == plural]

    def all(self) -> list[ResourceInfo]:
        return list(self._order)

    def groups(self) -> dict[str, list[str]]:
        """Group name → served versions, preferred first, in registration order."""
        out: dict[str, list[str]] = {}
        for info in self._order:
            versions = out.setdefault(info.group, [])
            if info.version not in versions:
                versions.append(info.version)
        return out

    def resources_in(self, group: str, version: str) -> list[ResourceInfo]:
        return [i for i in self._order if i.group == group and i.version == version]


def default_registry() -> Registry:
    return Registry(BUILTINS)
