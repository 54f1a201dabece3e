"""Node Leases: creation with the node owner reference, renewal, conflicts, deletion."""

from __future__ import annotations

from podplane.agent.lease import LEASE_NAMESPACE, LeaseRenewer, lease_object
from podplane.api import errors
from podplane.client.fake import FakeClient

from .builders import T0, Clock


def renewer() -> tuple[FakeClient, LeaseRenewer, Clock]:
    client, clock = FakeClient(), Clock()
    r = LeaseRenewer(client, duration=40, clock=clock)
    r.set_node_uid("n1", "node-uid")
    return client, r, clock


def stored(client: FakeClient) -> dict:
    return client.stored(client.resource("coordination.k8s.io", "leases"), "n1", LEASE_NAMESPACE)


async def test_first_renewal_creates_the_lease_owned_by_the_node():
    client, r, _ = renewer()
    assert await r.renew("n1")
    assert client.verbs() == ["get leases", "create leases"]
    lease = stored(client)
    assert lease["spec"] == {"holderIdentity": "n1", "leaseDurationSeconds": 40,
                             "renewTime": "2027-01-15T08:00:00.000000Z"}
    assert lease["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "n1",
                                                     "uid": "node-uid"}]


async def test_renewals_update_the_last_lease_without_reading_it():
    client, r, clock = renewer()
    await r.renew("n1")
    client.clear_actions()
    clock.advance(10.5)
    await r.renew("n1")
    assert client.verbs() == ["update leases"]
    assert stored(client)["spec"]["renewTime"] == "2027-01-15T08:00:10.500000Z"


async def test_a_conflict_is_resolved_by_reading_the_lease_again():
    client, r, clock = renewer()
    await r.renew("n1")
    client.fail("update", "leases", errors.conflict("leases", "n1", "coordination.k8s.io"))
    client.clear_actions()
    clock.advance(10)
    assert await r.renew("n1")
    assert client.verbs() == ["update leases", "get leases", "update leases"]
    assert stored(client)["spec"]["renewTime"] == "2027-01-15T08:00:10.000000Z"


async def test_an_existing_lease_is_adopted_and_gets_its_owner():
    client, r, _ = renewer()
    lease = lease_object("n1", 40, T0 - 100)
    client.seed(client.resource("coordination.k8s.io", "leases"), lease)
    await r.renew("n1")
    assert client.verbs() == ["get leases", "update leases"]
    assert stored(client)["metadata"]["ownerReferences"][0]["uid"] == "node-uid"


async def test_unreachable_api_reports_failure_and_rereads_next_time():
    client, r, _ = renewer()
    await r.renew("n1")
    client.fail("update", "leases", errors.internal_error("boom"))
    assert not await r.renew("n1")
    client.clear_actions()
    assert await r.renew("n1")
    assert client.verbs() == ["get leases", "update leases"]
