"""Background work for journeys: keep every map's stages and metrics current.

``journeys_cycle`` brings each journey map up to date from its saved position in the event
stream (``journeys._progress``: only customers with new events, or whose events a merge moved,
are walked again; a changed map is walked in full) and enqueues its next run ``CYCLE_SECONDS``
later; ``cxloop serve`` starts the chain with ``ensure_journeys_cycle``. Each run also keeps
every map's metrics over the default range and the one before it
(``services.journey_windows_store``; walked again only when out of date), which the map's page and API read while they are current;
a page that finds them out of date asks for ``journey_windows_refresh`` (``refresh_soon``).
"""

from __future__ import annotations

import logging

from django_tasks import task

from cxloop.core.recurring import enqueue_next, ensure_enqueued
from cxloop.journeys import mapperiod, services
from cxloop.journeys.models import JourneyMap

CYCLE_SECONDS = 600
log = logging.getLogger(__name__)


@task()
def journeys_cycle(*, repeat: bool = True) -> int:
    """Bring every journey map up to date; returns how many. Re-enqueues itself when
    ``repeat``."""
    done = 0
    try:
        workspaces = set()
        for journey in JourneyMap.objects.order_by("pk"):
            services.journey_advance(journey=journey)
            _store_windows(journey)
            workspaces.add(journey.workspace_id)
            done += 1
        for workspace_id in sorted(workspaces):
            services.rewalk_prune(workspace_id=workspace_id)
    finally:
        if repeat:
            enqueue_next(journeys_cycle, seconds=CYCLE_SECONDS, repeat=True)
    log.info("journeys: %s maps brought up to date", done)
    return done


def ensure_journeys_cycle() -> bool:
    """Enqueue ``journeys_cycle`` unless one is already queued; True when it enqueued one."""
    return ensure_enqueued(journeys_cycle, repeat=True)


def _store_windows(journey: JourneyMap) -> bool:
    """Keep the map's default ranges unless the stored ones are current; on failure drop them
    (the page then walks live) and go on with the other maps. True when it walked them."""
    try:
        if mapperiod.stored_windows_current(journey=journey):
            return False
        services.journey_windows_store(journey=journey)
        return True
    except Exception:
        log.exception("journeys: storing the default ranges of map %s failed", journey.pk)
        services.journey_windows_drop(journey=journey)
        return False


@task()
def journey_windows_refresh() -> int:
    """Store again the default ranges of every map whose stored ones are out of date (between
    the journey job's runs); returns how many maps."""
    return sum(_store_windows(journey) for journey in JourneyMap.objects.order_by("pk"))


def refresh_soon() -> bool:
    """Queue ``journey_windows_refresh`` unless one is already waiting or running; True when
    it queued one."""
    return ensure_enqueued(journey_windows_refresh)
