"""A roadblock's customers saved as a segment: the segment condition on text themes (validated,
described, answered live) and the one-click save on the Top roadblocks page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from cxloop.customers.models import Customer
from cxloop.segments import selectors as segment_selectors
from cxloop.segments import services as segment_services
from cxloop.segments.definition import SegmentDefinitionError, definition_validate, describe
from cxloop.segments.models import Segment
from cxloop.text.models import TextAnalysis, TextTheme, Theme
from factories import member_make

IN_MARCH = datetime(2025, 3, 5, 12, tzinfo=UTC)
IN_FEBRUARY = datetime(2025, 2, 20, 12, tzinfo=UTC)


def test_theme_condition_is_validated_and_described():
    cleaned = definition_validate(
        {"all": [{"theme": "7", "sentiment": "negative", "date_from": "2025-03-01",
                  "date_to": "2025-03-10", "channel": " web "}]}
    )  # fmt: skip
    assert cleaned == {
        "all": [{"theme": 7, "sentiment": "negative", "date_from": "2025-03-01",
                 "date_to": "2025-03-10", "channel": "web"}]
    }  # fmt: skip
    assert describe(cleaned) == (
        "wrote a negative text on theme 7 on web from 2025-03-01 to 2025-03-10"
    )
    assert describe({"all": [{"theme": 7}]}) == "wrote a text on theme 7"
    with pytest.raises(SegmentDefinitionError) as bad:
        definition_validate(
            {"any": [
                {"theme": "seven"},
                {"theme": 1, "sentiment": "angry"},
                {"theme": 1, "date_from": "2025-13-01"},
                {"theme": 1, "date_from": "2025-03-10", "date_to": "2025-03-01"},
                {"theme": 1, "words": "late"},
            ]}
        )  # fmt: skip
    errors = bad.value.errors
    assert errors[0].startswith("condition 1 (theme): theme must be a theme's id")
    assert errors[1].startswith("condition 2 (theme): sentiment must be positive, neutral or")
    assert errors[2].startswith("condition 3 (theme): date_from must be a day like 2025-03-31")
    assert errors[3] == "condition 4 (theme): date_from 2025-03-10 is after date_to 2025-03-01"
    assert errors[4] == 'condition 5 (theme): unknown field "words"'


def _text(workspace, customer, when, label, theme, channel="web"):
    text = TextAnalysis.objects.create(
        workspace=workspace, source="survey", channel=channel, written_at=when, text=label,
        score={"negative": -0.6, "positive": 0.6}.get(label, 0.0), label=label, version="t",
        customer=customer,
    )  # fmt: skip
    TextTheme.objects.create(analysis=text, theme=theme, weight=1.0)


@pytest.fixture
def people(workspace):
    """Ann: negative on Delivery in March (web). Bob: positive on Delivery in March. Cat:
    negative on Delivery in February. Dan: negative on Price in March. Eve: negative on
    Delivery in March on the app."""
    delivery = Theme.objects.create(workspace=workspace, name="Delivery")
    price = Theme.objects.create(workspace=workspace, name="Price")
    names = ("ann", "bob", "cat", "dan", "eve")
    found = {n: Customer.objects.create(workspace=workspace, traits={"name": n}) for n in names}
    _text(workspace, found["ann"], IN_MARCH, "negative", delivery)
    _text(workspace, found["bob"], IN_MARCH, "positive", delivery)
    _text(workspace, found["cat"], IN_FEBRUARY, "negative", delivery)
    _text(workspace, found["dan"], IN_MARCH, "negative", price)
    _text(workspace, found["eve"], IN_MARCH, "negative", delivery, channel="app")
    return found, delivery


def _members(workspace, definition) -> set[str]:
    found = segment_selectors.segment_customers(workspace=workspace, definition=definition)
    return {c.traits["name"] for c in found}


def test_theme_condition_finds_the_customers_who_wrote_such_texts(workspace, people):
    _, delivery = people
    march = {"date_from": "2025-03-01", "date_to": "2025-03-31"}
    negative = {"theme": delivery.pk, "sentiment": "negative", **march}
    assert _members(workspace, {"all": [negative]}) == {"ann", "eve"}
    assert _members(workspace, {"all": [{**negative, "channel": "web"}]}) == {"ann"}
    assert _members(workspace, {"all": [{"theme": delivery.pk, **march}]}) == {"ann", "bob", "eve"}
    assert _members(workspace, {"all": [{"theme": delivery.pk}]}) == {"ann", "bob", "cat", "eve"}
    assert _members(workspace, {"all": [{"theme": delivery.pk, "date_to": "2025-02-28"}]}) == {
        "cat"
    }


def test_a_theme_of_another_workspace_or_deleted_is_refused(workspace, other_workspace, people):
    _, delivery = people
    foreign = Theme.objects.create(workspace=other_workspace, name="Elsewhere")
    with pytest.raises(SegmentDefinitionError, match=r"condition 1 \(theme\): no text theme"):
        segment_services.segment_create(
            workspace=workspace, name="X", definition={"all": [{"theme": foreign.pk}]}
        )
    segment = segment_services.segment_create(
        workspace=workspace, name="Delivery", definition={"all": [{"theme": delivery.pk}]}
    )
    delivery.delete()
    with pytest.raises(segment_selectors.SegmentChoiceError, match="no text theme"):
        list(segment_selectors.segment_member_ids(workspace=workspace, segment_id=segment.pk))


def test_one_click_saves_a_roadblocks_customers_as_a_segment(client, workspace, people):
    _, delivery = people
    client.force_login(member_make(workspace=workspace, username="an", role="analyst"))
    # the roadblocks page offers the button for the period shown
    page = client.get(
        reverse("text-roadblocks"), {"date_from": "2025-03-01", "date_to": "2025-03-31"}
    )
    html = page.content.decode()
    assert 'action="/text/roadblocks/segment/"' in html and 'value="2025-03-31"' in html
    # when
    posted = {"theme": delivery.pk, "date_from": "2025-03-01", "date_to": "2025-03-31"}
    answer = client.post(reverse("text-roadblock-segment"), posted)
    # then: a live segment of the customers who wrote negatively about it then
    segment = Segment.objects.get(workspace=workspace)
    assert answer.status_code == 302
    assert answer.url == reverse("segment-detail", args=[segment.pk])
    assert segment.name == "Roadblock: Delivery, 1 Mar 2025–31 Mar 2025"
    assert _members(workspace, segment.definition) == {"ann", "eve"}
    # the segment page opens it (in the JSON editor: the builder has no theme row)
    assert client.get(answer.url).status_code == 200
    # again, on one channel: a second segment with its own name
    client.post(reverse("text-roadblock-segment"), {**posted, "channel": "web"})
    second = Segment.objects.get(workspace=workspace, name__endswith="(web)")
    assert _members(workspace, second.definition) == {"ann"}
    client.post(reverse("text-roadblock-segment"), posted)
    assert Segment.objects.filter(name__endswith="#2").count() == 1
    # bad input is named; another workspace's theme is not found
    bad = client.post(reverse("text-roadblock-segment"), {**posted, "date_to": "2025-02-01"})
    assert bad.status_code == 400 and "date_from" in bad.content.decode()
    missing = client.post(reverse("text-roadblock-segment"), {**posted, "theme": 999999})
    assert missing.status_code == 404


def test_a_roadblock_segment_with_odd_dates_or_long_names_is_refused_or_fitted(
    client, workspace, people
):
    _, delivery = people
    client.force_login(member_make(workspace=workspace, username="an", role="analyst"))
    # days a segment cannot hold are named, not a server error
    for day_from, day_to in [("0001-01-01", "9999-12-31"), ("1900-01-01", "2025-03-31")]:
        posted = {"theme": delivery.pk, "date_from": day_from, "date_to": day_to}
        answer = client.post(reverse("text-roadblock-segment"), posted)
        assert answer.status_code == 400
        assert "1971-01-01–2200-12-31" in answer.content.decode()
    # a long theme name and channel are shortened to fit a segment's name, twice over
    delivery.name = "Delivery " + "x" * 111  # the most a theme name holds (120)
    delivery.save()
    posted = {
        "theme": delivery.pk,
        "date_from": "2025-03-01",
        "date_to": "2025-03-31",
        "channel": "c" * 32,
    }
    for _ in range(2):
        assert client.post(reverse("text-roadblock-segment"), posted).status_code == 302
    names = sorted(Segment.objects.filter(workspace=workspace).values_list("name", flat=True))
    assert len(names) == 2 and all(len(name) <= 120 for name in names)
    assert (
        names[0].startswith("Roadblock: Delivery xxx") and "…, 1 Mar 2025–31 Mar 2025 (" in names[0]
    )
    assert names[1] == names[0] + " #2"


def test_agents_read_roadblocks_but_may_not_save_a_segment(client, workspace, people):
    _, delivery = people
    client.force_login(member_make(workspace=workspace, username="ag", role="agent"))
    page = client.get(
        reverse("text-roadblocks"), {"date_from": "2025-03-01", "date_to": "2025-03-31"}
    )
    assert page.status_code == 200 and "/text/roadblocks/segment/" not in page.content.decode()
    posted = {"theme": delivery.pk, "date_from": "2025-03-01", "date_to": "2025-03-31"}
    assert client.post(reverse("text-roadblock-segment"), posted).status_code == 403
    assert not Segment.objects.exists()
