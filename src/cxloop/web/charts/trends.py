"""Figures of the trends pages: series over time (lines or bars, formulas on a second axis) and
funnel conversion per period with its Wilson 95 % interval."""

from __future__ import annotations

import plotly.graph_objects as go

from cxloop.metrics.trends import ConversionTrend, TrendReport, group_label, period_text
from cxloop.web.charts.metrics import FONT, GREY, MUTED, _axis, _layout

COLOURS = (
    "#2f4fd0", "#d9480f", "#0c8599", "#9c36b5", "#2b8a3e", "#c2255c", "#5c940d", "#495057",
    "#e67700", "#1864ab", "#862e9c", "#087f5b",
)  # fmt: skip


def trend_figure(report: TrendReport, *, chart: str = "line") -> go.Figure:
    """One trace per series (and breakdown group) in the report's measure; formulas as dashed
    lines on the right-hand axis."""
    x = [period_text(p, report.unit) for p in report.periods]
    figure = go.Figure()
    for i, line in enumerate(report.lines):
        name = f"{line.key}: {line.label}"
        if report.breakdown:
            name += f" · {group_label(line.group)}"
        colour = COLOURS[i % len(COLOURS)]
        values = line.values(report.measure)
        if chart == "bar":
            figure.add_trace(go.Bar(x=x, y=values, name=name, marker={"color": colour}))
        else:
            figure.add_trace(
                go.Scatter(x=x, y=values, name=name, mode="lines+markers",
                           line={"color": colour, "width": 2}, marker={"size": 5})
            )  # fmt: skip
    for i, formula in enumerate(report.formulas):
        name = formula.expression + (f" · {group_label(formula.group)}" if report.breakdown else "")
        figure.add_trace(
            go.Scatter(
                x=x, y=formula.values, name=name, yaxis="y2", mode="lines+markers",
                connectgaps=False,
                line={
                    "color": COLOURS[(len(report.lines) + i) % len(COLOURS)],
                    "width": 2,
                    "dash": "dash",
                },
            )
        )  # fmt: skip
    layout = _layout(
        showlegend=True,
        legend={"orientation": "h", "y": -0.2, "font": {"color": MUTED}},
        margin={"l": 48, "r": 48 if report.formulas else 16, "t": 8, "b": 40},
        # room for a legend of many traces (it wraps onto rows on a phone)
        height=340 + 14 * max(0, len(report.lines) + len(report.formulas) - 3),
        barmode="group",
        xaxis=_axis(type="category" if report.unit == "hour" else "date"),
        yaxis=_axis(title={"text": report.measure, "font": FONT}, rangemode="tozero"),
    )
    if report.formulas:
        layout["yaxis2"] = _axis(overlaying="y", side="right", showgrid=False, rangemode="tozero")
    figure.update_layout(**layout)
    return figure


def conversion_figure(found: ConversionTrend) -> go.Figure:
    """Conversion % per period with its 95 % interval as error bars; hollow markers for periods
    whose window has not ended yet."""
    points = [p for p in found.points if p.rate.value is not None]
    x = [period_text(p.period, found.unit) for p in points]
    values = [p.rate.value for p in points]
    figure = go.Figure(
        go.Scatter(
            x=x, y=values, mode="lines+markers", name="conversion",
            line={"color": COLOURS[0], "width": 2},
            marker={"size": 8, "color": [COLOURS[0] if p.complete else "white" for p in points],
                    "line": {"color": COLOURS[0], "width": 2}},
            error_y={"type": "data", "symmetric": False, "color": GREY, "thickness": 1.5, "width": 6,
                     "array": [(p.rate.high or 0) - (p.rate.value or 0) for p in points],
                     "arrayminus": [(p.rate.value or 0) - (p.rate.low or 0) for p in points]},
            hovertemplate="%{x}: %{y:.1f}%<extra></extra>",
        )
    )  # fmt: skip
    figure.update_layout(
        **_layout(
            xaxis=_axis(type="category" if found.unit == "hour" else "date"),
            yaxis=_axis(title={"text": "% converted", "font": FONT}, range=[0, 100]),
        )
    )
    return figure
