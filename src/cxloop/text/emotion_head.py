"""The learned emotion model: for each of the lexicon's emotions (``sentiment.EMOTION_WORDS``), a
logistic model on a text's all-MiniLM-L6-v2 sentence embedding and the lexicon's figures for it
(``sentiment_head.lexicon_features``), trained on people's emotion labels (GoEmotions' Reddit
comments, Demszky et al. 2020, annotations under Apache 2.0; ``scripts/train-emotion-head``).

A text carries an emotion when the lexicon finds one of its words (``sentiment.emotions_of``,
which also says which words) or when the model's probability is above the emotion's threshold:
the words are precise but few people name their anger; the model reads "you charged me twice and
nobody answers" as anger without an angry word. Each threshold was chosen on GoEmotions'
development split for the F1 of that union. Pure numpy at run time: the weights are a small
package file (``data/emotion_head.npz``), nothing is downloaded or trained.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cxloop.text.sentiment import EMOTION_WORDS

EMOTION_FILE = Path(__file__).resolve().parent / "data" / "emotion_head.npz"


@dataclass(frozen=True)
class EmotionHead:
    emotions: tuple[str, ...]
    weights: np.ndarray  # one row per emotion: embedding dimensions, then lexicon features
    bias: np.ndarray  # one per emotion
    thresholds: np.ndarray  # one per emotion
    dims: int  # embedding dimensions
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        """The embedding model it was trained on."""
        return str(self.meta.get("embedding_model", ""))

    def probabilities(self, vectors: np.ndarray, lexicon: np.ndarray) -> np.ndarray:
        """Rows of each emotion's probability, from rows of embeddings and of lexicon features."""
        x = np.hstack(
            [np.atleast_2d(np.asarray(vectors, np.float64)), np.atleast_2d(np.asarray(lexicon))]
        )
        z = np.clip(x @ self.weights.T + self.bias, -500, 500)
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def found(self, vectors: np.ndarray, lexicon: np.ndarray) -> list[tuple[str, ...]]:
        """Each row's emotions by the model alone."""
        above = self.probabilities(vectors, lexicon) > self.thresholds
        return [tuple(e for e, hit in zip(self.emotions, row, strict=True) if hit) for row in above]


def merge(*found: Iterable[str]) -> tuple[str, ...]:
    """The emotions found by any reader, in the lexicon's order."""
    seen = {e for group in found for e in group}
    return tuple(e for e in EMOTION_WORDS if e in seen)


def save(path: Path, head: EmotionHead) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        emotions=np.array(head.emotions),
        weights=head.weights.astype(np.float64),
        bias=head.bias.astype(np.float64),
        thresholds=head.thresholds.astype(np.float64),
        dims=np.int64(head.dims),
        meta=np.array(json.dumps(head.meta, sort_keys=True, indent=1)),
    )


def read(path: Path) -> EmotionHead:
    with np.load(path, allow_pickle=False) as data:
        return EmotionHead(
            emotions=tuple(str(e) for e in data["emotions"]),
            weights=data["weights"].astype(np.float64),
            bias=data["bias"].astype(np.float64),
            thresholds=data["thresholds"].astype(np.float64),
            dims=int(data["dims"]),
            meta=json.loads(str(data["meta"])),
        )


@functools.cache
def load() -> EmotionHead | None:
    """The packaged model, or None when its file is missing (the lexicon's words alone)."""
    return read(EMOTION_FILE) if EMOTION_FILE.is_file() else None
