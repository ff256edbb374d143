"""Background work for journeys: keep every map's stages and metrics current.

``journeys_cycle`` recomputes each journey map (stage per customer, map metrics) and enqueues its
next run ``CYCLE_SECONDS`` later; ``cxloop serve`` starts the chain with ``ensure_journeys_cycle``.
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
    """Recompute every journey map; returns how many. Re-enqueues itself when ``repeat``."""
    done = 0
    try:
        for journey in JourneyMap.objects.order_by("pk"):
            services.journey_recompute(journey=journey)
            done += 1
    finally:
        if repeat:
            enqueue_next(journeys_cycle, seconds=CYCLE_SECONDS, repeat=True)
    log.info("journeys: %s maps recomputed", done)
    return done


def ensure_journeys_cycle() -> bool:
    """Enqueue ``journeys_cycle`` unless one is already queued; True when it enqueued one."""
    return ensure_enqueued(journeys_cycle, repeat=True)
