"""REST routes for predictions (mounted under /api/ by cxloop.api.rest): a customer's CLV and
churn scores, the value-at-risk list and the latest model run."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.errors import HttpError

from cxloop.api.access import request_workspace
from cxloop.api.errors import ERRORS
from cxloop.api.params import id_param, limit_param
from cxloop.core.permissions import Capability
from cxloop.customers import selectors as customer_selectors
from cxloop.predict import selectors as predict_selectors

router = Router(tags=["predictions"])


class ScoreReason(Schema):
    feature: str
    text: str
    weight: float


class CustomerScoreOut(Schema):
    customer_id: int
    run_id: int
    model_version: str
    as_of: datetime
    created_at: datetime
    p_alive: float
    expected_purchases_30d: float
    expected_purchases_90d: float
    expected_purchases_365d: float
    expected_spend: float
    clv: float
    clv_low: float
    clv_high: float
    churn_risk: float | None
    value_at_risk: float
    reasons: list[ScoreReason]


class CustomerScoresOut(Schema):
    latest: CustomerScoreOut | None
    history: list[CustomerScoreOut]


class PredictionRunOut(Schema):
    id: int
    model_version: str
    as_of: datetime
    created_at: datetime
    purchase_event: str
    churn_days: int
    customers: int
    repeat_buyers: int
    purchases: int
    parameters: dict
    validation: dict
    warnings: list[str]


class ValueAtRiskOut(Schema):
    run: PredictionRunOut | None
    customers: list[CustomerScoreOut]


def _score(row) -> dict:
    return {
        "customer_id": row.customer_id,
        "run_id": row.run_id,
        "model_version": row.model_version,
        "as_of": row.as_of,
        "created_at": row.created_at,
        "p_alive": row.p_alive,
        "expected_purchases_30d": row.expected_30,
        "expected_purchases_90d": row.expected_90,
        "expected_purchases_365d": row.expected_365,
        "expected_spend": row.expected_spend,
        "clv": row.clv,
        "clv_low": row.clv_low,
        "clv_high": row.clv_high,
        "churn_risk": row.churn_risk,
        "value_at_risk": row.value_at_risk,
        "reasons": row.reasons or [],
    }


def _run(run) -> dict | None:
    if run is None:
        return None
    return {
        "id": run.pk,
        "model_version": run.model_version,
        "as_of": run.as_of,
        "created_at": run.created_at,
        "purchase_event": run.purchase_event,
        "churn_days": run.churn_days,
        "customers": run.customers,
        "repeat_buyers": run.repeat_buyers,
        "purchases": run.purchases,
        "parameters": run.parameters,
        "validation": run.validation,
        "warnings": run.warnings,
    }


@router.get(
    "/customers/{customer_id}/scores",
    response={200: CustomerScoresOut, **ERRORS},
    summary="A customer's CLV and churn scores (latest and earlier runs)",
)
def customer_scores(
    request: HttpRequest,
    customer_id: int = id_param(),
    workspace: str | None = None,
    limit: int = limit_param(20),
):
    ws = request_workspace(request, workspace, need=Capability.READ_CUSTOMERS)
    customer = customer_selectors.customer_get(workspace=ws, customer_id=customer_id)
    if customer is None:
        raise HttpError(404, f"customer {customer_id}: not found in this workspace")
    target = customer.merged_into_id or customer.pk
    history = predict_selectors.customer_score_history(
        workspace=ws, customer_id=target, limit=limit
    )
    rows = [_score(row) for row in history]
    return {"latest": rows[0] if rows else None, "history": rows}


@router.get(
    "/predictions/value-at-risk",
    response={200: ValueAtRiskOut, **ERRORS},
    summary="Customers by money at stake (CLV × churn risk), from the latest run",
)
def value_at_risk(
    request: HttpRequest,
    workspace: str | None = None,
    limit: int = limit_param(100),
    min_risk: float = Query(0.0, ge=0.0, le=1.0, description="Lowest churn risk, 0–1"),
):
    ws = request_workspace(request, workspace, need=Capability.READ_CUSTOMERS)
    run, rows = predict_selectors.value_at_risk(workspace=ws, limit=limit, min_risk=min_risk)
    return {"run": _run(run), "customers": [_score(row) for row in rows]}


@router.get(
    "/predictions/latest",
    response={200: PredictionRunOut, **ERRORS},
    summary="The latest model run: parameters, validation and warnings",
)
def latest_run(request: HttpRequest, workspace: str | None = None):
    ws = request_workspace(request, workspace, need=Capability.READ_ANALYTICS)
    run = predict_selectors.prediction_run_latest(workspace=ws)
    if run is None:
        raise HttpError(
            404, "no prediction run yet: run `cxloop predict` or wait for the daily run"
        )
    return _run(run)
