"""Intake forms: a submitted form starts a run of its template, tied to the customer the email
address belongs to (a new profile when nobody has it)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django import forms
from django.db import transaction
from django.utils import timezone

from cxloop.customers import selectors as customer_selectors
from cxloop.customers import services as customer_services
from cxloop.workflows._files import files_discard, files_store
from cxloop.workflows._runs import RunError, files_record, run_start
from cxloop.workflows.forms import answers_clean, answers_form_class, form_errors
from cxloop.workflows.models import WorkflowRun, WorkflowTemplate


class _Contact(forms.Form):
    email = forms.EmailField(label="Email", max_length=254)
    name = forms.CharField(label="Name", max_length=200, required=False)


def intake_form_class(template: WorkflowTemplate) -> type[forms.Form]:
    """The intake form: email and name, then the template's own intake fields."""
    fields = template.current.intake_fields if template.current else []
    return type("IntakeForm", (_Contact, answers_form_class(fields)), {})


def intake_submit(
    *, template: WorkflowTemplate, data: Mapping[str, Any], files: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> WorkflowRun:  # fmt: skip
    """Validate an intake form (with its uploaded ``files``) and start its run; the customer is
    matched by email (or created, named). Raises RunError naming each bad field."""
    form = intake_form_class(template)(data=data, files=files)  # type: ignore[arg-type]
    if not form.is_valid():
        raise RunError(form_errors(form))
    answers = answers_clean(form)
    stored = files_store(answers, workspace_id=template.workspace_id)
    try:
        return _start(template, answers, at)
    except BaseException:
        files_discard(stored)
        raise


def _start(template: WorkflowTemplate, answers: dict[str, Any], at: datetime | None):
    email, name = answers.pop("email"), answers.pop("name", "")
    at = at or timezone.now()
    traits = {"email": email, **({"name": name} if name else {})}
    keys = customer_services.identity_keys(
        traits=traits, region=template.workspace.default_phone_region
    )
    update = customer_services.ProfileUpdate(tuple(keys), at, traits, (), (), "intake form")
    with transaction.atomic():
        (customer_id,) = customer_services.profiles_apply(
            workspace=template.workspace, updates=[update]
        )
    if customer_id is None:  # an erased person's address: suppressed until they consent again
        raise RunError(["email: this address cannot be used"])
    customer = customer_selectors.customer_get(
        workspace=template.workspace, customer_id=customer_id
    )
    run = run_start(
        template=template, customer=customer, source="intake", intake=answers,
        actor="intake form", at=at,
    )  # fmt: skip
    files_record(run=run, answers=answers, actor="intake form", at=at)
    return run
