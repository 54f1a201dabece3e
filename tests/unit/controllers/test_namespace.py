"""Namespace controller: emptying a Terminating namespace, status conditions, finalize.

The FakeClient is extended so that deleting an object that carries finalizers (or a
running pod with a grace period) only marks it, as the apiserver does; time is a fixed
clock. Tests run `sync(name)` and assert the deletes, the status conditions and the
`finalize` write.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from podplane.api.errors import ApiError
from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.controllers.manager import ControllerContext
from podplane.controllers.namespace import OK_CONDITIONS, new, update_conditions

DELETED_AT = "2026-01-01T00:00:00Z"
T0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


class GracefulFakeClient(FakeClient):
    """Deleting an object with finalizers, or a pod with a grace period, only marks it."""

    async def list(self, info, namespace=None, **kw):
        # FakeClient.list sorts store keys by (namespace, name) and fails when cluster-scoped
        # keys (namespace None) sit beside namespaced ones: keep the other kinds' cluster-scoped
        # objects out of the way while listing.
        hidden = {k: v for k, v in self.objects.items() if k[2] is None and k[:2] != (info.group, info.plural)}
        for k in hidden:
            del self.objects[k]
        try:
            return await super().list(info, namespace, **kw)
        finally:
            self.objects.update(hidden)

    async def delete(self, info, name, namespace=None, **options):
        current = self.objects.get(self._key(info, namespace, name))
        graceful = info.plural == "pods" and (current or {}).get("spec", {}).get("terminationGracePeriodSeconds")
        if current is not None and (current["metadata"].get("finalizers") or graceful):
            self._record("delete", info, namespace, name, **{k: v for k, v in options.items() if v is not None})
            current["metadata"].setdefault("deletionTimestamp", DELETED_AT)
            return current
        return await super().delete(info, name, namespace, **options)


def namespace(name: str = "doomed", *, deleting: bool = True, phase: str = "Terminating",
              finalizers: tuple[str, ...] = ("kubernetes",)) -> dict:
    meta: dict = {"name": name, "uid": f"uid-{name}"}
    if deleting:
        meta["deletionTimestamp"] = DELETED_AT
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta,
            "spec": {"finalizers": list(finalizers)}, "status": {"phase": phase}}


def configmap(name: str, ns: str = "doomed", **meta) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, **meta}}


def pod(name: str, ns: str = "doomed", grace: int | None = None, **meta) -> dict:
    spec: dict = {"containers": [{"name": "c", "image": "nginx"}]}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, **meta}, "spec": spec,
            "status": {"phase": "Running"}}


class Fixture:
    def __init__(self, *objects: dict, now: float = T0 + 1) -> None:
        self.client = GracefulFakeClient()
        self.now = now
        self.ctrl = new(ControllerContext(client=self.client, informers=InformerFactory(self.client),
                                          clock=lambda: self.now))
        self.requeued: list[tuple[str, float]] = []
        self.ctrl.queue.add_after = lambda key, delay: self.requeued.append((key, delay))
        for o in objects:
            info = self.client.registry.by_group_kind(o["apiVersion"].rpartition("/")[0], o["kind"])
            self.client.seed(info, o)

    def stored_ns(self, name: str = "doomed") -> dict | None:
        return self.client.stored(self.client.resource("", "namespaces"), name)

    def conditions(self, name: str = "doomed") -> dict[str, dict]:
        status_writes = [a.obj for a in self.client.actions_for("update", "namespaces/status")]
        return {c["type"]: c for c in status_writes[-1]["status"]["conditions"]} if status_writes else {}

    def deletes(self) -> list[tuple[str, str]]:
        return [(a.resource, a.name) for a in self.client.actions if a.verb == "delete"]


async def test_namespace_not_being_deleted_is_left_alone():
    f = Fixture(namespace(deleting=False, phase="Active"), configmap("keep"))
    await f.ctrl.sync("doomed")
    assert f.client.verbs() == ["get namespaces"]


async def test_gone_namespace_is_ignored():
    f = Fixture()
    await f.ctrl.sync("doomed")
    assert f.client.verbs() == ["get namespaces"]


async def test_content_is_deleted_then_the_namespace_finalized():
    f = Fixture(namespace(), configmap("a"), configmap("b"), pod("p"), configmap("other", ns="default"))
    await f.ctrl.sync("doomed")
    assert sorted(f.deletes()) == [("configmaps", "a"), ("configmaps", "b"), ("pods", "p")]
    assert all(a.options["propagation_policy"] == "Background" for a in f.client.actions if a.verb == "delete")
    finalize = f.client.actions_for("update", "namespaces/finalize")
    assert len(finalize) == 1 and finalize[0].obj["spec"]["finalizers"] == []
    conditions = f.conditions()
    assert set(conditions) == set(OK_CONDITIONS)
    assert all(c["status"] == "False" for c in conditions.values())
    assert conditions["NamespaceContentRemaining"]["reason"] == "ContentRemoved"
    assert f.client.stored(f.client.resource("", "configmaps"), "other", "default") is not None
    assert f.requeued == []


async def test_other_namespace_finalizers_are_kept_on_finalize():
    f = Fixture(namespace(finalizers=("kubernetes", "example.com/audit")))
    await f.ctrl.sync("doomed")
    finalize = f.client.actions_for("update", "namespaces/finalize")[0]
    assert finalize.obj["spec"]["finalizers"] == ["example.com/audit"]


async def test_already_finalized_namespace_is_not_touched_again():
    f = Fixture(namespace(finalizers=()), configmap("a"))
    await f.ctrl.sync("doomed")
    assert f.deletes() == [] and not f.client.actions_for("update", "namespaces/finalize")


async def test_phase_is_set_to_terminating_first():
    f = Fixture(namespace(phase="Active"))
    await f.ctrl.sync("doomed")
    first_status = f.client.actions_for("update", "namespaces/status")[0].obj
    assert first_status["status"]["phase"] == "Terminating"


@pytest.mark.parametrize("now,grace,requeue_after", [
    pytest.param(T0 + 1, 30, 16, id="within-grace-waits-half-the-estimate-plus-one"),
    pytest.param(T0 + 1, 1, None, id="grace-elapsed-is-an-error-with-back-off"),
])
async def test_terminating_pods_hold_the_namespace(now, grace, requeue_after):
    f = Fixture(namespace(), pod("slow", grace=grace), now=now)
    if requeue_after is None:
        with pytest.raises(RuntimeError, match="unexpected items still remain"):
            await f.ctrl.sync("doomed")
        assert f.conditions()["NamespaceDeletionContentFailure"]["status"] == "True"
    else:
        await f.ctrl.sync("doomed")
        assert f.requeued == [("doomed", requeue_after)]
    assert f.deletes() == [("pods", "slow")]
    assert not f.client.actions_for("update", "namespaces/finalize")
    remaining = f.conditions()["NamespaceContentRemaining"]
    assert (remaining["status"], remaining["reason"]) == ("True", "SomeResourcesRemain")
    assert remaining["message"] == "Some resources are remaining: pods. has 1 resource instances"


async def test_objects_held_by_finalizers_are_reported_and_waited_for():
    f = Fixture(namespace(), configmap("held", finalizers=["example.com/backup"]))
    await f.ctrl.sync("doomed")
    assert f.requeued == [("doomed", 15 // 2 + 1)]
    conditions = f.conditions()
    assert conditions["NamespaceFinalizersRemaining"]["status"] == "True"
    assert conditions["NamespaceFinalizersRemaining"]["message"] == (
        "Some finalizers are remaining: example.com/backup in 1 resource instances")
    assert not f.client.actions_for("update", "namespaces/finalize")


async def test_delete_failure_is_reported_and_retried():
    f = Fixture(namespace(), configmap("a"))
    f.client.fail("delete", "configmaps", ApiError(500, "InternalError", "etcd is sad"))
    with pytest.raises(RuntimeError, match="etcd is sad"):
        await f.ctrl.sync("doomed")
    failure = f.conditions()["NamespaceDeletionContentFailure"]
    assert (failure["status"], failure["reason"]) == ("True", "ContentDeletionFailed")
    assert "configmaps: etcd is sad" in failure["message"]
    assert not f.client.actions_for("update", "namespaces/finalize")


async def test_finalize_conflict_is_retried_with_a_fresh_read():
    f = Fixture(namespace())
    f.client.fail("update", "namespaces/finalize", ApiError(409, "Conflict", "stale"))
    await f.ctrl.sync("doomed")
    assert len(f.client.actions_for("update", "namespaces/finalize")) == 2


async def test_custom_resources_of_established_crds_are_deleted_too():
    f = Fixture(namespace())
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com", "resourceVersion": "1"},
           "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True}]},
           "status": {"conditions": [{"type": "Established", "status": "True"}]}}
    f.ctrl.crds.replace([crd], "1")
    widgets = next(i for i in f.ctrl.namespaced_resources() if i.plural == "widgets")
    f.client.seed(widgets, {"metadata": {"name": "w", "namespace": "doomed"}})
    await f.ctrl.sync("doomed")
    assert ("widgets", "w") in f.deletes()


def test_update_conditions_keeps_transition_time_when_status_is_unchanged():
    status: dict = {}
    assert update_conditions(status, {}, "t1")
    assert not update_conditions(status, {}, "t2")
    assert update_conditions(status, {"NamespaceContentRemaining": ("SomeResourcesRemain", "x")}, "t3")
    by_type = {c["type"]: c for c in status["conditions"]}
    assert by_type["NamespaceContentRemaining"]["lastTransitionTime"] == "t3"
    assert by_type["NamespaceDeletionContentFailure"]["lastTransitionTime"] == "t1"
