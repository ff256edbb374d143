"""Training and evaluation of the learned emotion model (``emotion_head``) on GoEmotions
(Demszky et al. 2020: 58k Reddit comments, each labelled by raters with any of 27 emotions or
neutral; annotations under Apache 2.0; the comments are not in this repository, bring the
official ``train.tsv``, ``dev.tsv``, ``test.tsv`` and ``emotions.txt``).

GoEmotions' labels are finer than the product's five; each product emotion stands for the
GoEmotions labels its lexicon words express (:data:`GOEMOTIONS`), fixed by meaning and not
fitted. Each emotion's model is a logistic regression on the embedding beside the lexicon's
figures, its inverse penalty and its threshold chosen on the development split for the F1 of the
union with the lexicon's words (what the product shows); the test split is only reported.

Used by ``scripts/train-emotion-head`` and ``bench/emotions.py``; needs scikit-learn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cxloop.text import emotion_head, sentiment, sentiment_head
from cxloop.text.embeddings import MODEL_NAME

# each product emotion and the GoEmotions labels its words express: "disgust*" is in the anger
# list; "love", "amazing", "excellent", "awesome" in the joy list
GOEMOTIONS = {
    "anger": frozenset({"anger", "disgust"}),
    "frustration": frozenset({"annoyance"}),
    "disappointment": frozenset({"disappointment"}),
    "joy": frozenset({"joy", "love", "admiration", "excitement"}),
    "gratitude": frozenset({"gratitude"}),
}
# GoEmotions' own grouping of its labels by sentiment (Demszky et al. 2020, section 3.2;
# "ambiguous": confusion, curiosity, realization, surprise, left out of the grouping)
POSITIVE = frozenset(
    [
        "admiration",
        "amusement",
        "approval",
        "caring",
        "desire",
        "excitement",
        "gratitude",
        "joy",
        "love",
        "optimism",
        "pride",
        "relief",
    ]
)
NEGATIVE = frozenset(
    [
        "anger",
        "annoyance",
        "disappointment",
        "disapproval",
        "disgust",
        "embarrassment",
        "fear",
        "grief",
        "nervousness",
        "remorse",
        "sadness",
    ]
)
SPLITS = ("train", "dev", "test")
CS = (0.03, 0.1, 0.3)  # inverse penalties tried, on standardised features
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.05), 2)


@dataclass(frozen=True)
class Split:
    name: str
    texts: list[str]
    labels: list[frozenset[str]]  # GoEmotions labels of each text
    lexicon: np.ndarray  # rows of sentiment_head.LEXICON_FEATURES
    vectors: np.ndarray
    words: list[tuple[str, ...]]  # the lexicon's emotions of each text
    sha256: str = ""

    def truth(self, emotion: str) -> np.ndarray:
        return np.array([bool(set(labels) & GOEMOTIONS[emotion]) for labels in self.labels])

    def lexicon_found(self, emotion: str) -> np.ndarray:
        return np.array([emotion in words for words in self.words])


def read_split(data: Path, split: str) -> tuple[list[str], list[frozenset[str]]]:
    """One GoEmotions file: text, comma-separated label ids, comment id (tab-separated)."""
    names = (data / "emotions.txt").read_text(encoding="utf-8").split()
    texts, labels = [], []
    for number, line in enumerate(
        (data / f"{split}.tsv").read_text(encoding="utf-8").splitlines(), 1
    ):
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{split}.tsv, line {number}: expected 3 tab-separated fields")
        texts.append(parts[0])
        labels.append(frozenset(names[int(i)] for i in parts[1].split(",")))
    return texts, labels


def load_split(data: Path, split: str, encode: Callable[[list[str]], np.ndarray]) -> Split:
    texts, labels = read_split(data, split)
    results = [sentiment.analyse(t) for t in texts]
    lexicon = np.array([sentiment_head.lexicon_features(r) for r in results])
    digest = hashlib.sha256((data / f"{split}.tsv").read_bytes()).hexdigest()
    words = [r.emotions for r in results]
    return Split(split, texts, labels, lexicon, encode(texts), words, digest)


def sentiment_class(labels: frozenset[str]) -> int | None:
    """−1, 0 or +1 for a comment whose labels fall in one sentiment group only (neutral alone
    is 0); None for ambiguous or mixed ones."""
    if labels == {"neutral"}:
        return 0
    positive, negative = bool(labels & POSITIVE), bool(labels & NEGATIVE)
    if "neutral" in labels or positive == negative or not labels <= POSITIVE | NEGATIVE:
        return None
    return 1 if positive else -1


def f1(found: np.ndarray, truth: np.ndarray) -> float:
    hits = float(np.sum(found & truth))
    return 0.0 if hits == 0 else 2 * hits / (float(np.sum(found)) + float(np.sum(truth)))


def fit(train: Split, dev: Split) -> emotion_head.EmotionHead:
    """Each emotion's model on ``train``; C and threshold chosen on ``dev``."""
    from sklearn.linear_model import LogisticRegression

    x = np.hstack([train.vectors, train.lexicon])
    mean, std = x.mean(axis=0), x.std(axis=0)
    # all-MiniLM-L6-v2 has dimensions that are (almost) always 0: left unscaled, or their
    # weights would be divided by ~1e-33 when folded back
    std[std < 1e-6] = 1.0
    z_train = (x - mean) / std
    z_dev = (np.hstack([dev.vectors, dev.lexicon]) - mean) / std
    rows, biases, thresholds, chosen = [], [], [], {}
    for emotion in GOEMOTIONS:
        best: tuple[float, float, float, LogisticRegression] | None = None
        words = dev.lexicon_found(emotion)
        truth = dev.truth(emotion)
        for c in CS:
            model = LogisticRegression(C=c, max_iter=5000).fit(z_train, train.truth(emotion))
            probability = model.predict_proba(z_dev)[:, 1]
            for threshold in THRESHOLDS:
                score = f1((probability > threshold) | words, truth)
                if best is None or score > best[0]:
                    best = (score, c, float(threshold), model)
        if best is None:  # CS and THRESHOLDS are not empty
            raise RuntimeError("no model was fitted")
        score, c, threshold, model = best
        weights = np.asarray(model.coef_[0], dtype=np.float64) / std
        rows.append(weights)
        biases.append(float(model.intercept_[0]) - float(mean @ weights))
        thresholds.append(threshold)
        chosen[emotion] = {"C": c, "threshold": threshold, "dev_f1": round(score, 4)}
    return emotion_head.EmotionHead(
        emotions=tuple(GOEMOTIONS),
        weights=np.vstack(rows),
        bias=np.array(biases),
        thresholds=np.array(thresholds),
        dims=train.vectors.shape[1],
        meta={
            "embedding_model": MODEL_NAME,
            "trained_on": {"goemotions train": {"rows": len(train.texts), "sha256": train.sha256}},
            "chosen_on": {"goemotions dev": {"rows": len(dev.texts), "sha256": dev.sha256}},
            "labels": {e: sorted(labels) for e, labels in GOEMOTIONS.items()},
            "features": "embedding, then " + ", ".join(sentiment_head.LEXICON_FEATURES),
            "per_emotion": chosen,
        },
    )


@dataclass(frozen=True)
class Figures:
    emotion: str
    support: int
    found: dict[str, int]  # reader: texts it gave the emotion
    precision: dict[str, float]
    recall: dict[str, float]
    f1: dict[str, float]


def evaluate(head: emotion_head.EmotionHead, split: Split) -> list[Figures]:
    """Precision, recall and F1 of the lexicon's words, the model alone and their union (what
    the product shows), per emotion."""
    probability = head.probabilities(split.vectors, split.lexicon)
    out = []
    for k, emotion in enumerate(head.emotions):
        truth = split.truth(emotion)
        words = split.lexicon_found(emotion)
        model = probability[:, k] > head.thresholds[k]
        readers = {"lexicon": words, "model": model, "product": words | model}
        out.append(
            Figures(
                emotion,
                int(truth.sum()),
                {n: int(f.sum()) for n, f in readers.items()},
                {n: float((f & truth).sum() / max(f.sum(), 1)) for n, f in readers.items()},
                {n: float((f & truth).sum() / max(truth.sum(), 1)) for n, f in readers.items()},
                {n: f1(f, truth) for n, f in readers.items()},
            )
        )
    return out


def macro(figures: Sequence[Figures], reader: str) -> float:
    return float(np.mean([f.f1[reader] for f in figures]))
