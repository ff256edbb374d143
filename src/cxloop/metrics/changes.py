"""What changed: an event's volume in a period against the previous period of equal length,
whether the change is significant, and which channels explain it.

Statistics (pure, no database):

* two counts ``after`` (current period, length L1) and ``before`` (previous, length L2) are two
  Poisson counts; given their sum n, ``after`` is binomial(n, L1 / (L1 + L2)) when the rate did not
  change, so the exact two-sided binomial test of ``after`` of n gives the p-value;
* per channel the same test; the channels' p-values are adjusted with Holm's step-down method
  (family-wise error rate), and a channel is significant when its adjusted p < ``alpha``;
* a channel's contribution is ``after − before · L1 / L2``: its change beyond what the periods'
  lengths explain (the plain difference when they are equally long); the contributions add up
  to the total's.

The selector (:func:`volume_change`) counts through the analytics engine
(``analytics.selectors.trend_counts``, broken down by channel) and is used by the "What changed"
page and ``/api/trends/changes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cxloop.analytics import selectors as analytics_selectors
from cxloop.analytics.steps import Step
from cxloop.core.models import Workspace
from cxloop.metrics.trends import (
    EARLIEST_DAY,
    MAX_TOP,
    OTHER_LABEL,
    Range,
    TrendQueryError,
    trend_range,
)

DEFAULT_DAYS = 28
ALPHA = 0.05
MAX_SENTENCES = 3  # channels named in the summary


# ---------------------------------------------------------------------------- statistics


def volume_p_value(*, after: int, before: int, after_length: float, before_length: float) -> float:
    """Two-sided p-value that counts ``after`` and ``before``, over periods of these lengths,
    come from the same rate (exact binomial test of ``after`` of both)."""
    from scipy.stats import binomtest  # imported when used: keeps every command's start quick

    if after < 0 or before < 0:
        raise ValueError("counts cannot be negative")
    if after_length <= 0 or before_length <= 0:
        raise ValueError("period lengths must be positive")
    total = after + before
    if total == 0:
        return 1.0
    share = after_length / (after_length + before_length)
    return float(binomtest(after, total, p=share).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the i-th smallest (from 0) is
    multiplied by m − i, then made non-decreasing and capped at 1."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def signed(value: float) -> str:
    """+12 / −290 (a real minus sign), thousands separated."""
    text = f"{abs(value):,.0f}"
    return f"+{text}" if value > 0 else f"−{text}" if value < 0 and text != "0" else text


def percent_change(*, after: int, before: int, ratio: float) -> float | None:
    """The change of the rate in percent (None when there was nothing before)."""
    expected = before * ratio
    return None if expected == 0 else 100 * (after - expected) / expected


# ---------------------------------------------------------------------------- the selector


@dataclass(slots=True)
class ChannelChange:
    channel: str
    before: int
    after: int
    change_pct: float | None
    contribution: float
    p_value: float
    p_adjusted: float
    significant: bool


@dataclass(slots=True)
class VolumeChange:
    """``span``: the current period; ``previous_first``..``previous_last`` the one before, as
    many days long. ``ratio``: current length / previous length (below 1 while the current
    period runs up to the as-of time)."""

    label: str
    span: Range
    previous_first: date
    previous_last: date
    ratio: float
    before: int
    after: int
    change_pct: float | None
    p_value: float
    significant: bool
    alpha: float
    channels: list[ChannelChange] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)


def volume_change(
    *,
    workspace: Workspace,
    step: Step,
    label: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    alpha: float = ALPHA,
    now: datetime | None = None,
) -> VolumeChange:
    """The count of events matching ``step`` in the period (default: the last 28 days up to the
    as-of time) against the previous period of equal length, overall and per channel."""
    if not 0 < alpha < 1:
        raise TrendQueryError(f"alpha: expected between 0 and 1, got {alpha}")
    if date_from is None:
        last = trend_range(workspace=workspace, date_to=date_to, now=now).last
        date_from = last - timedelta(days=DEFAULT_DAYS - 1)
        date_to = last
    span = trend_range(workspace=workspace, date_from=date_from, date_to=date_to, now=now)
    days = (span.last - span.first).days + 1
    if (span.first - EARLIEST_DAY).days < days:
        raise TrendQueryError(f"from: no previous {days} days before {span.first}")
    previous_first = span.first - timedelta(days=days)
    previous_since = span.since - timedelta(days=days)
    after_length = (span.until - span.since).total_seconds()
    before_length = float(days * 86400)
    if after_length <= 0:
        raise TrendQueryError(f"from: {span.first} is after the as-of time {span.as_of:%Y-%m-%d}")
    found = analytics_selectors.trend_counts(
        workspace=workspace, series=[step], by="day", since=previous_since, until=span.until,
        breakdown="channel", top=MAX_TOP,
    )  # fmt: skip
    before: dict[str | None, int] = {}
    after: dict[str | None, int] = {}
    for (_, period, group), (events, _) in found.cells.items():
        side = after if period >= span.since else before
        side[group] = side.get(group, 0) + events
    ratio = after_length / before_length
    lengths = {"after_length": after_length, "before_length": before_length}
    total_before, total_after = sum(before.values()), sum(after.values())
    p_value = volume_p_value(
        after=total_after, before=total_before, after_length=after_length,
        before_length=before_length,
    )  # fmt: skip
    result = VolumeChange(
        label=label or step.event,
        span=span,
        previous_first=previous_first,
        previous_last=span.first - timedelta(days=1),
        ratio=ratio,
        before=total_before,
        after=total_after,
        change_pct=percent_change(after=total_after, before=total_before, ratio=ratio),
        p_value=p_value,
        significant=p_value < alpha,
        alpha=alpha,
    )
    groups = [g for g in found.groups if g in before or g in after]
    raw = [
        volume_p_value(after=after.get(g, 0), before=before.get(g, 0), **lengths) for g in groups
    ]
    for group, p, adjusted in zip(groups, raw, holm(raw), strict=True):
        b, a = before.get(group, 0), after.get(group, 0)
        result.channels.append(
            ChannelChange(
                channel=OTHER_LABEL if group is None else group or "(none)",
                before=b,
                after=a,
                change_pct=percent_change(after=a, before=b, ratio=ratio),
                contribution=a - b * ratio,
                p_value=p,
                p_adjusted=adjusted,
                significant=adjusted < alpha,
            )
        )
    result.channels.sort(key=lambda c: (-abs(c.contribution), c.channel))
    result.sentences = change_sentences(result)
    return result


def change_sentences(change: VolumeChange) -> list[str]:
    """The change in plain sentences with numbers: the total, then the significant channels
    that explain most of it."""
    pct = "" if change.change_pct is None else f"{signed(change.change_pct)} %, "
    length = (
        ""
        if abs(change.ratio - 1) < 1e-9
        else f" (the current period is {change.ratio:.0%} as long: it runs to the as-of time)"
    )
    if not change.significant:
        head = (
            f"{change.label}: {change.before:,} → {change.after:,} ({pct}{p_text(change.p_value)})"
            f"{length}, no significant change."
        )
    else:
        verb = "rose" if change.after > change.before * change.ratio else "fell"
        head = (
            f"{change.label} {verb} from {change.before:,} to {change.after:,} "
            f"({pct}{p_text(change.p_value)}){length}."
        )
    sentences = [head]
    total = change.after - change.before * change.ratio
    significant = [c for c in change.channels if c.significant]
    for channel in significant[:MAX_SENTENCES]:
        share = ""
        if total and channel.contribution * total > 0 and change.significant:
            share = f", {channel.contribution / total:.0%} of the change"
        moved = "up" if channel.contribution > 0 else "down"
        sentences.append(
            f"Channel {channel.channel}: {moved} from {channel.before:,} to {channel.after:,} "
            f"({signed(channel.contribution)}{share}; {p_text(channel.p_adjusted)}, "
            "Holm-adjusted)."
        )
    if change.significant and significant and significant[0].contribution * total > 0:
        lead = significant[0]
        if abs(lead.contribution) >= abs(total) / 2:
            sentences[0] = (
                f"{head[:-1]}; most of the {'rise' if total > 0 else 'drop'} is on channel "
                f"{lead.channel} ({signed(lead.contribution)})."
            )
    if not significant and change.channels:
        sentences.append("No channel changed significantly on its own (Holm-adjusted).")
    return sentences
