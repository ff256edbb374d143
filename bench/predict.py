"""Predictive-CX benchmark: BG/NBD + Gamma-Gamma fit and scoring, ours against `lifetimes`.

Run from the repository root::

    .venv/bin/python bench/predict.py                        # CDNOW + 1,000,000 synthetic customers
    .venv/bin/python bench/predict.py --customers 100000     # quicker
    .venv/bin/python bench/predict.py --lifetimes-python /tmp/lifetimes-venv/bin/python

`lifetimes` runs in its own throwaway environment (never in cxloop's):
``python3 -m venv /tmp/lifetimes-venv && /tmp/lifetimes-venv/bin/pip install lifetimes``. The
same data is handed to it through a scratch .npz file and it answers in JSON. Without that
interpreter the baseline is a plain per-customer scipy implementation (a Python loop over
customers with math.lgamma, Nelder-Mead), on CDNOW only. Prints times and ratios; see
bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from cxloop.predict import bgnbd, gammagamma  # noqa: E402

CDNOW = REPO / ".." / "shared" / "data" / "cdnow"
TRUTH = bgnbd.BGNBDParams(r=0.6, alpha=30.0, a=0.7, b=3.0)  # days
SPEND = gammagamma.GammaGammaParams(p=5.0, q=4.0, gamma=40.0)
TARGET_FIT_RATIO = 10.0

# What the lifetimes interpreter runs: fit and score on the .npz it is given, print JSON.
LIFETIMES_SCRIPT = r"""
import json, sys, time
import numpy as np, pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
data = np.load(sys.argv[1])
what = sys.argv[2]
out = {}
x, t_x, T = data["x"], data["t_x"], data["T"]
if what == "weighted":
    frame = pd.DataFrame({"x": x, "t_x": t_x, "T": T, "w": data["w"]})
    start = time.perf_counter()
    bg = BetaGeoFitter().fit(frame["x"], frame["t_x"], frame["T"], weights=frame["w"])
    out["fit_s"] = time.perf_counter() - start
    out["params"] = {k: float(v) for k, v in bg.params_.items()}
else:
    frame = pd.DataFrame({"x": x, "t_x": t_x, "T": T})
    start = time.perf_counter()
    bg = BetaGeoFitter().fit(frame["x"], frame["t_x"], frame["T"])
    out["fit_s"] = time.perf_counter() - start
    out["params"] = {k: float(v) for k, v in bg.params_.items()}
    start = time.perf_counter()
    bg.conditional_probability_alive(frame["x"], frame["t_x"], frame["T"])
    bg.conditional_expected_number_of_purchases_up_to_time(90, frame["x"], frame["t_x"], frame["T"])
    out["score_s"] = time.perf_counter() - start
    repeat = data["m"] > 0
    if repeat.any():
        start = time.perf_counter()
        gg = GammaGammaFitter().fit(pd.Series(x[repeat]), pd.Series(data["m"][repeat]))
        out["gg_fit_s"] = time.perf_counter() - start
        out["gg_params"] = {k: float(v) for k, v in gg.params_.items()}
print(json.dumps(out))
"""


def best_of(runs: int, fn):
    """(fastest wall time, last result) over ``runs`` calls."""
    best, result = math.inf, None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def naive_fit(x, t_x, T) -> tuple[bgnbd.BGNBDParams, float]:
    """A straightforward, non-vectorised BG/NBD fit: the paper's likelihood customer by customer
    in a Python loop (math.lgamma), Nelder-Mead on log-parameters."""
    from scipy import optimize

    rows = list(zip(x.tolist(), t_x.tolist(), T.tolist(), strict=True))

    def neg_ll(v):
        r, alpha, a, b = (math.exp(p) for p in v)
        total = 0.0
        for xi, txi, Ti in rows:
            common = (
                math.lgamma(r + xi) - math.lgamma(r) + r * math.log(alpha)
                + math.lgamma(a + b) + math.lgamma(b + xi) - math.lgamma(b)
                - math.lgamma(a + b + xi)
            )  # fmt: skip
            alive = -(r + xi) * math.log(alpha + Ti)
            if xi > 0:
                dropped = math.log(a) - math.log(b + xi - 1) - (r + xi) * math.log(alpha + txi)
                high = max(alive, dropped)
                total += common + high + math.log(math.exp(alive - high) + math.exp(dropped - high))
            else:
                total += common + alive
        return -total

    result = optimize.minimize(
        neg_ll,
        np.zeros(4),
        method="Nelder-Mead",
        options={"xatol": 1e-6, "fatol": 1e-6, "maxiter": 4000},
    )
    return bgnbd.BGNBDParams(*(math.exp(v) for v in result.x)), -float(result.fun)


def synthetic(n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` customers from known parameters, observed 1–730 whole days (purchases counted per
    day, as cxloop does), with spend from the Gamma-Gamma model."""
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 731, size=n).astype(float)
    x, t_x = bgnbd.simulate(TRUTH, T, rng=rng)
    t_x = np.where(x > 0, np.clip(np.ceil(t_x), 1, T), 0.0)
    nu = rng.gamma(SPEND.q, 1 / SPEND.gamma, size=n)
    m = np.where(x > 0, rng.gamma(SPEND.p * np.maximum(x, 1), 1 / (nu * np.maximum(x, 1))), 0.0)
    return {"x": x, "t_x": t_x, "T": T, "m": m}


def run_lifetimes(python: str, data: dict[str, np.ndarray], what: str, timeout: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.npz"
        np.savez(path, **data)
        script = Path(tmp) / "lt.py"
        script.write_text(LIFETIMES_SCRIPT)
        # lifetimes in its default environment (its BLAS threads help it; ours run single-threaded)
        try:
            done = subprocess.run(
                [python, str(script), str(path), what],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"did not finish within {timeout} s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def params_text(values: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in values.items())


def ratio(theirs: float | None, ours: float) -> str:
    return f"{theirs / ours:,.1f}×" if theirs else "—"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--lifetimes-python",
        default=str(Path(tempfile.gettempdir()) / "lifetimes-venv" / "bin" / "python"),
    )
    parser.add_argument("--lifetimes-timeout", type=int, default=900)
    args = parser.parse_args()
    lifetimes = Path(args.lifetimes_python).exists()
    rows: list[tuple[str, float, float | None, str]] = []
    failed = False
    print(
        f"lifetimes interpreter: {args.lifetimes_python if lifetimes else 'absent (naive baseline)'}"
    )

    # -------------------------------------------------------------- CDNOW (2,357 customers)
    if (CDNOW / "cdnow_customers_summary.csv").is_file():
        table = np.genfromtxt(CDNOW / "cdnow_customers_summary.csv", delimiter=",", names=True)
        x, t_x, T = table["frequency"], table["recency"], table["T"]
        ours_s, fit = best_of(5, lambda: bgnbd.fit(x, t_x, T))
        print(
            f"\nCDNOW ours:      {params_text(fit.params.as_dict())}, LL {fit.log_likelihood:.1f}"
        )
        if lifetimes:
            theirs = run_lifetimes(
                args.lifetimes_python, {"x": x, "t_x": t_x, "T": T, "m": np.zeros_like(x)},
                "plain", args.lifetimes_timeout,
            )  # fmt: skip
            if "error" in theirs:
                print(f"CDNOW lifetimes: {theirs['error']}")
            else:
                print(f"CDNOW lifetimes: {params_text(theirs['params'])}")
            rows.append(("CDNOW BG/NBD fit", ours_s, theirs.get("fit_s"), "lifetimes"))
        naive_s, (naive_params, naive_ll) = best_of(1, lambda: naive_fit(x, t_x, T))
        print(f"CDNOW naive:     {params_text(naive_params.as_dict())}, LL {naive_ll:.1f}")
        rows.append(("CDNOW BG/NBD fit", ours_s, naive_s, "naive scipy loop"))
    else:
        print(f"\nCDNOW skipped: no data at {CDNOW}")

    # -------------------------------------------------------------- synthetic customers
    n = args.customers
    data = synthetic(n, args.seed)
    ux, utx, uT, w, _ = bgnbd.compress(data["x"], data["t_x"], data["T"])
    print(f"\n{n:,} synthetic customers, {int((data['x'] > 0).sum()):,} repeat buyers, "
          f"{ux.size:,} distinct (x, t_x, T) summaries")  # fmt: skip
    print(f"truth:           {params_text(TRUTH.as_dict())}; spend {params_text(SPEND.as_dict())}")
    fit_s, fit = best_of(1, lambda: bgnbd.fit(data["x"], data["t_x"], data["T"]))
    print(f"ours:            {params_text(fit.params.as_dict())}")
    repeat = data["x"] > 0
    gg_s, gg = best_of(1, lambda: gammagamma.fit(data["x"][repeat], data["m"][repeat]))
    print(f"ours spend:      {params_text(gg.params.as_dict())}")

    def score():
        p_alive = bgnbd.probability_alive(fit.params, data["x"], data["t_x"], data["T"])
        e90 = bgnbd.conditional_expected_purchases(
            fit.params, 90.0, data["x"], data["t_x"], data["T"]
        )
        return p_alive, e90

    score_s, _ = best_of(1, score)

    def clv():
        spend = gammagamma.conditional_expected_spend(gg.params, data["x"], data["m"])
        return bgnbd.discounted_value(
            fit.params, data["x"], data["t_x"], data["T"], spend=spend, horizon=365.0, step=30.0,
            discount_per_step=1.1 ** (30 / 365) - 1,
        )  # fmt: skip

    clv_s, _ = best_of(1, clv)
    theirs: dict = {}
    weighted: dict = {}
    if lifetimes:
        theirs = run_lifetimes(args.lifetimes_python, data, "plain", args.lifetimes_timeout)
        if "error" in theirs:
            print(f"lifetimes:       {theirs['error']}")
        else:
            print(f"lifetimes:       {params_text(theirs['params'])}")
            print(f"lifetimes spend: {params_text(theirs.get('gg_params', {}))}")
            ours_p = np.array(list(fit.params.as_dict().values()))
            their_p = np.array(list(theirs["params"].values()))
            print(
                f"largest relative parameter difference: {np.max(np.abs(ours_p / their_p - 1)):.2e}"
            )
        weighted = run_lifetimes(
            args.lifetimes_python, {"x": ux, "t_x": utx, "T": uT, "w": w}, "weighted",
            args.lifetimes_timeout,
        )  # fmt: skip
    rows += [
        (f"{n:,} BG/NBD fit", fit_s, theirs.get("fit_s"), "lifetimes"),
        (
            f"{n:,} BG/NBD fit",
            fit_s,
            weighted.get("fit_s"),
            "lifetimes, same distinct rows + weights",
        ),
        (f"{n:,} Gamma-Gamma fit", gg_s, theirs.get("gg_fit_s"), "lifetimes"),
        (f"{n:,} P(alive) + E[purchases 90 d]", score_s, theirs.get("score_s"), "lifetimes"),
        (f"{n:,} discounted CLV, 12 monthly steps", clv_s, None, "—"),
    ]

    print(f"\n{'what':<42} {'ours s':>9} {'baseline s':>11} {'ratio':>9}  baseline")
    for what, ours, base, label in rows:
        base_text = f"{base:11.3f}" if base else f"{'—':>11}"
        print(f"{what:<42} {ours:9.3f} {base_text} {ratio(base, ours):>9}  {label}")
    fit_ratio = (theirs.get("fit_s") or 0) / fit_s if theirs.get("fit_s") else None
    if fit_ratio is not None:
        verdict = "PASS" if fit_ratio >= TARGET_FIT_RATIO else "FAIL"
        failed = fit_ratio < TARGET_FIT_RATIO
        print(
            f"\ntarget: 1M fit ≥ {TARGET_FIT_RATIO:.0f}× faster than lifetimes: {verdict} ({fit_ratio:,.1f}×)"
        )
    print(f"target: scoring {n:,} customers in seconds: {'PASS' if score_s + clv_s < 60 else 'FAIL'} "
          f"({score_s + clv_s:.1f} s for P(alive), E[purchases] and CLV)")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
