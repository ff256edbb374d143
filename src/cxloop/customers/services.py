"""Writes for customer profiles: resolving identities, applying traits and consent, merging."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence, Set
from datetime import datetime

from django.db import transaction

from cxloop.core.db import (
    IN_CHUNK,
    chunked,
    datetime_adapter,
    insert_rows_ignoring_conflicts,
    lock_workspace_for_resolution,
)
from cxloop.core.models import Workspace
from cxloop.customers.bulk import (
    customers_create,
    existing_identities,
    missing_profiles,
    refresh_profiles,
    resolution_stamp,
    survivors,
    user_ids_of,
    widen_seen_times,
)
from cxloop.customers.identifiers import identity_keys
from cxloop.customers.merging import customers_merge
from cxloop.customers.models import (
    Consent,
    ConsentStatus,
    CustomerMerge,
    Identity,
    IdentityKind,
)
from cxloop.customers.resolution import Key, ProfileUpdate, resolve
from cxloop.customers.session import ResolutionSession, follow, merge_spans, revalidate
from cxloop.customers.suppression import SUPPRESSED, updates_suppressed

__all__ = [
    "SUPPRESSED",
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


def profiles_apply(
    *,
    workspace: Workspace,
    updates: Sequence[ProfileUpdate],
    session: ResolutionSession | None = None,
    refused: list[tuple[int, frozenset, frozenset]] | None = None,
) -> Sequence[int | None]:
    """Resolve each update to a live customer id, creating and merging profiles as needed.

    An update carrying an identifier of a person erased on request (``customers.suppression``)
    gets None and changes nothing, unless it grants consent again (that lifts the suppression).

    Also records new identities, traits, consent and first/last seen times (the latter deferred
    to :func:`profiles_flush_seen` for a session of many batches). Runs in the caller's transaction;
    the same updates applied twice leave the same state (idempotent). A ``session`` carries what
    one import learnt in earlier batches.

    ``refused`` (given for messages sent with a public write key): an alias that would join two
    different user ids is not made; (update index, user ids, user ids) is appended instead. The
    caller decides what to do with such updates (the rest of the work is done as usual).
    """
    if not updates:
        return []
    session = session or ResolutionSession(workspace.pk, one_batch=True)
    lock_workspace_for_resolution(workspace.pk)
    blocked = updates_suppressed(workspace=workspace, updates=updates)
    if blocked:
        kept = [update for i, update in enumerate(updates) if i not in blocked]
        kept_ids = iter(profiles_apply(workspace=workspace, updates=kept, session=session))
        return [None if i in blocked else next(kept_ids) for i in range(len(updates))]
    revalidate(session)
    owner_of, moved = session.owner_of, session.moved
    looked_up = {key for update in updates for key in update.keys if key not in owner_of}
    owner_of.update(existing_identities(workspace, looked_up))

    customer_ids: list[int] = [0] * len(updates)
    unresolved: list[int] = []
    for index, update in enumerate(updates):
        # the common case: every identifier is known and on one profile, nothing to join
        keys = update.keys
        owner = None if update.alias_of else owner_of.get(keys[0])
        if owner is not None:
            if moved:
                owner = follow(moved, owner)
            for key in keys[1:]:
                other = owner_of.get(key)
                if moved and other is not None:
                    other = follow(moved, other)
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
        found: list | None = [] if refused is not None else None
        resolved, merged_into, identity_changed, created = _resolve_new(
            workspace, [updates[i] for i in unresolved], session, looked_up, found
        )
        if refused is not None and found:
            refused.extend((unresolved[i], ids, other) for i, ids, other in found)
        for index, customer_id in zip(unresolved, resolved, strict=True):
            customer_ids[index] = customer_id
    if merged_into:
        customer_ids = [merged_into.get(c, c) for c in customer_ids]

    _apply_to_profiles(workspace, updates, customer_ids, identity_changed, created, session)
    if session.many_batches:
        session.stamp = resolution_stamp()
    return customer_ids


def profiles_flush_seen(session: ResolutionSession) -> None:
    """Write the first/last-seen spans a session deferred (onto survivors of later merges)."""
    if not session.seen:
        return
    spans, session.seen = session.seen, {}
    try:
        moved_to = survivors(spans)
        live = {c: span for c, span in spans.items() if c not in moved_to}
        for customer_id, survivor in moved_to.items():  # merged since: onto the survivor
            merge_spans(live, {survivor: spans[customer_id]})
        with transaction.atomic():
            lock_workspace_for_resolution(session.workspace_id)  # the lock order of every writer
            widen_seen_times(live)
    except BaseException:
        merge_spans(session.seen, spans)  # keep them for another try
        raise


def profiles_widen_seen(*, spans: dict[int, tuple[datetime, datetime]]) -> None:
    """Stretch profiles' first/last seen to cover ``{customer_id: (earliest, latest)}``."""
    widen_seen_times({c: [lo, hi] for c, (lo, hi) in spans.items()})


def _resolve_new(
    workspace: Workspace,
    updates: list[ProfileUpdate],
    session: ResolutionSession,
    looked_up: set[Key],
    refused: list | None = None,
) -> tuple[list[int], dict[int, int], set[int], set[int]]:
    """The union-find path for updates with an unknown identifier, an alias or a join.

    ``looked_up`` are the identifiers just read from the database (the others came from the
    session). Returns each update's customer id, the profiles merged away (id -> survivor), the
    profiles that got new identities and the profiles created. ``refused``: see profiles_apply.
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
        existing_identities(
            workspace, [k for k in wanted if k not in owner_of and k not in looked_up]
        )
    )
    existing = {key: follow(moved, owner_of[key]) for key in wanted if key in owner_of}
    gone = missing_profiles(set(existing.values()))
    if gone:  # deleted since the session cached them: ask the database again
        stale = [key for key, owner in existing.items() if owner in gone]
        for key in stale:
            del owner_of[key], existing[key]
        for customer_id in gone:
            session.user_ids.pop(customer_id, None)
        found = existing_identities(workspace, stale)
        owner_of.update(found)
        existing.update(found)
    known = existing.keys() | {key for update in updates for key in update.keys}
    alias_keys = [
        tuple(_alias_key(previous, known) for previous in update.alias_of) for update in updates
    ]
    # user ids only matter where a message joins identifiers (a one-key message joins nothing)
    joining = {
        existing[key]
        for update, aliases in zip(updates, alias_keys, strict=True)
        if len(update.keys) > 1 or aliases
        for key in (*update.keys, *aliases)
        if key in existing
    }
    session.user_ids.update(
        user_ids_of(workspace, {c for c in joining if c not in session.user_ids})
    )
    user_ids = {customer_id: session.user_ids[customer_id] for customer_id in joining}
    result = resolve(updates, existing, user_ids, alias_keys, guard_aliases=refused is not None)
    if refused is not None:
        refused.extend((index, *pair) for index, pair in result.refused.items())

    customer_of_component: dict = {}
    merged_into: dict[int, int] = {}
    new_components = []
    for component in dict.fromkeys(result.component_of_update):  # arrival order: stable ids
        profiles = sorted(result.customers_in_component.get(component, []))
        if profiles:
            survivor = customer_of_component[component] = profiles[0]
            for merged_id in profiles[1:]:
                reason = _merge_reason(merged_id, existing, result.links.get(component, []))
                _write_deferred_seen(session, (survivor, merged_id))  # the merge compares them
                customers_merge(survivor_id=survivor, merged_ids=[merged_id], reason=reason)
                merged_into[merged_id] = moved[merged_id] = survivor
                session.user_ids[survivor] = session.user_ids.get(
                    survivor, frozenset()
                ) | session.user_ids.pop(merged_id, frozenset())
        else:
            new_components.append(component)
    new_ids = customers_create(workspace, len(new_components))
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


def _write_deferred_seen(session: ResolutionSession, customer_ids: Iterable[int]) -> None:
    """Write the deferred first/last seen of these profiles now (a merge is about to read them)."""
    spans = {c: session.seen[c] for c in customer_ids if c in session.seen}
    if spans:
        widen_seen_times(spans)


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


def _apply_to_profiles(
    workspace: Workspace,
    updates: Sequence[ProfileUpdate],
    customer_ids: list[int],
    identity_changed: set[int],
    created: set[int],
    session: ResolutionSession,
) -> None:
    """Fold traits, consent and seen-times of the updates into the profiles they resolved to."""
    seen = session.pending_seen if session.many_batches else {}
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

    if not session.many_batches:
        widen_seen_times(seen)
    refresh = set(traits_of) | identity_changed
    if refresh:
        refresh_profiles(refresh, traits_of, created)
    if consents:
        consents_record(workspace=workspace, changes=consents)


def consents_record(
    *, workspace: Workspace, changes: dict[tuple[int, str], tuple[datetime, bool, str]]
) -> None:
    """Store consent changes ``(customer_id, channel) -> (when, granted, source)``; newest wins."""
    current: dict[tuple[int, str], Consent] = {}
    customer_ids = {cid for cid, _ in changes}
    for chunk in chunked(customer_ids, IN_CHUNK):
        for row in Consent.objects.filter(customer_id__in=chunk):
            current[(row.customer_id, row.channel)] = row
    to_create: list[Consent] = []
    to_update: list[Consent] = []
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
