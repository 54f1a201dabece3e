"""Scheduling queue: order, back-off, unschedulable pods and the events that move them."""

from __future__ import annotations

import pytest

from podplane.scheduler.framework import ASSIGNED_POD_ADD, NODE_ADD, NODE_LABEL
from podplane.scheduler.nodeinfo import PodInfo
from podplane.scheduler.queue import SchedulingQueue

from .builders import make_pod


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def new_queue(**kw) -> tuple[SchedulingQueue, Clock]:
    clock = Clock()
    events = {NODE_ADD: {"NodeAffinity", "NodeResourcesFit"}, NODE_LABEL: {"NodeAffinity"},
              ASSIGNED_POD_ADD: {"InterPodAffinity"}}
    return SchedulingQueue(clock=clock, events_to_plugins=events, **kw), clock


def info(name: str, **kw) -> PodInfo:
    return PodInfo(make_pod(name, **kw))


def drain(q: SchedulingQueue) -> list[str]:
    out = []
    while (entry := q.pop_nowait()) is not None:
        out.append(entry.pod_info.name)
    return out


def test_priority_first_then_arrival_order():
    q, clock = new_queue()
    for name, priority in [("low-1", 0), ("high", 100), ("low-2", 0), ("mid", 10)]:
        q.add(info(name, priority=priority))
        clock.now += 1
    assert drain(q) == ["high", "mid", "low-1", "low-2"]


@pytest.mark.parametrize("attempts,backoff", [
    pytest.param(1, 1.0, id="first"), pytest.param(2, 2.0, id="second"), pytest.param(3, 4.0, id="third"),
    pytest.param(4, 8.0, id="fourth"), pytest.param(5, 10.0, id="capped"), pytest.param(9, 10.0, id="stays-capped"),
])
def test_backoff_doubles_from_one_to_ten_seconds(attempts, backoff):
    q, _ = new_queue()
    q.add(info("p"))
    entry = q.pop_nowait()
    entry.attempts = attempts
    assert q.backoff_duration(entry) == backoff


def test_error_goes_to_backoff_then_back_to_active():
    q, clock = new_queue()
    q.add(info("p"))
    entry = q.pop_nowait()
    q.requeue_failed(entry, set())
    assert q.where("default/p") == "backoff"
    clock.now += 0.9
    q.flush()
    assert q.pop_nowait() is None
    clock.now += 0.2
    q.flush()
    assert drain(q) == ["p"]


def test_unschedulable_pod_moves_only_on_relevant_events():
    q, clock = new_queue()
    q.add(info("p"))
    entry = q.pop_nowait()
    q.requeue_failed(entry, {"NodeAffinity"})
    assert q.where("default/p") == "unschedulable"
    assert q.move_all(ASSIGNED_POD_ADD) == 0
    assert q.where("default/p") == "unschedulable"
    clock.now += 5  # past its 1 s back-off
    assert q.move_all(NODE_LABEL) == 1
    assert drain(q) == ["p"]


def test_moved_pod_still_backing_off_goes_to_backoff_queue():
    q, clock = new_queue()
    q.add(info("p"))
    q.requeue_failed(q.pop_nowait(), {"NodeResourcesFit"})
    clock.now += 0.5
    q.move_all(NODE_ADD)
    assert q.where("default/p") == "backoff"


def test_unschedulable_pods_are_retried_after_the_cap():
    q, clock = new_queue(max_unschedulable=60)
    q.add(info("p"))
    q.requeue_failed(q.pop_nowait(), {"NodeAffinity"})
    clock.now += 59
    q.flush()
    assert q.where("default/p") == "unschedulable"
    clock.now += 2
    q.flush()
    assert drain(q) == ["p"]


def test_status_only_update_does_not_retry_but_spec_change_does():
    q, clock = new_queue()
    q.add(info("p"))
    q.requeue_failed(q.pop_nowait(), {"NodeAffinity"})
    clock.now += 5
    q.update(info("p", rv="2"), changed=False)
    assert q.where("default/p") == "unschedulable"
    q.update(info("p", rv="3", tolerations=[{"operator": "Exists"}]), changed=True)
    assert q.where("default/p") == "active"
    assert q.pop_nowait().pod_info.tolerations == [{"operator": "Exists"}]


def test_update_while_in_flight_is_kept_and_sends_the_pod_to_backoff():
    q, _ = new_queue()
    q.add(info("p"))
    entry = q.pop_nowait()
    q.update(info("p", rv="2", labels={"new": "label"}), changed=True)
    q.requeue_failed(entry, {"NodeAffinity"})
    assert q.where("default/p") == "backoff"
    assert entry.pod_info.labels == {"new": "label"}


def test_delete_while_in_flight_drops_the_pod():
    q, _ = new_queue()
    q.add(info("p"))
    entry = q.pop_nowait()
    q.delete("default/p")
    q.requeue_failed(entry, {"NodeAffinity"})
    assert q.where("default/p") == "" and len(q) == 0


def test_gated_pods_wait_until_the_gates_are_removed():
    q, _ = new_queue()
    q.add(info("p", schedulingGates=[{"name": "example.com/wait"}]))
    assert q.where("default/p") == "unschedulable" and q.pop_nowait() is None
    q.move_all(NODE_ADD)
    assert q.where("default/p") == "unschedulable"
    q.update(info("p", rv="2"), changed=True)
    assert drain(q) == ["p"]


def test_deleted_pods_are_skipped():
    q, _ = new_queue()
    q.add(info("a"))
    q.add(info("b"))
    q.delete("default/a")
    assert drain(q) == ["b"]


async def test_pop_waits_for_a_pod():
    import asyncio

    q, _ = new_queue()
    waiter = asyncio.create_task(q.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.add(info("p"))
    entry = await asyncio.wait_for(waiter, 1)
    assert entry.pod_info.name == "p" and entry.attempts == 1
