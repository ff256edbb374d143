"""What the rule editor offers for segment, stage, sentiment and theme conditions and for the
"add to segment" action: the workspace's choices as (value, label) pairs, each row's value
select and operators, and each domain error put at its row's field."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cxloop.journeys import selectors as journey_selectors
from cxloop.segments import selectors as segment_selectors
from cxloop.text import selectors as text_selectors
from cxloop.workflows.definition import OPS
from cxloop.workflows.ruledefs import (
    FACTS,
    NO_CUSTOMER,
    PREDICTION_FACTS,
    SCORE_OPS,
    SENTIMENT_LABELS,
    TEXT_FACTS,
)

ROW_ERROR = re.compile(r"^(condition|action) (\d+): ([a-z_]+): (.+)$")
MEMBER_WORDS = {
    "in_segment": (("eq", "is in"), ("neq", "is not in")),
    "stage": (("eq", "is"), ("neq", "is not")),
    "reached": (("eq", "has reached"), ("neq", "has not reached")),
    "sentiment": (("eq", "is"), ("neq", "is not")),
    "theme": (("eq", "mentions"), ("neq", "does not mention")),
}


@dataclass
class EditorChoices:
    segments: list[tuple[int, str]]
    stages: dict[int, list[tuple[int, str]]]  # map id -> its stages, first first
    themes: list[tuple[int, str]]
    facts: list[tuple[str, str]] = field(default_factory=list)  # the field list's suggestions


def editor_choices(workspace, trigger: str) -> EditorChoices:
    segments = [(s.pk, s.name) for s in segment_selectors.segment_list(workspace=workspace)]
    maps = journey_selectors.stage_choices(workspace=workspace)
    themes = (
        text_selectors.theme_choices(workspace=workspace) if trigger == "response_received" else []
    )
    facts = list(FACTS.get(trigger, {}).items())
    if trigger not in NO_CUSTOMER:
        facts.append(("in_segment", "customer is in a saved segment"))
        for journey, _ in maps:
            facts.append((f"stage.{journey.pk}", f"stage in {journey.name}"))
            facts.append((f"reached.{journey.pk}", f"reached a stage of {journey.name}"))
    if trigger == "response_received":
        facts.extend(TEXT_FACTS.items())
    facts.extend(PREDICTION_FACTS.items())
    return EditorChoices(
        segments=segments,
        stages={j.pk: [(s.pk, s.name) for s in stages] for j, stages in maps},
        themes=themes, facts=facts,
    )  # fmt: skip


def _value_choices(name: str, choices: EditorChoices) -> list[tuple[Any, str]] | None:
    kind, _, journey = name.partition(".")
    if name == "in_segment":
        return choices.segments
    if name == "theme":
        return choices.themes
    if name == "sentiment":
        return [(label, label) for label in SENTIMENT_LABELS]
    if kind in ("stage", "reached") and journey.isdigit():
        return choices.stages.get(int(journey), [])
    return None


def row_errors(errors: Sequence[str]) -> dict[tuple[str, int], dict[str, str]]:
    """("condition", 1) -> {"value": "no saved segment 9 here"}: the first error of each
    field of each row, from lines like ``condition 1: value: …``."""
    found: dict[tuple[str, int], dict[str, str]] = {}
    for line in errors:
        match = ROW_ERROR.match(line)
        if match:
            where = found.setdefault((match[1], int(match[2])), {})
            where.setdefault(match[3], match[4])
    return found


def condition_rows(
    conditions: Sequence[Mapping[str, Any]], choices: EditorChoices, errors: Sequence[str]
) -> list[dict]:
    """Each condition as the editor draws it: its value choices (None: typed), its operators
    as (op, words), and its errors by field."""
    at = row_errors(errors)
    rows = []
    for number, condition in enumerate(conditions, start=1):
        name = str(condition.get("field") or "")
        kind = name.partition(".")[0]
        ops: Sequence[tuple[str, str]] = [(o, o) for o in OPS]
        if kind in MEMBER_WORDS and (name in MEMBER_WORDS or kind in ("stage", "reached")):
            ops = MEMBER_WORDS[kind]
        elif name == "sentiment_score":
            ops = [(o, o) for o in SCORE_OPS]
        rows.append({**condition, "choices": _value_choices(name, choices), "ops": ops,
                     "errors": at.get(("condition", number), {})})  # fmt: skip
    return rows


def action_rows(actions: Sequence[Mapping[str, Any]], errors: Sequence[str]) -> list[dict]:
    at = row_errors(errors)
    return [{**a, "errors": at.get(("action", n), {})} for n, a in enumerate(actions, start=1)]
