"""Which workspace an authenticated REST request works in."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.errors import HttpError

from cxloop.core import selectors as core_selectors
from cxloop.core.models import Workspace


def request_workspace(request: HttpRequest, slug: str | None) -> Workspace:
    """The workspace named by ``slug`` (or the user's first one) that the user may open; else 404."""
    allowed = core_selectors.workspaces_for_user(user=request.user)
    workspace = allowed.filter(slug=slug).first() if slug else allowed.first()
    if workspace is None:
        raise HttpError(404, f"no workspace {slug!r} for this user" if slug else "no workspace")
    return workspace
