"""Figures of the CX dashboard (drawn by static/metrics/dashboard.js): trend with its 95%
interval, breakdown by group, monthly churn and cohort retention."""

from __future__ import annotations

from datetime import datetime, timedelta

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


# One colour per channel, the same as app.css's --c-<channel> (tests/test_web_charts.py checks
# they agree): the breakdown's bars and its table's dots use this map.
CHANNEL_COLOURS = {
    "web": "#2f4fd0",
    "app": "#6a35c4",
    "email": "#8f4a00",
    "chat": "#08666e",
    "phone": "#9b2967",
    "social": "#a83a0c",
    "store": "#0f6b3f",
}
OTHER_COLOUR = "#475467"  # --c-other: channels without their own colour, "(none)", "Other"
FADED = 0.35  # opacity of a figure from fewer than MIN_SAMPLE answers


def group_colour(split: str, group: str | None) -> str:
    """The colour of a breakdown group: its channel's on a channel split, else the brand's."""
    if split != "channel":
        return BRAND
    return CHANNEL_COLOURS.get(group or "", OTHER_COLOUR)


def _rgba(colour: str, alpha: float) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


_PERIOD_MS = {Granularity.DAY: 86_400_000, Granularity.WEEK: 7 * 86_400_000}


def trend_figure(metric: MetricName, rows: list, by: Granularity) -> go.Figure:
    """The metric per period with its 95% interval as whiskers; periods with fewer than
    MIN_SAMPLE answers faded and hollow (their interval is wide), one answer without whiskers
    (no interval). Ticks sit on the periods (never two labels for one day), and the y-axis
    spans at least 40% of the scale, so a lone point is never pinned to the plot's edge."""
    dates = [r.period.isoformat() for r in rows]
    values = [r.estimate.value for r in rows]
    plus = [_half(r.estimate, above=True) for r in rows]
    minus = [_half(r.estimate, above=False) for r in rows]
    hover = [
        f"{fmt_value(metric, r.estimate.value)} {fmt_moe(metric, r.estimate)}<br>"
        f"n = {r.estimate.n}"
        + (
            " · one answer: no interval"
            if r.estimate.n == 1
            else " · too few responses"
            if r.estimate.too_few
            else ""
        )
        for r in rows
    ]
    figure = go.Figure()
    for faded in (False, True):  # reliable periods, then the faded ones on top
        picked = [i for i, r in enumerate(rows) if r.estimate.too_few is faded]
        if not picked:
            continue
        colour = _rgba(BRAND, FADED) if faded else BRAND
        figure.add_trace(
            go.Scatter(
                x=[dates[i] for i in picked],
                y=[values[i] for i in picked],
                mode="markers",
                marker={
                    "size": 9,
                    "color": "white" if faded else BRAND,
                    "line": {"color": colour, "width": 2},
                },
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [plus[i] for i in picked],
                    "arrayminus": [minus[i] for i in picked],
                    "color": _rgba(BRAND, FADED if faded else 0.55),
                    "thickness": 1.5,
                    "width": 4,
                },
                text=[hover[i] for i in picked],
                hovertemplate="%{x|" + _date_format(by) + "}<br>%{text}<extra></extra>",
                name="too few responses" if faded else METRIC_LABELS[metric],
            )
        )
    figure.add_trace(  # the line under the points, through every period
        go.Scatter(
            x=dates,
            y=values,
            mode="lines",
            line={"color": _rgba(BRAND, 0.6), "width": 2},
            hoverinfo="skip",
        )
    )
    figure.data = (figure.data[-1], *figure.data[:-1])
    low, high = METRIC_SCALES[metric]
    ends = [v - m for v, m in zip(values, minus, strict=True) if v is not None] + [
        v + p for v, p in zip(values, plus, strict=True) if v is not None
    ]
    figure.update_layout(
        **_layout(
            xaxis=_axis(type="date", showgrid=False, **_date_ticks(dates, by)),
            yaxis=_axis(range=_padded_range(ends, low, high), title=None),
        )
    )
    return figure


def _half(estimate, *, above: bool) -> float:
    """How far the interval reaches above (or below) the value; 0 where there is none."""
    if estimate.value is None or estimate.low is None or estimate.high is None:
        return 0.0
    return (estimate.high - estimate.value) if above else (estimate.value - estimate.low)


def _date_format(by: Granularity) -> str:
    return "%b %Y" if by is Granularity.MONTH else "%d %b"


def _date_ticks(dates: list[str], by: Granularity) -> dict:
    """Ticks on the periods themselves when there are few (never between two of them, which
    printed one day twice), else one tick a period or more; half a period of room each side."""
    ticks: dict = {"tickformat": _date_format(by)}
    if len(dates) <= 8:
        ticks["tickvals"] = dates
    elif by is Granularity.MONTH:
        ticks["dtick"] = f"M{max(1, len(dates) // 8)}"
    else:
        ticks["dtick"] = _PERIOD_MS[by] * max(1, len(dates) // 8)
    if dates and len(dates) <= 2:
        half = {Granularity.DAY: 0.5, Granularity.WEEK: 3.5, Granularity.MONTH: 15}[by]
        first = datetime.fromisoformat(dates[0])
        last = datetime.fromisoformat(dates[-1])
        ticks["range"] = [
            (first - timedelta(days=half)).isoformat(),
            (last + timedelta(days=half)).isoformat(),
        ]
    return ticks


MIN_SPAN = 0.4  # the y-axis shows at least this share of the metric's scale


def _padded_range(values: list, low: float, high: float) -> list[float]:
    """The data's extent with 5% of the scale as margin, at least ``MIN_SPAN`` of the scale
    wide, inside the scale plus that margin (so a point at −100 or 100 is drawn whole)."""
    present = [v for v in values if v is not None]
    scale = high - low
    margin = scale * 0.05
    if not present:
        return [low, high]
    bottom, top = min(present) - margin, max(present) + margin
    short = scale * MIN_SPAN - (top - bottom)
    if short > 0:
        bottom, top = bottom - short / 2, top + short / 2
    if bottom < low - margin:
        top, bottom = top + (low - margin - bottom), low - margin
    if top > high + margin:
        bottom, top = bottom - (top - high - margin), high + margin
    return [max(low - margin, bottom), min(high + margin, top)]


def breakdown_figure(metric: MetricName, groups: list, split: str = "") -> go.Figure:
    """The 12 largest groups: a bar with its 95% interval for each group with enough answers;
    a faded hollow point with its (wide) interval for one with fewer than MIN_SAMPLE, so a
    group of one answer never draws a bar as long as one of hundreds. Channel colours as in
    the table (:data:`CHANNEL_COLOURS`)."""
    shown = list(reversed(groups[:12]))  # largest groups, largest on top
    labels = [g.row.label for g in shown]
    hover = [
        f"{fmt_value(metric, g.row.estimate.value)} {fmt_moe(metric, g.row.estimate)}"
        f"<br>n = {g.row.estimate.n} · vs rest: {g.change.verdict}"
        for g in shown
    ]
    figure = go.Figure()
    for faded in (False, True):
        picked = [i for i, g in enumerate(shown) if g.row.estimate.too_few is faded]
        if not picked:
            continue
        colours = [group_colour(split, shown[i].row.group) for i in picked]
        error = {
            "type": "data",
            "symmetric": False,
            "array": [_half(shown[i].row.estimate, above=True) for i in picked],
            "arrayminus": [_half(shown[i].row.estimate, above=False) for i in picked],
            "color": _rgba(INK, FADED) if faded else INK,
            "thickness": 1.2,
        }
        common = {
            "x": [shown[i].row.estimate.value for i in picked],
            "y": [labels[i] for i in picked],
            "orientation": "h",
            "error_x": error,
            "hovertext": [hover[i] for i in picked],
            "hovertemplate": "<b>%{y}</b><br>%{hovertext}<extra></extra>",
        }
        if faded:
            figure.add_trace(
                go.Scatter(
                    mode="markers",
                    marker={
                        "size": 10,
                        "color": "white",
                        "line": {"color": [_rgba(c, 0.6) for c in colours], "width": 2},
                    },
                    name="too few responses",
                    **common,
                )
            )
        else:
            figure.add_trace(
                go.Bar(marker={"color": colours}, name=METRIC_LABELS[metric], **common)
            )
    low, high = METRIC_SCALES[metric]
    figure.update_layout(
        **_layout(
            height=max(180, 36 * len(shown) + 60),
            margin={"l": 120, "r": 16, "t": 8, "b": 36},
            # 5% of room past the scale's ends, so a point at −100 or 100 is drawn whole
            xaxis=_axis(range=[low - (high - low) * 0.05, high + (high - low) * 0.05]),
            yaxis=_axis(
                showgrid=False, automargin=True, categoryorder="array", categoryarray=labels
            ),
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
