"""The daily score rollup (``ScoreDay``): kept in step with responses, rebuilt on demand.

Every write that can change what a day counts (a response completed, re-submitted, edited or
deleted; a bulk import) names the (survey, day) buckets it touched, before and after, and
:func:`score_days_refresh` recounts those buckets from the raw rows in the same transaction. A
recount is idempotent, so a duplicate delivery or a repeated refresh changes nothing, and
:func:`score_days_rebuild` (``cxloop rollups rebuild``) is the same recount over everything.

Concurrency: the refresh locks the survey's row first (``SELECT … FOR UPDATE``; SQLite already
serializes writers), so two transactions adding answers to one survey recount one after the
other and the second sees the first's rows: no bucket is written from a stale count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, When

from cxloop.analytics.periods import Granularity, PeriodStart
from cxloop.core.models import Workspace
from cxloop.feedback.models import Response, ScoreDay, Survey

# the NPS bands (metrics.definitions has the same; a test keeps them equal)
PROMOTER_MIN = 9
DETRACTOR_MAX = 6
METRICS = ("nps", "csat", "ces")

Bucket = tuple[int, date]  # (survey id, UTC day of submitted_at)


def response_bucket(response: Response) -> Bucket | None:
    """The bucket a response counts in: its survey and the UTC day it was submitted (None
    while it is partial)."""
    if not response.completed or response.submitted_at is None:
        return None
    return (response.survey_id, response.submitted_at.astimezone(UTC).date())


def _count_if(condition: Q) -> Sum:
    return Sum(Case(When(condition, then=1), default=0, output_field=IntegerField()))


def _sums(metric: str) -> dict:
    score = f"{metric}_score"
    sums = {
        "n_": Count(score),
        "total_": Sum(score),
        "total_sq_": Sum(F(score) * F(score), output_field=IntegerField()),
    }
    if metric == "nps":
        sums["promoters_"] = _count_if(Q(nps_score__gte=PROMOTER_MIN))
        sums["detractors_"] = _count_if(Q(nps_score__lte=DETRACTOR_MAX))
    if metric == "csat":
        sums["satisfied_"] = _count_if(Q(csat_score__gte=F("survey__csat_top_box")))
    return sums


def _counted(responses: QuerySet[Response]) -> list[ScoreDay]:
    """``ScoreDay`` rows (unsaved) for these responses: one GROUP BY per metric."""
    rows: list[ScoreDay] = []
    done = responses.filter(completed=True, submitted_at__isnull=False).annotate(
        _day=PeriodStart("submitted_at", Granularity.DAY)
    )
    for metric in METRICS:
        grouped = (
            done.filter(**{f"{metric}_score__isnull": False})
            .values("workspace_id", "survey_id", "_day", "channel")
            .annotate(**_sums(metric))
            .order_by()
        )
        for g in grouped:
            n, promoters, detractors = g["n_"], g.get("promoters_") or 0, g.get("detractors_") or 0
            rows.append(
                ScoreDay(
                    workspace_id=g["workspace_id"],
                    survey_id=g["survey_id"],
                    metric=metric,
                    day=g["_day"],
                    channel=g["channel"],
                    n=n,
                    promoters=promoters,
                    detractors=detractors,
                    passives=n - promoters - detractors if metric == "nps" else 0,
                    satisfied=g.get("satisfied_") or 0,
                    total=g["total_"] or 0,
                    total_sq=g["total_sq_"] or 0,
                )
            )
    return rows


def _day_range(days: Iterable[date]) -> tuple[datetime, datetime]:
    ordered = sorted(days)
    start = datetime.combine(ordered[0], time.min, tzinfo=UTC)
    return start, datetime.combine(ordered[-1] + timedelta(days=1), time.min, tzinfo=UTC)


def score_days_refresh(*, buckets: Iterable[Bucket | None]) -> int:
    """Recount these (survey, day) buckets from the raw responses; returns the rows written.

    Call it inside the transaction that changed the responses, with every bucket a changed
    response was in before and is in after (``None`` entries are skipped)."""
    by_survey: dict[int, set[date]] = defaultdict(set)
    for bucket in buckets:
        if bucket is not None:
            by_survey[bucket[0]].add(bucket[1])
    written = 0
    with transaction.atomic():
        for survey_id in sorted(by_survey):  # one lock order: no deadlock between refreshes
            days = by_survey[survey_id]
            list(Survey.objects.select_for_update().filter(pk=survey_id).values_list("pk"))
            start, end = _day_range(days)
            ScoreDay.objects.filter(survey_id=survey_id, day__in=days).delete()
            raw = Response.objects.filter(
                survey_id=survey_id, submitted_at__gte=start, submitted_at__lt=end
            )
            rows = [row for row in _counted(raw) if row.day in days]
            ScoreDay.objects.bulk_create(rows, batch_size=1000)
            written += len(rows)
    return written


@transaction.atomic
def score_days_rebuild(*, workspace: Workspace | None = None) -> int:
    """Drop and recount the rollup (one workspace's, or every one); returns the rows written.
    The repair path: the result is what the incremental refreshes keep."""
    rollup = ScoreDay.objects.all()
    raw = Response.objects.all()
    if workspace is not None:
        rollup, raw = rollup.filter(workspace=workspace), raw.filter(workspace=workspace)
    rollup.delete()
    rows = _counted(raw)
    ScoreDay.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def score_days_for_survey(*, survey: Survey) -> int:
    """Recount one survey's every day (after its CSAT top box changed)."""
    with transaction.atomic():
        ScoreDay.objects.filter(survey=survey).delete()
        rows = _counted(Response.objects.filter(survey=survey))
        ScoreDay.objects.bulk_create(rows, batch_size=2000)
    return len(rows)
