"""The metric formulas against cases worked out by hand (numbers in the comments)."""

from __future__ import annotations

import math

import pytest

from cxloop.metrics import definitions as d

Z = 1.959963984540054


def test_nps_of_ten_answers_with_five_promoters_and_two_detractors():
    # p = 5/10 = .5, d = 2/10 = .2 → NPS = 100·(.5 − .2) = 30 points
    # var = p + d − (p − d)² = .7 − .09 = .61; SE = 100·√(.61/10) = 100·√.061 = 24.698178
    # MOE = 1.959964 · 24.698178 = 48.407537 → 95% interval −18.407537 .. 78.407537
    estimate = d.nps(promoters=5, detractors=2, n=10)

    assert estimate.value == pytest.approx(30.0)
    assert estimate.se == pytest.approx(24.698178, abs=1e-6)
    assert estimate.low == pytest.approx(-18.407537, abs=1e-5)
    assert estimate.high == pytest.approx(78.407537, abs=1e-5)
    assert estimate.moe == pytest.approx(48.407537, abs=1e-5)
    assert estimate.n == 10
    assert estimate.too_few  # 10 < 30: the page greys it out
    assert estimate.method == "normal"


def test_nps_of_a_hundred_answers():
    # p = .6, d = .1 → NPS 50; var = .7 − .25 = .45; SE = 100·√.0045 = 6.708204
    # MOE = 1.959964 · 6.708204 = 13.147838 → 36.852162 .. 63.147838
    estimate = d.nps(promoters=60, detractors=10, n=100)

    assert estimate.value == pytest.approx(50.0)
    assert estimate.se == pytest.approx(6.708204, abs=1e-6)
    assert estimate.low == pytest.approx(36.852162, abs=1e-5)
    assert estimate.high == pytest.approx(63.147838, abs=1e-5)
    assert not estimate.too_few


def test_nps_interval_is_clipped_to_the_scale():
    # 29 promoters, 1 detractor of 30: NPS = 93.33; SE = 100·√((.9667+.0333−.8711)/30) = 6.55
    # 93.33 + 1.96·6.55 = 106.2 → clipped to 100
    estimate = d.nps(promoters=29, detractors=1, n=30)

    assert estimate.value == pytest.approx(93.333333, abs=1e-5)
    assert estimate.se == pytest.approx(100 * math.sqrt((1 - (28 / 30) ** 2) / 30))
    assert estimate.high == 100.0
    assert estimate.low == pytest.approx(estimate.value - Z * estimate.se, abs=1e-9)


def test_unanimous_nps_has_no_spread():
    estimate = d.nps(promoters=40, detractors=0, n=40)

    assert (estimate.value, estimate.se, estimate.low, estimate.high) == (100.0, 0.0, 100.0, 100.0)


def test_no_answers_gives_no_number():
    estimate = d.nps(promoters=0, detractors=0, n=0)

    assert estimate.value is None and estimate.low is None and estimate.moe is None
    assert estimate.too_few


def test_impossible_counts_are_refused():
    with pytest.raises(ValueError, match="exceed"):
        d.nps(promoters=8, detractors=5, n=10)
    with pytest.raises(ValueError, match="negative"):
        d.proportion(hits=-1, n=10)
    with pytest.raises(ValueError, match="exceed"):
        d.proportion(hits=11, n=10)


def test_csat_uses_the_wilson_interval():
    # 8 of 10 satisfied: p = .8; z² = 3.841459; denominator = 1 + z²/10 = 1.384146
    # centre = (.8 + z²/20)/1.384146 = .992073/1.384146 = .716740
    # half = z·√(.8·.2/10 + z²/400)/1.384146 = 1.959964·√.0256036/1.384146 = .226578
    # → 49.0162 % .. 94.3318 %  (a normal interval would reach 104.8 %)
    estimate = d.csat(satisfied=8, n=10)

    assert estimate.value == pytest.approx(80.0)
    assert estimate.low == pytest.approx(49.0162, abs=1e-3)
    assert estimate.high == pytest.approx(94.3318, abs=1e-3)
    assert estimate.se == pytest.approx(100 * math.sqrt(0.8 * 0.2 / 10))  # 12.649111
    assert estimate.method == "wilson"


def test_wilson_interval_is_not_degenerate_at_zero_and_hundred_percent():
    # 0 of 30: centre = (z²/60)/(1 + z²/30) = .064024/1.128049 = .056757; half = same → 0 .. 11.35 %
    none = d.proportion(hits=0, n=30)
    everyone = d.proportion(hits=30, n=30)

    assert none.value == 0.0 and none.low == 0.0
    assert none.high == pytest.approx(11.3513, abs=1e-3)
    assert everyone.high == 100.0
    assert everyone.low == pytest.approx(100 - 11.3513, abs=1e-3)


def test_response_rate_is_completed_over_started():
    # 45 of 60: p = .75; denominator = 1 + z²/60 = 1.064024; centre = (.75 + .032012)/1.064024
    # = .734953; half = z·√(.003125 + z²/14400)/1.064024 = 1.959964·.058239/1.064024 = .107278
    estimate = d.response_rate(completed=45, started=60)

    assert estimate.value == pytest.approx(75.0)
    assert estimate.low == pytest.approx(62.7675, abs=1e-3)
    assert estimate.high == pytest.approx(84.2231, abs=1e-3)


def test_ces_mean_with_student_t_interval():
    # answers 1,2,3,4,5: mean 3; s² = (55 − 15²/5)/4 = 2.5; SE = √(2.5/5) = .707107
    # t(.975, 4) = 2.7764 → half = 1.963213 → 1.036787 .. 4.963213
    estimate = d.ces(total=15, total_sq=55, n=5)

    assert estimate.value == pytest.approx(3.0)
    assert estimate.se == pytest.approx(0.707107, abs=1e-6)
    assert estimate.low == pytest.approx(1.036787, abs=1e-5)
    assert estimate.high == pytest.approx(4.963213, abs=1e-5)
    assert estimate.method == "t"


def test_ces_of_one_answer_has_no_interval():
    estimate = d.ces(total=6, total_sq=36, n=1)

    assert estimate.value == 6.0 and estimate.se is None and estimate.low is None


def test_t_quantiles_match_the_tables():
    # textbook values: df 1 → 12.706, 10 → 2.228, 30 → 2.042, 40 → 2.021, 60 → 2.000, 120 → 1.980
    assert d.t_quantile_975(1) == pytest.approx(12.706, abs=1e-3)
    assert d.t_quantile_975(10) == pytest.approx(2.228, abs=1e-3)
    assert d.t_quantile_975(30) == pytest.approx(2.042, abs=1e-3)
    assert d.t_quantile_975(40) == pytest.approx(2.021, abs=1e-3)
    assert d.t_quantile_975(60) == pytest.approx(2.000, abs=1e-3)
    assert d.t_quantile_975(120) == pytest.approx(1.980, abs=1e-3)
    assert d.t_quantile_975(100_000) == pytest.approx(Z, abs=1e-4)


def test_a_real_change_between_two_periods_is_significant():
    # a: 60 P / 10 D of 100 → 50, SE 6.708204; b: 40 P / 20 D of 100 → 20, var .6 − .04 = .56,
    # SE 7.483315. Difference 30; SE = √(45 + 56) = √101 = 10.049876; z = 2.985112;
    # p = erfc(2.985112/√2) = .002835 < .05
    a = d.nps(promoters=60, detractors=10, n=100)
    b = d.nps(promoters=40, detractors=20, n=100)

    change = d.compare(a, b)

    assert change.difference == pytest.approx(30.0)
    assert change.se == pytest.approx(10.049876, abs=1e-6)
    assert change.z == pytest.approx(2.985112, abs=1e-6)
    assert change.p_value == pytest.approx(0.002835, abs=1e-5)
    assert change.significant
    assert change.verdict == "significant at 95%"


def test_a_small_change_is_not_significant():
    # b: 55 P / 15 D of 100 → 40, var .7 − .16 = .54; SE of difference √(45 + 54) = 9.949874;
    # z = 10/9.949874 = 1.005038; p = .3149
    change = d.compare(
        d.nps(promoters=60, detractors=10, n=100), d.nps(promoters=55, detractors=15, n=100)
    )

    assert change.z == pytest.approx(1.005038, abs=1e-6)
    assert change.p_value == pytest.approx(0.3149, abs=1e-4)
    assert not change.significant
    assert change.verdict == "not significant"


def test_comparisons_with_too_few_answers_say_so():
    big = d.nps(promoters=60, detractors=10, n=100)
    small = d.nps(promoters=0, detractors=10, n=10)  # −100 vs 50: huge, but only 10 answers

    change = d.compare(big, small)

    assert change.difference == pytest.approx(150.0)
    assert not change.significant
    assert change.verdict == "too few responses to tell"
    assert d.compare(big, d.nps(promoters=0, detractors=0, n=0)).verdict == "no data to compare"


def test_unanimous_periods_that_differ_are_significant():
    change = d.compare(d.proportion(hits=40, n=40), d.proportion(hits=0, n=40))

    assert change.significant and change.p_value == 0.0


def test_churn_and_retention_rates():
    # 12 customers active in March, 9 of them active in April: retention 75 %, churn 25 %
    assert d.retention_rate(retained=9, active=12).value == pytest.approx(75.0)
    churn = d.churn_rate(churned=3, active=12)
    assert churn.value == pytest.approx(25.0)
    assert churn.too_few
