"""cgroups as the runc runtime uses them: where a container's groups are, what they hold, cleanup.

runc creates and configures the groups from the `linux.cgroupsPath` of a bundle (an
absolute path such as `/podplane/pod<uid>/<container-id>`, placed under each controller's
mount root, like the kubelet's `/kubepods/...`). This module only finds and reads them:
`Cgroups.detect()` learns the layout from /proc/self/mountinfo (cgroup v1 or "hybrid", one
mount per controller, as on the project's machines; or the v2 unified hierarchy), `stats`
reads usage for `kubectl top` (memory usage and working set, cpu time in ns, OOM kills,
pids), `oom_kill_file` tells the shim where the OOM-kill counter is, `limits` reads back
cpu quota/shares and the memory limit (tests, diagnostics), and `remove` deletes a group
and its children in every controller, idempotently (pod-level parents included).
Neighbours: `runtime.runc` (the only user), `runtime.oci` (writes the limits into the spec).
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass

__all__ = ["V1_CONTROLLERS", "CgroupError", "CgroupLimits", "CgroupStats", "Cgroups"]

V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids", "cpuset", "blkio", "devices", "freezer", "hugetlb",
                  "net_cls", "net_prio", "perf_event", "rdma", "misc", "name=systemd")
"""Controllers runc may create groups in on a v1 host."""

UNLIMITED = 1 << 62
"""v1 reports "no limit" as a huge number (page-rounded LONG_MAX); anything above this is no limit."""


class CgroupError(Exception):
    """A cgroup could not be read or removed (temporary: a busy group empties once its tasks exit)."""

    temporary = True


@dataclass(frozen=True)
class CgroupStats:
    """Usage of one group at one moment (what cAdvisor/kubelet summary stats report)."""

    timestamp: float
    cpu_usage_ns: int
    memory_usage_bytes: int
    memory_working_set_bytes: int
    """usage minus inactive file cache: what `kubectl top` and eviction look at."""
    memory_rss_bytes: int
    oom_kills: int
    pids: int


@dataclass(frozen=True)
class CgroupLimits:
    cpu_quota_us: int | None
    """None: no quota."""
    cpu_period_us: int | None
    cpu_shares: int | None
    """cpu.shares (v1) or cpu.weight converted back to shares (v2)."""
    memory_limit_bytes: int | None
    """None: no limit."""
    pids_limit: int | None


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _read_int(path: str, default: int = 0) -> int:
    try:
        text = _read(path).strip()
    except (FileNotFoundError, ProcessLookupError, OSError):
        return default
    if text == "max":
        return default
    try:
        return int(text)
    except ValueError:
        return default


def _read_kv(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        text = _read(path)
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value)
        except ValueError:
            continue
    return out


class Cgroups:
    """The host's cgroup layout: `mounts` maps a v1 controller to its mount point, or
    `unified` is the v2 mount point."""

    def __init__(self, mounts: dict[str, str] | None = None, unified: str | None = None) -> None:
        self.mounts = dict(mounts or {})
        self.unified = unified

    @property
    def version(self) -> int:
        return 2 if self.unified and not self.mounts else 1

    @classmethod
    def detect(cls, mountinfo: str = "/proc/self/mountinfo") -> Cgroups:
        """Read the mount table. A hybrid host (v1 controllers plus a v2 mount with no
        controllers) counts as v1, which is what runc does too."""
        mounts: dict[str, str] = {}
        unified = None
        with open(mountinfo) as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields = left.split()
                rfields = right.split()
                if len(fields) < 5 or len(rfields) < 3:
                    continue
                fstype, super_opts = rfields[0], rfields[2]
                mount_point = fields[4].replace("\\040", " ")
                if fstype == "cgroup2":
                    unified = unified or mount_point
                elif fstype == "cgroup":
                    for opt in super_opts.split(","):
                        if opt in V1_CONTROLLERS:
                            mounts.setdefault(opt, mount_point)
        if unified and not mounts:
            return cls(unified=unified)
        return cls(mounts=mounts, unified=unified)

    # --- paths ------------------------------------------------------------------------------

    def path(self, controller: str, cgroups_path: str) -> str | None:
        """Directory of `cgroups_path` (absolute, as in a bundle) in a controller; None if the
        controller is not mounted. On v2 every controller shares one directory."""
        rel = cgroups_path.lstrip("/")
        if self.version == 2:
            return os.path.join(self.unified or "/sys/fs/cgroup", rel)
        mount = self.mounts.get(controller)
        return os.path.join(mount, rel) if mount else None

    def directories(self, cgroups_path: str) -> list[str]:
        """Every directory of the group (one per mounted hierarchy), deduplicated."""
        if self.version == 2:
            return [self.path("memory", cgroups_path) or ""]
        seen: list[str] = []
        for controller in self.mounts:
            p = self.path(controller, cgroups_path)
            if p and p not in seen:
                seen.append(p)
        return seen

    def oom_kill_file(self, cgroups_path: str) -> tuple[str, str] | None:
        """(file, key) of the OOM-kill counter of a group: `memory.oom_control`/`oom_kill` on
        v1, `memory.events`/`oom_kill` on v2; None without a memory controller."""
        mem = self.path("memory", cgroups_path)
        if not mem:
            return None
        return (os.path.join(mem, "memory.events" if self.version == 2 else "memory.oom_control"), "oom_kill")

    # --- reading ----------------------------------------------------------------------------

    def exists(self, cgroups_path: str) -> bool:
        return any(os.path.isdir(d) for d in self.directories(cgroups_path))

    def oom_kills(self, cgroups_path: str) -> int:
        where = self.oom_kill_file(cgroups_path)
        return _read_kv(where[0]).get(where[1], 0) if where else 0

    def pids(self, cgroups_path: str) -> list[int]:
        d = self.path("pids", cgroups_path) or self.path("memory", cgroups_path)
        if not d:
            return []
        try:
            return [int(x) for x in _read(os.path.join(d, "cgroup.procs")).split()]
        except OSError:
            return []

    def stats(self, cgroups_path: str) -> CgroupStats:
        """Usage now. Missing files count as zero (a group being removed reads as empty)."""
        now = time.time()
        if self.version == 2:
            d = self.path("memory", cgroups_path) or ""
            cpu = _read_kv(os.path.join(d, "cpu.stat")).get("usage_usec", 0) * 1000
            usage = _read_int(os.path.join(d, "memory.current"))
            mstat = _read_kv(os.path.join(d, "memory.stat"))
            inactive = mstat.get("inactive_file", 0)
            rss = mstat.get("anon", 0)
            pids = _read_int(os.path.join(d, "pids.current"))
        else:
            cpu_dir = self.path("cpuacct", cgroups_path)
            cpu = _read_int(os.path.join(cpu_dir, "cpuacct.usage")) if cpu_dir else 0
            mem = self.path("memory", cgroups_path)
            usage = _read_int(os.path.join(mem, "memory.usage_in_bytes")) if mem else 0
            mstat = _read_kv(os.path.join(mem, "memory.stat")) if mem else {}
            inactive = mstat.get("total_inactive_file", 0)
            rss = mstat.get("total_rss", 0)
            pdir = self.path("pids", cgroups_path)
            pids = _read_int(os.path.join(pdir, "pids.current")) if pdir else 0
        return CgroupStats(timestamp=now, cpu_usage_ns=cpu, memory_usage_bytes=usage,
                           memory_working_set_bytes=max(0, usage - inactive), memory_rss_bytes=rss,
                           oom_kills=self.oom_kills(cgroups_path), pids=pids)

    def limits(self, cgroups_path: str) -> CgroupLimits:
        if self.version == 2:
            d = self.path("cpu", cgroups_path) or ""
            quota = period = None
            try:
                q, p = _read(os.path.join(d, "cpu.max")).split()
                quota = None if q == "max" else int(q)
                period = int(p)
            except (OSError, ValueError):
                pass
            weight = _read_int(os.path.join(d, "cpu.weight"), -1)
            shares = None if weight < 0 else 2 + ((weight - 1) * 262142) // 9999
            mem = _read_int(os.path.join(d, "memory.max"), -1)
            pids_limit = _read_int(os.path.join(d, "pids.max"), -1)
        else:
            cdir = self.path("cpu", cgroups_path) or ""
            q = _read_int(os.path.join(cdir, "cpu.cfs_quota_us"), -1)
            quota = None if q < 0 else q
            p = _read_int(os.path.join(cdir, "cpu.cfs_period_us"), -1)
            period = None if p < 0 else p
            s = _read_int(os.path.join(cdir, "cpu.shares"), -1)
            shares = None if s < 0 else s
            mdir = self.path("memory", cgroups_path) or ""
            mem = _read_int(os.path.join(mdir, "memory.limit_in_bytes"), -1)
            pdir = self.path("pids", cgroups_path) or ""
            pids_limit = _read_int(os.path.join(pdir, "pids.max"), -1)
        return CgroupLimits(cpu_quota_us=quota, cpu_period_us=period, cpu_shares=shares,
                            memory_limit_bytes=None if mem < 0 or mem >= UNLIMITED else mem,
                            pids_limit=None if pids_limit < 0 else pids_limit)

    # --- cleanup ----------------------------------------------------------------------------

    def remove(self, cgroups_path: str, *, timeout: float = 2.0) -> None:
        """Remove the group (children first) in every hierarchy; absent groups are fine.
        A group with live tasks stays busy: retried until `timeout`, then CgroupError."""
        if cgroups_path.strip("/") == "":
            raise ValueError("refusing to remove the root cgroup")
        deadline = time.monotonic() + timeout
        for top in self.directories(cgroups_path):
            if not os.path.isdir(top):
                continue
            dirs = [root for root, _, _ in os.walk(top)]
            for d in sorted(dirs, key=len, reverse=True):
                while True:
                    try:
                        os.rmdir(d)
                        break
                    except FileNotFoundError:
                        break
                    except OSError as e:
                        if e.errno != errno.EBUSY or time.monotonic() > deadline:
                            raise CgroupError(f"cannot remove cgroup {d}: {e.strerror}") from e
                        time.sleep(0.02)
