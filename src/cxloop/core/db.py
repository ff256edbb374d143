"""Small database helpers shared by the domain apps (portable across SQLite and PostgreSQL)."""

from collections.abc import Iterable, Sequence
from itertools import islice

from django.db import connection, models


def chunked(items: Iterable, size: int) -> Iterable[list]:
    """Yield lists of at most ``size`` items."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


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
