"""Node Leases: the agent's heartbeat in `kube-node-lease` (upstream's node lease controller).

Each node owns a `coordination.k8s.io/v1` Lease named after it in the
`kube-node-lease` namespace: `holderIdentity` is the node name,
`leaseDurationSeconds` the configured duration (40 s upstream) and `renewTime` a
MicroTime renewed every `lease_renew_interval` (10 s). The node lifecycle controller
reads it to decide whether the node is alive. As upstream, the Lease carries an
ownerReference to its Node (so it goes away with the Node), renewal is an update of
the last Lease the agent saw (no GET per renewal), a conflict or a missing Lease is
resolved by a GET or a create, and renewals of many nodes are spread over the
interval by `agent.spread`.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from podplane.api.errors import ApiError
from podplane.api.meta import format_time_micro
from podplane.client.transport import TransportError

__all__ = ["LEASE_NAMESPACE", "LeaseRenewer", "lease_object"]

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"


def _micro(seconds: float) -> str:
    return format_time_micro(datetime.fromtimestamp(seconds, UTC))


def lease_object(node: str, duration: int, now: float, node_uid: str = "") -> dict:
    """A new node Lease, as upstream's `newLease` with the node owner reference."""
    lease = {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": node, "namespace": LEASE_NAMESPACE},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": duration, "renewTime": _micro(now)},
    }
    if node_uid:
        lease["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node,
                                                 "uid": node_uid}]
    return lease


class LeaseRenewer:
    """Creates and renews the Leases of the agent's nodes through the API."""

    def __init__(self, client, *, duration: int = 40, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.duration = duration
        self.clock = clock
        self.info = client.resource("coordination.k8s.io", "leases")
        self._leases: dict[str, dict] = {}
        self._node_uids: dict[str, str] = {}
        self._failing: set[str] = set()  # warn once per outage, not once per retry of 1,000 nodes

    def set_node_uid(self, node: str, uid: str) -> None:
        self._node_uids[node] = uid

    def lease(self, node: str) -> dict | None:
        """The last Lease written or read for `node`."""
        return self._leases.get(node)

    def _renewed(self, lease: dict) -> dict:
        node = lease["metadata"]["name"]
        new = copy.deepcopy(lease)
        spec = new.setdefault("spec", {})
        spec["holderIdentity"] = node
        spec["leaseDurationSeconds"] = self.duration
        spec["renewTime"] = _micro(self.clock())
        uid = self._node_uids.get(node)
        if uid and not new["metadata"].get("ownerReferences"):
            new["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid}]
        return new

    async def renew(self, node: str) -> bool:
        """Renew (or create) the Lease of `node`. False when the API could not be reached."""
        try:
            await self._renew(node)
        except (ApiError, TransportError) as e:
            if node not in self._failing:
                log.warning("lease %s: renewal failed, retrying: %s", node, e)
            self._failing.add(node)
            self._leases.pop(node, None)
            return False
        if node in self._failing:
            self._failing.discard(node)
            log.info("lease %s: renewed again", node)
        return True

    async def _renew(self, node: str) -> None:
        current = self._leases.get(node)
        if current is None:
            try:
                current = await self.client.get(self.info, node, LEASE_NAMESPACE)
            except ApiError as e:
                if e.code != 404:
                    raise
                created = await self.client.create(
                    self.info, lease_object(node, self.duration, self.clock(), self._node_uids.get(node, "")),
                    LEASE_NAMESPACE)
                self._leases[node] = created
                return
        try:
            self._leases[node] = await self.client.update(self.info, self._renewed(current))
        except ApiError as e:
            if e.code not in (404, 409):
                raise
            self._leases.pop(node, None)  # changed or deleted meanwhile: read it again, once
            await self._renew_fresh(node)

    async def _renew_fresh(self, node: str) -> None:
        try:
            current = await self.client.get(self.info, node, LEASE_NAMESPACE)
        except ApiError as e:
            if e.code != 404:
                raise
            self._leases[node] = await self.client.create(
                self.info, lease_object(node, self.duration, self.clock(), self._node_uids.get(node, "")),
                LEASE_NAMESPACE)
            return
        self._leases[node] = await self.client.update(self.info, self._renewed(current))
