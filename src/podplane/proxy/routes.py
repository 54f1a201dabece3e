"""Host routes that let processes on the node reach programmed ClusterIPs.

A locally generated packet is routed when the socket connects, before the nat `output`
hook can DNAT it, and the agent's `unreachable` route for the service CIDR makes that
lookup fail ("No route to host"). So the proxy adds one `/32` route per programmed
ClusterIP through the pod bridge (`ip route replace <ip>/32 dev podplane0 proto 158`):
the lookup succeeds, `nat-output` DNATs the packet, and the kernel re-routes it to the
endpoint. The source address is the bridge's, inside the pod CIDR, so pods answer it
directly. A ClusterIP the proxy has not programmed still hits the `unreachable` route; a
programmed one on a port without a rule is rejected by the table's `cluster-ips-check`;
nothing is delivered to the node's own sockets. The routes carry protocol number
`ROUTE_PROTO` so the proxy finds (and removes) exactly its own; the service-CIDR route
itself is never touched. Every `ip` call is checked; removal tolerates routes that
vanished meanwhile. Without the bridge (no pod on the node yet) adding fails with
`DeviceMissing`, and the proxier retries later.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from podplane.proxy._command import CommandFailed, Runner, check, run

__all__ = ["ROUTE_PROTO", "DeviceMissing", "installed", "remove_all", "service_route_type", "sync"]

ROUTE_PROTO = 158
"""Routing protocol number marking the proxy's routes (unassigned in iproute2's rt_protos)."""


class DeviceMissing(CommandFailed):
    """The route device (the pod bridge) does not exist yet."""


def _in(ip: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_address(ip) in net
    except ValueError:
        return False


async def installed(service_cidr: str, *, runner: Runner = run) -> set[str]:
    """The proxy's /32 routes inside the service CIDR (main table)."""
    net = ipaddress.ip_network(service_cidr)
    done = check(await runner(("ip", "-4", "route", "show", "table", "main", "proto", str(ROUTE_PROTO))))
    out = set()
    for line in done.text().splitlines():
        words = line.split()
        if words and "/" not in words[0] and _in(words[0], net):
            out.add(words[0])
    return out


async def sync(wanted: Iterable[str], *, device: str, service_cidr: str, runner: Runner = run) -> tuple[int, int]:
    """Make the proxy's routes exactly `wanted` (IPs outside the service CIDR are ignored);
    return (added, removed)."""
    net = ipaddress.ip_network(service_cidr)
    want = {ip for ip in wanted if _in(ip, net)}
    have = await installed(service_cidr, runner=runner)
    gone, new = sorted(have - want), sorted(want - have)
    if gone:
        script = "".join(f"route del {ip}/32 proto {ROUTE_PROTO} table main\n" for ip in gone)
        done = await runner(("ip", "-batch", "-"), input=script.encode())
        if done.returncode != 0 and set(gone) & await installed(service_cidr, runner=runner):
            check(done)  # something other than "already gone"
    if new:
        script = "".join(
            f"route replace {ip}/32 dev {device} proto {ROUTE_PROTO} table main\n" for ip in new)
        done = await runner(("ip", "-batch", "-"), input=script.encode())
        if done.returncode != 0:
            err = done.error_text()
            if "Cannot find device" in err:
                raise DeviceMissing(done.argv, done.returncode, err)
            check(done)
    return len(new), len(gone)


async def remove_all(service_cidr: str, *, runner: Runner = run) -> int:
    """Remove every proxy route in the service CIDR; return how many there were."""
    have = await installed(service_cidr, runner=runner)
    if have:
        script = "".join(f"route del {ip}/32 proto {ROUTE_PROTO} table main\n" for ip in sorted(have))
        done = await runner(("ip", "-batch", "-"), input=script.encode())
        if done.returncode != 0 and await installed(service_cidr, runner=runner):
            check(done)
    return len(have)


async def service_route_type(service_cidr: str, *, runner: Runner = run) -> str:
    """The type of the main-table route for exactly the service CIDR ("" if none), to check
    that the agent's local-only route is in place (the proxy never changes it)."""
    done = check(await runner(("ip", "-4", "route", "show", "exact", str(ipaddress.ip_network(service_cidr)),
                               "table", "main")))
    for line in done.text().splitlines():
        if words := line.split():
            return words[0] if words[0] in ("unreachable", "blackhole", "prohibit", "local", "throw") else "unicast"
    return ""
