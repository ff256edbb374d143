"""Prediction pages: value at risk (customers by CLV × churn risk) and model health (when the
models were fitted, on what, and how well they forecast held-out data)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cxloop.core.permissions import Capability
from cxloop.customers import selectors as customer_selectors
from cxloop.predict import scoring
from cxloop.predict import selectors as predict_selectors
from cxloop.web.charts.embed import figure_json
from cxloop.web.charts.predict import calibration_figure, holdout_figure
from cxloop.web.forms.common import bad_params
from cxloop.web.forms.predict import ValueAtRiskForm
from cxloop.web.workspace import active_workspace, can, capability_required

PARAMETER_LABELS = {
    "r": "r (purchase-rate shape)",
    "alpha": "α (purchase-rate scale, days)",
    "a": "a (drop-out shape)",
    "b": "b (drop-out shape)",
    "p": "p (spend shape)",
    "q": "q (spend-variation shape)",
    "gamma": "γ (spend-variation scale)",
    "log_likelihood": "log-likelihood",
}


@capability_required(Capability.READ_CUSTOMERS)
def value_at_risk(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    form = ValueAtRiskForm(request.GET)
    if not form.is_valid():
        return bad_params(request, form)
    min_risk = form.cleaned_data.get("min_risk")
    limit = form.cleaned_data.get("limit") or ValueAtRiskForm.defaults["limit"]
    min_risk = ValueAtRiskForm.defaults["min_risk"] if min_risk is None else min_risk
    run, scores = predict_selectors.value_at_risk(
        workspace=workspace, limit=limit, min_risk=min_risk / 100
    )
    customers = {
        c.pk: c
        for c in customer_selectors.customers_by_ids(
            workspace=workspace, ids=[s.customer_id for s in scores]
        )
    }
    rows = [(s, customers.get(s.customer_id)) for s in scores]
    context = {
        "tab": "at-risk",
        "run": run,
        "rows": rows,
        "total_at_risk": sum(s.value_at_risk for s in scores),
        "min_risk": min_risk,
        "risk_choices": [0, 30, 50, 70],
        "can_analytics": can(request, Capability.READ_ANALYTICS),
    }
    return render(request, "predict/value_at_risk.html", context)


@capability_required(Capability.READ_ANALYTICS)
def model_health(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    run = predict_selectors.prediction_run_latest(workspace=workspace)
    context: dict = {
        "tab": "health",
        "run": run,
        "runs": list(predict_selectors.prediction_runs(workspace=workspace)[:10]),
        "min_repeat_buyers": scoring.MIN_REPEAT_BUYERS,
    }
    if run is not None:
        params = run.parameters or {}
        context["parameter_rows"] = [
            (model, [(PARAMETER_LABELS.get(k, k), v) for k, v in values.items() if k != "unit"])
            for model, values in (
                ("Purchases (BG/NBD)", params.get("bgnbd") or {}),
                ("Spend (Gamma-Gamma)", params.get("gamma_gamma") or {}),
            )
            if values
        ]
        holdout = (run.validation or {}).get("holdout") or {}
        churn = (run.validation or {}).get("churn") or {}
        context["holdout"] = holdout
        context["churn"] = churn
        if holdout.get("groups"):
            context["holdout_json"] = figure_json(holdout_figure(holdout["groups"]))
        if churn.get("calibration"):
            context["calibration_json"] = figure_json(calibration_figure(churn["calibration"]))
        coefficients = churn.get("coefficients") or {}
        context["coefficients"] = sorted(
            coefficients.items(), key=lambda item: abs(item[1] or 0), reverse=True
        )
    return render(request, "predict/model_health.html", context)
