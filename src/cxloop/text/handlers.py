"""What happens to a person's text analyses when profiles merge, unmerge, are exported or erased.

Analyses follow their response: a merge moves them to the survivor and records which; an
unmerge gives those back; erasure deletes them (the redacted text is still personal data), and
their cached embeddings with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cxloop.text import embeddings, search
from cxloop.text.models import TextAnalysis

IN_CHUNK = 500  # ids per UPDATE (SQLite allows 999 parameters)
EXPORTED = ("source", "channel", "text", "score", "label", "emotions", "drivers")


def text_customer_merge(*, survivor_id: int, merged_id: int) -> tuple[int, dict]:
    """Move the absorbed profile's analyses to the survivor (their ids kept for an unmerge)."""
    ids = list(TextAnalysis.objects.filter(customer_id=merged_id).values_list("pk", flat=True))
    moved = 0
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        moved += TextAnalysis.objects.filter(pk__in=chunk).update(customer_id=survivor_id)
    return moved, {"analyses": ids} if ids else {}


def text_customer_unmerge(
    *, holder_id: int, restored_id: int, moved: dict, identities: set[tuple[str, str]]
) -> int:
    """Give back the analyses the merge moved (those still on a profile)."""
    ids = moved.get("analyses", [])
    count = 0
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        count += TextAnalysis.objects.filter(pk__in=chunk, customer__isnull=False).update(
            customer_id=restored_id
        )
    return count


def text_customer_export(*, customer_ids: list[int]) -> dict[str, list[Mapping[str, Any]]]:
    rows = TextAnalysis.objects.filter(customer_id__in=customer_ids).order_by("written_at", "pk")
    return {
        "text_analyses": [
            {
                "customer_id": row.customer_id,
                "written_at": row.written_at.isoformat(),
                **{name: getattr(row, name) for name in EXPORTED},
            }
            for row in rows
        ]
    }


def text_customer_erase(*, customer_ids: list[int]) -> dict[str, int]:
    rows = TextAnalysis.objects.filter(customer_id__in=customer_ids)
    search.index_drop(rows.values_list("pk", flat=True))
    digests = set(rows.values_list("digest", flat=True))
    deleted, _ = rows.delete()
    # their texts' vectors too, unless somebody else wrote the same words
    embeddings.forget(sorted(digests - _still_used(digests)))
    return {"text_analyses": deleted}


def _still_used(digests: set[str]) -> set[str]:
    """Which of these text digests some remaining analysis still has."""
    ordered, used = sorted(digests), set[str]()
    for start in range(0, len(ordered), IN_CHUNK):
        used.update(
            TextAnalysis.objects.filter(digest__in=ordered[start : start + IN_CHUNK]).values_list(
                "digest", flat=True
            )
        )
    return used
