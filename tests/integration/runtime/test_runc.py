"""RuncRuntime against real runc: exit codes, logs, OOM, cpu quota, stop, exec, shared network
namespace, OCI images with whiteouts, adoption after an agent restart, cleanup.

Loopback only: the network test runs inside a namespace it creates, with no route out."""

from __future__ import annotations

import io
import os
import socket
import tarfile
import time

import pytest

from podplane.agent.runtime import CREATED, EXITED, RUNNING
from podplane.agent.runtime.runc import UNKNOWN, RuncError, RuncRuntime

from .conftest import requires_runc

pytestmark = [pytest.mark.integration, requires_runc]


def test_exit_code_and_log_line(harness):
    t0 = time.time()
    info = harness.run({"command": ["sh", "-c", "echo hi; echo oops >&2; exit 3"]})
    info = harness.rt.wait(info.id, 10)
    assert (info.state, info.exit_code, info.reason) == (EXITED, 3, "Error")
    assert t0 <= info.created_at <= info.started_at <= info.finished_at <= time.time()
    assert info.image == "docker.io/library/busybox:latest" and info.container_id == f"runc://{info.id}"
    with open(info.log_path) as f:
        records = f.read().splitlines()
    assert sorted(r.split(" ", 1)[1] for r in records) == ["stderr F oops", "stdout F hi"]
    assert harness.log(info) in ("hi\noops\n", "oops\nhi\n")
    assert info.log_path.endswith("/it_pod_" + info.pod_uid + "/c/0.log")


def test_completed_termination_message_and_env(harness):
    info = harness.run({"command": ["sh", "-c", 'echo "$GREETING $(id -u):$(id -g) $(hostname) $(pwd)"; '
                                    'echo bye > /dev/termination-log'],
                        "env": [{"name": "GREETING", "value": "hello"}], "workingDir": "/tmp",
                        "securityContext": {"runAsUser": 1000, "runAsGroup": 1000}})
    info = harness.rt.wait(info.id, 10)
    assert (info.exit_code, info.reason, info.message) == (0, "Completed", "bye\n")
    assert harness.log(info) == "hello 1000:1000 pod /tmp\n"


def test_host_image_cannot_see_the_agents_state(harness):
    info = harness.run({"command": ["sh", "-c", f"ls -A {harness.data}/runc {harness.data}/pods; "
                                    f"echo > {harness.data}/runc/planted; ls /usr/bin/tini-static"]})
    info = harness.rt.wait(info.id, 10)
    assert harness.log(info).splitlines()[-1] == "/usr/bin/tini-static"  # the rest of the host is there
    assert "containers" not in harness.log(info)
    assert not os.path.exists(f"{harness.data}/runc/planted")
    assert info.exit_code == 0


def test_to_status(harness):
    info = harness.rt.wait(harness.run({"command": ["true"]}).id, 10)
    status = info.to_status()
    assert (status.id, status.state, status.exit_code, status.reason, status.attempt) == \
        (f"runc://{info.id}", EXITED, 0, "Completed", 0)


def test_fallback_to_logs_on_error(harness):
    info = harness.run({"command": ["sh", "-c", "echo boom; exit 1"],
                        "terminationMessagePolicy": "FallbackToLogsOnError"})
    info = harness.rt.wait(info.id, 10)
    assert (info.exit_code, info.message) == (1, "boom\n")


def test_memory_limit_oom_killed(harness):
    info = harness.run({"image": "python", "command": ["python3", "-c", "b = bytearray(256 * 1024 * 1024)"],
                        "resources": {"limits": {"memory": "32Mi"}}})
    limits = harness.rt.cgroups.limits(info.cgroups_path)
    assert limits.memory_limit_bytes == 32 * 2**20
    info = harness.rt.wait(info.id, 20)
    assert (info.state, info.exit_code, info.reason) == (EXITED, 137, "OOMKilled")


def test_cpu_quota_and_shares_in_cgroup(harness):
    info = harness.run({"command": ["sleep", "30"],
                        "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m"}}})
    cg = harness.rt.cgroups
    cpu_dir = cg.path("cpu", info.cgroups_path)
    with open(os.path.join(cpu_dir, "cpu.cfs_quota_us")) as f:
        assert f.read().strip() == "50000"
    with open(os.path.join(cpu_dir, "cpu.cfs_period_us")) as f:
        assert f.read().strip() == "100000"
    with open(os.path.join(cpu_dir, "cpu.shares")) as f:
        assert f.read().strip() == "256"
    assert info.cgroups_path.startswith(f"{harness.cgroup_parent}/burstable/pod{info.pod_uid}/")
    stats = harness.rt.stats(info.id)
    assert stats.pids >= 1 and stats.memory_usage_bytes > 0 and stats.cpu_usage_ns > 0  # tini (+ sleep soon)


def test_sigterm_stops_sleep_under_tini_quickly(harness):
    info = harness.run({"command": ["sleep", "1000"]})
    assert info.state == RUNNING
    t0 = time.monotonic()
    info = harness.rt.stop(info.id, grace=30)
    assert time.monotonic() - t0 < 2
    assert (info.state, info.exit_code, info.reason) == (EXITED, 128 + 15, "Error")


def test_sigkill_after_grace(harness):
    info = harness.run({"command": ["sh", "-c", "trap '' TERM; sleep 1000 & wait"]})
    time.sleep(0.1)
    t0 = time.monotonic()
    info = harness.rt.stop(info.id, grace=0.5)
    elapsed = time.monotonic() - t0
    assert 0.5 <= elapsed < 3
    assert (info.state, info.exit_code) == (EXITED, 137)


def test_exec(harness):
    info = harness.run({"command": ["sleep", "1000"], "env": [{"name": "FROM_SPEC", "value": "yes"}]})
    res = harness.rt.exec_sync(info.id, ["sh", "-c", "echo out $FROM_SPEC; echo err >&2; exit 7"], timeout=10)
    assert (res.exit_code, res.stdout, res.stderr, res.timed_out) == (7, b"out yes\n", b"err\n", False)
    res = harness.rt.exec_sync(info.id, ["cat"], input=b"piped", timeout=10)
    assert (res.exit_code, res.stdout) == (0, b"piped")
    res = harness.rt.exec_sync(info.id, ["sleep", "100"], timeout=0.3)
    assert res.timed_out and res.exit_code == 137
    # interactive with a tty: output through the pty, the exit code from wait()
    proc = harness.rt.exec(info.id, ["sh", "-c", "tty; read line; echo got $line; exit 2"], tty=True)
    proc.resize(100, 40)
    os.write(proc.master, b"abc\n")
    out = b""
    deadline = time.monotonic() + 10
    while b"got abc" not in out and time.monotonic() < deadline:
        try:
            out += os.read(proc.master, 1024)
        except OSError:
            break
    assert proc.wait(10) == 2
    assert b"/dev/pts/" in out and b"got abc" in out
    # the container was not disturbed, and stops promptly
    assert harness.rt.inspect(info.id).state == RUNNING
    t0 = time.monotonic()
    harness.rt.stop(info.id, grace=10)
    assert time.monotonic() - t0 < 2
    with pytest.raises(RuncError, match="not running"):
        harness.rt.exec(info.id, ["true"])


def _free_host_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_two_containers_share_a_network_namespace(harness, netns):
    port = _free_host_port()
    pod = harness.pod("web")
    server = harness.rt.run(harness.request(
        {"name": "server", "image": "python", "command": ["python3", "-m", "http.server", str(port), "--bind",
                                                          "127.0.0.1", "--directory", "/etc"]},
        pod=pod, netns=netns))
    client_code = (
        "import sys, time, urllib.request\n"
        "for _ in range(100):\n"
        "    try:\n"
        f"        r = urllib.request.urlopen('http://127.0.0.1:{port}/hostname', timeout=2)\n"
        "        print(r.status, r.read().decode().strip()); sys.exit(0)\n"
        "    except OSError:\n"
        "        time.sleep(0.05)\n"
        "sys.exit(1)\n")
    client = harness.rt.run(harness.request({"name": "client", "image": "python", "command": ["python3", "-c",
                                                                                             client_code]},
                                            pod=pod, netns=netns))
    client = harness.rt.wait(client.id, 15)
    assert (client.exit_code, harness.log(client)) == (0, "200 pod\n")
    # the server listens inside the namespace only: nothing on the host's loopback
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert harness.rt.stop(server.id, grace=10).exit_code in (0, 143)


def _layer(files: dict[str, bytes | None]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            else:
                info.size, info.mode = len(data), 0o755
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _docker_save(path: str, layers: list[bytes], tag: str, cmd: list[str]) -> None:
    import hashlib
    import json

    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": cmd},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    with tarfile.open(path, "w") as tf:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))

        for i, layer in enumerate(layers):
            add(f"l{i}/layer.tar", layer)
        add("config.json", config)
        add("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": [tag],
                                          "Layers": [f"l{i}/layer.tar" for i in range(len(layers))]}]).encode())


def test_imported_oci_image_with_whiteouts(harness, tmp_path):
    """A tiny image made from the host's dash and its libraries: layer 2 deletes a file and
    makes a directory opaque; the container sees the merged result."""
    def host(path: str) -> bytes:
        with open(os.path.realpath(path), "rb") as f:
            return f.read()

    base = {"bin": None, "bin/sh": host("/bin/dash"), "lib": None, "lib/x86_64-linux-gnu": None,
            "lib/x86_64-linux-gnu/libc.so.6": host("/lib/x86_64-linux-gnu/libc.so.6"),
            "lib64": None, "lib64/ld-linux-x86-64.so.2": host("/lib64/ld-linux-x86-64.so.2"),
            "a": None, "a/keep": b"k", "a/gone": b"g", "b": None, "b/old": b"o"}
    if not os.path.exists("/lib64/ld-linux-x86-64.so.2"):
        pytest.skip("this test builds its image from an x86-64 Debian host's dash")
    top = {"a/.wh.gone": b"", "b/.wh..wh..opq": b"", "b/new": b"n"}
    archive = str(tmp_path / "tiny.tar")
    _docker_save(archive, [_layer(base), _layer(top)], "tiny:1",
                 ["/bin/sh", "-c", "for f in /a/* /b/*; do echo $f; done; echo written > /a/new"])
    harness.images.import_archive(archive)
    info = harness.run({"image": "tiny:1"})
    info = harness.rt.wait(info.id, 10)
    assert (info.exit_code, harness.log(info)) == (0, "/a/keep\n/b/new\n")
    assert info.image == "docker.io/library/tiny:1"
    # writes went to the container's upper layer, not into the shared layer cache
    for d in harness.images.resolve("tiny:1").lower_dirs:
        assert not os.path.exists(os.path.join(d, "a", "new"))


def test_adoption_after_agent_restart(harness):
    rt1 = harness.rt
    running = harness.run({"command": ["sleep", "1000"]})
    quick = harness.run({"command": ["sh", "-c", "sleep 0.3; exit 5"]})
    # "restart": a new runtime object over the same state; the old one is never used again
    rt2 = RuncRuntime(harness.config)
    del rt1
    time.sleep(0.6)
    by_name = {i.id: i for i in rt2.list()}
    assert by_name[running.id].state == RUNNING
    assert by_name[running.id].started_at == running.started_at
    done = by_name[quick.id]
    assert (done.state, done.exit_code, done.reason) == (EXITED, 5, "Error")
    assert done.finished_at - done.started_at >= 0.3
    # the shims are nobody's children here: we could not have waitpid()ed them
    status_pid = rt2.inspect(running.id).pid
    assert status_pid and os.getppid() != status_pid
    info = rt2.stop(running.id, grace=10)
    assert (info.state, info.exit_code) == (EXITED, 143)


def test_shim_death_is_reported_not_hidden(harness):
    import json
    import signal

    info = harness.run({"command": ["sleep", "1000"]})
    with open(os.path.join(harness.rt.containers_dir, info.id, "status.json")) as f:
        shim_pid = json.load(f)["shimPid"]
    os.kill(shim_pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while harness.rt.inspect(info.id).state != UNKNOWN and time.monotonic() < deadline:
        time.sleep(0.02)
    assert harness.rt.inspect(info.id).state == UNKNOWN
    info = harness.rt.stop(info.id, grace=1)
    assert (info.state, info.reason, info.exit_code) == (EXITED, "ContainerStatusUnknown", 137)


def test_remove_cleans_everything_and_is_idempotent(harness):
    pod = harness.pod("gc")
    info = harness.rt.create(harness.request({"command": ["sleep", "1000"]}, pod=pod))
    assert info.state == CREATED
    d = os.path.join(harness.rt.containers_dir, info.id)
    rootfs = os.path.join(d, "rootfs")
    with open("/proc/self/mountinfo") as f:
        assert any(line.split()[4] == rootfs for line in f)
    assert harness.rt.cgroups.exists(info.cgroups_path)
    harness.rt.remove(info.id)  # never started: removed all the same
    harness.rt.remove(info.id)
    assert not os.path.exists(d)
    with open("/proc/self/mountinfo") as f:
        assert not any(line.split()[4] == rootfs for line in f)
    assert not harness.rt.cgroups.exists(info.cgroups_path)
    harness.rt.remove_pod(pod)
    assert not harness.rt.cgroups.exists(info.cgroups_path.rsplit("/", 1)[0])
    assert os.path.exists(info.log_path)  # logs outlive the container (kubectl logs --previous)


def test_failed_create_leaves_nothing_behind(harness):
    with pytest.raises(RuncError, match="cannot create container"):
        harness.run({"command": ["true"], "workingDir": "/etc/hostname/sub"})
    assert harness.rt.list() == []
    assert os.listdir(harness.rt.containers_dir) == []


def test_attach_stdin_once(harness):
    info = harness.run({"command": ["sh", "-c", "while read l; do echo got $l; done; echo eof"], "stdin": True,
                        "stdinOnce": True})
    paths = harness.rt.attach_paths(info.id)
    with open(paths["stdin"], "wb") as f:  # what an attach session does
        f.write(b"one\ntwo\n")
    info = harness.rt.wait(info.id, 10)  # stdinOnce: the first attacher leaving closes stdin
    assert (info.exit_code, harness.log(info)) == (0, "got one\ngot two\neof\n")


def test_tty_container(harness):
    info = harness.run({"command": ["sh", "-c", "tty; stty size; exit 4"], "tty": True})
    info = harness.rt.wait(info.id, 10)
    assert info.exit_code == 4
    assert harness.log(info).startswith("/dev/pts/0\r\n")  # a tty writes CRLF, kept as is (as containerd does)
