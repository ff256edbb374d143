"""What happens to a person's text analyses when profiles merge, unmerge, are exported or erased.

Analyses follow their response: a merge moves them to the survivor; an unmerge copies the
customer back from each response (feedback's handler, which runs first, has moved those back);
erasure deletes them (the redacted text is still personal data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import OuterRef, Subquery

from cxloop.feedback import selectors as feedback_selectors
from cxloop.text import search
from cxloop.text.models import TextAnalysis

EXPORTED = ("source", "channel", "text", "score", "label", "emotions", "drivers")


def text_customer_merge(*, survivor_id: int, merged_id: int) -> tuple[int, dict]:
    moved = TextAnalysis.objects.filter(customer_id=merged_id).update(customer_id=survivor_id)
    return moved, {}


def text_customer_unmerge(
    *, holder_id: int, restored_id: int, moved: dict, identities: set[tuple[str, str]]
) -> int:
    rows = TextAnalysis.objects.filter(customer_id=holder_id, response__isnull=False)
    first = rows.select_related("workspace").first()
    if first is None:
        return 0
    responses = feedback_selectors.workspace_responses(workspace=first.workspace)
    owner = responses.filter(pk=OuterRef("response_id")).values("customer_id")[:1]
    return rows.update(customer_id=Subquery(owner))


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
    deleted, _ = rows.delete()
    return {"text_analyses": deleted}
