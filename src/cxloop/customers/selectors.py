"""Reads for customer profiles: search, the 360 view's parts."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db.models import Q, QuerySet

from cxloop.core.models import Workspace
from cxloop.customers.identifiers import EMAIL, PHONE, normalize_email, normalize_phone
from cxloop.customers.models import Consent, Customer, CustomerMerge, Identity


def live_customers(*, workspace: Workspace) -> QuerySet[Customer]:
    """The live profiles of ``workspace`` (merged tombstones left out), unordered: a base query
    other apps keep filtering or annotating."""
    return Customer.objects.filter(workspace=workspace, merged_into__isnull=True)


def customers_by_ids(*, workspace: Workspace, ids: Iterable[int]) -> QuerySet[Customer]:
    """The profiles of ``workspace`` with these ids, tombstones included (callers that hold ids
    from identities or old rows resolve survivors with :func:`customer_survivor_ids`)."""
    return Customer.objects.filter(workspace=workspace, pk__in=ids)


def customer_survivor_ids(*, customer_ids: Iterable[int]) -> dict[int, int]:
    """Each customer id → the live profile it now belongs to, following ``merged_into`` chains
    (merges leave tombstones). Ids of unknown or live profiles map to themselves."""
    customer_ids = set(customer_ids)
    rows = dict(Customer.objects.filter(pk__in=customer_ids).values_list("pk", "merged_into_id"))
    out = {}
    for customer_id in customer_ids:
        current, hops = customer_id, 0
        while rows.get(current) and hops < 20:
            nxt = rows[current]
            if nxt not in rows:
                rows.update(Customer.objects.filter(pk=nxt).values_list("pk", "merged_into_id"))
            current, hops = nxt, hops + 1
        out[customer_id] = current
    return out


def customer_first_identities(*, customer_ids: Iterable[int], kind: str) -> dict[int, str]:
    """Each customer's first-seen identifier of ``kind`` (e.g. ``"email"``), for those having one."""
    rows = Identity.objects.filter(customer_id__in=customer_ids, kind=kind).order_by(
        "customer_id", "first_seen_at", "pk"
    )
    out: dict[int, str] = {}
    for customer_id, value in rows.values_list("customer_id", "value"):
        out.setdefault(customer_id, value)
    return out


def customer_search(
    *, workspace: Workspace, query: str = "", ids: Iterable[int] | QuerySet | None = None
) -> QuerySet[Customer]:
    """Live profiles matching ``query``, most recently seen first.

    ``ids`` (a list or a ``values("customer_id")`` subquery) keeps only those profiles: other
    apps filter by their own data this way (e.g. customers at a journey stage).

    Plain words match names, identifiers and trait values (all words must match);
    ``trait:value`` matches one trait exactly (e.g. ``city:Leeds`` or ``tier:gold``); a query that
    is a phone number in any format matches that number (``(415) 555-0123`` finds +14155550123).
    """
    customers = Customer.objects.filter(workspace=workspace, merged_into__isnull=True)
    if ids is not None:
        customers = customers.filter(pk__in=ids)
    exact = _identity_match(workspace, query.strip())
    if exact is not None:
        # an email or phone that is someone's identifier: the identity index finds it at once
        return customers.filter(pk__in=exact).order_by("-last_seen_at", "-pk")
    if _PHONE_LIKE.fullmatch(query.strip()):
        phone = normalize_phone(query.strip(), workspace.default_phone_region)
        if phone:
            return customers.filter(search_text__contains=phone.lower()).order_by(
                "-last_seen_at", "-pk"
            )
    for term in query.split():
        name, colon, wanted = term.partition(":")
        if colon and name.isidentifier() and wanted:
            match = Q(**{f"traits__{name}__iexact": wanted})
            if (number := _number(wanted)) is not None:
                match |= Q(**{f"traits__{name}": number})
            customers = customers.filter(match)
        else:
            customers = customers.filter(search_text__contains=term.lower())
    return customers.order_by("-last_seen_at", "-pk")


_PHONE_LIKE = re.compile(r"\+?[\d\s().\-]{7,}")
_EMAIL_LIKE = re.compile(r"[^\s@]+@[^\s@]+")


def _identity_match(workspace: Workspace, text: str) -> list[int] | None:
    """The profiles holding ``text`` as an email or phone identifier (None: ``text`` is neither
    one, or no profile holds it, and the substring search decides)."""
    if _EMAIL_LIKE.fullmatch(text):
        kind, value = EMAIL, normalize_email(text)
    elif _PHONE_LIKE.fullmatch(text):
        kind, value = PHONE, normalize_phone(text, workspace.default_phone_region)
    else:
        return None
    if not value:
        return None
    holders = list(
        Identity.objects.filter(workspace=workspace, kind=kind, value=value).values_list(
            "customer_id", flat=True
        )
    )
    return holders or None


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def customer_get(*, workspace: Workspace, customer_id: int) -> Customer | None:
    """A profile of this workspace (possibly a merged tombstone), or None."""
    return Customer.objects.filter(workspace=workspace, pk=customer_id).first()


def customer_identities(*, customer: Customer) -> QuerySet[Identity]:
    return customer.identities.order_by("kind", "first_seen_at", "value")


def customer_consents(*, customer: Customer) -> QuerySet[Consent]:
    return customer.consents.order_by("channel")


def customer_merges(*, customer: Customer) -> QuerySet[CustomerMerge]:
    """Every merge that folded a profile into this one, directly or through an absorbed profile."""
    absorbed = Customer.objects.filter(merged_into=customer).values("pk")
    return CustomerMerge.objects.filter(
        Q(survivor=customer) | Q(survivor__in=absorbed)
    ).select_related("merged")


def customer_count(*, workspace: Workspace) -> int:
    return Customer.objects.filter(workspace=workspace, merged_into__isnull=True).count()


def customer_trait_values(
    *, workspace: Workspace, key: str, ids: Iterable[int] | None = None
) -> dict[int, str]:
    """The value of trait ``key`` of live profiles (those in ``ids`` when given), as text."""
    customers = Customer.objects.filter(workspace=workspace, merged_into__isnull=True)
    if ids is not None:
        customers = customers.filter(pk__in=ids)
    values = {}
    for pk, traits in customers.values_list("pk", "traits").iterator(chunk_size=5000):
        value = traits.get(key) if isinstance(traits, dict) else None
        if value is not None and value != "":
            values[pk] = str(value)
    return values


def customer_ids_by_identity(
    *, workspace: Workspace, kind: str, values: list[str]
) -> dict[str, int]:
    """Map identifier values of one kind to the live customer holding each."""
    rows = Identity.objects.filter(workspace=workspace, kind=kind, value__in=values)
    return dict(rows.values_list("value", "customer_id"))


def customer_merge_get(*, workspace: Workspace, merge_id: int) -> CustomerMerge | None:
    return CustomerMerge.objects.filter(workspace=workspace, pk=merge_id).first()
