"""The public survey pages (no login, no CSRF token): the answer page ``/s/<token>/``, its
autosave, and the embeddable widget script. This is the app's unauthenticated surface."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import orjson
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from cxloop.feedback import selectors, services
from cxloop.feedback.logic import FeedbackError, SurveyUnavailable
from cxloop.web.views.feedback import LANGUAGE_NAMES

_PUBLIC_KEY = re.compile(r"[0-9a-f]{32}")
WEB_KEY_PREFIX = "web:"


def _public_key(raw: str) -> str:
    """The stored key of the page's own random ``rk`` (anything else gets a new one).

    Stored as ``web:<rk>``, apart from keys given through the API, so the page can never open or
    complete a response that was started elsewhere.
    """
    return f"{WEB_KEY_PREFIX}{raw if _PUBLIC_KEY.fullmatch(raw) else uuid.uuid4().hex}"


def _public_survey(token: str):
    survey = selectors.survey_by_token(token=token)
    if survey is None or survey.is_review_inbox:
        return None
    return survey


def _answers_from_post(post, questions) -> dict:
    answers = {}
    for q in questions:
        if q.type == "multiple_choice":
            answers[q.key] = post.getlist(q.key)
        elif q.key in post:
            answers[q.key] = post.get(q.key, "")
    return answers


def _language(request: HttpRequest, survey) -> str:
    return selectors.pick_language(
        survey=survey,
        requested=(request.GET.get("lang") or request.POST.get("lang") or "").lower(),
        accept_language=request.headers.get("Accept-Language", ""),
    )


def _closed_page(request, survey, message: str, status: int) -> HttpResponse:
    context = {
        "survey": survey,
        "message": message,
        "language": survey.default_language if survey else "en",
    }
    return render(request, "feedback/public_closed.html", context, status=status)


@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def survey_answer(request: HttpRequest, token: str) -> HttpResponse:
    """The public answer page: one page, skip logic applied as the customer answers."""
    survey = _public_survey(token)
    if survey is None:
        return _closed_page(request, None, "This survey link is not valid. Check the address.", 404)
    try:
        services.survey_check_open(survey=survey)
    except SurveyUnavailable as exc:
        return _closed_page(request, survey, str(exc), 410 if exc.gone else 404)
    language = _language(request, survey)
    questions = selectors.survey_localized(survey=survey, language=language)
    params = request.POST if request.method == "POST" else request.GET
    invitation = selectors.invitation_by_token(survey=survey, token=params.get("i", ""))
    embed = params.get("embed") == "1"
    source = "email" if invitation else "embed" if embed else "link"
    key = f"inv-{invitation.token}" if invitation else _public_key(params.get("rk", ""))
    existing = selectors.response_by_key(survey=survey, response_key=key)
    if existing is not None and existing.completed:
        return _thanks(request, survey, language, already=True, embed=embed)
    common = {"language": language, "source": source, "invitation": invitation,
              "channel": params.get("channel", "")[:32] if not invitation else ""}  # fmt: skip
    errors: dict[str, str] = {}
    values = selectors.response_answers(response=existing) if existing else {}
    status = 200
    if request.method == "POST":
        ratings = {q.key for q in questions if q.type == "rating"}
        answers = _answers_from_post(request.POST, questions)
        try:
            services.response_submit(
                survey=survey, answers=answers, response_key=key, complete=True,
                drop_hidden=True, **common,
            )  # fmt: skip
            return _thanks(request, survey, language, embed=embed)
        except FeedbackError as exc:
            required = _labels(language)["answer_required"]
            errors = {
                e.field.removeprefix("answers."): (
                    required if e.message == "an answer is required" else e.message
                )
                for e in exc.errors
            }
            values = {
                k: int(v) if isinstance(v, str) and v.lstrip("-").isdigit() and k in ratings else v
                for k, v in answers.items()
            }
            status = 422
    else:
        prefill = {q.key: request.GET[q.key] for q in questions if q.key in request.GET}
        if prefill:  # one-click score from the email: kept at once as a partial answer
            try:
                result = services.response_submit(
                    survey=survey, answers=prefill, response_key=key, complete=False,
                    drop_hidden=True, **common,
                )  # fmt: skip
                values = selectors.response_answers(response=result.response)
            except FeedbackError:
                pass
    context = {
        "survey": survey,
        "language": language,
        "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in survey.languages],
        "intro": selectors.survey_intro(survey=survey, language=language),
        "questions": [
            {
                "q": q,
                "value": values.get(q.key),
                "error": errors.get(q.key, ""),
                "show_if": orjson.dumps(q.show_if).decode() if q.show_if else "",
            }
            for q in questions
        ],
        "errors": errors,
        "response_key": key.removeprefix(WEB_KEY_PREFIX),
        "invitation": invitation,
        "embed": embed,
        "channel": common["channel"],
        "labels": _labels(language),
    }
    return render(request, "feedback/public_survey.html", context, status=status)


@csrf_exempt
@xframe_options_exempt
@require_POST
def survey_save(request: HttpRequest, token: str) -> JsonResponse:
    """Autosave: keep partial answers as the customer goes (same response key later completes)."""
    survey = _public_survey(token)
    if survey is None:
        return JsonResponse({"error": "unknown survey"}, status=404)
    invitation = selectors.invitation_by_token(survey=survey, token=request.POST.get("i", ""))
    key = f"inv-{invitation.token}" if invitation else _public_key(request.POST.get("rk", ""))
    language = _language(request, survey)
    questions = selectors.survey_localized(survey=survey, language=language)
    try:
        result = services.response_submit(
            survey=survey,
            answers=_answers_from_post(request.POST, questions),
            response_key=key,
            complete=False,
            drop_hidden=True,
            language=language,
            invitation=invitation,
            source="email"
            if invitation
            else "embed"
            if request.POST.get("embed") == "1"
            else "link",
            channel="" if invitation else request.POST.get("channel", "")[:32],
        )
    except SurveyUnavailable as exc:
        return JsonResponse({"error": str(exc)}, status=410 if exc.gone else 404)
    except FeedbackError as exc:
        return JsonResponse(
            {"errors": [{"field": e.field, "message": e.message} for e in exc.errors]}, status=422
        )
    return JsonResponse({"saved": True, "completed": result.response.completed})


def _thanks(request, survey, language: str, *, already: bool = False, embed: bool = False):
    context = {"survey": survey, "language": language, "labels": _labels(language),
               "already": already, "embed": embed}  # fmt: skip
    return render(request, "feedback/public_thanks.html", context)


def survey_embed(request: HttpRequest, token: str) -> HttpResponse:
    """``<script src=".../s/<token>/embed.js" async>``: a feedback button opening the survey."""
    survey = _public_survey(token)
    if survey is None:
        return HttpResponse(
            "/* cxloop: unknown survey */", content_type="text/javascript", status=404
        )
    url = request.build_absolute_uri(reverse("survey-answer", args=[token])) + "?embed=1"
    label = _labels(survey.default_language)["feedback"]
    script = render(
        request, "feedback/embed.js",
        {"config": orjson.dumps({"url": url, "label": label, "title": survey.name}).decode()},
        content_type="text/javascript; charset=utf-8",
    )  # fmt: skip
    script["Cache-Control"] = "public, max-age=300"
    script["Access-Control-Allow-Origin"] = "*"
    return script


_LABELS = {
    "en": {"submit": "Send my answers", "required": "required", "thanks": "Thank you!",
           "thanks_body": "Your answers help us get better.", "already": "You have already answered this survey. Thank you!",
           "feedback": "Feedback", "saved": "Saved", "low": "Low", "high": "High",
           "fix": "Please check the highlighted answers.", "choose_any": "Choose any", "language": "Language",
           "closed": "Survey closed", "answer_required": "Please answer this question."},
    "fr": {"submit": "Envoyer mes réponses", "required": "obligatoire", "thanks": "Merci !",
           "thanks_body": "Vos réponses nous aident à nous améliorer.", "already": "Vous avez déjà répondu à ce questionnaire. Merci !",
           "feedback": "Votre avis", "saved": "Enregistré", "low": "Bas", "high": "Haut",
           "fix": "Veuillez vérifier les réponses signalées.", "choose_any": "Plusieurs choix possibles", "language": "Langue",
           "closed": "Questionnaire fermé", "answer_required": "Merci de répondre à cette question."},
    "de": {"submit": "Antworten senden", "required": "Pflichtfeld", "thanks": "Vielen Dank!",
           "thanks_body": "Ihre Antworten helfen uns, besser zu werden.", "already": "Sie haben diese Umfrage bereits beantwortet. Danke!",
           "feedback": "Feedback", "saved": "Gespeichert", "low": "Niedrig", "high": "Hoch",
           "fix": "Bitte prüfen Sie die markierten Antworten.", "choose_any": "Mehrfachauswahl", "language": "Sprache",
           "closed": "Umfrage geschlossen", "answer_required": "Bitte beantworten Sie diese Frage."},
}  # fmt: skip


def _labels(language: str) -> dict:
    return _LABELS.get(language.split("-")[0], _LABELS["en"])


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""
