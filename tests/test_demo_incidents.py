"""The demo's payment outage is there to be found: "What changed" on the default period (the
last 28 days) names Card Declined, new since the outage began, for the funnel from checkout to
order. (The carrier backlog's late deliveries are checked on the generated messages in
test_demo.py: a small demo has too few NPS answers a month to test a channel's change.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cxloop.core import services as core_services
from cxloop.demo.generator import PHONE_REGION, Story
from cxloop.events.services import events_ingest
from cxloop.journeys.definitions import RuleSpec
from cxloop.metrics import funnelchange

PEOPLE = 2000


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo's events, as build_demo ingests them (its surveys, journeys, text and models,
    which this question does not read, are tested in test_demo.py and test_feedback_demo.py)."""
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with django_db_blocker.unblock():
        workspace = core_services.workspace_create(
            name="Incidents", slug="demo-incidents", phone_region=PHONE_REGION
        )
        for received_at, batch in Story(seed=7, people=PEOPLE, now=now).batches():
            assert not events_ingest(
                workspace=workspace, messages=batch, received_at=received_at
            ).rejected
        yield workspace
        workspace.delete()


def test_what_changed_names_the_payment_outage(db, demo):
    found = funnelchange.funnel_change(
        workspace=demo, steps=[RuleSpec("Checkout Started"), RuleSpec("Order Completed")],
        window=timedelta(days=7),
    )  # fmt: skip

    assert found.significant and (found.change or 0) < 0
    lead = funnelchange.explaining(found)[0]
    assert (lead.dimension, lead.label) == ("event", "Card Declined")
    assert lead.new_since is not None
    assert "Customers who did Card Declined (new since" in found.sentences[1]
