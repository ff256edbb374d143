"""Trends broken down by customer: a trait, saved segments or the current stage in a journey map.

The engine counts events; who is in which group lives in the system of record. This module
(above journeys and metrics in the layers) asks the owning app's selector for each customer's
group(s) — ``customers`` for traits, this app for segments, ``journeys`` for stages — and hands
the mapping to ``metrics.trends.trend_report``. :func:`trend_split_report` is the one way the
trends page and ``POST /api/trends`` run a trend, whatever the breakdown.

Breakdowns (besides ``channel`` and ``property:<name>``, passed through):

* ``trait:<name>``: the trait's value as text; customers without it in "(none)"; an unknown
  name puts everyone there;
* ``segment:<id>``: the segment's members against everyone else ("not in <name>");
* ``segments:<id>,<id>,…``: one group per chosen segment (at most eight); a customer in several
  counts in each, one in none goes to "(none)";
* ``stage:<journey map id>``: the stage the customer is at now in that map ("(none)": not in it).

Segment breakdowns keep every group (no "other"); trait and stage values keep the ``top`` ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cxloop.analytics.steps import Step
from cxloop.core.models import Workspace
from cxloop.customers import selectors as customer_selectors
from cxloop.journeys import selectors as journey_selectors
from cxloop.metrics import trends
from cxloop.segments import selectors as segment_selectors

MAX_SPLIT_SEGMENTS = segment_selectors.MAX_SEGMENT_GROUPS


@dataclass(frozen=True, slots=True)
class CustomerSplit:
    """Each customer's groups for a breakdown by customer; ``unplaced``: the label of those in
    none ('' for "(none)"); ``keep_all``: every group is shown (no "other")."""

    groups: dict[int, tuple[str, ...]]
    unplaced: str = ""
    keep_all: bool = False


def _ids(text: str, what: str) -> list[int]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isascii() and p.isdigit() and len(p) <= 18 for p in parts):
        raise trends.TrendQueryError(f"breakdown: {what} takes ids, e.g. {what}:3, got {text!r}")
    return list(dict.fromkeys(int(p) for p in parts))


def _segment_members(workspace: Workspace, segment_id: int) -> tuple[str, set[int]]:
    segment = segment_selectors.segment_get(workspace=workspace, segment_id=segment_id)
    if segment is None:
        raise trends.TrendQueryError(f"breakdown: no segment {segment_id} in this workspace")
    try:
        ids = segment_selectors.segment_member_ids(workspace=workspace, segment_id=segment_id)
        return segment.name, set(ids)
    except segment_selectors.SegmentChoiceError as exc:
        raise trends.TrendQueryError(f"breakdown: {exc}") from exc


def customer_split(*, workspace: Workspace, breakdown: str) -> CustomerSplit | None:
    """The customer groups of a breakdown by trait, segment(s) or stage; None for any other
    breakdown. Raises ``TrendQueryError`` naming ``breakdown`` for an unknown segment or map."""
    kind, _, rest = breakdown.partition(":")
    rest = rest.strip()
    if kind not in ("trait", "segment", "segments", "stage") or not rest:
        return None
    if kind == "trait":
        values = customer_selectors.customer_trait_values(workspace=workspace, key=rest)
        return CustomerSplit({pk: (value,) for pk, value in values.items()})
    if kind == "stage":
        ids = _ids(rest, "stage")
        if len(ids) > 1:
            raise trends.TrendQueryError("breakdown: stage takes one journey map id")
        journey_id = ids[0]
        journey = journey_selectors.journey_get(workspace=workspace, journey_id=journey_id)
        if journey is None:
            raise trends.TrendQueryError(
                f"breakdown: no journey map {journey_id} in this workspace"
            )
        stages = journey_selectors.stage_of_customers(journey=journey)
        return CustomerSplit({pk: (name,) for pk, name in stages.items()})
    chosen = _ids(rest, kind)
    if kind == "segment" and len(chosen) > 1:
        raise trends.TrendQueryError("breakdown: segment takes one id (segments: several)")
    if len(chosen) > MAX_SPLIT_SEGMENTS:
        raise trends.TrendQueryError(
            f"breakdown: at most {MAX_SPLIT_SEGMENTS} segments ({len(chosen)} given)"
        )
    found: dict[int, list[str]] = {}
    names = []
    for segment_id in chosen:
        name, members = _segment_members(workspace, segment_id)
        names.append(name)
        for pk in members:
            found.setdefault(pk, []).append(name)
    groups = {pk: tuple(dict.fromkeys(labels)) for pk, labels in found.items()}
    unplaced = f"not in {names[0]}" if kind == "segment" else ""
    return CustomerSplit(groups, unplaced=unplaced, keep_all=True)


def trend_split_report(
    *,
    workspace: Workspace,
    series: Sequence[Step],
    breakdown: str = "",
    top: int = 5,
    **options: Any,
) -> trends.TrendReport:
    """``metrics.trends.trend_report`` with a breakdown by customer resolved first (the page's
    and the API's one selector for trends)."""
    split = customer_split(workspace=workspace, breakdown=breakdown) if breakdown else None
    if split is None:
        return trends.trend_report(
            workspace=workspace, series=series, breakdown=breakdown, top=top, **options
        )
    if not 1 <= top <= trends.MAX_TOP:
        raise trends.TrendQueryError(f"top: between 1 and {trends.MAX_TOP}")
    return trends.trend_report(
        workspace=workspace, series=series, breakdown=breakdown,
        top=trends.MAX_TOP if split.keep_all else top, customer_groups=split.groups,
        unplaced=split.unplaced, **options,
    )  # fmt: skip
