"""Reads of the text app: analyses of a workspace, search with filters (``_texts``), sentiment
counts, the top negative drivers and roadblocks of a period against the previous one
(``_negatives``), key drivers and themes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Avg, Count, Max, Min, Q, QuerySet

from cxloop.core.models import Workspace
from cxloop.text import keydrivers, scoring, semantic, trends
from cxloop.text._facts import ResponseText, response_text
from cxloop.text._negatives import Roadblock, negative_drivers, roadblocks, top_negative_theme
from cxloop.text._teaching_reads import (
    TeachingStatus,
    sentiment_label_of,
    sentiment_teaching,
    texts_to_label,
)
from cxloop.text._texts import (
    EMOTIONS,
    NPS_GROUPS,
    TextFilters,
    day_start,
    texts_filter,
    texts_search,
    workspace_texts,
)
from cxloop.text.models import Label, TextAnalysis, TextTheme, Theme, ThemeUndo

__all__ = [
    "EMOTIONS",
    "KEY_DRIVER_METRICS",
    "NPS_GROUPS",
    "SEARCH_MODES",
    "SEMANTIC_LIMIT",
    "Label",
    "ResponseText",
    "Roadblock",
    "SemanticHits",
    "TeachingStatus",
    "TextFilters",
    "analysis_for_response",
    "analysis_get",
    "embedding_engine",
    "embedding_model_installed",
    "key_drivers",
    "negative_drivers",
    "period_all",
    "period_default",
    "response_text",
    "roadblocks",
    "sentiment_by_day",
    "sentiment_counts",
    "sentiment_label_of",
    "sentiment_teaching",
    "texts_by_ids",
    "texts_search",
    "texts_semantic",
    "texts_to_label",
    "theme_busiest",
    "theme_choices",
    "theme_customer_ids",
    "theme_get",
    "theme_trend",
    "theme_weeks",
    "themes_list",
    "top_negative_theme",
    "workspace_texts",
]

DEFAULT_DAYS = 30
KEY_DRIVER_METRICS = keydrivers.METRICS
SEARCH_MODES = ("words", "semantic")
SEMANTIC_LIMIT = semantic.LIMIT
SemanticHits = semantic.SemanticHits


def analysis_get(*, workspace: Workspace, analysis_id: int) -> TextAnalysis | None:
    return workspace_texts(workspace=workspace).filter(pk=analysis_id).first()


def analysis_for_response(*, workspace: Workspace, response_id: int) -> TextAnalysis | None:
    return workspace_texts(workspace=workspace).filter(response_id=response_id).first()


def texts_semantic(
    *, workspace: Workspace, filters: TextFilters, limit: int = SEMANTIC_LIMIT
) -> SemanticHits:
    """The ``limit`` texts under every filter closest in meaning to the search words (cosine of
    sentence embeddings, or of the LSA fallback's vectors), closest first."""
    texts = texts_filter(workspace_texts(workspace=workspace), filters)
    return semantic.rank(workspace=workspace, texts=texts, query=filters.query, limit=limit)


def embedding_engine() -> str:
    """Which engine semantic search and themes use, in words (the model, or the fallback)."""
    return semantic.engine_label()


def sentiment_model(*, version: str | None = None) -> str:
    """Which model scored an analysis (its stored ``version``), or scores new texts (None), in
    words."""
    return scoring.model_label(version)


def embedding_model_installed() -> bool:
    """Whether sentence embeddings are in use (else the LSA fallback)."""
    return semantic.model_installed()


def texts_by_ids(*, workspace: Workspace, ids: list[int]) -> list[TextAnalysis]:
    """These analyses of ``workspace`` in the order of ``ids`` (ids not found left out)."""
    found = workspace_texts(workspace=workspace).in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


def sentiment_counts(*, texts: QuerySet[TextAnalysis]) -> dict[str, int]:
    """How many of ``texts`` are positive, neutral, negative (every label present, 0 if none)."""
    counts = dict.fromkeys(Label.values, 0)
    for row in texts.order_by().values("label").annotate(n=Count("pk")):
        counts[row["label"]] = row["n"]
    return counts


def sentiment_by_day(*, texts: QuerySet[TextAnalysis]) -> list[tuple[date, dict[str, int]]]:
    """Counts per label per day (UTC), oldest first, days without texts left out."""
    days: dict[date, dict[str, int]] = {}
    for written_at, label in texts.order_by().values_list("written_at", "label").iterator():
        day = written_at.astimezone(UTC).date()
        days.setdefault(day, dict.fromkeys(Label.values, 0))[label] += 1
    return sorted(days.items())


def period_default(
    *, workspace: Workspace, now: datetime | None = None, days: int = DEFAULT_DAYS
) -> tuple[date, date]:
    """The last ``days`` days up to the as-of day: the latest text's day when that is
    earlier than today (imported history), else today (live data)."""
    today = (now or datetime.now(UTC)).date()
    latest = workspace_texts(workspace=workspace).aggregate(m=Max("written_at"))["m"]
    end = min(today, latest.astimezone(UTC).date()) if latest else today
    return end - timedelta(days=days - 1), end


def period_all(*, workspace: Workspace, longest: int = 3660) -> tuple[date, date] | None:
    """The days from the first text to the last (at most ``longest`` days, ending at the last);
    None without texts."""
    span = workspace_texts(workspace=workspace).aggregate(a=Min("written_at"), b=Max("written_at"))
    if span["a"] is None:
        return None
    first, last = span["a"].astimezone(UTC).date(), span["b"].astimezone(UTC).date()
    return max(first, last - timedelta(days=longest - 1)), last


def key_drivers(
    *,
    workspace: Workspace,
    metric: str,
    filters: TextFilters,
    response_ids: QuerySet | None = None,
    customer_ids: QuerySet | None = None,
) -> keydrivers.KeyDrivers:
    """Which visible themes move ``metric`` (nps, csat or ces) most among the texts that
    ``filters`` find and that carry that score (see ``text.keydrivers``); only the texts of
    ``response_ids`` (e.g. a journey touchpoint's responses) and of ``customer_ids`` (e.g. the
    customers now at a journey stage) when given: the journeys app answers those."""
    column = f"{metric}_score"
    if metric not in keydrivers.METRICS:
        raise ValueError(f"metric: {metric!r} is not one of {', '.join(keydrivers.METRICS)}")
    low, high = keydrivers.SCALES[metric]
    texts = texts_search(workspace=workspace, filters=filters).filter(
        **{f"{column}__gte": low, f"{column}__lte": high}
    )
    if response_ids is not None:
        texts = texts.filter(response_id__in=response_ids)
    if customer_ids is not None:
        texts = texts.filter(customer_id__in=customer_ids)
    scores = dict(texts.order_by().values_list("pk", column))
    names = dict(Theme.objects.filter(workspace=workspace, hidden=False).values_list("pk", "name"))
    carried: dict[int, set[int]] = {pk: set() for pk in scores}
    links = TextTheme.objects.filter(analysis__in=texts.order_by().values("pk"), theme__in=names)
    for analysis_id, theme_id in links.values_list("analysis_id", "theme_id"):
        if analysis_id in carried:
            carried[analysis_id].add(theme_id)
    order = sorted(scores)
    return keydrivers.estimate(
        metric=metric,
        scores=[scores[pk] for pk in order],
        themes=[carried[pk] for pk in order],
        names=names,
    )


# ---------------------------------------------------------------- themes


@dataclass(frozen=True)
class ThemeRow:
    theme: Theme
    texts: int
    negative: int
    mean_score: float | None
    examples: list[TextAnalysis]


def theme_choices(*, workspace: Workspace, chosen: int | None = None) -> list[tuple[int, str]]:
    """(id, name) of the visible themes, by name: a filter's options; a hidden theme only
    while it is ``chosen``, named so."""
    shown = Q(hidden=False) | Q(pk=chosen) if chosen else Q(hidden=False)
    found = Theme.objects.filter(shown, workspace=workspace).order_by("name", "pk")
    rows = found.values_list("pk", "name", "hidden")
    return [(pk, f"{name} (hidden)" if hidden else name) for pk, name, hidden in rows]


def theme_weeks(
    *,
    workspace: Workspace,
    weeks: int = 26,
    top: int = 8,
    now: datetime | None = None,
    end: date | None = None,
) -> tuple[list[date], list[tuple[str, list[int]]]]:
    """Texts per week (Monday-based, UTC) of the ``top`` visible themes with the most texts, over
    the ``weeks`` weeks up to ``end``, by default the as-of day (the latest text's, or today
    when that is earlier): the weeks, and (theme name, count per week) most texts first."""
    if end is None:
        _, end = period_default(workspace=workspace, now=now, days=1)
    last_monday = end - timedelta(days=end.weekday())
    first_monday = last_monday - timedelta(weeks=weeks - 1)
    days = [first_monday + timedelta(weeks=i) for i in range(weeks)]
    links = TextTheme.objects.filter(
        theme__workspace=workspace,
        theme__hidden=False,
        analysis__written_at__gte=day_start(first_monday),
        analysis__written_at__lt=day_start(end + timedelta(days=1)),
    ).values_list("theme_id", "analysis__written_at")
    counts: dict[int, list[int]] = {}
    for theme_id, written in links.iterator(chunk_size=5000):
        day = written.astimezone(UTC).date()
        index = (day - first_monday).days // 7
        counts.setdefault(theme_id, [0] * weeks)[index] += 1
    names = dict(Theme.objects.filter(pk__in=counts).values_list("pk", "name"))
    ranked = sorted(counts, key=lambda t: (-sum(counts[t]), names[t]))[:top]
    return days, [(names[t], counts[t]) for t in ranked]


def theme_busiest(*, workspace: Workspace) -> Theme | None:
    """The visible theme carried by the most texts (by name on a tie), or None."""
    visible = Theme.objects.filter(workspace=workspace, hidden=False)
    return visible.annotate(n=Count("texts")).order_by("-n", "name", "pk").first()


def theme_trend(
    *,
    workspace: Workspace,
    theme: Theme,
    weeks: int = 26,
    customer_ids: QuerySet | None = None,
    now: datetime | None = None,
) -> trends.ThemeTrend:
    """``theme`` over the ``weeks`` weeks (Monday-based, UTC) up to the as-of day (as in
    :func:`theme_weeks`), per channel: each week's texts carrying it, all texts, and the share
    with its Wilson 95 % interval (see ``text.trends``). ``customer_ids`` (e.g. a saved
    segment's members, from the segments app) keeps only those customers' texts."""
    _, end = period_default(workspace=workspace, now=now, days=1)
    last_monday = end - timedelta(days=end.weekday())
    first_monday = last_monday - timedelta(weeks=weeks - 1)
    texts = workspace_texts(workspace=workspace).filter(
        written_at__gte=day_start(first_monday), written_at__lt=day_start(end + timedelta(days=1))
    )
    if customer_ids is not None:
        texts = texts.filter(customer_id__in=customer_ids)
    carrying = set(
        TextTheme.objects.filter(theme=theme, analysis__in=texts.order_by().values("pk"))
        .values_list("analysis_id", flat=True)
        .iterator(chunk_size=5000)
    )
    rows = (
        (channel, (written.astimezone(UTC).date() - first_monday).days // 7, pk in carrying)
        for pk, channel, written in texts.order_by()
        .values_list("pk", "channel", "written_at")
        .iterator(chunk_size=5000)
    )
    return trends.ThemeTrend(
        theme_id=theme.pk,
        name=theme.name,
        weeks=[first_monday + timedelta(weeks=i) for i in range(weeks)],
        channels=trends.channel_trends(rows, weeks=weeks),
    )


def theme_customer_ids(
    *,
    workspace: Workspace,
    theme_id: int,
    label: str = "",
    channel: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet:
    """Ids of the customers who wrote a text carrying theme ``theme_id`` (with ``label`` and on
    ``channel`` when given) between the days given (inclusive, UTC): a subquery, e.g. for a
    segment condition. Texts without a known customer count for nobody."""
    filters = TextFilters(label=label, channel=channel, date_from=date_from, date_to=date_to)
    texts = texts_filter(workspace_texts(workspace=workspace), filters)
    return (
        texts.filter(themes__theme_id=theme_id, customer__isnull=False)
        .order_by()
        .values("customer_id")
        .distinct()
    )


def theme_get(*, workspace: Workspace, theme_id: int) -> Theme | None:
    return Theme.objects.filter(workspace=workspace, pk=theme_id).first()


def theme_last_change(*, workspace: Workspace) -> ThemeUndo | None:
    """The workspace's last merge or split of themes while it can still be undone (until the
    themes are curated again): ``said`` tells what it did."""
    # what it says, not what it keeps: its snapshot can hold every text of two themes
    return ThemeUndo.objects.filter(workspace=workspace).defer("state").first()


def themes_list(*, workspace: Workspace, hidden: bool = True, examples: int = 3) -> list[ThemeRow]:
    """The workspace's themes, most texts first, with counts, sentiment and example texts
    (the most typical, each wording once); ``hidden=False`` leaves hidden ones out."""
    found = Theme.objects.filter(workspace=workspace)
    if not hidden:
        found = found.filter(hidden=False)
    found = found.annotate(
        n=Count("texts"),
        negative=Count("texts", filter=Q(texts__analysis__label=Label.NEGATIVE)),
        mean=Avg("texts__analysis__score"),
    ).order_by("hidden", "-n", "name")
    rows = []
    for theme in found:
        links = TextTheme.objects.filter(theme=theme).select_related("analysis")
        top: list[TextAnalysis] = []
        for link in links.order_by("-weight", "pk")[: examples * 10]:
            if link.analysis.text not in {t.text for t in top}:  # the same words once
                top.append(link.analysis)
            if len(top) == examples:
                break
        rows.append(ThemeRow(theme, theme.n, theme.negative, theme.mean, top))
    return rows
