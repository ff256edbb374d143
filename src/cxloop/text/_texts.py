"""The text app's base reads: what a search asks for (``TextFilters``) and the texts that
match it. Private to the app; other apps use ``cxloop.text.selectors``, which re-exports these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import QuerySet

from cxloop.core.models import Workspace
from cxloop.text import search
from cxloop.text.models import TextAnalysis

NPS_GROUPS = {"detractor": (0, 6), "passive": (7, 8), "promoter": (9, 10)}
EMOTIONS = ("anger", "frustration", "disappointment", "joy", "gratitude")


@dataclass(frozen=True)
class TextFilters:
    """What a search asks for; empty values do not filter. Dates are inclusive days (UTC)."""

    query: str = ""
    label: str = ""  # positive, neutral, negative
    nps: str = ""  # detractor, passive, promoter
    channel: str = ""
    source: str = ""
    emotion: str = ""
    theme: int | None = None  # a theme's id
    date_from: date | None = None
    date_to: date | None = None


def workspace_texts(*, workspace: Workspace) -> QuerySet[TextAnalysis]:
    """Every analysed text of ``workspace``, unordered: a base query."""
    return TextAnalysis.objects.filter(workspace=workspace)


def day_start(day: date) -> datetime:
    """The first instant of ``day`` (UTC)."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def texts_filter(texts: QuerySet[TextAnalysis], filters: TextFilters) -> QuerySet[TextAnalysis]:
    """``texts`` narrowed by every filter but the search words."""
    if filters.label:
        texts = texts.filter(label=filters.label)
    if filters.nps in NPS_GROUPS:
        low, high = NPS_GROUPS[filters.nps]
        texts = texts.filter(nps_score__gte=low, nps_score__lte=high)
    if filters.channel:
        texts = texts.filter(channel=filters.channel)
    if filters.source:
        texts = texts.filter(source=filters.source)
    if filters.emotion in EMOTIONS:
        # JSON lists are stored as text on both databases; the quotes make it a whole item
        texts = texts.filter(emotions__icontains=f'"{filters.emotion}"')
    if filters.theme is not None:
        texts = texts.filter(themes__theme_id=filters.theme)
    if filters.date_from:
        texts = texts.filter(written_at__gte=day_start(filters.date_from))
    if filters.date_to:
        texts = texts.filter(written_at__lt=day_start(filters.date_to + timedelta(days=1)))
    return texts


def texts_search(*, workspace: Workspace, filters: TextFilters) -> QuerySet[TextAnalysis]:
    """Analysed texts matching the search words (``search.parse``: all words, "phrases", OR,
    -excluded; stemmed) and every filter, newest first."""
    texts = texts_filter(workspace_texts(workspace=workspace), filters)
    if filters.query.strip():
        parsed = search.parse(filters.query)
        if parsed.empty:
            return texts.none()
        if parsed.groups:
            texts = texts.filter(pk__in=search.matching_ids(parsed.groups))
        for term in parsed.excluded:
            texts = texts.exclude(pk__in=search.matching_ids(((term,),)))
    return texts.order_by("-written_at", "-pk")
