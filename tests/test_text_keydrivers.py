"""Key drivers: themes' effects on NPS/CSAT/CES (each theme's texts against the others, Welch
intervals), checked against scipy; the selector over stored texts and themes; the page and the
REST API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from cxloop.text import keydrivers, selectors
from cxloop.text.models import TextAnalysis, TextTheme, Theme
from cxloop.text.selectors import TextFilters

AT = datetime(2025, 3, 10, 12, tzinfo=UTC)


def _sample(seed: int = 7, n: int = 240):
    """Scores that depend on two themes (one drags, one lifts) and not on a third."""
    rng = np.random.default_rng(seed)
    late = rng.random(n) < 0.3
    friendly = rng.random(n) < 0.4
    price = rng.random(n) < 0.25
    base = rng.integers(5, 11, n)
    scores = np.clip(base - 4 * late + 2 * friendly, 0, 10).astype(int)
    themes = [
        {t for t, on in ((1, late[i]), (2, friendly[i]), (3, price[i])) if on} for i in range(n)
    ]
    return [int(s) for s in scores], themes, {1: "Late delivery", 2: "Friendly staff", 3: "Price"}


def test_effects_and_welch_intervals_match_scipy():
    # given
    scores, themes, names = _sample()
    # when
    found = keydrivers.estimate(metric="nps", scores=scores, themes=themes, names=names)
    # then: each theme's texts against the others by scipy's Welch t-test, Holm by statsmodels
    y = np.array([100.0 if s >= 9 else -100.0 if s <= 6 else 0.0 for s in scores])
    assert found.n == len(scores)
    assert found.overall == pytest.approx(y.mean())
    by_id = {d.theme_id: d for d in found.drivers}

    def carries(theme):
        return np.array([theme in carried for carried in themes])

    tests = {t: stats.ttest_ind(y[carries(t)], y[~carries(t)], equal_var=False) for t in names}
    holm = multipletests([tests[t].pvalue for t in (1, 2, 3)], method="holm")[1]
    for j, theme in enumerate((1, 2, 3)):
        d, test = by_id[theme], tests[theme]
        with_, without = y[carries(theme)], y[~carries(theme)]
        share = carries(theme).mean()
        assert d.effect == pytest.approx(with_.mean() - without.mean())
        ci = test.confidence_interval(0.95)
        assert (d.effect_low, d.effect_high) == pytest.approx((ci.low, ci.high))
        assert d.p_value == pytest.approx(test.pvalue)
        assert d.p_holm == pytest.approx(holm[j])
        assert d.share == pytest.approx(share)
        # the impact: how far the overall score sits from the score without the theme's texts
        assert d.impact == pytest.approx(y.mean() - without.mean())
        assert d.performance == pytest.approx(with_.mean())
    # late delivery drags NPS and is significant; ordered by the size of the impact
    assert by_id[1].effect < 0 and by_id[1].significant
    assert by_id[2].effect > 0
    impacts = [abs(d.impact) for d in found.drivers]
    assert impacts == sorted(impacts, reverse=True)


def test_a_theme_is_measured_against_the_other_texts_not_the_few_with_no_theme():
    # given: every text but 20 carries one theme; "Late" texts and the 20 theme-less ones are
    # detractors, "Jackets" promoters, "Sizes" half and half (the demo's shape, where a
    # regression on all themes measured "Late" against the 20 and found no effect)
    scores = [2] * 100 + [10] * 100 + [10, 3] * 50 + [1] * 20
    themes = [{1}] * 100 + [{2}] * 100 + [{3}] * 100 + [set()] * 20
    names = {1: "Late", 2: "Jackets", 3: "Sizes"}
    # when
    found = keydrivers.estimate(metric="nps", scores=scores, themes=themes, names=names)
    by_name = {d.name: d for d in found.drivers}
    # then, by hand: overall (−100·120 + 100·150 − 100·50) / 320 = −6.25. Late: −100 against
    # the other 220 texts' (100·150 − 100·70)/220 = 36.36…, effect −136.36…, impact −42.6
    late = by_name["Late"]
    assert found.overall == pytest.approx(-6.25)
    assert late.effect == pytest.approx(-100 - 8000 / 220)
    assert late.impact == pytest.approx(-6.25 - 8000 / 220)
    assert late.significant and late.effect_high < 0
    # Jackets: +100 against (−100·100 + 100·50 − 100·50 − 100·20)/220, impact 100/320 of that
    jackets = by_name["Jackets"]
    assert jackets.effect == pytest.approx(100 + 12000 / 220)
    assert jackets.impact == pytest.approx((100 + 12000 / 220) * 100 / 320)
    assert jackets.significant
    assert [d.name for d in found.drivers] == ["Jackets", "Late", "Sizes"]


def test_csat_counts_the_top_box_and_ces_the_answer():
    # given: CSAT 1..5 and CES 1..7 answers, one theme on every other text
    scores = [5, 4, 2, 1, 3, 5] * 10
    themes = [{1} if i % 2 else set() for i in range(len(scores))]
    # when
    csat = keydrivers.estimate(metric="csat", scores=scores, themes=themes, names={1: "A"})
    ces = keydrivers.estimate(metric="ces", scores=scores, themes=themes, names={1: "A"})
    # then: by hand. Odd positions carry the theme: 4, 1, 5 repeated -> 2 of 3 satisfied
    assert csat.overall == pytest.approx(100 * 3 / 6)
    assert csat.drivers[0].performance == pytest.approx(200 / 3)
    assert csat.drivers[0].effect == pytest.approx(200 / 3 - 100 / 3)
    assert ces.overall == pytest.approx(20 / 6)
    assert ces.drivers[0].effect == pytest.approx(10 / 3 - 10 / 3)


def test_rare_and_universal_themes_are_left_out_and_named():
    # given: theme 2 always with theme 1; theme 3 on 4 texts; theme 4 on every text
    n = 60
    themes = [({1, 2} if i % 3 == 0 else set()) | ({3} if i < 4 else set()) | {4} for i in range(n)]
    scores = [10 if i % 3 else 3 for i in range(n)]
    names = {1: "Alpha", 2: "Beta", 3: "Gamma", 4: "Delta"}
    # when
    found = keydrivers.estimate(metric="nps", scores=scores, themes=themes, names=names)
    # then: Alpha and Beta carry the same texts, so the same effect (−100 against +100)
    assert [d.name for d in found.drivers] == ["Alpha", "Beta"]
    assert [d.effect for d in found.drivers] == pytest.approx([-200.0, -200.0])
    # no spread at all on either side: no interval, never called significant
    assert not any(d.estimable or d.significant for d in found.drivers)
    reasons = " | ".join(found.left_out)
    assert "Gamma: 4 texts with an NPS answer, fewer than 5" in reasons
    assert "Delta: in nearly every text (60 of 60)" in reasons


def test_too_few_texts_say_why():
    found = keydrivers.estimate(metric="nps", scores=[9] * 10, themes=[{1}] * 10, names={1: "A"})
    assert found.drivers == []
    assert "10 texts with an NPS score; at least 30" in found.too_few
    with pytest.raises(ValueError, match="metric"):
        keydrivers.estimate(metric="xyz", scores=[], themes=[], names={})


# ---------------------------------------------------------------- stored texts


def _text(workspace, *, nps=None, csat=None, when=AT, channel="web") -> TextAnalysis:
    return TextAnalysis.objects.create(
        workspace=workspace,
        source="survey",
        channel=channel,
        written_at=when,
        nps_score=nps,
        csat_score=csat,
        text="words",
        score=0.0,
        label="neutral",
        version="t",
    )


@pytest.fixture
def stored(workspace):
    """The sample as stored texts: 240 in the period, themes linked; plus noise outside it."""
    scores, themes, names = _sample()
    made = {t: Theme.objects.create(workspace=workspace, name=n) for t, n in names.items()}
    hidden = Theme.objects.create(workspace=workspace, name="Hidden one", hidden=True)
    for i, (score, carried) in enumerate(zip(scores, themes, strict=True)):
        text = _text(workspace, nps=score, when=AT - timedelta(hours=i))
        for t in carried:
            TextTheme.objects.create(analysis=text, theme=made[t], weight=1.0)
        TextTheme.objects.create(analysis=text, theme=hidden, weight=1.0)
    # outside the period, without a score, another channel: none of these count
    _text(workspace, nps=0, when=AT - timedelta(days=400))
    _text(workspace, csat=1)
    _text(workspace, nps=0, channel="email")
    return scores, themes, made


def test_selector_reads_the_period_channel_and_visible_themes(workspace, stored):
    scores, themes, made = stored
    filters = TextFilters(channel="web", date_from=date(2025, 1, 1), date_to=AT.date())
    # when
    found = selectors.key_drivers(workspace=workspace, metric="nps", filters=filters)
    # then: the same as the pure estimate on the sample (the hidden theme is not considered)
    expected = keydrivers.estimate(
        metric="nps",
        scores=scores,
        themes=themes,
        names={t: theme.name for t, theme in made.items()},
    )
    assert found.n == 240
    assert [(d.name, d.mentions) for d in found.drivers] == [
        (d.name, d.mentions) for d in expected.drivers
    ]
    assert [d.effect for d in found.drivers] == pytest.approx([d.effect for d in expected.drivers])


def test_page_shows_the_matrix_and_the_table(client, member, workspace, stored):
    client.force_login(member)
    # when
    answer = client.get(
        "/text/drivers/",
        {"metric": "nps", "channel": "web", "date_from": "2025-01-01", "date_to": "2025-03-10"},
    )
    # then
    assert answer.status_code == 200
    body = answer.content.decode()
    assert "Late delivery" in body and "priority-matrix" in body
    assert "from 240 texts with an NPS answer" in body
    assert "NPS overall here counts only the answers that came with a comment" in body


def test_page_names_bad_input(client, member, workspace, stored):
    client.force_login(member)
    answer = client.get("/text/drivers/", {"metric": "mood", "date_from": "0202-01-01"})
    assert answer.status_code == 400
    body = answer.content.decode()
    assert "metric" in body and "date_from" in body


def test_api_gives_the_same_numbers(client, member, workspace, stored):
    client.force_login(member)
    query = {"metric": "nps", "date_from": "2025-01-01", "date_to": "2025-03-10"}
    # when
    answer = client.get("/api/text/key-drivers", query)
    # then
    assert answer.status_code == 200, answer.content
    data = answer.json()
    found = selectors.key_drivers(
        workspace=workspace,
        metric="nps",
        filters=TextFilters(date_from=date(2025, 1, 1), date_to=date(2025, 3, 10)),
    )
    assert data["n"] == found.n
    assert [d["name"] for d in data["drivers"]] == [d.name for d in found.drivers]
    assert data["drivers"][0]["effect"] == pytest.approx(found.drivers[0].effect)
    assert client.get("/api/text/key-drivers", {"metric": "x"}).status_code == 422


def test_a_crowded_matrix_numbers_the_points_whose_names_do_not_fit():
    from cxloop.web.charts.text import _place_labels

    # the demo's NPS drivers, most important first: the first point sits at the right edge,
    # beside the third, where its name fits on no side on a phone's 260 px plot
    x = [24.0, 20.0, 15.9, 12.0, 10.4, 7.3, 7.2, 3.4, 1.5]
    y = [-100.0, 71.8, -100.0, 63.2, 100.0, 100.0, -63.8, -100.0, 100.0]
    shares = [0.20, 0.21, 0.14, 0.15, 0.09, 0.06, 0.11, 0.03, 0.01]
    names = [f"theme name {i:02d}…" for i in range(9)]  # 18 characters, as cut for the chart
    placed = _place_labels(x, y, [8 + 24 * s for s in shares], names, (0.0, 25.44), (-120.0, 120.0))
    texts = [text for text, _ in placed]
    # every point is named or numbered (its row in the table), never left blank
    assert all(text in (names[i], str(i + 1)) for i, text in enumerate(texts))
    assert texts[0] == "1"  # no room for its name, its number instead
    assert texts[1] == names[1]  # room: the name


def test_csat_is_shown_as_a_percentage(client, member, workspace):
    theme = Theme.objects.create(workspace=workspace, name="Friendly staff")
    for i in range(40):  # 20 satisfied (top box) with the theme, 20 not without it
        text = _text(workspace, csat=5 if i < 20 else 2, when=AT - timedelta(hours=i))
        if i < 20:
            TextTheme.objects.create(analysis=text, theme=theme, weight=1.0)
    client.force_login(member)
    body = client.get(
        "/text/drivers/", {"metric": "csat", "date_from": "2025-01-01", "date_to": "2025-03-10"}
    ).content.decode()
    # 20 of 40 in the top box overall; all 20 among the theme's texts
    assert '<span class="stat-value">50.0 %</span>' in body
    assert '<td class="num">100.0 %</td>' in body
