"""Writes for customer profiles: resolving identities, applying traits and consent, merging."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence, Set
from datetime import UTC, datetime

import orjson
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from cxloop.core.db import (
    IN_CHUNK,
    chunked,
    datetime_adapter,
    insert_rows_ignoring_conflicts,
    lock_workspace_for_resolution,
    select_in,
)
from cxloop.core.models import Workspace
from cxloop.customers.identifiers import identity_keys
from cxloop.customers.models import (
    Consent,
    ConsentStatus,
    Customer,
    CustomerMerge,
    Identity,
    IdentityKind,
)
from cxloop.customers.resolution import Key, ProfileUpdate, resolve

__all__ = [
    "Key",
    "ProfileUpdate",
    "ResolutionSession",
    "customers_merge",
    "identity_keys",
    "profiles_apply",
    "profiles_flush_seen",
]

_IDENTITY = Identity._meta.db_table
_MERGE = CustomerMerge._meta.db_table
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ResolutionSession:
    """What a bulk import remembers between its batches, so that each batch does less work.

    * ``owner_of``: every identifier the import has met and the live profile holding it, so a
      batch looks up only identifiers it has not met before, and a message whose identifiers all
      point at one known profile skips the union-find;
    * ``user_ids``: the user ids of the profiles met (two user ids are never joined);
    * first/last-seen spans (``defer_seen``): gathered over the whole import and written once by
      :func:`profiles_flush_seen` instead of once per batch.

    The cache is dropped when anyone else added identities or merged profiles since this
    session's last batch (checked under the resolution lock), or when a batch fails.
    """

    def __init__(
        self, workspace_id: int, *, defer_seen: bool = True, remember: bool = True
    ) -> None:
        self.workspace_id = workspace_id
        self.defer_seen = defer_seen
        self.remember = remember  # False: a one-batch session, no cache to keep valid
        self.owner_of: dict[Key, int] = {}  # may name a merged profile: follow ``moved``
        self.moved: dict[int, int] = {}  # profiles this session merged -> their survivor
        self.user_ids: dict[int, frozenset] = {}
        self.stamp: tuple | None = None
        self.seen: dict[int, list[datetime]] = {}  # spans of committed batches, not yet written
        self.pending_seen: dict[int, list[datetime]] = {}  # spans of the batch in progress

    def forget(self) -> None:
        """Drop the cache and the current batch's spans (its transaction did not commit)."""
        _drop_cache(self)
        self.pending_seen.clear()

    def batch_committed(self) -> None:
        """The current batch's transaction committed: keep its spans for the final write."""
        if self.seen:
            _merge_spans(self.seen, self.pending_seen)
            self.pending_seen.clear()
        else:
            self.seen, self.pending_seen = self.pending_seen, {}


def profiles_apply(
    *,
    workspace: Workspace,
    updates: Sequence[ProfileUpdate],
    session: ResolutionSession | None = None,
) -> list[int]:
    """Resolve each update to a live customer id, creating and merging profiles as needed.

    Also records new identities, traits, consent and first/last seen times (the latter deferred
    to :func:`profiles_flush_seen` when ``session.defer_seen``). Runs in the caller's transaction;
    the same updates applied twice leave the same state (idempotent). A ``session`` carries what
    one import learnt in earlier batches.
    """
    if not updates:
        return []
    session = session or ResolutionSession(workspace.pk, defer_seen=False, remember=False)
    lock_workspace_for_resolution(workspace.pk)
    _revalidate(session)
    owner_of, moved = session.owner_of, session.moved
    looked_up = {key for update in updates for key in update.keys if key not in owner_of}
    owner_of.update(_existing_identities(workspace, looked_up))

    customer_ids: list[int] = [0] * len(updates)
    unresolved: list[int] = []
    for index, update in enumerate(updates):
        # the common case: every identifier is known and on one profile, nothing to join
        keys = update.keys
        owner = None if update.alias_of else owner_of.get(keys[0])
        if owner is not None:
            if moved:
                owner = _follow(moved, owner)
            for key in keys[1:]:
                other = owner_of.get(key)
                if moved and other is not None:
                    other = _follow(moved, other)
                if other != owner:
                    owner = None
                    break
        if owner is None:
            unresolved.append(index)
        else:
            customer_ids[index] = owner

    merged_into: dict[int, int] = {}
    identity_changed: set[int] = set()
    created: set[int] = set()
    if unresolved:
        resolved, merged_into, identity_changed, created = _resolve_new(
            workspace, [updates[i] for i in unresolved], session, looked_up
        )
        for index, customer_id in zip(unresolved, resolved, strict=True):
            customer_ids[index] = customer_id
    if merged_into:
        customer_ids = [merged_into.get(c, c) for c in customer_ids]

    _apply_to_profiles(workspace, updates, customer_ids, identity_changed, created, session)
    if session.remember:
        session.stamp = _stamp()
    return customer_ids


def profiles_flush_seen(session: ResolutionSession) -> None:
    """Write the first/last-seen spans a session deferred (onto survivors of later merges)."""
    if not session.seen:
        return
    spans, session.seen = session.seen, {}
    try:
        survivors = _survivors(spans)
        live = {c: span for c, span in spans.items() if c not in survivors}
        for customer_id, survivor in survivors.items():  # merged since: onto the survivor
            _merge_spans(live, {survivor: spans[customer_id]})
        with transaction.atomic():
            lock_workspace_for_resolution(session.workspace_id)  # the lock order of every writer
            _widen_seen_times(live)
    except BaseException:
        _merge_spans(session.seen, spans)  # keep them for another try
        raise


def profiles_widen_seen(*, spans: dict[int, tuple[datetime, datetime]]) -> None:
    """Stretch profiles' first/last seen to cover ``{customer_id: (earliest, latest)}``."""
    _widen_seen_times({c: [lo, hi] for c, (lo, hi) in spans.items()})


def _resolve_new(
    workspace: Workspace,
    updates: list[ProfileUpdate],
    session: ResolutionSession,
    looked_up: set[Key],
) -> tuple[list[int], dict[int, int], set[int], set[int]]:
    """The union-find path for updates with an unknown identifier, an alias or a join.

    ``looked_up`` are the identifiers just read from the database (the others came from the
    session). Returns each update's customer id, the profiles merged away (id -> survivor), the
    profiles that got new identities and the profiles created.
    """
    owner_of, moved = session.owner_of, session.moved
    wanted = {key for update in updates for key in update.keys}
    wanted.update(
        (kind, previous)
        for update in updates
        for previous in update.alias_of
        for kind in (IdentityKind.USER_ID, IdentityKind.ANONYMOUS_ID)
    )
    owner_of.update(
        _existing_identities(
            workspace, [k for k in wanted if k not in owner_of and k not in looked_up]
        )
    )
    existing = {key: _follow(moved, owner_of[key]) for key in wanted if key in owner_of}
    gone = _missing_profiles(set(existing.values()))
    if gone:  # deleted since the session cached them: ask the database again
        stale = [key for key, owner in existing.items() if owner in gone]
        for key in stale:
            del owner_of[key], existing[key]
        for customer_id in gone:
            session.user_ids.pop(customer_id, None)
        found = _existing_identities(workspace, stale)
        owner_of.update(found)
        existing.update(found)
    # user ids only matter where a message joins identifiers (a one-key message joins nothing)
    joining = {
        existing[key]
        for update in updates
        if len(update.keys) > 1 or update.alias_of
        for key in update.keys
        if key in existing
    }
    session.user_ids.update(
        _user_ids_of(workspace, {c for c in joining if c not in session.user_ids})
    )
    user_ids = {customer_id: session.user_ids[customer_id] for customer_id in joining}
    known = existing.keys() | {key for update in updates for key in update.keys}
    alias_keys = [
        tuple(_alias_key(previous, known) for previous in update.alias_of) for update in updates
    ]
    result = resolve(updates, existing, user_ids, alias_keys)

    customer_of_component: dict = {}
    merged_into: dict[int, int] = {}
    new_components = []
    for component in dict.fromkeys(result.component_of_update):  # arrival order: stable ids
        found = sorted(result.customers_in_component.get(component, []))
        if found:
            survivor = customer_of_component[component] = found[0]
            for merged_id in found[1:]:
                reason = _merge_reason(merged_id, existing, result.links.get(component, []))
                _write_deferred_seen(session, (survivor, merged_id))  # the merge compares them
                customers_merge(survivor_id=survivor, merged_ids=[merged_id], reason=reason)
                merged_into[merged_id] = moved[merged_id] = survivor
                session.user_ids[survivor] = session.user_ids.get(
                    survivor, frozenset()
                ) | session.user_ids.pop(merged_id, frozenset())
        else:
            new_components.append(component)
    new_ids = _customers_create(workspace, len(new_components))
    customer_of_component.update(zip(new_components, new_ids, strict=True))

    first_seen_of_key: dict[Key, datetime] = {}
    for update, aliases in zip(updates, alias_keys, strict=True):
        for key in (*update.keys, *aliases):
            if key not in first_seen_of_key or update.at < first_seen_of_key[key]:
                first_seen_of_key[key] = update.at
    adapt = datetime_adapter()
    new_identities = []
    for component, keys in result.keys_in_component.items():
        owner = customer_of_component.get(component)
        if owner is None:
            continue
        for key in keys:
            if key not in existing and key in first_seen_of_key:
                new_identities.append(
                    (workspace.pk, owner, key[0], key[1], adapt(first_seen_of_key[key]))
                )
                owner_of[key] = owner
                if key[0] == IdentityKind.USER_ID:
                    session.user_ids[owner] = session.user_ids.get(owner, frozenset()) | {key[1]}
    insert_rows_ignoring_conflicts(
        Identity,
        ("workspace_id", "customer_id", "kind", "value", "first_seen_at"),
        new_identities,
        conflict=("workspace_id", "kind", "value"),
    )
    customer_ids = [customer_of_component[c] for c in result.component_of_update]
    return customer_ids, merged_into, {row[1] for row in new_identities}, set(new_ids)


def _revalidate(session: ResolutionSession) -> None:
    """Drop the session's cache if identities or merges changed since its last batch."""
    if session.owner_of and session.stamp != _stamp():
        _drop_cache(session)


def _drop_cache(session: ResolutionSession) -> None:
    session.owner_of.clear()
    session.moved.clear()
    session.user_ids.clear()
    session.stamp = None


def _follow(moved: dict[int, int], customer_id: int) -> int:
    """The profile ``customer_id`` was folded into by this session's merges (or itself)."""
    while customer_id in moved:
        customer_id = moved[customer_id]
    return customer_id


def _missing_profiles(customer_ids: set[int]) -> set[int]:
    """Those of ``customer_ids`` that no longer exist (deleted since a session cached them)."""
    if not customer_ids:
        return set()
    table = connection.ops.quote_name(Customer._meta.db_table)
    present = {row[0] for row in select_in(f"SELECT id FROM {table} WHERE id IN", customer_ids)}
    return customer_ids - present


def _write_deferred_seen(session: ResolutionSession, customer_ids: Iterable[int]) -> None:
    """Write the deferred first/last seen of these profiles now (a merge is about to read them)."""
    spans = {c: session.seen[c] for c in customer_ids if c in session.seen}
    if spans:
        _widen_seen_times(spans)


def _stamp() -> tuple:
    """Changes whenever an identity is added or a profile merged, in any workspace.

    Highest ids only (cheap on any table size). Exact for the workspace being resolved: every
    writer of its identities and merges holds its resolution lock, so their ids come after the
    ones this session read. Deleted profiles are not seen here; a batch that still points at
    one fails its foreign key and ``events_store`` redoes it with the cache dropped.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT MAX(id) FROM {_IDENTITY}), (SELECT MAX(id) FROM {_MERGE})")
        return cursor.fetchone()


def _merge_spans(into: dict[int, list[datetime]], spans: dict[int, list[datetime]]) -> None:
    """Widen the ``[first, last]`` spans of ``into`` by those of ``spans``."""
    for customer_id, (lo, hi) in spans.items():
        span = into.get(customer_id)
        if span is None:
            into[customer_id] = [lo, hi]
        else:
            if lo < span[0]:
                span[0] = lo
            if hi > span[1]:
                span[1] = hi


def _survivors(customer_ids: Iterable[int]) -> dict[int, int]:
    """Merged profiles among ``customer_ids`` -> the live profile they were folded into."""
    table = connection.ops.quote_name(Customer._meta.db_table)
    merged = dict(
        select_in(
            f"SELECT id, merged_into_id FROM {table} WHERE merged_into_id IS NOT NULL AND id IN",
            customer_ids,
        )
    )
    for customer_id, target in list(merged.items()):
        hops = 0
        while target in merged and hops < 20:  # merges flatten chains; this is a safety net
            target, hops = merged[target], hops + 1
        merged[customer_id] = target
    return merged


def _customers_create(workspace: Workspace, count: int) -> list[int]:
    """Insert ``count`` empty profiles and return their ids, in order (INSERT ... RETURNING)."""
    table = connection.ops.quote_name(Customer._meta.db_table)
    now = datetime_adapter()(timezone.now())
    ids: list[int] = []
    with connection.cursor() as cursor:
        for chunk in chunked(range(count), 500):
            values = ", ".join(["(%s, %s, '', '', %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (workspace_id, traits, display_name, search_text, created_at) "
                f"VALUES {values} RETURNING id",
                [p for _ in chunk for p in (workspace.pk, "{}", now)],
            )
            # RETURNING order is not guaranteed: ascending ids follow arrival order (stable ids)
            ids.extend(sorted(row[0] for row in cursor.fetchall()))
    return ids


def _merge_reason(merged_id: int, existing: dict[Key, int], links: list) -> str:
    """Why a profile was folded in: the joins that touched one of its identifiers."""
    own = {key for key, owner in existing.items() if owner == merged_id}
    touching = [link for link in links if link[0] in own or link[1] in own] or links
    parts = []
    for anchor, key, by_alias in touching[:3]:
        if by_alias:
            parts.append(f"alias call: user_id {anchor[1]} is also {key[0]} {key[1]}")
        else:
            parts.append(f"{anchor[0]} {anchor[1]} seen with {key[0]} {key[1]}")
    return "; ".join(parts) or "shared identifier"


def _alias_key(previous: str, known: Set[Key]) -> Key:
    """The identity an alias's previousId names: a user id known (stored or in this batch),
    else an anonymous id."""
    as_user = (IdentityKind.USER_ID, previous)
    return as_user if as_user in known else (IdentityKind.ANONYMOUS_ID, previous)


def _existing_identities(workspace: Workspace, keys: Iterable[Key]) -> dict[Key, int]:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, value in keys:
        by_kind[kind].append(value)
    found: dict[Key, int] = {}
    for kind, values in by_kind.items():
        rows = select_in(
            f"SELECT value, customer_id FROM {_IDENTITY} WHERE workspace_id = %s AND kind = %s "
            "AND value IN",
            values,
            [workspace.pk, kind],
        )
        for value, customer_id in rows:
            found[(kind, value)] = customer_id
    return found


def _user_ids_of(workspace: Workspace, customer_ids: set[int]) -> dict[int, frozenset]:
    user_ids: dict[int, set] = defaultdict(set)
    rows = select_in(
        f"SELECT customer_id, value FROM {_IDENTITY} WHERE kind = %s AND customer_id IN",
        customer_ids,
        [IdentityKind.USER_ID.value],
    )
    for customer_id, value in rows:
        user_ids[customer_id].add(value)
    return {cid: frozenset(user_ids.get(cid, ())) for cid in customer_ids}


def _apply_to_profiles(
    workspace: Workspace,
    updates: Sequence[ProfileUpdate],
    customer_ids: list[int],
    identity_changed: set[int],
    created: set[int],
    session: ResolutionSession,
) -> None:
    """Fold traits, consent and seen-times of the updates into the profiles they resolved to."""
    seen = session.pending_seen if session.defer_seen else {}
    traits_of: dict[int, list[ProfileUpdate]] = defaultdict(list)
    consents: dict[tuple[int, str], tuple[datetime, bool, str]] = {}
    for update, customer_id in zip(updates, customer_ids, strict=True):
        at = update.at
        span = seen.get(customer_id)
        if span is None:
            seen[customer_id] = [at, at]
        elif at > span[1]:
            span[1] = at
        elif at < span[0]:
            span[0] = at
        if update.traits:
            traits_of[customer_id].append(update)
        for channel, granted in update.consents:
            current = consents.get((customer_id, channel))
            if current is None or at >= current[0]:
                consents[(customer_id, channel)] = (at, granted, update.source)

    if not session.defer_seen:
        _widen_seen_times(seen)
    refresh = set(traits_of) | identity_changed
    if refresh:
        _refresh_profiles(refresh, traits_of, created)
    if consents:
        consents_record(workspace=workspace, changes=consents)


def _widen_seen_times(seen: dict[int, list[datetime]]) -> None:
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
                f"UPDATE {table} SET "
                "first_seen_at = CASE WHEN first_seen_at IS NULL OR first_seen_at > v.column2 "
                "THEN v.column2 ELSE first_seen_at END, "
                "last_seen_at = CASE WHEN last_seen_at IS NULL OR last_seen_at < v.column3 "
                f"THEN v.column3 ELSE last_seen_at END FROM (VALUES {values}) AS v "
                f"WHERE {table}.id = v.column1",
                params,
            )


def _refresh_profiles(
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
    for customer_id, traits in select_in(f"SELECT id, traits FROM {table} WHERE id IN", stored):
        traits_now[customer_id] = orjson.loads(traits) if isinstance(traits, str) else traits
    identities: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for customer_id, kind, value in select_in(
        f"SELECT customer_id, kind, value FROM {_IDENTITY} WHERE customer_id IN", customer_ids
    ):
        identities[customer_id].append((kind, value))
    rows = []
    for customer_id, traits in traits_now.items():
        for update in sorted(traits_of.get(customer_id, ()), key=lambda u: u.at):
            traits = {**traits, **update.traits}
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
            f"UPDATE {table} SET traits = %s, display_name = %s, search_text = %s WHERE id = %s",
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


def consents_record(
    *, workspace: Workspace, changes: dict[tuple[int, str], tuple[datetime, bool, str]]
) -> None:
    """Store consent changes ``(customer_id, channel) -> (when, granted, source)``; newest wins."""
    current = {}
    customer_ids = {cid for cid, _ in changes}
    for chunk in chunked(customer_ids, IN_CHUNK):
        for consent in Consent.objects.filter(customer_id__in=chunk):
            current[(consent.customer_id, consent.channel)] = consent
    to_create, to_update = [], []
    for (customer_id, channel), (at, granted, source) in changes.items():
        status = ConsentStatus.GRANTED if granted else ConsentStatus.WITHDRAWN
        consent = current.get((customer_id, channel))
        if consent is None:
            to_create.append(
                Consent(
                    workspace=workspace,
                    customer_id=customer_id,
                    channel=channel,
                    status=status,
                    changed_at=at,
                    source=source,
                )
            )
        elif at >= consent.changed_at and (consent.status, consent.source) != (status, source):
            consent.status, consent.changed_at, consent.source = status, at, source
            to_update.append(consent)
    Consent.objects.bulk_create(to_create, ignore_conflicts=True)
    Consent.objects.bulk_update(to_update, ["status", "changed_at", "source"], batch_size=500)


@transaction.atomic
def customers_merge(
    *,
    survivor_id: int,
    merged_ids: Sequence[int],
    reason: str,
    merged_by: str = "identity resolution",
) -> Customer:
    """Fold profiles into ``survivor_id``: identities, consent, traits and every related row move.

    Rows of any model with a foreign key to Customer (events today, responses and tickets later)
    move to the survivor, so no domain app has to be told. The absorbed profiles stay as
    tombstones pointing at the survivor, and one CustomerMerge per profile records who, when, why.
    """
    merged_ids = [m for m in merged_ids if m != survivor_id]
    workspace_id = Customer.objects.values_list("workspace_id", flat=True).get(pk=survivor_id)
    lock_workspace_for_resolution(workspace_id)  # first, as profiles_apply does: no deadlock
    survivor = Customer.objects.select_for_update().get(pk=survivor_id)
    merged = list(Customer.objects.filter(pk__in=merged_ids).order_by("last_seen_at", "pk"))
    moved = {m.pk: 0 for m in merged}

    for relation in Customer._meta.related_objects:
        model, field = relation.related_model, relation.field
        if model in (Identity, Consent, CustomerMerge, Customer):
            continue
        for m in merged:
            moved[m.pk] += model.objects.filter(**{field.name: m.pk}).update(
                **{field.name: survivor}
            )
    for m in merged:
        moved[m.pk] += Identity.objects.filter(customer_id=m.pk).update(customer=survivor)
    _merge_consents(survivor, merged_ids)
    Customer.objects.filter(merged_into_id__in=merged_ids).update(merged_into=survivor)

    profiles = [survivor, *merged]
    traits: dict = {}
    for profile in sorted(profiles, key=lambda c: c.last_seen_at or _EPOCH):
        traits.update(profile.traits)  # the most recently seen profile's values win
    survivor.traits = traits
    firsts = [c.first_seen_at for c in profiles if c.first_seen_at]
    lasts = [c.last_seen_at for c in profiles if c.last_seen_at]
    survivor.first_seen_at = min(firsts) if firsts else None
    survivor.last_seen_at = max(lasts) if lasts else None
    identities = list(Identity.objects.filter(customer=survivor).values_list("kind", "value"))
    survivor.display_name = display_name(traits, identities)
    survivor.search_text = search_text(traits, identities)
    survivor.save()
    Customer.objects.filter(pk__in=merged_ids).update(merged_into=survivor, search_text="")
    CustomerMerge.objects.bulk_create(
        CustomerMerge(
            workspace_id=survivor.workspace_id,
            survivor=survivor,
            merged_id=m.pk,
            reason=reason[:500],
            merged_by=merged_by[:150],
            rows_moved=moved[m.pk],
        )
        for m in merged
    )
    return survivor


def _merge_consents(survivor: Customer, merged_ids: Sequence[int]) -> None:
    latest: dict[str, Consent] = {}
    for consent in Consent.objects.filter(Q(customer=survivor) | Q(customer_id__in=merged_ids)):
        kept = latest.get(consent.channel)
        if kept is None or consent.changed_at > kept.changed_at:
            latest[consent.channel] = consent
    keep_ids = [c.pk for c in latest.values()]
    Consent.objects.filter(customer_id__in=merged_ids).exclude(pk__in=keep_ids).delete()
    Consent.objects.filter(customer=survivor).exclude(pk__in=keep_ids).delete()
    Consent.objects.filter(pk__in=keep_ids).update(customer=survivor)
