"""Parallel steps: a step marked ``parallel`` opens with the step before it; the run moves on
once every step of the group is done or skipped. Fixed clock: every service is given
``at``/``now``; expected times are worked out by hand from T0."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cxloop.workflows import process, selectors, services
from cxloop.workflows.models import HistoryEntry, TemplateVersion, WorkflowTemplate
from factories import member_make

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
TRIAGE = {
    "key": "triage", "title": "Triage", "assignee": {"kind": "role", "role": "analyst"},
    "deadline_hours": 24,
    "fields": [{"key": "refund", "label": "Refund?", "type": "choice", "choices": ["yes", "no"],
                "required": True}],
}  # fmt: skip
CALL = {
    "key": "call", "title": "Call the customer", "assignee": {"kind": "role", "role": "agent"},
    "deadline_hours": 8, "fields": [{"key": "note", "label": "Note", "type": "text"}],
}  # fmt: skip
REFUND = {
    "key": "refund", "title": "Refund the order", "parallel": True,
    "assignee": {"kind": "role", "role": "admin"}, "deadline_hours": 4,
    "escalate": {"kind": "role", "role": "analyst"},
    "condition": {"step": "triage", "field": "refund", "op": "eq", "value": "yes"},
}  # fmt: skip
CLOSE = {"key": "close", "title": "Close", "deadline_hours": 2}


@pytest.fixture
def template(workspace):
    member_make(workspace=workspace, username="al", role="agent")
    return services.template_create(
        workspace=workspace, name="Refund", steps=[TRIAGE, CALL, REFUND, CLOSE]
    )


def _states(run) -> dict[str, str]:
    return {s.key: s.status for s in selectors.run_steps(run=run)}


def _step(run, key):
    return selectors.run_steps(run=run).get(key=key)


def test_a_group_of_two_opens_both_and_moves_on_only_when_both_are_done(workspace, template):
    run = services.run_start(template=template, at=T0)
    services.step_complete(step=_step(run, "triage"), answers={"refund": "yes"},
                           at=T0 + timedelta(hours=2))  # fmt: skip

    assert _states(run) == {"triage": "done", "call": "open", "refund": "open", "close": "waiting"}
    call, refund = _step(run, "call"), _step(run, "refund")
    assert call.opened_at == refund.opened_at == T0 + timedelta(hours=2)
    assert (call.role, refund.role) == ("agent", "admin")  # each its own assignee

    services.step_complete(step=call, answers={"note": "sorry"}, at=T0 + timedelta(hours=3))
    run.refresh_from_db()
    assert run.status == "open"
    assert _states(run) == {"triage": "done", "call": "done", "refund": "open", "close": "waiting"}

    services.step_complete(step=refund, answers={}, at=T0 + timedelta(hours=5))
    assert _states(run) == {"triage": "done", "call": "done", "refund": "done", "close": "open"}
    close = _step(run, "close")
    assert close.opened_at == T0 + timedelta(hours=5)
    assert close.due_at == T0 + timedelta(hours=7)  # 2 h after the group's last step
    opened = HistoryEntry.objects.filter(run=run, action="opened").order_by("at", "pk")
    assert [(h.step.key, h.at) for h in opened] == [
        ("triage", T0), ("call", T0 + timedelta(hours=2)), ("refund", T0 + timedelta(hours=2)),
        ("close", T0 + timedelta(hours=5)),
    ]  # fmt: skip


def test_deadlines_relative_to_previous_count_from_when_the_group_opened(workspace, template):
    run = services.run_start(template=template, at=T0)
    services.step_complete(step=_step(run, "triage"), answers={"refund": "yes"},
                           at=T0 + timedelta(hours=2))  # fmt: skip

    # both count from 11:00 (the group opening), not the refund from the call's deadline
    assert _step(run, "call").due_at == datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
    assert _step(run, "refund").due_at == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_a_step_of_a_group_whose_condition_fails_is_skipped_and_the_other_opens(
    workspace, template
):
    run = services.run_start(template=template, at=T0)
    services.step_complete(step=_step(run, "triage"), answers={"refund": "no"},
                           at=T0 + timedelta(hours=1))  # fmt: skip

    assert _states(run) == {
        "triage": "done",
        "call": "open",
        "refund": "skipped",
        "close": "waiting",
    }
    skipped = HistoryEntry.objects.get(run=run, action="skipped")
    assert skipped.step.key == "refund" and skipped.at == T0 + timedelta(hours=1)

    services.step_complete(step=_step(run, "call"), answers={}, at=T0 + timedelta(hours=2))
    assert _states(run)["close"] == "open"


def test_a_group_whose_steps_are_all_skipped_is_passed(workspace):
    only_if = {"step": "triage", "field": "refund", "op": "eq", "value": "yes"}
    template = services.template_create(
        workspace=workspace, name="All skipped",
        steps=[TRIAGE, {**CALL, "condition": only_if}, REFUND, CLOSE],
    )  # fmt: skip
    run = services.run_start(template=template, at=T0)
    services.step_complete(step=_step(run, "triage"), answers={"refund": "no"},
                           at=T0 + timedelta(hours=1))  # fmt: skip

    assert _states(run) == {
        "triage": "done",
        "call": "skipped",
        "refund": "skipped",
        "close": "open",
    }
    assert _step(run, "close").due_at == T0 + timedelta(hours=3)


def test_one_overdue_step_of_a_group_is_marked_and_escalated_alone(workspace, template):
    run = services.run_start(template=template, at=T0)
    services.step_complete(step=_step(run, "triage"), answers={"refund": "yes"},
                           at=T0 + timedelta(hours=2))  # fmt: skip

    # at 16:00 the refund (due 15:00) is late, the call (due 19:00) is not
    marked = services.steps_mark_overdue(now=datetime(2026, 3, 2, 16, 0, tzinfo=UTC))

    assert marked == 1
    refund, call = _step(run, "refund"), _step(run, "call")
    assert refund.overdue_at == datetime(2026, 3, 2, 16, 0, tzinfo=UTC) and call.overdue_at is None
    assert (refund.assignee, refund.role) == (None, "analyst")  # escalated
    assert call.role == "agent" and call.status == refund.status == "open"
    assert [(h.step.key, h.action) for h in HistoryEntry.objects.filter(
        run=run, action__in=["overdue", "escalated"])] == [("refund", "overdue"), ("refund", "escalated")]  # fmt: skip
    assert services.steps_mark_overdue(now=datetime(2026, 3, 2, 20, 0, tzinfo=UTC)) == 1  # the call


def test_the_inbox_and_the_board_show_every_open_step_of_a_run(workspace, template):
    run = services.run_start(template=template, at=T0)
    services.step_complete(step=_step(run, "triage"), answers={"refund": "yes"},
                           at=T0 + timedelta(hours=2))  # fmt: skip

    open_steps = selectors.open_steps(run_ids=[run.pk])
    assert [s.key for s in open_steps[run.pk]] == ["call", "refund"]
    boss = member_make(workspace=workspace, username="boss", role="admin")
    assert [s.key for s in selectors.tasks_for(workspace=workspace, user=boss, role="admin")] == [
        "refund"
    ]


def test_parallel_is_checked_and_names_the_field(workspace):
    steps = [
        {**TRIAGE, "parallel": True},
        {**CALL, "parallel": "maybe"},
        {"key": "check", "title": "Check", "parallel": True,
         "condition": {"step": "call", "field": "note", "op": "exists", "value": True}},
    ]  # fmt: skip

    with pytest.raises(services.DefinitionError) as caught:
        services.template_create(workspace=workspace, name="Bad", steps=steps)

    assert caught.value.errors == [
        "step 1 (triage): parallel: the first step has no step before it to run with",
        "step 2 (call): parallel: expected true or false",
        "step 3 (check): condition.step: 'call' runs at the same time as this step, not before it",
    ]


def test_a_condition_on_a_step_before_the_group_is_fine_and_only_true_is_kept(workspace):
    template = services.template_create(
        workspace=workspace, name="Kept", steps=[TRIAGE, {**CALL, "parallel": False}, REFUND]
    )
    steps = template.current.steps
    assert "parallel" not in steps[1] and steps[2]["parallel"] is True


def test_versions_saved_before_parallel_steps_run_in_order_unchanged(workspace, template):
    # given a version written before the key existed (no "parallel" anywhere)
    old = [dict(TRIAGE, escalate=None, email=None),
           dict(CLOSE, assignee={"kind": "unassigned"}, fields=[])]  # fmt: skip
    version = TemplateVersion.objects.create(template=template, number=7, steps=old)
    template.current = version
    template.save(update_fields=["current"])

    run = services.run_start(template=template, at=T0)
    services.step_complete(step=_step(run, "triage"), answers={"refund": "yes"},
                           at=T0 + timedelta(hours=1))  # fmt: skip

    assert _states(run) == {"triage": "done", "close": "open"}
    version.refresh_from_db()
    assert version.steps == old  # versions are never rewritten


def test_process_docs_say_a_step_runs_with_the_one_before():
    lines = process.step_sentences({**REFUND, "assignee": {"kind": "role", "role": "admin"}}, {})
    assert lines[0] == (
        "Runs at the same time as the step before it; the run goes on once every step of the "
        "group is done or skipped."
    )


def test_the_run_page_has_a_form_per_open_step_and_completes_the_one_posted(
    client, workspace, template
):
    client.force_login(member_make(workspace=workspace, username="boss", role="admin"))
    run = services.run_start(template=template, at=T0)
    services.step_complete(step=_step(run, "triage"), answers={"refund": "yes"},
                           at=T0 + timedelta(hours=2))  # fmt: skip
    call, refund = _step(run, "call"), _step(run, "refund")

    page = client.get(f"/workflows/runs/{run.pk}/")
    assert [w["step"].key for w in page.context["work"]] == ["call", "refund"]
    assert f'id="id_s{call.pk}_note"'.encode() in page.content  # ids stay unique
    assert f'id="assign-user-{refund.pk}"'.encode() in page.content
    unclear = client.post(f"/workflows/runs/{run.pk}/", {"note": "hi"})
    assert unclear.status_code == 409 and unclear.context["errors"] == ["step: which one?"]

    done = client.post(f"/workflows/runs/{run.pk}/", {"_step": str(refund.pk)})

    assert done.status_code == 302
    assert _states(run) == {"triage": "done", "call": "open", "refund": "done", "close": "waiting"}
    again = client.post(f"/workflows/runs/{run.pk}/", {"_step": str(refund.pk)})
    assert again.status_code == 409 and again.context["errors"] == [
        "step: 'Refund the order' is done"
    ]
    board = client.get("/workflows/runs/?view=table")
    assert [r["step"].key for r in board.context["rows"]] == ["call"]


def test_the_board_shows_a_run_in_the_column_of_each_open_step(client, workspace, template):
    client.force_login(member_make(workspace=workspace, username="boss", role="admin"))
    run = services.run_start(template=template, at=T0)
    services.step_complete(step=_step(run, "triage"), answers={"refund": "yes"},
                           at=T0 + timedelta(hours=2))  # fmt: skip

    board = client.get("/workflows/runs/")

    columns = {title: [r["run"].pk for r in cards] for title, cards in board.context["columns"]}
    assert columns == {"Call the customer": [run.pk], "Refund the order": [run.pk]}
    assert board.context["runs"] == 1


def test_the_editor_saves_a_step_that_runs_with_the_one_before(client, workspace):
    client.force_login(member_make(workspace=workspace, username="boss", role="admin"))
    data = {
        "name": "Two at once", "steps": "2", "intakes": "0", "op": "save",
        "s0-key": "call", "s0-title": "Call", "s0-assignee_kind": "unassigned", "s0-fields": "0",
        "s1-key": "refund", "s1-title": "Refund", "s1-assignee_kind": "unassigned",
        "s1-fields": "0", "s1-parallel": "on",
    }  # fmt: skip

    saved = client.post("/workflows/new/", data)

    assert saved.status_code == 302
    steps = WorkflowTemplate.objects.get().current.steps
    assert [s.get("parallel", False) for s in steps] == [False, True]


def test_the_flowchart_forks_and_joins_around_a_group():
    chart = process.mermaid([TRIAGE, CALL, REFUND, CLOSE])

    assert chart.splitlines() == [
        "flowchart TD",
        "  start([Run starts])",
        '  s_triage["Triage"]',
        '  fork_2{{"at the same time"}}',
        '  s_call["Call the customer"]',
        '  s_refund["Refund the order"]',
        '  join_2{{"all done"}}',
        '  s_close["Close"]',
        "  done([Run closed])",
        "  start --> s_triage",
        "  s_triage --> fork_2",
        "  fork_2 --> s_call",
        "  s_call --> join_2",
        "  fork_2 -->|triage.refund is yes| s_refund",
        "  fork_2 -.->|otherwise| join_2",
        "  s_refund --> join_2",
        "  join_2 --> s_close",
        "  s_close --> done",
    ]
