"""EndpointSlice and EndpointSlice mirroring controllers.

Caches are seeded (not started), `sync` runs once, and the slices the FakeClient
received are asserted; `cache_written()` plays the informer delivering them.
"""

from __future__ import annotations

import pytest

from podplane.api.errors import ApiError
from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.controllers.endpointslice import new, new_mirroring
from podplane.controllers.endpointslice.controller import SyncError
from podplane.controllers.endpointslice.mirroring import MIRRORING_CONTROLLER_NAME
from podplane.controllers.endpointslice.reconciler import CONTROLLER_NAME, address_types, plan
from podplane.controllers.endpointslice.util import ANNOTATION_LAST_CHANGE_TRIGGER_TIME, SliceTracker
from podplane.controllers.manager import ControllerContext

from .test_endpoints import CREATED, make_pod, make_service

SLICES = ("discovery.k8s.io", "endpointslices")


def make_node(name: str, zone: str | None = None) -> dict:
    labels = {"kubernetes.io/hostname": name}
    if zone:
        labels["topology.kubernetes.io/zone"] = zone
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


def endpoint(pod: str, ip: str, node: str = "n1", *, ready: bool = True, serving: bool = True,
             terminating: bool = False, **extra) -> dict:
    return {"addresses": [ip], "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
            "targetRef": {"kind": "Pod", "namespace": "ns", "name": pod, "uid": f"uid-{pod}"},
            "nodeName": node, **extra}


HTTP = {"name": "http", "port": 8080, "protocol": "TCP"}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: dict, event_type: str, reason: str, message: str) -> None:
        self.events.append((event_type, reason, message))

    def reasons(self) -> list[str]:
        return [r for _, r, _ in self.events]


class Fixture:
    def __init__(self, *, mirroring: bool = False, max_endpoints: int | None = None) -> None:
        self.client = FakeClient()
        self.factory = InformerFactory(self.client)
        self.ctx = ControllerContext(client=self.client, informers=self.factory)
        self.controller = new_mirroring(self.ctx) if mirroring else new(self.ctx)
        if max_endpoints:
            self.controller.max_endpoints = max_endpoints
        self.recorder = Recorder()
        self.controller.recorder = self.recorder
        self.delayed: list[tuple[str, float]] = []
        self.controller.queue.add_after = lambda key, delay: self.delayed.append((key, delay))
        self._cached: dict[tuple[str, str], list[dict]] = {}
        for group, plural in (("", "nodes"), SLICES, ("", "pods"), ("", "services"), ("", "endpoints")):
            self.factory.resource(group, plural).replace([], "1")
        self.add("", "nodes", make_node("n1", "zone-a"))
        self.add("", "nodes", make_node("n2"))

    def add(self, group: str, plural: str, obj: dict) -> dict:
        stored = self.client.seed(self.client.resource(group, plural), obj)
        self.cache(group, plural, stored)
        return stored

    def cache(self, group: str, plural: str, obj: dict) -> None:
        items = [o for o in self._cached.setdefault((group, plural), [])
                 if o["metadata"]["name"] != obj["metadata"]["name"]]
        items.append(obj)
        self._cached[(group, plural)] = items
        self.factory.resource(group, plural).replace(items, "1")

    def uncache(self, group: str, plural: str, name: str) -> None:
        self._cached[(group, plural)] = [o for o in self._cached.get((group, plural), [])
                                         if o["metadata"]["name"] != name]
        self.factory.resource(group, plural).replace(self._cached[(group, plural)], "1")

    def cache_written(self) -> None:
        """Deliver the slices in the fake API to the informer, as the watch would."""
        info = self.client.resource(*SLICES)
        stored = [o for (g, p, _, _), o in self.client.objects.items() if (g, p) == SLICES]
        self._cached[SLICES] = stored
        self.factory.resource(*SLICES).replace(stored, "1")
        assert info

    def service(self, svc: dict) -> dict:
        return self.add("", "services", svc)

    def pods(self, *pods: dict) -> list[dict]:
        return [self.add("", "pods", p) for p in pods]

    async def sync(self, name: str = "web") -> None:
        await self.controller.sync(f"ns/{name}")

    def objs(self, verb: str) -> list[dict]:
        return [a.obj for a in self.client.actions_for(verb, "endpointslices")]

    def stored(self) -> list[dict]:
        return sorted((o for (g, p, _, _), o in self.client.objects.items() if (g, p) == SLICES),
                      key=lambda s: s["metadata"]["name"])


# -- EndpointSlice controller --------------------------------------------------------------------
async def test_a_slice_for_the_selected_pods():
    f = Fixture()
    svc = f.service(make_service())
    f.pods(make_pod("a", "10.42.0.1"), make_pod("b", "10.42.0.2", node="n2"),
           make_pod("c", "10.42.0.3", ready=False), make_pod("other", "10.42.0.9", labels={"app": "x"}))
    await f.sync()
    assert f.client.verbs() == ["create endpointslices"]
    slice_ = f.objs("create")[0]
    meta = slice_["metadata"]
    assert meta["generateName"] == "web-"
    assert meta["labels"] == {"app": "web", "team": "a", "kubernetes.io/service-name": "web",
                              "endpointslice.kubernetes.io/managed-by": CONTROLLER_NAME}
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                        "uid": svc["metadata"]["uid"], "controller": True,
                                        "blockOwnerDeletion": True}]
    assert meta["annotations"][ANNOTATION_LAST_CHANGE_TRIGGER_TIME] == CREATED
    assert slice_["addressType"] == "IPv4"
    assert slice_["ports"] == [HTTP]
    assert slice_["endpoints"] == [
        endpoint("a", "10.42.0.1", zone="zone-a"),
        endpoint("b", "10.42.0.2", "n2"),
        endpoint("c", "10.42.0.3", ready=False, serving=False, zone="zone-a"),
    ]


@pytest.mark.parametrize("pod,publish,conditions", [
    pytest.param(make_pod("p", deleting=True), False, {"ready": False, "serving": True, "terminating": True},
                 id="terminating-ready"),
    pytest.param(make_pod("p", deleting=True, ready=False), False,
                 {"ready": False, "serving": False, "terminating": True}, id="terminating-not-ready"),
    pytest.param(make_pod("p", ready=False), True, {"ready": True, "serving": False, "terminating": False},
                 id="publish-not-ready"),
    pytest.param(make_pod("p", deleting=True), True, {"ready": True, "serving": True, "terminating": True},
                 id="publish-terminating"),
])
async def test_endpoint_conditions(pod, publish, conditions):
    f = Fixture()
    f.service(make_service(publish_not_ready=publish))
    f.pods(pod)
    await f.sync()
    assert f.objs("create")[0]["endpoints"][0]["conditions"] == conditions


@pytest.mark.parametrize("pod", [
    pytest.param(make_pod("p", ip=None), id="no-ip"),
    pytest.param(make_pod("p", phase="Succeeded", ready=False), id="terminal"),
])
async def test_pods_left_out_give_a_placeholder_slice(pod):
    f = Fixture()
    f.service(make_service())
    f.pods(pod)
    await f.sync()
    slice_ = f.objs("create")[0]
    assert (slice_["endpoints"], slice_["ports"]) == ([], [])
    # the placeholder is kept as is on the next sync
    f.cache_written()
    f.client.clear_actions()
    await f.sync()
    assert f.client.verbs() == []


async def test_hostname_and_headless_label():
    f = Fixture()
    f.service(make_service(cluster_ip="None"))
    f.pods(make_pod("a", "10.42.0.1", hostname="a", subdomain="web"))
    await f.sync()
    slice_ = f.objs("create")[0]
    assert slice_["endpoints"][0]["hostname"] == "a"
    assert slice_["metadata"]["labels"]["service.kubernetes.io/headless"] == ""


async def test_at_most_max_endpoints_per_slice():
    f = Fixture()
    f.service(make_service())
    f.pods(*(make_pod(f"p{i:03d}", f"10.42.{i // 200}.{i % 200 + 1}") for i in range(250)))
    await f.sync()
    assert sorted(len(s["endpoints"]) for s in f.objs("create")) == [50, 100, 100]


async def test_steady_state_writes_nothing_and_changes_update_in_place():
    f = Fixture()
    f.service(make_service())
    f.pods(make_pod("a", "10.42.0.1"), make_pod("b", "10.42.0.2"))
    await f.sync()
    f.cache_written()
    f.client.clear_actions()
    await f.sync()
    assert f.client.verbs() == []
    name = f.stored()[0]["metadata"]["name"]
    # readiness change and a new pod: one update of the same slice
    f.pods(make_pod("b", "10.42.0.2", ready=False), make_pod("c", "10.42.0.3"))
    await f.sync()
    assert f.client.verbs() == ["update endpointslices"]
    updated = f.objs("update")[0]
    assert updated["metadata"]["name"] == name
    assert [e["targetRef"]["name"] for e in updated["endpoints"]] == ["a", "b", "c"]
    assert updated["endpoints"][1]["conditions"]["ready"] is False


async def test_removed_pods_leave_and_the_last_one_turns_the_slice_into_a_placeholder():
    f = Fixture()
    f.service(make_service())
    f.pods(make_pod("a", "10.42.0.1"), make_pod("b", "10.42.0.2"))
    await f.sync()
    f.cache_written()
    name = f.stored()[0]["metadata"]["name"]
    f.uncache("", "pods", "b")
    f.client.clear_actions()
    await f.sync()
    assert f.client.verbs() == ["update endpointslices"]
    assert [e["targetRef"]["name"] for e in f.objs("update")[0]["endpoints"]] == ["a"]
    f.cache_written()
    f.uncache("", "pods", "a")
    f.client.clear_actions()
    await f.sync()
    # delete + create of a placeholder become one update of the same slice
    assert f.client.verbs() == ["update endpointslices"]
    placeholder = f.objs("update")[0]
    assert placeholder["metadata"]["name"] == name
    assert (placeholder["endpoints"], placeholder["ports"]) == ([], [])


async def test_pods_with_different_ports_get_separate_slices():
    f = Fixture()
    f.service(make_service())
    f.pods(make_pod("a", "10.42.0.1"), make_pod("b", "10.42.0.2", ports=[{"name": "http", "containerPort": 9000}]))
    await f.sync()
    ports = sorted(s["ports"][0]["port"] for s in f.objs("create"))
    assert ports == [8080, 9000]


async def test_pod_on_an_unknown_node_is_skipped_and_retried():
    f = Fixture()
    f.service(make_service())
    f.pods(make_pod("a", "10.42.0.1"), make_pod("b", "10.42.0.2", node="gone"))
    await f.sync()
    assert [e["targetRef"]["name"] for e in f.objs("create")[0]["endpoints"]] == ["a"]
    assert f.delayed == [("ns/web", 1.0)]


@pytest.mark.parametrize("svc", [
    pytest.param(make_service(selector=False), id="no-selector"),
    pytest.param(make_service(svc_type="ExternalName"), id="external-name"),
])
async def test_services_without_slices(svc):
    f = Fixture()
    f.service(svc)
    f.pods(make_pod("a"))
    await f.sync()
    assert f.client.verbs() == []


async def test_a_cache_behind_our_own_create_waits_instead_of_creating_twice():
    f = Fixture()
    f.service(make_service())
    f.pods(make_pod("a", "10.42.0.1"))
    await f.sync()
    f.client.clear_actions()
    f.pods(make_pod("b", "10.42.0.2"))
    await f.sync()  # the slice informer has not seen the new slice yet
    assert f.client.verbs() == []
    assert f.delayed == [("ns/web", 0.1)]
    f.cache_written()
    await f.sync()
    assert f.client.verbs() == ["update endpointslices"]


async def test_slices_of_an_earlier_service_with_the_same_name_are_replaced():
    f = Fixture()
    f.service(make_service())
    f.add(*SLICES, {"metadata": {"name": "web-old", "namespace": "ns",
                                 "labels": {"kubernetes.io/service-name": "web",
                                            "endpointslice.kubernetes.io/managed-by": CONTROLLER_NAME},
                                 "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                      "uid": "uid-previous", "controller": True}]},
                    "addressType": "IPv4", "endpoints": [], "ports": []})
    f.pods(make_pod("a", "10.42.0.1"))
    await f.sync()
    assert f.client.verbs() == ["create endpointslices", "delete endpointslices"]


async def test_service_label_changes_reach_the_slices():
    f = Fixture()
    f.service(make_service())
    f.pods(make_pod("a", "10.42.0.1"))
    await f.sync()
    f.cache_written()
    f.service(make_service(labels={"app": "web", "team": "b"}))
    f.client.clear_actions()
    await f.sync()
    assert f.client.verbs() == ["update endpointslices"]
    assert f.objs("update")[0]["metadata"]["labels"]["team"] == "b"


async def test_failed_write_raises_with_an_event():
    f = Fixture()
    f.service(make_service())
    f.client.fail("create", "endpointslices", ApiError(500, "InternalError", "boom"))
    with pytest.raises(SyncError):
        await f.sync()
    assert f.recorder.reasons() == ["FailedToUpdateEndpointSlices"]


async def test_own_writes_do_not_requeue_but_foreign_changes_do():
    f = Fixture()
    f.service(make_service())
    f.pods(make_pod("a", "10.42.0.1"))
    await f.sync()
    while len(f.controller.queue):  # drain the handler noise of seeding
        key = await f.controller.queue.get()
        f.controller.queue.done(key)
    f.cache_written()  # the echo of our create
    assert len(f.controller.queue) == 0
    mine = f.stored()[0]
    edited = {**mine, "metadata": {**mine["metadata"], "resourceVersion": "999"}}
    f.controller._slice_updated(mine, edited)
    assert len(f.controller.queue) == 1


def test_address_types():
    assert address_types(make_service()) == ["IPv4"]
    svc = make_service(cluster_ip="fd00::10")
    svc["spec"].pop("ipFamilies")
    assert address_types(svc) == ["IPv6"]
    headless = make_service(cluster_ip="None")
    headless["spec"].pop("ipFamilies")
    assert address_types(headless) == ["IPv4", "IPv6"]


def test_plan_fills_the_unchanged_slice_that_fits_best():
    svc = make_service()
    nodes = {"n1": make_node("n1")}
    pods = [make_pod(f"p{i}", f"10.42.0.{i + 1}") for i in range(5)]
    existing = plan(svc, pods[:3], nodes.get, [], max_endpoints=4).creates
    for i, s in enumerate(existing):
        s["metadata"]["name"] = f"web-{i}"
        s["metadata"]["ownerReferences"][0]["uid"] = svc["metadata"]["uid"]
    result = plan(svc, pods[:4], nodes.get, existing, max_endpoints=4)
    assert result.creates == [] and result.deletes == []
    assert [len(s["endpoints"]) for s in result.updates] == [4]
    result = plan(svc, pods, nodes.get, existing, max_endpoints=4)
    assert [len(s["endpoints"]) for s in result.creates] == [2]  # 3 + 2 do not fit in 4


def test_slice_tracker():
    now = [0.0]
    tracker = SliceTracker(clock=lambda: now[0], ttl=10)
    created = {"metadata": {"uid": "u1", "resourceVersion": "5"}}
    tracker.update("ns/web", created)
    assert tracker.stale("ns/web", [])  # not in the cache yet
    assert tracker.stale("ns/web", [{"metadata": {"uid": "u1", "resourceVersion": "4"}}])
    assert not tracker.stale("ns/web", [created])
    assert not tracker.should_sync("ns/web", created)
    assert tracker.should_sync("ns/web", {"metadata": {"uid": "u1", "resourceVersion": "6"}})
    tracker.expect_deletion("ns/web", created)
    assert tracker.stale("ns/web", [created])
    assert tracker.handle_deletion("ns/web", created)
    assert not tracker.stale("ns/web", [])
    tracker.update("ns/web", created)
    now[0] = 11  # a write whose event never came expires
    assert not tracker.stale("ns/web", [])


# -- mirroring ---------------------------------------------------------------------------------
def manual_endpoints(name: str = "web", *, labels: dict | None = None, subsets: list[dict] | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "namespace": "ns", "uid": f"uid-ep-{name}", "labels": labels or {"a": "b"},
                         "annotations": {"note": "x", ANNOTATION_LAST_CHANGE_TRIGGER_TIME: CREATED}},
            "subsets": subsets if subsets is not None else [
                {"addresses": [{"ip": "192.0.2.1"}, {"ip": "192.0.2.2", "nodeName": "n1"}],
                 "notReadyAddresses": [{"ip": "192.0.2.3"}],
                 "ports": [{"name": "db", "port": 5432, "protocol": "TCP"}]}]}


async def test_mirrors_manual_endpoints_of_a_selectorless_service():
    f = Fixture(mirroring=True)
    f.service(make_service(selector=False))
    ep = f.add("", "endpoints", manual_endpoints())
    await f.sync()
    assert f.client.verbs() == ["create endpointslices"]
    slice_ = f.objs("create")[0]
    meta = slice_["metadata"]
    assert meta["labels"] == {"a": "b", "kubernetes.io/service-name": "web",
                              "endpointslice.kubernetes.io/managed-by": MIRRORING_CONTROLLER_NAME}
    assert meta["annotations"] == {"note": "x"}
    assert meta["ownerReferences"][0]["kind"] == "Endpoints"
    assert meta["ownerReferences"][0]["uid"] == ep["metadata"]["uid"]
    assert slice_["addressType"] == "IPv4"
    assert slice_["ports"] == [{"name": "db", "port": 5432, "protocol": "TCP"}]
    assert slice_["endpoints"] == [
        {"addresses": ["192.0.2.1"], "conditions": {"ready": True}},
        {"addresses": ["192.0.2.2"], "conditions": {"ready": True}, "nodeName": "n1"},
        {"addresses": ["192.0.2.3"], "conditions": {"ready": False}},
    ]
    # steady state, then a change updates the same slice
    f.cache_written()
    f.client.clear_actions()
    await f.sync()
    assert f.client.verbs() == []
    f.add("", "endpoints", manual_endpoints(subsets=[{"addresses": [{"ip": "192.0.2.7"}],
                                                      "ports": [{"name": "db", "port": 5432, "protocol": "TCP"}]}]))
    await f.sync()
    assert f.client.verbs() == ["update endpointslices"]
    assert f.objs("update")[0]["endpoints"] == [{"addresses": ["192.0.2.7"], "conditions": {"ready": True}}]


@pytest.mark.parametrize("svc,endpoints", [
    pytest.param(make_service(), manual_endpoints(), id="service-with-selector"),
    pytest.param(None, manual_endpoints(), id="no-service"),
    pytest.param(make_service(selector=False), None, id="endpoints-deleted"),
    pytest.param(make_service(selector=False),
                 manual_endpoints(labels={"endpointslice.kubernetes.io/skip-mirror": "true"}), id="skip-mirror"),
])
async def test_mirrored_slices_are_removed_when_mirroring_stops(svc, endpoints):
    f = Fixture(mirroring=True)
    f.service(make_service(selector=False))
    f.add("", "endpoints", manual_endpoints())
    await f.sync()
    f.cache_written()
    if svc is None:
        f.uncache("", "services", "web")
    else:
        f.service(svc)
    if endpoints is None:
        f.uncache("", "endpoints", "web")
    else:
        f.add("", "endpoints", endpoints)
    f.client.clear_actions()
    await f.sync()
    assert f.client.verbs() == ["delete endpointslices"]


async def test_mirroring_skips_invalid_addresses_with_an_event():
    f = Fixture(mirroring=True)
    f.service(make_service(selector=False))
    f.add("", "endpoints", manual_endpoints(subsets=[{"addresses": [{"ip": "not-an-ip"}, {"ip": "192.0.2.1"}],
                                                      "ports": [{"port": 80}]}]))
    await f.sync()
    assert [e["addresses"] for e in f.objs("create")[0]["endpoints"]] == [["192.0.2.1"]]
    assert f.recorder.reasons() == ["InvalidIPAddress"]


async def test_mirroring_leaves_controller_managed_slices_alone():
    f = Fixture(mirroring=True)
    f.service(make_service())
    f.add(*SLICES, {"metadata": {"name": "web-abc", "namespace": "ns",
                                 "labels": {"kubernetes.io/service-name": "web",
                                            "endpointslice.kubernetes.io/managed-by": CONTROLLER_NAME}},
                    "addressType": "IPv4", "endpoints": [], "ports": []})
    await f.sync()
    assert f.client.verbs() == []
