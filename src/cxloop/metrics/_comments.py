"""The dashboard's comments: answers with a comment, newest first, narrowed by score band
(:class:`Tone`) and theme, a page at a time (``selectors.comments_list`` applies the metrics'
filters first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.db.models import Q, QuerySet

from cxloop.core.models import Workspace
from cxloop.metrics import definitions as d
from cxloop.text import selectors as text_selectors


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    submitted_at: datetime
    comment: str
    survey: str
    customer_id: int | None
    customer_name: str
    channel: str
    touchpoint: str
    nps_score: int | None
    csat_score: int | None
    ces_score: int | None


class Tone(StrEnum):
    """A comment's score read on its own scale (the NPS answer, else CSAT, else CES)."""

    BAD = "bad"  # NPS 0–6 (detractor), CSAT 1–2, CES 1–3
    NEUTRAL = "neutral"  # NPS 7–8 (passive), CSAT 3, CES 4–5
    GOOD = "good"  # NPS 9–10 (promoter), CSAT 4–5, CES 6–7


def _tone_q(tone: Tone) -> Q:
    no_nps, no_csat = Q(nps_score__isnull=True), Q(csat_score__isnull=True)
    if tone is Tone.GOOD:
        return (
            Q(nps_score__gte=d.NPS_PROMOTER_MIN)
            | (no_nps & Q(csat_score__gte=4))
            | (no_nps & no_csat & Q(ces_score__gte=6))
        )
    if tone is Tone.BAD:
        return (
            Q(nps_score__lte=d.NPS_DETRACTOR_MAX)
            | (no_nps & Q(csat_score__lte=2))
            | (no_nps & no_csat & Q(ces_score__lte=3))
        )
    return (
        Q(nps_score__gt=d.NPS_DETRACTOR_MAX, nps_score__lt=d.NPS_PROMOTER_MIN)
        | (no_nps & Q(csat_score=3))
        | (no_nps & no_csat & Q(ces_score__gte=4, ces_score__lte=5))
    )


def comments_page(
    responses: QuerySet,
    *,
    workspace: Workspace,
    limit: int = 20,
    offset: int = 0,
    tone: Tone | None = None,
    theme_id: int | None = None,
) -> list[Comment]:
    """The newest of ``responses`` with a comment; ``tone`` keeps one band of scores,
    ``theme_id`` the comments the text analysis gave that theme. ``offset`` pages back."""
    if tone is not None:
        responses = responses.filter(_tone_q(Tone(tone)))
    if theme_id is not None:
        themed = text_selectors.workspace_texts(workspace=workspace).filter(
            themes__theme_id=theme_id
        )
        responses = responses.filter(pk__in=themed.values("response_id"))
    rows = (
        responses.exclude(comment="")
        .select_related("survey", "customer")
        .order_by("-submitted_at", "-pk")[offset : offset + limit]
    )
    return [
        Comment(
            id=r.pk,
            submitted_at=r.submitted_at,
            comment=r.comment,
            survey=r.survey.name,
            customer_id=r.customer_id,
            customer_name=str(r.customer) if r.customer_id else "",
            channel=r.channel,
            touchpoint=r.touchpoint,
            nps_score=r.nps_score,
            csat_score=r.csat_score,
            ces_score=r.ces_score,
        )
        for r in rows
    ]
