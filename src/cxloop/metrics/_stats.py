"""The statistics under the metric definitions (split from ``definitions`` for size): the
estimate and its counts, and the small formulas both the estimates and the comparisons use.
Import these from ``cxloop.metrics.definitions``."""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from enum import StrEnum
from types import ModuleType

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal distribution
ALPHA = 0.05  # two-sided significance level of every comparison
MIN_SAMPLE = 30  # fewer answers than this: "too few responses" instead of a confident figure
FISHER_BELOW = 5  # an expected cell count under this: Fisher's exact test instead of the z-test
# Sauro & Lewis's adjusted-Wald NPS: pseudo-answers added before the Wald formula
NPS_ADJUST_N = 3.0  # added to n
NPS_ADJUST_EACH = 0.75  # added to the promoters and to the detractors (so 1.5 to passives)


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


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _nps_adjusted(promoters: float, detractors: float, n: int) -> tuple[float, float]:
    """Sauro & Lewis's adjusted NPS and its standard error, as proportions (−1..1)."""
    n_adj = n + NPS_ADJUST_N
    p = (promoters + NPS_ADJUST_EACH) / n_adj
    d = (detractors + NPS_ADJUST_EACH) / n_adj
    return p - d, math.sqrt((p + d - (p - d) ** 2) / n_adj)


def t_quantile_975(df: float) -> float:
    """The 97.5th percentile of Student's t with ``df`` degrees of freedom (scipy's ``stdtrit``)."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    return float(_scipy("special").stdtrit(df, 0.975))


def _sum_of_squares(total: float, total_sq: float, n: int) -> float:
    """Σ(x − mean)² from Σx and Σx²; exactly 0 when every answer is the same (integer answers)."""
    return max(total_sq - total * total / n, 0.0) if n * total_sq != total * total else 0.0


def _wilson(hits: float, n: int) -> tuple[float, float]:
    """Wilson's 95% score interval of a proportion, as proportions (0..1)."""
    p = hits / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return centre - half, centre + half
