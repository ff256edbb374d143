"""Rule facts read from other apps only when a rule names them: the customer's saved segments
and journey stages (``in_segment``, ``stage.<map>``, ``reached.<map>``) and a response's text
analytics (``sentiment``, ``sentiment_score``, ``theme``).

The segments, journeys and text apps are imported when first needed: they load statistics
libraries that a worker's start (every process loading this app) need not pay for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cxloop.core.models import Workspace
from cxloop.workflows.ruledefs import CUSTOMER_PREFIXES, TEXT_FACTS, Choices, is_customer_fact


def wants_customer(conditions: Sequence[Mapping[str, Any]]) -> bool:
    return any(is_customer_fact(str(c.get("field", ""))) for c in conditions)


def wants_text(conditions: Sequence[Mapping[str, Any]]) -> bool:
    return any(c.get("field") in TEXT_FACTS for c in conditions)


def rule_choices(workspace: Workspace) -> Choices:
    """The segments, themes and stages of ``workspace`` a rule may name (for validation)."""
    from cxloop.journeys import selectors as journey_selectors
    from cxloop.segments import selectors as segment_selectors
    from cxloop.text import selectors as text_selectors

    return Choices(
        segments=set(segment_selectors.segment_list(workspace=workspace).values_list("pk", flat=True)),
        themes={pk for pk, _ in text_selectors.theme_choices(workspace=workspace)},
        stages={journey.pk: {s.pk for s in stages}
                for journey, stages in journey_selectors.stage_choices(workspace=workspace)},
    )  # fmt: skip


class ExtraFacts:
    """Segment, stage and text facts for the conditions of some rules, each read once per
    customer (or response). ``bulk``: a history replay, which reads each named segment's
    members once (today's membership) instead of asking per customer."""

    def __init__(
        self, workspace: Workspace, conditions: Sequence[Mapping[str, Any]], *, bulk: bool = False
    ) -> None:
        self.workspace = workspace
        self.segment_ids = sorted(
            {int(c["value"]) for c in conditions if c.get("field") == "in_segment"}
        )
        self.journeys = sorted(
            {int(str(c["field"]).partition(".")[2]) for c in conditions
             if str(c.get("field", "")).startswith(CUSTOMER_PREFIXES)}
        )  # fmt: skip
        self.text = wants_text(conditions)
        self.bulk = bulk
        self.known: dict[int, dict[str, Any]] = {}
        self.members: dict[int, set[int]] | None = None

    def facts(self, customer, facts: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if customer is not None and (self.segment_ids or self.journeys):
            if customer.pk not in self.known:
                self.known[customer.pk] = self._customer(customer.pk)
            out.update(self.known[customer.pk])
        if self.text and facts.get("response"):
            out.update(self._text(int(facts["response"]), str(facts.get("comment") or "")))
        return out

    def _customer(self, customer_id: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.segment_ids:
            out["in_segment"] = frozenset(self._segments(customer_id))
        if self.journeys:
            from cxloop.journeys import selectors as journey_selectors

            at = {row["journey"].pk: row["stage"]
                  for row in journey_selectors.customer_journey_stages(customer_id=customer_id)}  # fmt: skip
            orders = self._orders()
            for journey in self.journeys:
                stage = at.get(journey)
                out[f"stage.{journey}"] = stage.pk if stage is not None else None
                reached = orders.get(journey, [])
                if stage is not None and stage.pk in reached:
                    reached = reached[: reached.index(stage.pk) + 1]
                else:
                    reached = []
                out[f"reached.{journey}"] = frozenset(reached)
        return out

    def _orders(self) -> dict[int, list[int]]:
        """Each named journey map's stage ids, first stage first."""
        if not hasattr(self, "_stage_orders"):
            from cxloop.journeys import selectors as journey_selectors

            self._stage_orders = {
                journey.pk: [s.pk for s in sorted(stages, key=lambda s: (s.position, s.pk))]
                for journey, stages in journey_selectors.stage_choices(workspace=self.workspace)
                if journey.pk in self.journeys
            }
        return self._stage_orders

    def _segments(self, customer_id: int) -> set[int]:
        from cxloop.segments import selectors as segment_selectors

        if not self.bulk:
            return segment_selectors.customer_segment_ids(
                workspace=self.workspace, customer_id=customer_id, segment_ids=self.segment_ids
            )
        if self.members is None:
            self.members = {}
            for segment_id in self.segment_ids:
                try:
                    ids = segment_selectors.segment_member_ids(
                        workspace=self.workspace, segment_id=segment_id
                    )
                    self.members[segment_id] = set(ids)
                except segment_selectors.SegmentChoiceError:
                    self.members[segment_id] = set()
        return {pk for pk, ids in self.members.items() if customer_id in ids}

    def _text(self, response_id: int, comment: str) -> dict[str, Any]:
        from cxloop.text import selectors as text_selectors

        found = text_selectors.response_text(
            workspace=self.workspace, response_id=response_id, comment=comment
        )
        return {"sentiment": found.label, "sentiment_score": found.score,
                "theme": found.theme_ids}  # fmt: skip


def wants_extra(conditions: Sequence[Mapping[str, Any]]) -> bool:
    return wants_customer(conditions) or wants_text(conditions)
