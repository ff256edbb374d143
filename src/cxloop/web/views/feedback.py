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
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from cxloop.core.permissions import Capability
from cxloop.feedback import importing, selectors, services
from cxloop.feedback.logic import FeedbackError, SurveyUnavailable, describe_condition
from cxloop.feedback.templates import LANGUAGES, template_list
from cxloop.web.forms import feedback as forms
from cxloop.web.forms.common import PageForm, bad_params, error_list, page_number
from cxloop.web.workspace import active_workspace, can, capability_required

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
    surveys = list(selectors.survey_list(workspace=active_workspace(request)))
    touchpoints = selectors.survey_touchpoints(survey_ids=[s.pk for s in surveys])
    rows = [
        {
            "survey": survey,
            "touchpoints": touchpoints.get(survey.pk, []),
            "public_url": _public_url(request, survey)
            if survey.status == selectors.SurveyStatus.ACTIVE and not survey.is_review_inbox
            else "",
        }
        for survey in surveys
    ]
    return render(request, "feedback/survey_list.html", {"surveys": rows})


@capability_required(Capability.EDIT_SURVEYS)
@require_http_methods(["GET", "POST"])
def survey_new(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    errors: list = []
    values: dict = {"languages": ["en"], "kind": "custom", "name": ""}
    if request.method == "POST":
        form = forms.SurveyNewForm(request.POST, languages=list(LANGUAGES))
        if not form.is_valid():
            errors = error_list(form)
            values = {k: form.data.get(k, "")[:200] for k in ("name", "kind")}
            values["languages"] = form.cleaned_data.get("languages") or ["en"]
        else:
            data = form.cleaned_data
            try:
                if data["template"]:
                    survey = services.survey_create_from_template(
                        workspace=workspace, template=data["template"],
                        languages=data["languages"] or ["en"], status=selectors.SurveyStatus.DRAFT,
                    )  # fmt: skip
                    return redirect("survey-build", survey_id=survey.pk)
                values = {"name": data["name"], "kind": data["kind"],
                          "languages": data["all_languages"]}  # fmt: skip
                survey = services.survey_create(
                    workspace=workspace, name=data["name"], kind=data["kind"],
                    languages=data["all_languages"], status=selectors.SurveyStatus.DRAFT,
                )  # fmt: skip
                return redirect("survey-build", survey_id=survey.pk)
            except FeedbackError as exc:
                errors = exc.errors
    context = {
        "templates": template_list(),
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "kinds": selectors.SurveyKind.choices,
        "errors": errors,
        "invalid": _invalid(errors),
        "values": values,
    }
    return render(request, "feedback/survey_new.html", context, status=422 if errors else 200)


def _invalid(errors) -> set[str]:
    """The names of the fields an error list blames (``name: ...``, ``question.key: ...``)."""
    return {str(e).partition(":")[0].rpartition(".")[2] for e in errors}


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
    params = PageForm(request.GET)
    if not params.is_valid():
        return bad_params(request, params)
    context = _detail_context(request, survey, page_number(params))
    return render(request, "feedback/survey_detail.html", context)


def _detail_context(
    request: HttpRequest,
    survey,
    page_no: int = 1,
    *,
    status_errors: list | None = None,
    trigger_errors: list | None = None,
) -> dict:
    """The survey page; ``errors``: ``status_errors`` or ``trigger_errors`` of a refused form."""
    responses = selectors.response_list(survey=survey)
    page = Paginator(responses, RESPONSES_PER_PAGE).get_page(page_no)
    stats = _stats(survey)
    public = _public_url(request, survey)
    embed = request.build_absolute_uri(reverse("survey-embed", args=[survey.public_token]))
    context = {
        "survey": survey,
        "questions": _question_rows(survey),
        "stats": stats,
        "page": page,
        "partial": page.paginator.count - stats["responses"],
        "public_url": public,
        "embed_snippet": f'<script src="{embed}" async></script>',
        "triggers": selectors.trigger_list(survey=survey),
        "invitations": selectors.invitation_list(survey=survey)[:10],
        "trigger_errors": trigger_errors or [],
        "status_errors": status_errors or [],
        "open_error": _open_problem(survey),
    }
    context["trigger_invalid"] = _invalid(context["trigger_errors"])
    return context


def _refused(request: HttpRequest, survey, **errors: list) -> HttpResponse:
    context = _detail_context(request, survey, 1, **errors)
    return render(request, "feedback/survey_detail.html", context, status=422)


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
    form = forms.SurveyStatusForm(request.POST)
    if not form.is_valid():
        return _refused(request, survey, status_errors=error_list(form))
    kwargs: dict = {"status": form.cleaned_data["status"]}
    if "closes_at" in request.POST:  # absent: the closing time is left as it is
        kwargs["closes_at"] = form.cleaned_data["closes_at"]
    try:
        services.survey_update(survey=survey, **kwargs)
    except FeedbackError as exc:
        return _refused(request, survey, status_errors=exc.errors)
    return redirect("survey-detail", survey_id=survey.pk)


@capability_required(Capability.EDIT_SURVEYS)
@require_POST
def trigger_add(request: HttpRequest, survey_id: int) -> HttpResponse:
    survey = _survey(request, survey_id)
    form = forms.TriggerForm(request.POST)
    if form.is_valid():
        try:
            services.trigger_create(survey=survey, **form.trigger_kwargs())
        except FeedbackError as exc:
            problems = [(e.field, e.message) for e in exc.errors]
        else:
            return redirect(reverse("survey-detail", args=[survey.pk]) + "#triggers")
    else:
        problems = [(name, str(m)) for name, errors in form.errors.items() for m in errors]
    # named by the labels people see, the fields marked, and what they typed kept
    context = _detail_context(
        request,
        survey,
        1,
        trigger_errors=[f"{forms.TriggerForm.label_of(name)}: {m}" for name, m in problems],
    )
    context["trigger_invalid"] = {forms.TriggerForm.field_of(name) for name, _ in problems}
    context["trigger_values"] = form.data
    return render(request, "feedback/survey_detail.html", context, status=422)


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
        selectors.responses_csv(survey=survey, redact=not can(request, Capability.READ_PII)),
        content_type="text/csv; charset=utf-8",
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
    form = forms.DelimiterForm(request.POST)
    delimiter = form.cleaned_data["delimiter"] if form.is_valid() else "comma"
    context: dict = {"survey": survey, "step": "upload", "errors": [], "delimiter": delimiter,
                     "delimiters": importing.DELIMITER_LABELS.items()}  # fmt: skip

    def refused(errors: list) -> HttpResponse:
        context.update(errors=errors, invalid=_invalid(errors))
        return render(request, "feedback/survey_import.html", context, status=422)

    if request.method == "POST" and "file" in request.FILES:
        upload = forms.ImportUploadForm(request.POST, request.FILES)
        if not upload.is_valid():
            return refused(error_list(upload))
        raw = upload.cleaned_data["file"].read()
        try:
            header, rows = importing.read_csv(raw, delimiter=delimiter)
        except importing.ImportFileError as exc:
            return refused([str(exc)])
        upload_id = uuid.uuid4().hex
        (_upload_dir() / f"{upload_id}.csv").write_bytes(raw)
        guess = importing.guess_mapping(survey=survey, header=header)
        context.update(step="map", upload_id=upload_id, rows=len(rows),
                       columns=[(i, c, guess.get(c, ""), [r[1][i] if i < len(r[1]) else "" for r in rows[:3]])
                                for i, c in enumerate(header)],
                       targets=_targets(survey))  # fmt: skip
        return render(request, "feedback/survey_import.html", context)
    if request.method == "POST":
        kept = forms.ImportKeptForm(request.POST)
        path = _upload_dir() / f"{kept.cleaned_data['upload_id']}.csv" if kept.is_valid() else None
        if path is None or not path.exists():
            return refused(["The uploaded file has expired; upload it again."])
        raw = path.read_bytes()
        try:
            header, _ = importing.read_csv(raw, delimiter=delimiter)
        except importing.ImportFileError as exc:
            return refused([str(exc)])
        mapping = forms.ImportMappingForm(request.POST, header=header, targets=_targets(survey))
        if not mapping.is_valid():
            return refused(error_list(mapping))
        try:
            report = importing.responses_import(
                survey=survey, text=raw, mapping=mapping.mapping(), delimiter=delimiter
            )
        except FeedbackError as exc:
            return refused([str(e) for e in exc.errors])
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
                     "delimiter": "comma"}  # fmt: skip
    if request.method == "POST":
        form = forms.ReviewImportForm(request.POST, request.FILES)
        if not form.is_valid():
            context["errors"] = error_list(form)
        else:
            data = form.cleaned_data
            context["delimiter"] = data["delimiter"]
            try:
                context["report"] = importing.reviews_import(
                    workspace=workspace, text=data["file"].read(),
                    default_site=data["site"], delimiter=data["delimiter"],
                )  # fmt: skip
            except importing.ImportFileError as exc:
                context["errors"] = [str(exc)]
    context["invalid"] = _invalid(context["errors"])
    context["inbox"] = (
        selectors.survey_list(workspace=workspace).filter(is_review_inbox=True).first()
    )
    return render(
        request, "feedback/review_import.html", context, status=422 if context["errors"] else 200
    )
