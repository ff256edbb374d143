"""Personal data in free text, found and replaced by a placeholder naming its kind.

Pure functions (no database), used wherever free text reaches someone without ``read_pii``:
text analyses, exports, comment lists. Found, in this order (an earlier kind's span is not
looked at again):

- ``[email]``: an address like ``name@host.tld``;
- ``[card]``: 13–19 digits, optionally in groups split by spaces or dashes, that pass the Luhn
  check (order numbers that fail it are left alone);
- ``[phone]``: what the ``phonenumbers`` library's matcher accepts as a *valid* number, written
  internationally (+44 …) or in the workspace's default region's national format;
- ``[address]``: a house number followed by up to four capitalised words and a street word (Street, St, Road,
  Rd, Avenue, Ave, Lane, Drive, Boulevard, Way, Court, Place, Close, Crescent, Terrace, …).

- ``[name]``: people's names, found with evidence (a cue such as "my name is", the writer's own
  profile name, a known customer's name away from a sentence's start): see ``core.names``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from cxloop.core import names as people

DEFAULT_REGION = "US"
# bounded and anchored at the start of a run, so a long run of letters is not rescanned from
# every position (quadratic time on hostile input)
_EMAIL = re.compile(
    r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){0,8}\.[A-Za-z]{2,24}\b"
)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_STREET_WORDS = (
    "street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|"
    "close|crescent|terrace|parkway|pkwy|highway|hwy|square|sq|gardens|grove|row|mews"
)
_ADDRESS = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][\w'.-]*\s+){1,4}(?i:" + _STREET_WORDS + r")\b\.?"
)


@dataclass(frozen=True)
class Redacted:
    text: str
    kinds: tuple[str, ...]  # the kinds found, in the order above, each once


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _cards(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            spans.append(match.span())
    return spans


def _phones(text: str, region: str) -> list[tuple[int, int]]:
    matcher = phonenumbers.PhoneNumberMatcher(
        text, region, leniency=phonenumbers.Leniency.VALID, max_tries=200
    )
    return [(m.start, m.end) for m in matcher]


def redact(
    text: str,
    *,
    region: str = DEFAULT_REGION,
    own_names: frozenset[str] = frozenset(),
    known_names: frozenset[str] = frozenset(),
) -> Redacted:
    """``text`` with emails, card numbers, phone numbers, street addresses and names replaced.
    ``own_names`` and ``known_names``: the writer's and the workspace's customers' name words
    (``core.names.name_tokens``)."""
    kinds: list[str] = []
    for kind, find in (
        ("email", lambda t: [m.span() for m in _EMAIL.finditer(t)]),
        ("card", _cards),
        ("phone", lambda t: _phones(t, region)),
        ("address", lambda t: [m.span() for m in _ADDRESS.finditer(t)]),
        ("name", lambda t: people.name_spans(t, own=own_names, known=known_names)),
    ):
        spans = find(text)
        if not spans:
            continue
        kinds.append(kind)
        for start, end in sorted(spans, reverse=True):
            text = f"{text[:start]}[{kind}]{text[end:]}"
    return Redacted(text, tuple(kinds))


def redact_text(text: str) -> str:
    """Just the redacted text."""
    return redact(text).text if text else text
