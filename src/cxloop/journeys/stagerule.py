"""The feedback rule of current stages: nobody is placed at a stage their latest feedback
contradicts.

A stage may declare a feedback condition (``latest NPS ≥ 7`` on "Advocacy"). A customer's current
stage is the furthest stage they reached whose condition holds for them; a condition holds when
the customer's latest score of its metric satisfies it, or when they have no score of that metric
(no feedback contradicts nothing). A customer who reached only stages whose conditions fail has
no current stage. The reached-at time is when they first reached the stage they are placed at.

Pure functions; ``journeys.services.journey_recompute`` feeds them the walk's result, the latest
scores and, for the few customers it moves back, their matching events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from cxloop.analytics.walk import Moment
from cxloop.journeys.definitions import FeedbackCondition, RuleSpec


def contradicted(condition: FeedbackCondition | None, scores: Mapping[str, float] | None) -> bool:
    """Whether a customer's latest ``scores`` (metric → score) fail a stage's condition."""
    if condition is None or not scores or condition.metric not in scores:
        return False
    return not condition.holds(scores[condition.metric])


def stage_firsts(
    rows: Iterable[tuple], touchpoints: Sequence[tuple[int, Sequence[RuleSpec]]]
) -> dict[int, dict[int, Moment]]:
    """Per customer, when they first reached each stage, from ``(customer, occurred_at, name,
    channel, properties)`` rows; ``touchpoints``: (stage position, rules)."""
    firsts: dict[int, dict[int, Moment]] = {}
    for customer, at, name, channel, properties in rows:
        for stage, rules in touchpoints:
            if any(rule.matches(name, channel, properties) for rule in rules):
                reached = firsts.setdefault(customer, {})
                if stage not in reached or at < reached[stage]:
                    reached[stage] = at
    return firsts


def place(
    reached: Mapping[int, Moment],
    conditions: Mapping[int, FeedbackCondition],
    scores: Mapping[str, float] | None,
) -> tuple[int, Moment] | None:
    """The furthest reached stage (position, first reached at) whose condition holds."""
    for position in sorted(reached, reverse=True):
        if not contradicted(conditions.get(position), scores):
            return position, reached[position]
    return None
