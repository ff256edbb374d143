"""The metric definitions: pure arithmetic on counts, with standard errors and 95% intervals.

Every function takes aggregates (counts and sums a database can produce with ``GROUP BY``) and
returns an :class:`Estimate`. Nothing here touches the database; the tests check each figure
against scipy/statsmodels run on the raw answers (``tests/test_metrics_definitions.py`` and
``tests/test_metrics_edges.py``).

Conventions:

* NPS is in points (-100..100); CSAT, response, retention and churn rates are percentages (0..100);
  CES is the mean answer on its 1..7 scale.
* Intervals are 95% and stay honest at the edges (all promoters, 0 % or 100 %, identical answers,
  a handful of answers): none has zero width, and a single answer gives none. NPS uses the
  adjusted-Wald interval of Sauro & Lewis; proportions the Wilson score interval; CES Student's t
  interval on the mean, or a bound from the scale when every answer is the same (:func:`ces`).
  Intervals are clipped to the scale.
* ``se`` is the standard error the value's own formula gives (for NPS the adjusted-Wald one that
  its interval uses; for a proportion √(p(1−p)/n), 0 at 0 % and 100 %: read the interval).
  ``moe`` (the margin of error shown as "± x") is half the interval's width.
* A figure from fewer than ``MIN_SAMPLE`` answers is flagged ``too_few``: pages show it greyed out
  with a warning instead of a confident number, and comparisons involving it are not tested.
* :func:`compare` tests a difference with a test that holds near 0 % and 100 %: for proportions
  the pooled two-proportion z-test, or Fisher's exact test when an expected cell count is under
  5; for NPS Sauro & Lewis's adjusted-Wald test; for means Welch's t-test. Where one table tests
  many groups, :func:`adjust_holm` corrects the p-values for multiple comparisons.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from types import ModuleType

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal distribution
ALPHA = 0.05  # two-sided significance level of every comparison
MIN_SAMPLE = 30  # fewer answers than this: "too few responses" instead of a confident figure
NPS_PROMOTER_MIN = 9  # 9–10 promote
NPS_DETRACTOR_MAX = 6  # 0–6 detract (7–8 are passives)
CSAT_TOP_BOX = 4  # default: 4 or 5 on a 1–5 scale counts as satisfied
CES_MIN, CES_MAX = 1, 7
FISHER_BELOW = 5  # an expected cell count under this: Fisher's exact test instead of the z-test

# Sauro & Lewis's adjusted-Wald NPS: pseudo-answers added before the Wald formula
NPS_ADJUST_N = 3.0  # added to n
NPS_ADJUST_EACH = 0.75  # added to the promoters and to the detractors (so 1.5 to passives)


class MetricName(StrEnum):
    NPS = "nps"
    CSAT = "csat"
    CES = "ces"
    RESPONSE_RATE = "response_rate"


METRIC_LABELS: dict[MetricName, str] = {
    MetricName.NPS: "NPS",
    MetricName.CSAT: "CSAT",
    MetricName.CES: "CES",
    MetricName.RESPONSE_RATE: "Response rate",
}
METRIC_UNITS: dict[MetricName, str] = {  # suffix shown after a value
    MetricName.NPS: "",
    MetricName.CSAT: "%",
    MetricName.CES: "",
    MetricName.RESPONSE_RATE: "%",
}
METRIC_SCALES: dict[MetricName, tuple[float, float]] = {  # (low, high) of each scale, for charts
    MetricName.NPS: (-100.0, 100.0),
    MetricName.CSAT: (0.0, 100.0),
    MetricName.CES: (float(CES_MIN), float(CES_MAX)),
    MetricName.RESPONSE_RATE: (0.0, 100.0),
}


def _scipy(module: str) -> ModuleType:
    """``scipy.special`` or ``scipy.stats``, imported on first use.

    Importing scipy takes about half a second, which the CLI and most pages never need; and as a
    plain module object its untyped functions need no stubs (results are converted to float).
    """
    return importlib.import_module(f"scipy.{module}")


class Kind(StrEnum):
    """What an estimate's aggregates are, which decides how two estimates are compared."""

    PROPORTION = "proportion"
    NPS = "nps"
    MEAN = "mean"


@dataclass(frozen=True, slots=True)
class Sample:
    """The aggregates behind an estimate: what a test of two estimates needs."""

    kind: Kind
    n: int
    a: float  # hits, promoters, or the sum of the answers
    b: float = 0.0  # detractors, or the sum of the squared answers


EstimateDict = dict[str, float | int | bool | str | None]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A metric's value from ``n`` answers, with its standard error and 95% interval.

    ``value`` and the interval are None when ``n`` is 0; the interval is None from one answer.
    ``method`` names the interval; ``sample`` keeps the counts for :func:`compare`.
    """

    value: float | None
    se: float | None
    low: float | None
    high: float | None
    n: int
    method: str
    sample: Sample | None = None

    @property
    def moe(self) -> float | None:
        """Margin of error: half the 95% interval's width."""
        if self.low is None or self.high is None:
            return None
        return (self.high - self.low) / 2

    @property
    def too_few(self) -> bool:
        """True when there are fewer than ``MIN_SAMPLE`` answers (the figure is not reliable)."""
        return self.n < MIN_SAMPLE

    def as_dict(self) -> EstimateDict:
        return {
            "value": self.value,
            "se": self.se,
            "low": self.low,
            "high": self.high,
            "moe": self.moe,
            "n": self.n,
            "too_few": self.too_few,
            "method": self.method,
        }


def _empty(method: str) -> Estimate:
    return Estimate(value=None, se=None, low=None, high=None, n=0, method=method)


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _nps_adjusted(promoters: float, detractors: float, n: int) -> tuple[float, float]:
    """Sauro & Lewis's adjusted NPS and its standard error, as proportions (−1..1)."""
    n_adj = n + NPS_ADJUST_N
    p = (promoters + NPS_ADJUST_EACH) / n_adj
    d = (detractors + NPS_ADJUST_EACH) / n_adj
    return p - d, math.sqrt((p + d - (p - d) ** 2) / n_adj)


def nps(*, promoters: int, detractors: int, n: int) -> Estimate:
    """Net Promoter Score: % promoters (9–10) minus % detractors (0–6), in points.

    The 95% interval is the adjusted-Wald interval of Sauro & Lewis (J. Sauro and J. R. Lewis,
    *Quantifying the User Experience*, 2nd ed.; MeasuringU, "Confidence Intervals for Net
    Promoter Scores", 2020, the best performer in B. Rocks, *The American Statistician* 70(4),
    2016): add 3 to n and ¾ to the promoters and to the detractors; with the adjusted shares
    p' = (promoters + ¾)/(n + 3) and d' = (detractors + ¾)/(n + 3), NPS' = p' − d' and
    SE = √((p' + d' − (p' − d')²)/(n + 3)); the interval is 100·(NPS' ± 1.96·SE), clipped to
    −100..100. The value shown stays the plain NPS 100·(promoters − detractors)/n, and ``se``
    is 100·SE. Unlike the plain Wald interval it does not collapse to [100, 100] when every
    answer is a promoter. One answer gives no interval (from n = 1 the adjusted interval can
    leave out the answer itself).
    """
    _check_counts(n, promoters, detractors)
    if promoters + detractors > n:
        raise ValueError("promoters + detractors cannot exceed n")
    if n == 0:
        return _empty("adjusted-wald")
    value = 100 * (promoters - detractors) / n
    sample = Sample(Kind.NPS, n, promoters, detractors)
    if n == 1:
        return Estimate(value, None, None, None, 1, "adjusted-wald", sample)
    centre, se = _nps_adjusted(promoters, detractors, n)
    return Estimate(
        value=value,
        se=100 * se,
        low=_clip(100 * (centre - Z95 * se), -100.0, 100.0),
        high=_clip(100 * (centre + Z95 * se), -100.0, 100.0),
        n=n,
        method="adjusted-wald",
        sample=sample,
    )


def proportion(*, hits: int, n: int) -> Estimate:
    """A percentage hits/n with the Wilson score 95% interval (and the usual √(p(1−p)/n) SE).

    Wilson: centre (p + z²/2n) / (1 + z²/n), half-width z·√(p(1−p)/n + z²/4n²) / (1 + z²/n).
    Unlike p ± 1.96·SE it never leaves 0..100 % and does not collapse to zero width at 0 % or
    100 %, which matters for small samples.
    """
    _check_counts(n, hits)
    if hits > n:
        raise ValueError("hits cannot exceed n")
    if n == 0:
        return _empty("wilson")
    p = hits / n
    z2 = Z95 * Z95
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return Estimate(
        value=100 * p,
        se=100 * math.sqrt(p * (1 - p) / n),
        # at 0 % and 100 % the bound is exactly 0 or 1 (spelled out: rounding misses it)
        low=0.0 if hits == 0 else 100 * max(centre - half, 0.0),
        high=100.0 if hits == n else 100 * min(centre + half, 1.0),
        n=n,
        method="wilson",
        sample=Sample(Kind.PROPORTION, n, hits),
    )


def csat(*, satisfied: int, n: int) -> Estimate:
    """CSAT: the % of answers in the top box (by default 4 or 5 on 1–5), Wilson interval.

    Which answers count as satisfied is decided when counting (``Survey.csat_top_box``, or a
    ``top_box`` override on a query); this function only needs the counts.
    """
    return proportion(hits=satisfied, n=n)


def response_rate(*, completed: int, started: int) -> Estimate:
    """Response rate: the % of survey opportunities that ended in a completed response, Wilson.

    The selectors count the opportunities (``started``) as invitations sent plus responses started
    without an invitation (someone opened a public link or embed), and ``completed`` as
    invitations with a completed response plus those uninvited responses completed. With no
    invitations this is the completion rate, completed / started.
    """
    return proportion(hits=completed, n=started)


def retention_rate(*, retained: int, active: int) -> Estimate:
    """The % of customers active in a period who are active again in the next, Wilson interval."""
    return proportion(hits=retained, n=active)


def churn_rate(*, churned: int, active: int) -> Estimate:
    """The % of customers active in a period who are not active in the next, Wilson interval."""
    return proportion(hits=churned, n=active)


def t_quantile_975(df: float) -> float:
    """The 97.5th percentile of Student's t with ``df`` degrees of freedom (scipy's ``stdtrit``)."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    return float(_scipy("special").stdtrit(df, 0.975))


def _sum_of_squares(total: float, total_sq: float, n: int) -> float:
    """Σ(x − mean)² from Σx and Σx²; exactly 0 when every answer is the same (integer answers)."""
    return max(total_sq - total * total / n, 0.0) if n * total_sq != total * total else 0.0


def ces(*, total: float, total_sq: float, n: int) -> Estimate:
    """Customer Effort Score: the mean answer on 1–7 (7 = very easy), with a 95% interval.

    Our CES question asks how easy it was (CES 2.0 wording), so higher is better, like NPS/CSAT.

    ``total`` is the sum of the answers and ``total_sq`` the sum of their squares. The sample
    standard deviation is s = √((Σx² − (Σx)²/n) / (n − 1)), SE = s/√n, and the interval is
    mean ± t(0.975, n − 1)·SE (Student's t), clipped to 1..7. One answer has no spread: SE and
    interval are None ("not enough answers").

    When every answer is the same (s = 0) the t interval would have zero width, claiming
    certainty. Instead the interval bounds the population mean from the scale: if at most a
    share u of all customers would answer anything else, the mean lies in
    [x − u·(x − 1), x + u·(7 − x)]; u is the Wilson 95% upper bound for "0 of n answered
    differently" (z²/(n + z²)). ``method`` is then ``"scale-bound"``.
    """
    _check_counts(n)
    if n == 0:
        return _empty("t")
    mean = total / n
    sample = Sample(Kind.MEAN, n, total, total_sq)
    if n == 1:
        return Estimate(value=mean, se=None, low=None, high=None, n=1, method="t", sample=sample)
    squares = _sum_of_squares(total, total_sq, n)
    if squares == 0:
        share = Z95 * Z95 / (n + Z95 * Z95)  # Wilson upper bound for 0 of n
        return Estimate(
            value=mean,
            se=0.0,
            low=mean - share * (mean - CES_MIN),
            high=mean + share * (CES_MAX - mean),
            n=n,
            method="scale-bound",
            sample=sample,
        )
    se = math.sqrt(squares / (n - 1) / n)
    half = t_quantile_975(n - 1) * se
    return Estimate(
        value=mean,
        se=se,
        low=_clip(mean - half, CES_MIN, CES_MAX),
        high=_clip(mean + half, CES_MIN, CES_MAX),
        n=n,
        method="t",
        sample=sample,
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


def _wilson(hits: float, n: int) -> tuple[float, float]:
    """Wilson's 95% score interval of a proportion, as proportions (0..1)."""
    p = hits / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return centre - half, centre + half


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


def _check_counts(*counts: float) -> None:
    if any(count < 0 for count in counts):
        raise ValueError("counts cannot be negative")
