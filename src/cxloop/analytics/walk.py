"""The funnel algorithm: how far each customer gets through an ordered list of steps.

Rules (the same as the hand-written SQL in ``bench/funnel.py``):

* a customer enters the funnel with any event matching step 1 (the *start*);
* each later step must happen strictly after the previous step, and no later than the start plus
  the conversion window (inclusive), when there is one;
* for a given start the earliest matching event of each next step is taken (greedy), which is
  optimal: an earlier step leaves every option open for the steps after it;
* of all starts, the customer counts with the one that gets furthest; on a tie, the earliest start
  (the *earliest qualifying sequence*), and of starts at the same time the one whose channel
  comes first by name (it only decides the start's channel: same-time starts reach as far). Each customer counts once per step however often they repeat
  events.

Merged profiles need nothing special: a merge moves every event to the surviving profile.

Times are whatever the database returns: aware datetimes (PostgreSQL) or Django's naive-UTC text
(SQLite, ``YYYY-MM-DD HH:MM:SS[.ffffff]``, which sorts like the times it stands for). Only the
window bound of each start is computed, so the hot loop compares values and never parses them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

import orjson

from cxloop.analytics.steps import ANY_ORDER, MODES, ORDERED, STRICT, Exclusion, Step

# an event's time as the database returns it: aware datetime (PostgreSQL) or naive-UTC text (SQLite)
Moment = datetime | str
MAX_WINDOW_SECONDS = 100 * 366 * 86400  # a century: the longest window, page and API alike


@dataclass(slots=True)
class FunnelRun:
    """Per customer: steps completed (1..n), the times of those steps, the start's channel."""

    steps: int
    depth: dict[int, int] = field(default_factory=dict)
    times: dict[int, list[Moment]] = field(default_factory=dict)
    start_channel: dict[int, str] = field(default_factory=dict)

    def counts(self, customers: Iterable[int] | None = None) -> list[int]:
        """Customers reaching each step (of ``customers`` only, when given)."""
        counts = [0] * self.steps
        depth = self.depth
        for customer in depth if customers is None else customers:
            for k in range(depth.get(customer, 0)):
                counts[k] += 1
        return counts

    def median_seconds(self) -> list[float | None]:
        """Median time from step k-1 to step k (index 0: None), over customers reaching step k."""
        gaps: list[list[float]] = [[] for _ in range(self.steps)]
        for times in self.times.values():
            moments = [as_datetime(t) for t in times]
            for k in range(1, len(moments)):
                gaps[k].append((moments[k] - moments[k - 1]).total_seconds())
        return [median(g) if g else None for g in gaps]


def funnel_run(
    rows: Iterable[tuple], *, steps: Sequence[Step], window: timedelta | None
) -> FunnelRun:
    """Walk ``rows`` of ``(customer_id, occurred_at, name, channel, properties)`` through ``steps``.

    ``properties`` (dict or JSON text) is only read for steps with conditions; rows may come in
    any order. Returns every customer that reached step 1.
    """
    masks = _masker(steps)
    by_customer: dict[int, list[tuple]] = {}
    get = by_customer.get
    channels: dict[str, str] = {}  # one string object per channel, not one per row
    for customer, at, name, channel, properties in rows:
        mask = masks(name, channel, properties)
        if mask:
            channel = channels.setdefault(channel, channel)
            events = get(customer)
            if events is None:
                by_customer[customer] = [(at, mask, channel)]
            else:
                events.append((at, mask, channel))
    run = FunnelRun(steps=len(steps))
    if not by_customer:
        return run
    sample = next(iter(by_customer.values()))[0][0]
    bound = _bounder(sample, window)
    n = len(steps)
    depth_of, times_of, channel_of = run.depth, run.times, run.start_channel
    for customer, events in by_customer.items():
        if len(events) > 1:
            events.sort(key=_by_time)
        best: list | None = None
        best_channel = ""
        count = len(events)
        for i in range(count):
            start, mask, channel = events[i]
            if not mask & 1:
                continue
            times = [start]
            if n > 1:
                limit = bound(start)
                prev, want = start, 2  # bit of the next step
                for j in range(i + 1, count):
                    at, mask, _ = events[j]
                    if limit is not None and at > limit:
                        break
                    if mask & want and at > prev:
                        times.append(at)
                        if len(times) == n:
                            break
                        prev, want = at, want << 1
            if best is None or len(times) > len(best):
                best, best_channel = times, channel
                if len(best) == n:
                    break
        if best is not None:
            depth_of[customer] = len(best)
            times_of[customer] = best
            channel_of[customer] = best_channel
    return run


def funnel_walk(
    rows: Iterable[tuple],
    *,
    steps: Sequence[Step],
    window: timedelta | None,
    mode: str = ORDERED,
    exclusions: Sequence[Exclusion] = (),
) -> FunnelRun:
    """:func:`funnel_run` in any mode, with exclusions (the reference of the engine's SQL).

    * ``ordered``: :func:`funnel_run`'s rules (from each start, the earliest next step strictly
      later and within the window);
    * ``strict``: step k+1 must happen at the customer's very next *moment* after step k, a
      moment being a time at which they did any track/page/screen event (``rows`` then holds
      them all, matching a step or not); other events at the same moment as a step do not
      break the chain (simultaneous is not "in between");
    * ``any``: a start is any event matching any step; from it, each step's earliest event at
      or after the start and within the window counts; the chain is those times sorted, so
      step k counts customers who did any k of the steps;
    * an exclusion after step a: an excluded event strictly between the chain's steps a and
      a+1 stops that chain at step a (same-time events do not count as between).

    Of a customer's starts (by time, then channel name) the first reaching furthest counts.
    """
    if mode not in MODES:
        raise ValueError(f"funnel mode {mode!r}: use one of {', '.join(MODES)}")
    if mode == ORDERED and not exclusions:
        return funnel_run(rows, steps=steps, window=window)
    masks = _masker(steps)
    xmasks = _masker([x.step for x in exclusions]) if exclusions else None
    strict = mode == STRICT
    by_customer: dict[int, list[tuple]] = {}
    for customer, at, name, channel, properties in rows:
        mask = masks(name, channel, properties)
        xmask = xmasks(name, channel, properties) if xmasks else 0
        if mask or xmask or strict:
            by_customer.setdefault(customer, []).append((at, channel, mask, xmask))
    run = FunnelRun(steps=len(steps))
    if not by_customer:
        return run
    bound = _bounder(next(iter(by_customer.values()))[0][0], window)
    n = len(steps)
    first_bit = 1 if mode != ANY_ORDER else (1 << n) - 1
    for customer, events in by_customer.items():
        events.sort(key=lambda e: (e[0], e[1]))
        at_step = [[e[0] for e in events if e[2] >> k & 1] for k in range(n)]
        at_excluded = [[e[0] for e in events if e[3] >> j & 1] for j in range(len(exclusions))]
        moments = sorted({e[0] for e in events}) if strict else []
        best: list | None = None
        best_channel = ""
        for start, channel, mask, _ in events:
            if not mask & first_bit:
                continue
            limit = bound(start)
            if mode == ANY_ORDER:
                times = _any_order(start, limit, at_step)
            else:
                times = _chain(start, limit, at_step, moments if strict else None)
            for x, excluded in zip(exclusions, at_excluded, strict=True):
                a = x.after
                if a < len(times):
                    i = bisect_right(excluded, times[a - 1])
                    if i < len(excluded) and excluded[i] < times[a]:
                        times = times[:a]
            if best is None or len(times) > len(best):
                best, best_channel = times, channel
                if len(best) == n:
                    break
        if best is not None:
            run.depth[customer] = len(best)
            run.times[customer] = best
            run.start_channel[customer] = best_channel
    return run


def _chain(start: Moment, limit: Moment | None, at_step: list[list], moments: list | None) -> list:
    """Ordered (``moments`` None) or strict chain of step times from ``start``."""
    times, prev = [start], start
    for later in at_step[1:]:
        if moments is None:
            i = bisect_right(later, prev)
            if i == len(later):
                break
            at = later[i]
        else:
            i = bisect_right(moments, prev)
            if i == len(moments):
                break
            at = moments[i]
            j = bisect_left(later, at)
            if j == len(later) or later[j] != at:
                break
        if limit is not None and at > limit:
            break
        times.append(at)
        prev = at
    return times


def _any_order(start: Moment, limit: Moment | None, at_step: list[list]) -> list:
    found = []
    for times in at_step:
        i = bisect_left(times, start)
        if i < len(times) and (limit is None or times[i] <= limit):
            found.append(times[i])
    return sorted(found)


def as_datetime(value: datetime | str) -> datetime:
    """An aware datetime from what the database returned (SQLite text is naive UTC)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _by_time(event: tuple) -> tuple[Moment, str]:
    return event[0], event[2]  # same-time starts: the first channel by name (the engine's rule)


def _bounder(sample: object, window: timedelta | None) -> Callable[[Any], Moment | None]:
    # the bound takes a start of the same kind as ``sample`` (every row has the same kind)
    """The latest time a step may have after a start; None (no bound) past the calendar's end,
    where no event can be later anyway."""
    if window is None:
        return lambda start: None
    if isinstance(sample, str):
        # Django stores naive UTC as isoformat(" "): the bound in the same form compares exactly
        def text_bound(start: str) -> str | None:
            try:
                return (datetime.fromisoformat(start) + window).isoformat(" ")
            except OverflowError:
                return None

        return text_bound

    def bound(start: datetime) -> datetime | None:
        try:
            return start + window
        except OverflowError:
            return None

    return bound


def _masker(steps: Sequence[Step]) -> Callable[[str, str, object], int]:
    """A function giving the bit mask of the steps an event matches (bit k: step k)."""
    cache: dict[tuple[str, str], tuple[int, list[tuple[int, Step]]]] = {}

    def mask_of(name: str, channel: str, properties: object) -> int:
        entry = cache.get((name, channel))
        if entry is None:
            plain, conditional = 0, []
            for k, step in enumerate(steps):
                if step.event == name and (not step.channel or step.channel == channel):
                    if step.conditions:
                        conditional.append((1 << k, step))
                    else:
                        plain |= 1 << k
            entry = cache[(name, channel)] = (plain, conditional)
        mask, conditional = entry
        if conditional:
            props = properties_of(properties)
            for bit, step in conditional:
                if all(c.test(props) for c in step.conditions):
                    mask |= bit
        return mask

    return mask_of


def properties_of(value: object) -> dict:
    if isinstance(value, str | bytes):
        value = orjson.loads(value) if value else {}
    return value if isinstance(value, dict) else {}


@dataclass(slots=True)
class FunnelSummary:
    """What a funnel page shows, without a row per customer.

    ``by_channel``: customers reaching each step, by the channel of their start; ``stopped``:
    per step before the last, how many customers got exactly that far; ``latest``: the most
    recent of them, (time of their last step, customer id), newest first.
    """

    steps: int
    counts: list[int]
    median_seconds: list[float | None]
    by_channel: dict[str, list[int]]
    stopped: dict[int, int]
    latest: dict[int, list[tuple[datetime, int]]]


def funnel_summary(run: FunnelRun, *, latest: int) -> FunnelSummary:
    """The summary of a walked funnel (the reference the engine's SQL is tested against)."""
    by_channel: dict[str, list[int]] = {}
    for customer, depth in run.depth.items():
        counts = by_channel.setdefault(run.start_channel.get(customer, ""), [0] * run.steps)
        for k in range(depth):
            counts[k] += 1
    stopped: dict[int, list[tuple[datetime, int]]] = {}
    for customer, depth in run.depth.items():
        if depth < run.steps:
            at = as_datetime(run.times[customer][-1])
            stopped.setdefault(depth, []).append((at, customer))
    return FunnelSummary(
        steps=run.steps,
        counts=run.counts(),
        median_seconds=run.median_seconds(),
        by_channel=by_channel,
        stopped={depth: len(rows) for depth, rows in stopped.items()},
        latest={depth: sorted(rows, reverse=True)[:latest] for depth, rows in stopped.items()},
    )
