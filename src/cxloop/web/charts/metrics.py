"""Figures of the CX dashboard (drawn by static/metrics/dashboard.js): trend with its 95%
interval, breakdown by group, monthly churn and cohort retention."""

from __future__ import annotations

import plotly.graph_objects as go

from cxloop.metrics.definitions import METRIC_LABELS, METRIC_SCALES, MetricName
from cxloop.metrics.filters import Granularity
from cxloop.web.formats import fmt_moe, fmt_value

INK, MUTED, LINE, BRAND = "#101828", "#5b6474", "#e4e7ec", "#2f4fd0"
GREY = "#98a2b3"
FONT = {
    "family": 'system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif',
    "size": 12,
    "color": INK,
}


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


def trend_figure(metric: MetricName, rows: list, by: Granularity) -> go.Figure:
    """The metric per period, its 95% interval shaded; hollow markers where too few answered."""
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


def breakdown_figure(metric: MetricName, groups: list) -> go.Figure:
    """Bars with 95% intervals for the 12 largest groups, grey where too few answered."""
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


def churn_figure(rows: list) -> go.Figure:
    """Monthly churn (%) with its 95% interval."""
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


def cohort_figure(cohorts: list) -> go.Figure:
    """Heatmap: % of each monthly cohort active 0, 1, 2, … months after first seen."""
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
