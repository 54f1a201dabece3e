"""runtime.process: containers as plain host processes, run for real (sh, sleep, python3 on the host).

Works as root (bind mounts, runAsUser, chroot into an OCI image, cgroup limits when writable) and
as an unprivileged user (env vars instead of mounts, host images only, no limits); tests of one
mode only skip in the other with the reason."""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import secrets
import select
import shutil
import signal
import sys
import time

import pytest

from podplane.agent.images.spec import HOST, OCI, ImageSpec
from podplane.agent.runtime import CREATED, EXITED, RUNNING
from podplane.agent.runtime.cgroups import Cgroups
from podplane.agent.runtime.logs import parse_record, read_log
from podplane.agent.runtime.oci import Mount, SandboxConfig
from podplane.agent.runtime.process import (
    LIMITATIONS,
    ProcessConfig,
    ProcessError,
    ProcessRuntime,
    UnsupportedImage,
    mount_env_name,
)
from podplane.agent.runtime.runc import UNKNOWN, ContainerNotFound, ContainerRequest, RuncError, RuncRuntime
from podplane.agent.runtime.shim import process_start_time

ROOT = os.geteuid() == 0
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# the shims need some Python 3.11; the venv's may not be executable for an unprivileged user
PYTHON = sys.executable if os.access(sys.executable, os.X_OK) else (shutil.which("python3") or "/usr/bin/python3")
HOST_IMAGE = ImageSpec(ref="docker.io/library/busybox:latest", image_id="docker.io/library/busybox@sha256:00",
                       kind=HOST, lower_dirs=("/",), env=(f"PATH={PATH}", "FROM_IMAGE=yes"))
requires_root = pytest.mark.skipif(not ROOT, reason="needs root (mounts, users, chroot)")
requires_non_root = pytest.mark.skipif(ROOT, reason="checks what an unprivileged agent refuses")


class Harness:
    def __init__(self, tmp: str) -> None:
        self.tmp = tmp
        self.cgroup_parent = f"/podplane-ut-{secrets.token_hex(4)}"
        self.config = ProcessConfig(root=os.path.join(tmp, "state"), log_dir=os.path.join(tmp, "pods"),
                                    cgroup_parent=self.cgroup_parent, python=PYTHON)
        self.rt = ProcessRuntime(self.config)
        self.pods: list[dict] = []

    def pod(self, **spec) -> dict:
        p = {"metadata": {"name": "pod", "namespace": "ut", "uid": secrets.token_hex(8)}, "spec": spec}
        self.pods.append(p)
        return p

    def request(self, container: dict, *, image: ImageSpec = HOST_IMAGE, pod: dict | None = None,
                **kw) -> ContainerRequest:
        # as root the termination message file is bind-mounted at this path: keep it in tmp
        container = {"name": "c", "terminationMessagePath": os.path.join(self.tmp, f"tm-{secrets.token_hex(3)}"),
                     **container}
        pod = pod or self.pod(containers=[container])
        return ContainerRequest(pod=pod, container=container, image=image, sandbox=SandboxConfig(hostname="pod"),
                                **kw)

    def run(self, container: dict, **kw):
        return self.rt.run(self.request(container, **kw))

    def sh(self, script: str, **container):
        return self.run({"command": ["sh", "-c", script], **container})

    def log(self, info) -> str:
        return b"".join(read_log(info.log_path)).decode()

    def wait_log(self, info, text: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log(info):
            assert time.monotonic() < deadline, f"{text!r} not in the log: {self.log(info)!r}"
            time.sleep(0.01)

    def cleanup(self) -> None:
        for info in self.rt.list():
            self.rt.remove(info.id)
        for p in self.pods:
            self.rt.remove_pod(p)
        if ROOT:
            Cgroups.detect().remove(self.cgroup_parent)


@pytest.fixture
def h(tmp_path):
    harness = Harness(str(tmp_path))
    try:
        yield harness
    finally:
        harness.cleanup()


def gone(pid: int, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while process_start_time(pid) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# --- the contract -----------------------------------------------------------------------------

def test_interface_matches_runc_runtime():
    """Every public method of RuncRuntime exists with the same parameters, so runc_pods can drive it."""
    for name, method in inspect.getmembers(RuncRuntime, inspect.isfunction):
        if name.startswith("_"):
            continue
        mine = getattr(ProcessRuntime, name, None)
        assert mine is not None, f"ProcessRuntime lacks {name}"
        assert list(inspect.signature(mine).parameters) == list(inspect.signature(method).parameters), name
    assert ProcessRuntime.name == "process"
    assert issubclass(ProcessError, RuncError)  # callers' `except RuncError` still works


def test_limitations_are_logged_once_and_name_what_is_not_isolated(tmp_path, caplog):
    for word in ("PID", "network", "IPC", "users", "limits", "mount"):
        assert word in LIMITATIONS
    assert ProcessRuntime.LIMITATIONS is LIMITATIONS
    with caplog.at_level(logging.WARNING, logger="podplane.agent.runtime.process"):
        rt = ProcessRuntime(ProcessConfig(root=str(tmp_path / "s"), log_dir=str(tmp_path / "p"), use_cgroups=False,
                                          python=PYTHON))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert LIMITATIONS in warnings[0].getMessage()
    assert "resource limits: none (disabled in the configuration)" in warnings[0].getMessage()
    assert not rt.uses_cgroups


# --- create, start, exit, logs ----------------------------------------------------------------

def test_create_waits_for_start(h, tmp_path):
    marker = tmp_path / "ran"
    info = h.rt.create(h.request({"command": ["sh", "-c", f"touch {marker}; exit 0"]}))
    assert info.state == CREATED and info.pid > 0 and info.started_at == 0.0
    time.sleep(0.2)
    assert not marker.exists()  # set up, but held at the gate
    info = h.rt.start(info.id)
    assert info.state in (RUNNING, EXITED) and info.started_at >= info.created_at
    info = h.rt.wait(info.id, 5)
    assert (info.state, info.exit_code, info.reason) == (EXITED, 0, "Completed")
    assert marker.exists()
    assert info.finished_at >= info.started_at
    assert info.container_id == f"process://{info.id}"
    assert info.to_status().id == f"process://{info.id}"
    with pytest.raises(ProcessError):
        h.rt.start(info.id)  # exited: cannot start again


def test_stop_before_start(h, tmp_path):
    marker = tmp_path / "ran"
    info = h.rt.create(h.request({"command": ["sh", "-c", f"touch {marker}"]}))
    info = h.rt.stop(info.id, 5)
    assert (info.state, info.exit_code, info.started_at) == (EXITED, 137, 0.0)
    assert not marker.exists()


def test_exit_code_and_cri_log(h):
    info = h.sh("echo out; echo err >&2; printf partial; exit 3")
    info = h.rt.wait(info.id, 5)
    assert (info.exit_code, info.reason, info.signal) == (3, "Error", 0)
    with open(info.log_path, "rb") as f:
        raw = f.read().splitlines()
    assert all(re.match(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) [PF] ", line) for line in raw), raw
    records = [parse_record(line) for line in raw]
    assert {(r.stream, r.content) for r in records} >= {("stdout", b"out"), ("stderr", b"err")}
    assert ("stdout", b"partial") in {(r.stream, r.content) for r in records}  # flushed at the end
    assert sorted(h.log(info).splitlines()) == ["err", "out", "partial"]  # two pipes: no order between them


def test_command_env_cwd_home(h, tmp_path):
    image = ImageSpec(ref="docker.io/library/img:1", image_id="img@sha256:01", kind=HOST, lower_dirs=("/",),
                      entrypoint=("sh", "-c"), cmd=("echo from-image",), env=(f"PATH={PATH}", "A=image"),
                      working_dir=str(tmp_path))
    info = h.rt.wait(h.run({}, image=image).id, 5)
    assert (info.exit_code, h.log(info)) == (0, "from-image\n")
    script = 'echo "$A $B $FROM_CMD"; pwd; echo "$HOME"; echo "$HOSTNAME"'
    info = h.run({"args": [script], "env": [{"name": "A", "value": "mine"}, {"name": "B", "value": "$(A)-b"},
                                            {"name": "FROM_CMD", "value": "x"}]}, image=image)
    info = h.rt.wait(info.id, 5)
    assert h.log(info).splitlines()[:2] == ["mine mine-b x", str(tmp_path)]
    assert h.log(info).splitlines()[2].startswith("/")
    assert h.log(info).splitlines()[3] == "pod"
    info = h.rt.wait(h.run({"command": ["echo", "$(A)"], "env": [{"name": "A", "value": "expanded"}]}).id, 5)
    assert h.log(info) == "expanded\n"


def test_setup_failures_are_create_errors_and_leave_nothing(h, tmp_path):
    with pytest.raises(ProcessError, match="executable file not found"):
        h.run({"command": ["no-such-program-xyz"]})
    with pytest.raises(ProcessError, match="chdir to cwd"):
        h.run({"command": ["true"], "workingDir": str(tmp_path / "missing")})
    assert h.rt.list() == []
    assert os.listdir(h.rt.containers_dir) == []


def test_signal_death_is_128_plus_signal(h):
    info = h.run({"command": ["python3", "-c", "import os, signal; os.kill(os.getpid(), signal.SIGUSR1)"]})
    info = h.rt.wait(info.id, 5)
    assert (info.exit_code, info.signal) == (128 + signal.SIGUSR1, signal.SIGUSR1)


# --- stop, kill, leftovers --------------------------------------------------------------------

def test_stop_with_sigterm(h):
    info = h.run({"command": ["sleep", "100"]})
    t = time.monotonic()
    info = h.rt.stop(info.id, 5)
    assert time.monotonic() - t < 2
    assert (info.state, info.exit_code, info.signal) == (EXITED, 143, signal.SIGTERM)
    assert gone(info.pid)


def test_stop_with_sigkill_after_grace(h):
    code = ("import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: print('term', flush=True))\n"
            "print('ready', flush=True)\ntime.sleep(100)")
    info = h.run({"command": ["python3", "-c", code]})
    h.wait_log(info, "ready")
    t = time.monotonic()
    info = h.rt.stop(info.id, 1.0)
    took = time.monotonic() - t
    assert 1.0 <= took < 6, took
    assert (info.exit_code, info.signal, info.reason) == (137, signal.SIGKILL, "Error"), h.log(info)
    h.wait_log(info, "term")  # SIGTERM came first


def test_leftover_processes_die_with_the_main_process(h, tmp_path):
    pidfile = tmp_path / "bg.pid"
    info = h.sh(f"sleep 100 & echo $! > {pidfile}; sleep 0.1; exit 4")
    info = h.rt.wait(info.id, 5)
    assert info.exit_code == 4
    assert gone(int(pidfile.read_text()))


def test_kill_all_processes_and_exit_fd(h, tmp_path):
    pidfile = tmp_path / "bg.pid"
    info = h.sh(f"trap '' TERM; sleep 100 & echo $! > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; wait")
    deadline = time.monotonic() + 5
    while not pidfile.exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    fd = h.rt.exit_fd(info.id)
    assert fd is not None
    try:
        assert h.rt.kill(info.id, "SIGKILL", all_processes=True)
        info = h.rt.wait(info.id, 5)
        assert select.select([fd], [], [], 5)[0] == [fd]
    finally:
        os.close(fd)
    assert info.exit_code == 137
    assert h.rt.exit_fd(info.id) is None
    assert not h.rt.kill(info.id, signal.SIGTERM)
    assert gone(int(pidfile.read_text()))


# --- exec -------------------------------------------------------------------------------------

def test_exec_sync(h, tmp_path):
    info = h.run({"command": ["sleep", "100"], "workingDir": str(tmp_path), "env": [{"name": "FOO", "value": "bar"}]})
    r = h.rt.exec_sync(info.id, ["sh", "-c", 'echo "$FOO $FROM_IMAGE"; pwd; echo oops >&2; exit 7'])
    assert (r.exit_code, r.stdout, r.stderr, r.timed_out) == (7, f"bar yes\n{tmp_path}\n".encode(), b"oops\n", False)
    r = h.rt.exec_sync(info.id, ["cat"], input=b"piped")
    assert (r.exit_code, r.stdout) == (0, b"piped")
    r = h.rt.exec_sync(info.id, ["no-such-program-xyz"])
    assert r.exit_code == 127
    assert b"exec failed: unable to start container process:" in r.stderr
    assert b"executable file not found" in r.stderr
    t = time.monotonic()
    r = h.rt.exec_sync(info.id, ["sleep", "100"], timeout=0.3)
    assert (r.timed_out, r.exit_code) == (True, 137) and time.monotonic() - t < 3
    proc = h.rt.exec(info.id, ["sh", "-c", "echo $X; pwd"], env={"X": "over"}, cwd="/")
    out = proc.stdout.read()
    assert (proc.wait(5), out) == (0, b"over\n/\n")
    exited = h.rt.wait(h.sh("exit 0").id, 5)
    with pytest.raises(ProcessError, match="not running"):
        h.rt.exec(exited.id, ["true"])


def test_exec_with_tty(h):
    info = h.run({"command": ["sleep", "100"]})
    proc = h.rt.exec(info.id, ["sh", "-c", "test -t 0 && test -t 1 && echo is-a-tty; exit 3"], tty=True)
    out = b""
    deadline = time.monotonic() + 5
    while b"is-a-tty" not in out and time.monotonic() < deadline:
        try:
            chunk = os.read(proc.master, 1024)
        except OSError:  # EIO: the session ended
            break
        out += chunk
    assert b"is-a-tty" in out
    assert proc.wait(5) == 3


def test_attach_stdin_once_and_tty(h):
    info = h.run({"command": ["sh", "-c", "read x; echo got $x; read y || echo eof"], "stdin": True,
                  "stdinOnce": True})
    paths = h.rt.attach_paths(info.id)
    assert set(paths) == {"stdin"}
    with open(paths["stdin"], "wb") as f:
        f.write(b"hello\n")
    info = h.rt.wait(info.id, 5)  # closing the FIFO ended the container's input
    assert (info.exit_code, h.log(info)) == (0, "got hello\neof\n")
    info = h.run({"command": ["sh", "-c", "test -t 0 && echo tty; stty size"], "tty": True})
    assert set(h.rt.attach_paths(info.id)) == {"control"}
    info = h.rt.wait(info.id, 5)
    assert info.exit_code == 0 and h.log(info).startswith("tty")


# --- adoption, removal ------------------------------------------------------------------------

def test_adoption_by_a_new_runtime_object(h):
    running = h.run({"command": ["sleep", "100"]})
    quick = h.sh("sleep 0.2; exit 5")
    h.rt = ProcessRuntime(h.config)  # the agent restarted
    infos = {i.id: i for i in h.rt.list()}
    assert set(infos) == {running.id, quick.id}
    assert infos[running.id].state == RUNNING
    assert infos[running.id].started_at == running.started_at
    assert h.rt.list(running.pod_uid) == [infos[running.id]]
    quick2 = h.rt.wait(quick.id, 5)  # the shim (not the agent) recorded the exit
    assert (quick2.state, quick2.exit_code) == (EXITED, 5)
    assert h.rt.exec_sync(running.id, ["true"]).exit_code == 0
    stopped = h.rt.stop(running.id, 2)
    assert stopped.exit_code == 143


def test_shim_death_is_reported_not_hidden(h):
    info = h.run({"command": ["sleep", "100"]})
    with open(os.path.join(h.rt.containers_dir, info.id, "status.json")) as f:
        shim_pid = int(json.load(f)["shimPid"])
    os.kill(shim_pid, signal.SIGKILL)
    assert gone(shim_pid)
    info = h.rt.inspect(info.id)
    assert info.state == UNKNOWN and "shim" in info.message
    info = h.rt.stop(info.id, 1)
    assert (info.state, info.reason) == (EXITED, "ContainerStatusUnknown")


def test_remove(h):
    info = h.run({"command": ["sleep", "100"]})
    d = os.path.join(h.rt.containers_dir, info.id)
    assert os.path.isdir(d)
    h.rt.remove(info.id)
    assert gone(info.pid)
    assert not os.path.exists(d)
    assert os.path.exists(info.log_path)  # logs outlive the container, as with runc
    with pytest.raises(ContainerNotFound):
        h.rt.inspect(info.id)
    h.rt.remove(info.id)  # idempotent
    assert h.rt.list() == []


# --- termination message, volumes -------------------------------------------------------------

def test_termination_message(h):
    info = h.rt.wait(h.sh('printf "all done" > "$PODPLANE_TERMINATION_MESSAGE_PATH"').id, 5)
    assert (info.exit_code, info.message, h.rt.termination_message(info.id)) == (0, "all done", "all done")
    info = h.rt.wait(h.sh("echo last words; exit 2", terminationMessagePolicy="FallbackToLogsOnError").id, 5)
    assert info.message == "last words\n"
    info = h.rt.wait(h.sh("echo not a message; exit 2").id, 5)
    assert info.message == ""


@requires_root
def test_termination_message_path_is_bound_when_root(h, tmp_path):
    path = str(tmp_path / "dev" / "termination-log")
    info = h.rt.wait(h.sh(f"printf bound > {path}", terminationMessagePath=path).id, 5)
    assert info.message == "bound"
    assert os.path.getsize(path) == 0  # the host's file is only the (empty) mount point


def test_volume_paths_in_env_and_bind_mounted_when_root(h, tmp_path):
    src = tmp_path / "vol"
    src.mkdir()
    (src / "f").write_text("content")
    dest = str(tmp_path / "mnt" / "data")
    ro_dest = str(tmp_path / "mnt" / "ro")
    var, ro_var = mount_env_name(dest), mount_env_name(ro_dest)
    assert re.fullmatch(r"PODPLANE_MOUNT_[A-Z0-9_]+", var)
    mounts = (Mount(destination=dest, source=str(src)), Mount(destination=ro_dest, source=str(src), read_only=True))
    script = (f'cat "${var}/f"; echo; echo "${ro_var}"; cat {dest}/f 2>/dev/null && echo " bound"; '
              f'test -e {ro_dest} && {{ touch {ro_dest}/x 2>/dev/null || echo read-only; }}; exit 0')
    info = h.rt.wait(h.run({"command": ["sh", "-c", script]}, mounts=mounts).id, 5)
    lines = h.log(info).splitlines()
    assert lines[:2] == ["content", str(src)]
    if ROOT:
        assert lines[2:] == ["content bound", "read-only"]
        assert os.listdir(dest) == []  # bound in the container's mount namespace only
    else:
        assert lines[2:] == []  # nothing at the destination without root
        assert not os.path.exists(dest)


# --- users, images --------------------------------------------------------------------------

def test_run_as_user(h):
    pod_sc = {"securityContext": {"runAsUser": 65534, "runAsGroup": 65534}}
    info = h.rt.wait(h.run({"command": ["sh", "-c", "id -u; id -g"]}, pod=h.pod(**pod_sc)).id, 5)
    want = ["65534", "65534"] if ROOT else [str(os.getuid()), str(os.getgid())]
    assert h.log(info).split() == want


def _tiny_layer(path) -> str:
    """A root filesystem made of the host's dash and the libraries it needs."""
    files = {"bin/sh": "/bin/dash", "lib/x86_64-linux-gnu/libc.so.6": "/lib/x86_64-linux-gnu/libc.so.6",
             "lib64/ld-linux-x86-64.so.2": "/lib64/ld-linux-x86-64.so.2"}
    if not all(os.path.exists(p) for p in files.values()):
        pytest.skip("builds its image from an x86-64 Debian host's dash")
    for rel, host in files.items():
        os.makedirs(os.path.dirname(os.path.join(path, rel)), exist_ok=True)
        shutil.copy(os.path.realpath(host), os.path.join(path, rel))
    os.makedirs(os.path.join(path, "etc"))
    return str(path)


@requires_root
def test_oci_image_runs_chrooted_into_an_overlay(h, tmp_path):
    layer = _tiny_layer(tmp_path / "layer")
    image = ImageSpec(ref="docker.io/library/tiny:1", image_id="tiny@sha256:02", kind=OCI, lower_dirs=(layer,),
                      entrypoint=("/bin/sh", "-c"), cmd=("echo written > /new; for f in /*; do echo $f; done",))
    host_dev = sorted(os.listdir("/dev"))
    info = h.rt.wait(h.run({"terminationMessagePath": "/dev/termination-log"}, image=image).id, 5)
    assert info.exit_code == 0, h.log(info)
    listing = set(h.log(info).split())
    assert {"/bin", "/new", "/proc", "/dev", "/sys"} <= listing and "/usr" not in listing
    assert not os.path.exists(os.path.join(layer, "new"))  # writes went to the container's upper dir
    script = "echo chrooted-bye > /dev/termination-log; for f in /dev/*; do echo $f; done"
    info = h.run({"command": ["/bin/sh", "-c", script], "terminationMessagePath": "/dev/termination-log"},
                 image=image)
    info = h.rt.wait(info.id, 5)
    assert (info.exit_code, info.message) == (0, "chrooted-bye\n"), h.log(info)
    assert {"/dev/null", "/dev/pts", "/dev/shm", "/dev/termination-log"} <= set(h.log(info).split())
    assert sorted(os.listdir("/dev")) == host_dev  # its /dev is its own: no mount point on the host
    running = h.run({"command": ["/bin/sh", "-c", "read x"], "stdin": True}, image=image)
    r = h.rt.exec_sync(running.id, ["/bin/sh", "-c", "test -e /usr || echo chrooted; read x < /proc/1/stat"])
    assert (r.exit_code, r.stdout) == (0, b"chrooted\n")


@requires_non_root
def test_oci_image_refused_when_unprivileged(h):
    image = ImageSpec(ref="docker.io/library/tiny:1", image_id="tiny@sha256:02", kind=OCI, lower_dirs=("/x",),
                      cmd=("/bin/sh",))
    with pytest.raises(UnsupportedImage, match="only host images work"):
        h.run({}, image=image)
    assert not UnsupportedImage.temporary


# --- resources --------------------------------------------------------------------------------

def test_stats(h):
    code = ("import time\nx = b'x' * (30 << 20)\nwhile time.process_time() < 0.3: pass\n"
            "print('ready', flush=True)\ntime.sleep(100)")
    info = h.run({"command": ["python3", "-c", code]})
    h.wait_log(info, "ready")
    s = h.rt.stats(info.id)
    assert s.pids >= 1
    assert s.memory_working_set_bytes >= 30 << 20
    assert s.cpu_usage_ns >= 250_000_000


def test_memory_limit_is_oom_killed_when_cgroups_are_writable(h):
    if not h.rt.uses_cgroups:
        pytest.skip("cgroups are not writable here: no limits (documented)")
    code = "x = []\nwhile True: x.append(bytearray(8 << 20))"
    info = h.run({"command": ["python3", "-c", code], "resources": {"limits": {"memory": "48Mi", "cpu": "500m"}}})
    limits = h.rt.cgroups.limits(info.cgroups_path)
    assert limits.memory_limit_bytes == 48 << 20
    assert (limits.cpu_quota_us, limits.cpu_period_us) == (50000, 100000)
    info = h.rt.wait(info.id, 10)
    assert (info.exit_code, info.reason) == (137, "OOMKilled")
