"""Fit BG/NBD + Gamma-Gamma on a purchase log as of a day and score every customer (pure NumPy).

Times are whole days. Besides the scores, ``score_purchases`` checks the model the way Fader,
Hardie & Lee do: fit on a calibration period, forecast the holdout that follows, and compare
with the purchases actually made there, per calibration-frequency group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cxloop.predict import bgnbd, gammagamma, rfm

Array = NDArray[np.float64]
MIN_REPEAT_BUYERS = 100  # below this the parameters are too uncertain to trust (a warning)
STEP_DAYS = 30.0
INTERVAL_DRAWS = 50
FREQUENCY_GROUPS = 8  # 0, 1, ..., 6, 7+


@dataclass(frozen=True)
class Scores:
    """Per-customer predictions, aligned with ``customer``."""

    customer: NDArray[np.int64]
    p_alive: Array
    expected_30: Array
    expected_90: Array
    expected_365: Array
    expected_spend: Array
    clv: Array
    clv_low: Array
    clv_high: Array
    summary: rfm.RFM


@dataclass
class Outcome:
    scores: Scores | None
    parameters: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    customers: int = 0
    repeat_buyers: int = 0
    purchases: int = 0


def _spend_model(
    summary: rfm.RFM, warnings: list[str]
) -> tuple[gammagamma.GammaGammaFit | None, Array]:
    """Expected spend per purchase for each customer, and the fit (None when it could not be
    fitted: then everyone gets the average purchase amount)."""
    repeat = summary.x > 0
    positive = repeat & (summary.monetary > 0)
    fallback = float(np.mean(np.concatenate([summary.first_amount, summary.monetary[repeat]])))
    if positive.sum() < 2:
        warnings.append("Too few repeat buyers with amounts to fit the spend model.")
        return None, np.full(summary.x.size, fallback)
    try:
        fitted = gammagamma.fit(summary.x[positive], summary.monetary[positive])
    except ValueError as exc:
        warnings.append(f"Spend model not fitted: {exc}")
        return None, np.full(summary.x.size, fallback)
    if fitted.params.q <= 1:
        warnings.append(
            "Spend model: q <= 1 (very uneven spend), the population mean spend is undefined."
        )
    if positive.sum() >= 10:
        corr = float(np.corrcoef(summary.x[positive], summary.monetary[positive])[0, 1])
        if abs(corr) > 0.3:
            warnings.append(
                f"Spend and purchase frequency correlate ({corr:.2f}); the Gamma-Gamma model "
                "assumes they do not, so CLV may be biased."
            )
    m = np.where(positive, summary.monetary, 0.0)
    x = np.where(positive, summary.x, 0.0)
    return fitted, gammagamma.conditional_expected_spend(fitted.params, x, m)


def _clv_interval(
    fit: bgnbd.BGNBDFit,
    spend_fit: gammagamma.GammaGammaFit | None,
    summary: rfm.RFM,
    spend: Array,
    *,
    horizon: float,
    discount: float,
    draws: int,
) -> tuple[Array, Array]:
    """5th and 95th percentiles of CLV over parameter draws from the fits' (Laplace)
    posterior: the uncertainty of the estimates, not of each customer's behaviour."""
    cov = fit.log_param_cov
    if draws <= 0 or not _usable_cov(cov):
        return np.full(spend.size, np.nan), np.full(spend.size, np.nan)
    rng = np.random.default_rng(0)
    centre = np.log(list(fit.params.as_dict().values()))
    samples = rng.multivariate_normal(centre, cov, size=draws, method="eigh")
    spend_samples = None
    if spend_fit is not None and _usable_cov(spend_fit.log_param_cov):
        spend_centre = np.log(list(spend_fit.params.as_dict().values()))
        spend_samples = rng.multivariate_normal(
            spend_centre, spend_fit.log_param_cov, size=draws, method="eigh"
        )
    positive = (summary.x > 0) & (summary.monetary > 0)
    m = np.where(positive, summary.monetary, 0.0)
    x_spend = np.where(positive, summary.x, 0.0)
    values = np.empty((draws, spend.size))
    for i in range(draws):
        with np.errstate(over="ignore"):
            params = bgnbd.BGNBDParams(*(float(v) for v in np.exp(samples[i])))
        if not _plausible(params.as_dict().values()):
            # a draw far in the tail of a flat likelihood (a fit at a boundary on small data):
            # a parameter overflows to inf or underflows to where the model has no value
            values[i] = np.nan
            continue
        drawn_spend = spend
        if spend_samples is not None:
            with np.errstate(over="ignore"):
                gg = gammagamma.GammaGammaParams(*(float(v) for v in np.exp(spend_samples[i])))
            if not _plausible(gg.as_dict().values()) or gg.q <= 1:
                values[i] = np.nan  # mean spend is finite only for q > 1
                continue
            drawn_spend = gammagamma.conditional_expected_spend(gg, x_spend, m)
        values[i] = bgnbd.discounted_value(
            params,
            summary.x,
            summary.t_x,
            summary.T,
            spend=drawn_spend,
            horizon=horizon,
            step=STEP_DAYS,
            discount_per_step=discount,
        )
    if np.isnan(values).all():
        return np.full(spend.size, np.nan), np.full(spend.size, np.nan)
    low, high = np.nanpercentile(values, [5, 95], axis=0)
    return low, high


SMALLEST = 1e-12  # below this a − 1 or b − 1 is −1 in floating point: Beta(a, b) has no value


def _plausible(values) -> bool:
    """Parameters the model can be evaluated at: finite, none below ``SMALLEST``."""
    return all(np.isfinite(v) and v >= SMALLEST for v in values)


def _usable_cov(cov: Array) -> bool:
    """A finite, positive-definite covariance (a flat likelihood gives neither)."""
    return bool(np.isfinite(cov).all() and np.linalg.eigvalsh(cov).min() > 0)


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has neither)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def holdout_check(
    customer: ArrayLike, day: ArrayLike, amount: ArrayLike, *, as_of_day: float
) -> dict[str, Any]:
    """Fit on all but the last third of the history (at most a year held out), forecast the
    held-out period and compare with actual purchases per calibration-frequency group."""
    days = np.floor(np.asarray(day, dtype=np.float64))
    span = as_of_day - float(days.min()) if days.size else 0.0
    holdout = float(min(365, round(span / 3)))
    if holdout < 14:
        return {"error": "Less than six weeks of history: no holdout check."}
    cut = as_of_day - holdout
    summary = rfm.rfm_summary(customer, days, amount, cutoff_day=cut)
    if not (summary.x > 0).any():
        return {"error": "No repeat purchase before the holdout period: no holdout check."}
    fitted = bgnbd.fit(summary.x, summary.t_x, summary.T)
    actual_by_customer = rfm.purchase_days_between(
        customer, days, after_day=cut, up_to_day=as_of_day
    )
    actual = np.array([actual_by_customer.get(c, 0) for c in summary.customer.tolist()], float)
    predicted = bgnbd.conditional_expected_purchases(
        fitted.params, holdout, summary.x, summary.t_x, summary.T
    )
    groups = []
    for k in range(FREQUENCY_GROUPS):
        last = k == FREQUENCY_GROUPS - 1
        mask = summary.x >= k if last else summary.x == k
        if mask.any():
            groups.append(
                {
                    "frequency": f"{k}+" if last else str(k),
                    "customers": int(mask.sum()),
                    "predicted": float(predicted[mask].mean()),
                    "actual": float(actual[mask].mean()),
                }
            )
    return {
        "calibration_days": float(cut - float(days.min())),
        "holdout_days": holdout,
        "calibration_end_day": cut,
        "customers": int(summary.customer.size),
        "groups": groups,
        "predicted_total": float(predicted.sum()),
        "actual_total": float(actual.sum()),
        "parameters": fitted.params.as_dict(),
    }


def score_purchases(
    customer: ArrayLike,
    day: ArrayLike,
    amount: ArrayLike,
    *,
    as_of_day: float,
    horizon_days: float = 365.0,
    annual_discount: float = 0.10,
    interval_draws: int = INTERVAL_DRAWS,
) -> Outcome:
    """Fit both models on purchases up to ``as_of_day`` and score every buyer."""
    summary = rfm.rfm_summary(customer, day, amount, cutoff_day=as_of_day)
    outcome = Outcome(
        scores=None,
        customers=int(summary.customer.size),
        repeat_buyers=int((summary.x > 0).sum()),
        purchases=int((summary.x + 1).sum()),
    )
    if outcome.repeat_buyers == 0:
        outcome.warnings.append(
            "No customer has bought twice: the purchase model cannot be fitted yet."
        )
        return outcome
    if outcome.repeat_buyers < MIN_REPEAT_BUYERS:
        outcome.warnings.append(
            f"Only {outcome.repeat_buyers} repeat buyers (fewer than {MIN_REPEAT_BUYERS}): "
            "predictions are rough."
        )
    fit = bgnbd.fit(summary.x, summary.t_x, summary.T)
    if not fit.converged:
        outcome.warnings.append("The purchase model's fit did not converge.")
    spend_fit, spend = _spend_model(summary, outcome.warnings)
    discount = (1 + annual_discount) ** (STEP_DAYS / 365.0) - 1
    clv = bgnbd.discounted_value(
        fit.params,
        summary.x,
        summary.t_x,
        summary.T,
        spend=spend,
        horizon=horizon_days,
        step=STEP_DAYS,
        discount_per_step=discount,
    )
    low, high = _clv_interval(
        fit,
        spend_fit,
        summary,
        spend,
        horizon=horizon_days,
        discount=discount,
        draws=interval_draws,
    )
    expected = {
        t: bgnbd.conditional_expected_purchases(fit.params, t, summary.x, summary.t_x, summary.T)
        for t in (30, 90, 365)
    }
    outcome.scores = Scores(
        customer=summary.customer,
        p_alive=bgnbd.probability_alive(fit.params, summary.x, summary.t_x, summary.T),
        expected_30=expected[30],
        expected_90=expected[90],
        expected_365=expected[365],
        expected_spend=spend,
        clv=clv,
        clv_low=np.minimum(low, clv),
        clv_high=np.maximum(high, clv),
        summary=summary,
    )
    outcome.parameters = {
        "bgnbd": {**fit.params.as_dict(), "log_likelihood": fit.log_likelihood, "unit": "day"},
        "gamma_gamma": (
            {**spend_fit.params.as_dict(), "log_likelihood": spend_fit.log_likelihood}
            if spend_fit
            else None
        ),
        "horizon_days": horizon_days,
        "annual_discount": annual_discount,
    }
    try:
        holdout = holdout_check(customer, day, amount, as_of_day=as_of_day)
    except ValueError as exc:
        holdout = {"error": f"Holdout check not possible: {exc}"}
    outcome.validation["holdout"] = json_safe(holdout)
    outcome.parameters = json_safe(outcome.parameters)
    return outcome
