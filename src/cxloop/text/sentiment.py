"""Sentiment of a text and of each sentence, with the words that drove it, and emotions.

Pure Python, no database. The lexicon work is VADER's (``vaderSentiment``, Hutto & Gilbert 2014,
MIT): its valence lexicon, boosters, negation ("not good" flips and damps), "but" contrast
(words after "but" weigh 1.5×, before 0.5×), capitals, "!" and emojis. We run its per-word loop
ourselves (``_Explaining.explain``, the same steps as ``polarity_scores``) only to keep each
word's final valence, so a page can show which words made a text negative.

The text's score is VADER's compound (−1…+1) of the whole text; labels use VADER's published
cut-off: ≥ 0.05 positive, ≤ −0.05 negative, else neutral. Changes for customer-service text:
"support" and "please" carry no valence (``CX_NEUTRAL``), since there they name a department
("support never answered") or ask politely ("please fix this"), where VADER reads praise;
"help", "care" and "credit" count only when negated (``CX_ONLY_NEGATED``: "no help", "they don't
care" are complaints, "please help", "customer care", "a credit on my account" are not praise);
an @handle names an account and is not read as a word ("@united", "@joy");
a few words it lacks get a valence (``CX_LEXICON``: "late", "slow", "unreliable", …); and a
negation reaches only the first sentiment word after it (VADER flips every one in the next
three words: "never solved my problem" made "problem" positive).

Emotions come from a small lexicon of our own (``EMOTION_WORDS``): a text carries an emotion when
one of its words appears there and is not negated within the three words before it (VADER's
negation list), e.g. "not happy" is no joy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    SentimentIntensityAnalyzer,
    SentiText,
    negated,
)

POSITIVE_CUTOFF = 0.05
NEGATIVE_CUTOFF = -0.05
MAX_CHARS = 20_000  # longer texts are analysed on their first 20,000 characters
MAX_DRIVERS = 8
# cx2: names redacted before analysis; cx3: @handles skipped, "help", "care", "credit" only negated
VERSION = "vader-3.3.2+cx3"

# A small, documented emotion lexicon (lower-case words or word stems; a stem ends in "*").
# Chosen for customer-service text: each word names the emotion or is its usual expression.
EMOTION_WORDS: dict[str, tuple[str, ...]] = {
    "anger": (
        "angry", "anger", "furious", "outraged", "outrageous", "livid", "rude", "disgust*",
        "unacceptable", "ridiculous", "scam*", "rip-off", "ripoff", "hate", "hated", "mad",
        "infuriat*", "appalling", "insult*",
    ),
    "frustration": (
        "frustrat*", "annoy*", "irritat*", "fed up", "still waiting", "waste of time",
        "useless", "hassle", "nightmare", "impossible", "stuck", "keeps crashing", "endless",
        "on hold",
    ),
    "disappointment": (
        "disappoint*", "let down", "letdown", "expected better", "expected more", "underwhelm*",
        "regret*", "sadly", "unfortunately", "not worth", "shame", "mediocre",
    ),
    "joy": (
        "happy", "glad", "delight*", "love", "loved", "loving", "awesome", "amazing", "fantastic",
        "wonderful", "excellent", "great", "pleased", "enjoy*", "perfect", "brilliant",
    ),
    "gratitude": (
        "thank", "thanks", "thank you", "thankful", "grateful", "gratitude", "appreciate*",
        "cheers", "kudos",
    ),
}  # fmt: skip

# Common English function words: a text of 4+ words with none of them is flagged as probably
# not English (the lexicon is English; such texts score near 0 and should not be read as neutral).
_ENGLISH = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "but",
        "not",
        "no",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "i",
        "you",
        "he",
        "she",
        "it",
        "we",
        "they",
        "my",
        "your",
        "our",
        "this",
        "that",
        "to",
        "of",
        "in",
        "on",
        "for",
        "with",
        "at",
        "by",
        "from",
        "have",
        "has",
        "had",
        "do",
        "does",
        "did",
        "very",
        "so",
        "too",
        "can",
        "will",
        "would",
        "should",
        "could",
        "just",
        "all",
        "me",
        "us",
        "them",
        "their",
        "what",
        "when",
        "why",
        "how",
    ]
)
_KEEP = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)
# an @handle names an account ("@united", "@joy_support"), it says nothing about how the writer
# feels; VADER strips the "@" and reads the name as a word
_HANDLE = re.compile(r"(?<![\w@])@\w+")


@dataclass(frozen=True)
class Driver:
    word: str
    valence: float  # the word's valence after negation, boosters and contrast


@dataclass(frozen=True)
class SentenceSentiment:
    text: str
    start: int  # character offset in the analysed text
    score: float
    label: str
    drivers: tuple[Driver, ...]


@dataclass(frozen=True)
class Sentiment:
    score: float
    label: str
    positive: float
    neutral: float
    negative: float
    sentences: tuple[SentenceSentiment, ...]
    drivers: tuple[Driver, ...]
    emotions: tuple[str, ...]
    truncated: bool = False
    english: bool = True  # False: few English function words, so the lexicon may miss it
    model: str = "lexicon"  # "head": score and label from the learned head (text.scoring)


def label_of(score: float) -> str:
    """VADER's cut-off: ≥ 0.05 positive, ≤ −0.05 negative, else neutral."""
    if score >= POSITIVE_CUTOFF:
        return "positive"
    if score <= NEGATIVE_CUTOFF:
        return "negative"
    return "neutral"


# words VADER scores positive that, in customer-service text, name a team or ask politely
CX_NEUTRAL = ("support", "please")
# words VADER scores positive that, in customer-service text, ask for or name a service
# ("please help", "customer care", "the credit on my account"): they count only when negated,
# as complaints ("no help at all", "they don't care")
CX_ONLY_NEGATED = frozenset({"help", "care", "credit"})
# words VADER's lexicon lacks that customer-service text uses for what went wrong, on VADER's
# −4…+4 scale, valued like their nearest VADER entries ("delay" −1.3, "missing" −1.2,
# "crash" −1.7, "broken" −2.1)
CX_LEXICON = {
    "late": -1.3, "slow": -1.2, "slower": -1.2, "inconsistent": -1.2, "unreliable": -1.6,
    "overcharged": -1.8, "unanswered": -1.3, "crashes": -1.7, "crashing": -1.7, "crashed": -1.7,
    "unusable": -2.0, "unresponsive": -1.5, "rude": -2.0,
}  # fmt: skip


class _Explaining(SentimentIntensityAnalyzer):
    """VADER that also says which words carried the valence."""

    def __init__(self) -> None:
        super().__init__()
        for word in CX_NEUTRAL:
            self.lexicon.pop(word, None)
        for word, valence in CX_LEXICON.items():
            self.lexicon.setdefault(word, valence)

    def _negation_check(self, valence, words_and_emoticons, start_i, i):
        """VADER's check, but a negation reaches only the first sentiment word after it:
        in "never solved my problem" it flips "solved", not "problem" as well."""
        between = words_and_emoticons[i - start_i : i]
        if any(w.lower() in self.lexicon for w in between):
            return valence
        return SentimentIntensityAnalyzer._negation_check(valence, words_and_emoticons, start_i, i)

    def explain(self, text: str) -> tuple[dict, list[Driver]]:
        text = _HANDLE.sub("", self._demojize(text))
        sentitext = SentiText(text)
        words = sentitext.words_and_emoticons
        sentiments: list[float] = []
        for i, item in enumerate(words):
            lowered = item.lower()
            if lowered in BOOSTER_DICT or (
                lowered == "kind" and i < len(words) - 1 and words[i + 1].lower() == "of"
            ):
                sentiments.append(0)
                continue
            sentiments = self.sentiment_valence(0, sentitext, item, i, sentiments)
            if lowered in CX_ONLY_NEGATED and sentiments[-1] > 0:
                sentiments[-1] = 0
        sentiments = self._but_check(words, sentiments)
        scores = self.score_valence(sentiments, text)
        drivers = [
            Driver(w, round(float(v), 3)) for w, v in zip(words, sentiments, strict=False) if v
        ]
        return scores, drivers

    def _demojize(self, text: str) -> str:
        """Emojis as their descriptions, as ``polarity_scores`` does."""
        out: list[str] = []
        prev_space = True
        for ch in text:
            if ch in self.emojis:
                if not prev_space:
                    out.append(" ")
                out.append(self.emojis[ch])
                prev_space = False
            else:
                out.append(ch)
                prev_space = ch == " "
        return "".join(out).strip()


@lru_cache(maxsize=1)
def _analyzer() -> _Explaining:
    return _Explaining()


def clean(text: str) -> tuple[str, bool]:
    """The text as we analyse it: NUL and other control characters (but newlines and tabs) and
    lone surrogates (no database stores them) removed, at most ``MAX_CHARS``; and whether it was
    cut."""
    text = _KEEP.sub("", text)
    return text[:MAX_CHARS], len(text) > MAX_CHARS


def split_sentences(text: str) -> list[tuple[int, str]]:
    """Sentences with their start offsets: split after . ! ? … followed by space, and at line
    breaks."""
    out: list[tuple[int, str]] = []
    position = 0
    for match in _SENTENCE_END.finditer(text):
        piece = text[position : match.start()]
        if piece.strip():
            out.append((position + len(piece) - len(piece.lstrip()), piece.strip()))
        position = match.end()
    piece = text[position:]
    if piece.strip():
        out.append((position + len(piece) - len(piece.lstrip()), piece.strip()))
    return out


def _top(drivers: list[Driver]) -> tuple[Driver, ...]:
    return tuple(sorted(drivers, key=lambda d: -abs(d.valence))[:MAX_DRIVERS])


def _pattern(entries: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = (
        r"\s+".join(re.escape(p[:-1]) + r"[\w'-]*" if p.endswith("*") else re.escape(p)
                     for p in entry.split())
        for entry in entries
    )  # fmt: skip
    return re.compile(r"(?<![\w'-])(?:" + "|".join(alternatives) + r")(?![\w'-])", re.IGNORECASE)


_EMOTION_PATTERNS = {emotion: _pattern(entries) for emotion, entries in EMOTION_WORDS.items()}


def emotions_of(text: str) -> tuple[str, ...]:
    """The emotions whose words occur in ``text`` and are not negated just before."""
    text = text.replace("’", "'")
    found: list[str] = []
    for emotion, pattern in _EMOTION_PATTERNS.items():
        for match in pattern.finditer(text):
            before = _WORD.findall(text[max(0, match.start() - 60) : match.start()])[-3:]
            if not negated([w.lower() for w in before]):
                found.append(emotion)
                break
    return tuple(found)


def likely_english(text: str) -> bool:
    """False when a text of four or more words has no common English function word and a
    language identifier (py3langid, BSD) reads it as another language: terse English ("Great
    quality, fair prices, fast delivery.") has no function word either."""
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < 4 or any(w in _ENGLISH for w in words):
        return True
    return _language(text) == "en"


def _language(text: str) -> str:
    import py3langid  # its model loads on the first call (a second or two), kept afterwards

    return str(py3langid.classify(text)[0])


def analyse(text: str) -> Sentiment:
    """Sentiment of ``text`` and of each of its sentences, with drivers and emotions."""
    body, truncated = clean(text)
    without_handles = _HANDLE.sub("", body)  # an account's name is not the writer's words
    analyzer = _analyzer()
    scores, drivers = analyzer.explain(body)
    sentences = []
    for start, sentence in split_sentences(body):
        s_scores, s_drivers = analyzer.explain(sentence)
        compound = round(float(s_scores["compound"]), 4)
        sentences.append(
            SentenceSentiment(sentence, start, compound, label_of(compound), _top(s_drivers))
        )
    compound = round(float(scores["compound"]), 4)
    return Sentiment(
        score=compound,
        label=label_of(compound),
        positive=float(scores["pos"]),
        neutral=float(scores["neu"]),
        negative=float(scores["neg"]),
        sentences=tuple(sentences),
        drivers=_top(drivers),
        emotions=emotions_of(without_handles),
        truncated=truncated,
        english=likely_english(without_handles),
    )


def score(text: str) -> float:
    """Just the compound score (what the benchmark compares)."""
    return round(float(_analyzer().explain(clean(text)[0])[0]["compound"]), 4)
