"""One number over a trailing window, for alerts and rules ("NPS of the last 30 days fell below
20"): NPS, CSAT (% satisfied), the CSAT mean score, the number of completed responses, or how
often a named event happened. Each is one aggregate query."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Avg, Count

from cxloop.core.models import Workspace
from cxloop.events import selectors as event_selectors
from cxloop.feedback import selectors as feedback_selectors
from cxloop.metrics.definitions import MetricName
from cxloop.metrics.filters import ResponseFilters

WINDOW_METRICS = {
    "nps": "NPS (−100 to 100)",
    "csat": "CSAT (% satisfied)",
    "csat_mean": "CSAT mean score",
    "responses": "completed responses",
    "event_count": "count of an event",
}


def metric_window(
    *, workspace: Workspace, metric: str, start: datetime, end: datetime,
    survey_id: int | None = None, event: str = "",
) -> tuple[float | None, int]:  # fmt: skip
    """``metric`` over ``[start, end)`` (of one survey when ``survey_id``; ``event`` names the
    event counted): (value, how many answers or events it rests on); value None without any."""
    if metric == "event_count":
        count = (
            event_selectors.workspace_events(workspace=workspace)
            .filter(name=event, occurred_at__gte=start, occurred_at__lt=end)
            .count()
        )
        return float(count), count
    responses = feedback_selectors.workspace_responses(workspace=workspace).filter(
        completed=True, submitted_at__gte=start, submitted_at__lt=end
    )
    if survey_id is not None:
        responses = responses.filter(survey_id=survey_id)
    if metric == "responses":
        count = responses.count()
        return float(count), count
    if metric == "csat_mean":
        row = responses.aggregate(mean=Avg("csat_score"), n=Count("csat_score"))
        return (float(row["mean"]) if row["n"] else None), row["n"]
    if metric not in ("nps", "csat"):
        raise ValueError(f"metric: {metric!r} is not one of {', '.join(WINDOW_METRICS)}")
    from cxloop.metrics.selectors import metric_rows

    filters = ResponseFilters(start=start, end=end, survey_id=survey_id)
    estimate = metric_rows(workspace=workspace, metric=MetricName(metric), filters=filters)[0]
    return estimate.estimate.value, estimate.estimate.n
