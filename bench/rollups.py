"""Rollup benchmark: the dashboard's NPS/CSAT/CES trends from the daily rollup vs the raw rows.

Run from the repository root::

    .venv/bin/python bench/rollups.py                     # SQLite, 1,000,000 responses
    .venv/bin/python bench/rollups.py --responses 200000  # quicker

Loads the same responses as ``bench/metrics.py`` (its generator, its raw insert), adds the
strongest index a raw query can use (covering the workspace, time, channel, survey and scores),
recounts the daily rollup (``cxloop rollups rebuild``'s function, timed), then times each
trend three ways on the same connection: the selector reading the rollup (the dashboard's
path), the selector forced onto the raw rows (``rollup=False``) and one hand-written
``GROUP BY`` on the raw rows that the covering index serves (intervals from its aggregates with
the same formulas). Every run asserts all three give exactly the same rows (counts, estimates,
intervals) and prints the medians and the ratios to the rollup.
See bench/README.md ("Rollup benchmark").
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import metrics as base  # bench/metrics.py: its data and loader

COVERING = (
    "CREATE INDEX bench_response_covering ON feedback_response "
    "(workspace_id, submitted_at, completed, channel, survey_id, nps_score, csat_score, ces_score)"
)


def rows_of(result) -> list[tuple]:
    """Comparable rows, in (period, group) order."""
    return sorted(
        (str(r.period), r.group, r.estimate.n, r.estimate.value, r.estimate.se, r.estimate.low,
         r.estimate.high)
        for r in result
    )  # fmt: skip


PERIOD_SQL = {
    None: None,
    "day": "date(r.submitted_at)",
    "week": "date(r.submitted_at, '-6 days', 'weekday 1')",
    "month": "date(r.submitted_at, 'start of month')",
}
AGGREGATES_SQL = {
    "nps": "COUNT(r.nps_score), SUM(r.nps_score >= 9), SUM(r.nps_score <= 6)",
    "csat": "COUNT(r.csat_score), SUM(r.csat_score >= s.csat_top_box), 0",
    "ces": "COUNT(r.ces_score), SUM(r.ces_score), SUM(r.ces_score * r.ces_score)",
}


def indexed_sql(workspace, metric, filters, by, split) -> list[tuple]:
    """The baseline: one hand-written GROUP BY on the raw rows (the covering index serves it),
    the intervals from the aggregates with the same formulas the selector uses."""
    from django.db import connection

    from cxloop.metrics import selectors

    period = PERIOD_SQL[by and by.value]
    group = {None: None, "channel": "r.channel", "survey": "r.survey_id"}[split]
    keys = [k for k in (period, group) if k]
    select = ", ".join([*(keys or []), AGGREGATES_SQL[metric.value]])
    sql = (
        f"SELECT {select} FROM feedback_response r "
        + ("JOIN feedback_survey s ON s.id = r.survey_id " if metric.value == "csat" else "")
        + f"WHERE r.workspace_id = %s AND r.completed AND r.{metric.value}_score IS NOT NULL "
        "AND r.submitted_at >= %s AND r.submitted_at < %s"
        + (f" GROUP BY {', '.join(keys)}" if keys else "")
    )
    bounds = map(connection.ops.adapt_datetimefield_value, (filters.start, filters.end))
    with connection.cursor() as cursor:
        cursor.execute(sql, [workspace.pk, *bounds])
        found = cursor.fetchall()
    out = []
    for row in found:
        head, (n, a, b) = row[: len(keys)], row[len(keys) :]
        e = selectors.estimate_from(metric, {"n": n, "a": a, "b": b})
        at = head[0] if period else None
        key = head[-1] if group else None
        out.append((str(at), None if key is None else str(key), e.n, e.value, e.se, e.low, e.high))
    return sorted(out)


def selector(workspace, metric, filters, by, split, rollup: bool) -> list[tuple]:
    from cxloop.metrics import selectors

    return rows_of(
        selectors.metric_rows(
            workspace=workspace, metric=metric, filters=filters, by=by, split=split, rollup=rollup
        )
    )


def median_of(repeat: int, function, *args) -> tuple[float, list[tuple]]:
    function(*args)  # warm-up
    times, result = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each (median)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="cxloop-bench-rollups-"))
    try:
        base.setup_django(None, home)
        from django.db import connection

        from cxloop.feedback import services as feedback_services
        from cxloop.metrics.definitions import MetricName
        from cxloop.metrics.filters import Granularity, ResponseFilters

        print(
            f"rollup benchmark: dashboard trends from the daily rollup vs raw rows, "
            f"{args.responses:,} responses · SQLite · Python {platform.python_version()} · "
            f"{os.cpu_count()} CPUs · load {os.getloadavg()[0]:.2f}"
        )
        workspace, _, inserted = base.load(args.responses, args.seed)
        with connection.cursor() as cursor:
            cursor.execute(COVERING)
            cursor.execute("ANALYZE")
        started = time.perf_counter()
        written = feedback_services.score_days_rebuild(workspace=workspace)
        rebuilt = time.perf_counter() - started
        print(
            f"data: inserted in {inserted:.1f} s; covering index added; rollup rebuilt from "
            f"the raw rows in {rebuilt:.1f} s ({written:,} daily rows)"
        )

        start, end = base.START, base.START + timedelta(days=base.DAYS)
        two_years = ResponseFilters(start=start, end=end)
        last_90 = ResponseFilters(start=end - timedelta(days=90), end=end)
        queries = [
            ("NPS by week × channel, 2 years", MetricName.NPS, two_years, Granularity.WEEK, "channel"),
            ("CSAT by month × survey, 2 years", MetricName.CSAT, two_years, Granularity.MONTH, "survey"),
            ("CES by day, last 90 days", MetricName.CES, last_90, Granularity.DAY, None),
            ("NPS overall, last 90 days", MetricName.NPS, last_90, None, None),
        ]  # fmt: skip
        failed = False
        print(f"{'query':<34}{'rollup ms':>11}{'raw ms':>10}{'SQL ms':>10}{'raw/rollup':>12}{'SQL/rollup':>12}")  # fmt: skip
        for label, metric, filters, by, split in queries:
            contenders = {
                "rollup": lambda m=metric, f=filters, b=by, sp=split: selector(
                    workspace, m, f, b, sp, True
                ),
                "raw": lambda m=metric, f=filters, b=by, sp=split: selector(
                    workspace, m, f, b, sp, False
                ),
                "sql": lambda m=metric, f=filters, b=by, sp=split: indexed_sql(
                    workspace, m, f, b, sp
                ),
            }
            found, times = {}, {name: [] for name in contenders}
            for name, run in contenders.items():  # warm-up
                found[name] = run()
            for _ in range(args.repeat):  # alternate, so drift in machine load hits all alike
                for name, run in contenders.items():
                    started = time.perf_counter()
                    found[name] = run()
                    times[name].append(time.perf_counter() - started)
            rolled, raw, sql_rows = found["rollup"], found["raw"], found["sql"]
            rolled_s, raw_s, sql_s = (statistics.median(times[n]) for n in ("rollup", "raw", "sql"))
            if rolled != raw:
                print(f"FAIL: {label}: the rollup's rows differ from the raw rows")
                failed = True
            if sql_rows != rolled:
                print(f"FAIL: {label}: the rollup's rows differ from the indexed SQL's")
                for a, b in zip(rolled, sql_rows, strict=False):
                    if a != b:
                        print(f"  rollup {a}\n  SQL    {b}")
                        break
                failed = True
            print(
                f"{label:<34}{rolled_s * 1000:>11.1f}{raw_s * 1000:>10.1f}{sql_s * 1000:>10.1f}"
                f"{raw_s / rolled_s:>11.1f}×{sql_s / rolled_s:>11.1f}×"
            )
        print(
            "same rows: the rollup, the raw selector and the indexed SQL agree exactly"
            if not failed
            else "FAILED"
        )

        # what the rollup costs a write: one day's recount, as each submission does
        from cxloop.feedback import selectors as feedback_selectors

        latest = feedback_selectors.score_days(workspace=workspace, metric="nps").latest("day")
        bucket = (latest.survey_id, latest.day)
        recount = median_of(
            args.repeat * 3, lambda: feedback_services.score_days_refresh(buckets=[bucket])
        )[0]
        print(f"one submission's recount of its (survey, day): {recount * 1000:.1f} ms (median)")
        return 1 if failed else 0
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
