"""Predictions where people use them: customer-list columns, segment conditions and rule
conditions on the latest score, with values chosen by hand (tests/predict_rows.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from factories import customer_id, identify, ingest
from predict_rows import run_make, score_make

OLD = datetime(2025, 1, 1, tzinfo=UTC)
NEW = datetime(2025, 2, 1, tzinfo=UTC)


@pytest.fixture
def people(workspace) -> dict[str, int]:
    """Ann, Bob, Cy and Dee. The older run scored Ann and Bob; the newer one Ann (changed) and
    Cy (no churn risk); Dee was never scored. Latest: Ann 250.5 / 35 %, Bob 50 / 90 % (his only
    score), Cy 400 / none, Dee nothing."""
    at = datetime(2025, 1, 1, tzinfo=UTC)
    ingest(workspace, [identify(n, {"name": n.title()}, at) for n in ("ann", "bob", "cy", "dee")])
    ids = {n: customer_id(workspace, n) for n in ("ann", "bob", "cy", "dee")}
    old, new = run_make(workspace, created_at=OLD), run_make(workspace, created_at=NEW)
    score_make(old, ids["ann"], clv=100, churn_risk=0.2, p_alive=0.9, expected_90=2.0)
    score_make(old, ids["bob"], clv=50, churn_risk=0.9, p_alive=0.1, expected_90=0.1)
    score_make(new, ids["ann"], clv=250.5, churn_risk=0.35, p_alive=0.8, expected_90=1.5)
    score_make(new, ids["cy"], clv=400, churn_risk=None, p_alive=0.6, expected_90=3.0)
    return ids


# ------------------------------------------------------------------ customer list


def _cells(html: str, customer: int) -> list[str]:
    row = re.search(rf'href="/customers/{customer}/".*?</tr>', html, re.S)
    assert row, f"no row for customer {customer}"
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row[0])]


@pytest.mark.django_db
def test_customer_list_shows_each_customers_latest_clv_and_churn_risk(client, member, people):
    client.force_login(member)
    # when
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/customers/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    html = html.content.decode()
    # then: the newest score of each (Bob's is from the older run); never scored: a dash
    assert _cells(html, people["ann"])[-2:] == ["CLV 250.50", "Churn risk 35%"]
    assert _cells(html, people["bob"])[-2:] == ["CLV 50.00", "Churn risk 90%"]
    assert _cells(html, people["cy"])[-2:] == ["CLV 400.00", "Churn risk —"]
    assert _cells(html, people["dee"])[-2:] == ["CLV —", "Churn risk —"]
    # one query for the page's rows, not one per row
    reading_scores = [q for q in queries.captured_queries if "predict_customerscore" in q["sql"]]
    assert len(reading_scores) == 1
