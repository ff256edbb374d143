"""Charts embedded in pages cannot be used to inject markup through their labels."""

import json

import plotly.graph_objects as go

from cxloop.web.charts.embed import figure_json


def test_labels_cannot_close_the_script_element():
    hostile = "</script><script>alert('x')</script> & <!--"
    figure = go.Figure(go.Bar(x=[hostile], y=[1]))

    text = str(figure_json(figure))

    assert "<" not in text
    assert ">" not in text
    assert "&" not in text
    assert json.loads(text)["data"][0]["x"] == [hostile]


# -- the dashboard's figures at small n (issue 14) ------------------------------------------------


def _trend_row(day: int, promoters: int, detractors: int, n: int):
    from datetime import date

    from cxloop.metrics import definitions as d
    from cxloop.metrics.selectors import MetricRow

    estimate = d.nps(promoters=promoters, detractors=detractors, n=n)
    return MetricRow(period=date(2025, 11, day), group=None, label=None, estimate=estimate)


def test_one_detractor_is_drawn_whole_on_a_readable_axis():
    from cxloop.analytics.periods import Granularity
    from cxloop.metrics.definitions import MetricName
    from cxloop.web.charts.metrics import trend_figure

    figure = trend_figure(MetricName.NPS, [_trend_row(22, 0, 1, 1)], Granularity.DAY)

    low, high = figure.layout.yaxis.range
    assert low < -100 < high  # the point at −100 is inside the plot, not on its edge
    assert high - low >= 0.4 * 200  # not a sliver of the scale such as −90…−100
    assert list(figure.layout.xaxis.tickvals) == ["2025-11-22"]  # one tick, not "22 Nov 22 Nov"
    point = next(t for t in figure.data if t.mode == "markers")
    assert point.marker.color == "white"  # faded: under the minimum sample
    assert list(point.error_y.array) == [0.0]  # one answer: no interval drawn, not a "±0"


def test_small_groups_are_faded_points_not_bars():
    from types import SimpleNamespace

    from cxloop.metrics import definitions as d
    from cxloop.metrics.definitions import MetricName
    from cxloop.metrics.selectors import MetricRow
    from cxloop.web.charts.metrics import CHANNEL_COLOURS, breakdown_figure

    def group(channel: str, promoters: int, detractors: int, n: int):
        estimate = d.nps(promoters=promoters, detractors=detractors, n=n)
        row = MetricRow(period=None, group=channel, label=channel, estimate=estimate)
        return SimpleNamespace(row=row, change=SimpleNamespace(verdict="not significant"))

    groups = [group("web", 150, 40, 272), group("store", 1, 1, 3), group("app", 0, 1, 1)]

    figure = breakdown_figure(MetricName.NPS, groups, "channel")

    bars = [t for t in figure.data if t.type == "bar"]
    points = [t for t in figure.data if t.type == "scatter"]
    assert list(bars[0].y) == ["web"] and list(bars[0].marker.color) == [CHANNEL_COLOURS["web"]]
    assert sorted(points[0].y) == ["app", "store"]
    assert points[0].error_x.arrayminus[list(points[0].y).index("store")] > 30  # a wide interval


def test_channel_colours_are_the_stylesheets():
    import re
    from pathlib import Path

    from cxloop.web.charts.metrics import CHANNEL_COLOURS, OTHER_COLOUR

    css = (Path(__file__).parents[1] / "src/cxloop/web/static/cxloop/app.css").read_text()
    declared = dict(re.findall(r"--c-([a-z]+):\s*(#[0-9a-f]{6})", css))

    assert declared == {**CHANNEL_COLOURS, "other": OTHER_COLOUR}
