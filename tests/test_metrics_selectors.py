"""Metric queries against a real database, with counts worked out by hand."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from itertools import count

import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from cxloop.customers.models import Customer
from cxloop.events.models import Event
from cxloop.events.services import events_outbox_add
from cxloop.feedback.models import Invitation, Survey
from cxloop.metrics import selectors as s
from cxloop.metrics.definitions import MetricName
from cxloop.metrics.filters import FilterError, Granularity, ResponseFilters, parse_query
from factories import response_make, survey_make

pytestmark = pytest.mark.django_db

_keys = count()
MARCH = ResponseFilters(
    start=datetime(2025, 3, 1, tzinfo=UTC), end=datetime(2025, 4, 1, tzinfo=UTC)
)


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, second, tzinfo=UTC)


def rows_of(workspace, metric=MetricName.NPS, filters=MARCH, **kwargs):
    return s.metric_rows(workspace=workspace, metric=metric, filters=filters, **kwargs)


def test_nps_by_week_and_channel(workspace, other_workspace):
    # given: week of Mon 3 March: web 10, 9, 9, 8, 3 and Sunday 9 March 23:59:59 a 10;
    # email 6, 10. Week of Mon 10 March (from 00:00:00): web 10, 0.
    nps = survey_make(workspace)
    for score in (10, 9, 9, 8, 3):
        response_make(workspace, nps, at(4), nps=score, channel="web")
    response_make(workspace, nps, at(9, 23, 59, 59), nps=10, channel="web")
    response_make(workspace, nps, at(5), nps=6, channel="email")
    response_make(workspace, nps, at(6), nps=10, channel="email")
    response_make(workspace, nps, at(10, 0, 0, 0), nps=10, channel="web")
    response_make(workspace, nps, at(11), nps=0, channel="web")
    # not counted: a partial response, another workspace, February, April
    response_make(workspace, nps, at(4), nps=0, completed=False, channel="web")
    response_make(other_workspace, survey_make(other_workspace), at(4), nps=0, channel="web")
    response_make(workspace, nps, at(28, month=2), nps=0, channel="web")
    response_make(workspace, nps, at(1, month=4), nps=0, channel="web")

    # when
    rows = rows_of(workspace, by=Granularity.WEEK, split="channel")

    # then: web week 1: n 6, 4 promoters, 1 detractor → 100·(4 − 1)/6 = 50; adjusted-Wald SE:
    # p' = 4.75/9, d' = 1.75/9; var' = .722222 − (3/9)² = .611111, SE = 100·√(.611111/9) = 26.0579
    # email week 1: 1 P, 1 D of 2 → 0; web week 2: 1 P, 1 D of 2 → 0
    table = {(r.period, r.group): r.estimate for r in rows}
    assert list(table) == [
        (date(2025, 3, 3), "email"),
        (date(2025, 3, 3), "web"),
        (date(2025, 3, 10), "web"),
    ]
    web = table[(date(2025, 3, 3), "web")]
    assert (web.n, web.value) == (6, pytest.approx(50.0))
    assert web.se == pytest.approx(26.0579, abs=1e-4)
    assert web.too_few
    assert table[(date(2025, 3, 3), "email")].value == pytest.approx(0.0)
    assert table[(date(2025, 3, 10), "web")].n == 2


def test_periods_by_day_and_month(workspace):
    nps = survey_make(workspace)
    response_make(workspace, nps, at(31, 23, 59, 59, month=3), nps=10)
    response_make(workspace, nps, at(1, 0, 0, 0, month=4), nps=0)
    april = ResponseFilters(
        start=datetime(2025, 3, 1, tzinfo=UTC), end=datetime(2025, 5, 1, tzinfo=UTC)
    )

    by_day = rows_of(workspace, filters=april, by=Granularity.DAY)
    by_month = rows_of(workspace, filters=april, by=Granularity.MONTH)

    assert [(r.period, r.estimate.value) for r in by_day] == [
        (date(2025, 3, 31), 100.0),
        (date(2025, 4, 1), -100.0),
    ]
    assert [r.period for r in by_month] == [date(2025, 3, 1), date(2025, 4, 1)]


def test_csat_uses_each_surveys_top_box_unless_overridden(workspace):
    # survey A counts 4–5 (5, 4 of 5, 4, 3), survey B only 5 (5 of 5, 4): 2 + 1 = 3 of 5 = 60 %
    a, b = (
        survey_make(workspace, name="A", csat_top_box=4),
        survey_make(workspace, name="B", csat_top_box=5),
    )
    for score in (5, 4, 3):
        response_make(workspace, a, at(3), csat=score)
    for score in (5, 4):
        response_make(workspace, b, at(3), csat=score)

    total = rows_of(workspace, MetricName.CSAT)[0].estimate
    override = rows_of(workspace, MetricName.CSAT, filters=ResponseFilters(csat_top_box=4))

    assert (total.n, total.value) == (5, pytest.approx(60.0))
    assert override[0].estimate.value == pytest.approx(80.0)  # 4 of 5 are 4 or 5


def test_ces_mean_and_interval(workspace):
    # 2, 4, 6: mean 4, s² = (56 − 12²/3)/2 = 4, SE = √(4/3) = 1.154701, t(2) = 4.3027
    # → 4 ± 4.968322, clipped to 1 .. 7
    ces = survey_make(workspace)
    for score in (2, 4, 6):
        response_make(workspace, ces, at(3), ces=score)
    response_make(workspace, ces, at(3), nps=9)  # no CES answer: not counted

    estimate = rows_of(workspace, MetricName.CES)[0].estimate

    assert (estimate.n, estimate.value) == (3, pytest.approx(4.0))
    assert estimate.se == pytest.approx(math.sqrt(4 / 3))
    assert (estimate.low, estimate.high) == (1.0, 7.0)


def test_response_rate_is_completed_over_started_by_start_time(workspace):
    on = survey_make(workspace)
    for _ in range(3):
        response_make(workspace, on, at(3), nps=9)
    response_make(workspace, on, at(3), nps=9, completed=False)
    response_make(workspace, on, at(1, 0, 1), nps=9)  # started 28 Feb 23:58: another window

    estimate = rows_of(workspace, MetricName.RESPONSE_RATE)[0].estimate

    assert (estimate.n, estimate.value) == (4, pytest.approx(75.0))


def invite(workspace, on: Survey, sent: datetime | None, channel: str = "email") -> Invitation:
    customer = Customer.objects.create(workspace=workspace)
    return Invitation.objects.create(
        workspace=workspace,
        survey=on,
        customer=customer,
        token=f"inv{next(_keys)}",
        channel=channel,
        due_at=sent or at(20),
        status="sent" if sent else "scheduled",
        sent_at=sent,
    )


def test_response_rate_counts_invitations_sent_and_uninvited_starts(workspace):
    # invitations sent in March: 4 (2 answered, 1 left half-way, 1 ignored); 1 only scheduled;
    # 1 sent in February and answered in March (February's). Link responses started in March
    # without an invitation: 3, 2 completed. Base 4 + 3 = 7, answered 2 + 2 = 4 → 57.14 %
    on = survey_make(workspace)
    answered = [invite(workspace, on, at(2)) for _ in range(2)]
    half, ignored = invite(workspace, on, at(3)), invite(workspace, on, at(4))
    invite(workspace, on, None)
    february = invite(workspace, on, at(27, month=2))
    for invitation in answered:
        response_make(workspace, on, at(5), nps=9, channel="email", invitation=invitation)
    response_make(workspace, on, at(5), nps=9, channel="email", completed=False, invitation=half)
    response_make(workspace, on, at(5), nps=9, channel="email", invitation=february)
    response_make(workspace, on, at(6), nps=9, channel="web")
    response_make(workspace, on, at(7), nps=9, channel="web")
    response_make(workspace, on, at(8), nps=9, completed=False, channel="web")
    assert ignored.responses.count() == 0

    total = rows_of(workspace, MetricName.RESPONSE_RATE)[0].estimate
    by_channel = rows_of(workspace, MetricName.RESPONSE_RATE, split="channel")

    assert (total.n, total.value) == (7, pytest.approx(400 / 7))
    assert [(r.group, r.estimate.n, r.estimate.value) for r in by_channel] == [
        ("email", 4, pytest.approx(50.0)),
        ("web", 3, pytest.approx(200 / 3)),
    ]


def test_filters_survey_channel_touchpoint_and_trait(workspace):
    pro = Customer.objects.create(workspace=workspace, traits={"plan": "Pro", "seats": 5})
    free = Customer.objects.create(workspace=workspace, traits={"plan": "free"})
    a, b = survey_make(workspace, name="A"), survey_make(workspace, name="B")
    response_make(workspace, a, at(3), nps=10, customer=pro, touchpoint="Order Completed")
    response_make(workspace, a, at(3), nps=0, customer=free, channel="email")
    response_make(workspace, b, at(3), nps=5, customer=pro, channel="email")
    response_make(workspace, b, at(3), nps=9)

    def n(**filters) -> int:
        chosen = ResponseFilters(start=MARCH.start, end=MARCH.end, **filters)
        return rows_of(workspace, filters=chosen)[0].estimate.n

    assert n() == 4
    assert n(survey_id=a.pk) == 2
    assert n(channel="email") == 2
    assert n(touchpoint="Order Completed") == 1
    assert n(trait=("plan", "pro")) == 2  # case-insensitive
    assert n(trait=("seats", "5")) == 2  # numbers match their text
    assert n(trait=("plan", "gold")) == 0
    assert n(channel="email", trait=("plan", "free")) == 1


def test_split_by_trait_and_survey(workspace):
    pro = Customer.objects.create(workspace=workspace, traits={"plan": "pro"})
    a, b = survey_make(workspace, name="Onboarding"), survey_make(workspace, name="Support")
    response_make(workspace, a, at(3), nps=10, customer=pro)
    response_make(workspace, a, at(3), nps=10)
    response_make(workspace, b, at(3), nps=0)

    by_trait = rows_of(workspace, split="trait:plan")
    by_survey = rows_of(workspace, split="survey")

    assert sorted((r.label, r.estimate.n) for r in by_trait) == [("(none)", 2), ("pro", 1)]
    assert sorted((r.label, r.estimate.value) for r in by_survey) == [
        ("Onboarding", 100.0),
        ("Support", -100.0),
    ]
    assert {r.group for r in by_survey} == {str(a.pk), str(b.pk)}


def test_headline_compares_with_the_period_before(workspace):
    # March: 30 promoters of 40 → 75; February (same length before): 10 P, 20 D of 40 → −25
    on = survey_make(workspace)
    for index in range(40):
        response_make(workspace, on, at(10), nps=10 if index < 30 else 8)
        response_make(
            workspace, on, at(10, month=2), nps=10 if index < 10 else (0 if index < 30 else 8)
        )
    window = ResponseFilters(
        start=datetime(2025, 3, 1, tzinfo=UTC), end=datetime(2025, 3, 29, tzinfo=UTC)
    )

    headline = s.metric_headline(workspace=workspace, metric=MetricName.NPS, filters=window)

    assert headline.current.value == pytest.approx(75.0)
    assert headline.previous.value == pytest.approx(-25.0)
    assert headline.change.difference == pytest.approx(100.0)
    assert headline.change.significant


def test_each_group_is_tested_against_the_rest(workspace):
    # web: 40 answers, 30 promoters (75); email: 40 answers, 10 P and 20 D (−25)
    on = survey_make(workspace)
    for index in range(40):
        response_make(workspace, on, at(3), nps=10 if index < 30 else 8, channel="web")
        response_make(workspace, on, at(3), nps=10 if index < 10 else (0 if index < 30 else 8), channel="email")  # fmt: skip
    response_make(workspace, on, at(3), nps=10, channel="chat")

    groups = s.metric_groups_vs_rest(
        workspace=workspace, metric=MetricName.NPS, filters=MARCH, split="channel"
    )

    by_name = {g.row.label: g for g in groups}
    assert by_name["web"].rest.n == 41
    assert by_name["web"].rest.value == pytest.approx(100 * (11 - 20) / 41)
    assert by_name["web"].change.significant
    assert by_name["chat"].change.verdict == "too few responses to tell"


def test_groups_vs_rest_are_holm_adjusted_together(workspace):
    # CSAT (4–5 of 5) web 40 of 60, email 28 of 60, store 32 of 60: web against the rest alone
    # has p = .034 ("significant" before), but three groups were tested: Holm makes it .10
    on = survey_make(workspace)
    for channel, satisfied in (("web", 40), ("email", 28), ("store", 32)):
        for index in range(60):
            response_make(workspace, on, at(3), csat=5 if index < satisfied else 2, channel=channel)
    counts = {"web": (40, 60), "email": (28, 60), "store": (32, 60)}
    raw = [proportions_ztest([x, 100 - x], [n, 180 - n])[1] for x, n in counts.values()]
    _, adjusted, _, _ = multipletests(raw, method="holm")

    groups = s.metric_groups_vs_rest(
        workspace=workspace, metric=MetricName.CSAT, filters=MARCH, split="channel"
    )

    by_name = {g.row.label: g.change for g in groups}
    assert [by_name[name].p_value for name in counts] == pytest.approx(raw)
    assert [by_name[name].p_adjusted for name in counts] == pytest.approx(list(adjusted))
    assert raw[0] < 0.05 and not by_name["web"].significant
    assert by_name["web"].verdict == "not significant"


def test_comments_are_filtered_and_newest_first(workspace):
    jane = Customer.objects.create(workspace=workspace, display_name="Jane Doe")
    on = survey_make(workspace)
    response_make(workspace, on, at(3), nps=3, comment="Late delivery", customer=jane)
    response_make(workspace, on, at(5), nps=10, comment="Great staff", channel="store")
    response_make(workspace, on, at(6), nps=9)  # no comment
    response_make(workspace, on, at(7), nps=2, comment="never sent", completed=False)

    comments = s.comments_list(workspace=workspace, filters=MARCH)
    stores = s.comments_list(workspace=workspace, filters=ResponseFilters(channel="store"))

    assert [c.comment for c in comments] == ["Great staff", "Late delivery"]
    assert comments[1].customer_id == jane.pk and comments[1].customer_name == "Jane Doe"
    assert [c.comment for c in stores] == ["Great staff"]


def test_fingerprint_changes_when_an_answer_arrives(workspace):
    on = survey_make(workspace)
    partial = response_make(workspace, on, at(3), nps=9, completed=False)
    before = s.responses_fingerprint(workspace=workspace)
    assert s.responses_fingerprint(workspace=workspace) == before  # nothing new: same value

    partial.completed, partial.submitted_at = True, at(4)
    partial.save()
    after_submit = s.responses_fingerprint(workspace=workspace)
    response_make(workspace, on, at(2), nps=1)  # an old answer imported late: newest id, older time
    after_import = s.responses_fingerprint(workspace=workspace)

    assert len({before, after_submit, after_import}) == 3


def test_unknown_survey_is_refused(workspace, other_workspace):
    theirs = survey_make(other_workspace)
    query = parse_query({"survey": str(theirs.pk)})

    with pytest.raises(FilterError) as error:
        s.metric_query_check(workspace=workspace, query=query)
    assert error.value.param == "survey"


def _active(workspace, customer: Customer, *days: tuple[int, int, int]) -> None:
    for year, month, day in days:
        when = datetime(year, month, day, 12, tzinfo=UTC)
        event = Event.objects.create(
            workspace=workspace,
            customer=customer,
            type="track",
            name="Visit",
            channel="web",
            occurred_at=when,
            received_at=when,
            message_id=f"m{next(_keys)}",
        )
        # as ingestion does: the analytics engine copies what the outbox names
        events_outbox_add(
            workspace_id=workspace.pk, first_event_id=event.pk, last_event_id=event.pk
        )


@pytest.mark.usefixtures("each_engine")
def test_churn_retention_and_cohorts_from_events(workspace):
    # Jan: c1 c2 c3 c5 · Feb: c1 c2 c4 · Mar: c1; c5 was first seen in December
    c1, c2, c3, c4, c5 = (Customer.objects.create(workspace=workspace) for _ in range(5))
    _active(workspace, c1, (2025, 1, 5), (2025, 1, 20), (2025, 2, 3), (2025, 3, 9))
    _active(workspace, c2, (2025, 1, 31), (2025, 2, 28))
    _active(workspace, c3, (2025, 1, 1))
    _active(workspace, c4, (2025, 2, 14))
    _active(workspace, c5, (2024, 12, 24), (2025, 1, 2))
    window = {
        "start": datetime(2025, 1, 1, tzinfo=UTC),
        "end": datetime(2025, 4, 1, tzinfo=UTC),
        "now": datetime(2025, 4, 15, tzinfo=UTC),
    }

    periods = s.retention_by_period(workspace=workspace, **window)
    cohorts = s.cohort_retention(workspace=workspace, **window)

    # Jan: 4 active, c1 and c2 back in Feb → retained 2, churn 50 %
    # Feb: 3 active, only c1 back in Mar → churn 66.7 %; Mar is not reported (April not in window)
    assert [(p.period, p.active, p.retained, p.churned) for p in periods] == [
        (date(2025, 1, 1), 4, 2, 2),
        (date(2025, 2, 1), 3, 1, 2),
    ]
    assert periods[0].churn.value == pytest.approx(50.0)
    assert periods[1].retention.value == pytest.approx(100 / 3)
    # cohort Jan = c1 c2 c3 (c5 belongs to December, before the window): 100, 66.7, 33.3
    # cohort Feb = c4: 100, 0
    assert [(c.start, c.size) for c in cohorts] == [(date(2025, 1, 1), 3), (date(2025, 2, 1), 1)]
    assert cohorts[0].rates == pytest.approx([100.0, 200 / 3, 100 / 3])
    assert cohorts[1].rates == pytest.approx([100.0, 0.0])


def test_a_month_in_progress_is_not_churn(workspace):
    c1 = Customer.objects.create(workspace=workspace)
    _active(workspace, c1, (2025, 1, 5))

    periods = s.retention_by_period(
        workspace=workspace,
        start=datetime(2025, 1, 1, tzinfo=UTC),
        end=datetime(2025, 12, 31, tzinfo=UTC),
        now=datetime(2025, 2, 10, tzinfo=UTC),
    )

    assert periods == []  # February is not over yet, so January's churn is not known


@pytest.mark.usefixtures("each_engine")
def test_weekly_retention(workspace):
    c1, c2 = (Customer.objects.create(workspace=workspace) for _ in range(2))
    _active(workspace, c1, (2025, 3, 3), (2025, 3, 10))  # Mondays of two weeks
    _active(workspace, c2, (2025, 3, 9))  # Sunday: still the first week

    periods = s.retention_by_period(
        workspace=workspace,
        start=datetime(2025, 3, 3, tzinfo=UTC),
        end=datetime(2025, 3, 24, tzinfo=UTC),
        by=Granularity.WEEK,
        now=datetime(2025, 4, 1, tzinfo=UTC),
    )

    assert [(p.period, p.active, p.retained) for p in periods] == [
        (date(2025, 3, 3), 2, 1),
        (date(2025, 3, 10), 1, 0),
    ]


@pytest.mark.parametrize("metric", list(MetricName))
def test_an_empty_window_has_no_groups_and_a_total_of_nothing(workspace, metric):
    total = rows_of(workspace, metric)

    assert rows_of(workspace, metric, split="channel") == []
    assert rows_of(workspace, metric, by=Granularity.WEEK) == []
    assert len(total) == 1 and total[0].estimate.n == 0 and total[0].estimate.value is None


def test_filter_menus_offer_what_the_data_has(workspace):
    odd = Customer.objects.create(workspace=workspace, traits={"plan": "pro", "bad key!": 1})
    on = survey_make(workspace, name="Onboarding")
    response_make(workspace, on, at(3), nps=9, channel="chat", touchpoint="Signup", customer=odd)
    survey_make(workspace, name="Not yet published", status="draft")  # no answers

    options = s.filter_options(workspace=workspace)

    assert options.surveys == [(on.pk, "Onboarding")]  # the draft is not offered
    assert (options.channels, options.touchpoints) == (["chat"], ["Signup"])
    assert options.trait_keys == ["plan"]  # keys a split or filter cannot name are left out
