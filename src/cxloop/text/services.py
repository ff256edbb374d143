"""Writes of the text app: analyse one response's text, or a workspace's history in bulk.

Analysis is idempotent: analysing a response again replaces its row (and its search entry).
A response without text has no analysis (an existing one is removed). Personal data is
redacted (``core.pii``) before analysis, so nothing stored here holds it.
"""

from __future__ import annotations

import logging
import unicodedata
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
    "UPLOAD_MAX_BYTES",
    "RulesChange",
    "UploadReport",
    "people_reapply",
    "sentiment_label_clear",
    "sentiment_label_set",
    "sentiment_labels_upload",
    "sentiment_tuning_request",
    "sentiment_tuning_run",
    "teaching_for",
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


# ---------------------------------------------------------------- themes


class ThemeError(ValueError):
    """A curation the themes do not allow (named field and reason in the message)."""


@dataclass(frozen=True)
class ThemesFound:
    """What a discovery did: the themes it created, and the names of those it found but left
    out because the curated themes already hold most of their texts."""

    created: list[Theme]
    covered: list[str]

    def __bool__(self) -> bool:
        return bool(self.created or self.covered)


def themes_discover(*, workspace: Workspace, k: int | None = None) -> ThemesFound:
    """Discover themes in the workspace's analysed texts and tag each text: clusters of sentence
    embeddings when the model is installed, else TF-IDF + NMF. Themes people have curated
    (renamed, merged, split or hidden) stay as they are and stand for what they hold: a theme
    found again is created only when at most half of its texts carry a curated theme (a split
    theme does not come back beside its halves, nor a hidden one in the open); the others are
    replaced."""
    rows = list(
        TextAnalysis.objects.filter(workspace=workspace).order_by("pk").values_list("pk", "text")
    )
    texts = [text for _, text in rows]
    found = themes.discover(texts, k=k, vectors=_theme_vectors(texts))
    with transaction.atomic():
        Theme.objects.filter(workspace=workspace, curated=False).delete()
        curated = set(
            TextTheme.objects.filter(theme__workspace=workspace).values_list(
                "analysis_id", flat=True
            )
        )
        created, covered = [], []
        for item in found:
            held = sum(rows[i][0] in curated for i, _ in item.members)
            if held * 2 > len(item.members):
                covered.append(item.name)
                continue
            theme = Theme.objects.create(
                workspace=workspace, name=item.name[:120], phrases=list(item.phrases)
            )
            TextTheme.objects.bulk_create(
                TextTheme(analysis_id=rows[i][0], theme=theme, weight=weight)
                for i, weight in item.members
            )
            created.append(theme)
    return ThemesFound(created, covered)


def _theme_vectors(texts: list[str]) -> np.ndarray | None:
    """Sentence embeddings to cluster into themes when the model is installed (cached), else
    None: themes then come from TF-IDF + NMF."""
    model = embeddings.engine()
    if model is None or len(texts) < themes.MIN_TEXTS:
        return None
    return embeddings.embed(texts, model=model)


def theme_rename(*, theme: Theme, name: str) -> Theme:
    """Rename a theme (and keep it through rediscovery). Invisible formatting characters
    (zero-width spaces, direction overrides that would turn the page's text around) are
    dropped; a name needs a letter or digit."""
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cf", "Cc") or ch == "\n")
    name = " ".join(name.split())
    if not 1 <= len(name) <= 120 or not any(ch.isalnum() for ch in name):
        raise ThemeError("name: 1–120 characters, with a letter or digit")
    theme.name, theme.curated = name, True
    theme.save(update_fields=["name", "curated"])
    return theme


def theme_set_hidden(*, theme: Theme, hidden: bool) -> Theme:
    """Hide or show a theme; either is curation, so the theme is kept through rediscovery."""
    theme.hidden, theme.curated = hidden, True
    theme.save(update_fields=["hidden", "curated"])
    return theme


def themes_merge(*, into: Theme, other: Theme) -> Theme:
    """Fold ``other`` into ``into``: its texts (the stronger link kept where both had one) and
    phrases move; ``other`` is deleted."""
    if into.pk == other.pk or into.workspace_id != other.workspace_id:
        raise ThemeError("into: choose another theme of this workspace")
    with transaction.atomic():
        have = dict(TextTheme.objects.filter(theme=into).values_list("analysis_id", "weight"))
        for link in TextTheme.objects.filter(theme=other):
            if link.analysis_id not in have:
                TextTheme.objects.create(
                    analysis_id=link.analysis_id, theme=into, weight=link.weight
                )
            elif link.weight > have[link.analysis_id]:
                TextTheme.objects.filter(theme=into, analysis_id=link.analysis_id).update(
                    weight=link.weight
                )
        into.phrases = list(dict.fromkeys([*into.phrases, *other.phrases]))
        into.curated = True
        into.save(update_fields=["phrases", "curated"])
        other.delete()
    return into


MAX_RULES = 20
MAX_RULE = 80


@dataclass(frozen=True)
class RulesChange:
    """What new keyword rules did: texts that gained the theme, and texts that lost it (linked
    only by a rule the theme no longer has)."""

    gained: int
    lost: int


def theme_set_rules(*, theme: Theme, rules: Iterable[str]) -> RulesChange:
    """Give ``theme`` keyword rules (words or phrases, whole words, any case): every text of the
    workspace containing one carries the theme from now on, and so does each new text. Texts
    that carried it only because of a rule no longer given lose it (those it had before, from
    discovery or a merge, keep it), so rules can be undone. An empty list removes the rules."""
    tidy = [" ".join(r.split()) for r in rules if r and r.strip()]
    chosen: list[str] = []
    for rule in tidy:  # once each, any case; the first spelling kept
        if rule.lower() not in {c.lower() for c in chosen}:
            chosen.append(rule)
    if len(chosen) > MAX_RULES:
        raise ThemeError(f"rules: at most {MAX_RULES} words or phrases")
    for rule in chosen:
        if len(rule) > MAX_RULE or "\x00" in rule or not themes.words_of(rule):
            raise ThemeError(f"rules: {rule[:40]!r} must be 1–{MAX_RULE} characters with a word")

    def ruled(text: str) -> bool:
        return bool(chosen) and bool(themes.match(text, [(theme.pk, [])], rules={theme.pk: chosen}))

    with transaction.atomic():
        theme.rules, theme.curated = chosen, True
        theme.save(update_fields=["rules", "curated"])
        by_rule = TextTheme.objects.filter(theme=theme, by_rule=True)
        stale = [
            pk
            for pk, text in TextAnalysis.objects.filter(
                pk__in=by_rule.values("analysis_id")
            ).values_list("pk", "text")
            if not ruled(text)
        ]
        lost, _ = by_rule.filter(analysis_id__in=stale).delete()
        if not chosen:
            return RulesChange(0, lost)
        have = set(TextTheme.objects.filter(theme=theme).values_list("analysis_id", flat=True))
        rows = TextAnalysis.objects.filter(workspace_id=theme.workspace_id).values_list(
            "pk", "text"
        )
        new = [
            TextTheme(analysis_id=pk, theme=theme, weight=1.0, by_rule=True)
            for pk, text in rows.iterator(chunk_size=2000)
            if pk not in have and ruled(text)
        ]
        TextTheme.objects.bulk_create(new, ignore_conflicts=True)
    return RulesChange(len(new), lost)


def theme_split(*, theme: Theme) -> list[Theme]:
    """Split ``theme`` in two by finding two themes among its own texts (the same way as
    discovery: embeddings + k-means, or TF-IDF + NMF): each new theme is named by its key phrases, curated, and takes its texts;
    ``theme`` is deleted. Refused when its texts do not fall apart into two."""
    links = list(
        TextTheme.objects.filter(theme=theme)
        .order_by("analysis_id")
        .values_list("analysis_id", "analysis__text")
    )
    texts = [text for _, text in links]
    found = themes.discover(texts, k=2, vectors=_theme_vectors(texts))
    if len(found) < 2:
        raise ThemeError(
            f"theme: its {len(links)} texts do not fall into two groups of their own words "
            f"(at least {themes.MIN_TEXTS} texts with shared words are needed)"
        )
    with transaction.atomic():
        created = []
        for item in found[:2]:
            part = Theme.objects.create(
                workspace_id=theme.workspace_id,
                name=item.name[:120],
                phrases=list(item.phrases),
                curated=True,
            )
            TextTheme.objects.bulk_create(
                TextTheme(analysis_id=links[i][0], theme=part, weight=weight)
                for i, weight in item.members
            )
            created.append(part)
        theme.delete()
    return created
