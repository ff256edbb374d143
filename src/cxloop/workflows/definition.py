"""Workflow steps and rule conditions/actions as data: validation with errors that name the
field ("step 2 (contact): deadline_hours: -1 is below 0"), and evaluation. Pure Python, no
database: nothing a user writes is ever evaluated as code."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

MAX_STEPS = 30
MAX_FIELDS = 20
MAX_CONDITIONS = 20
MAX_ACTIONS = 10
MAX_HOURS = 24 * 365
KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ROLES = ("admin", "analyst", "agent")  # roles that may work on tasks (viewers see aggregates)
ASSIGNEE_KINDS = ("unassigned", "member", "role", "round_robin", "owner")
OWNER_TRAIT = "owner"  # the customer's trait naming their owner (a member's user name or email)
FIELD_TYPES = ("text", "choice", "date", "rating", "file")
OPS = ("eq", "neq", "lt", "lte", "gt", "gte", "in", "contains", "exists")
OP_WORDS = {
    "eq": "is", "neq": "is not", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥",
    "in": "is one of", "contains": "contains", "exists": "is set",
}  # fmt: skip
DEADLINE_FROM = ("start", "previous")


class DefinitionError(ValueError):
    """A definition that cannot be used; ``errors`` are lines naming the field."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


# ------------------------------------------------------------------ small checks


def _int(value: Any, where: str, low: int, high: int, errors: list[str]) -> int | None:
    if value is None or value == "":
        errors.append(f"{where}: required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        errors.append(f"{where}: expected a whole number")
        return None
    text = str(value).strip()
    if not text.lstrip("-").isdigit():
        errors.append(f"{where}: {text[:20]!r} is not a whole number")
        return None
    number = int(text)
    if not low <= number <= high:
        errors.append(f"{where}: {number} is outside {low}–{high}")
        return None
    return number


def _text(value: Any, where: str, errors: list[str], *, high: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.append(f"{where}: expected text")
        return ""
    value = value.strip()
    if "\x00" in value:
        errors.append(f"{where}: contains a NUL character")
        return ""
    if required and not value:
        errors.append(f"{where}: required")
    elif len(value) > high:
        errors.append(f"{where}: at most {high} characters")
    return value


def _flag(value: Any, where: str, errors: list[str]) -> bool:
    if value in (None, "", False, "false", "0", "off"):
        return False
    if value in (True, "true", "1", "on"):
        return True
    errors.append(f"{where}: expected true or false")
    return False


def _key(value: Any, where: str, errors: list[str]) -> str:
    text = _text(value, where, errors, high=64)
    if text and not KEY.match(text):
        errors.append(f"{where}: {text!r} must be lower-case letters, digits and _")
    return text


# ------------------------------------------------------------------ steps


def assignee_validate(raw: Any, where: str, errors: list[str]) -> dict:
    if raw is None:
        return {"kind": "unassigned"}
    if not isinstance(raw, Mapping):
        errors.append(f"{where}: expected an object")
        return {"kind": "unassigned"}
    kind = raw.get("kind", "unassigned")
    if kind not in ASSIGNEE_KINDS:
        errors.append(f"{where}.kind: {kind!r} is not one of {', '.join(ASSIGNEE_KINDS)}")
        return {"kind": "unassigned"}
    if kind == "member":
        user_id = _int(raw.get("user_id"), f"{where}.user_id", 1, 2**63 - 1, errors)
        return {"kind": kind, "user_id": user_id}
    if kind in ("role", "round_robin", "owner"):  # owner: the role is the fallback
        role = raw.get("role")
        if role not in ROLES:
            errors.append(f"{where}.role: {role!r} is not one of {', '.join(ROLES)}")
        return {"kind": kind, "role": role}
    return {"kind": "unassigned"}


def _field_validate(raw: Any, where: str, errors: list[str]) -> dict:
    if not isinstance(raw, Mapping):
        errors.append(f"{where}: expected an object")
        return {}
    field = {
        "key": _key(raw.get("key"), f"{where}.key", errors),
        "label": _text(raw.get("label"), f"{where}.label", errors, high=200),
        "type": raw.get("type", "text"),
        "required": bool(raw.get("required", False)),
    }
    if field["type"] not in FIELD_TYPES:
        errors.append(f"{where}.type: {field['type']!r} is not one of {', '.join(FIELD_TYPES)}")
    if field["type"] == "choice":
        choices = raw.get("choices")
        if isinstance(choices, str):
            choices = [c.strip() for c in choices.split(",") if c.strip()]
        if not isinstance(choices, list) or not choices or len(choices) > 50:
            errors.append(f"{where}.choices: give 1–50 choices")
            choices = []
        field["choices"] = [_text(c, f"{where}.choices", errors, high=100) for c in choices]
        if len(set(field["choices"])) != len(field["choices"]):
            errors.append(f"{where}.choices: each choice once")
    if field["type"] == "rating":
        field["max"] = _int(raw.get("max", 5), f"{where}.max", 2, 10, errors) or 5
    return field


def condition_validate(
    raw: Any, where: str, errors: list[str], *, fields: Mapping[str, set[str]] | None = None
) -> dict | None:
    """A step's show/skip condition on an earlier answer: {step, field, op, value}."""
    if raw in (None, {}, ""):
        return None
    if not isinstance(raw, Mapping):
        errors.append(f"{where}: expected an object")
        return None
    step = _key(raw.get("step"), f"{where}.step", errors)
    field = _key(raw.get("field"), f"{where}.field", errors)
    op = raw.get("op", "eq")
    if op not in OPS:
        errors.append(f"{where}.op: {op!r} is not one of {', '.join(OPS)}")
    if fields is not None and step and field:
        if step not in fields:
            errors.append(f"{where}.step: {step!r} is not an earlier step")
        elif field not in fields[step]:
            errors.append(f"{where}.field: step {step!r} has no field {field!r}")
    return {"step": step, "field": field, "op": op, "value": raw.get("value", "")}


def steps_validate(raw: Any) -> list[dict]:
    """The cleaned steps of a template version, or DefinitionError listing every problem."""
    errors: list[str] = []
    if not isinstance(raw, list) or not raw:
        raise DefinitionError(["steps: a workflow needs at least one step"])
    if len(raw) > MAX_STEPS:
        raise DefinitionError([f"steps: at most {MAX_STEPS}"])
    steps: list[dict] = []
    earlier: dict[str, set[str]] = {}  # steps done before this one's group opens
    group: dict[str, set[str]] = {}  # the steps of the group this one joins
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, Mapping):
            errors.append(f"step {number}: expected an object")
            continue
        where = f"step {number}"
        key = _key(item.get("key"), f"{where}: key", errors)
        if key in earlier or key in group:
            errors.append(f"{where}: key: {key!r} is used by an earlier step")
        where = f"step {number} ({key})" if key else where
        parallel = _flag(item.get("parallel"), f"{where}: parallel", errors)
        if parallel and number == 1:
            errors.append(f"{where}: parallel: the first step has no step before it to run with")
            parallel = False
        if not parallel:  # a new group: the steps before it are done by the time it opens
            earlier.update(group)
            group = {}
        fields_raw = item.get("fields") or []
        if not isinstance(fields_raw, list) or len(fields_raw) > MAX_FIELDS:
            errors.append(f"{where}: fields: at most {MAX_FIELDS}")
            fields_raw = []
        fields = [
            _field_validate(f, f"{where}: field {i}", errors)
            for i, f in enumerate(fields_raw, start=1)
        ]
        field_keys = [f.get("key") for f in fields]
        if len(set(field_keys)) != len(field_keys):
            errors.append(f"{where}: fields: each key once")
        hours = item.get("deadline_hours")
        if hours in (None, ""):
            hours = None
        else:
            hours = _int(hours, f"{where}: deadline_hours", 0, MAX_HOURS, errors)
        deadline_from = item.get("deadline_from") or "previous"
        if deadline_from not in DEADLINE_FROM:
            errors.append(f"{where}: deadline_from: {deadline_from!r} is not start or previous")
        condition = condition_validate(
            item.get("condition"), f"{where}: condition", errors, fields=earlier
        )
        step = {
            "key": key,
            "title": _text(item.get("title"), f"{where}: title", errors, high=200),
            "assignee": assignee_validate(item.get("assignee"), f"{where}: assignee", errors),
            "deadline_hours": hours,
            "deadline_from": deadline_from,
            # counted in the workspace's business hours (plain hours when none are set)
            "deadline_business": _flag(
                item.get("deadline_business"), f"{where}: deadline_business", errors
            ),
            "fields": fields,
            "condition": condition,
            "escalate": None,
            "email": None,
        }
        cond = condition
        if cond and cond["step"] in group:  # open at the same time: its answers are not there yet
            errors.remove(f"{where}: condition.step: {cond['step']!r} is not an earlier step")
            errors.append(f"{where}: condition.step: {cond['step']!r} runs at the same time "
                          "as this step, not before it")  # fmt: skip
        if parallel:  # only written when set: versions saved before it read as sequential
            step["parallel"] = True
        if item.get("escalate"):
            step["escalate"] = assignee_validate(item["escalate"], f"{where}: escalate", errors)
        email = item.get("email")
        if email:
            if not isinstance(email, Mapping):
                errors.append(f"{where}: email: expected an object")
            else:
                step["email"] = {
                    "subject": _text(email.get("subject"), f"{where}: email.subject", errors, high=200),
                    "body": _text(email.get("body"), f"{where}: email.body", errors, high=5000),
                }  # fmt: skip
        steps.append(step)
        if key:
            group[key] = {k for k in field_keys if k}
    if errors:
        raise DefinitionError(errors)
    return steps


def step_groups(steps: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """The positions of the steps, grouped: a step marked ``parallel`` joins the group of the
    step before it (all of a group open at once); any other step starts a new group. Versions
    saved before parallel steps existed have no such key: one step per group, in order."""
    groups: list[list[int]] = []
    for i, step in enumerate(steps):
        if step.get("parallel") and groups:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def intake_fields_validate(raw: Any) -> list[dict]:
    """The fields of a template's intake form (its email field is always there, first)."""
    errors: list[str] = []
    if raw in (None, ""):
        raw = []
    if not isinstance(raw, list) or len(raw) > MAX_FIELDS:
        raise DefinitionError([f"intake fields: at most {MAX_FIELDS}"])
    fields = [_field_validate(f, f"intake field {i}", errors) for i, f in enumerate(raw, 1)]
    keys = [f.get("key") for f in fields]
    if "email" in keys or "name" in keys:
        errors.append("intake fields: email and name are asked already")
    if len(set(keys)) != len(keys):
        errors.append("intake fields: each key once")
    if errors:
        raise DefinitionError(errors)
    return fields


# ------------------------------------------------------------------ evaluation


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _comparable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


def compare(actual: Any, op: str, expected: Any) -> bool:
    """Whether ``actual op expected`` holds; numbers compare as numbers, the rest as text.
    A missing value (None) satisfies only ``neq`` and ``exists: false``."""
    kind_a, kind_e = type(actual), type(expected)
    if kind_a in _NUMBERS and kind_e in _NUMBERS:  # the common case, without conversions
        return _FAST[op](actual, expected) if op in _FAST else _compare(actual, op, expected)
    if kind_a is str and kind_e is str and op in ("eq", "neq"):
        if actual == expected:
            return op == "eq"
        if _wordy(actual) or _wordy(expected):  # not a number either way: text differs
            return op == "neq"
    return _compare(actual, op, expected)


def _wordy(text: str) -> bool:
    """Text that float() cannot read: starts with a letter other than those of inf/nan."""
    head = text.lstrip()[:1]
    return head.isalpha() and head not in "iInN"


_NUMBERS = {int, float}
_FAST = {
    "eq": lambda a, b: a == b, "neq": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b, "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
}  # fmt: skip


def _compare(actual: Any, op: str, expected: Any) -> bool:
    actual = _comparable(actual)
    if op == "exists":
        present = actual not in (None, "")
        return present == (expected not in (False, "false", "no", 0, "0"))
    if actual is None:
        return op == "neq"
    if op == "in":
        options = expected if isinstance(expected, list) else str(expected).split(",")
        return str(actual) in {str(o).strip() for o in options}
    if op == "contains":
        return str(expected).lower() in str(actual).lower()
    a, b = _number(actual), _number(expected)
    if a is None or b is None:
        a, b = str(actual), str(expected)  # type: ignore[assignment]
    if op == "eq":
        return a == b
    if op == "neq":
        return a != b
    if op == "lt":
        return a < b  # type: ignore[operator]
    if op == "lte":
        return a <= b  # type: ignore[operator]
    if op == "gt":
        return a > b  # type: ignore[operator]
    if op == "gte":
        return a >= b  # type: ignore[operator]
    raise ValueError(op)


def step_shown(condition: dict | None, answers: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether a step with ``condition`` runs, given earlier steps' answers (by step key)."""
    if not condition:
        return True
    actual = answers.get(condition["step"], {}).get(condition["field"])
    return compare(actual, condition["op"], condition["value"])


def describe_condition(condition: Mapping[str, Any]) -> str:
    field = condition.get("field") or ""
    if condition.get("step"):
        field = f"{condition['step']}.{field}"
    op = condition.get("op", "eq")
    if op == "exists":
        return (
            f"{field} is set" if compare("x", op, condition.get("value")) else f"{field} is not set"
        )
    return f"{field} {OP_WORDS.get(op, op)} {condition.get('value')}"


PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_.]{0,80})\}")


def fill(text: str, facts: Mapping[str, Any]) -> str:
    """``text`` with each ``{name}`` replaced by the fact of that name (left as is when unknown).
    Plain substitution, no expressions: a template cannot reach anything but the facts."""

    def one(match: re.Match) -> str:
        value = facts.get(match.group(1))
        return match.group(0) if value is None else str(value)

    return PLACEHOLDER.sub(one, text)
