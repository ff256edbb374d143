"""GET /api/metrics and friends: numbers, filters, clear 422s, workspace scoping."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count

import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from cxloop.customers.models import Customer
from cxloop.events.models import Event
from cxloop.feedback.models import Survey
from factories import response_make, survey_make

pytestmark = pytest.mark.django_db

_keys = count()
MARCH = {"from": "2025-03-01", "to": "2025-03-31"}


def at(day: int, month: int = 3) -> datetime:
    return datetime(2025, month, day, 12, tzinfo=UTC)


@pytest.fixture
def api(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def data(workspace, other_workspace):
    """March 2025. Week of 3 Mar: web 10, 10, 3 and email 0. Week of 10 Mar: web 9.
    February: web 0, 0 (the window before March)."""
    pro = Customer.objects.create(workspace=workspace, display_name="Pat", traits={"plan": "pro"})
    on = survey_make(workspace)
    response_make(workspace, on, at(4), nps=10, channel="web", customer=pro, comment="Love it")
    response_make(workspace, on, at(5), nps=10, channel="web")
    response_make(workspace, on, at(6), nps=3, channel="web", comment="Slow checkout")
    response_make(workspace, on, at(7), nps=0, channel="email", customer=pro)
    response_make(workspace, on, at(11), nps=9, channel="web", csat=5)
    response_make(workspace, on, at(10, month=2), nps=0, channel="web")
    response_make(workspace, on, at(11, month=2), nps=0, channel="web")
    response_make(other_workspace, survey_make(other_workspace), at(4), nps=0, comment="not yours")
    return on


def test_requires_login(client, data):
    assert client.get("/api/metrics").status_code == 401


def test_nps_by_week_and_channel(api, data):
    body = api.get("/api/metrics", {**MARCH, "by": "week", "split": "channel"}).json()

    # total: 5 answers, 3 promoters, 2 detractors → 20; week 1 web: 2 P, 1 D of 3 → 33.3
    assert body["metric"] == "nps" and body["by"] == "week" and body["split"] == "channel"
    assert body["total"]["n"] == 5
    assert body["total"]["value"] == pytest.approx(20.0)
    assert body["total"]["too_few"] is True
    rows = [(r["period"], r["group"], r["n"], round(r["value"], 2)) for r in body["rows"]]
    assert rows == [
        ("2025-03-03", "email", 1, -100.0),
        ("2025-03-03", "web", 3, 33.33),
        ("2025-03-10", "web", 1, 100.0),
    ]
    # web week 1, adjusted-Wald (n + 3, ¾ added to promoters and detractors): p' = 2.75/6,
    # d' = 1.75/6, NPS' = 16.6667; var' = .75 − 1/36 = .722222; SE = 100·√(.722222/6) = 34.6944
    web = body["rows"][1]
    assert web["method"] == "adjusted-wald"
    assert web["se"] == pytest.approx(34.6944, abs=1e-4)
    assert web["low"] == pytest.approx(100 / 6 - 1.959964 * 34.6944, abs=1e-3)
    assert web["high"] == pytest.approx(100 / 6 + 1.959964 * 34.6944, abs=1e-3)
    assert web["moe"] == pytest.approx((web["high"] - web["low"]) / 2)


def test_trait_split_and_filter(api, data):
    by_plan = api.get("/api/metrics", {**MARCH, "by": "none", "split": "trait:plan"}).json()
    pro_only = api.get("/api/metrics", {**MARCH, "by": "none", "trait": "plan=pro"}).json()

    assert [(r["label"], r["n"]) for r in by_plan["rows"]] == [("(none)", 3), ("pro", 2)]
    assert pro_only["total"]["n"] == 2
    assert pro_only["total"]["value"] == pytest.approx(0.0)  # one 10, one 0


def test_csat_and_survey_filter(api, data, workspace):
    other = survey_make(workspace, name="Other")
    response_make(workspace, other, at(12), csat=2)

    everything = api.get("/api/metrics", {**MARCH, "metric": "csat", "by": "none"}).json()
    one = api.get(
        "/api/metrics", {**MARCH, "metric": "csat", "by": "none", "survey": str(data.pk)}
    ).json()

    assert (everything["total"]["n"], everything["total"]["value"]) == (2, 50.0)
    assert (one["total"]["n"], one["total"]["value"]) == (1, 100.0)


@pytest.mark.parametrize(
    ("params", "start"),
    [
        ({"by": "year"}, "by: expected one of day, week, month"),
        ({"metric": "happiness"}, "metric: expected one of nps, csat, ces, response_rate"),
        ({"from": "March"}, "from: expected a date YYYY-MM-DD"),
        ({"from": "2025-04-01", "to": "2025-03-01"}, "from: 2025-04-01 is after to=2025-03-01"),
        ({"split": "colour"}, "split: expected one of channel, touchpoint, survey"),
        ({"split": "trait:bad key"}, "split: trait key 'bad key'"),
        ({"trait": "plan"}, "trait: expected key=value"),
        ({"survey": "abc"}, "survey: expected a survey id"),
        ({"top_box": "11"}, "top_box: expected a whole number 1–10"),
        ({"by": "day", "from": "2020-01-01", "to": "2025-01-01"}, "by: day covers at most"),
    ],
)
def test_bad_parameters_are_422_naming_the_parameter(api, data, params, start):
    response = api.get("/api/metrics", params)

    assert response.status_code == 422
    assert response.json()["detail"].startswith(start)


def test_another_workspaces_survey_is_refused(api, data, other_workspace):
    theirs = Survey.objects.get(workspace=other_workspace)

    response = api.get("/api/metrics", {"survey": str(theirs.pk)})

    assert response.status_code == 422
    assert response.json()["detail"] == f"survey: no survey {theirs.pk} in this workspace"
    assert api.get("/api/metrics", {"workspace": "globex"}).status_code == 404


def test_summary_compares_with_the_window_before(api, data):
    body = api.get("/api/metrics/summary", MARCH).json()

    nps = next(h for h in body["headlines"] if h["metric"] == "nps")
    # March: 20 (n 5); the 31 days before (29 Jan – 28 Feb): two 0s → −100
    assert [h["metric"] for h in body["headlines"]] == ["nps", "csat", "ces", "response_rate"]
    assert nps["current"]["value"] == pytest.approx(20.0)
    assert nps["previous"]["value"] == pytest.approx(-100.0)
    assert nps["change"]["difference"] == pytest.approx(120.0)
    assert nps["change"]["verdict"] == "too few responses to tell"


def test_comments(api, data):
    body = api.get("/api/metrics/comments", MARCH).json()

    assert [c["comment"] for c in body] == ["Slow checkout", "Love it"]
    assert body[1]["customer_name"] == "Pat"
    assert api.get("/api/metrics/comments", {"limit": "0"}).status_code == 422


def test_retention(api, workspace):
    people = [Customer.objects.create(workspace=workspace) for _ in range(2)]
    for person, months in ((people[0], (1, 2, 3)), (people[1], (1,))):
        for month in months:
            when = datetime(2025, month, 15, tzinfo=UTC)
            Event.objects.create(
                workspace=workspace,
                customer=person,
                type="track",
                name="Visit",
                channel="web",
                occurred_at=when,
                received_at=when,
                message_id=f"e{next(_keys)}",
            )

    body = api.get("/api/metrics/retention", {"from": "2025-01-01", "to": "2025-03-31"}).json()

    # Jan: 2 active, 1 back in Feb (50 % churn); Feb is reported since March is over
    assert [(p["period"], p["active"], p["churned"]) for p in body["periods"]] == [
        ("2025-01-01", 2, 1),
        ("2025-02-01", 1, 0),
    ]
    assert body["periods"][0]["churn"]["value"] == pytest.approx(50.0)
    assert body["cohorts"] == [{"start": "2025-01-01", "size": 2, "rates": [100.0, 50.0, 50.0]}]
    bad = api.get("/api/metrics/retention", {"by": "day"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("by:")


def test_openapi_documents_the_metrics_routes(api):
    schema = api.get("/api/openapi.json").json()

    assert {"/api/metrics", "/api/metrics/summary", "/api/metrics/retention"} <= set(
        schema["paths"]
    )
    parameters = {p["name"] for p in schema["paths"]["/api/metrics"]["get"]["parameters"]}
    assert {"metric", "by", "split", "from", "to", "survey", "channel", "trait"} <= parameters


def test_groups_against_the_rest_carry_holm_adjusted_p_values(api, workspace):
    # CSAT (top box 4) by channel, 60 answers each: web 40, email 28, store 32 satisfied
    on = survey_make(workspace)
    for channel, satisfied in (("web", 40), ("email", 28), ("store", 32)):
        for index in range(60):
            response_make(workspace, on, at(3 + index % 20), csat=5 if index < satisfied else 2, channel=channel)  # fmt: skip
    raw = [proportions_ztest([x, 100 - x], [60, 120])[1] for x in (40, 28, 32)]
    _, adjusted, _, _ = multipletests(raw, method="holm")

    body = api.get("/api/metrics/groups", {**MARCH, "metric": "csat", "split": "channel"}).json()

    assert (body["split"], body["adjustment"], body["comparisons"]) == ("channel", "holm", 3)
    changes = {g["group"]: g["change"] for g in body["groups"]}
    assert [changes[c]["p_value"] for c in ("web", "email", "store")] == pytest.approx(raw)
    assert [changes[c]["p_adjusted"] for c in ("web", "email", "store")] == pytest.approx(list(adjusted))  # fmt: skip
    assert changes["web"]["test"] == "pooled z"
    assert raw[0] < 0.05 and changes["web"]["significant"] is False
    assert {g["estimate"]["n"] for g in body["groups"]} == {60}
    assert body["groups"][0]["rest"]["n"] == 120


def test_groups_reject_a_bad_split(api, data):
    response = api.get("/api/metrics/groups", {**MARCH, "split": "colour"})

    assert response.status_code == 422
    assert response.json()["detail"].startswith("split")


def test_summary_names_the_test(api, data):
    nps = api.get("/api/metrics/summary", MARCH).json()["headlines"][0]

    assert nps["change"]["p_adjusted"] is None  # one comparison: nothing to adjust
    assert nps["change"]["test"] == ""  # too few answers: not tested


@pytest.mark.parametrize(
    "params",
    [
        {"metric": "ces", "split": "survey"},
        {"metric": "response_rate", "split": "trait:plan"},
        {"metric": "nps", "split": ""},
        {"metric": "loyalty"},
        {"split": "trait:"},
        {"from": "2025-02-30"},
    ],
)
def test_groups_never_fail_on_odd_input(api, data, params):
    response = api.get("/api/metrics/groups", {**MARCH, **params})

    assert response.status_code in (200, 422), response.content
