"""Metric values as people read them: in dashboard tables and cards, and on chart hovers."""

from __future__ import annotations

from cxloop.metrics.definitions import Comparison, Estimate, MetricName


def fmt_value(metric: MetricName, value: float | None) -> str:
    """NPS as signed points, rates as %, CES with two decimals; an em dash for no data."""
    if value is None:
        return "—"
    if metric is MetricName.NPS:
        text = f"{value:+.0f}" if round(value) != 0 else "0"
    elif metric is MetricName.CES:
        text = f"{value:.2f}"
    else:
        text = f"{value:.1f}%"
    return text.replace("-", "−")


def fmt_moe(metric: MetricName, estimate: Estimate) -> str:
    if estimate.moe is None:
        return ""
    if metric is MetricName.CES:
        return f"±{estimate.moe:.2f}" if estimate.moe >= 0.005 else "±<0.01"
    unit = "" if metric is MetricName.NPS else " pts"
    # an interval is never zero-wide (definitions.py); one that rounds to 0.0 is not shown as "±0.0"
    return f"±{estimate.moe:.1f}{unit}" if estimate.moe >= 0.05 else f"±<0.1{unit}"


def fmt_change(metric: MetricName, change: Comparison) -> str:
    if change.difference is None:
        return ""
    digits = 2 if metric is MetricName.CES else 1
    unit = "" if metric in (MetricName.NPS, MetricName.CES) else " pts"
    return f"{change.difference:+.{digits}f}{unit}".replace("-", "−")


def fmt_diff(metric: MetricName, difference: float) -> str:
    """A signed difference (an interval's end), in the metric's units."""
    digits = 2 if metric is MetricName.CES else 1
    unit = "" if metric in (MetricName.NPS, MetricName.CES) else " pts"
    return f"{difference:+.{digits}f}{unit}".replace("-", "−")


def fmt_p(change: Comparison) -> str:
    """The p-value as shown on hover: adjusted (and alone) in a table; "" when not tested."""
    if change.p_value is None:
        return ""
    if change.p_adjusted is None:
        return f"p = {change.p_value:.3f}"
    return f"p = {change.p_adjusted:.3f} adjusted (Holm; {change.p_value:.3f} alone)"
