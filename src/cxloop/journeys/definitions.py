"""Journey and funnel definitions: parsing, validation with clear errors, and rule matching.

Pure helpers (no database). A journey definition, as the API takes it and the web form builds it::

    {"name": "Retail", "description": "",
     "stages": ["Awareness", {"name": "Purchase", "description": "..."}],
     "touchpoints": [{"stage": "Awareness", "name": "Website", "channel": "web",
                      "rules": [{"event": "Home", "channel": "web",
                                 "conditions": [{"property": "path", "op": "eq", "value": "/"}]}]}]}

Stages are ordered as listed. A stage may carry a feedback condition,
``{"name": "Advocacy", "feedback": {"metric": "nps", "op": "gte", "value": 7}}``: a customer whose
latest score of that metric fails it is not placed at the stage (see ``journeys.stagerule``).
A rule matches an event with that name (page/screen name for views),
on that channel when one is given, whose properties satisfy every condition.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

OPS = {
    "eq": "equals",
    "neq": "does not equal",
    "gt": "greater than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "contains": "contains",
    "exists": "is present",
}
NUMBER_OPS = ("gt", "gte", "lt", "lte")
FEEDBACK_METRICS = {"nps": "NPS", "csat": "CSAT", "ces": "CES"}
FEEDBACK_OPS = {"gte": "≥", "lte": "≤"}
MAX_STAGES = 20
MAX_STEPS = 10


class DefinitionError(ValueError):
    """A journey or funnel definition that cannot be used; ``errors`` says what and where."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass(frozen=True, slots=True)
class Condition:
    property: str
    op: str
    value: Any = None

    def test(self, properties: Mapping) -> bool:
        actual = _lookup(properties, self.property)
        op = self.op
        if op == "exists":
            return actual is not None
        if op == "neq":
            return actual is None or not _equal(actual, self.value)
        if actual is None:
            return False
        if op == "eq":
            return _equal(actual, self.value)
        if op in NUMBER_OPS:
            number = _as_number(actual)
            if number is None:
                return False
            return _compare(number, op, self.value)
        # contains: substring of text (case-insensitive), or an item of a list
        if isinstance(actual, list):
            return any(_equal(item, self.value) for item in actual)
        return str(self.value).lower() in str(actual).lower()

    def label(self) -> str:
        if self.op == "exists":
            return f"{self.property} is present"
        return f"{self.property} {OPS[self.op]} {show_value(self.value)}"


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """Which events count: ``event`` name, optional ``channel``, every condition true."""

    event: str
    channel: str = ""
    conditions: tuple[Condition, ...] = ()

    def matches(self, name: str, channel: str, properties: Mapping | None) -> bool:
        if name != self.event or (self.channel and channel != self.channel):
            return False
        return all(c.test(properties or {}) for c in self.conditions)

    def label(self) -> str:
        text = self.event + (f" on {self.channel}" if self.channel else "")
        if self.conditions:
            text += " where " + " and ".join(c.label() for c in self.conditions)
        return text

    def as_dict(self) -> dict:
        return {
            "event": self.event,
            "channel": self.channel,
            "conditions": [
                {"property": c.property, "op": c.op, "value": c.value} for c in self.conditions
            ],
        }


@dataclass(slots=True)
class TouchpointSpec:
    stage: str
    name: str
    channel: str = ""
    rules: list[RuleSpec] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FeedbackCondition:
    """What a customer's latest score of ``metric`` must satisfy to be placed at a stage."""

    metric: str  # nps | csat | ces
    op: str  # gte | lte
    value: int

    def holds(self, score: float) -> bool:
        return _compare(score, self.op, self.value)

    def label(self) -> str:
        return f"latest {FEEDBACK_METRICS[self.metric]} {FEEDBACK_OPS[self.op]} {self.value}"

    def as_dict(self) -> dict:
        return {"metric": self.metric, "op": self.op, "value": self.value}


@dataclass(slots=True)
class StageSpec:
    name: str
    description: str = ""
    feedback: FeedbackCondition | None = None


@dataclass(slots=True)
class JourneySpec:
    name: str
    description: str
    stages: list[StageSpec]
    touchpoints: list[TouchpointSpec]


def parse_rule(raw: object, where: str) -> RuleSpec:
    """One rule from ``{"event", "channel", "conditions"}`` (or a bare event name)."""
    errors: list[str] = list(_nul_errors(raw, where))
    rule = None if errors else _rule(raw, where, errors)
    if errors or rule is None:
        raise DefinitionError(errors)
    return rule


def parse_steps(raw_steps: object) -> list[RuleSpec]:
    """Funnel steps: a list of 2..10 rules (event names or rule objects), in order."""
    if not isinstance(raw_steps, list | tuple):
        raise DefinitionError(["steps: give a list of events, e.g. ['Product Viewed', ...]"])
    errors: list[str] = []
    steps = []
    if len(raw_steps) < 2:
        errors.append("steps: a funnel needs at least 2 steps")
    if len(raw_steps) > MAX_STEPS:
        errors.append(f"steps: at most {MAX_STEPS} steps ({len(raw_steps)} given)")
    for index, raw in enumerate(raw_steps):
        rule = _rule(raw, f"steps[{index}]", errors)
        if rule is not None:
            steps.append(rule)
    if errors:
        raise DefinitionError(errors)
    return steps


FUNNEL_MODES = {
    "ordered": "In order",
    "strict": "In order, nothing in between",
    "any": "In any order",
}


@dataclass(frozen=True, slots=True)
class ExclusionSpec:
    """Customers doing ``step`` strictly between funnel steps ``after`` and ``after + 1``
    (1-based) do not convert past step ``after``."""

    step: RuleSpec
    after: int

    def label(self) -> str:
        return f"without {self.step.label()} between step {self.after} and {self.after + 1}"


def parse_mode(raw: object, steps: list[RuleSpec]) -> str:
    """A funnel mode (ordered, strict, any); in any order no two steps may be the same."""
    mode = raw or "ordered"
    if mode not in FUNNEL_MODES:
        raise DefinitionError(
            [f"mode: {mode!r} is not a mode; use one of {', '.join(FUNNEL_MODES)}"]
        )
    if mode == "any" and len(set(steps)) < len(steps):
        raise DefinitionError(
            ["mode: in any order each step must differ (the same step twice needs the order)"]
        )
    return str(mode)


def parse_exclusions(raw: object, *, steps: int) -> list[ExclusionSpec]:
    """Exclusion steps: a list of ``{event, channel, conditions, after}``, ``after`` being the
    step (1..steps-1) after which, and before the next one, the event must not happen."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list | tuple):
        raise DefinitionError(["exclusions: expected a list of {event, after}"])
    errors: list[str] = []
    found = []
    for index, item in enumerate(raw):
        where = f"exclusions[{index}]"
        if not isinstance(item, Mapping):
            errors.append(f"{where}: expected {{event, channel, conditions, after}}")
            continue
        after = item.get("after")
        if isinstance(after, bool) or not isinstance(after, int) or not 1 <= after < steps:
            errors.append(f"{where}.after: give a step number from 1 to {steps - 1}")
        rule = _rule({k: v for k, v in item.items() if k != "after"}, where, errors)
        if rule is not None and isinstance(after, int) and not errors:
            found.append(ExclusionSpec(rule, after))
    if errors:
        raise DefinitionError(errors)
    return found


def parse_journey(raw: object) -> JourneySpec:
    """Validate a whole journey definition; every problem is reported, each with its place."""
    if not isinstance(raw, Mapping):
        raise DefinitionError(["journey: expected an object with name, stages and touchpoints"])
    nul = list(_nul_errors(raw, ""))
    if nul:  # no database stores them; say where they are rather than fail later
        raise DefinitionError(nul)
    errors: list[str] = []
    name = _text(raw.get("name"), "name", errors, required=True, limit=200)
    description = _text(raw.get("description"), "description", errors, limit=5000)

    stages: list[StageSpec] = []
    raw_stages = raw.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        errors.append("stages: list at least one stage, in order (e.g. Awareness, Purchase)")
        raw_stages = []
    if len(raw_stages) > MAX_STAGES:
        errors.append(f"stages: at most {MAX_STAGES} stages ({len(raw_stages)} given)")
    first_at: dict[str, int] = {}
    for index, item in enumerate(raw_stages):
        where = f"stages[{index}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, Mapping):
            errors.append(f"{where}: expected a stage name or {{name, description}}")
            continue
        stage_name = _text(item.get("name"), f"{where}.name", errors, required=True, limit=100)
        if not stage_name:
            continue
        key = stage_name.casefold()
        if key in first_at:
            errors.append(
                f"{where}: stage {stage_name!r} is already stage {first_at[key] + 1}; stages are "
                "ordered, so a journey cannot go back to an earlier stage (cycle)"
            )
            continue
        first_at[key] = index
        desc = _text(item.get("description"), f"{where}.description", errors, limit=500)
        feedback = parse_feedback(item.get("feedback"), f"{where}.feedback", errors)
        stages.append(StageSpec(name=stage_name, description=desc, feedback=feedback))

    by_key = {s.name.casefold(): s.name for s in stages}
    touchpoints: list[TouchpointSpec] = []
    raw_touchpoints = raw.get("touchpoints", [])
    if not isinstance(raw_touchpoints, list):
        errors.append("touchpoints: expected a list")
        raw_touchpoints = []
    seen: dict[tuple[str, str], int] = {}
    for index, item in enumerate(raw_touchpoints):
        where = f"touchpoints[{index}]"
        if not isinstance(item, Mapping):
            errors.append(f"{where}: expected {{stage, name, channel, rules}}")
            continue
        stage_ref = _text(item.get("stage"), f"{where}.stage", errors, required=True, limit=100)
        tp_name = _text(item.get("name"), f"{where}.name", errors, required=True, limit=100)
        channel = _text(item.get("channel"), f"{where}.channel", errors, limit=32).lower()
        stage = by_key.get(stage_ref.casefold()) if stage_ref else None
        if stage_ref and stage is None:
            known = ", ".join(s.name for s in stages) or "none"
            errors.append(f"{where}.stage: unknown stage {stage_ref!r} (stages: {known})")
        raw_rules = item.get("rules")
        if not isinstance(raw_rules, list) or not raw_rules:
            errors.append(
                f"{where}.rules: a touchpoint needs at least one rule "
                "(the event that means a customer used it)"
            )
            raw_rules = []
        rules = [
            rule
            for r, raw_rule in enumerate(raw_rules)
            if (rule := _rule(raw_rule, f"{where}.rules[{r}]", errors)) is not None
        ]
        if stage and tp_name:
            tp_key = (stage.casefold(), tp_name.casefold())
            if tp_key in seen:
                errors.append(
                    f"{where}: touchpoint {tp_name!r} is already defined in stage {stage!r} "
                    f"(touchpoints[{seen[tp_key]}]); put all its rules there"
                )
                continue
            seen[tp_key] = index
            touchpoints.append(TouchpointSpec(stage, tp_name, channel, rules))
    used = {tp.stage.casefold() for tp in touchpoints}
    for spec in stages:
        if spec.name.casefold() not in used and not any("touchpoints[" in e for e in errors):
            errors.append(
                f"stage {spec.name!r} has no touchpoints: add one with a rule, "
                "or nobody can ever reach it"
            )
    if errors:
        raise DefinitionError(errors)
    return JourneySpec(name, description, stages, touchpoints)


def parse_feedback(raw: object, where: str, errors: list[str]) -> FeedbackCondition | None:
    """A stage's feedback condition (``None``/``{}``: none); problems go to ``errors``."""
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, Mapping):
        errors.append(f"{where}: expected {{metric, op, value}}")
        return None
    metric, op, value = raw.get("metric"), raw.get("op", "gte"), raw.get("value")
    problems = len(errors)
    if metric not in FEEDBACK_METRICS:
        errors.append(f"{where}.metric: unknown metric {metric!r}; use one of nps, csat, ces")
    if op not in FEEDBACK_OPS:
        errors.append(f"{where}.op: unknown operator {op!r}; use gte (at least) or lte (at most)")
    number = _as_number(value)
    if number is None or not number.is_integer() or not 0 <= number <= 10:
        errors.append(f"{where}.value: give a whole score from 0 to 10, not {value!r}")
    if len(errors) > problems:
        return None
    return FeedbackCondition(str(metric), str(op), int(number or 0))


def _compare(number: float, op: str, value: float) -> bool:
    if op == "gt":
        return number > value
    if op == "gte":
        return number >= value
    if op == "lt":
        return number < value
    return number <= value


def _rule(raw: object, where: str, errors: list[str]) -> RuleSpec | None:
    if isinstance(raw, str):
        raw = {"event": raw}
    if not isinstance(raw, Mapping):
        errors.append(f"{where}: expected an event name or {{event, channel, conditions}}")
        return None
    unknown = set(raw) - {"event", "channel", "conditions"}
    if unknown:
        errors.append(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    event = raw.get("event")
    if not isinstance(event, str) or not event.strip():
        errors.append(
            f"{where}.event: empty rule: give the event name (or page/screen name) it matches"
        )
        return None
    if len(event.strip()) > 200:
        errors.append(f"{where}.event: at most 200 characters")
    channel = _text(raw.get("channel"), f"{where}.channel", errors, limit=32).lower()
    raw_conditions = raw.get("conditions") or []
    if not isinstance(raw_conditions, list):
        errors.append(f"{where}.conditions: expected a list of {{property, op, value}}")
        raw_conditions = []
    conditions = []
    for index, item in enumerate(raw_conditions):
        condition = _condition(item, f"{where}.conditions[{index}]", errors)
        if condition is not None:
            conditions.append(condition)
    return RuleSpec(event=event.strip(), channel=channel, conditions=tuple(conditions))


def _condition(raw: object, where: str, errors: list[str]) -> Condition | None:
    if not isinstance(raw, Mapping):
        errors.append(f"{where}: expected {{property, op, value}}")
        return None
    prop = raw.get("property")
    if not isinstance(prop, str) or not prop.strip():
        errors.append(f"{where}.property: name the event property to test")
        return None
    op = raw.get("op", "eq")
    if op not in OPS:
        errors.append(f"{where}.op: unknown operator {op!r}; use one of {', '.join(OPS)}")
        return None
    value = raw.get("value")
    if op == "exists":
        return Condition(prop.strip(), op)
    if value is None or value == "":
        errors.append(f"{where}.value: operator {op!r} needs a value")
        return None
    if op in NUMBER_OPS:
        number = _as_number(value)
        if number is None:
            errors.append(f"{where}.value: operator {op!r} needs a number, not {value!r}")
            return None
        value = number
    elif not isinstance(value, str | int | float | bool):
        errors.append(f"{where}.value: expected text, a number or true/false")
        return None
    return Condition(prop.strip(), op, value)


def _nul_errors(raw: object, where: str, depth: int = 0) -> Iterator[str]:
    """``where: null characters are not allowed`` for each text holding one (keys included)."""
    if depth > 20:
        return
    if isinstance(raw, str):
        if "\x00" in raw:
            yield f"{where or 'value'}: null characters are not allowed"
    elif isinstance(raw, Mapping):
        for key, value in raw.items():
            place = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and "\x00" in key:
                yield f"{where or 'value'}: null characters are not allowed"
            else:
                yield from _nul_errors(value, place, depth + 1)
    elif isinstance(raw, list | tuple):
        for index, item in enumerate(raw):
            yield from _nul_errors(item, f"{where}[{index}]", depth + 1)


def _text(value: object, where: str, errors: list[str], *, required=False, limit=200) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.append(f"{where}: expected text")
        return ""
    value = value.strip()
    if required and not value:
        errors.append(f"{where}: required")
    elif len(value) > limit:
        errors.append(f"{where}: at most {limit} characters")
        return value[:limit]
    return value


def show_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _lookup(properties: Mapping, path: str) -> Any:
    value: Any = properties
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _equal(actual: object, wanted: object) -> bool:
    # True is not 1 here (Python says it is): a flag and a count are different answers
    if actual == wanted and isinstance(actual, bool) == isinstance(wanted, bool):
        return True
    a, w = _as_number(actual), _as_number(wanted)
    if a is not None and w is not None:
        return a == w
    return str(actual).casefold() == str(wanted).casefold()
