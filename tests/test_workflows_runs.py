"""Workflow templates, runs and steps: versions, assignment, deadlines, conditions, answers
checked by Django forms, history, overdue detection and escalation. Fixed clock: every service
is given ``at``/``now``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from cxloop.workflows import selectors, services
from cxloop.workflows.models import HistoryEntry
from factories import customer_id, identify, ingest, member_make

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

CONTACT = {
    "key": "contact", "title": "Call the customer",
    "assignee": {"kind": "round_robin", "role": "agent"},
    "deadline_hours": 48, "deadline_from": "start",
    "escalate": {"kind": "role", "role": "admin"},
    "fields": [
        {"key": "reached", "label": "Reached them?", "type": "choice", "choices": ["yes", "no"],
         "required": True},
        {"key": "mood", "label": "Their mood", "type": "rating", "max": 5},
        {"key": "callback", "label": "Call back on", "type": "date"},
    ],
}  # fmt: skip
RETRY = {
    "key": "retry", "title": "Write to them instead",
    "assignee": {"kind": "role", "role": "agent"}, "deadline_hours": 24,
    "condition": {"step": "contact", "field": "reached", "op": "eq", "value": "no"},
    "fields": [{"key": "note", "label": "What you wrote", "type": "text", "required": True}],
}  # fmt: skip
TELL = {
    "key": "tell", "title": "Tell the customer what changed",
    "assignee": {"kind": "unassigned"},
    "fields": [{"key": "change", "label": "What changed", "type": "text", "required": True}],
    "email": {"subject": "You said, we did", "body": "Hi {customer.name}: {answer.change}"},
}  # fmt: skip


@pytest.fixture
def people(workspace):
    agents = [member_make(workspace=workspace, username=n, role="agent") for n in ("al", "bo")]
    lead = member_make(workspace=workspace, username="lead", role="admin")
    return {"agents": agents, "lead": lead}


@pytest.fixture
def customer(workspace):
    ingest(workspace, [identify("u-1", {"email": "zoe@example.com", "name": "Zoe"}, T0)])
    return workspace.customer_set.get(pk=customer_id(workspace, "u-1"))


@pytest.fixture
def template(workspace, people):
    return services.template_create(
        workspace=workspace, name="Detractor follow-up", steps=[CONTACT, RETRY, TELL]
    )


def test_a_bad_template_names_every_field_at_fault(workspace):
    bad = [
        {"key": "Contact", "title": "", "deadline_hours": -1,
         "assignee": {"kind": "round_robin", "role": "boss"},
         "fields": [{"key": "x", "label": "X", "type": "video"}]},
        {"key": "two", "title": "Two",
         "condition": {"step": "contact", "field": "reached", "op": "eq", "value": "no"}},
    ]  # fmt: skip

    with pytest.raises(services.DefinitionError) as caught:
        services.template_create(workspace=workspace, name="Bad", steps=bad)

    assert caught.value.errors == [
        "step 1: key: 'Contact' must be lower-case letters, digits and _",
        "step 1 (Contact): field 1.type: 'video' is not one of text, choice, date, rating, file",
        "step 1 (Contact): deadline_hours: -1 is outside 0–8760",
        "step 1 (Contact): title: required",
        "step 1 (Contact): assignee.role: 'boss' is not one of admin, analyst, agent",
        "step 2 (two): condition.step: 'contact' is not an earlier step",
    ]


def test_a_run_opens_its_first_step_with_its_deadline_and_round_robin_assignee(
    workspace, template, customer, people
):
    al, bo = people["agents"]

    runs = [
        services.run_start(template=template, customer=customer, at=T0 + timedelta(hours=i))
        for i in range(3)
    ]

    firsts = [selectors.run_steps(run=r).first() for r in runs]
    assert [s.assignee for s in firsts] == [al, bo, al]
    assert [s.due_at for s in firsts] == [T0 + timedelta(hours=48 + i) for i in range(3)]
    assert [s.status for s in selectors.run_steps(run=runs[0])] == ["open", "waiting", "waiting"]
    assert runs[0].title == "Detractor follow-up: Zoe"


def test_answers_are_checked_by_the_steps_form_and_errors_name_the_field(
    workspace, template, customer, people
):
    run = services.run_start(template=template, customer=customer, at=T0)
    step = selectors.run_steps(run=run).first()

    with pytest.raises(services.RunError) as caught:
        services.step_complete(
            step=step, answers={"reached": "maybe", "mood": "9", "callback": "soon"}, at=T0
        )

    assert caught.value.errors == [
        "Reached them?: Select a valid choice. maybe is not one of the available choices.",
        "Their mood: Select a valid choice. 9 is not one of the available choices.",
        "Call back on: Enter a valid date.",
    ]
    step.refresh_from_db()
    assert step.status == "open" and step.answers == {}


def test_a_step_is_skipped_when_its_condition_on_an_earlier_answer_fails(
    workspace, template, customer, people
):
    run = services.run_start(template=template, customer=customer, at=T0)
    contact = selectors.run_steps(run=run).first()
    at = T0 + timedelta(hours=5)

    services.step_complete(
        step=contact, answers={"reached": "yes", "mood": "4", "callback": "2026-03-09"},
        actor=people["agents"][0], at=at,
    )  # fmt: skip

    steps = list(selectors.run_steps(run=run))
    assert [s.status for s in steps] == ["done", "skipped", "open"]
    assert steps[0].answers == {"reached": "yes", "mood": 4, "callback": "2026-03-09"}
    assert steps[2].due_at is None and steps[2].assignee is None
    run.refresh_from_db()
    assert run.first_contact_at == at


def test_the_other_branch_opens_with_a_deadline_from_the_previous_step(
    workspace, template, customer, people
):
    run = services.run_start(template=template, customer=customer, at=T0)
    contact = selectors.run_steps(run=run).first()
    at = T0 + timedelta(hours=30)

    services.step_complete(step=contact, answers={"reached": "no"}, at=at)

    retry = selectors.run_steps(run=run)[1]
    assert retry.status == "open"
    assert retry.due_at == at + timedelta(hours=24)
    assert retry.assignee is None and retry.role == "agent"


def test_the_last_step_emails_the_customer_you_said_we_did_and_closes_the_run(
    workspace, template, customer, people
):
    run = services.run_start(template=template, customer=customer, at=T0)
    lead = people["lead"]
    services.step_complete(step=selectors.run_steps(run=run)[0], answers={"reached": "yes"}, at=T0)

    services.step_complete(
        step=selectors.run_steps(run=run)[2],
        answers={"change": "We now deliver on Sundays."}, actor=lead, at=T0 + timedelta(hours=50),
    )  # fmt: skip

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["zoe@example.com"]
    assert mail.outbox[0].subject == "You said, we did"
    assert mail.outbox[0].body == "Hi Zoe: We now deliver on Sundays."
    run.refresh_from_db()
    assert run.status == "done" and run.closed_at == T0 + timedelta(hours=50)
    actions = [(h.action, h.actor_label) for h in selectors.run_history(run=run)]
    assert actions == [
        ("started", "system"), ("opened", "system"), ("completed", "system"),
        ("skipped", "system"), ("opened", "system"), ("completed", "lead"),
        ("email_sent", "lead"), ("closed", "lead"),
    ]  # fmt: skip


def test_a_new_version_leaves_runs_under_way_on_theirs(workspace, template, customer, people):
    old_run = services.run_start(template=template, customer=customer, at=T0)

    version = services.template_new_version(template=template, steps=[TELL])
    new_run = services.run_start(template=template, customer=customer, at=T0)

    assert version.number == 2
    assert old_run.version.number == 1 and new_run.version.number == 2
    assert [s.key for s in selectors.run_steps(run=old_run)] == ["contact", "retry", "tell"]
    assert [s.key for s in selectors.run_steps(run=new_run)] == ["tell"]
    same = services.template_new_version(template=template, steps=[TELL])
    assert same.number == 2  # nothing changed: no new version


def test_assign_and_extend_are_recorded_with_who_and_when(workspace, template, customer, people):
    run = services.run_start(template=template, customer=customer, at=T0)
    step = selectors.run_steps(run=run).first()
    bo, lead = people["agents"][1], people["lead"]

    services.step_assign(step=step, user=bo, actor=lead, at=T0 + timedelta(hours=1))
    services.step_extend(step=step, hours=24, actor=lead, reason="customer away",
                         at=T0 + timedelta(hours=2))  # fmt: skip

    step.refresh_from_db()
    assert step.assignee == bo
    assert step.due_at == T0 + timedelta(hours=72)
    last = list(selectors.run_history(run=run))[-2:]
    assert [(h.action, h.actor, h.at) for h in last] == [
        ("assigned", lead, T0 + timedelta(hours=1)),
        ("deadline_extended", lead, T0 + timedelta(hours=2)),
    ]
    assert last[0].detail == {"from": "al", "to": "bo"}
    outsider = member_make(workspace=workspace, username="vi", role="viewer")
    with pytest.raises(services.RunError, match="not a member who works on tasks"):
        services.step_assign(step=step, user=outsider, actor=lead)


def test_an_overdue_step_is_marked_once_and_escalated_to_the_team_lead(
    workspace, template, customer, people
):
    run = services.run_start(template=template, customer=customer, at=T0)

    early = services.steps_mark_overdue(now=T0 + timedelta(hours=47))
    late = services.steps_mark_overdue(now=T0 + timedelta(hours=49))
    again = services.steps_mark_overdue(now=T0 + timedelta(hours=50))

    assert (early, late, again) == (0, 1, 0)
    step = selectors.run_steps(run=run).first()
    assert step.overdue_at == T0 + timedelta(hours=49)
    assert step.assignee is None and step.role == "admin"
    assert [h.action for h in HistoryEntry.objects.filter(run=run)][-2:] == ["overdue", "escalated"]
    assert selectors.step_timing(step, T0 + timedelta(hours=49)) == "overdue"
    lead_tasks = selectors.tasks_for(workspace=workspace, user=people["lead"], role="admin")
    assert list(lead_tasks) == [step]


def test_at_risk_is_the_last_quarter_of_a_steps_time(workspace, template, customer, people):
    run = services.run_start(template=template, customer=customer, at=T0)
    step = selectors.run_steps(run=run).first()

    assert selectors.step_timing(step, T0 + timedelta(hours=35)) == ""
    assert selectors.step_timing(step, T0 + timedelta(hours=37)) == "at_risk"


def test_a_run_for_a_merged_profile_goes_to_the_survivor(workspace, template, people):
    ingest(workspace, [identify("u-2", {"email": "ann@example.com"}, T0),
                       {"type": "page", "anonymousId": "a-2", "name": "Home",
                        "timestamp": T0.isoformat()}])  # fmt: skip
    visitor = workspace.identity_set.get(kind="anonymous_id", value="a-2").customer
    ingest(workspace, [{"type": "identify", "anonymousId": "a-2", "userId": "u-2",
                        "timestamp": T0.isoformat()}])  # fmt: skip
    visitor.refresh_from_db()
    assert visitor.merged_into_id is not None

    run = services.run_start(template=template, customer=visitor, at=T0)

    assert run.customer_id == customer_id(workspace, "u-2")


def test_a_customer_of_another_workspace_is_refused(workspace, other_workspace, template):
    ingest(other_workspace, [identify("u-9", {"email": "x@example.com"}, T0)])
    stranger = other_workspace.customer_set.get()

    with pytest.raises(services.RunError, match="customer: not in this workspace"):
        services.run_start(template=template, customer=stranger, at=T0)


def test_board_version_changes_with_every_change(workspace, template, customer, people):
    before = selectors.board_version(workspace=workspace)
    run = services.run_start(template=template, customer=customer, at=T0)
    middle = selectors.board_version(workspace=workspace)
    services.step_extend(step=selectors.run_steps(run=run).first(), hours=1, at=T0)

    assert len({before, middle, selectors.board_version(workspace=workspace)}) == 3


def test_the_customers_owner_gets_the_step_else_the_fallback_role(workspace, people):
    owned = {"key": "call", "title": "Call", "assignee": {"kind": "owner", "role": "agent"}}
    template = services.template_create(workspace=workspace, name="Owned", steps=[owned])
    ingest(workspace, [identify("u-5", {"email": "x@example.com", "owner": "BO"}, T0),
                       identify("u-6", {"email": "y@example.com", "owner": "someone-gone"}, T0)])  # fmt: skip
    mine, orphan = (
        workspace.customer_set.get(pk=customer_id(workspace, u)) for u in ("u-5", "u-6")
    )

    first = selectors.run_steps(run=services.run_start(template=template, customer=mine)).get()
    second = selectors.run_steps(run=services.run_start(template=template, customer=orphan)).get()

    assert (first.assignee, first.role) == (people["agents"][1], "")
    assert (second.assignee, second.role) == (None, "agent")


def test_a_deadline_in_business_hours_skips_nights_weekends_and_holidays(
    workspace, customer, people
):
    # given: business hours 09–17 London, Monday–Friday, Friday 6 March 2026 a holiday
    services.calendar_set(workspace=workspace, raw={
        "zone": "Europe/London", "days": [0, 1, 2, 3, 4], "opens": "09:00", "closes": "17:00",
        "holidays": ["2026-03-06"],
    })  # fmt: skip
    business = {**CONTACT, "deadline_hours": 20, "deadline_business": True}
    plain = {**CONTACT, "key": "plain", "deadline_hours": 20}
    template = services.template_create(workspace=workspace, name="Hours", steps=[business, plain])
    # when: a run starts Wednesday 4 March 16:00 UTC (= 16:00 London, GMT)
    start = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
    run = services.run_start(template=template, customer=customer, at=start)
    # then: by hand, 1 h Wednesday + 8 h Thursday + (Friday holiday) + 8 h Monday + 3 h Tuesday
    first = selectors.run_steps(run=run).first()
    assert first.due_at == datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    # and without business hours the same 20 hours are plain hours
    services.calendar_clear(workspace=workspace)
    again = services.run_start(template=template, customer=customer, at=start)
    assert selectors.run_steps(run=again).first().due_at == start + timedelta(hours=20)


def test_deadline_business_must_be_a_flag(workspace):
    with pytest.raises(services.DefinitionError, match="deadline_business: expected true or false"):
        services.template_create(
            workspace=workspace, name="X", steps=[{**TELL, "deadline_business": "sometimes"}]
        )
