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

import math
from enum import StrEnum

# re-exported: the comparisons and the estimate's statistics are part of this public interface
from cxloop.metrics._compare import FISHER as FISHER
from cxloop.metrics._compare import HOLM as HOLM
from cxloop.metrics._compare import NO_DATA as NO_DATA
from cxloop.metrics._compare import NO_SPREAD as NO_SPREAD
from cxloop.metrics._compare import NOT_SIGNIFICANT as NOT_SIGNIFICANT
from cxloop.metrics._compare import NPS_ADJUSTED_WALD as NPS_ADJUSTED_WALD
from cxloop.metrics._compare import POOLED_Z as POOLED_Z
from cxloop.metrics._compare import SIGNIFICANT as SIGNIFICANT
from cxloop.metrics._compare import TOO_FEW_TO_TELL as TOO_FEW_TO_TELL
from cxloop.metrics._compare import WELCH as WELCH
from cxloop.metrics._compare import Comparison as Comparison
from cxloop.metrics._compare import ComparisonDict as ComparisonDict
from cxloop.metrics._compare import adjust_holm as adjust_holm
from cxloop.metrics._compare import compare as compare
from cxloop.metrics._compare import comparisons_tested as comparisons_tested
from cxloop.metrics._compare import difference_interval as difference_interval
from cxloop.metrics._compare import holm as holm
from cxloop.metrics._stats import ALPHA as ALPHA
from cxloop.metrics._stats import FISHER_BELOW as FISHER_BELOW
from cxloop.metrics._stats import MIN_SAMPLE as MIN_SAMPLE
from cxloop.metrics._stats import NPS_ADJUST_EACH as NPS_ADJUST_EACH
from cxloop.metrics._stats import NPS_ADJUST_N as NPS_ADJUST_N
from cxloop.metrics._stats import Z95 as Z95
from cxloop.metrics._stats import Estimate as Estimate
from cxloop.metrics._stats import EstimateDict as EstimateDict
from cxloop.metrics._stats import Kind as Kind
from cxloop.metrics._stats import Sample as Sample
from cxloop.metrics._stats import _clip, _nps_adjusted, _sum_of_squares
from cxloop.metrics._stats import t_quantile_975 as t_quantile_975

NPS_PROMOTER_MIN = 9  # 9–10 promote
NPS_DETRACTOR_MAX = 6  # 0–6 detract (7–8 are passives)
CSAT_TOP_BOX = 4  # default: 4 or 5 on a 1–5 scale counts as satisfied
CES_MIN, CES_MAX = 1, 7


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


def _empty(method: str) -> Estimate:
    return Estimate(value=None, se=None, low=None, high=None, n=0, method=method)


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


def _check_counts(*counts: float) -> None:
    if any(count < 0 for count in counts):
        raise ValueError("counts cannot be negative")
