"""Sentiment accuracy on human-rated text nobody here wrote: Hutto & Gilbert's four ICWSM 2014
corpora (../shared/data/vader-icwsm2014, see its README): cxloop's lexicon, cxloop's learned head,
plain vaderSentiment and TextBlob in one run.

    PYTHONPATH=src .venv/bin/python bench/text.py [--data DIR] [--textblob-python PATH]
        [--vectors-cache /tmp/icwsm-vectors.npz] [--speed-texts 1000]

For each corpus: Pearson r between a scorer's score and the mean human rating (−4…+4), and the
3-class macro-F1 with labels from the sign against VADER's ±0.05 cut-off (≥ 0.05 positive,
≤ −0.05 negative, else neutral), for the human mean and for each scorer's score alike (TextBlob's
polarity gets the same cut-off). The lexicon, VADER and TextBlob are not trained on these texts.
The learned head (``cxloop.text.sentiment_head``) is evaluated leave-one-corpus-out: its figures
on a corpus come from a head trained on the other three only (``sentiment_training.split`` also
drops training rows whose text occurs in the scored corpus), never from the shipped head, which
saw all four; and again by five-fold cross-validation (``sentiment_training.cross_validate``:
distinct texts dealt at random into five folds, each fold scored by a head trained on the other
four, so every kind of text is in training but no scored text is), with 95 % paired bootstrap
intervals of the head's gain over VADER (1,000 resamples of each corpus' rows). It needs the
embeddings extra; the 23,703 texts take minutes to embed on two cores,
so ``--vectors-cache`` keeps their vectors in a file for the next run. An additional table, not
the scheme above, gives 2-class macro-F1 (positive against negative) on the rows whose human
mean is not neutral.

TextBlob is not a cxloop dependency: when it is not importable here, pass the python of a
throwaway virtual environment that has it (``python -m venv /tmp/tb && /tmp/tb/bin/pip install
textblob``); its scores are computed there in a subprocess. Without either, its column says so.
Also prints texts/s for ours and VADER on the same texts (ratio in the same run), the head's
texts/s on the first ``--speed-texts`` texts (analysis + embedding each text afresh + the head;
and with the vectors cached), and how long theme discovery takes on all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr
from sklearn.metrics import f1_score

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "vader-icwsm2014"
CORPORA = {
    "tweets": "tweets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "movies": "movieReviewSnippets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
}
PUBLISHED = {"tweets": 0.881, "amazon": 0.565, "movies": 0.451, "nyt": 0.492}  # paper, Table 4
TEXTBLOB_SCRIPT = """
import json, sys
from textblob import TextBlob
texts = json.load(sys.stdin)
json.dump([TextBlob(t).sentiment.polarity for t in texts], sys.stdout)
"""


def read_corpus(path: Path) -> tuple[list[str], np.ndarray]:
    texts, ratings = [], []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3:
            ratings.append(float(parts[1]))
            texts.append(parts[2])
    return texts, np.array(ratings)


def classes(values: np.ndarray, cutoff: float = 0.05) -> np.ndarray:
    return np.where(values >= cutoff, 1, np.where(values <= -cutoff, -1, 0))


def figures(scores: np.ndarray, human: np.ndarray) -> tuple[float, float]:
    r = float(pearsonr(scores, human)[0])
    f1 = float(
        f1_score(
            classes(human), classes(scores), average="macro", labels=[-1, 0, 1], zero_division=0
        )
    )
    return r, f1


def binary_f1(scores: np.ndarray, human: np.ndarray) -> float:
    """Additional scheme: positive against negative (score ≥ 0 positive), on the rows whose
    human mean is not neutral."""
    keep = classes(human) != 0
    return float(
        f1_score(np.sign(human[keep]), np.where(scores[keep] >= 0, 1, -1), average="macro")
    )


def paired_interval(
    ours: np.ndarray, theirs: np.ndarray, human: np.ndarray, resamples: int = 1000
) -> tuple[tuple[float, float], tuple[float, float]]:
    """95 % percentile intervals (low, high) of ours − theirs in r, and in 3-class macro-F1,
    over bootstrap resamples of the rows (the same rows for both scorers, seed 0)."""
    rng = np.random.default_rng(0)
    dr, df = [], []
    for _ in range(resamples):
        rows = rng.integers(0, len(human), len(human))
        a, b = figures(ours[rows], human[rows]), figures(theirs[rows], human[rows])
        dr.append(a[0] - b[0])
        df.append(a[1] - b[1])
    r_low, r_high = np.percentile(dr, [2.5, 97.5])
    f1_low, f1_high = np.percentile(df, [2.5, 97.5])
    return (float(r_low), float(r_high)), (float(f1_low), float(f1_high))


def textblob_scores(texts: list[str], python: str | None) -> list[float] | None:
    try:
        from textblob import TextBlob  # type: ignore[import-not-found]

        return [TextBlob(t).sentiment.polarity for t in texts]
    except ImportError:
        pass
    if not python:
        return None
    done = subprocess.run(
        [python, "-c", TEXTBLOB_SCRIPT],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def head_speed(texts: list[str], head, training) -> tuple[float, float]:
    """Texts/s of the product's path with the head: the lexicon's analysis, embedding each text
    afresh (the model loaded beforehand, untimed), the head; and the same with the vectors
    cached already (what a second pass or a text themes embedded costs)."""
    from cxloop.text import sentiment, sentiment_head
    from cxloop.text.embeddings import SentenceModel, model_path, normalise

    model = SentenceModel(model_path())
    model.encode(["warm up"])
    start = time.perf_counter()
    results = [sentiment.analyse(t) for t in texts]
    vectors = model.encode([normalise(t) for t in texts])
    lexicon = np.array([sentiment_head.lexicon_features(r) for r in results])
    head.scores(vectors, lexicon)
    fresh = time.perf_counter() - start
    start = time.perf_counter()
    results = [sentiment.analyse(t) for t in texts]
    lexicon = np.array([sentiment_head.lexicon_features(r) for r in results])
    head.scores(vectors, lexicon)
    cached = time.perf_counter() - start
    return len(texts) / fresh, len(texts) / cached


def cell(pair: tuple[float, float] | None, width: int = 7) -> str:
    return f"{pair[0]:{width}.3f} {pair[1]:5.3f}" if pair else f"{'n/a':>{width}} {'n/a':>5}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--textblob-python", default=None)
    parser.add_argument("--vectors-cache", type=Path, default=None)
    parser.add_argument("--speed-texts", type=int, default=1000)
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no data at {args.data}: see ../shared/data/README.md")
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxloop.settings")
    import django

    django.setup()
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from cxloop.text import sentiment, sentiment_head
    from cxloop.text import sentiment_training as training

    vader = SentimentIntensityAnalyzer()
    rows, ours_time, vader_time, count = [], 0.0, 0.0, 0
    every_text: list[str] = []
    scored: dict[str, dict[str, np.ndarray | None]] = {}
    humans: dict[str, np.ndarray] = {}
    for name, file in CORPORA.items():
        texts, human = read_corpus(args.data / file)
        every_text += texts
        start = time.perf_counter()
        ours = np.array([sentiment.analyse(t).score for t in texts])
        ours_time += time.perf_counter() - start
        start = time.perf_counter()
        plain = np.array([vader.polarity_scores(t)["compound"] for t in texts])
        vader_time += time.perf_counter() - start
        count += len(texts)
        blob = textblob_scores(texts, args.textblob_python)
        humans[name] = human
        scored[name] = {
            "lexicon": ours,
            "vader": plain,
            "textblob": np.array(blob) if blob is not None else None,
        }
        rows.append((name, len(texts)))
    held: dict[str, training.Held] = {}
    crossed: dict[str, training.Held] = {}
    try:
        corpora = training.load_corpora(args.data, training.encoder(args.vectors_cache))
        held = {h.corpus: h for h in training.leave_one_corpus_out(corpora)}
        crossed = {h.corpus: h for h in training.cross_validate(corpora)}
    except RuntimeError as error:  # the embeddings extra is not installed
        print(f"learned head: {error}")
    for name, _ in rows:
        scored[name]["head"] = held[name].scores if name in held else None
    print("r: Pearson with the mean human rating; F1: 3-class macro-F1, human mean and score")
    print("labelled by the ±0.05 cut-off; head: leave-one-corpus-out (trained on the other three)")
    print(f"{'corpus':8} {'n':>6}  {'lexicon r':>9} {'F1':>5}  {'head r':>7} {'F1':>5}  "
          f"{'VADER r':>7} {'F1':>5}  {'TextBlob r':>10} {'F1':>5}  {'paper r':>7}")  # fmt: skip
    for name, n in rows:
        got = scored[name]
        pairs = {k: figures(v, humans[name]) if v is not None else None for k, v in got.items()}
        print(f"{name:8} {n:6,}  {cell(pairs['lexicon'], 9)}  {cell(pairs['head'])}  "
              f"{cell(pairs['vader'])}  {cell(pairs['textblob'], 10)}  "
              f"{PUBLISHED[name]:7.3f}")  # fmt: skip
    for name, h in held.items():
        print(f"  head scored on {name} was trained on "
              + ", ".join(f"{k} ({v:,} rows)" for k, v in h.trained_on.items()))  # fmt: skip
    if crossed:
        print(
            f"head, {training.FOLDS}-fold cross-validation (distinct texts dealt at random into "
            f"folds, seed {training.FOLD_SEED}; each fold scored by a head trained on the others)"
        )
        print(
            f"{'corpus':8} {'head r':>7} {'F1':>5}  {'VADER r':>7} {'F1':>5}  "
            f"{'gain in r, 95 % interval':>25}  {'gain in F1, 95 % interval':>26}"
        )
        for name, _ in rows:
            h, human, plain = crossed[name], humans[name], scored[name]["vader"]
            vader_r, vader_f1 = figures(plain, human)
            in_r, in_f1 = paired_interval(h.scores, plain, human)
            print(f"{name:8} {h.r:7.3f} {h.f1:5.3f}  {vader_r:7.3f} {vader_f1:5.3f}  "
                  f"{h.r - vader_r:+8.3f} [{in_r[0]:+.3f}, {in_r[1]:+.3f}]  "
                  f"{h.f1 - vader_f1:+9.3f} [{in_f1[0]:+.3f}, {in_f1[1]:+.3f}]")  # fmt: skip
    if not any(scored[name]["textblob"] is not None for name, _ in rows):
        print("TextBlob: not installed here and no --textblob-python given")
    print("additional scheme (not the one above): 2-class macro-F1, positive vs negative, on rows")
    print("whose human mean is not neutral (score >= 0 counts positive)")
    print(f"{'corpus':8} {'rows':>6}  {'lexicon':>7} {'head':>7} {'VADER':>7} {'TextBlob':>8}")
    for name, _ in rows:
        got = scored[name]
        human = humans[name]
        kept = int(np.sum(classes(human) != 0))
        values = [
            f"{binary_f1(v, human):7.3f}" if v is not None else f"{'n/a':>7}"
            for v in (got[k] for k in ("lexicon", "head", "vader", "textblob"))
        ]
        print(f"{name:8} {kept:6,}  {values[0]} {values[1]} {values[2]} {values[3]:>8}")
    print(
        f"speed on {count:,} texts: lexicon {count / ours_time:,.0f} texts/s (full analysis: "
        f"sentences, drivers, emotions), VADER {count / vader_time:,.0f} texts/s, "
        f"ratio {vader_time / ours_time:.2f}"
    )
    head = sentiment_head.load()
    if held and head is not None:
        sample = every_text[: args.speed_texts]
        fresh, cached = head_speed(sample, head, training)
        print(
            f"speed with the head on the first {len(sample):,} texts: {fresh:,.1f} texts/s "
            f"embedding each afresh (all-MiniLM-L6-v2 on CPU), {cached:,.0f} texts/s with the "
            f"vectors cached; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
    from cxloop.text import themes

    start = time.perf_counter()
    found = themes.discover(every_text)
    took = time.perf_counter() - start
    print(
        f"themes (TF-IDF + NMF) on all {len(every_text):,} texts: {len(found)} themes in "
        f"{took:.1f}s, {len(every_text) / took:,.0f} texts/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
