"""Typed REST API (django-ninja, OpenAPI at /api/docs): read customers, their 360 and timeline.

Signed-in users only (session cookie, as the web app). The workspace is the ``workspace`` query
parameter (slug) or, without it, the user's first workspace.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError, ValidationError
from ninja.security import django_auth

from cxloop.analytics.selectors import EngineUnavailable
from cxloop.api import (
    changes,
    feedback,
    journeymap,
    journeys,
    metrics,
    paths,
    predict,
    privacy,
    segments,
    team,
    text,
    text_teach,
    trends,
    workflows,
)
from cxloop.api.access import request_workspace
from cxloop.api.errors import ERRORS, validation_error
from cxloop.api.params import TextParser, id_param, limit_param, offset_param
from cxloop.core.permissions import Capability
from cxloop.customers import selectors as customer_selectors
from cxloop.events import selectors as event_selectors

api = NinjaAPI(
    title="cxloop API",
    version="1",
    description="Customer profiles and interactions. Tracking (Segment spec) is at /v1/*.",
    auth=django_auth,
    urls_namespace="api",
    parser=TextParser(),
)
api.add_exception_handler(ValidationError, partial(validation_error, api=api))


def _engine_unavailable(
    request: HttpRequest, exc: EngineUnavailable | type[EngineUnavailable]
) -> HttpResponse:
    response = api.create_response(request, {"detail": str(exc)}, status=503)
    response["Retry-After"] = "10"
    return response


api.add_exception_handler(EngineUnavailable, _engine_unavailable)
api.add_router("/", feedback.router)
api.add_router("/", metrics.router)
api.add_router("/", journeys.router)
api.add_router("/", journeymap.router)
api.add_router("/", paths.router)
api.add_router("/", segments.router)
api.add_router("/", team.router)
api.add_router("/", privacy.router)
api.add_router("/", predict.router)
api.add_router("/", workflows.router)
api.add_router("/", text_teach.router)  # before text's: /text/teaching is not /text/{id}
api.add_router("/", text.router)
api.add_router("/", trends.router)
api.add_router("/", changes.router)


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


@api.get("/customers", response={200: CustomerPage, **ERRORS}, summary="Search customers")
def list_customers(
    request: HttpRequest,
    q: str = "",
    workspace: str | None = None,
    limit: int = limit_param(50),
    offset: int = offset_param(),
):
    """Live profiles matching ``q`` (words, or ``trait:value``), most recently seen first."""
    customers = customer_selectors.customer_search(
        workspace=request_workspace(request, workspace, need=Capability.READ_CUSTOMERS), query=q
    )
    return {
        "count": customers.count(),
        "limit": limit,
        "offset": offset,
        "items": list(customers[offset : offset + limit]),
    }


@api.get(
    "/customers/{customer_id}",
    response={200: Customer360Out, **ERRORS},
    summary="Customer 360",
)
def get_customer(request: HttpRequest, customer_id: int = id_param(), workspace: str | None = None):
    """One profile with its identities, consent and merge history (merged ids give the survivor)."""
    customer = customer_selectors.customer_get(
        workspace=request_workspace(request, workspace, need=Capability.READ_CUSTOMERS),
        customer_id=customer_id,
    )
    if customer is None:
        raise HttpError(404, "no such customer in this workspace")
    return customer.merged_into if customer.merged_into_id else customer


@api.get(
    "/customers/{customer_id}/events",
    response={200: EventPage, **ERRORS},
    summary="Customer timeline",
)
def list_customer_events(
    request: HttpRequest,
    customer_id: int = id_param(),
    workspace: str | None = None,
    channel: str = "",
    type: str = "",
    limit: int = limit_param(100),
    offset: int = offset_param(),
):
    """The customer's interactions, newest first, optionally filtered by channel and type."""
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
