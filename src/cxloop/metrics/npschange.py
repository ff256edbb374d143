"""What changed in NPS: this period against the previous one (or a chosen range), for one survey
or all, and which channels, trait values and segments explain it.

Statistics (``metrics.definitions``): an NPS is p − d (shares of promoters and detractors of n
answers); its variance is (p + d − (p − d)²)/n, the variance of a score of +1, 0 or −1 per answer.
The change is tested with Sauro & Lewis's adjusted-Wald z (``definitions.compare``: ¾ added to
promoters and detractors, 3 to n) and its 95 % interval is ``definitions.difference_interval``.
Each group's NPS now is tested against its NPS before (the same test), Holm-adjusted over every
group of every split together. Contributions add up to the change within one split (channels, or
the trait's values): with shares s₀, s₁ of answers and scores N₀, N₁ (a group with no answers
before takes the overall previous score N̄₀), the **score effect** is s₁·(N₁ − N₀) and the **mix
effect** (the group's share moving) is (s₁ − s₀)·(N₀ − N̄₀). Segments overlap, so theirs are each
"if only this segment had moved" and do not add up.

One selector (:func:`nps_change`) for the page and ``/api/trends/changes/nps``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from cxloop.core.models import Workspace
from cxloop.feedback import selectors as feedback_selectors
from cxloop.metrics import definitions as d
from cxloop.metrics.changes import ALPHA, p_text
from cxloop.metrics.definitions import Estimate, MetricName
from cxloop.metrics.filters import ResponseFilters
from cxloop.metrics.funnelchange import (
    MAX_SENTENCES,
    MAX_VALUES,
    Periods,
    change_periods,
    check_trait,
    plus_minus,
)
from cxloop.metrics.selectors import metric_rows
from cxloop.metrics.trends import OTHER_LABEL, TrendQueryError

_ZERO = (0, 0, 0)  # answers, promoters, detractors


@dataclass(slots=True)
class NpsGroupChange:
    dimension: str  # channel, trait or segment
    label: str
    before: Estimate
    after: Estimate
    contribution: float | None  # NPS points of the overall change
    score_effect: float | None
    mix_effect: float | None
    p_value: float | None
    p_adjusted: float | None = None
    significant: bool = False


@dataclass(slots=True)
class NpsChange:
    label: str
    periods: Periods
    before: Estimate
    after: Estimate
    difference: float | None
    low: float | None  # 95 % interval of the difference
    high: float | None
    p_value: float | None
    significant: bool
    verdict: str
    alpha: float
    trait: str = ""
    groups: list[NpsGroupChange] = field(default_factory=list)
    tested: int = 0
    sentences: list[str] = field(default_factory=list)

    def of(self, dimension: str) -> list[NpsGroupChange]:
        return [g for g in self.groups if g.dimension == dimension]


def _counts(estimate: Estimate) -> tuple[int, int, int]:
    s = estimate.sample
    return _ZERO if s is None else (s.n, round(s.a), round(s.b))


def _nps(counts: tuple[int, int, int]) -> Estimate:
    n, promoters, detractors = counts
    return d.nps(promoters=promoters, detractors=detractors, n=n)


def _split(
    workspace: Workspace, filters: tuple[ResponseFilters, ResponseFilters], split: str
) -> dict[str, list[tuple[int, int, int]]]:
    """Label → [counts before, counts after] of one split."""
    found: dict[str, list[tuple[int, int, int]]] = {}
    for side, rows in enumerate(
        metric_rows(workspace=workspace, metric=MetricName.NPS, filters=f, split=split)
        for f in filters
    ):
        for row in rows:
            pair = found.setdefault(row.label or "", [_ZERO, _ZERO])
            pair[side] = _counts(row.estimate)
    return found


def _total(workspace: Workspace, filters: ResponseFilters) -> tuple[int, int, int]:
    rows = metric_rows(workspace=workspace, metric=MetricName.NPS, filters=filters)
    return _counts(rows[0].estimate)


def _add(a: tuple[int, int, int], b: tuple[int, int, int]) -> tuple[int, int, int]:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def _groups(
    dimension: str,
    found: Mapping[str, list[tuple[int, int, int]]],
    overall: tuple[Estimate, Estimate],
    keep: int | None,
) -> list[NpsGroupChange]:
    ranked = sorted(found.items(), key=lambda item: (-(item[1][0][0] + item[1][1][0]), item[0]))
    if keep is not None and len(ranked) > keep + 1:
        rest = [_ZERO, _ZERO]
        for _, (b, a) in ranked[keep:]:
            rest = [_add(rest[0], b), _add(rest[1], a)]
        ranked = [*ranked[:keep], (OTHER_LABEL, rest)]
    return [_group(dimension, label, b, a, overall) for label, (b, a) in ranked]


def _group(
    dimension: str,
    label: str,
    before: tuple[int, int, int],
    after: tuple[int, int, int],
    overall: tuple[Estimate, Estimate],
) -> NpsGroupChange:
    b, a = _nps(before), _nps(after)
    total0, total1 = overall[0].n, overall[1].n
    score0 = overall[0].value
    effect = mix = contribution = None
    if total1 and score0 is not None:
        n0 = b.value if b.value is not None else score0
        n1 = a.value if a.value is not None else n0
        s0 = before[0] / total0 if total0 else 0.0
        s1 = after[0] / total1
        effect = s1 * (n1 - n0)
        mix = (s1 - s0) * (n0 - score0)
        contribution = effect + mix
    test = d.compare(a, b)
    return NpsGroupChange(dimension, label, b, a, contribution, effect, mix, test.p_value)


def nps_change(
    *,
    workspace: Workspace,
    survey_id: int | None = None,
    trait: str = "",
    segments: Mapping[str, object] | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    compare_from: date | None = None,
    compare_to: date | None = None,
    alpha: float = ALPHA,
    now: datetime | None = None,
) -> NpsChange:
    """NPS (of survey ``survey_id``, or every survey) in the period against the compared one,
    decomposed by channel, by ``trait`` (when given) and by ``segments`` (name → customer ids:
    a set or a subquery; the caller picks them)."""
    if not 0 < alpha < 1:
        raise TrendQueryError(f"alpha: expected between 0 and 1, got {alpha}")
    check_trait(trait)
    survey_name = ""
    if survey_id is not None:
        survey = feedback_selectors.survey_get(workspace=workspace, survey_id=survey_id)
        if survey is None:
            raise TrendQueryError(f"survey: no survey {survey_id} in this workspace")
        survey_name = survey.name
    periods = change_periods(
        workspace=workspace, date_from=date_from, date_to=date_to, compare_from=compare_from,
        compare_to=compare_to, now=now,
    )  # fmt: skip
    base = (
        ResponseFilters(
            start=periods.previous.since, end=periods.previous.until, survey_id=survey_id
        ),
        ResponseFilters(
            start=periods.current.since, end=periods.current.until, survey_id=survey_id
        ),
    )
    before, after = (
        metric_rows(workspace=workspace, metric=MetricName.NPS, filters=f)[0].estimate for f in base
    )
    test = d.compare(after, before)
    low, high = d.difference_interval(after, before)
    result = NpsChange(
        label=f"NPS of {survey_name}" if survey_name else "NPS (all surveys)",
        periods=periods,
        before=before,
        after=after,
        difference=test.difference,
        low=low,
        high=high,
        p_value=test.p_value,
        significant=test.p_value is not None and test.p_value < alpha,
        verdict=test.verdict,
        alpha=alpha,
        trait=trait,
    )
    overall = (before, after)
    result.groups.extend(_groups("channel", _split(workspace, base, "channel"), overall, None))
    if trait:
        found = _split(workspace, base, f"trait:{trait}")
        result.groups.extend(_groups("trait", found, overall, MAX_VALUES))
    for name, ids in (segments or {}).items():
        counts = [_total(workspace, replace(f, customer_ids=ids)) for f in base]
        result.groups.append(_group("segment", name, counts[0], counts[1], overall))
    tested = [g for g in result.groups if g.p_value is not None]
    for group, adjusted in zip(tested, d.holm([g.p_value for g in tested]), strict=True):
        group.p_adjusted = adjusted
        group.significant = adjusted is not None and adjusted < alpha
    result.tested = len(tested)
    result.sentences = nps_sentences(result)
    return result


def _score(value: float | None) -> str:
    return "—" if value is None else plus_minus(value, 0)


def nps_sentences(change: NpsChange) -> list[str]:
    """The change in plain sentences with numbers, then the groups that explain most of it."""
    b, a = change.before, change.after
    if b.value is None or a.value is None:
        side = "the compared period" if b.value is None else "this period"
        return [f"{change.label}: no answers in {side}, nothing to compare."]
    counts = f"{b.n:,} and {a.n:,} answers"
    interval = (
        ""
        if change.low is None or change.high is None
        else f", 95 % interval of the change {plus_minus(change.low)} to {plus_minus(change.high)}"
    )
    p = "no test: too few answers" if change.p_value is None else p_text(change.p_value)
    if not change.significant:
        return [
            f"{change.label}: {_score(b.value)} → {_score(a.value)} ({p}{interval}; {counts}), "
            "no significant change."
        ]
    delta = a.value - b.value
    verb = "rose" if delta > 0 else "fell"
    sentences = [
        f"{change.label} {verb} from {_score(b.value)} to {_score(a.value)} "
        f"({p}{interval}; {counts})."
    ]
    moved = sorted(
        (
            g
            for g in change.groups
            if g.significant and g.contribution is not None and g.contribution * delta > 0
        ),
        key=lambda g: (-abs(g.contribution or 0.0), g.dimension, g.label),
    )
    for group in moved[:MAX_SENTENCES]:
        kind = {"channel": "Channel", "segment": "Segment"}.get(
            group.dimension, f"{change.trait} ="
        )
        sentences.append(
            f"{kind} {group.label}: {_score(group.before.value)} → {_score(group.after.value)} "
            f"({p_text(group.p_adjusted or 0.0)}, Holm-adjusted; {group.after.n:,} answers); "
            f"{abs(group.contribution or 0.0):.1f} of the {abs(delta):.1f} points."
        )
    if len(sentences) == 1:
        sentences.append(
            "No single channel, trait value or segment explains it significantly (Holm-adjusted)."
        )
    return sentences
