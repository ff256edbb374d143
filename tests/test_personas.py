"""Personas: k-means on behaviour finds the groups, names and explains them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import Client

import factories
from cxloop.customers.models import Customer
from cxloop.metrics import trends
from cxloop.segments import personas, selectors
from cxloop.segments.personas import PersonaError

NOW = datetime(2025, 9, 1, tzinfo=UTC)
# every event of the fixtures, measured as of NOW
START = datetime(2024, 1, 1, tzinfo=UTC)
ALL = trends.Range(START.date(), date(2025, 8, 31), NOW, "the test's now", START, NOW)


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
    result = selectors.personas_compute(workspace=workspace, k=3, span=ALL)

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
    first = selectors.personas_compute(workspace=workspace, k=2, span=ALL)
    again = selectors.personas_compute(workspace=workspace, k=2, span=ALL)

    assert [(p.name, p.customer_ids) for p in first.personas] == [
        (p.name, p.customer_ids) for p in again.personas
    ]
    assert sorted(p.size for p in first.personas) == [10, 20]


@pytest.mark.usefixtures("each_engine")
def test_many_customers_are_grouped_on_a_repeatable_sample_and_all_assigned(
    workspace, groups, monkeypatch
):
    # the centres come from 15 of the 30 customers (a fixed seed); all 30 are assigned
    monkeypatch.setattr(personas, "FIT_SAMPLE", 15)

    result = selectors.personas_compute(workspace=workspace, k=3, span=ALL)
    again = selectors.personas_compute(workspace=workspace, k=3, span=ALL)

    assert (result.customers, result.fitted_on) == (30, 15)
    assert [(p.name, p.size, set(p.customer_ids)) for p in result.personas] == [
        ("Active email readers", 10, groups["email"]),
        ("Lapsed web browsers", 10, groups["web"]),
        ("Loyal store big spenders", 10, groups["store"]),
    ]
    assert [p.customer_ids for p in again.personas] == [p.customer_ids for p in result.personas]
    assert personas.fit_sample(30).tolist() == personas.fit_sample(30).tolist()
    assert len(set(personas.fit_sample(30).tolist())) == 15
    assert selectors.personas_compute(workspace=workspace, k=3, span=ALL).fitted_on == 15
    monkeypatch.setattr(personas, "FIT_SAMPLE", 30)  # as many as there are: all, no sample
    assert selectors.personas_compute(workspace=workspace, k=3, span=ALL).fitted_on is None


def test_page_says_when_the_groups_come_from_a_sample(client, groups, monkeypatch):
    monkeypatch.setattr(personas, "FIT_SAMPLE", 15)

    html = client.get("/segments/personas/", {"k": "3", "date_from": "2025-01-01"}).content.decode()

    assert (
        "30 customers with interactions in the range · groups found on a random 15 of them" in html
    )


def test_more_personas_than_behaviours_gives_no_empty_personas(workspace, groups):
    result = selectors.personas_compute(workspace=workspace, k=5, span=ALL)

    assert result.k == 3  # three distinct behaviours: empty clusters are dropped
    assert sorted(p.size for p in result.personas) == [10, 10, 10]


def test_personas_need_enough_customers_and_a_sensible_k(workspace, groups):
    with pytest.raises(
        PersonaError, match="8 personas need at least 40 customers with interactions; there are 30"
    ):
        selectors.personas_compute(workspace=workspace, k=8, span=ALL)
    with pytest.raises(PersonaError, match="choose between 2 and 8 personas"):
        selectors.personas_compute(workspace=workspace, k=9, span=ALL)
    with pytest.raises(PersonaError, match="choose between 2 and 8 personas"):
        selectors.personas_compute(workspace=workspace, k=1, span=ALL)


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

    result = selectors.personas_compute(workspace=workspace, k=3, span=ALL)

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


# ----------------------------------------------------------------------------------- the range
# the fixtures' latest event is the regulars' last order, 5 days before NOW (at 00:10): imported
# history, measured as of it; their earlier trips are 35 and 65 days back, the readers' emails
# 10, 40 and 70, the browsers' visit 200
LATEST = datetime(2025, 8, 27, 0, 10, tzinfo=UTC)


@pytest.mark.usefixtures("each_engine")
def test_by_default_the_last_90_days_as_of_the_latest_event(workspace, groups):
    result = selectors.personas_compute(workspace=workspace, k=2, now=NOW)

    span = result.span
    assert (span.first, span.last) == (date(2025, 5, 30), date(2025, 8, 27))
    assert (span.as_of, span.as_of_reason) == (LATEST, "the latest event (imported history)")
    assert result.as_of == LATEST  # recency up to the range's end
    assert result.customers == 20  # the browsers' visit is 200 days back: out of range
    readers, regulars = result.personas
    assert (readers.name, set(readers.customer_ids)) == ("Active email readers", groups["email"])
    assert (regulars.name, set(regulars.customer_ids)) == (
        "Loyal store big spenders",
        groups["store"],
    )
    assert regulars.means["recency_days"] == 0
    assert readers.means["recency_days"] == pytest.approx(5 + 10 / 1440)


@pytest.mark.usefixtures("each_engine")
def test_a_range_counts_only_its_events_and_measures_recency_to_its_end(workspace, groups):
    # 23 Jul – 12 Aug: the readers' email of 23 Jul 00:00 and the regulars' trip of 28 Jul
    span = trends.trend_range(
        workspace=workspace, date_from=date(2025, 7, 23), date_to=date(2025, 8, 12), now=NOW
    )

    result = selectors.personas_compute(workspace=workspace, k=2, span=span)

    end = datetime(2025, 8, 13, tzinfo=UTC)
    assert (result.span, result.as_of, result.customers) == (span, end, 20)
    readers, regulars = result.personas
    assert (readers.name, regulars.name) == ("Active email readers", "Loyal store big spenders")
    assert set(regulars.customer_ids) == groups["store"]
    assert {c: regulars.means[c] for c in ("interactions", "orders", "revenue")} == {
        "interactions": 2,
        "orders": 1,
        "revenue": 300,
    }
    assert regulars.means["recency_days"] == pytest.approx(16 - 10 / 1440)  # 28 Jul 00:10
    assert regulars.means["tenure_days"] == pytest.approx(16)
    assert (readers.means["interactions"], readers.means["recency_days"]) == (1, 21)


def test_a_range_without_events_has_no_personas(workspace, groups):
    span = trends.trend_range(
        workspace=workspace, date_from=date(2024, 1, 1), date_to=date(2024, 1, 31), now=NOW
    )

    with pytest.raises(PersonaError, match=r"need at least 10 customers .*; there are 0"):
        selectors.personas_compute(workspace=workspace, k=2, span=span)


# ----------------------------------------------------------------------------------- page, API


@pytest.fixture
def client(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


def test_page_shows_its_range_and_as_of_and_a_range_changes_the_result(client, groups):
    default = client.get("/segments/personas/", {"k": "2"})
    html = default.content.decode()

    assert default.status_code == 200
    assert "30 May 2025 – 27 Aug 2025 (UTC periods), measured as of" in html
    assert ">27 Aug 2025, 00:10</time> UTC: the latest event (imported history)." in html
    assert 'name="date_from" type="date" value="2025-05-30"' in html
    assert 'name="date_to" type="date" value="2025-08-27"' in html
    assert "20 customers with interactions in the range" in html
    assert "Lapsed web browsers" not in html

    wide = client.get("/segments/personas/", {"k": "3", "date_from": "2025-01-01"})
    html = wide.content.decode()

    assert wide.status_code == 200
    assert "1 Jan 2025 – 27 Aug 2025 (UTC periods)" in html
    assert "30 customers with interactions in the range" in html
    assert '<h2 id="persona-2">Lapsed web browsers</h2>' in html


@pytest.mark.parametrize(
    ("query", "message", "field"),
    [
        ({"date_from": "2025-08-12", "date_to": "2025-07-23"}, "from: 2025-08-12 is after to: 2025-07-23", "date_from"),
        ({"date_from": "2025-13-01"}, "from: Enter a valid date.", "date_from"),
        ({"date_to": "9999-12-31"}, "to: 9999-12-31 is outside 1970-01-01–2299-12-30", "date_to"),
    ],
)  # fmt: skip
def test_page_names_a_bad_range(client, groups, query, message, field):
    response = client.get("/segments/personas/", {"k": "2", **query})
    html = response.content.decode()

    assert response.status_code == 422
    assert message in html
    assert f'name="{field}" type="date" aria-invalid="true"' in html
    assert 'id="persona-chart"' not in html


def test_api_takes_a_range(client, groups):
    default = client.get("/api/personas", {"k": "2"}).json()
    wide = client.get("/api/personas", {"k": "3", "date_from": "2025-01-01"}).json()

    assert default["range"] == {
        "date_from": "2025-05-30",
        "date_to": "2025-08-27",
        "as_of": "2025-08-27T00:10:00+00:00",
        "as_of_reason": "the latest event (imported history)",
    }
    assert (default["customers"], wide["customers"]) == (20, 30)
    assert (default["fitted_on"], wide["fitted_on"]) == (None, None)  # all of them
    assert [p["name"] for p in wide["personas"]] == [
        "Active email readers",
        "Lapsed web browsers",
        "Loyal store big spenders",
    ]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"date_from": "2025-08-12", "date_to": "2025-07-23"}, "from: 2025-08-12 is after to"),
        ({"date_from": "2025-13-01"}, "date_from: '2025-13-01' is not a day (YYYY-MM-DD)"),
        ({"date_to": "9999-12-31"}, "to: 9999-12-31 is outside"),
        ({"date_to": "0001-01-01"}, "to: 0001-01-01 is outside"),  # no default from 89 days before
    ],
)
def test_api_refuses_a_bad_range(client, groups, query, detail):
    response = client.get("/api/personas", query)

    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)
