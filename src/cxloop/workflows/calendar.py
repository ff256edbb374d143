"""Business hours: a workspace's working week, opening hours, time zone and holidays, and
deadline arithmetic in it ("8 business hours after Friday 16:00" is Monday 15:00 when the
working day is 09:00–17:00). Pure Python with ``zoneinfo``: wall-clock hours in the calendar's
zone, so a daylight-saving change never moves the opening time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_HOLIDAYS = 400
# deadlines are at most a year of hours; a calendar open one hour a week needs 52 weeks per 52 h,
# so the walk is bounded by days, never by hours
MAX_DAYS_WALKED = 366 * 30


class CalendarError(ValueError):
    """A calendar that cannot be used; ``errors`` name the field."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class BusinessHours:
    zone: str
    days: frozenset[int]  # 0 = Monday
    opens: time
    closes: time
    holidays: frozenset[date]

    @property
    def hours_per_day(self) -> float:
        return (_minutes(self.closes) - _minutes(self.opens)) / 60

    def is_open_on(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def add(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` working hours after ``start`` (aware; answered in UTC). Time
        before opening counts from opening; after closing, from the next working day's opening.
        Zero hours from a closed moment is the next opening."""
        zone = ZoneInfo(self.zone)
        local = start.astimezone(zone)
        left = timedelta(hours=hours)
        day = local.date()
        for _ in range(MAX_DAYS_WALKED):
            if self.is_open_on(day):
                opening = datetime.combine(day, self.opens, zone)
                closing = datetime.combine(day, self.closes, zone)
                begin = max(opening, local) if day == local.date() else opening
                if begin < closing:
                    available = closing - begin
                    if left <= available:
                        return (begin + left).astimezone(UTC)
                    left -= available
            day += timedelta(days=1)
        raise CalendarError(["calendar: no working time within 30 years"])


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _time(value: Any, where: str, errors: list[str]) -> time | None:
    text = str(value or "").strip()
    try:
        parsed = time.fromisoformat(text)
    except ValueError:
        errors.append(f"{where}: {text[:20]!r} is not a time like 09:00")
        return None
    return parsed.replace(second=0, microsecond=0, tzinfo=None)


def calendar_validate(raw: Mapping[str, Any]) -> dict:
    """A cleaned calendar (JSON-able) from ``zone``, ``days`` (0–6), ``opens``, ``closes``,
    ``holidays`` (ISO dates), or CalendarError naming every problem."""
    errors: list[str] = []
    zone = str(raw.get("zone") or "").strip()
    if zone not in available_timezones():
        errors.append(f"zone: {zone[:60]!r} is not a time zone like Europe/London")
    days_raw = raw.get("days") or []
    days: list[int] = []
    if not isinstance(days_raw, Iterable) or isinstance(days_raw, str | bytes):
        errors.append("days: expected a list of weekdays 0 (Monday) to 6")
    else:
        for item in days_raw:
            text = str(item).strip()
            if not (text.isascii() and text.isdigit() and 0 <= int(text) <= 6):
                errors.append(f"days: {text[:10]!r} is not a weekday 0 (Monday) to 6")
            elif int(text) not in days:
                days.append(int(text))
        if not days and not any(e.startswith("days") for e in errors):
            errors.append("days: choose at least one working day")
    opens = _time(raw.get("opens"), "opens", errors)
    closes = _time(raw.get("closes"), "closes", errors)
    if opens and closes and _minutes(closes) <= _minutes(opens):
        errors.append(f"closes: {closes:%H:%M} is not after opens {opens:%H:%M}")
    holidays_raw = raw.get("holidays") or []
    holidays: list[str] = []
    if isinstance(holidays_raw, str):
        holidays_raw = holidays_raw.replace(",", "\n").split("\n")
    if not isinstance(holidays_raw, Iterable):
        errors.append("holidays: expected a list of dates like 2026-12-25")
        holidays_raw = []
    for item in holidays_raw:
        text = str(item).strip()
        if not text:
            continue
        try:
            day = date.fromisoformat(text)
        except ValueError:
            errors.append(f"holidays: {text[:20]!r} is not a date like 2026-12-25")
            continue
        if not date(1971, 1, 1) <= day <= date(2200, 12, 31):
            errors.append(f"holidays: {day} is outside 1971–2200")
        elif day.isoformat() not in holidays:
            holidays.append(day.isoformat())
    if len(holidays) > MAX_HOLIDAYS:
        errors.append(f"holidays: at most {MAX_HOLIDAYS}")
    if errors or opens is None or closes is None:
        raise CalendarError(errors)
    return {
        "zone": zone,
        "days": sorted(days),
        "opens": opens.strftime("%H:%M"),
        "closes": closes.strftime("%H:%M"),
        "holidays": sorted(holidays),
    }


def business_hours(cleaned: Mapping[str, Any]) -> BusinessHours:
    """The calendar of a cleaned definition (see :func:`calendar_validate`)."""
    try:
        ZoneInfo(cleaned["zone"])
    except ZoneInfoNotFoundError as exc:  # a zone removed from the tz database since
        raise CalendarError([f"zone: {cleaned['zone']!r} is unknown"]) from exc
    return BusinessHours(
        zone=cleaned["zone"],
        days=frozenset(cleaned["days"]),
        opens=time.fromisoformat(cleaned["opens"]),
        closes=time.fromisoformat(cleaned["closes"]),
        holidays=frozenset(date.fromisoformat(d) for d in cleaned["holidays"]),
    )
