"""VolumeBinding: claim checks, PV node affinity, WaitForFirstConsumer, PreBind writes."""

from __future__ import annotations

import asyncio

import pytest

from podplane.scheduler.framework import CycleState, PodInfo
from podplane.scheduler.plugins import volume_binding

from .builders import Harness, make_node, make_pod

WFFC = {"metadata": {"name": "local", "resourceVersion": "1"}, "provisioner": "podplane.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer"}
STATIC = {"metadata": {"name": "static", "resourceVersion": "1"}, "provisioner": "kubernetes.io/no-provisioner",
          "volumeBindingMode": "WaitForFirstConsumer"}
IMMEDIATE = {"metadata": {"name": "fast", "resourceVersion": "1"}, "provisioner": "x", "volumeBindingMode": "Immediate"}


def pvc(name: str, cls: str | None = "local", volume: str = "", size: str = "1Gi") -> dict:
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    claim = {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "1"},
             "spec": spec, "status": {"phase": "Pending"}}
    if volume:
        claim["spec"]["volumeName"] = volume
        claim["status"]["phase"] = "Bound"
    return claim


def pv(name: str, node: str | None = None, cls: str = "static", size: str = "5Gi") -> dict:
    spec = {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": cls}
    if node:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
    return {"metadata": {"name": name, "resourceVersion": "1"}, "spec": spec, "status": {"phase": "Available"}}


def using(*claims: str) -> dict:
    return make_pod("p", volumes=[{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims])


def setup(claims=(), volumes=(), classes=(WFFC, STATIC, IMMEDIATE)) -> tuple[Harness, volume_binding.VolumeBinding]:
    h = Harness()
    h.nodes(make_node("n1"), make_node("n2"))
    h.seed("storage.k8s.io", "storageclasses", *classes)
    h.seed("", "persistentvolumeclaims", *claims)
    h.seed("", "persistentvolumes", *volumes)
    return h, volume_binding.new(h.handle)


@pytest.mark.parametrize("claims,volumes,pod,want", [
    pytest.param([], [], make_pod("p"), {"n1": None, "n2": None}, id="no-volumes"),
    pytest.param([], [], using("data"),
                 {"n1": 'prefilter UNSCHEDULABLE_AND_UNRESOLVABLE: persistentvolumeclaim "data" not found',
                  "n2": 'prefilter UNSCHEDULABLE_AND_UNRESOLVABLE: persistentvolumeclaim "data" not found'},
                 id="missing-claim"),
    pytest.param([pvc("data", "fast")], [], using("data"),
                 {"n1": "prefilter UNSCHEDULABLE_AND_UNRESOLVABLE: pod has unbound immediate PersistentVolumeClaims",
                  "n2": "prefilter UNSCHEDULABLE_AND_UNRESOLVABLE: pod has unbound immediate PersistentVolumeClaims"},
                 id="unbound-immediate"),
    pytest.param([pvc("data", volume="pv-1")], [pv("pv-1", node="n2")], using("data"),
                 {"n1": "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) had volume node affinity conflict", "n2": None},
                 id="bound-pv-node-affinity"),
    pytest.param([pvc("data")], [], using("data"), {"n1": None, "n2": None}, id="wffc-dynamic-provisioning"),
    pytest.param([pvc("data", "static")], [pv("local-1", node="n1")], using("data"),
                 {"n1": None, "n2": "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) didn't find available persistent "
                                    "volumes to bind"}, id="wffc-static-pv-on-one-node"),
    pytest.param([pvc("data", "static", size="10Gi")], [pv("local-1", node="n1")], using("data"),
                 {"n1": "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) didn't find available persistent volumes to bind",
                  "n2": "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) didn't find available persistent volumes to bind"},
                 id="static-pv-too-small"),
])
def test_filter(claims, volumes, pod, want):
    h, plugin = setup(claims, volumes)
    assert h.filter(plugin, pod) == want


def test_claim_without_class_uses_the_default_class():
    default = {**WFFC, "metadata": {"name": "local", "resourceVersion": "1",
                                    "annotations": {volume_binding.DEFAULT_CLASS_ANNOTATION: "true"}}}
    h, plugin = setup([pvc("data", cls=None)], classes=(default,))
    assert h.filter(plugin, using("data")) == {"n1": None, "n2": None}


async def test_pre_bind_selects_the_node_and_waits_for_the_claim():
    h, plugin = setup([pvc("data")])
    h.client.seed(h.client.resource("", "persistentvolumeclaims"), pvc("data"))
    info, state = PodInfo(using("data")), CycleState()
    assert plugin.pre_filter(state, info) is None
    assert plugin.filter(state, info, h.cache.nodes["n2"]) is None
    plugin.reserve(state, info, "n2")
    task = asyncio.create_task(plugin.pre_bind(state, info, "n2"))
    await asyncio.sleep(0.01)
    assert not task.done()  # waits for the PV controller
    patch = h.client.actions_for("patch", "persistentvolumeclaims")[0]
    assert patch.obj == {"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "n2"}}}
    bound = pvc("data", volume="pvc-uid-data")
    bound["metadata"]["resourceVersion"] = "2"
    h.informers.resource("", "persistentvolumeclaims").replace([bound], "3")
    assert await asyncio.wait_for(task, 2) is None


async def test_pre_bind_claims_a_static_volume_and_times_out_if_never_bound():
    h, plugin = setup([pvc("data", "static")], [pv("local-1", node="n1")])
    h.client.seed(h.client.resource("", "persistentvolumes"), pv("local-1", node="n1"))
    plugin.bind_timeout = 0.05
    info, state = PodInfo(using("data")), CycleState()
    plugin.pre_filter(state, info)
    assert plugin.filter(state, info, h.cache.nodes["n1"]) is None
    plugin.reserve(state, info, "n1")
    status = await plugin.pre_bind(state, info, "n1")
    patch = h.client.actions_for("patch", "persistentvolumes")[0]
    assert patch.obj["spec"]["claimRef"]["name"] == "data"
    assert status is not None and "timed out" in status.message
    plugin.unreserve(state, info, "n1")
    assert plugin._assumed_pvs == {}
