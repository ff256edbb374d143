"""What happens to a person's workflow runs and rule firings when profiles merge, unmerge, are
exported or erased. Registered with ``customers.handlers`` in ``WorkflowsConfig.ready()``.

Erasure deletes the person's runs (their answers, intake and history quote the person; the
files answered in them go too) and the rule firings about them (their "why" may name a trait): what is left counts nothing personal.
"""

from __future__ import annotations

from django.db import transaction

from cxloop.core.db import IN_CHUNK, chunked
from cxloop.workflows._files import file_records, files_discard
from cxloop.workflows.models import RuleFiring, StepInstance, WebhookDelivery, WorkflowRun

_RUN = (
    "id", "customer_id", "template__name", "version__number", "title", "status", "source",
    "context", "intake", "started_at", "first_contact_at", "closed_at", "outcome",
)  # fmt: skip
_STEP = ("id", "run_id", "key", "title", "status", "opened_at", "due_at", "completed_at", "answers")
_MODELS = (("runs", WorkflowRun), ("firings", RuleFiring))


def workflows_customer_merge(*, survivor_id: int, merged_id: int) -> tuple[int, dict]:
    """Move the absorbed profile's runs and rule firings to the survivor."""
    record, count = {}, 0
    for name, model in _MODELS:
        ids = list(model.objects.filter(customer_id=merged_id).values_list("pk", flat=True))
        for chunk in chunked(ids, IN_CHUNK):
            count += model.objects.filter(pk__in=chunk).update(customer_id=survivor_id)
        if ids:
            record[name] = ids
    return count, record


def workflows_customer_unmerge(
    *, holder_id: int, restored_id: int, moved: dict, identities: set[tuple[str, str]]
) -> int:
    """Give back the runs and firings the merge moved."""
    count = 0
    for name, model in _MODELS:
        for chunk in chunked(moved.get(name, []), IN_CHUNK):
            count += model.objects.filter(pk__in=chunk, customer_id=holder_id).update(
                customer_id=restored_id
            )
    return count


def workflows_customer_export(*, customer_ids: list[int]) -> dict[str, list[dict]]:
    runs = WorkflowRun.objects.filter(customer_id__in=customer_ids).order_by("started_at", "pk")
    steps = StepInstance.objects.filter(run__customer_id__in=customer_ids).order_by(
        "run", "position"
    )
    deliveries = WebhookDelivery.objects.filter(firing__customer_id__in=customer_ids).order_by("pk")
    return {
        "workflow_runs": list(runs.values(*_RUN)),
        "workflow_steps": list(steps.values(*_STEP)),
        "webhook_deliveries": list(
            deliveries.values("id", "url", "body", "status", "attempts", "created_at")
        ),
    }


def workflows_customer_erase(*, customer_ids: list[int]) -> dict[str, int]:
    """Delete the person's runs and firings, and the files answered in those runs (once the
    deletion is committed)."""
    firings, _ = RuleFiring.objects.filter(customer_id__in=customer_ids).delete()
    runs = WorkflowRun.objects.filter(customer_id__in=customer_ids)
    answered = [*runs.values_list("intake", flat=True),
                *StepInstance.objects.filter(run__in=runs).values_list("answers", flat=True)]  # fmt: skip
    files = [r["file"] for answers in answered for _, r in file_records(answers or {})]
    count = runs.count()
    runs.delete()
    if files:
        transaction.on_commit(lambda: files_discard(files))
    return {"workflow_runs": count, "rule_firings": firings}
