from django.http import Http404, HttpRequest

from cxloop.core import selectors as core_selectors
from cxloop.web.workspace import active_workspace, capabilities


def workspace(request: HttpRequest) -> dict:
    """Template context: the active workspace, the others the user can switch to, and ``can``:
    capability value → whether the user's role holds it (templates hide what it may not use)."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    try:
        current = active_workspace(request)
    except Http404:
        return {}
    return {
        "workspace": current,
        "workspaces": core_selectors.workspaces_for_user(user=request.user),
        "can": capabilities(request),
    }
