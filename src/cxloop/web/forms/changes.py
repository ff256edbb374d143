"""The "What changed" pages' query strings for a funnel's conversion and for NPS."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms

from cxloop.journeys.definitions import MAX_STEPS
from cxloop.metrics import trends
from cxloop.web.forms import TextListField, WholeNumberField, text_field
from cxloop.web.forms.trends import RangeForm

LABELS = {
    "date_from": "from",
    "date_to": "to",
    "compare_from": "compare from",
    "compare_to": "compare to",
    "window_days": "conversion window",
}


class CompareForm(RangeForm):
    """A period, and optionally the range it is compared with (default: the one before)."""

    compare_from = forms.DateField(required=False)
    compare_to = forms.DateField(required=False)
    trait = text_field(max_length=100)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in ("compare_from", "compare_to"):
            day: date | None = data.get(name)
            if day is not None and not trends.EARLIEST_DAY <= day <= trends.LATEST_DAY:
                self.add_error(name, f"{day} is outside {trends.EARLIEST_DAY}–{trends.LATEST_DAY}")
        return data


class FunnelChangeForm(CompareForm):
    step = TextListField(max_items=MAX_STEPS)
    step_channel = TextListField(max_items=MAX_STEPS)
    window_days = WholeNumberField(1, 36_500)

    labels = LABELS


class NpsChangeForm(CompareForm):
    survey = WholeNumberField(1, 2**31 - 1)
    segments = forms.BooleanField(required=False)

    labels = LABELS
