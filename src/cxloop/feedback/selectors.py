"""Reads for feedback: surveys, localized questions, responses and their export, invitations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Avg, Count, Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from cxloop.core.models import Workspace
from cxloop.customers import selectors as customer_selectors
from cxloop.feedback._export import EXPORT_FIXED as EXPORT_FIXED  # re-exported: public here
from cxloop.feedback._export import responses_csv as responses_csv
from cxloop.feedback._export import responses_export as responses_export
from cxloop.feedback.logic import normalize_answer, rule_of
from cxloop.feedback.models import Answer, Invitation, Response, ScoreDay, Survey, Trigger

# Choice values other apps and the web layer need (statuses, kinds), re-exported here so they
# never import ``cxloop.feedback.models``.
from cxloop.feedback.models import InvitationStatus as InvitationStatus
from cxloop.feedback.models import SurveyKind as SurveyKind
from cxloop.feedback.models import SurveyStatus as SurveyStatus

if TYPE_CHECKING:
    from cxloop.customers.models import Customer


def workspace_surveys(*, workspace: Workspace) -> QuerySet[Survey]:
    """Every survey of ``workspace`` (review inboxes included), unordered: a base query."""
    return Survey.objects.filter(workspace=workspace)


def published_surveys(*, workspace: Workspace) -> QuerySet[Survey]:
    """The surveys of ``workspace`` that are live or closed, or hold answers (imported into a
    draft), unordered: what reports offer to filter by. A draft nobody answered is left out."""
    answered = Response.objects.filter(survey=OuterRef("pk"))
    return workspace_surveys(workspace=workspace).filter(
        ~Q(status=SurveyStatus.DRAFT) | Exists(answered)
    )


def workspace_responses(*, workspace: Workspace) -> QuerySet[Response]:
    """Every response of ``workspace`` (partial ones included), unordered: a base query other
    apps keep filtering, aggregating or correlating (``OuterRef``)."""
    return Response.objects.filter(workspace=workspace)


def score_days(*, workspace: Workspace, metric: str) -> QuerySet[ScoreDay]:
    """The daily score rollup of one metric (``nps``, ``csat``, ``ces``) in ``workspace``:
    rows of (survey, UTC day, channel) with n, the NPS bands, CSAT's satisfied count (at the
    survey's top box), the sum and the sum of squares of the scores. Unordered: a base query."""
    return ScoreDay.objects.filter(workspace=workspace, metric=metric)


def workspace_invitations(*, workspace: Workspace) -> QuerySet[Invitation]:
    """Every invitation of ``workspace``, whatever its status, unordered: a base query."""
    return Invitation.objects.filter(workspace=workspace)


def response_latest_id() -> int | None:
    """The newest response id in the whole table, any workspace (None when empty).

    Only for change detection (e.g. hashed into a fingerprint): it says nothing about whose
    response it is.
    """
    return Response.objects.aggregate(top=Max("pk"))["top"]


def survey_list(*, workspace: Workspace) -> QuerySet[Survey]:
    """Surveys with response counts (``answered``: complete ones), newest first."""
    return (
        Survey.objects.filter(workspace=workspace)
        .annotate(
            answered=Count("responses", filter=Q(responses__completed=True)),
            partial=Count("responses", filter=Q(responses__completed=False)),
        )
        .order_by("is_review_inbox", "-created_at", "-pk")
    )


def survey_name_taken(*, workspace: Workspace, name: str, exclude_id: int | None = None) -> bool:
    """Whether another survey of ``workspace`` has this name (case and outer spaces ignored)."""
    rows = Survey.objects.filter(workspace=workspace, name__iexact=name.strip())
    return rows.exclude(pk=exclude_id).exists() if exclude_id else rows.exists()


def survey_name_free(*, workspace: Workspace, name: str) -> str:
    """``name`` if no survey of ``workspace`` has it, else the first free "name (2)", "(3)"…"""
    base = name.strip()
    taken = {
        n.casefold()
        for n in Survey.objects.filter(workspace=workspace, name__istartswith=base).values_list(
            "name", flat=True
        )
    }
    if base.casefold() not in taken:
        return base
    number = 2
    while f"{base} ({number})".casefold() in taken:
        number += 1
    return f"{base} ({number})"[:200] if len(base) < 190 else f"{base[:190]} ({number})"


def survey_touchpoints(*, survey_ids: Sequence[int]) -> dict[int, list[str]]:
    """Survey id → the touchpoints it asks about: its triggers' events, else those its
    responses name (imports, the API), sorted."""
    found: dict[int, set[str]] = {}
    for survey_id, event in Trigger.objects.filter(survey_id__in=survey_ids).values_list(
        "survey_id", "event_name"
    ):
        found.setdefault(survey_id, set()).add(event)
    rest = [pk for pk in survey_ids if pk not in found]
    answered = (
        Response.objects.filter(survey_id__in=rest)
        .exclude(touchpoint="")
        .values_list("survey_id", "touchpoint")
        .distinct()
    )
    for survey_id, touchpoint in answered:
        found.setdefault(survey_id, set()).add(touchpoint)
    return {pk: sorted(names)[:5] for pk, names in found.items()}


def survey_get(*, workspace: Workspace, survey_id: int) -> Survey | None:
    return Survey.objects.filter(workspace=workspace, pk=survey_id).first()


def survey_by_token(*, token: str) -> Survey | None:
    return Survey.objects.filter(public_token=token).select_related("workspace").first()


def survey_spec(survey: Survey) -> dict:
    """The survey as the spec ``survey_create`` takes (for the API and for copying)."""
    return {
        "name": survey.name,
        "kind": survey.kind,
        "status": survey.status,
        "languages": survey.languages,
        "intro": survey.intro,
        "closes_at": survey.closes_at,
        "questions": [
            {
                "key": q.key,
                "type": q.type,
                "text": q.text,
                "required": q.required,
                "scale_min": q.scale_min,
                "scale_max": q.scale_max,
                "scale_labels": q.scale_labels,
                "metric": q.metric,
                "choices": q.choices,
                "show_if": q.show_if,
            }
            for q in survey.questions.all()
        ],
    }


def pick_language(*, survey: Survey, requested: str = "", accept_language: str = "") -> str:
    """``?lang=`` if the survey has it, else the best Accept-Language match, else the default."""
    available = survey.languages or ["en"]
    candidates = [requested] if requested else []
    weighted = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, index, tag.strip().lower()))
    candidates += [tag for _, _, tag in sorted(weighted)]
    for tag in candidates:
        tag = tag.lower()
        if tag in available:
            return tag
        if tag.split("-")[0] in available:
            return tag.split("-")[0]
    return available[0]


def _text(texts: dict, language: str, default: str) -> str:
    return texts.get(language) or texts.get(default) or next(iter(texts.values()), "")


@dataclass
class LocalQuestion:
    """A question ready to render in one language."""

    key: str
    type: str
    text: str
    required: bool
    scale: list[int]
    low_label: str
    high_label: str
    choices: list[tuple[str, str]]
    show_if: dict | None
    metric: str


def localized_question(question, language: str) -> LocalQuestion:
    default = question.survey.default_language
    labels = question.scale_labels.get(language) or question.scale_labels.get(default) or ["", ""]
    scale = []
    if question.scale_min is not None:
        scale = list(range(question.scale_min, question.scale_max + 1))
    return LocalQuestion(
        key=question.key,
        type=question.type,
        text=_text(question.text, language, default),
        required=question.required,
        scale=scale,
        low_label=labels[0],
        high_label=labels[1],
        choices=[(c["value"], _text(c["label"], language, default)) for c in question.choices],
        show_if=question.show_if,
        metric=question.metric,
    )


def survey_localized(*, survey: Survey, language: str) -> list[LocalQuestion]:
    return [localized_question(q, language) for q in survey.questions.select_related("survey")]


def survey_intro(*, survey: Survey, language: str) -> str:
    return _text(survey.intro, language, survey.default_language) if survey.intro else ""


def response_list(*, survey: Survey, completed: bool | None = None) -> QuerySet[Response]:
    """A survey's responses, newest first, with their answers prefetched (no query per row)."""
    responses = (
        Response.objects.filter(survey=survey)
        .select_related("customer")
        .prefetch_related("answers__question")
    )
    if completed is not None:
        responses = responses.filter(completed=completed)
    return responses.order_by("-submitted_at", "-started_at", "-pk")


def response_by_key(*, survey: Survey, response_key: str) -> Response | None:
    return Response.objects.filter(survey=survey, response_key=response_key).first()


def response_answers(*, response: Response) -> dict[str, object]:
    """Question key → answer, in question order (uses prefetched answers when present)."""
    answers = sorted(response.answers.all(), key=lambda a: (a.question.position, a.question_id))
    return {a.question.key: a.value for a in answers}


def question_answer_counts(*, survey: Survey) -> dict[str, int]:
    """Question key → how many stored answers it has (answered questions only)."""
    rows = (
        Answer.objects.filter(question__survey=survey)
        .values("question__key")
        .annotate(n=Count("pk"))
        .values_list("question__key", "n")
    )
    return dict(rows)


def response_stats(*, survey: Survey) -> dict:
    rows = Response.objects.filter(survey=survey, completed=True)
    return rows.aggregate(
        responses=Count("pk"),
        promoters=Count("pk", filter=Q(nps_score__gte=9)),
        detractors=Count("pk", filter=Q(nps_score__lte=6)),
        nps_answers=Count("nps_score"),
        csat_answers=Count("csat_score"),
        csat_happy=Count("pk", filter=Q(csat_score__gte=survey.csat_top_box)),
        ces_answers=Count("ces_score"),
        ces_average=Avg("ces_score"),
    )


def answers_prefill(*, survey: Survey, given: Mapping[str, str]) -> dict[str, object]:
    """The valid rating and single-choice answers among ``given`` (a score link's query string),
    as the form shows them; anything else is left out. Reads only: a link never stores."""
    rules = {q.key: rule_of(q) for q in survey.questions.all()}
    shown: dict[str, object] = {}
    for key, raw in given.items():
        rule = rules.get(key)
        if rule is None or rule.type not in ("rating", "single_choice"):
            continue
        try:
            value = normalize_answer(rule, raw)
        except ValueError:
            continue
        if value is not None:
            shown[key] = value
    return shown


def customer_email(*, customer: Customer) -> str:
    """The customer's first known email address, or ''."""
    for identity in customer_selectors.customer_identities(customer=customer):
        if identity.kind == "email":
            return identity.value
    return ""


def customer_ids_by_email(*, workspace: Workspace, emails: Sequence[str]) -> dict[str, int]:
    return customer_selectors.customer_ids_by_identity(
        workspace=workspace, kind="email", values=[e.strip().lower() for e in emails]
    )


def customer_responses(*, customer: Customer) -> QuerySet[Response]:
    return (
        Response.objects.filter(customer=customer)
        .select_related("survey")
        .order_by("-submitted_at")
    )


SCORE_METRICS = ("nps", "csat", "ces")


def response_latest_score(
    *, workspace: Workspace, metric: str, customer_ref: str = "pk"
) -> Subquery:
    """A correlated subquery: the latest ``metric`` score (nps, csat or ces) the customer whose
    id is the outer query's ``customer_ref`` gave; NULL for one who never gave it. For
    annotations and sorting on customer querysets (the customer list)."""
    if metric not in SCORE_METRICS:
        raise ValueError(f"metric: use one of {', '.join(SCORE_METRICS)}, got {metric!r}")
    column = f"{metric}_score"
    return Subquery(
        Response.objects.filter(
            workspace=workspace, customer_id=OuterRef(customer_ref), **{f"{column}__isnull": False}
        )
        .annotate(answered_at=Coalesce("submitted_at", "started_at"))
        .order_by("-answered_at", "-pk")
        .values(column)[:1]
    )


def customer_responses_between(
    *, customer: Customer, after: datetime | None, until: datetime | None
) -> list[Response]:
    """The customer's survey answers and reviews given after ``after`` and up to ``until``
    (None: no bound), newest first (at most 200): entries of the 360 timeline."""
    rows = Response.objects.filter(customer=customer).annotate(
        answered_at=Coalesce("submitted_at", "started_at")
    )
    if after is not None:
        rows = rows.filter(answered_at__gt=after)
    if until is not None:
        rows = rows.filter(answered_at__lte=until)
    return list(rows.select_related("survey").order_by("-answered_at", "-pk")[:200])


def nps_answers(*, workspace: Workspace, until: datetime) -> list[tuple[int, datetime, int]]:
    """Every NPS score a known customer gave up to ``until``: (customer id, when, score),
    oldest first."""
    rows = (
        Response.objects.filter(
            workspace=workspace,
            customer__isnull=False,
            nps_score__isnull=False,
            submitted_at__isnull=False,
            submitted_at__lte=until,
        )
        .order_by("submitted_at", "pk")
        .values_list("customer_id", "submitted_at", "nps_score")
    )
    return [
        (customer_id, submitted_at, score)
        for customer_id, submitted_at, score in rows.iterator(chunk_size=5000)
        if submitted_at is not None and score is not None
    ]


# ---------------------------------------------------------------- triggers and invitations


def trigger_list(*, survey: Survey) -> QuerySet[Trigger]:
    return survey.triggers.annotate(
        scheduled=Count("invitation", filter=Q(invitation__status=InvitationStatus.SCHEDULED)),
        sent=Count("invitation", filter=Q(invitation__status=InvitationStatus.SENT)),
        skipped=Count("invitation", filter=Q(invitation__status=InvitationStatus.SKIPPED)),
    ).order_by("pk")


def invitation_by_token(*, survey: Survey, token: str) -> Invitation | None:
    if not token:
        return None
    return Invitation.objects.filter(survey=survey, token=token).select_related("customer").first()


def invitation_list(*, survey: Survey) -> QuerySet[Invitation]:
    return survey.invitations.select_related("customer").order_by("-due_at", "-pk")


def last_invited(*, survey_id: int, customer_ids: set[int]) -> dict[int, datetime]:
    """Latest due time of a scheduled or sent invitation to this survey, per customer."""
    rows = (
        Invitation.objects.filter(
            survey_id=survey_id,
            customer_id__in=customer_ids,
            status__in=(InvitationStatus.SCHEDULED, InvitationStatus.SENT),
        )
        .values("customer_id")
        .annotate(last=Max("due_at"))
    )
    return {row["customer_id"]: row["last"] for row in rows}


def last_sent(*, survey_id: int, customer_id: int, since: datetime) -> datetime | None:
    return Invitation.objects.filter(
        survey_id=survey_id,
        customer_id=customer_id,
        status=InvitationStatus.SENT,
        sent_at__gte=since,
    ).aggregate(last=Max("sent_at"))["last"]
