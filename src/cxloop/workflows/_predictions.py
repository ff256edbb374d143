"""Rule facts from predictions: the customer's latest CLV, churn risk, P(alive) and expected
purchases as ``prediction.<name>``, read only for rules whose conditions name one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cxloop.core.models import Workspace
from cxloop.predict import selectors as predict_selectors
from cxloop.workflows.ruledefs import PREDICTION_FACTS


def wants_predictions(conditions: Sequence[Mapping[str, Any]]) -> bool:
    return any(c.get("field") in PREDICTION_FACTS for c in conditions)


class Predictions:
    """Customers' latest predictions as ``prediction.<name>`` facts, read once per customer
    (missing for a customer never scored)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.known: dict[int, dict[str, Any]] = {}

    def facts(self, customer) -> dict[str, Any]:
        if customer is None:
            return {}
        if customer.pk not in self.known:
            score = predict_selectors.customer_score_latest(
                workspace=self.workspace, customer_id=customer.pk
            )
            values = predict_selectors.score_values(score)
            self.known[customer.pk] = {
                field: values[field.removeprefix("prediction.")] for field in PREDICTION_FACTS
            }
        return self.known[customer.pk]
