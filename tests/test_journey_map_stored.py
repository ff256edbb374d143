"""The journey job keeps each map's metrics over the default range and the one before it; the
map's page and API read them while the data is as it was, and walk the events otherwise. The
stored numbers are the hand-worked ones of ``test_journey_map_range`` (the same history), and
equal a live walk; a new event, a merge, an erasure or a changed definition is never served
from the store as current. On both engines (and on PostgreSQL with DATABASE_URL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django_tasks_db.models import DBTaskResult

from cxloop.analytics import selectors as analytics_selectors
from cxloop.analytics.services import engine_drain
from cxloop.customers import services as customer_services
from cxloop.customers.models import Customer
from cxloop.customers.privacy import customer_erase
from cxloop.journeys import mapperiod, services, tasks
from cxloop.journeys.models import MapWindow
from cxloop.metrics.funnelchange import change_periods
from cxloop.metrics.trends import trend_range
from factories import customer_id, ingest, response_make, survey_make, track

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("each_engine")]

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)  # the latest event: the as-of time (imported history)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)

MAP = {
    "name": "Shop",
    "stages": ["Browse", "Buy", "Review"],
    "touchpoints": [
        {"stage": "Browse", "name": "Site", "rules": [{"event": "Home"}]},
        {"stage": "Buy", "name": "Order", "rules": [{"event": "Order"}]},
        {"stage": "Review", "name": "Review", "rules": [{"event": "Review"}]},
    ],
}


def at(who: str, name: str, when: datetime) -> dict:
    return track(who, name, when, message_id=f"{who}-{name}-{when.isoformat()}")


HISTORY = [
    at("a", "Home", T0 - 100 * DAY),  # the previous period
    at("a", "Order", T0 - 99 * DAY),
    at("a", "Home", T0 - 10 * DAY),
    at("a", "Order", T0 - 10 * DAY + 2 * HOUR),
    at("a", "Review", T0 - 9 * DAY),
    at("b", "Home", T0 - 5 * DAY),
    at("b", "Order", T0 - 5 * DAY + HOUR),
    at("c", "Home", T0 - 20 * DAY),
    at("d", "Order", T0 - 30 * DAY),  # skips Browse
    at("d", "Review", T0 - 29 * DAY),
    at("e", "Home", T0 - 120 * DAY),  # only in the previous period
    at("e", "Order", T0 - 119 * DAY),
    at("z", "Home", T0),
]


@pytest.fixture
def journey(workspace):
    ingest(workspace, HISTORY)
    survey = survey_make(workspace)
    response_make(workspace, survey, T0 - 3 * DAY, nps=10, touchpoint="Order")
    response_make(workspace, survey, T0 - 2 * DAY, nps=0, touchpoint="Order")
    return services.journey_create(workspace=workspace, definition=MAP)


def run_job(engine) -> None:
    """One run of the journey job, the engine having copied what the outbox names (its owner
    drains every second; the tests' engine drains when asked)."""
    if engine != "sql":
        while engine_drain(engine=engine.engine):
            pass
    tasks.journeys_cycle.call(repeat=False)


@pytest.fixture
def forbid_walks(monkeypatch):
    """Call it to fail the test when the map is walked: the numbers must come from the store."""

    def walk(**kwargs):
        raise AssertionError("walked the events; the stored metrics were not used")

    return lambda: monkeypatch.setattr(analytics_selectors, "journey_walk", walk)


def api_map(client, journey) -> dict:
    answer = client.get(f"/api/journeys/{journey.pk}/map", {"compare": "true"})
    assert answer.status_code == 200, answer.content
    return answer.json()


def browse(period: dict) -> tuple:
    stage = period["stages"][0]
    return period["customers"], stage["customers"], stage["converted"], stage["median_seconds"]


def test_the_job_stores_the_default_range_and_the_one_before_as_a_live_walk_counts_them(
    workspace, journey, each_engine
):
    run_job(each_engine)

    rows = list(MapWindow.objects.filter(journey=journey).order_by("-since"))
    span = trend_range(workspace=workspace)
    before = change_periods(workspace=workspace, date_from=span.first, date_to=span.last).previous
    # the page's and the API's default ranges exactly: 2 Dec 2024 – the latest event, and the
    # 90 days before
    assert [(r.since, r.until) for r in rows] == [
        (span.since, span.until),
        (before.since, before.until),
    ]
    assert span.since == datetime(2024, 12, 2, tzinfo=UTC) and span.until == T0 + timedelta(
        microseconds=1
    )
    now, then = rows[0].metrics, rows[1].metrics
    # in range: Browse a, b, c, z; a and b order 2 h and 1 h later (median 1.5 h); Buy a, b, d;
    # a reviews 22 h after ordering, d 24 h
    assert now["customers"] == 5
    assert [now["stages"][0][k] for k in ("customers", "converted", "median_seconds")] == [
        4, 2, 5400.0,
    ]  # fmt: skip
    assert now["stages"][1]["median_seconds"] == (22 + 24) * 3600 / 2
    # before: a and e browse, both order a day later
    assert then["customers"] == 2
    assert [then["stages"][0][k] for k in ("customers", "converted", "median_seconds")] == [
        2, 2, 86400.0,
    ]  # fmt: skip
    for row in rows:
        live = mapperiod.journey_period_metrics(
            journey=journey, since=row.since, until=row.until, use_stored=mapperiod.NEVER
        )
        assert row.metrics == live.metrics


def test_the_page_and_the_api_read_the_stored_metrics_while_nothing_changed(
    client, member, journey, each_engine, forbid_walks
):
    run_job(each_engine)
    forbid_walks()
    run_job(each_engine)  # nothing changed: the job keeps the stored ranges without a walk
    client.force_login(member)

    body = api_map(client, journey)
    page = client.get(f"/journeys/{journey.pk}/", {"compare": "1"})

    assert browse(body["current"]) == (5, 4, 2, 5400.0)
    assert browse(body["previous"]) == (2, 2, 2, 86400.0)
    # touchpoint scores are read live: the Order touchpoint's two answers in range, 10 and 0
    order = body["current"]["stages"][1]["touchpoints"][0]
    assert (order["responses"], order["nps"]) == (2, 0.0)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="map-total">5<' in html and 'id="map-total-before">2<' in html
    assert '<dd class="stage-volume">4</dd>' in html
    assert "Before: 2 reached (+2), 100% (-50 pts) to next stage, median 1.0 days" in html
    assert "map-stored-note" not in html


def test_a_new_event_is_walked_live_by_the_api_and_named_on_the_page(
    workspace, client, member, journey, each_engine
):
    run_job(each_engine)
    client.force_login(member)
    ingest(workspace, [at("y", "Home", T0 - DAY)])  # a fifth customer browses in range
    DBTaskResult.objects.all().delete()

    body = api_map(client, journey)
    page = client.get(f"/journeys/{journey.pk}/")

    assert browse(body["current"]) == (6, 5, 2, 5400.0)  # walked: y counts
    html = page.content.decode()
    # the page shows what the job stored, saying so, and asks for a recompute
    assert '<dd class="stage-volume">4</dd>' in html
    assert "; 1 new event since; recomputing." in html
    assert DBTaskResult.objects.filter(task_path=tasks.journey_windows_refresh.module_path).count()
    assert tasks.journey_windows_refresh.call() == 1
    again = client.get(f"/journeys/{journey.pk}/").content.decode()
    assert '<dd class="stage-volume">5</dd>' in again and "map-stored-note" not in again
    assert tasks.journey_windows_refresh.call() == 0  # nothing left to recompute


def test_a_merge_an_erasure_or_a_new_definition_is_never_served_from_the_store(
    workspace, client, member, journey, each_engine
):
    client.force_login(member)
    run_job(each_engine)
    # c (Home −20 d) becomes b (Home −5 d, Order 1 h later): Browse is a, b+c, z; b+c converts
    # from its first Home, 20 days before the order
    customer_services.customers_merge(
        survivor_id=customer_id(workspace, "b"),
        merged_ids=[customer_id(workspace, "c")],
        reason="test",
    )
    merged = api_map(client, journey)["current"]
    assert browse(merged)[:3] == (4, 3, 2)
    assert (
        "profiles merged, unmerged or erased since"
        in client.get(f"/journeys/{journey.pk}/").content.decode()
    )

    run_job(each_engine)
    customer_erase(customer=Customer.objects.get(pk=customer_id(workspace, "z")), actor=None)
    assert browse(api_map(client, journey)["current"])[:3] == (3, 2, 2)

    run_job(each_engine)
    services.journey_update(
        journey=journey, definition={**MAP, "stages": ["Browse", "Buy", "Review"][:2],
        "touchpoints": MAP["touchpoints"][:2]},
    )  # fmt: skip
    assert len(api_map(client, journey)["current"]["stages"]) == 2


def test_live_data_matches_a_later_request_while_no_event_arrived(
    workspace, client, member, each_engine, forbid_walks
):
    # live data: the as-of time is now, so each request's range ends at its own moment; with no
    # event after the stored range's end, the later range holds the same events
    now = datetime.now(UTC)
    ingest(workspace, [at("a", "Home", now - 2 * HOUR), at("a", "Order", now - HOUR)])
    journey = services.journey_create(workspace=workspace, definition=MAP)
    run_job(each_engine)
    stored_until = MapWindow.objects.filter(journey=journey).order_by("-since")[0].until
    forbid_walks()
    client.force_login(member)

    body = api_map(client, journey)

    assert stored_until < datetime.now(UTC)  # the request's range ends later
    assert body["current"]["range"]["as_of_reason"] == "now (live data)"
    assert browse(body["current"]) == (1, 1, 1, 3600.0)


def test_a_lagging_engine_stores_nothing(workspace, journey, each_engine, monkeypatch):
    class Lagging:
        kind = "clickhouse"

    run_job(each_engine)
    assert MapWindow.objects.filter(journey=journey).count() == 2
    ingest(workspace, [at("y", "Home", T0 - DAY)])  # its outbox entry waits: nobody drains
    monkeypatch.setattr(analytics_selectors, "current_engine", lambda: Lagging())
    monkeypatch.setattr(services, "ENGINE_WAIT_SECONDS", 0.0)

    assert services.journey_windows_store(journey=journey) == 0
    assert not MapWindow.objects.filter(journey=journey).exists()
