"""REST routes for text analytics (mounted under /api/ by cxloop.api.rest): search across
customer text, one text's analysis, and the top negative drivers of a period."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.errors import HttpError

from cxloop.api.access import may, request_workspace
from cxloop.api.errors import ERRORS
from cxloop.api.params import MAX_ID, id_param, limit_param, offset_param
from cxloop.core.permissions import Capability
from cxloop.journeys import selectors as journey_selectors
from cxloop.segments import selectors as segment_selectors
from cxloop.text import selectors as text_selectors
from cxloop.text.filters import FilterInvalid, filters_complete, filters_parse, theme_problem

router = Router(tags=["text"])


class TextParams(Schema):
    """Search words and filters (all optional)."""

    q: str = Query(
        "",
        description='Words that must all occur (stemmed); "a phrase" in quotes, '
        "late OR delayed for either, -refund to leave texts out; at most 200 characters",
    )
    label: str = Query("", description="Sentiment: positive, neutral or negative")
    nps: str = Query("", description="NPS group: detractor, passive or promoter")
    channel: str = Query("", description="Only texts about this channel")
    source: str = Query("", description="survey, review, import, api, …")
    emotion: str = Query("", description="anger, frustration, disappointment, joy or gratitude")
    date_from: str = Query("", description="First day, YYYY-MM-DD, 1971-01-01 to 2200-12-31")
    date_to: str = Query(
        "", description="Last day, inclusive, YYYY-MM-DD, 1971-01-01 to 2200-12-31"
    )
    theme: str = Query("", description="Only texts carrying this theme (its id)")
    workspace: str = Query("", description="Workspace slug (default: your first)")


class WordOut(Schema):
    word: str
    valence: float


class SentenceOut(Schema):
    text: str
    start: int
    score: float
    label: str
    drivers: list[WordOut]


class TextOut(Schema):
    id: int
    response_id: int | None
    customer_id: int | None
    source: str
    channel: str
    written_at: datetime
    nps_score: int | None
    csat_score: int | None
    ces_score: int | None
    text: str
    pii: list[str]
    score: float
    label: str
    emotions: list[str]
    english: bool
    truncated: bool


class TextAnalysisOut(TextOut):
    sentences: list[SentenceOut]
    drivers: list[WordOut]
    original: str | None  # the text as written: only for roles with read_pii, else null
    sentiment_model: str  # which model scored the text (learned head or lexicon), in words


class DriverChangeOut(Schema):
    word: str
    count: int
    share: float
    previous_count: int
    previous_share: float
    p_value: float
    p_holm: float
    rising: bool
    falling: bool


class TextDriversOut(Schema):
    date_from: date
    date_to: date
    previous_from: date
    previous_to: date
    drivers: list[DriverChangeOut]


def _filters(workspace, params: TextParams):
    """The filters, each checked (a theme this workspace has among them)."""
    try:
        filters = filters_parse(params.dict())
    except FilterInvalid as invalid:
        raise HttpError(422, str(invalid)) from None
    if problem := theme_problem(workspace=workspace, theme_id=filters.theme):
        raise HttpError(422, f"theme: {problem}")
    return filters


def _period(workspace, params: TextParams, *, days: int = text_selectors.DEFAULT_DAYS):
    """The filters with both dates (``filters_complete``: a missing one from the as-of day and
    ``days``) and those dates."""
    try:
        parsed = filters_parse(params.dict())
        return filters_complete(workspace=workspace, filters=parsed, days=days)
    except FilterInvalid as invalid:
        raise HttpError(422, str(invalid)) from None


class TextHitOut(TextOut):
    similarity: float | None  # cosine to the query in semantic mode, else null


@router.get(
    "/text/search", response={200: list[TextHitOut], **ERRORS}, summary="Search customer text"
)
def text_search(
    request: HttpRequest,
    params: Query[TextParams],
    limit: int = limit_param(50),
    offset: int = offset_param(),
    mode: str = Query(
        "words",
        description="words: every word must occur (stemmed; phrases, OR and -word as in q), "
        "newest first; semantic: the "
        f"{text_selectors.SEMANTIC_LIMIT} texts closest in meaning to q, closest first",
    ),
):
    """Analysed texts (PII redacted) with every word and filter, newest first; or, with
    ``mode=semantic``, ranked by closeness in meaning to ``q`` (sentence embeddings, or the LSA
    fallback when the embeddings extra is not installed)."""
    workspace = request_workspace(request, params.workspace, need=Capability.READ_FEEDBACK)
    if mode not in text_selectors.SEARCH_MODES:
        raise HttpError(
            422, f"mode: {mode[:40]!r} is not one of {', '.join(text_selectors.SEARCH_MODES)}"
        )
    filters = _filters(workspace, params)
    if mode == "semantic" and filters.query.strip():
        found = text_selectors.texts_semantic(workspace=workspace, filters=filters)
        chosen = found.hits[offset : offset + limit]
        similarity = dict(chosen)
        ranked = text_selectors.texts_by_ids(workspace=workspace, ids=[pk for pk, _ in chosen])
        return [_hit(t, similarity[t.pk]) for t in ranked]
    texts = text_selectors.texts_search(workspace=workspace, filters=filters)
    return [_hit(t, None) for t in texts[offset : offset + limit]]


def _hit(analysis, similarity: float | None) -> dict:
    return {
        **{name: getattr(analysis, name) for name in TextOut.model_fields},
        "similarity": similarity,
    }


@router.get(
    "/text/drivers",
    response={200: TextDriversOut, **ERRORS},
    summary="Top negative drivers against the previous period",
)
def text_drivers(request: HttpRequest, params: Query[TextParams]):
    """Words behind negative sentiment in the period (default: the last 30 days up to the
    latest text) against the period of equal length before, Fisher's exact test with Holm."""
    workspace = request_workspace(request, params.workspace, need=Capability.READ_FEEDBACK)
    filters, start, end = _period(workspace, params)
    rows, previous = text_selectors.negative_drivers(workspace=workspace, filters=filters)
    if previous is None:
        raise HttpError(422, "date_from, date_to: both are needed")
    return {
        "date_from": start,
        "date_to": end,
        "previous_from": previous[0],
        "previous_to": previous[1],
        "drivers": [asdict(r) for r in rows],
    }


class RoadblockOut(Schema):
    theme_id: int
    name: str
    negative_texts: int
    share: float  # of all the period's texts
    previous_negative_texts: int
    previous_share: float
    p_value: float
    p_holm: float
    rising: bool
    falling: bool
    customers: int
    example_ids: list[int]


class RoadblocksOut(Schema):
    date_from: date
    date_to: date
    previous_from: date
    previous_to: date
    roadblocks: list[RoadblockOut]


@router.get(
    "/text/roadblocks",
    response={200: RoadblocksOut, **ERRORS},
    summary="Top roadblocks: themes behind negative texts against the previous period",
)
def text_roadblocks(request: HttpRequest, params: Query[TextParams]):
    """The visible themes carried by the most negative texts in the period (default: the last
    30 days up to the latest text) against the period of equal length before: Fisher's exact
    test on each theme's share of all texts, Holm across the themes shown."""
    workspace = request_workspace(request, params.workspace, need=Capability.READ_FEEDBACK)
    filters, start, end = _period(workspace, params)
    rows, previous = text_selectors.roadblocks(workspace=workspace, filters=filters)
    if previous is None:
        raise HttpError(422, "date_from, date_to: both are needed")
    return {
        "date_from": start,
        "date_to": end,
        "previous_from": previous[0],
        "previous_to": previous[1],
        "roadblocks": [
            {
                "theme_id": r.theme.pk,
                "name": r.theme.name,
                "negative_texts": r.change.count,
                "share": r.change.share,
                "previous_negative_texts": r.change.previous_count,
                "previous_share": r.change.previous_share,
                "p_value": r.change.p_value,
                "p_holm": r.change.p_holm,
                "rising": r.change.rising,
                "falling": r.change.falling,
                "customers": r.customers,
                "example_ids": [t.pk for t in r.examples],
            }
            for r in rows
        ],
    }


class KeyDriverOut(Schema):
    theme_id: int
    name: str
    mentions: int
    share: float
    performance: float
    effect: float
    effect_low: float
    effect_high: float
    impact: float
    impact_low: float
    impact_high: float
    p_value: float
    p_holm: float


class KeyDriversOut(Schema):
    metric: str
    touchpoint_id: int | None
    stage_id: int | None
    date_from: date
    date_to: date
    n: int
    overall: float | None
    drivers: list[KeyDriverOut]
    left_out: list[str]
    too_few: str


KEY_DRIVER_DAYS = 90


@router.get(
    "/text/key-drivers",
    response={200: KeyDriversOut, **ERRORS},
    summary="Key drivers: which themes move NPS, CSAT or CES most",
)
def text_key_drivers(
    request: HttpRequest,
    params: Query[TextParams],
    metric: str = Query("nps", description="nps, csat or ces"),
    touchpoint: int | None = Query(
        None, ge=1, le=MAX_ID, description="Only responses tied to this journey touchpoint (id)"
    ),
    stage: int | None = Query(
        None, ge=1, le=MAX_ID, description="Only customers now at this journey stage (id)"
    ),
):
    """Each visible theme's effect on the score (its texts' mean against the other texts', Welch
    95 % intervals, Holm-corrected p) and its impact (effect × share of texts), among the texts the
    filters find (default period: the 90 days up to the latest text); ``touchpoint`` keeps the
    responses tied to one journey touchpoint, ``stage`` the customers now at one stage."""
    workspace = request_workspace(request, params.workspace, need=Capability.READ_FEEDBACK)
    if metric not in text_selectors.KEY_DRIVER_METRICS:
        choices = ", ".join(text_selectors.KEY_DRIVER_METRICS)
        raise HttpError(422, f"metric: {metric[:40]!r} is not one of {choices}")
    filters, start, end = _period(workspace, params, days=KEY_DRIVER_DAYS)
    response_ids = customer_ids = None
    try:
        if touchpoint is not None:
            response_ids = journey_selectors.touchpoint_response_ids(
                workspace=workspace, touchpoint_id=touchpoint
            ).response_ids
        if stage is not None:
            customer_ids = journey_selectors.stage_member_ids(
                workspace=workspace, stage_id=stage
            ).customer_ids
    except journey_selectors.TouchpointChoiceError as exc:
        raise HttpError(404, f"touchpoint: {exc}") from exc
    except journey_selectors.StageChoiceError as exc:
        raise HttpError(404, f"stage: {exc}") from exc
    found = text_selectors.key_drivers(
        workspace=workspace,
        metric=metric,
        filters=filters,
        response_ids=response_ids,
        customer_ids=customer_ids,
    )
    return {
        "metric": found.metric,
        "touchpoint_id": touchpoint,
        "stage_id": stage,
        "date_from": start,
        "date_to": end,
        "n": found.n,
        "overall": found.overall,
        "drivers": [asdict(d) for d in found.drivers],
        "left_out": found.left_out,
        "too_few": found.too_few,
    }


class ThemeOut(Schema):
    id: int
    name: str
    phrases: list[str]
    hidden: bool
    curated: bool
    texts: int
    negative: int
    mean_score: float | None
    example_ids: list[int]


@router.get("/text/themes", response={200: list[ThemeOut], **ERRORS}, summary="Themes")
def text_themes(request: HttpRequest, workspace: str = ""):
    """The workspace's themes, most texts first, with counts, sentiment and example text ids."""
    target = request_workspace(request, workspace or None, need=Capability.READ_FEEDBACK)
    return [
        {
            "id": row.theme.pk,
            "name": row.theme.name,
            "phrases": row.theme.phrases,
            "hidden": row.theme.hidden,
            "curated": row.theme.curated,
            "texts": row.texts,
            "negative": row.negative,
            "mean_score": row.mean_score,
            "example_ids": [t.pk for t in row.examples],
        }
        for row in text_selectors.themes_list(workspace=target)
    ]


class ShareOut(Schema):
    count: int  # texts carrying the theme
    total: int  # all texts
    share: float | None  # count / total, null without texts
    low: float | None  # Wilson 95 % interval
    high: float | None


class ChannelTrendOut(Schema):
    channel: str
    overall: ShareOut
    weeks: list[ShareOut]


class ThemeTrendOut(Schema):
    theme_id: int | None  # null: the workspace has no visible themes yet
    name: str | None
    segment_id: int | None
    weeks: list[date]  # Mondays, oldest first
    channels: list[ChannelTrendOut]


TREND_WEEKS = (4, 104)


@router.get(
    "/text/theme-trends",
    response={200: ThemeTrendOut, **ERRORS},
    summary="One theme per week and channel, optionally for a saved segment",
)
def text_theme_trends(
    request: HttpRequest,
    theme: int | None = Query(
        None, ge=1, le=MAX_ID, description="A theme's id (default: the busiest visible one)"
    ),
    segment: int | None = Query(
        None, ge=1, le=MAX_ID, description="Only this saved segment's customers (its id)"
    ),
    weeks: int = Query(26, ge=TREND_WEEKS[0], le=TREND_WEEKS[1], description="Weeks shown"),
    workspace: str = "",
):
    """Texts per week carrying the theme against all texts, per channel (all channels first,
    the six busiest, the rest together), with each share's Wilson 95 % interval. Without any
    visible theme (and none asked for): no weeks and no channels."""
    target = request_workspace(request, workspace or None, need=Capability.READ_FEEDBACK)
    members = None
    if segment is not None:
        try:
            members = segment_selectors.segment_member_ids(workspace=target, segment_id=segment)
        except segment_selectors.SegmentChoiceError as exc:
            raise HttpError(404 if exc.missing else 422, f"segment: {exc}") from exc
    if theme is None:
        chosen = text_selectors.theme_busiest(workspace=target)
        if chosen is None:  # nothing to show yet: an empty answer, not an error
            return {
                "theme_id": None,
                "name": None,
                "segment_id": segment,
                "weeks": [],
                "channels": [],
            }
    else:
        chosen = text_selectors.theme_get(workspace=target, theme_id=theme)
        if chosen is None:
            raise HttpError(404, f"theme: no theme {theme} in this workspace")
    found = text_selectors.theme_trend(
        workspace=target, theme=chosen, weeks=weeks, customer_ids=members
    )
    return {**asdict(found), "segment_id": segment}


@router.get(
    "/text/{analysis_id}",
    response={200: TextAnalysisOut, **ERRORS},
    summary="One text's analysis",
)
def text_analysis(request: HttpRequest, analysis_id: int = id_param(), workspace: str = ""):
    """Sentiment per text and sentence with the words that drove it, emotions, PII found."""
    target = request_workspace(request, workspace or None, need=Capability.READ_FEEDBACK)
    analysis = text_selectors.analysis_get(workspace=target, analysis_id=analysis_id)
    if analysis is None:
        raise HttpError(404, f"no text {analysis_id} in this workspace")
    original = None
    if may(request, target, Capability.READ_PII) and analysis.response_id and analysis.response:
        original = analysis.response.comment
    return {
        **{name: getattr(analysis, name) for name in TextOut.model_fields},
        "sentences": analysis.sentences,
        "drivers": analysis.drivers,
        "original": original,
        "sentiment_model": text_selectors.sentiment_model(version=analysis.version),
    }
