"""Background work for feedback, run by the django-tasks worker (``cxloop serve`` starts it).

``feedback_cycle`` schedules invitations from new events and sends the due ones, then enqueues its
next run ``CYCLE_SECONDS`` later, so one enqueue keeps it going for as long as a worker runs.
``ensure_feedback_cycle`` starts the chain unless a run is already waiting (safe to call at every
start of the server).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from django_tasks import task

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
            feedback_cycle.using(
                run_after=timezone.now() + timedelta(seconds=CYCLE_SECONDS)
            ).enqueue(repeat=True)
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
    try:
        from django_tasks_db.models import DBTaskResult
    except (
        ImportError
    ):  # another backend (rq): enqueue, a duplicate chain only repeats idempotent work
        DBTaskResult = None
    if DBTaskResult is not None:
        waiting = DBTaskResult.objects.filter(
            task_path=feedback_cycle.module_path, status__in=("READY", "RUNNING")
        )
        if waiting.exists():
            return False
    feedback_cycle.enqueue(repeat=True)
    return True
