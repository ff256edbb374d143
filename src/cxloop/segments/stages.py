"""Journey-stage conditions, answered by the journeys app through its selectors.

A customer is "at" a stage of a journey when it is the furthest stage of that journey they have
reached (``journeys.selectors.customer_ids_at_stage``), as recomputed by the journeys app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from cxloop.core.models import Workspace
from cxloop.journeys import selectors as journey_selectors
from cxloop.segments.definition import SegmentDefinitionError

if TYPE_CHECKING:
    from cxloop.journeys.models import JourneyMap, Stage


def stage_options(*, workspace: Workspace) -> list[tuple[JourneyMap, list[Stage]]]:
    """(journey, its stages in order) for every journey map of the workspace (for menus)."""
    return journey_selectors.stage_choices(workspace=workspace)


def _find(workspace: Workspace, condition: dict) -> tuple[Stage | None, str | None]:
    wanted_journey, wanted_stage = condition["journey"], condition["stage"]
    journeys = stage_options(workspace=workspace)
    if isinstance(wanted_journey, int):
        matches = [(j, stages) for j, stages in journeys if j.pk == wanted_journey]
    else:
        matches = [
            (j, stages) for j, stages in journeys if j.name.casefold() == wanted_journey.casefold()
        ]
    if not matches:
        known = ", ".join(repr(j.name) for j, _ in journeys) or "none yet"
        return None, f"unknown journey {wanted_journey!r} (journeys: {known})"
    journey, stages = matches[0]
    for stage in stages:
        if stage.name.casefold() == wanted_stage.casefold():
            return stage, None
    names = ", ".join(repr(s.name) for s in stages) or "none"
    return None, f"unknown stage {wanted_stage!r} in journey {journey.name!r} (stages: {names})"


def stage_problem(*, workspace: Workspace, condition: dict) -> str | None:
    """Why a stage condition cannot be used (unknown journey or stage), or None."""
    return _find(workspace, condition)[1]


def stage_customer_ids(*, workspace: Workspace, condition: dict) -> QuerySet:
    """A subquery of the customers whose current stage is the condition's stage."""
    stage, problem = _find(workspace, condition)
    if stage is None:
        raise SegmentDefinitionError([f"stage condition: {problem}"])
    return journey_selectors.customer_ids_at_stage(stage=stage)


def current_stages(*, workspace: Workspace) -> list[tuple[str, dict[int, str]]]:
    """(journey name, current stage name per customer) for every journey of the workspace."""
    return [
        (journey.name, journey_selectors.stage_of_customers(journey=journey))
        for journey, _ in stage_options(workspace=workspace)
    ]
