"""Closing the loop in real headless Chromium: building a workflow in the editor (two steps at
once among them), a customer submitting the public intake form (with a file), and a run moving
on the board in a second browser context without a reload. Screenshots land in test-artifacts/ (also checked by axe-core)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser import DESKTOP, PHONE, log_in, shot, sideways_overflow
from cxloop.workflows import selectors, services
from cxloop.workflows.models import WorkflowRun, WorkflowTemplate
from factories import member_make

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=8_000)
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
STEPS = [
    {"key": "call", "title": "Call the customer", "assignee": {"kind": "role", "role": "agent"},
     "deadline_hours": 48,
     "fields": [{"key": "reached", "label": "Reached them?", "type": "choice",
                 "choices": ["yes", "no"], "required": True}]},
    {"key": "fix", "title": "Fix it", "fields": []},
]  # fmt: skip


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread (started before the browser)."""


def test_building_a_workflow_in_the_editor(page, live_server, workspace, screenshot):
    log_in(page, live_server, member_make(workspace=workspace))
    page.goto(f"{live_server.url}/workflows/new/")

    page.get_by_label("Name", exact=True).fill("Callback")
    page.get_by_label("Title").fill("Call back")
    page.get_by_role("button", name="+ Step").click()  # htmx redraws the form with a second step
    expect(page.get_by_role("heading", name="Step 2")).to_be_visible()
    page.locator("#s1-title").fill("Write a summary")
    page.get_by_role("button", name="Move step 2 up").click()
    expect(page.get_by_role("heading", name="Step 1: Write a summary")).to_be_visible()
    page.get_by_role("button", name="+ Field").first.click()
    page.get_by_label("Step 1 field 1 label").fill("Summary")
    page.get_by_label("Step 1 field 1 key").fill("summary")
    page.locator("#s1-assignee_kind").select_option("round_robin")  # redraws: a role appears
    expect(page.locator("#s1-assignee_role")).to_be_visible()
    page.locator("#s1-deadline_hours").fill("48")
    page.locator("#s1-deadline_business").check()
    screenshot("editor")
    page.get_by_role("button", name="Save workflow").click()

    expect(page.get_by_role("heading", name="Callback v1")).to_be_visible()
    template = WorkflowTemplate.objects.get()
    steps = template.current.steps
    assert [s["title"] for s in steps] == ["Write a summary", "Call back"]
    assert steps[0]["fields"][0]["key"] == "summary"
    assert steps[1]["assignee"] == {"kind": "round_robin", "role": "agent"}
    assert steps[1]["deadline_hours"] == 48
    assert steps[1]["deadline_business"] is True and steps[0]["deadline_business"] is False


def test_a_customer_submits_the_intake_form(page, live_server, workspace, screenshot):
    template = services.template_create(
        workspace=workspace, name="Report a problem", steps=STEPS, intake_public=True,
        intake_fields=[{"key": "issue", "label": "What went wrong?", "type": "text",
                        "required": True}],
    )  # fmt: skip
    page.goto(f"{live_server.url}/w/{template.intake_token}/")

    page.get_by_label("Email").fill("not-an-email")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_contain_text("Email: Enter a valid email address.")
    screenshot("errors")
    page.get_by_label("Email").fill("dan@example.com")
    page.get_by_label("Name").fill("Dan")
    page.get_by_label("What went wrong?").fill("The parcel never came")
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    run = WorkflowRun.objects.get()
    assert run.intake == {"issue": "The parcel never came"} and str(run.customer) == "Dan"


def test_a_run_moves_on_the_board_seen_from_a_second_browser(
    browser, page, live_server, workspace, request
):
    template = services.template_create(workspace=workspace, name="Follow-up", steps=STEPS)
    run = services.run_start(template=template, title="Zoe's complaint")
    agent = member_make(workspace=workspace, username="al", role="agent")
    lead = member_make(workspace=workspace, username="lead", role="admin")
    log_in(page, live_server, lead)
    page.goto(f"{live_server.url}/workflows/runs/")
    call_column = page.locator(".wf-column", has_text="Call the customer")
    expect(call_column).to_contain_text("Zoe's complaint")

    other = browser.new_context(viewport={"width": 1366, "height": 900})
    worker = other.new_page()
    log_in(worker, live_server, agent)
    worker.goto(f"{live_server.url}/workflows/runs/{run.pk}/")
    worker.get_by_label("Reached them?").select_option("yes")
    worker.get_by_role("button", name="Complete step").click()
    expect(worker.locator(".wf-history")).to_contain_text("al completed · Call the customer")
    shot(worker, request, "run-detail")
    other.close()

    # the board polls and redraws by itself: no reload here
    expect(page.locator(".wf-column", has_text="Fix it")).to_contain_text(
        "Zoe's complaint", timeout=15_000
    )
    expect(page.locator(".wf-column", has_text="Call the customer")).to_have_count(0)
    shot(page, request, "board")
    assert selectors.run_steps(run=run)[1].status == "open"


def test_the_process_page_shows_the_flow_and_downloads(page, live_server, workspace, screenshot):
    # given a workflow with two versions and a run of the first
    template = services.template_create(
        workspace=workspace, name="Follow-up: “detractors”", steps=STEPS
    )
    services.run_start(template=template, title="Zoe's complaint")
    services.template_new_version(
        template=template, steps=[*STEPS, {"key": "close", "title": "Close"}]
    )
    log_in(page, live_server, member_make(workspace=workspace, username="al", role="agent"))
    # when
    page.goto(f"{live_server.url}/workflows/{template.pk}/process/")
    # then: the current version, its flowchart and a link per format
    expect(page.get_by_role("heading", level=1)).to_contain_text("v2")
    expect(page.get_by_role("img", name="Flow of Follow-up: “detractors”")).to_be_visible()
    downloads = page.locator("#downloads")
    for name in ("HTML", "Markdown", "PDF"):
        expect(downloads.get_by_role("link", name=name, exact=True)).to_be_visible()
    with page.expect_download() as pdf:
        downloads.get_by_role("link", name="PDF", exact=True).click()
    assert pdf.value.suggested_filename == "follow-up-detractors-v2.pdf"
    assert pdf.value.path().read_bytes()[:5] == b"%PDF-"
    screenshot("process")
    # when: the first version is chosen
    page.get_by_label("Version").select_option("1")
    page.get_by_role("button", name="Show").click()
    # then: its steps and its one run, and downloads of that version
    expect(page.get_by_role("heading", level=1)).to_contain_text("v1")
    expect(page.locator(".wf-findings")).to_contain_text("1 run of version 1: 1 open")
    with page.expect_download() as md:
        downloads.get_by_role("link", name="Markdown", exact=True).click()
    assert md.value.suggested_filename == "follow-up-detractors-v1.md"
    page.set_viewport_size(PHONE)
    assert sideways_overflow(page) == 0
    screenshot("process-phone")
    # the HTML download opened on its own: drawn, accessible, and asking nothing of the network
    html = page.request.get(f"{live_server.url}/workflows/{template.pk}/process/?format=html")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.set_content(html.text())
    expect(page.get_by_role("img", name="Flow of Follow-up: “detractors”")).to_be_visible()
    assert requests == [] and sideways_overflow(page) == 0
    screenshot("process-html-file-phone")


def test_business_hours_set_in_the_browser(page, live_server, screenshot):
    # given an admin with no business hours yet
    from cxloop.core.models import Workspace
    from cxloop.workflows import selectors as wf_selectors

    workspace = Workspace.objects.create(name="Hours Ltd", slug="hours")
    admin = member_make(workspace=workspace, username="boss", role="admin")
    log_in(page, live_server, admin)
    page.goto(f"{live_server.url}/workflows/calendar/")
    expect(page.get_by_role("heading", name="Business hours", level=1)).to_be_visible()
    # when: a bad zone and closing before opening are sent
    page.get_by_label("Time zone").fill("Europe/Londn")
    page.get_by_label("Opens").fill("18:00")
    page.get_by_label("Closes").fill("09:00")
    page.get_by_role("button", name="Save business hours").click()
    # then: each message sits at its field
    expect(page.locator("#zone-error")).to_contain_text("is not a time zone")
    expect(page.locator("#closes-error")).to_contain_text("is not after opens 18:00")
    screenshot("business-hours-errors")
    # when: fixed, with Saturday added and a holiday
    page.get_by_label("Time zone").fill("Europe/London")
    page.get_by_label("Opens").fill("08:00")
    page.get_by_label("Closes").fill("16:30")
    page.get_by_label("Saturday").check()
    page.get_by_label("Holidays").fill("2026-12-25")
    page.get_by_role("button", name="Save business hours").click()
    # then
    expect(page.locator(".messages")).to_contain_text("Business hours saved.")
    saved = wf_selectors.calendar_definition(workspace_id=workspace.pk)
    assert saved == {"zone": "Europe/London", "days": [0, 1, 2, 3, 4, 5], "opens": "08:00",
                     "closes": "16:30", "holidays": ["2026-12-25"]}  # fmt: skip
    screenshot("business-hours")


def test_building_two_parallel_steps_and_working_on_both(page, live_server, workspace, request):
    from browser import PHONE, axe_violations, sideways_overflow

    def look(name: str) -> None:  # desktop and phone, each checked by axe-core
        for size, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
            page.set_viewport_size(size)
            shot(page, request, name + suffix)
            assert not axe_violations(page), f"{name}{suffix}: {axe_violations(page)}"
            assert sideways_overflow(page) == 0, f"{name}{suffix} scrolls sideways"
        page.set_viewport_size(DESKTOP)

    admin = member_make(workspace=workspace, username="boss", role="admin")
    log_in(page, live_server, admin)
    page.goto(f"{live_server.url}/workflows/new/")
    page.get_by_label("Name", exact=True).fill("Refund")
    page.get_by_label("Title").fill("Call the customer")
    page.get_by_role("button", name="+ Step").click()
    expect(page.get_by_role("heading", name="Step 2")).to_be_visible()
    page.locator("#s1-title").fill("Refund the order")
    page.get_by_label("Runs at the same time as step 1").check()  # redraws: marked "with step 1"
    expect(page.get_by_role("heading", name="Step 2: Refund the order with step 1")).to_be_visible()
    look("editor-parallel")
    page.get_by_role("button", name="Save workflow").click()

    expect(page.get_by_role("heading", name="Refund v1")).to_be_visible()
    template = WorkflowTemplate.objects.get()
    assert [s.get("parallel", False) for s in template.current.steps] == [False, True]

    run = services.run_start(template=template, title="Zoe's refund")
    page.goto(f"{live_server.url}/workflows/runs/{run.pk}/")
    expect(page.get_by_role("heading", name="Call the customer", level=2)).to_be_visible()
    expect(page.get_by_role("heading", name="Refund the order", level=2)).to_be_visible()
    look("run-parallel")
    page.get_by_role("button", name="Complete step: Refund the order").click()
    expect(page.locator(".wf-history")).to_contain_text("boss completed · Refund the order")
    assert WorkflowRun.objects.get().status == "open"  # the call is still open
    page.get_by_role("button", name="Complete step").click()
    expect(page.locator(".wf-history")).to_contain_text("boss closed")


def test_a_customer_uploads_a_file_on_the_intake_form(page, live_server, workspace, screenshot):
    from browser import PHONE

    template = services.template_create(
        workspace=workspace, name="Report damage", steps=STEPS, intake_public=True,
        intake_fields=[{"key": "issue", "label": "What went wrong?", "type": "text",
                        "required": True},
                       {"key": "photo", "label": "A photo of it", "type": "file"}],
    )  # fmt: skip
    page.goto(f"{live_server.url}/w/{template.intake_token}/")
    page.get_by_label("Email").fill("dan@example.com")
    page.get_by_label("What went wrong?").fill("The box was crushed")
    page.get_by_label("A photo of it").set_input_files(
        {"name": "box.png", "mimeType": "image/png", "buffer": b"%PDF-1.4 not a picture"}
    )
    page.get_by_role("button", name="Send").click()

    expect(page.locator("#id_photo-error")).to_contain_text(
        "The content is not a PNG image, as the name .png says."
    )
    expect(page.get_by_label("What went wrong?")).to_have_value("The box was crushed")
    screenshot("intake-file-error")
    page.set_viewport_size(PHONE)
    screenshot("intake-file-error-phone")
    page.get_by_label("A photo of it").set_input_files(
        {"name": "../box (1).png", "mimeType": "image/png", "buffer": PNG_BYTES}
    )
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    run = WorkflowRun.objects.get()
    assert (run.intake["photo"]["name"], run.intake["photo"]["size"]) == ("box__1.png", 24)


def test_a_metric_rule_against_its_usual_range_in_the_editor(page, live_server, workspace):
    from browser import axe_violations

    log_in(page, live_server, member_make(workspace=workspace, username="boss", role="admin"))
    page.goto(f"{live_server.url}/workflows/rules/new/")
    # when: a metric trigger, compared with its usual range
    page.get_by_label("Trigger").select_option("metric_crossed")
    expect(page.get_by_label("Threshold")).to_be_visible()
    page.get_by_label("Compared with").select_option("usual")
    # then: the threshold gives way to k, the earlier windows and the kind of range
    expect(page.get_by_label("k (spreads from the centre)")).to_have_value("2")
    expect(page.get_by_label("Earlier windows")).to_have_value("8")
    expect(page.get_by_label("Range", exact=True)).to_have_value("sd")
    expect(page.get_by_label("Threshold")).to_have_count(0)
    expect(page.get_by_text("The notification names the value and the range.")).to_be_visible()
    assert axe_violations(page) == []


def test_a_public_intake_address_wraps_on_a_phone(browser, live_server, workspace):
    # given: a public intake form whose address is the longest a token makes (32 characters, no
    # break opportunity), which pushed the editor 4px sideways on a 390px phone
    template = services.template_create(
        workspace=workspace, name="Report a problem", steps=STEPS, intake_public=True,
        intake_fields=[{"key": "issue", "label": "What went wrong?", "type": "text"}],
    )  # fmt: skip
    WorkflowTemplate.objects.filter(pk=template.pk).update(intake_token="W" * 32)
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    log_in(page, live_server, member_make(workspace=workspace))

    # when
    page.goto(f"{live_server.url}/workflows/{template.pk}/")

    # then: the address is on the page, whole, and the page does not scroll sideways
    expect(page.get_by_role("link", name=f"/w/{'W' * 32}/")).to_be_visible()
    assert sideways_overflow(page) == 0
    context.close()
