"""RuncRuntime: containers under runc, one shim per container, state on disk for adoption.

Life of a container (every call blocking and short; run them with `asyncio.to_thread`):
`create(ContainerRequest)` mounts the root filesystem (overlayfs: the image's layers, or
the host's / for a host image, plus a private upper dir), writes the bundle
(`runtime.oci.build_spec`) and `meta.json`, and starts the container's shim
(`runtime.shim`), which runs `runc create` with the container's stdio wired to the CRI log
file and reports back; `start(id)` runs `runc start`; `inspect(id)` / `list()` read
`meta.json`, `started.json` and the shim's `status.json` (exit code, finishedAt, OOM kill);
`wait(id)` blocks on a pidfd of the shim (which exits right after recording the exit);
`stop(id, grace)` sends SIGTERM (tini forwards it), then SIGKILL after the grace period;
`remove(id)` deletes the runc container, the overlay mount, the cgroup and the directory,
idempotently; `exec`/`exec_sync` run `runc exec` (pipes, or a pty for tty sessions);
`stats(id)` reads the cgroup. After an agent restart `list()` finds every container again,
and the shims, which never were the agent's children, still record exits: adoption is
reading files. Layout: <root>/containers/<id>/{meta,started,status,shim}.json, bundle/,
rootfs/, upper/, work/, termination-log; runc's own state in <root>/runc.
Errors: `RuncError` (temporary), `ContainerNotFound`, `SpecError` (permanent, from oci).
Do not make the agent a child subreaper: the shims would then re-parent to it and need reaping.
Neighbours: `runtime.oci`, `runtime.shim`, `runtime.cgroups`, `runtime.logs`, `agent.images`.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import json
import logging
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import IO

from podplane.agent.images.spec import ImageSpec
from podplane.agent.runtime import CREATED, EXITED, RUNNING, ContainerStatus
from podplane.agent.runtime.cgroups import CgroupError, Cgroups, CgroupStats
from podplane.agent.runtime.logs import container_log_path, pod_log_dir
from podplane.agent.runtime.oci import (
    ContainerConfig,
    ContainerRuntimeError,
    Mount,
    SandboxConfig,
    SpecOptions,
    build_spec,
    qos_class,
)
from podplane.agent.runtime.shim import process_start_time

__all__ = [
    "UNKNOWN",
    "ContainerInfo",
    "ContainerNotFound",
    "ContainerRequest",
    "ExecProcess",
    "ExecResult",
    "RuncConfig",
    "RuncError",
    "RuncRuntime",
]

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
"""State of a container whose shim died before recording an exit."""
RUNC_TIMEOUT = 30.0
SIGNAL_READY_WAIT = 1.0
"""Longest wait for a just-started init to be able to receive SIGTERM (see _await_signal_ready)."""
KILL_WAIT = 10.0
"""After SIGKILL, how long to wait for the exit to be recorded."""
MAX_TERMINATION_MESSAGE = 4096
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048
MNT_DETACH = 2


class RuncError(ContainerRuntimeError):
    """runc (or a mount, or the shim) failed: temporary, the pod worker retries."""

    temporary = True
    reason = "RunContainerError"


class ContainerNotFound(ContainerRuntimeError):
    """No container with this id (never created, or removed)."""


@dataclass(frozen=True)
class RuncConfig:
    """Where the runtime keeps things and which programs it uses (defaults explained)."""

    root: str
    """State directory, e.g. `<data-dir>/runc`; must survive agent restarts (not reboots)."""
    log_dir: str
    """Root of the CRI log files (`<data-dir>/pods`, the kubelet's /var/log/pods)."""
    runc: str = "runc"
    cgroup_parent: str = "/podplane"
    """Absolute cgroup parent; pods go to `<parent>/[burstable|besteffort/]pod<uid>/<id>` like the
    kubelet's /kubepods tree."""
    python: str = sys.executable
    """Interpreter for the shims (any Python 3.11+; only the standard library is used)."""
    spec_options: SpecOptions = field(default_factory=SpecOptions)
    hidden_paths: tuple[str, ...] = ()
    """More host paths to hide from host-image containers (the data directory, say); `root` and
    `log_dir` are always hidden."""


@dataclass(frozen=True)
class ContainerRequest:
    """What the pod worker hands to `create`."""

    pod: dict
    container: dict
    image: ImageSpec
    sandbox: SandboxConfig
    attempt: int = 0
    mounts: tuple[Mount, ...] = ()
    env: tuple[tuple[str, str], ...] | None = None
    """Resolved env (valueFrom/envFrom done by the caller); None: the literal values."""
    log_path: str = ""
    """"" → `<log_dir>/<ns>_<pod>_<uid>/<container>/<attempt>.log`."""
    init: bool = False


@dataclass(frozen=True)
class ContainerInfo:
    """A container as on disk now (maps onto `runtime.ContainerStatus`)."""

    id: str
    pod_uid: str
    namespace: str
    pod_name: str
    name: str
    attempt: int
    image: str
    image_id: str
    init: bool
    state: str
    """CREATED, RUNNING, EXITED or UNKNOWN (shim gone without recording an exit)."""
    pid: int
    created_at: float
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    signal: int = 0
    reason: str = ""
    """Completed / Error / OOMKilled / ContainerStatusUnknown for exited containers."""
    message: str = ""
    log_path: str = ""
    cgroups_path: str = ""

    @property
    def container_id(self) -> str:
        return f"runc://{self.id}"

    def to_status(self, *, ready: bool = False) -> ContainerStatus:
        """The runtime contract's record (`agent.runtime.ContainerStatus`); an unsupervised
        container (UNKNOWN) reports as running, with the reason in its message."""
        return ContainerStatus(
            name=self.name, id=self.container_id, image=self.image, image_id=self.image_id, attempt=self.attempt,
            state=RUNNING if self.state == UNKNOWN else self.state, created_at=self.created_at,
            started_at=self.started_at, finished_at=self.finished_at, exit_code=self.exit_code, reason=self.reason,
            message=self.message, ready=ready)


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False


class ExecProcess:
    """A running `runc exec`. Without tty: `stdin`/`stdout`/`stderr` are pipes (stdin None
    unless requested). With tty: `master` is the pty master fd (read output, write input),
    `resize(cols, rows)` changes the window. `wait()` returns the exit code."""

    def __init__(self, popen: subprocess.Popen, *, master: int | None, pid_file: str) -> None:
        self.popen = popen
        self.master = master
        self.pid_file = pid_file
        self.stdin: IO[bytes] | None = popen.stdin
        self.stdout: IO[bytes] | None = popen.stdout
        self.stderr: IO[bytes] | None = popen.stderr

    @property
    def tty(self) -> bool:
        return self.master is not None

    def resize(self, cols: int, rows: int) -> None:
        if self.master is None:
            return
        import fcntl
        import struct
        import termios

        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signal.SIGWINCH)  # runc copies the size into the container's pty

    def process_pid(self) -> int | None:
        """Host pid of the exec'd process (not runc's), once runc wrote it."""
        try:
            with open(self.pid_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def kill(self, wait: float = 2.0) -> None:
        """SIGKILL the exec'd process (runc cannot forward SIGKILL); runc then reaps it and
        exits. runc itself is killed only if it does not: an exec'd process whose runc died is
        orphaned to the host's init and, until reaped there, delays the container's exit."""
        pid = self.process_pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(wait)
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.kill()

    def wait(self, timeout: float | None = None) -> int:
        code = self.popen.wait(timeout)
        self.close()
        return code if code >= 0 else 128 - code

    def close(self) -> None:
        if self.master is not None:
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.master = None
        with contextlib.suppress(OSError):
            os.unlink(self.pid_file)


def _await_signal_ready(pid: int, sig: int, timeout: float) -> bool:
    """Wait until `pid` can take `sig`. Right after `runc start` the init process may not have
    set up its handlers yet, and a namespace's PID 1 drops signals it does not handle: a SIGTERM
    sent then would be lost and the stop would wait out the whole grace period. Ready: the
    signal is blocked or caught, or the process has children (tini forks the command only after
    blocking signals; /proc shows no mask while it sleeps in sigtimedwait). A few ms with tini."""
    bit = 1 << (int(sig) - 1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            mask = int(fields.get("SigBlk", "0").strip(), 16) | int(fields.get("SigCgt", "0").strip(), 16)
            exe = os.readlink(f"/proc/{pid}/exe")
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                children = f.read().strip()
        except (OSError, ValueError):
            return False
        # runc's own Go runtime catches everything until it execs the container's init
        if (mask & bit or children) and not os.path.basename(exe).startswith("runc"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)


def _write_json(path: str, doc: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)


def _read_json(path: str) -> dict | None:
    try:
        with open(path) as f:
            return json.load(f)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except ValueError:
        return None


_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str, target: str, fstype: str, data: str) -> None:
    if _libc.mount(source.encode(), target.encode(), fstype.encode(), 0, data.encode()) != 0:
        err = ctypes.get_errno()
        raise RuncError(f"cannot mount the container's root filesystem ({fstype}): {os.strerror(err)}")


def _umount(target: str) -> None:
    if _libc.umount2(target.encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):  # not mounted / gone: fine
            raise RuncError(f"cannot unmount {target}: {os.strerror(err)}")


def _is_mounted(path: str) -> bool:
    real = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == real for line in f)
    except OSError:
        return False


class RuncRuntime:
    """See the module docstring. One instance per agent; safe to use from several threads as
    long as one container is handled by one worker at a time (the pod workers' rule)."""

    name = "runc"

    def __init__(self, config: RuncConfig, *, cgroups: Cgroups | None = None) -> None:
        self.config = config
        self.root = os.path.abspath(config.root)
        self.containers_dir = os.path.join(self.root, "containers")
        self.runc_root = os.path.join(self.root, "runc")
        self.cgroups = cgroups or Cgroups.detect()
        self._shim_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim.py")
        self._version: str | None = None
        hidden = tuple(dict.fromkeys((*config.spec_options.host_masked_paths, *config.hidden_paths, self.root,
                                      os.path.abspath(config.log_dir))))
        self.spec_options = dataclasses.replace(config.spec_options, host_masked_paths=hidden)

    # --- helpers ----------------------------------------------------------------------------

    def _dir(self, cid: str) -> str:
        if not cid or "/" in cid or cid.startswith("."):
            raise ContainerNotFound(f"invalid container id {cid!r}")
        return os.path.join(self.containers_dir, cid)

    def _runc(self, *args: str, timeout: float = RUNC_TIMEOUT, check: bool = True
              ) -> subprocess.CompletedProcess:
        argv = [self.config.runc, "--root", self.runc_root, *args]
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        except FileNotFoundError as e:
            raise RuncError(f"{self.config.runc} not found: install the Debian package runc") from e
        except subprocess.TimeoutExpired as e:
            raise RuncError(f"runc {args[0]} timed out after {timeout:.0f}s") from e
        if check and proc.returncode != 0:
            raise RuncError(f"runc {args[0]} failed: {proc.stderr.decode(errors='replace').strip()[:500]}")
        return proc

    def version(self) -> str:
        """runc's version (`1.1.5+ds1`), for the node's containerRuntimeVersion."""
        if self._version is None:
            out = self._runc("--version", check=False).stdout.decode(errors="replace")
            first = out.splitlines()[0] if out else ""
            self._version = first.rsplit(" ", 1)[-1] if first else "unknown"
        return self._version

    def cgroup_path(self, pod: dict, cid: str) -> str:
        return f"{self.pod_cgroup_path(pod)}/{cid}"

    def pod_cgroup_path(self, pod: dict) -> str:
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        tier = {"Guaranteed": "", "Burstable": "burstable/", "BestEffort": "besteffort/"}[qos_class(pod)]
        return f"{self.config.cgroup_parent.rstrip('/')}/{tier}pod{uid}"

    # --- create / start ---------------------------------------------------------------------

    def create(self, req: ContainerRequest) -> ContainerInfo:
        """Prepare and `runc create` a container (not started). Raises SpecError (bad pod/image:
        permanent), RuncError (temporary). Nothing is left behind on failure."""
        meta_pod = req.pod.get("metadata") or {}
        uid = str(meta_pod.get("uid") or "")
        if not uid:
            raise RuncError("pod has no uid")
        if not shutil.which(self.config.runc):
            raise RuncError(f"{self.config.runc} not found: install the Debian package runc")
        cid = secrets.token_hex(32)
        d = self._dir(cid)
        rootfs = os.path.join(d, "rootfs")
        cgroups_path = self.cgroup_path(req.pod, cid)
        log_path = req.log_path or container_log_path(
            pod_log_dir(self.config.log_dir, str(meta_pod.get("namespace") or ""), str(meta_pod.get("name") or ""),
                        uid), req.container["name"], req.attempt)
        os.makedirs(self.runc_root, exist_ok=True)
        for sub in ("bundle", "rootfs", "upper", "work"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        try:
            termination_log = os.path.join(d, "termination-log")
            with open(termination_log, "w"):
                pass
            os.chmod(termination_log, 0o666)
            spec = build_spec(ContainerConfig(
                pod=req.pod, container=req.container, image=req.image, sandbox=req.sandbox, rootfs=rootfs,
                cgroups_path=cgroups_path, mounts=req.mounts, env=req.env, termination_log_path=termination_log,
                init=req.init), self.spec_options)
            now = time.time()
            meta = {
                "id": cid, "podUID": uid, "namespace": meta_pod.get("namespace") or "",
                "podName": meta_pod.get("name") or "", "name": req.container["name"], "attempt": req.attempt,
                "image": req.image.ref, "imageID": req.image.image_id, "init": req.init, "createdAt": now,
                "logPath": log_path, "cgroupsPath": cgroups_path, "rootfs": rootfs,
                "terminationMessagePolicy": req.container.get("terminationMessagePolicy") or "File",
            }
            _write_json(os.path.join(d, "meta.json"), meta)
            _write_json(os.path.join(d, "bundle", "config.json"), spec)
            self._mount_rootfs(req.image, d)
            status = self._start_shim(cid, d, req, log_path, cgroups_path)
        except BaseException:
            with contextlib.suppress(Exception):
                self.remove(cid)
            raise
        if status.get("status") != "created":
            with contextlib.suppress(Exception):
                self.remove(cid)
            raise RuncError(f"cannot create container {req.container['name']}: {status.get('error', 'unknown')}")
        return self.inspect(cid)

    def _mount_rootfs(self, image: ImageSpec, d: str) -> None:
        lowers = ":".join(image.lower_dirs)
        opts = f"lowerdir={lowers},upperdir={d}/upper,workdir={d}/work"
        if len(opts) > 4000:
            raise RuncError(f"image {image.ref} has too many layers for one overlay mount")
        for p in image.lower_dirs:
            if not os.path.isdir(p):
                raise RuncError(f"image {image.ref} is incomplete: layer directory {p} is missing")
        _mount("overlay", os.path.join(d, "rootfs"), "overlay", opts)

    def _start_shim(self, cid: str, d: str, req: ContainerRequest, log_path: str, cgroups_path: str) -> dict:
        oom = self.cgroups.oom_kill_file(cgroups_path)
        sock = os.path.join(d, "console.sock")
        if len(sock) > 100:  # AF_UNIX path limit
            sock = os.path.join("/tmp", f"podplane-{cid[:16]}.sock")
        c = req.container
        _write_json(os.path.join(d, "shim.json"), {
            "id": cid, "runc": shutil.which(self.config.runc) or self.config.runc, "runc_root": self.runc_root,
            "bundle": os.path.join(d, "bundle"), "pid_file": os.path.join(d, "init.pid"), "log_path": log_path,
            "oom_file": oom[0] if oom else "", "oom_key": oom[1] if oom else "",
            "tty": bool(c.get("tty")), "stdin": bool(c.get("stdin")), "stdin_once": bool(c.get("stdinOnce")),
            "console_socket": sock,
        })
        with open(os.path.join(d, "shim.log"), "ab") as shim_log:
            try:
                proc = subprocess.Popen([self.config.python, "-I", "-S", self._shim_path, d],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=shim_log,
                                        start_new_session=True, close_fds=True, cwd="/")
            except OSError as e:
                raise RuncError(f"cannot start the container shim: {e.strerror}") from e
        try:
            out, _ = proc.communicate(timeout=RUNC_TIMEOUT + 10)
        except subprocess.TimeoutExpired as e:
            proc.kill()
            proc.wait()
            raise RuncError("the container shim did not report back in time") from e
        line = out.decode(errors="replace").strip().splitlines()
        try:
            return json.loads(line[-1]) if line else {"status": "failed", "error": self._shim_log_tail(d)}
        except ValueError:
            return {"status": "failed", "error": "the container shim answered garbage"}

    @staticmethod
    def _shim_log_tail(d: str) -> str:
        try:
            with open(os.path.join(d, "shim.log"), "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - 500))
                return f.read().decode(errors="replace").strip() or "the container shim exited silently"
        except OSError:
            return "the container shim exited silently"

    def start(self, cid: str) -> ContainerInfo:
        """`runc start`: run the user process (tini, then the command)."""
        d = self._dir(cid)
        if not os.path.isdir(d):
            raise ContainerNotFound(f"container {cid} not found")
        self._runc("start", cid)
        _write_json(os.path.join(d, "started.json"), {"startedAt": time.time()})
        return self.inspect(cid)

    def run(self, req: ContainerRequest) -> ContainerInfo:
        """create + start."""
        info = self.create(req)
        try:
            return self.start(info.id)
        except BaseException:
            with contextlib.suppress(Exception):
                self.remove(info.id)
            raise

    # --- state ------------------------------------------------------------------------------

    def _shim_alive(self, status: dict | None) -> bool:
        if not status or not status.get("shimPid"):
            return False
        start = process_start_time(int(status["shimPid"]))
        return start is not None and start == status.get("shimStart")

    def inspect(self, cid: str) -> ContainerInfo:
        """The container's state now; raises ContainerNotFound."""
        d = self._dir(cid)
        meta = _read_json(os.path.join(d, "meta.json"))
        if meta is None:
            raise ContainerNotFound(f"container {cid} not found")
        status = _read_json(os.path.join(d, "status.json")) or {}
        started = _read_json(os.path.join(d, "started.json")) or {}
        started_at = float(started.get("startedAt") or 0.0)
        kw = dict(id=cid, pod_uid=meta["podUID"], namespace=meta["namespace"], pod_name=meta["podName"],
                  name=meta["name"], attempt=int(meta["attempt"]), image=meta["image"], image_id=meta["imageID"],
                  init=bool(meta.get("init")), created_at=float(meta["createdAt"]), started_at=started_at,
                  log_path=meta["logPath"], cgroups_path=meta["cgroupsPath"], pid=int(status.get("pid") or 0))
        st = status.get("status")
        if st == "exited":
            code = int(status.get("exitCode", 255))
            oom = bool(status.get("oomKilled"))
            reason = "OOMKilled" if oom else ("Completed" if code == 0 else "Error")
            return ContainerInfo(**kw, state=EXITED, finished_at=float(status.get("finishedAt") or 0.0),
                                 exit_code=code, signal=int(status.get("signal") or 0), reason=reason,
                                 message=self._termination_message(d, meta, code))
        if st == "created" and self._shim_alive(status):
            if not started_at and self._runc_status(cid) == "running":
                # started, but the agent stopped before recording when: creation time is the best bound
                kw["started_at"] = float(meta["createdAt"])
                started_at = kw["started_at"]
            return ContainerInfo(**kw, state=RUNNING if started_at else CREATED)
        if st in (None, "created") and not status.get("shimPid"):
            return ContainerInfo(**kw, state=CREATED)  # shim still starting
        # The shim is gone without recording an exit: the exit code is lost.
        alive = bool(kw["pid"]) and self._runc_status(cid) in ("running", "created", "paused")
        if alive:
            return ContainerInfo(**kw, state=UNKNOWN, message="the container's shim died; it runs unsupervised")
        return ContainerInfo(**kw, state=EXITED, exit_code=137, reason="ContainerStatusUnknown",
                             finished_at=started_at or float(meta["createdAt"]),
                             message=status.get("error") or "The container's exit code was lost (its shim died)")

    def _runc_status(self, cid: str) -> str:
        proc = self._runc("state", cid, check=False)
        if proc.returncode != 0:
            return ""
        try:
            return json.loads(proc.stdout).get("status", "")
        except ValueError:
            return ""

    def _termination_message(self, d: str, meta: dict, code: int) -> str:
        try:
            with open(os.path.join(d, "termination-log"), "rb") as f:
                msg = f.read(MAX_TERMINATION_MESSAGE).decode(errors="replace")
        except OSError:
            msg = ""
        if not msg and code != 0 and meta.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            from podplane.agent.runtime.logs import read_log

            out = b"".join(read_log(meta["logPath"], tail=FALLBACK_LOG_LINES))
            msg = out[-FALLBACK_LOG_BYTES:].decode(errors="replace")
        return msg

    def list(self, pod_uid: str | None = None) -> list[ContainerInfo]:
        """Every container on disk (optionally of one pod), oldest first: what an agent adopts
        after a restart."""
        try:
            ids = os.listdir(self.containers_dir)
        except FileNotFoundError:
            return []
        out = []
        for cid in ids:
            try:
                info = self.inspect(cid)
            except ContainerNotFound:
                continue
            if pod_uid is None or info.pod_uid == pod_uid:
                out.append(info)
        out.sort(key=lambda i: (i.created_at, i.id))
        return out

    def exit_fd(self, cid: str) -> int | None:
        """A pidfd that turns readable when the container's exit has been recorded (the shim
        exits right after), for `loop.add_reader`; None when already exited or unsupervised.
        The caller closes it."""
        status = _read_json(os.path.join(self._dir(cid), "status.json")) or {}
        if status.get("status") != "created" or not self._shim_alive(status):
            return None
        try:
            fd = os.pidfd_open(int(status["shimPid"]))
        except ProcessLookupError:
            return None
        if not self._shim_alive(status):  # pid reused between the check and the open
            os.close(fd)
            return None
        return fd

    def wait(self, cid: str, timeout: float | None = None) -> ContainerInfo:
        """Block until the container exited (or `timeout`); returns its state either way."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.inspect(cid)
            if info.state not in (RUNNING, CREATED):
                return info
            fd = self.exit_fd(cid)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if fd is None:
                # shim still starting, or status not yet visible: poll briefly
                if remaining == 0.0:
                    return info
                time.sleep(0.01 if remaining is None else min(0.01, remaining))
                continue
            try:
                select.select([fd], [], [], remaining)
            finally:
                os.close(fd)
            if deadline is not None and time.monotonic() >= deadline:
                return self.inspect(cid)

    # --- stop / remove ----------------------------------------------------------------------

    def kill(self, cid: str, sig: int | str = signal.SIGTERM, *, all_processes: bool = False) -> bool:
        """Send a signal to the container's init (tini forwards it to the command); False when
        the container is not running."""
        name = sig if isinstance(sig, str) else signal.Signals(sig).name
        args = ["kill", *(["--all"] if all_processes else []), cid, name.removeprefix("SIG")]
        proc = self._runc(*args, check=False)
        if proc.returncode == 0:
            return True
        err = proc.stderr.decode(errors="replace")
        if "not running" in err or "does not exist" in err or "container not running" in err:
            return False
        raise RuncError(f"runc kill failed: {err.strip()[:300]}")

    def stop(self, cid: str, grace: float) -> ContainerInfo:
        """SIGTERM, then SIGKILL after `grace` seconds; returns the exited state."""
        info = self.inspect(cid)
        if info.state in (EXITED,):
            return info
        if info.state == RUNNING and grace > 0:
            _await_signal_ready(info.pid, signal.SIGTERM, min(grace, SIGNAL_READY_WAIT))
            if self.kill(cid, signal.SIGTERM):
                info = self.wait(cid, grace)
                if info.state == EXITED:
                    return info
        self.kill(cid, signal.SIGKILL, all_processes=True)
        info = self.wait(cid, KILL_WAIT)
        deadline = time.monotonic() + KILL_WAIT
        while info.state == UNKNOWN and time.monotonic() < deadline:
            # no shim to report the exit: watch runc's view of the init process instead
            time.sleep(0.02)
            info = self.inspect(cid)
        if info.state in (RUNNING, CREATED, UNKNOWN):
            raise RuncError(f"container {info.name} did not exit after SIGKILL")
        return info

    def remove(self, cid: str) -> None:
        """Delete everything of the container but its log file; a missing container is fine."""
        d = self._dir(cid)
        if not os.path.isdir(d):
            return
        meta = _read_json(os.path.join(d, "meta.json")) or {}
        status = _read_json(os.path.join(d, "status.json")) or {}
        self._runc("delete", "--force", cid, check=False)
        if self._shim_alive(status):
            # runc delete killed init; the shim records the exit and leaves within its drain time
            try:
                fd = os.pidfd_open(int(status["shimPid"]))
                try:
                    select.select([fd], [], [], KILL_WAIT)
                finally:
                    os.close(fd)
            except ProcessLookupError:
                pass
            if self._shim_alive(status):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(status["shimPid"]), signal.SIGKILL)
        rootfs = os.path.join(d, "rootfs")
        if _is_mounted(rootfs):
            _umount(rootfs)
        if meta.get("cgroupsPath"):
            try:
                self.cgroups.remove(meta["cgroupsPath"])
            except CgroupError as e:
                raise RuncError(str(e)) from e
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join("/tmp", f"podplane-{cid[:16]}.sock"))
        shutil.rmtree(d, ignore_errors=True)
        if os.path.isdir(d):
            raise RuncError(f"cannot remove {d}")

    def remove_pod(self, pod: dict) -> None:
        """Remove every container of a pod, then its pod-level cgroup (all QoS tiers)."""
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        for info in self.list(uid):
            self.remove(info.id)
        parent = self.config.cgroup_parent.rstrip("/")
        for tier in ("", "burstable/", "besteffort/"):
            try:
                self.cgroups.remove(f"{parent}/{tier}pod{uid}")
            except CgroupError as e:
                raise RuncError(str(e)) from e

    # --- exec / stats -----------------------------------------------------------------------

    def exec(self, cid: str, argv: list[str], *, tty: bool = False, stdin: bool = False,
             env: dict[str, str] | None = None, cwd: str | None = None, user: str | None = None
             ) -> ExecProcess:
        """Start `argv` inside a running container (`runc exec`). See ExecProcess."""
        info = self.inspect(cid)
        if info.state != RUNNING:
            raise RuncError(f"container {info.name} is not running")
        if not argv:
            raise RuncError("exec needs a command")
        d = self._dir(cid)
        pid_file = os.path.join(d, f"exec-{secrets.token_hex(6)}.pid")
        args = [self.config.runc, "--root", self.runc_root, "exec", "--pid-file", pid_file]
        if tty:
            args.append("--tty")
        if cwd:
            args += ["--cwd", cwd]
        if user:
            args += ["--user", user]
        for k, v in (env or {}).items():
            args += ["--env", f"{k}={v}"]
        args += [cid, *argv]
        master = None
        try:
            if tty:
                master, slave = os.openpty()
                try:
                    popen = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                                             start_new_session=True)
                finally:
                    os.close(slave)
            else:
                popen = subprocess.Popen(args, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True,
                                         start_new_session=True)
        except OSError as e:
            if master is not None:
                os.close(master)
            raise RuncError(f"cannot run runc exec: {e.strerror}") from e
        return ExecProcess(popen, master=master, pid_file=pid_file)

    def exec_sync(self, cid: str, argv: list[str], *, timeout: float | None = None,
                  input: bytes | None = None) -> ExecResult:
        """Run a command to completion (exec probes, postStart/preStop hooks): exit code and
        output; on timeout the process is killed and `timed_out` set."""
        proc = self.exec(cid, argv, stdin=input is not None)
        try:
            out, err = proc.popen.communicate(input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.popen.communicate()
            proc.close()
            return ExecResult(exit_code=137, stdout=out, stderr=err, timed_out=True)
        code = proc.wait()
        return ExecResult(exit_code=code, stdout=out, stderr=err)

    def stats(self, cid: str) -> CgroupStats:
        """cpu/memory usage from the container's cgroup (for metrics.k8s.io)."""
        return self.cgroups.stats(self.inspect(cid).cgroups_path)

    def attach_paths(self, cid: str) -> dict[str, str]:
        """FIFOs of an attachable container: `stdin` (write input; with stdinOnce the first writer
        closing ends the container's input) and `control` (tty: JSON lines `{"resize": [cols,
        rows]}`). Output is the log file (follow it)."""
        d = self._dir(cid)
        return {k: os.path.join(d, k) for k in ("stdin", "control") if os.path.exists(os.path.join(d, k))}

    def termination_message(self, cid: str) -> str:
        return self.inspect(cid).message
