"""Top roadblocks: themes behind negative texts this period against the previous one, counted
by hand, tested with scipy's Fisher exact test and Holm (statsmodels)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests

from cxloop.customers.models import Customer
from cxloop.text import selectors
from cxloop.text.models import TextAnalysis, TextTheme, Theme
from cxloop.text.selectors import TextFilters

# this period: 1–10 March 2025; the previous: 19–28 February
NOW = datetime(2025, 3, 5, 12, tzinfo=UTC)
BEFORE = datetime(2025, 2, 22, 12, tzinfo=UTC)
PERIOD = TextFilters(date_from=date(2025, 3, 1), date_to=date(2025, 3, 10))


def _text(workspace, when, label, themes=(), customer=None, score=None):
    score = score if score is not None else {"negative": -0.6, "neutral": 0.0}.get(label, 0.6)
    text = TextAnalysis.objects.create(
        workspace=workspace, source="survey", channel="web", written_at=when, text=label,
        score=score, label=label, version="t", customer=customer,
    )  # fmt: skip
    for theme in themes:
        TextTheme.objects.create(analysis=text, theme=theme, weight=1.0)
    return text


@pytest.fixture
def texts(workspace):
    """This period: 40 texts, 12 negative about delivery (by 3 customers), 4 negative about
    price, 2 positive about delivery; a hidden theme on negatives. Previous: 50 texts, 2
    negative about delivery, 5 negative about price."""
    delivery = Theme.objects.create(workspace=workspace, name="Delivery")
    price = Theme.objects.create(workspace=workspace, name="Price")
    hidden = Theme.objects.create(workspace=workspace, name="Hidden", hidden=True)
    people = [Customer.objects.create(workspace=workspace) for _ in range(3)]
    for i in range(12):
        score = -0.9 if i == 5 else -0.5
        _text(workspace, NOW, "negative", (delivery, hidden), people[i % 3], score=score)
    for _ in range(4):
        _text(workspace, NOW, "negative", (price,))
    for _ in range(2):
        _text(workspace, NOW, "positive", (delivery,))
    for _ in range(22):
        _text(workspace, NOW, "neutral")
    for _ in range(2):
        _text(workspace, BEFORE, "negative", (delivery,))
    for _ in range(5):
        _text(workspace, BEFORE, "negative", (price,))
    for _ in range(43):
        _text(workspace, BEFORE, "positive")
    return delivery, price


def test_counts_tests_and_examples(workspace, texts):
    delivery, price = texts
    assert delivery.pk != price.pk
    # when
    rows, previous = selectors.roadblocks(workspace=workspace, filters=PERIOD)
    # then
    assert previous == (date(2025, 2, 19), date(2025, 2, 28))
    assert [r.theme.name for r in rows] == ["Delivery", "Price"]
    d, p = rows
    assert (d.change.count, d.change.previous_count) == (12, 2)
    assert d.change.share == pytest.approx(12 / 40)
    assert d.change.previous_share == pytest.approx(2 / 50)
    assert (p.change.count, p.change.previous_count) == (4, 5)
    raw = [
        fisher_exact([[12, 28], [2, 48]])[1],
        fisher_exact([[4, 36], [5, 45]])[1],
    ]
    holm = multipletests(raw, method="holm")[1]
    assert d.change.p_value == pytest.approx(raw[0])
    assert [d.change.p_holm, p.change.p_holm] == pytest.approx(list(holm))
    assert d.change.rising and not p.change.rising
    assert d.customers == 3 and p.customers == 0
    assert d.examples[0].score == pytest.approx(-0.9)  # the most negative first


def test_page_and_api(client, member, workspace, texts):
    client.force_login(member)
    query = {"date_from": "2025-03-01", "date_to": "2025-03-10"}
    # when
    page = client.get("/text/roadblocks/", query)
    api = client.get("/api/text/roadblocks", query)
    # then
    assert page.status_code == 200
    body = page.content.decode()
    assert "1. Delivery" in body and "rising" in body and "3 customers affected" in body
    assert "30.0 % of all texts" in body
    assert api.status_code == 200
    data = api.json()
    assert [r["name"] for r in data["roadblocks"]] == ["Delivery", "Price"]
    assert data["roadblocks"][0]["negative_texts"] == 12
    assert data["roadblocks"][0]["rising"] is True
    # bad input is named
    page = client.get("/text/roadblocks/", {"date_from": "0202-13-01"})
    assert page.status_code == 422 and "date_from:" in page.content.decode()
    bad = client.get("/api/text/roadblocks", {"date_from": "2025-03-10", "date_to": "2025-03-01"})
    assert bad.status_code == 422
