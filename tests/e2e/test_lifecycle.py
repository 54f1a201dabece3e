"""Object and node lifecycle end to end: cascading deletion, namespace deletion, lost nodes.

Runs against `sim_cluster` (server with controllers and scheduler, three fake-runtime
nodes sim-*, node monitor grace period 8 s, default toleration 5 s) with the real kubectl:
- the garbage collector: background cascade (Deployment → ReplicaSets → Pods),
  `--cascade=orphan` (pods lose their ownerReferences) and `--cascade=foreground` (the
  owner waits, visibly, for a dependent held by a finalizer);
- the namespace controller: `kubectl delete namespace` empties and removes it;
- the node lifecycle controller: an agent that dies makes its node Unknown, tainted
  unreachable:NoExecute, and its pods are evicted after the 5 s toleration and replaced on
  the other nodes.
"""

from __future__ import annotations

import json
import re
import textwrap
import time

import pytest

pytestmark = pytest.mark.e2e

DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {{name: {name}, namespace: {ns}}}
    spec:
      replicas: {replicas}
      selector: {{matchLabels: {{app: {name}}}}}
      template:
        metadata: {{labels: {{app: {name}}}}}
        spec:
          terminationGracePeriodSeconds: 1
          containers: [{{name: web, image: "nginx:1.25"}}]
    """)

REPLICASET = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: ReplicaSet
    metadata: {{name: {name}, namespace: {ns}}}
    spec:
      replicas: {replicas}
      selector: {{matchLabels: {{app: {name}}}}}
      template:
        metadata: {{labels: {{app: {name}}}}}
        spec:
          terminationGracePeriodSeconds: 1
          containers: [{{name: web, image: "nginx:1.25"}}]
    """)


@pytest.fixture
def ns(sim_cluster, request):
    name = "lc-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:50].strip("-")
    sim_cluster.kubectl("create", "namespace", name)
    yield name
    sim_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def get_json(cluster, ns: str | None, *args: str, check: bool = True) -> dict | None:
    prefix = ("-n", ns) if ns else ()
    r = cluster.kubectl(*prefix, "get", *args, "-o", "json", check=check)
    return json.loads(r.stdout) if r.returncode == 0 else None


def pods(cluster, ns: str, selector: str = "") -> list[dict]:
    args = ("pods", "-l", selector) if selector else ("pods",)
    return get_json(cluster, ns, *args)["items"]


def running_pods(cluster, ns: str, selector: str, count: int) -> list[dict] | None:
    items = [p for p in pods(cluster, ns, selector)
             if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]
    return items if len(items) == count else None


def condition(obj: dict, cond_type: str) -> dict:
    return next((c for c in obj.get("status", {}).get("conditions") or () if c["type"] == cond_type), {})


def test_deleting_a_deployment_removes_its_replicasets_and_pods(sim_cluster, ns):
    sim_cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT.format(name="web", ns=ns, replicas=2))
    sim_cluster.wait_for(lambda: running_pods(sim_cluster, ns, "app=web", 2), timeout=30, what="2 running pods")
    rs = get_json(sim_cluster, ns, "rs", "-l", "app=web")["items"]
    assert len(rs) == 1
    sim_cluster.kubectl("-n", ns, "delete", "deployment", "web")  # background cascade, kubectl's default
    sim_cluster.wait_for(lambda: not get_json(sim_cluster, ns, "rs")["items"], timeout=20,
                         what="the ReplicaSet to be garbage collected")
    sim_cluster.wait_for(lambda: not pods(sim_cluster, ns), timeout=20, what="the pods to be garbage collected")


def test_orphan_cascade_leaves_pods_without_owner_references(sim_cluster, ns):
    sim_cluster.kubectl("apply", "-f", "-", input=REPLICASET.format(name="web", ns=ns, replicas=2))
    before = sim_cluster.wait_for(lambda: running_pods(sim_cluster, ns, "app=web", 2), timeout=30,
                                  what="2 running pods")
    assert all(p["metadata"].get("ownerReferences") for p in before)
    sim_cluster.kubectl("-n", ns, "delete", "rs", "web", "--cascade=orphan")  # waits for the RS to go
    assert get_json(sim_cluster, ns, "rs", "web", check=False) is None
    after = pods(sim_cluster, ns, "app=web")
    assert sorted(p["metadata"]["uid"] for p in after) == sorted(p["metadata"]["uid"] for p in before)
    assert all(not p["metadata"].get("ownerReferences") for p in after)
    time.sleep(2)  # and nobody collects them later
    assert len(running_pods(sim_cluster, ns, "app=web", 2) or []) == 2


def test_foreground_cascade_deletes_dependents_before_the_owner(sim_cluster, ns):
    sim_cluster.kubectl("apply", "-f", "-", input=REPLICASET.format(name="web", ns=ns, replicas=2))
    held, free = sim_cluster.wait_for(lambda: running_pods(sim_cluster, ns, "app=web", 2), timeout=30,
                                      what="2 running pods")
    held_name = held["metadata"]["name"]
    sim_cluster.kubectl("-n", ns, "patch", "pod", held_name, "--type=merge",
                        "-p", '{"metadata":{"finalizers":["example.com/hold"]}}')
    sim_cluster.kubectl("-n", ns, "delete", "rs", "web", "--cascade=foreground", "--wait=false")

    def owner_waits() -> dict | None:
        rs = get_json(sim_cluster, ns, "rs", "web", check=False)
        names = {p["metadata"]["name"] for p in pods(sim_cluster, ns, "app=web")}
        if rs and free["metadata"]["name"] not in names:
            return rs
        return None

    rs = sim_cluster.wait_for(owner_waits, timeout=20, what="the free pod gone while the RS waits")
    assert rs["metadata"].get("deletionTimestamp")
    assert "foregroundDeletion" in rs["metadata"].get("finalizers", [])
    held_now = get_json(sim_cluster, ns, "pod", held_name)
    assert held_now["metadata"].get("deletionTimestamp")
    time.sleep(1)
    assert get_json(sim_cluster, ns, "rs", "web", check=False) is not None  # still blocked by the held pod
    sim_cluster.kubectl("-n", ns, "patch", "pod", held_name, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    sim_cluster.wait_for(lambda: get_json(sim_cluster, ns, "rs", "web", check=False) is None, timeout=20,
                         what="the RS to go once its last dependent is gone")
    assert not pods(sim_cluster, ns, "app=web")


def test_deleting_a_namespace_removes_its_content_and_then_itself(sim_cluster):
    name = "lc-doomed-namespace"
    sim_cluster.kubectl("create", "namespace", name)
    try:
        sim_cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT.format(name="web", ns=name, replicas=2))
        sim_cluster.kubectl("-n", name, "create", "configmap", "settings", "--from-literal=a=b")
        sim_cluster.kubectl("-n", name, "create", "secret", "generic", "token", "--from-literal=a=b")
        sim_cluster.wait_for(lambda: running_pods(sim_cluster, name, "app=web", 2), timeout=30,
                             what="2 running pods")
        started = time.monotonic()
        sim_cluster.kubectl("delete", "namespace", name, "--timeout=45s", timeout=60)
        assert time.monotonic() - started < 30
        assert get_json(sim_cluster, None, "namespace", name, check=False) is None
    finally:
        sim_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_pods_of_an_unreachable_node_are_evicted_and_replaced(sim_cluster, ns):
    known = {n["metadata"]["name"] for n in get_json(sim_cluster, None, "nodes")["items"]}
    agent = sim_cluster.start_agent(nodes=1, node_name="doomed")
    doomed = sorted({n["metadata"]["name"] for n in get_json(sim_cluster, None, "nodes")["items"]} - known)
    assert len(doomed) == 1 and doomed[0].startswith("doomed")
    doomed = doomed[0]
    others = sorted(n for n in known if n.startswith("sim-"))
    try:
        sim_cluster.kubectl("cordon", *others)  # only the doomed node takes the first pods
        sim_cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT.format(name="web", ns=ns, replicas=2))
        first = sim_cluster.wait_for(lambda: running_pods(sim_cluster, ns, "app=web", 2), timeout=30,
                                     what="2 running pods on the doomed node")
        assert {p["spec"]["nodeName"] for p in first} == {doomed}
        assert all(t.get("tolerationSeconds") == 5 for p in first for t in p["spec"]["tolerations"]
                   if t.get("key") == "node.kubernetes.io/unreachable")
        sim_cluster.kubectl("uncordon", *others)

        agent.kill()
        agent.wait()
        killed = time.monotonic()

        def ready_status() -> str | None:
            node = get_json(sim_cluster, None, "node", doomed)
            status = condition(node, "Ready").get("status")
            return node if status == "Unknown" else None

        node = sim_cluster.wait_for(ready_status, timeout=25, what=f"{doomed} to become Unknown")
        assert time.monotonic() - killed < 25
        assert condition(node, "Ready")["reason"] == "NodeStatusUnknown"
        assert "NotReady" in sim_cluster.kubectl("get", "node", doomed, "--no-headers").stdout

        def tainted() -> bool:
            taints = get_json(sim_cluster, None, "node", doomed)["spec"].get("taints") or []
            return any(t["key"] == "node.kubernetes.io/unreachable" and t["effect"] == "NoExecute" for t in taints)

        sim_cluster.wait_for(tainted, timeout=15, what="the unreachable:NoExecute taint")
        tainted_at = time.monotonic()

        def replaced() -> list[dict] | None:
            fresh = [p for p in running_pods(sim_cluster, ns, "app=web", 2) or () if p["spec"]["nodeName"] != doomed]
            return fresh if len(fresh) == 2 else None

        fresh = sim_cluster.wait_for(replaced, timeout=30, what="2 replacement pods on the other nodes")
        assert time.monotonic() - tainted_at >= 4  # the 5 s toleration was honoured (minus polling slack)
        assert {p["spec"]["nodeName"] for p in fresh} <= set(others)
        for old in first:
            now = get_json(sim_cluster, ns, "pod", old["metadata"]["name"], check=False)
            if now is not None:  # left Terminating on the dead node, marked by the taint manager
                assert now["metadata"].get("deletionTimestamp")
                assert condition(now, "DisruptionTarget").get("reason") == "DeletionByTaintManager"
                assert condition(now, "Ready").get("status") == "False"
    finally:
        sim_cluster.kubectl("uncordon", *others, check=False)
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        sim_cluster.kubectl("-n", ns, "delete", "pods", "--field-selector", f"spec.nodeName={doomed}",
                            "--force", "--grace-period=0", check=False)
        sim_cluster.kubectl("delete", "node", doomed, "--wait=false", check=False)
