"""Resources on a real node: memory limits (OOMKilled), cpu quota enforced, `kubectl top` from cgroups.

Runs on the `node_cluster` fixture (tests/e2e/realnode.py): `podplane up` with runc in a
network namespace the test owns.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from .realnode import apply, container_status, delete_pods, ready, wait_pod

pytestmark = pytest.mark.e2e

BURN = """
import os, time
end = time.time() + 2.0
while time.time() < end:
    pass
t = os.times()
throttled = 0
for path in ("/sys/fs/cgroup/cpu/cpu.stat", "/sys/fs/cgroup/cpu.stat"):
    if os.path.exists(path):
        stat = dict(line.split() for line in open(path))
        throttled = int(stat.get("nr_throttled", 0))
        break
print(f"{t.user + t.system:.3f} {throttled}")
"""


def test_memory_over_the_limit_is_oom_killed(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: hog}
        spec:
          restartPolicy: Never
          containers:
          - name: hog
            image: python
            command: [python3, -c, "x = bytearray(256 * 1024 * 1024); print(len(x))"]
            resources: {limits: {memory: 48Mi}}
    """))
    try:
        p = wait_pod(c, "hog", lambda p: p["status"].get("phase") == "Failed", what="OOM-killed pod Failed")
        term = container_status(p, "hog")["state"]["terminated"]
        assert (term["reason"], term["exitCode"]) == ("OOMKilled", 137)
        assert p["status"]["qosClass"] == "Burstable"
    finally:
        delete_pods(c, "hog")


def test_cpu_limit_is_enforced(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent(f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: burner}}
        spec:
          restartPolicy: Never
          containers:
          - name: limited
            image: python
            command: [python3, -c, {json.dumps(BURN)}]
            resources: {{limits: {{cpu: 200m, memory: 64Mi}}}}
          - name: free
            image: python
            command: [python3, -c, {json.dumps(BURN)}]
    """))
    try:
        p = wait_pod(c, "burner", lambda p: p["status"].get("phase") == "Succeeded", what="burner done")
        assert p["status"]["qosClass"] == "Burstable"
        limited, limited_throttled = c.kubectl("logs", "burner", "-c", "limited").stdout.split()
        _, free_throttled = c.kubectl("logs", "burner", "-c", "free").stdout.split()
        # 2 s of wall time: the 200m quota allows ~0.4 s of cpu, and the kernel throttled the
        # container to keep it there (the cfs quota is enforced); the unlimited one never is
        assert float(limited) < 0.7, limited
        assert int(limited_throttled) > 0
        assert int(free_throttled) == 0
    finally:
        delete_pods(c, "burner")


def test_kubectl_top_pod_and_node(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: topper, labels: {app: topper}}
        spec:
          containers:
          - name: spin
            image: python
            command: [python3, -c, "x = bytearray(30 * 1024 * 1024)\\nwhile True: pass"]
            resources: {limits: {cpu: 300m}}
          - name: idle
            image: busybox
            command: [sleep, "3600"]
    """))
    try:
        wait_pod(c, "topper", ready, what="topper Ready")

        def top_pod():
            out = c.kubectl("top", "pod", "topper", "--containers", "--no-headers", check=False)
            return out.stdout if out.returncode == 0 and "spin" in out.stdout else None

        rows = {line.split()[1]: line.split() for line in c.wait_for(top_pod, timeout=60,
                                                                      what="kubectl top pod").splitlines()}
        cpu = int(rows["spin"][2].rstrip("m"))
        memory = int(rows["spin"][3].rstrip("Mi"))
        assert 150 <= cpu <= 330, rows["spin"]  # the 300m quota caps the busy loop
        assert memory >= 30, rows["spin"]
        assert int(rows["idle"][2].rstrip("m")) < 20
        by_label = c.kubectl("top", "pod", "-l", "app=topper", "--no-headers").stdout
        assert by_label.split()[0] == "topper"
        node = c.wait_for(lambda: (lambda r: r.stdout if r.returncode == 0 else None)(
            c.kubectl("top", "node", "--no-headers", check=False)), what="kubectl top node")
        name, cpu_cores, cpu_pct, mem, mem_pct = node.split()[:5]
        assert name == c.node_name and cpu_cores.endswith("m") and mem_pct.endswith("%")
    finally:
        delete_pods(c, "topper")
