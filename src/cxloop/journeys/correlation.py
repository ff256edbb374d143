"""Why customers dropped: the statistics of a funnel's correlation view (pure: counts in, rows out).

For each candidate event, the customers who entered the funnel make a 2×2 table: did the event
(within their window) or not × converted (reached the last step) or not. The odds ratio is
(converted with · dropped without) / (dropped with · converted without), with 0.5 added to every
cell when one is zero (Haldane–Anscombe) so that it stays finite; the p-value is Fisher's exact
test (two-sided, scipy) on the raw table, and Holm's step-down correction over every candidate
tested keeps the family-wise error at 5 %. Rows are sorted by adjusted p, then by the size of the
effect (|log odds ratio|), then by name.

Trait values are candidates too: for a trait with at most ``MAX_TRAIT_VALUES`` distinct values
among the entrants, each value held by at least ``MIN_TRAIT_CUSTOMERS`` of them (and not by all)
makes the table "has loyalty_tier = gold or not" × converted or not (:func:`trait_counts`).

Event property values are candidates as well ("Card Declined with reason = insufficient_funds"):
the top-level properties (not ``channel``) of the entrants' events in their window (the last
step's event left out; text, number or yes/no values), counted by the analytics engine
(``analytics.correlation.property_counts``), of keys with at most ``MAX_PROPERTY_VALUES``
distinct values there; of those, the ``MAX_PROPERTY_KEYS`` (event, key) pairs carried by the
most entrants, and values held by at least ``MIN_TRAIT_CUSTOMERS`` entrants and not by all
(:func:`property_candidates`). Events, trait values and property values are one Holm family.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from cxloop.analytics.correlation import MAX_PROPERTY_VALUES as MAX_PROPERTY_VALUES
from cxloop.text.drivers import holm

ALPHA = 0.05
MAX_CORRELATED = 100  # most rows one report shows, page and API alike
MAX_TRAIT_VALUES = 20  # a trait with more distinct values among the entrants is not a candidate
MIN_TRAIT_CUSTOMERS = 5  # a trait value held by fewer entrants is not a candidate
MAX_PROPERTY_KEYS = 30  # (event, property) pairs considered, those most entrants' events carry
EVENT = "event"
TRAIT = "trait"
PROPERTY = "property"


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
    kind: str = EVENT  # "event", "trait" or "property"
    trait: str = ""  # for a trait row: its name and value (``event`` is then "trait = value")
    value: object = None
    source: str = ""  # for a property row: the event carrying it (``trait`` is the property)

    @property
    def label(self) -> str:
        return self.event

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


def trait_counts(
    converted: dict[int, bool], traits: dict[int, dict]
) -> dict[tuple[str, object], tuple[int, int]]:
    """(trait, value) → (converted with it, dropped with it) over the entrants ``converted``
    (entrant → reached the last step), ``traits`` being each entrant's traits. Only text,
    number and yes/no values count; a trait qualifies with at most ``MAX_TRAIT_VALUES``
    distinct values among the entrants, a value with at least ``MIN_TRAIT_CUSTOMERS`` entrants
    and not every one of them."""
    holders: dict[str, dict[tuple[str, object], list[int]]] = {}
    for who in converted:
        for key, value in (traits.get(who) or {}).items():
            if isinstance(value, str | int | float | bool) and value != "":
                # 1 and True are equal as keys: keep them apart by type
                holders.setdefault(key, {}).setdefault((type(value).__name__, value), []).append(
                    who
                )
    found: dict[tuple[str, object], tuple[int, int]] = {}
    everyone = len(converted)
    for key, values in holders.items():
        if len(values) > MAX_TRAIT_VALUES:
            continue
        for (_, value), people in values.items():
            if MIN_TRAIT_CUSTOMERS <= len(people) < everyone:
                won = sum(1 for who in people if converted[who])
                found[(key, value)] = (won, len(people) - won)
    return found


def trait_label(trait: str, value: object) -> str:
    shown = str(value).lower() if isinstance(value, bool) else str(value)
    return f"{trait} = {shown}"


def property_label(event: str, key: str, value: object) -> str:
    return f"{event} with {trait_label(key, value)}"


def property_candidates(
    counts: Mapping[tuple[str, str, str, object], tuple[int, int]], *, entered: int
) -> dict[tuple[str, str, object], tuple[int, int]]:
    """(event, property, value) → (converted, dropped) of the values that are candidates: of the
    ``MAX_PROPERTY_KEYS`` (event, property) pairs whose values the most entrants carry (ties by
    name), the values held by at least ``MIN_TRAIT_CUSTOMERS`` entrants and not by all."""
    reach: dict[tuple[str, str], int] = {}
    for (event, key, _, _), (won, lost) in counts.items():
        reach[(event, key)] = reach.get((event, key), 0) + won + lost
    ranked = sorted(reach, key=lambda pair: (-reach[pair], pair))[:MAX_PROPERTY_KEYS]
    kept = set(ranked)
    return {
        (event, key, value): (won, lost)
        for (event, key, _, value), (won, lost) in counts.items()
        if (event, key) in kept and MIN_TRAIT_CUSTOMERS <= won + lost < entered
    }


def correlate(
    *,
    entered: int,
    converted: int,
    events: dict[str, tuple[int, int]],
    traits: dict[tuple[str, object], tuple[int, int]] | None = None,
    properties: dict[tuple[str, str, object], tuple[int, int]] | None = None,
) -> list[EventCorrelation]:
    """Every candidate's table, odds ratio, Fisher p and Holm-adjusted p, most telling first;
    events, trait values (``traits``, :func:`trait_counts`) and event property values
    (``properties``, :func:`property_candidates`) corrected as one family."""
    from scipy.stats import fisher_exact  # imported when used: keeps every command's start quick

    dropped = entered - converted
    candidates: list[tuple[str, tuple[int, int], dict]] = [
        (name, events[name], {}) for name in sorted(events)
    ]
    for (key, value), counts in sorted((traits or {}).items(), key=lambda i: trait_label(*i[0])):
        extra = {"kind": TRAIT, "trait": key, "value": value}
        candidates.append((trait_label(key, value), counts, extra))
    for (event, key, value), counts in sorted(
        (properties or {}).items(), key=lambda i: property_label(*i[0])
    ):
        extra = {"kind": PROPERTY, "trait": key, "value": value, "source": event}
        candidates.append((property_label(event, key, value), counts, extra))
    tables = []
    p_values = []
    for _, (a, b), _ in candidates:
        c, d = converted - a, dropped - b
        tables.append((a, b, c, d))
        p_values.append(float(fisher_exact([[a, b], [c, d]], alternative="two-sided")[1]))
    adjusted = holm(p_values)
    rows = [
        EventCorrelation(name, a, b, c, d, odds_ratio(a, b, c, d), p, q, **extra)
        for (name, _, extra), (a, b, c, d), p, q in zip(
            candidates, tables, p_values, adjusted, strict=True
        )
    ]
    rows.sort(key=lambda r: (r.p_holm, -abs(math.log(r.odds_ratio)), r.event))
    return rows
