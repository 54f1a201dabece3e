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
What is runc's is here: the bundle and its overlay root filesystem, the runc commands (create
through the shim, start, state, kill, delete, exec), the signal-readiness wait before a stop and
the cgroup of every container. The state files, waiting, stop/remove bookkeeping and exec
plumbing it shares with `runtime.process` are `runtime.supervised.SupervisedRuntime`, its base;
the shared records (`ContainerRequest`, `ContainerInfo`, `ExecProcess`, `ExecResult`,
`ContainerNotFound`, `UNKNOWN`) are defined there and imported from here by callers.
Errors: `RuncError` (temporary), `ContainerNotFound`, `SpecError` (permanent, from oci).
Do not make the agent a child subreaper: the shims would then re-parent to it and need reaping.
Neighbours: `runtime.supervised`, `runtime.oci`, `runtime.shim`, `runtime.cgroups`, `runtime.logs`,
`agent.images`.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from podplane.agent.images.spec import ImageSpec
from podplane.agent.runtime.cgroups import Cgroups, CgroupStats
from podplane.agent.runtime.oci import ContainerConfig, ContainerRuntimeError, SpecOptions, build_spec
from podplane.agent.runtime.supervised import (
    UNKNOWN,
    ContainerInfo,
    ContainerNotFound,
    ContainerRequest,
    ExecProcess,
    ExecResult,
    SupervisedRuntime,
    write_json,
)

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

RUNC_TIMEOUT = 30.0
SIGNAL_READY_WAIT = 2.0
"""Longest wait for a just-started init to be able to receive SIGTERM (see _await_signal_ready)."""
MNT_DETACH = 2


class RuncError(ContainerRuntimeError):
    """runc (or a mount, or the shim) failed: temporary, the pod worker retries."""

    temporary = True
    reason = "RunContainerError"


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


class RuncRuntime(SupervisedRuntime):
    """See the module docstring. One instance per agent; safe to use from several threads as
    long as one container is handled by one worker at a time (the pod workers' rule)."""

    name = "runc"
    config: RuncConfig
    error = RuncError
    container_subdirs = ("bundle", "rootfs", "upper", "work")
    shim_timeout = RUNC_TIMEOUT + 10
    exec_error = "cannot run runc exec"
    # stricter than the process runtime: an unreadable or incomplete state file is an error
    state_read_errors = (FileNotFoundError, NotADirectoryError, ValueError)
    list_skip_errors = (ContainerNotFound,)

    def __init__(self, config: RuncConfig, *, cgroups: Cgroups | None = None) -> None:
        super().__init__(config, cgroups or Cgroups.detect())
        self.runc_root = os.path.join(self.root, "runc")
        hidden = tuple(dict.fromkeys((*config.spec_options.host_masked_paths, *config.hidden_paths, self.root,
                                      os.path.abspath(config.log_dir))))
        self.spec_options = dataclasses.replace(config.spec_options, host_masked_paths=hidden)

    # --- helpers ----------------------------------------------------------------------------

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

    # --- create / start ---------------------------------------------------------------------

    def _prepare(self, req: ContainerRequest) -> None:
        if not shutil.which(self.config.runc):
            raise RuncError(f"{self.config.runc} not found: install the Debian package runc")
        os.makedirs(self.runc_root, exist_ok=True)

    def _setup(self, cid: str, d: str, req: ContainerRequest, *, log_path: str, cgroups_path: str,
               termination_log: str) -> dict:
        """The bundle (spec from `oci.build_spec`), the overlay root filesystem, then the shim,
        which runs `runc create`."""
        rootfs = os.path.join(d, "rootfs")
        spec = build_spec(ContainerConfig(
            pod=req.pod, container=req.container, image=req.image, sandbox=req.sandbox, rootfs=rootfs,
            cgroups_path=cgroups_path, mounts=req.mounts, env=req.env, termination_log_path=termination_log,
            init=req.init), self.spec_options)
        write_json(os.path.join(d, "meta.json"),
                   self._meta(cid, req, log_path=log_path, cgroups_path=cgroups_path, rootfs=rootfs))
        write_json(os.path.join(d, "bundle", "config.json"), spec)
        self._mount_rootfs(req.image, d)
        return self._start_shim(cid, d, req, log_path, cgroups_path)

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
        return self._run_shim(d, {
            "id": cid, "runc": shutil.which(self.config.runc) or self.config.runc, "runc_root": self.runc_root,
            "bundle": os.path.join(d, "bundle"), "pid_file": os.path.join(d, "init.pid"), "log_path": log_path,
            "oom_file": oom[0] if oom else "", "oom_key": oom[1] if oom else "",
            "tty": bool(c.get("tty")), "stdin": bool(c.get("stdin")), "stdin_once": bool(c.get("stdinOnce")),
            "console_socket": sock,
        })

    def start(self, cid: str) -> ContainerInfo:
        """`runc start`: run the user process (tini, then the command)."""
        d = self._dir(cid)
        if not os.path.isdir(d):
            raise ContainerNotFound(f"container {cid} not found")
        begun = time.time()  # the command may finish before `runc start` returns: never after its exit
        self._runc("start", cid)
        write_json(os.path.join(d, "started.json"), {"startedAt": begun})
        return self.inspect(cid)

    # --- state ------------------------------------------------------------------------------

    def _started_unrecorded(self, cid: str) -> bool:
        return self._runc_status(cid) == "running"

    def _runs_unsupervised(self, cid: str, status: dict) -> bool:
        return bool(int(status.get("pid") or 0)) and self._runc_status(cid) in ("running", "created", "paused")

    def _runc_status(self, cid: str) -> str:
        proc = self._runc("state", cid, check=False)
        if proc.returncode != 0:
            return ""
        try:
            return json.loads(proc.stdout).get("status", "")
        except ValueError:
            return ""

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

    def _await_term_ready(self, info: ContainerInfo, grace: float) -> bool:
        return _await_signal_ready(info.pid, signal.SIGTERM, min(grace, SIGNAL_READY_WAIT))

    def _end_processes(self, cid: str, status: dict) -> None:
        self._runc("delete", "--force", cid, check=False)  # kills init; the shim then records the exit

    def _release(self, cid: str, d: str, meta: dict) -> None:
        """The overlay mount, the cgroup, a console socket outside the directory."""
        rootfs = os.path.join(d, "rootfs")
        if _is_mounted(rootfs):
            _umount(rootfs)
        super()._release(cid, d, meta)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join("/tmp", f"podplane-{cid[:16]}.sock"))

    # --- exec / stats -----------------------------------------------------------------------

    def _exec_command(self, cid: str, d: str, pid_file: str, argv: list[str], *, tty: bool,
                      env: dict[str, str] | None, cwd: str | None, user: str | None) -> list[str]:
        """`runc exec`, which writes the exec'd process's pid to `pid_file`."""
        args = [self.config.runc, "--root", self.runc_root, "exec", "--pid-file", pid_file]
        if tty:
            args.append("--tty")
        if cwd:
            args += ["--cwd", cwd]
        if user:
            args += ["--user", user]
        for k, v in (env or {}).items():
            args += ["--env", f"{k}={v}"]
        return [*args, cid, *argv]

    def stats(self, cid: str) -> CgroupStats:
        """cpu/memory usage from the container's cgroup (for metrics.k8s.io)."""
        return self.cgroups.stats(self.inspect(cid).cgroups_path)
