"""Response writes: submit (signed-in, anonymous, bulk) and imported reviews."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AbstractUser
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from cxloop.core import services as core_services
from cxloop.core.models import Workspace
from cxloop.feedback import hooks
from cxloop.feedback._rollup import response_bucket, score_days_refresh
from cxloop.feedback.logic import (
    AlreadyAnswered,
    AnswerInvalid,
    FeedbackError,
    FieldError,
    SurveyUnavailable,
    check_answers,
    rule_of,
)
from cxloop.feedback.models import (
    Answer,
    Invitation,
    Question,
    Response,
    Survey,
    SurveyKind,
    SurveyStatus,
)

if TYPE_CHECKING:
    from cxloop.customers.models import Customer

from cxloop.feedback._surveys import survey_check_open, survey_create

# ---------------------------------------------------------------- responses


@dataclass
class SubmitResult:
    response: Response
    created: bool
    duplicate: bool  # the response was already complete: nothing changed


# Answers from a public link or an embed, with no channel or touchpoint given, are counted on
# the "link"/"embed" channel at these touchpoints (not in "(none)"); migration 0003 did the same
# for the answers stored before.
PUBLIC_TOUCHPOINTS = {"link": "Public survey link", "embed": "Website embed"}


def response_submit(
    *,
    survey: Survey,
    answers: Mapping[str, object],
    response_key: str,
    complete: bool = True,
    customer: Customer | None = None,
    language: str = "",
    source: str = "link",
    channel: str = "",
    touchpoint: str = "",
    invitation: Invitation | None = None,
    at: datetime | None = None,
    drop_hidden: bool = False,
    check_open: bool = True,
) -> SubmitResult:
    """Validate answers and store them with their response, all or nothing.

    Partial answers are kept: call again with the same ``response_key`` to add answers and finally
    ``complete``. A response already complete is final: submitting it again changes nothing
    (``duplicate``), so retries are harmless. Raises AnswerInvalid or SurveyUnavailable.
    """
    now = timezone.now()
    if check_open:
        survey_check_open(survey=survey, now=now)
    if not isinstance(response_key, str) or not 1 <= len(response_key) <= 64:
        raise AnswerInvalid([FieldError("response_key", "expected 1–64 characters")])
    if language and language not in survey.languages:
        raise AnswerInvalid([FieldError("language", f"the survey is not in {language!r}")])
    questions = list(survey.questions.all())
    rules = [rule_of(q) for q in questions]
    if invitation is not None:
        customer = customer or invitation.customer
        channel = channel or invitation.channel
        touchpoint = touchpoint or invitation.touchpoint
    elif source in PUBLIC_TOUCHPOINTS:  # a public link or embed names where it was answered
        channel = channel or source
        touchpoint = touchpoint or PUBLIC_TOUCHPOINTS[source]
    try:
        result = _submit(
            survey, questions, rules, answers, response_key, complete, customer, language,
            source, channel, touchpoint, invitation, at or now, drop_hidden,
        )  # fmt: skip
    except IntegrityError:
        # a concurrent submission with the same key won the insert: add to (or return) it
        result = _submit(
            survey, questions, rules, answers, response_key, complete, customer, language,
            source, channel, touchpoint, invitation, at or now, drop_hidden,
        )  # fmt: skip
    if complete and not result.duplicate:  # rules (workflows) hear of it after commit
        hooks.response_completed(workspace_id=survey.workspace_id, response_id=result.response.pk)
    return result


RESPONDENT_CLAIM = "cxloop:respondent:{survey}:{respondent}"


def response_submit_anonymous(
    *, survey: Survey, respondent: str, window: int, response_key: str, complete: bool = True,
    **kwargs: Any,
) -> SubmitResult:  # fmt: skip
    """``response_submit`` from an anonymous respondent (a public link without invitation).

    ``respondent`` is a one-way fingerprint of the client (IP and user agent): within ``window``
    seconds it completes the survey under one response key only; a complete answer under another
    key raises AlreadyAnswered and stores nothing, so a reloaded page or a script that drops its
    cookies cannot add responses. The first complete submission claims the fingerprint (an atomic
    cache add, so concurrent ones cannot both win); a rejected one releases it. Partial answers
    and ``window`` 0 go straight to ``response_submit``.
    """
    if not complete or not respondent or window <= 0:
        return response_submit(
            survey=survey, response_key=response_key, complete=complete, **kwargs
        )
    claim = RESPONDENT_CLAIM.format(survey=survey.pk, respondent=respondent)
    claimed = cache.add(claim, response_key, window)
    if not claimed and cache.get(claim, response_key) != response_key:
        raise AlreadyAnswered()
    try:
        return response_submit(survey=survey, response_key=response_key, complete=True, **kwargs)
    except (FeedbackError, SurveyUnavailable):
        if claimed:
            cache.delete(claim)
        raise


@transaction.atomic
def _submit(
    survey, questions, rules, answers, response_key, complete, customer, language, source,
    channel, touchpoint, invitation, at, drop_hidden,
) -> SubmitResult:  # fmt: skip
    existing = (
        Response.objects.select_for_update()
        .filter(survey=survey, response_key=response_key)
        .first()
    )
    if existing is not None and existing.completed:
        return SubmitResult(existing, created=False, duplicate=True)
    before = response_bucket(existing) if existing is not None else None
    prior = {}
    if existing is not None:
        prior = {a.question.key: a.value for a in existing.answers.select_related("question")}
    merged = check_answers(rules, answers, prior=prior, complete=complete, drop_hidden=drop_hidden)
    response = existing or Response(
        workspace_id=survey.workspace_id,
        survey=survey,
        response_key=response_key,
        started_at=at,
    )
    response.customer = customer or response.customer
    response.language = language or response.language or survey.default_language
    response.source = source
    response.channel = (channel or response.channel)[:32]
    response.touchpoint = (touchpoint or response.touchpoint)[:200]
    response.invitation = invitation or response.invitation
    response.completed = complete
    response.submitted_at = at if complete else None
    response.nps_score = response.csat_score = response.ces_score = None
    response.comment = ""
    _copy_scores(response, questions, merged)
    with transaction.atomic():  # savepoint: a lost insert race leaves the outer transaction usable
        response.save()
    if existing is not None:
        existing.answers.all().delete()
    by_key = {q.key: q for q in questions}
    Answer.objects.bulk_create(
        Answer(response=response, question=by_key[key], value=value)
        for key, value in merged.items()
    )
    score_days_refresh(buckets=[before, response_bucket(response)])
    return SubmitResult(response, created=existing is None, duplicate=False)


@dataclass
class NewResponse:
    """One response for :func:`responses_bulk_add` (a history import or the demo)."""

    response_key: str
    answers: Mapping[str, object]
    at: datetime
    complete: bool = True
    customer: Customer | None = None
    language: str = ""
    source: str = "import"
    channel: str = ""
    touchpoint: str = ""


@transaction.atomic
def responses_bulk_add(
    *, survey: Survey, items: Sequence[NewResponse], chunk: int = 2000
) -> tuple[int, list[FieldError]]:
    """Store many finished or partial responses at once, with the same checks as one by one.

    Keys already stored are left alone (idempotent). Returns (stored, errors by item position);
    bad items are skipped, good ones kept.
    """
    questions = list(survey.questions.all())
    rules = [rule_of(q) for q in questions]
    by_key = {q.key: q for q in questions}
    errors: list[FieldError] = []
    stored = 0
    buckets: set = set()
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        taken = set(
            Response.objects.filter(
                survey=survey, response_key__in=[i.response_key for i in part]
            ).values_list("response_key", flat=True)
        )
        rows, answers_of = [], {}
        for offset, item in enumerate(part):
            if item.response_key in taken or item.response_key in answers_of:
                continue
            try:
                merged = check_answers(rules, item.answers, complete=item.complete)
            except FeedbackError as exc:
                errors.extend(
                    FieldError(f"items[{start + offset}].{e.field}", e.message) for e in exc.errors
                )
                continue
            response = Response(
                workspace_id=survey.workspace_id, survey=survey, response_key=item.response_key,
                customer=item.customer, language=item.language or survey.default_language,
                source=item.source, channel=item.channel[:32], touchpoint=item.touchpoint[:200],
                started_at=item.at, submitted_at=item.at if item.complete else None,
                completed=item.complete,
            )  # fmt: skip
            _copy_scores(response, questions, merged)
            rows.append(response)
            answers_of[item.response_key] = merged
        Response.objects.bulk_create(rows, batch_size=500)
        buckets.update(response_bucket(row) for row in rows)
        ids = dict(
            Response.objects.filter(survey=survey, response_key__in=list(answers_of)).values_list(
                "response_key", "pk"
            )
        )
        Answer.objects.bulk_create(
            (
                Answer(response_id=ids[key], question=by_key[q], value=value)
                for key, merged in answers_of.items()
                for q, value in merged.items()
            ),
            batch_size=1000,
        )
        stored += len(rows)
    score_days_refresh(buckets=buckets)
    return stored, errors


@transaction.atomic
def response_save(*, response: Response) -> Response:
    """Store a response changed outside the survey flow (a correction in the admin: a score,
    the channel, the submission time) and recount the days it counted in before and after."""
    before = None
    if response.pk is not None:
        old = Response.objects.filter(pk=response.pk).first()
        before = response_bucket(old) if old is not None else None
    response.save()
    score_days_refresh(buckets=[before, response_bucket(response)])
    return response


@transaction.atomic
def responses_delete(*, responses: Sequence[Response]) -> int:
    """Delete responses (their answers go with them) and recount the days they counted in."""
    ids = [r.pk for r in responses]
    buckets = [response_bucket(r) for r in Response.objects.filter(pk__in=ids)]
    deleted = Response.objects.filter(pk__in=ids).delete()[1].get("feedback.Response", 0)
    score_days_refresh(buckets=buckets)
    return deleted


# ---------------------------------------------------------------- reviews


def review_inbox(*, workspace: Workspace) -> Survey:
    """The workspace's "Reviews" inbox: a closed survey holding imported reviews and other
    customer text (with or without a star rating)."""
    inbox = Survey.objects.filter(workspace=workspace, is_review_inbox=True).first()
    if inbox is not None:
        return inbox
    survey = survey_create(
        workspace=workspace,
        name="Reviews",
        kind=SurveyKind.CSAT,
        status=SurveyStatus.CLOSED,
        questions=[
            {
                "key": "rating",
                "type": "rating",
                "metric": "csat",
                "required": False,  # customer text without a rating is feedback too
                "text": "Star rating",
            },
            {"key": "text", "type": "text", "text": "Review"},
        ],
    )
    survey.is_review_inbox = True
    survey.save(update_fields=["is_review_inbox"])
    return survey


def review_add(
    *,
    workspace: Workspace,
    rating: object,
    text: str,
    site: str,
    review_id: str,
    at: datetime,
    customer: Customer | None = None,
) -> SubmitResult:
    """Store one review or other customer text (stars 1–5 or none, text, the site or source it
    came from) as feedback; idempotent on id. A row needs a rating or a text."""
    inbox = review_inbox(workspace=workspace)
    site = (site or "unknown").strip().lower()[:32]
    answers: dict[str, object] = {"text": text}
    if rating not in (None, ""):
        answers["rating"] = rating
    elif not str(text or "").strip():
        raise AnswerInvalid([FieldError("answers.text", "give a text or a rating")])
    return response_submit(
        survey=inbox,
        answers=answers,
        response_key=f"review:{site}:{review_id}"[:64],
        customer=customer,
        source="review",
        channel="review",
        touchpoint=site,
        at=at,
        check_open=False,
    )


def responses_export_record(*, survey: Survey, actor: core_services.Actor, fmt: str) -> None:
    """Audit a download of a survey's responses (answers are personal data), as the privacy
    exports are: who took them, which survey, in which format, how many."""
    core_services.audit_record(
        workspace=survey.workspace,
        action="responses_export",
        actor=actor if isinstance(actor, AbstractUser) else None,
        target=f"survey #{survey.pk}",
        detail={"survey": survey.name, "format": fmt, "responses": survey.responses.count()},
    )


def _copy_scores(response: Response, questions: Sequence[Question], answers: dict) -> None:
    """Copy the NPS/CSAT/CES scores and the first free text onto the response row (metric
    queries read that one narrow table)."""
    for question in questions:
        value = answers.get(question.key)
        if value is None:
            continue
        if question.metric:
            setattr(response, f"{question.metric}_score", value)
        if question.type == "text" and not response.comment:
            response.comment = str(value)
