"""Background work for segments: keep each saved segment's count (the list page's rollup) current.

``segment_counts_cycle`` counts every saved segment live and stores the numbers
(``services.segment_counts_refresh``), then enqueues its next run ``CYCLE_SECONDS`` later;
``cxloop serve`` starts the chain with ``ensure_segment_counts_cycle``.
"""

from __future__ import annotations

import logging

from django_tasks import task

from cxloop.core.recurring import enqueue_next, ensure_enqueued
from cxloop.segments import services

CYCLE_SECONDS = 300
log = logging.getLogger(__name__)


@task()
def segment_counts_cycle(*, repeat: bool = True) -> int:
    """Count every saved segment; returns how many. Re-enqueues itself when ``repeat``."""
    try:
        done = services.segment_counts_refresh()
    finally:
        if repeat:
            enqueue_next(segment_counts_cycle, seconds=CYCLE_SECONDS, repeat=True)
    log.info("segments: %s counted", done)
    return done


def ensure_segment_counts_cycle() -> bool:
    """Enqueue ``segment_counts_cycle`` unless one is already queued; True when it enqueued one."""
    return ensure_enqueued(segment_counts_cycle, repeat=True)
