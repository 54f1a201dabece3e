"""Scheduling end to end: the real kubectl against the scheduler on simulated nodes.

Runs against `sim_cluster` (server with controllers and scheduler, three fake-runtime
nodes sim-0..sim-2). Covers what users see: FailedScheduling events with upstream's
message in `kubectl describe pod`, a label that makes a pending pod schedulable,
nodeName pinning, required and preferred node affinity, pod anti-affinity spreading a
Deployment (and a replica that stays Pending), pod affinity, NoSchedule taints and
tolerations, and topology spread over hostnames. Each test uses its own namespace and
undoes the node labels and taints it sets.
"""

from __future__ import annotations

import json
import re
import textwrap

import pytest

pytestmark = pytest.mark.e2e

SIM_NODES = ["sim-0", "sim-1", "sim-2"]
ONLY_SIM_NODES = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": SIM_NODES}]}]}}}


@pytest.fixture
def ns(sim_cluster, request):
    name = "s-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:50].strip("-")
    sim_cluster.kubectl("create", "namespace", name)
    yield name
    sim_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def create_pod(cluster, ns: str, name: str, *, labels: dict | None = None, **spec) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": name}},
           "spec": {"containers": [{"name": "main", "image": "nginx"}], **spec}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))


def pods(cluster, ns: str) -> dict[str, dict]:
    out = json.loads(cluster.kubectl("-n", ns, "get", "pods", "-o", "json").stdout)
    return {p["metadata"]["name"]: p for p in out["items"]}


def placement(cluster, ns: str) -> dict[str, str]:
    return {name: p["spec"].get("nodeName", "") for name, p in pods(cluster, ns).items()}


def wait_placed(cluster, ns: str, count: int, timeout: float = 20.0) -> dict[str, str]:
    def placed():
        where = placement(cluster, ns)
        return where if len(where) >= count and all(where.values()) else None

    return cluster.wait_for(placed, timeout=timeout, what=f"{count} pods of {ns} scheduled")


def node_names(cluster) -> list[str]:
    out = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)
    return [n["metadata"]["name"] for n in out["items"]]


def failed_scheduling(cluster, ns: str, pod: str) -> str:
    described = cluster.kubectl("-n", ns, "describe", "pod", pod).stdout
    lines = [line for line in described.splitlines() if "FailedScheduling" in line]
    return lines[-1] if lines else ""


def test_pending_pod_reports_why_and_schedules_after_a_label(sim_cluster, ns):
    cluster = sim_cluster
    total = len(node_names(cluster))
    create_pod(cluster, ns, "picky", nodeSelector={"disk": "ssd"})
    try:
        line = cluster.wait_for(lambda: failed_scheduling(cluster, ns, "picky"), timeout=15,
                                what="FailedScheduling in kubectl describe")
        assert (f"0/{total} nodes are available: {total} node(s) didn't match Pod's node affinity/selector. "
                f"preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
                ) in line
        assert "default-scheduler" in line
        pod = pods(cluster, ns)["picky"]
        assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")
        condition = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
        assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")

        cluster.kubectl("label", "nodes", "sim-1", "disk=ssd")
        assert wait_placed(cluster, ns, 1) == {"picky": "sim-1"}
        events = cluster.kubectl("-n", ns, "get", "events", "--field-selector", "involvedObject.name=picky").stdout
        assert "Successfully assigned " + ns + "/picky to sim-1" in events
    finally:
        cluster.kubectl("label", "nodes", "sim-1", "disk-", check=False)


def test_node_name_pins_without_the_scheduler(sim_cluster, ns):
    cluster = sim_cluster
    create_pod(cluster, ns, "pinned", nodeName="sim-2")
    assert wait_placed(cluster, ns, 1) == {"pinned": "sim-2"}
    cluster.wait_for(lambda: pods(cluster, ns)["pinned"]["status"].get("phase") == "Running", timeout=15,
                     what="pinned pod running")
    events = cluster.kubectl("-n", ns, "get", "events", "--field-selector", "involvedObject.name=pinned").stdout
    assert "Scheduled" not in events


def test_required_and_preferred_node_affinity(sim_cluster, ns):
    cluster = sim_cluster
    required = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["sim-0"]}]}]}}}
    preferred = {"nodeAffinity": {
        **ONLY_SIM_NODES["nodeAffinity"],
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "preference": {"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["sim-2"]}]}},
            {"weight": 1, "preference": {"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["sim-1"]}]}}]}}
    create_pod(cluster, ns, "required", affinity=required)
    for i in range(3):
        create_pod(cluster, ns, f"preferred-{i}", affinity=preferred)
    where = wait_placed(cluster, ns, 4)
    assert where == {"required": "sim-0", "preferred-0": "sim-2", "preferred-1": "sim-2", "preferred-2": "sim-2"}


DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {{name: web, namespace: {ns}}}
    spec:
      replicas: {replicas}
      selector: {{matchLabels: {{app: web}}}}
      template:
        metadata: {{labels: {{app: web}}}}
        spec:
          affinity:
            nodeAffinity: {node_affinity}
            podAntiAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
              - labelSelector: {{matchLabels: {{app: web}}}}
                topologyKey: kubernetes.io/hostname
          containers:
          - {{name: web, image: nginx}}
    """)


def test_pod_anti_affinity_spreads_a_deployment_and_a_fourth_replica_waits(sim_cluster, ns):
    cluster = sim_cluster
    manifest = DEPLOYMENT.format(ns=ns, replicas=3, node_affinity=json.dumps(ONLY_SIM_NODES["nodeAffinity"]))
    cluster.kubectl("apply", "-f", "-", input=manifest)
    where = wait_placed(cluster, ns, 3, timeout=25)
    assert sorted(where.values()) == SIM_NODES

    cluster.kubectl("-n", ns, "scale", "deployment", "web", "--replicas=4")

    def pending_one():
        current = placement(cluster, ns)
        waiting = [name for name, node in current.items() if not node]
        return waiting[0] if len(current) == 4 and len(waiting) == 1 else None

    waiting = cluster.wait_for(pending_one, timeout=20, what="a fourth replica, pending")
    line = cluster.wait_for(lambda: failed_scheduling(cluster, ns, waiting), timeout=15,
                            what="FailedScheduling for the fourth replica")
    total = len(node_names(cluster))
    assert "node(s) didn't match pod anti-affinity rules" in line
    assert f"0/{total} nodes are available:" in line
    assert sorted(n for n in placement(cluster, ns).values() if n) == SIM_NODES


def test_pod_affinity_co_locates(sim_cluster, ns):
    cluster = sim_cluster
    create_pod(cluster, ns, "db", labels={"app": "db"}, affinity=ONLY_SIM_NODES)
    db_node = wait_placed(cluster, ns, 1)["db"]
    near_db = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    for i in range(3):
        create_pod(cluster, ns, f"cache-{i}", labels={"app": "cache"}, affinity=near_db)
    where = wait_placed(cluster, ns, 4)
    assert set(where.values()) == {db_node}


def test_no_schedule_taint_keeps_pods_away_unless_tolerated(sim_cluster, ns):
    cluster = sim_cluster
    key = f"e2e-{ns}"[:60]
    cluster.kubectl("taint", "nodes", "sim-0", f"{key}=yes:NoSchedule")
    try:
        for i in range(6):
            create_pod(cluster, ns, f"plain-{i}", affinity=ONLY_SIM_NODES)
        tolerant_to_sim0 = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["sim-0"]}]}]}}}
        create_pod(cluster, ns, "tolerant", affinity=tolerant_to_sim0,
                   tolerations=[{"key": key, "operator": "Equal", "value": "yes", "effect": "NoSchedule"}])
        create_pod(cluster, ns, "intolerant", affinity=tolerant_to_sim0)
        def all_but_intolerant_placed():
            where = placement(cluster, ns)
            placed = {k: v for k, v in where.items() if v}
            return where if len(where) == 8 and len(placed) == 7 else None

        where = cluster.wait_for(all_but_intolerant_placed, timeout=20, what="7 of 8 pods scheduled")
        assert where.pop("tolerant") == "sim-0"
        assert where.pop("intolerant") == ""
        assert "sim-0" not in where.values() and len(where) == 6
        line = cluster.wait_for(lambda: failed_scheduling(cluster, ns, "intolerant"), timeout=15,
                                what="FailedScheduling for the intolerant pod")
        assert f"1 node(s) had untolerated taint {{{key}: yes}}" in line
    finally:
        cluster.kubectl("taint", "nodes", "sim-0", f"{key}=yes:NoSchedule-", check=False)


def test_topology_spread_over_hostnames(sim_cluster, ns):
    cluster = sim_cluster
    spread = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "spread"}}}]
    for i in range(6):
        create_pod(cluster, ns, f"spread-{i}", labels={"app": "spread"}, affinity=ONLY_SIM_NODES,
                   topologySpreadConstraints=spread)
    where = wait_placed(cluster, ns, 6)
    counts = sorted(list(where.values()).count(n) for n in SIM_NODES)
    assert counts == [2, 2, 2]


def wait_pending_with(cluster, ns: str, pod: str, text: str) -> str:
    return cluster.wait_for(lambda: text in failed_scheduling(cluster, ns, pod) and failed_scheduling(cluster, ns, pod),
                            timeout=15, what=f"FailedScheduling mentioning {text!r}")


def test_missing_claim_is_reported_by_volume_binding(sim_cluster, ns):
    cluster = sim_cluster
    create_pod(cluster, ns, "needs-claim",
               volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}])
    line = wait_pending_with(cluster, ns, "needs-claim", 'persistentvolumeclaim "data" not found')
    total = len(node_names(cluster))
    assert (f'0/{total} nodes are available: persistentvolumeclaim "data" not found. preemption: 0/{total} nodes '
            f"are available: {total} Preemption is not helpful for scheduling.") in line


def test_wait_for_first_consumer_claim_follows_the_scheduled_pod(sim_cluster, ns):
    cluster = sim_cluster
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": ns},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(claim))
    create_pod(cluster, ns, "consumer", affinity=ONLY_SIM_NODES,
               volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}])
    node = wait_placed(cluster, ns, 1, timeout=25)["consumer"]

    def claim_doc() -> dict:
        return json.loads(cluster.kubectl("-n", ns, "get", "pvc", "data", "-o", "json").stdout)

    doc = cluster.wait_for(lambda: (d := claim_doc())["status"].get("phase") == "Bound" and d, timeout=15,
                           what="claim bound")
    assert doc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node
