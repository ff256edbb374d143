"""Which workspace a signed-in person is looking at."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from cxloop.core import selectors as core_selectors
from cxloop.core.models import Workspace

SESSION_KEY = "cxloop_workspace"


def active_workspace(request: HttpRequest) -> Workspace:
    """The workspace chosen in this session, else the user's first; 404 when they have none."""
    cached = getattr(request, "_cxloop_workspace", None)
    if cached is not None:
        return cached
    allowed = core_selectors.workspaces_for_user(user=request.user)
    workspace = allowed.filter(pk=request.session.get(SESSION_KEY)).first() or allowed.first()
    if workspace is None:
        raise Http404("You are not a member of any workspace yet; ask an admin to add you.")
    request._cxloop_workspace = workspace
    return workspace


def role(request: HttpRequest) -> str | None:
    return core_selectors.membership_role(user=request.user, workspace=active_workspace(request))
