"""Figures of the model-health page: the purchase model's holdout check and the churn model's
calibration."""

from __future__ import annotations

import plotly.graph_objects as go

_FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
_PREDICTED = "#4f46e5"
_ACTUAL = "#0f766e"


def _layout(figure: go.Figure, *, x_title: str, y_title: str) -> go.Figure:
    figure.update_layout(
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        height=320,
        font={"family": _FONT, "size": 12},
        legend={"orientation": "h", "y": 1.12, "x": 0},
        xaxis={"title": {"text": x_title}, "automargin": True},
        yaxis={"title": {"text": y_title}, "automargin": True, "rangemode": "tozero"},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def holdout_figure(groups: list[dict]) -> go.Figure:
    """Mean purchases in the holdout period per calibration-frequency group, forecast beside
    actual (as in Fader, Hardie & Lee 2005, figure 4)."""
    labels = [g["frequency"] for g in groups]
    customers = [g["customers"] for g in groups]
    figure = go.Figure(
        [
            go.Bar(
                name="Forecast",
                x=labels,
                y=[g["predicted"] for g in groups],
                marker_color=_PREDICTED,
                customdata=customers,
                hovertemplate="%{x} repeat purchases (%{customdata} customers)<br>"
                "forecast %{y:.2f}<extra></extra>",
            ),
            go.Bar(
                name="Actual",
                x=labels,
                y=[g["actual"] for g in groups],
                marker_color=_ACTUAL,
                customdata=customers,
                hovertemplate="%{x} repeat purchases (%{customdata} customers)<br>"
                "actual %{y:.2f}<extra></extra>",
            ),
        ]
    )
    figure.update_layout(barmode="group")
    return _layout(
        figure,
        x_title="Repeat purchases in the calibration period",
        y_title="Purchases per customer in the holdout",
    )


def calibration_figure(points: list[dict]) -> go.Figure:
    """Predicted churn probability against the share that churned, per risk band."""
    figure = go.Figure(
        [
            go.Scatter(
                name="Perfect calibration",
                x=[0, 1],
                y=[0, 1],
                mode="lines",
                line={"dash": "dot", "color": "#94a3b8"},
                hoverinfo="skip",
            ),
            go.Scatter(
                name="Churn model",
                x=[p["predicted"] for p in points],
                y=[p["actual"] for p in points],
                mode="lines+markers",
                marker_color=_PREDICTED,
                hovertemplate="predicted %{x:.0%}<br>churned %{y:.0%}<extra></extra>",
            ),
        ]
    )
    figure = _layout(figure, x_title="Predicted churn risk", y_title="Share who churned")
    figure.update_xaxes(range=[0, 1], tickformat=".0%")
    figure.update_yaxes(range=[0, 1], tickformat=".0%")
    return figure
