"""Django forms for the pages' query strings and posts: each parameter's type and bounds declared
once, and errors that name the field ("top: 0 is outside 1–30")."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import ProhibitNullCharactersValidator

MAX_TEXT = 500  # longest free-text parameter a page reads (an event name, a trait, a topic list)
MAX_ID = 2**63 - 1  # the largest primary key the databases store (api.params.MAX_ID)
MAX_LIST = 50  # most values of a repeated parameter (funnel steps, condition rows)


class WholeNumberField(forms.IntegerField):
    """An integer in ``low``–``high``; messages say what was given and what is allowed."""

    def __init__(self, low: int, high: int, **kwargs: Any) -> None:
        self.low, self.high = low, high
        kwargs.setdefault("required", False)
        super().__init__(min_value=low, max_value=high, **kwargs)
        outside = f"%(value)s is outside {low}–{high}"
        self.error_messages.update(min_value=outside, max_value=outside)

    def to_python(self, value: Any) -> int | None:
        text = str(value).strip() if value is not None else ""
        if text in self.empty_values:
            return None
        if not (text.isascii() and text.lstrip("+-").isdigit()):
            raise forms.ValidationError(
                "%(value)r is not a whole number", code="invalid", params={"value": text[:40]}
            )
        return int(text)


class TextListField(forms.Field):
    """A repeated text parameter (``?step=A&step=B``): stripped strings, NUL refused."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, max_items: int = MAX_LIST, max_length: int = MAX_TEXT, **kwargs: Any):
        self.max_items, self.max_length = max_items, max_length
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:
        values = [str(v).strip() for v in (value or [])]
        if len(values) > self.max_items:
            raise forms.ValidationError(f"at most {self.max_items} values")
        for text in values:
            if len(text) > self.max_length:
                raise forms.ValidationError(f"each value at most {self.max_length} characters")
            ProhibitNullCharactersValidator()(text)
        return values


def text_field(**kwargs: Any) -> forms.CharField:
    """Optional free text, at most MAX_TEXT characters (NUL is refused by every CharField)."""
    kwargs.setdefault("required", False)
    kwargs.setdefault("max_length", MAX_TEXT)
    return forms.CharField(**kwargs)


def error_lines(form: forms.Form, labels: dict[str, str] | None = None) -> list[str]:
    """The form's errors as "label: message" lines for the page's error banner."""
    lines: list[str] = []
    for name, errors in form.errors.items():
        label = (labels or {}).get(name, name.replace("_", " "))
        lines.extend(f"{label}: {m}" if name != "__all__" else str(m) for m in errors)
    return lines


def raw(form: forms.Form, name: str) -> str:
    """What the user typed into ``name`` (for showing it back next to its error)."""
    value = form.data.get(name, "") if form.is_bound else ""
    return str(value)[:MAX_TEXT]
