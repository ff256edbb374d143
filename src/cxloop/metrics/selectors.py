"""Metric queries: the database counts (``GROUP BY``), Python adds the intervals.

Each query reads one narrow table (``feedback_response``, whose scores are denormalized) and
returns a handful of aggregate rows per period and group; :mod:`cxloop.metrics.definitions` turns
them into estimates. Periods are truncated in SQL with each backend's native date functions
(:class:`PeriodStart`): SQLite's ``date()`` modifiers and PostgreSQL's ``date_trunc``. Django's
``Trunc*`` functions give the same periods but on SQLite call a Python function per row, about
5× slower over a million responses (measured by ``bench/metrics.py``). Periods are UTC.

What is counted:

* NPS, CSAT and CES: completed responses with that score, by ``submitted_at``.
* Response rate: invitations sent in the window (``sent_at``) and how many got a completed
  response, plus responses started (``started_at``) without an invitation (public links,
  embeds) and how many of those were completed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    When,
)
from django.db.models.fields.json import KeyTextTransform

from cxloop.analytics.periods import PeriodStart, period_floor, period_next
from cxloop.core.models import Workspace
from cxloop.feedback import selectors as feedback_selectors
from cxloop.metrics import definitions as d
from cxloop.metrics._comments import Comment, Tone, comments_page
from cxloop.metrics._options import (
    BREAKDOWN_MAX_VALUES,
    PERSONAL_KEY,
    TRAIT_SAMPLE,
    FilterOptions,
    filter_options,
    trait_key_personal,
)
from cxloop.metrics._retention import (  # cohort horizon (issue 10)
    COHORT_HORIZON,
    COHORT_HORIZON_MAX,
    Cohort,
    RetentionRow,
    cohort_note,
    cohort_retention,
    horizon_start,
    retention_by_period,
)
from cxloop.metrics._rollup import rollup_answers, rollup_counts
from cxloop.metrics._window import WINDOW_METRICS, metric_window, usual_range
from cxloop.metrics.definitions import Estimate, MetricName
from cxloop.metrics.filters import (
    FilterError,
    Granularity,
    MetricQuery,
    ResponseFilters,
)

if TYPE_CHECKING:
    from cxloop.feedback.models import Invitation, Response

# periods, retention and the filter menus live in their own modules; callers keep importing
# them from here
__all__ = [
    "BREAKDOWN_MAX_VALUES",
    "COHORT_HORIZON",
    "COHORT_HORIZON_MAX",
    "PERSONAL_KEY",
    "TRAIT_SAMPLE",
    "WINDOW_METRICS",
    "Cohort",
    "Comment",
    "FilterOptions",
    "PeriodStart",
    "RetentionRow",
    "Tone",
    "cohort_note",
    "cohort_retention",
    "filter_options",
    "horizon_start",
    "metric_window",
    "period_floor",
    "period_next",
    "retention_by_period",
    "trait_key_personal",
    "usual_range",
]

NONE_LABEL = "(none)"


@dataclass(frozen=True, slots=True)
class MetricRow:
    """One estimate of a metric: for one period and/or group (None when not split that way)."""

    period: date | None
    group: str | None  # the raw key (channel, touchpoint, survey id, trait value)
    label: str | None  # what to show for the group (a survey's name, "(none)")
    estimate: Estimate


def _count_if(condition) -> Sum:
    return Sum(Case(When(condition, then=1), default=0, output_field=IntegerField()))


def responses_filtered(
    *, workspace: Workspace, filters: ResponseFilters, metric: MetricName = MetricName.NPS
) -> QuerySet[Response]:
    """The responses a score metric counts under ``filters``: completed, with that score, by
    ``submitted_at``. (For the response rate: every response, by ``started_at``.)"""
    responses = feedback_selectors.workspace_responses(workspace=workspace)
    if metric is MetricName.RESPONSE_RATE:
        return _filtered(responses, filters, "started_at")
    responses = _filtered(responses, filters, "submitted_at")
    return responses.filter(completed=True, **{f"{metric.value}_score__isnull": False})


def invitations_filtered(*, workspace: Workspace, filters: ResponseFilters) -> QuerySet[Invitation]:
    """Invitations sent (``sent_at``) under ``filters``: the response rate's invited base."""
    invitations = _filtered(
        feedback_selectors.workspace_invitations(workspace=workspace), filters, "sent_at"
    )
    return invitations.filter(status=feedback_selectors.InvitationStatus.SENT)


def _filtered(rows: QuerySet, filters: ResponseFilters, when: str) -> QuerySet:
    """Filters shared by a workspace's responses and invitations (both have survey, channel,
    touchpoint and customer)."""
    if filters.start is not None:
        rows = rows.filter(**{f"{when}__gte": filters.start})
    if filters.end is not None:
        rows = rows.filter(**{f"{when}__lt": filters.end})
    if filters.survey_id is not None:
        rows = rows.filter(survey_id=filters.survey_id)
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    if filters.touchpoint:
        rows = rows.filter(touchpoint=filters.touchpoint)
    if filters.customer_ids is not None:
        rows = rows.filter(customer_id__in=filters.customer_ids)
    if filters.trait is not None:
        key, value = filters.trait
        rows = rows.alias(_trait=KeyTextTransform(key, "customer__traits")).filter(
            _trait__iexact=value
        )
    return rows


def metric_query_check(*, workspace: Workspace, query: MetricQuery) -> None:
    """Raise :class:`FilterError` when the query names a survey of another workspace."""
    survey_id = query.filters.survey_id
    if (
        survey_id is not None
        and not feedback_selectors.workspace_surveys(workspace=workspace)
        .filter(pk=survey_id)
        .exists()
    ):
        raise FilterError("survey", f"no survey {survey_id} in this workspace")


def _aggregates(metric: MetricName, filters: ResponseFilters) -> dict:
    """The counts (``n``, ``a``, ``b``) each metric needs, as ORM aggregates over responses."""
    if metric is MetricName.NPS:
        return {
            "n": Count("nps_score"),
            "a": _count_if(Q(nps_score__gte=d.NPS_PROMOTER_MIN)),
            "b": _count_if(Q(nps_score__lte=d.NPS_DETRACTOR_MAX)),
        }
    if metric is MetricName.CSAT:
        top_box = filters.csat_top_box
        satisfied = (
            Q(csat_score__gte=top_box)
            if top_box is not None
            else Q(csat_score__gte=F("survey__csat_top_box"))
        )
        return {"n": Count("csat_score"), "a": _count_if(satisfied)}
    if metric is MetricName.CES:
        return {
            "n": Count("ces_score"),
            "a": Sum("ces_score"),
            "b": Sum(F("ces_score") * F("ces_score"), output_field=IntegerField()),
        }
    return {"n": Count("pk"), "a": _count_if(Q(completed=True))}


def estimate_from(metric: MetricName, row: dict) -> Estimate:
    """The estimate for one aggregate row (``n``, ``a``, ``b`` as :func:`metric_rows` counts)."""
    n = row["n"] or 0
    if metric is MetricName.NPS:
        return d.nps(promoters=row["a"] or 0, detractors=row["b"] or 0, n=n)
    if metric is MetricName.CSAT:
        return d.csat(satisfied=row["a"] or 0, n=n)
    if metric is MetricName.CES:
        return d.ces(total=float(row["a"] or 0), total_sq=float(row["b"] or 0), n=n)
    return d.response_rate(completed=row["a"] or 0, started=n)


GROUP = "_group"
PERIOD = "_period"


def _grouped(
    rows: QuerySet, when: str, by: Granularity | None, split: str | None, aggregates: dict
) -> list[dict]:
    """``GROUP BY`` period (of ``when``) and/or split; rows have ``_period``/``_group`` keys."""
    keys = []
    if by is not None:
        rows = rows.annotate(**{PERIOD: PeriodStart(when, by)})
        keys.append(PERIOD)
    if split is not None:
        if split.startswith("trait:"):
            group: KeyTextTransform | F = KeyTextTransform(
                split.removeprefix("trait:"), "customer__traits"
            )
        else:
            group = F("survey_id" if split == "survey" else split)
        rows = rows.annotate(**{GROUP: group})
        keys.append(GROUP)
    if not keys:
        return [rows.aggregate(**aggregates)]
    return list(rows.values(*keys).annotate(**aggregates).order_by(*keys))


def _counts(
    workspace: Workspace,
    metric: MetricName,
    filters: ResponseFilters,
    by: Granularity | None,
    split: str | None,
    rollup: bool = True,
) -> list[dict]:
    """Aggregate rows for one metric. NPS, CSAT and CES come from the daily rollup when it
    answers the query exactly (``metrics._rollup``; ``rollup=False`` forces the raw rows).
    The response rate adds invitations to responses:

    base = invitations sent + responses started without an invitation; answered = invitations
    with a completed response + uninvited responses completed.
    """
    if rollup and rollup_answers(metric, filters, split):
        return rollup_counts(
            workspace=workspace, metric=metric, filters=filters, by=by, split=split,
            period_key=PERIOD, group_key=GROUP,
        )  # fmt: skip
    responses = responses_filtered(workspace=workspace, filters=filters, metric=metric)
    if metric is not MetricName.RESPONSE_RATE:
        return _grouped(responses, "submitted_at", by, split, _aggregates(metric, filters))
    uninvited = _grouped(
        responses.filter(invitation__isnull=True),
        "started_at",
        by,
        split,
        _aggregates(metric, filters),
    )
    answered = Exists(
        feedback_selectors.workspace_responses(workspace=workspace).filter(
            invitation=OuterRef("pk"), completed=True
        )
    )
    invited = _grouped(
        invitations_filtered(workspace=workspace, filters=filters),
        "sent_at",
        by,
        split,
        {"n": Count("pk"), "a": _count_if(answered)},
    )
    merged: dict[tuple, dict] = {}
    for row in (*uninvited, *invited):
        key = (row.get(PERIOD), row.get(GROUP))
        into = merged.setdefault(key, {PERIOD: key[0], GROUP: key[1], "n": 0, "a": 0})
        into["n"] += row["n"] or 0
        into["a"] += row["a"] or 0
    if by is None and split is None:
        return [
            {"n": sum(r["n"] for r in merged.values()), "a": sum(r["a"] for r in merged.values())}
        ]
    return [row for row in merged.values() if row["n"]]


def _labels(workspace: Workspace, split: str | None, rows: list[dict]) -> dict[str, str]:
    """Display names of the groups: survey names for a survey split, "(none)" for blanks."""
    if split != "survey":
        return {}
    ids = {row[GROUP] for row in rows if row.get(GROUP) is not None}
    surveys = (
        feedback_selectors.workspace_surveys(workspace=workspace)
        .filter(pk__in=ids)
        .values_list("pk", "name")
    )
    return {str(pk): name for pk, name in surveys}


def _row(metric: MetricName, split: str | None, names: dict, row: dict) -> MetricRow:
    group = label = None
    if split is not None:
        raw = row.get(GROUP)
        group = "" if raw is None else str(raw)
        label = names.get(group, group if split == "survey" else (group or NONE_LABEL))
    return MetricRow(
        period=row.get(PERIOD), group=group, label=label, estimate=estimate_from(metric, row)
    )


def metric_rows(
    *,
    workspace: Workspace,
    metric: MetricName,
    filters: ResponseFilters,
    by: Granularity | None = None,
    split: str | None = None,
    rollup: bool = True,
) -> list[MetricRow]:
    """The metric per period (``by``) and/or group (``split``), ordered by period then group.

    ``split`` is ``channel``, ``touchpoint``, ``survey`` or ``trait:<key>`` (a customer trait;
    responses without a customer or that trait fall in ``(none)``). One ``GROUP BY`` query
    (two for the response rate: responses and invitations). Without ``by`` and ``split``: one
    row, the total. NPS, CSAT and CES read the daily rollup when it gives the same numbers
    (``rollup=False``: always the raw responses).
    """
    metric = MetricName(metric)
    rows = _counts(workspace, metric, filters, by, split, rollup)
    names = _labels(workspace, split, rows)
    result = [_row(metric, split, names, row) for row in rows]
    # the same order on every backend (they sort NULL groups differently)
    return sorted(result, key=lambda r: (r.period or date.min, r.label or "", r.group or ""))


@dataclass(frozen=True, slots=True)
class Headline:
    """A metric over the chosen window, the one before it, and whether the change is real."""

    metric: MetricName
    current: Estimate
    previous: Estimate | None
    change: d.Comparison | None


def metric_headline(
    *, workspace: Workspace, metric: MetricName, filters: ResponseFilters
) -> Headline:
    """The metric for ``filters`` and for the equally long window before, with a test of the
    change (:func:`cxloop.metrics.definitions.compare`)."""
    metric = MetricName(metric)
    current = metric_rows(workspace=workspace, metric=metric, filters=filters)[0].estimate
    before = filters.previous()
    if before is None:
        return Headline(metric=metric, current=current, previous=None, change=None)
    previous = metric_rows(workspace=workspace, metric=metric, filters=before)[0].estimate
    return Headline(
        metric=metric, current=current, previous=previous, change=d.compare(current, previous)
    )


@dataclass(frozen=True, slots=True)
class GroupComparison:
    """One group's estimate against all the other groups together (a two-segment test)."""

    row: MetricRow
    rest: Estimate
    change: d.Comparison


OTHER_GROUP = "__other__"  # the key of the row that gathers the groups past ``limit``


def _other_label(count: int) -> str:
    return f"Other ({count} groups)"


def metric_groups_vs_rest(
    *,
    workspace: Workspace,
    metric: MetricName,
    filters: ResponseFilters,
    split: str,
    limit: int | None = None,
    rollup: bool = True,
) -> list[GroupComparison]:
    """Each group of ``split`` tested against everyone else, largest groups first.

    The rest's counts are the total minus the group's, so this is the same single query. The
    table tests every group, so its p-values are Holm-adjusted together (``change.p_adjusted``,
    which ``change.significant`` reads; :func:`cxloop.metrics.definitions.adjust_holm`).
    With ``limit``: the ``limit`` largest groups, and the others summed into one last row
    (group ``OTHER_GROUP``, label "Other (k groups)"), so a split with many values stays short.
    """
    metric = MetricName(metric)
    rows = [row for row in _counts(workspace, metric, filters, None, split, rollup) if row.get("n")]
    keys = [k for k in ("n", "a", "b") if rows and k in rows[0]]
    totals = {k: sum((row[k] or 0) for row in rows) for k in keys}
    names = _labels(workspace, split, rows)
    other: dict | None = None
    if limit is not None and len(rows) > limit:
        rows.sort(key=lambda row: (-row["n"], str(row.get(GROUP))))
        rows, rest_rows = rows[:limit], rows[limit:]
        other = {k: sum((row[k] or 0) for row in rest_rows) for k in keys}
        other[GROUP] = OTHER_GROUP
        names = {**names, OTHER_GROUP: _other_label(len(rest_rows))}
        rows.append(other)
    shown = [_row(metric, split, names, row) for row in rows]
    rests = [estimate_from(metric, {k: totals[k] - (row[k] or 0) for k in keys}) for row in rows]
    changes = d.adjust_holm([d.compare(s.estimate, r) for s, r in zip(shown, rests, strict=True)])
    result = [
        GroupComparison(row=s, rest=r, change=c)
        for s, r, c in zip(shown, rests, changes, strict=True)
    ]
    result.sort(key=lambda c: (c.row.group == OTHER_GROUP, -c.row.estimate.n, c.row.label or ""))
    return result


@dataclass(frozen=True, slots=True)
class TwoGroups:
    """Two chosen groups of one split side by side: ``first − second`` with its 95% interval
    and test (:func:`cxloop.metrics.definitions.difference_interval`, ``compare``)."""

    first: MetricRow
    second: MetricRow
    change: d.Comparison
    low: float | None
    high: float | None


def metric_two_groups(
    *,
    workspace: Workspace,
    metric: MetricName,
    filters: ResponseFilters,
    split: str,
    first: str,
    second: str,
) -> TwoGroups:
    """Group ``first`` against group ``second`` of ``split`` (raw keys as :class:`MetricRow`
    ``group`` gives them; ``""`` is "(none)"). A group with no answers counts as empty.
    One ``GROUP BY`` query, as :func:`metric_rows`."""
    metric = MetricName(metric)
    rows = _counts(workspace, metric, filters, None, split)
    names = _labels(workspace, split, rows)
    shown = {r.group: r for r in (_row(metric, split, names, row) for row in rows)}

    def pick(key: str) -> MetricRow:
        if key in shown:
            return shown[key]
        empty = estimate_from(metric, {"n": 0, "a": 0, "b": 0})
        label = names.get(key, key) if split == "survey" else (key or NONE_LABEL)
        return MetricRow(period=None, group=key, label=label, estimate=empty)

    a, b = pick(first), pick(second)
    low, high = d.difference_interval(a.estimate, b.estimate)
    return TwoGroups(
        first=a, second=b, change=d.compare(a.estimate, b.estimate), low=low, high=high
    )


def comments_list(
    *,
    workspace: Workspace,
    filters: ResponseFilters,
    limit: int = 20,
    offset: int = 0,
    tone: Tone | None = None,
    theme_id: int | None = None,
) -> list[Comment]:
    """The latest completed responses with a comment, filtered like the metrics; ``tone``
    keeps one band of scores, ``theme_id`` the comments the text analysis gave that theme.
    ``offset`` pages back (ask for ``limit + 1`` to learn whether there is more)."""
    responses = _filtered(
        feedback_selectors.workspace_responses(workspace=workspace), filters, "submitted_at"
    ).filter(completed=True)
    return comments_page(
        responses, workspace=workspace, limit=limit, offset=offset, tone=tone, theme_id=theme_id
    )


def responses_fingerprint(*, workspace: Workspace) -> str:
    """A cheap value that changes when a response is stored or submitted (for live pages).

    Two index lookups, whatever the table size: the newest response id of the whole table (so
    imports of old answers count too) and this workspace's latest ``submitted_at`` (a partial
    response being completed). Hashed, so it tells nothing about other workspaces. Edits that
    change neither (a score corrected in place, a deletion) wait for the next new answer.
    """
    top = feedback_selectors.response_latest_id()
    last = feedback_selectors.workspace_responses(workspace=workspace).aggregate(
        last=Max("submitted_at")
    )["last"]
    text = f"{top or 0}|{last.isoformat() if last else '-'}|{workspace.pk}"
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
