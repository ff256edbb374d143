"""The workflow pages' posts and query strings: the template and rule editors (rows posted as
``s<i>-…``, ``s<i>f<j>-…``, ``c<i>-…``, ``a<i>-…``), board filters, step work. What the values
mean (keys, roles, deadlines) is checked by the workflows domain, which names each field."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from cxloop.web.forms import MAX_ID, WholeNumberField, text_field
from cxloop.workflows.ruledefs import (
    BOUNDS,
    DIRECTIONS,
    MAX_WINDOW_DAYS,
    METRICS,
    SCHEDULES,
    TIME,
    USUAL_K,
    USUAL_METHODS,
    USUAL_PERIODS,
)

MAX_LONG = 5000
OP = re.compile(r"^(save|test|refresh|add_step|add_intake|add_condition|add_action|"
                r"(remove_step|up|down|add_field|remove_intake|remove_condition|remove_action)-\d{1,3}|"
                r"remove_field-\d{1,3}-\d{1,3}|resend-\d{1,18})$")  # fmt: skip
STEP_FIELDS = ("key", "title", "assignee_kind", "assignee_role", "assignee_user",
               "deadline_hours", "deadline_from", "escalate_role", "cond_step", "cond_field",
               "cond_op", "cond_value", "email_subject")  # fmt: skip
FIELD_FIELDS = ("key", "label", "type", "choices", "max")
ACTION_FIELDS = ("type", "template_id", "role", "user_id", "hours", "trait", "value", "to",
                 "subject", "url", "text", "segment_id")  # fmt: skip


def _count(value: Any, most: int) -> int:
    text = str(value or "0").strip()
    return min(int(text), most) if text.isascii() and text.isdigit() else 0


class EditorForm(forms.Form):
    """What every editor posts besides its rows: its name, the button pressed, row counts."""

    name = text_field(strip=False)
    description = text_field(strip=False)
    intake_public = forms.BooleanField(required=False)
    active = forms.BooleanField(required=False)
    trigger = text_field()
    op = text_field()
    steps = text_field()
    intakes = text_field()
    conditions = text_field()
    actions = text_field()
    start = forms.DateField(required=False)
    end = forms.DateField(required=False)

    def clean_op(self) -> str:
        op = self.cleaned_data["op"] or "save"
        if not OP.match(op):
            raise forms.ValidationError(f"{op[:40]!r} is not an editor action")
        return op

    def counts(self) -> dict[str, int]:
        return {
            k: _count(self.data.get(k), 30) for k in ("steps", "intakes", "conditions", "actions")
        }


class RowForm(forms.Form):
    """One row of an editor: the named text fields, each at most MAX_LONG characters."""

    def __init__(self, *args: Any, names: tuple[str, ...] = (), long: tuple[str, ...] = (),
                 flags: tuple[str, ...] = (), **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        for name in names:
            self.fields[name] = text_field()
        for name in long:
            self.fields[name] = text_field(max_length=MAX_LONG)
        for name in flags:
            self.fields[name] = forms.BooleanField(required=False)


def step_row(data, i: int) -> RowForm:
    return RowForm(
        data,
        prefix=f"s{i}",
        names=(*STEP_FIELDS, "fields"),
        long=("email_body",),
        flags=("deadline_business", "parallel"),
    )


def field_row(data, prefix: str) -> RowForm:
    return RowForm(data, prefix=prefix, names=FIELD_FIELDS, flags=("required",))


def condition_row(data, i: int) -> RowForm:
    return RowForm(data, prefix=f"c{i}", names=("field", "op", "value"))


def action_row(data, i: int) -> RowForm:
    return RowForm(data, prefix=f"a{i}", names=ACTION_FIELDS, long=("body",))


# the fields each trigger the cycle evaluates asks for (the rest are ignored for it)
PARAM_FIELDS = {
    "segment_entered": ("segment_id",),
    "segment_left": ("segment_id",),
    "metric_crossed": (
        "metric",
        "survey_id",
        "event",
        "days",
        "direction",
        "bound",
        "threshold",
        "k",
        "periods",
        "method",
    ),
    "schedule": ("schedule", "days", "time", "template_id", "step"),
}
# the domain's error names ("segment: …") and the field each belongs to
PARAM_ERROR_FIELDS = {"segment": "segment_id", "survey": "survey_id", "template": "template_id",
                      **{k: k for k in ("metric", "event", "days", "direction", "threshold",
                                        "schedule", "time", "step", "bound", "k", "periods",
                                        "method")}}  # fmt: skip


class TriggerParamsForm(forms.Form):
    """What a segment, metric or schedule trigger watches (posted as ``p-…``). Which fields a
    trigger needs is checked here, each error at its field; the domain checks the rest."""

    segment_id = WholeNumberField(1, MAX_ID, label="Segment")
    metric = forms.ChoiceField(choices=[("", "choose…"), *METRICS.items()], required=False)
    survey_id = WholeNumberField(1, MAX_ID, label="Survey")
    event = text_field(max_length=200, label="Event name")
    days = WholeNumberField(1, MAX_WINDOW_DAYS, label="Days")
    direction = forms.ChoiceField(choices=list(DIRECTIONS.items()), required=False)
    threshold = forms.FloatField(required=False)
    bound = forms.ChoiceField(choices=list(BOUNDS.items()), required=False)
    k = forms.FloatField(required=False, min_value=USUAL_K[0], max_value=USUAL_K[1])
    periods = WholeNumberField(*USUAL_PERIODS, label="Earlier windows")
    method = forms.ChoiceField(choices=list(USUAL_METHODS.items()), required=False)
    schedule = forms.ChoiceField(choices=[("", "choose…"), *SCHEDULES.items()], required=False)
    time = text_field(max_length=5, label="Time of day")
    template_id = WholeNumberField(1, MAX_ID, label="Workflow")
    step = text_field(max_length=64, label="Step key")

    def __init__(self, *args: Any, trigger: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "p")
        super().__init__(*args, **kwargs)
        self.trigger = trigger

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        needed = {
            "segment_entered": ("segment_id",),
            "segment_left": ("segment_id",),
            "metric_crossed": ("metric", "days"),
            "schedule": ("schedule",),
        }.get(self.trigger, ())
        kind = data.get("schedule")
        if self.trigger == "schedule":
            needed = (*needed, "time") if kind == "daily" else (*needed, "days")
        if self.trigger == "metric_crossed" and data.get("metric") == "event_count":
            needed = (*needed, "event")
        if self.trigger == "metric_crossed" and data.get("bound", "fixed") != "usual":
            needed = (*needed, "threshold")
        for name in needed:
            if data.get(name) in (None, "") and name not in self.errors:
                self.add_error(name, "required")
        if (self.trigger == "schedule" and kind == "daily" and data.get("time")
                and not TIME.match(data["time"])):  # fmt: skip
            self.add_error("time", f"{data['time']!r} is not a time like 09:00")
        return data

    def params(self) -> dict[str, Any]:
        """The posted values this trigger uses (empty ones left out), for the domain."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        out = {}
        for name in PARAM_FIELDS.get(self.trigger, ()):
            value = data.get(name)
            if value not in (None, ""):
                out[name] = value
        return out

    def add_domain_errors(self, lines: list[str]) -> list[str]:
        """Put the domain's ``name: message`` lines at their field; returns the others."""
        rest = []
        for line in lines:
            name, _, message = line.partition(": ")
            field = PARAM_ERROR_FIELDS.get(name)
            if field and field in PARAM_FIELDS.get(self.trigger, ()) and field not in self.errors:
                self.add_error(field, message)
            else:
                rest.append(line)
        return rest


class BoardForm(forms.Form):
    template = WholeNumberField(1, MAX_ID)
    segment = WholeNumberField(1, MAX_ID)
    assignee = WholeNumberField(1, MAX_ID)
    status = forms.ChoiceField(
        choices=[("", "any"), ("open", "open"), ("done", "done"), ("cancelled", "cancelled")],
        required=False,
    )
    view = forms.ChoiceField(choices=[("", "board"), ("board", "board"), ("table", "table")],
                             required=False)  # fmt: skip
    v = text_field(max_length=64)


class StepWorkForm(forms.Form):
    """Assign or extend the open step (the answers are the step's own form)."""

    step = WholeNumberField(1, MAX_ID, required=True)
    user = WholeNumberField(1, MAX_ID)
    role = forms.ChoiceField(
        choices=[("", "—"), ("admin", "admin"), ("analyst", "analyst"), ("agent", "agent")],
        required=False,
    )
    hours = WholeNumberField(1, 24 * 365)
    reason = text_field(max_length=200)


class ReportForm(forms.Form):
    start = forms.DateField(required=False)
    end = forms.DateField(required=False)


class ProcessForm(forms.Form):
    """The process page: which version it describes (default the current one) and whether it is
    downloaded, as a standalone HTML file, Markdown or PDF."""

    format = forms.ChoiceField(
        choices=[("", "page"), ("html", "HTML"), ("md", "Markdown"), ("pdf", "PDF")],
        required=False,
    )
    version = WholeNumberField(1, 100_000)


WEEKDAYS = [(str(i), name) for i, name in enumerate(
    ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"))]  # fmt: skip


class CalendarForm(forms.Form):
    """The business hours page: what the workflows domain's calendar validates, by field."""

    op = forms.ChoiceField(choices=[("save", "save"), ("clear", "clear")], required=False)
    zone = text_field(max_length=64)
    days = forms.MultipleChoiceField(choices=WEEKDAYS, required=False)
    opens = text_field(max_length=8)
    closes = text_field(max_length=8)
    holidays = text_field(max_length=MAX_LONG)
