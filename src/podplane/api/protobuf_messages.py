"""Kubernetes protobuf message table: generated data for `podplane.api.protobuf`.

`MESSAGES` maps a message ("<group dir>/<version>.<Type>", as in k8s.io/api and
k8s.io/apimachinery) to its fields in Go struct order: field number -> (json name,
type, flags). Type is a scalar (string, bool, int32, int64, uint32, uint64, float64,
bytes), a special wrapper (Time, MicroTime, Duration, Quantity, IntOrString,
RawExtension, FieldsV1, StringList) or another message. Flags: r repeated, m map
(string keys), p Go pointer, o omitempty, z omitzero, i inlined into the parent's JSON.
`KINDS` maps (apiVersion, kind) to the top-level message; `ANY_VERSION_KINDS` are
registered in every group version. Numbers and names are those of each type's
generated.proto (k8s.io/api, k8s.io/apimachinery; Apache-2.0), read from the struct tags
compiled into kubectl 1.37 by tests/unit/api/fixtures/protobuf/gen_messages.py and
checked against upstream excerpts by test_protobuf.py. Do not edit by hand: regenerate.
"""

__all__ = ["ANY_VERSION_KINDS", "KINDS", "MESSAGES"]

KINDS: dict[tuple[str, str], str] = {
    ("apps/v1", "DaemonSet"): "apps/v1.DaemonSet",
    ("apps/v1", "Deployment"): "apps/v1.Deployment",
    ("apps/v1", "ReplicaSet"): "apps/v1.ReplicaSet",
    ("apps/v1", "StatefulSet"): "apps/v1.StatefulSet",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "authentication/v1.SelfSubjectReview",
    ("authentication.k8s.io/v1", "TokenRequest"): "authentication/v1.TokenRequest",
    ("authentication.k8s.io/v1", "TokenReview"): "authentication/v1.TokenReview",
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"): "authorization/v1.LocalSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "authorization/v1.SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "authorization/v1.SelfSubjectRulesReview",
    ("authorization.k8s.io/v1", "SubjectAccessReview"): "authorization/v1.SubjectAccessReview",
    ("autoscaling/v1", "Scale"): "autoscaling/v1.Scale",
    ("batch/v1", "CronJob"): "batch/v1.CronJob",
    ("batch/v1", "Job"): "batch/v1.Job",
    ("certificates.k8s.io/v1", "CertificateSigningRequest"): "certificates/v1.CertificateSigningRequest",
    ("networking.k8s.io/v1", "Ingress"): "networking/v1.Ingress",
    ("policy/v1", "Eviction"): "policy/v1.Eviction",
    ("policy/v1", "PodDisruptionBudget"): "policy/v1.PodDisruptionBudget",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "rbac/v1.ClusterRole",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "rbac/v1.ClusterRoleBinding",
    ("rbac.authorization.k8s.io/v1", "Role"): "rbac/v1.Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "rbac/v1.RoleBinding",
    ("scheduling.k8s.io/v1", "PriorityClass"): "scheduling/v1.PriorityClass",
    ("v1", "ConfigMap"): "core/v1.ConfigMap",
    ("v1", "Namespace"): "core/v1.Namespace",
    ("v1", "Pod"): "core/v1.Pod",
    ("v1", "ResourceQuota"): "core/v1.ResourceQuota",
    ("v1", "Secret"): "core/v1.Secret",
    ("v1", "Service"): "core/v1.Service",
    ("v1", "ServiceAccount"): "core/v1.ServiceAccount",
}

ANY_VERSION_KINDS: dict[str, str] = {
    "DeleteOptions": "meta/v1.DeleteOptions",
}

# fmt: off
MESSAGES: dict[str, dict[int, tuple[str, str, str]]] = {
    "apps/v1.DaemonSet": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "apps/v1.DaemonSetSpec", "o"),
        3: ("status", "apps/v1.DaemonSetStatus", "o"),
    },
    "apps/v1.DaemonSetCondition": {
        1: ("type", "string", ""), 2: ("status", "string", ""), 3: ("lastTransitionTime", "Time", "o"),
        4: ("reason", "string", "o"), 5: ("message", "string", "o"),
    },
    "apps/v1.DaemonSetSpec": {
        1: ("selector", "meta/v1.LabelSelector", "p"), 2: ("template", "core/v1.PodTemplateSpec", ""),
        3: ("updateStrategy", "apps/v1.DaemonSetUpdateStrategy", "o"), 4: ("minReadySeconds", "int32", "o"),
        6: ("revisionHistoryLimit", "int32", "po"),
    },
    "apps/v1.DaemonSetStatus": {
        1: ("currentNumberScheduled", "int32", ""), 2: ("numberMisscheduled", "int32", ""),
        3: ("desiredNumberScheduled", "int32", ""), 4: ("numberReady", "int32", ""),
        5: ("observedGeneration", "int64", "o"), 6: ("updatedNumberScheduled", "int32", "o"),
        7: ("numberAvailable", "int32", "o"), 8: ("numberUnavailable", "int32", "o"),
        9: ("collisionCount", "int32", "po"), 10: ("conditions", "apps/v1.DaemonSetCondition", "ro"),
    },
    "apps/v1.DaemonSetUpdateStrategy": {
        1: ("type", "string", "o"), 2: ("rollingUpdate", "apps/v1.RollingUpdateDaemonSet", "po"),
    },
    "apps/v1.Deployment": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "apps/v1.DeploymentSpec", "o"),
        3: ("status", "apps/v1.DeploymentStatus", "o"),
    },
    "apps/v1.DeploymentCondition": {
        1: ("type", "string", ""), 2: ("status", "string", ""), 6: ("lastUpdateTime", "Time", "o"),
        7: ("lastTransitionTime", "Time", "o"), 4: ("reason", "string", "o"), 5: ("message", "string", "o"),
    },
    "apps/v1.DeploymentSpec": {
        1: ("replicas", "int32", "po"), 2: ("selector", "meta/v1.LabelSelector", "p"),
        3: ("template", "core/v1.PodTemplateSpec", ""), 4: ("strategy", "apps/v1.DeploymentStrategy", "o"),
        5: ("minReadySeconds", "int32", "o"), 6: ("revisionHistoryLimit", "int32", "po"),
        7: ("paused", "bool", "o"), 9: ("progressDeadlineSeconds", "int32", "po"),
    },
    "apps/v1.DeploymentStatus": {
        1: ("observedGeneration", "int64", "o"), 2: ("replicas", "int32", "o"),
        3: ("updatedReplicas", "int32", "o"), 7: ("readyReplicas", "int32", "o"),
        4: ("availableReplicas", "int32", "o"), 5: ("unavailableReplicas", "int32", "o"),
        9: ("terminatingReplicas", "int32", "po"), 6: ("conditions", "apps/v1.DeploymentCondition", "ro"),
        8: ("collisionCount", "int32", "po"),
    },
    "apps/v1.DeploymentStrategy": {
        1: ("type", "string", "o"), 2: ("rollingUpdate", "apps/v1.RollingUpdateDeployment", "po"),
    },
    "apps/v1.ReplicaSet": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "apps/v1.ReplicaSetSpec", "o"),
        3: ("status", "apps/v1.ReplicaSetStatus", "o"),
    },
    "apps/v1.ReplicaSetCondition": {
        1: ("type", "string", ""), 2: ("status", "string", ""), 3: ("lastTransitionTime", "Time", "o"),
        4: ("reason", "string", "o"), 5: ("message", "string", "o"),
    },
    "apps/v1.ReplicaSetSpec": {
        1: ("replicas", "int32", "po"), 4: ("minReadySeconds", "int32", "o"),
        2: ("selector", "meta/v1.LabelSelector", "p"), 3: ("template", "core/v1.PodTemplateSpec", "o"),
    },
    "apps/v1.ReplicaSetStatus": {
        1: ("replicas", "int32", ""), 2: ("fullyLabeledReplicas", "int32", "o"),
        4: ("readyReplicas", "int32", "o"), 5: ("availableReplicas", "int32", "o"),
        7: ("terminatingReplicas", "int32", "po"), 3: ("observedGeneration", "int64", "o"),
        6: ("conditions", "apps/v1.ReplicaSetCondition", "ro"),
    },
    "apps/v1.RollingUpdateDaemonSet": {
        1: ("maxUnavailable", "IntOrString", "po"), 2: ("maxSurge", "IntOrString", "po"),
    },
    "apps/v1.RollingUpdateDeployment": {
        1: ("maxUnavailable", "IntOrString", "po"), 2: ("maxSurge", "IntOrString", "po"),
    },
    "apps/v1.RollingUpdateStatefulSetStrategy": {
        1: ("partition", "int32", "po"), 2: ("maxUnavailable", "IntOrString", "po"),
    },
    "apps/v1.StatefulSet": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "apps/v1.StatefulSetSpec", "o"),
        3: ("status", "apps/v1.StatefulSetStatus", "o"),
    },
    "apps/v1.StatefulSetCondition": {
        1: ("type", "string", ""), 2: ("status", "string", ""), 3: ("lastTransitionTime", "Time", "o"),
        4: ("reason", "string", "o"), 5: ("message", "string", "o"),
    },
    "apps/v1.StatefulSetOrdinals": {
        1: ("start", "int32", ""),
    },
    "apps/v1.StatefulSetPersistentVolumeClaimRetentionPolicy": {
        1: ("whenDeleted", "string", "o"), 2: ("whenScaled", "string", "o"),
    },
    "apps/v1.StatefulSetSpec": {
        1: ("replicas", "int32", "po"), 2: ("selector", "meta/v1.LabelSelector", "p"),
        3: ("template", "core/v1.PodTemplateSpec", ""),
        4: ("volumeClaimTemplates", "core/v1.PersistentVolumeClaim", "ro"), 5: ("serviceName", "string", ""),
        6: ("podManagementPolicy", "string", "o"),
        7: ("updateStrategy", "apps/v1.StatefulSetUpdateStrategy", "o"),
        8: ("revisionHistoryLimit", "int32", "po"), 9: ("minReadySeconds", "int32", "o"),
        10: ("persistentVolumeClaimRetentionPolicy", "apps/v1.StatefulSetPersistentVolumeClaimRetentionPolicy", "po"),
        11: ("ordinals", "apps/v1.StatefulSetOrdinals", "po"),
    },
    "apps/v1.StatefulSetStatus": {
        1: ("observedGeneration", "int64", "o"), 2: ("replicas", "int32", ""),
        3: ("readyReplicas", "int32", "o"), 4: ("currentReplicas", "int32", "o"),
        5: ("updatedReplicas", "int32", "o"), 6: ("currentRevision", "string", "o"),
        7: ("updateRevision", "string", "o"), 9: ("collisionCount", "int32", "po"),
        10: ("conditions", "apps/v1.StatefulSetCondition", "ro"), 11: ("availableReplicas", "int32", ""),
    },
    "apps/v1.StatefulSetUpdateStrategy": {
        1: ("type", "string", "o"), 2: ("rollingUpdate", "apps/v1.RollingUpdateStatefulSetStrategy", "po"),
    },
    "authentication/v1.BoundObjectReference": {
        1: ("kind", "string", "o"), 2: ("apiVersion", "string", "o"), 3: ("name", "string", "o"),
        4: ("uid", "string", "o"),
    },
    "authentication/v1.SelfSubjectReview": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"),
        2: ("status", "authentication/v1.SelfSubjectReviewStatus", "o"),
    },
    "authentication/v1.SelfSubjectReviewStatus": {
        1: ("userInfo", "authentication/v1.UserInfo", "o"),
    },
    "authentication/v1.TokenRequest": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "authentication/v1.TokenRequestSpec", ""),
        3: ("status", "authentication/v1.TokenRequestStatus", "o"),
    },
    "authentication/v1.TokenRequestSpec": {
        1: ("audiences", "string", "r"), 4: ("expirationSeconds", "int64", "p"),
        3: ("boundObjectRef", "authentication/v1.BoundObjectReference", "p"),
        5: ("attestations", "StringList", "mo"),
    },
    "authentication/v1.TokenRequestStatus": {
        1: ("token", "string", ""), 2: ("expirationTimestamp", "Time", ""),
    },
    "authentication/v1.TokenReview": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "authentication/v1.TokenReviewSpec", ""),
        3: ("status", "authentication/v1.TokenReviewStatus", "o"),
    },
    "authentication/v1.TokenReviewSpec": {
        1: ("token", "string", "o"), 2: ("audiences", "string", "ro"),
    },
    "authentication/v1.TokenReviewStatus": {
        1: ("authenticated", "bool", "o"), 2: ("user", "authentication/v1.UserInfo", "o"),
        4: ("audiences", "string", "ro"), 3: ("error", "string", "o"),
    },
    "authentication/v1.UserInfo": {
        1: ("username", "string", "o"), 2: ("uid", "string", "o"), 3: ("groups", "string", "ro"),
        4: ("extra", "StringList", "mo"),
    },
    "authorization/v1.FieldSelectorAttributes": {
        1: ("rawSelector", "string", "o"), 2: ("requirements", "meta/v1.FieldSelectorRequirement", "ro"),
    },
    "authorization/v1.LabelSelectorAttributes": {
        1: ("rawSelector", "string", "o"), 2: ("requirements", "meta/v1.LabelSelectorRequirement", "ro"),
    },
    "authorization/v1.LocalSubjectAccessReview": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"),
        2: ("spec", "authorization/v1.SubjectAccessReviewSpec", ""),
        3: ("status", "authorization/v1.SubjectAccessReviewStatus", "o"),
    },
    "authorization/v1.NonResourceAttributes": {
        1: ("path", "string", "o"), 2: ("verb", "string", "o"),
    },
    "authorization/v1.NonResourceRule": {
        1: ("verbs", "string", "r"), 2: ("nonResourceURLs", "string", "ro"),
    },
    "authorization/v1.ResourceAttributes": {
        1: ("namespace", "string", "o"), 2: ("verb", "string", "o"), 3: ("group", "string", "o"),
        4: ("version", "string", "o"), 5: ("resource", "string", "o"), 6: ("subresource", "string", "o"),
        7: ("name", "string", "o"), 8: ("fieldSelector", "authorization/v1.FieldSelectorAttributes", "po"),
        9: ("labelSelector", "authorization/v1.LabelSelectorAttributes", "po"),
    },
    "authorization/v1.ResourceRule": {
        1: ("verbs", "string", "r"), 2: ("apiGroups", "string", "ro"), 3: ("resources", "string", "ro"),
        4: ("resourceNames", "string", "ro"),
    },
    "authorization/v1.SelfSubjectAccessReview": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"),
        2: ("spec", "authorization/v1.SelfSubjectAccessReviewSpec", ""),
        3: ("status", "authorization/v1.SubjectAccessReviewStatus", "o"),
    },
    "authorization/v1.SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "authorization/v1.ResourceAttributes", "po"),
        2: ("nonResourceAttributes", "authorization/v1.NonResourceAttributes", "po"),
    },
    "authorization/v1.SelfSubjectRulesReview": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"),
        2: ("spec", "authorization/v1.SelfSubjectRulesReviewSpec", ""),
        3: ("status", "authorization/v1.SubjectRulesReviewStatus", "o"),
    },
    "authorization/v1.SelfSubjectRulesReviewSpec": {
        1: ("namespace", "string", "o"),
    },
    "authorization/v1.SubjectAccessReview": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"),
        2: ("spec", "authorization/v1.SubjectAccessReviewSpec", ""),
        3: ("status", "authorization/v1.SubjectAccessReviewStatus", "o"),
    },
    "authorization/v1.SubjectAccessReviewSpec": {
        1: ("resourceAttributes", "authorization/v1.ResourceAttributes", "po"),
        2: ("nonResourceAttributes", "authorization/v1.NonResourceAttributes", "po"),
        3: ("user", "string", "o"), 4: ("groups", "string", "ro"), 5: ("extra", "StringList", "mo"),
        6: ("uid", "string", "o"),
    },
    "authorization/v1.SubjectAccessReviewStatus": {
        1: ("allowed", "bool", ""), 4: ("denied", "bool", "o"), 2: ("reason", "string", "o"),
        3: ("evaluationError", "string", "o"),
    },
    "authorization/v1.SubjectRulesReviewStatus": {
        1: ("resourceRules", "authorization/v1.ResourceRule", "r"),
        2: ("nonResourceRules", "authorization/v1.NonResourceRule", "r"), 3: ("incomplete", "bool", ""),
        4: ("evaluationError", "string", "o"),
    },
    "autoscaling/v1.Scale": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "autoscaling/v1.ScaleSpec", "o"),
        3: ("status", "autoscaling/v1.ScaleStatus", "o"),
    },
    "autoscaling/v1.ScaleSpec": {
        1: ("replicas", "int32", "o"),
    },
    "autoscaling/v1.ScaleStatus": {
        1: ("replicas", "int32", ""), 2: ("selector", "string", "o"),
    },
    "batch/v1.CronJob": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "batch/v1.CronJobSpec", "o"),
        3: ("status", "batch/v1.CronJobStatus", "o"),
    },
    "batch/v1.CronJobSpec": {
        1: ("schedule", "string", ""), 8: ("timeZone", "string", "po"),
        2: ("startingDeadlineSeconds", "int64", "po"), 3: ("concurrencyPolicy", "string", "o"),
        4: ("suspend", "bool", "po"), 5: ("jobTemplate", "batch/v1.JobTemplateSpec", ""),
        6: ("successfulJobsHistoryLimit", "int32", "po"), 7: ("failedJobsHistoryLimit", "int32", "po"),
    },
    "batch/v1.CronJobStatus": {
        1: ("active", "core/v1.ObjectReference", "ro"), 4: ("lastScheduleTime", "Time", "po"),
        5: ("lastSuccessfulTime", "Time", "po"),
    },
    "batch/v1.Job": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "batch/v1.JobSpec", "o"),
        3: ("status", "batch/v1.JobStatus", "o"),
    },
    "batch/v1.JobCondition": {
        1: ("type", "string", ""), 2: ("status", "string", ""), 3: ("lastProbeTime", "Time", "o"),
        4: ("lastTransitionTime", "Time", "o"), 5: ("reason", "string", "o"), 6: ("message", "string", "o"),
    },
    "batch/v1.JobSchedulingConfiguration": {
        1: ("schedulingPolicy", "scheduling/v1alpha3.WorkloadPodGroupSchedulingPolicy", "po"),
        2: ("schedulingConstraints", "scheduling/v1alpha3.WorkloadPodGroupSchedulingConstraints", "po"),
        3: ("disruptionMode", "scheduling/v1alpha3.WorkloadPodGroupDisruptionMode", "po"),
        4: ("resourceClaims", "scheduling/v1alpha3.WorkloadPodGroupResourceClaim", "ro"),
    },
    "batch/v1.JobSpec": {
        1: ("parallelism", "int32", "po"), 2: ("completions", "int32", "po"),
        3: ("activeDeadlineSeconds", "int64", "po"),
        11: ("podFailurePolicy", "batch/v1.PodFailurePolicy", "po"),
        16: ("successPolicy", "batch/v1.SuccessPolicy", "po"), 7: ("backoffLimit", "int32", "po"),
        12: ("backoffLimitPerIndex", "int32", "po"), 13: ("maxFailedIndexes", "int32", "po"),
        4: ("selector", "meta/v1.LabelSelector", "po"), 5: ("manualSelector", "bool", "po"),
        6: ("template", "core/v1.PodTemplateSpec", ""), 8: ("ttlSecondsAfterFinished", "int32", "po"),
        9: ("completionMode", "string", "po"), 10: ("suspend", "bool", "po"),
        14: ("podReplacementPolicy", "string", "po"), 15: ("managedBy", "string", "po"),
        17: ("scheduling", "batch/v1.JobSchedulingConfiguration", "po"),
    },
    "batch/v1.JobStatus": {
        1: ("conditions", "batch/v1.JobCondition", "ro"), 2: ("startTime", "Time", "po"),
        3: ("completionTime", "Time", "po"), 4: ("active", "int32", "o"), 5: ("succeeded", "int32", "o"),
        6: ("failed", "int32", "o"), 11: ("terminating", "int32", "po"),
        7: ("completedIndexes", "string", "o"), 10: ("failedIndexes", "string", "po"),
        8: ("uncountedTerminatedPods", "batch/v1.UncountedTerminatedPods", "po"), 9: ("ready", "int32", "po"),
    },
    "batch/v1.JobTemplateSpec": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "batch/v1.JobSpec", "o"),
    },
    "batch/v1.PodFailurePolicy": {
        1: ("rules", "batch/v1.PodFailurePolicyRule", "r"),
    },
    "batch/v1.PodFailurePolicyOnExitCodesRequirement": {
        1: ("containerName", "string", "po"), 2: ("operator", "string", ""), 3: ("values", "int32", "r"),
    },
    "batch/v1.PodFailurePolicyOnPodConditionsPattern": {
        1: ("type", "string", ""), 2: ("status", "string", ""),
    },
    "batch/v1.PodFailurePolicyRule": {
        1: ("action", "string", ""),
        2: ("onExitCodes", "batch/v1.PodFailurePolicyOnExitCodesRequirement", "po"),
        3: ("onPodConditions", "batch/v1.PodFailurePolicyOnPodConditionsPattern", "ro"),
    },
    "batch/v1.SuccessPolicy": {
        1: ("rules", "batch/v1.SuccessPolicyRule", "r"),
    },
    "batch/v1.SuccessPolicyRule": {
        1: ("succeededIndexes", "string", "po"), 2: ("succeededCount", "int32", "po"),
    },
    "batch/v1.UncountedTerminatedPods": {
        1: ("succeeded", "string", "ro"), 2: ("failed", "string", "ro"),
    },
    "certificates/v1.CertificateSigningRequest": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"),
        2: ("spec", "certificates/v1.CertificateSigningRequestSpec", ""),
        3: ("status", "certificates/v1.CertificateSigningRequestStatus", "o"),
    },
    "certificates/v1.CertificateSigningRequestCondition": {
        1: ("type", "string", ""), 6: ("status", "string", ""), 2: ("reason", "string", "o"),
        3: ("message", "string", "o"), 4: ("lastUpdateTime", "Time", "o"),
        5: ("lastTransitionTime", "Time", "o"),
    },
    "certificates/v1.CertificateSigningRequestSpec": {
        1: ("request", "bytes", ""), 7: ("signerName", "string", ""), 8: ("expirationSeconds", "int32", "po"),
        5: ("usages", "string", "ro"), 2: ("username", "string", "o"), 3: ("uid", "string", "o"),
        4: ("groups", "string", "ro"), 6: ("extra", "StringList", "mo"),
    },
    "certificates/v1.CertificateSigningRequestStatus": {
        1: ("conditions", "certificates/v1.CertificateSigningRequestCondition", "ro"),
        2: ("certificate", "bytes", "o"),
    },
    "core/v1.AWSElasticBlockStoreVolumeSource": {
        1: ("volumeID", "string", ""), 2: ("fsType", "string", "o"), 3: ("partition", "int32", "o"),
        4: ("readOnly", "bool", "o"),
    },
    "core/v1.Affinity": {
        1: ("nodeAffinity", "core/v1.NodeAffinity", "po"), 2: ("podAffinity", "core/v1.PodAffinity", "po"),
        3: ("podAntiAffinity", "core/v1.PodAntiAffinity", "po"),
    },
    "core/v1.AppArmorProfile": {
        1: ("type", "string", ""), 2: ("localhostProfile", "string", "po"),
    },
    "core/v1.AzureDiskVolumeSource": {
        1: ("diskName", "string", ""), 2: ("diskURI", "string", ""), 3: ("cachingMode", "string", "po"),
        4: ("fsType", "string", "po"), 5: ("readOnly", "bool", "po"), 6: ("kind", "string", "po"),
    },
    "core/v1.AzureFileVolumeSource": {
        1: ("secretName", "string", ""), 2: ("shareName", "string", ""), 3: ("readOnly", "bool", "o"),
    },
    "core/v1.CSIVolumeSource": {
        1: ("driver", "string", ""), 2: ("readOnly", "bool", "po"), 3: ("fsType", "string", "po"),
        4: ("volumeAttributes", "string", "mo"),
        5: ("nodePublishSecretRef", "core/v1.LocalObjectReference", "po"),
    },
    "core/v1.Capabilities": {
        1: ("add", "string", "ro"), 2: ("drop", "string", "ro"),
    },
    "core/v1.CephFSVolumeSource": {
        1: ("monitors", "string", "r"), 2: ("path", "string", "o"), 3: ("user", "string", "o"),
        4: ("secretFile", "string", "o"), 5: ("secretRef", "core/v1.LocalObjectReference", "po"),
        6: ("readOnly", "bool", "o"),
    },
    "core/v1.CinderVolumeSource": {
        1: ("volumeID", "string", ""), 2: ("fsType", "string", "o"), 3: ("readOnly", "bool", "o"),
        4: ("secretRef", "core/v1.LocalObjectReference", "po"),
    },
    "core/v1.ClientIPConfig": {
        1: ("timeoutSeconds", "int32", "po"),
    },
    "core/v1.ClusterTrustBundleProjection": {
        1: ("name", "string", "po"), 2: ("signerName", "string", "po"),
        3: ("labelSelector", "meta/v1.LabelSelector", "po"), 5: ("optional", "bool", "po"),
        4: ("path", "string", ""), 6: ("user", "int64", "po"),
    },
    "core/v1.ConfigMap": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 4: ("immutable", "bool", "po"),
        2: ("data", "string", "mo"), 3: ("binaryData", "bytes", "mo"),
    },
    "core/v1.ConfigMapEnvSource": {
        1: ("", "core/v1.LocalObjectReference", "i"), 2: ("optional", "bool", "po"),
    },
    "core/v1.ConfigMapKeySelector": {
        1: ("", "core/v1.LocalObjectReference", "i"), 2: ("key", "string", ""), 3: ("optional", "bool", "po"),
    },
    "core/v1.ConfigMapProjection": {
        1: ("", "core/v1.LocalObjectReference", "i"), 2: ("items", "core/v1.KeyToPath", "ro"),
        4: ("optional", "bool", "po"),
    },
    "core/v1.ConfigMapVolumeSource": {
        1: ("", "core/v1.LocalObjectReference", "i"), 2: ("items", "core/v1.KeyToPath", "ro"),
        3: ("defaultMode", "int32", "po"), 4: ("optional", "bool", "po"), 5: ("defaultUser", "int64", "po"),
    },
    "core/v1.Container": {
        1: ("name", "string", ""), 2: ("image", "string", "o"), 3: ("command", "string", "ro"),
        4: ("args", "string", "ro"), 5: ("workingDir", "string", "o"),
        6: ("ports", "core/v1.ContainerPort", "ro"), 19: ("envFrom", "core/v1.EnvFromSource", "ro"),
        7: ("env", "core/v1.EnvVar", "ro"), 8: ("resources", "core/v1.ResourceRequirements", "o"),
        23: ("resizePolicy", "core/v1.ContainerResizePolicy", "ro"), 24: ("restartPolicy", "string", "po"),
        25: ("restartPolicyRules", "core/v1.ContainerRestartRule", "ro"),
        9: ("volumeMounts", "core/v1.VolumeMount", "ro"), 21: ("volumeDevices", "core/v1.VolumeDevice", "ro"),
        10: ("livenessProbe", "core/v1.Probe", "po"), 11: ("readinessProbe", "core/v1.Probe", "po"),
        22: ("startupProbe", "core/v1.Probe", "po"), 12: ("lifecycle", "core/v1.Lifecycle", "po"),
        13: ("terminationMessagePath", "string", "o"), 20: ("terminationMessagePolicy", "string", "o"),
        14: ("imagePullPolicy", "string", "o"), 15: ("securityContext", "core/v1.SecurityContext", "po"),
        16: ("stdin", "bool", "o"), 17: ("stdinOnce", "bool", "o"), 18: ("tty", "bool", "o"),
    },
    "core/v1.ContainerExtendedResourceRequest": {
        1: ("containerName", "string", ""), 2: ("resourceName", "string", ""),
        3: ("requestName", "string", ""),
    },
    "core/v1.ContainerPort": {
        1: ("name", "string", "o"), 2: ("hostPort", "int32", "o"), 3: ("containerPort", "int32", ""),
        4: ("protocol", "string", "o"), 5: ("hostIP", "string", "o"),
    },
    "core/v1.ContainerResizePolicy": {
        1: ("resourceName", "string", ""), 2: ("restartPolicy", "string", ""),
    },
    "core/v1.ContainerRestartRule": {
        1: ("action", "string", "o"), 2: ("exitCodes", "core/v1.ContainerRestartRuleOnExitCodes", "po"),
    },
    "core/v1.ContainerRestartRuleOnExitCodes": {
        1: ("operator", "string", "o"), 2: ("values", "int32", "ro"),
    },
    "core/v1.ContainerState": {
        1: ("waiting", "core/v1.ContainerStateWaiting", "po"),
        2: ("running", "core/v1.ContainerStateRunning", "po"),
        3: ("terminated", "core/v1.ContainerStateTerminated", "po"),
    },
    "core/v1.ContainerStateRunning": {
        1: ("startedAt", "Time", "o"),
    },
    "core/v1.ContainerStateTerminated": {
        1: ("exitCode", "int32", ""), 2: ("signal", "int32", "o"), 3: ("reason", "string", "o"),
        4: ("message", "string", "o"), 5: ("startedAt", "Time", "o"), 6: ("finishedAt", "Time", "o"),
        7: ("containerID", "string", "o"),
    },
    "core/v1.ContainerStateWaiting": {
        1: ("reason", "string", "o"), 2: ("message", "string", "o"),
    },
    "core/v1.ContainerStatus": {
        1: ("name", "string", ""), 2: ("state", "core/v1.ContainerState", "o"),
        3: ("lastState", "core/v1.ContainerState", "o"), 4: ("ready", "bool", ""),
        5: ("restartCount", "int32", ""), 6: ("image", "string", ""), 7: ("imageID", "string", ""),
        8: ("containerID", "string", "o"), 9: ("started", "bool", "po"),
        10: ("allocatedResources", "Quantity", "mo"), 11: ("resources", "core/v1.ResourceRequirements", "po"),
        12: ("volumeMounts", "core/v1.VolumeMountStatus", "ro"), 13: ("user", "core/v1.ContainerUser", "po"),
        14: ("allocatedResourcesStatus", "core/v1.ResourceStatus", "ro"), 15: ("stopSignal", "string", "po"),
    },
    "core/v1.ContainerUser": {
        1: ("linux", "core/v1.LinuxContainerUser", "po"),
    },
    "core/v1.DownwardAPIProjection": {
        1: ("items", "core/v1.DownwardAPIVolumeFile", "ro"),
    },
    "core/v1.DownwardAPIVolumeFile": {
        1: ("path", "string", ""), 2: ("fieldRef", "core/v1.ObjectFieldSelector", "po"),
        3: ("resourceFieldRef", "core/v1.ResourceFieldSelector", "po"), 4: ("mode", "int32", "po"),
        5: ("user", "int64", "po"),
    },
    "core/v1.DownwardAPIVolumeSource": {
        1: ("items", "core/v1.DownwardAPIVolumeFile", "ro"), 2: ("defaultMode", "int32", "po"),
        3: ("defaultUser", "int64", "po"),
    },
    "core/v1.EmptyDirVolumeSource": {
        1: ("medium", "string", "o"), 2: ("sizeLimit", "Quantity", "po"), 3: ("mode", "int32", "po"),
    },
    "core/v1.EnvFromSource": {
        1: ("prefix", "string", "o"), 2: ("configMapRef", "core/v1.ConfigMapEnvSource", "po"),
        3: ("secretRef", "core/v1.SecretEnvSource", "po"),
    },
    "core/v1.EnvVar": {
        1: ("name", "string", ""), 2: ("value", "string", "o"),
        3: ("valueFrom", "core/v1.EnvVarSource", "po"),
    },
    "core/v1.EnvVarSource": {
        1: ("fieldRef", "core/v1.ObjectFieldSelector", "po"),
        2: ("resourceFieldRef", "core/v1.ResourceFieldSelector", "po"),
        3: ("configMapKeyRef", "core/v1.ConfigMapKeySelector", "po"),
        4: ("secretKeyRef", "core/v1.SecretKeySelector", "po"),
        5: ("fileKeyRef", "core/v1.FileKeySelector", "po"),
    },
    "core/v1.EphemeralContainer": {
        1: ("", "core/v1.EphemeralContainerCommon", "i"), 2: ("targetContainerName", "string", "o"),
    },
    "core/v1.EphemeralContainerCommon": {
        1: ("name", "string", ""), 2: ("image", "string", "o"), 3: ("command", "string", "ro"),
        4: ("args", "string", "ro"), 5: ("workingDir", "string", "o"),
        6: ("ports", "core/v1.ContainerPort", "ro"), 19: ("envFrom", "core/v1.EnvFromSource", "ro"),
        7: ("env", "core/v1.EnvVar", "ro"), 8: ("resources", "core/v1.ResourceRequirements", "o"),
        23: ("resizePolicy", "core/v1.ContainerResizePolicy", "ro"), 24: ("restartPolicy", "string", "po"),
        25: ("restartPolicyRules", "core/v1.ContainerRestartRule", "ro"),
        9: ("volumeMounts", "core/v1.VolumeMount", "ro"), 21: ("volumeDevices", "core/v1.VolumeDevice", "ro"),
        10: ("livenessProbe", "core/v1.Probe", "po"), 11: ("readinessProbe", "core/v1.Probe", "po"),
        22: ("startupProbe", "core/v1.Probe", "po"), 12: ("lifecycle", "core/v1.Lifecycle", "po"),
        13: ("terminationMessagePath", "string", "o"), 20: ("terminationMessagePolicy", "string", "o"),
        14: ("imagePullPolicy", "string", "o"), 15: ("securityContext", "core/v1.SecurityContext", "po"),
        16: ("stdin", "bool", "o"), 17: ("stdinOnce", "bool", "o"), 18: ("tty", "bool", "o"),
    },
    "core/v1.EphemeralVolumeSource": {
        1: ("volumeClaimTemplate", "core/v1.PersistentVolumeClaimTemplate", "po"),
    },
    "core/v1.EvictionResponder": {
        1: ("name", "string", ""), 2: ("priority", "int32", "p"),
    },
    "core/v1.ExecAction": {
        1: ("command", "string", "ro"),
    },
    "core/v1.FCVolumeSource": {
        1: ("targetWWNs", "string", "ro"), 2: ("lun", "int32", "po"), 3: ("fsType", "string", "o"),
        4: ("readOnly", "bool", "o"), 5: ("wwids", "string", "ro"),
    },
    "core/v1.FileKeySelector": {
        1: ("volumeName", "string", ""), 2: ("path", "string", ""), 3: ("key", "string", ""),
        4: ("optional", "bool", "po"),
    },
    "core/v1.FlexVolumeSource": {
        1: ("driver", "string", ""), 2: ("fsType", "string", "o"),
        3: ("secretRef", "core/v1.LocalObjectReference", "po"), 4: ("readOnly", "bool", "o"),
        5: ("options", "string", "mo"),
    },
    "core/v1.FlockerVolumeSource": {
        1: ("datasetName", "string", "o"), 2: ("datasetUUID", "string", "o"),
    },
    "core/v1.GCEPersistentDiskVolumeSource": {
        1: ("pdName", "string", ""), 2: ("fsType", "string", "o"), 3: ("partition", "int32", "o"),
        4: ("readOnly", "bool", "o"),
    },
    "core/v1.GRPCAction": {
        1: ("port", "int32", ""), 2: ("service", "string", "p"), 3: ("mode", "string", "po"),
    },
    "core/v1.GitRepoVolumeSource": {
        1: ("repository", "string", ""), 2: ("revision", "string", "o"), 3: ("directory", "string", "o"),
    },
    "core/v1.GlusterfsVolumeSource": {
        1: ("endpoints", "string", ""), 2: ("path", "string", ""), 3: ("readOnly", "bool", "o"),
    },
    "core/v1.HTTPGetAction": {
        1: ("path", "string", "o"), 2: ("port", "IntOrString", ""), 3: ("host", "string", "o"),
        4: ("scheme", "string", "o"), 5: ("httpHeaders", "core/v1.HTTPHeader", "ro"),
        6: ("protocol", "string", "po"),
    },
    "core/v1.HTTPHeader": {
        1: ("name", "string", ""), 2: ("value", "string", ""),
    },
    "core/v1.HostAlias": {
        1: ("ip", "string", ""), 2: ("hostnames", "string", "ro"),
    },
    "core/v1.HostIP": {
        1: ("ip", "string", ""),
    },
    "core/v1.HostPathVolumeSource": {
        1: ("path", "string", ""), 2: ("type", "string", "po"),
    },
    "core/v1.ISCSIVolumeSource": {
        1: ("targetPortal", "string", ""), 2: ("iqn", "string", ""), 3: ("lun", "int32", ""),
        4: ("iscsiInterface", "string", "o"), 5: ("fsType", "string", "o"), 6: ("readOnly", "bool", "o"),
        7: ("portals", "string", "ro"), 8: ("chapAuthDiscovery", "bool", "o"),
        11: ("chapAuthSession", "bool", "o"), 10: ("secretRef", "core/v1.LocalObjectReference", "po"),
        12: ("initiatorName", "string", "po"),
    },
    "core/v1.ImageVolumeSource": {
        1: ("reference", "string", "o"), 2: ("pullPolicy", "string", "o"),
    },
    "core/v1.ImageVolumeStatus": {
        1: ("imageRef", "string", "o"),
    },
    "core/v1.KeyToPath": {
        1: ("key", "string", ""), 2: ("path", "string", ""), 3: ("mode", "int32", "po"),
        4: ("user", "int64", "po"),
    },
    "core/v1.Lifecycle": {
        1: ("postStart", "core/v1.LifecycleHandler", "po"), 2: ("preStop", "core/v1.LifecycleHandler", "po"),
        3: ("stopSignal", "string", "po"),
    },
    "core/v1.LifecycleHandler": {
        1: ("exec", "core/v1.ExecAction", "po"), 2: ("httpGet", "core/v1.HTTPGetAction", "po"),
        3: ("tcpSocket", "core/v1.TCPSocketAction", "po"), 4: ("sleep", "core/v1.SleepAction", "po"),
    },
    "core/v1.LinuxContainerUser": {
        1: ("uid", "int64", ""), 2: ("gid", "int64", ""), 3: ("supplementalGroups", "int64", "ro"),
    },
    "core/v1.LoadBalancerIngress": {
        1: ("ip", "string", "o"), 2: ("hostname", "string", "o"), 3: ("ipMode", "string", "po"),
        4: ("ports", "core/v1.PortStatus", "ro"),
    },
    "core/v1.LoadBalancerStatus": {
        1: ("ingress", "core/v1.LoadBalancerIngress", "ro"),
    },
    "core/v1.LocalObjectReference": {
        1: ("name", "string", "o"),
    },
    "core/v1.ModifyVolumeStatus": {
        1: ("targetVolumeAttributesClassName", "string", "o"), 2: ("status", "string", ""),
    },
    "core/v1.NFSVolumeSource": {
        1: ("server", "string", ""), 2: ("path", "string", ""), 3: ("readOnly", "bool", "o"),
    },
    "core/v1.Namespace": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "core/v1.NamespaceSpec", "o"),
        3: ("status", "core/v1.NamespaceStatus", "o"),
    },
    "core/v1.NamespaceCondition": {
        1: ("type", "string", ""), 2: ("status", "string", ""), 4: ("lastTransitionTime", "Time", "o"),
        5: ("reason", "string", "o"), 6: ("message", "string", "o"),
    },
    "core/v1.NamespaceSpec": {
        1: ("finalizers", "string", "ro"),
    },
    "core/v1.NamespaceStatus": {
        1: ("phase", "string", "o"), 2: ("conditions", "core/v1.NamespaceCondition", "ro"),
    },
    "core/v1.NodeAffinity": {
        1: ("requiredDuringSchedulingIgnoredDuringExecution", "core/v1.NodeSelector", "po"),
        2: ("preferredDuringSchedulingIgnoredDuringExecution", "core/v1.PreferredSchedulingTerm", "ro"),
    },
    "core/v1.NodeAllocatableMappedResources": {
        1: ("name", "string", ""), 2: ("quantity", "Quantity", "p"),
    },
    "core/v1.NodeAllocatableOverheadResources": {
        1: ("name", "string", ""), 2: ("perPod", "Quantity", "po"), 3: ("perContainer", "Quantity", "po"),
    },
    "core/v1.NodeAllocatableResourceClaimStatus": {
        1: ("resourceClaimName", "string", ""), 2: ("containers", "string", "ro"),
        4: ("mapping", "core/v1.NodeAllocatableMappedResources", "ro"),
        5: ("overhead", "core/v1.NodeAllocatableOverheadResources", "ro"),
    },
    "core/v1.NodeSelector": {
        1: ("nodeSelectorTerms", "core/v1.NodeSelectorTerm", "r"),
    },
    "core/v1.NodeSelectorRequirement": {
        1: ("key", "string", ""), 2: ("operator", "string", ""), 3: ("values", "string", "ro"),
    },
    "core/v1.NodeSelectorTerm": {
        1: ("matchExpressions", "core/v1.NodeSelectorRequirement", "ro"),
        2: ("matchFields", "core/v1.NodeSelectorRequirement", "ro"),
    },
    "core/v1.ObjectFieldSelector": {
        1: ("apiVersion", "string", "o"), 2: ("fieldPath", "string", ""),
    },
    "core/v1.ObjectReference": {
        1: ("kind", "string", "o"), 2: ("namespace", "string", "o"), 3: ("name", "string", "o"),
        4: ("uid", "string", "o"), 5: ("apiVersion", "string", "o"), 6: ("resourceVersion", "string", "o"),
        7: ("fieldPath", "string", "o"),
    },
    "core/v1.PersistentVolumeClaim": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "core/v1.PersistentVolumeClaimSpec", "o"),
        3: ("status", "core/v1.PersistentVolumeClaimStatus", "o"),
    },
    "core/v1.PersistentVolumeClaimCondition": {
        1: ("type", "string", ""), 2: ("status", "string", ""), 3: ("lastProbeTime", "Time", "o"),
        4: ("lastTransitionTime", "Time", "o"), 5: ("reason", "string", "o"), 6: ("message", "string", "o"),
    },
    "core/v1.PersistentVolumeClaimSpec": {
        1: ("accessModes", "string", "ro"), 4: ("selector", "meta/v1.LabelSelector", "po"),
        2: ("resources", "core/v1.VolumeResourceRequirements", "o"), 3: ("volumeName", "string", "o"),
        5: ("storageClassName", "string", "po"), 6: ("volumeMode", "string", "po"),
        7: ("dataSource", "core/v1.TypedLocalObjectReference", "po"),
        8: ("dataSourceRef", "core/v1.TypedObjectReference", "po"),
        9: ("volumeAttributesClassName", "string", "po"),
    },
    "core/v1.PersistentVolumeClaimStatus": {
        1: ("phase", "string", "o"), 2: ("accessModes", "string", "ro"), 3: ("capacity", "Quantity", "mo"),
        4: ("conditions", "core/v1.PersistentVolumeClaimCondition", "ro"),
        5: ("allocatedResources", "Quantity", "mo"), 7: ("allocatedResourceStatuses", "string", "mo"),
        8: ("currentVolumeAttributesClassName", "string", "po"),
        9: ("modifyVolumeStatus", "core/v1.ModifyVolumeStatus", "po"),
        10: ("healthStatus", "core/v1.VolumeHealthStatus", "po"),
    },
    "core/v1.PersistentVolumeClaimTemplate": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "core/v1.PersistentVolumeClaimSpec", ""),
    },
    "core/v1.PersistentVolumeClaimVolumeSource": {
        1: ("claimName", "string", ""), 2: ("readOnly", "bool", "o"),
    },
    "core/v1.PhotonPersistentDiskVolumeSource": {
        1: ("pdID", "string", ""), 2: ("fsType", "string", "o"),
    },
    "core/v1.Pod": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "core/v1.PodSpec", "o"),
        3: ("status", "core/v1.PodStatus", "o"),
    },
    "core/v1.PodAffinity": {
        1: ("requiredDuringSchedulingIgnoredDuringExecution", "core/v1.PodAffinityTerm", "ro"),
        2: ("preferredDuringSchedulingIgnoredDuringExecution", "core/v1.WeightedPodAffinityTerm", "ro"),
    },
    "core/v1.PodAffinityTerm": {
        1: ("labelSelector", "meta/v1.LabelSelector", "po"), 2: ("namespaces", "string", "ro"),
        3: ("topologyKey", "string", ""), 4: ("namespaceSelector", "meta/v1.LabelSelector", "po"),
        5: ("matchLabelKeys", "string", "ro"), 6: ("mismatchLabelKeys", "string", "ro"),
    },
    "core/v1.PodAntiAffinity": {
        1: ("requiredDuringSchedulingIgnoredDuringExecution", "core/v1.PodAffinityTerm", "ro"),
        2: ("preferredDuringSchedulingIgnoredDuringExecution", "core/v1.WeightedPodAffinityTerm", "ro"),
    },
    "core/v1.PodCertificateProjection": {
        1: ("signerName", "string", "o"), 2: ("keyType", "string", "o"),
        3: ("maxExpirationSeconds", "int32", "po"), 4: ("credentialBundlePath", "string", "o"),
        5: ("keyPath", "string", "o"), 6: ("certificateChainPath", "string", "o"),
        7: ("userAnnotations", "string", "mo"), 8: ("user", "int64", "po"),
    },
    "core/v1.PodCondition": {
        1: ("type", "string", ""), 7: ("observedGeneration", "int64", "o"), 2: ("status", "string", ""),
        3: ("lastProbeTime", "Time", "o"), 4: ("lastTransitionTime", "Time", "o"),
        5: ("reason", "string", "o"), 6: ("message", "string", "o"),
    },
    "core/v1.PodDNSConfig": {
        1: ("nameservers", "string", "ro"), 2: ("searches", "string", "ro"),
        3: ("options", "core/v1.PodDNSConfigOption", "ro"),
    },
    "core/v1.PodDNSConfigOption": {
        1: ("name", "string", "o"), 2: ("value", "string", "po"),
    },
    "core/v1.PodExtendedResourceClaimStatus": {
        1: ("requestMappings", "core/v1.ContainerExtendedResourceRequest", "r"),
        2: ("resourceClaimName", "string", ""),
    },
    "core/v1.PodIP": {
        1: ("ip", "string", ""),
    },
    "core/v1.PodOS": {
        1: ("name", "string", ""),
    },
    "core/v1.PodReadinessGate": {
        1: ("conditionType", "string", ""),
    },
    "core/v1.PodResourceClaim": {
        1: ("name", "string", ""), 3: ("resourceClaimName", "string", "po"),
        4: ("resourceClaimTemplateName", "string", "po"),
    },
    "core/v1.PodResourceClaimStatus": {
        1: ("name", "string", ""), 2: ("resourceClaimName", "string", "po"),
    },
    "core/v1.PodSchedulingGate": {
        1: ("name", "string", ""),
    },
    "core/v1.PodSchedulingGroup": {
        1: ("podGroupName", "string", "po"),
    },
    "core/v1.PodSecurityContext": {
        1: ("seLinuxOptions", "core/v1.SELinuxOptions", "po"),
        8: ("windowsOptions", "core/v1.WindowsSecurityContextOptions", "po"), 2: ("runAsUser", "int64", "po"),
        6: ("runAsGroup", "int64", "po"), 3: ("runAsNonRoot", "bool", "po"),
        4: ("supplementalGroups", "int64", "ro"), 12: ("supplementalGroupsPolicy", "string", "po"),
        5: ("fsGroup", "int64", "po"), 7: ("sysctls", "core/v1.Sysctl", "ro"),
        9: ("fsGroupChangePolicy", "string", "po"), 10: ("seccompProfile", "core/v1.SeccompProfile", "po"),
        11: ("appArmorProfile", "core/v1.AppArmorProfile", "po"), 13: ("seLinuxChangePolicy", "string", "po"),
    },
    "core/v1.PodSpec": {
        1: ("volumes", "core/v1.Volume", "ro"), 20: ("initContainers", "core/v1.Container", "ro"),
        2: ("containers", "core/v1.Container", "r"),
        34: ("ephemeralContainers", "core/v1.EphemeralContainer", "ro"), 3: ("restartPolicy", "string", "o"),
        4: ("terminationGracePeriodSeconds", "int64", "po"), 5: ("activeDeadlineSeconds", "int64", "po"),
        6: ("dnsPolicy", "string", "o"), 7: ("nodeSelector", "string", "mo"),
        8: ("serviceAccountName", "string", "o"), 9: ("serviceAccount", "string", "o"),
        21: ("automountServiceAccountToken", "bool", "po"), 10: ("nodeName", "string", "o"),
        11: ("hostNetwork", "bool", "o"), 12: ("hostPID", "bool", "o"), 13: ("hostIPC", "bool", "o"),
        27: ("shareProcessNamespace", "bool", "po"),
        14: ("securityContext", "core/v1.PodSecurityContext", "po"),
        15: ("imagePullSecrets", "core/v1.LocalObjectReference", "ro"), 16: ("hostname", "string", "o"),
        17: ("subdomain", "string", "o"), 18: ("affinity", "core/v1.Affinity", "po"),
        19: ("schedulerName", "string", "o"), 22: ("tolerations", "core/v1.Toleration", "ro"),
        23: ("hostAliases", "core/v1.HostAlias", "ro"), 24: ("priorityClassName", "string", "o"),
        25: ("priority", "int32", "po"), 26: ("dnsConfig", "core/v1.PodDNSConfig", "po"),
        28: ("readinessGates", "core/v1.PodReadinessGate", "ro"), 29: ("runtimeClassName", "string", "po"),
        30: ("enableServiceLinks", "bool", "po"), 31: ("preemptionPolicy", "string", "po"),
        32: ("overhead", "Quantity", "mo"),
        33: ("topologySpreadConstraints", "core/v1.TopologySpreadConstraint", "ro"),
        35: ("setHostnameAsFQDN", "bool", "po"), 36: ("os", "core/v1.PodOS", "po"),
        37: ("hostUsers", "bool", "po"), 38: ("schedulingGates", "core/v1.PodSchedulingGate", "ro"),
        39: ("resourceClaims", "core/v1.PodResourceClaim", "ro"),
        40: ("resources", "core/v1.ResourceRequirements", "po"), 41: ("hostnameOverride", "string", "po"),
        43: ("schedulingGroup", "core/v1.PodSchedulingGroup", "po"),
        44: ("evictionResponders", "core/v1.EvictionResponder", "ro"),
    },
    "core/v1.PodStatus": {
        17: ("observedGeneration", "int64", "o"), 1: ("phase", "string", "o"),
        2: ("conditions", "core/v1.PodCondition", "ro"), 3: ("message", "string", "o"),
        4: ("reason", "string", "o"), 11: ("nominatedNodeName", "string", "o"), 5: ("hostIP", "string", "o"),
        16: ("hostIPs", "core/v1.HostIP", "ro"), 6: ("podIP", "string", "o"),
        12: ("podIPs", "core/v1.PodIP", "ro"), 7: ("startTime", "Time", "po"),
        10: ("initContainerStatuses", "core/v1.ContainerStatus", "ro"),
        8: ("containerStatuses", "core/v1.ContainerStatus", "ro"), 9: ("qosClass", "string", "o"),
        13: ("ephemeralContainerStatuses", "core/v1.ContainerStatus", "ro"), 14: ("resize", "string", "o"),
        15: ("resourceClaimStatuses", "core/v1.PodResourceClaimStatus", "ro"),
        18: ("extendedResourceClaimStatus", "core/v1.PodExtendedResourceClaimStatus", "po"),
        19: ("allocatedResources", "Quantity", "mo"), 20: ("resources", "core/v1.ResourceRequirements", "po"),
        21: ("nodeAllocatableResourceClaimStatuses", "core/v1.NodeAllocatableResourceClaimStatus", "ro"),
        22: ("volumeHealth", "core/v1.PodVolumeHealth", "ro"),
    },
    "core/v1.PodTemplateSpec": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "core/v1.PodSpec", "o"),
    },
    "core/v1.PodVolumeHealth": {
        1: ("name", "string", ""), 2: ("healthConditions", "core/v1.VolumeHealthCondition", "ro"),
        3: ("lastTransitionTime", "Time", "o"),
    },
    "core/v1.PortStatus": {
        1: ("port", "int32", ""), 2: ("protocol", "string", ""), 3: ("error", "string", "po"),
    },
    "core/v1.PortworxVolumeSource": {
        1: ("volumeID", "string", ""), 2: ("fsType", "string", "o"), 3: ("readOnly", "bool", "o"),
    },
    "core/v1.PreferredSchedulingTerm": {
        1: ("weight", "int32", ""), 2: ("preference", "core/v1.NodeSelectorTerm", ""),
    },
    "core/v1.Probe": {
        1: ("", "core/v1.ProbeHandler", "i"), 2: ("initialDelaySeconds", "int32", "o"),
        3: ("timeoutSeconds", "int32", "o"), 4: ("periodSeconds", "int32", "o"),
        5: ("successThreshold", "int32", "o"), 6: ("failureThreshold", "int32", "o"),
        7: ("terminationGracePeriodSeconds", "int64", "po"),
    },
    "core/v1.ProbeHandler": {
        1: ("exec", "core/v1.ExecAction", "po"), 2: ("httpGet", "core/v1.HTTPGetAction", "po"),
        3: ("tcpSocket", "core/v1.TCPSocketAction", "po"), 4: ("grpc", "core/v1.GRPCAction", "po"),
    },
    "core/v1.ProjectedVolumeSource": {
        1: ("sources", "core/v1.VolumeProjection", "r"), 2: ("defaultMode", "int32", "po"),
        3: ("defaultUser", "int64", "po"),
    },
    "core/v1.QuobyteVolumeSource": {
        1: ("registry", "string", ""), 2: ("volume", "string", ""), 3: ("readOnly", "bool", "o"),
        4: ("user", "string", "o"), 5: ("group", "string", "o"), 6: ("tenant", "string", "o"),
    },
    "core/v1.RBDVolumeSource": {
        1: ("monitors", "string", "r"), 2: ("image", "string", ""), 3: ("fsType", "string", "o"),
        4: ("pool", "string", "o"), 5: ("user", "string", "o"), 6: ("keyring", "string", "o"),
        7: ("secretRef", "core/v1.LocalObjectReference", "po"), 8: ("readOnly", "bool", "o"),
    },
    "core/v1.ResourceClaim": {
        1: ("name", "string", ""), 2: ("request", "string", "o"),
    },
    "core/v1.ResourceFieldSelector": {
        1: ("containerName", "string", "o"), 2: ("resource", "string", ""), 3: ("divisor", "Quantity", "o"),
    },
    "core/v1.ResourceHealth": {
        1: ("resourceID", "string", ""), 2: ("health", "string", "o"), 6: ("message", "string", "po"),
    },
    "core/v1.ResourceQuota": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "core/v1.ResourceQuotaSpec", "o"),
        3: ("status", "core/v1.ResourceQuotaStatus", "o"),
    },
    "core/v1.ResourceQuotaSpec": {
        1: ("hard", "Quantity", "mo"), 2: ("scopes", "string", "ro"),
        3: ("scopeSelector", "core/v1.ScopeSelector", "po"),
    },
    "core/v1.ResourceQuotaStatus": {
        1: ("hard", "Quantity", "mo"), 2: ("used", "Quantity", "mo"),
    },
    "core/v1.ResourceRequirements": {
        1: ("limits", "Quantity", "mo"), 2: ("requests", "Quantity", "mo"),
        3: ("claims", "core/v1.ResourceClaim", "ro"),
    },
    "core/v1.ResourceStatus": {
        1: ("name", "string", ""), 2: ("resources", "core/v1.ResourceHealth", "ro"),
    },
    "core/v1.SELinuxOptions": {
        1: ("user", "string", "o"), 2: ("role", "string", "o"), 3: ("type", "string", "o"),
        4: ("level", "string", "o"),
    },
    "core/v1.ScaleIOVolumeSource": {
        1: ("gateway", "string", ""), 2: ("system", "string", ""),
        3: ("secretRef", "core/v1.LocalObjectReference", "p"), 4: ("sslEnabled", "bool", "o"),
        5: ("protectionDomain", "string", "o"), 6: ("storagePool", "string", "o"),
        7: ("storageMode", "string", "o"), 8: ("volumeName", "string", "o"), 9: ("fsType", "string", "o"),
        10: ("readOnly", "bool", "o"),
    },
    "core/v1.ScopeSelector": {
        1: ("matchExpressions", "core/v1.ScopedResourceSelectorRequirement", "ro"),
    },
    "core/v1.ScopedResourceSelectorRequirement": {
        1: ("scopeName", "string", ""), 2: ("operator", "string", ""), 3: ("values", "string", "ro"),
    },
    "core/v1.SeccompProfile": {
        1: ("type", "string", ""), 2: ("localhostProfile", "string", "po"),
    },
    "core/v1.Secret": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 5: ("immutable", "bool", "po"),
        2: ("data", "bytes", "mo"), 4: ("stringData", "string", "mo"), 3: ("type", "string", "o"),
    },
    "core/v1.SecretEnvSource": {
        1: ("", "core/v1.LocalObjectReference", "i"), 2: ("optional", "bool", "po"),
    },
    "core/v1.SecretKeySelector": {
        1: ("", "core/v1.LocalObjectReference", "i"), 2: ("key", "string", ""), 3: ("optional", "bool", "po"),
    },
    "core/v1.SecretProjection": {
        1: ("", "core/v1.LocalObjectReference", "i"), 2: ("items", "core/v1.KeyToPath", "ro"),
        4: ("optional", "bool", "po"),
    },
    "core/v1.SecretVolumeSource": {
        1: ("secretName", "string", "o"), 2: ("items", "core/v1.KeyToPath", "ro"),
        3: ("defaultMode", "int32", "po"), 4: ("optional", "bool", "po"), 5: ("defaultUser", "int64", "po"),
    },
    "core/v1.SecurityContext": {
        1: ("capabilities", "core/v1.Capabilities", "po"), 2: ("privileged", "bool", "po"),
        3: ("seLinuxOptions", "core/v1.SELinuxOptions", "po"),
        10: ("windowsOptions", "core/v1.WindowsSecurityContextOptions", "po"),
        4: ("runAsUser", "int64", "po"), 8: ("runAsGroup", "int64", "po"), 5: ("runAsNonRoot", "bool", "po"),
        6: ("readOnlyRootFilesystem", "bool", "po"), 7: ("allowPrivilegeEscalation", "bool", "po"),
        9: ("procMount", "string", "po"), 11: ("seccompProfile", "core/v1.SeccompProfile", "po"),
        12: ("appArmorProfile", "core/v1.AppArmorProfile", "po"),
    },
    "core/v1.Service": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "core/v1.ServiceSpec", "o"),
        3: ("status", "core/v1.ServiceStatus", "o"),
    },
    "core/v1.ServiceAccount": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("secrets", "core/v1.ObjectReference", "ro"),
        3: ("imagePullSecrets", "core/v1.LocalObjectReference", "ro"),
        4: ("automountServiceAccountToken", "bool", "po"),
    },
    "core/v1.ServiceAccountTokenProjection": {
        1: ("audience", "string", "o"), 2: ("expirationSeconds", "int64", "po"), 3: ("path", "string", ""),
        4: ("user", "int64", "po"),
    },
    "core/v1.ServicePort": {
        1: ("name", "string", "o"), 2: ("protocol", "string", "o"), 6: ("appProtocol", "string", "po"),
        3: ("port", "int32", ""), 4: ("targetPort", "IntOrString", "o"), 5: ("nodePort", "int32", "o"),
    },
    "core/v1.ServiceSpec": {
        1: ("ports", "core/v1.ServicePort", "ro"), 2: ("selector", "string", "mo"),
        3: ("clusterIP", "string", "o"), 18: ("clusterIPs", "string", "ro"), 4: ("type", "string", "o"),
        5: ("externalIPs", "string", "ro"), 7: ("sessionAffinity", "string", "o"),
        8: ("loadBalancerIP", "string", "o"), 9: ("loadBalancerSourceRanges", "string", "ro"),
        10: ("externalName", "string", "o"), 11: ("externalTrafficPolicy", "string", "o"),
        12: ("healthCheckNodePort", "int32", "o"), 13: ("publishNotReadyAddresses", "bool", "o"),
        14: ("sessionAffinityConfig", "core/v1.SessionAffinityConfig", "po"),
        19: ("ipFamilies", "string", "ro"), 17: ("ipFamilyPolicy", "string", "po"),
        20: ("allocateLoadBalancerNodePorts", "bool", "po"), 21: ("loadBalancerClass", "string", "po"),
        22: ("internalTrafficPolicy", "string", "po"), 23: ("trafficDistribution", "string", "po"),
    },
    "core/v1.ServiceStatus": {
        1: ("loadBalancer", "core/v1.LoadBalancerStatus", "o"), 2: ("conditions", "meta/v1.Condition", "ro"),
    },
    "core/v1.SessionAffinityConfig": {
        1: ("clientIP", "core/v1.ClientIPConfig", "po"),
    },
    "core/v1.SleepAction": {
        1: ("seconds", "int64", ""),
    },
    "core/v1.StorageOSVolumeSource": {
        1: ("volumeName", "string", "o"), 2: ("volumeNamespace", "string", "o"), 3: ("fsType", "string", "o"),
        4: ("readOnly", "bool", "o"), 5: ("secretRef", "core/v1.LocalObjectReference", "po"),
    },
    "core/v1.Sysctl": {
        1: ("name", "string", ""), 2: ("value", "string", ""),
    },
    "core/v1.TCPSocketAction": {
        1: ("port", "IntOrString", ""), 2: ("host", "string", "o"),
    },
    "core/v1.Toleration": {
        1: ("key", "string", "o"), 2: ("operator", "string", "o"), 3: ("value", "string", "o"),
        4: ("effect", "string", "o"), 5: ("tolerationSeconds", "int64", "po"),
    },
    "core/v1.TopologySpreadConstraint": {
        1: ("maxSkew", "int32", ""), 2: ("topologyKey", "string", ""), 3: ("whenUnsatisfiable", "string", ""),
        4: ("labelSelector", "meta/v1.LabelSelector", "po"), 5: ("minDomains", "int32", "po"),
        6: ("nodeAffinityPolicy", "string", "po"), 7: ("nodeTaintsPolicy", "string", "po"),
        8: ("matchLabelKeys", "string", "ro"),
    },
    "core/v1.TypedLocalObjectReference": {
        1: ("apiGroup", "string", "p"), 2: ("kind", "string", ""), 3: ("name", "string", ""),
    },
    "core/v1.TypedObjectReference": {
        1: ("apiGroup", "string", "p"), 2: ("kind", "string", ""), 3: ("name", "string", ""),
        4: ("namespace", "string", "po"),
    },
    "core/v1.Volume": {
        1: ("name", "string", ""), 2: ("", "core/v1.VolumeSource", "i"),
    },
    "core/v1.VolumeDevice": {
        1: ("name", "string", ""), 2: ("devicePath", "string", ""),
    },
    "core/v1.VolumeHealthCondition": {
        1: ("status", "string", ""), 2: ("reason", "string", ""), 3: ("message", "string", "o"),
    },
    "core/v1.VolumeHealthStatus": {
        1: ("healthConditions", "core/v1.VolumeHealthCondition", "ro"),
        2: ("lastTransitionTime", "Time", "o"),
    },
    "core/v1.VolumeMount": {
        1: ("name", "string", ""), 2: ("readOnly", "bool", "o"), 7: ("recursiveReadOnly", "string", "po"),
        3: ("mountPath", "string", ""), 4: ("subPath", "string", "o"),
        5: ("mountPropagation", "string", "po"), 6: ("subPathExpr", "string", "o"),
        8: ("bindMountOptions", "string", "ro"),
    },
    "core/v1.VolumeMountStatus": {
        1: ("name", "string", ""), 2: ("mountPath", "string", ""), 3: ("readOnly", "bool", "o"),
        4: ("recursiveReadOnly", "string", "po"), 5: ("volumeStatus", "core/v1.VolumeStatus", "po"),
    },
    "core/v1.VolumeProjection": {
        1: ("secret", "core/v1.SecretProjection", "po"),
        2: ("downwardAPI", "core/v1.DownwardAPIProjection", "po"),
        3: ("configMap", "core/v1.ConfigMapProjection", "po"),
        4: ("serviceAccountToken", "core/v1.ServiceAccountTokenProjection", "po"),
        5: ("clusterTrustBundle", "core/v1.ClusterTrustBundleProjection", "po"),
        6: ("podCertificate", "core/v1.PodCertificateProjection", "po"),
    },
    "core/v1.VolumeResourceRequirements": {
        1: ("limits", "Quantity", "mo"), 2: ("requests", "Quantity", "mo"),
    },
    "core/v1.VolumeSource": {
        1: ("hostPath", "core/v1.HostPathVolumeSource", "po"),
        2: ("emptyDir", "core/v1.EmptyDirVolumeSource", "po"),
        3: ("gcePersistentDisk", "core/v1.GCEPersistentDiskVolumeSource", "po"),
        4: ("awsElasticBlockStore", "core/v1.AWSElasticBlockStoreVolumeSource", "po"),
        5: ("gitRepo", "core/v1.GitRepoVolumeSource", "po"),
        6: ("secret", "core/v1.SecretVolumeSource", "po"), 7: ("nfs", "core/v1.NFSVolumeSource", "po"),
        8: ("iscsi", "core/v1.ISCSIVolumeSource", "po"),
        9: ("glusterfs", "core/v1.GlusterfsVolumeSource", "po"),
        10: ("persistentVolumeClaim", "core/v1.PersistentVolumeClaimVolumeSource", "po"),
        11: ("rbd", "core/v1.RBDVolumeSource", "po"), 12: ("flexVolume", "core/v1.FlexVolumeSource", "po"),
        13: ("cinder", "core/v1.CinderVolumeSource", "po"),
        14: ("cephfs", "core/v1.CephFSVolumeSource", "po"),
        15: ("flocker", "core/v1.FlockerVolumeSource", "po"),
        16: ("downwardAPI", "core/v1.DownwardAPIVolumeSource", "po"),
        17: ("fc", "core/v1.FCVolumeSource", "po"), 18: ("azureFile", "core/v1.AzureFileVolumeSource", "po"),
        19: ("configMap", "core/v1.ConfigMapVolumeSource", "po"),
        20: ("vsphereVolume", "core/v1.VsphereVirtualDiskVolumeSource", "po"),
        21: ("quobyte", "core/v1.QuobyteVolumeSource", "po"),
        22: ("azureDisk", "core/v1.AzureDiskVolumeSource", "po"),
        23: ("photonPersistentDisk", "core/v1.PhotonPersistentDiskVolumeSource", "po"),
        26: ("projected", "core/v1.ProjectedVolumeSource", "po"),
        24: ("portworxVolume", "core/v1.PortworxVolumeSource", "po"),
        25: ("scaleIO", "core/v1.ScaleIOVolumeSource", "po"),
        27: ("storageos", "core/v1.StorageOSVolumeSource", "po"),
        28: ("csi", "core/v1.CSIVolumeSource", "po"),
        29: ("ephemeral", "core/v1.EphemeralVolumeSource", "po"),
        30: ("image", "core/v1.ImageVolumeSource", "po"),
    },
    "core/v1.VolumeStatus": {
        1: ("image", "core/v1.ImageVolumeStatus", "po"),
    },
    "core/v1.VsphereVirtualDiskVolumeSource": {
        1: ("volumePath", "string", ""), 2: ("fsType", "string", "o"),
        3: ("storagePolicyName", "string", "o"), 4: ("storagePolicyID", "string", "o"),
    },
    "core/v1.WeightedPodAffinityTerm": {
        1: ("weight", "int32", ""), 2: ("podAffinityTerm", "core/v1.PodAffinityTerm", ""),
    },
    "core/v1.WindowsSecurityContextOptions": {
        1: ("gmsaCredentialSpecName", "string", "po"), 2: ("gmsaCredentialSpec", "string", "po"),
        3: ("runAsUserName", "string", "po"), 4: ("hostProcess", "bool", "po"),
    },
    "meta/v1.Condition": {
        1: ("type", "string", ""), 2: ("status", "string", ""), 3: ("observedGeneration", "int64", "o"),
        4: ("lastTransitionTime", "Time", ""), 5: ("reason", "string", ""), 6: ("message", "string", ""),
    },
    "meta/v1.DeleteOptions": {
        1: ("gracePeriodSeconds", "int64", "po"), 2: ("preconditions", "meta/v1.Preconditions", "po"),
        3: ("orphanDependents", "bool", "po"), 4: ("propagationPolicy", "string", "po"),
        5: ("dryRun", "string", "ro"), 6: ("ignoreStoreReadErrorWithClusterBreakingPotential", "bool", "po"),
    },
    "meta/v1.FieldSelectorRequirement": {
        1: ("key", "string", ""), 2: ("operator", "string", ""), 3: ("values", "string", "ro"),
    },
    "meta/v1.LabelSelector": {
        1: ("matchLabels", "string", "mo"), 2: ("matchExpressions", "meta/v1.LabelSelectorRequirement", "ro"),
    },
    "meta/v1.LabelSelectorRequirement": {
        1: ("key", "string", ""), 2: ("operator", "string", ""), 3: ("values", "string", "ro"),
    },
    "meta/v1.ManagedFieldsEntry": {
        1: ("manager", "string", "o"), 2: ("operation", "string", "o"), 3: ("apiVersion", "string", "o"),
        4: ("time", "Time", "po"), 6: ("fieldsType", "string", "o"), 7: ("fieldsV1", "FieldsV1", "po"),
        8: ("subresource", "string", "o"),
    },
    "meta/v1.ObjectMeta": {
        1: ("name", "string", "o"), 2: ("generateName", "string", "o"), 3: ("namespace", "string", "o"),
        4: ("selfLink", "string", "o"), 5: ("uid", "string", "o"), 6: ("resourceVersion", "string", "o"),
        7: ("generation", "int64", "o"), 8: ("creationTimestamp", "Time", "oz"),
        9: ("deletionTimestamp", "Time", "po"), 10: ("deletionGracePeriodSeconds", "int64", "po"),
        11: ("labels", "string", "mo"), 12: ("annotations", "string", "mo"),
        13: ("ownerReferences", "meta/v1.OwnerReference", "ro"), 14: ("finalizers", "string", "ro"),
        17: ("managedFields", "meta/v1.ManagedFieldsEntry", "ro"),
    },
    "meta/v1.OwnerReference": {
        5: ("apiVersion", "string", ""), 1: ("kind", "string", ""), 3: ("name", "string", ""),
        4: ("uid", "string", ""), 6: ("controller", "bool", "po"), 7: ("blockOwnerDeletion", "bool", "po"),
    },
    "meta/v1.Preconditions": {
        1: ("uid", "string", "po"), 2: ("resourceVersion", "string", "po"),
    },
    "networking/v1.HTTPIngressPath": {
        1: ("path", "string", "o"), 3: ("pathType", "string", "p"),
        2: ("backend", "networking/v1.IngressBackend", ""),
    },
    "networking/v1.HTTPIngressRuleValue": {
        1: ("paths", "networking/v1.HTTPIngressPath", "r"),
    },
    "networking/v1.Ingress": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "networking/v1.IngressSpec", "o"),
        3: ("status", "networking/v1.IngressStatus", "o"),
    },
    "networking/v1.IngressBackend": {
        4: ("service", "networking/v1.IngressServiceBackend", "po"),
        3: ("resource", "core/v1.TypedLocalObjectReference", "po"),
    },
    "networking/v1.IngressLoadBalancerIngress": {
        1: ("ip", "string", "o"), 2: ("hostname", "string", "o"),
        4: ("ports", "networking/v1.IngressPortStatus", "ro"),
    },
    "networking/v1.IngressLoadBalancerStatus": {
        1: ("ingress", "networking/v1.IngressLoadBalancerIngress", "ro"),
    },
    "networking/v1.IngressPortStatus": {
        1: ("port", "int32", ""), 2: ("protocol", "string", ""), 3: ("error", "string", "po"),
    },
    "networking/v1.IngressRule": {
        1: ("host", "string", "o"), 2: ("", "networking/v1.IngressRuleValue", "i"),
    },
    "networking/v1.IngressRuleValue": {
        1: ("http", "networking/v1.HTTPIngressRuleValue", "po"),
    },
    "networking/v1.IngressServiceBackend": {
        1: ("name", "string", ""), 2: ("port", "networking/v1.ServiceBackendPort", "o"),
    },
    "networking/v1.IngressSpec": {
        4: ("ingressClassName", "string", "po"), 1: ("defaultBackend", "networking/v1.IngressBackend", "po"),
        2: ("tls", "networking/v1.IngressTLS", "ro"), 3: ("rules", "networking/v1.IngressRule", "ro"),
    },
    "networking/v1.IngressStatus": {
        1: ("loadBalancer", "networking/v1.IngressLoadBalancerStatus", "o"),
    },
    "networking/v1.IngressTLS": {
        1: ("hosts", "string", "ro"), 2: ("secretName", "string", "o"),
    },
    "networking/v1.ServiceBackendPort": {
        1: ("name", "string", "o"), 2: ("number", "int32", "o"),
    },
    "policy/v1.Eviction": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("deleteOptions", "meta/v1.DeleteOptions", "po"),
    },
    "policy/v1.PodDisruptionBudget": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("spec", "policy/v1.PodDisruptionBudgetSpec", "o"),
        3: ("status", "policy/v1.PodDisruptionBudgetStatus", "o"),
    },
    "policy/v1.PodDisruptionBudgetSpec": {
        1: ("minAvailable", "IntOrString", "po"), 2: ("selector", "meta/v1.LabelSelector", "po"),
        3: ("maxUnavailable", "IntOrString", "po"), 4: ("unhealthyPodEvictionPolicy", "string", "po"),
    },
    "policy/v1.PodDisruptionBudgetStatus": {
        1: ("observedGeneration", "int64", "o"), 2: ("disruptedPods", "Time", "mo"),
        3: ("disruptionsAllowed", "int32", ""), 4: ("currentHealthy", "int32", ""),
        5: ("desiredHealthy", "int32", ""), 6: ("expectedPods", "int32", ""),
        7: ("conditions", "meta/v1.Condition", "ro"),
    },
    "rbac/v1.AggregationRule": {
        1: ("clusterRoleSelectors", "meta/v1.LabelSelector", "ro"),
    },
    "rbac/v1.ClusterRole": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("rules", "rbac/v1.PolicyRule", "r"),
        3: ("aggregationRule", "rbac/v1.AggregationRule", "po"),
    },
    "rbac/v1.ClusterRoleBinding": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("subjects", "rbac/v1.Subject", "ro"),
        3: ("roleRef", "rbac/v1.RoleRef", ""),
    },
    "rbac/v1.PolicyRule": {
        1: ("verbs", "string", "r"), 2: ("apiGroups", "string", "ro"), 3: ("resources", "string", "ro"),
        4: ("resourceNames", "string", "ro"), 5: ("nonResourceURLs", "string", "ro"),
    },
    "rbac/v1.Role": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("rules", "rbac/v1.PolicyRule", "r"),
    },
    "rbac/v1.RoleBinding": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("subjects", "rbac/v1.Subject", "ro"),
        3: ("roleRef", "rbac/v1.RoleRef", ""),
    },
    "rbac/v1.RoleRef": {
        1: ("apiGroup", "string", ""), 2: ("kind", "string", ""), 3: ("name", "string", ""),
    },
    "rbac/v1.Subject": {
        1: ("kind", "string", ""), 2: ("apiGroup", "string", "o"), 3: ("name", "string", ""),
        4: ("namespace", "string", "o"),
    },
    "scheduling/v1.PriorityClass": {
        1: ("metadata", "meta/v1.ObjectMeta", "o"), 2: ("value", "int32", ""),
        3: ("globalDefault", "bool", "o"), 4: ("description", "string", "o"),
        5: ("preemptionPolicy", "string", "po"),
    },
    "scheduling/v1alpha3.TopologyConstraint": {
        1: ("key", "string", ""),
    },
    "scheduling/v1alpha3.WorkloadPodGroupAllDisruptionMode": {},
    "scheduling/v1alpha3.WorkloadPodGroupBasicSchedulingPolicy": {},
    "scheduling/v1alpha3.WorkloadPodGroupDisruptionMode": {
        1: ("single", "scheduling/v1alpha3.WorkloadPodGroupSingleDisruptionMode", "po"),
        2: ("all", "scheduling/v1alpha3.WorkloadPodGroupAllDisruptionMode", "po"),
    },
    "scheduling/v1alpha3.WorkloadPodGroupGangSchedulingPolicy": {
        1: ("minCount", "int32", "po"),
    },
    "scheduling/v1alpha3.WorkloadPodGroupResourceClaim": {
        1: ("name", "string", ""), 2: ("resourceClaimName", "string", "po"),
        3: ("resourceClaimTemplateName", "string", "po"),
    },
    "scheduling/v1alpha3.WorkloadPodGroupSchedulingConstraints": {
        1: ("topology", "scheduling/v1alpha3.TopologyConstraint", "ro"),
    },
    "scheduling/v1alpha3.WorkloadPodGroupSchedulingPolicy": {
        1: ("basic", "scheduling/v1alpha3.WorkloadPodGroupBasicSchedulingPolicy", "po"),
        2: ("gang", "scheduling/v1alpha3.WorkloadPodGroupGangSchedulingPolicy", "po"),
    },
    "scheduling/v1alpha3.WorkloadPodGroupSingleDisruptionMode": {},
}
# fmt: on
