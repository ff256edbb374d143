"""The analytics engine in ClickHouse's SQL: one schema and one set of queries, run either by the
embedded engine (chdb, in the store's owner process) or by a ClickHouse server.

Values are bound as ClickHouse literals by :func:`bind` (strings with ``\\`` and ``'`` escaped,
numbers through ``int``/``float``), the way ClickHouse clients bind on the client side, so both
transports run the same text. Results are plain JSON-able values (numbers, strings, lists): times
travel as microseconds since the epoch and dates as ``YYYY-MM-DD``, never as driver objects.

Tables (every query names its workspace; the sorting keys lead with it):

* ``events``: one row per stored event (id = the system of record's id), ordered by
  (workspace, customer, time, id), so one customer's events lie together for funnels and paths;
* ``event_keys``: the ids the engine holds, ordered by id: the drainer's duplicate check is an
  index range read, which makes at-least-once delivery exactly-once;
* ``customer_days``: the incremental rollup of activity, one row per (workspace, day, customer),
  filled by a materialized view as events arrive (ReplacingMergeTree: a row inserted twice
  counts once, as every query on it counts distinct customers).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from cxloop.analytics import sampling
from cxloop.analytics.steps import EventTest, Step, StepCondition

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2299, 12, 31, 23, 59, 59, tzinfo=UTC)
FAR_FUTURE_MICROS = 253402300799 * 10**6  # 9999-12-31 23:59:59: no window

# a customer's events together, and the customers in the order of their sample bucket
# (``analytics.sampling``): a sample of 1 in 10 reads about a tenth of the store
EVENTS_ORDER = "(workspace_id, bucket, customer_id, ts, id)"
SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS events (
        workspace_id UInt32,
        customer_id UInt64,
        ts DateTime64(6, 'UTC'),
        id UInt64,
        type LowCardinality(String),
        name LowCardinality(String),
        channel LowCardinality(String),
        properties String CODEC(ZSTD(1)),
        bucket UInt16 MATERIALIZED {sampling.BUCKET_SQL}
    ) ENGINE = MergeTree ORDER BY {EVENTS_ORDER}""",
    """CREATE TABLE IF NOT EXISTS event_keys (
        id UInt64, workspace_id UInt32, customer_id UInt64
    ) ENGINE = MergeTree ORDER BY id""",
    """CREATE TABLE IF NOT EXISTS customer_days (
        workspace_id UInt32, day Date, customer_id UInt64
    ) ENGINE = ReplacingMergeTree ORDER BY (workspace_id, day, customer_id)""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS customer_days_mv TO customer_days AS
        SELECT workspace_id, toDate(ts) AS day, customer_id FROM events""",
    """CREATE TABLE IF NOT EXISTS engine_meta (key String, value String)
        ENGINE = ReplacingMergeTree ORDER BY key""",
)
TABLES = ("customer_days_mv", "customer_days", "event_keys", "events", "engine_meta")
EVENT_COLUMNS = ("workspace_id", "customer_id", "ts", "id", "type", "name", "channel", "properties")

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


# ------------------------------------------------------------------ binding values


def quote(value: Any) -> str:
    """``value`` as a ClickHouse literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return repr(value)
    if isinstance(value, datetime):
        micros = to_micros(value)
        return f"fromUnixTimestamp64Micro(toInt64({micros}), 'UTC')"
    if isinstance(value, date):
        return f"toDate('{value.isoformat()}')"
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return "[" + ", ".join(quote(item) for item in items) + "]"
    text = str(value)
    escaped = (
        text.replace("\\", "\\\\").replace("'", "\\'").replace("\x00", "\\0").replace("\n", "\\n")
    )
    return f"'{escaped}'"


def bind(sql: str, params: Mapping[str, Any]) -> str:
    """``sql`` with each ``{name}`` replaced by ``params[name]`` as a literal."""
    return _PLACEHOLDER.sub(lambda m: quote(params[m.group(1)]), sql)


def to_micros(value: datetime | str) -> int:
    """Microseconds since the epoch of an aware datetime or Django's naive-UTC text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


# ------------------------------------------------------------------ rows in


def event_row(row: Sequence) -> list:
    """An ``events.selectors.engine_rows`` row in ``EVENT_COLUMNS`` order, ready to insert as
    JSONCompactEachRow."""
    workspace_id, event_id, customer_id, occurred_at, kind, name, channel, properties = row
    if not isinstance(properties, str):
        properties = orjson.dumps(properties).decode() if properties is not None else "{}"
    return [
        workspace_id,
        customer_id,
        time_text(occurred_at),
        event_id,
        kind,
        name,
        channel,
        properties,
    ]


def time_text(value: datetime | str) -> str:
    """``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC, as DateTime64(6, 'UTC') reads it."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # DateTime64's calendar; ingestion keeps times in 1970..tomorrow, only rows stored before
    # those checks can lie outside, and they are kept at the nearest end rather than refused
    value = min(max(value, EARLIEST), LATEST).astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", timespec="microseconds")


# ------------------------------------------------------------------ queries

EVENT_NAMES = """
SELECT name, count() AS n FROM events
WHERE workspace_id = {workspace} AND name != ''
GROUP BY name ORDER BY n DESC, name LIMIT {limit}
"""

EVENT_FIRST_SEEN = """
SELECT toString(name) AS n, toUnixTimestamp64Micro(min(ts)) FROM events
WHERE workspace_id = {workspace} AND name IN {names}
GROUP BY n
"""

STEP_NAMES = """
SELECT DISTINCT toString(name) AS n FROM events
WHERE workspace_id = {workspace} AND type IN {types} AND name != ''
ORDER BY n LIMIT {limit}
"""

# the ids come back as one array in one row: a row per customer cost the engine's output format,
# the JSON parse and the owner's pickling ~3 µs each (0.25 s of 0.4 s at 74,000 customers)
CUSTOMERS_WITH_EVENT = """
SELECT groupArray(customer_id) FROM (SELECT customer_id FROM events
WHERE workspace_id = {workspace} AND name = {name} AND (channel = {channel} OR {channel} = '')
    AND ts >= {since}
GROUP BY customer_id HAVING count() >= {min_count}
)"""


def customers_with_events_sql(tests: Sequence[EventTest], *, among: bool) -> tuple[str, dict]:
    """One row: for each test, the array of customers passing it (``CUSTOMERS_WITH_EVENT``'s
    answer), from one pass that counts each test's events per customer. Binds ``{workspace}``
    and, with ``among``, ``{among}`` are the caller's."""
    params: dict[str, Any] = {"names": sorted({t.event for t in tests})}
    counts, arrays = [], []
    for i, test in enumerate(tests):
        params.update(
            {f"n{i}": test.event, f"ch{i}": test.channel, f"s{i}": test.since or EARLIEST,
             f"m{i}": max(test.min_count, 1)}
        )  # fmt: skip
        parts = [f"name = {{n{i}}}", f"(channel = {{ch{i}}} OR {{ch{i}}} = '')", f"ts >= {{s{i}}}"]
        if test.until is not None:
            params[f"u{i}"] = test.until
            parts.append(f"ts < {{u{i}}}")
        parts += [condition_sql(c, params, f"w{i}_{j}") for j, c in enumerate(test.conditions)]
        counts.append(f"countIf({' AND '.join(parts)}) AS c{i}")
        arrays.append(f"groupArrayIf(customer_id, c{i} >= {{m{i}}})")
    only = " AND customer_id IN {among}" if among else ""
    sql = (
        f"SELECT {', '.join(arrays)} FROM (SELECT customer_id, {', '.join(counts)} FROM events "  # noqa: S608 -- bound placeholders only
        f"WHERE workspace_id = {{workspace}} AND name IN {{names}}{only} GROUP BY customer_id)"
    )
    return sql, params


KEYS_IN_RANGE = """
SELECT id FROM event_keys WHERE id BETWEEN {first} AND {last} AND workspace_id = {workspace}
"""


def funnel_sql(
    steps: Sequence[Step],
    *,
    window: timedelta | None,
    only: bool,
    bounded: bool = False,
    sampled: bool = False,
) -> tuple[str, dict]:
    """Per customer who did step 1: (customer, steps reached, their times in µs, start channel),
    by ``analytics.walk``'s rules, computed in the engine.

    Per customer: the starts (step-1 events, by time then channel) and, per later step, the
    sorted times of its events. From a start, step k is the first step-k time strictly after
    step k-1 and within the window of the start (``arrayFold`` over the steps). Starts before
    the same next step-2 event share the rest of their chain and only their window differs, so
    only the last start of each such group is walked (it reaches furthest); the customer's
    depth D is the best of those, and the start counted is the earliest one of the first group
    reaching D whose window still holds step D. Same-time events never follow each other
    (strictly later), so the order of ties changes nothing but which same-time start's channel
    is reported (the first by name, as in the walk).
    """
    params: dict[str, Any] = {"names": sorted({s.event for s in steps})}
    masks = []
    for k, step in enumerate(steps):
        params[f"e{k}"] = step.event
        parts = [f"name = {{e{k}}}"]
        if step.channel:
            params[f"c{k}"] = step.channel
            parts.append(f"channel = {{c{k}}}")
        for j, condition in enumerate(step.conditions):
            parts.append(condition_sql(condition, params, f"p{k}_{j}"))
        masks.append(f"if({' AND '.join(parts)}, {1 << k}, 0)")
    n = len(steps)
    params["n"] = n
    params["window"] = (
        int(window.total_seconds() * 10**6) if window is not None else FAR_FUTURE_MICROS
    )
    where_only = "AND customer_id IN {only}" if only else ""
    if bounded:  # only events in [since, until) count
        where_only += " AND ts >= {since} AND ts < {until}"
    if sampled:  # only the units of the sample {sample} (analytics.sampling)
        where_only += f" AND {sampling.SQL}"
    events = f"""
        SELECT customer_id, toUnixTimestamp64Micro(ts) AS t, toString(channel) AS channel,
            toUInt16({" + ".join(masks)}) AS mask
        FROM events
        WHERE workspace_id = {{workspace}} AND name IN {{names}} {where_only}"""  # noqa: S608
    if n == 1:
        return (
            f"""
SELECT customer_id, toUInt8(1) AS depth, [first.1] AS times, first.2 AS channel FROM (
    SELECT customer_id, arraySort(groupArray((t, channel)))[1] AS first
    FROM ({events}) WHERE mask != 0 GROUP BY customer_id
)""",  # noqa: S608 (structure is ours; every value is bound)
            params,
        )
    later = ", ".join(f"arraySort(groupArrayIf(t, bitTest(mask, {k})))" for k in range(1, n))
    sql = f"""
SELECT customer_id, D AS depth, arrayConcat([starts[ci].1], arraySlice(ctimes, 2, D - 1)) AS times,
    starts[ci].2 AS channel
FROM (
    SELECT customer_id,
        arraySort(groupArrayIf((t, channel), bitTest(mask, 0))) AS starts,
        [{later}] AS later,
        arrayMap(s -> arrayFirstIndex(x -> x > s.1, later[1]), starts) AS next2,
        arrayFilter(i -> i = length(starts) OR next2[i + 1] != next2[i],
                    arrayEnumerate(starts)) AS last_of_group,
        arrayMap(i -> arrayFold(
            (acc, tk) -> if(acc.1 AND acc.2 < {{n}},
                if((arrayFirstIndex(x -> x > acc.4 AND x - starts[i].1 <= {{window}}, tk) AS j) > 0,
                   (1, toUInt8(acc.2 + 1), arrayPushBack(acc.3, tk[j]), tk[j]),
                   (0, acc.2, acc.3, acc.4)),
                acc),
            later, (1, toUInt8(1), [starts[i].1], starts[i].1)), last_of_group) AS chains,
        arrayMax(c -> c.2, chains) AS D,
        arrayFirstIndex(c -> c.2 = D, chains) AS g,
        chains[g].3 AS ctimes,
        arrayFirstIndex(x -> x = next2[last_of_group[g]], next2) AS group_first,
        arrayFirstIndex((s, i) -> i >= group_first AND (D = 1 OR ctimes[D] - s.1 <= {{window}}),
                        starts, arrayEnumerate(starts)) AS ci
    FROM ({events}) WHERE mask != 0
    GROUP BY customer_id
    HAVING length(starts) > 0
)
"""  # noqa: S608 (structure is ours; every value is bound)
    return sql, params


def funnel_summary_sql(chosen: str) -> str:
    """From the per-customer rows of :func:`funnel_sql`, in one pass: customers per (steps
    reached, start channel); the median time between steps k-1 and k over the customers
    reaching k; per steps reached, the latest (time of the last step, customer) pairs."""
    return f"""
SELECT grouping(depth) AS by_k, depth, channel, k,
    countIf(k = 1) AS customers,
    quantileExactInclusiveIf(0.5)(gap, k > 1) AS median_gap,
    arraySlice(arrayReverseSort(groupArrayIf((times[depth], customer_id), k = 1)), 1, {{latest}})
        AS latest
FROM ({chosen}) ARRAY JOIN arrayEnumerate(times) AS k, arrayDifference(times) AS gap
GROUP BY GROUPING SETS ((depth, channel), (k))
"""  # noqa: S608 (structure is ours; every value is bound)


_COMPARE = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def condition_sql(condition: StepCondition, params: dict[str, Any], key: str) -> str:
    """SQL true exactly when ``journeys.definitions.Condition.test`` is, on the JSON text.

    ``raw`` is the JSON value at the dotted path ('' when absent or a step of the path is not an
    object); JSON null counts as absent. Equality: numbers compare as numbers, else the text
    (a JSON string's content, any other value's JSON) case-insensitively.
    """
    path = str(condition.property).split(".")
    params[f"{key}_path"] = path
    args = ", ".join(f"{{{key}_path}}[{i + 1}]" for i in range(len(path)))
    raw = f"JSONExtractRaw(properties, {args})"
    kind = f"JSONType(properties, {args})"
    present = f"({raw} NOT IN ('', 'null'))"
    text = f"if({kind} = 'String', JSONExtractString(properties, {args}), {raw})"
    number = (
        f"multiIf({kind} IN ('Int64', 'UInt64', 'Double'), toFloat64OrNull({raw}), "
        f"{kind} = 'String', toFloat64OrNull(trimBoth({text})), NULL)"
    )
    op = condition.op
    if op == "exists":
        return present
    value = condition.value
    wanted = _number(value)
    params[f"{key}_v"] = str(value) if not isinstance(value, bool) else str(value).lower()
    if op in _COMPARE:
        if wanted is None:
            return "0"
        params[f"{key}_n"] = wanted
        return f"ifNull({number} {_COMPARE[op]} {{{key}_n}}, 0)"
    if wanted is not None:
        params[f"{key}_n"] = wanted
        equal = f"(ifNull({number} = {{{key}_n}}, 0) OR lowerUTF8({text}) = lowerUTF8({{{key}_v}}))"
    else:
        equal = f"lowerUTF8({text}) = lowerUTF8({{{key}_v}})"
    if op == "eq":
        return f"({present} AND {equal})"
    if op == "neq":
        return f"(NOT {present} OR NOT {equal})"
    if op == "contains":
        item = "if(JSONType(x) = 'String', JSONExtractString(x), x)"
        in_list = (
            f"arrayExists(x -> lowerUTF8({item}) = lowerUTF8({{{key}_v}})"
            + (
                f" OR ifNull(toFloat64OrNull({item}) = {{{key}_n}}, 0)"
                if wanted is not None
                else ""
            )
            + f", JSONExtractArrayRaw(properties, {args}))"
        )
        substring = f"positionCaseInsensitiveUTF8({text}, {{{key}_v}}) > 0"
        return f"({present} AND if({kind} = 'Array', {in_list}, {substring}))"
    raise ValueError(f"unknown condition operator {op!r}")


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


STEP_TYPES = ("track", "page", "screen")


def journey_sql(
    touchpoints: Sequence[tuple[int, int, Sequence[Step]]],
    *,
    materialize: bool = False,
) -> tuple[str, str, dict]:
    """A journey map's walk (``analytics.journeywalk``) as three result sets sharing one CTE:
    per stage and per touchpoint (customers, events, converted, median gap in µs) with the
    number of customers with any hit (kind 2), and per customer the furthest stage and when
    they first reached it.

    ``touchpoints``: (index, stage position, rules). A hit is a (customer, time, touchpoint)
    with any rule of the touchpoint matching an event; hits repeating (time, touchpoint) count
    once, as in the walk. Conversion: the next stage has a hit strictly after the first hit of
    this stage (or first use of this touchpoint); the gap runs to the first such hit.

    ``materialize``: compute the hits and per-stage CTEs once (ClickHouse otherwise inlines a
    CTE at each use: the metrics read them four times; 3x faster at 10M events).
    """
    params: dict[str, Any] = {}
    names: set[str] = set()
    matches = []
    for index, _, rules in touchpoints:
        alternatives = []
        for r, rule in enumerate(rules):
            key = f"t{index}_{r}"
            names.add(rule.event)
            params[f"{key}_e"] = rule.event
            parts = [f"name = {{{key}_e}}"]
            if rule.channel:
                params[f"{key}_c"] = rule.channel
                parts.append(f"channel = {{{key}_c}}")
            for j, condition in enumerate(rule.conditions):
                parts.append(condition_sql(condition, params, f"{key}_p{j}"))
            alternatives.append("(" + " AND ".join(parts) + ")")
        matches.append(f"if({' OR '.join(alternatives) or '0'}, {index}, -1)")
    params["names"] = sorted(names) or [""]
    params["tp_index"] = [index for index, _, _ in touchpoints]
    params["tp_stage"] = [stage for _, stage, _ in touchpoints]
    hits = f"""
    hits AS (
        SELECT DISTINCT customer_id, t, tp, transform(tp, {{tp_index}}, {{tp_stage}}, 0) AS stage
        FROM (
            SELECT customer_id, toUnixTimestamp64Micro(ts) AS t,
                arrayFilter(x -> x >= 0, [{", ".join(matches) or "-1"}]) AS tps
            FROM events WHERE workspace_id = {{workspace}} AND name IN {{names}}
                AND ts >= {{since}} AND ts < {{until}}
        ) ARRAY JOIN tps AS tp
    ),
    per_stage AS (
        SELECT customer_id, stage, min(t) AS first, count() AS n, arraySort(groupArray(t)) AS times
        FROM hits GROUP BY customer_id, stage
    ),
    per_tp AS (
        SELECT customer_id, tp, any(stage) AS stage, min(t) AS first, count() AS n
        FROM hits GROUP BY customer_id, tp
    )"""  # noqa: S608 (structure is ours; every value is bound)
    sql = f"""
WITH {hits}
SELECT 0 AS kind, key, customers, events, converted, gap FROM (
    SELECT a.stage AS key, count() AS customers, sum(a.n) AS events,
        countIf(j > 0) AS converted,
        quantileExactInclusiveIf(0.5)(b.times[j] - a.first, j > 0) AS gap
    FROM (SELECT *, stage + 1 AS next FROM per_stage) AS a
    LEFT JOIN per_stage AS b ON b.customer_id = a.customer_id AND b.stage = a.next
    ARRAY JOIN [arrayFirstIndex(x -> x > a.first, b.times)] AS j
    GROUP BY a.stage
)
UNION ALL
SELECT 1 AS kind, key, customers, events, converted, gap FROM (
    SELECT a.tp AS key, count() AS customers, sum(a.n) AS events,
        countIf(j > 0) AS converted,
        quantileExactInclusiveIf(0.5)(b.times[j] - a.first, j > 0) AS gap
    FROM (SELECT *, stage + 1 AS next FROM per_tp) AS a
    LEFT JOIN per_stage AS b ON b.customer_id = a.customer_id AND b.stage = a.next
    ARRAY JOIN [arrayFirstIndex(x -> x > a.first, b.times)] AS j
    GROUP BY a.tp
)
UNION ALL
SELECT 2 AS kind, 0 AS key, uniqExact(customer_id) AS customers, 0 AS events, 0 AS converted,
    NULL AS gap
FROM per_stage
"""  # noqa: S608 (structure is ours; every value is bound)
    current = f"""
WITH {hits}
SELECT customer_id, max(stage) AS furthest, argMax(first, stage) AS reached
FROM per_stage GROUP BY customer_id
"""  # noqa: S608 (structure is ours; every value is bound)
    if materialize:
        sql, current = (
            MATERIALIZED_CTES
            + text.replace("hits AS (", "hits AS MATERIALIZED (").replace(
                "per_stage AS (", "per_stage AS MATERIALIZED ("
            )
            for text in (sql, current)
        )
    return sql, current, params


MATERIALIZED_CTES = "SET enable_materialized_cte = 1;\n"
