"""Reads for journeys: maps with their metrics, funnels, drop-offs and customers' current stages."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db.models import Count, QuerySet

from cxloop.analytics import selectors as analytics_selectors
from cxloop.analytics.sessions import CUSTOMER, SESSION
from cxloop.analytics.sessions import customer_of as session_customer
from cxloop.analytics.walk import FunnelRun, FunnelSummary
from cxloop.core.models import Workspace
from cxloop.customers import selectors as customer_selectors
from cxloop.events import selectors as event_selectors
from cxloop.feedback import selectors as feedback_selectors
from cxloop.journeys._touchpoints import (  # re-exported: part of this public interface
    TouchpointChoiceError as TouchpointChoiceError,
)
from cxloop.journeys._touchpoints import TouchpointResponses as TouchpointResponses
from cxloop.journeys._touchpoints import touchpoint_choices as touchpoint_choices
from cxloop.journeys._touchpoints import touchpoint_response_ids as touchpoint_response_ids
from cxloop.journeys.correlation import (
    EventCorrelation,
    correlate,
    property_candidates,
    trait_counts,
)
from cxloop.journeys.definitions import ExclusionSpec, RuleSpec, parse_rule
from cxloop.journeys.models import (
    CustomerStage,
    JourneyMap,
    Rule,
    SavedAnalysis,
    Stage,
    Touchpoint,
)

OTHER = "(other)"
NONE = "(none)"
MAX_GROUPS = 8


# ------------------------------------------------------------------ journey maps


def journey_list(*, workspace: Workspace) -> QuerySet[JourneyMap]:
    return (
        JourneyMap.objects.filter(workspace=workspace)
        .annotate(stage_count=Count("stages", distinct=True))
        .order_by("name")
    )


def journey_get(*, workspace: Workspace, journey_id: int) -> JourneyMap | None:
    return JourneyMap.objects.filter(workspace=workspace, pk=journey_id).first()


def journey_definition(*, journey: JourneyMap) -> dict:
    """The journey in the definition format that ``journey_update`` and the API take."""
    stages = list(journey.stages.all())
    touchpoints = (
        Touchpoint.objects.filter(stage__journey=journey)
        .select_related("stage")
        .prefetch_related("rules")
        .order_by("stage__position", "position")
    )
    return {
        "name": journey.name,
        "description": journey.description,
        "stages": [
            {"name": s.name, "description": s.description, "feedback": s.feedback} for s in stages
        ],
        "touchpoints": [
            {
                "stage": tp.stage.name,
                "name": tp.name,
                "channel": tp.channel,
                "rules": [_rule_spec(rule).as_dict() for rule in tp.rules.all()],
            }
            for tp in touchpoints
        ],
    }


@dataclass
class TouchpointView:
    touchpoint: Touchpoint
    rules: list[RuleSpec]
    metrics: dict
    feedback: dict
    health: str  # good | fair | weak | none (colour on the map)
    health_reason: str
    previous: dict = field(default_factory=dict)  # metrics of the compared period
    previous_feedback: dict = field(default_factory=dict)


@dataclass
class StageView:
    stage: Stage
    metrics: dict
    touchpoints: list[TouchpointView] = field(default_factory=list)
    share: float | None = None  # of the journey's customers
    previous: dict = field(default_factory=dict)  # metrics of the compared period


def journey_map(
    *, journey: JourneyMap, metrics: dict | None = None, feedback: dict[int, dict] | None = None
) -> list[StageView]:
    """Stages in order with their touchpoints, last computed metrics and live feedback scores
    (or the ``metrics`` and ``feedback`` given: a period's, ``journeys.mapperiod``)."""
    if metrics is None:
        metrics = journey.metrics or {}
    stage_metrics = metrics.get("stages", [])
    tp_metrics = metrics.get("touchpoints", {})
    total = metrics.get("customers") or 0
    stages = list(journey.stages.prefetch_related("touchpoints__rules"))
    if feedback is None:
        feedback = touchpoint_feedback(journey=journey)
    views = []
    for stage in stages:
        m = stage_metrics[stage.position] if stage.position < len(stage_metrics) else {}
        view = StageView(
            stage=stage, metrics=m, share=(m.get("customers", 0) / total) if total else None
        )
        for tp in stage.touchpoints.all():
            tm = tp_metrics.get(str(tp.pk), {})
            fb = feedback.get(tp.pk, {})
            health, reason = _health(tm, m, fb)
            view.touchpoints.append(
                TouchpointView(tp, [_rule_spec(r) for r in tp.rules.all()], tm, fb, health, reason)
            )
        views.append(view)
    return views


def _health(tp: dict, stage: dict, feedback: dict) -> tuple[str, str]:
    """Colour of a touchpoint: by CSAT (or NPS) when customers rated it, else by conversion."""
    csat, nps = feedback.get("csat"), feedback.get("nps")
    if csat is not None:
        level = "good" if csat >= 0.8 else "fair" if csat >= 0.6 else "weak"
        return level, f"CSAT {csat:.0%}"
    if nps is not None:
        level = "good" if nps >= 30 else "fair" if nps >= 0 else "weak"
        return level, f"NPS {nps:+.0f}"
    conversion, typical = tp.get("conversion"), stage.get("conversion")
    if conversion is None or not typical or not tp.get("customers"):
        return "none", "no conversion to compare"
    ratio = conversion / typical
    level = "good" if ratio >= 0.95 else "fair" if ratio >= 0.7 else "weak"
    return level, f"converts at {ratio:.0%} of the stage's rate"


def touchpoint_feedback(
    *, journey: JourneyMap, since: datetime | None = None, until: datetime | None = None
) -> dict[int, dict]:
    """CSAT (share of top-box answers), NPS and counts of survey responses per touchpoint
    (submitted in [since, until) when given).

    A response belongs to a touchpoint when its ``touchpoint`` is one of the touchpoint's rule
    events (or the touchpoint's own name) and, when the rule names a channel, its channel matches.
    """
    rules = list(
        Rule.objects.filter(touchpoint__stage__journey=journey).select_related("touchpoint")
    )
    if not rules:
        return {}
    # a response's touchpoint text → the (touchpoint, channel or "") rules it can match
    by_name: dict[str, list[tuple[int, str]]] = {}
    for r in rules:
        for name in {r.event, r.touchpoint.name}:
            by_name.setdefault(name, []).append((r.touchpoint_id, r.channel))
    names = set(by_name)
    responses = feedback_selectors.workspace_responses(workspace=journey.workspace)
    if since is not None:
        responses = responses.filter(submitted_at__gte=since)
    if until is not None:
        responses = responses.filter(submitted_at__lt=until)
    rows = (
        responses.filter(completed=True, touchpoint__in=names)
        .values_list("touchpoint", "channel", "csat_score", "nps_score", "survey__csat_top_box")
        .iterator(chunk_size=5000)
    )
    tally: dict[
        int, list[int]
    ] = {}  # [csat answers, csat top box, nps answers, promoters, detractors]
    for touchpoint, channel, csat, nps, top_box in rows:
        matched = {tp_id for tp_id, ch in by_name[touchpoint] if not ch or ch == channel}
        for tp_id in matched:
            t = tally.setdefault(tp_id, [0, 0, 0, 0, 0])
            if csat is not None:
                t[0] += 1
                t[1] += csat >= top_box
            if nps is not None:
                t[2] += 1
                t[3] += nps >= 9
                t[4] += nps <= 6
    return {
        tp_id: {
            "responses": max(t[0], t[2]),
            "csat": t[1] / t[0] if t[0] else None,
            "nps": 100 * (t[3] - t[4]) / t[2] if t[2] else None,
        }
        for tp_id, t in tally.items()
    }


def journey_rules(*, journey: JourneyMap) -> list[tuple[Touchpoint, list[RuleSpec]]]:
    touchpoints = Touchpoint.objects.filter(stage__journey=journey).select_related("stage")
    return [
        (tp, [_rule_spec(r) for r in tp.rules.all()])
        for tp in touchpoints.prefetch_related("rules").order_by("stage__position", "position")
    ]


def _rule_spec(rule: Rule) -> RuleSpec:
    return parse_rule(
        {"event": rule.event, "channel": rule.channel, "conditions": rule.conditions}, "rule"
    )


# ------------------------------------------------------------------ customers' stages


def customer_journey_stages(*, customer_id: int) -> list[dict]:
    """Every journey's current stage of one customer: journey, stage, its position, reached_at."""
    rows = (
        CustomerStage.objects.filter(customer_id=customer_id)
        .select_related("journey", "stage")
        .order_by("journey__name")
    )
    return [
        {
            "journey": row.journey,
            "stage": row.stage,
            "reached_at": row.reached_at,
            "stages": list(row.journey.stages.values_list("name", flat=True)),
        }
        for row in rows
    ]


def customers_stages(*, customer_ids: Sequence[int]) -> dict[int, list[dict]]:
    """Current stages of many customers at once (one query, e.g. a page of the customer list):
    customer id -> ``[{"journey": name, "stage": name, "stage_id": id}]``, by journey name."""
    rows = (
        CustomerStage.objects.filter(customer_id__in=list(customer_ids))
        .order_by("journey__name", "journey_id")
        .values_list("customer_id", "journey__name", "stage__name", "stage_id")
    )
    out: dict[int, list[dict]] = {}
    for customer_id, journey, stage, stage_id in rows:
        out.setdefault(customer_id, []).append(
            {"journey": journey, "stage": stage, "stage_id": stage_id}
        )
    return out


def stage_choices(*, workspace: Workspace) -> list[tuple[JourneyMap, list[Stage]]]:
    """Journeys with their stages, for stage filter menus."""
    journeys = JourneyMap.objects.filter(workspace=workspace).order_by("name")
    return [(j, list(j.stages.all())) for j in journeys.prefetch_related("stages")]


def latest_scores(
    *, workspace: Workspace, metrics: Sequence[str], customer_ids: set[int]
) -> dict[int, dict[str, float]]:
    """Each of ``customer_ids``' latest score of each of ``metrics`` (nps, csat, ces), from
    completed responses by submission time: customer → {metric: score}."""
    fields = [f"{m}_score" for m in metrics]
    rows = (
        feedback_selectors.workspace_responses(workspace=workspace)
        .filter(completed=True, customer__isnull=False, submitted_at__isnull=False)
        .order_by("submitted_at", "pk")
        .values_list("customer_id", *fields)
    )
    latest: dict[int, dict[str, float]] = {}
    for customer_id, *values in rows.iterator(chunk_size=5000):
        if customer_id not in customer_ids:
            continue
        for metric, value in zip(metrics, values, strict=True):
            if value is not None:
                latest.setdefault(customer_id, {})[metric] = value
    return latest


def customer_event_rows(
    *, workspace: Workspace, customer_ids: Sequence[int], names: set[str], batch: int = 500
) -> Iterator[tuple]:
    """``(customer_id, occurred_at, name, channel, properties)`` of these customers' events
    with these names, in batches of customers."""
    events = event_selectors.workspace_events(workspace=workspace)
    ids = sorted(customer_ids)
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        yield from events.filter(customer_id__in=chunk, name__in=names).values_list(
            "customer_id", "occurred_at", "name", "channel", "properties"
        )


def customer_event_rows_all(*, workspace: Workspace, names: set[str]) -> Iterator[tuple]:
    """``(customer_id, occurred_at, name, channel, properties)`` of every event of the workspace
    with these names (a map's full walk), streamed."""
    events = event_selectors.workspace_events(workspace=workspace).filter(name__in=sorted(names))
    return events.values_list(
        "customer_id", "occurred_at", "name", "channel", "properties"
    ).iterator(chunk_size=5000)


def stage_get(*, workspace: Workspace, stage_id: int) -> Stage | None:
    return (
        Stage.objects.filter(journey__workspace=workspace, pk=stage_id)
        .select_related("journey")
        .first()
    )


def stage_find(*, workspace: Workspace, journey: str, stage: str) -> Stage | None:
    """A stage by journey name and stage name (case-insensitive), e.g. for segment conditions."""
    return (
        Stage.objects.filter(
            journey__workspace=workspace, journey__name__iexact=journey, name__iexact=stage
        )
        .select_related("journey")
        .first()
    )


def customer_ids_at_stage(*, stage: Stage) -> QuerySet:
    """A subquery of the customers whose current stage of its journey is ``stage``."""
    return CustomerStage.objects.filter(journey_id=stage.journey_id, stage=stage).values(
        "customer_id"
    )


class StageChoiceError(LookupError):
    """A stage chosen by id that is not in the workspace."""


class StageMembers(NamedTuple):
    stage: Stage
    customer_ids: QuerySet  # flat customer ids: a subquery for ``pk__in``, or ``set()`` them


def stage_member_ids(*, workspace: Workspace, stage_id: int) -> StageMembers:
    """The stage ``stage_id`` and the ids of the customers now at it.

    The one way pages and API routes turn a chosen stage into customers; raises
    :class:`StageChoiceError` when the workspace has no such stage.
    """
    stage = stage_get(workspace=workspace, stage_id=stage_id)
    if stage is None:
        raise StageChoiceError(f"no stage {stage_id} in this workspace")
    ids = customer_ids_at_stage(stage=stage).values_list("customer_id", flat=True)
    return StageMembers(stage, ids)


def stage_of_customers(*, journey: JourneyMap) -> dict[int, str]:
    """Current stage name per customer of one journey."""
    names = dict(journey.stages.values_list("pk", "name"))
    rows = CustomerStage.objects.filter(journey=journey).values_list("customer_id", "stage_id")
    return {customer_id: names[stage_id] for customer_id, stage_id in rows}


# ------------------------------------------------------------------ events and funnels


def event_names(*, workspace: Workspace, limit: int = 500) -> list[tuple[str, int]]:
    """Event (and page/screen) names of a workspace with counts, most frequent first."""
    return analytics_selectors.event_names(workspace=workspace, limit=limit)


def event_rows(
    *, workspace: Workspace, names: Sequence[str], properties: bool = False
) -> Iterator[tuple]:
    """Stream ``(customer_id, occurred_at, name, channel, properties)`` of events with these
    names from the database (the journey map's walk; see ``analytics.selectors.event_rows``)."""
    return analytics_selectors.event_rows(
        workspace_id=workspace.pk, names=names, properties=properties
    )


@dataclass
class FunnelReport:
    steps: list[RuleSpec]
    window: timedelta | None
    counts: list[int]
    median_seconds: list[float | None]
    groups: list[tuple[str, list[int]]]
    split_by: str
    summary: FunnelSummary
    mode: str = "ordered"
    exclusions: list[ExclusionSpec] = field(default_factory=list)
    per: str = CUSTOMER  # what is counted: customers, or sessions (each walked on its own)

    @property
    def conversion(self) -> list[float | None]:
        """Share of step-1 customers reaching each step."""
        first = self.counts[0] if self.counts else 0
        return [n / first if first else None for n in self.counts]

    @property
    def step_conversion(self) -> list[float | None]:
        """Share of the previous step's customers reaching each step (index 0: None)."""
        return [None] + [
            (self.counts[k] / self.counts[k - 1]) if self.counts[k - 1] else None
            for k in range(1, len(self.counts))
        ]


def funnel(
    *,
    workspace: Workspace,
    steps: Sequence[RuleSpec],
    window: timedelta | None,
    split_by: str = "",
    groups: Mapping[str, set[int]] | None = None,
    only: set[int] | None = None,
    mode: str = "ordered",
    exclusions: Sequence[ExclusionSpec] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    per: str = CUSTOMER,
) -> FunnelReport:
    """Customers reaching each of ``steps`` in order within ``window`` of the first step
    (``mode`` and ``exclusions``: ``analytics.walk.funnel_walk``'s rules).

    ``split_by``: ``channel`` (of the first step's event), ``trait:<name>`` or
    ``stage:<journey id>`` (current journey stage); ``groups`` gives named customer sets instead
    (e.g. segments). ``only`` restricts the funnel to those customers; ``since``/``until``
    to its events in [since, until) (a range: customers entering step 1 in it). ``per``
    session: sessions are counted, each a funnel of its own (``analytics.sessions``); a split
    puts a session in its customer's group.
    """
    summary = analytics_selectors.funnel_summary(
        workspace=workspace, steps=steps, window=window, only=only, mode=mode,
        exclusions=exclusions, since=since, until=until, per=per,
    )  # fmt: skip
    if groups is not None or split_by not in ("", "channel"):
        # a split by trait, stage or segment needs each customer's depth
        run = analytics_selectors.funnel_run(
            workspace=workspace, steps=steps, window=window, only=only, mode=mode,
            exclusions=exclusions, since=since, until=until, per=per,
        )  # fmt: skip
        who = session_customer if per == SESSION else int
        split = _split(workspace, run, split_by, groups, who)
    elif split_by == "channel":
        split = _top_groups(summary.by_channel)
    else:
        split = []
    return FunnelReport(
        steps=list(steps),
        window=window,
        counts=summary.counts,
        median_seconds=summary.median_seconds,
        groups=split,
        split_by=split_by,
        summary=summary,
        mode=mode,
        exclusions=list(exclusions),
        per=per,
    )


# "why they dropped" reads every event of every entrant's window: past this many entrants it
# correlates a repeatable random sample of about this many (``analytics.sampling``), which keeps
# the answer interactive at millions of events; ``sample_size=None`` asks for everyone
CORRELATION_SAMPLE = 10_000


@dataclass
class CorrelationReport:
    entered: int  # of the sample, when sampled
    converted: int
    rows: list[EventCorrelation]  # the shown ones (``top``), most telling first
    tested: int  # candidates tested (the Holm family)
    sampled_from: int | None = None  # every entrant of the funnel, when a sample was correlated


def funnel_correlation(
    *,
    workspace: Workspace,
    steps: Sequence[RuleSpec],
    window: timedelta | None,
    only: set[int] | None = None,
    mode: str = "ordered",
    exclusions: Sequence[ExclusionSpec] = (),
    top: int = 20,
    since: datetime | None = None,
    until: datetime | None = None,
    per: str = CUSTOMER,
    entered: int | None = None,
    sample_size: int | None = CORRELATION_SAMPLE,
) -> CorrelationReport:
    """The events whose presence between entering the funnel and the end of the window, and
    the (low-cardinality) trait values, that most raise or lower the odds of converting
    (``journeys.correlation``'s statistics); of sessions with ``per`` session (a session
    having its customer's traits).

    With more than ``sample_size`` entrants (``entered``, the funnel's step-1 count, when the
    caller has it), a repeatable random sample of about that many is correlated, and the
    report says so (``sampled_from``); counts and tests are then the sample's."""
    question: dict[str, Any] = {
        "workspace": workspace, "steps": steps, "window": window, "only": only, "mode": mode,
        "exclusions": exclusions, "since": since, "until": until,
    }  # fmt: skip
    rate = None
    if sample_size is not None:
        if entered is None:
            entered = analytics_selectors.funnel_summary(**question, per=per).counts[0]
        rate = analytics_selectors.sample_rate(entered=entered, size=sample_size)
    why = analytics_selectors.funnel_why(**question, per=per, sample=rate)
    found = why.correlation
    who = session_customer if per == SESSION else int
    converted = {key: depth == why.steps for key, depth in why.depth.items()}
    held = customer_selectors.customer_traits(
        workspace=workspace, ids={who(key) for key in converted}
    )
    traits = trait_counts(converted, {key: held.get(who(key), {}) for key in converted})
    properties = None
    if why.properties is not None:  # event property values: per customer only
        properties = property_candidates(why.properties, entered=found.entered)
    rows = correlate(
        entered=found.entered, converted=found.converted, events=found.events, traits=traits,
        properties=properties,
    )  # fmt: skip
    return CorrelationReport(
        found.entered, found.converted, rows[:top], len(rows),
        sampled_from=entered if rate is not None else None,
    )  # fmt: skip


def _top_groups(counts_of: Mapping[str, list[int]]) -> list[tuple[str, list[int]]]:
    """The largest groups (by customers at step 1) by name, the rest summed as (other)."""
    ranked = sorted(counts_of.items(), key=lambda item: (-item[1][0], item[0]))
    result = [(label, counts) for label, counts in ranked[:MAX_GROUPS]]
    rest = [counts for _, counts in ranked[MAX_GROUPS:]]
    if rest:
        result.append((OTHER, [sum(column) for column in zip(*rest, strict=True)]))
    return result


def _split(
    workspace: Workspace,
    run: FunnelRun,
    split_by: str,
    groups: Mapping[str, set[int]] | None,
    who: Callable[[int], int] = int,
) -> list[tuple[str, list[int]]]:
    """Counts per group; ``who`` gives the customer of one of the run's keys."""
    if groups is not None:
        return [
            (label, run.counts(c for c in run.depth if who(c) in members))
            for label, members in groups.items()
        ]
    if not split_by:
        return []
    if split_by.startswith("trait:") and split_by[6:]:
        label_of = customer_selectors.customer_trait_values(workspace=workspace, key=split_by[6:])
    elif split_by.startswith("stage:") and split_by[6:].isdigit():
        journey = journey_get(workspace=workspace, journey_id=int(split_by[6:]))
        label_of = stage_of_customers(journey=journey) if journey else {}
    else:
        raise ValueError(
            f"split_by {split_by!r}: use channel, trait:<name>, stage:<journey id> or segments"
        )
    members: dict[str, list[int]] = {}
    for customer in run.depth:
        members.setdefault(label_of.get(who(customer), NONE), []).append(customer)
    ranked = sorted(members.items(), key=lambda item: (-len(item[1]), item[0]))
    shown = ranked[:MAX_GROUPS]
    rest = [c for _, cs in ranked[MAX_GROUPS:] for c in cs]
    result = [(label, run.counts(cs)) for label, cs in shown]
    if rest:
        result.append((OTHER, run.counts(rest)))
    return result


@dataclass
class DropOff:
    customer_id: int
    name: str
    last_step: int  # 1-based: the last step they did
    last_at: datetime
    step_label: str = ""


def funnel_dropoffs(
    *, workspace: Workspace, report: FunnelReport, limit: int = 20
) -> list[tuple[int, int, list[DropOff]]]:
    """Per step before the last: (step number, how many stopped there, the most recent of them)."""
    summary = report.summary
    wanted = {depth: summary.latest.get(depth, [])[:limit] for depth in range(1, summary.steps)}
    ids = {c for rows in wanted.values() for _, c in rows}
    names = (
        {
            c.pk: str(c)
            for c in customer_selectors.customer_search(workspace=workspace, ids=list(ids))
        }
        if ids
        else {}
    )
    result = []
    for depth in range(1, summary.steps):
        result.append(
            (
                depth,
                summary.stopped.get(depth, 0),
                [
                    DropOff(
                        c,
                        names.get(c, f"#{c}"),
                        depth,
                        at,
                        f"{depth}. {report.steps[depth - 1].label()}",
                    )
                    for at, c in wanted[depth]
                ],
            )
        )
    return result


def funnel_default_steps(*, workspace: Workspace, steps: int = 4) -> list[str]:
    """The first ``steps`` distinct events of the workspace's most common path (of
    ``steps`` + 2 steps, repeats collapsed) from its most frequent step event, through the
    engine: what the funnel page opens with."""
    candidates = set(analytics_selectors.step_names(workspace=workspace, limit=500))
    first = next(
        (name for name, _ in event_names(workspace=workspace, limit=50) if name in candidates),
        "",
    )
    if not first:
        return []
    counts = analytics_selectors.path_counts(
        workspace=workspace, start=first, end="", max_steps=steps + 2, within=None,
        by_channel=False, since=None, until=None, customer_ids=None, top=1,
    )  # fmt: skip
    path = list(dict.fromkeys(counts.top[0][0]))[:steps] if counts.top else []
    return path if len(path) >= 2 else []


# ------------------------------------------------------------------ saved analyses


def saved_analysis_list(*, workspace: Workspace, kind: str = "") -> QuerySet[SavedAnalysis]:
    """Saved analyses of a workspace (of one ``kind`` when given), pinned first, then by name."""
    found = SavedAnalysis.objects.filter(workspace=workspace).select_related("created_by")
    return found.filter(kind=kind) if kind else found


def saved_analysis_get(*, workspace: Workspace, analysis_id: int) -> SavedAnalysis | None:
    return SavedAnalysis.objects.filter(workspace=workspace, pk=analysis_id).first()
