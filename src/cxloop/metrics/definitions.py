"""The metric definitions: pure arithmetic on counts, with standard errors and 95% intervals.

Every function takes aggregates (counts and sums a database can produce with ``GROUP BY``) and
returns an :class:`Estimate`. Nothing here touches the database, so each formula is tested against
numbers worked out by hand (``tests/test_metrics_definitions.py``).

Conventions:

* NPS is in points (-100..100); CSAT, response, retention and churn rates are percentages (0..100);
  CES is the mean answer on its 1..7 scale.
* Intervals are 95% (``Z95`` = 1.96). NPS uses the normal (Wald) interval of a difference of two
  proportions; proportions use the Wilson score interval (honest near 0% and 100% and with small
  samples, where the normal one can leave 0..100); CES uses Student's t interval on the mean.
  Intervals are clipped to the scale.
* ``moe`` (the margin of error shown as "± x") is half the interval's width.
* A figure from fewer than ``MIN_SAMPLE`` answers is flagged ``too_few``: pages show it greyed out
  with a warning instead of a confident number, and comparisons involving it are not called
  significant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal distribution
MIN_SAMPLE = 30  # fewer answers than this: "too few responses" instead of a confident figure
NPS_PROMOTER_MIN = 9  # 9–10 promote
NPS_DETRACTOR_MAX = 6  # 0–6 detract (7–8 are passives)
CSAT_TOP_BOX = 4  # default: 4 or 5 on a 1–5 scale counts as satisfied
CES_MIN, CES_MAX = 1, 7

# Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom (standard tables).
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip


class MetricName(StrEnum):
    NPS = "nps"
    CSAT = "csat"
    CES = "ces"
    RESPONSE_RATE = "response_rate"


METRIC_LABELS = {
    MetricName.NPS: "NPS",
    MetricName.CSAT: "CSAT",
    MetricName.CES: "CES",
    MetricName.RESPONSE_RATE: "Response rate",
}
METRIC_UNITS = {  # suffix shown after a value
    MetricName.NPS: "",
    MetricName.CSAT: "%",
    MetricName.CES: "",
    MetricName.RESPONSE_RATE: "%",
}
METRIC_SCALES = {  # (low, high) of each metric's scale, for charts
    MetricName.NPS: (-100.0, 100.0),
    MetricName.CSAT: (0.0, 100.0),
    MetricName.CES: (float(CES_MIN), float(CES_MAX)),
    MetricName.RESPONSE_RATE: (0.0, 100.0),
}


@dataclass(frozen=True, slots=True)
class Estimate:
    """A metric's value from ``n`` answers, with its standard error and 95% interval.

    ``value`` and the interval are None when ``n`` is 0. ``method`` names the interval.
    """

    value: float | None
    se: float | None
    low: float | None
    high: float | None
    n: int
    method: str

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

    def as_dict(self) -> dict:
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


def nps(*, promoters: int, detractors: int, n: int) -> Estimate:
    """Net Promoter Score: % promoters (9–10) minus % detractors (0–6), in points.

    With p = promoters/n and d = detractors/n, NPS = 100·(p − d) and its standard error is
    100·√((p + d − (p − d)²) / n) (the variance of one answer scored +1/0/−1, divided by n).
    The 95% interval is NPS ± 1.96·SE, clipped to −100..100.
    """
    _check_counts(n, promoters, detractors)
    if promoters + detractors > n:
        raise ValueError("promoters + detractors cannot exceed n")
    if n == 0:
        return _empty("normal")
    p, d = promoters / n, detractors / n
    value = 100 * (p - d)
    se = 100 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
    return Estimate(
        value=value,
        se=se,
        low=_clip(value - Z95 * se, -100.0, 100.0),
        high=_clip(value + Z95 * se, -100.0, 100.0),
        n=n,
        method="normal",
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


def t_quantile_975(df: int) -> float:
    """The 97.5th percentile of Student's t with ``df`` degrees of freedom.

    Exact table values up to 30; above that the Cornish-Fisher expansion around the normal
    quantile (error below 1e-5 from 30 on).
    """
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if df <= len(_T975):
        return _T975[df - 1]
    z = Z95
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def ces(*, total: float, total_sq: float, n: int) -> Estimate:
    """Customer Effort Score: the mean answer on 1–7 (7 = very easy), with Student's t 95% interval.

    Our CES question asks how easy it was (CES 2.0 wording), so higher is better, like NPS/CSAT.

    ``total`` is the sum of the answers and ``total_sq`` the sum of their squares. The sample
    standard deviation is s = √((Σx² − (Σx)²/n) / (n − 1)), SE = s/√n, and the interval is
    mean ± t(0.975, n − 1)·SE, clipped to 1..7. One answer has no spread: SE and interval are None.
    """
    _check_counts(n)
    if n == 0:
        return _empty("t")
    mean = total / n
    if n == 1:
        return Estimate(value=mean, se=None, low=None, high=None, n=1, method="t")
    variance = max(total_sq - total * total / n, 0.0) / (n - 1)
    se = math.sqrt(variance / n)
    half = t_quantile_975(n - 1) * se
    return Estimate(
        value=mean,
        se=se,
        low=_clip(mean - half, CES_MIN, CES_MAX),
        high=_clip(mean + half, CES_MIN, CES_MAX),
        n=n,
        method="t",
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    """The difference ``a − b`` of two independent estimates and whether it is significant."""

    difference: float | None
    se: float | None
    z: float | None
    p_value: float | None
    significant: bool
    verdict: str  # "significant at 95%", "not significant", or why it cannot be told

    def as_dict(self) -> dict:
        return {
            "difference": self.difference,
            "se": self.se,
            "z": self.z,
            "p_value": self.p_value,
            "significant": self.significant,
            "verdict": self.verdict,
        }


SIGNIFICANT = "significant at 95%"
NOT_SIGNIFICANT = "not significant"
TOO_FEW_TO_TELL = "too few responses to tell"
NO_DATA = "no data to compare"


def compare(a: Estimate, b: Estimate) -> Comparison:
    """Two-sided z-test of ``a − b`` (two periods, or two segments) at the 95% level.

    SE of the difference = √(SE_a² + SE_b²) (independent samples); z = (a − b)/SE;
    p = erfc(|z|/√2). Significant when p < 0.05 and both sides have at least ``MIN_SAMPLE``
    answers; with fewer the verdict says so instead of guessing.
    """
    if a.value is None or b.value is None:
        return Comparison(None, None, None, None, False, NO_DATA)
    difference = a.value - b.value
    if a.se is None or b.se is None or a.too_few or b.too_few:
        return Comparison(difference, None, None, None, False, TOO_FEW_TO_TELL)
    se = math.sqrt(a.se**2 + b.se**2)
    if se == 0:  # both sides unanimous: any difference is certain
        significant = difference != 0
        return Comparison(
            difference,
            0.0,
            None,
            0.0 if significant else 1.0,
            significant,
            SIGNIFICANT if significant else NOT_SIGNIFICANT,
        )
    z = difference / se
    p_value = math.erfc(abs(z) / math.sqrt(2))
    significant = p_value < 0.05
    return Comparison(
        difference, se, z, p_value, significant, SIGNIFICANT if significant else NOT_SIGNIFICANT
    )


def _check_counts(*counts: int) -> None:
    if any(count < 0 for count in counts):
        raise ValueError("counts cannot be negative")
