"""The analytics engine: events reach it exactly once through the outbox (merges, erasure,
crashes, duplicates, rebuilds), and it answers like the system of record.

The behavioural suites (funnels in test_journeys_funnel.py, retention and cohorts in
test_metrics_selectors.py) run on both engines through the ``each_engine`` fixture; this file
covers what is the engine's own: delivery, the store's owner process, SQL edge cases.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

from cxloop.analytics import clickhouse as ch
from cxloop.analytics.engine import ClickHouseEngine
from cxloop.analytics.owner import OwnerClient
from cxloop.analytics.periods import Granularity
from cxloop.analytics.services import engine_drain, engine_rebuild
from cxloop.analytics.sqlengine import SqlEngine
from cxloop.analytics.transports import EngineUnavailable
from cxloop.customers.models import Customer
from cxloop.customers.privacy import customer_erase
from cxloop.events.models import Event, EventOutbox
from cxloop.events.services import events_outbox_add
from cxloop.journeys.definitions import Condition, RuleSpec, parse_steps
from factories import customer_id, ingest, track

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
_ids = itertools.count()


def ev(who: str, name: str, minutes: float, channel: str = "web", **props) -> dict:
    return track(
        who, name, T0 + timedelta(minutes=minutes), channel=channel,
        message_id=f"{who}-{name}-{minutes}-{channel}-{next(_ids)}", **props,
    )  # fmt: skip


def drain_all(engine: ClickHouseEngine) -> int:
    copied = 0
    while result := engine_drain(engine=engine):
        copied += result.copied
    return copied


def held(engine: ClickHouseEngine, workspace) -> list[tuple[int, int]]:
    """(event id, customer id) of every event the engine holds for ``workspace``."""
    rows = engine.transport.query(
        ch.bind(
            "SELECT id, customer_id FROM events WHERE workspace_id = {w} ORDER BY id",
            {"w": workspace.pk},
        )
    )
    return [(int(i), int(c)) for i, c in rows]


def stored(workspace) -> list[tuple[int, int]]:
    return sorted(Event.objects.filter(workspace=workspace).values_list("pk", "customer_id"))


def same_answers(engine: ClickHouseEngine, workspace, steps: list) -> None:
    """The engine answers every question as the system of record does."""
    sql = SqlEngine()
    spec = parse_steps(steps)
    a = sql.funnel(workspace_id=workspace.pk, steps=spec, window=timedelta(days=1))
    b = engine.funnel(workspace_id=workspace.pk, steps=spec, window=timedelta(days=1))
    assert b.depth == a.depth
    assert b.start_channel == a.start_channel
    assert {c: [t.isoformat() for t in ts] for c, ts in b.times.items()} == {
        c: [_aware(t).isoformat() for t in ts] for c, ts in a.times.items()
    }
    for window in (timedelta(days=1), None):
        for latest in (1, 20):
            x = sql.funnel_summary(
                workspace_id=workspace.pk, steps=spec, window=window, latest=latest
            )
            y = engine.funnel_summary(
                workspace_id=workspace.pk, steps=spec, window=window, latest=latest
            )
            assert (y.counts, y.by_channel, y.stopped) == (x.counts, x.by_channel, x.stopped)
            assert y.latest == x.latest
            assert y.median_seconds == pytest.approx(x.median_seconds)
    assert engine.event_names(workspace_id=workspace.pk, limit=50) == sql.event_names(
        workspace_id=workspace.pk, limit=50
    )
    for by in Granularity:
        window = {"workspace_id": workspace.pk, "by": by}
        span = {"first": date(2025, 1, 1), "limit": date(2025, 7, 1)}
        assert engine.retention_counts(**window, **span) == sql.retention_counts(**window, **span)
        assert engine.cohort_counts(**window, **span) == sql.cohort_counts(**window, **span)


def _aware(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ------------------------------------------------------------------ delivery


def test_ingested_events_reach_the_engine_once(workspace, chdb_engine):
    ingest(workspace, [ev("a", "A", 0), ev("a", "B", 5), ev("b", "A", 1)])
    assert EventOutbox.objects.count() == 1  # one entry per stored batch

    assert drain_all(chdb_engine) == 3
    assert held(chdb_engine, workspace) == stored(workspace)
    assert EventOutbox.objects.count() == 0
    assert drain_all(chdb_engine) == 0  # nothing left, nothing copied twice


def test_a_duplicate_outbox_entry_copies_nothing_twice(workspace, chdb_engine):
    ingest(workspace, [ev("a", "A", 0), ev("a", "B", 5)])
    drain_all(chdb_engine)
    first, last = min(stored(workspace))[0], max(stored(workspace))[0]
    # the same range again (a retried drain, an overlapping PostgreSQL range)
    events_outbox_add(workspace_id=workspace.pk, first_event_id=first, last_event_id=last)
    events_outbox_add(workspace_id=workspace.pk, first_event_id=first, last_event_id=last + 99)

    assert drain_all(chdb_engine) == 0
    assert held(chdb_engine, workspace) == stored(workspace)


def test_a_resent_batch_is_refused_upstream_and_adds_no_entry(workspace, chdb_engine):
    messages = [ev("a", "A", 0), ev("a", "B", 5)]
    ingest(workspace, messages)
    drain_all(chdb_engine)

    from cxloop.events.services import events_ingest

    again = events_ingest(workspace=workspace, messages=messages)
    assert again.duplicates == 2
    assert EventOutbox.objects.count() == 0
    assert len(held(chdb_engine, workspace)) == 2


def test_a_drain_killed_between_its_inserts_loses_and_doubles_nothing(
    workspace, chdb_engine, monkeypatch
):
    ingest(workspace, [ev("a", "A", 0), ev("b", "A", 1), ev("b", "B", 2)])
    transport = chdb_engine.transport
    real_insert = transport.insert

    def dying_insert(table, columns, rows):
        if table == "event_keys":
            raise KeyboardInterrupt("killed")  # the events are in, their keys are not
        real_insert(table, columns, rows)

    monkeypatch.setattr(transport, "insert", dying_insert)
    with pytest.raises(KeyboardInterrupt):
        engine_drain(engine=chdb_engine)
    monkeypatch.setattr(transport, "insert", real_insert)
    assert EventOutbox.objects.count() == 1  # not acknowledged
    assert len(held(chdb_engine, workspace)) == 3  # events in, without keys

    # the owner restarts: it repairs the cut load, then drains again
    assert chdb_engine.repair() is True
    assert drain_all(chdb_engine) == 3
    assert held(chdb_engine, workspace) == stored(workspace)
    assert chdb_engine.repair() is False


def test_the_store_deleted_and_rebuilt_answers_the_same(workspace, chdb_engine):
    ingest(workspace, [ev(w, n, m) for w in "abcd" for n, m in (("A", 0), ("B", 9), ("C", 30))])
    drain_all(chdb_engine)
    before = chdb_engine.funnel(
        workspace_id=workspace.pk, steps=parse_steps(["A", "B", "C"]), window=None
    )

    chdb_engine.drop()  # the store's tables are gone
    with pytest.raises(Exception, match="events"):
        chdb_engine.event_names(workspace_id=workspace.pk, limit=5)
    copied = engine_rebuild(engine=chdb_engine)

    assert copied == 12
    assert held(chdb_engine, workspace) == stored(workspace)
    after = chdb_engine.funnel(
        workspace_id=workspace.pk, steps=parse_steps(["A", "B", "C"]), window=None
    )
    assert after.depth == before.depth and after.times == before.times


def test_a_merge_moves_the_events_in_the_engine_too(workspace, chdb_engine):
    ingest(workspace, [ev("anon-1", "A", 0) | {"userId": None, "anonymousId": "anon-1"}])
    ingest(workspace, [ev("u1", "B", 10)])
    drain_all(chdb_engine)
    assert len({c for _, c in held(chdb_engine, workspace)}) == 2
    # a message that links the two identities merges the profiles
    ingest(workspace, [ev("u1", "C", 20) | {"anonymousId": "anon-1"}])
    assert Customer.objects.filter(workspace=workspace, merged_into__isnull=True).count() == 1

    drain_all(chdb_engine)

    survivor = customer_id(workspace, "u1")
    assert held(chdb_engine, workspace) == stored(workspace)
    assert {c for _, c in held(chdb_engine, workspace)} == {survivor}
    run = chdb_engine.funnel(
        workspace_id=workspace.pk, steps=parse_steps(["A", "B", "C"]), window=None
    )
    assert run.depth == {survivor: 3}


def test_an_erased_customer_leaves_the_engine(workspace, chdb_engine):
    ingest(workspace, [ev("a", "A", 0), ev("b", "A", 1)])
    drain_all(chdb_engine)
    gone = Customer.objects.get(pk=customer_id(workspace, "a"))

    customer_erase(customer=gone, actor=None)
    drain_all(chdb_engine)

    assert held(chdb_engine, workspace) == stored(workspace)
    assert gone.pk not in {c for _, c in held(chdb_engine, workspace)}


def test_times_beyond_the_engine_calendar_are_kept_at_its_ends(workspace, chdb_engine):
    ingest(workspace, [ev("a", "Seed", 0)])
    old = Event.objects.create(
        workspace=workspace, customer_id=customer_id(workspace, "a"), type="track", name="Old",
        channel="web", occurred_at=datetime(1, 1, 1, tzinfo=UTC),
        received_at=datetime(1, 1, 1, tzinfo=UTC), message_id="old",
    )  # fmt: skip
    events_outbox_add(workspace_id=workspace.pk, first_event_id=old.pk, last_event_id=old.pk)

    assert drain_all(chdb_engine) == 2
    rows = chdb_engine.transport.query(
        ch.bind("SELECT toString(ts) FROM events WHERE id = {i}", {"i": old.pk})
    )
    assert rows == [["1900-01-01 00:00:00.000000"]]


# ------------------------------------------------------------------ same answers


def test_random_histories_get_the_same_answers_from_both_engines(workspace, chdb_engine):
    """Ties (same second, same microsecond), repeats, several channels, a merge."""
    rng = random.Random(20261129)
    messages = []
    for person in range(60):
        at = rng.randrange(0, 60 * 24 * 120)  # minutes over four months
        for _ in range(rng.randrange(1, 12)):
            at += rng.choice([0, 0, 0.5, 1, 7, 60, 60 * 30])  # many ties
            name = rng.choice(["A", "A", "B", "C", "D", "Other"])
            messages.append(ev(f"p{person}", name, at, rng.choice(["web", "app", "store"])))
    ingest(workspace, messages)
    ingest(workspace, [ev("p1", "D", 99) | {"anonymousId": "x"}, ev("p2", "A", 1) | {
        "anonymousId": "x"}])  # fmt: skip
    drain_all(chdb_engine)

    same_answers(chdb_engine, workspace, ["A", "B", "C", "D"])
    same_answers(chdb_engine, workspace, ["A", "A", "B"])  # a repeated step


def test_random_histories_get_the_same_paths_from_both_engines(workspace, chdb_engine):
    rng = random.Random(7)
    messages = []
    for person in range(50):
        at = rng.randrange(0, 60 * 24 * 30)
        for _ in range(rng.randrange(1, 15)):
            at += rng.choice([0, 0, 1, 5, 60, 60 * 24])
            name = rng.choice(["Home", "Home", "Product", "Cart", "Order", "Help"])
            messages.append(ev(f"p{person}", name, at, rng.choice(["web", "app"])))
    ingest(workspace, messages)
    drain_all(chdb_engine)
    sql = SqlEngine()
    names = chdb_engine.step_names(workspace_id=workspace.pk, limit=50)
    assert names == sql.step_names(workspace_id=workspace.pk, limit=50)
    assert names == ["Cart", "Help", "Home", "Order", "Product"]
    some = sorted({customer_id(workspace, f"p{i}") for i in range(0, 50, 3)})
    cases = [
        {"start": "Home", "end": "Order"},
        {"start": "Home", "end": "Order", "max_steps": 3},
        {"start": "Home", "end": "Order", "within": timedelta(hours=2)},
        {"start": "Home", "end": ""},
        {"start": "", "end": "Order", "within": timedelta(days=1)},
        {"start": "Home", "end": "Home"},
        {"start": "Home · app", "end": "Order", "by_channel": True},
        {"start": "Cart", "end": "Order", "since": T0 + timedelta(days=5)},
        {"start": "Cart", "end": "", "until": T0 + timedelta(days=9), "customer_ids": some},
        {"start": "Nothing", "end": "Order"},
    ]
    for case in cases:
        query = {
            "workspace_id": workspace.pk, "max_steps": 6, "within": None, "by_channel": False,
            "since": None, "until": None, "customer_ids": None, "top": 30,
        } | case  # fmt: skip
        expected = sql.path_counts(**query)
        assert chdb_engine.path_counts(**query) == expected, case
        if case == cases[0]:
            assert expected.completed > 5 and len(expected.top) > 3  # a real comparison


def test_random_histories_get_the_same_journey_maps_from_both_engines(workspace, chdb_engine):
    from cxloop.analytics.journeywalk import TouchpointRules

    rng = random.Random(11)
    messages = []
    for person in range(60):
        at = rng.randrange(0, 60 * 24 * 30)
        for _ in range(rng.randrange(1, 12)):
            at += rng.choice([0, 0, 1, 30, 60 * 24])
            name = rng.choice(["Ad", "Home", "Product", "Order", "Review", "Help"])
            messages.append(
                ev(f"p{person}", name, at, rng.choice(["web", "app", "store"]),
                   total=rng.choice([5, 50, "120", None]))
            )  # fmt: skip
    ingest(workspace, messages)
    drain_all(chdb_engine)
    rule = RuleSpec
    touchpoints = [
        TouchpointRules("ad", 0, (rule("Ad"),)),
        TouchpointRules("web", 0, (rule("Home", channel="web"), rule("Product", channel="web"))),
        TouchpointRules("app", 1, (rule("Product", channel="app"), rule("Home", channel="app"))),
        TouchpointRules("any", 1, (rule("Product"),)),  # shares events with the two above
        TouchpointRules("big", 2, (rule("Order", conditions=(Condition("total", "gt", 20),)),)),
        TouchpointRules("order", 2, (rule("Order"),)),
        TouchpointRules("review", 3, (rule("Review"),)),
        TouchpointRules("unused", 3, (rule("Nothing"),)),
    ]
    query = {"workspace_id": workspace.pk, "stages": 5, "touchpoints": touchpoints}

    expected = SqlEngine().journey_walk(**query)
    got = chdb_engine.journey_walk(**query)

    assert got.metrics == expected.metrics
    assert got.current == {c: (s, _aware(t)) for c, (s, t) in expected.current.items()}
    assert expected.metrics["stages"][1]["converted"] > 3  # a real comparison


CONDITION_VALUES = [
    None, True, False, 0, 5, 5.5, -2, 10**12, "5", " 5 ", "5.0", "abc", "ABC", "Leeds Briggate",
    "", "it's \\ odd", "ünïcode", [1, 2], ["a", "B"], ["5"], {"x": 1}, [],
]  # fmt: skip
CONDITIONS = [
    Condition("v", "exists"),
    *[Condition("v", op, value) for op in ("eq", "neq", "contains")
      for value in (5, "5", "abc", "b", True, "true", "it's \\ odd", "ü", "", "leeds")],
    *[Condition("v", op, value) for op in ("gt", "gte", "lt", "lte") for value in (0, 5, 5.5, -3)],
    Condition("nested.deep", "eq", "yes"),
    Condition("nested.deep", "exists"),
]  # fmt: skip


def test_step_conditions_match_as_the_python_rules_do(workspace, chdb_engine):
    """Each condition, on each kind of property value, in SQL and in Python."""
    values = [*CONDITION_VALUES]
    messages = [ev(f"c{i}", "E", i, v=value) for i, value in enumerate(values)]
    messages.append(ev("n1", "E", 99, nested={"deep": "YES"}))
    messages.append(ev("n2", "E", 99, nested="flat"))
    messages.append(ev("none", "E", 99))
    ingest(workspace, messages)
    drain_all(chdb_engine)
    sql = SqlEngine()
    for condition in CONDITIONS:
        steps = [RuleSpec("E", conditions=(condition,))]
        expected = sql.funnel(workspace_id=workspace.pk, steps=steps, window=None).depth
        got = chdb_engine.funnel(workspace_id=workspace.pk, steps=steps, window=None).depth
        assert got == expected, condition


def test_hostile_names_are_bound_not_spliced(workspace, chdb_engine):
    names = [
        "it's",
        "back\\slash",
        "{workspace}",
        "'; DROP TABLE events; --",
        "tab\tand\nnewline",
        "é",
    ]
    ingest(workspace, [ev("a", name, i) for i, name in enumerate(names)])
    drain_all(chdb_engine)

    run = chdb_engine.funnel(workspace_id=workspace.pk, steps=parse_steps(names[:5]), window=None)

    assert run.depth == {customer_id(workspace, "a"): 5}
    assert sorted(n for n, _ in chdb_engine.event_names(workspace_id=workspace.pk, limit=9)) == (
        sorted(names)
    )


def test_funnel_only_some_customers(workspace, chdb_engine):
    ingest(workspace, [ev(w, n, m) for w in "abc" for n, m in (("A", 0), ("B", 5))])
    drain_all(chdb_engine)
    a = customer_id(workspace, "a")

    run = chdb_engine.funnel(
        workspace_id=workspace.pk, steps=parse_steps(["A", "B"]), window=None, only={a}
    )
    nobody = chdb_engine.funnel(
        workspace_id=workspace.pk, steps=parse_steps(["A", "B"]), window=None, only=set()
    )

    assert run.depth == {a: 2}
    assert nobody.depth == {}


# ------------------------------------------------------------------ the owner process


@pytest.mark.live
def test_owner_answers_other_processes_while_imports_run(tmp_path, settings):
    """The store's owner (``cxloop engine serve``), two CLI imports writing at once, and this
    process asking the owner over its socket meanwhile, as a web process does: no lock errors,
    and in the end every event is in the engine exactly once."""
    home = tmp_path / "home"
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "CXLOOP_HOME": str(home),
        "CXLOOP_SECRET_KEY": settings.SECRET_KEY,  # the socket's key is derived from it
        "CXLOOP_ANALYTICS": "embedded",
    }
    cli = [sys.executable, "-m", "cxloop"]
    run = {"env": env, "check": True, "capture_output": True, "timeout": 120}
    subprocess.run([*cli, "workspace", "create", "Load", "--slug", "load"], **run)
    files = []
    for part in range(2):
        path = tmp_path / f"events{part}.jsonl"
        lines = [
            orjson.dumps(
                {"type": "track", "userId": f"u{part}-{i % 500}", "event": ["A", "B", "C"][i % 3],
                 "timestamp": (T0 + timedelta(seconds=i)).isoformat(),
                 "messageId": f"m{part}-{i}"}
            ).decode()
            for i in range(6000)
        ]  # fmt: skip
        path.write_text("\n".join(lines) + "\n")
        files.append(path)
    owner = subprocess.Popen(
        [*cli, "engine", "serve", "--interval", "0.2"], env=env, stderr=subprocess.PIPE
    )
    socket = home / "engine.sock"
    client = OwnerClient(socket if len(str(socket)) < 100 else None)
    try:
        deadline = time.monotonic() + 60
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        imports = [
            subprocess.Popen(
                [*cli, "import", "events", str(path), "--workspace", "load"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for path in files
        ]
        answers = 0
        while any(p.poll() is None for p in imports):
            client.query("SELECT count() FROM events")  # a web request meanwhile
            answers += 1
            time.sleep(0.05)
        for p in imports:
            _, err = p.communicate()
            assert p.returncode == 0, err.decode()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            total, distinct = client.query("SELECT count(), uniqExact(id) FROM events")[0]
            if total >= 12000:
                break
            time.sleep(0.2)
        # fixed-width rows come back as bytes (RowBinary: a little-endian UInt64 here)
        held = client.query_bytes("SELECT toUInt64(count()) FROM events", "RowBinary")
    finally:
        owner.terminate()
        owner.wait(timeout=30)
    assert answers > 0
    assert (total, distinct) == (12000, 12000)
    assert held == (12000).to_bytes(8, "little")
    assert owner.returncode == 0, owner.stderr.read().decode() if owner.stderr else ""


def test_a_page_says_when_the_engine_is_down(client, member, settings, tmp_path, monkeypatch):
    from cxloop.analytics import owner, selectors

    settings.CXLOOP_ANALYTICS = "embedded"
    monkeypatch.setattr(owner, "socket_path", lambda: tmp_path / "nobody-listens.sock")
    selectors._engine_for.cache_clear()
    client.force_login(member)
    try:
        page = client.get("/journeys/funnel/", {"step": ["A", "B"]})
        api = client.post("/api/funnels", {"steps": ["A", "B"]}, content_type="application/json")
    finally:
        selectors._engine_for.cache_clear()

    assert page.status_code == 503
    assert page["Retry-After"] == "10"
    assert b"Analytics are temporarily unavailable" in page.content
    assert b"not running" in page.content
    assert api.status_code == 503
    assert "not running" in api.json()["detail"]
    with pytest.raises(EngineUnavailable):
        OwnerClient(tmp_path / "nobody-listens.sock").query("SELECT 1")


def test_an_answer_that_cannot_be_read_is_an_engine_error_not_a_dead_owner():
    """Seen at 10M events: after a failed query, chdb's next answer in that session carried text
    after its JSON document; the owner's handler died on it and the page said the engine had
    stopped. Now the asker gets the engine's error and the owner answers the next request."""
    from cxloop.analytics import owner
    from cxloop.analytics.transports import EngineError, _rows

    assert _rows(b'{"meta": [], "data": [[1, "a"]]}') == [[1, "a"]]
    assert _rows(b"") == []
    with pytest.raises(EngineError, match="cannot be read"):
        _rows(b'{"meta": [], "data": [[1]]}\nCode: 190. DB::Exception: sizes differ')

    class Replies:
        def __init__(self, *answers):
            self.answers = list(answers)

        def query(self, sql):
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return _rows(answer)

    class Engine:
        transport = Replies(b'{"data": [[1]]}\ngarbage', ValueError("odd"), b'{"data": [[2]]}')

    first = owner._answer(Engine(), ("query", "SELECT 1"))
    assert first[0] == "error" and "cannot be read" in first[1]
    assert owner._answer(Engine(), ("query", "SELECT 1")) == ("error", "ValueError: odd")
    assert owner._answer(Engine(), ("query", "SELECT 2")) == ("ok", [[2]])


# the events table as stores made before 2026-12-01 hold it: sorted by customer, no bucket
OLD_EVENTS = """CREATE TABLE events (workspace_id UInt32, customer_id UInt64,
    ts DateTime64(6, 'UTC'), id UInt64, type LowCardinality(String), name LowCardinality(String),
    channel LowCardinality(String), properties String CODEC(ZSTD(1))
) ENGINE = MergeTree ORDER BY (workspace_id, customer_id, ts, id)"""


def test_a_store_in_the_old_order_is_copied_into_the_sample_order(chdb_engine):
    from cxloop.analytics.chstore import RELAYOUT

    # given: a store from before the sample bucket, with two events, and the copy a relayout
    # cut short would have left
    t = chdb_engine.transport
    t.command("DROP VIEW customer_days_mv")
    t.command("DROP TABLE events")
    t.command(OLD_EVENTS)
    t.command(
        "INSERT INTO events VALUES (7, 1, '2026-01-01 10:00:00', 10, 'track', 'A', 'web', '{}'),"
        " (7, 2, '2026-01-02 11:00:00', 11, 'track', 'B', 'app', '{\"x\":1}')"
    )
    t.command(f"CREATE TABLE {RELAYOUT} (x UInt8) ENGINE = Memory")

    # when: the owner opens the store
    chdb_engine.setup()

    # then: the same events, now in (workspace, bucket, customer, ts, id) order
    key = t.query("SELECT sorting_key FROM system.tables WHERE database = currentDatabase() "
                  "AND name = 'events'")  # fmt: skip
    assert key == [["workspace_id, bucket, customer_id, ts, id"]]
    assert t.query(
        "SELECT workspace_id, customer_id, toString(ts), id, type, name, channel, properties,"
        " bucket FROM events ORDER BY id"
    ) == [
        # buckets by hand: 1 × 2654435761 mod 2^32 = 2654435761 → 5761;
        # 2 × 2654435761 = 5308871522 − 4294967296 = 1013904226 → 4226
        [7, 1, "2026-01-01 10:00:00.000000", 10, "track", "A", "web", "{}", 5761],
        [7, 2, "2026-01-02 11:00:00.000000", 11, "track", "B", "app", '{"x":1}', 4226],
    ]
    assert t.query(f"EXISTS TABLE {RELAYOUT}") == [[0]]
    # and the customer days still follow new events
    t.command("INSERT INTO events (workspace_id, customer_id, ts, id, type, name, channel, "
              "properties) VALUES (7, 3, '2026-01-05 09:00:00', 12, 'track', 'C', 'web', '{}')")  # fmt: skip
    assert t.query(
        "SELECT toString(day), customer_id FROM customer_days WHERE workspace_id = 7"
    ) == [["2026-01-05", 3]]
    chdb_engine.setup()  # opened again: nothing to do
    assert t.query("SELECT count() FROM events") == [[3]]


def test_why_they_dropped_leaves_no_scratch_table_behind(workspace, chdb_engine, monkeypatch):
    from cxloop.analytics import funnelsql
    from cxloop.analytics.transports import EngineError

    ingest(workspace, [ev("a", "Home", 0), ev("a", "Search", 1), ev("a", "Order Completed", 2),
                       ev("b", "Home", 0), ev("b", "Help", 1)])  # fmt: skip
    drain_all(chdb_engine)
    steps = parse_steps(["Home", "Order Completed"])
    scratch = "SELECT count() FROM system.tables WHERE is_temporary AND name LIKE 'why\\_%'"

    why = chdb_engine.funnel_why(workspace_id=workspace.pk, steps=steps, window=None)
    assert (why.correlation.entered, why.correlation.converted) == (2, 1)
    assert why.correlation.events == {"Search": (1, 0), "Help": (0, 1)}
    assert chdb_engine.transport.query(scratch) == [[0]]

    # a read that fails still drops both tables
    monkeypatch.setattr(funnelsql, "why_read_sql", lambda *a, **k: "SELECT no_such_column")
    with pytest.raises(EngineError):
        chdb_engine.funnel_why(workspace_id=workspace.pk, steps=steps, window=None)
    assert chdb_engine.transport.query(scratch) == [[0]]


def test_a_store_that_cannot_be_copied_still_answers_its_samples(chdb_engine, monkeypatch):
    from cxloop.analytics.transports import EngineError

    # given: a store in the old order, and an engine that refuses the swap (a filesystem
    # without an atomic exchange, say) after the view of customer days was dropped
    t = chdb_engine.transport
    t.command("DROP VIEW customer_days_mv")
    t.command("DROP TABLE events")
    t.command(OLD_EVENTS)
    t.command(
        "INSERT INTO events VALUES (7, 1, '2026-01-01 10:00:00', 10, 'track', 'A', 'web', '{}')"
    )
    command = t.command

    def refuse_the_swap(sql: str) -> None:
        if sql.startswith("EXCHANGE TABLES"):
            raise EngineError("EXCHANGE is not supported here")
        command(sql)

    monkeypatch.setattr(t, "command", refuse_the_swap)

    # when
    chdb_engine.setup()

    # then: the old order stays, with its bucket computed on read (5761 for customer 1, by
    # hand above), the copy is gone and new events still reach the customer days
    key = t.query("SELECT sorting_key FROM system.tables WHERE database = currentDatabase() "
                  "AND name = 'events'")  # fmt: skip
    assert key == [["workspace_id, customer_id, ts, id"]]
    assert t.query("SELECT customer_id, bucket FROM events WHERE bucket < 5762") == [[1, 5761]]
    assert t.query("EXISTS TABLE events_relayout") == [[0]]
    t.command("INSERT INTO events (workspace_id, customer_id, ts, id, type, name, channel, "
              "properties) VALUES (7, 3, '2026-01-05 09:00:00', 12, 'track', 'C', 'web', '{}')")  # fmt: skip
    assert t.query("SELECT customer_id FROM customer_days WHERE workspace_id = 7") == [[3]]

    # and the next start, able to swap, copies it into the sample order
    monkeypatch.setattr(t, "command", command)
    chdb_engine.setup()
    key = t.query("SELECT sorting_key FROM system.tables WHERE database = currentDatabase() "
                  "AND name = 'events'")  # fmt: skip
    assert key == [["workspace_id, bucket, customer_id, ts, id"]]
    assert t.query("SELECT count() FROM events") == [[2]]


def test_a_store_made_anew_beside_old_data_is_filled_again(workspace, chdb_engine):
    from cxloop.analytics.services import engine_refill_if_lost

    ingest(workspace, [ev(w, n, m) for w in "ab" for n, m in (("A", 0), ("B", 9))])
    # while the outbox still holds the events, the drain fills the store: nothing to refill
    assert EventOutbox.objects.exists()
    assert engine_refill_if_lost(engine=chdb_engine) is None
    drain_all(chdb_engine)
    assert engine_refill_if_lost(engine=chdb_engine) is None  # the store holds them
    # when: the store is made anew (its directory deleted, the database restored) after the
    # outbox was drained
    chdb_engine.drop()
    chdb_engine.setup()
    assert chdb_engine.held_count() == 0 and not EventOutbox.objects.exists()
    # then: every event is copied again, once
    assert engine_refill_if_lost(engine=chdb_engine) == 4
    assert held(chdb_engine, workspace) == stored(workspace)
    assert engine_refill_if_lost(engine=chdb_engine) is None
