"""The themes pages: the themes found in a workspace's texts, curated by its people (rename,
merge, split, keyword rules, hide, find again), and one theme's trend per week and channel."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from cxloop.core.permissions import Capability
from cxloop.segments import selectors as segment_selectors
from cxloop.text import selectors as text_selectors
from cxloop.text import services as text_services
from cxloop.web.charts.embed import figure_json
from cxloop.web.charts.text import theme_trend_figure, theme_weeks_figure
from cxloop.web.forms import error_lines
from cxloop.web.forms.common import bad_params
from cxloop.web.forms.text import ThemeActionForm, ThemeTrendForm, read_leniently
from cxloop.web.workspace import active_workspace, capability_required


@capability_required(Capability.READ_FEEDBACK, write=Capability.EDIT_SEGMENTS)
def text_themes(request: HttpRequest) -> HttpResponse:
    """Themes with counts, sentiment and examples; analysts discover and curate them."""
    workspace = active_workspace(request)
    errors: list[str] = []
    if request.method == "POST":
        form = ThemeActionForm(request.POST)
        if form.is_valid():
            try:
                done = _theme_action(workspace, form.cleaned_data, form.rule_list)
            except text_services.ThemeError as refused:
                errors.append(str(refused))
            else:
                messages.success(request, done)
                return redirect("text-themes")
        else:
            errors = error_lines(form)
    as_of = text_selectors.period_default(workspace=workspace, days=1)[1]
    weeks, series = text_selectors.theme_weeks(workspace=workspace, end=as_of)
    last_days = min(7, (as_of - weeks[-1]).days + 1) if weeks else 7
    context = {
        "rows": text_selectors.themes_list(workspace=workspace),
        "last_change": text_selectors.theme_last_change(workspace=workspace),
        "weeks_json": (
            figure_json(theme_weeks_figure(weeks, series, last_days=last_days)) if series else None
        ),
        "last_days": last_days,
        "weeks": weeks,
        "errors": errors,
        "texts": text_selectors.workspace_texts(workspace=workspace).count(),
        "span": text_selectors.period_all(workspace=workspace),
        "embedded": text_selectors.embedding_model_installed(),
        "engine": text_selectors.embedding_engine(),
    }
    return render(request, "text/themes.html", context, status=422 if errors else 200)


@capability_required(Capability.READ_FEEDBACK)
def text_theme_trends(request: HttpRequest) -> HttpResponse:
    """One theme per week, per channel, optionally for a saved segment's customers: counts and
    shares with Wilson intervals (the same selector as ``/api/text/theme-trends``)."""
    workspace = active_workspace(request)
    form, _, errors = read_leniently(ThemeTrendForm, request.GET)
    if form.errors:
        return bad_params(request, form)
    theme_id, segment_id = form.cleaned_data.get("theme"), form.cleaned_data.get("segment")
    weeks = form.cleaned_data.get("weeks") or 26
    theme = (
        text_selectors.theme_get(workspace=workspace, theme_id=theme_id)
        if theme_id
        else text_selectors.theme_busiest(workspace=workspace)
    )
    if theme_id and theme is None:
        errors.append(f"theme: no theme {theme_id} in this workspace")
    members = None
    if segment_id:
        try:
            members = segment_selectors.segment_member_ids(
                workspace=workspace, segment_id=segment_id
            )
        except segment_selectors.SegmentChoiceError as exc:
            errors.append(f"segment: {exc}")
    trend = None
    if theme is not None and not errors:
        trend = text_selectors.theme_trend(
            workspace=workspace, theme=theme, weeks=weeks, customer_ids=members
        )
    context = {
        "trend": trend,
        "theme": theme,
        "errors": errors,
        "weeks": weeks,
        "segment_id": segment_id,
        "themes": text_selectors.theme_choices(workspace=workspace),
        "segments": list(segment_selectors.segment_list(workspace=workspace)),
        "figure_json": figure_json(theme_trend_figure(trend)) if trend and trend.channels else None,
        "rows": list(zip(trend.weeks, *[c.weeks for c in trend.channels], strict=True))[::-1]
        if trend and trend.channels
        else [],
    }
    return render(request, "text/theme_trends.html", context, status=422 if errors else 200)


def _theme_action(workspace, data: dict, rules: list[str]) -> str:
    op = data["op"]
    if op == "discover":
        found = text_services.themes_discover(workspace=workspace)
        if not found:
            return "Not enough text to find themes yet (at least 10 texts with shared words)."
        said = f"Found {len(found.created)} new theme{'' if len(found.created) == 1 else 's'}."
        if found.covered:
            said += (
                f" {len(found.covered)} more left out: your curated themes already hold most "
                f"of their texts ({', '.join(found.covered)})."
            )
        return said
    if op == "undo":
        undone = text_services.theme_undo(workspace=workspace, change_id=data["change"])
        return f"Undone: {undone.said}"
    theme = text_selectors.theme_get(workspace=workspace, theme_id=data["theme"])
    if theme is None:
        raise text_services.ThemeError("theme: no such theme in this workspace")
    if op == "rename":
        text_services.theme_rename(theme=theme, name=data.get("name") or "")
        return f"Renamed to {theme.name}."
    if op == "merge":
        into = text_selectors.theme_get(workspace=workspace, theme_id=data["into"])
        if into is None:
            raise text_services.ThemeError("into: no such theme in this workspace")
        said = f"Merged “{theme.name}” into “{into.name}”."
        text_services.themes_merge(into=into, other=theme)
        return said
    if op == "rules":
        change = text_services.theme_set_rules(theme=theme, rules=rules)
        lost = (
            f" {change.lost} text{'s' if change.lost != 1 else ''} only its old rules matched "
            f"no longer carry it."
            if change.lost
            else ""
        )
        if not theme.rules:
            return f"{theme.name} has no keyword rules now.{lost}"
        gained = change.gained
        return (
            f"{theme.name}: rules saved; {gained} more text{'s' if gained != 1 else ''} carry it."
            + lost
        )
    if op == "split":
        name = theme.name
        parts = text_services.theme_split(theme=theme)
        return f"Split “{name}” into {' and '.join(f'“{p.name}”' for p in parts)}."
    text_services.theme_set_hidden(theme=theme, hidden=op == "hide")
    return f"{theme.name} {'hidden' if op == 'hide' else 'shown'}."
