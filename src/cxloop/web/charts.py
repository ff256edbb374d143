"""Plotly figures in pages: built in Python, drawn by static/plotly/plotly.min.js.

The domain modules return data (reports, flows); the figures that show them are built here, so
only the presentation layer imports plotly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
from django.utils.safestring import SafeString, mark_safe

from cxloop.journeys.paths import PathCount, sankey_flows

if TYPE_CHECKING:
    from cxloop.journeys.paths import BeforeReport
    from cxloop.segments.personas import PersonaResult

_FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
_PAGE_FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif"
_PALETTE = ("#2f4fd0", "#0f6b3f", "#8f4a00", "#6a35c4", "#08666e", "#9b2967", "#a83a0c", "#475467")
_COLOURS = (*_PALETTE, "#3b82f6", "#16a34a", "#d97706", "#7c3aed")


def figure_json(figure: go.Figure) -> SafeString:
    """The figure as JSON safe inside ``<script type="application/json">``.

    With ``<``, ``>`` and ``&`` escaped, no label (event names come from customers' trackers) can
    close the script element or open another.
    """
    text = figure.to_json().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return mark_safe(text)  # noqa: S308 (escaped on the line above)


# ------------------------------------------------------------------------------ paths


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


# ------------------------------------------------------------------------------ personas

_FEATURE_LABELS = {
    "recency_days": "Days since last seen",
    "tenure_days": "Days known",
    "interactions": "Interactions",
    "orders": "Orders",
    "revenue": "Revenue",
    "support": "Support tickets",
    "returns": "Returns",
}


def personas_figure(result: PersonaResult) -> go.Figure:
    """Heatmap: how each persona differs from the average customer, feature by feature."""
    columns = list(result.personas[0].zscores)
    labels = [_FEATURE_LABELS.get(c, f"Share on {c.removeprefix('share_')}") for c in columns]
    names = [f"{p.name} ({p.size:,})" for p in result.personas]
    z = [[max(-3.0, min(3.0, p.zscores[c])) for c in columns] for p in result.personas]
    text = [[_format_mean(c, p.means[c]) for c in columns] for p in result.personas]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=labels,
            y=names,
            text=text,
            texttemplate="%{text}",
            zmid=0,
            zmin=-3,
            zmax=3,
            colorscale="RdBu",
            reversescale=True,
            colorbar={"title": {"text": "vs average<br>(std. dev.)"}, "thickness": 12},
            hovertemplate="%{y}<br>%{x}: %{text}<br>%{z:+.1f} std. dev. vs average<extra></extra>",
        )
    )
    figure.update_layout(
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        height=120 + 52 * len(names),
        font={"family": _FONT, "size": 12},
        yaxis={"autorange": "reversed", "automargin": True},
        xaxis={"side": "top", "automargin": True},
        paper_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def _format_mean(column: str, value: float) -> str:
    if column.startswith("share_"):
        return f"{value:.0%}"
    if column in ("support", "returns"):
        return f"{value:.2f}"
    if column == "orders":
        return f"{value:.1f}"
    return f"{value:,.0f}"


# ------------------------------------------------------------------------------ journeys


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
