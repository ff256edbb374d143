"""Sentiment, sentences, drivers and emotions on small fixed texts with known answers.

Expected scores come from the vaderSentiment library itself (``polarity_scores``), which our
explaining loop must reproduce exactly on texts our changes do not touch (no CX_NEUTRAL word
such as "support" or "please", no CX_LEXICON word, no @handle, no second sentiment word after a
negation); labels use VADER's
published ±0.05 cut-off."""

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from cxloop.text import sentiment

VADER = SentimentIntensityAnalyzer()


@pytest.mark.parametrize(
    "text",
    [
        "The agent was not helpful at all.",
        "The product is great but the delivery was terrible.",
        "VERY good checkout!!! 😡",
        "Thanks, the agent sorted it out quickly :)",
        "",
        "I have no idea.",
    ],
)
def test_score_is_vaders_compound(text):
    # when
    result = sentiment.analyse(text)
    # then
    assert result.score == round(VADER.polarity_scores(text)["compound"], 4)


def test_negation_flips_the_word_and_names_it_as_driver():
    # when
    result = sentiment.analyse("The agent was not helpful.")
    # then: "helpful" (+1.8 in the lexicon) is negated (× −0.74)
    assert result.label == "negative"
    assert result.drivers == (sentiment.Driver("helpful", round(1.8 * -0.74, 3)),)


def test_support_and_please_are_neutral_in_customer_service_text():
    # given: VADER reads "support" (+1.7) and "please" (+1.3) as praise
    text = "Support team never answered my emails, please fix this"
    assert VADER.polarity_scores(text)["compound"] > 0.5
    # when
    result = sentiment.analyse(text)
    # then: no praise left (no lexicon word in it carries sentiment here)
    assert result.score == 0.0
    assert result.drivers == ()


def test_help_care_and_credit_ask_or_name_a_service_and_count_only_when_negated():
    # given: VADER reads "help" (+1.7), "care" (+2.2) and "credit" (+1.6) as praise
    text = "Can you help? Customer care says the credit is on my account"
    assert VADER.polarity_scores(text)["compound"] > 0.5
    # when
    result = sentiment.analyse(text)
    # then
    assert (result.score, result.drivers, result.label) == (0.0, (), "neutral")
    # negated they are complaints, as in VADER: care 2.2 × −0.74 = −1.628
    for complaint in ("They don't care at all", "no help whatsoever"):
        negated = sentiment.analyse(complaint)
        assert negated.score == round(VADER.polarity_scores(complaint)["compound"], 4) < -0.05
    assert sentiment.analyse("they don't care").drivers == (sentiment.Driver("care", -1.628),)


def test_an_at_handle_names_an_account_and_is_not_read_as_a_word():
    # given: "@united" and "@joy" are accounts; VADER drops the "@" and reads united (+1.8)
    # and joy (+2.8)
    text = "@united @joy my bag never arrived"
    assert VADER.polarity_scores(text)["compound"] > 0.5
    # when
    result = sentiment.analyse(text)
    # then: the text scores as it does without the handles, and no handle is a driver
    assert result.score == round(VADER.polarity_scores("my bag never arrived")["compound"], 4)
    assert not {d.word.lower() for d in result.drivers} & {"united", "joy", "@united", "@joy"}
    # nor is it an emotion: "@thanks" and "@frustrated_flyer" name accounts
    assert sentiment.analyse("@thanks @frustrated_flyer my bag is lost").emotions == ()
    # the same words without an @ are still read
    assert sentiment.analyse("joy, united again").score > 0.5
    assert sentiment.analyse("@united joy!").score == sentiment.analyse("joy!").score


def test_contrast_weighs_the_clause_after_but():
    # given: great = 3.1, terrible = -2.1 in VADER's lexicon; "but" halves before, ×1.5 after
    result = sentiment.analyse("The product is great but the delivery was terrible")
    # then
    valences = {d.word: d.valence for d in result.drivers}
    assert valences["great"] == pytest.approx(3.1 * 0.5, abs=1e-3)
    assert valences["terrible"] == pytest.approx(-2.1 * 1.5, abs=1e-3)
    assert result.label == "negative"


def test_each_sentence_has_its_own_score_and_offset():
    # given
    text = "Delivery was fast.  The box arrived crushed and the staff were rude!\nNever again."
    # when
    result = sentiment.analyse(text)
    # then
    assert [s.text for s in result.sentences] == [
        "Delivery was fast.",
        "The box arrived crushed and the staff were rude!",
        "Never again.",
    ]
    for s in result.sentences:
        assert text[s.start : s.start + len(s.text)] == s.text
    rude = result.sentences[1]
    assert rude.label == "negative"
    assert rude.score == round(VADER.polarity_scores(rude.text)["compound"], 4)
    assert "rude" in [d.word for d in rude.drivers]


def test_emoji_counts():
    # when
    angry, happy = sentiment.analyse("😠"), sentiment.analyse("😍")
    # then
    assert angry.label == "negative"
    assert happy.label == "positive"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I am so frustrated, still waiting for a refund", ("frustration",)),
        ("Thank you, really appreciate the help", ("gratitude",)),
        ("Honestly disappointed, expected better", ("disappointment",)),
        ("This is unacceptable and the agent was rude", ("anger",)),
        ("Delighted with it", ("joy",)),
        ("I was not disappointed", ()),
        ("I didn't love it", ()),
        ("The parcel arrived on Tuesday", ()),
    ],
)
def test_emotions_from_the_lexicon_unless_negated(text, expected):
    assert sentiment.analyse(text).emotions == expected


def test_non_english_text_is_flagged():
    # when
    german = sentiment.analyse("Der Kundendienst war leider sehr langsam und unfreundlich")
    english = sentiment.analyse("The service was slow and unfriendly")
    # then
    assert german.english is False
    assert english.english is True


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("Great quality, fair prices, fast delivery.", True),  # no function word, still English
        ("Rapid shipping, lovely jacket, perfect fit!", True),
        ("Sehr gute Qualität, schnelle Lieferung, gerne wieder.", False),
        ("Livraison rapide, très bon produit, merci beaucoup.", False),
        ("Entrega rápida, produto excelente, recomendo muito.", False),
    ],
)
def test_terse_texts_are_told_apart_by_language(text, english):
    assert sentiment.analyse(text).english is english


def test_hostile_text_is_cleaned_and_cut():
    # when
    result = sentiment.analyse("bad\x00 \ud800service\u202e " + "x" * 30_000)
    # then
    assert result.truncated is True
    assert "\x00" not in result.sentences[0].text
    assert "\ud800" not in result.sentences[0].text
    assert len(sentiment.clean("y" * 30_000)[0]) == sentiment.MAX_CHARS


def test_negation_reaches_only_the_first_sentiment_word_after_it():
    # given: VADER flips both "solved" and "problem" (−1.7) after "never"
    text = "Support never solved my problem"
    vader_words = VADER.polarity_scores(text)["compound"]
    # when
    result = sentiment.analyse(text)
    # then: "solved" (+1.1 in the lexicon) is negated, "problem" keeps its own −1.7
    valences = {d.word: d.valence for d in result.drivers}
    assert valences == {"solved": round(1.1 * -0.74, 3), "problem": -1.7}
    assert result.label == "negative" and vader_words > 0


@pytest.mark.parametrize(
    "text",
    ["Deliveries are always late", "The app is slow and unreliable", "I was overcharged"],
)
def test_customer_service_words_vader_lacks(text):
    assert VADER.polarity_scores(text)["compound"] == 0
    assert sentiment.analyse(text).label == "negative"
