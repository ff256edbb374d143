"""Writes for events: validating, resolving and storing batches of messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Max, Min
from django.utils import timezone

from cxloop.core import services as core_services
from cxloop.core.db import (
    IN_CHUNK,
    chunked,
    insert_rows_ignoring_conflicts,
    lock_workspace_for_resolution,
    one_writer,
    select_in,
)
from cxloop.core.models import Workspace
from cxloop.customers import services as customer_services
from cxloop.events.models import Event, EventOutbox
from cxloop.events.preparing import (
    EVENT_COLUMNS,
    PreparedMessage,
    RejectedMessage,
    events_prepare,
    events_validate,
    notes_of,
)

__all__ = [
    "IngestResult",
    "PreparedMessage",
    "RejectedMessage",
    "events_ingest",
    "events_prepare",
    "events_store",
    "events_validate",
]


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[RejectedMessage] = field(default_factory=list)
    # stored, but with values changed to store them (NaN -> null, ...): position and what
    warnings: list[RejectedMessage] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)
        self.warnings.extend(other.warnings)


def events_ingest(
    *,
    workspace: Workspace,
    messages: Sequence[object],
    positions: Sequence[int] | None = None,
    sizes: Sequence[int] | None = None,
    expected_type: str | None = None,
    sent_at: object = None,
    received_at: datetime | None = None,
    trusted: bool = True,
) -> IngestResult:
    """Validate and store raw Segment messages; bad ones are reported, good ones kept.

    ``positions`` label each message in errors (batch index or file line; default 0..n-1),
    ``sizes`` are their encoded sizes when known (over 32 KB is rejected, as Segment does).
    Idempotent: a message whose messageId is already stored is counted as a duplicate.
    ``trusted`` is False for messages sent with a public (browser) write key: see events_store.
    """
    received_at = received_at or timezone.now()
    valid, rejected = events_validate(
        messages=messages,
        positions=positions,
        sizes=sizes,
        expected_type=expected_type,
        sent_at=sent_at,
        received_at=received_at,
    )
    prepared, unidentified = events_prepare(
        messages=valid,
        received_at=received_at,
        workspace_id=workspace.pk,
        region=workspace.default_phone_region,
    )
    result = events_store(workspace=workspace, messages=prepared, trusted=trusted)
    result.rejected = sorted(rejected + unidentified + result.rejected, key=lambda r: r.position)
    result.warnings = notes_of(valid)
    return result


def events_store(
    *,
    workspace: Workspace,
    messages: Sequence[PreparedMessage],
    session: customer_services.ResolutionSession | None = None,
    assume_new: bool = False,
    trusted: bool = True,
) -> IngestResult:
    """Resolve prepared messages to profiles and store them in one transaction.

    Idempotent: a message whose messageId is stored already (or repeated earlier in the same
    batch) is counted as a duplicate and changes nothing. A bulk import passes one ``session``
    for all its batches (see ``customers.services.ResolutionSession``).

    ``assume_new`` skips the up-front lookup of stored messageIds (a bulk import of new data):
    if the insert then meets one, the batch is rolled back and redone with the lookup.

    Not ``trusted`` (a browser write key, public by design): an alias that would join two
    different known user ids is refused, as a rejected message with an audit entry
    ('alias_refused') for an admin to review; aliasing an anonymous id to a user id works as
    always. Server keys and local imports are trusted.
    """
    remembered = bool(session and session.owner_of)  # cached before this batch
    try:
        try:
            with one_writer(), transaction.atomic():
                result = _store(
                    workspace, messages, session, look_up_stored=not assume_new, trusted=trusted
                )
        except (_StoredBefore, IntegrityError) as exc:
            # IntegrityError: a profile the session remembered was deleted meanwhile
            if isinstance(exc, IntegrityError) and not remembered:
                raise
            if session is not None:
                session.forget()
            with one_writer(), transaction.atomic():
                result = _store(workspace, messages, session, look_up_stored=True, trusted=trusted)
    except BaseException:
        if session is not None:
            session.forget()
        raise
    if session is not None:
        session.batch_committed()
    return result


class _StoredBefore(Exception):
    """A batch stored without looking up its messageIds first met stored ones: redo it."""


def _store(
    workspace: Workspace,
    messages: Sequence[PreparedMessage],
    session: customer_services.ResolutionSession | None,
    *,
    look_up_stored: bool,
    trusted: bool = True,
) -> IngestResult:
    result = IngestResult()
    lock_workspace_for_resolution(workspace.pk)  # before any profile row, as every writer does
    fresh, stored = _drop_duplicates(workspace, messages, result, look_up_stored=look_up_stored)
    if stored:  # resent: make sure their profiles' seen-times cover them (repairs a crashed import)
        customer_services.profiles_widen_seen(spans=_spans_of_stored(workspace, stored))
    if trusted or not any(m.update.alias_of for m in fresh):
        customer_ids = customer_services.profiles_apply(
            workspace=workspace, updates=[m.update for m in fresh], session=session
        )
    else:
        customer_ids, fresh = _apply_guarded(workspace, fresh, session, result)
    rows = []
    for message, customer_id in zip(fresh, customer_ids, strict=True):
        if customer_id is None:  # an erased person's identifiers (customers.suppression)
            result.rejected.append(
                RejectedMessage(message.position, customer_services.SUPPRESSED, message.message_id)
            )
            continue
        message.row[1] = customer_id
        rows.append(message.row)
    before = _highest_event_id()
    inserted = insert_rows_ignoring_conflicts(
        Event, EVENT_COLUMNS, rows, conflict=("workspace_id", "message_id")
    )
    if inserted < len(rows) and not look_up_stored:
        raise _StoredBefore
    if inserted:
        # every id this transaction got lies above ``before`` and at or below the highest id
        # it sees now: the analytics engine copies that range (events_outbox_add)
        events_outbox_add(
            workspace_id=workspace.pk, first_event_id=before + 1, last_event_id=_highest_event_id()
        )
    # a concurrent batch may have stored some of the same messages after the lookup
    result.accepted = inserted
    result.duplicates += len(rows) - inserted
    return result


def _highest_event_id() -> int:
    return Event.objects.aggregate(m=Max("pk"))["m"] or 0


def events_outbox_add(
    *,
    workspace_id: int,
    first_event_id: int = 0,
    last_event_id: int = 0,
    customer_ids: Sequence[int] = (),
) -> None:
    """Tell the analytics engine, in the caller's transaction, what it has to copy: the events
    with ids in [first, last] of the workspace, or all events of ``customer_ids`` again."""
    EventOutbox.objects.create(
        workspace_id=workspace_id,
        first_event_id=first_event_id,
        last_event_id=last_event_id,
        customer_ids=sorted(set(customer_ids)),
    )


def events_outbox_done(*, entry_ids: Sequence[int]) -> None:
    """The engine holds what these outbox entries named: forget them."""
    for chunk in chunked(list(entry_ids), IN_CHUNK):
        EventOutbox.objects.filter(pk__in=chunk).delete()


REFUSED_ALIAS = "joining two known users needs a server write key"


def _apply_guarded(
    workspace: Workspace,
    messages: list[PreparedMessage],
    session: customer_services.ResolutionSession | None,
    result: IngestResult,
) -> tuple[Sequence[int | None], list[PreparedMessage]]:
    """profiles_apply for a public key: aliases joining two user ids are taken out.

    The batch is resolved in a savepoint; if some alias would have joined two different user
    ids, the savepoint is undone and the batch resolved again without those messages, which are
    reported as rejected and recorded in the audit log (both user ids) for review.
    """
    kept = messages
    while True:
        refused: list[tuple[int, frozenset, frozenset]] = []
        with transaction.atomic():
            customer_ids = customer_services.profiles_apply(
                workspace=workspace, updates=[m.update for m in kept], session=session,
                refused=refused,
            )  # fmt: skip
            if not refused:
                return customer_ids, kept
            transaction.set_rollback(True)
        if session is not None:
            session.forget()  # it may remember profiles of the undone savepoint
        out = {index: ids | other for index, ids, other in refused}
        for index, user_ids in out.items():
            _refuse_alias(workspace, kept[index], user_ids, result)
        kept = [m for index, m in enumerate(kept) if index not in out]


def _refuse_alias(
    workspace: Workspace, message: PreparedMessage, user_ids: frozenset, result: IngestResult
) -> None:
    user_id = message.row[EVENT_COLUMNS.index("user_id")]
    result.rejected.append(RejectedMessage(message.position, REFUSED_ALIAS, message.message_id))
    core_services.audit_record(
        workspace=workspace,
        action="alias_refused",
        target=user_id,
        detail={
            "reason": REFUSED_ALIAS,
            "message_id": message.message_id,
            "user_id": user_id,
            "previous_id": message.update.alias_of[0] if message.update.alias_of else "",
            "user_ids": sorted(user_ids),
        },
    )


def _drop_duplicates(
    workspace: Workspace,
    messages: Sequence[PreparedMessage],
    result: IngestResult,
    *,
    look_up_stored: bool,
) -> tuple[list[PreparedMessage], set[str]]:
    """Messages whose id is neither repeated earlier in this batch nor (when ``look_up_stored``)
    stored already; and the ids found stored."""
    stored: set[str] = set()
    if look_up_stored:
        stored = {
            row[0]
            for row in select_in(
                f"SELECT message_id FROM {Event._meta.db_table} WHERE workspace_id = %s "  # noqa: S608 -- own table name
                "AND message_id IN",
                {m.message_id for m in messages},
                [workspace.pk],
            )
        }
    seen = set(stored)
    fresh = []
    for message in messages:
        if message.message_id in seen:
            result.duplicates += 1
            continue
        seen.add(message.message_id)
        fresh.append(message)
    return fresh, stored


def _spans_of_stored(workspace: Workspace, message_ids: set[str]) -> dict[int, tuple]:
    """First and last time of the stored events with these ids, per profile."""
    spans: dict[int, tuple] = {}
    for chunk in chunked(message_ids, IN_CHUNK):
        rows = (
            Event.objects.filter(workspace=workspace, message_id__in=chunk)
            .values("customer_id")
            .annotate(first=Min("occurred_at"), last=Max("occurred_at"))
        )
        for row in rows:
            first, last = spans.get(row["customer_id"], (row["first"], row["last"]))
            spans[row["customer_id"]] = (min(first, row["first"]), max(last, row["last"]))
    return spans
