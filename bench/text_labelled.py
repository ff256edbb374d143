"""Sentiment accuracy on labelled customer-service text that cxloop was not trained on: any CSV
with a text column and a negative / neutral / positive label column (for example the Twitter US
Airline Sentiment set, 14,640 tweets to six US airlines labelled by CrowdFlower's contributors,
CC BY-NC-SA 4.0, which is why it is not in this repository: bring your own copy).

    PYTHONPATH=src .venv/bin/python bench/text_labelled.py --csv Tweets.csv \\
        [--text-column text] [--label-column airline_sentiment] [--half test]
        [--vectors-cache /tmp/labelled-vectors.npz] [--textblob-python /tmp/tb/bin/python]

Scorers, each labelled by VADER's ±0.05 cut-off on its score, as the product labels: plain
vaderSentiment 3.3.2, TextBlob (when given), cxloop's lexicon, and cxloop's learned head as
shipped (trained on the four ICWSM 2014 corpora only, never on this file). Prints 3-class
macro-F1, each class's F1, accuracy and how many texts each scorer puts in each class, with the
95 % paired bootstrap interval of the head's gain over VADER in macro-F1 (1,000 resamples). A file
with no neutral row (sentences chosen to be clearly negative or positive, as in
``bench/data/uci-sentences``) is scored over its two classes instead (``two_class``).

``--half``: rows are split in two by the parity of the sha256 of their text (so copies of a text
stay together). When a lexicon rule is chosen by reading a file's errors, read the ``dev`` half
only and report the ``test`` half; ``all`` scores every row.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
LABELS = {"negative": -1, "neutral": 0, "positive": 1, "neg": -1, "neu": 0, "pos": 1}


def read(path: Path, text_column: str, label_column: str) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in (text_column, label_column) if c not in (reader.fieldnames or [])]
        if missing:
            raise SystemExit(f"{path}: no column {', '.join(map(repr, missing))} in the header")
        for line, row in enumerate(reader, start=2):
            label = (row.get(label_column) or "").strip().lower()
            if label not in LABELS:
                raise SystemExit(
                    f"{path}, line {line}: label {label!r} is not one of {', '.join(LABELS)}"
                )
            texts.append(row.get(text_column) or "")
            labels.append(LABELS[label])
    return texts, np.array(labels)


def in_half(texts: list[str], half: str) -> np.ndarray:
    if half == "all":
        return np.ones(len(texts), dtype=bool)
    parity = np.array([hashlib.sha256(t.encode("utf-8")).digest()[-1] % 2 for t in texts])
    return parity == (0 if half == "dev" else 1)


def two_class_f1(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Macro-F1 over negative and positive of the product's labels (a text read as neutral is a
    miss) and of a forced choice (score ≥ 0 positive), for a file with no neutral rows."""
    from text import classes

    product = f1_score(labels, classes(scores), labels=[-1, 1], average="macro")
    forced = f1_score(labels, np.where(scores >= 0, 1, -1), labels=[-1, 1], average="macro")
    return float(product), float(forced)


def two_class(scored: dict[str, np.ndarray | None], labels: np.ndarray) -> None:
    """For a file labelled negative / positive only (sentences chosen to be clearly one or the
    other), two more readings of the same scores: the product's labels with a text read as
    neutral counted as a miss (macro-F1 over the two classes), and a forced choice (score ≥ 0
    positive, as for ICWSM's positive-against-negative scheme)."""
    from text import classes

    print("no row is labelled neutral: macro-F1 over negative and positive")
    print(f"{'scorer':15} {'labels':>8}  {'forced':>8}  {'read as neutral':>15}")
    for name, scores in scored.items():
        if scores is None:
            continue
        product, forced = two_class_f1(scores, labels)
        print(f"{name:15} {product:8.3f}  {forced:8.3f}  {np.sum(classes(scores) == 0):>15,}")
    ours, theirs = scored.get("cxloop head"), scored["VADER 3.3.2"]
    if ours is None or theirs is None:
        return
    rng = np.random.default_rng(0)  # 1,000 resamples of the rows, the same for both scorers
    gains = []
    for _ in range(1000):
        rows = rng.integers(0, len(labels), len(labels))
        gains.append(
            two_class_f1(ours[rows], labels[rows])[0] - two_class_f1(theirs[rows], labels[rows])[0]
        )
    low, high = np.percentile(gains, [2.5, 97.5])
    print(f"head − VADER, labels: 95 % interval [{low:+.3f}, {high:+.3f}]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="airline_sentiment")
    parser.add_argument("--half", choices=("dev", "test", "all"), default="test")
    parser.add_argument("--vectors-cache", type=Path, default=None)
    parser.add_argument("--textblob-python", default=None)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxloop.settings")
    import django

    django.setup()
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from cxloop.text import sentiment, sentiment_head
    from cxloop.text import sentiment_training as training
    from text import classes, figures, paired_interval, textblob_scores

    texts, labels = read(args.csv, args.text_column, args.label_column)
    keep = in_half(texts, args.half)
    texts = [t for t, k in zip(texts, keep, strict=True) if k]
    labels = labels[keep]
    vader = SentimentIntensityAnalyzer()
    scored: dict[str, np.ndarray | None] = {
        "VADER 3.3.2": np.array([vader.polarity_scores(t)["compound"] for t in texts])
    }
    blob = textblob_scores(texts, args.textblob_python)
    scored["TextBlob"] = np.array(blob) if blob is not None else None
    results = [sentiment.analyse(t) for t in texts]
    scored["cxloop lexicon"] = np.array([r.score for r in results])
    head = sentiment_head.load()
    try:
        vectors = training.encoder(args.vectors_cache)(texts)
    except RuntimeError as error:  # the embeddings extra is not installed
        print(f"learned head: {error}")
        vectors = None
    if head is not None and vectors is not None:
        lexicon = np.array([sentiment_head.lexicon_features(r) for r in results])
        scored["cxloop head"] = head.scores(vectors, lexicon)
    digest = hashlib.sha256(args.csv.read_bytes()).hexdigest()[:12]
    counts = np.bincount(labels + 1, minlength=3)
    rows = "all rows" if args.half == "all" else f"{args.half} half"
    print(f"{args.csv.name} (sha256 {digest}…), {rows}: {len(texts):,} texts; "
          f"labelled negative {counts[0]:,}, neutral {counts[1]:,}, positive {counts[2]:,}")  # fmt: skip
    print(f"{'scorer':15} {'macro-F1':>8}  {'F1 neg':>6} {'neu':>6} {'pos':>6}  {'accuracy':>8}  "
          f"{'read as neg / neu / pos':>24}")  # fmt: skip
    for name, scores in scored.items():
        if scores is None:
            print(f"{name:15} {'n/a: not installed and no --textblob-python':>40}")
            continue
        each = f1_score(labels, classes(scores), labels=[-1, 0, 1], average=None)
        read_as = np.bincount(classes(scores) + 1, minlength=3)
        print(f"{name:15} {each.mean():8.3f}  {each[0]:6.3f} {each[1]:6.3f} {each[2]:6.3f}  "
              f"{accuracy_score(labels, classes(scores)):8.3f}  "
              f"{read_as[0]:>8,} / {read_as[1]:,} / {read_as[2]:,}")  # fmt: skip
    if not counts[1]:  # the 3-class figures above count an empty neutral class as 0
        two_class(scored, labels)
    elif "cxloop head" in scored:
        # the labels −1, 0, +1 fall in the same classes as a score does (±0.05 cut-off)
        ours, theirs = scored["cxloop head"], scored["VADER 3.3.2"]
        _, (low, high) = paired_interval(ours, theirs, labels)
        gain = figures(ours, labels)[1] - figures(theirs, labels)[1]
        print(f"head − VADER in macro-F1: {gain:+.3f}, 95 % interval [{low:+.3f}, {high:+.3f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
