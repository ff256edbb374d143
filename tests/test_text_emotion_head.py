"""The learned emotion model (cxloop.text.emotion_head): its shipped file read back and computed
by hand, how its emotions join the lexicon's, fixed texts with known emotions, the lexicon alone
without the embeddings extra, and the training module's reading and scoring of GoEmotions files.

Tests marked by the ``model`` fixture need the optional extra ``embeddings`` (skipped, with that
reason, without it)."""

from __future__ import annotations

import numpy as np
import pytest

from cxloop.text import embeddings, emotion_head, emotion_training, scoring, sentiment

# the fixtures `model` and `no_extra` come from text_model_fixtures (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("fresh_text_engine")


def test_the_shipped_file_reproduces_a_probability_computed_by_hand():
    head = emotion_head.load()
    assert head is not None
    with np.load(emotion_head.EMOTION_FILE) as raw:
        w, b, thresholds = raw["weights"], raw["bias"], raw["thresholds"]
    rng = np.random.default_rng(7)
    vector = rng.normal(size=head.dims)
    vector /= np.linalg.norm(vector)
    lexicon = np.array([0.44, 0.29, 0.0, 0.71, 0.44, 0.44, 0.44, 0.44, 1.9, 0.0])  # "thanks"
    # by hand: the logistic function of the weights' dot product with [vector, lexicon]
    z = w @ np.concatenate([vector, lexicon]) + b
    expected = 1 / (1 + np.exp(-z))
    got = head.probabilities(vector, lexicon)[0]
    assert np.allclose(got, expected)
    assert head.found(vector, lexicon)[0] == tuple(
        e for e, p, t in zip(head.emotions, expected, thresholds, strict=True) if p > t
    )
    assert head.emotions == tuple(sentiment.EMOTION_WORDS)
    assert ((thresholds > 0) & (thresholds < 1)).all()


def test_the_file_records_what_it_was_trained_on():
    head = emotion_head.load()
    assert head is not None
    assert head.model == embeddings.MODEL_NAME
    assert head.meta["trained_on"]["goemotions train"]["rows"] == 43410
    assert head.meta["chosen_on"]["goemotions dev"]["rows"] == 5426
    assert head.meta["labels"]["anger"] == ["anger", "disgust"]


def test_emotions_join_in_the_lexicon_s_order_without_repeats():
    assert emotion_head.merge(("joy",), ("gratitude", "anger", "joy")) == (
        "anger",
        "joy",
        "gratitude",
    )
    assert emotion_head.merge((), ()) == ()


@pytest.mark.parametrize(
    ("text", "emotions"),
    [
        # no emotion word: the model finds what a person would
        ("How dare you cancel my flight without telling me!", {"anger"}),
        ("You charged me twice and nobody has answered my emails in a week.", {"frustration"}),
        # the lexicon's word, kept
        ("Thank you so much for fixing my account", {"gratitude"}),
        ("What a fantastic surprise, the kids loved it!", {"joy"}),
        # a plain statement carries none
        ("The parcel came on Tuesday.", set()),
    ],
)
def test_fixed_texts_get_the_emotions_a_person_reads(model, db, text, emotions):
    result = scoring.analyse_many([text])[0]
    assert emotions <= set(result.emotions)
    assert set(result.emotions) <= emotions | {"frustration", "anger"}
    if not emotions:
        assert result.emotions == ()
    assert set(sentiment.analyse(text).emotions) <= set(result.emotions)


def test_without_embeddings_emotions_are_the_lexicon_s_words(no_extra):
    text = "How dare you cancel my flight without telling me!"
    assert scoring.analyse_many([text])[0].emotions == ()
    assert scoring.active_emotions() is None


def test_without_the_file_emotions_are_the_lexicon_s_words(model, db, monkeypatch):
    monkeypatch.setattr(emotion_head, "load", lambda: None)
    result = scoring.analyse_many(["How dare you cancel my flight without telling me!"])[0]
    assert result.emotions == ()
    assert result.model == "head"


def test_goemotions_files_are_read_and_a_bad_line_is_named(tmp_path):
    (tmp_path / "emotions.txt").write_text("anger\nannoyance\njoy\nneutral\n")
    (tmp_path / "dev.tsv").write_text("so cross\t0,1\ta1\nfine\t3\ta2\n")
    texts, labels = emotion_training.read_split(tmp_path, "dev")
    assert texts == ["so cross", "fine"]
    assert labels == [frozenset({"anger", "annoyance"}), frozenset({"neutral"})]
    (tmp_path / "test.tsv").write_text("ok\t3\ta1\nbroken line\n")
    with pytest.raises(ValueError, match=r"test.tsv, line 2"):
        emotion_training.read_split(tmp_path, "test")


def test_evaluation_counts_by_hand():
    # four texts; anger stands for GoEmotions' anger and disgust
    split = emotion_training.Split(
        name="dev",
        texts=["a", "b", "c", "d"],
        labels=[frozenset({"anger"}), frozenset({"disgust"}), frozenset({"joy"}), frozenset()],
        lexicon=np.zeros((4, 10)),
        vectors=np.eye(4, 3),
        words=[("anger",), (), (), ()],
    )
    # a model that finds anger where the first embedding dimension or the third is set
    weights = np.zeros((5, 13))
    weights[0, 0] = weights[0, 2] = 10.0
    head = emotion_head.EmotionHead(
        emotions=tuple(sentiment.EMOTION_WORDS),
        weights=weights,
        bias=np.full(5, -5.0),
        thresholds=np.full(5, 0.5),
        dims=3,
    )
    anger = emotion_training.evaluate(head, split)[0]
    # truth: a, b; lexicon: a; model: a, c; product: a, c
    assert anger.support == 2
    assert anger.found == {"lexicon": 1, "model": 2, "product": 2}
    assert anger.precision == {"lexicon": 1.0, "model": 0.5, "product": 0.5}
    assert anger.recall == {"lexicon": 0.5, "model": 0.5, "product": 0.5}
    assert anger.f1["lexicon"] == pytest.approx(2 / 3)
    assert anger.f1["model"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"neutral"}, 0),
        ({"joy", "gratitude"}, 1),
        ({"anger", "annoyance"}, -1),
        ({"joy", "anger"}, None),  # mixed
        ({"curiosity"}, None),  # ambiguous
        ({"joy", "curiosity"}, None),
        ({"neutral", "joy"}, None),
    ],
)
def test_goemotions_sentiment_groups(labels, expected):
    assert emotion_training.sentiment_class(frozenset(labels)) == expected
