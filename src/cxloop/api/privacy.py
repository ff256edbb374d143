"""REST routes for data-subject rights (mounted under /api/ by cxloop.api.rest): export
everything held about a customer, erase them, undo a merge.

Admins only (``manage_customers``); every call is audited by the service it calls. The workspace
is the ``workspace`` query parameter (slug) or the user's first workspace.
"""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.errors import HttpError

from cxloop.api.access import request_workspace
from cxloop.core.permissions import Capability
from cxloop.customers import privacy
from cxloop.customers import selectors as customer_selectors

router = Router(tags=["privacy"])


class ErasedOut(Schema):
    customer_id: int
    erased: dict[str, int]


class UnmergedOut(Schema):
    merge_id: int
    survivor_id: int
    restored_id: int


def _customer(request: HttpRequest, workspace: str | None, customer_id: int):
    found = customer_selectors.customer_get(
        workspace=request_workspace(request, workspace, need=Capability.MANAGE_CUSTOMERS),
        customer_id=customer_id,
    )
    if found is None:
        raise HttpError(404, f"no customer {customer_id} in this workspace")
    return found


@router.get(
    "/customers/{customer_id}/export",
    summary="Export everything held about a customer (subject access)",
    response={200: dict},
)
def export_customer(
    request: HttpRequest,
    customer_id: int,
    workspace: str | None = None,
    format: Literal["json", "csv"] = "json",
):
    """Profile (and absorbed profiles), identities, consent, merges, events, survey responses,
    answers, invitations and journey stages, as JSON or as a zip of one CSV per table."""
    customer = _customer(request, workspace, customer_id)
    data = privacy.customer_export(customer=customer, actor=request.user)
    if format == "csv":
        body, content_type, suffix = privacy.export_csv_zip(data), "application/zip", "zip"
    else:
        body, content_type, suffix = privacy.export_json(data), "application/json", "json"
    response = HttpResponse(body, content_type=content_type)
    name = f"customer-{data['customer_id']}.{suffix}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@router.post(
    "/customers/{customer_id}/erase",
    response=ErasedOut,
    summary="Erase a customer and everything held about them",
)
def erase_customer(request: HttpRequest, customer_id: int, workspace: str | None = None):
    """Deletes the profile, the profiles it absorbed, identities, consent, events, invitations,
    journey stages, merge records and free text; survey scores stay as anonymous rows. Their
    identifiers are suppressed: later messages with them are rejected until consent is given."""
    customer = _customer(request, workspace, customer_id)
    counts = privacy.customer_erase(customer=customer, actor=request.user)
    return {"customer_id": customer_id, "erased": counts}


@router.post(
    "/merges/{merge_id}/unmerge", response=UnmergedOut, summary="Undo a merge of two profiles"
)
def unmerge(request: HttpRequest, merge_id: int, workspace: str | None = None):
    """The absorbed profile is live again with its own identities, consent, events and
    responses. 409 when the merge was undone already."""
    found = customer_selectors.customer_merge_get(
        workspace=request_workspace(request, workspace, need=Capability.MANAGE_CUSTOMERS),
        merge_id=merge_id,
    )
    if found is None:
        raise HttpError(404, f"no merge {merge_id} in this workspace")
    try:
        restored = privacy.customer_unmerge(merge=found, actor=request.user)
    except privacy.UnmergeError as exc:
        raise HttpError(409, str(exc)) from exc
    return {"merge_id": found.pk, "survivor_id": found.survivor_id, "restored_id": restored.pk}
