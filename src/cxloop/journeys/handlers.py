"""What happens to a person's journey stages when profiles merge, unmerge, are exported or
erased. One row per customer and journey (a unique constraint): a merge keeps the furthest.

Registered with ``customers.handlers`` in ``JourneysConfig.ready()``; customers calls them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cxloop.customers import selectors as customer_selectors
from cxloop.journeys._progress import rewalk_note
from cxloop.journeys.models import CustomerStage, JourneyProgress, Stage


def _further(row: CustomerStage, than: CustomerStage) -> bool:
    """Whether ``row`` is further along its journey (on the same stage: reached earlier)."""
    if row.stage.position != than.stage.position:
        return row.stage.position > than.stage.position
    return row.reached_at < than.reached_at


def _entry(row: CustomerStage) -> list:
    return [row.stage_id, row.reached_at.isoformat()]


def stages_customer_merge(*, survivor_id: int, merged_id: int) -> tuple[int, dict]:
    """The survivor keeps, per journey, the furthest stage either profile reached (the journey
    job then walks both again from their events)."""
    _rewalk(survivor_id, merged_id)
    theirs = list(CustomerStage.objects.filter(customer_id=merged_id).select_related("stage"))
    if not theirs:
        return 0, {}
    ours = {
        row.journey_id: row
        for row in CustomerStage.objects.filter(customer_id=survivor_id).select_related("stage")
    }
    record: dict[str, dict] = {"absorbed": {}, "survivor": {}}
    for row in theirs:
        record["absorbed"][str(row.journey_id)] = _entry(row)
        mine = ours.get(row.journey_id)
        if mine is None:
            row.customer_id = survivor_id
            row.save(update_fields=["customer"])
            continue
        record["survivor"][str(row.journey_id)] = _entry(mine)
        row.delete()
        if _further(row, mine):
            mine.stage, mine.reached_at = row.stage, row.reached_at
            mine.save(update_fields=["stage", "reached_at"])
    return len(theirs), record


def stages_customer_unmerge(
    *, holder_id: int, restored_id: int, moved: dict, identities: set[tuple[str, str]]
) -> int:
    """The restored profile gets its stages back; the holder's row that came from it (unchanged
    since) goes back to what the survivor had (the next recompute refines both)."""
    _rewalk(holder_id, restored_id)
    absorbed, survivor = moved.get("absorbed", {}), moved.get("survivor", {})
    if not absorbed:
        return 0
    stages = {
        s.pk: s
        for s in Stage.objects.select_related("journey").filter(
            pk__in=[e[0] for e in [*absorbed.values(), *survivor.values()]]
        )
    }
    current = {r.journey_id: r for r in CustomerStage.objects.filter(customer_id=holder_id)}
    restored = []
    for journey_key, entry in absorbed.items():
        journey_id = int(journey_key)
        row = current.get(journey_id)
        if row is not None and _entry(row) == entry:
            previous = survivor.get(journey_key)
            if previous is None or previous[0] not in stages:
                row.delete()
            else:
                row.stage_id, row.reached_at = previous[0], datetime.fromisoformat(previous[1])
                row.save(update_fields=["stage", "reached_at"])
        if entry[0] in stages:
            restored.append(
                CustomerStage(
                    workspace_id=stages[entry[0]].journey.workspace_id,
                    journey_id=journey_id,
                    stage_id=entry[0],
                    customer_id=restored_id,
                    reached_at=datetime.fromisoformat(entry[1]),
                )
            )
    CustomerStage.objects.filter(customer_id=restored_id).delete()
    CustomerStage.objects.bulk_create(restored)
    return len(restored)


def stages_customer_export(*, customer_ids: list[int]) -> dict[str, list[Mapping[str, Any]]]:
    rows = CustomerStage.objects.filter(customer_id__in=customer_ids).order_by("journey_id")
    return {
        "journey_stages": list(
            rows.values("customer_id", "journey__name", "stage__name", "reached_at")
        )
    }


def stages_customer_erase(*, customer_ids: list[int]) -> dict[str, int]:
    deleted, _ = CustomerStage.objects.filter(customer_id__in=customer_ids).delete()
    JourneyProgress.objects.filter(customer_id__in=customer_ids).delete()
    # their events go without a new event id: a re-walk entry tells the stored default ranges
    # (``journeys.mapperiod``) that they count events no longer there
    _rewalk(*customer_ids)
    return {"journey_stages": deleted}


def _rewalk(*customer_ids: int) -> None:
    """Have the journey job walk these customers again (their events moved)."""
    for workspace_id in customer_selectors.customer_workspace_ids(customer_ids=customer_ids):
        rewalk_note(workspace_id=workspace_id, customer_ids=customer_ids)
