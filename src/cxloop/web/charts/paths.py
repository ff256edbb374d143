"""Figures of the paths pages: Sankey of customers' paths and their last steps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import plotly.graph_objects as go

from cxloop.journeys.paths import PathCount, sankey_flows

if TYPE_CHECKING:
    from cxloop.journeys.paths import BeforeReport

_FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
_PALETTE = ("#2f4fd0", "#0f6b3f", "#8f4a00", "#6a35c4", "#08666e", "#9b2967", "#a83a0c", "#475467")
_COLOURS = (*_PALETTE, "#3b82f6", "#16a34a", "#d97706", "#7c3aed")


def sankey_figure(
    paths: Sequence[PathCount], *, title: str = "", align_end: bool = False
) -> go.Figure:
    """A Sankey of the paths' step-indexed nodes (see ``journeys.paths.sankey_flows``)."""
    flows = sankey_flows(paths, align_end=align_end)
    palette = _palette(flows.steps)
    figure = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "label": flows.labels,
                "x": flows.x,
                "pad": 14,
                "thickness": 14,
                "color": [palette[step] for step in flows.steps],
                "line": {"width": 0},
                "hovertemplate": "%{label}<br>%{value} customers<extra></extra>",
            },
            link={
                "source": [a for a, _ in flows.links],
                "target": [b for _, b in flows.links],
                "value": list(flows.links.values()),
                "color": "rgba(47, 79, 208, 0.18)",
                "hovertemplate": "%{source.label} → %{target.label}<br>"
                "%{value} customers<extra></extra>",
            },
        )
    )
    figure.update_layout(
        title={"text": title} if title else None,
        font={"family": _FONT, "size": 12},
        margin={"l": 8, "r": 8, "t": 36 if title else 8, "b": 8},
        height=max(320, min(640, 90 + 36 * max(1, len(paths)))),
        paper_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def _palette(labels: Iterable[str]) -> dict[str, str]:
    """A stable colour per label (the same event has one colour at every step)."""
    return {
        label: _COLOURS[i % len(_COLOURS)] for i, label in enumerate(dict.fromkeys(sorted(labels)))
    }


def last_step_figure(report: BeforeReport) -> go.Figure:
    """Horizontal bars: how many customers had each step last."""
    rows = list(reversed(report.last_step))
    figure = go.Figure(
        go.Bar(
            x=[n for _, n in rows],
            y=[label for label, _ in rows],
            orientation="h",
            marker={"color": "#2f4fd0"},
            hovertemplate="%{y}: %{x} customers<extra></extra>",
        )
    )
    figure.update_layout(
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        height=80 + 28 * len(rows),
        font={"family": _FONT, "size": 12},
        yaxis={"automargin": True},
        xaxis={
            "title": {"text": "customers"},
            "rangemode": "tozero",
            "tickformat": ",d",
            **({"dtick": 1} if rows and max(n for _, n in rows) < 6 else {}),
        },
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure
