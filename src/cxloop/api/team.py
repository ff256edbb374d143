"""REST: the workspace's members and roles, write keys and audit log (admins only)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from cxloop.api.access import request_workspace
from cxloop.api.errors import BODY_ERRORS, ERRORS, errors
from cxloop.api.params import ObjectIn, id_param, limit_param, offset_param
from cxloop.core import selectors as core_selectors
from cxloop.core import services as core_services
from cxloop.core.forms import MemberAddForm, RoleForm, WriteKeyForm, first_error
from cxloop.core.permissions import Capability

router = Router(tags=["team"])


class TeamMemberOut(Schema):
    user_id: int
    username: str
    email: str
    role: str


class MemberIn(ObjectIn):
    username: str
    role: str
    email: str = ""
    password: str = ""


class RoleIn(ObjectIn):
    role: str


class KeyOut(Schema):
    id: int
    label: str
    kind: str
    key: str
    created_at: datetime
    revoked_at: datetime | None


class KeyIn(ObjectIn):
    label: str
    kind: str = "browser"


class AuditOut(Schema):
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict


def _member_out(membership) -> dict:
    user = membership.user
    return {
        "user_id": user.pk,
        "username": user.get_username(),
        "email": user.email,
        "role": membership.role,
    }


def _key_out(key, *, reveal: bool = False) -> dict:
    """A server key is secret: its full value is returned only when it is created."""
    shown = key.key if reveal or key.kind != "server" else f"{key.key[:4]}…"
    return {
        "id": key.pk,
        "label": key.label,
        "kind": key.kind,
        "key": shown,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


def _member(workspace, user_id: int):
    membership = core_selectors.member_get(workspace=workspace, user_id=user_id)
    if membership is None:
        raise HttpError(404, f"no member with user id {user_id} in this workspace")
    return membership


@router.get("/members", response={200: list[TeamMemberOut], **ERRORS}, summary="Members and roles")
def list_members(request: HttpRequest, workspace: str | None = None):
    ws = request_workspace(request, workspace, need=Capability.MANAGE_WORKSPACE)
    return [_member_out(m) for m in core_selectors.members(workspace=ws)]


@router.post(
    "/members",
    response={201: TeamMemberOut, **BODY_ERRORS},
    summary="Add an existing user, or a new one (with a password), with a role",
)
def add_member(request: HttpRequest, body: MemberIn, workspace: str | None = None):
    ws = request_workspace(request, workspace, need=Capability.MANAGE_WORKSPACE)
    form = MemberAddForm(body.dict())
    if not form.is_valid():
        return Status(422, {"detail": first_error(form)})
    try:
        membership, _ = core_services.member_add(
            workspace=ws, actor=request.user, **form.cleaned_data
        )
    except core_services.TeamError as exc:
        return Status(422, {"detail": str(exc)})
    return Status(201, _member_out(membership))


@router.patch(
    "/members/{user_id}",
    response={200: TeamMemberOut, **BODY_ERRORS, **errors(409)},
    summary="Change a member's role",
)
def set_member_role(
    request: HttpRequest, body: RoleIn, user_id: int = id_param(), workspace: str | None = None
):
    ws = request_workspace(request, workspace, need=Capability.MANAGE_WORKSPACE)
    membership = _member(ws, user_id)
    form = RoleForm(body.dict())
    if not form.is_valid():
        return Status(422, {"detail": first_error(form)})
    try:
        membership = core_services.membership_set(
            user=membership.user, workspace=ws, role=form.cleaned_data["role"], actor=request.user
        )
    except core_services.TeamError as exc:
        return Status(409, {"detail": str(exc)})
    return Status(200, _member_out(membership))


@router.delete(
    "/members/{user_id}", response={204: None, **ERRORS, **errors(409)}, summary="Remove a member"
)
def remove_member(request: HttpRequest, user_id: int = id_param(), workspace: str | None = None):
    ws = request_workspace(request, workspace, need=Capability.MANAGE_WORKSPACE)
    membership = _member(ws, user_id)
    try:
        core_services.membership_remove(user=membership.user, workspace=ws, actor=request.user)
    except core_services.TeamError as exc:
        return Status(409, {"detail": str(exc)})
    return Status(204, None)


@router.get("/keys", response={200: list[KeyOut], **ERRORS}, summary="Write keys (server masked)")
def list_keys(request: HttpRequest, workspace: str | None = None):
    ws = request_workspace(request, workspace, need=Capability.MANAGE_WORKSPACE)
    return [_key_out(k) for k in core_selectors.write_keys(workspace=ws)]


@router.post(
    "/keys",
    response={201: KeyOut, **BODY_ERRORS},
    summary="Create a write key (the only answer with a server key in full)",
)
def create_key(request: HttpRequest, body: KeyIn, workspace: str | None = None):
    ws = request_workspace(request, workspace, need=Capability.MANAGE_WORKSPACE)
    form = WriteKeyForm(body.dict())
    if not form.is_valid():
        return Status(422, {"detail": first_error(form)})
    key = core_services.write_key_create(workspace=ws, actor=request.user, **form.cleaned_data)
    return Status(201, _key_out(key, reveal=True))


@router.delete("/keys/{key_id}", response={204: None, **ERRORS}, summary="Revoke a write key")
def revoke_key(request: HttpRequest, key_id: int = id_param(), workspace: str | None = None):
    ws = request_workspace(request, workspace, need=Capability.MANAGE_WORKSPACE)
    key = core_selectors.write_key_get(workspace=ws, key_id=key_id)
    if key is None:
        raise HttpError(404, f"no write key {key_id} in this workspace")
    core_services.write_key_revoke(write_key=key, actor=request.user)
    return Status(204, None)


@router.get("/audit", response={200: list[AuditOut], **ERRORS}, summary="Audit log, newest first")
def list_audit(
    request: HttpRequest,
    workspace: str | None = None,
    limit: int = limit_param(100),
    offset: int = offset_param(),
):
    ws = request_workspace(request, workspace, need=Capability.MANAGE_WORKSPACE)
    entries = core_selectors.audit_entries(workspace=ws)[offset : offset + limit]
    return [
        {"at": e.at, "actor": e.actor_label or "system", "action": e.action,
         "target": e.target, "detail": e.detail}
        for e in entries
    ]  # fmt: skip
