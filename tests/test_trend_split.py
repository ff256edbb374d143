"""Trends broken down by customer: a trait, saved segments, the current journey stage
(``segments.trendsplit``), on every engine, with counts worked out by hand from the history
below; the API, the page and the CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cxloop.journeys import services as journey_services
from cxloop.journeys.definitions import RuleSpec
from cxloop.metrics import trends
from cxloop.segments import services as segment_services
from cxloop.segments.trendsplit import trend_split_report
from factories import customer_id, identify, ingest, track

engines = pytest.mark.usefixtures("each_engine")

CHECKOUT, ORDER = RuleSpec("Checkout Started"), RuleSpec("Order Completed")
NOW = datetime(2025, 3, 20, tzinfo=UTC)
PERIODS = ["2025-02-24", "2025-03-03", "2025-03-10"]  # ISO weeks holding 1–14 March


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def history(workspace):
    """Weeks of 3 and 10 March. u1 (tier gold) checks out on the 3rd and 4th and orders on the
    3rd; u2 (gold) checks out twice on the 3rd; u3 (silver) checks out and orders on the 10th;
    u4 (bronze) orders on the 11th and 12th; u5 (no tier) checks out on the 5th, orders on the
    7th."""
    ingest(
        workspace,
        [
            identify("u1", {"tier": "gold"}, at(1)),
            identify("u2", {"tier": "gold"}, at(1)),
            identify("u3", {"tier": "silver"}, at(1)),
            identify("u4", {"tier": "bronze"}, at(1)),
            track("u1", "Checkout Started", at(3, 10)),
            track("u1", "Order Completed", at(3, 10, 30)),
            track("u1", "Checkout Started", at(4, 9)),
            track("u2", "Checkout Started", at(3, 11)),
            track("u2", "Checkout Started", at(3, 11, 5)),
            track("u3", "Checkout Started", at(10, 8)),
            track("u3", "Order Completed", at(10, 9)),
            track("u4", "Order Completed", at(11)),
            track("u4", "Order Completed", at(12)),
            track("u5", "Checkout Started", at(5, 0)),
            track("u5", "Order Completed", at(7, 0)),
        ],
        received_at=at(20),
    )
    return workspace


def report(workspace, breakdown: str, top: int = 5, **options):
    return trend_split_report(
        workspace=workspace, series=[CHECKOUT, ORDER], unit="week", breakdown=breakdown, top=top,
        date_from=date(2025, 3, 1), date_to=date(2025, 3, 14), now=NOW, **options,
    )  # fmt: skip


def lines(found) -> list[tuple]:
    return [(line.group, line.key, line.events, line.customers) for line in found.lines]


def gold_segment(workspace):
    return segment_services.segment_create(
        workspace=workspace, name="Gold", definition={"all": [{"trait": "tier", "value": "gold"}]}
    )


@engines
def test_by_trait_keeps_the_top_values_and_counts_customers_once_in_other(history):
    found = report(history, "trait:tier", top=2, formulas=["B / A"])

    # events: gold 5 (u1 3, u2 2), none 2 (u5), silver 2 (u3), bronze 2 (u4): ties by value
    assert lines(found) == [
        ("gold", "A", [0, 4, 0], [0, 2, 0]),
        ("gold", "B", [0, 1, 0], [0, 1, 0]),
        ("", "A", [0, 1, 0], [0, 1, 0]),
        ("", "B", [0, 1, 0], [0, 1, 0]),
        (None, "A", [0, 0, 1], [0, 0, 1]),  # other: u3
        (None, "B", [0, 0, 3], [0, 0, 2]),  # other: u3 once, u4 twice (one customer)
    ]
    assert [(f.group, f.values) for f in found.formulas] == [
        ("gold", [None, 0.25, None]),
        ("", [None, 1.0, None]),
        (None, [None, None, 3.0]),
    ]


@engines
def test_by_unknown_trait_puts_everyone_in_none(history):
    found = report(history, "trait:colour")

    assert lines(found) == [
        ("", "A", [0, 5, 1], [0, 3, 1]),
        ("", "B", [0, 2, 3], [0, 2, 2]),
    ]


@engines
def test_by_segment_members_against_the_rest(history):
    gold = gold_segment(history)

    found = report(history, f"segment:{gold.pk}", top=1, formulas=["B / A"])

    # the rest (u3, u4, u5) has 6 events, Gold (u1, u2) 5; both kept whatever the top
    assert lines(found) == [
        ("not in Gold", "A", [0, 1, 1], [0, 1, 1]),
        ("not in Gold", "B", [0, 1, 3], [0, 1, 2]),
        ("Gold", "A", [0, 4, 0], [0, 2, 0]),
        ("Gold", "B", [0, 1, 0], [0, 1, 0]),
    ]
    assert [(f.group, f.values) for f in found.formulas] == [
        ("not in Gold", [None, 1.0, 3.0]),
        ("Gold", [None, 0.25, None]),
    ]


@engines
def test_by_several_segments_counts_a_customer_in_each_of_theirs(history):
    gold = gold_segment(history)
    metal = segment_services.segment_create(
        workspace=history, name="Gold or silver",
        definition={"any": [{"trait": "tier", "value": "gold"}, {"trait": "tier", "value": "silver"}]},
    )  # fmt: skip

    found = report(history, f"segments:{gold.pk},{metal.pk}", top=1, measure="customers")

    # events: Gold or silver 7 (u1, u2, u3), Gold 5 (u1, u2), in neither 4 (u4, u5)
    assert lines(found) == [
        ("Gold or silver", "A", [0, 4, 1], [0, 2, 1]),
        ("Gold or silver", "B", [0, 1, 1], [0, 1, 1]),
        ("Gold", "A", [0, 4, 0], [0, 2, 0]),
        ("Gold", "B", [0, 1, 0], [0, 1, 0]),
        ("", "A", [0, 1, 0], [0, 1, 0]),
        ("", "B", [0, 1, 2], [0, 1, 1]),
    ]


@engines
def test_by_current_journey_stage(history):
    journey = journey_services.journey_create(
        workspace=history,
        definition={
            "name": "Shop",
            "stages": ["Browse", "Buy"],
            "touchpoints": [
                {"stage": "Browse", "name": "Checkout", "rules": [{"event": "Checkout Started"}]},
                {"stage": "Buy", "name": "Order", "rules": [{"event": "Order Completed"}]},
            ],
        },
    )

    found = report(history, f"stage:{journey.pk}")

    # at Buy now: u1, u3, u4, u5 (9 events); at Browse: u2 (2)
    assert lines(found) == [
        ("Buy", "A", [0, 3, 1], [0, 2, 1]),
        ("Buy", "B", [0, 2, 3], [0, 2, 2]),
        ("Browse", "A", [0, 2, 0], [0, 1, 0]),
        ("Browse", "B", [0, 0, 0], [0, 0, 0]),
    ]


@pytest.mark.parametrize(
    ("breakdown", "says"),
    [("segment:99999", "breakdown: no segment 99999"),
     ("segments:1,x", "breakdown: segments takes ids"),
     ("stage:99999", "breakdown: no journey map 99999"),
     ("stage:", "breakdown: expected channel"),
     ("colour:red", "breakdown: expected channel")],
)  # fmt: skip
def test_bad_customer_breakdowns_name_the_field(history, breakdown, says):
    with pytest.raises(trends.TrendQueryError, match=says):
        report(history, breakdown)


def test_sessions_still_cannot_be_broken_down(history):
    with pytest.raises(trends.TrendQueryError, match="cannot be broken down"):
        trend_split_report(
            workspace=history, series=[RuleSpec(trends.SESSIONS)], breakdown="trait:tier", now=NOW
        )


# ---------------------------------------------------------------------------- API and page


def test_api_breaks_down_by_trait_and_refuses_unknown_ids(client, member, history):
    client.force_login(member)
    body = {"series": ["Checkout Started"], "by": "week", "date_from": "2025-03-01",
            "date_to": "2025-03-14", "breakdown": "trait:tier", "top": 1}  # fmt: skip

    response = client.post("/api/trends", body, content_type="application/json")
    missing = client.post(
        "/api/trends", {**body, "breakdown": "segment:99999"}, content_type="application/json"
    )
    no_map = client.post(
        "/api/trends", {**body, "breakdown": "stage:99999"}, content_type="application/json"
    )

    assert response.status_code == 200, response.content
    assert [(x["group"], x["events"], x["customers"]) for x in response.json()["lines"]] == [
        ("gold", [0, 4, 0], [0, 2, 0]),
        (None, [0, 1, 1], [0, 1, 1]),  # u5 ("") and u3 (silver) fall into other
    ]
    assert missing.status_code == 422 and "breakdown: no segment 99999" in missing.text
    assert no_map.status_code == 422 and "breakdown: no journey map 99999" in no_map.text


PAGE = "/trends/?event=Checkout+Started&event=Order+Completed&by=week&date_from=2025-03-01&date_to=2025-03-14"


def test_page_offers_customer_breakdowns_and_exports_the_groups(client, member, history):
    gold = gold_segment(history)
    client.force_login(member)

    page = client.get(PAGE)
    export = client.get(PAGE + f"&breakdown=segment&breakdown_segment={gold.pk}&format=csv")

    html = page.content.decode()
    assert page.status_code == 200
    assert '<option value="tier">tier</option>' in html
    assert f'<option value="{gold.pk}">Gold</option>' in html
    assert export.content.decode().splitlines() == [
        "period,A: Checkout Started · not in Gold,B: Order Completed · not in Gold,"
        "A: Checkout Started · Gold,B: Order Completed · Gold",
        "2025-02-24,0,0,0,0",
        "2025-03-03,1,1,4,1",
        "2025-03-10,1,3,0,0",
    ]


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [("&breakdown=trait", "t-btrait", "choose a customer trait"),
     ("&breakdown=segment&breakdown_segment=99999", "t-bseg", "no segment 99999"),
     ("&breakdown=segment&breakdown_segment=1&breakdown_segment=2", "t-bseg", "choose one"),
     ("&breakdown=stage&breakdown_journey=99999", "t-bjourney", "no journey map 99999"),
     ("&breakdown=stage", "t-bjourney", "choose a journey map")],
)  # fmt: skip
def test_page_bad_breakdown_is_a_422_marking_its_field(client, member, history, query, field, says):
    client.force_login(member)
    response = client.get(PAGE + query)
    html = response.content.decode()
    assert response.status_code == 422
    assert says in html
    assert f'id="{field}" name' in html
    tag = html.split(f'id="{field}"', 1)[1].split(">", 1)[0]
    assert 'aria-invalid="true"' in tag


HOSTILE = ["9223372036854775808", "-1", "²", "abc", "0", "x" * 5000, "a\x00b", ["1", "2"]]


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: str(v)[:12].replace("\x00", "NUL"))
@pytest.mark.parametrize(
    ("kind", "field"),
    [("trait", "breakdown_trait"), ("segment", "breakdown_segment"),
     ("segments", "breakdown_segment"), ("stage", "breakdown_journey")],
)  # fmt: skip
def test_hostile_breakdown_values_give_no_5xx(client, member, history, kind, field, value):
    client.force_login(member)

    response = client.get(
        "/trends/", {"event": "Checkout Started", "breakdown": kind, field: value}
    )
    api = client.post(
        "/api/trends",
        {"series": ["Checkout Started"], "breakdown": f"{kind}:{value}"},
        content_type="application/json",
    )

    assert response.status_code in (200, 422)
    assert api.status_code in (200, 422)
    if response.status_code == 422:
        assert 'role="alert"' in response.content.decode()
        assert 'aria-invalid="true"' in response.content.decode()
    if api.status_code == 422:
        assert "breakdown" in api.text or "string_too_long" in api.text or "type" in api.text


def test_a_mapping_larger_than_the_engines_default_query_size(history, chdb_engine):
    """60,000 customers' groups (about 700 KB of pairs, past ClickHouse's 256 KiB default) still
    run, with the same counts as the reference."""
    from cxloop.analytics.services import engine_drain
    from cxloop.analytics.sqlengine import SqlEngine

    while engine_drain(engine=chdb_engine):
        pass
    mapping = {10**9 + n: (f"g{n % 7}",) for n in range(60_000)}
    mapping[customer_id(history, "u1")] = ("g1", "g2")
    ask = {"workspace_id": history.pk, "series": [CHECKOUT, ORDER], "by": "week",
           "since": at(1, 0), "until": at(15, 0), "breakdown": "segments:1", "top": 20,
           "customer_groups": mapping}  # fmt: skip

    found = chdb_engine.trend_counts(**ask)

    assert (found.groups, found.cells) == (
        (reference := SqlEngine().trend_counts(**ask)).groups,
        reference.cells,
    )
    assert found.groups == ["", "g1", "g2"]  # 8 events of the others; u1's 3 in each of its two
