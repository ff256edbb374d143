"""Predictions on a workspace's own events: RFM as of a date, stored scores, settings, CLI."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy import special

from cxloop.events import selectors as events_selectors
from cxloop.predict import bgnbd, selectors, services
from factories import customer_id, ingest, track

START = datetime(2023, 1, 2, 12, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


def _shop(workspace, *, customers: int = 160, seed: int = 5) -> None:
    """Buyers drawn from a BG/NBD process over a year, plus one hand-made customer ``hand``
    (bought on days 0, 10 and 40) and noise that is not a purchase."""
    rng = np.random.default_rng(seed)
    truth = bgnbd.BGNBDParams(r=0.9, alpha=40.0, a=0.5, b=3.0)
    first = rng.integers(0, 120, size=customers)
    T = 364 - first
    x, t_x = bgnbd.simulate(truth, T.astype(float), rng=rng)
    messages = []
    for i in range(customers):
        days = [0.0]
        if x[i] > 0:
            inner = np.sort(rng.uniform(0, t_x[i], size=int(x[i]) - 1))
            days += [*inner.tolist(), float(t_x[i])]
        for k, day in enumerate(days):
            at = START + timedelta(days=int(first[i]) + int(day), minutes=k)
            amount = round(float(rng.gamma(4, 10)), 2)
            messages.append(track(f"c{i}", "Order Completed", at, revenue=amount))
    messages += [
        track("hand", "Order Completed", START, revenue=30),
        track("hand", "Order Completed", START + timedelta(days=10), total="50"),
        track("hand", "Order Completed", START + timedelta(days=40), value=70),
        track("hand", "Product Viewed", START + timedelta(days=50), revenue=999),
        track("c0", "Order Completed", START + timedelta(days=364, hours=2), revenue=10),
    ]
    ingest(workspace, messages)


def test_event_amount_reads_revenue_total_or_value():
    assert events_selectors.event_amount({"revenue": 12.5, "total": 99}) == 12.5
    assert events_selectors.event_amount({"total": "40.10"}) == pytest.approx(40.10)
    assert events_selectors.event_amount({"revenue": "n/a", "value": 7}) == 7
    assert events_selectors.event_amount({"revenue": True}) == 0
    assert events_selectors.event_amount({"value": "nan"}) == 0
    assert events_selectors.event_amount(None) == 0


@pytest.mark.django_db
def test_run_scores_every_buyer_as_of_the_latest_event(workspace):
    # given a year of purchases
    _shop(workspace)
    # when
    run = services.predictions_run(workspace=workspace, interval_draws=20)
    # then: as of the latest event (imported history), every buyer scored
    assert run.as_of == START + timedelta(days=364, hours=2)
    assert run.customers == 161
    assert run.scores.count() == 161
    hand = selectors.customer_score_latest(
        workspace=workspace, customer_id=customer_id(workspace, "hand")
    )
    # the hand-made customer: x = 2, t_x = 40 days, T = 364 days (by the formula, from the
    # fitted parameters)
    p = run.parameters["bgnbd"]
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    p_alive = 1 / (1 + a / (b + 1) * ((alpha + 364) / (alpha + 40)) ** (r + 2))
    assert hand.p_alive == pytest.approx(p_alive, rel=1e-9)
    z = 30 / (alpha + 364 + 30)
    e30 = (
        (a + b + 1)
        / (a - 1)
        * (
            1
            - ((alpha + 364) / (alpha + 394)) ** (r + 2)
            * special.hyp2f1(r + 2, b + 2, a + b + 1, z)
        )
        * p_alive
    )
    assert hand.expected_30 == pytest.approx(e30, rel=1e-9)
    # spend: Gamma-Gamma with the repeat purchases 50 ("total") and 70 ("value") → mean 60
    g = run.parameters["gamma_gamma"]
    spend = g["p"] * (g["gamma"] + 2 * 60) / (g["p"] * 2 + g["q"] - 1)
    assert hand.expected_spend == pytest.approx(spend, rel=1e-9)
    assert hand.clv_low <= hand.clv <= hand.clv_high
    assert 0 < hand.clv < hand.expected_365 * hand.expected_spend
    # the model checked itself on a holdout
    holdout = run.validation["holdout"]
    assert holdout["groups"][0]["frequency"] == "0"
    assert holdout["predicted_total"] > 0


@pytest.mark.django_db
def test_an_earlier_as_of_ignores_later_purchases_and_old_runs_are_kept(workspace):
    # given
    _shop(workspace)
    hand_id = customer_id(workspace, "hand")
    # when: scored as of day 20 (the hand customer had bought twice), then as of now
    early = services.predictions_run(
        workspace=workspace, as_of=START + timedelta(days=20), interval_draws=0
    )
    services.predictions_run(workspace=workspace, interval_draws=0)
    # then
    assert early.as_of == START + timedelta(days=20)
    assert early.customers < 161
    history = selectors.customer_score_history(workspace=workspace, customer_id=hand_id)
    assert [s.as_of for s in history] == [START + timedelta(days=364, hours=2), early.as_of]
    p = early.parameters["bgnbd"]
    odds = p["a"] / p["b"] * ((p["alpha"] + 20) / (p["alpha"] + 10)) ** (p["r"] + 1)
    assert history[1].p_alive == pytest.approx(1 / (1 + odds), rel=1e-9)


@pytest.mark.django_db
def test_no_purchases_stores_a_run_that_says_why(workspace):
    # given only page views
    ingest(workspace, [track("u1", "Product Viewed", START), track("u2", "Signed Up", START)])
    # when
    run = services.predictions_run(workspace=workspace)
    # then
    assert run.customers == 0 and run.scores.count() == 0
    assert "No 'Order Completed' events" in run.warnings[0]


@pytest.mark.django_db
def test_settings_choose_the_purchase_event_and_refuse_bad_values(workspace):
    ingest(
        workspace,
        [
            track("u1", "Bought", START, revenue=5),
            track("u1", "Bought", START + timedelta(days=3), revenue=5),
            track("u2", "Bought", START + timedelta(days=1), revenue=5),
        ],
    )
    services.prediction_settings_update(workspace=workspace, purchase_event="Bought")
    run = services.predictions_run(workspace=workspace, interval_draws=0)
    assert (run.purchase_event, run.customers, run.repeat_buyers) == ("Bought", 2, 1)
    assert any("Only 1 repeat buyers" in w for w in run.warnings)
    with pytest.raises(ValueError, match="churn_days: must be between 7 and 730"):
        services.prediction_settings_update(workspace=workspace, churn_days=3)
    with pytest.raises(ValueError, match="purchase_event"):
        services.prediction_settings_update(workspace=workspace, purchase_event=" ")


@pytest.mark.django_db
def test_merge_and_erase_handlers_drop_scores(workspace):
    from cxloop.predict import handlers

    _shop(workspace, customers=30)
    services.predictions_run(workspace=workspace, interval_draws=0)
    hand_id = customer_id(workspace, "hand")
    exported = handlers.scores_customer_export(customer_ids=[hand_id])["predict_scores"]
    assert len(exported) == 1 and exported[0]["customer_id"] == hand_id
    assert handlers.scores_customer_erase(customer_ids=[hand_id]) == {"predict_scores": 1}
    assert selectors.customer_score_latest(workspace=workspace, customer_id=hand_id) is None


def _cx(home: Path, *args: str) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("CXLOOP_")}
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    env.update(CXLOOP_HOME=str(home), PYTHONPATH=str(ROOT / "src"), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-c", "from cxloop.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_predict_scores_an_imported_history_and_refuses_bad_dates(tmp_path):
    # given a workspace with imported purchases from 2022
    home = tmp_path / "home"
    assert _cx(home, "workspace", "create", "Shop", "--slug", "shop").returncode == 0
    rows = [("u1", 0), ("u1", 30), ("u1", 61), ("u2", 5), ("u2", 50), ("u3", 9)]
    path = tmp_path / "events.csv"
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["user_id", "event", "timestamp", "revenue"])
        for user, day in rows:
            when = datetime(2022, 3, 1, tzinfo=UTC) + timedelta(days=day)
            out.writerow([user, "Order Completed", when.isoformat(), "20"])
    imported = _cx(home, "import", "events", str(path), "--workspace", "shop")
    assert imported.returncode == 0, imported.stderr
    # when
    bad = _cx(home, "predict", "--workspace", "shop", "--as-of", "2022-13-01")
    good = _cx(home, "predict", "--workspace", "shop", "--churn-days", "60")
    # then
    assert bad.returncode == 2 and "--as-of: '2022-13-01' is not a date" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert good.returncode == 0, good.stderr
    assert "as of 2022-05-01: 3 buyers, 2 repeat buyers, 6 purchases" in good.stdout
    assert "bgnbd: r=" in good.stdout


@pytest.mark.django_db
def test_daily_task_scores_every_workspace_and_refresh_scores_one(workspace, other_workspace):
    from cxloop.predict.tasks import predictions_cycle, predictions_refresh

    # given purchases in one workspace, none in the other
    _shop(workspace, customers=20)
    # when
    done = predictions_cycle.call(repeat=False)
    run_id = predictions_refresh.call(workspace_id=workspace.pk)
    # then: a run per workspace (the empty one says why), and the refresh stored another
    assert done == 2
    assert selectors.prediction_runs(workspace=workspace).count() == 2
    assert selectors.prediction_run_latest(workspace=workspace).pk == run_id
    assert selectors.prediction_run_latest(workspace=other_workspace).warnings


@pytest.mark.django_db
def test_old_runs_are_thinned_to_one_a_month(workspace):
    from cxloop.predict.models import CustomerScore, PredictionRun

    # given runs made daily over three months (dates set as if made then)
    _shop(workspace, customers=10)
    now = datetime(2024, 4, 20, 12, tzinfo=UTC)
    for days_ago in range(80, -1, -1):
        run = services.predictions_run(workspace=workspace, interval_draws=0)
        PredictionRun.objects.filter(pk=run.pk).update(created_at=now - timedelta(days=days_ago))
    scores_per_run = CustomerScore.objects.filter(run=run).count()
    # when
    deleted = services.prediction_runs_prune(workspace=workspace, now=now)
    # then: the last 35 days kept whole, before that the first run of each month
    kept = list(
        PredictionRun.objects.filter(workspace=workspace)
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )
    older = [c for c in kept if c < now - timedelta(days=35)]
    assert [c.date().isoformat() for c in older] == ["2024-01-31", "2024-02-01", "2024-03-01"]
    assert len(kept) == 3 + 36
    assert deleted == 81 - len(kept)
    assert CustomerScore.objects.filter(workspace=workspace).count() == len(kept) * scores_per_run
