"""Gamma-Gamma spend model, vectorised NumPy/SciPy.

Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value". A customer's spend per
purchase is Gamma(p, ν) around their own mean, ν ~ Gamma(q, γ) across customers. Fitted on
customers with at least one repeat purchase: ``x`` repeat purchases and their average value
``m`` (independence of spend and frequency is assumed, as in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from cxloop.predict import _mle

Array = NDArray[np.float64]


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float

    def as_dict(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}


@dataclass(frozen=True)
class GammaGammaFit:
    params: GammaGammaParams
    log_likelihood: float
    n_customers: int
    converged: bool
    log_param_cov: Array  # 3×3, inverse Hessian of −LL in (log p, log q, log γ)


def _arrays(x: ArrayLike, m: ArrayLike) -> tuple[Array, Array]:
    xs = np.asarray(x, dtype=np.float64)
    ms = np.asarray(m, dtype=np.float64)
    if xs.shape != ms.shape:
        raise ValueError("x and m must have the same length")
    return xs, ms


def log_likelihood_rows(params: GammaGammaParams, x: ArrayLike, m: ArrayLike) -> Array:
    """ln f(m | p, q, γ; x): density of a customer's mean spend over ``x`` purchases."""
    xs, ms = _arrays(x, m)
    p, q, g = params.p, params.q, params.gamma
    px = p * xs
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(g)
        + (px - 1) * np.log(ms)
        + px * np.log(xs)
        - (px + q) * np.log(g + xs * ms)
    )


def log_likelihood(params: GammaGammaParams, x: ArrayLike, m: ArrayLike) -> float:
    return float(log_likelihood_rows(params, x, m).sum())


@dataclass(frozen=True)
class _Factored:
    """Sums that do not change with the parameters, the distinct x with their counts (for the
    gamma functions), and per customer x and x·m (for the one term that does change)."""

    xu: Array
    nx: Array
    x: Array
    xm: Array
    sum_x_log_m: float
    sum_log_m: float
    sum_x_log_x: float
    total: float

    @classmethod
    def build(cls, x: Array, m: Array) -> _Factored:
        xu, counts = np.unique(x, return_counts=True)
        log_m = np.log(m)
        return cls(
            xu=xu,
            nx=counts.astype(np.float64),
            x=x,
            xm=x * m,
            sum_x_log_m=float(x @ log_m),
            sum_log_m=float(log_m.sum()),
            sum_x_log_x=float(x @ np.log(x)),
            total=float(x.size),
        )


def _neg_ll_and_grad(log_theta: Array, d: _Factored) -> tuple[float, Array]:
    """−LL/total and its gradient in log-parameters."""
    p, q, g = np.exp(log_theta)
    pxu = p * d.xu
    psi_pxq = special.digamma(pxu + q)
    log_gxm = np.log(g + d.xm)
    inv_gxm = 1 / (g + d.xm)
    sum_l, sum_xl = float(log_gxm.sum()), float(d.x @ log_gxm)
    ll = (
        d.nx @ (special.gammaln(pxu + q) - special.gammaln(pxu))
        - d.total * special.gammaln(q)
        + d.total * q * np.log(g)
        + p * d.sum_x_log_m
        - d.sum_log_m
        + p * d.sum_x_log_x
        - p * sum_xl
        - q * sum_l
    )
    d_p = d.nx @ (d.xu * (psi_pxq - special.digamma(pxu))) + d.sum_x_log_m + d.sum_x_log_x - sum_xl
    d_q = d.nx @ psi_pxq - d.total * special.digamma(q) + d.total * np.log(g) - sum_l
    d_g = d.total * q / g - p * float(d.x @ inv_gxm) - q * float(inv_gxm.sum())
    if not np.isfinite(ll):
        return np.inf, np.zeros(3)
    grad = np.array([d_p * p, d_q * q, d_g * g])
    return -float(ll) / d.total, -grad / d.total


def fit(x: ArrayLike, m: ArrayLike) -> GammaGammaFit:
    """Maximum-likelihood fit on customers with ``x`` >= 1 and mean spend ``m`` > 0 (rows with
    x = 0 are ignored: they carry no spend information)."""
    xs, ms = _arrays(x, m)
    keep = xs > 0
    xs, ms = xs[keep], ms[keep]
    if xs.size == 0:
        raise ValueError("no customer with a repeat purchase: the spend model cannot be fitted")
    if not (np.isfinite(ms).all() and (ms > 0).all()):
        row = int(np.argmax(~(np.isfinite(ms) & (ms > 0))))
        raise ValueError(f"repeat buyer {row}: average spend must be a positive number")
    data = _Factored.build(xs, ms)
    sample = None
    if xs.size > _mle.SAMPLE_ROWS:
        pick = np.random.default_rng(0).choice(xs.size, _mle.SAMPLE_ROWS, replace=False)
        sample = partial(_neg_ll_and_grad, d=_Factored.build(xs[pick], ms[pick]))
    at, value, converged, hess = _mle.fit(
        partial(_neg_ll_and_grad, d=data),
        np.log([1.0, 2.0, float(ms.mean())]),
        rows=xs.size,
        sample=sample,
    )
    return GammaGammaFit(
        params=GammaGammaParams(*(float(v) for v in np.exp(at))),
        log_likelihood=-value * data.total,
        n_customers=int(data.total),
        converged=converged,
        log_param_cov=_mle.covariance(hess, data.total),
    )


def conditional_expected_spend(params: GammaGammaParams, x: ArrayLike, m: ArrayLike) -> Array:
    """E[spend per purchase | x, m]: a weighted mean of the population mean p·γ/(q−1) and the
    customer's own average (customers with x = 0 get the population mean)."""
    xs, ms = _arrays(x, m)
    p, q, g = params.p, params.q, params.gamma
    ms = np.where(xs > 0, ms, 0.0)
    return p * (g + xs * ms) / (p * xs + q - 1)


def population_mean_spend(params: GammaGammaParams) -> float:
    """E[spend per purchase] for a customer we know nothing about (infinite when q <= 1)."""
    if params.q <= 1:
        return float("inf")
    return params.p * params.gamma / (params.q - 1)
