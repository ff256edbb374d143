"""Each customer's behaviour in aggregate in ClickHouse's SQL (``analytics.behaviour``'s rules):
three grouped queries, a row per (customer, channel), per (customer, event name) and per
customer with orders. Numeric revenues are summed in the engine; revenues sent as text come back
as text and are read by ``behaviour.revenue_number``, so both engines read them alike.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from cxloop.analytics import clickhouse as ch
from cxloop.analytics.behaviour import BehaviourCounts, revenue_number

_STEPS = "FROM events WHERE workspace_id = {workspace} AND type IN {types} AND name != ''"

BY_CHANNEL = f"""
SELECT customer_id, toString(channel), count(), toUnixTimestamp64Micro(min(ts)),
    toUnixTimestamp64Micro(max(ts))
{_STEPS}
GROUP BY customer_id, channel
"""

BY_NAME = f"""
SELECT customer_id, toString(name), count(), countIf(type = 'track'),
    toUnixTimestamp64Micro(minIf(ts, type = 'track'))
{_STEPS}
GROUP BY customer_id, name
"""

_REVENUE_TYPE = "JSONType(properties, 'revenue')"
REVENUE = f"""
SELECT customer_id,
    sumIf(JSONExtractFloat(properties, 'revenue'), {_REVENUE_TYPE} IN ('Int64', 'UInt64', 'Double')),
    groupArrayIf(JSONExtractString(properties, 'revenue'), {_REVENUE_TYPE} = 'String')
{_STEPS} AND name = {{order}}
GROUP BY customer_id
"""


class ClickHouseBehaviour:
    """The personas' question of ``engine.ClickHouseEngine`` (mixed in)."""

    transport: Any

    def behaviour_counts(self, *, workspace_id: int, order_event: str) -> BehaviourCounts:
        params = {"workspace": workspace_id, "types": list(ch.STEP_TYPES), "order": order_event}
        found = BehaviourCounts()
        for customer, channel, n, began, ended in self.transport.query(ch.bind(BY_CHANNEL, params)):
            customer = int(customer)
            found.channels.setdefault(customer, Counter())[channel] += int(n)
            began, ended = ch.from_micros(int(began)), ch.from_micros(int(ended))
            found.first[customer] = min(began, found.first.get(customer, began))
            found.last[customer] = max(ended, found.last.get(customer, ended))
        for customer, name, n, tracked, at in self.transport.query(ch.bind(BY_NAME, params)):
            customer = int(customer)
            found.names.setdefault(customer, Counter())[name] += int(n)
            if int(tracked):
                found.first_track.setdefault(customer, {})[name] = ch.from_micros(int(at))
        for customer, numbers, texts in self.transport.query(ch.bind(REVENUE, params)):
            found.revenue[int(customer)] = float(numbers) + sum(revenue_number(t) for t in texts)
        return found
