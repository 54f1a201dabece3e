"""Pod startup benchmark on a real node: creation → Running (and Ready) through a watch, 50 pods.

Starts `podplane up` (runc + CNI) inside a network namespace this benchmark creates, exactly as
the end-to-end tests do (tests/e2e/realnode.py: veth to the namespace, no route out,
cleanup with `podplane killall` and removal of the namespace even on failure). After one
warm-up pod, it creates `--pods` pods (host image busybox, `sleep`) at once and watches
them: the latency of each pod is from the moment its create request was sent to the
watch event that shows it Running (and, separately, Ready). Memory: the RSS of the
`podplane up` process (server + agent) before and with the pods, and the RSS of the
per-container shims (one small Python supervisor per container, like conmon; RSS and PSS,
which splits the interpreter's shared pages between them), giving the per-pod overhead. Needs root. Prints the figures and writes bench/results/pods.json.
Two rounds on the same node: a steady stream (`--rate` pods per second, what a node sees
in normal operation and what upstream's pod-startup SLO measures) and a burst (all pods
created at once, which queues them behind each other on 2 cores).
Target (issue #4): p99 creation → Running under 1 s (upstream's SLO: 5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from e2e.realnode import NodeCluster, missing_requirement  # noqa: E402
from podplane.api.errors import ApiError  # noqa: E402
from podplane.client import Client  # noqa: E402
from podplane.client.transport import transport_from_kubeconfig  # noqa: E402


def rss(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[21]) * os.sysconf("SC_PAGE_SIZE")


def pss(pid: int) -> int:
    """Proportional set size: shared pages (the interpreter's code) split between their users."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def shim_pids(runc_root: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"shim.py") for part in cmdline) and any(runc_root.encode() in p for p in cmdline):
            pids.append(int(entry))
    return pids


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def pod_manifest(name: str) -> dict:
    return {"metadata": {"name": name, "labels": {"bench": "pods"}},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}


def is_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


async def measure(cluster: NodeCluster, count: int, rate: float) -> dict:
    client = Client(transport_from_kubeconfig(cluster.kubeconfig, user_agent="bench-pods"))
    info = client.resource("", "pods")
    try:
        # warm-up: images, the catalog and the first CNI set-up
        try:
            await client.create(info, pod_manifest("warmup"), "default")
        except ApiError as e:
            if e.code != 409:
                raise
        while True:
            p = await client.get(info, "warmup", "default")
            if is_ready(p):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)
        base_rss = rss(cluster.proc.pid)

        _, rv = await client.list_all(info, "default")
        sent: dict[str, float] = {}
        running: dict[str, float] = {}
        ready: dict[str, float] = {}
        names = [f"p-{i:03d}" for i in range(count)]

        async def watch() -> None:
            async for event in client.watch(info, "default", resource_version=rv, label_selector="bench=pods"):
                obj = event.get("object") or {}
                name = (obj.get("metadata") or {}).get("name")
                now = time.monotonic()
                if name in sent and name not in running and (obj.get("status") or {}).get("phase") == "Running":
                    running[name] = now
                if name in sent and name not in ready and is_ready(obj):
                    ready[name] = now
                if len(ready) == count:
                    return

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.2)
        started = time.monotonic()

        async def create(name: str) -> None:
            sent[name] = time.monotonic()
            await client.create(info, pod_manifest(name), "default")

        if rate > 0:  # a steady stream of pods
            for i, n in enumerate(names):
                await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
                await create(n)
        else:  # all at once
            await asyncio.gather(*(create(n) for n in names))
        print(f"created {count} pods in {time.monotonic() - started:.2f} s; waiting for Running/Ready",
              flush=True)
        await asyncio.wait_for(watcher, timeout=180)
        total = time.monotonic() - started
        await asyncio.sleep(1)
        up_rss = rss(cluster.proc.pid)
        shims = shim_pids(str(cluster.data_dir / "agent" / "runc"))
        shim_rss = sum(rss(p) for p in shims)
        shim_pss = sum(pss(p) for p in shims)
        to_running = [running[n] - sent[n] for n in names]
        to_ready = [ready[n] - sent[n] for n in names]
        for n in names:  # leave the node as it was for the next round
            await client.delete(info, n, "default", grace_period_seconds=0)
        return {
            "pods": count,
            "created_per_second": rate or "all at once",
            "seconds_to_all_ready": round(total, 2),
            "running_p50_ms": round(statistics.median(to_running) * 1000, 1),
            "running_p99_ms": round(percentile(to_running, 0.99) * 1000, 1),
            "running_max_ms": round(max(to_running) * 1000, 1),
            "running_deciles_ms": [round(percentile(to_running, q / 10) * 1000) for q in range(11)],
            "ready_p50_ms": round(statistics.median(to_ready) * 1000, 1),
            "ready_p99_ms": round(percentile(to_ready, 0.99) * 1000, 1),
            "process_rss_mb_before": round(base_rss / 2**20, 1),
            "process_rss_mb_with_pods": round(up_rss / 2**20, 1),
            "process_rss_per_pod_kb": round((up_rss - base_rss) / count / 1024, 1),
            "shims": len(shims),
            "shim_rss_mb_total": round(shim_rss / 2**20, 1),
            "shim_rss_per_pod_mb": round(shim_rss / max(1, len(shims)) / 2**20, 2),
            "shim_pss_per_pod_mb": round(shim_pss / max(1, len(shims)) / 2**20, 2),
        }
    finally:
        await client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--burst-only", action="store_true", help="skip the steady round")
    parser.add_argument("--rate", type=float, default=5.0,
                        help="pods created per second in the steady round (default: %(default)s)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "pods.json"))
    args = parser.parse_args()
    reason = missing_requirement()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 1
    cluster = NodeCluster(Path(tempfile.mkdtemp(prefix="bench-pods-")), up_args=("--max-pods", "200"))
    try:
        print("starting podplane up in its own network namespace ...", flush=True)
        cluster.start()
        steady = None if args.burst_only else asyncio.run(measure(cluster, args.pods, args.rate))
        print(json.dumps(steady, indent=2), flush=True)
        burst = asyncio.run(measure(cluster, args.pods, 0.0))
        result = {"steady": steady, "burst": burst}
    finally:
        cluster.stop()
    result["cpus"] = os.cpu_count()
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
