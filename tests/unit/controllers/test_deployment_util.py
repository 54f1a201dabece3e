"""Deployment arithmetic and bookkeeping: fenceposts, proportions, orderings, conditions,
revisions. Pure functions, table-driven."""

from __future__ import annotations

import datetime as dt

import pytest

from podplane.controllers.deployment import util
from podplane.controllers.deployment.history import (
    REVISION,
    REVISION_HISTORY,
    by_revision,
    max_revision,
    set_new_replica_set_annotations,
)

NOW = dt.datetime(2027, 1, 15, 12, 0, 0, tzinfo=dt.UTC)


def deployment(replicas: int = 10, surge=None, unavailable=None, strategy: str = "RollingUpdate",
               status_replicas: int = 0, deadline: int | None = 600) -> dict:
    spec: dict = {"replicas": replicas, "strategy": {"type": strategy},
                  "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}}
    if strategy == "RollingUpdate":
        spec["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    if deadline is not None:
        spec["progressDeadlineSeconds"] = deadline
    return {"metadata": {"name": "web", "generation": 1}, "spec": spec, "status": {"replicas": status_replicas}}


def rs(name: str, replicas: int, *, created: str = "2027-01-01T00:00:00Z", revision: int | None = None,
       annotations: dict | None = None, available: int = 0, template: dict | None = None) -> dict:
    meta = {"name": name, "uid": f"uid-{name}", "creationTimestamp": created, "annotations": dict(annotations or {})}
    if revision is not None:
        meta["annotations"][REVISION] = str(revision)
    return {"metadata": meta, "spec": {"replicas": replicas, "template": template or {}},
            "status": {"availableReplicas": available}}


# -- fenceposts -------------------------------------------------------------------------------------
@pytest.mark.parametrize("surge,unavailable,desired,expected", [
    pytest.param("25%", "25%", 3, (1, 0), id="defaults-3"),
    pytest.param("25%", "25%", 10, (3, 2), id="defaults-10"),
    pytest.param("50%", "50%", 5, (3, 2), id="half-rounds-both-ways"),
    pytest.param(2, "10%", 5, (2, 0), id="int-and-percent"),
    pytest.param(0, 0, 3, (0, 1), id="both-zero-allows-one-unavailable"),
    pytest.param("0%", "0%", 10, (0, 1), id="both-zero-percent"),
    pytest.param(None, None, 4, (0, 1), id="unset"),
    pytest.param("100%", 0, 3, (3, 0), id="blue-green-like"),
])
def test_resolve_fenceposts(surge, unavailable, desired, expected):
    assert util.resolve_fenceposts(surge, unavailable, desired) == expected


@pytest.mark.parametrize("value,error", [
    pytest.param("3", "string is not a percentage", id="bare-string"),
    pytest.param("x%", "invalid value", id="not-a-number"),
])
def test_scaled_value_rejects_malformed_values(value, error):
    with pytest.raises(ValueError, match=error):
        util.scaled_value(value, 10, True)


@pytest.mark.parametrize("d,surge,unavailable", [
    pytest.param(deployment(10, "25%", "25%"), 3, 2, id="rolling"),
    pytest.param(deployment(2, 0, 5), 0, 2, id="unavailable-capped-at-replicas"),
    pytest.param(deployment(0, "25%", "25%"), 0, 0, id="zero-replicas"),
    pytest.param(deployment(5, strategy="Recreate"), 0, 0, id="recreate"),
])
def test_max_surge_and_unavailable(d, surge, unavailable):
    assert (util.max_surge(d), util.max_unavailable(d)) == (surge, unavailable)


@pytest.mark.parametrize("d,old,new,expected", [
    pytest.param(deployment(10, 3, 2), [], 0, 10, id="first-rs-takes-all"),
    pytest.param(deployment(10, 3, 2), [10], 0, 3, id="surge-only"),
    pytest.param(deployment(10, 3, 2), [10], 3, 3, id="at-max-total"),
    pytest.param(deployment(10, 3, 2), [5], 3, 8, id="room-after-old-went-down"),
    pytest.param(deployment(10, 3, 2), [1], 8, 10, id="never-above-desired"),
    pytest.param(deployment(10, strategy="Recreate"), [0], 0, 10, id="recreate-full-size"),
])
def test_new_rs_new_replicas(d, old, new, expected):
    new_rs = rs("new", new)
    all_rss = [rs(f"old-{i}", n) for i, n in enumerate(old)] + [new_rs]
    assert util.new_rs_new_replicas(d, all_rss, new_rs) == expected


@pytest.mark.parametrize("replicas,size,max_annotation,status_replicas,to_add,added,expected", [
    pytest.param(20, 8, "13", 13, 10, 0, 6, id="up-by-fraction"),
    pytest.param(20, 5, "13", 13, 10, 6, 4, id="up-capped-by-what-is-left"),
    pytest.param(2, 2, "8", 8, -3, 0, -1, id="down-by-fraction"),
    pytest.param(2, 6, "8", 8, -3, -2, -1, id="down-capped-by-what-is-left"),
    pytest.param(20, 2, None, 10, 10, 0, 3, id="no-annotation-uses-status-replicas"),
    pytest.param(20, 0, "13", 13, 10, 0, 0, id="never-from-zero"),
    pytest.param(20, 4, "13", 13, 10, 10, 0, id="nothing-left"),
])
def test_get_proportion(replicas, size, max_annotation, status_replicas, to_add, added, expected):
    d = deployment(replicas, 3, 0, status_replicas=status_replicas)
    annotations = {util.MAX_REPLICAS: max_annotation} if max_annotation else {}
    assert util.get_proportion(rs("a", size, annotations=annotations), d, to_add, added) == expected


def test_get_proportion_scaling_to_zero_removes_everything():
    d = deployment(0, 3, 0)
    assert util.get_proportion(rs("a", 4, annotations={util.MAX_REPLICAS: "13"}), d, -9, 0) == -4


# -- finding ReplicaSets --------------------------------------------------------------------------
def test_find_new_replica_set_ignores_the_hash_label_and_prefers_the_oldest():
    d = deployment()
    template = {**d["spec"]["template"], "metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}}}
    newer = rs("newer", 1, created="2027-01-02T00:00:00Z", template=template)
    older = rs("older", 1, created="2027-01-01T00:00:00Z", template=template)
    other = rs("other", 1, template={"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "x"}]}})
    assert util.find_new_replica_set(d, [newer, other, older])["metadata"]["name"] == "older"
    old_with_pods, all_old = util.find_old_replica_sets(d, [newer, other, older])
    assert [r["metadata"]["name"] for r in all_old] == ["newer", "other"]


def test_equal_ignore_hash_treats_empty_and_missing_alike():
    a = {"metadata": {"labels": {"pod-template-hash": "x"}, "creationTimestamp": None},
         "spec": {"containers": [{"name": "c"}], "volumes": []}}
    b = {"spec": {"containers": [{"name": "c"}]}}
    assert util.equal_ignore_hash(a, b)
    assert not util.equal_ignore_hash(a, {"spec": {"containers": [{"name": "d"}]}})


@pytest.mark.parametrize("sizes,new_size,expected", [
    pytest.param([0, 0], 0, "new", id="none-active-newest-is-new"),
    pytest.param([0, 3], 0, "old-1", id="one-active-old"),
    pytest.param([2, 3], 0, None, id="two-active"),
    pytest.param([0, 0], 4, "new", id="new-active"),
])
def test_find_active_or_latest(sizes, new_size, expected):
    olds = [rs(f"old-{i}", n, created=f"2027-01-0{i + 1}T00:00:00Z") for i, n in enumerate(sizes)]
    new_rs = rs("new", new_size, created="2027-01-09T00:00:00Z")
    found = util.find_active_or_latest(new_rs, olds)
    assert (found["metadata"]["name"] if found else None) == expected


def test_find_active_or_latest_without_new_returns_the_newest_old():
    olds = [rs("a", 0, created="2027-01-01T00:00:00Z"), rs("b", 0, created="2027-01-02T00:00:00Z")]
    assert util.find_active_or_latest(None, olds)["metadata"]["name"] == "b"


def test_orderings():
    a = rs("a", 2, created="2027-01-01T00:00:00Z", revision=3)
    b = rs("b", 2, created="2027-01-02T00:00:00Z", revision=1)
    c = rs("c", 5, created="2027-01-03T00:00:00Z", revision=2)
    names = lambda rss: [r["metadata"]["name"] for r in rss]  # noqa: E731
    assert names(util.by_creation([c, b, a])) == ["a", "b", "c"]
    assert names(util.by_size_older([a, b, c])) == ["c", "a", "b"]
    assert names(util.by_size_newer([a, b, c])) == ["c", "b", "a"]
    assert names(by_revision([a, b, c])) == ["b", "c", "a"]
    assert max_revision([a, b, c, None]) == 3


@pytest.mark.parametrize("size,desired,available,expected", [
    pytest.param(3, "3", 3, True, id="saturated"),
    pytest.param(3, "3", 2, False, id="not-all-available"),
    pytest.param(3, "2", 3, False, id="annotation-stale"),
    pytest.param(3, None, 3, False, id="no-annotation"),
])
def test_is_saturated(size, desired, available, expected):
    annotations = {util.DESIRED_REPLICAS: desired} if desired else {}
    assert util.is_saturated(deployment(3), rs("n", size, annotations=annotations, available=available)) is expected


# -- conditions and progress ------------------------------------------------------------------
def test_set_condition_follows_upstream_update_rules():
    status: dict = {}
    util.set_condition(status, util.new_condition("Available", "False", "A", "first", NOW))
    util.set_condition(status, util.new_condition("Progressing", "True", "P", "p", NOW))
    later = NOW + dt.timedelta(minutes=1)
    util.set_condition(status, util.new_condition("Available", "False", "A", "ignored", later))
    assert status["conditions"][0]["message"] == "first"  # same status and reason: untouched
    util.set_condition(status, util.new_condition("Available", "False", "B", "second", later))
    moved = status["conditions"][-1]
    assert (moved["type"], moved["reason"], moved["lastTransitionTime"], moved["lastUpdateTime"]) == (
        "Available", "B", "2027-01-15T12:00:00Z", "2027-01-15T12:01:00Z")
    util.set_condition(status, util.new_condition("Available", "True", "B", "third", later))
    assert status["conditions"][-1]["lastTransitionTime"] == "2027-01-15T12:01:00Z"


def _status_with(reason: str, updated_seconds_ago: int) -> dict:
    stamp = (NOW - dt.timedelta(seconds=updated_seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"conditions": [{"type": "Progressing", "status": "True", "reason": reason, "lastUpdateTime": stamp}]}


@pytest.mark.parametrize("deadline,reason,ago,expected", [
    pytest.param(10, "ReplicaSetUpdated", 11, True, id="past-deadline"),
    pytest.param(10, "ReplicaSetUpdated", 9, False, id="within-deadline"),
    pytest.param(10, "NewReplicaSetAvailable", 100, False, id="complete-never-times-out"),
    pytest.param(10, "ProgressDeadlineExceeded", 0, True, id="already-reported"),
    pytest.param(None, "ReplicaSetUpdated", 1000, False, id="no-deadline"),
])
def test_deployment_timed_out(deadline, reason, ago, expected):
    d = deployment(deadline=deadline)
    assert util.deployment_timed_out(d, _status_with(reason, ago), NOW) is expected


@pytest.mark.parametrize("old,new,expected", [
    pytest.param({"updatedReplicas": 1}, {"updatedReplicas": 2}, True, id="more-updated"),
    pytest.param({"replicas": 4, "updatedReplicas": 1}, {"replicas": 3, "updatedReplicas": 1}, True,
                 id="fewer-old"),
    pytest.param({"readyReplicas": 1}, {"readyReplicas": 2}, True, id="more-ready"),
    pytest.param({"availableReplicas": 1}, {"availableReplicas": 2}, True, id="more-available"),
    pytest.param({"replicas": 3, "updatedReplicas": 3}, {"replicas": 3, "updatedReplicas": 3}, False,
                 id="nothing-moved"),
])
def test_deployment_progressing(old, new, expected):
    d = deployment()
    d["status"] = old
    assert util.deployment_progressing(d, new) is expected


# -- revisions ------------------------------------------------------------------------------------
def test_new_replica_set_gets_revision_and_replica_annotations():
    d = deployment(10, 3, 2)
    d["metadata"]["annotations"] = {"kubernetes.io/change-cause": "why", REVISION: "7"}
    new_rs = rs("n", 0)
    assert set_new_replica_set_annotations(d, new_rs, "4", exists=False)
    assert new_rs["metadata"]["annotations"] == {"kubernetes.io/change-cause": "why", REVISION: "4",
                                                 util.DESIRED_REPLICAS: "10", util.MAX_REPLICAS: "13"}


@pytest.mark.parametrize("history,old,new,expected", [
    pytest.param(None, 1, "3", "1", id="first-rollback"),
    pytest.param("1", 3, "5", "1,3", id="second-rollback"),
    pytest.param(None, 5, "3", None, id="lower-revision-ignored"),
])
def test_rollback_keeps_revision_history(history, old, new, expected):
    d = deployment()
    annotations = {REVISION_HISTORY: history} if history else {}
    target = rs("r", 0, revision=old, annotations=annotations)
    set_new_replica_set_annotations(d, target, new, exists=True)
    assert target["metadata"]["annotations"].get(REVISION_HISTORY) == expected
    assert target["metadata"]["annotations"][REVISION] == str(max(old, int(new)))


def test_revision_history_is_trimmed_from_the_front():
    d = deployment()
    target = rs("r", 0, revision=99, annotations={REVISION_HISTORY: "1,2,3"})
    set_new_replica_set_annotations(d, target, "100", exists=True, history_limit=5)
    assert target["metadata"]["annotations"][REVISION_HISTORY] == "3,99"
