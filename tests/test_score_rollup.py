"""The daily survey score rollup: kept by the response services, equal to the raw counts."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from cxloop.feedback import services
from cxloop.feedback._rollup import DETRACTOR_MAX, PROMOTER_MIN
from cxloop.feedback.models import Response, ScoreDay
from cxloop.metrics import definitions as d
from cxloop.metrics import selectors as s
from cxloop.metrics._rollup import rollup_answers
from cxloop.metrics.definitions import MetricName
from cxloop.metrics.filters import Granularity, ResponseFilters
from factories import response_make, survey_make

pytestmark = pytest.mark.django_db


def at(day: int, hour: int = 12, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


def scored_survey(workspace, name="Pulse"):
    return services.survey_create(
        workspace=workspace,
        name=name,
        kind="nps",
        questions=[
            {"key": "nps", "type": "rating", "scale_min": 0, "scale_max": 10, "metric": "nps",
             "text": "Recommend?"},
            {"key": "ces", "type": "rating", "scale_min": 1, "scale_max": 7, "metric": "ces",
             "text": "Effort?"},
        ],
    )  # fmt: skip


def submit(survey, key, when, complete=True, **answers):
    return services.response_submit(
        survey=survey, answers=answers, response_key=key, complete=complete, at=when,
        channel="web", check_open=False,
    )  # fmt: skip


def table(workspace) -> dict:
    rows = ScoreDay.objects.filter(workspace=workspace)
    return {
        (r.survey_id, r.metric, r.day, r.channel): (
            r.n, r.promoters, r.passives, r.detractors, r.satisfied, r.total, r.total_sq
        )
        for r in rows
    }  # fmt: skip


def test_bands_match_the_metric_definitions():
    assert (PROMOTER_MIN, DETRACTOR_MAX) == (d.NPS_PROMOTER_MIN, d.NPS_DETRACTOR_MAX)


def test_submissions_fill_the_day_by_hand(workspace):
    # given: 4 March: NPS 10, 9, 7, 3 (CES 2, 5 on the first two); a partial 0 (not counted);
    # 5 March 00:30 UTC: NPS 6
    survey = scored_survey(workspace)
    submit(survey, "a", at(4), nps=10, ces=2)
    submit(survey, "b", at(4), nps=9, ces=5)
    submit(survey, "c", at(4), nps=7)
    submit(survey, "d", at(4), nps=3)
    submit(survey, "e", at(4), complete=False, nps=0)
    submit(survey, "f", at(5, hour=0), nps=6)

    # then: 4 March NPS n 4, promoters 2, passives 1, detractors 1, sum 29, squares
    # 100 + 81 + 49 + 9 = 239; CES n 2, sum 7, squares 4 + 25 = 29; 5 March one detractor
    assert table(workspace) == {
        (survey.pk, "nps", date(2025, 3, 4), "web"): (4, 2, 1, 1, 0, 29, 239),
        (survey.pk, "ces", date(2025, 3, 4), "web"): (2, 0, 0, 0, 0, 7, 29),
        (survey.pk, "nps", date(2025, 3, 5), "web"): (1, 0, 0, 1, 0, 6, 36),
    }


def test_completion_duplicates_edits_and_deletes(workspace):
    survey = scored_survey(workspace)
    # a partial answer counts nowhere; completing it later counts it on the day of completion
    submit(survey, "p", at(4), complete=False, nps=2)
    assert table(workspace) == {}
    submit(survey, "p", at(6), nps=9)
    # a duplicate delivery of a complete response changes nothing
    submit(survey, "p", at(7), nps=0)
    submit(survey, "q", at(6), nps=8)
    assert table(workspace) == {
        (survey.pk, "nps", date(2025, 3, 6), "web"): (2, 1, 1, 0, 0, 17, 145),
    }

    # an edit moves the answer to another day and channel, with its new score
    q = Response.objects.get(response_key="q")
    q.submitted_at, q.channel, q.nps_score = at(8), "email", 4
    services.response_save(response=q)
    assert table(workspace) == {
        (survey.pk, "nps", date(2025, 3, 6), "web"): (1, 1, 0, 0, 0, 9, 81),
        (survey.pk, "nps", date(2025, 3, 8), "email"): (1, 0, 0, 1, 0, 4, 16),
    }

    # a deletion takes it out; the emptied day has no row left
    assert services.responses_delete(responses=[q]) == 1
    assert table(workspace) == {(survey.pk, "nps", date(2025, 3, 6), "web"): (1, 1, 0, 0, 0, 9, 81)}


def test_bulk_import_counts_each_day_once_and_skips_known_keys(workspace):
    survey = scored_survey(workspace)
    items = [
        services.NewResponse(response_key="i1", answers={"nps": 10}, at=at(4), channel="csv"),
        services.NewResponse(response_key="i2", answers={"nps": 0}, at=at(4), channel="csv"),
        services.NewResponse(response_key="i3", answers={"nps": 8}, at=at(9), channel="csv"),
    ]
    assert services.responses_bulk_add(survey=survey, items=items)[0] == 3
    assert services.responses_bulk_add(survey=survey, items=items)[0] == 0  # delivered again
    assert table(workspace) == {
        (survey.pk, "nps", date(2025, 3, 4), "csv"): (2, 1, 0, 1, 0, 10, 100),
        (survey.pk, "nps", date(2025, 3, 9), "csv"): (1, 0, 1, 0, 0, 8, 64),
    }


def test_csat_satisfied_uses_each_surveys_top_box_and_rebuild_repairs(workspace):
    low = survey_make(workspace, name="Low bar", kind="csat", csat_top_box=3)
    high = survey_make(workspace, name="High bar", kind="csat", csat_top_box=5)
    for survey in (low, high):
        for score in (2, 3, 4, 5):
            response_make(workspace, survey, at(4), csat=score, channel="app")
    kept = table(workspace)
    assert kept[(low.pk, "csat", date(2025, 3, 4), "app")] == (4, 0, 0, 0, 3, 14, 54)
    assert kept[(high.pk, "csat", date(2025, 3, 4), "app")] == (4, 0, 0, 0, 1, 14, 54)

    # a lost rollup is recounted from the responses
    ScoreDay.objects.all().delete()
    assert services.score_days_rebuild(workspace=workspace) == 2
    assert table(workspace) == kept


def test_the_dashboard_reads_the_rollup(workspace):
    survey = survey_make(workspace)
    response_make(workspace, survey, at(4), nps=10)
    filters = ResponseFilters(start=at(1, hour=0), end=at(1, hour=0, month=4))
    # rows removed behind the services' back: the raw query no longer sees them, the rollup does
    Response.objects.all().delete()
    rolled = s.metric_rows(workspace=workspace, metric=MetricName.NPS, filters=filters)
    raw = s.metric_rows(workspace=workspace, metric=MetricName.NPS, filters=filters, rollup=False)
    assert (rolled[0].estimate.n, raw[0].estimate.n) == (1, 0)


def test_queries_the_rollup_cannot_answer_read_the_raw_rows():
    march = ResponseFilters(start=at(1, hour=0), end=at(1, hour=0, month=4))
    assert rollup_answers(MetricName.NPS, march, None)
    assert rollup_answers(MetricName.CES, replace(march, survey_id=3, channel="web"), "survey")
    assert not rollup_answers(MetricName.RESPONSE_RATE, march, None)
    assert not rollup_answers(MetricName.NPS, replace(march, touchpoint="Checkout"), None)
    assert not rollup_answers(MetricName.NPS, replace(march, trait=("plan", "pro")), None)
    assert not rollup_answers(MetricName.NPS, replace(march, customer_ids=[1]), None)
    assert not rollup_answers(MetricName.CSAT, replace(march, csat_top_box=4), None)
    assert rollup_answers(MetricName.NPS, replace(march, csat_top_box=4), None)
    assert not rollup_answers(MetricName.NPS, march, "touchpoint")
    assert not rollup_answers(MetricName.NPS, march, "trait:plan")
    assert not rollup_answers(MetricName.NPS, replace(march, start=at(1, hour=6)), None)


CHANNELS = ("web", "email", "app", "")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_history_gives_the_raw_numbers(workspace, other_workspace, seed):
    # given: three surveys (CSAT top boxes 4 and 3), random scores over 70 days around month
    # ends, partial answers, edits and deletions through the services, another workspace
    rng = random.Random(seed)
    surveys = [
        survey_make(workspace, name="A", csat_top_box=4),
        survey_make(workspace, name="B", csat_top_box=3),
        survey_make(workspace, name="C"),
    ]
    start = datetime(2025, 2, 20, tzinfo=UTC)
    made = []
    for _ in range(400):
        scores = {}
        if rng.random() < 0.7:
            scores["nps"] = rng.randint(0, 10)
        if rng.random() < 0.5:
            scores["csat"] = rng.randint(1, 5)
        if rng.random() < 0.4:
            scores["ces"] = rng.randint(1, 7)
        when = start + timedelta(seconds=rng.randrange(70 * 86400))
        made.append(
            response_make(
                workspace,
                rng.choice(surveys),
                when,
                completed=rng.random() < 0.9,
                channel=rng.choice(CHANNELS),
                touchpoint=rng.choice(("Checkout", "Support")),
                **scores,
            )
        )
    response_make(other_workspace, survey_make(other_workspace), start, nps=0, channel="web")
    for response in rng.sample(made, 40):
        response.nps_score = rng.choice((None, 0, 5, 10))
        response.submitted_at = start + timedelta(seconds=rng.randrange(70 * 86400))
        services.response_save(response=response)
    services.responses_delete(responses=rng.sample(made, 30))

    windows = [
        ResponseFilters(),
        ResponseFilters(start=datetime(2025, 3, 1, tzinfo=UTC), end=datetime(2025, 4, 1, tzinfo=UTC)),
        ResponseFilters(start=datetime(2025, 2, 24, tzinfo=UTC), end=datetime(2025, 3, 17, tzinfo=UTC)),
        ResponseFilters(survey_id=surveys[1].pk),
        ResponseFilters(channel="web", start=datetime(2025, 3, 3, tzinfo=UTC)),
        ResponseFilters(channel="", survey_id=surveys[0].pk, end=datetime(2025, 4, 2, tzinfo=UTC)),
    ]  # fmt: skip
    for metric in (MetricName.NPS, MetricName.CSAT, MetricName.CES):
        for filters in windows:
            assert rollup_answers(metric, filters, "channel")
            for by in (None, Granularity.DAY, Granularity.WEEK, Granularity.MONTH):
                for split in (None, "channel", "survey"):
                    kwargs = {"workspace": workspace, "metric": metric, "filters": filters}
                    rolled = s.metric_rows(**kwargs, by=by, split=split)
                    raw = s.metric_rows(**kwargs, by=by, split=split, rollup=False)
                    assert rolled == raw, (metric, filters, by, split)
            for split in ("channel", "survey"):
                kwargs = {"workspace": workspace, "metric": metric, "filters": filters}
                assert s.metric_groups_vs_rest(**kwargs, split=split, limit=2) == (
                    s.metric_groups_vs_rest(**kwargs, split=split, limit=2, rollup=False)
                )

    # and the incremental rollup is exactly what a rebuild counts
    kept = table(workspace)
    services.score_days_rebuild()
    assert table(workspace) == kept
