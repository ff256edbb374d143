"""Embedding a plotly figure in a page."""

from __future__ import annotations

import plotly.graph_objects as go
from django.utils.safestring import SafeString, mark_safe


def figure_json(figure: go.Figure) -> SafeString:
    """The figure as JSON safe inside ``<script type="application/json">``.

    With ``<``, ``>`` and ``&`` escaped, no label (event names come from customers' trackers) can
    close the script element or open another.
    """
    text = figure.to_json().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return mark_safe(text)  # noqa: S308 (escaped on the line above)
