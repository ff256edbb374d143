"""Personas: customers clustered on behaviour (RFM plus channel mix) into a few named groups.

Features per customer come from the analytics engine's aggregates (``analytics.selectors.
behaviour_vectors``: grouped queries where the events are, answered as arrays, no per-event rows
and no Python object per customer): recency, tenure, interactions, orders, revenue, support
contacts, returns and the share of interactions on each main channel (ties in channel volume by
name), over the events of a range of days (by default the last 90 up to the workspace's as-of
time; recency and tenure measured up to the range's end). Counts are log-scaled, everything is
standardised, and k-means (scikit-learn, fixed ``random_state``) groups them; past
``FIT_SAMPLE`` customers the centres come from a repeatable random sample of them and everyone
is assigned to the nearest. Each cluster is named from how its centre differs from the average
customer and explained in words, with its size and its members' most common journey.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
from django.utils import timezone

from cxloop.analytics import selectors as analytics_selectors
from cxloop.core.models import Workspace
from cxloop.events import selectors as event_selectors
from cxloop.metrics.trends import Range

if TYPE_CHECKING:
    from cxloop.analytics.behaviour import BehaviourVectors

ORDER_EVENT = "Order Completed"
SUPPORT_EVENTS = ("Support Ticket Opened",)
RETURN_EVENTS = ("Product Returned", "Order Refunded")
MAIN_CHANNEL_SHARE = 0.03  # channels with less of all interactions are pooled as "other"
MIN_K, MAX_K = 2, 8
RANDOM_STATE = 7
JOURNEY_STEPS = 4
JOURNEY_EVENTS = 6
FIT_SAMPLE = 20_000  # customers k-means fits on at most (a repeatable sample); all are assigned


class PersonaError(ValueError):
    """Personas cannot be computed as asked (too few active customers, bad k)."""


@dataclass
class Features:
    """One row per customer: the raw behaviour numbers clustering works on."""

    customer_ids: list[int]
    columns: list[str]
    values: np.ndarray  # shape (customers, columns)
    behaviour: BehaviourVectors | None = None  # the engine's arrays: journeys, channel mix
    as_of: datetime | None = None  # recency and tenure are measured up to this time

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.columns.index(name)]


@dataclass
class Persona:
    key: int
    name: str
    size: int
    share: float
    explanation: list[str]
    journey: tuple[str, ...]
    journey_share: float
    means: dict[str, float]
    zscores: dict[str, float]
    customer_ids: list[int]
    stages: list[tuple[str, str, float]] = field(default_factory=list)  # journey, stage, share


@dataclass
class PersonaResult:
    k: int
    customers: int
    channels: list[str]
    personas: list[Persona]
    averages: dict[str, float]
    as_of: datetime | None = None
    span: Range | None = None  # the days whose events count (``personas_compute``)
    fitted_on: int | None = None  # the sample's size when the centres came from a sample


# ----------------------------------------------------------------------------------- features


def persona_features(
    *,
    workspace: Workspace,
    now: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Features:
    """Behaviour features of every customer with at least one interaction in ``since <=
    occurred_at < until`` (an open side: unbounded), from those interactions only.

    Recency and tenure are measured as of ``now``: the range's end (``personas_compute``), by
    default the workspace's latest event: the present for live data (events keep arriving), the
    end of the history for an import (1997 purchases must not make every customer 30 years
    lapsed)."""
    now = now or event_selectors.event_latest_at(workspace=workspace) or timezone.now()
    found = analytics_selectors.behaviour_vectors(
        workspace=workspace,
        order_event=ORDER_EVENT,
        support_events=SUPPORT_EVENTS,
        return_events=RETURN_EVENTS,
        since=since,
        until=until,
    )
    n = len(found)
    totals = np.bincount(found.channel_code, minlength=len(found.channels), weights=found.channel_n)
    grand = int(totals.sum()) or 1
    ranked = sorted(
        ((c, int(t)) for c, t in zip(found.channels, totals, strict=True) if t),
        key=lambda item: (-item[1], item[0]),
    )
    main = [c for c, t in ranked if t / grand >= MAIN_CHANNEL_SHARE and c != "other"]
    channels = [*main[:5], "other"]

    def events_on(codes: list[int]) -> np.ndarray:  # each customer's step events on ``codes``
        on = np.isin(found.channel_code, codes)
        return np.bincount(found.channel_row[on], weights=found.channel_n[on], minlength=n)

    total = events_on(list(range(len(found.channels))))
    columns = [
        "recency_days", "tenure_days", "interactions", "orders", "revenue", "support", "returns",
        *(f"share_{c}" for c in channels),
    ]  # fmt: skip
    values = np.zeros((n, len(columns)))
    now_us = (now - _EPOCH) // timedelta(microseconds=1)
    values[:, 0] = np.maximum(0.0, (now_us - found.last) / _DAY_US)
    values[:, 1] = np.maximum(0.0, (now_us - found.first) / _DAY_US)
    values[:, 2] = total
    values[:, 3], values[:, 4] = found.orders, found.revenue
    values[:, 5], values[:, 6] = found.support, found.returns
    named = total.copy()
    for offset, channel in enumerate(channels[:-1]):
        on = events_on([found.channels.index(channel)])
        values[:, 7 + offset] = on / total
        named -= on
    values[:, 6 + len(channels)] = named / total  # "other": every channel not named
    return Features(found.customer_ids.tolist(), columns, values, found, as_of=now)


_DAY_US = 86_400_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# ----------------------------------------------------------------------------------- clustering

_LOGGED = ("recency_days", "tenure_days", "interactions", "orders", "revenue", "support", "returns")


def cluster(features: Features, *, k: int) -> PersonaResult:
    """Group customers into ``k`` personas with k-means on standardised features."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    if not MIN_K <= k <= MAX_K:
        raise PersonaError(f"choose between {MIN_K} and {MAX_K} personas")
    n = len(features.customer_ids)
    if n < k * 5:
        raise PersonaError(
            f"{k} personas need at least {k * 5} customers with interactions; there are {n}"
        )
    matrix = features.values.copy()
    for name in _LOGGED:
        index = features.columns.index(name)
        matrix[:, index] = np.log1p(matrix[:, index])
    scaled = StandardScaler().fit_transform(matrix)
    model = KMeans(n_clusters=k, n_init=10, random_state=RANDOM_STATE)
    sample = fit_sample(n)
    with threadpool_limits(1), warnings.catch_warnings():  # BLAS threads: 50x slower here
        warnings.simplefilter("ignore", ConvergenceWarning)  # fewer distinct points than k
        if sample is None:
            labels = model.fit_predict(scaled)
        else:  # centres from the sample, everyone assigned to the nearest
            labels = model.fit(scaled[sample]).predict(scaled)

    averages = {c: float(features.values[:, i].mean()) for i, c in enumerate(features.columns)}
    averages["recency_days"] = float(np.median(features.column("recency_days")))
    spread = features.values.std(axis=0)
    spread[spread == 0] = 1.0
    channels = [c.removeprefix("share_") for c in features.columns if c.startswith("share_")]
    personas = []
    for key in range(k):
        members = labels == key
        if not members.any():  # fewer distinct behaviours than clusters asked for
            continue
        rows = features.values[members]
        means = {c: float(rows[:, i].mean()) for i, c in enumerate(features.columns)}
        means["recency_days"] = float(np.median(rows[:, features.columns.index("recency_days")]))
        zscores = {
            c: float((rows[:, i].mean() - features.values[:, i].mean()) / spread[i])
            for i, c in enumerate(features.columns)
        }
        buyers = float((rows[:, features.columns.index("orders")] > 0).mean())
        ids = [features.customer_ids[i] for i in np.flatnonzero(members)]
        journey, journey_share = typical_journey(features.behaviour, members)
        mix = channel_mix(features.behaviour, members)
        personas.append(
            Persona(
                key=key,
                name=persona_name(means, zscores, averages, channels, buyers, mix),
                size=len(ids),
                share=len(ids) / n,
                explanation=explain(means, zscores, averages, buyers),
                journey=journey,
                journey_share=journey_share,
                means=means,
                zscores=zscores,
                customer_ids=ids,
            )
        )
    personas.sort(key=lambda p: (-p.size, p.name))
    _deduplicate_names(personas)
    return PersonaResult(
        k=len(personas),
        customers=n,
        channels=channels,
        personas=personas,
        averages=averages,
        as_of=features.as_of,
        fitted_on=None if sample is None else len(sample),
    )


def fit_sample(n: int) -> np.ndarray | None:
    """The rows k-means fits its centres on when there are over ``FIT_SAMPLE`` customers: the
    same random ``FIT_SAMPLE`` for the same ``n`` (a fixed seed), in row order; else None (all)."""
    if n <= FIT_SAMPLE:
        return None
    return np.sort(np.random.default_rng(RANDOM_STATE).choice(n, FIT_SAMPLE, replace=False))


def persona_name(
    means: dict,
    zscores: dict,
    averages: dict,
    channels: list[str],
    buyers: float,
    mix: Counter | None = None,
) -> str:
    """'Loyal omnichannel big spenders', 'Lapsed web browsers', 'Active store regulars'...

    When: lapsed (median 90+ days since the last interaction), loyal (recent and ordering at least
    as often as average), active, occasional. Where: the dominant channel, two channels, or
    omnichannel (three or more with 15%+). What: browsers/readers (under a quarter ever ordered),
    big spenders (1.6x average revenue), regulars (1.3x average orders), shoppers.
    """
    recency = means["recency_days"]
    if recency >= 90:
        when = "Lapsed"
    elif recency <= 30 and means["orders"] >= max(1.0, averages["orders"]):
        when = "Loyal"
    elif recency <= 45:
        when = "Active"
    else:
        when = "Occasional"
    shares = sorted(((means[f"share_{c}"], c) for c in channels), reverse=True)
    if shares[0][1] == "other" and mix:  # name the real channel behind the pooled ones
        pooled = [(n, c) for c, n in mix.items() if c not in channels]
        if pooled:
            shares[0] = (shares[0][0], max(pooled)[1])
    (top_share, top), (second_share, second) = shares[0], shares[1]
    if sum(1 for share, _ in shares if share >= 0.15) >= 3:
        where = "omnichannel"
    elif top_share >= 0.8 or second_share < 0.1:
        where = top
    else:
        where = f"{top} and {second}"
    if buyers < 0.25:
        what = "readers" if top == "email" and top_share >= 0.55 else "browsers"
    elif means["revenue"] >= 1.6 * max(averages["revenue"], 1e-9):
        what = "big spenders"
    elif means["orders"] >= 1.3 * max(averages["orders"], 1e-9):
        what = "regulars"
    else:
        what = "shoppers"
    if zscores["returns"] >= 1.0:
        what = f"{what} who return a lot"
    elif zscores["support"] >= 1.0:
        what = f"{what} who need support"
    return f"{when} {where} {what}"


def explain(means: dict, zscores: dict, averages: dict, buyers: float) -> list[str]:
    """The features that set a persona apart, most distinctive first (vs the average customer)."""
    lines: list[tuple[float, str]] = []
    for column, z in zscores.items():
        if abs(z) < 0.3 and column != "recency_days":
            continue
        mean, average = means[column], averages[column]
        if column == "recency_days":
            text = f"last active {mean:.0f} days ago (median {average:.0f})"
        elif column == "tenure_days":
            text = f"known for {mean:.0f} days (average {average:.0f})"
        elif column == "interactions":
            noun = "interaction" if round(mean) == 1 else "interactions"
            text = f"{mean:.0f} {noun} each (average {average:.0f})"
        elif column == "orders":
            text = f"{mean:.1f} orders each, {buyers:.0%} have ordered (average {average:.1f})"
        elif column == "revenue":
            text = f"{mean:,.0f} revenue each (average {average:,.0f})"
        elif column == "support":
            text = f"{mean:.2f} support tickets each (average {average:.2f})"
        elif column == "returns":
            text = f"{mean:.2f} returns or refunds each (average {average:.2f})"
        else:
            channel = column.removeprefix("share_")
            text = f"{mean:.0%} of interactions on {channel} (average {average:.0%})"
        weight = abs(z) if column != "recency_days" else max(abs(z), 0.29)
        lines.append((weight, text))
    lines.sort(key=lambda item: -item[0])
    return [text for _, text in lines[:5]]


def typical_journey(
    behaviour: BehaviourVectors | None, members: np.ndarray
) -> tuple[tuple[str, ...], float]:
    """The members' (a mask of the rows) most common path through their most widespread track
    events (each customer's first time of each, in time then name order); members without any
    of those events count in the share's whole only."""
    size = int(members.sum())
    if behaviour is None or not size:
        return (), 0.0
    among = members[behaviour.track_row]
    rows, codes = behaviour.track_row[among], behaviour.track_code[among]
    firsts = behaviour.track_first[among]
    reach = np.bincount(codes, minlength=len(behaviour.tracks))
    ranked = sorted(np.flatnonzero(reach), key=lambda c: (-reach[c], behaviour.tracks[c]))
    common = np.isin(codes, ranked[:JOURNEY_EVENTS])
    rows, codes, firsts = rows[common], codes[common], firsts[common]
    if not len(rows):
        return (), 0.0
    order = np.lexsort((codes, firsts, rows))  # codes follow the names' order
    rows, codes = rows[order], codes[order]
    customers, row_of = np.unique(rows, return_inverse=True)
    starts = np.searchsorted(rows, customers)
    step = np.arange(len(rows)) - starts[row_of]
    kept = step < JOURNEY_STEPS
    paths = np.full((len(customers), JOURNEY_STEPS), -1, dtype=np.int64)
    paths[row_of[kept], step[kept]] = codes[kept]
    distinct, counts = np.unique(paths, axis=0, return_counts=True)
    named = [
        (int(count), tuple(behaviour.tracks[c] for c in path if c >= 0))
        for path, count in zip(distinct, counts, strict=True)
    ]
    count, path = sorted(named, key=lambda item: (-item[0], item[1]))[0]
    return path, count / size


def channel_mix(behaviour: BehaviourVectors | None, members: np.ndarray) -> Counter:
    """The members' (a mask of the rows) step events per channel."""
    if behaviour is None:
        return Counter()
    among = members[behaviour.channel_row]
    counts = np.bincount(
        behaviour.channel_code[among],
        weights=behaviour.channel_n[among],
        minlength=len(behaviour.channels),
    )
    return Counter({behaviour.channels[c]: int(counts[c]) for c in np.flatnonzero(counts)})


def add_stages(result: PersonaResult, stage_maps: list[tuple[str, dict[int, str]]]) -> None:
    """Each persona's most common current stage in every journey (journey name, stage, share)."""
    for persona in result.personas:
        for journey, stage_of in stage_maps:
            stages = Counter(stage_of[c] for c in persona.customer_ids if c in stage_of)
            if stages:
                stage, count = sorted(stages.items(), key=lambda item: (-item[1], item[0]))[0]
                persona.stages.append((journey, stage, count / persona.size))


def _deduplicate_names(personas: list[Persona]) -> None:
    seen: Counter = Counter(p.name for p in personas)
    for name, count in seen.items():
        if count < 2:
            continue
        clashing = [p for p in personas if p.name == name]
        for persona in clashing:
            column = max(
                (c for c in persona.zscores if c != "recency_days"),
                key=lambda c: abs(persona.zscores[c]),
            )
            persona.name = f"{name} ({_WORDS.get(column, column.removeprefix('share_'))}"
            persona.name += f" {'high' if persona.zscores[column] > 0 else 'low'})"
        if len({p.name for p in clashing}) < len(clashing):
            for number, persona in enumerate(clashing, start=1):
                persona.name = f"{name} #{number}"


_WORDS = {
    "tenure_days": "tenure",
    "interactions": "activity",
    "orders": "orders",
    "revenue": "spend",
    "support": "support",
    "returns": "returns",
}
