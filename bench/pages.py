"""Page benchmark: the analytics pages a person opens, p50/p95 and peak memory, on the embedded
analytics engine against the database answering the same pages (``CXLOOP_ANALYTICS=sql``).

    .venv/bin/python bench/pages.py                         # the demo at 25,000 customers (~1M events)
    .venv/bin/python bench/pages.py --customers 250000      # ~10M events (long: builds the data first)

Builds the demo workspace at ``--customers`` in a scratch CXLOOP_HOME (``cxloop demo --no-serve``,
untimed), starts the engine's store owner (``cxloop engine serve``) and waits until it holds every
event, then asks each page ``--repeat`` times (after one untimed request) through Django's test
client in this process, once with the embedded engine (pages send their SQL to the owner over its
socket, as a web process does) and once with the database answering. Every page must answer 200
with the same numbers on both (the funnel's counts, the path report's totals are compared).
Peak RSS: this process (the web side) and the owner process.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FUNNEL = [
    "Product Viewed",
    "Product Added",
    "Checkout Started",
    "Payment Info Entered",
    "Order Completed",
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=25_000, help="demo customers to build")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page")
    parser.add_argument(
        "--database-repeat",
        type=int,
        default=None,
        help="timed requests per page with the database answering (default: --repeat; at 10M "
        "events the database takes tens of seconds a page; 0: the engine alone)",
    )
    parser.add_argument("--home", type=Path, default=None, help="reuse this CXLOOP_HOME")
    parser.add_argument(
        "--copies",
        type=int,
        default=1,
        help="grow the built demo to this many copies of its customers and their events "
        "(untimed; 10 copies of the 25,000-customer demo is issue 9's 10M events)",
    )
    return parser.parse_args(argv)


def memory_kb(pid: int | str = "self", field: str = "VmHWM") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cli(home: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "CXLOOP_HOME": str(home), "CXLOOP_ANALYTICS": "embedded"}
    env.pop("DATABASE_URL", None)
    return subprocess.Popen([sys.executable, "-m", "cxloop", *args], env=env)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="cxloop-pages-"))
    print(f"CXLOOP_HOME={home}", flush=True)
    if not (home / "cxloop.sqlite3").exists():
        started = time.perf_counter()
        print(f"Building the demo at {args.customers:,} customers (untimed) ...", flush=True)
        if cli(home, "demo", "--customers", str(args.customers), "--no-serve").wait():
            return 1
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    if cli(home, "migrate").wait():  # a home built by older code: bring its schema up to date
        return 1
    if args.copies > 1:
        started = time.perf_counter()
        print(f"Copying the demo's customers and events to {args.copies} copies ...", flush=True)
        copy_demo(home / "cxloop.sqlite3", args.copies)
        print(f"  copied in {time.perf_counter() - started:.0f} s", flush=True)
    os.environ.update(CXLOOP_HOME=str(home), CXLOOP_ANALYTICS="embedded")
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxloop.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from cxloop.analytics import owner as engine_owner
    from cxloop.analytics import selectors as analytics_selectors
    from cxloop.events import selectors as event_selectors
    from cxloop.events.models import Event

    settings.ALLOWED_HOSTS = ["*"]
    owner = cli(home, "engine", "serve")
    try:
        started = time.perf_counter()
        engine_owner.wait_for_owner(120)
        while (backlog := event_selectors.outbox_backlog()[0]) > 0:
            print(f"  engine owner copying events: {backlog:,} outbox entries left", flush=True)
            time.sleep(5)
        events = Event.objects.count()
        from cxloop.segments import services as segment_services

        segment_services.segment_counts_refresh()  # the worker's kept counts, which the list reads
        print(f"{events:,} events in the engine ({time.perf_counter() - started:.0f} s to copy)")
        client = Client()
        client.force_login(get_user_model().objects.get(username="admin"))
        email = _some_email()
        funnel = (
            "/journeys/funnel/?"
            + "&".join(f"step={s.replace(' ', '+')}" for s in FUNNEL)
            + "&window=1&unit=days"
        )
        pages = {
            "dashboard (retention, cohorts)": "/dashboard/",
            "funnel, 5 steps": funnel,
            "funnel: why they dropped (htmx)": _why_url(client, funnel),
            "paths Home -> Order Completed": "/paths/?start=Home&end=Order+Completed",
            "paths before churn": "/paths/before/?kind=churn",
            "trend B / A by channel, by day": "/trends/?event=Checkout+Started"
            "&event=Order+Completed&by=day&breakdown=channel&formula=B+%2F+A",
            "journey map": f"/journeys/{_first_journey()}/",
            "segments list (kept counts)": "/segments/",
            "segment page (live count, members)": f"/segments/{_segment('Store-only shoppers')}/",
            "personas, 5, last 90 days": "/segments/personas/?k=5",
            "customer search by email": f"/customers/?q={email}",
        }
        results: dict[str, dict[str, list[float]]] = {}
        bodies: dict[str, dict[str, str]] = {}
        engines = ("embedded", "sql") if args.database_repeat != 0 else ("embedded",)
        for engine in engines:
            settings.CXLOOP_ANALYTICS = engine
            analytics_selectors._engine_for.cache_clear()
            for label, url in pages.items():
                reply = client.get(url)
                if reply.status_code != 200:
                    raise SystemExit(f"{engine} {label}: HTTP {reply.status_code}")
                bodies.setdefault(label, {})[engine] = _numbers(reply.content.decode())
                times = []
                repeat = args.repeat if engine == "embedded" else args.database_repeat
                for _ in range(repeat or args.repeat):
                    begun = time.perf_counter()
                    client.get(url)
                    times.append(time.perf_counter() - begun)
                results.setdefault(label, {})[engine] = times
                print(
                    f"  {engine:8} {label:34} p50 {statistics.median(times):.3f} s, "
                    f"max {max(times):.3f} s",
                    flush=True,
                )
        print(
            f"\n{args.repeat} requests per page with the engine, "
            f"{args.database_repeat or args.repeat} with the database, after one untimed; seconds"
        )
        print(
            f"{'page':34} {'engine p50':>10} {'p95':>7} {'database p50':>12} {'p95':>7} {'ratio p95':>9}  same numbers"
        )
        for label, by_engine in results.items():
            e = by_engine["embedded"]
            if "sql" not in by_engine:  # --database-repeat 0: the engine alone
                print(f"{label:34} {statistics.median(e):10.3f} {_p95(e):7.3f}")
                continue
            d = by_engine["sql"]
            same = bodies[label]["embedded"] == bodies[label]["sql"]
            print(
                f"{label:34} {statistics.median(e):10.3f} {_p95(e):7.3f} "
                f"{statistics.median(d):12.3f} {_p95(d):7.3f} {_p95(e) / _p95(d):9.2f}  {same}"
            )
        print(
            f"\npeak RSS: web side (this process) {memory_kb() / 1024:.0f} MB; "
            f"engine owner {memory_kb(owner.pid) / 1024:.0f} MB"
        )
    finally:
        owner.terminate()
        owner.wait(timeout=60)
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)
    return 0


def copy_demo(database: Path, copies: int, *, outbox_span: int = 20_000) -> None:
    """Grow the demo workspace to ``copies`` copies of its profiles and their events, in SQL
    (untimed): copy c of a row gets id + c × (largest id), a profile's events go to its copy,
    message ids gain ``~c``, and the engine's outbox gets the new id ranges to copy. Identities,
    surveys and other per-profile tables are not copied: searches still find one person, and
    the survey figures stay those of the original customers. Idempotent: a grown home is kept.
    """
    import sqlite3

    db = sqlite3.connect(database)
    try:
        (workspace,) = db.execute("SELECT id FROM core_workspace WHERE slug = 'demo'").fetchone()
        (have,) = db.execute(
            "SELECT count(*) FROM events_event WHERE message_id LIKE '%~%'"
        ).fetchone()
        if have:
            return
        (top_customer,) = db.execute("SELECT max(id) FROM customers_customer").fetchone()
        (top_event,) = db.execute("SELECT max(id) FROM events_event").fetchone()
        customer_columns = [row[1] for row in db.execute("PRAGMA table_info(customers_customer)")]
        event_columns = [row[1] for row in db.execute("PRAGMA table_info(events_event)")]
        shifted = {
            "id": "id + {cs}",
            "merged_into_id": "merged_into_id + {cs}",
            "customer_id": "customer_id + {cs}",
        }
        for copy in range(1, copies):
            cs, es = copy * top_customer, copy * top_event
            for table, columns, shift in (
                ("customers_customer", customer_columns, cs),
                ("events_event", event_columns, es),
            ):
                values = []
                for column in columns:
                    if column == "id":
                        values.append(f"id + {shift}")
                    elif column == "message_id":
                        values.append(f"message_id || '~{copy}'")
                    else:
                        values.append(shifted.get(column, column).format(cs=cs))
                db.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"SELECT {', '.join(values)} FROM {table} "
                    f"WHERE workspace_id = ? AND id <= ?",
                    (workspace, top_customer if table == "customers_customer" else top_event),
                )
            db.executemany(
                "INSERT INTO events_eventoutbox "
                "(workspace_id, first_event_id, last_event_id, customer_ids, created_at) "
                "VALUES (?, ?, ?, '[]', datetime('now'))",
                [
                    (workspace, first, min(first + outbox_span - 1, es + top_event))
                    for first in range(es + 1, es + top_event + 1, outbox_span)
                ],
            )
            db.commit()
            print(f"  copy {copy + 1} of {copies} written", flush=True)
        db.execute("ANALYZE")
        db.commit()
    finally:
        db.close()


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _why_url(client, funnel: str) -> str:
    """The "why they dropped" address the funnel page loads (with its entrant count)."""
    page = client.get(funnel).content.decode()
    found = re.search(r'id="funnel-why" hx-get="([^"]+)"', page)
    if found is None:
        raise SystemExit("the funnel page asks for no 'why they dropped'")
    return html.unescape(found.group(1))


def _first_journey() -> int:
    from cxloop.journeys.models import JourneyMap

    return JourneyMap.objects.order_by("pk").values_list("pk", flat=True)[0]


def _segment(name: str) -> int:
    """A demo segment's id: its own page counts it live (its event conditions in the engine)."""
    from cxloop.segments.models import Segment

    return Segment.objects.filter(name=name).values_list("pk", flat=True)[0]


def _some_email() -> str:
    from cxloop.customers.models import Identity

    return Identity.objects.filter(kind="email").order_by("pk").values_list("value", flat=True)[0]


_NUMBER = re.compile(r">\s*([\d,.]+%?)\s*<")


def _numbers(html: str) -> str:
    """The numbers a page shows between tags (what both engines must agree on)."""
    return " ".join(_NUMBER.findall(html))


if __name__ == "__main__":
    raise SystemExit(main())
