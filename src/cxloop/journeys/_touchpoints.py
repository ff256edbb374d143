"""Which survey responses a journey touchpoint stands for (re-exported by ``selectors``).

A response belongs to a touchpoint when its ``touchpoint`` is one of the touchpoint's rule
events or the touchpoint's own name and, when the rule names a channel, its channel matches:
the same rule as the map's per-touchpoint CSAT and NPS (``touchpoint_feedback``).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from django.db.models import Q, QuerySet

from cxloop.core.models import Workspace
from cxloop.feedback import selectors as feedback_selectors
from cxloop.journeys.models import Rule, Stage, Touchpoint


class TouchpointChoiceError(LookupError):
    """A touchpoint chosen by id that is not in the workspace."""


class TouchpointResponses(NamedTuple):
    touchpoint: Touchpoint
    response_ids: QuerySet  # flat response ids: a subquery for ``pk__in``


def touchpoint_choices(*, workspace: Workspace) -> list[tuple[str, list[tuple[int, str]]]]:
    """("journey · stage", [(touchpoint id, name)]) in map order, for filter menus; stages
    without touchpoints are left out."""
    stages = (
        Stage.objects.filter(journey__workspace=workspace)
        .select_related("journey")
        .prefetch_related("touchpoints")
        .order_by("journey__name", "journey_id", "position")
    )
    found = []
    for stage in stages:
        points = sorted(stage.touchpoints.all(), key=lambda t: (t.position, t.pk))
        if points:
            found.append((f"{stage.journey.name} · {stage.name}", [(t.pk, t.name) for t in points]))
    return found


def touchpoint_response_ids(
    *,
    workspace: Workspace,
    touchpoint_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> TouchpointResponses:
    """The touchpoint ``touchpoint_id`` and the ids of the completed responses tied to it (none
    when it has no rules; submitted in [since, until) when given). Raises
    :class:`TouchpointChoiceError` when the workspace has no such touchpoint."""
    touchpoint = (
        Touchpoint.objects.filter(stage__journey__workspace=workspace, pk=touchpoint_id)
        .select_related("stage__journey")
        .first()
    )
    if touchpoint is None:
        raise TouchpointChoiceError(f"no touchpoint {touchpoint_id} in this workspace")
    tied = Q(pk__in=[])
    for rule in Rule.objects.filter(touchpoint=touchpoint):
        match = Q(touchpoint__in={rule.event, touchpoint.name})
        if rule.channel:
            match &= Q(channel=rule.channel)
        tied |= match
    responses = feedback_selectors.workspace_responses(workspace=workspace).filter(
        tied, completed=True
    )
    if since is not None:
        responses = responses.filter(submitted_at__gte=since)
    if until is not None:
        responses = responses.filter(submitted_at__lt=until)
    return TouchpointResponses(touchpoint, responses.values_list("pk", flat=True))
