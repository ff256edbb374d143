"""Business-hours deadlines: hand-computed cases in a working week with holidays, across a
daylight-saving change, and every bad calendar named by its field."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from cxloop.workflows.calendar import CalendarError, business_hours, calendar_validate

LONDON = ZoneInfo("Europe/London")
WEEK = {"zone": "Europe/London", "days": [0, 1, 2, 3, 4], "opens": "09:00", "closes": "17:00",
        "holidays": ["2026-12-25", "2026-12-28"]}  # fmt: skip


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        ("2026-12-01 10:00", 4, "2026-12-01 14:00"),  # Tuesday, inside the day
        ("2026-12-01 16:00", 8, "2026-12-02 16:00"),  # 1 h today, 7 h tomorrow
        ("2026-12-04 16:00", 8, "2026-12-07 16:00"),  # Friday 1 h, Monday 7 h
        ("2026-12-05 11:00", 2, "2026-12-07 11:00"),  # from Saturday: Monday's opening + 2 h
        ("2026-12-01 07:30", 1, "2026-12-01 10:00"),  # before opening
        ("2026-12-01 18:00", 0, "2026-12-02 09:00"),  # closed: the next opening
        ("2026-12-24 15:00", 4, "2026-12-29 11:00"),  # Thu 2 h; Fri 25 and Mon 28 holidays
        ("2026-12-01 09:00", 40, "2026-12-07 17:00"),  # a whole working week
    ],
)
def test_deadlines_count_working_hours_only(start, hours, due):
    calendar = business_hours(calendar_validate(WEEK))
    assert calendar.add(at(start), hours) == at(due).astimezone(UTC)


def test_opening_hours_are_wall_clock_across_daylight_saving():
    # given: the clocks go forward on Sunday 29 March 2026 in London
    calendar = business_hours(calendar_validate({**WEEK, "holidays": []}))
    # when: 2 working hours from Friday 16:00 (GMT)
    due = calendar.add(at("2026-03-27 16:00"), 2)
    # then: Monday 10:00 BST, which is 09:00 UTC (not 10:00 UTC)
    assert due == datetime(2026, 3, 30, 9, 0, tzinfo=UTC)


def test_bad_calendars_name_each_field():
    with pytest.raises(CalendarError) as caught:
        calendar_validate({"zone": "Mars/Olympus", "days": [7, "x"], "opens": "25:00",
                           "closes": "9", "holidays": ["2026-02-30", "0001-01-01"]})  # fmt: skip
    text = " | ".join(caught.value.errors)
    for part in ("zone: 'Mars/Olympus'", "days: '7'", "days: 'x'", "opens: '25:00'",
                 "holidays: '2026-02-30'", "holidays: 0001-01-01 is outside"):  # fmt: skip
        assert part in text, part
    with pytest.raises(CalendarError, match="closes: 09:00 is not after opens 17:00"):
        calendar_validate({**WEEK, "opens": "17:00", "closes": "09:00"})
    with pytest.raises(CalendarError, match="choose at least one working day"):
        calendar_validate({**WEEK, "days": []})
