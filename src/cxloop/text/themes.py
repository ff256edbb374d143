"""Themes discovered in texts: TF-IDF over words and two-word phrases, then non-negative matrix
factorisation (scikit-learn's ``TfidfVectorizer`` and ``NMF``). Pure: texts in, themes out.

Each theme is named by its three heaviest phrases; a text belongs to every theme whose weight in
it is at least half its strongest (at most ``MAX_PER_TEXT``), so a text can carry several.
Deterministic (``random_state``). The embedding path (sentence embeddings with torch) is not
part of this slice.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import TfidfVectorizer

MIN_TEXTS = 10
MAX_THEMES = 12
MAX_PER_TEXT = 2
PHRASES = 6


@dataclass(frozen=True)
class Discovered:
    phrases: tuple[str, ...]
    members: tuple[tuple[int, float], ...]  # (index of the text, weight)

    @property
    def name(self) -> str:
        return ", ".join(self.phrases[:3])


def theme_count(n_texts: int) -> int:
    """A default number of themes: √(n/2), between 2 and ``MAX_THEMES``."""
    return max(2, min(MAX_THEMES, round(math.sqrt(n_texts / 2))))


def discover(texts: list[str], *, k: int | None = None, seed: int = 0) -> list[Discovered]:
    """Themes of ``texts`` (empty when there are fewer than ``MIN_TEXTS`` or too few words)."""
    if len(texts) < MIN_TEXTS:
        return []
    vectorizer = TfidfVectorizer(
        stop_words="english", ngram_range=(1, 2), min_df=2, max_df=0.5, sublinear_tf=True
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
