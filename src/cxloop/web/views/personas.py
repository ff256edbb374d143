"""The personas page: customers clustered into k groups, each described against the average,
on their behaviour in a range of days (the trends' range: by default the last 90 up to the
workspace's as-of time)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cxloop.core.permissions import Capability
from cxloop.customers import selectors as customer_selectors
from cxloop.segments import selectors as segment_selectors
from cxloop.segments.personas import MAX_K, MIN_K, PersonaError
from cxloop.web.charts.embed import figure_json
from cxloop.web.charts.personas import personas_figure
from cxloop.web.forms import error_lines, raw
from cxloop.web.forms.segments import DEFAULT_K, PersonasForm
from cxloop.web.forms.trends import range_of
from cxloop.web.workspace import active_workspace, capability_required


@capability_required(Capability.READ_ANALYTICS)
def personas(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    form = PersonasForm(request.GET)
    form.is_valid()  # a bad field is named below; the others still count
    k = form.cleaned_data.get("k") or DEFAULT_K
    invalid, errors = set(form.errors), error_lines(form, PersonasForm.labels)
    span = range_of(workspace, form.cleaned_data, invalid, errors)
    context = {
        "k": k,
        "k_choices": range(MIN_K, MAX_K + 1),
        "tab": "personas",
        "errors": errors,
        "invalid": invalid,
        "span": span,
        "date_from": span.first if span else raw(form, "date_from"),
        "date_to": span.last if span else raw(form, "date_to"),
    }
    status = 422 if errors else 200
    if span is None:
        return render(request, "segments/personas.html", context, status=status)
    try:
        result = segment_selectors.personas_compute(workspace=workspace, k=k, span=span)
    except PersonaError as exc:
        context["problem"] = str(exc)
        return render(request, "segments/personas.html", context, status=status)
    samples = {
        c.pk: c
        for c in customer_selectors.customer_search(workspace=workspace).filter(
            pk__in=[i for p in result.personas for i in p.customer_ids[:5]]
        )
    }
    context.update(
        result=result,
        personas=[
            {
                "persona": persona,
                "number": number,
                "sample": [samples[i] for i in persona.customer_ids[:5] if i in samples],
                "percent": persona.share * 100,
                "journey_percent": persona.journey_share * 100,
            }
            for number, persona in enumerate(result.personas, start=1)
        ],
        chart_json=figure_json(personas_figure(result)),
    )
    return render(request, "segments/personas.html", context, status=status)
