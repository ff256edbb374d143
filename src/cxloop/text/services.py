"""Writes of the text app: analyse one response's text, or a workspace's history in bulk.

Analysis is idempotent: analysing a response again replaces its row (and its search entry).
A response without text has no analysis (an existing one is removed). Personal data is
redacted (``core.pii``) before analysis, so nothing stored here holds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from django.db import DatabaseError, transaction

from cxloop.core import names, pii
from cxloop.core.db import lock_workspace_for_labels
from cxloop.core.models import Workspace
from cxloop.customers import selectors as customer_selectors
from cxloop.feedback import selectors as feedback_selectors
from cxloop.text import embeddings, scoring, search, sentiment, themes
from cxloop.text._curation import (
    MAX_RULE,
    MAX_RULES,
    RulesChange,
    ThemeError,
    ThemesFound,
    theme_rename,
    theme_set_hidden,
    theme_set_rules,
    theme_split,
    theme_undo,
    themes_discover,
    themes_merge,
)
from cxloop.text._teaching import (
    UPLOAD_MAX_BYTES,
    UploadReport,
    people_reapply,
    sentiment_label_clear,
    sentiment_label_set,
    sentiment_labels_upload,
    sentiment_tuning_request,
    sentiment_tuning_run,
    teaching_for,
)
from cxloop.text.models import Embedding, TextAnalysis, TextTheme, Theme

__all__ = [
    "MAX_RULE",
    "MAX_RULES",
    "UPLOAD_MAX_BYTES",
    "RulesChange",
    "ThemeError",
    "ThemesFound",
    "UploadReport",
    "people_reapply",
    "sentiment_label_clear",
    "sentiment_label_set",
    "sentiment_labels_upload",
    "sentiment_tuning_request",
    "sentiment_tuning_run",
    "teaching_for",
    "theme_rename",
    "theme_set_hidden",
    "theme_set_rules",
    "theme_split",
    "theme_undo",
    "themes_discover",
    "themes_merge",
]
log = logging.getLogger(__name__)
BATCH = 200
SOURCES = {"link": "survey", "embed": "survey", "email": "survey"}


@dataclass(frozen=True)
class NameBook:
    """People's names known in a workspace, as name words: each customer's own, and everyone's
    (for ``core.names``)."""

    own: dict[int, frozenset[str]]
    known: frozenset[str]


def name_book(*, workspace_id: int) -> NameBook:
    """The name words of the workspace's customers (their name traits)."""
    workspace = Workspace(pk=workspace_id)
    found = customer_selectors.customer_person_names(workspace=workspace)
    own = {pk: names.name_tokens(parts) for pk, parts in found.items()}
    return NameBook(own, frozenset().union(*own.values()))


def _redacted(response, book: NameBook | None = None) -> pii.Redacted:
    # redact first: the stored text, sentences and drivers never hold personal data
    body, _ = sentiment.clean(response.comment)
    return pii.redact(
        body,
        own_names=book.own.get(response.customer_id, frozenset()) if book else frozenset(),
        known_names=book.known if book else frozenset(),
    )


def _fields(
    response, redacted: pii.Redacted, result: sentiment.Sentiment, teaching: scoring.Teaching
) -> dict:
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
        "digest": embeddings.digest(redacted.text),
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
        "truncated": sentiment.clean(response.comment)[1],
        "version": scoring.version_of(result, teaching),
    }


def _has_text(response) -> bool:
    return bool(response.completed and response.comment and response.comment.strip())


def text_analyse_responses(*, responses: Iterable, books: dict[int, NameBook] | None = None) -> int:
    """Analyse (or re-analyse) these responses' comments in one transaction; returns how many
    analyses were stored. Responses without text lose any analysis they had. ``books``: each
    workspace's :func:`name_book` when the caller has it already (read here otherwise)."""
    responses = list(responses)
    books = dict(books or {})
    for workspace_id in {r.workspace_id for r in responses if _has_text(r)} - set(books):
        books[workspace_id] = name_book(workspace_id=workspace_id)
    stored = 0
    # redact and score before the transaction: the head embeds the texts (cached, so themes
    # and semantic search reuse the vectors), which may take a while
    # (each workspace's texts with what it taught: its own model and its people's labels)
    results = {}
    batch_digests: dict[int, list[str]] = {}
    for workspace_id in {r.workspace_id for r in responses if _has_text(r)}:
        with_text = [r for r in responses if r.workspace_id == workspace_id and _has_text(r)]
        redacted = [_redacted(r, books[workspace_id]) for r in with_text]
        batch_digests[workspace_id] = [embeddings.digest(x.text) for x in redacted]
        # the workspace's model; people's labels are applied inside the transaction below, as
        # they are then (one given or cleared while these texts were scored counts)
        teaching = teaching_for(workspace_id=workspace_id)
        scored = scoring.analyse_many([x.text for x in redacted], teaching)
        for response, text, result in zip(with_text, redacted, scored, strict=True):
            results[response.pk] = (text, result, teaching)
    with transaction.atomic():
        for workspace_id in sorted(
            batch_digests
        ):  # a label saved meanwhile waits, then sees these rows
            lock_workspace_for_labels(workspace_id)
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
                response_id=response.pk, defaults=_fields(response, *results[response.pk])
            )
            indexed.append((analysis.pk, analysis.text))
            stored += 1
        search.index_put(indexed)
        _tag_with_themes(indexed, {r.workspace_id for r in responses})
        for workspace_id, digests in batch_digests.items():
            people_reapply(workspace_id=workspace_id, digests=digests)
    _embed_quietly([text for _, text in indexed])
    return stored


def _embed_quietly(texts: list[str]) -> None:
    """Cache the embeddings of newly analysed texts when the model is installed. A failure is
    logged, not raised: the analysis is stored already, and ``cxloop text embed`` catches up."""
    model = embeddings.engine()
    if model is None or not texts:
        return
    try:
        embeddings.embed(texts, model=model)
    except (RuntimeError, OSError, ValueError, DatabaseError):
        log.exception(
            "embedding %d new texts failed; `cxloop text embed` will catch up", len(texts)
        )


def texts_embed(*, texts: Sequence[str], corpus: Sequence[str] | None = None) -> np.ndarray:
    """The text-model interface for any app: ``texts`` as unit-length float32 rows.

    With the embedding model (the ``embeddings`` extra) each distinct text is embedded once and
    cached in the database, batched; without it, the LSA fallback fitted on ``corpus`` (default:
    ``texts`` themselves), not cached. ``embeddings.engine_label()`` says which is in use."""
    model = embeddings.engine()
    if model is not None:
        return embeddings.embed(texts, model=model)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return embeddings.Lsa(corpus if corpus is not None else texts).encode(texts)


def texts_embed_workspace(
    *, workspace: Workspace, on_progress: Callable[[int, int], None] | None = None
) -> int:
    """Embed the workspace's analysed texts that are not cached yet (history), in batches;
    ``on_progress(done, total)`` after each. Returns how many texts were embedded; 0 without
    the embedding model (the LSA fallback needs no cache)."""
    model = embeddings.engine()
    if model is None:
        return 0
    rows = TextAnalysis.objects.filter(workspace=workspace).order_by("pk")
    done_digests = Embedding.objects.filter(model=model.name).values("digest")
    todo = dict(rows.exclude(digest__in=done_digests).values_list("digest", "text"))
    keys, total = list(todo), len(todo)
    if on_progress:
        on_progress(0, total)
    for start in range(0, total, BATCH):
        chunk = keys[start : start + BATCH]
        embeddings.embed([todo[key] for key in chunk], model=model)
        if on_progress:
            on_progress(min(start + BATCH, total), total)
    return total


def _tag_with_themes(analyses: list[tuple[int, str]], workspace_ids: set[int]) -> None:
    """Give new texts the workspace's current themes whose key phrases they contain (a text
    already linked to a theme keeps its link)."""
    rows = list(
        Theme.objects.filter(workspace_id__in=workspace_ids).values_list("pk", "phrases", "rules")
    )
    if not rows or not analyses:
        return
    known = [(pk, phrases) for pk, phrases, _ in rows]
    phrases_of = dict(known)
    rules = {pk: chosen for pk, _, chosen in rows if chosen}
    links = [
        TextTheme(
            analysis_id=pk,
            theme_id=theme_id,
            weight=weight,
            by_rule=theme_id in rules
            and not themes.match(text, [(theme_id, phrases_of[theme_id])]),
        )
        for pk, text in analyses
        for theme_id, weight in themes.match(text, known, rules=rules)
    ]
    TextTheme.objects.bulk_create(links, ignore_conflicts=True)


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
        version = scoring.current_version(teaching_for(workspace_id=workspace.pk))
        done_ids = TextAnalysis.objects.filter(workspace=workspace, version=version).values(
            "response_id"
        )
        responses = responses.exclude(pk__in=done_ids)
    ids = list(responses.values_list("pk", flat=True))
    total, stored = len(ids), 0
    books = {workspace.pk: name_book(workspace_id=workspace.pk)} if ids else {}
    if on_progress:
        on_progress(0, total)
    for start in range(0, total, BATCH):
        chunk = ids[start : start + BATCH]
        stored += text_analyse_responses(
            responses=feedback_selectors.workspace_responses(workspace=workspace).filter(
                pk__in=chunk
            ),
            books=books,
        )
        if on_progress:
            on_progress(min(start + BATCH, total), total)
    return stored
