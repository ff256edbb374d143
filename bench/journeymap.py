"""Journey map over a date range: how long the map page's query takes at the demo's size.

Run from the repository root::

    .venv/bin/python bench/journeymap.py                  # the demo (5,000 customers)

Builds the demo in a scratch ``CXLOOP_HOME`` (SQLite), copies its events into an embedded
ClickHouse store in this process (chdb), then times ``journeys.mapperiod.journey_map_period``
for every map (median of ``--repeat``), on chdb and on the SQL reference engine: the default
range (the last 90 days to the as-of time), the same against the 90 days before, and all time.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_engines import demo_with_engines, timed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with demo_with_engines(customers=args.customers, name="journey map range") as demo:
        from cxloop.analytics import selectors as analytics_selectors
        from cxloop.journeys import mapperiod
        from cxloop.metrics.funnelchange import change_periods
        from cxloop.metrics.trends import trend_range

        workspace, maps, chdb, sql_engine = demo.workspace, demo.maps, demo.chdb, demo.sql_engine
        span = trend_range(workspace=workspace)
        before = change_periods(workspace=workspace, date_from=span.first, date_to=span.last)
        every = trend_range(workspace=workspace, date_from=date(1970, 1, 1))
        cases = {
            "last 90 days": (span, None),
            "last 90 days, compared": (span, before.previous),
            "all time": (every, None),
        }
        print("| range | chdb (s) | SQL reference (s) |")
        print("|---|---:|---:|")
        for label, (current, previous) in cases.items():
            row = []
            for engine in (chdb, sql_engine):
                analytics_selectors.current_engine = lambda e=engine: e  # type: ignore[assignment]

                def draw(current=current, previous=previous) -> None:
                    for journey in maps:
                        mapperiod.journey_map_period(
                            journey=journey, since=current.since, until=current.until,
                            previous=(previous.since, previous.until) if previous else None,
                        )  # fmt: skip

                row.append(timed(args.repeat, draw))
            print(f"| {label} | {row[0]:.2f} | {row[1]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
