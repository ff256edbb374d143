"""Prediction pages: value at risk (customers by CLV × churn risk) and model health (when the
models were fitted, on what, and how well they forecast held-out data)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cxloop.core.permissions import Capability
from cxloop.customers import selectors as customer_selectors
from cxloop.predict import scoring
from cxloop.predict import selectors as predict_selectors
from cxloop.predict import services as predict_services
from cxloop.web.charts.embed import figure_json
from cxloop.web.charts.predict import calibration_figure, holdout_figure
from cxloop.web.forms import error_lines
from cxloop.web.forms.common import bad_params
from cxloop.web.forms.predict import PredictionSettingsForm, ValueAtRiskForm
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
    before = (
        predict_selectors.previous_churn_risk(
            workspace=workspace, run=run, customer_ids=[s.customer_id for s in scores]
        )
        if run is not None
        else {}
    )
    rows = [
        (
            s,
            customers.get(s.customer_id),
            None
            if s.churn_risk is None or s.customer_id not in before
            else round((s.churn_risk - before[s.customer_id]) * 100),
        )
        for s in scores
    ]
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
    return _model_health(request, None)


@capability_required(Capability.EDIT_SEGMENTS)
@require_POST
def prediction_settings(request: HttpRequest) -> HttpResponse:
    """Save what counts as a purchase and as churn, and refit in the background."""
    workspace = active_workspace(request)
    form = PredictionSettingsForm(request.POST)
    if not form.is_valid():
        return _model_health(request, form, status=422)
    predict_services.prediction_settings_update(
        workspace=workspace,
        purchase_event=form.cleaned_data["purchase_event"],
        churn_days=form.cleaned_data["churn_days"],
        cancel_event=form.cleaned_data["cancel_event"],
    )
    predict_services.predictions_refresh_request(workspace=workspace)
    messages.success(request, "Saved. The models are being refitted; reload in a minute.")
    return redirect("model-health")


def _model_health(
    request: HttpRequest, form: PredictionSettingsForm | None, *, status: int = 200
) -> HttpResponse:
    workspace = active_workspace(request)
    run = predict_selectors.prediction_run_latest(workspace=workspace)
    settings = predict_services.prediction_settings_get(workspace=workspace)
    context: dict = {
        "tab": "health",
        "run": run,
        "runs": list(predict_selectors.prediction_runs(workspace=workspace)[:10]),
        "min_repeat_buyers": scoring.MIN_REPEAT_BUYERS,
        "can_edit": can(request, Capability.EDIT_SEGMENTS),
        "settings_form": {
            "purchase_event": form.data.get("purchase_event", "")
            if form
            else settings.purchase_event,
            "churn_days": form.data.get("churn_days", "") if form else settings.churn_days,
            "cancel_event": form.data.get("cancel_event", "") if form else settings.cancel_event,
        },
        "settings_errors": error_lines(form) if form else [],
        "invalid": set(form.errors) if form else set(),
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
    return render(request, "predict/model_health.html", context, status=status)
