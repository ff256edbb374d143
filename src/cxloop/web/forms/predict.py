"""The prediction pages' query strings."""

from __future__ import annotations

from django import forms

from cxloop.web.forms import WholeNumberField

MAX_CLV = 10**9


class ValueAtRiskForm(forms.Form):
    """The value-at-risk list's filter (the query string, and the posts of its actions)."""

    min_risk = WholeNumberField(0, 100)  # percent
    min_clv = WholeNumberField(0, MAX_CLV)
    limit = WholeNumberField(1, 500)

    defaults = {"min_risk": 0, "min_clv": 0, "limit": 100}

    def chosen(self) -> dict[str, int]:
        """The (valid) filter with defaults filled in."""
        return {
            name: default if self.cleaned_data.get(name) is None else self.cleaned_data[name]
            for name, default in self.defaults.items()
        }


class StartWorkflowForm(ValueAtRiskForm):
    template = WholeNumberField(1, 2**63 - 1, required=True)


class PredictionSettingsForm(forms.Form):
    purchase_event = forms.CharField(max_length=200, strip=True)
    churn_days = WholeNumberField(7, 730, required=True)
    cancel_event = forms.CharField(max_length=200, required=False, strip=True)
