"""Path analysis: the most common routes customers take between two events, and what they did
just before they churned or complained.

The analytics engine walks the events (``analytics.selectors.path_counts`` and
``last_steps_before``); this module checks the parameters, ranks what comes back, computes
lifts and lays paths out as Sankey flows. A step is a named track/page/screen event; consecutive repeats collapse into one step (three Product views in a row
are one "Product" step). With ``by_channel`` a step is "name · channel".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from django.utils import timezone

from cxloop.analytics import selectors as analytics_selectors
from cxloop.analytics.before import CHURN, COMPLAINT, BeforeQuery, LastSteps
from cxloop.analytics.sessions import CUSTOMER
from cxloop.core.models import Workspace
from cxloop.journeys.lift import EventLift, counted_lifts

DEFAULT_COMPLAINT_EVENTS = ("Support Ticket Opened",)
MAX_STEPS = 12
MAX_TOP = 30  # most paths one report lists (the pages' Sankey stays readable); page and API alike
MAX_DAYS = 36_500  # a century: the longest within/inactive span, page and API alike
MAX_INACTIVE_DAYS = MAX_DAYS


class PathQueryError(ValueError):
    """Bad path-analysis parameters (what and why)."""


@dataclass(frozen=True, slots=True)
class PathCount:
    steps: tuple[str, ...]
    customers: int
    share: float  # of the customers in the report's denominator


@dataclass
class PathReport:
    """Top paths from ``start`` to ``end`` (either may be empty: from/to anywhere)."""

    start: str
    end: str
    max_steps: int
    started: int = 0  # customers who did the start event (or had any step when start is empty)
    completed: int = 0  # of those, customers who reached the end within the limits
    paths: list[PathCount] = field(default_factory=list)
    other_paths: int = 0  # completed customers whose path is not in the top list
    per: str = CUSTOMER  # customers, or sessions (then every count above is of sessions)

    @property
    def conversion(self) -> float:
        return self.completed / self.started if self.started else 0.0


@dataclass
class BeforeReport:
    """What customers did in their last ``steps`` steps before churning or complaining."""

    kind: str  # "churn" or "complaint"
    steps: int
    customers: int = 0
    paths: list[PathCount] = field(default_factory=list)
    last_step: list[tuple[str, int]] = field(default_factory=list)  # their very last step
    anywhere: list[tuple[str, int]] = field(default_factory=list)  # in any of the last steps
    lifts: list[EventLift] = field(default_factory=list)  # against everyone else's last steps
    others: int = 0  # customers outside the group (the base rate's denominator)


# ---------------------------------------------------------------------------------------- pure


def top_paths(paths: Iterable[tuple[str, ...]], *, top: int, total: int) -> list[PathCount]:
    """The ``top`` most common paths with their share of ``total`` (ties: alphabetical)."""
    counts = Counter(paths)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    return [PathCount(steps, n, n / total if total else 0.0) for steps, n in ranked]


@dataclass
class SankeyFlows:
    """A Sankey's data: step-indexed nodes and the customers flowing between them."""

    labels: list[str]  # "2. Product" (or "2nd last: Product")
    steps: list[str]  # the bare step of each node ("Product"), for colouring
    x: list[float]  # each node's column, 0–1
    links: dict[tuple[int, int], int]  # (source node, target node) → customers


def sankey_flows(paths: Sequence[PathCount], *, align_end: bool = False) -> SankeyFlows:
    """Step-indexed nodes: "2. Product" is the step Product at position 2.

    Flows are the customers of each path, so the width of a link is how many of the shown paths'
    customers went from one step to the next at that position. With ``align_end`` steps are
    counted back from the last one ("last: Category", "2nd last: Home"), for "what came before".
    """
    longest = max((len(path.steps) for path in paths), default=1)
    nodes: dict[tuple[int, str], int] = {}
    links: Counter[tuple[int, int]] = Counter()
    for path in paths:
        shift = longest - len(path.steps) if align_end else 0
        ids = [
            nodes.setdefault((shift + i, label), len(nodes)) for i, label in enumerate(path.steps)
        ]
        for a, b in pairwise(ids):
            links[(a, b)] += path.customers
    depth = longest - 1
    if align_end:
        labels = [f"{_from_end(depth - i)}: {label}" for (i, label) in nodes]
    else:
        labels = [f"{i + 1}. {label}" for (i, label) in nodes]
    xs = [0.001 + 0.998 * (i / depth if depth else 0) for (i, _) in nodes]
    return SankeyFlows(labels, [label for _, label in nodes], xs, dict(links))


def _from_end(back: int) -> str:
    if back == 0:
        return "last"
    number = back + 1
    suffix = {2: "nd", 3: "rd"}.get(number if number < 20 else number % 10, "th")
    return f"{number}{suffix} last"


# ---------------------------------------------------------------------------------------- queries


def step_names(*, workspace: Workspace, limit: int = 200) -> list[str]:
    """Event names that can be path steps, alphabetically (for pickers)."""
    return analytics_selectors.step_names(workspace=workspace, limit=limit)


def paths_between(
    *,
    workspace: Workspace,
    start: str = "",
    end: str = "",
    max_steps: int = 6,
    within: timedelta | None = None,
    by_channel: bool = False,
    top: int = 10,
    since: datetime | None = None,
    until: datetime | None = None,
    customer_ids: Iterable[int] | None = None,
    per: str = CUSTOMER,
) -> PathReport:
    """The ``top`` most common paths from ``start`` to ``end`` over the workspace's customers
    (``per`` session: over their sessions, each walked on its own).

    ``start``/``end`` are event names (with ``by_channel``: "name · channel" labels also match,
    a bare name matches it on any channel). ``since``/``until`` limit the events considered;
    ``customer_ids`` limits the customers (e.g. a segment's or a persona's members).
    """
    start, end = (start or "").strip(), (end or "").strip()
    if not start and not end:
        raise PathQueryError("choose a start event, an end event, or both")
    if not 2 <= max_steps <= MAX_STEPS:
        raise PathQueryError(f"max steps must be between 2 and {MAX_STEPS}")
    _check_top(top)
    if within is not None and within <= timedelta(0):
        raise PathQueryError("the time window must be positive")
    counts = analytics_selectors.path_counts(
        workspace=workspace, start=start, end=end, max_steps=max_steps, within=within,
        by_channel=by_channel, since=since, until=until, top=top,
        customer_ids=customer_ids, per=per,
    )  # fmt: skip
    report = PathReport(start=start, end=end, max_steps=max_steps, per=per)
    report.started, report.completed = counts.started, counts.completed
    report.paths = [
        PathCount(steps, n, n / counts.completed if counts.completed else 0.0)
        for steps, n in counts.top
    ]
    report.other_paths = report.completed - sum(p.customers for p in report.paths)
    return report


def paths_before_churn(
    *,
    workspace: Workspace,
    inactive_days: int = 90,
    steps: int = 3,
    by_channel: bool = False,
    top: int = 10,
    now: datetime | None = None,
    customer_ids: Iterable[int] | None = None,
) -> BeforeReport:
    """The last ``steps`` steps of customers whose last interaction is ``inactive_days`` old."""
    if not 1 <= inactive_days <= MAX_INACTIVE_DAYS:  # a bound keeps the cutoff a real date
        raise PathQueryError(f"inactive days must be between 1 and {MAX_INACTIVE_DAYS}")
    _check_steps(steps)
    _check_top(top)
    query = BeforeQuery(
        kind=CHURN, steps=steps, by_channel=by_channel, until=now,
        cutoff=(now or timezone.now()) - timedelta(days=inactive_days),
        customer_ids=None if customer_ids is None else tuple(customer_ids),
    )  # fmt: skip
    found = analytics_selectors.last_steps_before(workspace=workspace, query=query)
    return _before_report(CHURN, steps, found, top)


def paths_before_complaint(
    *,
    workspace: Workspace,
    steps: int = 3,
    complaint_events: Sequence[str] = DEFAULT_COMPLAINT_EVENTS,
    complaint_topics: Sequence[str] = (),
    by_channel: bool = False,
    top: int = 10,
    since: datetime | None = None,
    until: datetime | None = None,
    customer_ids: Iterable[int] | None = None,
) -> BeforeReport:
    """The last ``steps`` steps before each customer's first complaint (in [``since``,
    ``until``) when given).

    A complaint is an event named in ``complaint_events`` or any event whose ``properties.topic``
    is one of ``complaint_topics`` (e.g. "late delivery", "damaged item").
    """
    _check_steps(steps)
    _check_top(top)
    names = tuple(n.strip() for n in complaint_events if n and n.strip())
    topics = tuple(t.strip() for t in complaint_topics if t and t.strip())
    if not names and not topics:
        raise PathQueryError("name at least one complaint event or topic")
    query = BeforeQuery(
        kind=COMPLAINT, steps=steps, by_channel=by_channel, names=names, topics=topics,
        since=since, until=until,
        customer_ids=None if customer_ids is None else tuple(customer_ids),
    )  # fmt: skip
    found = analytics_selectors.last_steps_before(workspace=workspace, query=query)
    return _before_report(COMPLAINT, steps, found, top)


def _check_steps(steps: int) -> None:
    if not 1 <= steps <= MAX_STEPS:
        raise PathQueryError(f"steps must be between 1 and {MAX_STEPS}")


def _check_top(top: int) -> None:
    if not 1 <= top <= MAX_TOP:
        raise PathQueryError(f"top must be between 1 and {MAX_TOP}")


def _before_report(kind: str, steps: int, found: LastSteps, top: int) -> BeforeReport:
    group, others = found.group, found.others
    report = BeforeReport(kind=kind, steps=steps, customers=group.total())
    report.paths = [
        PathCount(path, n, n / report.customers)
        for path, n in sorted(group.items(), key=lambda item: (-item[1], item[0]))[:top]
    ]
    last: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    for path, n in group.items():
        last[path[-1]] += n
        for label in set(path):
            anywhere[label] += n
    report.last_step = sorted(last.items(), key=lambda item: (-item[1], item[0]))[:top]
    report.anywhere = sorted(anywhere.items(), key=lambda item: (-item[1], item[0]))[:top]
    report.lifts, report.others = counted_lifts(group, others)
    return report
