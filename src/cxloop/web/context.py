from django.http import Http404, HttpRequest

from cxloop.core import selectors as core_selectors
from cxloop.web.workspace import active_workspace


def workspace(request: HttpRequest) -> dict:
    """Template context: the active workspace and the others the user can switch to."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    try:
        current = active_workspace(request)
    except Http404:
        return {}
    return {
        "workspace": current,
        "workspaces": core_selectors.workspaces_for_user(user=request.user),
    }
