"""Each customer's behaviour in aggregate in ClickHouse's SQL (``analytics.behaviour``'s rules):
three grouped queries over the events of a range (or all of them), a row per customer with their
channels' and event names' counts as arrays, and a row per customer with orders. Numeric revenues
are summed in the engine; revenues sent as text come back as text and are read by
``behaviour.revenue_number``, so both engines read them alike. The same facts as arrays
(``behaviour_vectors``, what personas read): fixed-width rows per customer and channel and per
customer and track event, as RowBinary bytes straight into numpy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from cxloop.analytics import clickhouse as ch
from cxloop.analytics.behaviour import (
    BehaviourCounts,
    BehaviourVectors,
    long_table,
    revenue_number,
)

# step events; ``{bounds}`` becomes the range's conditions (``_bounded``) before binding
_STEPS = "FROM events WHERE workspace_id = {workspace} AND type IN {types} AND name != '' {bounds}"

# a row per customer, with arrays: ten times fewer rows to decode than a row per (customer, name)
BY_CHANNEL = f"""
SELECT customer_id, groupArray(c), groupArray(n), min(began), max(ended) FROM (
    SELECT customer_id, toString(channel) AS c, count() AS n,
        toUnixTimestamp64Micro(min(ts)) AS began, toUnixTimestamp64Micro(max(ts)) AS ended
    {_STEPS}
    GROUP BY customer_id, channel
) GROUP BY customer_id
"""  # noqa: S608 (structure is ours; every value is bound)

BY_NAME = f"""
SELECT customer_id, groupArray(e), groupArray(n), groupArray(tracked), groupArray(first_track)
FROM (
    SELECT customer_id, toString(name) AS e, count() AS n, countIf(type = 'track') AS tracked,
        toUnixTimestamp64Micro(minIf(ts, type = 'track')) AS first_track
    {_STEPS}
    GROUP BY customer_id, name
) GROUP BY customer_id
"""  # noqa: S608 (structure is ours; every value is bound)

_REVENUE_TYPE = "JSONType(properties, 'revenue')"
REVENUE = f"""
SELECT customer_id,
    sumIf(JSONExtractFloat(properties, 'revenue'), {_REVENUE_TYPE} IN ('Int64', 'UInt64', 'Double')),
    groupArrayIf(JSONExtractString(properties, 'revenue'), {_REVENUE_TYPE} = 'String')
{_STEPS} AND name = {{order}}
GROUP BY customer_id
"""


def _bounded(sql: str, since: datetime | None, until: datetime | None) -> str:
    """``sql`` limited to ``since <= ts < until`` (an open side: no limit), still to be bound."""
    bounds = " ".join(
        part
        for part, on in (("AND ts >= {since}", since), ("AND ts < {until}", until))
        if on is not None
    )
    return sql.replace("{bounds}", bounds)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ClickHouseBehaviour:
    """The personas' question of ``engine.ClickHouseEngine`` (mixed in)."""

    transport: Any

    def behaviour_counts(
        self,
        *,
        workspace_id: int,
        order_event: str,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> BehaviourCounts:
        params = {
            "workspace": workspace_id, "types": list(ch.STEP_TYPES), "order": order_event,
            "since": since, "until": until,
        }  # fmt: skip
        found = BehaviourCounts()
        for customer, channels, counts, began, ended in self.transport.query(
            ch.bind(_bounded(BY_CHANNEL, since, until), params)
        ):
            customer = int(customer)
            found.channels[customer] = Counter(dict(zip(channels, counts, strict=True)))
            found.first[customer] = _EPOCH + timedelta(microseconds=int(began))
            found.last[customer] = _EPOCH + timedelta(microseconds=int(ended))
        rows = self.transport.query(ch.bind(_bounded(BY_NAME, since, until), params))
        for customer, names, counts, tracked_counts, firsts in rows:
            customer = int(customer)
            found.names[customer] = Counter(dict(zip(names, counts, strict=True)))
            tracked = {
                name: _EPOCH + timedelta(microseconds=int(micros))
                for name, k, micros in zip(names, tracked_counts, firsts, strict=True)
                if k
            }
            if tracked:
                found.first_track[customer] = tracked
        for customer, numbers, texts in self.transport.query(
            ch.bind(_bounded(REVENUE, since, until), params)
        ):
            found.revenue[int(customer)] = float(numbers) + sum(revenue_number(t) for t in texts)
        return found


# ------------------------------------------------------------------ as arrays (RowBinary)

NAMES = f"""
SELECT arraySort(groupUniqArray(toString(channel))),
    arraySort(groupUniqArrayIf(toString(name), type = 'track'))
{_STEPS}
"""

# a row per customer and channel, every column fixed-width: read straight into an array
PER_CHANNEL = f"""
SELECT customer_id, toUInt64(indexOf(CAST({{channels}} AS Array(String)), toString(channel)) - 1), toUInt64(count()),
    toInt64(toUnixTimestamp64Micro(min(ts))), toInt64(toUnixTimestamp64Micro(max(ts))),
    toUInt64(countIf(name = {{order}})), toUInt64(countIf(name IN {{support}})),
    toUInt64(countIf(name IN {{returns}}))
{_STEPS}
GROUP BY customer_id, channel
"""
PER_CHANNEL_ROW = np.dtype(
    [("customer", "<u8"), ("code", "<u8"), ("n", "<u8"), ("first", "<i8"), ("last", "<i8"),
     ("orders", "<u8"), ("support", "<u8"), ("returns", "<u8")]
)  # fmt: skip

FIRST_TRACK = f"""
SELECT customer_id, toUInt64(indexOf(CAST({{tracks}} AS Array(String)), toString(name)) - 1),
    toInt64(toUnixTimestamp64Micro(min(ts)))
{_STEPS} AND type = 'track'
GROUP BY customer_id, name
"""
FIRST_TRACK_ROW = np.dtype([("customer", "<u8"), ("code", "<u8"), ("first", "<i8")])


def fixed_rows(transport: Any, sql: str, dtype: np.dtype) -> np.ndarray:
    """The rows of ``sql``, whose columns are all fixed-width, as a structured array."""
    return np.frombuffer(transport.query_bytes(sql, "RowBinary"), dtype=dtype)


class ClickHouseBehaviourVectors:
    """Personas' features as arrays (``engine.ClickHouseEngine``, mixed in)."""

    transport: Any

    def behaviour_vectors(
        self,
        *,
        workspace_id: int,
        order_event: str,
        support_events: Sequence[str],
        return_events: Sequence[str],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> BehaviourVectors:
        params: dict[str, Any] = {
            "workspace": workspace_id, "types": list(ch.STEP_TYPES), "order": order_event,
            # none: the empty name, which no step event has
            "support": sorted(set(support_events)) or [""],
            "returns": sorted(set(return_events)) or [""],
            "since": since, "until": until,
        }  # fmt: skip
        [[channels, tracks]] = self.transport.query(ch.bind(_bounded(NAMES, since, until), params))
        channels, tracks = sorted(channels), sorted(tracks)  # Python's order: the same as SQL
        params |= {"channels": channels, "tracks": tracks}
        rows = fixed_rows(
            self.transport, ch.bind(_bounded(PER_CHANNEL, since, until), params), PER_CHANNEL_ROW
        )
        ids, row = np.unique(rows["customer"], return_inverse=True)
        n = len(ids)
        first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        np.minimum.at(first, row, rows["first"])
        np.maximum.at(last, row, rows["last"])

        def total(column: str) -> np.ndarray:
            return np.bincount(row, weights=rows[column], minlength=n).astype(np.int64)

        tracked = fixed_rows(
            self.transport, ch.bind(_bounded(FIRST_TRACK, since, until), params), FIRST_TRACK_ROW
        )
        revenue = np.zeros(n, dtype=np.float64)
        orders = self.transport.query(ch.bind(_bounded(REVENUE, since, until), params))
        if orders:
            buyers = np.array([int(customer) for customer, _, _ in orders], dtype=np.uint64)
            revenue[np.searchsorted(ids, buyers)] = [
                float(numbers) + sum(revenue_number(t) for t in texts)
                for _, numbers, texts in orders
            ]
        c_row, c_code, c_n = long_table(row, rows["code"], rows["n"])
        t_row, t_code, t_first = long_table(
            np.searchsorted(ids, tracked["customer"]), tracked["code"], tracked["first"]
        )
        return BehaviourVectors(
            customer_ids=ids.astype(np.int64),
            first=first,
            last=last,
            orders=total("orders"),
            support=total("support"),
            returns=total("returns"),
            revenue=revenue,
            channels=channels,
            channel_row=c_row,
            channel_code=c_code,
            channel_n=c_n,
            tracks=tracks,
            track_row=t_row,
            track_code=t_code,
            track_first=t_first,
        )
