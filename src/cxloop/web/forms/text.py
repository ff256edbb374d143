"""The Text page's query string: the search words and filters (bounds in ``text.filters``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.http import QueryDict

from cxloop.text.filters import EARLIEST, LATEST, MAX_NAME, MAX_QUERY, FilterInvalid, filters_parse
from cxloop.text.selectors import KEY_DRIVER_METRICS as METRICS
from cxloop.text.selectors import SEARCH_MODES, TextFilters
from cxloop.text.services import UPLOAD_MAX_BYTES
from cxloop.web.forms.common import MAX_ID, MAX_PAGE, error_list

FIELDS = ("q", "label", "nps", "channel", "source", "emotion", "date_from", "date_to", "theme")


class TextSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=MAX_QUERY)
    label = forms.CharField(required=False, max_length=16)
    nps = forms.CharField(required=False, max_length=16)
    channel = forms.CharField(required=False, max_length=MAX_NAME)
    source = forms.CharField(required=False, max_length=MAX_NAME)
    emotion = forms.CharField(required=False, max_length=16)
    date_from = forms.CharField(required=False, max_length=10)
    date_to = forms.CharField(required=False, max_length=10)
    theme = forms.CharField(required=False, max_length=20)
    page = forms.IntegerField(min_value=1, max_value=MAX_PAGE, required=False)
    mode = forms.CharField(required=False, max_length=16)

    def clean(self) -> dict:
        data = super().clean() or {}
        mode = data.get("mode") or ""
        if mode and mode not in SEARCH_MODES:
            self.add_error("mode", f"{mode[:40]!r} is not one of {', '.join(SEARCH_MODES)}")
        if self.errors:
            return data
        try:
            data["filters"] = filters_parse({name: data.get(name, "") for name in FIELDS})
        except FilterInvalid as invalid:
            for field, message in invalid.errors:
                self.add_error(field, message)
        return data

    @property
    def filters(self) -> TextFilters:
        return self.cleaned_data["filters"]


class ThemeActionForm(forms.Form):
    """A post on the themes page: discover, rename, merge, split, rules, hide, show, or undo
    the last merge or split (``change``: the one the page showed)."""

    OPS = ("discover", "rename", "merge", "hide", "show", "rules", "split", "undo")
    op = forms.ChoiceField(choices=[(o, o) for o in OPS])
    theme = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    name = forms.CharField(max_length=120, required=False)
    rules = forms.CharField(max_length=2000, required=False)
    into = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    change = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)

    def clean(self) -> dict:
        data = super().clean() or {}
        op = data.get("op")
        if op and op not in ("discover", "undo") and not data.get("theme"):
            self.add_error("theme", "choose a theme")
        if op == "undo" and not data.get("change") and "change" not in self.errors:
            self.add_error("change", "choose the change to undo")
        if op == "merge" and not data.get("into"):
            self.add_error("into", "choose the theme to merge into")
        return data

    @property
    def rule_list(self) -> list[str]:
        """The rules field: words or phrases separated by commas or new lines."""
        raw = self.cleaned_data.get("rules") or ""
        return [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]


class KeyDriversForm(TextSearchForm):
    """The key drivers page: which score, and the Text page's filters."""

    metric = forms.CharField(required=False, max_length=8)
    touchpoint = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    stage = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)

    def clean(self) -> dict:
        data = super().clean()  # the filters, each bad one named
        metric = data.get("metric") or ""
        if metric and metric not in METRICS:
            self.add_error("metric", f"{metric[:40]!r} is not one of {', '.join(METRICS)}")
        return data


class ThemeTrendForm(forms.Form):
    """The theme trends page: which theme (default: the busiest), which saved segment, how many
    weeks."""

    theme = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    segment = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    weeks = forms.IntegerField(min_value=4, max_value=104, required=False)


class RoadblockSegmentForm(forms.Form):
    """Save a roadblock's customers as a segment: the theme, the period shown and its channel."""

    theme = forms.IntegerField(min_value=1, max_value=MAX_ID)
    date_from = forms.DateField()
    date_to = forms.DateField()
    channel = forms.CharField(required=False, max_length=MAX_NAME)

    def clean(self) -> dict:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        for name, day in (("date_from", start), ("date_to", end)):
            if day and not EARLIEST <= day <= LATEST:
                self.add_error(name, f"{day} is outside {EARLIEST}–{LATEST}")
        if start and end and start > end and not self.errors:
            self.add_error("date_from", f"{start} is after date_to {end}")
        return data


class SentimentLabelForm(forms.Form):
    """A person's reading of one text's sentiment, or ``clear`` to drop it."""

    label = forms.ChoiceField(
        choices=[(c, c) for c in ("negative", "neutral", "positive", "clear")],
        error_messages={"invalid_choice": "choose negative, neutral, positive or clear"},
    )
    # where to go afterwards: back to the text (blank), or to the Teach page's suggestions
    next = forms.ChoiceField(choices=[("", ""), ("teach", "teach")], required=False)


class SentimentTeachForm(forms.Form):
    """The Teach page's actions: train the workspace's own model, or upload labelled texts."""

    op = forms.ChoiceField(choices=[("train", "train"), ("upload", "upload")])
    file = forms.FileField(required=False)
    text_column = forms.CharField(required=False, max_length=64)
    label_column = forms.CharField(required=False, max_length=64)

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("op") == "upload":
            upload = data.get("file")
            if upload is None:
                self.add_error("file", "choose a CSV file with a text and a label column")
            elif upload.size > UPLOAD_MAX_BYTES:
                self.add_error("file", f"{upload.size:,} bytes: at most 10 MB per file")
        return data


# What a person types or picks among the Text pages' filters: a value of these that does not fit
# (dates the wrong way round, a theme deleted since the page was drawn) is named on the page
# beside the filters, not answered with an error page that drops them all.
TYPED = frozenset({"q", "channel", "date_from", "date_to", "theme", "weeks"})


F = TypeVar("F", bound=forms.Form)


def read_leniently(
    form_class: type[F], query: QueryDict, check: Callable[[F], Any] = lambda form: True
) -> tuple[F, Any, list[str]]:
    """``form_class`` over ``query``, and ``check(form)`` (a value, or None after adding the
    problems to the form). A ``TYPED`` value that does not fit is left out and the form read
    again without it; the problems are returned to be shown on the page. The form comes back
    with errors (for a 400 naming them) when anything else is wrong: an address that no page
    sends."""
    data = query.copy()
    errors: list[str] = []
    while True:
        form = form_class(data)
        if form.is_valid() and (checked := check(form)) is not None:
            return form, checked, errors
        bad = set(form.errors)
        if not bad or not bad <= TYPED or not bad & set(data):
            return form, None, errors
        errors += error_list(form)
        for field in bad:
            data.pop(field, None)
