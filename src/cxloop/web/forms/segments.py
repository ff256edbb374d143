"""The segment pages' query strings and posts."""

from __future__ import annotations

from django import forms

from cxloop.segments.personas import MAX_K, MIN_K
from cxloop.web.forms import WholeNumberField

DEFAULT_K = 5


class PersonasForm(forms.Form):
    k = WholeNumberField(MIN_K, MAX_K)


class MembersPageForm(forms.Form):
    page = WholeNumberField(1, 10**9)
