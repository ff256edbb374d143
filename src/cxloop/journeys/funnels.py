"""Funnels for journeys' pages and API: the funnel report (counts, medians, splits), "why they
dropped" (the correlation report, on a sample past ``CORRELATION_SAMPLE`` entrants), drop-offs
and the default steps. Public through ``journeys.selectors``, which re-exports these names."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cxloop.analytics import selectors as analytics_selectors
from cxloop.analytics.sessions import CUSTOMER, SESSION
from cxloop.analytics.sessions import customer_of as session_customer
from cxloop.analytics.walk import FunnelRun, FunnelSummary
from cxloop.core.models import Workspace
from cxloop.customers import selectors as customer_selectors
from cxloop.journeys.correlation import (
    EventCorrelation,
    correlate,
    property_candidates,
    trait_counts,
)
from cxloop.journeys.definitions import ExclusionSpec, RuleSpec

OTHER = "(other)"
NONE = "(none)"
MAX_GROUPS = 8


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
    from cxloop.journeys import selectors  # the journey maps' reads (they re-export this module)

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
        journey = selectors.journey_get(workspace=workspace, journey_id=int(split_by[6:]))
        label_of = selectors.stage_of_customers(journey=journey) if journey else {}
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
    from cxloop.journeys import selectors  # the event names' read (they re-export this module)

    candidates = set(analytics_selectors.step_names(workspace=workspace, limit=500))
    first = next(
        (
            name
            for name, _ in selectors.event_names(workspace=workspace, limit=50)
            if name in candidates
        ),
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
