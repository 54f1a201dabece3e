"""`podplane agent --runtime fake` against a real server, through the real kubectl.

Each test runs a private cluster (`new_cluster`) with one agent simulating two nodes,
so it can restart the agent and set its flags. Pods name their node (no scheduler
needed); annotations steer the simulated containers. Covers: node registration
(Ready, labels, capacity, addresses in `kubectl get nodes -o wide`), Leases renewing
in kube-node-lease, pods going Running with pod and host IPs, exit codes giving
Completed/Error and restart counts, kubelet admission (OutOfpods), graceful
`kubectl delete`, and an agent restart that adopts pods without touching them.
"""

from __future__ import annotations

import json
import signal
import time

import pytest

pytestmark = pytest.mark.e2e


def pod_manifest(name: str, node: str, *, policy: str = "Always", **annotations: str) -> str:
    notes = "".join(f'\n    sim.podplane.io/{k.replace("_", "-")}: "{v}"' for k, v in annotations.items())
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: {name}
  annotations:{notes or " {}"}
spec:
  nodeName: {node}
  restartPolicy: {policy}
  terminationGracePeriodSeconds: 5
  containers:
  - name: app
    image: nginx
"""


def get_json(cluster, *args: str) -> dict:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def pod_row(cluster, ns: str, name: str) -> list[str]:
    out = cluster.kubectl("get", "pod", name, "-n", ns, "-o", "wide", "--no-headers", check=False).stdout
    return out.split()


@pytest.fixture
def fake_cluster(new_cluster):
    def start(*flags: str):
        c = new_cluster()
        c.start()
        c.start_agent(nodes=2, node_name="fa", extra=flags)
        c.kubectl("create", "namespace", "sim")
        return c

    return start


def test_nodes_register_ready_with_labels_capacity_and_renewing_leases(fake_cluster):
    c = fake_cluster("--node-label", "tier=sim", "--cpu", "8", "--memory", "32Gi", "--max-pods", "2")
    rows = {line.split()[0]: line.split() for line in
            c.kubectl("get", "nodes", "-o", "wide", "--no-headers").stdout.splitlines()}
    assert set(rows) == {"fa-0", "fa-1"}
    for row in rows.values():
        # NAME STATUS ROLES AGE VERSION INTERNAL-IP EXTERNAL-IP OS-IMAGE(3 words) KERNEL RUNTIME
        assert row[1] == "Ready" and row[4] == "v1.37.0-podplane"
        assert row[5].startswith("127.1.0.") and row[6] == "<none>"
        assert row[-1].startswith("fake://")
    node = get_json(c, "node", "fa-1")
    labels = node["metadata"]["labels"]
    assert (labels["kubernetes.io/hostname"], labels["kubernetes.io/os"], labels["tier"]) == ("fa-1", "linux", "sim")
    assert labels["kubernetes.io/arch"]
    assert {k: node["status"]["capacity"][k] for k in ("cpu", "memory", "pods")} == {
        "cpu": "8", "memory": "32Gi", "pods": "2"}
    assert node["status"]["allocatable"]["pods"] == "2"
    ready = next(x for x in node["status"]["conditions"] if x["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "True", "KubeletReady", "kubelet is posting ready status")
    assert node["spec"]["podCIDR"].startswith("10.244.")

    lease = get_json(c, "lease", "fa-0", "-n", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "fa-0" and lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"
    first = lease["spec"]["renewTime"]
    c.wait_for(lambda: get_json(c, "lease", "fa-0", "-n", "kube-node-lease")["spec"]["renewTime"] > first,
               timeout=25, interval=1, what="the lease of fa-0 to be renewed")

    # the kubelet's admission: a node with --max-pods 2 rejects a third pod
    for i in range(3):
        c.kubectl("apply", "-n", "sim", "-f", "-", input=pod_manifest(f"p{i}", "fa-0"))
    rejected = c.wait_for(lambda: [p for p in get_json(c, "pods", "-n", "sim")["items"]
                                   if p["status"].get("phase") == "Failed"], what="a pod rejected")
    assert len(rejected) == 1 and rejected[0]["status"]["reason"] == "OutOfpods"
    assert rejected[0]["status"]["message"].startswith("Pod was rejected: Node didn't have enough resource: pods")


def test_pods_run_finish_crash_and_delete_like_on_a_kubelet(fake_cluster):
    c = fake_cluster()
    manifests = [
        pod_manifest("web", "fa-0"),
        pod_manifest("unready", "fa-0", ready="false"),
        pod_manifest("done", "fa-1", policy="Never", exit_code="0", run_seconds="1"),
        pod_manifest("broken", "fa-1", policy="Never", exit_code="3", run_seconds="1"),
        pod_manifest("crashy", "fa-1", exit_code="1", run_seconds="0.5", backoff_seconds="1"),
    ]
    c.kubectl("apply", "-n", "sim", "-f", "-", input="---\n".join(manifests))

    def statuses() -> dict[str, list[str]]:
        out = c.kubectl("get", "pods", "-n", "sim", "-o", "wide", "--no-headers").stdout
        return {line.split()[0]: line.split() for line in out.splitlines()}

    def settled():
        rows = statuses()
        want = {"web": ("1/1", "Running"), "unready": ("0/1", "Running"), "done": ("0/1", "Completed"),
                "broken": ("0/1", "Error")}
        ok = all(name in rows and tuple(rows[name][1:3]) == w for name, w in want.items())
        return rows if ok and int(rows.get("crashy", ["", "", "", "0"])[3]) >= 2 else None

    rows = c.wait_for(settled, timeout=30, what="pods to settle")
    # NAME READY STATUS RESTARTS AGE IP NODE ...
    assert rows["web"][5].startswith("10.244.") and rows["web"][6] == "fa-0"
    web = get_json(c, "pod", "web", "-n", "sim")
    assert web["status"]["hostIP"] == get_json(c, "node", "fa-0")["status"]["addresses"][0]["address"]
    assert web["status"]["podIPs"] == [{"ip": web["status"]["podIP"]}]
    cs = web["status"]["containerStatuses"][0]
    assert cs["containerID"].startswith("fake://") and cs["ready"] and cs["started"]
    assert {x["type"]: x["status"] for x in web["status"]["conditions"]} == {
        "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True", "ContainersReady": "True",
        "PodScheduled": "True"}
    unready = {x["type"]: x for x in get_json(c, "pod", "unready", "-n", "sim")["status"]["conditions"]}
    assert (unready["Ready"]["status"], unready["Ready"]["reason"]) == ("False", "ContainersNotReady")
    broken = get_json(c, "pod", "broken", "-n", "sim")["status"]
    assert broken["phase"] == "Failed"
    assert broken["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
    assert get_json(c, "pod", "done", "-n", "sim")["status"]["phase"] == "Succeeded"
    crashy = get_json(c, "pod", "crashy", "-n", "sim")["status"]["containerStatuses"][0]
    assert crashy["restartCount"] >= 2 and crashy["lastState"]["terminated"]["reason"] == "Error"

    events = c.kubectl("get", "events", "-n", "sim", "--field-selector", "involvedObject.name=web",
                       "-o", "jsonpath={.items[*].reason}").stdout.split()
    assert {"Pulled", "Created", "Started"} <= set(events)

    started = time.monotonic()
    c.kubectl("delete", "pod", "web", "-n", "sim", "--wait=true", timeout=30)
    assert time.monotonic() - started < 10, "graceful deletion completes without waiting out the grace period"
    assert c.kubectl("get", "pod", "web", "-n", "sim", check=False).returncode != 0
    assert "Killing" in c.kubectl("get", "events", "-n", "sim", "--field-selector",
                                  "involvedObject.name=web", "-o", "jsonpath={.items[*].reason}").stdout


def test_an_agent_restart_keeps_pod_state(fake_cluster):
    c = fake_cluster()
    c.kubectl("apply", "-n", "sim", "-f", "-", input="---\n".join([
        pod_manifest("steady", "fa-0"),
        pod_manifest("finished", "fa-1", policy="Never", exit_code="0", run_seconds="0.5")]))
    c.wait_for(lambda: pod_row(c, "sim", "steady")[2:3] == ["Running"] and
               pod_row(c, "sim", "finished")[2:3] == ["Completed"], what="pods running and finished")
    before = {name: get_json(c, "pod", name, "-n", "sim") for name in ("steady", "finished")}

    c.stop_agents(signal.SIGTERM)
    c.start_agent(nodes=2, node_name="fa")
    time.sleep(2)  # let the new agent sync and adopt
    for name, old in before.items():
        new = get_json(c, "pod", name, "-n", "sim")
        assert new["metadata"]["resourceVersion"] == old["metadata"]["resourceVersion"], f"{name} was rewritten"
        assert new["status"]["startTime"] == old["status"]["startTime"]
        assert new["status"]["containerStatuses"] == old["status"]["containerStatuses"]

    c.kubectl("apply", "-n", "sim", "-f", "-", input=pod_manifest("later", "fa-0"))
    c.wait_for(lambda: pod_row(c, "sim", "later")[2:3] == ["Running"], what="a new pod after the restart")
    later_ip = get_json(c, "pod", "later", "-n", "sim")["status"]["podIP"]
    assert later_ip != before["steady"]["status"]["podIP"], "the adopted pod's address stays reserved"
