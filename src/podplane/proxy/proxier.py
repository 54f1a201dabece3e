"""`ServiceProxy`: keeps this node's nftables table equal to the cluster's Services.

Flow: informers (services, endpointslices, this node) → handlers that only note "something
changed" → one level-triggered `sync()`, run at most once per `min_sync_interval`
(kube-proxy's minSyncPeriod: a burst of changes becomes one sync) and every
`sync_period` to check that the kernel still holds the table:

1. `rules.build` computes the complete ruleset from the caches (pure);
2. if its digest differs from what the kernel holds, `nft.apply` replaces the table in
   one transaction (keeping ClientIP affinity entries); after a restart with unchanged
   state the digest in the table matches and nothing is touched;
3. `routes.sync` adds/removes the /32 routes through the pod bridge that let node
   processes reach ClusterIPs (retried until the bridge exists);
4. `conntrack.flush_stale` deletes UDP entries that point at removed endpoints or
   removed service addresses;
5. logs the programming latency (first change seen → rules live) and keeps it in
   `last_sync`.
A failed step is logged and retried with back-off; the old table stays in force
meanwhile. `cleanup()` removes the table and the routes. Neighbours: the composition root
(builds it, starts the informers, runs `run()`), `rules`, `nft`, `routes`, `conntrack`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from podplane.client.informer import InformerFactory
from podplane.proxy import conntrack, nft, routes, rules
from podplane.proxy._command import ProxyError, Runner, run

__all__ = ["DEFAULT_MIN_SYNC_INTERVAL", "DEFAULT_SYNC_PERIOD", "ServiceProxy", "SyncResult"]

log = logging.getLogger(__name__)

DEFAULT_MIN_SYNC_INTERVAL = 0.15
"""Seconds between two syncs at least: changes arriving meanwhile are programmed together."""
DEFAULT_SYNC_PERIOD = 30.0
"""Seconds between checks that the kernel still holds our table (re-applied if not)."""
MAX_BACKOFF = 30.0


@dataclass(frozen=True)
class SyncResult:
    changed: bool
    """The table was replaced (False: the kernel already held this ruleset)."""
    service_ports: int
    endpoints: int
    generate_seconds: float
    """Computing the ruleset from the caches."""
    apply_seconds: float
    """The nft transaction (0 when unchanged)."""
    latency_seconds: float | None
    """First change noticed → rules live; None when no change was pending."""
    routes_added: int = 0
    routes_removed: int = 0
    conntrack_deleted: int = 0


class ServiceProxy:
    """The per-node Service proxy (see the module docstring).

    The caller starts `informers` (after constructing this, so the informers it asks for
    exist), runs `run()` as a task and calls `cleanup()` to remove the table for good.
    `runner` runs nft/ip/conntrack (tests pass one that enters a test namespace);
    `clock` is a monotonic clock. `pod_cidrs` overrides the Node's spec.podCIDRs for
    telling pod traffic from other traffic; `route_device` is the pod bridge through
    which node processes reach ClusterIPs (None: no routes, node processes cannot).
    """

    def __init__(
        self,
        client,
        informers: InformerFactory,
        *,
        node_name: str,
        node_ips: Sequence[str],
        service_cidr: str,
        cluster_dns_ip: str,
        table: str = "podplane",
        runner: Runner = run,
        clock: Callable[[], float] = time.monotonic,
        pod_cidrs: Sequence[str] = (),
        route_device: str | None = "podplane0",
        min_sync_interval: float = DEFAULT_MIN_SYNC_INTERVAL,
        sync_period: float = DEFAULT_SYNC_PERIOD,
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.node_ips = tuple(node_ips)
        self.service_cidr = service_cidr
        self.cluster_dns_ip = cluster_dns_ip
        self.table = table
        self.pod_cidrs = tuple(pod_cidrs)
        self.route_device = route_device
        self.min_sync_interval = min_sync_interval
        self.sync_period = sync_period
        self._run = runner
        self._clock = clock
        # Fail at construction, not at the first sync, on a bad table name or CIDR.
        rules.render([], rules.node_facts(node_name, node_ips, service_cidr=service_cidr,
                                          cluster_dns_ip=cluster_dns_ip), table=table)

        self.services = informers.resource("", "services")
        self.slices = informers.resource("discovery.k8s.io", "endpointslices")
        self.nodes = informers.resource("", "nodes", field_selector=f"metadata.name={node_name}")
        for informer in (self.services, self.slices):
            informer.add_handler(self._changed, self._updated, self._changed)
        self.nodes.add_handler(self._changed, self._node_updated, self._changed)

        self._dirty = asyncio.Event()
        self._pending_since: float | None = None
        self._applied: rules.Ruleset | None = None
        """What the kernel holds, as far as we know (None: unknown, e.g. after a start)."""
        self._routed: tuple[str, ...] | None = None
        self._flush_pending = True
        self._last_sync_start = float("-inf")
        self._device_warned = False
        self.last_sync: SyncResult | None = None
        self.syncs = 0
        """Completed syncs."""

    # -- event handlers: only note that something changed ------------------------------
    def _changed(self, *_: object) -> None:
        if self._pending_since is None:
            self._pending_since = self._clock()
        self._dirty.set()

    def _updated(self, old: dict, new: dict) -> None:
        version = (new.get("metadata") or {}).get("resourceVersion")
        if old is new or (version and version == (old.get("metadata") or {}).get("resourceVersion")):
            return  # a resync, not a change
        self._changed()

    def _node_updated(self, old: dict, new: dict) -> None:
        # Status heartbeats change the Node every few seconds; only addresses and pod
        # CIDRs matter here.
        if _node_facts_of(old) != _node_facts_of(new):
            self._changed()

    # -- the ruleset -------------------------------------------------------------------
    def _facts(self) -> rules.NodeFacts:
        node = self.nodes.get(None, self.node_name)
        return rules.node_facts(self.node_name, self.node_ips, service_cidr=self.service_cidr,
                                cluster_dns_ip=self.cluster_dns_ip, node=node, pod_cidrs=self.pod_cidrs)

    def compute(self) -> rules.Ruleset:
        """The ruleset for the current cache contents."""
        return rules.build(self.services.list(), self.slices.list(), self._facts(), table=self.table)

    async def sync(self, *, verify: bool = False, force: bool = False) -> SyncResult:
        """Program the current state; `verify` checks the kernel's digest even when our
        record says it is current, `force` replaces the table regardless."""
        start = self._clock()
        self._last_sync_start = start
        pending, self._pending_since = self._pending_since, None
        try:
            ruleset = self.compute()
            generated = self._clock()
            first = self._applied is None
            need = force or first or ruleset.digest != self._applied.digest
            if (verify or first) and not force:
                installed = await nft.installed_digest(self.table, runner=self._run)
                need = installed != ruleset.digest
                if first and not need:
                    log.info("table %s already holds the current ruleset; left as is", self.table)
            if need:
                keep = await nft.affinity_entries(self.table, runner=self._run) if ruleset.affinity_sets else None
                await nft.apply(ruleset, keep=keep, runner=self._run)
                self._flush_pending = True
            self._applied = ruleset
        except BaseException:
            if pending is not None and (self._pending_since is None or pending < self._pending_since):
                self._pending_since = pending  # measure the retry's latency from the first change
            raise
        applied = self._clock()
        added = removed = 0
        if self.route_device and self.service_cidr and (need or self._routed != ruleset.cluster_ips):
            added, removed = await self._sync_routes(ruleset)
        deleted = 0
        if self._flush_pending:
            deleted = len(await conntrack.flush_stale(ruleset.udp, runner=self._run))
            self._flush_pending = False
        result = SyncResult(
            changed=need, service_ports=ruleset.service_ports, endpoints=ruleset.endpoints,
            generate_seconds=generated - start, apply_seconds=applied - generated if need else 0.0,
            latency_seconds=applied - pending if pending is not None else None,
            routes_added=added, routes_removed=removed, conntrack_deleted=deleted)
        self.last_sync = result
        self.syncs += 1
        if need:
            log.info("programmed %d service ports, %d endpoints: rules %.1f ms, nft %.1f ms%s",
                     result.service_ports, result.endpoints, result.generate_seconds * 1e3,
                     result.apply_seconds * 1e3,
                     f", change→live {result.latency_seconds * 1e3:.1f} ms" if pending is not None else "")
        return result

    async def _sync_routes(self, ruleset: rules.Ruleset) -> tuple[int, int]:
        assert self.route_device
        try:
            added, removed = await routes.sync(ruleset.cluster_ips, device=self.route_device,
                                               service_cidr=self.service_cidr, runner=self._run)
        except routes.DeviceMissing:
            if not self._device_warned:
                log.info("%s does not exist yet: node processes cannot reach ClusterIPs until it does",
                         self.route_device)
                self._device_warned = True
            self._routed = None
            return 0, 0
        self._routed = ruleset.cluster_ips
        self._device_warned = False
        return added, removed

    # -- the loop ----------------------------------------------------------------------
    async def wait_synced(self) -> None:
        await asyncio.gather(self.services.wait_synced(), self.slices.wait_synced(), self.nodes.wait_synced())

    async def run(self) -> None:
        """Sync until cancelled (the informers must be started by the caller)."""
        await self.wait_synced()
        await self._check_service_route()
        self._dirty.set()
        failures = 0
        next_check = self._clock() + self.sync_period
        while True:
            try:
                await asyncio.wait_for(self._dirty.wait(), max(0.0, next_check - self._clock()))
            except TimeoutError:
                pass
            delay = self._last_sync_start + self.min_sync_interval - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            periodic = not self._dirty.is_set()
            self._dirty.clear()
            if periodic:
                next_check = self._clock() + self.sync_period
            try:
                await self.sync(verify=periodic)
                failures = 0
            except Exception as e:  # never stop programming: the old table stays in force meanwhile
                failures += 1
                backoff = min(MAX_BACKOFF, 0.5 * 2 ** (failures - 1))
                log.error("service proxy sync failed (attempt %d, retrying in %.1f s): %s", failures, backoff, e,
                          exc_info=not isinstance(e, ProxyError))
                await asyncio.sleep(backoff)
                self._dirty.set()
            if self.route_device and self._routed is None and not self._dirty.is_set():
                # the bridge may appear with the first pod: look again soon
                next_check = min(next_check, self._clock() + 5.0)

    async def _check_service_route(self) -> None:
        if not self.service_cidr:
            return
        try:
            kind = await routes.service_route_type(self.service_cidr, runner=self._run)
        except ProxyError as e:
            log.warning("cannot read the route for the service CIDR %s: %s", self.service_cidr, e)
            return
        if kind not in ("unreachable", "blackhole", "prohibit"):
            log.warning("no local-only route for the service CIDR %s (found %r): traffic to an "
                        "unprogrammed Service IP may leave the node; the agent installs it", self.service_cidr,
                        kind or "none")

    async def cleanup(self) -> None:
        """Remove the table and the proxy's routes (the service-CIDR route stays)."""
        await nft.delete_table(self.table, runner=self._run)
        if self.route_device and self.service_cidr:
            await routes.remove_all(self.service_cidr, runner=self._run)
        self._applied = None
        self._routed = None
        log.info("removed nftables table %s and the proxy's routes", self.table)


def _node_facts_of(node: dict) -> tuple:
    spec = node.get("spec") or {}
    return ((node.get("status") or {}).get("addresses"), spec.get("podCIDRs"), spec.get("podCIDR"))
