"""The engine's "before churn/complaint" and personas' questions: hand-built histories with
hand-computed answers on every engine, and random histories compared between the engines."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from cxloop.analytics import selectors as analytics_selectors
from cxloop.analytics.before import CHURN, COMPLAINT, BeforeQuery, LastSteps
from cxloop.analytics.services import engine_drain
from cxloop.analytics.sqlengine import SqlEngine
from cxloop.customers.models import Customer
from factories import customer_id, identify, ingest, track

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
NOW = datetime(2025, 9, 1, tzinfo=UTC)
STO = "Support Ticket Opened"
_ids = itertools.count()


def ev(who: str, name: str, minutes: float, channel: str = "web", **extra) -> dict:
    anonymous = extra.pop("anonymous", False)
    return track(
        who, name, T0 + timedelta(minutes=minutes), channel=channel, anonymous=anonymous,
        message_id=f"{who}-{name}-{minutes}-{next(_ids)}", **extra,
    )  # fmt: skip


def page(who: str, name: str, minutes: float, channel: str = "web") -> dict:
    return {
        "type": "page", "userId": who, "name": name, "messageId": f"{who}-p-{next(_ids)}",
        "timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
        "properties": {"channel": channel},
    }  # fmt: skip


def merged(workspace, anonymous: list[dict], known: list[dict], link: dict) -> int:
    """Ingest an anonymous visitor's and a user's events, then a message linking the two;
    returns the surviving profile."""
    ingest(workspace, anonymous)
    ingest(workspace, known)
    ingest(workspace, [link])
    survivor = customer_id(workspace, link["userId"])
    assert Customer.objects.get(pk=survivor).merged_into_id is None
    return survivor


def before(workspace, **fields) -> LastSteps:
    return analytics_selectors.last_steps_before(workspace=workspace, query=BeforeQuery(**fields))


# ------------------------------------------------------------------ before churn


@pytest.fixture
def churners(workspace):
    day = 60 * 24
    merged(
        workspace,
        [ev("anon-1", "Home", 0, anonymous=True), ev("anon-1", "Product", 1, anonymous=True)],
        [ev("u1", "Cart", 2)],
        ev("u1", "Cart", 3) | {"anonymousId": "anon-1"},
    )
    ingest(
        workspace,
        [
            ev("g2", "Home", 0, "web"),
            ev("g2", "Home", 1, "app"),
            ev("a1", "Home", 0),
            ev("a1", "Order", (NOW - T0).days * day - 10 * day),  # 10 days before NOW
            ev("a2", "Product", (NOW - T0).days * day + day),  # after NOW: not counted
        ],
    )
    ingest(workspace, [ev("g3", "Help", 5)])
    ingest(workspace, [ev("g3", "Cart", 5)])  # the same time, a later id: after Help


@pytest.mark.usefixtures("each_engine", "churners")
def test_before_churn_counts_each_last_steps_sequence(workspace):
    # given: cutoff 90 days before NOW: u1 (merged from anon-1), g2 and g3 churned at T0
    cutoff = NOW - timedelta(days=90)
    # when
    found = before(workspace, kind=CHURN, steps=3, cutoff=cutoff, until=NOW)
    # then: the merged profile is one customer; a same-time pair keeps the order of ids
    assert found.group == Counter(
        {("Home", "Product", "Cart"): 1, ("Home",): 1, ("Help", "Cart"): 1}
    )
    assert found.others == Counter({("Home", "Order"): 1})  # a2 only acts after NOW
    # by channel: g2's two Homes are two steps
    found = before(workspace, kind=CHURN, steps=2, cutoff=cutoff, until=NOW, by_channel=True)
    assert found.group == Counter(
        {
            ("Product · web", "Cart · web"): 1,
            ("Home · web", "Home · app"): 1,
            ("Help · web", "Cart · web"): 1,
        }
    )
    # no bound on the others: a2 counts too; a shorter inactivity: nobody churned
    everyone = before(workspace, kind=CHURN, steps=1, cutoff=cutoff)
    assert everyone.others == Counter({("Order",): 1, ("Product",): 1})
    assert before(workspace, kind=CHURN, steps=3, cutoff=T0, until=NOW).group == Counter()


@pytest.mark.usefixtures("each_engine", "churners")
def test_before_churn_when_the_range_ends_before_or_after_the_cutoff(workspace):
    # given: a1 stepped at T0 and 10 days before NOW; the range ends 30 days before NOW
    until = NOW - timedelta(days=30)
    churned = {("Home", "Product", "Cart"): 1, ("Home",): 1, ("Help", "Cart"): 1}
    # when: the cutoff (90 days before NOW) comes before the range's end
    found = before(workspace, kind=CHURN, steps=3, cutoff=NOW - timedelta(days=90), until=until)
    # then: a1's step after the range still shows it active: it is among the others, with its
    # steps before the range's end only
    assert found.group == Counter(churned)
    assert found.others == Counter({("Home",): 1})
    # when: the cutoff (5 days before NOW) comes after the range's end
    found = before(workspace, kind=CHURN, steps=3, cutoff=NOW - timedelta(days=5), until=until)
    # then: a1 churned too, with all its steps; nobody else stepped before the range's end
    assert found.group == Counter(churned | {("Home", "Order"): 1})
    assert found.others == Counter()


@pytest.mark.usefixtures("each_engine", "churners")
def test_before_churn_of_some_customers(workspace):
    some = (customer_id(workspace, "u1"), customer_id(workspace, "a1"))
    found = before(
        workspace, kind=CHURN, steps=3, cutoff=NOW - timedelta(days=90), until=NOW,
        customer_ids=some,
    )  # fmt: skip
    assert found.group == Counter({("Home", "Product", "Cart"): 1})
    assert found.others == Counter({("Home", "Order"): 1})


# ------------------------------------------------------------------ before a complaint


@pytest.fixture
def complainers(workspace):
    ingest(
        workspace,
        [
            ev("c1", "Home", 0), ev("c1", "Product", 10), ev("c1", STO, 20, "chat"),
            ev("c1", "Cart", 30), ev("c1", "Help", 35), ev("c1", STO, 40, "chat"),
            ev("c2", "Product", 0), ev("c2", STO, 5, "phone"),
            ev("h1", "Home", 0), ev("h1", "Cart", 50),
            ev("h2", "Home", 0), ev("h2", "Product", 100),
            ev("t1", "Home", 0), ev("t1", "Chat Started", 5, "chat", topic="late delivery"),
        ],
    )  # fmt: skip


@pytest.mark.usefixtures("each_engine", "complainers")
def test_before_complaint_counts_the_steps_before_the_first_one(workspace):
    # when
    found = before(workspace, kind=COMPLAINT, steps=2, names=(STO,))
    # then: c1 before minute 20, c2 before minute 5
    assert found.group == Counter({("Home", "Product"): 1, ("Product",): 1})
    assert found.others == Counter(
        {("Home", "Cart"): 1, ("Home", "Product"): 1, ("Home", "Chat Started"): 1}
    )


@pytest.mark.usefixtures("each_engine", "complainers")
def test_before_complaint_in_a_range(workspace):
    # since minute 25: c1's first complaint in range is at 40 (the earlier one is a step),
    # c2 complained before the range and is one of the others
    later = before(
        workspace, kind=COMPLAINT, steps=2, names=(STO,), since=T0 + timedelta(minutes=25)
    )
    assert later.group == Counter({("Cart", "Help"): 1})
    assert later.others == Counter(
        {
            ("Product", STO): 1,
            ("Home", "Cart"): 1,
            ("Home", "Product"): 1,
            ("Home", "Chat Started"): 1,
        }
    )
    # until minute 30: the others' steps stop there too
    earlier = before(
        workspace, kind=COMPLAINT, steps=2, names=(STO,), until=T0 + timedelta(minutes=30)
    )
    assert earlier.group == Counter({("Home", "Product"): 1, ("Product",): 1})
    assert earlier.others == Counter({("Home",): 2, ("Home", "Chat Started"): 1})


@pytest.mark.usefixtures("each_engine", "complainers")
def test_before_complaint_by_topic_and_for_some_customers(workspace):
    topics = before(workspace, kind=COMPLAINT, steps=3, topics=("late delivery",))
    assert topics.group == Counter({("Home",): 1})
    assert topics.others.total() == 4
    both = before(workspace, kind=COMPLAINT, steps=1, names=(STO,), topics=("late delivery",))
    assert both.group == Counter({("Product",): 2, ("Home",): 1})
    some = (customer_id(workspace, "c1"), customer_id(workspace, "h1"))
    found = before(workspace, kind=COMPLAINT, steps=2, names=(STO,), customer_ids=some)
    assert found.group == Counter({("Home", "Product"): 1})
    assert found.others == Counter({("Home", "Cart"): 1})


def test_a_question_missing_its_parameters_is_refused():
    with pytest.raises(ValueError, match="cutoff"):
        BeforeQuery(kind=CHURN, steps=3)
    with pytest.raises(ValueError, match="names/topics"):
        BeforeQuery(kind=COMPLAINT, steps=3)
    with pytest.raises(ValueError, match="kind"):
        BeforeQuery(kind="lapse", steps=3)


# ------------------------------------------------------------------ personas' aggregates


@pytest.mark.usefixtures("each_engine")
def test_behaviour_counts_by_hand(workspace):
    # given: s1 buys in store and online, with revenues as number, number text, true and text;
    # s2 is an anonymous reader merged into a buyer
    ingest(
        workspace,
        [
            ev("s1", "Store Visit", 0, "store"),
            ev("s1", "Order Completed", 10, "store", revenue="300.0"),
            ev("s1", "Order Completed", 20, "store", revenue=300),
            ev("s1", "Order Completed", 30, "web", revenue=True),
            ev("s1", "Order Completed", 40, "web", revenue="abc"),
            page("s1", "Home", 5),
            page("s1", "Store Visit", 50),  # the same name as a page: counted, not a track first
            identify("s1", {"name": "S"}, T0 + timedelta(minutes=60)),  # not a step
        ],
    )
    s2 = merged(
        workspace,
        [ev("anon-2", "Email Opened", 100, "email", anonymous=True)],
        [ev("s2", "Order Completed", 110, revenue=12.5)],
        ev("s2", "Email Opened", 120, "email") | {"anonymousId": "anon-2"},
    )
    s1 = customer_id(workspace, "s1")
    at = {m: T0 + timedelta(minutes=m) for m in (0, 5, 10, 40, 50, 100, 110, 120)}
    # when
    found = analytics_selectors.behaviour_counts(workspace=workspace, order_event="Order Completed")
    # then
    assert found.channels == {
        s1: Counter({"store": 3, "web": 4}),
        s2: Counter({"email": 2, "web": 1}),
    }
    assert (found.first, found.last) == ({s1: at[0], s2: at[100]}, {s1: at[50], s2: at[120]})
    assert found.names == {
        s1: Counter({"Order Completed": 4, "Store Visit": 2, "Home": 1}),
        s2: Counter({"Email Opened": 2, "Order Completed": 1}),
    }
    assert found.first_track == {
        s1: {"Store Visit": at[0], "Order Completed": at[10]},
        s2: {"Email Opened": at[100], "Order Completed": at[110]},
    }
    assert found.revenue == pytest.approx({s1: 600.0, s2: 12.5})
    # and over a range: minutes 10 (inclusive) to 50 (exclusive) hold s1's four orders only
    within = analytics_selectors.behaviour_counts(
        workspace=workspace, order_event="Order Completed", since=at[10], until=at[50]
    )
    assert within.channels == {s1: Counter({"store": 2, "web": 2})}
    assert (within.first, within.last) == ({s1: at[10]}, {s1: at[40]})
    assert within.names == {s1: Counter({"Order Completed": 4})}
    assert within.first_track == {s1: {"Order Completed": at[10]}}
    assert within.revenue == pytest.approx({s1: 600.0})
    after = analytics_selectors.behaviour_counts(
        workspace=workspace, order_event="Order Completed", since=at[110]
    )
    assert after.channels == {s2: Counter({"web": 1, "email": 1})}
    assert after.revenue == pytest.approx({s2: 12.5})
    # and as arrays, with Store Visit counted as support and Home and Email Opened as returns
    vectors = analytics_selectors.behaviour_vectors(
        workspace=workspace,
        order_event="Order Completed",
        support_events=["Store Visit"],
        return_events=["Home", "Email Opened", "Home"],
    )
    ids = sorted([s1, s2])
    rows = {c: ids.index(c) for c in ids}
    micros = {
        m: (at[m] - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) for m in at
    }

    def in_rows(of_s1: object, of_s2: object) -> list:
        return [{s1: of_s1, s2: of_s2}[c] for c in ids]

    assert vectors.customer_ids.tolist() == ids
    assert vectors.first.tolist() == in_rows(micros[0], micros[100])
    assert vectors.last.tolist() == in_rows(micros[50], micros[120])
    assert vectors.orders.tolist() == in_rows(4, 1)
    assert vectors.support.tolist() == in_rows(2, 0)  # Store Visit: a track and a page
    assert vectors.returns.tolist() == in_rows(1, 2)  # Home counted once though named twice
    assert vectors.revenue.tolist() == pytest.approx(in_rows(600.0, 12.5))
    assert vectors.channels == ["email", "store", "web"]
    channel_rows = zip(vectors.channel_row, vectors.channel_code, vectors.channel_n, strict=True)
    assert sorted(channel_rows) == sorted(
        [(rows[s1], 1, 3), (rows[s1], 2, 4), (rows[s2], 0, 2), (rows[s2], 2, 1)]
    )
    assert vectors.tracks == ["Email Opened", "Order Completed", "Store Visit"]
    track_rows = zip(vectors.track_row, vectors.track_code, vectors.track_first, strict=True)
    assert sorted(track_rows) == sorted(
        [(rows[s1], 2, micros[0]), (rows[s1], 1, micros[10]),
         (rows[s2], 0, micros[100]), (rows[s2], 1, micros[110])]
    )  # fmt: skip
    empty = analytics_selectors.behaviour_vectors(
        workspace=workspace, order_event="Order Completed", support_events=[], return_events=[],
        since=at[120] + timedelta(minutes=1),
    )  # fmt: skip
    assert (len(empty), empty.channels, empty.tracks, len(empty.track_row)) == (0, [], [], 0)


# ------------------------------------------------------------------ random histories


def test_random_histories_get_the_same_last_steps_and_behaviour(workspace, chdb_engine):
    rng = random.Random(11)
    messages = []
    for person in range(60):
        at = rng.randrange(0, 60 * 24 * 150)
        for _ in range(rng.randrange(1, 12)):
            at += rng.choice([0, 0, 1, 5, 60, 60 * 24 * 30])
            name = rng.choice(["Home", "Home", "Product", "Cart", "Order Completed", STO, "Help"])
            extra = {"revenue": rng.choice([10, 2.5, "7", "x", None])} if name != "Home" else {}
            extra |= {"topic": "late delivery"} if rng.random() < 0.05 else {}
            messages.append(ev(f"p{person}", name, at, rng.choice(["web", "app"]), **extra))
    for person in range(0, 60, 7):  # anonymous visits later linked to a known customer
        messages.append(ev(f"v{person}", "Home", 10, anonymous=True))
        messages.append(ev(f"p{person}", "Cart", 20) | {"anonymousId": f"v{person}"})
    ingest(workspace, messages)
    while engine_drain(engine=chdb_engine):
        pass
    sql = SqlEngine()
    middle = T0 + timedelta(days=75)
    some = tuple(sorted({customer_id(workspace, f"p{i}") for i in range(0, 60, 3)}))
    many = tuple(range(10**7, 10**7 + 60_000))
    queries = [
        BeforeQuery(kind=CHURN, steps=3, cutoff=middle),
        BeforeQuery(kind=CHURN, steps=2, cutoff=middle, until=middle + timedelta(days=30)),
        BeforeQuery(kind=CHURN, steps=2, cutoff=middle, until=middle - timedelta(days=20)),
        BeforeQuery(kind=CHURN, steps=4, cutoff=middle, by_channel=True, customer_ids=some),
        BeforeQuery(kind=COMPLAINT, steps=3, names=(STO,)),
        BeforeQuery(kind=COMPLAINT, steps=2, names=(STO, "Help"), since=middle),
        BeforeQuery(kind=COMPLAINT, steps=3, topics=("late delivery",), until=middle),
        BeforeQuery(kind=COMPLAINT, steps=1, names=(STO,), by_channel=True, customer_ids=some),
        # a large segment: 60,000 ids are over ClickHouse's default 256 KiB query size
        BeforeQuery(kind=CHURN, steps=2, cutoff=middle, customer_ids=some + many),
        BeforeQuery(kind=COMPLAINT, steps=2, names=(STO,), customer_ids=some + many),
    ]
    for query in queries:
        expected = sql.last_steps_before(workspace_id=workspace.pk, query=query)
        assert chdb_engine.last_steps_before(workspace_id=workspace.pk, query=query) == expected
        if query == queries[0]:
            assert expected.group.total() > 10 and expected.others.total() > 10  # real data
    a = sql.behaviour_counts(workspace_id=workspace.pk, order_event="Order Completed")
    b = chdb_engine.behaviour_counts(workspace_id=workspace.pk, order_event="Order Completed")
    assert (b.channels, b.first, b.last) == (a.channels, a.first, a.last)
    assert (b.names, b.first_track) == (a.names, a.first_track)
    assert b.revenue == pytest.approx(a.revenue)
    assert len(a.revenue) > 10
    bounds = {"since": middle, "until": middle + timedelta(days=30)}
    a = sql.behaviour_counts(workspace_id=workspace.pk, order_event="Order Completed", **bounds)
    b = chdb_engine.behaviour_counts(
        workspace_id=workspace.pk, order_event="Order Completed", **bounds
    )
    assert (b.channels, b.first, b.last, b.names) == (a.channels, a.first, a.last, a.names)
    assert (b.first_track, b.revenue) == (a.first_track, pytest.approx(a.revenue))
    assert 0 < len(a.channels) < 60
    arrays = [
        "customer_ids", "first", "last", "orders", "support", "returns",
        "channel_row", "channel_code", "channel_n", "track_row", "track_code", "track_first",
    ]  # fmt: skip
    for span in ({}, bounds):
        kinds = {"order_event": "Order Completed", "support_events": [STO], "return_events": []}
        a = sql.behaviour_vectors(workspace_id=workspace.pk, **kinds, **span)
        b = chdb_engine.behaviour_vectors(workspace_id=workspace.pk, **kinds, **span)
        assert (a.channels, a.tracks) == (b.channels, b.tracks)
        for name in arrays:
            assert getattr(a, name).tolist() == getattr(b, name).tolist(), name
        assert b.revenue.tolist() == pytest.approx(a.revenue.tolist())
        assert a.support.sum() > 0 and len(a.track_row) > len(a)


@pytest.mark.usefixtures("each_engine", "complainers")
def test_paths_take_a_large_segments_ids(workspace):
    # given: a segment of 60,000 ids (over ClickHouse's default 256 KiB query size as an array)
    from cxloop.journeys import paths

    members = [customer_id(workspace, "c1"), customer_id(workspace, "h2")]
    many = [*members, *range(10**7, 10**7 + 60_000)]
    # when
    report = paths.paths_between(
        workspace=workspace, start="Home", end="Product", customer_ids=many
    )
    # then: c1 and h2 went Home → Product; h1 and t1 are not members
    assert (report.started, report.completed) == (2, 2)
    assert [(p.steps, p.customers) for p in report.paths] == [(("Home", "Product"), 2)]
