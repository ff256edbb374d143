"""One number over a trailing window, for alerts and rules ("NPS of the last 30 days fell below
20"): NPS, CSAT (% satisfied), the CSAT mean score, the number of completed responses, or how
often a named event happened. Each is one aggregate query."""

from __future__ import annotations

import math
from datetime import datetime
from statistics import mean, median, stdev

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


MIN_USUAL_PERIODS = 3  # fewer earlier windows with a value: no usual range yet
MAD_SCALE = 1.4826  # MAD × this estimates the standard deviation of normal data


def usual_range(
    values: list[float], *, k: float, method: str = "sd"
) -> tuple[float, float, float, float] | None:
    """The usual range of a metric from its values in earlier windows: ``(centre, spread, low,
    high)`` with ``low``/``high`` = centre ∓ k·spread; ``sd``: the mean and the sample standard
    deviation, ``mad``: the median and 1.4826 × the median absolute deviation (robust to one
    odd window). None with fewer than ``MIN_USUAL_PERIODS`` values."""
    kept = [v for v in values if v is not None and math.isfinite(v)]
    if len(kept) < MIN_USUAL_PERIODS:
        return None
    if method == "mad":
        centre = median(kept)
        spread = MAD_SCALE * median(abs(v - centre) for v in kept)
    else:
        centre, spread = mean(kept), stdev(kept)
    return centre, spread, centre - k * spread, centre + k * spread
