"""Search across analysed texts (FTS5 on SQLite, tsvector on PostgreSQL), filters, and the top
negative drivers of a period against the previous one."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests

from cxloop.text import drivers, selectors, services
from cxloop.text.selectors import TextFilters
from factories import response_make, survey_make

MARCH = datetime(2025, 3, 10, 12, tzinfo=UTC)
FEBRUARY = datetime(2025, 2, 10, 12, tzinfo=UTC)


@pytest.fixture
def texts(workspace):
    survey = survey_make(workspace)
    rows = [
        (MARCH, 2, "web", "The password reset email never arrived"),
        (MARCH, 9, "app", "Resetting my password was quick, thanks!"),
        (MARCH, 4, "web", "Delivery was late and the courier was rude"),
        (FEBRUARY, 8, "web", "Delivery arrived on time"),
    ]
    responses = [
        response_make(workspace, survey, at, nps=nps, channel=channel, comment=comment)
        for at, nps, channel, comment in rows
    ]
    services.text_analyse_responses(responses=responses)
    return responses


def _comments(workspace, **filters) -> list[str]:
    found = selectors.texts_search(workspace=workspace, filters=TextFilters(**filters))
    return sorted(t.text for t in found)


def test_search_matches_stemmed_words_in_any_order(workspace, texts):
    assert _comments(workspace, query="passwords reset") == [
        "Resetting my password was quick, thanks!",
        "The password reset email never arrived",
    ]
    assert _comments(workspace, query="courier RUDE") == [
        "Delivery was late and the courier was rude"
    ]
    assert _comments(workspace, query="refund") == []


def test_search_combines_with_filters(workspace, texts):
    assert _comments(workspace, query="password", nps="detractor") == [
        "The password reset email never arrived"
    ]
    assert _comments(workspace, query="delivery", date_from=date(2025, 3, 1)) == [
        "Delivery was late and the courier was rude"
    ]
    assert _comments(workspace, channel="app") == ["Resetting my password was quick, thanks!"]
    assert _comments(workspace, label="negative", channel="web") == [
        "Delivery was late and the courier was rude"
    ]
    assert _comments(workspace, emotion="gratitude") == ["Resetting my password was quick, thanks!"]


@pytest.mark.parametrize(
    ("query", "groups", "excluded"),
    [
        ("late parcel", [[("late",)], [("parcel",)]], []),
        ('"password reset" email', [[("password", "reset")], [("email",)]], []),
        ("late OR delayed parcel", [[("late",), ("delayed",)], [("parcel",)]], []),
        ("a OR b OR c", [[("a",), ("b",), ("c",)]], []),
        ('parcel -late -"gift card"', [[("parcel",)]], [("late",), ("gift", "card")]),
        ("OR late OR", [[("late",)]], []),  # an OR with nothing on one side joins nothing
        ("late or delayed", [[("late",)], [("or",)], [("delayed",)]], []),  # lower case: a word
        ("e-mail -", [[("e", "mail")]], []),  # a lone "-" is no term; "e-mail": one phrase
        ('"unclosed quote', [[("unclosed", "quote")]], []),
        ('"" -"" -- ...', [], []),
    ],
)
def test_a_query_reads_like_a_web_search(query, groups, excluded):
    from cxloop.text import search

    parsed = search.parse(query)
    assert [list(group) for group in parsed.groups] == groups
    assert list(parsed.excluded) == excluded


def test_at_most_sixteen_words_are_searched_for():
    from cxloop.text import search

    parsed = search.parse(" ".join(f"w{i}" for i in range(20)) + ' "x y z"')
    assert len(parsed.groups) == 16 and parsed.groups[-1] == (("w15",),)


def test_phrases_either_and_not_on_the_database(workspace, texts):
    # phrase: the two words next to each other, in order ("Resetting my password" has both)
    assert _comments(workspace, query='"password reset"') == [
        "The password reset email never arrived"
    ]
    assert _comments(workspace, query="rude OR thanks") == [
        "Delivery was late and the courier was rude",
        "Resetting my password was quick, thanks!",
    ]
    assert _comments(workspace, query="delivery -late") == ["Delivery arrived on time"]
    assert _comments(workspace, query="-password") == [
        "Delivery arrived on time",
        "Delivery was late and the courier was rude",
    ]
    assert _comments(workspace, query='"password reset" OR courier -rude') == [
        "The password reset email never arrived"
    ]
    assert _comments(workspace, query='-"courier was rude" -"password reset"') == [
        "Delivery arrived on time",
        "Resetting my password was quick, thanks!",
    ]


@pytest.mark.parametrize(
    "query", ['"', "NEAR(a b)", "pass*", "\x00", "a" * 5000, "😀 ∑ \u202e", "' OR 1=1 --", "-x"]
)
def test_hostile_queries_are_words_or_nothing(workspace, texts, query):
    # when / then: no search syntax reaches either engine, nothing raises
    list(selectors.texts_search(workspace=workspace, filters=TextFilters(query=query)))


def test_search_follows_re_analysis_and_removal(workspace, texts):
    # given
    response = texts[0]
    response.comment = "All good now"
    services.text_analyse_responses(responses=[response])
    # then
    assert _comments(workspace, query="password") == ["Resetting my password was quick, thanks!"]
    assert _comments(workspace, query="good") == ["All good now"]
    # when
    response.comment = ""
    services.text_analyse_responses(responses=[response])
    # then
    assert _comments(workspace, query="good") == []


def test_texts_of_another_workspace_are_not_found(workspace, other_workspace, texts):
    assert not selectors.texts_search(
        workspace=other_workspace, filters=TextFilters(query="password")
    ).exists()


def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005, 0.2]
    expected = multipletests(p, method="holm")[1]
    assert drivers.holm(p) == pytest.approx(list(expected))


def test_compare_tests_each_word_with_fishers_exact_and_holm():
    # given: 40 of 100 texts this period mention "slow", 10 of 100 before; "rude" 5 vs 4
    current, previous = Counter({"slow": 40, "rude": 5}), Counter({"slow": 10, "rude": 4})
    # when
    rows = drivers.compare(current, 100, previous, 100)
    # then
    slow, rude = rows
    p_slow = fisher_exact([[40, 60], [10, 90]])[1]
    p_rude = fisher_exact([[5, 95], [4, 96]])[1]
    holm = multipletests([p_slow, p_rude], method="holm")[1]
    assert (slow.word, slow.count, slow.previous_count) == ("slow", 40, 10)
    assert slow.p_value == pytest.approx(p_slow)
    assert slow.p_holm == pytest.approx(holm[0])
    assert rude.p_holm == pytest.approx(holm[1])
    assert slow.rising and not rude.rising and not rude.falling


def test_negative_drivers_of_a_period_against_the_previous(workspace, texts):
    # when: March against the 31 days before it
    rows, previous = selectors.negative_drivers(
        workspace=workspace,
        filters=TextFilters(date_from=date(2025, 3, 1), date_to=date(2025, 3, 31)),
    )
    # then: the words with negative valence in March's texts
    assert previous == (date(2025, 1, 29), date(2025, 2, 28))
    # ("late" from our CX lexicon, "rude" from VADER's; "never arrived" carries none)
    assert [(r.word, r.count, r.share, r.previous_count) for r in rows] == [
        ("late", 1, 1 / 3, 0),
        ("rude", 1, 1 / 3, 0),
    ]
    assert rows[0].p_value == pytest.approx(fisher_exact([[1, 2], [0, 1]])[1])


def test_default_period_ends_at_the_latest_text_for_history(workspace, texts):
    start, end = selectors.period_default(workspace=workspace, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert (start, end) == (date(2025, 2, 9), date(2025, 3, 10))


def test_negative_drivers_count_only_texts_read_as_negative(workspace):
    survey = survey_make(workspace)
    rows = [
        "Hit and miss at first, but now brilliant and fast, love it",  # positive; "miss" < 0
        "Good clothes but delivery can be hit and miss.",  # neutral; "miss" < 0
        "The delivery was slow",  # negative; "slow" < 0
    ]
    services.text_analyse_responses(
        responses=[response_make(workspace, survey, MARCH, comment=c) for c in rows]
    )
    labels = dict(selectors.workspace_texts(workspace=workspace).values_list("text", "label"))
    assert [labels[t] for t in rows] == ["positive", "neutral", "negative"]
    found, _ = selectors.negative_drivers(
        workspace=workspace,
        filters=TextFilters(date_from=date(2025, 3, 1), date_to=date(2025, 3, 31)),
    )
    # "miss" drove no text negative; "slow" drove one of the period's three texts
    assert [(r.word, r.count, r.share) for r in found] == [("slow", 1, 1 / 3)]


def test_a_driver_word_links_to_its_negative_texts(client, workspace, texts):
    from django.urls import reverse

    from factories import member_make

    client.force_login(member_make(workspace=workspace, username="ana", role="analyst"))
    html = client.get(
        reverse("text-search"),
        {"date_from": "2025-03-01", "date_to": "2025-03-31", "channel": "web", "q": "courier"},
    ).content.decode()
    # the period and the other filters kept; the words and the sentiment are the driver's own
    period = "channel=web&amp;date_from=2025-03-01&amp;date_to=2025-03-31"
    assert f'href="?{period}&amp;q=rude&amp;label=negative">rude</a>' in html


def test_the_previous_period_names_both_years_when_they_differ(client, workspace, texts):
    from django.urls import reverse

    from cxloop.web.templatetags.cxloop import day_span
    from factories import member_make

    assert day_span((date(2026, 10, 3), date(2026, 11, 1))) == "3 Oct–1 Nov 2026"
    assert day_span((date(2025, 11, 29), date(2026, 5, 31))) == "29 Nov 2025–31 May 2026"
    assert day_span(None) == ""
    # the page: 1 Jun–1 Dec 2026 is 184 days, so the period before is 29 Nov 2025–31 May 2026
    client.force_login(member_make(workspace=workspace, username="ana", role="analyst"))
    html = client.get(
        reverse("text-search"), {"date_from": "2026-06-01", "date_to": "2026-12-01"}
    ).content.decode()
    assert "this period against 29 Nov 2025–31 May 2026:" in html


def test_the_search_help_example_holds_refund_finds_refunded(workspace):
    # the Text page's help under Words says so; stemming must make it true on both databases
    survey = survey_make(workspace)
    services.text_analyse_responses(
        responses=[response_make(workspace, survey, MARCH, comment="They refunded me in a day")]
    )
    assert _comments(workspace, query="refund") == ["They refunded me in a day"]
