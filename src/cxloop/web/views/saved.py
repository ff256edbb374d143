"""Saved analyses: the list (pinned first), saving a page's query string, pinning and deleting."""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from cxloop.core.permissions import Capability
from cxloop.journeys import selectors as journey_selectors
from cxloop.journeys import services as journey_services
from cxloop.web.forms import error_lines
from cxloop.web.workspace import active_workspace, capability_required

# the page each kind of analysis opens on (a kind whose page this install lacks is listed
# without a link)
PAGES = {"funnel": "journey-funnel", "path": "paths", "trend": "trends"}
KIND_LABELS = {"funnel": "Funnel", "path": "Paths", "trend": "Trend"}


class SaveForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    kind = forms.ChoiceField(choices=[(k, k) for k in PAGES])
    query = forms.CharField(max_length=journey_services.MAX_QUERY, required=False, strip=False)
    pinned = forms.BooleanField(required=False)

    labels = {"query": "the page's query"}


def page_url(kind: str, query: str) -> str | None:
    """Where a saved analysis opens: its page with its query string."""
    try:
        base = reverse(PAGES[kind])
    except (KeyError, NoReverseMatch):
        return None
    return f"{base}?{query}" if query else base


def saved_links(analyses: Iterable) -> list[dict]:
    return [
        {
            "pk": a.pk,
            "name": a.name,
            "kind": KIND_LABELS.get(a.kind, a.kind),
            "pinned": a.pinned,
            "url": page_url(a.kind, a.query),
            "created_by": a.created_by.get_username() if a.created_by else "",
            "created_at": a.created_at,
        }
        for a in analyses
    ]


@capability_required(Capability.READ_ANALYTICS, write=Capability.EDIT_JOURNEYS)
def saved_analyses(request: HttpRequest) -> HttpResponse:
    """GET: the saved analyses, pinned first; POST: save one (the form every analysis page
    embeds), then back to its page."""
    workspace = active_workspace(request)
    errors: list[str] = []
    if request.method == "POST":
        form = SaveForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                journey_services.saved_analysis_create(
                    workspace=workspace, name=data["name"], kind=data["kind"],
                    query=data["query"], pinned=data["pinned"], created_by=request.user,
                )  # fmt: skip
            except journey_services.SavedAnalysisError as exc:
                errors = [str(exc)]
            else:
                messages.success(request, f"Saved “{data['name'].strip()}”.")
                return redirect(page_url(data["kind"], data["query"]) or "saved-analyses")
        else:
            errors = error_lines(form, SaveForm.labels)
    context = {
        "analyses": saved_links(journey_selectors.saved_analysis_list(workspace=workspace)),
        "errors": [e[0].upper() + e[1:] for e in errors],
    }
    return render(request, "journeys/saved_analyses.html", context, status=422 if errors else 200)


def _analysis_or_404(request: HttpRequest, saved_id: int):
    analysis = journey_selectors.saved_analysis_get(
        workspace=active_workspace(request), analysis_id=saved_id
    )
    if analysis is None:
        raise Http404("No such saved analysis in this workspace.")
    return analysis


@capability_required(Capability.EDIT_JOURNEYS)
@require_POST
def saved_analysis_pin(request: HttpRequest, saved_id: int) -> HttpResponse:
    analysis = _analysis_or_404(request, saved_id)
    journey_services.saved_analysis_pin(analysis=analysis, pinned=not analysis.pinned)
    return redirect("saved-analyses")


@capability_required(Capability.EDIT_JOURNEYS)
@require_POST
def saved_analysis_delete(request: HttpRequest, saved_id: int) -> HttpResponse:
    analysis = _analysis_or_404(request, saved_id)
    journey_services.saved_analysis_delete(analysis=analysis)
    messages.success(request, f"Deleted “{analysis.name}”.")
    return redirect("saved-analyses")


def pinned_redirect(workspace, kind: str) -> HttpResponse | None:
    """Where a bare analysis page (no query string) opens: its first pinned saved analysis of
    ``kind``, or None to let the page choose its own default."""
    first = (
        journey_selectors.saved_analysis_list(workspace=workspace, kind=kind)
        .filter(pinned=True)
        .exclude(query="")
        .first()
    )
    url = page_url(kind, first.query) if first is not None else None
    return redirect(url) if url else None
