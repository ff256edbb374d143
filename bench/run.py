"""Ingestion benchmark: bulk import vs. a raw executemany baseline, and HTTP /v1/batch ingest.

Run from the repository root::

    .venv/bin/python bench/run.py            # full: 200,000 events, 20,000 users, 300 HTTP batches
    .venv/bin/python bench/run.py --quick    # fast check: 20,000 events, 50 HTTP batches

Everything runs against scratch embedded SQLite databases in fresh temporary directories and only
talks to 127.0.0.1. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import http.client
import io
import multiprocessing as mp
import os
import platform
import pstats
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
WRITE_KEY = "benchkey"
IMPORT_TARGET_EPS = 100_000
IMPORT_TARGET_RATIO = 0.5
HTTP_TARGET_EPS = 5_000
BATCH_SIZE = 100
EVENT_COLUMNS = (
    "workspace_id", "customer_id", "type", "name", "channel", "properties", "context",
    "occurred_at", "received_at", "message_id", "user_id", "anonymous_id",
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Synthetic Segment traffic
# --------------------------------------------------------------------------------------------

_TRACK_EVENTS = (
    "Product Viewed", "Product Added", "Cart Viewed", "Checkout Started", "Order Completed",
    "Coupon Applied", "Email Opened", "Email Link Clicked", "Support Ticket Opened",
    "Store Visit", "Review Submitted", "Wishlist Updated",
)  # fmt: skip
_PAGES = (
    ("Home", "/"), ("Catalog", "/catalog"), ("Product", "/p/"), ("Cart", "/cart"),
    ("Checkout", "/checkout"), ("Help", "/help"), ("Account", "/account"), ("Blog", "/blog/"),
)  # fmt: skip
_OTHER_CHANNELS = ("email", "store", "chat", "phone", "app")
_PLANS = ("free", "basic", "plus", "pro")
_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
_EPOCH = datetime(2025, 3, 1, tzinfo=UTC)


@dataclass(slots=True)
class _User:
    anonymous_id: str
    user_id: str  # "" for visitors who never log in
    email: str  # "" when they never tell us
    identify_at: int  # index of their own message that is an identify call (-1: never)
    seen: int = 0


def _make_users(rng: random.Random, count: int, prefix: str) -> list[_User]:
    users = []
    for index in range(count):
        anonymous_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        roll = rng.random()
        if roll < 0.6:  # known customers: anonymous first, then identify with userId + email
            user_id = f"{prefix}u{index:06d}"
            email = f"{prefix}.customer{index}@example{index % 97}.com"
            identify_at = rng.randint(0, 3)
        elif roll < 0.75:  # newsletter sign-ups: anonymous identify carrying an email
            user_id, email, identify_at = "", f"{prefix}.reader{index}@mail{index % 89}.org", 1
        else:  # anonymous visitors only
            user_id, email, identify_at = "", "", -1
        users.append(_User(anonymous_id, user_id, email, identify_at))
    return users


def generate_messages(count: int, users: int, *, seed: int, prefix: str) -> Iterator[dict]:
    """``count`` Segment messages (track/page/identify) from ``users`` people, in time order.

    Each known customer browses anonymously, then identifies with userId + anonymousId + email,
    then sends events with both ids (client side) or the userId alone (server side), the usual
    Segment flow. Messages always carry a messageId, as Segment libraries send.
    """
    rng = random.Random(seed)
    people = _make_users(rng, users, prefix)
    step_ms = max(1, int(30 * 24 * 3600 * 1000 / max(count, 1)))
    for number in range(count):
        person = people[rng.randrange(users)]
        at = _EPOCH + timedelta(milliseconds=number * step_ms + rng.randrange(step_ms))
        known = person.user_id and person.identify_at >= 0 and person.seen > person.identify_at
        message: dict = {
            "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        if known and rng.random() < 0.25:
            message["userId"] = person.user_id  # server-side event: userId only
        else:
            message["anonymousId"] = person.anonymous_id
            if known:
                message["userId"] = person.user_id
        page_name, path = _PAGES[rng.randrange(len(_PAGES))]
        context = {
            "library": {"name": "analytics.js", "version": "5.2.0"},
            "ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "userAgent": _USER_AGENT,
            "locale": "en-US",
            "page": {"path": path, "url": f"https://shop.example.com{path}"},
        }
        if person.seen == person.identify_at:
            message["type"] = "identify"
            if person.user_id:
                message["userId"] = person.user_id
            message["traits"] = {
                "email": person.email,
                "name": f"Customer {person.anonymous_id[:8]}",
                "plan": _PLANS[rng.randrange(len(_PLANS))],
            }
        elif rng.random() < 0.3:
            message["type"] = "page"
            message["name"] = page_name
            message["properties"] = {
                "path": path,
                "url": f"https://shop.example.com{path}",
                "title": f"{page_name} | Example Shop",
                "referrer": "https://www.google.com/",
            }
        else:
            message["type"] = "track"
            message["event"] = _TRACK_EVENTS[rng.randrange(len(_TRACK_EVENTS))]
            properties: dict = {
                "product_id": f"sku-{rng.randrange(5000):05d}",
                "price": round(rng.uniform(3, 300), 2),
                "currency": "USD",
                "quantity": rng.randint(1, 4),
            }
            if rng.random() < 0.15:
                properties["channel"] = _OTHER_CHANNELS[rng.randrange(len(_OTHER_CHANNELS))]
            message["properties"] = properties
        message["context"] = context
        person.seen += 1
        yield message


def write_jsonl(path: Path, messages: Iterator[dict]) -> int:
    written = 0
    with path.open("wb") as handle:
        for message in messages:
            handle.write(orjson.dumps(message))
            handle.write(b"\n")
            written += 1
    return written


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    events: int
    seconds: float
    cpu: float | None = None  # CPU seconds of the process doing the work (see README)
    ratio: float | None = None  # events/s divided by the raw executemany events/s
    target: str = "-"
    passed: bool | None = None  # None: no target
    notes: list[str] = field(default_factory=list)

    @property
    def eps(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def print_table(results: list[Result]) -> None:
    header = ("name", "events", "seconds", "cpu s", "events/s", "ratio vs raw", "target", "result")
    rows = [header]
    for r in results:
        status = "-" if r.passed is None else ("PASS" if r.passed else "FAIL")
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}"
        cpu = "-" if r.cpu is None else f"{r.cpu:.2f}"
        rows.append(
            (
                r.name,
                f"{r.events:,}",
                f"{r.seconds:.2f}",
                cpu,
                f"{r.eps:,.0f}",
                ratio,
                r.target,
                status,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    right = {1, 2, 3, 4, 5}

    def line(row: tuple) -> str:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "| " + " | ".join(cells) + " |"

    rule = "+-" + "-+-".join("-" * w for w in widths) + "-+"
    print(rule)
    print(line(header))
    print(rule)
    for row in rows[1:]:
        print(line(row))
    print(rule)
    for r in results:
        for note in r.notes:
            print(f"  {r.name}: {note}")


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def say(text: str) -> None:
    print(text, flush=True)


# --------------------------------------------------------------------------------------------
# 1 + 2: bulk import and the raw executemany baseline, in-process
# --------------------------------------------------------------------------------------------


def setup_django(home: Path) -> None:
    """Point cxloop at a scratch embedded SQLite database and migrate it."""
    os.environ["CXLOOP_HOME"] = str(home)  # read when the settings module is imported
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "cxloop.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def bench_import(path: Path, count: int) -> tuple[Result, object]:
    from cxloop.core import services as core_services
    from cxloop.events.importing import import_file

    workspace = core_services.workspace_create(name="Bench import", slug="bench-import")
    cpu_started, started = time.process_time(), time.perf_counter()
    report = import_file(workspace=workspace, path=path, kind="events")
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    result = Result("bulk import (import_file)", report.accepted, seconds, cpu)
    problems = []
    if report.accepted != count:
        problems.append(f"accepted {report.accepted:,} of {count:,}")
    if report.rejected:
        first = report.rejected[0]
        rejected = len(report.rejected)
        problems.append(f"{rejected:,} rejected (line {first.position}: {first.reason})")
    if report.duplicates:
        problems.append(f"{report.duplicates:,} reported as duplicates")
    result.notes.extend(problems)
    return result, workspace


def database_summary(workspace) -> str:
    from cxloop.customers.models import Customer, CustomerMerge, Identity
    from cxloop.events.models import Event

    events = Event.objects.filter(workspace=workspace).count()
    live = Customer.objects.filter(workspace=workspace, merged_into__isnull=True).count()
    identities = Identity.objects.filter(workspace=workspace).count()
    merges = CustomerMerge.objects.filter(workspace=workspace).count()
    return (
        f"{events:,} events stored, {live:,} live profiles, {identities:,} identities, "
        f"{merges:,} merges"
    )


def prepared_rows(source_workspace, target_workspace_id: int) -> list[tuple]:
    """The rows the import stored, in database form, re-labelled for another workspace."""
    from django.db import connection

    # Datetimes as the stored text: Django's SQLite connection would otherwise parse them into
    # datetime objects, and the baseline would pay for adapting them back on every insert.
    as_text = ("occurred_at", "received_at")
    columns = ", ".join(f"CAST({c} AS TEXT)" if c in as_text else c for c in EVENT_COLUMNS[1:])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM events_event WHERE workspace_id = %s ORDER BY id",
            [source_workspace.pk],
        )
        rows = [(target_workspace_id, *row) for row in cursor.fetchall()]
    if rows and not all(isinstance(v, (str, int, float, type(None))) for v in rows[0]):
        raise RuntimeError(f"prepared row is not in database form: {rows[0]!r}")
    return rows


def bench_raw(source_workspace, count: int) -> Result:
    """The strongest plain baseline: the same rows, in database form, inserted with one
    prepared ``executemany`` in ONE transaction into an EMPTY events table with the same
    columns and indexes (a fresh SQLite file, cxloop's PRAGMAs, no foreign keys to check);
    on PostgreSQL an empty copy of the table (``LIKE … INCLUDING ALL``) in the same database."""
    import sqlite3
    import tempfile

    from django.db import connection, transaction

    rows = prepared_rows(source_workspace, 1)
    marks = ", ".join(["%s"] * len(EVENT_COLUMNS))
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'events_event' AND sql IS NOT NULL"
            )
            schema = [row[0] for row in cursor.fetchall()]
        scratch = Path(tempfile.mkdtemp(prefix="cxloop-raw-")) / "raw.sqlite3"
        db = sqlite3.connect(scratch, isolation_level=None)
        db.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-64000;"
            "PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=10000;"
        )
        for statement in schema:  # the table (its REFERENCES unenforced here) and its indexes
            db.execute(statement)
        sql = f"INSERT INTO events_event ({', '.join(EVENT_COLUMNS)}) VALUES ({marks.replace('%s', '?')})"
        cpu_started, started = time.process_time(), time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.executemany(sql, rows)
        db.execute("COMMIT")
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        stored = db.execute("SELECT count(*) FROM events_event").fetchone()[0]
        db.close()
        shutil.rmtree(scratch.parent, ignore_errors=True)
    else:
        sql = f"INSERT INTO raw_events ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})"
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS raw_events")
            cursor.execute("CREATE TABLE raw_events (LIKE events_event INCLUDING ALL)")
        cpu_started, started = time.process_time(), time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM raw_events")
            stored = cursor.fetchone()[0]
            cursor.execute("DROP TABLE raw_events")
    result = Result("raw executemany baseline", len(rows), seconds, cpu, ratio=1.0)
    if stored != len(rows) or len(rows) != count:
        result.notes.append(f"prepared {len(rows):,} rows of {count:,}, stored {stored:,}")
    result.notes.append("one transaction into an empty table with the same indexes")
    return result


class _PhaseTimer:
    """Inclusive wall time and call counts of wrapped functions (wrapped in this process only)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._undo: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)
        own = attribute in vars(owner)  # else it comes from the class: delete ours afterwards
        seconds, calls, clock = self.seconds, self.calls, time.perf_counter
        seconds[label], calls[label] = 0.0, 0

        def timed(*args, **kwargs):
            started = clock()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[label] += clock() - started
                calls[label] += 1

        setattr(owner, attribute, timed)
        self._undo.append((owner, attribute, original if own else None))

    def restore(self) -> None:
        for owner, attribute, original in reversed(self._undo):
            if original is None:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, original)
        self._undo.clear()


def _owner(name: str) -> object:
    """A module by dotted name, or the database connection (whose commit gets timed)."""
    import importlib

    from django.db import connections

    if name == "<connection>":
        return connections["default"]
    return importlib.import_module(name)


_CUSTOMERS = "cxloop.customers.services"
_EVENTS = "cxloop.events.services"
_INSERT = "insert_rows_ignoring_conflicts"
_IMPORTING = "cxloop.events.importing"
# (depth, label, owner, attribute): where the import's time goes, outermost first.
_PHASES = (
    (1, "events_store (one transaction)", _IMPORTING, "events_store"),
    (2, "_drop_duplicates (SELECT)", _EVENTS, "_drop_duplicates"),
    (2, "profiles_apply", _CUSTOMERS, "profiles_apply"),
    (3, "revalidate (session cache check)", _CUSTOMERS, "revalidate"),
    (3, "_resolve_new (unknown ids, joins)", _CUSTOMERS, "_resolve_new"),
    (4, "existing_identities (SELECT)", _CUSTOMERS, "existing_identities"),
    (4, "user_ids_of (SELECT)", _CUSTOMERS, "user_ids_of"),
    (4, "resolve (union-find)", _CUSTOMERS, "resolve"),
    (4, "customers_merge", _CUSTOMERS, "customers_merge"),
    (4, "customers_create (INSERT)", _CUSTOMERS, "customers_create"),
    (4, "identities INSERT", _CUSTOMERS, _INSERT),
    (3, "_apply_to_profiles", _CUSTOMERS, "_apply_to_profiles"),
    (4, "widen_seen_times (first/last seen)", _CUSTOMERS, "widen_seen_times"),
    (4, "refresh_profiles", _CUSTOMERS, "refresh_profiles"),
    (4, "consents_record", _CUSTOMERS, "consents_record"),
    (2, "events INSERT", _EVENTS, _INSERT),
    (2, "COMMIT", "<connection>", "commit"),
    (1, "profiles_flush_seen (end of import)", _CUSTOMERS, "profiles_flush_seen"),
)


def phase_import(path: Path, slug: str, chunk_rows: int) -> None:
    """Import with timers around the main steps; print inclusive seconds and % of the total."""
    from cxloop.core import services as core_services
    from cxloop.events.importing import import_file

    workspace = core_services.workspace_create(name=f"Bench {slug}", slug=slug)
    timer = _PhaseTimer()
    for _, label, owner, attribute in _PHASES:
        timer.wrap(_owner(owner), attribute, label)
    started = time.perf_counter()
    try:
        report = import_file(workspace=workspace, path=path, kind="events", chunk_rows=chunk_rows)
    finally:
        total = time.perf_counter() - started
        timer.restore()
    say(
        f"\nWhere import_file's time goes ({report.accepted:,} events in chunks of {chunk_rows:,}, "
        f"{total:.2f}s wall, {report.accepted / total:,.0f} events/s):"
    )
    say(f"  {'step (inclusive)':<44} {'seconds':>8} {'%':>6} {'calls':>8}")
    say(f"  {'import_file':<44} {total:>8.2f} {100:>6.1f} {1:>8}")
    for depth, label, _, _ in _PHASES:
        spent = timer.seconds[label]
        name = "  " * (depth - 1) + label
        say(f"  {name:<44} {spent:>8.2f} {100 * spent / total:>6.1f} {timer.calls[label]:>8}")
    store = timer.seconds["events_store (one transaction)"]
    children = ("_drop_duplicates (SELECT)", "profiles_apply", "events INSERT", "COMMIT")
    rest = store - sum(timer.seconds[k] for k in children)
    outside = total - store - timer.seconds["profiles_flush_seen (end of import)"]
    say("  derived (not timed directly, the difference of the above):")
    say(f"    events_store's own code (rows, transaction)        {rest:8.2f}s")
    say(f"    getting the next chunk (reading, waiting, helping)  {outside:8.2f}s")
    say(
        "  Worker processes prepare most chunks (parse, validate, identity keys, rows); their time "
        "is\n  not counted here. This process prepares a chunk itself when the next one is late."
    )


def profile_import(path: Path, out: Path, top: int, slug: str, chunk_rows: int) -> None:
    """Import the file into a fresh workspace under cProfile and print the hot spots."""
    from cxloop.core import services as core_services
    from cxloop.events.importing import import_file

    workspace = core_services.workspace_create(name=f"Bench {slug}", slug=slug)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    import_file(workspace=workspace, path=path, kind="events", chunk_rows=chunk_rows)
    profiler.disable()
    seconds = time.perf_counter() - started
    profiler.dump_stats(out)
    say(f"\nimport_file under cProfile: {seconds:.2f}s with profiling overhead; stats in {out}")
    for order in ("tottime", "cumulative"):
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(order)
        stats.print_stats(top)
        say(f"--- top {top} by {order} ---")
        say(buffer.getvalue().split("\n\n", 2)[-1].rstrip())


# --------------------------------------------------------------------------------------------
# 3: HTTP ingest against the real server
# --------------------------------------------------------------------------------------------


def process_cpu(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (all its threads; Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cxloop_command() -> str:
    candidate = Path(sys.executable).parent / "cxloop"
    if candidate.exists():
        return str(candidate)
    return str(REPO / ".venv" / "bin" / "cxloop")


def server_env(home: Path) -> dict:
    env = {**os.environ, "CXLOOP_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def wait_for_port(port: int, process: subprocess.Popen, log: Path, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise RuntimeError(f"server did not answer on port {port} within {limit:.0f}s:\n{tail(log)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_server(process: subprocess.Popen) -> None:
    """Terminate the server's whole process group; kill it if it does not stop."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def batch_bodies(messages: list[dict], size: int) -> list[bytes]:
    sent_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [
        orjson.dumps({"batch": messages[i : i + size], "sentAt": sent_at})
        for i in range(0, len(messages), size)
    ]


def _post(connection: http.client.HTTPConnection, body: bytes, headers: dict) -> tuple[int, bytes]:
    connection.request("POST", "/v1/batch", body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def http_client(
    port: int,
    bodies: list[bytes],
    expected: list[int],
    ready,
    time_limit: float,
    results,
) -> None:
    """One client process: POST its batches over one keep-alive connection, check each reply."""
    auth = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", "Content-Type": "application/json"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.connect()
    ready.wait(timeout=120)
    started = time.monotonic()
    batches = events = 0
    errors: list[str] = []
    for body, count in zip(bodies, expected, strict=True):
        if time.monotonic() - started > time_limit:
            errors.append(f"time limit {time_limit:.0f}s reached")
            break
        try:
            status, reply = _post(connection, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"request failed: {exc!r}")
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            continue
        try:
            payload = orjson.loads(reply)
        except orjson.JSONDecodeError:
            payload = {}
        if status == 200 and payload.get("accepted") == count:
            batches += 1
            events += count
        else:
            errors.append(f"HTTP {status}: {reply[:200]!r}")
    finished = time.monotonic()
    connection.close()
    results.put({"batches": batches, "events": events, "errors": errors, "finished": finished})


def bench_http(
    home: Path,
    *,
    batches: int,
    clients: int,
    time_limit: float,
    users: int,
    seed: int,
) -> Result:
    env = server_env(home)
    cli = cxloop_command()
    for args in (["migrate"], ["workspace", "create", "Bench", "--write-key", WRITE_KEY]):
        done = subprocess.run([cli, *args], env=env, capture_output=True, text=True, timeout=300)
        if done.returncode:
            raise RuntimeError(f"cxloop {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    events = batches * BATCH_SIZE
    messages = list(generate_messages(events, users, seed=seed + 1, prefix="http"))
    bodies = batch_bodies(messages, BATCH_SIZE)
    expected = [len(orjson.loads(b)["batch"]) for b in bodies]
    warm_messages = generate_messages(BATCH_SIZE, 10, seed=seed + 2, prefix="warm")
    warmup = batch_bodies(list(warm_messages), BATCH_SIZE)

    port = free_port()
    log = home / "server.log"
    with log.open("wb") as log_handle:
        server = subprocess.Popen(
            [cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
            env=env,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so it can be stopped as a whole
        )
    processes: list = []
    try:
        wait_for_port(port, server, log, limit=120)
        auth = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
        headers = {"Authorization": f"Basic {auth}", "Content-Type": "application/json"}
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        status, reply = _post(warm, warmup[0], headers)
        warm.close()
        if status != 200:
            raise RuntimeError(f"warm-up batch failed: HTTP {status} {reply[:300]!r}")

        context = mp.get_context("spawn")
        ready = context.Barrier(clients + 1)
        results = context.Queue()
        for k in range(clients):
            process = context.Process(
                target=http_client,
                args=(port, bodies[k::clients], expected[k::clients], ready, time_limit, results),
                daemon=True,
            )
            process.start()
            processes.append(process)
        ready.wait(timeout=120)
        started, server_cpu = time.monotonic(), process_cpu(server.pid)
        outcomes = [results.get(timeout=time_limit + 120) for _ in processes]
        server_cpu = process_cpu(server.pid) - server_cpu
        for process in processes:
            process.join(timeout=30)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        stop_server(server)

    seconds = max(o["finished"] for o in outcomes) - started
    accepted = sum(o["events"] for o in outcomes)
    done = sum(o["batches"] for o in outcomes)
    result = Result(f"HTTP /v1/batch ({clients} client procs)", accepted, seconds, server_cpu)
    errors = [e for o in outcomes for e in o["errors"]]
    if done != len(bodies):
        result.notes.append(f"only {done} of {len(bodies)} batches accepted in full")
    if errors:
        result.notes.append(f"{len(errors)} problems, first: {errors[0]}")
    result.notes.append(
        f"{len(bodies)} batches x {BATCH_SIZE} messages, {users:,} users, "
        f"client: {clients} separate processes, 1 keep-alive connection each"
    )
    result.passed = not errors and done == len(bodies)
    return result


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 events, 50 HTTP batches")
    parser.add_argument("--events", type=int, help="messages to import (default 200,000)")
    parser.add_argument("--users", type=int, help="distinct people (default events / 10)")
    parser.add_argument("--http-batches", type=int, help="batches of 100 to POST (default 300)")
    parser.add_argument("--http-clients", type=int, default=2, help="client processes (2)")
    parser.add_argument("--http-seconds", type=float, help="time limit for the HTTP phase")
    parser.add_argument("--skip-http", action="store_true", help="only the import and baseline")
    parser.add_argument("--seed", type=int, default=20250301)
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE.prof",
        help="instead of the measurements: time the import's steps, then profile it (cProfile)",
    )
    parser.add_argument("--profile-top", type=int, default=30, help="functions to list (30)")
    parser.add_argument(
        "--profile-chunk",
        type=int,
        help="rows per events_ingest call when timing the steps (importer default; 100 = HTTP)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directories")
    args = parser.parse_args(argv)
    args.events = args.events or (20_000 if args.quick else 200_000)
    args.users = args.users or max(1, args.events // 10)
    args.http_batches = args.http_batches or (50 if args.quick else 300)
    args.http_seconds = args.http_seconds or (60.0 if args.quick else 180.0)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="cxloop-bench-"))
    import_home, http_home = scratch / "import-home", scratch / "http-home"
    import_home.mkdir()
    http_home.mkdir()
    say(
        f"cxloop ingestion bench: Python {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, {os.cpu_count()} CPUs, scratch {scratch}"
    )
    say(f"Load average before: {load_average()}")
    results: list[Result] = []
    try:
        setup_django(import_home)
        path = scratch / "events.jsonl"
        started = time.perf_counter()
        messages = generate_messages(args.events, args.users, seed=args.seed, prefix="imp")
        count = write_jsonl(path, messages)
        say(
            f"Generated {count:,} messages for {args.users:,} users "
            f"({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f}s"
        )

        if args.profile:
            from cxloop.events.importing import CHUNK_ROWS

            chunk = args.profile_chunk or CHUNK_ROWS
            phase_import(path, "bench-phases", chunk)
            profile_import(path, args.profile.resolve(), args.profile_top, "bench-profile", chunk)
            return 0

        say("1. bulk import (cxloop.events.importing.import_file) ...")
        imported, workspace = bench_import(path, count)
        say(f"   {imported.eps:,.0f} events/s; {database_summary(workspace)}")
        say("2. raw executemany baseline ...")
        raw = bench_raw(workspace, count)
        say(f"   {raw.eps:,.0f} events/s")
        imported.ratio = imported.eps / raw.eps if raw.eps else 0.0
        imported.target = f">={IMPORT_TARGET_EPS:,}/s & >={IMPORT_TARGET_RATIO}x raw"
        fast = imported.eps >= IMPORT_TARGET_EPS
        close = imported.ratio >= IMPORT_TARGET_RATIO
        imported.passed = fast and close and not imported.notes
        if not fast:
            imported.notes.append(f"below {IMPORT_TARGET_EPS:,} events/s")
        if not close:
            imported.notes.append(f"ratio {imported.ratio:.2f} below {IMPORT_TARGET_RATIO}")
        results += [imported, raw]

        if not args.skip_http:
            say(
                f"3. HTTP ingest: cxloop serve --no-worker, {args.http_batches} batches, "
                f"{args.http_clients} client processes ..."
            )
            http_users = max(1, args.http_batches * BATCH_SIZE * args.users // args.events)
            served = bench_http(
                http_home,
                batches=args.http_batches,
                clients=args.http_clients,
                time_limit=args.http_seconds,
                users=http_users,
                seed=args.seed,
            )
            served.ratio = served.eps / raw.eps if raw.eps else 0.0
            served.target = f">={HTTP_TARGET_EPS:,}/s"
            if served.eps < HTTP_TARGET_EPS:
                served.passed = False
                served.notes.append(f"below {HTTP_TARGET_EPS:,} events/s")
            say(f"   {served.eps:,.0f} events/s")
            results.append(served)

        say(f"Load average after: {load_average()} (other work on this machine skews the figures)")
        say("")
        print_table(results)
        if args.json:
            args.json.write_bytes(
                orjson.dumps(
                    [{**r.__dict__, "events_per_s": r.eps} for r in results],
                    option=orjson.OPT_INDENT_2,
                )
            )
    except BaseException:
        if results:
            say("\nInterrupted by an error; results so far:")
            print_table(results)
        raise
    finally:
        if args.keep:
            say(f"Scratch directories kept under {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0 if all(r.passed is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
