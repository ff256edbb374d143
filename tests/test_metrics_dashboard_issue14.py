"""Dashboard findings of issue 14, against a real database with figures worked out by hand or by
scipy/statsmodels: breakdowns never by personal traits and never hundreds of rows, a direct
comparison of two groups, comments by score band, theme and page, saved segments as a filter,
public-link answers on their own channel."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep

from cxloop.customers.models import Customer
from cxloop.feedback import services as feedback_services
from cxloop.feedback.models import Response
from cxloop.metrics import definitions as d
from cxloop.metrics import selectors as s
from cxloop.metrics.definitions import MetricName
from cxloop.metrics.filters import ResponseFilters
from cxloop.segments.models import Segment
from cxloop.text.models import TextAnalysis, TextTheme, Theme
from factories import response_make, survey_make

pytestmark = pytest.mark.django_db

MARCH = ResponseFilters(
    start=datetime(2025, 3, 1, tzinfo=UTC), end=datetime(2025, 4, 1, tzinfo=UTC)
)


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


def ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


@pytest.fixture
def client_in(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


# -- breakdowns ----------------------------------------------------------------------------------


def test_breakdown_never_offers_personal_or_near_unique_traits(workspace):
    on = survey_make(workspace)
    for index in range(30):
        person = Customer.objects.create(
            workspace=workspace,
            traits={
                "email": f"p{index}@example.com",
                "first_name": f"Name{index}",
                "phone": f"+44 7700 900{index:03d}",
                "loyalty_card": f"{index:08d}",
                "order_ref": f"R{index}",  # 30 values: one row a person
                "plan": ("free", "pro")[index % 2],
                "city": ("Leeds", "York", "Hull")[index % 3],
            },
        )
        response_make(workspace, on, at(2), nps=9, customer=person)

    options = s.filter_options(workspace=workspace)

    assert options.breakdown_keys == ["city", "plan"]
    assert "email" in options.trait_keys  # still known, just never a breakdown


@pytest.mark.parametrize("key", ["email", "e-mail", "first_name", "phone", "user_id", "zip"])
def test_personal_trait_names(key):
    assert s.trait_key_personal(key)


@pytest.mark.parametrize("key", ["plan", "city", "loyalty_tier", "preferred_store", "region"])
def test_plain_trait_names(key):
    assert not s.trait_key_personal(key)


def test_small_groups_past_the_limit_are_summed_into_other(workspace):
    on = survey_make(workspace)
    # web: 4 answers (3 promoters), app: 3 (0 promoters, 3 detractors), then four channels of
    # one answer each: 2 promoters and 2 detractors among them
    for score in (10, 9, 9, 3):
        response_make(workspace, on, at(2), nps=score, channel="web")
    for score in (1, 2, 3):
        response_make(workspace, on, at(2), nps=score, channel="app")
    for channel, score in (("chat", 10), ("email", 9), ("phone", 0), ("store", 5)):
        response_make(workspace, on, at(2), nps=score, channel=channel)

    groups = s.metric_groups_vs_rest(
        workspace=workspace, metric=MetricName.NPS, filters=MARCH, split="channel", limit=2
    )

    assert [g.row.label for g in groups] == ["web", "app", "Other (4 groups)"]
    other = groups[-1]
    assert other.row.group == s.OTHER_GROUP
    assert other.row.estimate.n == 4
    assert other.row.estimate.value == pytest.approx(100 * (2 - 2) / 4)
    # the rest of "Other" is web and app together: 3 promoters, 4 detractors of 7
    assert other.rest.value == pytest.approx(100 * (3 - 4) / 7)


# -- two chosen groups ---------------------------------------------------------------------------


def test_two_groups_difference_with_interval_and_test(workspace):
    on = survey_make(workspace)
    # web: 40 answers, 30 promoters, 4 detractors; store: 35 answers, 14 promoters, 12 detractors
    web = [10] * 30 + [8] * 6 + [3] * 4
    store = [9] * 14 + [7] * 9 + [2] * 12
    for score in web:
        response_make(workspace, on, at(3), nps=score, channel="web")
    for score in store:
        response_make(workspace, on, at(4), nps=score, channel="store")

    pair = s.metric_two_groups(
        workspace=workspace,
        metric=MetricName.NPS,
        filters=MARCH,
        split="channel",
        first="web",
        second="store",
    )

    assert pair.first.estimate.n == 40 and pair.second.estimate.n == 35
    assert pair.change.difference == pytest.approx(100 * 26 / 40 - 100 * 2 / 35)
    # Sauro & Lewis's adjusted-Wald, by hand: n + 3, promoters and detractors + 3/4
    p1, d1 = (30 + 0.75) / 43, (4 + 0.75) / 43
    p2, d2 = (14 + 0.75) / 38, (12 + 0.75) / 38
    se = math.sqrt((p1 + d1 - (p1 - d1) ** 2) / 43 + (p2 + d2 - (p2 - d2) ** 2) / 38)
    centre = (p1 - d1) - (p2 - d2)
    z = stats.norm.ppf(0.975)
    assert pair.low == pytest.approx(100 * (centre - z * se))
    assert pair.high == pytest.approx(100 * (centre + z * se))
    assert pair.change.p_value == pytest.approx(2 * stats.norm.sf(abs(centre / se)))
    assert pair.change.significant


def test_difference_interval_of_proportions_is_newcombes():
    a, b = d.proportion(hits=27, n=40), d.proportion(hits=12, n=35)

    low, high = d.difference_interval(a, b)

    expected = confint_proportions_2indep(27, 40, 12, 35, method="newcomb", compare="diff")
    assert (low / 100, high / 100) == pytest.approx(expected, abs=1e-9)


def test_difference_interval_of_proportions_at_100_percent_is_not_zero_wide():
    low, high = d.difference_interval(d.proportion(hits=30, n=30), d.proportion(hits=31, n=31))

    expected = confint_proportions_2indep(30, 30, 31, 31, method="newcomb", compare="diff")
    assert (low / 100, high / 100) == pytest.approx(expected, abs=1e-9)
    assert high - low > 10


def test_difference_interval_of_means_is_welchs():
    first = [7, 6, 6, 5, 7, 7, 4, 6, 5, 7, 6, 6]
    second = [3, 4, 2, 5, 4, 3, 6, 2, 4]
    a = d.ces(total=sum(first), total_sq=sum(x * x for x in first), n=len(first))
    b = d.ces(total=sum(second), total_sq=sum(x * x for x in second), n=len(second))

    low, high = d.difference_interval(a, b)

    expected = stats.ttest_ind(first, second, equal_var=False).confidence_interval(0.95)
    assert (low, high) == pytest.approx((expected.low, expected.high))


def test_difference_interval_needs_two_answers_a_side():
    assert d.difference_interval(d.nps(promoters=1, detractors=0, n=1), d.nps(promoters=3, detractors=0, n=5)) == (None, None)  # fmt: skip


def test_dashboard_compares_two_chosen_groups(client_in, workspace):
    on = survey_make(workspace)
    for index in range(40):
        response_make(
            workspace, on, ago(1 + index % 10), nps=10 if index < 30 else 3, channel="web"
        )
    for index in range(35):
        response_make(
            workspace, on, ago(2 + index % 10), nps=9 if index < 14 else 2, channel="store"
        )

    html = client_in.get("/dashboard/", {"a": "web", "b": "store"}).content.decode()

    # web 100·(30 − 10)/40 = 50, store 100·(14 − 21)/35 = −20: a difference of +70
    assert 'id="compare-result"' in html
    assert '= <strong class="diff">+70.0</strong>' in html
    assert "95% CI" in html and "Significant at 95%" in html


# -- comments ------------------------------------------------------------------------------------


def test_comments_by_score_band_theme_and_page(workspace):
    on = survey_make(workspace)
    rows = [
        response_make(workspace, on, at(1 + index), nps=score, comment=f"c{index}")
        for index, score in enumerate((0, 6, 7, 8, 9, 10, 3))
    ]
    response_make(workspace, on, at(20), csat=2, comment="csat low")
    response_make(workspace, on, at(21), ces=6, comment="ces easy")
    delivery = Theme.objects.create(workspace=workspace, name="Delivery")
    for row in rows[:2]:
        analysis = TextAnalysis.objects.create(
            workspace=workspace, response=row, source="survey", written_at=row.submitted_at,
            text=row.comment, score=-0.5, label="negative", version="t",
        )  # fmt: skip
        TextTheme.objects.create(analysis=analysis, theme=delivery, weight=1.0)

    def texts(**kwargs) -> list[str]:
        return [c.comment for c in s.comments_list(workspace=workspace, filters=MARCH, **kwargs)]

    assert texts(tone=s.Tone.BAD) == ["csat low", "c6", "c1", "c0"]
    assert texts(tone=s.Tone.NEUTRAL) == ["c3", "c2"]
    assert texts(tone=s.Tone.GOOD) == ["ces easy", "c5", "c4"]
    assert texts(theme_id=delivery.pk) == ["c1", "c0"]
    assert texts(limit=3) == ["ces easy", "csat low", "c6"]
    assert texts(limit=3, offset=3) == ["c5", "c4", "c3"]


def test_comments_page_and_filter_on_the_dashboard(client_in, workspace):
    on = survey_make(workspace)
    for index in range(15):
        response_make(workspace, on, ago(1 + index), nps=10 if index % 2 else 2, comment=f"note {index:02d}")  # fmt: skip

    first = client_in.get("/dashboard/").content.decode()
    older = client_in.get("/dashboard/", {"older": "12"}).content.decode()
    bad = client_in.get("/dashboard/", {"tone": "bad"}).content.decode()
    wrong = client_in.get("/dashboard/", {"tone": "awful"})

    assert "note 00" in first and "note 11" in first and "note 12" not in first
    assert 'name="older" value="12"' in first  # Older →
    assert "note 12" in older and "note 14" in older and "note 00" not in older
    assert "note 00" in bad and "note 01" not in bad
    assert wrong.status_code == 400 and "tone" in wrong.content.decode()


# -- filters -------------------------------------------------------------------------------------


def test_segment_filter_takes_a_saved_segment(client_in, workspace, other_workspace):
    on = survey_make(workspace)
    pro = Customer.objects.create(workspace=workspace, traits={"plan": "pro"})
    free = Customer.objects.create(workspace=workspace, traits={"plan": "free"})
    for _ in range(3):
        response_make(workspace, on, ago(2), nps=10, customer=pro)
    response_make(workspace, on, ago(2), nps=0, customer=free)
    segment = Segment.objects.create(
        workspace=workspace,
        name="Pro plan",
        definition={"all": [{"trait": "plan", "op": "eq", "value": "pro"}]},
    )  # fmt: skip
    theirs = Segment.objects.create(
        workspace=other_workspace, name="Theirs", definition=segment.definition
    )

    page = client_in.get("/dashboard/").content.decode()
    narrowed = client_in.get("/dashboard/panel/", {"segment": segment.pk})
    foreign = client_in.get("/dashboard/panel/", {"segment": theirs.pk})

    assert f'<option value="{segment.pk}">Pro plan</option>' in page
    assert 'name="trait"' not in page  # no free text that wipes the dashboard
    assert narrowed.status_code == 200
    assert "n = 3" in narrowed.content.decode()
    assert foreign.status_code == 400
    assert f"no segment {theirs.pk} in this workspace" in foreign.content.decode()


def test_a_personal_split_is_refused_by_name(client_in, workspace):
    on = survey_make(workspace)
    person = Customer.objects.create(workspace=workspace, traits={"email": "a@example.com"})
    response_make(workspace, on, ago(1), nps=9, customer=person)

    response = client_in.get("/dashboard/panel/", {"split": "trait:email"})

    assert response.status_code == 400
    assert "split" in response.content.decode() and "personal" in response.content.decode()


@pytest.mark.parametrize("year", ["0002", "0202", "0020"])
def test_half_typed_years_are_a_message_not_a_500(client_in, workspace, year):
    response = client_in.get("/dashboard/panel/", {"from": f"{year}-05-01"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 400
    assert 'data-param="from"' in response.content.decode()
    assert "expected a date from 1900-01-01" in response.content.decode()


def test_dashboard_filters_wait_for_typing_to_stop(client_in, workspace):
    html = client_in.get("/dashboard/").content.decode()

    assert 'hx-trigger="change delay:600ms, submit"' in html


# -- public link answers -------------------------------------------------------------------------


def test_public_link_answers_get_a_channel_and_touchpoint(workspace):
    on = feedback_services.survey_create(workspace=workspace, name="Link NPS", languages=["en"])
    question = feedback_services.question_add(
        survey=on,
        spec={"key": "nps", "type": "rating", "scale_min": 0, "scale_max": 10, "text": {"en": "Recommend us?"}},
    )  # fmt: skip

    link = feedback_services.response_submit(
        survey=on,
        answers={question.key: 9},
        response_key="web-1",
        source="link",
        check_open=False,
    ).response
    embed = feedback_services.response_submit(
        survey=on,
        answers={question.key: 9},
        response_key="web-2",
        source="embed",
        channel="app",
        check_open=False,
    ).response

    assert (link.channel, link.touchpoint) == ("link", "Public survey link")
    assert (embed.channel, embed.touchpoint) == ("app", "Website embed")  # a given channel wins


def test_migration_names_old_public_answers(workspace):
    from importlib import import_module

    from django.apps import apps

    on = survey_make(workspace)
    old = response_make(workspace, on, at(2), nps=9, source="link")
    emailed = response_make(workspace, on, at(2), nps=9, source="email")
    migration = import_module("cxloop.feedback.migrations.0005_public_link_channel")

    migration.name_public_answers(apps, None)

    old.refresh_from_db()
    emailed.refresh_from_db()
    assert (old.channel, old.touchpoint) == ("link", "Public survey link")
    assert (emailed.channel, emailed.touchpoint) == ("", "")
    assert Response.objects.filter(channel="link").count() == 1
