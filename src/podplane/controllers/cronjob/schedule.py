"""Cron schedules as CronJobs use them (robfig/cron v3 `ParseStandard`, which upstream uses).

- five fields `minute hour day-of-month month day-of-week` with `*`, `?`, lists, ranges,
  steps (`*/15`, `1-10/2`, `5/10` meaning `5-max/10`) and names (`jan`, `mon`);
  day-of-month and day-of-week are ORed unless either is a bare `*`/`?`, then ANDed;
- descriptors `@yearly` `@annually` `@monthly` `@weekly` `@daily` `@midnight` `@hourly`
  and `@every <go duration>`;
- an optional `TZ=Zone/Name ` or `CRON_TZ=Zone/Name ` prefix; otherwise the given zone.

`parse(text, tz)` returns a schedule whose `next(t)` is the first activation strictly
after `t` (None if there is none within five years), computed in the schedule's zone so
daylight-saving changes behave like upstream. Pure; `ScheduleError` for bad input.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["CronSchedule", "EverySchedule", "ScheduleError", "load_zone", "parse"]

UTC = dt.UTC


class ScheduleError(ValueError):
    """The schedule text cannot be parsed."""


_MONTHS = {name: i for i, name in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_DAYS = {name: i for i, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
# (min, max, names) per field
_BOUNDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (0, 6, _DAYS))
_DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def load_zone(name: str) -> dt.tzinfo:
    """IANA zone by name ("" and "UTC" → UTC, "Local" → this machine's zone), as time.LoadLocation."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return _local_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ScheduleError(f"unknown time zone {name}") from e


def _local_zone() -> dt.tzinfo:
    """This machine's zone with its DST rules ($TZ, then /etc/localtime), like Go's time.Local.
    A fixed offset is only the last resort: it would be wrong across a DST change."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="Local")
    except (OSError, ValueError):
        return dt.datetime.now().astimezone().tzinfo or UTC


def _number(text: str, names: dict[str, int]) -> int:
    lowered = text.lower()
    if lowered in names:
        return names[lowered]
    if not text.isdigit():
        raise ScheduleError(f"failed to parse int from {text}")
    return int(text)


def _field(expr: str, low: int, high: int, names: dict[str, int]) -> tuple[frozenset[int], bool]:
    """Values of one field and whether it is a bare star (which matters for day matching)."""
    values: set[int] = set()
    star = False
    for part in expr.split(","):
        range_part, slash, step_text = part.partition("/")
        bounds = range_part.split("-")
        part_star = False
        if range_part in ("*", "?"):
            start, end = low, high
            part_star = True
        elif len(bounds) == 1:
            start = end = _number(bounds[0], names)
        elif len(bounds) == 2:
            start, end = _number(bounds[0], names), _number(bounds[1], names)
        else:
            raise ScheduleError(f"too many hyphens: {part}")
        step = 1
        if slash:
            step = _number(step_text, {})
            if len(bounds) == 1 and not part_star:
                end = high  # "N/step" means "N-max/step"
            if step > 1:
                part_star = False
        if start < low:
            raise ScheduleError(f"beginning of range ({start}) below minimum ({low}): {part}")
        if end > high:
            raise ScheduleError(f"end of range ({end}) above maximum ({high}): {part}")
        if start > end:
            raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {part}")
        if step == 0:
            raise ScheduleError(f"step of range should be a positive number: {part}")
        values.update(range(start, end + 1, step))
        star = star or part_star
    return frozenset(values), star


def _go_duration(text: str) -> float:
    if not text:
        raise ScheduleError("missing duration")
    position, total = 0, 0.0
    while position < len(text):
        m = _DURATION_RE.match(text, position)
        if m is None:
            raise ScheduleError(f"failed to parse duration @every {text}")
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        position = m.end()
    return total


@dataclass(frozen=True)
class EverySchedule:
    """`@every d`: activations d apart (at least a second, whole seconds)."""

    seconds: int

    def next(self, t: dt.datetime) -> dt.datetime | None:
        return t.replace(microsecond=0) + dt.timedelta(seconds=self.seconds)


@dataclass(frozen=True)
class CronSchedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_star: bool
    weekdays_star: bool
    zone: dt.tzinfo

    def _day_matches(self, t: dt.datetime) -> bool:
        dom = t.day in self.days
        dow = (t.isoweekday() % 7) in self.weekdays  # Sunday = 0
        if self.days_star or self.weekdays_star:
            return dom and dow
        return dom or dow

    def _wall(self, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
        """A wall-clock time in the zone, normalised through UTC so DST gaps move forward (time.Date)."""
        naive = dt.datetime(year, month, day, hour, minute)
        return naive.replace(tzinfo=self.zone).astimezone(UTC).astimezone(self.zone)

    def _add(self, t: dt.datetime, **delta) -> dt.datetime:
        """Absolute-time addition (Go's t.Add), not wall-clock addition."""
        return (t.astimezone(UTC) + dt.timedelta(**delta)).astimezone(self.zone)

    def next(self, t: dt.datetime) -> dt.datetime | None:
        """robfig SpecSchedule.Next for a seconds field of {0}."""
        t = t.astimezone(self.zone)
        t = self._add(t.replace(second=0, microsecond=0), minutes=1)
        added = False
        year_limit = t.year + 5
        while True:
            if t.year > year_limit:
                return None
            wrapped = False
            while t.month not in self.months:
                if not added:
                    added = True
                    t = self._wall(t.year, t.month, 1)
                year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
                t = self._wall(year, month, 1, t.hour, t.minute)
                if t.month == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not self._day_matches(t):
                if not added:
                    added = True
                    t = self._wall(t.year, t.month, t.day)
                t = self._wall(*(t.date() + dt.timedelta(days=1)).timetuple()[:3], t.hour, t.minute)
                if t.hour != 0:  # DST moved us off midnight
                    t = self._add(t, hours=(24 - t.hour) if t.hour > 12 else -t.hour)
                if t.day == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while t.hour not in self.hours:
                if not added:
                    added = True
                    t = self._wall(t.year, t.month, t.day, t.hour)
                t = self._add(t, hours=1)
                if t.hour == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            while t.minute not in self.minutes:
                added = True
                t = self._add(t, minutes=1)
                if t.minute == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            return t


def parse(text: str, zone: dt.tzinfo = UTC) -> CronSchedule | EverySchedule:
    """Parse a CronJob schedule; `zone` applies unless the text carries TZ=/CRON_TZ=."""
    spec = text.strip()
    if not spec:
        raise ScheduleError("empty spec string")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        head, _, spec = spec.partition(" ")
        zone = load_zone(head.split("=", 1)[1])
        spec = spec.strip()
    if spec.startswith("@every"):
        seconds = _go_duration(spec[len("@every"):].strip())
        return EverySchedule(max(1, int(seconds)))
    if spec.startswith("@"):
        if spec not in _DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: {spec}")
    parsed = [_field(expr, low, high, names) for expr, (low, high, names) in zip(fields, _BOUNDS, strict=True)]
    (minutes, _), (hours, _), (days, days_star), (months, _), (weekdays, weekdays_star) = parsed
    return CronSchedule(minutes, hours, days, months, weekdays, days_star, weekdays_star, zone)
