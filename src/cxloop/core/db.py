"""Small database helpers shared by the domain apps (portable across SQLite and PostgreSQL)."""

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice

import orjson
from django.db import connection, models
from django.db.models.expressions import RawSQL

IN_CHUNK = 900  # values per IN (...) list: well under every backend's parameter limit


def chunked(items: Iterable, size: int) -> Iterable[list]:
    """Yield lists of at most ``size`` items."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def datetime_adapter(vendor: str | None = None) -> Callable[[datetime], datetime | str]:
    """A fast converter of aware datetimes to what the database stores.

    Same result as ``connection.ops.adapt_datetimefield_value`` (SQLite keeps naive UTC text,
    PostgreSQL takes the datetime) at a fraction of its cost on the ingestion hot path.
    ``vendor`` names the database ('sqlite', 'postgresql'); default: the configured one.
    """
    if (vendor or connection.vendor) == "sqlite":
        return _sqlite_datetime
    return _as_is


def _as_is(value: datetime) -> datetime:
    return value


def _sqlite_datetime(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ")[:-6]  # drop "+00:00": Django keeps naive UTC text in SQLite


def ids_in(ids: Sequence[int]) -> RawSQL:
    """A subquery of these integers, for ``pk__in=``: one parameter (a JSON array on SQLite, an
    array on PostgreSQL), so any number of ids fits where an IN list of placeholders would not."""
    values = [int(i) for i in ids]
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", [values])
    return RawSQL("SELECT value FROM json_each(%s)", [orjson.dumps(values).decode()])


def select_in(sql: str, values: Iterable, params: Sequence = ()) -> list[tuple]:
    """Rows of ``sql`` (which ends in ``IN``) for every value, in one statement.

    ``sql`` is written with ``%s`` placeholders for ``params``. The values travel as one
    parameter: a JSON array read with ``json_each`` on SQLite, an array (``= ANY``) on
    PostgreSQL. Cheaper than IN lists of thousands of placeholders, and no parameter limit.
    Values must all be strings or all be integers.
    """
    values = list(values)
    if not values:
        return []
    if not sql.rstrip().upper().endswith(" IN"):
        raise ValueError("select_in: the SQL must end in IN")
    values_param: object
    if connection.vendor == "postgresql":
        statement, values_param = f"{sql.rstrip()[:-2]}= ANY(%s)", values
    else:
        statement = f"{sql} (SELECT value FROM json_each(%s))"  # noqa: S608 (the caller's SQL)
        values_param = orjson.dumps(values).decode()
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, values_param])
        return cursor.fetchall()


def insert_rows_ignoring_conflicts(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence],
    conflict: Sequence[str],
) -> int:
    """Insert many rows with one prepared statement; rows clashing on ``conflict`` are skipped.

    Returns how many rows were inserted. This is the hot path of ingestion: it skips model
    instances entirely. Values must already be in database form (``datetime_adapter`` for
    datetimes, JSON as text).
    """
    if not rows:
        return 0
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    target = ", ".join(connection.ops.quote_name(c) for c in conflict)
    # names come from the model and are quoted; the values travel as parameters
    sql = f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT ({target}) DO NOTHING"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
        return cursor.rowcount  # the sum over all rows, on SQLite and PostgreSQL alike


_RESOLUTION_LOCK_SPACE = 0x6378  # "cx": keeps our advisory locks apart from other users'
_LABELS_LOCK_SPACE = 0x6379
_THEMES_LOCK_SPACE = 0x637A


def _lock_workspace(space: int, workspace_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [space, workspace_id])


def lock_workspace_for_resolution(workspace_id: int) -> None:
    """Serialize identity resolution per workspace until the transaction ends.

    SQLite already runs one writing transaction at a time (IMMEDIATE mode). On PostgreSQL two
    concurrent batches could otherwise both create a profile for the same new identifier.
    """
    _lock_workspace(_RESOLUTION_LOCK_SPACE, workspace_id)


def lock_workspace_for_labels(workspace_id: int) -> None:
    """Serialize, per workspace until the transaction ends, what writes people's labels of
    texts and what stores newly scored texts (which applies those labels).

    Without it, on PostgreSQL, a label saved while a batch is being stored could miss the
    batch's new rows (each saw the other's rows as uncommitted). SQLite needs nothing here.
    """
    _lock_workspace(_LABELS_LOCK_SPACE, workspace_id)


def lock_workspace_for_themes(workspace_id: int) -> None:
    """Serialize, per workspace until the transaction ends, the curation of its themes (what
    keeps or forgets the one change that can be undone).

    On PostgreSQL two merges at once would otherwise both find no change kept and both store
    one, and the second would break the one-per-workspace rule. SQLite needs nothing here.
    """
    _lock_workspace(_THEMES_LOCK_SPACE, workspace_id)


def refresh_planner_statistics() -> None:
    """Let PostgreSQL's planner see a bulk load at once (ANALYZE) instead of after autovacuum.

    Right after a big load the planner has no statistics and may pick plans that take seconds
    instead of milliseconds. SQLite plans well without them; nothing to do there.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


_SQLITE_WRITER = threading.Lock()


@contextmanager
def one_writer() -> Iterator[None]:
    """Around a write transaction: on SQLite, threads of this process take turns in Python.

    SQLite allows one writer at a time; a thread that finds the database locked sleeps in
    SQLite's busy handler with growing back-off (1, 2, 5, 10 ms ...) and often wakes long after
    the lock was free. Waiting on a Python lock instead hands over at once, which keeps the
    tracking API's threads busy. Inside an already open transaction (which may hold the database
    lock itself) nothing is taken, so this can never deadlock against it. No-op on PostgreSQL.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    # never wait longer than SQLite itself would; after that, leave it to SQLite's busy handler
    timeout = connection.settings_dict.get("OPTIONS", {}).get("timeout", 5)
    held = _SQLITE_WRITER.acquire(timeout=timeout)
    try:
        yield
    finally:
        if held:
            _SQLITE_WRITER.release()
