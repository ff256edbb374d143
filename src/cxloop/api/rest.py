"""Typed REST API (django-ninja, OpenAPI at /api/docs): read customers, their 360 and timeline.

Signed-in users only (session cookie, as the web app). The workspace is the ``workspace`` query
parameter (slug) or, without it, the user's first workspace.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError
from ninja.security import django_auth

from cxloop.api import feedback, journeys, metrics, paths, privacy, segments, team
from cxloop.api.access import request_workspace
from cxloop.core.permissions import Capability
from cxloop.customers import selectors as customer_selectors
from cxloop.events import selectors as event_selectors

api = NinjaAPI(
    title="cxloop API",
    version="1",
    description="Customer profiles and interactions. Tracking (Segment spec) is at /v1/*.",
    auth=django_auth,
    urls_namespace="api",
)
MAX_LIMIT = 500
api.add_router("/", feedback.router)
api.add_router("/", metrics.router)
api.add_router("/", journeys.router)
api.add_router("/", paths.router)
api.add_router("/", segments.router)
api.add_router("/", team.router)
api.add_router("/", privacy.router)


class CustomerOut(Schema):
    id: int
    display_name: str
    traits: dict
    first_seen_at: datetime | None
    last_seen_at: datetime | None


class IdentityOut(Schema):
    kind: str
    value: str
    first_seen_at: datetime | None


class ConsentOut(Schema):
    channel: str
    status: str
    changed_at: datetime
    source: str


class MergeOut(Schema):
    id: int  # POST /api/merges/{id}/unmerge undoes it (admins)
    merged_id: int
    reason: str
    merged_by: str
    merged_at: datetime
    rows_moved: int
    unmerged_at: datetime | None


class Customer360Out(CustomerOut):
    identities: list[IdentityOut]
    consents: list[ConsentOut]
    merges: list[MergeOut]

    @staticmethod
    def resolve_identities(obj) -> list:
        return list(customer_selectors.customer_identities(customer=obj))

    @staticmethod
    def resolve_consents(obj) -> list:
        return list(customer_selectors.customer_consents(customer=obj))

    @staticmethod
    def resolve_merges(obj) -> list:
        return list(customer_selectors.customer_merges(customer=obj))


class EventOut(Schema):
    id: int
    type: str
    name: str
    channel: str
    occurred_at: datetime
    message_id: str
    properties: dict


class Page(Schema):
    count: int
    limit: int
    offset: int


class CustomerPage(Page):
    items: list[CustomerOut]


class EventPage(Page):
    items: list[EventOut]


def _window(limit: int, offset: int) -> tuple[int, int]:
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise HttpError(422, f"limit must be 1..{MAX_LIMIT} and offset ≥ 0")
    return limit, offset


@api.get("/customers", response=CustomerPage, summary="Search customers")
def list_customers(
    request: HttpRequest,
    q: str = "",
    workspace: str | None = None,
    limit: int = 50,
    offset: int = 0,
):
    """Live profiles matching ``q`` (words, or ``trait:value``), most recently seen first."""
    limit, offset = _window(limit, offset)
    customers = customer_selectors.customer_search(
        workspace=request_workspace(request, workspace, need=Capability.READ_CUSTOMERS), query=q
    )
    return {
        "count": customers.count(),
        "limit": limit,
        "offset": offset,
        "items": list(customers[offset : offset + limit]),
    }


@api.get("/customers/{customer_id}", response=Customer360Out, summary="Customer 360")
def get_customer(request: HttpRequest, customer_id: int, workspace: str | None = None):
    """One profile with its identities, consent and merge history (merged ids give the survivor)."""
    customer = customer_selectors.customer_get(
        workspace=request_workspace(request, workspace, need=Capability.READ_CUSTOMERS),
        customer_id=customer_id,
    )
    if customer is None:
        raise HttpError(404, "no such customer in this workspace")
    return customer.merged_into if customer.merged_into_id else customer


@api.get("/customers/{customer_id}/events", response=EventPage, summary="Customer timeline")
def list_customer_events(
    request: HttpRequest,
    customer_id: int,
    workspace: str | None = None,
    channel: str = "",
    type: str = "",
    limit: int = 100,
    offset: int = 0,
):
    """The customer's interactions, newest first, optionally filtered by channel and type."""
    limit, offset = _window(limit, offset)
    customer = customer_selectors.customer_get(
        workspace=request_workspace(request, workspace, need=Capability.READ_CUSTOMERS),
        customer_id=customer_id,
    )
    if customer is None:
        raise HttpError(404, "no such customer in this workspace")
    events = event_selectors.customer_timeline(
        customer_id=customer.merged_into_id or customer.pk, channel=channel, event_type=type
    )
    return {
        "count": events.count(),
        "limit": limit,
        "offset": offset,
        "items": list(events[offset : offset + limit]),
    }
