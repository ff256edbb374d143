"""Segment event conditions over fixed days (``date_from``/``date_to``, inclusive UTC days), on
every engine, and their checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cxloop.segments import selectors
from cxloop.segments.definition import (
    SegmentDefinitionError,
    definition_validate,
    describe_condition,
)
from factories import customer_id, ingest, track

pytestmark = pytest.mark.django_db


def at(who: str, day: int, hour: int = 12) -> dict:
    when = datetime(2025, 3, day, hour, tzinfo=UTC)
    return track(who, "Order", when, message_id=f"{who}-{day}-{hour}")


@pytest.mark.usefixtures("each_engine")
def test_event_conditions_count_only_their_days(workspace):
    ingest(workspace, [at("a", 1), at("b", 10), at("c", 20, 23), at("c", 21)])

    def who(**condition) -> set[str]:
        found = selectors.segment_customers(
            workspace=workspace, definition={"all": [{"event": "Order", **condition}]}
        )
        names = {customer_id(workspace, name): name for name in "abc"}
        return {names[c.pk] for c in found}

    assert who(date_from="2025-03-05", date_to="2025-03-20") == {"b", "c"}  # 20th 23:00 is in
    assert who(date_to="2025-03-01") == {"a"}
    assert who(date_from="2025-03-05", date_to="2025-03-20", did=False) == {"a"}
    assert who(date_from="2025-03-20", min_count=2) == {"c"}


def test_fixed_days_are_checked_and_described():
    cleaned = definition_validate(
        {"all": [{"event": "Order", "date_from": "2025-03-05", "date_to": "2025-03-20"}]}
    )
    assert describe_condition(cleaned["all"][0]) == "did Order from 2025-03-05 to 2025-03-20"
    for bad, message in (
        ({"within_days": 7, "date_from": "2025-03-05"}, "use within_days or date_from/date_to"),
        ({"date_from": "2025-03-05", "date_to": "2025-03-01"}, "is after date_to"),
        ({"date_to": "March"}, "date_to must be a day like"),
    ):
        with pytest.raises(SegmentDefinitionError) as caught:
            definition_validate({"all": [{"event": "Order", **bad}]})
        assert message in caught.value.errors[0]


@pytest.mark.usefixtures("each_engine")
def test_memberships_of_a_page_ask_the_engine_about_its_customers_only(workspace):
    """The customer list's segment column: event conditions are asked about the page's
    customers alone (``among``), and "did not" still holds only for those asked about."""
    from cxloop.analytics import selectors as analytics_selectors
    from cxloop.segments import services

    ingest(
        workspace,
        [
            at("a", 1),
            at("b", 10),
            at("c", 20),
            track("d", "Visit", datetime(2025, 3, 2, tzinfo=UTC)),
        ],
    )
    ids = {name: customer_id(workspace, name) for name in "abcd"}
    services.segment_create(
        workspace=workspace, name="Ordered", definition={"all": [{"event": "Order"}]}
    )
    services.segment_create(
        workspace=workspace,
        name="Never ordered",
        definition={"all": [{"event": "Order", "did": False}]},
    )

    page = [ids["a"], ids["d"]]
    found = selectors.segment_memberships(workspace=workspace, customer_ids=page)

    assert found == {ids["a"]: ["Ordered"], ids["d"]: ["Never ordered"]}
    asked = analytics_selectors.customers_with_event(
        workspace=workspace, event="Order", among=[ids["b"], ids["d"]]
    )
    assert set(selectors.segment_customers(
        workspace=workspace, definition={"all": []}, among=[ids["b"], ids["d"]]
    ).filter(pk__in=asked).values_list("pk", flat=True)) == {ids["b"]}  # fmt: skip
