"""Hostile query strings on the segments, journeys and paths pages: never a 5xx, and a value the
page cannot use is named in a visible error (issue #8, section 6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import factories
from cxloop.journeys import paths as path_analysis
from cxloop.segments import services as segment_services

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
HUGE = "9223372036854775808"  # 2**63: one past the largest id a database column holds
LONG = "x" * 5000
HOSTILE = [HUGE, "-1", "NaN", "abc", "0001-01-01", "9999-12-31", LONG, "a\x00b", ["1", "2"]]

# page → {parameter: "int" (must be a whole number in range) | "text" (free text) | "flag"}
PAGES = {
    "/paths/": {
        "start": "text",
        "end": "text",
        "max_steps": "int",
        "within_days": "int",
        "top": "int",
        "segment": "int",
        "by_channel": "flag",
        "date_from": "date",
        "date_to": "date",
    },
    "/paths/before/": {
        "kind": "choice",
        "steps": "int",
        "inactive_days": "int",
        "complaint_events": "text",
        "topics": "text",
        "segment": "int",
        "by_channel": "flag",
        "date_from": "date",
        "date_to": "date",
    },
    "/journeys/funnel/": {
        "step": "text",
        "step_channel": "text",
        "window": "number",
        "unit": "choice",
        "split": "text",
        "trait": "text",
        "stage": "int",
        "date_from": "date",
        "date_to": "date",
    },
    "/journeys/funnel/why/": {
        "step": "text",
        "window": "number",
        "unit": "choice",
        "entered": "int",
        "date_from": "date",
        "date_to": "date",
    },
    "/segments/personas/": {"k": "int", "date_from": "date", "date_to": "date"},
    "/segments/{segment}/": {"page": "int"},
    "/segments/": {},
    "/journeys/": {},
}
# a query that makes the page compute, so the hostile value reaches the analysis
BASE = {
    "/paths/": {"start": "Home"},
    "/journeys/funnel/": {"step": ["Home", "Order"]},
    "/journeys/funnel/why/": {"step": ["Home", "Order"]},
}


def _invalid(kind: str, value: str | list[str]) -> bool:
    """Whether the page must refuse ``value`` for a parameter of ``kind`` with an error."""
    if isinstance(value, list):
        return False  # the last one counts: "2" suits every parameter here
    if kind == "date":
        return True  # none is a day in the analyses' calendar (1970-2299)
    if kind in ("int", "number", "choice"):
        return not (kind == "number" and value == "9999-12-31") and value not in ("2",)
    if kind == "text":
        return "\x00" in value or len(value) > 500
    return False


@pytest.fixture
def seeded(workspace):
    factories.ingest(
        workspace,
        [
            factories.track(user, event, T0 + timedelta(minutes=minute))
            for user in ("ann", "bob", "cat")
            for minute, event in enumerate(("Home", "Product", "Order"))
        ],
    )
    return segment_services.segment_create(
        workspace=workspace, name="Everyone", definition={"all": []}
    )


def _cases():
    for url, params in PAGES.items():
        for name, kind in params.items():
            for value in HOSTILE:
                label = value if isinstance(value, list) else value[:20].replace("\x00", "NUL")
                yield pytest.param(url, name, kind, value, id=f"{url}{name}={label}")


@pytest.mark.parametrize(("url", "name", "kind", "value"), list(_cases()))
def test_hostile_query_gives_no_5xx_and_names_the_bad_value(
    client, admin_member, seeded, url, name, kind, value
):
    client.force_login(admin_member)
    query = {**BASE.get(url, {}), name: value}
    response = client.get(url.format(segment=seeded.pk), query)

    assert response.status_code < 500
    html = response.content.decode()
    if _invalid(kind, value) and not (name == "window" and value in ("9999-12-31",)):
        assert 'role="alert"' in html, f"no error shown for {name}={value!r}"
        if f'name="{name}"' in html:  # a field on the page (not the pager's link)
            assert 'aria-invalid="true"' in html, f"{name} not marked invalid"


@pytest.mark.parametrize("url", [u for u in PAGES if "{" not in u])
def test_pages_without_parameters_still_work(client, admin_member, seeded, url):
    client.force_login(admin_member)
    assert client.get(url).status_code == 200


def test_top_message_names_the_value_and_the_domain_bound(client, admin_member, seeded):
    client.force_login(admin_member)
    html = client.get("/paths/", {"start": "Home", "top": HUGE}).content.decode()
    assert f"top: {HUGE} is outside 1–{path_analysis.MAX_TOP}" in html
    assert 'id="top" name="top" type="number" min="1" max="30" aria-invalid="true"' in html


def test_funnel_refuses_a_window_over_the_api_bound(client, admin_member, seeded):
    client.force_login(admin_member)
    response = client.get(
        "/journeys/funnel/", {"step": ["Home", "Order"], "window": "101", "unit": "days"}
    )
    assert response.status_code == 200  # 101 days is fine
    response = client.get(
        "/journeys/funnel/", {"step": ["Home", "Order"], "window": "40000", "unit": "days"}
    )
    assert response.status_code == 422
    assert "Conversion window: give a positive number up to 100 years" in response.content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"mode": "json", "definition": "a\x00b"},
        {"mode": "json", "definition": "[" * 5000},
        {"row": [HUGE, "-1", "abc"], f"c-{HUGE}-kind": "event", "match": "\x00"},
        {"row": ["0"], "c-0-kind": "event", "c-0-event": "Home", "c-0-days": HUGE},
        {"row": ["0"], "c-0-kind": "score", "c-0-value": "NaN"},
        {"add": "trait", "remove": HUGE, "from_json": "1", "definition": LONG},
    ],
)
def test_segment_partials_survive_hostile_posts(client, admin_member, seeded, data):
    client.force_login(admin_member)
    for url in ("/segments/preview/", "/segments/builder/", "/segments/new/"):
        assert client.post(url, data).status_code < 500, url


def _journey(**change) -> str:
    definition = {
        "name": "J",
        "stages": ["A"],
        "touchpoints": [{"stage": "A", "name": "t", "rules": [{"event": "x"}]}],
    }
    return json.dumps({**definition, **change})


@pytest.mark.parametrize(
    "data",
    [
        {"definition": _journey(name="a\x00b")},
        {"definition": _journey(name=LONG, stages=[LONG])},
        {"definition": _journey(stages=["A", "B"], touchpoints=[{"stage": "A\x00"}])},
        {
            "definition": _journey(
                touchpoints=[
                    {
                        "rules": [
                            {
                                "event": "x",
                                "conditions": [
                                    {"property": "late", "op": "eq", "value": HUGE},
                                    {"property": "a\x00", "op": "gt"},
                                ],
                            }
                        ]
                    }
                ]
            )
        },
        {"definition": _journey(stages=[{"name": "A", "feedback": {"metric": "nps\x00"}}])},
        {"definition": "[" * 100_000},
        {"definition": HUGE},
    ],
)
def test_journey_editor_survives_hostile_posts(client, admin_member, seeded, data):
    client.force_login(admin_member)
    assert client.post("/journeys/new/", data).status_code < 500


@pytest.mark.parametrize(
    "rule",
    [
        '{"event": "x\\u0000"}',
        '{"event": "x", "channel": "web\\u0000"}',
        '{"event": "x", "conditions": [{"property": "p", "op": "eq", "value": "\\u0000"}]}',
        "[" * 100_000,
        HUGE,
    ],
)
def test_journey_live_count_survives_hostile_rules(client, admin_member, seeded, rule):
    client.force_login(admin_member)
    assert client.get("/journeys/editor/count/", {"rule": rule}).status_code < 500
    properties = client.get("/journeys/editor/properties/", {"event": "x\x00" + HUGE})
    assert properties.status_code < 500


def test_journey_editor_names_a_refused_field_and_keeps_what_was_typed(
    client, admin_member, seeded
):
    client.force_login(admin_member)
    response = client.post("/journeys/new/", {"definition": _journey(name="Shop\x00")})

    assert response.status_code == 422
    assert response.context["editor"]["errors"] == [
        {"path": "name", "message": "Null characters are not allowed"}
    ]
    assert response.context["editor"]["definition"]["touchpoints"][0]["name"] == "t"


def test_segment_editor_names_a_refused_name_next_to_the_field(client, admin_member, seeded):
    client.force_login(admin_member)
    response = client.post(
        "/segments/new/", {"name": "Gold\x00", "row": ["0"], "c-0-kind": "trait", "c-0-trait": "t"}
    )
    html = response.content.decode()

    assert response.status_code == 422
    assert "name: Null characters are not allowed." in html
    assert 'id="name" name="name" value="Gold" aria-invalid="true"' in html
    assert 'aria-describedby="save-errors"' in html


def test_segment_builder_puts_a_refused_condition_field_under_its_row(client, admin_member):
    client.force_login(admin_member)
    rows = {"row": ["0", "1"], "c-0-kind": "trait", "c-0-trait": "city", "c-0-op": "eq"}
    rows |= {"c-1-kind": "event", "c-1-event": "Home\x00", "c-1-did": "did"}
    html = client.post("/segments/builder/", rows).content.decode()

    assert '<p class="row-error" id="row-error-1">event: Null characters are not allowed.</p>' in (
        html
    )
    assert "condition 2: event: Null characters are not allowed." in html


def test_segment_preview_refuses_a_tampered_row_number(client, admin_member):
    client.force_login(admin_member)
    html = client.post("/segments/preview/", {"row": ["abc"]}).content.decode()
    assert "row: &#x27;abc&#x27; is not a row number" in html
