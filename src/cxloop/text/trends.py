"""A theme over time per channel (pure: counts in, shares with intervals out).

For each channel and week, the *share* is the fraction of that channel's texts of the week that
carry the theme, with the Wilson score 95 % interval: centre (p + z²/2n) / (1 + z²/n),
half-width z·√(p(1−p)/n + z²/4n²) / (1 + z²/n). Unlike p ± 1.96·SE it stays inside 0–1 and
keeps a width at 0 % and 100 %, which matters for the small weekly counts of a quiet channel.
A week without texts on a channel has no share (None), not 0 %.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile
NO_CHANNEL = "(no channel)"
OTHER = "other channels"
ALL = "all channels"
MAX_CHANNELS = 6


def wilson(hits: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of hits/n (0–1); (0, 1) when n is 0."""
    if n < 0 or hits < 0 or hits > n:
        raise ValueError(f"need 0 <= hits <= n, got hits={hits}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # at 0 and n the bound is exactly 0 or 1 (rounding would miss it)
    low = 0.0 if hits == 0 else max(centre - half, 0.0)
    high = 1.0 if hits == n else min(centre + half, 1.0)
    return low, high


@dataclass(frozen=True)
class Share:
    count: int  # texts carrying the theme
    total: int  # all texts
    share: float | None  # count / total; None without texts
    low: float | None
    high: float | None


def share_of(count: int, total: int) -> Share:
    if not total:
        return Share(count, total, None, None, None)
    low, high = wilson(count, total)
    return Share(count, total, count / total, low, high)


@dataclass(frozen=True)
class ChannelTrend:
    channel: str
    weeks: list[Share]  # one per week, oldest first
    overall: Share  # every week together


@dataclass(frozen=True)
class ThemeTrend:
    theme_id: int
    name: str
    weeks: list[date]  # Mondays, oldest first
    channels: list[ChannelTrend]  # all channels first, then busiest first, "other" last


def channel_trends(
    rows: Iterable[tuple[str, int, bool]], *, weeks: int, max_channels: int = MAX_CHANNELS
) -> list[ChannelTrend]:
    """Per channel, from ``(channel, week index, carries the theme)`` for each text in the window:
    every channel together first, then the ``max_channels`` channels with the most texts (the
    rest together as "other channels"), each week's share of texts carrying the theme."""
    totals: dict[str, list[int]] = {}
    counts: dict[str, list[int]] = {}
    for channel, index, carries in rows:
        name = channel or NO_CHANNEL
        totals.setdefault(name, [0] * weeks)[index] += 1
        counts.setdefault(name, [0] * weeks)[index] += int(carries)
    ranked = sorted(totals, key=lambda c: (-sum(totals[c]), c))
    kept, rest = ranked[:max_channels], ranked[max_channels:]
    groups: list[tuple[str, list[str]]] = [(ALL, ranked)]
    groups += [(name, [name]) for name in kept]
    if rest:
        groups.append((OTHER, rest))
    found = []
    for name, members in groups:
        week_totals = [sum(totals[m][i] for m in members) for i in range(weeks)]
        week_counts = [sum(counts[m][i] for m in members) for i in range(weeks)]
        found.append(
            ChannelTrend(
                channel=name,
                weeks=[share_of(c, t) for c, t in zip(week_counts, week_totals, strict=True)],
                overall=share_of(sum(week_counts), sum(week_totals)),
            )
        )
    return found if ranked else []
