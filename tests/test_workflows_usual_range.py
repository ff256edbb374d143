"""Metric rules against the metric's usual range: the band from the earlier windows (mean ± k·sd
or median ± k·1.4826·MAD), worked out by hand; the value and band in the notification and the
firing's reason; the rule form's fields."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from cxloop.metrics import selectors as metric_selectors
from cxloop.workflows import selectors, services
from cxloop.workflows.models import Notice, RuleFiring
from factories import ingest, member_make, track

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
# refunds per day-long window: the current one [T0 − 1 d, T0) and the four before it
CURRENT, EARLIER = 20, [10, 12, 8, 10]
NOTIFY = [{"type": "notify", "role": "agent", "text": "Refunds {value}, usual {low} to {high}"}]


@pytest.fixture
def refunds(workspace):
    member_make(workspace=workspace, username="al", role="agent")
    messages = []
    for window, count in enumerate([CURRENT, *EARLIER]):
        end = T0 - window * DAY
        for j in range(count):
            at = end - timedelta(minutes=30 * (j + 1))
            messages.append(track(f"u{j}", "Refund", at, message_id=f"r{window}-{j}"))
    ingest(workspace, messages)
    return workspace


def _rule(workspace, **params):
    return services.rule_create(
        workspace=workspace, name="refunds", trigger="metric_crossed", conditions=[],
        actions=NOTIFY, active=True, at=T0 - 10 * DAY,
        params={"metric": "event_count", "event": "Refund", "days": 1, "direction": "above",
                "bound": "usual", "periods": 4, **params},
    )  # fmt: skip


def test_the_usual_range_by_hand():
    # mean 10, sample sd √((0 + 4 + 4 + 0) / 3) = 1.633; median 10, MAD median(0, 2, 2, 0) = 1
    sd = math.sqrt(8 / 3)
    assert metric_selectors.usual_range(EARLIER, k=2) == pytest.approx(
        (10, sd, 10 - 2 * sd, 10 + 2 * sd)
    )
    assert metric_selectors.usual_range(EARLIER, k=2, method="mad") == pytest.approx(
        (10, 1.4826, 10 - 2.9652, 10 + 2.9652)
    )
    assert metric_selectors.usual_range([1.0, 2.0], k=2) is None  # too little history


def test_a_value_above_its_usual_range_fires_with_the_band_in_the_notice(refunds):
    rule = _rule(refunds, k=2, method="sd")

    assert services.rules_scan_metrics(now=T0) == 1

    firing = RuleFiring.objects.get(rule=rule)
    # band 10 ± 2 × 1.633 = 6.73 to 13.27; 20 refunds are above it
    assert firing.why.startswith(
        "count of an event over the last 1 days = 20.0 (n = 20) is above its usual range "
        "6.7 to 13.3 (mean 10.0 ± 2 sd 1.6, from the 4 windows of 1 days before)"
    )
    facts = firing.context["facts"]
    assert (facts["value"], facts["low"], facts["high"]) == (20.0, 6.73, 13.27)
    assert list(Notice.objects.values_list("text", flat=True)) == [
        "Refunds 20.0, usual 6.73 to 13.27"
    ]


def test_a_robust_band_and_a_value_inside_it(refunds):
    inside = _rule(refunds, k=10, method="sd")  # 10 ± 16.3: 20 is inside
    robust = _rule(refunds, k=2, method="mad", direction="outside")  # 7.03 to 12.97

    assert services.rules_scan_metrics(now=T0) == 1

    assert not RuleFiring.objects.filter(rule=inside).exists()
    firing = RuleFiring.objects.get(rule=robust)
    assert (firing.context["facts"]["low"], firing.context["facts"]["high"]) == (7.03, 12.97)
    assert "median 10.0 ± 2 × 1.4826 MAD 1.5" in firing.why


def test_bad_usual_range_parameters_name_their_field(workspace):
    with pytest.raises(services.DefinitionError) as caught:
        _rule(workspace, k="0", periods=1, method="mean")
    assert caught.value.errors == [
        "k: '0' is not a number from 0.5 to 10",
        "periods: 1 is outside 3–52",
        "method: 'mean' is not sd or mad",
    ]
    with pytest.raises(services.DefinitionError) as caught:
        services.rule_create(
            workspace=workspace, name="x", trigger="metric_crossed", conditions=[],
            actions=NOTIFY, active=True, at=T0,
            params={"metric": "nps", "days": 7, "direction": "outside", "threshold": 1},
        )  # fmt: skip
    assert caught.value.errors == ["direction: outside needs the usual range as the bound"]


def test_the_rule_form_edits_a_usual_range_rule(client, workspace):
    client.force_login(member_make(workspace=workspace, username="an", role="admin"))
    base = {"name": "Refund alert", "trigger": "metric_crossed", "conditions": "0",
            "actions": "1", "a0-type": "notify", "a0-role": "agent", "a0-text": "{value}",
            "p-metric": "event_count", "p-event": "Refund", "p-days": "1",
            "p-direction": "outside", "p-bound": "usual", "active": "on"}  # fmt: skip

    redraw = client.post("/workflows/rules/new/", {**base, "op": "refresh"})
    refused = client.post("/workflows/rules/new/", {**base, "op": "save", "p-k": "99"})
    saved = client.post(
        "/workflows/rules/new/",
        {**base, "op": "save", "p-k": "2.5", "p-periods": "6", "p-method": "mad"},
    )

    assert 'id="p-k"' in redraw.text and 'id="p-threshold"' not in redraw.text
    assert refused.status_code == 422 and 'id="p-k-error"' in refused.text
    assert saved.status_code == 302, saved.text[-2000:]
    rule = selectors.rule_list(workspace=workspace).get()
    assert rule.params == {"metric": "event_count", "event": "Refund", "days": 1,
                           "direction": "outside", "bound": "usual", "k": 2.5, "periods": 6,
                           "method": "mad"}  # fmt: skip
    listing = client.get("/workflows/rules/")
    assert (
        "count of &#x27;Refund&#x27; over the last 1 days leaves its usual range "
        "(± 2.5 MAD of the 6 windows before)"
    ) in listing.text
