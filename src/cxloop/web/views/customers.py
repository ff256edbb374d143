"""Server-rendered pages: customer search, the customer 360 view, tracking sources."""

from __future__ import annotations

from urllib.parse import urlencode

import orjson
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from cxloop.analytics import selectors as analytics_selectors
from cxloop.core import selectors as core_selectors
from cxloop.core.forms import WriteKeyForm
from cxloop.core.models import WriteKeyKind
from cxloop.core.permissions import Capability
from cxloop.customers import selectors as customer_selectors
from cxloop.events import selectors as event_selectors
from cxloop.events.channels import CHANNELS
from cxloop.feedback import selectors as feedback_selectors
from cxloop.journeys import selectors as journey_selectors
from cxloop.predict import selectors as predict_selectors
from cxloop.segments import selectors as segment_selectors
from cxloop.web import readable
from cxloop.web.forms.common import bad_params, error_list, page_number
from cxloop.web.forms.customers import (
    DEFAULT_CUSTOMER_SORT,
    CustomerSearchForm,
    TimelineForm,
    WorkspaceSwitchForm,
)
from cxloop.web.views.team import NEW_KEY_SESSION
from cxloop.web.workspace import SESSION_KEY, active_workspace, can, capability_required
from cxloop.workflows import selectors as workflow_selectors

CUSTOMERS_PER_PAGE = 25
EVENTS_PER_PAGE = 50


@capability_required(Capability.READ_ANALYTICS)
def home(request: HttpRequest) -> HttpResponse:
    """Customers for roles that may see them, else the dashboard (a viewer's home)."""
    return redirect("customer-list" if can(request, Capability.READ_CUSTOMERS) else "dashboard")


@capability_required(Capability.READ_ANALYTICS)
@require_POST
def switch_workspace(request: HttpRequest) -> HttpResponse:
    form = WorkspaceSwitchForm(request.POST)
    allowed = core_selectors.workspaces_for_user(user=request.user)
    if form.is_valid() and allowed.filter(pk=form.cleaned_data["workspace"]).exists():
        request.session[SESSION_KEY] = form.cleaned_data["workspace"]
    return redirect("home")


@capability_required(Capability.READ_CUSTOMERS)
def customer_list(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    form = CustomerSearchForm(request.GET)
    if not form.is_valid():
        if request.headers.get("HX-Request"):
            return bad_params(request, form)
        return _search_refused(request, workspace, form)
    data = form.cleaned_data
    query, stage_id, sort, anon = data["q"], data["stage"], data["sort"], data["anon"]
    stage = ids = None
    if stage_id:
        try:
            stage, ids = journey_selectors.stage_member_ids(workspace=workspace, stage_id=stage_id)
        except journey_selectors.StageChoiceError as exc:
            raise Http404(f"stage: {exc}") from exc
    customers = customer_selectors.customer_search(
        workspace=workspace, query=query, ids=ids, known_only=not anon
    )
    ordered = _sorted(_with_scores(customers, workspace), sort)
    page = Paginator(ordered, CUSTOMERS_PER_PAGE).get_page(page_number(form))
    _add_columns(workspace, page.object_list, query)
    chosen = {"q": query, "stage": str(stage.pk) if stage else "", "anon": "1" if anon else ""}
    context = {
        "page": page,
        "query": query,
        "total": page.paginator.count,
        "stage": stage,
        "stage_param": chosen["stage"],
        "anon": anon,
        "sort": sort,
        "default_sort": DEFAULT_CUSTOMER_SORT,
        "columns": _columns(chosen, sort),
        "params": urlencode(
            {k: v for k, v in {**chosen, "sort": sort}.items() if v and v != DEFAULT_CUSTOMER_SORT}
        ),
        "anonymous_hidden": 0 if anon else _anonymous_matches(workspace, query, ids, page),
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "results":
        response = render(request, "web/_customer_rows.html", {**context, "partial": True})
    else:
        context.update(_page_context(workspace))
        response = render(request, "web/customer_list.html", context)
    # the same URL serves a page or a fragment: caches (and the Back button) must tell them apart
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _anonymous_matches(workspace, query: str, ids, page) -> int:
    """How many anonymous visitors the same search (and stage) would add."""
    everyone = customer_selectors.customer_search(workspace=workspace, query=query, ids=ids)
    return everyone.count() - page.paginator.count


def _page_context(workspace) -> dict:
    return {
        "customer_total": customer_selectors.customer_count(workspace=workspace),
        "stage_choices": journey_selectors.stage_choices(workspace=workspace),
        "examples": customer_selectors.customer_search_examples(workspace=workspace),
    }


def _with_scores(customers, workspace):
    """Each profile with its latest NPS, CSAT, CLV and churn risk (subqueries the feedback and
    predict apps give: one query for the page, and sortable)."""
    return customers.annotate(
        score_nps=feedback_selectors.response_latest_score(workspace=workspace, metric="nps"),
        score_csat=feedback_selectors.response_latest_score(workspace=workspace, metric="csat"),
        score_clv=predict_selectors.score_latest_value(workspace=workspace, field="clv"),
        score_churn_risk=predict_selectors.score_latest_value(
            workspace=workspace, field="churn_risk"
        ),
    )


_SORT_FIELDS = {
    "name": "display_name",
    "last_seen": "last_seen_at",
    "nps": "score_nps",
    "csat": "score_csat",
    "clv": "score_clv",
    "churn": "score_churn_risk",
}


def _sorted(customers, sort: str):
    """Ordered by one column, blanks last either way, ties by id: the same order on every load."""
    descending = sort.startswith("-")
    field = F(_SORT_FIELDS[sort.lstrip("-")])
    first = field.desc(nulls_last=True) if descending else field.asc(nulls_last=True)
    return customers.order_by(first, "-pk" if descending else "pk")


# (key, heading, abbreviation title, first click sorts descending)
_COLUMNS = (
    ("name", "Customer", "", False),
    ("nps", "NPS", "Latest Net Promoter score the customer gave (0–10)", True),
    ("csat", "CSAT", "Latest customer satisfaction score the customer gave", True),
    ("last_seen", "Last seen", "", True),
    ("clv", "Value", "Customer lifetime value: expected discounted spend over the next year", True),
    ("churn", "Churn risk", "", True),
)


def _columns(chosen: dict[str, str], sort: str) -> dict[str, dict]:
    """Each sortable column's header: its link (the other direction when it is the sort, else
    its natural first direction) and its ``aria-sort``."""
    current, descending = sort.lstrip("-"), sort.startswith("-")
    base = {k: v for k, v in chosen.items() if v}
    columns = {}
    for key, label, title, first_descending in _COLUMNS:
        active = key == current
        next_descending = not descending if active else first_descending
        columns[key] = {
            "label": label,
            "title": title,
            "aria": ("descending" if descending else "ascending") if active else "",
            "href": "?" + urlencode({**base, "sort": f"{'-' if next_descending else ''}{key}"}),
            "next": "highest first" if next_descending else "lowest first",
        }
    return columns


def _add_columns(workspace, customers, query: str) -> None:
    """The page's other apps' columns, one batch each: journey stages, segments, and why each
    row matched the search."""
    rows = list(customers)
    ids = [c.pk for c in rows]
    stages = journey_selectors.customers_stages(customer_ids=ids)
    segments = segment_selectors.segment_memberships(workspace=workspace, customer_ids=ids)
    reasons = customer_selectors.customer_match_reasons(
        workspace=workspace, customers=rows, query=query
    )
    for customer in rows:
        customer.stages = stages.get(customer.pk, [])
        customer.segments = segments.get(customer.pk, [])
        customer.reasons = reasons.get(customer.pk, [])


def _search_refused(request: HttpRequest, workspace, form: CustomerSearchForm) -> HttpResponse:
    """The search page with no results and the bad parameters named under the search box."""
    empty = customer_selectors.customer_search(workspace=workspace, query="").none()
    context = {
        "page": Paginator(empty, CUSTOMERS_PER_PAGE).get_page(1),
        "query": form.data.get("q", "")[:200],
        "total": 0,
        "stage": None,
        "stage_param": "",
        "errors": error_list(form),
        "invalid": set(form.errors),
        **_page_context(workspace),
    }
    return render(request, "web/customer_list.html", context, status=400)


@capability_required(Capability.READ_CUSTOMERS)
def customer_detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    workspace = active_workspace(request)
    customer = customer_selectors.customer_get(workspace=workspace, customer_id=customer_id)
    if customer is None:
        raise Http404("No such customer in this workspace.")
    if customer.merged_into_id:
        return redirect("customer-detail", customer_id=customer.merged_into_id)
    timeline = TimelineForm(request.GET)
    if not timeline.is_valid():
        return bad_params(request, timeline)
    facets = event_selectors.customer_timeline_facets(customer_id=customer.pk)
    context = {
        "customer": customer,
        "traits": sorted(customer.traits.items()),
        "identities": customer_selectors.customer_identities(customer=customer),
        "consents": _consent_rows(customer),
        "merges": customer_selectors.customer_merges(customer=customer),
        "responses": _response_rows(customer),
        "journey_stages": journey_selectors.customer_journey_stages(customer_id=customer.pk),
        "prediction": predict_selectors.customer_score_latest(
            workspace=workspace, customer_id=customer.pk
        ),
        "loops": list(workflow_selectors.customer_runs(customer=customer)[:20]),
        "can_manage": can(request, Capability.MANAGE_CUSTOMERS),
        "facets": facets,
        "event_total": sum(n for _, n in facets["type"]),
        **_timeline_context(timeline, customer),
    }
    return render(request, "web/customer_detail.html", context)


@capability_required(Capability.READ_CUSTOMERS)
def customer_timeline(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The timeline part of the 360 page, re-rendered by htmx when filters change."""
    workspace = active_workspace(request)
    customer = customer_selectors.customer_get(workspace=workspace, customer_id=customer_id)
    if customer is None or customer.merged_into_id:
        raise Http404("No such customer in this workspace.")
    timeline = TimelineForm(request.GET)
    if not timeline.is_valid():
        return bad_params(request, timeline)
    response = render(request, "web/_timeline.html", _timeline_context(timeline, customer))
    # keep the chosen filters in the address bar, so a reload or a shared link shows the same
    chosen = {k: v for k, v in timeline.cleaned_data.items() if v}
    detail = reverse("customer-detail", args=[customer.pk])
    response["HX-Replace-Url"] = f"{detail}?{urlencode(chosen)}" if chosen else detail
    return response


def _timeline_context(form: TimelineForm, customer) -> dict:
    """One page of the timeline: events, with the survey answers given in the same stretch of
    time merged in (newest first), each with its properties as one readable line."""
    data = form.cleaned_data
    filters = {"channel": data["channel"], "event_type": data["type"], "name": data["name"]}
    events = event_selectors.customer_timeline(customer_id=customer.pk, **filters)
    page = Paginator(events, EVENTS_PER_PAGE).get_page(page_number(form))
    entries = [_event_entry(event) for event in page]
    if not filters["event_type"] and not filters["name"]:  # answers are no event type or name
        entries = _with_answers(entries, page, events, customer, filters["channel"])
    return {"events": page, "entries": entries, "filters": filters, "customer_id": customer.pk}


def _event_entry(event) -> dict:
    if event.name:
        title = event.name
    elif event.type == "identify":
        title = "Profile updated"
    else:
        title = event.get_type_display()
    return {
        "kind": "event",
        "at": event.occurred_at,
        "channel": event.channel,
        "type": event.type,
        "title": title,
        "line": readable.properties_line(event.properties),
        "details": _details(event.properties) if readable.has_nested(event.properties) else [],
    }


def _with_answers(entries: list[dict], page, events, customer, channel: str) -> list[dict]:
    """``entries`` with the customer's survey answers from the page's stretch of time: after
    its oldest event (the first page: up to now; the last: from the start) and up to the
    oldest event of the page before."""
    after = entries[-1]["at"] if page.has_next() and entries else None
    until = None
    if page.number > 1:
        until = events[page.start_index() - 2].occurred_at  # the previous page's last event
    answers = feedback_selectors.customer_responses_between(
        customer=customer, after=after, until=until
    )
    added = [_answer_entry(r) for r in answers if not channel or r.channel == channel]
    if not added:
        return entries
    return sorted(entries + added, key=lambda entry: entry["at"], reverse=True)


def _answer_entry(response) -> dict:
    parts = []
    for metric in ("nps", "csat", "ces"):
        score = getattr(response, f"{metric}_score")
        if score is not None:
            parts.append(f"{metric.upper()} {score}")
    if response.comment:
        comment = " ".join(response.comment.split())
        parts.append(f"“{comment[:117] + '…' if len(comment) > 120 else comment}”")
    if not response.completed:
        parts.append("partial")
    return {
        "kind": "answer",
        "at": response.answered_at,
        "channel": response.channel or "other",
        "type": "survey",
        "title": f"Answered {response.survey.name}",
        "line": " · ".join(parts),
        "details": [],
    }


def _details(properties: dict) -> list[tuple[str, str]]:
    shown = []
    for key, value in properties.items():
        if key == "channel":
            continue
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        shown.append((key, text if len(text) <= 200 else text[:197] + "…"))
    return shown[:8]


FEEDBACK_SHOWN = 5


def _response_rows(customer) -> list[dict]:
    """The customer's latest survey answers (and reviews) with their headline score and tone."""
    rows = []
    for response in feedback_selectors.customer_responses(customer=customer)[:FEEDBACK_SHOWN]:
        for metric, good, bad in (("nps", 9, 6), ("csat", 4, 2), ("ces", 6, 3)):
            score = getattr(response, f"{metric}_score")
            if score is not None:
                tone = "granted" if score >= good else "withdrawn" if score <= bad else "unknown"
                rows.append({"r": response, "metric": metric.upper(), "score": score, "tone": tone})
                break
        else:
            rows.append({"r": response, "metric": "", "score": None, "tone": "unknown"})
    return rows


def _consent_rows(customer) -> list[dict]:
    """One row per known channel (and any other channel with a record), with its consent."""
    by_channel = {c.channel: c for c in customer_selectors.customer_consents(customer=customer)}
    channels = list(CHANNELS) + sorted(set(by_channel) - set(CHANNELS))
    return [{"channel": channel, "consent": by_channel.get(channel)} for channel in channels]


@capability_required(Capability.MANAGE_WORKSPACE)
def sources(request: HttpRequest) -> HttpResponse:
    """Write keys and how to point a Segment/RudderStack client at this server (admins only)."""
    workspace = active_workspace(request)
    keys = core_selectors.write_keys(workspace=workspace)
    new_key_id = request.session.pop(NEW_KEY_SESSION, None)  # shown in full once, after creation
    browser_key = keys.filter(kind=WriteKeyKind.BROWSER, revoked_at__isnull=True).first()
    context = {
        "write_keys": keys,
        "new_key": keys.filter(pk=new_key_id).first() if new_key_id else None,
        "snippet_key": browser_key.key if browser_key else "YOUR_SERVER_KEY",
        "key_form": WriteKeyForm(),
        "host": request.build_absolute_uri("/").rstrip("/"),
        "event_count": event_selectors.event_count(workspace=workspace),
        "by_channel": event_selectors.events_by_channel(workspace=workspace),
        "engine": analytics_selectors.engine_status(),
    }
    return render(request, "web/sources.html", context)
