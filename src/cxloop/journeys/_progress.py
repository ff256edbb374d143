"""Journey maps kept current from a saved position in the event stream.

Each map stores every customer's progress through it (``JourneyProgress``: per stage and
touchpoint, matching events, the first one and the gap to the next stage) and where it stands
in the system of record's event ids. A run of the journey job (:func:`journey_advance`):

1. finds the customers with a matching event above the position saved *two* runs ago (ids are
   given at insert but seen at commit; a transaction that commits late, behind a higher id,
   is still read one run later) and those named by ``JourneyRewalk`` since its last read
   (merges, unmerges and erasures move or remove events without new ids);
2. walks each of them again from all their own events (``analytics.journeywalk``: the same
   per-customer rules as the full walk), replacing their progress rows;
3. sums the progress rows into the map's metrics (counts in SQL, each median read in index
   order), and rewrites the current stage of the customers walked and of everyone placed at a
   stage with a feedback condition (their latest scores may have changed without an event).

Walking a customer again is idempotent, so reading an event twice changes nothing. A changed
definition (stages, touchpoints, rules, conditions: ``definition_key``) or a map never walked
gets a full walk (:func:`journey_recompute`), which also fills the progress rows; the result of
both equals a full walk of all events (``tests/test_journeys_progress.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

import orjson
from django.db import transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from cxloop.analytics.journeywalk import (
    CustomerProgress,
    TouchpointRules,
    customer_progress,
    matching_hits,
    tally_dict,
)
from cxloop.analytics.walk import Moment, as_datetime
from cxloop.core.db import IN_CHUNK, chunked
from cxloop.events import selectors as event_selectors
from cxloop.journeys import selectors, stagerule
from cxloop.journeys.definitions import FeedbackCondition
from cxloop.journeys.models import (
    CustomerStage,
    JourneyMap,
    JourneyProgress,
    JourneyRewalk,
    Stage,
)

STAGE, TOUCHPOINT = "s", "t"


class _Map:
    """A map's definition as the walk needs it, read once per run."""

    def __init__(self, journey: JourneyMap) -> None:
        self.journey = journey
        self.stages: dict[int, Stage] = {s.position: s for s in journey.stages.all()}
        self.rules = selectors.journey_rules(journey=journey)
        self.touchpoints = [
            TouchpointRules(key=str(tp.pk), stage=tp.stage.position, rules=tuple(tp_rules))
            for tp, tp_rules in self.rules
        ]
        self.names = sorted({rule.event for tp in self.touchpoints for rule in tp.rules})
        self.conditions = {
            position: FeedbackCondition(**s.feedback)
            for position, s in self.stages.items()
            if s.feedback
        }

    @property
    def key(self) -> str:
        """A digest of everything the walk and the placement depend on."""
        shape = {
            "stages": [[p, s.pk, s.feedback] for p, s in sorted(self.stages.items())],
            "touchpoints": [
                [tp.pk, tp.stage.position, [r.as_dict() for r in rules]] for tp, rules in self.rules
            ],
        }
        return hashlib.blake2b(
            orjson.dumps(shape, option=orjson.OPT_SORT_KEYS), digest_size=16
        ).hexdigest()

    def progress(self, hits: dict[int, list]) -> dict[int, CustomerProgress]:
        return {
            customer: customer_progress(
                customer_hits, stages=len(self.stages), touchpoints=self.touchpoints
            )
            for customer, customer_hits in hits.items()
        }

    def rows(self, walked: dict[int, CustomerProgress]) -> Iterable[JourneyProgress]:
        journey_id = self.journey.pk
        for customer, p in walked.items():
            for position, unit in p.stages.items():
                yield JourneyProgress(
                    journey_id=journey_id,
                    customer_id=customer,
                    kind=STAGE,
                    ref=position,
                    events=unit.events,
                    first_at=as_datetime(unit.first),
                    gap_seconds=unit.gap,
                )
            for index, unit in p.touchpoints.items():
                yield JourneyProgress(
                    journey_id=journey_id,
                    customer_id=customer,
                    kind=TOUCHPOINT,
                    ref=int(self.touchpoints[index].key),
                    events=unit.events,
                    first_at=as_datetime(unit.first),
                    gap_seconds=unit.gap,
                )


def definition_key(journey: JourneyMap) -> str:
    """The digest of the map's stages, touchpoints, rules and conditions as they are now."""
    return _Map(journey).key


# ------------------------------------------------------------------ full and incremental runs


@transaction.atomic
def journey_recompute(*, journey: JourneyMap) -> dict:
    """Walk every customer of the map from all events: progress rows, metrics, current stages.

    The map's volumes count who reached each stage; the current stage also obeys the stages'
    feedback conditions (``journeys.stagerule``)."""
    shape = _Map(journey)
    event_position = event_selectors.event_max_id()  # before reading: later ones come next run
    rewalk_position = _rewalk_top(journey.workspace_id)
    rows = selectors.customer_event_rows_all(workspace=journey.workspace, names=set(shape.names))
    walked = shape.progress(matching_hits(rows, shape.touchpoints))
    JourneyProgress.objects.filter(journey=journey).delete()
    JourneyProgress.objects.bulk_create(shape.rows(walked), batch_size=2000)
    current = {c: p.current for c, p in walked.items() if p.current is not None}
    if shape.conditions:
        _apply_feedback_rule(journey, current, shape.conditions, walked)
    CustomerStage.objects.filter(journey=journey).delete()
    CustomerStage.objects.bulk_create(
        (
            CustomerStage(
                workspace_id=journey.workspace_id,
                journey=journey,
                stage=shape.stages[position],
                customer_id=customer_id,
                reached_at=as_datetime(reached_at),
            )
            for customer_id, (position, reached_at) in current.items()
        ),
        batch_size=2000,
    )
    return _finish(journey, shape, event_position, event_position, rewalk_position)


@transaction.atomic
def journey_advance(*, journey: JourneyMap) -> dict:
    """Bring a map up to date from its saved position (see the module's docstring); a full
    :func:`journey_recompute` when its definition changed or it was never walked."""
    shape = _Map(journey)
    if journey.definition_key != shape.key:
        return journey_recompute(journey=journey)
    event_position = event_selectors.event_max_id()
    rewalk_position = _rewalk_top(journey.workspace_id)
    touched = event_selectors.customers_with_events_after(
        workspace_id=journey.workspace_id,
        after_id=journey.event_position_before,
        names=shape.names,
    )
    touched |= set(
        JourneyRewalk.objects.filter(
            workspace_id=journey.workspace_id,
            pk__gt=journey.rewalk_position,
            pk__lte=rewalk_position,
        ).values_list("customer_id", flat=True)
    )
    walked: dict[int, CustomerProgress] = {}
    if touched:
        rows = selectors.customer_event_rows(
            workspace=journey.workspace, customer_ids=sorted(touched), names=set(shape.names)
        )
        walked = shape.progress(matching_hits(rows, shape.touchpoints))
        for chunk in chunked(sorted(touched), IN_CHUNK):
            JourneyProgress.objects.filter(journey=journey, customer_id__in=chunk).delete()
        JourneyProgress.objects.bulk_create(shape.rows(walked), batch_size=2000)
    current = {c: p.current for c, p in walked.items() if p.current is not None}
    scope = set(touched)
    if shape.conditions:
        held = _placed_at(journey, set(shape.conditions))
        for customer, reached in held.items():
            if customer not in touched:
                current[customer] = reached
        scope |= set(held)
        _apply_feedback_rule(journey, current, shape.conditions, walked)
    _write_stages(journey, shape, scope, current)
    return _finish(journey, shape, journey.event_position, event_position, rewalk_position)


def _finish(
    journey: JourneyMap, shape: _Map, before: int, position: int, rewalk_position: int
) -> dict:
    journey.metrics = _metrics(journey, shape)
    journey.computed_at = timezone.now()
    journey.definition_key = shape.key
    journey.event_position_before, journey.event_position = before, position
    journey.rewalk_position = rewalk_position
    journey.save(
        update_fields=[
            "metrics", "computed_at", "definition_key", "event_position",
            "event_position_before", "rewalk_position",
        ]
    )  # fmt: skip
    return journey.metrics


def rewalk_top(workspace_id: int) -> int:
    """The highest re-walk entry of the workspace (0: none waits)."""
    return _rewalk_top(workspace_id)


def _rewalk_top(workspace_id: int) -> int:
    top = JourneyRewalk.objects.filter(workspace_id=workspace_id).aggregate(m=Max("pk"))["m"]
    return top or 0


def rewalk_note(*, workspace_id: int, customer_ids: Iterable[int]) -> None:
    """Ask every map of the workspace to walk these customers again at its next run."""
    JourneyRewalk.objects.bulk_create(
        JourneyRewalk(workspace_id=workspace_id, customer_id=c) for c in sorted(set(customer_ids))
    )


def rewalk_prune(*, workspace_id: int) -> int:
    """Drop the re-walk entries every map of the workspace has read (all when it has none)."""
    read = JourneyMap.objects.filter(workspace_id=workspace_id).aggregate(
        low=Min("rewalk_position")
    )["low"]
    entries = JourneyRewalk.objects.filter(workspace_id=workspace_id)
    if read is not None:
        entries = entries.filter(pk__lte=read)
    return entries.delete()[0]


# ------------------------------------------------------------------ metrics and stages


def _metrics(journey: JourneyMap, shape: _Map) -> dict:
    """The map's metrics summed from its progress rows (what ``journey_walk`` counts)."""
    progress = JourneyProgress.objects.filter(journey=journey)
    sums = {
        (row["kind"], row["ref"]): row
        for row in progress.values("kind", "ref")
        .annotate(
            customers=Count("pk"),
            events_=Sum("events"),
            converted=Count("pk", filter=Q(gap_seconds__isnull=False)),
        )
        .order_by()
    }
    last = len(shape.stages) - 1

    def tally(kind: str, ref: int, is_last: bool) -> dict:
        row = sums.get((kind, ref))
        if row is None:
            return tally_dict(customers=0, events=0, converted=0, median_seconds=None, last=is_last)
        converted = row["converted"]
        return tally_dict(
            customers=row["customers"], events=row["events_"] or 0, converted=converted,
            median_seconds=_median(progress, kind, ref, converted), last=is_last,
        )  # fmt: skip

    customers = progress.filter(kind=STAGE).values("customer_id").distinct().count()
    return {
        "customers": customers,
        "stages": [tally(STAGE, s, s == last) for s in range(len(shape.stages))],
        "touchpoints": {
            tp.key: tally(TOUCHPOINT, int(tp.key), tp.stage == last) for tp in shape.touchpoints
        },
    }


def _median(progress, kind: str, ref: int, converted: int) -> float | None:
    """The median gap of one stage or touchpoint: its middle one or two, read in index order."""
    if not converted:
        return None
    gaps = (
        progress.filter(kind=kind, ref=ref, gap_seconds__isnull=False)
        .order_by("gap_seconds")
        .values_list("gap_seconds", flat=True)
    )
    middle = (converted - 1) // 2
    pair = list(gaps[middle : middle + (1 if converted % 2 else 2)])
    return sum(pair) / len(pair)


def _placed_at(journey: JourneyMap, positions: set[int]) -> dict[int, tuple[int, datetime]]:
    """Customers whose furthest stage reached is one of ``positions``: (position, reached)."""
    furthest: dict[int, tuple[int, datetime]] = {}
    rows = JourneyProgress.objects.filter(
        journey=journey, kind=STAGE, ref__gte=min(positions)
    ).values_list("customer_id", "ref", "first_at")
    for customer, ref, first_at in rows.iterator(5000):
        if customer not in furthest or ref > furthest[customer][0]:
            furthest[customer] = (int(ref), first_at)
    return {c: placed for c, placed in furthest.items() if placed[0] in positions}


def _write_stages(
    journey: JourneyMap, shape: _Map, scope: set[int], current: dict[int, tuple[int, Moment]]
) -> None:
    """Make the stored current stage of each customer in ``scope`` what ``current`` says (no
    row when absent), writing only the rows that change."""
    stage_ids = {position: s.pk for position, s in shape.stages.items()}
    wanted = {
        c: (stage_ids[position], as_datetime(at))
        for c, (position, at) in current.items()
        if c in scope
    }
    stored: dict[int, tuple[int, datetime]] = {}
    for chunk in chunked(sorted(scope), IN_CHUNK):
        for customer, stage_id, reached in CustomerStage.objects.filter(
            journey=journey, customer_id__in=chunk
        ).values_list("customer_id", "stage_id", "reached_at"):
            stored[customer] = (stage_id, reached)
    changed = [c for c in scope if wanted.get(c) != stored.get(c)]
    for chunk in chunked(sorted(c for c in changed if c in stored), IN_CHUNK):
        CustomerStage.objects.filter(journey=journey, customer_id__in=chunk).delete()
    CustomerStage.objects.bulk_create(
        (
            CustomerStage(
                workspace_id=journey.workspace_id,
                journey=journey,
                stage_id=wanted[c][0],
                customer_id=c,
                reached_at=wanted[c][1],
            )
            for c in changed
            if c in wanted
        ),
        batch_size=2000,
    )


def _apply_feedback_rule(
    journey: JourneyMap,
    current: dict,
    conditions: dict[int, FeedbackCondition],
    walked: dict[int, CustomerProgress],
) -> None:
    """Move back (in ``current``) each customer whose latest feedback contradicts the condition
    of the stage the walk put them at: to the furthest stage they reached whose condition holds,
    or out of the journey when there is none. When each stage was first reached comes from
    ``walked`` (customers walked in this run) or their stored progress rows (the others)."""
    at_conditioned = {c for c, (position, _) in current.items() if position in conditions}
    if not at_conditioned:
        return
    metrics = sorted({c.metric for c in conditions.values()})
    scores = selectors.latest_scores(
        workspace=journey.workspace, metrics=metrics, customer_ids=at_conditioned
    )
    moved = [
        c
        for c in at_conditioned
        if stagerule.contradicted(conditions[current[c][0]], scores.get(c))
    ]
    if not moved:
        return
    firsts: dict[int, dict[int, Moment]] = {
        c: {s: unit.first for s, unit in walked[c].stages.items()} for c in moved if c in walked
    }
    stored = sorted(c for c in moved if c not in walked)
    for chunk in chunked(stored, IN_CHUNK):
        rows = JourneyProgress.objects.filter(
            journey=journey, kind=STAGE, customer_id__in=chunk
        ).values_list("customer_id", "ref", "first_at")
        for customer, ref, first_at in rows:
            firsts.setdefault(customer, {})[int(ref)] = first_at
    for customer in moved:
        placed = stagerule.place(firsts.get(customer, {}), conditions, scores.get(customer))
        if placed is None:
            del current[customer]
        else:
            current[customer] = placed
