"""The customer 360 page: trait names as words, event properties as one readable line, survey
answers in the timeline, and the feedback card first."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from cxloop.web.readable import properties_line, trait_label
from factories import customer_id, ingest, response_make, survey_make

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def client(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("loyalty_tier", "Loyalty tier"),
        ("preferred_store", "Preferred store"),
        ("signupDate", "Signup date"),
        ("crm_id", "CRM ID"),
        ("city", "City"),
    ],
)
def test_trait_labels(key, label):
    assert trait_label(key) == label


@pytest.mark.parametrize(
    ("properties", "line"),
    [
        (
            {"products": [{"product_id": "p1"}, {"product_id": "p2"}, {"product_id": "p3"}],
             "total": 59.9, "coupon": "SPRING", "channel": "web"},
            "3 products · total 59.90 · coupon SPRING",
        ),
        ({"products": [{"product_id": "p1"}]}, "1 product"),
        ({"late": True, "gift": False, "note": "", "revenue": 42}, "revenue 42 · not gift · late"),
        ({"coupon": "SPRING", "total": 59.9, "products": []}, "total 59.90 · coupon SPRING"),
        ({"address": {"city": "Leeds", "lines": ["a"]}}, "address: city Leeds"),
        ({"order_id": "A-1", "url": "x" * 50}, "order ID A-1 · URL " + "x" * 39 + "…"),
        ({f"k{n}": n for n in range(8)}, "k0 0 · k1 1 · k2 2 · k3 3 · k4 4 · k5 5 · +2 more"),
        ("not a dict", ""),
    ],
)  # fmt: skip
def test_properties_line(properties, line):
    assert properties_line(properties) == line


@pytest.fixture
def shopper(workspace) -> int:
    """Sam: an order with three products, then an NPS answer between two page views."""
    ingest(
        workspace,
        [
            {"type": "identify", "userId": "sam", "timestamp": (NOW - timedelta(days=9)).isoformat(),
             "traits": {"name": "Sam Shopper", "loyalty_tier": "gold", "preferred_store": "Leeds Briggate"}},
            {"type": "track", "userId": "sam", "event": "Order Completed",
             "timestamp": (NOW - timedelta(days=8)).isoformat(),
             "properties": {"channel": "web", "products": [{"product_id": "p1"}, {"product_id": "p2"},
                            {"product_id": "p3"}], "total": 59.9, "coupon": "SPRING"}},
            {"type": "page", "userId": "sam", "name": "Returns policy",
             "timestamp": (NOW - timedelta(days=2)).isoformat(), "properties": {"channel": "web"}},
        ],
    )  # fmt: skip
    sam = customer_id(workspace, "sam")
    survey = survey_make(workspace, name="Relationship NPS")
    response_make(
        workspace, survey, NOW - timedelta(days=5), customer_id=sam, nps=3,
        comment="Delivery was late", channel="email",
    )  # fmt: skip
    return sam


def test_360_reads_like_words(client, shopper):
    html = client.get(f"/customers/{shopper}/").content.decode()

    assert '<dt title="loyalty_tier">Loyalty tier</dt><dd>gold</dd>' in html
    assert '<dt title="preferred_store">Preferred store</dt><dd>Leeds Briggate</dd>' in html
    assert '<p class="props-line">3 products · total 59.90 · coupon SPRING</p>' in html
    assert (
        '[{"product_id"' not in html.split("<details")[0]
    )  # raw JSON only behind "All properties"
    # the feedback card comes first in the side column
    cards = re.findall(r'<section class="card[^"]*" id="(\w[\w-]*)"', html)
    assert cards[0] == "feedback"


def test_timeline_includes_survey_answers_in_time_order(client, shopper):
    response = client.get(f"/customers/{shopper}/")

    entries = response.context["entries"]
    assert [(e["kind"], e["title"]) for e in entries] == [
        ("event", "Returns policy"),
        ("answer", "Answered Relationship NPS"),
        ("event", "Order Completed"),
        ("event", "Profile updated"),
    ]
    assert entries[1]["line"] == "NPS 3 · “Delivery was late”"
    assert entries[1]["channel"] == "email"

    # a channel filter keeps answers given on that channel; a type or event filter drops them
    email = client.get(f"/customers/{shopper}/timeline/", {"channel": "email"})
    assert [e["kind"] for e in email.context["entries"]] == ["answer"]
    web = client.get(f"/customers/{shopper}/timeline/", {"channel": "web"})
    assert "answer" not in [e["kind"] for e in web.context["entries"]]
    tracks = client.get(f"/customers/{shopper}/timeline/", {"type": "track"})
    assert [e["title"] for e in tracks.context["entries"]] == ["Order Completed"]


def test_answers_fall_on_the_page_of_their_time(client, workspace):
    start = NOW - timedelta(days=100)
    messages = [
        {"type": "track", "userId": "pat", "event": f"Visit {n:02d}", "messageId": f"v{n}",
         "timestamp": (start + timedelta(days=n)).isoformat()}
        for n in range(60)
    ]  # fmt: skip
    ingest(workspace, messages)
    pat = customer_id(workspace, "pat")
    survey = survey_make(workspace, name="Relationship NPS")
    # page 1 holds visits 59..10, page 2 visits 09..00
    response_make(workspace, survey, start + timedelta(days=30, hours=1), customer_id=pat, nps=8)
    response_make(workspace, survey, start + timedelta(days=9, hours=12), customer_id=pat, nps=2)
    response_make(workspace, survey, start - timedelta(days=3), customer_id=pat, nps=5)

    first = client.get(f"/customers/{pat}/").context["entries"]
    second = client.get(f"/customers/{pat}/", {"page": 2}).context["entries"]

    titles = [e["title"] for e in first]
    assert titles.index("Answered Relationship NPS") == titles.index("Visit 30") - 1
    assert [e["line"] for e in first if e["kind"] == "answer"] == ["NPS 8"]
    assert [e["line"] for e in second if e["kind"] == "answer"] == ["NPS 2", "NPS 5"]
    assert [e["title"] for e in second][:2] == ["Answered Relationship NPS", "Visit 09"]
