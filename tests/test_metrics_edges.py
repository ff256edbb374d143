"""Statistics at the edges (issue #8, section 4): no answers, one, two, and unanimous answers.

No interval may have zero width (which claims certainty), and no two unanimous samples may be
called "certainly" different. Expected values come from scipy/statsmodels run on the answers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint, proportions_ztest
from statsmodels.stats.weightstats import DescrStatsW

from cxloop.metrics import definitions as d

Z = stats.norm.ppf(0.975)


def adjusted_nps(promoters: int, passives: int, detractors: int) -> tuple[float, float, float]:
    """Sauro & Lewis's adjusted-Wald interval, independently: the +1/0/−1 answers with ¾
    promoter, 1½ passive and ¾ detractor added (statsmodels' weighted mean and variance)."""
    answers = DescrStatsW(
        np.array([1.0, 0.0, -1.0]),
        weights=np.array([promoters + 0.75, passives + 1.5, detractors + 0.75]),
    )
    se = math.sqrt(answers.var / answers.sum_weights)
    return (
        100 * se,
        max(100 * (answers.mean - Z * se), -100),
        min(100 * (answers.mean + Z * se), 100),
    )


def ces_of(answers: list[int]) -> d.Estimate:
    return d.ces(
        total=float(sum(answers)), total_sq=float(sum(a * a for a in answers)), n=len(answers)
    )


# ------------------------------------------------------------------------------------------
# n = 0 and n = 1
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "estimate",
    [
        d.nps(promoters=0, detractors=0, n=0),
        d.proportion(hits=0, n=0),
        d.ces(total=0, total_sq=0, n=0),
    ],
)
def test_no_answers_give_no_number(estimate):
    assert estimate.value is None and estimate.se is None
    assert estimate.low is None and estimate.high is None and estimate.moe is None
    assert estimate.too_few and estimate.n == 0


def test_one_nps_answer_gives_a_score_but_no_interval():
    estimate = d.nps(promoters=1, detractors=0, n=1)

    assert estimate.value == 100.0
    assert (estimate.se, estimate.low, estimate.high) == (None, None, None)


def test_one_ces_answer_gives_a_mean_but_no_interval():
    estimate = ces_of([6])

    assert estimate.value == 6.0
    assert (estimate.se, estimate.low, estimate.high) == (None, None, None)


@pytest.mark.parametrize("hits", [0, 1])
def test_one_yes_or_no_answer_has_a_wide_wilson_interval(hits):
    low, high = proportion_confint(hits, 1, method="wilson")

    estimate = d.proportion(hits=hits, n=1)

    assert (estimate.low, estimate.high) == (pytest.approx(100 * low), pytest.approx(100 * high))
    assert estimate.high - estimate.low > 75


# ------------------------------------------------------------------------------------------
# n = 2
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("promoters", "passives", "detractors"), [(2, 0, 0), (1, 0, 1), (0, 1, 1)])
def test_two_nps_answers(promoters, passives, detractors):
    se, low, high = adjusted_nps(promoters, passives, detractors)

    estimate = d.nps(promoters=promoters, detractors=detractors, n=2)

    assert estimate.value == pytest.approx(50.0 * (promoters - detractors))
    assert estimate.se == pytest.approx(se)
    assert (estimate.low, estimate.high) == (pytest.approx(low), pytest.approx(high))
    assert estimate.low <= estimate.value <= estimate.high


@pytest.mark.parametrize("answers", [[3, 5], [1, 7], [6, 7]])
def test_two_ces_answers_have_a_t_interval(answers):
    data = np.array(answers, dtype=float)
    low, high = stats.t.interval(0.95, 1, loc=data.mean(), scale=stats.sem(data))

    estimate = ces_of(answers)

    assert estimate.se == pytest.approx(stats.sem(data))
    assert estimate.low == pytest.approx(max(low, 1.0))
    assert estimate.high == pytest.approx(min(high, 7.0))


@pytest.mark.parametrize("hits", [0, 1, 2])
def test_two_yes_or_no_answers(hits):
    low, high = proportion_confint(hits, 2, method="wilson")

    estimate = d.proportion(hits=hits, n=2)

    assert (estimate.low, estimate.high) == (pytest.approx(100 * low), pytest.approx(100 * high))


# ------------------------------------------------------------------------------------------
# Unanimous answers
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 10, 40, 1000])
def test_all_promoters_do_not_give_an_interval_of_zero_width(n):
    # issue #8: the Wald interval was [100, 100] at any n
    se, low, _ = adjusted_nps(n, 0, 0)

    estimate = d.nps(promoters=n, detractors=0, n=n)

    assert estimate.value == 100.0
    assert estimate.se == pytest.approx(se) and estimate.se > 0
    assert estimate.low == pytest.approx(low) and estimate.low < 100
    assert estimate.high == 100.0


def test_all_promoters_of_forty_by_hand():
    # n' = 43, p' = 40.75/43 = .947674, d' = .75/43 = .017442 → NPS' = .930233
    # var' = .965116 − .865333 = .099784; SE = √(.099784/43) = .048172
    # low = 93.0233 − 1.959964·4.8172 = 83.5817
    estimate = d.nps(promoters=40, detractors=0, n=40)

    assert estimate.se == pytest.approx(4.8172, abs=1e-3)
    assert estimate.low == pytest.approx(83.5817, abs=1e-3)


def test_all_detractors_mirror_all_promoters():
    promoters = d.nps(promoters=25, detractors=0, n=25)
    detractors = d.nps(promoters=0, detractors=25, n=25)

    assert detractors.value == -100.0 and detractors.low == -100.0
    assert detractors.high == pytest.approx(-promoters.low)


def test_all_passives_give_an_interval_around_zero():
    _, low, high = adjusted_nps(0, 30, 0)

    estimate = d.nps(promoters=0, detractors=0, n=30)

    assert estimate.value == 0.0
    assert (estimate.low, estimate.high) == (pytest.approx(low), pytest.approx(high))
    assert estimate.low < 0 < estimate.high


@pytest.mark.parametrize(("hits", "n"), [(0, 30), (30, 30), (0, 2), (2, 2)])
def test_unanimous_proportions_keep_the_wilson_interval(hits, n):
    low, high = proportion_confint(hits, n, method="wilson")

    estimate = d.proportion(hits=hits, n=n)

    assert (estimate.low, estimate.high) == (pytest.approx(100 * low), pytest.approx(100 * high))
    assert estimate.high - estimate.low > 0


@pytest.mark.parametrize(("value", "n"), [(7, 2), (7, 40), (1, 5), (4, 30)])
def test_identical_ces_answers_get_a_bound_from_the_scale(value, n):
    # the share of customers who would answer anything else is at most u (Wilson upper bound
    # for 0 of n); the mean then lies between value − u·(value − 1) and value + u·(7 − value)
    _, share = proportion_confint(0, n, method="wilson")

    estimate = ces_of([value] * n)

    assert estimate.value == pytest.approx(value)
    assert estimate.method == "scale-bound"
    assert estimate.low == pytest.approx(value - share * (value - 1))
    assert estimate.high == pytest.approx(value + share * (7 - value))
    assert estimate.high - estimate.low > 0


# ------------------------------------------------------------------------------------------
# Comparisons at the edges
# ------------------------------------------------------------------------------------------


def test_two_unanimous_csat_samples_are_not_called_certain():
    # 40/40 vs 35/40: the unpooled Wald test said p = .017; pooled z gives .021 and, with an
    # expected count of 2.5, Fisher's exact test (used) .055
    assert proportions_ztest([40, 35], [40, 40])[1] == pytest.approx(0.0209, abs=1e-4)

    change = d.compare(d.csat(satisfied=40, n=40), d.csat(satisfied=35, n=40))

    assert change.p_value == pytest.approx(stats.fisher_exact([[40, 0], [35, 5]])[1])
    assert not change.significant


def test_identical_unanimous_proportions_do_not_differ():
    change = d.compare(d.proportion(hits=40, n=40), d.proportion(hits=50, n=50))

    assert change.difference == 0.0
    assert change.p_value == pytest.approx(stats.fisher_exact([[40, 0], [50, 0]])[1]) == 1.0
    assert not change.significant


def test_opposite_unanimous_proportions_are_significant_but_not_certain():
    z, p = proportions_ztest([40, 0], [40, 40])

    change = d.compare(d.proportion(hits=40, n=40), d.proportion(hits=0, n=40))

    assert change.test == "pooled z"  # every expected count is 20
    assert change.p_value == pytest.approx(p) and change.p_value > 0
    assert change.z == pytest.approx(z)
    assert change.significant


def test_small_expected_counts_use_fishers_exact_test():
    # 3/60 vs 0/60: expected hits 1.5 each
    change = d.compare(d.proportion(hits=3, n=60), d.proportion(hits=0, n=60))

    assert change.test == "fisher exact" and change.z is None
    assert change.p_value == pytest.approx(stats.fisher_exact([[3, 57], [0, 60]])[1])


def test_two_unanimous_nps_samples_are_not_called_certain():
    # all 40 promoters vs 35 promoters and 5 passives: the Wald SE of both was ~0
    a = d.nps(promoters=40, detractors=0, n=40)
    b = d.nps(promoters=35, detractors=0, n=40)
    centre_a = 100 * (40.75 - 0.75) / 43
    centre_b = 100 * (35.75 - 0.75) / 43
    se_a, _, _ = adjusted_nps(40, 0, 0)
    se_b, _, _ = adjusted_nps(35, 5, 0)
    z = (centre_a - centre_b) / math.hypot(se_a, se_b)

    change = d.compare(a, b)

    assert change.p_value == pytest.approx(2 * stats.norm.sf(abs(z)))
    assert change.p_value > 0.05
    assert not change.significant


def test_identical_nps_samples_do_not_differ():
    change = d.compare(
        d.nps(promoters=40, detractors=0, n=40), d.nps(promoters=40, detractors=0, n=40)
    )

    assert change.difference == 0.0 and change.z == 0.0 and change.p_value == pytest.approx(1.0)


@pytest.mark.filterwarnings("ignore:Precision loss")  # scipy, on the side with no spread
def test_welch_with_no_spread_on_one_side_matches_scipy():
    x = np.array([7.0] * 35)
    y = np.array([7.0] * 20 + [6.0] * 10 + [5.0] * 5)
    result = stats.ttest_ind(x, y, equal_var=False)

    change = d.compare(ces_of([7] * 35), ces_of([7] * 20 + [6] * 10 + [5] * 5))

    assert change.z == pytest.approx(result.statistic)
    assert change.p_value == pytest.approx(result.pvalue)


def test_welch_with_no_spread_on_either_side_is_not_tested():
    change = d.compare(ces_of([7] * 35), ces_of([6] * 35))

    assert change.difference == pytest.approx(1.0)
    assert change.p_value is None and not change.significant
    assert change.verdict == "every answer the same on both sides: no test"
