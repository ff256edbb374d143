"""Background work for workflows, run by the django-tasks worker.

``react_to_response`` fires the rules for one completed response (enqueued after the response's
transaction commits, so a survey page never waits for a rule's webhook). ``workflows_cycle``
runs every minute: overdue steps (marked once, escalated, ``step_overdue`` rules), new events for
``event_received`` rules (each rule keeps its cursor), segment entries and exits, metric
crossings and schedules (their state in the database), firings whose worker died mid-way
(resumed after their lease) and webhook retries.
"""

from __future__ import annotations

import logging

from django_tasks import task

from cxloop.core.recurring import enqueue_next, ensure_enqueued
from cxloop.workflows import services

CYCLE_SECONDS = 60
log = logging.getLogger(__name__)


@task()
def react_to_response(*, workspace_id: int, response_id: int) -> int:
    """Fire ``response_received`` rules for one response (idempotent: once per rule)."""
    return len(services.rules_react_response(workspace_id=workspace_id, response_id=response_id))


def response_received(*, workspace_id: int, response_id: int) -> None:
    """The feedback hook: queue the reaction (called after the response is committed)."""
    react_to_response.enqueue(workspace_id=workspace_id, response_id=response_id)


@task()
def workflows_cycle(*, repeat: bool = True) -> dict:
    """One round: overdue steps, new events, segments, metrics, schedules, unfinished firings,
    webhook retries. Re-enqueues itself when ``repeat``."""
    try:
        done = {
            "overdue": services.steps_mark_overdue(),
            "event_firings": services.rules_scan_events(),
            "segment_firings": services.rules_scan_segments(),
            "metric_firings": services.rules_scan_metrics(),
            "schedule_firings": services.rules_scan_schedules(),
            "resumed": services.firings_resume(),
            "webhook_retries": services.deliveries_retry_due(),
        }
    finally:
        if repeat:
            enqueue_next(workflows_cycle, seconds=CYCLE_SECONDS, repeat=True)
    if any(done.values()):
        log.info("workflows: %s", ", ".join(f"{v} {k}" for k, v in done.items() if v))
    return done


def ensure_workflows_cycle() -> bool:
    return ensure_enqueued(workflows_cycle, repeat=True)
