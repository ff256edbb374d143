"""Key drivers: which themes move a score (NPS, CSAT or CES) most (pure: arrays in, rows out).

Each text with a score is one observation. Its outcome is the score as the metric counts it —
NPS: +100 for a promoter (9–10), −100 for a detractor (0–6), 0 for a passive, so the mean is the
NPS; CSAT: 100 when the answer is in the top box (4 or 5 on 1–5), else 0, so the mean is the
CSAT %; CES: the answer on 1–7. A theme's **effect** is the difference between the mean outcome
of the texts that carry it and of those that do not; its **impact** is effect × the share of
texts that carry it, which is exactly how far the overall score sits from what it would be if
those texts scored like the others (overall − mean without the theme): the points of the score
the theme is worth (negative: it costs that much). This is the "impact" CX teams know from
text-analytics tools, and unlike a regression on all themes at once it does not measure every
theme against the texts that carry none, a group that is small and arbitrary when nearly every
text carries a theme. Uncertainty: Welch's t (unequal variances: the outcome is bounded and
lumpy) for the difference, its 95 % interval clipped to what the scale allows, two-sided
p-values Holm-corrected across themes; the impact's interval scales the effect's by the
(observed, fixed) share. Where neither group's outcome varies at all there is no interval: such
an effect is shown as not estimable, not as certain. Themes often come together (a late parcel
and a slow reply); an effect is not adjusted for the others, so read it as "texts with this
theme score this much lower", not as its cause.

Themes carried by fewer than ``MIN_MENTIONS`` texts, or by all but fewer than that (nothing to
compare with), are left out and named.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxloop.text.drivers import holm

MIN_MENTIONS = 5
MIN_TEXTS = 30
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


def _welch(with_: np.ndarray, without: np.ndarray) -> tuple[float, float, float]:
    """Difference of means, its standard error and Welch's degrees of freedom (0 and nan when
    neither group varies)."""
    n1, n0 = len(with_), len(without)
    v1, v0 = with_.var(ddof=1) / n1, without.var(ddof=1) / n0
    se2 = v1 + v0
    if se2 <= 0.0:
        return float(with_.mean() - without.mean()), 0.0, float("nan")
    df = se2**2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))
    return float(with_.mean() - without.mean()), float(np.sqrt(se2)), float(df)


def estimate(
    *,
    metric: str,
    scores: list[int],
    themes: list[set[int]],
    names: dict[int, str],
) -> KeyDrivers:
    """Key drivers of ``metric`` from one score per text and the set of theme ids each text
    carries (``themes[i]`` belongs to ``scores[i]``); ``names`` are the themes considered."""
    from scipy.stats import t as student  # imported when used: keeps every command's start quick

    if metric not in METRICS:
        raise ValueError(f"metric: {metric!r} is not one of {', '.join(METRICS)}")
    n = len(scores)
    y = np.array([outcome(metric, s) for s in scores], dtype=float)
    overall = float(y.mean()) if n else None
    counts = {t: sum(1 for carried in themes if t in carried) for t in names}
    answer = f"with {'an' if metric == 'nps' else 'a'} {metric.upper()} answer"
    left_out = [
        f"{names[t]}: {counts[t]} text{'s' if counts[t] != 1 else ''} {answer}, fewer than "
        f"{MIN_MENTIONS}"
        for t in sorted(names, key=lambda t: names[t])
        if counts[t] < MIN_MENTIONS
    ]
    chosen = sorted(
        (t for t in names if MIN_MENTIONS <= counts[t] <= n - MIN_MENTIONS),
        key=lambda t: (-counts[t], names[t]),
    )
    left_out += [
        f"{names[t]}: in nearly every text ({counts[t]} of {n}), nothing to compare with"
        for t in sorted(names, key=lambda t: names[t])
        if counts[t] > n - MIN_MENTIONS and counts[t] >= MIN_MENTIONS
    ]
    if n < MIN_TEXTS:
        why = f"{n} text{'s' if n != 1 else ''} {answer.replace('answer', 'score')}; "
        why += f"at least {MIN_TEXTS}"
        return KeyDrivers(metric, n, overall, [], left_out, too_few=why + " are needed.")
    if not chosen:
        return KeyDrivers(
            metric, n, overall, [], left_out, too_few="No theme is carried by enough texts."
        )
    low_bound, high_bound = _effect_range(metric)
    fits = []
    for theme in chosen:
        carries = np.array([theme in carried for carried in themes])
        effect, se, df = _welch(y[carries], y[~carries])
        if se > 0.0:
            p = float(2 * student.sf(abs(effect) / se, df))
            half = float(student.ppf(1 - ALPHA / 2, df) * se)
        else:  # no spread in either group: no interval, no test
            p, half = 1.0, 0.0
        fits.append((theme, carries, effect, se, p, half))
    tested = [j for j, fit in enumerate(fits) if fit[3] > 0.0]
    adjusted = [1.0] * len(fits)
    for j, p in zip(tested, holm([fits[j][4] for j in tested]), strict=True):
        adjusted[j] = p
    rows = []
    for (theme, carries, effect, se, p, half), p_holm in zip(fits, adjusted, strict=True):
        share = counts[theme] / n
        # an effect cannot be larger than the scale allows: the interval is clipped to it
        effect_low = max(low_bound, effect - half)
        effect_high = min(high_bound, effect + half)
        rows.append(
            KeyDriver(
                theme_id=theme,
                name=names[theme],
                mentions=counts[theme],
                share=share,
                performance=float(y[carries].mean()),
                effect=effect,
                effect_low=effect_low,
                effect_high=effect_high,
                impact=effect * share,
                impact_low=effect_low * share,
                impact_high=effect_high * share,
                p_value=p,
                p_holm=p_holm,
                estimable=se > 0.0,
            )
        )
    rows.sort(key=lambda r: (-abs(r.impact), r.name))
    return KeyDrivers(metric, n, overall, rows, left_out)
