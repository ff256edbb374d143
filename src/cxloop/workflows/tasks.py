"""Background work for workflows, run by the django-tasks worker.

``react_to_response`` fires the rules for one completed response (enqueued after the response's
transaction commits, so a survey page never waits for a rule's webhook). ``workflows_cycle``
runs every minute: overdue steps (marked once, escalated, ``step_overdue`` rules) and new events
for ``event_received`` rules (each rule keeps its cursor).
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
    """One round: overdue steps, new events, webhook retries. Re-enqueues itself when ``repeat``."""
    try:
        overdue = services.steps_mark_overdue()
        fired = services.rules_scan_events()
        resent = services.deliveries_retry_due()
    finally:
        if repeat:
            enqueue_next(workflows_cycle, seconds=CYCLE_SECONDS, repeat=True)
    if overdue or fired or resent:
        log.info("workflows: %s steps overdue, %s event rule firings, %s webhook retries",
                 overdue, fired, resent)  # fmt: skip
    return {"overdue": overdue, "event_firings": fired, "webhook_retries": resent}


def ensure_workflows_cycle() -> bool:
    return ensure_enqueued(workflows_cycle, repeat=True)
