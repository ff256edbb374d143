"""Why they dropped on a sample: the repeatable sample rule, its counts on every engine (the
sampled customers' counts, worked out by hand from how the history was built), the one-query
answer equal to the questions asked one by one, and the page and API saying when they sampled.
"""

from __future__ import annotations

import pytest

from cxloop.analytics import sampling
from cxloop.analytics import selectors as analytics_selectors
from cxloop.analytics.correlation import why_in_parts
from cxloop.journeys import selectors
from factories import customer_id
from test_funnel_property_correlation import DAY, HOUR, STEPS, T0, history

pytestmark = pytest.mark.django_db
CONVERTERS = {0, 1, 10, 11, 12, 15, 16, 17, 18, 19}  # history(): who reaches Order Completed
DECLINED = set(range(15))  # a Card Declined in the window (c15's comes after it)


def hashed(unit: int) -> int:
    """The rule written out again: Knuth's multiplier, modulo 2^32, then modulo 10,000."""
    return unit * 2654435761 % 4294967296 % 10000


def test_the_sample_rule_by_hand():
    # 1 × 2654435761 = 2654435761 (< 2^32) → 5761; 2 × … = 5308871522 − 4294967296 = 1013904226
    assert sampling.in_sample(1, 5762) and not sampling.in_sample(1, 5761)
    assert sampling.in_sample(2, 4227) and not sampling.in_sample(2, 4226)
    assert sampling.in_sample(2, None)  # no rate: everyone
    # about 10,000 of 90,680: ceil(10,000 × 10,000 / 90,680) = ceil(1102.78) = 1103 per 10,000
    assert sampling.rate_for(90_680, 10_000) == 1103
    assert sampling.rate_for(10_000, 10_000) is None  # everyone fits
    assert sampling.rate_for(10**12, 10) == 1  # never an empty rate
    with pytest.raises(ValueError, match="sample size 0"):
        sampling.rate_for(5, 0)


@pytest.mark.usefixtures("each_engine")
def test_a_sample_counts_the_sampled_customers_alone(workspace):
    history(workspace)
    ids = {i: customer_id(workspace, f"c{i}") for i in range(20)}
    rate = 5000
    kept = {i for i, pk in ids.items() if hashed(pk) < rate}
    assert 0 < len(kept) < 20  # a real subset, whatever ids the database gave

    why = analytics_selectors.funnel_why(workspace=workspace, steps=STEPS, window=DAY, sample=rate)

    assert set(why.depth) == {ids[i] for i in kept}
    assert why.correlation.entered == len(kept)
    assert why.correlation.converted == len(kept & CONVERTERS)
    declined = kept & DECLINED
    assert why.correlation.events["Card Declined"] == (
        len(declined & CONVERTERS),
        len(declined - CONVERTERS),
    )
    shoes = {i for i in kept if i < 12}  # category Shoes on their view
    expected = (len(shoes & CONVERTERS), len(shoes - CONVERTERS)) if shoes else None
    assert why.properties.get(("Product Viewed", "category", "s", "Shoes")) == expected


@pytest.mark.usefixtures("each_engine")
@pytest.mark.parametrize("rate", [None, 3000])
@pytest.mark.parametrize("bounded", [False, True])
def test_one_query_equals_the_parts(workspace, rate, bounded):
    history(workspace)
    engine = analytics_selectors.current_engine()
    # a range that starts after c0-c4 entered and ends before c15's late decline
    since, until = (T0 + 4.5 * HOUR, T0 + 2 * DAY) if bounded else (None, None)
    question = {
        "workspace_id": workspace.pk, "steps": STEPS, "window": DAY, "only": None,
        "mode": "ordered", "exclusions": (), "since": since, "until": until, "sample": rate,
    }  # fmt: skip

    whole = engine.funnel_why(**question, properties=True, max_values=20)
    parts = why_in_parts(engine, properties=True, max_values=20, **question)

    assert whole == parts
    if bounded:  # c5-c19 entered in the range
        assert whole.correlation.entered == (15 if rate is None else len(whole.depth)) > 0


def test_page_and_api_say_when_they_sampled(client, member, workspace, monkeypatch):
    # given: 20 entrants and a sample size of 8 (about 8 of 20: a rate of 4,000 per 10,000)
    history(workspace)
    monkeypatch.setattr(selectors, "CORRELATION_SAMPLE", 8)
    kept = sum(1 for i in range(20) if hashed(customer_id(workspace, f"c{i}")) < 4000)
    client.force_login(member)
    query = {"step": ["Product Viewed", "Order Completed"], "window": "1", "unit": "days",
             "date_from": "2025-01-01"}  # fmt: skip
    body = {"steps": ["Product Viewed", "Order Completed"], "window_seconds": 86400,
            "date_from": "2025-01-01"}  # fmt: skip

    # when
    sampled = client.get("/journeys/funnel/why/", {**query, "entered": "20"}).content.decode()
    everyone = client.get("/journeys/funnel/why/", {**query, "everyone": "1"}).content.decode()
    counted = client.get("/journeys/funnel/why/", query).content.decode()  # no count: it counts
    api = client.post("/api/funnels/correlation", body, content_type="application/json").json()
    api_all = client.post(
        "/api/funnels/correlation?everyone=true", body, content_type="application/json"
    ).json()

    # then
    assert f"Sampled: these are {kept} of the 20 customers who entered" in sampled
    assert "everyone=1" in sampled  # the link to every entrant
    assert "Sampled:" not in everyone
    assert f"Sampled: these are {kept} of the 20 customers who entered" in counted
    assert (api["entered"], api["sampled_from"]) == (kept, 20)
    assert (api_all["entered"], api_all["sampled_from"]) == (20, None)
