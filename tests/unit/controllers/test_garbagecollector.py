"""Garbage collector: graph building from informer events and the sync decisions.

Each test seeds the FakeClient (what live GETs see) and the informer caches (what the
graph is built from), drains the work queue through `sync(uid)` and asserts the API
calls: deletes with their propagation policy and uid precondition, ownerReference and
finalizer patches.
"""

from __future__ import annotations

import pytest

from podplane.api.errors import ApiError
from podplane.api.registry import default_registry
from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.controllers.garbagecollector import custom_resources, deletable_resources, new
from podplane.controllers.manager import ControllerContext

NOW = "2026-01-01T00:00:00Z"


def ref(owner: dict, *, block: bool = True, controller: bool = True) -> dict:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": block}


def obj(api_version: str, kind: str, name: str, uid: str, *owners: dict, namespace: str | None = "ns",
        deleting: bool = False, finalizers: tuple[str, ...] = ()) -> dict:
    meta: dict = {"name": name, "uid": uid, "resourceVersion": "1"}
    if namespace:
        meta["namespace"] = namespace
    if owners:
        meta["ownerReferences"] = list(owners)
    if deleting:
        meta["deletionTimestamp"] = NOW
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def deployment(name: str, uid: str, **kw) -> dict:
    return obj("apps/v1", "Deployment", name, uid, **kw)


def replicaset(name: str, uid: str, *owners: dict, **kw) -> dict:
    return obj("apps/v1", "ReplicaSet", name, uid, *owners, **kw)


def pod(name: str, uid: str, *owners: dict, **kw) -> dict:
    return obj("v1", "Pod", name, uid, *owners, **kw)


class Fixture:
    def __init__(self) -> None:
        self.client = FakeClient()
        self.informers = InformerFactory(self.client)
        self.gc = new(ControllerContext(client=self.client, informers=self.informers))
        self.cached: dict[tuple[str, str], dict[str, dict]] = {}

    def _info(self, o: dict):
        group = o["apiVersion"].rpartition("/")[0]
        return self.client.registry.by_group_kind(group, o["kind"])

    def add(self, o: dict, *, live: bool = True, cached: bool = True) -> dict:
        """Make `o` exist for live GETs and/or in the informer cache (delivering events)."""
        info = self._info(o)
        if live:
            o = self.client.seed(info, o)
        if cached:
            self.cached.setdefault((info.group, info.plural), {})[o["metadata"]["uid"]] = o
            self._replace(info)
        return o

    def remove(self, o: dict) -> None:
        """The informer sees `o` deleted (and it is gone for live GETs too)."""
        info = self._info(o)
        self.client.objects.pop(self.client._key(info, o["metadata"].get("namespace"), o["metadata"]["name"]), None)
        self.cached.get((info.group, info.plural), {}).pop(o["metadata"]["uid"], None)
        self._replace(info)

    def _replace(self, info) -> None:
        items = list(self.cached.get((info.group, info.plural), {}).values())
        self.informers.informer(info).replace(items, "1")

    async def drain(self) -> list[str]:
        """Sync queued uids until the queue is empty; returns the uids in order."""
        synced = []
        while len(self.gc.queue):
            key = await self.gc.queue.get()
            try:
                await self.gc.sync(key)
            finally:
                self.gc.queue.done(key)
            synced.append(key)
        return synced

    def writes(self) -> list[tuple[str, str, str]]:
        return [(a.verb, a.resource, a.name) for a in self.client.actions if a.verb in ("delete", "patch")]


async def test_dependent_of_absent_owner_is_deleted_in_background_with_uid_precondition():
    f = Fixture()
    gone = replicaset("web", "rs-1")
    f.add(pod("web-a", "pod-a", ref(gone)))
    await f.drain()
    assert f.writes() == [("delete", "pods", "web-a")]
    delete = f.client.actions_for("delete", "pods")[0]
    assert delete.options == {"propagation_policy": "Background", "preconditions": {"uid": "pod-a"}}
    assert "rs-1" not in f.gc.nodes  # the virtual owner node went with the 404


async def test_dependent_of_live_owner_is_kept():
    f = Fixture()
    rs = f.add(replicaset("web", "rs-1"))
    f.add(pod("web-a", "pod-a", ref(rs)))
    f.gc.resync()
    await f.drain()
    assert f.client.verbs() == []  # owners the graph has seen alive need no live reads at all


async def test_owner_seen_by_reference_before_its_informer_is_verified_live_and_kept():
    f = Fixture()
    rs = f.add(replicaset("web", "rs-1"), cached=False)  # exists, but the RS cache lags
    f.add(pod("web-a", "pod-a", ref(rs)))
    assert not f.gc.nodes["rs-1"].observed  # a virtual node from the reference
    await f.drain()
    assert f.writes() == []
    assert f.client.verbs()[:1] == ["get replicasets"]


async def test_owner_recreated_under_the_same_name_does_not_keep_old_dependents():
    f = Fixture()
    old = replicaset("web", "rs-old")
    f.add(replicaset("web", "rs-new"))
    f.add(pod("web-a", "pod-a", ref(old)))
    await f.drain()
    assert f.writes() == [("delete", "pods", "web-a")]


async def test_owner_delete_event_enqueues_dependents_which_are_then_collected():
    f = Fixture()
    rs = f.add(replicaset("web", "rs-1"))
    f.add(pod("web-a", "pod-a", ref(rs)))
    f.add(pod("web-b", "pod-b", ref(rs)))
    await f.drain()
    f.remove(rs)
    assert sorted(await f.drain()) == ["pod-a", "pod-b"]
    assert sorted(f.writes()) == [("delete", "pods", "web-a"), ("delete", "pods", "web-b")]


async def test_dangling_reference_is_removed_while_another_owner_lives():
    f = Fixture()
    live = f.add(replicaset("live", "rs-live"))
    gone = replicaset("gone", "rs-gone")
    f.add(pod("p", "pod-1", ref(live, controller=False), ref(gone, controller=False)))
    await f.drain()
    f.gc.resync()
    await f.drain()
    assert f.writes() == [("patch", "pods", "p")]
    patch = f.client.actions_for("patch", "pods")[0].obj
    assert [r["uid"] for r in patch["metadata"]["ownerReferences"]] == ["rs-live"]
    assert patch["metadata"]["uid"] == "pod-1" and patch["metadata"]["resourceVersion"]


async def test_orphan_finalizer_strips_references_then_the_finalizer():
    f = Fixture()
    rs = f.add(replicaset("web", "rs-1", finalizers=("orphan",), deleting=True))
    f.add(pod("web-a", "pod-a", ref(rs)))
    f.add(pod("web-b", "pod-b", ref(rs)))
    await f.drain()
    assert f.writes() == [("patch", "pods", "web-a"), ("patch", "pods", "web-b"), ("patch", "replicasets", "web")]
    for name in ("web-a", "web-b"):
        assert "ownerReferences" not in f.client.stored(f.client.resource("", "pods"), name, "ns")["metadata"]
    owner_patch = f.client.actions_for("patch", "replicasets")[0].obj
    assert owner_patch["metadata"]["finalizers"] is None
    assert not any(a.verb == "delete" for a in f.client.actions)


async def test_orphaning_keeps_the_other_owners_references():
    f = Fixture()
    rs = f.add(replicaset("web", "rs-1", finalizers=("orphan", "example.com/keep"), deleting=True))
    other = f.add(deployment("other", "dep-1"))
    f.add(pod("p", "pod-1", ref(rs), ref(other, controller=False)))
    await f.drain()
    stored = f.client.stored(f.client.resource("", "pods"), "p", "ns")
    assert [r["uid"] for r in stored["metadata"]["ownerReferences"]] == ["dep-1"]
    owner_patch = f.client.actions_for("patch", "replicasets")[0].obj
    assert owner_patch["metadata"]["finalizers"] == ["example.com/keep"]


async def test_foreground_deletes_dependents_and_waits_for_blocking_ones():
    f = Fixture()
    rs = f.add(replicaset("web", "rs-1", finalizers=("foregroundDeletion",), deleting=True))
    a = f.add(pod("web-a", "pod-a", ref(rs)))
    b = f.add(pod("web-b", "pod-b", ref(rs)))
    await f.drain()
    assert sorted(f.writes()) == [("delete", "pods", "web-a"), ("delete", "pods", "web-b")]
    assert all(d.options["propagation_policy"] == "Background" for d in f.client.actions_for("delete", "pods"))
    # the pods terminate gracefully, one by one: the owner keeps its finalizer until the last is gone
    a = f.add(pod("web-a", "pod-a", ref(rs), deleting=True))
    b = f.add(pod("web-b", "pod-b", ref(rs), deleting=True))
    await f.drain()
    f.client.clear_actions()
    f.remove(a)
    await f.drain()
    assert f.writes() == []
    f.remove(b)
    await f.drain()
    assert f.writes() == [("patch", "replicasets", "web")]
    assert f.client.actions_for("patch", "replicasets")[0].obj["metadata"]["finalizers"] is None


async def test_foreground_does_not_wait_for_non_blocking_dependents():
    f = Fixture()
    rs = f.add(replicaset("web", "rs-1", finalizers=("foregroundDeletion",), deleting=True))
    f.add(pod("loose", "pod-a", ref(rs, block=False), deleting=True))  # terminating, never blocks
    await f.drain()
    assert f.writes() == [("patch", "replicasets", "web")]


async def test_foreground_propagates_to_dependents_that_have_dependents():
    f = Fixture()
    deploy = f.add(deployment("web", "dep-1", finalizers=("foregroundDeletion",), deleting=True))
    rs = f.add(replicaset("web-1", "rs-1", ref(deploy)))
    f.add(pod("web-1-a", "pod-a", ref(rs)))
    await f.drain()
    assert f.writes() == [("delete", "replicasets", "web-1")]
    assert f.client.actions_for("delete", "replicasets")[0].options["propagation_policy"] == "Foreground"


async def test_objects_being_deleted_without_foreground_are_left_to_finish():
    f = Fixture()
    f.add(pod("web-a", "pod-a", ref(replicaset("gone", "rs-1")), deleting=True))
    await f.drain()
    assert f.writes() == []


async def test_existing_orphan_finalizer_on_the_dependent_is_honoured():
    f = Fixture()
    f.add(replicaset("web", "rs-1", ref(deployment("gone", "dep-1")), finalizers=("orphan",)))
    await f.drain()
    assert f.client.actions_for("delete", "replicasets")[0].options["propagation_policy"] == "Orphan"


async def test_cluster_scoped_object_with_namespaced_owner_is_left_alone():
    f = Fixture()
    gone = replicaset("web", "rs-1")
    f.add(obj("v1", "PersistentVolume", "pv-1", "pv-uid", ref(gone), namespace=None))
    await f.drain()
    assert f.writes() == []


async def test_reference_change_moves_the_dependent_between_owners():
    f = Fixture()
    one = f.add(replicaset("one", "rs-1"))
    two = f.add(replicaset("two", "rs-2"))
    p = f.add(pod("p", "pod-1", ref(one)))
    assert f.gc.nodes["rs-1"].dependents == {"pod-1"}
    p = {**p, "metadata": {**p["metadata"], "ownerReferences": [ref(two)], "resourceVersion": "9"}}
    f.add(p)
    assert f.gc.nodes["rs-1"].dependents == set()
    assert f.gc.nodes["rs-2"].dependents == {"pod-1"}


async def test_removing_a_blocking_reference_lets_a_foreground_owner_finish():
    f = Fixture()
    rs = f.add(replicaset("web", "rs-1", finalizers=("foregroundDeletion",), deleting=True))
    p = f.add(pod("p", "pod-1", ref(rs), deleting=True))
    await f.drain()
    assert f.writes() == []  # waits for the blocking pod
    f.add({**p, "metadata": {**p["metadata"], "ownerReferences": [], "resourceVersion": "9"}})
    await f.drain()
    assert f.writes() == [("patch", "replicasets", "web")]


async def test_delete_conflict_is_retried_by_the_worker():
    f = Fixture()
    f.add(pod("web-a", "pod-a", ref(replicaset("gone", "rs-1"))))
    f.client.fail("delete", "pods", ApiError(409, "Conflict", "precondition failed"))
    with pytest.raises(ApiError):
        await f.drain()


def test_deletable_resources_skip_events_and_create_only_kinds():
    plurals = {(i.group, i.plural) for i in deletable_resources(default_registry().all())}
    assert ("", "pods") in plurals and ("apps", "replicasets") in plurals
    assert ("", "events") not in plurals
    assert ("authorization.k8s.io", "subjectaccessreviews") not in plurals


def test_custom_resources_take_the_preferred_version_of_established_crds():
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "kind": "Widget"},
                    "versions": [{"name": "v1beta1", "served": True, "storage": False},
                                 {"name": "v1", "served": True, "storage": True}]},
           "status": {"conditions": [{"type": "Established", "status": "True"}]}}
    pending = {**crd, "status": {}}
    infos = custom_resources([crd, pending])
    assert [(i.group, i.version, i.plural) for i in infos] == [("example.com", "v1", "widgets")]


WIDGETS_CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "widgets.example.com", "uid": "crd-1", "resourceVersion": "1"},
               "spec": {"group": "example.com", "scope": "Namespaced",
                        "names": {"plural": "widgets", "kind": "Widget"},
                        "versions": [{"name": "v1", "served": True, "storage": True}]},
               "status": {"conditions": [{"type": "Established", "status": "True"}]}}


async def test_custom_resource_owners_are_resolved_once_their_crd_is_served(monkeypatch):
    import asyncio

    from podplane.controllers import garbagecollector

    class IdleInformer(garbagecollector.Informer):
        async def run(self) -> None:  # the test delivers events itself
            await asyncio.Event().wait()

    monkeypatch.setattr(garbagecollector, "Informer", IdleInformer)
    f = Fixture()
    widget = obj("example.com/v1", "Widget", "w", "widget-1")
    f.add(obj("v1", "ConfigMap", "child", "cm-1", ref(widget)))
    await f.drain()
    assert f.writes() == []  # Widget is unknown: never collect on a guess
    f.informers.informer(f.client.resource("apiextensions.k8s.io", "customresourcedefinitions")).replace(
        [WIDGETS_CRD], "1")
    f.gc.sync_monitors()
    try:
        await f.drain()
        f.gc.resync()
        await f.drain()
        assert f.writes() == [("delete", "configmaps", "child")]
        assert f.client.verbs()[:2] == ["get widgets", "get configmaps"]
    finally:
        for _, _, task in f.gc._custom.values():
            task.cancel()
