"""The theme benchmark's measures, by hand (bench/themes.py), and its reading of the real
labelled corpora when ../shared/data is there."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from sklearn.metrics import normalized_mutual_info_score

BENCH = Path(__file__).resolve().parent.parent / "bench" / "themes.py"
spec = importlib.util.spec_from_file_location("bench_themes", BENCH)
assert spec and spec.loader
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_purity_counts_each_clusters_majority_label():
    # clusters 0: a a b -> 2; 1: b b -> 2; none: a -> 1; of 6
    clusters = [0, 0, 0, 1, 1, bench.NONE]
    labels = ["a", "a", "b", "b", "b", "a"]
    assert bench.purity(clusters, labels) == pytest.approx(5 / 6)
    assert bench.coverage(clusters) == pytest.approx(5 / 6)


def test_keyword_baseline_takes_the_most_common_top_word_a_text_has():
    texts = ["parcel late", "parcel lost", "refund please", "parcel refund", "hello there"]
    # document frequency: parcel 3, refund 2, late/lost/hello 1 ("there", "please" stop words)
    assert bench.keyword_baseline(texts, 2, 0) == [0, 0, 1, 0, bench.NONE]


def test_two_clear_topics_are_separated_by_ours():
    delivery = [f"parcel delivery courier late day {i}" for i in range(12)]
    login = [f"password login reset account locked {i}" for i in range(12)]
    clusters = bench.ours(delivery + login, 2, 0)
    labels = ["delivery"] * 12 + ["login"] * 12
    assert normalized_mutual_info_score(labels, clusters) == pytest.approx(1.0)


DATA = bench.DEFAULT_DATA


@pytest.mark.skipif(not DATA.exists(), reason=f"no labelled corpora at {DATA} (shared/data)")
def test_the_labelled_sample_reads_the_real_corpora():
    texts, labels = bench.labelled_sample(bench.corpus_pools(DATA, bench.CORPORA), 50, 0)
    assert len(texts) == 150 and sorted(set(labels)) == ["amazon", "movies", "nyt"]
    assert all(isinstance(t, str) and t.strip() for t in texts)


def test_a_labelled_csv_gives_one_pool_per_label_without_empty_or_skipped_ones(tmp_path):
    path = tmp_path / "complaints.csv"
    path.write_text(
        "text,reason\n"
        '"bag lost, again",Lost Luggage\n'
        "two hours late,Late Flight\n"
        "where is my bag,Lost Luggage\n"
        "thanks!,\n"
        "no idea,Can't Tell\n"
        ",Late Flight\n"
    )
    pools = bench.csv_pools(path, "text", "reason", ("Can't Tell",))
    assert pools == {
        "Lost Luggage": ["bag lost, again", "where is my bag"],
        "Late Flight": ["two hours late"],
    }
    # all of a pool smaller than per_label is drawn
    texts, labels = bench.labelled_sample(pools, 5, 0)
    assert sorted(zip(labels, texts, strict=True)) == sorted(
        (label, text) for label, found in pools.items() for text in found
    )
    # a mistyped column is named, not read as empty
    with pytest.raises(SystemExit, match="no column 'topic'"):
        bench.csv_pools(path, "text", "topic")
