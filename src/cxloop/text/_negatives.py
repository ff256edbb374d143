"""What texts are negative about: the words behind negative sentiment and the themes behind
negative texts (top roadblocks), each in a period against the period of equal length just
before it. Private to the app; ``cxloop.text.selectors`` re-exports these."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, timedelta

from django.db.models import Count, QuerySet

from cxloop.core.models import Workspace
from cxloop.text import drivers
from cxloop.text._texts import TextFilters, texts_search, workspace_texts
from cxloop.text.models import Label, TextAnalysis, TextTheme, Theme


def previous_period(filters: TextFilters) -> tuple[TextFilters, tuple[date, date]] | None:
    """``filters`` moved to the period of equal length that ends the day before theirs starts,
    and that period's first and last day; None unless both dates are given."""
    if filters.date_from is None or filters.date_to is None:
        return None
    length = (filters.date_to - filters.date_from).days + 1
    first = filters.date_from - timedelta(days=length)
    last = filters.date_from - timedelta(days=1)
    return replace(filters, date_from=first, date_to=last), (first, last)


def negative_drivers(
    *, workspace: Workspace, filters: TextFilters, top: int = drivers.MAX_TESTED
) -> tuple[list[drivers.DriverChange], tuple[date, date] | None]:
    """The words behind negative sentiment in ``filters``' period (its search words and other
    filters apply) against the period of equal length just before; also that previous period.
    A word counts in the texts read as negative where it pulled the score down ("miss" in a
    text read as neutral does not count), its share out of all the period's texts. Needs both
    dates."""
    moved = previous_period(filters)
    if moved is None:
        return [], None
    before, span = moved
    counted = []
    for period in (filters, before):
        texts = texts_search(workspace=workspace, filters=period)
        negative = texts.filter(label=Label.NEGATIVE).values_list("drivers", flat=True)
        counted.append((drivers.count_words(negative)[0], texts.count()))
    (current, n_current), (previous, n_previous) = counted
    rows = drivers.compare(current, n_current, previous, n_previous, top=top)
    return rows, span


@dataclass(frozen=True)
class Roadblock:
    """A theme behind negative texts: its change against the previous period (``change.word``
    is the theme's id as text), how many customers wrote them, the most negative examples."""

    theme: Theme
    change: drivers.DriverChange
    customers: int
    examples: list[TextAnalysis]


def _negative_by_theme(texts: QuerySet[TextAnalysis]) -> Counter[str]:
    """How many negative texts of ``texts`` carry each visible theme (keyed by its id)."""
    negative = texts.filter(label=Label.NEGATIVE).order_by().values("pk")
    links = (
        TextTheme.objects.filter(analysis__in=negative, theme__hidden=False)
        .values("theme_id")
        .annotate(n=Count("analysis", distinct=True))
    )
    return Counter({str(row["theme_id"]): row["n"] for row in links})


def roadblocks(
    *, workspace: Workspace, filters: TextFilters, top: int = drivers.MAX_TESTED, examples: int = 2
) -> tuple[list[Roadblock], tuple[date, date] | None]:
    """Top roadblocks: the visible themes carried by the most negative texts in ``filters``'
    period, each with its share of all the period's texts against the period of equal length
    just before (Fisher's exact test, Holm across the themes shown; rising ones flagged), the
    customers who wrote them and the most negative examples. Needs both dates."""
    moved = previous_period(filters)
    if moved is None:
        return [], None
    before, span = moved
    current_texts = texts_search(workspace=workspace, filters=filters)
    previous_texts = texts_search(workspace=workspace, filters=before)
    rows = drivers.compare(
        _negative_by_theme(current_texts),
        current_texts.count(),
        _negative_by_theme(previous_texts),
        previous_texts.count(),
        top=top,
    )
    themes = Theme.objects.in_bulk([int(r.word) for r in rows])
    found = []
    for row in rows:
        theme = themes[int(row.word)]
        negative = current_texts.filter(label=Label.NEGATIVE, themes__theme=theme)
        customers = (
            negative.exclude(customer__isnull=True)
            .order_by()
            .values("customer_id")
            .distinct()
            .count()
        )
        worst: list[TextAnalysis] = []
        for text in negative.order_by("score", "pk")[: examples * 10]:
            if text.text not in {t.text for t in worst}:  # the same words once
                worst.append(text)
            if len(worst) == examples:
                break
        found.append(Roadblock(theme, row, customers, worst))
    return found, span


def top_negative_theme(*, workspace: Workspace, response_ids: QuerySet) -> tuple[Theme, int] | None:
    """The visible theme carried by the most negative texts of ``response_ids`` (e.g. a journey
    touchpoint's responses, from the journeys app) and how many; None without any."""
    negative = workspace_texts(workspace=workspace).filter(
        label=Label.NEGATIVE, response_id__in=response_ids
    )
    row = (
        TextTheme.objects.filter(analysis__in=negative.order_by().values("pk"), theme__hidden=False)
        .values("theme_id")
        .annotate(n=Count("analysis", distinct=True))
        .order_by("-n", "theme_id")
        .first()
    )
    if row is None:
        return None
    return Theme.objects.get(pk=row["theme_id"]), row["n"]
