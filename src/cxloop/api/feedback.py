"""REST routes for feedback (mounted under /api/ by cxloop.api.rest): surveys CRUD, responses
submit/list/export, and the public (no login) submission used by links and the website widget.

Bad input answers 422 with ``errors``: a list of ``{field, message}`` (e.g. ``answers.nps``,
``questions[2].scale_max``); a closed or expired survey answers 410; nothing is half-written.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, File, Form, Path, Router, Schema, Status, UploadedFile
from ninja.errors import HttpError

from cxloop.api.access import may, request_workspace
from cxloop.api.errors import BODY_ERRORS, ERRORS, FieldErrorOut, errors
from cxloop.api.params import ObjectIn, id_param, limit_param, offset_param
from cxloop.core import throttle
from cxloop.core.permissions import Capability
from cxloop.customers import selectors as customer_selectors
from cxloop.feedback import importing, selectors, services
from cxloop.feedback.logic import AlreadyAnswered, FeedbackError, SurveyUnavailable

router = Router(tags=["feedback"])


class QuestionIn(ObjectIn):
    key: str
    type: str = Field(description="rating, single_choice, multiple_choice or text")
    text: dict[str, str] | str = Field(description='{"en": "…", "fr": "…"} or one string')
    required: bool = False
    scale_min: int | None = None
    scale_max: int | None = None
    scale_labels: dict[str, list[str]] = {}
    metric: str = Field("", description="nps (0–10), csat (1–5), ces (1–7) or empty")
    choices: list[Any] = Field([], description='[{"value": "x", "label": {"en": "X"}}]')
    show_if: dict | None = Field(
        None, description='skip logic: {"question": "nps", "op": "lte", "value": 6}'
    )


class QuestionOut(Schema):
    key: str
    type: str
    text: dict
    required: bool
    scale_min: int | None
    scale_max: int | None
    scale_labels: dict
    metric: str
    choices: list
    show_if: dict | None


class SurveyIn(ObjectIn):
    name: str
    kind: str = "custom"
    languages: list[str] = ["en"]
    intro: dict[str, str] | str = {}
    status: str = "draft"
    closes_at: datetime | None = None
    questions: list[QuestionIn] = []


class SurveyFromTemplateIn(ObjectIn):
    template: str = Field(description="nps, csat, ces, post_purchase or post_support")
    languages: list[str] | None = None
    name: str | None = None
    status: str = "active"


class SurveyPatch(ObjectIn):
    name: str | None = None
    status: str | None = None
    closes_at: datetime | None = None
    intro: dict[str, str] | None = None
    questions: list[QuestionIn] | None = Field(
        None, description="replaces every question (only while there are no responses)"
    )


class SurveyOut(Schema):
    id: int
    name: str
    kind: str
    status: str
    languages: list[str]
    intro: dict
    public_token: str
    public_url: str
    closes_at: datetime | None
    created_at: datetime
    questions: list[QuestionOut]

    @staticmethod
    def resolve_questions(obj) -> list:
        return list(obj.questions.all())

    @staticmethod
    def resolve_public_url(obj, context) -> str:
        request = context["request"]
        return request.build_absolute_uri(reverse("survey-answer", args=[obj.public_token]))


class ResponseIn(ObjectIn):
    response_key: str = Field(description="your id for this response: the same key is stored once")
    answers: dict[str, Any] = Field(description="question key → number, choice value(s) or text")
    complete: bool = Field(True, description="false keeps a partial response to complete later")
    language: str = ""
    channel: str = ""
    touchpoint: str = ""
    customer_id: int | None = None
    submitted_at: datetime | None = Field(None, description="when it was answered (default now)")


class PublicResponseIn(ObjectIn):
    response_key: str
    answers: dict[str, Any]
    complete: bool = True
    language: str = ""
    channel: str = ""


class ResponseOut(Schema):
    id: int
    survey_id: int
    response_key: str
    customer_id: int | None
    completed: bool
    started_at: datetime
    submitted_at: datetime | None
    language: str
    source: str
    channel: str
    touchpoint: str
    nps_score: int | None
    csat_score: int | None
    ces_score: int | None
    comment: str
    answers: dict

    @staticmethod
    def resolve_answers(obj) -> dict:
        return selectors.response_answers(response=obj)


class SubmitOut(Schema):
    duplicate: bool
    response: ResponseOut


class PublicSubmitOut(Schema):
    """What an anonymous caller learns back: never the stored answers."""

    duplicate: bool
    completed: bool


class ResponsePage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ResponseOut]


class ExportRow(Schema):
    response_id: int
    response_key: str
    submitted_at: datetime | None
    started_at: datetime
    completed: bool
    customer_id: int | None
    customer_email: str
    language: str
    source: str
    channel: str
    touchpoint: str
    nps_score: int | None
    csat_score: int | None
    ces_score: int | None
    answers: dict


def _survey(request: HttpRequest, survey_id: int, workspace: str | None, need: Capability):
    survey = selectors.survey_get(
        workspace=request_workspace(request, workspace, need=need), survey_id=survey_id
    )
    if survey is None:
        raise HttpError(404, f"no survey {survey_id} in this workspace")
    return survey


def _invalid(exc: FeedbackError) -> Status:
    return Status(
        422,
        {
            "detail": str(exc),
            "errors": [{"field": e.field, "message": e.message} for e in exc.errors],
        },
    )


def _spec(questions: list[QuestionIn]) -> list[dict]:
    return [q.dict() for q in questions]


@router.get("/surveys", response={200: list[SurveyOut], **ERRORS}, summary="List surveys")
def list_surveys(request: HttpRequest, workspace: str | None = None):
    surveys = selectors.survey_list(
        workspace=request_workspace(request, workspace, need=Capability.READ_ANALYTICS)
    )
    return list(surveys.prefetch_related("questions"))


@router.post("/surveys", response={201: SurveyOut, **BODY_ERRORS}, summary="Create a survey")
def create_survey(request: HttpRequest, body: SurveyIn, workspace: str | None = None):
    """A survey with its questions; every bad field is reported at once."""
    try:
        survey = services.survey_create(
            workspace=request_workspace(request, workspace, need=Capability.EDIT_SURVEYS),
            name=body.name,
            kind=body.kind,
            languages=body.languages,
            questions=_spec(body.questions),
            intro=body.intro,
            status=body.status,
            closes_at=body.closes_at,
        )
    except FeedbackError as exc:
        return _invalid(exc)
    return Status(201, survey)


@router.post(
    "/surveys/from-template",
    response={201: SurveyOut, **BODY_ERRORS},
    summary="Create a survey from a template",
)
def create_survey_from_template(
    request: HttpRequest, body: SurveyFromTemplateIn, workspace: str | None = None
):
    try:
        survey = services.survey_create_from_template(
            workspace=request_workspace(request, workspace, need=Capability.EDIT_SURVEYS),
            template=body.template,
            languages=body.languages,
            name=body.name,
            status=body.status,
        )
    except FeedbackError as exc:
        return _invalid(exc)
    return Status(201, survey)


@router.get("/surveys/{survey_id}", response={200: SurveyOut, **ERRORS}, summary="Get a survey")
def get_survey(request: HttpRequest, survey_id: int = id_param(), workspace: str | None = None):
    return _survey(request, survey_id, workspace, Capability.READ_ANALYTICS)


@router.patch(
    "/surveys/{survey_id}", response={200: SurveyOut, **BODY_ERRORS}, summary="Change a survey"
)
def update_survey(
    request: HttpRequest,
    body: SurveyPatch,
    survey_id: int = id_param(),
    workspace: str | None = None,
):
    survey = _survey(request, survey_id, workspace, Capability.EDIT_SURVEYS)
    changes = body.dict(exclude_unset=True)
    if "questions" in changes:
        changes["questions"] = _spec(body.questions or [])
    try:
        survey = services.survey_update(survey=survey, **changes)
    except FeedbackError as exc:
        return _invalid(exc)
    return Status(200, survey)


@router.delete("/surveys/{survey_id}", response={204: None, **ERRORS}, summary="Delete a survey")
def delete_survey(request: HttpRequest, survey_id: int = id_param(), workspace: str | None = None):
    """Deletes the survey with its responses, for good: admins only (``delete_data``); analysts
    edit and close surveys but cannot destroy the answers collected."""
    services.survey_delete(survey=_survey(request, survey_id, workspace, Capability.DELETE_DATA))
    return Status(204, None)


def _submit(survey, body, *, respondent: str = "", window: int = 0, **extra):
    """Submit ``body``; with a ``respondent`` (anonymous callers) one complete response each."""
    submit = services.response_submit
    if respondent:
        submit = partial(services.response_submit_anonymous, respondent=respondent, window=window)
    try:
        result = submit(
            survey=survey,
            answers=body.answers,
            response_key=body.response_key,
            complete=body.complete,
            language=body.language,
            channel=body.channel,
            **extra,
        )
    except SurveyUnavailable as exc:
        return Status(410 if exc.gone else 404, {"detail": str(exc), "errors": []})
    except FeedbackError as exc:
        return _invalid(exc)
    status = 201 if result.created else 200
    return Status(status, {"duplicate": result.duplicate, "response": result.response})


_SUBMIT_RESPONSES = {200: SubmitOut, 201: SubmitOut, **BODY_ERRORS, **errors(410)}
_PUBLIC_SUBMIT_RESPONSES = {
    200: PublicSubmitOut,
    201: PublicSubmitOut,
    **errors(400, 404, 410, 422, 429),
}
PUBLIC_KEY_LENGTH = (32, 64)


@router.post(
    "/surveys/{survey_id}/responses",
    response=_SUBMIT_RESPONSES,
    summary="Submit a response",
)
def submit_response(
    request: HttpRequest,
    body: ResponseIn,
    survey_id: int = id_param(),
    workspace: str | None = None,
):
    """201 stored; 200 the same ``response_key`` again (partial ones are added to; a complete
    one is returned unchanged with ``duplicate``); 422 bad answers; 410 survey closed."""
    survey = _survey(request, survey_id, workspace, Capability.IMPORT)
    customer = None
    if body.customer_id is not None:
        customer = customer_selectors.customer_get(
            workspace=survey.workspace, customer_id=body.customer_id
        )
        if customer is None:
            return Status(
                422,
                {
                    "detail": "customer_id: no such customer in this workspace",
                    "errors": [{"field": "customer_id", "message": "no such customer"}],
                },
            )
        customer = customer.merged_into or customer
    return _submit(
        survey, body, customer=customer, touchpoint=body.touchpoint, source="api",
        at=body.submitted_at,
    )  # fmt: skip


@router.post(
    "/public/surveys/{token}/responses",
    response=_PUBLIC_SUBMIT_RESPONSES,
    auth=None,
    summary="Answer a survey by its public token (no login)",
)
def submit_public_response(
    request: HttpRequest,
    body: PublicResponseIn,
    response: HttpResponse,
    token: str = Path(..., max_length=64, pattern=r"^[A-Za-z0-9_-]+$"),
):
    """Keys sent here live apart from the signed-in API's and the web page's (stored as
    ``pub:<key>``) and must be unguessable (32–64 characters, e.g. a random UUID's hex), so a
    stranger cannot add to a response someone else started; nothing stored is sent back.

    429 (with Retry-After) when one client sends more than ``CXLOOP_SURVEY_RATE`` to a survey;
    within ``CXLOOP_SURVEY_REPEAT_WINDOW`` one client (IP and user agent) completes a survey
    under one key only: another key answers 200 ``duplicate`` and stores nothing."""
    survey = selectors.survey_by_token(token=token)
    if survey is None or survey.is_review_inbox:
        return Status(404, {"detail": "unknown survey: check the link", "errors": []})
    wait = throttle.survey_limited(request, token=survey.public_token)
    if wait is not None:
        response["Retry-After"] = str(wait)
        detail = f"too many answers from this client: try again in {wait} s"
        return Status(429, {"detail": detail, "errors": []})
    low, high = PUBLIC_KEY_LENGTH
    if not low <= len(body.response_key) <= high:
        message = f"expected {low}–{high} characters (a random id, e.g. a UUID's hex)"
        return Status(
            422,
            {
                "detail": f"response_key: {message}",
                "errors": [{"field": "response_key", "message": message}],
            },
        )
    body.response_key = f"pub:{body.response_key}"
    try:
        result = _submit(
            survey, body, source="link", respondent=throttle.client_fingerprint(request),
            window=settings.CXLOOP_SURVEY_REPEAT_WINDOW,
        )  # fmt: skip
    except AlreadyAnswered:
        return Status(200, {"duplicate": True, "completed": True})
    if result.status_code in (200, 201):
        stored = result.value["response"]  # not `response`: that is the HTTP response here
        return Status(
            result.status_code,
            {"duplicate": result.value["duplicate"], "completed": stored.completed},
        )
    return result


@router.get(
    "/surveys/{survey_id}/responses",
    response={200: ResponsePage, **ERRORS},
    summary="List responses",
)
def list_responses(
    request: HttpRequest,
    survey_id: int = id_param(),
    workspace: str | None = None,
    completed: bool | None = None,
    limit: int = limit_param(100),
    offset: int = offset_param(),
):
    """Newest first, with answers keyed by question."""
    survey = _survey(request, survey_id, workspace, Capability.READ_FEEDBACK)
    responses = selectors.response_list(survey=survey, completed=completed)
    return {
        "count": responses.count(),
        "limit": limit,
        "offset": offset,
        "items": list(responses[offset : offset + limit]),
    }


@router.get(
    "/surveys/{survey_id}/responses/export",
    response={200: list[ExportRow], **ERRORS},
    summary="Export every response (JSON)",
)
def export_responses(
    request: HttpRequest, survey_id: int = id_param(), workspace: str | None = None
):
    """Every response, oldest first, as the CSV export has them (answers as an object)."""
    survey = _survey(request, survey_id, workspace, Capability.EXPORT)
    services.responses_export_record(survey=survey, actor=request.user, fmt="json")
    redact = not may(request, survey.workspace, Capability.READ_PII)
    return list(selectors.responses_export(survey=survey, redact=redact))


class ImportReportOut(Schema):
    rows: int
    imported: int
    duplicates: int
    unmatched_customers: int
    errors: list[FieldErrorOut]


@router.post(
    "/reviews/import",
    response={200: ImportReportOut, **BODY_ERRORS},
    summary="Import reviews and customer text from a CSV file",
)
def import_reviews(
    request: HttpRequest,
    file: File[UploadedFile],
    source: Form[str] = "",
    delimiter: Form[Literal["comma", "semicolon", "tab"]] = "comma",
    workspace: str | None = None,
):
    """Columns ``text`` and/or ``rating`` (1–5; each row needs one), ``source``, ``date``,
    ``email`` or ``user_id`` (the customer), ``id``, ``title``. RFC 4180 CSV (quotes doubled inside quoted text) with the chosen
    delimiter. Bad rows are reported by line; good ones kept; re-imports store nothing twice."""
    target = request_workspace(request, workspace, need=Capability.IMPORT)
    try:
        report = importing.reviews_import(
            workspace=target, text=file.read(), default_site=source.strip(), delimiter=delimiter
        )
    except importing.ImportFileError as exc:
        return Status(422, {"detail": str(exc), "errors": []})
    return Status(200, report)
