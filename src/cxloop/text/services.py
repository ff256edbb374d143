"""Writes of the text app: analyse one response's text, or a workspace's history in bulk.

Analysis is idempotent: analysing a response again replaces its row (and its search entry).
A response without text has no analysis (an existing one is removed). Personal data is
redacted (``core.pii``) before analysis, so nothing stored here holds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import transaction

from cxloop.core import pii
from cxloop.core.models import Workspace
from cxloop.feedback import selectors as feedback_selectors
from cxloop.text import search, sentiment
from cxloop.text.models import TextAnalysis

BATCH = 200
SOURCES = {"link": "survey", "embed": "survey", "email": "survey"}


def _fields(response) -> dict:
    # redact first: the stored text, sentences and drivers never hold personal data
    body, cut = sentiment.clean(response.comment)
    redacted = pii.redact(body)
    result = sentiment.analyse(redacted.text)
    return {
        "workspace_id": response.workspace_id,
        "customer_id": response.customer_id,
        "source": SOURCES.get(response.source, response.source)[:16],
        "channel": response.channel[:32],
        "written_at": response.submitted_at or response.started_at,
        "nps_score": response.nps_score,
        "csat_score": response.csat_score,
        "ces_score": response.ces_score,
        "text": redacted.text,
        "pii": list(redacted.kinds),
        "score": result.score,
        "label": result.label,
        "sentences": [
            {
                "text": s.text,
                "start": s.start,
                "score": s.score,
                "label": s.label,
                "drivers": [{"word": d.word, "valence": d.valence} for d in s.drivers],
            }
            for s in result.sentences
        ],
        "drivers": [{"word": d.word, "valence": d.valence} for d in result.drivers],
        "emotions": list(result.emotions),
        "english": result.english,
        "truncated": cut,
        "version": sentiment.VERSION,
    }


def _has_text(response) -> bool:
    return bool(response.completed and response.comment and response.comment.strip())


def text_analyse_responses(*, responses: Iterable) -> int:
    """Analyse (or re-analyse) these responses' comments in one transaction; returns how many
    analyses were stored. Responses without text lose any analysis they had."""
    responses = list(responses)
    stored = 0
    with transaction.atomic():
        empty = [r.pk for r in responses if not _has_text(r)]
        if empty:
            gone = TextAnalysis.objects.filter(response_id__in=empty)
            search.index_drop(gone.values_list("pk", flat=True))
            gone.delete()
        indexed = []
        for response in responses:
            if not _has_text(response):
                continue
            analysis, _ = TextAnalysis.objects.update_or_create(
                response_id=response.pk, defaults=_fields(response)
            )
            indexed.append((analysis.pk, analysis.text))
            stored += 1
        search.index_put(indexed)
    return stored


def text_analyse_response(*, workspace_id: int, response_id: int) -> TextAnalysis | None:
    """Analyse one response's comment (the background task after a response completes)."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return None
    response = (
        feedback_selectors.workspace_responses(workspace=workspace).filter(pk=response_id).first()
    )
    if response is None:
        return None
    text_analyse_responses(responses=[response])
    return TextAnalysis.objects.filter(response_id=response_id).first()


def texts_analyse_workspace(
    *,
    workspace: Workspace,
    missing_only: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Analyse every completed response with text in ``workspace`` (history), in batches;
    ``missing_only`` skips those analysed by this version already. Calls
    ``on_progress(done, total)`` after each batch; returns how many were analysed."""
    responses = (
        feedback_selectors.workspace_responses(workspace=workspace)
        .filter(completed=True)
        .exclude(comment="")
        .order_by("pk")
    )
    if missing_only:
        done_ids = TextAnalysis.objects.filter(
            workspace=workspace, version=sentiment.VERSION
        ).values("response_id")
        responses = responses.exclude(pk__in=done_ids)
    ids = list(responses.values_list("pk", flat=True))
    total, stored = len(ids), 0
    if on_progress:
        on_progress(0, total)
    for start in range(0, total, BATCH):
        chunk = ids[start : start + BATCH]
        stored += text_analyse_responses(
            responses=feedback_selectors.workspace_responses(workspace=workspace).filter(
                pk__in=chunk
            )
        )
        if on_progress:
            on_progress(min(start + BATCH, total), total)
    return stored
