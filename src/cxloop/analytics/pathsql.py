"""Paths between two events in ClickHouse's SQL (``analytics.pathwalk.path_between``'s rules):
per customer who did the anchor event, their collapsed steps from start to end; then the top
paths with the totals. ``engine.ClickHouseEngine.path_counts`` runs them.
"""

from __future__ import annotations

from collections.abc import Iterable

# a segment's ids travel as one CSV text (``id_csv``), read by ``format()``: an array literal is
# parsed element by element and overflowed the default 256 KiB query size past ~20,000 ids
ONLY = "customer_id IN (SELECT c FROM format(CSV, 'c UInt64', {only}))"
BIG_QUERY = "SETTINGS max_query_size = 67108864"  # 64 MiB, room for millions of ids


def id_csv(ids: Iterable[int]) -> str:
    """Customer ids as the CSV text ``ONLY`` reads (a customer 0 that never exists when none)."""
    return "\n".join(str(int(i)) for i in ids) or "0"


def path_sql(
    *, start: str, end: str, by_channel: bool, bounded: tuple[bool, bool], only: bool
) -> str:
    """Per customer who ever did the anchor event (start, else end): whether they started and
    their path (collapsed steps from start to end), by ``analytics.pathwalk.path_between``'s
    rules; then per path its customers, the top first, with the totals on every row.

    ``bounded``: whether ``since`` / ``until`` limit the events. Steps are ordered by time, then
    event id, as the walk orders them. Each start's stop is looked for among the ``max_steps``
    steps after it only (it is never further), so a customer with many starts costs starts ×
    max_steps, not starts × all their steps (at 10M events, Home to Order Completed over 90
    days: 1.0–1.2 s → 0.82–0.93 s, bench/README.md).
    """
    if by_channel:
        label = (
            "if(name IN ({start}, {end}) AND concat(name, ' · ', channel) NOT IN ({start}, {end}),"
            " name, concat(name, ' · ', channel))"
        )
    else:
        label = "toString(name)"
    since, until = bounded
    where = " ".join(
        part
        for part, on in (
            ("AND ts >= {since}", since),
            ("AND ts < {until}", until),
            (f"AND {ONLY}", only),
        )
        if on
    )
    if start and end:
        found = """
        arrayFilter(i -> L[i] = {start}, idx) AS starts,
        arrayMap(i -> i + arrayFirstIndex((lx, tx, o) -> o >= {max_steps}
            OR tx - T[i] > {within} OR lx = {end} OR lx = {start},
            arraySlice(L, i + 1, {max_steps}), arraySlice(T, i + 1, {max_steps}),
            arrayEnumerate(arraySlice(L, i + 1, {max_steps}))), starts) AS stops,
        arrayFirstIndex((i, j) -> j > i AND j < i + {max_steps} AND T[j] - T[i] <= {within}
            AND L[j] = {end}, starts, stops) AS w,
        length(starts) > 0 AS started,
        if(w > 0, arraySlice(L, starts[w], stops[w] - starts[w] + 1), []) AS path"""
    elif start:
        found = """
        arrayFirstIndex(lx -> lx = {start}, L) AS first_start,
        first_start > 0 AS started,
        if(first_start > 0, arrayFilter((lx, tx, kx) -> kx >= first_start
            AND kx < first_start + {max_steps} AND tx - T[first_start] <= {within},
            L, T, idx), []) AS path"""
    else:
        found = """
        1 AS started,
        arrayFirstIndex(lx -> lx = {end}, L) AS end_at,
        arrayFirstIndex((tx, kx) -> kx >= greatest(1, end_at - {max_steps} + 1) AND T[end_at] - tx <= {within},
            T, idx) AS path_from,
        if(end_at > 0, arraySlice(L, path_from, end_at - path_from + 1), []) AS path"""
    return f"""
SELECT customer_id,
    arraySort(x -> (x.2, x.3), groupArray((step_label, step_t, step_id))) AS raw,
    arrayFilter((x, previous) -> x.1 != previous, raw,
        arrayPushFront(arrayPopBack(arrayMap(x -> x.1, raw)), '')) AS collapsed,
    arrayMap(x -> x.1, collapsed) AS L,
    arrayMap(x -> x.2, collapsed) AS T,
    arrayEnumerate(L) AS idx,
    {found}
FROM (
    SELECT customer_id, {label} AS step_label, toUnixTimestamp64Micro(ts) AS step_t,
        id AS step_id
    FROM events
    WHERE workspace_id = {{workspace}} AND type IN {{types}} AND name != '' {where}
        AND customer_id IN (
            SELECT customer_id FROM events WHERE workspace_id = {{workspace}} AND name = {{anchor}}
        )
)
GROUP BY customer_id
"""  # noqa: S608 (structure is ours; every value is bound)


def path_top_sql(per_customer: str) -> str:
    """The top paths (customers, most first, ties by path) with the totals on every row."""
    return f"""
SELECT path, n, sum(s) OVER () AS started, sumIf(n, notEmpty(path)) OVER () AS completed
FROM (SELECT path, count() AS n, sum(started) AS s FROM ({per_customer}) GROUP BY path)
QUALIFY notEmpty(path)
ORDER BY n DESC, path
LIMIT {{top}}
{BIG_QUERY}
"""  # noqa: S608 (structure is ours; every value is bound)


def path_started_sql(per_customer: str) -> str:
    return f"SELECT sum(started) FROM ({per_customer}) {BIG_QUERY}"  # noqa: S608 (ours)
