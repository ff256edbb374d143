"""A short-lived cache of write key -> workspace, so tracking requests skip one query each.

Entries live a few seconds at most and are dropped whenever a write key is saved or deleted
(revoking one goes through ``save``), so a revoked key stops working at once in this process
and within ``SECONDS`` everywhere else.
"""

import hashlib

from django.core.cache import cache

SECONDS = 5


def cache_key(write_key: str) -> str:
    return "cx:writekey:" + hashlib.sha256(write_key.encode()).hexdigest()[:40]


def forget(write_key: str) -> None:
    cache.delete(cache_key(write_key))
