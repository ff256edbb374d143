"""Why they dropped, by event property value: counts on a hand-built history on every engine,
p-values against scipy's Fisher's exact test and statsmodels' Holm correction, the caps on keys
and values, and the page and API showing the rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests

from cxloop.analytics import selectors as analytics_selectors
from cxloop.journeys import selectors
from cxloop.journeys.correlation import property_candidates
from cxloop.journeys.definitions import parse_steps
from factories import customer_id, ingest, track

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("each_engine")]

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
STEPS = parse_steps(["Product Viewed", "Order Completed"])


def history(workspace) -> None:
    """20 customers view a product (c0–c11 Shoes, c12–c19 Hats; each its own sku, c0 one more);
    c0–c9 are declined for insufficient funds (c0, c1 still buy), c10–c14 for an expired card
    (c10–c12 buy), c15–c19 are not declined and buy (c15's decline comes after the window)."""
    messages = []

    def add(who: str, name: str, at: datetime, **props) -> None:
        messages.append(track(who, name, at, message_id=f"{who}-{name}-{at}", **props))

    for i in range(20):
        who, start = f"c{i}", T0 + i * HOUR
        add(who, "Product Viewed", start, category="Shoes" if i < 12 else "Hats", sku=f"s{i}")
        if i < 15:
            reason = "insufficient_funds" if i < 10 else "expired"
            attempt = 1 if i < 5 else 1.0  # one value: 1 and 1.0 are the same number
            add(who, "Card Declined", start + HOUR, reason=reason, attempt=attempt)
        if i in (0, 1, 10, 11, 12) or i >= 15:
            add(who, "Order Completed", start + 2 * HOUR, order_id=f"o{i}")
    add("c0", "Product Viewed", T0 + 3 * HOUR, category="Shoes", sku="extra")  # a 21st sku
    add("c15", "Card Declined", T0 + 15 * HOUR + 2 * DAY, reason="expired")  # after the window
    ingest(workspace, messages)


def test_the_engine_counts_property_values_in_the_window(workspace):
    history(workspace)

    counts = analytics_selectors.funnel_property_correlation(
        workspace=workspace, steps=STEPS, window=DAY
    )

    # by hand (converted, dropped); sku has 21 values (left out), the last step's order_id too,
    # and channel (every event's, a column of its own)
    assert counts == {
        ("Product Viewed", "category", "s", "Shoes"): (4, 8),  # c0 c1 c10 c11 | c2–c9
        ("Product Viewed", "category", "s", "Hats"): (6, 2),  # c12 c15–c19 | c13 c14
        ("Card Declined", "reason", "s", "insufficient_funds"): (2, 8),
        ("Card Declined", "reason", "s", "expired"): (3, 2),
        ("Card Declined", "attempt", "n", 1): (5, 10),
    }


def test_rows_with_fisher_p_and_holm_over_every_candidate(workspace):
    history(workspace)

    report = selectors.funnel_correlation(workspace=workspace, steps=STEPS, window=DAY)

    assert (report.entered, report.converted) == (20, 10)
    rows = {r.label: r for r in report.rows}
    # the event, and the property values held by 5+ entrants but not all 20: 1 event + 5
    # values, one Holm family
    assert report.tested == 6
    assert set(rows) == {
        "Card Declined",
        "Product Viewed with category = Shoes",
        "Product Viewed with category = Hats",
        "Card Declined with reason = insufficient_funds",
        "Card Declined with reason = expired",
        "Card Declined with attempt = 1",
    }
    declined = rows["Card Declined with reason = insufficient_funds"]
    assert (declined.kind, declined.source, declined.trait, declined.value) == (
        "property", "Card Declined", "reason", "insufficient_funds",
    )  # fmt: skip
    assert (declined.converted_with, declined.dropped_with) == (2, 8)
    assert (declined.converted_without, declined.dropped_without) == (8, 2)
    assert declined.odds_ratio == pytest.approx((2 * 2) / (8 * 8))
    order = sorted(rows)
    expected_p = [
        fisher_exact(
            [[rows[k].converted_with, rows[k].dropped_with],
             [10 - rows[k].converted_with, 10 - rows[k].dropped_with]]
        )[1]
        for k in order
    ]  # fmt: skip
    holm = multipletests(expected_p, method="holm")[1]
    for key, p, q in zip(order, expected_p, holm, strict=True):
        assert rows[key].p_value == pytest.approx(p)
        assert rows[key].p_holm == pytest.approx(q)


def test_only_the_keys_most_entrants_carry_are_considered():
    # 31 (event, key) pairs; the one carried by the fewest entrants is dropped
    counts = {(f"E{k:02d}", "k", "s", "v"): (5, 5 + k) for k in range(31)}
    counts[("E00", "k", "s", "w")] = (1, 3)  # under 5 entrants: never a candidate

    kept = property_candidates(counts, entered=100)

    assert len(kept) == 30 and ("E00", "k", "v") in kept and ("E00", "k", "w") not in kept
    assert ("E30", "k", "v") in kept  # carried by the most


def test_page_and_api_show_property_rows_with_a_segment_of_the_people(client, member, workspace):
    history(workspace)
    client.force_login(member)
    query = {"step": ["Product Viewed", "Order Completed"], "window": "1", "unit": "days",
             "date_from": "2025-01-01"}  # fmt: skip

    page = client.get("/journeys/funnel/why/", query)
    answer = client.post(
        "/api/funnels/correlation",
        {"steps": ["Product Viewed", "Order Completed"], "window_seconds": 86400,
         "date_from": "2025-01-01"},
        content_type="application/json",
    )  # fmt: skip

    html = page.content.decode()
    assert page.status_code == 200
    assert (
        '<span class="muted">property</span> Card Declined with reason = insufficient_funds' in html
    )
    assert "only the 30 event properties the most entrants" in html
    assert "%22where%22" in html  # the people: a segment with the property condition
    rows = {r["label"]: r for r in answer.json()["events"]}
    row = rows["Card Declined with reason = insufficient_funds"]
    assert (row["kind"], row["event"], row["property"], row["value"]) == (
        "property", "Card Declined", "reason", "insufficient_funds",
    )  # fmt: skip
    assert (row["converted_with"], row["dropped_with"]) == (2, 8)


def test_a_segment_event_condition_can_test_a_property(client, member, workspace):
    from cxloop.segments import selectors as segment_selectors

    history(workspace)
    where = {"property": "reason", "op": "eq", "value": "insufficient_funds"}
    definition = {"all": [{"event": "Card Declined", "where": where}]}

    found = segment_selectors.segment_customers(workspace=workspace, definition=definition)
    twice = {"all": [{"event": "Card Declined", "where": {**where, "value": "expired"},
                      "min_count": 1}, {"event": "Order Completed", "did": False}]}  # fmt: skip
    expired_dropped = segment_selectors.segment_customers(workspace=workspace, definition=twice)

    def ids(*numbers: int) -> set[int]:
        return {customer_id(workspace, f"c{i}") for i in numbers}

    assert {c.pk for c in found} == ids(*range(10))  # c0–c9
    assert {c.pk for c in expired_dropped} == ids(13, 14)
    # the funnel's people link opens the new segment with the condition kept (JSON editor)
    client.force_login(member)
    page = client.get("/segments/new/", {"definition": orjson.dumps(definition).decode()})
    assert page.status_code == 200
    assert "insufficient_funds" in page.content.decode()
