"""The personas page: customers clustered into k groups, each described against the average."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cxloop.core.permissions import Capability
from cxloop.customers import selectors as customer_selectors
from cxloop.segments import selectors as segment_selectors
from cxloop.segments.personas import MAX_K, MIN_K, PersonaError
from cxloop.web.charts.embed import figure_json
from cxloop.web.charts.personas import personas_figure
from cxloop.web.forms import error_lines
from cxloop.web.forms.segments import DEFAULT_K, PersonasForm
from cxloop.web.workspace import active_workspace, capability_required


@capability_required(Capability.READ_ANALYTICS)
def personas(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    form = PersonasForm(request.GET)
    k = (form.cleaned_data.get("k") if form.is_valid() else None) or DEFAULT_K
    context = {
        "k": k,
        "k_choices": range(MIN_K, MAX_K + 1),
        "tab": "personas",
        "errors": error_lines(form, {"k": "personas"}),
    }
    try:
        result = segment_selectors.personas_compute(workspace=workspace, k=k)
    except PersonaError as exc:
        context["problem"] = str(exc)
        return render(request, "segments/personas.html", context)
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
    return render(request, "segments/personas.html", context)
