"""Theme quality on labelled text nobody here wrote: do discovered themes separate texts the way
their labels do? Ours (``cxloop.text.themes.discover``) beside plain scikit-learn topic models and
a keyword baseline, in one run.

    PYTHONPATH=src .venv/bin/python bench/themes.py [--data DIR] [--per-label 800] [--seeds 3]
    PYTHONPATH=src .venv/bin/python bench/themes.py --csv Tweets.csv --label-column negativereason \
        --skip-label "Can't Tell" --min-label-texts 50 --per-label 300

The labelled set: the snippets of Hutto & Gilbert's ICWSM 2014 corpora (../shared/data/
vader-icwsm2014, see its README) labelled by the corpus each comes from: Amazon product reviews,
movie reviews, New York Times editorials (``--tweets`` adds the tweets, whose topics are mixed).
These labels are provenance, not a person's topic judgement, so they measure coarse topic
separation (products vs films vs public affairs); no public topic-labelled corpus ships in a
package installable here (scikit-learn's 20 newsgroups downloads at run time). ``--per-label``
texts are drawn per label; each of ``--seeds`` seeds (0, 1, …) draws a new sample and refits
every method, and the table gives the mean and standard deviation over them.

With the ``embeddings`` extra installed, a first row runs ours on the embedding path
(all-MiniLM-L6-v2 vectors, KMeans, c-TF-IDF names; ``--no-embeddings`` leaves it out).
Each method gives every text one cluster: ours its strongest theme; scikit-learn's NMF on TF-IDF
(words, English stop words, defaults otherwise) and LDA on word counts the topic with the largest
weight; the keyword baseline the most frequent of the k most common words (document frequency,
English stop words out) that the text contains. A text with no theme or keyword is counted in
one extra "none" cluster (so leaving texts out costs), and its share is shown as coverage.
Scores: purity (each cluster counted as its majority label; rises with the number of clusters)
and normalised mutual information (NMI, arithmetic mean; 0 = independent of the labels, 1 = the
same partition), each at k = the number of labels and at our default number of themes for that
many texts. Nothing is trained on the labels.

``--csv`` takes the labelled set from a CSV instead: a text column and a label column that a
person filled in (rows with an empty label, one of ``--skip-label``, or a label given to fewer
than ``--min-label-texts`` rows, are left out). For
example the Twitter US Airline Sentiment set (CrowdFlower, CC BY-NC-SA 4.0, not in this
repository): 9,178 complaints to airlines, each given its reason (late flight, lost luggage,
customer service issue …) by contributors: human topic labels on customer-service text.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.decomposition import NMF, LatentDirichletAllocation
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.metrics import normalized_mutual_info_score

from cxloop.text import themes

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "vader-icwsm2014"
CORPORA = {
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "movies": "movieReviewSnippets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
}
TWEETS = {"tweets": "tweets_GroundTruth.txt"}
NONE = -1


def read_texts(path: Path) -> list[str]:
    """The text column of one ICWSM 2014 file (id, rating, text; tab-separated)."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [parts[2] for parts in (line.split("\t", 2) for line in lines) if len(parts) == 3]


def corpus_pools(data: Path, files: dict[str, str]) -> dict[str, list[str]]:
    """Each ICWSM file's texts, labelled by the file."""
    return {label: read_texts(data / name) for label, name in files.items()}


def csv_pools(
    path: Path, text_column: str, label_column: str, skip: tuple[str, ...] = ()
) -> dict[str, list[str]]:
    """A CSV's texts by their label, leaving out empty labels and those in ``skip``."""
    pools: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in (text_column, label_column) if c not in (reader.fieldnames or [])]
        if missing:
            raise SystemExit(f"{path}: no column {', '.join(map(repr, missing))} in the header")
        for row in reader:
            label = (row.get(label_column) or "").strip()
            text = (row.get(text_column) or "").strip()
            if label and text and label not in skip:
                pools.setdefault(label, []).append(text)
    return pools


def labelled_sample(
    pools: dict[str, list[str]], per_label: int, seed: int
) -> tuple[list[str], list[str]]:
    """``per_label`` texts drawn from each label's pool (all of a smaller one), shuffled
    together."""
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    labels: list[str] = []
    for label, found in pools.items():
        picked = rng.choice(len(found), size=min(per_label, len(found)), replace=False)
        texts += [found[i] for i in picked]
        labels += [label] * len(picked)
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], [labels[i] for i in order]


def purity(clusters: list[int], labels: list[str]) -> float:
    """The share of texts whose cluster's majority label is their own."""
    by_cluster: dict[int, Counter[str]] = {}
    for cluster, label in zip(clusters, labels, strict=True):
        by_cluster.setdefault(cluster, Counter())[label] += 1
    return sum(c.most_common(1)[0][1] for c in by_cluster.values()) / len(labels)


def coverage(clusters: list[int]) -> float:
    return sum(c != NONE for c in clusters) / len(clusters)


def ours(texts: list[str], k: int, seed: int, vectors: np.ndarray | None = None) -> list[int]:
    """Each text's strongest discovered theme (``NONE`` without one)."""
    best: dict[int, tuple[float, int]] = {}
    for j, theme in enumerate(themes.discover(texts, k=k, seed=seed, vectors=vectors)):
        for index, weight in theme.members:
            if index not in best or weight > best[index][0]:
                best[index] = (weight, j)
    return [best[i][1] if i in best else NONE for i in range(len(texts))]


_VECTORS: dict[str, np.ndarray] = {}


def ours_embedded(texts: list[str], k: int, seed: int) -> list[int]:
    """Ours on the embedding path: all-MiniLM-L6-v2 vectors (each text embedded once per run,
    so the first k's seconds include embedding the sample), KMeans, c-TF-IDF names."""
    from cxloop.text import embeddings

    model = embeddings.engine()
    assert model is not None  # noqa: S101 - only listed when the extra is installed
    todo = [t for t in dict.fromkeys(texts) if t not in _VECTORS]
    if todo:
        _VECTORS.update(zip(todo, model.encode(todo), strict=True))
    return ours(texts, k, seed, vectors=np.stack([_VECTORS[t] for t in texts]))


def _argmax(weights: np.ndarray) -> list[int]:
    return [int(row.argmax()) if row.max() > 0 else NONE for row in weights]


def nmf_baseline(texts: list[str], k: int, seed: int) -> list[int]:
    matrix = TfidfVectorizer(stop_words="english").fit_transform(texts)
    model = NMF(n_components=k, random_state=seed, max_iter=500)
    return _argmax(model.fit_transform(matrix))


def lda_baseline(texts: list[str], k: int, seed: int) -> list[int]:
    matrix = CountVectorizer(stop_words="english").fit_transform(texts)
    model = LatentDirichletAllocation(n_components=k, random_state=seed)
    return _argmax(model.fit_transform(matrix))


def keyword_baseline(texts: list[str], k: int, seed: int) -> list[int]:
    """The most common of the corpus's k most common words that the text has."""
    del seed  # deterministic
    vectorizer = CountVectorizer(stop_words="english", binary=True)
    matrix = vectorizer.fit_transform(texts).tocsc()
    frequency = np.asarray(matrix.sum(axis=0)).ravel()
    top = np.argsort(-frequency, kind="stable")[:k]
    rows = matrix.tocsr()
    clusters = []
    for i in range(len(texts)):
        present = set(rows.indices[rows.indptr[i] : rows.indptr[i + 1]])
        clusters.append(next((rank for rank, t in enumerate(top) if t in present), NONE))
    return clusters


METHODS = {
    "cxloop themes (TF-IDF 1-2-grams + NMF)": ours,
    "scikit-learn NMF on TF-IDF": nmf_baseline,
    "scikit-learn LDA on counts": lda_baseline,
    "keyword baseline (top-k words)": keyword_baseline,
}


def _embedding_model_installed() -> bool:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxloop.settings")
    django.setup()  # the engine reads the CXLOOP_TEXT_EMBEDDINGS setting
    from cxloop.text import embeddings

    return embeddings.engine() is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--per-label", type=int, default=800)
    parser.add_argument("--seeds", type=int, default=3, help="samples drawn (seeds 0, 1, …)")
    parser.add_argument("--tweets", action="store_true", help="add the tweets as a fourth label")
    parser.add_argument(
        "--no-embeddings", action="store_true", help="leave out the embedding path's row"
    )
    parser.add_argument("--csv", type=Path, default=None, help="a labelled CSV instead")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--skip-label", action="append", default=[])
    parser.add_argument(
        "--min-label-texts", type=int, default=1, help="leave out labels with fewer texts"
    )
    args = parser.parse_args()
    methods = dict(METHODS)
    if not args.no_embeddings and _embedding_model_installed():
        methods = {"cxloop themes (MiniLM + KMeans, c-TF-IDF)": ours_embedded, **methods}
    if args.csv is not None:
        pools = csv_pools(args.csv, args.text_column, args.label_column, tuple(args.skip_label))
        pools = {k: v for k, v in pools.items() if len(v) >= args.min_label_texts}
        source = f"labels = {args.label_column} in {args.csv.name}"
    else:
        files = {**CORPORA, **(TWEETS if args.tweets else {})}
        missing = [name for name in files.values() if not (args.data / name).exists()]
        if missing:
            print(f"no labelled data at {args.data} (missing {', '.join(missing)}); see README")
            return 2
        pools = corpus_pools(args.data, files)
        source = "labels = source corpus"
    if len(pools) < 2:
        print("fewer than two labels: nothing to separate")
        return 2
    # (k, method) -> [(purity, NMI, coverage, seconds)] over the seeds
    runs: dict[tuple[int, str], list[tuple[float, float, float, float]]] = {}
    for seed in range(args.seeds):
        texts, labels = labelled_sample(pools, args.per_label, seed)
        if seed == 0:
            counts = Counter(labels)
            print(
                f"{len(texts)} texts a sample: " + ", ".join(f"{k} {n}" for k, n in counts.items())
            )
            print(f"{source}; {args.seeds} samples (seeds 0–{args.seeds - 1})\n")
        for k in sorted({len(pools), themes.theme_count(len(texts))}):
            for name, method in methods.items():
                started = time.perf_counter()
                clusters = method(texts, k, seed)
                took = time.perf_counter() - started
                nmi = normalized_mutual_info_score(labels, clusters)
                runs.setdefault((k, name), []).append(
                    (purity(clusters, labels), nmi, coverage(clusters), took)
                )
    header = f"{'method':42} {'k':>3} {'purity':>13} {'NMI':>13} {'coverage':>8} {'seconds':>7}"
    print(header)
    print("-" * len(header))
    last_k = None
    for (k, name), rows in runs.items():
        if last_k is not None and k != last_k:
            print()
        last_k = k
        values = np.array(rows)
        mean, sd = values.mean(axis=0), values.std(axis=0)
        print(
            f"{name:42} {k:>3} {mean[0]:>6.3f} ± {sd[0]:.3f} {mean[1]:>6.3f} ± {sd[1]:.3f} "
            f"{mean[2]:>8.1%} {mean[3]:>7.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
