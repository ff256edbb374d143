"""Figures of the Text pages: sentiment per day, the key drivers' priority matrix, themes per
week and a theme's trend per channel.

The same figure is drawn on a phone (a plot about 260 px wide) and on a desk: labels and legend
entries are kept short (names in full in the hover) so that they fit both."""

from __future__ import annotations

import html
import textwrap
from datetime import date

import plotly.colors as pc
import plotly.graph_objects as go

_FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
COLOURS = {"negative": "#b91c1c", "neutral": "#6b7280", "positive": "#15803d"}


def _short(name: str, most: int) -> str:
    """A name cut to ``most`` characters, at a word where that keeps most of it, with "…"."""
    if len(name) <= most:
        return name
    cut = name[: most - 1]
    word = cut.rstrip(", ").rfind(" ")
    if word >= len(cut) - 6:  # at a word's end when that loses little
        cut = cut[:word]
    return cut.rstrip(", ") + "…"


def _text(name: str) -> str:
    """A name as plotly shows it: its markup characters escaped (plotly reads a few HTML tags)."""
    return html.escape(name, quote=False)


def _hover_name(name: str) -> str:
    """A name in full for a hover label, in lines of at most 40 characters."""
    return "<br>".join(_text(line) for line in textwrap.wrap(name, 40) or [""])


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


# The priority matrix's plot as it is on a phone and on a desk (CSS px, estimated): a point's
# label is drawn only where it overlaps no other label or point on both.
_PLOTS = ((260, 300), (1000, 300))
_LABEL_FONT = 11
_CHAR_PX = 6.6  # the average width of a character at 11 px, rounded up
_LABEL = 18  # characters of a label at most
# where a label may go, best first: (plotly's textposition, its box from the point's centre as a
# function of the marker's radius r and the label's width w and height h) in (x0, x1, y0, y1)
_PLACES = (
    ("top center", lambda r, w, h: (-w / 2, w / 2, r + 2, r + 2 + h)),
    ("bottom center", lambda r, w, h: (-w / 2, w / 2, -r - 2 - h, -r - 2)),
    ("middle right", lambda r, w, h: (r + 3, r + 3 + w, -h / 2, h / 2)),
    ("middle left", lambda r, w, h: (-r - 3 - w, -r - 3, -h / 2, h / 2)),
    ("top right", lambda r, w, h: (r / 2, r / 2 + w, r / 2, r / 2 + h)),
    ("top left", lambda r, w, h: (-r / 2 - w, -r / 2, r / 2, r / 2 + h)),
    ("bottom right", lambda r, w, h: (r / 2, r / 2 + w, -r / 2 - h, -r / 2)),
    ("bottom left", lambda r, w, h: (-r / 2 - w, -r / 2, -r / 2 - h, -r / 2)),
)


def _span(values: list[float], low_pad: float, high_pad: float) -> tuple[float, float]:
    low, high = min(values), max(values)
    width = (high - low) or max(abs(high), 1.0)
    return low - low_pad * width, high + high_pad * width


def _place_labels(
    x: list[float], y: list[float], sizes: list[float], labels: list[str],
    x_range: tuple[float, float], y_range: tuple[float, float],
) -> list[tuple[str, str]]:  # fmt: skip
    """(label, textposition) of each point, in the order given (most important first): the
    first place where the label stays inside the plot and clear of the labels placed before and
    of every point, on a phone's plot and on a desk's. Where the label fits nowhere, the point's
    number in that order (1 for the first) takes its place, as the table beside the chart
    numbers its rows; "" only where not even that fits."""

    def boxes(width: float, height: float):
        sx = width / ((x_range[1] - x_range[0]) or 1.0)
        sy = height / ((y_range[1] - y_range[0]) or 1.0)
        return [((a - x_range[0]) * sx, (b - y_range[0]) * sy) for a, b in zip(x, y, strict=True)]

    def clear(box, others) -> bool:
        return all(
            box[1] <= o[0] or o[1] <= box[0] or box[3] <= o[2] or o[3] <= box[2] for o in others
        )

    centres = [boxes(w, h) for w, h in _PLOTS]
    dots = [
        [(cx - s / 2, cx + s / 2, cy - s / 2, cy + s / 2) for (cx, cy), s in zip(c, sizes, strict=True)]
        for c in centres
    ]  # fmt: skip
    taken: list[list[tuple]] = [[] for _ in _PLOTS]
    found = []

    def place(i: int, label: str) -> str | None:
        w, h, r = _CHAR_PX * len(label), _LABEL_FONT + 3, sizes[i] / 2
        for position, offset in _PLACES:
            dx0, dx1, dy0, dy1 = offset(r, w, h)
            chosen = []
            for plot, (width, height) in enumerate(_PLOTS):
                cx, cy = centres[plot][i]
                box = (cx + dx0, cx + dx1, cy + dy0, cy + dy1)
                others = taken[plot] + dots[plot][:i] + dots[plot][i + 1 :]
                inside = box[0] >= 0 and box[1] <= width and box[2] >= 0 and box[3] <= height
                if not (inside and clear(box, others)):
                    break
                chosen.append(box)
            else:
                for plot, box in enumerate(chosen):
                    taken[plot].append(box)
                return position
        return None

    for i, label in enumerate(labels):
        for text in (label, str(i + 1)):
            position = place(i, text)
            if position is not None:
                found.append((text, position))
                break
        else:
            found.append(("", "top center"))
    return found


def priority_figure(found) -> go.Figure:
    """The priority matrix of key drivers: importance (|impact|, points of the overall score) on
    x, performance (the score among texts carrying the theme) on y; the overall score and the
    median importance split it into four quadrants. Red themes lower the score, green raise it;
    faded ones are not significant after Holm's correction. Points carry a short label where it
    fits clear of the others (the most important first), else their row's number in the table;
    the hover names every theme in full."""
    rows = found.drivers
    # rounded: an impact of 1e-15 (floating-point noise around zero) would give femto ticks
    importance = [round(abs(d.impact), 6) for d in rows]
    performance = [d.performance for d in rows]
    middle = sorted(importance)[len(importance) // 2] if importance else 0.0
    colours = [
        ("#b91c1c" if d.effect < 0 else "#15803d") if d.significant else "#9ca3af" for d in rows
    ]
    sizes = [8 + 24 * d.share for d in rows]
    x_range = (0.0, _span([*importance, 0.0], 0, 0.06)[1])
    y_values = performance + ([found.overall] if found.overall is not None else [])
    y_range = _span(y_values, 0.1, 0.1)
    placed = _place_labels(
        importance, performance, sizes, [_short(d.name, _LABEL) for d in rows], x_range, y_range
    )
    figure = go.Figure(
        go.Scatter(
            x=importance,
            y=performance,
            mode="markers+text",
            text=[_text(label) for label, _ in placed],
            textposition=[position for _, position in placed],
            textfont={"size": _LABEL_FONT, "color": "#344054"},
            cliponaxis=False,
            marker={"size": sizes, "color": colours},
            customdata=[[_hover_name(d.name), d.impact, d.mentions, d.p_holm] for d in rows],
            hovertemplate=(
                "%{customdata[0]}<br>impact %{customdata[1]:+.1f} points · %{customdata[2]} texts"
                "<br>score among them %{y:.1f} · p (Holm) %{customdata[3]:.3f}<extra></extra>"
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
            # short: the whole title fits a phone (the page's text says what it means)
            "title": {"text": f"importance: {unit} points moved"},
            "range": list(x_range),
            "automargin": True,
        },
        yaxis={
            "title": {"text": f"{unit} among its texts"},
            "range": list(y_range),
            "automargin": True,
        },
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


_ENTRY_PX = 190  # a legend entry's text: one a row on a phone, five on a desk
_ENTRY = 28  # characters of a legend entry's name at most
_ROW_PX = 20  # a legend row's height


def theme_weeks_figure(
    days: list[date], series: list[tuple[str, list[int]]], *, last_days: int = 7
) -> go.Figure:
    """Lines: texts per week of each theme (the busiest themes). The legend sits below the plot,
    an entry a row on a phone (short names; the hover has them in full), and the figure is as
    much taller as those rows need, so that every entry shows (plotly would otherwise give the
    legend at most half the figure and scroll the rest out of sight). When the last week has
    only ``last_days`` of its days so far, its segment is dotted and its hover says so: a week
    in progress is not a fall."""
    x = [day.isoformat() for day in days]
    partial = last_days < 7 and len(x) > 1
    whole = len(x) - 1 if partial else len(x)
    colours = pc.qualitative.Plotly
    traces = []
    for i, (name, counts) in enumerate(series):
        colour = colours[i % len(colours)]
        traces.append(
            go.Scatter(
                name=_text(_short(name, _ENTRY)),
                x=x[:whole],
                y=counts[:whole],
                mode="lines+markers",
                line={"color": colour},
                legendgroup=str(i),
                hovertemplate=_hover_name(name) + "<br>week of %{x}: %{y} texts<extra></extra>",
            )
        )
        if partial:
            traces.append(
                go.Scatter(
                    name=_text(_short(name, _ENTRY)),
                    x=x[-2:],
                    y=counts[-2:],
                    mode="lines+markers",
                    line={"color": colour, "dash": "dot"},
                    marker={"symbol": "circle-open"},
                    legendgroup=str(i),
                    showlegend=False,
                    hovertemplate=_hover_name(name)
                    + f"<br>week of %{{x}}: %{{y}} texts (so far: {last_days} of 7 days)"
                    + "<extra></extra>",
                )
            )
    figure = go.Figure(traces)
    legend_px = _ROW_PX * len(series) + 12
    figure.update_layout(
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        height=250 + legend_px,
        font={"family": _FONT, "size": 12},
        legend={
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": -0.1,
            "yanchor": "top",
            "entrywidth": _ENTRY_PX,
            "entrywidthmode": "pixels",
            "maxheight": legend_px,
            "font": {"size": 11},
        },
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
