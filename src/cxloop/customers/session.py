"""The state a bulk import keeps between its batches (see ``ResolutionSession``)."""

from __future__ import annotations

from datetime import datetime

from cxloop.customers import bulk
from cxloop.customers.resolution import Key


class ResolutionSession:
    """What a bulk import remembers between its batches, so that each batch does less work.

    * ``owner_of``: every identifier the import has met and the live profile holding it, so a
      batch looks up only identifiers it has not met before, and a message whose identifiers all
      point at one known profile skips the union-find;
    * ``user_ids``: the user ids of the profiles met (two user ids are never joined);
    * first/last-seen spans: gathered over the whole import and written once by
      :func:`profiles_flush_seen` instead of once per batch.

    The cache is dropped when anyone else added identities or merged profiles since this
    session's last batch (checked under the resolution lock), or when a batch fails.
    """

    def __init__(self, workspace_id: int, *, one_batch: bool = False) -> None:
        self.workspace_id = workspace_id
        # one batch (the tracking API): nothing to remember, seen-times written with the batch
        self.many_batches = not one_batch
        self.owner_of: dict[Key, int] = {}  # may name a merged profile: follow ``moved``
        self.moved: dict[int, int] = {}  # profiles this session merged -> their survivor
        self.user_ids: dict[int, frozenset] = {}
        self.stamp: tuple | None = None
        self.seen: dict[int, list[datetime]] = {}  # spans of committed batches, not yet written
        self.pending_seen: dict[int, list[datetime]] = {}  # spans of the batch in progress

    def forget(self) -> None:
        """Drop the cache and the current batch's spans (its transaction did not commit)."""
        drop_cache(self)
        self.pending_seen.clear()

    def batch_committed(self) -> None:
        """The current batch's transaction committed: keep its spans for the final write."""
        if self.seen:
            merge_spans(self.seen, self.pending_seen)
            self.pending_seen.clear()
        else:
            self.seen, self.pending_seen = self.pending_seen, {}


def revalidate(session: ResolutionSession) -> None:
    """Drop the session's cache if identities or merges changed since its last batch."""
    if session.owner_of and session.stamp != bulk.resolution_stamp():
        drop_cache(session)


def drop_cache(session: ResolutionSession) -> None:
    session.owner_of.clear()
    session.moved.clear()
    session.user_ids.clear()
    session.stamp = None


def follow(moved: dict[int, int], customer_id: int) -> int:
    """The profile ``customer_id`` was folded into by this session's merges (or itself)."""
    while customer_id in moved:
        customer_id = moved[customer_id]
    return customer_id


def merge_spans(into: dict[int, list[datetime]], spans: dict[int, list[datetime]]) -> None:
    """Widen the ``[first, last]`` spans of ``into`` by those of ``spans``."""
    for customer_id, (lo, hi) in spans.items():
        span = into.get(customer_id)
        if span is None:
            into[customer_id] = [lo, hi]
        else:
            if lo < span[0]:
                span[0] = lo
            if hi > span[1]:
                span[1] = hi
