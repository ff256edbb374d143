"""Metrics benchmark: "NPS trend by week × channel with intervals" over 1,000,000 responses.

Run from the repository root::

    .venv/bin/python bench/metrics.py                    # SQLite, 1,000,000 responses
    .venv/bin/python bench/metrics.py --responses 100000 # quicker
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cx .venv/bin/python bench/metrics.py
                                      # also PostgreSQL, in a scratch database cx_bench_metrics

Times our selector (``cxloop.metrics.selectors.metric_rows``: ORM ``GROUP BY`` + intervals in
Python) against one hand-written SQL query that computes the same rows (NPS, SE and the clipped
95% interval all in SQL), on the same database in the same run, checks both give the same result,
and prints the times and their ratio. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 2.0
CHANNELS = ("web", "app", "email", "chat", "phone", "store", "social")
TOUCHPOINTS = ("Order Completed", "Support Ticket Closed", "Store Visit", "Onboarding", "Renewal")
START = datetime(2024, 1, 1, tzinfo=UTC)
DAYS = 730  # two years: 105 weeks × 7 channels ≈ 735 result rows
COLUMNS = (
    "workspace_id", "survey_id", "customer_id", "response_key", "source", "channel", "touchpoint",
    "language", "started_at", "submitted_at", "completed", "nps_score", "csat_score", "ces_score",
    "comment",
)  # fmt: skip
Z95 = 1.959963984540054

HAND_SQL = {
    # One statement: aggregates, then NPS, SE and the clipped 95% interval, as the selector gives.
    "sqlite": """
        WITH g AS (
            SELECT date(submitted_at, '-6 days', 'weekday 1') AS week, channel,
                   COUNT(*) AS n,
                   SUM(CASE WHEN nps_score >= 9 THEN 1 ELSE 0 END) * 1.0 / COUNT(*) AS p,
                   SUM(CASE WHEN nps_score <= 6 THEN 1 ELSE 0 END) * 1.0 / COUNT(*) AS d
            FROM feedback_response
            WHERE workspace_id = %s AND completed AND nps_score IS NOT NULL
              AND submitted_at >= %s AND submitted_at < %s
            GROUP BY 1, 2
        ), s AS (
            SELECT week, channel, n, 100 * (p - d) AS nps,
                   100 * sqrt(max(p + d - (p - d) * (p - d), 0.0) / n) AS se
            FROM g
        )
        SELECT week, channel, n, nps, se,
               max(nps - {z} * se, -100.0), min(nps + {z} * se, 100.0)
        FROM s ORDER BY week, channel
    """,
    "postgresql": """
        WITH g AS (
            SELECT CAST(date_trunc('week', submitted_at AT TIME ZONE 'UTC') AS date) AS week,
                   channel, COUNT(*) AS n,
                   SUM(CASE WHEN nps_score >= 9 THEN 1 ELSE 0 END) * 1.0 / COUNT(*) AS p,
                   SUM(CASE WHEN nps_score <= 6 THEN 1 ELSE 0 END) * 1.0 / COUNT(*) AS d
            FROM feedback_response
            WHERE workspace_id = %s AND completed AND nps_score IS NOT NULL
              AND submitted_at >= %s AND submitted_at < %s
            GROUP BY 1, 2
        ), s AS (
            SELECT week, channel, n, 100 * (p - d) AS nps,
                   100 * sqrt(GREATEST(p + d - (p - d) * (p - d), 0.0) / n) AS se
            FROM g
        )
        SELECT week, channel, n, nps, se,
               GREATEST(nps - {z} * se, -100.0), LEAST(nps + {z} * se, 100.0)
        FROM s ORDER BY week, channel
    """,
}


# --------------------------------------------------------------------------------------------
# Scratch database and data
# --------------------------------------------------------------------------------------------


def setup_django(database_url: str | None, home: Path) -> None:
    os.environ["CXLOOP_HOME"] = str(home)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "cxloop.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def generate_rows(count: int, workspace_id: int, survey_ids: list[int], *, seed: int, vendor: str):
    """``count`` response rows (90% completed; 80% of those with an NPS answer), in time order.

    Channels differ in their NPS so the result is not flat; the values are database-ready
    (SQLite: naive UTC text as Django stores it; PostgreSQL: aware datetimes).
    """
    rng = random.Random(seed)
    step = DAYS * 86400 / count
    bias = {channel: index * 0.35 for index, channel in enumerate(CHANNELS)}
    sqlite = vendor == "sqlite"
    rows = []
    for number in range(count):
        submitted = START + timedelta(seconds=number * step + rng.random() * step)
        started = submitted - timedelta(seconds=rng.randrange(30, 900))
        channel = CHANNELS[rng.randrange(len(CHANNELS))]
        completed = rng.random() < 0.9
        kind = rng.random()
        nps = csat = ces = None
        if kind < 0.8:
            nps = min(10, max(0, int(rng.gauss(8.2 - bias[channel], 2.2) + 0.5)))
        elif kind < 0.93:
            csat = rng.randint(1, 5)
        else:
            ces = rng.randint(1, 7)
        if sqlite:
            started_value = started.isoformat(" ")[:-6]
            submitted_value = submitted.isoformat(" ")[:-6] if completed else None
        else:
            started_value, submitted_value = started, submitted if completed else None
        rows.append(
            (
                workspace_id,
                survey_ids[number % len(survey_ids)],
                None,
                f"r{number}",
                "link",
                channel,
                TOUCHPOINTS[number % len(TOUCHPOINTS)],
                "en",
                started_value,
                submitted_value,
                completed,
                nps,
                csat,
                ces,
                "",
            )
        )
    return rows


def load(count: int, seed: int):
    """A workspace with 5 surveys and ``count`` responses, inserted with raw executemany/COPY."""
    from django.db import connection, transaction

    from cxloop.core import services as core_services
    from cxloop.feedback.models import Survey

    workspace = core_services.workspace_create(name="Bench metrics", slug="bench-metrics")
    surveys = [
        Survey.objects.create(
            workspace=workspace, name=f"Survey {i}", kind="nps", public_token=f"bench{i}"
        )
        for i in range(5)
    ]
    started = time.perf_counter()
    rows = generate_rows(
        count, workspace.pk, [s.pk for s in surveys], seed=seed, vendor=connection.vendor
    )
    generated = time.perf_counter() - started
    columns = ", ".join(COLUMNS)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # psycopg 3: COPY is the fast bulk path
            with raw.copy(f"COPY feedback_response ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            sql = f"INSERT INTO feedback_response ({columns}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"  # fmt: skip
            for offset in range(0, len(rows), 50_000):
                cursor.executemany(sql, rows[offset : offset + 50_000])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    inserted = time.perf_counter() - started
    return workspace, generated, inserted


# --------------------------------------------------------------------------------------------
# The two contenders
# --------------------------------------------------------------------------------------------


def run_selector(workspace, start: datetime, end: datetime) -> list[tuple]:
    from cxloop.metrics import selectors
    from cxloop.metrics.definitions import MetricName
    from cxloop.metrics.filters import Granularity, ResponseFilters

    rows = selectors.metric_rows(
        workspace=workspace,
        metric=MetricName.NPS,
        filters=ResponseFilters(start=start, end=end),
        by=Granularity.WEEK,
        split="channel",
        rollup=False,  # the raw GROUP BY; bench/rollups.py times the daily rollup
    )
    return [
        (
            r.period.isoformat(),
            r.group,
            r.estimate.n,
            r.estimate.value,
            r.estimate.se,
            r.estimate.low,
            r.estimate.high,
        )
        for r in rows
    ]


def run_hand_sql(workspace, start: datetime, end: datetime) -> list[tuple]:
    from django.db import connection

    sql = HAND_SQL[connection.vendor].format(z=repr(Z95))
    params = [workspace.pk, *map(connection.ops.adapt_datetimefield_value, (start, end))]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        (str(week), channel, n, float(nps), float(se), float(low), float(high))
        for week, channel, n, nps, se, low, high in rows
    ]


def run_django_trunc(workspace, start: datetime, end: datetime) -> list[tuple]:
    """The same aggregates grouped with Django's TruncWeek instead of our PeriodStart."""
    from django.db.models import DateField
    from django.db.models.functions import TruncWeek

    from cxloop.metrics import selectors
    from cxloop.metrics.definitions import MetricName
    from cxloop.metrics.filters import ResponseFilters

    responses = selectors.responses_filtered(
        workspace=workspace, filters=ResponseFilters(start=start, end=end), metric=MetricName.NPS
    )
    rows = (
        responses.annotate(week=TruncWeek("submitted_at", output_field=DateField()))
        .values("week", "channel")
        .annotate(**selectors._aggregates(MetricName.NPS, ResponseFilters()))
        .order_by("week", "channel")
    )
    result = []
    for row in rows:
        e = selectors.estimate_from(MetricName.NPS, row)
        result.append((row["week"].isoformat(), row["channel"], e.n, e.value, e.se, e.low, e.high))
    return result


def same(a: list[tuple], b: list[tuple]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x[:3] != y[:3]:
            return False
        if any(abs(p - q) > 1e-9 for p, q in zip(x[3:], y[3:], strict=True)):
            return False
    return True


def timed(function, *args) -> tuple[float, list[tuple]]:
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def query_plan(workspace, start, end) -> list[str]:
    from django.db import connection

    sql = HAND_SQL[connection.vendor].format(z=repr(Z95))
    params = [workspace.pk, *map(connection.ops.adapt_datetimefield_value, (start, end))]
    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql, params)
        return [" ".join(str(c) for c in row) for row in cursor.fetchall()]


# --------------------------------------------------------------------------------------------
# One backend, in this process
# --------------------------------------------------------------------------------------------


def bench_backend(args: argparse.Namespace, database_url: str | None) -> int:
    home = Path(tempfile.mkdtemp(prefix="cxloop-bench-metrics-"))
    try:
        setup_django(database_url, home)
        from django.db import connection

        label = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"
        print(f"\n== {label} ({connection.settings_dict['NAME']}) ==")
        workspace, generated, inserted = load(args.responses, args.seed)
        print(
            f"data: {args.responses:,} responses generated in {generated:.1f} s, "
            f"inserted in {inserted:.1f} s ({'COPY' if connection.vendor == 'postgresql' else 'executemany'})"
        )
        start, end = START, START + timedelta(days=DAYS)

        selector_times, sql_times = [], []
        timed(run_selector, workspace, start, end)  # warm-up: caches, first connection use
        timed(run_hand_sql, workspace, start, end)
        for _ in range(args.repeat):  # alternate, so drift in machine load hits both alike
            seconds, ours = timed(run_selector, workspace, start, end)
            selector_times.append(seconds)
            seconds, theirs = timed(run_hand_sql, workspace, start, end)
            sql_times.append(seconds)
        if not same(ours, theirs):
            print("FAIL: the selector and the hand-written SQL give different rows")
            for a, b in zip(ours, theirs, strict=False):
                if a != b:
                    print(f"  selector {a}\n  SQL      {b}")
                    break
            return 1
        counted = sum(row[2] for row in ours)
        print(
            f"result: {len(ours)} rows (weeks × channels), {counted:,} NPS answers; "
            "selector and hand-written SQL agree (to 1e-9)"
        )
        if args.plan:
            print("plan:", *query_plan(workspace, start, end), sep="\n  ")

        ours_median, sql_median = statistics.median(selector_times), statistics.median(sql_times)
        ratio = ours_median / sql_median
        print(f"{'query':<36}{'median s':>10}{'min s':>10}{'ratio':>8}")
        print(f"{'hand-written SQL (baseline)':<36}{sql_median:>10.3f}{min(sql_times):>10.3f}{1:>8.2f}")  # fmt: skip
        print(f"{'selector metric_rows (ORM+Python)':<36}{ours_median:>10.3f}{min(selector_times):>10.3f}{ratio:>8.2f}")  # fmt: skip
        if args.compare_trunc:
            seconds, trunc_rows = timed(run_django_trunc, workspace, start, end)
            agree = "same rows" if same(trunc_rows, ours) else "DIFFERENT rows"
            print(
                f"{'(info) Django TruncWeek instead':<36}{seconds:>10.3f}{'':>10}{seconds / sql_median:>8.2f}"
                f"  one run, {agree}"
            )
        passed = ratio <= TARGET_RATIO
        print(
            f"target: ratio ≤ {TARGET_RATIO:.0f} → {'PASS' if passed else 'FAIL'} "
            f"(ratio {ratio:.2f}; selector {ours_median * 1000:.0f} ms, SQL {sql_median * 1000:.0f} ms, "
            f"median of {args.repeat})"
        )
        return 0 if passed else 1
    finally:
        if args.keep:
            print(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# PostgreSQL scratch database
# --------------------------------------------------------------------------------------------


def scratch_postgres(url: str, name: str) -> str:
    """(Re)create database ``name`` on the server of ``url``; return its URL."""
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_postgres(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}"')


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each (median)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--plan", action="store_true", help="print the query plan")
    parser.add_argument(
        "--no-compare-trunc",
        dest="compare_trunc",
        action="store_false",
        help="skip the one-off timing of Django's TruncWeek",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch SQLite directory")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help=argparse.SUPPRESS)
    parser.add_argument("--pg-url", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.only == "sqlite":
        return bench_backend(args, None)
    if args.only == "postgresql":
        return bench_backend(args, args.pg_url)

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"metrics benchmark: NPS trend by week × channel with 95% intervals, "
        f"{args.responses:,} responses · Python {platform.python_version()} · "
        f"{os.cpu_count()} CPUs · load {load_before:.2f}"
    )
    passthrough = list(argv if argv is not None else sys.argv[1:])
    status = subprocess.call([sys.executable, __file__, *passthrough, "--only", "sqlite"])
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        name = f"{urlsplit(url).path.lstrip('/') or 'cx'}_bench_metrics"
        scratch = scratch_postgres(url, name)
        try:
            status |= subprocess.call(
                [
                    sys.executable,
                    __file__,
                    *passthrough,
                    "--only",
                    "postgresql",
                    "--pg-url",
                    scratch,
                ]
            )
        finally:
            drop_postgres(scratch)
    return status


if __name__ == "__main__":
    sys.exit(main())
