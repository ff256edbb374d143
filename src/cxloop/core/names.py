"""People's names in free text (pure): where they are, for ``core.pii`` to replace with
``[name]``.

No offline detector finds names reliably without a language model, and a plain list of first
names would also hide ordinary words ("Will you refund me?", "Grace period", "Price was too
high"). So a capitalised word counts as a name only with evidence:

1. **a cue before it**: "my name is Sarah", "ask for Tom", "spoke to Priya Shah", "the driver
   Marek", "Mr Okafor", "Dear Ann", "Regards, Leo" (the cue in any case, the name capitalised;
   one or two words);
2. **the writer's own name** (first or last, from their profile), anywhere it is capitalised;
3. **a known customer's name** (first or last names of the workspace's customers).

In every case a word that is also a common English word is a name only as part of a full name
whose other word is not common ("Will Okafor"): common are the words of ``COMMON`` (function
words, days and months, words people capitalise in feedback, English words that are also names
such as Will, Grace, Price, Young) and every word of VADER's sentiment lexicon (``vaderSentiment``,
about 7,000 words such as love, hope, best, happy), which is what starts sentences in feedback.
So "Will you refund me?" or "Hope this helps" keep their first word. All-capital words (UPS,
DHL) are never names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from importlib.resources import files

# English words that start sentences or name things in feedback, and English words that are also
# first names or surnames: a lone one is never taken for a name
COMMON = frozenset({
    "a", "about", "after", "again", "all", "also", "always", "am", "an", "and", "any", "anyone",
    "are", "as", "at", "be", "because", "been", "before", "being", "both", "but", "by", "can",
    "could", "did", "do", "does", "doing", "done", "each", "either", "even", "every",
    "everyone", "for", "from", "had", "has", "have", "having", "he", "her", "here", "hers",
    "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "let", "me",
    "more", "most", "my", "never", "no", "nobody", "none", "nor", "not", "nothing", "now", "of",
    "off", "oh", "ok", "okay", "on", "once", "one", "only", "or", "other", "our", "out", "over",
    "own", "please", "really", "same", "she", "should", "so", "some", "someone", "something",
    "still", "such", "than", "thank", "thanks", "that", "the", "their", "them", "then", "there",
    "these", "they", "this", "those", "though", "through", "to", "too", "very", "was", "we",
    "well", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will",
    "with", "would", "yes", "yet", "you", "your", "yours", "hi", "hello", "hey", "dear",
    "regards", "cheers", "best", "sincerely", "kind", "many", "sir", "madam", "team", "monday",
    "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "today", "tomorrow",
    "yesterday", "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december", "great", "good", "bad", "terrible", "awful",
    "excellent", "amazing", "poor", "nice", "lovely", "happy", "sad", "fine", "perfect",
    "worst", "better", "worse", "fast", "slow", "quick", "late", "early", "easy", "hard",
    "brilliant", "fantastic", "horrible", "customer", "customers", "service", "support", "help",
    "delivery", "order", "orders", "refund", "account", "app", "website", "store", "shop",
    "company", "manager", "agent", "staff", "driver", "courier", "product", "products", "price",
    "prices", "payment", "card", "phone", "email", "call", "chat", "online", "everything",
    "overall", "first", "last", "next", "grace", "hope", "joy", "faith", "rose", "mark", "bill",
    "frank", "earl", "dawn", "young", "brown", "green", "white", "black", "gray", "grey",
    "king", "long", "hall", "wood", "ward", "bell", "little", "rich", "sharp", "fox", "hill",
    "stone", "cook", "baker", "parker", "miller", "cash", "money", "page", "post", "rock",
    "sky", "storm", "summer", "winter", "autumn", "spring", "sunny", "love", "golden", "silver",
    "pound", "lord", "major", "bishop", "penny", "crystal", "amber", "ruby", "pearl", "iris",
    "lily", "daisy", "holly", "ivy", "olive", "violet", "jade", "ginger", "sandy", "rusty",
    "chase", "hunter", "drew", "grant", "miles", "lance", "wade", "victor", "sterling", "nick",
    "pat", "sue", "don", "ray", "gene", "god", "jesus", "christ", "english", "british",
    "american",
})  # fmt: skip


@cache
def common_words() -> frozenset[str]:
    """``COMMON`` and the single words of VADER's lexicon (read once)."""
    lexicon = files("vaderSentiment").joinpath("vader_lexicon.txt").read_text(encoding="utf-8")
    words = {line.split("\t", 1)[0] for line in lexicon.splitlines()}
    return COMMON | frozenset(w for w in words if w.isalpha())


_WORD = r"[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*"
_CAPITALISED = re.compile(rf"(?<![\w'’-]){_WORD}")
# what may stand right before a name (checked on the text just before it, any case)
_CUE = re.compile(
    r"(?:\bmy\s+name\s+is|\bmy\s+name['’]s|\bname\s+was|\bi['’]m\s+called|\bi\s+am\s+called"
    r"|\bask(?:ed|ing)?\s+for|\b(?:spoke|speak|speaking|talked|talking|chatted|dealt)\s+(?:to|with)"
    r"|\b(?:served|helped|assisted|called)\s+by|\bthanks\s+to"
    r"|\b(?:agent|advisor|adviser|rep|representative|manager|colleague|driver|courier|engineer"
    r"|technician|cashier|assistant|supervisor)(?:\s+called|\s+named)?,?"
    r"|\b(?:mr|mrs|ms|miss|mx|dr|prof)\.?"
    r"|[.!?\n]\s*(?:dear|hi|hello|hey)"
    r"|[.!?\n]\s*(?:kind\s+regards|best\s+regards|warm\s+regards|regards|cheers"
    r"|sincerely|best\s+wishes|many\s+thanks|thanks|thank\s+you|best|yours(?:\s+truly)?),?)"
    r"\s*$",
    re.IGNORECASE,
)
_CUE_WINDOW = 40


def _before(text: str, start: int, width: int) -> str:
    """The ``width`` characters before ``start``; a new line stands for the start of the text."""
    return ("\n" if start <= width else "") + text[max(0, start - width) : start]


def _tokens(text: str) -> list[tuple[int, int, str]]:
    """Capitalised words (first letter upper case, not all capitals), with their spans."""
    found = []
    for match in _CAPITALISED.finditer(text):
        word = match.group()
        if word[0].isupper() and not (len(word) > 1 and word.isupper()):
            found.append((match.start(), match.end(), word))
    return found


def name_tokens(names: Iterable[str]) -> frozenset[str]:
    """Lower-cased name words (two letters or more) from full names or name parts."""
    words = set()
    for name in names:
        for word in re.findall(_WORD, str(name or "")):
            if len(word) >= 2:
                words.add(word.lower())
    return frozenset(words)


def name_spans(
    text: str, *, own: frozenset[str] = frozenset(), known: frozenset[str] = frozenset()
) -> list[tuple[int, int]]:
    """Spans of the names in ``text`` (a full name is one span); ``own`` and ``known`` are the
    writer's and the workspace's customers' name words (from :func:`name_tokens`)."""
    mine, theirs = own, known
    common = common_words()
    tokens = _tokens(text)
    named = [False] * len(tokens)

    def follows(i: int) -> bool:  # the next token comes right after this one
        return (
            i + 1 < len(tokens)
            and re.fullmatch(r"[ \t]+", text[tokens[i][1] : tokens[i + 1][0]] or "x") is not None
        )

    def uncommon(i: int) -> bool:
        return tokens[i][2].lower() not in common

    def listed(i: int) -> bool:
        return tokens[i][2].lower() in mine | theirs

    for i, (start, _, word) in enumerate(tokens):
        lower = word.lower()
        if _CUE.search(_before(text, start, _CUE_WINDOW)) and uncommon(i):
            named[i] = True
            if follows(i) and uncommon(i + 1):
                named[i + 1] = True  # a surname after the first name
            continue
        pair_next = follows(i) and listed(i + 1)
        pair_prev = i > 0 and follows(i - 1) and listed(i - 1)
        if lower in common:
            # only inside a full name whose other word is a name and not a common word
            if lower in mine | theirs and (
                (pair_next and uncommon(i + 1)) or (pair_prev and uncommon(i - 1))
            ):
                named[i] = True
            continue
        if lower in mine or lower in theirs:
            named[i] = True
    spans: list[tuple[int, int]] = []
    for i, (start, end, _) in enumerate(tokens):
        if not named[i]:
            continue
        if spans and i > 0 and named[i - 1] and follows(i - 1):
            spans[-1] = (spans[-1][0], end)  # "Sarah Jones" is one name
        else:
            spans.append((start, end))
    return spans
