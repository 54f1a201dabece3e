"""Per-container supervisor (like containerd-shim): owns a container's stdio and records its exit.

Why: the agent must learn every container's exit code and finish time even when the agent
itself restarted in between (a process can only `waitpid` its own children). So each
container gets a tiny, long-lived supervisor that is the parent of the container's init:
`runtime.runc` starts `python -I -S shim.py <container-dir>` (by file path, without the
podplane package: ~20 ms, ~10 MB resident); the shim forks into the background (so it is nobody's
child that needs reaping), becomes a child subreaper (prctl PR_SET_CHILD_SUBREAPER), runs
`runc create` with the container's stdout/stderr wired to pipes it owns (or a pty for
tty containers, via runc's console socket), reports `{"status":"created","pid":...}` on
its stdout (the agent waits for that line) and in `status.json`, then copies output into
the CRI log file (`runtime.logs.LogWriter`), forwards stdin from a FIFO for attach, and
`waitpid`s. When init (tini) exits it reads the OOM-kill counter of the container's memory
cgroup, writes `{"status":"exited","exitCode":N,"finishedAt":...,"oomKilled":...}` to
`status.json` atomically and exits; the agent sees the exit through a pidfd or by reading
the file, now or after a restart. `runc start/kill/delete` stay with the agent.
Process mode (`"mode": "process"` in shim.json, written by `runtime.process`): no runc; the
shim forks the command itself as a plain host process (`ProcessShim`): the child joins the
container's cgroups, when root unshares its mount namespace (bind mounts, chroot into an
overlay for OCI images) and switches user, then reports ready and waits at a gate until the
agent sends the shim SIGUSR1 (`start`), records `startedAt` and execs. When the command
exits, everything it left behind (descendants re-parented to the shim) is killed, as a PID
namespace would. `shim.py --exec <container-dir> <options-json> argv...` enters the same
context (cgroups, mount namespace, root, user, env, cwd) and execs `argv` (`exec` of the runtime).
Input: `<container-dir>/shim.json` (written by `runtime.runc` or `runtime.process`). Standard library only.
"""

from __future__ import annotations

import ctypes
import errno
import importlib.util
import json
import os
import select
import signal
import sys
import time

__all__ = ["EXEC_FAILED", "PR_SET_CHILD_SUBREAPER", "START_SIGNAL", "ProcessShim", "descendants", "exec_main",
           "main", "process_start_time", "set_child_subreaper"]

PR_SET_CHILD_SUBREAPER = 36
DRAIN_SECONDS = 2.0
"""After init exits, how long to keep reading output that other processes still write."""
CREATE_TIMEOUT = 60.0


def set_child_subreaper() -> None:
    """Make orphaned descendants re-parent to this process (so it can waitpid them)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(err)}")


def process_start_time(pid: int) -> int | None:
    """Start time of a live process in clock ticks since boot (compared to guard against pid
    reuse); None if it is gone or a zombie (dead, not yet reaped by whoever inherited it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # the command name may contain spaces and parentheses: fields start after the last ')'
    fields = data[data.rfind(b")") + 2:].split()
    if fields[:1] in ([b"Z"], [b"X"]):
        return None
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _write_json(path: str, doc: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _load_logs_module():
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("_podplane_shim_logs", os.path.join(here, "logs.py"))
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = mod  # type: ignore[union-attr]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def _runc_error(log_path: str, fallback: str) -> str:
    """The last error runc logged (JSON log lines), else `fallback`."""
    msg = ""
    try:
        with open(log_path) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("level") in ("error", "fatal"):
                    msg = rec.get("msg") or msg
    except OSError:
        pass
    return msg or fallback


def _read_counter(path: str, key: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.partition(" ")
                if k == key:
                    return int(v)
    except (OSError, ValueError):
        pass
    return 0


def _wait_child(pid: int, timeout: float) -> int:
    """Exit code of our child `pid`, killing it after `timeout` seconds."""
    fd = os.pidfd_open(pid)
    try:
        if not select.select([fd], [], [], timeout)[0]:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _exit_code(status: int) -> tuple[int, int]:
    """(exit code, signal) from a waitpid status; a signal death is 128+signal like a shell."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return 128 + sig, sig
    return os.waitstatus_to_exitcode(status), 0


class Shim:
    def __init__(self, directory: str, cfg: dict) -> None:
        self.dir = directory
        self.cfg = cfg
        self.status_path = os.path.join(directory, "status.json")
        logs = _load_logs_module()
        self.log = logs.LogWriter(cfg["log_path"])
        self.fds: dict[int, str] = {}  # readable fd → role (stdout, stderr, tty, stdin-fifo, control, wake)
        self.stdin_w: int | None = None  # where attach input goes (pipe to the container or pty master)
        self.master: int | None = None
        self.init_pid = 0
        self.exit: tuple[int, int] | None = None
        self.finished_at = 0.0

    # --- setup ------------------------------------------------------------------------------

    def _fifo(self, name: str) -> int:
        path = os.path.join(self.dir, name)
        try:
            os.mkfifo(path, 0o600)
        except FileExistsError:
            pass
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)

    def create(self) -> dict:
        cfg = self.cfg
        runc_log = os.path.join(self.dir, "runc.log")
        argv = [cfg["runc"], "--root", cfg["runc_root"], "--log", runc_log, "--log-format", "json", "create",
                "--bundle", cfg["bundle"], "--pid-file", cfg["pid_file"]]
        child_fds: list[int] = []
        console = None
        if cfg.get("tty"):
            import socket  # only tty containers need it (keeps the common shim ~1 MB smaller)

            sock_path = cfg["console_socket"]
            try:
                os.unlink(sock_path)
            except FileNotFoundError:
                pass
            console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            console.bind(sock_path)
            console.listen(1)
            argv += ["--console-socket", sock_path]
            stdin = stdout = stderr = os.open(os.devnull, os.O_RDWR)
            child_fds.append(stdin)
        else:
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            self.fds[out_r] = "stdout"
            self.fds[err_r] = "stderr"
            stdout, stderr = out_w, err_w
            child_fds += [out_w, err_w]
            if cfg.get("stdin"):
                in_r, in_w = os.pipe2(os.O_CLOEXEC)
                stdin = in_r
                self.stdin_w = in_w
                child_fds.append(in_r)
            else:
                stdin = os.open(os.devnull, os.O_RDONLY)
                child_fds.append(stdin)
        argv.append(cfg["id"])
        # posix_spawn instead of subprocess: same effect here (every other fd is close-on-exec)
        # and 1.3 MB less resident memory per shim.
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, stdout, 1), (os.POSIX_SPAWN_DUP2, stderr, 2)])
        if console is not None:
            console.settimeout(CREATE_TIMEOUT)
            try:
                conn, _ = console.accept()
                with conn:
                    _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
                self.master = fds[0]
                os.set_blocking(self.master, False)
                self.fds[self.master] = "tty"
                if cfg.get("stdin"):
                    self.stdin_w = self.master
            except OSError:
                pass  # runc failed before connecting; its exit status says why
            finally:
                console.close()
                try:
                    os.unlink(cfg["console_socket"])
                except OSError:
                    pass
        rc = _wait_child(pid, CREATE_TIMEOUT)
        for fd in child_fds:
            os.close(fd)
        if rc != 0:
            return {"status": "failed", "error": _runc_error(runc_log, f"runc create exited with {rc}")}
        try:
            with open(cfg["pid_file"]) as f:
                self.init_pid = int(f.read().strip())
        except (OSError, ValueError):
            return {"status": "failed", "error": "runc create left no pid file"}
        for fd in self.fds:
            os.set_blocking(fd, False)
        if cfg.get("stdin"):
            self.fds[self._fifo("stdin")] = "stdin-fifo"
        if cfg.get("tty"):
            self.fds[self._fifo("control")] = "control"
        return {"status": "created", "pid": self.init_pid, "createdAt": time.time()}

    # --- loop -------------------------------------------------------------------------------

    def _reopen(self, fd: int) -> None:
        role = self.fds.pop(fd)
        os.close(fd)
        self.fds[self._fifo("stdin" if role == "stdin-fifo" else "control")] = role

    def _on_readable(self, fd: int) -> None:
        role = self.fds[fd]
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno != errno.EIO:  # EIO: pty closed by the last writer
                raise
            data = b""
        if role in ("stdout", "stderr", "tty"):
            if data:
                self.log.write("stdout" if role == "tty" else role, data)
            else:
                self.log.flush_stream("stdout" if role == "tty" else role)
                del self.fds[fd]
                if fd != self.master:
                    os.close(fd)
        elif role == "stdin-fifo":
            if data and self.stdin_w is not None:
                try:
                    os.write(self.stdin_w, data)
                except OSError:
                    pass
            elif not data:
                if self.cfg.get("stdin_once") and self.stdin_w is not None:
                    if self.stdin_w == self.master:
                        os.write(self.master, b"\x04")
                    else:
                        os.close(self.stdin_w)
                    self.stdin_w = None
                    del self.fds[fd]
                    os.close(fd)
                else:
                    self._reopen(fd)
        elif role == "control":
            if not data:
                self._reopen(fd)
                return
            for line in data.splitlines():
                try:
                    cols, rows = json.loads(line)["resize"]
                    import fcntl
                    import struct
                    import termios

                    if self.master is not None:
                        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                except (ValueError, KeyError, TypeError, OSError):
                    continue

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.init_pid and self.exit is None:
                self.exit = _exit_code(status)
                self.finished_at = time.time()

    def run(self, wake_r: int) -> dict:
        self.fds[wake_r] = "wake"
        drain_until = None
        while True:
            self._reap()
            if self.exit is not None and drain_until is None:
                drain_until = time.monotonic() + DRAIN_SECONDS
            outputs = [fd for fd, role in self.fds.items() if role in ("stdout", "stderr", "tty")]
            if drain_until is not None and (not outputs or time.monotonic() >= drain_until):
                break
            timeout = 1.0 if drain_until is None else max(0.0, drain_until - time.monotonic())
            try:
                ready, _, _ = select.select(list(self.fds), [], [], timeout)
            except InterruptedError:
                continue
            for fd in ready:
                if fd not in self.fds:
                    continue
                if self.fds[fd] == "wake":
                    try:
                        while os.read(wake_r, 4096):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                self._on_readable(fd)
        self.log.close()
        code, sig = self.exit or (255, 0)
        oom = 0
        if self.cfg.get("oom_file"):
            oom = _read_counter(self.cfg["oom_file"], self.cfg.get("oom_key", "oom_kill"))
        return {"status": "exited", "pid": self.init_pid, "exitCode": code, "signal": sig,
                "finishedAt": self.finished_at, "oomKilled": oom > 0}


# --- process mode (runtime.process): the command runs as a plain host process -----------------

START_SIGNAL = signal.SIGUSR1
"""What the agent sends a process-mode shim to let the command run (`ProcessRuntime.start`)."""
EXEC_FAILED = "exec failed: unable to start container process: "
"""runc's prefix for a command that could not start (the agent's exec server recognises it)."""
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_SLAVE = 4096, 16384, 1 << 19
MAX_SYMLINKS = 40


class SetupError(Exception):
    """The process could not be set up (cgroup, mount, chroot, user, cwd, executable);
    `code` is the exit status an exec reports (127: not found, 126: anything else)."""

    def __init__(self, message: str, code: int = 126) -> None:
        super().__init__(message)
        self.code = code


_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    return _LIBC


def _check(rc: int, what: str) -> None:
    if rc != 0:
        raise SetupError(f"{what}: {os.strerror(ctypes.get_errno())}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(x: str | None) -> bytes | None:
        return None if x is None else x.encode()

    _check(_libc().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {source or ''} on {target}")


def descendants(pid: int) -> list[int]:
    """Every live (or not yet reaped) descendant of `pid`: the children of each of its threads,
    recursively (/proc/<pid>/task/<tid>/children)."""
    out: list[int] = []
    seen = {pid}
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except (OSError, ValueError):
                continue
            for k in kids:
                if k not in seen:
                    seen.add(k)
                    out.append(k)
                    todo.append(k)
    return out


def _secure_join(root: str, path: str) -> str:
    """`path` under `root` with symlinks resolved as if `root` were / (never leaving it)."""
    if not root:
        return os.path.normpath(path)
    parts = [p for p in path.split("/") if p and p != "."]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        try:
            link = os.readlink(os.path.join(root, *resolved, part))
        except OSError:  # not a symlink, or missing
            resolved.append(part)
            continue
        hops += 1
        if hops > MAX_SYMLINKS:
            raise SetupError(f"too many levels of symbolic links in {path}")
        if link.startswith("/"):
            resolved = []
        parts = [p for p in link.split("/") if p and p != "."] + parts
    return os.path.join(root, *resolved)


def _apply_mount(root: str, m: dict) -> None:
    """One entry of the spec's `mounts`: `bind` (recursive; `readOnly`), `proc`, `tmpfs` or
    `devpts` (`data`: options), or `symlink` (to `source`); a missing mount point is created
    (an empty directory, or an empty file for a file source)."""
    target = _secure_join(root, m["destination"])
    kind = m.get("type") or "bind"
    if kind == "symlink":
        if not os.path.lexists(target):
            os.symlink(m["source"], target)
        return
    is_dir = kind != "bind" or os.path.isdir(m["source"])
    if not os.path.lexists(target):
        try:
            if is_dir:
                os.makedirs(target, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "a"):
                    pass
        except OSError as e:
            raise SetupError(f"cannot create mount point {m['destination']}: {e.strerror}") from e
    if kind == "proc":
        _mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        return
    if kind in ("tmpfs", "devpts"):
        _mount(kind, target, kind, MS_NOSUID | (MS_NOEXEC if kind == "devpts" else 0), m.get("data") or "")
        return
    _mount(m["source"], target, None, MS_BIND | MS_REC)
    if m.get("readOnly"):
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def _find_executable(name: str, path: str) -> str:
    """Like execvp's search, with runc's messages."""
    if "/" in name:
        if not os.path.exists(name):
            raise SetupError(f'exec: "{name}": stat {name}: no such file or directory', 127)
        if os.path.isdir(name) or not os.access(name, os.X_OK):
            raise SetupError(f'exec: "{name}": permission denied', 126)
        return name
    for d in path.split(":"):
        candidate = os.path.join(d or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise SetupError(f'exec: "{name}": executable file not found in $PATH', 127)


def _reset_signals() -> None:
    """Default dispositions and an empty mask for the command (Python and the shim ignore some)."""
    signal.set_wakeup_fd(-1)
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _env_dict(env: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for kv in env:
        k, _, v = kv.partition("=")
        out[k] = v
    return out


def _enter(spec: dict, argv0: str, env: dict[str, str], *, ns_pid: int = 0, user: dict | None = None,
           cwd: str = "") -> str:
    """Put this process into the container's context and return the executable to exec: join
    its cgroups, set oom_score_adj, enter (`ns_pid`: the init's) or create its private mount
    namespace (mounts, overlay root), chroot, switch user, chdir. Raises SetupError."""
    me = str(os.getpid())
    for path in spec.get("cgroupProcs") or ():
        try:
            with open(path, "w") as f:
                f.write(me)
        except OSError as e:
            raise SetupError(f"cannot join cgroup {os.path.dirname(path)}: {e.strerror}") from e
    if spec.get("oomScoreAdj") is not None:
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(spec["oomScoreAdj"]))
        except OSError:
            pass  # lowering it needs CAP_SYS_RESOURCE: keep the agent's
    root = spec.get("root") or ""
    if ns_pid:
        fd = os.open(f"/proc/{ns_pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(_libc().setns(fd, CLONE_NEWNS), "setns(mount namespace)")
        finally:
            os.close(fd)
    elif spec.get("privateMounts"):
        _check(_libc().unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        _mount(None, "/", None, MS_REC | MS_SLAVE)  # host mounts still propagate in, ours never out
        if spec.get("overlay"):
            _mount("overlay", root, "overlay", 0, spec["overlay"])
        for m in spec.get("mounts") or ():
            _apply_mount(root, m)
    if root:
        try:
            os.chroot(root)
        except OSError as e:
            raise SetupError(f"chroot {root}: {e.strerror}") from e
    u = user if user is not None else spec.get("user")
    if u:
        try:
            os.setgroups([int(g) for g in u.get("additionalGids") or ()])
            os.setgid(int(u["gid"]))
            os.setuid(int(u["uid"]))
        except OSError as e:
            raise SetupError(f"cannot switch to user {u.get('uid')}:{u.get('gid')}: {e.strerror}") from e
    cwd = cwd or spec.get("cwd") or "/"
    try:
        os.chdir(cwd)
    except OSError as e:
        msg = (e.strerror or str(e)).lower()
        raise SetupError(f'chdir to cwd ("{cwd}") set in config.json failed: {msg}') from e
    return _find_executable(argv0, env.get("PATH", DEFAULT_PATH))


def _read_line(fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return "error: the container process did not get ready in time"
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace").strip()


def _init_child(spec: dict, stdio: tuple[int, int, int], tty: bool, ready_w: int, gate_r: int) -> None:
    """The forked container process: set up, report `ok` (or `error: ...`), wait at the gate,
    exec. Never returns."""
    ready = False
    try:
        _reset_signals()
        os.setsid()
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        if tty:
            import fcntl
            import termios

            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        env = _env_dict(spec["env"])
        exe = _enter(spec, spec["args"][0], env)
        os.write(ready_w, b"ok\n")
        ready = True
        if os.read(gate_r, 1) != b"1":
            os._exit(0)  # the shim is gone: never start
        os.execve(exe, spec["args"], env)
    except SetupError as e:
        msg, code = str(e), e.code
    except BaseException as e:
        msg, code = f"{type(e).__name__}: {e}", 127 if isinstance(e, FileNotFoundError) else 126
    try:
        if ready:  # exec itself failed after the start: say so in the container's log, like tini
            os.write(2, f"{EXEC_FAILED}{msg}\n".encode())
        else:
            os.write(ready_w, f"error: {msg}\n".encode())
    finally:
        os._exit(code)


class ProcessShim(Shim):
    """The shim of `runtime.process`: forks the command itself instead of running `runc create`
    (see the module docstring); the copying loop is the runc shim's."""

    def __init__(self, directory: str, cfg: dict) -> None:
        super().__init__(directory, cfg)
        self.spec = cfg["process"]
        self.gate_w: int | None = None
        self.start_requested = False
        self.doc: dict = {}
        self.cleaned = False

    def request_start(self, *_: object) -> None:
        """SIGUSR1 handler: the loop opens the gate on its next turn."""
        self.start_requested = True

    def create(self) -> dict:
        cfg = self.cfg
        child_fds: list[int] = []
        if cfg.get("tty"):
            master, slave = os.openpty()
            self.master = master
            self.fds[master] = "tty"
            if cfg.get("stdin"):
                self.stdin_w = master
            stdio = (slave, slave, slave)
            child_fds.append(slave)
        else:
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            self.fds[out_r] = "stdout"
            self.fds[err_r] = "stderr"
            child_fds += [out_w, err_w]
            if cfg.get("stdin"):
                in_r, in_w = os.pipe2(os.O_CLOEXEC)
                self.stdin_w = in_w
                stdin = in_r
            else:
                stdin = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            child_fds.append(stdin)
            stdio = (stdin, out_w, err_w)
        ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
        gate_r, gate_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            _init_child(self.spec, stdio, bool(cfg.get("tty")), ready_w, gate_r)
        os.close(ready_w)
        os.close(gate_r)
        for fd in child_fds:
            os.close(fd)
        self.init_pid = pid
        self.gate_w = gate_w
        answer = _read_line(ready_r, CREATE_TIMEOUT)
        os.close(ready_r)
        if answer != "ok":
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            error = answer.removeprefix("error: ") or "the container process died while being set up"
            return {"status": "failed", "error": error}
        for fd in self.fds:
            os.set_blocking(fd, False)
        if cfg.get("stdin"):
            self.fds[self._fifo("stdin")] = "stdin-fifo"
        if cfg.get("tty"):
            self.fds[self._fifo("control")] = "control"
        self.doc = {"status": "created", "pid": pid, "pidStart": process_start_time(pid), "createdAt": time.time()}
        return self.doc

    def _open_gate(self) -> None:
        gate, self.gate_w = self.gate_w, None
        try:
            os.write(gate, b"1")  # type: ignore[arg-type]
        except OSError:
            return  # the process died before its start
        finally:
            os.close(gate)  # type: ignore[arg-type]
        self.doc["startedAt"] = time.time()
        _write_json(self.status_path, self.doc)

    def _kill_leftovers(self) -> None:
        """What the command left running dies with it (a PID namespace's rule): its descendants,
        re-parented to this subreaper, and whatever else is in its cgroups (execs)."""
        me = os.getpid()
        for _ in range(2):
            pids = set(descendants(me))
            for path in self.spec.get("cgroupProcs") or ():
                try:
                    with open(path) as f:
                        pids.update(int(x) for x in f.read().split())
                except (OSError, ValueError):
                    pass
            pids.discard(me)
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def _reap(self) -> None:
        super()._reap()
        if self.start_requested and self.gate_w is not None:
            self._open_gate()
        if self.exit is not None and not self.cleaned:
            self.cleaned = True
            self._kill_leftovers()

    def run(self, wake_r: int) -> dict:
        final = super().run(wake_r)
        if self.gate_w is not None:
            os.close(self.gate_w)
            self.gate_w = None
        final["pidStart"] = self.doc.get("pidStart")
        if "startedAt" in self.doc:
            final["startedAt"] = self.doc["startedAt"]
        return final


def exec_main(args: list[str]) -> int:
    """`shim.py --exec <container-dir> <options-json> argv...`: exec `argv` in a running process
    container's context (options: `env` overrides, `cwd`, `user` {uid, gid, additionalGids}).
    A failure is written to stderr with runc's `exec failed: ...` prefix; exit 127 or 126."""
    try:
        directory, opts, argv = args[0], json.loads(args[1]), args[2:]
        with open(os.path.join(directory, "shim.json")) as f:
            spec = json.load(f)["process"]
        with open(os.path.join(directory, "status.json")) as f:
            status = json.load(f)
        env = _env_dict(spec["env"])
        env.update(opts.get("env") or {})
        if not argv:
            raise SetupError("no command given")
        ns_pid = 0
        if spec.get("privateMounts"):
            ns_pid = int(status.get("pid") or 0)
            if not ns_pid or process_start_time(ns_pid) != status.get("pidStart"):
                raise SetupError("the container is not running")
        _reset_signals()
        if os.isatty(0):
            import fcntl
            import termios

            try:
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            except OSError:
                pass
        exe = _enter(spec, argv[0], env, ns_pid=ns_pid, user=opts.get("user"), cwd=opts.get("cwd") or "")
        os.execve(exe, argv, env)
    except SetupError as e:
        msg, code = str(e), e.code
    except (OSError, ValueError, KeyError, IndexError) as e:
        msg, code = f"{type(e).__name__}: {e}", 127 if isinstance(e, FileNotFoundError) else 126
    os.write(2, f"{EXEC_FAILED}{msg}\n".encode())
    return code


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] == "--exec":
        return exec_main(argv[2:])
    directory = os.path.abspath(argv[1])
    with open(os.path.join(directory, "shim.json")) as f:
        cfg = json.load(f)
    # Background ourselves: the agent's child exits at once, the real shim re-parents to
    # init (or a subreaper above the agent) and outlives agent restarts.
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")  # pin no mount
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    set_child_subreaper()
    shim = (ProcessShim if cfg.get("mode") == "process" else Shim)(directory, cfg)
    if isinstance(shim, ProcessShim):
        signal.signal(START_SIGNAL, shim.request_start)
    me = {"shimPid": os.getpid(), "shimStart": process_start_time(os.getpid())}
    try:
        result = shim.create()
    except Exception as e:  # report anything to the agent instead of dying silently
        result = {"status": "failed", "error": f"shim: {type(e).__name__}: {e}"}
    result.update(me)
    _write_json(shim.status_path, result)
    os.write(1, (json.dumps(result) + "\n").encode())
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    if result["status"] != "created":
        return 1
    final = shim.run(wake_r)
    final.update(me)
    final["createdAt"] = result.get("createdAt")
    _write_json(shim.status_path, final)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
