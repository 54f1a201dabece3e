"""Pod volumes on the node: set up, mapped into containers, torn down (the kubelet's volume manager).

`VolumeManager.setup(pod)` makes every volume of `spec.volumes` ready and returns volume name →
host path. Each pod has `<pods_dir>/<uid>/volumes/<plugin>/<name>` with upstream plugin names
(`kubernetes.io~empty-dir`, `~configmap`, `~secret`, `~downward-api`, `~projected`):
- emptyDir: a 0777 directory, or with medium Memory a tmpfs sized like the kubelet
  (sizeLimit, else the pod's memory limit, else node allocatable memory);
- hostPath: the host path itself, type-checked (DirectoryOrCreate, File, Socket, ...);
- persistentVolumeClaim / ephemeral: the claim must be Bound to a PersistentVolume whose
  `hostPath` or `local` path is used (created when the local-path provisioner made it);
- configMap, secret, downwardAPI, projected (incl. serviceAccountToken via TokenRequest,
  cached and refreshed at 80% of its lifetime): files written like the kubelet's AtomicWriter,
  into a timestamped `..<time>` directory that the `..data` symlink is swapped to in one
  rename; the visible entries are symlinks through `..data`, so re-running `setup` refreshes
  contents atomically. Secret, downwardAPI and projected files live on tmpfs when the agent
  may mount (root), so secrets never touch the disk.
fsGroup is applied (group + setgid dirs + group rw/ro bits) to emptyDir and projected kinds.
`mounts(pod, container, paths)` turns volumeMounts into `runtime.oci.Mount`s (readOnly,
subPath/subPathExpr with the kubelet's checks, mountPropagation); `teardown(uid)` unmounts
and removes the pod's directory without ever crossing into a still-mounted filesystem, so
hostPath and persistent data are never touched; `pod_dirs()` lists uids with state on disk.
Errors: `VolumeError` (message as in the kubelet's FailedMount events). Blocking file work
runs in threads. Neighbours: `podplane.client` (API reads, TokenRequest), `agent.envvars`
(ConfigMap/Secret decoding, downward API fields), `runtime.oci.Mount`; driven by the pod worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
import posixpath
import re
import stat
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from podplane.agent.envvars import (
    FieldError,
    config_map_bytes,
    container_resource_value,
    get_config_map,
    get_secret,
    object_field_value,
    secret_bytes,
)
from podplane.agent.runtime.oci import Mount, container_env, expand
from podplane.api.errors import ApiError
from podplane.api.meta import parse_time
from podplane.api.validation import parse_quantity
from podplane.client.transport import TransportError

__all__ = [
    "DATA_DIR",
    "FileProjection",
    "VolumeError",
    "VolumeManager",
    "atomic_write",
    "check_host_path",
    "plugin_dir",
    "volume_kind",
]

log = logging.getLogger(__name__)

EMPTY_DIR = "kubernetes.io~empty-dir"
PLUGIN_DIRS = {
    "emptyDir": EMPTY_DIR,
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}
READ_ONLY_KINDS = frozenset({"configMap", "secret", "downwardAPI", "projected"})
"""Kinds the kubelet always mounts read-only (their mounters' ReadOnly attribute)."""
MEMORY_KINDS = frozenset({"secret", "downwardAPI", "projected"})
"""Kinds whose files the kubelet keeps on tmpfs (a wrapped emptyDir with medium Memory)."""
DEFAULT_MODE = 0o644
DATA_DIR = "..data"
DATA_DIR_TMP = "..data_tmp"
MAX_FILE_NAME = 255
MAX_PATH = 4096
EMPTY_DIR_MODE = 0o777
HOST_DIR_MODE = 0o755
HOST_FILE_MODE = 0o644
LOCAL_PATH_PROVISIONER = "podplane.io/local-path"
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
DEFAULT_TOKEN_SECONDS = 3600
TOKEN_MAX_TTL = 24 * 3600.0
"""A token older than this is refreshed whatever its expiry (kubelet token manager maxTTL)."""
RW_MASK, RO_MASK, EXEC_MASK = 0o660, 0o440, 0o110
MNT_DETACH = 2

_libc: ctypes.CDLL | None = None


class VolumeError(Exception):
    """A volume could not be set up, mapped or torn down. `volume` names it ("" for the pod);
    the message is the kubelet's (FailedMount events; CreateContainerConfigError for mounts).
    When several volumes fail, the first is raised and `errors` holds them all."""

    def __init__(self, volume: str, message: str, *, reason: str = "FailedMount") -> None:
        super().__init__(message)
        self.volume = volume
        self.message = message
        self.reason = reason
        self.errors: list[VolumeError] = [self]

    def __str__(self) -> str:
        return self.message

    @classmethod
    def setup_failed(cls, volume: str, detail: str) -> VolumeError:
        return cls(volume, f'MountVolume.SetUp failed for volume "{volume}" : {detail}')

    @classmethod
    def config(cls, volume: str, message: str) -> VolumeError:
        """A volumeMount the container cannot use (the kubelet's makeMounts errors)."""
        return cls(volume, message, reason="CreateContainerConfigError")


class _Failure(Exception):
    """Internal: a volume's setup failed with this upstream detail."""


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int = DEFAULT_MODE
    fs_user: int | None = None


def volume_kind(volume: dict) -> str:
    """The source field of a volume (`emptyDir`, `configMap`, ...); none set defaults to emptyDir."""
    return next((k for k, v in volume.items() if k != "name" and v is not None), "emptyDir")


def plugin_dir(kind: str) -> str:
    return PLUGIN_DIRS[kind]


def _go_err(op: str, path: str, e: OSError) -> str:
    """Go's *PathError text: `mkdir /x: permission denied`."""
    text = os.strerror(e.errno) if e.errno else str(e)
    return f"{op} {path}: {text[:1].lower()}{text[1:]}"


def _aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error()."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# --- host filesystem helpers (blocking) ---------------------------------------------------------

def _file_type(path: str) -> str | None:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISDIR(mode):
        return "Directory"
    if stat.S_ISREG(mode):
        return "File"
    if stat.S_ISSOCK(mode):
        return "Socket"
    if stat.S_ISCHR(mode):
        return "CharDevice"
    if stat.S_ISBLK(mode):
        return "BlockDevice"
    return None


_TYPE_NAMES = {"Directory": "a directory", "File": "a file", "Socket": "a socket file",
               "CharDevice": "a character device", "BlockDevice": "a block device"}


def check_host_path(path: str, path_type: str) -> None:
    """The hostPath plugin's checkType: create for *OrCreate, else the type must match.
    Raises _Failure with the kubelet's message."""
    if path_type == "":
        return
    exists = os.path.lexists(path)
    if path_type == "DirectoryOrCreate":
        if not exists:
            try:
                os.makedirs(path, HOST_DIR_MODE, exist_ok=True)
            except OSError as e:
                raise _Failure(_go_err("mkdir", path, e)) from e
            return
        path_type = "Directory"
    elif path_type == "FileOrCreate":
        if not exists:
            try:
                os.close(os.open(path, os.O_CREAT | os.O_RDONLY | os.O_CLOEXEC, HOST_FILE_MODE))
            except OSError as e:
                raise _Failure(_go_err("open", path, e)) from e
            return
        path_type = "File"
    if path_type not in _TYPE_NAMES:
        raise _Failure(f"{path_type} is an invalid volume type")
    if _file_type(path) != path_type:
        raise _Failure(f"hostPath type check failed: {path} is not {_TYPE_NAMES[path_type]}")


_OCTAL = re.compile(r"\\([0-7]{3})")


def _mountinfo() -> list[tuple[str, str]]:
    """(mount point, fs type) of every mount in our mount namespace."""
    out = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                head, sep, tail = line.partition(" - ")
                fields = head.split()
                if not sep or len(fields) < 5:
                    continue
                point = fields[4]
                if "\\" in point:  # octal escapes (\040 for a space)
                    point = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), point)
                out.append((point, tail.split()[0] if tail.split() else ""))
    except OSError:
        pass
    return out


def _libc_call() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _mount_tmpfs(target: str, size: int | None) -> None:
    options = f"size={size}" if size else ""
    rc = _libc_call().mount(b"tmpfs", os.fsencode(target), b"tmpfs", ctypes.c_ulong(0),
                            options.encode() if options else None)
    if rc != 0:
        err = ctypes.get_errno()
        args = f"-t tmpfs{' -o ' + options if options else ''} tmpfs {target}"
        raise _Failure(f"mount failed: {os.strerror(err)}\nMounting command: mount\nMounting arguments: {args}")


def _unmount(target: str) -> None:
    libc = _libc_call()
    if libc.umount2(os.fsencode(target), 0) == 0:
        return
    err = ctypes.get_errno()
    if err == errno.EINVAL:  # not a mount point (any more)
        return
    if err == errno.EBUSY and libc.umount2(os.fsencode(target), MNT_DETACH) == 0:
        return
    raise OSError(err, os.strerror(err), target)


def _set_ownership(root: str, fs_group: int, read_only: bool) -> None:
    """volume.SetVolumeOwnership: group fsGroup on everything, group rw (ro) bits on files,
    plus setgid and group x on directories; symlinks are chowned but never chmodded."""
    mask = RO_MASK if read_only else RW_MASK

    def change(path: str) -> None:
        try:
            st = os.lstat(path)
            os.lchown(path, -1, fs_group)
        except OSError as e:
            log.warning("fsGroup: chown %s failed: %s", path, e)
            return
        if stat.S_ISLNK(st.st_mode):
            return
        mode = stat.S_IMODE(st.st_mode) | mask
        if stat.S_ISDIR(st.st_mode):
            mode |= stat.S_ISGID | EXEC_MASK
        try:
            os.chmod(path, mode)
        except OSError as e:
            log.warning("fsGroup: chmod %s failed: %s", path, e)

    change(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            change(os.path.join(dirpath, name))


def _setup_dir(path: str) -> None:
    """emptyDir's setupDir: the directory exists with mode 0777 whatever the umask."""
    os.makedirs(path, EMPTY_DIR_MODE, exist_ok=True)
    if stat.S_IMODE(os.stat(path).st_mode) & 0o777 != EMPTY_DIR_MODE:
        os.chmod(path, (stat.S_IMODE(os.stat(path).st_mode) & ~0o777) | EMPTY_DIR_MODE)


# --- AtomicWriter -------------------------------------------------------------------------------

def _validate_path(target: str) -> None:
    if target == "":
        raise _Failure(f'invalid path: must not be empty: "{target}"')
    if target.startswith("/"):
        raise _Failure(f"invalid path: must be relative path: {target}")
    if len(target) > MAX_PATH:
        raise _Failure(f"invalid path: must be less than or equal to {MAX_PATH} characters")
    items = target.split("/")
    for item in items:
        if item == "..":
            raise _Failure(f"invalid path: must not contain '..': {target}")
        if len(item) > MAX_FILE_NAME:
            raise _Failure(f"invalid path: filenames must be less than or equal to {MAX_FILE_NAME} characters")
    if items[0].startswith("..") and len(items[0]) > 2:
        raise _Failure(f"invalid path: must not start with '..': {target}")


def _clean_payload(payload: Mapping[str, FileProjection]) -> dict[str, FileProjection]:
    out = {}
    for path, content in payload.items():
        _validate_path(path)
        out[posixpath.normpath(path)] = content
    return out


def _old_paths(ts_dir: str) -> set[str]:
    paths: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(ts_dir):
        for name in dirnames + filenames:
            paths.add(os.path.relpath(os.path.join(dirpath, name), ts_dir))
    return paths


def _should_write(target_dir: str, payload: Mapping[str, FileProjection]) -> bool:
    for path, content in payload.items():
        full = os.path.join(target_dir, path)
        if not os.path.lexists(full):
            return True
        try:
            with open(full, "rb") as f:
                if f.read() != content.data:
                    return True
        except OSError:
            return True
    return False


def atomic_write(target_dir: str, payload: Mapping[str, FileProjection], *, now: float | None = None,
                 set_perms: Callable[[str], None] | None = None) -> bool:
    """The kubelet's AtomicWriter.Write: project payload into target_dir (which must exist)
    through a new timestamped directory and one `..data` symlink rename. Returns whether
    anything changed. Raises _Failure for an invalid payload path."""
    payload = _clean_payload(payload)
    data_link = os.path.join(target_dir, DATA_DIR)
    old_ts_name = os.readlink(data_link) if os.path.islink(data_link) else ""
    old_ts_dir = os.path.join(target_dir, old_ts_name) if old_ts_name else ""
    old_exists = bool(old_ts_dir) and os.path.isdir(old_ts_dir)

    to_remove: set[str] = set()
    if old_exists:
        new_paths: set[str] = set()
        for path in payload:
            while path:
                new_paths.add(path)
                path = posixpath.dirname(path)
        to_remove = _old_paths(old_ts_dir) - new_paths
    if old_exists and not to_remove and not _should_write(target_dir, payload):
        return False

    stamp = time.strftime("%Y_%m_%d_%H_%M_%S.", time.gmtime(time.time() if now is None else now))
    ts_dir = tempfile.mkdtemp(prefix=".." + stamp, dir=target_dir)
    os.chmod(ts_dir, 0o755)
    try:
        for path, content in payload.items():
            full = os.path.join(ts_dir, path)
            os.makedirs(os.path.dirname(full), 0o755, exist_ok=True)
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, content.mode & 0o7777)
            try:
                _write_all(fd, content.data)
            finally:
                os.close(fd)
            os.chmod(full, content.mode & 0o7777)  # open(2) applied the umask
            if content.fs_user is not None:
                try:
                    os.chown(full, content.fs_user, -1)
                except OSError as e:
                    raise _Failure(f"unable to change file {full} owner: {e}") from e
        if set_perms is not None:
            set_perms(ts_dir)
        tmp_link = os.path.join(target_dir, DATA_DIR_TMP)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_link)
        os.symlink(os.path.basename(ts_dir), tmp_link)
        os.rename(tmp_link, data_link)
    except BaseException:
        _remove_tree(ts_dir, os.lstat(target_dir).st_dev)
        raise
    for path in payload:
        top = path.split("/", 1)[0]
        visible = os.path.join(target_dir, top)
        if not os.path.lexists(visible):
            os.symlink(os.path.join(DATA_DIR, top), visible)
    for path in to_remove:
        if "/" not in path:
            try:
                os.unlink(os.path.join(target_dir, path))
            except OSError as e:
                log.warning("could not remove %s from %s: %s", path, target_dir, e)
    dev = os.lstat(target_dir).st_dev
    keep = {DATA_DIR, DATA_DIR_TMP, os.path.basename(ts_dir)}
    with os.scandir(target_dir) as entries:
        # the previous version, and any left by a crash between mkdtemp and the swap
        stale = [e.path for e in entries if e.name.startswith("..") and e.name not in keep
                 and e.is_dir(follow_symlinks=False)]
    for path in stale:
        _remove_tree(path, dev)
    return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _remove_tree(path: str, dev: int) -> None:
    """rm -r that follows no symlink and refuses to enter another filesystem (a mount)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return
    if st.st_dev != dev:
        raise OSError(errno.EBUSY, "another filesystem is mounted here", path)
    if not os.access(path, os.W_OK | os.X_OK, follow_symlinks=False):
        with contextlib.suppress(OSError):
            os.chmod(path, stat.S_IMODE(st.st_mode) | 0o700)
    with os.scandir(path) as entries:
        children = [e.path for e in entries]
    for child in children:
        _remove_tree(child, dev)
    os.rmdir(path)


# --- the manager --------------------------------------------------------------------------------

@dataclass
class _Token:
    token: str
    expires: float
    seconds: int


def _fs_user(pod: dict) -> int | None:
    """volumeutil.FsUserFrom: the one runAsUser all (init) containers effectively share."""
    spec = pod.get("spec") or {}
    pod_user = (spec.get("securityContext") or {}).get("runAsUser")
    user: int | None = None
    for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
        own = (c.get("securityContext") or {}).get("runAsUser")
        effective = own if own is not None else pod_user
        if effective is None or (user is not None and int(effective) != user):
            return None
        user = int(effective)
    return user


def _pod_memory_limit(pod: dict) -> Decimal | None:
    """The pod cgroup's memory limit (cm.ResourceConfigForPod): only when every app container
    declares one; the sum of app containers, at least the largest init container's."""
    spec = pod.get("spec") or {}
    total = Decimal(0)
    for c in spec.get("containers") or []:
        q = parse_quantity(((c.get("resources") or {}).get("limits") or {}).get("memory"))
        if not q:
            return None
        total += q
    for c in spec.get("initContainers") or []:
        q = parse_quantity(((c.get("resources") or {}).get("limits") or {}).get("memory"))
        if q and q > total:
            total = q
    return total


class VolumeManager:
    """Sets up, maps and tears down pod volumes under `pods_dir` (see module docstring).

    `node_allocatable` (mapping or zero-argument callable): for resourceFieldRef defaults and
    memory-backed emptyDir sizes. `memory_backed`: keep secret/downwardAPI/projected files on
    tmpfs; None → only when running as root (mounting needs CAP_SYS_ADMIN)."""

    def __init__(self, client, pods_dir: str, *, clock: Callable[[], float] = time.time,
                 node_allocatable: Mapping[str, Decimal] | Callable[[], Mapping[str, Decimal]] | None = None,
                 memory_backed: bool | None = None) -> None:
        self.client = client
        self.pods_dir = os.path.abspath(pods_dir)
        self.clock = clock
        self._allocatable = node_allocatable
        self.memory_backed = (os.geteuid() == 0) if memory_backed is None else memory_backed
        self._locks: dict[str, asyncio.Lock] = {}
        self._static: dict[str, dict[str, str]] = {}
        """uid → volume → path for kinds set up once (emptyDir, hostPath, claims)."""
        self._tokens: dict[tuple, _Token] = {}

    # -- layout --------------------------------------------------------------------------------
    def pod_dir(self, uid: str) -> str:
        if not uid or "/" in uid or uid in (".", ".."):
            raise VolumeError("", f"invalid pod uid {uid!r}")
        return os.path.join(self.pods_dir, uid)

    def volume_dir(self, uid: str, kind: str, name: str) -> str:
        return os.path.join(self.pod_dir(uid), "volumes", PLUGIN_DIRS[kind], name)

    def _ready_file(self, uid: str, kind: str, name: str) -> str:
        return os.path.join(self.pod_dir(uid), "plugins", PLUGIN_DIRS[kind], name, "ready")

    def pod_dirs(self) -> list[str]:
        try:
            with os.scandir(self.pods_dir) as entries:
                return sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
        except FileNotFoundError:
            return []

    def _node_allocatable(self) -> Mapping[str, Decimal] | None:
        a = self._allocatable
        return a() if callable(a) else a

    def _lock(self, uid: str) -> asyncio.Lock:
        return self._locks.setdefault(uid, asyncio.Lock())

    # -- setup ---------------------------------------------------------------------------------
    async def setup(self, pod: dict) -> dict[str, str]:
        """Make every volume ready; volume name → host path. Sets up all it can, then raises the
        first VolumeError (its `errors` lists every failed volume)."""
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        self.pod_dir(uid)
        async with self._lock(uid):
            paths: dict[str, str] = {}
            failed: list[VolumeError] = []
            for vol in (pod.get("spec") or {}).get("volumes") or []:
                name = str(vol.get("name") or "")
                try:
                    paths[name] = await self._setup_volume(pod, uid, vol)
                except _Failure as e:
                    failed.append(VolumeError.setup_failed(name, str(e)))
                except VolumeError as e:
                    failed.append(e)
                except OSError as e:
                    failed.append(VolumeError.setup_failed(name, str(e)))
            if failed:
                first = failed[0]
                first.errors = failed
                raise first
            return paths

    async def _setup_volume(self, pod: dict, uid: str, vol: dict) -> str:
        name = str(vol.get("name") or "")
        kind = volume_kind(vol)
        source = vol.get(kind) or {}
        cached = self._static.get(uid, {}).get(name)
        if cached is not None:
            return cached
        if kind == "emptyDir":
            path = await self._setup_empty_dir(pod, uid, name, source)
        elif kind == "hostPath":
            path = str(source.get("path") or "")
            await asyncio.to_thread(check_host_path, path, str(source.get("type") or ""))
        elif kind == "persistentVolumeClaim":
            path = await self._setup_claim(pod, str(source.get("claimName") or ""))
        elif kind == "ephemeral":
            claim = f"{pod['metadata'].get('name')}-{name}"
            path = await self._setup_claim(pod, claim, ephemeral=True)
        elif kind in ("configMap", "secret", "downwardAPI", "projected"):
            payload = await self._payload(pod, kind, source)
            path = self.volume_dir(uid, kind, name)
            fs_group = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
            memory = self.memory_backed and kind in MEMORY_KINDS
            size = self._tmpfs_size(pod, None) if memory else None
            await asyncio.to_thread(self._write_projection, path, payload, fs_group, memory, size)
            return path  # refreshed on every setup, never cached
        else:
            raise _Failure(f'no volume plugin matched: {kind} volumes are not supported on this node')
        self._static.setdefault(uid, {})[name] = path
        return path

    def _tmpfs_size(self, pod: dict, size_limit: object) -> int | None:
        """calculateEmptyDirMemorySize: allocatable memory, lowered to the pod's memory limit and then
        to the volume's sizeLimit when those are positive and smaller."""
        allocatable = (self._node_allocatable() or {}).get("memory")
        size = Decimal(allocatable) if allocatable else None
        for candidate in (_pod_memory_limit(pod), parse_quantity(size_limit) if size_limit is not None else None):
            if candidate and candidate > 0 and (size is None or candidate <= size):
                size = candidate
        return int(size) if size else None

    async def _setup_empty_dir(self, pod: dict, uid: str, name: str, source: dict) -> str:
        medium = str(source.get("medium") or "")
        if medium not in ("", "Memory"):
            if medium.startswith("HugePages"):
                raise _Failure(f'hugepages-backed emptyDir (medium "{medium}") is not supported on this node')
            raise _Failure(f'unknown storage medium "{medium}"')
        path = self.volume_dir(uid, "emptyDir", name)
        ready = self._ready_file(uid, "emptyDir", name)
        fs_group = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
        size = self._tmpfs_size(pod, source.get("sizeLimit")) if medium == "Memory" else None

        def work() -> None:
            if os.path.exists(ready) and os.path.isdir(path) and (medium == "" or os.path.ismount(path)):
                return
            _setup_dir(path)
            if medium == "Memory" and not os.path.ismount(path):
                _mount_tmpfs(path, size)
            if fs_group is not None:
                _set_ownership(path, int(fs_group), read_only=False)
            os.makedirs(os.path.dirname(ready), 0o750, exist_ok=True)
            with open(ready, "w"):
                pass

        await asyncio.to_thread(work)
        return path

    def _write_projection(self, path: str, payload: dict[str, FileProjection], fs_group: object, memory: bool,
                          size: int | None) -> None:
        _setup_dir(path)
        if memory and not os.path.ismount(path):
            _mount_tmpfs(path, size)
        set_perms = None
        if fs_group is not None:
            def set_perms(ts_dir: str) -> None:
                _set_ownership(ts_dir, int(fs_group), read_only=True)
        if atomic_write(path, payload, now=self.clock(), set_perms=set_perms) and fs_group is not None:
            with contextlib.suppress(OSError):
                os.lchown(path, -1, int(fs_group))

    # -- claims --------------------------------------------------------------------------------
    async def _read(self, plural: str, name: str, namespace: str | None) -> dict | None:
        try:
            return await self.client.get(self.client.resource("", plural), name, namespace)
        except ApiError as e:
            if e.code == 404:
                return None
            raise _Failure(str(e)) from e
        except TransportError as e:
            raise _Failure(str(e)) from e

    async def _setup_claim(self, pod: dict, claim_name: str, *, ephemeral: bool = False) -> str:
        """The desired-state populator's checks (claim Bound, PV bound back to it), then the PV's path."""
        meta = pod.get("metadata") or {}
        ns = str(meta.get("namespace") or "default")
        prefix = f"error processing PVC {ns}/{claim_name}: "
        claim = await self._read("persistentvolumeclaims", claim_name, ns)
        if claim is None:
            raise _Failure(f'{prefix}persistentvolumeclaim "{claim_name}" not found')
        if ephemeral and not any(r.get("controller") and r.get("uid") == meta.get("uid")
                                 for r in claim["metadata"].get("ownerReferences") or []):
            raise _Failure(f"PVC {ns}/{claim_name} was not created for pod {ns}/{meta.get('name')} "
                           f"(pod is not owner)")
        if claim["metadata"].get("deletionTimestamp"):
            raise _Failure(prefix + "PVC is being deleted")
        if (claim.get("status") or {}).get("phase") != "Bound":
            raise _Failure(prefix + "PVC is not bound")
        pv_name = str((claim.get("spec") or {}).get("volumeName") or "")
        if not pv_name:
            raise _Failure(prefix + "PVC has empty pvc.Spec.VolumeName")
        pv = await self._read("persistentvolumes", pv_name, None)
        if pv is None:
            raise _Failure(f'{prefix}failed to fetch PV {pv_name} from API server: '
                           f'persistentvolumes "{pv_name}" not found')
        ref = (pv.get("spec") or {}).get("claimRef")
        if not ref:
            raise _Failure(f"{prefix}found PV object {pv_name} but it has a nil pv.Spec.ClaimRef indicating it "
                           f"is not yet bound to the claim")
        if ref.get("uid") != claim["metadata"].get("uid"):
            raise _Failure(f"{prefix}found PV object {pv_name} but its pv.Spec.ClaimRef.UID ({ref.get('uid')}) "
                           f"does not point to claim.UID ({claim['metadata'].get('uid')})")
        spec = pv.get("spec") or {}
        local_path = (pv["metadata"].get("annotations") or {}).get(ANN_PROVISIONED_BY) == LOCAL_PATH_PROVISIONER
        if spec.get("hostPath"):
            path = str(spec["hostPath"].get("path") or "")
            path_type = str(spec["hostPath"].get("type") or "")
        elif spec.get("local"):
            path, path_type = str(spec["local"].get("path") or ""), "Directory"
        else:
            kind = next((k for k in ("csi", "nfs", "iscsi", "rbd", "cephfs", "fc", "awsElasticBlockStore",
                                     "gcePersistentDisk", "azureDisk") if spec.get(k)), "unknown")
            raise _Failure(f"no volume plugin matched: {kind} persistent volumes are not supported on this node")

        def work() -> None:
            if local_path and not os.path.lexists(path):
                # the provisioner only made the API object; the directory is ours to create
                os.makedirs(path, 0o777, exist_ok=True)
                os.chmod(path, 0o777)
            if spec.get("local") and not os.path.lexists(path):
                raise _Failure(f'path "{path}" does not exist')
            check_host_path(path, path_type)

        await asyncio.to_thread(work)
        return path

    # -- payloads ------------------------------------------------------------------------------
    async def _payload(self, pod: dict, kind: str, source: dict) -> dict[str, FileProjection]:
        default_mode = int(source.get("defaultMode") if source.get("defaultMode") is not None else DEFAULT_MODE)
        if kind == "configMap":
            return await self._object_payload(pod, "configmap", source, default_mode)
        if kind == "secret":
            return await self._object_payload(pod, "secret", {**source, "name": source.get("secretName")},
                                              default_mode)
        if kind == "downwardAPI":
            return self._downward_payload(pod, source.get("items") or [], default_mode)
        return await self._projected_payload(pod, source, default_mode)

    async def _object_payload(self, pod: dict, kind: str, source: dict, default_mode: int
                              ) -> dict[str, FileProjection]:
        """configmap/secret MakePayload: all keys with defaultMode, or the listed items."""
        ns = str(pod["metadata"].get("namespace") or "default")
        name = str(source.get("name") or "")
        optional = bool(source.get("optional"))
        getter = get_config_map if kind == "configmap" else get_secret
        try:
            obj = await getter(self.client, ns, name)
        except (ApiError, TransportError) as e:
            raise _Failure(str(e)) from e
        if obj is None:
            if not optional:
                raise _Failure(f'{kind} "{name}" not found')
            obj = {}
        if kind == "configmap":
            data, binary = config_map_bytes(obj)
            values = {**binary, **data}
        else:
            values = secret_bytes(obj)
        items = source.get("items") or []
        if not items:
            return {k: FileProjection(v, default_mode) for k, v in values.items()}
        payload = {}
        for item in items:
            key = str(item.get("key") or "")
            if key not in values:
                if optional:
                    continue
                what = "configmap references non-existent config key" if kind == "configmap" else \
                    "references non-existent secret key"
                raise _Failure(f"{what}: {key}")
            mode = item.get("mode")
            payload[str(item.get("path") or "")] = FileProjection(values[key], int(default_mode if mode is None
                                                                                  else mode))
        return payload

    def _downward_payload(self, pod: dict, items: Sequence[dict], default_mode: int) -> dict[str, FileProjection]:
        """downwardapi.CollectData: metadata fields and container resources, errors aggregated."""
        errs: list[str] = []
        payload = {}
        for item in items:
            mode = int(item["mode"]) if item.get("mode") is not None else default_mode
            data = b""
            try:
                if item.get("fieldRef"):
                    data = object_field_value(pod, str(item["fieldRef"].get("fieldPath") or "")).encode()
                elif item.get("resourceFieldRef"):
                    data = container_resource_value(item["resourceFieldRef"], pod, None, self._node_allocatable(),
                                                    volume=True).encode()
            except FieldError as e:
                errs.append(str(e))
            payload[posixpath.normpath(str(item.get("path") or ""))] = FileProjection(data, mode)
        if errs:
            raise _Failure(_aggregate(errs))
        return payload

    async def _projected_payload(self, pod: dict, source: dict, default_mode: int) -> dict[str, FileProjection]:
        fs_group = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
        fs_user = _fs_user(pod)
        errs: list[str] = []
        payload: dict[str, FileProjection] = {}
        for src in source.get("sources") or []:
            try:
                if src.get("configMap") is not None:
                    payload.update(await self._object_payload(pod, "configmap", src["configMap"], default_mode))
                elif src.get("secret") is not None:
                    payload.update(await self._object_payload(pod, "secret", src["secret"], default_mode))
                elif src.get("downwardAPI") is not None:
                    payload.update(self._downward_payload(pod, src["downwardAPI"].get("items") or [], default_mode))
                elif src.get("serviceAccountToken") is not None:
                    tp = src["serviceAccountToken"]
                    # with fsGroup the ownership pass later turns 0600 into 0640
                    mode = 0o600 if fs_user is not None or fs_group is not None else default_mode
                    token = await self._token(pod, tp)
                    payload[str(tp.get("path") or "")] = FileProjection(token.encode(), mode, fs_user)
                elif src.get("clusterTrustBundle") is not None:
                    errs.append("clusterTrustBundle projections are not supported on this node")
                elif src.get("podCertificate") is not None:
                    errs.append("podCertificate projections are not supported on this node")
            except _Failure as e:
                errs.append(str(e))
        if errs:
            raise _Failure(_aggregate(errs))
        return payload

    async def _token(self, pod: dict, tp: dict) -> str:
        """The kubelet token manager: cached per (account, audience, lifetime, pod); refreshed past
        80% of the lifetime or 24 h; a failed refresh keeps a still-valid token."""
        meta = pod.get("metadata") or {}
        ns = str(meta.get("namespace") or "default")
        account = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
        audience = str(tp.get("audience") or "")
        seconds = int(tp.get("expirationSeconds") or DEFAULT_TOKEN_SECONDS)
        key = (ns, account, audience, seconds, str(meta.get("name") or ""), str(meta.get("uid") or ""))
        now = self.clock()
        cached = self._tokens.get(key)
        if cached is not None and not self._requires_refresh(cached, now):
            return cached.token
        spec: dict = {"expirationSeconds": seconds,
                      "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta.get("name"),
                                         "uid": meta.get("uid")}}
        if audience:
            spec["audiences"] = [audience]
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        try:
            tr = await self.client.create_subresource(self.client.resource("", "serviceaccounts"), account, "token",
                                                      body, ns)
            token = str((tr.get("status") or {}).get("token") or "")
            if not token:
                raise _Failure("the TokenRequest response has no token")
        except (ApiError, TransportError, _Failure) as e:
            if cached is None:
                raise _Failure(f"failed to fetch token: {e}") from e
            if now >= cached.expires:
                raise _Failure(f"token {account} expired and refresh failed: {e}") from e
            log.warning("could not refresh the token of %s/%s: %s", ns, account, e)
            return cached.token
        stamp = (tr.get("status") or {}).get("expirationTimestamp")
        granted = int((tr.get("spec") or {}).get("expirationSeconds") or seconds)
        try:
            expires = parse_time(stamp).timestamp() if stamp else now + granted
        except ValueError:
            expires = now + granted
        self._tokens[key] = _Token(token, expires, granted)
        return token

    @staticmethod
    def _requires_refresh(token: _Token, now: float) -> bool:
        issued = token.expires - token.seconds
        return now > issued + TOKEN_MAX_TTL or now > token.expires - token.seconds * 20 // 100

    # -- container mounts ----------------------------------------------------------------------
    def mounts(self, pod: dict, container: dict, paths: Mapping[str, str], *,
               env: Sequence[tuple[str, str]] | None = None) -> tuple[Mount, ...]:
        """The container's volumeMounts as runtime mounts (kubelet makeMounts). `env`: the resolved
        environment for subPathExpr (default: the container's literal values). Raises VolumeError
        (reason CreateContainerConfigError)."""
        volumes = {str(v.get("name") or ""): v for v in (pod.get("spec") or {}).get("volumes") or []}
        cname = str(container.get("name") or "")
        out: list[Mount] = []
        for vm in container.get("volumeMounts") or []:
            name = str(vm.get("name") or "")
            if name not in paths or name not in volumes:
                raise VolumeError.config(name, f'cannot find volume "{name}" to mount into container "{cname}"')
            vol = volumes[name]
            kind = volume_kind(vol)
            sub = str(vm.get("subPath") or "")
            if vm.get("subPathExpr"):
                sub = self._expand_sub_path(name, str(vm["subPathExpr"]), container, env)
            host = paths[name]
            if sub:
                if sub.startswith("/"):
                    raise VolumeError.config(name, f"error SubPath `{sub}` must not be an absolute path")
                if ".." in sub.split("/"):
                    raise VolumeError.config(name, f"unable to provision SubPath `{sub}`: must not contain '..'")
                host = self._prepare_sub_path(name, cname, host, sub)
            propagation = vm.get("mountPropagation") or ""
            if propagation not in ("", "None", "HostToContainer", "Bidirectional"):
                raise VolumeError.config(name, f'invalid MountPropagation mode: "{propagation}"')
            read_only = bool(vm.get("readOnly")) or kind in READ_ONLY_KINDS or bool(
                kind == "persistentVolumeClaim" and (vol.get(kind) or {}).get("readOnly"))
            out.append(Mount(destination=str(vm.get("mountPath") or ""), source=host, read_only=read_only,
                             propagation="" if propagation == "None" else propagation))
        return tuple(out)

    @staticmethod
    def _expand_sub_path(volume: str, expr: str, container: dict, env: Sequence[tuple[str, str]] | None) -> str:
        """ExpandContainerVolumeMounts: every referenced variable must be set and non-empty."""
        values = dict(env) if env is not None else dict(container_env(container))
        missing: set[str] = set()

        class Lookup(dict):
            def __contains__(self, key: object) -> bool:
                if not values.get(str(key)):
                    missing.add(str(key))
                return True

            def __getitem__(self, key: str) -> str:
                return values.get(key, "")

        expanded = expand(expr, Lookup())
        if missing:
            raise VolumeError.config(volume, f"missing value for {', '.join(sorted(missing))}")
        return expanded

    @staticmethod
    def _prepare_sub_path(volume: str, container: str, volume_path: str, sub: str) -> str:
        """SafeMakeDir + PrepareSafeSubpath: create missing directories (with the volume root's
        mode) without following a symlink out of the volume, and resolve the final path inside it."""
        base = os.path.realpath(volume_path)

        def inside(path: str) -> bool:
            return path == base or path.startswith(base.rstrip("/") + "/")

        target = os.path.join(volume_path, sub)
        if not os.path.lexists(target):
            try:
                perm = stat.S_IMODE(os.stat(volume_path).st_mode) & 0o777
                current = base
                for part in [p for p in sub.split("/") if p not in ("", ".")]:
                    nxt = os.path.join(current, part)
                    if os.path.lexists(nxt):
                        nxt = os.path.realpath(nxt)
                        if not inside(nxt) or not os.path.isdir(nxt):
                            raise OSError(errno.ENOTDIR, "escapes the volume or is not a directory", nxt)
                    else:
                        os.mkdir(nxt, perm)
                        os.chmod(nxt, perm)
                    current = nxt
            except OSError as e:
                log.warning("subPath %s of volume %s: %s", sub, volume, e)
                raise VolumeError.config(volume, f'failed to create subPath directory for volumeMount "{volume}" '
                                                 f'of container "{container}"') from e
        resolved = os.path.realpath(target)
        if not inside(resolved) or not os.path.lexists(resolved):
            raise VolumeError.config(volume, f'failed to prepare subPath for volumeMount "{volume}" of container '
                                             f'"{container}"')
        return resolved

    # -- teardown ------------------------------------------------------------------------------
    async def teardown(self, pod_uid: str) -> None:
        """Unmount and remove everything the pod has under pods_dir; idempotent. Never crosses into a
        filesystem still mounted below the pod directory (raises VolumeError instead)."""
        pod_dir = self.pod_dir(pod_uid)
        async with self._lock(pod_uid):
            try:
                await asyncio.to_thread(self._teardown, pod_dir)
            except OSError as e:
                raise VolumeError("", f'UnmountVolume.TearDown failed for pod "{pod_uid}" : {e}') from e
            self._static.pop(pod_uid, None)
            for key in [k for k in self._tokens if k[5] == pod_uid]:
                del self._tokens[key]
        self._locks.pop(pod_uid, None)

    @staticmethod
    def _teardown(pod_dir: str) -> None:
        if not os.path.lexists(pod_dir):
            return
        real = os.path.realpath(pod_dir)

        def mounted() -> list[str]:
            return sorted({p for p, _ in _mountinfo() if p.startswith(real + "/") or p == real},
                          key=lambda p: p.count("/"), reverse=True)

        for point in mounted():
            _unmount(point)
        left = mounted()
        if left:
            raise OSError(errno.EBUSY, f"still mounted: {', '.join(left)}")
        _remove_tree(pod_dir, os.lstat(pod_dir).st_dev)
