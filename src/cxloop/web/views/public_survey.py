"""The public survey pages (no login, no CSRF token): the answer page ``/s/<token>/``, its
autosave, and the embeddable widget script. This is the app's unauthenticated surface:

- a GET never writes (mail scanners prefetch the score links in invitations): a score in the
  query string is only shown selected; answers are stored on POST;
- POSTs are limited per client IP and survey (``core.throttle``; 429 with Retry-After);
- an anonymous respondent keeps one response key in a signed cookie and, within
  ``CXLOOP_SURVEY_REPEAT_WINDOW``, completes a survey once per IP and user agent
  (``services.response_submit_anonymous``); invitation links are idempotent by their key.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from cxloop.core import throttle
from cxloop.feedback import selectors, services
from cxloop.feedback.logic import AlreadyAnswered, FeedbackError, SurveyUnavailable
from cxloop.web.forms.feedback import PublicSurveyParamsForm
from cxloop.web.views.feedback import LANGUAGE_NAMES

_PUBLIC_KEY = re.compile(r"[0-9a-f]{32}")
WEB_KEY_PREFIX = "web:"
COOKIE = "cxloop_respondent"  # the browser's response key, one per survey (cookie path)
COOKIE_SALT = "cxloop.public-survey.respondent"
COOKIE_AGE = 365 * 24 * 3600


def _public_key(raw: str) -> str:
    """The stored key of the page's own random ``rk`` (anything else gets a new one).

    Stored as ``web:<rk>``, apart from keys given through the API, so the page can never open or
    complete a response that was started elsewhere.
    """
    return f"{WEB_KEY_PREFIX}{raw if _PUBLIC_KEY.fullmatch(raw) else uuid.uuid4().hex}"


def _browser_key(request: HttpRequest, params: dict[str, str]) -> str:
    """This browser's response key: the one in its signed cookie, else the page's ``rk``."""
    kept = request.get_signed_cookie(COOKIE, default="", salt=COOKIE_SALT, max_age=COOKIE_AGE)
    return _public_key(kept if kept and _PUBLIC_KEY.fullmatch(kept) else params["rk"])


def _params(request: HttpRequest) -> dict[str, str]:
    """The page's own parameters, from the body of a POST or the query string of a GET."""
    return PublicSurveyParamsForm(
        request.POST if request.method == "POST" else request.GET
    ).values()


def _keep_key(request: HttpRequest, response: HttpResponse, token: str, key: str) -> HttpResponse:
    """Remember the browser's response key for this survey (a cookie is not a stored answer)."""
    secure = request.is_secure()
    response.set_signed_cookie(
        COOKIE, key.removeprefix(WEB_KEY_PREFIX), salt=COOKIE_SALT, max_age=COOKIE_AGE,
        path=reverse("survey-answer", args=[token]), httponly=True, secure=secure,
        samesite="None" if secure else "Lax",  # "None": also inside the widget's iframe
    )  # fmt: skip
    return response


def _too_many(request: HttpRequest, survey, language: str, wait: int) -> HttpResponse:
    page = _closed_page(request, survey, _labels(language)["slow_down"], 429, language=language)
    page["Retry-After"] = str(wait)
    return page


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
    requested = (
        PublicSurveyParamsForm(request.GET).values()["lang"]
        or PublicSurveyParamsForm(request.POST).values()["lang"]
    )
    return selectors.pick_language(
        survey=survey,
        requested=requested.lower(),
        accept_language=request.headers.get("Accept-Language", ""),
    )


def _closed_page(request, survey, message: str, status: int, language: str = "") -> HttpResponse:
    context = {
        "survey": survey,
        "message": message,
        "language": language or (survey.default_language if survey else "en"),
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
    if request.method == "POST":
        wait = throttle.survey_limited(request, token=survey.public_token)
        if wait is not None:
            return _too_many(request, survey, language, wait)
    questions = selectors.survey_localized(survey=survey, language=language)
    params = _params(request)
    invitation = selectors.invitation_by_token(survey=survey, token=params["i"])
    embed = params["embed"] == "1"
    source = "email" if invitation else "embed" if embed else "link"
    key = f"inv-{invitation.token}" if invitation else _browser_key(request, params)
    existing = selectors.response_by_key(survey=survey, response_key=key)
    if existing is not None and existing.completed:
        return _thanks(request, survey, language, already=True, embed=embed)
    common: dict[str, Any] = {"language": language, "source": source, "invitation": invitation,
              "channel": params["channel"][:32] if not invitation else ""}  # fmt: skip
    errors: dict[str, str] = {}
    values = selectors.response_answers(response=existing) if existing else {}
    status = 200
    prefilled = False
    if request.method == "POST":
        ratings = {q.key for q in questions if q.type == "rating"}
        answers = _answers_from_post(request.POST, questions)
        try:
            if invitation is None:
                services.response_submit_anonymous(
                    survey=survey, respondent=throttle.client_fingerprint(request),
                    window=settings.CXLOOP_SURVEY_REPEAT_WINDOW, answers=answers,
                    response_key=key, drop_hidden=True, **common,
                )  # fmt: skip
            else:
                services.response_submit(
                    survey=survey, answers=answers, response_key=key, complete=True,
                    drop_hidden=True, **common,
                )  # fmt: skip
        except AlreadyAnswered:
            return _thanks(request, survey, language, already=True, embed=embed)
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
            thanks = _thanks(request, survey, language, embed=embed)
            return thanks if invitation else _keep_key(request, thanks, token, key)
    else:
        # a score link from an invitation email (?nps=10): shown selected, never stored here;
        # mail scanners open these links. The person confirms with the send button (POST).
        prefill = selectors.answers_prefill(survey=survey, given=request.GET.dict())
        values.update(prefill)
        prefilled = bool(prefill)
    context = {
        "survey": survey,
        "language": language,
        "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in survey.languages],
        "intro": selectors.survey_intro(survey=survey, language=language),
        "questions": question_items(questions, values, errors),
        "errors": errors,
        "response_key": key.removeprefix(WEB_KEY_PREFIX),
        "invitation": invitation,
        "embed": embed,
        "channel": common["channel"],
        "labels": _labels(language),
        "prefilled": prefilled,
    }
    page = allow_logo(
        render(request, "feedback/public_survey.html", context, status=status), survey
    )
    return page if invitation else _keep_key(request, page, token, key)


@csrf_exempt
@xframe_options_exempt
@require_POST
def survey_save(request: HttpRequest, token: str) -> JsonResponse:
    """Autosave: keep partial answers as the customer goes (same response key later completes)."""
    survey = _public_survey(token)
    if survey is None:
        return JsonResponse({"error": "unknown survey"}, status=404)
    wait = throttle.survey_limited(request, token=survey.public_token, action=throttle.SAVE)
    if wait is not None:
        response = JsonResponse({"error": f"too many requests: try again in {wait} s"}, status=429)
        response["Retry-After"] = str(wait)
        return response
    params = _params(request)
    invitation = selectors.invitation_by_token(survey=survey, token=params["i"])
    key = f"inv-{invitation.token}" if invitation else _public_key(params["rk"])
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
            source="email" if invitation else "embed" if params["embed"] == "1" else "link",
            channel="" if invitation else params["channel"][:32],
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
    return allow_logo(render(request, "feedback/public_thanks.html", context), survey)


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
           "feedback": "Feedback", "saved": "Saved", "not_saved": "Not saved yet: your answers are still here; press “Send my answers” when you are back online.", "low": "Low", "high": "High",
           "fix": "Please check the highlighted answers.", "choose_any": "Choose any", "language": "Language",
           "closed": "Survey closed", "answer_required": "Please answer this question.",
           "confirm": "Your answer is selected. Add anything you like, then press “Send my answers”.",
           "slow_down": "Too many answers came from your network just now. Please wait a minute, then send again."},
    "fr": {"submit": "Envoyer mes réponses", "required": "obligatoire", "thanks": "Merci !",
           "thanks_body": "Vos réponses nous aident à nous améliorer.", "already": "Vous avez déjà répondu à ce questionnaire. Merci !",
           "feedback": "Votre avis", "saved": "Enregistré", "not_saved": "Pas encore enregistré : vos réponses restent ici ; appuyez sur « Envoyer mes réponses » une fois reconnecté.", "low": "Bas", "high": "Haut",
           "fix": "Veuillez vérifier les réponses signalées.", "choose_any": "Plusieurs choix possibles", "language": "Langue",
           "closed": "Questionnaire fermé", "answer_required": "Merci de répondre à cette question.",
           "confirm": "Votre réponse est sélectionnée. Ajoutez ce que vous voulez, puis appuyez sur « Envoyer mes réponses ».",
           "slow_down": "Trop de réponses viennent de votre réseau en ce moment. Patientez une minute, puis envoyez à nouveau."},
    "de": {"submit": "Antworten senden", "required": "Pflichtfeld", "thanks": "Vielen Dank!",
           "thanks_body": "Ihre Antworten helfen uns, besser zu werden.", "already": "Sie haben diese Umfrage bereits beantwortet. Danke!",
           "feedback": "Feedback", "saved": "Gespeichert", "not_saved": "Noch nicht gespeichert: Ihre Antworten bleiben hier; tippen Sie auf „Antworten senden“, sobald Sie wieder online sind.", "low": "Niedrig", "high": "Hoch",
           "fix": "Bitte prüfen Sie die markierten Antworten.", "choose_any": "Mehrfachauswahl", "language": "Sprache",
           "closed": "Umfrage geschlossen", "answer_required": "Bitte beantworten Sie diese Frage.",
           "confirm": "Ihre Antwort ist ausgewählt. Ergänzen Sie gern etwas und tippen Sie dann auf „Antworten senden“.",
           "slow_down": "Gerade kamen zu viele Antworten aus Ihrem Netzwerk. Bitte warten Sie eine Minute und senden Sie dann erneut."},
}  # fmt: skip


def allow_logo(response: HttpResponse, survey) -> HttpResponse:
    """Let this page load the survey's logo from its own site (CSP img-src, this page only)."""
    logo = (survey.theme or {}).get("logo", "") if survey is not None else ""
    if logo:
        parts = urlsplit(logo)
        response._csp_update = {"img-src": [f"{parts.scheme}://{parts.netloc}"]}  # type: ignore[attr-defined]
    return response


def question_items(questions, values: dict, errors: dict[str, str]) -> list[dict]:
    """The public template's question rows: the question, its value, error and skip logic."""
    return [
        {
            "q": q,
            "value": values.get(q.key),
            "error": errors.get(q.key, ""),
            "show_if": orjson.dumps(q.show_if).decode() if q.show_if else "",
        }
        for q in questions
    ]


def labels_for(language: str) -> dict:
    """The public page's own words in ``language`` (English when we have none)."""
    return _labels(language)


def _labels(language: str) -> dict:
    return _LABELS.get(language.split("-")[0], _LABELS["en"])


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""
