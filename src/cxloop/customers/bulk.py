"""Set-based SQL for profiles and identities: the reads and writes resolution makes in bulk.

Plain cursor SQL that both SQLite and PostgreSQL accept; callers hold the transaction (and the
workspace's resolution lock where they write). The SQL text is built only from our models' table
names (``_meta.db_table``); every value travels as a parameter (the S608 noqa below).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

import orjson
from django.db import connection
from django.utils import timezone

from cxloop.core.db import chunked, datetime_adapter, select_in
from cxloop.core.models import Workspace
from cxloop.customers.models import Customer, CustomerMerge, Identity, IdentityKind
from cxloop.customers.resolution import Key, ProfileUpdate

_IDENTITY = Identity._meta.db_table
_MERGE = CustomerMerge._meta.db_table


def resolution_stamp() -> tuple:
    """Changes whenever an identity is added, a profile merged or a merge undone, in any
    workspace.

    Highest ids and the latest unmerge time only (indexed: cheap on any table size). Exact for the workspace being resolved: every
    writer of its identities and merges holds its resolution lock, so their ids come after the
    ones this session read. Deleted profiles are not seen here; a batch that still points at
    one fails its foreign key and ``events_store`` redoes it with the cache dropped.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(id) FROM {_IDENTITY}), (SELECT MAX(id) FROM {_MERGE}), "  # noqa: S608 -- own table names
            f"(SELECT MAX(unmerged_at) FROM {_MERGE})"
        )
        return cursor.fetchone()


def missing_profiles(customer_ids: set[int]) -> set[int]:
    """Those of ``customer_ids`` that no longer exist (deleted since a session cached them)."""
    if not customer_ids:
        return set()
    table = connection.ops.quote_name(Customer._meta.db_table)
    present = {row[0] for row in select_in(f"SELECT id FROM {table} WHERE id IN", customer_ids)}  # noqa: S608 -- own table names
    return customer_ids - present


def survivors(customer_ids: Iterable[int]) -> dict[int, int]:
    """Merged profiles among ``customer_ids`` -> the live profile they were folded into."""
    table = connection.ops.quote_name(Customer._meta.db_table)
    merged = dict(
        select_in(
            f"SELECT id, merged_into_id FROM {table} WHERE merged_into_id IS NOT NULL AND id IN",  # noqa: S608 -- own table names
            customer_ids,
        )
    )
    for customer_id, target in list(merged.items()):
        hops = 0
        while target in merged and hops < 20:  # merges flatten chains; this is a safety net
            target, hops = merged[target], hops + 1
        merged[customer_id] = target
    return merged


def customers_create(workspace: Workspace, count: int) -> list[int]:
    """Insert ``count`` empty profiles and return their ids, in order (INSERT ... RETURNING)."""
    table = connection.ops.quote_name(Customer._meta.db_table)
    now = datetime_adapter()(timezone.now())
    ids: list[int] = []
    with connection.cursor() as cursor:
        for chunk in chunked(range(count), 500):
            values = ", ".join(["(%s, %s, '', '', %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (workspace_id, traits, display_name, search_text, created_at) "  # noqa: S608 -- own table names
                f"VALUES {values} RETURNING id",
                [p for _ in chunk for p in (workspace.pk, "{}", now)],
            )
            # RETURNING order is not guaranteed: ascending ids follow arrival order (stable ids)
            ids.extend(sorted(row[0] for row in cursor.fetchall()))
    return ids


def existing_identities(workspace: Workspace, keys: Iterable[Key]) -> dict[Key, int]:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, value in keys:
        by_kind[kind].append(value)
    found: dict[Key, int] = {}
    for kind, values in by_kind.items():
        rows = select_in(
            f"SELECT value, customer_id FROM {_IDENTITY} WHERE workspace_id = %s AND kind = %s "  # noqa: S608 -- own table names
            "AND value IN",
            values,
            [workspace.pk, kind],
        )
        for value, customer_id in rows:
            found[(kind, value)] = customer_id
    return found


def user_ids_of(workspace: Workspace, customer_ids: set[int]) -> dict[int, frozenset]:
    user_ids: dict[int, set] = defaultdict(set)
    rows = select_in(
        f"SELECT customer_id, value FROM {_IDENTITY} WHERE kind = %s AND customer_id IN",  # noqa: S608 -- own table names
        customer_ids,
        [IdentityKind.USER_ID.value],
    )
    for customer_id, value in rows:
        user_ids[customer_id].add(value)
    return {cid: frozenset(user_ids.get(cid, ())) for cid in customer_ids}


def widen_seen_times(seen: dict[int, list[datetime]]) -> None:
    """Stretch each profile's first/last seen to cover ``{customer_id: [earliest, latest]}``.

    One UPDATE ... FROM (VALUES ...) per 2,000 profiles (SQLite 3.33+ and PostgreSQL both accept
    it), much cheaper than a statement per profile.
    """
    adapt = datetime_adapter()
    table = connection.ops.quote_name(Customer._meta.db_table)
    for chunk in chunked(seen.items(), 2000):
        values = ", ".join(["(%s, %s, %s)"] * len(chunk))
        params = [p for cid, (lo, hi) in chunk for p in (cid, adapt(lo), adapt(hi))]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET "  # noqa: S608 -- own table names
                "first_seen_at = CASE WHEN first_seen_at IS NULL OR first_seen_at > v.column2 "
                "THEN v.column2 ELSE first_seen_at END, "
                "last_seen_at = CASE WHEN last_seen_at IS NULL OR last_seen_at < v.column3 "
                f"THEN v.column3 ELSE last_seen_at END FROM (VALUES {values}) AS v "
                f"WHERE {table}.id = v.column1",
                params,
            )


def refresh_profiles(
    customer_ids: set[int],
    traits_of: dict[int, list[ProfileUpdate]],
    created: set[int],
) -> None:
    """Fold new traits into profiles and recompute their display name and search text.

    Profiles created in this batch are read from nothing: they have no traits yet and only the
    identities just inserted, which the read below finds as well (same transaction).
    """
    stored = [c for c in customer_ids if c not in created]
    table = connection.ops.quote_name(Customer._meta.db_table)
    traits_now: dict[int, dict] = {c: {} for c in customer_ids if c in created}
    for customer_id, traits in select_in(f"SELECT id, traits FROM {table} WHERE id IN", stored):  # noqa: S608 -- own table names
        traits_now[customer_id] = orjson.loads(traits) if isinstance(traits, str) else traits
    identities: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for customer_id, kind, value in select_in(
        f"SELECT customer_id, kind, value FROM {_IDENTITY} WHERE customer_id IN",  # noqa: S608 -- own table names
        customer_ids,
    ):
        identities[customer_id].append((kind, value))
    rows = []
    for customer_id, traits in traits_now.items():
        for update in sorted(traits_of.get(customer_id, ()), key=lambda u: u.at):
            traits = {**traits, **(update.traits or {})}
        ids = identities[customer_id]
        rows.append(
            (
                orjson.dumps(traits).decode(),
                display_name(traits, ids),
                search_text(traits, ids),
                customer_id,
            )
        )
    with connection.cursor() as cursor:  # one prepared statement; bulk_update's CASE is slow
        cursor.executemany(
            f"UPDATE {table} SET traits = %s, display_name = %s, search_text = %s WHERE id = %s",  # noqa: S608 -- own table names
            rows,
        )


def display_name(traits: dict, identities: Sequence[tuple[str, str]]) -> str:
    """The best human label for a profile: its name, else an email, phone or id."""
    name = traits.get("name")
    if not name:
        name = " ".join(str(traits[k]) for k in ("first_name", "last_name") if traits.get(k))
    if not name:
        for kind in (IdentityKind.EMAIL, IdentityKind.PHONE, IdentityKind.USER_ID):
            name = next((value for k, value in identities if k == kind), "")
            if name:
                break
    return str(name)[:200]


def search_text(traits: dict, identities: Sequence[tuple[str, str]]) -> str:
    """Lower-case text a search matches against: identifiers and every scalar trait value."""
    parts = [value for _, value in identities]
    parts.extend(str(value) for value in traits.values() if isinstance(value, (str, int, float)))
    return " ".join(parts).lower()
