"""Background work for predictions: refit and rescore every workspace once a day (then thin out
old runs: every run of the last five weeks, one a month before), and one workspace on demand
(``predictions_refresh``). ``cxloop serve`` starts the daily chain."""

from __future__ import annotations

import logging

from django_tasks import task

from cxloop.core.models import Workspace
from cxloop.core.recurring import enqueue_next, ensure_enqueued
from cxloop.predict import services

CYCLE_SECONDS = 24 * 3600
log = logging.getLogger(__name__)


@task()
def predictions_cycle(*, repeat: bool = True) -> int:
    """Score every workspace as of its latest event; returns how many runs were stored."""
    done = 0
    try:
        for workspace in Workspace.objects.order_by("pk"):
            try:
                services.predictions_run(workspace=workspace)
                services.prediction_runs_prune(workspace=workspace)
                done += 1
            except Exception:  # one workspace's bad data must not stop the others
                log.exception("predict: workspace %s failed", workspace.slug)
    finally:
        if repeat:
            enqueue_next(predictions_cycle, seconds=CYCLE_SECONDS, repeat=True)
    return done


@task()
def predictions_refresh(*, workspace_id: int) -> int:
    """Fit and score one workspace now; returns the run's id."""
    workspace = Workspace.objects.get(pk=workspace_id)
    return services.predictions_run(workspace=workspace).pk


def ensure_predictions_cycle() -> bool:
    """Enqueue ``predictions_cycle`` unless one is already queued; True when it enqueued one."""
    return ensure_enqueued(predictions_cycle, repeat=True)
