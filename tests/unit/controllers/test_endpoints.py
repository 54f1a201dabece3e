"""Endpoints controller: subsets from pods, ports, readiness, labels, truncation, deletion.

Caches are seeded (not started), `sync` runs once, and the Endpoints the FakeClient
received are asserted. Time enters only through the objects' timestamps.
"""

from __future__ import annotations

import pytest

from podplane.api.errors import ApiError, Cause
from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.controllers.endpoints import (
    ANNOTATION_OVER_CAPACITY,
    build_subsets,
    new,
    repack_subsets,
    truncate_subsets,
)
from podplane.controllers.endpointslice.util import (
    ANNOTATION_LAST_CHANGE_TRIGGER_TIME,
    TriggerTimeTracker,
    find_port,
    services_to_update_on_pod_change,
    should_pod_be_in_endpoints,
)
from podplane.controllers.manager import ControllerContext

CREATED = "2026-01-01T00:00:00Z"


# -- builders ---------------------------------------------------------------------------------
def make_service(name: str = "web", *, selector: dict | None = None, ports: list[dict] | None = None,
                 cluster_ip: str = "10.43.0.10", publish_not_ready: bool = False, labels: dict | None = None,
                 svc_type: str = "ClusterIP") -> dict:
    spec: dict = {"type": svc_type, "clusterIP": cluster_ip, "ipFamilies": ["IPv4"],
                  "ports": ports if ports is not None else [
                      {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}
    if selector is not False:
        spec["selector"] = selector if selector is not None else {"app": "web"}
    if publish_not_ready:
        spec["publishNotReadyAddresses"] = True
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "creationTimestamp": CREATED,
                         "labels": labels if labels is not None else {"app": "web", "team": "a"}},
            "spec": spec}


def make_pod(name: str, ip: str | None = "10.42.0.1", *, ready: bool = True, node: str = "n1",
             labels: dict | None = None, phase: str = "Running", deleting: bool = False,
             ports: list[dict] | None = None, hostname: str = "", subdomain: str = "",
             ready_since: str = "2026-01-01T00:01:00Z") -> dict:
    meta: dict = {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                  "labels": labels if labels is not None else {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:05:00Z"
    spec: dict = {"nodeName": node, "containers": [
        {"name": "c", "image": "nginx",
         "ports": ports if ports is not None else [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]}
    if hostname:
        spec["hostname"] = hostname
    if subdomain:
        spec["subdomain"] = subdomain
    status: dict = {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": ready_since}]}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def addr(pod: str, ip: str, node: str = "n1", **extra) -> dict:
    return {"ip": ip, "nodeName": node,
            "targetRef": {"kind": "Pod", "namespace": "ns", "name": pod, "uid": f"uid-{pod}"}, **extra}


HTTP_8080 = {"name": "http", "port": 8080, "protocol": "TCP"}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: dict, event_type: str, reason: str, message: str) -> None:
        self.events.append((event_type, reason, message))


class Fixture:
    def __init__(self, client: FakeClient | None = None) -> None:
        self.client = client or FakeClient()
        self.factory = InformerFactory(self.client)
        self.ctx = ControllerContext(client=self.client, informers=self.factory)
        self.controller = new(self.ctx)
        self.recorder = Recorder()
        self.controller.recorder = self.recorder
        self.delayed: list[tuple[str, float]] = []
        self.controller.queue.add_after = lambda key, delay: self.delayed.append((key, delay))
        self._cached: dict[tuple[str, str], list[dict]] = {}

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

    def service(self, svc: dict) -> dict:
        return self.add("", "services", svc)

    def pods(self, *pods: dict) -> list[dict]:
        return [self.add("", "pods", p) for p in pods]

    async def sync(self, name: str = "web") -> None:
        await self.controller.sync(f"ns/{name}")

    def written(self) -> dict:
        """The last Endpoints object created or updated."""
        actions = [a for a in self.client.actions if a.resource == "endpoints" and a.verb in ("create", "update")]
        return actions[-1].obj


# -- subsets ------------------------------------------------------------------------------------
async def test_ready_and_not_ready_pods_and_the_named_port():
    f = Fixture()
    f.service(make_service())
    f.pods(make_pod("a", "10.42.0.1"), make_pod("b", "10.42.0.2", node="n2"),
           make_pod("c", "10.42.0.3", ready=False))
    await f.sync()
    assert f.client.verbs() == ["create endpoints"]
    ep = f.written()
    assert ep["metadata"]["name"] == "web"
    assert ep["metadata"]["labels"] == {"app": "web", "team": "a"}
    assert ep["subsets"] == [{"addresses": [addr("a", "10.42.0.1"), addr("b", "10.42.0.2", "n2")],
                              "notReadyAddresses": [addr("c", "10.42.0.3")],
                              "ports": [HTTP_8080]}]
    # first sync of a Service: the trigger time is its creation
    assert ep["metadata"]["annotations"][ANNOTATION_LAST_CHANGE_TRIGGER_TIME] == CREATED


@pytest.mark.parametrize("pod,included", [
    pytest.param(make_pod("p"), True, id="running-ready"),
    pytest.param(make_pod("p", ready=False), True, id="running-not-ready"),
    pytest.param(make_pod("p", phase="Pending", ready=False), True, id="pending-with-ip"),
    pytest.param(make_pod("p", ip=None), False, id="no-ip"),
    pytest.param(make_pod("p", phase="Succeeded", ready=False), False, id="succeeded"),
    pytest.param(make_pod("p", phase="Failed", ready=False), False, id="failed"),
    pytest.param(make_pod("p", deleting=True), False, id="terminating"),
])
async def test_which_pods_are_in_endpoints(pod, included):
    f = Fixture()
    f.service(make_service())
    f.pods(pod)
    await f.sync()
    subsets = f.written()["subsets"]
    assert bool(subsets) == included


async def test_publish_not_ready_addresses_puts_every_pod_in_addresses_even_terminating():
    f = Fixture()
    f.service(make_service(publish_not_ready=True))
    f.pods(make_pod("a", "10.42.0.1", ready=False), make_pod("b", "10.42.0.2", deleting=True))
    await f.sync()
    assert f.written()["subsets"] == [{"addresses": [addr("a", "10.42.0.1"), addr("b", "10.42.0.2")],
                                       "ports": [HTTP_8080]}]


async def test_pods_without_the_named_port_are_skipped_for_that_port():
    f = Fixture()
    f.service(make_service(ports=[{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                                  {"name": "metrics", "port": 9090, "targetPort": 9100, "protocol": "TCP"}]))
    f.pods(make_pod("a", "10.42.0.1"),
           make_pod("b", "10.42.0.2", ports=[{"name": "web", "containerPort": 8081}]))
    await f.sync()
    metrics = {"name": "metrics", "port": 9100, "protocol": "TCP"}
    subsets = f.written()["subsets"]
    # both offer the numeric port; only "a" has a port named http
    assert {"addresses": [addr("a", "10.42.0.1"), addr("b", "10.42.0.2")], "ports": [metrics]} in subsets
    assert {"addresses": [addr("a", "10.42.0.1")], "ports": [HTTP_8080]} in subsets
    assert len(subsets) == 2


async def test_hostname_when_the_pod_names_the_service_as_subdomain():
    f = Fixture()
    f.service(make_service(cluster_ip="None"))
    f.pods(make_pod("a", "10.42.0.1", hostname="a", subdomain="web"),
           make_pod("b", "10.42.0.2", hostname="b", subdomain="other"))
    await f.sync()
    ep = f.written()
    assert ep["subsets"][0]["addresses"] == [addr("a", "10.42.0.1", hostname="a"), addr("b", "10.42.0.2")]
    assert ep["metadata"]["labels"]["service.kubernetes.io/headless"] == ""


async def test_headless_service_without_ports_lists_addresses_only():
    f = Fixture()
    f.service(make_service(cluster_ip="None", ports=[]))
    f.pods(make_pod("a", "10.42.0.1"))
    await f.sync()
    assert f.written()["subsets"] == [{"addresses": [addr("a", "10.42.0.1")]}]


@pytest.mark.parametrize("svc", [
    pytest.param(make_service(selector=False), id="no-selector"),
    pytest.param(make_service(selector={}), id="empty-selector"),
    pytest.param(make_service(svc_type="ExternalName"), id="external-name"),
])
async def test_services_left_alone(svc):
    f = Fixture()
    f.service(svc)
    f.add("", "endpoints", {"metadata": {"name": "web", "namespace": "ns"},
                            "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 80}]}]})
    f.pods(make_pod("a"))
    await f.sync()
    assert f.client.verbs() == []


async def test_deleted_service_deletes_its_endpoints():
    f = Fixture()
    f.add("", "endpoints", {"metadata": {"name": "web", "namespace": "ns"}, "subsets": []})
    await f.sync()
    assert f.client.verbs() == ["delete endpoints"]
    await f.sync()  # already gone: the 404 is fine
    assert f.client.verbs() == ["delete endpoints", "delete endpoints"]


async def test_no_write_when_nothing_changed_and_update_when_it_did():
    f = Fixture()
    f.service(make_service())
    f.pods(make_pod("a", "10.42.0.1"))
    await f.sync()
    f.cache("", "endpoints", f.client.stored(f.client.resource("", "endpoints"), "web", "ns"))
    f.client.clear_actions()
    await f.sync()
    assert f.client.verbs() == []
    f.pods(make_pod("a", "10.42.0.1", ready=False, ready_since="2026-01-01T00:09:00Z"))
    await f.sync()
    assert f.client.verbs() == ["update endpoints"]
    ep = f.written()
    assert ep["subsets"] == [{"notReadyAddresses": [addr("a", "10.42.0.1")], "ports": [HTTP_8080]}]
    assert ep["metadata"]["resourceVersion"]  # a compare-and-swap update
    assert ep["metadata"]["annotations"][ANNOTATION_LAST_CHANGE_TRIGGER_TIME] == "2026-01-01T00:09:00Z"


async def test_a_cache_behind_our_own_update_waits():
    f = Fixture()
    f.service(make_service())
    f.add("", "endpoints", {"metadata": {"name": "web", "namespace": "ns"}, "subsets": []})
    f.pods(make_pod("a", "10.42.0.1"))
    await f.sync()
    assert f.client.verbs() == ["update endpoints"]
    f.client.clear_actions()
    f.pods(make_pod("b", "10.42.0.2"))
    await f.sync()  # the endpoints cache still has the version we replaced
    assert f.client.verbs() == []
    assert f.delayed == [("ns/web", 0.1)]


async def test_created_but_not_yet_cached_endpoints_are_retried_quietly():
    f = Fixture()
    f.service(make_service())
    f.client.seed(f.client.resource("", "endpoints"), {"metadata": {"name": "web", "namespace": "ns"}})
    await f.sync()
    assert f.client.verbs() == ["create endpoints"]
    assert f.delayed == [("ns/web", 0.1)]
    assert f.recorder.events == []


async def test_terminating_namespace_drops_the_create_and_other_errors_raise_with_an_event():
    f = Fixture()
    f.service(make_service())
    f.client.fail("create", "endpoints", ApiError(403, "Forbidden", "namespace ns is being terminated",
                                                  causes=[Cause("NamespaceTerminating", "")]))
    await f.sync()
    f.client.fail("create", "endpoints", ApiError(500, "InternalError", "boom"))
    with pytest.raises(ApiError):
        await f.sync()
    assert [r for _, r, _ in f.recorder.events] == ["FailedToCreateEndpoint"]


async def test_labels_follow_the_service():
    f = Fixture()
    f.service(make_service(labels={"app": "web", "team": "b"}))
    f.add("", "endpoints", {"metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
                            "subsets": []})
    await f.sync()
    assert f.written()["metadata"]["labels"] == {"app": "web", "team": "b"}


async def test_more_than_1000_addresses_are_truncated_and_annotated():
    f = Fixture()
    f.service(make_service())
    f.pods(*(make_pod(f"p{i:04d}", f"10.42.{i // 250}.{i % 250 + 1}") for i in range(1001)))
    await f.sync()
    ep = f.written()
    assert sum(len(s.get("addresses", [])) for s in ep["subsets"]) == 1000
    assert ep["metadata"]["annotations"][ANNOTATION_OVER_CAPACITY] == "truncated"


async def test_run_queues_leftover_endpoints_but_not_leader_election_records():
    f = Fixture()
    f.add("", "endpoints", {"metadata": {"name": "gone", "namespace": "ns"}})
    f.add("", "endpoints", {"metadata": {"name": "lock", "namespace": "ns",
                                         "annotations": {"control-plane.alpha.kubernetes.io/leader": "{}"}}})
    await f.controller.run()
    assert len(f.controller.queue) == 1
    assert await f.controller.queue.get() == "ns/gone"


# -- event handlers -----------------------------------------------------------------------------
def _bump(pod: dict, **changes) -> dict:
    new = make_pod(pod["metadata"]["name"], **changes)
    new["metadata"]["resourceVersion"] = str(int(pod["metadata"].get("resourceVersion") or 1) + 1)
    return new


@pytest.mark.parametrize("changes,expected", [
    pytest.param({}, set(), id="irrelevant-change"),
    pytest.param({"ready": False}, {"ns/web"}, id="readiness"),
    pytest.param({"ip": "10.42.9.9"}, {"ns/web"}, id="ip"),
    pytest.param({"deleting": True}, {"ns/web"}, id="deletion"),
    pytest.param({"labels": {"app": "api"}}, {"ns/web", "ns/api"}, id="moved-to-another-service"),
    pytest.param({"labels": {"app": "web", "x": "y"}}, set(), id="label-change-keeps-membership"),
])
async def test_pod_updates_map_to_the_services_concerned(changes, expected):
    f = Fixture()
    f.service(make_service())
    f.service(make_service("api", selector={"app": "api"}))
    f.service(make_service("manual", selector=False))
    old = make_pod("a")
    old["metadata"]["resourceVersion"] = "5"
    assert services_to_update_on_pod_change(f.controller.services, old, _bump(old, **changes)) == expected


async def test_resync_of_the_same_pod_version_queues_nothing():
    f = Fixture()
    f.service(make_service())
    pod = make_pod("a")
    assert services_to_update_on_pod_change(f.controller.services, pod, pod) == set()


# -- pure helpers ------------------------------------------------------------------------------
@pytest.mark.parametrize("target,pod_ports,expected", [
    pytest.param(8080, [], 8080, id="number"),
    pytest.param("8080", [], 8080, id="numeric-string"),
    pytest.param(None, [], 80, id="unset-means-port"),
    pytest.param("http", [{"name": "http", "containerPort": 8000}], 8000, id="named"),
    pytest.param("http", [{"name": "http", "containerPort": 8000, "protocol": "UDP"}], None, id="wrong-protocol"),
    pytest.param("http", [{"name": "web", "containerPort": 8000}], None, id="missing-name"),
])
def test_find_port(target, pod_ports, expected):
    pod = make_pod("p", ports=pod_ports)
    assert find_port(pod, {"port": 80, "targetPort": target, "protocol": "TCP"}) == expected


def test_find_port_looks_at_sidecars():
    pod = make_pod("p", ports=[])
    pod["spec"]["initContainers"] = [{"name": "side", "restartPolicy": "Always",
                                      "ports": [{"name": "proxy", "containerPort": 15001}]},
                                     {"name": "init", "ports": [{"name": "early", "containerPort": 1}]}]
    assert find_port(pod, {"port": 80, "targetPort": "proxy"}) == 15001
    assert find_port(pod, {"port": 80, "targetPort": "early"}) is None


def test_should_pod_be_in_endpoints_includes_terminating_only_on_request():
    pod = make_pod("p", deleting=True)
    assert not should_pod_be_in_endpoints(pod, False)
    assert should_pod_be_in_endpoints(pod, True)


def test_repack_groups_addresses_by_port_set_and_not_ready_wins():
    a, b = addr("a", "10.0.0.1"), addr("b", "10.0.0.2")
    p80, p90 = {"port": 80, "protocol": "TCP"}, {"port": 90, "protocol": "TCP"}
    subsets = repack_subsets([
        {"addresses": [b], "ports": [p80]}, {"addresses": [a], "ports": [p80]},
        {"addresses": [a], "ports": [p90]}, {"notReadyAddresses": [a], "ports": [p90]},
    ])
    assert {"addresses": [a, b], "ports": [p80]} in subsets
    assert {"notReadyAddresses": [a], "ports": [p90]} in subsets
    assert len(subsets) == 2
    # canonical: the same input in another order gives the same output
    assert repack_subsets(list(reversed([{"addresses": [b], "ports": [p80]}, {"addresses": [a], "ports": [p80]},
                                         {"addresses": [a], "ports": [p90]},
                                         {"notReadyAddresses": [a], "ports": [p90]}]))) == subsets


def test_truncation_keeps_ready_addresses_first_and_spreads_the_cut():
    ready = [{"ip": f"10.0.0.{i}"} for i in range(6)]
    not_ready = [{"ip": f"10.0.1.{i}"} for i in range(6)]
    subsets = [{"addresses": ready[:3], "notReadyAddresses": not_ready[:3]},
               {"addresses": ready[3:], "notReadyAddresses": not_ready[3:]}]
    assert truncate_subsets(subsets, capacity=8)
    assert sum(len(s["addresses"]) for s in subsets) == 6  # every ready address survives
    assert [len(s.get("notReadyAddresses", [])) for s in subsets] == [1, 1]
    subsets = [{"addresses": ready[:4], "notReadyAddresses": not_ready[:1]}, {"addresses": ready[4:]}]
    assert truncate_subsets(subsets, capacity=3)
    assert [len(s["addresses"]) for s in subsets] == [2, 1]
    assert all("notReadyAddresses" not in s for s in subsets)
    assert not truncate_subsets([{"addresses": ready}], capacity=6)


def test_build_subsets_counts():
    svc = make_service()
    subsets, ready, not_ready = build_subsets(svc, [make_pod("a"), make_pod("b", "10.42.0.2", ready=False)])
    assert (ready, not_ready) == (1, 1)
    assert len(subsets) == 1


def test_trigger_time_tracker():
    tracker = TriggerTimeTracker()
    svc = make_service()
    pod = make_pod("a", ready_since="2026-01-01T00:01:00Z")
    first = tracker.compute("ns/web", svc, [pod])
    assert first is not None and first.isoformat().startswith("2026-01-01T00:00:00")
    assert tracker.compute("ns/web", svc, [pod]) is None  # nothing changed since
    changed = make_pod("a", ready=False, ready_since="2026-01-01T00:03:00Z")
    other = make_pod("b", ready_since="2026-01-01T00:02:00Z")
    assert tracker.compute("ns/web", svc, [changed, other]).minute == 2  # the earliest change
    tracker.delete("ns/web")
    assert tracker.compute("ns/web", svc, [changed]).minute == 0
