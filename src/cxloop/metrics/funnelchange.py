"""What changed in a funnel's conversion: this period against the previous one (or a chosen
range), whether the change is significant, and which groups of customers explain it.

The customers counted in a period are those entering step 1 in it; they convert when they reach
the last step within the funnel's window, by the period's end (events outside the period are not
seen, alike in both periods). Statistics (``metrics.definitions``):

* the overall change: the two conversion rates compared with the pooled two-proportion z-test
  (Fisher's exact test when an expected count is under 5), ``definitions.compare``;
* groups by channel (of the first step) and by a chosen customer trait (its largest values,
  the rest as "other"): each group's rate now against its rate before, the same test. Their
  contributions add up to the change: with shares s₀, s₁ of entrants and rates r₀, r₁ (a group
  absent before takes the overall previous rate R₀), the **rate effect** is s₁·(r₁ − r₀) and the
  **mix effect** (the group's share moving) is (s₁ − s₀)·(r₀ − R₀);
* event presence: customers who did event X between entering and the end of their window
  (``journeys.selectors.funnel_correlation``'s counts). The test is Fisher's exact test of the
  current period's table (did X or not × converted or not); X's **contribution** is how much the
  gap it makes moved: a gap is share-with-X · (rate without X − rate with X), the points the
  overall rate loses to those customers converting worse, and the contribution is
  −(gap now − gap before). An event first seen after the start of the previous period is
  "new since" its first day (``analytics.selectors.event_first_seen``). Events only converted
  customers did (an order's delivery, its survey) are outcomes of converting, not candidates;
  nor are events fewer than ``MIN_CUSTOMERS`` entrants did;
* every group and event tested is one family: p-values Holm-adjusted together.

One selector (:func:`funnel_change`) for the page and ``/api/trends/changes/funnel``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cxloop.analytics import selectors as analytics_selectors
from cxloop.analytics.steps import ORDERED, Exclusion, Step
from cxloop.core.models import Workspace
from cxloop.customers import selectors as customer_selectors
from cxloop.metrics import definitions as d
from cxloop.metrics.changes import ALPHA, DEFAULT_DAYS, p_text
from cxloop.metrics.filters import TRAIT_KEY
from cxloop.metrics.selectors import trait_key_personal
from cxloop.metrics.trends import (
    EARLIEST_DAY,
    NONE_LABEL,
    OTHER_LABEL,
    Range,
    TrendQueryError,
    trend_range,
)

MAX_VALUES = 5  # trait values kept; the rest is "other"
MAX_EVENTS = 40  # events tested, those most customers did in the current period
MIN_CUSTOMERS = 5  # an event done by fewer entrants is not a candidate
MAX_SENTENCES = 3
DIMENSIONS = ("channel", "trait", "event")


@dataclass(frozen=True, slots=True)
class Periods:
    """The current period and the one it is compared with."""

    current: Range
    previous: Range
    chosen: bool  # the previous range was chosen, not the one just before


def change_periods(
    *,
    workspace: Workspace,
    date_from: date | None = None,
    date_to: date | None = None,
    compare_from: date | None = None,
    compare_to: date | None = None,
    now: datetime | None = None,
) -> Periods:
    """The period (default: the last 28 days to the as-of time) and the compared one (default:
    as many days just before it)."""
    if date_from is None:
        last = trend_range(workspace=workspace, date_to=date_to, now=now).last
        date_from, date_to = last - timedelta(days=DEFAULT_DAYS - 1), last
    current = trend_range(workspace=workspace, date_from=date_from, date_to=date_to, now=now)
    if current.until <= current.since:
        raise TrendQueryError(
            f"from: {current.first} is after the as-of time {current.as_of:%Y-%m-%d}"
        )
    if (compare_from is None) != (compare_to is None):
        raise TrendQueryError("compare_from: give both ends of the compared range, or neither")
    chosen = compare_from is not None
    if compare_from is None or compare_to is None:
        days = (current.last - current.first).days + 1
        if (current.first - EARLIEST_DAY).days < days:
            raise TrendQueryError(f"from: no previous {days} days before {current.first}")
        compare_from = current.first - timedelta(days=days)
        compare_to = current.first - timedelta(days=1)
    previous = trend_range(workspace=workspace, date_from=compare_from, date_to=compare_to, now=now)
    if previous.until <= previous.since:
        raise TrendQueryError(f"compare_from: {previous.first} is after the as-of time")
    if previous.since < current.until and current.since < previous.until:
        raise TrendQueryError("compare_from: the compared range overlaps the period")
    return Periods(current, previous, chosen)


def check_trait(trait: str) -> None:
    """A trait to split by: a plain key that does not hold personal data."""
    if trait and not TRAIT_KEY.fullmatch(trait):
        raise TrendQueryError(f"trait: {trait!r} is not a trait key (letters, digits, _ . -)")
    if trait and trait_key_personal(trait):
        raise TrendQueryError(f"trait: {trait!r} holds personal data; pick a grouping trait")


@dataclass(slots=True)
class GroupChange:
    """One group of entrants (a channel, a trait value, or those who did an event)."""

    dimension: str  # channel, trait or event
    label: str
    before_entered: int
    before_converted: int
    after_entered: int
    after_converted: int
    contribution: float  # points of the overall rate
    rate_effect: float | None  # channel/trait groups: points from the group's own rate
    mix_effect: float | None  # ... and from its share of entrants moving
    p_value: float | None
    p_adjusted: float | None = None
    significant: bool = False
    test: str = ""
    new_since: date | None = None  # events first seen during the compared span
    # event groups: the rest of the current period's entrants (without the event)
    others_entered: int = 0
    others_converted: int = 0

    @property
    def before_rate(self) -> float | None:
        return _rate(self.before_converted, self.before_entered)

    @property
    def after_rate(self) -> float | None:
        return _rate(self.after_converted, self.after_entered)

    @property
    def others_rate(self) -> float | None:
        return _rate(self.others_converted, self.others_entered)


def _rate(hits: int, n: int) -> float | None:
    return 100 * hits / n if n else None


@dataclass(slots=True)
class FunnelChange:
    label: str  # "Checkout Started to Order Completed"
    periods: Periods
    before_entered: int
    before_converted: int
    after_entered: int
    after_converted: int
    p_value: float | None
    test: str
    significant: bool
    alpha: float
    trait: str = ""
    groups: list[GroupChange] = field(default_factory=list)
    tested: int = 0
    sentences: list[str] = field(default_factory=list)

    @property
    def before_rate(self) -> float | None:
        return _rate(self.before_converted, self.before_entered)

    @property
    def after_rate(self) -> float | None:
        return _rate(self.after_converted, self.after_entered)

    @property
    def change(self) -> float | None:
        """Points (after − before)."""
        if self.before_rate is None or self.after_rate is None:
            return None
        return self.after_rate - self.before_rate

    def of(self, dimension: str) -> list[GroupChange]:
        return [g for g in self.groups if g.dimension == dimension]


def _outcomes(run) -> dict[int, bool]:
    """Each entrant: converted or not."""
    return {c: depth == run.steps for c, depth in run.depth.items() if depth >= 1}


def _partition(
    dimension: str,
    before: Mapping[int, bool],
    after: Mapping[int, bool],
    label_of: Mapping[int, str],
    keep: int | None,
) -> list[GroupChange]:
    """Groups of both periods' entrants by their label (the ``keep`` largest, the rest as
    other), each with its rate and mix effects."""
    tallies: dict[str, list[int]] = {}  # label → [n0, x0, n1, x1]
    for side, outcomes in ((0, before), (1, after)):
        for customer, won in outcomes.items():
            cell = tallies.setdefault(label_of.get(customer, NONE_LABEL), [0, 0, 0, 0])
            cell[2 * side] += 1
            cell[2 * side + 1] += won
    ranked = sorted(tallies.items(), key=lambda item: (-(item[1][0] + item[1][2]), item[0]))
    if keep is not None and len(ranked) > keep + 1:
        rest = [sum(col) for col in zip(*(cell for _, cell in ranked[keep:]), strict=True)]
        ranked = [*ranked[:keep], (OTHER_LABEL, rest)]
    n0, n1 = len(before), len(after)
    overall0 = sum(before.values()) / n0 if n0 else 0.0
    groups = []
    for label, (b_n, b_x, a_n, a_x) in ranked:
        r0 = b_x / b_n if b_n else overall0
        r1 = a_x / a_n if a_n else r0
        s0 = b_n / n0 if n0 else 0.0
        s1 = a_n / n1 if n1 else 0.0
        rate = 100 * s1 * (r1 - r0)
        mix = 100 * (s1 - s0) * (r0 - overall0)
        p, test = _test(a_x, a_n, b_x, b_n)
        groups.append(
            GroupChange(dimension, label, b_n, b_x, a_n, a_x, rate + mix, rate, mix, p, test=test)
        )
    return groups


def _test(x1: int, n1: int, x0: int, n0: int) -> tuple[float | None, str]:
    """Rate x1/n1 against x0/n0 (None when a side is too small to test)."""
    result = d.compare(d.proportion(hits=x1, n=n1), d.proportion(hits=x0, n=n0))
    return result.p_value, result.test


def _event_groups(
    found_before, found_after, first_seen: Mapping[str, datetime], new_after: datetime
) -> list[GroupChange]:
    from scipy.stats import fisher_exact  # imported when used: keeps every command's start quick

    n0, x0 = found_before.entered, found_before.converted
    n1, x1 = found_after.entered, found_after.converted
    candidates = sorted(
        (
            (name, won, lost)
            for name, (won, lost) in found_after.events.items()
            if won + lost >= MIN_CUSTOMERS and won + lost < n1 and lost > 0
        ),
        key=lambda item: (-(item[1] + item[2]), item[0]),
    )[:MAX_EVENTS]
    groups = []
    for name, won, lost in candidates:
        b_won, b_lost = found_before.events.get(name, (0, 0))
        gap_after = _gap(won, won + lost, x1, n1)
        gap_before = _gap(b_won, b_won + b_lost, x0, n0)
        table = [[won, lost], [x1 - won, (n1 - x1) - lost]]
        p = float(fisher_exact(table, alternative="two-sided")[1])
        seen = first_seen.get(name)
        groups.append(
            GroupChange(
                "event", name, b_won + b_lost, b_won, won + lost, won,
                contribution=-(gap_after - gap_before), rate_effect=None, mix_effect=None,
                p_value=p, test=d.FISHER,
                new_since=seen.date() if seen is not None and seen >= new_after else None,
                others_entered=n1 - won - lost, others_converted=x1 - won,
            )
        )  # fmt: skip
    return groups


def _gap(won: int, did: int, converted: int, entered: int) -> float:
    """Points the overall rate loses to those who did the event converting worse than the rest:
    share with · (rate without − rate with)."""
    rest = entered - did
    if not did or not rest:
        return 0.0
    return 100 * (did / entered) * ((converted - won) / rest - won / did)


def funnel_change(
    *,
    workspace: Workspace,
    steps: Sequence[Step],
    window: timedelta | None,
    label: str = "",
    trait: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    compare_from: date | None = None,
    compare_to: date | None = None,
    mode: str = ORDERED,
    exclusions: Sequence[Exclusion] = (),
    alpha: float = ALPHA,
    now: datetime | None = None,
) -> FunnelChange:
    """The funnel's conversion (first step to last) in the period against the compared one,
    decomposed by channel, by ``trait`` (when given) and by event presence."""
    if len(steps) < 2:
        raise TrendQueryError("steps: a funnel needs at least 2 steps")
    if not 0 < alpha < 1:
        raise TrendQueryError(f"alpha: expected between 0 and 1, got {alpha}")
    check_trait(trait)
    periods = change_periods(
        workspace=workspace, date_from=date_from, date_to=date_to, compare_from=compare_from,
        compare_to=compare_to, now=now,
    )  # fmt: skip
    runs, found = [], []
    for span in (periods.previous, periods.current):
        run = analytics_selectors.funnel_run(
            workspace=workspace, steps=steps, window=window, mode=mode, exclusions=exclusions,
            since=span.since, until=span.until,
        )  # fmt: skip
        counts = analytics_selectors.funnel_correlation(
            workspace=workspace, steps=steps, window=window, mode=mode, exclusions=exclusions,
            since=span.since, until=span.until,
        )  # fmt: skip
        runs.append(run)
        found.append(counts)
    before, after = _outcomes(runs[0]), _outcomes(runs[1])
    overall = d.compare(
        d.proportion(hits=sum(after.values()), n=len(after)),
        d.proportion(hits=sum(before.values()), n=len(before)),
    )
    result = FunnelChange(
        label=label or f"{steps[0].event} to {steps[-1].event}",
        periods=periods,
        before_entered=len(before),
        before_converted=sum(before.values()),
        after_entered=len(after),
        after_converted=sum(after.values()),
        p_value=overall.p_value,
        test=overall.test,
        significant=overall.p_value is not None and overall.p_value < alpha,
        alpha=alpha,
        trait=trait,
    )
    channel_of = {**runs[0].start_channel, **runs[1].start_channel}
    result.groups.extend(_partition("channel", before, after, channel_of, None))
    if trait:
        values = customer_selectors.customer_trait_values(
            workspace=workspace, key=trait, ids=sorted(set(before) | set(after))
        )
        result.groups.extend(_partition("trait", before, after, values, MAX_VALUES))
    names = sorted(found[1].events)
    first_seen = analytics_selectors.event_first_seen(workspace=workspace, names=names)
    earliest = min(periods.previous.since, periods.current.since)
    result.groups.extend(_event_groups(found[0], found[1], first_seen, earliest))
    tested = [g for g in result.groups if g.p_value is not None]
    for group, adjusted in zip(tested, d.holm([g.p_value for g in tested]), strict=True):
        group.p_adjusted = adjusted
        group.significant = adjusted is not None and adjusted < alpha
    result.tested = len(tested)
    result.sentences = funnel_sentences(result)
    return result


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} %"


def plus_minus(value: float | None, digits: int = 1) -> str:
    """+1.5 / −16.7 (a real minus sign); 0 without a sign."""
    text = f"{abs(value or 0.0):.{digits}f}"
    if float(text) == 0:
        return text
    return f"+{text}" if (value or 0.0) > 0 else f"−{text}"


def _points(value: float) -> str:
    return f"{abs(value):.1f} point{'' if abs(value) == 1 else 's'}"


def _same_way(group: GroupChange, delta: float) -> bool:
    """An event explains a fall only when its customers convert worse than the others (a rise:
    better); one that goes with converting (an order's delivery) moves with it, as an outcome."""
    if group.after_rate is None or group.others_rate is None:
        return False
    return (group.after_rate - group.others_rate) * delta > 0


def explaining(change: FunnelChange) -> list[GroupChange]:
    """Significant groups that moved the rate the way it went: events first (they say what
    happened), then channels and trait values (to whom), each the largest first."""
    delta = change.change or 0.0
    moved = [
        g
        for g in change.groups
        if g.significant
        and g.contribution * delta > 0
        and abs(g.contribution) >= 0.1
        and (g.dimension != "event" or _same_way(g, delta))
    ]
    return sorted(
        moved, key=lambda g: (g.dimension != "event", -abs(g.contribution), g.dimension, g.label)
    )


def funnel_sentences(change: FunnelChange) -> list[str]:
    """The change in plain sentences with numbers: the overall rate, then the groups and events
    that explain most of it."""
    before, after = change.before_rate, change.after_rate
    name = f"Conversion from {change.label}"
    if before is None or after is None:
        side = "the compared period" if before is None else "this period"
        return [f"{name}: no customer entered the funnel in {side}, nothing to compare."]
    p = "no test" if change.p_value is None else p_text(change.p_value)
    delta = after - before
    if not change.significant:
        head = (
            f"{name}: {_pct(before)} → {_pct(after)} ({p}; {change.before_entered:,} and "
            f"{change.after_entered:,} customers entered), no significant change."
        )
        return [head]
    verb = "rose" if delta > 0 else "fell"
    sentences = [
        f"{name} {verb} from {_pct(before)} to {_pct(after)} ({p}; {change.before_entered:,} "
        f"and {change.after_entered:,} customers entered)."
    ]
    whole = f"the {'rise' if delta > 0 else 'fall'}: {_points(delta)}"
    for group in explaining(change)[:MAX_SENTENCES]:
        adjusted = p_text(group.p_adjusted or 0.0)
        if group.dimension == "event":
            new = f" (new since {group.new_since:%-d %B})" if group.new_since else ""
            share = 100 * group.after_entered / change.after_entered
            moved = "grew" if group.contribution < 0 else "shrank"
            sentences.append(
                f"Customers who did {group.label}{new} convert at {_pct(group.after_rate)} "
                f"against {_pct(group.others_rate)} for the others ({share:.0f} % of those "
                f"entering; {adjusted}, Holm-adjusted); the conversion lost to that gap {moved} "
                f"by {_points(group.contribution)} ({whole})."
            )
        else:
            kind = "Channel" if group.dimension == "channel" else f"{change.trait} ="
            sentences.append(
                f"{kind} {group.label}: {_pct(group.before_rate)} → {_pct(group.after_rate)} "
                f"({adjusted}, Holm-adjusted); {_points(group.contribution)} of the change "
                f"({whole}; own rate {plus_minus(group.rate_effect)}, mix "
                f"{plus_minus(group.mix_effect)})."
            )
    if len(sentences) == 1:
        sentences.append(
            "No single channel, trait value or event explains it significantly (Holm-adjusted)."
        )
    return sentences
