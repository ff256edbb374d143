"""Run writes: start, complete a step, cancel (a step's assignee and deadline: ``_steps``).

Every change writes a :class:`HistoryEntry` (who, what, when). Steps run in their version's
order, a group of parallel steps all at once (the run moves on when each of them is done or
skipped); a step whose condition on earlier answers does not hold is skipped. Rules listening to
``run_started``, ``step_completed`` and ``step_overdue`` fire after the change (``chain``: the
rule ids whose actions led here, for loop detection).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from cxloop.core import selectors as core_selectors
from cxloop.customers import selectors as customer_selectors
from cxloop.feedback import selectors as feedback_selectors
from cxloop.workflows._calendar import calendar_get
from cxloop.workflows._files import file_records, files_discard, files_store, is_file
from cxloop.workflows.definition import OWNER_TRAIT, ROLES, fill, step_groups, step_shown
from cxloop.workflows.forms import answers_clean, answers_form_class, form_errors
from cxloop.workflows.models import (
    HistoryEntry,
    RunStatus,
    StepInstance,
    StepStatus,
    WorkflowRun,
    WorkflowTemplate,
)

log = logging.getLogger(__name__)


class RunError(ValueError):
    """A run change that cannot be made; ``errors`` name the field."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _label(actor) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return actor.get_username()


def _user(actor):
    return actor if getattr(actor, "pk", None) and not isinstance(actor, str) else None


def history_add(
    *, run: WorkflowRun, action: str, actor=None, step: StepInstance | None = None,
    detail: Mapping[str, Any] | None = None, at: datetime | None = None,
) -> HistoryEntry:  # fmt: skip
    """Record one action on a run (services call this; nothing else writes history)."""
    return HistoryEntry.objects.create(
        run=run,
        step=step,
        actor=_user(actor),
        actor_label=_label(actor)[:150],
        action=action,
        detail=dict(detail or {}),
        at=at or timezone.now(),
    )


# ------------------------------------------------------------------ assignment


def _workers(workspace, role: str | None = None) -> list:
    """Members who may work on tasks (ordered by user id), optionally of one role."""
    memberships = core_selectors.members(workspace=workspace).filter(role__in=ROLES)
    if role:
        memberships = memberships.filter(role=role)
    return sorted((m.user for m in memberships), key=lambda u: u.pk)


def _resolve_assignee(run: WorkflowRun, step: StepInstance, rule: Mapping[str, Any]):
    """(user or None, role or '') for an assignee rule."""
    kind = rule.get("kind", "unassigned")
    if kind == "member":
        by_id = {u.pk: u for u in _workers(run.workspace)}
        return by_id.get(rule.get("user_id")), ""
    if kind == "role":
        return None, rule["role"]
    if kind == "owner":  # the member the customer's owner trait names, else anyone with the role
        traits = (
            run.customer.traits if run.customer and isinstance(run.customer.traits, dict) else {}
        )
        owner = str(traits.get(OWNER_TRAIT) or "").strip().lower()
        if owner:
            for user in _workers(run.workspace):
                if owner in (user.get_username().lower(), (user.email or "").lower()):
                    return user, ""
        return None, rule["role"]
    if kind == "round_robin":
        workers = _workers(run.workspace, rule["role"])
        if not workers:
            return None, rule["role"]
        last = (
            StepInstance.objects.filter(
                run__template_id=run.template_id, key=step.key, assignee__in=workers
            )
            .exclude(pk=step.pk)
            .order_by("-opened_at", "-pk")
            .values_list("assignee_id", flat=True)
            .first()
        )
        following = [u for u in workers if last is not None and u.pk > last]
        return (following or workers)[0], ""
    return None, ""


# ------------------------------------------------------------------ start and advance


def _answers_by_step(run: WorkflowRun) -> dict[str, dict]:
    return {s.key: s.answers for s in run.steps.all() if s.status == StepStatus.DONE}


def _advance(run: WorkflowRun, at: datetime, actor=None) -> None:
    """Open the next group of steps (one step, or the steps marked to run in parallel with it):
    every step of it whose condition holds opens at once, the others are skipped. While any
    step is open the run stays where it is; when no step is left it closes."""
    steps = list(run.steps.order_by("position"))
    if any(s.status == StepStatus.OPEN for s in steps):
        return
    answers = {s.key: s.answers for s in steps if s.status == StepStatus.DONE}
    definitions = run.version.steps
    for group in step_groups(definitions):
        waiting = [steps[i] for i in group if steps[i].status == StepStatus.WAITING]
        opened = 0
        for step in waiting:
            definition = definitions[step.position]
            if step_shown(definition.get("condition"), answers):
                _open(run, step, definition, at, actor)
                opened += 1
            else:
                step.status = StepStatus.SKIPPED
                step.completed_at = at
                step.save(update_fields=["status", "completed_at"])
                history_add(run=run, step=step, action="skipped", actor=actor, at=at,
                            detail={"condition": definition.get("condition")})  # fmt: skip
        if opened:
            return
    run.status = RunStatus.DONE
    run.closed_at = at
    run.save(update_fields=["status", "closed_at"])
    history_add(run=run, action="closed", actor=actor, at=at)


def _open(run: WorkflowRun, step: StepInstance, definition: Mapping, at: datetime, actor) -> None:
    """Open one step: its assignee, and its deadline (``previous``: counted from ``at``, when
    its group opened)."""
    step.status = StepStatus.OPEN
    step.opened_at = at
    hours = definition.get("deadline_hours")
    if hours is not None:
        base = run.started_at if definition.get("deadline_from") == "start" else at
        calendar = (
            calendar_get(workspace_id=run.workspace_id)
            if definition.get("deadline_business")
            else None
        )
        step.due_at = calendar.add(base, hours) if calendar else base + timedelta(hours=hours)
    step.assignee, step.role = _resolve_assignee(run, step, definition["assignee"])
    step.save(update_fields=["status", "opened_at", "due_at", "assignee", "role"])
    history_add(run=run, step=step, action="opened", actor=actor, at=at, detail={
        "assignee": step.assignee.get_username() if step.assignee else "",
        "role": step.role, "due_at": step.due_at.isoformat() if step.due_at else None,
    })  # fmt: skip


def run_start(
    *,
    template: WorkflowTemplate,
    customer=None,
    title: str = "",
    source: str = "manual",
    context: Mapping[str, Any] | None = None,
    intake: Mapping[str, Any] | None = None,
    actor=None,
    at: datetime | None = None,
    chain: Sequence[int] = (),
) -> WorkflowRun:
    """Start a run of the template's current version (tied to ``customer``, a profile of the
    same workspace: a merged tombstone is followed to its survivor). Opens the first step."""
    if template.archived:
        raise RunError(["template: archived workflows start no runs"])
    version = template.current
    if version is None:
        raise RunError(["template: has no version"])
    if customer is not None:
        if customer.workspace_id != template.workspace_id:
            raise RunError(["customer: not in this workspace"])
        while customer.merged_into_id:
            customer = customer_selectors.customer_get(
                workspace=template.workspace, customer_id=customer.merged_into_id
            )
    at = at or timezone.now()
    who = str(customer) if customer is not None else ""
    with transaction.atomic():
        run = WorkflowRun.objects.create(
            workspace_id=template.workspace_id,
            template=template,
            version=version,
            customer=customer,
            title=(title or (f"{template.name}: {who}" if who else template.name))[:200],
            source=source[:64],
            context=dict(context or {}),
            intake=dict(intake or {}),
            started_by=_user(actor),
            started_at=at,
        )
        StepInstance.objects.bulk_create(
            StepInstance(run=run, position=i, key=d["key"], title=d["title"])
            for i, d in enumerate(version.steps)
        )
        history_add(run=run, action="started", actor=actor, at=at,
                    detail={"version": version.number, "source": run.source})  # fmt: skip
        _advance(run, at, actor)
    _fire("run_started", run, None, chain, at=at)
    return run


def runs_start_for_customers(
    *,
    template: WorkflowTemplate,
    customer_ids: Sequence[int],
    source: str = "manual",
    actor=None,
    context: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> tuple[list[WorkflowRun], int]:
    """One run of ``template`` for each live customer of ``customer_ids`` (in that order) who has
    no open run of it yet: (the runs started, how many were skipped). Merged profiles count as
    their survivor, once."""
    if template.archived or template.current is None:
        raise RunError(["template: archived workflows start no runs"
                        if template.archived else "template: has no version"])  # fmt: skip
    survivors = customer_selectors.customer_survivor_ids(customer_ids=customer_ids)
    wanted = list(dict.fromkeys(survivors.get(pk, pk) for pk in customer_ids))
    busy = set(
        WorkflowRun.objects.filter(
            template=template, status=RunStatus.OPEN, customer_id__in=wanted
        ).values_list("customer_id", flat=True)
    )
    live = {
        c.pk: c
        for c in customer_selectors.customers_by_ids(workspace=template.workspace, ids=wanted)
        if c.merged_into_id is None
    }
    started = []
    for pk in wanted:
        if pk in live and pk not in busy:
            started.append(run_start(template=template, customer=live[pk], source=source,
                                     context=context, actor=actor, at=at))  # fmt: skip
    return started, len(customer_ids) - len(started)


# ------------------------------------------------------------------ step work


def _open_step(step: StepInstance) -> StepInstance:
    locked = StepInstance.objects.select_for_update().select_related("run").get(pk=step.pk)
    if locked.status != StepStatus.OPEN or locked.run.status != RunStatus.OPEN:
        raise RunError([f"step: {locked.title!r} is {locked.get_status_display().lower()}"])
    return locked


def step_form_class(step: StepInstance):
    """The Django form for a step's fields (from its run's version)."""
    definition = next(d for d in step.run.version.steps if d["key"] == step.key)
    return answers_form_class(definition["fields"])


def files_record(*, run: WorkflowRun, answers: Mapping[str, Any], step=None, actor=None,
                 at: datetime | None = None) -> None:  # fmt: skip
    """One history line per file among ``answers`` (its field, name and size)."""
    for key, record in file_records(answers):
        history_add(run=run, step=step, actor=actor, at=at, action="file_uploaded",
                    detail={"field": key, "name": record["name"], "size": record["size"]})  # fmt: skip


def step_complete(
    *,
    step: StepInstance,
    answers: Mapping[str, Any],
    files: Mapping[str, Any] | None = None,
    actor=None,
    at: datetime | None = None,
    chain: Sequence[int] = (),
) -> StepInstance:
    """Validate ``answers`` (and uploaded ``files``) with the step's form, store them, mark the
    step done, send its email (if it has one) and open the next step (or, in a parallel group,
    wait for the others). Raises RunError naming each bad field."""
    form = step_form_class(step)(data=answers, files=files)
    if not form.is_valid():
        raise RunError(form_errors(form))
    cleaned = answers_clean(form)
    at = at or timezone.now()
    stored = files_store(cleaned, workspace_id=step.run.workspace_id)
    try:
        step = _step_done(step, cleaned, actor, at)
    except BaseException:
        files_discard(stored)
        raise
    _fire("step_completed", step.run, step, chain, at=at)
    return step


def _step_done(step: StepInstance, cleaned: dict[str, Any], actor, at: datetime) -> StepInstance:
    with transaction.atomic():
        step = _open_step(step)
        run = step.run
        step.status = StepStatus.DONE
        step.answers = cleaned
        step.completed_at = at
        step.completed_by = _user(actor)
        step.save(update_fields=["status", "answers", "completed_at", "completed_by"])
        history_add(run=run, step=step, action="completed", actor=actor, at=at,
                    detail={"answers": cleaned})  # fmt: skip
        files_record(run=run, answers=cleaned, step=step, actor=actor, at=at)
        if run.first_contact_at is None:
            run.first_contact_at = at
            run.save(update_fields=["first_contact_at"])
        definition = next(d for d in run.version.steps if d["key"] == step.key)
        if definition.get("email"):
            _step_email(run, step, definition["email"], actor, at)
        if outcome := cleaned.get("outcome"):
            run.outcome = str(outcome)[:200]
            run.save(update_fields=["outcome"])
        _advance(run, at, actor)
    return step


def run_facts(run: WorkflowRun) -> dict[str, Any]:
    """What a run's email text and rule conditions may name: {customer.name}, {answer.x}, …"""
    facts: dict[str, Any] = {f"context.{k}": v for k, v in run.context.items()}
    facts.update({f"intake.{k}": _fact(v) for k, v in run.intake.items()})
    facts.update({"template": run.template_id, "source": run.source, "run.title": run.title})
    for answers in _answers_by_step(run).values():
        facts.update({f"answer.{k}": _fact(v) for k, v in answers.items()})
    if run.customer is not None:
        facts["customer.name"] = str(run.customer)
        facts["customer.email"] = feedback_selectors.customer_email(customer=run.customer)
        traits = run.customer.traits if isinstance(run.customer.traits, dict) else {}
        facts.update({f"trait.{k}": v for k, v in traits.items() if not isinstance(v, dict | list)})
    return facts


def _fact(value: Any) -> Any:
    """An answer as a fact: a file is its name."""
    return value["name"] if is_file(value) else value


def email_customer(*, customer, subject: str, body: str) -> str:
    """Send one plain-text email to the customer; '' when sent, else why not."""
    if customer is None:
        return "no customer"
    consent = {c.channel: c.status for c in customer_selectors.customer_consents(customer=customer)}
    if consent.get("email") == "withdrawn":
        return "email consent withdrawn"
    address = feedback_selectors.customer_email(customer=customer)
    if not address:
        return "no email address"
    EmailMultiAlternatives(
        subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[address]
    ).send()
    return ""


def _step_email(run: WorkflowRun, step: StepInstance, email: Mapping, actor, at) -> None:
    facts = run_facts(run)
    facts.update({f"answer.{k}": _fact(v) for k, v in step.answers.items()})
    subject = fill(email["subject"], facts).replace("\n", " ")[:200]
    try:
        why_not = email_customer(
            customer=run.customer, subject=subject, body=fill(email["body"], facts)
        )
    except OSError as exc:  # SMTP down: the step is done, the failure is on the record
        why_not = f"sending failed: {exc}"
    history_add(run=run, step=step, actor=actor, at=at,
                action="email_sent" if not why_not else "email_not_sent",
                detail={"subject": subject, "reason": why_not})  # fmt: skip


def run_cancel(*, run: WorkflowRun, actor=None, reason: str = "", at=None) -> None:
    at = at or timezone.now()
    with transaction.atomic():
        run = WorkflowRun.objects.select_for_update().get(pk=run.pk)
        if run.status != RunStatus.OPEN:
            raise RunError(["run: already closed"])
        run.status, run.closed_at, run.outcome = (
            RunStatus.CANCELLED,
            at,
            reason[:200] or "cancelled",
        )
        run.save(update_fields=["status", "closed_at", "outcome"])
        run.steps.filter(status__in=[StepStatus.OPEN, StepStatus.WAITING]).update(
            status=StepStatus.SKIPPED
        )
        history_add(
            run=run, action="cancelled", actor=actor, at=at, detail={"reason": reason[:200]}
        )


def _fire(
    trigger: str, run: WorkflowRun, step: StepInstance | None, chain, extra=None, at=None
) -> None:
    from cxloop.workflows import _rules  # rules start runs; runs fire rules

    facts = run_facts(run)
    if step is not None:
        facts.update(
            {"step": step.key, **{f"answer.{k}": _fact(v) for k, v in step.answers.items()}}
        )
    facts.update(extra or {})
    subject = f"{trigger}:{step.pk if step else run.pk}"
    if trigger == "step_overdue" and step is not None and step.overdue_at:
        subject = f"{subject}:{step.overdue_at:%Y%m%d%H%M%S}"
    _rules.rules_fire(
        workspace_id=run.workspace_id, trigger=trigger, facts=facts, subject=subject,
        customer=run.customer, chain=chain, run=run, step=step, at=at,
    )  # fmt: skip
