"""Last steps before churn or a complaint in ClickHouse's SQL (``analytics.before``'s rules).

One query: the group's customers with the time their steps stop at (churn: none, complaint: the
first complaint in the range), every customer's step events up to that time (everyone else's up
to ``until``), collapsed and cut to the last ``steps`` per customer, then counted per sequence.
Only the distinct sequences leave the engine, not a row per customer.
"""

from __future__ import annotations

from typing import Any

from cxloop.analytics import clickhouse as ch
from cxloop.analytics.before import CHURN, BeforeQuery, LastSteps
from cxloop.analytics.pathsql import BIG_QUERY, ONLY, id_csv


def last_steps_sql(query: BeforeQuery) -> tuple[str, dict[str, Any]]:
    """The query and its parameters; rows are (in the group, sequence, customers)."""
    params: dict[str, Any] = {
        "types": list(ch.STEP_TYPES), "steps": query.steps, "cutoff": query.cutoff,
        "names": list(query.names), "topics": list(query.topics), "since": query.since,
        "until": query.until, "no_stop": ch.FAR_FUTURE_MICROS,
        "only": id_csv(query.customer_ids or ()),
    }  # fmt: skip
    only = f"AND {ONLY}" if query.customer_ids is not None else ""
    one_pass = query.cutoff is not None and (query.until is None or query.cutoff <= query.until)
    if query.kind == CHURN and one_pass:
        return _churn_in_one_pass(query, only), params
    if query.kind == CHURN:
        grouped = f"""
        SELECT customer_id, {{no_stop}} AS stop, 1 AS hit FROM events
        WHERE workspace_id = {{workspace}} AND type IN {{types}} AND name != '' {only}
        GROUP BY customer_id HAVING max(ts) < {{cutoff}}"""  # noqa: S608 (ours; values bound)
    else:
        match = " OR ".join(
            part
            for part, on in (
                ("name IN {names}", query.names),
                ("JSONExtractString(properties, 'topic') IN {topics}", query.topics),
            )
            if on
        )
        bounds = " ".join(
            part
            for part, on in (("AND ts >= {since}", query.since), ("AND ts < {until}", query.until))
            if on is not None
        )
        grouped = f"""
        SELECT customer_id, toUnixTimestamp64Micro(min(ts)) AS stop, 1 AS hit FROM events
        WHERE workspace_id = {{workspace}} AND ({match}) {bounds} {only}
        GROUP BY customer_id"""  # noqa: S608 (ours; values bound)
    label = "concat(e.name, ' · ', e.channel)" if query.by_channel else "toString(e.name)"
    others_stop = "e.ts < {until}" if query.until is not None else "1"
    sql = f"""
WITH grouped AS ({grouped})
SELECT in_group, path, count() AS n
FROM (
    SELECT customer_id, in_group,
        arraySort(x -> (x.2, x.3), groupArray((step_label, step_t, step_id))) AS raw,
        arrayMap(x -> x.1, arrayFilter((x, previous) -> x.1 != previous, raw,
            arrayPushFront(arrayPopBack(arrayMap(x -> x.1, raw)), ''))) AS collapsed,
        arraySlice(collapsed, greatest(1, length(collapsed) - {{steps}} + 1)) AS path
    FROM (
        SELECT e.customer_id AS customer_id, {label} AS step_label,
            toUnixTimestamp64Micro(e.ts) AS step_t, e.id AS step_id, g.hit AS in_group
        FROM events AS e LEFT JOIN grouped AS g ON e.customer_id = g.customer_id
        WHERE e.workspace_id = {{workspace}} AND e.type IN {{types}} AND e.name != ''
            {only.replace("customer_id", "e.customer_id")}
            AND if(g.hit = 1, toUnixTimestamp64Micro(e.ts) < g.stop, {others_stop})
    )
    GROUP BY customer_id, in_group
)
GROUP BY in_group, path
{BIG_QUERY}
"""  # noqa: S608 (structure is ours; every value is bound)
    return sql, params


def _churn_in_one_pass(query: BeforeQuery, only: str) -> str:
    """Churn when its cutoff is no later than ``until``: one pass over the step events, grouped
    by customer, without a join. A churned customer's steps all come before the cutoff, so
    before ``until`` too: every customer's steps are the ones before ``until``, and the group
    is told by the latest of all their steps (a step after ``until`` keeps a customer out)."""
    label = "concat(name, ' · ', channel)" if query.by_channel else "toString(name)"
    before = "ts < {until}" if query.until is not None else "1"
    return f"""
SELECT in_group, path, count() AS n
FROM (
    SELECT customer_id, max(ts) < {{cutoff}} AS in_group,
        groupArrayIf({label}, {before}) AS labels,
        groupArrayIf(ts, {before}) AS times,
        groupArrayIf(id, {before}) AS ids,
        arraySort((x, t, i) -> (t, i), labels, times, ids) AS raw,
        arrayFilter((x, previous) -> x != previous, raw,
            arrayPushFront(arrayPopBack(raw), '')) AS collapsed,
        arraySlice(collapsed, greatest(1, length(collapsed) - {{steps}} + 1)) AS path
    FROM events
    WHERE workspace_id = {{workspace}} AND type IN {{types}} AND name != '' {only}
    GROUP BY customer_id
    HAVING length(raw) > 0
)
GROUP BY in_group, path
{BIG_QUERY}
"""  # noqa: S608 (structure is ours; every value is bound)


class ClickHouseBefore:
    """The "before churn/complaint" question of ``engine.ClickHouseEngine`` (mixed in)."""

    transport: Any

    def last_steps_before(self, *, workspace_id: int, query: BeforeQuery) -> LastSteps:
        sql, params = last_steps_sql(query)
        params["workspace"] = workspace_id
        found = LastSteps()
        for in_group, path, n in self.transport.query(ch.bind(sql, params)):
            (found.group if in_group else found.others)[tuple(path)] += int(n)
        return found
