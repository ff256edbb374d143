"""Key drivers per journey touchpoint and stage: the texts of the responses tied to one
touchpoint (the journeys app's rule: event name, channel and the property conditions tested on
the event behind each response), or of the customers now at one stage, compared with the pure
estimate on the same texts picked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from cxloop.customers.models import Customer
from cxloop.events.models import Event
from cxloop.feedback.models import Invitation
from cxloop.journeys import selectors as journey_selectors
from cxloop.journeys import services as journey_services
from cxloop.journeys.models import CustomerStage, Touchpoint
from cxloop.text import keydrivers, selectors
from cxloop.text.models import TextAnalysis, TextTheme, Theme
from cxloop.text.selectors import TextFilters
from factories import customer_id, ingest, member_make, response_make, survey_make, track

AT = datetime(2025, 3, 10, 12, tzinfo=UTC)
PERIOD = TextFilters(date_from=date(2025, 1, 1), date_to=AT.date())
SHOP = {
    "name": "Shop",
    "stages": ["Discover", "Buy"],
    "touchpoints": [
        {"stage": "Discover", "name": "Site", "rules": [{"event": "Home"}]},
        {
            "stage": "Buy",
            "name": "Order",
            "rules": [
                {"event": "Order Completed", "channel": "web"},
                {"event": "Order Completed", "channel": "store"},
            ],
        },
    ],
}


@pytest.fixture
def world(workspace):
    """60 texts answered at "Order Completed" on web or store (Late drags NPS there), 60 at
    "Home" (Late does nothing), 20 at "Order Completed" in the app (not the touchpoint's
    channels); each by its own customer."""
    journey = journey_services.journey_create(workspace=workspace, definition=SHOP, recompute=False)
    survey = survey_make(workspace)
    late = Theme.objects.create(workspace=workspace, name="Late")
    price = Theme.objects.create(workspace=workspace, name="Price")
    rng = np.random.default_rng(5)
    order: list[tuple[int, set[int]]] = []
    customers: list[Customer] = []
    groups = [("Order Completed", "web", 30), ("Order Completed", "store", 30)]
    groups += [("Home", "web", 60), ("Order Completed", "app", 20)]
    rows = [(event, channel) for event, channel, n in groups for _ in range(n)]
    for i, (event, channel) in enumerate(rows):
        is_late, is_price = bool(rng.random() < 0.4), bool(rng.random() < 0.3)
        tied = event == "Order Completed" and channel != "app"
        score = int(rng.integers(6, 11)) - (5 if (is_late and tied) else 0)
        customer = Customer.objects.create(workspace=workspace)
        response = response_make(
            workspace, survey, AT - timedelta(hours=i), nps=score, touchpoint=event,
            channel=channel, customer=customer,
        )  # fmt: skip
        text = TextAnalysis.objects.create(
            workspace=workspace, response=response, customer=customer, source="survey",
            channel=channel, written_at=AT - timedelta(hours=i), nps_score=score, text="w",
            score=0.0, label="neutral", version="t",
        )  # fmt: skip
        carried = {t for t, on in ((late.pk, is_late), (price.pk, is_price)) if on}
        for theme in carried:
            TextTheme.objects.create(analysis=text, theme_id=theme, weight=1.0)
        if tied:
            order.append((score, carried))
            customers.append(customer)
    touchpoints = {t.name: t for t in journey.stages.get(name="Buy").touchpoints.all()}
    touchpoints.update({t.name: t for t in journey.stages.get(name="Discover").touchpoints.all()})
    return journey, touchpoints, order, customers, {late.pk: "Late", price.pk: "Price"}


def test_key_drivers_of_one_touchpoint_use_only_its_responses(workspace, world):
    _, touchpoints, order, _, names = world
    ids = journey_selectors.touchpoint_response_ids(
        workspace=workspace, touchpoint_id=touchpoints["Order"].pk
    ).response_ids
    # when
    found = selectors.key_drivers(
        workspace=workspace, metric="nps", filters=PERIOD, response_ids=ids
    )
    # then: the 60 web and store order texts, and the estimate on exactly those
    expected = keydrivers.estimate(
        metric="nps", scores=[s for s, _ in order], themes=[t for _, t in order], names=names
    )
    assert found.n == 60
    assert [(d.name, d.effect) for d in found.drivers] == [
        (d.name, pytest.approx(d.effect)) for d in expected.drivers
    ]
    late = next(d for d in found.drivers if d.name == "Late")
    assert late.effect < -100 * 0.5 and late.significant
    # the site's touchpoint: Late makes no difference there
    site = journey_selectors.touchpoint_response_ids(
        workspace=workspace, touchpoint_id=touchpoints["Site"].pk
    ).response_ids
    at_site = selectors.key_drivers(
        workspace=workspace, metric="nps", filters=PERIOD, response_ids=site
    )
    assert at_site.n == 60
    assert not next(d for d in at_site.drivers if d.name == "Late").significant


def test_key_drivers_of_customers_now_at_a_stage(workspace, world):
    journey, _, order, customers, names = world
    buy = journey.stages.get(name="Buy")
    for customer in customers[:40]:
        CustomerStage.objects.create(
            workspace=workspace, journey=journey, stage=buy, customer=customer, reached_at=AT
        )
    members = journey_selectors.stage_member_ids(workspace=workspace, stage_id=buy.pk)
    found = selectors.key_drivers(
        workspace=workspace, metric="nps", filters=PERIOD, customer_ids=members.customer_ids
    )
    expected = keydrivers.estimate(
        metric="nps",
        scores=[s for s, _ in order[:40]],
        themes=[t for _, t in order[:40]],
        names=names,
    )
    assert found.n == 40
    assert [d.effect for d in found.drivers] == pytest.approx([d.effect for d in expected.drivers])


def test_page_and_api_filter_by_touchpoint(client, workspace, world):
    _, touchpoints, _, _, _ = world
    client.force_login(member_make(workspace=workspace, username="an", role="analyst"))
    query = {"metric": "nps", "date_from": "2025-01-01", "date_to": "2025-03-10"}
    point = touchpoints["Order"].pk
    answer = client.get("/api/text/key-drivers", {**query, "touchpoint": point})
    assert answer.status_code == 200, answer.content
    assert answer.json()["n"] == 60 and answer.json()["touchpoint_id"] == point
    assert client.get("/api/text/key-drivers", {**query, "touchpoint": 999999}).status_code == 404
    assert client.get("/api/text/key-drivers", {**query, "stage": 999999}).status_code == 404
    assert client.get("/api/text/key-drivers", {**query, "touchpoint": "x"}).status_code == 422
    page = client.get("/text/drivers/", {**query, "touchpoint": point})
    html = page.content.decode()
    assert page.status_code == 200
    assert "from 60 texts with an NPS answer" in html
    assert "at the touchpoint Order (Shop · Buy)" in html
    assert f'<option value="{point}" selected>Order</option>' in html
    missing = client.get("/text/drivers/", {**query, "touchpoint": 999999})
    assert missing.status_code == 422
    assert "touchpoint: no touchpoint 999999" in missing.content.decode()


def test_the_journey_map_shows_each_touchpoints_top_negative_theme(client, workspace, world):
    journey, touchpoints, _, _, _ = world
    # given: some of the order texts negative; Late on 3 of them, Price on 2 (one has both);
    # a negative Price text at the site, which is not the order touchpoint's
    late, price = Theme.objects.get(name="Late"), Theme.objects.get(name="Price")
    order_ids = journey_selectors.touchpoint_response_ids(
        workspace=workspace, touchpoint_id=touchpoints["Order"].pk
    ).response_ids
    texts = list(TextAnalysis.objects.filter(response_id__in=order_ids).order_by("pk")[:4])
    TextTheme.objects.filter(analysis__in=texts).delete()
    for text, themes in zip(texts, [(late,), (late, price), (late,), (price,)], strict=True):
        text.label = "negative"
        text.save()
        for theme in themes:
            TextTheme.objects.create(analysis=text, theme=theme, weight=1.0)
    site = TextAnalysis.objects.filter(response__touchpoint="Home").first()
    site.label = "negative"
    site.save()
    TextTheme.objects.get_or_create(analysis=site, theme=price, defaults={"weight": 1.0})
    # when / then: by hand, Late 3 at the order touchpoint; at the site, Price alone
    assert selectors.top_negative_theme(workspace=workspace, response_ids=order_ids) == (late, 3)
    client.force_login(member_make(workspace=workspace, username="an", role="analyst"))
    # the answers were given in early 2025 (the map's range; no events, so as of now)
    html = client.get(f"/journeys/{journey.pk}/", {"date_from": "2025-01-01"}).content.decode()
    assert "Top negative theme: <a" in html and ">Late</a> (3 texts)" in html
    assert ">Price</a> (1 text)" in html
    # a viewer reads the map but not customers' words
    client.force_login(member_make(workspace=workspace, username="vi", role="viewer"))
    page = client.get(f"/journeys/{journey.pk}/")
    assert page.status_code == 200 and "Top negative theme" not in page.content.decode()


DELIVERIES = {
    "name": "Deliveries",
    "stages": ["After the order"],
    "touchpoints": [
        {"stage": "After the order", "name": "Delivery", "rules": [{"event": "Order Delivered"}]},
        {
            "stage": "After the order",
            "name": "Late delivery",
            "rules": [
                {
                    "event": "Order Delivered",
                    "conditions": [{"property": "late", "op": "eq", "value": True}],
                }
            ],
        },
    ],
}


def test_a_touchpoints_conditions_pick_its_responses_and_its_top_negative_theme(client, workspace):
    # given: two touchpoints on "Order Delivered", one only where late = true. Each customer's
    # deliveries (day, late, channel), then one answer about "Order Delivered" on day 6
    t0 = AT - timedelta(days=30)
    deliveries = {
        "ann": [(0, True, "web")],
        "bob": [(0, False, "web")],
        "cat": [(0, False, "web")],
        "dan": [(0, True, "web"), (5, False, "web")],  # the latest before the answer: on time
        "eve": [(0, True, "web"), (2, False, "web")],  # invited about the late one (below)
        "hal": [(7, True, "web")],  # delivered late, but after answering
        "ivy": [(1, False, "app"), (3, True, "web")],  # answered about the app's, on time
    }
    messages = [
        track(who, "Order Delivered", t0 + timedelta(days=day), channel=channel, late=late,
              message_id=f"{who}-{day}")
        for who, days in deliveries.items()
        for day, late, channel in days
    ]  # fmt: skip
    ingest(workspace, messages)
    journey = journey_services.journey_create(workspace=workspace, definition=DELIVERIES)
    survey = survey_make(workspace)
    late, price = (Theme.objects.create(workspace=workspace, name=n) for n in ("Late", "Price"))
    late_event = Event.objects.get(workspace=workspace, message_id="eve-0")
    invitation = Invitation.objects.create(
        workspace=workspace, survey=survey, customer_id=late_event.customer_id, token="inv-eve",
        event_id=late_event.pk, touchpoint="Order Delivered", due_at=t0 + timedelta(days=3),
    )  # fmt: skip
    # (who, NPS, negative theme or None, touchpoint named, channel); fay answered anonymously,
    # gus named the touchpoint itself
    answers = [
        ("ann", 2, late, "Order Delivered", "web"),
        ("bob", 5, price, "Order Delivered", "web"),
        ("cat", 6, price, "Order Delivered", "web"),
        ("dan", 4, price, "Order Delivered", "web"),
        ("eve", 1, late, "Order Delivered", "web"),
        ("fay", 3, price, "Order Delivered", "web"),
        ("gus", 10, None, "Late delivery", ""),
        ("hal", 9, None, "Order Delivered", "web"),
        ("ivy", 8, None, "Order Delivered", "app"),
    ]
    ids = {}
    for who, nps, theme, touchpoint, channel in answers:
        customer = (
            Customer.objects.get(pk=customer_id(workspace, who)) if who in deliveries else None
        )
        response = response_make(
            workspace, survey, t0 + timedelta(days=6), nps=nps, touchpoint=touchpoint,
            channel=channel, customer=customer,
            invitation=invitation if who == "eve" else None,
        )  # fmt: skip
        ids[who] = response.pk
        text = TextAnalysis.objects.create(
            workspace=workspace, response=response, customer=customer, source="survey",
            channel=channel, written_at=response.submitted_at, nps_score=nps, text="w",
            score=-0.5 if theme else 0.5, label="negative" if theme else "positive", version="t",
        )  # fmt: skip
        if theme is not None:
            TextTheme.objects.create(analysis=text, theme=theme, weight=1.0)
    points = {t.name: t.pk for t in Touchpoint.objects.filter(stage__journey=journey)}

    def responses_at(name: str) -> set[int]:
        found = journey_selectors.touchpoint_response_ids(
            workspace=workspace, touchpoint_id=points[name]
        )
        return set(found.response_ids)

    # when / then: every answer about a delivery is at "Delivery" (not gus's, who named the
    # other touchpoint); at "Late delivery" only those whose delivery was late, and gus
    everyone = {who for who, *_ in answers} - {"gus"}
    assert responses_at("Delivery") == {ids[who] for who in everyone}
    assert responses_at("Late delivery") == {ids["ann"], ids["eve"], ids["gus"]}
    # the top negative theme, by hand: Price on 4 of the 6 negative texts at "Delivery"; Late on
    # both negative texts at "Late delivery"
    top = {
        name: selectors.top_negative_theme(
            workspace=workspace,
            response_ids=journey_selectors.touchpoint_response_ids(
                workspace=workspace, touchpoint_id=pk
            ).response_ids,
        )
        for name, pk in points.items()
    }
    assert top == {"Delivery": (price, 4), "Late delivery": (late, 2)}
    # the map's NPS per touchpoint: Delivery 1 promoter, 6 detractors of 8; Late delivery
    # 1 (gus) and 2 of 3
    feedback = journey_selectors.touchpoint_feedback(journey=journey)
    assert feedback == {
        points["Delivery"]: {"responses": 8, "csat": None, "nps": pytest.approx(-62.5)},
        points["Late delivery"]: {"responses": 3, "csat": None, "nps": pytest.approx(-100 / 3)},
    }
    # and the map's page, which shows both
    client.force_login(member_make(workspace=workspace, username="an", role="analyst"))
    html = client.get(f"/journeys/{journey.pk}/", {"date_from": "2025-01-01"}).content.decode()
    assert ">Price</a> (4 texts)" in html and ">Late</a> (2 texts)" in html
