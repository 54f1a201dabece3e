"""Stale UDP conntrack entries: find them (pure) and delete them (`conntrack -D`).

UDP has no connection teardown: a client that keeps sending from the same port keeps
hitting the conntrack entry, and so the endpoint, chosen for its first datagram, even
after that endpoint left the Service, or the Service was deleted. After every sync the
proxy lists the UDP entries (`conntrack -L -p udp`) and deletes, like upstream's
level-triggered `CleanStaleEntries`, each DNATed entry (reply source != original
destination) whose
- original destination is a UDP service address (ClusterIP, externalIP, LB IP) and port,
  but whose reply source is not one of that port's serving endpoints;
- original destination is a node address and port a UDP NodePort, same test;
- original destination lies in the service CIDR but is no programmed UDP service
  address any more (Service or port removed); the cluster DNS address is exempt.
Entries that were never DNATed (a local server's own flows) are never touched, and
because the test is against the current state, a restarted proxy deletes nothing valid.
Deletion is by (original destination, port, reply source):
`conntrack -D -p udp --orig-dst D --orig-port-dst P --reply-src E`; exit status 1 with
"0 flow entries" (already gone) counts as success.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from podplane.proxy._command import Runner, check, run
from podplane.proxy.rules import UDPView

__all__ = ["Flow", "StaleFlow", "flush_stale", "parse_flows", "stale_flows"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Flow:
    orig_src: str
    orig_dst: str
    orig_sport: int
    orig_dport: int
    reply_src: str
    reply_sport: int


@dataclass(frozen=True, order=True)
class StaleFlow:
    """A deletion filter: all UDP entries to `orig_dst:orig_dport` answered by `reply_src`."""

    orig_dst: str
    orig_dport: int
    reply_src: str

    def argv(self) -> tuple[str, ...]:
        return ("conntrack", "-D", "-p", "udp", "--orig-dst", self.orig_dst,
                "--orig-port-dst", str(self.orig_dport), "--reply-src", self.reply_src)


def parse_flows(text: str) -> list[Flow]:
    """`conntrack -L -p udp` output → flows (lines it cannot read are skipped)."""
    flows = []
    for line in text.splitlines():
        words = line.split()
        if "udp" not in words[:3]:
            continue
        values: dict[str, list[str]] = {}
        for w in words:
            key, sep, value = w.partition("=")
            if sep and key in ("src", "dst", "sport", "dport"):
                values.setdefault(key, []).append(value)
        try:
            flows.append(Flow(values["src"][0], values["dst"][0], int(values["sport"][0]),
                              int(values["dport"][0]), values["src"][1], int(values["sport"][1])))
        except (KeyError, IndexError, ValueError):
            continue
    return flows


def stale_flows(flows: Iterable[Flow], view: UDPView) -> list[StaleFlow]:
    """The deletion filters for the stale entries among `flows` (see the module docstring)."""
    service_net = ipaddress.ip_network(view.service_cidr) if view.service_cidr else None
    node_ips = set(view.node_ips)
    out: set[StaleFlow] = set()
    for f in flows:
        if f.reply_src == f.orig_dst:
            continue  # not DNATed: not ours
        endpoints = view.frontends.get((f.orig_dst, f.orig_dport))
        if endpoints is None and f.orig_dst in node_ips:
            endpoints = view.node_ports.get(f.orig_dport)
        if endpoints is not None:
            if f.reply_src not in endpoints:
                out.add(StaleFlow(f.orig_dst, f.orig_dport, f.reply_src))
            continue
        if service_net is None or f.orig_dst == view.cluster_dns_ip:
            continue
        try:
            in_services = ipaddress.ip_address(f.orig_dst) in service_net
        except ValueError:
            continue
        if in_services:
            out.add(StaleFlow(f.orig_dst, f.orig_dport, f.reply_src))
    return sorted(out)


async def flush_stale(view: UDPView, *, runner: Runner = run) -> list[StaleFlow]:
    """Delete the stale UDP entries; return the filters that were applied."""
    listed = check(await runner(("conntrack", "-L", "-p", "udp")))
    stale = stale_flows(parse_flows(listed.text()), view)
    for s in stale:
        done = await runner(s.argv())
        if done.returncode == 1 and "0 flow entries" in done.error_text():
            continue  # expired or deleted meanwhile
        check(done)
    if stale:
        log.info("deleted stale UDP conntrack entries: %s",
                 ", ".join(f"{s.orig_dst}:{s.orig_dport}→{s.reply_src}" for s in stale[:10])
                 + (f" and {len(stale) - 10} more" if len(stale) > 10 else ""))
    return stale
