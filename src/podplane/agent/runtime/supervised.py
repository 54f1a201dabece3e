"""SupervisedRuntime: what the two container backends share, containers supervised by a detached
shim with their state on disk.

`runtime.runc.RuncRuntime` (containers under runc) and `runtime.process.ProcessRuntime` (plain
host processes) both run every container under its own shim (`runtime.shim`, started detached:
never the agent's child, so the agent must not be a subreaper) and keep its state in
`<root>/containers/<id>/`: `meta.json` (written at create), `started.json` (at start), the
shim's input `shim.json` and its `status.json` (created, then exited with exit code, finishedAt
and OOM kill), `shim.log`, `termination-log`, `exec-*.pid` and the attach FIFOs `stdin` and
`control`. Adoption after an agent restart is reading these files.
`SupervisedRuntime`, their base class, holds everything that only needs those files or the
shim: `create` (the steps around the backend's `_setup`), `run`, `inspect`/`list`,
`exit_fd`/`wait` (a pidfd of the shim, which exits right after recording the exit), `stop`
(SIGTERM, then SIGKILL, through the backend's `kill`), `remove`/`remove_pod` (around the
backend's `_end_processes` and `_release`), `exec`/`exec_sync` (an `ExecProcess` around the
backend's `_exec_command`), `attach_paths`, `termination_message` and the pods' cgroup paths.
A backend adds its error class (`error`), `version`, `start`, `kill`, `stats` and those hooks.
Also here: the records both backends use (`ContainerRequest`, `ContainerInfo`, `ExecProcess`,
`ExecResult`, `ContainerNotFound`, `UNKNOWN`; callers import them from `runtime.runc`) and the
JSON helpers for the state files. Every call is blocking and short (`asyncio.to_thread`).
Neighbours: `runtime.runc`, `runtime.process`, `runtime.shim`, `runtime.cgroups`, `runtime.logs`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import IO, Any

from podplane.agent.images.spec import ImageSpec
from podplane.agent.runtime import CREATED, EXITED, RUNNING, ContainerStatus
from podplane.agent.runtime.cgroups import CgroupError, Cgroups
from podplane.agent.runtime.logs import container_log_path, pod_log_dir, read_log
from podplane.agent.runtime.oci import ContainerRuntimeError, Mount, SandboxConfig, qos_class
from podplane.agent.runtime.shim import process_start_time

__all__ = [
    "UNKNOWN",
    "ContainerInfo",
    "ContainerNotFound",
    "ContainerRequest",
    "ExecProcess",
    "ExecResult",
    "SupervisedRuntime",
    "alive",
    "read_json",
    "write_json",
]

UNKNOWN = "unknown"
"""State of a container whose shim died before recording an exit."""
KILL_WAIT = 10.0
"""After SIGKILL, how long to wait for the exit to be recorded."""
TERM_RETRY_AFTER = 1.0
"""Seconds after a SIGTERM that may have been dropped before it is sent once more."""
MAX_TERMINATION_MESSAGE = 4096
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048


class ContainerNotFound(ContainerRuntimeError):
    """No container with this id (never created, or removed)."""


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
        """`runc://<id>`; `process.ProcessContainerInfo` says `process://`."""
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
    """A running exec: `runc exec`, or the process runtime's exec helper (which becomes the
    command). Without tty: `stdin`/`stdout`/`stderr` are pipes (stdin None unless requested).
    With tty: `master` is the pty master fd (read output, write input), `resize(cols, rows)`
    changes the window. `wait()` returns the exit code."""

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


def write_json(path: str, doc: dict) -> None:
    """Replace `path` atomically (a reader sees the old document or the new one)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)


def read_json(path: str, errors: tuple[type[Exception], ...] = (OSError, ValueError)) -> dict | None:
    """The document at `path`; None when reading or parsing it raises one of `errors`."""
    try:
        with open(path) as f:
            return json.load(f)
    except errors:
        return None


def alive(pid: int, start: object) -> bool:
    """`pid` is the process that started at `start` (clock ticks), not a reused number."""
    return bool(pid) and start is not None and process_start_time(pid) == start


class SupervisedRuntime:
    """Base of `RuncRuntime` and `ProcessRuntime` (see the module docstring), not a runtime by
    itself. One instance per agent; safe to use from several threads as long as one container
    is handled by one worker at a time (the pod workers' rule)."""

    name = ""
    error: type[ContainerRuntimeError]
    """The backend's temporary error (`RuncError`, `ProcessError`)."""
    info_type: type[ContainerInfo] = ContainerInfo
    """What `inspect` returns (its `container_id` names the runtime)."""
    container_subdirs: tuple[str, ...]
    """Made in the container's directory before `_setup`."""
    shim_timeout: float
    """Longest wait for a new shim to report the container created."""
    exec_error: str
    """How an `exec` that could not be started is reported (then `: <strerror>`)."""
    state_read_errors: tuple[type[Exception], ...] = (OSError, ValueError)
    """What makes a state file count as absent (`_read_state` → None) instead of failing."""
    list_skip_errors: tuple[type[Exception], ...] = (ContainerNotFound, KeyError, ValueError)
    """What makes `list` pass over a container instead of failing."""

    def __init__(self, config: Any, cgroups: Cgroups) -> None:
        """`config`: a RuncConfig or ProcessConfig (root, log_dir, cgroup_parent, python)."""
        self.config = config
        self.root = os.path.abspath(config.root)
        self.containers_dir = os.path.join(self.root, "containers")
        self.cgroups = cgroups
        self._shim_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim.py")
        self._version: str | None = None

    # --- helpers ----------------------------------------------------------------------------

    def _dir(self, cid: str) -> str:
        if not cid or "/" in cid or cid.startswith("."):
            raise ContainerNotFound(f"invalid container id {cid!r}")
        return os.path.join(self.containers_dir, cid)

    def _read_state(self, d: str, name: str) -> dict | None:
        """A state file (`meta.json`, `status.json`, ...) of the container directory `d`."""
        return read_json(os.path.join(d, name), self.state_read_errors)

    def _container(self, cid: str) -> tuple[str, dict, dict]:
        """(directory, meta.json, status.json or {}) of a container; raises ContainerNotFound."""
        d = self._dir(cid)
        meta = self._read_state(d, "meta.json")
        if meta is None:
            raise ContainerNotFound(f"container {cid} not found")
        return d, meta, self._read_state(d, "status.json") or {}

    def cgroup_path(self, pod: dict, cid: str) -> str:
        return f"{self.pod_cgroup_path(pod)}/{cid}"

    def pod_cgroup_path(self, pod: dict) -> str:
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        tier = {"Guaranteed": "", "Burstable": "burstable/", "BestEffort": "besteffort/"}[qos_class(pod)]
        return f"{self.config.cgroup_parent.rstrip('/')}/{tier}pod{uid}"

    def _remove_cgroup(self, cgroups_path: str) -> None:
        if not cgroups_path:
            return
        try:
            self.cgroups.remove(cgroups_path)
        except CgroupError as e:
            raise self.error(str(e)) from e

    # --- create / start ---------------------------------------------------------------------

    def create(self, req: ContainerRequest) -> ContainerInfo:
        """Prepare a container and start its shim; the command does not run before `start`.
        Raises SpecError (bad pod/image: permanent), the backend's error (temporary) and what
        its `_prepare` adds. Nothing is left behind on failure."""
        meta_pod = req.pod.get("metadata") or {}
        uid = str(meta_pod.get("uid") or "")
        if not uid:
            raise self.error("pod has no uid")
        self._prepare(req)
        cid = secrets.token_hex(32)
        d = self._dir(cid)
        cgroups_path = self._container_cgroup_path(req.pod, cid)
        log_path = req.log_path or container_log_path(
            pod_log_dir(self.config.log_dir, str(meta_pod.get("namespace") or ""), str(meta_pod.get("name") or ""),
                        uid), req.container["name"], req.attempt)
        for sub in self.container_subdirs:
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        try:
            termination_log = os.path.join(d, "termination-log")
            with open(termination_log, "w"):
                pass
            os.chmod(termination_log, 0o666)
            status = self._setup(cid, d, req, log_path=log_path, cgroups_path=cgroups_path,
                                 termination_log=termination_log)
        except BaseException:
            with contextlib.suppress(Exception):
                self.remove(cid)
            raise
        if status.get("status") != "created":
            with contextlib.suppress(Exception):
                self.remove(cid)
            raise self.error(f"cannot create container {req.container['name']}: {status.get('error', 'unknown')}")
        return self.inspect(cid)

    def _prepare(self, req: ContainerRequest) -> None:
        """Before anything is written: refuse what this backend cannot run."""

    def _container_cgroup_path(self, pod: dict, cid: str) -> str:
        """The container's cgroup, "" for none."""
        return self.cgroup_path(pod, cid)

    def _setup(self, cid: str, d: str, req: ContainerRequest, *, log_path: str, cgroups_path: str,
               termination_log: str) -> dict:
        """Write `meta.json` (`_meta`) and whatever else the backend needs, start the shim
        (`_run_shim`) and return its report (`{"status": "created", ...}` or an error)."""
        raise NotImplementedError

    def _meta(self, cid: str, req: ContainerRequest, *, log_path: str, cgroups_path: str, rootfs: str) -> dict:
        """The `meta.json` of a new container (what `inspect` reads back)."""
        meta_pod = req.pod.get("metadata") or {}
        return {
            "id": cid, "podUID": str(meta_pod.get("uid") or ""), "namespace": meta_pod.get("namespace") or "",
            "podName": meta_pod.get("name") or "", "name": req.container["name"], "attempt": req.attempt,
            "image": req.image.ref, "imageID": req.image.image_id, "init": req.init, "createdAt": time.time(),
            "logPath": log_path, "cgroupsPath": cgroups_path, "rootfs": rootfs,
            "terminationMessagePolicy": req.container.get("terminationMessagePolicy") or "File",
        }

    def _run_shim(self, d: str, shim_doc: dict) -> dict:
        """Write `shim.json`, start the shim (detached, in its own session) and return the JSON
        line it reports once the container is created (or failed)."""
        write_json(os.path.join(d, "shim.json"), shim_doc)
        with open(os.path.join(d, "shim.log"), "ab") as shim_log:
            try:
                proc = subprocess.Popen([self.config.python, "-I", "-S", self._shim_path, d],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=shim_log,
                                        start_new_session=True, close_fds=True, cwd="/")
            except OSError as e:
                raise self.error(f"cannot start the container shim: {e.strerror}") from e
        try:
            out, _ = proc.communicate(timeout=self.shim_timeout)
        except subprocess.TimeoutExpired as e:
            proc.kill()
            proc.wait()
            raise self.error("the container shim did not report back in time") from e
        lines = out.decode(errors="replace").strip().splitlines()
        try:
            return json.loads(lines[-1]) if lines else {"status": "failed", "error": self._shim_log_tail(d)}
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

    def run(self, req: ContainerRequest) -> ContainerInfo:
        """create + start."""
        info = self.create(req)
        try:
            return self.start(info.id)
        except BaseException:
            with contextlib.suppress(Exception):
                self.remove(info.id)
            raise

    def start(self, cid: str) -> ContainerInfo:
        raise NotImplementedError

    # --- state ------------------------------------------------------------------------------

    @staticmethod
    def _shim_alive(status: dict | None) -> bool:
        if not status or not status.get("shimPid"):
            return False
        return alive(int(status["shimPid"]), status.get("shimStart"))

    def inspect(self, cid: str) -> ContainerInfo:
        """The container's state now; raises ContainerNotFound."""
        d, meta, status = self._container(cid)
        started = self._read_state(d, "started.json") or {}
        # the process shim records the start too: it survives an agent dying between the two writes
        started_at = float(started.get("startedAt") or status.get("startedAt") or 0.0)
        kw = dict(id=cid, pod_uid=meta["podUID"], namespace=meta["namespace"], pod_name=meta["podName"],
                  name=meta["name"], attempt=int(meta["attempt"]), image=meta["image"], image_id=meta["imageID"],
                  init=bool(meta.get("init")), created_at=float(meta["createdAt"]), started_at=started_at,
                  log_path=meta["logPath"], cgroups_path=meta["cgroupsPath"], pid=int(status.get("pid") or 0))
        info = self.info_type
        st = status.get("status")
        if st == "exited":
            code = int(status.get("exitCode", 255))
            oom = bool(status.get("oomKilled"))
            reason = "OOMKilled" if oom else ("Completed" if code == 0 else "Error")
            return info(**kw, state=EXITED, finished_at=float(status.get("finishedAt") or 0.0),
                        exit_code=code, signal=int(status.get("signal") or 0), reason=reason,
                        message=self._termination_message(d, meta, code))
        if st == "created" and self._shim_alive(status):
            if not started_at and self._started_unrecorded(cid):
                # started, but the agent stopped before recording when: creation time is the best bound
                started_at = kw["started_at"] = float(meta["createdAt"])
            return info(**kw, state=RUNNING if started_at else CREATED)
        if st in (None, "created") and not status.get("shimPid"):
            return info(**kw, state=CREATED)  # shim still starting
        # The shim is gone without recording an exit: the exit code is lost.
        if self._runs_unsupervised(cid, status):
            return info(**kw, state=UNKNOWN, message="the container's shim died; it runs unsupervised")
        return info(**kw, state=EXITED, exit_code=137, reason="ContainerStatusUnknown",
                    finished_at=started_at or float(meta["createdAt"]),
                    message=status.get("error") or "The container's exit code was lost (its shim died)")

    def _started_unrecorded(self, cid: str) -> bool:
        """A supervised container without a start time: did it start all the same?"""
        return False

    def _runs_unsupervised(self, cid: str, status: dict) -> bool:
        """The shim is gone without recording an exit: does the container still run?"""
        raise NotImplementedError

    def _termination_message(self, d: str, meta: dict, code: int) -> str:
        try:
            with open(os.path.join(d, "termination-log"), "rb") as f:
                msg = f.read(MAX_TERMINATION_MESSAGE).decode(errors="replace")
        except OSError:
            msg = ""
        if not msg and code != 0 and meta.get("terminationMessagePolicy") == "FallbackToLogsOnError":
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
            except self.list_skip_errors:
                continue
            if pod_uid is None or info.pod_uid == pod_uid:
                out.append(info)
        out.sort(key=lambda i: (i.created_at, i.id))
        return out

    def exit_fd(self, cid: str) -> int | None:
        """A pidfd that turns readable when the container's exit has been recorded (the shim
        exits right after), for `loop.add_reader`; None when already exited or unsupervised.
        The caller closes it."""
        status = self._read_state(self._dir(cid), "status.json") or {}
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
        raise NotImplementedError

    def stop(self, cid: str, grace: float) -> ContainerInfo:
        """SIGTERM to the main process, then SIGKILL to every process after `grace` seconds;
        returns the exited state."""
        info = self.inspect(cid)
        if info.state == EXITED:
            return info
        if info.state == RUNNING and grace > 0:
            deadline = time.monotonic() + grace
            ready = self._await_term_ready(info, grace)
            if self.kill(cid, signal.SIGTERM):
                if not ready:
                    # the init process had not taken over its signals yet (a very busy machine, a
                    # container stopped right after its start): a namespace's PID 1 drops a
                    # signal it does not handle, so send it again once it can be taken
                    info = self.wait(cid, min(TERM_RETRY_AFTER, grace))
                    left = deadline - time.monotonic()
                    if info.state != EXITED and left > 0 and self._await_term_ready(info, left):
                        self.kill(cid, signal.SIGTERM)
                info = self.wait(cid, max(0.0, deadline - time.monotonic()))
                if info.state == EXITED:
                    return info
        self.kill(cid, signal.SIGKILL, all_processes=True)
        info = self.wait(cid, KILL_WAIT)
        deadline = time.monotonic() + KILL_WAIT
        while info.state == UNKNOWN and time.monotonic() < deadline:
            # no shim to report the exit: watch the process itself (runc's view of it, with runc)
            time.sleep(0.02)
            info = self.inspect(cid)
        if info.state in (RUNNING, CREATED, UNKNOWN):
            raise self.error(f"container {info.name} did not exit after SIGKILL")
        return info

    def _await_term_ready(self, info: ContainerInfo, grace: float) -> bool:
        """Before the SIGTERM of `stop`: wait (within `grace`) until it cannot be lost; False
        when that could not be seen in time (the SIGTERM is then sent again later)."""
        return True

    def remove(self, cid: str) -> None:
        """Kill what is left and delete everything of the container but its log file;
        a missing container is fine."""
        d = self._dir(cid)
        if not os.path.isdir(d):
            return
        meta = self._read_state(d, "meta.json") or {}
        status = self._read_state(d, "status.json") or {}
        self._end_processes(cid, status)
        if self._shim_alive(status):
            # the main process is dead: the shim records the exit and leaves once the output is drained
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
        self._release(cid, d, meta)
        shutil.rmtree(d, ignore_errors=True)
        if os.path.isdir(d):
            raise self.error(f"cannot remove {d}")

    def _end_processes(self, cid: str, status: dict) -> None:
        """First step of `remove`: kill whatever of the container still runs."""
        raise NotImplementedError

    def _release(self, cid: str, d: str, meta: dict) -> None:
        """Step of `remove` once the shim is gone, before the directory is deleted."""
        self._remove_cgroup(meta.get("cgroupsPath") or "")

    def remove_pod(self, pod: dict) -> None:
        """Remove every container of a pod, then its pod-level cgroup (all QoS tiers)."""
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        for info in self.list(uid):
            self.remove(info.id)
        if not self._owns_pod_cgroups(uid):
            return
        parent = self.config.cgroup_parent.rstrip("/")
        for tier in ("", "burstable/", "besteffort/"):
            self._remove_cgroup(f"{parent}/{tier}pod{uid}")

    def _owns_pod_cgroups(self, uid: str) -> bool:
        return True

    # --- exec -------------------------------------------------------------------------------

    def exec(self, cid: str, argv: list[str], *, tty: bool = False, stdin: bool = False,
             env: dict[str, str] | None = None, cwd: str | None = None, user: str | None = None
             ) -> ExecProcess:
        """Start `argv` inside a running container (how: the backend's `_exec_command`). See
        ExecProcess."""
        info = self.inspect(cid)
        if info.state != RUNNING:
            raise self.error(f"container {info.name} is not running")
        if not argv:
            raise self.error("exec needs a command")
        d = self._dir(cid)
        pid_file = os.path.join(d, f"exec-{secrets.token_hex(6)}.pid")
        args = self._exec_command(cid, d, pid_file, argv, tty=tty, env=env, cwd=cwd, user=user)
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
            raise self.error(f"{self.exec_error}: {e.strerror}") from e
        self._exec_started(popen, pid_file)
        return ExecProcess(popen, master=master, pid_file=pid_file)

    def _exec_command(self, cid: str, d: str, pid_file: str, argv: list[str], *, tty: bool,
                      env: dict[str, str] | None, cwd: str | None, user: str | None) -> list[str]:
        """The command line that runs `argv` in the container; `pid_file` is to get the pid of
        the exec'd process."""
        raise NotImplementedError

    def _exec_started(self, popen: subprocess.Popen, pid_file: str) -> None:
        """Right after the exec command started."""

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

    def attach_paths(self, cid: str) -> dict[str, str]:
        """FIFOs of an attachable container: `stdin` (write input; with stdinOnce the first writer
        closing ends the container's input) and `control` (tty: JSON lines `{"resize": [cols,
        rows]}`). Output is the log file (follow it)."""
        d = self._dir(cid)
        return {k: os.path.join(d, k) for k in ("stdin", "control") if os.path.exists(os.path.join(d, k))}

    def termination_message(self, cid: str) -> str:
        return self.inspect(cid).message
