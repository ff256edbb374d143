"""Demo feedback: answers that follow each demo customer's story, reproducible from the seed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cxloop.demo.feedback import build_feedback_demo
from cxloop.demo.generator import build_demo
from cxloop.events.models import Event
from cxloop.feedback.models import Answer, Response, Survey, Trigger

NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def built(django_db_setup, django_db_blocker):
    """The demo's events, built once for this module (each test's own writes are rolled back)."""
    from cxloop.core.models import Workspace

    with django_db_blocker.unblock():
        build_demo(slug="demo-fb", customers=400, seed=5, now=NOW)
        workspace = Workspace.objects.get(slug="demo-fb")
        # build_demo already added the feedback; start these tests from the events alone
        Survey.objects.filter(workspace=workspace).delete()
        yield workspace
        workspace.delete()


@pytest.fixture
def demo(db, built):
    assert not Response.objects.filter(workspace=built).exists()
    return built


def snapshot(workspace) -> list[tuple]:
    return list(
        Response.objects.filter(workspace=workspace)
        .order_by("survey__name", "response_key")
        .values_list("survey__name", "response_key", "customer_id", "nps_score", "csat_score",
                     "ces_score", "comment", "submitted_at", "channel", "touchpoint")
    )  # fmt: skip


def test_demo_feedback_tells_the_customers_story(demo):
    # when
    made = build_feedback_demo(workspace=demo, seed=5, now=NOW)
    # then: the surveys, the triggers, and answers tied to real customers within the year
    responses = Response.objects.filter(workspace=demo)
    assert made == responses.count() > 200  # about 0.6 per demo customer
    assert sorted(Survey.objects.filter(workspace=demo).values_list("name", flat=True)) == [
        "Customer effort (CES)", "Customer satisfaction (CSAT)", "Post-purchase survey",
        "Post-support survey", "Relationship NPS",
    ]  # fmt: skip
    assert sorted(Trigger.objects.values_list("event_name", "delay_minutes")) == [
        ("Order Completed", 3 * 24 * 60), ("Ticket Closed", 24 * 60),
    ]  # fmt: skip
    assert not responses.filter(customer__isnull=True).exists()
    assert not responses.filter(submitted_at__gte=NOW).exists()
    assert responses.filter(completed=False).exists()
    # every "late delivery" answer is about an order that really was delivered late
    late_answers = Answer.objects.filter(
        response__workspace=demo, question__key="problem", value="late_delivery"
    ).select_related("response")
    assert late_answers.exists()
    for answer in late_answers:
        order_id = answer.response.response_key.removeprefix("demo-pp-")
        delivered = Event.objects.get(
            workspace=demo, name="Order Delivered", properties__order_id=order_id
        )
        assert delivered.properties["late"] is True
        assert f"{delivered.properties['days_late']} days" in answer.response.comment or (
            "late" in answer.response.comment.lower()
        )
    # post-support effort follows the ticket's satisfaction
    support = responses.filter(touchpoint="Ticket Closed", completed=True)
    assert support.exists()
    assert all(r.channel in ("chat", "phone", "email") for r in support)
    # shop customers are happier than the average NPS respondent
    nps = responses.filter(survey__kind="nps", completed=True)

    def score(rows) -> float:
        rows = list(rows.values_list("nps_score", flat=True))
        return (sum(s >= 9 for s in rows) - sum(s <= 6 for s in rows)) / len(rows)

    assert score(nps.filter(channel="store")) > score(nps)


def test_demo_feedback_is_reproducible(demo):
    build_feedback_demo(workspace=demo, seed=5, now=NOW)
    first = snapshot(demo)
    Survey.objects.filter(workspace=demo).delete()
    build_feedback_demo(workspace=demo, seed=5, now=NOW)
    assert snapshot(demo) == first
