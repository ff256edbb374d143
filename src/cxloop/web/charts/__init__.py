"""Plotly figures in pages: built in Python, drawn by static/plotly/plotly.min.js.

The domain modules return data (reports, flows, estimates); the figures that show them are built
here, one module per area (``charts.metrics``, ``charts.paths``, ``charts.journeys``,
``charts.personas``; ``charts.embed`` puts a figure in a page), so only the presentation layer
imports plotly. Callers import the module they need; this package re-exports nothing.
"""
