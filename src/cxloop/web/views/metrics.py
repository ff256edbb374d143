"""The live CX dashboard: headline metrics with intervals, trend, breakdowns, comments, retention.

Live updates: the dashboard panel polls ``dashboard-panel`` every ``POLL_SECONDS`` with the
fingerprint of the responses it shows (``since``). When nothing changed the server answers
204 No Content after one indexed query, and htmx leaves the page alone; when a response arrived
(or was submitted) it answers with the re-rendered panel. This costs far less than re-rendering the
panel (some 15 queries and four figures) on every tick, and charts are not redrawn — losing hover
and zoom — while nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import plotly.graph_objects as go
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers

from cxloop.core.permissions import Capability
from cxloop.metrics import filters as metric_filters
from cxloop.metrics import selectors as metric_selectors
from cxloop.metrics.definitions import (
    METRIC_LABELS,
    METRIC_SCALES,
    MIN_SAMPLE,
    Comparison,
    Estimate,
    MetricName,
    comparisons_tested,
)
from cxloop.metrics.filters import Granularity, MetricQuery
from cxloop.web.charts import figure_json
from cxloop.web.forms.metrics import DEFAULT_SPLIT, DashboardForm
from cxloop.web.workspace import active_workspace, can, capability_required

POLL_SECONDS = 10
COMMENTS_SHOWN = 12
RETENTION_MONTHS = 12

INK, MUTED, LINE, BRAND = "#101828", "#5b6474", "#e4e7ec", "#2f4fd0"
GREY = "#98a2b3"
FONT = {
    "family": 'system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif',
    "size": 12,
    "color": INK,
}


@capability_required(Capability.READ_ANALYTICS)
def dashboard(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    context = _context(request, workspace, DashboardForm(request.GET))
    options = metric_selectors.filter_options(workspace=workspace)
    context["options"] = options
    context["granularities"] = [(g.value, g.value.capitalize()) for g in Granularity]
    context["date_min"], context["date_max"] = metric_filters.MIN_DATE, metric_filters.MAX_DATE
    context["split_choices"] = [
        ("channel", "Channel"),
        ("touchpoint", "Touchpoint"),
        ("survey", "Survey"),
        *((f"trait:{key}", f"Trait: {key}") for key in options.trait_keys),
    ]
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


def _context(request: HttpRequest, workspace, form: DashboardForm) -> dict:
    valid = form.is_valid()
    chosen = form.chosen()
    base = {
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
        except metric_filters.FilterError as refused:
            error = refused
    if error is not None:
        return {**base, "error": error, "query": None, "metric_choices": _metric_choices()}
    comments = can(request, Capability.READ_FEEDBACK)  # a viewer sees no comment text
    return {**base, **_numbers(workspace, query, split or DEFAULT_SPLIT, comments=comments)}


def _metric_choices() -> list[tuple[str, str]]:
    return [(m.value, METRIC_LABELS[m]) for m in MetricName]


def _numbers(workspace, query: MetricQuery, split: str, *, comments: bool = True) -> dict:
    metric, filters = query.metric, query.filters
    by = query.by or Granularity.WEEK
    headlines = [
        _card(metric_selectors.metric_headline(workspace=workspace, metric=m, filters=filters))
        for m in MetricName
    ]
    trend = metric_selectors.metric_rows(workspace=workspace, metric=metric, filters=filters, by=by)
    groups = metric_selectors.metric_groups_vs_rest(
        workspace=workspace, metric=metric, filters=filters, split=split
    )
    retention_end = filters.end or datetime.now(UTC)
    retention_start = retention_end - timedelta(days=31 * RETENTION_MONTHS)
    churn = metric_selectors.retention_by_period(
        workspace=workspace, start=retention_start, end=retention_end
    )
    cohorts = metric_selectors.cohort_retention(
        workspace=workspace, start=retention_start, end=retention_end
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
        "trend_figure": figure_json(_trend_figure(metric, trend, by)),
        "groups": [_group_row(metric, g) for g in groups],
        "comparisons": comparisons_tested([g.change for g in groups]),
        "breakdown_figure": figure_json(_breakdown_figure(metric, groups)) if groups else None,
        "comments": [
            _comment_row(c)
            for c in metric_selectors.comments_list(
                workspace=workspace, filters=filters, limit=COMMENTS_SHOWN
            )
        ]
        if comments
        else [],
        "churn": churn,
        "churn_figure": figure_json(_churn_figure(churn)) if churn else None,
        "cohorts": cohorts,
        "cohort_figure": figure_json(_cohort_figure(cohorts)) if cohorts else None,
    }


def _split_label(split: str) -> str:
    if split.startswith("trait:"):
        return f"trait “{split.removeprefix('trait:')}”"
    return split


# ------------------------------------------------------------------------------------------
# Numbers as people read them
# ------------------------------------------------------------------------------------------


def fmt_value(metric: MetricName, value: float | None) -> str:
    """NPS as signed points, rates as %, CES with two decimals; an em dash for no data."""
    if value is None:
        return "—"
    if metric is MetricName.NPS:
        text = f"{value:+.0f}" if round(value) != 0 else "0"
    elif metric is MetricName.CES:
        text = f"{value:.2f}"
    else:
        text = f"{value:.1f}%"
    return text.replace("-", "−")


def fmt_moe(metric: MetricName, estimate: Estimate) -> str:
    if estimate.moe is None:
        return ""
    if metric is MetricName.CES:
        return f"±{estimate.moe:.2f}"
    unit = "" if metric is MetricName.NPS else " pts"
    return f"±{estimate.moe:.1f}{unit}"


def fmt_change(metric: MetricName, change: Comparison) -> str:
    if change.difference is None:
        return ""
    digits = 2 if metric is MetricName.CES else 1
    unit = "" if metric in (MetricName.NPS, MetricName.CES) else " pts"
    return f"{change.difference:+.{digits}f}{unit}".replace("-", "−")


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


def _group_row(metric: MetricName, group: metric_selectors.GroupComparison) -> dict:
    estimate = group.row.estimate
    return {
        "label": group.row.label,
        "group": group.row.group,
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


def fmt_p(change: Comparison) -> str:
    """The p-value as shown on hover: adjusted (and alone) in a table; "" when not tested."""
    if change.p_value is None:
        return ""
    if change.p_adjusted is None:
        return f"p = {change.p_value:.3f}"
    return f"p = {change.p_adjusted:.3f} adjusted (Holm; {change.p_value:.3f} alone)"


def _comment_row(comment: metric_selectors.Comment) -> dict:
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
    return {"c": comment, "score": score, "scale": scale, "tone": tone}


# ------------------------------------------------------------------------------------------
# Figures (plotly.graph_objects, rendered by static/metrics/dashboard.js)
# ------------------------------------------------------------------------------------------


def _layout(**extra) -> dict:
    layout = {
        "font": FONT,
        "margin": {"l": 48, "r": 16, "t": 8, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "hoverlabel": {"bgcolor": "white", "bordercolor": LINE, "font": FONT},
        "showlegend": False,
        "height": 300,
    }
    layout.update(extra)
    return layout


def _axis(**extra) -> dict:
    axis = {
        "gridcolor": LINE,
        "zerolinecolor": "#d0d5dd",
        "linecolor": LINE,
        "tickfont": {"color": MUTED},
    }
    axis.update(extra)
    return axis


def _trend_figure(metric: MetricName, rows: list, by: Granularity) -> go.Figure:
    dates = [r.period.isoformat() for r in rows]
    values = [r.estimate.value for r in rows]
    lows = [r.estimate.low if r.estimate.low is not None else r.estimate.value for r in rows]
    highs = [r.estimate.high if r.estimate.high is not None else r.estimate.value for r in rows]
    hover = [
        f"{fmt_value(metric, r.estimate.value)} {fmt_moe(metric, r.estimate)}<br>"
        f"n = {r.estimate.n}{' · too few responses' if r.estimate.too_few else ''}"
        for r in rows
    ]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(x=dates, y=highs, mode="lines", line={"width": 0}, hoverinfo="skip")
    )
    figure.add_trace(
        go.Scatter(
            x=dates,
            y=lows,
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor="rgba(47,79,208,0.14)",
            hoverinfo="skip",
            name="95% interval",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=dates,
            y=values,
            mode="lines+markers",
            name=METRIC_LABELS[metric],
            line={"color": BRAND, "width": 2.5},
            marker={
                "size": 8,
                "color": ["white" if r.estimate.too_few else BRAND for r in rows],
                "line": {
                    "color": [GREY if r.estimate.too_few else BRAND for r in rows],
                    "width": 2,
                },
            },
            text=hover,
            hovertemplate="%{x|" + _date_format(by) + "}<br>%{text}<extra></extra>",
        )
    )
    low, high = METRIC_SCALES[metric]
    figure.update_layout(
        **_layout(
            xaxis=_axis(type="date", tickformat=_date_format(by), showgrid=False),
            yaxis=_axis(range=_padded_range(lows + highs, low, high), title=None),
        )
    )
    return figure


def _date_format(by: Granularity) -> str:
    return "%b %Y" if by is Granularity.MONTH else "%d %b"


def _padded_range(values: list, low: float, high: float) -> list[float]:
    present = [v for v in values if v is not None]
    if not present:
        return [low, high]
    span = (high - low) * 0.05
    return [max(low, min(present) - span), min(high, max(present) + span)]


def _breakdown_figure(metric: MetricName, groups: list) -> go.Figure:
    shown = list(reversed(groups[:12]))  # largest groups, largest on top
    labels = [g.row.label for g in shown]
    values = [g.row.estimate.value for g in shown]
    plus = [
        (g.row.estimate.high - g.row.estimate.value) if g.row.estimate.high is not None else 0
        for g in shown
    ]
    minus = [
        (g.row.estimate.value - g.row.estimate.low) if g.row.estimate.low is not None else 0
        for g in shown
    ]
    colors = [GREY if g.row.estimate.too_few else BRAND for g in shown]
    hover = [
        f"{fmt_value(metric, g.row.estimate.value)} {fmt_moe(metric, g.row.estimate)}"
        f"<br>n = {g.row.estimate.n} · vs rest: {g.change.verdict}"
        for g in shown
    ]
    figure = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker={"color": colors},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": plus,
                "arrayminus": minus,
                "color": INK,
                "thickness": 1.2,
            },
            hovertext=hover,
            hovertemplate="<b>%{y}</b><br>%{hovertext}<extra></extra>",
        )
    )
    low, high = METRIC_SCALES[metric]
    figure.update_layout(
        **_layout(
            height=max(180, 36 * len(shown) + 60),
            margin={"l": 120, "r": 16, "t": 8, "b": 36},
            xaxis=_axis(range=[low, high] if metric is not MetricName.CES else [1, 7]),
            yaxis=_axis(showgrid=False, automargin=True),
            bargap=0.35,
        )
    )
    return figure


def _churn_figure(rows: list) -> go.Figure:
    months = [r.period.isoformat() for r in rows]
    figure = go.Figure(
        go.Scatter(
            x=months,
            y=[r.churn.value for r in rows],
            mode="lines+markers",
            line={"color": "#b42318", "width": 2.5},
            marker={"size": 7},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [(r.churn.high or 0) - (r.churn.value or 0) for r in rows],
                "arrayminus": [(r.churn.value or 0) - (r.churn.low or 0) for r in rows],
                "color": "rgba(180,35,24,.45)",
                "thickness": 1.2,
            },
            text=[f"{r.churned} of {r.active} active not back next month" for r in rows],
            hovertemplate="%{x|%b %Y}: %{y:.1f}% churn<br>%{text}<extra></extra>",
        )
    )
    figure.update_layout(
        **_layout(
            height=260,
            xaxis=_axis(type="date", tickformat="%b %Y", showgrid=False),
            yaxis=_axis(range=[0, 100], ticksuffix="%"),
        )
    )
    return figure


def _cohort_figure(cohorts: list) -> go.Figure:
    width = max(len(c.rates) for c in cohorts)
    z = [[*c.rates, *([None] * (width - len(c.rates)))] for c in cohorts]
    text = [[f"{v:.0f}%" if v is not None else "" for v in row] for row in z]
    labels = [f"{c.start:%b %Y} · {c.size}" for c in cohorts]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"+{k}" for k in range(width)],
            y=labels,
            text=text,
            texttemplate="%{text}",
            textfont={"size": 11},
            colorscale=[[0, "#f5f7ff"], [0.5, "#8da2f0"], [1, "#233ca6"]],
            zmin=0,
            zmax=100,
            xgap=2,
            ygap=2,
            hovertemplate="Cohort %{y}<br>%{x} months: %{z:.1f}% active<extra></extra>",
            colorbar={"ticksuffix": "%", "thickness": 10, "outlinewidth": 0},
        )
    )
    figure.update_layout(
        **_layout(
            height=max(200, 30 * len(cohorts) + 70),
            margin={"l": 110, "r": 8, "t": 8, "b": 36},
            xaxis=_axis(title={"text": "months since first seen", "font": {"color": MUTED}}),
            yaxis=_axis(autorange="reversed", showgrid=False),
        )
    )
    return figure
