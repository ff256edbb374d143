"""Admin pages: the team (members and roles), write keys and the audit log."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from cxloop.core import selectors as core_selectors
from cxloop.core import services as core_services
from cxloop.core.forms import MemberAddForm, RoleForm, WriteKeyForm, first_error
from cxloop.core.models import Role
from cxloop.core.permissions import ROLE_CAPABILITIES, Capability
from cxloop.web.forms.common import MAX_ID, PageForm, bad_params, page_number
from cxloop.web.workspace import active_workspace, capability_required

NEW_KEY_SESSION = "cxloop_new_key"
AUDIT_PER_PAGE = 50
CAPABILITY_LABELS = {
    Capability.READ_ANALYTICS: "Dashboards, journeys, funnels, segments (counts)",
    Capability.READ_CUSTOMERS: "Customer profiles and timelines",
    Capability.READ_FEEDBACK: "Comments and respondents",
    Capability.EDIT_SURVEYS: "Edit surveys and triggers",
    Capability.EDIT_JOURNEYS: "Edit journey maps",
    Capability.EDIT_SEGMENTS: "Edit segments",
    Capability.EXPORT: "Export personal data",
    Capability.IMPORT: "Import data",
    Capability.MANAGE_CUSTOMERS: "Merge and erase customers",
    Capability.MANAGE_WORKSPACE: "Team, write keys, audit log",
}


def _member(request: HttpRequest, user_id: int):
    if user_id > MAX_ID:  # a foreign key lookup past 64 bits fails in the database driver
        raise Http404("No such member in this workspace.")
    membership = core_selectors.member_get(workspace=active_workspace(request), user_id=user_id)
    if membership is None:
        raise Http404("No such member in this workspace.")
    return membership


def _team_page(request: HttpRequest, form: MemberAddForm, *, status: int = 200) -> HttpResponse:
    workspace = active_workspace(request)
    context = {
        "members": core_selectors.members(workspace=workspace),
        "roles": Role.choices,
        "form": form,
        "matrix": [
            (label, [cap in ROLE_CAPABILITIES[role] for role in Role.values])
            for cap, label in CAPABILITY_LABELS.items()
        ],
    }
    return render(request, "team/team.html", context, status=status)


@capability_required(Capability.MANAGE_WORKSPACE)
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    """Members with their roles; POST adds an existing or a new user with a role."""
    if request.method != "POST":
        return _team_page(request, MemberAddForm())
    form = MemberAddForm(request.POST)
    if form.is_valid():
        try:
            membership, created = core_services.member_add(
                workspace=active_workspace(request), actor=request.user, **form.cleaned_data
            )
        except core_services.TeamError as exc:
            form.add_error("password", str(exc))
        else:
            who = membership.user.get_username()
            verb = "created and added" if created else "added"
            messages.success(request, f"{who} {verb} as {membership.get_role_display()}.")
            return redirect("team")
    return _team_page(request, form, status=422)


@capability_required(Capability.MANAGE_WORKSPACE)
@require_POST
def member_role(request: HttpRequest, user_id: int) -> HttpResponse:
    membership = _member(request, user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect("team")
    try:
        core_services.membership_set(
            user=membership.user, workspace=membership.workspace,
            role=form.cleaned_data["role"], actor=request.user,
        )  # fmt: skip
    except core_services.TeamError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{membership.user.get_username()} is now {form.cleaned_data['role']}."
        )
    return redirect("team")


@capability_required(Capability.MANAGE_WORKSPACE)
@require_POST
def member_remove(request: HttpRequest, user_id: int) -> HttpResponse:
    membership = _member(request, user_id)
    try:
        core_services.membership_remove(
            user=membership.user, workspace=membership.workspace, actor=request.user
        )
    except core_services.TeamError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{membership.user.get_username()} no longer has access.")
    return redirect("team")


@capability_required(Capability.MANAGE_WORKSPACE)
@require_POST
def key_create(request: HttpRequest) -> HttpResponse:
    """Issue a key; the Sources page shows it in full once (a server key never again)."""
    form = WriteKeyForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Key not created: {first_error(form)}")
        return redirect("sources")
    key = core_services.write_key_create(
        workspace=active_workspace(request), actor=request.user, **form.cleaned_data
    )
    request.session[NEW_KEY_SESSION] = key.pk
    return redirect("sources")


@capability_required(Capability.MANAGE_WORKSPACE)
@require_POST
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = core_selectors.write_key_get(workspace=active_workspace(request), key_id=key_id)
    if key is None:
        raise Http404("No such write key in this workspace.")
    core_services.write_key_revoke(write_key=key, actor=request.user)
    messages.success(request, f"Key “{key.label}” revoked: events sent with it are refused.")
    return redirect("sources")


@capability_required(Capability.MANAGE_WORKSPACE)
def audit_log(request: HttpRequest) -> HttpResponse:
    params = PageForm(request.GET)
    if not params.is_valid():
        return bad_params(request, params)
    entries = core_selectors.audit_entries(workspace=active_workspace(request))
    page = Paginator(entries, AUDIT_PER_PAGE).get_page(page_number(params))
    return render(request, "team/audit.html", {"page": page})
