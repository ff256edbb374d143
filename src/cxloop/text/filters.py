"""Reading a text search's parameters (page query strings and the REST API alike): each value
checked against its bounds, every problem named by its parameter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, timedelta

from cxloop.core.models import Workspace
from cxloop.text.models import Label
from cxloop.text.selectors import (
    DEFAULT_DAYS,
    EMOTIONS,
    NPS_GROUPS,
    TextFilters,
    period_default,
    theme_get,
)

MAX_QUERY = 200
MAX_NAME = 32
EARLIEST = date(1971, 1, 1)
LATEST = date(2200, 12, 31)
MAX_ID = 2**63 - 1
MAX_DAYS = 3660  # ten years: the previous period must stay inside the calendar too
CHOICES = {
    "label": tuple(Label.values),
    "nps": tuple(NPS_GROUPS),
    "emotion": EMOTIONS,
}


class FilterInvalid(ValueError):
    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors))


def _day(name: str, value: str, errors: list[tuple[str, str]]) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errors.append((name, f"{value[:40]!r} is not a date like 2025-03-31"))
        return None
    if not EARLIEST <= day <= LATEST:
        errors.append((name, f"{day} is outside {EARLIEST}–{LATEST}"))
        return None
    return day


def filters_parse(raw: Mapping[str, str]) -> TextFilters:
    """``TextFilters`` from strings (missing or empty: no filter). Raises FilterInvalid."""
    errors: list[tuple[str, str]] = []
    values = {k: str(raw.get(k) or "").strip() for k in (
        "q", "label", "nps", "channel", "source", "emotion", "date_from", "date_to", "theme"
    )}  # fmt: skip
    for name, value in values.items():
        if "\x00" in value:
            errors.append((name, "may not contain NUL (\\x00)"))
            values[name] = ""
    if len(values["q"]) > MAX_QUERY:
        errors.append(("q", f"at most {MAX_QUERY} characters"))
    for name in ("channel", "source"):
        if len(values[name]) > MAX_NAME:
            errors.append((name, f"at most {MAX_NAME} characters"))
    for name, allowed in CHOICES.items():
        if values[name] and values[name] not in allowed:
            errors.append((name, f"{values[name][:40]!r} is not one of {', '.join(allowed)}"))
    theme = None
    if values["theme"]:
        if (
            values["theme"].isascii()
            and values["theme"].isdigit()
            and 1 <= int(values["theme"]) <= MAX_ID
        ):
            theme = int(values["theme"])
        else:
            errors.append(("theme", f"{values['theme'][:40]!r} is not a theme id"))
    start = _day("date_from", values["date_from"], errors)
    end = _day("date_to", values["date_to"], errors)
    if start and end:
        if start > end:
            errors.append(("date_from", f"{start} is after date_to {end}"))
        elif (end - start).days >= MAX_DAYS:
            errors.append(("date_to", f"the period may be at most {MAX_DAYS} days"))
    if errors:
        raise FilterInvalid(errors)
    return TextFilters(
        query=values["q"],
        label=values["label"],
        nps=values["nps"],
        channel=values["channel"],
        source=values["source"],
        emotion=values["emotion"],
        theme=theme,
        date_from=start,
        date_to=end,
    )


def theme_problem(*, workspace: Workspace, theme_id: int | None) -> str | None:
    """Why ``theme_id`` cannot narrow this workspace's texts, or None (also None without one):
    a theme merged away or of another workspace is unknown. A hidden theme can (the Themes
    page links to its texts); the filters offer it while it is chosen (``theme_choices``)."""
    if theme_id is None or theme_get(workspace=workspace, theme_id=theme_id) is not None:
        return None
    return f"no theme {theme_id} in this workspace (merged into another, or never here)"


def filters_complete(
    *, workspace: Workspace, filters: TextFilters, days: int = DEFAULT_DAYS
) -> tuple[TextFilters, date, date]:
    """``filters`` checked against the workspace and given both dates: without any, the last
    ``days`` days up to the as-of day (the latest text's, or today when that is earlier); with
    only ``date_from``, up to the as-of day (that one day when it is later); with only
    ``date_to``, the ``days`` days ending then. Returns the filters and the two dates; raises
    FilterInvalid naming the parameter."""
    errors: list[tuple[str, str]] = []
    if problem := theme_problem(workspace=workspace, theme_id=filters.theme):
        errors.append(("theme", problem))
    start, end = filters.date_from, filters.date_to
    if start is None and end is None:
        start, end = period_default(workspace=workspace, days=days)
    elif start is not None and end is None:
        end = max(start, period_default(workspace=workspace, days=1)[1])
        if (end - start).days >= MAX_DAYS:
            errors.append(
                ("date_from", f"the period up to {end} would be over {MAX_DAYS} days; give date_to")
            )
    elif start is None and end is not None:
        start = max(EARLIEST, end - timedelta(days=days - 1))
    if errors or start is None or end is None:
        raise FilterInvalid(errors)
    return replace(filters, date_from=start, date_to=end), start, end
