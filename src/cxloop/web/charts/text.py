"""Figures of the Text page: sentiment per day."""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go

_FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
COLOURS = {"negative": "#b91c1c", "neutral": "#6b7280", "positive": "#15803d"}


def sentiment_figure(days: list[tuple[date, dict[str, int]]]) -> go.Figure:
    """Stacked bars: how many texts were negative, neutral, positive each day."""
    x = [day.isoformat() for day, _ in days]
    figure = go.Figure(
        [
            go.Bar(
                name=label,
                x=x,
                y=[counts[label] for _, counts in days],
                marker_color=colour,
                hovertemplate="%{x}: %{y} " + label + "<extra></extra>",
            )
            for label, colour in COLOURS.items()
        ]
    )
    figure.update_layout(
        barmode="stack",
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        height=260,
        font={"family": _FONT, "size": 12},
        legend={"orientation": "h", "y": 1.15, "x": 0},
        xaxis={"type": "date", "automargin": True},
        yaxis={"title": {"text": "texts"}, "automargin": True, "rangemode": "tozero"},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def priority_figure(found) -> go.Figure:
    """The priority matrix of key drivers: importance (|impact|, points of the overall score) on
    x, performance (the score among texts carrying the theme) on y; the overall score and the
    median importance split it into four quadrants. Red themes lower the score, green raise it;
    faded ones are not significant after Holm's correction."""
    rows = found.drivers
    # rounded: an impact of 1e-15 (floating-point noise around zero) would give femto ticks
    importance = [round(abs(d.impact), 6) for d in rows]
    middle = sorted(importance)[len(importance) // 2] if importance else 0.0
    colours = [
        ("#b91c1c" if d.effect < 0 else "#15803d") if d.significant else "#9ca3af" for d in rows
    ]
    figure = go.Figure(
        go.Scatter(
            x=importance,
            y=[d.performance for d in rows],
            mode="markers+text",
            text=[d.name for d in rows],
            textposition="top center",
            marker={"size": [8 + 24 * d.share for d in rows], "color": colours},
            customdata=[[d.impact, d.mentions, d.p_holm] for d in rows],
            hovertemplate=(
                "%{text}<br>impact %{customdata[0]:+.1f} points · %{customdata[1]} texts"
                "<br>score among them %{y:.1f} · p (Holm) %{customdata[2]:.3f}<extra></extra>"
            ),
        )
    )
    if found.overall is not None:
        figure.add_hline(y=found.overall, line={"dash": "dot", "color": "#6b7280", "width": 1})
    figure.add_vline(x=middle, line={"dash": "dot", "color": "#6b7280", "width": 1})
    unit = {"nps": "NPS", "csat": "CSAT %", "ces": "CES"}[found.metric]
    figure.update_layout(
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        height=380,
        font={"family": _FONT, "size": 12},
        showlegend=False,
        xaxis={
            "title": {"text": f"importance: {unit} points the theme moves overall"},
            "rangemode": "tozero",
            "automargin": True,
        },
        yaxis={"title": {"text": f"{unit} among its texts"}, "automargin": True},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def theme_weeks_figure(days: list[date], series: list[tuple[str, list[int]]]) -> go.Figure:
    """Lines: texts per week of each theme (the busiest themes)."""
    x = [day.isoformat() for day in days]
    figure = go.Figure(
        [
            go.Scatter(
                name=name,
                x=x,
                y=counts,
                mode="lines+markers",
                hovertemplate="week of %{x}: %{y} texts<extra>" + name + "</extra>",
            )
            for name, counts in series
        ]
    )
    figure.update_layout(
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        height=300,
        font={"family": _FONT, "size": 12},
        legend={"orientation": "h", "y": -0.2, "x": 0},
        xaxis={"type": "date", "automargin": True, "tickformat": "%-d %b"},
        yaxis={"title": {"text": "texts per week"}, "automargin": True, "rangemode": "tozero"},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def theme_trend_figure(trend) -> go.Figure:
    """Lines: each channel's weekly share of texts carrying the theme, with its Wilson 95 %
    interval as error bars; weeks without texts on a channel are gaps."""
    x = [day.isoformat() for day in trend.weeks]
    traces = []
    for position, row in enumerate(trend.channels):
        shares = [w.share for w in row.weeks]
        traces.append(
            go.Scatter(
                name=row.channel,
                x=x,
                y=[None if s is None else 100 * s for s in shares],
                mode="lines+markers",
                connectgaps=False,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [
                        None if w.share is None else 100 * (w.high - w.share) for w in row.weeks
                    ],
                    "arrayminus": [
                        None if w.share is None else 100 * (w.share - w.low) for w in row.weeks
                    ],
                    "thickness": 1,
                    "width": 2,
                },
                customdata=[[w.count, w.total] for w in row.weeks],
                hovertemplate=(
                    "week of %{x}: %{y:.1f} % (%{customdata[0]} of %{customdata[1]} texts)"
                    "<extra>" + row.channel + "</extra>"
                ),
                line={"width": 3 if position == 0 else 1.5},
                # all channels and the two busiest drawn; the rest a legend click away
                visible=True if position < 3 else "legendonly",
            )
        )
    figure = go.Figure(traces)
    figure.update_layout(
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        height=320,
        font={"family": _FONT, "size": 12},
        legend={"orientation": "h", "y": -0.2, "x": 0},
        xaxis={"type": "date", "automargin": True, "tickformat": "%-d %b"},
        yaxis={
            "title": {"text": "% of texts with the theme"},
            "automargin": True,
            "rangemode": "tozero",
        },
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure
