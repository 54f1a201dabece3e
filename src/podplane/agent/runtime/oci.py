"""Pure builder of OCI runtime specs (a bundle's config.json) for one container of a pod.

`build_spec(ContainerConfig, SpecOptions) -> dict` turns the pod, the container, its
resolved `ImageSpec` and the pod sandbox (network namespace path, hostname, hosts and
resolv.conf files, volumes) into what runc runs, with upstream kubelet + containerd
semantics: process args from command/args versus entrypoint/cmd with `$(VAR)` expansion,
env (default PATH, HOSTNAME, image env, then the container's), working dir, user and
groups (runAsUser/runAsGroup/supplementalGroups/fsGroup, names resolved through the
image's /etc/passwd and /etc/group, runAsNonRoot enforced), `tini` as PID 1 (tini-static
bind-mounted read-only at `/.podplane/tini`), namespaces (pid, mount, uts, ipc new or
joined by path; network joined by path; host* fields honoured), containerd's default
mounts, capabilities, masked and read-only paths, rlimits and cgroup resources (shares,
quota/period, memory limit, oom_score_adj by QoS class). No I/O: image files are read
through `ImageSpec.read_file`, which the caller may fake.
Errors: `SpecError` (permanent: the pod must change, upstream CreateContainerConfigError).
Neighbours: `runtime.runc` writes the spec into a bundle; `agent.images` supplies ImageSpec.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from podplane.agent.images.spec import HOST, ImageSpec
from podplane.api.validation import parse_quantity

__all__ = [
    "ALL_CAPABILITIES",
    "DEFAULT_CAPABILITIES",
    "DEFAULT_PATH",
    "MASKED_PATHS",
    "READONLY_PATHS",
    "TINI_IN_CONTAINER",
    "ContainerConfig",
    "ContainerRuntimeError",
    "Mount",
    "SandboxConfig",
    "SpecError",
    "SpecOptions",
    "User",
    "build_spec",
    "capabilities",
    "command_line",
    "container_env",
    "cpu_resources",
    "expand",
    "memory_limit",
    "oom_score_adj",
    "qos_class",
    "resolve_user",
    "security_context",
]

OCI_VERSION = "1.0.2"
TINI_IN_CONTAINER = "/.podplane/tini"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"

# containerd's default capability set (oci/spec.go defaultUnixCaps + CRI).
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
)
ALL_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
# containerd's defaults (oci/spec.go populateDefaultUnixSpec).
MASKED_PATHS = (
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/sys/devices/virtual/powercap", "/proc/scsi",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

MIN_SHARES = 2
MAX_SHARES = 262144
SHARES_PER_CPU = 1024
QUOTA_PERIOD = 100000
MIN_QUOTA = 1000
GUARANTEED_OOM_SCORE_ADJ = -997
BESTEFFORT_OOM_SCORE_ADJ = 1000


class ContainerRuntimeError(Exception):
    """Base of the runtime's errors. `temporary`: retrying the same request may succeed;
    `reason`: the upstream waiting reason to report for the container."""

    temporary = False
    reason = "CreateContainerError"


class SpecError(ContainerRuntimeError):
    """The pod/container/image combination cannot be turned into a runnable spec (no command,
    unknown user, runAsNonRoot violated, bad quantity): permanent until the pod changes."""

    reason = "CreateContainerConfigError"


# --- inputs -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mount:
    """A volume mount already resolved to a host path (subPath applied by the volume manager)."""

    destination: str
    source: str
    read_only: bool = False
    propagation: str = ""
    """`mountPropagation`: "" / None → rprivate, HostToContainer → rslave, Bidirectional → rshared."""


@dataclass(frozen=True)
class SandboxConfig:
    """What the pod sandbox provides to each of its containers."""

    hostname: str = ""
    netns_path: str | None = None
    """Network namespace to join (`/var/run/netns/<name>`); None: a new, isolated one (only lo),
    unless the pod has hostNetwork."""
    hosts_path: str = ""
    resolv_conf_path: str = ""
    hostname_path: str = ""
    ipc_ns_path: str | None = None
    """Join this IPC namespace (the pod's) instead of creating one per container."""
    uts_ns_path: str | None = None
    pid_ns_path: str | None = None
    """For shareProcessNamespace: the pod's PID namespace to join."""
    shm_path: str = ""
    """A host directory (tmpfs) to bind at /dev/shm so containers share it; "" → a private tmpfs."""


@dataclass(frozen=True)
class SpecOptions:
    """Node-level knobs (defaults explained)."""

    tini_path: str = "/usr/bin/tini-static"
    """Host path of a static tini; bind-mounted read-only at TINI_IN_CONTAINER in every container,
    so images need not ship one. "" runs the command as PID 1 (signals then need a handler)."""
    nofile: int | None = None
    """RLIMIT_NOFILE soft and hard; None inherits the agent's limits (containerd 2.x does the
    same). Raising it above the agent's hard limit needs CAP_SYS_RESOURCE."""
    pids_limit: int | None = None
    """Per-container pids.max (the kubelet's podPidsLimit is per pod; None: unlimited)."""
    node_memory_bytes: int | None = None
    """Node memory capacity, for Burstable containers' oom_score_adj (None → 999)."""
    swap_accounting: bool = True
    """Set memory.memsw.limit = memory limit (no swap use beyond the limit), as containerd does
    when swap accounting exists."""
    default_capabilities: tuple[str, ...] = DEFAULT_CAPABILITIES
    annotations: Mapping[str, str] = field(default_factory=dict)
    host_masked_paths: tuple[str, ...] = ()
    """Host paths hidden (empty, read-only) in containers of host images, whose root is the
    host's /: the agent's data directory at least (keys, other pods' state and logs)."""


@dataclass(frozen=True)
class ContainerConfig:
    pod: dict
    container: dict
    image: ImageSpec
    sandbox: SandboxConfig
    rootfs: str
    """Absolute host path of the mounted root filesystem (not a symlink)."""
    cgroups_path: str
    """Absolute cgroup path (`/podplane/pod<uid>/<id>`)."""
    mounts: tuple[Mount, ...] = ()
    env: tuple[tuple[str, str], ...] | None = None
    """The container's env, resolved by the pod worker (valueFrom, envFrom, service links), in
    order; None → the literal `value`s of `container.env`."""
    termination_log_path: str = ""
    """Host file bind-mounted at terminationMessagePath; "" → none."""
    init: bool = False


@dataclass(frozen=True)
class User:
    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()


# --- command and env --------------------------------------------------------------------------

def expand(text: str, env: Mapping[str, str]) -> str:
    """Upstream's `$(VAR)` expansion: defined variables are replaced, `$$` escapes `$`,
    undefined or unterminated references stay as written."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close < 0:
                out.append("$(")
                i += 2
            else:
                name = text[i + 2: close]
                out.append(env[name] if name in env else f"$({name})")
                i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def container_env(container: dict, resolved: tuple[tuple[str, str], ...] | None = None) -> list[tuple[str, str]]:
    """The container's own env in order with upstream expansion of earlier definitions
    (each value may reference variables defined before it). An env `resolved` by the pod
    worker (`agent.envvars`) is already expanded, and values from ConfigMaps, Secrets and
    fields must never be: it is returned as it is."""
    if resolved is not None:
        return list(resolved)
    resolved = tuple((e["name"], str(e.get("value") or "")) for e in container.get("env") or []
                     if isinstance(e, dict) and e.get("name") and "valueFrom" not in e)
    seen: dict[str, str] = {}
    out: list[tuple[str, str]] = []
    for name, value in resolved:
        value = expand(value, seen)
        seen[name] = value
        out.append((name, value))
    return out


def merged_env(image: ImageSpec, own: list[tuple[str, str]], hostname: str) -> list[str]:
    """PATH default, HOSTNAME, image env, container env; later definitions win, first position kept."""
    env: dict[str, str] = {}
    for kv in image.env:
        k, _, v = kv.partition("=")
        env[k] = v
    if "PATH" not in env:
        env = {"PATH": DEFAULT_PATH, **env}
    if hostname:
        env = {"PATH": env.pop("PATH"), "HOSTNAME": hostname, **env}
    for k, v in own:
        env[k] = v
    return [f"{k}={v}" for k, v in env.items()]


def command_line(container: dict, image: ImageSpec, env: Mapping[str, str]) -> list[str]:
    """Upstream rules: command replaces the entrypoint (and drops the image cmd); args replace
    the cmd; `$(VAR)` expands with the container's env. Raises SpecError when empty."""
    # Only the pod's command/args are expanded, never the image's entrypoint/cmd (as upstream).
    command = [expand(str(x), env) for x in container.get("command") or []]
    args = [expand(str(x), env) for x in container.get("args") or []]
    if command:
        argv = command + args
    elif args:
        argv = list(image.entrypoint) + args
    else:
        argv = list(image.entrypoint) + list(image.cmd)
    if not argv:
        raise SpecError(f"no command specified: the container has no command/args and image "
                        f"{image.ref} has no entrypoint or cmd")
    return argv


# --- users ------------------------------------------------------------------------------------

def _parse_db(text: bytes | None, fields: int) -> list[list[str]]:
    if not text:
        return []
    out = []
    for line in text.decode("utf-8", "replace").splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) >= fields:
            out.append(parts)
    return out


def security_context(pod: dict, container: dict) -> dict:
    """Effective security context: the container's fields over the pod's."""
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    csc = container.get("securityContext") or {}
    out = {k: psc[k] for k in ("runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions", "seccompProfile")
           if k in psc}
    out.update(csc)
    return out


def resolve_user(pod: dict, container: dict, image: ImageSpec) -> User:
    """uid/gid/additional gids per upstream + containerd (see module docstring)."""
    sc = security_context(pod, container)
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    passwd = _parse_db(image.read_file("/etc/passwd"), 7)
    groups = _parse_db(image.read_file("/etc/group"), 4)

    def user_by_name(name: str) -> list[str] | None:
        return next((p for p in passwd if p[0] == name), None)

    def user_by_uid(uid: int) -> list[str] | None:
        return next((p for p in passwd if p[2] == str(uid)), None)

    def group_id(spec: str) -> int:
        if spec.isdigit():
            return int(spec)
        g = next((g for g in groups if g[0] == spec), None)
        if g is None:
            raise SpecError(f"unable to find group {spec} in image {image.ref}")
        return int(g[2])

    entry: list[str] | None = None
    gid: int | None = None
    if sc.get("runAsUser") is not None:
        uid = int(sc["runAsUser"])
        entry = user_by_uid(uid)
    else:
        user_spec, _, group_spec = (image.user or "").partition(":")
        if not user_spec:
            uid = 0
            entry = user_by_uid(0)
        elif user_spec.isdigit():
            uid = int(user_spec)
            entry = user_by_uid(uid)
        else:
            if sc.get("runAsNonRoot"):
                raise SpecError(f"image has non-numeric user ({user_spec}), cannot verify user is non-root")
            entry = user_by_name(user_spec)
            if entry is None:
                raise SpecError(f"unable to find user {user_spec} in image {image.ref}")
            uid = int(entry[2])
        if group_spec:
            gid = group_id(group_spec)
    if sc.get("runAsGroup") is not None:
        gid = int(sc["runAsGroup"])
    if gid is None:
        gid = int(entry[3]) if entry is not None and entry[3].isdigit() else 0
    if sc.get("runAsNonRoot") and uid == 0:
        raise SpecError("container has runAsNonRoot and image will run as root")
    extra: list[int] = []
    if entry is not None:
        for g in groups:
            if entry[0] in g[3].split(",") and g[2].isdigit():
                extra.append(int(g[2]))
    for g in psc.get("supplementalGroups") or []:
        extra.append(int(g))
    if psc.get("fsGroup") is not None:
        extra.append(int(psc["fsGroup"]))
    additional = tuple(dict.fromkeys(x for x in extra if x != gid))
    return User(uid=uid, gid=gid, additional_gids=additional)


# --- resources --------------------------------------------------------------------------------

def _quantity(resources: dict, kind: str, name: str) -> Decimal | None:
    raw = (resources.get(kind) or {}).get(name)
    if raw is None:
        return None
    q = parse_quantity(raw)
    if q is None or q < 0:
        raise SpecError(f"invalid {kind}.{name} quantity {raw!r}")
    return q


def _milli(q: Decimal | None) -> int:
    if q is None:
        return 0
    return int((q * 1000).to_integral_value(rounding="ROUND_CEILING"))


def cpu_resources(container: dict) -> dict:
    """OCI linux.resources.cpu per the kubelet: shares from the request (the limit when only a
    limit is set), quota/period from the limit."""
    res = container.get("resources") or {}
    request = _milli(_quantity(res, "requests", "cpu"))
    limit = _milli(_quantity(res, "limits", "cpu"))
    milli = request if request or not limit else limit
    shares = max(MIN_SHARES, min(MAX_SHARES, milli * SHARES_PER_CPU // 1000)) if milli else MIN_SHARES
    out: dict = {"shares": shares}
    if limit:
        out["quota"] = max(MIN_QUOTA, limit * QUOTA_PERIOD // 1000)
        out["period"] = QUOTA_PERIOD
    return out


def memory_limit(container: dict) -> int | None:
    q = _quantity(container.get("resources") or {}, "limits", "memory")
    return int(q) if q else None


def qos_class(pod: dict) -> str:
    """Guaranteed / Burstable / BestEffort (status.qosClass when the API set it)."""
    reported = (pod.get("status") or {}).get("qosClass")
    if reported:
        return reported
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        for name in ("cpu", "memory"):
            r = _quantity(res, "requests", name)
            li = _quantity(res, "limits", name)
            if r is not None and r > 0:
                requests[name] = requests.get(name, Decimal(0)) + r
            if li is not None and li > 0:
                limits[name] = limits.get(name, Decimal(0)) + li
            if li is None or li == 0 or (r is not None and r != li):
                guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def oom_score_adj(pod: dict, container: dict, node_memory: int | None) -> int:
    """Upstream pkg/kubelet/qos GetContainerOOMScoreAdjust."""
    cls = qos_class(pod)
    if cls == "Guaranteed":
        return GUARANTEED_OOM_SCORE_ADJ
    if cls == "BestEffort":
        return BESTEFFORT_OOM_SCORE_ADJ
    request = _quantity(container.get("resources") or {}, "requests", "memory") or Decimal(0)
    if not node_memory:
        return 999
    adj = 1000 - int(1000 * request / node_memory)
    if adj < 2:
        return 2
    return 999 if adj == 1000 else adj


# --- security ---------------------------------------------------------------------------------

def _cap(name: str) -> str:
    name = str(name).upper()
    return name if name.startswith("CAP_") else f"CAP_{name}"


def capabilities(sc: dict, default: tuple[str, ...] = DEFAULT_CAPABILITIES) -> list[str]:
    """Effective capability list: privileged → all; else default − drop + add (ALL allowed)."""
    if sc.get("privileged"):
        return list(ALL_CAPABILITIES)
    caps = sc.get("capabilities") or {}
    add = [_cap(c) for c in caps.get("add") or []]
    drop = [_cap(c) for c in caps.get("drop") or []]
    out = [] if "CAP_ALL" in drop else [c for c in default if c not in drop]
    if "CAP_ALL" in add:
        out = list(ALL_CAPABILITIES)
    for c in add:
        if c != "CAP_ALL" and c not in out:
            out.append(c)
    if "CAP_ALL" not in drop:
        out = [c for c in out if c not in drop]
    return out


# --- mounts -----------------------------------------------------------------------------------

_PROPAGATION = {"": "rprivate", "None": "rprivate", "HostToContainer": "rslave", "Bidirectional": "rshared"}


def _default_mounts(privileged: bool, shm_path: str) -> list[dict]:
    ro = [] if privileged else ["ro"]
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", *ro]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", *ro]},
    ]
    if shm_path:
        mounts.append({"destination": "/dev/shm", "type": "bind", "source": shm_path,
                       "options": ["rbind", "rprivate", "rw"]})
    else:
        mounts.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                       "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]})
    return mounts


def _bind(destination: str, source: str, read_only: bool, propagation: str = "") -> dict:
    prop = _PROPAGATION.get(propagation or "")
    if prop is None:
        raise SpecError(f"invalid mountPropagation {propagation!r} for {destination}")
    return {"destination": destination, "type": "bind", "source": source,
            "options": ["rbind", prop, "ro" if read_only else "rw"]}


def _mounts(cfg: ContainerConfig, privileged: bool, options: SpecOptions) -> list[dict]:
    user_dests = {posixpath.normpath(m.destination) for m in cfg.mounts}
    for m in cfg.mounts:
        if not m.destination.startswith("/"):
            raise SpecError(f"mount path {m.destination!r} must be absolute")
    mounts = [m for m in _default_mounts(privileged, cfg.sandbox.shm_path) if m["destination"] not in user_dests]
    extra: list[dict] = []
    if options.tini_path:
        extra.append(_bind(TINI_IN_CONTAINER, options.tini_path, True))
    sb = cfg.sandbox
    for dest, src in (("/etc/hosts", sb.hosts_path), ("/etc/hostname", sb.hostname_path),
                      ("/etc/resolv.conf", sb.resolv_conf_path)):
        if src and dest not in user_dests:
            extra.append(_bind(dest, src, False))
    if cfg.termination_log_path:
        dest = cfg.container.get("terminationMessagePath") or DEFAULT_TERMINATION_MESSAGE_PATH
        if dest not in user_dests:
            extra.append(_bind(dest, cfg.termination_log_path, False))
    volumes = sorted(cfg.mounts, key=lambda m: posixpath.normpath(m.destination).count("/"))
    for m in volumes:
        extra.append(_bind(posixpath.normpath(m.destination), m.source, m.read_only, m.propagation))
    return mounts + extra


# --- the spec ---------------------------------------------------------------------------------

def _namespaces(cfg: ContainerConfig) -> list[dict]:
    spec = cfg.pod.get("spec") or {}
    sb = cfg.sandbox

    def ns(kind: str, path: str | None) -> dict:
        return {"type": kind, "path": path} if path else {"type": kind}

    out = [{"type": "mount"}]
    if not spec.get("hostPID"):
        out.append(ns("pid", sb.pid_ns_path if spec.get("shareProcessNamespace") else None))
    if not spec.get("hostIPC"):
        out.append(ns("ipc", sb.ipc_ns_path))
    if not spec.get("hostNetwork"):
        out.append(ns("uts", sb.uts_ns_path))
        out.append(ns("network", sb.netns_path))
    return out


def build_spec(cfg: ContainerConfig, options: SpecOptions | None = None) -> dict:
    """The config.json for this container (see module docstring). Raises SpecError."""
    options = options or SpecOptions()
    pod, container, image = cfg.pod, cfg.container, cfg.image
    meta = pod.get("metadata") or {}
    pod_spec = pod.get("spec") or {}
    sc = security_context(pod, container)
    privileged = bool(sc.get("privileged"))
    if not cfg.rootfs.startswith("/"):
        raise SpecError("the root filesystem path must be absolute")
    if not cfg.cgroups_path.startswith("/"):
        raise SpecError("the cgroups path must be absolute")

    own_env = container_env(container, cfg.env)
    env_map = dict(own_env)
    argv = command_line(container, image, env_map)
    if options.tini_path:
        argv = [TINI_IN_CONTAINER, "--", *argv]
    user = resolve_user(pod, container, image)
    caps = capabilities(sc, options.default_capabilities)
    hostname = "" if pod_spec.get("hostNetwork") else cfg.sandbox.hostname
    cwd = container.get("workingDir") or image.working_dir or "/"
    if not cwd.startswith("/"):
        raise SpecError(f"workingDir {cwd!r} must be an absolute path")

    process: dict = {
        "terminal": bool(container.get("tty")),
        "user": {"uid": user.uid, "gid": user.gid},
        "args": argv,
        "env": merged_env(image, own_env, cfg.sandbox.hostname),
        "cwd": cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": sc.get("allowPrivilegeEscalation") is False and not privileged,
        "oomScoreAdj": oom_score_adj(pod, container, options.node_memory_bytes),
    }
    if options.nofile:
        process["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": options.nofile, "soft": options.nofile}]
    if user.additional_gids:
        process["user"]["additionalGids"] = list(user.additional_gids)

    resources: dict = {
        "devices": [{"allow": privileged, "access": "rwm"}],
        "cpu": cpu_resources(container),
    }
    mem = memory_limit(container)
    if mem:
        resources["memory"] = {"limit": mem, **({"swap": mem} if options.swap_accounting else {})}
    if options.pids_limit:
        resources["pids"] = {"limit": options.pids_limit}

    linux: dict = {
        "cgroupsPath": cfg.cgroups_path,
        "namespaces": _namespaces(cfg),
        "resources": resources,
    }
    sysctls = {s["name"]: str(s.get("value", "")) for s in
               ((pod_spec.get("securityContext") or {}).get("sysctls") or []) if s.get("name")}
    if sysctls:
        linux["sysctl"] = sysctls
    masked = [] if privileged else list(MASKED_PATHS)
    if image.kind == HOST:
        masked += [p for p in options.host_masked_paths if p not in masked]
    if masked:
        linux["maskedPaths"] = masked
    if not privileged:
        linux["readonlyPaths"] = list(READONLY_PATHS)

    annotations = {
        "io.kubernetes.pod.namespace": str(meta.get("namespace") or ""),
        "io.kubernetes.pod.name": str(meta.get("name") or ""),
        "io.kubernetes.pod.uid": str(meta.get("uid") or ""),
        "io.kubernetes.container.name": str(container.get("name") or ""),
        "io.kubernetes.cri.image-name": image.ref,
        **options.annotations,
    }
    spec = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": cfg.rootfs, "readonly": bool(sc.get("readOnlyRootFilesystem"))},
        "mounts": _mounts(cfg, privileged, options),
        "linux": linux,
        "annotations": annotations,
    }
    if hostname:
        spec["hostname"] = hostname[:63]
    return spec
