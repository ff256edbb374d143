"""Figures of the journeys and funnels pages, as the plotly JSON their templates embed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

_PAGE_FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif"
_PALETTE = ("#2f4fd0", "#0f6b3f", "#8f4a00", "#6a35c4", "#08666e", "#9b2967", "#a83a0c", "#475467")


def stage_chart(stages: Sequence[Any]) -> dict | None:
    """Customers reaching each stage and, of them, those converting to the next one."""
    if not any(view.metrics.get("customers") for view in stages):
        return None
    names = [view.stage.name for view in stages]
    reached = [view.metrics.get("customers", 0) for view in stages]
    converted = [view.metrics.get("converted") or 0 for view in stages]
    figure = go.Figure(
        [
            go.Bar(name="Reached the stage", x=names, y=reached, marker_color="#c7d2fe"),
            go.Bar(
                name="Went on to the next stage", x=names[:-1], y=converted[:-1],
                marker_color="#2f4fd0",
            ),
        ]
    )  # fmt: skip
    figure.update_layout(barmode="overlay", yaxis_title="Customers")
    return page_layout(figure)


def funnel_chart(labels: list[str], counts: list[int], groups: Sequence[Any]) -> dict:
    """A funnel of the steps' counts, or grouped bars (% of step 1) when the funnel is split."""
    if groups:
        figure = go.Figure(
            [
                go.Bar(
                    name=f"{label} ({group_counts[0]:,})",
                    x=labels,
                    y=[100 * n / group_counts[0] if group_counts[0] else 0 for n in group_counts],
                    marker_color=_PALETTE[i % len(_PALETTE)],
                    hovertemplate="%{y:.1f}% of step 1<extra>" + label + "</extra>",
                )
                for i, (label, group_counts) in enumerate(groups)
            ]
        )
        figure.update_layout(
            barmode="group", yaxis_title="% of step 1", yaxis_range=[0, 100], showlegend=True
        )
    else:
        figure = go.Figure(
            go.Funnel(
                y=labels,
                x=counts,
                textinfo="value+percent initial",
                marker={"color": "#2f4fd0"},
                connector={"fillcolor": "#eef2ff"},
            )
        )
    return page_layout(figure, height=360 if groups else 300 + 24 * len(labels))


def page_layout(figure: go.Figure, height: int = 320) -> dict:
    """The journeys pages' chart style, as the plotly JSON the template embeds."""
    figure.update_layout(
        height=height,
        margin={"l": 56, "r": 16, "t": 16, "b": 40},
        font={"family": _PAGE_FONT, "size": 13, "color": "#344054"},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        legend={"orientation": "h", "y": 1.12, "x": 0},
        yaxis={"gridcolor": "#e4e7ec", "zeroline": False},
    )
    return figure.to_plotly_json()
