"""The triggers the worker's cycle evaluates (``workflows_cycle``, every minute): a customer
entering or leaving a saved segment, a metric over a trailing window crossing a threshold, and
schedules ("N days after the customer's last reply", "every day at 09:00").

Nothing is kept in memory between rounds. A segment rule keeps who it last saw inside
(:class:`RuleMember`, one row per customer with a count of changes); a metric rule keeps whether
the metric is out of range and how often it crossed (``Rule.state``); a schedule keeps the time
it has looked up to (``Rule.state["cursor"]``). Each transition or occurrence names the firing's
subject (``entered:<segment>:<customer>:<change>``, ``metric:<crossing>``,
``after_reply:<response>``, ``daily:<date>``), and the state moves in the same transaction that
claims the firing: a round that dies half way, or runs twice, never fires twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef
from django.utils import timezone

from cxloop.core.models import Workspace
from cxloop.customers import selectors as customer_selectors
from cxloop.feedback import selectors as feedback_selectors
from cxloop.workflows import _actions, _rules
from cxloop.workflows._calendar import calendar_definition
from cxloop.workflows._facts import ExtraFacts, wants_extra
from cxloop.workflows._predictions import Predictions, wants_predictions
from cxloop.workflows.definition import DefinitionError
from cxloop.workflows.models import (
    FiringStatus,
    Rule,
    RuleMember,
    StepInstance,
    StepStatus,
    Trigger,
)
from cxloop.workflows.ruledefs import DIRECTIONS, METRICS, conditions_check

log = logging.getLogger(__name__)
SEGMENT_TRIGGERS = (Trigger.SEGMENT_ENTERED, Trigger.SEGMENT_LEFT)
SCAN_BATCH = 1000  # schedule occurrences per rule per round; the rest wait for the next
MAX_REPLAY_DAYS = 92  # a segment replay computes one membership per day
# what "test against history" can and cannot rebuild, shown next to its result
_SEGMENT_NOTE = (
    "Replayed day by day: who matched the segment at the end of each day. Trait conditions use "
    "today's traits (their past values are not kept), stage and prediction conditions today's "
    "stage and score, and event conditions count events up to today, so a segment defined by "
    "them shows fewer changes than really happened; score conditions replay as they were."
)
REPLAY_NOTES: dict[str, str] = {
    Trigger.SEGMENT_ENTERED: _SEGMENT_NOTE,
    Trigger.SEGMENT_LEFT: _SEGMENT_NOTE,
    Trigger.METRIC_CROSSED: "Replayed at the end of each day: the metric over the trailing "
    "window then, starting from whether it was out of range at the start.",
    Trigger.SCHEDULE: "Replayed from the stored replies and steps: each occurrence that fell due "
    "in the window.",
}


def _segments():
    """The segments app's selectors, imported when first needed: they load journeys and their
    statistics, which a worker's start (every process loading this app) need not pay for."""
    from cxloop.segments import selectors

    return selectors


def _live_rules(*triggers: str):
    return (
        Rule.objects.filter(trigger__in=triggers, active=True)
        .select_related("workspace")
        .order_by("pk")
    )


def _carry_out(rule: Rule, firing, customer, facts: Mapping[str, Any], at: datetime) -> None:
    if firing is not None and firing.status == FiringStatus.ACTING:
        context = _actions.Context(
            rule.workspace, customer, None, None, dict(facts), [rule.pk], rule, at, firing
        )
        _rules.firing_carry_out(firing=firing, context=context)


# ------------------------------------------------------------------ segments


def _members(workspace: Workspace, segment_id: int, now: datetime | None) -> set[int]:
    return set(_segments().segment_member_ids(workspace=workspace, segment_id=segment_id, now=now))


def _segment_facts(segment, customer, predictions, extra=None) -> dict[str, Any]:
    facts = {"segment": segment.pk, "segment_name": segment.name, **_rules._traits(customer)}
    if predictions is not None and customer is not None:
        facts.update(predictions.facts(customer))
    if extra is not None:  # the customer's segments and stages, when the rule names them
        facts.update(extra.facts(customer, facts))
    return facts


def _flip(rule: Rule, member: RuleMember | None, customer_id: int, inside: bool, at) -> RuleMember:
    if member is None:
        return RuleMember.objects.create(
            rule=rule, customer_id=customer_id, inside=inside, changes=1, changed_at=at
        )
    member.inside, member.changes, member.changed_at = inside, member.changes + 1, at
    member.save(update_fields=["inside", "changes", "changed_at"])
    return member


def rules_scan_segments(*, now: datetime | None = None) -> int:
    """Fire segment rules for customers who entered or left since the last round. A rule's
    first round notes who is in without firing (they did not just enter). Returns firings."""
    at = now or timezone.now()
    made = 0
    memberships: dict[int, set[int]] = {}  # rules watching one segment share its membership
    for rule in _live_rules(*SEGMENT_TRIGGERS):
        workspace = rule.workspace
        segment = _segments().segment_get(
            workspace=workspace, segment_id=int(rule.params.get("segment_id") or 0)
        )
        if segment is None:
            continue
        try:
            if segment.pk not in memberships:
                memberships[segment.pk] = _members(workspace, segment.pk, now)
            current = memberships[segment.pk]
        except _segments().SegmentChoiceError as exc:
            log.warning("rule %s: %s", rule.pk, exc)
            continue
        known = {m.customer_id: m for m in RuleMember.objects.filter(rule=rule)}
        if not rule.state.get("primed"):
            with transaction.atomic():
                RuleMember.objects.bulk_create(
                    [RuleMember(rule=rule, customer_id=c, changed_at=at) for c in sorted(current)],
                    ignore_conflicts=True,
                )
                Rule.objects.filter(pk=rule.pk).update(state={**rule.state, "primed": True})
            continue
        entered = sorted(c for c in current if c not in known or not known[c].inside)
        left = sorted(c for c, m in known.items() if m.inside and c not in current)
        watched, other = (
            (entered, left) if rule.trigger == Trigger.SEGMENT_ENTERED else (left, entered)
        )
        with transaction.atomic():  # the changes this rule does not fire on: noted only
            for cid in other:
                _flip(rule, known.get(cid), cid, cid in current, at)
        customers = {
            c.pk: c
            for c in customer_selectors.customers_by_ids(workspace=workspace, ids=set(watched))
        }
        predictions = Predictions(workspace) if wants_predictions(rule.conditions) else None
        extra = ExtraFacts(workspace, rule.conditions) if wants_extra(rule.conditions) else None
        verb = "entered" if rule.trigger == Trigger.SEGMENT_ENTERED else "left"
        for cid in watched:
            customer = customers.get(cid)
            if customer is not None and customer.merged_into_id is not None:
                customer = None  # merged into another profile: it left as a tombstone, no one left
            facts = _segment_facts(segment, customer, predictions, extra)
            held, why = conditions_check(rule.conditions, facts)
            firing = None
            with transaction.atomic():
                member = _flip(rule, known.get(cid), cid, cid in current, at)
                if held and customer is not None:
                    firing = _rules.firing_claim(
                        rule=rule, subject=f"{verb}:{segment.pk}:{cid}:{member.changes}",
                        why=f"{verb} segment {segment.name!r}; {why}", facts=facts,
                        customer=customer, at=at,
                    )  # fmt: skip
            made += firing is not None
            _carry_out(rule, firing, customer, facts, at)
    return made


# ------------------------------------------------------------------ metrics


def metric_value(
    workspace: Workspace, params: Mapping[str, Any], end: datetime
) -> tuple[float | None, int]:
    """The rule's metric over the ``days`` before ``end``."""
    # imported here: the metrics selectors pull in text analytics, which every process that
    # loads the workflows app (each worker's start) need not pay for
    from cxloop.metrics import selectors as metric_selectors

    return metric_selectors.metric_window(
        workspace=workspace, metric=params["metric"], start=end - timedelta(days=params["days"]),
        end=end, survey_id=params.get("survey_id"), event=params.get("event", ""),
    )  # fmt: skip


Band = tuple[float, float, float, float] | None  # usual range: centre, spread, low, high


def metric_band(workspace: Workspace, params: Mapping[str, Any], end: datetime) -> Band:
    """The usual range of a rule's metric at ``end`` (``bound`` "usual"): from its values over
    the ``periods`` windows of ``days`` just before the current one (``[end − (i+1)·days,
    end − i·days)``, i = 1…periods); None for a fixed bound or too little history."""
    if params.get("bound") != "usual":
        return None
    from cxloop.metrics import selectors as metric_selectors

    days = timedelta(days=params["days"])
    earlier = [metric_value(workspace, params, end - i * days)[0]
               for i in range(1, int(params["periods"]) + 1)]  # fmt: skip
    return metric_selectors.usual_range(
        [v for v in earlier if v is not None], k=float(params["k"]), method=params["method"]
    )


def _outside(params: Mapping[str, Any], value: float, band: Band = None) -> bool:
    if params.get("bound") == "usual":
        if band is None:
            return False
        low, high = band[2], band[3]
    else:
        low = high = float(params["threshold"])
    if params["direction"] == "below":
        return value < low
    if params["direction"] == "above":
        return value > high
    return value < low or value > high


def _metric_facts(params: Mapping[str, Any], value: float, n: int, band: Band = None) -> dict:
    facts = {"metric": params["metric"], "value": round(value, 2),
             "threshold": params.get("threshold"), "window": params["days"], "n": n,
             "survey": params.get("survey_id")}  # fmt: skip
    if band is not None:
        facts.update(low=round(band[2], 2), high=round(band[3], 2))
    return facts


def _metric_why(params: Mapping[str, Any], value: float, n: int, band: Band = None) -> str:
    what = METRICS.get(params["metric"], params["metric"])
    now = f"{what} over the last {params['days']} days = {value:.1f} (n = {n})"
    if band is None:
        return f"{now} {DIRECTIONS[params['direction']]} {params['threshold']:g}"
    centre, spread, low, high = band
    side = "below" if value < low else "above"
    how = "mean" if params.get("method") != "mad" else "median"
    unit = "sd" if params.get("method") != "mad" else "× 1.4826 MAD"
    return (f"{now} is {side} its usual range {low:.1f} to {high:.1f} ({how} {centre:.1f} "
            f"± {params['k']:g} {unit} {spread:.1f}, from the {params['periods']} windows of "
            f"{params['days']} days before)")  # fmt: skip


def rules_scan_metrics(*, now: datetime | None = None) -> int:
    """Fire metric rules whose metric went out of range since the last round: once per
    crossing; the rule re-arms when the metric comes back. Returns firings."""
    at = now or timezone.now()
    made = 0
    for rule in _live_rules(Trigger.METRIC_CROSSED):
        value, n = metric_value(rule.workspace, rule.params, at)
        if value is None:  # nothing to measure in the window: no change of state
            continue
        band = metric_band(rule.workspace, rule.params, at)
        if rule.params.get("bound") == "usual" and band is None:
            continue  # too little history for a usual range yet
        outside = _outside(rule.params, value, band)
        state = dict(rule.state)
        if outside == bool(state.get("outside")):
            continue
        state.update(outside=outside, value=value, changed_at=at.isoformat())
        facts = _metric_facts(rule.params, value, n, band)
        firing = None
        with transaction.atomic():
            if outside:
                state["crossings"] = int(state.get("crossings", 0)) + 1
            Rule.objects.filter(pk=rule.pk).update(state=state)
            held, why = conditions_check(rule.conditions, facts)
            if outside and held:
                firing = _rules.firing_claim(
                    rule=rule, subject=f"metric:{state['crossings']}", facts=facts, at=at,
                    why=f"{_metric_why(rule.params, value, n, band)}; {why}",
                )  # fmt: skip
        made += firing is not None
        _carry_out(rule, firing, None, facts, at)
    return made


# ------------------------------------------------------------------ schedules


def _plus(field: str, delta: timedelta) -> ExpressionWrapper:
    return ExpressionWrapper(OuterRef(field) + delta, output_field=DateTimeField())


def _newer_reply(workspace: Workspace, customer: str, since: str, delta: timedelta):
    return feedback_selectors.workspace_responses(workspace=workspace).filter(
        completed=True, customer=OuterRef(customer), submitted_at__gt=OuterRef(since),
        submitted_at__lte=_plus(since, delta),
    )  # fmt: skip


def occurrences(
    workspace: Workspace, params: Mapping[str, Any], after: datetime, until: datetime
) -> Iterator[tuple[str, datetime, Any, dict[str, Any]]]:
    """(subject, when due, customer, facts) of each occurrence of a schedule due in
    ``(after, until]``, in order of when due."""
    kind = params["schedule"]
    if kind == "daily":
        calendar = calendar_definition(workspace_id=workspace.pk)
        zone_name = calendar["zone"] if calendar else "UTC"
        zone = ZoneInfo(zone_name)
        at = time.fromisoformat(params["time"])
        day = after.astimezone(zone).date()
        while (moment := datetime.combine(day, at, zone)) <= until:
            if moment > after:
                facts = {"schedule": kind, "date": day.isoformat(), "time": params["time"],
                         "zone": zone_name}  # fmt: skip
                yield f"daily:{day.isoformat()}", moment.astimezone(UTC), None, facts
            day += timedelta(days=1)
        return
    delta = timedelta(days=params["days"])
    if kind == "after_reply":
        replies = (
            feedback_selectors.workspace_responses(workspace=workspace)
            .filter(
                completed=True,
                customer__isnull=False,
                submitted_at__gt=after - delta,
                submitted_at__lte=until - delta,
            )
            .exclude(Exists(_newer_reply(workspace, "customer", "submitted_at", delta)))
            .select_related("customer", "survey")
            .order_by("submitted_at", "pk")
        )
        for reply in replies[:SCAN_BATCH]:
            replied = reply.submitted_at or after  # completed replies have a time
            facts = {"schedule": kind, "days": params["days"], "survey": reply.survey_id,
                     "nps": reply.nps_score, "reply_at": replied.isoformat(),
                     **_rules._traits(reply.customer)}  # fmt: skip
            yield f"after_reply:{reply.pk}", replied + delta, reply.customer, facts
        return
    steps = (
        StepInstance.objects.filter(
            run__workspace=workspace,
            status=StepStatus.DONE,
            run__customer__isnull=False,
            completed_at__gt=after - delta,
            completed_at__lte=until - delta,
        )
        .exclude(Exists(_newer_reply(workspace, "run__customer", "completed_at", delta)))
        .select_related("run", "run__customer")
        .order_by("completed_at", "pk")
    )
    if params.get("template_id"):
        steps = steps.filter(run__template_id=params["template_id"])
    if params.get("step"):
        steps = steps.filter(key=params["step"])
    for step in steps[:SCAN_BATCH]:
        facts = {"schedule": kind, "days": params["days"], "template": step.run.template_id,
                 "step": step.key, **_rules._traits(step.run.customer)}  # fmt: skip
        due = (step.completed_at or after) + delta
        yield f"after_step:{step.pk}", due, step.run.customer, facts


def rules_scan_schedules(*, now: datetime | None = None) -> int:
    """Fire schedule rules for what fell due since each rule's cursor (a daily schedule fires
    for its latest due day only: a worker down for days does not send a backlog of mornings).
    Returns firings."""
    at = now or timezone.now()
    made = 0
    for rule in _live_rules(Trigger.SCHEDULE):
        cursor_text = rule.state.get("cursor")
        cursor = datetime.fromisoformat(cursor_text) if cursor_text else at
        found = list(occurrences(rule.workspace, rule.params, cursor, at))
        if rule.params.get("schedule") == "daily":
            found = found[-1:]
        for subject, _due, customer, facts in found:
            made += len(
                _rules.rules_fire(
                    workspace_id=rule.workspace_id, trigger=rule.trigger, facts=facts,
                    subject=subject, customer=customer, at=at, rules=[rule],
                )
            )  # fmt: skip
        # a full batch: carry on from the last one due (the rest are due later than it)
        upto = found[-1][1] if len(found) >= SCAN_BATCH else at
        Rule.objects.filter(pk=rule.pk).update(state={**rule.state, "cursor": upto.isoformat()})
    return made


# ------------------------------------------------------------------ replay over history


def _days(start: datetime, end: datetime) -> Iterator[datetime]:
    moment = start + timedelta(days=1)
    while moment <= end:
        yield moment
        moment += timedelta(days=1)


def replay(
    workspace: Workspace, trigger: str, params: Mapping[str, Any], start: datetime, end: datetime
) -> Iterator[tuple[str, datetime, Any, dict[str, Any]]]:
    """What the cycle would have seen over ``[start, end)``, as ``(subject, when, customer,
    facts)`` of each transition, crossing or occurrence (see ``REPLAY_NOTES``)."""
    if trigger in SEGMENT_TRIGGERS:
        yield from _replay_segment(workspace, trigger, params, start, end)
    elif trigger == Trigger.METRIC_CROSSED:
        outside = None
        crossings = 0
        for moment in [start, *_days(start, end)]:
            value, n = metric_value(workspace, params, moment)
            if value is None:
                continue
            band = metric_band(workspace, params, moment)
            if params.get("bound") == "usual" and band is None:
                continue
            now_outside = _outside(params, value, band)
            if outside is not None and now_outside and not outside:
                crossings += 1
                facts = _metric_facts(params, value, n, band)
                why = _metric_why(params, value, n, band)
                yield f"metric:{crossings} ({why})", moment, None, facts
            outside = now_outside
    else:
        tick = timedelta(microseconds=1)
        yield from occurrences(workspace, params, start - tick, end - tick)


def _replay_segment(workspace, trigger, params, start, end):
    if end - start > timedelta(days=MAX_REPLAY_DAYS):
        raise DefinitionError(
            [f"end: a segment rule replays at most {MAX_REPLAY_DAYS} days (one membership a day)"]
        )
    segment = _segments().segment_get(
        workspace=workspace, segment_id=int(params.get("segment_id") or 0)
    )
    if segment is None:
        raise DefinitionError([f"segment: no saved segment {params.get('segment_id')} here"])
    try:
        before = _members(workspace, segment.pk, start)
    except _segments().SegmentChoiceError as exc:
        raise DefinitionError([f"segment: {exc}"]) from exc
    verb = "entered" if trigger == Trigger.SEGMENT_ENTERED else "left"
    for moment in _days(start, end):
        after = _members(workspace, segment.pk, moment)
        changed = sorted(after - before if verb == "entered" else before - after)
        customers = customer_selectors.customers_by_ids(workspace=workspace, ids=set(changed))
        for customer in sorted(customers, key=lambda c: c.pk):
            facts = _segment_facts(segment, customer, None)
            yield f"{verb}:{segment.pk}:{customer.pk}", moment, customer, facts
        before = after
