"""Services end to end on simulated nodes: Endpoints, EndpointSlices and LoadBalancer status.

Runs against `sim_cluster` (server with controllers and scheduler, three fake-runtime
nodes whose pods get IPs and become Ready) with the real kubectl. Covers the Endpoints
and EndpointSlice controllers following a Deployment through scaling, a pod made ready
and not ready again through a readiness gate, and the Service's deletion; a
selector-less Service whose manual Endpoints are kept (and mirrored into a slice); and
the built-in load balancer giving a LoadBalancer Service the Ready nodes' addresses,
following nodes that leave and rejoin, and withdrawing them when the type changes.
"""

from __future__ import annotations

import json
import re
import textwrap
import time

import pytest

pytestmark = pytest.mark.e2e

APP = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {{name: web, namespace: {ns}}}
    spec:
      replicas: 3
      selector:
        matchLabels: {{app: web}}
      template:
        metadata:
          labels: {{app: web}}
        spec:
          containers:
          - name: web
            image: nginx
            ports:
            - {{name: http, containerPort: 8080}}
    ---
    apiVersion: v1
    kind: Service
    metadata: {{name: web, namespace: {ns}, labels: {{tier: front}}}}
    spec:
      selector: {{app: web}}
      ports:
      - {{name: http, port: 80, targetPort: http}}
    """)

GATED_POD = textwrap.dedent("""\
    apiVersion: v1
    kind: Pod
    metadata:
      name: gated
      namespace: {ns}
      labels: {{app: web}}
    spec:
      readinessGates:
      - conditionType: example.com/in-rotation
      containers:
      - name: web
        image: nginx
        ports:
        - {{name: http, containerPort: 8080}}
    """)


MANUAL = textwrap.dedent("""\
    apiVersion: v1
    kind: Service
    metadata: {{name: external-db, namespace: {ns}}}
    spec:
      ports:
      - {{name: db, port: 5432}}
    ---
    apiVersion: v1
    kind: Endpoints
    metadata: {{name: external-db, namespace: {ns}}}
    subsets:
    - addresses:
      - {{ip: 192.0.2.10}}
      ports:
      - {{name: db, port: 5432}}
    """)

LOAD_BALANCER = textwrap.dedent("""\
    apiVersion: v1
    kind: Service
    metadata: {{name: lb, namespace: {ns}}}
    spec:
      type: LoadBalancer
      selector: {{app: nothing}}
      ports:
      - {{port: 8443}}
    """)


@pytest.fixture
def ns(sim_cluster, request):
    name = "svc-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:50].strip("-")
    sim_cluster.kubectl("create", "namespace", name)
    yield name
    sim_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def get_json(cluster, ns: str, *args: str, check: bool = True) -> dict | None:
    result = cluster.kubectl("-n", ns, "get", *args, "-o", "json", check=check)
    return json.loads(result.stdout) if result.returncode == 0 else None


def endpoint_ips(cluster, ns: str, name: str = "web") -> tuple[list[str], list[str], list[int]]:
    """(ready IPs, not-ready IPs, ports) of an Endpoints object."""
    ep = get_json(cluster, ns, "endpoints", name, check=False) or {}
    ready, not_ready, ports = [], [], []
    for subset in ep.get("subsets") or ():
        ready += [a["ip"] for a in subset.get("addresses") or ()]
        not_ready += [a["ip"] for a in subset.get("notReadyAddresses") or ()]
        ports += [p["port"] for p in subset.get("ports") or ()]
    return sorted(ready), sorted(not_ready), sorted(set(ports))


def slice_endpoints(cluster, ns: str, name: str = "web") -> list[dict]:
    items = get_json(cluster, ns, "endpointslices", "-l", f"kubernetes.io/service-name={name}")["items"]
    return [e for s in items for e in s.get("endpoints") or ()]


def pod_ips(cluster, ns: str) -> dict[str, str]:
    pods = get_json(cluster, ns, "pods", "-l", "app=web")["items"]
    return {p["metadata"]["name"]: p["status"].get("podIP") for p in pods}


def test_endpoints_and_slices_follow_a_deployment(sim_cluster, ns):
    c = sim_cluster
    c.kubectl("apply", "-f", "-", input=APP.format(ns=ns))

    def ready_count(n: int):
        ready, not_ready, ports = endpoint_ips(c, ns)
        ready_slices = [e for e in slice_endpoints(c, ns) if e["conditions"].get("ready")]
        return (ready, ports) if len(ready) == n and len(ready_slices) == n else None

    ready, ports = c.wait_for(lambda: ready_count(3), timeout=20, what="3 ready endpoints")
    assert ports == [8080]  # the named targetPort, resolved on the pods
    assert ready == sorted(ip for ip in pod_ips(c, ns).values())
    ep = get_json(c, ns, "endpoints", "web")
    assert ep["metadata"]["labels"] == {"tier": "front"}
    table = c.kubectl("-n", ns, "get", "endpoints", "web").stdout
    assert ":8080" in table

    slices = get_json(c, ns, "endpointslices", "-l", "kubernetes.io/service-name=web")["items"]
    assert len(slices) == 1
    s = slices[0]
    assert s["addressType"] == "IPv4"
    assert s["metadata"]["name"].startswith("web-")
    assert s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert s["metadata"]["ownerReferences"][0]["kind"] == "Service"
    assert s["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert all(e["conditions"] == {"ready": True, "serving": True, "terminating": False} for e in s["endpoints"])
    assert all(e["nodeName"].startswith("sim-") and e["targetRef"]["kind"] == "Pod" for e in s["endpoints"])
    assert "8080" in c.kubectl("-n", ns, "get", "endpointslices", "-l", "kubernetes.io/service-name=web").stdout

    c.kubectl("-n", ns, "scale", "deployment/web", "--replicas=5")
    c.wait_for(lambda: ready_count(5), timeout=15, what="5 ready endpoints after scaling")

    # a pod whose readiness we steer through a readiness gate: ready, then made not ready
    c.kubectl("apply", "-f", "-", input=GATED_POD.format(ns=ns))

    def set_gate(status: str) -> None:
        c.kubectl("-n", ns, "patch", "pod", "gated", "--subresource=status", "--type=strategic", "-p",
                  json.dumps({"status": {"conditions": [{"type": "example.com/in-rotation", "status": status}]}}))

    def gated(ready: bool):
        ip = pod_ips(c, ns).get("gated")
        if not ip:
            return None
        ready_ips, not_ready_ips, _ = endpoint_ips(c, ns)
        in_slice = [e for e in slice_endpoints(c, ns) if e["targetRef"]["name"] == "gated"]
        listed = ready_ips if ready else not_ready_ips
        return (ip in listed and len(ready_ips) == 5 + ready and in_slice
                and in_slice[0]["conditions"]["ready"] is ready and in_slice[0]["conditions"]["serving"] is ready)

    c.wait_for(lambda: gated(False), timeout=15, what="the gated pod in notReadyAddresses")
    set_gate("True")
    c.wait_for(lambda: gated(True), timeout=15, what="the gated pod in addresses once ready")
    set_gate("False")
    c.wait_for(lambda: gated(False), timeout=15, what="the gated pod back in notReadyAddresses")

    c.kubectl("-n", ns, "delete", "service", "web")

    def gone():
        return (get_json(c, ns, "endpoints", "web", check=False) is None
                and not get_json(c, ns, "endpointslices", "-l", "kubernetes.io/service-name=web")["items"])

    c.wait_for(gone, timeout=15, what="Endpoints and EndpointSlices removed with the Service")


def test_selectorless_service_keeps_its_manual_endpoints(sim_cluster, ns):
    c = sim_cluster
    c.kubectl("apply", "-f", "-", input=MANUAL.format(ns=ns))

    def mirrored():
        items = get_json(c, ns, "endpointslices", "-l", "kubernetes.io/service-name=external-db")["items"]
        return items if items and items[0]["endpoints"] else None

    items = c.wait_for(mirrored, timeout=15, what="the mirrored EndpointSlice")
    assert items[0]["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
        "endpointslicemirroring-controller.k8s.io"
    assert items[0]["endpoints"][0]["addresses"] == ["192.0.2.10"]
    # the Endpoints controller did not touch the manual object
    assert endpoint_ips(c, ns, "external-db") == (["192.0.2.10"], [], [5432])


def test_load_balancer_service_gets_the_node_addresses(sim_cluster, ns):
    c = sim_cluster
    nodes = json.loads(c.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    node_ips = sorted(a["address"] for n in nodes if n["metadata"]["name"].startswith("sim-")
                      for a in n["status"]["addresses"] if a["type"] == "InternalIP")
    assert len(node_ips) == 3
    c.kubectl("apply", "-f", "-", input=LOAD_BALANCER.format(ns=ns))

    def external_ips():
        line = c.kubectl("-n", ns, "get", "svc", "lb", "--no-headers").stdout.split()
        # NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE
        return sorted(line[3].split(",")) if len(line) > 3 and line[3] not in ("<pending>", "<none>") else None

    assert c.wait_for(external_ips, timeout=15, what="EXTERNAL-IP of the LoadBalancer Service") == node_ips
    svc = get_json(c, ns, "svc", "lb")
    assert all(i["ipMode"] == "VIP" for i in svc["status"]["loadBalancer"]["ingress"])

    # its selector matches nothing: one empty placeholder slice, which a resync leaves alone
    def placeholder():
        items = get_json(c, ns, "endpointslices", "-l", "kubernetes.io/service-name=lb")["items"]
        return items[0] if len(items) == 1 else None

    before = c.wait_for(placeholder, timeout=15, what="the placeholder slice")
    assert (before.get("endpoints") or [], before.get("ports") or []) == ([], [])
    c.kubectl("-n", ns, "annotate", "svc", "lb", "example.com/touched=yes")
    time.sleep(1)  # the controllers resync the Service; nothing observable is meant to happen
    assert placeholder()["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]

    # nodes leaving and joining the pool update the status
    sim0 = next(a["address"] for n in nodes if n["metadata"]["name"] == "sim-0"
                for a in n["status"]["addresses"] if a["type"] == "InternalIP")
    exclude = "node.kubernetes.io/exclude-from-external-load-balancers"
    c.kubectl("label", "node", "sim-0", f"{exclude}=")
    try:
        c.wait_for(lambda: external_ips() == [ip for ip in node_ips if ip != sim0], timeout=15,
                   what="sim-0 leaving the load balancer")
    finally:
        c.kubectl("label", "node", "sim-0", f"{exclude}-")
    c.wait_for(lambda: external_ips() == node_ips, timeout=15, what="sim-0 back in the load balancer")

    # no longer a LoadBalancer: the addresses are withdrawn
    c.kubectl("-n", ns, "patch", "svc", "lb", "-p", json.dumps({"spec": {"type": "ClusterIP"}}))
    c.wait_for(lambda: not (get_json(c, ns, "svc", "lb")["status"].get("loadBalancer") or {}).get("ingress"),
               timeout=15, what="the ingress cleared")

