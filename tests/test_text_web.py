"""The Text page, one text's page and the text REST API: search, filters, drivers, PII shown
only to roles with read_pii, and hostile input answered without a 5xx."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from cxloop.text import services
from cxloop.text.models import TextAnalysis, TextTheme, Theme
from factories import customer_id, identify, ingest, member_make, response_make, survey_make

AT = datetime(2025, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def analysed(workspace):
    ingest(workspace, [identify("u-1", {"email": "ann@example.com", "name": "Ann Lee"}, AT)])
    customer = workspace.customer_set.get(pk=customer_id(workspace, "u-1"))
    survey = survey_make(workspace)
    responses = [
        response_make(
            workspace, survey, AT, nps=2, channel="web", customer=customer,
            comment="The agent was rude. Call me on +44 20 7946 0958!",
        ),
        response_make(workspace, survey, AT, nps=10, channel="app", comment="Great app, thanks"),
    ]  # fmt: skip
    services.text_analyse_responses(responses=responses)
    return {r.comment: TextAnalysis.objects.get(response=r) for r in responses}


def _login(client, workspace, role):
    client.force_login(member_make(workspace=workspace, username=role, role=role))


def test_text_page_searches_and_links_to_the_customer(client, workspace, analysed):
    _login(client, workspace, "analyst")
    page = client.get(reverse("text-search"), {"q": "rude"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "The agent was rude. Call me on [phone]!" in html
    assert "Great app" not in html
    rude = next(iter(analysed.values()))
    assert reverse("customer-detail", args=[rude.customer_id]) in html
    assert 'id="drivers-table"' in html and ">rude</a>" in html


def test_dates_the_wrong_way_round_are_named_and_the_other_filters_kept(
    client, workspace, analysed
):
    _login(client, workspace, "analyst")
    page = client.get(
        reverse("text-search"),
        {"q": "rude", "channel": "web", "date_from": "2025-03-20", "date_to": "2025-03-10"},
    )
    html = page.content.decode()
    # then: the page, with the problem named beside the filters
    assert page.status_code == 422
    assert "date_from: 2025-03-20 is after date_to 2025-03-10" in html
    # the words, the channel and the end date kept; the 30 days up to that end searched
    assert 'value="rude"' in html and 'value="web"' in html
    assert 'value="2025-02-09"' in html and 'value="2025-03-10"' in html
    assert "The agent was rude." in html and 'id="stat-total">1<' in html


def test_an_empty_result_says_whether_the_workspace_has_texts(client, workspace, analysed):
    _login(client, workspace, "analyst")
    none = client.get(reverse("text-search"), {"q": "refund"}).content.decode()
    assert "No text matches these words and filters." in none
    TextAnalysis.objects.all().delete()
    empty = client.get(reverse("text-search")).content.decode()
    assert "No text has been analysed in this workspace yet" in empty


def test_text_page_defaults_to_the_30_days_up_to_the_latest_text(client, workspace, analysed):
    _login(client, workspace, "agent")
    html = client.get(reverse("text-search")).content.decode()
    assert 'value="2025-02-09"' in html and 'value="2025-03-10"' in html
    assert 'id="stat-total">2<' in html


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"label": "angry"}, "label"),
        ({"date_from": "2025-13-01"}, "date_from"),
        ({"date_from": "2025-03-02", "date_to": "2025-03-01"}, "date_from"),
        ({"date_to": "9999-12-31"}, "date_to"),
        ({"q": "x" * 300}, "q"),
        ({"q": "bad\x00"}, "q"),
        ({"page": "0"}, "page"),
    ],
)
def test_bad_parameters_are_named(client, workspace, analysed, params, named):
    _login(client, workspace, "analyst")
    page = client.get(reverse("text-search"), params)
    html = page.content.decode()
    if named in ("q", "date_from", "date_to"):
        # typed on the page: the page is drawn with the rest, the value named beside the filters
        assert page.status_code == 422 and 'id="filter-errors"' in html
        assert 'id="text-results"' in html or 'id="no-results"' in html
    else:  # a value no field of the page sends: the address is refused
        assert page.status_code == 400
    assert f"{named}:" in html


@pytest.mark.parametrize("query", ['"', "NEAR(", "*", "😀\u202e", "' OR 1=1 --", "ü" * 150])
def test_odd_queries_never_fail(client, workspace, analysed, query):
    _login(client, workspace, "analyst")
    assert client.get(reverse("text-search"), {"q": query}).status_code == 200
    assert client.get("/api/text/search", {"q": query}).status_code == 200


def test_detail_highlights_drivers_and_hides_the_original_from_analysts(
    client, workspace, analysed
):
    rude = next(iter(analysed.values()))
    _login(client, workspace, "analyst")
    html = client.get(reverse("text-detail", args=[rude.pk])).content.decode()
    assert '<mark class="neg">rude<span class="sr-only"> (negative word)</span></mark>' in html
    assert '<th scope="row">rude</th><td class="num">-2.00</td><td class="num">1</td>' in html
    assert "[phone]" in html and "7946" not in html
    assert "Your role does not show the original." in html


def test_a_text_with_no_sentiment_word_says_why_none_is_shown(client, workspace):
    survey = survey_make(workspace)
    response = response_make(
        workspace, survey, AT, ces=2, comment="Can't rely on you for delivery dates any more."
    )
    services.text_analyse_responses(responses=[response])
    analysis = TextAnalysis.objects.get(response=response)
    assert analysis.drivers == []
    _login(client, workspace, "analyst")
    html = client.get(reverse("text-detail", args=[analysis.pk])).content.decode()
    assert 'id="no-drivers"' in html and "no word can be shown as the reason" in html
    assert "· CES 2</p>" in html  # the score the text came with
    listed = client.get(reverse("text-search")).content.decode()
    assert "<span>CES 2</span>" in listed


def test_agents_see_the_original(client, workspace, analysed):
    rude = next(iter(analysed.values()))
    _login(client, workspace, "agent")
    html = client.get(reverse("text-detail", args=[rude.pk])).content.decode()
    assert "+44 20 7946 0958" in html
    api = client.get(f"/api/text/{rude.pk}").json()
    assert api["original"] == "The agent was rude. Call me on +44 20 7946 0958!"


def test_api_search_detail_and_drivers(client, workspace, analysed):
    _login(client, workspace, "analyst")
    found = client.get("/api/text/search", {"nps": "promoter"}).json()
    assert [t["text"] for t in found] == ["Great app, thanks"]
    rude = next(iter(analysed.values()))
    detail = client.get(f"/api/text/{rude.pk}").json()
    assert detail["original"] is None
    assert detail["pii"] == ["phone"]
    assert [s["label"] for s in detail["sentences"]] == ["negative", "neutral"]
    assert detail["sentences"][0]["drivers"] == [{"word": "rude", "valence": -2.0}]
    drivers = client.get("/api/text/drivers").json()
    assert (drivers["date_from"], drivers["date_to"]) == ("2025-02-09", "2025-03-10")
    assert (drivers["previous_from"], drivers["previous_to"]) == ("2025-01-10", "2025-02-08")
    assert [(d["word"], d["count"], d["previous_count"]) for d in drivers["drivers"]] == [
        ("rude", 1, 0)
    ]


def _theme(workspace, analysis, name, *, hidden=False):
    theme = Theme.objects.create(workspace=workspace, name=name, hidden=hidden)
    TextTheme.objects.create(analysis=analysis, theme=theme, weight=1.0)
    return theme


def test_a_theme_not_in_the_workspace_is_named_not_ignored(
    client, workspace, other_workspace, analysed
):
    theirs = Theme.objects.create(workspace=other_workspace, name="Theirs")
    _login(client, workspace, "analyst")
    for theme_id in (999999, theirs.pk):
        for url in ("/text/", "/text/drivers/", "/text/roadblocks/"):
            page = client.get(url, {"theme": theme_id})
            assert page.status_code == 422, url  # drawn without it, the theme named
            assert f"no theme {theme_id} in this workspace" in page.content.decode(), url
        for url in (
            "/api/text/search",
            "/api/text/drivers",
            "/api/text/key-drivers",
            "/api/text/roadblocks",
        ):
            api = client.get(url, {"theme": theme_id})
            assert api.status_code == 422, url
            assert f"theme: no theme {theme_id} in this workspace" in api.json()["detail"], url
        dashboard = client.get(reverse("dashboard"), {"theme": theme_id}).content.decode()
        assert 'data-param="theme"' in dashboard and f"no theme {theme_id}" in dashboard
        assert 'id="comments"' not in dashboard


def test_a_hidden_theme_filters_and_is_shown_chosen(client, workspace, analysed):
    rude, great = analysed.values()
    kept = _theme(workspace, great, "Praise")
    hidden = _theme(workspace, rude, "Rudeness", hidden=True)
    _login(client, workspace, "analyst")
    html = client.get("/text/", {"theme": hidden.pk}).content.decode()
    assert f'<option value="{hidden.pk}" selected>Rudeness (hidden)</option>' in html
    assert "The agent was rude" in html and "Great app" not in html
    plain = client.get("/text/").content.decode()
    assert "Rudeness" not in plain and f'<option value="{kept.pk}">Praise</option>' in plain
    found = client.get("/api/text/search", {"theme": hidden.pk}).json()
    assert [t["id"] for t in found] == [rude.pk]
    dashboard = client.get(
        reverse("dashboard"), {"theme": hidden.pk, "from": "2025-03-01", "to": "2025-03-31"}
    ).content.decode()
    assert f'<option value="{hidden.pk}" selected>Rudeness (hidden)</option>' in dashboard
    assert "The agent was rude" in dashboard and "Great app" not in dashboard


def test_one_date_alone_completes_the_period(client, workspace, analysed):
    """Only date_to: the 30 days ending then; only date_from: up to the latest text (that day
    alone when it is later); over ten years from date_from alone is refused, by name."""
    _login(client, workspace, "analyst")
    html = client.get("/text/", {"date_to": "2025-03-31"}).content.decode()
    assert 'value="2025-03-02"' in html and 'value="2025-03-31"' in html
    drivers = client.get("/api/text/drivers", {"date_to": "2025-03-31"}).json()
    assert (drivers["date_from"], drivers["date_to"]) == ("2025-03-02", "2025-03-31")
    assert (drivers["previous_from"], drivers["previous_to"]) == ("2025-01-31", "2025-03-01")
    drivers = client.get("/api/text/drivers", {"date_from": "2025-03-01"}).json()
    assert (drivers["date_from"], drivers["date_to"]) == ("2025-03-01", "2025-03-10")
    drivers = client.get("/api/text/drivers", {"date_from": "2025-06-01"}).json()
    assert (drivers["date_from"], drivers["date_to"]) == ("2025-06-01", "2025-06-01")
    page = client.get("/text/", {"date_from": "1990-01-01"})
    assert page.status_code == 422 and "date_from:" in page.content.decode()
    api = client.get("/api/text/drivers", {"date_from": "1990-01-01"})
    assert api.status_code == 422 and api.json()["detail"].startswith("date_from:")


def test_api_refuses_bad_filters_with_422(client, workspace, analysed):
    _login(client, workspace, "analyst")
    response = client.get("/api/text/search", {"emotion": "rage"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("emotion:")
    assert client.get("/api/text/999999").status_code == 404


def test_viewers_see_no_text(client, workspace, analysed):
    _login(client, workspace, "viewer")
    assert client.get(reverse("text-search")).status_code == 403
    assert client.get("/api/text/search").status_code == 403


HOSTILE = ["9223372036854775808", "-1", "NaN", "0001-01-01", "9999-12-31", "x" * 5000, "a\x00b",
           ["a", "b"], "\u202e😀", "e\u0301\u200b"]  # fmt: skip
PARAMS = (
    "q",
    "label",
    "nps",
    "channel",
    "source",
    "emotion",
    "date_from",
    "date_to",
    "theme",
    "page",
)


@pytest.mark.parametrize("name", PARAMS)
def test_hostile_parameters_never_give_a_5xx(client, workspace, analysed, name):
    _login(client, workspace, "admin")
    for value in HOSTILE:
        page = client.get(reverse("text-search"), {name: value})
        api = client.get("/api/text/search", {name: value})
        drivers = client.get("/api/text/drivers", {name: value})
        assert page.status_code in (200, 400, 422), (name, value)
        assert api.status_code in (200, 422), (name, value)
        assert drivers.status_code in (200, 422), (name, value)
    for url, allowed in (("/text/", (200, 400, 422)), ("/api/text/search", (200, 422))):
        # bytes that are not UTF-8 (a lone surrogate's encoding, 0xFF)
        assert client.get(f"{url}?{name}=%ED%A0%80%FF").status_code in allowed


def test_huge_ids_are_not_found(client, workspace, analysed):
    _login(client, workspace, "admin")
    assert client.get("/text/9223372036854775808/").status_code == 404
    assert client.get("/api/text/9223372036854775808").status_code == 422


def test_driver_words_are_listed_once_with_how_often():
    from cxloop.web.views.text import driver_rows

    drivers = [
        {"word": "late", "valence": -1.5},
        {"word": "great", "valence": 3.1},
        {"word": "Late", "valence": -1.5},  # the same word in another sentence
        {"word": "late", "valence": 0.75},  # negated ("not late"): another reading
        {"valence": 1.0},
        "junk",
    ]
    assert driver_rows(drivers) == [("late", -1.5, 2), ("great", 3.1, 1), ("late", 0.75, 1)]
