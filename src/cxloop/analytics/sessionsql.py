"""Sessions in ClickHouse's SQL (``analytics.sessions``'s rules): the session view of the events
and the session trend.

The view has the columns of ``events`` with ``customer_id`` replaced by the session's unit
(``sessions.unit_of``): window functions over each customer's events ordered by (ts, id)
(``lagInFrame`` for the gap, ``argMaxIf`` over the earlier rows for the latest session id, a
running sum of session starts for the number). :class:`SessionView` is a transport that runs
every query with the view in place of the ``events`` table, so the funnel, correlation and
path queries answer per session unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cxloop.analytics import clickhouse as ch
from cxloop.analytics import sampling
from cxloop.analytics.sessions import UNIT_BITS, SessionPeriod, SessionRules
from cxloop.analytics.trendsql import trend_period_sql


def session_id_sql(names: Sequence[str], params: dict[str, Any]) -> str:
    """The session id of an event: the first present, non-empty property of ``names``, read as
    ``trendsql.trend_sql`` reads a breakdown property."""
    texts = []
    for i, name in enumerate(names):
        parts = name.split(".")
        params[f"sid{i}"] = parts
        args = ", ".join(f"{{sid{i}}}[{j + 1}]" for j in range(len(parts)))
        raw = f"JSONExtractRaw(properties, {args})"
        texts.append(
            f"nullIf(if(JSONType(properties, {args}) = 'String', "
            f"JSONExtractString(properties, {args}), if({raw} IN ('', 'null'), '', {raw})), '')"
        )
    return f"coalesce({', '.join(texts)}, '')" if texts else "''"


def session_events_sql(
    rules: SessionRules, *, workspace_id: int, only: Sequence[int] | None = None
) -> str:
    """Every event of the workspace (of ``only``'s customers) with its ``session`` number and
    the customer as ``cust``; the text is bound."""
    params: dict[str, Any] = {
        "workspace": workspace_id,
        "timeout": int(rules.timeout.total_seconds() * 10**6),
        "only": list(only or ()) or [0],
    }
    sid = session_id_sql(rules.properties, params)
    where_only = "AND customer_id IN {only}" if only is not None else ""
    sql = f"""
SELECT *, sum(opens) OVER (PARTITION BY cust ORDER BY ts, id ROWS UNBOUNDED PRECEDING) AS session
FROM (
    SELECT *, toUInt64(rn = 1 OR if(sid != '' AND prev_sid != '', sid != prev_sid,
        toUnixTimestamp64Micro(ts) - toUnixTimestamp64Micro(prev_ts) > {{timeout}})) AS opens
    FROM (
        SELECT workspace_id, customer_id AS cust, ts, id, type, name, channel, properties,
            {sid} AS sid,
            row_number() OVER w AS rn,
            lagInFrame(ts, 1, ts) OVER w AS prev_ts,
            argMaxIf(sid, (ts, id), sid != '') OVER (PARTITION BY customer_id ORDER BY ts, id
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_sid
        FROM events
        WHERE workspace_id = {{workspace}} {where_only}
        WINDOW w AS (PARTITION BY customer_id ORDER BY ts, id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    )
)"""  # noqa: S608 (structure is ours; every value is bound)
    return ch.bind(sql, params)


def session_view_sql(
    rules: SessionRules, *, workspace_id: int, only: Sequence[int] | None = None
) -> str:
    """The events with ``customer_id`` the session's unit (bound text)."""
    inner = session_events_sql(rules, workspace_id=workspace_id, only=only)
    return f"""
SELECT workspace_id, bitShiftLeft(cust, {UNIT_BITS}) + session AS customer_id, ts, id, type,
    name, channel, properties, {sampling.BUCKET_SQL} AS bucket
FROM ({inner})"""  # noqa: S608 (structure is ours; every value is bound)


_FROM_EVENTS = re.compile(r"\bFROM events\b(\s+AS\b)?")


class SessionView:
    """A transport running each query with the session view in place of ``events``."""

    def __init__(self, transport: Any, view: str) -> None:
        self.transport = transport
        self.view = view

    def rewrite(self, sql: str) -> str:
        def swap(match: re.Match) -> str:
            return f"FROM ({self.view}) AS" + ("" if match.group(1) else " events")

        return _FROM_EVENTS.sub(swap, sql)

    def query(self, sql: str) -> list[list[Any]]:
        return self.transport.query(self.rewrite(sql))

    def query_bytes(self, sql: str, fmt: str) -> bytes:
        return self.transport.query_bytes(self.rewrite(sql), fmt)

    def command(self, sql: str) -> None:
        raise RuntimeError("the session view is read-only")

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
        raise RuntimeError("the session view is read-only")


def session_trend_sql(
    rules: SessionRules, *, workspace_id: int, by: str, since: datetime, until: datetime
) -> str:
    """Per period of a session's first event in [since, until): sessions, median and mean
    duration in µs (bound text)."""
    period = trend_period_sql("first", by)
    outer = f"""
SELECT toString({period}) AS p, count() AS sessions, uniqExact(cust) AS customers,
    quantileExactInclusive(0.5)(duration) AS median, avg(duration) AS mean
FROM (
    SELECT cust, min(ts) AS first,
        toUnixTimestamp64Micro(max(ts)) - toUnixTimestamp64Micro(min(ts)) AS duration
    FROM (INNER)
    GROUP BY cust, session
    HAVING first >= {{since}} AND first < {{until}}
)
GROUP BY p
"""  # noqa: S608 (structure is ours; every value is bound)
    inner = session_events_sql(rules, workspace_id=workspace_id)
    return ch.bind(outer, {"since": since, "until": until}).replace("(INNER)", f"({inner})", 1)


class ClickHouseSessions:
    """The session questions of ``engine.ClickHouseEngine`` (mixed in)."""

    transport: Any
    label: str

    def session_trend(
        self,
        *,
        workspace_id: int,
        rules: SessionRules,
        by: str,
        since: datetime,
        until: datetime,
    ) -> dict[datetime, SessionPeriod]:
        sql = session_trend_sql(rules, workspace_id=workspace_id, by=by, since=since, until=until)
        return {
            datetime.fromisoformat(period).replace(tzinfo=UTC): SessionPeriod(
                sessions=int(n),
                customers=int(people),
                median_seconds=median / 10**6,
                mean_seconds=mean / 10**6,
            )
            for period, n, people, median, mean in self.transport.query(sql)
        }

    def per_session(
        self, *, workspace_id: int, rules: SessionRules, only: Sequence[int] | None = None
    ) -> Any:
        view = session_view_sql(rules, workspace_id=workspace_id, only=only)
        return type(self)(SessionView(self.transport, view), label=f"{self.label}, per session")  # type: ignore[call-arg]
