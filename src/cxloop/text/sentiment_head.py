"""The learned sentiment head: a small linear model over a text's all-MiniLM-L6-v2 sentence
embedding and the lexicon's own figures for it, trained on human ratings.

Pure numpy, no database: the caller brings the embedding (``cxloop.text.scoring`` reads it from
the embedding cache). The weights are a small file in the package (``data/sentiment_head.npz``),
written by ``scripts/train-sentiment-head`` from Hutto & Gilbert's four human-rated ICWSM 2014
corpora (its ``meta`` says which files, rows and settings); nothing is downloaded or trained at
run time.

Two stages, both predicting the mean human rating on the raters' −4…+4 scale:

1. ``embedded = v · embedding_weights + embedding_bias`` (ridge regression on the 384 dimensions);
2. ``rating = f · weights + bias`` with ``f`` the :data:`LEXICON_FEATURES`, ``embedded`` and its
   products with the lexicon's strength (:func:`stage_two`): the lexicon is trusted where it
   finds strong words (tweets), the embedding where it finds few (reviews, editorials).

Standardisation is folded into the weights when training. The label: neutral when the lexicon
finds no sentiment (|compound| < 0.05) and |rating| < ``band`` (chosen on the training rows for
3-class macro-F1), else the rating's sign. The −1…+1 score is rating / 4, clipped, and held
inside (neutral) or outside (not) VADER's ±0.05 cut-off so that
:func:`cxloop.text.sentiment.label_of` gives the head's label.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cxloop.text.sentiment import POSITIVE_CUTOFF, Sentiment

HEAD_FILE = Path(__file__).resolve().parent / "data" / "sentiment_head.npz"
RATING_MAX = 4.0  # the raters' scale is −4…+4
NEUTRAL_INSIDE = 0.0499  # a neutral text's score stays strictly inside ±0.05
LEXICON_FEATURES = (
    "compound",  # the lexicon's score of the whole text
    "positive",  # VADER's share of positive, negative and neutral words
    "negative",
    "neutral",
    "first_sentence",  # the lexicon's score of the first and the last sentence
    "last_sentence",
    "lowest_sentence",  # and of its most negative and most positive sentence
    "highest_sentence",
    "driver_positive",  # the sum of the positive and of the negative driver valences (top 8)
    "driver_negative",
)
STAGE_TWO = (
    *LEXICON_FEATURES,
    "embedded",  # stage one's rating
    "embedded_x_strength",  # × |compound|
    "embedded_x_lexical",  # × (compound ≠ 0)
    "compound_x_strength",  # compound × |compound|
    "embedded_x_sentiment_words",  # × (1 − neutral share)
)


def lexicon_features(result: Sentiment) -> np.ndarray:
    """The lexicon's figures for one analysed text, in :data:`LEXICON_FEATURES`' order."""
    sentences = [s.score for s in result.sentences] or [result.score]
    valences = [d.valence for d in result.drivers]
    return np.array(
        [
            result.score,
            result.positive,
            result.negative,
            result.neutral,
            sentences[0],
            sentences[-1],
            min(sentences),
            max(sentences),
            sum(v for v in valences if v > 0),
            sum(v for v in valences if v < 0),
        ],
        dtype=np.float64,
    )


def stage_two(lexicon: np.ndarray, embedded: np.ndarray) -> np.ndarray:
    """Rows of :data:`STAGE_TWO` features from rows of lexicon features and stage one's
    ratings."""
    lexicon = np.atleast_2d(np.asarray(lexicon, dtype=np.float64))
    embedded = np.asarray(embedded, dtype=np.float64).reshape(-1)
    compound = lexicon[:, 0]
    strength = np.abs(compound)
    return np.column_stack(
        [
            lexicon,
            embedded,
            embedded * strength,
            embedded * (compound != 0),
            compound * strength,
            embedded * (1 - lexicon[:, 3]),
        ]
    )


@dataclass(frozen=True)
class Head:
    embedding_weights: np.ndarray  # one per embedding dimension
    embedding_bias: float
    weights: np.ndarray  # one per STAGE_TWO feature
    bias: float
    band: float  # neutral when the lexicon is silent and |rating| is below this
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def dims(self) -> int:
        """The embedding dimensions the head expects."""
        return len(self.embedding_weights)

    @property
    def model(self) -> str:
        """The embedding model the head was trained on."""
        return str(self.meta.get("embedding_model", ""))

    def rating(self, vectors: np.ndarray, lexicon: np.ndarray) -> np.ndarray:
        """Predicted mean human ratings (−4…+4 scale, not clipped) of rows of embeddings and
        rows of lexicon features."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
        embedded = vectors @ self.embedding_weights + self.embedding_bias
        return stage_two(lexicon, embedded) @ self.weights + self.bias

    def neutral(self, rating: np.ndarray, lexicon: np.ndarray) -> np.ndarray:
        compound = np.atleast_2d(lexicon)[:, 0]
        return (np.abs(compound) < POSITIVE_CUTOFF) & (np.abs(rating) < self.band)

    def score(self, rating: np.ndarray, lexicon: np.ndarray) -> np.ndarray:
        """−1…+1 scores: rating / 4, clipped, inside ±0.05 when neutral, else at least 0.05
        from 0 on the rating's side."""
        rating = np.asarray(rating, dtype=np.float64)
        raw = np.clip(rating / RATING_MAX, -1.0, 1.0)
        inside = np.clip(raw, -NEUTRAL_INSIDE, NEUTRAL_INSIDE)
        outside = np.where(rating >= 0, 1.0, -1.0) * np.maximum(np.abs(raw), POSITIVE_CUTOFF)
        return np.where(self.neutral(rating, lexicon), inside, outside)

    def scores(self, vectors: np.ndarray, lexicon: np.ndarray) -> np.ndarray:
        return self.score(self.rating(vectors, lexicon), lexicon)


def save(path: Path, head: Head) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        embedding_weights=head.embedding_weights.astype(np.float64),
        embedding_bias=np.float64(head.embedding_bias),
        weights=head.weights.astype(np.float64),
        bias=np.float64(head.bias),
        band=np.float64(head.band),
        meta=np.array(json.dumps(head.meta, sort_keys=True, indent=1)),
    )


def read(path: Path) -> Head:
    with np.load(path, allow_pickle=False) as data:
        return Head(
            embedding_weights=data["embedding_weights"].astype(np.float64),
            embedding_bias=float(data["embedding_bias"]),
            weights=data["weights"].astype(np.float64),
            bias=float(data["bias"]),
            band=float(data["band"]),
            meta=json.loads(str(data["meta"])),
        )


@functools.cache
def load() -> Head | None:
    """The packaged head, or None when its file is missing (the lexicon scores alone)."""
    return read(HEAD_FILE) if HEAD_FILE.is_file() else None
