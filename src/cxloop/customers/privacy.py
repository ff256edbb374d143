"""Data-subject rights: export everything held about a person, erase it, undo a merge.

Admin-only actions (``Capability.MANAGE_CUSTOMERS``), each recorded in the workspace's audit log
(``customer_export``, ``customer_erase``, ``customer_unmerge``) with ids and counts only, never
personal data. A person is a live profile and every profile it absorbed; other apps export and
erase their rows through the handlers they registered (``customers.handlers``).
"""

from __future__ import annotations

import io
import zipfile

import orjson
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cxloop.core import csvsafe
from cxloop.core import services as core_services
from cxloop.core.db import lock_workspace_for_resolution
from cxloop.customers.handlers import ExportRows, customer_handlers
from cxloop.customers.merging import UnmergeError, customers_unmerge, live_customer_id
from cxloop.customers.models import Consent, Customer, CustomerMerge, Identity
from cxloop.customers.suppression import suppress_identifiers

__all__ = [
    "UnmergeError",
    "customer_erase",
    "customer_export",
    "customer_profile_ids",
    "customer_unmerge",
    "export_csv_zip",
    "export_json",
]

Actor = AbstractBaseUser | AnonymousUser | None


def customer_profile_ids(*, customer_id: int) -> list[int]:
    """The live profile ``customer_id`` belongs to, then every profile folded into it."""
    live = live_customer_id(customer_id)
    ids, frontier = [live], [live]
    while frontier:
        frontier = list(
            Customer.objects.filter(merged_into_id__in=frontier)
            .exclude(pk__in=ids)
            .values_list("pk", flat=True)
        )
        ids.extend(frontier)
    return ids


def customer_export(*, customer: Customer, actor: Actor) -> dict:
    """Everything held about the person: profiles, identities, consent, merges and every app's
    rows (events, survey responses and answers, invitations, journey stages). Audited."""
    ids = customer_profile_ids(customer_id=customer.pk)
    tables: dict[str, ExportRows] = {
        "profiles": list(
            Customer.objects.filter(pk__in=ids)
            .order_by("pk")
            .values(
                "id",
                "display_name",
                "traits",
                "first_seen_at",
                "last_seen_at",
                "created_at",
                "merged_into_id",
            )
        ),
        "identities": list(
            Identity.objects.filter(customer_id__in=ids)
            .order_by("customer_id", "kind", "value")
            .values("customer_id", "kind", "value", "first_seen_at")
        ),
        "consents": list(
            Consent.objects.filter(customer_id__in=ids)
            .order_by("customer_id", "channel")
            .values("customer_id", "channel", "status", "changed_at", "source")
        ),
        "merges": list(
            _merges_of(ids)
            .order_by("merged_at", "pk")
            .values(
                "id",
                "survivor_id",
                "merged_id",
                "reason",
                "merged_by",
                "merged_at",
                "rows_moved",
                "unmerged_at",
                "unmerged_by",
            )
        ),
    }
    for handlers in customer_handlers():
        tables.update(handlers.export(customer_ids=ids))
    core_services.audit_record(
        workspace=customer.workspace,
        action="customer_export",
        actor=actor,
        target=f"customer #{ids[0]}",
        detail={"profiles": len(ids), "rows": {name: len(rows) for name, rows in tables.items()}},
    )
    return {"customer_id": ids[0], "exported_at": timezone.now(), "tables": tables}


def export_json(data: dict) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)


def export_csv_zip(data: dict) -> bytes:
    """One CSV per table in a zip; nested values (traits, properties) as JSON text."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, rows in data["tables"].items():
            columns = list(dict.fromkeys(column for row in rows for column in row))
            text = io.StringIO()
            writer = csvsafe.writer(text)  # names, events: a spreadsheet must not run them
            writer.writerow(columns)
            for row in rows:
                writer.writerow(_cell(row.get(column)) for column in columns)
            archive.writestr(f"{name}.csv", text.getvalue())
    return buffer.getvalue()


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return orjson.dumps(value).decode()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _merges_of(ids: list[int]):
    return CustomerMerge.objects.filter(Q(survivor_id__in=ids) | Q(merged_id__in=ids))


@transaction.atomic
def customer_erase(*, customer: Customer, actor: Actor) -> dict[str, int]:
    """Erase a person: the live profile and every profile it absorbed, with their identities,
    consent, merge records and every app's rows (apps keep anonymous aggregates only, e.g. a
    survey response's scores without customer or text). Their identifiers go on the suppression
    list, so later messages carrying them are dropped until consent is granted again.

    Returns counts per table; the audit entry holds those counts and the profile id only.
    """
    workspace = customer.workspace
    lock_workspace_for_resolution(workspace.pk)  # no batch resolves to them meanwhile
    ids = customer_profile_ids(customer_id=customer.pk)
    keys = list(Identity.objects.filter(customer_id__in=ids).values_list("kind", "value"))
    counts = {"suppressed_identifiers": suppress_identifiers(workspace=workspace, keys=keys)}
    for handlers in customer_handlers():
        counts.update(handlers.erase(customer_ids=ids))
    counts["identities"] = Identity.objects.filter(customer_id__in=ids).delete()[0]
    counts["consents"] = Consent.objects.filter(customer_id__in=ids).delete()[0]
    counts["merges"] = _merges_of(ids).delete()[0]
    Customer.objects.filter(pk__in=ids).update(merged_into=None)
    _, per_model = Customer.objects.filter(pk__in=ids).delete()
    counts["profiles"] = per_model.get(Customer._meta.label, 0)
    core_services.audit_record(
        workspace=workspace,
        action="customer_erase",
        actor=actor,
        target=f"customer #{ids[0]}",
        detail=counts,
    )
    return counts


@transaction.atomic
def customer_unmerge(*, merge: CustomerMerge, actor: Actor) -> Customer:
    """Undo a merge (see ``customers.merging.customers_unmerge``); audited."""
    label = actor.get_username() if actor is not None and actor.is_authenticated else "admin"
    restored = customers_unmerge(merge=merge, unmerged_by=label)
    core_services.audit_record(
        workspace=restored.workspace,
        action="customer_unmerge",
        actor=actor,
        target=f"merge #{merge.pk}",
        detail={"survivor": merge.survivor_id, "restored": restored.pk},
    )
    return restored
