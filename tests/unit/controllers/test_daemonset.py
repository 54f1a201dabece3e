"""DaemonSet controller: placement, manage loop, rolling updates, history and status.

Caches are seeded (not started), `sync` runs once, and the actions the FakeClient recorded
are asserted. Time is injected through the context clock.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.client.workqueue import WorkQueue
from podplane.controllers.daemonset import new
from podplane.controllers.daemonset.history import HASH_LABEL
from podplane.controllers.daemonset.placement import (
    add_daemon_tolerations,
    node_should_run,
    pin_to_node,
    target_node,
)
from podplane.controllers.daemonset.update import plan_rolling_update, scaled_value
from podplane.controllers.manager import ControllerContext
from podplane.controllers.revisions import revision_data

NOW = 1_800_000_000.0
EARLIER = "2027-01-15T07:00:00Z"  # well before NOW


# -- builders ---------------------------------------------------------------------------------
def make_node(name: str, *, labels: dict | None = None, taints: list | None = None) -> dict:
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {}}
    if taints:
        node["spec"]["taints"] = taints
    return node


def make_ds(name: str = "agent", *, image: str = "busybox:1", strategy: dict | None = None, generation: int = 1,
            pod_spec: dict | None = None, history_limit: int | None = None) -> dict:
    spec = {"containers": [{"name": "c", "image": image}], **(pod_spec or {})}
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet",
          "metadata": {"name": name, "namespace": "ns", "generation": generation, "uid": f"uid-{name}"},
          "spec": {"selector": {"matchLabels": {"app": name}},
                   "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
                   "updateStrategy": strategy or {"type": "RollingUpdate",
                                                  "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}},
          "status": {}}
    if history_limit is not None:
        ds["spec"]["revisionHistoryLimit"] = history_limit
    return ds


def make_pod(name: str, ds: dict, node: str, *, hash_: str = "", ready: bool = True, phase: str = "Running",
             created: str = EARLIER, deleting: bool = False, generation: str | None = None) -> dict:
    labels = {"app": ds["metadata"]["name"]}
    if hash_:
        labels[HASH_LABEL] = hash_
    if generation is not None:
        labels["pod-template-generation"] = generation
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "labels": labels,
                        "creationTimestamp": created,
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                             "name": ds["metadata"]["name"], "uid": ds["metadata"]["uid"],
                                             "controller": True}]},
           "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox:1"}]},
           "status": {"phase": phase, "conditions": [
               {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": EARLIER}]}}
    if deleting:
        pod["metadata"]["deletionTimestamp"] = EARLIER
    return pod


class Fixture:
    def __init__(self) -> None:
        self.client = FakeClient()
        self.factory = InformerFactory(self.client)
        self.now = NOW
        self.ctx = ControllerContext(client=self.client, informers=self.factory, clock=lambda: self.now)
        self.controller = new(self.ctx)
        self._cached: dict[tuple[str, str], list[dict]] = {}

    def add(self, group: str, plural: str, obj: dict) -> dict:
        """Store obj in the fake API and the informer cache (same resourceVersion)."""
        stored = copy.deepcopy(self.client.seed(self.client.resource(group, plural), obj))
        items = [o for o in self._cached.setdefault((group, plural), [])
                 if o["metadata"]["name"] != stored["metadata"]["name"]]
        items.append(stored)
        self._cached[(group, plural)] = items
        self.factory.resource(group, plural).replace(items, "1")
        return stored

    def nodes(self, *nodes: dict) -> None:
        for node in nodes:
            self.add("", "nodes", node)

    def ds(self, ds: dict, *, with_revision: bool = True) -> tuple[dict, str]:
        """Seed a DaemonSet (and, by default, its current ControllerRevision); return (ds, hash)."""
        ds = self.add("apps", "daemonsets", ds)
        hash_ = "h-" + ds["metadata"]["name"] + "-" + ds["spec"]["template"]["spec"]["containers"][0]["image"][-1]
        if with_revision:
            self.add("apps", "controllerrevisions", {
                "metadata": {"name": f"{ds['metadata']['name']}-{hash_}", "namespace": "ns",
                             "labels": {"app": ds["metadata"]["name"], HASH_LABEL: hash_},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                                  "name": ds["metadata"]["name"], "uid": ds["metadata"]["uid"],
                                                  "controller": True}]},
                "data": revision_data(ds), "revision": 1})
        return ds, hash_

    def pods(self, *pods: dict) -> None:
        for pod in pods:
            self.add("", "pods", pod)

    async def sync(self, name: str = "agent") -> None:
        await self.controller.sync(f"ns/{name}")

    def verbs(self) -> list[str]:
        return [v for v in self.client.verbs() if not v.endswith(" events")]

    def created_pods(self) -> list[dict]:
        return [a.obj for a in self.client.actions_for("create", "pods")]

    def deleted_pods(self) -> list[str]:
        return sorted(a.name for a in self.client.actions_for("delete", "pods"))

    def status_writes(self) -> list[dict]:
        return [a.obj["status"] for a in self.client.actions_for("update", "daemonsets/status")]


def pinned_node(pod: dict) -> str:
    return target_node(pod)


# -- placement (pure) ---------------------------------------------------------------------------
@pytest.mark.parametrize("node,pod_spec,expected", [
    pytest.param(make_node("n"), {}, (True, True), id="plain-node"),
    pytest.param(make_node("n", labels={"disk": "ssd"}), {"nodeSelector": {"disk": "ssd"}}, (True, True),
                 id="node-selector-matches"),
    pytest.param(make_node("n"), {"nodeSelector": {"disk": "ssd"}}, (False, False), id="node-selector-mismatch"),
    pytest.param(make_node("n", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]), {},
                 (False, True), id="noschedule-taint-keeps-running-pods"),
    pytest.param(make_node("n", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]),
                 {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db"}]}, (True, True),
                 id="noschedule-taint-tolerated"),
    pytest.param(make_node("n", taints=[{"key": "dedicated", "value": "db", "effect": "NoExecute"}]), {},
                 (False, False), id="noexecute-taint-evicts"),
    pytest.param(make_node("n", taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]),
                 {}, (True, True), id="cordoned-node-still-runs-daemons"),
    pytest.param(make_node("n", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]),
                 {}, (True, True), id="not-ready-node-tolerated"),
    pytest.param(make_node("n", taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
                 {}, (False, True), id="network-unavailable-needs-host-network"),
    pytest.param(make_node("n", taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
                 {"hostNetwork": True}, (True, True), id="host-network-tolerates-network-unavailable"),
    pytest.param(make_node("n", labels={"zone": "a"}),
                 {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                     "nodeSelectorTerms": [{"matchExpressions": [
                         {"key": "zone", "operator": "NotIn", "values": ["a"]}]}]}}}},
                 (False, False), id="required-affinity-excludes"),
    pytest.param(make_node("n", labels={"cores": "8"}),
                 {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                     "nodeSelectorTerms": [{"matchExpressions": [{"key": "x", "operator": "Exists"}]},
                                           {"matchExpressions": [{"key": "cores", "operator": "Gt",
                                                                  "values": ["4"]}]}]}}}},
                 (True, True), id="affinity-terms-are-ored"),
    pytest.param(make_node("n"), {"nodeName": "other"}, (False, False), id="template-node-name"),
])
def test_node_should_run(node, pod_spec, expected):
    assert node_should_run(node, make_ds(pod_spec=pod_spec)) == expected


def test_daemon_tolerations_are_added_once():
    spec = {"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}],
            "hostNetwork": True}
    add_daemon_tolerations(spec)
    add_daemon_tolerations(spec)
    keys = [t["key"] for t in spec["tolerations"]]
    assert len(keys) == len(set(keys)) == 7
    assert "node.kubernetes.io/network-unavailable" in keys
    assert all("tolerationSeconds" not in t for t in spec["tolerations"])


def test_pin_to_node_replaces_required_terms_and_keeps_preferred():
    affinity = {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {}}]}}
    pinned = pin_to_node(affinity, "node-7")
    assert pinned["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-7"]}]}]}
    assert pinned["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0][
        "matchExpressions"], "the input must not be modified"
    assert target_node({"spec": {"affinity": pinned}}) == "node-7"


@pytest.mark.parametrize("value,total,up,expected", [
    pytest.param(2, 10, True, 2, id="int"),
    pytest.param("25%", 10, True, 3, id="percent-rounds-up"),
    pytest.param("25%", 10, False, 2, id="percent-rounds-down"),
    pytest.param(None, 10, True, 0, id="unset"),
])
def test_scaled_value(value, total, up, expected):
    assert scaled_value(value, total, up) == expected


# -- manage loop ----------------------------------------------------------------------------------
async def test_creates_one_pinned_pod_per_eligible_node():
    f = Fixture()
    f.nodes(make_node("n1"), make_node("n2"),
            make_node("tainted", taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]),
            make_node("other", labels={"role": "db"}))
    ds, hash_ = f.ds(make_ds())
    await f.sync()
    created = f.created_pods()
    assert sorted(pinned_node(p) for p in created) == ["n1", "n2", "other"]
    pod = created[0]
    assert pod["metadata"]["generateName"] == "agent-"
    assert pod["metadata"]["labels"] == {"app": "agent", HASH_LABEL: hash_, "pod-template-generation": "1"}
    assert pod["metadata"]["ownerReferences"][0]["uid"] == ds["metadata"]["uid"]
    assert "nodeName" not in pod["spec"], "the default scheduler binds daemon pods"
    keys = {t["key"] for t in pod["spec"]["tolerations"]}
    assert {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable",
            "node.kubernetes.io/unschedulable"} <= keys
    assert f.verbs()[-1] == "update daemonsets/status"
    assert f.status_writes()[-1]["desiredNumberScheduled"] == 3


async def test_tolerated_taint_gets_a_pod():
    f = Fixture()
    f.nodes(make_node("gpu", taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]))
    f.ds(make_ds(pod_spec={"tolerations": [{"key": "gpu", "operator": "Exists"}]}))
    await f.sync()
    assert [pinned_node(p) for p in f.created_pods()] == ["gpu"]


async def test_second_sync_before_the_cache_catches_up_does_not_create_twice():
    f = Fixture()
    f.nodes(make_node("n1"), make_node("n2"))
    f.ds(make_ds())
    await f.sync()
    assert len(f.created_pods()) == 2
    f.client.clear_actions()
    await f.sync()
    assert f.created_pods() == []


async def test_observed_creations_release_the_expectations():
    f = Fixture()
    f.nodes(make_node("n1"))
    ds, hash_ = f.ds(make_ds())
    await f.sync()
    created = f.client.stored(f.client.resource("", "pods"), f.created_pods()[0]["metadata"]["name"], "ns")
    f.pods(created)  # the informer delivers the new pod: creation observed
    f.client.clear_actions()
    await f.sync()
    assert f.created_pods() == [] and f.deleted_pods() == []
    assert f.status_writes()[-1]["currentNumberScheduled"] == 1


@pytest.mark.parametrize("taint,deleted", [
    pytest.param({"key": "k", "value": "v", "effect": "NoSchedule"}, [], id="noschedule-keeps-running-pod"),
    pytest.param({"key": "k", "value": "v", "effect": "NoExecute"}, ["p1"], id="noexecute-removes-pod"),
])
async def test_node_becoming_ineligible(taint, deleted):
    f = Fixture()
    ds, hash_ = f.ds(make_ds())
    f.nodes(make_node("n1", taints=[taint]))
    f.pods(make_pod("p1", ds, "n1", hash_=hash_))
    await f.sync()
    assert f.deleted_pods() == deleted
    assert f.created_pods() == []


async def test_node_losing_its_label_loses_the_pod_and_counts_misscheduled():
    f = Fixture()
    ds, hash_ = f.ds(make_ds(pod_spec={"nodeSelector": {"role": "edge"}}))
    f.nodes(make_node("n1"))
    f.pods(make_pod("p1", ds, "n1", hash_=hash_))
    await f.sync()
    assert f.deleted_pods() == ["p1"]
    assert f.status_writes()[-1]["numberMisscheduled"] == 1
    assert f.status_writes()[-1]["desiredNumberScheduled"] == 0


async def test_failed_pod_is_replaced_with_backoff():
    f = Fixture()
    ds, hash_ = f.ds(make_ds())
    f.nodes(make_node("n1"))
    f.pods(make_pod("p1", ds, "n1", hash_=hash_, phase="Failed", ready=False))
    await f.sync()
    assert f.deleted_pods() == ["p1"]
    # the same node fails again right away: in back-off, not deleted
    f.controller.deletions.forget("ns/agent")
    f.client.clear_actions()
    f.pods(make_pod("p2", ds, "n1", hash_=hash_, phase="Failed", ready=False))
    f.add("", "pods", make_pod("p1", ds, "n1", hash_=hash_, phase="Failed", ready=False, deleting=True))
    await f.sync()
    assert f.deleted_pods() == []
    f.now += 1.5  # past the initial 1 s back-off
    await f.sync()
    assert f.deleted_pods() == ["p2"]


async def test_duplicate_pods_on_a_node_keep_the_oldest():
    f = Fixture()
    ds, hash_ = f.ds(make_ds())
    f.nodes(make_node("n1"))
    f.pods(make_pod("old", ds, "n1", hash_=hash_, created="2027-01-01T00:00:00Z"),
           make_pod("new", ds, "n1", hash_=hash_, created="2027-01-02T00:00:00Z"))
    await f.sync()
    assert f.deleted_pods() == ["new"]


async def test_unscheduled_pod_for_a_vanished_node_is_deleted():
    f = Fixture()
    ds, hash_ = f.ds(make_ds())
    f.nodes(make_node("n1"))
    ghost = make_pod("ghost", ds, "gone", hash_=hash_)
    del ghost["spec"]["nodeName"]
    ghost["spec"]["affinity"] = pin_to_node(None, "gone")
    f.pods(make_pod("p1", ds, "n1", hash_=hash_), ghost)
    await f.sync()
    assert f.deleted_pods() == ["ghost"]


async def test_orphan_matching_pod_is_adopted_instead_of_duplicated():
    f = Fixture()
    ds, hash_ = f.ds(make_ds())
    f.nodes(make_node("n1"))
    orphan = make_pod("orphan", ds, "n1", hash_=hash_)
    del orphan["metadata"]["ownerReferences"]
    f.pods(orphan)
    await f.sync()
    assert "patch pods" in f.verbs()
    assert f.created_pods() == []


async def test_empty_selector_is_refused():
    f = Fixture()
    ds = make_ds()
    ds["spec"]["selector"] = {}
    f.add("apps", "daemonsets", ds)
    f.nodes(make_node("n1"))
    await f.sync()
    assert f.verbs() == []


# -- rolling update ---------------------------------------------------------------------------------
@pytest.mark.parametrize("max_unavailable,expected_deletes", [
    pytest.param(1, 1, id="one-at-a-time"),
    pytest.param(2, 2, id="two-at-a-time"),
    pytest.param("50%", 2, id="percent-of-three-rounds-up"),
])
async def test_rolling_update_deletes_within_max_unavailable(max_unavailable, expected_deletes):
    f = Fixture()
    ds, hash_ = f.ds(make_ds(image="busybox:2", generation=2,
                             strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable,
                                                                                  "maxSurge": 0}}))
    f.nodes(make_node("n1"), make_node("n2"), make_node("n3"))
    f.pods(*(make_pod(f"p{i}", ds, f"n{i}", hash_="old", generation="1") for i in (1, 2, 3)))
    await f.sync()
    assert len(f.deleted_pods()) == expected_deletes
    assert f.created_pods() == []
    assert f.status_writes()[-1]["updatedNumberScheduled"] == 0


async def test_rolling_update_waits_for_unavailable_new_pod():
    f = Fixture()
    ds, hash_ = f.ds(make_ds(image="busybox:2", generation=2))
    f.nodes(make_node("n1"), make_node("n2"))
    f.pods(make_pod("new1", ds, "n1", hash_=hash_, ready=False), make_pod("old2", ds, "n2", hash_="old"))
    await f.sync()
    assert f.deleted_pods() == [], "the not-ready new pod already uses the only unavailable slot"
    assert f.status_writes()[-1]["updatedNumberScheduled"] == 1


async def test_rolling_update_replaces_unavailable_old_pods_regardless_of_budget():
    f = Fixture()
    ds, hash_ = f.ds(make_ds(image="busybox:2", generation=2))
    f.nodes(make_node("n1"), make_node("n2"))
    f.pods(make_pod("old1", ds, "n1", hash_="old", ready=False), make_pod("old2", ds, "n2", hash_="old", ready=False))
    await f.sync()
    assert f.deleted_pods() == ["old1", "old2"]


async def test_on_delete_strategy_leaves_old_pods():
    f = Fixture()
    ds, hash_ = f.ds(make_ds(image="busybox:2", generation=2, strategy={"type": "OnDelete"}))
    f.nodes(make_node("n1"))
    f.pods(make_pod("old1", ds, "n1", hash_="old"))
    await f.sync()
    assert f.deleted_pods() == [] and f.created_pods() == []


async def test_surge_creates_new_pod_next_to_old_then_retires_old():
    f = Fixture()
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    ds, hash_ = f.ds(make_ds(image="busybox:2", generation=2, strategy=strategy))
    f.nodes(make_node("n1"), make_node("n2"))
    f.pods(make_pod("old1", ds, "n1", hash_="old"), make_pod("old2", ds, "n2", hash_="old"))
    await f.sync()
    assert f.deleted_pods() == []
    assert [pinned_node(p) for p in f.created_pods()] == ["n1"], "maxSurge 1: one extra pod at a time"

    f2 = Fixture()
    ds, hash_ = f2.ds(make_ds(image="busybox:2", generation=2, strategy=strategy))
    f2.nodes(make_node("n1"), make_node("n2"))
    f2.pods(make_pod("old1", ds, "n1", hash_="old", created="2027-01-01T00:00:00Z"),
            make_pod("new1", ds, "n1", hash_=hash_, created="2027-01-02T00:00:00Z"),
            make_pod("old2", ds, "n2", hash_="old"))
    await f2.sync()
    assert f2.deleted_pods() == ["old1"], "the new pod is available, the old one goes"


def test_plan_surge_waits_while_new_pod_is_unavailable():
    ds = make_ds(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
    now = dt.datetime.fromtimestamp(NOW, dt.UTC)
    node_to_pods = {"n1": [make_pod("old1", ds, "n1", hash_="old"), make_pod("new1", ds, "n1", hash_="h", ready=False)],
                    "n2": [make_pod("old2", ds, "n2", hash_="old")]}
    assert plan_rolling_update(ds, node_to_pods, lambda n: True, "h", None, now) == ([], [])


# -- status and history ---------------------------------------------------------------------------
async def test_status_counts_and_observed_generation():
    f = Fixture()
    ds, hash_ = f.ds(make_ds(generation=3, pod_spec={"nodeSelector": {"role": "edge"}}))
    f.nodes(make_node("n1", labels={"role": "edge"}), make_node("n2", labels={"role": "edge"}),
            make_node("n3", labels={"role": "edge"}), make_node("plain"))
    f.pods(make_pod("a", ds, "n1", hash_=hash_), make_pod("b", ds, "n2", hash_="old", ready=False),
           make_pod("c", ds, "n3", hash_=hash_, generation="3"), make_pod("stray", ds, "plain", hash_=hash_))
    # n3's pod is new; ds is mid-rollout (OnDelete keeps the plan out of the way)
    ds["spec"]["updateStrategy"] = {"type": "OnDelete"}
    f.add("apps", "daemonsets", ds)
    await f.sync()
    status = f.status_writes()[-1]
    assert status == {**status, "observedGeneration": 3, "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
                      "numberMisscheduled": 1, "numberReady": 2, "numberAvailable": 2, "numberUnavailable": 1,
                      "updatedNumberScheduled": 2}


async def test_unchanged_status_is_not_written():
    f = Fixture()
    ds = make_ds()
    ds["status"] = {"observedGeneration": 1, "desiredNumberScheduled": 1, "currentNumberScheduled": 1,
                    "numberMisscheduled": 0, "numberReady": 1, "numberAvailable": 1, "numberUnavailable": 0,
                    "updatedNumberScheduled": 1}
    ds, hash_ = f.ds(ds)
    f.nodes(make_node("n1"))
    f.pods(make_pod("p1", ds, "n1", hash_=hash_))
    await f.sync()
    assert f.verbs() == []


async def test_first_sync_records_a_controller_revision():
    f = Fixture()
    ds, _ = f.ds(make_ds(), with_revision=False)
    await f.sync()
    [create] = f.client.actions_for("create", "controllerrevisions")
    revision = create.obj
    assert revision["revision"] == 1
    assert revision["data"]["spec"]["template"]["$patch"] == "replace"
    assert revision["metadata"]["name"] == f"agent-{revision['metadata']['labels'][HASH_LABEL]}"
    assert revision["metadata"]["labels"]["app"] == "agent"
    assert revision["metadata"]["ownerReferences"][0]["uid"] == ds["metadata"]["uid"]


async def test_template_change_gets_next_revision_and_old_history_is_trimmed():
    f = Fixture()
    ds = make_ds(image="busybox:3", generation=3, history_limit=1)
    old_ds = make_ds(image="busybox:1")
    older_ds = make_ds(image="busybox:2")
    ds = f.add("apps", "daemonsets", ds)
    for number, (name, source) in enumerate([("agent-r1", old_ds), ("agent-r2", older_ds)], start=1):
        f.add("apps", "controllerrevisions", {
            "metadata": {"name": name, "namespace": "ns", "labels": {"app": "agent", HASH_LABEL: name},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent",
                                              "uid": ds["metadata"]["uid"], "controller": True}]},
            "data": revision_data(source), "revision": number})
    await f.sync()
    [create] = f.client.actions_for("create", "controllerrevisions")
    assert create.obj["revision"] == 3
    assert [a.name for a in f.client.actions_for("delete", "controllerrevisions")] == ["agent-r1"]


async def test_rollback_to_earlier_template_renumbers_its_revision():
    f = Fixture()
    ds = f.add("apps", "daemonsets", make_ds(image="busybox:1", generation=3))
    for number, image in ((1, "busybox:1"), (2, "busybox:2")):
        f.add("apps", "controllerrevisions", {
            "metadata": {"name": f"agent-r{number}", "namespace": "ns",
                         "labels": {"app": "agent", HASH_LABEL: f"r{number}"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent",
                                              "uid": ds["metadata"]["uid"], "controller": True}]},
            "data": revision_data(make_ds(image=image)), "revision": number})
    await f.sync()
    [patch] = f.client.actions_for("patch", "controllerrevisions")
    assert patch.name == "agent-r1" and patch.obj == {"revision": 3}
    assert f.client.actions_for("create", "controllerrevisions") == []


# -- handlers ------------------------------------------------------------------------------------------
async def test_new_node_enqueues_only_daemonsets_that_should_run_there():
    f = Fixture()
    f.add("apps", "daemonsets", make_ds("everywhere"))
    f.add("apps", "daemonsets", make_ds("edge-only", pod_spec={"nodeSelector": {"role": "edge"}}))
    f.controller.queue = WorkQueue("test")
    f.nodes(make_node("n9"))
    assert len(f.controller.queue) == 1
    assert await f.controller.queue.get() == "ns/everywhere"


def test_pod_added_observes_the_expected_creation():
    f = Fixture()
    ds, hash_ = f.ds(make_ds())
    f.controller.creations.expect_creations("ns/agent", 1)
    assert not f.controller.creations.satisfied("ns/agent")
    f.pods(make_pod("p1", ds, "n1", hash_=hash_))
    assert f.controller.creations.satisfied("ns/agent")


def test_graceful_and_final_deletion_count_once():
    f = Fixture()
    ds, hash_ = f.ds(make_ds())
    pod = f.add("", "pods", make_pod("p1", ds, "n1", hash_=hash_))
    pod2 = f.add("", "pods", make_pod("p2", ds, "n2", hash_=hash_))
    f.controller.deletions.expect_deletions("ns/agent", 2)
    deleting = copy.deepcopy(pod)
    deleting["metadata"]["deletionTimestamp"] = EARLIER
    deleting["metadata"]["resourceVersion"] = "99"
    f.add("", "pods", deleting)
    f.factory.resource("", "pods").replace([pod2], "2")  # p1 is gone for good
    assert not f.controller.deletions.satisfied("ns/agent"), "p1 counted once; p2 still pending"
