"""runtime.cgroups: layout detection, stats and cleanup on fake cgroup trees (no root)."""

from __future__ import annotations

import os

import pytest

from podplane.agent.runtime.cgroups import CgroupError, Cgroups

HYBRID = """\
25 1 0:23 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
27 25 0:25 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
28 25 0:26 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct
29 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
30 25 0:28 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
31 25 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
"""
COMBINED = "27 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
UNIFIED = "26 25 0:24 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"


@pytest.mark.parametrize(("mountinfo", "version", "paths"), [
    pytest.param(HYBRID, 1, {"cpu": "/sys/fs/cgroup/cpu/podplane/p/c", "memory": "/sys/fs/cgroup/memory/podplane/p/c",
                             "cpuset": None}, id="hybrid-is-v1"),
    pytest.param(COMBINED, 1, {"cpu": "/sys/fs/cgroup/cpu,cpuacct/podplane/p/c",
                               "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/podplane/p/c"}, id="co-mounted"),
    pytest.param(UNIFIED, 2, {"cpu": "/sys/fs/cgroup/podplane/p/c", "memory": "/sys/fs/cgroup/podplane/p/c"},
                 id="v2"),
])
def test_detect(tmp_path, mountinfo, version, paths):
    f = tmp_path / "mountinfo"
    f.write_text(mountinfo)
    cg = Cgroups.detect(str(f))
    assert cg.version == version
    for controller, want in paths.items():
        assert cg.path(controller, "/podplane/p/c") == want


def fake_v1(tmp_path) -> Cgroups:
    mounts = {c: str(tmp_path / c) for c in ("cpu", "cpuacct", "memory", "pids")}
    group = "podplane/pod1/c1"
    files = {
        "cpu": {"cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "100000", "cpu.shares": "512"},
        "cpuacct": {"cpuacct.usage": "123456789"},
        "memory": {"memory.usage_in_bytes": "10485760", "memory.limit_in_bytes": "33554432",
                   "memory.stat": "cache 100\ntotal_inactive_file 2097152\ntotal_rss 4096\n",
                   "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"},
        "pids": {"pids.current": "3", "pids.max": "max", "cgroup.procs": "10\n11\n"},
    }
    for controller, content in files.items():
        d = tmp_path / controller / group
        d.mkdir(parents=True)
        for name, text in content.items():
            (d / name).write_text(text)
    return Cgroups(mounts=mounts)


def test_stats_and_limits_v1(tmp_path):
    cg = fake_v1(tmp_path)
    s = cg.stats("/podplane/pod1/c1")
    assert (s.cpu_usage_ns, s.memory_usage_bytes, s.memory_working_set_bytes, s.memory_rss_bytes, s.oom_kills,
            s.pids) == (123456789, 10485760, 8388608, 4096, 1, 3)
    lim = cg.limits("/podplane/pod1/c1")
    assert (lim.cpu_quota_us, lim.cpu_period_us, lim.cpu_shares, lim.memory_limit_bytes, lim.pids_limit) == \
        (50000, 100000, 512, 33554432, None)
    assert cg.pids("/podplane/pod1/c1") == [10, 11]
    assert cg.oom_kill_file("/podplane/pod1/c1") == (str(tmp_path / "memory/podplane/pod1/c1/memory.oom_control"),
                                                      "oom_kill")
    # a group that does not exist reads as empty
    assert cg.stats("/podplane/gone").memory_usage_bytes == 0
    assert cg.limits("/podplane/gone").memory_limit_bytes is None


def test_stats_v2(tmp_path):
    d = tmp_path / "podplane" / "c"
    d.mkdir(parents=True)
    (d / "cpu.stat").write_text("usage_usec 1500\nuser_usec 1000\n")
    (d / "memory.current").write_text("4096\n")
    (d / "memory.stat").write_text("anon 1024\ninactive_file 1024\n")
    (d / "memory.events").write_text("low 0\noom 2\noom_kill 2\n")
    (d / "memory.max").write_text("max\n")
    (d / "cpu.max").write_text("25000 100000\n")
    (d / "cpu.weight").write_text("20\n")
    cg = Cgroups(unified=str(tmp_path))
    s = cg.stats("/podplane/c")
    assert (s.cpu_usage_ns, s.memory_usage_bytes, s.memory_working_set_bytes, s.oom_kills) == (1_500_000, 4096, 3072, 2)
    lim = cg.limits("/podplane/c")
    assert (lim.cpu_quota_us, lim.cpu_period_us, lim.memory_limit_bytes) == (25000, 100000, None)
    assert lim.cpu_shares == 2 + (19 * 262142) // 9999


def test_remove_is_idempotent_and_children_first(tmp_path):
    cg = Cgroups(mounts={"cpu": str(tmp_path / "cpu"), "memory": str(tmp_path / "memory")})
    for c in ("cpu", "memory"):
        (tmp_path / c / "podplane" / "pod1" / "c1").mkdir(parents=True)
    assert cg.exists("/podplane/pod1")
    cg.remove("/podplane/pod1")
    assert not cg.exists("/podplane/pod1")
    assert os.path.isdir(tmp_path / "cpu" / "podplane")
    cg.remove("/podplane/pod1")  # again: fine
    with pytest.raises(ValueError):
        cg.remove("/")


def test_remove_busy_group_fails_clearly(tmp_path):
    cg = Cgroups(mounts={"cpu": str(tmp_path / "cpu")})
    d = tmp_path / "cpu" / "podplane" / "busy"
    d.mkdir(parents=True)
    (d / "not-a-cgroup-file").write_text("x")  # rmdir fails (ENOTEMPTY), like a busy group
    with pytest.raises(CgroupError, match="cannot remove cgroup"):
        cg.remove("/podplane/busy", timeout=0)
