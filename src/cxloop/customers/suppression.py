"""The suppression list: identifiers of people erased on request, kept only as salted hashes.

An erasure adds a digest of every identifier the person had; identity resolution then drops a
message carrying any of them (reported to the sender, never silent), so the next event does not
bring the person back. A message that grants consent again (``context.consent`` with a category
granted) lifts the suppression of its identifiers: the person came back and agreed.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence

from cxloop.core.db import IN_CHUNK, chunked
from cxloop.core.models import Workspace
from cxloop.customers.identifiers import ANONYMOUS_ID, USER_ID
from cxloop.customers.models import Suppression, SuppressionSalt
from cxloop.customers.resolution import Key, ProfileUpdate

SUPPRESSED = (
    "identifiers of a person erased on request (suppressed); not stored. Send a consent grant "
    "(context.consent.categoryPreferences) to record this person again"
)


def identifier_digest(salt: str, key: Key) -> str:
    """SHA-256 of the workspace's salt, the identity kind and the normalized value."""
    kind, value = key
    return hashlib.sha256(f"{salt}\x1f{kind}\x1f{value}".encode()).hexdigest()


def suppress_identifiers(*, workspace: Workspace, keys: Iterable[Key]) -> int:
    """Add these identifiers to the workspace's suppression list; returns how many were new."""
    salt, _ = SuppressionSalt.objects.get_or_create(
        workspace=workspace, defaults={"salt": secrets.token_hex(32)}
    )
    digests = {identifier_digest(salt.salt, key) for key in keys}
    known: set[str] = set()
    for chunk in chunked(digests, IN_CHUNK):
        known.update(
            Suppression.objects.filter(workspace=workspace, digest__in=chunk).values_list(
                "digest", flat=True
            )
        )
    created = Suppression.objects.bulk_create(
        [Suppression(workspace=workspace, digest=d) for d in sorted(digests - known)],
        ignore_conflicts=True,
    )
    return len(created)


def updates_suppressed(*, workspace: Workspace, updates: Sequence[ProfileUpdate]) -> set[int]:
    """Positions of the updates to drop: they carry a suppressed identifier and grant no consent.

    Updates that carry one and grant consent lift the suppression of their identifiers.
    One small query when the workspace never erased anyone; the caller holds its transaction.
    """
    salt = (
        SuppressionSalt.objects.filter(workspace=workspace).values_list("salt", flat=True).first()
    )
    if salt is None:
        return set()
    digests_of = []
    for update in updates:
        keys = [*update.keys]
        for previous in update.alias_of:  # an alias naming an erased user id links to them too
            keys += [(USER_ID, previous), (ANONYMOUS_ID, previous)]
        digests_of.append({identifier_digest(salt, key) for key in keys})
    found: set[str] = set()
    for chunk in chunked({d for digests in digests_of for d in digests}, IN_CHUNK):
        found.update(
            Suppression.objects.filter(workspace=workspace, digest__in=chunk).values_list(
                "digest", flat=True
            )
        )
    if not found:
        return set()
    blocked, lifted = set(), set()
    for index, (update, digests) in enumerate(zip(updates, digests_of, strict=True)):
        hits = digests & found
        if not hits:
            continue
        if any(granted for _, granted in update.consents):
            lifted |= digests
        else:
            blocked.add(index)
    if lifted:
        for chunk in chunked(lifted, IN_CHUNK):
            Suppression.objects.filter(workspace=workspace, digest__in=chunk).delete()
        # a message before the grant in the same batch is kept too: the person agreed
        blocked = {i for i in blocked if not (digests_of[i] & found) - lifted}
    return blocked
