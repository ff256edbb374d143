"""Build a test data set once per test process, and copy it back in for every later test.

The browser walk opens some 170 pages, each a test of its own on the demo workspace; building
that demo (events, surveys, journeys, text analysis, models) for each of them took most of the
suite's time. On the tests' in-memory SQLite database the first build is copied aside with
SQLite's online backup, and later tests get the same database back in milliseconds: the same
rows, the same ids. Elsewhere (a file or PostgreSQL database) every test builds its own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Hashable

from django.core.cache import cache
from django.db import connection

_kept: dict[Hashable, sqlite3.Connection] = {}


def built_once(key: Hashable, build: Callable[[], object]) -> None:
    """Run ``build`` the first time ``key`` is asked for; afterwards put its database back.

    Only for tests whose database starts empty (``transactional_db``): the copy replaces the
    whole database. The cache is emptied too, so nothing kept from an earlier test leaks in.
    """
    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        build()
        return
    connection.ensure_connection()
    live = connection.connection
    kept = _kept.get(key)
    if kept is None:
        build()
        kept = sqlite3.connect(":memory:", check_same_thread=False)
        live.backup(kept)
        _kept[key] = kept
    else:
        kept.backup(live)
        cache.clear()
