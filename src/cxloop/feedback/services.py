"""Writes for feedback: surveys, responses, triggers and invitations, reviews."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from cxloop.core.models import Workspace
from cxloop.customers import selectors as customer_selectors
from cxloop.events import selectors as event_selectors
from cxloop.feedback import selectors
from cxloop.feedback.logic import (
    AlreadyAnswered,
    AnswerInvalid,
    FeedbackError,
    FieldError,
    SurveyInvalid,
    SurveyUnavailable,
    check_answers,
    clean_languages,
    clean_question,
    clean_questions,
    rule_of,
)
from cxloop.feedback.models import (
    Answer,
    Invitation,
    InvitationStatus,
    Question,
    Response,
    Survey,
    SurveyKind,
    SurveyStatus,
    Trigger,
)
from cxloop.feedback.templates import template_spec

if TYPE_CHECKING:
    from cxloop.customers.models import Customer

__all__ = [
    "AnswerInvalid",
    "FeedbackError",
    "FieldError",
    "SurveyInvalid",
    "SurveyUnavailable",
]

PUBLIC_PATH = "/s/{token}/"
# An event that reached us this long after it happened is history (an import, not a live touch):
# triggers do not ask customers about it.
HISTORY_AFTER = timedelta(days=30)
_UNSET = object()


# ---------------------------------------------------------------- surveys


def _token() -> str:
    return secrets.token_urlsafe(12)


def _intro(raw: object, languages: list[str]) -> dict:
    if raw in (None, "", {}):
        return {}
    if isinstance(raw, str):
        return {languages[0]: raw.strip()}
    if not isinstance(raw, Mapping) or any(not isinstance(v, str) for v in raw.values()):
        raise SurveyInvalid([FieldError("intro", 'expected text or {"language": "text"}')])
    return {lang: text.strip() for lang, text in raw.items() if lang in languages and text.strip()}


def _clean_header(name: object, kind: object, status: object) -> list[FieldError]:
    errors = []
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors.append(FieldError("name", "a survey needs a name of 1–200 characters"))
    if kind not in SurveyKind.values:
        errors.append(FieldError("kind", f"expected one of {', '.join(SurveyKind.values)}"))
    if status not in SurveyStatus.values:
        errors.append(FieldError("status", f"expected one of {', '.join(SurveyStatus.values)}"))
    return errors


@transaction.atomic
def survey_create(
    *,
    workspace: Workspace,
    name: str,
    kind: str = SurveyKind.CUSTOM,
    languages: object = None,
    questions: object = (),
    intro: object = None,
    status: str = SurveyStatus.DRAFT,
    closes_at: datetime | None = None,
) -> Survey:
    """Create a survey with its questions; raises SurveyInvalid naming every bad field."""
    errors = _clean_header(name, kind, status)
    langs = clean_languages(languages)
    try:
        cleaned = clean_questions(list(questions), langs)
    except SurveyInvalid as exc:
        errors.extend(exc.errors)
        cleaned = []
    if errors:
        raise SurveyInvalid(errors)
    survey = Survey.objects.create(
        workspace=workspace,
        name=name.strip(),
        kind=kind,
        status=status,
        languages=langs,
        intro=_intro(intro, langs),
        closes_at=closes_at,
        public_token=_token(),
    )
    Question.objects.bulk_create(Question(survey=survey, **q) for q in cleaned)
    return survey


def survey_create_from_template(
    *,
    workspace: Workspace,
    template: str,
    languages: list[str] | None = None,
    name: str | None = None,
    status: str = SurveyStatus.ACTIVE,
) -> Survey:
    """A survey copied from a ready template (see ``cxloop.feedback.templates``)."""
    try:
        spec = template_spec(template, languages=languages)
    except KeyError as exc:
        raise SurveyInvalid([FieldError("template", exc.args[0])]) from None
    return survey_create(
        workspace=workspace,
        name=name or spec["name"],
        kind=spec["kind"],
        languages=spec["languages"],
        questions=spec["questions"],
        intro=spec["intro"],
        status=status,
    )


@transaction.atomic
def survey_update(
    *,
    survey: Survey,
    name: object = _UNSET,
    status: object = _UNSET,
    closes_at: object = _UNSET,
    intro: object = _UNSET,
    languages: object = _UNSET,
    questions: object = _UNSET,
) -> Survey:
    """Change a survey; questions (and languages) can be replaced only while it has no responses."""
    errors = _clean_header(
        survey.name if name is _UNSET else name,
        survey.kind,
        survey.status if status is _UNSET else status,
    )
    if errors:
        raise SurveyInvalid(errors)
    if name is not _UNSET:
        survey.name = name.strip()
    if status is not _UNSET:
        survey.status = status
    if closes_at is not _UNSET:
        survey.closes_at = closes_at
    if languages is not _UNSET or questions is not _UNSET:
        if survey.responses.exists():
            raise SurveyInvalid(
                [FieldError("questions", "the survey has responses: its questions are fixed")]
            )
        if languages is not _UNSET:
            survey.languages = clean_languages(languages)
        specs = questions if questions is not _UNSET else selectors.survey_spec(survey)["questions"]
        cleaned = clean_questions(list(specs), survey.languages)
        survey.questions.all().delete()
        Question.objects.bulk_create(Question(survey=survey, **q) for q in cleaned)
    if intro is not _UNSET:
        survey.intro = _intro(intro, survey.languages)
    survey.save()
    return survey


@transaction.atomic
def question_add(*, survey: Survey, spec: Mapping) -> Question:
    """Append one question (the web builder); skip logic may use any earlier question."""
    earlier = [{"key": q.key, "type": q.type, "metric": q.metric} for q in survey.questions.all()]
    cleaned = clean_question(spec, survey.languages, earlier=earlier, field="question")
    if isinstance(cleaned, list):
        raise SurveyInvalid(cleaned)
    if cleaned["metric"] and any(q["metric"] == cleaned["metric"] for q in earlier):
        raise SurveyInvalid(
            [
                FieldError(
                    "question.metric", f"another question already measures {cleaned['metric']}"
                )
            ]
        )
    position = max((q.position for q in survey.questions.all()), default=-1) + 1
    question = Question.objects.create(survey=survey, position=position, **cleaned)
    survey.save(update_fields=["updated_at"])
    return question


@transaction.atomic
def question_delete(*, survey: Survey, key: str) -> None:
    """Remove a question no answer uses and no other question's skip logic depends on."""
    question = survey.questions.filter(key=key).first()
    if question is None:
        raise SurveyInvalid([FieldError("question", f"no question {key!r}")])
    if Answer.objects.filter(question=question).exists():
        raise SurveyInvalid([FieldError("question", f"{key!r} has answers and cannot be removed")])
    dependants = [q.key for q in survey.questions.all() if (q.show_if or {}).get("question") == key]
    if dependants:
        raise SurveyInvalid(
            [FieldError("question", f"{', '.join(dependants)} depend on {key!r} (skip logic)")]
        )
    question.delete()


@transaction.atomic
def question_move(*, survey: Survey, key: str, offset: int) -> None:
    """Move a question one place up (``offset=-1``) or down (``+1``).

    Skip logic may only look back, so a question cannot move above the question it depends on,
    nor below a question that depends on it.
    """
    if offset not in (-1, 1):
        raise SurveyInvalid([FieldError("question", "move by -1 (up) or +1 (down)")])
    questions = list(survey.questions.select_for_update().order_by("position", "pk"))
    index = next((i for i, q in enumerate(questions) if q.key == key), None)
    if index is None:
        raise SurveyInvalid([FieldError("question", f"no question {key!r}")])
    other_index = index + offset
    if not 0 <= other_index < len(questions):
        where = "first" if offset < 0 else "last"
        raise SurveyInvalid([FieldError("question", f"{key!r} is already the {where} question")])
    moving, other = questions[index], questions[other_index]
    earlier, later = (moving, other) if offset < 0 else (other, moving)
    if (earlier.show_if or {}).get("question") == later.key:
        raise SurveyInvalid(
            [
                FieldError(
                    "question",
                    f"{earlier.key!r} depends on {later.key!r} (skip logic), so it must stay after it",
                )
            ]
        )
    questions[index], questions[other_index] = other, moving
    for position, question in enumerate(questions):
        question.position = position
    Question.objects.bulk_update(questions, ["position"])
    survey.save(update_fields=["updated_at"])


def survey_delete(*, survey: Survey) -> None:
    survey.delete()


def survey_check_open(*, survey: Survey, now: datetime | None = None) -> None:
    """Raise SurveyUnavailable unless the survey takes answers now."""
    now = now or timezone.now()
    if survey.status == SurveyStatus.CLOSED or survey.is_review_inbox:
        raise SurveyUnavailable("This survey is closed and no longer takes answers.", gone=True)
    if survey.closes_at is not None and survey.closes_at <= now:
        raise SurveyUnavailable(
            f"This survey closed on {survey.closes_at:%d %b %Y} and no longer takes answers.",
            gone=True,
        )
    if survey.status == SurveyStatus.DRAFT:
        raise SurveyUnavailable("This survey is not open yet.", gone=False)


# ---------------------------------------------------------------- responses


@dataclass
class SubmitResult:
    response: Response
    created: bool
    duplicate: bool  # the response was already complete: nothing changed


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
    try:
        return _submit(
            survey, questions, rules, answers, response_key, complete, customer, language,
            source, channel, touchpoint, invitation, at or now, drop_hidden,
        )  # fmt: skip
    except IntegrityError:
        # a concurrent submission with the same key won the insert: add to (or return) it
        return _submit(
            survey, questions, rules, answers, response_key, complete, customer, language,
            source, channel, touchpoint, invitation, at or now, drop_hidden,
        )  # fmt: skip


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
    for question in questions:
        value = merged.get(question.key)
        if value is None:
            continue
        if question.metric:
            setattr(response, f"{question.metric}_score", value)
        if question.type == "text" and not response.comment:
            response.comment = value
    with transaction.atomic():  # savepoint: a lost insert race leaves the outer transaction usable
        response.save()
    if existing is not None:
        existing.answers.all().delete()
    by_key = {q.key: q for q in questions}
    Answer.objects.bulk_create(
        Answer(response=response, question=by_key[key], value=value)
        for key, value in merged.items()
    )
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
            for question in questions:
                value = merged.get(question.key)
                if value is None:
                    continue
                if question.metric:
                    setattr(response, f"{question.metric}_score", value)
                if question.type == "text" and not response.comment:
                    response.comment = value
            rows.append(response)
            answers_of[item.response_key] = merged
        Response.objects.bulk_create(rows, batch_size=500)
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
    return stored, errors


# ---------------------------------------------------------------- triggers and invitations


def trigger_create(
    *,
    survey: Survey,
    event_name: str,
    conditions: Mapping | None = None,
    delay_minutes: int = 0,
    frequency_cap_days: int = 90,
    consent_channel: str = "email",
    send_channel: str = "email",
    from_event_id: int | None = None,
) -> Trigger:
    """Ask ``survey`` after each ``event_name`` event from now on (or after ``from_event_id``)."""
    errors = []
    if not isinstance(event_name, str) or not event_name.strip():
        errors.append(FieldError("event_name", "name the event, e.g. 'Order Completed'"))
    if conditions is not None and (
        not isinstance(conditions, Mapping)
        or any(not isinstance(v, str | int | float | bool) for v in conditions.values())
    ):
        errors.append(FieldError("conditions", 'expected {"property": value} with plain values'))
    for name, value in (
        ("delay_minutes", delay_minutes),
        ("frequency_cap_days", frequency_cap_days),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors.append(FieldError(name, "expected a whole number ≥ 0"))
    if send_channel != "email":
        errors.append(FieldError("send_channel", "only email sending is available"))
    if survey.is_review_inbox:
        errors.append(FieldError("survey", "reviews are imported, not asked"))
    if errors:
        raise SurveyInvalid(errors)
    cursor = (
        from_event_id
        if from_event_id is not None
        else event_selectors.latest_event_id(workspace_id=survey.workspace_id)
    )
    return Trigger.objects.create(
        workspace_id=survey.workspace_id,
        survey=survey,
        event_name=event_name.strip(),
        conditions=dict(conditions or {}),
        delay_minutes=delay_minutes,
        frequency_cap_days=frequency_cap_days,
        consent_channel=consent_channel.strip().lower(),
        send_channel=send_channel,
        cursor_event_id=cursor,
    )


def trigger_set_active(*, trigger: Trigger, active: bool) -> None:
    trigger.active = active
    trigger.save(update_fields=["active"])


def _matches(conditions: Mapping, event) -> bool:
    for key, wanted in conditions.items():
        actual = event.channel if key == "channel" else event.properties.get(key)
        if actual != wanted and str(actual) != str(wanted):
            return False
    return True


def triggers_scan(
    *, workspace: Workspace | None = None, batch: int = 5000, now: datetime | None = None
) -> int:
    """Schedule invitations for events that arrived since each trigger's cursor.

    Idempotent on (trigger, event); a customer already asked this survey within the trigger's
    frequency cap gets a ``skipped`` invitation saying so. Returns how many were scheduled.
    """
    triggers = Trigger.objects.filter(active=True).select_related("survey")
    if workspace is not None:
        triggers = triggers.filter(workspace=workspace)
    scheduled = 0
    for trigger in triggers:
        while True:
            done, more = _scan_one(trigger, batch)
            scheduled += done
            if not more:
                break
    return scheduled


@transaction.atomic
def _scan_one(trigger: Trigger, batch: int) -> tuple[int, bool]:
    trigger = Trigger.objects.select_for_update().select_related("survey").get(pk=trigger.pk)
    ceiling = event_selectors.latest_event_id(workspace_id=trigger.workspace_id)
    events = event_selectors.events_after(
        workspace_id=trigger.workspace_id,
        name=trigger.event_name,
        after_id=trigger.cursor_event_id,
        up_to_id=ceiling,
        limit=batch,
    )
    more = len(events) == batch
    if not events:
        # nothing matched: later scans start after the events seen so far
        if ceiling > trigger.cursor_event_id:
            trigger.cursor_event_id = ceiling
            trigger.save(update_fields=["cursor_event_id"])
        return 0, False
    live = customer_selectors.customer_survivor_ids(customer_ids={e.customer_id for e in events})
    cap = timedelta(days=trigger.frequency_cap_days)
    last_asked = selectors.last_invited(
        survey_id=trigger.survey_id, customer_ids=set(live.values())
    )
    rows = []
    for event in events:
        if not _matches(trigger.conditions, event):
            continue
        customer_id = live[event.customer_id]
        due = event.occurred_at + timedelta(minutes=trigger.delay_minutes)
        previous = last_asked.get(customer_id)
        status, reason = InvitationStatus.SCHEDULED, ""
        if event.received_at - event.occurred_at > HISTORY_AFTER:
            status = InvitationStatus.SKIPPED  # imported history: too late to ask about it
            reason = f"the event arrived {(event.received_at - event.occurred_at).days} days late"
        elif previous is not None and cap and abs(due - previous) < cap:
            status = InvitationStatus.SKIPPED
            reason = f"already asked on {previous:%d %b %Y} (at most once in {cap.days} days)"
        else:
            last_asked[customer_id] = due
        rows.append(
            Invitation(
                workspace_id=trigger.workspace_id,
                survey_id=trigger.survey_id,
                trigger=trigger,
                customer_id=customer_id,
                event_id=event.pk,
                token=_token(),
                channel=event.channel,
                touchpoint=event.name,
                send_channel=trigger.send_channel,
                due_at=due,
                status=status,
                reason=reason,
            )
        )
    Invitation.objects.bulk_create(rows, ignore_conflicts=True)
    trigger.cursor_event_id = events[-1].pk if more else ceiling
    trigger.save(update_fields=["cursor_event_id"])
    return sum(r.status == InvitationStatus.SCHEDULED for r in rows), more


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    reasons: list[str] = field(default_factory=list)


def invitation_link(invitation: Invitation) -> str:
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    path = PUBLIC_PATH.format(token=invitation.survey.public_token)
    return f"{base}{path}?i={invitation.token}"


def invitations_send_due(
    *, workspace: Workspace | None = None, now: datetime | None = None, limit: int = 500
) -> SendReport:
    """Email every invitation that is due, honouring consent and the frequency cap.

    Each one ends ``sent``, ``skipped`` (with the reason: no consent, no address, asked recently,
    survey closed) or ``failed`` (the SMTP error), so a retry never sends twice.
    """
    now = now or timezone.now()
    report = SendReport()
    due = (
        Invitation.objects.filter(status=InvitationStatus.SCHEDULED, due_at__lte=now)
        .select_related("survey", "survey__workspace", "trigger", "customer")
        .order_by("due_at", "pk")
    )
    if workspace is not None:
        due = due.filter(workspace=workspace)
    due = due[:limit]
    connection = None
    try:
        for invitation in due:
            reason = _why_not_send(invitation, now)
            if reason:
                invitation.status, invitation.reason = InvitationStatus.SKIPPED, reason
                invitation.save(update_fields=["status", "reason", "customer"])
                report.skipped += 1
                report.reasons.append(reason)
                continue
            if connection is None:  # a server that is down leaves everything scheduled
                connection = get_connection()
                connection.open()
            # claim it first: an overlapping round (worker + `cxloop feedback send`) skips it
            claimed = Invitation.objects.filter(
                pk=invitation.pk, status=InvitationStatus.SCHEDULED
            ).update(status=InvitationStatus.SENT, sent_at=now)
            if not claimed:
                continue
            try:
                _email(invitation, connection)
            except Exception as exc:  # SMTP and socket errors: recorded, the batch goes on
                invitation.status = InvitationStatus.FAILED
                invitation.reason = f"{type(exc).__name__}: {exc}"[:300]
                report.failed += 1
                report.reasons.append(invitation.reason)
            else:
                invitation.status, invitation.sent_at = InvitationStatus.SENT, now
                report.sent += 1
            invitation.save(update_fields=["status", "reason", "sent_at", "email", "customer"])
    finally:
        if connection is not None:
            connection.close()
    return report


def _why_not_send(invitation: Invitation, now: datetime) -> str:
    customer = invitation.customer
    while customer.merged_into_id:
        customer = customer.merged_into
    invitation.customer = customer
    try:
        survey_check_open(survey=invitation.survey, now=now)
    except SurveyUnavailable as exc:
        return str(exc)
    trigger = invitation.trigger
    consent = {c.channel: c.status for c in customer_selectors.customer_consents(customer=customer)}
    if consent.get(invitation.send_channel) == "withdrawn":  # always honoured
        return f"{invitation.send_channel} consent withdrawn"
    wanted = trigger.consent_channel if trigger else "email"
    if wanted and consent.get(wanted) != "granted":
        return f"no {wanted} consent"
    cap_days = trigger.frequency_cap_days if trigger else 0
    if cap_days:
        recent = selectors.last_sent(
            survey_id=invitation.survey_id,
            customer_id=customer.pk,
            since=now - timedelta(days=cap_days),
        )
        if recent is not None:
            return f"already asked on {recent:%d %b %Y} (at most once in {cap_days} days)"
    email = selectors.customer_email(customer=customer)
    if not email:
        return "no email address"
    invitation.email = email
    return ""


_EMAIL_TEXT = {
    "en": {"hello": "Hello", "ask": "{name} would like to hear about your experience.",
           "answer": "Answer the survey", "here": "Answer here (it takes less than a minute):",
           "thanks": "It takes less than a minute. Thank you!"},
    "fr": {"hello": "Bonjour", "ask": "{name} aimerait connaître votre avis.",
           "answer": "Répondre au questionnaire", "here": "Répondez ici (moins d'une minute) :",
           "thanks": "Cela prend moins d'une minute. Merci !"},
    "de": {"hello": "Hallo", "ask": "{name} möchte gern von Ihren Erfahrungen hören.",
           "answer": "Zur Umfrage", "here": "Hier antworten (dauert weniger als eine Minute):",
           "thanks": "Es dauert weniger als eine Minute. Danke!"},
}  # fmt: skip
_SUBJECTS = {
    "en": "{name}: how did we do?",
    "fr": "{name} : qu'avez-vous pensé de nous ?",
    "de": "{name}: Wie waren wir?",
}


def _email(invitation: Invitation, connection) -> None:
    survey = invitation.survey
    traits = invitation.customer.traits or {}
    wanted = str(traits.get("language") or traits.get("locale") or "").replace("_", "-")
    language = selectors.pick_language(survey=survey, accept_language=wanted)
    first = survey.questions.order_by("position").first()
    link = invitation_link(invitation)
    if language != survey.default_language:
        link += f"&lang={language}"
    context = {
        "survey": survey,
        "workspace": survey.workspace,
        "language": language,
        "link": link,
        "text": {
            key: value.format(name=survey.workspace.name)
            for key, value in _EMAIL_TEXT.get(language, _EMAIL_TEXT["en"]).items()
        },
        "question": selectors.localized_question(first, language) if first else None,
        "customer": invitation.customer,
    }
    subject = _SUBJECTS.get(language, _SUBJECTS["en"]).format(name=survey.workspace.name)
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("feedback/email/invitation.txt", context),
        to=[invitation.email],
        connection=connection,
        headers={"X-Cxloop-Invitation": invitation.token},
    )
    message.attach_alternative(
        render_to_string("feedback/email/invitation.html", context), "text/html"
    )
    message.send()


def feedback_cycle(*, now: datetime | None = None) -> tuple[int, SendReport]:
    """One round of the background work: schedule from new events, then send what is due."""
    scheduled = triggers_scan(now=now)
    return scheduled, invitations_send_due(now=now)


def invitation_create(
    *, survey: Survey, customer: Customer, due_at: datetime | None = None, touchpoint: str = ""
) -> Invitation:
    """A one-off personal invitation (no trigger): sent by the next send round."""
    return Invitation.objects.create(
        workspace_id=survey.workspace_id,
        survey=survey,
        customer=customer,
        token=_token(),
        touchpoint=touchpoint,
        due_at=due_at or timezone.now(),
    )


# ---------------------------------------------------------------- reviews


def review_inbox(*, workspace: Workspace) -> Survey:
    """The workspace's "Reviews" inbox: a closed survey holding imported reviews."""
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
                "required": True,
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
    """Store one review (stars 1–5, text, the site it came from) as feedback; idempotent on id."""
    inbox = review_inbox(workspace=workspace)
    site = (site or "unknown").strip().lower()[:32]
    return response_submit(
        survey=inbox,
        answers={"rating": rating, "text": text},
        response_key=f"review:{site}:{review_id}"[:64],
        customer=customer,
        source="review",
        channel="review",
        touchpoint=site,
        at=at,
        check_open=False,
    )
