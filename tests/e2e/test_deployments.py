"""Deployments end to end: the real kubectl drives rollouts on simulated nodes.

Runs against `sim_cluster` (server with controllers and scheduler, three fake-runtime
nodes). Covers what `kubectl rollout` needs from the Deployment and ReplicaSet
controllers: status to completion, scale, set image, history with CHANGE-CAUSE, undo,
pause/resume, restart, and a progress deadline that is exceeded.
"""

from __future__ import annotations

import json
import re
import textwrap

import pytest

pytestmark = pytest.mark.e2e

DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: {name}
      namespace: {ns}
      annotations:
        kubernetes.io/change-cause: {cause}
    spec:
      replicas: {replicas}
      {extra}
      selector:
        matchLabels: {{app: {name}}}
      template:
        metadata:
          labels: {{app: {name}}}
          annotations: {pod_annotations}
        spec:
          containers:
          - name: web
            image: {image}
    """)


@pytest.fixture
def ns(sim_cluster, request):
    name = "d-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:50].strip("-")
    sim_cluster.kubectl("create", "namespace", name)
    yield name
    sim_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def apply(cluster, ns: str, *, name: str = "web", replicas: int = 3, image: str = "nginx:1.25",
          cause: str = "initial", extra: str = "", pod_annotations: str = "{}") -> None:
    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT.format(
        name=name, ns=ns, replicas=replicas, image=image, cause=cause, extra=extra,
        pod_annotations=pod_annotations))


def get_json(cluster, ns: str, *args: str) -> dict:
    return json.loads(cluster.kubectl("-n", ns, "get", *args, "-o", "json").stdout)


def rollout_status(cluster, ns: str, name: str = "web", timeout: int = 45):
    return cluster.kubectl("-n", ns, "rollout", "status", f"deployment/{name}", f"--timeout={timeout}s",
                           timeout=timeout + 15)


def replica_sets(cluster, ns: str, name: str = "web") -> list[dict]:
    return get_json(cluster, ns, "rs", "-l", f"app={name}")["items"]


def revision(rs: dict) -> int:
    return int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])


def test_apply_rollout_status_and_scale(sim_cluster, ns):
    apply(sim_cluster, ns)
    out = rollout_status(sim_cluster, ns).stdout
    assert 'deployment "web" successfully rolled out' in out
    d = get_json(sim_cluster, ns, "deployment", "web")
    status = d["status"]
    assert status["observedGeneration"] == d["metadata"]["generation"]
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"], status["availableReplicas"]) == (
        3, 3, 3, 3)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"

    (rs,) = replica_sets(sim_cluster, ns)
    hash_ = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{hash_}"
    assert rs["spec"]["selector"]["matchLabels"]["pod-template-hash"] == hash_
    assert rs["metadata"]["annotations"]["kubernetes.io/change-cause"] == "initial"
    pods = get_json(sim_cluster, ns, "pods", "-l", "app=web")["items"]
    assert len(pods) == 3 and all(p["metadata"]["name"].startswith(f"web-{hash_}-") for p in pods)

    sim_cluster.kubectl("-n", ns, "scale", "deployment/web", "--replicas=5")
    rollout_status(sim_cluster, ns)
    assert get_json(sim_cluster, ns, "deployment", "web")["status"]["availableReplicas"] == 5
    (rs,) = replica_sets(sim_cluster, ns)
    assert rs["spec"]["replicas"] == 5
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "5"

    sim_cluster.kubectl("-n", ns, "scale", "deployment/web", "--replicas=3")
    rollout_status(sim_cluster, ns)
    sim_cluster.wait_for(lambda: len([p for p in get_json(sim_cluster, ns, "pods", "-l", "app=web")["items"]
                                      if not p["metadata"].get("deletionTimestamp")]) == 3,
                         timeout=20, what="3 pods after scaling down")
    events = sim_cluster.kubectl("-n", ns, "get", "events", "--field-selector",
                                 "involvedObject.kind=Deployment").stdout
    assert f"Scaled up replica set web-{hash_} from 0 to 3" in events
    assert f"Scaled down replica set web-{hash_} from 5 to 3" in events


def test_set_image_history_and_undo(sim_cluster, ns):
    apply(sim_cluster, ns)
    rollout_status(sim_cluster, ns)
    sim_cluster.kubectl("-n", ns, "set", "image", "deployment/web", "web=nginx:1.26")
    sim_cluster.kubectl("-n", ns, "annotate", "deployment/web", "--overwrite",
                        "kubernetes.io/change-cause=image 1.26")
    assert 'successfully rolled out' in rollout_status(sim_cluster, ns).stdout

    rss = sorted(replica_sets(sim_cluster, ns), key=revision)
    assert [revision(rs) for rs in rss] == [1, 2]
    assert [rs["spec"]["replicas"] for rs in rss] == [0, 3]  # the old RS is kept, scaled to zero
    rs_table = sim_cluster.kubectl("-n", ns, "get", "rs").stdout
    assert re.search(rf"{rss[0]['metadata']['name']}\s+0\s+0\s+0", rs_table), rs_table

    def history_has_cause() -> str:
        out = sim_cluster.kubectl("-n", ns, "rollout", "history", "deployment/web").stdout
        return out if "image 1.26" in out else ""

    history = sim_cluster.wait_for(history_has_cause, timeout=15, what="change-cause on the new RS")
    assert re.search(r"^1\s+initial\s*$", history, re.M), history
    assert re.search(r"^2\s+image 1\.26\s*$", history, re.M), history

    first = sim_cluster.kubectl("-n", ns, "rollout", "history", "deployment/web", "--revision=1").stdout
    assert "nginx:1.25" in first and "pod-template-hash" in first

    sim_cluster.kubectl("-n", ns, "rollout", "undo", "deployment/web", "--to-revision=1")
    rollout_status(sim_cluster, ns)
    d = get_json(sim_cluster, ns, "deployment", "web")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    rss = {rs["metadata"]["name"]: rs for rs in replica_sets(sim_cluster, ns)}
    assert len(rss) == 2  # the first RS was reused, not recreated
    reused = rss[sorted(rss, key=lambda n: revision(rss[n]))[-1]]
    assert reused["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert revision(reused) == 3
    assert reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


def test_pause_and_resume(sim_cluster, ns):
    apply(sim_cluster, ns)
    rollout_status(sim_cluster, ns)
    sim_cluster.kubectl("-n", ns, "rollout", "pause", "deployment/web")
    sim_cluster.kubectl("-n", ns, "set", "image", "deployment/web", "web=nginx:1.27")

    def paused_observed() -> dict | None:
        d = get_json(sim_cluster, ns, "deployment", "web")
        progressing = {c["type"]: c for c in d["status"].get("conditions", [])}.get("Progressing", {})
        done = (d["status"].get("observedGeneration") == d["metadata"]["generation"]
                and progressing.get("reason") == "DeploymentPaused")
        return d if done else None

    sim_cluster.wait_for(paused_observed, timeout=15, what="the paused deployment to be observed")
    assert len(replica_sets(sim_cluster, ns)) == 1  # paused: no new ReplicaSet

    sim_cluster.kubectl("-n", ns, "rollout", "resume", "deployment/web")
    rollout_status(sim_cluster, ns)
    rss = replica_sets(sim_cluster, ns)
    assert len(rss) == 2
    newest = max(rss, key=revision)
    assert newest["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert newest["spec"]["replicas"] == 3


def test_rollout_restart_creates_a_new_replica_set(sim_cluster, ns):
    apply(sim_cluster, ns, replicas=2)
    rollout_status(sim_cluster, ns)
    sim_cluster.kubectl("-n", ns, "rollout", "restart", "deployment/web")
    rollout_status(sim_cluster, ns)
    rss = sorted(replica_sets(sim_cluster, ns), key=revision)
    assert [rs["spec"]["replicas"] for rs in rss] == [0, 2]
    annotations = rss[-1]["spec"]["template"]["metadata"].get("annotations") or {}
    assert "kubectl.kubernetes.io/restartedAt" in annotations


def test_recreate_strategy(sim_cluster, ns):
    apply(sim_cluster, ns, replicas=2, extra="strategy: {type: Recreate}")
    rollout_status(sim_cluster, ns)
    sim_cluster.kubectl("-n", ns, "set", "image", "deployment/web", "web=nginx:1.26")
    rollout_status(sim_cluster, ns)
    rss = sorted(replica_sets(sim_cluster, ns), key=revision)
    assert [rs["spec"]["replicas"] for rs in rss] == [0, 2]


def test_progress_deadline_exceeded(sim_cluster, ns):
    apply(sim_cluster, ns, name="stuck", replicas=2, extra="progressDeadlineSeconds: 5",
          pod_annotations='{"sim.podplane.io/ready": "false"}')
    result = sim_cluster.kubectl("-n", ns, "rollout", "status", "deployment/stuck", "--timeout=40s",
                                 check=False, timeout=60)
    assert result.returncode != 0
    assert 'deployment "stuck" exceeded its progress deadline' in result.stderr
    d = get_json(sim_cluster, ns, "deployment", "stuck")
    conditions = {c["type"]: c for c in d["status"]["conditions"]}
    assert (conditions["Progressing"]["status"], conditions["Progressing"]["reason"]) == (
        "False", "ProgressDeadlineExceeded")
    assert (conditions["Available"]["status"], conditions["Available"]["reason"]) == (
        "False", "MinimumReplicasUnavailable")
