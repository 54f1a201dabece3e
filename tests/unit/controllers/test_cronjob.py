"""CronJob controller and cron schedules.

Schedules are checked against hand-computed activations (including DST and the
day-of-month/day-of-week rule); the controller is driven with an injected clock, seeded
caches and the FakeClient's recorded actions.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from podplane.api.errors import already_exists
from podplane.api.meta import format_time
from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.client.workqueue import WorkQueue
from podplane.controllers.cronjob import new
from podplane.controllers.cronjob.controller import (
    SCHEDULED_TIMESTAMP_ANNOTATION,
    job_name,
    most_recent_schedule_time,
)
from podplane.controllers.cronjob.schedule import ScheduleError, load_zone, parse
from podplane.controllers.manager import ControllerContext

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC) if "+" not in text else dt.datetime.fromisoformat(text)


# -- schedules ---------------------------------------------------------------------------------
@pytest.mark.parametrize("spec,after,expected", [
    pytest.param("*/15 * * * *", "2026-03-01 10:07:30", "2026-03-01 10:15:00", id="step"),
    pytest.param("*/15 * * * *", "2026-03-01 10:15:00", "2026-03-01 10:30:00", id="strictly-after"),
    pytest.param("5 * * * *", "2026-03-01 10:07:00", "2026-03-01 11:05:00", id="next-hour"),
    pytest.param("0 9 * * mon-fri", "2026-03-06 10:00:00", "2026-03-09 09:00:00", id="weekday-names"),
    pytest.param("0 0 1 jan *", "2026-03-01 00:00:00", "2027-01-01 00:00:00", id="month-name-wraps-year"),
    pytest.param("0 0 13 * 5", "2026-03-01 00:00:00", "2026-03-06 00:00:00", id="dom-or-dow"),
    pytest.param("0 0 * * 5", "2026-03-01 00:00:00", "2026-03-06 00:00:00", id="dow-only-with-star-dom"),
    pytest.param("0 0 13 * *", "2026-03-01 00:00:00", "2026-03-13 00:00:00", id="dom-only-with-star-dow"),
    pytest.param("30 1-10/3 * * *", "2026-03-01 05:00:00", "2026-03-01 07:30:00", id="range-with-step"),
    pytest.param("10/20 * * * *", "2026-03-01 05:31:00", "2026-03-01 05:50:00", id="start-slash-step"),
    pytest.param("0,30 * * * *", "2026-03-01 05:01:00", "2026-03-01 05:30:00", id="list"),
    pytest.param("@hourly", "2026-03-01 05:01:00", "2026-03-01 06:00:00", id="hourly"),
    pytest.param("@daily", "2026-03-01 05:01:00", "2026-03-02 00:00:00", id="daily"),
    pytest.param("@weekly", "2026-03-01 05:01:00", "2026-03-08 00:00:00", id="weekly-sunday"),
    pytest.param("@monthly", "2026-03-01 05:01:00", "2026-04-01 00:00:00", id="monthly"),
    pytest.param("@yearly", "2026-03-01 05:01:00", "2027-01-01 00:00:00", id="yearly"),
    pytest.param("@every 1h30m", "2026-03-01 05:01:10", "2026-03-01 06:31:10", id="every"),
    pytest.param("TZ=Europe/Berlin 0 9 * * *", "2026-01-10 00:00:00", "2026-01-10 08:00:00", id="tz-prefix"),
])
def test_schedule_next(spec, after, expected):
    assert parse(spec).next(at(after)) == at(expected)


def test_schedule_skips_nonexistent_local_time_like_upstream():
    """02:30 does not exist in New York on 2026-03-08 (clocks jump 02:00 → 03:00)."""
    schedule = parse("30 2 * * *", load_zone("America/New_York"))
    nxt = schedule.next(at("2026-03-07 12:00:00"))
    assert nxt.astimezone(UTC) == at("2026-03-09 06:30:00")


def test_impossible_date_has_no_next():
    assert parse("0 0 31 2 *").next(at("2026-01-01 00:00:00")) is None


@pytest.mark.parametrize("spec", [
    pytest.param("* * * *", id="four-fields"),
    pytest.param("60 * * * *", id="minute-out-of-range"),
    pytest.param("* * * * 7", id="dow-7-rejected-like-robfig"),
    pytest.param("5-1 * * * *", id="reversed-range"),
    pytest.param("*/0 * * * *", id="zero-step"),
    pytest.param("@fortnightly", id="unknown-descriptor"),
    pytest.param("TZ=Mars/Olympus 0 * * * *", id="unknown-zone"),
    pytest.param("x * * * *", id="garbage"),
])
def test_schedule_errors(spec):
    with pytest.raises(ScheduleError):
        parse(spec)


@pytest.mark.parametrize("last,now,expected", [
    pytest.param("2026-03-01 10:00:00", "2026-03-01 10:04:00", None, id="nothing-due"),
    pytest.param("2026-03-01 10:00:00", "2026-03-01 10:05:30", "2026-03-01 10:05:00", id="one-due"),
    pytest.param("2026-03-01 10:00:00", "2026-03-01 12:03:00", "2026-03-01 12:00:00", id="many-missed-latest-wins"),
])
def test_most_recent_schedule_time(last, now, expected):
    cronjob = {"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": {},
               "status": {"lastScheduleTime": format_time(at(last))}}
    _, most_recent, _ = most_recent_schedule_time(cronjob, at(now), parse("*/5 * * * *"), True)
    assert most_recent == (at(expected) if expected else None)


# -- controller -----------------------------------------------------------------------------------
CREATED = "2026-03-01 10:00:00"


def make_cronjob(name: str = "tick", *, schedule: str = "*/5 * * * *", policy: str = "Allow",
                 status: dict | None = None, **spec) -> dict:
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                         "creationTimestamp": format_time(at(CREATED))},
            "spec": {"schedule": schedule, "concurrencyPolicy": policy, "suspend": False,
                     "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                     "jobTemplate": {"metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
                                     "spec": {"backoffLimit": 2, "template": {"spec": {
                                         "restartPolicy": "Never",
                                         "containers": [{"name": "c", "image": "busybox"}]}}}},
                     **spec},
            "status": status or {}}


def make_job(name: str, cronjob: dict, *, finished: str | None = None, started: str = CREATED,
             completed: str | None = None) -> dict:
    status: dict = {"startTime": format_time(at(started))}
    if finished:
        status["conditions"] = [{"type": finished, "status": "True"}]
    if completed:
        status["completionTime"] = format_time(at(completed))
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob",
                                              "name": cronjob["metadata"]["name"], "uid": cronjob["metadata"]["uid"],
                                              "controller": True}]},
            "spec": {}, "status": status}


def active_ref(job: dict) -> dict:
    return {"kind": "Job", "namespace": "ns", "name": job["metadata"]["name"], "uid": job["metadata"]["uid"],
            "apiVersion": "batch/v1"}


class Fixture:
    def __init__(self, now: str) -> None:
        self.client = FakeClient()
        self.factory = InformerFactory(self.client)
        self.now = at(now).timestamp()
        self.ctx = ControllerContext(client=self.client, informers=self.factory, clock=lambda: self.now)
        self.controller = new(self.ctx)
        self.controller.default_zone = UTC
        self._cached: dict[tuple[str, str], list[dict]] = {}

    def add(self, group: str, plural: str, obj: dict) -> dict:
        stored = copy.deepcopy(self.client.seed(self.client.resource(group, plural), obj))
        items = [o for o in self._cached.setdefault((group, plural), [])
                 if o["metadata"]["name"] != stored["metadata"]["name"]]
        items.append(stored)
        self._cached[(group, plural)] = items
        self.factory.resource(group, plural).replace(items, "1")
        return stored

    async def sync(self, name: str = "tick") -> None:
        await self.controller.sync(f"ns/{name}")

    def verbs(self) -> list[str]:
        return [v for v in self.client.verbs() if not v.endswith(" events")]

    def status(self) -> dict:
        return self.client.actions_for("update", "cronjobs/status")[-1].obj["status"]


async def test_due_run_creates_a_deterministically_named_job():
    f = Fixture("2026-03-01 10:06:00")
    cronjob = f.add("batch", "cronjobs", make_cronjob())
    await f.sync()
    assert f.verbs() == ["create jobs", "update cronjobs/status"]
    job = f.client.actions_for("create", "jobs")[0].obj
    scheduled = at("2026-03-01 10:05:00")
    assert job["metadata"]["name"] == f"tick-{int(scheduled.timestamp()) // 60}" == job_name(cronjob, scheduled)
    assert job["metadata"]["labels"] == {"team": "a"}
    assert job["metadata"]["annotations"] == {"note": "x", SCHEDULED_TIMESTAMP_ANNOTATION: "2026-03-01T10:05:00Z"}
    assert job["metadata"]["ownerReferences"][0]["uid"] == cronjob["metadata"]["uid"]
    assert job["spec"]["backoffLimit"] == 2
    status = f.status()
    assert status["lastScheduleTime"] == "2026-03-01T10:05:00Z"
    assert [ref["name"] for ref in status["active"]] == [job["metadata"]["name"]]


async def test_nothing_due_means_no_action():
    f = Fixture("2026-03-01 10:04:00")
    f.add("batch", "cronjobs", make_cronjob())
    await f.sync()
    assert f.verbs() == []


async def test_already_scheduled_time_is_not_run_twice():
    f = Fixture("2026-03-01 10:06:00")
    f.add("batch", "cronjobs", make_cronjob(status={"lastScheduleTime": "2026-03-01T10:05:00Z"}))
    await f.sync()
    assert f.verbs() == []


async def test_suspended_cronjob_starts_nothing():
    f = Fixture("2026-03-01 10:06:00")
    f.add("batch", "cronjobs", make_cronjob(suspend=True))
    await f.sync()
    assert f.verbs() == []


async def test_missed_starting_deadline_skips_the_run():
    f = Fixture("2026-03-01 10:06:00")
    f.add("batch", "cronjobs", make_cronjob(startingDeadlineSeconds=30))
    await f.sync()
    assert f.verbs() == []


async def test_forbid_waits_for_the_active_job():
    f = Fixture("2026-03-01 10:11:00")
    cronjob = make_cronjob(policy="Forbid")
    running = make_job("tick-1", cronjob)
    cronjob["status"] = {"active": [active_ref(running)], "lastScheduleTime": "2026-03-01T10:05:00Z"}
    f.add("batch", "cronjobs", cronjob)
    f.add("batch", "jobs", running)
    await f.sync()
    assert f.verbs() == []


async def test_replace_deletes_the_active_job_first():
    f = Fixture("2026-03-01 10:11:00")
    cronjob = make_cronjob(policy="Replace")
    running = make_job("tick-1", cronjob)
    cronjob["status"] = {"active": [active_ref(running)], "lastScheduleTime": "2026-03-01T10:05:00Z"}
    f.add("batch", "cronjobs", cronjob)
    f.add("batch", "jobs", running)
    await f.sync()
    assert f.verbs() == ["get jobs", "delete jobs", "create jobs", "update cronjobs/status"]
    assert f.client.actions_for("delete", "jobs")[0].options == {"propagation_policy": "Background"}
    assert [ref["name"] for ref in f.status()["active"]] != ["tick-1"]


async def test_allow_runs_concurrently():
    f = Fixture("2026-03-01 10:11:00")
    cronjob = make_cronjob()
    running = make_job("tick-1", cronjob)
    cronjob["status"] = {"active": [active_ref(running)], "lastScheduleTime": "2026-03-01T10:05:00Z"}
    f.add("batch", "cronjobs", cronjob)
    f.add("batch", "jobs", running)
    await f.sync()
    assert len(f.status()["active"]) == 2


async def test_finished_job_leaves_active_and_sets_last_successful_time():
    f = Fixture("2026-03-01 10:07:00")
    cronjob = make_cronjob()
    done = make_job("tick-1", cronjob, finished="Complete", completed="2026-03-01 10:06:00")
    cronjob["status"] = {"active": [active_ref(done)], "lastScheduleTime": "2026-03-01T10:05:00Z"}
    f.add("batch", "cronjobs", cronjob)
    f.add("batch", "jobs", done)
    await f.sync()
    status = f.status()
    assert "active" not in status
    assert status["lastSuccessfulTime"] == "2026-03-01T10:06:00Z"


async def test_vanished_active_job_is_dropped_after_asking_the_server():
    f = Fixture("2026-03-01 10:07:00")
    cronjob = make_cronjob(status={"active": [{"kind": "Job", "namespace": "ns", "name": "ghost", "uid": "u"}],
                                   "lastScheduleTime": "2026-03-01T10:05:00Z"})
    f.add("batch", "cronjobs", cronjob)
    await f.sync()
    assert f.verbs() == ["get jobs", "update cronjobs/status"]
    assert "active" not in f.status()


async def test_history_limits_delete_oldest_finished_jobs():
    f = Fixture("2026-03-01 10:07:00")
    cronjob = make_cronjob(status={"lastScheduleTime": "2026-03-01T10:05:00Z"})
    f.add("batch", "cronjobs", cronjob)
    for i, finished in enumerate(["Complete"] * 4 + ["Failed"] * 2):
        f.add("batch", "jobs", make_job(f"j{i}", cronjob, finished=finished, started=f"2026-03-01 09:0{i}:00"))
    await f.sync()
    assert sorted(a.name for a in f.client.actions_for("delete", "jobs")) == ["j0", "j4"]


async def test_time_zone_moves_the_schedule_and_the_annotation():
    f = Fixture("2026-01-10 08:00:30")
    cronjob = make_cronjob(schedule="0 9 * * *", timeZone="Europe/Berlin")
    cronjob["metadata"]["creationTimestamp"] = "2026-01-09T12:00:00Z"
    f.add("batch", "cronjobs", cronjob)
    await f.sync()
    job = f.client.actions_for("create", "jobs")[0].obj
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP_ANNOTATION] == "2026-01-10T09:00:00+01:00"
    assert f.status()["lastScheduleTime"] == "2026-01-10T08:00:00Z"


async def test_unknown_time_zone_starts_nothing():
    f = Fixture("2026-03-01 10:06:00")
    f.add("batch", "cronjobs", make_cronjob(timeZone="Mars/Olympus"))
    await f.sync()
    assert f.verbs() == []


async def test_job_created_earlier_but_not_recorded_is_added_to_active():
    f = Fixture("2026-03-01 10:06:00")
    cronjob = f.add("batch", "cronjobs", make_cronjob())
    name = job_name(cronjob, at("2026-03-01 10:05:00"))
    f.client.seed(f.client.resource("batch", "jobs"), make_job(name, cronjob))  # the watch has not delivered it
    f.client.fail("create", "jobs", already_exists("jobs", name, "batch"))
    await f.sync()
    assert f.verbs() == ["create jobs", "get jobs", "update cronjobs/status"]
    assert [ref["name"] for ref in f.status()["active"]] == [name]


def test_job_events_enqueue_the_owning_cronjob():
    f = Fixture("2026-03-01 10:06:00")
    cronjob = f.add("batch", "cronjobs", make_cronjob())
    f.controller.queue = WorkQueue("test")
    f.add("batch", "jobs", make_job("j", cronjob))
    assert len(f.controller.queue) == 1
