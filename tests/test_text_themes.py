"""Themes: discovered with TF-IDF + NMF, then renamed, merged and hidden by people."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sklearn.metrics import normalized_mutual_info_score

from cxloop.text import selectors, services, themes
from cxloop.text.models import TextTheme, Theme
from factories import response_make, survey_make

AT = datetime(2025, 3, 10, 12, tzinfo=UTC)
DELIVERY = [
    "Delivery was late again and the parcel arrived damaged",
    "My parcel delivery took two weeks, courier lost the parcel",
    "Late delivery, the courier never came and the parcel is lost",
    "Parcel delivery delayed, courier left the parcel outside",
    "The courier delivery was late and the parcel was wet",
    "Delivery slow, parcel arrived late, courier rude",
]
LOGIN = [
    "Password reset email never arrived so I cannot log in",
    "Cannot log in, the password reset link is broken",
    "Login fails after password reset, account locked",
    "I forgot my password and the reset email did not come, cannot log in",
    "Account locked after login attempts, password reset broken",
    "Log in keeps failing even with the new password",
]


def test_discover_separates_two_topics():
    # when
    found = themes.discover(DELIVERY + LOGIN, k=2)
    # then: every text in exactly the theme of its topic (NMI computed by scikit-learn)
    assignment = {}
    for j, theme in enumerate(found):
        for i, _ in theme.members:
            assignment.setdefault(i, j)
    truth = [0] * len(DELIVERY) + [1] * len(LOGIN)
    predicted = [assignment[i] for i in range(len(truth))]
    assert normalized_mutual_info_score(truth, predicted) == pytest.approx(1.0)
    names = {t.name for t in found}
    assert any("parcel" in n or "delivery" in n or "courier" in n for n in names)
    assert any("password" in n or "log" in n for n in names)


@pytest.mark.parametrize(
    ("phrases", "name"),
    [
        # the demo's late-delivery theme: "days late" holds both words ranked above it
        (("late", "days", "days late", "twice", "checkout", "order"), "days late, twice, checkout"),
        # a phrase already said by a chosen one is left out, the rank order otherwise kept
        (("great store", "store", "great", "staff", "queue"), "great store, staff, queue"),
        (("know", "know stuff", "staff know", "staff"), "know stuff, staff know"),
        (("refund", "card", "app"), "refund, card, app"),
        ((), ""),
    ],
)
def test_a_theme_is_named_without_repeating_its_words(phrases, name):
    assert themes.name_of(phrases) == name


def test_key_phrases_hold_no_contraction_stubs_or_degree_words():
    # "couldn't", "really" and "just" are in every text of a cluster: scikit-learn's English
    # stop words alone leave "couldn", "really" and "just" as its heaviest words
    texts = [f"I couldn't log in, really, the password reset just failed {i}" for i in range(6)]
    texts += [f"The parcel really just arrived late, couldn't track it {i}" for i in range(6)]
    found = themes.discover(texts, k=2)
    words = {w for theme in found for phrase in theme.phrases for w in phrase.split()}
    assert words and not words & {"couldn", "really", "just"}
    assert {"password", "parcel"} <= words


def test_too_few_texts_give_no_themes():
    assert themes.discover(DELIVERY[:3]) == []
    assert themes.discover(["a"] * 20) == []


@pytest.fixture
def discovered(workspace):
    survey = survey_make(workspace)
    responses = [response_make(workspace, survey, AT, comment=c) for c in DELIVERY + LOGIN]
    services.text_analyse_responses(responses=responses)
    return services.themes_discover(workspace=workspace, k=2).created


def test_discovered_themes_are_stored_with_counts_and_examples(workspace, discovered):
    rows = selectors.themes_list(workspace=workspace)
    assert sorted(r.texts for r in rows) == [6, 6]
    for row in rows:
        assert len(row.examples) == 3
        assert row.negative <= row.texts


def test_rename_merge_hide_and_rediscovery_keeps_curated(workspace, discovered):
    first, second = discovered
    services.theme_rename(theme=first, name="  Delivery   problems ")
    assert Theme.objects.get(pk=first.pk).name == "Delivery problems"
    for bad in ["", "\u200b\u200b", " \u202e ", "\x00"]:  # nothing, invisible, controls
        with pytest.raises(services.ThemeError, match="with a letter or digit"):
            services.theme_rename(theme=first, name=bad)
    services.theme_rename(theme=first, name="\u202eDelivery\u200b problems\x00")
    assert Theme.objects.get(pk=first.pk).name == "Delivery problems"
    merged = services.themes_merge(into=first, other=second)
    assert TextTheme.objects.filter(theme=merged).count() == 12
    assert not Theme.objects.filter(pk=second.pk).exists()
    services.theme_set_hidden(theme=merged, hidden=True)
    assert selectors.themes_list(workspace=workspace, hidden=False) == []
    # when: themes are discovered again, the curated one stays, hidden, and stands for the two
    # it was made of: they are not created again beside it
    again = services.themes_discover(workspace=workspace, k=2)
    assert Theme.objects.filter(pk=merged.pk, curated=True, hidden=True).exists()
    assert Theme.objects.filter(workspace=workspace).count() == 1
    assert again.created == [] and len(again.covered) == 2


def test_rediscovery_adds_no_copy_of_a_hidden_or_split_theme(workspace):
    survey = survey_make(workspace)
    damaged = [
        "The box arrived crushed and the mug inside was broken",
        "Broken glass in a crushed box, the vase arrived smashed",
        "Item arrived broken, the box was crushed in transit",
        "Crushed box again, the lamp inside arrived broken",
        "The plates arrived smashed, box crushed and torn",
        "Broken on arrival, crushed box, cracked frame",
    ]
    comments = DELIVERY + damaged + LOGIN
    services.text_analyse_responses(
        responses=[response_make(workspace, survey, AT, comment=c) for c in comments]
    )
    found = services.themes_discover(workspace=workspace, k=2).created
    login = next(t for t in found if "password" in t.name or "log" in t.name)
    parcels = next(t for t in found if t is not login)
    assert TextTheme.objects.filter(theme=parcels).count() == 12
    # when: the login theme is hidden (nothing else done to it) and the parcels one split
    services.theme_set_hidden(theme=login, hidden=True)
    halves = services.theme_split(theme=parcels)
    again = services.themes_discover(workspace=workspace, k=2)
    # then: the hidden theme is kept hidden, the halves kept, and nothing found again is new
    assert Theme.objects.get(pk=login.pk).hidden
    kept = set(Theme.objects.filter(workspace=workspace).values_list("pk", flat=True))
    assert kept == {login.pk, *(h.pk for h in halves)}
    assert again.created == [] and len(again.covered) == 2
    # when: texts on another topic arrive, rediscovery adds a theme for them only
    refunds = [
        f"Refund for my returned jacket still not paid after {n} weeks, refund please"
        for n in range(3, 15)
    ]
    services.text_analyse_responses(
        responses=[response_make(workspace, survey, AT, comment=c) for c in refunds]
    )
    again = services.themes_discover(workspace=workspace, k=3)
    assert len(again.created) == 1 and "refund" in again.created[0].name
    assert TextTheme.objects.filter(theme=again.created[0]).count() == len(refunds)


def test_merge_refuses_the_same_theme(workspace, discovered):
    with pytest.raises(services.ThemeError):
        services.themes_merge(into=discovered[0], other=discovered[0])


def test_themes_page_curates_for_analysts_and_shows_to_agents(client, workspace, discovered):
    from django.urls import reverse

    from factories import member_make

    first, second = discovered
    client.force_login(member_make(workspace=workspace, username="ana", role="analyst"))
    url = reverse("text-themes")
    assert (
        client.post(url, {"op": "rename", "theme": first.pk, "name": "Parcels"}).status_code == 302
    )
    # the merge menu starts on no theme: a click on "Merge into" alone merges nothing
    before = client.get(url).content.decode()
    assert 'name="into" required><option value="">choose a theme…</option>' in before
    refused = client.post(url, {"op": "merge", "theme": first.pk, "into": ""})
    assert (
        refused.status_code == 422 and "choose the theme to merge into" in refused.content.decode()
    )
    assert (
        client.post(url, {"op": "merge", "theme": second.pk, "into": first.pk}).status_code == 302
    )
    html = client.get(url).content.decode()
    assert "Parcels" in html and "12 texts" in html
    # finding themes again says what it left out: the merged theme holds both topics
    found = client.post(url, {"op": "discover"}, follow=True).content.decode()
    assert "Found 0 new themes. 2 more left out: your curated themes already hold" in found
    # bad posts are named, never a 5xx
    for data in ({"op": "merge", "theme": first.pk}, {"op": "rename", "theme": 99, "name": "x"},
                 {"op": "explode"}, {"op": "rename", "theme": first.pk, "name": "a\x00"},
                 {"op": "hide", "theme": "9223372036854775808"}):  # fmt: skip
        assert client.post(url, data).status_code == 422, data
    client.force_login(member_make(workspace=workspace, username="al", role="agent"))
    assert "Parcels" in client.get(url).content.decode()
    assert client.post(url, {"op": "hide", "theme": first.pk}).status_code == 403


def test_search_by_theme_on_page_and_api(client, workspace, discovered):
    from django.urls import reverse

    from factories import member_make

    client.force_login(member_make(workspace=workspace, username="ana", role="analyst"))
    theme = Theme.objects.get(pk=discovered[0].pk)
    members = set(TextTheme.objects.filter(theme=theme).values_list("analysis_id", flat=True))
    found = client.get("/api/text/search", {"theme": theme.pk, "date_from": "2025-01-01"}).json()
    assert {t["id"] for t in found} == members
    listed = client.get("/api/text/themes").json()
    assert sorted(t["texts"] for t in listed) == [6, 6]
    themes_page = client.get(reverse("text-themes")).content.decode()
    assert f"?theme={theme.pk}&amp;date_from=2025-03-10&amp;date_to=2025-03-10" in themes_page
    page = client.get(reverse("text-search"), {"theme": theme.pk, "date_from": "2025-03-10"})
    assert page.status_code == 200 and f'id="stat-total">{len(members)}<' in page.content.decode()
    assert client.get("/api/text/search", {"theme": "x1"}).status_code == 422


def test_new_text_is_tagged_with_the_themes_whose_phrases_it_has(workspace, discovered):
    # given: a theme's key phrases (hand-picked check: the text has the first one)
    theme = Theme.objects.get(pk=discovered[0].pk)
    survey = survey_make(workspace)
    text = f"Again: {theme.phrases[0]}!"
    response = response_make(workspace, survey, AT, comment=text)
    # when
    services.text_analyse_responses(responses=[response])
    # then
    links = TextTheme.objects.filter(analysis__response=response)
    assert [(link.theme_id, link.weight) for link in links] == [(theme.pk, pytest.approx(1 / 3))]


def test_match_is_whole_words_any_case():
    known = [(1, ["password reset", "login", "account"]), (2, ["parcel", "courier", "late"])]
    assert themes.match("My PASSWORD reset failed; login too", known) == [(1, 2 / 3)]
    assert themes.match("Chocolate parcels", known) == []


def test_keyword_rules_tag_existing_and_new_texts(workspace, discovered):
    # given: a theme, and texts (already analysed) that only a keyword rule finds
    login = next(t for t in discovered if "password" in " ".join(t.phrases) or "log" in t.name)
    survey = survey_make(workspace)
    extra = [
        response_make(workspace, survey, AT, comment=c)
        for c in ("Two-factor code never arrives", "My 2FA code expired", "Lovely shop")
    ]
    services.text_analyse_responses(responses=extra)
    before = TextTheme.objects.filter(theme=login).count()
    # when: rules are set (any case, whole words, commas or duplicates tidied)
    change = services.theme_set_rules(theme=login, rules=["2FA", " two-factor  code", "2fa"])
    # then: exactly the two texts with a rule word gained the theme
    login.refresh_from_db()
    assert login.rules == ["2FA", "two-factor code"] and login.curated
    assert (change.gained, change.lost) == (2, 0)
    assert TextTheme.objects.filter(theme=login).count() == before + 2
    # and a new text with a rule word is tagged as it is analysed (weight 1)
    new = response_make(workspace, survey, AT, comment="Where is my 2fa SMS?")
    services.text_analyse_responses(responses=[new])
    link = TextTheme.objects.get(theme=login, analysis__response=new)
    assert link.weight == 1.0 and link.by_rule
    # when the rules change, the texts only the dropped rule matched lose the theme
    change = services.theme_set_rules(theme=login, rules=["two-factor code"])
    assert (change.gained, change.lost) == (0, 2)
    kept = TextTheme.objects.filter(theme=login, by_rule=True)
    assert [link.analysis.text for link in kept] == ["Two-factor code never arrives"]
    # and when they are cleared, the theme has exactly the texts it had before the rules
    change = services.theme_set_rules(theme=login, rules=[])
    assert (change.gained, change.lost) == (0, 1)
    assert TextTheme.objects.filter(theme=login).count() == before
    # bad rules are refused by name
    with pytest.raises(services.ThemeError, match="rules"):
        services.theme_set_rules(theme=login, rules=["!!!"])
    with pytest.raises(services.ThemeError, match="at most 20"):
        services.theme_set_rules(theme=login, rules=[f"w{i}" for i in range(21)])


def test_split_makes_two_curated_themes_from_a_mixed_one(workspace, discovered):
    # given: both topics merged into one theme
    first, second = discovered
    merged = services.themes_merge(into=first, other=second)
    # when
    parts = services.theme_split(theme=merged)
    # then: two curated themes, the topics apart again (each text in its topic's theme)
    assert len(parts) == 2 and all(p.curated for p in parts)
    assert not Theme.objects.filter(pk=merged.pk).exists()
    by_part = [
        set(TextTheme.objects.filter(theme=p).values_list("analysis__text", flat=True))
        for p in parts
    ]
    delivery, login = set(DELIVERY), set(LOGIN)
    assert sorted([by_part[0] <= delivery, by_part[0] <= login]) == [False, True]
    assert sorted([by_part[1] <= delivery, by_part[1] <= login]) == [False, True]
    assert by_part[0] | by_part[1] == delivery | login
    # a theme too small to split is refused by name
    small = Theme.objects.create(workspace=workspace, name="Tiny")
    with pytest.raises(services.ThemeError, match="do not fall into two"):
        services.theme_split(theme=small)


def test_theme_weeks_count_texts_per_monday_week(workspace):
    # given: texts on known days; the as-of day is the latest text's (Wed 12 March 2025)
    from datetime import timedelta

    survey = survey_make(workspace)
    theme = Theme.objects.create(workspace=workspace, name="Parcels")
    hidden = Theme.objects.create(workspace=workspace, name="Gone", hidden=True)
    days = [AT, AT, AT + timedelta(days=2), AT - timedelta(days=1), AT - timedelta(days=7)]
    responses = [
        response_make(workspace, survey, d, comment=f"text {i}") for i, d in enumerate(days)
    ]
    services.text_analyse_responses(responses=responses)
    for analysis in selectors.workspace_texts(workspace=workspace):
        TextTheme.objects.create(analysis=analysis, theme=theme, weight=1.0)
        TextTheme.objects.create(analysis=analysis, theme=hidden, weight=1.0)
    # when
    weeks, series = selectors.theme_weeks(workspace=workspace, weeks=3, now=AT + timedelta(days=30))
    # then: by hand. AT is Monday 10 March: weeks of 24 Feb, 3 Mar, 10 Mar
    assert [w.isoformat() for w in weeks] == ["2025-02-24", "2025-03-03", "2025-03-10"]
    assert series == [("Parcels", [0, 2, 3])]


def test_a_week_in_progress_is_drawn_dotted_and_said(client, workspace):
    # given: the latest text on Wednesday 12 March 2025, so its week has 3 of 7 days so far
    from datetime import date, timedelta

    from django.urls import reverse

    from cxloop.web.charts.text import theme_weeks_figure
    from factories import member_make

    survey = survey_make(workspace)
    theme = Theme.objects.create(workspace=workspace, name="Parcels")
    responses = [
        response_make(workspace, survey, d, comment=f"text {i}")
        for i, d in enumerate([AT - timedelta(days=7), AT, AT + timedelta(days=2)])
    ]
    services.text_analyse_responses(responses=responses)
    for analysis in selectors.workspace_texts(workspace=workspace):
        TextTheme.objects.create(analysis=analysis, theme=theme, weight=1.0)
    client.force_login(member_make(workspace=workspace, username="ana", role="analyst"))
    # when
    html = client.get(reverse("text-themes")).content.decode()
    # then
    assert '<span id="weeks-partial">of which 3 of 7 days are in so far' in html
    # and the figure: the complete weeks solid, the last segment dotted, one legend entry
    weeks = [date(2025, 3, 3), date(2025, 3, 10)]
    figure = theme_weeks_figure(weeks, [("Parcels", [1, 2])], last_days=3).to_dict()
    solid, dotted = figure["data"]
    assert (list(solid["x"]), list(solid["y"])) == (["2025-03-03"], [1])
    assert (list(dotted["x"]), list(dotted["y"])) == (["2025-03-03", "2025-03-10"], [1, 2])
    assert dotted["line"]["dash"] == "dot" and dotted["showlegend"] is False
    assert dotted["line"]["color"] == solid["line"]["color"]
    assert "so far: 3 of 7 days" in dotted["hovertemplate"]
    whole = theme_weeks_figure(weeks, [("Parcels", [1, 2])], last_days=7).to_dict()
    assert len(whole["data"]) == 1 and list(whole["data"][0]["y"]) == [1, 2]
