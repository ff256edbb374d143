"""Sentiment accuracy on human-rated text nobody here wrote: Hutto & Gilbert's four ICWSM 2014
corpora (../shared/data/vader-icwsm2014, see its README), ours beside plain vaderSentiment and
TextBlob in one run.

    PYTHONPATH=src .venv/bin/python bench/text.py [--data DIR] [--textblob-python PATH]

For each corpus: Pearson r between a scorer's score and the mean human rating (−4…+4), and the
3-class macro-F1 with labels from the sign against VADER's ±0.05 cut-off (≥ 0.05 positive,
≤ −0.05 negative, else neutral), for the human mean and for each scorer's score alike (TextBlob's
polarity gets the same cut-off). Nothing is trained, so nothing is tested on what it learned from.

TextBlob is not a cxloop dependency: when it is not importable here, pass the python of a
throwaway virtual environment that has it (``python -m venv /tmp/tb && /tmp/tb/bin/pip install
textblob``); its scores are computed there in a subprocess. Without either, its column says so.
Also prints texts/s for ours and VADER on the same texts (ratio in the same run), and how long
theme discovery takes on all of them.
"""

from __future__ import annotations

import argparse
import json
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
    f1 = float(f1_score(classes(human), classes(scores), average="macro", labels=[-1, 0, 1]))
    return r, f1


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--textblob-python", default=None)
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no data at {args.data}: see ../shared/data/README.md")
        return 2
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from cxloop.text import sentiment

    vader = SentimentIntensityAnalyzer()
    rows, ours_time, vader_time, count = [], 0.0, 0.0, 0
    every_text: list[str] = []
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
        rows.append(
            (
                name,
                len(texts),
                figures(ours, human),
                figures(plain, human),
                figures(np.array(blob), human) if blob is not None else None,
            )
        )
    print(f"{'corpus':8} {'n':>6}  {'ours r':>7} {'F1':>5}  {'VADER r':>7} {'F1':>5}  "
          f"{'TextBlob r':>10} {'F1':>5}  {'paper r':>7}")  # fmt: skip
    for name, n, (r, f1), (vr, vf1), blob in rows:
        tb = f"{blob[0]:10.3f} {blob[1]:5.3f}" if blob else f"{'n/a':>10} {'n/a':>5}"
        print(f"{name:8} {n:6,}  {r:7.3f} {f1:5.3f}  {vr:7.3f} {vf1:5.3f}  {tb}  "
              f"{PUBLISHED[name]:7.3f}")  # fmt: skip
    if not any(row[4] for row in rows):
        print("TextBlob: not installed here and no --textblob-python given")
    print(
        f"speed on {count:,} texts: ours {count / ours_time:,.0f} texts/s (full analysis: "
        f"sentences, drivers, emotions), VADER {count / vader_time:,.0f} texts/s, "
        f"ratio {vader_time / ours_time:.2f}"
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
