"""The learned sentiment head: the shipped file reproduces a score computed by hand with numpy,
records what it was trained on, never trains on a row it is scored on, reads fixed texts the way
a person does, and the product falls back to the lexicon without embeddings.

Tests marked by the ``model`` fixture need the optional extra ``embeddings`` (skipped, with that
reason, without it). Expected labels of fixed texts are what a person reads in them."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from cxloop.text import embeddings, scoring, sentiment, sentiment_head, services
from cxloop.text import sentiment_training as training
from cxloop.text.models import Embedding, TextAnalysis
from factories import member_make, response_make, survey_make

# the fixtures `model` and `no_extra` come from text_model_fixtures (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("fresh_text_engine")
AT = datetime(2025, 3, 10, 12, tzinfo=UTC)
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "vader-icwsm2014"
VADER = SentimentIntensityAnalyzer()


def test_the_shipped_file_reproduces_a_score_computed_by_hand():
    # given: the file read with numpy alone, one unit vector and one text's lexicon figures
    with np.load(sentiment_head.HEAD_FILE, allow_pickle=False) as raw:
        w1, b1 = raw["embedding_weights"], float(raw["embedding_bias"])
        w2, b2, band = raw["weights"], float(raw["bias"]), float(raw["band"])
    vector = np.random.default_rng(7).normal(size=w1.shape[0])
    vector /= np.linalg.norm(vector)
    lexicon = np.array([-0.4, 0.1, 0.3, 0.6, -0.2, -0.4, -0.4, 0.1, 0.9, -2.1])
    # when: by hand, stage one then stage two's 15 features
    embedded = float(np.dot(vector, w1)) + b1
    c, neutral_share = lexicon[0], lexicon[3]
    features = [*lexicon, embedded, embedded * abs(c), embedded * 1.0, c * abs(c),
                embedded * (1 - neutral_share)]  # fmt: skip
    rating = float(np.dot(features, w2)) + b2
    head = sentiment_head.read(sentiment_head.HEAD_FILE)
    # then
    assert w1.shape == (384,) and w2.shape == (len(sentiment_head.STAGE_TWO),)
    assert head.rating(vector, lexicon)[0] == pytest.approx(rating, abs=1e-9)
    # the lexicon is not silent (|−0.4| ≥ 0.05), so the score is rating / 4 on the rating's side
    expected = np.sign(rating) * max(min(abs(rating) / 4, 1.0), 0.05)
    assert head.scores(vector, lexicon)[0] == pytest.approx(expected, abs=1e-12)
    assert 0.5 <= band <= 1.5


def test_a_silent_lexicon_and_a_small_rating_is_neutral_and_the_score_says_so():
    head = sentiment_head.Head(np.zeros(2), 0.0, np.zeros(15), 0.0, band=0.5)
    silent, worded = np.zeros((1, 10)), np.array([[0.3, *np.zeros(9)]])
    # rating 0.4 < band: neutral when the lexicon is silent, positive when it found words
    assert head.score(np.array([0.4]), silent)[0] == pytest.approx(0.0499)
    assert sentiment.label_of(head.score(np.array([0.4]), silent)[0]) == "neutral"
    assert head.score(np.array([0.4]), worded)[0] == pytest.approx(0.1)
    assert head.score(np.array([-0.1]), worded)[0] == pytest.approx(-0.05)
    assert head.score(np.array([-9.0]), worded)[0] == -1.0


def test_the_file_records_what_it_was_trained_on():
    head = sentiment_head.read(sentiment_head.HEAD_FILE)
    trained = head.meta["trained_on"]
    assert {k: v["rows"] for k, v in trained.items()} == {
        "tweets": 4200, "amazon": 3708, "movies": 10605, "nyt": 5190,
    }  # fmt: skip
    assert head.model == embeddings.MODEL_NAME
    assert head.meta["band"] == head.band
    if not DATA.is_dir():
        pytest.skip(f"no data at {DATA}: see ../shared/data/README.md")
    for name, file in training.CORPORA.items():
        assert trained[name]["sha256"] == hashlib.sha256((DATA / file).read_bytes()).hexdigest()


def _corpus(name, texts, seed):
    rng = np.random.default_rng(seed)
    n = len(texts)
    return training.Corpus(
        name, list(texts), rng.normal(size=n), rng.normal(size=(n, 10)), rng.normal(size=(n, 4))
    )


def test_leave_one_corpus_out_never_trains_on_a_scored_text():
    # given: "same words" is in two corpora (as a few rows of the ICWSM corpora are)
    corpora = {
        "a": _corpus("a", [f"a {i}" for i in range(20)] + ["Same  words"], 1),
        "b": _corpus("b", [f"b {i}" for i in range(20)] + ["same words"], 2),
        "c": _corpus("c", [f"c {i}" for i in range(20)], 3),
    }
    for held_out in corpora:
        # when
        train, test = training.split(corpora, held_out)
        # then
        scored = {embeddings.normalise(t).lower() for t in test.texts}
        assert held_out not in [c.name for c in train]
        assert not any(embeddings.normalise(t).lower() in scored for c in train for t in c.texts)
    assert [len(c.texts) for c in training.split(corpora, "a")[0]] == [20, 20]
    # and fitting refuses a scored row outright
    with pytest.raises(ValueError, match="training row"):
        training.fit([corpora["a"], corpora["b"]], refuse=["same words"])
    results = training.leave_one_corpus_out(corpora)
    assert [(h.corpus, sorted(h.trained_on)) for h in results] == [
        ("a", ["b", "c"]), ("b", ["a", "c"]), ("c", ["a", "b"]),
    ]  # fmt: skip


def test_cross_validation_scores_every_row_once_by_a_head_that_never_saw_it(monkeypatch):
    # given: "same words" twice in one corpus and once in another; 26 distinct texts in all
    corpora = {
        "a": _corpus("a", [f"a {i}" for i in range(10)] + ["Same  words", "same words"], 1),
        "b": _corpus("b", [f"b {i}" for i in range(10)] + ["same words"], 2),
        "c": _corpus("c", [f"c {i}" for i in range(5)], 3),
    }
    fitted = []
    real_fit = training.fit

    def spy(train, *, refuse=()):
        fitted.append(({embeddings.normalise(t).lower() for c in train for t in c.texts}, refuse))
        return real_fit(train, refuse=refuse)

    monkeypatch.setattr(training, "fit", spy)
    # when
    fold = training.folds(corpora, count=5, seed=0)
    results = training.cross_validate(corpora, count=5, seed=0)
    # then: every copy of a text in one fold, 26 distinct texts dealt 6, 5, 5, 5, 5
    assert len({int(f) for f in fold["a"][10:]} | {int(fold["b"][10])}) == 1
    per_fold = {}
    for name, c in corpora.items():
        for t, f in zip(c.texts, fold[name], strict=True):
            per_fold.setdefault(int(f), set()).add(embeddings.normalise(t).lower())
    assert sorted(len(v) for v in per_fold.values()) == [5, 5, 5, 5, 6]
    # five heads, each refused (and not trained on) exactly its own fold's texts
    assert len(fitted) == 5
    for k, (seen, refused) in enumerate(fitted):
        assert {embeddings.normalise(t).lower() for t in refused} == per_fold[k]
        assert not seen & per_fold[k]
        assert seen | per_fold[k] == set().union(*per_fold.values())
    # every row scored: 28 rows, each corpus's training rows summed over the folds (rows × 4)
    assert [(h.corpus, h.rows) for h in results] == [("a", 12), ("b", 11), ("c", 5)]
    assert results[0].trained_on == {"a": 48, "b": 44, "c": 20}
    assert all(np.all(h.scores != 0) for h in results)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("not good", "negative"),
        ("Good but slow.", "negative"),
        ("Nice app but it crashes constantly", "negative"),
        ("The agent was friendly but the refund took forever", "negative"),
        ("Love it 😍", "positive"),
        ("Broken again 😡", "negative"),
        ("The delivery was fast and the agent was lovely", "positive"),
        ("Thank you, the agent sorted out my refund in minutes", "positive"),
        ("Worst support ever, nobody answered for two weeks", "negative"),
        ("I was charged twice and still have no refund", "negative"),
        ("it came on Tuesday", "neutral"),
    ],
)
def test_the_head_reads_fixed_texts_as_a_person_does(model, db, text, label):
    # when
    result = scoring.analyse_many([text])[0]
    # then
    assert result.model == "head"
    assert result.label == label
    assert result.label == sentiment.label_of(result.score)


def test_without_embeddings_the_lexicon_scores(no_extra):
    text = "The agent was not helpful at all."
    result = scoring.analyse_many([text])[0]
    assert result.model == "lexicon"
    assert result.score == round(VADER.polarity_scores(text)["compound"], 4)
    assert scoring.current_version() == sentiment.VERSION
    assert scoring.model_label().startswith("VADER 3.3.2")


def test_without_the_head_file_the_lexicon_scores(model, db, monkeypatch):
    monkeypatch.setattr(sentiment_head, "load", lambda: None)
    result = scoring.analyse_many(["not good"])[0]
    assert result.model == "lexicon"
    assert result.score == round(VADER.polarity_scores("not good")["compound"], 4)


def test_analysis_stores_the_head_score_and_caches_the_embedding_once(model, workspace, client):
    # given
    survey = survey_make(workspace)
    text = "The courier was rude and the parcel arrived damaged."
    response = response_make(workspace, survey, AT, nps=2, comment=text)
    # when
    services.text_analyse_responses(responses=[response])
    calls = model.calls
    services.text_analyse_responses(responses=[response])
    # then: the text's embedding is cached (themes and search reuse it), not computed again
    analysis = TextAnalysis.objects.get(response=response)
    assert analysis.version == scoring.HEAD_VERSION
    assert analysis.label == "negative"
    assert Embedding.objects.filter(model=model.name, digest=analysis.digest).count() == 1
    assert model.calls == calls
    vector = embeddings.cached(model.name, [analysis.digest])[analysis.digest]
    head = sentiment_head.load()
    lexicon = sentiment_head.lexicon_features(sentiment.analyse(text))
    assert analysis.score == round(float(head.scores(vector, lexicon)[0]), 4)
    # drivers stay the lexicon's
    assert "rude" in [d["word"] for d in analysis.drivers]
    # and the page says which model scored it
    client.force_login(member_make(workspace=workspace, username="analyst", role="analyst"))
    html = client.get(reverse("text-detail", args=[analysis.pk])).content.decode()
    assert "learned head (all-MiniLM-L6-v2" in html
    api = client.get(f"/api/text/{analysis.pk}").json()
    assert api["sentiment_model"].startswith("the text's score: learned head")


def test_the_lexicon_version_is_named_on_the_page(no_extra, workspace, client):
    survey = survey_make(workspace)
    response = response_make(workspace, survey, AT, nps=9, comment="Great app, thanks")
    services.text_analyse_responses(responses=[response])
    analysis = TextAnalysis.objects.get(response=response)
    assert analysis.version == sentiment.VERSION
    client.force_login(member_make(workspace=workspace, username="analyst", role="analyst"))
    html = client.get(reverse("text-detail", args=[analysis.pk])).content.decode()
    assert "Scored by: VADER 3.3.2 lexicon" in html
    assert json.dumps("learned head") not in html
