"""Services on a real node: ClusterIP load balancing, cluster DNS, readiness, NodePort, LoadBalancer,
headless StatefulSet names, hairpin, cleanup of rules and a proxy restart — with the real kubectl.

Runs on the `node_cluster` fixture (tests/e2e/realnode.py): `podplane up` in a network namespace
the test owns, whose only way out is the veth to the test; NodePort and LoadBalancer traffic
goes from the test to the node address on that veth.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from .realnode import apply, delete_pods, pod, ready, wait_pod

pytestmark = pytest.mark.e2e

WHOAMI = textwrap.dedent("""\
    import http.server, os, socket
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/ready" and os.path.exists("/tmp/unready"):
                self.send_response(503); self.end_headers(); return
            body = socket.gethostname().encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass
    http.server.ThreadingHTTPServer(("", 8080), H).serve_forever()
""")

FETCH = textwrap.dedent("""\
    import sys, urllib.request
    seen = {}
    for _ in range(int(sys.argv[2])):
        try:
            name = urllib.request.urlopen(sys.argv[1], timeout=3).read().decode()
        except Exception as e:
            name = "error:" + type(e).__name__
        seen[name] = seen.get(name, 0) + 1
    print(" ".join(f"{k}={v}" for k, v in sorted(seen.items())))
""")


def web_manifest(name: str, replicas: int, *, service_type: str = "ClusterIP", extra_spec: str = "") -> str:
    return textwrap.dedent(f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}}}
        spec:
          replicas: {replicas}
          selector: {{matchLabels: {{app: {name}}}}}
          template:
            metadata: {{labels: {{app: {name}}}}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: web
                image: python
                command: [python3, -c, {json.dumps(WHOAMI)}]
                ports: [{{name: http, containerPort: 8080}}]
                readinessProbe: {{httpGet: {{path: /ready, port: http}}, periodSeconds: 1, failureThreshold: 1}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {{name: {name}}}
        spec:
          type: {service_type}
          selector: {{app: {name}}}
          ports: [{{name: web, port: 80, targetPort: http}}]
          {extra_spec}
    """)


def fetch_counts(c, client: str, url: str, n: int = 30) -> dict[str, int]:
    out = c.kubectl("exec", client, "--", "python3", "-c", FETCH, url, str(n), timeout=120).stdout.split()
    return {k: int(v) for k, v in (item.rsplit("=", 1) for item in out)}


def ready_pod_names(c, app: str) -> set[str]:
    pods = json.loads(c.kubectl("get", "pods", "-l", f"app={app}", "-o", "json").stdout)["items"]
    return {p["metadata"]["name"] for p in pods if ready(p) and not p["metadata"].get("deletionTimestamp")}


def endpoint_ips(c, name: str) -> set[str]:
    out = c.kubectl("get", "endpoints", name, "-o", "json", check=False)
    if out.returncode != 0:
        return set()
    subsets = json.loads(out.stdout).get("subsets") or []
    return {a["ip"] for s in subsets for a in s.get("addresses") or []}


@pytest.fixture(scope="module")
def client_pod(node_cluster):
    c = node_cluster
    c.kubectl("run", "client", "--image=python", "--", "sleep", "3600")
    wait_pod(c, "client", ready, what="client pod Ready")
    yield "client"
    delete_pods(c, "client")


@pytest.fixture(scope="module")
def web(node_cluster):
    c = node_cluster
    apply(c, web_manifest("web", 3))
    c.wait_for(lambda: len(ready_pod_names(c, "web")) == 3, timeout=90, what="3 web replicas Ready")
    c.wait_for(lambda: len(endpoint_ips(c, "web")) == 3, what="3 endpoints")
    yield "web"
    c.kubectl("delete", "deployment,service", "web", "--ignore-not-found", "--wait=false")


def test_clusterip_dns_short_name_fqdn_and_ip_reach_every_replica(node_cluster, web, client_pod):
    c = node_cluster
    replicas = ready_pod_names(c, "web")
    cluster_ip = c.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}").stdout
    assert cluster_ip.startswith("10.43.")
    for url in ("http://web/", "http://web.default.svc.cluster.local/", f"http://{cluster_ip}/"):
        counts = fetch_counts(c, client_pod, url)
        assert set(counts) == replicas, (url, counts)  # all three answer, nothing fails


def test_not_ready_replica_gets_no_traffic_and_returns(node_cluster, web, client_pod):
    c = node_cluster
    victim = sorted(ready_pod_names(c, "web"))[0]
    victim_ip = pod(c, victim)["status"]["podIP"]
    c.kubectl("exec", victim, "--", "touch", "/tmp/unready")
    try:
        c.wait_for(lambda: victim_ip not in endpoint_ips(c, "web"), what="victim out of the endpoints")
        counts = fetch_counts(c, client_pod, "http://web/")
        assert victim not in counts and len(counts) == 2, counts
    finally:
        c.kubectl("exec", victim, "--", "rm", "-f", "/tmp/unready")
    c.wait_for(lambda: victim_ip in endpoint_ips(c, "web"), what="victim back in the endpoints")
    c.wait_for(lambda: victim in fetch_counts(c, client_pod, "http://web/", 20), what="victim gets traffic again")


def test_scaling_updates_endpoints_quickly(node_cluster, web):
    c = node_cluster
    c.kubectl("scale", "deployment", "web", "--replicas=4")
    try:
        c.wait_for(lambda: len(ready_pod_names(c, "web")) == 4, timeout=60, what="4 Ready replicas")
        became_ready = time.monotonic()
        c.wait_for(lambda: len(endpoint_ips(c, "web")) == 4, interval=0.05, what="4 endpoints")
        # upstream aims at about a second; allow for a busy 2-core machine
        assert time.monotonic() - became_ready < 3.0
    finally:
        c.kubectl("scale", "deployment", "web", "--replicas=3")
    c.wait_for(lambda: len(endpoint_ips(c, "web")) == 3, what="back to 3 endpoints")


def test_nodeport_and_loadbalancer_from_outside_the_node(node_cluster):
    c = node_cluster
    apply(c, web_manifest("edge", 2, service_type="LoadBalancer"))
    try:
        c.wait_for(lambda: len(endpoint_ips(c, "edge")) == 2, timeout=90, what="2 edge endpoints")
        svc = json.loads(c.kubectl("get", "svc", "edge", "-o", "json").stdout)
        node_port = svc["spec"]["ports"][0]["nodePort"]
        ingress = c.wait_for(lambda: (json.loads(c.kubectl("get", "svc", "edge", "-o", "json").stdout)
                                      .get("status", {}).get("loadBalancer", {}).get("ingress")),
                             what="LoadBalancer ingress")
        assert [i["ip"] for i in ingress] == [c.node_ip]

        def get(url):
            try:
                with urllib.request.urlopen(url, timeout=3) as r:
                    return r.read().decode()
            except OSError:
                return None

        names = set(ready_pod_names(c, "edge"))
        seen = set()
        for _ in range(20):  # NodePort on the node's address, from the test's end of the veth
            seen.add(c.wait_for(lambda: get(f"http://{c.node_ip}:{node_port}/"), what="NodePort answers"))
        assert seen == names
        lb = c.wait_for(lambda: get(f"http://{ingress[0]['ip']}:80/"), what="LoadBalancer ingress answers")
        assert lb in names
    finally:
        c.kubectl("delete", "deployment,service", "edge", "--ignore-not-found", "--wait=false")


def test_headless_statefulset_pods_reach_each_other_by_stable_names(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent(f"""
        apiVersion: v1
        kind: Service
        metadata: {{name: db}}
        spec:
          clusterIP: None
          selector: {{app: db}}
          ports: [{{name: http, port: 8080}}]
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {{name: db}}
        spec:
          serviceName: db
          replicas: 2
          selector: {{matchLabels: {{app: db}}}}
          template:
            metadata: {{labels: {{app: db}}}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: web
                image: python
                command: [python3, -c, {json.dumps(WHOAMI)}]
                ports: [{{name: http, containerPort: 8080}}]
    """))
    try:
        c.wait_for(lambda: ready_pod_names(c, "db") == {"db-0", "db-1"}, timeout=90, what="db-0 and db-1 Ready")
        ips = {name: pod(c, name)["status"]["podIP"] for name in ("db-0", "db-1")}
        resolve = "import socket, sys; print(socket.gethostbyname(sys.argv[1]))"
        got = c.wait_for(lambda: c.kubectl("exec", "db-1", "--", "python3", "-c", resolve, "db-0.db",
                                           check=False).stdout.strip(), what="db-0.db resolves")
        assert got == ips["db-0"]
        fqdn = c.kubectl("exec", "db-0", "--", "python3", "-c", resolve, "db-1.db.default.svc.cluster.local").stdout
        assert fqdn.strip() == ips["db-1"]
        headless = c.kubectl("exec", "db-0", "--", "python3", "-c",
                             "import socket; print(sorted({a[4][0] for a in socket.getaddrinfo('db', 8080)}))").stdout
        assert json.loads(headless.strip().replace("'", '"')) == sorted(ips.values())
        body = c.kubectl("exec", "db-1", "--", "python3", "-c",
                         "import urllib.request; print(urllib.request.urlopen('http://db-0.db:8080/').read().decode())")
        assert body.stdout.strip() == "db-0"
    finally:
        c.kubectl("delete", "statefulset,service", "db", "--ignore-not-found", "--wait=false")


def test_pod_reaches_itself_through_its_service(node_cluster):
    c = node_cluster
    apply(c, web_manifest("selfie", 1))
    try:
        c.wait_for(lambda: len(endpoint_ips(c, "selfie")) == 1, timeout=90, what="selfie endpoint")
        (me,) = ready_pod_names(c, "selfie")
        counts = fetch_counts(c, me, "http://selfie/", 5)
        assert counts == {me: 5}
    finally:
        c.kubectl("delete", "deployment,service", "selfie", "--ignore-not-found", "--wait=false")


def test_deleting_a_service_removes_its_rules(node_cluster, client_pod):
    c = node_cluster
    apply(c, web_manifest("gone", 1))
    c.wait_for(lambda: len(endpoint_ips(c, "gone")) == 1, timeout=90, what="gone endpoint")
    ip = c.kubectl("get", "svc", "gone", "-o", "jsonpath={.spec.clusterIP}").stdout
    c.wait_for(lambda: ip in c.exec_in_node("nft", "list", "ruleset").stdout, what="rules for the Service")
    c.kubectl("delete", "service", "gone")
    try:
        c.wait_for(lambda: ip not in c.exec_in_node("nft", "list", "ruleset").stdout, what="rules removed")
        counts = fetch_counts(c, client_pod, f"http://{ip}/", 1)
        assert all(k.startswith("error:") for k in counts), counts
    finally:
        c.kubectl("delete", "deployment", "gone", "--ignore-not-found", "--wait=false")


def test_traffic_keeps_flowing_across_a_proxy_restart(node_cluster, web, client_pod):
    """The nftables table stays while the agent (and its proxy) restart; requests from the
    client pod's network namespace keep being answered the whole time."""
    c = node_cluster
    cluster_ip = c.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}").stdout
    uid = pod(c, client_pod)["metadata"]["uid"]
    loop = textwrap.dedent("""\
        import sys, time, urllib.request
        ok = errors = 0
        end = time.time() + float(sys.argv[2])
        while time.time() < end:
            try:
                urllib.request.urlopen(sys.argv[1], timeout=2).read()
                ok += 1
            except Exception:
                errors += 1
            time.sleep(0.05)
        print(ok, errors)
    """)
    runner = subprocess.Popen(["nsenter", f"--net=/var/run/netns/{c.netns_prefix}{uid}", sys.executable, "-c",
                               loop, f"http://{cluster_ip}/", "12"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        c.restart()
        ok, errors = (int(x) for x in runner.communicate(timeout=60)[0].split())
    finally:
        if runner.poll() is None:
            runner.kill()
    assert ok > 50 and errors == 0, (ok, errors)
    c.wait_for(lambda: c.kubectl("exec", client_pod, "--", "true", check=False).returncode == 0,
               what="the agent serving again")
    after = fetch_counts(c, client_pod, "http://web/", 20)
    assert set(after) == ready_pod_names(c, "web"), after
