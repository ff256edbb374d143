"""Reads for journeys: maps with their metrics, funnels, drop-offs and customers' current stages."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.db.models import Count, QuerySet

from cxloop.analytics import selectors as analytics_selectors
from cxloop.core.models import Workspace
from cxloop.events import selectors as event_selectors
from cxloop.feedback import selectors as feedback_selectors
from cxloop.journeys._touchpoints import (  # re-exported: part of this public interface
    TouchpointChoiceError as TouchpointChoiceError,
)
from cxloop.journeys._touchpoints import TouchpointResponses as TouchpointResponses
from cxloop.journeys._touchpoints import responses_by_touchpoint, rule_spec
from cxloop.journeys._touchpoints import touchpoint_choices as touchpoint_choices
from cxloop.journeys._touchpoints import touchpoint_response_ids as touchpoint_response_ids
from cxloop.journeys.definitions import RuleSpec
from cxloop.journeys.funnels import (  # re-exported: part of this public interface
    CORRELATION_SAMPLE as CORRELATION_SAMPLE,
)
from cxloop.journeys.funnels import MAX_GROUPS as MAX_GROUPS
from cxloop.journeys.funnels import NONE as NONE
from cxloop.journeys.funnels import OTHER as OTHER
from cxloop.journeys.funnels import CorrelationReport as CorrelationReport
from cxloop.journeys.funnels import DropOff as DropOff
from cxloop.journeys.funnels import FunnelReport as FunnelReport
from cxloop.journeys.funnels import funnel as funnel
from cxloop.journeys.funnels import funnel_correlation as funnel_correlation
from cxloop.journeys.funnels import funnel_default_steps as funnel_default_steps
from cxloop.journeys.funnels import funnel_dropoffs as funnel_dropoffs
from cxloop.journeys.models import (
    CustomerStage,
    JourneyMap,
    SavedAnalysis,
    Stage,
    Touchpoint,
)

# ------------------------------------------------------------------ journey maps


def journey_list(*, workspace: Workspace) -> QuerySet[JourneyMap]:
    return (
        JourneyMap.objects.filter(workspace=workspace)
        .annotate(stage_count=Count("stages", distinct=True))
        .order_by("name")
    )


def journey_get(*, workspace: Workspace, journey_id: int) -> JourneyMap | None:
    return JourneyMap.objects.filter(workspace=workspace, pk=journey_id).first()


def journey_definition(*, journey: JourneyMap) -> dict:
    """The journey in the definition format that ``journey_update`` and the API take."""
    stages = list(journey.stages.all())
    touchpoints = (
        Touchpoint.objects.filter(stage__journey=journey)
        .select_related("stage")
        .prefetch_related("rules")
        .order_by("stage__position", "position")
    )
    return {
        "name": journey.name,
        "description": journey.description,
        "stages": [
            {"name": s.name, "description": s.description, "feedback": s.feedback} for s in stages
        ],
        "touchpoints": [
            {
                "stage": tp.stage.name,
                "name": tp.name,
                "channel": tp.channel,
                "rules": [rule_spec(rule).as_dict() for rule in tp.rules.all()],
            }
            for tp in touchpoints
        ],
    }


@dataclass
class TouchpointView:
    touchpoint: Touchpoint
    rules: list[RuleSpec]
    metrics: dict
    feedback: dict
    health: str  # good | fair | weak | none (colour on the map)
    health_reason: str
    previous: dict = field(default_factory=dict)  # metrics of the compared period
    previous_feedback: dict = field(default_factory=dict)


@dataclass
class StageView:
    stage: Stage
    metrics: dict
    touchpoints: list[TouchpointView] = field(default_factory=list)
    share: float | None = None  # of the journey's customers
    previous: dict = field(default_factory=dict)  # metrics of the compared period


def journey_map(
    *, journey: JourneyMap, metrics: dict | None = None, feedback: dict[int, dict] | None = None
) -> list[StageView]:
    """Stages in order with their touchpoints, last computed metrics and live feedback scores
    (or the ``metrics`` and ``feedback`` given: a period's, ``journeys.mapperiod``)."""
    if metrics is None:
        metrics = journey.metrics or {}
    stage_metrics = metrics.get("stages", [])
    tp_metrics = metrics.get("touchpoints", {})
    total = metrics.get("customers") or 0
    stages = list(journey.stages.prefetch_related("touchpoints__rules"))
    if feedback is None:
        feedback = touchpoint_feedback(journey=journey)
    views = []
    for stage in stages:
        m = stage_metrics[stage.position] if stage.position < len(stage_metrics) else {}
        view = StageView(
            stage=stage, metrics=m, share=(m.get("customers", 0) / total) if total else None
        )
        for tp in stage.touchpoints.all():
            tm = tp_metrics.get(str(tp.pk), {})
            fb = feedback.get(tp.pk, {})
            health, reason = _health(tm, m, fb)
            view.touchpoints.append(
                TouchpointView(tp, [rule_spec(r) for r in tp.rules.all()], tm, fb, health, reason)
            )
        views.append(view)
    return views


def _health(tp: dict, stage: dict, feedback: dict) -> tuple[str, str]:
    """Colour of a touchpoint: by CSAT (or NPS) when customers rated it, else by conversion."""
    csat, nps = feedback.get("csat"), feedback.get("nps")
    if csat is not None:
        level = "good" if csat >= 0.8 else "fair" if csat >= 0.6 else "weak"
        return level, f"CSAT {csat:.0%}"
    if nps is not None:
        level = "good" if nps >= 30 else "fair" if nps >= 0 else "weak"
        return level, f"NPS {nps:+.0f}"
    conversion, typical = tp.get("conversion"), stage.get("conversion")
    if conversion is None or not typical or not tp.get("customers"):
        return "none", "no conversion to compare"
    ratio = conversion / typical
    level = "good" if ratio >= 0.95 else "fair" if ratio >= 0.7 else "weak"
    return level, f"converts at {ratio:.0%} of the stage's rate"


def touchpoint_feedback(
    *, journey: JourneyMap, since: datetime | None = None, until: datetime | None = None
) -> dict[int, dict]:
    """CSAT (share of top-box answers), NPS and counts of survey responses per touchpoint
    (submitted in [since, until) when given).

    A response counts at a touchpoint when one of its rules matches the event behind the
    response, conditions included, or when it names the touchpoint itself
    (``journeys._touchpoints``)."""
    points = journey_rules(journey=journey)
    responses = feedback_selectors.workspace_responses(workspace=journey.workspace)
    if since is not None:
        responses = responses.filter(submitted_at__gte=since)
    if until is not None:
        responses = responses.filter(submitted_at__lt=until)
    tied = responses_by_touchpoint(
        workspace=journey.workspace,
        points=points,
        responses=responses,
        fields=("csat_score", "nps_score", "survey__csat_top_box"),
    )
    tally: dict[
        int, list[int]
    ] = {}  # [csat answers, csat top box, nps answers, promoters, detractors]
    for (csat, nps, top_box), touchpoint_ids in tied:
        for tp_id in touchpoint_ids:
            t = tally.setdefault(tp_id, [0, 0, 0, 0, 0])
            if csat is not None:
                t[0] += 1
                t[1] += csat >= top_box
            if nps is not None:
                t[2] += 1
                t[3] += nps >= 9
                t[4] += nps <= 6
    return {
        tp_id: {
            "responses": max(t[0], t[2]),
            "csat": t[1] / t[0] if t[0] else None,
            "nps": 100 * (t[3] - t[4]) / t[2] if t[2] else None,
        }
        for tp_id, t in tally.items()
    }


def journey_rules(*, journey: JourneyMap) -> list[tuple[Touchpoint, list[RuleSpec]]]:
    touchpoints = Touchpoint.objects.filter(stage__journey=journey).select_related("stage")
    return [
        (tp, [rule_spec(r) for r in tp.rules.all()])
        for tp in touchpoints.prefetch_related("rules").order_by("stage__position", "position")
    ]


# ------------------------------------------------------------------ customers' stages


def customer_journey_stages(*, customer_id: int) -> list[dict]:
    """Every journey's current stage of one customer: journey, stage, its position, reached_at."""
    rows = (
        CustomerStage.objects.filter(customer_id=customer_id)
        .select_related("journey", "stage")
        .order_by("journey__name")
    )
    return [
        {
            "journey": row.journey,
            "stage": row.stage,
            "reached_at": row.reached_at,
            "stages": list(row.journey.stages.values_list("name", flat=True)),
        }
        for row in rows
    ]


def customers_stages(*, customer_ids: Sequence[int]) -> dict[int, list[dict]]:
    """Current stages of many customers at once (one query, e.g. a page of the customer list):
    customer id -> ``[{"journey": name, "stage": name, "stage_id": id}]``, by journey name."""
    rows = (
        CustomerStage.objects.filter(customer_id__in=list(customer_ids))
        .order_by("journey__name", "journey_id")
        .values_list("customer_id", "journey__name", "stage__name", "stage_id")
    )
    out: dict[int, list[dict]] = {}
    for customer_id, journey, stage, stage_id in rows:
        out.setdefault(customer_id, []).append(
            {"journey": journey, "stage": stage, "stage_id": stage_id}
        )
    return out


def stage_choices(*, workspace: Workspace) -> list[tuple[JourneyMap, list[Stage]]]:
    """Journeys with their stages, for stage filter menus."""
    journeys = JourneyMap.objects.filter(workspace=workspace).order_by("name")
    return [(j, list(j.stages.all())) for j in journeys.prefetch_related("stages")]


def latest_scores(
    *, workspace: Workspace, metrics: Sequence[str], customer_ids: set[int]
) -> dict[int, dict[str, float]]:
    """Each of ``customer_ids``' latest score of each of ``metrics`` (nps, csat, ces), from
    completed responses by submission time: customer → {metric: score}."""
    fields = [f"{m}_score" for m in metrics]
    rows = (
        feedback_selectors.workspace_responses(workspace=workspace)
        .filter(completed=True, customer__isnull=False, submitted_at__isnull=False)
        .order_by("submitted_at", "pk")
        .values_list("customer_id", *fields)
    )
    latest: dict[int, dict[str, float]] = {}
    for customer_id, *values in rows.iterator(chunk_size=5000):
        if customer_id not in customer_ids:
            continue
        for metric, value in zip(metrics, values, strict=True):
            if value is not None:
                latest.setdefault(customer_id, {})[metric] = value
    return latest


def customer_event_rows(
    *, workspace: Workspace, customer_ids: Sequence[int], names: set[str], batch: int = 500
) -> Iterator[tuple]:
    """``(customer_id, occurred_at, name, channel, properties)`` of these customers' events
    with these names, in batches of customers."""
    events = event_selectors.workspace_events(workspace=workspace)
    ids = sorted(customer_ids)
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        yield from events.filter(customer_id__in=chunk, name__in=names).values_list(
            "customer_id", "occurred_at", "name", "channel", "properties"
        )


def customer_event_rows_all(*, workspace: Workspace, names: set[str]) -> Iterator[tuple]:
    """``(customer_id, occurred_at, name, channel, properties)`` of every event of the workspace
    with these names (a map's full walk), streamed."""
    events = event_selectors.workspace_events(workspace=workspace).filter(name__in=sorted(names))
    return events.values_list(
        "customer_id", "occurred_at", "name", "channel", "properties"
    ).iterator(chunk_size=5000)


def stage_get(*, workspace: Workspace, stage_id: int) -> Stage | None:
    return (
        Stage.objects.filter(journey__workspace=workspace, pk=stage_id)
        .select_related("journey")
        .first()
    )


def stage_find(*, workspace: Workspace, journey: str, stage: str) -> Stage | None:
    """A stage by journey name and stage name (case-insensitive), e.g. for segment conditions."""
    return (
        Stage.objects.filter(
            journey__workspace=workspace, journey__name__iexact=journey, name__iexact=stage
        )
        .select_related("journey")
        .first()
    )


def customer_ids_at_stage(*, stage: Stage) -> QuerySet:
    """A subquery of the customers whose current stage of its journey is ``stage``."""
    return CustomerStage.objects.filter(journey_id=stage.journey_id, stage=stage).values(
        "customer_id"
    )


class StageChoiceError(LookupError):
    """A stage chosen by id that is not in the workspace."""


class StageMembers(NamedTuple):
    stage: Stage
    customer_ids: QuerySet  # flat customer ids: a subquery for ``pk__in``, or ``set()`` them


def stage_member_ids(*, workspace: Workspace, stage_id: int) -> StageMembers:
    """The stage ``stage_id`` and the ids of the customers now at it.

    The one way pages and API routes turn a chosen stage into customers; raises
    :class:`StageChoiceError` when the workspace has no such stage.
    """
    stage = stage_get(workspace=workspace, stage_id=stage_id)
    if stage is None:
        raise StageChoiceError(f"no stage {stage_id} in this workspace")
    ids = customer_ids_at_stage(stage=stage).values_list("customer_id", flat=True)
    return StageMembers(stage, ids)


def stage_of_customers(*, journey: JourneyMap) -> dict[int, str]:
    """Current stage name per customer of one journey."""
    names = dict(journey.stages.values_list("pk", "name"))
    rows = CustomerStage.objects.filter(journey=journey).values_list("customer_id", "stage_id")
    return {customer_id: names[stage_id] for customer_id, stage_id in rows}


# ------------------------------------------------------------------ events and funnels


def event_names(*, workspace: Workspace, limit: int = 500) -> list[tuple[str, int]]:
    """Event (and page/screen) names of a workspace with counts, most frequent first."""
    return analytics_selectors.event_names(workspace=workspace, limit=limit)


def event_rows(
    *, workspace: Workspace, names: Sequence[str], properties: bool = False
) -> Iterator[tuple]:
    """Stream ``(customer_id, occurred_at, name, channel, properties)`` of events with these
    names from the database (the journey map's walk; see ``analytics.selectors.event_rows``)."""
    return analytics_selectors.event_rows(
        workspace_id=workspace.pk, names=names, properties=properties
    )


# ------------------------------------------------------------------ saved analyses


def saved_analysis_list(*, workspace: Workspace, kind: str = "") -> QuerySet[SavedAnalysis]:
    """Saved analyses of a workspace (of one ``kind`` when given), pinned first, then by name."""
    found = SavedAnalysis.objects.filter(workspace=workspace).select_related("created_by")
    return found.filter(kind=kind) if kind else found


def saved_analysis_get(*, workspace: Workspace, analysis_id: int) -> SavedAnalysis | None:
    return SavedAnalysis.objects.filter(workspace=workspace, pk=analysis_id).first()
