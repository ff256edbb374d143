"""Which workspace an authenticated REST request works in."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.errors import HttpError

from cxloop.core import selectors as core_selectors
from cxloop.core.models import Workspace
from cxloop.core.permissions import Capability, role_can


def request_workspace(request: HttpRequest, slug: str | None, *, need: Capability) -> Workspace:
    """The workspace named by ``slug`` (or the user's first one) that the user may open; else 404.

    The user's role there must hold ``need`` (every operation names one); else 403.
    """
    allowed = core_selectors.workspaces_for_user(user=request.user)
    workspace = allowed.filter(slug=slug).first() if slug else allowed.first()
    if workspace is None:
        raise HttpError(404, f"no workspace {slug!r} for this user" if slug else "no workspace")
    role = core_selectors.membership_role(user=request.user, workspace=workspace)
    if not role_can(role, need):
        raise HttpError(403, f"your role may not do this ({need.value})")
    return workspace


def may(request: HttpRequest, workspace: Workspace, capability: Capability) -> bool:
    """Whether the user's role in ``workspace`` holds ``capability`` (a check, not a refusal)."""
    role = core_selectors.membership_role(user=request.user, workspace=workspace)
    return role_can(role, capability)
