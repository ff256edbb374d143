"""The survey editor end to end in headless Chromium: build a survey with skip logic from
scratch beside its live preview, publish it, answer it on a phone following the logic, then
edit it safely after it has answers and see unsafe edits refused next to where they were made.

Screenshots land in test-artifacts/ (look at them); axe-core checks each state.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from browser import axe_violations, log_in, shot
from cxloop.feedback import selectors, services
from cxloop.feedback.models import Response, Survey

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=5_000)


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread (started before the browser)."""


def _add(page: Page, key: str, text: str, kind: str = "rating", **more) -> None:
    form = page.locator("#add-question")
    form.get_by_label("Key").fill(key)
    form.get_by_label("Type").select_option(kind)
    if "scale" in more:
        form.get_by_label("Rating scale").select_option(more["scale"])
    form.get_by_label("Question text (en), default").fill(text)
    if "choices" in more:
        form.get_by_label("Choices").fill(more["choices"])
    if "show_if" in more:
        question, op, value = more["show_if"]
        form.get_by_label("Show this question").select_option(question)
        form.get_by_label("Condition").select_option(op)
        form.get_by_label("Value").select_option(value)
    if more.get("required"):
        form.get_by_label("Answer required").check()
    form.get_by_role("button", name="Add question").click()


def _clean(page: Page) -> None:
    problems = axe_violations(page)
    assert not problems, "\n".join(problems)


def test_build_preview_publish_answer_on_a_phone_and_edit_safely(
    browser, page: Page, live_server, member, request
):
    # given: a CX manager starts a survey from scratch
    log_in(page, live_server, member)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/surveys/new/")
    page.get_by_label("Survey name").fill("Store visit")
    page.get_by_role("button", name="Create and add questions").click()
    expect(page.get_by_role("heading", name="Store visit", exact=True)).to_be_visible()
    expect(page.locator("#survey-status")).to_have_text("Draft")

    # when: three questions, the follow-up shown only to detractors
    _add(page, "score", "How likely are you to recommend our shop?", scale="0-10", required=True)
    expect(page.locator("#question-score")).to_contain_text("measures NPS")  # 0–10: NPS by default
    _add(page, "why", "What should we fix first?", "text", show_if=("score", "lte", "6"))
    expect(page.locator("#question-why")).to_contain_text("shown if score ≤ 6")
    _add(page, "visit", "What brought you in?", "single_choice", choices="Groceries\nClothes")
    expect(page.locator("#qlist > li")).to_have_count(3)

    # a duplicate key is refused next to the add form, not swallowed
    _add(page, "score", "Again?", "text")
    add_error = page.locator("#add-card [role=alert]")
    expect(add_error).to_contain_text("'score' is used by another question")
    expect(add_error).to_be_in_viewport()

    # moving the follow-up above the question it depends on is refused on that question
    page.get_by_role("button", name="Move question why up").click()
    refused = page.locator("#question-why [role=alert]")
    expect(refused).to_contain_text("'why' depends on 'score' (skip logic)")
    expect(refused).to_be_in_viewport()
    shot(page, request, "editor-refused-move")
    _clean(page)

    # drag "visit" to the top (HTML5 drag and drop) and it is saved in that order
    with page.expect_response(lambda r: r.request.method == "POST" and "/questions/" in r.url):
        page.locator("#question-visit .drag-handle").drag_to(page.locator("#question-score .qbody"))
    expect(page.locator("#qlist > li").first).to_have_attribute("data-key", "visit")
    survey = Survey.objects.get(name="Store visit")
    keys = [q["key"] for q in selectors.survey_spec(survey)["questions"]]
    assert keys == ["visit", "score", "why"]

    # the preview shows the real public page, with its skip logic, at phone width
    preview = page.frame_locator("#preview")
    expect(preview.get_by_text("Preview: answers given here are not saved.")).to_be_visible()
    follow_up = preview.get_by_role("group", name="What should we fix first?")
    expect(follow_up).to_be_hidden()
    preview.locator("label.pick", has_text="4").first.click()
    expect(follow_up).to_be_visible()
    assert page.locator("#preview").bounding_box()["width"] <= 390
    shot(page, request, "editor-phone-preview")
    page.get_by_role("button", name="Desktop").click()
    assert page.locator("#preview").bounding_box()["width"] > 390
    shot(page, request, "editor-desktop-preview")
    _clean(page)
    assert Response.objects.count() == 0  # the preview saves nothing

    # a brand colour (dark enough for white text) restyles the preview
    page.get_by_text("Look of the public page").click()
    page.get_by_label("Brand colour").fill("#0a7d55")
    page.get_by_role("button", name="Save look").click()
    send = page.frame_locator("#preview").get_by_role("button", name="Send my answers")
    expect(send).to_have_css("background-color", "rgb(10, 125, 85)")

    # then: published, it can be answered on a phone, following the logic
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#survey-status")).to_have_text("Active")
    link = page.get_by_label("Public link").input_value()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                has_touch=True)  # fmt: skip
    public = phone.new_page()
    public.goto(link)
    question = public.get_by_role("group", name="What should we fix first?")
    expect(question).to_be_hidden()
    public.get_by_text("Groceries").tap()
    public.locator("label.pick", has_text="3").first.tap()
    expect(question).to_be_visible()
    public.get_by_label("What should we fix first?").fill("The queue at the till.")
    assert public.evaluate("document.documentElement.scrollWidth") <= 390
    shot(public, request, "phone-answering")
    public.get_by_role("button", name="Send my answers").tap()
    expect(public.get_by_role("heading", name="Thank you!")).to_be_visible()
    phone.close()
    response = Response.objects.get()
    assert (response.completed, response.nps_score, response.comment) == (
        True, 3, "The queue at the till.",
    )  # fmt: skip

    # when: editing the live survey: rewording is safe
    page.goto(f"{live_server.url}/surveys/{survey.pk}/questions/")
    expect(page.locator("#live-note")).to_contain_text("has 1 response")
    card = page.locator("#question-score")
    card.locator("summary").click()
    card.get_by_label("Question text (en), default").fill("How likely are you to recommend us?")
    card.get_by_role("button", name="Save question").click()
    expect(page.locator("#question-score")).to_contain_text("How likely are you to recommend us?")
    expect(
        page.frame_locator("#preview").get_by_text("How likely are you to recommend us?")
    ).to_be_visible()

    # changing the scale of an answered question is explained and refused, on that question
    card = page.locator("#question-score")
    card.locator("summary").click()
    card.get_by_label("Scale").select_option("1-5")
    card.get_by_role("button", name="Save question").click()
    refused = page.locator("#question-score [role=alert]")
    expect(refused).to_contain_text(
        "'score' has 1 answer on its 0–10 scale: the scale cannot change"
    )
    expect(refused).to_be_in_viewport()
    shot(page, request, "editor-unsafe-edit")
    _clean(page)

    # removing an answered question is refused on that question too
    page.get_by_role("button", name="Remove question visit").click()
    expect(page.locator("#question-visit [role=alert]")).to_contain_text(
        "'visit' has 1 answer: removing it would lose them"
    )
    # a new required question is refused; the same question optional is added
    _add(page, "staff", "Was our staff helpful?", "text", required=True)
    expect(page.locator("#add-card [role=alert]")).to_contain_text(
        "a new question must be optional"
    )
    _add(page, "staff", "Was our staff helpful?", "text")
    expect(page.locator("#question-staff")).to_be_visible()
    questions = selectors.survey_spec(Survey.objects.get(pk=survey.pk))["questions"]
    assert [(q["key"], q["scale_max"], q["required"]) for q in questions] == [
        ("visit", None, False), ("score", 10, True), ("why", None, False), ("staff", None, False),
    ]  # fmt: skip
    assert questions[1]["text"] == {"en": "How likely are you to recommend us?"}


def test_editor_on_a_phone_fits_and_is_accessible(browser, live_server, workspace, member, request):
    survey = services.survey_create_from_template(
        workspace=workspace, template="post_purchase", status="draft"
    )
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/surveys/{survey.pk}/questions/")
    page.locator("#qlist > li").first.locator("summary").click()
    shot(page, request, "editor-phone")
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)
        .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, wide
    _clean(page)
    context.close()


def test_surveys_list_explains_counts_and_copies_links(
    browser, live_server, workspace, member, request
):
    # given: a live survey with one complete and one partial response, asked after an event
    survey = services.survey_create_from_template(
        workspace=workspace, template="nps", languages=["en"]
    )
    services.trigger_create(survey=survey, event_name="Order Completed")
    services.response_submit(survey=survey, answers={"nps": 9}, response_key="a", complete=True)
    services.response_submit(survey=survey, answers={"nps": 3}, response_key="b", complete=False)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    log_in(page, live_server, member)
    # when
    page.goto(f"{live_server.url}/surveys/")
    row = page.get_by_role("row", name=survey.name)
    # then: complete and partial side by side, explained; the touchpoint; a working copy button
    expect(page.locator("#count-help")).to_contain_text("Partial: started and saved")
    expect(row.get_by_role("cell").nth(3)).to_have_text("1")
    expect(row.get_by_role("cell").nth(4)).to_have_text("1")
    expect(row).to_contain_text("Order Completed")
    row.get_by_role("button", name=f"Copy the public link of {survey.name}").click()
    expect(row.get_by_role("button", name=f"Copy the public link of {survey.name}")).to_have_text(
        "Copied"
    )
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{live_server.url}/s/{survey.public_token}/"
    shot(page, request, "list")
    _clean(page)
    page.goto(f"{live_server.url}/surveys/{survey.pk}/")
    expect(page.locator("#stat-partial")).to_have_text("1")
    expect(page.locator("#r-help")).to_have_text("all started: 1 complete, 1 partial")
    shot(page, request, "detail")
    context.close()
