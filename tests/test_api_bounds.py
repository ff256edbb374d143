"""Out-of-range parameters get a clear 4xx from the REST API and the dashboard, never a 500."""

from __future__ import annotations

from datetime import datetime

import pytest

from cxloop.customers.models import Customer
from cxloop.events.models import Event
from cxloop.events.services import events_ingest
from cxloop.feedback.models import Survey
from cxloop.segments.models import Segment

pytestmark = pytest.mark.django_db

HUGE = "9223372036854775808"  # 2**63: one past the largest 64-bit integer
FAR_RANGE = {"from": "0001-01-01", "to": "9999-12-31"}


@pytest.fixture
def api(client, admin_member):
    client.force_login(admin_member)
    client.raise_request_exception = False
    return client


@pytest.fixture
def data(workspace, admin_member):
    events_ingest(
        workspace=workspace,
        messages=[
            {"type": "identify", "userId": "u1", "messageId": "1", "traits": {"name": "Ann"}},
            {"type": "track", "userId": "u1", "messageId": "2", "event": "Order Completed",
             "timestamp": "2025-03-01T12:00:00Z"},
        ],
    )  # fmt: skip
    customer = Customer.objects.get(workspace=workspace)
    survey = Survey.objects.create(workspace=workspace, name="NPS", public_token="t" * 32)
    segment = Segment.objects.create(
        workspace=workspace, name="All", definition={"all": []}, created_by=admin_member
    )
    return {"customer": customer.pk, "survey": survey.pk, "segment": segment.pk}


def _pages(data: dict) -> list[str]:
    return [
        "/api/customers",
        f"/api/customers/{data['customer']}/events",
        f"/api/surveys/{data['survey']}/responses",
        f"/api/segments/{data['segment']}/customers",
    ]


@pytest.mark.parametrize("offset", [HUGE, "-1"])
def test_offset_out_of_range_is_422_on_every_page(api, data, offset):
    for url in _pages(data):
        response = api.get(url, {"offset": offset})

        assert response.status_code == 422, (url, response.content)
        assert "offset" in response.json()["detail"], url


@pytest.mark.parametrize("limit", [HUGE, "0", "501"])
def test_limit_out_of_range_is_422_on_every_page(api, data, limit):
    for url in [*_pages(data), "/api/metrics/comments"]:
        response = api.get(url, {"limit": limit})

        assert response.status_code == 422, (url, response.content)
        assert "limit" in response.json()["detail"], url


@pytest.mark.parametrize("url", ["/api/metrics", "/api/metrics/summary", "/api/metrics/retention"])
def test_dates_far_outside_1900_2200_are_422(api, data, url):
    response = api.get(url, FAR_RANGE)

    assert response.status_code == 422, response.content
    assert response.json()["detail"].startswith("from: ")


def test_dates_at_the_edges_of_the_range_are_answered(api, data):
    wide = {"from": "1900-01-01", "to": "2200-12-31", "by": "month"}

    assert api.get("/api/metrics", wide).status_code == 200
    assert api.get("/api/metrics/summary", wide).status_code == 200
    assert api.get("/api/metrics/retention", wide).status_code == 200


def test_to_after_2200_is_422_naming_to(api, data):
    response = api.get("/api/metrics", {"from": "2025-01-01", "to": "2201-01-01"})

    assert response.status_code == 422
    assert response.json()["detail"].startswith("to: ")


@pytest.mark.parametrize(
    ("url", "params", "name"),
    [
        ("/api/paths", {"within_days": "1000000000"}, "within_days"),
        ("/api/paths", {"max_steps": HUGE}, "max_steps"),
        ("/api/paths", {"top": HUGE}, "top"),
        ("/api/paths/before", {"inactive_days": "1000000000"}, "inactive_days"),
        ("/api/paths/before", {"steps": HUGE}, "steps"),
        ("/api/personas", {"k": HUGE}, "k"),
    ],
)
def test_huge_numbers_are_422_naming_the_parameter(api, data, url, params, name):
    response = api.get(url, params)

    assert response.status_code == 422, response.content
    assert name in response.json()["detail"]


def test_largest_allowed_days_are_answered(api, data):
    longest = {"start": "Order Completed", "within_days": "36500"}

    assert api.get("/api/paths", longest).status_code == 200
    assert api.get("/api/paths/before", {"inactive_days": "36500"}).status_code == 200


@pytest.mark.parametrize("seconds", [1e12, 1e300])
def test_funnel_window_too_long_is_422(api, data, seconds):
    body = {"steps": ["Order Completed", "Order Completed"], "window_seconds": seconds}

    response = api.post("/api/funnels", body, content_type="application/json")

    assert response.status_code == 422, response.content
    assert "window_seconds" in response.json()["detail"]


def test_validation_error_body_matches_error_out(api, data):
    response = api.get("/api/customers", {"limit": "many"})

    body = response.json()
    assert response.status_code == 422
    assert isinstance(body["detail"], str)
    assert body["detail"].startswith("limit: ")
    assert body["errors"] == [{"field": "limit", "message": body["detail"][len("limit: ") :]}]


def test_bad_json_body_is_400_with_error_out(api, data):
    response = api.post("/api/funnels", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)


def test_dashboard_far_dates_are_a_form_error_not_a_500(api, data):
    response = api.get("/dashboard/", FAR_RANGE)
    panel = api.get("/dashboard/panel/", FAR_RANGE)

    assert response.status_code == 400, response.status_code
    text = response.content.decode()
    assert "expected a date from 1900-01-01 to 2200-12-31, got &#x27;0001-01-01&#x27;" in text
    assert 'name="from" min="1900-01-01" max="2200-12-31"' in text
    assert 'aria-invalid="true" aria-describedby="dash-error"' in text
    assert panel.status_code == 400


def test_dashboard_answers_the_widest_range(api, data):
    response = api.get("/dashboard/", {"from": "1900-01-01", "to": "2200-12-31", "by": "month"})

    assert response.status_code == 200


WIDEST = {"date_from": "1970-01-01", "date_to": "2299-12-30"}  # the widest range there is


@pytest.fixture
def calendar_ends(workspace):
    """Events stamped at the ends of the calendar. The tracking API now refuses such timestamps,
    but rows written before that (or by hand) must not break any analysis: stored, then moved."""
    stamps = {
        "o1": "0001-01-01T00:00:00+00:00",
        "o2": "0001-01-02T00:00:00+00:00",
        "l1": "9999-12-31T22:00:00+00:00",
        "l2": "9999-12-31T23:00:00+00:00",
    }
    events_ingest(
        workspace=workspace,
        messages=[
            {"type": "track", "userId": "old", "messageId": "o1", "event": "A"},
            {"type": "track", "userId": "old", "messageId": "o2", "event": "B"},
            {"type": "track", "userId": "late", "messageId": "l1", "event": "A"},
            {"type": "track", "userId": "late", "messageId": "l2", "event": "B"},
        ],
    )
    for message_id, stamp in stamps.items():
        Event.objects.filter(workspace=workspace, message_id=message_id).update(
            occurred_at=datetime.fromisoformat(stamp)
        )


def test_longest_funnel_window_on_events_at_the_calendar_ends(api, calendar_ends):
    body = {"steps": ["A", "B"], "window_seconds": 100 * 366 * 86400, **WIDEST}

    response = api.post("/api/funnels", body, content_type="application/json")

    assert response.status_code == 200, response.content
    # years 1 and 9999 are outside every range (the analyses' calendar is 1970-2299); the
    # window's overflow at the calendar ends is tested on the engines without a range
    assert response.json()["counts"] == [0, 0]


@pytest.mark.parametrize("route", ["A", "B"])
def test_longest_path_window_on_events_at_the_calendar_ends(api, calendar_ends, route):
    params = {"start": "A", "end": "B", "within_days": "36500", **WIDEST}
    only_end = {"end": route, "within_days": "36500", **WIDEST}

    between = api.get("/api/paths", params)
    ending = api.get("/api/paths", only_end)

    assert between.status_code == 200, between.content
    assert between.json()["completed"] == 0  # outside every range, as for the funnel
    assert ending.status_code == 200, ending.content


def test_cohorts_with_events_at_the_calendar_ends(api, calendar_ends):
    response = api.get(
        "/api/metrics/retention", {"from": "1900-01-01", "to": "2200-12-31", "by": "week"}
    )

    assert response.status_code == 200, response.content


@pytest.mark.parametrize("body", ["[null, null]", "5", '"name"'])
def test_a_body_that_is_not_an_object_is_422(api, data, body):
    url = f"/api/segments/{data['segment']}"

    response = api.patch(url, body, content_type="application/json")

    assert response.status_code == 422, response.content
    assert response.json()["detail"].startswith("body: Value error, expected a JSON object")


def test_a_nested_part_that_is_not_an_object_is_422_naming_it(api, data):
    body = {"steps": ["A", 5]}

    response = api.post("/api/funnels", body, content_type="application/json")

    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == "steps[1]"


@pytest.mark.parametrize("text", ["a\x00b", "\x00"])
def test_nul_in_a_query_parameter_is_422_naming_it(api, data, text):
    """PostgreSQL refuses NUL in text: it must never reach a query."""
    response = api.get("/api/metrics/summary", {"workspace": text})

    assert response.status_code == 422, response.content
    assert response.json()["detail"].startswith("workspace: text may not contain NUL")


def test_nul_or_half_a_surrogate_pair_in_a_body_is_422_naming_where(api, data):
    url = f"/api/segments/{data['segment']}"
    nul = '{"name": "ok", "definition": {"all": [{"event": "a\\u0000"}]}}'
    half = '{"name": "\\ud800"}'

    with_nul = api.patch(url, nul, content_type="application/json")
    with_half = api.patch(url, half, content_type="application/json")

    assert with_nul.status_code == 422, with_nul.content
    assert "definition.all[0].event: text may not contain NUL" in with_nul.json()["detail"]
    assert with_half.status_code == 422, with_half.content
    assert "name: text may not contain" in with_half.json()["detail"]


def test_public_token_with_nul_is_422(client, data):
    body = {"response_key": "k" * 32, "answers": {}}

    response = client.post(
        "/api/public/surveys/t%00t/responses", body, content_type="application/json"
    )

    assert response.status_code == 422, response.content
    assert response.json()["detail"].startswith("token: ")
