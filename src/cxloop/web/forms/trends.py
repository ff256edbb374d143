"""The trends pages' query strings: series, breakdown, formulas and range; funnel conversion."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms

from cxloop.core.models import Workspace
from cxloop.journeys.definitions import MAX_STEPS, OPS
from cxloop.metrics import trends
from cxloop.segments.trendsplit import MAX_SPLIT_SEGMENTS
from cxloop.web.forms import TextListField, WholeNumberField, text_field

UNITS = [(u, u) for u in ("hour", "day", "week", "month")]
SERIES_SLOTS = 3
# the page's breakdown menu: by nothing, channel, an event property, a customer trait, one saved
# segment (members against the rest), each of several segments, or the stage in a journey map
BREAKDOWNS = ("", "channel", "property", "trait", "segment", "segments", "stage")


class RangeForm(forms.Form):
    """``date_from``/``date_to``: an analysis's range (``metrics.trends.trend_range``)."""

    date_from = forms.DateField(required=False)
    date_to = forms.DateField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("date_from", "date_to"):
            day: date | None = data.get(name)
            if day is not None and not trends.EARLIEST_DAY <= day <= trends.LATEST_DAY:
                self.add_error(name, f"{day} is outside {trends.EARLIEST_DAY}–{trends.LATEST_DAY}")
        return data


def range_of(
    workspace: Workspace, data: dict[str, Any], invalid: set[str], errors: list[str]
) -> trends.Range | None:
    """A page's range from a valid :class:`RangeForm`'s data (the trends' rule: by default the
    last 90 days up to the as-of time), or None with its error added and its field marked."""
    if {"date_from", "date_to"} & invalid:
        return None
    try:
        return trends.trend_range(
            workspace=workspace, date_from=data.get("date_from"), date_to=data.get("date_to")
        )
    except trends.TrendQueryError as exc:
        errors.append(str(exc))
        invalid.add("date_to" if str(exc).startswith("to") else "date_from")
        return None


class TrendForm(RangeForm):
    event = TextListField(max_items=trends.MAX_SERIES)
    channel = TextListField(max_items=trends.MAX_SERIES)
    prop = TextListField(max_items=trends.MAX_SERIES)
    op = TextListField(max_items=trends.MAX_SERIES)
    value = TextListField(max_items=trends.MAX_SERIES)
    formula = TextListField(max_items=trends.MAX_FORMULAS, max_length=trends.MAX_FORMULA_LENGTH)
    by = forms.ChoiceField(choices=UNITS, required=False)
    measure = forms.ChoiceField(choices=[(m, m) for m in trends.MEASURES], required=False)
    chart = forms.ChoiceField(choices=[("line", "line"), ("bar", "bar")], required=False)
    breakdown = forms.ChoiceField(choices=[(b, b) for b in BREAKDOWNS], required=False)
    breakdown_property = text_field(max_length=200)
    breakdown_trait = text_field(max_length=200)
    breakdown_segment = TextListField(max_items=MAX_SPLIT_SEGMENTS, max_length=20)
    breakdown_journey = text_field(max_length=20)
    top = WholeNumberField(1, trends.MAX_TOP)
    format = forms.ChoiceField(choices=[("", "page"), ("csv", "csv")], required=False)

    labels = {
        "date_from": "from",
        "date_to": "to",
        "prop": "property",
        "breakdown_property": "breakdown property",
        "breakdown_trait": "breakdown trait",
        "breakdown_segment": "breakdown segment",
        "breakdown_journey": "breakdown journey map",
    }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for op in data.get("op", []):
            if op and op not in OPS:
                self.add_error("op", f"unknown operator {op!r}; use one of {', '.join(OPS)}")
        return data


class ConversionForm(RangeForm):
    step = TextListField(max_items=MAX_STEPS)
    step_channel = TextListField(max_items=MAX_STEPS)
    window_days = WholeNumberField(1, 36_500)
    by = forms.ChoiceField(choices=UNITS, required=False)

    labels = {"date_from": "from", "date_to": "to", "window_days": "conversion window"}


class ChangeForm(RangeForm):
    event = text_field(max_length=200)
    channel = text_field(max_length=32)

    labels = {"date_from": "from", "date_to": "to"}
