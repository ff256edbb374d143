"""Top negative drivers, this period against the previous one (pure: counts in, rows out).

A *negative driver* of a text is a word whose final valence in it is negative (after negation
and contrast: "not helpful" makes "helpful" one). For each word we count the texts of each
period in which it drove negativity, and test whether its share of texts changed with Fisher's
exact test (two-sided, scipy) on the 2×2 table [with, without] × [this period, previous];
Holm's step-down correction keeps the family-wise error at 5 % across the words tested.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

ALPHA = 0.05
MAX_TESTED = 15


@dataclass(frozen=True)
class DriverChange:
    word: str
    count: int  # texts this period where the word drove negativity
    share: float  # of this period's texts
    previous_count: int
    previous_share: float
    p_value: float
    p_holm: float
    rising: bool  # share up and significant after Holm
    falling: bool


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values (step-down, monotone, capped at 1), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def negative_words(drivers: list[dict]) -> set[str]:
    """The lower-cased words with negative valence in one text's stored drivers."""
    return {
        str(d.get("word", "")).lower()
        for d in drivers
        if isinstance(d, dict) and isinstance(d.get("valence"), int | float) and d["valence"] < 0
    } - {""}


def count_words(texts_drivers: Iterable[list[dict]]) -> tuple[Counter[str], int]:
    """How many texts each negative driver appears in, and how many texts there were."""
    counts: Counter[str] = Counter()
    total = 0
    for drivers in texts_drivers:
        total += 1
        counts.update(negative_words(drivers or []))
    return counts, total


def compare(
    current: Counter[str], n_current: int, previous: Counter[str], n_previous: int,
    *, top: int = MAX_TESTED,
) -> list[DriverChange]:  # fmt: skip
    """The ``top`` most frequent negative drivers of this period with their change."""
    from scipy.stats import fisher_exact  # imported when used: keeps every command's start quick

    words = [w for w, _ in sorted(current.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
    if not words or not n_current:
        return []
    p_values = []
    for word in words:
        a, b = current[word], previous.get(word, 0)
        if n_previous:
            table = [[a, n_current - a], [b, n_previous - b]]
            p_values.append(float(fisher_exact(table, alternative="two-sided")[1]))
        else:
            p_values.append(1.0)
    adjusted = holm(p_values)
    rows = []
    for word, p, q in zip(words, p_values, adjusted, strict=True):
        share = current[word] / n_current
        before = previous.get(word, 0) / n_previous if n_previous else 0.0
        rows.append(
            DriverChange(
                word=word,
                count=current[word],
                share=share,
                previous_count=previous.get(word, 0),
                previous_share=before,
                p_value=p,
                p_holm=q,
                rising=q < ALPHA and share > before,
                falling=q < ALPHA and share < before,
            )
        )
    return rows
