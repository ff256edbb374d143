"""Prediction runs and scores with chosen values, for tests of what reads them (list columns,
segment and rule conditions, the value-at-risk actions): the fitting itself is tested in
test_predict_models.py and test_predict_services.py."""

from __future__ import annotations

from datetime import UTC, datetime

from cxloop.predict.models import CustomerScore, PredictionRun

AS_OF = datetime(2025, 6, 1, tzinfo=UTC)


def run_make(workspace, *, created_at: datetime | None = None) -> PredictionRun:
    run = PredictionRun.objects.create(
        workspace=workspace,
        model_version="test",
        as_of=AS_OF,
        purchase_event="Order Completed",
        churn_days=90,
        customers=0,
        repeat_buyers=0,
        purchases=0,
    )
    if created_at is not None:
        PredictionRun.objects.filter(pk=run.pk).update(created_at=created_at)
        run.refresh_from_db()
    return run


def score_make(
    run: PredictionRun,
    customer_id: int,
    *,
    clv: float,
    churn_risk: float | None,
    p_alive: float = 0.5,
    expected_90: float = 1.0,
    created_at: datetime | None = None,
) -> CustomerScore:
    score = CustomerScore.objects.create(
        run=run,
        workspace_id=run.workspace_id,
        customer_id=customer_id,
        model_version=run.model_version,
        as_of=run.as_of,
        p_alive=p_alive,
        expected_30=expected_90 / 3,
        expected_90=expected_90,
        expected_365=expected_90 * 4,
        expected_spend=10.0,
        clv=clv,
        clv_low=clv * 0.8,
        clv_high=clv * 1.2,
        churn_risk=churn_risk,
        value_at_risk=clv * (churn_risk or 0.0),
        reasons=[{"text": "No purchase for 100 days"}] if churn_risk else [],
    )
    CustomerScore.objects.filter(pk=score.pk).update(created_at=created_at or run.created_at)
    score.refresh_from_db()
    return score
