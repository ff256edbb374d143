"""Process documentation from a workflow and its runs: plain sentences, a Mermaid flowchart,
a Markdown download, and per-step numbers counted by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cxloop.workflows import process, selectors, services
from factories import member_make

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STEPS = [
    {"key": "call", "title": "Call the customer", "assignee": {"kind": "round_robin", "role": "agent"},
     "deadline_hours": 48, "deadline_from": "start", "escalate": {"kind": "role", "role": "admin"},
     "fields": [{"key": "reached", "label": "Reached?", "type": "choice", "choices": ["yes", "no"],
                 "required": True}]},
    {"key": "write", "title": "Write instead", "assignee": {"kind": "role", "role": "agent"},
     "condition": {"step": "call", "field": "reached", "op": "eq", "value": "no"}, "fields": []},
    {"key": "tell", "title": "Tell them", "deadline_hours": 24,
     "fields": [{"key": "mood", "label": "Mood", "type": "rating", "max": 5}],
     "email": {"subject": "You said, we did", "body": "Hi"}},
]  # fmt: skip


def test_each_step_reads_as_sentences():
    steps = [dict(s) for s in STEPS]
    from cxloop.workflows.definition import steps_validate

    steps = steps_validate(steps)

    assert process.step_sentences(steps[0], {}) == [
        "Done by each agent in turn.",
        "Due within 48 hours of the run's start.",
        "When late, it goes to anyone with the admin role.",
        "Records: Reached? (yes / no, required).",
    ]
    assert process.step_sentences(steps[1], {}) == [
        "Done by anyone with the agent role.",
        "Only when call.reached is no; otherwise skipped.",
    ]
    assert process.step_sentences(steps[2], {}) == [
        "Done by whoever takes it.",
        "Due within 24 hours of the step opening.",
        "Records: Mood (a rating 1–5).",
        "When done, the customer is emailed “You said, we did”.",
    ]
    assert process.mermaid(steps).splitlines()[-5:] == [
        "  start --> s_call",
        "  s_call -->|call.reached is no| s_write",
        "  s_call -.->|otherwise| s_tell",
        "  s_write --> s_tell",
        "  s_tell --> done",
    ]


def test_real_runs_give_each_steps_numbers_and_where_runs_stall(workspace):
    member_make(workspace=workspace, username="al", role="agent")
    template = services.template_create(workspace=workspace, name="Loop", steps=STEPS)
    # run 1: called after 10 h (reached), told 30 h later; run 2: called after 50 h (late,
    # not reached), written to 4 h later, waiting at "Tell them"; run 3: waiting at the call
    one, two, _three = (services.run_start(template=template, at=T0) for _ in range(3))
    step = lambda run, key: selectors.run_steps(run=run).get(key=key)  # noqa: E731
    services.step_complete(
        step=step(one, "call"), answers={"reached": "yes"}, at=T0 + timedelta(hours=10)
    )
    services.step_complete(step=step(one, "tell"), answers={}, at=T0 + timedelta(hours=40))
    services.step_complete(
        step=step(two, "call"), answers={"reached": "no"}, at=T0 + timedelta(hours=50)
    )
    services.step_complete(step=step(two, "write"), answers={}, at=T0 + timedelta(hours=54))

    stats = selectors.step_stats(template=template)

    assert stats["steps"] == [
        {"key": "call", "title": "Call the customer", "done": 2, "skipped": 0, "open": 1,
         "median_hours": 30.0, "on_time": 0.5},
        {"key": "write", "title": "Write instead", "done": 1, "skipped": 1, "open": 0,
         "median_hours": 4.0, "on_time": None},
        {"key": "tell", "title": "Tell them", "done": 1, "skipped": 0, "open": 1,
         "median_hours": 30.0, "on_time": 0.0},
    ]  # fmt: skip
    assert stats["stall"] == "Call the customer"  # first of the steps where most runs wait


def test_the_process_page_and_its_markdown(client, member, workspace):
    template = services.template_create(workspace=workspace, name="Detractor loop", steps=STEPS)
    client.force_login(member)

    page = client.get(f"/workflows/{template.pk}/process/")
    download = client.get(f"/workflows/{template.pk}/process/?format=md")

    assert page.status_code == 200 and "Due within 48 hours of the run&#x27;s start." in page.text
    assert download["Content-Disposition"] == 'attachment; filename="detractor-loop-v1.md"'
    text = download.content.decode()
    assert text.startswith("# Detractor loop (version 1)\n")
    assert "1. **Call the customer**. Done by each agent in turn." in text
    assert "```mermaid\nflowchart TD" in text
    assert "| Call the customer | 0 | 0 | 0 | — | — |" in text
    assert client.get(f"/workflows/{template.pk}/process/?format=pdf").status_code == 400
