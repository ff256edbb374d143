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
