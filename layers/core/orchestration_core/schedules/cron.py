"""Cron expression validation and next-fire-time computation for schedules.

A schedule carries a ``cronExpression`` and an IANA ``timezone`` (default
``"UTC"``). This module has no third-party dependencies (stdlib ``zoneinfo``).

Accepted syntax
    Standard 5-field cron: ``minute hour day-of-month month day-of-week``.
    Each field is a comma-separated list of ``*``, ``N``, ``N-M``, ``*/S``,
    ``N-M/S`` or ``N/S`` (N up to the field maximum - Saturday for day-of-week - in steps of S). Month and
    day-of-week accept English three-letter names (``JAN``, ``MON``; any case).
    Day-of-week 0 and 7 are both Sunday. Ranges must not run backwards
    (``FRI-MON`` is rejected; write ``FRI-SAT,SUN-MON``). Aliases: ``@yearly``,
    ``@annually``, ``@monthly``, ``@weekly``, ``@daily``, ``@midnight``,
    ``@hourly``.

Rejected with a :class:`CronError`
    Seconds or year fields (6 or 7 fields), AWS ``cron(...)``/``rate(...)``
    syntax, ``?``, ``L``, ``W``, ``#``, ``@reboot``, out-of-range values, and
    expressions that can never fire (``0 0 30 2 *``, ``0 0 31 4 *``). Because
    leap years are considered, ``0 0 29 2 *`` is valid (it fires every leap year).

Day-of-month vs day-of-week
    Vixie cron / crontab(5) semantics, as in croniter's default: when *both*
    fields are restricted (i.e. not exactly ``*``) a day matches if *either*
    field matches (``0 0 13 * FRI`` fires on every 13th and on every Friday);
    otherwise both must match. Note that ``*/2`` counts as restricted here, as
    the man page and croniter say; Vixie/Debian's implementation (and cronsim)
    treat any field *starting* with ``*`` as unrestricted instead.

Time zones and daylight saving time (EventBridge Scheduler's documented rule)
    The expression is matched against the local wall clock of ``timezone``.
    * A local time that does not exist (spring forward) is skipped: ``30 2 * *
      *`` in America/New_York does not fire on 2026-03-08. It is *not* moved to
      03:00.
    * A local time that occurs twice (fall back) fires once, at its first
      occurrence (``fold=0``, the pre-transition offset). This applies to every
      expression, so ``0 * * * *`` fires at 01:00 EDT but not at 01:00 EST on
      2026-11-01 (24 fires on that 25-hour day), and ``*/15 * * * *`` is silent
      during the repeated hour.
    Implementation: candidate times are generated as naive local wall-clock
    times in ascending order, starting at the wall clock of ``after``. Each is
    converted to UTC with ``fold=0``; it is dropped if it does not round-trip
    (nonexistent) or is not strictly after ``after`` (this handles an ``after``
    inside the second occurrence of a repeated hour). Since each wall-clock
    time maps to at most one instant, nothing fires twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = [
    "DEFAULT_TIMEZONE",
    "CronError",
    "CronSpec",
    "next_run_at",
    "next_runs",
    "parse_cron",
    "validate_timezone",
]

DEFAULT_TIMEZONE = "UTC"
_MAX_EXPRESSION_LENGTH = 256
_SEARCH_DAYS = 366 * 10  # valid expressions always fire within 8 years (Feb 29)

_FIELD_HINT = "minute hour day-of-month month day-of-week"
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_NAMES = {name: number for number, name in enumerate(_MONTHS, start=1)}
_DOW_NAMES = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_MONTH_LONG = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # leap year

# (name, min, max, names) for each of the five fields.
_FIELDS: tuple[tuple[str, int, int, dict[str, int] | None], ...] = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day-of-month", 1, 31, None),
    ("month", 1, 12, _MONTH_NAMES),
    ("day-of-week", 0, 7, _DOW_NAMES),
)
_ATOM = re.compile(r"(?:(?P<star>\*)|(?P<lo>[0-9A-Z]+)(?:-(?P<hi>[0-9A-Z]+))?)(?:/(?P<step>[0-9]+))?")
_QUARTZ_DAY = re.compile(r"L|LW|L-[0-9]+|[0-9]+W|[0-9]*L|[A-Z]{3}L")


class CronError(ValueError):
    """Invalid ``cronExpression`` or ``timezone``; ``str(err)`` is user-facing."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CronSpec:
    """A validated expression: its normalised text and the expanded field sets."""

    expression: str  # normalised: aliases expanded, single spaces, names upper-cased
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday ... 6 = Saturday
    day_or: bool  # both day fields restricted: either may match (Vixie OR rule)

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = day.isoweekday() % 7 in self.weekdays
        return (dom or dow) if self.day_or else (dom and dow)


def _expression_error(reason: str) -> CronError:
    return CronError("cronExpression", reason)


def _parse_field(raw: str, index: int) -> frozenset[int]:
    name, lo, hi, names = _FIELDS[index]
    where = f"{name} field {raw!r}"

    def value(token: str) -> int:
        if token.isdigit():
            number = int(token)
        elif names is not None and token in names:
            number = names[token]
        else:
            raise _expression_error(f"{where}: {token!r} is not a valid {name} value")
        if not lo <= number <= hi:
            raise _expression_error(f"{where}: value {number} is out of range {lo}-{hi}")
        return number

    result: set[int] = set()
    for item in raw.split(","):
        if index in (2, 4) and _QUARTZ_DAY.fullmatch(item):
            raise _expression_error(f"{where}: 'L' and 'W' (last day / nearest weekday) are not supported")
        match = _ATOM.fullmatch(item)
        if match is None:
            problem = "empty list entry" if not item else f"{item!r} is not a valid {name} entry"
            raise _expression_error(f"{where}: {problem}")
        step = int(match["step"]) if match["step"] else 1
        if step == 0:
            raise _expression_error(f"{where}: step must be at least 1")
        if match["star"]:
            start, stop = lo, hi
        else:
            start = value(match["lo"])
            implicit_end = max(start, 6) if index == 4 else hi  # "MON/2" ends on Saturday, as in croniter
            stop = value(match["hi"]) if match["hi"] else (implicit_end if match["step"] else start)
            if start > stop:
                raise _expression_error(f"{where}: range {item!r} runs backwards; split it into a list")
        result.update(range(start, stop + 1, step))
    if index == 4 and 7 in result:  # 7 is Sunday too
        result = (result - {7}) | {0}
    return frozenset(result)


def _check_fires(days: frozenset[int], months: frozenset[int]) -> None:
    """Reject a day-of-month/month combination that never occurs (leap years count)."""
    if any(day <= _DAYS_IN_MONTH[month - 1] for month in months for day in days):
        return
    day_list = sorted(days)
    day_text = f"day {day_list[0]}" if len(day_list) == 1 else "days " + ", ".join(map(str, day_list))
    month_names = [_MONTH_LONG[month - 1] for month in sorted(months)]
    month_text = (
        month_names[0] if len(month_names) == 1 else ", ".join(month_names[:-1]) + " or " + month_names[-1]
    )
    verb = "does" if len(day_list) == 1 else "do"
    raise _expression_error(f"never fires ({day_text} {verb} not occur in {month_text})")


def parse_cron(expression: str) -> CronSpec:
    """Validate a cron expression; raise :class:`CronError` (field ``cronExpression``)."""
    if not isinstance(expression, str):
        raise _expression_error("must be a string")
    return _parse_cron(expression)


@lru_cache(maxsize=1024)
def _parse_cron(expression: str) -> CronSpec:
    text = expression.strip()
    if not text:
        raise _expression_error(f"must not be empty; expected 5 fields ({_FIELD_HINT})")
    if len(text) > _MAX_EXPRESSION_LENGTH:
        raise _expression_error(f"is too long (at most {_MAX_EXPRESSION_LENGTH} characters)")
    if re.match(r"(?i)(cron|rate)\s*\(", text):
        raise _expression_error(
            "AWS cron(...)/rate(...) syntax is not supported; use a standard 5-field expression "
            f"({_FIELD_HINT}), e.g. '0 12 * * *'"
        )
    if text.startswith("@"):
        alias = text.lower()
        if alias not in _ALIASES:
            raise _expression_error(f"unsupported alias {text!r}; use one of {', '.join(_ALIASES)}")
        text = _ALIASES[alias]
    fields = text.upper().split()
    if len(fields) != 5:
        extra = "; seconds and AWS year fields are not supported" if len(fields) > 5 else ""
        raise _expression_error(f"expected 5 fields ({_FIELD_HINT}), got {len(fields)}{extra}")
    if "?" in text:
        raise _expression_error("'?' (AWS/Quartz syntax) is not supported; use '*'")
    if "#" in text:
        raise _expression_error("'#' (nth weekday of the month) is not supported")
    minutes, hours, days, months, weekdays = (_parse_field(raw, i) for i, raw in enumerate(fields))
    day_or = fields[2] != "*" and fields[4] != "*"
    if fields[2] != "*" and fields[4] == "*":  # only day-of-month decides the day
        _check_fires(days, months)
    return CronSpec(
        expression=" ".join(fields),
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=days,
        months=months,
        weekdays=weekdays,
        day_or=day_or,
    )


@cache
def _iana_names() -> frozenset[str]:
    return frozenset(available_timezones() - {"localtime", "posixrules"})


def validate_timezone(name: str) -> ZoneInfo:
    """Return the ZoneInfo for an IANA name; raise :class:`CronError` (field ``timezone``)."""
    if not isinstance(name, str) or not name:
        raise CronError(
            "timezone", "must be a non-empty IANA time zone name such as 'UTC' or 'Europe/Berlin'"
        )
    if name not in _iana_names():
        raise CronError(
            "timezone", f"unknown time zone {name!r}; use an IANA name such as 'UTC' or 'Europe/Berlin'"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # pragma: no cover - broken tz database
        raise CronError("timezone", f"time zone {name!r} could not be loaded") from exc


def _wall_clock_times(spec: CronSpec, start: datetime) -> Iterator[datetime]:
    """Yield naive wall-clock times matching ``spec`` that are >= naive ``start``, ascending."""
    day = start.date()
    for _ in range(_SEARCH_DAYS):
        if day.month not in spec.months:
            day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
            continue
        if spec.matches_day(day):
            hours = spec.hours if day > start.date() else tuple(h for h in spec.hours if h >= start.hour)
            for hour in hours:
                for minute in spec.minutes:
                    candidate = datetime(day.year, day.month, day.day, hour, minute)
                    if candidate >= start:
                        yield candidate
        day += timedelta(days=1)
    raise RuntimeError(f"cron expression {spec.expression!r} found no fire time")  # pragma: no cover


def _fire_times(spec: CronSpec, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    after_utc = after.astimezone(UTC)
    start = after_utc.astimezone(zone).replace(tzinfo=None, fold=0, second=0, microsecond=0)
    for wall in _wall_clock_times(spec, start):
        instant = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: first occurrence
        if instant.astimezone(zone).replace(tzinfo=None) != wall:
            continue  # nonexistent local time (spring forward): skipped
        if instant > after_utc:
            yield instant


def next_runs(expression: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times strictly after ``after`` (aware), as aware UTC datetimes."""
    if count < 0:
        raise ValueError("count must not be negative")
    if after.utcoffset() is None:
        raise ValueError("after must be a timezone-aware datetime")
    spec = parse_cron(expression)
    zone = validate_timezone(timezone)
    return list(islice(_fire_times(spec, zone, after), count))


def next_run_at(expression: str, timezone: str, after: datetime) -> datetime:
    """The first fire time strictly after ``after`` (aware, any zone), as an aware UTC datetime."""
    return next_runs(expression, timezone, after, 1)[0]
