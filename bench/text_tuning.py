"""How many labelled texts a workspace needs before its own sentiment model (``text.tuning``,
the Teach page) reads its text better than the shipped head: a learning curve on any CSV with a
text and a negative / neutral / positive label column.

    PYTHONPATH=src .venv/bin/python bench/text_tuning.py --csv Tweets.csv \\
        [--text-column text] [--label-column airline_sentiment] \\
        [--vectors-cache /tmp/labelled-vectors.npz] [--sizes 100,250,500,1000,2000,4000] \\
        [--chosen 2000]

Rows are split in two by the parity of the sha256 of their text (as ``bench/text_labelled.py``):
the model is trained on N rows drawn at random from the ``dev`` half (three draws per N, numpy
seed 0; the whole half as the last size) with the product's own features and settings
(``tuning.features``, ``tuning.fit``) and scored on the whole ``test`` half, next to the shipped
head on the same rows, and next to the classic model an expert would train on the same labelled
rows without cxloop: TF-IDF of words and word pairs (sublinear tf, seen twice or more) with a
multinomial logistic regression, its C (0.3 / 1 / 3 / 10) chosen by three-fold cross-validation
on those rows only. Also prints what the Teach page would say for the whole dev half: the
five-fold cross-validated macro-F1 of both (``tuning.check``) and the gain's 95 % interval.
With ``--chosen N``: the same curve when the labelled rows are the ones the Teach page suggests
(``tuning.in_turn``: in turn from each label; the first 100 by the shipped head's labels in a
fixed random order, then each 100 that the model trained on the rows so far is least sure of).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="airline_sentiment")
    parser.add_argument("--vectors-cache", type=Path, default=None)
    parser.add_argument("--sizes", default="100,250,500,1000,2000,4000")
    parser.add_argument(
        "--chosen",
        type=int,
        default=2000,
        help="also label up to this many as the Teach page suggests (0: skip)",
    )
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxloop.settings")
    import django

    django.setup()
    from cxloop.text import embeddings, sentiment, sentiment_head, tuning
    from cxloop.text import sentiment_training as training
    from text_labelled import in_half, read

    texts, labels = read(args.csv, args.text_column, args.label_column)
    y = labels + 1  # −1, 0, 1 → the class indices of tuning.CLASSES
    head = sentiment_head.load()
    if head is None:
        raise SystemExit("the shipped head is missing")
    try:
        vectors = training.encoder(args.vectors_cache)(texts)
    except RuntimeError as error:
        raise SystemExit(f"needs the embeddings extra: {error}") from error
    lexicon = np.array([sentiment_head.lexicon_features(sentiment.analyse(t)) for t in texts])
    head_scores = head.scores(vectors, lexicon)
    x = tuning.features(vectors, lexicon, head_scores)
    dev = np.flatnonzero(in_half(texts, "dev"))
    test = np.flatnonzero(in_half(texts, "test"))

    def labelled(scores: np.ndarray) -> np.ndarray:  # as the product labels: ±0.05 cut-off
        return tuning.classes_of([sentiment.label_of(float(s)) for s in scores])

    def macro(truth: np.ndarray, predicted: np.ndarray) -> float:
        return float(f1_score(truth, predicted, labels=[0, 1, 2], average="macro"))

    def tfidf(rows: np.ndarray):  # the expert's baseline, tuned on its training rows only
        pipeline = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
            LogisticRegression(max_iter=3000),
        )
        folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
        search = GridSearchCV(
            pipeline, {"logisticregression__C": [0.3, 1, 3, 10]}, cv=folds, scoring="f1_macro"
        )
        return search.fit([texts[i] for i in rows], y[rows])

    shipped = labelled(head_scores)
    base = macro(y[test], shipped[test])
    print(f"{args.csv.name}: dev half {len(dev):,} rows, test half {len(test):,}")
    print(f"shipped head on the test half: macro-F1 {base:.3f}")
    print(f"{'labelled':>8}  {'tuned macro-F1 (mean of 3 draws)':>32}  {'min':>6}  {'max':>6}  "
          f"{'gain':>6}  {'fit s':>6}  {'TF-IDF + LR':>11}")  # fmt: skip
    rng = np.random.default_rng(0)
    sizes = [int(s) for s in args.sizes.split(",") if int(s) < len(dev)] + [len(dev)]
    curve: dict[int, float] = {}
    for n in sizes:
        got, took, classic = [], [], []
        for _ in range(1 if n == len(dev) else 3):
            pick = rng.choice(dev, size=n, replace=False)
            started = time.perf_counter()
            try:
                fitted = tuning.fit(x[pick], y[pick], model="bench")
            except tuning.TuningError as refused:
                print(f"{n:>8,}  {refused}")
                break
            took.append(time.perf_counter() - started)
            got.append(macro(y[test], labelled(fitted.scores(x[test]))))
            classic.append(macro(y[test], tfidf(pick).predict([texts[i] for i in test])))
        if got:
            curve[n] = float(np.mean(got))
            print(f"{n:>8,}  {np.mean(got):32.3f}  {min(got):6.3f}  {max(got):6.3f}  "
                  f"{np.mean(got) - base:+6.3f}  {np.mean(took):6.2f}  "
                  f"{np.mean(classic):11.3f}")  # fmt: skip
    if args.chosen:
        print("labels chosen as the Teach page suggests them (tuning.in_turn), 100 at a time:")
        print("the first 100 in turn from the shipped head's labels, then each 100 that the model")
        print("trained on the labels so far is least sure of; against random draws (mean of 3)")
        print(f"{'labelled':>8}  {'chosen macro-F1':>15}  {'random':>6}")
        wanted = {n for n in sizes if n <= args.chosen}
        label_words = [sentiment.label_of(float(s)) for s in head_scores]
        digests = [embeddings.digest(texts[i]) for i in dev]  # before a model: a fixed order
        picked = [int(dev[i]) for i in tuning.in_turn(
            [label_words[i] for i in dev], digests, 100)]  # fmt: skip
        while len(picked) <= args.chosen:
            try:
                fitted = tuning.fit(x[picked], y[picked], model="bench")
            except tuning.TuningError as refused:
                print(f"{len(picked):>8,}  {refused}")
                break
            if len(picked) in wanted:
                print(f"{len(picked):>8,}  {macro(y[test], labelled(fitted.scores(x[test]))):15.3f}"
                      f"  {curve.get(len(picked), float('nan')):6.3f}")  # fmt: skip
            taken = set(picked)
            pool = np.array([i for i in dev if i not in taken])
            scores = fitted.scores(x[pool])
            words = [sentiment.label_of(float(s)) for s in scores]
            picked += [int(pool[i]) for i in tuning.in_turn(words, np.abs(scores).tolist(), 100)]
    found = tuning.check(x[dev], y[dev], shipped[dev])
    print(f"the Teach page on the whole dev half ({found.labels:,} labels): cross-validated "
          f"macro-F1 {found.tuned_f1:.3f} against the shipped head's {found.shipped_f1:.3f}, "
          f"gain 95 % interval [{found.low:+.3f}, {found.high:+.3f}]")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
