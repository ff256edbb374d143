"""What happens to a person's scores when profiles merge, unmerge, are exported or erased.

Scores are derived data: a merge drops the absorbed profile's rows (the next run scores the
survivor on the combined purchases); an unmerge restores nothing for the same reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cxloop.predict.models import CustomerScore

FIELDS = (
    "as_of",
    "model_version",
    "p_alive",
    "expected_30",
    "expected_90",
    "expected_365",
    "expected_spend",
    "clv",
    "clv_low",
    "clv_high",
    "churn_risk",
    "reasons",
)


def scores_customer_merge(*, survivor_id: int, merged_id: int) -> tuple[int, dict]:
    deleted, _ = CustomerScore.objects.filter(customer_id=merged_id).delete()
    return deleted, {}


def scores_customer_unmerge(
    *, holder_id: int, restored_id: int, moved: dict, identities: set[tuple[str, str]]
) -> int:
    return 0


def scores_customer_export(*, customer_ids: list[int]) -> dict[str, list[Mapping[str, Any]]]:
    rows = CustomerScore.objects.filter(customer_id__in=customer_ids).order_by("created_at", "pk")
    return {
        "predict_scores": [
            {
                "customer_id": row.customer_id,
                **{name: _plain(getattr(row, name)) for name in FIELDS},
            }
            for row in rows
        ]
    }


def scores_customer_erase(*, customer_ids: list[int]) -> dict[str, int]:
    deleted, _ = CustomerScore.objects.filter(customer_id__in=customer_ids).delete()
    return {"predict_scores": deleted}


def _plain(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value
