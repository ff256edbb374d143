"""Template writes: create, new version (runs keep theirs), intake settings."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction

from cxloop.core.models import Workspace
from cxloop.workflows.definition import (
    DefinitionError,
    _text,
    intake_fields_validate,
    steps_validate,
)
from cxloop.workflows.models import TemplateVersion, WorkflowTemplate


def _about(name: Any, description: Any) -> tuple[str, str]:
    errors: list[str] = []
    name = _text(name, "name", errors, high=120)
    description = _text(description, "description", errors, high=500, required=False)
    if errors:
        raise DefinitionError(errors)
    return name, description


@transaction.atomic
def template_create(
    *,
    workspace: Workspace,
    name: str,
    steps: Sequence[Any],
    description: str = "",
    intake_fields: Sequence[Any] | None = None,
    intake_public: bool = False,
    actor=None,
) -> WorkflowTemplate:
    """A new template with its version 1. Raises DefinitionError naming every bad field."""
    errors: list[str] = []
    try:
        name, description = _about(name, description)
    except DefinitionError as exc:
        errors.extend(exc.errors)
    for check, raw in ((steps_validate, steps), (intake_fields_validate, intake_fields)):
        try:
            check(raw)
        except DefinitionError as exc:
            errors.extend(exc.errors)
    if not errors and WorkflowTemplate.objects.filter(workspace=workspace, name=name).exists():
        errors.append(f"name: a workflow named {name!r} exists already")
    if errors:
        raise DefinitionError(errors)
    template = WorkflowTemplate(
        workspace=workspace,
        name=name,
        description=description,
        intake_token=secrets.token_urlsafe(16),
        intake_public=intake_public,
    )
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        raise DefinitionError([f"name: a workflow named {name!r} exists already"]) from None
    version = TemplateVersion.objects.create(
        template=template,
        number=1,
        steps=steps_validate(steps),
        intake_fields=intake_fields_validate(intake_fields),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    template.current = version
    template.save(update_fields=["current"])
    return template


@transaction.atomic
def template_new_version(
    *,
    template: WorkflowTemplate,
    steps: Sequence[Any],
    name: str | None = None,
    description: str | None = None,
    intake_fields: Sequence[Any] | None = None,
    intake_public: bool | None = None,
    actor=None,
) -> TemplateVersion:
    """Save changed steps as the next version (runs under way keep theirs). Name, description
    and intake settings change on the template itself; unchanged steps and intake fields keep
    the current version."""
    errors: list[str] = []
    new_name, new_description = template.name, template.description
    try:
        new_name, new_description = _about(
            template.name if name is None else name,
            template.description if description is None else description,
        )
    except DefinitionError as exc:
        errors.extend(exc.errors)
    cleaned_steps: list[dict] = []
    cleaned_intake: list[dict] = []
    try:
        cleaned_steps = steps_validate(steps)
    except DefinitionError as exc:
        errors.extend(exc.errors)
    try:
        current_intake = template.current.intake_fields if template.current else []
        cleaned_intake = intake_fields_validate(
            current_intake if intake_fields is None else intake_fields
        )
    except DefinitionError as exc:
        errors.extend(exc.errors)
    clash = WorkflowTemplate.objects.filter(workspace_id=template.workspace_id, name=new_name)
    if not errors and clash.exclude(pk=template.pk).exists():
        errors.append(f"name: a workflow named {new_name!r} exists already")
    if errors:
        raise DefinitionError(errors)
    locked = WorkflowTemplate.objects.select_for_update().get(pk=template.pk)
    template.name, template.description = new_name, new_description
    if intake_public is not None:
        template.intake_public = intake_public
    template.save(update_fields=["name", "description", "intake_public"])
    current = locked.current
    if (
        current is not None
        and current.steps == cleaned_steps
        and current.intake_fields == cleaned_intake
    ):
        return current
    number = (current.number if current else 0) + 1
    last = template.versions.order_by("-number").first()
    if last is not None:
        number = max(number, last.number + 1)
    version = TemplateVersion.objects.create(
        template=template,
        number=number,
        steps=cleaned_steps,
        intake_fields=cleaned_intake,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    template.current = version
    template.save(update_fields=["current"])
    return version


def template_archive(*, template: WorkflowTemplate, archived: bool = True) -> None:
    """Archived templates start no new runs (their runs go on)."""
    template.archived = archived
    template.save(update_fields=["archived"])
