"""Reads for workflows: templates, runs (board, table, inbox), history, rules and firings, and
the closed-loop report. Keyword-only, workspace first."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from cxloop.core.models import Workspace
from cxloop.feedback import selectors as feedback_selectors
from cxloop.metrics import definitions as metric_definitions
from cxloop.workflows._calendar import calendar_definition, calendar_get
from cxloop.workflows._files import file_open, is_file
from cxloop.workflows._process_stats import median_p90, step_stats
from cxloop.workflows.models import (
    FiringStatus,
    HistoryEntry,
    Notice,
    Rule,
    RuleFiring,
    RunStatus,
    StepInstance,
    StepStatus,
    TemplateVersion,
    Trigger,
    WebhookDelivery,
    WorkflowRun,
    WorkflowTemplate,
)

__all__ = [
    "FiringStatus",
    "RunStatus",
    "StepStatus",
    "Trigger",
    "calendar_definition",
    "calendar_get",
    "file_open",
    "is_file",
    "median_p90",
    "step_stats",
]

AT_RISK_SHARE = 0.25  # an open step with less than a quarter of its time left is at risk


def template_list(*, workspace: Workspace) -> QuerySet[WorkflowTemplate]:
    return (
        WorkflowTemplate.objects.filter(workspace=workspace)
        .select_related("current")
        .annotate(
            open_runs=Count("runs", filter=Q(runs__status=RunStatus.OPEN)),
            all_runs=Count("runs"),
        )
    )


def template_get(*, workspace: Workspace, template_id: int) -> WorkflowTemplate | None:
    return (
        WorkflowTemplate.objects.filter(workspace=workspace, pk=template_id)
        .select_related("current")
        .first()
    )


def template_versions(*, template: WorkflowTemplate) -> QuerySet[TemplateVersion]:
    """A template's versions, newest first."""
    return template.versions.order_by("-number")


def template_version_get(*, template: WorkflowTemplate, number: int) -> TemplateVersion | None:
    return template.versions.filter(number=number).first()


def template_by_intake_token(*, token: str) -> WorkflowTemplate | None:
    return (
        WorkflowTemplate.objects.filter(intake_token=token, intake_public=True, archived=False)
        .select_related("current", "workspace")
        .first()
    )


def run_list(
    *,
    workspace: Workspace,
    status: str | None = None,
    template_id: int | None = None,
    assignee_id: int | None = None,
    customer_id: int | None = None,
    customer_ids: QuerySet | None = None,
) -> QuerySet[WorkflowRun]:
    """Runs, newest first, with their template, version and customer; ``assignee_id`` keeps
    runs whose open step is that member's; ``customer_ids`` (a subquery, e.g. a segment's
    members) keeps runs about those customers."""
    runs = WorkflowRun.objects.filter(workspace=workspace)
    if status:
        runs = runs.filter(status=status)
    if template_id:
        runs = runs.filter(template_id=template_id)
    if assignee_id:
        runs = runs.filter(steps__status=StepStatus.OPEN, steps__assignee_id=assignee_id)
    if customer_id:
        runs = runs.filter(customer_id=customer_id)
    if customer_ids is not None:
        runs = runs.filter(customer_id__in=customer_ids)
    return runs.select_related("template", "version", "customer").order_by("-started_at", "-pk")


def run_get(*, workspace: Workspace, run_id: int) -> WorkflowRun | None:
    return (
        WorkflowRun.objects.filter(workspace=workspace, pk=run_id)
        .select_related("template", "version", "customer", "started_by")
        .first()
    )


def run_steps(*, run: WorkflowRun) -> QuerySet[StepInstance]:
    return run.steps.select_related("assignee", "completed_by").order_by("position")


def run_history(*, run: WorkflowRun) -> QuerySet[HistoryEntry]:
    return run.history.select_related("step").order_by("at", "pk")


def open_steps(*, run_ids: Sequence[int]) -> dict[int, list[StepInstance]]:
    """The open steps of each run, in order (several while a group of parallel steps runs)."""
    steps = StepInstance.objects.filter(run_id__in=run_ids, status=StepStatus.OPEN)
    found: dict[int, list[StepInstance]] = {}
    for step in steps.select_related("assignee").order_by("run_id", "position"):
        found.setdefault(step.run_id, []).append(step)
    return found


def run_file(*, run: WorkflowRun, field: str, step_id: int | None = None) -> dict | None:
    """The record of a file answered in ``run`` (its intake form's, or step ``step_id``'s
    field ``field``), or None."""
    if step_id is None:
        answers = run.intake
    else:
        step = run.steps.filter(pk=step_id).first()
        answers = step.answers if step is not None else {}
    value = answers.get(field) if isinstance(answers, dict) else None
    return dict(value) if value is not None and is_file(value) else None


def step_get(*, workspace: Workspace, step_id: int) -> StepInstance | None:
    return (
        StepInstance.objects.filter(run__workspace=workspace, pk=step_id)
        .select_related("run", "run__version", "run__customer", "assignee")
        .first()
    )


def step_timing(step: StepInstance, now: datetime) -> str:
    """'overdue', 'at_risk' (under a quarter of its time left) or '' for an open step."""
    if step.status != StepStatus.OPEN or step.due_at is None:
        return ""
    if step.due_at < now:
        return "overdue"
    total = (step.due_at - (step.opened_at or step.run.started_at)).total_seconds()
    left = (step.due_at - now).total_seconds()
    return "at_risk" if total > 0 and left < total * AT_RISK_SHARE else ""


def tasks_for(*, workspace: Workspace, user, role: str | None) -> QuerySet[StepInstance]:
    """Open steps the member should do: theirs, and unassigned ones handed to their role."""
    mine = Q(assignee=user)
    if role:
        mine |= Q(assignee__isnull=True, role=role)
    return (
        StepInstance.objects.filter(mine, run__workspace=workspace, status=StepStatus.OPEN)
        .select_related("run", "run__customer", "run__template", "assignee")
        .order_by("due_at", "pk")
    )


def notices_for(*, workspace: Workspace, user, limit: int = 20) -> list[Notice]:
    return list(Notice.objects.filter(workspace=workspace, user=user).select_related("run")[:limit])


def board_version(*, workspace: Workspace) -> str:
    """Changes whenever any run of the workspace changes (every change writes history): the
    board's ETag, so polling re-renders only on change."""
    row = HistoryEntry.objects.filter(run__workspace=workspace).aggregate(
        last=Max("pk"), n=Count("pk")
    )
    return f"{row['last'] or 0}-{row['n']}"


def rule_list(*, workspace: Workspace) -> QuerySet[Rule]:
    return Rule.objects.filter(workspace=workspace).annotate(
        fired=Count("firings"), last_fired=Max("firings__at")
    )


def rule_get(*, workspace: Workspace, rule_id: int) -> Rule | None:
    return Rule.objects.filter(workspace=workspace, pk=rule_id).first()


def rule_firings(*, rule: Rule, limit: int = 50) -> list[RuleFiring]:
    return list(rule.firings.select_related("customer")[:limit])


def rule_deliveries(*, rule: Rule, limit: int = 30) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(firing__rule=rule).select_related("firing")[:limit])


def delivery_get(*, rule: Rule, delivery_id: int) -> WebhookDelivery | None:
    return (
        WebhookDelivery.objects.filter(firing__rule=rule, pk=delivery_id)
        .select_related("firing__rule")
        .first()
    )


def customer_runs(*, customer) -> QuerySet[WorkflowRun]:
    return (
        WorkflowRun.objects.filter(customer=customer)
        .select_related("template")
        .order_by("-started_at", "-pk")
    )


# ------------------------------------------------------------------ closed-loop report


@dataclass
class LoopReport:
    detractors: int  # responses a rule acted on (response_received firings)
    loops: int  # runs started by a rule from a response
    closed: int
    loop_rate: float | None  # closed loops / loops started
    first_contact_hours: tuple[float | None, float | None]  # median, p90
    close_hours: tuple[float | None, float | None]
    outcomes: list[tuple[str, int]]
    # closed loops whose customer answered NPS again after the close: how many, the mean change
    # of their score and its 95% Student's t interval (None below two)
    rescored: int = 0
    score_change: float | None = None
    score_change_interval: tuple[float, float] | None = None


def loop_report(*, workspace: Workspace, start: datetime, end: datetime) -> LoopReport:
    """Loops started by rules in [start, end): how many closed, how fast (hours from the run's
    start to its first completed step and to its close: median and p90, inclusive method)."""
    runs = list(
        WorkflowRun.objects.filter(
            workspace=workspace, source__startswith="rule:",
            started_at__gte=start, started_at__lt=end,
        ).values("status", "started_at", "first_contact_at", "closed_at", "outcome",
                 "customer_id", "context")
    )  # fmt: skip
    fired = RuleFiring.objects.filter(
        workspace=workspace, rule__trigger=Trigger.RESPONSE_RECEIVED, at__gte=start, at__lt=end
    ).count()
    done = [r for r in runs if r["status"] == RunStatus.DONE]
    hours = lambda a, b: (b - a).total_seconds() / 3600  # noqa: E731
    contact = [hours(r["started_at"], r["first_contact_at"]) for r in runs if r["first_contact_at"]]
    close = [hours(r["started_at"], r["closed_at"]) for r in done]
    outcomes: dict[str, int] = {}
    for r in done:
        outcomes[r["outcome"] or "(none)"] = outcomes.get(r["outcome"] or "(none)", 0) + 1
    changes = _score_changes(workspace, done)
    change = interval = None
    if changes:
        change = statistics.fmean(changes)
    if len(changes) >= 2:
        half = metric_definitions.t_quantile_975(len(changes) - 1) * statistics.stdev(changes)
        half /= len(changes) ** 0.5
        interval = (change - half, change + half)
    return LoopReport(
        rescored=len(changes),
        score_change=change,
        score_change_interval=interval,
        detractors=fired,
        loops=len(runs),
        closed=len(done),
        loop_rate=len(done) / len(runs) if runs else None,
        first_contact_hours=median_p90(contact),
        close_hours=median_p90(close),
        outcomes=sorted(outcomes.items(), key=lambda kv: -kv[1]),
    )


def _score_changes(workspace: Workspace, done: Sequence[Mapping[str, Any]]) -> list[float]:
    """For closed loops started from an NPS answer: the customer's next NPS answer after the
    close minus the one that started the loop."""
    changes = []
    responses = feedback_selectors.workspace_responses(workspace=workspace).filter(
        completed=True, nps_score__isnull=False
    )
    for run in done:
        before = run["context"].get("nps") if isinstance(run["context"], dict) else None
        if not isinstance(before, int | float) or run["customer_id"] is None:
            continue
        after = (
            responses.filter(customer_id=run["customer_id"], submitted_at__gt=run["closed_at"])
            .order_by("submitted_at", "pk")
            .values_list("nps_score", flat=True)
            .first()
        )
        if after is not None:
            changes.append(float(after - before))
    return changes


def now() -> datetime:
    return timezone.now()
