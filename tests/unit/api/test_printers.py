"""Server-side Table printing: cells as upstream printers.go / tableconvertor produce them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from podplane.api.errors import ApiError
from podplane.api.printers import (
    build_table,
    column_definitions,
    human_duration,
    row_cells,
    row_conditions,
    short_human_duration,
)
from podplane.api.registry import ResourceInfo, default_registry

REG = default_registry()
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def info(group: str, plural: str) -> ResourceInfo:
    found = REG.by_group_resource(group, plural)
    assert found, (group, plural)
    return found[0]


def ago(seconds: float) -> str:
    t = NOW - timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str = "x", created: float | None = 10, **extra) -> dict:
    m = {"name": name, "namespace": "default", "uid": "u-1", "resourceVersion": "7"}
    if created is not None:
        m["creationTimestamp"] = ago(created)
    m.update(extra)
    return m


PODS = info("", "pods")


# ------------------------------------------------------------------- durations


@pytest.mark.parametrize("delta, expected", [
    pytest.param(timedelta(0), "0s", id="zero"),
    pytest.param(timedelta(seconds=-1.5), "0s", id="skew-tolerated"),
    pytest.param(timedelta(seconds=-2), "<invalid>", id="future"),
    pytest.param(timedelta(seconds=5.9), "5s", id="5s"),
    pytest.param(timedelta(seconds=119), "119s", id="119s"),
    pytest.param(timedelta(seconds=120), "2m", id="2m"),
    pytest.param(timedelta(seconds=200), "3m20s", id="3m20s"),
    pytest.param(timedelta(seconds=599), "9m59s", id="9m59s"),
    pytest.param(timedelta(minutes=10, seconds=30), "10m", id="10m"),
    pytest.param(timedelta(minutes=179), "179m", id="179m"),
    pytest.param(timedelta(hours=3), "3h", id="3h"),
    pytest.param(timedelta(hours=3, minutes=5), "3h5m", id="3h5m"),
    pytest.param(timedelta(hours=7, minutes=59), "7h59m", id="7h59m"),
    pytest.param(timedelta(hours=8, minutes=30), "8h", id="8h"),
    pytest.param(timedelta(hours=47), "47h", id="47h"),
    pytest.param(timedelta(days=2), "2d", id="2d"),
    pytest.param(timedelta(days=2, hours=5), "2d5h", id="2d5h"),
    pytest.param(timedelta(days=7, hours=23), "7d23h", id="7d23h"),
    pytest.param(timedelta(days=8, hours=5), "8d", id="8d"),
    pytest.param(timedelta(days=729), "729d", id="729d"),
    pytest.param(timedelta(days=730), "2y", id="2y"),
    pytest.param(timedelta(days=740), "2y10d", id="2y10d"),
    pytest.param(timedelta(days=365 * 8 + 3), "8y", id="8y"),
    pytest.param(timedelta(days=365 * 400), "292y", id="saturates-like-go"),
])
def test_human_duration(delta, expected):
    assert human_duration(delta) == expected


@pytest.mark.parametrize("delta, expected", [
    pytest.param(timedelta(seconds=59), "59s", id="59s"),
    pytest.param(timedelta(seconds=90), "1m", id="1m"),
    pytest.param(timedelta(hours=5, minutes=59), "5h", id="5h"),
    pytest.param(timedelta(days=3, hours=2), "3d", id="3d"),
    pytest.param(timedelta(days=800), "2y", id="2y"),
    pytest.param(timedelta(seconds=-5), "<invalid>", id="future"),
])
def test_short_human_duration(delta, expected):
    assert short_human_duration(delta) == expected


@pytest.mark.parametrize("metadata, expected", [
    pytest.param({"name": "p"}, "<unknown>", id="missing"),
    pytest.param({"name": "p", "creationTimestamp": None}, "<unknown>", id="null"),
    pytest.param({"name": "p", "creationTimestamp": "garbage"}, "<unknown>", id="unparsable"),
    pytest.param({"name": "p", "creationTimestamp": "0001-01-01T00:00:00Z"}, "<unknown>", id="zero-time"),
    pytest.param({"name": "p", "creationTimestamp": ago(42)}, "42s", id="seconds"),
    pytest.param({"name": "p", "creationTimestamp": "2025-06-01T13:00:00+01:00"}, "0s", id="offset"),
    pytest.param({"name": "p", "creationTimestamp": "2025-06-01T11:59:59.999999Z"}, "0s", id="fraction"),
    pytest.param({"name": "p", "creationTimestamp": ago(86400 * 3 + 3600)}, "3d1h", id="days"),
])
def test_age_cell(metadata, expected):
    assert row_cells(PODS, {"metadata": metadata}, NOW)[4] == expected


def test_naive_now_is_utc():
    obj = {"metadata": meta(created=65)}
    assert row_cells(PODS, obj, NOW.replace(tzinfo=None))[4] == "65s"


# ------------------------------------------------------------------------ pods


def container(name: str = "c", **extra) -> dict:
    return {"name": name, "image": f"img/{name}", **extra}


def status(name: str = "c", state: dict | None = None, ready: bool = False, restarts: int = 0,
           last: dict | None = None, **extra) -> dict:
    out = {"name": name, "ready": ready, "restartCount": restarts,
           "state": state if state is not None else {"waiting": {"reason": "ContainerCreating"}}}
    if last is not None:
        out["lastState"] = last
    out.update(extra)
    return out


RUNNING = {"running": {"startedAt": ago(60)}}


def pod(phase: str = "Running", containers: list | None = None, statuses: list | None = None,
        init: list | None = None, init_statuses: list | None = None, conditions: list | None = None,
        deleted: bool = False, reason: str | None = None, spec: dict | None = None,
        extra_status: dict | None = None) -> dict:
    m = meta("p")
    if deleted:
        m["deletionTimestamp"] = ago(1)
    s: dict = {"phase": phase}
    if statuses is not None:
        s["containerStatuses"] = statuses
    if init_statuses is not None:
        s["initContainerStatuses"] = init_statuses
    if conditions is not None:
        s["conditions"] = conditions
    if reason is not None:
        s["reason"] = reason
    s.update(extra_status or {})
    sp: dict = {"containers": containers if containers is not None else [container()]}
    if init is not None:
        sp["initContainers"] = init
    sp.update(spec or {})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": sp, "status": s}


READY_COND = [{"type": "Ready", "status": "True"}]


@pytest.mark.parametrize("obj, ready, state", [
    pytest.param(pod("Pending"), "0/1", "Pending", id="pending-unscheduled"),
    pytest.param(pod("Pending", statuses=[status()]), "0/1", "ContainerCreating", id="container-creating"),
    pytest.param(pod(statuses=[status(state=RUNNING, ready=True)]), "1/1", "Running", id="running-ready"),
    pytest.param(pod(statuses=[status(state=RUNNING, ready=False)]), "0/1", "Running", id="running-not-ready"),
    pytest.param(pod(containers=[container("a"), container("b")],
                     statuses=[status("a", RUNNING, True), status("b", RUNNING, False)]),
                 "1/2", "Running", id="one-of-two-ready"),
    pytest.param(pod("Pending", statuses=[status(state={"waiting": {"reason": "ImagePullBackOff"}})]),
                 "0/1", "ImagePullBackOff", id="image-pull-backoff"),
    pytest.param(pod(statuses=[status(state={"waiting": {"reason": "CrashLoopBackOff"}}, restarts=4)]),
                 "0/1", "CrashLoopBackOff", id="crashloop"),
    pytest.param(pod("Succeeded", statuses=[status(state={"terminated": {"exitCode": 0, "reason": "Completed"}})]),
                 "0/1", "Completed", id="completed"),
    pytest.param(pod("Failed", statuses=[status(state={"terminated": {"exitCode": 1, "reason": "Error"}})]),
                 "0/1", "Error", id="error"),
    pytest.param(pod("Failed", statuses=[status(state={"terminated": {"exitCode": 3}})]),
                 "0/1", "ExitCode:3", id="exit-code-no-reason"),
    pytest.param(pod("Failed", statuses=[status(state={"terminated": {"exitCode": 137, "signal": 9}})]),
                 "0/1", "Signal:9", id="signal-no-reason"),
    pytest.param(pod("Failed", reason="Evicted", statuses=[]), "0/1", "Evicted", id="evicted"),
    pytest.param(pod("Running", deleted=True, statuses=[status(state=RUNNING, ready=True)]),
                 "1/1", "Terminating", id="terminating"),
    pytest.param(pod("Succeeded", deleted=True,
                     statuses=[status(state={"terminated": {"exitCode": 0, "reason": "Completed"}})]),
                 "0/1", "Completed", id="deleted-but-terminal"),
    pytest.param(pod("Running", deleted=True, reason="NodeLost", statuses=[status(state=RUNNING, ready=True)]),
                 "1/1", "Unknown", id="node-lost"),
    pytest.param(pod("Pending", conditions=[{"type": "PodScheduled", "status": "False",
                                              "reason": "SchedulingGated"}]),
                 "0/1", "SchedulingGated", id="scheduling-gated"),
    pytest.param(pod("Pending", init=[container("i1"), container("i2")],
                     init_statuses=[status("i1", {"waiting": {"reason": "PodInitializing"}}),
                                    status("i2", {"waiting": {"reason": "PodInitializing"}})],
                     statuses=[status(state={"waiting": {"reason": "PodInitializing"}})]),
                 "0/1", "Init:0/2", id="init-0-of-2"),
    pytest.param(pod("Pending", init=[container("i1"), container("i2")],
                     init_statuses=[status("i1", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
                                    status("i2", RUNNING)],
                     statuses=[status(state={"waiting": {"reason": "PodInitializing"}})]),
                 "0/1", "Init:1/2", id="init-1-of-2"),
    pytest.param(pod("Pending", init=[container("i1")],
                     init_statuses=[status("i1", {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=3)]),
                 "0/1", "Init:CrashLoopBackOff", id="init-crashloop"),
    pytest.param(pod("Pending", init=[container("i1")],
                     init_statuses=[status("i1", {"terminated": {"exitCode": 1, "reason": "Error"}})]),
                 "0/1", "Init:Error", id="init-error"),
    pytest.param(pod("Pending", init=[container("i1")],
                     init_statuses=[status("i1", {"terminated": {"exitCode": 2}})]),
                 "0/1", "Init:ExitCode:2", id="init-exit-code"),
    pytest.param(pod("Pending", init=[container("i1")],
                     init_statuses=[status("i1", {"terminated": {"exitCode": 143, "signal": 15}})]),
                 "0/1", "Init:Signal:15", id="init-signal"),
    pytest.param(pod("Running", init=[container("i1")],
                     init_statuses=[status("i1", {"terminated": {"exitCode": 0, "reason": "Completed"}})],
                     statuses=[status(state=RUNNING, ready=True)]),
                 "1/1", "Running", id="init-done"),
    pytest.param(pod("Running", init=[container("sidecar", restartPolicy="Always")],
                     init_statuses=[status("sidecar", RUNNING, ready=True, started=True)],
                     statuses=[status(state=RUNNING, ready=True)]),
                 "2/2", "Running", id="sidecar-ready"),
    pytest.param(pod("Pending", init=[container("sidecar", restartPolicy="Always"), container("setup")],
                     init_statuses=[status("sidecar", RUNNING, ready=False, started=True),
                                    status("setup", RUNNING)],
                     statuses=[status(state={"waiting": {"reason": "PodInitializing"}})]),
                 "0/2", "Init:1/2", id="sidecar-then-init-running"),
    pytest.param(pod("Running", containers=[container("a"), container("b")], conditions=READY_COND,
                     statuses=[status("a", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
                               status("b", RUNNING, ready=True)]),
                 "1/2", "Running", id="completed-but-running-ready"),
    pytest.param(pod("Running", containers=[container("a"), container("b")],
                     statuses=[status("a", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
                               status("b", RUNNING, ready=True)]),
                 "1/2", "NotReady", id="completed-but-running-not-ready"),
    pytest.param(pod("Running", containers=[container("a"), container("b")],
                     statuses=[status("a", {"waiting": {"reason": "CrashLoopBackOff"}}),
                               status("b", {"waiting": {"reason": "ErrImagePull"}})]),
                 "0/2", "CrashLoopBackOff", id="first-container-reason-wins"),
])
def test_pod_status_matrix(obj, ready, state):
    cells = row_cells(PODS, obj, NOW)
    assert cells[:3] == ["p", ready, state]


@pytest.mark.parametrize("statuses, expected", [
    pytest.param([status(state=RUNNING, ready=True)], "0", id="none"),
    pytest.param([status(state=RUNNING, ready=True, restarts=3)], "3", id="no-last-state"),
    pytest.param([status(state=RUNNING, ready=True, restarts=3,
                         last={"terminated": {"exitCode": 1, "finishedAt": ago(300)}})],
                 "3 (5m ago)", id="minutes-ago"),
    pytest.param([status(state={"waiting": {"reason": "CrashLoopBackOff"}}, restarts=12,
                         last={"terminated": {"exitCode": 1, "finishedAt": ago(95)}})],
                 "12 (95s ago)", id="seconds-ago"),
    pytest.param([status("a", RUNNING, True, 1, last={"terminated": {"finishedAt": ago(7200)}}),
                  status("b", RUNNING, True, 2, last={"terminated": {"finishedAt": ago(200)}})],
                 "3 (3m20s ago)", id="sum-and-latest"),
    pytest.param([status(state=RUNNING, ready=True, restarts=1, last={"terminated": {"exitCode": 1}})],
                 "1", id="no-finished-at"),
])
def test_pod_restarts(statuses, expected):
    obj = pod(containers=[container(s["name"]) for s in statuses], statuses=statuses)
    assert row_cells(PODS, obj, NOW)[3] == expected


def test_pod_restarts_count_init_containers_while_initializing():
    obj = pod("Pending", init=[container("i1")],
              init_statuses=[status("i1", {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=4,
                                    last={"terminated": {"exitCode": 1, "finishedAt": ago(30)}})],
              statuses=[status(restarts=0)])
    assert row_cells(PODS, obj, NOW)[:4] == ["p", "0/1", "Init:CrashLoopBackOff", "4 (30s ago)"]


@pytest.mark.parametrize("obj, wide", [
    pytest.param(pod("Pending"), ["<none>", "<none>", "<none>", "<none>"], id="unscheduled"),
    pytest.param(pod(spec={"nodeName": "n1"}, extra_status={"podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
                                                             "nominatedNodeName": "n2"}),
                 ["10.0.0.5", "n1", "n2", "<none>"], id="scheduled"),
    pytest.param(pod(extra_status={"podIPs": [{"ip": "fd00::5"}, {"ip": "10.0.0.6"}]}),
                 ["fd00::5", "<none>", "<none>", "<none>"], id="pod-ips-only"),
    pytest.param(pod(spec={"readinessGates": [{"conditionType": "a"}, {"conditionType": "b"}]},
                     conditions=[{"type": "a", "status": "True"}, {"type": "b", "status": "False"}]),
                 ["<none>", "<none>", "<none>", "1/2"], id="readiness-gates"),
])
def test_pod_wide_cells(obj, wide):
    assert row_cells(PODS, obj, NOW)[5:] == wide


def test_pod_full_row():
    obj = pod(statuses=[status(state=RUNNING, ready=True)], spec={"nodeName": "n1"},
              extra_status={"podIP": "10.1.0.3"})
    assert row_cells(PODS, obj, NOW) == ["p", "1/1", "Running", "0", "10s", "10.1.0.3", "n1", "<none>", "<none>"]


@pytest.mark.parametrize("phase, expected", [
    pytest.param("Running", None, id="running"),
    pytest.param("Succeeded", [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                "message": "The pod has completed successfully."}], id="succeeded"),
    pytest.param("Failed", [{"type": "Completed", "status": "True", "reason": "Failed",
                             "message": "The pod failed."}], id="failed"),
])
def test_pod_row_conditions(phase, expected):
    assert row_conditions(PODS, pod(phase)) == expected
    assert row_conditions(info("apps", "deployments"), {"metadata": meta()}) is None


# -------------------------------------------------------------------- services


def svc(spec: dict, lb: list | None = None) -> dict:
    obj = {"metadata": meta("s", 3600), "spec": spec}
    if lb is not None:
        obj["status"] = {"loadBalancer": {"ingress": lb}}
    return obj


@pytest.mark.parametrize("obj, expected", [
    pytest.param(svc({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                      "ports": [{"port": 80, "protocol": "TCP"}], "selector": {"app": "web"}}),
                 ["s", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "60m", "app=web"], id="cluster-ip"),
    pytest.param(svc({"clusterIP": "10.96.0.11", "ports": [{"port": 53, "protocol": "UDP"},
                                                          {"port": 53}]}),
                 ["s", "ClusterIP", "10.96.0.11", "<none>", "53/UDP,53/TCP", "60m", "<none>"], id="defaults"),
    pytest.param(svc({"type": "ClusterIP", "clusterIP": "None", "ports": []}),
                 ["s", "ClusterIP", "None", "<none>", "<none>", "60m", "<none>"], id="headless-no-ports"),
    pytest.param(svc({"type": "ClusterIP", "clusterIP": "10.96.0.12", "externalIPs": ["1.2.3.4", "5.6.7.8"],
                      "ports": [{"port": 443, "protocol": "TCP"}]}),
                 ["s", "ClusterIP", "10.96.0.12", "1.2.3.4,5.6.7.8", "443/TCP", "60m", "<none>"],
                 id="cluster-ip-external-ips"),
    pytest.param(svc({"type": "NodePort", "clusterIP": "10.96.0.13",
                      "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                                {"port": 443, "nodePort": 30443, "protocol": "TCP"}]}),
                 ["s", "NodePort", "10.96.0.13", "<none>", "80:30080/TCP,443:30443/TCP", "60m", "<none>"],
                 id="node-port"),
    pytest.param(svc({"type": "LoadBalancer", "clusterIP": "10.96.0.14",
                      "ports": [{"port": 80, "nodePort": 31000, "protocol": "TCP"}]}),
                 ["s", "LoadBalancer", "10.96.0.14", "<pending>", "80:31000/TCP", "60m", "<none>"],
                 id="lb-pending"),
    pytest.param(svc({"type": "LoadBalancer", "clusterIP": "10.96.0.15", "ports": []},
                     lb=[{"ip": "203.0.113.9"}, {"hostname": "lb.example.com"}, {"ip": "198.51.100.1"}]),
                 ["s", "LoadBalancer", "10.96.0.15", "198.51.100.1,203.0.113.9,lb.example.com", "<none>", "60m",
                  "<none>"], id="lb-ingress-sorted-not-clipped"),
    pytest.param(svc({"type": "LoadBalancer", "clusterIP": "10.96.0.16", "externalIPs": ["9.9.9.9"]},
                     lb=[{"ip": "203.0.113.9"}]),
                 ["s", "LoadBalancer", "10.96.0.16", "203.0.113.9,9.9.9.9", "<none>", "60m", "<none>"],
                 id="lb-plus-external-ips"),
    pytest.param(svc({"type": "ExternalName", "externalName": "db.example.com"}),
                 ["s", "ExternalName", "<none>", "db.example.com", "<none>", "60m", "<none>"], id="external-name"),
])
def test_service_cells(obj, expected):
    assert row_cells(info("", "services"), obj, NOW) == expected


# ----------------------------------------------------------------------- nodes


def node(labels: dict | None = None, conditions: list | None = None, unschedulable: bool = False,
         node_info: dict | None = None, addresses: list | None = None) -> dict:
    obj: dict = {"metadata": meta("n1", 86400 * 10, labels=labels or {}),
                 "spec": {"unschedulable": True} if unschedulable else {},
                 "status": {"nodeInfo": {"kubeletVersion": "v1.37.0"} if node_info is None else node_info}}
    if conditions is not None:
        obj["status"]["conditions"] = conditions
    if addresses is not None:
        obj["status"]["addresses"] = addresses
    return obj


READY = [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}]


@pytest.mark.parametrize("obj, expected", [
    pytest.param(node(conditions=READY), ["n1", "Ready", "<none>", "10d", "v1.37.0"], id="ready"),
    pytest.param(node(conditions=[{"type": "Ready", "status": "False"}]),
                 ["n1", "NotReady", "<none>", "10d", "v1.37.0"], id="not-ready"),
    pytest.param(node(conditions=[{"type": "Ready", "status": "Unknown"}]),
                 ["n1", "NotReady", "<none>", "10d", "v1.37.0"], id="ready-unknown"),
    pytest.param(node(), ["n1", "Unknown", "<none>", "10d", "v1.37.0"], id="no-conditions"),
    pytest.param(node(conditions=READY, unschedulable=True),
                 ["n1", "Ready,SchedulingDisabled", "<none>", "10d", "v1.37.0"], id="cordoned"),
    pytest.param(node(unschedulable=True), ["n1", "Unknown,SchedulingDisabled", "<none>", "10d", "v1.37.0"],
                 id="cordoned-unknown"),
    pytest.param(node(labels={"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/etcd": "true",
                              "node-role.kubernetes.io/": "", "kubernetes.io/role": "master"}, conditions=READY),
                 ["n1", "Ready", "control-plane,etcd,master", "10d", "v1.37.0"], id="roles"),
    pytest.param(node(labels={"kubernetes.io/role": ""}, conditions=READY, node_info={}),
                 ["n1", "Ready", "<none>", "10d", ""], id="empty-legacy-role-no-version"),
])
def test_node_cells(obj, expected):
    assert row_cells(info("", "nodes"), obj, NOW)[:5] == expected


def test_node_wide_cells():
    obj = node(conditions=READY, addresses=[{"type": "Hostname", "address": "n1"},
                                            {"type": "InternalIP", "address": "192.168.1.10"}],
               node_info={"kubeletVersion": "v1.37.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                          "kernelVersion": "6.18.0", "containerRuntimeVersion": "podplane://0.1.0"})
    assert row_cells(info("", "nodes"), obj, NOW)[5:] == [
        "192.168.1.10", "<none>", "Debian GNU/Linux 12 (bookworm)", "6.18.0", "podplane://0.1.0"]
    assert row_cells(info("", "nodes"), node(), NOW)[5:] == ["<none>", "<none>", "<unknown>", "<unknown>",
                                                             "<unknown>"]


# ------------------------------------------------------------------- workloads

TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [container("web", image="nginx:1.27"), container("log", image="busybox")]}}


@pytest.mark.parametrize("obj, expected", [
    pytest.param({"metadata": meta("d", 300), "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                                                        "template": TEMPLATE},
                  "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}},
                 ["d", "2/3", 3, 2, "5m", "web,log", "nginx:1.27,busybox", "app=web"], id="rolling"),
    pytest.param({"metadata": meta("d", 300), "spec": {"template": TEMPLATE}},
                 ["d", "0/1", 0, 0, "5m", "web,log", "nginx:1.27,busybox", ""], id="defaults-no-selector"),
    pytest.param({"metadata": meta("d", 300), "spec": {"replicas": 0, "selector": {
        "matchLabels": {"tier": "fe", "app": "web"},
        "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]},
                             {"key": "canary", "operator": "DoesNotExist"},
                             {"key": "zone", "operator": "NotIn", "values": ["a"]},
                             {"key": "gpu", "operator": "Exists"}]}}},
                 ["d", "0/0", 0, 0, "5m", "", "", "app=web,!canary,env in (dev,prod),gpu,tier=fe,zone notin (a)"],
                 id="selector-expressions"),
    pytest.param({"metadata": meta("d", 300), "spec": {"selector": {
        "matchExpressions": [{"key": "env", "operator": "Within", "values": ["a"]}]}}},
                 ["d", "0/1", 0, 0, "5m", "", "", "<invalid>"], id="invalid-selector"),
])
def test_deployment_cells(obj, expected):
    assert row_cells(info("apps", "deployments"), obj, NOW) == expected


def job(spec: dict | None = None, status_: dict | None = None, deleted: bool = False) -> dict:
    m = meta("j", 600)
    if deleted:
        m["deletionTimestamp"] = ago(1)
    return {"metadata": m, "spec": {"template": TEMPLATE, "selector": {"matchLabels": {"job-name": "j"}},
                                    **(spec or {})}, "status": status_ or {}}


def cond(type_: str, status_: str = "True") -> dict:
    return {"type": type_, "status": status_}


@pytest.mark.parametrize("obj, expected", [
    pytest.param(job(), ["j", "Running", "0/1", "", "10m"], id="not-started"),
    pytest.param(job({"completions": 1, "parallelism": 1}, {"startTime": ago(200), "active": 1}),
                 ["j", "Running", "0/1", "3m20s", "10m"], id="running"),
    pytest.param(job({"completions": 5, "parallelism": 2},
                     {"startTime": ago(500), "completionTime": ago(100), "succeeded": 5,
                      "conditions": [cond("SuccessCriteriaMet"), cond("Complete")]}),
                 ["j", "Complete", "5/5", "6m40s", "10m"], id="complete"),
    pytest.param(job({"parallelism": 3}, {"succeeded": 1}), ["j", "Running", "1/1 of 3", "", "10m"],
                 id="work-queue"),
    pytest.param(job({"parallelism": 1}, {"succeeded": 0}), ["j", "Running", "0/1", "", "10m"],
                 id="parallelism-one-no-completions"),
    pytest.param(job(status_={"conditions": [cond("FailureTarget"), cond("Failed")]}),
                 ["j", "Failed", "0/1", "", "10m"], id="failed"),
    pytest.param(job(status_={"conditions": [cond("Complete", "False")]}, deleted=True),
                 ["j", "Terminating", "0/1", "", "10m"], id="terminating"),
    pytest.param(job({"suspend": True}, {"conditions": [cond("Suspended")]}),
                 ["j", "Suspended", "0/1", "", "10m"], id="suspended"),
    pytest.param(job(status_={"conditions": [cond("FailureTarget")]}),
                 ["j", "FailureTarget", "0/1", "", "10m"], id="failure-target"),
    pytest.param(job(status_={"conditions": [cond("SuccessCriteriaMet")]}),
                 ["j", "SuccessCriteriaMet", "0/1", "", "10m"], id="success-criteria-met"),
])
def test_job_cells(obj, expected):
    cells = row_cells(info("batch", "jobs"), obj, NOW)
    assert cells[:5] == expected
    assert cells[5:] == ["web,log", "nginx:1.27,busybox", "job-name=j"]


def test_cronjob_cells():
    cj = info("batch", "cronjobs")
    base = {"metadata": meta("cj", 7200), "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {
        "template": TEMPLATE}}}}
    assert row_cells(cj, base, NOW) == ["cj", "*/5 * * * *", "<none>", "False", 0, "<none>", "120m",
                                        "web,log", "nginx:1.27,busybox", "<none>"]
    busy = {**base, "spec": {**base["spec"], "suspend": True, "timeZone": "Etc/UTC"},
            "status": {"active": [{"name": "cj-1"}, {"name": "cj-2"}], "lastScheduleTime": ago(65)}}
    assert row_cells(cj, busy, NOW)[:7] == ["cj", "*/5 * * * *", "Etc/UTC", "True", 2, "65s", "120m"]


@pytest.mark.parametrize("group, plural, obj, expected", [
    pytest.param("apps", "replicasets", {"metadata": meta("rs", 20), "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "abc"}}, "template": TEMPLATE},
        "status": {"replicas": 2, "readyReplicas": 1}},
        ["rs", 2, 2, 1, "20s", "web,log", "nginx:1.27,busybox", "app=web,pod-template-hash=abc"], id="replicaset"),
    pytest.param("", "replicationcontrollers", {"metadata": meta("rc", 20), "spec": {
        "selector": {"app": "web"}, "template": TEMPLATE}},
        ["rc", 1, 0, 0, "20s", "web,log", "nginx:1.27,busybox", "app=web"], id="replicationcontroller"),
    pytest.param("apps", "statefulsets", {"metadata": meta("db", 20), "spec": {"replicas": 3, "template": TEMPLATE},
                                          "status": {"readyReplicas": 3}},
                 ["db", "3/3", "20s", "web,log", "nginx:1.27,busybox"], id="statefulset"),
    pytest.param("apps", "daemonsets", {"metadata": meta("ds", 20), "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [container("agent")]}}},
        "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                   "updatedNumberScheduled": 3, "numberAvailable": 2}},
        ["ds", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "20s", "agent", "img/agent", "app=agent"], id="daemonset"),
    pytest.param("apps", "controllerrevisions", {"metadata": meta("web-7c9", 20, ownerReferences=[
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}]), "revision": 3},
        ["web-7c9", "statefulset.apps/web", 3, "20s"], id="controllerrevision"),
    pytest.param("", "podtemplates", {"metadata": meta("pt"), "template": TEMPLATE},
                 ["pt", "web,log", "nginx:1.27,busybox", "app=web"], id="podtemplate"),
    pytest.param("policy", "poddisruptionbudgets", {"metadata": meta("pdb"), "spec": {"minAvailable": "50%"},
                                                    "status": {"disruptionsAllowed": 1}},
                 ["pdb", "50%", "N/A", 1, "10s"], id="pdb"),
    pytest.param("autoscaling", "horizontalpodautoscalers", {"metadata": meta("hpa"), "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 50}}},
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                           "averageValue": "100Mi"}}},
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue",
                                                                             "averageValue": "10"}}}]},
        "status": {"currentReplicas": 2, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 31}}}]}},
        ["hpa", "Deployment/web", "cpu: 31%/50%, memory: <unknown>/100Mi + 1 more...", "1", 5, 2, "10s"],
        id="hpa"),
    pytest.param("autoscaling", "horizontalpodautoscalers", {"metadata": meta("hpa"), "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 4}},
        ["hpa", "Deployment/web", "cpu: <unknown>/80%", "2", 4, 0, "10s"], id="hpa-default-metric"),
])
def test_workload_cells(group, plural, obj, expected):
    assert row_cells(info(group, plural), obj, NOW) == expected


# -------------------------------------------------------------- other kinds


@pytest.mark.parametrize("group, plural, obj, expected", [
    pytest.param("", "endpoints", {"metadata": meta("ep"), "subsets": [
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}]},
        ["ep", "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...", "10s"], id="endpoints-more"),
    pytest.param("", "endpoints", {"metadata": meta("ep"), "subsets": [
        {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 53}]}, {"addresses": [{"ip": "10.0.0.9"}]}]},
        ["ep", "[fd00::1]:53,10.0.0.9", "10s"], id="endpoints-ipv6-headless"),
    pytest.param("", "endpoints", {"metadata": meta("ep")}, ["ep", "<none>", "10s"], id="endpoints-none"),
    pytest.param("discovery.k8s.io", "endpointslices", {"metadata": meta("es"), "addressType": "IPv4",
        "ports": [{"port": 80, "name": "http"}, {"name": "named"}, {}],
        "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}, {"addresses": ["10.0.0.3"]},
                      {"addresses": ["10.0.0.4"]}]},
        ["es", "IPv4", "80,named,*", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "10s"], id="endpointslice"),
    pytest.param("", "namespaces", {"metadata": meta("ns"), "status": {"phase": "Terminating"}},
                 ["ns", "Terminating", "10s"], id="namespace"),
    pytest.param("", "configmaps", {"metadata": meta("cm"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}},
                 ["cm", 3, "10s"], id="configmap"),
    pytest.param("", "secrets", {"metadata": meta("s"), "type": "kubernetes.io/tls", "data": {"tls.crt": "",
                                                                                              "tls.key": ""}},
                 ["s", "kubernetes.io/tls", 2, "10s"], id="secret"),
    pytest.param("", "serviceaccounts", {"metadata": meta("default")}, ["default", 0, "10s"], id="serviceaccount"),
    pytest.param("", "events", {"metadata": meta("p.1"), "type": "Warning", "reason": "BackOff",
                                "message": " Back-off restarting failed container \n",
                                "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{c}"},
                                "source": {"component": "kubelet", "host": "n1"},
                                "firstTimestamp": ago(3600), "lastTimestamp": ago(30), "count": 7},
                 ["30s", "Warning", "BackOff", "pod/p", "spec.containers{c}", "kubelet, n1",
                  "Back-off restarting failed container", "60m", 7, "p.1"], id="event"),
    pytest.param("", "events", {"metadata": meta("e.2"), "type": "Normal", "reason": "Scheduled",
                                "involvedObject": {"kind": "Node"}, "eventTime": "2025-06-01T11:59:00.000000Z",
                                "reportingComponent": "default-scheduler",
                                "series": {"count": 4, "lastObservedTime": "2025-06-01T11:59:50.500000Z"}},
                 ["9s", "Normal", "Scheduled", "node", "", "default-scheduler", "", "60s", 4, "e.2"],
                 id="event-series"),
    pytest.param("", "persistentvolumes", {"metadata": meta("pv1"), "spec": {
        "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
        "claimRef": {"namespace": "default", "name": "data"}, "storageClassName": "local"},
        "status": {"phase": "Bound"}},
        ["pv1", "10Gi", "RWO,RWX", "Retain", "Bound", "default/data", "local", "<unset>", "", "10s", "Filesystem"],
        id="pv"),
    pytest.param("", "persistentvolumeclaims", {"metadata": meta("data"), "spec": {
        "volumeName": "pv1", "storageClassName": "local", "volumeMode": "Block"},
        "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"]}},
        ["data", "Bound", "pv1", "10Gi", "RWO", "local", "<unset>", "10s", "Block"], id="pvc-bound"),
    pytest.param("", "persistentvolumeclaims", {"metadata": meta(
        "data", annotations={"volume.beta.kubernetes.io/storage-class": "beta"}, deletionTimestamp=ago(1)),
        "spec": {"storageClassName": "local"}},
        ["data", "Terminating", "", "", "", "beta", "<unset>", "10s", "Filesystem"], id="pvc-pending-deleted"),
    pytest.param("storage.k8s.io", "storageclasses", {"metadata": meta(
        "standard", annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
        "provisioner": "podplane.io/hostpath", "volumeBindingMode": "WaitForFirstConsumer"},
        ["standard (default)", "podplane.io/hostpath", "Delete", "WaitForFirstConsumer", False, "10s"],
        id="storageclass-default"),
    pytest.param("", "resourcequotas", {"metadata": meta("q"), "status": {
        "hard": {"pods": "10", "requests.cpu": "2", "limits.memory": "4Gi", "limits.cpu": "4"},
        "used": {"pods": "3", "limits.cpu": "500m"}}},
        ["q", "pods: 3/10, requests.cpu: 0/2", "limits.cpu: 500m/4, limits.memory: 0/4Gi", "10s"],
        id="resourcequota"),
    pytest.param("networking.k8s.io", "ingresses", {"metadata": meta("ing"), "spec": {
        "ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"]}],
        "rules": [{"host": "a.example.com"}, {}, {"host": "b.example.com"}, {"host": "c.example.com"},
                  {"host": "d.example.com"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.5"}]}}},
        ["ing", "nginx", "a.example.com,b.example.com,c.example.com + 2 more...", "203.0.113.5", "80, 443", "10s"],
        id="ingress"),
    pytest.param("networking.k8s.io", "ingresses", {"metadata": meta("ing"), "spec": {}},
                 ["ing", "<none>", "*", "", "80", "10s"], id="ingress-empty"),
    pytest.param("networking.k8s.io", "ingressclasses", {"metadata": meta("nginx"), "spec": {
        "controller": "k8s.io/ingress-nginx",
        "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}},
        ["nginx", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/external-lb", "10s"],
        id="ingressclass"),
    pytest.param("networking.k8s.io", "networkpolicies", {"metadata": meta("np"), "spec": {"podSelector": {}}},
                 ["np", "<none>", "10s"], id="networkpolicy-all-pods"),
    pytest.param("rbac.authorization.k8s.io", "rolebindings", {"metadata": meta("rb"),
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
                     {"kind": "ServiceAccount", "namespace": "ci", "name": "bot"},
                     {"kind": "User", "name": "bob"}]},
        ["rb", "ClusterRole/view", "10s", "alice, bob", "devs", "ci/bot"], id="rolebinding"),
    pytest.param("rbac.authorization.k8s.io", "roles", {"metadata": meta("r", 86400)},
                 ["r", "2025-05-31T12:00:00Z"], id="role-created-at"),
    pytest.param("rbac.authorization.k8s.io", "clusterroles", {"metadata": meta("cr", None)},
                 ["cr", "0001-01-01T00:00:00Z"], id="clusterrole-no-timestamp"),
    pytest.param("apiextensions.k8s.io", "customresourcedefinitions",
                 {"metadata": meta("widgets.example.com", created=None,
                                   creationTimestamp="2025-05-01T10:00:00+02:00")},
                 ["widgets.example.com", "2025-05-01T08:00:00Z"], id="crd-created-at-utc"),
    pytest.param("coordination.k8s.io", "leases", {"metadata": meta("l"), "spec": {"holderIdentity": "n1"}},
                 ["l", "n1", "10s"], id="lease"),
    pytest.param("scheduling.k8s.io", "priorityclasses", {"metadata": meta("high"), "value": 1000000,
                                                          "globalDefault": True},
                 ["high", 1000000, True, "10s", "PreemptLowerPriority"], id="priorityclass"),
    pytest.param("certificates.k8s.io", "certificatesigningrequests", {"metadata": meta("csr"), "spec": {
        "signerName": "kubernetes.io/kube-apiserver-client", "username": "alice", "expirationSeconds": 86400},
        "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"}},
        ["csr", "10s", "kubernetes.io/kube-apiserver-client", "alice", "24h", "Approved,Issued"], id="csr"),
    pytest.param("storage.k8s.io", "csidrivers", {"metadata": meta("d"), "spec": {
        "attachRequired": False, "tokenRequests": [{"audience": "a"}, {"audience": "b"}],
        "volumeLifecycleModes": ["Persistent", "Ephemeral"]}},
        ["d", False, False, False, "a,b", False, "Persistent,Ephemeral", "10s"], id="csidriver"),
    pytest.param("storage.k8s.io", "volumeattachments", {"metadata": meta("va"), "spec": {
        "attacher": "csi.example.com", "nodeName": "n1", "source": {"persistentVolumeName": "pv1"}},
        "status": {"attached": True}},
        ["va", "csi.example.com", "pv1", "n1", True, "10s"], id="volumeattachment"),
    pytest.param("admissionregistration.k8s.io", "validatingwebhookconfigurations",
                 {"metadata": meta("v"), "webhooks": [{"name": "a"}, {"name": "b"}]}, ["v", 2, "10s"],
                 id="webhooks"),
    pytest.param("admissionregistration.k8s.io", "validatingadmissionpolicybindings", {"metadata": meta("b"),
        "spec": {"policyName": "p", "paramRef": {"selector": {"matchLabels": {"a": "b"}}}}},
        ["b", "p", "&LabelSelector{MatchLabels:map[string]string{a: b,},"
                   "MatchExpressions:[]LabelSelectorRequirement{},}", "10s"], id="vap-binding-selector"),
    pytest.param("apiregistration.k8s.io", "apiservices", {"metadata": meta("v1beta1.metrics.k8s.io"),
        "spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}},
        "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]}},
        ["v1beta1.metrics.k8s.io", "kube-system/metrics-server", "False (MissingEndpoints)", "10s"],
        id="apiservice"),
])
def test_other_cells(group, plural, obj, expected):
    assert row_cells(info(group, plural), obj, NOW) == expected


@pytest.mark.parametrize("group, plural, names", [
    pytest.param("", "pods", ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node",
                              "Readiness Gates"], id="pods"),
    pytest.param("apps", "deployments", ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers",
                                         "Images", "Selector"], id="deployments"),
    pytest.param("batch", "jobs", ["Name", "Status", "Completions", "Duration", "Age", "Containers", "Images",
                                   "Selector"], id="jobs"),
    pytest.param("", "events", ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message",
                                "First Seen", "Count", "Name"], id="events"),
    pytest.param("rbac.authorization.k8s.io", "roles", ["Name", "Created At"], id="roles"),
    pytest.param("authorization.k8s.io", "subjectaccessreviews", ["Name", "Age"], id="fallback"),
])
def test_column_names(group, plural, names):
    assert [c["name"] for c in column_definitions(info(group, plural))] == names


def test_column_definition_shape():
    cols = column_definitions(PODS)
    assert cols[0] == {"name": "Name", "type": "string", "format": "name",
                       "description": cols[0]["description"], "priority": 0}
    assert cols[0]["description"].startswith("Name must be unique within a namespace.")
    assert [list(c) for c in cols] == [["name", "type", "format", "description", "priority"]] * len(cols)
    assert [c["priority"] for c in cols] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert cols[3]["type"] == "string"
    events = column_definitions(info("", "events"))
    assert events[-1]["format"] == "name" and events[-1]["priority"] == 1
    assert column_definitions(info("rbac.authorization.k8s.io", "roles"))[1]["type"] == "date"
    cols[0]["name"] = "mutated"
    assert column_definitions(PODS)[0]["name"] == "Name"


# -------------------------------------------------------------- custom resources

WIDGET_COLUMNS = (
    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
     "description": "Whether the widget is ready"},
    {"name": "Owner", "type": "string", "jsonPath": ".metadata.labels.owner", "priority": 1},
    {"name": "Ratio", "type": "number", "jsonPath": ".status.ratio"},
    {"name": "Enabled", "type": "boolean", "jsonPath": ".spec.enabled"},
    {"name": "Ports", "type": "string", "jsonPath": ".spec.ports"},
    {"name": "First", "type": "string", "jsonPath": ".spec.ports[0].name"},
    {"name": "All", "type": "string", "jsonPath": ".spec.ports[*].name"},
    {"name": "Dotted", "type": "string", "jsonPath": r".metadata.annotations['example\.com/tier']"},
    {"name": "Started", "type": "date", "jsonPath": ".status.startedAt"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)


def widget_info(columns: tuple = WIDGET_COLUMNS) -> ResourceInfo:
    return ResourceInfo("example.com", "v1", "Widget", "widgets", custom=True, printer_columns=columns)


WIDGET = {
    "apiVersion": "example.com/v1", "kind": "Widget",
    "metadata": meta("w1", 300, labels={"owner": "team-a"}, annotations={"example.com/tier": "gold"}),
    "spec": {"replicas": 3, "enabled": True, "ports": [{"name": "http", "port": 80}, {"name": "grpc", "port": 90}]},
    "status": {"ratio": 0.75, "startedAt": ago(200),
               "conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]},
}


def test_custom_columns():
    cols = column_definitions(widget_info())
    assert [(c["name"], c["type"], c["priority"]) for c in cols] == [
        ("Name", "string", 0), ("Replicas", "integer", 0), ("Ready", "string", 0), ("Owner", "string", 1),
        ("Ratio", "number", 0), ("Enabled", "boolean", 0), ("Ports", "string", 0), ("First", "string", 0),
        ("All", "string", 0), ("Dotted", "string", 0), ("Started", "date", 0), ("Age", "date", 0)]
    assert cols[0]["format"] == "name"
    assert cols[1]["description"] == "Custom resource definition column (in JSONPath format): .spec.replicas"
    assert cols[2]["description"] == "Whether the widget is ready"


def test_custom_cells():
    assert row_cells(widget_info(), WIDGET, NOW) == [
        "w1", 3, "True", "team-a", 0.75, True, '[{"name":"http","port":80},{"name":"grpc","port":90}]',
        "http", "http", "gold", "3m20s", "5m"]


@pytest.mark.parametrize("col, obj, expected", [
    pytest.param({"type": "integer", "jsonPath": ".spec.missing"}, WIDGET, None, id="missing-key"),
    pytest.param({"type": "string", "jsonPath": ".spec.missing.deeper"}, WIDGET, None, id="missing-path"),
    pytest.param({"type": "integer", "jsonPath": ".status.ratio"}, WIDGET, 0, id="float-truncated-to-int"),
    pytest.param({"type": "number", "jsonPath": ".spec.replicas"}, WIDGET, 3.0, id="int-as-number"),
    pytest.param({"type": "integer", "jsonPath": ".spec.enabled"}, WIDGET, None, id="bool-not-integer"),
    pytest.param({"type": "boolean", "jsonPath": ".spec.replicas"}, WIDGET, None, id="int-not-boolean"),
    pytest.param({"type": "string", "jsonPath": ".spec.replicas"}, WIDGET, "3", id="int-as-string"),
    pytest.param({"type": "string", "jsonPath": ".spec.enabled"}, WIDGET, "true", id="bool-as-string"),
    pytest.param({"type": "string", "jsonPath": ".status.ratio"}, WIDGET, "0.75", id="float-as-string"),
    pytest.param({"type": "string", "jsonPath": ".spec.ports[5].name"}, WIDGET, None, id="index-out-of-range"),
    pytest.param({"type": "string", "jsonPath": ".spec.ports[-1].name"}, WIDGET, "grpc", id="negative-index"),
    pytest.param({"type": "string", "jsonPath": ".metadata.annotations['example.com/tier']"}, WIDGET, None,
                 id="unescaped-dot-in-brackets-is-a-path"),
    pytest.param({"type": "date", "jsonPath": ".status.ratio"}, WIDGET, None, id="date-not-string"),
    pytest.param({"type": "date", "jsonPath": ".spec.when"}, {**WIDGET, "spec": {"when": "yesterday"}},
                 "<invalid>", id="date-invalid"),
    pytest.param({"type": "date", "jsonPath": ".spec.when"}, {**WIDGET, "spec": {"when": ""}}, "<unknown>",
                 id="date-empty"),
    pytest.param({"type": "string", "jsonPath": ".spec.when"}, {**WIDGET, "spec": {"when": None}}, "<no value>",
                 id="null-as-string"),
    pytest.param({"type": "integer", "jsonPath": ".spec.when"}, {**WIDGET, "spec": {"when": None}}, None,
                 id="null-as-integer"),
    pytest.param({"type": "string", "jsonPath": ".status.conditions[?(@.type==\"Gone\")].status"}, WIDGET, None,
                 id="filter-no-match"),
])
def test_custom_cell_values(col, obj, expected):
    assert row_cells(widget_info(({"name": "C", **col},)), obj, NOW) == [obj["metadata"]["name"], expected]


def test_custom_default_age_column():
    plain = widget_info(())
    assert [(c["name"], c["type"], c["format"]) for c in column_definitions(plain)] == [
        ("Name", "string", "name"), ("Age", "date", "")]
    assert column_definitions(plain)[1]["description"].startswith("CreationTimestamp is a timestamp")
    assert row_cells(plain, WIDGET, NOW) == ["w1", "5m"]
    assert row_cells(plain, {"metadata": {"name": "w2"}}, NOW) == ["w2", None]


def test_custom_unparsable_column_ends_the_list():
    columns = ({"name": "A", "type": "integer", "jsonPath": ".spec.replicas"},
               {"name": "Bad", "type": "string", "jsonPath": ".spec.ports[x]"},
               {"name": "C", "type": "string", "jsonPath": ".spec.enabled"})
    assert [c["name"] for c in column_definitions(widget_info(columns))] == ["Name", "A"]
    assert row_cells(widget_info(columns), WIDGET, NOW) == ["w1", 3]


# ------------------------------------------------------------------- the Table


def test_build_table_metadata_rows():
    objs = [pod("Succeeded", statuses=[status(state={"terminated": {"exitCode": 0, "reason": "Completed"}})]),
            pod(statuses=[status(state=RUNNING, ready=True)])]
    table = build_table(PODS, objs, now=NOW, resource_version="103", continue_token="c1", remaining=4)
    assert list(table) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "103", "continue": "c1", "remainingItemCount": 4}
    assert table["columnDefinitions"] == column_definitions(PODS)
    first, second = table["rows"]
    assert list(first) == ["cells", "conditions", "object"]
    assert first["cells"][:3] == ["p", "0/1", "Completed"]
    assert first["conditions"][0]["reason"] == "Succeeded"
    assert first["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                               "metadata": objs[0]["metadata"]}
    assert list(second) == ["cells", "object"]


@pytest.mark.parametrize("include, expected", [
    pytest.param("Metadata", lambda o: {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                        "metadata": o["metadata"]}, id="metadata"),
    pytest.param("", lambda o: {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                "metadata": o["metadata"]}, id="default-empty"),
    pytest.param("Object", lambda o: o, id="object"),
    pytest.param("None", lambda o: None, id="none"),
])
def test_build_table_include_object(include, expected):
    obj = pod()
    row = build_table(PODS, [obj], now=NOW, include_object=include)["rows"][0]
    assert row["object"] == expected(obj)


def test_build_table_empty_and_defaults():
    table = build_table(info("", "configmaps"), [], now=NOW)
    assert table["metadata"] == {} and table["rows"] == []
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert build_table(info("", "configmaps"), [], now=NOW, remaining=0)["metadata"] == {"remainingItemCount": 0}


def test_build_table_custom_resource():
    table = build_table(widget_info(), [WIDGET], now=NOW, resource_version="9")
    assert table["rows"][0]["cells"][:3] == ["w1", 3, "True"]
    assert table["rows"][0]["object"]["metadata"]["name"] == "w1"


def test_build_table_rejects_unknown_include_object():
    with pytest.raises(ApiError) as err:
        build_table(PODS, [pod()], now=NOW, include_object="Everything")
    assert err.value.code == 400
    assert err.value.message == 'unrecognized includeObject value: "Everything"'
