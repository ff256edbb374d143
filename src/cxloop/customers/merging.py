"""Merging two profiles found to be one person, and undoing a merge (unmerge).

The customers app moves its own rows (identities, consent, absorbed tombstones, traits); every
other app moves its rows through the handlers it registered (``customers.handlers``), called in a
known order. What each part moved is kept on the ``CustomerMerge`` record, so an unmerge puts
exactly those rows back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cxloop.core import services as core_services
from cxloop.core.db import lock_workspace_for_resolution
from cxloop.customers.bulk import display_name, search_text
from cxloop.customers.handlers import customer_handlers
from cxloop.customers.models import Consent, ConsentStatus, Customer, CustomerMerge, Identity

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OWN = "customers"  # the key of this app's part of ``CustomerMerge.moved``


class UnmergeError(Exception):
    """The merge cannot be undone (already undone, or recorded before unmerge existed)."""


@transaction.atomic
def customers_merge(
    *,
    survivor_id: int,
    merged_ids: Sequence[int],
    reason: str,
    merged_by: str = "identity resolution",
) -> Customer:
    """Fold profiles into ``survivor_id``: identities, consent, traits and every app's rows move.

    Other apps move their rows through their registered merge handlers (events, survey
    responses, journey stages...). The absorbed profiles stay as tombstones pointing at the
    survivor, and one CustomerMerge per profile records who, when, why and what moved.
    """
    merged_ids = [m for m in merged_ids if m != survivor_id]
    workspace_id = Customer.objects.values_list("workspace_id", flat=True).get(pk=survivor_id)
    lock_workspace_for_resolution(workspace_id)  # first, as profiles_apply does: no deadlock
    survivor = Customer.objects.select_for_update().get(pk=survivor_id)
    merged = list(Customer.objects.filter(pk__in=merged_ids).order_by("last_seen_at", "pk"))
    merged_ids = [m.pk for m in merged]
    survivor_consents = _consent_snapshot(survivor.pk)
    records: dict[int, dict] = {}
    moved = {m.pk: 0 for m in merged}
    for m in merged:
        identity_ids = list(Identity.objects.filter(customer_id=m.pk).values_list("pk", flat=True))
        records[m.pk] = {
            OWN: {
                "identities": identity_ids,
                "tombstones": list(
                    Customer.objects.filter(merged_into_id=m.pk).values_list("pk", flat=True)
                ),
                "consents": _consent_snapshot(m.pk),
                "survivor_consents": survivor_consents,
                "survivor_traits": survivor.traits,
            }
        }
        moved[m.pk] += Identity.objects.filter(pk__in=identity_ids).update(customer=survivor)
    for handlers in customer_handlers():
        for m in merged:
            count, record = handlers.merge(survivor_id=survivor.pk, merged_id=m.pk)
            moved[m.pk] += count
            if record:
                records[m.pk][handlers.app_label] = record
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
    _refresh_labels(survivor)
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
            moved=records[m.pk],
        )
        for m in merged
    )
    for m in merged:  # ids only: the reason may name an email, which an erasure must not leave
        core_services.audit_record(
            workspace=survivor.workspace,
            action="customers_merged",
            target=f"#{m.pk} into #{survivor.pk}",
            detail={"merged_id": m.pk, "survivor_id": survivor.pk, "by": merged_by[:150]},
        )
    return survivor


@transaction.atomic
def customers_unmerge(*, merge: CustomerMerge, unmerged_by: str) -> Customer:
    """Split a merged profile back out: it is live again with its own identities, consent and
    rows; the profile holding the survivor's rows now gives back what the merge brought in.

    Rows are moved back by the ids recorded at merge time; each app may also take back rows
    that arrived after the merge under the restored profile's own identifiers (events do).
    Traits and consent the merge brought in are taken back unless they changed since.
    Returns the restored profile.
    """
    lock_workspace_for_resolution(merge.workspace_id)
    merge = CustomerMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.unmerged_at is not None:
        raise UnmergeError(f"merge {merge.pk} was already undone")
    own = merge.moved.get(OWN)
    if own is None:
        raise UnmergeError(f"merge {merge.pk} was made before unmerge records were kept")
    restored = Customer.objects.select_for_update().get(pk=merge.merged_id)
    if restored.merged_into_id is None:
        raise UnmergeError(f"profile {restored.pk} is live already")
    holder = Customer.objects.select_for_update().get(pk=live_customer_id(merge.survivor_id))

    Identity.objects.filter(pk__in=own["identities"]).update(customer=restored)
    Customer.objects.filter(pk__in=own["tombstones"], merged_into__isnull=False).update(
        merged_into=restored
    )
    _unmerge_consents(holder, restored, own)
    identities = set(Identity.objects.filter(customer=restored).values_list("kind", "value"))
    for handlers in reversed(customer_handlers()):
        handlers.unmerge(
            holder_id=holder.pk,
            restored_id=restored.pk,
            moved=merge.moved.get(handlers.app_label, {}),
            identities=identities,
        )
    restored.refresh_from_db(fields=["first_seen_at", "last_seen_at"])  # handlers may widen
    restored.merged_into = None
    _refresh_labels(restored)
    restored.save()
    before = own["survivor_traits"]
    for key, value in restored.traits.items():
        if holder.traits.get(key) == value and before.get(key, _MISSING) != value:
            if key in before:
                holder.traits[key] = before[key]
            else:
                del holder.traits[key]
    _refresh_labels(holder)
    holder.save()
    merge.unmerged_at, merge.unmerged_by = timezone.now(), unmerged_by[:150]
    merge.save(update_fields=["unmerged_at", "unmerged_by"])
    return restored


_MISSING = object()


def live_customer_id(customer_id: int) -> int:
    """The live profile ``customer_id`` now belongs to (following ``merged_into``)."""
    for _ in range(20):  # merges flatten chains; this is a safety net
        target = Customer.objects.values_list("merged_into_id", flat=True).get(pk=customer_id)
        if target is None:
            break
        customer_id = target
    return customer_id


def _refresh_labels(customer: Customer) -> None:
    identities = list(Identity.objects.filter(customer=customer).values_list("kind", "value"))
    customer.display_name = display_name(customer.traits, identities)
    customer.search_text = search_text(customer.traits, identities)


def _consent_snapshot(customer_id: int) -> dict[str, list]:
    return {
        c.channel: [c.status, c.changed_at.isoformat(), c.source]
        for c in Consent.objects.filter(customer_id=customer_id)
    }


def _unmerge_consents(holder: Customer, restored: Customer, own: dict) -> None:
    """The restored profile gets its consent back; the holder's consent on a channel that came
    from the restored profile (unchanged since) goes back to what the survivor had."""
    current = {c.channel: c for c in Consent.objects.filter(customer=holder)}
    for channel, entry in own["consents"].items():
        consent = current.get(channel)
        if consent is not None and _entry(consent) == entry:
            previous = own["survivor_consents"].get(channel)
            if previous is None:
                consent.delete()
            else:
                consent.status, consent.source = previous[0], previous[2]
                consent.changed_at = datetime.fromisoformat(previous[1])
                consent.save()
    Consent.objects.filter(customer=restored).delete()
    Consent.objects.bulk_create(
        Consent(
            workspace_id=restored.workspace_id,
            customer=restored,
            channel=channel,
            status=status if status in ConsentStatus.values else ConsentStatus.WITHDRAWN,
            changed_at=datetime.fromisoformat(changed_at),
            source=source,
        )
        for channel, (status, changed_at, source) in own["consents"].items()
    )


def _entry(consent: Consent) -> list:
    return [consent.status, consent.changed_at.isoformat(), consent.source]


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
