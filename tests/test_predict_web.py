"""Prediction pages and API through Django's test client: what they show, bad input, JSON."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from cxloop.predict import services
from factories import customer_id, ingest, track

START = datetime(2022, 1, 3, 9, tzinfo=UTC)


@pytest.fixture
def scored(workspace):
    """Three buyers; Ann buys often and recently, Bob bought twice long ago, Cy once."""
    messages = [
        track("ann", "Order Completed", START + timedelta(days=d), revenue=40)
        for d in range(0, 200, 20)
    ]
    messages += [
        track("bob", "Order Completed", START, revenue=90),
        track("bob", "Order Completed", START + timedelta(days=15), revenue=110),
        track("cy", "Order Completed", START + timedelta(days=50), revenue=10),
        track("cy", "Page Viewed", START + timedelta(days=199)),
    ]
    ingest(workspace, messages)
    return services.predictions_run(workspace=workspace, interval_draws=0)


@pytest.mark.django_db
def test_api_gives_a_customers_scores_and_the_value_at_risk_list(client, member, workspace, scored):
    client.force_login(member)
    ann, bob = customer_id(workspace, "ann"), customer_id(workspace, "bob")
    # when
    mine = client.get(f"/api/customers/{ann}/scores").json()
    risk = client.get("/api/predictions/value-at-risk?limit=10").json()
    latest = client.get("/api/predictions/latest").json()
    # then
    assert mine["latest"]["customer_id"] == ann
    assert mine["latest"]["run_id"] == scored.pk
    assert [h["as_of"] for h in mine["history"]] == [mine["latest"]["as_of"]]
    assert mine["latest"]["p_alive"] > 0.9
    values = [c["value_at_risk"] for c in risk["customers"]]
    assert values == sorted(values, reverse=True)
    assert risk["run"]["id"] == scored.pk
    assert bob in [c["customer_id"] for c in risk["customers"]]
    assert latest["customers"] == 3 and latest["repeat_buyers"] == 2
    assert "bgnbd" in latest["parameters"]


@pytest.mark.django_db
def test_api_answers_404_before_any_run_and_for_an_unknown_customer(client, member):
    client.force_login(member)
    assert client.get("/api/predictions/latest").status_code == 404
    assert client.get("/api/customers/999999/scores").status_code == 404
    assert client.get("/api/predictions/value-at-risk?min_risk=2").status_code == 422


@pytest.mark.django_db
def test_pages_show_scores_and_refuse_bad_parameters(client, member, workspace, scored):
    client.force_login(member)
    ann = customer_id(workspace, "ann")
    # the 360 page has the card
    page = client.get(f"/customers/{ann}/").content.decode()
    assert 'id="prediction"' in page and "Value and churn risk" in page
    # value at risk lists customers with links to their 360 page
    listing = client.get("/predictions/").content.decode()
    assert f'href="/customers/{customer_id(workspace, "bob")}/"' in listing
    # model health names the as-of date and the warnings
    health = client.get("/predictions/health/").content.decode()
    assert scored.as_of.strftime("%-d %b %Y") in health
    assert "repeat buyers (fewer than 100)" in health
    # Ann and Bob bought more than once, Cy once: two repeat buyers, so the model says it is rough
    assert "Only 2 repeat buyers:</strong> with fewer than 100" in health
    # the churn check's cut-offs read as dates: day 19000 after 1 Jan 1970 is 8 Jan 2022 (18,993
    # days to 1 Jan 2022: 52 years of 365 and 13 leap days), day 19090 is 8 Apr 2022
    churn = {"train_cut_day": 19000.0, "test_cut_day": 19090.0, "test_customers": 3,
             "test_churn_rate": 0.5, "calibration": [{"predicted": 0.5, "actual": 0.5}]}  # fmt: skip
    scored.validation = {**(scored.validation or {}), "churn": churn}
    scored.save(update_fields=["validation"])
    health = client.get("/predictions/health/").content.decode()
    assert "Trained on customers as of 8 Jan 2022 and tested on those of 8 Apr 2022" in health
    # bad query strings say what is wrong, never a 5xx
    bad = client.get("/predictions/?min_risk=abc")
    assert bad.status_code == 400 and "min_risk" in bad.content.decode()
    assert client.get("/predictions/?min_risk=101").status_code == 400


@pytest.mark.django_db
def test_pages_without_a_run_say_how_to_get_one(client, member):
    client.force_login(member)
    assert "cxloop predict" in client.get("/predictions/").content.decode()
    assert "cxloop predict" in client.get("/predictions/health/").content.decode()


@pytest.mark.django_db
def test_analyst_sets_the_definitions_and_a_refit_is_queued(
    client, member, workspace, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    client.force_login(member)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(
            "/predictions/settings/",
            {"purchase_event": "Bought", "churn_days": "45", "cancel_event": "Plan Cancelled"},
        )
    bad = client.post("/predictions/settings/", {"purchase_event": "Bought", "churn_days": "3"})
    # then
    assert saved.status_code == 302
    settings = services.prediction_settings_get(workspace=workspace)
    assert (settings.purchase_event, settings.churn_days) == ("Bought", 45)
    assert settings.cancel_event == "Plan Cancelled"
    queued = DBTaskResult.objects.filter(task_path="cxloop.predict.tasks.predictions_refresh")
    assert queued.count() == 1
    assert bad.status_code == 422 and "3 is outside 7–730" in bad.content.decode()
    assert services.prediction_settings_get(workspace=workspace).churn_days == 45


@pytest.mark.django_db
def test_value_at_risk_shows_the_change_in_risk_since_the_previous_run(
    client, member, workspace, scored
):
    def changes(html: str) -> list[str]:
        cells = re.findall(r'<td class="num nowrap change">(.*?)</td>', html)
        return [re.sub(r"<[^>]+>", "", cell) for cell in cells]

    client.force_login(member)
    first = client.get("/predictions/").content.decode()
    # a refit on the same data, as of the same time, is no change in the customers
    services.predictions_run(workspace=workspace, interval_draws=0)
    second = client.get("/predictions/").content.decode()
    for html in (first, second):
        assert changes(html) and set(changes(html)) == {"—"}
        assert "there is none yet" in html
    # scored again 30 days later (no purchase since): compared with the run as of 21 Jul 2022
    later = services.predictions_run(
        workspace=workspace, as_of=START + timedelta(days=229), interval_draws=0
    )
    assert later.as_of.date().isoformat() == "2022-08-20"
    third = client.get("/predictions/").content.decode()
    assert "since the latest run scored as of an earlier date (21 Jul 2022)" in third
    assert changes(third) and all(re.fullmatch(r"[+-]\d+ pts|±0", c) for c in changes(third))
