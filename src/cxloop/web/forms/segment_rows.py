"""The segment editor's form and its definition, both ways: the builder's posted rows read
through their forms into a definition (all of them, or the ones filled in so far), the JSON
editor's text, and a saved definition back into rows (nested ones open as JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from django import forms
from django.http import QueryDict

from cxloop.segments.definition import condition_kind
from cxloop.web.forms import error_lines, raw
from cxloop.web.forms.segments import ConditionRowForm, SegmentForm


def blank_row(kind: str, index: int) -> dict:
    row = {"index": index, "kind": kind}
    if kind == "trait":
        row.update(trait="", op="eq", value="")
    elif kind == "event":
        row.update(event="", did="did", days="", channel="", min_count="")
    elif kind == "score":
        row.update(score="nps", op="lte", value="", days="")
    elif kind == "prediction":
        row.update(prediction="churn_risk", op="gte", value="")
    else:
        row.update(stage="")
    return row


def next_index(rows: list[dict]) -> int:
    return max((row["index"] for row in rows), default=-1) + 1


@dataclass
class Posted:
    """The editor's post read through its forms: values (defaults where missing; refused text
    shown back without NUL), the builder's rows, and what was refused."""

    data: dict[str, Any]
    rows: list[dict]
    errors: list[str]


def read_post(post: QueryDict) -> Posted:
    form = SegmentForm(post)
    form.is_valid()
    errors = error_lines(form)
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form.cleaned_data.get(name)
        if name in form.errors and isinstance(field, forms.CharField):
            value = raw(form, name).replace("\x00", "")
        data[name] = value if value not in (None, "") else SegmentForm.defaults.get(name, value)
    data["row"] = data["row"] or []
    rows = []
    for position, index in enumerate(data["row"], start=1):
        row_form = ConditionRowForm(post, prefix=f"c-{index}")
        row_form.is_valid()
        row = blank_row(row_form.cleaned_data.get("kind") or "trait", index)
        for key in row:
            if key not in ("index", "kind"):
                row[key] = (row_form.cleaned_data.get(key) or "").strip()
        errors.extend(f"condition {position}: {line}" for line in error_lines(row_form))
        rows.append(row)
    return Posted(data, rows, errors)


def _condition_from_row(row: dict) -> dict:
    kind = row["kind"]
    if kind == "trait":
        if row["op"] in ("exists", "missing"):
            return {"trait": row["trait"], "op": "exists", "value": row["op"] == "exists"}
        return {"trait": row["trait"], "op": row["op"], "value": row["value"]}
    if kind == "event":
        condition = {"event": row["event"], "did": row["did"] != "not"}
        for key, field in (
            ("within_days", "days"),
            ("channel", "channel"),
            ("min_count", "min_count"),
        ):
            if row[field]:
                condition[key] = row[field]
        return condition
    if kind == "score":
        condition = {"score": row["score"], "op": row["op"], "value": row["value"]}
        if row["days"]:
            condition["within_days"] = row["days"]
        return condition
    if kind == "prediction":
        return {"prediction": row["prediction"], "op": row["op"], "value": row["value"]}
    journey, _, stage = row["stage"].partition("|")
    return {"stage": stage, "journey": int(journey) if journey.isdigit() else journey}


def definition_from_rows(match: str, rows: list[dict]) -> tuple[dict, list[str]]:
    mode = match if match in ("all", "any") else "all"
    return {mode: [_condition_from_row(row) for row in rows]}, []


# the fields a person types in, per kind of row: a row with all of them empty is not filled in
_TYPED_FIELDS = {
    "trait": ("trait", "value"),
    "event": ("event", "days", "min_count"),
    "score": ("value", "days"),
    "prediction": ("value",),
    "stage": ("stage",),
}


def draft_definition(match: str, rows: list[dict]) -> tuple[dict, list[int]]:
    """The definition of the rows filled in so far, and each condition's row number: a row just
    added and still empty is not counted (nor marked wrong) until the person types in it.
    Saving still checks every row."""
    kept = [
        (position, row)
        for position, row in enumerate(rows, start=1)
        if any(row.get(field) for field in _TYPED_FIELDS.get(row["kind"], ("value",)))
    ]
    definition, _ = definition_from_rows(match, [row for _, row in kept])
    return definition, [position for position, _ in kept]


def definition_from_post(posted: Posted) -> tuple[dict | None, list[str]]:
    """The definition a form describes (builder rows, or JSON in advanced mode)."""
    if posted.errors:
        return None, posted.errors
    if posted.data["mode"] == "json":
        return definition_from_json(posted.data["definition"])
    return definition_from_rows(posted.data["match"], posted.rows)


def definition_from_json(text: str) -> tuple[Any, list[str]]:
    try:
        return orjson.loads(text or "null"), []
    except orjson.JSONDecodeError as exc:
        return None, [f"definition: not valid JSON ({exc})"]


def rows_from_definition(definition: dict) -> tuple[list[dict], str, str]:
    """Builder rows for a flat definition; nested groups open in the JSON editor instead."""
    mode, items = next(iter(definition.items()))
    kinds = [condition_kind(item) for item in items]
    if None in kinds or "theme" in kinds:  # the builder has no row for text themes
        return [], mode, "json"
    if any(
        kind == "event" and {"where", "date_from", "date_to"} & set(item)
        for item, kind in zip(items, kinds, strict=True)
    ):  # nor for an event's property condition or its fixed days
        return [], mode, "json"
    rows = []
    for index, (item, kind) in enumerate(zip(items, kinds, strict=True)):
        row = blank_row(str(kind), index)
        if kind == "trait":
            op = item["op"]
            if op == "exists":
                op = "exists" if item.get("value", True) else "missing"
            row.update(trait=item["trait"], op=op, value=_text(item.get("value")))
            if op in ("exists", "missing"):
                row["value"] = ""
        elif kind == "event":
            row.update(
                event=item["event"],
                did="did" if item.get("did", True) else "not",
                days=_text(item.get("within_days")),
                channel=item.get("channel", ""),
                min_count=_text(item.get("min_count")),
            )
        elif kind == "score":
            row.update(
                score=item["score"],
                op=item["op"],
                value=_text(item["value"]),
                days=_text(item.get("within_days")),
            )
        elif kind == "prediction":
            row.update(prediction=item["prediction"], op=item["op"], value=_text(item["value"]))
        else:
            row.update(stage=f"{item['journey']}|{item['stage']}")
        rows.append(row)
    return rows, mode, "builder"


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
