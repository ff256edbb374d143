"""Text-theme conditions ("wrote a negative text on theme X in March"), answered by the text
app through its selectors."""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet

from cxloop.core.models import Workspace
from cxloop.segments.definition import SegmentDefinitionError
from cxloop.text import selectors as text_selectors


def theme_problem(*, workspace: Workspace, condition: dict) -> str | None:
    """Why a theme condition cannot be used (no such theme in the workspace), or None."""
    if text_selectors.theme_get(workspace=workspace, theme_id=condition["theme"]) is None:
        return f"no text theme {condition['theme']} in this workspace"
    return None


def theme_customer_ids(*, workspace: Workspace, condition: dict) -> QuerySet:
    """A subquery of the customers who wrote a text matching the condition."""
    problem = theme_problem(workspace=workspace, condition=condition)
    if problem:
        raise SegmentDefinitionError([f"theme condition: {problem}"])
    days = {
        name: date.fromisoformat(condition[name])
        for name in ("date_from", "date_to")
        if condition.get(name)
    }
    return text_selectors.theme_customer_ids(
        workspace=workspace,
        theme_id=condition["theme"],
        label=condition.get("sentiment", ""),
        channel=condition.get("channel", ""),
        **days,
    )
