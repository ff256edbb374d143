"""Segment definitions: the JSON a saved filter is made of, and its strict validation (pure).

A definition is a group: ``{"all": [...]}`` (every condition holds) or ``{"any": [...]}`` (at
least one holds). Items are conditions or nested groups:

* trait: ``{"trait": "loyalty_tier", "op": "eq", "value": "gold"}``; ops ``eq neq gt gte lt lte
  contains exists`` (``exists`` takes an optional boolean value, default true);
* event: ``{"event": "Order Completed", "did": false, "within_days": 60, "channel": "web",
  "min_count": 2, "where": {"property": "reason", "op": "eq", "value": "expired"}}``;
  ``within_days`` (optional) counts back from the as-of time (the workspace's latest event, else
  now), or ``date_from``/``date_to`` (optional, inclusive UTC days) bound the events instead;
  ``min_count`` defaults to 1, ``where`` (optional) is one property condition the events
  must meet (the journey rules' conditions, ``journeys.definitions``);
* score: ``{"score": "nps", "op": "lte", "value": 6, "within_days": 90}``: the customer's latest
  survey score (``nps`` 0–10, ``csat`` 0–10, ``ces`` 1–7), with ``within_days`` the latest one
  answered in that window;
* stage: ``{"stage": "Onboarding", "journey": 3}`` (journey id or name): the customer's current
  stage in a journey map;
* prediction: ``{"prediction": "churn_risk", "op": "gte", "value": 0.5}``: the customer's latest
  score (``clv``, ``churn_risk`` and ``p_alive`` as 0–1, ``expected_purchases_30/90/365``,
  ``value_at_risk``); ops ``gt gte lt lte``; customers never scored do not match.
* theme: ``{"theme": 12, "sentiment": "negative", "date_from": "2025-03-01", "date_to":
  "2025-03-31", "channel": "web"}``: the customer wrote a text carrying text theme 12 (its id)
  in those days (inclusive, UTC; either end optional), with that sentiment and on that channel
  when given; answered by the text app (``segments/texts.py``).

:func:`definition_validate` returns a cleaned copy or raises :class:`SegmentDefinitionError` listing
every problem with where it is ("condition 2: ...", nested: "condition 2.1: ...").
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from cxloop.journeys.definitions import Condition, DefinitionError, parse_rule

GROUPS = ("all", "any")
TRAIT_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "contains", "exists")
SCORE_OPS = ("eq", "neq", "gt", "gte", "lt", "lte")
SCORES = {"nps": (0, 10), "csat": (0, 10), "ces": (1, 7)}
# the latest prediction a condition may compare, with its bounds (None: unbounded) and its words
PREDICTIONS = {
    "clv": (0, None, "CLV"),
    "churn_risk": (0, 1, "churn risk"),
    "p_alive": (0, 1, "P(active)"),
    "expected_purchases_30": (0, None, "expected purchases in 30 days"),
    "expected_purchases_90": (0, None, "expected purchases in 90 days"),
    "expected_purchases_365": (0, None, "expected purchases in 365 days"),
    "value_at_risk": (0, None, "value at risk"),
}
PREDICTION_OPS = ("gt", "gte", "lt", "lte")
KINDS = ("trait", "event", "score", "stage", "prediction", "theme")
SENTIMENTS = ("positive", "neutral", "negative")
MAX_CONDITIONS = 50
MAX_DEPTH = 3
MAX_DAYS = 3650
EARLIEST, LATEST = date(1971, 1, 1), date(2200, 12, 31)
_TRAIT_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\- .]{0,99}")
_ALLOWED = {
    "trait": {"trait", "op", "value"},
    "event": {
        "event",
        "did",
        "within_days",
        "date_from",
        "date_to",
        "channel",
        "min_count",
        "where",
    },
    "score": {"score", "op", "value", "within_days"},
    "stage": {"stage", "journey"},
    "prediction": {"prediction", "op", "value"},
    "theme": {"theme", "sentiment", "date_from", "date_to", "channel"},
}


class SegmentDefinitionError(ValueError):
    """A definition that cannot be used; ``errors`` says what is wrong and where."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


def definition_validate(definition: object) -> dict:
    """A cleaned copy of ``definition``, or SegmentDefinitionError naming every bad condition."""
    errors: list[str] = []
    cleaned = _group(definition, "definition", errors, depth=1)
    if not errors and _count(cleaned) > MAX_CONDITIONS:
        errors.append(f"definition: at most {MAX_CONDITIONS} conditions")
    if errors:
        raise SegmentDefinitionError(errors)
    return cleaned


def condition_kind(condition: dict) -> str | None:
    """Which kind of condition (trait, event, score, stage, prediction, theme) a dict is, or
    None for a group."""
    return next((kind for kind in KINDS if kind in condition), None)


def describe(definition: dict) -> str:
    """A short English reading of a (valid) definition, for lists and tooltips."""
    return _describe_group(definition, top=True)


def _count(group: dict) -> int:
    items = next(iter(group.values()))
    return sum(_count(item) if condition_kind(item) is None else 1 for item in items)


def _group(value: object, where: str, errors: list[str], depth: int) -> dict:
    if not isinstance(value, dict):
        errors.append(f'{where}: must be an object like {{"all": [...]}} or {{"any": [...]}}')
        return {}
    keys = set(value)
    if len(keys) != 1 or not keys <= set(GROUPS):
        errors.append(f'{where}: must have exactly one key, "all" or "any" (got {sorted(keys)})')
        return {}
    mode = next(iter(keys))
    items = value[mode]
    if not isinstance(items, list):
        errors.append(f'{where}: "{mode}" must be a list of conditions')
        return {}
    cleaned = []
    for index, item in enumerate(items, start=1):
        here = f"condition {index}" if where == "definition" else f"{where}.{index}"
        if isinstance(item, dict) and set(item) & set(GROUPS) and condition_kind(item) is None:
            if depth >= MAX_DEPTH:
                errors.append(f"{here}: groups nest at most {MAX_DEPTH} levels deep")
                continue
            cleaned.append(_group(item, here, errors, depth + 1))
        else:
            cleaned.append(_condition(item, here, errors))
    return {mode: cleaned}


def _condition(item: object, where: str, errors: list[str]) -> dict:
    if not isinstance(item, dict):
        errors.append(f"{where}: must be an object, got {type(item).__name__}")
        return {}
    kinds = [kind for kind in KINDS if kind in item]
    if len(kinds) != 1:
        errors.append(
            f"{where}: must have exactly one of "
            + ", ".join(f'"{kind}"' for kind in KINDS)
            + (f" (got {', '.join(kinds)})" if kinds else f" (got keys {sorted(item)})")
        )
        return {}
    kind = kinds[0]
    unknown = set(item) - _ALLOWED[kind]
    if unknown:
        errors.append(
            f"{where} ({kind}): unknown field{'s' if len(unknown) > 1 else ''} "
            + ", ".join(f'"{key}"' for key in sorted(unknown))
        )
    before = len(errors)
    check = {
        "trait": _trait,
        "event": _event,
        "score": _score,
        "stage": _stage,
        "prediction": _prediction,
        "theme": _theme,
    }[kind]
    cleaned = check(item, f"{where} ({kind})", errors)
    return cleaned if len(errors) == before else {}


def _trait(item: dict, where: str, errors: list[str]) -> dict:
    key = item["trait"]
    if not isinstance(key, str) or not key.strip():
        errors.append(f"{where}: trait name is empty")
        return {}
    key = key.strip()
    if not _TRAIT_KEY.fullmatch(key) or "__" in key:
        errors.append(
            f"{where}: trait name {key!r} must start with a letter and use letters, digits, "
            "spaces, '-', '.' or single '_' only"
        )
        return {}
    op = item.get("op", "eq")
    if op not in TRAIT_OPS:
        errors.append(f"{where}: unknown operator {op!r} for trait {key!r}; use {_or(TRAIT_OPS)}")
        return {}
    value = item.get("value")
    if op == "exists":
        value = True if value is None else value
        if not isinstance(value, bool):
            errors.append(f"{where}: 'exists' takes true or false, got {value!r}")
            return {}
    elif op == "contains":
        if not isinstance(value, str) or not value.strip():
            errors.append(f"{where}: 'contains' needs some text to look for in trait {key!r}")
            return {}
    elif op in ("gt", "gte", "lt", "lte"):
        if isinstance(value, bool) or not isinstance(value, int | float | str) or value == "":
            errors.append(f"{where}: {op!r} needs a number (or a date like 2025-01-31)")
            return {}
        value = _maybe_number(value)
    elif isinstance(value, list | dict) or value is None or value == "":
        errors.append(f"{where}: {op!r} needs a value (text, number or true/false)")
        return {}
    return {"trait": key, "op": op, "value": value}


def _event(item: dict, where: str, errors: list[str]) -> dict:
    name = item["event"]
    if not isinstance(name, str) or not name.strip():
        errors.append(f"{where}: event name is empty")
        return {}
    name = name.strip()
    did = item.get("did", True)
    if not isinstance(did, bool):
        errors.append(f"{where}: 'did' must be true or false, got {did!r}")
    cleaned: dict[str, Any] = {"event": name, "did": did}
    _within_days(item, where, errors, cleaned)
    if (
        _day_range(item, where, errors, cleaned)
        and "within_days" in cleaned
        and ("date_from" in cleaned or "date_to" in cleaned)
    ):
        errors.append(f"{where}: use within_days or date_from/date_to, not both")
    channel = item.get("channel")
    if channel not in (None, ""):
        if not isinstance(channel, str) or len(channel.strip()) > 32:
            errors.append(f"{where}: channel must be a channel name such as 'web' or 'store'")
        else:
            cleaned["channel"] = channel.strip().lower()
    count = item.get("min_count")
    if count not in (None, ""):
        count = _integer(count)
        if count is None or count < 1:
            errors.append(f"{where}: min_count must be a whole number of at least 1")
        else:
            cleaned["min_count"] = count
    if item.get("where") not in (None, {}):
        try:
            rule = parse_rule({"event": name, "conditions": [item["where"]]}, where)
        except DefinitionError as exc:
            errors.extend(e.replace(f"{where}.conditions[0]", f"{where}.where") for e in exc.errors)
        else:
            condition = rule.conditions[0]
            cleaned["where"] = {"property": condition.property, "op": condition.op}
            if condition.op != "exists":
                cleaned["where"]["value"] = condition.value
    return cleaned


def _within_days(item: dict, where: str, errors: list[str], cleaned: dict) -> None:
    """Check an optional ``within_days`` (a window counted back from the as-of time)."""
    days = item.get("within_days")
    if days in (None, ""):
        return
    days = _integer(days)
    if days is None:
        errors.append(f"{where}: within_days must be a whole number of days")
    elif days < 0:
        errors.append(f"{where}: within_days must not be negative (got {days})")
    elif days > MAX_DAYS:
        errors.append(f"{where}: within_days must be at most {MAX_DAYS}")
    else:
        cleaned["within_days"] = days


def _score(item: dict, where: str, errors: list[str]) -> dict:
    score = item["score"]
    if score not in SCORES:
        errors.append(f"{where}: unknown score {score!r}; use {_or(SCORES)}")
        return {}
    op = item.get("op", "eq")
    if op not in SCORE_OPS:
        errors.append(f"{where}: unknown operator {op!r} for score; use {_or(SCORE_OPS)}")
        return {}
    value = _maybe_number(item.get("value"))
    low, high = SCORES[score]
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.append(f"{where}: {score} score needs a number, got {item.get('value')!r}")
        return {}
    if not low <= value <= high:
        errors.append(f"{where}: {score} score must be between {low} and {high}, got {value}")
        return {}
    cleaned = {"score": score, "op": op, "value": value}
    _within_days(item, where, errors, cleaned)
    return cleaned


def _stage(item: dict, where: str, errors: list[str]) -> dict:
    stage = item["stage"]
    if not isinstance(stage, str) or not stage.strip():
        errors.append(f"{where}: stage name is empty")
        return {}
    journey = item.get("journey")
    if isinstance(journey, str) and journey.strip().isdigit():
        journey = int(journey)
    if isinstance(journey, str):
        journey = journey.strip()
    if isinstance(journey, bool) or not journey or not isinstance(journey, int | str):
        errors.append(f"{where}: name the journey (its id or name) the stage {stage!r} belongs to")
        return {}
    return {"stage": stage.strip(), "journey": journey}


def _prediction(item: dict, where: str, errors: list[str]) -> dict:
    name = item["prediction"]
    if not isinstance(name, str) or name not in PREDICTIONS:
        errors.append(f"{where}: unknown prediction {name!r}; use {_or(PREDICTIONS)}")
        return {}
    op = item.get("op", "gte")
    if op not in PREDICTION_OPS:
        errors.append(f"{where}: unknown operator {op!r} for {name}; use {_or(PREDICTION_OPS)}")
        return {}
    value = _maybe_number(item.get("value"))
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.append(f"{where}: {name} needs a number, got {item.get('value')!r}")
        return {}
    low, high, _ = PREDICTIONS[name]
    if value < low or (high is not None and value > high):
        limits = f"between {low} and {high}" if high is not None else f"at least {low}"
        hint = " (a share: 0.5 means 50%)" if high == 1 else ""
        errors.append(f"{where}: {name} must be {limits}{hint}, got {value}")
        return {}
    return {"prediction": name, "op": op, "value": value}


def _theme(item: dict, where: str, errors: list[str]) -> dict:
    theme = _integer(item["theme"])
    if theme is None or theme < 1 or theme > 2**63 - 1:
        errors.append(
            f"{where}: theme must be a theme's id (a whole number), got {item['theme']!r}"
        )
        return {}
    cleaned: dict[str, Any] = {"theme": theme}
    sentiment = item.get("sentiment")
    if sentiment not in (None, ""):
        if sentiment not in SENTIMENTS:
            errors.append(f"{where}: sentiment must be {_or(SENTIMENTS)}, got {sentiment!r}")
            return {}
        cleaned["sentiment"] = sentiment
    if not _day_range(item, where, errors, cleaned):
        return {}
    channel = item.get("channel")
    if channel not in (None, ""):
        if not isinstance(channel, str) or len(channel.strip()) > 32:
            errors.append(f"{where}: channel must be a channel name such as 'web' or 'store'")
            return {}
        cleaned["channel"] = channel.strip()
    return cleaned


def _day_range(item: dict, where: str, errors: list[str], cleaned: dict) -> bool:
    """Check optional ``date_from``/``date_to`` (inclusive UTC days) into ``cleaned``; False
    (with the error added) when one is not a day or they are the wrong way round."""
    days = {}
    for name in ("date_from", "date_to"):
        value = item.get(name)
        if value in (None, ""):
            continue
        try:
            day = date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            day = None
        if day is None or not EARLIEST <= day <= LATEST:
            errors.append(f"{where}: {name} must be a day like 2025-03-31 ({EARLIEST}–{LATEST})")
            return False
        days[name] = day
        cleaned[name] = day.isoformat()
    if len(days) == 2 and days["date_from"] > days["date_to"]:
        errors.append(f"{where}: date_from {days['date_from']} is after date_to {days['date_to']}")
        return False
    return True


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _maybe_number(value: object) -> object:
    """Numbers typed as text ("6", "2.5") become numbers; other text stays text."""
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if re.fullmatch(r"-?\d*\.\d+", text):
            return float(text)
        return text
    return value


def _or(options) -> str:
    options = list(options)
    return ", ".join(options[:-1]) + " or " + options[-1]


_OP_WORDS = {
    "eq": "is",
    "neq": "is not",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "contains": "contains",
}


def _describe_group(group: dict, *, top: bool = False) -> str:
    mode, items = next(iter(group.items()))
    parts = [
        _describe_group(item) if condition_kind(item) is None else describe_condition(item)
        for item in items
    ]
    if not parts:
        return "every customer" if mode == "all" else "nobody"
    text = (" and " if mode == "all" else " or ").join(parts)
    return text if top or len(parts) == 1 else f"({text})"


def describe_condition(condition: dict) -> str:
    """One condition in words: ``loyalty_tier is gold``, ``did not do Order Completed in 60 days``."""
    kind = condition_kind(condition)
    if kind == "trait":
        if condition["op"] == "exists":
            return f"{condition['trait']} is {'set' if condition['value'] else 'not set'}"
        return f"{condition['trait']} {_OP_WORDS[condition['op']]} {condition['value']}"
    if kind == "event":
        count = condition.get("min_count", 1)
        times = f" at least {count} times" if count > 1 else ""
        where = f" on {condition['channel']}" if condition.get("channel") else ""
        when = f" in the last {condition['within_days']} days" if "within_days" in condition else ""
        if "date_from" in condition or "date_to" in condition:
            when = f" from {condition.get('date_from', 'the start')} to {condition.get('date_to', 'now')}"
        verb = "did" if condition["did"] else "did not do"
        if "where" in condition:
            test = condition["where"]
            where += " with " + Condition(test["property"], test["op"], test.get("value")).label()
        return f"{verb} {condition['event']}{times}{where}{when}"
    if kind == "score":
        when = f" in the last {condition['within_days']} days" if "within_days" in condition else ""
        words = _OP_WORDS[condition["op"]]
        return f"latest {condition['score'].upper()} {words} {condition['value']}{when}"
    if kind == "stage":
        return f"at stage {condition['stage']} of journey {condition['journey']}"
    if kind == "prediction":
        name, value = condition["prediction"], condition["value"]
        shown = f"{value * 100:g}%" if PREDICTIONS[name][1] == 1 else f"{value:g}"
        return f"{PREDICTIONS[name][2]} {_OP_WORDS[condition['op']]} {shown}"
    if kind == "theme":
        mood = f"a {condition['sentiment']} text" if "sentiment" in condition else "a text"
        where = f" on {condition['channel']}" if condition.get("channel") else ""
        start, end = condition.get("date_from"), condition.get("date_to")
        when = (
            f" from {start} to {end}"
            if start and end
            else f" from {start}"
            if start
            else f" until {end}"
            if end
            else ""
        )
        return f"wrote {mood} on theme {condition['theme']}{where}{when}"
    return "?"
