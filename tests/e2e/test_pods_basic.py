"""Pods run for real on `podplane up` (runc, CNI) with the real kubectl: shared localhost between
containers, `kubectl run`, init containers in order, configMap and secret volumes, env, exec.

Everything runs in the network namespace of the `node_cluster` fixture (tests/e2e/realnode.py);
the images are host images (nginx, redis, busybox → the host's sh, python), installed by
`make` as Debian packages.
"""

from __future__ import annotations

import base64
import json
import textwrap

import pytest

from .realnode import apply, container_status, delete_pods, pod, ready, running, wait_pod

pytestmark = pytest.mark.e2e


def test_nginx_and_redis_reach_each_other_over_localhost(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: web-cache}
        spec:
          containers:
          - {name: nginx, image: nginx, ports: [{containerPort: 80}]}
          - {name: redis, image: redis, ports: [{containerPort: 6379}]}
    """))
    try:
        p = wait_pod(c, "web-cache", lambda p: running(p) and ready(p), what="nginx+redis pod Ready")
        assert p["status"]["podIP"].startswith("10.42.")
        # redis container → nginx on localhost
        fetch = "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:80/').read().decode())"
        out = c.wait_for(lambda: c.kubectl("exec", "web-cache", "-c", "redis", "--", "python3", "-c", fetch,
                                           check=False).stdout, what="nginx answering on localhost")
        assert "Welcome to nginx" in out
        # nginx container → redis on localhost
        out = c.wait_for(lambda: c.kubectl("exec", "web-cache", "-c", "nginx", "--", "redis-cli", "-h",
                                           "127.0.0.1", "ping", check=False).stdout.strip(),
                         what="redis answering on localhost")
        assert out == "PONG"
        # both containers see the same network: one pod IP
        ips = {c.kubectl("exec", "web-cache", "-c", name, "--", "hostname", "-i", check=False).stdout.strip()
               for name in ("nginx", "redis")}
        assert len(ips) == 1
    finally:
        delete_pods(c, "web-cache")


def test_kubectl_run_serves_on_the_pod_ip(node_cluster):
    c = node_cluster
    c.kubectl("run", "runweb", "--image=nginx", "--port=80")
    try:
        p = wait_pod(c, "runweb", lambda p: ready(p), what="kubectl run pod Ready")
        ip = p["status"]["podIP"]
        assert p["status"]["hostIP"] == c.node_ip
        assert p["spec"]["nodeName"] == c.node_name
        script = f"import urllib.request;print(urllib.request.urlopen('http://{ip}:80/', timeout=5).status)"
        got = c.wait_for(lambda: c.exec_in_node("python3", "-c", script).stdout.strip(), what="pod IP reachable")
        assert got == "200"
        events = c.kubectl("get", "events", "--field-selector", "involvedObject.name=runweb", "-o", "json").stdout
        reasons = {e["reason"] for e in json.loads(events)["items"]}
        assert {"Scheduled", "Pulled", "Created", "Started"} <= reasons
    finally:
        delete_pods(c, "runweb")


def test_init_containers_run_in_order_before_the_app(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: inits}
        spec:
          restartPolicy: Never
          volumes: [{name: work, emptyDir: {}}]
          initContainers:
          - {name: first, image: busybox, command: [sh, -c, "sleep 0.3; echo first >> /work/order"],
             volumeMounts: [{name: work, mountPath: /work}]}
          - {name: second, image: busybox, command: [sh, -c, "echo second >> /work/order"],
             volumeMounts: [{name: work, mountPath: /work}]}
          containers:
          - {name: app, image: busybox, command: [sh, -c, "echo app >> /work/order; cat /work/order"],
             volumeMounts: [{name: work, mountPath: /work}]}
    """))
    try:
        p = wait_pod(c, "inits", lambda p: p["status"].get("phase") == "Succeeded", what="init pod Succeeded")
        for name in ("first", "second"):
            term = container_status(p, name, init=True)["state"]["terminated"]
            assert (term["exitCode"], term["reason"]) == (0, "Completed")
        first = container_status(p, "first", init=True)["state"]["terminated"]
        second = container_status(p, "second", init=True)["state"]["terminated"]
        assert first["finishedAt"] <= second["startedAt"]
        assert c.kubectl("logs", "inits").stdout.split() == ["first", "second", "app"]
    finally:
        delete_pods(c, "inits")


def test_failing_init_container_blocks_the_app(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: badinit}
        spec:
          restartPolicy: Never
          initContainers:
          - {name: fails, image: busybox, command: [sh, -c, "exit 4"]}
          containers:
          - {name: app, image: busybox, command: [sh, -c, "echo never"]}
    """))
    try:
        p = wait_pod(c, "badinit", lambda p: p["status"].get("phase") == "Failed", what="pod Failed")
        assert container_status(p, "fails", init=True)["state"]["terminated"]["exitCode"] == 4
        assert "waiting" in container_status(p, "app")["state"]
    finally:
        delete_pods(c, "badinit")


def test_configmap_secret_volumes_and_env(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent(f"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: settings}}
        data: {{greeting: hello, mode: fast}}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {{name: creds}}
        data: {{password: {base64.b64encode(b"s3cret").decode()}}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: mounts, labels: {{tier: demo}}}}
        spec:
          volumes:
          - {{name: cfg, configMap: {{name: settings}}}}
          - {{name: sec, secret: {{secretName: creds, defaultMode: 0400}}}}
          containers:
          - name: app
            image: busybox
            command: [sh, -c, "sleep 3600"]
            env:
            - {{name: GREETING, valueFrom: {{configMapKeyRef: {{name: settings, key: greeting}}}}}}
            - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
            - {{name: TIER, valueFrom: {{fieldRef: {{fieldPath: "metadata.labels['tier']"}}}}}}
            - {{name: COMBINED, value: "$(GREETING)-$(POD_NAME)"}}
            envFrom: [{{secretRef: {{name: creds}}, prefix: S_}}]
            volumeMounts:
            - {{name: cfg, mountPath: /etc/cfg}}
            - {{name: sec, mountPath: /etc/sec, readOnly: true}}
    """))
    try:
        wait_pod(c, "mounts", ready, what="pod with volumes Ready")
        out = c.kubectl("exec", "mounts", "--", "sh", "-c",
                        "cat /etc/cfg/greeting; echo; cat /etc/sec/password; echo; "
                        "stat -L -c %a /etc/sec/password; echo $GREETING $POD_NAME $TIER $COMBINED $S_password; "
                        "touch /etc/cfg/x 2>/dev/null && echo writable || echo readonly").stdout.split()
        assert out == ["hello", "s3cret", "400", "hello", "mounts", "demo", "hello-mounts", "s3cret", "readonly"]
        # an update of the ConfigMap reaches the mounted file (atomic swap), as upstream
        c.kubectl("patch", "configmap", "settings", "-p", '{"data":{"greeting":"bonjour"}}')
        c.wait_for(lambda: c.kubectl("exec", "mounts", "--", "cat", "/etc/cfg/greeting", check=False
                                     ).stdout == "bonjour", timeout=90, what="configMap update in the volume")
    finally:
        delete_pods(c, "mounts")
        c.kubectl("delete", "configmap", "settings", "--ignore-not-found")
        c.kubectl("delete", "secret", "creds", "--ignore-not-found")


def test_missing_configmap_keeps_the_pod_creating_with_a_clear_reason(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: nocfg}
        spec:
          containers:
          - name: app
            image: busybox
            command: [sleep, "3600"]
            env: [{name: X, valueFrom: {configMapKeyRef: {name: absent, key: k}}}]
    """))
    try:
        p = wait_pod(c, "nocfg", lambda p: (container_status(p, "app").get("state") or {}).get("waiting", {})
                     .get("reason") == "CreateContainerConfigError", what="CreateContainerConfigError")
        assert 'configmap "absent" not found' in container_status(p, "app")["state"]["waiting"]["message"]
    finally:
        delete_pods(c, "nocfg")


def test_missing_image_reports_err_image_pull_and_how_to_fix_it(node_cluster):
    c = node_cluster
    c.kubectl("run", "noimage", "--image=example.com/not/here:1.0", "--restart=Never")
    try:
        p = wait_pod(c, "noimage", lambda p: (container_status(p, "noimage").get("state") or {}).get(
            "waiting", {}).get("reason") in ("ErrImagePull", "ImagePullBackOff"), what="ErrImagePull")
        message = container_status(p, "noimage")["state"]["waiting"].get("message", "")
        assert "podplane image import" in message
    finally:
        delete_pods(c, "noimage")


def test_exec_exit_codes_stdin_and_tty(node_cluster):
    c = node_cluster
    c.kubectl("run", "shell", "--image=busybox", "--", "sleep", "3600")
    try:
        wait_pod(c, "shell", ready, what="shell pod Ready")
        assert c.kubectl("exec", "shell", "--", "sh", "-c", "exit 7", check=False).returncode == 7
        assert c.kubectl("exec", "shell", "--", "true").returncode == 0
        out = c.kubectl("exec", "-i", "shell", "--", "cat", input="hello stdin\n")
        assert out.stdout == "hello stdin\n"
        missing = c.kubectl("exec", "shell", "--", "/no/such/binary", check=False)
        assert missing.returncode != 0
        # files both ways with kubectl cp (tar over exec)
        src = c.data_dir / "cp-src.txt"
        src.write_text("copied\n")
        c.kubectl("cp", str(src), "default/shell:/tmp/cp.txt")
        assert c.kubectl("exec", "shell", "--", "cat", "/tmp/cp.txt").stdout == "copied\n"
        back = c.data_dir / "cp-back.txt"
        c.kubectl("cp", "default/shell:/tmp/cp.txt", str(back))
        assert back.read_text() == "copied\n"
    finally:
        delete_pods(c, "shell")


def test_python_client_exec(node_cluster):
    from kubernetes import client as k8s
    from kubernetes.stream import stream

    c = node_cluster
    c.kubectl("run", "pyexec", "--image=busybox", "--", "sleep", "3600")
    try:
        wait_pod(c, "pyexec", ready, what="pod Ready")
        api = k8s.CoreV1Api(c.api_client())
        out = stream(api.connect_get_namespaced_pod_exec, "pyexec", "default",
                     command=["sh", "-c", "echo out; echo err >&2"], stderr=True, stdin=False, stdout=True,
                     tty=False)
        assert "out" in out
        resp = stream(api.connect_get_namespaced_pod_exec, "pyexec", "default", command=["sh", "-c", "exit 5"],
                      stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
        resp.run_forever(timeout=10)
        assert resp.returncode == 5
    finally:
        delete_pods(c, "pyexec")


def test_pod_detail_matches_upstream_shape(node_cluster):
    c = node_cluster
    c.kubectl("run", "shape", "--image=busybox", "--", "sleep", "3600")
    try:
        p = wait_pod(c, "shape", ready, what="pod Ready")
        status = p["status"]
        assert [cond["type"] for cond in status["conditions"]] == [
            "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        cs = container_status(p, "shape")
        assert cs["containerID"].startswith("runc://")
        assert cs["started"] is True and cs["ready"] is True and cs["restartCount"] == 0
        assert status["podIPs"] == [{"ip": status["podIP"]}]
        assert status["qosClass"] == "BestEffort"
        assert pod(c, "shape")["status"]["startTime"]
    finally:
        delete_pods(c, "shape")
