"""Key drivers: which themes move a score (NPS, CSAT or CES) most (pure: arrays in, rows out).

Each text with a score is one observation. Its outcome is the score as the metric counts it —
NPS: +100 for a promoter (9–10), −100 for a detractor (0–6), 0 for a passive, so the mean is the
NPS; CSAT: 100 when the answer is in the top box (4 or 5 on 1–5), else 0, so the mean is the
CSAT %; CES: the answer on 1–7. The outcome is regressed by ordinary least squares on one 0/1
column per theme (does the text carry it?), all themes at once, so a theme's **effect** is the
difference in the score it goes with, holding the other themes fixed. Its **impact** is
effect × the share of texts that carry it: how many points of the overall score the theme is
worth (negative: it costs that much). Uncertainty: heteroskedasticity-consistent (HC3) standard
errors — the outcome is bounded and lumpy, so the classical equal-variance errors would be too
narrow — with normal 95 % intervals (clipped to what the scale allows) and two-sided p-values,
Holm-corrected across the themes. The impact's interval scales the effect's by the (observed,
fixed) share. Where the outcome has no spread at all around the fit (every text of every theme
pattern scored alike) the errors are 0: such an effect is shown as not estimable, not as certain.

Themes carried by fewer than ``MIN_MENTIONS`` texts, and themes that always occur together with
others (their effect cannot be told apart), are left out and named.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxloop.text.drivers import holm

MIN_MENTIONS = 5
MIN_TEXTS = 30
NO_SPREAD = 1e-9  # a standard error below this is rounding noise around 0
ALPHA = 0.05
METRICS = ("nps", "csat", "ces")
CSAT_TOP_BOX = 4
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


@dataclass(frozen=True)
class KeyDriver:
    theme_id: int
    name: str
    mentions: int  # texts carrying the theme
    share: float  # of all texts with a score
    performance: float  # the metric among the texts carrying the theme
    effect: float
    effect_low: float
    effect_high: float
    impact: float  # effect × share: points of the overall score
    impact_low: float
    impact_high: float
    p_value: float
    p_holm: float
    estimable: bool = True  # False: no spread in the outcome around the fit, no interval

    @property
    def significant(self) -> bool:
        return self.estimable and self.p_holm < ALPHA


@dataclass(frozen=True)
class KeyDrivers:
    metric: str
    n: int  # texts with a score
    overall: float | None  # the metric over all of them
    drivers: list[KeyDriver]  # largest |impact| first
    left_out: list[str]  # "name: why"
    too_few: str = ""  # why nothing could be estimated, when nothing could


def outcome(metric: str, score: int) -> float:
    """One answer as the metric counts it (see the module's docstring)."""
    if metric == "nps":
        return 100.0 if score >= 9 else -100.0 if score <= 6 else 0.0
    if metric == "csat":
        return 100.0 if score >= CSAT_TOP_BOX else 0.0
    return float(score)


def _effect_range(metric: str) -> tuple[float, float]:
    """The most a theme can move the outcome either way: the outcome's full span."""
    if metric == "ces":
        low, high = SCALES["ces"]
        return -(high - low), high - low
    span = 200.0 if metric == "nps" else 100.0
    return -span, span


def ols_hc3(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and HC3 standard errors of ``y`` on ``x`` (``x`` has full column rank and
    includes the intercept column)."""
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    residuals = y - x @ beta
    leverage = np.einsum("ij,jk,ik->i", x, xtx_inv, x)
    # a text alone in its pattern of themes has leverage 1: its residual is 0 and it adds nothing
    scale = np.divide(
        residuals**2,
        (1.0 - leverage) ** 2,
        out=np.zeros_like(residuals),
        where=leverage < 1.0 - 1e-9,
    )
    meat = x.T @ (x * scale[:, None])
    cov = xtx_inv @ meat @ xtx_inv
    return beta, np.sqrt(np.clip(np.diag(cov), 0.0, None))


def _independent(columns: list[np.ndarray], n: int) -> list[int]:
    """Indices of the columns kept, in order, each adding rank beyond the intercept and those
    kept before it."""
    kept: list[int] = []
    basis = np.ones((n, 1))
    for i, column in enumerate(columns):
        trial = np.hstack([basis, column[:, None]])
        if np.linalg.matrix_rank(trial) > basis.shape[1]:
            kept.append(i)
            basis = trial
    return kept


def estimate(
    *,
    metric: str,
    scores: list[int],
    themes: list[set[int]],
    names: dict[int, str],
) -> KeyDrivers:
    """Key drivers of ``metric`` from one score per text and the set of theme ids each text
    carries (``themes[i]`` belongs to ``scores[i]``); ``names`` are the themes considered."""
    from scipy.stats import norm  # imported when used: keeps every command's start quick

    if metric not in METRICS:
        raise ValueError(f"metric: {metric!r} is not one of {', '.join(METRICS)}")
    n = len(scores)
    y = np.array([outcome(metric, s) for s in scores], dtype=float)
    overall = float(y.mean()) if n else None
    counts = {t: sum(1 for carried in themes if t in carried) for t in names}
    left_out = [
        f"{names[t]}: {counts[t]} text{'s' if counts[t] != 1 else ''}, fewer than {MIN_MENTIONS}"
        for t in sorted(names, key=lambda t: names[t])
        if counts[t] < MIN_MENTIONS
    ]
    candidates = sorted(
        (t for t in names if MIN_MENTIONS <= counts[t] <= n - MIN_MENTIONS),
        key=lambda t: (-counts[t], names[t]),
    )
    left_out += [
        f"{names[t]}: in nearly every text ({counts[t]} of {n}), nothing to compare with"
        for t in names
        if counts[t] > n - MIN_MENTIONS and counts[t] >= MIN_MENTIONS
    ]
    if n < MIN_TEXTS:
        why = f"{n} text{'s' if n != 1 else ''} with a {metric.upper()} score; at least {MIN_TEXTS}"
        return KeyDrivers(metric, n, overall, [], left_out, too_few=why + " are needed.")
    columns = [np.array([1.0 if t in carried else 0.0 for carried in themes]) for t in candidates]
    kept = _independent(columns, n)
    left_out += [
        f"{names[candidates[i]]}: always found with other themes, its effect cannot be told apart"
        for i in range(len(candidates))
        if i not in kept
    ]
    chosen = [candidates[i] for i in kept]
    if not chosen:
        return KeyDrivers(
            metric, n, overall, [], left_out, too_few="No theme is carried by enough texts."
        )
    if n - len(chosen) - 1 < MIN_TEXTS // 2:
        return KeyDrivers(
            metric,
            n,
            overall,
            [],
            left_out,
            too_few=f"{len(chosen)} themes need more than {n} texts to tell their effects apart.",
        )
    x = np.column_stack([np.ones(n)] + [columns[i] for i in kept])
    beta, se = ols_hc3(y, x)
    z = norm.ppf(1 - ALPHA / 2)
    # with no spread (every residual 0) there is no interval and no test: such a theme is
    # shown with its effect but left out of the correction and never called significant
    p_values = [
        float(2 * norm.sf(abs(b) / s)) if s > NO_SPREAD else 1.0
        for b, s in zip(beta[1:], se[1:], strict=True)
    ]
    tested = [j for j, s in enumerate(se[1:]) if s > NO_SPREAD]
    adjusted = [1.0] * len(p_values)
    for j, p in zip(tested, holm([p_values[j] for j in tested]), strict=True):
        adjusted[j] = p
    low_bound, high_bound = _effect_range(metric)
    rows = []
    for j, theme in enumerate(chosen):
        column = x[:, j + 1] == 1.0
        share = counts[theme] / n
        effect, half = float(beta[j + 1]), float(z * se[j + 1])
        # an effect cannot be larger than the scale allows: the interval is clipped to it
        effect_low = max(low_bound, effect - half)
        effect_high = min(high_bound, effect + half)
        rows.append(
            KeyDriver(
                theme_id=theme,
                name=names[theme],
                mentions=counts[theme],
                share=share,
                performance=float(y[column].mean()),
                effect=effect,
                effect_low=effect_low,
                effect_high=effect_high,
                impact=effect * share,
                impact_low=effect_low * share,
                impact_high=effect_high * share,
                p_value=p_values[j],
                p_holm=adjusted[j],
                estimable=bool(se[j + 1] > NO_SPREAD),
            )
        )
    rows.sort(key=lambda r: (-abs(r.impact), r.name))
    return KeyDrivers(metric, n, overall, rows, left_out)
