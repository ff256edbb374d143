"""Engine benchmark: the same behavioural queries on SQLite, DuckDB, chdb (ClickHouse) and cxloop.

Run from the repository root, with the bench's own virtual environment (the engines are not
project dependencies; see bench/README.md)::

    python3 -m venv /tmp/engine-venv
    /tmp/engine-venv/bin/pip install chdb duckdb pyarrow orjson numpy "django>=5.2,<5.3"
    /tmp/engine-venv/bin/python bench/engines.py                   # 2,000,000 events, 50,000 customers
    /tmp/engine-venv/bin/python bench/engines.py --events 200000   # quick check

Generates N synthetic events (same seed, same data) into a scratch directory as an SQLite
database (cxloop's event columns and text times), one Parquet file, the same rows as many
Parquet parts (as one drainer appending would write them) and a chdb MergeTree store, then
runs a 5-step funnel with a 1-day conversion window and a daily cohort-retention table on every
engine, each engine in its own child process (peak RSS per engine), one untimed run then
``--repeat`` timed runs (median). Every engine must return exactly the same result; the run
fails otherwise. Times are printed as ratios against the fastest SQLite baseline of the same run.

Funnel, as ``cxloop.analytics.walk`` defines it: a customer's *start* is any step-1 event; from a
start, step k is the earliest step-k event strictly later in time than the step k-1 taken and no
later than start + window (inclusive); the customer reaches step k when some start does. Times
are whole seconds and events in the same second are NOT ordered: none of them is after another
(so they never chain, and the event id plays no part). The data holds deliberate same-second ties.

Retention: a customer's cohort is the UTC day of their first event (any name); the table counts,
per cohort day and offset n = 0..7, the customers of that cohort with any event on cohort + n.

Trend: per series (the funnel's first and last step) and UTC day, events and unique customers,
as the trends page asks (``analytics.trendwalk``'s rules): cxloop's engine through its
``trend_counts`` against the same GROUP BY written directly for each engine.

Sessions: per UTC day of a session's first event, sessions started and the median and mean of
their durations (``analytics.sessions``' rules: a gap over 30 minutes starts a session; the data
has no session ids): cxloop's ``session_trend`` against SQLite window functions (LAG, a running
SUM, ROW_NUMBER for the median) and chdb arrays per customer, written directly.

Why they dropped: the funnel's correlation counts on a repeatable sample of its customers (those
whose Knuth hash of the id modulo 10,000 is below ``WHY_RATE``, ``analytics.sampling``'s rule):
how many entered and converted, and per event name outside the steps the converted and dropped
entrants who did it between their start and the end of its window (the start counted: the
earliest one whose chain reaches the customer's furthest step). cxloop's ``funnel_why`` (what
the funnel page's "why they dropped" asks, property counts included) against one query written
directly for chdb: every event of each sampled customer in one GROUP BY, the chain from each start
with ``arrayFold``, the window's distinct names with ``arrayFilter``, on a MergeTree sorted by the
sample's bucket (the layout a ClickHouse user would pick for a sampled question).

Paths: the path view's question from the funnel's first step to its last (``analytics.pathwalk``'s
rules: each customer's steps by time then id, repeats collapsed; from each start in turn, the end
within the next 5 steps, a fresh start breaking the attempt): the customers who started, those who
reached the end, and the 10 commonest paths. cxloop's ``path_counts`` against one query written
directly for chdb (arrays per customer who did the start).

Before and personas (cxloop's engine only, no baselines; their parity with the database's walk
is tested in tests/test_analytics_before.py): "before churn" (``last_steps_before``: the last 3
steps of customers with no event since day 20, and of everyone else) and personas' aggregates
(``behaviour_counts``: a row per customer and channel, per customer and event name, and per
customer's orders, all brought into Python).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

os.environ["TZ"] = "UTC"  # chdb's toDate() and DuckDB's casts: days are UTC days
if hasattr(time, "tzset"):
    time.tzset()

REPO = Path(__file__).resolve().parents[1]
# the same funnel steps, event mix and start date as bench/funnel.py
from funnel import NAME_ROLLS, START, STEPS  # noqa: E402 (after TZ is set; a sibling script)

DAYS = 30  # a customer's first day is one of 30 ...
MAX_SPAN_DAYS = 10  # ... and their events fall within 1..10 days from then
PARTS = 200  # the same events also as this many Parquet files, as a drainer would write them
TIE_SHARE = 0.05  # share of events given the same second as the customer's previous event
WINDOW = 86400  # funnel conversion window, seconds
OFFSETS = 7  # retention: offsets 0..7 days
ENGINES = {
    "sqlite-cte": "SQLite materialized CTEs",
    "sqlite-window": "SQLite window functions",
    "duckdb-parquet": "DuckDB over Parquet",
    "duckdb-parts": "DuckDB over Parquet parts",
    "chdb-parquet": "chdb over Parquet",
    "chdb-parts": "chdb over Parquet parts",
    "chdb-mergetree": "chdb MergeTree, 1 session",
    "cxloop-engine": "cxloop's engine (its schema and SQL, chdb)",
    "cxloop-walk": "cxloop funnel_run (Python walk)",
}
BASELINES = ("sqlite-cte", "sqlite-window")
QUERIES = ("funnel", "retention", "trend", "sessions", "why", "paths", "before", "personas")
TREND_SERIES = (STEPS[0], STEPS[-1])
SESSION_GAP = 1800  # seconds: cxloop's default session timeout
SESSION_ENGINES = ("sqlite-window", "chdb-mergetree", "cxloop-engine")
WHY_ENGINES = ("chdb-mergetree", "cxloop-engine")  # also the path view's
PATH_STEPS, PATH_TOP = 6, 10  # the path view's defaults: up to 6 steps, the top 10 paths
# of every 10,000 customers, the sample "why they dropped" reads: about 10,000 of 250,000 (the
# page's CORRELATION_SAMPLE at 10M events), 2,000 of the default 50,000
WHY_RATE = 400
ENGINE_ONLY = ("before", "personas")  # cxloop's engine only: its own speed, no baselines
CHURN_DAY = 20  # "before churn": customers with no event since START + 20 days


# ---------------------------------------------------------------------------- data


def generate(
    directory: Path, events: int, customers: int, seed: int, ties: float, parts: int
) -> dict:
    """Write events.parquet, events.sqlite3 and the chdb store; return what was made."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    first_day = rng.integers(0, DAYS, customers)
    span = rng.integers(1, MAX_SPAN_DAYS + 1, customers) * 86400
    customer = rng.integers(0, customers, events)
    ts = (
        START + first_day[customer] * 86400 + (rng.random(events) * span[customer]).astype(np.int64)
    )
    rolls = rng.integers(0, 1000, events)
    limits = np.array([roll for roll, _ in NAME_ROLLS])
    names = np.array([name for _, name in NAME_ROLLS], dtype=object)[
        np.searchsorted(limits, rolls, side="right")
    ]
    order = np.lexsort((ts, customer))  # by customer, then time: make same-second ties
    customer, ts, names = customer[order], ts[order], names[order]
    tie = (rng.random(events) < ties) & np.concatenate(([False], customer[1:] == customer[:-1]))
    ts = np.where(tie, np.concatenate(([0], ts[:-1])), ts)
    order = np.lexsort((customer, ts))  # arrival order: by time; the id follows it
    customer, ts, names = customer[order] + 1, ts[order], names[order]
    ids = np.arange(1, events + 1, dtype=np.int64)

    table = pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "customer_id": pa.array(customer.astype(np.int64), pa.int64()),
            "name": pa.array(names.tolist(), pa.string()),
            "ts": pa.array(ts.astype("datetime64[s]"), pa.timestamp("s")),
        }
    )
    pq.write_table(table, directory / "events.parquet")
    # the same events as immutable parts in arrival order, as one drainer appending would leave them
    (directory / "parts").mkdir()
    size = -(-events // parts)
    for number, offset in enumerate(range(0, events, size)):
        pq.write_table(table.slice(offset, size), directory / "parts" / f"{number:05d}.parquet")

    text = np.char.replace(np.datetime_as_string(ts.astype("datetime64[s]"), unit="s"), "T", " ")
    db = sqlite3.connect(directory / "events.sqlite3")
    db.executescript(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
        # cxloop's events_event columns that these queries read, times as Django stores them
        "CREATE TABLE events_event (id INTEGER PRIMARY KEY, workspace_id INTEGER NOT NULL,"
        " customer_id INTEGER NOT NULL, name TEXT NOT NULL, occurred_at TEXT NOT NULL);"
    )
    db.executemany(
        "INSERT INTO events_event VALUES (?, 1, ?, ?, ?)",
        zip(ids.tolist(), customer.tolist(), names.tolist(), text.tolist(), strict=True),
    )
    db.executescript(
        # the funnel's covering index (bench/funnel.py --covering-index) and one for retention
        "CREATE INDEX ev_funnel ON events_event (workspace_id, name, customer_id, occurred_at);"
        "CREATE INDEX ev_customer ON events_event (workspace_id, customer_id, occurred_at);"
        "ANALYZE;"
    )
    db.commit()
    db.close()

    from chdb import session

    store = session.Session(str(directory / "chdb"))
    store.query(
        "CREATE TABLE events (id UInt64, customer_id UInt64, name LowCardinality(String),"
        " ts DateTime('UTC')) ENGINE = MergeTree ORDER BY (customer_id, ts)"
    )
    store.query(
        f"INSERT INTO events SELECT id, customer_id, name, ts FROM file('{directory}/events.parquet',"
        " Parquet)"
    )
    store.query("OPTIMIZE TABLE events FINAL")
    # the same events sorted by the sample bucket first, for the sampled question ("why")
    store.query(
        "CREATE TABLE events_sampled (id UInt64, customer_id UInt64, name LowCardinality(String),"
        " ts DateTime('UTC'), bucket UInt16 MATERIALIZED"
        " ((customer_id * 2654435761) % 4294967296) % 10000)"
        " ENGINE = MergeTree ORDER BY (bucket, customer_id, ts)"
    )
    store.query("INSERT INTO events_sampled SELECT id, customer_id, name, ts FROM events")
    store.query("OPTIMIZE TABLE events_sampled FINAL")
    store.close()
    cxloop_store(directory)

    # same-second pairs of funnel events of one customer: the rule above decides these
    funnel = np.isin(names, STEPS)
    keys = customer[funnel].astype(np.int64) * 2**32 + ts[funnel]
    _, per_key = np.unique(keys, return_counts=True)
    return {"tie_groups": int((per_key > 1).sum()), "funnel_events": int(funnel.sum())}


# ---------------------------------------------------------------------------- queries


def sqlite_funnel_cte() -> str:
    """Per start, the greedy chain step by step; each step a materialized CTE of the starts that
    reached it, its time found by a correlated MIN over the covering index."""
    parts = [
        "s1 AS MATERIALIZED (SELECT customer_id AS c, occurred_at AS t, "
        f"datetime(occurred_at, '+{WINDOW} seconds') AS tmax "
        "FROM events_event WHERE workspace_id = 1 AND name = ?)"
    ]
    for k in range(2, len(STEPS) + 1):
        parts.append(
            f"s{k} AS MATERIALIZED (SELECT c, t, tmax FROM (SELECT c, tmax, "
            "(SELECT MIN(e.occurred_at) FROM events_event e WHERE e.workspace_id = 1 "
            "AND e.name = ? AND e.customer_id = s.c AND e.occurred_at > s.t "
            f"AND e.occurred_at <= s.tmax) AS t FROM s{k - 1} s) WHERE t IS NOT NULL)"
        )
    counts = ", ".join(f"(SELECT COUNT(DISTINCT c) FROM s{k})" for k in range(1, len(STEPS) + 1))
    return f"WITH {', '.join(parts)} SELECT {counts}"


def window_funnel_sql(source: str, time: str, frame: str, plus_window: str) -> str:
    """The funnel as layers of window functions (SQLite, DuckDB).

    Layer k keeps, for each step-k event, the latest start from which some chain reaches it:
    the latest such start of step k-1 among the customer's strictly earlier events (``frame``:
    every earlier peer group), if the event lies within that start's window. The latest start
    is the one that leaves most room, so a customer reaches step k iff some event has one.
    """
    kinds = " ".join(f"WHEN '{name}' THEN {k}" for k, name in enumerate(STEPS, 1))
    names = ", ".join(f"'{name}'" for name in STEPS)
    layers = [
        f"l1 AS (SELECT customer_id AS c, {time} AS t, CASE name {kinds} END AS k, "
        f"CASE WHEN name = '{STEPS[0]}' THEN {time} END AS s1 FROM {source} "
        f"name IN ({names}))"
    ]
    for k in range(2, len(STEPS) + 1):
        kept = ", ".join(f"s{j}" for j in range(1, k))
        layers.append(
            f"l{k} AS (SELECT c, t, k, {kept}, CASE WHEN k = {k} AND t <= {plus_window.format('a')}"
            f" THEN a END AS s{k} FROM (SELECT c, t, k, {kept}, MAX(s{k - 1}) OVER "
            f"(PARTITION BY c ORDER BY t {frame}) AS a FROM l{k - 1}) x)"
        )
    counts = ", ".join(
        f"COUNT(DISTINCT CASE WHEN s{k} IS NOT NULL THEN c END)" for k in range(1, len(STEPS) + 1)
    )
    return f"WITH {', '.join(layers)} SELECT {counts} FROM l{len(STEPS)}"


def chdb_funnel(source: str, *, plain: bool = False) -> str:
    """ClickHouse's ``windowFunnel`` in 'strict_increase' mode (a step strictly later than the
    previous one), per customer, then customers per level reached.

    Plain ``windowFunnel`` differs from the rule on same-second ties: it orders one second's
    events by step and keeps, per level, only the latest start, so a step-k event in the same
    second as a step-(k+1) event replaces the chain the step-(k+1) event could have continued
    (seen here: 6 of 500 customers counted a step short). Fix used: time key = seconds * n +
    (n - step), window = seconds * n. Within one second a later step then sorts first, so
    same-second events never chain and never hide earlier chains; across seconds the order is
    the time order, and the window bound stays exact (a start is always step 1).
    """
    n = len(STEPS)
    conditions = ", ".join(f"name = '{name}'" for name in STEPS)
    names = ", ".join(f"'{name}'" for name in STEPS)
    if plain:
        key, window = "toDateTime(ts, 'UTC')", WINDOW
    else:
        rank = ", ".join(f"name = '{name}', {n - k}" for k, name in enumerate(STEPS, 1))
        key = f"toUInt64((toUnixTimestamp(ts) - {START}) * {n} + multiIf({rank}, 0))"
        window = WINDOW * n
    return (
        "SELECT level, count() FROM (SELECT customer_id, "
        f"windowFunnel({window}, 'strict_increase')({key}, {conditions}) AS level "
        f"FROM {source} WHERE name IN ({names}) GROUP BY customer_id) "
        "WHERE level > 0 GROUP BY level ORDER BY level"
    )


SQLITE_RETENTION_CTE = (
    "WITH days AS MATERIALIZED (SELECT DISTINCT customer_id AS c, substr(occurred_at, 1, 10) AS d"
    " FROM events_event WHERE workspace_id = 1),"
    " firsts AS MATERIALIZED (SELECT c, MIN(d) AS d0 FROM days GROUP BY c)"
    " SELECT f.d0, CAST(julianday(a.d) - julianday(f.d0) AS INTEGER) AS n, COUNT(*)"
    f" FROM days a JOIN firsts f ON f.c = a.c WHERE a.d <= date(f.d0, '+{OFFSETS} days')"
    " GROUP BY f.d0, n ORDER BY 1, 2"
)
SQLITE_RETENTION_WINDOW = (
    "SELECT d0, CAST(julianday(d) - julianday(d0) AS INTEGER) AS n, COUNT(*) FROM"
    " (SELECT d, MIN(d) OVER (PARTITION BY c) AS d0 FROM (SELECT DISTINCT customer_id AS c,"
    " substr(occurred_at, 1, 10) AS d FROM events_event WHERE workspace_id = 1))"
    f" WHERE d <= date(d0, '+{OFFSETS} days') GROUP BY 1, 2 ORDER BY 1, 2"
)


def duckdb_retention(source: str) -> str:
    return (
        "SELECT d0, n, count(*) FROM (SELECT d0, date_diff('day', d0, d) AS n FROM"
        " (SELECT d, min(d) OVER (PARTITION BY c) AS d0 FROM"
        f" (SELECT DISTINCT customer_id AS c, CAST(ts AS DATE) AS d FROM {source})))"
        f" WHERE n <= {OFFSETS} GROUP BY d0, n ORDER BY d0, n"
    )


def chdb_retention(source: str) -> str:
    return (
        "SELECT d0, n, count() FROM (SELECT customer_id, groupUniqArray(toDate(ts, 'UTC')) AS days,"
        f" arrayMin(days) AS d0 FROM {source} GROUP BY customer_id)"
        " ARRAY JOIN arrayMap(x -> dateDiff('day', d0, x), days) AS n"
        f" WHERE n <= {OFFSETS} GROUP BY d0, n ORDER BY d0, n"
    )


def chdb_why() -> str:
    """ "Why they dropped" on the sample, in one pass over the sampled customers' events: the
    chain from each start (greedy, strictly later, within the start's window), the furthest
    depth D and the earliest start reaching it, then the distinct names outside the steps in
    that start's window ('' once per entrant: the totals row)."""
    steps = ", ".join(f"'{name}'" for name in STEPS)
    later = ", ".join(
        f"arraySort(arrayFilter((t, m) -> m = '{name}', times, names))" for name in STEPS[1:]
    )
    return f"""
SELECT name, countIf(D = {len(STEPS)}) AS won, countIf(D < {len(STEPS)}) AS lost FROM (
    SELECT D, arrayJoin(arrayPushFront(arrayDistinct(arrayFilter(
        (m, t) -> t >= s0 AND t - s0 <= {WINDOW} AND m NOT IN ({steps}), names, times)), ''))
        AS name
    FROM (
        SELECT customer_id, groupArray(toInt64(toUnixTimestamp(ts))) AS times,
            groupArray(toString(name)) AS names,
            arraySort(arrayFilter((t, m) -> m = '{STEPS[0]}', times, names)) AS starts,
            [{later}] AS steps_later,
            arrayMap(s -> arrayFold((acc, tk) -> if(acc.1
                    AND (arrayFirstIndex(x -> x > acc.2 AND x - s <= {WINDOW}, tk) AS j) > 0,
                    (1, tk[j], toUInt8(acc.3 + 1)), (0, acc.2, acc.3)),
                steps_later, (1, s, toUInt8(1))).3, starts) AS depths,
            arrayMax(depths) AS D,
            starts[arrayFirstIndex(d -> d = D, depths)] AS s0
        FROM events_sampled WHERE bucket < {WHY_RATE}
        GROUP BY customer_id
        HAVING length(starts) > 0
    )
)
GROUP BY name ORDER BY name"""


def chdb_paths() -> str:
    """The path view's counts in one query: per customer who did the start, the collapsed
    labels, the first start whose next ``PATH_STEPS`` - 1 labels hold the end before another
    start, its path; then the top paths with the started and completed totals."""
    start, end = STEPS[0], STEPS[-1]
    return f"""
SELECT path, n, sum(s) OVER () AS started, sumIf(n, notEmpty(path)) OVER () AS completed FROM (
    SELECT path, count() AS n, sum(began) AS s FROM (
        SELECT customer_id,
            arraySort(x -> (x.2, x.3), groupArray((toString(name), ts, id))) AS raw,
            arrayMap(x -> x.1, arrayFilter((x, before) -> x.1 != before, raw,
                arrayPushFront(arrayPopBack(arrayMap(x -> x.1, raw)), ''))) AS labels,
            arrayFilter(i -> labels[i] = '{start}', arrayEnumerate(labels)) AS starts,
            length(starts) > 0 AS began,
            arrayMap(i -> arrayFirstIndex(l -> l IN ('{start}', '{end}'),
                arraySlice(labels, i + 1, {PATH_STEPS - 1})), starts) AS hits,
            arrayFirstIndex((i, h) -> h > 0 AND labels[i + h] = '{end}', starts, hits) AS w,
            if(w > 0, arraySlice(labels, starts[w], hits[w] + 1), []) AS path
        FROM events
        WHERE customer_id IN (SELECT customer_id FROM events WHERE name = '{start}')
        GROUP BY customer_id
    )
    GROUP BY path
)
QUALIFY notEmpty(path)
ORDER BY n DESC, path
LIMIT {PATH_TOP}"""


def path_rows(rows) -> list:
    """Comparable path rows: [started, completed, [[path, customers], ...] in order]."""
    if not rows:
        return [0, 0, []]
    return [int(rows[0][2]), int(rows[0][3]), [[list(path), int(n)] for path, n, _, _ in rows]]


def why_rows(rows) -> list[list]:
    """Comparable "why" rows: [name ('' for the totals), converted, dropped], sorted."""
    return sorted([str(name), int(won), int(lost)] for name, won, lost in rows)


def levels_to_counts(rows: list) -> list[int]:
    """windowFunnel's per-level customers -> customers reaching each step."""
    at_level = {int(level): int(n) for level, n in rows}
    return [sum(n for level, n in at_level.items() if level >= k) for k in range(1, len(STEPS) + 1)]


def csv_rows(text: str) -> list[list[str]]:
    return [line.replace('"', "").split(",") for line in text.strip().splitlines()]


def retention_rows(rows) -> list[list]:
    return [[str(d0), int(n), int(customers)] for d0, n, customers in rows]


def trend_sql(source: str, day: str, distinct: str) -> str:
    """Per series name and day: events and unique customers (the same text for every engine
    but the day and distinct-count functions)."""
    names = ", ".join(f"'{n}'" for n in TREND_SERIES)
    return (
        f"SELECT name, {day} AS d, count(*) AS n, {distinct} AS c FROM {source} "
        f"name IN ({names}) GROUP BY name, d"
    )


def trend_rows(rows) -> list[list]:
    """Comparable trend rows: [series index, day, events, customers], sorted."""
    index = {name: k for k, name in enumerate(TREND_SERIES)}
    return sorted([index[name], str(d)[:10], int(n), int(c)] for name, d, n, c in rows)


SQLITE_SESSIONS = f"""
WITH g AS (
    SELECT customer_id AS c, id, CAST(strftime('%s', occurred_at) AS INTEGER) AS t,
        CASE WHEN LAG(occurred_at) OVER w IS NULL OR CAST(strftime('%s', occurred_at) AS INTEGER)
            - CAST(strftime('%s', LAG(occurred_at) OVER w) AS INTEGER) > {SESSION_GAP}
        THEN 1 ELSE 0 END AS opens
    FROM events_event WHERE workspace_id = 1
    WINDOW w AS (PARTITION BY customer_id ORDER BY occurred_at, id)
),
numbered AS (
    SELECT c, t, SUM(opens) OVER (PARTITION BY c ORDER BY t, id ROWS UNBOUNDED PRECEDING) AS s
    FROM g
),
spans AS (
    SELECT date(MIN(t), 'unixepoch') AS d, MAX(t) - MIN(t) AS dur FROM numbered GROUP BY c, s
),
ranked AS (
    SELECT d, dur, ROW_NUMBER() OVER (PARTITION BY d ORDER BY dur) AS r,
        COUNT(*) OVER (PARTITION BY d) AS n
    FROM spans
)
SELECT d, MAX(n), AVG(CASE WHEN r IN ((n + 1) / 2, (n + 2) / 2) THEN dur END), AVG(dur)
FROM ranked GROUP BY d
"""
CHDB_SESSIONS = f"""
SELECT toString(toDate(toDateTime(x.1, 'UTC'))) AS d, count(), quantileExactInclusive(0.5)(x.2),
    avg(x.2)
FROM (
    SELECT arraySort(groupArray(toInt64(toUnixTimestamp(ts)))) AS t,
        arrayFilter(i -> i = 1 OR t[i] - t[i - 1] > {SESSION_GAP}, arrayEnumerate(t)) AS starts,
        arrayMap(j -> (t[starts[j]],
            t[if(j = length(starts), length(t), starts[j + 1] - 1)] - t[starts[j]]),
            arrayEnumerate(starts)) AS sessions
    FROM events GROUP BY customer_id
) ARRAY JOIN sessions AS x
GROUP BY d
"""


def session_rows(rows) -> list[list]:
    """Comparable session rows: [day, sessions, median s, mean s], sorted."""
    return sorted(
        [str(d)[:10], int(n), round(float(median), 3), round(float(mean), 3)]
        for d, n, median, mean in rows
    )


# ---------------------------------------------------------------------------- engines


def make_runner(engine: str, query: str, directory: Path):
    """A function running ``query`` once on ``engine`` and returning a comparable result."""
    parquet = f"{directory}/events.parquet"
    parts = f"{directory}/parts/*.parquet"
    if engine == "cxloop-engine":
        return cxloop_engine_runner(query, directory)
    if engine.startswith("sqlite") or engine == "cxloop-walk":
        db = sqlite3.connect(directory / "events.sqlite3")
        db.executescript("PRAGMA cache_size = -65536;")  # cxloop's 64 MB
        if engine == "cxloop-walk":
            if query != "funnel":
                return None
            return lambda: cxloop_funnel(db)
        if query == "sessions":
            return lambda: session_rows(db.execute(SQLITE_SESSIONS).fetchall())
        if query == "trend":
            sql = trend_sql(
                "events_event WHERE workspace_id = 1 AND", "date(occurred_at)",
                "count(DISTINCT customer_id)",
            )  # fmt: skip
            return lambda: trend_rows(db.execute(sql).fetchall())
        if query == "funnel":
            sql = (
                sqlite_funnel_cte()
                if engine == "sqlite-cte"
                else window_funnel_sql(
                    "events_event WHERE workspace_id = 1 AND",
                    "occurred_at",
                    "GROUPS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING",
                    f"datetime({{}}, '+{WINDOW} seconds')",
                )
            )
            params = list(STEPS) if engine == "sqlite-cte" else []
            return lambda: list(db.execute(sql, params).fetchone())
        sql = SQLITE_RETENTION_CTE if engine == "sqlite-cte" else SQLITE_RETENTION_WINDOW
        return lambda: retention_rows(db.execute(sql).fetchall())
    if engine.startswith("duckdb"):
        import duckdb

        con = duckdb.connect()
        source = f"read_parquet('{parquet if engine == 'duckdb-parquet' else parts}')"
        if query == "trend":
            sql = trend_sql(f"{source} WHERE", "CAST(ts AS DATE)", "count(DISTINCT customer_id)")
            return lambda: trend_rows(con.execute(sql).fetchall())
        if query == "funnel":
            sql = window_funnel_sql(
                f"{source} WHERE",
                "ts",
                "GROUPS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING",
                f"{{}} + INTERVAL {WINDOW} SECOND",
            )
            return lambda: [int(n) for n in con.execute(sql).fetchall()[0]]
        sql = duckdb_retention(source)
        return lambda: retention_rows(con.execute(sql).fetchall())
    if engine.startswith("chdb"):
        if engine in ("chdb-parquet", "chdb-parts"):
            import chdb

            run_sql = chdb.query
            source = f"file('{parquet if engine == 'chdb-parquet' else parts}', Parquet)"
        else:
            from chdb import session

            store = session.Session(str(directory / "chdb"))
            run_sql = store.query
            source = "events"
        if query == "sessions":
            return lambda: session_rows(csv_rows(str(run_sql(CHDB_SESSIONS, "CSV"))))
        if query == "why":
            return lambda: why_rows(csv_rows(str(run_sql(chdb_why(), "CSV"))))
        if query == "paths":
            return lambda: path_rows(
                json.loads(bytes(run_sql(chdb_paths(), "JSONCompact").bytes()))["data"]
            )
        if query == "trend":
            sql = trend_sql(f"{source} WHERE", "toDate(ts)", "uniqExact(customer_id)")
            return lambda: trend_rows(csv_rows(str(run_sql(sql, "CSV"))))
        if query == "funnel":
            sql = chdb_funnel(source)
            return lambda: levels_to_counts(csv_rows(str(run_sql(sql, "CSV"))))
        sql = chdb_retention(source)
        return lambda: retention_rows(csv_rows(str(run_sql(sql, "CSV"))))
    raise ValueError(engine)


def _cxloop_imports() -> None:
    """cxloop's own modules (the bench's environment needs Django for them, not a database)."""
    if str(REPO / "src") not in sys.path:
        sys.path.insert(0, str(REPO / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxloop.settings")
    import django

    django.setup()  # analytics.pathwalk reads core.models: the app registry must be ready


def cxloop_store(directory: Path) -> None:
    """The same events in cxloop's engine store: its schema (``analytics.clickhouse``), filled
    the way a rebuild fills it, in a child process (chdb opens one store per process)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from engines import _cxloop_fill; "
        "_cxloop_fill(sys.argv[2])"
    )
    subprocess.run([sys.executable, "-c", code, str(REPO / "bench"), str(directory)], check=True)


def _cxloop_fill(directory: str) -> None:
    _cxloop_imports()
    from cxloop.analytics.engine import ClickHouseEngine
    from cxloop.analytics.transports import ChdbTransport

    engine = ClickHouseEngine(ChdbTransport(Path(directory) / "cxloop"))
    engine.setup()
    engine.transport.command(
        "INSERT INTO events (workspace_id, customer_id, ts, id, type, name, channel, properties)"
        f" SELECT 1, customer_id, ts, id, 'track', name, 'web', '{{}}'"
        f" FROM file('{directory}/events.parquet', Parquet)"
    )
    engine.transport.command(
        "INSERT INTO event_keys SELECT id, workspace_id, customer_id FROM events"
    )
    engine.transport.command("OPTIMIZE TABLE events FINAL")
    engine.transport.command("OPTIMIZE TABLE customer_days FINAL")


def cxloop_engine_runner(query: str, directory: Path):
    _cxloop_imports()
    from cxloop.analytics.engine import ClickHouseEngine
    from cxloop.analytics.periods import Granularity
    from cxloop.analytics.transports import ChdbTransport
    from cxloop.journeys.definitions import RuleSpec

    engine = ClickHouseEngine(ChdbTransport(directory / "cxloop"))
    if query == "funnel":  # what the funnel page asks: counts, medians, drop-offs
        steps = [RuleSpec(event=s) for s in STEPS]
        return lambda: (
            engine.funnel_summary(
                workspace_id=1, steps=steps, window=timedelta(seconds=WINDOW)
            ).counts
        )
    if query == "trend":  # what the trends page asks, by day over all the data
        from datetime import UTC, datetime

        series = [RuleSpec(event=name) for name in TREND_SERIES]
        since, until = datetime(1970, 1, 2, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)

        def trend() -> list[list]:
            found = engine.trend_counts(
                workspace_id=1, series=series, by="day", since=since, until=until
            )
            return sorted(
                [k, period.date().isoformat(), n, c]
                for (k, period, _), (n, c) in found.cells.items()
            )

        return trend
    if query == "sessions":  # the trends page's $sessions and $session_duration series
        from datetime import UTC, datetime

        from cxloop.analytics.sessions import SessionRules

        since, until = datetime(1970, 1, 2, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)

        def sessions() -> list[list]:
            found = engine.session_trend(
                workspace_id=1, rules=SessionRules(), by="day", since=since, until=until
            )
            return session_rows(
                (p.date(), s.sessions, s.median_seconds, s.mean_seconds) for p, s in found.items()
            )

        return sessions
    if query == "why":  # what the funnel page's "why they dropped" asks, on the sample

        def why() -> list[list]:
            found = engine.funnel_why(
                workspace_id=1, steps=[RuleSpec(event=s) for s in STEPS],
                window=timedelta(seconds=WINDOW), sample=WHY_RATE,
            )  # fmt: skip
            c = found.correlation
            events = [[name, won, lost] for name, (won, lost) in c.events.items()]
            return sorted([["", c.converted, c.entered - c.converted], *events])

        return why
    if query == "paths":  # what the path view asks, from the first step to the last

        def paths() -> list:
            found = engine.path_counts(
                workspace_id=1, start=STEPS[0], end=STEPS[-1], max_steps=PATH_STEPS,
                within=None, by_channel=False, since=None, until=None, customer_ids=None,
                top=PATH_TOP,
            )  # fmt: skip
            return [found.started, found.completed, [[list(p), n] for p, n in found.top]]

        return paths
    if query in ENGINE_ONLY:
        return cxloop_engine_only(engine, query)
    first, limit = date(1970, 1, 2), date(2200, 1, 1)

    def retention() -> list[list]:
        _, active = engine.cohort_counts(
            workspace_id=1, by=Granularity.DAY, first=first, limit=limit
        )
        rows = [
            [str(cohort), (day - cohort).days, n]
            for (cohort, day), n in active.items()
            if (day - cohort).days <= OFFSETS
        ]
        return sorted(rows)

    return retention


def cxloop_engine_only(engine, query: str):
    """ "Before churn" (last 3 steps of customers gone since START + CHURN_DAY days, and everyone
    else's, as ``journeys.paths`` asks) and personas' per-customer aggregates."""
    from datetime import UTC, datetime

    from cxloop.analytics.before import CHURN, BeforeQuery

    if query == "before":
        cutoff = datetime.fromtimestamp(START + CHURN_DAY * 86400, tz=UTC)
        asked = BeforeQuery(kind=CHURN, steps=3, cutoff=cutoff)

        def before() -> list:
            found = engine.last_steps_before(workspace_id=1, query=asked)
            top = sorted(found.group.items(), key=lambda item: (-item[1], item[0]))[:3]
            return [found.group.total(), found.others.total(), [[list(p), n] for p, n in top]]

        return before

    def personas() -> list:
        found = engine.behaviour_counts(workspace_id=1, order_event=STEPS[-1])
        return [len(found.channels), sum(c.total() for c in found.names.values()),
                len(found.first_track), len(found.revenue)]  # fmt: skip

    return personas


def cxloop_funnel(db: sqlite3.Connection) -> list[int]:
    """cxloop's walk as ``journeys.selectors.funnel`` runs it: the step events streamed from the
    database (``fetchmany``, text times), then ``funnel_run`` in Python."""
    try:
        from cxloop.analytics.walk import funnel_run
        from cxloop.journeys.definitions import RuleSpec
    except ImportError:
        sys.path.insert(0, str(REPO / "src"))
        from cxloop.analytics.walk import funnel_run
        from cxloop.journeys.definitions import RuleSpec

    def rows():
        cursor = db.execute(
            "SELECT customer_id, occurred_at, name, '', '' FROM events_event "
            f"WHERE workspace_id = 1 AND name IN ({', '.join('?' * len(STEPS))})",
            STEPS,
        )
        while batch := cursor.fetchmany(2000):
            yield from batch

    run = funnel_run(rows(), steps=[RuleSpec(event=s) for s in STEPS], window=timedelta(days=1))
    return run.counts()


def child(engine: str, query: str, directory: Path, repeat: int) -> None:
    """Run in a child process: one untimed run, ``repeat`` timed; print JSON."""
    started = time.perf_counter()
    runner = make_runner(engine, query, directory)
    setup = time.perf_counter() - started
    rss_ready = memory_kb("VmRSS")
    result = runner()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        again = runner()
        times.append(time.perf_counter() - started)
        if again != result:
            raise SystemExit(f"{engine} {query}: results differ between runs")
    print(json.dumps({"times": times, "result": result, "rss_ready_kb": rss_ready, "setup": setup,
                      "peak_kb": memory_kb("VmHWM")}))  # fmt: skip


def memory_kb(field: str) -> int:
    """This process's resident memory now (VmRSS) or at its peak (VmHWM), from Linux's /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def measure(engine: str, query: str, directory: Path, repeat: int) -> dict:
    command = [sys.executable, __file__, "--child", f"{engine}:{query}", "--dir", str(directory),
               "--repeat", str(repeat)]  # fmt: skip
    process = subprocess.run(command, capture_output=True, text=True, check=False)
    if process.returncode:
        raise SystemExit(f"{engine} {query} failed:\n{process.stderr}")
    return json.loads(process.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- concurrency


LOCK_HOLDER = """
import sys, time
from chdb import session
s = session.Session(sys.argv[1])
s.query("SELECT count() FROM events")
print("ready", flush=True)
sys.stdin.read()
"""
LOCK_TRY = """
import sys
from chdb import session
try:
    s = session.Session(sys.argv[1])
    print("second process OK:", str(s.query("SELECT count() FROM events", "CSV")).strip())
except Exception as exc:
    print("second process refused:", str(exc).strip().splitlines()[0][:160])
"""
PARQUET_QUERY = """
import sys, chdb
print(str(chdb.query(sys.argv[1], "CSV")).strip().replace(chr(10), " "))
"""


def check_concurrency(directory: Path) -> list[str]:
    """Can a second process use the chdb store while one holds it? And Parquet, statelessly?"""
    store = str(directory / "chdb")
    lines = []
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, store], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        ready = holder.stdout.readline() if holder.stdout else ""
        if ready.strip() != "ready":
            lines.append(f"holder failed: {holder.stderr.read() if holder.stderr else ''}")
        else:
            tried = subprocess.run([sys.executable, "-c", LOCK_TRY, store], capture_output=True,
                                   text=True, timeout=120, check=False)  # fmt: skip
            said = [line for line in tried.stderr.splitlines() if "Cannot lock" in line]
            lines.append(f"MergeTree store held by one process: {tried.stdout.strip()}")
            lines.extend(f"  (its stderr: {line.strip()[:200]})" for line in said[:1])
    finally:
        holder.communicate("", timeout=60)
    sql = chdb_funnel(f"file('{directory}/events.parquet', Parquet)")
    started = time.perf_counter()
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", PARQUET_QUERY, sql],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [reader.communicate(timeout=300) for reader in readers]
    seconds = time.perf_counter() - started
    same = len({out for out, _ in results}) == 1 and all(r.returncode == 0 for r in readers)
    lines.append(
        f"Parquet, 3 processes at once (stateless chdb.query): all succeeded with the same "
        f"result: {same} ({seconds:.1f} s for all three, process start included)"
    )
    return lines


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2_000_000, help="events to generate")
    parser.add_argument("--customers", type=int, default=50_000, help="customers")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs (median), after 1 untimed"
    )
    parser.add_argument("--seed", type=int, default=9, help="random seed (same seed, same data)")
    parser.add_argument(
        "--ties",
        type=float,
        default=TIE_SHARE,
        help="share of events moved to"
        " the second of the customer's previous event (default %(default)s)",
    )
    parser.add_argument(
        "--parts", type=int, default=PARTS, help="Parquet parts (default %(default)s)"
    )
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset")
    parser.add_argument("--queries", default=",".join(QUERIES), help="comma-separated subset")
    parser.add_argument("--no-concurrency", action="store_true", help="skip the lock check")
    parser.add_argument("--dir", type=Path, default=None, help="scratch directory (default: tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        engine, query = args.child.split(":")
        child(engine, query, args.dir, args.repeat)
        return 0
    engines = [e for e in args.engines.split(",") if e]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        print(f"unknown engine(s): {', '.join(sorted(unknown))}; known: {', '.join(ENGINES)}")
        return 2
    import chdb

    try:
        import duckdb

        duck = duckdb.__version__
    except ImportError:  # only the DuckDB engines need it
        if any(e.startswith("duckdb") for e in engines):
            print("the DuckDB engines need duckdb (pip install duckdb), or leave them out")
            return 2
        duck = "not installed"

    directory = Path(tempfile.mkdtemp(prefix="cxloop-engines-", dir=args.dir))
    try:
        print(f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
              f"DuckDB {duck}, chdb {chdb.__version__} "
              f"(ClickHouse {str(chdb.query('SELECT version()', 'CSV')).strip()}); "
              f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        print(f"Generating {args.events:,} events from {args.customers:,} customers "
              f"in {directory} ...")  # fmt: skip
        started = time.perf_counter()
        made = generate(directory, args.events, args.customers, args.seed, args.ties, args.parts)
        print(f"  done in {time.perf_counter() - started:.1f} s; {made['funnel_events']:,} funnel"
              f" events, {made['tie_groups']:,} same-second groups of one customer's funnel"
              " events")  # fmt: skip
        print(
            f"Funnel: {' -> '.join(STEPS)}; window {WINDOW} s. Retention: daily cohorts, "
            f"offsets 0..{OFFSETS}. Median of {args.repeat} runs after 1 untimed.\n"
        )
        ok = True
        for query in [q for q in args.queries.split(",") if q]:
            results = {}
            for engine in engines:
                if query != "funnel" and engine == "cxloop-walk":
                    continue
                if query == "sessions" and engine not in SESSION_ENGINES:
                    continue
                if query in ("why", "paths") and engine not in WHY_ENGINES:
                    continue
                if query in ENGINE_ONLY and engine != "cxloop-engine":
                    continue
                results[engine] = measure(engine, query, directory, args.repeat)
            ok = report(query, results) and ok
            if query == "funnel" and "chdb-parquet" in engines:
                sql = chdb_funnel(f"file('{directory}/events.parquet', Parquet)", plain=True)
                plain = levels_to_counts(csv_rows(str(chdb.query(sql, "CSV"))))
                print(f"  plain windowFunnel(86400, 'strict_increase') on seconds, for comparison:"
                      f" {plain} (see chdb_funnel: it mishandles same-second steps)\n")  # fmt: skip
        if not args.no_concurrency and "chdb-mergetree" in engines:
            print("Concurrency")
            for line in check_concurrency(directory):
                print(f"  {line}")
        print(f"\nload average {os.getloadavg()[0]:.2f}")
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


def report(query: str, results: dict[str, dict]) -> bool:
    medians = {engine: statistics.median(r["times"]) for engine, r in results.items()}
    base = min((medians[e] for e in BASELINES if e in medians), default=None)
    against = "vs best SQLite"
    if base is None and "chdb-mergetree" in medians:  # no SQLite: the query written for chdb
        base, against = medians["chdb-mergetree"], "vs chdb direct"
    reference = next(iter(results.values()))["result"]
    print(f"{query}")
    print(f"  {'engine':<36}{'median s':>9}{'min s':>8}{against:>16}{'peak RSS MB':>13}"
          f"{'RSS at start':>14}{'open s':>8}  same result")  # fmt: skip
    same_all = True
    for engine, data in results.items():
        same = data["result"] == reference
        same_all = same_all and same
        ratio = f"{medians[engine] / base:.3f}" if base else "-"
        print(f"  {ENGINES[engine]:<36}{medians[engine]:>9.3f}{min(data['times']):>8.3f}"
              f"{ratio:>16}{data['peak_kb'] / 1024:>13.0f}{data['rss_ready_kb'] / 1024:>14.0f}"
              f"{data['setup']:>8.2f}  {same}")  # fmt: skip
    shown = reference if query == "funnel" else f"{len(reference)} rows, first {reference[:3]}"
    if query == "paths":
        shown = f"{reference[0]:,} started, {reference[1]:,} completed, top 3 {reference[2][:3]}"
    print(f"  result: {shown}")
    print(f"  all engines identical: {same_all}\n")
    if not same_all:
        for engine, data in results.items():
            if data["result"] != reference:
                print(f"  {engine} differs: {data['result'] if query == 'funnel' else ''}")
    return same_all


if __name__ == "__main__":
    sys.exit(main())
