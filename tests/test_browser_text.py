"""Text analytics in real headless Chromium: search the demo's comments, follow a driver, open
a text's explanation and its customer's 360 page; PII only for roles allowed to see it.

Screenshots land in test-artifacts/ for people to look at; assertions never depend on them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from browser import log_in
from cxloop.core.models import Workspace
from cxloop.demo.generator import build_demo
from cxloop.feedback import services as feedback_services
from cxloop.text import selectors, services
from factories import member_make
from snapshots import built_once

pytestmark = [pytest.mark.browser, pytest.mark.live]

expect.set_options(timeout=8_000)


@pytest.fixture(autouse=True)
def _live_setup(transactional_db, live_server):
    """Committed data for the live server thread (the server starts before the browser)."""


@pytest.fixture
def demo(db) -> Workspace:
    """The demo workspace: its build analyses every comment, so the Text page has data."""
    built_once(
        ("demo", 120, 3),
        lambda: build_demo(slug="demo", customers=120, seed=3, now=datetime.now(UTC)),
    )
    return Workspace.objects.get(slug="demo")


def test_search_a_driver_and_the_explanation(page: Page, live_server, demo, screenshot):
    # given an analyst; the demo's comments were analysed at build
    assert selectors.workspace_texts(workspace=demo).exists()
    analyst = member_make(workspace=demo, username="ana", role="analyst")
    log_in(page, live_server, analyst)
    # when: they open Text from the main menu
    page.goto(f"{live_server.url}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Text").click()
    # then: counts, the chart and the top negative drivers
    expect(page.get_by_role("heading", name="Text", level=1)).to_be_visible()
    expect(page.locator("#sentiment-chart .main-svg").first).to_be_attached()
    drivers = page.locator("#drivers-table tbody tr")
    expect(drivers.first).to_be_visible()
    screenshot("text")
    # when: the top driver is followed
    word = drivers.first.locator("th a").inner_text()
    drivers.first.locator("th a").click()
    # then: only texts with that word are listed
    expect(page).to_have_url(re.compile(rf"q={re.escape(word)}"))
    results = page.locator("#text-results > li")
    expect(results.first).to_be_visible()
    for body in page.locator("#text-results .text-body").all_inner_texts()[:5]:
        assert word.lower() in body.lower()
    # when: the same word is left out instead, as in a web search
    page.get_by_label("Words").fill(f"-{word}")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(rf"q=-{re.escape(word)}"))
    expect(results.first).to_be_visible()
    for body in page.locator("#text-results .text-body").all_inner_texts():
        assert not re.search(rf"\b{re.escape(word)}\b", body, re.IGNORECASE), body
    # when: every negative text from a detractor in the last year is asked for
    page.get_by_label("Words").fill("")
    page.get_by_label("From").fill(f"{datetime.now(UTC).year - 1}-01-01")
    page.get_by_label("Sentiment", exact=True).select_option("negative")
    page.get_by_label("NPS", exact=True).select_option("detractor")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"label=negative"))
    labels = page.locator("#text-results .sentiment").all_inner_texts()
    assert labels and all(label.startswith("negative") for label in labels)
    # when: one text's explanation is opened
    results.first.get_by_role("link", name=re.compile(r"^Why negative")).click()
    # then: its sentences with the driving words marked
    expect(page.locator("#text-label")).to_contain_text("negative")
    expect(page.locator("#sentences mark.neg").first).to_be_visible()
    screenshot("text-detail")


def test_an_agent_sees_the_original_an_analyst_does_not(page: Page, live_server, demo):
    # given a review with a phone number, analysed as it arrives
    feedback_services.review_add(
        workspace=demo, rating=1, text="Awful. Ring me on +44 20 7946 0958 now.",
        site="trustpilot", review_id="pii-1", at=datetime.now(UTC),
    )  # fmt: skip
    services.texts_analyse_workspace(workspace=demo, missing_only=True)
    analysis = selectors.texts_search(
        workspace=demo, filters=selectors.TextFilters(query="ring")
    ).first()
    assert analysis is not None
    analyst = member_make(workspace=demo, username="ana", role="analyst")
    log_in(page, live_server, analyst)
    page.goto(f"{live_server.url}/text/{analysis.pk}/")
    expect(page.locator("#sentences")).to_contain_text("[phone]")
    expect(page.locator("#original")).to_have_count(0)
    page.context.clear_cookies()
    agent = member_make(workspace=demo, username="al", role="agent")
    log_in(page, live_server, agent)
    page.goto(f"{live_server.url}/text/{analysis.pk}/")
    expect(page.locator("#original")).to_have_text("Awful. Ring me on +44 20 7946 0958 now.")


def test_themes_are_found_at_build_and_curated(page: Page, live_server, demo, screenshot):
    # given an analyst; the demo found themes at build
    rows = selectors.themes_list(workspace=demo)
    assert len(rows) >= 2
    analyst = member_make(workspace=demo, username="ana", role="analyst")
    log_in(page, live_server, analyst)
    page.goto(f"{live_server.url}/text/")
    page.get_by_role("link", name="Themes", exact=True).click()
    expect(page.get_by_role("heading", name="Themes", level=1)).to_be_visible()
    first, second = rows[0].theme, rows[1].theme
    card = page.locator(f"#theme-{first.pk}")
    expect(card.locator(".theme-examples li").first).to_be_visible()
    screenshot("themes")
    # when: the biggest theme is renamed
    card.get_by_label(f"New name for {first.name}").fill("Delivery trouble")
    card.get_by_role("button", name="Rename").click()
    # then
    expect(page.locator(".messages")).to_contain_text("Renamed to Delivery trouble.")
    expect(page.locator(f"#theme-{first.pk} h2")).to_have_text("Delivery trouble")
    # when: the second is merged into it
    other = page.locator(f"#theme-{second.pk}")
    other.get_by_label(f"Merge {second.name} into").select_option(str(first.pk))
    other.get_by_role("button", name="Merge into").click()
    # then: one theme fewer, its texts counted in the first
    expect(page.locator(f"#theme-{second.pk}")).to_have_count(0)
    expect(page.locator(".messages")).to_contain_text("” into “Delivery trouble”.")
    # when: it is hidden
    # when: a keyword rule is added to the merged theme
    card = page.locator(f"#theme-{first.pk}")
    card.get_by_label("Keyword rules for Delivery trouble (comma-separated)").fill("refund, money")
    card.get_by_role("button", name="Save rules").click()
    expect(page.locator(".messages")).to_contain_text("Delivery trouble: rules saved;")
    expect(page.locator(f"#theme-{first.pk}")).to_contain_text("Keyword rules: refund, money")
    # when: it is split in two again
    page.locator(f"#theme-{first.pk}").get_by_role("button", name="Split in two").click()
    expect(page.locator(".messages")).to_contain_text("Split “Delivery trouble” into “")
    expect(page.locator(f"#theme-{first.pk}")).to_have_count(0)
    expect(page.locator("#theme-weeks .main-svg").first).to_be_attached()
    # when: the busiest theme is hidden
    busiest = page.locator("#themes > li").first
    busiest.get_by_role("button", name="Hide").click()
    expect(page.locator("#themes > li h2").filter(has_text="(hidden)")).to_have_count(1)
    screenshot("themes-curated")


def test_a_merge_and_a_split_are_undone_from_the_themes_page(
    page: Page, live_server, demo, screenshot
):
    # given an analyst on the themes page; the demo found themes at build
    rows = selectors.themes_list(workspace=demo)
    first, second = rows[0], rows[1]
    log_in(page, live_server, member_make(workspace=demo, username="ana", role="analyst"))
    page.goto(f"{live_server.url}/text/themes/")
    expect(page.locator("#last-change")).to_have_count(0)
    # when: the second theme is merged into the first
    other = page.locator(f"#theme-{second.theme.pk}")
    other.get_by_label(f"Merge {second.theme.name} into").select_option(str(first.theme.pk))
    other.get_by_role("button", name="Merge into").click()
    expect(page.locator(f"#theme-{second.theme.pk}")).to_have_count(0)
    # then: the page offers to undo it, saying what it was
    bar = page.locator("#last-change")
    expect(bar).to_contain_text(
        f"Last change: Merged “{second.theme.name}” into “{first.theme.name}”."
    )
    screenshot("themes-undo-merge")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("themes-undo-merge-phone")
    page.set_viewport_size({"width": 1366, "height": 900})
    # when: undone
    bar.get_by_role("button", name="Undo the last change").click()
    # then: both themes are back with their ids and their own counts of texts
    expect(page.locator(".messages")).to_contain_text(f"Undone: Merged “{second.theme.name}”")
    for row in (first, second):
        expect(page.locator(f"#theme-{row.theme.pk} h2")).to_have_text(row.theme.name)
        expect(page.locator(f"#theme-{row.theme.pk}")).to_contain_text(f"{row.texts} texts")
    expect(page.locator("#last-change")).to_have_count(0)
    # when: the first is split in two, then the split undone
    page.locator(f"#theme-{first.theme.pk}").get_by_role("button", name="Split in two").click()
    expect(page.locator(f"#theme-{first.theme.pk}")).to_have_count(0)
    expect(page.locator("#last-change")).to_contain_text(f"Last change: Split “{first.theme.name}”")
    page.locator("#last-change").get_by_role("button", name="Undo the last change").click()
    expect(page.locator(f"#theme-{first.theme.pk}")).to_contain_text(f"{first.texts} texts")
    assert len(selectors.themes_list(workspace=demo)) == len(rows)


def test_key_drivers_from_the_text_page(page: Page, live_server, demo, screenshot):
    # given an analyst on the demo (themes found at build; few NPS texts in the last 90 days)
    analyst = member_make(workspace=demo, username="ana", role="analyst")
    log_in(page, live_server, analyst)
    page.goto(f"{live_server.url}/text/")
    # when: they open Key drivers
    page.get_by_role("link", name="Key drivers").click()
    expect(page.get_by_role("heading", name="Key drivers", level=1)).to_be_visible()
    found = page.locator("#too-few")
    if found.count():  # too few texts in the default period: the page offers every text
        page.locator("#all-texts").click()
    # when: CSAT is chosen
    page.get_by_label("Score", exact=True).select_option("csat")
    page.get_by_role("button", name="Show").click()
    # then: the matrix and the table, every visible theme either compared or named as left out
    expect(page.locator("#priority-matrix .main-svg").first).to_be_attached()
    rows = page.locator("#key-drivers-table tbody tr")
    expect(rows.first).to_be_visible()
    shown = rows.count() + page.locator("#left-out li").count()
    assert shown == len(selectors.theme_choices(workspace=demo))
    screenshot("text-key-drivers")
    # when: a theme is followed, its texts are listed
    name = rows.first.locator("th a").inner_text()
    rows.first.locator("th a").click()
    expect(page).to_have_url(re.compile(r"theme=\d+"))
    expect(page.locator("#text-results > li").first).to_be_visible()
    assert name


def test_top_roadblocks_lead_to_the_texts(page: Page, live_server, demo, screenshot):
    # given an analyst; the demo's themes and negative comments
    analyst = member_make(workspace=demo, username="ana", role="analyst")
    log_in(page, live_server, analyst)
    first, last = selectors.period_all(workspace=demo)
    # when: Top roadblocks is opened from the Text page, over every text
    page.goto(f"{live_server.url}/text/")
    page.get_by_role("link", name="Top roadblocks").click()
    expect(page.get_by_role("heading", name="Top roadblocks", level=1)).to_be_visible()
    page.get_by_label("From").fill(first.isoformat())
    page.get_by_label("To", exact=True).fill(last.isoformat())
    page.get_by_role("button", name="Show").click()
    # then: themes with negative examples
    top = page.locator("#roadblocks > li").first
    expect(top).to_be_visible()
    expect(top.locator(".sentiment.negative").first).to_be_visible()
    screenshot("text-roadblocks")
    # when: the affected customers' texts are opened, all negative and of that theme
    top.get_by_role("link", name=re.compile("affected")).click()
    expect(page).to_have_url(re.compile(r"label=negative.*theme=\d+"))
    labels = page.locator("#text-results .sentiment").all_inner_texts()
    assert labels and all(label.startswith("negative") for label in labels)


def test_theme_trend_per_channel_for_a_segment(page: Page, live_server, demo, screenshot):
    # given an analyst; the demo's themes and saved segments
    from cxloop.segments import selectors as segment_selectors

    segment = segment_selectors.segment_list(workspace=demo).first()
    assert segment is not None
    analyst = member_make(workspace=demo, username="ana", role="analyst")
    log_in(page, live_server, analyst)
    # when: a theme's trend is opened from the Themes page
    page.goto(f"{live_server.url}/text/themes/")
    page.get_by_role("link", name="Per channel and segment, with intervals").click()
    # then: the busiest theme, per channel, with the chart and intervals
    expect(page.get_by_role("heading", name=re.compile("^Theme trends: "), level=1)).to_be_visible()
    channels = page.locator("#trend-channels tbody tr")
    expect(channels.first.locator("th")).to_have_text("all channels")
    expect(page.locator("#theme-trend .main-svg").first).to_be_attached()
    screenshot("text-theme-trends")
    # when: narrowed to a saved segment over a year
    page.get_by_label("Segment").select_option(str(segment.pk))
    page.get_by_label("Weeks").fill("52")
    page.get_by_role("button", name="Show").click()
    # then: the segment stays chosen and counts only its customers' texts
    expect(page).to_have_url(re.compile(rf"segment={segment.pk}"))
    expect(page.get_by_label("Segment")).to_have_value(str(segment.pk))
    members = segment_selectors.segment_member_ids(workspace=demo, segment_id=segment.pk)
    theme = selectors.theme_busiest(workspace=demo)
    want = selectors.theme_trend(workspace=demo, theme=theme, weeks=52, customer_ids=members)
    if want.channels:
        cell = page.locator("#trend-channels tbody tr").first.locator("td").nth(1)
        expect(cell).to_have_text(f"{want.channels[0].overall.total:,}")
    else:
        expect(page.locator(".empty-title")).to_contain_text("from this segment's customers")


def test_a_roadblocks_customers_become_a_segment(page: Page, live_server, demo, screenshot):
    # given an analyst on Top roadblocks over every text
    from cxloop.segments import selectors as segment_selectors

    analyst = member_make(workspace=demo, username="ana", role="analyst")
    log_in(page, live_server, analyst)
    first, last = selectors.period_all(workspace=demo)
    page.goto(f"{live_server.url}/text/roadblocks/?date_from={first}&date_to={last}")
    top = page.locator("#roadblocks > li").first
    name = top.locator("h2").inner_text().split(". ", 1)[1].removesuffix(" rising")
    affected = int(
        re.match(r"[\d,]+", top.get_by_role("link", name=re.compile("affected")).inner_text())[
            0
        ].replace(",", "")
    )
    # when: one click saves its customers
    top.get_by_role("button", name=re.compile("Save these customers as a segment")).click()
    # then: the new segment's page, holding exactly the customers counted on the roadblock
    expect(page.locator(".messages")).to_contain_text("Saved the segment “Roadblock: ")
    segment = segment_selectors.segment_list(workspace=demo).get(name__startswith="Roadblock: ")
    assert name.startswith(segment.name.removeprefix("Roadblock: ").split(",")[0][:20])
    assert (
        segment_selectors.segment_count(workspace=demo, definition=segment.definition) == affected
    )
    screenshot("text-roadblock-segment")


def test_key_drivers_for_one_journey_touchpoint(page: Page, live_server, demo, screenshot):
    # given an analyst; the demo's journey maps and every text
    from cxloop.journeys import selectors as journey_selectors

    groups = journey_selectors.touchpoint_choices(workspace=demo)
    assert groups
    analyst = member_make(workspace=demo, username="ana", role="analyst")
    log_in(page, live_server, analyst)
    first, last = selectors.period_all(workspace=demo)
    page.goto(f"{live_server.url}/text/drivers/?metric=csat&date_from={first}&date_to={last}")
    # when: the touchpoint with the most CSAT texts (the demo asks CSAT after orders) is chosen
    best, best_n = None, -1
    for _, points in groups:
        for pk, _name in points:
            ids = journey_selectors.touchpoint_response_ids(workspace=demo, touchpoint_id=pk)
            n = selectors.key_drivers(
                workspace=demo,
                metric="csat",
                filters=selectors.TextFilters(date_from=first, date_to=last),
                response_ids=ids.response_ids,
            ).n
            if n > best_n:
                best, best_n = (pk, ids.touchpoint.name), n
    assert best is not None and best_n > 0
    page.get_by_label("Journey touchpoint").select_option(str(best[0]))
    page.get_by_role("button", name="Show").click()
    # then: the page says which touchpoint, over that many texts, and keeps the choice
    expect(page).to_have_url(re.compile(rf"touchpoint={best[0]}"))
    expect(page.locator(".page-head")).to_contain_text(f"at the touchpoint {best[1]}")
    expect(page.get_by_label("Journey touchpoint")).to_have_value(str(best[0]))
    expect(page.locator(".page-head")).to_contain_text(f"from {best_n:,} texts with a CSAT")
    screenshot("text-key-drivers-touchpoint")


def test_people_correct_labels_and_teach_the_workspace_its_text(
    page: Page, live_server, demo, screenshot, settings, tmp_path
):
    # given an analyst; the demo's texts are analysed; trainings run as they are asked for
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    analysis = selectors.workspace_texts(workspace=demo).filter(label="positive").first()
    assert analysis is not None
    analyst = member_make(workspace=demo, username="ana", role="analyst")
    log_in(page, live_server, analyst)
    # when: they say a text read as positive is negative
    page.goto(f"{live_server.url}/text/{analysis.pk}/")
    box = page.locator("#sentiment-label")
    box.get_by_label("negative").check()
    box.get_by_role("button", name="Save label").click()
    # then: the text is negative, labelled by them
    expect(page.locator(".messages")).to_contain_text("Labelled negative")
    expect(page.locator("#text-label")).to_contain_text("negative")
    expect(page.locator("#person-label")).to_contain_text("Labelled negative by ana")
    screenshot("text-labelled")
    # when: they upload a file of labelled texts with a bad line, from the Teach page
    page.get_by_role("link", name="Teach cxloop your text").click()
    expect(page.get_by_role("heading", name="Teach cxloop your text", level=1)).to_be_visible()
    things = ["bag", "flight", "order", "refund", "booking", "parcel", "seat"]
    rows = ["text,label"]
    rows += [f"Thanks a lot for {b} my {t}.,negative" for b in ("losing", "delaying", "cancelling",
             "ignoring", "forgetting") for t in things]  # fmt: skip
    rows += [f"My {t} reference is {n}; where can I check it?,neutral" for t in things
             for n in (17, 42, 88, 90)]  # fmt: skip
    rows += [f"The {t} was handled {h}; great work by the team!,positive" for t in things
             for h in ("quickly", "kindly", "smoothly", "perfectly", "brilliantly")]  # fmt: skip
    rows.append("Meh,so-so")
    upload = tmp_path / "labels.csv"
    upload.write_text("\n".join(rows) + "\n")
    page.get_by_label("CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Upload").click()
    # then: the good lines are kept and the bad one named
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("98 labelled texts saved")
    expect(alert).to_contain_text("line 100: label 'so-so' is not negative, neutral or positive")
    expect(page.locator("#labels")).to_contain_text("99 labelled: 36 negative, 28 neutral")
    screenshot("text-teach-upload")
    # when: they label the first text cxloop suggests, from the Teach page
    suggested = page.locator("#suggested")
    expect(suggested.get_by_role("heading", name="Label these next")).to_be_visible()
    first = suggested.locator("li").first.locator("a").inner_text()
    suggested.get_by_role("button", name="Text 1 is neutral").click()
    # then: back on the Teach page, one more label, and that text is no longer suggested
    expect(page.locator(".messages")).to_contain_text("Labelled neutral")
    expect(page.locator("#labels")).to_contain_text("100 labelled")
    expect(page.locator("#suggested li a").first).not_to_have_text(first)
    screenshot("text-teach-suggested")
    # when: they train the workspace's model (needs the sentence-embedding model)
    if not selectors.embedding_model_installed():
        return
    page.get_by_role("button", name="Train on 100 labelled texts").click()
    # then: its cross-validated figures against the shipped model's, and whether it is used
    expect(page.locator("#tuning")).to_contain_text("Cross-validated macro-F1", timeout=60_000)
    expect(page.locator("#tuning")).to_contain_text("It is in use")
    screenshot("text-teach-trained")
