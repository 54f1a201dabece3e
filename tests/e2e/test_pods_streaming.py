"""Logs, port-forward and attach through the API server to the agent, on a real node, with the real
kubectl and the official Python client; then an agent restart that keeps every container running.

Runs on the `node_cluster` fixture (tests/e2e/realnode.py). kubectl port-forward listens on the
test's 127.0.0.1; the traffic goes to the API server over the fixture's veth and from the agent
into the pod's network namespace.
"""

from __future__ import annotations

import socket
import subprocess
import textwrap
import time
import urllib.request

import pytest

from .realnode import apply, container_status, delete_pods, pod, ready, wait_pod

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_logs_tail_timestamps_previous_and_follow(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: talker}
        spec:
          restartPolicy: OnFailure
          containers:
          - name: talk
            image: busybox
            command: [sh, -c, "for i in 1 2 3 4 5; do echo line-$i; done; echo oops >&2; sleep 1; exit 1"]
    """))
    try:
        wait_pod(c, "talker", lambda p: container_status(p, "talk").get("restartCount", 0) >= 1,
                 what="talker restarted once")
        previous = c.kubectl("logs", "talker", "--previous").stdout.split()
        assert previous == ["line-1", "line-2", "line-3", "line-4", "line-5", "oops"]
        tail = c.kubectl("logs", "talker", "--previous", "--tail=2").stdout.split()
        assert tail == ["line-5", "oops"]
        stamped = c.kubectl("logs", "talker", "--previous", "--timestamps", "--tail=1").stdout.strip()
        stamp, text = stamped.split(" ", 1)
        assert text == "oops" and stamp.endswith("Z") and "T" in stamp
    finally:
        delete_pods(c, "talker")

    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: follower}
        spec:
          restartPolicy: Never
          containers:
          - {name: f, image: busybox, command: [sh, -c, "sleep 1; for i in 1 2 3; do echo tick-$i; sleep 0.5; done"]}
    """))
    try:
        wait_pod(c, "follower", lambda p: p["status"].get("phase") == "Running", what="follower running")
        started = time.monotonic()
        followed = c.kubectl("logs", "-f", "follower", timeout=30)  # ends when the container exits
        assert followed.stdout.split() == ["tick-1", "tick-2", "tick-3"]
        assert time.monotonic() - started >= 1.0  # it really followed, not read a finished file
    finally:
        delete_pods(c, "follower")


def test_kubectl_port_forward(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: pf}
        spec:
          containers:
          - name: web
            image: python
            # bound to the pod's localhost only: port-forward must enter the pod's namespace
            command: [python3, -m, http.server, "8080", --bind, "127.0.0.1"]
    """))
    port = free_port()
    proc = None
    try:
        wait_pod(c, "pf", ready, what="pf Ready")  # no probe: a probe could not reach 127.0.0.1 either
        proc = c.kubectl_popen("port-forward", "pod/pf", f"{port}:8080")

        def fetch():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3) as r:
                    return r.status, r.read().decode()
            except OSError:
                return None

        status, body = c.wait_for(fetch, timeout=30, what="port-forward answering")
        assert status == 200 and "Directory listing" in body
        assert fetch()[0] == 200  # a second connection over the same forward
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        delete_pods(c, "pf")


def test_python_client_port_forward(node_cluster):
    from kubernetes import client as k8s
    from kubernetes.stream import portforward

    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: pypf}
        spec:
          containers:
          - {name: web, image: python, command: [python3, -m, http.server, "8080"],
             readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}}
    """))
    try:
        wait_pod(c, "pypf", ready, what="pypf Ready")
        api = k8s.CoreV1Api(c.api_client())
        pf = portforward(api.connect_get_namespaced_pod_portforward, "pypf", "default", ports="8080,8081")
        sock = pf.socket(8080)
        sock.setblocking(True)
        sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        sock.close()
        assert data.startswith(b"HTTP/1.0 200")
        # nothing listens on 8081: the error channel says so
        deadline = time.monotonic() + 10
        while pf.error(8081) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pf.error(8081) is not None
        pf.close()
    finally:
        delete_pods(c, "pypf")


def test_attach_sees_output_of_the_running_process(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: att}
        spec:
          containers:
          - {name: a, image: busybox, command: [sh, -c, "i=0; while true; do i=$((i+1)); echo beat-$i; sleep 0.3; done"]}
    """))
    try:
        wait_pod(c, "att", ready, what="att Ready")
        proc = c.kubectl_popen("attach", "att")
        try:
            line = proc.stdout.readline()
            assert line.startswith("beat-")
        finally:
            proc.kill()
            proc.wait()
    finally:
        delete_pods(c, "att")


def test_agent_restart_keeps_containers_running(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: survivor}
        spec:
          containers:
          - {name: s, image: busybox, command: [sh, -c, "echo up; sleep 3600"]}
    """))
    try:
        before = wait_pod(c, "survivor", ready, what="survivor Ready")
        cs = container_status(before, "s")
        c.restart()
        after = wait_pod(c, "survivor", ready, timeout=60, what="survivor Ready after the restart")
        cs_after = container_status(after, "s")
        assert cs_after["containerID"] == cs["containerID"]
        assert cs_after["restartCount"] == 0
        assert cs_after["state"]["running"]["startedAt"] == cs["state"]["running"]["startedAt"]
        assert after["status"]["podIP"] == before["status"]["podIP"]
        # the adopted container is still fully usable once the agent serves again
        out = c.wait_for(lambda: c.kubectl("exec", "survivor", "--", "echo", "still-here", check=False).stdout,
                         what="exec after the restart")
        assert out.strip() == "still-here"
        assert c.kubectl("logs", "survivor").stdout.strip() == "up"
        # and a new pod after the restart gets a fresh address
        c.kubectl("run", "newcomer", "--image=busybox", "--", "sleep", "3600")
        fresh = wait_pod(c, "newcomer", ready, what="newcomer Ready")
        assert fresh["status"]["podIP"] != after["status"]["podIP"]
        assert pod(c, "survivor")["status"]["phase"] == "Running"
    finally:
        delete_pods(c, "survivor", "newcomer")


def test_logs_by_label_selector_and_container(node_cluster):
    c = node_cluster
    for i in (1, 2):
        apply(c, textwrap.dedent(f"""
            apiVersion: v1
            kind: Pod
            metadata: {{name: sel-{i}, labels: {{app: sel}}}}
            spec:
              restartPolicy: Never
              containers:
              - {{name: main, image: busybox, command: [sh, -c, "echo main-{i}"]}}
              - {{name: side, image: busybox, command: [sh, -c, "echo side-{i}"]}}
        """))
    try:
        for i in (1, 2):
            wait_pod(c, f"sel-{i}", lambda p: p["status"].get("phase") == "Succeeded", what=f"sel-{i} done")
        assert sorted(c.kubectl("logs", "-l", "app=sel", "-c", "main").stdout.split()) == ["main-1", "main-2"]
        both = c.kubectl("logs", "sel-1", "--all-containers", "--prefix").stdout.splitlines()
        assert sorted(both) == ["[pod/sel-1/main] main-1", "[pod/sel-1/side] side-1"]
    finally:
        delete_pods(c, "sel-1", "sel-2")
