"""Benchmark: one `podplane agent --runtime fake` process simulating N nodes running M pods.

Starts `python -m podplane server` on loopback (scheduler disabled), then the agent with
--nodes N, creates M pods (no nodeName) and binds them round-robin through the binding
subresource, and watches until every pod is Running and Ready. Reports node
registration time, pods/s to Running, the agent's CPU seconds and peak RSS (from
/proc), and its idle CPU once everything runs (Lease renewals and heartbeats only).
All traffic stays on 127.0.0.1.

    .venv/bin/python bench/fake_agent.py --nodes 1000 --pods 10000 [--datastore memory://]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from podplane.client import Client, transport_from_kubeconfig

TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_usage(pid: int) -> tuple[float, int]:
    """(CPU seconds user+system, RSS bytes) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


class Sampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss = 0
        self.task: asyncio.Task | None = None

    async def run(self) -> None:
        while True:
            try:
                _, rss = proc_usage(self.pid)
                self.peak_rss = max(self.peak_rss, rss)
            except OSError:
                return
            await asyncio.sleep(0.2)


async def wait_nodes_ready(client: Client, count: int, timeout: float) -> float:
    info = client.resource("", "nodes")
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        items, _ = await client.list_all(info)
        ready = sum(1 for n in items if any(c.get("type") == "Ready" and c.get("status") == "True"
                                            for c in (n.get("status") or {}).get("conditions") or []))
        if ready >= count:
            return time.monotonic() - start
        await asyncio.sleep(0.25)
    raise TimeoutError(f"only {ready}/{count} nodes Ready after {timeout} s")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--datastore", default="")
    parser.add_argument("--controllers", action="store_true", help="run the controller manager too")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fake_agent.json"),
                        help="where to save the figures (default: %(default)s)")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="bench-fake-agent-"))
    port = free_port()
    env = dict(os.environ, PODPLANE_LOG_LEVEL="WARNING")
    server_args = [sys.executable, "-m", "podplane", "server", "--data-dir", str(data), "--port", str(port),
                   "--bind-address", "127.0.0.1", "--disable-scheduler"]
    if args.datastore:
        server_args += ["--datastore", args.datastore]
    if not args.controllers:
        server_args += ["--disable-controllers"]
    server = subprocess.Popen(server_args, stdout=open(data / "server.log", "wb"), stderr=subprocess.STDOUT,
                              env=env)
    agent = None
    result: dict = {"nodes": args.nodes, "pods": args.pods, "datastore": args.datastore or "sqlite",
                    "controllers": args.controllers, "cpus": os.cpu_count()}
    try:
        kubeconfig = data / "kubeconfig.yaml"
        for _ in range(300):
            if kubeconfig.exists():
                break
            await asyncio.sleep(0.1)
        client = Client(transport_from_kubeconfig(kubeconfig, user_agent="bench"))
        for _ in range(100):
            try:
                await client.transport.request("GET", "/readyz")
                break
            except Exception:
                await asyncio.sleep(0.1)

        t0 = time.monotonic()
        agent = subprocess.Popen([sys.executable, "-m", "podplane", "agent", "--runtime", "fake", "--kubeconfig",
                                  str(kubeconfig), "--data-dir", str(data / "agent"), "--nodes", str(args.nodes),
                                  "--node-name", "bench"], stdout=open(data / "agent.log", "wb"),
                                 stderr=subprocess.STDOUT, env=env)
        sampler = Sampler(agent.pid)
        sampler.task = asyncio.create_task(sampler.run())
        result["nodes_ready_seconds"] = round(await wait_nodes_ready(client, args.nodes, 600), 2)
        result["agent_cpu_seconds_registration"] = round(proc_usage(agent.pid)[0], 2)
        result["agent_rss_mib_after_registration"] = round(proc_usage(agent.pid)[1] / 2**20, 1)
        del t0

        pods = client.resource("", "pods")
        namespaces = client.resource("", "namespaces")
        await client.create(namespaces, {"metadata": {"name": "bench"}})
        names = [f"p-{i:05d}" for i in range(args.pods)]
        nodes = [f"bench-{i}" if args.nodes > 1 else "bench" for i in range(args.nodes)]
        running_at: dict[str, float] = {}
        bound_at: dict[str, float] = {}

        async def watch_running() -> None:
            items, rv = await client.list_all(pods, "bench")
            while len(running_at) < args.pods:
                async for event in client.watch(pods, "bench", resource_version=rv, timeout_seconds=600):
                    obj = event.get("object") or {}
                    rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                    if event.get("type") not in ("ADDED", "MODIFIED"):
                        continue
                    status = obj.get("status") or {}
                    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                                for c in status.get("conditions") or [])
                    name = obj["metadata"]["name"]
                    if status.get("phase") == "Running" and ready and name not in running_at:
                        running_at[name] = time.monotonic()
                        if len(running_at) >= args.pods:
                            return

        watcher = asyncio.create_task(watch_running())
        await asyncio.sleep(0.5)
        cpu_before, _ = proc_usage(agent.pid)
        limit = asyncio.Semaphore(args.concurrency)

        async def create_and_bind(i: int, name: str) -> None:
            async with limit:
                await client.create(pods, {"metadata": {"name": name, "namespace": "bench"},
                                           "spec": {"containers": [{"name": "app", "image": "nginx"}]}}, "bench")
                await client.create_subresource(pods, name, "binding", {
                    "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": "bench"},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": nodes[i % len(nodes)]}}, "bench")
                bound_at[name] = time.monotonic()

        start = time.monotonic()
        await asyncio.gather(*(create_and_bind(i, n) for i, n in enumerate(names)))
        bound = time.monotonic()
        await asyncio.wait_for(watcher, 900)
        done = time.monotonic()
        cpu_after, _ = proc_usage(agent.pid)
        latencies = sorted(running_at[n] - bound_at[n] for n in names)
        result.update({
            "create_and_bind_seconds": round(bound - start, 2),
            "create_and_bind_per_second": round(args.pods / (bound - start), 1),
            "all_running_seconds": round(done - start, 2),
            "pods_running_per_second": round(args.pods / (done - start), 1),
            "bind_to_running_p50_seconds": round(latencies[len(latencies) // 2], 3),
            "bind_to_running_p99_seconds": round(latencies[int(len(latencies) * 0.99)], 3),
            "agent_cpu_seconds_pods": round(cpu_after - cpu_before, 2),
            "agent_cpu_ms_per_pod": round((cpu_after - cpu_before) * 1000 / args.pods, 3),
        })
        idle_cpu_0, _ = proc_usage(agent.pid)
        server_cpu_0, _ = proc_usage(server.pid)
        await asyncio.sleep(args.idle_seconds)
        idle_cpu_1, rss = proc_usage(agent.pid)
        server_cpu_1, server_rss = proc_usage(server.pid)
        result.update({
            "agent_idle_cpu_percent": round((idle_cpu_1 - idle_cpu_0) * 100 / args.idle_seconds, 1),
            "server_idle_cpu_percent": round((server_cpu_1 - server_cpu_0) * 100 / args.idle_seconds, 1),
            "agent_rss_mib": round(rss / 2**20, 1),
            "agent_peak_rss_mib": round(max(sampler.peak_rss, rss) / 2**20, 1),
            "server_rss_mib": round(server_rss / 2**20, 1),
        })
        leases, _ = await client.list_all(client.resource("coordination.k8s.io", "leases"), "kube-node-lease")
        result["leases"] = len(leases)
        sampler.task.cancel()
        await client.close()
    finally:
        for proc in (agent, server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        result["agent_exit_code"] = agent.returncode if agent else None
        print(json.dumps(result, indent=2))
        if args.out:
            Path(args.out).parent.mkdir(exist_ok=True)
            Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
