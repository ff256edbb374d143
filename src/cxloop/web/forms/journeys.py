"""The journey pages' query strings: the funnel."""

from __future__ import annotations

import json
from datetime import timedelta
from math import isfinite
from typing import Any

from django import forms

from cxloop.analytics.sessions import COUNT_PER, CUSTOMER
from cxloop.analytics.walk import MAX_WINDOW_SECONDS
from cxloop.journeys.definitions import FUNNEL_MODES
from cxloop.web.forms import MAX_ID, TextListField, WholeNumberField, text_field
from cxloop.web.forms.trends import RangeForm

UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
STEP_SLOTS = 5
EXCLUSION_SLOTS = 2


class JourneyMapForm(RangeForm):
    """A journey map's range (default: the last 90 days) and whether to compare it with the
    as many days just before."""

    compare = forms.BooleanField(required=False)

    labels = {"date_from": "from", "date_to": "to"}


class FunnelForm(RangeForm):
    step = TextListField()
    step_channel = TextListField()
    # one property condition per step slot (blank property: none)
    step_prop = TextListField()
    step_op = TextListField()
    step_value = TextListField()
    mode = forms.ChoiceField(choices=[(m, m) for m in FUNNEL_MODES], required=False)
    per = forms.ChoiceField(choices=[(p, p) for p in COUNT_PER], required=False)
    everyone = forms.BooleanField(required=False)  # "why they dropped" of every entrant
    entered = forms.IntegerField(min_value=0, max_value=10**12, required=False)  # its sample
    exclude = TextListField()
    exclude_after = TextListField()
    window = text_field(max_length=40)
    unit = forms.ChoiceField(choices=[(u, u) for u in UNITS], required=False)
    split = text_field()
    trait = text_field()
    stage = WholeNumberField(1, MAX_ID)

    labels = {
        "window": "conversion window",
        "unit": "window unit",
        "step_channel": "step channel",
        "step_prop": "step property",
        "step_op": "step operator",
        "step_value": "step value",
        "exclude_after": "exclusion step",
        "date_from": "from",
        "date_to": "to",
    }

    def clean_mode(self) -> str:
        return self.cleaned_data["mode"] or "ordered"

    def clean_per(self) -> str:
        return self.cleaned_data["per"] or CUSTOMER

    def clean_unit(self) -> str:
        return self.cleaned_data["unit"] or "days"

    def clean_window(self) -> str:
        return self.cleaned_data["window"] or "7"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "window" in data and "unit" in data:
            try:
                amount = float(data["window"])
            except ValueError:
                self.add_error("window", f"{data['window']!r} is not a number")
                return data
            seconds = amount * UNITS[data["unit"]]
            if not (isfinite(seconds) and 0 < seconds <= MAX_WINDOW_SECONDS):
                self.add_error("window", "give a positive number up to 100 years")
            else:
                data["window_delta"] = timedelta(seconds=seconds)
        return data


MAX_DEFINITION = 500_000  # characters of JSON one journey editor may post


class JourneyEditorForm(forms.Form):
    """The journey editor's post: the whole definition as JSON (``journeys.definitions``); its
    own rules (required names, known stages, operators...) are checked by the journeys domain."""

    definition = forms.CharField(required=False, strip=False, max_length=MAX_DEFINITION)

    def parsed(self) -> tuple[dict[str, Any], str]:
        """(the posted definition, "") or (an empty one, what is wrong with the post)."""
        empty: dict[str, Any] = {"name": "", "description": "", "stages": [], "touchpoints": []}
        if not self.is_valid():
            return empty, f"The journey is too large to save (over {MAX_DEFINITION:,} characters)."
        try:
            value = json.loads(self.cleaned_data["definition"] or "{}")
        except (ValueError, RecursionError):
            return empty, "The editor sent something unreadable; reload the page and try again."
        if not isinstance(value, dict):
            return empty, "The editor sent something unreadable; reload the page and try again."
        return value, ""
