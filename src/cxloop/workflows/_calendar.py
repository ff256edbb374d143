"""The workspace's business hours: set, clear, read (see ``workflows.calendar``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cxloop.core.models import Workspace
from cxloop.workflows.calendar import BusinessHours, business_hours, calendar_validate
from cxloop.workflows.models import BusinessCalendar


def calendar_set(*, workspace: Workspace, raw: Mapping[str, Any]) -> dict:
    """Validate and store ``workspace``'s business hours (CalendarError names each problem);
    deadlines of steps opened from now on use them."""
    cleaned = calendar_validate(raw)
    BusinessCalendar.objects.update_or_create(workspace=workspace, defaults={"definition": cleaned})
    return cleaned


def calendar_clear(*, workspace: Workspace) -> None:
    BusinessCalendar.objects.filter(workspace=workspace).delete()


def calendar_definition(*, workspace_id: int) -> dict | None:
    row = BusinessCalendar.objects.filter(workspace_id=workspace_id).first()
    return dict(row.definition) if row else None


def calendar_get(*, workspace_id: int) -> BusinessHours | None:
    """The workspace's business hours, or None when none are set."""
    definition = calendar_definition(workspace_id=workspace_id)
    return business_hours(definition) if definition else None
