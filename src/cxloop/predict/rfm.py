"""Recency-frequency-monetary summaries from a purchase log (pure NumPy, no Django).

Purchases on the same day count as one purchase (their amounts add up), as in the BG/NBD papers.
Time is in days since an arbitrary origin; the models take any unit (``unit=7`` gives weeks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True)
class RFM:
    """One row per customer whose first purchase is on or before the cut-off."""

    customer: NDArray[np.int64]
    x: Array  # repeat purchases (days with a purchase after the first one), up to the cut-off
    t_x: Array  # time of the last purchase, from the first
    T: Array  # time from the first purchase to the cut-off
    monetary: Array  # average amount of the repeat purchases (0 when x = 0)
    first_amount: Array  # amount of the first purchase
    last_day: Array  # day of the last purchase


def rfm_summary(
    customer: ArrayLike,
    day: ArrayLike,
    amount: ArrayLike,
    *,
    cutoff_day: float,
    unit: float = 1.0,
) -> RFM:
    """Summarise purchases ``(customer, day, amount)`` made on days <= ``cutoff_day``.

    ``day`` is a whole day number (purchases on one day merge); ``unit`` divides times (7: weeks).
    """
    cust = np.asarray(customer, dtype=np.int64)
    days = np.floor(np.asarray(day, dtype=np.float64))
    amounts = np.asarray(amount, dtype=np.float64)
    if not (cust.shape == days.shape == amounts.shape):
        raise ValueError("customer, day and amount must have the same length")
    keep = days <= cutoff_day
    cust, days, amounts = cust[keep], days[keep], amounts[keep]
    if cust.size == 0:
        empty = np.zeros(0)
        return RFM(np.zeros(0, dtype=np.int64), empty, empty, empty, empty, empty, empty)
    # one row per (customer, day), amounts summed, ordered by customer then day
    pairs, inverse = np.unique(np.column_stack([cust, days]), axis=0, return_inverse=True)
    day_amount = np.bincount(inverse.reshape(-1), weights=amounts, minlength=len(pairs))
    pair_cust = pairs[:, 0].astype(np.int64)
    pair_day = pairs[:, 1]
    customers, start, counts = np.unique(pair_cust, return_index=True, return_counts=True)
    first_day = pair_day[start]
    last_day = pair_day[start + counts - 1]
    first_amount = np.asarray(day_amount[start], dtype=np.float64)
    totals = np.add.reduceat(day_amount, start)
    x = (counts - 1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(x > 0, (totals - first_amount) / np.where(x > 0, x, 1.0), 0.0)
    return RFM(
        customer=customers,
        x=x,
        t_x=(last_day - first_day) / unit,
        T=(cutoff_day - first_day) / unit,
        monetary=monetary,
        first_amount=first_amount,
        last_day=last_day,
    )


def purchase_days_between(
    customer: ArrayLike, day: ArrayLike, *, after_day: float, up_to_day: float
) -> dict[int, int]:
    """Days with a purchase in (after_day, up_to_day] per customer (holdout actuals)."""
    cust = np.asarray(customer, dtype=np.int64)
    days = np.floor(np.asarray(day, dtype=np.float64))
    keep = (days > after_day) & (days <= up_to_day)
    if not keep.any():
        return {}
    pairs = np.unique(np.column_stack([cust[keep], days[keep]]), axis=0)
    ids, counts = np.unique(pairs[:, 0].astype(np.int64), return_counts=True)
    return dict(zip(ids.tolist(), counts.tolist(), strict=True))
