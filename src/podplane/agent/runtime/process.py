"""ProcessRuntime: containers as plain host processes, for unprivileged development machines.

Same interface as `runtime.runc.RuncRuntime` (create/start/run, inspect/list, exit_fd/wait,
kill/stop, remove/remove_pod, exec/exec_sync, stats, attach_paths, termination_message,
version; the same request, info, exec and error types), so `runtime.runc_pods` can drive it
instead. Each container still gets its own detached supervisor (`runtime.shim` in its process
mode, never a child of the agent, which must not be a subreaper): the shim forks the command,
writes the CRI log file (`runtime.logs`), records the exit in `status.json`, and kills what the
command left behind when it exits; containers survive an agent restart and are re-adopted by
reading <root>/containers/<id>/{meta,started,status,shim}.json, as with runc. That shared part
(state files, inspect/list, wait, stop/remove bookkeeping, exec plumbing) is
`runtime.supervised.SupervisedRuntime`, the base of both runtimes; this module adds what makes a
process container: its process spec for the shim (command, env, user, chroot and private mount
namespace), the start gate, signals sent to its processes directly, the cgroup decisions and
/proc-based stats.
What a process container gets (see LIMITATIONS for what it does not):
- command and env as the runc runtime computes them (`oci.command_line`, `oci.merged_env`),
  HOME from the user's passwd entry when unset; the working dir is a host path for host images;
- volumes: every mount's host path is exported as `PODPLANE_MOUNT_<DESTINATION>` (`/etc/config` →
  `PODPLANE_MOUNT_ETC_CONFIG`) and the termination message file as
  `PODPLANE_TERMINATION_MESSAGE_PATH`; when the agent is root they are also bind-mounted at their
  destinations in a private mount namespace (rslave: host mounts still appear), together with the
  pod's hosts/resolv.conf/hostname files; a missing mount point is created on the host (an empty
  directory or file, left there, as `docker run -v` does); mountPropagation is not honoured;
- imported OCI images only when root: chroot into an overlay of the image layers plus a private
  upper dir, with /proc, a /dev of its own (tmpfs: null, zero, random, tty, a new devpts, shm) and
  a read-only /sys, all mounted inside the container's mount namespace (gone with the container);
  unprivileged only host images run (`UnsupportedImage` otherwise);
- runAsUser/runAsGroup/supplementalGroups when root (`oci.resolve_user`); unprivileged every
  container runs as the agent's user;
- resources: when the agent can write cgroups (probed at construction), the container's group
  `<cgroup_parent>/[tier/]pod<uid>/<id>` gets the memory limit (→ OOMKilled) and cpu shares and
  quota, and `stats` reads it; otherwise no limits and `stats` sums /proc over the process tree;
- network: none of its own (the host's; `SandboxConfig.netns_path` is ignored).
Neighbours: `runtime.supervised` (shared base, types and state-file helpers), `runtime.shim`
(supervisor and exec helper), `runtime.oci`, `runtime.cgroups`, `runtime.logs`, `runtime.runc`
(RuncError), `agent.images` (ImageSpec).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import posixpath
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from podplane.agent.images.spec import HOST, ImageSpec
from podplane.agent.runtime import RUNNING
from podplane.agent.runtime.cgroups import Cgroups, CgroupStats
from podplane.agent.runtime.oci import (
    ContainerRuntimeError,
    SpecError,
    command_line,
    container_env,
    cpu_resources,
    memory_limit,
    merged_env,
    oom_score_adj,
    resolve_user,
)
from podplane.agent.runtime.runc import RuncError
from podplane.agent.runtime.shim import START_SIGNAL, descendants
from podplane.agent.runtime.supervised import (
    UNKNOWN,
    ContainerInfo,
    ContainerNotFound,
    ContainerRequest,
    SupervisedRuntime,
    alive,
    write_json,
)

__all__ = [
    "LIMITATIONS",
    "MOUNT_ENV_PREFIX",
    "TERMINATION_MESSAGE_ENV",
    "ProcessConfig",
    "ProcessContainerInfo",
    "ProcessError",
    "ProcessRuntime",
    "UnsupportedImage",
    "mount_env_name",
]

log = logging.getLogger(__name__)

LIMITATIONS = """\
The `process` container runtime runs containers as plain host processes. It does NOT isolate:
- PID: containers see and can signal every process of the host; there is no PID namespace and no
  init (the command itself is the container's main process);
- mounts/filesystem: host images run on the host's / (their paths are host paths, their writes
  change the host); volumes are bind-mounted (private mount namespace) only when the agent is root
  (a mount point missing on the host, /dev/termination-log say, is created there, empty); always,
  a container finds each volume through PODPLANE_MOUNT_<PATH> environment variables and its
  termination message file through PODPLANE_TERMINATION_MESSAGE_PATH; imported OCI images run
  only when the agent is root (chroot into an overlay, which is no security boundary);
- network: every pod uses the host's network: the pod IP is the host IP, ports of different pods
  collide, NetworkPolicy does nothing;
- IPC and UTS: host System V IPC, POSIX message queues, shared memory and hostname;
- users: runAsUser/runAsGroup apply only when the agent is root (unprivileged, every container runs
  as the agent's user); capabilities, seccomp, AppArmor/SELinux and no_new_privs are not applied
  (a container running as root is root on the host);
- resources: memory and CPU limits are applied through cgroups only when the agent can write
  them; unprivileged there are no limits (and no OOMKilled) and usage is read from /proc.
Use it on development machines only."""
"""What the process runtime does not isolate; logged once when a runtime is built, for the agent
to print at start as well."""

MOUNT_ENV_PREFIX = "PODPLANE_MOUNT_"
TERMINATION_MESSAGE_ENV = "PODPLANE_TERMINATION_MESSAGE_PATH"
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
SHIM_TIMEOUT = 30.0
START_TIMEOUT = 10.0
"""Longest wait for the shim to confirm a start (it answers within milliseconds)."""
_OCI_DEFAULT_MOUNTS = [
    {"destination": "/proc", "type": "proc"},
    # a /dev of its own (never the host's: mount points must not appear there), as runc makes it
    {"destination": "/dev", "type": "tmpfs", "data": "mode=755,size=65536k"},
    *({"destination": f"/dev/{n}", "type": "bind", "source": f"/dev/{n}"}
      for n in ("null", "zero", "full", "random", "urandom", "tty")),
    {"destination": "/dev/pts", "type": "devpts", "data": "newinstance,ptmxmode=0666,mode=0620"},
    {"destination": "/dev/ptmx", "type": "symlink", "source": "pts/ptmx"},
    {"destination": "/dev/shm", "type": "tmpfs", "data": "mode=1777,size=65536k"},
    *({"destination": f"/dev/{name}", "type": "symlink", "source": f"/proc/self/fd{suffix}"}
      for name, suffix in (("fd", ""), ("stdin", "/0"), ("stdout", "/1"), ("stderr", "/2"))),
    {"destination": "/sys", "type": "bind", "source": "/sys", "readOnly": True},
]
"""The root filesystem of a chrooted (OCI image) container, before the pod's files and volumes."""
CGROUP_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids")
"""The v1 controllers a process container joins (cpuset would need cpus/mems set first)."""


class ProcessError(RuncError):
    """The shim, a cgroup or the process setup failed: temporary, the pod worker retries. A
    `RuncError` so that callers written for `RuncRuntime` handle it alike."""


class UnsupportedImage(ContainerRuntimeError):
    """An imported OCI image on an unprivileged agent: permanent until the pod or the agent changes."""

    reason = "CreateContainerError"


@dataclass(frozen=True)
class ProcessConfig:
    """Where the runtime keeps things (defaults explained). Field names match `RuncConfig`'s."""

    root: str
    """State directory, e.g. `<data-dir>/process`; must survive agent restarts."""
    log_dir: str
    """Root of the CRI log files (`<data-dir>/pods`)."""
    cgroup_parent: str = "/podplane"
    python: str = sys.executable
    """Interpreter for the shims and the exec helper (standard library only)."""
    use_cgroups: bool | None = None
    """None: use cgroups when writable; True: require them; False: never (no limits)."""
    node_memory_bytes: int | None = None
    """For Burstable containers' oom_score_adj, as `SpecOptions.node_memory_bytes`."""


@dataclass(frozen=True)
class ProcessContainerInfo(ContainerInfo):
    """A `ContainerInfo` whose containerID says which runtime runs it."""

    @property
    def container_id(self) -> str:
        return f"process://{self.id}"


def mount_env_name(destination: str) -> str:
    """`/etc/config` → `PODPLANE_MOUNT_ETC_CONFIG` (every other character becomes `_`)."""
    return MOUNT_ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", posixpath.normpath(destination).strip("/")).upper()


def _write(path: str, value: object) -> None:
    with open(path, "w") as f:
        f.write(str(value))


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        return int(data[data.rfind(b")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _home(image: ImageSpec, uid: int) -> str:
    for line in (image.read_file("/etc/passwd") or b"").decode("utf-8", "replace").splitlines():
        parts = line.split(":")
        if len(parts) >= 7 and parts[2] == str(uid):
            return parts[5] or "/"
    return "/"


def _proc_stats(pids: list[int], init_pid: int) -> CgroupStats:
    """Usage of a process tree from /proc: cpu time of the live processes (plus the children the
    init already reaped), resident memory (shared pages counted once per process)."""
    ticks = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    cpu_ticks = rss = count = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                data = f.read()
            with open(f"/proc/{pid}/statm") as f:
                resident = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        fields = data[data.rfind(b")") + 2:].split()
        if fields[:1] == [b"Z"]:
            continue
        cpu_ticks += int(fields[11]) + int(fields[12])
        if pid == init_pid:
            cpu_ticks += int(fields[13]) + int(fields[14])
        rss += resident * page
        count += 1
    return CgroupStats(timestamp=time.time(), cpu_usage_ns=cpu_ticks * 1_000_000_000 // ticks,
                       memory_usage_bytes=rss, memory_working_set_bytes=rss, memory_rss_bytes=rss, oom_kills=0,
                       pids=count)


class ProcessRuntime(SupervisedRuntime):
    """See the module docstring. One instance per agent; thread-safe under the pod workers' rule
    (one container handled by one worker at a time)."""

    name = "process"
    LIMITATIONS = LIMITATIONS
    config: ProcessConfig
    error = ProcessError
    info_type = ProcessContainerInfo
    container_subdirs = ("bundle",)
    shim_timeout = SHIM_TIMEOUT + 70
    exec_error = "cannot start the exec helper"

    def __init__(self, config: ProcessConfig, *, cgroups: Cgroups | None = None) -> None:
        if cgroups is None:
            try:
                cgroups = Cgroups.detect()
            except OSError:
                cgroups = Cgroups()
        super().__init__(config, cgroups)
        self.privileged = os.geteuid() == 0
        why_not = self._probe_cgroups()
        if why_not and config.use_cgroups:
            raise ProcessError(f"the process runtime was told to use cgroups, but {why_not}")
        self.uses_cgroups = not why_not
        here = [f"this agent runs as uid {os.geteuid()}: "
                + ("volumes are bind-mounted, runAsUser and OCI images work" if self.privileged else
                   "no bind mounts (env vars only), no runAsUser, host images only"),
                "resource limits: " + ("cgroups under " + config.cgroup_parent if self.uses_cgroups
                                       else f"none ({why_not})")]
        self.host_summary = "; ".join(here)
        log.warning("%s\nOn this node: %s.", LIMITATIONS, self.host_summary)

    # --- helpers ----------------------------------------------------------------------------

    def version(self) -> str:
        """podplane's version (the runtime is part of it), for the node's containerRuntimeVersion."""
        if self._version is None:
            try:
                from importlib.metadata import version

                self._version = version("podplane")
            except Exception:
                self._version = "0.0.0"
        return self._version

    # --- cgroups ----------------------------------------------------------------------------

    def _cgroup_dirs(self, cgroups_path: str) -> list[str]:
        if self.cgroups.version == 2:
            return [self.cgroups.path("memory", cgroups_path) or ""] if self.cgroups.unified else []
        out: list[str] = []
        for controller in CGROUP_CONTROLLERS:
            p = self.cgroups.path(controller, cgroups_path)
            if p and p not in out:
                out.append(p)
        return out

    def _probe_cgroups(self) -> str:
        """"" when containers can get cgroups under the parent, else why not."""
        if self.config.use_cgroups is False:
            return "disabled in the configuration"
        if self.cgroups.version == 1 and "memory" not in self.cgroups.mounts:
            return "no memory cgroup controller is mounted"
        dirs = self._cgroup_dirs(self.config.cgroup_parent)
        if not dirs:
            return "no cgroup hierarchy is mounted"
        try:
            for d in dirs:
                os.makedirs(d, exist_ok=True)
                if not os.access(os.path.join(d, "cgroup.procs"), os.W_OK):
                    return f"{d} is not writable"
        except OSError as e:
            return f"cgroups are not writable ({e.strerror})"
        return ""

    def _enable_v2_controllers(self, cgroups_path: str) -> None:
        cur = self.cgroups.unified or "/sys/fs/cgroup"
        for part in cgroups_path.strip("/").split("/"):
            for controller in ("cpu", "memory", "pids"):
                with contextlib.suppress(OSError):
                    _write(os.path.join(cur, "cgroup.subtree_control"), f"+{controller}")
            cur = os.path.join(cur, part)
            os.makedirs(cur, exist_ok=True)

    def _make_cgroup(self, cgroups_path: str, container: dict) -> list[str]:
        """Create the container's group with its limits; the cgroup.procs files to join."""
        try:
            if self.cgroups.version == 2:
                self._enable_v2_controllers(cgroups_path)
            dirs = self._cgroup_dirs(cgroups_path)
            for d in dirs:
                os.makedirs(d, exist_ok=True)
            cpu = cpu_resources(container)
            mem = memory_limit(container)
            if self.cgroups.version == 2:
                d = dirs[0]
                _write(os.path.join(d, "cpu.weight"), 1 + ((cpu["shares"] - 2) * 9999) // 262142)
                if "quota" in cpu:
                    _write(os.path.join(d, "cpu.max"), f"{cpu['quota']} {cpu['period']}")
                if mem:
                    _write(os.path.join(d, "memory.max"), mem)
                    with contextlib.suppress(OSError):
                        _write(os.path.join(d, "memory.swap.max"), 0)
            else:
                cdir = self.cgroups.path("cpu", cgroups_path)
                if cdir:
                    _write(os.path.join(cdir, "cpu.shares"), cpu["shares"])
                    if "quota" in cpu:
                        _write(os.path.join(cdir, "cpu.cfs_period_us"), cpu["period"])
                        _write(os.path.join(cdir, "cpu.cfs_quota_us"), cpu["quota"])
                mdir = self.cgroups.path("memory", cgroups_path)
                if mem and mdir:
                    _write(os.path.join(mdir, "memory.limit_in_bytes"), mem)
                    with contextlib.suppress(OSError):  # no swap accounting: nothing to limit
                        _write(os.path.join(mdir, "memory.memsw.limit_in_bytes"), mem)
        except OSError as e:
            raise ProcessError(f"cannot set up cgroup {cgroups_path}: {e.strerror}") from e
        return [os.path.join(d, "cgroup.procs") for d in dirs]

    # --- create / start ---------------------------------------------------------------------

    def _process_spec(self, req: ContainerRequest, d: str, termination_log: str) -> dict:
        """What the shim needs to set the process up (see `shim._enter`). Raises SpecError."""
        c, image, pod = req.container, req.image, req.pod
        for m in req.mounts:
            if not m.destination.startswith("/"):
                raise SpecError(f"mount path {m.destination!r} must be absolute")
        own = container_env(c, req.env)
        extra = [(mount_env_name(m.destination), m.source) for m in req.mounts]
        extra.append((TERMINATION_MESSAGE_ENV, termination_log))
        expansion = dict(extra)
        expansion.update(own)
        argv = command_line(c, image, expansion)
        env = merged_env(image, extra + own, req.sandbox.hostname)
        cwd = c.get("workingDir") or image.working_dir or "/"
        if not cwd.startswith("/"):
            raise SpecError(f"workingDir {cwd!r} must be an absolute path")
        user = None
        if self.privileged:
            u = resolve_user(pod, c, image)
            user = {"uid": u.uid, "gid": u.gid, "additionalGids": list(u.additional_gids)}
            home = _home(image, u.uid)
        else:  # everything runs as the agent's (non-root) user: runAsNonRoot holds, runAsUser cannot
            home = os.path.expanduser("~")
        if not any(kv.startswith("HOME=") for kv in env):
            env.append(f"HOME={home}")
        root = overlay = ""
        mounts: list[dict] = []
        if self.privileged:
            if image.kind != HOST:
                root = os.path.join(d, "rootfs")
                for sub in ("rootfs", "upper", "work"):
                    os.makedirs(os.path.join(d, sub), exist_ok=True)
                for p in image.lower_dirs:
                    if not os.path.isdir(p):
                        raise ProcessError(f"image {image.ref} is incomplete: layer directory {p} is missing")
                overlay = f"lowerdir={':'.join(image.lower_dirs)},upperdir={d}/upper,workdir={d}/work"
                if len(overlay) > 4000:
                    raise ProcessError(f"image {image.ref} has too many layers for one overlay mount")
                mounts += _OCI_DEFAULT_MOUNTS
            dests = {posixpath.normpath(m.destination) for m in req.mounts}
            sb = req.sandbox
            files = [("/etc/hosts", sb.hosts_path), ("/etc/hostname", sb.hostname_path),
                     ("/etc/resolv.conf", sb.resolv_conf_path),
                     (c.get("terminationMessagePath") or DEFAULT_TERMINATION_MESSAGE_PATH, termination_log)]
            for dest, src in files:
                if src and posixpath.normpath(dest) not in dests:
                    mounts.append({"destination": posixpath.normpath(dest), "type": "bind", "source": src})
            for m in sorted(req.mounts, key=lambda m: posixpath.normpath(m.destination).count("/")):
                mounts.append({"destination": posixpath.normpath(m.destination), "type": "bind", "source": m.source,
                               "readOnly": m.read_only})
        return {"args": argv, "env": env, "cwd": cwd, "user": user, "root": root, "overlay": overlay,
                "privateMounts": self.privileged, "mounts": mounts, "cgroupProcs": [],
                "oomScoreAdj": oom_score_adj(pod, c, self.config.node_memory_bytes)}

    def _prepare(self, req: ContainerRequest) -> None:
        """Refuse an imported OCI image unless root (`UnsupportedImage`: permanent)."""
        if req.image.kind != HOST and not self.privileged:
            raise UnsupportedImage(
                f"image {req.image.ref} is an imported OCI image: the process runtime runs those only when the "
                f"agent is root (chroot into an overlay); unprivileged, only host images work (the host-image "
                f"catalog maps well-known images to programs installed on this machine)")

    def _container_cgroup_path(self, pod: dict, cid: str) -> str:
        return self.cgroup_path(pod, cid) if self.uses_cgroups else ""

    def _setup(self, cid: str, d: str, req: ContainerRequest, *, log_path: str, cgroups_path: str,
               termination_log: str) -> dict:
        """The process spec, the container's cgroup when it gets one, then the shim; the command
        waits at the shim's gate until `start`."""
        spec = self._process_spec(req, d, termination_log)
        meta = {"id": cid, "runtime": self.name} | self._meta(
            cid, req, log_path=log_path, cgroups_path=cgroups_path, rootfs=spec["root"] or "/")
        write_json(os.path.join(d, "meta.json"), meta)
        # what runs, for people and for the agent's server (no network namespace: the host's)
        write_json(os.path.join(d, "bundle", "config.json"), {
            "ociVersion": "1.0.2", "process": {k: spec[k] for k in ("args", "env", "cwd", "user")},
            "root": {"path": spec["root"] or "/"},
            "linux": {"namespaces": [{"type": "mount"}] if spec["privateMounts"] else []},
            "annotations": {"io.podplane.runtime": self.name}})
        if cgroups_path:
            spec["cgroupProcs"] = self._make_cgroup(cgroups_path, req.container)
        return self._start_shim(cid, d, req, log_path, cgroups_path, spec)

    def _start_shim(self, cid: str, d: str, req: ContainerRequest, log_path: str, cgroups_path: str,
                    spec: dict) -> dict:
        oom = self.cgroups.oom_kill_file(cgroups_path) if cgroups_path else None
        c = req.container
        return self._run_shim(d, {
            "mode": "process", "id": cid, "log_path": log_path,
            "oom_file": oom[0] if oom else "", "oom_key": oom[1] if oom else "",
            "tty": bool(c.get("tty")), "stdin": bool(c.get("stdin")), "stdin_once": bool(c.get("stdinOnce")),
            "process": spec,
        })

    def start(self, cid: str) -> ContainerInfo:
        """Let the command run (the shim opens its gate) and wait for the shim to confirm."""
        d, meta, status = self._container(cid)
        if status.get("status") != "created" or not self._shim_alive(status):
            raise ProcessError(f"cannot start container {meta['name']}: it is not in the created state")
        if status.get("startedAt"):
            raise ProcessError(f"container {meta['name']} was already started")
        os.kill(int(status["shimPid"]), START_SIGNAL)
        deadline = time.monotonic() + START_TIMEOUT
        delay = 0.001
        while True:
            status = self._read_state(d, "status.json") or {}
            if status.get("startedAt"):
                break
            if status.get("status") != "created" or not self._shim_alive(status):
                raise ProcessError(f"container {meta['name']} exited before it could start")
            if time.monotonic() >= deadline:
                raise ProcessError(f"the shim of container {meta['name']} did not confirm the start")
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        write_json(os.path.join(d, "started.json"), {"startedAt": status["startedAt"]})
        return self.inspect(cid)

    # --- state ------------------------------------------------------------------------------

    def _runs_unsupervised(self, cid: str, status: dict) -> bool:
        return status.get("status") == "created" and alive(int(status.get("pid") or 0), status.get("pidStart"))

    # --- stop / remove ----------------------------------------------------------------------

    def _processes(self, d: str, status: dict, meta: dict, init_pid: int) -> list[int]:
        """Every process of the container, the main process first, then parents before children:
        the tree under its shim (or its init when the shim is gone), its cgroup's members, and
        the agent's own live exec children."""
        root = int(status["shimPid"]) if self._shim_alive(status) else init_pid
        pids = dict.fromkeys([init_pid] if init_pid else [])
        pids.update(dict.fromkeys(descendants(root) if root else []))
        if meta.get("cgroupsPath"):
            for dd in self._cgroup_dirs(meta["cgroupsPath"]):
                with contextlib.suppress(OSError, ValueError):
                    with open(os.path.join(dd, "cgroup.procs")) as f:
                        pids.update(dict.fromkeys(int(x) for x in f.read().split()))
        with contextlib.suppress(OSError):
            for name in os.listdir(d):
                if name.startswith("exec-") and name.endswith(".pid"):
                    with contextlib.suppress(OSError, ValueError):
                        with open(os.path.join(d, name)) as f:
                            pid = int(f.read().strip())
                        if _parent(pid) == os.getpid():  # ours and not reaped: cannot be a reused pid
                            pids[pid] = None
        pids.pop(int(status.get("shimPid") or 0), None)
        pids.pop(os.getpid(), None)
        return list(pids)

    def kill(self, cid: str, sig: int | str = signal.SIGTERM, *, all_processes: bool = False) -> bool:
        """Send a signal to the container's main process (or, `all_processes`, to every process
        of it); False when the container is not running."""
        d, meta, status = self._container(cid)
        if status.get("status") != "created":
            return False
        init_pid = int(status.get("pid") or 0)
        if not alive(init_pid, status.get("pidStart")):
            init_pid = 0
        signum = signal.Signals[sig if sig.startswith("SIG") else f"SIG{sig}"] if isinstance(sig, str) else sig
        # the main process first: were a child killed first, the main process could see it die and
        # exit by itself before its own signal arrives (runc freezes the cgroup for the same reason)
        targets = self._processes(d, status, meta, init_pid) if all_processes else [init_pid] if init_pid else []
        sent = False
        for pid in targets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
                sent = True
        return sent

    def _end_processes(self, cid: str, status: dict) -> None:
        if status.get("status") == "created":
            with contextlib.suppress(ContainerNotFound):
                self.kill(cid, signal.SIGKILL, all_processes=True)

    def _owns_pod_cgroups(self, uid: str) -> bool:
        return self.uses_cgroups and bool(uid)

    # --- exec / stats -----------------------------------------------------------------------

    def _exec_command(self, cid: str, d: str, pid_file: str, argv: list[str], *, tty: bool,
                      env: dict[str, str] | None, cwd: str | None, user: str | None) -> list[str]:
        """The shim's exec helper, which runs `argv` in the container's context (its env, cwd,
        user, cgroups, mount namespace and root) by exec'ing it: the pid is the helper's."""
        opts: dict = {"env": dict(env or {}), "cwd": cwd or ""}
        if user:
            if not self.privileged:
                raise ProcessError("exec as another user needs the agent to run as root")
            uid, _, gid = user.partition(":")
            if not uid.isdigit() or (gid and not gid.isdigit()):
                raise ProcessError(f"exec user must be numeric uid[:gid], not {user!r}")
            opts["user"] = {"uid": int(uid), "gid": int(gid or uid), "additionalGids": []}
        return [self.config.python, "-I", "-S", self._shim_path, "--exec", d, json.dumps(opts), *argv]

    def _exec_started(self, popen: subprocess.Popen, pid_file: str) -> None:
        _write(pid_file, popen.pid)  # the helper execs the command: same pid

    def stats(self, cid: str) -> CgroupStats:
        """cpu/memory usage: from the container's cgroup when it has one, else summed over its
        live processes in /proc (no OOM counter then)."""
        info = self.inspect(cid)
        if info.cgroups_path:
            return self.cgroups.stats(info.cgroups_path)
        d = self._dir(cid)
        status = self._read_state(d, "status.json") or {}
        if info.state not in (RUNNING, UNKNOWN):
            return _proc_stats([], 0)
        init_pid = info.pid if alive(info.pid, status.get("pidStart")) else 0
        pids = self._processes(d, status, {}, init_pid)
        return _proc_stats(sorted(pids), init_pid)
