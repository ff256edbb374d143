"""Each customer's behaviour in aggregate in ClickHouse's SQL (``analytics.behaviour``'s rules):
three grouped queries over the events of a range (or all of them), a row per customer with their
channels' and event names' counts as arrays, and a row per customer with orders. Numeric revenues
are summed in the engine; revenues sent as text come back as text and are read by
``behaviour.revenue_number``, so both engines read them alike.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from cxloop.analytics import clickhouse as ch
from cxloop.analytics.behaviour import BehaviourCounts, revenue_number

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
