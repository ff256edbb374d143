"""What happens to a person's survey responses and invitations when profiles merge, unmerge,
are exported or erased.

Registered with ``customers.handlers`` in ``FeedbackConfig.ready()``; customers calls them.

Erasure keeps what metrics count and nothing that identifies or quotes the person: a response
stays as an anonymous row (survey, scores, when, channel, language, completed) with no customer,
no comment, a meaningless ``response_key`` and no free-text answers (ratings and choices stay,
unlinked, so question breakdowns still add up). Invitations (they hold an email) are deleted.
"""

from __future__ import annotations

from django.db.models import CharField, F, Value
from django.db.models.functions import Cast, Concat

from cxloop.core.db import IN_CHUNK, chunked
from cxloop.feedback.models import Answer, Invitation, QuestionType, Response

_RESPONSE = (
    "id", "customer_id", "survey_id", "survey__name", "response_key", "source", "channel",
    "touchpoint", "language", "started_at", "submitted_at", "completed", "nps_score",
    "csat_score", "ces_score", "comment",
)  # fmt: skip
_INVITATION = (
    "id", "customer_id", "survey_id", "event_id", "channel", "touchpoint", "send_channel",
    "email", "due_at", "status", "reason", "sent_at", "created_at",
)  # fmt: skip


def feedback_customer_merge(*, survivor_id: int, merged_id: int) -> tuple[int, dict]:
    """Move the absorbed profile's responses and invitations to the survivor."""
    record, count = {}, 0
    for name, model in (("responses", Response), ("invitations", Invitation)):
        ids = list(model.objects.filter(customer_id=merged_id).values_list("pk", flat=True))
        for chunk in chunked(ids, IN_CHUNK):
            count += model.objects.filter(pk__in=chunk).update(customer_id=survivor_id)
        if ids:
            record[name] = ids
    return count, record


def feedback_customer_unmerge(
    *, holder_id: int, restored_id: int, moved: dict, identities: set[tuple[str, str]]
) -> int:
    """Give back the responses and invitations the merge moved (those still on a profile)."""
    count = 0
    for name, model in (("responses", Response), ("invitations", Invitation)):
        for chunk in chunked(moved.get(name, []), IN_CHUNK):
            count += model.objects.filter(pk__in=chunk, customer__isnull=False).update(
                customer_id=restored_id
            )
    return count


def feedback_customer_export(*, customer_ids: list[int]) -> dict[str, list[dict]]:
    responses = Response.objects.filter(customer_id__in=customer_ids).order_by("started_at", "pk")
    answers = (
        Answer.objects.filter(response__customer_id__in=customer_ids)
        .order_by("response_id", "question__position")
        .values("response_id", "question__key", "question__type", "value")
    )
    invitations = Invitation.objects.filter(customer_id__in=customer_ids).order_by("pk")
    return {
        "responses": list(responses.values(*_RESPONSE)),
        "answers": list(answers),
        "invitations": list(invitations.values(*_INVITATION)),
    }


def feedback_customer_erase(*, customer_ids: list[int]) -> dict[str, int]:
    responses = Response.objects.filter(customer_id__in=customer_ids)
    free_text, _ = Answer.objects.filter(
        response__in=responses, question__type=QuestionType.TEXT
    ).delete()
    invitations, _ = Invitation.objects.filter(customer_id__in=customer_ids).delete()
    anonymized = responses.update(
        customer=None,
        comment="",
        touchpoint="",
        invitation=None,
        response_key=Concat(Value("erased:"), Cast(F("pk"), CharField())),
    )
    return {"responses": anonymized, "free_text_answers": free_text, "invitations": invitations}
