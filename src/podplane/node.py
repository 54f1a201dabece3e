"""Composition root of `podplane agent`: kubeconfig → client → Agent, until SIGINT/SIGTERM.

`run_agent(settings)` checks the settings, builds a `Client` from the kubeconfig
(`client.transport_from_kubeconfig`), waits for the API server (up to
`CONNECT_TIMEOUT` seconds: an agent started with its server may come up first),
registers the node(s) and runs the `podplane.agent.Agent` until a signal arrives.
Each start-up phase that fails says which phase it was and what to do about it
(k3s style): settings, kubeconfig, connect, register. On SIGINT/SIGTERM the agent
stops its loops and exits 0; Nodes and Leases stay, so the node lifecycle
controller sees the node go NotReady after its grace period, as with a kubelet.

A runc node also runs the node's Service plumbing beside the agent (`node_services`):
the proxy (`podplane.proxy.proxier.ServiceProxy`: one nftables table for ClusterIP,
NodePort and LoadBalancer traffic) and the cluster DNS (`podplane.proxy.dns.ClusterDNS`)
answering on the cluster DNS address through a local route. Both stay in force when the
agent stops (traffic keeps flowing; a restarted agent takes them over); `podplane
killall` removes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time

from podplane.agent import Agent, ConfigError
from podplane.api.errors import ApiError
from podplane.client import Client, TransportError, transport_from_kubeconfig
from podplane.client.informer import InformerFactory
from podplane.settings import AgentSettings
from podplane.utils.aio import cancel_and_wait, run_until_signalled

__all__ = ["CONNECT_TIMEOUT", "StartupError", "run_agent", "serve_agent"]

log = logging.getLogger("podplane.node")

CONNECT_TIMEOUT = 30.0
"""Seconds the agent waits for an unreachable API server before giving up."""


class StartupError(Exception):
    """A start-up phase failed; the message names the phase and the next step."""


def _client(settings: AgentSettings) -> Client:
    path = settings.kubeconfig or os.path.join(settings.data_dir, "kubeconfig.yaml")
    try:
        transport = transport_from_kubeconfig(path, user_agent="podplane-agent")
    except FileNotFoundError:
        raise StartupError(f"kubeconfig: {path} does not exist; start the server first (`podplane server`) "
                           f"or pass --kubeconfig") from None
    except (OSError, ValueError, KeyError, IndexError, StopIteration, TypeError) as e:
        raise StartupError(f"kubeconfig: cannot use {path}: {type(e).__name__}: {e}; "
                           f"pass the kubeconfig that `podplane server` wrote") from e
    return Client(transport, field_manager="kubelet")


async def _wait_for_api(client: Client, patience: float) -> None:
    deadline = time.monotonic() + patience
    delay = 0.2
    server = getattr(client.transport, "base_url", "the API server")
    while True:
        try:
            await client.transport.request("GET", "/version")
            return
        except ApiError as e:
            hint = "the kubeconfig's token was rejected" if e.code in (401, 403) else "the server answered an error"
            raise StartupError(f"connect: {server}: {e}; {hint}") from e
        except TransportError as e:
            if time.monotonic() >= deadline:
                raise StartupError(f"connect: cannot reach the API server at {server} after {patience:.0f} s: {e}; "
                                   f"is `podplane server` running and the kubeconfig's address right?") from e
            log.info("waiting for the API server at %s: %s", server, e)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def serve_agent(settings: AgentSettings, stop: asyncio.Event, *, started: asyncio.Event | None = None,
                      connect_timeout: float = CONNECT_TIMEOUT) -> None:
    """Run the agent until `stop` is set (the testable core of `run_agent`)."""
    client = _client(settings)
    try:
        try:
            agent = Agent(client, settings)
        except ConfigError as e:
            raise StartupError(f"settings: {e}") from e
        await _wait_for_api(client, connect_timeout)
        try:
            await agent.register()
        except ConfigError as e:
            raise StartupError(f"register: {e}") from e
        except ApiError as e:
            hint = ("the kubeconfig's user may not create Nodes and Leases" if e.code == 403
                    else "check the server log")
            raise StartupError(f"register: cannot register node(s) {agent.names[0]}..: {e}; {hint}") from e
        except (TransportError, ConnectionError) as e:
            raise StartupError(f"register: lost the API server while registering: {e}; retry") from e
        if settings.runtime == "process":
            from podplane.agent.runtime.process import LIMITATIONS

            print(f"podplane: WARNING: the process runtime does not isolate pods:\n{LIMITATIONS}", flush=True)
        print(f"podplane: agent running {len(agent.names)} {settings.runtime} node(s) "
              f"({agent.names[0]}{' .. ' + agent.names[-1] if len(agent.names) > 1 else ''})", flush=True)
        if started is not None:
            started.set()
        async with node_services(agent, settings, client):
            await agent.run(stop)
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def node_services(agent: Agent, settings: AgentSettings, client: Client):
    """Proxy and cluster DNS of a runc node while the agent runs (nothing for other runtimes)."""
    if settings.runtime != "runc":
        yield
        return
    from podplane.proxy._command import run as runner
    from podplane.proxy.dns import ClusterDNS, ClusterDNSError, ensure_local_route
    from podplane.proxy.proxier import ServiceProxy

    node = agent.nodes[0]
    informers = InformerFactory(client)
    proxy = ServiceProxy(client, informers, node_name=node.name, node_ips=[node.internal_ip],
                         service_cidr=settings.service_cidr, cluster_dns_ip=settings.cluster_dns,
                         pod_cidrs=[settings.cluster_cidr])
    dns = ClusterDNS(informers, cluster_domain=settings.cluster_domain, listen=(settings.cluster_dns, 53),
                     reverse_cidrs=(settings.service_cidr, settings.cluster_cidr))
    informers.start()
    task = asyncio.create_task(proxy.run(), name="service-proxy")

    def _proxy_ended(t: asyncio.Task) -> None:
        if not t.cancelled() and t.exception() is not None:
            log.error("the service proxy stopped: %r; Services on this node are no longer updated "
                      "(restart the agent)", t.exception())

    task.add_done_callback(_proxy_ended)
    dns_started = False
    try:
        try:
            await dns.start()
            dns_started = True
            await ensure_local_route(settings.cluster_dns, runner)
        except (ClusterDNSError, OSError) as e:
            log.error("cluster DNS on %s:53 is not available: %s; pods will not resolve Service names",
                      settings.cluster_dns, e)
        yield
    finally:
        await cancel_and_wait([task])
        if dns_started:
            await dns.stop()  # the local route stays: a restarted agent answers there again
        await informers.stop()


def run_agent(settings: AgentSettings) -> int:
    return run_until_signalled(lambda stop: serve_agent(settings, stop),
                               {StartupError: "podplane: agent start-up failed"})


def run_killall(data_dir: str, *, cgroup_parent: str = "/podplane", netns_prefix: str = "pp-",
                cluster_dns: str = "10.43.0.10") -> int:
    """`podplane killall`: see `agent.cleanup`."""
    from podplane.agent.cleanup import killall

    if os.geteuid() != 0:
        print("podplane: killall needs root (containers, mounts, cgroups, namespaces)", file=sys.stderr)
        return 1
    clean = killall(data_dir, cgroup_parent=cgroup_parent, netns_prefix=netns_prefix, cluster_dns=cluster_dns)
    if not clean:
        print("podplane: some leftovers could not be removed (see above); stop the agent first and retry",
              file=sys.stderr)
    return 0 if clean else 1
