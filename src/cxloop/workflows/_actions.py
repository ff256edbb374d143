"""What a rule's actions do (start a workflow, assign or extend its step, tag the customer, add
them to a segment, send an email, call a webhook, notify members), each given the firing's
:class:`Context` and returning the line its firing records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django.core.validators import validate_email
from django.db import transaction

from cxloop.core import selectors as core_selectors
from cxloop.core.models import Workspace
from cxloop.customers import selectors as customer_selectors
from cxloop.customers import services as customer_services
from cxloop.workflows import _runs, _steps, _webhooks
from cxloop.workflows.definition import fill
from cxloop.workflows.models import (
    Notice,
    Rule,
    RuleFiring,
    StepInstance,
    StepStatus,
    WorkflowRun,
    WorkflowTemplate,
)
from cxloop.workflows.ruledefs import describe_action


@dataclass
class Context:
    workspace: Workspace
    customer: Any
    run: WorkflowRun | None
    step: StepInstance | None
    facts: dict[str, Any]
    chain: list[int]
    rule: Rule
    at: datetime
    firing: RuleFiring | None = None
    delivery: Any = None  # a webhook delivery to send once its row is committed


def act(action: Mapping[str, Any], c: Context) -> dict:
    what = describe_action(action)
    try:
        detail = ACTIONS[action["type"]](action, c)
    except OSError as exc:  # SMTP or the network
        return {"action": what, "ok": False, "detail": f"failed: {exc}"}
    return {"action": what, "ok": not detail.startswith("not "), "detail": detail}


def _start_workflow(action, c: Context) -> str:
    template = WorkflowTemplate.objects.filter(
        workspace=c.workspace, pk=action["template_id"]
    ).first()
    if template is None:
        return "not started: the template was deleted"
    run = _runs.run_start(
        template=template, customer=c.customer, source=f"rule:{c.rule.pk}",
        context={k: v for k, v in c.facts.items() if k in _CONTEXT_FACTS},
        actor=f"rule: {c.rule.name}", chain=c.chain, at=c.at,
    )  # fmt: skip
    c.run, c.step = run, run.steps.filter(status=StepStatus.OPEN).first()
    return f"started run #{run.pk}"


_CONTEXT_FACTS = {"nps", "csat", "ces", "survey", "survey_name", "response", "comment", "channel",
                  "event", "event_id"}  # fmt: skip


def _target_step(c: Context) -> StepInstance:
    step = c.step
    if step is None and c.run is not None:
        step = c.run.steps.filter(status=StepStatus.OPEN).first()
    if step is None:
        raise _runs.RunError(["no open step to act on (start a workflow first)"])
    return step


def _assign(action, c: Context) -> str:
    step = _target_step(c)
    actor = f"rule: {c.rule.name}"
    if action.get("user_id"):
        user = core_selectors.member_get(workspace=c.workspace, user_id=action["user_id"])
        _steps.step_assign(step=step, user=user.user if user else None, actor=actor, at=c.at)
        return f"assigned {step.title!r} to {user.user.get_username() if user else '?'}"
    _steps.step_assign_role(step=step, role=action["role"], actor=actor, at=c.at)
    return f"assigned {step.title!r} to role {action['role']}"


def _extend(action, c: Context) -> str:
    step = _target_step(c)
    _steps.step_extend(step=step, hours=action["hours"], actor=f"rule: {c.rule.name}", at=c.at)
    return f"extended {step.title!r} by {action['hours']} h"


def _tag(action, c: Context) -> str:
    if c.customer is None:
        return "not tagged: no customer"
    identity = customer_selectors.customer_identities(customer=c.customer).first()
    if identity is None:
        return "not tagged: the customer has no identifier"
    # stamped at the profile's last-seen time: a tag is not the customer's activity, so their
    # first/last-seen span must not widen
    update = customer_services.ProfileUpdate(
        keys=((identity.kind, identity.value),), at=c.customer.last_seen_at or c.at,
        traits={action["trait"]: action["value"]}, source="workflow rule",
    )  # fmt: skip
    with transaction.atomic():
        customer_services.profiles_apply(workspace=c.workspace, updates=[update])
    return f"set {action['trait']} = {action['value']}"


def _add_to_segment(action, c: Context) -> str:
    if c.customer is None:
        return "not added: no customer"
    from cxloop.segments import selectors as segment_selectors
    from cxloop.segments import services as segment_services

    segment = segment_selectors.segment_get(workspace=c.workspace, segment_id=action["segment_id"])
    if segment is None:
        return "not added: the segment was deleted"
    added = segment_services.segment_member_add(
        segment=segment, customer_id=c.customer.pk, source=f"rule: {c.rule.name}", at=c.at
    )
    return f"added to {segment.name!r}" if added else f"already added to {segment.name!r}"


def _email(action, c: Context) -> str:
    facts = {**(_runs.run_facts(c.run) if c.run else {}), **c.facts}
    if c.customer is not None:
        facts.setdefault("customer.name", str(c.customer))
    subject = fill(action["subject"], facts).replace("\n", " ")[:200]
    body = fill(action["body"], facts)
    if action["to"] == "customer":
        why_not = _runs.email_customer(customer=c.customer, subject=subject, body=body)
        return f"not sent: {why_not}" if why_not else f"sent {subject!r} to the customer"
    validate_email(action["to"])
    from django.conf import settings
    from django.core.mail import EmailMultiAlternatives

    EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, [action["to"]]).send()
    return f"sent {subject!r} to {action['to']}"


def _webhook(action, c: Context) -> str:
    body = orjson.dumps(
        {"rule": c.rule.pk, "rule_name": c.rule.name, "trigger": c.rule.trigger,
         "run": c.run.pk if c.run else None, "facts": c.facts},
        default=str,
    )  # fmt: skip
    if c.firing is None:
        return "not sent: no firing to attach the delivery to"
    c.delivery = _webhooks.delivery_create(firing=c.firing, url=action["url"], body=body, at=c.at)
    return f"queued (delivery #{c.delivery.pk})"


def _notify(action, c: Context) -> str:
    if action.get("user_id"):
        found = core_selectors.member_get(workspace=c.workspace, user_id=action["user_id"])
        users = [found.user] if found else []
    else:
        users = [
            m.user
            for m in core_selectors.members(workspace=c.workspace).filter(role=action["role"])
        ]
    text = fill(action["text"], {**(_runs.run_facts(c.run) if c.run else {}), **c.facts})[:500]
    Notice.objects.bulk_create(
        Notice(workspace=c.workspace, user=u, text=text, run=c.run, created_at=c.at) for u in users
    )
    return f"notified {len(users)} member(s)" if users else "not notified: nobody matched"


ACTIONS = {
    "start_workflow": _start_workflow,
    "assign": _assign,
    "extend_deadline": _extend,
    "tag_customer": _tag,
    "add_to_segment": _add_to_segment,
    "send_email": _email,
    "webhook": _webhook,
    "notify": _notify,
}
