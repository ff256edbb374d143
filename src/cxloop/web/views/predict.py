"""Prediction pages: value at risk (customers by CLV × churn risk) and model health (when the
models were fitted, on what, and how well they forecast held-out data)."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_POST

from cxloop.core.permissions import Capability
from cxloop.customers import selectors as customer_selectors
from cxloop.predict import scoring
from cxloop.predict import selectors as predict_selectors
from cxloop.predict import services as predict_services
from cxloop.segments import selectors as segment_selectors
from cxloop.segments import services as segment_services
from cxloop.web.charts.embed import figure_json
from cxloop.web.charts.predict import calibration_figure, holdout_figure
from cxloop.web.forms import error_lines
from cxloop.web.forms.common import bad_params
from cxloop.web.forms.predict import PredictionSettingsForm, StartWorkflowForm, ValueAtRiskForm
from cxloop.web.workspace import active_workspace, can, capability_required
from cxloop.workflows import selectors as workflow_selectors
from cxloop.workflows import services as workflow_services

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
    chosen = form.chosen()
    run, scores = _listed(workspace, chosen)
    customers = {
        c.pk: c
        for c in customer_selectors.customers_by_ids(
            workspace=workspace, ids=[s.customer_id for s in scores]
        )
    }
    previous = (
        predict_selectors.prediction_run_before(workspace=workspace, run=run)
        if run is not None
        else None
    )
    before = (
        predict_selectors.previous_churn_risk(
            before=previous, customer_ids=[s.customer_id for s in scores]
        )
        if previous is not None
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
    can_work = can(request, Capability.WORK_TASKS)
    context = {
        "tab": "at-risk",
        "run": run,
        "previous": previous,
        "rows": rows,
        "total_at_risk": sum(s.value_at_risk for s in scores),
        "min_risk": chosen["min_risk"],
        "min_clv": chosen["min_clv"],
        "limit": chosen["limit"],
        "risk_choices": [0, 30, 50, 70],
        "can_analytics": can(request, Capability.READ_ANALYTICS),
        "can_build_segment": can(request, Capability.EDIT_SEGMENTS),
        "can_start_workflow": can_work,
        "templates": [
            t
            for t in workflow_selectors.template_list(workspace=workspace).order_by("name")
            if not t.archived and t.current_id
        ]
        if can_work
        else [],
    }
    return render(request, "predict/value_at_risk.html", context)


def _listed(workspace, chosen: dict[str, int]):
    return predict_selectors.value_at_risk(
        workspace=workspace,
        limit=chosen["limit"],
        min_risk=chosen["min_risk"] / 100,
        min_clv=chosen["min_clv"],
    )


def _back(chosen: dict[str, int]) -> HttpResponse:
    """To the value-at-risk list with the same filter."""
    shown = {k: v for k, v in chosen.items() if v != ValueAtRiskForm.defaults[k]}
    query = f"?{urlencode(shown)}" if shown else ""
    return redirect(reverse("value-at-risk") + query)


@capability_required(Capability.EDIT_SEGMENTS)
@require_POST
def value_at_risk_segment(request: HttpRequest) -> HttpResponse:
    """Save the list's filter as a segment of prediction conditions and open it."""
    workspace = active_workspace(request)
    form = ValueAtRiskForm(request.POST)
    if not form.is_valid():
        return bad_params(request, form)
    chosen = form.chosen()
    conditions: list[dict] = [
        {"prediction": "churn_risk", "op": "gte", "value": chosen["min_risk"] / 100},
        {"prediction": "value_at_risk", "op": "gt", "value": 0},
    ]
    if chosen["min_clv"]:
        conditions.insert(1, {"prediction": "clv", "op": "gte", "value": chosen["min_clv"]})
    name = f"At risk: churn risk ≥ {chosen['min_risk']}%"
    if chosen["min_clv"]:
        name += f", CLV ≥ {chosen['min_clv']:,}"
    taken = {s.name.lower() for s in segment_selectors.segment_list(workspace=workspace)}
    unique, number = name, 1
    while unique.lower() in taken:
        number += 1
        unique = f"{name} ({number})"
    segment = segment_services.segment_create(
        workspace=workspace,
        name=unique,
        description="Built from the value-at-risk list (each customer's latest score).",
        definition={"all": conditions},
        created_by=request.user,
    )
    messages.success(request, f"Saved the segment “{segment.name}”.")
    return redirect("segment-detail", segment_id=segment.pk)


@capability_required(Capability.WORK_TASKS)
@require_POST
def value_at_risk_workflow(request: HttpRequest) -> HttpResponse:
    """Start the chosen workflow for every customer the list shows (not for those with a run of
    it still open) and say how many were started."""
    workspace = active_workspace(request)
    form = StartWorkflowForm(request.POST)
    if not form.is_valid():
        filters = ValueAtRiskForm(request.POST)
        if not filters.is_valid():
            return bad_params(request, filters)
        messages.error(request, f"Choose a workflow to start ({error_lines(form)[0]}).")
        return _back(filters.chosen())
    chosen = form.chosen()
    template = workflow_selectors.template_get(
        workspace=workspace, template_id=form.cleaned_data["template"]
    )
    if template is None:
        messages.error(request, "That workflow is not in this workspace.")
        return _back(chosen)
    _, scores = _listed(workspace, chosen)
    try:
        started, skipped = workflow_services.runs_start_for_customers(
            template=template,
            customer_ids=[s.customer_id for s in scores],
            source="value at risk",
            actor=request.user,
        )
    except workflow_services.RunError as exc:
        messages.error(request, f"{template.name}: {'; '.join(exc.errors)}")
        return _back(chosen)
    text = f"Started {len(started)} run{pluralize(len(started))} of “{template.name}”."
    if skipped:
        text += f" {skipped} customer{pluralize(skipped)} skipped: a run of it is still open."
    messages.success(request, text)
    return _back(chosen)


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
        for cut in ("train_cut_day", "test_cut_day"):  # days since 1970-01-01 (UTC)
            if isinstance(churn.get(cut), int | float):
                context[cut.removesuffix("_day")] = date(1970, 1, 1) + timedelta(days=churn[cut])
        if churn.get("calibration"):
            context["calibration_json"] = figure_json(calibration_figure(churn["calibration"]))
        coefficients = churn.get("coefficients") or {}
        context["coefficients"] = sorted(
            coefficients.items(), key=lambda item: abs(item[1] or 0), reverse=True
        )
    return render(request, "predict/model_health.html", context, status=status)
