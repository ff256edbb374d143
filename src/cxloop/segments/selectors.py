"""Reads for segments: who is in a segment (live, as ORM queries) and the saved segments."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Case, FloatField, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IsNull,
    LessThan,
    LessThanOrEqual,
    Regex,
)
from django.utils import timezone

from cxloop.analytics import selectors as analytics_selectors
from cxloop.core.models import Workspace
from cxloop.customers import selectors as customer_selectors
from cxloop.events import selectors as event_selectors
from cxloop.feedback import selectors as feedback_selectors
from cxloop.journeys.definitions import Condition
from cxloop.metrics import trends
from cxloop.predict import selectors as predict_selectors
from cxloop.segments import definition as definitions
from cxloop.segments import personas, stages, texts
from cxloop.segments.models import Segment, SegmentCount, SegmentMember

if TYPE_CHECKING:
    from cxloop.customers.models import Customer

_LOOKUPS = {
    "eq": Exact,
    "gt": GreaterThan,
    "gte": GreaterThanOrEqual,
    "lt": LessThan,
    "lte": LessThanOrEqual,
}


def segment_list(*, workspace: Workspace) -> QuerySet[Segment]:
    return Segment.objects.filter(workspace=workspace).order_by("name", "pk")


def segment_counts_kept(*, segments: Sequence[Segment]) -> dict[int, SegmentCount]:
    """The stored counts (``segment_counts_refresh``) of ``segments`` that still stand: counted
    with the definition each segment has now. A segment missing here is to be counted live."""
    ids = [segment.pk for segment in segments]
    kept = {row.segment_id: row for row in SegmentCount.objects.filter(segment_id__in=ids)}
    return {
        segment.pk: kept[segment.pk]
        for segment in segments
        if segment.pk in kept and kept[segment.pk].definition == segment.definition
    }


def segment_get(*, workspace: Workspace, segment_id: int) -> Segment | None:
    return Segment.objects.filter(workspace=workspace, pk=segment_id).first()


def segment_customers(
    *, workspace: Workspace, definition: dict, now: datetime | None = None,
    segment_id: int | None = None, among: Sequence[int] | None = None,
) -> QuerySet[Customer]:  # fmt: skip
    """Live profiles of ``workspace`` matching ``definition`` (validated first), recent first.

    ``now`` anchors "within N days" (default: :func:`segment_as_of`). ``segment_id``: the saved
    segment the definition is of, whose added members (``segment_member_add``) count too. One
    SQL query: conditions become ``EXISTS``/``IN`` subqueries, so it runs on SQLite and
    PostgreSQL alike. ``among``: only these profiles are asked about (a page's), so event
    conditions ask the analytics engine about them alone, not about every customer.
    """
    condition = _definition_q(workspace, definition, now, among)
    if segment_id is not None:
        condition = _with_added(condition, segment_id)
    return _live_matching(workspace, condition, among)


def segment_matches_and_members(
    *, workspace: Workspace, definition: dict, segment_id: int, now: datetime | None = None
) -> tuple[QuerySet[Customer], QuerySet[Customer]]:
    """A saved segment's page: who matches ``definition`` and who is a member (those plus the
    added ones), from one evaluation of its event conditions. When nobody was added, both are
    the same queryset, so a page can count once."""
    condition = _definition_q(workspace, definition, now, None)
    matches = _live_matching(workspace, condition, None)
    if not SegmentMember.objects.filter(segment_id=segment_id).exists():
        return matches, matches
    return matches, _live_matching(workspace, _with_added(condition, segment_id), None)


def _definition_q(
    workspace: Workspace, definition: dict, now: datetime | None, among: Sequence[int] | None
) -> Q:
    cleaned = definitions.definition_validate(definition)
    now = now or segment_as_of(workspace=workspace)
    # every event condition asked of the engine at once (one pass over the events), then
    # each takes its answer in the order the walk below meets them
    tests = [_event_test(c, now) for c in _event_conditions(cleaned)]
    answers = analytics_selectors.customers_with_events(
        workspace=workspace, tests=tests, among=among
    )
    return _group_q(cleaned, workspace, now, iter(answers))


def _with_added(condition: Q, segment_id: int) -> Q:
    if not condition:  # an empty Q matches everyone already; OR-ing into it would keep only
        return condition  # the added members
    added = SegmentMember.objects.filter(segment_id=segment_id).values("customer_id")
    return condition | Q(pk__in=added)


def _live_matching(
    workspace: Workspace, condition: Q, among: Sequence[int] | None
) -> QuerySet[Customer]:
    customers = customer_selectors.live_customers(workspace=workspace)
    if among is not None:  # "did not" conditions hold for everyone the engine was not asked about
        customers = customers.filter(pk__in=list(among))
    return customers.filter(condition).order_by("-last_seen_at", "-pk")


def segment_as_of(*, workspace: Workspace) -> datetime:
    """The time segment windows ("in the last N days") count back from: the workspace's latest
    event (so imported history works), else now; never later than now."""
    latest = event_selectors.event_latest_at(workspace=workspace)
    current = timezone.now()
    return min(latest, current) if latest else current


def segment_customer_ids(
    *, workspace: Workspace, definition: dict, now: datetime | None = None,
    segment_id: int | None = None,
) -> QuerySet:  # fmt: skip
    """The ids of :func:`segment_customers` (for ``pk__in`` subqueries and exports)."""
    return segment_customers(
        workspace=workspace, definition=definition, now=now, segment_id=segment_id
    ).values_list("pk", flat=True)


def segment_count(
    *, workspace: Workspace, definition: dict, now: datetime | None = None,
    segment_id: int | None = None,
) -> int:  # fmt: skip
    """How many live profiles match ``definition`` (or were added to ``segment_id``) now."""
    return segment_customers(
        workspace=workspace, definition=definition, now=now, segment_id=segment_id
    ).count()


def _event_conditions(group: dict) -> list[dict]:
    """The event conditions of ``group``, in the order :func:`_group_q` meets them."""
    found = []
    for item in next(iter(group.values())):
        kind = definitions.condition_kind(item)
        if kind is None:
            found.extend(_event_conditions(item))
        elif kind == "event":
            found.append(item)
    return found


def _group_q(group: dict, workspace: Workspace, now: datetime, answers: Iterator[Any]) -> Q:
    """``answers``: the engine's answer to each event condition, in walk order."""
    mode, items = next(iter(group.items()))
    parts = [
        _group_q(item, workspace, now, answers)
        if definitions.condition_kind(item) is None
        else _condition_q(item, workspace, now, answers)
        for item in items
    ]
    if not parts:
        return Q() if mode == "all" else Q(pk__in=[])
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if mode == "all" else combined | part
    return combined


def _condition_q(condition: dict, workspace: Workspace, now: datetime, answers: Iterator[Any]) -> Q:
    kind = definitions.condition_kind(condition)
    if kind == "trait":
        return _trait_q(condition, workspace)
    if kind == "event":
        matched = Q(pk__in=next(answers))
        return matched if condition["did"] else ~matched
    if kind == "score":
        return _score_q(condition, workspace, now)
    if kind == "prediction":
        return _prediction_q(condition, workspace)
    if kind == "theme":
        return Q(pk__in=texts.theme_customer_ids(workspace=workspace, condition=condition))
    return Q(pk__in=stages.stage_customer_ids(workspace=workspace, condition=condition))


def _trait_q(condition: dict, workspace: Workspace) -> Q:
    key, op, value = condition["trait"], condition["op"], condition["value"]
    field = f"traits__{key}"
    has = Q(traits__has_key=key)
    if op == "exists":
        return has if value else ~has
    if op == "contains":
        return has & Q(**{f"{field}__icontains": value})
    if op in ("eq", "neq"):
        if isinstance(value, str):
            match = Q(**{f"{field}__iexact": value})
            number = definitions._maybe_number(value)
            if number is not value:  # "5" also matches the number 5
                match |= Q(**{field: number})
        else:
            match = Q(**{field: value})
        # "is not" includes customers who have no such trait, or a null one
        return has & match if op == "eq" else ~has | Q(**{field: None}) | (has & ~match)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Q(pk__in=_customers_with_number(workspace, key, op, value))
    return has & Q(**{f"{field}__{op}": value})  # text, e.g. ISO dates, compares as text


_NUMBER_TEXT = r"^\s*-?[0-9]+(\.[0-9]+)?\s*$"


def _customers_with_number(workspace: Workspace, key: str, op: str, value: float) -> QuerySet:
    """Ids of customers whose trait ``key`` is a number (or numeric text) ``op`` ``value``.

    JSON values of other types (text, null, objects) never match: without this guard each
    database orders mixed JSON types its own way (SQLite puts text above numbers, PostgreSQL
    below), so "age > 30" would match "unknown" on one of them.
    """
    text = KeyTextTransform(key, "traits")
    number = Case(
        When(Regex(text, _NUMBER_TEXT), then=Cast(text, FloatField())),
        default=None,
        output_field=FloatField(),
    )
    customers = customer_selectors.live_customers(workspace=workspace)
    return (
        customers.annotate(trait_number=number)
        .filter(**{f"trait_number__{op}": value})
        .values("pk")
    )


def _event_test(condition: dict, now: datetime) -> analytics_selectors.EventTest:
    since = now - timedelta(days=condition["within_days"]) if "within_days" in condition else None
    until = None
    if "date_from" in condition:  # inclusive UTC days
        since = datetime.combine(date.fromisoformat(condition["date_from"]), time(), tzinfo=UTC)
    if "date_to" in condition:
        last = date.fromisoformat(condition["date_to"]) + timedelta(days=1)
        until = datetime.combine(last, time(), tzinfo=UTC)
    return analytics_selectors.EventTest(
        event=condition["event"],
        channel=condition.get("channel", ""),
        since=since,
        until=until,
        min_count=condition.get("min_count", 1),
        conditions=(Condition(**condition["where"]),) if "where" in condition else (),
    )


def _score_q(condition: dict, workspace: Workspace, now: datetime) -> Q:
    """The customer's latest answer of that score (the latest in the window, with
    ``within_days``: answered after ``now`` minus the days and not after ``now``)."""
    column = f"{condition['score']}_score"
    answers = (
        feedback_selectors.workspace_responses(workspace=workspace)
        .filter(customer_id=OuterRef("pk"), **{f"{column}__isnull": False})
        .annotate(answered_at=Coalesce("submitted_at", "started_at"))
    )
    if "within_days" in condition:
        since = now - timedelta(days=condition["within_days"])
        answers = answers.filter(answered_at__gte=since, answered_at__lte=now)
    latest = Subquery(answers.order_by("-answered_at", "-pk").values(column)[:1])
    op, value = condition["op"], condition["value"]
    if op == "neq":
        return Q(IsNull(latest, False)) & ~Q(Exact(latest, value))
    return Q(_LOOKUPS[op](latest, value))


def _prediction_q(condition: dict, workspace: Workspace) -> Q:
    """The customer's latest score compared with the value; never scored (or no churn risk in
    that run): no match."""
    latest = predict_selectors.score_latest_value(
        workspace=workspace, field=condition["prediction"]
    )
    return Q(_LOOKUPS[condition["op"]](latest, condition["value"]))


def personas_compute(
    *,
    workspace: Workspace,
    k: int = 5,
    span: trends.Range | None = None,
    now: datetime | None = None,
) -> personas.PersonaResult:
    """Cluster the customers active in ``span`` into ``k`` named, explained personas, on their
    events in it; recency and tenure are measured up to its end. By default the span is the
    trends' (the last 90 days up to the as-of time, ``now`` deciding what is live)."""
    span = span or trends.trend_range(workspace=workspace, now=now)
    features = personas.persona_features(
        workspace=workspace, now=min(span.until, span.as_of), since=span.since, until=span.until
    )
    result = personas.cluster(features, k=k)
    result.span = span
    personas.add_stages(result, stages.current_stages(workspace=workspace))
    return result


class SegmentChoiceError(ValueError):
    """A segment chosen by id is not in the workspace (``missing``) or its definition no longer
    holds (e.g. it names a deleted journey)."""

    def __init__(self, message: str, *, missing: bool) -> None:
        super().__init__(message)
        self.missing = missing


def segment_member_ids(
    *, workspace: Workspace, segment_id: int, now: datetime | None = None
) -> QuerySet:
    """Ids of the live members of the saved segment ``segment_id`` (a subquery, for filters).

    The one way pages and API routes turn a chosen segment into customers; raises
    :class:`SegmentChoiceError` when there is no such segment or it no longer makes sense.
    """
    segment = segment_get(workspace=workspace, segment_id=segment_id)
    if segment is None:
        raise SegmentChoiceError(f"no segment {segment_id} in this workspace", missing=True)
    try:
        return segment_customer_ids(
            workspace=workspace, definition=segment.definition, now=now, segment_id=segment.pk
        )
    except definitions.SegmentDefinitionError as exc:
        raise SegmentChoiceError(f"segment {segment.name!r}: {exc}", missing=False) from exc


SPLIT_SEGMENTS = "segments"  # the funnel split by saved segment, on the page and in the API
MAX_SEGMENT_GROUPS = 8


def segment_groups(*, workspace: Workspace, now: datetime | None = None) -> dict[str, set[int]]:
    """Members of each saved segment (the first eight by name), for a split by segment.

    A segment that no longer makes sense (e.g. its journey was deleted) is left out.
    """
    groups = {}
    for segment in segment_list(workspace=workspace)[:MAX_SEGMENT_GROUPS]:
        try:
            ids = segment_customer_ids(
                workspace=workspace, definition=segment.definition, now=now, segment_id=segment.pk
            )
        except definitions.SegmentDefinitionError:
            continue
        groups[segment.name] = set(ids)
    return groups


MAX_MEMBERSHIP_SEGMENTS = 20


def segment_memberships(
    *, workspace: Workspace, customer_ids: Sequence[int], now: datetime | None = None
) -> dict[int, list[str]]:
    """Which saved segments (the first twenty by name) each of ``customer_ids`` is in, e.g. for
    a page of the customer list: one query per segment, limited to those customers. Segments
    that no longer make sense are left out."""
    ids = list(customer_ids)
    out: dict[int, list[str]] = {pk: [] for pk in ids}
    if not ids:
        return out
    now = now or segment_as_of(workspace=workspace)
    for segment in segment_list(workspace=workspace)[:MAX_MEMBERSHIP_SEGMENTS]:
        try:
            members = segment_customers(
                workspace=workspace, definition=segment.definition, now=now,
                segment_id=segment.pk, among=ids,
            ).values_list("pk", flat=True)  # fmt: skip
            found = list(members)
        except definitions.SegmentDefinitionError:
            continue
        for pk in found:
            out[pk].append(segment.name)
    return out


def customer_segment_ids(
    *, workspace: Workspace, customer_id: int, segment_ids: Sequence[int],
    now: datetime | None = None,
) -> set[int]:  # fmt: skip
    """Which of the saved segments ``segment_ids`` one customer is in now (matched by the
    definition or added): one query per segment, limited to that customer. A segment that no
    longer makes sense (or is not in the workspace) counts as not containing them."""
    found: set[int] = set()
    wanted = list(dict.fromkeys(segment_ids))
    if not wanted:
        return found
    now = now or segment_as_of(workspace=workspace)
    for segment in segment_list(workspace=workspace).filter(pk__in=wanted):
        try:
            ids = segment_customer_ids(
                workspace=workspace, definition=segment.definition, now=now, segment_id=segment.pk
            )
            if ids.filter(pk=customer_id).exists():
                found.add(segment.pk)
        except definitions.SegmentDefinitionError:
            continue
    return found
