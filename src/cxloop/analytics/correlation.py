"""Which events go with converting in a funnel: the counts behind the correlation view.

A customer who entered the funnel (reached step 1, by the funnel's mode and exclusions) *did* an
event when they have one with that name at or after the start counted for them and no later
than the start plus the conversion window (any time after the start without a window). The
funnel's own step events are not candidates (they are the conversion itself). Each candidate
comes with how many converted (reached the last step) and how many dropped customers did it;
the statistics (odds ratios, Fisher's exact test, Holm) are the journeys app's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from cxloop.analytics.walk import FunnelRun, _bounder


@dataclass(slots=True)
class FunnelCorrelation:
    entered: int
    converted: int
    # event name → (converted customers who did it, dropped customers who did it)
    events: dict[str, tuple[int, int]] = field(default_factory=dict)


def correlation_counts(
    run: FunnelRun, rows: Iterable[tuple], *, window: timedelta | None, steps: set[str]
) -> FunnelCorrelation:
    """The reference count from a walked funnel and ``rows`` of ``(customer_id, occurred_at,
    name)`` (any order, times as the database returns them)."""
    n = run.steps
    converted = {c for c, d in run.depth.items() if d == n}
    found = FunnelCorrelation(entered=len(run.depth), converted=len(converted))
    if not run.depth:
        return found
    bound = _bounder(next(iter(run.times.values()))[0], window)
    limits = {c: (times[0], bound(times[0])) for c, times in run.times.items()}
    seen: dict[str, set[int]] = {}
    for customer, at, name in rows:
        if not name or name in steps:
            continue
        span = limits.get(customer)
        if span is None or at < span[0] or (span[1] is not None and at > span[1]):
            continue
        seen.setdefault(name, set()).add(customer)
    for name, people in seen.items():
        won = len(people & converted)
        found.events[name] = (won, len(people) - won)
    return found
