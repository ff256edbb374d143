"""Why customers dropped: the statistics of a funnel's correlation view (pure: counts in, rows out).

For each candidate event, the customers who entered the funnel make a 2×2 table: did the event
(within their window) or not × converted (reached the last step) or not. The odds ratio is
(converted with · dropped without) / (dropped with · converted without), with 0.5 added to every
cell when one is zero (Haldane–Anscombe) so that it stays finite; the p-value is Fisher's exact
test (two-sided, scipy) on the raw table, and Holm's step-down correction over every candidate
tested keeps the family-wise error at 5 %. Rows are sorted by adjusted p, then by the size of the
effect (|log odds ratio|), then by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import fisher_exact

from cxloop.text.drivers import holm

ALPHA = 0.05
MAX_CORRELATED = 100  # most rows one report shows, page and API alike


@dataclass(frozen=True)
class EventCorrelation:
    event: str
    converted_with: int
    dropped_with: int
    converted_without: int
    dropped_without: int
    odds_ratio: float
    p_value: float
    p_holm: float

    @property
    def customers(self) -> int:
        return self.converted_with + self.dropped_with

    @property
    def rate_with(self) -> float:
        return self.converted_with / self.customers if self.customers else 0.0

    @property
    def rate_without(self) -> float:
        rest = self.converted_without + self.dropped_without
        return self.converted_without / rest if rest else 0.0

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA

    @property
    def raises(self) -> bool:
        """Doing it goes with converting more often (odds ratio above 1)."""
        return self.odds_ratio > 1


def odds_ratio(a: int, b: int, c: int, d: int) -> float:
    """(a·d)/(b·c) for converted-with a, dropped-with b, converted-without c, dropped-without d;
    with 0.5 added to each cell when any is zero."""
    if 0 in (a, b, c, d):
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5  # type: ignore[assignment]
    return (a * d) / (b * c)


def correlate(
    *, entered: int, converted: int, events: dict[str, tuple[int, int]]
) -> list[EventCorrelation]:
    """Every candidate's table, odds ratio, Fisher p and Holm-adjusted p, most telling first."""
    dropped = entered - converted
    names = sorted(events)
    tables = []
    p_values = []
    for name in names:
        a, b = events[name]
        c, d = converted - a, dropped - b
        tables.append((a, b, c, d))
        p_values.append(float(fisher_exact([[a, b], [c, d]], alternative="two-sided")[1]))
    adjusted = holm(p_values)
    rows = [
        EventCorrelation(name, a, b, c, d, odds_ratio(a, b, c, d), p, q)
        for name, (a, b, c, d), p, q in zip(names, tables, p_values, adjusted, strict=True)
    ]
    rows.sort(key=lambda r: (r.p_holm, -abs(math.log(r.odds_ratio)), r.event))
    return rows
