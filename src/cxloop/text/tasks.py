"""Background work for text analytics: analyse a response's text after it is stored."""

from __future__ import annotations

from django_tasks import task

from cxloop.text import services


@task()
def analyse_response(*, workspace_id: int, response_id: int) -> bool:
    """Analyse one response's comment (idempotent); True when an analysis was stored."""
    stored = services.text_analyse_response(workspace_id=workspace_id, response_id=response_id)
    return stored is not None


def response_received(*, workspace_id: int, response_id: int) -> None:
    """The feedback hook: queue the analysis (called after the response is committed)."""
    analyse_response.enqueue(workspace_id=workspace_id, response_id=response_id)


@task()
def tune_sentiment(*, tuning_id: int) -> str:
    """Train a workspace's own sentiment model (``services.sentiment_tuning_request`` queues
    it); returns the training's final state."""
    row = services.sentiment_tuning_run(tuning_id=tuning_id)
    return row.state if row is not None else "missing"
