"""Emotion accuracy on people's labels nobody here wrote: GoEmotions' test split (Demszky et al.
2020, 5,427 Reddit comments, each labelled by raters with any of 27 emotions or neutral;
annotations Apache 2.0, comments not in this repository: bring the official files).

    PYTHONPATH=src .venv/bin/python bench/emotions.py --data DIR [--split test]
        [--vectors-cache /tmp/goemotions-vectors.npz]

For each of the product's five emotions (each standing for the GoEmotions labels its words
express, ``emotion_training.GOEMOTIONS``): precision, recall and F1 of the lexicon's words alone
(what the product showed before), of the learned model alone, and of their union (what the
product shows when the embeddings extra is installed). The shipped model was trained on the
train split and its thresholds chosen on dev; the test split is read by nothing else.

Then, as one more set of text neither scorer was trained on: 3-class sentiment macro-F1 of VADER
3.3.2, cxloop's lexicon and its learned head on the comments whose labels fall in one of
GoEmotions' own sentiment groups (neutral alone, positive only, negative only), each score
labelled by VADER's ±0.05 cut-off.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", choices=("dev", "test"), default="test")
    parser.add_argument("--vectors-cache", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxloop.settings")
    import django

    django.setup()
    from cxloop.text import emotion_head
    from cxloop.text import emotion_training as training
    from cxloop.text.sentiment_training import encoder

    head = emotion_head.load()
    if head is None:
        raise SystemExit(f"no emotion model at {emotion_head.EMOTION_FILE}")
    split = training.load_split(args.data, args.split, encoder(args.vectors_cache))
    figures = training.evaluate(head, split)
    print(
        f"GoEmotions {args.split} split: {len(split.texts):,} comments (sha256 {split.sha256[:12]}…)"
    )
    readers = ("lexicon", "model", "product")
    print(
        f"{'emotion':15} {'support':>7}  " + "  ".join(f"{r + ' P / R / F1':>26}" for r in readers)
    )
    for f in figures:
        cells = [
            f"{f.found[r]:>5,} {f.precision[r]:.3f} / {f.recall[r]:.3f} / {f.f1[r]:.3f}"
            for r in readers
        ]
        print(f"{f.emotion:15} {f.support:>7,}  " + "  ".join(f"{c:>26}" for c in cells))
    print(
        "macro-F1 over the five: "
        + ", ".join(f"{r} {training.macro(figures, r):.3f}" for r in readers)
    )
    sentiment_figures(split)
    return 0


def sentiment_figures(split: Any) -> None:
    import numpy as np
    from sklearn.metrics import f1_score
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from cxloop.text import emotion_training, sentiment_head
    from cxloop.text.sentiment_training import classes

    groups = [emotion_training.sentiment_class(labels) for labels in split.labels]
    keep = np.array([g is not None for g in groups])
    truth = np.array([g for g in groups if g is not None])
    texts = [t for t, k in zip(split.texts, keep, strict=True) if k]
    vader = SentimentIntensityAnalyzer()
    scored = {
        "VADER 3.3.2": np.array([vader.polarity_scores(t)["compound"] for t in texts]),
        "cxloop lexicon": split.lexicon[keep, 0],
    }
    head = sentiment_head.load()
    if head is not None:
        scored["cxloop head"] = head.scores(split.vectors[keep], split.lexicon[keep])
    counts = np.bincount(truth + 1, minlength=3)
    print(
        f"sentiment, {len(texts):,} comments in one group (negative {counts[0]:,}, neutral "
        f"{counts[1]:,}, positive {counts[2]:,}), 3-class macro-F1: "
        + ", ".join(
            f"{name} {f1_score(truth, classes(s), average='macro', labels=[-1, 0, 1]):.3f}"
            for name, s in scored.items()
        )
    )


if __name__ == "__main__":
    sys.exit(main())
