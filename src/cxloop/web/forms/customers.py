"""Forms of the customer pages: workspace switch, customer search, timeline filters, exports."""

from __future__ import annotations

from django import forms

from cxloop.web.forms.common import MAX_ID, MAX_TEXT, PageForm


class WorkspaceSwitchForm(forms.Form):
    workspace = forms.IntegerField(min_value=1, max_value=MAX_ID)


# the customer list's sortable columns (``-`` before one: highest or latest first)
CUSTOMER_SORTS = ("name", "last_seen", "nps", "csat", "clv", "churn")
DEFAULT_CUSTOMER_SORT = "-last_seen"


class CustomerSearchForm(PageForm):
    q = forms.CharField(max_length=MAX_TEXT, required=False)
    stage = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    sort = forms.ChoiceField(
        choices=[(f"{sign}{key}", key) for key in CUSTOMER_SORTS for sign in ("", "-")],
        required=False,
    )
    anon = forms.BooleanField(required=False, help_text="Show anonymous visitors too.")

    def clean_sort(self) -> str:
        return self.cleaned_data["sort"] or DEFAULT_CUSTOMER_SORT


class TimelineForm(PageForm):
    """The 360 page's timeline filters (``type`` is the event type)."""

    channel = forms.CharField(max_length=MAX_TEXT, required=False)
    type = forms.CharField(max_length=MAX_TEXT, required=False)
    name = forms.CharField(max_length=MAX_TEXT, required=False)


class ExportFormatForm(forms.Form):
    format = forms.ChoiceField(choices=[("json", "JSON"), ("csv", "CSV (zip)")], required=False)
