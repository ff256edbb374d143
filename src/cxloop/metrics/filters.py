"""Reading metric query parameters (shared by the dashboard and the REST API).

``parse_query`` turns a mapping of strings (a query string) into a :class:`MetricQuery`, or raises
:class:`FilterError` naming the bad parameter, so both front ends answer bad input the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from cxloop.analytics.periods import Granularity
from cxloop.metrics.definitions import MetricName

DEFAULT_DAYS = 90
# Dates outside this range are typing slips, and keep every date sum (the window before, the
# next period) far from the ends of Python's and the databases' calendars.
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2200, 12, 31)
MAX_DAYS_BY_DAY = 400  # a daily trend longer than this is unreadable; use week or month
MAX_TEXT = 200
SPLITS = ("channel", "touchpoint", "survey")
TRAIT_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class FilterError(ValueError):
    """Bad filter input; ``param`` names the query parameter at fault."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


@dataclass(frozen=True, slots=True)
class ResponseFilters:
    """Which responses a metric counts. ``end`` is exclusive; times are UTC."""

    start: datetime | None = None
    end: datetime | None = None
    survey_id: int | None = None
    channel: str = ""
    touchpoint: str = ""
    trait: tuple[str, str] | None = None  # (key, value) of a customer trait
    csat_top_box: int | None = None  # None: each survey's own ``csat_top_box``
    # only these customers (a subquery of ids, e.g. a saved segment's members); None: everyone
    customer_ids: object | None = field(default=None, compare=False)

    def previous(self) -> ResponseFilters | None:
        """The same filters over the equally long window just before this one (None: no window)."""
        if self.start is None or self.end is None:
            return None
        length = self.end - self.start
        return replace(self, start=self.start - length, end=self.start)


@dataclass(frozen=True, slots=True)
class MetricQuery:
    """A parsed metrics query: filters plus what to compute and how to group it."""

    filters: ResponseFilters
    metric: MetricName = MetricName.NPS
    by: Granularity | None = Granularity.WEEK
    split: str | None = None  # channel, touchpoint, survey or trait:<key>
    date_from: date | None = None
    date_to: date | None = None  # inclusive, as entered


def parse_split(text: str, *, param: str = "split") -> str | None:
    """``channel``, ``touchpoint``, ``survey`` or ``trait:<key>``; empty for no split."""
    text = text.strip()
    if not text:
        return None
    if text in SPLITS:
        return text
    name, colon, key = text.partition(":")
    if name == "trait" and colon:
        if not TRAIT_KEY.fullmatch(key):
            raise FilterError(param, f"trait key {key!r} must be 1–64 letters, digits, _ . or -")
        return f"trait:{key}"
    raise FilterError(param, f"expected one of {', '.join(SPLITS)} or trait:<key>, got {text!r}")


def parse_query(params: Mapping[str, str], *, today: date | None = None) -> MetricQuery:
    """Validate query parameters; missing ones take defaults (last 90 days, NPS, by week).

    Parameters: ``metric`` (nps, csat, ces, response_rate), ``by`` (day, week, month; ``none``
    for a single total), ``split`` (see :func:`parse_split`), ``from``/``to`` (YYYY-MM-DD, both
    inclusive), ``survey`` (id), ``channel``, ``touchpoint``, ``trait`` (``key=value``),
    ``top_box`` (CSAT: lowest satisfied answer, 1–10; default each survey's setting).
    """
    today = today or datetime.now(UTC).date()
    metric = _choice(params, "metric", MetricName, MetricName.NPS)
    by_text = (params.get("by") or "week").strip()
    by = None if by_text == "none" else _choice(params, "by", Granularity, Granularity.WEEK)
    split = parse_split(params.get("split") or "")

    given_from = _date(params, "from")
    date_to = _date(params, "to") or today
    date_from = given_from or max(MIN_DATE, date_to - timedelta(days=DEFAULT_DAYS - 1))
    if date_from > date_to:
        raise FilterError("from", f"{date_from} is after to={date_to}")
    if by is Granularity.DAY and (date_to - date_from).days >= MAX_DAYS_BY_DAY:
        raise FilterError("by", f"day covers at most {MAX_DAYS_BY_DAY} days; use week or month")

    survey_text = (params.get("survey") or "").strip()
    survey_id = None
    if survey_text:
        if not survey_text.isdigit():
            raise FilterError("survey", f"expected a survey id (a number), got {survey_text!r}")
        survey_id = int(survey_text)

    trait = None
    trait_text = (params.get("trait") or "").strip()
    if trait_text:
        key, equals, value = trait_text.partition("=")
        key, value = key.strip(), value.strip()
        if not equals or not value:
            raise FilterError("trait", f"expected key=value (e.g. plan=pro), got {trait_text!r}")
        if not TRAIT_KEY.fullmatch(key):
            raise FilterError("trait", f"trait key {key!r} must be 1–64 letters, digits, _ . or -")
        trait = (key, value[:MAX_TEXT])

    top_box_text = (params.get("top_box") or "").strip()
    top_box = None
    if top_box_text:
        if not top_box_text.isdigit() or not 1 <= int(top_box_text) <= 10:
            raise FilterError("top_box", f"expected a whole number 1–10, got {top_box_text!r}")
        top_box = int(top_box_text)

    filters = ResponseFilters(
        start=datetime.combine(date_from, time.min, tzinfo=UTC),
        end=datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC),
        survey_id=survey_id,
        channel=_text(params, "channel"),
        touchpoint=_text(params, "touchpoint"),
        trait=trait,
        csat_top_box=top_box,
    )
    return MetricQuery(
        filters=filters, metric=metric, by=by, split=split, date_from=date_from, date_to=date_to
    )


def _choice(params: Mapping[str, str], name: str, enum: type[StrEnum], default):
    text = (params.get(name) or "").strip()
    if not text:
        return default
    try:
        return enum(text)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise FilterError(name, f"expected one of {allowed}, got {text!r}") from None


def _date(params: Mapping[str, str], name: str) -> date | None:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise FilterError(name, f"expected a date YYYY-MM-DD, got {text!r}") from None
    if not MIN_DATE <= value <= MAX_DATE:
        raise FilterError(name, f"expected a date from {MIN_DATE} to {MAX_DATE}, got {text!r}")
    return value


def _text(params: Mapping[str, str], name: str) -> str:
    text = (params.get(name) or "").strip()
    if len(text) > MAX_TEXT:
        raise FilterError(name, f"at most {MAX_TEXT} characters")
    return text
