"""What sets a group apart in its last steps (pure: sets in, rows out).

"Before churn" and "before complaint" list what a group of customers did in their last steps.
Raw counts rank common browsing first; here each event is set against a base rate: the share of
everyone else (customers outside the group, their own last steps) who did it. Lift is the group's
share over the base share (None when nobody else did it); Fisher's exact test (two-sided, scipy)
on [group, others] × [did it, did not] with Holm's correction across the events shown keeps
chance findings out. Rows: significant first, then by lift, so a rare but telling event ranks
above what everyone does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cxloop.text.drivers import holm

ALPHA = 0.05
MIN_CUSTOMERS = 2  # an event done by one customer of the group tells nothing


@dataclass(frozen=True)
class EventLift:
    event: str
    customers: int  # of the group who did it in their last steps
    share: float
    base_customers: int  # of everyone else
    base_share: float
    lift: float | None  # share / base_share; None when nobody else did it
    p_value: float
    p_holm: float

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA


def lifts(
    group: Iterable[Iterable[str]], others: Iterable[Iterable[str]], *, top: int = 15
) -> tuple[list[EventLift], int]:
    """The ``top`` events most often in the group's last steps (at least ``MIN_CUSTOMERS``
    customers), each against everyone else's; and how many other customers there were. One
    item per customer: the steps they did."""
    return counted_lifts(_sets(group), _sets(others), top=top)


def counted_lifts(
    group: Mapping[tuple[str, ...], int], others: Mapping[tuple[str, ...], int], *, top: int = 15
) -> tuple[list[EventLift], int]:
    """``lifts`` from how many customers ended on each sequence of steps, so a report over
    hundreds of thousands of customers costs one pass over its distinct sequences."""
    from scipy.stats import fisher_exact  # imported when used: keeps every command's start quick

    with_group = _did(group)
    with_others = _did(others)
    n_group, n_others = sum(group.values()), sum(others.values())
    candidates = sorted(
        (name for name, n in with_group.items() if n >= MIN_CUSTOMERS),
        key=lambda name: (-with_group[name], name),
    )[:top]
    if not candidates or not n_group:
        return [], n_others
    p_values = []
    for name in candidates:
        a, b = with_group[name], with_others[name]
        table = [[a, n_group - a], [b, n_others - b]]
        p_values.append(float(fisher_exact(table, alternative="two-sided")[1]) if n_others else 1.0)
    adjusted = holm(p_values)
    rows = []
    for name, p, q in zip(candidates, p_values, adjusted, strict=True):
        share = with_group[name] / n_group
        base = with_others[name] / n_others if n_others else 0.0
        rows.append(
            EventLift(
                event=name,
                customers=with_group[name],
                share=share,
                base_customers=with_others[name],
                base_share=base,
                lift=share / base if base else None,
                p_value=p,
                p_holm=q,
            )
        )
    rows.sort(
        key=lambda r: (
            not r.significant,
            -(r.lift if r.lift is not None else float("inf")),
            -r.customers,
            r.event,
        )
    )
    return rows, n_others


def _did(counts: Mapping[tuple[str, ...], int]) -> Counter[str]:
    """Per step: the customers whose sequence holds it at least once."""
    did: Counter[str] = Counter()
    for steps, n in counts.items():
        for name in set(steps):
            did[name] += n
    return did


def _sets(customers: Iterable[Iterable[str]]) -> Counter[tuple[str, ...]]:
    return Counter(tuple(sorted(set(steps))) for steps in customers)
