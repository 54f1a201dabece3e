"""The machine the agent runs on, as a Node: capacity, address, and the pod CIDR from the server.

Only the real runtimes use this (the fake one simulates its nodes, `agent.addresses`):
- `machine_capacity(data_dir, max_pods)`: cpu (online CPUs, or the agent's cgroup cpu
  quota when smaller), memory (/proc/meminfo MemTotal), ephemeral-storage (the data
  dir's file system), pods, hugepages, as the kubelet reports them;
- `node_ip(explicit)`: the `--node-ip` if given, else the source address of the default
  route, else the first global IPv4 address of an interface that is up (a machine, or a
  test's network namespace, without a default route still has one), else 127.0.0.1;
- `wait_for_pod_cidr(client, name)`: the block the node IPAM controller
  (`controllers.nodeipam`) writes into `spec.podCIDR` after registration; the agent sets up
  the pod network only once it has one.
Talks to: /proc, `ip` (iproute2, read-only queries) and the API server (the Node).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import time
from decimal import Decimal

from podplane.api.errors import ApiError

__all__ = ["PodCidrTimeout", "machine_capacity", "node_ip", "wait_for_pod_cidr"]

log = logging.getLogger(__name__)


class PodCidrTimeout(Exception):
    """The server did not hand the node a pod CIDR in time."""


def _mem_total() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise OSError("MemTotal missing from /proc/meminfo")


def _cpu_count() -> Decimal:
    cpus = Decimal(len(os.sched_getaffinity(0)))
    for quota_file, period_file in (("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"),):
        try:
            quota = int(open(quota_file).read())
            period = int(open(period_file).read())
        except (OSError, ValueError):
            continue
        if quota > 0 and period > 0:
            cpus = min(cpus, Decimal(quota) / Decimal(period))
    return cpus


def machine_capacity(data_dir: str, max_pods: int) -> tuple[dict[str, str], dict[str, Decimal]]:
    """(capacity as Node quantities, allocatable numbers for the agent's pod admission)."""
    cpus = _cpu_count()
    memory = _mem_total()
    try:
        st = os.statvfs(data_dir)
        storage = st.f_blocks * st.f_frsize
    except OSError:
        storage = 0
    cpu_text = str(int(cpus)) if cpus == int(cpus) else f"{int(cpus * 1000)}m"
    capacity = {"cpu": cpu_text, "ephemeral-storage": f"{storage // 1024}Ki", "hugepages-1Gi": "0",
                "hugepages-2Mi": "0", "memory": f"{memory // 1024}Ki", "pods": str(max_pods)}
    return capacity, {"cpu": cpus, "memory": Decimal(memory), "pods": Decimal(max_pods)}


def _ip_json(*args: str) -> list[dict]:
    try:
        done = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0 or not done.stdout.strip():
        return []
    try:
        return json.loads(done.stdout)
    except ValueError:
        return []


def node_ip(explicit: str = "", *, exclude_interfaces: tuple[str, ...] = ()) -> str:
    """The node's InternalIP; see the module docstring for the order of choices."""
    if explicit:
        return explicit
    for route in _ip_json("-4", "route", "show", "default"):
        dev = route.get("dev")
        if dev and dev not in exclude_interfaces:
            for link in _ip_json("-4", "addr", "show", "dev", dev, "scope", "global"):
                for addr in link.get("addr_info") or []:
                    if addr.get("local"):
                        return addr["local"]
    for link in _ip_json("-4", "addr", "show", "scope", "global", "up"):
        if link.get("ifname") in exclude_interfaces:
            continue
        for addr in link.get("addr_info") or []:
            if addr.get("local"):
                return addr["local"]
    return "127.0.0.1"


async def wait_for_pod_cidr(client, name: str, *, patience: float = 60.0, interval: float = 0.2) -> str:
    """Poll the Node until the server has given it a pod CIDR (usually within milliseconds)."""
    info = client.resource("", "nodes")
    deadline = time.monotonic() + patience
    warned = False
    while True:
        try:
            node = await client.get(info, name)
            cidr = (node.get("spec") or {}).get("podCIDR") or ""
            if cidr:
                return cidr
        except ApiError as e:
            if e.code != 404:
                raise
        if time.monotonic() >= deadline:
            raise PodCidrTimeout(
                f"node {name} got no pod CIDR from the server in {patience:.0f} s; is the nodeipam controller "
                f"running (server flag --controllers) and is --cluster-cidr large enough?")
        if not warned and time.monotonic() > deadline - patience + 5:
            log.info("node %s: waiting for the server to assign a pod CIDR", name)
            warned = True
        await asyncio.sleep(interval)
