"""Comparing two metric estimates (split from ``definitions`` for size): the test of a
difference, its interval, and Holm's adjustment where one table tests many groups. Import these
from ``cxloop.metrics.definitions``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cxloop.metrics._stats import (
    ALPHA,
    FISHER_BELOW,
    Z95,
    Estimate,
    Kind,
    Sample,
    _clip,
    _nps_adjusted,
    _scipy,
    _sum_of_squares,
    _wilson,
    t_quantile_975,
)

ComparisonDict = dict[str, float | bool | str | None]


@dataclass(frozen=True, slots=True)
class Comparison:
    """The difference ``a − b`` of two independent estimates and whether it is significant.

    ``z`` is the test's statistic (z, or t for Welch's test; None for Fisher's exact test) and
    ``test`` names the test. ``p_adjusted`` is set where one table tests many groups
    (:func:`adjust_holm`); ``significant`` then reads the adjusted p-value.
    """

    difference: float | None
    se: float | None
    z: float | None
    p_value: float | None
    significant: bool
    verdict: str  # "significant at 95%", "not significant", or why it cannot be told
    test: str = ""
    p_adjusted: float | None = None

    def as_dict(self) -> ComparisonDict:
        return {
            "difference": self.difference,
            "se": self.se,
            "z": self.z,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "significant": self.significant,
            "verdict": self.verdict,
            "test": self.test,
        }


SIGNIFICANT = "significant at 95%"
NOT_SIGNIFICANT = "not significant"
TOO_FEW_TO_TELL = "too few responses to tell"
NO_DATA = "no data to compare"
NO_SPREAD = "every answer the same on both sides: no test"

POOLED_Z = "pooled z"
FISHER = "fisher exact"
NPS_ADJUSTED_WALD = "adjusted-wald z"
WELCH = "welch t"
HOLM = "holm"


@dataclass(frozen=True, slots=True)
class _Test:
    se: float | None  # of the difference, in the metric's units
    statistic: float | None
    p_value: float
    name: str


def _normal_p(z: float) -> float:
    """Two-sided p-value of a standard normal statistic."""
    return math.erfc(abs(z) / math.sqrt(2))


def _proportions_test(x: Sample, y: Sample) -> _Test:
    """Pooled two-proportion z-test; Fisher's exact test when an expected count is under 5.

    The 2×2 table is (hits, misses) per side; expected count = row total × column total / N.
    z = (p₁ − p₂)/√(p̄(1 − p̄)(1/n₁ + 1/n₂)) with the pooled p̄ = (x₁ + x₂)/(n₁ + n₂). The pooled
    z stays defined at 0 % and 100 % (unlike the unpooled Wald test, whose SE is then 0), and
    Fisher's test is exact where the normal approximation is poor.
    """
    hits1, hits2 = round(x.a), round(y.a)
    total, hits = x.n + y.n, hits1 + hits2
    expected = min(row * column / total for row in (x.n, y.n) for column in (hits, total - hits))
    if expected < FISHER_BELOW:
        table = [[hits1, x.n - hits1], [hits2, y.n - hits2]]
        _, p_value = _scipy("stats").fisher_exact(table, alternative="two-sided")
        return _Test(se=None, statistic=None, p_value=min(float(p_value), 1.0), name=FISHER)
    pooled = hits / total
    se = math.sqrt(pooled * (1 - pooled) * (1 / x.n + 1 / y.n))
    z = (hits1 / x.n - hits2 / y.n) / se
    return _Test(se=100 * se, statistic=z, p_value=_normal_p(z), name=POOLED_Z)


def _nps_test(x: Sample, y: Sample) -> _Test:
    """Sauro & Lewis's adjusted-Wald test of two NPS (MeasuringU, "How to Statistically Compare
    Two Net Promoter Scores", 2021): each NPS adjusted as in :func:`nps`,
    z = (NPS'₁ − NPS'₂)/√(SE₁² + SE₂²), two-sided normal p-value."""
    centre1, se1 = _nps_adjusted(x.a, x.b, x.n)
    centre2, se2 = _nps_adjusted(y.a, y.b, y.n)
    se = math.sqrt(se1 * se1 + se2 * se2)
    z = (centre1 - centre2) / se
    return _Test(se=100 * se, statistic=z, p_value=_normal_p(z), name=NPS_ADJUSTED_WALD)


def _welch_test(x: Sample, y: Sample) -> _Test | None:
    """Welch's t-test of two means (unequal variances, Welch–Satterthwaite degrees of freedom).

    t = (m₁ − m₂)/√(s₁²/n₁ + s₂²/n₂); df = (v₁ + v₂)²/(v₁²/(n₁ − 1) + v₂²/(n₂ − 1)) with
    vᵢ = sᵢ²/nᵢ. Undefined (None) with fewer than two answers on a side or no spread on both.
    """
    if x.n < 2 or y.n < 2:
        return None
    v1 = _sum_of_squares(x.a, x.b, x.n) / (x.n - 1) / x.n
    v2 = _sum_of_squares(y.a, y.b, y.n) / (y.n - 1) / y.n
    if v1 + v2 == 0:
        return None
    se = math.sqrt(v1 + v2)
    t = (x.a / x.n - y.a / y.n) / se
    df = (v1 + v2) ** 2 / (v1 * v1 / (x.n - 1) + v2 * v2 / (y.n - 1))
    p_value = 2 * float(_scipy("special").stdtr(df, -abs(t)))
    return _Test(se=se, statistic=t, p_value=min(p_value, 1.0), name=WELCH)


_TESTS = {Kind.PROPORTION: _proportions_test, Kind.NPS: _nps_test, Kind.MEAN: _welch_test}


def compare(a: Estimate, b: Estimate) -> Comparison:
    """Two-sided test of ``a − b`` (two periods, or two segments) at the 95% level.

    The test depends on the metric (see the module's docstring): pooled z or Fisher's exact
    for proportions, adjusted-Wald z for NPS, Welch's t for means. ``difference`` is the plain
    difference of the two values. Tested only when both sides have at least ``MIN_SAMPLE``
    answers; with fewer the verdict says so instead of guessing.
    """
    if a.value is None or b.value is None:
        return Comparison(None, None, None, None, False, NO_DATA)
    difference = a.value - b.value
    if a.too_few or b.too_few:
        return Comparison(difference, None, None, None, False, TOO_FEW_TO_TELL)
    if a.sample is None or b.sample is None or a.sample.kind is not b.sample.kind:
        raise ValueError("compare needs two estimates of the same kind, with their counts")
    result = _TESTS[a.sample.kind](a.sample, b.sample)
    if result is None:
        return Comparison(difference, None, None, None, False, NO_SPREAD)
    significant = result.p_value < ALPHA
    return Comparison(
        difference,
        result.se,
        result.statistic,
        result.p_value,
        significant,
        SIGNIFICANT if significant else NOT_SIGNIFICANT,
        result.name,
    )


def difference_interval(a: Estimate, b: Estimate) -> tuple[float | None, float | None]:
    """The 95% interval of ``a − b`` for two independent estimates (None, None when either side
    has fewer than two answers, or, for means, no spread on both sides).

    NPS: Sauro & Lewis's adjusted-Wald, 100·(NPS'₁ − NPS'₂ ± 1.96·√(SE₁² + SE₂²)) clipped to
    ±200, the interval that goes with their test in :func:`compare`. Proportions: Newcombe's
    hybrid score interval from the two Wilson intervals (method 10 of R. G. Newcombe,
    *Statistics in Medicine* 17, 1998), which stays inside ±100 and is not zero-wide at 0 % or
    100 %. Means: Welch's t interval with the Welch–Satterthwaite degrees of freedom.
    """
    x, y = a.sample, b.sample
    if x is None or y is None or x.n < 2 or y.n < 2:
        return None, None
    if x.kind is not y.kind:
        raise ValueError("difference_interval needs two estimates of the same kind")
    if x.kind is Kind.NPS:
        centre1, se1 = _nps_adjusted(x.a, x.b, x.n)
        centre2, se2 = _nps_adjusted(y.a, y.b, y.n)
        half = Z95 * math.sqrt(se1 * se1 + se2 * se2)
        centre = centre1 - centre2
        return _clip(100 * (centre - half), -200.0, 200.0), _clip(
            100 * (centre + half), -200.0, 200.0
        )
    if x.kind is Kind.PROPORTION:
        p1, p2 = x.a / x.n, y.a / y.n
        l1, u1 = _wilson(x.a, x.n)
        l2, u2 = _wilson(y.a, y.n)
        diff = p1 - p2
        low = diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        high = diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
        return 100 * low, 100 * high
    v1 = _sum_of_squares(x.a, x.b, x.n) / (x.n - 1) / x.n
    v2 = _sum_of_squares(y.a, y.b, y.n) / (y.n - 1) / y.n
    if v1 + v2 == 0:
        return None, None
    df = (v1 + v2) ** 2 / (v1 * v1 / (x.n - 1) + v2 * v2 / (y.n - 1))
    half = t_quantile_975(df) * math.sqrt(v1 + v2)
    diff = x.a / x.n - y.a / y.n
    return diff - half, diff + half


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of one family of p-values (None: not tested, not counted).

    With the m p-values sorted ascending, p₍ᵢ₎ becomes max over j ≤ i of min(1, (m − j + 1)·p₍ⱼ₎).
    It controls the family-wise error rate under any dependence between the tests (the
    "group against the rest" tests of one table share their data).
    """
    tested = sorted((p, index) for index, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[index] = running
    return adjusted


def adjust_holm(changes: Sequence[Comparison]) -> list[Comparison]:
    """The comparisons of one table with Holm-adjusted p-values; significance reads those."""
    adjusted = holm([change.p_value for change in changes])
    result = []
    for change, p in zip(changes, adjusted, strict=True):
        if p is None:
            result.append(change)
            continue
        significant = p < ALPHA
        verdict = SIGNIFICANT if significant else NOT_SIGNIFICANT
        result.append(replace(change, p_adjusted=p, significant=significant, verdict=verdict))
    return result


def comparisons_tested(changes: Sequence[Comparison]) -> int:
    """How many of ``changes`` were tested (the size of the family Holm adjusts for)."""
    return sum(1 for change in changes if change.p_value is not None)
