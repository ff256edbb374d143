"""Background work for journeys: keep every map's stages and metrics current.

``journeys_cycle`` brings each journey map up to date from its saved position in the event
stream (``journeys._progress``: only customers with new events, or whose events a merge moved,
are walked again; a changed map is walked in full) and enqueues its next run ``CYCLE_SECONDS``
later; ``cxloop serve`` starts the chain with ``ensure_journeys_cycle``.
"""

from __future__ import annotations

import logging

from django_tasks import task

from cxloop.core.recurring import enqueue_next, ensure_enqueued
from cxloop.journeys import services
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
