"""The journey walk over a range: the ClickHouse query equals the Python reference walk of the
events in [since, until), on random histories, with ranges cutting through customers' events."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from cxloop.analytics.journeywalk import TouchpointRules, journey_walk
from cxloop.analytics.services import engine_drain
from cxloop.analytics.sqlengine import SqlEngine
from cxloop.events.models import Event
from cxloop.journeys.definitions import Condition, RuleSpec
from factories import ingest, track

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
_ids = itertools.count()


def _aware(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_both_engines_walk_only_the_events_in_the_range(workspace, chdb_engine):
    rng = random.Random(5)
    messages = []
    for person in range(50):
        at = rng.randrange(0, 60 * 24 * 40)
        for _ in range(rng.randrange(1, 10)):
            at += rng.choice([0, 1, 30, 60 * 24, 60 * 24 * 5])
            name = rng.choice(["Home", "Product", "Order", "Review"])
            messages.append(
                track(f"p{person}", name, T0 + timedelta(minutes=at),
                      channel=rng.choice(["web", "app"]), total=rng.choice([5, 50, None]),
                      message_id=f"m{next(_ids)}")
            )  # fmt: skip
    ingest(workspace, messages)
    while engine_drain(engine=chdb_engine):
        pass
    touchpoints = [
        TouchpointRules("home", 0, (RuleSpec("Home"),)),
        TouchpointRules("web", 1, (RuleSpec("Product", channel="web"),)),
        TouchpointRules("big", 2, (RuleSpec("Order", conditions=(Condition("total", "gt", 20),)),)),
        TouchpointRules("order", 2, (RuleSpec("Order"),)),
        TouchpointRules("review", 3, (RuleSpec("Review"),)),
    ]
    since, until = T0 + timedelta(days=12), T0 + timedelta(days=30)
    query = {"workspace_id": workspace.pk, "stages": 4, "touchpoints": touchpoints}

    expected = SqlEngine().journey_walk(**query, since=since, until=until)
    got = chdb_engine.journey_walk(**query, since=since, until=until)
    # the reference walk over the events in the range, read independently of the engines
    rows = [
        (e.customer_id, e.occurred_at, e.name, e.channel, e.properties)
        for e in Event.objects.filter(
            workspace=workspace, occurred_at__gte=since, occurred_at__lt=until
        )
    ]
    by_hand = journey_walk(rows, stages=4, touchpoints=touchpoints)
    everything = SqlEngine().journey_walk(**query)

    assert got.metrics == expected.metrics == by_hand.metrics
    assert got.current == {c: (s, _aware(t)) for c, (s, t) in expected.current.items()}
    assert expected.metrics["stages"][0]["converted"] >= 3  # a real comparison
    assert expected.metrics["customers"] < everything.metrics["customers"]  # the range cuts
