"""Journey map metrics from a stream of events, in Python: the reference implementation of the
analytics engine's journey query (``analytics.clickhouse.journey_sql``).

A customer *uses* a touchpoint with any event matching one of its rules and *reaches* a stage when
they use any of its touchpoints. Stages may be skipped (a shop-only customer buys without browsing
online). For each stage and touchpoint:

* volume: customers who reached/used it (and how many matching events);
* conversion to the next stage: of those customers, the share with an event of the next stage
  strictly after their first event of this stage (for a touchpoint: after their first use of it);
* median time to the next stage: from that first event to the first next-stage event after it.

A customer's current stage is the furthest stage they have reached.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import median

from cxloop.analytics.steps import Step
from cxloop.analytics.walk import Moment, as_datetime, properties_of


@dataclass(frozen=True, slots=True)
class TouchpointRules:
    key: str  # the touchpoint's id, as text (JSON object keys)
    stage: int  # stage position
    rules: tuple[Step, ...]


@dataclass(slots=True)
class _Tally:
    customers: int = 0
    events: int = 0
    converted: int = 0
    gaps: list[float] = field(default_factory=list)

    def as_dict(self, last: bool) -> dict:
        return tally_dict(
            customers=self.customers,
            events=self.events,
            converted=self.converted,
            median_seconds=median(self.gaps) if self.gaps else None,
            last=last,
        )


@dataclass(slots=True)
class JourneyResult:
    metrics: dict
    current: dict[int, tuple[int, Moment]]  # customer → (stage position, first reached at)


@dataclass(frozen=True, slots=True)
class Progress:
    """One customer's use of one stage or touchpoint: how many matching events, the first one,
    and the seconds from it to the next stage's first event after it (None: not converted)."""

    events: int
    first: Moment
    gap: float | None


@dataclass(slots=True)
class CustomerProgress:
    stages: dict[int, Progress]  # stage position → progress
    touchpoints: dict[int, Progress]  # index in the map's touchpoints → progress

    @property
    def current(self) -> tuple[int, Moment] | None:
        """The furthest stage reached and when it was first reached."""
        if not self.stages:
            return None
        furthest = max(self.stages)
        return furthest, self.stages[furthest].first


def matching_hits(
    rows: Iterable[tuple], touchpoints: Sequence[TouchpointRules]
) -> dict[int, list[tuple[Moment, int]]]:
    """Per customer, ``(occurred_at, touchpoint index)`` of every event matching a rule, from
    ``(customer, occurred_at, name, channel, properties)`` rows."""
    by_name: dict[str, list[tuple[int, Step]]] = {}
    for index, tp in enumerate(touchpoints):
        for rule in tp.rules:
            by_name.setdefault(rule.event, []).append((index, rule))
    per_customer: dict[int, list[tuple[Moment, int]]] = {}
    for customer, at, name, channel, properties in rows:
        candidates = by_name.get(name)
        if not candidates:
            continue
        props = None
        for index, rule in candidates:
            if rule.channel and rule.channel != channel:
                continue
            if rule.conditions:
                if props is None:
                    props = properties_of(properties)
                if not all(c.test(props) for c in rule.conditions):
                    continue
            per_customer.setdefault(customer, []).append((at, index))
    return per_customer


def customer_progress(
    hits: list[tuple[Moment, int]], *, stages: int, touchpoints: Sequence[TouchpointRules]
) -> CustomerProgress:
    """One customer's progress through a map from their matching hits (any order)."""
    hits.sort(key=lambda hit: hit[0])
    stage_times: list[list[Moment]] = [[] for _ in range(stages)]
    tp_first: dict[int, Moment] = {}
    tp_events: dict[int, int] = {}
    seen_at: set[tuple[Moment, int]] = set()  # one event matching two rules counts once
    for at, index in hits:
        if (at, index) in seen_at:
            continue
        seen_at.add((at, index))
        tp_first.setdefault(index, at)
        tp_events[index] = tp_events.get(index, 0) + 1
        stage_times[touchpoints[index].stage].append(at)
    last_stage = stages - 1
    stage_progress = {
        s: Progress(
            len(times), times[0], _gap(times[0], stage_times[s + 1]) if s < last_stage else None
        )
        for s, times in enumerate(stage_times)
        if times
    }
    tp_progress = {}
    for index, first in tp_first.items():
        s = touchpoints[index].stage
        gap = _gap(first, stage_times[s + 1]) if s < last_stage else None
        tp_progress[index] = Progress(tp_events[index], first, gap)
    return CustomerProgress(stages=stage_progress, touchpoints=tp_progress)


def journey_walk(
    rows: Iterable[tuple], *, stages: int, touchpoints: Sequence[TouchpointRules]
) -> JourneyResult:
    """Metrics of one journey map from ``(customer, occurred_at, name, channel, properties)``."""
    stage_tally = [_Tally() for _ in range(stages)]
    tp_tally = [_Tally() for _ in touchpoints]
    current: dict[int, tuple[int, Moment]] = {}
    last_stage = stages - 1
    for customer, hits in matching_hits(rows, touchpoints).items():
        progress = customer_progress(hits, stages=stages, touchpoints=touchpoints)
        for s, p in progress.stages.items():
            _count(stage_tally[s], p)
        for index, p in progress.touchpoints.items():
            _count(tp_tally[index], p)
        if (reached := progress.current) is not None:
            current[customer] = reached
    metrics = {
        "customers": len(current),
        "stages": [t.as_dict(s == last_stage) for s, t in enumerate(stage_tally)],
        "touchpoints": {
            tp.key: tp_tally[i].as_dict(tp.stage == last_stage) for i, tp in enumerate(touchpoints)
        },
    }
    return JourneyResult(metrics=metrics, current=current)


def _count(tally: _Tally, progress: Progress) -> None:
    tally.customers += 1
    tally.events += progress.events
    if progress.gap is not None:
        tally.converted += 1
        tally.gaps.append(progress.gap)


def tally_dict(
    *, customers: int, events: int, converted: int, median_seconds: float | None, last: bool
) -> dict:
    """One stage's or touchpoint's metrics, as the map stores them."""
    return {
        "customers": customers,
        "events": events,
        "converted": None if last else converted,
        "conversion": None if last or not customers else round(converted / customers, 4),
        "median_seconds": None if last or median_seconds is None else round(median_seconds, 1),
    }


def _gap(since: Moment, next_times: list[Moment]) -> float | None:
    """Seconds from ``since`` to the next stage's first event strictly after it (None: none)."""
    i = bisect_right(next_times, since)
    if i == len(next_times):
        return None
    return (as_datetime(next_times[i]) - as_datetime(since)).total_seconds()
