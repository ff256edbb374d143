"""Gamma-Gamma spend model, vectorised NumPy/SciPy.

Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value". A customer's spend per
purchase is Gamma(p, ν) around their own mean, ν ~ Gamma(q, γ) across customers. Fitted on
customers with at least one repeat purchase: ``x`` repeat purchases and their average value
``m`` (independence of spend and frequency is assumed, as in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from cxloop.predict import bgnbd

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


def _neg_ll_and_grad(
    log_theta: Array, x: Array, m: Array, log_x: Array, log_m: Array, total: float
) -> tuple[float, Array]:
    p, q, g = np.exp(log_theta)
    px = p * x
    log_gxm = np.log(g + x * m)
    psi_pxq = special.digamma(px + q)
    ll = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(g)
        + (px - 1) * log_m
        + px * log_x
        - (px + q) * log_gxm
    )
    d_p = x * (psi_pxq - special.digamma(px) + log_m + log_x - log_gxm)
    d_q = psi_pxq - special.digamma(q) + np.log(g) - log_gxm
    d_g = q / g - (px + q) / (g + x * m)
    value = float(ll.sum())
    if not np.isfinite(value):
        return np.inf, np.zeros(3)
    grad = np.array([d_p.sum() * p, d_q.sum() * q, d_g.sum() * g])
    return -value / total, -grad / total


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
    total = float(xs.size)
    mean = float(ms.mean())
    x0 = np.log([1.0, 2.0, mean])
    result = optimize.minimize(
        _neg_ll_and_grad,
        x0,
        args=(xs, ms, np.log(xs), np.log(ms), total),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-15.0, 15.0)] * 3,
        options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9},
    )
    params = GammaGammaParams(*(float(v) for v in np.exp(result.x)))
    args = (xs, ms, np.log(xs), np.log(ms), total)
    cov = bgnbd.inverse_hessian(lambda v: _neg_ll_and_grad(v, *args)[1], result.x, scale=total)
    return GammaGammaFit(
        params=params,
        log_likelihood=-float(result.fun) * total,
        n_customers=int(total),
        converged=bool(result.success),
        log_param_cov=cov,
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
