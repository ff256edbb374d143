"""What changed in NPS: the test and interval of the difference (by hand from the variance of
the promoter − detractor score, and against a bootstrap), the decomposition by channel, trait
and segment, Holm over the groups, and the sentences."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime

import pytest
from django.utils.html import escape
from statsmodels.stats.multitest import multipletests

from cxloop.metrics import npschange
from cxloop.metrics.trends import TrendQueryError
from factories import customer_id, identify, ingest, response_make, survey_make, track

PERIOD = {"date_from": date(2025, 3, 8), "date_to": date(2025, 3, 14)}
# per period and channel: (promoters, passives, detractors)
ANSWERS = {
    "before": {"web": (20, 10, 10), "app": (15, 10, 5)},
    "after": {"web": (20, 10, 10), "app": (5, 5, 20)},
}


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def answered(workspace):
    """70 answers a week: web NPS +25 both weeks; app +33 in 1–7 March, −50 in 8–14 March.
    Each answer's customer has plan pro (even) or free (odd). A page view on the 20th puts the
    as-of time after the range."""
    survey = survey_make(workspace, name="Relationship NPS")
    people, answers = [], []
    for period, days in (("before", range(1, 8)), ("after", range(8, 15))):
        for channel, (promoters, passives, detractors) in ANSWERS[period].items():
            scores = [10] * promoters + [8] * passives + [3] * detractors
            for i, score in enumerate(scores):
                user = f"{period}-{channel}-{i}"
                people.append(identify(user, {"plan": "pro" if i % 2 == 0 else "free"}, at(1, 1)))
                answers.append((user, score, channel, at(days[i % 7])))
    ingest(workspace, [*people, track("late", "Page Viewed", at(20))], received_at=at(21))
    for user, score, channel, when in answers:
        response_make(
            workspace, survey, when, nps=score, channel=channel,
            customer_id=customer_id(workspace, user),
        )  # fmt: skip
    return workspace, survey


def _adjusted(promoters: int, detractors: int, n: int) -> tuple[float, float]:
    p, d = (promoters + 0.75) / (n + 3), (detractors + 0.75) / (n + 3)
    return p - d, math.sqrt((p + d - (p - d) ** 2) / (n + 3))


def test_the_change_is_tested_from_the_variance_of_the_score_and_matches_a_bootstrap(answered):
    workspace, survey = answered
    found = npschange.nps_change(workspace=workspace, survey_id=survey.pk, **PERIOD)
    assert found.label == "NPS of Relationship NPS"

    assert (found.before.n, found.after.n) == (70, 70)
    assert found.before.value == pytest.approx(100 * (35 - 15) / 70)
    assert found.after.value == pytest.approx(100 * (25 - 30) / 70)
    assert found.difference == pytest.approx(100 * (-5 - 20) / 70)
    # by hand: adjusted NPS and the SE of a +1/0/−1 score, z of the difference, normal p
    (c1, s1), (c0, s0) = _adjusted(25, 30, 70), _adjusted(35, 15, 70)
    z = (c1 - c0) / math.sqrt(s1**2 + s0**2)
    assert found.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))
    half = 1.959964 * math.sqrt(s1**2 + s0**2)
    assert (found.low, found.high) == pytest.approx(
        (100 * (c1 - c0 - half), 100 * (c1 - c0 + half)), rel=1e-4
    )
    # a percentile bootstrap of the difference gives nearly the same interval
    rng = random.Random(5)
    before = [1] * 35 + [0] * 20 + [-1] * 15
    after = [1] * 25 + [0] * 15 + [-1] * 30
    diffs = sorted(
        100 * (sum(rng.choices(after, k=70)) - sum(rng.choices(before, k=70))) / 70
        for _ in range(4000)
    )
    assert found.low == pytest.approx(diffs[100], abs=4)
    assert found.high == pytest.approx(diffs[3899], abs=4)
    assert found.significant


def test_channels_trait_and_segments_explain_the_fall(answered):
    workspace, survey = answered
    app_people = {
        customer_id(workspace, f"{period}-app-{i}")
        for period in ("before", "after")
        for i in range(30)
    }
    found = npschange.nps_change(
        workspace=workspace, survey_id=survey.pk, trait="plan",
        segments={"App users": app_people}, **PERIOD,
    )  # fmt: skip
    delta = found.difference

    channels = {g.label: g for g in found.of("channel")}
    # app: share 3/7 both times, score +33.3 → −50: all score effect
    assert channels["app"].score_effect == pytest.approx((3 / 7) * (-50 - 100 * 10 / 30))
    assert channels["app"].mix_effect == pytest.approx(0)
    assert channels["web"].contribution == pytest.approx(0)
    assert sum(g.contribution for g in found.of("channel")) == pytest.approx(delta)

    plans = {g.label: g for g in found.of("trait")}
    assert set(plans) == {"pro", "free"}
    assert plans["pro"].before.n + plans["free"].before.n == 70
    assert sum(g.contribution for g in found.of("trait")) == pytest.approx(delta)

    [segment] = found.of("segment")
    assert (segment.before.value, segment.after.value) == pytest.approx((100 * 10 / 30, -50))

    tested = [g for g in found.groups if g.p_value is not None]
    expected = multipletests([g.p_value for g in tested], method="holm")[1]
    assert [g.p_adjusted for g in tested] == pytest.approx(list(expected))
    assert found.sentences[0].startswith("NPS of Relationship NPS fell from +29 to −7 (p ")
    assert any(s.startswith("Channel app: +33 → −50 (p ") for s in found.sentences[1:])
    assert any(s.startswith("Segment App users: +33 → −50") for s in found.sentences[1:])


def test_bad_survey_and_trait_name_the_field(answered):
    workspace, _ = answered
    with pytest.raises(TrendQueryError, match=r"^survey: no survey 999999 in this workspace"):
        npschange.nps_change(workspace=workspace, survey_id=999999, **PERIOD)
    with pytest.raises(TrendQueryError, match=r"^trait: 'email' holds personal data"):
        npschange.nps_change(workspace=workspace, trait="email", **PERIOD)


def test_no_answers_before_says_so(workspace):
    ingest(workspace, [track("late", "Page Viewed", at(20))], received_at=at(21))
    found = npschange.nps_change(workspace=workspace, **PERIOD)

    assert found.sentences == [
        "NPS (all surveys): no answers in the compared period, nothing to compare."
    ]


def test_page_and_api_give_the_same_sentences(client, member, answered):
    workspace, survey = answered
    client.force_login(member)
    expected = npschange.nps_change(workspace=workspace, survey_id=survey.pk, **PERIOD).sentences

    response = client.post(
        "/api/trends/changes/nps",
        {"survey_id": survey.pk, "date_from": "2025-03-08", "date_to": "2025-03-14"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["sentences"] == expected
    assert (body["before"]["n"], body["after"]["n"]) == (70, 70)

    page = client.get(
        f"/trends/changes/nps/?survey={survey.pk}&date_from=2025-03-08&date_to=2025-03-14"
    )
    assert page.status_code == 200
    text = page.content.decode()
    for sentence in expected:
        assert escape(sentence) in text
    bad = client.get("/trends/changes/nps/?survey=999999&date_from=2025-03-08")
    assert bad.status_code == 422
    assert "Survey: no survey 999999 in this workspace" in bad.content.decode()
