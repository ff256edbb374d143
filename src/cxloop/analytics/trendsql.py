"""Activity over time in ClickHouse's SQL: retention and cohorts (on the ``customer_days``
rollup), trends and conversion trends (``analytics.trendwalk``'s rules), and the mixin of
``engine.ClickHouseEngine`` that runs them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cxloop.analytics import clickhouse as ch
from cxloop.analytics.periods import Granularity
from cxloop.analytics.steps import Step
from cxloop.analytics.trendwalk import OTHER, CustomerGroups, TrendCounts, breakdown_key

# ------------------------------------------------------------------ retention and cohorts


def period_sql(column: str, by: Granularity | str) -> str:
    by = Granularity(by)
    if by == Granularity.WEEK:
        return f"toMonday({column})"
    if by == Granularity.MONTH:
        return f"toStartOfMonth({column})"
    return column


def retention_sql(by: Granularity | str) -> str:
    """Per period P with activity in [first, limit): customers active in P, and of them those
    active in the next period too."""
    period = period_sql("day", by)
    following = {
        Granularity.DAY: "addDays(p, 1)",
        Granularity.WEEK: "addDays(p, 7)",
        Granularity.MONTH: "addMonths(p, 1)",
    }[Granularity(by)]
    return f"""
SELECT toString(p) AS period, count() AS active, countIf(has(ps, {following})) AS retained
FROM (
    SELECT customer_id, groupUniqArray({period}) AS ps FROM customer_days
    WHERE workspace_id = {{workspace}} AND day >= {{first}} AND day < {{limit}}
    GROUP BY customer_id
) ARRAY JOIN ps AS p
GROUP BY p ORDER BY p
"""  # noqa: S608 (periods are fixed SQL)


def cohort_sql(by: Granularity | str) -> str:
    """Customers by the period of their first active day ever (cohort) and the periods in
    [first, limit) they were active in: (cohort, period, customers); period '' gives the size."""
    first_period = period_sql("min(day)", by)
    period = period_sql("day", by)
    return f"""
WITH firsts AS (
    SELECT customer_id, {first_period} AS cohort FROM customer_days
    WHERE workspace_id = {{workspace}} GROUP BY customer_id
    HAVING cohort >= {{first}} AND cohort < {{limit}}
)
SELECT toString(cohort) AS c, '' AS p, count() AS n FROM firsts GROUP BY cohort
UNION ALL
SELECT toString(f.cohort) AS c, toString(a.p) AS p, count() AS n FROM firsts AS f
INNER JOIN (
    SELECT DISTINCT customer_id, {period} AS p FROM customer_days
    WHERE workspace_id = {{workspace}} AND day >= {{first}} AND day < {{limit}}
) AS a ON a.customer_id = f.customer_id
GROUP BY f.cohort, a.p
"""  # noqa: S608 (periods are fixed SQL)


# ------------------------------------------------------------------ trends (analytics.trendwalk)


def trend_period_sql(column: str, by: str) -> str:
    """The start of the hour, day, ISO week or month holding ``column`` (a DateTime64)."""
    return {
        "hour": f"toStartOfHour({column})",
        "day": f"toDate({column})",
        "week": f"toMonday({column})",
        "month": f"toStartOfMonth({column})",
    }[by]


def _series_matches(steps: Sequence[Step], params: dict[str, Any], prefix: str) -> list[str]:
    """Per step, SQL true when an event matches it (name, channel, conditions)."""
    found = []
    for k, step in enumerate(steps):
        params[f"{prefix}{k}_e"] = step.event
        parts = [f"name = {{{prefix}{k}_e}}"]
        if step.channel:
            params[f"{prefix}{k}_c"] = step.channel
            parts.append(f"channel = {{{prefix}{k}_c}}")
        for j, condition in enumerate(step.conditions):
            parts.append(ch.condition_sql(condition, params, f"{prefix}{k}_p{j}"))
        found.append("(" + " AND ".join(parts) + ")")
    return found


def trend_sql(
    series: Sequence[Step],
    *,
    by: str,
    breakdown: tuple[str, str],
    customer_groups: Mapping[int, Sequence[str]] | None = None,
    materialize: bool = False,
) -> tuple[str, dict[str, Any]]:
    """Per (series, period, kept group): events and unique customers; rows of the groups outside
    the top ``{top}`` come back once per (series, period) with ``kept`` 0 (``analytics.trendwalk``'s
    rules). Columns: series index, period text, kept, group, events, customers.

    A breakdown by customer joins each event to its customer's groups (one row per group; a
    customer absent from ``customer_groups`` is in ''): the pairs (customer, group number) are
    bound as one CSV text read by ``format()`` (a text literal parses in one step, an array of
    numbers element by element), and the query raises its own ``max_query_size`` to fit.

    ``materialize``: read the series' events once for the ranking, the cells and the totals
    (ClickHouse otherwise inlines the CTE in all three: 0.64 s → 0.19 s at 10M events)."""
    params: dict[str, Any] = {"names": sorted({s.event for s in series})}
    matches = _series_matches(series, params, "s")
    kind, path = breakdown
    joined, settings = "", ""
    if kind == "customer" and customer_groups:
        names = sorted({g for groups in customer_groups.values() for g in groups})
        index = {name: i + 1 for i, name in enumerate(names)}
        pairs = "\n".join(
            f"{int(c)},{index[g]}" for c, groups in customer_groups.items() for g in groups
        )
        params.update(m_names=names, m_pairs=pairs)
        joined = """
    LEFT JOIN format(CSV, 'map_c UInt64, map_i UInt32', {m_pairs}) AS customer_map
        ON customer_id = customer_map.map_c"""
        settings = f"\nSETTINGS max_query_size = {max(262_144, 2 * len(pairs) + 65_536)}"
    if kind == "customer":
        group = "if(map_i = 0, '', {m_names}[map_i])" if customer_groups else "''"
    elif kind == "channel":
        group = "toString(channel)"
    elif kind == "property":
        parts = path.split(".")
        params["g_path"] = parts
        args = ", ".join(f"{{g_path}}[{i + 1}]" for i in range(len(parts)))
        raw = f"JSONExtractRaw(properties, {args})"
        group = (
            f"if(JSONType(properties, {args}) = 'String', JSONExtractString(properties, {args}), "
            f"if({raw} IN ('', 'null'), '', {raw}))"
        )
    else:
        group = "''"
    listed = ", ".join(f"if({m}, {k}, -1)" for k, m in enumerate(matches))
    period = trend_period_sql("ts", by)
    kept = "g IN (SELECT g FROM ranked)" if kind else "1"
    sql = f"""
WITH base AS (
    SELECT customer_id, ts, {group} AS g, arrayFilter(x -> x >= 0, [{listed}]) AS ss
    FROM events{joined}
    WHERE workspace_id = {{workspace}} AND name IN {{names}} AND ts >= {{since}} AND ts < {{until}}
),
ranked AS (
    SELECT g FROM base WHERE notEmpty(ss) GROUP BY g ORDER BY count() DESC, g LIMIT {{top}}
)
SELECT s, toString({period}) AS p, toUInt8({kept}) AS kept, if(kept, g, '') AS grp,
    count() AS n, uniqExact(customer_id) AS customers
FROM base ARRAY JOIN ss AS s
GROUP BY s, p, kept, grp
UNION ALL
SELECT -1, '', 1, g, count(), 0 FROM base WHERE notEmpty(ss) AND {kept} GROUP BY g{settings}
"""  # noqa: S608 (structure is ours; every value is bound)
    if materialize:
        sql = ch.MATERIALIZED_CTES + sql.replace("WITH base AS (", "WITH base AS MATERIALIZED (", 1)
    return sql, params


def funnel_trend_sql(steps: Sequence[Step], *, by: str) -> tuple[str, dict[str, Any]]:
    """Per period of a step-1 event in [since, until): customers entered and converted
    (``analytics.trendwalk.funnel_trend``'s rules): from each start, the later steps' first
    times strictly after the previous step, within the window and by ``{as_of}``."""
    params: dict[str, Any] = {"names": sorted({s.event for s in steps})}
    matches = _series_matches(steps, params, "f")
    mask = " + ".join(f"if({m}, {1 << k}, 0)" for k, m in enumerate(matches))
    later = ", ".join(
        f"arraySort(groupArrayIf(t, bitTest(mask, {k})))" for k in range(1, len(steps))
    )
    sql = f"""
SELECT toString(p) AS period, count() AS entered, sum(done) AS converted FROM (
    SELECT customer_id, {trend_period_sql("fromUnixTimestamp64Micro(s, 'UTC')", by)} AS p,
        max(done) AS done
    FROM (
        SELECT customer_id,
            arraySort(groupArrayIf(t, bitTest(mask, 0) AND t < {{until_t}})) AS starts,
            [{later}] AS later,
            arrayMap(st -> toUInt8(arrayFold(
                (acc, tk) -> if(acc.1 = 1,
                    if((arrayFirstIndex(x -> x > acc.2 AND x - st <= {{window}}, tk) AS j) > 0,
                       (toUInt8(1), tk[j]), (toUInt8(0), acc.2)),
                    acc),
                later, (toUInt8(1), st)).1), starts) AS dones
        FROM (
            SELECT customer_id, toUnixTimestamp64Micro(ts) AS t, toUInt16({mask}) AS mask
            FROM events
            WHERE workspace_id = {{workspace}} AND name IN {{names}}
                AND ts >= {{since}} AND ts <= {{as_of}}
        ) WHERE mask != 0
        GROUP BY customer_id
        HAVING length(starts) > 0
    ) ARRAY JOIN starts AS s, dones AS done
    GROUP BY customer_id, p
) GROUP BY p
"""  # noqa: S608 (structure is ours; every value is bound)
    return sql, params


class ClickHouseTrends:
    """The retention, cohort and trend questions of ``engine.ClickHouseEngine`` (mixed in)."""

    transport: Any
    materialized_ctes: bool

    def retention_counts(
        self, *, workspace_id: int, by: Granularity, first: date, limit: date
    ) -> dict[date, tuple[int, int]]:
        params = {"workspace": workspace_id, "first": first, "limit": limit}
        rows = self.transport.query(ch.bind(retention_sql(by), params))
        return {date.fromisoformat(p): (int(a), int(r)) for p, a, r in rows}

    def cohort_counts(
        self, *, workspace_id: int, by: Granularity, first: date, limit: date
    ) -> tuple[dict[date, int], dict[tuple[date, date], int]]:
        params = {"workspace": workspace_id, "first": first, "limit": limit}
        sizes: dict[date, int] = {}
        active: dict[tuple[date, date], int] = {}
        for cohort, period, n in self.transport.query(ch.bind(cohort_sql(by), params)):
            if period:
                active[(date.fromisoformat(cohort), date.fromisoformat(period))] = int(n)
            else:
                sizes[date.fromisoformat(cohort)] = int(n)
        return sizes, active

    def trend_counts(
        self,
        *,
        workspace_id: int,
        series: Sequence[Step],
        by: str,
        since: datetime,
        until: datetime,
        breakdown: str = "",
        top: int = 5,
        customer_groups: CustomerGroups | None = None,
    ) -> TrendCounts:
        kind = breakdown_key(breakdown)
        if kind[0] == "customer" and customer_groups is None:
            raise ValueError(f"breakdown: {breakdown!r} needs each customer's groups")
        sql, params = trend_sql(
            series, by=by, breakdown=kind, customer_groups=customer_groups,
            materialize=self.materialized_ctes,
        )  # fmt: skip
        params.update(workspace=workspace_id, since=since, until=until, top=top)
        result = TrendCounts()
        ranking: list[tuple[int, str]] = []
        other = False
        for k, period, kept, group, n, customers in self.transport.query(ch.bind(sql, params)):
            if k < 0:
                ranking.append((-int(n), group))
                continue
            key = group if kept else OTHER
            other = other or not kept
            start = datetime.fromisoformat(period).replace(tzinfo=UTC)
            result.cells[(int(k), start, key)] = (int(n), int(customers))
        result.groups = [group for _, group in sorted(ranking)]
        if other:
            result.groups.append(OTHER)
        return result

    def funnel_trend(
        self,
        *,
        workspace_id: int,
        steps: Sequence[Step],
        window: timedelta | None,
        by: str,
        since: datetime,
        until: datetime,
        as_of: datetime,
    ) -> dict[datetime, tuple[int, int]]:
        sql, params = funnel_trend_sql(steps, by=by)
        params.update(
            workspace=workspace_id, since=since, until_t=ch.to_micros(until), as_of=as_of,
            window=int(window.total_seconds() * 10**6) if window else ch.FAR_FUTURE_MICROS,
        )  # fmt: skip
        return {
            datetime.fromisoformat(period).replace(tzinfo=UTC): (int(entered), int(converted))
            for period, entered, converted in self.transport.query(ch.bind(sql, params))
        }
