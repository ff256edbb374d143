"""Figure of the personas page: how each persona differs from the average customer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go

if TYPE_CHECKING:
    from cxloop.segments.personas import PersonaResult

_FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"

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
