"""The metric formulas on typical data, each figure checked against scipy/statsmodels run on the
raw answers (and a few worked by hand, numbers in the comments). Edge cases (n = 0, 1, 2,
unanimous answers) are in ``test_metrics_edges.py``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest
from statsmodels.stats.weightstats import DescrStatsW

from cxloop.metrics import definitions as d

Z = stats.norm.ppf(0.975)


def nps_adjusted_wald(promoters: int, passives: int, detractors: int) -> tuple[float, float]:
    """Sauro & Lewis's adjusted NPS and SE, computed independently: the answers scored +1/0/−1
    with ¾ promoter, 1½ passive and ¾ detractor added, their weighted mean and (population)
    variance from statsmodels, SE = √(var / (n + 3)). In points."""
    answers = DescrStatsW(
        np.array([1.0, 0.0, -1.0]),
        weights=np.array([promoters + 0.75, passives + 1.5, detractors + 0.75]),
    )
    return 100 * answers.mean, 100 * math.sqrt(answers.var / answers.sum_weights)


def test_nps_of_ten_answers_with_five_promoters_and_two_detractors():
    # by hand: n' = 13, p' = 5.75/13 = .442308, d' = 2.75/13 = .211538 → NPS' = .230769
    # var' = .653846 − .053254 = .600592; SE = √(.600592/13) = .214941 → 21.4941 points
    # interval 23.0769 ± 1.959964·21.4941 = 23.0769 ± 42.1276 → −19.0507 .. 65.2045
    estimate = d.nps(promoters=5, detractors=2, n=10)
    centre, se = nps_adjusted_wald(5, 3, 2)

    assert estimate.value == pytest.approx(30.0)  # the plain NPS: 50 % − 20 %
    assert estimate.se == pytest.approx(se) == pytest.approx(21.4941, abs=1e-4)
    assert estimate.low == pytest.approx(centre - Z * se) == pytest.approx(-19.0507, abs=1e-3)
    assert estimate.high == pytest.approx(centre + Z * se) == pytest.approx(65.2045, abs=1e-3)
    assert estimate.moe == pytest.approx(Z * se)
    assert estimate.n == 10
    assert estimate.too_few  # 10 < 30: the page greys it out
    assert estimate.method == "adjusted-wald"


@pytest.mark.parametrize(
    ("promoters", "passives", "detractors"), [(60, 30, 10), (250, 675, 75), (12, 3, 25)]
)
def test_nps_interval_is_the_adjusted_wald_interval(promoters, passives, detractors):
    n = promoters + passives + detractors
    estimate = d.nps(promoters=promoters, detractors=detractors, n=n)
    centre, se = nps_adjusted_wald(promoters, passives, detractors)

    assert estimate.value == pytest.approx(100 * (promoters - detractors) / n)
    assert estimate.se == pytest.approx(se)
    assert estimate.low == pytest.approx(max(centre - Z * se, -100))
    assert estimate.high == pytest.approx(min(centre + Z * se, 100))


def test_nps_interval_is_clipped_to_the_scale():
    # 29 promoters, 1 detractor of 30: the adjusted centre plus 1.96 SE passes 100
    estimate = d.nps(promoters=29, detractors=1, n=30)
    centre, se = nps_adjusted_wald(29, 0, 1)

    assert centre + Z * se > 100
    assert estimate.high == 100.0
    assert estimate.low == pytest.approx(centre - Z * se)


def test_impossible_counts_are_refused():
    with pytest.raises(ValueError, match="exceed"):
        d.nps(promoters=8, detractors=5, n=10)
    with pytest.raises(ValueError, match="negative"):
        d.proportion(hits=-1, n=10)
    with pytest.raises(ValueError, match="exceed"):
        d.proportion(hits=11, n=10)
    with pytest.raises(ValueError, match="negative"):
        d.ces(total=5, total_sq=25, n=-1)


@pytest.mark.parametrize(("hits", "n"), [(8, 10), (45, 60), (1, 3), (512, 1000)])
def test_proportions_use_the_wilson_interval(hits, n):
    low, high = proportion_confint(hits, n, alpha=0.05, method="wilson")
    estimate = d.proportion(hits=hits, n=n)

    assert estimate.value == pytest.approx(100 * hits / n)
    assert estimate.low == pytest.approx(100 * low)
    assert estimate.high == pytest.approx(100 * high)
    assert estimate.se == pytest.approx(100 * math.sqrt(hits / n * (1 - hits / n) / n))
    assert estimate.method == "wilson"


def test_csat_of_eight_in_ten_by_hand():
    # 8 of 10: centre = (.8 + z²/20)/(1 + z²/10) = .716740; half = .226578 → 49.0162 .. 94.3318 %
    estimate = d.csat(satisfied=8, n=10)

    assert estimate.low == pytest.approx(49.0162, abs=1e-3)
    assert estimate.high == pytest.approx(94.3318, abs=1e-3)


def test_rates_are_proportions():
    assert d.response_rate(completed=45, started=60) == d.proportion(hits=45, n=60)
    assert d.retention_rate(retained=9, active=12).value == pytest.approx(75.0)
    churn = d.churn_rate(churned=3, active=12)
    assert churn.value == pytest.approx(25.0)
    assert churn.too_few


@pytest.mark.parametrize(
    "answers", [[1, 2, 3, 4, 5], [7, 6, 7, 5, 7, 7, 6], [4, 4, 5], list(range(1, 8)) * 9]
)
def test_ces_mean_with_student_t_interval(answers):
    data = np.array(answers, dtype=float)
    low, high = stats.t.interval(0.95, len(data) - 1, loc=data.mean(), scale=stats.sem(data))

    estimate = d.ces(total=float(data.sum()), total_sq=float((data**2).sum()), n=len(data))

    assert estimate.value == pytest.approx(data.mean())
    assert estimate.se == pytest.approx(stats.sem(data))
    assert estimate.low == pytest.approx(max(low, 1.0))
    assert estimate.high == pytest.approx(min(high, 7.0))
    assert estimate.method == "t"


@pytest.mark.parametrize("df", [1, 2, 4, 10, 29, 30, 40, 120, 100_000])
def test_t_quantiles_match_scipy(df):
    assert d.t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-9)


def test_t_quantile_needs_a_degree_of_freedom():
    with pytest.raises(ValueError, match="at least 1"):
        d.t_quantile_975(0)


def test_the_reported_csat_case_is_not_significant():
    # issue #8: CSAT 40/40 vs 35/40 was p = .017 "significant" (unpooled Wald). An expected
    # count is 5·40/80 = 2.5 < 5, so Fisher's exact test decides: p = .055, not significant.
    change = d.compare(d.csat(satisfied=40, n=40), d.csat(satisfied=35, n=40))

    assert change.p_value == pytest.approx(stats.fisher_exact([[40, 0], [35, 5]])[1])
    assert change.p_value == pytest.approx(0.0547, abs=1e-4)
    assert change.test == "fisher exact"
    assert not change.significant
    assert change.verdict == "not significant"
    assert change.difference == pytest.approx(12.5)


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), [(60, 100, 45, 100), (300, 400, 280, 410)])
def test_proportions_use_the_pooled_z_test(x1, n1, x2, n2):
    z, p = proportions_ztest([x1, x2], [n1, n2])  # pooled variance by default

    change = d.compare(d.proportion(hits=x1, n=n1), d.proportion(hits=x2, n=n2))

    assert change.test == "pooled z"
    assert change.z == pytest.approx(z)
    assert change.p_value == pytest.approx(p)
    assert change.significant == (p < 0.05)


def test_nps_change_uses_the_adjusted_wald_test():
    # a: 60 P, 30 passive, 10 D of 100; b: 40 P, 40 passive, 20 D of 100
    a = d.nps(promoters=60, detractors=10, n=100)
    b = d.nps(promoters=40, detractors=20, n=100)
    centre_a, se_a = nps_adjusted_wald(60, 30, 10)
    centre_b, se_b = nps_adjusted_wald(40, 40, 20)
    se = math.hypot(se_a, se_b)
    z = (centre_a - centre_b) / se

    change = d.compare(a, b)

    assert change.difference == pytest.approx(30.0)
    assert change.test == "adjusted-wald z"
    assert change.se == pytest.approx(se)
    assert change.z == pytest.approx(z)
    assert change.p_value == pytest.approx(2 * stats.norm.sf(abs(z)))
    assert change.significant
    assert change.verdict == "significant at 95%"


def test_a_small_nps_change_is_not_significant():
    a = d.nps(promoters=60, detractors=10, n=100)
    b = d.nps(promoters=55, detractors=15, n=100)
    centre_a, se_a = nps_adjusted_wald(60, 30, 10)
    centre_b, se_b = nps_adjusted_wald(55, 30, 15)
    z = (centre_a - centre_b) / math.hypot(se_a, se_b)

    change = d.compare(a, b)

    assert change.p_value == pytest.approx(2 * stats.norm.sf(abs(z)))
    assert change.p_value > 0.05
    assert not change.significant
    assert change.verdict == "not significant"


def test_ces_change_uses_welchs_t_test():
    rng = np.random.default_rng(8)
    x = rng.integers(1, 8, size=40).astype(float)
    y = np.clip(rng.integers(2, 8, size=55), 1, 7).astype(float)
    result = stats.ttest_ind(x, y, equal_var=False)

    change = d.compare(
        d.ces(total=float(x.sum()), total_sq=float((x**2).sum()), n=len(x)),
        d.ces(total=float(y.sum()), total_sq=float((y**2).sum()), n=len(y)),
    )

    assert change.test == "welch t"
    assert change.difference == pytest.approx(x.mean() - y.mean())
    assert change.z == pytest.approx(result.statistic)
    assert change.p_value == pytest.approx(result.pvalue)


def test_comparisons_with_too_few_answers_say_so():
    big = d.nps(promoters=60, detractors=10, n=100)
    small = d.nps(promoters=0, detractors=10, n=10)  # −100 vs 50: huge, but only 10 answers

    change = d.compare(big, small)

    assert change.difference == pytest.approx(150.0)
    assert not change.significant and change.p_value is None
    assert change.verdict == "too few responses to tell"
    assert d.compare(big, d.nps(promoters=0, detractors=0, n=0)).verdict == "no data to compare"


def test_estimates_of_different_kinds_cannot_be_compared():
    with pytest.raises(ValueError, match="same kind"):
        d.compare(d.nps(promoters=30, detractors=5, n=40), d.csat(satisfied=30, n=40))


def test_holm_matches_statsmodels():
    p_values = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04]
    _, expected, _, _ = multipletests(p_values, alpha=0.05, method="holm")

    assert d.holm(p_values) == pytest.approx(list(expected))


def test_holm_skips_groups_that_were_not_tested():
    _, expected, _, _ = multipletests([0.01, 0.03], method="holm")

    adjusted = d.holm([0.01, None, 0.03])

    assert adjusted[1] is None
    assert [adjusted[0], adjusted[2]] == pytest.approx(list(expected))


def test_significance_reads_the_adjusted_p_value():
    # three groups tested: raw p .02, .03 and .001; Holm: .04 (.02·2), .04 (max), .003
    changes = [
        d.Comparison(1.0, 1.0, 2.3, 0.02, True, d.SIGNIFICANT, "pooled z"),
        d.Comparison(1.0, 1.0, 2.1, 0.03, True, d.SIGNIFICANT, "pooled z"),
        d.Comparison(1.0, 1.0, 3.3, 0.001, True, d.SIGNIFICANT, "pooled z"),
        d.Comparison(5.0, None, None, None, False, d.TOO_FEW_TO_TELL),
    ]
    _, expected, _, _ = multipletests([0.02, 0.03, 0.001], method="holm")

    adjusted = d.adjust_holm(changes)

    assert [c.p_adjusted for c in adjusted[:3]] == pytest.approx(list(expected))
    assert [c.significant for c in adjusted] == [p < 0.05 for p in expected] + [False]
    assert adjusted[3] == changes[3]  # not tested: left alone
    assert d.comparisons_tested(adjusted) == 3


def test_adjustment_can_take_significance_away():
    # two tests at p = .03 each: Holm makes both .06, no longer significant
    change = d.compare(d.proportion(hits=60, n=100), d.proportion(hits=45, n=100))
    assert change.significant  # p ≈ .034 alone

    adjusted = d.adjust_holm([change, change])

    _, expected, _, _ = multipletests([change.p_value] * 2, method="holm")
    assert [c.p_adjusted for c in adjusted] == pytest.approx(list(expected))
    assert not any(c.significant for c in adjusted)
    assert {c.verdict for c in adjusted} == {"not significant"}
