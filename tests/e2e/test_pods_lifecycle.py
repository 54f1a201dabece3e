"""Container lifecycle on a real node (`podplane up`, runc, CNI) with the real kubectl, as upstream:
- exit codes, restart counts and lastState per restartPolicy (Never, OnFailure, Always);
- CrashLoopBackOff: the first restart at once, then 10 s, then 20 s from the last finish;
- probes: a failing liveness (or startup) probe restarts the container (Unhealthy, Killing events;
  the preStop hook runs first), a failing readiness probe only makes the pod NotReady, a startup
  probe holds liveness and readiness back until it passes;
- hooks: postStart after the start, preStop (exec and httpGet) before SIGTERM, recorded in a
  hostPath directory under the cluster's data dir;
- deletion: a container that exits on SIGTERM goes at once, one that ignores it is killed when
  terminationGracePeriodSeconds run out (never less than 2 s after SIGTERM); the final status is
  written before the pod goes; a forced deletion still runs preStop and SIGTERM on the node.

Everything runs in the network namespace of the `node_cluster` fixture (tests/e2e/realnode.py);
the images are host images (busybox → the host's sh, python → python3).
"""

from __future__ import annotations

import json
import textwrap
import threading
import time
from datetime import datetime

import pytest

from .realnode import apply, container_status, delete_pods, pod, ready, running, wait_pod

pytestmark = pytest.mark.e2e


def _state(p: dict, name: str) -> dict:
    return container_status(p, name).get("state") or {}


def _last(p: dict, name: str) -> dict:
    return (container_status(p, name).get("lastState") or {}).get("terminated") or {}


def _restarts(p: dict, name: str) -> int:
    return container_status(p, name).get("restartCount") or 0


def _phase(p: dict) -> str:
    return (p.get("status") or {}).get("phase") or ""


def _cond(p: dict, kind: str) -> dict:
    return next((cond for cond in (p.get("status") or {}).get("conditions") or [] if cond.get("type") == kind), {})


def _condition(p: dict, kind: str) -> str:
    return _cond(p, kind).get("status") or ""


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _events(c, name: str) -> list[tuple[str, str]]:
    out = c.kubectl("get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json").stdout
    return [(e.get("reason") or "", e.get("message") or "") for e in json.loads(out)["items"]]


def _has_event(c, name: str, reason: str, prefix: str) -> list[tuple[str, str]] | None:
    found = _events(c, name)
    return found if any(r == reason and m.startswith(prefix) for r, m in found) else None


def _gone(c, name: str) -> bool:
    return c.kubectl("get", "pod", name, "--ignore-not-found", "-o", "name").stdout.strip() == ""


class _Watch:
    """`kubectl get pods -w -o json --output-watch-events` read in a thread: the newest object of
    each pod before it was deleted, and when (time.monotonic()) its DELETED event arrived."""

    def __init__(self, c, *selector: str) -> None:
        self.proc = c.kubectl_popen("get", "pods", *selector, "-w", "-o", "json", "--output-watch-events")
        self.last: dict[str, dict] = {}
        self.deleted: dict[str, float] = {}
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        decoder = json.JSONDecoder()
        buffer = ""
        for line in self.proc.stdout:
            buffer += line
            try:
                event, end = decoder.raw_decode(buffer.lstrip())
            except ValueError:
                continue
            buffer = buffer.lstrip()[end:]
            obj = event.get("object") or {}
            name = (obj.get("metadata") or {}).get("name", "")
            if event.get("type") == "DELETED":
                self.deleted.setdefault(name, time.monotonic())
            else:
                self.last[name] = obj

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.thread.join(5)


def test_exit_codes_and_restart_counts_per_restart_policy(node_cluster):
    c = node_cluster
    manifests = [
        ("never-fail", "Never", "exit 3"),
        ("onfail-ok", "OnFailure", "exit 0"),
        ("onfail-bad", "OnFailure", "sleep 0.5; exit 1"),
        ("always-ok", "Always", "sleep 0.5; exit 0"),
    ]
    apply(c, "\n---\n".join(textwrap.dedent(f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: {name}}}
        spec:
          restartPolicy: {policy}
          terminationGracePeriodSeconds: 1
          containers: [{{name: app, image: busybox, command: [sh, -c, "{script}"]}}]
    """) for name, policy, script in manifests))
    names = [name for name, _, _ in manifests]
    try:
        # Never: the exit code is final, nothing restarts
        p = wait_pod(c, "never-fail", lambda p: _phase(p) == "Failed", what="never-fail Failed")
        term = _state(p, "app")["terminated"]
        assert (term["exitCode"], term["reason"]) == (3, "Error")
        assert _restarts(p, "app") == 0
        assert not _last(p, "app")
        assert (_condition(p, "Ready"), _cond(p, "Ready").get("reason")) == ("False", "PodFailed")

        # OnFailure + exit 0: Succeeded, Completed, no restart
        p = wait_pod(c, "onfail-ok", lambda p: _phase(p) == "Succeeded", what="onfail-ok Succeeded")
        assert (_condition(p, "Ready"), _cond(p, "Ready").get("reason")) == ("False", "PodCompleted")
        term = _state(p, "app")["terminated"]
        assert (term["exitCode"], term["reason"]) == (0, "Completed")
        assert _restarts(p, "app") == 0

        # OnFailure + exit 1: restarted (the first restart at once), the previous exit in lastState
        p = wait_pod(c, "onfail-bad", lambda p: _restarts(p, "app") >= 1 and _last(p, "app"),
                     timeout=20, what="onfail-bad restarted")
        last = _last(p, "app")
        assert (last["exitCode"], last["reason"]) == (1, "Error")
        assert _phase(p) == "Running"

        # Always + exit 0: restarted all the same; lastState says Completed
        p = wait_pod(c, "always-ok", lambda p: _restarts(p, "app") >= 1 and _last(p, "app"),
                     timeout=20, what="always-ok restarted")
        last = _last(p, "app")
        assert (last["exitCode"], last["reason"]) == (0, "Completed")
        assert _phase(p) == "Running"
        # a failing OnFailure container keeps being restarted: the pod stays Running, never Failed
        p = pod(c, "onfail-bad")
        assert _restarts(p, "app") >= 1 and _phase(p) == "Running"
    finally:
        delete_pods(c, *names)


def test_crash_loop_back_off_waits_10s_then_20s(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: crash}
        spec:
          terminationGracePeriodSeconds: 1
          containers: [{name: crash, image: busybox, command: [sh, -c, "exit 2"]}]
    """))
    attempts: dict[int, dict] = {}  # attempt (= restartCount of that instance) → its terminated state
    messages: dict[int, str] = {}  # restartCount → CrashLoopBackOff message while waiting after it

    def observe() -> bool:
        p = pod(c, "crash")
        cs = container_status(p, "crash")
        if not cs:
            return False
        count = cs.get("restartCount") or 0
        state = cs.get("state") or {}
        last = _last(p, "crash")
        if "waiting" in state:
            if state["waiting"].get("reason") == "CrashLoopBackOff":
                messages[count] = state["waiting"].get("message", "")
                if last:
                    attempts[count] = last  # waiting after instance `count` exited
            elif last and count:
                attempts[count - 1] = last  # instance `count` is being created after `count - 1` exited
        elif "running" in state:
            attempts.setdefault(count, {"startedAt": state["running"]["startedAt"]})
            if last and count:
                attempts[count - 1] = last
        elif "terminated" in state:
            attempts[count] = state["terminated"]
            if last and count:
                attempts[count - 1] = last
        return 3 in attempts

    try:
        c.wait_for(observe, timeout=44, interval=0.5, what="the 4th start of the crashing container")
        uid = pod(c, "crash")["metadata"]["uid"]
        assert messages[1] == f"back-off 10s restarting failed container=crash pod=crash_default({uid})"
        assert messages[2] == f"back-off 20s restarting failed container=crash pod=crash_default({uid})"
        first_gap = _ts(attempts[2]["startedAt"]) - _ts(attempts[1]["finishedAt"])
        second_gap = _ts(attempts[3]["startedAt"]) - _ts(attempts[2]["finishedAt"])
        assert 9 <= first_gap <= 14, attempts
        assert 19 <= second_gap <= 24, attempts
        for attempt in (1, 2):
            assert (attempts[attempt]["exitCode"], attempts[attempt]["reason"]) == (2, "Error")
        assert _has_event(c, "crash", "BackOff", "Back-off restarting failed container crash in pod crash_default")
    finally:
        delete_pods(c, "crash")


def test_failing_liveness_probe_restarts_the_container(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: liveness}
        spec:
          terminationGracePeriodSeconds: 2
          containers:
          - name: live
            image: busybox
            command: [sh, -c, "touch /tmp/healthy; sleep 2; rm /tmp/healthy; exec sleep 3600"]
            livenessProbe:
              exec: {command: [cat, /tmp/healthy]}
              periodSeconds: 1
              failureThreshold: 2
            lifecycle:
              preStop:
                exec: {command: [sh, -c, "echo prestop > /proc/1/fd/1"]}
    """))
    try:
        p = wait_pod(c, "liveness", lambda p: _restarts(p, "live") >= 1 and _last(p, "live"), timeout=25,
                     what="liveness restart")
        last = _last(p, "live")
        assert last["reason"] == "Error" and last["exitCode"] in (137, 143), last  # SIGKILL or SIGTERM
        events = c.wait_for(lambda: _has_event(c, "liveness", "Killing",
                                               "Container live failed liveness probe, will be restarted"),
                            timeout=10, what="Killing event")
        unhealthy = [m for r, m in events if r == "Unhealthy"]
        assert any(m.startswith("Liveness probe failed:") and "/tmp/healthy" in m for m in unhealthy), events
        # the restarted container is probed again and runs while its file exists
        wait_pod(c, "liveness", lambda p: "running" in _state(p, "live"), timeout=10, what="running again")
        # the preStop hook ran before the kill: what it wrote to PID 1's stdout is in the previous log
        assert c.kubectl("logs", "liveness", "--previous").stdout == "prestop\n"
    finally:
        delete_pods(c, "liveness")


def test_failing_readiness_probe_makes_the_pod_not_ready_without_restarts(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: readiness}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: web
            image: python
            command: [sh, -c, "mkdir -p /tmp/www && cd /tmp/www && touch ready && exec python3 -m http.server 8080"]
            readinessProbe:
              httpGet: {path: /ready, port: 8080}
              periodSeconds: 1
              failureThreshold: 1
    """))

    def ready_column() -> str:
        return c.kubectl("get", "pod", "readiness", "--no-headers").stdout.split()[1]

    try:
        p = wait_pod(c, "readiness", ready, timeout=20, what="readiness pod Ready")
        assert container_status(p, "web")["ready"] is True
        assert ready_column() == "1/1"

        c.kubectl("exec", "readiness", "--", "rm", "/tmp/www/ready")
        p = wait_pod(c, "readiness", lambda p: _condition(p, "Ready") == "False", timeout=10, what="NotReady")
        assert container_status(p, "web")["ready"] is False
        assert _condition(p, "ContainersReady") == "False"
        cond = _cond(p, "Ready")
        assert (cond.get("reason"), cond.get("message")) == ("ContainersNotReady",
                                                            "containers with unready status: [web]")
        assert running(p) and "running" in _state(p, "web") and _restarts(p, "web") == 0
        assert ready_column() == "0/1"
        assert c.wait_for(lambda: _has_event(c, "readiness", "Unhealthy",
                                             "Readiness probe failed: HTTP probe failed with statuscode: 404"),
                          timeout=10, what="Unhealthy event")

        c.kubectl("exec", "readiness", "--", "touch", "/tmp/www/ready")
        p = wait_pod(c, "readiness", ready, timeout=10, what="Ready again")
        assert container_status(p, "web")["ready"] is True and _restarts(p, "web") == 0
        assert ready_column() == "1/1"
    finally:
        delete_pods(c, "readiness")


def test_startup_probe_gates_liveness_and_readiness(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: startup}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: app
            image: busybox
            command: [sleep, "3600"]
            startupProbe:
              exec: {command: [test, -f, /tmp/started]}
              periodSeconds: 1
              failureThreshold: 60
            livenessProbe:
              exec: {command: [sh, -c, "echo x >> /tmp/liveness-ran"]}
              periodSeconds: 1
            readinessProbe:
              exec: {command: [sh, -c, "echo x >> /tmp/readiness-ran"]}
              periodSeconds: 1
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: never-starts}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: app
            image: busybox
            command: [sleep, "3600"]
            startupProbe:
              exec: {command: [test, -f, /tmp/started]}
              periodSeconds: 1
              failureThreshold: 2
    """))
    try:
        wait_pod(c, "startup", lambda p: "running" in _state(p, "app"), timeout=20, what="container running")
        # a few startup probe periods: not started, not ready, and neither other probe has run
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            p = pod(c, "startup")
            cs = container_status(p, "app")
            assert cs["started"] is False and cs["ready"] is False, cs
            assert _condition(p, "Ready") == "False"
            time.sleep(0.5)
        ran = c.kubectl("exec", "startup", "--", "sh", "-c", "ls /tmp/liveness-ran /tmp/readiness-ran",
                        check=False)
        assert ran.returncode != 0 and ran.stdout == "", ran
        assert "'/tmp/liveness-ran': No such file" in ran.stderr, ran
        assert "'/tmp/readiness-ran': No such file" in ran.stderr, ran

        c.kubectl("exec", "startup", "--", "touch", "/tmp/started")
        p = wait_pod(c, "startup", ready, timeout=10, what="started and Ready")
        cs = container_status(p, "app")
        assert cs["started"] is True and cs["ready"] is True and cs["restartCount"] == 0
        c.wait_for(lambda: c.kubectl("exec", "startup", "--", "sh", "-c",
                                     "test -s /tmp/liveness-ran && test -s /tmp/readiness-ran",
                                     check=False).returncode == 0,
                   timeout=10, what="liveness and readiness probes running after startup")

        # a startup probe that never passes gets the container restarted, like a liveness probe
        wait_pod(c, "never-starts", lambda p: _restarts(p, "app") >= 1, timeout=15, what="startup restart")
        events = c.wait_for(lambda: _has_event(c, "never-starts", "Killing",
                                               "Container app failed startup probe, will be restarted"),
                            timeout=10, what="Killing event")
        assert any(r == "Unhealthy" and m.startswith("Startup probe failed:") for r, m in events), events
    finally:
        delete_pods(c, "startup", "never-starts")


def test_post_start_and_pre_stop_hooks_run_in_order(node_cluster):
    c = node_cluster
    record = c.data_dir / "hooks-record"
    record.mkdir(exist_ok=True)
    apply(c, textwrap.dedent(f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: hooks}}
        spec:
          volumes: [{{name: record, hostPath: {{path: {record}, type: Directory}}}}]
          containers:
          - name: main
            image: busybox
            command: [sh, -c, "trap 'echo term >> /record/order; exit 0' TERM; echo main >> /record/order; while true; do sleep 0.1; done"]
            volumeMounts: [{{name: record, mountPath: /record}}]
            lifecycle:
              postStart:
                exec: {{command: [sh, -c, "until grep -q main /record/order; do sleep 0.05; done; echo poststart >> /record/order"]}}
              preStop:
                exec: {{command: [sh, -c, "echo prestop >> /record/order"]}}
          - name: web
            image: python
            command: [sh, -c, "cd /tmp && exec python3 -m http.server 8081 2>> /record/web.log"]
            volumeMounts: [{{name: record, mountPath: /record}}]
            readinessProbe: {{httpGet: {{path: /, port: 8081}}, periodSeconds: 1}}
            lifecycle:
              preStop:
                httpGet: {{path: /prestop-hook, port: 8081}}
    """))
    order = record / "order"

    def lines() -> list[str]:
        return order.read_text().split() if order.exists() else []

    try:
        p = wait_pod(c, "hooks", ready, timeout=20, what="hooks pod Ready")
        assert container_status(p, "main")["started"] is True
        assert lines() == ["main", "poststart"]
        started = time.monotonic()
        c.kubectl("delete", "pod", "hooks", "--wait=false")
        c.wait_for(lambda: _gone(c, "hooks"), timeout=20, what="hooks pod gone")
        assert time.monotonic() - started < 10
        assert lines() == ["main", "poststart", "prestop", "term"]
        assert "GET /prestop-hook" in (record / "web.log").read_text()
    finally:
        delete_pods(c, "hooks")


def test_deletion_honours_the_termination_grace_period(node_cluster):
    c = node_cluster
    apply(c, textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: graceful, labels: {test: grace}}
        spec:
          containers:
          - name: app
            image: busybox
            command: [sh, -c, "trap 'sleep 1; exit 0' TERM; while true; do sleep 0.1; done"]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: stubborn, labels: {test: grace}}
        spec:
          terminationGracePeriodSeconds: 3
          containers:
          - name: app
            image: busybox
            command: [sh, -c, "trap '' TERM; while true; do sleep 0.1; done"]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: brief, labels: {test: grace}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: app
            image: busybox
            command: [sh, -c, "trap 'sleep 1.3; exit 0' TERM; while true; do sleep 0.1; done"]
    """))
    watch = None
    try:
        for name in ("graceful", "stubborn", "brief"):
            wait_pod(c, name, ready, timeout=20, what=f"{name} Ready")
        watch = _Watch(c, "-l", "test=grace")
        c.wait_for(lambda: len(watch.last) == 3, timeout=10, what="the watch's initial list")
        started = time.monotonic()
        c.kubectl("delete", "pod", "graceful", "stubborn", "brief", "--wait=false")
        c.wait_for(lambda: len(watch.deleted) == 3, timeout=15, what="the pods deleted")
        gone = {name: at - started for name, at in watch.deleted.items()}
        assert gone["graceful"] < 5, gone  # exits ~1 s after TERM, long before its 30 s grace
        assert 2.8 <= gone["stubborn"] <= 8, gone  # ignores TERM: killed when its 3 s run out
        # the final status the node wrote before the pod went away
        graceful = _state(watch.last["graceful"], "app").get("terminated") or {}
        assert (graceful.get("exitCode"), graceful.get("reason")) == (0, "Completed"), watch.last["graceful"]
        stubborn = _state(watch.last["stubborn"], "app").get("terminated") or {}
        assert (stubborn.get("exitCode"), stubborn.get("reason")) == (137, "Error"), watch.last["stubborn"]
        # however short the grace period, the kubelet leaves at least 2 s between SIGTERM and SIGKILL
        brief = _state(watch.last["brief"], "app").get("terminated") or {}
        assert (brief.get("exitCode"), brief.get("reason")) == (0, "Completed"), watch.last["brief"]
        for name in ("graceful", "stubborn"):
            assert ("Killing", "Stopping container app") in _events(c, name)
    finally:
        if watch is not None:
            watch.stop()
        delete_pods(c, "graceful", "stubborn", "brief")


def test_force_deletion_still_runs_pre_stop_and_sigterm(node_cluster):
    # The API forgets the pod at once (or, held by a finalizer, keeps it with a grace period of 0);
    # the node still stops it as the kubelet does: a grace period of 1 s for the preStop hook, then
    # SIGTERM with the minimum 2 s window before SIGKILL.
    c = node_cluster
    manifest = textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {{name: {name}, finalizers: {finalizers}}}
        spec:
          volumes: [{{name: record, hostPath: {{path: {record}, type: Directory}}}}]
          containers:
          - name: main
            image: busybox
            command: [sh, -c, "trap 'echo term >> /record/order; exit 0' TERM; while true; do sleep 0.1; done"]
            volumeMounts: [{{name: record, mountPath: /record}}]
            lifecycle:
              preStop:
                exec: {{command: [sh, -c, "echo prestop >> /record/order"]}}
    """)
    records = {}
    for name, finalizers in (("forced", "[]"), ("held", "[example.com/hold]")):
        records[name] = c.data_dir / f"{name}-record"
        records[name].mkdir(exist_ok=True)
        apply(c, manifest.format(name=name, finalizers=finalizers, record=records[name]))

    def recorded(name: str) -> list[str]:
        order = records[name] / "order"
        return order.read_text().split() if order.exists() else []

    try:
        for name in ("forced", "held"):
            wait_pod(c, name, ready, timeout=20, what=f"{name} Ready")
        c.kubectl("delete", "pod", "forced", "held", "--grace-period=0", "--force", "--wait=false")
        assert _gone(c, "forced")
        for name in ("forced", "held"):
            c.wait_for(lambda name=name: recorded(name) == ["prestop", "term"], timeout=10,
                       what=f"preStop and SIGTERM in {name}")
            assert c.wait_for(lambda name=name: _has_event(c, name, "Killing", "Stopping container main"),
                              timeout=10, what="Killing event")
        # the pod the finalizer holds gets its final status; it goes once the finalizer does
        p = wait_pod(c, "held", lambda p: "terminated" in _state(p, "main"), timeout=10, what="final status")
        assert _state(p, "main")["terminated"]["exitCode"] == 0
        c.kubectl("patch", "pod", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
        c.wait_for(lambda: _gone(c, "held"), timeout=10, what="held pod gone")
    finally:
        c.kubectl("patch", "pod", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}', check=False)
        delete_pods(c, "forced", "held")
