"""Which survey responses a journey touchpoint stands for (re-exported by ``selectors``).

A response is about an event: its ``touchpoint`` names the event and its ``channel`` is the
event's channel, and the event itself (for its properties) is *the event behind it*: its
invitation's event, else the customer's latest event of that name (on that channel when the
response has one) at or before the response was started. A response belongs to a touchpoint
when one of the touchpoint's rules matches that event, tested by the journey walk's own matcher
(``analytics.journeywalk.matching_hits``: name, channel and every property condition, as the
map counts events at the touchpoint), or when its ``touchpoint`` is the touchpoint's own name
(the channel matching when a rule names one). A rule with property conditions needs the event
behind the response: a response without one (no customer, no such event before it) never
matches it. The map's per-touchpoint CSAT and NPS (``selectors.touchpoint_feedback``) and the
text pages' responses of one touchpoint (:func:`touchpoint_response_ids`, which reads the name
and channel tests of rules without conditions in SQL) both follow this.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import NamedTuple

from django.db.models import Q, QuerySet

from cxloop.analytics.journeywalk import TouchpointRules, matching_hits
from cxloop.core.db import IN_CHUNK, chunked
from cxloop.core.models import Workspace
from cxloop.events import selectors as event_selectors
from cxloop.feedback import selectors as feedback_selectors
from cxloop.journeys.definitions import RuleSpec, parse_rule
from cxloop.journeys.models import Rule, Stage, Touchpoint

RESPONSE_CHUNK = 5000  # responses matched at a time (their events are read per chunk)


class TouchpointChoiceError(LookupError):
    """A touchpoint chosen by id that is not in the workspace."""


class TouchpointResponses(NamedTuple):
    touchpoint: Touchpoint
    response_ids: QuerySet  # flat response ids: a subquery for ``pk__in``


def rule_spec(rule: Rule) -> RuleSpec:
    """A stored rule as the walk and the pages use it."""
    return parse_rule(
        {"event": rule.event, "channel": rule.channel, "conditions": rule.conditions}, "rule"
    )


def touchpoint_choices(*, workspace: Workspace) -> list[tuple[str, list[tuple[int, str]]]]:
    """("journey · stage", [(touchpoint id, name)]) in map order, for filter menus; stages
    without touchpoints are left out."""
    stages = (
        Stage.objects.filter(journey__workspace=workspace)
        .select_related("journey")
        .prefetch_related("touchpoints")
        .order_by("journey__name", "journey_id", "position")
    )
    found = []
    for stage in stages:
        points = sorted(stage.touchpoints.all(), key=lambda t: (t.position, t.pk))
        if points:
            found.append((f"{stage.journey.name} · {stage.name}", [(t.pk, t.name) for t in points]))
    return found


def touchpoint_response_ids(
    *,
    workspace: Workspace,
    touchpoint_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> TouchpointResponses:
    """The touchpoint ``touchpoint_id`` and the ids of the completed responses tied to it (none
    when it has no rules; submitted in [since, until) when given). Raises
    :class:`TouchpointChoiceError` when the workspace has no such touchpoint."""
    touchpoint = (
        Touchpoint.objects.filter(stage__journey__workspace=workspace, pk=touchpoint_id)
        .select_related("stage__journey")
        .first()
    )
    if touchpoint is None:
        raise TouchpointChoiceError(f"no touchpoint {touchpoint_id} in this workspace")
    rules = [rule_spec(rule) for rule in Rule.objects.filter(touchpoint=touchpoint)]
    responses = feedback_selectors.workspace_responses(workspace=workspace).filter(completed=True)
    if since is not None:
        responses = responses.filter(submitted_at__gte=since)
    if until is not None:
        responses = responses.filter(submitted_at__lt=until)
    # what the matcher tests for a rule without conditions (the name and channel the response
    # gives) is read in SQL; only the responses a rule's conditions decide go through it
    plain = Q(pk__in=[])
    for rule in rules:
        for name in {touchpoint.name} if rule.conditions else {rule.event, touchpoint.name}:
            plain |= (
                Q(touchpoint=name, channel=rule.channel) if rule.channel else Q(touchpoint=name)
            )
    ids: list[int] = []
    if with_conditions := [rule for rule in rules if rule.conditions]:
        tied = responses_by_touchpoint(
            workspace=workspace,
            points=[(touchpoint, with_conditions)],
            responses=responses.exclude(plain),
            fields=("pk",),
        )
        ids = [pk for (pk,), _ in tied]
    found = responses.filter(plain | Q(pk__in=ids))
    return TouchpointResponses(touchpoint, found.values_list("pk", flat=True))


class _Asked(NamedTuple):
    """What a response says about the event it is about (the first fields read per response)."""

    pk: int
    customer_id: int | None
    started_at: datetime
    touchpoint: str
    channel: str
    invited_event_id: int | None  # its invitation's event


_ASKED = ("pk", "customer_id", "started_at", "touchpoint", "channel", "invitation__event_id")


def responses_by_touchpoint(
    *,
    workspace: Workspace,
    points: Sequence[tuple[Touchpoint, Sequence[RuleSpec]]],
    responses: QuerySet,
    fields: Sequence[str],
) -> Iterator[tuple[tuple, list[int]]]:
    """For each completed response of ``responses`` tied to any of ``points`` (touchpoints with
    their rules; see the module's docstring): its ``fields`` and the ids of those touchpoints."""
    keys: list[int] = []
    full: list[TouchpointRules] = []  # every rule, for responses with their event's properties
    bare: list[TouchpointRules] = []  # the rules that test no property, for responses without
    for touchpoint, rules in points:
        if not rules:
            continue
        channels = dict.fromkeys(rule.channel for rule in rules)
        named = tuple(RuleSpec(event=touchpoint.name, channel=channel) for channel in channels)
        plain = tuple(rule for rule in rules if not rule.conditions)
        keys.append(touchpoint.pk)
        full.append(TouchpointRules(key=str(touchpoint.pk), stage=0, rules=(*rules, *named)))
        bare.append(TouchpointRules(key=str(touchpoint.pk), stage=0, rules=(*plain, *named)))
    if not keys:
        return
    names = sorted({rule.event for point in full for rule in point.rules})
    with_conditions = {rule.event for _, rules in points for rule in rules if rule.conditions}
    rows = (
        responses.filter(completed=True, touchpoint__in=names)
        .values_list(*_ASKED, *fields)
        .iterator(chunk_size=RESPONSE_CHUNK)
    )
    width = len(_ASKED)
    for chunk in chunked(rows, RESPONSE_CHUNK):
        asked = [_Asked(*row[:width]) for row in chunk]
        behind = _event_properties(workspace, [a for a in asked if a.touchpoint in with_conditions])
        # the walk's matcher, on one row per response (its index where the walk has a customer):
        # the response's event name and channel, and the properties of the event behind it
        with_event = [
            (i, a.started_at, a.touchpoint, a.channel, behind[a.pk])
            for i, a in enumerate(asked)
            if a.pk in behind
        ]
        without = [
            (i, a.started_at, a.touchpoint, a.channel, None)
            for i, a in enumerate(asked)
            if a.pk not in behind
        ]
        hits = matching_hits(with_event, full) | matching_hits(without, bare)
        for i, row in enumerate(chunk):
            if i in hits:
                yield row[width:], sorted({keys[index] for _, index in hits[i]})


def _event_properties(workspace: Workspace, asked: list[_Asked]) -> dict[int, object]:
    """The properties of the event behind each of these responses that has one, by response id:
    its invitation's event when that has the response's event name, else the customer's latest
    event of that name (on the response's channel when it has one) at or before it started."""
    found: dict[int, object] = {}
    events = event_selectors.workspace_events(workspace=workspace)
    invited: dict[int, tuple[str, object]] = {}
    wanted = sorted({a.invited_event_id for a in asked if a.invited_event_id is not None})
    for ids in chunked(wanted, IN_CHUNK):
        for pk, name, props in events.filter(pk__in=ids).values_list("pk", "name", "properties"):
            invited[pk] = (name, props)
    rest = []
    for a in asked:
        event = invited.get(a.invited_event_id) if a.invited_event_id is not None else None
        if event is not None and event[0] == a.touchpoint:
            found[a.pk] = event[1]
        elif a.customer_id is not None:
            rest.append(a)
    if not rest:
        return found
    # each customer's events of these names up to their last response, in time order
    timelines: dict[tuple[int | None, str], list[tuple[datetime, int, str, object]]] = {}
    names = sorted({a.touchpoint for a in rest})
    latest = max(a.started_at for a in rest)
    for customers in chunked(sorted({a.customer_id for a in rest}), IN_CHUNK):
        rows = events.filter(
            customer_id__in=customers, name__in=names, occurred_at__lte=latest
        ).values_list("customer_id", "name", "occurred_at", "pk", "channel", "properties")
        for customer_id, name, at, pk, channel, props in rows:
            timelines.setdefault((customer_id, name), []).append((at, pk, channel, props))
    for timeline in timelines.values():
        timeline.sort(key=lambda event: event[:2])
    for a in rest:
        timeline = timelines.get((a.customer_id, a.touchpoint), [])
        end = bisect_right(timeline, a.started_at, key=lambda event: event[0])
        for _, _, channel, props in reversed(timeline[:end]):  # the latest first
            if not a.channel or channel == a.channel:
                found[a.pk] = props
                break
    return found
