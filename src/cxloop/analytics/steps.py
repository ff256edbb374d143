"""What a funnel step is to the engine: an event name, an optional channel and conditions on the
event's properties. ``journeys.definitions.RuleSpec`` and ``Condition`` are such objects; the
engine needs no more than these attributes, so it does not import the journeys app."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class StepCondition(Protocol):
    """``property`` (dotted path) ``op`` (eq, neq, gt, gte, lt, lte, contains, exists) ``value``."""

    @builtins.property
    def property(self) -> str: ...
    @builtins.property
    def op(self) -> str: ...
    @builtins.property
    def value(self) -> Any: ...
    def test(self, properties: Mapping) -> bool: ...


class Step(Protocol):
    @builtins.property
    def event(self) -> str: ...
    @builtins.property
    def channel(self) -> str: ...
    @builtins.property
    def conditions(self) -> Sequence[StepCondition]: ...


@dataclass(frozen=True)
class EventTest:
    """Who has at least ``min_count`` events named ``event`` (on ``channel`` unless empty, in
    [``since``, ``until``), meeting every condition): one of a segment's event conditions."""

    event: str
    channel: str = ""
    since: datetime | None = None
    until: datetime | None = None
    min_count: int = 1
    conditions: tuple[StepCondition, ...] = ()


# ------------------------------------------------------------------ funnel modes and exclusions

ORDERED = "ordered"  # each step after the previous one, other events allowed in between
STRICT = "strict"  # each step at the customer's very next moment of activity after the previous
ANY_ORDER = "any"  # the steps in any order: step k counts customers who did any k of them
MODES = (ORDERED, STRICT, ANY_ORDER)


class Exclusion(Protocol):
    """An event that must not happen between steps ``after`` and ``after + 1`` (1-based): a
    customer doing it strictly between those steps' times does not convert past step ``after``."""

    @builtins.property
    def step(self) -> Step: ...
    @builtins.property
    def after(self) -> int: ...
