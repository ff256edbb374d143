"""Personas: k-means on behaviour finds the groups, names and explains them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import factories
from cxloop.customers.models import Customer
from cxloop.segments import personas, selectors
from cxloop.segments.personas import PersonaError

NOW = datetime(2025, 9, 1, tzinfo=UTC)


def ago(days: float, minutes: float = 0) -> datetime:
    return NOW - timedelta(days=days) + timedelta(minutes=minutes)


def track(user: str, n: int, name: str, channel: str, when: datetime, **props) -> dict:
    return factories.track(user, name, when, channel=channel, message_id=f"{user}-{n}", **props)


def page(user: str, n: int, name: str, when: datetime) -> dict:
    return {
        "type": "page",
        "userId": user,
        "name": name,
        "messageId": f"{user}-{n}",
        "timestamp": when.isoformat(),
    }


def store_regular(user: str) -> list[dict]:
    """Three shop visits with a £300 purchase each, the last 5 days ago."""
    messages = []
    for trip, days in enumerate((65, 35, 5)):
        revenue = "300.0" if trip == 0 else 300  # text amounts count too
        messages.append(track(user, 2 * trip, "Store Visit", "store", ago(days)))
        messages.append(
            track(user, 2 * trip + 1, "Order Completed", "store", ago(days, 10), revenue=revenue)
        )
    return messages


def lapsed_browser(user: str) -> list[dict]:
    """Looked at products on the website 200 days ago and never came back."""
    return [
        page(user, 0, "Home", ago(200)),
        page(user, 1, "Product", ago(200, 1)),
        track(user, 2, "Product Viewed", "web", ago(200, 2)),
        page(user, 3, "Product", ago(200, 3)),
    ]


def email_reader(user: str) -> list[dict]:
    """Opens the newsletter every few weeks, never buys."""
    return [
        track(user, n, "Email Opened", "email", ago(days)) for n, days in enumerate((70, 40, 10))
    ]


@pytest.fixture
def groups(workspace) -> dict[str, set[int]]:
    people = {"store": store_regular, "web": lapsed_browser, "email": email_reader}
    messages = [m for kind, make in people.items() for i in range(10) for m in make(f"{kind}-{i}")]
    factories.ingest(workspace, messages)
    ids: dict[str, set[int]] = {kind: set() for kind in people}
    for customer in Customer.objects.filter(workspace=workspace):
        user = customer.identities.get(kind="user_id").value
        ids[user.split("-")[0]].add(customer.pk)
    return ids


@pytest.mark.usefixtures("each_engine")
def test_personas_find_name_and_explain_the_groups(workspace, groups):
    result = selectors.personas_compute(workspace=workspace, k=3, now=NOW)

    assert (result.k, result.customers) == (3, 30)
    assert [(p.name, p.size, set(p.customer_ids)) for p in result.personas] == [
        ("Active email readers", 10, groups["email"]),
        ("Lapsed web browsers", 10, groups["web"]),
        ("Loyal store big spenders", 10, groups["store"]),
    ]
    readers, browsers, regulars = result.personas
    assert regulars.share == pytest.approx(1 / 3)
    assert regulars.means["revenue"] == 900
    assert regulars.means["orders"] == 3
    assert regulars.means["recency_days"] == pytest.approx(5 - 10 / 1440)
    assert "100% of interactions on store (average 33%)" in regulars.explanation
    assert "900 revenue each (average 300)" in regulars.explanation
    assert "3.0 orders each, 100% have ordered (average 1.0)" in regulars.explanation
    assert "last active 200 days ago (median 10)" in browsers.explanation
    assert (regulars.journey, regulars.journey_share) == (("Store Visit", "Order Completed"), 1.0)
    assert (browsers.journey, browsers.journey_share) == (("Product Viewed",), 1.0)
    assert (readers.journey, readers.journey_share) == (("Email Opened",), 1.0)


def test_personas_are_deterministic(workspace, groups):
    first = selectors.personas_compute(workspace=workspace, k=2, now=NOW)
    again = selectors.personas_compute(workspace=workspace, k=2, now=NOW)

    assert [(p.name, p.customer_ids) for p in first.personas] == [
        (p.name, p.customer_ids) for p in again.personas
    ]
    assert sorted(p.size for p in first.personas) == [10, 20]


def test_more_personas_than_behaviours_gives_no_empty_personas(workspace, groups):
    result = selectors.personas_compute(workspace=workspace, k=5, now=NOW)

    assert result.k == 3  # three distinct behaviours: empty clusters are dropped
    assert sorted(p.size for p in result.personas) == [10, 10, 10]


def test_personas_need_enough_customers_and_a_sensible_k(workspace, groups):
    with pytest.raises(
        PersonaError, match="8 personas need at least 40 customers with interactions; there are 30"
    ):
        selectors.personas_compute(workspace=workspace, k=8, now=NOW)
    with pytest.raises(PersonaError, match="choose between 2 and 8 personas"):
        selectors.personas_compute(workspace=workspace, k=9, now=NOW)
    with pytest.raises(PersonaError, match="choose between 2 and 8 personas"):
        selectors.personas_compute(workspace=workspace, k=1, now=NOW)


def test_personas_show_their_members_journey_stage(workspace, groups):
    from cxloop.journeys import services as journey_services

    journey_services.journey_create(
        workspace=workspace,
        definition={
            "name": "Retail",
            "stages": ["Discover", "Buy"],
            "touchpoints": [
                {
                    "stage": "Discover",
                    "name": "Site",
                    "channel": "web",
                    "rules": [{"event": "Home"}],
                },
                {
                    "stage": "Discover",
                    "name": "Newsletter",
                    "channel": "email",
                    "rules": [{"event": "Email Opened"}],
                },
                {
                    "stage": "Buy",
                    "name": "Till",
                    "channel": "store",
                    "rules": [{"event": "Order Completed"}],
                },
            ],
        },
    )

    result = selectors.personas_compute(workspace=workspace, k=3, now=NOW)

    assert [(p.name, p.stages) for p in result.personas] == [
        ("Active email readers", [("Retail", "Discover", 1.0)]),
        ("Lapsed web browsers", [("Retail", "Discover", 1.0)]),
        ("Loyal store big spenders", [("Retail", "Buy", 1.0)]),
    ]


@pytest.mark.usefixtures("each_engine")
def test_imported_history_is_measured_as_of_its_latest_event(workspace):
    # an import of 1997 purchases: the last one on 1997-12-20, another customer's on 12-10
    end = datetime(1997, 12, 20, 12, tzinfo=UTC)
    factories.ingest(
        workspace,
        [
            factories.track("late", "Order Completed", end, message_id="a", revenue=10),
            factories.track("early", "Order Completed", end - timedelta(days=10), message_id="b"),
        ],
        received_at=datetime(2026, 11, 29, tzinfo=UTC),
    )

    features = personas.persona_features(workspace=workspace)

    assert features.as_of == end
    recency = dict(zip(features.customer_ids, features.column("recency_days"), strict=True))
    assert recency[factories.customer_id(workspace, "late")] == pytest.approx(0.0)
    assert recency[factories.customer_id(workspace, "early")] == pytest.approx(10.0)
