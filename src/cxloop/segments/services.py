"""Writes for segments: create, update and delete saved filters, strictly validated."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from cxloop.core.models import Workspace
from cxloop.segments import selectors, stages, texts
from cxloop.segments.definition import (
    SegmentDefinitionError,
    condition_kind,
    definition_validate,
)
from cxloop.segments.models import Segment, SegmentCount, SegmentMember

MAX_NAME = 120
MAX_DESCRIPTION = 500


def segment_validate(
    *,
    workspace: Workspace,
    name: str,
    definition: object,
    description: str = "",
    segment: Segment | None = None,
) -> tuple[str, str, dict]:
    """Cleaned (name, description, definition), or SegmentDefinitionError listing every problem."""
    errors: list[str] = []
    name = (name or "").strip()
    if not name:
        errors.append("name: give the segment a name")
    elif len(name) > MAX_NAME:
        errors.append(f"name: at most {MAX_NAME} characters")
    else:
        clash = Segment.objects.filter(workspace=workspace, name__iexact=name)
        if segment is not None:
            clash = clash.exclude(pk=segment.pk)
        if clash.exists():
            errors.append(f"name: a segment called {name!r} already exists")
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        errors.append(f"description: at most {MAX_DESCRIPTION} characters")
    cleaned: dict = {}
    try:
        cleaned = definition_validate(definition)
    except SegmentDefinitionError as exc:
        errors.extend(exc.errors)
    else:
        errors.extend(_stage_problems(workspace, cleaned, "condition"))
    if errors:
        raise SegmentDefinitionError(errors)
    return name, description, cleaned


def _stage_problems(workspace: Workspace, group: dict, where: str) -> list[str]:
    problems = []
    items = next(iter(group.values()))
    for index, item in enumerate(items, start=1):
        here = f"{where} {index}" if where == "condition" else f"{where}.{index}"
        kind = condition_kind(item)
        if kind is None:
            problems.extend(_stage_problems(workspace, item, here))
        elif kind == "stage":
            problem = stages.stage_problem(workspace=workspace, condition=item)
            if problem:
                problems.append(f"{here} (stage): {problem}")
        elif kind == "theme":
            problem = texts.theme_problem(workspace=workspace, condition=item)
            if problem:
                problems.append(f"{here} (theme): {problem}")
    return problems


@transaction.atomic
def segment_create(
    *,
    workspace: Workspace,
    name: str,
    definition: object,
    description: str = "",
    created_by=None,
) -> Segment:
    """Save a new segment; SegmentDefinitionError (with every problem listed) when invalid."""
    name, description, cleaned = segment_validate(
        workspace=workspace, name=name, definition=definition, description=description
    )
    return Segment.objects.create(
        workspace=workspace,
        name=name,
        description=description,
        definition=cleaned,
        created_by=created_by,
    )


@transaction.atomic
def segment_update(
    *,
    segment: Segment,
    name: str | None = None,
    definition: object = None,
    description: str | None = None,
) -> Segment:
    """Change a segment's name, description or definition (only those given)."""
    name, description, cleaned = segment_validate(
        workspace=segment.workspace,
        name=segment.name if name is None else name,
        definition=segment.definition if definition is None else definition,
        description=segment.description if description is None else description,
        segment=segment,
    )
    segment.name, segment.description, segment.definition = name, description, cleaned
    segment.save(update_fields=["name", "description", "definition", "updated_at"])
    return segment


def segment_delete(*, segment: Segment) -> None:
    segment.delete()


def segment_member_add(
    *, segment: Segment, customer_id: int, source: str = "", at: datetime | None = None
) -> bool:
    """Add a customer to ``segment`` besides those its definition matches (e.g. a workflow
    rule's "add to segment"): from now on it is in the segment's members and count. Idempotent:
    False when the customer was added before."""
    if SegmentMember.objects.filter(segment=segment, customer_id=customer_id).exists():
        return False
    try:
        with transaction.atomic():
            SegmentMember.objects.create(
                segment=segment, customer_id=customer_id, source=source[:120],
                added_at=at or timezone.now(),
            )  # fmt: skip
    except IntegrityError:  # added at the same moment by another worker
        return False
    return True


def segment_member_remove(*, segment: Segment, customer_id: int) -> bool:
    """Take back a customer added to ``segment`` (its definition may still match them)."""
    return SegmentMember.objects.filter(segment=segment, customer_id=customer_id).delete()[0] > 0


def segment_counts_refresh(*, workspace: Workspace | None = None) -> int:
    """Count every saved segment (of ``workspace``, else of all) live and keep each number with
    the definition counted and the time (:class:`SegmentCount`, what the segments list reads).

    Idempotent: a repeat writes the numbers of that moment. A segment whose definition no
    longer holds (a deleted journey, say) loses its count, so the list shows its problem.
    Returns how many segments were counted.
    """
    segments = Segment.objects.select_related("workspace").order_by("workspace_id", "pk")
    if workspace is not None:
        segments = segments.filter(workspace=workspace)
    counted = 0
    as_of: dict[int, datetime] = {}
    for segment in segments:
        if segment.workspace_id not in as_of:  # one anchor per workspace and round
            as_of[segment.workspace_id] = selectors.segment_as_of(workspace=segment.workspace)
        definition, at = segment.definition, timezone.now()
        try:
            members = selectors.segment_count(
                workspace=segment.workspace, definition=definition,
                now=as_of[segment.workspace_id], segment_id=segment.pk,
            )  # fmt: skip
        except SegmentDefinitionError:
            SegmentCount.objects.filter(segment=segment).delete()
            continue
        SegmentCount.objects.update_or_create(
            segment=segment,
            defaults={"members": members, "definition": definition, "counted_at": at},
        )
        counted += 1
    return counted
