"""Full-text search over analysed texts, one implementation per database.

- SQLite: an FTS5 table ``text_search`` (porter stemmer over unicode61 tokens), one row per
  analysis with ``rowid`` = the analysis id, kept by ``text.services`` (``index_put`` after an
  analysis is written, ``index_drop`` when one is removed). A row left behind by a cascade
  delete (a survey deleted) matches no analysis, and is replaced when its id comes back.
- PostgreSQL: a generated ``tsvector`` column ``search`` (English configuration) on the
  analysis table with a GIN index (migration 0002): the database keeps it, nothing to do here.

A query is read the way web search engines read one (:func:`parse`): words, all of which must
occur (stemmed, in any order); ``"two words"`` in quotes, next to each other in that order;
``late OR delayed``, either; ``-refund`` or ``-"gift card"``, not. Only the words (letters and
digits) of each term reach an engine, each quoted or passed as a parameter, so no engine syntax
(NEAR, ``*``, column filters) gets through, and both databases read the same structure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models.expressions import RawSQL

MAX_WORDS = 16
_WORD = re.compile(r"\w+", re.UNICODE)
# a quoted phrase (its closing quote optional), with an optional "-" before it; or a bare token
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')

Term = tuple[str, ...]  # one word, or the words of a phrase in order


@dataclass(frozen=True)
class Query:
    """A parsed query: every group must match (a group: one term, or terms joined by OR),
    and no ``excluded`` term may."""

    groups: tuple[tuple[Term, ...], ...] = ()
    excluded: tuple[Term, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.groups and not self.excluded


def parse(query: str) -> Query:
    """The terms of ``query`` (at most ``MAX_WORDS`` words in all, each at most 64 characters).
    ``OR`` (in capitals) joins the terms on either side; a term with no letter or digit is
    dropped, and an ``OR`` with nothing on one side is read as a word-less token."""
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    budget, joined = MAX_WORDS, False
    for match in _TOKEN.finditer(query.replace("\x00", " ")):
        minus, quoted, bare = match.groups()
        if bare == "OR":
            joined = bool(groups) and not joined
            continue
        negative = bool(minus) if bare is None else len(bare) > 1 and bare.startswith("-")
        text = quoted if bare is None else bare[1:] if negative else bare
        term = tuple(w[:64] for w in _WORD.findall(text))[:budget]
        if not term:
            joined = False
            continue
        budget -= len(term)
        if negative:
            excluded.append(term)
        elif joined:
            groups[-1].append(term)
        else:
            groups.append([term])
        joined = False
        if budget <= 0:
            break
    return Query(tuple(tuple(group) for group in groups), tuple(excluded))


def matching_ids(groups: tuple[tuple[Term, ...], ...]) -> RawSQL:
    """A subquery of the ids of analyses whose text matches every group (for ``pk__in``):
    a group matches when any of its terms does, a term when its words occur next to each
    other in order (stemmed)."""
    if connection.vendor == "postgresql":
        terms = [[" ".join(term) for term in group] for group in groups]
        sql = " && ".join(
            "(" + " || ".join("phraseto_tsquery('english', %s)" for _ in group) + ")"
            for group in terms
        )
        params = [text for group in terms for text in group]
        # the SQL is fixed fragments only (one per term); every word is a parameter
        query = f"SELECT id FROM text_textanalysis WHERE search @@ ({sql})"  # noqa: S608
        return RawSQL(query, params)  # noqa: S611
    match = " AND ".join(
        "(" + " OR ".join('"' + " ".join(term) + '"' for term in group) + ")" for group in groups
    )
    return RawSQL("SELECT rowid FROM text_search WHERE text_search MATCH %s", [match])


def index_put(rows: Iterable[tuple[int, str]]) -> None:
    """Index (or re-index) analyses' texts: ``(analysis id, text)``. SQLite only."""
    rows = list(rows)
    if connection.vendor != "sqlite" or not rows:
        return
    with connection.cursor() as cursor:
        cursor.executemany("DELETE FROM text_search WHERE rowid = %s", [(pk,) for pk, _ in rows])
        cursor.executemany("INSERT INTO text_search (rowid, body) VALUES (%s, %s)", rows)


def index_drop(ids: Iterable[int]) -> None:
    """Remove analyses from the index. SQLite only."""
    ids = list(ids)
    if connection.vendor != "sqlite" or not ids:
        return
    with connection.cursor() as cursor:
        cursor.executemany("DELETE FROM text_search WHERE rowid = %s", [(pk,) for pk in ids])
