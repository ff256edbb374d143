"""The feedback rule of current stages: nobody is placed at a stage their latest feedback
contradicts.

A stage may declare a feedback condition (``latest NPS ≥ 7`` on "Advocacy"). A customer's current
stage is the furthest stage they reached whose condition holds for them; a condition holds when
the customer's latest score of its metric satisfies it, or when they have no score of that metric
(no feedback contradicts nothing). A customer who reached only stages whose conditions fail has
no current stage. The reached-at time is when they first reached the stage they are placed at.

Pure functions; ``journeys._progress`` feeds them the walk's result, the latest
scores and, for the customers it moves back, when they first reached each stage.
"""

from __future__ import annotations

from collections.abc import Mapping

from cxloop.analytics.walk import Moment
from cxloop.journeys.definitions import FeedbackCondition


def contradicted(condition: FeedbackCondition | None, scores: Mapping[str, float] | None) -> bool:
    """Whether a customer's latest ``scores`` (metric → score) fail a stage's condition."""
    if condition is None or not scores or condition.metric not in scores:
        return False
    return not condition.holds(scores[condition.metric])


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
