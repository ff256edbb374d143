"""Background work for feedback, run by the django-tasks worker (``cxloop serve`` starts it).

``feedback_cycle`` schedules invitations from new events and sends the due ones, then enqueues its
next run ``CYCLE_SECONDS`` later, so one enqueue keeps it going for as long as a worker runs.
``ensure_feedback_cycle`` starts the chain unless a run is already waiting (safe to call at every
start of the server).
"""

from __future__ import annotations

import logging

from django_tasks import task

from cxloop.core.recurring import enqueue_next, ensure_enqueued
from cxloop.feedback import services

CYCLE_SECONDS = 60
log = logging.getLogger(__name__)


@task()
def feedback_cycle(*, repeat: bool = True) -> dict:
    """One round: triggers → invitations → emails. Re-enqueues itself when ``repeat``."""
    try:
        scheduled, report = services.feedback_cycle()
    finally:
        if repeat:
            enqueue_next(feedback_cycle, seconds=CYCLE_SECONDS, repeat=True)
    if report.sent or report.failed or scheduled:
        log.info(
            "feedback: %s scheduled, %s sent, %s failed", scheduled, report.sent, report.failed
        )
    return {
        "scheduled": scheduled,
        "sent": report.sent,
        "skipped": report.skipped,
        "failed": report.failed,
    }


def ensure_feedback_cycle() -> bool:
    """Enqueue ``feedback_cycle`` unless one is already queued; True when it enqueued one."""
    return ensure_enqueued(feedback_cycle, repeat=True)
