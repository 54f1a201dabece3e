"""API server benchmark: create/get/list latency, throughput, watch fan-out, memory.

Starts `podplane server` on a fresh data dir with the SQLite store on a free
loopback port (or uses --kubeconfig to target a running one, then RSS is not
measured), and measures:
- pod create latency p50/p99 and throughput with 1 and 16 concurrent clients;
- pod get latency p50/p99;
- LIST of 10,000 pods, whole and paged (limit=500);
- watch delivery latency p50/p99 to 100 concurrent watchers;
- server RSS with 10,000 pods stored.
Prints the figures and writes them to bench/results/api.json. All traffic goes to
127.0.0.1. Targets (issue #2): create p99 < 20 ms single-client, LIST 10k < 1 s,
watch p99 < 50 ms, RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
import yaml

RESULTS = Path(__file__).parent / "results"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "bench", "shard": name[-1]}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27",
                                     "ports": [{"containerPort": 80}],
                                     "env": [{"name": "A", "value": "x" * 64}],
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}


class Api:
    def __init__(self, kubeconfig: Path) -> None:
        cfg = yaml.safe_load(kubeconfig.read_text())
        cluster = cfg["clusters"][0]["cluster"]
        self.base = cluster["server"]
        ca = tempfile.NamedTemporaryFile(delete=False, suffix=".crt")
        import base64

        ca.write(base64.b64decode(cluster["certificate-authority-data"]))
        ca.close()
        self.ssl = ssl.create_default_context(cafile=ca.name)
        self.headers = {"Authorization": f"Bearer {cfg['users'][0]['user']['token']}",
                        "Content-Type": "application/json"}
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Api:
        self.session = aiohttp.ClientSession(headers=self.headers,
                                             connector=aiohttp.TCPConnector(ssl=self.ssl, limit=200))
        return self

    async def __aexit__(self, *exc) -> None:
        await self.session.close()

    async def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        async with self.session.request(method, self.base + path,
                                        data=json.dumps(body) if body is not None else None) as r:
            return r.status, await r.read()


async def create_pods(api: Api, ns: str, names: list[str], concurrency: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue = list(reversed(names))

    async def worker() -> None:
        while queue:
            name = queue.pop()
            t0 = time.perf_counter()
            status, body = await api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod(name))
            latencies.append(time.perf_counter() - t0)
            if status != 201:
                raise RuntimeError(f"create {name}: {status} {body[:200]!r}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - start


async def ensure_namespace(api: Api, ns: str) -> None:
    status, body = await api.request("POST", "/api/v1/namespaces",
                                     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    if status not in (201, 409):
        raise RuntimeError(f"namespace {ns}: {status} {body[:200]!r}")


async def watch_latency(api: Api, ns: str, watchers: int, events: int) -> list[float]:
    sent: dict[str, float] = {}
    received: list[float] = []
    status, body = await api.request("GET", f"/api/v1/namespaces/{ns}/pods?limit=1")
    rv = json.loads(body)["metadata"]["resourceVersion"]
    ready = 0
    all_ready = asyncio.Event()

    async def watch() -> None:
        nonlocal ready
        url = f"{api.base}/api/v1/namespaces/{ns}/pods?watch=true&resourceVersion={rv}&timeoutSeconds=120"
        async with api.session.get(url) as r:
            ready += 1
            if ready == watchers:
                all_ready.set()
            seen = 0
            buffer = b""
            async for chunk in r.content.iter_any():
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    now = time.perf_counter()
                    name = json.loads(line)["object"]["metadata"]["name"]
                    if name in sent:
                        received.append(now - sent[name])
                    seen += 1
                    if seen >= events:
                        return

    tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
    await asyncio.wait_for(all_ready.wait(), 30)
    await asyncio.sleep(0.5)
    for i in range(events):
        name = f"watch-{i:05d}"
        sent[name] = time.perf_counter()
        status, body = await api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod(name))
        if status != 201:
            raise RuntimeError(f"create {name}: {status}")
        await asyncio.sleep(0.02)
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    return received


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(kubeconfig: Path, pid: int | None, total: int) -> dict:
    results: dict = {}
    async with Api(kubeconfig) as api:
        await ensure_namespace(api, "bench-1")
        await ensure_namespace(api, "bench-16")
        await ensure_namespace(api, "bench-watch")
        n1 = min(1000, total)
        lat, elapsed = await create_pods(api, "bench-1", [f"p1-{i:05d}" for i in range(n1)], 1)
        results["create_1_client"] = {"count": n1, "p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3,
                                      "per_second": n1 / elapsed}
        print(f"create, 1 client:   p50 {pct(lat, 50)*1e3:.2f} ms  p99 {pct(lat, 99)*1e3:.2f} ms  "
              f"{n1/elapsed:.0f}/s", flush=True)
        n16 = total - n1
        lat, elapsed = await create_pods(api, "bench-16", [f"p16-{i:05d}" for i in range(n16)], 16)
        results["create_16_clients"] = {"count": n16, "p50_ms": pct(lat, 50) * 1e3,
                                        "p99_ms": pct(lat, 99) * 1e3, "per_second": n16 / elapsed}
        print(f"create, 16 clients: p50 {pct(lat, 50)*1e3:.2f} ms  p99 {pct(lat, 99)*1e3:.2f} ms  "
              f"{n16/elapsed:.0f}/s", flush=True)

        lat = []
        for i in range(1000):
            t0 = time.perf_counter()
            status, _ = await api.request("GET", f"/api/v1/namespaces/bench-1/pods/p1-{i % n1:05d}")
            lat.append(time.perf_counter() - t0)
            assert status == 200
        results["get"] = {"count": 1000, "p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3}
        print(f"get:                p50 {pct(lat, 50)*1e3:.2f} ms  p99 {pct(lat, 99)*1e3:.2f} ms", flush=True)

        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            status, body = await api.request("GET", "/api/v1/pods")
            times.append(time.perf_counter() - t0)
            count = len(orjson.loads(body)["items"])
        results["list_all"] = {"items": count, "best_s": min(times), "median_s": statistics.median(times)}
        print(f"LIST {count} pods:     best {min(times):.3f} s  median {statistics.median(times):.3f} s",
              flush=True)
        t0 = time.perf_counter()
        pages, seen, cont = 0, 0, ""
        while True:
            status, body = await api.request("GET", f"/api/v1/pods?limit=500{'&continue=' + cont if cont else ''}")
            doc = orjson.loads(body)
            pages += 1
            seen += len(doc["items"])
            cont = doc["metadata"].get("continue", "")
            if not cont:
                break
        paged = time.perf_counter() - t0
        results["list_paged"] = {"items": seen, "pages": pages, "seconds": paged}
        print(f"LIST paged (500):   {seen} items in {pages} pages, {paged:.3f} s", flush=True)
        if pid:
            results["rss_mb_at_pods"] = {"pods": seen, "rss_mb": rss_mb(pid)}
            print(f"server RSS with {seen} pods: {rss_mb(pid):.0f} MB", flush=True)

        lat = await watch_latency(api, "bench-watch", watchers=100, events=50)
        results["watch_100_watchers"] = {"deliveries": len(lat), "p50_ms": pct(lat, 50) * 1e3,
                                         "p99_ms": pct(lat, 99) * 1e3}
        print(f"watch, 100 watchers: {len(lat)} deliveries  p50 {pct(lat, 50)*1e3:.2f} ms  "
              f"p99 {pct(lat, 99)*1e3:.2f} ms", flush=True)
    return results


def start_server(data_dir: Path) -> tuple[subprocess.Popen, Path]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the API server alone: no controllers or scheduler competing for the same core
    proc = subprocess.Popen([sys.executable, "-m", "podplane", "server", "--data-dir", str(data_dir),
                             "--port", str(port), "--disable-controllers", "--disable-scheduler"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, PODPLANE_LOG_LEVEL="WARNING"))
    kubeconfig = data_dir / "kubeconfig.yaml"
    deadline = time.monotonic() + 30
    while not kubeconfig.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("podplane server did not start")
        time.sleep(0.1)
    time.sleep(0.3)
    return proc, kubeconfig


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kubeconfig", type=Path, help="benchmark a running server instead of starting one")
    parser.add_argument("--pods", type=int, default=10_000, help="total pods to create (default 10000)")
    args = parser.parse_args()
    proc = None
    data_dir = None
    if args.kubeconfig:
        kubeconfig, pid = args.kubeconfig, None
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="podplane-bench-"))
        proc, kubeconfig = start_server(data_dir)
        pid = proc.pid
    try:
        results = asyncio.run(run(kubeconfig, pid, args.pods))
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                print("server did not stop within 30 s of SIGTERM; killing it", file=sys.stderr)
                proc.kill()
                proc.wait()
        if data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    results["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {RESULTS / 'api.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
