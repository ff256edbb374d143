"""A short-lived cache of write key -> workspace, so tracking requests skip one query each.

Entries live ``SECONDS`` at most. Saving or deleting a write key drops its entry, once now and
once more when the transaction commits (a request in between could have cached the old row), so
a revoked key stops working at once in this process. Other processes (another server, the CLI)
use their own cache when Django's cache is the default in-memory one: there it takes up to
``SECONDS``, as it does for keys removed by a bulk ``QuerySet.delete()``.
"""

import hashlib
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction

SECONDS = 5


def cache_key(write_key: str) -> str:
    return "cx:writekey:" + hashlib.sha256(write_key.encode()).hexdigest()[:40]


def forget_after_commit(write_keys: Iterable[str]) -> None:
    names = [cache_key(key) for key in write_keys]
    cache.delete_many(names)
    transaction.on_commit(lambda: cache.delete_many(names))
