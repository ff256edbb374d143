"""Sessions (``analytics.sessions``): assignment, session trends, funnels and paths per session,
on every engine, with counts worked out by hand; and random histories compared between the
system of record and the embedded engine."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from cxloop.analytics import sampling
from cxloop.analytics import selectors as analytics
from cxloop.analytics.services import engine_drain
from cxloop.analytics.sessions import CUSTOMER, SESSION, SessionPeriod, SessionRules, unit_of
from cxloop.analytics.sqlengine import SqlEngine
from cxloop.journeys.definitions import RuleSpec
from factories import customer_id, ingest, track

engines = pytest.mark.usefixtures("each_engine")

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
DAY = datetime(2025, 3, 3, tzinfo=UTC)
_ids = itertools.count()


def ev(who: str, name: str, minutes: float, channel: str = "web", **props) -> dict:
    return track(
        who, name, T0 + timedelta(minutes=minutes), channel=channel,
        message_id=f"{who}-{name}-{minutes}-{next(_ids)}", **props,
    )  # fmt: skip


@pytest.fixture
def visits(workspace):
    """u1: A at 0, B at 30 (a gap of exactly 30 minutes: one session), C at 61 (31 minutes:
    a second). u2 sends session ids: A at 0 and B at 120 in s1 (the id overrides the gap), C at
    125 in s2 (a new id: a new session), D at 126 without an id (1 minute: still s2's). u3 sent
    out of order: B at 50, then A at 0 and A at 20 (sorted: one session, session_id property).
    u4: A at 0, B at 100 (two sessions)."""
    ingest(
        workspace,
        [
            ev("u1", "A", 0), ev("u1", "B", 30), ev("u1", "C", 61),
            ev("u2", "A", 0, sessionId="s1"), ev("u2", "B", 120, sessionId="s1"),
            ev("u2", "C", 125, sessionId="s2"), ev("u2", "D", 126),
            ev("u3", "B", 50, session_id="x"),
        ],
    )  # fmt: skip
    ingest(workspace, [ev("u3", "A", 0), ev("u3", "A", 20), ev("u4", "A", 0), ev("u4", "B", 100)])
    return workspace


def _trend(workspace, **options):
    return analytics.session_trend(
        workspace=workspace, by="day", since=DAY, until=DAY + timedelta(days=1), **options
    )


@engines
def test_sessions_started_and_their_durations(visits):
    found = _trend(visits)

    # u1 [0, 30] and [61]; u2 [0, 120] and [125, 126]; u3 [0, 20, 50]; u4 [0] and [100]
    durations = sorted([1800, 0, 7200, 60, 3000, 0, 0])
    assert list(found) == [DAY]
    assert (found[DAY].sessions, found[DAY].customers) == (7, 4)
    assert found[DAY].median_seconds == 60
    assert found[DAY].mean_seconds == pytest.approx(sum(durations) / 7)


@engines
def test_a_longer_timeout_joins_the_gaps(visits):
    visits.session_timeout_minutes = 45
    visits.save()

    found = _trend(visits)

    # u1 one session [0, 61]; u4 still two (100 > 45); u2 as before
    assert found[DAY] == SessionPeriod(
        sessions=6, customers=4, median_seconds=pytest.approx(1530), mean_seconds=pytest.approx(
            (3660 + 7200 + 60 + 3000 + 0 + 0) / 6)
    )  # fmt: skip


@engines
def test_a_named_session_property_replaces_the_defaults(visits):
    visits.session_property = "session_id"
    visits.save()

    found = _trend(visits)

    # u2's sessionId no longer counts: [0], [120, 125, 126]
    assert found[DAY].sessions == 7
    assert found[DAY].median_seconds == 0
    assert found[DAY].mean_seconds == pytest.approx((1800 + 360 + 3000) / 7)


@engines
def test_sessions_outside_the_range_are_not_counted(visits):
    found = analytics.session_trend(
        workspace=visits, by="hour", since=T0 + timedelta(minutes=1), until=T0 + timedelta(hours=2)
    )

    # sessions starting at 61 (u1), 100 (u4)
    assert found == {T0 + timedelta(hours=1): SessionPeriod(2, 2, 0.0, 0.0)}


@engines
def test_a_funnel_per_session_must_complete_within_one(visits):
    steps = [RuleSpec("A"), RuleSpec("B")]
    per_customer = analytics.funnel_summary(workspace=visits, steps=steps, window=None)
    per_session = analytics.funnel_summary(workspace=visits, steps=steps, window=None, per=SESSION)

    assert per_customer.counts == [4, 4]
    assert per_session.counts == [4, 3]  # u4's B is in its second session
    assert [c for _, c in per_session.latest[1]] == [customer_id(visits, "u4")]


@engines
def test_a_funnel_per_session_of_some_customers(visits):
    steps = [RuleSpec("A"), RuleSpec("B")]
    only = {customer_id(visits, "u1"), customer_id(visits, "u4")}

    run = analytics.funnel_run(workspace=visits, steps=steps, window=None, only=only, per=SESSION)

    assert run.depth == {unit_of(customer_id(visits, "u1"), 1): 2,
                         unit_of(customer_id(visits, "u4"), 1): 1}  # fmt: skip


@engines
def test_paths_per_session(visits):
    query = {
        "start": "A", "end": "B", "max_steps": 5, "within": None, "by_channel": False,
        "since": None, "until": None, "customer_ids": None, "top": 5,
    }  # fmt: skip

    per_customer = analytics.path_counts(workspace=visits, **query)
    per_session = analytics.path_counts(workspace=visits, **query, per=SESSION)

    assert (per_customer.started, per_customer.completed) == (4, 4)
    assert per_customer.top == [(("A", "B"), 4)]
    assert (per_session.started, per_session.completed) == (4, 3)
    assert per_session.top == [(("A", "B"), 3)]


def test_an_unknown_count_per_is_refused(workspace):
    with pytest.raises(ValueError, match="count per"):
        analytics.funnel_run(workspace=workspace, steps=[RuleSpec("A")], window=None, per="x")
    assert CUSTOMER == "customer"


# ------------------------------------------------------------------ both engines, random


def test_random_histories_get_the_same_sessions_from_both_engines(workspace, chdb_engine):
    rng = random.Random(30)
    messages = []
    for person in range(40):
        at = rng.randrange(0, 60 * 24 * 20)
        sid = ""
        for _ in range(rng.randrange(1, 14)):
            at += rng.choice([0, 0, 1, 10, 30, 31, 45, 60 * 5])  # ties, the edge, long gaps
            if rng.random() < 0.3:
                sid = rng.choice(["", "s1", "s2", "s3"])
            props = {"sessionId": sid} if sid and rng.random() < 0.7 else {}
            name = rng.choice(["Home", "Home", "Product", "Cart", "Order"])
            messages.append(ev(f"p{person}", name, at, rng.choice(["web", "app"]), **props))
    ingest(workspace, messages)
    while engine_drain(engine=chdb_engine):
        pass
    sql = SqlEngine()
    rules = SessionRules()
    for by in ("hour", "day", "week"):
        span = {"since": T0 - timedelta(days=1), "until": T0 + timedelta(days=15), "by": by}
        a = sql.session_trend(workspace_id=workspace.pk, rules=rules, **span)
        b = chdb_engine.session_trend(workspace_id=workspace.pk, rules=rules, **span)
        assert a.keys() == b.keys()
        for period, found in a.items():
            assert (b[period].sessions, b[period].customers) == (found.sessions, found.customers)
            assert b[period].median_seconds == pytest.approx(found.median_seconds)
            assert b[period].mean_seconds == pytest.approx(found.mean_seconds)
    assert sum(p.sessions for p in a.values()) > 60  # a real comparison
    x = sql.per_session(workspace_id=workspace.pk, rules=rules)
    y = chdb_engine.per_session(workspace_id=workspace.pk, rules=rules)
    steps = [RuleSpec("Home"), RuleSpec("Cart"), RuleSpec("Order")]
    for mode in ("ordered", "strict", "any"):
        question = {"workspace_id": workspace.pk, "steps": steps, "mode": mode,
                    "window": timedelta(minutes=40)}  # fmt: skip
        assert y.funnel(**question).depth == x.funnel(**question).depth
        s1, s2 = x.funnel_summary(**question), y.funnel_summary(**question)
        assert (s2.counts, s2.stopped, s2.latest) == (s1.counts, s1.stopped, s1.latest)
        c1, c2 = x.funnel_correlation(**question), y.funnel_correlation(**question)
        assert (c2.entered, c2.converted, c2.events) == (c1.entered, c1.converted, c1.events)
        # the one-call answer (scratch tables on chdb), of all sessions and of about half;
        # per session without property counts, as the selector asks
        full = x.funnel_why(**question, properties=False)
        assert len(full.depth) == c1.entered > 0
        for sample in (None, 5000):
            w1 = x.funnel_why(**question, sample=sample, properties=False)
            w2 = y.funnel_why(**question, sample=sample, properties=False)
            assert (w2.depth, w2.correlation.events) == (w1.depth, w1.correlation.events)
            assert set(w2.depth) == {k for k in full.depth if sampling.in_sample(k, sample)}
    paths = {"workspace_id": workspace.pk, "max_steps": 5, "within": None, "by_channel": False,
             "since": T0, "until": None, "customer_ids": None, "top": 20}  # fmt: skip
    for start, end in (("Home", "Order"), ("Home", ""), ("", "Order")):
        p1 = x.path_counts(start=start, end=end, **paths)
        assert y.path_counts(start=start, end=end, **paths) == p1, (start, end)


# ------------------------------------------------------------------ trends, page and API

RANGE = {"date_from": "2025-03-02", "date_to": "2025-03-03"}


def test_api_trend_with_session_series(client, member, visits):
    client.force_login(member)

    response = client.post(
        "/api/trends",
        {"series": ["A", "$sessions", "$session_duration"], "by": "day", "formulas": ["A / B"],
         **RANGE},
        content_type="application/json",
    )  # fmt: skip

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["periods"] == ["2025-03-02", "2025-03-03"]
    a, b, c = body["lines"]
    assert (a["events"], b["events"], b["customers"]) == ([0, 5], [0, 7], [0, 4])
    assert (b["label"], c["label"]) == ("Sessions", "Session duration (s)")
    assert c["median_seconds"] == [None, 60]
    assert c["mean_seconds"][0] is None
    assert c["mean_seconds"][1] == pytest.approx(12060 / 7)
    assert b["median_seconds"] is None
    assert body["formulas"][0]["values"] == [None, pytest.approx(5 / 7)]


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({"series": [{"event": "$sessions", "channel": "web"}]}, "take no channel"),
        ({"series": ["$sessions"], "breakdown": "channel"}, "cannot be broken down"),
    ],
)
def test_api_session_series_refuse_what_they_cannot_do(client, member, visits, payload, says):
    client.force_login(member)
    response = client.post("/api/trends", payload, content_type="application/json")
    assert response.status_code == 422
    assert says in response.content.decode()


def test_trends_page_shows_session_series(client, member, visits):
    client.force_login(member)

    response = client.get(
        "/trends/", {"event": ["$sessions", "$session_duration"], "by": "day", **RANGE}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "B: Session duration (s) (median)" in page
    assert "B: Session duration (s) (mean)" in page
    csv = client.get(
        "/trends/", {"event": ["$sessions", "$session_duration"], "format": "csv", **RANGE}
    ).content.decode()
    assert csv.splitlines()[-1].startswith("2025-03-03,7,60")


def test_session_settings_page_saves_and_refuses_bad_input(client, member, visits):
    client.force_login(member)
    assert client.get("/trends/sessions/").status_code == 200

    saved = client.post("/trends/sessions/", {"timeout_minutes": "45", "session_property": "sid"})
    bad = client.post("/trends/sessions/", {"timeout_minutes": "0", "session_property": "a b"})

    assert saved.status_code == 302
    visits.refresh_from_db()
    assert (visits.session_timeout_minutes, visits.session_property) == (45, "sid")
    assert bad.status_code == 422
    assert "inactivity timeout: 0 is outside 1–1440" in bad.content.decode()
    assert "session id property:" in bad.content.decode()


# ------------------------------------------------------------------ funnels and paths, both ways


@pytest.mark.parametrize(("per", "counts"), [("customer", [4, 4]), ("session", [4, 3])])
def test_api_funnel_counts_per_customer_or_session(client, member, visits, per, counts):
    client.force_login(member)
    body = {"steps": ["A", "B"], "window_seconds": None, "per": per, **RANGE}

    funnel = client.post("/api/funnels", body, content_type="application/json")
    correlation = client.post("/api/funnels/correlation", body, content_type="application/json")

    assert funnel.status_code == 200, funnel.content
    assert (funnel.json()["per"], funnel.json()["counts"]) == (per, counts)
    found = correlation.json()
    assert (found["entered"], found["converted"]) == (4, counts[1])
    # per customer, u1 and u2 went on to C (and u2 to D) after converting; in their sessions
    # that converted, nobody did anything else
    events = {e["event"]: (e["converted_with"], e["dropped_with"]) for e in found["events"]}
    assert events == ({"C": (2, 0), "D": (1, 0)} if per == "customer" else {})


def test_api_funnel_refuses_an_unknown_count_per(client, member, visits):
    client.force_login(member)
    response = client.post(
        "/api/funnels", {"steps": ["A", "B"], "per": "visit"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert "per" in response.content.decode()


@pytest.mark.parametrize(("per", "started", "completed"), [("customer", 4, 4), ("session", 4, 3)])
def test_api_paths_per_customer_or_session(client, member, visits, per, started, completed):
    client.force_login(member)

    response = client.get("/api/paths", {"start": "A", "end": "B", "per": per, **RANGE})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["per"], body["started"], body["completed"]) == (per, started, completed)
    assert body["paths"][0]["steps"] == ["A", "B"]
    assert body["paths"][0]["customers"] == completed


def test_funnel_and_paths_pages_count_per_session(client, member, visits):
    client.force_login(member)

    funnel = client.get(
        "/journeys/funnel/", {"step": ["A", "B"], "per": "session", "window": "", **RANGE}
    )
    paths = client.get("/paths/", {"start": "A", "end": "B", "per": "session", **RANGE})

    assert funnel.status_code == 200
    assert "4 sessions started · 3 finished" in funnel.content.decode()
    assert paths.status_code == 200
    page = paths.content.decode()
    assert "Paths by sessions" in page
    assert 'id="stat-completed">3<' in page
