"""Reads for customer profiles: search, the 360 view's parts."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from cxloop.core.models import Workspace
from cxloop.customers.identifiers import (
    EMAIL,
    EXTERNAL,
    PHONE,
    SOCIAL,
    USER_ID,
    normalize_email,
    normalize_phone,
)
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


def customer_workspace_ids(*, customer_ids: Iterable[int]) -> set[int]:
    """The workspaces these customers belong to."""
    rows = Customer.objects.filter(pk__in=set(customer_ids)).values_list("workspace_id", flat=True)
    return set(rows)


def customer_first_identities(*, customer_ids: Iterable[int], kind: str) -> dict[int, str]:
    """Each customer's first-seen identifier of ``kind`` (e.g. ``"email"``), for those having one."""
    rows = Identity.objects.filter(customer_id__in=customer_ids, kind=kind).order_by(
        "customer_id", "first_seen_at", "pk"
    )
    out: dict[int, str] = {}
    for customer_id, value in rows.values_list("customer_id", "value"):
        out.setdefault(customer_id, value)
    return out


# identifiers that name a person; a profile with none of them (only anonymous or device ids)
# is an anonymous visitor
KNOWN_KINDS = (USER_ID, EMAIL, PHONE, EXTERNAL, SOCIAL)


def customer_is_known() -> Exists:
    """An ``Exists`` for filters and annotations: the profile holds an identifier naming a
    person (user id, email, phone, CRM id or social handle)."""
    return Exists(Identity.objects.filter(customer_id=OuterRef("pk"), kind__in=KNOWN_KINDS))


def customer_search(
    *,
    workspace: Workspace,
    query: str = "",
    ids: Iterable[int] | QuerySet | None = None,
    known_only: bool = False,
) -> QuerySet[Customer]:
    """Live profiles matching ``query``, most recently seen first.

    ``ids`` (a list or a ``values("customer_id")`` subquery) keeps only those profiles: other
    apps filter by their own data this way (e.g. customers at a journey stage). ``known_only``
    leaves anonymous visitors out (see :func:`customer_is_known`).

    Plain words match names, identifiers and trait values (all words must match);
    ``trait:value`` matches one trait exactly (e.g. ``city:Leeds`` or ``loyalty_tier:gold``); a query that
    is a phone number in any format matches that number (``(415) 555-0123`` finds +14155550123).
    """
    customers = Customer.objects.filter(workspace=workspace, merged_into__isnull=True)
    if ids is not None:
        customers = customers.filter(pk__in=ids)
    if known_only:
        customers = customers.filter(customer_is_known())
    exact = _identity_match(workspace, query.strip())
    if exact is not None:
        # an email or phone that is someone's identifier: the identity index finds it at once
        return customers.filter(pk__in=exact).order_by("-last_seen_at", "-pk")
    if _PHONE_LIKE.fullmatch(query.strip()):
        phone = normalize_phone(query.strip(), workspace.default_phone_region)
        if phone:
            return _containing(customers, phone.lower()).order_by("-last_seen_at", "-pk")
    for term in query.split():
        name, colon, wanted = term.partition(":")
        if colon and name.isidentifier() and wanted:
            match = Q(**{f"traits__{name}__iexact": wanted})
            if (number := _number(wanted)) is not None:
                match |= Q(**{f"traits__{name}": number})
            customers = customers.filter(match)
        else:
            customers = _containing(customers, term.lower())
    return customers.order_by("-last_seen_at", "-pk")


# SQLite's trigram index finds substrings of 3 characters or more (customers 0003)
_TRIGRAM = 3


def _containing(customers: QuerySet[Customer], term: str) -> QuerySet[Customer]:
    """Profiles whose search text contains ``term``, through the substring index: on SQLite
    the FTS5 trigram table, on PostgreSQL pg_trgm's GIN index (``LIKE`` uses it as it is)."""
    if connection.vendor != "sqlite" or len(term) < _TRIGRAM:
        return customers.filter(search_text__contains=term)
    phrase = '"' + term.replace('"', '""') + '"'
    return customers.filter(
        pk__in=RawSQL(
            "SELECT rowid FROM customers_customer_fts WHERE customers_customer_fts MATCH %s",
            (phrase,),
        )
    )


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


def customer_traits(*, workspace: Workspace, ids: Iterable[int]) -> dict[int, dict]:
    """The traits of the live profiles among ``ids`` (read in chunks, for long lists)."""
    wanted = sorted(set(ids))
    found: dict[int, dict] = {}
    for start in range(0, len(wanted), 5000):
        rows = Customer.objects.filter(
            workspace=workspace, merged_into__isnull=True, pk__in=wanted[start : start + 5000]
        ).values_list("pk", "traits")
        found.update((pk, traits) for pk, traits in rows if isinstance(traits, dict))
    return found


def customer_trait_names(
    *, workspace: Workspace, sample: int = 2000, limit: int = 200
) -> list[str]:
    """The trait names of the ``sample`` most recently seen live profiles whose value is text, a
    number or a yes/no (what a breakdown can group by), by name."""
    names: set[str] = set()
    rows = (
        Customer.objects.filter(workspace=workspace, merged_into__isnull=True)
        .order_by("-last_seen_at", "-pk")
        .values_list("traits", flat=True)[:sample]
    )
    for traits in rows:
        if isinstance(traits, dict):
            names.update(
                key for key, value in traits.items() if isinstance(value, str | int | float | bool)
            )
    return sorted(names)[:limit]


NAME_TRAITS = ("name", "first_name", "last_name", "firstName", "lastName")


def customer_person_names(*, workspace: Workspace) -> dict[int, list[str]]:
    """The name traits (``name``, ``first_name``, ``last_name``, ``firstName``, ``lastName``) of
    every profile of ``workspace`` that has one, merged tombstones included (an old response
    may still point at one): e.g. for finding people's names in free text."""
    fields = [f"traits__{key}" for key in NAME_TRAITS]
    rows = Customer.objects.filter(workspace=workspace).values_list("pk", *fields)
    found: dict[int, list[str]] = {}
    for pk, *values in rows.iterator(chunk_size=5000):
        names = [v for v in values if isinstance(v, str) and v.strip()]
        if names:
            found[pk] = names
    return found


def customer_ids_by_identity(
    *, workspace: Workspace, kind: str, values: list[str]
) -> dict[str, int]:
    """Map identifier values of one kind to the live customer holding each."""
    rows = Identity.objects.filter(workspace=workspace, kind=kind, value__in=values)
    return dict(rows.values_list("value", "customer_id"))


def customer_merge_get(*, workspace: Workspace, merge_id: int) -> CustomerMerge | None:
    return CustomerMerge.objects.filter(workspace=workspace, pk=merge_id).first()


# traits never offered as search examples: personal, or one value per person
_NOT_EXAMPLES = frozenset({"name", "first_name", "last_name", "email", "phone", "mobile"})


def customer_search_examples(
    *, workspace: Workspace, limit: int = 2, sample: int = 500
) -> list[str]:
    """``trait:value`` queries that find someone in this workspace, for the search help.

    Among the latest ``sample`` profiles, the text traits whose one-word values are shared by
    several people (a tier, a city), the most widely held first, each with its commonest value.
    """
    rows = (
        Customer.objects.filter(workspace=workspace, merged_into__isnull=True)
        .order_by("-last_seen_at", "-pk")
        .values_list("traits", flat=True)[:sample]
    )
    counts: dict[str, dict[str, int]] = {}
    for traits in rows:
        if not isinstance(traits, dict):
            continue
        for key, value in traits.items():
            if key in _NOT_EXAMPLES or not key.isidentifier() or not isinstance(value, str):
                continue
            if not value or len(value) > 30 or value.split() != [value] or ":" in value:
                continue
            values = counts.setdefault(key, {})
            values[value] = values.get(value, 0) + 1
    shared = []
    for key, values in counts.items():
        value, holders = min(values.items(), key=lambda item: (-item[1], item[0]))
        if holders >= 2 and len(values) < sum(values.values()):
            shared.append((sum(values.values()), key, value))
    shared.sort(key=lambda item: (-item[0], item[1]))
    return [f"{key}:{value}" for _, key, value in shared[:limit]]


_KIND_WORDS = {USER_ID: "user id", EMAIL: "email", PHONE: "phone", EXTERNAL: "CRM id"}


def customer_match_reasons(
    *, workspace: Workspace, customers: Iterable[Customer], query: str
) -> dict[int, list[str]]:
    """Why each of ``customers`` (a page of :func:`customer_search` results) matched ``query``:
    ``["preferred_store: Leeds Briggate"]``, ``["email"]``, ``["name", "city: Leeds"]``. One
    query for the identities of the whole page."""
    customers = list(customers)
    text = query.strip()
    if not text or not customers:
        return {}
    identities: dict[int, list[tuple[str, str]]] = {}
    rows = Identity.objects.filter(customer_id__in=[c.pk for c in customers])
    for customer_id, kind, value in rows.values_list("customer_id", "kind", "value"):
        identities.setdefault(customer_id, []).append((kind, value.lower()))
    exact = _identity_match(workspace, text)
    phone = ""
    if exact is None and _PHONE_LIKE.fullmatch(text):
        phone = (normalize_phone(text, workspace.default_phone_region) or "").lower()
    reasons = {}
    for customer in customers:
        found: list[str] = []
        owned = identities.get(customer.pk, [])
        if exact is not None and customer.pk in exact:
            kind = EMAIL if _EMAIL_LIKE.fullmatch(text) else PHONE
            found.append(_KIND_WORDS[kind])
        elif phone:
            found.append("phone" if any(v == phone for _, v in owned) else "phone trait")
        else:
            for term in text.split():
                found.extend(_term_reasons(customer, owned, term))
        unique = list(dict.fromkeys(found))
        reasons[customer.pk] = unique[:4]
    return reasons


def _term_reasons(customer: Customer, owned: list[tuple[str, str]], term: str) -> list[str]:
    name, colon, wanted = term.partition(":")
    traits = customer.traits if isinstance(customer.traits, dict) else {}
    if colon and name.isidentifier() and wanted:
        return [f"{name}: {traits.get(name)}"] if name in traits else []
    needle = term.lower()
    if needle in (customer.display_name or "").lower():
        return ["name"]
    for kind, value in owned:
        if needle in value and kind in _KIND_WORDS:
            return [_KIND_WORDS[kind]]
    for key, value in traits.items():
        if key in ("name", "first_name", "last_name") and needle in str(value).lower():
            return ["name"]
    for key, value in traits.items():
        shown = value if isinstance(value, str) else str(value)
        if needle in shown.lower():
            return [f"{key}: {shown[:60]}"]
    for kind, value in owned:
        if needle in value:
            return ["anonymous id" if kind == "anonymous_id" else kind.replace("_", " ")]
    return []
