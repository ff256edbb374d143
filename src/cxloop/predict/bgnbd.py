"""BG/NBD ("beta-geometric / negative binomial") purchase model, vectorised NumPy/SciPy.

Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science 24(2).
Each customer buys at a Poisson rate λ ~ Gamma(r, α) while alive and, after each repeat purchase,
drops out for good with probability p ~ Beta(a, b). Per customer we see ``x`` repeat purchases,
the time of the last one ``t_x`` and the length of observation ``T`` (all from the first purchase,
in any time unit; α is in that unit).

Pure functions on arrays; no Django. Rows may carry integer ``weights`` (identical customers
counted once), which is how 1,000,000 customers with day-resolution data fit in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from cxloop.predict import _mle

Array = NDArray[np.float64]
NAMES = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class BGNBDParams:
    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


@dataclass(frozen=True)
class BGNBDFit:
    """A fitted model: parameters, total log-likelihood, covariance of the log-parameters."""

    params: BGNBDParams
    log_likelihood: float
    n_customers: int
    converged: bool
    log_param_cov: Array  # 4×4, inverse Hessian of −LL in (log r, log α, log a, log b)


def _arrays(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> tuple[Array, Array, Array]:
    xs = np.asarray(x, dtype=np.float64)
    txs = np.asarray(t_x, dtype=np.float64)
    Ts = np.asarray(T, dtype=np.float64)
    return xs, txs, Ts


def validate_rfm(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> None:
    """Raise ``ValueError`` naming the first inconsistent summary (negative, t_x > T, ...)."""
    xs, txs, Ts = _arrays(x, t_x, T)
    if not (xs.shape == txs.shape == Ts.shape):
        raise ValueError("x, t_x and T must have the same length")
    checks = (
        (~np.isfinite(xs) | ~np.isfinite(txs) | ~np.isfinite(Ts), "values must be finite"),
        (xs < 0, "frequency x must be >= 0"),
        (xs != np.round(xs), "frequency x must be a whole number"),
        (txs < 0, "recency t_x must be >= 0"),
        (txs > Ts, "recency t_x must not exceed T"),
        ((xs == 0) & (txs != 0), "t_x must be 0 when x is 0"),
        ((xs > 0) & (txs <= 0), "t_x must be > 0 when x > 0"),
    )
    for bad, message in checks:
        if bad.any():
            row = int(np.argmax(bad))
            raise ValueError(f"row {row}: {message}")


def _terms(
    params: Array, x: Array, t_x: Array, T: Array
) -> tuple[Array, Array, Array, NDArray[np.bool_]]:
    """A12 = ln of the common factor, A3/A4 = ln of the two likelihood branches (per row)."""
    r, alpha, a, b = params
    a12 = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            repeat,
            np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return np.asarray(a12), np.asarray(a3), np.asarray(a4), repeat


def log_likelihood_rows(params: BGNBDParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """ln L(r, α, a, b | x, t_x, T) for each customer (FHL 2005, eq. 6)."""
    xs, txs, Ts = _arrays(x, t_x, T)
    theta = np.array([params.r, params.alpha, params.a, params.b])
    a12, a3, a4, _ = _terms(theta, xs, txs, Ts)
    return a12 + np.logaddexp(a3, a4)


def log_likelihood(
    params: BGNBDParams,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    """Total log-likelihood over customers (each row counted ``weights`` times)."""
    rows = log_likelihood_rows(params, x, t_x, T)
    if weights is None:
        return float(rows.sum())
    return float(np.dot(rows, np.asarray(weights, dtype=np.float64)))


def _distinct(values: Array) -> tuple[Array, NDArray[np.intp]]:
    """Sorted distinct values and each value's index among them (``np.unique`` with
    ``return_inverse``), without sorting when the values are small whole numbers (days)."""
    if values.size and values.min() >= 0 and values.max() < 1e6:
        codes = values.astype(np.int64)
        if np.array_equal(codes, values):
            present = np.flatnonzero(np.bincount(codes))
            index = np.zeros(int(codes.max()) + 1, dtype=np.intp)
            index[present] = np.arange(present.size)
            return present.astype(np.float64), index[codes]
    distinct, inverse = np.unique(values, return_inverse=True)
    return distinct, inverse.reshape(-1)


@dataclass(frozen=True)
class _Factored:
    """The data as the likelihood needs it: customers without repeat purchases summed per T;
    repeat buyers merged into distinct (x, t_x, T) rows that index small tables of the distinct
    x, t_x and T values (so gammaln, digamma and log run on hundreds of values, not millions)."""

    T0: Array  # distinct T of the x = 0 customers
    w0: Array  # how many x = 0 customers have each
    xu: Array  # distinct x > 0
    wx: Array  # repeat buyers per distinct x
    txu: Array  # distinct t_x of repeat buyers
    Tu: Array  # distinct T of repeat buyers
    x_id: NDArray[np.intp]  # per distinct row: index into xu, txu, Tu
    tx_id: NDArray[np.intp]
    T_id: NDArray[np.intp]
    xr: Array  # per distinct row: its x
    w: Array  # per distinct row: its weight
    total: float

    @classmethod
    def build(cls, x: Array, t_x: Array, T: Array, weights: Array) -> _Factored:
        none = x == 0
        T0, inv0 = _distinct(T[none])
        w0 = np.bincount(inv0, weights=weights[none], minlength=T0.size).astype(np.float64)
        xs, txs, Ts, ws = x[~none], t_x[~none], T[~none], weights[~none]
        xu, x_id = _distinct(xs)
        txu, tx_id = _distinct(txs)
        Tu, T_id = _distinct(Ts)
        if xu.size * txu.size * Tu.size < 2**62:
            key = (x_id.astype(np.int64) * txu.size + tx_id) * Tu.size + T_id
            keys, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            w = np.bincount(inverse.reshape(-1), weights=ws, minlength=keys.size).astype(np.float64)
            x_id, tx_id, T_id = x_id[first], tx_id[first], T_id[first]
        else:
            w = ws
        wx = np.bincount(x_id, weights=w, minlength=xu.size).astype(np.float64)
        return cls(
            T0=T0,
            w0=w0,
            xu=xu,
            wx=wx,
            txu=txu,
            Tu=Tu,
            x_id=x_id,
            tx_id=tx_id,
            T_id=T_id,
            xr=xu[x_id],
            w=w,
            total=float(weights.sum()),
        )


def _neg_ll_and_grad(log_theta: Array, d: _Factored) -> tuple[float, Array]:
    """−LL/total and its gradient in log-parameters (analytic: the fit needs no autodiff)."""
    theta = np.exp(log_theta)
    r, alpha, a, b = theta
    log_alpha = np.log(alpha)
    # customers without a repeat purchase: ln L = r ln α − r ln(α + T)
    log_at0 = np.log(alpha + d.T0)
    ll = d.w0.sum() * r * log_alpha - r * (d.w0 @ log_at0)
    g_r = d.w0.sum() * log_alpha - d.w0 @ log_at0
    g_alpha = d.w0.sum() * r / alpha - r * (d.w0 @ (1 / (alpha + d.T0)))
    g_a = 0.0
    g_b = 0.0
    if d.xu.size:
        xu = d.xu
        psi_ab, psi_abx = special.digamma(a + b), special.digamma(a + b + xu)
        common = (
            special.gammaln(r + xu)
            - special.gammaln(r)
            + r * log_alpha
            + special.gammaln(a + b)
            + special.gammaln(b + xu)
            - special.gammaln(b)
            - special.gammaln(a + b + xu)
        )
        c4 = np.log(a) - np.log(b + xu - 1)
        lt = np.log(alpha + d.Tu)[d.T_id]
        ltx = np.log(alpha + d.txu)[d.tx_id]
        rx = r + d.xr
        a3 = -rx * lt
        # a4 − a3, clipped: beyond ±40 one branch is the whole likelihood (and no denormals)
        diff = c4[d.x_id] - rx * (ltx - lt)
        # ln(e^a3 + e^a4) = a3 + ln(1 + e^diff), and the dropped-out branch's share (clipped
        # where it is 0 or 1 to machine precision, which keeps denormals out)
        lse = a3 + np.logaddexp(0.0, diff)
        w4 = 0.5 * (1 + np.tanh(np.clip(diff, -40.0, 40.0) / 2))  # logistic(diff)
        ww4 = d.w * w4
        ww3 = d.w - ww4
        ll += d.wx @ common + d.w @ lse
        g_r += d.wx @ (special.digamma(r + xu) - special.digamma(r) + log_alpha)
        g_r -= ww3 @ lt + ww4 @ ltx
        g_alpha += d.wx.sum() * r / alpha
        g_alpha -= (ww3 * rx) @ (1 / (alpha + d.Tu))[d.T_id] + (ww4 * rx) @ (1 / (alpha + d.txu))[
            d.tx_id
        ]
        g_a += d.wx @ (psi_ab - psi_abx) + ww4.sum() / a
        g_b += d.wx @ (psi_ab + special.digamma(b + xu) - special.digamma(b) - psi_abx)
        g_b -= ww4 @ (1 / (b + xu - 1))[d.x_id]
    if not np.isfinite(ll):
        return np.inf, np.zeros(4)
    grad = np.array([g_r, g_alpha, g_a, g_b]) * theta
    return -float(ll) / d.total, -grad / d.total


def compress(
    x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> tuple[Array, Array, Array, Array, NDArray[np.intp]]:
    """Unique (x, t_x, T) rows, their counts, and the index mapping each input row to its unique
    row (``unique[inverse]`` rebuilds the input)."""
    xs, txs, Ts = _arrays(x, t_x, T)
    stacked = np.column_stack([xs, txs, Ts])
    unique, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    return (
        unique[:, 0],
        unique[:, 1],
        unique[:, 2],
        counts.astype(np.float64),
        inverse.reshape(-1),
    )


def fit(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    start: BGNBDParams | None = None,
) -> BGNBDFit:
    """Maximum-likelihood fit on log-parameters with the analytic gradient (``_mle.fit``).

    Identical rows are merged first and the special functions run on the distinct values of
    x, t_x and T, so the cost grows with the number of distinct summaries, not customers; above
    50,000 customers a random sample is fitted first and a few Newton steps finish on all.
    """
    validate_rfm(x, t_x, T)
    xs, txs, Ts = _arrays(x, t_x, T)
    w = np.ones(xs.size) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != xs.shape or not (np.isfinite(w).all() and (w >= 0).all()):
        raise ValueError("weights must be one non-negative number per row")
    if w.sum() <= 0:
        raise ValueError("no customers to fit")
    if not (w[xs > 0] > 0).any():
        raise ValueError("no repeat purchases: the model cannot be fitted")
    data = _Factored.build(xs, txs, Ts, w)
    first = start or BGNBDParams(
        r=1.0, alpha=max(float(np.average(Ts, weights=w)), 1e-3), a=1.0, b=1.0
    )
    sample = None
    if start is None and weights is None and xs.size > _mle.SAMPLE_ROWS:
        pick = np.random.default_rng(0).choice(xs.size, _mle.SAMPLE_ROWS, replace=False)
        if (xs[pick] > 0).any():
            part = _Factored.build(xs[pick], txs[pick], Ts[pick], np.ones(pick.size))
            sample = partial(_neg_ll_and_grad, d=part)
    at, value, converged, hess = _mle.fit(
        partial(_neg_ll_and_grad, d=data),
        np.log([first.r, first.alpha, first.a, first.b]),
        rows=xs.size,
        sample=sample,
    )
    return BGNBDFit(
        params=BGNBDParams(*(float(v) for v in np.exp(at))),
        log_likelihood=-value * data.total,
        n_customers=round(data.total),
        converged=converged,
        log_param_cov=_mle.covariance(hess, data.total),
    )


def probability_alive(params: BGNBDParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """P(still active at T | x, t_x, T) (FHL 2005, eq. 11)."""
    xs, txs, Ts = _arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = (
            np.log(a)
            - np.log(np.where(xs > 0, b + xs - 1, 1.0))
            + (r + xs) * (np.log(alpha + Ts) - np.log(alpha + txs))
        )
    odds = np.where(xs > 0, np.exp(log_ratio), 0.0)
    return 1.0 / (1.0 + odds)


def expected_purchases(params: BGNBDParams, t: ArrayLike) -> Array:
    """E[X(t)]: purchases a new customer makes in (0, t] (FHL 2005, eq. 9)."""
    ts = np.asarray(t, dtype=np.float64)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = ts / (alpha + ts)
    hyp = special.hyp2f1(r, b, a + b - 1, z)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + ts)) ** r * hyp)


def conditional_expected_purchases(
    params: BGNBDParams, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> Array:
    """E[Y(t) | x, t_x, T]: purchases in the next ``t`` time units (FHL 2005, eq. 10)."""
    xs, txs, Ts = _arrays(x, t_x, T)
    ts = np.asarray(t, dtype=np.float64)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = ts / (alpha + Ts + ts)
    with np.errstate(all="ignore"):
        hyp = special.hyp2f1(r + xs, b + xs, a + b + xs - 1, z)
        ratio = ((alpha + Ts) / (alpha + Ts + ts)) ** (r + xs)
        numerator = (a + b + xs - 1) / (a - 1) * (1 - ratio * hyp)
    numerator = np.broadcast_to(numerator, np.broadcast(xs, Ts, ts).shape).copy()
    bad = ~np.isfinite(numerator) | (numerator < 0)
    if bad.any():
        xb, Tb = np.broadcast_to(xs, bad.shape)[bad], np.broadcast_to(Ts, bad.shape)[bad]
        tb = np.broadcast_to(ts, bad.shape)[bad]
        numerator[bad] = alive_expected_purchases(params, tb, xb, Tb)
    return numerator * probability_alive(params, xs, txs, Ts)


def alive_expected_purchases(
    params: BGNBDParams, t: ArrayLike, x: ArrayLike, T: ArrayLike, *, nodes: int = 48
) -> Array:
    """E[purchases in (T, T + t] | alive at T], by Gauss–Jacobi quadrature over the posterior
    drop-out probability p ~ Beta(a, b + x) (λ integrated in closed form). The closed form's
    2F1 overflows when r or α is huge (a nearly Poisson population, common on small data);
    this does not."""
    xs = np.asarray(x, dtype=np.float64)
    Ts = np.asarray(T, dtype=np.float64)
    ts = np.broadcast_to(np.asarray(t, dtype=np.float64), xs.shape)
    out = np.empty(xs.shape)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    for value in np.unique(xs):
        rows = xs == value
        # weight (1 − y)^(b + x − 1) (1 + y)^(a − 1) on [−1, 1], i.e. Beta(a, b + x) in p = (1 + y)/2
        y, w = special.roots_jacobi(nodes, b + value - 1, a - 1)
        p = (1 + y) / 2
        scale = ts[rows, None] / (alpha + Ts[rows, None])
        inner = -np.expm1(-(r + value) * np.log1p(p[None, :] * scale)) / p[None, :]
        out[rows] = inner @ w / w.sum()
    return out


def discounted_value(
    params: BGNBDParams,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    spend: ArrayLike,
    horizon: float,
    step: float,
    discount_per_step: float,
) -> Array:
    """Present value of future purchases up to ``horizon``: expected purchases in each ``step``
    (e.g. 30 days) times expected spend per purchase, discounted at ``discount_per_step``
    per step (end of step)."""
    if step <= 0 or horizon <= 0:
        raise ValueError("horizon and step must be > 0")
    spend_arr = np.asarray(spend, dtype=np.float64)
    value = np.zeros(np.broadcast(np.asarray(x), spend_arr).shape)
    previous = np.zeros_like(value)
    steps = int(np.ceil(horizon / step - 1e-9))
    for i in range(1, steps + 1):
        cumulative = conditional_expected_purchases(params, min(i * step, horizon), x, t_x, T)
        value += (cumulative - previous) * spend_arr / (1 + discount_per_step) ** i
        previous = cumulative
    return value


def simulate(params: BGNBDParams, T: ArrayLike, *, rng: np.random.Generator) -> tuple[Array, Array]:
    """Draw (x, t_x) for customers observed for ``T`` from the BG/NBD process itself."""
    Ts = np.asarray(T, dtype=np.float64)
    n = Ts.size
    lam = rng.gamma(params.r, 1.0 / params.alpha, size=n)
    p = rng.beta(params.a, params.b, size=n)
    # repeat purchases made before dropping out (dropout happens right after one of them)
    lifetime_purchases = rng.geometric(np.clip(p, 1e-12, 1.0))
    in_window = rng.poisson(lam * Ts)
    x = np.minimum(in_window, lifetime_purchases).astype(np.float64)
    # the x-th of `in_window` uniform arrival times on (0, T]
    repeat = x > 0
    t_x = np.zeros(n)
    t_x[repeat] = Ts[repeat] * rng.beta(x[repeat], in_window[repeat] - x[repeat] + 1)
    return x, t_x
