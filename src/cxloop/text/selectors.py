"""Reads of the text app: analyses of a workspace, one analysis, sentiment counts."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from cxloop.core.models import Workspace
from cxloop.text.models import Label, TextAnalysis

__all__ = ["Label", "analysis_for_response", "analysis_get", "sentiment_counts", "workspace_texts"]


def workspace_texts(*, workspace: Workspace) -> QuerySet[TextAnalysis]:
    """Every analysed text of ``workspace``, unordered: a base query."""
    return TextAnalysis.objects.filter(workspace=workspace)


def analysis_get(*, workspace: Workspace, analysis_id: int) -> TextAnalysis | None:
    return workspace_texts(workspace=workspace).filter(pk=analysis_id).first()


def analysis_for_response(*, workspace: Workspace, response_id: int) -> TextAnalysis | None:
    return workspace_texts(workspace=workspace).filter(response_id=response_id).first()


def sentiment_counts(*, texts: QuerySet[TextAnalysis]) -> dict[str, int]:
    """How many of ``texts`` are positive, neutral, negative (every label present, 0 if none)."""
    counts = dict.fromkeys(Label.values, 0)
    for row in texts.order_by().values("label").annotate(n=Count("pk")):
        counts[row["label"]] = row["n"]
    return counts
