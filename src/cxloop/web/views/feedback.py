"""Survey pages: list, create (templates or from scratch), build, share, triggers, import/export.

The public answer page (no login) and its embeddable widget are in ``public_survey``."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods, require_POST

from cxloop.core.permissions import Capability
from cxloop.feedback import importing, selectors, services
from cxloop.feedback.logic import FeedbackError, SurveyUnavailable, describe_condition
from cxloop.feedback.templates import LANGUAGES, template_list
from cxloop.web.workspace import active_workspace, capability_required

RESPONSES_PER_PAGE = 25
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "de": "Deutsch", "es": "Español"}


def _survey(request: HttpRequest, survey_id: int):
    survey = selectors.survey_get(workspace=active_workspace(request), survey_id=survey_id)
    if survey is None:
        raise Http404("No such survey in this workspace.")
    return survey


def _public_url(request: HttpRequest, survey) -> str:
    return request.build_absolute_uri(reverse("survey-answer", args=[survey.public_token]))


# ---------------------------------------------------------------- app pages (signed in)


@capability_required(Capability.READ_ANALYTICS)
def survey_list(request: HttpRequest) -> HttpResponse:
    surveys = selectors.survey_list(workspace=active_workspace(request))
    return render(request, "feedback/survey_list.html", {"surveys": surveys})


@capability_required(Capability.EDIT_SURVEYS)
@require_http_methods(["GET", "POST"])
def survey_new(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    errors, values = [], {"languages": ["en"], "kind": "custom", "name": ""}
    if request.method == "POST":
        languages = request.POST.getlist("languages") or ["en"]
        try:
            if request.POST.get("template"):
                survey = services.survey_create_from_template(
                    workspace=workspace, template=request.POST["template"], languages=languages
                )
                return redirect("survey-detail", survey_id=survey.pk)
            extra = [x.strip() for x in request.POST.get("other_languages", "").split(",")]
            values = {
                "name": request.POST.get("name", ""),
                "kind": request.POST.get("kind", "custom"),
                "languages": languages + [x for x in extra if x],
            }
            survey = services.survey_create(
                workspace=workspace, name=values["name"], kind=values["kind"],
                languages=values["languages"], status=selectors.SurveyStatus.DRAFT,
            )  # fmt: skip
            return redirect("survey-build", survey_id=survey.pk)
        except FeedbackError as exc:
            errors = exc.errors
    context = {
        "templates": template_list(),
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "kinds": selectors.SurveyKind.choices,
        "errors": errors,
        "values": values,
    }
    return render(request, "feedback/survey_new.html", context, status=422 if errors else 200)


def _question_rows(survey) -> list[dict]:
    rows = []
    for question in survey.questions.all():
        local = selectors.localized_question(question, survey.default_language)
        rows.append(
            {
                "q": question,
                "local": local,
                "condition": describe_condition(question.show_if) if question.show_if else "",
                "translations": [
                    (lang, question.text.get(lang, "")) for lang in survey.languages[1:]
                ],
            }
        )
    return rows


@capability_required(Capability.READ_ANALYTICS)
def survey_detail(request: HttpRequest, survey_id: int) -> HttpResponse:
    survey = _survey(request, survey_id)
    responses = selectors.response_list(survey=survey)
    page = Paginator(responses, RESPONSES_PER_PAGE).get_page(request.GET.get("page"))
    public = _public_url(request, survey)
    embed = request.build_absolute_uri(reverse("survey-embed", args=[survey.public_token]))
    context = {
        "survey": survey,
        "questions": _question_rows(survey),
        "stats": _stats(survey),
        "page": page,
        "public_url": public,
        "embed_snippet": f'<script src="{embed}" async></script>',
        "triggers": selectors.trigger_list(survey=survey),
        "invitations": selectors.invitation_list(survey=survey)[:10],
        "trigger_errors": [],
        "open_error": _open_problem(survey),
    }
    return render(request, "feedback/survey_detail.html", context)


def _stats(survey) -> dict:
    stats = selectors.response_stats(survey=survey)
    n = stats["nps_answers"]
    stats["nps"] = round(100 * (stats["promoters"] - stats["detractors"]) / n) if n else None
    n = stats["csat_answers"]
    stats["csat"] = round(100 * stats["csat_happy"] / n) if n else None
    stats["ces"] = round(stats["ces_average"], 1) if stats["ces_average"] is not None else None
    return stats


def _open_problem(survey) -> str:
    try:
        services.survey_check_open(survey=survey)
    except SurveyUnavailable as exc:
        return str(exc)
    return ""


@capability_required(Capability.EDIT_SURVEYS)
@require_POST
def survey_status(request: HttpRequest, survey_id: int) -> HttpResponse:
    survey = _survey(request, survey_id)
    status = request.POST.get("status", "")
    closes_at = request.POST.get("closes_at")
    kwargs = {"status": status}
    if closes_at is not None:
        when = parse_datetime(closes_at) if closes_at else None
        if when is not None and timezone.is_naive(when):
            when = timezone.make_aware(when)
        kwargs["closes_at"] = when
    try:
        services.survey_update(survey=survey, **kwargs)
    except FeedbackError as exc:
        return HttpResponseBadRequest(str(exc))
    return redirect("survey-detail", survey_id=survey.pk)


@capability_required(Capability.EDIT_SURVEYS)
@require_http_methods(["GET", "POST"])
def survey_build(request: HttpRequest, survey_id: int) -> HttpResponse:
    """Add questions one by one (htmx swaps the list and the form), remove unanswered ones."""
    survey = _survey(request, survey_id)
    errors, values = [], {}
    status = 200
    if request.method == "POST":
        if request.POST.get("delete"):
            try:
                services.question_delete(survey=survey, key=request.POST["delete"])
            except FeedbackError as exc:
                errors = exc.errors
        elif request.POST.get("move"):
            key, _, direction = request.POST["move"].rpartition(":")
            try:
                offset = {"up": -1, "down": 1}.get(direction, 0)
                services.question_move(survey=survey, key=key, offset=offset)
            except FeedbackError as exc:
                errors = exc.errors
        else:
            values = request.POST
            try:
                services.question_add(survey=survey, spec=_question_spec(request.POST, survey))
                values = {}
            except FeedbackError as exc:
                errors = exc.errors
        status = 422 if errors else 200
    context = {
        "survey": survey,
        "questions": _question_rows(survey),
        "errors": errors,
        "values": values,
        "types": [("rating", "Rating scale"), ("single_choice", "Single choice"),
                  ("multiple_choice", "Multiple choice"), ("text", "Free text")],
        "scales": [("0-10", "0–10 (NPS)"), ("1-5", "1–5 (CSAT)"), ("1-7", "1–7 (CES)")],
        "ops": [("lte", "≤"), ("gte", "≥"), ("eq", "="), ("ne", "≠")],
        "public_url": _public_url(request, survey),
    }  # fmt: skip
    template = "feedback/survey_build.html"
    if request.headers.get("HX-Request"):
        template = "feedback/_builder.html"
    return render(request, template, context, status=status)


def _question_spec(post, survey) -> dict:
    """The builder form → a question spec (validation happens in the service)."""
    languages = survey.languages
    qtype = post.get("type", "")
    spec: dict = {
        "key": post.get("key", "").strip(),
        "type": qtype,
        "required": post.get("required") == "on",
        "text": {lang: post.get(f"text_{lang}", "") for lang in languages},
    }
    if qtype == "rating":
        low, _, high = post.get("scale", "1-5").partition("-")
        spec["scale_min"], spec["scale_max"] = int(low), int(high)
        spec["metric"] = post.get("metric", "")
        low_label, high_label = (
            post.get("low_label", "").strip(),
            post.get("high_label", "").strip(),
        )
        if low_label or high_label:
            spec["scale_labels"] = {languages[0]: [low_label, high_label]}
    if qtype in ("single_choice", "multiple_choice"):
        choices = []
        for line in post.get("choices", "").splitlines():
            if not line.strip():
                continue
            labels = [part.strip() for part in line.split("|")]
            value = importing_slug(labels[0])
            choices.append({"value": value, "label": dict(zip(languages, labels, strict=False))})
        spec["choices"] = choices
    if post.get("show_if_question"):
        raw = post.get("show_if_value", "").strip()
        value: object = int(raw) if raw.lstrip("-").isdigit() else raw
        spec["show_if"] = {
            "question": post["show_if_question"],
            "op": post.get("show_if_op", "eq"),
            "value": value,
        }
    return spec


def importing_slug(text: str) -> str:
    from cxloop.feedback.logic import _slug

    return _slug(text)


@capability_required(Capability.EDIT_SURVEYS)
@require_POST
def trigger_add(request: HttpRequest, survey_id: int) -> HttpResponse:
    survey = _survey(request, survey_id)
    conditions = {}
    key, value = (
        request.POST.get("condition_key", "").strip(),
        request.POST.get("condition_value", "").strip(),
    )
    if key:
        conditions[key] = value
    try:
        delay_days = float(request.POST.get("delay_days", "0") or 0)
        cap = int(request.POST.get("frequency_cap_days", "90") or 0)
    except ValueError:
        return HttpResponseBadRequest("delay_days and frequency_cap_days must be numbers")
    try:
        services.trigger_create(
            survey=survey,
            event_name=request.POST.get("event_name", ""),
            conditions=conditions,
            delay_minutes=round(delay_days * 24 * 60),
            frequency_cap_days=cap,
            consent_channel="email" if request.POST.get("require_consent") == "on" else "",
        )
    except FeedbackError as exc:
        return HttpResponseBadRequest(str(exc))
    return redirect(reverse("survey-detail", args=[survey.pk]) + "#triggers")


@capability_required(Capability.EDIT_SURVEYS)
@require_POST
def trigger_toggle(request: HttpRequest, survey_id: int, trigger_id: int) -> HttpResponse:
    survey = _survey(request, survey_id)
    trigger = survey.triggers.filter(pk=trigger_id).first()
    if trigger is None:
        raise Http404("No such trigger.")
    services.trigger_set_active(trigger=trigger, active=not trigger.active)
    return redirect(reverse("survey-detail", args=[survey.pk]) + "#triggers")


@capability_required(Capability.EXPORT)
def survey_export(request: HttpRequest, survey_id: int) -> StreamingHttpResponse:
    survey = _survey(request, survey_id)
    services.responses_export_record(survey=survey, actor=request.user, fmt="csv")
    response = StreamingHttpResponse(
        selectors.responses_csv(survey=survey), content_type="text/csv; charset=utf-8"
    )
    name = f"survey-{survey.pk}-responses-{timezone.now():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _upload_dir() -> Path:
    path = Path(settings.CXLOOP_HOME) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


@capability_required(Capability.IMPORT)
@require_http_methods(["GET", "POST"])
def survey_import(request: HttpRequest, survey_id: int) -> HttpResponse:
    """Two steps: upload a CSV, then map its columns to questions and fields, then a report."""
    survey = _survey(request, survey_id)
    delimiter = request.POST.get("delimiter", "comma")
    context: dict = {"survey": survey, "step": "upload", "errors": [], "delimiter": delimiter,
                     "delimiters": importing.DELIMITER_LABELS.items()}  # fmt: skip
    if request.method == "POST" and "file" in request.FILES:
        raw = request.FILES["file"].read()
        try:
            header, rows = importing.read_csv(raw, delimiter=delimiter)
        except importing.ImportFileError as exc:
            context["errors"] = [str(exc)]
            return render(request, "feedback/survey_import.html", context, status=422)
        upload_id = uuid.uuid4().hex
        (_upload_dir() / f"{upload_id}.csv").write_bytes(raw)
        guess = importing.guess_mapping(survey=survey, header=header)
        context.update(step="map", upload_id=upload_id, rows=len(rows),
                       columns=[(i, c, guess.get(c, ""), [r[1][i] if i < len(r[1]) else "" for r in rows[:3]])
                                for i, c in enumerate(header)],
                       targets=_targets(survey))  # fmt: skip
        return render(request, "feedback/survey_import.html", context)
    if request.method == "POST":
        upload_id = request.POST.get("upload_id", "")
        path = _upload_dir() / f"{upload_id}.csv"
        if not upload_id.isalnum() or not path.exists():
            context["errors"] = ["The uploaded file has expired; upload it again."]
            return render(request, "feedback/survey_import.html", context, status=422)
        raw = path.read_bytes()
        try:
            header, _ = importing.read_csv(raw, delimiter=delimiter)
        except importing.ImportFileError as exc:
            context["errors"] = [str(exc)]
            return render(request, "feedback/survey_import.html", context, status=422)
        mapping = {c: request.POST.get(f"map_{i}", "") for i, c in enumerate(header)}
        try:
            report = importing.responses_import(
                survey=survey, text=raw, mapping=mapping, delimiter=delimiter
            )
        except FeedbackError as exc:
            context["errors"] = [str(e) for e in exc.errors]
            return render(request, "feedback/survey_import.html", context, status=422)
        path.unlink(missing_ok=True)
        context.update(step="report", report=report)
    return render(request, "feedback/survey_import.html", context)


def _targets(survey) -> list[tuple[str, str]]:
    targets = [("", "— ignore —")]
    targets += [(f"q:{q.key}", f"Question: {q.key}") for q in survey.questions.all()]
    targets += list(importing.FIXED_TARGETS.items())
    return targets


@capability_required(Capability.IMPORT)
@require_http_methods(["GET", "POST"])
def review_import(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    context: dict = {"errors": [], "report": None, "delimiters": importing.DELIMITER_LABELS.items(),
                     "delimiter": request.POST.get("delimiter", "comma")}  # fmt: skip
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            context["errors"] = ["Choose a CSV file of reviews."]
        else:
            try:
                context["report"] = importing.reviews_import(
                    workspace=workspace, text=upload.read(),
                    default_site=request.POST.get("site", "").strip(),
                    delimiter=request.POST.get("delimiter", "comma"),
                )  # fmt: skip
            except importing.ImportFileError as exc:
                context["errors"] = [str(exc)]
    context["inbox"] = (
        selectors.survey_list(workspace=workspace).filter(is_review_inbox=True).first()
    )
    return render(
        request, "feedback/review_import.html", context, status=422 if context["errors"] else 200
    )
