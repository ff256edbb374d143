"""The path-analysis pages' query strings."""

from __future__ import annotations

from django import forms

from cxloop.analytics.sessions import COUNT_PER, CUSTOMER
from cxloop.journeys import paths as path_analysis
from cxloop.web.forms import MAX_ID, WholeNumberField, text_field
from cxloop.web.forms.trends import RangeForm


class _PathsBase(RangeForm):
    by_channel = forms.BooleanField(required=False)
    segment = WholeNumberField(1, MAX_ID)

    labels = {"date_from": "from", "date_to": "to"}


class PathsForm(_PathsBase):
    start = text_field()
    end = text_field()
    max_steps = WholeNumberField(2, path_analysis.MAX_STEPS)
    within_days = WholeNumberField(1, path_analysis.MAX_DAYS)
    top = WholeNumberField(1, path_analysis.MAX_TOP)
    per = forms.ChoiceField(choices=[(p, p) for p in COUNT_PER], required=False)

    defaults = {"max_steps": 6, "within_days": None, "top": 10, "per": CUSTOMER}


class BeforeForm(_PathsBase):
    kind = forms.ChoiceField(
        choices=[("churn", "churn"), ("complaint", "complaint")], required=False
    )
    steps = WholeNumberField(1, path_analysis.MAX_STEPS)
    inactive_days = WholeNumberField(1, path_analysis.MAX_INACTIVE_DAYS)
    complaint_events = text_field()
    topics = text_field()

    defaults = {
        "kind": "churn",
        "steps": 3,
        "inactive_days": 90,
        "complaint_events": ", ".join(path_analysis.DEFAULT_COMPLAINT_EVENTS),
    }
