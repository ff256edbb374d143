"""Funnels in any mode, with exclusions, and the funnel correlation counts, in ClickHouse's SQL
(the default ordered funnel without exclusions is ``clickhouse.funnel_sql``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from cxloop.analytics import sampling
from cxloop.analytics.clickhouse import FAR_FUTURE_MICROS, STEP_TYPES, condition_sql, funnel_sql
from cxloop.analytics.steps import ANY_ORDER, MODES, ORDERED, STRICT, Exclusion, Step


def _match_sql(step: Step, params: dict[str, Any], key: str) -> str:
    """SQL true when an event matches ``step`` (name, channel, property conditions)."""
    params[f"{key}_e"] = step.event
    parts = [f"name = {{{key}_e}}"]
    if step.channel:
        params[f"{key}_c"] = step.channel
        parts.append(f"channel = {{{key}_c}}")
    for j, condition in enumerate(step.conditions):
        parts.append(condition_sql(condition, params, f"{key}_p{j}"))
    return " AND ".join(parts)


def funnel_mode_sql(
    steps: Sequence[Step],
    *,
    window: timedelta | None,
    only: bool,
    mode: str = ORDERED,
    exclusions: Sequence[Exclusion] = (),
    bounded: bool = False,
    sampled: bool = False,
) -> tuple[str, dict]:
    """:func:`funnel_sql`'s rows in any mode, with exclusions (``analytics.walk.funnel_walk``'s
    rules): every start of a customer is walked (``arrayFold`` over the steps), each chain is cut
    at the first exclusion it breaks, and the first start reaching furthest counts.
    ``bounded``: only events in [``since``, ``until``) count; ``sampled``: only the customers
    of the sample ``{sample}`` (``analytics.sampling``)."""
    if mode not in MODES:
        raise ValueError(f"funnel mode {mode!r}: use one of {', '.join(MODES)}")
    if mode == ORDERED and not exclusions:
        return funnel_sql(steps, window=window, only=only, bounded=bounded, sampled=sampled)
    params: dict[str, Any] = {
        "names": sorted({s.event for s in steps} | {x.step.event for x in exclusions}),
        "types": list(STEP_TYPES),
        "window": int(window.total_seconds() * 10**6) if window is not None else FAR_FUTURE_MICROS,
    }
    n = len(steps)
    masks = [f"if({_match_sql(s, params, f's{k}')}, {1 << k}, 0)" for k, s in enumerate(steps)]
    xmasks = [
        f"if({_match_sql(x.step, params, f'x{j}')}, {1 << j}, 0)" for j, x in enumerate(exclusions)
    ]
    where = "name IN {names}"
    if mode == STRICT:  # every moment of activity matters
        where = "(name IN {names} OR (type IN {types} AND name != ''))"
    if only:
        where += " AND customer_id IN {only}"
    if bounded:
        where += " AND ts >= {since} AND ts < {until}"
    if sampled:
        where += f" AND {sampling.SQL}"
    events = f"""
        SELECT customer_id, toUnixTimestamp64Micro(ts) AS t, toString(channel) AS channel,
            toUInt16({" + ".join(masks)}) AS mask, toUInt16({" + ".join(xmasks) or "0"}) AS xmask
        FROM events WHERE workspace_id = {{workspace}} AND {where}"""  # noqa: S608
    per_step = ", ".join(f"arraySort(groupArrayIf(t, bitTest(mask, {k})))" for k in range(n))
    per_exclusion = ", ".join(
        f"arraySort(groupArrayIf(t, bitTest(xmask, {j})))" for j in range(len(exclusions))
    )
    if mode == ANY_ORDER:
        start_if = "mask != 0"
        chain = """arraySort(arrayFlatten(arrayMap(tk -> if(
            (arrayFirstIndex(x -> x >= s.1 AND x - s.1 <= {window}, tk) AS aj) > 0,
            [tk[aj]], []), st)))"""
    elif mode == STRICT:
        start_if = "bitTest(mask, 0)"
        chain = """arrayFold((acc, tk) -> if(acc.1
                AND ((arrayFirstIndex(x -> x > acc.3, moments) AS sj) > 0)
                AND moments[sj] - s.1 <= {window} AND has(tk, moments[sj]),
            (toUInt8(1), arrayPushBack(acc.2, moments[sj]), moments[sj]),
            (toUInt8(0), acc.2, acc.3)), arraySlice(st, 2), (toUInt8(1), [s.1], s.1)).2"""
    else:
        start_if = "bitTest(mask, 0)"
        chain = """arrayFold((acc, tk) -> if(acc.1
                AND ((arrayFirstIndex(x -> x > acc.3 AND x - s.1 <= {window}, tk) AS oj) > 0),
            (toUInt8(1), arrayPushBack(acc.2, tk[oj]), tk[oj]),
            (toUInt8(0), acc.2, acc.3)), arraySlice(st, 2), (toUInt8(1), [s.1], s.1)).2"""
    caps = [
        f"if(length(c) > {x.after} AND arrayExists(x -> x > c[{x.after}] "
        f"AND x < c[{x.after + 1}], xt[{j + 1}]), {x.after}, 255)"
        for j, x in enumerate(exclusions)
    ]
    capped = f"arraySlice(c, 1, least(length(c), {', '.join(caps) or '255'}))"
    extra = ""
    if exclusions:
        extra += f"[{per_exclusion}] AS xt,\n        "
    if mode == STRICT:
        extra += "arraySort(groupUniqArray(t)) AS moments,\n        "
    sql = f"""
SELECT customer_id, toUInt8(length(chains[ci])) AS depth, chains[ci] AS times,
    starts[ci].2 AS channel
FROM (
    SELECT customer_id,
        arraySort(groupArrayIf((t, channel), {start_if})) AS starts,
        [{per_step}] AS st,
        {extra}arrayMap(c -> {capped}, arrayMap(s -> {chain}, starts)) AS chains,
        arrayFirstIndex(c -> length(c) = arrayMax(c2 -> length(c2), chains), chains) AS ci
    FROM ({events})
    GROUP BY customer_id
    HAVING length(starts) > 0
)
"""  # noqa: S608 (structure is ours; every value is bound)
    return sql, params


def funnel_correlation_sql(chosen: str, *, bounded: bool = False) -> str:
    """From the per-customer rows of a funnel query: a totals row (name '': converted, dropped
    customers), then per event name (not a step's) the converted and dropped customers who did
    it between their start and the end of its window (``analytics.correlation``'s rules);
    ``bounded``: and before ``until``."""
    before = "AND e.ts < {until}" if bounded else ""
    return f"""
WITH chosen AS ({chosen})
SELECT '' AS event, countIf(depth = {{n}}) AS won, countIf(depth < {{n}}) AS lost FROM chosen
UNION ALL
SELECT event, countIf(depth = {{n}}) AS won, countIf(depth < {{n}}) AS lost FROM (
    SELECT DISTINCT f.customer_id, f.depth, toString(e.name) AS event
    FROM events AS e
    INNER JOIN (SELECT customer_id, depth, times[1] AS start FROM chosen) AS f
        ON e.customer_id = f.customer_id
    WHERE e.workspace_id = {{workspace}} AND e.name != '' AND e.name NOT IN {{step_names}}
        AND toUnixTimestamp64Micro(e.ts) >= f.start
        AND toUnixTimestamp64Micro(e.ts) - f.start <= {{window}} {before}
)
GROUP BY event
"""  # noqa: S608 (structure is ours; every value is bound)


def _window_events(before: str, chosen: str = "chosen") -> str:
    """Each entrant's events (any name but '') from its start to the end of its window, for
    the funnel's rows in ``chosen``."""
    return f"""
    SELECT f.customer_id AS customer_id, f.depth AS depth, toString(e.name) AS event,
        e.properties AS properties
    FROM events AS e
    INNER JOIN (SELECT customer_id, depth, times[1] AS start FROM {chosen}) AS f
        ON e.customer_id = f.customer_id
    WHERE e.workspace_id = {{workspace}} AND e.name != ''
        AND toUnixTimestamp64Micro(e.ts) >= f.start
        AND toUnixTimestamp64Micro(e.ts) - f.start <= {{window}} {before}"""  # noqa: S608


def _property_counts_sql(source: str) -> str:
    """Per (event, key, value) of ``source``'s (customer, depth, event, properties) rows: the
    converted and dropped customers, for keys with few values (``property_correlation_sql``).
    A customer has one depth, so its distinct ids by depth are its converted and dropped."""
    return f"""
SELECT event, key, kind, text, number, won, lost FROM (
    SELECT event, key, kind, text, number,
        uniqExactIf(customer_id, depth = {{n}}) AS won,
        uniqExactIf(customer_id, depth < {{n}}) AS lost,
        count() OVER (PARTITION BY event, key) AS key_values
    FROM (
        SELECT customer_id, depth, event, kv.1 AS key, JSONType(kv.2) AS type,
            multiIf(type = 'String', 's', type = 'Bool', 'b',
                type IN ('Int64', 'UInt64', 'Double'), 'n', '') AS kind,
            multiIf(kind = 's', JSONExtractString(kv.2), kind = 'b', kv.2, '') AS text,
            if(kind = 'n', toFloat64OrZero(kv.2), 0) AS number
        FROM ({source})
        ARRAY JOIN JSONExtractKeysAndValuesRaw(properties) AS kv
    )
    WHERE kind != '' AND NOT (kind = 's' AND text = '') AND isFinite(number)
        AND key != 'channel'
    GROUP BY event, key, kind, text, number
)
WHERE key_values <= {{max_values}}"""  # noqa: S608 (structure is ours; every value is bound)


def property_correlation_sql(chosen: str, *, bounded: bool = False) -> str:
    """From the per-customer rows of a funnel query: per (event name, top-level property, value)
    the converted and dropped customers who did an event of that name carrying that value
    between their start and the end of its window (``analytics.correlation.property_counts``'s
    rules): events other than the last step's, text (not empty), number or yes/no values, keys
    other than ``channel`` (the event's own channel) with at most ``{max_values}`` distinct
    values among those events. ``bounded``: and before ``until``."""
    before = "AND e.ts < {until}" if bounded else ""
    # one pass: the events in each customer's window first (only theirs have their properties
    # parsed), then one row per (event, key, value) with its own count of values per key
    source = f"SELECT * FROM ({_window_events(before)}) WHERE event != {{last_step}}"  # noqa: S608
    return f"WITH chosen AS ({chosen})\n{_property_counts_sql(source)}"


def why_window_sql(chosen: str, *, bounded: bool = False, sampled: bool = False) -> str:
    """The entrants' window events for "why they dropped", from the table ``chosen`` of a
    funnel's rows: (customer_id, depth, event, properties) per event from a customer's start
    to the end of its window. ``sampled``: the funnel was of the sample ``{sample}``, so only
    that part of the store is read (``analytics.sampling``)."""
    before = "AND e.ts < {until}" if bounded else ""
    # only the entrants' events go into the join: the funnel's ids (and, in a range, its start:
    # no window opens before it) filter the scan before the join reads the properties
    after = "AND ts >= {since}" if bounded else ""
    if sampled:
        after += f" AND {sampling.SQL}"
    entrants = f"""(SELECT workspace_id, customer_id, ts, name, properties FROM events
        WHERE workspace_id = {{workspace}} AND customer_id IN (SELECT customer_id FROM {chosen})
            {after}) AS e"""  # noqa: S608
    return _window_events(before, chosen).replace("FROM events AS e", f"FROM {entrants}")


def why_read_sql(chosen: str, win: str, *, properties: bool = True) -> str:
    """``correlation.FunnelWhy`` from the table ``chosen`` of a funnel's rows and the table
    ``win`` of its entrants' window events (``why_window_sql``). Rows ``(part, event, key,
    kind, text, number, won, lost)``: part 0 one per entrant (its id in ``won``, depth in
    ``lost``), part 1 per event name (not a step's) the converted and dropped entrants who did
    it (``funnel_correlation_sql``), part 2 the property value counts
    (``property_correlation_sql``; only with ``properties``)."""
    depths = f"""
SELECT toUInt8(0) AS part, '' AS event, '' AS key, '' AS kind, '' AS text,
    toFloat64(0) AS number, toUInt64(customer_id) AS won, toUInt64(depth) AS lost
FROM {chosen}"""  # noqa: S608 (structure is ours; every value is bound)
    events = f"""
SELECT toUInt8(1), event, '', '', '', toFloat64(0), toUInt64(countIf(depth = {{n}})),
    toUInt64(countIf(depth < {{n}}))
FROM (SELECT DISTINCT customer_id, depth, event FROM {win} WHERE event NOT IN {{step_names}})
GROUP BY event"""  # noqa: S608 (structure is ours; every value is bound)
    parts = [depths, events]
    if properties:
        source = f"SELECT * FROM {win} WHERE event != {{last_step}}"  # noqa: S608
        counts = _property_counts_sql(source)
        columns = "toUInt8(2), event, key, kind, text, number, toUInt64(won), toUInt64(lost)"
        parts.append(f"SELECT {columns} FROM ({counts})")  # noqa: S608
    return "\nUNION ALL\n".join(parts)
