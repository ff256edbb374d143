"""Rule conditions (IF) and actions (THEN) as JSON data: what each trigger offers as facts,
validation with errors naming the field, evaluation with the reason it held. Pure Python."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# re-exported: what a trigger watches is part of this public interface
from cxloop.workflows._params import BOUNDS as BOUNDS
from cxloop.workflows._params import DIRECTIONS as DIRECTIONS
from cxloop.workflows._params import MAX_WINDOW_DAYS as MAX_WINDOW_DAYS
from cxloop.workflows._params import METRICS as METRICS
from cxloop.workflows._params import NUMBER as NUMBER
from cxloop.workflows._params import PARAM_TRIGGERS as PARAM_TRIGGERS
from cxloop.workflows._params import SCHEDULES as SCHEDULES
from cxloop.workflows._params import TIME as TIME
from cxloop.workflows._params import USUAL_K as USUAL_K
from cxloop.workflows._params import USUAL_METHODS as USUAL_METHODS
from cxloop.workflows._params import USUAL_PERIODS as USUAL_PERIODS
from cxloop.workflows._params import describe_params as describe_params
from cxloop.workflows._params import params_validate as params_validate
from cxloop.workflows.definition import (
    MAX_ACTIONS,
    MAX_CONDITIONS,
    MAX_HOURS,
    OP_WORDS,
    OPS,
    ROLES,
    DefinitionError,
    _int,
    _text,
    compare,
)

# the facts each trigger offers to conditions (besides trait.<name> of the customer)
FACTS: dict[str, dict[str, str]] = {
    "response_received": {
        "nps": "NPS score (0–10)",
        "csat": "CSAT score",
        "ces": "CES score",
        "survey": "survey id",
        "survey_name": "survey name",
        "channel": "channel",
        "source": "source (link, email, api…)",
        "comment": "comment text",
    },
    "event_received": {
        "event": "event name",
        "type": "message type (track, page…)",
        "channel": "channel",
    },
    "run_started": {"template": "template id", "source": "what started it"},
    "step_completed": {"template": "template id", "step": "step key"},
    "step_overdue": {"template": "template id", "step": "step key", "hours_overdue": "hours"},
    "segment_entered": {"segment": "segment id", "segment_name": "segment name"},
    "segment_left": {"segment": "segment id", "segment_name": "segment name"},
    "metric_crossed": {
        "metric": "metric (nps, csat, csat_mean, responses, event_count)",
        "value": "its value over the window",
        "threshold": "the threshold crossed (fixed bound)",
        "low": "the usual range's low end (usual bound)",
        "high": "the usual range's high end (usual bound)",
        "window": "window in days",
        "n": "answers or events it rests on",
    },
    "schedule": {
        "schedule": "after_reply, after_step or daily",
        "days": "days after",
        "survey": "survey id of the last reply",
        "nps": "NPS of the last reply",
        "template": "template id",
        "step": "step key",
        "date": "the day (daily)",
    },
}
PREFIXES = {
    "response_received": ("trait.",),
    "event_received": ("trait.", "property."),
    "run_started": ("trait.",),
    "step_completed": ("trait.", "answer."),
    "step_overdue": ("trait.",),
    "segment_entered": ("trait.",),
    "segment_left": ("trait.",),
    "metric_crossed": (),
    "schedule": ("trait.",),
}
# the customer's latest prediction, offered to every trigger (read only when a rule names one)
PREDICTION_FACTS = {
    "prediction.clv": "customer's CLV",
    "prediction.churn_risk": "churn risk, 0–1",
    "prediction.p_alive": "P(still active), 0–1",
    "prediction.expected_purchases_90": "expected purchases in 90 days",
    "prediction.value_at_risk": "CLV × churn risk",
}
PREDICTION_OPS = ("lt", "lte", "gt", "gte", "exists")
# the customer's saved segments and journey stages, offered to every trigger with a customer
# (read only when a rule names one): ``segment`` is / is not <segment id>; ``stage.<map id>``
# is / is not <stage id> (the furthest stage reached in that map); ``reached.<map id>`` is / is
# not <stage id> (that stage or a later one reached)
CUSTOMER_FACTS = {
    "in_segment": "customer is / is not in a saved segment",
    "stage.<map>": "customer's stage in a journey map",
    "reached.<map>": "customer reached a stage of a journey map (or a later one)",
}
CUSTOMER_PREFIXES = ("stage.", "reached.")
# the response's text analytics (response_received only)
TEXT_FACTS = {
    "sentiment": "comment's sentiment (negative, neutral, positive)",
    "sentiment_score": "comment's sentiment score, −1 to 1",
    "theme": "comment mentions a theme / does not",
}
SENTIMENT_LABELS = ("negative", "neutral", "positive")
SCORE_OPS = ("lt", "lte", "gt", "gte")
MEMBER_OPS = ("eq", "neq")  # is / is not (in the segment, at the stage, mentions the theme)
# facts holding a set: "is X" holds when X is in it
SET_FACTS = ("in_segment", "theme")
ACTIONS = {
    "start_workflow": "start a workflow",
    "assign": "assign the step",
    "extend_deadline": "extend the deadline",
    "tag_customer": "tag the customer (set a trait)",
    "add_to_segment": "add the customer to a segment",
    "send_email": "send an email",
    "webhook": "call a webhook",
    "notify": "notify in the app",
}
FACT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}(\.[A-Za-z0-9_ $-]{1,80})?$")
NO_CUSTOMER = ("metric_crossed",)  # triggers without a customer to read segments or stages of


@dataclass(frozen=True)
class Choices:
    """What a rule's conditions and actions may name in this workspace (ids): saved segments,
    themes, and each journey map's stages. None: not checked (a pure validation)."""

    segments: set[int] | None = None
    themes: set[int] | None = None
    stages: Mapping[int, set[int]] | None = None  # map id -> its stage ids


def is_customer_fact(field: str) -> bool:
    return field == "in_segment" or field.startswith(CUSTOMER_PREFIXES)


def _id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() and 0 < len(text) < 19 else None


def _known_field(trigger: str, field: str) -> bool:
    if field in FACTS[trigger] or field in PREDICTION_FACTS or field.startswith(PREFIXES[trigger]):
        return True
    if trigger not in NO_CUSTOMER and is_customer_fact(field):
        return field == "in_segment" or _id(field.partition(".")[2]) is not None
    return trigger == "response_received" and field in TEXT_FACTS


def _check_special(
    field: str, op: str, value: Any, where: str, errors: list[str], choices: Choices
) -> Any:
    """A segment, stage, sentiment or theme condition's op and value, checked (each error
    names ``op`` or ``value``); returns the value as stored (an id, a label, a number)."""
    if field == "sentiment_score":
        if op not in SCORE_OPS:
            errors.append(f"{where}: op: a sentiment score compares with {', '.join(SCORE_OPS)}")
        try:
            score = float(str(value))
        except ValueError:
            score = float("nan")
        if not -1 <= score <= 1:
            errors.append(f"{where}: value: {str(value)[:20]!r} is not a score from -1 to 1")
            return value
        return score
    if op not in MEMBER_OPS:
        errors.append(f"{where}: op: {op!r} here is eq (is) or neq (is not)")
    if field == "sentiment":
        label = str(value).strip().lower()
        if label not in SENTIMENT_LABELS:
            errors.append(f"{where}: value: {str(value)[:20]!r} is not one of "
                          f"{', '.join(SENTIMENT_LABELS)}")  # fmt: skip
        return label
    number = _id(value)
    kind = {"in_segment": "saved segment", "theme": "theme"}.get(field, "stage")
    if number is None:
        errors.append(f"{where}: value: choose a {kind}")
        return value
    if field == "in_segment" and choices.segments is not None and number not in choices.segments:
        errors.append(f"{where}: value: no saved segment {number} here")
    elif field == "theme" and choices.themes is not None and number not in choices.themes:
        errors.append(f"{where}: value: no theme {number} here")
    elif field.startswith(CUSTOMER_PREFIXES) and choices.stages is not None:
        journey = _id(field.partition(".")[2])
        if journey is None or journey not in choices.stages:
            errors.append(f"{where}: field: no journey map {journey} here")
        elif number not in choices.stages[journey]:
            errors.append(f"{where}: value: no stage {number} in journey map {journey}")
    return number


def conditions_validate(trigger: str, raw: Any, *, choices: Choices | None = None) -> list[dict]:
    """The cleaned conditions, or DefinitionError naming each bad field. ``choices``: the
    workspace's segments, themes and stages a condition may name (unchecked when None)."""
    choices = choices or Choices()
    errors: list[str] = []
    if trigger not in FACTS:
        raise DefinitionError([f"trigger: {trigger!r} is not one of {', '.join(FACTS)}"])
    if raw in (None, ""):
        raw = []
    if not isinstance(raw, list) or len(raw) > MAX_CONDITIONS:
        raise DefinitionError([f"conditions: a list of at most {MAX_CONDITIONS}"])
    cleaned = []
    for number, item in enumerate(raw, start=1):
        where = f"condition {number}"
        if not isinstance(item, Mapping):
            errors.append(f"{where}: expected an object")
            continue
        field = _text(item.get("field"), f"{where}: field", errors, high=120)
        if field and (not FACT_NAME.match(field) or not _known_field(trigger, field)):
            known = ", ".join(
                [*FACTS[trigger], *(f"{p}<name>" for p in PREFIXES[trigger]),
                 *([] if trigger in NO_CUSTOMER else CUSTOMER_FACTS),
                 *(TEXT_FACTS if trigger == "response_received" else []), *PREDICTION_FACTS]
            )  # fmt: skip
            errors.append(f"{where}: field: {field[:60]!r} is not one of {known}")
            field = ""
        op = item.get("op", "eq")
        if field and (is_customer_fact(field) or field in TEXT_FACTS):
            value = _check_special(field, str(op), item.get("value", ""), where, errors, choices)
            cleaned.append({"field": field, "op": op, "value": value})
            continue
        if op not in OPS:
            errors.append(f"{where}: op: {op!r} is not one of {', '.join(OPS)}")
        elif field in PREDICTION_FACTS and op not in PREDICTION_OPS:
            errors.append(
                f"{where}: op: a prediction compares with {', '.join(PREDICTION_OPS)}, not {op!r}"
            )
        value = item.get("value", "")
        if isinstance(value, dict | list) and op != "in":
            errors.append(f"{where}: value: expected a number or text")
        if op in ("lt", "lte", "gt", "gte") and compare(value, "exists", True):
            try:
                float(str(value))
            except ValueError:
                errors.append(f"{where}: value: {str(value)[:20]!r} is not a number")
        if isinstance(value, str) and NUMBER.match(value.strip()):
            value = float(value) if "." in value else int(value)  # typed "6" means the number
        cleaned.append({"field": field, "op": op, "value": value})
    if trigger == "event_received" and not any(
        c["field"] == "event" and c["op"] == "eq" for c in cleaned
    ):
        errors.append("conditions: an event rule names its event (event is …)")
    if errors:
        raise DefinitionError(errors)
    return cleaned


def _who(raw: Mapping, where: str, errors: list[str]) -> dict:
    if raw.get("user_id") not in (None, ""):
        return {"user_id": _int(raw.get("user_id"), f"{where}: user_id", 1, 2**63 - 1, errors)}
    role = raw.get("role")
    if role not in ROLES:
        errors.append(f"{where}: give a user_id or a role ({', '.join(ROLES)})")
    return {"role": role}


def actions_validate(
    trigger: str, raw: Any, *, template_ids: set[int] | None = None,
    segment_ids: set[int] | None = None,
) -> list[dict]:  # fmt: skip
    errors: list[str] = []
    if not isinstance(raw, list) or not raw:
        raise DefinitionError(["actions: a rule needs at least one action"])
    if len(raw) > MAX_ACTIONS:
        raise DefinitionError([f"actions: at most {MAX_ACTIONS}"])
    cleaned = []
    for number, item in enumerate(raw, start=1):
        where = f"action {number}"
        if not isinstance(item, Mapping):
            errors.append(f"{where}: expected an object")
            continue
        kind = item.get("type")
        if kind not in ACTIONS:
            errors.append(f"{where}: type: {kind!r} is not one of {', '.join(ACTIONS)}")
            continue
        action: dict[str, Any] = {"type": kind}
        if kind == "start_workflow":
            template_id = _int(
                item.get("template_id"), f"{where}: template_id", 1, 2**63 - 1, errors
            )
            if template_id and template_ids is not None and template_id not in template_ids:
                errors.append(f"{where}: template_id: no workflow template {template_id} here")
            action["template_id"] = template_id
        elif kind == "assign":
            action.update(_who(item, where, errors))
        elif kind == "extend_deadline":
            action["hours"] = _int(item.get("hours"), f"{where}: hours", 1, MAX_HOURS, errors)
        elif kind == "tag_customer":
            action["trait"] = _text(item.get("trait"), f"{where}: trait", errors, high=80)
            action["value"] = _text(item.get("value"), f"{where}: value", errors, high=200)
        elif kind == "add_to_segment":
            segment = _int(item.get("segment_id"), f"{where}: segment_id", 1, 2**63 - 1, errors)
            if segment and segment_ids is not None and segment not in segment_ids:
                errors.append(f"{where}: segment_id: no saved segment {segment} here")
            if trigger in NO_CUSTOMER:
                errors.append(f"{where}: type: a {trigger} rule has no customer to add")
            action["segment_id"] = segment
        elif kind == "send_email":
            to = _text(item.get("to") or "customer", f"{where}: to", errors, high=254)
            if to != "customer" and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", to):
                errors.append(f"{where}: to: {to[:40]!r} is not customer or an email address")
            action["to"] = to
            action["subject"] = _text(item.get("subject"), f"{where}: subject", errors, high=200)
            action["body"] = _text(item.get("body"), f"{where}: body", errors, high=5000)
        elif kind == "webhook":
            url = _text(item.get("url"), f"{where}: url", errors, high=500)
            parts = urlsplit(url)
            if url and (parts.scheme not in ("http", "https") or not parts.netloc):
                errors.append(f"{where}: url: {url[:60]!r} is not an http(s) address")
            action["url"] = url
        elif kind == "notify":
            action.update(_who(item, where, errors))
            action["text"] = _text(item.get("text"), f"{where}: text", errors, high=500)
        cleaned.append(action)
    if errors:
        raise DefinitionError(errors)
    return cleaned


def conditions_check(conditions: list[dict], facts: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether every condition holds on ``facts`` and why ("nps = 3 ≤ 6; channel = 'email'
    is 'email'"), or which one failed. The reason is written only for what held or the first
    that failed (most facts fail a rule's first condition)."""
    for condition in conditions:
        if not _holds(condition, facts.get(condition["field"])):
            return False, f"not: {_reason(condition, facts)}"
    return True, "; ".join(_reason(c, facts) for c in conditions) or "no conditions"


def _holds(condition: Mapping[str, Any], actual: Any) -> bool:
    op, value = condition["op"], condition["value"]
    if isinstance(actual, frozenset | set):  # a segment, theme or reached-stage fact
        return (value in actual) == (op == "eq")
    if actual is None and is_customer_fact(condition["field"]):
        return False  # no customer: neither in nor out of a segment or stage
    return compare(actual, op, value)


_SET_WORDS = {"in_segment": ("in segment", "not in segment"),
              "theme": ("mentions theme", "does not mention theme"),
              "reached": ("reached stage", "has not reached stage")}  # fmt: skip


def _reason(condition: Mapping[str, Any], facts: Mapping[str, Any]) -> str:
    field, op, value = condition["field"], condition["op"], condition["value"]
    actual = facts.get(field)
    kind, _, journey = field.partition(".")
    if kind in _SET_WORDS:
        if not isinstance(actual, frozenset | set):
            return f"{field} missing (no customer)"
        inside = value in actual
        where = f" of journey map #{journey}" if journey else ""
        return f"{_SET_WORDS[kind][0 if inside else 1]} #{value}{where}"
    shown = "missing" if actual is None else repr(actual)
    if op == "exists":
        return f"{field} = {shown} {'is set' if compare('x', 'exists', value) else 'is not set'}"
    return f"{field} = {shown} {OP_WORDS[op]} {value!r}"


def describe_action(action: Mapping[str, Any]) -> str:
    kind = action.get("type", "")
    who = f"user #{action['user_id']}" if action.get("user_id") else f"role {action.get('role')}"
    return {
        "start_workflow": f"start workflow #{action.get('template_id')}",
        "assign": f"assign to {who}",
        "extend_deadline": f"extend the deadline by {action.get('hours')} h",
        "tag_customer": f"set trait {action.get('trait')} = {action.get('value')}",
        "add_to_segment": f"add to segment #{action.get('segment_id')}",
        "send_email": f"email {action.get('to')}: {action.get('subject')}",
        "webhook": f"POST to {action.get('url')}",
        "notify": f"notify {who}",
    }.get(kind, kind)
