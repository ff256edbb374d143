"""The live CX dashboard: headline metrics with intervals, trend, breakdowns, comments, retention.

Live updates: the dashboard panel polls ``dashboard-panel`` every ``POLL_SECONDS`` with the
fingerprint of the responses it shows (``since``). When nothing changed the server answers
204 No Content after one indexed query, and htmx leaves the page alone; when a response arrived
(or was submitted) it answers with the re-rendered panel. This costs far less than re-rendering the
panel (some 15 queries and four figures) on every tick, and charts are not redrawn — losing hover
and zoom — while nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers

from cxloop.core import pii
from cxloop.core.permissions import Capability
from cxloop.metrics import filters as metric_filters
from cxloop.metrics import selectors as metric_selectors
from cxloop.metrics.definitions import METRIC_LABELS, MIN_SAMPLE, MetricName, comparisons_tested
from cxloop.metrics.filters import Granularity, MetricQuery
from cxloop.segments import selectors as segment_selectors
from cxloop.text import filters as text_filters
from cxloop.web.charts.embed import figure_json
from cxloop.web.charts.metrics import (
    breakdown_figure,
    churn_figure,
    cohort_figure,
    group_colour,
    trend_figure,
)
from cxloop.web.formats import fmt_change, fmt_diff, fmt_moe, fmt_p, fmt_value
from cxloop.web.forms.metrics import DEFAULT_SPLIT, DashboardForm
from cxloop.web.workspace import active_workspace, can, capability_required

POLL_SECONDS = 10
COMMENTS_SHOWN = 12
GROUPS_SHOWN = 12  # breakdown rows; the smaller groups are summed into "Other (k groups)"
NONE_KEY = "(none)"  # how a comparison form names the group without a value
RETENTION_MONTHS = 12  # the default cohort horizon (metric_selectors.COHORT_HORIZON)


@capability_required(Capability.READ_ANALYTICS)
def dashboard(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    context = _context(request, workspace, DashboardForm(request.GET))
    context["granularities"] = [(g.value, g.value.capitalize()) for g in Granularity]
    context["date_min"], context["date_max"] = metric_filters.MIN_DATE, metric_filters.MAX_DATE
    context["horizon_options"] = (3, 6, 12, 24, 36, metric_selectors.COHORT_HORIZON_MAX)
    context["segments"] = list(
        segment_selectors.segment_list(workspace=workspace).values_list("pk", "name")
    )
    status = 400 if context.get("error") else 200
    return render(request, "metrics/dashboard.html", context, status=status)


@capability_required(Capability.READ_ANALYTICS)
def dashboard_panel(request: HttpRequest) -> HttpResponse:
    """The numbers and charts (htmx). With ``since``: 204 when no response changed since then."""
    workspace = active_workspace(request)
    form = DashboardForm(request.GET)
    since = form.cleaned_data["since"] if form.is_valid() else ""
    if since and since == metric_selectors.responses_fingerprint(workspace=workspace):
        return HttpResponse(status=204)
    context = _context(request, workspace, form)
    response = render(
        request, "metrics/_panel.html", context, status=400 if context.get("error") else 200
    )
    if not since:  # a filter change (not a poll): keep the filters in the address bar
        chosen = context["chosen"]
        url = reverse("dashboard")
        response["HX-Push-Url"] = f"{url}?{urlencode(chosen)}" if chosen else url
    patch_vary_headers(response, ("HX-Request",))
    return response


def _split_choices(options: metric_selectors.FilterOptions) -> list[tuple[str, str]]:
    """What "Break down by" offers: never a personal or near-unique trait (one row a person)."""
    return [
        ("channel", "Channel"),
        ("touchpoint", "Touchpoint"),
        ("survey", "Survey"),
        *((f"trait:{key}", f"Trait: {key}") for key in options.breakdown_keys),
    ]


def _context(request: HttpRequest, workspace, form: DashboardForm) -> dict:
    valid = form.is_valid()
    chosen = form.chosen()
    theme_id = form.cleaned_data.get("theme_id") if valid else None
    options = metric_selectors.filter_options(workspace=workspace, theme=theme_id)
    split_choices = _split_choices(options)
    base = {
        "options": options,
        "split_choices": split_choices,
        "chosen": chosen,
        "poll_seconds": POLL_SECONDS,
        "fingerprint": metric_selectors.responses_fingerprint(workspace=workspace),
        "panel_query": urlencode(chosen),
        "min_sample": MIN_SAMPLE,
        "now": datetime.now(UTC),
        "by": chosen.get("by", Granularity.WEEK.value),
        "split": chosen.get("split", DEFAULT_SPLIT),
    }
    error = form.filter_error()
    if valid:
        query, split = form.cleaned_data["query"], form.cleaned_data["split_to_show"]
        try:
            metric_selectors.metric_query_check(workspace=workspace, query=query)
            if problem := text_filters.theme_problem(workspace=workspace, theme_id=theme_id):
                raise metric_filters.FilterError("theme", problem)
            if split not in {value for value, _ in split_choices} and chosen.get("split"):
                raise metric_filters.FilterError(
                    "split",
                    f"{split!r} cannot be broken down by: personal data, or too many values to "
                    "compare (pick one offered)",
                )
            query = _with_segment(workspace, query, form.cleaned_data["segment_id"])
        except metric_filters.FilterError as refused:
            error = refused
    if error is not None:
        return {**base, "error": error, "query": None, "metric_choices": _metric_choices()}
    comments = can(request, Capability.READ_FEEDBACK)  # a viewer sees no comment text
    redact = not can(request, Capability.READ_PII)  # emails, phones, cards, addresses hidden
    numbers = _numbers(workspace, query, split or DEFAULT_SPLIT, comments=comments, redact=redact,
                       horizon=form.cleaned_data.get("horizon_months"))  # fmt: skip
    numbers.update(_comments(workspace, query, form.cleaned_data, shown=comments, redact=redact))
    numbers["pair"] = _pair(workspace, query, split or DEFAULT_SPLIT, chosen)
    return {**base, **numbers}


def _with_segment(workspace, query: MetricQuery, segment_id: int | None) -> MetricQuery:
    """The query narrowed to a saved segment's members (a subquery), or as it was."""
    if segment_id is None:
        return query
    try:
        members = segment_selectors.segment_member_ids(workspace=workspace, segment_id=segment_id)
    except segment_selectors.SegmentChoiceError as exc:
        raise metric_filters.FilterError("segment", str(exc)) from None
    return replace(query, filters=replace(query.filters, customer_ids=members))


def _comments(workspace, query: MetricQuery, data: dict, *, shown: bool, redact: bool) -> dict:
    """One page of comments (newest first), narrowed by score band and theme."""
    if not shown:
        return {"comments": [], "comments_more": False}
    older_by = data["older_by"]
    rows = metric_selectors.comments_list(
        workspace=workspace,
        filters=query.filters,
        limit=COMMENTS_SHOWN + 1,
        offset=older_by,
        tone=data["tone_to_show"],
        theme_id=data["theme_id"],
    )
    return {
        "comments": [_comment_row(c, redact=redact) for c in rows[:COMMENTS_SHOWN]],
        "comments_more": len(rows) > COMMENTS_SHOWN,
        "comments_from": older_by + 1,
        "comments_to": older_by + min(len(rows), COMMENTS_SHOWN),
        "comments_older": older_by + COMMENTS_SHOWN,
        "comments_newer": max(0, older_by - COMMENTS_SHOWN) if older_by else None,
        "tones": [("bad", "Negative"), ("neutral", "Neutral"), ("good", "Positive")],
    }


def _pair(workspace, query: MetricQuery, split: str, chosen: dict) -> dict | None:
    """Group ``a`` against group ``b`` of the breakdown, when both are chosen and differ."""
    first, second = chosen.get("a"), chosen.get("b")
    if not first or not second or first == second:
        return None
    metric = query.metric
    pair = metric_selectors.metric_two_groups(
        workspace=workspace,
        metric=metric,
        filters=query.filters,
        split=split,
        first="" if first == NONE_KEY else first,
        second="" if second == NONE_KEY else second,
    )
    interval = ""
    if pair.low is not None and pair.high is not None:
        interval = f"95% CI {fmt_diff(metric, pair.low)} to {fmt_diff(metric, pair.high)}"
    return {
        "first": pair.first,
        "second": pair.second,
        "first_value": fmt_value(metric, pair.first.estimate.value),
        "second_value": fmt_value(metric, pair.second.estimate.value),
        "difference": fmt_change(metric, pair.change) or "—",
        "interval": interval,
        "verdict": pair.change.verdict,
        "significant": pair.change.significant,
        "p": _p_alone(pair.change),
    }


def _metric_choices() -> list[tuple[str, str]]:
    return [(m.value, METRIC_LABELS[m]) for m in MetricName]


def _numbers(
    workspace,
    query: MetricQuery,
    split: str,
    *,
    comments: bool = True,
    redact: bool = True,
    horizon: int | None = None,
) -> dict:
    metric, filters = query.metric, query.filters
    by = query.by or Granularity.WEEK
    headlines = [
        _card(metric_selectors.metric_headline(workspace=workspace, metric=m, filters=filters))
        for m in MetricName
    ]
    trend = metric_selectors.metric_rows(workspace=workspace, metric=metric, filters=filters, by=by)
    groups = metric_selectors.metric_groups_vs_rest(
        workspace=workspace, metric=metric, filters=filters, split=split, limit=GROUPS_SHOWN
    )
    retention_end = filters.end or datetime.now(UTC)
    horizon = horizon or RETENTION_MONTHS
    # whole months back from the month in progress (or the one after the range's last)
    retention_start = metric_selectors.horizon_start(min(retention_end, datetime.now(UTC)), horizon)
    churn = metric_selectors.retention_by_period(
        workspace=workspace, start=retention_start, end=retention_end
    )
    cohorts = metric_selectors.cohort_retention(
        workspace=workspace, start=retention_start, end=retention_end, max_offset=horizon
    )
    note = (
        ""
        if cohorts
        else metric_selectors.cohort_note(
            workspace=workspace, start=retention_start, end=retention_end
        )
    )
    days = (query.date_to - query.date_from).days + 1 if query.date_to and query.date_from else 0
    return {
        "query": query,
        "metric_label": METRIC_LABELS[metric],
        "metric_choices": _metric_choices(),
        "by": by.value,
        "split": split,
        "split_label": _split_label(split),
        "window_days": days,
        "headlines": headlines,
        "trend_points": len(trend),
        "trend_figure": figure_json(trend_figure(metric, trend, by)),
        "groups": [_group_row(metric, g, split) for g in groups],
        "comparisons": comparisons_tested([g.change for g in groups]),
        "breakdown_figure": figure_json(breakdown_figure(metric, groups, split))
        if groups
        else None,
        "churn": churn,
        "churn_figure": figure_json(churn_figure(churn)) if churn else None,
        "cohorts": cohorts,
        "cohort_figure": figure_json(cohort_figure(cohorts)) if cohorts else None,
        "horizon": horizon,
        "cohort_note": note,
    }


def _p_alone(change) -> str:
    """A single test's p-value and test, as shown beside a two-group comparison."""
    if change.p_value is None:
        return ""
    shown = "p < 0.001" if change.p_value < 0.001 else f"p = {change.p_value:.3f}"
    return f"{shown} ({change.test})"


def _split_label(split: str) -> str:
    if split.startswith("trait:"):
        return f"trait “{split.removeprefix('trait:')}”"
    return split


# ------------------------------------------------------------------------------------------
# Cards, table rows and comments as shown
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Card:
    metric: str
    label: str
    value: str
    moe: str
    interval: str
    n: int
    too_few: bool
    previous: str
    change: str
    verdict: str
    significant: bool
    direction: str  # up, down or flat
    help: str


_HELP = {
    MetricName.NPS: "% promoters (9–10) − % detractors (0–6)",
    MetricName.CSAT: "% answering in the top box (4–5 of 5)",
    MetricName.CES: "Mean ease, 1 (very difficult) – 7 (very easy)",
    MetricName.RESPONSE_RATE: "Answered ÷ (invitations sent + link visits)",
}


def _card(headline: metric_selectors.Headline) -> Card:
    metric, current = headline.metric, headline.current
    interval = ""
    if current.low is not None and current.high is not None:
        interval = f"95% CI {fmt_value(metric, current.low)} to {fmt_value(metric, current.high)}"
    change, verdict, significant, direction = "", "", False, "flat"
    if headline.change is not None and headline.previous is not None:
        change = fmt_change(metric, headline.change)
        verdict = headline.change.verdict
        significant = headline.change.significant
        difference = headline.change.difference or 0
        direction = "up" if difference > 0 else "down" if difference < 0 else "flat"
    return Card(
        metric=metric.value,
        label=METRIC_LABELS[metric],
        value=fmt_value(metric, current.value),
        moe=fmt_moe(metric, current),
        interval=interval,
        n=current.n,
        too_few=current.too_few,
        previous=fmt_value(metric, headline.previous.value) if headline.previous else "",
        change=change,
        verdict=verdict,
        significant=significant,
        direction=direction,
        help=_HELP[metric],
    )


def _group_row(metric: MetricName, group: metric_selectors.GroupComparison, split: str) -> dict:
    estimate = group.row.estimate
    key = group.row.group
    return {
        "label": group.row.label,
        "group": key,
        "key": NONE_KEY if key == "" else key,  # as the comparison form names it
        "other": key == metric_selectors.OTHER_GROUP,
        "colour": group_colour(split, key),
        "value": fmt_value(metric, estimate.value),
        "moe": fmt_moe(metric, estimate),
        "n": estimate.n,
        "too_few": estimate.too_few,
        "rest": fmt_value(metric, group.rest.value),
        "change": fmt_change(metric, group.change),
        "verdict": group.change.verdict,
        "significant": group.change.significant,
        "p": fmt_p(group.change),
    }


def _comment_row(comment: metric_selectors.Comment, *, redact: bool) -> dict:
    """A comment with its score as shown (the NPS, else CSAT, else CES answer) and its tone."""
    score, scale, tone = None, "", "neutral"
    if comment.nps_score is not None:
        score, scale = comment.nps_score, "NPS"
        tone = "good" if score >= 9 else "bad" if score <= 6 else "neutral"
    elif comment.csat_score is not None:
        score, scale = comment.csat_score, "CSAT"
        tone = "good" if score >= 4 else "bad" if score <= 2 else "neutral"
    elif comment.ces_score is not None:
        score, scale = comment.ces_score, "CES"
        tone = "good" if score >= 6 else "bad" if score <= 3 else "neutral"  # 7 = very easy
    text = pii.redact_text(comment.comment) if redact else comment.comment
    return {"c": comment, "text": text, "score": score, "scale": scale, "tone": tone}
