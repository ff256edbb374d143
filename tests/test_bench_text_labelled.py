"""The labelled-text benchmark's reading of a CSV and its dev / test halves
(bench/text_labelled.py)."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "text_labelled.py"
spec = importlib.util.spec_from_file_location("bench_text_labelled", BENCH)
assert spec and spec.loader
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_labels_are_read_and_a_bad_one_is_named_with_its_line(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text('text,mood\n"late, again",Negative\nok,neutral\nlovely, positive\n')
    texts, labels = bench.read(good, "text", "mood")
    assert texts == ["late, again", "ok", "lovely"]
    assert labels.tolist() == [-1, 0, 1]
    bad = tmp_path / "bad.csv"
    bad.write_text("text,mood\nfine,neutral\nmeh,mixed\n")
    with pytest.raises(SystemExit, match=r"bad.csv, line 3: label 'mixed'"):
        bench.read(bad, "text", "mood")
    with pytest.raises(SystemExit, match=r"good.csv: no column 'body'"):
        bench.read(good, "body", "mood")


def test_the_halves_split_by_the_texts_hash_and_keep_copies_together():
    texts = [f"text {i}" for i in range(40)] + ["text 3", "text 3"]
    dev, test = bench.in_half(texts, "dev"), bench.in_half(texts, "test")
    # by hand: the last byte of each text's sha256, even → dev
    expected = [hashlib.sha256(t.encode()).digest()[-1] % 2 == 0 for t in texts]
    assert dev.tolist() == expected
    assert np.all(dev ^ test) and bench.in_half(texts, "all").all()
    assert dev[3] == dev[40] == dev[41]
    assert 0 < dev.sum() < len(texts)


def test_the_committed_dynasent_sentences_are_the_ones_the_readme_describes():
    data = BENCH.parent / "data" / "dynasent"
    texts, labels = bench.read(data / "test.csv", "text", "label")
    # the DynaSent v1.1 round-one test split: 3,600 sentences, 1,200 per label, no empty text
    assert len(texts) == 3600 and all(t.strip() for t in texts)
    assert np.bincount(labels + 1).tolist() == [1200, 1200, 1200]
    assert texts[0] == "Had to remind him to toast the sandwich." and labels[0] == -1
    assert "CC BY 4.0" in (data / "README.md").read_text()


def test_a_file_with_no_neutral_row_is_scored_over_its_two_classes():
    labels = np.array([-1, -1, 1, 1])
    scores = np.array([-0.5, 0.0, 0.5, 0.3])  # read as negative, neutral, positive, positive
    product, forced = bench.two_class_f1(scores, labels)
    # by hand, labels: negative P 1/1 R 1/2 → F1 2/3; positive P 2/2 R 2/2 → 1; mean 5/6
    assert product == pytest.approx(5 / 6)
    # forced (0.0 → positive): negative P 1/1 R 1/2 → 2/3; positive P 2/3 R 1 → 4/5
    assert forced == pytest.approx((2 / 3 + 4 / 5) / 2)


def test_the_committed_uci_sentences_are_the_ones_the_readme_describes():
    data = BENCH.parent / "data" / "uci-sentences"
    texts, labels = bench.read(data / "sentences.csv", "text", "label")
    # Amazon phone-accessory and Yelp restaurant sentences, 500 negative and 500 positive each
    assert len(texts) == 2000 and all(t.strip() for t in texts)
    assert np.bincount(labels + 1).tolist() == [1000, 0, 1000]
    assert texts[1] == "Good case, Excellent value." and labels[1] == 1
    assert "CC BY 4.0" in (data / "README.md").read_text()
