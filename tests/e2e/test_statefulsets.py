"""StatefulSets end to end on simulated nodes: ordered start, stable names and storage, scaling
from the highest ordinal, pod replacement, rollout status/history/undo through ControllerRevisions,
and local-path volumes bound through the default StorageClass.

Drives the real kubectl against `sim_cluster` (server with controllers and scheduler, agent
with the fake runtime). Each test uses its own namespace.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

pytestmark = pytest.mark.e2e

MANIFEST = """
apiVersion: v1
kind: Service
metadata:
  name: nginx
  labels: {app: nginx}
spec:
  clusterIP: None
  selector: {app: nginx}
  ports: [{port: 80, name: web}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: nginx
  replicas: 3
  selector:
    matchLabels: {app: nginx}
  template:
    metadata:
      labels: {app: nginx}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: nginx
        image: nginx:1.25
        ports: [{containerPort: 80, name: web}]
        volumeMounts: [{name: data, mountPath: /usr/share/nginx/html}]
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
"""


@pytest.fixture
def ns(sim_cluster):
    name = f"sts-{uuid.uuid4().hex[:6]}"
    sim_cluster.kubectl("create", "namespace", name)
    yield name
    sim_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def get_json(cluster, *args: str) -> dict:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def pods_by_name(cluster, ns: str) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in get_json(cluster, "pods", "-n", ns, "-l", "app=nginx")["items"]}


def claims_by_name(cluster, ns: str) -> dict[str, dict]:
    return {c["metadata"]["name"]: c for c in get_json(cluster, "pvc", "-n", ns)["items"]}


def ready_since(pod: dict) -> str:
    for cond in pod["status"].get("conditions") or ():
        if cond["type"] == "Ready" and cond["status"] == "True":
            return cond["lastTransitionTime"]
    raise AssertionError(f"{pod['metadata']['name']} is not Ready")


def rollout(cluster, ns: str, timeout: str = "60s") -> str:
    return cluster.kubectl("rollout", "status", "statefulset/web", "-n", ns, f"--timeout={timeout}",
                           timeout=90).stdout


def start(cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=MANIFEST)
    out = rollout(cluster, ns)
    assert "roll out complete" in out or "rolling update complete" in out, out


def bound_volumes(cluster, ns: str, count: int) -> dict[str, str]:
    """claim name → volume name, once `count` claims are Bound."""
    def check():
        claims = claims_by_name(cluster, ns)
        bound = {n: c["spec"].get("volumeName") for n, c in claims.items() if c["status"].get("phase") == "Bound"}
        return bound if len(bound) == count else None
    return cluster.wait_for(check, timeout=30, what=f"{count} bound claims in {ns}")


def test_ordered_start_stable_identity_and_bound_claims(sim_cluster, ns):
    start(sim_cluster, ns)
    pods = pods_by_name(sim_cluster, ns)
    assert sorted(pods) == ["web-0", "web-1", "web-2"]
    # OrderedReady: each pod is created only once its predecessor is Running and Ready
    for prev, nxt in (("web-0", "web-1"), ("web-1", "web-2")):
        assert pods[nxt]["metadata"]["creationTimestamp"] >= ready_since(pods[prev]), (prev, nxt)
    sts = get_json(sim_cluster, "statefulset", "web", "-n", ns)
    status = sts["status"]
    assert status["observedGeneration"] == sts["metadata"]["generation"]
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (3, 3, 3)
    assert status["currentRevision"] == status["updateRevision"]
    for i in range(3):
        pod = pods[f"web-{i}"]
        labels = pod["metadata"]["labels"]
        assert labels["statefulset.kubernetes.io/pod-name"] == f"web-{i}"
        assert labels["apps.kubernetes.io/pod-index"] == str(i)
        assert labels["controller-revision-hash"] == status["updateRevision"]
        assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == (f"web-{i}", "nginx")
        claim_volumes = [v for v in pod["spec"]["volumes"] if v["name"] == "data"]
        assert claim_volumes[0]["persistentVolumeClaim"]["claimName"] == f"data-web-{i}"
    volumes = bound_volumes(sim_cluster, ns, 3)
    assert sorted(volumes) == ["data-web-0", "data-web-1", "data-web-2"]
    for claim, volume in volumes.items():
        pv = get_json(sim_cluster, "pv", volume)
        assert pv["spec"]["claimRef"]["name"] == claim and pv["status"]["phase"] == "Bound"
        assert pv["spec"]["storageClassName"] == "local-path"
        node = pods[claim.removeprefix("data-")]["spec"]["nodeName"]
        terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
        assert terms[0]["matchExpressions"][0]["values"] == [node]
    classes = get_json(sim_cluster, "storageclass")["items"]
    default = [c for c in classes if (c["metadata"].get("annotations") or {}).get(
        "storageclass.kubernetes.io/is-default-class") == "true"]
    assert [c["metadata"]["name"] for c in default] == ["local-path"]


def test_scale_down_from_the_highest_ordinal_and_back_up_with_the_same_claims(sim_cluster, ns):
    start(sim_cluster, ns)
    volumes = bound_volumes(sim_cluster, ns, 3)
    sim_cluster.kubectl("scale", "statefulset", "web", "-n", ns, "--replicas=1")
    seen: list[tuple[str, ...]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        names = tuple(sorted(pods_by_name(sim_cluster, ns)))
        if not seen or seen[-1] != names:
            seen.append(names)
        if names == ("web-0",):
            break
        time.sleep(0.1)
    assert seen[-1] == ("web-0",), seen
    # web-2 goes first: web-1 is never missing while web-2 still exists
    assert all("web-1" in names or "web-2" not in names for names in seen), seen
    assert claims_by_name(sim_cluster, ns).keys() == volumes.keys()  # claims outlive their pods

    sim_cluster.kubectl("scale", "statefulset", "web", "-n", ns, "--replicas=3")
    rollout(sim_cluster, ns)
    pods = pods_by_name(sim_cluster, ns)
    assert sorted(pods) == ["web-0", "web-1", "web-2"]
    assert bound_volumes(sim_cluster, ns, 3) == volumes  # the same volumes, not new ones
    assert pods["web-2"]["metadata"]["creationTimestamp"] >= ready_since(pods["web-1"])


def test_deleted_pod_returns_with_the_same_name_and_claim(sim_cluster, ns):
    start(sim_cluster, ns)
    volumes = bound_volumes(sim_cluster, ns, 3)
    old_uid = pods_by_name(sim_cluster, ns)["web-0"]["metadata"]["uid"]
    sim_cluster.kubectl("delete", "pod", "web-0", "-n", ns, "--timeout=30s")

    def replaced():
        pod = pods_by_name(sim_cluster, ns).get("web-0")
        if pod and pod["metadata"]["uid"] != old_uid and pod["status"].get("phase") == "Running":
            return pod
        return None

    pod = sim_cluster.wait_for(replaced, timeout=30, what="a new web-0")
    assert [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"] if v["name"] == "data"] == [
        "data-web-0"]
    rollout(sim_cluster, ns)
    assert bound_volumes(sim_cluster, ns, 3) == volumes


def test_rollout_history_and_undo_use_controller_revisions(sim_cluster, ns):
    start(sim_cluster, ns)
    sim_cluster.kubectl("set", "image", "statefulset/web", "nginx=nginx:1.26", "-n", ns)
    rollout(sim_cluster, ns)
    pods = pods_by_name(sim_cluster, ns)
    assert {p["spec"]["containers"][0]["image"] for p in pods.values()} == {"nginx:1.26"}

    history = sim_cluster.kubectl("rollout", "history", "statefulset/web", "-n", ns).stdout
    revisions = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
    assert revisions == ["1", "2"], history
    shown = sim_cluster.kubectl("rollout", "history", "statefulset/web", "-n", ns, "--revision=1").stdout
    assert "nginx:1.25" in shown, shown

    sim_cluster.kubectl("rollout", "undo", "statefulset/web", "-n", ns)
    rollout(sim_cluster, ns)

    def rolled_back():
        sts = get_json(sim_cluster, "statefulset", "web", "-n", ns)
        images = {p["spec"]["containers"][0]["image"] for p in pods_by_name(sim_cluster, ns).values()}
        done = (sts["status"].get("currentRevision") == sts["status"].get("updateRevision")
                and sts["status"].get("updatedReplicas") == 3 and images == {"nginx:1.25"})
        return sts if done else None

    sts = sim_cluster.wait_for(rolled_back, timeout=60, what="the rollback to nginx:1.25")
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    history = sim_cluster.kubectl("rollout", "history", "statefulset/web", "-n", ns).stdout
    # the undo re-uses revision 1's ControllerRevision and moves it to the head as revision 3
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"], history
    revs = get_json(sim_cluster, "controllerrevisions", "-n", ns)["items"]
    assert len(revs) == 2
    assert all(r["metadata"]["ownerReferences"][0]["name"] == "web" for r in revs)
    current = next(r for r in revs if r["metadata"]["name"] == sts["status"]["currentRevision"])
    assert current["revision"] == 3
    assert {p["metadata"]["labels"]["controller-revision-hash"]
            for p in pods_by_name(sim_cluster, ns).values()} == {current["metadata"]["name"]}
