"""What real tracking libraries send, accepted end to end.

(a) Requests captured from unmodified Segment and RudderStack clients (../shared/data) are replayed
    through Django's test client with their own headers and write keys.
(b) The real Python client libraries, unmodified, are pointed at a live server.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import gzip
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from django.db import connection
from rudderstack.analytics import request as rudder_request
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics import request as segment_request
from segment.analytics.client import Client as SegmentClient
from segment.analytics.request import APIError

from conftest import SHARED_DATA
from cxloop.core import services as core_services
from cxloop.customers import services as customer_services
from cxloop.customers.models import Customer, Identity
from cxloop.events.models import Event
from cxloop.events.segment import parse_time

CAPTURES = SHARED_DATA / "tracking-clients"
CAPTURE_FILES = sorted(CAPTURES.glob("*.jsonl")) if CAPTURES.is_dir() else []

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _need_captures() -> None:
    if not CAPTURE_FILES:
        pytest.skip(
            f"captured tracking-client requests not found in {CAPTURES}; "
            "check out the shared data beside the repository (../shared/data/tracking-clients)"
        )


def _captured(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _header(headers: dict, name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def _key_of(request: dict) -> str:
    encoded = _header(request["headers"], "Authorization").partition(" ")[2]
    return base64.b64decode(encoded).decode().partition(":")[0]


def _register_keys(workspace, sent_requests: list[dict]) -> set[str]:
    keys = {_key_of(r) for r in sent_requests}
    for key in sorted(keys):
        core_services.write_key_create(workspace=workspace, label="captured", key=key)
    return keys


def _replay(client, request: dict):
    """Send a captured request again: same path, Content-Type, Authorization and encoding."""
    headers = request["headers"]
    raw = json.dumps(request["body"]).encode()
    sent = {"Authorization": _header(headers, "Authorization")}
    if "gzip" in (_header(headers, "Content-Encoding") or "").lower():
        raw = gzip.compress(raw)
        sent["Content-Encoding"] = _header(headers, "Content-Encoding")
    return client.generic(
        request["method"],
        request["path"],
        raw,
        content_type=_header(headers, "Content-Type"),
        headers=sent,
    )


def _all_captured() -> list[dict]:
    return [r for path in CAPTURE_FILES for r in _captured(path)]


def _live(workspace):
    return Customer.objects.filter(workspace=workspace, merged_into__isnull=True)


def _owner(workspace, kind: str, value: str) -> Customer:
    return Identity.objects.get(workspace=workspace, kind=kind, value=value).customer


# --- (a) captured requests -------------------------------------------------------------------


@pytest.mark.parametrize("name", [p.name for p in CAPTURE_FILES] or ["(no captures)"])
def test_every_captured_request_is_accepted_whole(client, workspace, name):
    # given the requests one client library sent, and its write keys in our workspace
    _need_captures()
    sent_requests = _captured(CAPTURES / name)
    _register_keys(workspace, sent_requests)

    for request in sent_requests:
        # when each is replayed as sent
        response = _replay(client, request)

        # then every message in it is accepted
        assert response.status_code == 200, response.content
        assert response.json() == {
            "success": True,
            "accepted": len(request["body"]["batch"]),
            "duplicates": 0,
        }
    stored = set(Event.objects.filter(workspace=workspace).values_list("message_id", flat=True))
    assert stored == {m["messageId"] for r in sent_requests for m in r["body"]["batch"]}


def test_captured_requests_from_all_clients_resolve_to_the_right_profiles(client, workspace):
    # given every captured request from four client libraries, replayed into one workspace
    _need_captures()
    sent_requests = _all_captured()
    _register_keys(workspace, sent_requests)
    for request in sent_requests:
        assert _replay(client, request).status_code == 200

    messages = [m for r in sent_requests for m in r["body"]["batch"]]
    assert Event.objects.filter(workspace=workspace).count() == len(messages)

    # then user-42 is one profile: email from the identifies, and every one of their events
    jane = _owner(workspace, "user_id", "user-42")
    assert _owner(workspace, "email", "jane@example.com") == jane
    assert jane.traits["email"] == "jane@example.com"
    assert jane.traits["plan"] == "pro"
    assert jane.traits["name"] == "Jane Doe"
    assert jane.display_name == "Jane Doe"
    theirs = [m["messageId"] for m in messages if m.get("userId") == "user-42"]
    assert len(theirs) >= 12
    assert set(Event.objects.filter(message_id__in=theirs).values_list("customer", flat=True)) == {
        jane.pk
    }
    # and the alias calls tied both anonymous ids to her
    assert _owner(workspace, "anonymous_id", "anon-123") == jane
    assert _owner(workspace, "anonymous_id", "anon-1") == jane
    # and the async batch's five users are five other profiles
    others = {_owner(workspace, "user_id", f"u{i}").pk for i in range(5)}
    assert len(others) == 5
    assert jane.pk not in others
    assert _owner(workspace, "user_id", "u1").traits == {"name": "x"}
    assert _live(workspace).count() == 6


def test_captured_requests_keep_types_channels_and_times(client, workspace):
    _need_captures()
    sent_requests = _all_captured()
    _register_keys(workspace, sent_requests)
    for request in sent_requests:
        _replay(client, request)
    by_id = {e.message_id: e for e in Event.objects.filter(workspace=workspace)}

    for request in sent_requests:
        for message in request["body"]["batch"]:
            event = by_id[message["messageId"]]
            assert event.type == message["type"]
            # page/screen by their type; server-side track/identify carry no channel ("server")
            expected = {"page": "web", "screen": "app"}.get(message["type"], "other")
            assert event.channel == expected, message
            if "timestamp" in message:
                assert event.occurred_at == _iso(message["timestamp"])
            else:
                # RudderStack Node: originalTimestamp corrected by the message's own sentAt
                skew = _iso(message["sentAt"]) - _iso(message["originalTimestamp"])
                assert event.occurred_at == event.received_at - skew


def test_replaying_the_captures_again_only_finds_duplicates(client, workspace):
    _need_captures()
    sent_requests = _all_captured()
    _register_keys(workspace, sent_requests)
    for request in sent_requests:
        _replay(client, request)
    stored = Event.objects.count()

    for request in sent_requests:
        response = _replay(client, request)

        assert response.json() == {
            "success": True,
            "accepted": 0,
            "duplicates": len(request["body"]["batch"]),
        }
    assert Event.objects.count() == stored


def test_captured_requests_with_an_unknown_key_store_nothing(client, workspace):
    _need_captures()

    statuses = {_replay(client, request).status_code for request in _all_captured()}

    assert statuses == {401}
    assert not Event.objects.exists()


def _iso(text: str) -> datetime:
    return parse_time(text, "test")


# --- (b) real client libraries against a live server -------------------------------------------


@pytest.fixture
def server(transactional_db, live_server) -> str:
    """URL of a live server; the clients' kept-alive HTTP connections are closed afterwards."""
    already = set(threading.enumerate())  # e.g. an earlier browser test's idle connections
    yield live_server.url
    _close_client_connections(already)


@pytest.fixture
def errors():
    """What the clients report through on_error: (HTTP status, text, message types)."""
    reported: list = []
    yield reported
    reported.clear()


def _close_client_connections(already: set[threading.Thread]) -> None:
    # Both libraries keep one module-wide requests session. A kept-alive connection pins a
    # live-server request thread, and with it a database connection that would block dropping
    # the test database on PostgreSQL. A response kept alive by a raised error holds its
    # connection outside the pool, so collect those first, close the pools, let the threads end.
    gc.collect()
    segment_request._session.close()
    rudder_request._session.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        "process_request_thread" in thread.name and thread not in already
        for thread in threading.enumerate()
    ):
        time.sleep(0.01)


def _collect(errors: list):
    """An on_error callback noting (HTTP status, error text, message types) of each failure."""

    def on_error(error, batch):
        errors.append((getattr(error, "status", None), str(error), [m.get("type") for m in batch]))

    return on_error


def _send_journey(client, user: str, anon: str) -> None:
    """An anonymous visit, sign-up, purchase by phone, pages, an account, and the alias."""
    client.track(anonymous_id=anon, event="Product Viewed", properties={"sku": "A-1"})
    client.identify(user, {"email": f"{user}@example.com", "name": f"Name {user}", "plan": "pro"})
    client.track(user, "Order Completed", {"revenue": 42.5, "channel": "phone"})
    client.page(user, "Docs", "Getting Started", {"url": "https://example.com/docs"})
    client.screen(user, "Mobile", "Home")
    client.group(user, "acct-7", {"name": "Acme", "email": "billing@acme.example"})
    client.alias(anon, user)


def _assert_journey(workspace, user: str, anon: str) -> None:
    events = Event.objects.filter(workspace=workspace)
    assert events.count() == 7
    customer = _owner(workspace, "user_id", user)
    assert _live(workspace).count() == 1
    assert set(events.values_list("customer", flat=True)) == {customer.pk}
    assert _owner(workspace, "anonymous_id", anon) == customer
    assert _owner(workspace, "email", f"{user}@example.com") == customer
    assert customer.traits == {
        "email": f"{user}@example.com",
        "name": f"Name {user}",
        "plan": "pro",
    }
    assert customer.display_name == f"Name {user}"
    assert sorted(events.values_list("type", "name", "channel")) == [
        ("alias", "", "other"),
        ("group", "acct-7", "other"),
        ("identify", "", "other"),
        ("page", "Getting Started", "web"),
        ("screen", "Home", "app"),
        ("track", "Order Completed", "phone"),
        ("track", "Product Viewed", "other"),
    ]
    # the group's company email identifies nobody
    assert not Identity.objects.filter(value="billing@acme.example").exists()


@pytest.mark.live
def test_segment_python_sync_mode_journey(server, workspace, write_key, errors):
    # given the real Segment client, sending each call synchronously to our server
    segment = SegmentClient(
        write_key, host=server, sync_mode=True, on_error=_collect(errors), max_retries=0
    )

    # when a whole customer journey is sent
    _send_journey(segment, "seg-sync-1", "anon-seg-sync")

    # then nothing failed and one profile holds it all
    assert errors == []
    _assert_journey(workspace, "seg-sync-1", "anon-seg-sync")


@pytest.mark.live
def test_segment_python_async_mode_batches_and_flushes(server, workspace, write_key, errors):
    # given the real Segment client in its default (background, batching) mode
    segment = SegmentClient(write_key, host=server, on_error=_collect(errors), max_retries=0)

    # when a journey is queued and flushed
    _send_journey(segment, "seg-async-1", "anon-seg-async")
    segment.flush()
    segment.join()

    # then it arrived whole
    assert errors == []
    _assert_journey(workspace, "seg-async-1", "anon-seg-async")


@pytest.mark.live
def test_segment_python_gzip_mode(server, workspace, write_key, errors):
    segment = SegmentClient(
        write_key, host=server, sync_mode=True, gzip=True, on_error=_collect(errors)
    )

    segment.identify("seg-gz", {"email": "gz@example.com"})
    segment.track("seg-gz", "Signed Up")

    assert errors == []
    assert Event.objects.filter(workspace=workspace, user_id="seg-gz").count() == 2


@pytest.mark.live
def test_segment_python_reports_a_bad_write_key(server, workspace):
    # the failure signal the other tests rely on: a refused batch raises in sync mode
    segment = SegmentClient("no-such-key", host=server, sync_mode=True, max_retries=0)

    with pytest.raises(APIError) as caught:
        segment.track("u", "E")

    assert caught.value.status == 401
    assert not Event.objects.exists()


@pytest.mark.live
def test_segment_python_async_reports_a_bad_write_key_through_on_error(
    server, workspace, errors, monkeypatch
):
    # the consumer logs the error object (which holds the response and its kept-alive
    # connection); keep that record out of pytest's log capture so the connection can close
    monkeypatch.setattr(logging.getLogger("segment"), "propagate", False)
    segment = SegmentClient("no-such-key", host=server, on_error=_collect(errors), max_retries=0)

    segment.track("u", "E")
    segment.flush()
    segment.join()

    assert [(status, types) for status, _, types in errors] == [(401, ["track"])]
    assert "invalid write key" in errors[0][1]
    assert not Event.objects.exists()


@pytest.mark.live
def test_rudderstack_python_sync_mode_journey(server, workspace, write_key, errors):
    # given the real RudderStack client (gzips its bodies, puts identify traits in context.traits)
    rudder = RudderClient(
        write_key, host=server, sync_mode=True, on_error=_collect(errors), max_retries=0
    )
    assert rudder.gzip is True

    # when a whole journey is sent
    _send_journey(rudder, "rud-sync-1", "anon-rud-sync")

    # then one profile holds it all, traits included
    assert errors == []
    _assert_journey(workspace, "rud-sync-1", "anon-rud-sync")
    identify = Event.objects.get(workspace=workspace, type="identify")
    assert identify.context["traits"]["email"] == "rud-sync-1@example.com"


@pytest.mark.live
def test_rudderstack_python_async_mode_batches_and_flushes(server, workspace, write_key, errors):
    rudder = RudderClient(write_key, host=server, on_error=_collect(errors), max_retries=0)

    _send_journey(rudder, "rud-async-1", "anon-rud-async")
    rudder.flush()
    rudder.join()

    assert errors == []
    _assert_journey(workspace, "rud-async-1", "anon-rud-async")


@pytest.mark.live
def test_rudderstack_python_module_api_with_data_plane_url(server, workspace, write_key, errors):
    # given the module-level API configured the way RudderStack documents it
    import rudderstack.analytics as rudder_analytics

    saved = {
        name: getattr(rudder_analytics, name)
        for name in ("write_key", "dataPlaneUrl", "sync_mode", "on_error", "default_client")
    }
    try:
        rudder_analytics.write_key = write_key
        rudder_analytics.dataPlaneUrl = server
        rudder_analytics.sync_mode = True
        rudder_analytics.on_error = _collect(errors)
        rudder_analytics.default_client = None

        # when it is used
        rudder_analytics.identify("rud-mod", {"email": "mod@example.com"})
        rudder_analytics.track("rud-mod", "Ticket Closed", {"csat": 5})
    finally:
        for name, value in saved.items():
            setattr(rudder_analytics, name, value)

    # then both calls arrived on one profile
    assert errors == []
    customer = _owner(workspace, "email", "mod@example.com")
    assert customer.traits == {"email": "mod@example.com"}
    assert Event.objects.filter(customer=customer).count() == 2


@pytest.mark.live
def test_both_libraries_retry_safely_on_the_same_message_id(server, workspace, write_key, errors):
    # given the same message id sent by two libraries (a retry after a lost response)
    segment = SegmentClient(write_key, host=server, sync_mode=True)
    rudder = RudderClient(write_key, host=server, sync_mode=True)

    segment.track("u-r", "Order Completed", {"revenue": 1}, message_id="retry-1")
    rudder.track("u-r", "Order Completed", {"revenue": 1}, message_id="retry-1")

    # then it is stored once
    assert Event.objects.filter(message_id="retry-1").count() == 1


@pytest.mark.live
def test_timestamp_given_to_a_real_client_is_the_event_time(server, workspace, write_key):
    segment = SegmentClient(write_key, host=server, sync_mode=True)
    when = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)

    segment.track("u-t", "Old Event", timestamp=when)

    event = Event.objects.get(workspace=workspace)
    assert event.occurred_at == when
    assert event.received_at > when


@pytest.mark.live
def test_concurrent_first_batches_of_one_new_user_make_one_profile(
    server, workspace, write_key, monkeypatch
):
    # given two clients sending a brand-new user's first messages at the same moment, and
    # both requests held right after looking up existing identities, so that without
    # serialization both would find nothing and each create a profile
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: the in-memory SQLite test database shares one connection across "
            "live-server threads (and SQLite runs one writer at a time anyway)"
        )
    both_looked_up = threading.Barrier(2)
    look_up = customer_services.existing_identities

    def look_up_then_wait(*args, **kwargs):
        found = look_up(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_looked_up.wait(timeout=1)
        return found

    monkeypatch.setattr(customer_services, "existing_identities", look_up_then_wait)

    def send(n: int) -> int:
        message = {
            "type": "identify",
            "userId": "new-user",
            "messageId": f"first-{n}",
            "traits": {"email": "new@example.com"},
        }
        with requests.Session() as session:
            response = session.post(
                f"{server}/v1/batch", json={"batch": [message]}, auth=(write_key, "")
            )
        return response.status_code

    # when both are sent at once
    with ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(send, range(2)))

    # then both are stored on the one profile that owns the user id
    assert statuses == [200, 200]
    owner = _owner(workspace, "user_id", "new-user")
    assert set(Event.objects.filter(workspace=workspace).values_list("customer", flat=True)) == {
        owner.pk
    }
    assert _live(workspace).count() == 1


@pytest.mark.live
@pytest.mark.parametrize("library", [SegmentClient, RudderClient])
def test_a_nan_property_from_a_real_client_loses_only_that_value(
    server, workspace, write_key, errors, library
):
    # given the real client's batching mode, ten ordinary events and one with float('nan')
    # (both libraries encode it as the literal NaN, which is not JSON)
    tracker = library(write_key, host=server, on_error=_collect(errors), max_retries=0)
    for i in range(10):
        tracker.track(f"nan-{i}", "Order Completed", {"revenue": i})
    tracker.track("nan-odd", "Order Completed", {"revenue": float("nan"), "items": 2})
    tracker.page("nan-odd", "Docs", "Install")  # page(category, name): the category is kept

    # when the batch is flushed
    tracker.flush()
    tracker.join()

    # then no error, all 12 stored, and only the NaN became null
    assert errors == []
    events = Event.objects.filter(workspace=workspace)
    assert events.count() == 12
    odd = events.get(user_id="nan-odd", type="track")
    assert odd.properties == {"revenue": None, "items": 2}
    assert events.get(type="page").properties["category"] == "Docs"
