"""Reads for predictions: the latest run of a workspace, a customer's scores, value at risk."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from cxloop.core.models import Workspace
from cxloop.predict.models import CustomerScore, PredictionRun


def prediction_run_latest(*, workspace: Workspace) -> PredictionRun | None:
    return PredictionRun.objects.filter(workspace=workspace).order_by("-created_at", "-pk").first()


def prediction_runs(*, workspace: Workspace) -> QuerySet[PredictionRun]:
    return PredictionRun.objects.filter(workspace=workspace).order_by("-created_at", "-pk")


def customer_score_latest(*, workspace: Workspace, customer_id: int) -> CustomerScore | None:
    """The customer's scores from the newest run that scored them."""
    return (
        CustomerScore.objects.filter(workspace=workspace, customer_id=customer_id)
        .select_related("run")
        .order_by("-created_at", "-pk")
        .first()
    )


# what a segment condition or a rule may compare: name → CustomerScore column
SCORE_FIELDS = {
    "clv": "clv",
    "churn_risk": "churn_risk",
    "p_alive": "p_alive",
    "expected_purchases_30": "expected_30",
    "expected_purchases_90": "expected_90",
    "expected_purchases_365": "expected_365",
    "value_at_risk": "value_at_risk",
}


def score_values(score: CustomerScore | None) -> dict[str, float | None]:
    """A score's values by their SCORE_FIELDS names (all None for no score)."""
    return {name: getattr(score, column, None) for name, column in SCORE_FIELDS.items()}


def score_latest_value(*, workspace: Workspace, field: str, customer_ref: str = "pk") -> Subquery:
    """A correlated subquery: the latest score's ``field`` (a key of SCORE_FIELDS) of the customer
    whose id is the outer query's ``customer_ref``; NULL for a customer never scored. For
    annotations and filters on customer querysets (list columns, segment conditions)."""
    column = SCORE_FIELDS[field]
    return Subquery(
        CustomerScore.objects.filter(workspace=workspace, customer_id=OuterRef(customer_ref))
        .order_by("-created_at", "-pk")
        .values(column)[:1]
    )


def customer_score_history(
    *, workspace: Workspace, customer_id: int, limit: int = 50
) -> list[CustomerScore]:
    """The customer's scores, newest first (one per run)."""
    return list(
        CustomerScore.objects.filter(workspace=workspace, customer_id=customer_id).order_by(
            "-created_at", "-pk"
        )[:limit]
    )


def value_at_risk(
    *, workspace: Workspace, limit: int = 100, min_risk: float = 0.0, min_clv: float = 0.0
) -> tuple[PredictionRun | None, list[CustomerScore]]:
    """The latest run's customers by money at stake (CLV × churn risk), highest first; only
    those with a churn risk of at least ``min_risk`` (0–1) and a CLV of at least ``min_clv``."""
    run = prediction_run_latest(workspace=workspace)
    if run is None:
        return None, []
    scores = CustomerScore.objects.filter(run=run, value_at_risk__gt=0)
    if min_risk > 0:
        scores = scores.filter(churn_risk__gte=min_risk)
    if min_clv > 0:
        scores = scores.filter(clv__gte=min_clv)
    return run, list(scores.order_by("-value_at_risk", "customer_id")[:limit])


def prediction_run_before(*, workspace: Workspace, run: PredictionRun) -> PredictionRun | None:
    """The latest run measured as of an earlier time than ``run``: what the value-at-risk list's
    change compares with. A refit as of the same time (new settings, a rerun) is not a change
    in the customers, so it is passed over."""
    return (
        PredictionRun.objects.filter(workspace=workspace, as_of__lt=run.as_of)
        .order_by("-as_of", "-created_at", "-pk")
        .first()
    )


def previous_churn_risk(*, before: PredictionRun, customer_ids: list[int]) -> dict[int, float]:
    """Each customer's churn risk in ``before`` (``prediction_run_before`` the run shown; absent
    when not scored there): the trend the value-at-risk list shows."""
    rows = CustomerScore.objects.filter(
        run=before, customer_id__in=customer_ids, churn_risk__isnull=False
    ).values_list("customer_id", "churn_risk")
    return {customer_id: risk for customer_id, risk in rows if risk is not None}
