"""Churn risk: logistic regression on features known at a cut-off day, with reasons in words.

Churn means no purchase in the ``horizon`` days after the cut-off. The split is by time, and
features never look past their cut-off:

- validate: features at ``as_of − 2·horizon``, labels from the next ``horizon`` days; tested on
  features at ``as_of − horizon`` with labels up to ``as_of`` (ROC AUC, PR AUC, calibration);
- score: refit on the latest fully labelled cut-off (``as_of − horizon``), apply to features at
  ``as_of``.

A customer's reasons are the largest positive contributions ``coefficient × standardised value``
(exact for a linear model: they add up to the log-odds above the average customer's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score

Array = NDArray[np.float64]
SUPPORT_NAMES = re.compile(r"support|ticket|complain|refund|return|cancel|chargeback", re.I)
WINDOW = 90.0  # days of recent activity counted
MIN_TRAIN = 30  # customers per side, and of each class, to fit or test the model
FEATURES = (
    "recency",
    "gap_ratio",
    "purchases",
    "avg_amount",
    "tenure",
    "idle",
    "events_recent",
    "support_recent",
    "last_nps",
    "no_nps",
    "cancelled",
)
LOGGED = {"recency", "gap_ratio", "purchases", "avg_amount", "tenure", "idle", "events_recent"}


@dataclass(frozen=True)
class Activity:
    """Everything the features read, as arrays of days (whole days since any origin)."""

    purchase_customer: NDArray[np.int64]
    purchase_day: Array
    purchase_amount: Array
    event_customer: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    event_day: Array = field(default_factory=lambda: np.zeros(0))
    event_support: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    nps_customer: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    nps_day: Array = field(default_factory=lambda: np.zeros(0))
    nps_score: Array = field(default_factory=lambda: np.zeros(0))
    cancel_customer: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    cancel_day: Array = field(default_factory=lambda: np.zeros(0))


def is_support_event(name: str) -> bool:
    """Whether an event name reads as a support contact or a complaint."""
    return bool(SUPPORT_NAMES.search(name))


def _per_customer(
    ids: NDArray[np.int64], customers: NDArray[np.int64], values: Array, how: str
) -> Array:
    """Aggregate ``values`` by ``customers`` for each id in ``ids`` (sorted): sum, max or count."""
    out = np.zeros(ids.size) if how != "max" else np.full(ids.size, np.nan)
    if customers.size == 0:
        return out
    pos = np.searchsorted(ids, customers)
    pos = np.clip(pos, 0, max(ids.size - 1, 0))
    hit = ids[pos] == customers if ids.size else np.zeros(customers.size, bool)
    if how == "max":
        np.fmax.at(out, pos[hit], values[hit])
    else:
        np.add.at(out, pos[hit], values[hit] if how == "sum" else 1.0)
    return out


def features_at(activity: Activity, cut_day: float) -> tuple[NDArray[np.int64], Array, Array]:
    """Customers with a purchase on or before ``cut_day`` (sorted), their feature matrix (raw
    values, columns as ``FEATURES``) and the day of their last NPS answer (NaN when none).
    Only rows dated on or before ``cut_day`` are read."""
    a = activity
    keep = a.purchase_day <= cut_day
    cust, day, amount = (
        a.purchase_customer[keep],
        np.floor(a.purchase_day[keep]),
        a.purchase_amount[keep],
    )
    ids = np.unique(cust)
    if ids.size == 0:
        return ids, np.zeros((0, len(FEATURES))), np.zeros(0)
    pairs, inverse = np.unique(np.column_stack([cust, day]), axis=0, return_inverse=True)
    day_amount = np.bincount(inverse.reshape(-1), weights=amount, minlength=len(pairs))
    pc, pd = pairs[:, 0].astype(np.int64), pairs[:, 1]
    purchases = _per_customer(ids, pc, np.ones(pc.size), "count")
    spend = _per_customer(ids, pc, np.asarray(day_amount, dtype=np.float64), "sum")
    last = _per_customer(ids, pc, pd, "max")
    first = -_per_customer(ids, pc, -pd, "max")
    recency = cut_day - last
    tenure = cut_day - first
    gap = np.where(purchases > 1, (last - first) / np.maximum(purchases - 1, 1), np.nan)
    gap_ratio = np.where(np.isfinite(gap), recency / np.maximum(gap, 1.0), recency / 30.0)
    ev = a.event_day <= cut_day
    recent = ev & (a.event_day > cut_day - WINDOW)
    last_event = _per_customer(ids, a.event_customer[ev], np.floor(a.event_day[ev]), "max")
    idle = cut_day - np.fmax(last_event, last)
    events_recent = _per_customer(
        ids, a.event_customer[recent], np.ones(int(recent.sum())), "count"
    )
    support = recent & a.event_support
    support_recent = _per_customer(
        ids, a.event_customer[support], np.ones(int(support.sum())), "count"
    )
    nps_keep = a.nps_day <= cut_day
    nps_c, nps_d, nps_s = a.nps_customer[nps_keep], a.nps_day[nps_keep], a.nps_score[nps_keep]
    order = np.lexsort((nps_d, nps_c))
    nps_c, nps_d, nps_s = nps_c[order], nps_d[order], nps_s[order]
    last_nps = np.full(ids.size, np.nan)
    last_nps_day = np.full(ids.size, np.nan)
    if nps_c.size:
        # the last answer per customer: the final row of each run in the sorted order
        ends = np.r_[nps_c[1:] != nps_c[:-1], True]
        pos = np.searchsorted(ids, nps_c[ends])
        ok = (pos < ids.size) & (ids[np.minimum(pos, ids.size - 1)] == nps_c[ends])
        last_nps[pos[ok]] = nps_s[ends][ok]
        last_nps_day[pos[ok]] = nps_d[ends][ok]
    matrix = np.column_stack(
        [
            recency,
            gap_ratio,
            purchases,
            spend / purchases,
            tenure,
            idle,
            events_recent,
            support_recent,
            last_nps,
            np.isnan(last_nps).astype(float),
            np.isin(ids, a.cancel_customer[a.cancel_day <= cut_day]).astype(float),
        ]
    )
    return ids, matrix, last_nps_day


def churned(
    activity: Activity, customers: NDArray[np.int64], cut_day: float, horizon: float
) -> NDArray[np.int64]:
    """1 when the customer made no purchase in (cut_day, cut_day + horizon] or cancelled in it
    (the cancellation event, when the workspace names one), else 0."""
    d = activity.purchase_day
    window = (d > cut_day) & (d <= cut_day + horizon)
    bought = np.isin(customers, activity.purchase_customer[window])
    c = activity.cancel_day
    cancelled = np.isin(
        customers, activity.cancel_customer[(c > cut_day) & (c <= cut_day + horizon)]
    )
    return (~bought | cancelled).astype(np.int64)


@dataclass
class _Model:
    model: LogisticRegression
    mean: Array
    scale: Array
    nps_fill: float


def _design(raw: Array, nps_fill: float) -> Array:
    x = raw.copy()
    x[:, FEATURES.index("last_nps")] = np.where(
        np.isnan(x[:, FEATURES.index("last_nps")]), nps_fill, x[:, FEATURES.index("last_nps")]
    )
    for name in LOGGED:
        j = FEATURES.index(name)
        x[:, j] = np.log1p(np.maximum(x[:, j], 0.0))
    return x


def _fit(raw: Array, y: NDArray[np.int64]) -> _Model:
    nps = raw[:, FEATURES.index("last_nps")]
    nps_fill = float(np.nanmedian(nps)) if np.isfinite(nps).any() else 0.0
    x = _design(raw, nps_fill)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit((x - mean) / scale, y)
    return _Model(model, mean, scale, nps_fill)


def _predict(m: _Model, raw: Array) -> tuple[Array, Array, Array]:
    """Churn probability, standardised features and each one's contribution to the log-odds."""
    z = (_design(raw, m.nps_fill) - m.mean) / m.scale
    contributions = z * m.model.coef_[0]
    return m.model.predict_proba(z)[:, 1], z, contributions


def _words(name: str, value: float, z_sign: float, row: Array) -> str:
    """One feature's value in plain words (``z_sign``: above or below the average customer)."""
    if name == "gap_ratio" and row[FEATURES.index("purchases")] <= 1:
        return f"No second purchase in {row[FEATURES.index('recency')]:.0f} days"
    if name == "recency":
        return f"No purchase for {value:.0f} days"
    if name == "gap_ratio":
        return f"Quiet for {value:.1f}× their usual time between purchases"
    if name == "purchases":
        many = "purchases" if value != 1 else "purchase"
        return f"{'Only ' if z_sign < 0 else ''}{value:.0f} {many} so far"
    if name == "avg_amount":
        return f"{'Low' if z_sign < 0 else 'High'} average order value ({value:,.2f})"
    if name == "tenure":
        return f"{'New' if z_sign < 0 else 'Long-standing'} customer ({value:.0f} days)"
    if name == "idle":
        return f"No activity of any kind for {value:.0f} days"
    if name == "events_recent":
        return f"{'Only ' if z_sign < 0 else ''}{value:.0f} events in the last {WINDOW:.0f} days"
    if name == "support_recent":
        return f"{value:.0f} support or complaint events in the last {WINDOW:.0f} days"
    if name == "last_nps":
        return f"Last NPS score {value:.0f}"
    if name == "cancelled":
        return "Has cancelled"
    return "Never answered an NPS survey" if value else "Answered an NPS survey"


def reasons(
    raw: Array, z: Array, contributions: Array, *, top: int = 3
) -> list[list[dict[str, Any]]]:
    """Per customer, up to ``top`` features that raise their risk most, in words."""
    out = []
    for row, zs, contrib in zip(raw, z, contributions, strict=True):
        order = np.argsort(-contrib)[:top]
        items = []
        for j in order:
            if contrib[j] <= 0.05:
                break
            name = FEATURES[j]
            if name == "last_nps" and np.isnan(row[j]):
                continue
            # the absence of something is no reason in words ("0 complaints", "answered NPS")
            if name in ("support_recent", "no_nps", "cancelled") and row[j] == 0:
                continue
            z_sign = 1.0 if zs[j] > 0 else -1.0
            items.append(
                {
                    "feature": name,
                    "text": _words(name, float(row[j]), z_sign, row),
                    "weight": round(float(contrib[j]), 3),
                }
            )
        out.append(items)
    return out


@dataclass
class ChurnOutcome:
    customers: NDArray[np.int64]
    risk: Array | None
    reasons: list[list[dict[str, Any]]]
    validation: dict[str, Any]


def churn_scores(
    activity: Activity, *, as_of_day: float, horizon: float, cancel_event: str = ""
) -> ChurnOutcome:
    """Validate on a time split, then score everyone who bought by ``as_of_day``."""
    score_ids, score_raw, _ = features_at(activity, as_of_day)
    empty = ChurnOutcome(score_ids, None, [[] for _ in score_ids], {})
    test_cut = as_of_day - horizon
    train_cut = as_of_day - 2 * horizon
    test_ids, test_raw, _ = features_at(activity, test_cut)
    if test_ids.size < MIN_TRAIN:
        empty.validation = {
            "error": f"Fewer than {MIN_TRAIN} buyers {horizon:.0f} days before the as-of date: not enough history to learn churn."
        }
        return empty
    y_test = churned(activity, test_ids, test_cut, horizon)
    if min(y_test.sum(), (1 - y_test).sum()) < 5:
        empty.validation = {
            "error": "Almost everyone (or no one) churned in the last period: nothing to learn from."
        }
        return empty
    validation: dict[str, Any] = {
        "definition": f"no purchase in {horizon:.0f} days"
        + (f" or a {cancel_event!r} event" if cancel_event else ""),
        "features": list(FEATURES),
    }
    train_ids, train_raw, _ = features_at(activity, train_cut)
    y_train = (
        churned(activity, train_ids, train_cut, horizon)
        if train_ids.size
        else np.zeros(0, np.int64)
    )
    if train_ids.size >= MIN_TRAIN and min(y_train.sum(), (1 - y_train).sum()) >= 5:
        held = _fit(train_raw, y_train)
        p_test = _predict(held, test_raw)[0]
        prob_true, prob_pred = calibration_curve(y_test, p_test, n_bins=5, strategy="quantile")
        validation.update(
            train_cut_day=train_cut,
            test_cut_day=test_cut,
            train_customers=int(train_ids.size),
            test_customers=int(test_ids.size),
            test_churn_rate=float(y_test.mean()),
            roc_auc=float(roc_auc_score(y_test, p_test)),
            pr_auc=float(average_precision_score(y_test, p_test)),
            calibration=[
                {"predicted": float(p), "actual": float(t)}
                for p, t in zip(prob_pred, prob_true, strict=True)
            ],
        )
    else:
        validation["error"] = "Not enough history for a held-out test (needs two churn windows)."
    final = _fit(test_raw, y_test)
    coefs = final.model.coef_[0]
    validation["coefficients"] = {name: float(c) for name, c in zip(FEATURES, coefs, strict=True)}
    validation["fit_customers"] = int(test_ids.size)
    risk, z, contributions = _predict(final, score_raw)
    return ChurnOutcome(score_ids, risk, reasons(score_raw, z, contributions), validation)


def activity_from(
    purchases: tuple[ArrayLike, ArrayLike, ArrayLike],
    events: tuple[ArrayLike, ArrayLike, ArrayLike] | None = None,
    nps: tuple[ArrayLike, ArrayLike, ArrayLike] | None = None,
    cancels: tuple[ArrayLike, ArrayLike] | None = None,
) -> Activity:
    """Build an ``Activity`` from (customer, day, amount), (customer, day, is_support),
    (customer, day, score) and (customer, day) cancellation arrays."""
    pc, pd, pa = purchases
    kwargs: dict[str, Any] = {}
    if events is not None:
        ec, ed, es = events
        kwargs.update(
            event_customer=np.asarray(ec, np.int64),
            event_day=np.asarray(ed, float),
            event_support=np.asarray(es, bool),
        )
    if nps is not None:
        nc, nd, ns = nps
        kwargs.update(
            nps_customer=np.asarray(nc, np.int64),
            nps_day=np.asarray(nd, float),
            nps_score=np.asarray(ns, float),
        )
    if cancels is not None:
        cc, cd = cancels
        kwargs.update(cancel_customer=np.asarray(cc, np.int64), cancel_day=np.asarray(cd, float))
    return Activity(
        np.asarray(pc, np.int64), np.asarray(pd, float), np.asarray(pa, float), **kwargs
    )
