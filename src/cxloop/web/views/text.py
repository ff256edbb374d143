"""The Text page (search across customer text, sentiment per day, top negative drivers this
period against the previous one), one text's analysis (sentences with the words that drove
them; the original only for roles with ``read_pii``), key drivers and top roadblocks. Themes:
``text_themes``; the Teach page: ``text_teach``."""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cxloop.core.permissions import Capability
from cxloop.customers import selectors as customer_selectors
from cxloop.journeys import selectors as journey_selectors
from cxloop.segments import selectors as segment_selectors
from cxloop.segments import services as segment_services
from cxloop.text import selectors as text_selectors
from cxloop.text import services as text_services
from cxloop.text.filters import FilterInvalid, filters_complete
from cxloop.text.selectors import EMOTIONS, NPS_GROUPS
from cxloop.web.charts.embed import figure_json
from cxloop.web.charts.text import (
    priority_figure,
    sentiment_figure,
)
from cxloop.web.forms import error_lines
from cxloop.web.forms.common import MAX_ID, bad_params
from cxloop.web.forms.text import (
    FIELDS,
    KeyDriversForm,
    RoadblockSegmentForm,
    SentimentLabelForm,
    TextSearchForm,
    read_leniently,
)
from cxloop.web.workspace import active_workspace, can, capability_required

PER_PAGE = 25


def _period(workspace, form: TextSearchForm, *, days: int = text_selectors.DEFAULT_DAYS):
    """The form's filters with both dates (``filters_complete``) and those dates; None, with
    the problems added to the form, when they do not fit the workspace."""
    try:
        return filters_complete(workspace=workspace, filters=form.filters, days=days)
    except FilterInvalid as invalid:
        for field, message in invalid.errors:
            form.add_error(field, message)
        return None


@capability_required(Capability.READ_FEEDBACK)
def text_search(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    form, period, errors = read_leniently(
        TextSearchForm, request.GET, lambda f: _period(workspace, f)
    )
    if period is None:
        return bad_params(request, form)
    filters, start, end = period
    semantic = form.cleaned_data.get("mode") == "semantic"
    found = None
    if semantic and filters.query.strip():
        found = text_selectors.texts_semantic(workspace=workspace, filters=filters)
        ids = [pk for pk, _ in found.hits]
        texts = text_selectors.workspace_texts(workspace=workspace).filter(pk__in=ids)
        page: Page = Paginator(found.hits, PER_PAGE).get_page(form.cleaned_data.get("page") or 1)
        shown_texts = text_selectors.texts_by_ids(
            workspace=workspace, ids=[pk for pk, _ in page.object_list]
        )
        similarity = dict(found.hits)
    else:
        texts = text_selectors.texts_search(workspace=workspace, filters=filters)
        page = Paginator(texts, PER_PAGE).get_page(form.cleaned_data.get("page") or 1)
        shown_texts, similarity = list(page.object_list), {}
    names = {}
    if can(request, Capability.READ_CUSTOMERS):
        customer_ids = {t.customer_id for t in shown_texts if t.customer_id}
        names = {
            c.pk: str(c)
            for c in customer_selectors.customers_by_ids(workspace=workspace, ids=customer_ids)
        }
    days = text_selectors.sentiment_by_day(texts=texts)
    # semantic words rank texts rather than select them: drivers count the other filters' texts
    drivers, previous = text_selectors.negative_drivers(
        workspace=workspace, filters=replace(filters, query="") if semantic else filters
    )
    shown = {name: form.cleaned_data.get(name) or "" for name in (*FIELDS, "mode")}
    shown.update(date_from=start.isoformat(), date_to=end.isoformat())
    context = {
        "errors": errors,
        "filters": filters,
        "shown": shown,
        "page": page,
        "total": page.paginator.count,
        "counts": text_selectors.sentiment_counts(texts=texts),
        "figure_json": figure_json(sentiment_figure(days)) if days else None,
        "drivers": drivers,
        "previous": previous,
        "rows": [(t, names.get(t.customer_id or 0), similarity.get(t.pk)) for t in shown_texts],
        "semantic": semantic,
        "found": found,
        "limit": text_selectors.SEMANTIC_LIMIT,
        "any_texts": page.paginator.count > 0
        or text_selectors.workspace_texts(workspace=workspace).exists(),
        "engine": text_selectors.embedding_engine() if semantic else "",
        "labels": text_selectors.Label.values,
        "nps_groups": list(NPS_GROUPS),
        "emotions": EMOTIONS,
        "themes": text_selectors.theme_choices(workspace=workspace, chosen=filters.theme),
        "query_string": urlencode({k: v for k, v in shown.items() if v}),
        # a driver word's link: its negative texts under the other filters
        "drivers_query": urlencode(
            {k: v for k, v in shown.items() if v and k not in ("q", "label", "mode")}
        ),
    }
    return render(request, "text/search.html", context, status=422 if errors else 200)


@capability_required(Capability.READ_FEEDBACK, write=Capability.EDIT_SEGMENTS)
def text_detail(request: HttpRequest, analysis_id: int) -> HttpResponse:
    """One text's analysis; editors correct its sentiment (POST ``label``)."""
    workspace = active_workspace(request)
    analysis = (
        text_selectors.analysis_get(workspace=workspace, analysis_id=analysis_id)
        if analysis_id <= MAX_ID
        else None
    )
    if analysis is None:
        raise Http404("No such text.")
    errors: list[str] = []
    if request.method == "POST":
        form = SentimentLabelForm(request.POST)
        if form.is_valid():
            label = form.cleaned_data["label"]
            if label != "clear":
                text_services.sentiment_label_set(analysis=analysis, label=label, by=request.user)
                messages.success(request, f"Labelled {label}; cxloop learns from it.")
            elif text_selectors.sentiment_label_of(analysis=analysis) is None:
                messages.info(request, "This text had no label: the model scores it.")
            else:
                text_services.sentiment_label_clear(analysis=analysis)
                messages.success(request, "Label removed: the model scores this text again.")
            if form.cleaned_data["next"] == "teach":
                return redirect(reverse("text-teach") + "#suggested")
            return redirect("text-detail", analysis_id=analysis.pk)
        errors = error_lines(form)
    original = None
    if can(request, Capability.READ_PII) and analysis.pii and analysis.response_id:
        original = analysis.response.comment if analysis.response else None
    customer = None
    if analysis.customer_id and can(request, Capability.READ_CUSTOMERS):
        customer = customer_selectors.customers_by_ids(
            workspace=workspace, ids=[analysis.customer_id]
        ).first()
    context = {
        "analysis": analysis,
        "sentences": [
            {**s, "parts": highlight(s.get("text", ""), s.get("drivers", []))}
            for s in analysis.sentences
        ],
        "drivers": driver_rows(analysis.drivers),
        "original": original,
        "customer": customer,
        "sentiment_model": text_selectors.sentiment_model(version=analysis.version),
        "person_label": text_selectors.sentiment_label_of(analysis=analysis),
        "errors": errors,
    }
    return render(request, "text/detail.html", context, status=422 if errors else 200)


@capability_required(Capability.READ_FEEDBACK)
def text_roadblocks(request: HttpRequest) -> HttpResponse:
    """Top roadblocks: the themes behind the most negative texts, this period against the one
    before, rising ones flagged, with examples and the customers affected."""
    workspace = active_workspace(request)
    form, found, errors = read_leniently(
        TextSearchForm, request.GET, lambda f: _period(workspace, f)
    )
    if found is None:
        return bad_params(request, form)
    filters, start, end = found
    rows, previous = text_selectors.roadblocks(workspace=workspace, filters=filters)
    period = {"date_from": start.isoformat(), "date_to": end.isoformat()}
    if filters.channel:
        period["channel"] = filters.channel
    context = {
        "errors": errors,
        "rows": rows,
        "previous": previous,
        "filters": filters,
        "shown": {"channel": filters.channel, **period},
        "negative_query": urlencode({**period, "label": "negative"}),
    }
    return render(request, "text/roadblocks.html", context, status=422 if errors else 200)


@capability_required(Capability.EDIT_SEGMENTS)
@require_POST
def text_roadblock_segment(request: HttpRequest) -> HttpResponse:
    """Save the customers behind one roadblock (a negative text on its theme in the period and
    channel shown) as a live segment, and open it."""
    workspace = active_workspace(request)
    form = RoadblockSegmentForm(request.POST)
    if not form.is_valid():
        return bad_params(request, form)
    data = form.cleaned_data
    theme = text_selectors.theme_get(workspace=workspace, theme_id=data["theme"])
    if theme is None:
        raise Http404("No such theme.")
    start, end, channel = data["date_from"], data["date_to"], data.get("channel") or ""
    condition = {
        "theme": theme.pk,
        "sentiment": "negative",
        "date_from": start.isoformat(),
        "date_to": end.isoformat(),
    }
    if channel:
        condition["channel"] = channel
    span = f"{start:%-d %b %Y}–{end:%-d %b %Y}"
    period = f"from {start:%-d %b %Y} to {end:%-d %b %Y}"
    # the theme is shortened so that the name, with a " #12" to tell it from an
    # earlier one, fits a segment's name
    tail = f", {span}" + (f" ({channel})" if channel else "")
    room = segment_services.MAX_NAME - len("Roadblock: ") - len(tail) - len(" #999")
    name = f"Roadblock: {_clip(theme.name, room)}{tail}"
    taken = {s.name.lower() for s in segment_selectors.segment_list(workspace=workspace)}
    unique, number = name, 1
    while unique.lower() in taken:
        number += 1
        unique = f"{name} #{number}"
    try:
        segment = segment_services.segment_create(
            workspace=workspace,
            name=unique,
            description=(
                f"Customers who wrote a negative text on the theme “{theme.name}” {period}"
                + (f" on channel {channel}" if channel else "")
                + " (saved from Top roadblocks; the list stays live)."
            )[:500],
            definition={"all": [condition]},
            created_by=request.user,
        )
    except segment_services.SegmentDefinitionError as refused:
        return render(request, "web/bad_params.html", {"errors": [str(refused)]}, status=400)
    messages.success(request, f"Saved the segment “{segment.name}”.")
    return redirect("segment-detail", segment_id=segment.pk)


def _clip(words: str, most: int) -> str:
    return words if len(words) <= most else words[: max(most - 1, 1)].rstrip() + "…"


KEY_DRIVER_DAYS = 90


@capability_required(Capability.READ_FEEDBACK)
def text_key_drivers(request: HttpRequest) -> HttpResponse:
    """Which themes move NPS, CSAT or CES most: a priority matrix and the numbers behind it."""
    workspace = active_workspace(request)
    form, period, typed = read_leniently(
        KeyDriversForm, request.GET, lambda f: _period(workspace, f, days=KEY_DRIVER_DAYS)
    )
    if period is None:
        return bad_params(request, form)
    metric = form.cleaned_data.get("metric") or "nps"
    filters, start, end = period
    journey, errors = _journey_filter(
        workspace, form.cleaned_data.get("touchpoint"), form.cleaned_data.get("stage")
    )
    found = text_selectors.key_drivers(
        workspace=workspace,
        metric=metric,
        filters=filters,
        response_ids=journey.get("response_ids"),
        customer_ids=journey.get("customer_ids"),
    )
    shown = {name: form.cleaned_data.get(name) or "" for name in (*FIELDS, "mode")}
    shown.update(date_from=start.isoformat(), date_to=end.isoformat())
    errors = typed + errors
    context = {
        "errors": errors,
        "touchpoint": journey.get("touchpoint"),
        "stage": journey.get("stage"),
        "touchpoints": journey_selectors.touchpoint_choices(workspace=workspace),
        "stages": journey_selectors.stage_choices(workspace=workspace),
        "found": found,
        "filters": filters,
        "metric": metric,
        "shown": shown,
        "metrics": [("nps", "NPS"), ("csat", "CSAT"), ("ces", "CES")],
        "span": text_selectors.period_all(workspace=workspace) if found.too_few else None,
        "figure_json": figure_json(priority_figure(found)) if found.drivers else None,
        "query_string": urlencode(
            {k: v for k, v in shown.items() if v and k in ("channel", "date_from", "date_to")}
        ),
    }
    return render(request, "text/key_drivers.html", context, status=422 if errors else 200)


def _journey_filter(
    workspace, touchpoint_id: int | None, stage_id: int | None
) -> tuple[dict, list[str]]:
    """The chosen touchpoint's responses and the chosen stage's customers (journeys' selectors
    answer both), and what was wrong with the choice."""
    chosen: dict = {}
    errors = []
    if touchpoint_id:
        try:
            point, ids = journey_selectors.touchpoint_response_ids(
                workspace=workspace, touchpoint_id=touchpoint_id
            )
        except journey_selectors.TouchpointChoiceError as exc:
            errors.append(f"touchpoint: {exc}")
        else:
            chosen.update(touchpoint=point, response_ids=ids)
    if stage_id:
        try:
            stage, members = journey_selectors.stage_member_ids(
                workspace=workspace, stage_id=stage_id
            )
        except journey_selectors.StageChoiceError as exc:
            errors.append(f"stage: {exc}")
        else:
            chosen.update(stage=stage, customer_ids=members)
    return chosen, errors


def driver_rows(drivers: list) -> list[tuple[str, float, int]]:
    """The text's driver words once each, as ``(word, valence, times)`` in order of first
    use: a word used in two sentences with the same valence is one row, counted twice (a
    negated use has another valence, so a row of its own)."""
    rows: dict[tuple[str, float], list] = {}
    for d in drivers:
        if not isinstance(d, dict) or not d.get("word"):
            continue
        word, valence = str(d["word"]), round(float(d.get("valence") or 0), 2)
        row = rows.setdefault((word.lower(), valence), [word, valence, 0])
        row[2] += 1
    return [(word, valence, times) for word, valence, times in rows.values()]


def highlight(text: str, drivers: list[dict]) -> list[tuple[str, str]]:
    """``text`` cut into ``(piece, tone)``: tone ``neg``/``pos`` for a driver word, else ``""``."""
    tones = {
        str(d.get("word", "")).lower(): "neg" if d.get("valence", 0) < 0 else "pos"
        for d in drivers
        if isinstance(d, dict) and d.get("word")
    }
    if not tones:
        return [(text, "")]
    pattern = re.compile(
        r"(?<![\w'])("
        + "|".join(re.escape(w) for w in sorted(tones, key=len, reverse=True))
        + r")(?![\w'])",
        re.IGNORECASE,
    )
    parts: list[tuple[str, str]] = []
    position = 0
    for match in pattern.finditer(text):
        if match.start() > position:
            parts.append((text[position : match.start()], ""))
        parts.append((match.group(), tones[match.group().lower()]))
        position = match.end()
    if position < len(text):
        parts.append((text[position:], ""))
    return parts
