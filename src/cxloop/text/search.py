"""Full-text search over analysed texts, one implementation per database.

- SQLite: an FTS5 table ``text_search`` (porter stemmer over unicode61 tokens), one row per
  analysis with ``rowid`` = the analysis id, kept by ``text.services`` (``index_put`` after an
  analysis is written, ``index_drop`` when one is removed). A row left behind by a cascade
  delete (a survey deleted) matches no analysis, and is replaced when its id comes back.
- PostgreSQL: a generated ``tsvector`` column ``search`` (English configuration) on the
  analysis table with a GIN index (migration 0002): the database keeps it, nothing to do here.

A query is read as words (letters and digits); every word must occur (stemmed), in any order.
Other characters are ignored, so no search syntax (quotes, NEAR, ``*``) reaches either engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import connection
from django.db.models.expressions import RawSQL

MAX_WORDS = 16
_WORD = re.compile(r"\w+", re.UNICODE)


def words(query: str) -> list[str]:
    """The words a query searches for (at most ``MAX_WORDS``, each at most 64 characters)."""
    return [w[:64] for w in _WORD.findall(query.replace("\x00", " "))][:MAX_WORDS]


def matching_ids(query_words: list[str]) -> RawSQL:
    """A subquery of the ids of analyses whose text has every word (for ``pk__in``)."""
    if connection.vendor == "postgresql":
        return RawSQL(
            "SELECT id FROM text_textanalysis WHERE search @@ plainto_tsquery('english', %s)",
            [" ".join(query_words)],
        )
    phrase = " ".join('"' + w.replace('"', "") + '"' for w in query_words)
    return RawSQL("SELECT rowid FROM text_search WHERE text_search MATCH %s", [phrase])


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
