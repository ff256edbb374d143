"""A workspace's own sentiment model, learned from texts its people labelled.

No sentiment model trained on other people's text reads every business' customers well: the
shipped head, trained on human ratings of tweets, reviews and news, reaches macro-F1 0.57 on
customer tweets to airlines, while the same features with a 3-class logistic regression trained
on a few thousand of that kind of text reach 0.75 (bench/README.md, "Teaching cxloop your
text"). So a workspace can teach it: people correct labels on the text page or upload labelled
texts, and ``fit`` learns a multinomial logistic regression on the text's sentence embedding, the
lexicon's figures and the shipped head's score (so it starts from what the head knows).

``check`` says whether the tuned model reads this workspace's labelled texts better than the
shipped head: five-fold stratified cross-validation (each text scored by a model that never saw
it) against the head's labels of the same texts, with a 95 % paired bootstrap interval of the
gain. A model is adopted only when that interval lies above 0.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CLASSES = ("negative", "neutral", "positive")
MIN_LABELS = 60  # fewer than this and cross-validation says little
MIN_PER_CLASS = 10  # each of the three classes, for five folds to each hold two
FOLDS = 5
C = 1.0  # chosen on the airline set's dev half (C 0.3–10 within 0.01 of each other)
NEUTRAL_INSIDE = 0.0499  # as the head: a neutral text's score stays strictly inside ±0.05
CUTOFF = 0.05


class TuningError(ValueError):
    """Too few labelled texts, or too few of a class, to learn from (the reason in words)."""


@dataclass(frozen=True)
class Tuned:
    """A fitted model: ``coef`` (3 × features) and ``intercept`` (3) of the classes
    negative, neutral, positive; ``model``: the embedding model its vectors came from."""

    coef: np.ndarray
    intercept: np.ndarray
    model: str

    @property
    def dims(self) -> int:
        return int(self.coef.shape[1])

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = features @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        odds = np.exp(logits)
        return odds / odds.sum(axis=1, keepdims=True)

    def scores(self, features: np.ndarray) -> np.ndarray:
        """−1…+1 scores whose ±0.05 labels are the most likely class: P(positive) −
        P(negative), moved into the class' band where it falls outside it."""
        return scores_of(self.probabilities(features))


def scores_of(probabilities: np.ndarray) -> np.ndarray:
    raw = probabilities[:, 2] - probabilities[:, 0]
    best = probabilities.argmax(axis=1)
    return np.where(
        best == 0,
        np.minimum(raw, -CUTOFF),
        np.where(best == 2, np.maximum(raw, CUTOFF), np.clip(raw, -NEUTRAL_INSIDE, NEUTRAL_INSIDE)),
    )


def features(vectors: np.ndarray, lexicon: np.ndarray, head_scores: np.ndarray) -> np.ndarray:
    """One row per text: its embedding, the lexicon's figures and the shipped head's score."""
    return np.hstack([vectors, lexicon, np.asarray(head_scores, dtype=float)[:, None]])


def classes_of(labels: list[str] | tuple[str, ...]) -> np.ndarray:
    return np.array([CLASSES.index(label) for label in labels])


def refuse_few(y: np.ndarray) -> None:
    """Raise ``TuningError`` unless there are enough labels of every class."""
    counts = np.bincount(y, minlength=3)
    if len(y) < MIN_LABELS:
        raise TuningError(
            f"{len(y)} labelled texts: at least {MIN_LABELS} are needed to learn from"
        )
    short = [f"{CLASSES[i]} {counts[i]}" for i in range(3) if counts[i] < MIN_PER_CLASS]
    if short:
        raise TuningError(
            f"too few labelled {' and '.join(short)}: at least {MIN_PER_CLASS} of each class"
        )


def fit(x: np.ndarray, y: np.ndarray, *, model: str) -> Tuned:
    """A multinomial logistic regression on these rows (``y``: class indices 0, 1, 2)."""
    from sklearn.linear_model import LogisticRegression  # when used: commands start quick

    refuse_few(y)
    fitted = LogisticRegression(C=C, max_iter=3000).fit(x, y)
    return Tuned(fitted.coef_.copy(), fitted.intercept_.copy(), model)


@dataclass(frozen=True)
class Check:
    """Cross-validated macro-F1 of the tuned model and the shipped head on the same labelled
    texts, and the 95 % paired bootstrap interval of the gain."""

    labels: int
    tuned_f1: float
    shipped_f1: float
    low: float
    high: float

    @property
    def gain(self) -> float:
        return self.tuned_f1 - self.shipped_f1

    @property
    def better(self) -> bool:
        """Better with 95 % confidence: the whole interval of the gain above 0 (with few labels
        a gain by chance is likely, and a worse model would replace a good one)."""
        return self.low > 0


def _macro(y: np.ndarray, predicted: np.ndarray) -> float:
    from sklearn.metrics import f1_score  # imported when used: keeps every command's start quick

    return float(f1_score(y, predicted, labels=[0, 1, 2], average="macro", zero_division=0))


def check(x: np.ndarray, y: np.ndarray, shipped: np.ndarray, *, resamples: int = 1000) -> Check:
    """Five-fold stratified cross-validation (numpy seed 0) of ``fit`` on ``x``/``y``, against
    ``shipped`` (the head's class index for each row)."""
    from sklearn.linear_model import LogisticRegression  # when used: commands start quick
    from sklearn.model_selection import StratifiedKFold

    refuse_few(y)
    predicted = np.empty_like(y)
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
    for train, held in folds.split(x, y):
        fitted = LogisticRegression(C=C, max_iter=3000).fit(x[train], y[train])
        predicted[held] = fitted.predict(x[held])
    tuned, base = _macro(y, predicted), _macro(y, shipped)
    rng = np.random.default_rng(0)
    gains = []
    for _ in range(resamples):
        pick = rng.integers(0, len(y), len(y))
        gains.append(_macro(y[pick], predicted[pick]) - _macro(y[pick], shipped[pick]))
    low, high = np.percentile(gains, [2.5, 97.5])
    return Check(len(y), tuned, base, float(low), float(high))


def to_bytes(tuned: Tuned) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, coef=tuned.coef, intercept=tuned.intercept, model=np.array(tuned.model))
    return buffer.getvalue()


def from_bytes(data: bytes) -> Tuned:
    with np.load(io.BytesIO(bytes(data)), allow_pickle=False) as stored:
        return Tuned(stored["coef"], stored["intercept"], str(stored["model"]))


def in_turn(labels: Sequence[str], keys: Sequence, limit: int) -> list[int]:
    """Indices of up to ``limit`` texts to label next, taken in turn from each label the model
    gave (negative, neutral, positive, so every class gets examples), each label's texts in
    order of ``keys`` (ties keep the given order). The keys: the workspace model's certainty,
    |score|, so the texts it is least sure of come first; before it has one, the texts' digests,
    a fixed random order (the shipped model's doubts are those of other people's text: in a
    trial its least sure airline tweets held 6 positive in 100, too few to learn from)."""
    queues = [
        sorted((i for i, label in enumerate(labels) if label == name), key=lambda i: keys[i])
        for name in CLASSES
    ]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < limit and any(depth < len(queue) for queue in queues):
        chosen += [queue[depth] for queue in queues if depth < len(queue)][: limit - len(chosen)]
        depth += 1
    return chosen
