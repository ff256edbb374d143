"""The journey pages' query strings: the funnel."""

from __future__ import annotations

from datetime import timedelta
from math import isfinite
from typing import Any

from django import forms

from cxloop.analytics.walk import MAX_WINDOW_SECONDS
from cxloop.journeys.definitions import FUNNEL_MODES
from cxloop.web.forms import MAX_ID, MAX_TEXT, TextListField, WholeNumberField, text_field

UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
STEP_SLOTS = 5
EXCLUSION_SLOTS = 2


class FunnelForm(forms.Form):
    step = TextListField()
    step_channel = TextListField()
    # one property condition per step slot (blank property: none)
    step_prop = TextListField()
    step_op = TextListField()
    step_value = TextListField()
    mode = forms.ChoiceField(choices=[(m, m) for m in FUNNEL_MODES], required=False)
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
    }

    def clean_mode(self) -> str:
        return self.cleaned_data["mode"] or "ordered"

    def clean_unit(self) -> str:
        return self.cleaned_data["unit"] or "days"

    def clean_window(self) -> str:
        return self.cleaned_data["window"] or "7"

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
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


ROW_COLUMNS = ("stage", "touchpoint", "event", "channel", "conditions")
MAX_ROWS = 500  # rules one journey form may post (a map has at most MAX_STAGES stages)


class JourneyForm(forms.Form):
    """The journey editor's post: name, description, stages one per line, and one rule per row
    (``row-stage``, ``row-touchpoint``… repeated once per row). The definition's own rules
    (required name, known channels…) are checked by the journeys domain."""

    name = forms.CharField(required=False, strip=False, max_length=MAX_TEXT)
    description = forms.CharField(required=False, strip=False, max_length=10 * MAX_TEXT)
    stages = forms.CharField(required=False, strip=False, max_length=10 * MAX_TEXT)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for column in ROW_COLUMNS:
            self.fields[f"row-{column}"] = TextListField(max_items=MAX_ROWS)

    labels = {f"row-{c}": f"rows, {c}" for c in ROW_COLUMNS}
