"""The prediction pages' query strings."""

from __future__ import annotations

from django import forms

from cxloop.web.forms import WholeNumberField


class ValueAtRiskForm(forms.Form):
    min_risk = WholeNumberField(0, 100)  # percent
    limit = WholeNumberField(1, 500)

    defaults = {"min_risk": 0, "limit": 100}


class PredictionSettingsForm(forms.Form):
    purchase_event = forms.CharField(max_length=200, strip=True)
    churn_days = WholeNumberField(7, 730, required=True)
    cancel_event = forms.CharField(max_length=200, required=False, strip=True)
