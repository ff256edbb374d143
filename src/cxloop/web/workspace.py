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
    chosen = request.session.get(SESSION_KEY)
    workspace = (allowed.filter(pk=chosen).first() if isinstance(chosen, int) else None) or (
        allowed.first()
    )
    if workspace is None:
        raise Http404("You are not a member of any workspace yet; ask an admin to add you.")
    setattr(request, "_cxloop_workspace", workspace)  # noqa: B010 (a per-request cache)
    return workspace


def role(request: HttpRequest) -> str | None:
    workspace = active_workspace(request)
    cached = getattr(request, "_cxloop_role", None)
    if cached is not None and cached[0] == workspace.pk:
        return cached[1]
    current = core_selectors.membership_role(user=request.user, workspace=workspace)
    setattr(request, "_cxloop_role", (workspace.pk, current))  # noqa: B010 (not a declared attribute)
    return current


def can(request: HttpRequest, capability: Capability) -> bool:
    """Whether the signed-in user's role in the active workspace holds ``capability``."""
    return role_can(role(request), capability)


def capabilities(request: HttpRequest) -> dict[str, bool]:
    """Every capability's value → whether the user holds it here (the templates' ``can``)."""
    current = role(request)
    return {c.value: role_can(current, c) for c in Capability}


def capability_required(capability: Capability, *, write: Capability | None = None) -> Callable:
    """View decorator: signed in, a member of the active workspace, and holding ``capability``.

    With ``write``, a request that changes something (any method but GET/HEAD/OPTIONS) needs that
    capability instead (a page that shows an object to readers and saves it for editors).
    Anonymous users go to the login page; members without the capability get 403.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            active_workspace(request)
            needed = capability
            if write is not None and request.method not in ("GET", "HEAD", "OPTIONS"):
                needed = write
            if not role_can(role(request), needed):
                raise PermissionDenied(f"Your role may not do this ({needed.value}).")
            return view(request, *args, **kwargs)

        guarded = login_required(wrapper)
        guarded.capability = capability  # type: ignore[attr-defined]
        guarded.write_capability = write or capability  # type: ignore[attr-defined]
        return guarded

    return decorate
