"""Small database helpers shared by the domain apps (portable across SQLite and PostgreSQL)."""

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from itertools import islice

from django.db import connection, models

IN_CHUNK = 900  # values per IN (...) list: well under every backend's parameter limit


def chunked(items: Iterable, size: int) -> Iterable[list]:
    """Yield lists of at most ``size`` items."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def datetime_adapter() -> Callable[[datetime], object]:
    """A fast converter of aware datetimes to what the current database stores.

    Same result as ``connection.ops.adapt_datetimefield_value`` (SQLite keeps naive UTC text,
    PostgreSQL takes the datetime) at a fraction of its cost on the ingestion hot path.
    """
    if connection.vendor == "sqlite":
        return _sqlite_datetime
    return connection.ops.adapt_datetimefield_value


def _sqlite_datetime(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ")[:-6]  # drop "+00:00": Django keeps naive UTC text in SQLite


def select_in(sql: str, values: Iterable, params: Sequence = ()) -> list[tuple]:
    """Rows of ``sql`` (which ends in ``IN``) for every value, querying in chunks.

    ``sql`` is written with ``%s`` placeholders for ``params``; the IN list is appended.
    Plain cursor SQL: the ORM's per-value lookup preparation is slow for thousands of values.
    """
    rows: list[tuple] = []
    with connection.cursor() as cursor:
        for chunk in chunked(values, IN_CHUNK):
            cursor.execute(f"{sql} ({', '.join(['%s'] * len(chunk))})", [*params, *chunk])
            rows.extend(cursor.fetchall())
    return rows


def insert_rows_ignoring_conflicts(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence],
    conflict: Sequence[str],
) -> None:
    """Insert many rows with one prepared statement; rows clashing on ``conflict`` are skipped.

    This is the hot path of ingestion: it skips model instances entirely. Values must already be in
    database form (use ``connection.ops.adapt_datetimefield_value`` for datetimes, JSON as text).
    """
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    target = ", ".join(connection.ops.quote_name(c) for c in conflict)
    sql = f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT ({target}) DO NOTHING"
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


_RESOLUTION_LOCK_SPACE = 0x6378  # "cx": keeps our advisory locks apart from other users'


def lock_workspace_for_resolution(workspace_id: int) -> None:
    """Serialize identity resolution per workspace until the transaction ends.

    SQLite already runs one writing transaction at a time (IMMEDIATE mode). On PostgreSQL two
    concurrent batches could otherwise both create a profile for the same new identifier.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_RESOLUTION_LOCK_SPACE, workspace_id]
            )


def refresh_planner_statistics() -> None:
    """Let PostgreSQL's planner see a bulk load at once (ANALYZE) instead of after autovacuum.

    Right after a big load the planner has no statistics and may pick plans that take seconds
    instead of milliseconds. SQLite plans well without them; nothing to do there.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
