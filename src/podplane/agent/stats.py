"""Node and pod usage in the kubelet's Summary API shape, for GET /stats/summary.

`StatsCollector.summary()` returns `{"node": {...}, "pods": [...]}` exactly as the kubelet's
stats/v1alpha1 Summary does (node: nodeName, startTime, cpu, memory; pods: podRef, startTime,
cpu, memory, containers with name/startTime/cpu/memory), the document metrics-server scrapes.
Sources: every running container the runtime lists (`runtime.runc.ContainerInfo`: pod, name,
`cgroups_path`), its cgroup and its pod's parent group read by `runtime.cgroups.Cgroups.stats`
(cgroup v1 or v2), and the host totals from /proc/stat (CPU) and /proc/meminfo (memory:
working set = MemTotal - MemAvailable).

CPU comes as the cumulative `usageCoreNanoSeconds` and as `usageNanoCores`, a rate that, like
cAdvisor's, is computed here: the collector keeps a reference sample per container, pod and the
node, and divides the growth by the time between them (at least `min_window` apart). When the
newest sample is older than `max_window` (nobody asked for a while and `run()` is not running),
`summary()` first takes a priming sample and waits `min_window`, so a rate never covers more
than `max_window` of history. Something without a rate yet (a just-started container) has no
`usageNanoCores`, and metrics consumers skip it until the next call, as with the kubelet.
Blocking reads run in a thread (`asyncio.to_thread`). Neighbours: the agent's HTTP server (awaits
`summary()`), `apiserver.metrics` (reads it through the node proxy).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from podplane.agent.runtime.cgroups import Cgroups, CgroupStats

__all__ = ["ContainerLike", "RateTracker", "StatsCollector", "rfc3339"]

log = logging.getLogger(__name__)

LIVE_STATES = frozenset({"running", "unknown"})
"""Container states with a live cgroup (`unknown`: runc's "running without its shim")."""


class ContainerLike(Protocol):
    """What the collector needs of a runtime's container record (runc's ContainerInfo)."""

    id: str
    pod_uid: str
    namespace: str
    pod_name: str
    name: str
    state: str
    created_at: float
    started_at: float
    cgroups_path: str


def rfc3339(ts: float) -> str:
    """metav1.Time's JSON form: UTC, whole seconds."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Ref:
    t: float
    cumulative: int
    start: float
    rate: int | None = None


class RateTracker:
    """usageNanoCores from cumulative CPU samples, one reference sample per key (cAdvisor's
    way): a sample at least `min_window` after the reference yields a new rate and becomes the
    reference; an earlier one keeps the last rate. A changed start time or a counter that went
    backwards (a restarted container, a recreated group) starts over without a rate."""

    def __init__(self, min_window: float) -> None:
        self.min_window = min_window
        self._refs: dict[str, _Ref] = {}

    def observe(self, key: str, t: float, cumulative: int, start: float = 0.0) -> int | None:
        ref = self._refs.get(key)
        if ref is None or cumulative < ref.cumulative or start != ref.start or t < ref.t:
            self._refs[key] = _Ref(t, cumulative, start)
            return None
        if t - ref.t >= self.min_window:
            ref.rate = int((cumulative - ref.cumulative) / (t - ref.t))
            ref.t, ref.cumulative = t, cumulative
        return ref.rate

    def forget_others(self, keys: Iterable[str]) -> None:
        """Drop every key not in `keys` (containers and pods that are gone)."""
        keep = set(keys)
        for key in [k for k in self._refs if k not in keep]:
            del self._refs[key]


def _read_kb_fields(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    with open(path) as f:
        for line in f:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts:
                with contextlib.suppress(ValueError):
                    out[key] = int(parts[0]) * (1024 if parts[1:2] == ["kB"] else 1)
    return out


class StatsCollector:
    """See the module docstring. `list_containers` is blocking (runc's `RuncRuntime.list`);
    `clock` gives wall-clock seconds (timestamps and rates); `sleep` waits (tests inject both)."""

    def __init__(self, list_containers: Callable[[], Iterable[ContainerLike]], cgroups: Cgroups,
                 node_name: str, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, proc_root: str = "/proc",
                 min_window: float = 1.0, max_window: float = 15.0) -> None:
        self.list_containers = list_containers
        self.cgroups = cgroups
        self.node_name = node_name
        self.clock = clock
        self.sleep = sleep
        self.proc_root = proc_root
        self.min_window = min_window
        self.max_window = max_window
        """A rate covers at most this long (the `window` apiserver.metrics reports)."""
        self.rates = RateTracker(min_window)
        self._last_sample: float | None = None
        self._lock = asyncio.Lock()
        self._ticks_per_second = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    # --- async API ------------------------------------------------------------------------

    async def summary(self) -> dict:
        """The Summary document now (primes the rates first if the last sample is stale)."""
        async with self._lock:
            last = self._last_sample
            if last is None or self.clock() - last > self.max_window:
                await asyncio.to_thread(self.sample)
                await self.sleep(self.min_window)
            return await asyncio.to_thread(self.sample)

    async def run(self, interval: float = 10.0) -> None:
        """Optional housekeeping loop (cAdvisor samples every 10-15 s): keeps a fresh reference
        so `summary()` never has to prime. Runs until cancelled."""
        while True:
            try:
                async with self._lock:
                    await asyncio.to_thread(self.sample)
            except Exception:  # a failed sample must not end housekeeping
                log.exception("stats sample failed")
            await self.sleep(interval)

    # --- one sample (blocking) ------------------------------------------------------------

    def sample(self) -> dict:
        """Read everything once, update the rates and return the Summary document."""
        now = self.clock()
        containers = [c for c in self.list_containers() if c.state in LIVE_STATES and c.cgroups_path]
        by_pod: dict[str, list[ContainerLike]] = {}
        for c in containers:
            by_pod.setdefault(c.pod_uid, []).append(c)
        seen = ["node"]
        pods = []
        for uid, members in by_pod.items():
            entries = []
            for c in sorted(members, key=lambda c: c.name):
                stats = self._group_stats(c.cgroups_path)
                if stats is None:
                    continue  # removed since it was listed
                start = c.started_at or c.created_at
                key = f"container/{c.id}"
                seen.append(key)
                rate = self.rates.observe(key, now, stats.cpu_usage_ns, start)
                entries.append({"name": c.name, "startTime": rfc3339(start),
                                "cpu": _cpu(now, rate, stats.cpu_usage_ns), "memory": _memory(now, stats)})
            if not entries:
                continue
            first = members[0]
            pod_start = min(c.created_at for c in members)
            pod: dict = {"podRef": {"name": first.pod_name, "namespace": first.namespace, "uid": uid},
                         "startTime": rfc3339(pod_start), "containers": entries}
            pod_stats = self._group_stats(os.path.dirname(first.cgroups_path.rstrip("/")))
            if pod_stats is not None:
                key = f"pod/{uid}"
                seen.append(key)
                # the pod group's counter includes exited containers, so it only ever grows
                rate = self.rates.observe(key, now, pod_stats.cpu_usage_ns)
                pod["cpu"] = _cpu(now, rate, pod_stats.cpu_usage_ns)
                pod["memory"] = _memory(now, pod_stats)
                if pod_stats.pids:
                    pod["process_stats"] = {"process_count": pod_stats.pids}
            pods.append(pod)
        node = self._node(now)
        self.rates.forget_others(seen)
        self._last_sample = now
        pods.sort(key=lambda p: (p["podRef"]["namespace"], p["podRef"]["name"]))
        return {"node": node, "pods": pods}

    def _group_stats(self, cgroups_path: str) -> CgroupStats | None:
        if not cgroups_path or cgroups_path == "/":
            return None
        stats = self.cgroups.stats(cgroups_path)
        if stats.cpu_usage_ns == 0 and stats.memory_usage_bytes == 0 and not self.cgroups.exists(cgroups_path):
            return None
        return stats

    def _node(self, now: float) -> dict:
        node: dict = {"nodeName": self.node_name}
        try:
            busy_ns, boot_time = self._host_cpu()
        except (OSError, ValueError) as e:
            log.warning("cannot read host CPU usage: %s", e)
        else:
            if boot_time:
                node["startTime"] = rfc3339(boot_time)
            rate = self.rates.observe("node", now, busy_ns, boot_time)
            node["cpu"] = _cpu(now, rate, busy_ns)
        try:
            mem = _read_kb_fields(os.path.join(self.proc_root, "meminfo"))
        except OSError as e:
            log.warning("cannot read host memory usage: %s", e)
        else:
            total = mem.get("MemTotal", 0)
            available = mem.get("MemAvailable", mem.get("MemFree", 0))
            node["memory"] = {"time": rfc3339(now), "availableBytes": available,
                              "usageBytes": max(0, total - mem.get("MemFree", 0)),
                              "workingSetBytes": max(0, total - available), "rssBytes": mem.get("AnonPages", 0)}
        return node

    def _host_cpu(self) -> tuple[int, float]:
        """(busy CPU time of all cores in ns, boot time) from /proc/stat: user, nice, system,
        irq, softirq and steal ticks (guest time is already inside user and nice)."""
        busy = 0
        boot = 0.0
        with open(os.path.join(self.proc_root, "stat")) as f:
            for line in f:
                if line.startswith("cpu "):
                    v = [int(x) for x in line.split()[1:]]
                    v += [0] * (8 - len(v))
                    busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
                elif line.startswith("btime "):
                    boot = float(line.split()[1])
        return busy * 1_000_000_000 // self._ticks_per_second, boot


def _cpu(now: float, rate: int | None, cumulative: int) -> dict:
    out: dict = {"time": rfc3339(now)}
    if rate is not None:
        out["usageNanoCores"] = rate
    out["usageCoreNanoSeconds"] = cumulative
    return out


def _memory(now: float, stats: CgroupStats) -> dict:
    return {"time": rfc3339(now), "usageBytes": stats.memory_usage_bytes,
            "workingSetBytes": stats.memory_working_set_bytes, "rssBytes": stats.memory_rss_bytes}
