"""What customers did in their last steps before they churned or complained: the question, its
answer, and the Python walk over the database's events (the reference the engine's SQL,
``analytics.beforesql``, is tested against; ``analytics.sqlengine`` runs it).

A step is a named track/page/screen event and consecutive repeats collapse into one, as in
``analytics.pathwalk``. The engine answers with each distinct sequence of last steps and how
many customers ended on it, in the group and among everyone else: the base rate's denominator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Max, Min, Q

from cxloop.analytics.pathwalk import Step, _step_events, _steps_by_customer, collapse_steps
from cxloop.core.db import ids_in
from cxloop.core.models import Workspace
from cxloop.events import selectors as event_selectors

CHURN, COMPLAINT = "churn", "complaint"


@dataclass(frozen=True)
class BeforeQuery:
    """One "before churn/complaint" question (the parameters the engine's method takes).

    * churn: the group is the customers whose last step is before ``cutoff``; each one's last
      ``steps`` steps, whenever;
    * complaint: the group is the customers with a complaint in [``since``, ``until``) (an event
      named in ``names``, or any event whose ``properties.topic`` is in ``topics``); each one's
      last ``steps`` steps strictly before their first complaint in that range.

    Everyone else (the base rate) is every other customer with steps before ``until`` (no bound
    when None): their last ``steps`` steps up to it. ``customer_ids`` limits both sides.
    """

    kind: str
    steps: int
    by_channel: bool = False
    cutoff: datetime | None = None
    names: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    customer_ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in (CHURN, COMPLAINT):
            raise ValueError(f"kind: {self.kind!r} is neither {CHURN} nor {COMPLAINT}")
        if self.kind == CHURN and self.cutoff is None:
            raise ValueError("cutoff: a churn question needs one")
        if self.kind == COMPLAINT and not (self.names or self.topics):
            raise ValueError("names/topics: a complaint question needs at least one")


@dataclass
class LastSteps:
    """Each distinct sequence of last steps (never empty) and the customers who ended on it, in
    the group and among everyone else."""

    group: Counter[tuple[str, ...]] = field(default_factory=Counter)
    others: Counter[tuple[str, ...]] = field(default_factory=Counter)


def last_steps(steps: Sequence[Step], *, before: datetime | None, count: int) -> tuple[str, ...]:
    """The last ``count`` collapsed steps strictly before ``before`` (all steps when None)."""
    kept = [s for s in steps if before is None or s[1] < before]
    return tuple(label for label, _ in collapse_steps(kept)[-count:])


def last_steps_walk(*, workspace_id: int, query: BeforeQuery) -> LastSteps:
    """:class:`LastSteps` read from the database's events, one customer at a time."""
    workspace = Workspace(pk=workspace_id)
    first: dict[int, datetime] = {}
    if query.kind == CHURN:
        grouped = (
            _step_events(workspace, None, None)
            .values("customer_id")
            .annotate(last=Max("occurred_at"))
            .filter(last__lt=query.cutoff)
            .values("customer_id")
        )
    else:
        match = Q(name__in=query.names) if query.names else Q(pk__in=[])
        if query.topics:
            match |= Q(properties__topic__in=query.topics)
        complaints = event_selectors.workspace_events(workspace=workspace).filter(match)
        if query.since is not None:
            complaints = complaints.filter(occurred_at__gte=query.since)
        if query.until is not None:
            complaints = complaints.filter(occurred_at__lt=query.until)
        if query.customer_ids is not None:
            complaints = complaints.filter(customer_id__in=ids_in(query.customer_ids))
        first = dict(
            complaints.values("customer_id")
            .annotate(at=Min("occurred_at"))
            .values_list("customer_id", "at")
        )
        grouped = complaints.values("customer_id")
    events = _step_events(workspace, None, None).filter(customer_id__in=grouped)
    rest = _step_events(workspace, None, query.until).exclude(customer_id__in=grouped)
    if query.customer_ids is not None:
        events = events.filter(customer_id__in=ids_in(query.customer_ids))
        rest = rest.filter(customer_id__in=ids_in(query.customer_ids))
    found = LastSteps()
    for counter, rows in ((found.group, events), (found.others, rest)):
        for customer_id, history in _steps_by_customer(rows, by_channel=query.by_channel):
            sequence = last_steps(history, before=first.get(customer_id), count=query.steps)
            if sequence:
                counter[sequence] += 1
    return found
