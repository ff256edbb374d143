"""The segment pages' query strings and posts."""

from __future__ import annotations

from typing import Any

from django import forms

from cxloop.segments.personas import MAX_K, MIN_K
from cxloop.web.forms import MAX_TEXT, TextListField, WholeNumberField, text_field
from cxloop.web.forms.trends import RangeForm

DEFAULT_K = 5


class PersonasForm(RangeForm):
    """``k`` personas over the events of ``date_from``..``date_to`` (the trends' range)."""

    k = WholeNumberField(MIN_K, MAX_K)

    labels = {"k": "personas", "date_from": "from", "date_to": "to"}


class MembersPageForm(forms.Form):
    page = WholeNumberField(1, 10**9)


MAX_ROWS = 30  # condition rows the builder keeps
MAX_ROW_INDEX = 10**6  # rows are numbered by the editor, one more for each row added
MAX_JSON = 100_000  # characters of a definition typed in the JSON editor
KINDS = (
    ("trait", "Trait"),
    ("event", "Event"),
    ("score", "Survey score"),
    ("stage", "Journey stage"),
    ("prediction", "Prediction"),
)
ROW_FIELDS = (
    "trait", "op", "value", "event", "did", "days", "channel", "min_count", "score", "prediction",
)  # fmt: skip


class SegmentForm(forms.Form):
    """The segment editor's post (and its htmx partials'): about the segment, the builder's
    state, and the numbers of its condition rows (each row is a ConditionRowForm). What the
    conditions mean is checked by the segments domain."""

    name = forms.CharField(required=False, strip=False, max_length=MAX_TEXT)
    description = forms.CharField(required=False, strip=False, max_length=MAX_TEXT)
    match = forms.ChoiceField(choices=[("all", "all"), ("any", "any")], required=False)
    mode = forms.ChoiceField(choices=[("builder", "builder"), ("json", "json")], required=False)
    definition = forms.CharField(required=False, strip=False, max_length=MAX_JSON)
    add = forms.ChoiceField(choices=KINDS, required=False)
    remove = WholeNumberField(0, MAX_ROW_INDEX)
    from_json = forms.BooleanField(required=False)
    row = TextListField(max_items=MAX_ROWS)

    defaults = {"match": "all", "mode": "builder"}

    def clean_row(self) -> list[int]:
        numbers = []
        for text in self.cleaned_data["row"]:
            if not (text.isascii() and text.isdigit() and int(text) <= MAX_ROW_INDEX):
                raise forms.ValidationError(f"{text[:40]!r} is not a row number")
            numbers.append(int(text))
        return numbers


class ConditionRowForm(forms.Form):
    """One builder row, posted as ``c-<row number>-<field>``."""

    kind = forms.ChoiceField(choices=KINDS, required=False)
    stage = text_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ROW_FIELDS:
            self.fields[name] = text_field()
