"""Reads for the journey editor's rule picker: which properties an event carries (and of what
type), and how many events a rule matches while it is being edited.

Both read the system of record (``events.selectors.workspace_events``) over a date range ending at
the workspace's latest event (imported history) or now, whichever is earlier, so a count costs
one indexed range scan however large the history is. A rule without property conditions is
counted by the database; with conditions, the events of that name and channel in the range are
tested in Python with the rule itself (the same test the journey walk uses), up to ``MAX_SCAN``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from cxloop.core.models import Workspace
from cxloop.events import selectors as event_selectors
from cxloop.journeys.definitions import RuleSpec

RANGE_DAYS = 90
SAMPLE = 1000  # latest events of a name read to learn its properties
MAX_SCAN = 200_000  # events tested in Python for one live count
MAX_PROPERTIES = 60
MAX_EXAMPLES = 8
MAX_DEPTH = 3


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime  # the as-of time


@dataclass(frozen=True)
class PropertySeen:
    name: str  # dotted path for nested objects
    kind: str  # number | string | boolean
    seen: int  # of the sampled events carrying it
    examples: tuple[str, ...]  # most common values (strings only)


@dataclass(frozen=True)
class RuleCount:
    events: int
    window: Window
    capped: bool  # more than MAX_SCAN events to test: ``events`` counts the latest MAX_SCAN


def picker_window(*, workspace: Workspace, days: int = RANGE_DAYS) -> Window:
    """The ``days`` up to the workspace's latest event, or up to now when that is later."""
    now = timezone.now()
    latest = event_selectors.event_latest_at(workspace=workspace)
    until = min(latest, now) if latest is not None else now
    return Window(since=until - timedelta(days=days), until=until)


def event_properties(*, workspace: Workspace, event: str, window: Window) -> list[PropertySeen]:
    """Properties of the latest ``SAMPLE`` events named ``event`` in ``window``, most common first,
    each with its type (the commonest among its values) and, for text, its commonest values."""
    rows = (
        _events(workspace, window)
        .filter(name=event)
        .order_by("-occurred_at")
        .values_list("properties", flat=True)[:SAMPLE]
    )
    kinds: dict[str, Counter] = {}
    values: dict[str, Counter] = {}
    for properties in rows:
        if isinstance(properties, Mapping):
            for name, value in _flatten(properties, "", 0):
                kind = _kind(value)
                if kind is None:
                    continue
                kinds.setdefault(name, Counter())[kind] += 1
                if kind == "string":
                    values.setdefault(name, Counter())[str(value)[:100]] += 1
    ranked = sorted(kinds.items(), key=lambda item: (-item[1].total(), item[0]))
    result = []
    for name, counts in ranked[:MAX_PROPERTIES]:
        kind = counts.most_common(1)[0][0]
        examples = values.get(name, Counter()).most_common(MAX_EXAMPLES) if kind == "string" else []
        result.append(
            PropertySeen(name, kind, counts.total(), tuple(value for value, _ in examples))
        )
    return result


def rule_event_count(*, workspace: Workspace, rule: RuleSpec, window: Window) -> RuleCount:
    """How many events in ``window`` the rule matches (name, channel, every condition)."""
    events = _events(workspace, window).filter(name=rule.event)
    if rule.channel:
        events = events.filter(channel=rule.channel)
    if not rule.conditions:
        return RuleCount(events.count(), window, capped=False)
    rows = events.order_by("-occurred_at").values_list("properties", flat=True)
    matched = 0
    for scanned, properties in enumerate(rows[: MAX_SCAN + 1].iterator(chunk_size=5000), 1):
        if scanned > MAX_SCAN:
            return RuleCount(matched, window, capped=True)
        if all(c.test(properties or {}) for c in rule.conditions):
            matched += 1
    return RuleCount(matched, window, capped=False)


def _events(workspace: Workspace, window: Window):
    return event_selectors.workspace_events(workspace=workspace).filter(
        occurred_at__gte=window.since, occurred_at__lte=window.until
    )


def _flatten(properties: Mapping, prefix: str, depth: int):
    for key, value in properties.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and depth < MAX_DEPTH:
            yield from _flatten(value, f"{name}.", depth + 1)
        else:
            yield name, value


def _kind(value: object) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "string"  # "contains" tests list items
    return None
