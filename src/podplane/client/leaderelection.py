"""Leader election on coordination.k8s.io/v1 Leases (client-go tools/leaderelection).

Several replicas of a component (controllers, scheduler, vip) run `LeaderElector.run`;
one at a time holds the Lease and runs its `on_started_leading` coroutine:
- acquire: every `retry_period` try to take the Lease; it is free when it has no holder
  or when nobody renewed it for `leaseDurationSeconds`, measured on *our* clock from the
  moment we last saw the record change (so clock skew between machines does not matter);
- renew: the leader rewrites renewTime every `retry_period`; when no renewal succeeds for
  `renew_deadline` seconds it stops leading: the `on_started_leading` task is cancelled
  and `on_stopped_leading` runs (the process should then exit or start over);
- every write is an update with the Lease's resourceVersion, so two candidates racing
  for the same Lease cannot both win (the loser gets 409 Conflict);
- `release()` (or `release_on_cancel=True`) hands the Lease back on shutdown by clearing
  holderIdentity, so a successor need not wait for expiry.
`try_acquire_or_renew()` is the single step both phases use; time (`clock`) and waiting
(`sleep`) are injected so tests drive elections without sleeping. Lease fields:
holderIdentity, leaseDurationSeconds, acquireTime, renewTime, leaseTransitions.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from podplane.api.errors import ApiError
from podplane.api.meta import format_time_micro
from podplane.client.transport import TransportError

__all__ = ["LeaderElector"]

log = logging.getLogger(__name__)


class LeaderElector:
    def __init__(self, client, *, namespace: str, name: str, identity: str, lease_duration: float = 15.0,
                 renew_deadline: float = 10.0, retry_period: float = 2.0,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 release_on_cancel: bool = False) -> None:
        if lease_duration <= renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if renew_deadline <= retry_period * 1.2:
            raise ValueError("renew_deadline must be greater than retry_period * 1.2")
        if not identity:
            raise ValueError("identity must not be empty")
        self.client = client
        self.info = client.resource("coordination.k8s.io", "leases")
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.clock = clock
        self.sleep = sleep
        self.release_on_cancel = release_on_cancel
        self.observed_record: dict = {}
        """spec of the Lease as last read or written."""
        self.observed_time = 0.0
        """Our clock when the record last changed: expiry is measured from here."""
        self._lease: dict | None = None

    # -- state ------------------------------------------------------------------------------
    def is_leader(self) -> bool:
        return self.observed_record.get("holderIdentity") == self.identity

    @property
    def leader(self) -> str:
        """The identity holding the Lease as last observed ("" when none)."""
        return self.observed_record.get("holderIdentity") or ""

    def _stamp(self, now: float) -> str:
        return format_time_micro(datetime.fromtimestamp(now, UTC))

    def _observe(self, lease: dict, now: float) -> None:
        self._lease = lease
        spec = dict(lease.get("spec") or {})
        if spec != self.observed_record:
            self.observed_record = spec
            self.observed_time = now

    # -- one step -----------------------------------------------------------------------------
    async def try_acquire_or_renew(self) -> bool:
        """Take or renew the Lease once; True when we hold it afterwards."""
        now = self.clock()
        record = {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration),
                  "acquireTime": self._stamp(now), "renewTime": self._stamp(now)}
        try:
            lease = await self.client.get(self.info, self.name, self.namespace)
        except ApiError as e:
            if e.code != 404:
                log.warning("leader election %s/%s: cannot read the lease: %s", self.namespace, self.name, e)
                return False
            try:
                created = await self.client.create(self.info, {
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": {**record, "leaseTransitions": 0}}, self.namespace)
            except (ApiError, TransportError) as e:
                log.info("leader election %s/%s: cannot create the lease: %s", self.namespace, self.name, e)
                return False
            self._observe(created, now)
            return True
        except TransportError as e:
            log.warning("leader election %s/%s: cannot read the lease: %s", self.namespace, self.name, e)
            return False
        self._observe(lease, now)
        old = self.observed_record
        duration = old.get("leaseDurationSeconds") or 0
        if old.get("holderIdentity") and self.observed_time + duration > now and not self.is_leader():
            return False  # held by someone else and not yet expired
        if self.is_leader():
            record["acquireTime"] = old.get("acquireTime") or record["acquireTime"]
            record["leaseTransitions"] = old.get("leaseTransitions") or 0
        else:
            record["leaseTransitions"] = (old.get("leaseTransitions") or 0) + 1
        updated = {**lease, "spec": {**(lease.get("spec") or {}), **record}}
        try:
            written = await self.client.update(self.info, updated)  # resourceVersion guards the swap
        except (ApiError, TransportError) as e:
            log.info("leader election %s/%s: cannot update the lease: %s", self.namespace, self.name, e)
            return False
        self._observe(written, now)
        return True

    async def release(self) -> bool:
        """Give the Lease up (holderIdentity cleared) if we hold it."""
        if not self.is_leader() or self._lease is None:
            return True
        now = self.clock()
        spec = {"holderIdentity": "", "leaseDurationSeconds": 1, "acquireTime": self._stamp(now),
                "renewTime": self._stamp(now), "leaseTransitions": self.observed_record.get("leaseTransitions") or 0}
        try:
            written = await self.client.update(self.info, {**self._lease, "spec": spec})
        except (ApiError, TransportError) as e:
            log.warning("leader election %s/%s: cannot release the lease: %s", self.namespace, self.name, e)
            return False
        self._observe(written, now)
        return True

    # -- the loop -------------------------------------------------------------------------------
    async def _acquire(self) -> None:
        while True:
            if await self.try_acquire_or_renew():
                log.info("leader election %s/%s: %s became leader", self.namespace, self.name, self.identity)
                return
            await self.sleep(self.retry_period)

    async def _renew(self) -> None:
        """Return when leadership is lost: a renewal round (a try every retry_period) found
        no success within renew_deadline, or another holder is seen."""
        while True:
            await self.sleep(self.retry_period)
            round_started = self.clock()
            while not await self.try_acquire_or_renew():
                if (self.leader and not self.is_leader()) or self.clock() - round_started >= self.renew_deadline:
                    log.warning("leader election %s/%s: %s lost the lease (holder now %r)", self.namespace,
                                self.name, self.identity, self.leader)
                    return
                await self.sleep(self.retry_period)

    async def run(self, on_started_leading: Callable[[], Awaitable[None]],
                  on_stopped_leading: Callable[[], object] | None = None) -> None:
        """Acquire, run `on_started_leading()` while renewing, and return once leadership is
        lost (or the leading coroutine ends). `on_stopped_leading` runs in every case."""
        leading: asyncio.Task | None = None
        try:
            await self._acquire()
            leading = asyncio.create_task(on_started_leading(), name=f"leader-{self.name}")
            renewing = asyncio.create_task(self._renew(), name=f"lease-{self.name}")
            try:
                await asyncio.wait({leading, renewing}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                renewing.cancel()
                await asyncio.gather(renewing, return_exceptions=True)
        finally:
            if leading is not None and not leading.done():
                leading.cancel()
                await asyncio.gather(leading, return_exceptions=True)
            try:
                if self.release_on_cancel:
                    await asyncio.shield(self.release())
            finally:
                if on_stopped_leading is not None:
                    result = on_stopped_leading()
                    if inspect.isawaitable(result):
                        await result
        if leading is not None and leading.done() and not leading.cancelled() and leading.exception():
            raise leading.exception()
