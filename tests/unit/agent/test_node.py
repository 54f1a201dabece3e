"""`podplane agent` start-up: each failing phase says which it was and what to do."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

import pytest

from podplane.agent import Agent, ConfigError
from podplane.client.fake import FakeClient
from podplane.node import StartupError, run_agent, serve_agent
from podplane.settings import AgentSettings


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def kubeconfig(tmp_path):
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:{closed_port()}", insecure-skip-tls-verify: true}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
""")
    return str(path)


async def start(settings: AgentSettings) -> str:
    with pytest.raises(StartupError) as e:
        await serve_agent(settings, asyncio.Event(), connect_timeout=0.3)
    return str(e.value)


async def test_missing_kubeconfig(tmp_path):
    message = await start(AgentSettings(kubeconfig=str(tmp_path / "nope.yaml")))
    assert message.startswith("kubeconfig: ") and "start the server first" in message


@pytest.mark.parametrize("change,expected", [
    pytest.param({"runtime": "crun"}, "settings: --runtime 'crun' is not available", id="runtime"),
    pytest.param({"runtime": "runc", "nodes": 3}, "settings: --nodes 3: only the fake runtime", id="real-nodes"),
    pytest.param({"nodes": 0}, "settings: --nodes 0 must be at least 1", id="nodes"),
    pytest.param({"node_labels": ("oops",)}, "settings: node label 'oops' is not key=value", id="label"),
    pytest.param({"capacity_cpu": "lots"}, "settings: --cpu 'lots' is not a positive quantity", id="cpu"),
    pytest.param({"node_name": "Bad_Name!"}, "settings: node name 'bad_name!' is not a valid", id="name"),
])
async def test_bad_settings(kubeconfig, change, expected):
    message = await start(replace(AgentSettings(kubeconfig=kubeconfig, node_name="n"), **change))
    assert message.startswith(expected)


async def test_unreachable_server(kubeconfig):
    message = await start(AgentSettings(kubeconfig=kubeconfig, node_name="n"))
    assert message.startswith("connect: cannot reach the API server at https://127.0.0.1:")
    assert "is `podplane server` running" in message


def test_run_agent_reports_the_failed_phase_and_exits_1(tmp_path, capsys):
    assert run_agent(AgentSettings(kubeconfig=str(tmp_path / "missing.yaml"))) == 1
    assert "podplane: agent start-up failed: kubeconfig:" in capsys.readouterr().err


async def test_register_many_nodes_gives_each_a_block_and_a_lease():
    client = FakeClient()
    client.seed(client.resource("", "nodes"), {"metadata": {"name": "other"}, "spec": {"podCIDR": "10.244.0.0/24"}})
    agent = Agent(client, AgentSettings(node_name="Sim", nodes=3, node_labels=("tier=sim",)))
    await agent.register()
    assert [n.name for n in agent.nodes] == ["sim-0", "sim-1", "sim-2"]
    assert [n.pod_cidr for n in agent.nodes] == ["10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"]
    await asyncio.sleep(0)  # let the fire-and-forget events land
    assert sorted(v for v in client.verbs() if v != "create events") == [
        "create leases"] * 3 + ["create nodes"] * 3 + ["get leases"] * 3 + ["list nodes"]
    assert client.verbs().count("create events") == 3 * 6, "Starting .. NodeReady per node"
    assert agent.events, "three nodes record events"
    node = client.stored(client.resource("", "nodes"), "sim-1")
    assert node["metadata"]["labels"]["tier"] == "sim"


def test_events_are_skipped_for_large_simulations():
    assert not Agent(FakeClient(), AgentSettings(node_name="big", nodes=51)).events


def test_config_errors_are_value_errors():
    with pytest.raises(ConfigError):
        Agent(FakeClient(), AgentSettings(node_name="x", capacity_memory="-1"))


async def test_runc_without_root_says_what_to_do(kubeconfig, monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    message = await start(replace(AgentSettings(kubeconfig=kubeconfig, node_name="n"), runtime="runc"))
    assert message.startswith("settings: the runc runtime needs root")
    assert "--runtime process" in message
