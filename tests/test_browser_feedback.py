"""Surveys in real headless Chromium: build one in the app, answer it on the public page.

Screenshots land in test-artifacts/ for people to look at; assertions never depend on them.
"""

from __future__ import annotations

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from browser import axe_violations, shot
from cxloop.feedback import selectors, services
from cxloop.feedback.models import Response, Survey

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=5_000)


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread (started before the browser)."""


def log_in(page: Page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])


def test_build_a_survey_and_answer_it_as_a_customer(
    page: Page, live_server, member, screenshot, request
):
    # given: an analyst builds a survey from scratch with a detractor-only follow-up
    log_in(page, live_server, member)
    page.goto(f"{live_server.url}/surveys/")
    expect(page.get_by_text("No surveys yet")).to_be_visible()
    page.get_by_role("link", name="New survey").first.click()
    screenshot("new")
    page.get_by_label("Survey name").fill("Store visit")
    page.get_by_role("button", name="Create and add questions").click()
    expect(page.get_by_role("heading", name="Store visit")).to_be_visible()
    # a survey without questions cannot be published yet: the page says what to do
    expect(page.locator("#publish-hint")).to_have_text("Add a question to publish")
    expect(page.get_by_role("button", name="Publish")).to_have_count(0)
    form = page.locator("#add-question")
    form.get_by_label("Key").fill("score")
    form.get_by_label("Rating scale").select_option("0-10")
    form.get_by_label("Counts towards").select_option("nps")
    form.get_by_label("Question text (en), default").fill(
        "How likely are you to recommend our shop?"
    )
    form.get_by_label("Low end label").fill("Not likely")
    form.get_by_label("High end label").fill("Very likely")
    form.get_by_label("Answer required").check()
    form.get_by_role("button", name="Add question").click()
    expect(page.locator("#question-score")).to_contain_text("measures NPS")
    expect(page.locator("#publish-hint")).to_have_count(0)  # the first question brings Publish
    form.get_by_label("Key").fill("why")
    form.get_by_label("Type").select_option("text")
    form.get_by_label("Question text (en), default").fill("What should we fix first?")
    form.get_by_label("Show this question").select_option("score")
    form.get_by_label("Condition").select_option("lte")
    form.get_by_label("Value").select_option("6")
    form.get_by_role("button", name="Add question").click()
    expect(page.locator("#question-why")).to_contain_text("shown if score ≤ 6")
    screenshot("builder")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#survey-status")).to_have_text("Active")
    screenshot("detail")
    link = page.get_by_label("Public link").input_value()
    survey = Survey.objects.get(name="Store visit")
    assert link == f"{live_server.url}/s/{survey.public_token}/"

    # when: a customer opens the link (no login) and answers
    customer = page.context.browser.new_context(viewport={"width": 1366, "height": 900})
    public = customer.new_page()
    public.goto(link)
    follow_up = public.get_by_role("group", name="What should we fix first?")
    expect(follow_up).to_be_hidden()
    public.get_by_text("3", exact=True).click()
    expect(follow_up).to_be_visible()
    public.get_by_label("What should we fix first?").fill("The queue at the till was far too long.")
    public.get_by_label("What should we fix first?").blur()
    public.wait_for_timeout(900)  # autosave of the partial answer
    partial = Response.objects.get()
    assert (partial.completed, partial.nps_score) == (False, 3)
    shot(public, request, "public-desktop")
    public.get_by_text("9", exact=True).click()  # changes their mind: the follow-up goes away
    expect(follow_up).to_be_hidden()
    public.get_by_text("2", exact=True).click()
    expect(follow_up).to_be_visible()
    public.get_by_role("button", name="Send my answers").click()

    # then
    expect(public.get_by_role("heading", name="Thank you!")).to_be_visible()
    response = Response.objects.get()
    assert (response.completed, response.nps_score, response.comment) == (
        True, 2, "The queue at the till was far too long.",
    )  # fmt: skip
    customer.close()
    page.reload()
    expect(page.locator("#responses")).to_contain_text("The queue at the till was far too long.")
    expect(page.locator("#stat-nps")).to_have_text("-100")


def test_public_page_on_a_phone_keyboard_and_languages(browser, live_server, workspace, request):
    survey = services.survey_create_from_template(workspace=workspace, template="post_purchase")
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
        locale="fr-FR", extra_http_headers={"Accept-Language": "fr-FR,fr;q=0.9"},
    )  # fmt: skip
    phone = context.new_page()
    phone.goto(f"{live_server.url}/s/{survey.public_token}/")
    expect(phone.locator("html")).to_have_attribute("lang", "fr")
    scale = phone.get_by_role("radiogroup", name="Êtes-vous satisfait de votre commande récente ?")
    expect(scale).to_be_visible()
    box = phone.locator(".pick span").first.bounding_box()
    assert box["height"] >= 44  # thumb-sized targets
    assert box["width"] >= 44
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing spills sideways
    # nor does a title of one long word (German makes them)
    services.survey_update(survey=survey, name="Kundenzufriedenheitsbefragungsrückmeldung" * 2)
    phone.reload()
    expect(phone.locator("h1")).to_have_text("Kundenzufriedenheitsbefragungsrückmeldung" * 2)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, request, "phone-fr")
    # keyboard only: tab into the scale, pick with arrows, submit with Enter
    phone.locator('input[name="csat"]').first.focus()
    phone.keyboard.press("ArrowRight")
    phone.keyboard.press("ArrowRight")  # 3 of 5: "what went wrong?" appears
    expect(phone.get_by_role("group", name="Qu'est-ce qui n'a pas fonctionné ?")).to_be_visible()
    phone.get_by_text("Livraison en retard").click()
    shot(phone, request, "phone-fr-answered")
    phone.get_by_role("button", name="Envoyer mes réponses").click()
    expect(phone.get_by_role("heading", name="Merci !")).to_be_visible()
    response = Response.objects.get()
    assert (response.csat_score, response.language) == (3, "fr")
    assert selectors.response_answers(response=response) == {"csat": 3, "problem": "late_delivery"}
    context.close()


def test_missing_required_answer_and_embedded_widget(
    page: Page, live_server, workspace, screenshot
):
    survey = services.survey_create_from_template(
        workspace=workspace, template="nps", languages=["en"]
    )
    page.goto(f"{live_server.url}/s/{survey.public_token}/")
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("alert")).to_have_text("Please check the highlighted answers.")
    expect(page.locator("#err-nps")).to_have_text("Please answer this question.")
    screenshot("required")
    # a customer's website with the one-line snippet
    # a different origin from the survey's (the host name differs), as a real shop would be
    host = "127.0.0.1" if "localhost" in live_server.url else "localhost"
    shop = live_server.url.replace("localhost", host).replace("127.0.0.1", host, 1) + "/shop/"
    assert shop.split("/")[2] != live_server.url.split("/")[2]
    page.route(
        shop,
        lambda route: route.fulfill(
            content_type="text/html",
            body=f'<!doctype html><html lang="en"><title>Shop</title><main><h1>Northwind shop</h1></main>'
            f'<script src="{live_server.url}/s/{survey.public_token}/embed.js" async></script>',
        ),
    )
    # Chromium asks before a page may load from a loopback address: a real shop is not local
    page.context.grant_permissions(["local-network-access"])
    page.goto(shop)
    page.get_by_role("button", name="Feedback").click()
    frame = page.frame_locator("iframe[title='Relationship NPS']")
    frame.get_by_text("10", exact=True).click()
    frame.get_by_role("button", name="Send my answers").click()
    expect(frame.get_by_role("heading", name="Thank you!")).to_be_visible()
    screenshot("widget")
    response = Response.objects.get()
    assert (response.source, response.nps_score, response.completed) == ("embed", 10, True)


def test_score_link_from_an_email_on_a_phone(browser, live_server, workspace, request):
    # given: the "10" link of an invitation email, opened on a phone
    survey = services.survey_create_from_template(
        workspace=workspace, template="nps", languages=["en"]
    )
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)  # fmt: skip
    phone = context.new_page()
    phone.goto(f"{live_server.url}/s/{survey.public_token}/?nps=10")

    # then: 10 is selected, its follow-up shown, the page says how to send it; nothing stored
    expect(phone.locator('input[name="nps"][value="10"]')).to_be_checked()
    expect(phone.locator("#prefilled")).to_contain_text("press “Send my answers”")
    expect(phone.get_by_label("Thank you! What do you like most about us?")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.wait_for_timeout(700)  # longer than the autosave's delay: a visit alone stores nothing
    assert Response.objects.count() == 0
    assert axe_violations(phone) == []
    shot(phone, request, "phone-score-link")

    # when: one tap on the send button
    phone.get_by_role("button", name="Send my answers").tap()

    # then: one complete response with the score from the link
    expect(phone.get_by_role("heading", name="Thank you!")).to_be_visible()
    assert list(Response.objects.values_list("nps_score", "completed", "source")) == [
        (10, True, "link")
    ]
    assert axe_violations(phone) == []
    context.close()
