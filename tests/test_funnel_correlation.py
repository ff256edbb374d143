"""The funnel's correlation view: counts on a hand-built history on every engine, statistics
against scipy and statsmodels."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from scipy.stats import fisher_exact
from scipy.stats.contingency import odds_ratio as scipy_odds_ratio
from statsmodels.stats.multitest import multipletests

from cxloop.journeys import selectors
from cxloop.journeys.correlation import correlate, odds_ratio, trait_counts
from cxloop.journeys.definitions import parse_steps
from factories import identify, ingest, track

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)

PEOPLE = {
    "c1": "A0 X5 B10",
    "c2": "A0 X5 B10",
    "c3": "A0 B10",
    "c4": "A0 Y5 B10",
    "d1": "A0",
    "d2": "A0 Y5",
    "d3": "A0 Y5",
    "d4": "A0 X200",  # X after the window
    "d5": "X-10 A0",  # X before entering
    "d6": "A0 Z60",  # on the window's end: counts
    "d7": "A0 Z61",
    "n1": "X0 B5",  # never entered
}


def history(workspace) -> None:
    messages = []
    for who, text in PEOPLE.items():
        for item in text.split():
            at = T0 + timedelta(minutes=float(item[1:]))
            messages.append(track(who, item[0], at, message_id=f"{who}-{item}"))
    ingest(workspace, messages)


@pytest.mark.django_db
@pytest.mark.usefixtures("each_engine")
def test_counts_take_events_between_entering_and_the_end_of_the_window(workspace):
    history(workspace)
    report = selectors.funnel_correlation(
        workspace=workspace, steps=parse_steps(["A", "B"]), window=HOUR
    )
    assert (report.entered, report.converted, report.tested) == (11, 4, 3)
    counts = {r.event: (r.converted_with, r.dropped_with) for r in report.rows}
    assert counts == {"X": (2, 0), "Y": (1, 2), "Z": (0, 1)}
    x = next(r for r in report.rows if r.event == "X")
    assert (x.converted_without, x.dropped_without) == (2, 7)
    # without a window every later event counts
    report = selectors.funnel_correlation(
        workspace=workspace, steps=parse_steps(["A", "B"]), window=None
    )
    counts = {r.event: (r.converted_with, r.dropped_with) for r in report.rows}
    assert counts == {"X": (2, 1), "Y": (1, 2), "Z": (0, 2)}


@pytest.mark.django_db
@pytest.mark.usefixtures("each_engine")
def test_counts_follow_the_funnel_mode(workspace):
    history(workspace)
    # in any order n1 (X0 B5) enters too, with B: its X came before, so it does not count
    report = selectors.funnel_correlation(
        workspace=workspace, steps=parse_steps(["A", "B"]), window=HOUR, mode="any"
    )
    counts = {r.event: (r.converted_with, r.dropped_with) for r in report.rows}
    assert (report.entered, report.converted) == (12, 4)
    assert counts["X"] == (2, 0)


# entrants c1..c4 converted, d1..d7 dropped; n1 never entered
TRAITS = {
    "c1": {"loyalty_tier": "gold", "plan": "pro", "vip": True},
    "c2": {"loyalty_tier": "gold", "plan": "pro", "vip": True},
    "c3": {"loyalty_tier": "gold", "plan": "pro", "vip": True},
    "c4": {"loyalty_tier": "silver", "vip": True},
    "d1": {"loyalty_tier": "gold", "vip": True},
    "d2": {"loyalty_tier": "gold", "vip": True},
    "d3": {"loyalty_tier": "silver", "vip": True},
    "d4": {"loyalty_tier": "silver", "vip": True},
    "d5": {"loyalty_tier": "silver", "vip": True},
    "d6": {"loyalty_tier": "silver", "vip": True},
    "d7": {"vip": True},
    "n1": {"loyalty_tier": "gold"},
}


def trait_history(workspace) -> None:
    history(workspace)
    before = T0 - timedelta(days=1)  # before anyone enters
    ingest(workspace, [identify(who, traits, before) for who, traits in TRAITS.items()])


@pytest.mark.django_db
@pytest.mark.usefixtures("each_engine")
def test_trait_values_are_candidates_in_one_holm_family(workspace):
    trait_history(workspace)
    report = selectors.funnel_correlation(
        workspace=workspace, steps=parse_steps(["A", "B"]), window=HOUR
    )
    # plan = pro has 3 entrants (< 5) and vip = true all 11: neither is a candidate
    assert report.tested == 5
    tables = {
        r.label: (r.kind, r.converted_with, r.dropped_with, r.converted_without, r.dropped_without)
        for r in report.rows
    }
    assert tables["loyalty_tier = gold"] == ("trait", 3, 2, 1, 5)
    assert tables["loyalty_tier = silver"] == ("trait", 1, 4, 3, 3)
    assert tables["X"] == ("event", 2, 0, 2, 7)
    names = sorted(tables)
    expected = {
        name: fisher_exact([[t[1], t[2]], [t[3], t[4]]], alternative="two-sided")[1]
        for name, t in tables.items()
    }
    holm = multipletests([expected[n] for n in names], method="holm")[1]
    by_label = {r.label: r for r in report.rows}
    for name, q in zip(names, holm, strict=True):
        assert by_label[name].p_value == pytest.approx(expected[name], rel=1e-12)
        assert by_label[name].p_holm == pytest.approx(q, rel=1e-12)
    gold = by_label["loyalty_tier = gold"]
    assert (gold.trait, gold.value) == ("loyalty_tier", "gold")
    assert gold.odds_ratio == pytest.approx(
        scipy_odds_ratio([[3, 2], [1, 5]], kind="sample").statistic
    )


def test_trait_counts_skip_many_valued_traits_and_rare_values():
    converted = {i: i < 30 for i in range(60)}
    traits = {
        i: {"city": f"c{i % 21}", "tier": "gold" if i < 40 else "bronze" if i < 57 else "tin"}
        for i in range(60)
    }
    traits[0]["note"] = {"a": 1}  # not a scalar: ignored
    found = trait_counts(converted, traits)
    # city has 21 values (> 20): skipped; tin has 3 holders (< 5): skipped
    assert found == {("tier", "gold"): (30, 10), ("tier", "bronze"): (0, 17)}


def test_statistics_match_scipy_and_statsmodels():
    events = {"X": (30, 5), "Y": (12, 40), "Z": (20, 22), "W": (0, 9)}
    rows = correlate(entered=200, converted=80, events=events)
    by_name = {r.event: r for r in rows}
    expected_p = {}
    for name, (a, b) in events.items():
        table = [[a, b], [80 - a, 120 - b]]
        expected_p[name] = fisher_exact(table, alternative="two-sided")[1]
        assert by_name[name].p_value == pytest.approx(expected_p[name], rel=1e-12)
        if 0 not in (a, b):
            assert by_name[name].odds_ratio == pytest.approx(
                scipy_odds_ratio(table, kind="sample").statistic
            )
    names = sorted(events)
    holm = multipletests([expected_p[n] for n in names], method="holm")[1]
    for name, q in zip(names, holm, strict=True):
        assert by_name[name].p_holm == pytest.approx(q, rel=1e-12)
    # sorted by adjusted p, then by effect
    assert [r.p_holm for r in rows] == sorted(r.p_holm for r in rows)
    assert by_name["X"].raises and by_name["X"].significant
    assert not by_name["Y"].raises and by_name["Y"].significant
    assert by_name["X"].rate_with == pytest.approx(30 / 35)
    assert by_name["X"].rate_without == pytest.approx(50 / 165)


def test_a_zero_cell_gets_half_added_to_every_cell():
    assert odds_ratio(2, 0, 2, 7) == pytest.approx((2.5 * 7.5) / (0.5 * 2.5))
    assert math.isfinite(odds_ratio(0, 0, 3, 4))


@pytest.mark.django_db
def test_the_api_answers_what_the_selector_does(client, member, workspace):
    history(workspace)
    client.force_login(member)
    body = {"steps": ["A", "B"], "window_seconds": 3600}
    response = client.post("/api/funnels/correlation", body, content_type="application/json")
    assert response.status_code == 200, response.content
    answer = response.json()
    report = selectors.funnel_correlation(
        workspace=workspace, steps=parse_steps(["A", "B"]), window=HOUR
    )
    assert (answer["entered"], answer["converted"], answer["tested"]) == (11, 4, 3)
    assert [e["event"] for e in answer["events"]] == [r.event for r in report.rows]
    assert {e["kind"] for e in answer["events"]} == {"event"}
    assert answer["events"][0]["p_holm"] == pytest.approx(report.rows[0].p_holm)
    # modes and exclusions through the funnel route
    strict = client.post(
        "/api/funnels",
        {**body, "mode": "strict", "exclusions": [{"event": "Y", "after": 1}]},
        content_type="application/json",
    ).json()
    # c1, c2 (X in between) and c4 (Y in between, and excluded) stop at A; c3 converts
    assert strict["counts"] == [11, 1]
    assert strict["exclusions"] == ["without Y between step 1 and 2"]
    bad = client.post(
        "/api/funnels",
        {**body, "mode": "any", "steps": ["A", "A"]},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert "each step must differ" in bad.json()["errors"][0]
    bad = client.post(
        "/api/funnels/correlation",
        {**body, "exclusions": [{"event": "Y", "after": 2}]},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == ["exclusions[0].after: give a step number from 1 to 1"]


@pytest.mark.django_db
def test_the_api_returns_trait_rows(client, member, workspace):
    trait_history(workspace)
    client.force_login(member)
    body = {"steps": ["A", "B"], "window_seconds": 3600}
    answer = client.post("/api/funnels/correlation", body, content_type="application/json").json()
    assert answer["tested"] == 5
    gold = next(e for e in answer["events"] if e["label"] == "loyalty_tier = gold")
    assert gold["kind"] == "trait" and gold["event"] is None
    assert (gold["trait"], gold["value"]) == ("loyalty_tier", "gold")
    assert [gold[k] for k in ("converted_with", "dropped_with")] == [3, 2]
    assert [gold[k] for k in ("converted_without", "dropped_without")] == [1, 5]
    assert gold["p_value"] == pytest.approx(fisher_exact([[3, 2], [1, 5]])[1])
    x = next(e for e in answer["events"] if e["label"] == "X")
    assert (x["kind"], x["event"], x["trait"]) == ("event", "X", None)
