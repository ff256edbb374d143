"""Writes for journeys: create/update/delete journey maps (validated) and recompute their metrics."""

from __future__ import annotations

import time
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from cxloop.analytics import selectors as analytics_selectors
from cxloop.core.models import Workspace
from cxloop.events import selectors as event_selectors
from cxloop.journeys import mapperiod
from cxloop.journeys._progress import journey_advance, journey_recompute, rewalk_prune
from cxloop.journeys.definitions import (
    DefinitionError,
    JourneySpec,
    parse_journey,
)
from cxloop.journeys.models import (
    CustomerStage,
    JourneyMap,
    MapWindow,
    Rule,
    SavedAnalysis,
    Stage,
    Touchpoint,
)

__all__ = [
    "DefinitionError",
    "journey_advance",
    "journey_create",
    "journey_delete",
    "journey_recompute",
    "journey_update",
    "journey_windows_drop",
    "journey_windows_store",
    "journeys_rebuild",
    "rewalk_prune",
    "saved_analysis_create",
    "saved_analysis_delete",
    "saved_analysis_pin",
]


@transaction.atomic
def journey_create(
    *, workspace: Workspace, definition: object, recompute: bool = True
) -> JourneyMap:
    """A new journey map from a definition (see ``journeys.definitions``); computes its metrics.

    Raises :class:`DefinitionError` listing every problem (unknown stage, empty rule, a stage
    listed twice...) and nothing is stored.
    """
    spec = parse_journey(definition)
    _check_name_free(workspace, spec.name, None)
    journey = JourneyMap.objects.create(
        workspace=workspace, name=spec.name, description=spec.description
    )
    _write_structure(journey, spec)
    if recompute:
        journey_recompute(journey=journey)
    return journey


@transaction.atomic
def journey_update(
    *, journey: JourneyMap, definition: object, recompute: bool = True
) -> JourneyMap:
    """Replace a journey's name, stages, touchpoints and rules; recomputes its metrics."""
    spec = parse_journey(definition)
    _check_name_free(journey.workspace, spec.name, journey.pk)
    journey.name, journey.description = spec.name, spec.description
    journey.save(update_fields=["name", "description", "updated_at"])
    CustomerStage.objects.filter(journey=journey).delete()
    journey.stages.all().delete()
    _write_structure(journey, spec)
    if recompute:
        journey_recompute(journey=journey)
    return journey


def journey_delete(*, journey: JourneyMap) -> None:
    journey.delete()


def _check_name_free(workspace: Workspace, name: str, journey_id: int | None) -> None:
    clash = JourneyMap.objects.filter(workspace=workspace, name__iexact=name)
    if journey_id is not None:
        clash = clash.exclude(pk=journey_id)
    if clash.exists():
        raise DefinitionError([f"name: a journey called {name!r} already exists"])


def _write_structure(journey: JourneyMap, spec: JourneySpec) -> None:
    stages = Stage.objects.bulk_create(
        Stage(
            journey=journey,
            position=i,
            name=s.name,
            description=s.description,
            feedback=s.feedback.as_dict() if s.feedback else {},
        )
        for i, s in enumerate(spec.stages)
    )
    by_name = {s.name: s for s in stages}
    order: dict[str, int] = {}
    touchpoints = []
    for tp in spec.touchpoints:
        position = order[tp.stage] = order.get(tp.stage, -1) + 1
        touchpoints.append(
            Touchpoint(stage=by_name[tp.stage], position=position, name=tp.name, channel=tp.channel)
        )
    touchpoints = Touchpoint.objects.bulk_create(touchpoints)
    Rule.objects.bulk_create(
        Rule(
            touchpoint=tp,
            position=r,
            event=rule.event,
            channel=rule.channel,
            conditions=rule.as_dict()["conditions"],
        )
        for tp, tp_spec in zip(touchpoints, spec.touchpoints, strict=True)
        for r, rule in enumerate(tp_spec.rules)
    )


def journeys_rebuild(*, workspace: Workspace | None = None) -> int:
    """Walk every map (of ``workspace``, or of all) again from all its events; returns how many.
    The repair path (``cxloop rollups rebuild``): the journey job keeps maps current from a
    saved position."""
    maps = JourneyMap.objects.order_by("pk")
    if workspace is not None:
        maps = maps.filter(workspace=workspace)
    done = 0
    for journey in maps:
        journey_recompute(journey=journey)
        done += 1
    return done


# ------------------------------------------------------------------ stored default ranges

ENGINE_WAIT_SECONDS = 10.0  # how long the job waits for the engine to copy what is waiting


def journey_windows_store(*, journey: JourneyMap, now: datetime | None = None) -> int:
    """Walk the map over its default range and the one before it (``mapperiod.default_windows``)
    and keep the metrics with the definition and the data position they were computed from, so
    the page and the API read them while nothing changed. Returns how many ranges were stored:
    none (and the stored ones dropped) when the analytics engine does not hold the workspace's
    events yet, as its numbers would then be older than the position."""
    position = mapperiod.data_position(journey=journey)  # before reading: later ones are news
    if not _engine_caught_up(journey.workspace_id):
        journey_windows_drop(journey=journey)
        return 0
    windows = mapperiod.default_windows(workspace=journey.workspace, now=now)
    computed = [
        (since, until, mapperiod.journey_period_metrics(
            journey=journey, since=since, until=until, use_stored=mapperiod.NEVER
        ).metrics)
        for since, until in windows
    ]  # fmt: skip
    at = timezone.now()
    with transaction.atomic():
        MapWindow.objects.filter(journey=journey).delete()
        MapWindow.objects.bulk_create(
            MapWindow(
                journey=journey, since=since, until=until,
                definition_key=position.definition_key,
                event_position=position.event_position,
                rewalk_position=position.rewalk_position,
                latest_at=position.latest_at, metrics=metrics, computed_at=at,
            )
            for since, until, metrics in computed
        )  # fmt: skip
    return len(computed)


def journey_windows_drop(*, journey: JourneyMap | None = None, workspace_ids=()) -> int:
    """Forget the stored ranges of a map, or of every map of ``workspace_ids``."""
    rows = MapWindow.objects.all()
    rows = (
        rows.filter(journey=journey)
        if journey is not None
        else rows.filter(journey__workspace_id__in=list(workspace_ids))
    )
    return rows.delete()[0]


def _engine_caught_up(workspace_id: int) -> bool:
    """Whether the analytics engine holds every event change of the workspace written so far
    (waits up to ``ENGINE_WAIT_SECONDS`` for its drainer); always so when the database is it."""
    if analytics_selectors.current_engine().kind == "sql":
        return True
    deadline = time.monotonic() + ENGINE_WAIT_SECONDS
    while event_selectors.outbox_backlog(workspace_id=workspace_id)[0]:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


# ------------------------------------------------------------------ saved analyses

MAX_QUERY = 4000  # characters of a saved page's query string


class SavedAnalysisError(ValueError):
    """A saved analysis that cannot be stored; the message says what and where."""


def saved_analysis_create(
    *, workspace: Workspace, name: str, kind: str, query: str, pinned: bool = False,
    created_by=None,
) -> SavedAnalysis:  # fmt: skip
    """Save a page's query string under ``name`` (unique per workspace and kind)."""
    name, query = (name or "").strip(), (query or "").strip().lstrip("?")
    if not name:
        raise SavedAnalysisError("name: give the analysis a name")
    if len(name) > 200:
        raise SavedAnalysisError("name: at most 200 characters")
    if kind not in SavedAnalysis.Kind.values:
        raise SavedAnalysisError(f"kind: {kind!r} is not funnel, path or trend")
    if len(query) > MAX_QUERY:
        raise SavedAnalysisError(f"query: at most {MAX_QUERY} characters")
    if SavedAnalysis.objects.filter(workspace=workspace, kind=kind, name__iexact=name).exists():
        raise SavedAnalysisError(f"name: a saved {kind} is already called {name!r}")
    return SavedAnalysis.objects.create(
        workspace=workspace, name=name, kind=kind, query=query, pinned=pinned,
        created_by=created_by,
    )  # fmt: skip


def saved_analysis_pin(*, analysis: SavedAnalysis, pinned: bool) -> SavedAnalysis:
    analysis.pinned = pinned
    analysis.save(update_fields=["pinned"])
    return analysis


def saved_analysis_delete(*, analysis: SavedAnalysis) -> None:
    analysis.delete()
