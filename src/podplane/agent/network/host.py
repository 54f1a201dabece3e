"""Host preparation for pod networking: the service-CIDR route and kernel settings.

Run once when the agent starts, before the first pod, in this order:
1. `ensure_service_route(service_cidr)`: a local `unreachable` (or `blackhole`) route
   for the service CIDR. Until the proxy has programmed a Service, traffic to its
   virtual IP would otherwise follow the default route out of the machine (DESIGN §8).
   It must come first. Pod traffic is DNATed in prerouting before the route lookup,
   so programmed Services still work from pods.
2. `set_sysctl("net.ipv4.ip_forward", "1")`: the node routes between pods and out.
3. `net.bridge.bridge-nf-call-iptables=1` where the kernel has br_netfilter: pod↔pod
   traffic on the bridge then passes the netfilter hooks, so replies from a Service's
   backend on the same bridge are un-DNATed.
All settings are per network namespace, which lets tests run this inside a namespace
they own. Every `ip`/`sysctl` call is checked, and the result is verified by reading it
back. Used by `sandbox.PodNetwork.prepare_host`.
"""

from __future__ import annotations

import ipaddress
import logging

from podplane.agent.network._command import Runner, check, run
from podplane.agent.network.errors import CommandFailed, NetworkConfigError

__all__ = [
    "LOCAL_ROUTE_TYPES",
    "SERVICE_ROUTE_TYPE",
    "cluster_dns_ip",
    "ensure_service_route",
    "get_sysctl",
    "service_route",
    "set_sysctl",
]

log = logging.getLogger(__name__)

SERVICE_ROUTE_TYPE = "unreachable"
"""`unreachable` rather than `blackhole`: a connection to an unprogrammed Service IP fails
at once with "No route to host" (an ICMP error for pods) instead of hanging until its
timeout, and still never leaves the machine."""
LOCAL_ROUTE_TYPES = ("unreachable", "blackhole", "prohibit")
"""Route types that keep traffic on the node; an existing one of these is left as is
(the proxy may have installed its own)."""


def cluster_dns_ip(service_cidr: str, offset: int = 10) -> str:
    """The cluster DNS Service address: the tenth address of the service CIDR (10.43.0.10)."""
    net = _network(service_cidr, "service CIDR")
    if offset >= net.num_addresses:
        raise NetworkConfigError(f"service CIDR {service_cidr} has no address #{offset}")
    return str(net.network_address + offset)


def _network(cidr: str, what: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(cidr, strict=True)
    except ValueError as e:
        raise NetworkConfigError(f"invalid {what} {cidr!r}: {e}") from e


async def service_route(service_cidr: str, *, runner: Runner = run) -> str:
    """The type of the main-table route for exactly `service_cidr` ("" if none; "unicast"
    for an ordinary route)."""
    net = _network(service_cidr, "service CIDR")
    out = check(await runner(("ip", f"-{net.version}", "route", "show", "exact", str(net), "table", "main")))
    for line in out.text().splitlines():
        words = line.split()
        if not words:
            continue
        return words[0] if words[0] in (*LOCAL_ROUTE_TYPES, "local", "throw", "nat") else "unicast"
    return ""


async def ensure_service_route(
    service_cidr: str, *, route_type: str = SERVICE_ROUTE_TYPE, runner: Runner = run
) -> bool:
    """Make traffic to `service_cidr` fail locally; True if a route was installed.

    An existing local-only route (unreachable/blackhole/prohibit) is kept; any other
    route for exactly this prefix is replaced, because it would send Service traffic
    off the node. The route is read back to verify it.
    """
    if route_type not in LOCAL_ROUTE_TYPES:
        raise NetworkConfigError(f"service route type must be one of {LOCAL_ROUTE_TYPES}, not {route_type!r}")
    net = _network(service_cidr, "service CIDR")
    current = await service_route(str(net), runner=runner)
    if current in LOCAL_ROUTE_TYPES:
        return False
    if current:
        log.warning("replacing the %s route for the service CIDR %s with %s", current, net, route_type)
    argv = ("ip", f"-{net.version}", "route", "replace", route_type, str(net), "table", "main")
    check(await runner(argv))
    now = await service_route(str(net), runner=runner)
    if now not in LOCAL_ROUTE_TYPES:
        raise CommandFailed(argv, 0, f"route for {net} is {now or 'missing'} after installing it")
    log.info("installed %s route for the service CIDR %s", route_type, net)
    return True


async def get_sysctl(key: str, *, runner: Runner = run) -> str | None:
    """The current value, or None when the kernel has no such setting."""
    done = await runner(("sysctl", "-n", key))
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace")
        if "cannot stat" in err or "No such file" in err:
            return None
        check(done)
    return done.text().strip()


async def set_sysctl(key: str, value: str, *, optional: bool = False, runner: Runner = run) -> bool:
    """Set `key` to `value` (checked and read back); True if it changed.

    A setting the kernel lacks raises `CommandFailed`, or returns False if `optional`.
    """
    current = await get_sysctl(key, runner=runner)
    if current is None:
        if optional:
            log.info("kernel setting %s is not available; skipped", key)
            return False
        raise CommandFailed(("sysctl", "-n", key), 255, f"kernel setting {key} does not exist")
    if current == value:
        return False
    argv = ("sysctl", "-w", f"{key}={value}")
    check(await runner(argv))
    if (now := await get_sysctl(key, runner=runner)) != value:
        raise CommandFailed(argv, 0, f"{key} is {now!r} after setting it to {value!r}")
    return True
