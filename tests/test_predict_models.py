"""BG/NBD and Gamma-Gamma: exact likelihoods by hand formula, parameter recovery on simulated data,
and the published CDNOW results (Fader, Hardie & Lee 2005; Fader & Hardie 2013)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

import cdnow
from cxloop.predict import bgnbd, gammagamma, rfm

P = bgnbd.BGNBDParams(r=0.5, alpha=2.0, a=0.8, b=1.5)
needs_cdnow = pytest.mark.skipif(not cdnow.available(), reason=cdnow.SKIP_REASON)


def test_bgnbd_likelihood_without_repeat_purchases_is_the_nbd_survival_term():
    # given a customer with no repeat purchase: L = (α / (α + T))^r  (the Beta terms cancel)
    # when
    ll = bgnbd.log_likelihood_rows(P, [0], [0], [5.0])
    # then
    assert ll[0] == pytest.approx(0.5 * math.log(2.0 / 7.0), rel=1e-12)


def test_bgnbd_likelihood_with_repeat_purchases_matches_the_paper_formula():
    # given x = 2 repeat purchases, the last at t_x = 3, observed to T = 5 (FHL 2005, eq. 6)
    r, alpha, a, b = P.r, P.alpha, P.a, P.b
    x, t_x, T = 2, 3.0, 5.0
    nbd = math.gamma(r + x) * alpha**r / math.gamma(r)
    alive = special.beta(a, b + x) / special.beta(a, b) / (alpha + T) ** (r + x)
    dropped = special.beta(a + 1, b + x - 1) / special.beta(a, b) / (alpha + t_x) ** (r + x)
    expected = math.log(nbd * (alive + dropped))
    # when
    ll = bgnbd.log_likelihood(P, [x], [t_x], [T])
    # then
    assert ll == pytest.approx(expected, rel=1e-12)


def test_bgnbd_weights_count_rows_and_gradient_is_exact():
    # given three customers, one of them counted twice through a weight
    x, t_x, T = np.array([0.0, 1.0, 4.0]), np.array([0.0, 2.0, 4.5]), np.array([6.0, 6.0, 5.0])
    # when
    weighted = bgnbd.log_likelihood(P, x, t_x, T, weights=[1, 2, 1])
    repeated = bgnbd.log_likelihood(P, [0, 1, 1, 4], [0, 2, 2, 4.5], [6, 6, 6, 5])
    theta = np.log([P.r, P.alpha, P.a, P.b])
    data = bgnbd._Factored.build(x, t_x, T, np.array([1.0, 2.0, 1.0]))
    value, grad = bgnbd._neg_ll_and_grad(theta, data)
    numeric = optimize.approx_fprime(theta, lambda v: bgnbd._neg_ll_and_grad(v, data)[0], 1e-7)
    # then: the fit's factored likelihood is the row-by-row one, and its gradient is exact
    assert weighted == pytest.approx(repeated, rel=1e-12)
    assert -value * 4 == pytest.approx(repeated, rel=1e-12)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-7)


def test_bgnbd_p_alive_and_conditional_expectation_by_hand():
    # given x = 2, t_x = 3, T = 5
    r, alpha, a, b = P.r, P.alpha, P.a, P.b
    x, t_x, T, t = 2, 3.0, 5.0, 10.0
    p_alive = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    expected = (
        (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp) * p_alive
    )
    # when / then
    assert bgnbd.probability_alive(P, [x], [t_x], [T])[0] == pytest.approx(p_alive, rel=1e-12)
    assert bgnbd.probability_alive(P, [0], [0], [T])[0] == 1.0
    got = bgnbd.conditional_expected_purchases(P, t, [x], [t_x], [T])[0]
    assert got == pytest.approx(expected, rel=1e-12)


def test_bgnbd_expectations_agree_with_the_simulated_process():
    # given many simulated customers observed for 30 time units
    rng = np.random.default_rng(7)
    x, _ = bgnbd.simulate(P, np.full(400_000, 30.0), rng=rng)
    # when / then: E[X(30)] from eq. 9, and a brand-new customer's conditional expectation is it
    assert x.mean() == pytest.approx(bgnbd.expected_purchases(P, 30.0), rel=0.01)
    fresh = bgnbd.conditional_expected_purchases(P, 30.0, [0], [0], [0])[0]
    assert fresh == pytest.approx(bgnbd.expected_purchases(P, 30.0), rel=1e-9)


def test_bgnbd_fit_recovers_simulated_parameters():
    # given 30,000 customers drawn from known parameters, observed 20–60 time units
    truth = bgnbd.BGNBDParams(r=0.8, alpha=6.0, a=0.6, b=2.5)
    rng = np.random.default_rng(11)
    T = rng.uniform(20, 60, size=30_000)
    x, t_x = bgnbd.simulate(truth, T, rng=rng)
    # when
    fitted = bgnbd.fit(x, t_x, T)
    # then: each log-parameter within 3 standard errors of the truth
    se = np.sqrt(np.diag(fitted.log_param_cov))
    est = np.log(list(fitted.params.as_dict().values()))
    true = np.log(list(truth.as_dict().values()))
    assert fitted.converged
    assert np.all(np.abs(est - true) < 3 * se), (fitted.params, se)


def test_bgnbd_fit_rejects_inconsistent_summaries():
    with pytest.raises(ValueError, match="row 1: recency t_x must not exceed T"):
        bgnbd.fit([0, 1], [0, 7], [5, 6])
    with pytest.raises(ValueError, match="no repeat purchases"):
        bgnbd.fit([0, 0], [0, 0], [5, 6])


def test_gamma_gamma_likelihood_equals_the_integral_over_the_rate():
    # given a customer with 3 purchases averaging 20: integrate the Gamma(p·x, ν·x) density of the
    # mean over ν ~ Gamma(q, γ) numerically
    params = gammagamma.GammaGammaParams(p=2.5, q=3.0, gamma=12.0)
    x, m = 3, 20.0

    def integrand(nu: float) -> float:
        mean_density = stats.gamma.pdf(m, a=params.p * x, scale=1 / (nu * x))
        return mean_density * stats.gamma.pdf(nu, a=params.q, scale=1 / params.gamma)

    expected = math.log(integrate.quad(integrand, 0, np.inf, limit=200)[0])
    # when / then
    assert gammagamma.log_likelihood(params, [x], [m]) == pytest.approx(expected, rel=1e-7)


def test_gamma_gamma_expected_spend_by_hand_and_recovery():
    # given known parameters and simulated spend of 20,000 customers
    truth = gammagamma.GammaGammaParams(p=4.0, q=5.0, gamma=30.0)
    rng = np.random.default_rng(3)
    x = rng.integers(1, 8, size=20_000).astype(float)
    nu = rng.gamma(truth.q, 1 / truth.gamma, size=x.size)
    m = rng.gamma(truth.p * x, 1 / (nu * x))
    # when
    fitted = gammagamma.fit(x, m)
    # then
    assert fitted.params.p == pytest.approx(truth.p, rel=0.1)
    assert fitted.params.q == pytest.approx(truth.q, rel=0.1)
    assert fitted.params.gamma == pytest.approx(truth.gamma, rel=0.1)
    p, q, g = 4.0, 5.0, 30.0
    by_hand = (q - 1) / (p * 2 + q - 1) * p * g / (q - 1) + p * 2 / (p * 2 + q - 1) * 50.0
    assert gammagamma.conditional_expected_spend(truth, [2], [50.0])[0] == pytest.approx(by_hand)
    assert gammagamma.conditional_expected_spend(truth, [0], [0])[0] == pytest.approx(
        p * g / (q - 1)
    )


def test_discounted_value_sums_discounted_increments():
    # given a 3-step horizon and 10% per step
    spend = np.array([40.0])
    got = bgnbd.discounted_value(
        P, [2], [3.0], [5.0], spend=spend, horizon=30.0, step=10.0, discount_per_step=0.1
    )
    cum = [bgnbd.conditional_expected_purchases(P, t, [2], [3.0], [5.0])[0] for t in (10, 20, 30)]
    by_hand = 40 * (cum[0] / 1.1 + (cum[1] - cum[0]) / 1.1**2 + (cum[2] - cum[1]) / 1.1**3)
    assert got[0] == pytest.approx(by_hand, rel=1e-12)


def test_rfm_summary_merges_same_day_purchases():
    # given customer 1 buying on days 0, 0, 3 and 9 (after the cut-off), customer 2 once on day 4
    summary = rfm.rfm_summary(
        [1, 1, 1, 1, 2], [0, 0.5, 3, 9, 4], [10, 5, 20, 99, 7], cutoff_day=7, unit=1
    )
    # then
    assert summary.customer.tolist() == [1, 2]
    assert summary.x.tolist() == [1, 0]
    assert summary.t_x.tolist() == [3, 0]
    assert summary.T.tolist() == [7, 3]
    assert summary.monetary.tolist() == [20, 0]
    assert summary.first_amount.tolist() == [15, 7]


@needs_cdnow
def test_cdnow_summary_built_from_transactions_matches_the_published_summary():
    customer, day, amount = cdnow.transactions()
    published = cdnow.summary()
    ours = rfm.rfm_summary(customer, day, amount, cutoff_day=cdnow.CALIBRATION_END, unit=7)
    assert ours.customer.size == 2357
    np.testing.assert_array_equal(ours.x, published["frequency"])
    # the published file rounds weeks to 2 decimals
    np.testing.assert_allclose(ours.t_x, published["recency"], atol=0.005)
    np.testing.assert_allclose(ours.T, published["T"], atol=0.005)


@needs_cdnow
def test_cdnow_bgnbd_parameters_match_the_paper():
    # Fader, Hardie & Lee (2005): r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL = −9582.4
    published = cdnow.summary()
    fitted = bgnbd.fit(published["frequency"], published["recency"], published["T"])
    assert fitted.converged
    assert round(fitted.params.r, 3) == 0.243
    assert round(fitted.params.alpha, 3) == 4.414
    assert round(fitted.params.a, 3) == 0.793
    assert round(fitted.params.b, 3) == 2.426
    assert round(fitted.log_likelihood, 1) == -9582.4


@needs_cdnow
def test_cdnow_gamma_gamma_parameters_match_the_note():
    # Fader & Hardie (2013): 946 repeat buyers, p = 6.25, q = 3.74, γ = 15.44 (average value of
    # the repeat purchases in weeks 1–39, from the unrounded transaction amounts)
    customer, day, amount = cdnow.transactions()
    summary = rfm.rfm_summary(customer, day, amount, cutoff_day=cdnow.CALIBRATION_END, unit=7)
    fitted = gammagamma.fit(summary.x, summary.monetary)
    assert fitted.n_customers == 946
    assert round(fitted.params.p, 2) == 6.25
    assert round(fitted.params.q, 2) == 3.74
    assert round(fitted.params.gamma, 2) == 15.44


@needs_cdnow
def test_cdnow_holdout_conditional_expectations_track_actual_purchases():
    # given the calibration fit (weeks 1–39) and the actual purchases in weeks 40–78
    customer, day, amount = cdnow.transactions()
    summary = rfm.rfm_summary(customer, day, amount, cutoff_day=cdnow.CALIBRATION_END, unit=7)
    fitted = bgnbd.fit(summary.x, summary.t_x, summary.T)
    holdout = rfm.purchase_days_between(
        customer, day, after_day=cdnow.CALIBRATION_END, up_to_day=cdnow.HOLDOUT_END
    )
    actual = np.array([holdout.get(c, 0) for c in summary.customer.tolist()], dtype=float)
    # when
    predicted = bgnbd.conditional_expected_purchases(
        fitted.params, 39.0, summary.x, summary.t_x, summary.T
    )
    groups = [summary.x == k for k in range(7)] + [summary.x >= 7]
    pred_means = np.array([predicted[g].mean() for g in groups])
    actual_means = np.array([actual[g].mean() for g in groups])
    # then: like FHL 2005 (Fig. 4), the expectations rise with calibration frequency as the actuals
    # do and stay close to them (the paper's model also under-forecasts the x = 1 and 2 groups)
    assert np.all(np.diff(pred_means) > 0) and np.all(np.diff(actual_means) > 0)
    np.testing.assert_allclose(pred_means, actual_means, rtol=0.3, atol=0.05)
    assert predicted.sum() == pytest.approx(actual.sum(), rel=0.15)
    # the no-repeat group, 60 % of the cohort, is forecast to within 10 %
    assert pred_means[0] == pytest.approx(actual_means[0], rel=0.1)


def test_quadrature_fallback_matches_the_closed_form_and_survives_huge_r():
    # given ordinary parameters: the quadrature and FHL's 2F1 expression agree
    x, T, t = np.array([0.0, 1, 3, 12]), np.array([5.0, 30, 40, 52]), 39.0
    closed = bgnbd.conditional_expected_purchases(P, t, x, np.minimum(T, x * 3), T)
    alive = bgnbd.probability_alive(P, x, np.minimum(T, x * 3), T)
    quad = bgnbd.alive_expected_purchases(P, t, x, T) * alive
    np.testing.assert_allclose(quad, closed, rtol=1e-8)
    # and a nearly Poisson population (r, α → ∞ with r/α fixed), where 2F1 overflows: the
    # expectation tends to the Poisson-with-drop-out value, finite and positive
    huge = bgnbd.BGNBDParams(r=7e4, alpha=3.2e6, a=0.36, b=1.8)
    got = bgnbd.conditional_expected_purchases(huge, 120.0, [0, 2], [0, 50.0], [90.0, 90.0])
    assert np.isfinite(got).all() and (got > 0).all()
    lam = 7e4 / 3.2e6
    # x = 0 never drops out before buying again: E ≤ λ t, and close to it
    assert got[0] <= lam * 120 and got[0] > 0.5 * lam * 120


def test_gamma_gamma_fit_likelihood_and_gradient_match_the_row_formula():
    # given a few repeat buyers
    x, m = np.array([1.0, 2, 2, 5]), np.array([10.0, 35, 12.5, 20])
    params = gammagamma.GammaGammaParams(p=3.0, q=2.5, gamma=18.0)
    data = gammagamma._Factored.build(x, m)
    theta = np.log([3.0, 2.5, 18.0])
    # when
    value, grad = gammagamma._neg_ll_and_grad(theta, data)
    numeric = optimize.approx_fprime(theta, lambda v: gammagamma._neg_ll_and_grad(v, data)[0], 1e-7)
    # then
    assert -value * 4 == pytest.approx(gammagamma.log_likelihood(params, x, m), rel=1e-12)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-7)


def test_large_fits_via_a_sample_reach_the_same_optimum(monkeypatch):
    # given 60,000 simulated customers (above the sample threshold) and their spend
    rng = np.random.default_rng(21)
    T = rng.integers(1, 365, size=60_000).astype(float)
    x, t_x = bgnbd.simulate(bgnbd.BGNBDParams(r=0.7, alpha=25.0, a=0.8, b=2.5), T, rng=rng)
    t_x = np.where(x > 0, np.clip(np.ceil(t_x), 1, T), 0.0)
    m = np.where(x > 0, rng.gamma(4.0, 10.0, size=x.size), 0.0)
    # when: fitted through a sample + Newton steps, and by L-BFGS-B on everything
    quick, spend_quick = bgnbd.fit(x, t_x, T), gammagamma.fit(x, m)
    monkeypatch.setattr("cxloop.predict._mle.SAMPLE_ROWS", 10**9)
    plain, spend_plain = bgnbd.fit(x, t_x, T), gammagamma.fit(x, m)
    # then
    for a, b in ((quick.params, plain.params), (spend_quick.params, spend_plain.params)):
        np.testing.assert_allclose(
            list(a.as_dict().values()), list(b.as_dict().values()), rtol=1e-5
        )
    assert quick.log_likelihood == pytest.approx(plain.log_likelihood, abs=1e-3)
    np.testing.assert_allclose(quick.log_param_cov, plain.log_param_cov, rtol=0.1, atol=1e-6)


def test_a_clv_interval_leaves_out_draws_where_a_parameter_overflows():
    # given: a fit at a boundary (a huge, b tiny: nobody drops out) with a wide covariance, so
    # some draws of the log-parameters overflow a to inf or underflow b to where Beta(a, b + x)
    # has no quadrature (seen on a 40-customer demo: a = inf, b = 4e-65)
    from cxloop.predict import rfm, scoring

    params = bgnbd.BGNBDParams(r=2.8, alpha=58.0, a=1e300, b=1e-8)
    cov = np.diag([0.01, 0.01, 400.0, 100.0])
    fit = bgnbd.BGNBDFit(params, -100.0, 3, True, cov)
    summary = rfm.RFM(
        customer=np.array([1, 2, 3]), x=np.array([0.0, 2.0, 5.0]),
        t_x=np.array([0.0, 40.0, 90.0]), T=np.array([100.0, 100.0, 100.0]),
        monetary=np.array([0.0, 20.0, 30.0]), first_amount=np.array([10.0, 20.0, 30.0]),
        last_day=np.array([0, 40, 90]),
    )  # fmt: skip
    draws = np.random.default_rng(0).multivariate_normal(
        np.log([2.8, 58.0, 1e300, 1e-8]), cov, 50, method="eigh"
    )
    with np.errstate(over="ignore"):
        wild = ~(np.isfinite(np.exp(draws)) & (np.exp(draws) >= 1e-12)).all(axis=1)
    assert 0 < wild.sum() < 50  # some draws leave the plausible range, not all
    # when
    low, high = scoring._clv_interval(
        fit, None, summary, np.array([10.0, 20.0, 30.0]), horizon=365, discount=0.01, draws=50
    )
    # then: an interval from the plausible draws, finite and ordered
    assert np.isfinite(low).all() and np.isfinite(high).all()
    assert (low <= high).all()


def test_a_clv_interval_leaves_out_spend_draws_with_no_finite_mean():
    # given: a Gamma-Gamma fit with q just above 1 and a wide covariance, so some draws have
    # q <= 1, where the population mean spend p·γ/(q − 1) is infinite or negative
    from cxloop.predict import rfm, scoring

    fit = bgnbd.BGNBDFit(
        bgnbd.BGNBDParams(r=0.5, alpha=10.0, a=0.8, b=2.5), -100.0, 3, True, np.eye(4) * 1e-4
    )
    spend_cov = np.diag([1e-4, 0.25, 1e-4])
    spend_fit = gammagamma.GammaGammaFit(
        gammagamma.GammaGammaParams(p=6.0, q=1.2, gamma=15.0), -50.0, 3, True, spend_cov
    )
    draws = np.random.default_rng(0).multivariate_normal(
        np.log([6.0, 1.2, 15.0]), spend_cov, 50, method="eigh"
    )
    assert 0 < (np.exp(draws[:, 1]) <= 1).sum() < 50
    summary = rfm.RFM(
        customer=np.array([1, 2]), x=np.array([0.0, 3.0]), t_x=np.array([0.0, 60.0]),
        T=np.array([100.0, 100.0]), monetary=np.array([0.0, 25.0]),
        first_amount=np.array([20.0, 25.0]), last_day=np.array([0, 60]),
    )  # fmt: skip
    # when
    low, high = scoring._clv_interval(
        fit, spend_fit, summary, np.array([20.0, 25.0]), horizon=365, discount=0.01, draws=50
    )
    # then: no negative or infinite value from those draws
    assert np.isfinite(low).all() and np.isfinite(high).all()
    assert (low >= 0).all() and (low <= high).all()
