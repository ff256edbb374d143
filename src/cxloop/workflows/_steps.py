"""Run writes about an open step's people and time: assign it to a member or a role, extend its
deadline, and find the steps past their deadline (marked once, escalated, ``step_overdue``
fired). Split from ``_runs`` for size; ``services`` is the public way in."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from cxloop.workflows._runs import (
    RunError,
    _fire,
    _open_step,
    _resolve_assignee,
    _workers,
    history_add,
)
from cxloop.workflows.definition import ROLES
from cxloop.workflows.models import RunStatus, StepInstance, StepStatus


def step_assign(*, step: StepInstance, user, actor=None, at: datetime | None = None) -> None:
    """Give an open step to ``user`` (a member who works on tasks)."""
    with transaction.atomic():
        step = _open_step(step)
        workers = {u.pk for u in _workers(step.run.workspace)}
        if user is None or user.pk not in workers:
            raise RunError(["assignee: not a member who works on tasks here"])
        before = step.assignee.get_username() if step.assignee else step.role
        step.assignee, step.role = user, ""
        step.save(update_fields=["assignee", "role"])
        history_add(run=step.run, step=step, actor=actor, at=at, action="assigned",
                    detail={"from": before, "to": user.get_username()})  # fmt: skip


def step_assign_role(*, step: StepInstance, role: str, actor=None, at=None) -> None:
    """Hand an open step to everyone with ``role`` (any of them may take it)."""
    if role not in ROLES:
        raise RunError([f"role: {role!r} is not one of {', '.join(ROLES)}"])
    with transaction.atomic():
        step = _open_step(step)
        before = step.assignee.get_username() if step.assignee else step.role
        step.assignee, step.role = None, role
        step.save(update_fields=["assignee", "role"])
        history_add(run=step.run, step=step, actor=actor, at=at, action="assigned",
                    detail={"from": before, "to": f"role {role}"})  # fmt: skip


def step_extend(
    *, step: StepInstance, hours: int, actor=None, reason: str = "", at: datetime | None = None
) -> None:
    """Move an open step's deadline ``hours`` later (from now when it had none)."""
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 24 * 365:
        raise RunError(["hours: a whole number in 1–8760"])
    at = at or timezone.now()
    with transaction.atomic():
        step = _open_step(step)
        before = step.due_at
        step.due_at = (before or at) + timedelta(hours=hours)
        if step.due_at > at:
            step.overdue_at = None  # overdue again later is news again
        step.save(update_fields=["due_at", "overdue_at"])
        history_add(run=step.run, step=step, actor=actor, at=at, action="deadline_extended",
                    detail={"from": before.isoformat() if before else None,
                            "to": step.due_at.isoformat(), "reason": reason[:200]})  # fmt: skip


def steps_mark_overdue(*, now: datetime | None = None, workspace=None) -> int:
    """Find open steps past their deadline not yet marked: mark each once (a concurrent worker
    cannot mark it again), record it, escalate it when its definition says so, and fire
    ``step_overdue`` rules. Returns how many were marked."""
    now = now or timezone.now()
    due = StepInstance.objects.filter(
        status=StepStatus.OPEN, due_at__lt=now, overdue_at__isnull=True, run__status=RunStatus.OPEN
    )
    if workspace is not None:
        due = due.filter(run__workspace=workspace)
    marked = 0
    for step in due.select_related("run", "run__version").order_by("due_at")[:1000]:
        with transaction.atomic():
            claimed = StepInstance.objects.filter(pk=step.pk, overdue_at__isnull=True).update(
                overdue_at=now
            )
            if not claimed:
                continue
            marked += 1
            run = step.run
            late = (now - step.due_at).total_seconds() / 3600 if step.due_at else 0
            history_add(run=run, step=step, action="overdue", at=now,
                        detail={"due_at": step.due_at.isoformat() if step.due_at else None})  # fmt: skip
            definition: dict = next((d for d in run.version.steps if d["key"] == step.key), {})
            if escalate := definition.get("escalate"):
                user, role = _resolve_assignee(run, step, escalate)
                before = step.assignee.get_username() if step.assignee else step.role
                step.assignee, step.role = user, role
                step.save(update_fields=["assignee", "role"])
                history_add(run=run, step=step, action="escalated", at=now, detail={
                    "from": before, "to": user.get_username() if user else f"role {role}"})  # fmt: skip
        _fire("step_overdue", run, step, (), extra={"hours_overdue": round(late, 1)}, at=now)
    return marked
