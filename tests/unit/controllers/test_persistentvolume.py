"""PersistentVolume controller: binding decisions, WaitForFirstConsumer, local-path provisioning,
default class, lost claims, release and reclaim."""

from __future__ import annotations

import pytest

from podplane.api.errors import ApiError
from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.controllers.persistentvolume import PersistentVolumeController
from podplane.controllers.persistentvolume.binding import (
    ANN_BIND_COMPLETED,
    ANN_BOUND_BY_CONTROLLER,
    ANN_DEFAULT_CLASS,
    ANN_PROVISIONED_BY,
    ANN_SELECTED_NODE,
    ANN_STORAGE_PROVISIONER,
    default_class,
    find_best_match,
    node_affinity_admits,
    volume_mismatch,
)
from podplane.controllers.persistentvolume.localpath import PROVISIONER

ROOT = "/var/lib/podplane/storage"
UNSET = object()


# ---------------------------------------------------------------------------------- builders

def make_pvc(name: str = "data", *, size: str = "1Gi", modes: tuple[str, ...] = ("ReadWriteOnce",),
             cls=UNSET, volume_name: str | None = None, annotations: dict | None = None,
             selector: dict | None = None, phase: str = "Pending", mode: str | None = None) -> dict:
    spec: dict = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}
    if cls is not UNSET:
        spec["storageClassName"] = cls
    if volume_name:
        spec["volumeName"] = volume_name
    if selector is not None:
        spec["selector"] = selector
    if mode:
        spec["volumeMode"] = mode
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "annotations": annotations or {}},
            "spec": spec, "status": {"phase": phase}}


def make_pv(name: str, *, size: str = "1Gi", modes: tuple[str, ...] = ("ReadWriteOnce",), cls: str = "",
            claim: dict | None = None, claim_uid: str | None = None, phase: str = "Available",
            policy: str = "Retain", labels: dict | None = None, host: str | None = None,
            annotations: dict | None = None, mode: str | None = None, deleting: bool = False) -> dict:
    spec: dict = {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls,
                  "persistentVolumeReclaimPolicy": policy, "hostPath": {"path": f"/data/{name}"}}
    if claim is not None:
        spec["claimRef"] = {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": "ns",
                            "name": claim["metadata"]["name"],
                            "uid": claim["metadata"]["uid"] if claim_uid is None else claim_uid}
    if host:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}]}]}}
    if mode:
        spec["volumeMode"] = mode
    meta: dict = {"name": name, "uid": f"uid-{name}", "labels": labels or {}, "annotations": annotations or {}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": meta, "spec": spec,
            "status": {"phase": phase}}


def make_class(name: str = "local-path", *, mode: str = "WaitForFirstConsumer", provisioner: str = PROVISIONER,
               default: bool = True, created: str = "2026-01-01T00:00:00Z") -> dict:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name, "creationTimestamp": created,
                         "annotations": {ANN_DEFAULT_CLASS: "true"} if default else {}},
            "provisioner": provisioner, "reclaimPolicy": "Delete", "volumeBindingMode": mode}


def make_pod(name: str, claim: str = "data", node: str | None = None) -> dict:
    spec: dict = {"containers": [{"name": "c"}], "volumes": [{"name": "v", "persistentVolumeClaim": {
        "claimName": claim}}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"},
            "spec": spec, "status": {"phase": "Pending"}}


def make_node(name: str, hostname: str | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": hostname or name}}}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def event(self, obj: dict, event_type: str, reason: str, message: str) -> None:
        self.events.append((reason, message))


_PLURALS = {"PersistentVolume": ("", "persistentvolumes"), "PersistentVolumeClaim": ("", "persistentvolumeclaims"),
            "StorageClass": ("storage.k8s.io", "storageclasses"), "Pod": ("", "pods"), "Node": ("", "nodes")}


class Fixture:
    def __init__(self, *objs: dict) -> None:
        self.client = FakeClient()
        self.informers = InformerFactory(self.client)
        self.recorder = Recorder()
        self.ctrl = PersistentVolumeController(client=self.client, informers=self.informers, recorder=self.recorder,
                                               local_path_root=ROOT)
        self._cache: dict[str, list[dict]] = {}
        self.add(*objs)

    def add(self, *objs: dict) -> Fixture:
        for obj in objs:
            group, plural = _PLURALS[obj["kind"]]
            stored = self.client.seed(self.client.resource(group, plural), obj)
            self._cache.setdefault(plural, []).append(stored)
            self.informers.resource(group, plural).replace(self._cache[plural], "1")
        self.client.clear_actions()
        return self

    async def sync(self, key: str) -> list[str]:
        await self.ctrl.sync(key)
        return self.client.verbs()

    def stored(self, kind: str, name: str) -> dict:
        group, plural = _PLURALS[kind]
        return self.client.stored(self.client.resource(group, plural), name, "ns" if kind != "PersistentVolume"
                                  else None)

    def reasons(self) -> list[str]:
        return [r for r, _ in self.recorder.events]


BIND = ["update persistentvolumes", "update persistentvolumes/status", "update persistentvolumeclaims",
        "update persistentvolumeclaims/status"]


# ---------------------------------------------------------------------------------- matching

CLAIM = make_pvc(size="2Gi", cls="fast")


@pytest.mark.parametrize("volumes,kw,chosen", [
    pytest.param([make_pv("big", size="5Gi", cls="fast"), make_pv("fit", size="2Gi", cls="fast"),
                  make_pv("small", size="1Gi", cls="fast")], {}, "fit", id="smallest-that-fits"),
    pytest.param([make_pv("other-class", size="2Gi", cls="slow")], {}, None, id="class-must-match"),
    pytest.param([make_pv("rox", size="2Gi", cls="fast", modes=("ReadOnlyMany",))], {}, None, id="access-modes"),
    pytest.param([make_pv("wide", size="2Gi", cls="fast", modes=("ReadWriteOnce", "ReadOnlyMany")),
                  make_pv("narrow", size="9Gi", cls="fast")], {}, "narrow", id="narrowest-modes-first"),
    pytest.param([make_pv("released", size="2Gi", cls="fast", phase="Released")], {}, None, id="not-available"),
    pytest.param([make_pv("deleting", size="2Gi", cls="fast", deleting=True)], {}, None, id="being-deleted"),
    pytest.param([make_pv("block", size="2Gi", cls="fast", mode="Block")], {}, None, id="volume-mode"),
    pytest.param([make_pv("fit", size="2Gi", cls="fast"),
                  make_pv("mine", size="8Gi", cls="other", claim=CLAIM, phase="Bound")], {}, "mine",
                 id="pre-bound-wins-regardless-of-class"),
    pytest.param([make_pv("mine-by-name", size="3Gi", cls="fast", claim=CLAIM, claim_uid="")], {}, "mine-by-name",
                 id="pre-bound-by-name-only"),
    pytest.param([make_pv("theirs", size="2Gi", cls="fast", claim=make_pvc("other"))], {}, None,
                 id="claimed-by-another"),
    pytest.param([make_pv("fit", size="2Gi", cls="fast")], {"delay_binding": True}, None,
                 id="wait-for-first-consumer-skips-unbound"),
    pytest.param([make_pv("mine", size="2Gi", cls="fast", claim=CLAIM)], {"delay_binding": True}, "mine",
                 id="wait-for-first-consumer-takes-pre-bound"),
    pytest.param([make_pv("on-0", size="2Gi", cls="fast", host="sim-0"), make_pv("on-1", size="3Gi", cls="fast",
                                                                                  host="sim-1")],
                 {"node": ("sim-1", {"kubernetes.io/hostname": "sim-1"})}, "on-1", id="node-affinity"),
    pytest.param([make_pv("mine", size="2Gi", cls="fast", claim=CLAIM, host="sim-0")],
                 {"node": ("sim-1", {"kubernetes.io/hostname": "sim-1"})}, None, id="pre-bound-on-wrong-node"),
])
def test_find_best_match(volumes, kw, chosen):
    match = find_best_match(CLAIM, volumes, **kw)
    assert (match["metadata"]["name"] if match else None) == chosen


def test_selector_limits_the_volumes_a_claim_may_take():
    claim = make_pvc(cls="", selector={"matchLabels": {"tier": "gold"}})
    volumes = [make_pv("plain"), make_pv("gold", labels={"tier": "gold"}, size="5Gi")]
    assert find_best_match(claim, volumes)["metadata"]["name"] == "gold"


@pytest.mark.parametrize("term,admits", [
    pytest.param({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}, True, id="in"),
    pytest.param({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}, False, id="notin"),
    pytest.param({"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]}, True, id="does-not-exist"),
    pytest.param({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]}, True, id="gt"),
    pytest.param({"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["4"]}]}, False, id="lt"),
    pytest.param({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}, True, id="field"),
    pytest.param({}, False, id="empty-term-matches-nothing"),
])
def test_node_affinity(term, admits):
    volume = {"spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [term]}}}}
    assert node_affinity_admits(volume, "n1", {"zone": "a", "cores": "8"}) is admits
    other = {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}
    volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"].append(other)
    assert node_affinity_admits(volume, "n1", {"zone": "a", "cores": "8"})  # terms are ORed


@pytest.mark.parametrize("volume,problem", [
    pytest.param(make_pv("v", size="1Gi", cls="fast"), "requested PV is too small", id="size"),
    pytest.param(make_pv("v", size="2Gi", cls="slow"), "storageClassName does not match", id="class"),
    pytest.param(make_pv("v", size="2Gi", cls="fast", mode="Block"), "incompatible volumeMode", id="mode"),
    pytest.param(make_pv("v", size="2Gi", cls="fast", modes=("ReadOnlyMany",)), "incompatible accessMode",
                 id="access"),
    pytest.param(make_pv("v", size="2Gi", cls="fast"), None, id="fits"),
])
def test_volume_mismatch(volume, problem):
    assert volume_mismatch(volume, CLAIM) == problem


def test_newest_default_class_wins():
    classes = [make_class("a", created="2026-01-01T00:00:00Z"), make_class("b", created="2026-02-01T00:00:00Z"),
               make_class("c", default=False, created="2026-03-01T00:00:00Z")]
    assert default_class(classes)["metadata"]["name"] == "b"
    assert default_class([make_class(default=False)]) is None


# ---------------------------------------------------------------------------------- binding

async def test_unbound_claim_binds_to_a_matching_volume():
    claim = make_pvc(cls="")
    f = Fixture(claim, make_pv("pv1", size="5Gi"))
    assert await f.sync("claim:ns/data") == BIND
    pv, pvc = f.stored("PersistentVolume", "pv1"), f.stored("PersistentVolumeClaim", "data")
    assert {k: pv["spec"]["claimRef"][k] for k in ("kind", "namespace", "name", "uid")} == {
        "kind": "PersistentVolumeClaim", "namespace": "ns", "name": "data", "uid": "uid-data"}
    assert pv["metadata"]["annotations"] == {ANN_BOUND_BY_CONTROLLER: "yes"}
    assert pv["status"]["phase"] == "Bound"
    assert pvc["spec"]["volumeName"] == "pv1"
    assert pvc["metadata"]["annotations"] == {ANN_BOUND_BY_CONTROLLER: "yes", ANN_BIND_COMPLETED: "yes"}
    assert pvc["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "5Gi"}}


async def test_bound_claim_in_steady_state_writes_nothing():
    claim = make_pvc(cls="", volume_name="pv1", phase="Bound",
                     annotations={ANN_BIND_COMPLETED: "yes", ANN_BOUND_BY_CONTROLLER: "yes"})
    claim["status"] = {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}
    pv = make_pv("pv1", claim=claim, phase="Bound", annotations={ANN_BOUND_BY_CONTROLLER: "yes"})
    f = Fixture(claim, pv)
    assert await f.sync("claim:ns/data") == []
    assert await f.sync("volume:pv1") == []


async def test_user_pre_bound_volume_is_bound_without_the_controller_annotation():
    claim = make_pvc(cls="")
    f = Fixture(claim, make_pv("reserved", claim=claim, claim_uid=""))
    assert await f.sync("claim:ns/data") == BIND
    assert ANN_BOUND_BY_CONTROLLER not in f.stored("PersistentVolume", "reserved")["metadata"]["annotations"]
    assert f.stored("PersistentVolume", "reserved")["spec"]["claimRef"]["uid"] == "uid-data"


@pytest.mark.parametrize("volumes,reason,verbs", [
    pytest.param([], None, [], id="named-volume-missing-stays-pending"),
    pytest.param([make_pv("pv1", size="100Mi")], "VolumeMismatch", [], id="named-volume-too-small"),
    pytest.param([make_pv("pv1", claim=make_pvc("other"), phase="Bound")], "FailedBinding", [],
                 id="named-volume-taken"),
    pytest.param([make_pv("pv1")], None, BIND, id="named-volume-binds"),
])
async def test_claim_naming_a_volume(volumes, reason, verbs):
    f = Fixture(make_pvc(cls="", volume_name="pv1"), *volumes)
    assert await f.sync("claim:ns/data") == verbs
    assert f.reasons() == ([reason] if reason else [])


@pytest.mark.parametrize("volumes,reason", [
    pytest.param([], "ClaimLost", id="volume-deleted"),
    pytest.param([make_pv("pv1", claim=make_pvc("other"), phase="Bound")], "ClaimMisbound", id="volume-elsewhere"),
])
async def test_bound_claim_becomes_lost(volumes, reason):
    claim = make_pvc(cls="", volume_name="pv1", phase="Bound", annotations={ANN_BIND_COMPLETED: "yes"})
    f = Fixture(claim, *volumes)
    assert await f.sync("claim:ns/data") == ["update persistentvolumeclaims/status"]
    assert f.stored("PersistentVolumeClaim", "data")["status"]["phase"] == "Lost"
    assert f.reasons() == [reason]


# ---------------------------------------------------------------------------------- provisioning

async def test_wait_for_first_consumer_without_a_pod_waits():
    f = Fixture(make_class(), make_pvc(cls="local-path"))
    assert await f.sync("claim:ns/data") == []
    assert f.recorder.events == [("WaitForFirstConsumer", "waiting for first consumer to be created before binding")]


async def test_wait_for_first_consumer_names_the_unscheduled_pod():
    f = Fixture(make_class(), make_pvc(cls="local-path"), make_pod("web-0"))
    await f.sync("claim:ns/data")
    assert f.recorder.events == [("WaitForPodScheduled", "waiting for pod web-0 to be scheduled")]


async def test_scheduled_consumer_gets_a_local_path_volume_on_its_node():
    f = Fixture(make_class(), make_pvc(cls="local-path"), make_pod("web-0", node="sim-1"),
                make_node("sim-1", hostname="host-1"))
    verbs = await f.sync("claim:ns/data")
    assert verbs == ["update persistentvolumeclaims", "create persistentvolumes", "update persistentvolumes/status",
                     "update persistentvolumeclaims", "update persistentvolumeclaims/status"]
    pv = f.stored("PersistentVolume", "pvc-uid-data")
    assert pv["metadata"]["annotations"] == {ANN_PROVISIONED_BY: PROVISIONER}
    assert pv["spec"]["hostPath"] == {"path": f"{ROOT}/pvc-uid-data", "type": "DirectoryOrCreate"}
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"] == [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["host-1"]}]}]
    assert (pv["spec"]["capacity"], pv["spec"]["storageClassName"], pv["spec"]["persistentVolumeReclaimPolicy"]) == (
        {"storage": "1Gi"}, "local-path", "Delete")
    assert pv["spec"]["claimRef"]["uid"] == "uid-data" and pv["status"]["phase"] == "Bound"
    pvc = f.stored("PersistentVolumeClaim", "data")
    assert pvc["metadata"]["annotations"][ANN_STORAGE_PROVISIONER] == PROVISIONER
    assert (pvc["spec"]["volumeName"], pvc["status"]["phase"]) == ("pvc-uid-data", "Bound")
    assert f.reasons() == ["Provisioning", "ProvisioningSucceeded"]


async def test_selected_node_annotation_is_honoured():
    f = Fixture(make_class(), make_pvc(cls="local-path", annotations={ANN_SELECTED_NODE: "sim-2"}))
    await f.sync("claim:ns/data")
    pv = f.stored("PersistentVolume", "pvc-uid-data")
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["sim-2"]


async def test_scheduled_consumer_binds_a_static_volume_on_its_node_first():
    f = Fixture(make_class(), make_pvc(cls="local-path"), make_pod("web-0", node="sim-1"), make_node("sim-1"),
                make_pv("static-0", cls="local-path", host="sim-0"), make_pv("static-1", cls="local-path",
                                                                               host="sim-1"))
    assert await f.sync("claim:ns/data") == BIND
    assert f.stored("PersistentVolumeClaim", "data")["spec"]["volumeName"] == "static-1"


async def test_immediate_class_provisions_at_once_without_node_affinity():
    f = Fixture(make_class("now", mode="Immediate", default=False), make_pvc(cls="now"))
    await f.sync("claim:ns/data")
    pv = f.stored("PersistentVolume", "pvc-uid-data")
    assert "nodeAffinity" not in pv["spec"] and pv["spec"]["storageClassName"] == "now"


async def test_claim_without_class_gets_the_default_class():
    f = Fixture(make_class(), make_pvc())
    assert await f.sync("claim:ns/data") == ["update persistentvolumeclaims"]
    assert f.stored("PersistentVolumeClaim", "data")["spec"]["storageClassName"] == "local-path"


async def test_refused_default_class_assignment_still_provisions_in_the_default_class():
    f = Fixture(make_class(mode="Immediate"), make_pvc())
    f.client.fail("update", "persistentvolumeclaims", ApiError(422, "Invalid", "spec is immutable"))
    await f.sync("claim:ns/data")
    assert f.stored("PersistentVolume", "pvc-uid-data")["spec"]["storageClassName"] == "local-path"
    assert f.stored("PersistentVolumeClaim", "data")["status"]["phase"] == "Bound"


async def test_no_volume_and_no_class_reports_failed_binding():
    f = Fixture(make_pvc())
    assert await f.sync("claim:ns/data") == []
    assert f.reasons() == ["FailedBinding"]


async def test_external_provisioner_is_asked_not_impersonated():
    f = Fixture(make_class("ebs", mode="Immediate", provisioner="ebs.csi.aws.com", default=False), make_pvc(cls="ebs"))
    assert await f.sync("claim:ns/data") == ["update persistentvolumeclaims"]
    assert f.stored("PersistentVolumeClaim", "data")["metadata"]["annotations"][ANN_STORAGE_PROVISIONER] == \
        "ebs.csi.aws.com"
    assert f.reasons() == ["ExternalProvisioning"]


async def test_unknown_class_reports_provisioning_failed():
    f = Fixture(make_pvc(cls="missing"))
    assert await f.sync("claim:ns/data") == []
    assert f.reasons() == ["ProvisioningFailed"]


# ---------------------------------------------------------------------------------- volumes

@pytest.mark.parametrize("volume,verbs,phase", [
    pytest.param(make_pv("pv1", phase="Pending"), ["update persistentvolumes/status"], "Available", id="new-volume"),
    pytest.param(make_pv("pv1", phase="Pending", claim=make_pvc(), claim_uid=""), ["update persistentvolumes/status"],
                 "Available", id="reserved-for-a-claim"),
    pytest.param(make_pv("pv1", claim=make_pvc(), phase="Bound"),
                 ["get persistentvolumeclaims", "update persistentvolumes/status"], "Released", id="claim-gone-retain"),
    pytest.param(make_pv("pv1", claim=make_pvc(), phase="Bound", policy="Delete"),
                 ["get persistentvolumeclaims", "update persistentvolumes/status", "update persistentvolumes/status"],
                 "Failed", id="claim-gone-delete-not-ours"),
    pytest.param(make_pv("pv1", claim=make_pvc(), phase="Bound", policy="Recycle"),
                 ["get persistentvolumeclaims", "update persistentvolumes/status", "update persistentvolumes/status"],
                 "Failed", id="recycle-unsupported"),
    pytest.param(make_pv("pv1", claim=make_pvc(), phase="Released"), [], "Released", id="released-stays"),
])
async def test_volume_sync(volume, verbs, phase):
    f = Fixture(volume)
    assert await f.sync("volume:pv1") == verbs
    assert f.stored("PersistentVolume", "pv1")["status"]["phase"] == phase


async def test_deleted_claim_releases_and_deletes_a_provisioned_volume():
    volume = make_pv("pvc-x", claim=make_pvc(), phase="Bound", policy="Delete",
                     annotations={ANN_PROVISIONED_BY: PROVISIONER})
    f = Fixture(volume)
    verbs = await f.sync("volume:pvc-x")
    assert verbs == ["get persistentvolumeclaims", "update persistentvolumes/status", "delete persistentvolumes"]
    assert f.client.actions_for("delete", "persistentvolumes")[0].options == {"preconditions": {"uid": "uid-pvc-x"}}


async def test_a_recreated_claim_of_the_same_name_does_not_keep_the_old_volume():
    old = make_pvc()
    new = make_pvc()
    new["metadata"]["uid"] = "uid-new"
    f = Fixture(new, make_pv("pv1", claim=old, phase="Bound"))
    await f.sync("volume:pv1")
    assert f.stored("PersistentVolume", "pv1")["status"]["phase"] == "Released"


async def test_cache_miss_is_checked_with_the_apiserver_before_releasing():
    claim = make_pvc(volume_name="pv1", annotations={ANN_BIND_COMPLETED: "yes"}, phase="Bound")
    f = Fixture(make_pv("pv1", claim=claim, phase="Bound", policy="Delete"))
    f.client.seed(f.client.resource("", "persistentvolumeclaims"), claim)  # exists, informer not there yet
    assert await f.sync("volume:pv1") == ["get persistentvolumeclaims"]  # not released


async def test_controller_bound_volume_whose_claim_went_elsewhere_is_unbound():
    claim = make_pvc(volume_name="other", annotations={ANN_BIND_COMPLETED: "yes"}, phase="Bound")
    f = Fixture(claim, make_pv("pv1", claim=claim, phase="Bound", annotations={ANN_BOUND_BY_CONTROLLER: "yes"}))
    assert await f.sync("volume:pv1") == ["update persistentvolumes", "update persistentvolumes/status"]
    pv = f.stored("PersistentVolume", "pv1")
    assert pv["spec"]["claimRef"] is None and pv["status"]["phase"] == "Available"
    assert ANN_BOUND_BY_CONTROLLER not in pv["metadata"]["annotations"]


# ---------------------------------------------------------------------------------- default class, handlers

@pytest.mark.parametrize("classes,created", [
    pytest.param([], True, id="none"),
    pytest.param([make_class("other", default=False)], True, id="no-default"),
    pytest.param([make_class("ceph")], False, id="a-default-exists"),
])
async def test_default_storage_class_is_ensured(classes, created):
    f = Fixture(*classes)
    await f.ctrl.ensure_default_class()
    made = [a.obj for a in f.client.actions_for("create", "storageclasses")]
    assert bool(made) is created
    if created:
        assert made[0]["metadata"] == {"name": "local-path", "annotations": {ANN_DEFAULT_CLASS: "true"}}
        assert (made[0]["provisioner"], made[0]["volumeBindingMode"], made[0]["reclaimPolicy"]) == (
            PROVISIONER, "WaitForFirstConsumer", "Delete")


async def test_existing_local_path_class_is_not_an_error():
    f = Fixture(make_class(default=False))  # named local-path, but not the default
    await f.ctrl.ensure_default_class()
    assert f.client.verbs() == ["create storageclasses"]


async def _drain(queue) -> list[str]:
    keys = []
    while len(queue):
        key = await queue.get()
        queue.done(key)
        keys.append(key)
    return keys


async def test_handlers_wake_claims_for_scheduled_pods_and_volumes_for_deleted_claims():
    claim = make_pvc(cls="local-path")
    f = Fixture(claim)
    await _drain(f.ctrl.queue)
    f.add(make_pod("unscheduled"))
    assert await _drain(f.ctrl.queue) == []
    f.add(make_pod("scheduled", node="sim-0"))
    assert await _drain(f.ctrl.queue) == ["claim:ns/data"]
    bound = make_pvc("bound", volume_name="pv9")
    f.add(bound)
    await _drain(f.ctrl.queue)
    f._cache["persistentvolumeclaims"] = [c for c in f._cache["persistentvolumeclaims"]
                                          if c["metadata"]["name"] != "bound"]
    f.informers.resource("", "persistentvolumeclaims").replace(f._cache["persistentvolumeclaims"], "2")
    assert await _drain(f.ctrl.queue) == ["volume:pv9"]
