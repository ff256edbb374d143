"""A text's sentiment as the product stores it: the learned head (``sentiment_head``) on the
text's sentence embedding when the embeddings extra is installed, else the lexicon alone; and its
emotions: the lexicon's words, and with the extra the learned emotion model's (``emotion_head``).

A workspace that taught cxloop its own text (``tuning``) has its adopted model score after the
head, and a person's label of a text (matched by its words' digest) overrides any model's.

The head replaces the text's score and label only. Sentences keep the lexicon's scores (a
one-sentence text's sentence takes the text's), and the driver words stay the lexicon's, after
negation and contrast: the head has no per-word reading. Texts are embedded through
``embeddings.embed``, so the vectors land in the embedding cache that semantic search and themes
read, and no text is embedded twice. A failing model is logged and the lexicon scores instead.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence

import numpy as np
from django.db import DatabaseError

from cxloop.text import embeddings, emotion_head, sentiment, sentiment_head, tuning

log = logging.getLogger(__name__)

# stored on analyses the head scored; head2: emotions from the learned model too
HEAD_VERSION = "head2+" + sentiment.VERSION
LEXICON_LABEL = "VADER 3.3.2 lexicon and rules, with customer-service changes"


def active_head() -> sentiment_head.Head | None:
    """The head when it can run here: the packaged file is there and texts are embedded with the
    model it was trained on (the embeddings extra installed, not switched to LSA)."""
    head = sentiment_head.load()
    model = embeddings.engine()
    if head is None or model is None or model.name != head.model:
        return None
    return head


def active_emotions() -> emotion_head.EmotionHead | None:
    """The emotion model when it can run here (as :func:`active_head`)."""
    head = emotion_head.load()
    model = embeddings.engine()
    if head is None or model is None or model.name != head.model:
        return None
    return head


def model_label(version: str | None = None) -> str:
    """Which model scored texts, in words: of a stored analysis' ``version``, or (no version)
    of what scores new texts now."""
    head = active_head() if version is None else None
    if version and version.startswith("t") and "+head" in version:
        return (
            f"this workspace's own model (training #{version[1:].split('+')[0]}: the "
            "sentence embedding, the lexicon's figures and the learned head's score, trained on "
            "texts its people labelled); sentence scores of longer texts and highlighted words: "
            f"{LEXICON_LABEL}"
        )
    if (version is None and head is not None) or (version or "").startswith("head"):
        return (
            "the text's score: learned head (all-MiniLM-L6-v2 sentence embedding and the "
            "lexicon's figures, trained on human ratings); sentence scores of longer texts and "
            f"highlighted words: {LEXICON_LABEL}; emotions: the lexicon's words and a learned "
            "model on the same embedding (trained on GoEmotions' labelled comments)"
        )
    return LEXICON_LABEL


@dataclasses.dataclass(frozen=True)
class Teaching:
    """What a workspace taught: its adopted model (None: none, or it cannot run here), the
    version its analyses carry, and people's labels by text digest."""

    tuned: tuning.Tuned | None = None
    version: str = ""
    people: Mapping[str, str] = dataclasses.field(default_factory=dict)


NOTHING_TAUGHT = Teaching()


def tuned_version(tuning_id: int) -> str:
    return f"t{tuning_id}+{HEAD_VERSION}"


def current_version(teaching: Teaching = NOTHING_TAUGHT) -> str:
    """The version new analyses get here now."""
    if active_head() is None:
        return sentiment.VERSION
    return teaching.version if teaching.tuned is not None else HEAD_VERSION


def version_of(result: sentiment.Sentiment, teaching: Teaching = NOTHING_TAUGHT) -> str:
    if result.model == "tuned":
        return teaching.version
    return HEAD_VERSION if result.model == "head" else sentiment.VERSION


def fit_to_label(score: float, label: str) -> float:
    """``score`` moved into ``label``'s band of the ±0.05 cut-off (unchanged when inside)."""
    if label == "negative":
        return min(score, -tuning.CUTOFF)
    if label == "positive":
        return max(score, tuning.CUTOFF)
    return max(-tuning.NEUTRAL_INSIDE, min(tuning.NEUTRAL_INSIDE, score))


def _rescored(result: sentiment.Sentiment, score: float, model: str) -> sentiment.Sentiment:
    score = round(float(score), 4)
    label = sentiment.label_of(score)
    sentences = result.sentences
    if len(sentences) == 1:
        sentences = (dataclasses.replace(sentences[0], score=score, label=label),)
    return dataclasses.replace(result, score=score, label=label, sentences=sentences, model=model)


def _vectors(texts: Sequence[str], model: embeddings.Engine) -> np.ndarray | None:
    try:
        return embeddings.embed(texts, model=model)
    except (RuntimeError, OSError, ValueError, DatabaseError):
        log.exception("sentence embeddings failed: %s texts scored by the lexicon", len(texts))
        return None


def with_head(
    results: Sequence[sentiment.Sentiment], vectors: np.ndarray, head: sentiment_head.Head
) -> list[sentiment.Sentiment]:
    """The lexicon's analyses with the head's score and label for each text (``vectors``: their
    embeddings, one row each)."""
    lexicon = np.array([sentiment_head.lexicon_features(r) for r in results])
    scores = head.scores(vectors, lexicon)
    return [_rescored(r, v, "head") for r, v in zip(results, scores, strict=True)]


def with_tuned(
    results: Sequence[sentiment.Sentiment],
    vectors: np.ndarray,
    head: sentiment_head.Head,
    tuned: tuning.Tuned,
) -> list[sentiment.Sentiment]:
    """The analyses (the lexicon's) scored by a workspace's tuned model."""
    lexicon = np.array([sentiment_head.lexicon_features(r) for r in results])
    rows = tuning.features(vectors, lexicon, head.scores(vectors, lexicon))
    scores = tuned.scores(rows)
    return [_rescored(r, v, "tuned") for r, v in zip(results, scores, strict=True)]


def with_people(
    texts: Sequence[str], results: Sequence[sentiment.Sentiment], people: Mapping[str, str]
) -> list[sentiment.Sentiment]:
    """A person's label, where one was given to the same words, over the model's."""
    if not people:
        return list(results)
    out = []
    for text, result in zip(texts, results, strict=True):
        label = people.get(embeddings.digest(text))
        if label is None or label == result.label:
            out.append(result)
            continue
        rescored = _rescored(result, fit_to_label(result.score, label), result.model)
        out.append(rescored)
    return out


def with_emotions(
    results: Sequence[sentiment.Sentiment], vectors: np.ndarray, head: emotion_head.EmotionHead
) -> list[sentiment.Sentiment]:
    """The analyses with the emotion model's emotions added to the lexicon's."""
    lexicon = np.array([sentiment_head.lexicon_features(r) for r in results])
    found = head.found(vectors, lexicon)
    return [
        dataclasses.replace(result, emotions=emotion_head.merge(result.emotions, more))
        for result, more in zip(results, found, strict=True)
    ]


def analyse_many(
    texts: Sequence[str], teaching: Teaching = NOTHING_TAUGHT
) -> list[sentiment.Sentiment]:
    """Each text's analysis (``sentiment.analyse``), scored by the head (or the workspace's
    tuned model, ``teaching``) and given the emotion model's emotions when they are active;
    people's labels last."""
    results = [sentiment.analyse(text) for text in texts]
    head, emotions = active_head(), active_emotions()
    model = embeddings.engine()
    if (head is None and emotions is None) or model is None or not results:
        return with_people(texts, results, teaching.people)
    vectors = _vectors(texts, model)  # the texts as stored: their cache keys
    if vectors is None:
        return with_people(texts, results, teaching.people)
    if emotions is not None and vectors.shape[1] == emotions.dims:
        results = with_emotions(results, vectors, emotions)
    if head is not None and vectors.shape[1] == head.dims:
        if teaching.tuned is not None:  # checked to fit this head and model (usable_model)
            results = with_tuned(results, vectors, head, teaching.tuned)
        else:
            results = with_head(results, vectors, head)
    return with_people(texts, results, teaching.people)


def tuned_dims(head: sentiment_head.Head) -> int:
    """How many features a workspace model on this head takes (``tuning.features``)."""
    return head.dims + len(sentiment_head.LEXICON_FEATURES) + 1
