"""Churn risk: features only from before the cut-off, hand-checked features, a model that finds
real signal on simulated data, reasons in words, and the stored scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from cxloop.predict import churn, selectors, services
from factories import customer_id, ingest, track


def _world(n: int = 900, seed: int = 1) -> churn.Activity:
    """Customers over 720 days buying about monthly; 40 % become unhappy at some point (support
    tickets, an NPS of 0–4) and stop buying a few days later; the rest stop only at random."""
    rng = np.random.default_rng(seed)
    pc, pd, pa, ec, ed, es, nc, nd, ns = ([] for _ in range(9))
    for c in range(n):
        start = rng.uniform(0, 200)
        unhappy = rng.random() < 0.4
        stop = rng.uniform(start + 60, 900) if unhappy else rng.uniform(start + 600, 2000)
        day = start
        while day < min(stop, 720):
            pc.append(c)
            pd.append(np.floor(day))
            pa.append(rng.gamma(3, 15))
            ec.append(c)
            ed.append(np.floor(day))
            es.append(False)
            day += rng.exponential(25)
        if unhappy and stop < 720:
            for k in range(int(rng.integers(1, 4))):
                ec.append(c)
                ed.append(np.floor(stop - 10 + k))
                es.append(True)
            nc.append(c)
            nd.append(np.floor(stop - 5))
            ns.append(int(rng.integers(0, 5)))
        elif rng.random() < 0.5:
            nc.append(c)
            nd.append(np.floor(rng.uniform(start, 720)))
            ns.append(int(rng.integers(7, 11)))
    return churn.activity_from((pc, pd, pa), (ec, ed, es), (nc, nd, ns))


def test_features_by_hand():
    # given purchases on days 0 (10 + 5 on one day), 10 and 30; a support ticket on day 25;
    # NPS 9 on day 5 and 3 on day 20; and a page view on day 38
    activity = churn.activity_from(
        ([7, 7, 7, 7], [0, 0, 10, 30], [10, 5, 20, 30]),
        ([7, 7], [25, 38], [True, False]),
        ([7, 7], [5, 20], [9, 3]),
    )
    # when
    ids, raw, _ = churn.features_at(activity, 40)
    row = dict(zip(churn.FEATURES, raw[0], strict=True))
    # then
    assert ids.tolist() == [7]
    assert row == pytest.approx(
        {
            "recency": 10,
            "gap_ratio": 10 / 15,
            "purchases": 3,
            "avg_amount": 65 / 3,
            "tenure": 40,
            "idle": 2,
            "events_recent": 2,
            "support_recent": 1,
            "last_nps": 3,
            "no_nps": 0,
            "cancelled": 0,
        }
    )


def test_features_never_read_past_the_cut_off_and_labels_only_the_next_window():
    # given a world, and the same world with everything after day 400 changed
    world = _world(n=200)
    later = churn.activity_from(
        (
            np.r_[world.purchase_customer, [1, 2, 3]],
            np.r_[world.purchase_day, [401, 450, 700]],
            np.r_[world.purchase_amount, [1e6, 1e6, 1e6]],
        ),
        (
            np.r_[world.event_customer, [1, 2]],
            np.r_[world.event_day, [401, 402]],
            np.r_[world.event_support, [True, True]],
        ),
        (np.r_[world.nps_customer, [1]], np.r_[world.nps_day, [401]], np.r_[world.nps_score, [0]]),
    )
    # when
    ids, raw, _ = churn.features_at(world, 400)
    ids_later, raw_later, _ = churn.features_at(later, 400)
    # then
    np.testing.assert_array_equal(ids, ids_later)
    np.testing.assert_array_equal(raw, raw_later)
    # a purchase on day 401 means customer 1 did not churn in (400, 490]; day 700 is outside
    y = churn.churned(later, np.array([1, 3]), 400, 90)
    y_before = churn.churned(world, np.array([1, 3]), 400, 90)
    assert y[0] == 0
    assert y[1] == y_before[1]


def test_the_model_finds_the_signal_and_explains_it():
    # given customers who leave after support trouble and a low NPS
    world = _world()
    # when
    outcome = churn.churn_scores(world, as_of_day=720, horizon=90)
    # then: validated on a later period than it was trained on
    v = outcome.validation
    assert v["train_cut_day"] == 540 and v["test_cut_day"] == 630
    assert v["roc_auc"] > 0.8
    assert v["pr_auc"] > v["test_churn_rate"]  # better than guessing the base rate
    assert v["coefficients"]["recency"] > 0 or v["coefficients"]["gap_ratio"] > 0
    assert len(v["calibration"]) >= 3
    # the riskiest customers' reasons are in words and raise the risk
    top = int(np.argmax(outcome.risk))
    assert outcome.reasons[top]
    assert all(r["weight"] > 0 and r["text"] for r in outcome.reasons[top])
    words = " ".join(r["text"] for rs in outcome.reasons for r in rs)
    assert "No purchase for" in words or "usual time between purchases" in words


def test_too_little_history_says_so():
    activity = churn.activity_from(([1, 2, 2], [0, 1, 5], [5, 5, 5]))
    outcome = churn.churn_scores(activity, as_of_day=10, horizon=90)
    assert outcome.risk is None
    assert "not enough history" in outcome.validation["error"]


@pytest.mark.django_db
def test_stored_scores_carry_churn_risk_reasons_and_value_at_risk(workspace):
    # given 60 customers over 300 days; half stop buying after day 120 and complain first
    start = datetime(2022, 1, 3, 9, tzinfo=UTC)
    rng = np.random.default_rng(4)
    messages = []
    for c in range(60):
        leaver = c % 2 == 0
        last = 120 if leaver else 300
        for day in range(int(rng.integers(0, 20)), last, int(rng.integers(12, 25))):
            at = start + timedelta(days=day)
            messages.append(track(f"u{c}", "Order Completed", at, revenue=float(20 + c)))
        if leaver:
            at = start + timedelta(days=last - 5)
            messages.append(track(f"u{c}", "Support Ticket Opened", at))
    ingest(workspace, messages)
    services.prediction_settings_update(
        workspace=workspace, churn_days=60, cancel_event="Plan Cancelled"
    )
    # when
    run = services.predictions_run(workspace=workspace, interval_draws=0)
    _, at_risk = selectors.value_at_risk(workspace=workspace, limit=500)
    # then
    assert run.validation["churn"]["definition"] == (
        "no purchase in 60 days or a 'Plan Cancelled' event"
    )
    assert run.validation["churn"]["fit_customers"] == 60
    leaver = selectors.customer_score_latest(
        workspace=workspace, customer_id=customer_id(workspace, "u0")
    )
    stayer = selectors.customer_score_latest(
        workspace=workspace, customer_id=customer_id(workspace, "u1")
    )
    assert leaver.churn_risk > stayer.churn_risk
    assert leaver.reasons and leaver.reasons[0]["text"]
    assert leaver.value_at_risk == pytest.approx(leaver.clv * leaver.churn_risk)
    values = [s.value_at_risk for s in at_risk]
    assert values == sorted(values, reverse=True)


def test_a_cancellation_event_counts_as_churn_and_as_a_reason():
    # given customer 1 buying in the window but cancelling in it, 2 buying, 3 cancelled before
    activity = churn.activity_from(
        ([1, 1, 2, 2, 3], [0, 105, 0, 110, 0], [5, 5, 5, 5, 5]),
        cancels=([1, 3], [120, 50]),
    )
    # when / then: churn in (100, 190]
    assert churn.churned(activity, np.array([1, 2, 3]), 100, 90).tolist() == [1, 0, 1]
    ids, raw, _ = churn.features_at(activity, 100)
    assert ids.tolist() == [1, 2, 3]
    assert raw[:, churn.FEATURES.index("cancelled")].tolist() == [0, 0, 1]
    z = np.zeros_like(raw)
    contributions = np.zeros_like(raw)
    contributions[2, churn.FEATURES.index("cancelled")] = 2.0
    z[2, churn.FEATURES.index("cancelled")] = 1.0
    assert churn.reasons(raw, z, contributions)[2][0]["text"] == "Has cancelled"
