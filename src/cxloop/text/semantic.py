"""Semantic search: texts ranked by meaning, not shared words ("people who could not log in"
finds "password reset never arrived").

The query and every text under the filters are sentence embeddings (``text.embeddings``);
ranking is the cosine (a dot product of unit vectors) by brute force in numpy. With the model,
the texts' vectors come from the embedding cache (texts not embedded yet are counted and left
out: the background analysis and ``cxloop text embed`` fill it); with the LSA fallback they are
computed from the workspace's texts, kept in this process until those texts change.

Limit: every vector under the filters is read per query: about 1.5 KB a text, so up to some
50,000 texts (75 MB, well under a second of arithmetic) a query stays interactive; beyond that
an approximate index (pgvector, FAISS) is the next step.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from django.db.models import Count, Max, QuerySet

from cxloop.core.models import Workspace
from cxloop.text import embeddings
from cxloop.text.models import Embedding, TextAnalysis

LIMIT = 100  # closest texts shown
FLOOR = {"model": 0.25, "lsa": 0.1}  # a text less similar than this is not a match
MAX_TEXTS = 50_000


@dataclass(frozen=True)
class SemanticHits:
    hits: list[tuple[int, float]]  # (analysis id, cosine similarity), closest first
    engine: str  # which engine ranked them, in words
    searched: int  # texts compared
    missing: int  # texts under the filters without an embedding yet
    floor: float = 0.0  # the least similarity a text needs to be a match


_QUERIES: dict[tuple[str, str], np.ndarray] = {}
MAX_QUERIES = 256


def _query_vector(model: embeddings.Engine, query: str) -> np.ndarray:
    """A query's vector, kept in this process (queries are not stored in the database)."""
    key = (model.name, embeddings.normalise(query))
    if key not in _QUERIES:
        if len(_QUERIES) >= MAX_QUERIES:
            _QUERIES.pop(next(iter(_QUERIES)))
        _QUERIES[key] = model.encode([key[1]])[0]
    return _QUERIES[key]


def _top(
    ids: list[int], matrix: np.ndarray, query: np.ndarray, *, limit: int, floor: float
) -> list[tuple[int, float]]:
    if not ids:
        return []
    similarity = matrix @ query
    order = np.argsort(-similarity, kind="stable")[:limit]
    return [(ids[i], float(similarity[i])) for i in order if similarity[i] >= floor]


def _with_model(
    model: embeddings.Engine, texts: QuerySet[TextAnalysis], query: str, limit: int
) -> SemanticHits:
    rows = list(texts.values_list("pk", "digest"))
    vectors = {
        key: embeddings.unpack(raw, dims)
        for key, dims, raw in Embedding.objects.filter(
            model=model.name, digest__in=texts.values("digest")
        ).values_list("digest", "dims", "vector")
    }
    ids = [pk for pk, key in rows if key in vectors]
    matrix = (
        np.stack([vectors[key] for _, key in rows if key in vectors])
        if ids
        else np.zeros((0, 1), dtype=np.float32)
    )
    top = _top(ids, matrix, _query_vector(model, query), limit=limit, floor=FLOOR["model"])
    return SemanticHits(top, model.label, len(ids), len(rows) - len(ids), FLOOR["model"])


@functools.lru_cache(maxsize=8)
def _lsa(
    workspace_id: int, fingerprint: tuple
) -> tuple[embeddings.Lsa, dict[int, int], np.ndarray]:
    rows = list(
        TextAnalysis.objects.filter(workspace_id=workspace_id)
        .order_by("pk")
        .values_list("pk", "text")[:MAX_TEXTS]
    )
    lsa = embeddings.Lsa([text for _, text in rows])
    matrix = lsa.encode([text for _, text in rows])
    return lsa, {pk: i for i, (pk, _) in enumerate(rows)}, matrix


def _with_lsa(
    workspace: Workspace, texts: QuerySet[TextAnalysis], query: str, limit: int
) -> SemanticHits:
    every = TextAnalysis.objects.filter(workspace=workspace)
    facts = every.aggregate(n=Count("pk"), last=Max("pk"), at=Max("analysed_at"))
    if not facts["n"]:
        return SemanticHits([], embeddings.LSA_LABEL, 0, 0, FLOOR["lsa"])
    lsa, row_of, matrix = _lsa(workspace.pk, (facts["n"], facts["last"], facts["at"]))
    ids = [pk for pk in texts.values_list("pk", flat=True) if pk in row_of]
    chosen = matrix[[row_of[pk] for pk in ids]] if ids else matrix[:0]
    top = _top(ids, chosen, lsa.encode([query])[0], limit=limit, floor=FLOOR["lsa"])
    return SemanticHits(top, lsa.label, len(ids), 0, FLOOR["lsa"])


def engine_label() -> str:
    return embeddings.engine_label()


def model_installed() -> bool:
    return embeddings.engine() is not None


def rank(
    *, workspace: Workspace, texts: QuerySet[TextAnalysis], query: str, limit: int = LIMIT
) -> SemanticHits:
    """The ``limit`` texts of ``texts`` (a workspace's, already filtered) closest in meaning to
    ``query``, at least as similar as the engine's floor."""
    if not query.strip():
        return SemanticHits([], embeddings.engine_label(), 0, 0)
    model = embeddings.engine()
    if model is not None:
        return _with_model(model, texts, query, limit)
    return _with_lsa(workspace, texts, query, limit)
