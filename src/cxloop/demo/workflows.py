"""Closing the loop in the demo workspace: the "detractor follow-up" workflow and the rule that
starts it for NPS ≤ 6, replayed over the latest detractors (at most 30, of four months) through the real services, with
older loops worked through (contact, team-lead review when unreachable, fix, "you said, we
did" email) and the rest open, some overdue and escalated."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from cxloop.core.models import Workspace
from cxloop.feedback import selectors as feedback_selectors
from cxloop.workflows import selectors, services

REPLAY_DAYS = 120
MAX_LOOPS = 30  # keep the demo fast
TELL_BODY = (
    "Hello {customer.name},\n\n"
    "You told us: “{context.comment}”\n\n"
    "You said, we did: {answer.what_changed}\n\n"
    "Thank you for taking the time to tell us. It made a difference.\n"
    "Northwind Outfitters customer care"
)
FOLLOW_UP = [
    {"key": "contact", "title": "Contact the customer",
     "assignee": {"kind": "round_robin", "role": "agent"},
     "deadline_hours": 48, "deadline_from": "start",
     "escalate": {"kind": "role", "role": "admin"},
     "fields": [
         {"key": "reached", "label": "Did you reach them?", "type": "choice",
          "choices": ["yes", "no"], "required": True},
         {"key": "root_cause", "label": "What went wrong for them", "type": "text"},
         {"key": "mood", "label": "How did the call end (1 upset – 5 happy)", "type": "rating"},
     ]},
    {"key": "lead_review", "title": "Team lead review (customer unreachable)",
     "assignee": {"kind": "role", "role": "admin"}, "deadline_hours": 24,
     "condition": {"step": "contact", "field": "reached", "op": "eq", "value": "no"},
     "fields": [{"key": "decision", "label": "What we do instead", "type": "text",
                 "required": True}]},
    {"key": "fix", "title": "Fix what they raised",
     "assignee": {"kind": "role", "role": "analyst"}, "deadline_hours": 120,
     "fields": [
         {"key": "what_changed", "label": "What changed", "type": "text", "required": True},
         {"key": "outcome", "label": "Outcome", "type": "choice",
          "choices": ["resolved", "partly resolved", "not resolved"], "required": True},
         {"key": "fixed_on", "label": "Fixed on", "type": "date"},
     ]},
    {"key": "tell", "title": "Tell the customer what changed",
     "assignee": {"kind": "role", "role": "agent"}, "deadline_hours": 24,
     "fields": [{"key": "note", "label": "Anything to add", "type": "text"}],
     "email": {"subject": "You said, we did", "body": TELL_BODY}},
]  # fmt: skip
CHANGES = (
    ("Delivery slots now show real courier times.", "resolved"),
    ("Store staff briefed on the returns policy; refund sent.", "resolved"),
    ("Sizing guide updated for the trail jackets.", "partly resolved"),
    ("Loyalty points fixed and added back.", "resolved"),
    ("App checkout bug reported to the vendor.", "not resolved"),
)
AGENTS = ("Priya (agent)", "Tom (agent)", "Sam (analyst)", "Morgan (team lead)")


def build_workflows_demo(*, workspace: Workspace, seed: int, now: datetime) -> int:
    """Create the workflow, the rule and replay recent detractors; returns the loops started."""
    rng = random.Random(seed * 104729 + 5)
    template = services.template_create(
        workspace=workspace, name="Detractor follow-up", steps=FOLLOW_UP, intake_public=True,
        description="A customer who scored us 0–6 hears from us within 48 hours.",
        intake_fields=[{"key": "issue", "label": "What went wrong?", "type": "text",
                        "required": True}],
    )  # fmt: skip
    services.rule_create(
        workspace=workspace, name="Detractor follow-up", trigger="response_received",
        conditions=[{"field": "nps", "op": "lte", "value": 6}],
        actions=[{"type": "start_workflow", "template_id": template.pk},
                 {"type": "tag_customer", "trait": "loop_open", "value": "detractor"}],
        active=True,
    )  # fmt: skip
    detractors = list(
        feedback_selectors.workspace_responses(workspace=workspace)
        .filter(completed=True, nps_score__lte=6, customer__isnull=False,
                submitted_at__gte=now - timedelta(days=REPLAY_DAYS), submitted_at__lt=now)
        .order_by("-submitted_at", "-pk")[:MAX_LOOPS]
    )[::-1]  # fmt: skip
    for response in detractors:
        services.rules_react_response(
            workspace_id=workspace.pk, response_id=response.pk, at=response.submitted_at
        )
    runs = list(
        selectors.run_list(workspace=workspace, template_id=template.pk).order_by("started_at")
    )
    for i, run in enumerate(runs):  # the oldest third closed, the next third contacted
        _work(run, rng, now, stages=2 if i < len(runs) // 3 else 1 if i < 2 * len(runs) // 3 else 0)
    services.steps_mark_overdue(now=now, workspace=workspace)
    return len(detractors)


def _work(run, rng: random.Random, now: datetime, *, stages: int) -> None:
    """Work a run as a team would: ``stages`` 0 leaves it untouched, 1 makes the contact (and
    the team lead's review), 2 closes it; never past ``now``."""
    at = run.started_at + timedelta(hours=rng.uniform(2, 40) if rng.random() < 0.85 else 60)
    if at >= now or stages == 0:
        return
    reached = "yes" if rng.random() < 0.8 else "no"
    steps = {s.key: s for s in selectors.run_steps(run=run)}
    services.step_complete(
        step=steps["contact"], actor=rng.choice(AGENTS[:2]), at=at,
        answers={"reached": reached, "root_cause": run.context.get("comment", "")[:200],
                 "mood": str(rng.randint(2, 5)) if reached == "yes" else ""},
    )  # fmt: skip
    if reached == "no":
        at += timedelta(hours=rng.uniform(3, 20))
        if at >= now:
            return
        services.step_complete(
            step=selectors.run_steps(run=run).get(key="lead_review"), actor=AGENTS[3], at=at,
            answers={"decision": "Wrote to them with an apology and a direct number."},
        )  # fmt: skip
    at += timedelta(hours=rng.uniform(12, 150))
    if at >= now or stages == 1:
        return
    change, outcome = rng.choice(CHANGES)
    services.step_complete(
        step=selectors.run_steps(run=run).get(key="fix"), actor=AGENTS[2], at=at,
        answers={"what_changed": change, "outcome": outcome, "fixed_on": at.date().isoformat()},
    )  # fmt: skip
    at += timedelta(hours=rng.uniform(1, 30))
    if at >= now:
        return
    services.step_complete(
        step=selectors.run_steps(run=run).get(key="tell"), actor=rng.choice(AGENTS[:2]), at=at,
        answers={},
    )  # fmt: skip
