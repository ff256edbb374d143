"""Django forms built from a step's (or an intake form's) field definitions: answers are
validated by Django's own fields, errors name the field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from cxloop.workflows._files import allowed_extensions, upload_problem

MAX_ANSWER = 5000


class UploadField(forms.FileField):
    """A file answer: refused at the field when empty, too big or not an accepted kind."""

    widget = forms.FileInput

    def to_python(self, data: Any) -> Any:
        upload = super().to_python(data)
        if isinstance(upload, UploadedFile) and (problem := upload_problem(upload)):
            raise forms.ValidationError(problem[0].upper() + problem[1:] + ".", code="bad_file")
        return upload


def answers_form_class(fields: Sequence[Mapping[str, Any]]) -> type[forms.Form]:
    """A form class with one Django field per definition (text, choice, date, rating, file)."""
    attrs: dict[str, forms.Field] = {}
    for field in fields:
        common = {"label": field["label"], "required": bool(field.get("required"))}
        kind = field["type"]
        if kind == "choice":
            choices = [("", "—")] + [(c, c) for c in field["choices"]]
            attrs[field["key"]] = forms.ChoiceField(choices=choices, **common)
        elif kind == "date":
            attrs[field["key"]] = forms.DateField(
                widget=forms.DateInput(attrs={"type": "date"}), **common
            )
        elif kind == "file":
            accepted = ",".join(f".{e}" for e in allowed_extensions())
            attrs[field["key"]] = UploadField(
                widget=forms.FileInput(attrs={"accept": accepted}),
                allow_empty_file=True,  # upload_problem says "empty" in its own words
                **common,
            )
        elif kind == "rating":
            high = int(field.get("max", 5))
            attrs[field["key"]] = forms.TypedChoiceField(
                choices=[("", "—")] + [(str(n), str(n)) for n in range(1, high + 1)],
                coerce=int,
                empty_value=None,
                **common,
            )
        else:
            attrs[field["key"]] = forms.CharField(
                max_length=MAX_ANSWER, widget=forms.Textarea(attrs={"rows": 3}), **common
            )
    return type("AnswersForm", (forms.Form,), attrs)


def answers_clean(form: forms.Form) -> dict[str, Any]:
    """Cleaned answers as JSON-able values (dates as ISO text); empty answers left out. Uploads
    stay as they are, for ``files_store`` to keep."""
    cleaned = {}
    for key, value in form.cleaned_data.items():
        if value in (None, ""):
            continue
        cleaned[key] = value.isoformat() if isinstance(value, date) else value
    return cleaned


def form_errors(form: forms.Form) -> list[str]:
    """``label: message`` lines (``field: message`` for errors not tied to a field)."""
    lines: list[str] = []
    for key, messages in form.errors.items():
        field = form.fields.get(key)
        label = field.label if field is not None and field.label else key
        lines.extend(f"{label}: {message}" for message in messages)
    return lines
