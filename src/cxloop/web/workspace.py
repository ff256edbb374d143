"""Which workspace a signed-in person is looking at."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from cxloop.core import selectors as core_selectors
from cxloop.core.models import Workspace
from cxloop.core.permissions import Capability, role_can

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


def capability_required(capability: Capability) -> Callable:
    """View decorator: signed in, a member of the active workspace, and holding ``capability``.

    Anonymous users go to the login page; members without the capability get 403.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            active_workspace(request)
            if not role_can(role(request), capability):
                raise PermissionDenied(f"Your role may not do this ({capability.value}).")
            return view(request, *args, **kwargs)

        guarded = login_required(wrapper)
        guarded.capability = capability  # type: ignore[attr-defined]
        return guarded

    return decorate
