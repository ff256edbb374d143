""" "Why they dropped" from ClickHouse in one query (``funnelsql.funnel_why_sql``): the funnel
and the entrants' window events are kept for the query (materialized CTEs) and read for the
depths, the event counts and the property value counts, instead of each part computing the
funnel again. An engine without materialized CTEs (a server that may predate them) asks the
parts one by one (``correlation.why_in_parts``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from cxloop.analytics import clickhouse as ch
from cxloop.analytics import funnelsql
from cxloop.analytics.correlation import (
    FunnelCorrelation,
    FunnelWhy,
    PropertyCounts,
    property_row,
    why_in_parts,
)
from cxloop.analytics.steps import Exclusion, Step


def funnel_why(
    engine: Any,
    *,
    workspace_id: int,
    steps: Sequence[Step],
    window: timedelta | None,
    only: set[int] | None,
    mode: str,
    exclusions: Sequence[Exclusion],
    since: datetime | None,
    until: datetime | None,
    sample: int | None,
    properties: bool,
    max_values: int,
    bounds: dict[str, datetime],
) -> FunnelWhy:
    """``AnalyticsEngine.funnel_why`` for ``engine`` (a ClickHouse one); ``bounds`` its
    ``since``/``until`` parameters (``engine._bounds``)."""
    question = {
        "workspace_id": workspace_id, "steps": steps, "window": window, "only": only,
        "mode": mode, "exclusions": exclusions, "since": since, "until": until, "sample": sample,
    }  # fmt: skip
    if not engine.materialized_ctes:
        return why_in_parts(engine, properties=properties, max_values=max_values, **question)
    chosen, params = funnelsql.funnel_mode_sql(
        steps, window=window, only=only is not None, mode=mode, exclusions=exclusions,
        bounded=bool(bounds), sampled=sample is not None,
    )  # fmt: skip
    params.update(bounds, sample=sample, workspace=workspace_id, n=len(steps))
    params.update(
        step_names=sorted({s.event for s in steps}), last_step=steps[-1].event,
        max_values=max_values,
    )  # fmt: skip
    if only is not None:
        params["only"] = sorted(only) or [0]
    sql = funnelsql.funnel_why_sql(chosen, bounded=bool(bounds), properties=properties)
    depth: dict[int, int] = {}
    found = FunnelCorrelation(entered=0, converted=0)
    counts: PropertyCounts | None = {} if properties else None
    for part, event, *rest in engine.transport.query(ch.bind(ch.MATERIALIZED_CTES + sql, params)):
        if part == 0:
            depth[int(rest[-2])] = int(rest[-1])
        elif part == 1:
            found.events[str(event)] = (int(rest[-2]), int(rest[-1]))
        elif counts is not None:
            key, value = property_row([event, *rest])
            counts[key] = value
    found.entered = len(depth)
    found.converted = sum(1 for d in depth.values() if d == len(steps))
    return FunnelWhy(steps=len(steps), depth=depth, correlation=found, properties=counts)
