"""Process documentation from a workflow and its runs: plain sentences, a flowchart (our SVG
and Mermaid text), per-step numbers from real runs counted by hand on a fixed clock, and the
HTML, Markdown and PDF downloads."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pypdf
import pytest

from cxloop.workflows import process, selectors, services
from cxloop.workflows.definition import steps_validate
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
    steps = steps_validate([dict(s) for s in STEPS])

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


def _runs_on_a_fixed_clock(template):
    """Six runs of version 1, all started at T0, seen at NOW = T0 + 100 h (hours after T0):

    A: call done at 10 (reached), "write" skipped, tell opened 10 (due 34), done 40: late
    B: call done at 50 (late; not reached), write 50 → 54, tell opened 54 (due 78): open, overdue
    C: call open since 0 (due 48): overdue
    D: call done at 20 (reached), write skipped, tell opened 20 (due 44), done 26: on time
    E: call done at 30 (not reached), write open since 30 (no deadline)
    F: cancelled at 5 with its call open (its steps are skipped by the cancel, not a branch)
    """
    h = lambda n: T0 + timedelta(hours=n)  # noqa: E731
    runs = {name: services.run_start(template=template, at=T0) for name in "ABCDEF"}
    step = lambda name, key: selectors.run_steps(run=runs[name]).get(key=key)  # noqa: E731
    services.step_complete(step=step("A", "call"), answers={"reached": "yes"}, at=h(10))
    services.step_complete(step=step("A", "tell"), answers={}, at=h(40))
    services.step_complete(step=step("B", "call"), answers={"reached": "no"}, at=h(50))
    services.step_complete(step=step("B", "write"), answers={}, at=h(54))
    services.step_complete(step=step("D", "call"), answers={"reached": "yes"}, at=h(20))
    services.step_complete(step=step("D", "tell"), answers={}, at=h(26))
    services.step_complete(step=step("E", "call"), answers={"reached": "no"}, at=h(30))
    services.run_cancel(run=runs["F"], at=h(5))
    return runs


NOW = T0 + timedelta(hours=100)


def test_real_runs_give_each_steps_times_branches_sla_and_where_runs_stall(workspace):
    member_make(workspace=workspace, username="al", role="agent")
    template = services.template_create(workspace=workspace, name="Loop", steps=STEPS)
    _runs_on_a_fixed_clock(template)
    version_1 = template.current
    # a run of a later version counts for that version only
    services.template_new_version(template=template, steps=STEPS[:1])
    template.refresh_from_db()
    services.run_start(template=template, at=T0)

    stats = selectors.step_stats(version=version_1, now=NOW)

    # call: done after 10, 50, 20, 30 h → median (20 + 30) / 2 = 25; p90 (inclusive) at rank
    # 1 + 0.9 × 3 = 3.7: 30 + 0.7 × (50 − 30) = 44. On time: A, D, E by 48 h; B late and C
    # open past 48 h → 3 of 5. Longest wait: C, 100 h.
    # write: done once in 4 h; ran in B and E, skipped in A and D → taken 2 of 4.
    # tell: done after 30 h (A) and 6 h (D) → median 18, p90 6 + 0.9 × 24 = 27.6; on time: D;
    # missed: A (done at 40, due 34) and B (due 78, open at 100) → 1 of 3; B waits 46 h.
    assert stats["steps"] == [
        {"key": "call", "title": "Call the customer", "conditional": False, "done": 4,
         "skipped": 0, "open": 1, "overdue": 1, "median_hours": 25.0,
         "p90_hours": pytest.approx(44.0), "taken": None, "on_time": 0.6,
         "open_hours_max": 100.0},
        {"key": "write", "title": "Write instead", "conditional": True, "done": 1,
         "skipped": 2, "open": 1, "overdue": 0, "median_hours": 4.0, "p90_hours": 4.0,
         "taken": 0.5, "on_time": None, "open_hours_max": 70.0},
        {"key": "tell", "title": "Tell them", "conditional": False, "done": 2, "skipped": 0,
         "open": 1, "overdue": 1, "median_hours": 18.0, "p90_hours": pytest.approx(27.6),
         "taken": None, "on_time": pytest.approx(1 / 3), "open_hours_max": 46.0},
    ]  # fmt: skip
    # call and tell each have one run overdue; call's open runs have waited longer (100 h
    # against 46 h)
    assert {k: stats[k] for k in stats if k != "steps"} == {
        "runs": 6, "runs_open": 3, "runs_done": 2, "runs_cancelled": 1,
        "stall": "Call the customer", "stall_open": 1, "stall_overdue": 1, "stall_hours": 100.0,
    }  # fmt: skip
    assert process.findings(stats, 1) == [
        "6 runs of version 1: 3 open, 2 closed, 1 cancelled.",
        "Runs stall most at “Call the customer”: 1 run waiting there (1 overdue), the longest "
        "for 4.2 days.",  # 100 h / 24
        "“Write instead” ran in 2 of 4 runs that reached it (50%); skipped in 2.",
    ]
    later = selectors.step_stats(version=template.current, now=NOW)
    assert later["runs"] == 1 and [r["open"] for r in later["steps"]] == [1]


def test_no_runs_yet():
    from cxloop.workflows._process_stats import median_p90

    assert median_p90([]) == (None, None)
    assert median_p90([7.0]) == (7.0, 7.0)


def _download(client, template, fmt, **params):
    query = "&".join(f"{k}={v}" for k, v in {"format": fmt, **params}.items())
    return client.get(f"/workflows/{template.pk}/process/?{query}")


@pytest.fixture
def loop(client, member, workspace):
    template = services.template_create(
        workspace=workspace, name="Detractor loop", steps=STEPS, description="After a low score"
    )
    client.force_login(member)
    return template


def test_the_process_page_offers_each_download(client, loop):
    page = client.get(f"/workflows/{loop.pk}/process/")

    assert page.status_code == 200 and "Due within 48 hours of the run&#x27;s start." in page.text
    for fmt in ("html", "md", "pdf"):
        assert f'href="?format={fmt}" download' in page.text
    assert '<svg id="flow"' in page.text and "s_call -.-&gt;|otherwise| s_tell" in page.text


def test_markdown_download(client, loop):
    download = _download(client, loop, "md")

    assert download["Content-Type"] == "text/markdown; charset=utf-8"
    assert download["Content-Disposition"] == 'attachment; filename="detractor-loop-v1.md"'
    text = download.content.decode()
    assert text.startswith("# Detractor loop (version 1)\n\nAfter a low score\n")
    assert "1. **Call the customer**. Done by each agent in turn." in text
    block = re.search(r"```mermaid\n(.*?)\n```", text, re.S)
    assert block and block.group(1).startswith("flowchart TD")
    for key, title in (("call", "Call the customer"), ("write", "Write instead"),
                       ("tell", "Tell them")):  # fmt: skip
        assert f'  s_{key}["{title}"]' in block.group(1)
    assert ("| Step | Done | Skipped | Taken | Open now | Overdue now | Median hours | "
            "p90 hours | On time |") in text  # fmt: skip
    assert "| Call the customer | 0 | 0 | — | 0 | 0 | — | — | — |" in text
    assert "- 0 runs of version 1: 0 open, 0 closed, 0 cancelled." in text


def test_html_download_is_one_file_with_the_diagram_and_nothing_from_outside(client, loop):
    download = _download(client, loop, "html")

    assert download["Content-Type"] == "text/html; charset=utf-8"
    assert download["Content-Disposition"] == 'attachment; filename="detractor-loop-v1.html"'
    html = download.content.decode()
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    svg = re.search(r"<svg .*?</svg>", html, re.S)
    assert svg and ">Call the customer</text>" in svg.group(0)
    assert ">if call.reached is no</text>" in svg.group(0)
    assert "Due within 24 hours of the step opening." in html
    # no address of anything to fetch: no links, sources, imports, scripts or URLs at all
    assert not re.search(r"https?:|//[a-z]|\bsrc=|\bhref=|@import|url\(|<script|<link", html)


def test_pdf_download_parses_and_holds_the_sentences_and_numbers(client, loop):
    download = _download(client, loop, "pdf")

    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"] == 'attachment; filename="detractor-loop-v1.pdf"'
    assert download.content.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(download.content))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert "Detractor loop (version 1)" in text
    assert "Due within 48 hours of the run's start." in text
    # the PDF's Helvetica has no curly quotes or en dashes: they print in ASCII
    assert 'When done, the customer is emailed "You said, we did".' in text
    assert "Records: Mood (a rating 1-5)." in text
    assert "Call the customer 0 0 - 0 0 - - -" in text  # the statistics table
    assert "if call.reached is no" in text and "Run closed" in text  # the flowchart


def test_downloads_describe_the_chosen_version(client, loop):
    services.template_new_version(template=loop, steps=[*STEPS, {"key": "close", "title": "Close"}])

    current = _download(client, loop, "md").content.decode()
    first = _download(client, loop, "md", version=1)
    page = client.get(f"/workflows/{loop.pk}/process/?version=1")

    assert current.startswith("# Detractor loop (version 2)") and "**Close**" in current
    assert first["Content-Disposition"] == 'attachment; filename="detractor-loop-v1.md"'
    assert "**Close**" not in first.content.decode()
    assert 'href="?version=1&amp;format=pdf" download' in page.text
    assert '<option value="1" selected>v1</option>' in page.text


@pytest.mark.parametrize(("query", "error"), [
    ("format=pdf2", "format: Select a valid choice. pdf2 is not one of the available choices."),
    ("version=9", "version: this workflow has no version 9"),
    ("version=abc", "version: &#x27;abc&#x27; is not a whole number"),
    ("version=0", "version: 0 is outside 1–100000"),
])  # fmt: skip
def test_bad_parameters_are_named(client, loop, query, error):
    response = client.get(f"/workflows/{loop.pk}/process/?{query}")

    assert response.status_code == 400 and error in response.text


@pytest.mark.parametrize(("name", "expected"), [
    ('../../etc/passwd"; x', "etc-passwd-x-v1"),
    ("Ünïcødé\r\nSet-Cookie: a=b", "unicde-set-cookie-a-b-v1"),
    ("日本語のワークフロー", "workflow-v1"),
    ("  --<script>alert(1)</script>--  ", "script-alert-1-script-v1"),
    ("a" * 120, "a" * 60 + "-v1"),
])  # fmt: skip
def test_hostile_names_give_safe_file_names(client, member, workspace, name, expected):
    template = services.template_create(workspace=workspace, name=name, steps=STEPS)
    client.force_login(member)

    for fmt in ("html", "md", "pdf"):
        response = _download(client, template, fmt)
        assert response.status_code == 200
        assert response["Content-Disposition"] == f'attachment; filename="{expected}.{fmt}"'
    html = _download(client, template, "html").content.decode()
    assert "<script>" not in html  # the name is escaped in the document and its diagram


def test_a_viewer_cannot_download(client, workspace):
    template = services.template_create(workspace=workspace, name="Loop", steps=STEPS)
    client.force_login(member_make(workspace=workspace, username="vi", role="viewer"))

    for fmt in ("", "html", "md", "pdf"):
        assert _download(client, template, fmt).status_code == 403


def test_the_diagram_tolerates_keys_it_does_not_know():
    steps = steps_validate([dict(s) for s in STEPS])
    steps[1] = {**steps[1], "parallel": "g1", "something_new": {"x": 1}}

    svg = process.diagram_svg(steps, {}, title="Loop")

    assert svg.count("<rect ") == 5  # start, three steps, end
    assert svg.count("stroke-dasharray") == 1  # the one "otherwise" line past "Write instead"


def test_mermaid_labels_cannot_break_out_of_their_node_or_the_fence():
    steps = [{"key": "x", "title": 'a "b" | ```c``` <d>'}]

    assert process.mermaid(steps).splitlines()[2] == """  s_x["a 'b' / '''c''' #lt;d#gt;"]"""


def test_a_parallel_group_is_drawn_side_by_side_between_a_fork_and_a_join():
    steps = [
        {"key": "call", "title": "Call"},
        {"key": "refund", "title": "Refund", "parallel": True},
        {"key": "close", "title": "Close"},
    ]

    plan = process.diagram(steps, {})

    nodes = {node.key: node for node in plan.nodes}
    assert nodes["call"].y == nodes["refund"].y  # one row
    assert nodes["call"].x + nodes["call"].w < nodes["refund"].x  # side by side, apart
    assert nodes["close"].y > nodes["call"].y + nodes["call"].h
    arrows = [edge for edge in plan.edges if edge.head]
    bars = [edge for edge in plan.edges if not edge.head]
    # an arrow into each box of the group, one from the join into Close, one into Run closed
    assert len(arrows) == 4
    # fork: a stem from Run starts and a bar; join: a stem from each box and a bar
    assert len(bars) == 5
    tips = sorted(edge.head[0] for edge in arrows)
    centres = sorted((n.x + n.w / 2, n.y) for n in plan.nodes if n.key != "start")
    assert tips == sorted(centres)
    svg = process.diagram_svg(steps, {}, title="Both")
    assert svg.count("<polygon") == 4 and svg.count("<polyline") == 9
