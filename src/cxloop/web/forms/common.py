"""Shared pieces of the survey, customer, dashboard and team page forms.

A page reads its query string or body only through a form; a bad value becomes ``param: message``
shown on the page (4xx), never an exception. Domain rules (a survey's questions, metric filters)
stay in the domain apps; these forms only check shape and bounds before the services run.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

# A page number this high is a typing slip or a probe; paginators clamp anything below it.
MAX_PAGE = 1_000_000
MAX_TEXT = 200
# Database ids are 64-bit; a larger number names no row and must not reach a query.
MAX_ID = 2**63 - 1


class PageForm(forms.Form):
    """``?page=``: a list page's page number (Paginator clamps numbers past the last page)."""

    page = forms.IntegerField(min_value=1, max_value=MAX_PAGE, required=False)


def error_list(form: forms.Form) -> list[str]:
    """Every error as ``field: message`` (``__all__`` errors without a field name)."""
    errors = []
    for field, messages in form.errors.items():
        for message in messages:
            errors.append(str(message) if field == "__all__" else f"{field}: {message}")
    return errors


def bad_params(request: HttpRequest, form: forms.Form) -> HttpResponse:
    """400 for a query string no form on the page could have sent: names each bad parameter."""
    return render(request, "web/bad_params.html", {"errors": error_list(form)}, status=400)


def page_number(form: forms.Form) -> int:
    return form.cleaned_data.get("page") or 1
