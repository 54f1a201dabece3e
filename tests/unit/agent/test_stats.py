"""agent.stats: the Summary document from fake cgroup trees (v1 and v2) and a fake /proc, and the
usageNanoCores rate computation (injected clock and sleep, no real waiting)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from podplane.agent.runtime.cgroups import Cgroups
from podplane.agent.stats import RateTracker, StatsCollector, rfc3339

T0 = 1_800_000_000.0
BOOT = 1_799_000_000
TICKS = os.sysconf("SC_CLK_TCK")
GIB = 1 << 30


@dataclass
class FakeContainer:
    id: str
    pod_uid: str
    name: str
    pod_name: str = "web"
    namespace: str = "default"
    state: str = "running"
    created_at: float = T0 - 100
    started_at: float = T0 - 99
    cgroups_path: str = ""


class Tree:
    """A fake cgroup hierarchy (v1: one directory per controller; v2: one unified directory)."""

    def __init__(self, root: Path, version: int) -> None:
        self.root = root
        self.version = version
        if version == 1:
            mounts = {c: str(root / c) for c in ("cpu", "cpuacct", "memory", "pids")}
            self.cgroups = Cgroups(mounts=mounts, unified=str(root / "unified"))
        else:
            self.cgroups = Cgroups(unified=str(root))

    def write(self, path: str, *, cpu_ns: int, usage: int, inactive: int = 0, rss: int = 0, pids: int = 1) -> None:
        rel = path.lstrip("/")
        if self.version == 1:
            for controller, files in {
                "cpuacct": {"cpuacct.usage": str(cpu_ns)},
                "memory": {"memory.usage_in_bytes": str(usage),
                           "memory.stat": f"total_inactive_file {inactive}\ntotal_rss {rss}\n"},
                "pids": {"pids.current": str(pids)},
            }.items():
                d = self.root / controller / rel
                d.mkdir(parents=True, exist_ok=True)
                for name, text in files.items():
                    (d / name).write_text(text)
        else:
            d = self.root / rel
            d.mkdir(parents=True, exist_ok=True)
            (d / "cpu.stat").write_text(f"usage_usec {cpu_ns // 1000}\nuser_usec 0\n")
            (d / "memory.current").write_text(str(usage))
            (d / "memory.stat").write_text(f"anon {rss}\ninactive_file {inactive}\n")
            (d / "pids.current").write_text(str(pids))

    def remove(self, path: str) -> None:
        import shutil

        for d in self.cgroups.directories(path):
            shutil.rmtree(d, ignore_errors=True)


def write_proc(proc: Path, *, busy_ticks: int, total_kb: int = 8 * 1024 * 1024, available_kb: int = 6 * 1024 * 1024,
               free_kb: int = 5 * 1024 * 1024, anon_kb: int = 1024 * 1024) -> None:
    proc.mkdir(exist_ok=True)
    # user nice system idle iowait irq softirq steal: busy = user + system here
    user = busy_ticks - 10
    (proc / "stat").write_text(f"cpu  {user} 0 10 99999 500 0 0 0 0 0\ncpu0 1 0 1 1 0 0 0 0 0 0\n"
                               f"intr 1\nbtime {BOOT}\n")
    (proc / "meminfo").write_text(f"MemTotal:       {total_kb} kB\nMemFree:        {free_kb} kB\n"
                                  f"MemAvailable:   {available_kb} kB\nAnonPages:      {anon_kb} kB\n")


class Clock:
    def __init__(self) -> None:
        self.now = T0
        self.sleeps: list[float] = []
        self.on_sleep = None

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep()


POD_UID = "11111111-2222-3333-4444-555555555555"
POD_CG = f"/podplane/burstable/pod{POD_UID}"


@pytest.fixture(params=[1, 2], ids=["cgroup-v1", "cgroup-v2"])
def env(request, tmp_path):
    tree = Tree(tmp_path / "cg", request.param)
    proc = tmp_path / "proc"
    containers = [
        FakeContainer("c1", POD_UID, "app", cgroups_path=f"{POD_CG}/c1"),
        FakeContainer("c2", POD_UID, "sidecar", cgroups_path=f"{POD_CG}/c2", started_at=T0 - 50),
        FakeContainer("c0", POD_UID, "init", state="exited", cgroups_path=f"{POD_CG}/c0"),
        FakeContainer("c9", "other-uid", "job", pod_name="done", state="exited", cgroups_path="/podplane/podx/c9"),
    ]
    clock = Clock()
    collector = StatsCollector(lambda: list(containers), tree.cgroups, "node-1", clock=clock, sleep=clock.sleep,
                               proc_root=str(proc))
    return tree, proc, containers, clock, collector


def write_all(tree: Tree, proc: Path, step: int) -> None:
    """Usage after `step` sampling intervals: app burns 0.5 core, sidecar 0.01, node 1.5 cores (per second)."""
    seconds = step * 10
    tree.write(f"{POD_CG}/c1", cpu_ns=1_000_000_000 + seconds * 500_000_000, usage=30 * 1024 * 1024,
               inactive=10 * 1024 * 1024, rss=15 * 1024 * 1024)
    tree.write(f"{POD_CG}/c2", cpu_ns=2_000_000 + seconds * 10_000_000, usage=5 * 1024 * 1024)
    tree.write(POD_CG, cpu_ns=1_002_000_000 + seconds * 510_000_000, usage=35 * 1024 * 1024,
               inactive=10 * 1024 * 1024, rss=15 * 1024 * 1024, pids=3)
    write_proc(proc, busy_ticks=100_000 + seconds * TICKS * 3 // 2)


async def test_summary_shape_and_rates(env):
    tree, proc, _, clock, collector = env
    write_all(tree, proc, 0)
    clock.on_sleep = lambda: write_all(tree, proc, 0)  # priming: nothing changes during the short wait
    first = await collector.summary()
    assert clock.sleeps == [1.0]  # no earlier sample: primed once
    c_app = first["pods"][0]["containers"][0]
    assert c_app["cpu"]["usageNanoCores"] == 0

    clock.now += 10
    write_all(tree, proc, 1)
    doc = await collector.summary()
    assert clock.sleeps == [1.0]  # the last sample is fresh: no priming
    stamp = rfc3339(clock.now)
    node = doc["node"]
    assert node["nodeName"] == "node-1"
    assert node["startTime"] == rfc3339(BOOT)
    # 10 s after the primed sample (1 s after the first read): 1.5 cores
    assert node["cpu"]["time"] == stamp
    assert node["cpu"]["usageNanoCores"] == pytest.approx(1_500_000_000, rel=0.01)
    assert node["memory"] == {"time": stamp, "availableBytes": 6 * GIB, "usageBytes": 3 * GIB,
                              "workingSetBytes": 2 * GIB, "rssBytes": 1 * GIB}
    assert len(doc["pods"]) == 1  # the pod whose only container exited is not listed
    pod = doc["pods"][0]
    assert pod["podRef"] == {"name": "web", "namespace": "default", "uid": POD_UID}
    assert pod["startTime"] == rfc3339(T0 - 100)
    assert pod["cpu"]["usageNanoCores"] == 510_000_000
    assert pod["memory"]["workingSetBytes"] == 25 * 1024 * 1024
    assert pod["process_stats"] == {"process_count": 3}
    assert [c["name"] for c in pod["containers"]] == ["app", "sidecar"]  # the exited init container is not
    app, sidecar = pod["containers"]
    assert app == {
        "name": "app", "startTime": rfc3339(T0 - 99),
        "cpu": {"time": stamp, "usageNanoCores": 500_000_000, "usageCoreNanoSeconds": 6_000_000_000},
        "memory": {"time": stamp, "usageBytes": 30 * 1024 * 1024, "workingSetBytes": 20 * 1024 * 1024,
                   "rssBytes": 15 * 1024 * 1024},
    }
    assert sidecar["startTime"] == rfc3339(T0 - 50)
    assert sidecar["cpu"]["usageNanoCores"] == 10_000_000
    assert sidecar["memory"]["workingSetBytes"] == 5 * 1024 * 1024


async def test_priming_gives_a_rate_on_the_first_call(env):
    tree, proc, _, clock, collector = env
    write_all(tree, proc, 0)
    clock.on_sleep = lambda: write_all(tree, proc, 1)  # 10 s worth of usage "during" the 1 s wait
    doc = await collector.summary()
    app = doc["pods"][0]["containers"][0]
    assert app["cpu"]["usageNanoCores"] == 5_000_000_000  # 5 s of CPU in 1 s


async def test_stale_reference_is_primed_again(env):
    tree, proc, _, clock, collector = env
    write_all(tree, proc, 0)
    await collector.summary()
    clock.now += 3600  # nobody asked for an hour: a rate over that hour would say nothing about now
    write_all(tree, proc, 1)
    clock.on_sleep = lambda: write_all(tree, proc, 2)
    doc = await collector.summary()
    assert clock.sleeps == [1.0, 1.0]
    assert doc["pods"][0]["containers"][0]["cpu"]["usageNanoCores"] == 5_000_000_000


async def test_new_container_has_no_rate_until_the_next_sample(env):
    tree, proc, containers, clock, collector = env
    write_all(tree, proc, 0)
    await collector.summary()
    containers.append(FakeContainer("c3", POD_UID, "late", cgroups_path=f"{POD_CG}/c3"))
    tree.write(f"{POD_CG}/c3", cpu_ns=5_000_000, usage=4096)
    clock.now += 5
    doc = await collector.summary()
    late = next(c for c in doc["pods"][0]["containers"] if c["name"] == "late")
    assert "usageNanoCores" not in late["cpu"]
    assert late["cpu"]["usageCoreNanoSeconds"] == 5_000_000
    clock.now += 5
    tree.write(f"{POD_CG}/c3", cpu_ns=55_000_000, usage=4096)
    doc = await collector.summary()
    late = next(c for c in doc["pods"][0]["containers"] if c["name"] == "late")
    assert late["cpu"]["usageNanoCores"] == 10_000_000


async def test_vanished_cgroup_is_skipped_and_forgotten(env):
    tree, proc, _, clock, collector = env
    write_all(tree, proc, 0)
    await collector.summary()
    tree.remove(f"{POD_CG}/c2")  # removed between the runtime's list and the read
    clock.now += 5
    doc = await collector.summary()
    assert [c["name"] for c in doc["pods"][0]["containers"]] == ["app"]
    assert "container/c2" not in collector.rates._refs


async def test_no_containers_still_reports_the_node(tmp_path):
    write_proc(tmp_path, busy_ticks=1000)
    clock = Clock()
    collector = StatsCollector(list, Cgroups(unified=str(tmp_path / "cg")), "n", clock=clock, sleep=clock.sleep,
                               proc_root=str(tmp_path))
    doc = await collector.summary()
    assert doc["pods"] == []
    assert doc["node"]["cpu"]["usageCoreNanoSeconds"] == 1000 * 1_000_000_000 // TICKS
    assert doc["node"]["memory"]["workingSetBytes"] == 2 * GIB


async def test_unreadable_proc_omits_host_figures(tmp_path):
    clock = Clock()
    collector = StatsCollector(list, Cgroups(unified=str(tmp_path)), "n", clock=clock, sleep=clock.sleep,
                               proc_root=str(tmp_path / "missing"))
    doc = await collector.summary()
    assert doc["node"] == {"nodeName": "n"}


@pytest.mark.parametrize(("samples", "want"), [
    pytest.param([(0, 0, 0)], [None], id="first-sample-has-no-rate"),
    pytest.param([(0, 0, 0), (10, 5_000_000_000, 0)], [None, 500_000_000], id="half-a-core"),
    pytest.param([(0, 0, 0), (10, 10**10, 0), (10.5, 10**10 + 10**9, 0)], [None, 10**9, 10**9],
                 id="too-soon-keeps-the-last-rate"),
    pytest.param([(0, 0, 0), (10, 10**10, 0), (10.5, 10**10, 0), (11, 11 * 10**9, 0)],
                 [None, 10**9, 10**9, 10**9], id="reference-kept-until-min-window"),
    pytest.param([(0, 0, 0), (10, 10**10, 0), (20, 10**9, 0)], [None, 10**9, None],
                 id="counter-went-back"),
    pytest.param([(0, 0, 0), (10, 10**10, 0), (20, 2 * 10**10, 5)], [None, 10**9, None],
                 id="restarted"),
])
def test_rate_tracker(samples, want):
    tracker = RateTracker(min_window=1.0)
    got = [tracker.observe("k", t, cum, start) for t, cum, start in samples]
    assert got == want


def test_rate_tracker_forgets_gone_keys():
    tracker = RateTracker(min_window=1.0)
    tracker.observe("a", 0, 0)
    tracker.observe("b", 0, 0)
    tracker.forget_others(["a"])
    assert tracker.observe("b", 10, 10) is None
    assert tracker.observe("a", 10, 10) == 1


def test_rfc3339():
    assert rfc3339(1_700_000_000.7) == "2023-11-14T22:13:20Z"
