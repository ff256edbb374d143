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
