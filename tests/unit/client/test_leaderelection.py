"""Leader election on Leases: acquisition, renewal, expiry, failover, no dual leadership.

Electors share one FakeClient (the Lease store) and a fake clock; `run()` gets a sleep
that advances the clock instead of waiting, so whole elections play out instantly.
"""

from __future__ import annotations

import asyncio

import pytest

from podplane.api.errors import ApiError
from podplane.client.fake import FakeClient
from podplane.client.leaderelection import LeaderElector


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def elector(client, clock: Clock, identity: str, **kw) -> LeaderElector:
    return LeaderElector(client, namespace="kube-system", name="controllers", identity=identity,
                         lease_duration=15, renew_deadline=10, retry_period=2, clock=clock, sleep=clock.sleep, **kw)


def lease_spec(client: FakeClient) -> dict:
    return client.stored(client.resource("coordination.k8s.io", "leases"), "controllers", "kube-system")["spec"]


async def test_first_candidate_creates_the_lease_and_leads():
    client, clock = FakeClient(), Clock()
    a = elector(client, clock, "a")
    assert await a.try_acquire_or_renew()
    assert a.is_leader()
    spec = lease_spec(client)
    assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 15
    assert spec["leaseTransitions"] == 0 and spec["acquireTime"] == spec["renewTime"]
    assert client.verbs() == ["get leases", "create leases"]


async def test_held_lease_is_not_taken_before_it_expires():
    client, clock = FakeClient(), Clock()
    a, b = elector(client, clock, "a"), elector(client, clock, "b")
    await a.try_acquire_or_renew()
    clock.now += 10
    assert not await b.try_acquire_or_renew()
    assert b.leader == "a" and not b.is_leader()
    # a keeps renewing: every renewal restarts b's count
    for _ in range(5):
        clock.now += 10
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()
    assert lease_spec(client)["holderIdentity"] == "a"


async def test_renewal_keeps_acquire_time_and_transitions():
    client, clock = FakeClient(), Clock()
    a = elector(client, clock, "a")
    await a.try_acquire_or_renew()
    first = lease_spec(client)
    clock.now += 2
    await a.try_acquire_or_renew()
    spec = lease_spec(client)
    assert spec["acquireTime"] == first["acquireTime"] and spec["renewTime"] != first["renewTime"]
    assert spec["leaseTransitions"] == 0


async def test_failover_after_expiry_counts_a_transition():
    client, clock = FakeClient(), Clock()
    a, b = elector(client, clock, "a"), elector(client, clock, "b")
    await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()  # b starts its clock when it first sees the record
    clock.now += 14.5
    assert not await b.try_acquire_or_renew()  # not yet expired
    clock.now += 0.5
    assert await b.try_acquire_or_renew()  # lease_duration since b last saw it change
    spec = lease_spec(client)
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    # the old leader notices it lost the lease and does not take it back
    assert not await a.try_acquire_or_renew()
    assert not a.is_leader() and a.leader == "b"


class RacingFakeClient(FakeClient):
    """Reads yield to the loop, so concurrent candidates read the same resourceVersion."""

    async def get(self, *args, **kw):
        result = await super().get(*args, **kw)
        await asyncio.sleep(0)
        return result


async def test_concurrent_candidates_never_both_win():
    client, clock = RacingFakeClient(), Clock()
    old = elector(client, clock, "old")
    await old.try_acquire_or_renew()
    clock.now += 100  # old is long gone; the lease has expired for anyone who looks
    candidates = [elector(client, clock, name) for name in ("a", "b", "c")]
    for c in candidates:  # each one observes the stale record first, then waits out the lease
        await c.try_acquire_or_renew()
    clock.now += 16
    results = await asyncio.gather(*(c.try_acquire_or_renew() for c in candidates))
    assert results.count(True) == 1
    winner = candidates[results.index(True)]
    assert lease_spec(client)["holderIdentity"] == winner.identity
    assert [c.is_leader() for c in candidates].count(True) == 1


async def test_release_lets_a_successor_take_over_at_once():
    client, clock = FakeClient(), Clock()
    a, b = elector(client, clock, "a"), elector(client, clock, "b")
    await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert await a.release()
    assert lease_spec(client)["holderIdentity"] == ""
    assert await b.try_acquire_or_renew()


async def test_run_leads_until_renewal_fails_for_the_renew_deadline():
    client, clock = FakeClient(), Clock()
    a = elector(client, clock, "a")
    events: list[str] = []
    lost_at: list[float] = []

    async def lead() -> None:
        events.append("started")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    async def stopped() -> None:
        events.append("stopped")
        lost_at.append(clock.now)

    original_update = client.update
    renewals = 0

    async def flaky_update(info, obj, **kw):
        nonlocal renewals
        renewals += 1
        if renewals > 3:  # the apiserver becomes unreachable after three renewals
            raise ApiError(503, "ServiceUnavailable", "down")
        return await original_update(info, obj, **kw)

    client.update = flaky_update
    start = clock.now
    await asyncio.wait_for(a.run(lead, stopped), timeout=5)
    assert events == ["started", "cancelled", "stopped"]
    last_success = start + 3 * 2
    # the failing round starts retry_period after the last success and gives up after renew_deadline
    assert last_success + 2 + 10 <= lost_at[0] <= last_success + 2 + 10 + 2


async def test_run_loses_leadership_when_another_holder_appears():
    client, clock = FakeClient(), Clock()
    a = elector(client, clock, "a")
    stopped: list[bool] = []

    async def lead() -> None:
        # someone else overwrites the lease (e.g. after a long pause of ours)
        await asyncio.sleep(0)
        info = client.resource("coordination.k8s.io", "leases")
        lease = client.stored(info, "controllers", "kube-system")
        await client.update(info, {**lease, "spec": {**lease["spec"], "holderIdentity": "intruder"}})
        await asyncio.Event().wait()

    await asyncio.wait_for(a.run(lead, lambda: stopped.append(True)), timeout=5)
    assert stopped == [True] and not a.is_leader()


async def test_release_on_cancel_hands_the_lease_back():
    client, clock = FakeClient(), Clock()
    a = elector(client, clock, "a", release_on_cancel=True)
    started = asyncio.Event()

    async def lead() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(a.run(lead))
    await asyncio.wait_for(started.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert lease_spec(client)["holderIdentity"] == ""


@pytest.mark.parametrize("kw", [
    pytest.param({"lease_duration": 10, "renew_deadline": 10}, id="deadline-not-below-duration"),
    pytest.param({"renew_deadline": 2, "retry_period": 2}, id="retry-too-slow-for-deadline"),
    pytest.param({"identity": ""}, id="no-identity"),
])
def test_invalid_timings_are_refused(kw):
    args = {"namespace": "ns", "name": "n", "identity": "me", **kw}
    with pytest.raises(ValueError):
        LeaderElector(FakeClient(), **args)
