"""Scheduler benchmark: 10,000 pods onto 1,000 simulated nodes, and a 1,000-replica Deployment.

Starts `podplane server` (SQLite store; the controllers and the scheduler run as its
child processes) on a fresh data dir and a free loopback port, then `podplane agent
--runtime fake --nodes 1000` to simulate the nodes. If the agent is unavailable (or with --no-agent) the
benchmark registers the 1,000 Nodes itself (Ready, with allocatable) and keeps their
Leases fresh, so the node lifecycle controller leaves them alone.

Measures:
- pods bound per second while 10,000 pods are created at once by a concurrent
  client (64 requests in flight): the median (p50) of the per-second binding rates
  over the run, the mean, and the time from the first create to the last binding,
  observed through a pod watch;
- the time until a Deployment of 1,000 replicas reports 1,000 available replicas
  (skipped with a message if the Deployment does not progress);
- the server's RSS at the end (and its component processes'), and the CPU seconds the
  server, its components and this client used while the pods were bound (CPU per pod
  is steadier than rates on a shared machine), with the load average before the run.
- the scheduler alone ("core"): the same 10,000 pods and 1,000 nodes, and 1,000
  ReplicaSet-owned pods (system default topology spreading), scheduled in-process
  with a client that accepts every binding at once, i.e. the cost of the scheduling
  and binding cycles without the API server.
Prints the figures and writes bench/results/scheduler.json (scheduler-no-agent.json
with --no-agent, or --output FILE). All traffic goes to 127.0.0.1 (and the server's
Unix socket for its components). Target (issue #3): p50 >= 500 pods/s bound.
`--server-profile FILE` runs the server (not its component processes) under cProfile
and writes its stats to FILE for finding hot spots.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
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
import yaml

RESULTS = Path(__file__).parent / "results"
NAMESPACE = "bench-sched"
DEPLOY_NAMESPACE = "bench-deploy"


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27",
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}


def node(name: str, now: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                  "kubernetes.io/arch": "amd64", "type": "bench"}},
            "spec": {},
            "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                       "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "bench node", "lastHeartbeatTime": now,
                                       "lastTransitionTime": now}]}}


def now_rfc3339(micro: bool = False) -> str:
    t = time.time()
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    return f"{base}.{int(t % 1 * 1e6):06d}Z" if micro else base + "Z"


class Api:
    def __init__(self, kubeconfig: Path) -> None:
        cfg = yaml.safe_load(kubeconfig.read_text())
        cluster = cfg["clusters"][0]["cluster"]
        self.base = cluster["server"]
        self._ca = tempfile.NamedTemporaryFile(delete=False, suffix=".crt")
        self._ca.write(base64.b64decode(cluster["certificate-authority-data"]))
        self._ca.close()
        self.ssl = ssl.create_default_context(cafile=self._ca.name)
        self.headers = {"Authorization": f"Bearer {cfg['users'][0]['user']['token']}",
                        "Content-Type": "application/json"}
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Api:
        self.session = aiohttp.ClientSession(headers=self.headers, timeout=aiohttp.ClientTimeout(total=None),
                                             connector=aiohttp.TCPConnector(ssl=self.ssl, limit=200))
        return self

    async def __aexit__(self, *exc) -> None:
        await self.session.close()
        os.unlink(self._ca.name)

    async def request(self, method: str, path: str, body: dict | None = None,
                      content_type: str = "application/json") -> tuple[int, bytes]:
        async with self.session.request(method, self.base + path, headers={"Content-Type": content_type},
                                        data=json.dumps(body) if body is not None else None) as r:
            return r.status, await r.read()

    async def json(self, path: str) -> dict:
        status, body = await self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")
        return json.loads(body)

    async def ensure_namespace(self, ns: str) -> None:
        status, body = await self.request("POST", "/api/v1/namespaces",
                                          {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        if status not in (201, 409):
            raise RuntimeError(f"namespace {ns}: {status} {body[:200]!r}")


# -- nodes ------------------------------------------------------------------------------------------
async def count_ready_nodes(api: Api, prefix: str) -> int:
    nodes = (await api.json("/api/v1/nodes"))["items"]
    return sum(1 for n in nodes if n["metadata"]["name"].startswith(prefix) and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in (n.get("status") or {}).get("conditions") or ()))


async def wait_nodes(api: Api, prefix: str, count: int, wait: float, agent: subprocess.Popen | None) -> bool:
    deadline = time.monotonic() + wait
    ready = 0
    while time.monotonic() < deadline:
        ready = await count_ready_nodes(api, prefix)
        if ready >= count:
            return True
        if agent is not None and agent.poll() is not None:
            print(f"agent exited with {agent.returncode} after {ready} Ready nodes", flush=True)
            return False
        await asyncio.sleep(1)
    print(f"only {ready}/{count} nodes Ready after {wait:.0f} s", flush=True)
    return False


async def register_nodes(api: Api, prefix: str, count: int) -> None:
    """Stand-in for the fake agent: Nodes plus Leases in kube-node-lease."""
    await api.ensure_namespace("kube-node-lease")
    names = [f"{prefix}-{i}" for i in range(count)]

    async def create(name: str) -> None:
        status, body = await api.request("POST", "/api/v1/nodes", node(name, now_rfc3339()))
        if status not in (201, 409):
            raise RuntimeError(f"node {name}: {status} {body[:200]!r}")
        status, body = await api.request("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now_rfc3339(True)}})
        if status not in (201, 409):
            raise RuntimeError(f"lease {name}: {status} {body[:200]!r}")

    for i in range(0, count, 50):
        await asyncio.gather(*(create(n) for n in names[i:i + 50]))


async def renew_leases(api: Api, prefix: str, count: int, period: float = 10.0) -> None:
    while True:
        await asyncio.sleep(period)
        renew = now_rfc3339(True)
        for i in range(0, count, 50):
            await asyncio.gather(*(api.request(
                "PATCH", f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{prefix}-{j}",
                {"spec": {"renewTime": renew}}, "application/merge-patch+json") for j in range(i, min(i + 50, count))))


# -- pods -------------------------------------------------------------------------------------------------
async def watch_bindings(api: Api, ns: str, rv: str, total: int, bound_at: dict[str, float],
                         started: asyncio.Event) -> None:
    """Record when each pod of `ns` is first seen with spec.nodeName."""
    url = f"{api.base}/api/v1/namespaces/{ns}/pods?watch=true&resourceVersion={rv}&timeoutSeconds=3600"
    async with api.session.get(url) as r:
        started.set()
        buffer = b""
        async for chunk in r.content.iter_any():
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                event = json.loads(line)
                obj = event.get("object") or {}
                name = (obj.get("metadata") or {}).get("name")
                if name and (obj.get("spec") or {}).get("nodeName") and name not in bound_at:
                    bound_at[name] = time.perf_counter()
                    if len(bound_at) >= total:
                        return


async def create_pods(api: Api, ns: str, names: list[str], concurrency: int) -> float:
    queue = list(reversed(names))

    async def worker() -> None:
        while queue:
            name = queue.pop()
            for attempt in range(5):
                status, body = await api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod(name))
                if status == 201:
                    break
                if status >= 500 or status == 429:
                    await asyncio.sleep(0.2 * (attempt + 1))
                    continue
                raise RuntimeError(f"create {name}: {status} {body[:200]!r}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


def per_second_rates(times: list[float], start: float) -> list[int]:
    """Bindings in each whole second from the first binding to the last."""
    if not times:
        return []
    first = min(times)
    buckets = [0] * (int(max(times) - first) + 1)
    for t in times:
        buckets[int(t - first)] += 1
    return buckets[:-1] if len(buckets) > 1 else buckets  # the last second is partial


async def bench_pods(api: Api, total: int, concurrency: int) -> dict:
    await api.ensure_namespace(NAMESPACE)
    rv = (await api.json(f"/api/v1/namespaces/{NAMESPACE}/pods?limit=1"))["metadata"]["resourceVersion"]
    bound_at: dict[str, float] = {}
    watching = asyncio.Event()
    watcher = asyncio.create_task(watch_bindings(api, NAMESPACE, rv, total, bound_at, watching))
    await asyncio.wait_for(watching.wait(), 30)
    start = time.perf_counter()
    create_seconds = await create_pods(api, NAMESPACE, [f"pod-{i:05d}" for i in range(total)], concurrency)
    print(f"created {total} pods in {create_seconds:.1f} s ({total / create_seconds:.0f}/s); "
          f"{len(bound_at)} bound so far", flush=True)
    last_report = time.perf_counter()
    while not watcher.done():
        await asyncio.sleep(0.5)
        if time.perf_counter() - last_report > 5:
            last_report = time.perf_counter()
            print(f"  {len(bound_at)}/{total} bound after {last_report - start:.0f} s", flush=True)
        if time.perf_counter() - start > 900:
            watcher.cancel()
            print("gave up waiting for all bindings after 900 s", flush=True)
            break
    times = list(bound_at.values())
    rates = per_second_rates(times, start)
    all_bound = max(times) - start if len(times) >= total else None
    result = {
        "nodes": None, "pods": total, "concurrency": concurrency, "bound": len(times),
        "create_seconds": round(create_seconds, 2),
        "create_per_second": round(total / create_seconds, 1),
        "bound_per_second_p50": statistics.median(rates) if rates else 0,
        "bound_per_second_mean": round(len(times) / (max(times) - min(times)), 1) if len(times) > 1 else 0,
        "bound_per_second_max": max(rates) if rates else 0,
        "seconds_to_all_bound": round(all_bound, 2) if all_bound is not None else None,
        "per_second": rates,
    }
    print(f"bound {len(times)}/{total}: p50 {result['bound_per_second_p50']} pods/s, "
          f"mean {result['bound_per_second_mean']} pods/s, max {result['bound_per_second_max']} pods/s; "
          f"all bound after {result['seconds_to_all_bound']} s", flush=True)
    return result


async def bench_deployment(api: Api, replicas: int, wait: float, stall: float) -> dict:
    await api.ensure_namespace(DEPLOY_NAMESPACE)
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "resources": {
                                  "requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}}
    start = time.perf_counter()
    status, body = await api.request("POST", f"/apis/apps/v1/namespaces/{DEPLOY_NAMESPACE}/deployments", deployment)
    if status != 201:
        return {"replicas": replicas, "skipped": f"creating the Deployment failed: {status} {body[:200]!r}"}
    best, best_at = -1, time.perf_counter()
    available = 0
    while time.perf_counter() - start < wait:
        await asyncio.sleep(1)
        doc = await api.json(f"/apis/apps/v1/namespaces/{DEPLOY_NAMESPACE}/deployments/web")
        available = (doc.get("status") or {}).get("availableReplicas") or 0
        if available >= replicas:
            seconds = time.perf_counter() - start
            print(f"deployment of {replicas} replicas available after {seconds:.1f} s", flush=True)
            return {"replicas": replicas, "seconds_to_available": round(seconds, 2)}
        if available > best:
            best, best_at = available, time.perf_counter()
        elif time.perf_counter() - best_at > stall:
            message = (f"skipped: the Deployment stopped progressing at {available}/{replicas} available replicas "
                       f"(no progress for {stall:.0f} s; is the Deployment controller running?)")
            print(message, flush=True)
            return {"replicas": replicas, "available": available, "skipped": message}
    message = f"skipped: only {available}/{replicas} replicas available after {wait:.0f} s"
    print(message, flush=True)
    return {"replicas": replicas, "available": available, "skipped": message}


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def child_processes(pid: int) -> dict[str, int]:
    """The live children of `pid` by the last word of their command line (the server's components)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out[(entry / "cmdline").read_bytes().split(b"\0")[-2].decode() or entry.name] = int(entry.name)
        except (OSError, IndexError, ValueError):
            continue
    return out


def tree_cpu_seconds(pid: int) -> dict[str, float]:
    """User + system CPU seconds of `pid` ("server") and of its live descendants (the server runs
    the controllers and the scheduler as child processes), by the last word of their command line."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    out: dict[str, float] = {}
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            name = "server" if current == pid else Path(f"/proc/{current}/cmdline").read_bytes().split(b"\0")[-2].decode()
        except (OSError, IndexError):
            name = str(current)
        out[name] = out.get(name, 0.0) + stats.get(current, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == current]
    return out


# -- the scheduler alone ---------------------------------------------------------------------------------
class NullClient:
    """Accepts every write at once: isolates the scheduler's own cost from the API server's."""

    def __init__(self) -> None:
        from podplane.client.fake import FakeClient

        self.resource = FakeClient().resource

    async def create_subresource(self, *args, **kw) -> dict:
        return {}

    async def patch(self, *args, **kw) -> dict:
        return {}

    async def create(self, *args, **kw) -> dict:
        return {}


class NullRecorder:
    def event(self, *args) -> None:
        pass


async def bench_core(nodes: int, pods: int, replicas: int) -> dict:
    from podplane.client.informer import InformerFactory
    from podplane.scheduler import Scheduler
    from podplane.settings import SchedulerSettings

    def prepare(pod_objects: list[dict], extra: list[tuple[str, str, list[dict]]]) -> Scheduler:
        """A scheduler whose informer caches hold the nodes and pending pods (no watches)."""
        client = NullClient()
        informers = InformerFactory(client)
        scheduler = Scheduler(client, informers, SchedulerSettings(), recorder=NullRecorder())
        for group, plural, objs in extra:
            informers.resource(group, plural).replace(objs, "1")
        informers.resource("", "nodes").replace([node(f"bench-{i}", now_rfc3339()) for i in range(nodes)], "1")
        informers.resource("", "pods").replace(pod_objects, "1")
        return scheduler

    results: dict = {"nodes": nodes}
    plain = []
    for i in range(pods):
        p = pod(f"pod-{i:05d}")
        p["metadata"].update(namespace=NAMESPACE, uid=f"u{i}", resourceVersion="1")
        plain.append(p)
    scheduler = prepare(plain, [])
    start = time.perf_counter()
    await scheduler.schedule_pending()
    seconds = time.perf_counter() - start
    results["pods"] = {"pods": pods, "bound": scheduler.scheduled, "seconds": round(seconds, 2),
                       "pods_per_second": round(scheduler.scheduled / seconds, 1)}
    print(f"core: {scheduler.scheduled} pods onto {nodes} nodes in {seconds:.2f} s "
          f"({scheduler.scheduled / seconds:.0f} pods/s)", flush=True)
    if replicas:
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": "web-1", "namespace": DEPLOY_NAMESPACE, "uid": "rs-uid", "resourceVersion": "1"},
              "spec": {"selector": {"matchLabels": {"app": "web"}}}}
        owned = []
        for i in range(replicas):
            p = pod(f"web-1-{i:05d}")
            p["metadata"].update(namespace=DEPLOY_NAMESPACE, uid=f"w{i}", resourceVersion="1", labels={"app": "web"},
                                 ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
                                                   "uid": "rs-uid", "controller": True}])
            owned.append(p)
        scheduler = prepare(owned, [("apps", "replicasets", [rs])])
        start = time.perf_counter()
        await scheduler.schedule_pending()
        seconds = time.perf_counter() - start
        per_node = {}
        for info in scheduler.cache.nodes.values():
            per_node[len(info.pods)] = per_node.get(len(info.pods), 0) + 1
        results["replicaset_pods"] = {"pods": replicas, "bound": scheduler.scheduled, "seconds": round(seconds, 2),
                                      "pods_per_second": round(scheduler.scheduled / seconds, 1),
                                      "nodes_by_pod_count": dict(sorted(per_node.items()))}
        print(f"core: {scheduler.scheduled} ReplicaSet pods (default spreading) in {seconds:.2f} s "
              f"({scheduler.scheduled / seconds:.0f} pods/s); nodes by pod count {dict(sorted(per_node.items()))}",
              flush=True)
    return results


# -- processes ------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, profile: str | None) -> tuple[subprocess.Popen, Path]:
    port = free_port()
    prefix = [sys.executable] + (["-m", "cProfile", "-o", profile] if profile else [])
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 (kept open for the child)
    proc = subprocess.Popen([*prefix, "-m", "podplane", "server", "--data-dir", str(data_dir), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PODPLANE_LOG_LEVEL="INFO"))
    kubeconfig = data_dir / "kubeconfig.yaml"
    deadline = time.monotonic() + 60
    while not kubeconfig.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"podplane server did not start; see {data_dir / 'server.log'}")
        time.sleep(0.1)
    time.sleep(0.5)
    return proc, kubeconfig


def start_agent(data_dir: Path, kubeconfig: Path, nodes: int, prefix: str) -> subprocess.Popen | None:
    log = open(data_dir / "agent.log", "ab")  # noqa: SIM115 (kept open for the child)
    try:
        return subprocess.Popen([sys.executable, "-m", "podplane", "agent", "--runtime", "fake", "--kubeconfig",
                                 str(kubeconfig), "--data-dir", str(data_dir / "agent"), "--nodes", str(nodes),
                                 "--node-name", prefix], stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, PODPLANE_LOG_LEVEL="WARNING"))
    except OSError as e:
        print(f"cannot start the fake agent: {e}", flush=True)
        return None


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT if proc.args[1:3] == ["-m", "cProfile"] else signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def run(args: argparse.Namespace, data_dir: Path, server: subprocess.Popen, kubeconfig: Path) -> dict:
    results: dict = {}
    agent = None
    renewer = None
    prefix = "bench"
    async with Api(kubeconfig) as api:
        try:
            mode = "agent"
            if not args.no_agent:
                agent = start_agent(data_dir, kubeconfig, args.nodes, prefix)
            t0 = time.perf_counter()
            ok = agent is not None and await wait_nodes(api, prefix, args.nodes, args.node_timeout, agent)
            if not ok:
                mode = "registered by the benchmark (no fake agent)"
                stop(agent)
                agent = None
                print(f"registering {args.nodes} nodes directly and renewing their leases", flush=True)
                await register_nodes(api, prefix, args.nodes)
                renewer = asyncio.create_task(renew_leases(api, prefix, args.nodes))
                await wait_nodes(api, prefix, args.nodes, 120, None)
            print(f"{args.nodes} nodes Ready after {time.perf_counter() - t0:.1f} s ({mode})", flush=True)
            results["nodes"] = {"count": args.nodes, "source": mode}
            await asyncio.sleep(2)  # let the scheduler's node informer catch up
            cpu0, own0, load = tree_cpu_seconds(server.pid), time.process_time(), os.getloadavg()[0]
            results["pods"] = await bench_pods(api, args.pods, args.concurrency)
            results["pods"]["nodes"] = args.nodes
            # CPU per pod is steadier than wall-clock rates on a shared machine; the load average
            # before the run tells whether others were busy
            cpu1 = tree_cpu_seconds(server.pid)
            results["pods"]["server_cpu_seconds"] = round(sum(cpu1.values()) - sum(cpu0.values()), 1)
            results["pods"]["server_cpu_seconds_by_process"] = {
                name: round(seconds - cpu0.get(name, 0.0), 1) for name, seconds in cpu1.items()}
            results["pods"]["client_cpu_seconds"] = round(time.process_time() - own0, 1)
            results["pods"]["load_average_before"] = round(load, 2)
            print(f"server CPU {results['pods']['server_cpu_seconds']} s "
                  f"{results['pods']['server_cpu_seconds_by_process']}, benchmark client CPU "
                  f"{results['pods']['client_cpu_seconds']} s; load average before {load:.2f}", flush=True)
            results["rss_mb_after_pods"] = round(rss_mb(server.pid), 1)
            children = {name: round(rss_mb(pid), 1) for name, pid in child_processes(server.pid).items()}
            results["rss_mb_after_pods_components"] = children
            print(f"server RSS: {results['rss_mb_after_pods']:.0f} MB; its component processes: {children}",
                  flush=True)
            if args.replicas:
                results["deployment"] = await bench_deployment(api, args.replicas, args.deploy_timeout, 60)
            results["rss_mb_end"] = round(rss_mb(server.pid), 1)
        finally:
            if renewer is not None:
                renewer.cancel()
            stop(agent)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=1000, help="simulated nodes (default 1000)")
    parser.add_argument("--pods", type=int, default=10_000, help="pods created at once (default 10000)")
    parser.add_argument("--concurrency", type=int, default=64, help="create requests in flight (default 64)")
    parser.add_argument("--replicas", type=int, default=1000, help="Deployment replicas; 0 skips (default 1000)")
    parser.add_argument("--deploy-timeout", type=float, default=600, help="seconds to wait for the Deployment")
    parser.add_argument("--node-timeout", type=float, default=120, help="seconds to wait for the agent's nodes")
    parser.add_argument("--no-agent", action="store_true", help="register nodes directly instead of the fake agent")
    parser.add_argument("--server-profile", help="run the server under cProfile and write its stats here")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (logs) after the run")
    parser.add_argument("--core-only", action="store_true", help="only the in-process scheduler measurement")
    parser.add_argument("--output", default=None,
                        help="results file (default bench/results/scheduler.json, or scheduler-no-agent.json "
                             "with --no-agent)")
    args = parser.parse_args()
    core = asyncio.run(bench_core(args.nodes, args.pods, args.replicas))
    if args.core_only:
        print(json.dumps(core, indent=2))
        return 0
    data_dir = Path(tempfile.mkdtemp(prefix="podplane-bench-sched-"))
    server, kubeconfig = start_server(data_dir, args.server_profile)
    try:
        results = asyncio.run(run(args, data_dir, server, kubeconfig))
    finally:
        stop(server)
        if args.keep:
            print(f"data dir kept at {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    results["core"] = core
    results["target"] = {"bound_per_second_p50": 500}
    results["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    output = Path(args.output) if args.output else RESULTS / (
        "scheduler-no-agent.json" if args.no_agent else "scheduler.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
