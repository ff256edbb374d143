"""Reading a text search's parameters (page query strings and the REST API alike): each value
checked against its bounds, every problem named by its parameter."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from cxloop.text.models import Label
from cxloop.text.selectors import EMOTIONS, NPS_GROUPS, TextFilters

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
