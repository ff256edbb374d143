"""Path analysis: common paths between two events, and what came before churn or a complaint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import factories
from cxloop.analytics import pathwalk
from cxloop.customers.models import Customer
from cxloop.events.services import events_ingest
from cxloop.journeys import paths
from cxloop.journeys.paths import PathCount, PathQueryError
from cxloop.web.charts.paths import sankey_figure

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def journey(user: str, *steps: tuple, channel: str = "web") -> list[dict]:
    """Messages for one customer: each step is (name, minutes after T0[, channel]).

    Names in PAGES are page views, everything else a track call.
    """
    messages = []
    for number, step in enumerate(steps):
        name, minutes = step[0], step[1]
        where = step[2] if len(step) > 2 else channel
        message = {
            "userId": user,
            "messageId": f"{user}-{number}",
            "timestamp": at(minutes).isoformat(),
            "properties": {"channel": where},
        }
        if name in PAGES:
            message.update(type="page", name=name)
        else:
            message.update(type="track", event=name)
        messages.append(message)
    return messages


PAGES = {"Home", "Category", "Product"}


def ingest(workspace, *journeys: list[dict]) -> None:
    """The journeys' messages, each customer first identified (with a name) the day before."""
    messages = [m for j in journeys for m in j]
    identify = [
        factories.identify(user, {"name": user}, T0 - timedelta(days=1), message_id=f"id-{user}")
        for user in dict.fromkeys(m["userId"] for m in messages)
    ]
    factories.ingest(workspace, identify + messages)


@pytest.fixture
def shoppers(workspace):
    ingest(
        workspace,
        # p1: category twice in a row (collapses), adds to cart, buys: 5 steps
        journey(
            "p1",
            ("Home", 0),
            ("Category", 1),
            ("Category", 2),
            ("Product", 3),
            ("Product Added", 4),
            ("Order Completed", 9),
        ),
        # p2 and p3: the short route, p3 on the app
        journey("p2", ("Home", 0), ("Product", 1), ("Order Completed", 30)),
        journey("p3", ("Home", 0), ("Product", 1, "app"), ("Order Completed", 60 * 24 * 3, "app")),
        # p4: never buys
        journey("p4", ("Home", 0), ("Category", 5)),
        # p5: buys without passing Home
        journey("p5", ("Product", 0), ("Order Completed", 2)),
    )


def test_collapse_merges_runs_only():
    assert pathwalk.collapse(["A", "A", "B", "A", "A", "C"]) == ["A", "B", "A", "C"]
    assert pathwalk.collapse([]) == []


def test_path_between_uses_the_attempt_that_reaches_the_end():
    steps = [(label, at(i)) for i, label in enumerate(["S", "X", "X", "S", "Y", "E", "S"])]

    assert pathwalk.path_between(steps, start="S", end="E", max_steps=6) == (True, ("S", "Y", "E"))
    assert pathwalk.path_between(steps, start="S", end="E", max_steps=2) == (True, None)
    assert pathwalk.path_between(steps, start="Q", end="E", max_steps=6) == (False, None)
    assert pathwalk.path_between(steps, start="", end="E", max_steps=3) == (True, ("S", "Y", "E"))
    assert pathwalk.path_between(steps, start="S", end="", max_steps=3) == (True, ("S", "X", "S"))
    assert pathwalk.path_between(
        steps, start="S", end="E", max_steps=6, within=timedelta(minutes=1)
    ) == (True, None)
    assert pathwalk.path_between(
        steps, start="S", end="E", max_steps=6, within=timedelta(minutes=2)
    ) == (True, ("S", "Y", "E"))


def test_path_windows_at_the_ends_of_the_calendar_do_not_overflow():
    # given steps at year 1 and at 9999-12-31 (stored before ingestion refused such times)
    first = datetime(1, 1, 1, tzinfo=UTC)
    last = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    early = [("S", first), ("E", first + timedelta(minutes=1))]
    late = [("S", last - timedelta(minutes=1)), ("E", last)]
    huge = timedelta(days=3650)

    # then "start - window" and "start + window" no longer leave the calendar
    assert pathwalk.path_between(early, start="", end="E", max_steps=3, within=huge) == (
        True,
        ("S", "E"),
    )
    assert pathwalk.path_between(late, start="S", end="", max_steps=3, within=huge) == (
        True,
        ("S", "E"),
    )
    assert pathwalk.path_between(late, start="S", end="E", max_steps=3, within=huge) == (
        True,
        ("S", "E"),
    )


def test_churn_paths_refuse_an_inactivity_beyond_a_century(workspace):
    with pytest.raises(PathQueryError, match="between 1 and 36500"):
        paths.paths_before_churn(workspace=workspace, inactive_days=10**9)


@pytest.mark.usefixtures("each_engine")
def test_most_common_paths_from_home_to_order(workspace, shoppers):
    report = paths.paths_between(
        workspace=workspace, start="Home", end="Order Completed", max_steps=6
    )

    assert (report.started, report.completed, report.other_paths) == (4, 3, 0)
    assert report.conversion == 0.75
    assert report.paths == [
        PathCount(("Home", "Product", "Order Completed"), 2, 2 / 3),
        PathCount(("Home", "Category", "Product", "Product Added", "Order Completed"), 1, 1 / 3),
    ]


@pytest.mark.usefixtures("each_engine")
def test_step_and_time_limits(workspace, shoppers):
    short = paths.paths_between(
        workspace=workspace, start="Home", end="Order Completed", max_steps=4
    )
    assert (short.started, short.completed) == (4, 2)
    assert [p.steps for p in short.paths] == [("Home", "Product", "Order Completed")]

    same_day = paths.paths_between(
        workspace=workspace, start="Home", end="Order Completed", within=timedelta(days=1)
    )
    assert [(p.steps, p.customers) for p in same_day.paths] == [  # ties: alphabetical
        (("Home", "Category", "Product", "Product Added", "Order Completed"), 1),
        (("Home", "Product", "Order Completed"), 1),
    ]

    top_one = paths.paths_between(workspace=workspace, start="Home", end="Order Completed", top=1)
    assert [p.customers for p in top_one.paths] == [2]
    assert top_one.other_paths == 1


@pytest.mark.usefixtures("each_engine")
def test_open_start_and_open_end(workspace, shoppers):
    leading = paths.paths_between(workspace=workspace, end="Order Completed", max_steps=2)
    assert (leading.started, leading.completed) == (4, 4)
    assert [(p.steps, p.customers) for p in leading.paths] == [
        (("Product", "Order Completed"), 3),
        (("Product Added", "Order Completed"), 1),
    ]

    after = paths.paths_between(workspace=workspace, start="Home", max_steps=2)
    assert [(p.steps, p.customers) for p in after.paths] == [
        (("Home", "Category"), 2),
        (("Home", "Product"), 2),
    ]


@pytest.mark.usefixtures("each_engine")
def test_paths_split_by_channel(workspace, shoppers):
    report = paths.paths_between(
        workspace=workspace, start="Home", end="Order Completed", by_channel=True
    )

    assert [(p.steps, p.customers) for p in report.paths] == [
        (("Home", "Category · web", "Product · web", "Product Added · web", "Order Completed"), 1),
        (("Home", "Product · app", "Order Completed"), 1),
        (("Home", "Product · web", "Order Completed"), 1),
    ]
    app_only = paths.paths_between(
        workspace=workspace, start="Home", end="Order Completed · app", by_channel=True
    )
    assert [(p.steps, p.customers) for p in app_only.paths] == [
        (("Home", "Product · app", "Order Completed · app"), 1)
    ]


@pytest.mark.usefixtures("each_engine")
def test_limited_to_some_customers(workspace, shoppers):
    chosen = Customer.objects.filter(workspace=workspace, display_name__in=["p1", "p4"]).values(
        "pk"
    )

    report = paths.paths_between(
        workspace=workspace, start="Home", end="Order Completed", customer_ids=chosen
    )

    assert (report.started, report.completed) == (2, 1)


@pytest.mark.usefixtures("each_engine")
def test_other_workspaces_are_not_counted(workspace, other_workspace, shoppers):
    ingest(other_workspace, journey("p9", ("Home", 0), ("Order Completed", 1)))

    report = paths.paths_between(workspace=workspace, start="Home", end="Order Completed")

    assert report.started == 4
    assert ("Home", "Order Completed") not in [p.steps for p in report.paths]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "choose a start event, an end event, or both"),
        ({"start": "Home", "max_steps": 1}, "max steps must be between 2 and 12"),
        ({"start": "Home", "max_steps": 13}, "max steps must be between 2 and 12"),
        ({"start": "Home", "top": 0}, "top must be between 1 and 30"),
        ({"start": "Home", "top": 31}, "top must be between 1 and 30"),
        ({"start": "Home", "within": timedelta(0)}, "the time window must be positive"),
    ],
)
def test_bad_path_queries(workspace, kwargs, message):
    with pytest.raises(PathQueryError, match=message):
        paths.paths_between(workspace=workspace, **kwargs)


def test_sankey_has_step_indexed_nodes_and_customer_flows():
    figure = sankey_figure(
        [PathCount(("Home", "Product", "Order"), 5, 0.5), PathCount(("Home", "Order"), 3, 0.3)]
    )
    sankey = figure.data[0]

    assert list(sankey.node.label) == ["1. Home", "2. Product", "3. Order", "2. Order"]
    assert list(zip(sankey.link.source, sankey.link.target, sankey.link.value, strict=True)) == [
        (0, 1, 5),
        (1, 2, 5),
        (0, 3, 3),
    ]
    ending = sankey_figure(
        [PathCount(("A", "B", "C"), 2, 1), PathCount(("B", "C"), 1, 1)], align_end=True
    )
    assert list(ending.data[0].node.label) == ["3rd last: A", "2nd last: B", "last: C"]
    assert list(ending.data[0].link.value) == [2, 3]


NOW = datetime(2025, 9, 1, tzinfo=UTC)


@pytest.mark.usefixtures("each_engine")
def test_last_steps_before_churn(workspace):
    day = 60 * 24
    ingest(
        workspace,
        # churned 150+ days ago: last steps Product → Product Added → Home (Home twice collapses)
        journey(
            "gone1", ("Home", 0), ("Product", 1), ("Product Added", 2), ("Home", 3), ("Home", 4)
        ),
        # churned: same ending
        journey("gone2", ("Category", 0), ("Product", 1), ("Product Added", 5), ("Home", 7)),
        # churned: a support ticket last
        journey("gone3", ("Home", 0), ("Support Ticket Opened", 10, "chat")),
        # still active: seen 20 days before NOW
        journey("here", ("Home", 0), ("Product", 1), ("Order Completed", 165 * day)),
    )

    report = paths.paths_before_churn(workspace=workspace, inactive_days=90, steps=3, now=NOW)

    assert report.customers == 3
    assert [(p.steps, p.customers) for p in report.paths] == [
        (("Product", "Product Added", "Home"), 2),
        (("Home", "Support Ticket Opened"), 1),
    ]
    assert report.last_step == [("Home", 2), ("Support Ticket Opened", 1)]
    assert report.anywhere == [
        ("Home", 3),
        ("Product", 2),
        ("Product Added", 2),
        ("Support Ticket Opened", 1),
    ]
    recent = paths.paths_before_churn(workspace=workspace, inactive_days=200, now=NOW)
    assert recent.customers == 0


@pytest.mark.usefixtures("each_engine")
def test_last_steps_before_first_complaint(workspace):
    ingest(
        workspace,
        journey(
            "c1",
            ("Order Completed", 0),
            ("Order Delivered", 10),
            ("Support Ticket Opened", 20, "chat"),
            ("Support Ticket Opened", 40, "chat"),
        ),
        journey(
            "c2",
            ("Product", 0),
            ("Order Completed", 3),
            ("Order Delivered", 8),
            ("Support Ticket Opened", 9, "phone"),
        ),
        journey("c3", ("Home", 0), ("Chat Started", 5, "chat")),
        journey("happy", ("Home", 0), ("Order Completed", 2)),
    )
    topic = events_ingest(
        workspace=workspace,
        messages=[{"type": "track", "userId": "c3", "event": "Chat Started", "messageId": "c3-topic",
                   "timestamp": at(50).isoformat(), "properties": {"channel": "chat", "topic": "late delivery"}}],
    )  # fmt: skip
    assert topic.accepted == 1

    report = paths.paths_before_complaint(workspace=workspace, steps=2)
    assert report.customers == 2
    assert [(p.steps, p.customers) for p in report.paths] == [
        (("Order Completed", "Order Delivered"), 2)
    ]
    assert report.last_step == [("Order Delivered", 2)]

    with_topics = paths.paths_before_complaint(
        workspace=workspace, steps=2, complaint_events=(), complaint_topics=["late delivery"]
    )
    assert [(p.steps, p.customers) for p in with_topics.paths] == [(("Home", "Chat Started"), 1)]

    with pytest.raises(PathQueryError, match="name at least one complaint event or topic"):
        paths.paths_before_complaint(workspace=workspace, complaint_events=[" "])
    with pytest.raises(PathQueryError, match="steps must be between 1 and 12"):
        paths.paths_before_complaint(workspace=workspace, steps=0)


def test_lift_sets_an_event_against_everyone_elses_last_steps():
    # given: by hand. Group of 10: 8 did Home, 4 did Card Declined. Others (20): 18 did Home,
    # 0 did Card Declined. Card Declined once in the group only: below the minimum.
    from scipy.stats import fisher_exact
    from statsmodels.stats.multitest import multipletests

    from cxloop.journeys.lift import lifts

    group = [{"Home"}] * 4 + [{"Home", "Card Declined"}] * 4 + [{"Product"}, {"Rare"}]
    others = [{"Home"}] * 18 + [{"Product"}] * 2
    # when
    rows, n_others = lifts(group, others)
    # then
    assert n_others == 20
    by = {r.event: r for r in rows}
    assert set(by) == {"Home", "Card Declined"}  # Product and Rare: one group customer each
    declined, home = by["Card Declined"], by["Home"]
    assert (declined.customers, declined.base_customers, declined.lift) == (4, 0, None)
    assert home.share == pytest.approx(0.8) and home.base_share == pytest.approx(0.9)
    assert home.lift == pytest.approx(0.8 / 0.9)
    raw = [fisher_exact([[8, 2], [18, 2]])[1], fisher_exact([[4, 6], [0, 20]])[1]]
    assert home.p_value == pytest.approx(raw[0]) and declined.p_value == pytest.approx(raw[1])
    adjusted = multipletests(raw, method="holm")[1]
    assert (home.p_holm, declined.p_holm) == pytest.approx(tuple(adjusted))
    # the rare but telling event ranks above what everyone does
    assert [r.event for r in rows] == ["Card Declined", "Home"]
    assert declined.significant and not home.significant


@pytest.mark.usefixtures("each_engine")
def test_before_churn_reports_lift_against_the_active(workspace):
    day = 60 * 24
    ingest(
        workspace,
        journey("gone1", ("Home", 0), ("Card Declined", 1)),
        journey("gone2", ("Home", 0), ("Card Declined", 2)),
        journey("here1", ("Home", 0), ("Order Completed", 165 * day)),
        journey("here2", ("Product", 0), ("Order Completed", 166 * day)),
    )
    report = paths.paths_before_churn(workspace=workspace, inactive_days=90, steps=3, now=NOW)
    assert (report.customers, report.others) == (2, 2)
    by = {r.event: r for r in report.lifts}
    assert (by["Card Declined"].customers, by["Card Declined"].base_customers) == (2, 0)
    assert (by["Home"].customers, by["Home"].base_customers) == (2, 1)
    assert by["Home"].lift == pytest.approx(1.0 / 0.5)
