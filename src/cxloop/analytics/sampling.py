"""A repeatable random sample of customers (or sessions), the same in every engine.

A unit (a customer id, or a session's unit id) is in a sample of ``rate`` per ``SCALE`` when
its Knuth multiplicative hash, taken modulo ``SCALE``, is below ``rate``. The hash spreads
consecutive ids evenly, so the sample does not follow sign-up order, and the same rate always
picks the same people: the page, the API and the link to the people agree, and every engine
(ClickHouse's SQL below, the Python walk of the database engine) picks the same units.
"""

from __future__ import annotations

import math

SCALE = 10_000
_MULTIPLIER = 2654435761  # Knuth's multiplicative hash (2^32 / golden ratio)
# the same arithmetic in ClickHouse: UInt64 products wrap modulo 2^64, a multiple of 2^32.
# The engine keeps it as the ``bucket`` column of its events, first in their order after the
# workspace, so a sample reads only its own part of the store (``clickhouse.SCHEMA``)
BUCKET_SQL = f"((customer_id * {_MULTIPLIER}) % 4294967296) % {SCALE}"
SQL = "bucket < {sample}"


def bucket(unit: int) -> int:
    """``unit``'s bucket, 0 to ``SCALE`` - 1 (``BUCKET_SQL``)."""
    return (int(unit) * _MULTIPLIER) % 2**32 % SCALE


def in_sample(unit: int, rate: int | None) -> bool:
    """Whether ``unit`` is in the sample of ``rate`` per ``SCALE`` (everyone when None)."""
    return rate is None or bucket(unit) < rate


def rate_for(entered: int, size: int) -> int | None:
    """The rate per ``SCALE`` that keeps about ``size`` of ``entered`` units (None: all of them,
    when ``entered`` is no more than ``size``)."""
    if size <= 0:
        raise ValueError(f"sample size {size}: use a positive number")
    if entered <= size:
        return None
    return max(1, math.ceil(SCALE * size / entered))
