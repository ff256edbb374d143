"""What the runs of one template version show, step by step: how long each step takes, how often
a conditional step runs, the share done by its deadline, and where open runs wait. Re-exported
by ``selectors``; the process documentation (``process.py``) writes it out."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count
from django.utils import timezone

from cxloop.workflows.models import RunStatus, StepInstance, StepStatus, TemplateVersion


def median_p90(values: Sequence[float]) -> tuple[float | None, float | None]:
    """The median and the 90th percentile (inclusive method, numpy's default: linear between
    the closest ranks); ``(None, None)`` for no values."""
    if not values:
        return None, None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0], ordered[0]
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[-1]
    return statistics.median(ordered), p90


@dataclass
class _Tally:
    done: int = 0
    skipped: int = 0  # its condition did not hold (steps of cancelled runs are not counted)
    open: int = 0
    overdue: int = 0  # open past its deadline now
    met: int = 0  # done by its deadline
    missed: int = 0  # done after its deadline, or open past it now
    hours: list[float] = field(default_factory=list)  # opened → done, of done ones
    waiting: list[float] = field(default_factory=list)  # opened → now, of open ones


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def step_stats(*, version: TemplateVersion, now: datetime | None = None) -> dict:
    """Per step of ``version``, over the runs started on it:

    - ``done``, ``skipped`` (its condition did not hold), ``open`` now and ``overdue`` now;
    - ``median_hours`` and ``p90_hours`` from the step opening to it being done;
    - ``taken``: for a step with a condition, the share of runs that got past the decision
      (the step was opened or skipped) in which it ran; None for steps without one;
    - ``on_time``: SLA attainment, the share of steps with a deadline done by it, counting an
      open step already past its deadline as missed (open ones still in time are not decided);
    - ``open_hours_max``: how long the longest-waiting open run has been at the step.

    ``stall`` names the step where runs stall: the most runs overdue there now, then the most
    hours waited there by the runs open at it (``stall_open``, ``stall_overdue`` and
    ``stall_hours`` say by how much); empty when no run waits anywhere."""
    now = now or timezone.now()
    steps = version.steps or []
    tallies = {s["key"]: _Tally() for s in steps}
    rows = StepInstance.objects.filter(run__version=version).values_list(
        "key", "status", "opened_at", "completed_at", "due_at", "run__status"
    )
    runs = dict(
        version.runs.values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    for key, status, opened_at, completed_at, due_at, run_status in rows:
        tally = tallies.get(key)
        if tally is None:
            continue
        if status == StepStatus.DONE:
            tally.done += 1
            if opened_at and completed_at:
                tally.hours.append(_hours(opened_at, completed_at))
            if due_at and completed_at:
                if completed_at <= due_at:
                    tally.met += 1
                else:
                    tally.missed += 1
        elif status == StepStatus.SKIPPED and run_status != RunStatus.CANCELLED:
            tally.skipped += 1
        elif status == StepStatus.OPEN:
            tally.open += 1
            if opened_at:
                tally.waiting.append(_hours(opened_at, now))
            if due_at and due_at < now:
                tally.overdue += 1
                tally.missed += 1
    out = []
    for step in steps:
        tally = tallies[step["key"]]
        median, p90 = median_p90(tally.hours)
        ran = tally.done + tally.open
        decided = ran + tally.skipped
        out.append({
            "key": step["key"], "title": step["title"], "conditional": bool(step.get("condition")),
            "done": tally.done, "skipped": tally.skipped, "open": tally.open,
            "overdue": tally.overdue, "median_hours": median, "p90_hours": p90,
            "taken": ran / decided if step.get("condition") and decided else None,
            "on_time": tally.met / (tally.met + tally.missed) if tally.met + tally.missed else None,
            "open_hours_max": max(tally.waiting) if tally.waiting else None,
            "_waited": sum(tally.waiting),
        })  # fmt: skip
    stall = max(
        (row for row in out if row["open"]),
        key=lambda row: (row["overdue"], row["_waited"]),
        default=None,
    )
    for row in out:
        row.pop("_waited")
    return {
        "runs": sum(runs.values()),
        "runs_open": runs.get(RunStatus.OPEN, 0),
        "runs_done": runs.get(RunStatus.DONE, 0),
        "runs_cancelled": runs.get(RunStatus.CANCELLED, 0),
        "steps": out,
        "stall": stall["title"] if stall else "",
        "stall_open": stall["open"] if stall else 0,
        "stall_overdue": stall["overdue"] if stall else 0,
        "stall_hours": stall["open_hours_max"] if stall else None,
    }
