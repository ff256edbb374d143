"""Paths walked in Python over the database's events: the reference implementation of the
analytics engine's path query (``analytics.pathsql.path_sql``), and the per-customer helpers
the "before churn/complaint" walk (``analytics.before``) uses.

A step is a named track/page/screen event; consecutive repeats collapse into one step (three
Product views in a row are one "Product" step). With ``by_channel`` a step is "name · channel".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from cxloop.core.models import Workspace
from cxloop.events import selectors as event_selectors

STEP_TYPES = ("track", "page", "screen")
Step = tuple[str, datetime]


@dataclass
class PathCounts:
    """Customers who did the start (``started``), of them those whose path reached the end
    (``completed``), and the ``top`` paths with their customers (most first, ties by path)."""

    started: int = 0
    completed: int = 0
    top: list[tuple[tuple[str, ...], int]] = field(default_factory=list)


def collapse(labels: Iterable[str]) -> list[str]:
    """Consecutive repeats become one step: A A B A → A B A."""
    return [label for label, _ in groupby(labels)]


def collapse_steps(steps: Iterable[Step]) -> list[Step]:
    """Like :func:`collapse` for (label, time) steps; a run keeps the time of its first step."""
    out: list[Step] = []
    for step in steps:
        if not out or out[-1][0] != step[0]:
            out.append(step)
    return out


def path_between(
    steps: Sequence[Step],
    *,
    start: str,
    end: str,
    max_steps: int,
    within: timedelta | None = None,
) -> tuple[bool, tuple[str, ...] | None]:
    """One customer's path from their first ``start`` to the next ``end`` (collapsed steps).

    Returns (started, path): ``started`` is whether the customer did ``start`` (always True when
    ``start`` is empty and there are steps); ``path`` is the steps from start to end inclusive, or
    None when the end was not reached within ``max_steps`` steps (and ``within`` time of the start).
    Each later ``start`` is tried in turn, so a customer who first wandered off still counts when a
    later attempt reaches the end. With an empty ``start`` the path is the last ``max_steps``
    steps up to the first ``end``; with an empty ``end`` it is the first ``max_steps`` steps from
    the first ``start``.
    """
    collapsed = collapse_steps(steps)
    if not collapsed:
        return False, None
    if not start:
        for index, (label, when) in enumerate(collapsed):
            if label == end:
                first = max(0, index - max_steps + 1)
                if within is not None:
                    while when - collapsed[first][1] > within:  # no date overflow
                        first += 1
                return True, tuple(label for label, _ in collapsed[first : index + 1])
        return True, None
    starts = [i for i, (label, _) in enumerate(collapsed) if label == start]
    if not starts:
        return False, None
    if not end:
        i = starts[0]
        window = collapsed[i : i + max_steps]
        if within is not None:
            window = [s for s in window if s[1] - collapsed[i][1] <= within]
        return True, tuple(label for label, _ in window)
    for i in starts:
        began = collapsed[i][1]
        for j in range(i + 1, min(len(collapsed), i + max_steps)):
            label, when = collapsed[j]
            if within is not None and when - began > within:
                break
            if label == end:
                return True, tuple(lab for lab, _ in collapsed[i : j + 1])
            if label == start:
                break  # a fresh attempt starts here; the loop over starts tries it
    return True, None


def step_label(name: str, channel: str, *, by_channel: bool) -> str:
    return f"{name} · {channel}" if by_channel else name


def _steps_by_customer(
    events, *, by_channel: bool, chunk: int = 5000
) -> Iterator[tuple[int, list[Step]]]:
    rows = events.order_by("customer_id", "occurred_at", "pk").values_list(
        "customer_id", "name", "channel", "occurred_at"
    )
    for customer_id, group in groupby(rows.iterator(chunk_size=chunk), key=lambda row: row[0]):
        yield (
            customer_id,
            [(step_label(n, c, by_channel=by_channel), t) for _, n, c, t in group],
        )


def _step_events(workspace: Workspace, since: datetime | None, until: datetime | None):
    events = (
        event_selectors.workspace_events(workspace=workspace)
        .filter(type__in=STEP_TYPES)
        .exclude(name="")
    )
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    return events


def match_label(label: str, start: str, end: str) -> str:
    """With channels on, a bare start/end name matches its steps on any channel."""
    name = label.split(" · ")[0]
    if name in (start, end) and label not in (start, end):
        return name
    return label


def path_counts(
    *,
    workspace_id: int,
    start: str,
    end: str,
    max_steps: int,
    within: timedelta | None,
    by_channel: bool,
    since: datetime | None,
    until: datetime | None,
    customer_ids: Iterable[Any] | None,
    top: int,
) -> PathCounts:
    """Walk every customer who ever did the anchor event (start, else end) through
    :func:`path_between`."""
    workspace = Workspace(pk=workspace_id)
    events = _step_events(workspace, since, until)
    anchor_name = (start or end).split(" · ")[0]
    with_anchor = (
        event_selectors.workspace_events(workspace=workspace)
        .filter(name=anchor_name)
        .values("customer_id")
    )
    events = events.filter(customer_id__in=with_anchor)
    if customer_ids is not None:
        events = events.filter(customer_id__in=customer_ids)
    result = PathCounts()
    found: Counter[tuple[str, ...]] = Counter()
    for _, steps in _steps_by_customer(events, by_channel=by_channel):
        if by_channel:
            steps = [(match_label(label, start, end), when) for label, when in steps]
        started, path = path_between(
            steps, start=start, end=end, max_steps=max_steps, within=within
        )
        result.started += started
        if path is not None:
            found[path] += 1
    result.completed = sum(found.values())
    result.top = sorted(found.items(), key=lambda item: (-item[1], item[0]))[:top]
    return result
