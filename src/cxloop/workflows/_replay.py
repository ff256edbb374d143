"""Test a rule against history: what it would have fired on in a past window, without acting.

Response, event, run and step rules replay their stored occurrences. The triggers the worker's
cycle evaluates replay what can be rebuilt: a segment's membership day by day (its conditions
anchored at each day's end; trait conditions read today's traits, which keep no history), a
metric's trailing window at each day's end, a schedule's due occurrences (``_triggers``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cxloop.core.models import Workspace
from cxloop.events import selectors as event_selectors
from cxloop.feedback import selectors as feedback_selectors
from cxloop.workflows import _runs, _triggers
from cxloop.workflows._facts import ExtraFacts, rule_choices, wants_customer, wants_extra
from cxloop.workflows._predictions import Predictions, wants_predictions
from cxloop.workflows._rules import event_facts, response_facts
from cxloop.workflows.definition import DefinitionError
from cxloop.workflows.models import StepInstance, StepStatus, Trigger, WorkflowRun
from cxloop.workflows.ruledefs import (
    PARAM_TRIGGERS,
    conditions_check,
    conditions_validate,
    params_validate,
)


@dataclass
class WouldFire:
    subject: str
    at: datetime
    customer: Any
    why: str


def _history(workspace: Workspace, trigger: str, conditions, start, end) -> Iterator[tuple]:
    """(subject, when, customer, facts) for each past occurrence of ``trigger`` in [start, end)."""
    if trigger == Trigger.RESPONSE_RECEIVED:
        responses = (
            feedback_selectors.workspace_responses(workspace=workspace)
            .filter(completed=True, submitted_at__gte=start, submitted_at__lt=end)
            .select_related("survey", "customer")
            .order_by("submitted_at", "pk")
        )
        for r in responses.iterator(chunk_size=2000):
            yield f"response:{r.pk}", r.submitted_at, r.customer, response_facts(r)
    elif trigger == Trigger.EVENT_RECEIVED:
        names = [c["value"] for c in conditions if c["field"] == "event" and c["op"] == "eq"]
        events = (
            event_selectors.workspace_events(workspace=workspace)
            .filter(name__in=[str(n) for n in names], occurred_at__gte=start, occurred_at__lt=end)
            .select_related("customer")
            .order_by("occurred_at", "pk")
        )
        for e in events.iterator(chunk_size=2000):
            yield f"event:{e.pk}", e.occurred_at, e.customer, event_facts(e, e.customer)
    elif trigger == Trigger.RUN_STARTED:
        runs = WorkflowRun.objects.filter(
            workspace=workspace, started_at__gte=start, started_at__lt=end
        )
        for run in runs.select_related("customer", "template").order_by("started_at"):
            yield f"run:{run.pk}", run.started_at, run.customer, _runs.run_facts(run)
    elif trigger in (Trigger.STEP_COMPLETED, Trigger.STEP_OVERDUE):
        field = "completed_at" if trigger == Trigger.STEP_COMPLETED else "overdue_at"
        status = StepStatus.DONE if trigger == Trigger.STEP_COMPLETED else None
        steps = StepInstance.objects.filter(
            run__workspace=workspace, **{f"{field}__gte": start, f"{field}__lt": end}
        ).select_related("run", "run__customer", "run__version")
        if status:
            steps = steps.filter(status=status)
        for step in steps.order_by(field):
            facts = {**_runs.run_facts(step.run), "step": step.key,
                     **{f"answer.{k}": v for k, v in step.answers.items()}}  # fmt: skip
            if step.due_at and step.overdue_at:
                facts["hours_overdue"] = round(
                    (step.overdue_at - step.due_at).total_seconds() / 3600, 1
                )
            yield f"{trigger}:{step.pk}", getattr(step, field), step.run.customer, facts


def rule_test(
    *, workspace: Workspace, trigger: str, conditions: Sequence[Any], start: datetime,
    end: datetime, limit: int = 200, params: Mapping[str, Any] | None = None,
) -> tuple[int, int, list[WouldFire]]:  # fmt: skip
    """Evaluate conditions over past occurrences in [start, end) without acting: (occurrences
    looked at, how many would have fired, the first ``limit`` of those). ``params``: what a
    segment, metric or schedule rule watches."""
    if trigger not in Trigger.values:
        raise DefinitionError([f"trigger: {trigger!r} is not one of {', '.join(Trigger.values)}"])
    named = [c for c in conditions if isinstance(c, dict)] if isinstance(conditions, list) else []
    choices = rule_choices(workspace) if wants_extra(named) else None
    conditions = conditions_validate(trigger, conditions, choices=choices)
    if end <= start:
        raise DefinitionError(["end: must be after start"])
    seen = fired = 0
    listed: list[WouldFire] = []
    # predictions: each customer's latest score (today's, not the one stored at the time: an
    # imported history is scored once, after its last event)
    predictions = Predictions(workspace) if wants_predictions(conditions) else None
    # segments and stages: today's membership (neither keeps its history); text analytics:
    # each response's stored analysis, or worked out now when it has none
    extra = ExtraFacts(workspace, conditions, bulk=True) if wants_extra(conditions) else None
    if trigger in PARAM_TRIGGERS:
        params = params_validate(trigger, params or {})
        occurrences = _triggers.replay(workspace, trigger, params, start, end)
    else:
        occurrences = _history(workspace, trigger, conditions, start, end)
    for subject, at, customer, facts in occurrences:
        seen += 1
        if predictions is not None:
            facts = {**facts, **predictions.facts(customer)}
        if extra is not None:
            facts = {**facts, **extra.facts(customer, facts)}
        held, why = conditions_check(conditions, facts)
        if held:
            fired += 1
            if len(listed) < limit:
                listed.append(WouldFire(subject, at, customer, why))
    return seen, fired, listed


CUSTOMER_NOTE = ("Segment and stage conditions are checked against today's membership and "
                 "stages: neither keeps its history.")  # fmt: skip


def replay_note(trigger: str, conditions: Sequence[Mapping[str, Any]]) -> str:
    """What a test against history cannot rebuild, in words, for the editor."""
    note = _triggers.REPLAY_NOTES.get(trigger, "")
    if wants_customer([c for c in conditions if isinstance(c, Mapping)]):
        note = f"{note} {CUSTOMER_NOTE}".strip()
    return note
