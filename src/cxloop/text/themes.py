"""Themes discovered in texts. Pure: texts (and their vectors) in, themes out. Two ways:

- **Sentence embeddings** (when the caller passes ``vectors``: the ``embeddings`` extra is
  installed): k-means over the unit vectors (scikit-learn's ``KMeans``), each cluster named by
  its class-based TF-IDF key phrases (c-TF-IDF as BERTopic defines it: a cluster's texts read as
  one document; a phrase weighs its frequency in the cluster × log(1 + average words per cluster
  / its frequency over all clusters)). A text belongs to its nearest cluster, and also to the
  second nearest when that one is almost as close (``SECOND``).
- **TF-IDF + NMF** otherwise: TF-IDF over words and two-word phrases, then non-negative matrix
  factorisation (scikit-learn's ``TfidfVectorizer`` and ``NMF``); a text belongs to every theme
  whose weight in it is at least half its strongest.

Each theme is named by its three heaviest phrases (never a stop word, a contraction's stub or an
adverb of degree: ``stop_words``); a text carries at most ``MAX_PER_TEXT``.
Deterministic (``random_state``).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import numpy as np

# scikit-learn is imported in the functions that use it: importing it here cost every command
# and every web or worker process almost a second at start.

# Words left out of key phrases (and so of theme names): scikit-learn's English stop words, the
# stubs its tokeniser leaves of contractions ("couldn't" → "couldn") and adverbs of degree,
# which say how much, not what about ("really helpful" is about helpfulness).
CONTRACTION_STUBS = frozenset({
    "aren", "couldn", "didn", "doesn", "don", "hadn", "hasn", "haven", "isn", "ll", "mustn",
    "needn", "shan", "shouldn", "ve", "wasn", "weren", "won", "wouldn",
})  # fmt: skip
DEGREE_WORDS = frozenset({
    "absolutely", "actually", "basically", "completely", "definitely", "entirely", "extremely",
    "fairly", "genuinely", "highly", "honestly", "incredibly", "just", "kinda", "literally",
    "particularly", "pretty", "quite", "really", "remarkably", "seriously", "simply", "slightly",
    "somewhat", "sorta", "super", "totally", "truly", "utterly",
})  # fmt: skip


@functools.cache
def stop_words() -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(ENGLISH_STOP_WORDS | CONTRACTION_STUBS | DEGREE_WORDS)


MIN_TEXTS = 10
MAX_THEMES = 12
MAX_PER_TEXT = 2
PHRASES = 6
SECOND = 0.9  # a second theme when its centre is at least this share as close as the first


@dataclass(frozen=True)
class Discovered:
    phrases: tuple[str, ...]
    members: tuple[tuple[int, float], ...]  # (index of the text, weight)

    @property
    def name(self) -> str:
        return name_of(self.phrases)


def name_of(phrases: tuple[str, ...], n: int = 3) -> str:
    """A theme's name: its first ``n`` key phrases in rank order, none repeating another's
    words: a phrase whose words a chosen one holds is left out, and a phrase that holds chosen
    ones takes the place of the first of them ("late, days, days late" reads "days late")."""
    chosen: list[str] = []
    for phrase in phrases:
        if len(chosen) == n:
            break
        words = set(phrase.split())
        if any(words <= set(c.split()) for c in chosen):
            continue
        held = [c for c in chosen if set(c.split()) <= words]
        if held:
            at = chosen.index(held[0])
            chosen = [c for c in chosen if c not in held]
            chosen.insert(at, phrase)
        else:
            chosen.append(phrase)
    return ", ".join(chosen)


def theme_count(n_texts: int) -> int:
    """A default number of themes: √(n/2), between 2 and ``MAX_THEMES``."""
    return max(2, min(MAX_THEMES, round(math.sqrt(n_texts / 2))))


def discover(
    texts: list[str], *, k: int | None = None, seed: int = 0, vectors: np.ndarray | None = None
) -> list[Discovered]:
    """Themes of ``texts`` (empty when there are fewer than ``MIN_TEXTS`` or too few words):
    clusters of ``vectors`` (one unit row per text) when given, else TF-IDF + NMF."""
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(texts) < MIN_TEXTS:
        return []
    if vectors is not None:
        return _clusters(texts, vectors, k=k, seed=seed)
    vectorizer = TfidfVectorizer(
        stop_words=stop_words(), ngram_range=(1, 2), min_df=2, max_df=0.5, sublinear_tf=True
    )
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # no word left after stop words and document-frequency bounds
        return []
    k = min(k or theme_count(len(texts)), matrix.shape[1], len(texts) - 1)
    if k < 2:
        return []
    model = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=500)
    weights = model.fit_transform(matrix)
    terms = vectorizer.get_feature_names_out()
    members: list[list[tuple[int, float]]] = [[] for _ in range(k)]
    for i, row in enumerate(weights):
        strongest = row.max()
        if strongest <= 0:
            continue
        for j in np.argsort(-row)[:MAX_PER_TEXT]:
            if row[j] >= strongest / 2:
                members[j].append((i, float(row[j])))
    found = []
    for j, component in enumerate(model.components_):
        if not members[j]:
            continue
        phrases = tuple(str(terms[t]) for t in np.argsort(-component)[:PHRASES])
        found.append(Discovered(phrases, tuple(sorted(members[j], key=lambda m: -m[1]))))
    return sorted(found, key=lambda d: -len(d.members))


def key_phrases(texts: list[str], labels: np.ndarray, k: int) -> list[tuple[str, ...]]:
    """Each cluster's ``PHRASES`` heaviest words and two-word phrases by c-TF-IDF (BERTopic's
    class-based TF-IDF): the frequency of a phrase in the cluster, normalised by the cluster's
    length, × log(1 + A / its frequency over all clusters), A the average words per cluster."""
    from sklearn.feature_extraction.text import CountVectorizer

    counter = CountVectorizer(stop_words=stop_words(), ngram_range=(1, 2), min_df=2)
    try:
        counts = counter.fit_transform(texts)
    except ValueError:  # no word left after stop words
        return [() for _ in range(k)]
    per_cluster = np.vstack(
        [np.asarray(counts[labels == c].sum(axis=0)).ravel() for c in range(k)]
    ).astype(float)
    lengths = per_cluster.sum(axis=1, keepdims=True)
    tf = per_cluster / np.where(lengths > 0, lengths, 1.0)
    average = per_cluster.sum() / k
    idf = np.log(1 + average / np.maximum(per_cluster.sum(axis=0), 1.0))
    weights = tf * idf
    terms = counter.get_feature_names_out()
    return [
        tuple(str(terms[t]) for t in np.argsort(-row, kind="stable")[:PHRASES] if row[t] > 0)
        for row in weights
    ]


def _clusters(
    texts: list[str], vectors: np.ndarray, *, k: int | None, seed: int
) -> list[Discovered]:
    from sklearn.cluster import KMeans

    distinct = len({row.tobytes() for row in np.asarray(vectors, dtype=np.float32)})
    k = min(k or theme_count(len(texts)), distinct, len(texts) - 1)
    if k < 2:
        return []
    model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(vectors)
    centres = model.cluster_centers_ / np.maximum(
        np.linalg.norm(model.cluster_centers_, axis=1, keepdims=True), 1e-12
    )
    closeness = np.asarray(vectors) @ centres.T  # cosine to each centre
    labels = model.labels_
    phrases = key_phrases(texts, labels, k)
    members: list[list[tuple[int, float]]] = [[] for _ in range(k)]
    for i, row in enumerate(closeness):
        first = int(labels[i])
        members[first].append((i, float(row[first])))
        others = [c for c in np.argsort(-row) if c != first][: MAX_PER_TEXT - 1]
        for c in others:
            if row[first] > 0 and row[c] >= SECOND * row[first]:
                members[int(c)].append((i, float(row[c])))
    found = [
        Discovered(phrases[c], tuple(sorted(members[c], key=lambda m: -m[1])))
        for c in range(k)
        if members[c] and phrases[c]
    ]
    return sorted(found, key=lambda d: -len(d.members))


def words_of(text: str) -> str:
    """``text`` lower-cased, as its words separated by single spaces."""
    return " ".join(re.findall(r"\w+", text.lower()))


def _has(lowered: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in the normalised text as whole words."""
    wanted = words_of(phrase)
    return bool(wanted) and re.search(rf"(?<!\w){re.escape(wanted)}(?!\w)", lowered) is not None


def match(
    text: str,
    themes: list[tuple[int, list[str]]],
    *,
    top: int = 3,
    rules: dict[int, list[str]] | None = None,
) -> list[tuple[int, float]]:
    """The themes a new text carries: those of whose first ``top`` key phrases it contains at
    least one (as whole words, any case; the weight is the share of those phrases found), and
    those with a keyword rule it contains (weight 1: a person said so)."""
    lowered = words_of(text)
    rules = rules or {}
    found = []
    for theme_id, phrases in themes:
        if any(_has(lowered, rule) for rule in rules.get(theme_id, [])):
            found.append((theme_id, 1.0))
            continue
        wanted = [p for p in phrases[:top] if p]
        hits = sum(1 for p in wanted if _has(lowered, p))
        if hits:
            found.append((theme_id, hits / len(wanted)))
    return found
