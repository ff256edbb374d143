"""Maximum-likelihood helpers shared by the BG/NBD and Gamma-Gamma fits (log-parameters)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy import optimize
from threadpoolctl import threadpool_limits

Array = NDArray[np.float64]
# value and gradient of −LL / customers at log-parameters
Objective = Callable[[Array], tuple[float, Array]]
SAMPLE_ROWS = 50_000  # above this many customers: fit a sample first, then refine on all


def hessian(gradient: Callable[[Array], Array], at: Array) -> Array:
    """Hessian by central differences of an analytic gradient (symmetrised)."""
    k = at.size
    hess = np.empty((k, k))
    step = 1e-5
    for i in range(k):
        up = at.copy()
        down = at.copy()
        up[i] += step
        down[i] -= step
        hess[:, i] = (gradient(up) - gradient(down)) / (2 * step)
    return (hess + hess.T) / 2


def covariance(hess: Array, customers: float) -> Array:
    """Covariance of the log-parameters from the per-customer Hessian (NaN when singular)."""
    try:
        return np.asarray(np.linalg.inv(hess * customers), dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.full(hess.shape, np.nan)


def lbfgs(objective: Objective, start: Array) -> tuple[Array, float, bool]:
    """L-BFGS-B with the analytic gradient: (optimum, value there, converged)."""
    result = optimize.minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-15.0, 15.0)] * start.size,
        options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9},
    )
    return np.asarray(result.x, dtype=np.float64), float(result.fun), bool(result.success)


def refine(
    objective: Objective, start: Array, hess: Array, *, steps: int = 30
) -> tuple[Array, float] | None:
    """Newton steps with a fixed Hessian (the chord method) from a nearby ``start``.

    ``hess`` is the per-customer Hessian at the optimum of a random sample, which matches the full
    data's to sampling error, so each step gains about two digits and each costs one gradient.
    None when it does not converge (the caller falls back to L-BFGS-B)."""
    try:
        np.linalg.cholesky(hess)
    except np.linalg.LinAlgError:
        return None
    at = start
    value, grad = objective(at)
    for _ in range(steps):
        step = np.linalg.solve(hess, grad)
        if not np.isfinite(step).all():
            return None
        trial = at - step
        trial_value, trial_grad = objective(trial)
        if not np.isfinite(trial_value) or trial_value > value + 1e-12 * abs(value):
            return None
        at, value, grad = trial, trial_value, trial_grad
        if np.max(np.abs(step)) < 1e-9:
            return at, value
    return None


def fit(
    full: Objective, start: Array, *, rows: int, sample: Objective | None
) -> tuple[Array, float, bool, Array]:
    """(optimum, −LL/customers there, converged, per-customer Hessian).

    With a ``sample`` objective (many customers), L-BFGS-B runs on the sample and the chord method
    finishes on all customers; otherwise, or when that fails, L-BFGS-B runs on all of them. BLAS
    runs single-threaded: its threads only contend on these small problems (3× slower on a busy
    machine)."""
    with threadpool_limits(1):
        return _fit(full, start, rows=rows, sample=sample)


def _fit(
    full: Objective, start: Array, *, rows: int, sample: Objective | None
) -> tuple[Array, float, bool, Array]:
    if sample is not None and rows > SAMPLE_ROWS:
        near, _, ok = lbfgs(sample, start)
        hess = hessian(lambda v: sample(v)[1], near)
        if ok and np.isfinite(hess).all():
            refined = refine(full, near, hess)
            if refined is not None:
                return refined[0], refined[1], True, hess
        start = near
    at, value, ok = lbfgs(full, start)
    return at, value, ok, hessian(lambda v: full(v)[1], at)
