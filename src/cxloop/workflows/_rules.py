"""Rules: WHEN a trigger happens, IF its conditions hold on the facts, THEN run the actions.

Every firing is a :class:`RuleFiring` row holding why it fired and what each action did; the
row is claimed before the actions run (unique per rule and subject), so a retried reaction never
acts twice. A rule fired by the actions of a chain already ``MAX_DEPTH`` firings deep is stopped
and logged (``loop_stopped``): two rules that keep starting each other's workflows end there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.db import IntegrityError, transaction
from django.utils import timezone

from cxloop.core.models import Workspace
from cxloop.customers import selectors as customer_selectors
from cxloop.events import selectors as event_selectors
from cxloop.feedback import selectors as feedback_selectors
from cxloop.workflows import _runs, _webhooks
from cxloop.workflows._actions import Context, act
from cxloop.workflows._facts import ExtraFacts, rule_choices, wants_extra
from cxloop.workflows._predictions import Predictions, wants_predictions
from cxloop.workflows.definition import DefinitionError, _text
from cxloop.workflows.models import (
    FiringStatus,
    Rule,
    RuleFiring,
    RuleMember,
    StepInstance,
    Trigger,
    WorkflowRun,
    WorkflowTemplate,
)
from cxloop.workflows.ruledefs import (
    actions_validate,
    conditions_check,
    conditions_validate,
    describe_action,
    params_validate,
)

log = logging.getLogger(__name__)
MAX_DEPTH = 3  # a firing caused by a chain of this many firings is stopped as a loop
# a firing still acting this long after its last action is taken as lost (its worker died)
LEASE = timedelta(minutes=2)
EVENT_SCAN_BATCH = 1000


# ------------------------------------------------------------------ rule writes


def _clean(
    workspace: Workspace, name: Any, trigger: Any, conditions: Any, actions: Any, params: Any
):
    errors: list[str] = []
    name = _text(name, "name", errors, high=120)
    if trigger not in Trigger.values:
        errors.append(f"trigger: {trigger!r} is not one of {', '.join(Trigger.values)}")
        raise DefinitionError(errors)
    template_ids = set(
        WorkflowTemplate.objects.filter(workspace=workspace).values_list("pk", flat=True)
    )
    from cxloop.segments import selectors as segment_selectors  # heavy: only when saving a rule

    segments = set(segment_selectors.segment_list(workspace=workspace).values_list("pk", flat=True))
    surveys = set(
        feedback_selectors.workspace_surveys(workspace=workspace).values_list("pk", flat=True)
    )
    named = conditions if isinstance(conditions, list) else []
    choices = (
        rule_choices(workspace) if wants_extra([c for c in named if isinstance(c, dict)]) else None
    )
    cleaned: list[Any] = []
    for check in (
        lambda: conditions_validate(trigger, conditions, choices=choices),
        lambda: actions_validate(trigger, actions, template_ids=template_ids, segment_ids=segments),
        lambda: params_validate(
            trigger, params, template_ids=template_ids, segment_ids=segments, survey_ids=surveys
        ),
    ):
        try:
            cleaned.append(check())
        except DefinitionError as exc:
            errors.extend(exc.errors)
    if errors:
        raise DefinitionError(errors)
    return name, *cleaned


def _fresh_state(at: datetime) -> dict:
    """A cycle-evaluated trigger starts from here: a schedule counts occurrences due after
    ``at``; a segment rule's first round only notes who is in; a metric starts in range."""
    return {"cursor": at.isoformat()}


def rule_create(
    *, workspace: Workspace, name: str, trigger: str, conditions: Sequence[Any],
    actions: Sequence[Any], active: bool = False, params: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> Rule:  # fmt: skip
    """A rule, validated (DefinitionError names each bad field). An event rule starts reading
    events from now, a schedule counts what falls due from ``at`` (now): the past is what "test
    against history" is for."""
    name, conditions, actions, params = _clean(
        workspace, name, trigger, conditions, actions, params
    )
    return Rule.objects.create(
        workspace=workspace, name=name, trigger=trigger, conditions=conditions, actions=actions,
        active=active, event_cursor=event_selectors.latest_event_id(workspace_id=workspace.pk),
        params=params, state=_fresh_state(at or timezone.now()),
    )  # fmt: skip


def rule_update(
    *, rule: Rule, name: str, trigger: str, conditions: Sequence[Any], actions: Sequence[Any],
    active: bool, params: Mapping[str, Any] | None = None, at: datetime | None = None,
) -> Rule:  # fmt: skip
    name, conditions, actions, params = _clean(
        rule.workspace, name, trigger, conditions, actions, params
    )
    switched_on = active and not rule.active
    if switched_on:  # from now, not the events while it was off
        rule.event_cursor = event_selectors.latest_event_id(workspace_id=rule.workspace_id)
    if switched_on or trigger != rule.trigger or params != rule.params:
        # what the cycle remembered was about another segment, metric or schedule
        rule.state = _fresh_state(at or timezone.now())
        RuleMember.objects.filter(rule=rule).delete()
    rule.name, rule.trigger, rule.conditions, rule.actions = name, trigger, conditions, actions
    rule.active, rule.params = active, params
    rule.save()
    return rule


def rule_delete(*, rule: Rule) -> None:
    rule.delete()


# ------------------------------------------------------------------ firing


def rules_fire(
    *, workspace_id: int, trigger: str, facts: Mapping[str, Any], subject: str, customer=None,
    chain: Sequence[int] = (), run: WorkflowRun | None = None, step: StepInstance | None = None,
    at: datetime | None = None, rules: Sequence[Rule] | None = None,
) -> list[RuleFiring]:  # fmt: skip
    """Fire every active rule of the workspace listening to ``trigger`` (or just ``rules``)
    whose conditions hold."""
    if rules is None:
        rules = list(Rule.objects.filter(workspace_id=workspace_id, trigger=trigger, active=True))
    if not rules:
        return []
    at = at or timezone.now()
    workspace = rules[0].workspace
    if customer is not None and any(wants_predictions(rule.conditions) for rule in rules):
        facts = {**facts, **Predictions(workspace).facts(customer)}
    named = [c for rule in rules for c in rule.conditions]
    if wants_extra(named):  # segments, stages, text analytics: read only when named
        facts = {**facts, **ExtraFacts(workspace, named).facts(customer, facts)}
    fired = []
    for rule in rules:
        held, why = conditions_check(rule.conditions, facts)
        if not held:
            continue
        firing = firing_claim(
            rule=rule, subject=subject, why=why, facts=facts, customer=customer, chain=chain,
            run=run, step=step, at=at,
        )  # fmt: skip
        if firing is None:  # fired for this subject already (a retry): never twice
            continue
        fired.append(firing)
        if firing.status == FiringStatus.ACTING:
            context = Context(
                workspace, customer, run, step, dict(facts), [*chain, rule.pk], rule, at, firing
            )
            firing_carry_out(firing=firing, context=context)
    return fired


def firing_claim(
    *, rule: Rule, subject: str, why: str, facts: Mapping[str, Any], customer=None,
    chain: Sequence[int] = (), run: WorkflowRun | None = None, step: StepInstance | None = None,
    at: datetime,
) -> RuleFiring | None:  # fmt: skip
    """Claim the firing of ``rule`` on ``subject`` (None when it was claimed before): the row,
    with what its actions need, exists before any action runs, so a retry never acts twice and
    a worker dying mid-way leaves it for :func:`firings_resume`."""
    status = FiringStatus.ACTING
    if len(chain) >= MAX_DEPTH:
        status = FiringStatus.LOOP_STOPPED
        names = dict(Rule.objects.filter(pk__in=chain).values_list("pk", "name"))
        names[rule.pk] = rule.name
        path = " → ".join(names.get(pk, f"#{pk}") for pk in [*chain, rule.pk])
        why = f"{why}. Loop stopped: {path} is {len(chain) + 1} firings deep (limit {MAX_DEPTH})"
    firing = RuleFiring(
        workspace_id=rule.workspace_id, rule=rule, subject=subject[:100], customer=customer,
        status=status, why=why, chain=list(chain), at=at,
        context={"facts": orjson.loads(orjson.dumps(dict(facts), default=str)),
                 "run": run.pk if run else None, "step": step.pk if step else None},
        lease_until=timezone.now() + LEASE if status == FiringStatus.ACTING else None,
    )  # fmt: skip
    try:
        with transaction.atomic():
            firing.save()
    except IntegrityError:
        return None
    if status == FiringStatus.LOOP_STOPPED:
        log.warning("rule %s: %s", rule.pk, why)
    return firing


def firing_carry_out(*, firing: RuleFiring, context: Context) -> None:
    """Run the actions not yet done (all of them, or those after the last one a dead worker
    recorded). Each action's writes and its outcome commit together, so none runs twice; a
    webhook's delivery row commits with it and is sent after (its retries keep its id)."""
    actions = context.rule.actions
    for index in range(len(firing.outcomes), len(actions)):
        action = actions[index]
        context.delivery = None
        try:
            with transaction.atomic():
                outcome = act(action, context)
                firing.outcomes = [*firing.outcomes, outcome]
                firing.lease_until = timezone.now() + LEASE
                if context.run is not None:  # the later actions (after a resume) act on it
                    firing.context = {**(firing.context or {}), "run": context.run.pk}
                firing.save(update_fields=["outcomes", "lease_until", "context"])
        except (_runs.RunError, DefinitionError) as exc:
            outcome = {"action": describe_action(action), "ok": False,
                       "detail": "; ".join(exc.errors)}  # fmt: skip
            firing.outcomes = [*firing.outcomes, outcome]
            firing.save(update_fields=["outcomes"])
        if context.delivery is not None:  # sent once the delivery row is committed
            delivery = _webhooks.delivery_attempt(delivery=context.delivery)
            detail = _webhooks.delivery_outcome(delivery)
            firing.outcomes[-1] = {**firing.outcomes[-1], "detail": detail,
                                   "ok": not detail.startswith("not ")}  # fmt: skip
            firing.save(update_fields=["outcomes"])
    firing.status = (
        FiringStatus.FIRED if all(o["ok"] for o in firing.outcomes) else FiringStatus.PARTIAL
    )
    firing.lease_until = None
    firing.save(update_fields=["status", "lease_until"])


def firings_resume(*, now: datetime | None = None) -> int:
    """Finish the firings whose worker died mid-way (still acting after their lease): each is
    claimed by moving its lease, then its remaining actions run. Returns how many."""
    now = now or timezone.now()
    resumed = 0
    stale = RuleFiring.objects.filter(status=FiringStatus.ACTING, lease_until__lt=now)
    for firing in stale.select_related("rule", "rule__workspace", "customer")[:200]:
        claimed = RuleFiring.objects.filter(
            pk=firing.pk, status=FiringStatus.ACTING, lease_until=firing.lease_until
        ).update(lease_until=now + LEASE)
        if not claimed:
            continue
        saved = firing.context or {}
        run = WorkflowRun.objects.filter(pk=saved["run"]).first() if saved.get("run") else None
        step = StepInstance.objects.filter(pk=saved["step"]).first() if saved.get("step") else None
        context = Context(
            firing.rule.workspace, firing.customer, run, step, dict(saved.get("facts") or {}),
            [*firing.chain, firing.rule_id], firing.rule, firing.at, firing,
        )  # fmt: skip
        log.warning("rule %s: resuming firing %s on %s", firing.rule_id, firing.pk, firing.subject)
        try:
            firing_carry_out(firing=firing, context=context)
        except Exception as exc:  # a bug, not a dead worker: stop, never retry it every lease
            log.exception("rule %s: firing %s failed on resume", firing.rule_id, firing.pk)
            RuleFiring.objects.filter(pk=firing.pk).update(
                status=FiringStatus.PARTIAL, lease_until=None,
                outcomes=[*firing.outcomes, {"action": "resume", "ok": False,
                                             "detail": f"failed: {exc}"[:300]}],
            )  # fmt: skip
        resumed += 1
    return resumed


# ------------------------------------------------------------------ facts of each trigger


def _traits(customer) -> dict[str, Any]:
    traits = customer.traits if customer is not None and isinstance(customer.traits, dict) else {}
    return {f"trait.{k}": v for k, v in traits.items() if not isinstance(v, dict | list)}


def response_facts(response) -> dict[str, Any]:
    return {
        "nps": response.nps_score, "csat": response.csat_score, "ces": response.ces_score,
        "survey": response.survey_id, "survey_name": response.survey.name,
        "channel": response.channel, "source": response.source, "comment": response.comment,
        "response": response.pk, **_traits(response.customer),
    }  # fmt: skip


def event_facts(event, customer) -> dict[str, Any]:
    properties = event.properties if isinstance(event.properties, dict) else {}
    return {
        "event": event.name, "channel": event.channel, "event_id": event.pk,
        **{f"property.{k}": v for k, v in properties.items() if not isinstance(v, dict | list)},
        **_traits(customer),
    }  # fmt: skip


def rules_react_response(
    *, workspace_id: int, response_id: int, at: datetime | None = None
) -> list[RuleFiring]:
    """Fire ``response_received`` rules for one completed response (idempotent); ``at``: when
    (now by default; a history replay gives the response's time)."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return []
    response = (
        feedback_selectors.workspace_responses(workspace=workspace)
        .select_related("survey", "customer")
        .filter(pk=response_id, completed=True)
        .first()
    )
    if response is None:
        return []
    return rules_fire(
        workspace_id=workspace_id, trigger=Trigger.RESPONSE_RECEIVED,
        facts=response_facts(response), subject=f"response:{response.pk}",
        customer=response.customer, at=at,
    )  # fmt: skip


def rules_scan_events(*, workspace: Workspace | None = None) -> int:
    """Fire ``event_received`` rules for events stored since each rule's cursor (pull-based:
    ingestion never waits for rules). Returns how many firings were made."""
    rules = Rule.objects.filter(trigger=Trigger.EVENT_RECEIVED, active=True)
    if workspace is not None:
        rules = rules.filter(workspace=workspace)
    made = 0
    for rule in rules.order_by("pk"):
        name = next(
            c["value"] for c in rule.conditions if c["field"] == "event" and c["op"] == "eq"
        )
        up_to = event_selectors.latest_event_id(workspace_id=rule.workspace_id)
        events = event_selectors.events_after(
            workspace_id=rule.workspace_id, name=str(name), after_id=rule.event_cursor,
            up_to_id=up_to, limit=EVENT_SCAN_BATCH,
        )  # fmt: skip
        customers = {
            c.pk: c
            for c in customer_selectors.customers_by_ids(
                workspace=rule.workspace, ids={e.customer_id for e in events}
            )
        }
        predictions = Predictions(rule.workspace) if wants_predictions(rule.conditions) else None
        extra = (
            ExtraFacts(rule.workspace, rule.conditions) if wants_extra(rule.conditions) else None
        )
        for event in events:
            customer = customers.get(event.customer_id)
            facts = event_facts(event, customer)
            if predictions is not None:
                facts.update(predictions.facts(customer))
            if extra is not None:
                facts.update(extra.facts(customer, facts))
            held, _ = conditions_check(rule.conditions, facts)
            if held:  # fire this rule only: the others keep their own cursors
                made += len(
                    rules_fire(
                        workspace_id=rule.workspace_id, trigger=rule.trigger, facts=facts,
                        subject=f"event:{event.pk}", customer=customer, rules=[rule],
                    )
                )  # fmt: skip
        cursor = events[-1].pk if len(events) == EVENT_SCAN_BATCH else up_to
        Rule.objects.filter(pk=rule.pk).update(event_cursor=cursor)
    return made
