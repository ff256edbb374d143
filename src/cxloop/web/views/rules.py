"""Rule pages: the list with how often each fired, and the form-based editor (WHEN, IF rows,
THEN rows; htmx redraws the form) with "test against history" and the recent firings."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cxloop.core import selectors as core_selectors
from cxloop.core.permissions import Capability
from cxloop.feedback import selectors as feedback_selectors
from cxloop.segments import selectors as segment_selectors
from cxloop.web.forms import error_lines
from cxloop.web.forms.workflows import (
    ACTION_FIELDS,
    PARAM_FIELDS,
    EditorForm,
    TriggerParamsForm,
    action_row,
    condition_row,
)
from cxloop.web.views._rule_choices import action_rows, condition_rows, editor_choices
from cxloop.web.views.workflows import saved_redirect
from cxloop.web.workspace import active_workspace, capability_required
from cxloop.workflows import selectors, services
from cxloop.workflows.definition import OPS, ROLES
from cxloop.workflows.ruledefs import (
    ACTIONS,
    FACTS,
    PREFIXES,
    describe_action,
    describe_params,
)

TEST_DAYS = 30
PARAM_LABELS = {"segment_id": "segment", "survey_id": "survey", "template_id": "template"}


@capability_required(Capability.MANAGE_WORKFLOWS)
def rule_list(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    names = {str(s.pk): s.name for s in segment_selectors.segment_list(workspace=workspace)}
    rules = [
        {"rule": r, "actions": [describe_action(a) for a in r.actions],
         "trigger": selectors.Trigger(r.trigger).label,
         "watches": describe_params(r.trigger, r.params, names)}
        for r in selectors.rule_list(workspace=workspace)
    ]  # fmt: skip
    return render(request, "workflows/rules.html", {"rules": rules, "tab": "rules"})


@capability_required(Capability.MANAGE_WORKFLOWS)
def rule_new(request: HttpRequest) -> HttpResponse:
    return _editor(request, None)


@capability_required(Capability.MANAGE_WORKFLOWS)
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = selectors.rule_get(workspace=active_workspace(request), rule_id=rule_id)
    if rule is None:
        raise Http404("No such rule in this workspace.")
    return _editor(request, rule)


@capability_required(Capability.MANAGE_WORKFLOWS)
@require_POST
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = selectors.rule_get(workspace=active_workspace(request), rule_id=rule_id)
    if rule is None:
        raise Http404("No such rule in this workspace.")
    services.rule_delete(rule=rule)
    return redirect("rule-list")


def _rows(data, counts: dict[str, int], errors: list[str]) -> tuple[list[dict], list[dict]]:
    conditions, actions = [], []
    for i in range(counts["conditions"]):
        row = condition_row(data, i)
        row.is_valid()
        errors.extend(f"condition {i + 1}: {line}" for line in error_lines(row))
        conditions.append({k: row.cleaned_data.get(k, "") for k in ("field", "op", "value")})
    for i in range(counts["actions"]):
        row = action_row(data, i)
        row.is_valid()
        errors.extend(f"action {i + 1}: {line}" for line in error_lines(row))
        action = {k: row.cleaned_data.get(k, "") for k in (*ACTION_FIELDS, "body")}
        actions.append(
            {k: v for k, v in action.items() if v not in ("", None)}
            | {"type": action["type"] or "notify"}
        )
    return conditions, actions


def _apply(op: str, conditions: list[dict], actions: list[dict], trigger: str) -> None:
    name, _, number = op.partition("-")
    i = int(number) if number else -1
    if name == "add_condition" and len(conditions) < 20:
        conditions.append(
            {"field": next(iter(FACTS.get(trigger, {"nps": ""}))), "op": "eq", "value": ""}
        )
    elif name == "add_action" and len(actions) < 10:
        actions.append({"type": "notify", "role": "agent", "text": ""})
    elif name == "remove_condition" and 0 <= i < len(conditions):
        conditions.pop(i)
    elif name == "remove_action" and 0 <= i < len(actions):
        actions.pop(i)


def _day_range(chosen: dict) -> tuple[datetime, datetime]:
    end_day = chosen.get("end") or datetime.now(UTC).date()
    start_day = chosen.get("start") or end_day - timedelta(days=TEST_DAYS - 1)
    return (datetime.combine(start_day, time(), UTC),
            datetime.combine(end_day, time(), UTC) + timedelta(days=1))  # fmt: skip


def _typed_params(data) -> dict[str, str]:
    """The trigger fields as posted (a redraw shows them back unchecked)."""
    return {
        name: str(data.get(f"p-{name}", ""))[:200]
        for name in TriggerParamsForm.base_fields
        if data.get(f"p-{name}") not in (None, "")
    }


def _editor(request: HttpRequest, rule) -> HttpResponse:
    workspace = active_workspace(request)
    errors: list[str] = []
    status = 200
    tested: dict[str, Any] | None = None
    form = EditorForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        form.is_valid()
        errors = error_lines(form)
        name = form.cleaned_data.get("name") or ""
        trigger = form.cleaned_data.get("trigger") or "response_received"
        active = bool(form.cleaned_data.get("active"))
        conditions, actions = _rows(request.POST, form.counts(), errors)
        op = form.cleaned_data.get("op") or "save"
        if op in ("save", "test"):  # checked when it counts; a redraw shows what was typed
            pform = TriggerParamsForm(request.POST, trigger=trigger)
            if trigger in PARAM_FIELDS and not pform.is_valid():
                errors.extend(error_lines(pform, PARAM_LABELS))
        else:
            typed = {"days": 30 if trigger == "metric_crossed" else 3, "direction": "below",
                     "time": "09:00", **_typed_params(request.POST)}  # fmt: skip
            pform = TriggerParamsForm(initial=typed, trigger=trigger)
        params = pform.params() if pform.is_bound else {}
        if op.startswith("resend-") and rule is not None:
            delivery = selectors.delivery_get(rule=rule, delivery_id=int(op.split("-")[1]))
            if delivery is None:
                raise Http404("No such delivery of this rule.")
            services.delivery_resend(delivery=delivery)
            return saved_redirect(request, reverse("rule-edit", args=[rule.pk]))
        if op == "test" and not errors:
            start, end = _day_range(form.cleaned_data)
            try:
                seen, fired, listed = services.rule_test(
                    workspace=workspace, trigger=trigger, conditions=conditions,
                    start=start, end=end, params=params,
                )  # fmt: skip
            except services.DefinitionError as exc:
                errors, status = exc.errors, 422
                pform.add_domain_errors(exc.errors)
            else:
                tested = {"seen": seen, "fired": fired, "listed": listed,
                          "start": start.date(), "end": (end - timedelta(days=1)).date()}  # fmt: skip
        elif op == "save" and not errors:
            try:
                if rule is None:
                    rule = services.rule_create(
                        workspace=workspace, name=name, trigger=trigger, conditions=conditions,
                        actions=actions, active=active, params=params,
                    )  # fmt: skip
                else:
                    services.rule_update(rule=rule, name=name, trigger=trigger, params=params,
                                         conditions=conditions, actions=actions, active=active)  # fmt: skip
            except services.DefinitionError as exc:
                errors = exc.errors
                pform.add_domain_errors(exc.errors)
            else:
                return saved_redirect(request, reverse("rule-edit", args=[rule.pk]))
        elif op not in ("save", "test"):
            _apply(op, conditions, actions, trigger)
        if errors and op in ("save", "test"):
            status = 422
    elif rule is not None:
        name, trigger, active = rule.name, rule.trigger, rule.active
        conditions, actions = [dict(c) for c in rule.conditions], [dict(a) for a in rule.actions]
        pform = TriggerParamsForm(initial=dict(rule.params), trigger=trigger)
    else:
        pform = TriggerParamsForm(initial={"days": 30, "direction": "below"}, trigger="")
        name, trigger, active = "", "response_received", False
        conditions = [{"field": "nps", "op": "lte", "value": 6}]
        actions = [{"type": "notify", "role": "agent", "text": ""}]
    start, end = _day_range(form.cleaned_data if form.is_bound else {})
    choices = editor_choices(workspace, trigger)
    context = {
        "rule": rule, "name": name, "trigger": trigger, "active": active,
        "conditions": condition_rows(conditions, choices, errors),
        "actions": action_rows(actions, errors), "errors": errors, "tested": tested,
        "triggers": selectors.Trigger.choices, "facts": choices.facts,
        "rule_segments": choices.segments,
        "prefixes": PREFIXES.get(trigger, ()), "ops": OPS, "action_types": ACTIONS,
        "templates": selectors.template_list(workspace=workspace), "roles": ROLES,
        "workers": [m for m in core_selectors.members(workspace=workspace) if m.role in ROLES],
        "firings": selectors.rule_firings(rule=rule) if rule else [],
        "deliveries": selectors.rule_deliveries(rule=rule) if rule else [],
        "has_webhook": any(a.get("type") == "webhook" for a in actions),
        "start": start.date(), "end": (end - timedelta(days=1)).date(), "tab": "rules",
        "pform": pform, "param_fields": PARAM_FIELDS.get(trigger, ()),
        "segments": segment_selectors.segment_list(workspace=workspace),
        "surveys": feedback_selectors.workspace_surveys(workspace=workspace),
        "replay_note": services.replay_note(trigger, conditions),
    }  # fmt: skip
    return render(request, "workflows/rule_editor.html", context, status=status)
